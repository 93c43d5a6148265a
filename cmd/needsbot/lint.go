package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
		fmt.Fprintln(e.stderr, "usage: needsbot lint [PATH…]\n\nWithout PATH: checks the embedded questionnaires and every embedded message.\nWith PATHs (YAML files or directories of them, e.g. a `form import` output):\nchecks those questionnaires and only their own messages (embedded, or\n<form>.<lang>.toml files beside them).")
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
	if fs.NArg() == 0 {
		cat, err := locales.New()
		if err != nil {
			problems = append(problems, fmt.Sprintf("locales: %v", err))
		} else {
			problems = append(problems, locales.Lint(cat, messageIDs(all), respondentForms(all)...)...)
		}
	}
	// Files and directories named: each form with only its own messages,
	// found in the embedded locales and in the message files beside it
	// (<form>.<lang>.toml, as `needsbot form import` writes them).
	byDir := map[string][]*dialog.Form{}
	var dirs []string
	for _, p := range fs.Args() {
		files := []string{p}
		dir := filepath.Dir(p)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			dir = p
			files, _ = filepath.Glob(filepath.Join(p, "*.yaml"))
			more, _ := filepath.Glob(filepath.Join(p, "*.yml"))
			files = append(files, more...)
		}
		if _, seen := byDir[dir]; !seen {
			dirs = append(dirs, dir)
			byDir[dir] = nil
		}
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s:1: %v", name, err))
				continue
			}
			n := len(all)
			load(name, src)
			byDir[dir] = append(byDir[dir], all[n:]...)
		}
	}
	seen := map[string]bool{}
	for _, dir := range dirs {
		tomls, _ := filepath.Glob(filepath.Join(dir, "*.toml"))
		msgDir := ""
		if len(tomls) > 0 {
			msgDir = dir
		}
		cat, err := locales.NewWithForms(msgDir)
		if err != nil {
			problems = append(problems, fmt.Sprintf("locales: %v", err))
			continue
		}
		var ids []string
		for _, f := range byDir[dir] {
			ids = append(ids, f.MessageIDs()...)
		}
		for _, p := range locales.LintForms(cat, ids) {
			if !seen[p] {
				seen[p] = true
				problems = append(problems, p)
			}
		}
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

// respondentForms lists the ids of the forms respondents answer: their
// texts must exist in every language.
func respondentForms(fs []*dialog.Form) []string {
	var ids []string
	for _, f := range fs {
		if f.Audience == dialog.AudienceRespondents && !slices.Contains(ids, f.ID) {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

// messageIDs lists every message id the forms use.
func messageIDs(fs []*dialog.Form) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.MessageIDs()...)
	}
	ids = append(ids, dialog.EngineMessageIDs()...)
	ids = append(ids, bot.MessageIDs()...)
	var formIDs []string
	for _, f := range fs {
		if !slices.Contains(formIDs, f.ID) {
			formIDs = append(formIDs, f.ID)
		}
	}
	ids = append(ids, staff.MessageIDs(formIDs...)...)
	ids = append(ids, results.MessageIDs(fs...)...)
	ids = append(ids, directoryMessageIDs()...)
	return ids
}
