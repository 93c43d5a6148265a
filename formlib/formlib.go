// Package formlib owns the questionnaires a running replica serves: an
// immutable Snapshot (form library, message catalog, retired forms,
// published languages per form) behind an atomic pointer, swapped whole
// when a form is published or retired. Readers take one snapshot per input
// and keep it for that input; an interview finds its form by id and
// version, and every version stays in every later snapshot, so a swap never
// pulls a form from under a running interview.
package formlib

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/locales"
)

// Snapshot is one consistent view of the questionnaires. It is never
// modified after Live publishes it.
type Snapshot struct {
	Forms   *dialog.Library
	Catalog *locales.Catalog
	// Retired lists published forms retired for new interviews (running
	// ones finish on their version).
	Retired map[string]bool
	// Languages lists, for a form published for some languages only, the
	// language codes it speaks (newest version's); a form absent here
	// speaks every catalog language.
	Languages map[string][]string
	// InviteOrder lists every form staff ever could invite to, in an
	// order that only grows (the shipped forms, then published ones by
	// first publication): an invite menu's key holds a place in it, so a
	// key shown before a publication still means the same form.
	InviteOrder []string
	// Stamp identifies the publications the snapshot was built from (for
	// the periodic check: a different stamp means reload).
	Stamp string
}

// Fixed returns a snapshot of a library and catalog without published
// forms (tests, the shipped forms only).
func Fixed(lib *dialog.Library, cat *locales.Catalog) *Snapshot {
	s := &Snapshot{Forms: lib, Catalog: cat}
	if lib != nil {
		s.InviteOrder = lib.ByAudience()
	}
	return s
}

// Invitable lists the forms staff may invite to: the respondents' first,
// then the staff's, without retired forms.
func (s *Snapshot) Invitable() []string {
	var out []string
	for _, id := range s.Forms.ByAudience() {
		if !s.Retired[id] {
			out = append(out, id)
		}
	}
	return out
}

// FormLanguages lists the languages the form id speaks, in the catalog's
// order: those it was published for, else every catalog language.
func (s *Snapshot) FormLanguages(id string) []locales.Language {
	all := s.Catalog.Languages()
	codes, ok := s.Languages[id]
	if !ok {
		out := make([]locales.Language, 0, len(all))
		for _, l := range all {
			if s.written(id, l.Code) {
				out = append(out, l)
			}
		}
		return out
	}
	out := make([]locales.Language, 0, len(codes))
	for _, l := range all {
		if slices.Contains(codes, l.Code) {
			out = append(out, l)
		}
	}
	return out
}

// Speaks reports whether the form id speaks the language code.
func (s *Snapshot) Speaks(id, code string) bool {
	if codes, ok := s.Languages[id]; ok {
		return slices.Contains(codes, code)
	}
	if s.Catalog == nil {
		return true // a core without a catalog speaks whatever it is told
	}
	if _, ok := s.Catalog.Language(code); !ok {
		return false
	}
	return s.written(id, code)
}

// written reports whether the catalog has every text of a staff form in
// code. Staff forms (the operators') ship in Italian and English only
// (lint asks no more of them): offered in the 23 respondents' languages,
// one picked in Română or العربية went on in English without a word.
// Respondents' forms are in every catalog language (lint), so they are not
// looked through.
func (s *Snapshot) written(id, code string) bool {
	if s.Forms == nil {
		return true
	}
	f := s.Forms.Latest(id)
	if f == nil || f.Audience != dialog.AudienceStaff {
		return true
	}
	for _, m := range f.MessageIDs() {
		if !s.Catalog.Has(code, m) {
			return false
		}
	}
	return true
}

// Source reads the current snapshot; consumers take it once per input.
type Source interface {
	Current() *Snapshot
}

// Current makes a fixed Snapshot a Source.
func (s *Snapshot) Current() *Snapshot { return s }

// Builder builds a fresh snapshot (cmd: shipped forms + Postgres).
type Builder func(ctx context.Context) (*Snapshot, error)

// Live is the swappable snapshot of a running replica.
type Live struct {
	cur   atomic.Pointer[Snapshot]
	build Builder
	log   *slog.Logger
	mu    sync.Mutex // one reload at a time
	subs  []func(*Snapshot)
}

// New builds the first snapshot (an error stops the start: a replica
// without its forms cannot serve).
func New(ctx context.Context, build Builder, log *slog.Logger) (*Live, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := build(ctx)
	if err != nil {
		return nil, err
	}
	if err := valid(nil, s); err != nil {
		return nil, err
	}
	l := &Live{build: build, log: log}
	l.cur.Store(s)
	return l, nil
}

// Current returns the snapshot in force.
func (l *Live) Current() *Snapshot { return l.cur.Load() }

// OnSwap registers f to be called with each new snapshot after it is in
// force (for example to refresh the BI labels); f runs under the reload
// lock, so it must not call Reload.
func (l *Live) OnSwap(f func(*Snapshot)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.subs = append(l.subs, f)
}

// ErrInvalid marks a rebuilt snapshot refused: the old one stays.
var ErrInvalid = errors.New("questionnaires not reloaded")

// Reload rebuilds the snapshot and swaps it in if it is valid. On any
// error the snapshot in force stays (a bad publication never breaks a
// running replica) and the error says why. swapped is false when the
// rebuilt snapshot has the same stamp as the one in force.
func (l *Live) Reload(ctx context.Context) (swapped bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	s, err := l.build(ctx)
	if err != nil {
		// Mostly a store that is down for a moment (the builder leaves
		// out what it cannot load): a warning, the next notification or
		// check tries again.
		l.log.Warn("questionnaires not reloaded; the previous ones stay", "err", err)
		return false, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := valid(old, s); err != nil {
		l.log.Error("questionnaires not reloaded; the previous ones stay", "err", err)
		return false, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if old != nil && s.Stamp != "" && s.Stamp == old.Stamp {
		return false, nil
	}
	l.cur.Store(s)
	l.log.Info("questionnaires reloaded", "forms", len(s.Forms.IDs()), "versions", len(s.Forms.Forms()))
	for _, f := range l.subs {
		f(s)
	}
	return true, nil
}

// valid checks a new snapshot against the one in force: it must have a
// library and a catalog, and keep every form version of the old one (an
// interview keeps the version it started with).
func valid(old, s *Snapshot) error {
	if s == nil || s.Forms == nil || s.Catalog == nil {
		return errors.New("snapshot without library or catalog")
	}
	if len(s.Forms.Respondents()) == 0 {
		return errors.New("no respondents' questionnaire")
	}
	if old == nil {
		return nil
	}
	for _, f := range old.Forms.Forms() {
		if s.Forms.Get(f.ID, f.Version) == nil {
			return fmt.Errorf("questionnaire %s version %d would disappear", f.ID, f.Version)
		}
	}
	return nil
}

// Watch reloads when changed receives (a LISTEN/NOTIFY of a publication
// or retirement) and, every interval, when stamp differs from the
// snapshot's Stamp — the fallback for a lost notification or a
// reconnection. It returns when ctx ends.
func (l *Live) Watch(ctx context.Context, changed <-chan struct{}, interval time.Duration, stamp func(context.Context) (string, error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			_, _ = l.Reload(ctx)
		case <-tick.C:
			st, err := stamp(ctx)
			if err != nil {
				l.log.Warn("questionnaires check failed", "err", err)
				continue
			}
			if st != l.Current().Stamp {
				_, _ = l.Reload(ctx)
			}
		}
	}
}
