package staff

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"

	qrcode "github.com/yeqown/go-qrcode/v2"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// PosterLine is "scan to answer in your language" in one language.
type PosterLine struct {
	Lang, Text string
}

// PosterLines are the languages the poster invites people in. They are
// respondent languages (locales.Supported) whose scripts the embedded Go
// fonts draw (Latin and Cyrillic): the poster is an image, so every glyph
// must come from a font we ship, and the bot itself then speaks all 16
// languages. The texts are fixed print, not chat messages, so they live
// here rather than in the message catalog; a test checks every glyph.
func PosterLines() []PosterLine {
	return []PosterLine{
		{"it", "Inquadra il codice per rispondere nella tua lingua"},
		{"en", "Scan to answer in your language"},
		{"fr", "Scannez pour répondre dans votre langue"},
		{"es", "Escanea para responder en tu idioma"},
		{"pt", "Leia o código para responder no seu idioma"},
		{"ro", "Scanează pentru a răspunde în limba ta"},
		{"sq", "Skano për t'u përgjigjur në gjuhën tënde"},
		{"uk", "Скануйте, щоб відповісти своєю мовою"},
		{"ru", "Отсканируйте, чтобы ответить на своём языке"},
		{"tl", "I-scan para sumagot sa iyong wika"},
	}
}

// Poster is what a printed invite shows.
type Poster struct {
	Title    string // the service, or the municipality
	Subtitle string // the municipality when Title is a service
	Link     string // the deep link the QR code encodes
}

// posterArt draws posters. It holds the parsed fonts, read-only after
// newPosterArt, so it is safe for concurrent use.
type posterArt struct {
	regular, bold *opentype.Font
}

func newPosterArt() (*posterArt, error) {
	r, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("poster font: %w", err)
	}
	b, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("poster font: %w", err)
	}
	return &posterArt{regular: r, bold: b}, nil
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

// face returns f at size px, shrunk until text fits in width.
func face(f *opentype.Font, px float64, width int, text string) (font.Face, error) {
	for {
		fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			return nil, fmt.Errorf("poster face: %w", err)
		}
		if font.MeasureString(fc, text).Ceil() <= width || px <= 12 {
			return fc, nil
		}
		px *= 0.92
	}
}

// centre draws text centred horizontally with its baseline at y, and
// returns the y below it.
func centre(img draw.Image, fc font.Face, text string, y int) int {
	m := fc.Metrics()
	w := font.MeasureString(fc, text).Ceil()
	d := font.Drawer{Dst: img, Src: image.Black, Face: fc,
		Dot: fixed.Point26_6{X: fixed.I((posterW - w) / 2), Y: fixed.I(y) + m.Ascent}}
	d.DrawString(text)
	return y + (m.Ascent + m.Descent).Ceil()
}

// Render draws the poster as a PNG: title, QR code, the link in clear, and
// the invitation in several languages.
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
	title, err := face(a.bold, 64, inner, p.Title)
	if err != nil {
		return nil, err
	}
	y = centre(img, title, p.Title, y)
	if p.Subtitle != "" {
		sub, err := face(a.regular, 44, inner, p.Subtitle)
		if err != nil {
			return nil, err
		}
		y = centre(img, sub, p.Subtitle, y+8)
	}
	y += 30

	// The QR code, with its quiet zone, as large as the page allows.
	n := len(bits) + 2*quietModule
	scale := min(inner, 820) / n
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
	y += side + 10

	link, err := face(a.regular, 30, inner, p.Link)
	if err != nil {
		return nil, err
	}
	y = centre(img, link, p.Link, y)
	y += 40

	// The invitation, one line per language; the first (Italian) in bold.
	lines := PosterLines()
	avail := posterH - posterPad - y
	px := min(40.0, float64(avail)/float64(len(lines))/1.25)
	for i, l := range lines {
		f := a.regular
		if i == 0 {
			f = a.bold
		}
		fc, err := face(f, px, inner, l.Text)
		if err != nil {
			return nil, err
		}
		y = centre(img, fc, l.Text, y) + int(px*0.2)
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
