package staff

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"

	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"

	"github.com/needsbot/needsbot/internal/typeset"
	"github.com/needsbot/needsbot/locales"
)

// msgPosterScan is the poster's invitation, "scan to answer in your
// language" (locales/poster.*.toml): respondent-facing, so in every
// language, each printed in its own script.
const msgPosterScan = "b.poster.scan"

// PosterLine is the invitation in one language.
type PosterLine struct {
	Lang, Text string
}

// Texts renders messages as plain text (bot.Renderer).
type Texts interface {
	Plain(lang, id string, data map[string]any) string
}

// PosterLines are the invitation in every respondent language (in
// locales.Supported()'s order, Italian first) that has it: a language whose
// poster text is missing (it would fall back to English) is left out.
func PosterLines(tx Texts) []PosterLine {
	en := tx.Plain("en", msgPosterScan, nil)
	var ls []PosterLine
	for _, lang := range locales.Supported() {
		s := strings.TrimSpace(tx.Plain(lang, msgPosterScan, nil))
		if s == "" || s == msgPosterScan || (lang != "en" && s == en) {
			continue
		}
		ls = append(ls, PosterLine{Lang: lang, Text: s})
	}
	return ls
}

// Poster is what a printed invite shows.
type Poster struct {
	Title    string // the service, or the municipality
	Subtitle string // the municipality when Title is a service
	Link     string // the deep link the QR code encodes
	// Lines are the invitation, one per language (PosterLines); the
	// first is set in bold.
	Lines []PosterLine
}

// posterArt draws posters. Its typesetter is safe for concurrent use: the
// process's shared one (typeset.Shared, also drawing the results' charts),
// so the fonts are parsed on the first poster or chart, not at start-up.
type posterArt struct {
	ts *typeset.Typesetter
}

func newPosterArt() (*posterArt, error) {
	ts, err := typeset.Shared()
	if err != nil {
		return nil, fmt.Errorf("poster: %w", err)
	}
	return &posterArt{ts: ts}, nil
}

// Poster geometry: A4 portrait at 150 dpi.
const (
	posterW     = 1240
	posterH     = 1754
	posterPad   = 90
	quietModule = 4 // the QR standard's quiet zone, in modules
)

// bitmap captures the QR matrix (go-qrcode's Writer interface).
type bitmap struct{ bits [][]bool }

func (b *bitmap) Write(m qrcode.Matrix) error { b.bits = m.Bitmap(); return nil }
func (b *bitmap) Close() error                { return nil }

// qrBits encodes text as a QR code with level Q error correction (25 %:
// a poster gets scuffed and photographed at an angle).
func qrBits(text string) ([][]bool, error) {
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionQuart))
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	var b bitmap
	if err := q.Save(&b); err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return b.bits, nil
}

// fitLines sets text centred in width, at size px or smaller so that it
// fits on one line (down to min px), wrapping only below that.
func (a *posterArt) fitLines(st typeset.Style, text string, width int, minPx float64) []*typeset.Line {
	if w := a.ts.Width(st, text); w > width {
		st.Size = max(minPx, st.Size*float64(width)/float64(w)*0.99)
	}
	return a.ts.Wrap(st, text, width)
}

// centre draws lines centred horizontally between x0 and x0+width, the
// first line's top at y, and returns the y below the last.
func (a *posterArt) centre(img draw.Image, lines []*typeset.Line, x0, width, y int) int {
	for _, l := range lines {
		a.ts.Draw(img, image.Black, l, x0+(width-l.Width())/2, y+l.Ascent())
		y += l.Height()
	}
	return y
}

// invitation lays out the poster lines in the space left (width × avail):
// one column, or two when that lets the type be larger, each line at the
// same size unless it alone is too wide for its column.
type invitation struct {
	cols  int
	lines []*typeset.Line
	rows  []int // height of each row
	gap   int
}

