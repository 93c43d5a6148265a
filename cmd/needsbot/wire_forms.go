package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// formsCheckEvery is the fallback check of published forms: a replica that
// missed a notification (a reconnection) reloads within it.
const formsCheckEvery = time.Minute

// buildForms builds the questionnaires a replica serves: the shipped forms
// (NEEDSBOT_FORMS_DIR or the embedded ones) and every published version in
// Postgres, retired ones too (an interview keeps the version it started
// with), with their messages. It is formlib's Builder: at start and at every
// reload.
func (a *app) buildForms(ctx context.Context) (*formlib.Snapshot, error) {
	pub, err := a.db.PublishedForms(ctx)
	if err != nil {
		return nil, err
	}
	defs := make([]forms.Published, 0, len(pub))
	files := map[string][]byte{}
	retired := map[string]bool{}
	langs := map[string][]string{}
	first := map[string]time.Time{}
	for _, p := range pub { // by form and version: the newest version's settings win
		defs = append(defs, forms.Published{File: "published:" + p.Form + " v" + strconv.Itoa(p.Version), YAML: []byte(p.Definition)})
		for lang, toml := range p.Messages {
			// The newest version's messages win: versions share ids.
			files[p.Form+".v"+strconv.Itoa(p.Version)+"."+lang+".toml"] = []byte(toml)
		}
		retired[p.Form] = p.RetiredAt != nil
		langs[p.Form] = slices.Clone(p.Languages)
		if t, ok := first[p.Form]; !ok || p.PublishedAt.Before(t) {
			first[p.Form] = p.PublishedAt
		}
	}
	lib, err := forms.LoadWith(a.cfg.FormsDir, defs...)
	if err != nil {
		return nil, fmt.Errorf("published questionnaires: %w", err)
	}
	cat, err := locales.NewWithFiles(a.cfg.FormsDir, files)
	if err != nil {
		return nil, fmt.Errorf("published questionnaires' messages: %w", err)
	}
	// Invite menu keys hold a place in InviteOrder: shipped forms first,
	// then published ones by first publication, so the order only grows.
	order := slices.Clone(a.shipped)
	var published []string
	for id := range first {
		if !slices.Contains(order, id) {
			published = append(published, id)
		}
	}
	sort.Slice(published, func(i, j int) bool {
		ti, tj := first[published[i]], first[published[j]]
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return published[i] < published[j]
	})
	order = append(order, published...)
	return &formlib.Snapshot{Forms: lib, Catalog: cat, Retired: retired, Languages: langs, InviteOrder: order,
		Stamp: pgstore.FormsStampOf(pub)}, nil
}

// loadForms builds the first snapshot (a failure stops the start) and sets
// a.forms and a.cat to it for the parts that are not reloaded.
func (a *app) loadForms(ctx context.Context) error {
	shipped, err := forms.Load(a.cfg.FormsDir)
	if err != nil {
		return fmt.Errorf("questionnaires: %w", err)
	}
	a.shipped = shipped.ByAudience()
	if a.lib, err = formlib.New(ctx, a.buildForms, a.log); err != nil {
		return err
	}
	snap := a.lib.Current()
	a.forms, a.cat = snap.Forms, snap.Catalog
	if n := len(snap.Forms.Forms()) - len(shipped.Forms()); n > 0 {
		a.log.Info("published questionnaires loaded", "versions", n)
	}
	return nil
}

// watchForms reloads the questionnaires when a form is published or
// retired (Postgres LISTEN/NOTIFY, sent by PublishForm and RetireForm), and
// checks every formsCheckEvery in case a notification was lost.
func (a *app) watchForms(ctx context.Context) {
	changed := make(chan struct{}, 1)
	go a.db.ListenForms(ctx, 5*time.Second, func() {
		select {
		case changed <- struct{}{}:
		default: // a reload is pending already
		}
	}, func(err error) { a.log.Warn("questionnaires: listening for publications failed; retrying", "err", err) })
	a.lib.Watch(ctx, changed, formsCheckEvery, a.db.FormsStamp)
}
