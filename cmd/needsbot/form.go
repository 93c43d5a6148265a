package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/dialog/xlsform"
	"github.com/needsbot/needsbot/locales"
)

// runForm converts questionnaires between XLSForm workbooks and needsbot's
// YAML + message files (docs/xlsform.md).
func runForm(ctx context.Context, e *cmdEnv, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "import":
			return runFormImport(ctx, e, args[1:])
		case "export":
			return runFormExport(ctx, e, args[1:])
		case "publish":
			return runFormPublish(ctx, e, args[1:])
		case "list":
			return runFormList(ctx, e, args[1:])
		case "show":
			return runFormShow(ctx, e, args[1:])
		case "retire":
			return runFormRetire(ctx, e, args[1:])
		}
	}
	fmt.Fprintln(e.stderr, "usage: needsbot form import WORKBOOK --out DIR\n       needsbot form export FORM_ID --out FILE.xlsx [--forms DIR] [--version N]\n       needsbot form publish WORKBOOK [--by STAFF_ID]\n       needsbot form list | show FORM_ID [--version N] | retire FORM_ID [--by STAFF_ID]")
	return 2
}

// splitFlags lets flags follow the positional argument (form import X --out D).
func splitFlags(args []string) (pos, flags []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return pos, flags
}

func runFormImport(_ context.Context, e *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("form import", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	out := fs.String("out", "", "directory to write FORM_ID.yaml and FORM_ID.LANG.toml into (a NEEDSBOT_FORMS_DIR)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: needsbot form import WORKBOOK --out DIR\n\nWORKBOOK is an .xlsx XLSForm, a .md file of pyxform-style markdown tables,\nor a directory or .zip of survey.csv, choices.csv, settings.csv.")
		fs.PrintDefaults()
	}
	pos, flags := splitFlags(args)
	if err := fs.Parse(flags); err != nil {
		return 2
	}
	if len(pos) != 1 || *out == "" {
		fs.Usage()
		return 2
	}
	wb, err := xlsform.Open(pos[0])
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	res, err := xlsform.Import(wb)
	var re *xlsform.RefusedError
	switch {
	case errors.As(err, &re):
		for _, p := range re.Problems {
			fmt.Fprintf(e.stdout, "%s: %s\n", pos[0], p)
		}
		n := 0
		for _, p := range re.Problems {
			if p.Refused {
				n++
			}
		}
		fmt.Fprintf(e.stderr, "form import: refused, %d problem(s)\n", n)
		return 1
	case err != nil:
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	files := map[string][]byte{res.FormID + ".yaml": res.YAML}
	for _, l := range res.Languages() {
		files[res.FormID+"."+l+".toml"] = res.TOML(l)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			fmt.Fprintln(e.stderr, err)
			return 1
		}
	}
	for _, p := range res.Notes {
		fmt.Fprintf(e.stdout, "%s: %s\n", pos[0], p)
	}
	fmt.Fprintf(e.stdout, "wrote %s (questionnaire %s, %d questions, languages %s)\n",
		filepath.Join(*out, res.FormID+".yaml"), res.FormID, len(res.Form.Questions), strings.Join(res.Languages(), " "))
	fmt.Fprintf(e.stdout, "check it: needsbot lint %s; walk it: needsbot simulate --forms %s --form %s --lang %s\n",
		*out, *out, res.FormID, res.Form.Language)
	return 0
}

type catalogTexts struct{ c *locales.Catalog }

func (t catalogTexts) Languages() []string {
	var out []string
	for _, l := range t.c.Languages() {
		out = append(out, l.Code)
	}
	return out
}

func (t catalogTexts) Text(lang, id string) (string, bool) { return t.c.Raw(lang, id) }

func runFormExport(_ context.Context, e *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("form export", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	out := fs.String("out", "", "the .xlsx file to write")
	dir := fs.String("forms", "", "directory of questionnaire definitions and their message files (default: embedded)")
	version := fs.Int("version", 0, "questionnaire version (0: the newest)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: needsbot form export FORM_ID --out FILE.xlsx [--forms DIR] [--version N]")
		fs.PrintDefaults()
	}
	pos, flags := splitFlags(args)
	if err := fs.Parse(flags); err != nil {
		return 2
	}
	if len(pos) != 1 || *out == "" {
		fs.Usage()
		return 2
	}
	lib, err := forms.Load(*dir)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	f := lib.Latest(pos[0])
	if *version != 0 {
		f = lib.Get(pos[0], *version)
	}
	if f == nil {
		fmt.Fprintf(e.stderr, "form export: no questionnaire %q version %d (have %s)\n", pos[0], *version, strings.Join(lib.IDs(), ", "))
		return 1
	}
	cat, err := locales.NewWithForms(*dir)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	file, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	if err := xlsform.Export(f, catalogTexts{cat}, file); err != nil {
		file.Close()
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	if err := file.Close(); err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	fmt.Fprintf(e.stdout, "wrote %s (questionnaire %s version %d)\n", *out, f.ID, f.Version)
	return 0
}