func (a *posterArt) invitation(ls []PosterLine, width, avail int) invitation {
	const gutter = 40
	var best invitation
	bestPx := 0.0
	for cols := 1; cols <= 2; cols++ {
		colW := (width - (cols-1)*gutter) / cols
		for px := 44.0; px >= 14; px *= 0.95 {
			inv := invitation{cols: cols, gap: int(px * 0.3)}
			for _, l := range ls {
				st := typeset.Style{Size: px, Lang: l.Lang}
				if w := a.ts.Width(st, l.Text); w > colW {
					st.Size = px * float64(colW) / float64(w) * 0.99
				}
				inv.lines = append(inv.lines, a.ts.Shape(st, l.Text))
			}
			total := 0
			for r := 0; r*cols < len(inv.lines); r++ {
				h := 0
				for c := 0; c < cols && r*cols+c < len(inv.lines); c++ {
					h = max(h, inv.lines[r*cols+c].Height())
				}
				inv.rows = append(inv.rows, h)
				total += h + inv.gap
			}
			if total-inv.gap <= avail || px*0.95 < 14 {
				// Two columns only for clearly larger type: one
				// column reads more easily.
				if cols == 1 || px > bestPx*1.15 {
					best, bestPx = inv, px
				}
				break
			}
		}
	}
	return best
}

// draw draws the invitation with its top at y.
func (inv invitation) draw(a *posterArt, img draw.Image, x0, width, y int) int {
	const gutter = 40
	colW := (width - (inv.cols-1)*gutter) / inv.cols
	for r, h := range inv.rows {
		asc := 0
		for c := 0; c < inv.cols && r*inv.cols+c < len(inv.lines); c++ {
			asc = max(asc, inv.lines[r*inv.cols+c].Ascent())
		}
		for c := 0; c < inv.cols && r*inv.cols+c < len(inv.lines); c++ {
			l := inv.lines[r*inv.cols+c]
			x := x0 + c*(colW+gutter) + (colW-l.Width())/2
			a.ts.Draw(img, image.Black, l, x, y+asc)
		}
		y += h + inv.gap
	}
	return y
}

// Render draws the poster as a PNG: title, QR code, the link in clear, and
// the invitation in every language.
func (a *posterArt) Render(p Poster) ([]byte, error) {
	bits, err := qrBits(p.Link)
	if err != nil {
		return nil, err
	}
	img := image.NewGray(image.Rect(0, 0, posterW, posterH))
	// Pixels are set directly: draw.Draw has no fast path for a uniform
	// colour onto a grayscale image.
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	inner := posterW - 2*posterPad

	y := posterPad
	y = a.centre(img, a.fitLines(typeset.Style{Size: 64, Bold: true}, p.Title, inner, 36), posterPad, inner, y)
	if p.Subtitle != "" {
		y = a.centre(img, a.fitLines(typeset.Style{Size: 44}, p.Subtitle, inner, 28), posterPad, inner, y+8)
	}
	y += 24

	// The QR code, with its quiet zone, as large as the invitation in
	// every language leaves room for (about 11 cm on A4).
	n := len(bits) + 2*quietModule
	scale := min(inner, 660) / n
	side := n * scale
	x0 := (posterW - side) / 2
	for r, row := range bits {
		for c, on := range row {
			if !on {
				continue
			}
			left := x0 + (c+quietModule)*scale
			for py := y + (r+quietModule)*scale; py < y+(r+quietModule+1)*scale; py++ {
				clear(img.Pix[py*img.Stride+left : py*img.Stride+left+scale])
			}
		}
	}
	y += side + 6
	y = a.centre(img, a.fitLines(typeset.Style{Size: 30}, p.Link, inner, 12), posterPad, inner, y)
	y += 30

	// The invitation, one line per language: the first (Italian) in bold
	// across the page, the others below in one or two columns.
	if len(p.Lines) > 0 {
		first := p.Lines[0]
		y = a.centre(img, a.fitLines(typeset.Style{Size: 46, Bold: true, Lang: first.Lang}, first.Text, inner, 24), posterPad, inner, y)
		y += 16
		inv := a.invitation(p.Lines[1:], inner, posterH-posterPad/2-y)
		y = inv.draw(a, img, posterPad, inner, y)
	}
	if y > posterH {
		return nil, fmt.Errorf("poster: content overflows the page by %d px", y-posterH)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("poster: %w", err)
	}
	return buf.Bytes(), nil
}
