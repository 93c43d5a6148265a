package locales

import (
	"errors"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// reference renders messages the way the catalog did when every message
// went into one go-i18n bundle: the behaviour Text must keep.
type reference struct {
	loc  map[string]*i18n.Localizer
	msgs map[string]map[string]*i18n.Message
}

func newReference(t *testing.T) *reference {
	t.Helper()
	b := i18n.NewBundle(language.MustParse(Source))
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	r := &reference{loc: map[string]*i18n.Localizer{}, msgs: map[string]map[string]*i18n.Message{}}
	names, err := fs.Glob(embedded, "*.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		data, err := fs.ReadFile(embedded, name)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := b.ParseMessageFileBytes(data, name)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(strings.TrimSuffix(path.Base(name), ".toml"), ".")
		code := parts[len(parts)-1]
		if r.msgs[code] == nil {
			r.msgs[code] = map[string]*i18n.Message{}
			r.loc[code] = i18n.NewLocalizer(b, code, Source)
		}
		for _, m := range mf.Messages {
			r.msgs[code][m.ID] = m
		}
	}
	return r
}

func (r *reference) text(lang, id string, data map[string]any) string {
	loc, ok := r.loc[lang]
	if !ok {
		loc = r.loc[Source]
	}
	cfg := &i18n.LocalizeConfig{MessageID: id, TemplateData: data}
	m := r.msgs[lang][id]
	if m == nil {
		m = r.msgs[Source][id]
	}
	if n, ok := data["Count"]; ok && m != nil && (m.One != "" || m.Few != "" || m.Many != "" || m.Zero != "" || m.Two != "") {
		cfg.PluralCount = n
	}
	s, err := loc.Localize(cfg)
	var missing *i18n.MessageNotFoundErr
	if s == "" || (err != nil && !errors.As(err, &missing)) {
		return id
	}
	if rtl[lang] && r.msgs[lang][id] != nil {
		// The catalog's right-to-left marks (rtl.go): on the lines that
		// would lead left to right.
		s = leadRTL(s)
	}
	return s
}

// Text renders every message of every language (and the source's
// messages a language lacks, and a language the catalog does not have)
// as one go-i18n bundle of all the messages does: without data (twice:
// the cache's miss, then its hit), with data, and with counts that pick
// each plural form. Only templated messages are cached.
func TestTextSameAsGoI18n(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ref := newReference(t)
	data := map[string]any{"N": 3, "Of": 7, "Name": "Ada", "Date": "1 May", "Count": 1, "Form": "x", "Link": "https://example.org"}
	langs := []string{"de"}
	for _, l := range c.Languages() {
		langs = append(langs, l.Code)
	}
	n, cached := 0, 0
	for _, lang := range langs {
		ids := map[string]bool{}
		for _, code := range []string{Source, lang} {
			for id := range ref.msgs[code] {
				ids[id] = true
			}
		}
		for id := range ids {
			want := ref.text(lang, id, nil)
			for i := 0; i < 2; i++ { // miss, then hit
				if got := c.Text(lang, id, nil); got != want {
					t.Fatalf("Text(%s, %s, nil) call %d = %q, want %q", lang, id, i, got, want)
				}
			}
			for _, count := range []any{0, 1, 2, 3, 5, 11, 21, 100, 101, "1.5"} {
				data["Count"] = count
				if got, want := c.Text(lang, id, data), ref.text(lang, id, data); got != want {
					t.Fatalf("Text(%s, %s, %v) = %q, want %q", lang, id, data, got, want)
				}
			}
			n++
		}
		if cache := c.plain[lang]; cache != nil {
			cache.Range(func(k, _ any) bool {
				m, _, ok := c.lookup(lang, k.(string))
				if !ok {
					m, _, _ = c.lookup(Source, k.(string))
				}
				if !m.tmpl {
					t.Fatalf("plain message %s %s cached", lang, k)
				}
				cached++
				return true
			})
		}
	}
	if n == 0 || cached == 0 {
		t.Fatalf("%d messages checked, %d cached", n, cached)
	}
	for _, lang := range []string{Source, "it", "de"} {
		if got := c.Text(lang, "no.such.id", nil); got != "no.such.id" {
			t.Fatalf("unknown id rendered %q", got)
		}
		if cache := c.plain[lang]; cache != nil {
			if _, ok := cache.Load("no.such.id"); ok {
				t.Fatal("unknown id cached")
			}
		}
	}
}
