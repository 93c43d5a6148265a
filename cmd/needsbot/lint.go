package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/results"
	"github.com/needsbot/needsbot/staff"
)

// runLint checks questionnaire definitions (the embedded ones, or the files
// and directories named) and the locales: one file:line: message per
// problem, exit 1 when there is any.
func runLint(_ context.Context, e *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: needsbot lint [PATH…]\n\nChecks questionnaires (YAML files or directories of them; default: the embedded ones) and the embedded locales.")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var all []*dialog.Form
	var problems []string
	load := func(name string, src []byte) {
		f, err := dialog.Parse(name, src)
		var le *dialog.LoadError
		switch {
		case errors.As(err, &le):
			for _, p := range le.Problems {
				problems = append(problems, p.String())
			}
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		default:
			all = append(all, f)
		}
	}
	if fs.NArg() == 0 {
		lib, err := forms.Load("")
		var le *dialog.LoadError
		switch {
		case errors.As(err, &le):
			for _, p := range le.Problems {
				problems = append(problems, p.String())
			}
		case err != nil:
			problems = append(problems, err.Error())
		default:
			all = lib.Forms()
		}
	}
	for _, p := range fs.Args() {
		files := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.yaml"))
			more, _ := filepath.Glob(filepath.Join(p, "*.yml"))
			files = append(files, more...)
		}
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s:1: %v", name, err))
				continue
			}
			load(name, src)
		}
	}
	cat, err := locales.New()
	if err != nil {
		problems = append(problems, fmt.Sprintf("locales: %v", err))
	} else {
		problems = append(problems, locales.Lint(cat, messageIDs(all))...)
	}
	sort.Strings(problems)
	for _, p := range problems {
		fmt.Fprintln(e.stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(e.stderr, "%d problem(s)\n", len(problems))
		return 1
	}
	return 0
}

// messageIDs lists every message id the forms use.
func messageIDs(fs []*dialog.Form) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.MessageIDs()...)
	}
	ids = append(ids, dialog.EngineMessageIDs()...)
	ids = append(ids, bot.MessageIDs()...)
	ids = append(ids, staff.MessageIDs()...)
	ids = append(ids, results.MessageIDs()...)
	ids = append(ids, directoryMessageIDs()...)
	return ids
}
