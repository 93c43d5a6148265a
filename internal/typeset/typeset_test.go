package typeset

import (
	"image"
	"image/color"
	"image/draw"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/BurntSushi/toml"

	"github.com/needsbot/needsbot/internal/typeset/typesettest"
)

func newT(t testing.TB) *Typesetter {
	t.Helper()
	ts, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// glyphs returns the glyph ids of text set on one line, in visual order,
// with the name of the font of each.
func glyphs(l *Line) (ids []uint32, fonts []string) {
	for _, r := range l.runs {
		for _, g := range r.Glyphs {
			ids = append(ids, uint32(g.GlyphID))
			fonts = append(fonts, r.Face.Describe().Family)
		}
	}
	return ids, fonts
}

// Arabic letters take their joined forms: the same letter has another
// glyph alone, at the start and in the middle of a word.
func TestArabicJoins(t *testing.T) {
	ts := newT(t)
	for _, lang := range []string{"ar", "fa", "ps", "ur"} {
		st := Style{Size: 40, Lang: lang}
		alone, _ := glyphs(ts.Shape(st, "ب"))
		pair, _ := glyphs(ts.Shape(st, "بب"))
		if len(alone) == 0 || len(pair) < 2 {
			t.Fatalf("%s: %v %v", lang, alone, pair)
		}
		// Joined, neither letter keeps the isolated form's glyph
		// (Nastaliq adds a spacer glyph, shared by both).
		isolated := false
		for _, g := range alone {
			isolated = isolated || !slices.Contains(pair, g)
		}
		if !isolated {
			t.Errorf("%s: بب is drawn with the glyphs of ب alone %v: %v (not joined)", lang, alone, pair)
		}
	}
}

// In a right-to-left paragraph the first word is at the right; a Latin
// word inside keeps its own left-to-right order.
func TestBidiOrder(t *testing.T) {
	ts := newT(t)
	l := ts.Shape(Style{Size: 40, Lang: "ar"}, "مرحبا needsbot")
	if !l.RTL || len(l.runs) != 2 {
		t.Fatalf("RTL %v, %d runs", l.RTL, len(l.runs))
	}
	// Visual order: the Latin run first (left), the Arabic run at the right.
	if got := l.runs[0].Face.Describe().Family; !strings.Contains(got, "Noto Sans") || strings.Contains(got, "Arabic") {
		t.Errorf("leftmost run drawn with %q, want the Latin font", got)
	}
	if got := l.runs[1].Face.Describe().Family; !strings.Contains(got, "Arabic") {
		t.Errorf("rightmost run drawn with %q, want the Arabic font", got)
	}
	// The Latin word reads left to right: n first.
	n, _ := l.runs[0].Face.NominalGlyph('n')
	if l.runs[0].Glyphs[0].GlyphID != n {
		t.Errorf("Latin run inside Arabic is reversed")
	}
	ltr := ts.Shape(Style{Size: 40, Lang: "en"}, "needsbot مرحبا")
	if ltr.RTL || !strings.Contains(ltr.runs[1].Face.Describe().Family, "Arabic") {
		t.Errorf("LTR paragraph: Arabic run not at the right")
	}
}

// Indic clusters form: a conjunct or a vowel sign makes fewer glyphs
// than characters (a ligature) or reorders them (the i-matra before its
// consonant).
func TestIndicClusters(t *testing.T) {
	ts := newT(t)
	for _, c := range []struct {
		lang, text string
	}{
		{"hi", "क्ष"},       // ka + virama + ssa: one conjunct
		{"hi", "स्त"},       // half form
		{"bn", "ক্ষ"},       // Bengali khiya
		{"bn", "ন্ত"},       // Bengali nta
		{"pa", "ਪ੍ਰ"},       // Gurmukhi subjoined ra
		{"si", "ශ්\u200dය"}, // Sinhala yansaya, with ZWJ
		{"si", "ප්\u200dර"}, // Sinhala rakaransaya
		{"ta", "க்ஷ"},       // Tamil ksha
		{"ta", "கொ"},        // Tamil two-part vowel around its consonant
		{"hi", "कि"},        // i-matra drawn before ka
		{"bn", "কি"},        // idem in Bengali
		{"si", "කෙ"},        // kombuva before ka
		{"ti", "ስካን"},       // Ethiopic syllables: one glyph each
		{"zh-Hans", "扫码"},   // Chinese
	} {
		l := ts.Shape(Style{Size: 40, Lang: c.lang}, c.text)
		ids, fonts := glyphs(l)
		runes := []rune(c.text)
		for i, id := range ids {
			if id == 0 {
				t.Errorf("%s %q: glyph %d is .notdef (font %s)", c.lang, c.text, i, fonts[i])
			}
		}
		switch c.text {
		case "कि", "কি", "කෙ":
			// The pre-base vowel sign comes first visually.
			cons, _ := l.runs[0].Face.NominalGlyph(runes[0])
			if len(ids) < 2 || font0(ids) == uint32(cons) {
				t.Errorf("%s %q: vowel sign not reordered before its consonant: %v", c.lang, c.text, ids)
			}
		case "ስካን", "扫码":
			if len(ids) != len(runes) {
				t.Errorf("%s %q: %d glyphs for %d characters", c.lang, c.text, len(ids), len(runes))
			}
		case "கொ":
			if len(ids) != 3 {
				t.Errorf("%s %q: %d glyphs, want 3 (e-sign, ka, aa-sign)", c.lang, c.text, len(ids))
			}
		default:
			if len(ids) >= len(runes) || len(ids) == 0 {
				t.Errorf("%s %q: %d glyphs for %d characters: no conjunct", c.lang, c.text, len(ids), len(runes))
			}
		}
	}
}

func font0(ids []uint32) uint32 { return ids[0] }

// Chinese wraps between characters; Latin between words only.
func TestWrap(t *testing.T) {
	ts := newT(t)
	st := Style{Size: 30, Lang: "zh-Hans"}
	text := "扫码，用您的语言回答扫码，用您的语言回答扫码，用您的语言回答"
	ls := ts.Wrap(st, text, 300)
	if len(ls) < 3 {
		t.Fatalf("%d lines", len(ls))
	}
	for _, l := range ls {
		if l.Width() > 300 {
			t.Errorf("line %d px wide", l.Width())
		}
	}
	en := ts.Wrap(Style{Size: 30}, "Scan to answer in your language", 200)
	if len(en) < 2 {
		t.Fatalf("%d lines", len(en))
	}
	f := ts.Fit(Style{Size: 30, Lang: "ar"}, "امسح الرمز للإجابة بلغتك امسح الرمز للإجابة بلغتك", 250)
	if f.Width() > 250 || f.Width() < 150 {
		t.Errorf("fitted line is %d px", f.Width())
	}
}

// Every character of every text that may be drawn (all message files, the
// coming languages' drafts) is in an embedded font: otherwise run
// `go generate ./internal/typeset` (a new Chinese character) or add the
// script to subset_gen.go. Emoji and symbols are not drawn on posters or
// charts and are left out.
func TestFontsCoverTexts(t *testing.T) {
	ts := newT(t)
	files, _ := filepath.Glob("../../locales/*.toml")
	if len(files) < 16 {
		t.Fatalf("%d message files", len(files))
	}
	texts := map[string][]string{}
	for _, f := range files {
		var m map[string]map[string]any
		if _, err := toml.DecodeFile(f, &m); err != nil {
			t.Fatal(err)
		}
		for id, msg := range m {
			for k, v := range msg {
				if s, ok := v.(string); ok && k != "description" && k != "hash" {
					texts[filepath.Base(f)+" "+id] = append(texts[filepath.Base(f)+" "+id], s)
				}
			}
		}
	}
	coming, err := typesettest.Coming()
	if err != nil {
		t.Fatal(err)
	}
	for lang, m := range coming {
		for id, s := range m {
			texts["coming "+lang+" "+id] = append(texts["coming "+lang+" "+id], s)
		}
	}
	for where, ss := range texts {
		for _, s := range ss {
			var drawn []rune
			for _, r := range s {
				if unicode.Is(unicode.So, r) || unicode.Is(unicode.Sk, r) || unicode.Is(unicode.Variation_Selector, r) || r >= 0x1F000 {
					continue
				}
				drawn = append(drawn, r)
			}
			if miss := ts.Missing(string(drawn)); len(miss) > 0 {
				t.Errorf("%s: no font draws %q", where, string(miss))
			}
		}
	}
}

// Drawing paints ink where the text is, and the typesetter may be used
// from several goroutines.
func TestDrawConcurrently(t *testing.T) {
	ts := newT(t)
	var wg sync.WaitGroup
	for _, s := range []string{"Scan", "امسح الرمز", "স্ক্যান", "ස්කෑන්", "ስካን", "扫码"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img := image.NewGray(image.Rect(0, 0, 400, 100))
			draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
			l := ts.Shape(Style{Size: 48}, s)
			ts.Draw(img, image.NewUniform(color.Black), l, 10, 70)
			dark := 0
			for _, p := range img.Pix {
				if p < 128 {
					dark++
				}
			}
			if dark < 200 {
				t.Errorf("%q: %d dark pixels", s, dark)
			}
		}()
	}
	wg.Wait()
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// One glyph less in a chart-sized image, one mark less in a poster line's
// image (56 px type, as the poster tests draw each line alone), is a
// mismatch for the reference comparison of the poster and chart tests.
// (A lone mark in a whole chart or poster may stay within tolerance: the
// line images are there for that.)
func TestCompareSeesOneGlyph(t *testing.T) {
	ts := newT(t)
	draw1 := func(w, h int, size float64, s string) *image.Gray {
		img := image.NewGray(image.Rect(0, 0, w, h))
		draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
		ts.Draw(img, image.Black, ts.Shape(Style{Size: size}, s), 20, h/2)
		return img
	}
	for _, c := range []struct {
		w, h int
		size float64
		a, b string
	}{
		{1080, 1100, 32, "Lavoro e formazione", "Lavoro e formazion"},
		{1080, 1100, 32, "العمل والتدريب", "العمل والتدرب"},
		{1080, 1100, 32, "ඔබේ භාෂාවෙන්", "ඔබේ භාෂාවන්"},
		{1100, 110, 56, "ස්කෑන්", "ස්කෑන"}, // Sinhala al-lakuna
		{1100, 110, 56, "स्कैन", "सकैन"},   // Devanagari half form
		{1100, 110, 56, "بلغتك", "ب لغتك"}, // unjoined
	} {
		a, b := draw1(c.w, c.h, c.size, c.a), draw1(c.w, c.h, c.size, c.b)
		if n, share := typesettest.Diff(a, a); n != 0 || share != 0 {
			t.Fatalf("an image differs from itself: %d", n)
		}
		if n, share := typesettest.Diff(a, b); share <= typesettest.ShareTolerance {
			t.Errorf("%q vs %q: %d pixels (%.4f%%) differ: within tolerance", c.a, c.b, n, 100*share)
		}
	}
}

// The licence travels with the fonts.
func TestLicence(t *testing.T) {
	l := Licence()
	for _, want := range []string{"SIL OPEN FONT LICENSE Version 1.1", "Noto Sans CJK SC", "Noto Nastaliq Urdu", "TERMINATION"} {
		if !strings.Contains(l, want) {
			t.Errorf("licence lacks %q", want)
		}
	}
}

// Numbers inside right-to-left text keep their left-to-right order, and
// sit at the visual end of the words they follow.
func TestNumbersInRTL(t *testing.T) {
	ts := newT(t)
	for _, c := range []struct{ lang, text string }{{"ar", "عمري 25 سنة"}, {"fa", "سن من ۲۵ سال"}, {"ur", "عمر 25 سال"}} {
		l := ts.Shape(Style{Size: 40, Lang: c.lang}, c.text)
		var digits []rune
		for _, r := range c.text {
			if unicode.IsDigit(r) {
				digits = append(digits, r)
			}
		}
		// The digits' glyphs in visual order, and where the number and
		// the first word (the text's first character) stand.
		var seen []rune
		x, numX, firstX := 0, -1, -1
		for _, run := range l.runs {
			for _, g := range run.Glyphs {
				for _, d := range digits {
					if id, ok := run.Face.NominalGlyph(d); ok && id == g.GlyphID && !slices.Contains(seen, d) {
						seen = append(seen, d)
						if numX < 0 {
							numX = x
						}
					}
				}
				if g.TextIndex() == 0 {
					firstX = x
				}
				x += g.Advance.Round()
			}
		}
		if string(seen) != string(digits) {
			t.Errorf("%s %q: digits drawn as %q, want %q left to right", c.lang, c.text, string(seen), string(digits))
		}
		// The number is the second word: it stands left of the first.
		if numX < 0 || firstX < 0 || numX >= firstX {
			t.Errorf("%s %q: number at x=%d, first word at x=%d: not right to left", c.lang, c.text, numX, firstX)
		}
	}
}
