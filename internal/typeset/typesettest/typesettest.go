// Package typesettest holds what the tests of drawn text share: the
// machine-drafted texts of the languages that do not ship yet (coming.toml,
// to prove the renderer on their scripts now) and a tolerant comparison of
// images against reviewed reference PNGs.
package typesettest

import (
	"bytes"
	_ "embed"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

//go:embed coming.toml
var comingTOML []byte

// ComingLangs are the languages issue 15 adds, in the order of the issue.
func ComingLangs() []string { return []string{"si", "ta", "wo", "fa", "ps", "ti", "so"} }

// Coming returns the machine-drafted texts of the coming languages:
// language → message id → text.
func Coming() (map[string]map[string]string, error) {
	var m map[string]map[string]string
	if _, err := toml.Decode(string(comingTOML), &m); err != nil {
		return nil, fmt.Errorf("coming.toml: %w", err)
	}
	for _, l := range ComingLangs() {
		if len(m[l]) == 0 {
			return nil, fmt.Errorf("coming.toml: no texts for %s", l)
		}
	}
	return m, nil
}

// Tolerances of Compare: a pixel differs when its grey level moves by more
// than PixelTolerance (of 255); an image matches its reference when at
// most ShareTolerance of its pixels differ (120 pixels of a chart).
// Antialiasing that rounds differently on another CPU (fused
// multiply-add) moves edge pixels by a few levels; a missing, reordered,
// unjoined or moved glyph of chart text turns hundreds of pixels from
// white to ink (TestCompareSeesOneGlyph in internal/typeset).
const (
	PixelTolerance = 96
	ShareTolerance = 0.0001
)

// Compare checks got against the reference PNG at path. With update it
// (re)writes the reference instead. On a mismatch the image drawn is
// written beside the test's temporary files and its path reported, to
// look at it.
func Compare(t testing.TB, got image.Image, path string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writePNG(path, got); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run the test with -update to create the reference, then look at it)", path, err)
	}
	want, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	n, share := Diff(got, want)
	if n < 0 || share > ShareTolerance {
		out := filepath.Join(os.TempDir(), "typesettest-"+strings.ReplaceAll(filepath.ToSlash(path), "/", "_"))
		_ = writePNG(out, got)
		if n < 0 {
			t.Errorf("%s: drawn %v, reference %v (drawn image: %s)", path, got.Bounds().Size(), want.Bounds().Size(), out)
			return
		}
		t.Errorf("%s: %d pixels (%.2f%%) differ from the reference (drawn image: %s; -update rewrites the reference)", path, n, 100*share, out)
	}
}

// Diff counts the pixels of a and b whose grey levels differ by more
// than PixelTolerance, and their share of the image; -1 when the sizes
// differ.
func Diff(a, b image.Image) (int, float64) {
	ga, gb := gray(a), gray(b)
	if ga.Rect.Size() != gb.Rect.Size() {
		return -1, 1
	}
	n := 0
	for i := range ga.Pix {
		d := int(ga.Pix[i]) - int(gb.Pix[i])
		if d > PixelTolerance || d < -PixelTolerance {
			n++
		}
	}
	return n, float64(n) / float64(len(ga.Pix))
}

// gray converts img to grey levels, at the origin: references are kept
// in grey (a third of the size), which is what Diff compares.
func gray(img image.Image) *image.Gray {
	b := img.Bounds()
	if g, ok := img.(*image.Gray); ok && b.Min == (image.Point{}) {
		return g
	}
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	if m, ok := img.(*image.RGBA); ok && b.Min == (image.Point{}) {
		// The fast path of the charts (draw.Draw converts pixel by
		// pixel), with color.GrayModel's weights.
		for i := range g.Pix {
			p := m.Pix[4*i : 4*i+3 : 4*i+3]
			r, gg, bb := uint32(p[0])*0x101, uint32(p[1])*0x101, uint32(p[2])*0x101
			g.Pix[i] = uint8((19595*r + 38470*gg + 7471*bb + 1<<15) >> 24)
		}
		return g
	}
	draw.Draw(g, g.Rect, img, b.Min, draw.Src)
	return g
}

func writePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, gray(img)); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
