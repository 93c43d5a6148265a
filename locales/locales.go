// Package locales owns every text needsbot shows: the go-i18n message files,
// one per language, embedded in the binary; the list of supported languages
// with their native names; and matching a Telegram language_code to one of
// them.
package locales

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

//go:embed *.toml
var embedded embed.FS

// Embedded returns the message files shipped in the binary.
func Embedded() fs.FS { return embedded }

// Source is the language every other is translated from.
const Source = "en"

// Supported returns the respondent languages in the order the language
// picker offers them when nothing better is known (QUESTIONNAIRES.md), as
// a fresh slice.
// The last seven (issue 15) serve resident communities (Sinhala, Tamil,
// Wolof) and the main asylum-seeker groups (Persian/Dari, Pashto, Tigrinya,
// Somali).
func Supported() []string {
	return []string{"it", "en", "fr", "es", "pt", "ar", "ro", "sq", "uk", "ru", "zh-Hans", "bn", "ur", "pa", "hi", "tl",
		"fa", "ps", "ti", "so", "si", "ta", "wo"}
}

// rtl are the right-to-left languages among the supported ones: Arabic
// script (ar, ur, fa, ps). Every right-to-left decision reads Language.RTL.
var rtl = map[string]bool{"ar": true, "ur": true, "fa": true, "ps": true}

// selfNames are language names, in the language itself, that the picker
// shows whatever golang.org/x/text/language/display knows (its tables lag
// CLDR for some languages and drop others; a name must never fall back to
// a bare code). Source: CLDR 46 common/main/<code>.xml, the language's own
// localeDisplayNames entry for itself.
var selfNames = map[string]string{
	"fa": "فارسی",    // fa.xml
	"ps": "پښتو",     // ps.xml
	"ti": "ትግርኛ",     // ti.xml
	"so": "Soomaali", // so.xml
	"si": "සිංහල",    // si.xml
	"ta": "தமிழ்",    // ta.xml
	"wo": "Wolof",    // wo.xml
}

// Language is one language a catalog has messages for.
type Language struct {
	Code string // BCP 47 code as used in file names, e.g. "zh-Hans"
	Tag  language.Tag
	Name string // the language's own name in its own script
	RTL  bool
}

// Catalog renders message ids in the shipped languages. It is immutable and
// safe for concurrent use.
//
// Every process keeps one for its lifetime, so it is kept small (issue 19,
// peak RSS): most messages are plain texts, without placeholders or plural
// forms, and are kept as their text alone, rendered as they are; only the
// others go into the go-i18n bundle, whose per-message templates cost some
// ten times the text. Ids are numbered once for all the languages; a
// language keeps its texts end to end in one string and its messages in a
// slice by id number (session 12: 3.6 → 1.6 MB retained).
type Catalog struct {
	bundle *i18n.Bundle // the messages with placeholders or plural forms
	loc    map[string]*i18n.Localizer
	// ids numbers the message ids of every language (one copy of each
	// id); idList is the other way round; idFlags says where each came
	// from (fromForms, fromEmbedded).
	ids     map[string]int32
	idList  []string
	idFlags []uint8
	msgs    map[string]*messages // language → its messages
	// sources are the message files' names as problems show them
	// (message.file indexes them).
	sources []string
	// raw holds, for the few right-to-left messages that got a
	// right-to-left mark (leadRTL), their text as written (language → id
	// → text), for Raw.
	raw map[string]map[string]string
	// formsDir is the forms directory loaded beside the embedded files
	// ("" for none).
	formsDir string
	langs    []Language
	byCode   map[string]Language
	matcher  language.Matcher
	// plain caches Text's renderings of templated messages called
	// without data (language → id → string): a catalog does not change
	// once built, and rendering through go-i18n costs a template
	// execution.
	plain map[string]*sync.Map
}

// Where a message id came from (Catalog.idFlags).
const (
	fromForms    = 1 << iota // a forms directory's or published form's message file
	fromEmbedded             // an embedded message file
)

// messages are the messages of one language.
type messages struct {
	texts string    // every message's "other" form, end to end
	byID  []message // by id number; shorter than Catalog.idList when the last ids are not the language's
	// full are the messages kept as parsed, by id number: those with
	// more than a text (plural forms or delimiters).
	full map[int32]*i18n.Message
}

// message is one message of one language.
type message struct {
	off, n uint32 // its "other" form, as written: messages.texts[off:off+n]
	file   int32  // 1 + its index in Catalog.sources; 0: no such message
	// tmpl: rendered through go-i18n (placeholders, plural forms, custom
	// delimiters, or empty: go-i18n then falls back to the source).
	tmpl bool
	full bool // in messages.full
	// described: the message has a description for translators (the
	// source language's; Lint checks that translations have none). The
	// text is not kept: nothing reads it once the files are parsed.
	described bool
}

