package formlib

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
)

// fixtures: the shipped library, and one without its newest versions (as
// before a publication).
func fixtures(t *testing.T) (full, older *dialog.Library, cat *locales.Catalog) {
	t.Helper()
	full, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	var keep []*dialog.Form
	for _, f := range full.Forms() {
		if f != full.Latest(f.ID) || f.Version == 1 {
			keep = append(keep, f)
		}
	}
	if len(keep) == len(full.Forms()) {
		t.Fatal("the shipped forms have no second version to leave out")
	}
	if older, err = dialog.NewLibrary(keep...); err != nil {
		t.Fatal(err)
	}
	if cat, err = locales.New(); err != nil {
		t.Fatal(err)
	}
	return full, older, cat
}

// builder returns whatever next holds.
type builder struct {
	mu   sync.Mutex
	next *Snapshot
	err  error
}

func (b *builder) set(s *Snapshot, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next, b.err = s, err
}

func (b *builder) build(context.Context) (*Snapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.next, b.err
}

func TestReloadSwapsValidSnapshots(t *testing.T) {
	full, older, cat := fixtures(t)
	ctx := context.Background()
	b := &builder{}
	first := &Snapshot{Forms: older, Catalog: cat, Stamp: "1"}
	b.set(first, nil)
	l, err := New(ctx, b.build, nil)
	if err != nil {
		t.Fatal(err)
	}
	var swaps []*Snapshot
	l.OnSwap(func(s *Snapshot) { swaps = append(swaps, s) })
	if l.Current() != first {
		t.Fatal("first snapshot not in force")
	}

	// Same stamp: nothing to do.
	b.set(&Snapshot{Forms: older, Catalog: cat, Stamp: "1"}, nil)
	if swapped, err := l.Reload(ctx); err != nil || swapped || l.Current() != first {
		t.Fatalf("same stamp: swapped %v err %v", swapped, err)
	}

	// A publication: the new versions are in force, the old ones stay.
	second := &Snapshot{Forms: full, Catalog: cat, Stamp: "2", Retired: map[string]bool{"x": true}}
	b.set(second, nil)
	if swapped, err := l.Reload(ctx); err != nil || !swapped {
		t.Fatalf("publication: swapped %v err %v", swapped, err)
	}
	if l.Current() != second || len(swaps) != 1 || swaps[0] != second {
		t.Fatalf("publication not in force (%d swaps)", len(swaps))
	}

	// A build that fails (a bad publication) keeps the snapshot in force.
	b.set(nil, errors.New("published:vicinato v3: unknown type"))
	if swapped, err := l.Reload(ctx); !errors.Is(err, ErrInvalid) || swapped {
		t.Fatalf("bad build: swapped %v err %v", swapped, err)
	}
	if l.Current() != second {
		t.Fatal("bad build replaced the snapshot in force")
	}

	// A snapshot without a version of the one in force would strand its
	// running interviews: refused.
	b.set(&Snapshot{Forms: older, Catalog: cat, Stamp: "3"}, nil)
	if swapped, err := l.Reload(ctx); !errors.Is(err, ErrInvalid) || swapped || l.Current() != second {
		t.Fatalf("lost version: swapped %v err %v", swapped, err)
	}
	// And one without a catalog.
	b.set(&Snapshot{Forms: full, Stamp: "4"}, nil)
	if _, err := l.Reload(ctx); !errors.Is(err, ErrInvalid) || l.Current() != second {
		t.Fatalf("no catalog: err %v", err)
	}
	if len(swaps) != 1 {
		t.Fatalf("%d swaps, want 1", len(swaps))
	}
}

func TestNewRefusesInvalid(t *testing.T) {
	_, _, cat := fixtures(t)
	b := &builder{}
	b.set(nil, errors.New("broken"))
	if _, err := New(context.Background(), b.build, nil); err == nil {
		t.Fatal("New with a failing build")
	}
	empty, _ := dialog.NewLibrary()
	b.set(&Snapshot{Forms: empty, Catalog: cat}, nil)
	if _, err := New(context.Background(), b.build, nil); err == nil {
		t.Fatal("New without a respondents' form")
	}
}

