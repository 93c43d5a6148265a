package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
)

// loadPublished adds the forms published without a release (Postgres,
// `needsbot form publish`) to the library and their messages to the
// catalog: every version, retired ones too, so that an interview keeps
// the version it started with. A replica picks up forms published since
// its start when it restarts.
func (a *app) loadPublished(ctx context.Context) error {
	pub, err := a.db.PublishedForms(ctx)
	if err != nil {
		return err
	}
	if len(pub) == 0 {
		return nil
	}
	defs := make([]forms.Published, 0, len(pub))
	files := map[string][]byte{}
	a.retired = map[string]bool{}
	for _, p := range pub {
		defs = append(defs, forms.Published{File: "published:" + p.Form + " v" + strconv.Itoa(p.Version), YAML: []byte(p.Definition)})
		for lang, toml := range p.Messages {
			// The newest version's messages win: versions share ids.
			files[p.Form+".v"+strconv.Itoa(p.Version)+"."+lang+".toml"] = []byte(toml)
		}
		a.retired[p.Form] = p.RetiredAt != nil
	}
	lib, err := forms.LoadWith(a.cfg.FormsDir, defs...)
	if err != nil {
		return fmt.Errorf("published questionnaires: %w", err)
	}
	cat, err := locales.NewWithFiles(a.cfg.FormsDir, files)
	if err != nil {
		return fmt.Errorf("published questionnaires' messages: %w", err)
	}
	a.forms, a.cat = lib, cat
	a.log.Info("published questionnaires loaded", "versions", len(pub))
	return nil
}

// inviteForms are the forms staff may invite to: the respondents' first,
// then the staff's, without retired published forms.
func (a *app) inviteForms() []string {
	var out []string
	for _, id := range a.forms.ByAudience() {
		if !a.retired[id] {
			out = append(out, id)
		}
	}
	return out
}