// lookup returns the message with id number i, and whether l has it.
func (l *messages) lookup(i int32) (message, bool) {
	if l == nil || int(i) >= len(l.byID) {
		return message{}, false
	}
	m := l.byID[i]
	return m, m.file != 0
}

// text returns m's "other" form.
func (l *messages) text(m message) string { return l.texts[m.off : m.off+m.n] }

// parsed returns message m with id (number i) as go-i18n parsed it
// (rebuilt for a plain one), without its description and hash.
func (l *messages) parsed(m message, i int32, id string) *i18n.Message {
	if m.full {
		return l.full[i]
	}
	return &i18n.Message{ID: id, Other: l.text(m)}
}

// lookup returns message id of lang, its language's messages and whether
// lang has it.
func (c *Catalog) lookup(lang, id string) (message, *messages, bool) {
	i, ok := c.ids[id]
	if !ok {
		return message{}, nil, false
	}
	l := c.msgs[lang]
	m, ok := l.lookup(i)
	return m, l, ok
}

// langIDs returns the ids of lang's messages, sorted.
func (c *Catalog) langIDs(lang string) []string {
	l := c.msgs[lang]
	var ids []string
	for i := range c.idList {
		if _, ok := l.lookup(int32(i)); ok {
			ids = append(ids, c.idList[i])
		}
	}
	sort.Strings(ids)
	return ids
}

// newMessage keeps m in a catalog's form: its text appended to arena, and
// whether it is kept as parsed.
func newMessage(m *i18n.Message, file int, arena []byte) (message, []byte, bool) {
	plural := m.Zero != "" || m.One != "" || m.Two != "" || m.Few != "" || m.Many != ""
	delims := m.LeftDelim != "" || m.RightDelim != ""
	k := message{off: uint32(len(arena)), n: uint32(len(m.Other)), file: int32(file) + 1,
		tmpl: plural || delims || m.Other == "" || strings.Contains(m.Other, "{{"),
		full: plural || delims, described: m.Description != ""}
	return k, append(arena, m.Other...), k.full
}

// cloneMessage copies the strings of m that rendering reads, which are
// parts of the whole message file's text as the TOML decoder returns
// them: a message kept would keep the file alive. The description and the
// hash are left out.
func cloneMessage(m *i18n.Message, id string) *i18n.Message {
	c := strings.Clone
	return &i18n.Message{ID: id, LeftDelim: c(m.LeftDelim), RightDelim: c(m.RightDelim), Zero: c(m.Zero), One: c(m.One),
		Two: c(m.Two), Few: c(m.Few), Many: c(m.Many), Other: c(m.Other)}
}

// New returns a catalog of the embedded message files.
func New() (*Catalog, error) { return NewFS(embedded) }

// NewWithForms returns a catalog of the embedded message files and of the
// <form>.<lang>.toml files of a questionnaire directory (NEEDSBOT_FORMS_DIR,
// as `needsbot form import` writes them); "" means the embedded ones only.
func NewWithForms(dir string) (*Catalog, error) {
	if dir == "" {
		return New()
	}
	return newFS(embedded, dir)
}

// NewWithFiles is NewWithForms plus message files given as data (name
// <form>.<lang>.toml → go-i18n TOML): those of forms published at run
// time, kept in Postgres. Their messages are the forms' own, like a
// directory's.
func NewWithFiles(dir string, files map[string][]byte) (*Catalog, error) {
	return newFSFiles(embedded, dir, files)
}

// NewFS loads every <name>.<lang>.toml file at the root of fsys (go-i18n's
// convention: active.en.toml, and any further file of the same language).
func NewFS(fsys fs.FS) (*Catalog, error) { return newFS(fsys, "") }

// newFS loads fsys and, when formsDir is not empty, the message files of
// that directory too (their messages are marked as the forms').
func newFS(fsys fs.FS, formsDir string) (*Catalog, error) { return newFSFiles(fsys, formsDir, nil) }

