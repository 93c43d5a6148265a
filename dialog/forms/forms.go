// Package forms ships the questionnaire definitions embedded in the binary:
// immigrati (immigrants using municipal services) and operatori (the
// operators who serve them). A directory given at run time overrides them.
package forms

import (
	"embed"
	"errors"
	"io/fs"
	"os"

	"github.com/needsbot/needsbot/dialog"
)

//go:embed *.yaml
var embedded embed.FS

// FS returns the embedded definitions.
func FS() fs.FS { return embedded }

// Load loads the embedded definitions, or those of dir when dir is not
// empty, into a library.
func Load(dir string) (*dialog.Library, error) {
	var fsys fs.FS = embedded
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	forms, err := dialog.LoadFS(fsys, ".")
	if err != nil {
		return nil, err
	}
	return dialog.NewLibrary(forms...)
}

// Published is a definition published at run time (kept in Postgres): its
// YAML, as `needsbot form import` writes it.
type Published struct {
	File string // names it in problems, e.g. "published:vicinato v1"
	YAML []byte
}

// LoadWith loads the embedded definitions (or dir's), and the published
// ones, into one library: every version of every form, so that an
// interview keeps the version it started with.
func LoadWith(dir string, published ...Published) (*dialog.Library, error) {
	var fsys fs.FS = embedded
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	all, err := dialog.LoadFS(fsys, ".")
	if err != nil {
		return nil, err
	}
	var problems []dialog.Problem
	for _, p := range published {
		f, err := dialog.Parse(p.File, p.YAML)
		var le *dialog.LoadError
		switch {
		case errors.As(err, &le):
			problems = append(problems, le.Problems...)
		case err != nil:
			return nil, err
		default:
			all = append(all, f)
		}
	}
	if len(problems) > 0 {
		return nil, &dialog.LoadError{Problems: problems}
	}
	return dialog.NewLibrary(all...)
}
