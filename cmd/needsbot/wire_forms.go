package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/needsbot/needsbot/dialog"
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
	var cur *formlib.Snapshot
	if a.lib != nil { // nil while formlib.New builds the first snapshot
		cur = a.lib.Current()
	}
	return buildFormsReusing(ctx, a.db, a.cfg.FormsDir, a.log, cur, &a.builds)
}

// buildForms is the snapshot of the shipped forms of formsDir and the
// forms published in db (also for the commands that read responses, such
// as export). A published version this binary cannot load (an older
// binary during a rolling upgrade, a row written by hand) is left out and
// logged: the others still go live, and a replica still starts.
func buildForms(ctx context.Context, db *pgstore.DB, formsDir string, log *slog.Logger) (*formlib.Snapshot, error) {
	return buildFormsReusing(ctx, db, formsDir, log, nil, nil)
}

// formBuilds is what a replica's snapshot builds remember from one build
// to the next: the published versions this binary could not load, by
// content (formKey), so that a reload leaves them out at once instead of
// compiling every form and catalog once more per published version to
// find them again (n+2 compilations of everything, per reload and replica,
// for n published versions; 49.5 s under the race detector in session 11).
// A row is tried again when its content changes. Safe for concurrent use.
type formBuilds struct {
	mu  sync.Mutex
	bad map[string]error // formKey → why it did not load
	// compiles counts compilePublished calls (tests).
	compiles int
}

// compile is compilePublished, counted.
func (b *formBuilds) compile(formsDir string, pub []pgstore.PublishedForm) (*dialog.Library, *locales.Catalog, error) {
	if b != nil {
		b.mu.Lock()
		b.compiles++
		b.mu.Unlock()
	}
	return compilePublished(formsDir, pub)
}

// known returns why row p did not load at an earlier build (nil: it is
// not known to fail).
func (b *formBuilds) known(p pgstore.PublishedForm) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bad[formKey(p)]
}

// remember records the rows that did not load at this build, of the rows
// published now (all): rows no longer published are forgotten.
func (b *formBuilds) remember(all []pgstore.PublishedForm, failed map[string]error) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	next := make(map[string]error, len(failed))
	for _, p := range all {
		k := formKey(p)
		if err, ok := failed[k]; ok {
			next[k] = err
		} else if err, ok := b.bad[k]; ok {
			next[k] = err
		}
	}
	b.bad = next
}

// formKey identifies a published row by its id, version and content.
func formKey(p pgstore.PublishedForm) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s", p.Form, p.Version, len(p.Definition), p.Definition)
	langs := make([]string, 0, len(p.Messages))
	for lang := range p.Messages {
		langs = append(langs, lang)
	}
	sort.Strings(langs)
	for _, lang := range langs {
		fmt.Fprintf(h, "\x00%s\x00%d\x00%s", lang, len(p.Messages[lang]), p.Messages[lang])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// buildFormsReusing is buildForms, returning cur itself when the published
// versions still have cur's stamp: formlib.Live.Reload keeps the snapshot
// in force then anyway, and compiling the forms and the catalogs of every
// language again only to drop them doubled the heap at every start (the
// forms listener signals once it listens, to catch what was published
// before) and at every reconnection.
//
// builds (nil: none) remembers the versions that did not load from one
// build to the next (formBuilds).
func buildFormsReusing(ctx context.Context, db *pgstore.DB, formsDir string, log *slog.Logger, cur *formlib.Snapshot, builds *formBuilds) (*formlib.Snapshot, error) {
	pub, err := db.PublishedForms(ctx)
	if err != nil {
		return nil, err
	}
	stamp := pgstore.FormsStampOf(pub) // of every row, left-out ones too: no reload every minute for them
	if cur != nil && cur.Stamp != "" && cur.Stamp == stamp {
		return cur, nil
	}
	shipped, err := forms.Load(formsDir)
	if err != nil {
		return nil, fmt.Errorf("questionnaires: %w", err)
	}
	// A published row must not change the shipped questionnaires (issue
	// 13): one that reuses a shipped id (publishing refuses it now; an
	// older database may hold one) or whose messages reach into another
	// form's ids is left out and logged.
	pub = slices.DeleteFunc(slices.Clone(pub), func(p pgstore.PublishedForm) bool {
		err := publishedRowProblem(shipped, p)
		if err != nil && log != nil {
			log.Error("published questionnaire left out: it would change another questionnaire", "form", p.Form, "version", p.Version, "err", err)
		}
		return err != nil
	})
	all := pub
	// Versions that did not load at an earlier build are left out at once
	// (formBuilds), and logged again: still not served.
	pub = slices.DeleteFunc(slices.Clone(pub), func(p pgstore.PublishedForm) bool {
		err := builds.known(p)
		if err != nil && log != nil {
			log.Error("published questionnaire left out: this binary cannot load it", "form", p.Form, "version", p.Version, "err", err)
		}
		return err != nil
	})
	failed := map[string]error{}
	lib, cat, err := builds.compile(formsDir, pub)
	if err != nil {
		// Find the versions that do not load, one at a time, in order.
		var good []pgstore.PublishedForm
		for _, p := range pub {
			if _, _, err := builds.compile(formsDir, append(slices.Clone(good), p)); err != nil {
				if log != nil {
					log.Error("published questionnaire left out: this binary cannot load it", "form", p.Form, "version", p.Version, "err", err)
				}
				failed[formKey(p)] = err
				continue
			}
			good = append(good, p)
		}
		if len(good) == len(pub) {
			return nil, err // not one version's fault
		}
		pub = good
		if lib, cat, err = builds.compile(formsDir, pub); err != nil {
			return nil, err
		}
	}
	builds.remember(all, failed)
	retired := map[string]bool{}
	langs := map[string][]string{}
	first := map[string]time.Time{}
	for _, p := range pub { // by form and version: the newest version's settings win
		retired[p.Form] = p.RetiredAt != nil
		langs[p.Form] = slices.Clone(p.Languages)
		if t, ok := first[p.Form]; !ok || p.PublishedAt.Before(t) {
			first[p.Form] = p.PublishedAt
		}
	}
	// Invite menu keys hold a place in InviteOrder: shipped forms first,
	// then published ones by first publication, so the order only grows.
	order := shipped.ByAudience()
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
		Stamp: stamp}, nil
}

