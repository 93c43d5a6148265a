// Package typeset draws text in every script needsbot speaks onto images:
// the QR posters and the results charts. Text is shaped with
// github.com/go-text/typesetting (a Go port of HarfBuzz): Arabic letters
// join, Indic clusters form their conjuncts and vowel signs, marks sit on
// their bases; bidirectional text is split into runs by the Unicode
// Bidirectional Algorithm (the go-text fork of golang.org/x/text's
// unicode/bidi) and laid out right to left where it should be; lines break
// at UAX #14 opportunities (so Chinese wraps between characters).
//
// The fonts are subsets of the Noto fonts (fonts/, SIL Open Font License,
// fonts/OFL.txt), one per script, embedded in the binary; `go generate`
// rebuilds them (subset_gen.go). Latin, Cyrillic and the punctuation every
// script borrows come from Noto Sans (regular and bold); Arabic from Noto
// Naskh Arabic, Urdu from Noto Nastaliq Urdu (the style Urdu readers
// expect); Bengali, Devanagari, Gurmukhi, Sinhala, Tamil and Ethiopic from
// their Noto Sans; Chinese from Noto Sans CJK SC. Only Latin has a bold:
// other scripts draw bold text in their regular weight.
package typeset

import (
	"bytes"
	"embed"
	"fmt"
	"image"
	"image/draw"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/go-text/typesetting/di"
	"github.com/go-text/typesetting/font"
	ot "github.com/go-text/typesetting/font/opentype"
	"github.com/go-text/typesetting/language"
	"github.com/go-text/typesetting/shaping"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

//go:generate go run subset_gen.go

//go:embed fonts/*.ttf fonts/*.otf fonts/OFL.txt
var files embed.FS

// Licence is the fonts' licence (the SIL Open Font License 1.1 with their
// copyright notices), shipped in the binary with them as the licence
// asks; the fonts' own name tables carry the same notices.
func Licence() string {
	b, err := files.ReadFile("fonts/OFL.txt")
	if err != nil {
		return ""
	}
	return string(b)
}

// Font files, by role.
const (
	fLatin      = "latin-regular.ttf"
	fLatinBold  = "latin-bold.ttf"
	fArabic     = "arabic.ttf"
	fUrdu       = "urdu.ttf"
	fBengali    = "bengali.ttf"
	fDevanagari = "devanagari.ttf"
	fGurmukhi   = "gurmukhi.ttf"
	fSinhala    = "sinhala.ttf"
	fTamil      = "tamil.ttf"
	fEthiopic   = "ethiopic.ttf"
	fCJK        = "cjk-sc.otf"
)

// scriptFont is the font of each script that is not Latin's.
var scriptFont = map[language.Script]string{
	language.Arabic:     fArabic,
	language.Bengali:    fBengali,
	language.Devanagari: fDevanagari,
	language.Gurmukhi:   fGurmukhi,
	language.Sinhala:    fSinhala,
	language.Tamil:      fTamil,
	language.Ethiopic:   fEthiopic,
	language.Han:        fCJK,
	language.Hiragana:   fCJK,
	language.Katakana:   fCJK,
	language.Bopomofo:   fCJK,
}

// fallback is the order fonts are tried in for a character the run's own
// font lacks.
var fallback = []string{fLatin, fArabic, fDevanagari, fBengali, fGurmukhi, fSinhala, fTamil, fEthiopic, fCJK}

// rtlLangs are the languages whose paragraphs run right to left.
var rtlLangs = map[string]bool{"ar": true, "ur": true, "fa": true, "ps": true, "he": true, "yi": true, "ckb": true, "sd": true, "ug": true}

// Style is how a text is set.
type Style struct {
	Size float64 // the em size in pixels
	Bold bool    // Latin and Cyrillic only; other scripts stay regular
	// Lang is the text's language (BCP 47, e.g. "ur", "zh-Hans"): it sets
	// the paragraph direction (right to left for ar, ur, fa, ps), the
	// shaping language and the Arabic style (Nastaliq for ur). Empty: the
	// direction comes from the first strong character.
	Lang string
}

// Typesetter shapes and draws text. The parsed fonts and the shaper's
// caches are shared, so it serialises its work: it is safe for concurrent
// use, one text at a time.
type Typesetter struct {
	mu     sync.Mutex
	faces  map[string]*font.Face
	shaper shaping.HarfbuzzShaper
	seg    shaping.Segmenter
	wrap   shaping.LineWrapper
	ras    vector.Rasterizer
}

// New parses the embedded fonts.
func New() (*Typesetter, error) {
	t := &Typesetter{faces: map[string]*font.Face{}}
	for _, name := range []string{fLatin, fLatinBold, fArabic, fUrdu, fBengali, fDevanagari, fGurmukhi, fSinhala, fTamil, fEthiopic, fCJK} {
		data, err := files.ReadFile("fonts/" + name)
		if err != nil {
			return nil, fmt.Errorf("typeset: %w", err)
		}
		face, err := font.ParseTTF(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("typeset: %s: %w", name, err)
		}
		t.faces[name] = face
	}
	return t, nil
}

// shared is the process's typesetter (Shared).
var shared struct {
	once sync.Once
	warm atomic.Bool // Warm started
	t    *Typesetter
	err  error
}

// Warm starts parsing the process's typesetter's fonts in the background,
// once, and returns at once: for the first staff member seen, so that the
// first poster or chart finds them parsed. A bot that sees no staff never
// parses them (Shared).
func Warm() {
	if shared.warm.CompareAndSwap(false, true) {
		go func() { _, _ = Shared() }()
	}
}

// Shared returns the process's typesetter, parsing the fonts on the
// first call. The parsed fonts take some 8 MiB of heap (and parsing them
// allocates more), so the posters and the charts share one typesetter and
// a bot that never draws one never parses them.
func Shared() (*Typesetter, error) {
	shared.once.Do(func() { shared.t, shared.err = New() })
	return shared.t, shared.err
}

// Line is one line of shaped text, ready to draw.
type Line struct {
	runs  []shaping.Output // in visual order, left to right
	width fixed.Int26_6
	asc   fixed.Int26_6
	desc  fixed.Int26_6 // positive: below the baseline
	RTL   bool          // the paragraph runs right to left
}

// Width is the line's advance in pixels, rounded up.
func (l *Line) Width() int { return l.width.Ceil() }

// Ascent is how far the line's fonts reach above the baseline, in pixels.
func (l *Line) Ascent() int { return l.asc.Ceil() }

// Descent is how far the line's fonts reach below the baseline, in pixels.
func (l *Line) Descent() int { return l.desc.Ceil() }

// Height is Ascent plus Descent.
func (l *Line) Height() int { return (l.asc + l.desc).Ceil() }

// Empty reports whether the line draws nothing.
func (l *Line) Empty() bool { return len(l.runs) == 0 }

// fontmap picks each run's face: the font of its script, else the first
// font that has the character.
type fontmap struct {
	t      *Typesetter
	bold   bool
	urdu   bool
	script language.Script
}

func (m *fontmap) SetScript(s language.Script) { m.script = s }

func (m *fontmap) ResolveFace(r rune) *font.Face {
	if name, ok := scriptFont[m.script]; ok {
		if name == fArabic && m.urdu {
			name = fUrdu
		}
		if f := m.t.faces[name]; has(f, r) {
			return f
		}
	}
	if m.bold {
		if f := m.t.faces[fLatinBold]; has(f, r) {
			return f
		}
	}
	for _, name := range fallback {
		if name == fArabic && m.urdu {
			name = fUrdu
		}
		if f := m.t.faces[name]; has(f, r) {
			return f
		}
	}
	if m.bold {
		return m.t.faces[fLatinBold]
	}
	return m.t.faces[fLatin]
}

func has(f *font.Face, r rune) bool {
	_, ok := f.NominalGlyph(r)
	return ok
}

// direction is the paragraph direction for st and text.
func direction(st Style, text string) di.Direction {
	if st.Lang != "" {
		if rtlLangs[baseLang(st.Lang)] {
			return di.DirectionRTL
		}
		return di.DirectionLTR
	}
	for _, r := range text {
		switch {
		case unicode.In(r, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko):
			return di.DirectionRTL
		case unicode.IsLetter(r):
			return di.DirectionLTR
		}
	}
	return di.DirectionLTR
}

func baseLang(tag string) string {
	for i := 0; i < len(tag); i++ {
		if tag[i] == '-' || tag[i] == '_' {
			return tag[:i]
		}
	}
	return tag
}

// shape segments and shapes text; t.mu is held.
func (t *Typesetter) shape(st Style, runes []rune) ([]shaping.Output, di.Direction) {
	dir := direction(st, string(runes))
	in := shaping.Input{
		Text: runes, RunStart: 0, RunEnd: len(runes),
		Direction: dir,
		Size:      fixed.Int26_6(math.Round(st.Size * 64)),
		Language:  language.NewLanguage(st.Lang),
	}
	fm := &fontmap{t: t, bold: st.Bold, urdu: baseLang(st.Lang) == "ur"}
	inputs := t.seg.Split(in, fm)
	outs := make([]shaping.Output, len(inputs))
	for i, input := range inputs {
		outs[i] = t.shaper.Shape(input)
	}
	return outs, dir
}

// lines wraps shaped text to width (0: no limit), truncating after
// maxLines (0: no limit) with an ellipsis; t.mu is held.
func (t *Typesetter) lines(st Style, text string, width, maxLines int) []*Line {
	runes := []rune(text)
	if len(runes) == 0 {
		return nil
	}
	outs, dir := t.shape(st, runes)
	cfg := shaping.WrapConfig{Direction: dir, BreakPolicy: shaping.WhenNecessary, TruncateAfterLines: maxLines}
	if maxLines > 0 {
		ell, _ := t.shape(Style{Size: st.Size, Bold: st.Bold, Lang: st.Lang}, []rune("…"))
		if len(ell) > 0 {
			cfg.Truncator = ell[0]
		}
	}
	if width <= 0 {
		width = math.MaxInt32 >> 7
	}
	wrapped, _ := t.wrap.WrapParagraph(cfg, width, runes, shaping.NewSliceIterator(outs))
	res := make([]*Line, 0, len(wrapped))
	for _, wl := range wrapped {
		l := &Line{RTL: dir == di.DirectionRTL}
		runs := slices.Clone([]shaping.Output(wl))
		slices.SortStableFunc(runs, func(a, b shaping.Output) int { return int(a.VisualIndex) - int(b.VisualIndex) })
		for i := range runs {
			runs[i].Glyphs = slices.Clone(runs[i].Glyphs)
			l.width += runs[i].Advance
			l.asc = max(l.asc, runs[i].LineBounds.Ascent)
			l.desc = max(l.desc, -runs[i].LineBounds.Descent)
		}
		l.runs = runs
		res = append(res, l)
	}
	return res
}

// Shape sets text on one line, however long.
func (t *Typesetter) Shape(st Style, text string) *Line {
	t.mu.Lock()
	defer t.mu.Unlock()
	ls := t.lines(st, text, 0, 0)
	if len(ls) == 0 {
		return &Line{}
	}
	return ls[0]
}

// Wrap sets text in lines no wider than width, breaking where the
// language allows (between words, or between Chinese characters) and
// inside a word only when a word alone is wider than width.
func (t *Typesetter) Wrap(st Style, text string, width int) []*Line {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lines(st, text, width, 0)
}

// Fit sets text on one line no wider than width, cut at a character
// boundary and ended with "…" when it is longer.
func (t *Typesetter) Fit(st Style, text string, width int) *Line {
	t.mu.Lock()
	defer t.mu.Unlock()
	ls := t.lines(st, text, width, 1)
	if len(ls) == 0 {
		return &Line{}
	}
	return ls[0]
}

// Width is the advance of text set on one line, in pixels.
func (t *Typesetter) Width(st Style, text string) int { return t.Shape(st, text).Width() }

// Draw paints l with src, its left end at x and its baseline at y.
func (t *Typesetter) Draw(dst draw.Image, src image.Image, l *Line, x, y int) {
	if l == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	dot := fixed.I(x)
	base := fixed.I(y)
	for _, run := range l.runs {
		scale := float32(run.Size) / 64 / float32(run.Face.Upem())
		for _, g := range run.Glyphs {
			gx := dot + g.XOffset
			gy := base - g.YOffset
			t.glyph(dst, src, run.Face, g, gx, gy, scale)
			dot += g.Advance
		}
	}
}

// glyph rasterises one glyph outline with its origin at (gx, gy).
func (t *Typesetter) glyph(dst draw.Image, src image.Image, f *font.Face, g shaping.Glyph, gx, gy fixed.Int26_6, scale float32) {
	if g.Width == 0 || g.Height == 0 {
		return // a space, or a mark-less zero-width glyph
	}
	data, ok := f.GlyphData(g.GlyphID).(font.GlyphOutline)
	if !ok || len(data.Segments) == 0 {
		return
	}
	// The glyph's box in pixels, with a pixel of slack for antialiasing.
	left, right := gx+g.XBearing, gx+g.XBearing+g.Width
	top, bottom := gy-g.YBearing, gy-g.YBearing-g.Height
	x0 := min(left, right).Floor() - 1
	x1 := max(left, right).Ceil() + 1
	y0 := min(top, bottom).Floor() - 1
	y1 := max(top, bottom).Ceil() + 1
	if x1 <= x0 || y1 <= y0 {
		return
	}
	b := image.Rect(x0, y0, x1, y1)
	if !b.Overlaps(dst.Bounds()) {
		return
	}
	ox := float32(gx)/64 - float32(x0)
	oy := float32(gy)/64 - float32(y0)
	z := &t.ras
	z.Reset(b.Dx(), b.Dy())
	pt := func(p font.SegmentPoint) (float32, float32) { return ox + p.X*scale, oy - p.Y*scale }
	open := false
	for _, s := range data.Segments {
		switch s.Op {
		case ot.SegmentOpMoveTo:
			if open {
				z.ClosePath()
			}
			z.MoveTo(pt(s.Args[0]))
			open = true
		case ot.SegmentOpLineTo:
			z.LineTo(pt(s.Args[0]))
		case ot.SegmentOpQuadTo:
			ax, ay := pt(s.Args[0])
			bx, by := pt(s.Args[1])
			z.QuadTo(ax, ay, bx, by)
		case ot.SegmentOpCubeTo:
			ax, ay := pt(s.Args[0])
			bx, by := pt(s.Args[1])
			cx, cy := pt(s.Args[2])
			z.CubeTo(ax, ay, bx, by, cx, cy)
		}
	}
	if open {
		z.ClosePath()
	}
	z.DrawOp = draw.Over
	z.Draw(dst, b, src, b.Min)
}

// Missing reports the characters of text that no embedded font has (spaces
// and format characters aside): they would print as empty boxes.
func (t *Typesetter) Missing(text string) []rune {
	t.mu.Lock()
	defer t.mu.Unlock()
	var miss []rune
	for _, r := range text {
		if unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r) {
			continue
		}
		found := false
		for _, f := range t.faces {
			if has(f, r) {
				found = true
				break
			}
		}
		if !found && !slices.Contains(miss, r) {
			miss = append(miss, r)
		}
	}
	return miss
}
