package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/results"
	"github.com/needsbot/needsbot/storage/pgstore"
)

const exportUsage = `usage: needsbot export --format csv|xlsx [--form F] [--municipality ISTAT]
                      [--service CODE] [--language L] [--since DATE] [--out FILE] [--lang it|en]
                      [--row-level --purpose TEXT]

Without --row-level it writes the same de-identified export managers get with
/export in Telegram: one row per response with no response id, invite or
operator, the completion day without time, the duration in minutes, the
country only as its macro-area, and the free-text answers in a separate sheet
(XLSX) or file (CSV: a zip of responses.csv and free_text.csv) in random
order, with phone numbers, e-mail addresses and long digit runs masked. The
operators' questionnaire exports perturbed totals only.

--row-level writes one row per response with everything stored: response id,
invite number and label, start and end to the second, exact answers and free
text in the row. It is for the municipality's own analysis under its legal
basis (docs/privacy.en.md, "Row-level export"): --purpose must say why, and
the run is written to the audit log with the host user, the purpose, the
filter and the row count. The operators' questionnaire has no row-level
export (its consent promises totals only).

Respondents' pseudonyms are never exported. Rows stream from Postgres, so
memory stays small whatever the size. Every export is written to the audit
log. Any export is personal data: keep it where only the municipality's
analysts can read it (docs/bi.md). It reads NEEDSBOT_DATABASE_URL (or
--database-url) like migrate does.

`

// runExport is `needsbot export`.
func runExport(ctx context.Context, e *cmdEnv, args []string) int {
	cfg, _, err := loadConfig("export", nil, e.getenv, e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 2
	}
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, exportUsage); fs.PrintDefaults() }
	dsn := fs.String("database-url", cfg.DatabaseURL, "Postgres ($NEEDSBOT_DATABASE_URL)")
	format := fs.String("format", "", "csv or xlsx (required)")
	form := fs.String("form", "", "questionnaire id (default: the first form respondents answer)")
	muni := fs.String("municipality", "", "ISTAT code of the municipality (default: every one)")
	service := fs.String("service", "", "service code (default: every service)")
	language := fs.String("language", "", "interview language, e.g. ar (default: every language)")
	since := fs.String("since", "", "only interviews completed from this day (YYYY-MM-DD, Italian time) or instant (RFC 3339)")
	out := fs.String("out", "", "file to write (default: standard output)")
	lang := fs.String("lang", "it", "language of the labels: it or en")
	rowLevel := fs.Bool("row-level", false, "export every stored field, row by row (audited; needs --purpose)")
	purpose := fs.String("purpose", "", "why a row-level export is needed (written to the audit log)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var problems []string
	if *format != results.FormatCSV && *format != results.FormatXLSX {
		problems = append(problems, "--format must be csv or xlsx")
	}
	if *lang != "it" && *lang != "en" {
		problems = append(problems, "--lang must be it or en")
	}
	if *rowLevel && strings.TrimSpace(*purpose) == "" {
		problems = append(problems, "--row-level needs --purpose: say why row-level data are needed (it goes to the audit log)")
	}
	if fs.NArg() > 0 {
		problems = append(problems, "unexpected arguments: "+strings.Join(fs.Args(), " "))
	}
	sinceT, err := parseSince(*since)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		fmt.Fprintln(e.stderr, "needsbot export: "+strings.Join(problems, "\nneedsbot export: "))
		fs.Usage()
		return 2
	}
	db, err := pgstore.Open(ctx, *dsn)
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot export:", err)
		return 1
	}
	defer db.Close()
	// The shipped questionnaires and those published without a release,
	// every version (the export labels each response's form_version).
	snap, err := buildForms(ctx, db, cfg.FormsDir, newLogger(e.stderr, "warn"))
	if err != nil {
		fmt.Fprintf(e.stderr, "needsbot export: %s: %v\n", redactURL(*dsn), err)
		return 1
	}
	lib, cat := snap.Forms, snap.Catalog
	if ids := lib.Respondents(); *form == "" && len(ids) > 0 {
		*form = ids[0]
	}
	if lib.Latest(*form) == nil {
		fmt.Fprintf(e.stderr, "needsbot export: unknown questionnaire %q (have %s)\n", *form, strings.Join(lib.IDs(), ", "))
		return 2
	}
	staffForm := lib.Latest(*form).Audience == dialog.AudienceStaff
	if *rowLevel && staffForm {
		fmt.Fprintln(e.stderr, "needsbot export: the staff's questionnaire has no row-level export: its consent promises totals only")
		fs.Usage()
		return 2
	}
	scope := pgstore.ResultsScope{Form: *form, Service: *service, Language: *language, Since: sinceT}
	if *muni != "" {
		if scope.Municipality, err = db.MunicipalityID(ctx, *muni); err != nil {
			fmt.Fprintln(e.stderr, "needsbot export:", err)
			return 1
		}
	}
	svc, err := results.New(results.Options{Places: db, Services: db, Counts: db, Rows: db, Auditor: db, Reporting: db, Forms: lib, Catalog: cat, MinCell: cfg.MinCell})
	if err != nil {
		fmt.Fprintln(e.stderr, "needsbot export:", err)
		return 1
	}
	req := results.ExportRequest{Format: *format, Lang: *lang, Scope: scope, Via: "cli", RowLevel: *rowLevel,
		HostUser: hostUser(e.getenv), Purpose: strings.TrimSpace(*purpose)}
	n, err := exportTo(ctx, svc, req, *out, e.stdout)
	if err != nil {
		fmt.Fprintf(e.stderr, "needsbot export: %s: %v\n", redactURL(*dsn), err)
		return 1
	}
	where := *out
	if where == "" || where == "-" {
		where = "standard output"
	}
	kind := "de-identified"
	switch {
	case *rowLevel:
		kind = "row-level (audited)"
	case staffForm:
		kind = "aggregate"
	}
	fmt.Fprintf(e.stderr, "exported %d responses (%s) to %s\n", n, kind, where)
	if *rowLevel {
		fmt.Fprintln(e.stderr, "this file holds row-level personal data: keep it where only the municipality's analysts can read it, and delete it when the purpose is served")
	}
	return 0
}

// hostUser names who ran a command-line export, for the audit log: the
// operating-system user and the host.
func hostUser(getenv func(string) string) string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = getenv("USER")
	}
	if name == "" {
		name = "uid " + strconv.Itoa(os.Getuid())
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		name += "@" + h
	}
	return name
}

// exportTo writes the export to path (atomically: a temporary file renamed
// when complete, so a failed export leaves no half file), or to stdout.
func exportTo(ctx context.Context, svc *results.Service, req results.ExportRequest, path string, stdout io.Writer) (int, error) {
	if path == "" || path == "-" {
		return svc.Export(ctx, stdout, req)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := svc.Export(ctx, tmp, req)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	// The export is personal data: readable by its owner only.
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), path)
}

// parseSince reads --since: a day (midnight in Italy) or an RFC 3339
// instant.
func parseSince(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, pgstore.ResultsLocation()); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want YYYY-MM-DD or an RFC 3339 time", v)
}