// errShippedID refuses a publication under a shipped form's id.
var errShippedID = errors.New("is a questionnaire shipped with needsbot: a workbook cannot replace or change it; give the form another form_id")

// shippedForm reports whether id names a form shipped with the bot
// (formsDir, or the embedded forms), with the error saying why it cannot
// be published.
func shippedForm(lib *dialog.Library, id string) error {
	if lib.Latest(id) != nil {
		return fmt.Errorf("form id %q %w", id, errShippedID)
	}
	return nil
}

// publishedRowProblem says why a published row must not go live: its id
// is a shipped form's, or one of its messages is not in its own form's
// namespace (f.<form>.…, q.<form>.…, c.<form>.…, g.<form>.…, as the
// importer names them), so it would override another form's text.
func publishedRowProblem(shipped *dialog.Library, p pgstore.PublishedForm) error {
	if err := shippedForm(shipped, p.Form); err != nil {
		return err
	}
	for lang, text := range p.Messages {
		var msgs map[string]any
		if _, err := toml.Decode(text, &msgs); err != nil {
			return fmt.Errorf("messages %s: %w", lang, err)
		}
		for id := range msgs {
			if !ownMessage(p.Form, id) {
				return fmt.Errorf("message %q (%s) is not one of questionnaire %s's", id, lang, p.Form)
			}
		}
	}
	return nil
}

// ownMessage reports whether message id belongs to form: kind.form.rest.
func ownMessage(form, id string) bool {
	kind, rest, ok := strings.Cut(id, ".")
	if !ok || !slices.Contains([]string{"f", "q", "c", "g"}, kind) {
		return false
	}
	f, name, ok := strings.Cut(rest, ".")
	return ok && f == form && name != ""
}

// compilePublished loads the shipped forms with the published versions
// and the catalog with their messages.
func compilePublished(formsDir string, pub []pgstore.PublishedForm) (*dialog.Library, *locales.Catalog, error) {
	defs := make([]forms.Published, 0, len(pub))
	files := map[string][]byte{}
	for _, p := range pub {
		defs = append(defs, forms.Published{File: "published:" + p.Form + " v" + strconv.Itoa(p.Version), YAML: []byte(p.Definition)})
		for lang, toml := range p.Messages {
			// The newest version's messages win: versions share ids.
			files[p.Form+".v"+strconv.Itoa(p.Version)+"."+lang+".toml"] = []byte(toml)
		}
	}
	lib, err := forms.LoadWith(formsDir, defs...)
	if err != nil {
		return nil, nil, fmt.Errorf("published questionnaires: %w", err)
	}
	cat, err := locales.NewWithFiles(formsDir, files)
	if err != nil {
		return nil, nil, fmt.Errorf("published questionnaires' messages: %w", err)
	}
	return lib, cat, nil
}

// loadForms builds the first snapshot (a failure stops the start) and sets
// a.forms and a.cat to it for the parts that are not reloaded.
func (a *app) loadForms(ctx context.Context) error {
	var err error
	if a.lib, err = formlib.New(ctx, a.buildForms, a.log); err != nil {
		return err
	}
	// The BI views' labels follow the questionnaires in force.
	a.lib.OnSwap(func(*formlib.Snapshot) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := a.syncReporting(ctx); err != nil {
			a.log.Warn("BI reporting labels not refreshed", "err", err)
		}
	})
	snap := a.lib.Current()
	if id := a.cfg.DefaultForm; id != "" && !slices.Contains(snap.Forms.Respondents(), id) {
		return fmt.Errorf("NEEDSBOT_DEFAULT_FORM %q names no respondents' questionnaire (they are: %s)", id, strings.Join(snap.Forms.Respondents(), ", "))
	}
	a.forms, a.cat = snap.Forms, snap.Catalog
	a.log.Info("questionnaires loaded", "forms", len(snap.Forms.IDs()), "versions", len(snap.Forms.Forms()))
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
	every := formsCheckEvery
	if d, ok := ctx.Value(formsCheckHook{}).(time.Duration); ok {
		every = d
	}
	a.lib.Watch(ctx, changed, every, a.db.FormsStamp)
}