// Readers take a snapshot and see it whole while reloads swap others in
// (run with -race).
func TestReadersDuringSwaps(t *testing.T) {
	full, _, cat := fixtures(t)
	ctx := context.Background()
	var n atomic.Int64
	build := func(context.Context) (*Snapshot, error) {
		i := n.Add(1)
		st := strconv.FormatInt(i, 10)
		return &Snapshot{Forms: full, Catalog: cat, Stamp: st, Languages: map[string][]string{"f": {st}}}, nil
	}
	l, err := New(ctx, build, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	bad := atomic.Int64{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := l.Current()
				if s.Languages["f"][0] != s.Stamp || s.Forms.Latest("immigrati") == nil {
					bad.Add(1)
				}
			}
		}()
	}
	for range 200 {
		if _, err := l.Reload(ctx); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d torn reads", bad.Load())
	}
	if got := l.Current().Stamp; got != strconv.FormatInt(n.Load(), 10) {
		t.Fatalf("stamp %s after %d builds", got, n.Load())
	}
}

// Watch reloads on a notification and, without one, when the periodic
// check finds another stamp.
func TestWatch(t *testing.T) {
	full, older, cat := fixtures(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := &builder{}
	b.set(&Snapshot{Forms: older, Catalog: cat, Stamp: "1"}, nil)
	l, err := New(ctx, b.build, nil)
	if err != nil {
		t.Fatal(err)
	}
	swapped := make(chan *Snapshot, 4)
	l.OnSwap(func(s *Snapshot) { swapped <- s })
	changed := make(chan struct{}, 1)
	var stamp atomic.Value
	stamp.Store("1")
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Watch(ctx, changed, 1e6, func(context.Context) (string, error) { return stamp.Load().(string), nil })
	}()

	second := &Snapshot{Forms: full, Catalog: cat, Stamp: "2"}
	b.set(second, nil)
	changed <- struct{}{}
	if s := <-swapped; s != second {
		t.Fatal("notification did not reload")
	}
	// A lost notification: only the stamp says so.
	third := &Snapshot{Forms: full, Catalog: cat, Stamp: "3"}
	b.set(third, nil)
	stamp.Store("3")
	if s := <-swapped; s != third {
		t.Fatal("periodic check did not reload")
	}
	cancel()
	<-done
}

func TestSnapshotLanguagesAndInvites(t *testing.T) {
	full, _, cat := fixtures(t)
	s := Fixed(full, cat)
	s.Retired = map[string]bool{full.Respondents()[0]: true}
	s.Languages = map[string][]string{"vicinato": {"en", "it", "xx"}}
	var got []string
	for _, l := range s.FormLanguages("vicinato") {
		got = append(got, l.Code)
	}
	if len(got) != 2 || got[0] != "it" || got[1] != "en" {
		t.Fatalf("vicinato speaks %v, want [it en] in catalog order", got)
	}
	if len(s.FormLanguages("immigrati")) != len(cat.Languages()) {
		t.Fatal("a shipped form speaks every catalog language")
	}
	if s.Speaks("vicinato", "fr") || !s.Speaks("vicinato", "en") || !s.Speaks("immigrati", "fr") {
		t.Fatal("Speaks")
	}
	for _, id := range s.Invitable() {
		if s.Retired[id] {
			t.Fatalf("retired %s invitable", id)
		}
	}
	if len(s.Invitable()) != len(s.InviteOrder)-1 {
		t.Fatalf("invitable %v of %v", s.Invitable(), s.InviteOrder)
	}
}

// The operators' form is offered in the languages it is written in
// (Italian and English), the respondents' in all of the catalog's. Before,
// the operators' language menu listed the 23 respondents' languages, and
// one picked in Română or العربية went on in English without a word.
func TestStaffFormSpeaksItsWrittenLanguages(t *testing.T) {
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	s := Fixed(lib, cat)
	var codes []string
	for _, l := range s.FormLanguages("operatori") {
		codes = append(codes, l.Code)
	}
	if strings.Join(codes, " ") != "it en" {
		t.Errorf("operatori offered in %v, want it en", codes)
	}
	if s.Speaks("operatori", "ro") || s.Speaks("operatori", "ar") || !s.Speaks("operatori", "en") {
		t.Error("operatori: Speaks ro/ar, or not en")
	}
	if n := len(s.FormLanguages("immigrati")); n != len(cat.Languages()) {
		t.Errorf("immigrati offered in %d languages, want all %d", n, len(cat.Languages()))
	}
}