// newFSFiles is newFS with further message files given as data.
func newFSFiles(fsys fs.FS, formsDir string, extra map[string][]byte) (*Catalog, error) {
	b := i18n.NewBundle(language.MustParse(Source))
	unmarshal := map[string]i18n.UnmarshalFunc{"toml": toml.Unmarshal}
	c := &Catalog{bundle: b, loc: map[string]*i18n.Localizer{}, ids: map[string]int32{}, msgs: map[string]*messages{},
		byCode: map[string]Language{}, raw: map[string]map[string]string{}}
	names, err := fs.Glob(fsys, "*.toml")
	if err != nil {
		return nil, fmt.Errorf("list message files: %w", err)
	}
	type source struct {
		fsys  fs.FS
		name  string
		shown string // the file's name in problems
		data  []byte // the file itself, when given as data (fsys nil)
	}
	var files []source
	for _, name := range names {
		files = append(files, source{fsys: fsys, name: name, shown: "locales/" + path.Base(name)})
	}
	if formsDir != "" {
		dirFS := os.DirFS(formsDir)
		more, err := fs.Glob(dirFS, "*.toml")
		if err != nil {
			return nil, fmt.Errorf("list message files of %s: %w", formsDir, err)
		}
		for _, name := range more {
			files = append(files, source{fsys: dirFS, name: name, shown: filepath.Join(formsDir, name)})
		}
	}
	extraNames := make([]string, 0, len(extra))
	for name := range extra {
		extraNames = append(extraNames, name)
	}
	sort.Strings(extraNames)
	for _, name := range extraNames {
		files = append(files, source{name: name, shown: "published:" + name, data: extra[name]})
	}
	c.formsDir = formsDir
	// Each language's texts are gathered here, then kept as one string.
	arenas := map[string][]byte{}
	for _, src := range files {
		fsys, name, data := src.fsys, src.name, src.data
		if fsys != nil {
			var err error
			if data, err = fs.ReadFile(fsys, name); err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
		}
		mf, err := i18n.ParseMessageFileBytes(data, name, unmarshal)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		parts := strings.Split(strings.TrimSuffix(path.Base(name), ".toml"), ".")
		code := parts[len(parts)-1]
		msgs := c.msgs[code]
		if msgs == nil {
			msgs = &messages{full: map[int32]*i18n.Message{}}
			c.msgs[code] = msgs
			c.loc[code] = i18n.NewLocalizer(b, code, Source)
			c.addLanguage(code, mf.Tag)
		}
		file := len(c.sources)
		c.sources = append(c.sources, src.shown)
		flag := uint8(fromEmbedded)
		if src.shown != "locales/"+path.Base(name) {
			flag = fromForms
		}
		var tmpl []*i18n.Message
		for _, m := range mf.Messages {
			i, ok := c.ids[m.ID]
			if !ok {
				i = int32(len(c.idList))
				id := strings.Clone(m.ID)
				c.ids[id] = i
				c.idList = append(c.idList, id)
				c.idFlags = append(c.idFlags, 0)
			}
			c.idFlags[i] |= flag
			if rtl[code] {
				// A line that would lead left to right gets a
				// right-to-left mark (rtl.go); Raw keeps the text
				// (copied: the decoded file's text is not kept).
				written := m.Other
				if leadRTLMessage(m) {
					if c.raw[code] == nil {
						c.raw[code] = map[string]string{}
					}
					c.raw[code][c.idList[i]] = strings.Clone(written)
				} else {
					delete(c.raw[code], c.idList[i])
				}
			}
			k, arena, kept := newMessage(m, file, arenas[code])
			arenas[code] = arena
			for int(i) >= len(msgs.byID) {
				msgs.byID = append(msgs.byID, message{})
			}
			msgs.byID[i] = k
			delete(msgs.full, i)
			if kept || k.tmpl {
				m = cloneMessage(m, c.idList[i])
				if kept {
					msgs.full[i] = m
				}
				if k.tmpl {
					tmpl = append(tmpl, m)
				}
			}
		}
		// Every file's language joins the bundle, in the files' order,
		// even with nothing to template: go-i18n picks a message's
		// language among the bundle's by matching.
		if err := b.AddMessages(mf.Tag, tmpl...); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
	}
	for code, msgs := range c.msgs {
		msgs.texts = string(arenas[code])
		msgs.byID = slices.Clone(msgs.byID) // no room left to grow
	}
	if _, ok := c.loc[Source]; !ok {
		return nil, fmt.Errorf("no active.%s.toml: the source language is required", Source)
	}
	order := map[string]int{}
	for i, code := range Supported() {
		order[code] = i + 1
	}
	sort.SliceStable(c.langs, func(i, j int) bool {
		oi, oj := order[c.langs[i].Code], order[c.langs[j].Code]
		if oi == 0 || oj == 0 {
			return oi != 0 || (oj == 0 && c.langs[i].Code < c.langs[j].Code)
		}
		return oi < oj
	})
	tags := make([]language.Tag, len(c.langs))
	for i, l := range c.langs {
		tags[i] = l.Tag
	}
	c.matcher = language.NewMatcher(tags)
	c.plain = make(map[string]*sync.Map, len(c.loc))
	for code := range c.loc {
		c.plain[code] = new(sync.Map)
	}
	return c, nil
}

