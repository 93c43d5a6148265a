package staff

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/internal/golden"
	"github.com/needsbot/needsbot/internal/typeset"
	"github.com/needsbot/needsbot/internal/typeset/typesettest"
	"github.com/needsbot/needsbot/locales"
)

var keepPoster = flag.String("poster", "", "write the test poster to this PNG file, to look at it")

// DecodeQR reads the QR code in a PNG.
func decodeQR(t testing.TB, pngData []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("no QR code readable: %v", err)
	}
	return res.GetText()
}

func TestPosterQRDecodesToTheLink(t *testing.T) {
	art, err := newPosterArt()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Poster{
		{Title: "Sportello immigrati", Subtitle: "Roma", Link: "https://t.me/needsbot_test_bot?start=AbCdEfGhIjKlMnOpQrSt"},
		{Title: "Centro per l'impiego con un nome lunghissimo che non sta in una riga sola", Subtitle: "Reggio nell'Emilia",
			Link: "https://t.me/a_really_long_bot_username_bot?start=" + string(bytes.Repeat([]byte("x"), 64))},
		{Title: "Prato", Link: "https://t.me/b?start=s"},
	} {
		p.Lines = allLines(t)
		data, err := art.Render(p)
		if err != nil {
			t.Fatalf("%q: %v", p.Title, err)
		}
		if got := decodeQR(t, data); got != p.Link {
			t.Fatalf("QR decodes to %q, want %q", got, p.Link)
		}
		img, _ := png.Decode(bytes.NewReader(data))
		if b := img.Bounds(); b.Dx() != posterW || b.Dy() != posterH {
			t.Fatalf("poster is %v", b)
		}
		if len(data) > 300_000 {
			t.Errorf("poster is %d bytes: too big to send quickly", len(data))
		}
		if *keepPoster != "" {
			if err := os.WriteFile(*keepPoster, data, 0o644); err != nil {
				t.Fatal(err)
			}
			*keepPoster = ""
		}
	}
}

// shippedLines are the poster lines of the catalog: every shipped
// language.
func shippedLines(t testing.TB) []PosterLine {
	t.Helper()
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	return PosterLines(bot.NewRenderer(cat))
}

// allLines are the shipped lines and the coming languages' drafts
// (typesettest/coming.toml) for the languages not shipped yet.
func allLines(t testing.TB) []PosterLine {
	t.Helper()
	ls := shippedLines(t)
	coming, err := typesettest.Coming()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, l := range ls {
		have[l.Lang] = true
	}
	for _, lang := range typesettest.ComingLangs() {
		if !have[lang] {
			ls = append(ls, PosterLine{Lang: lang, Text: coming[lang][msgPosterScan]})
		}
	}
	return ls
}

// The poster speaks every shipped language, Italian first, each in its
// own words (none falls back to English), and every character has a
// font: a missing one would print as a box.
func TestPosterLinesEveryLanguage(t *testing.T) {
	ls := shippedLines(t)
	if len(ls) != len(locales.Supported()) || ls[0].Lang != "it" {
		t.Fatalf("poster lines %v, want one per language of %v, Italian first", ls, locales.Supported())
	}
	art, err := newPosterArt()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range allLines(t) {
		if l.Text == "" {
			t.Errorf("%s: no poster line", l.Lang)
		}
		if miss := art.ts.Missing(l.Text); len(miss) > 0 {
			t.Errorf("%s: no glyph for %q", l.Lang, string(miss))
		}
	}
}

// TestPosterReferences draws the poster with every shipped language, the
// poster with the seven coming ones too, and each language's line alone
// and large, and compares them with the reviewed reference images in
// testdata/poster/ (-update rewrites them: look at every changed one).
func TestPosterReferences(t *testing.T) {
	art, err := newPosterArt()
	if err != nil {
		t.Fatal(err)
	}
	p := Poster{Title: "Sportello immigrati", Subtitle: "Comune di Prato",
		Link: "https://t.me/needsbot_bot?start=AbCdEfGhIjKlMnOpQrSt"}
	for _, c := range []struct {
		name  string
		lines []PosterLine
	}{{"poster-shipped.png", shippedLines(t)}, {"poster-23.png", allLines(t)}} {
		p.Lines = c.lines
		data, err := art.Render(p)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := decodeQR(t, data); got != p.Link {
			t.Fatalf("%s: QR decodes to %q", c.name, got)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		typesettest.Compare(t, img, filepath.Join("testdata", "poster", c.name), golden.Update())
	}
	for i, l := range allLines(t) {
		st := typeset.Style{Size: 56, Lang: l.Lang, Bold: i == 0} // as on the poster: Italian in bold
		line := art.ts.Shape(st, l.Text)
		img := image.NewGray(image.Rect(0, 0, line.Width()+40, line.Height()+30))
		for j := range img.Pix {
			img.Pix[j] = 0xff
		}
		art.ts.Draw(img, image.Black, line, 20, 15+line.Ascent())
		typesettest.Compare(t, img, filepath.Join("testdata", "poster", "line-"+l.Lang+".png"), golden.Update())
	}
}

func TestPosterImageIsBlackAndWhiteMostly(t *testing.T) {
	art, _ := newPosterArt()
	data, err := art.Render(Poster{Title: "Anagrafe", Subtitle: "Milano", Link: "https://t.me/x_bot?start=0123456789abcdefghij", Lines: allLines(t)})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := png.Decode(bytes.NewReader(data))
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("poster is %T, want grayscale", img)
	}
	dark := 0
	for _, p := range g.Pix {
		if p < 128 {
			dark++
		}
	}
	if frac := float64(dark) / float64(len(g.Pix)); frac < 0.05 || frac > 0.5 {
		t.Fatalf("%.1f%% of the poster is dark: nothing drawn, or everything", 100*frac)
	}
}
