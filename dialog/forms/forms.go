// Package forms ships the questionnaire definitions embedded in the binary:
// immigrati (immigrants using municipal services) and operatori (the
// operators who serve them). A directory given at run time overrides them.
package forms

import (
	"embed"
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
