package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/dialog/xlsform"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// Forms published without a release (issue 13): `needsbot form
// list|show|publish|retire` keep them in Postgres (published_forms).

// formDB opens the database of a form command (NEEDSBOT_DATABASE_URL or
// --database-url).
func formDB(ctx context.Context, e *cmdEnv, fs *flag.FlagSet, args []string) (*pgstore.DB, []string, bool) {
	db, pos, _, ok := formDBConfig(ctx, e, fs, args)
	return db, pos, ok
}

// formDBConfig is formDB that also returns the configuration (the shipped
// forms' directory).
func formDBConfig(ctx context.Context, e *cmdEnv, fs *flag.FlagSet, args []string) (*pgstore.DB, []string, Config, bool) {
	cfg, _, err := loadConfig("form", nil, e.getenv, e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return nil, nil, Config{}, false
	}
	dsn := fs.String("database-url", cfg.DatabaseURL, "Postgres ($NEEDSBOT_DATABASE_URL)")
	pos, flags := splitFlags(args)
	if err := fs.Parse(flags); err != nil {
		return nil, nil, cfg, false
	}
	db, err := pgstore.Open(ctx, *dsn)
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot form:", err)
		return nil, nil, cfg, false
	}
	return db, pos, cfg, true
}

// publishedRecord is the row to store for a publication.
func publishedRecord(p *xlsform.Publication, by *int64) pgstore.PublishedForm {
	return pgstore.PublishedForm{Form: p.Result.FormID, Version: p.Result.Form.Version, Definition: string(p.Result.YAML),
		Messages: p.Messages(), Languages: p.Complete, PublishedBy: by}
}

func runFormPublish(ctx context.Context, e *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("form publish", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	by := fs.Int64("by", 0, "staff id of who publishes (0: from the shell)")
	db, pos, cfg, ok := formDBConfig(ctx, e, fs, args)
	if !ok {
		return 2
	}
	defer db.Close()
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "usage: needsbot form publish WORKBOOK [--by STAFF_ID]")
		return 2
	}
	wb, err := xlsform.Open(pos[0])
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	p, err := xlsform.Prepare(wb)
	var re *xlsform.RefusedError
	switch {
	case errors.As(err, &re):
		for _, pr := range re.Problems {
			fmt.Fprintf(e.stdout, "%s: %s\n", pos[0], pr)
		}
		fmt.Fprintln(e.stderr, "form publish: refused")
		return 1
	case err != nil:
		fmt.Fprintln(e.stderr, "form publish:", err)
		return 1
	}
	// A workbook must not change the shipped questionnaires (issue 13).
	shipped, err := forms.Load(cfg.FormsDir)
	if err != nil {
		fmt.Fprintln(e.stderr, "form publish: questionnaires:", err)
		return 1
	}
	if err := shippedForm(shipped, p.Result.FormID); err != nil {
		fmt.Fprintf(e.stdout, "%s: %v\n", pos[0], err)
		fmt.Fprintln(e.stderr, "form publish: refused")
		return 1
	}
	var who *int64
	if *by != 0 {
		who = by
	}
	if err := db.PublishForm(ctx, publishedRecord(p, who)); err != nil {
		fmt.Fprintln(e.stderr, "form publish:", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "published %s version %d for %s\n", p.Result.FormID, p.Result.Form.Version, strings.Join(p.Complete, " "))
	if len(p.Incomplete) > 0 {
		fmt.Fprintf(e.stdout, "not published for %s: messages missing\n", strings.Join(p.Incomplete, " "))
	}
	return 0
}

func runFormList(ctx context.Context, e *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("form list", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db, _, ok := formDB(ctx, e, fs, args)
	if !ok {
		return 2
	}
	defer db.Close()
	all, err := db.PublishedForms(ctx)
	if err != nil {
		fmt.Fprintln(e.stderr, "form list:", err)
		return 1
	}
	if len(all) == 0 {
		fmt.Fprintln(e.stdout, "no published forms")
	}
	for _, f := range all {
		fmt.Fprintln(e.stdout, formLine(f))
	}
	return 0
}

func formLine(f pgstore.PublishedForm) string {
	by := "shell"
	if f.PublishedBy != nil {
		by = "staff " + strconv.FormatInt(*f.PublishedBy, 10)
	}
	status := "live"
	if f.RetiredAt != nil {
		status = "retired " + f.RetiredAt.UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("%s v%d\t%s\tpublished %s by %s\t%s", f.Form, f.Version, strings.Join(f.Languages, " "),
		f.PublishedAt.UTC().Format(time.DateOnly), by, status)
}

func runFormShow(ctx context.Context, e *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("form show", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	version := fs.Int("version", 0, "version (0: the newest)")
	db, pos, ok := formDB(ctx, e, fs, args)
	if !ok {
		return 2
	}
	defer db.Close()
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "usage: needsbot form show FORM_ID [--version N]")
		return 2
	}
	all, err := db.PublishedForms(ctx)
	if err != nil {
		fmt.Fprintln(e.stderr, "form show:", err)
		return 1
	}
	var found *pgstore.PublishedForm
	for i, f := range all {
		if f.Form == pos[0] && (*version == 0 || f.Version == *version) {
			found = &all[i]
		}
	}
	if found == nil {
		fmt.Fprintf(e.stderr, "form show: no published form %s\n", pos[0])
		return 1
	}
	fmt.Fprintln(e.stdout, formLine(*found))
	f, err := dialog.Parse(found.Form+".yaml", []byte(found.Definition))
	if err != nil {
		fmt.Fprintln(e.stderr, "form show:", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "audience %s, %d questions, default language %s\n", f.Audience, len(f.Questions), f.Language)
	fmt.Fprint(e.stdout, found.Definition)
	return 0
}

func runFormRetire(ctx context.Context, e *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("form retire", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	by := fs.Int64("by", 0, "staff id of who retires it (0: from the shell)")
	db, pos, ok := formDB(ctx, e, fs, args)
	if !ok {
		return 2
	}
	defer db.Close()
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "usage: needsbot form retire FORM_ID [--by STAFF_ID]")
		return 2
	}
	var who *int64
	if *by != 0 {
		who = by
	}
	if err := db.RetireForm(ctx, who, pos[0]); err != nil {
		fmt.Fprintln(e.stderr, "form retire:", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "retired %s: new interviews no longer start on it; those under way finish\n", pos[0])
	return 0
}
