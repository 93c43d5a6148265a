package staff

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"os"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/image/font/sfnt"
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

// Every glyph of the poster's texts is in the fonts we ship: a missing one
// would print as a box.
func TestPosterGlyphsCovered(t *testing.T) {
	art, err := newPosterArt()
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	langs := map[string]bool{}
	for _, l := range PosterLines() {
		langs[l.Lang] = true
		for _, r := range l.Text {
			for _, f := range []*sfnt.Font{art.regular, art.bold} {
				if i, err := f.GlyphIndex(&buf, r); err != nil || i == 0 {
					t.Errorf("%s: no glyph for %q (U+%04X)", l.Lang, r, r)
				}
			}
		}
	}
	if len(langs) < 8 || !langs["it"] || !langs["en"] {
		t.Fatalf("poster speaks only %v", langs)
	}
}

func TestPosterImageIsBlackAndWhiteMostly(t *testing.T) {
	art, _ := newPosterArt()
	data, err := art.Render(Poster{Title: "Anagrafe", Subtitle: "Milano", Link: "https://t.me/x_bot?start=0123456789abcdefghij"})
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