func (c *Catalog) addLanguage(code string, tag language.Tag) {
	l := Language{Code: code, Tag: tag, RTL: rtl[code]}
	l.Name = selfNames[code]
	if l.Name == "" {
		l.Name = display.Self.Name(tag)
	}
	if l.Name == "" {
		l.Name = code
	}
	// Capitalise the first letter where the script has case (français →
	// Français): a button label starts with a capital.
	l.Name = capitalise(l.Name)
	c.langs = append(c.langs, l)
	c.byCode[code] = l
}

func capitalise(s string) string {
	for i, r := range s {
		return strings.ToUpper(string(r)) + s[i+len(string(r)):]
	}
	return s
}

// Languages lists the catalog's languages, in picker order.
func (c *Catalog) Languages() []Language { return c.langs }

// Language returns the language with code, and whether the catalog has it.
func (c *Catalog) Language(code string) (Language, bool) {
	l, ok := c.byCode[code]
	return l, ok
}

// Match maps a Telegram language_code hint (it, it-IT, pt-br, zh-hans, or
// "") to a catalog language, and reports whether the match is confident.
func (c *Catalog) Match(hint string) (string, bool) {
	if hint == "" {
		return "", false
	}
	t, err := language.Parse(hint)
	if err != nil {
		return "", false
	}
	_, i, conf := c.matcher.Match(t)
	if conf < language.High {
		return "", false
	}
	return c.langs[i].Code, true
}

// plural reports whether message id has plural forms (in lang, or in the
// source it falls back to).
func (c *Catalog) plural(lang, id string) bool {
	i := c.ids[id]
	m, l, ok := c.lookup(lang, id)
	if !ok {
		m, l, _ = c.lookup(Source, id)
	}
	if !m.full {
		return false
	}
	f := l.full[i]
	return f.One != "" || f.Few != "" || f.Many != "" || f.Zero != "" || f.Two != ""
}

// Has reports whether lang has a message with id.
func (c *Catalog) Has(lang, id string) bool {
	_, _, ok := c.lookup(lang, id)
	return ok
}

// Raw returns the unrendered text of message id in lang (its "other"
// form), as written in the message file.
func (c *Catalog) Raw(lang, id string) (string, bool) {
	m, l, ok := c.lookup(lang, id)
	if !ok {
		return "", false
	}
	if s, ok := c.raw[lang][id]; ok {
		return s, true
	}
	return l.text(m), true
}

// FromForms reports whether message id comes from a forms directory's
// message files rather than from the embedded ones.
func (c *Catalog) FromForms(id string) bool {
	i, ok := c.ids[id]
	return ok && c.idFlags[i]&fromForms != 0
}

// IDs returns the message ids of lang, as a fresh set.
func (c *Catalog) IDs(lang string) map[string]bool {
	l := c.msgs[lang]
	ids := map[string]bool{}
	for i, id := range c.idList {
		if _, ok := l.lookup(int32(i)); ok {
			ids[id] = true
		}
	}
	return ids
}

// Text renders message id in lang with data; data["Count"], when present,
// selects the plural form. A message missing in lang falls back to the
// source language; an unknown id renders as the id itself, so a missing
// text is visible instead of silent.
func (c *Catalog) Text(lang, id string, data map[string]any) string {
	i, ok := c.ids[id]
	if !ok {
		return id
	}
	l := c.msgs[lang]
	m, ok := l.lookup(i)
	if !ok {
		l = c.msgs[Source]
		if m, ok = l.lookup(i); !ok {
			return id
		}
	}
	if !m.tmpl {
		// What go-i18n gives for a text without placeholders or plural
		// forms, whatever the data.
		return l.text(m)
	}
	if len(data) == 0 {
		if cache := c.plain[lang]; cache != nil {
			if s, ok := cache.Load(id); ok {
				return s.(string)
			}
			s := c.text(lang, id, nil)
			cache.Store(id, s) // a known id: the cache stays as small as the catalog
			return s
		}
	}
	return c.text(lang, id, data)
}

func (c *Catalog) text(lang, id string, data map[string]any) string {
	loc, ok := c.loc[lang]
	if !ok {
		loc = c.loc[Source]
	}
	cfg := &i18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if n, ok := data["Count"]; ok && c.plural(lang, id) {
		// Only plural messages take the count: go-i18n would otherwise
		// look for the count's form (few, many…) in a message that has
		// only "other".
		cfg.PluralCount = n
	}
	s, err := loc.Localize(cfg)
	var missing *i18n.MessageNotFoundErr
	if s == "" || (err != nil && !errors.As(err, &missing)) {
		return id
	}
	// A message missing in lang comes back in the source language with a
	// MessageNotFoundErr: staff texts (en, it) for a staff member whose
	// phone speaks another language.
	return s
}
