package results

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"slices"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/needsbot/needsbot/dialog"
)

// A chart is laid out first (barChart: what is drawn, testable on its
// own) and then rendered to PNG by hand with the Go fonts: paired
// horizontal bars with long labels are not a layout the Go chart libraries
// offer, and phones need big type.

// bar is one bar of a chart.
type bar struct {
	Value  float64 // in the chart's unit (a share, or a count)
	Text   string  // what is written at its end: "47%", "<5"
	Series int     // its colour: 0 immigrants (or the only series), 1 operators
	Drawn  bool    // false for suppressed cells: no bar, only Text
}

// group is a label and its bars (one per series).
type group struct {
	Label string
	Bars  []bar
}

// barChart is a horizontal bar chart, laid out but not drawn.
type barChart struct {
	Title  string
	Legend []string // one entry per series
	Groups []group
	Note   string
	Max    float64 // the axis' end, in the bars' unit
	Shares bool    // the unit is a share: the axis is labelled in percent
}

// Chart geometry, in pixels: 1080 wide is a phone screen at 3x, where
// 30 px text reads like 10 pt.
const (
	chartWidth  = 1080
	chartMargin = 40
	titleSize   = 40
	labelSize   = 32
	smallSize   = 26
	barHeight   = 36
	barGap      = 6
	groupGap    = 26
	valueSpace  = 170 // room at the right of the longest bar for its text
)

// Okabe–Ito colours: distinguishable with every common colour blindness.
var seriesColors = []color.RGBA{{0x00, 0x72, 0xB2, 0xff}, {0xE6, 0x9F, 0x00, 0xff}}

var (
	inkColor  = color.RGBA{0x22, 0x22, 0x22, 0xff}
	greyColor = color.RGBA{0x66, 0x66, 0x66, 0xff}
	gridColor = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
)

// fonts are the parsed Go fonts (immutable, shared).
type fonts struct {
	regular, bold *opentype.Font
}

func loadFonts() (*fonts, error) {
	r, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("results: font: %w", err)
	}
	b, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("results: font: %w", err)
	}
	return &fonts{regular: r, bold: b}, nil
}

func face(f *opentype.Font, size float64) (font.Face, error) {
	return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
}

// niceMax rounds an axis end up: shares to the next 10%, counts to 1, 2
// or 5 times a power of ten.
func niceMax(v float64, shares bool) float64 {
	if shares {
		return math.Min(1, math.Max(0.1, math.Ceil(v*10-1e-9)/10))
	}
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// wrap breaks text into lines no wider than width.
func wrap(f font.Face, text string, width int) []string {
	var lines []string
	var cur string
	for _, w := range strings.Fields(text) {
		next := w
		if cur != "" {
			next = cur + " " + w
		}
		if cur != "" && font.MeasureString(f, next).Ceil() > width {
			lines = append(lines, cur)
			cur = w
			continue
		}
		cur = next
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// fit shortens text with an ellipsis until it is no wider than width.
func fit(f font.Face, text string, width int) string {
	if font.MeasureString(f, text).Ceil() <= width {
		return text
	}
	r := []rune(text)
	for len(r) > 1 {
		r = r[:len(r)-1]
		s := strings.TrimSpace(string(r)) + "…"
		if font.MeasureString(f, s).Ceil() <= width {
			return s
		}
	}
	return "…"
}

// rect is a drawn bar's place, for tests.
type rect struct {
	Series         int
	X0, Y0, X1, Y1 int
}

// render draws the chart as a PNG and returns where its bars are.
func (c *barChart) render(fs *fonts) ([]byte, []rect, error) {
	title, err := face(fs.bold, titleSize)
	if err != nil {
		return nil, nil, err
	}
	label, err := face(fs.regular, labelSize)
	if err != nil {
		return nil, nil, err
	}
	small, err := face(fs.regular, smallSize)
	if err != nil {
		return nil, nil, err
	}
	inner := chartWidth - 2*chartMargin
	titleLines := wrap(title, c.Title, inner)
	noteLines := wrap(small, c.Note, inner)

	// Heights first, then draw.
	h := chartMargin + len(titleLines)*(titleSize+10) + 10
	legendH := len(c.Legend) * (labelSize + 14)
	h += legendH + 20
	plotTop := h
	for _, g := range c.Groups {
		h += labelSize + 10 + len(g.Bars)*(barHeight+barGap) + groupGap
	}
	plotBottom := h
	h += smallSize + 20 // axis labels
	h += len(noteLines)*(smallSize+8) + chartMargin

	img := image.NewRGBA(image.Rect(0, 0, chartWidth, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text := func(f font.Face, col color.Color, x, baseline int, s string) {
		d := &font.Drawer{Dst: img, Src: image.NewUniform(col), Face: f, Dot: fixed.P(x, baseline)}
		d.DrawString(s)
	}
	fill := func(x0, y0, x1, y1 int, col color.Color) {
		draw.Draw(img, image.Rect(x0, y0, x1, y1), image.NewUniform(col), image.Point{}, draw.Src)
	}

	y := chartMargin
	for _, l := range titleLines {
		y += titleSize
		text(title, inkColor, chartMargin, y, l)
		y += 10
	}
	y += 10
	for i, l := range c.Legend {
		col := seriesColors[i%len(seriesColors)]
		fill(chartMargin, y+6, chartMargin+labelSize, y+6+labelSize-6, col)
		text(label, inkColor, chartMargin+labelSize+14, y+labelSize, fit(label, l, inner-labelSize-14))
		y += labelSize + 14
	}

	plotW := inner - valueSpace
	axisMax := c.Max
	if axisMax <= 0 {
		axisMax = 1
	}
	x0 := chartMargin
	// Grid lines and their labels.
	step := axisMax / 5
	if c.Shares {
		step = 0.1
		if axisMax > 0.5 {
			step = 0.2
		}
	}
	for v := 0.0; v <= axisMax+1e-9; v += step {
		gx := x0 + int(math.Round(v/axisMax*float64(plotW)))
		fill(gx, plotTop, gx+2, plotBottom, gridColor)
		s := trimFloat(v)
		if c.Shares {
			s = fmt.Sprintf("%d%%", int(math.Round(v*100)))
		}
		w := font.MeasureString(small, s).Ceil()
		text(small, greyColor, min(max(gx-w/2, 0), chartWidth-w), plotBottom+smallSize+6, s)
	}

	var rects []rect
	y = plotTop
	for _, g := range c.Groups {
		y += labelSize
		text(label, inkColor, x0, y, fit(label, g.Label, inner))
		y += 10
		for _, b := range g.Bars {
			col := seriesColors[b.Series%len(seriesColors)]
			end := x0
			if b.Drawn && b.Value > 0 {
				end = x0 + max(int(math.Round(math.Min(b.Value, axisMax)/axisMax*float64(plotW))), 2)
				fill(x0, y, end, y+barHeight, col)
				rects = append(rects, rect{Series: b.Series, X0: x0, Y0: y, X1: end, Y1: y + barHeight})
			}
			tcol := color.Color(inkColor)
			if !b.Drawn {
				tcol = greyColor
			}
			text(label, tcol, end+10, y+barHeight-8, b.Text)
			y += barHeight + barGap
		}
		y += groupGap
	}
	y = plotBottom + smallSize + 20
	for _, l := range noteLines {
		y += smallSize
		text(small, greyColor, chartMargin, y, l)
		y += 8
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, nil, fmt.Errorf("results: chart: %w", err)
	}
	return buf.Bytes(), rects, nil
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// areasChart lays out the need areas: per area, the immigrants' share
// naming it a priority over the operators' share naming it a need they
// cannot meet. Suppressed cells get no bar, only their mark.
func (s *Service) areasChart(lang string, a *Areas, d described) *barChart {
	c := &barChart{Shares: true,
		Title: s.plain(lang, msgChartAreas, nil) + " · " + d.Place,
		Legend: []string{
			s.plain(lang, msgChartImm, map[string]any{"N": s.countText(lang, a.Immigrants.Total)}),
			s.plain(lang, msgChartOps, map[string]any{"N": s.countText(lang, a.Operators.Total)}),
		},
		Note: s.plain(lang, msgFilter, map[string]any{"Form": s.formName(lang, "immigrati") + " + " + s.formName(lang, "operatori"),
			"Period": d.Period, "Service": d.Service, "Language": d.Language}) + ". " +
			s.plain(lang, msgChartAxis, nil) + ". " + s.plain(lang, msgChartNote, map[string]any{"Min": s.minCell}),
	}
	var top float64
	side := func(b Breakdown, i, series int) bar {
		it := b.Items[i]
		if !it.Count.Visible() || !b.Total.Visible() {
			return bar{Series: series, Text: s.countText(lang, it.Count)}
		}
		v := it.Share(b.Total.N)
		top = math.Max(top, v)
		return bar{Series: series, Value: v, Text: pct(v), Drawn: true}
	}
	for i, code := range a.Codes {
		c.Groups = append(c.Groups, group{
			Label: s.choiceLabel(lang, "immigrati", "aree", code),
			Bars:  []bar{side(a.Immigrants, i, 0), side(a.Operators, i, 1)},
		})
	}
	c.Max = niceMax(top, true)
	return c
}

// needsChart lays out the k most frequent shown needs of a report (every
// need question, not none, "don't know" or "prefer not to answer"), by
// count, labelled with their area.
func (s *Service) needsChart(lang string, f *dialog.Form, rep *Report, k int, d described) *barChart {
	type cand struct {
		label string
		it    Item
		total Count
	}
	var cs []cand
	for _, b := range rep.Needs {
		if !b.Total.Visible() || descriptive[b.Question] {
			continue
		}
		q := s.question(f, b.Question)
		if q == nil {
			continue
		}
		title := s.needTitle(lang, f, q)
		for _, it := range b.Items {
			if !it.Count.Visible() || it.Count.N == 0 {
				continue
			}
			if ch, ok := q.List.Choice(it.Code); ok && (ch.Exclusive || ch.Name == "other") {
				continue
			}
			cs = append(cs, cand{label: title + ": " + s.choiceLabel(lang, f.ID, b.List, it.Code), it: it, total: b.Total})
		}
	}
	sortCands := func(a, b cand) int {
		switch {
		case a.it.Count.N > b.it.Count.N:
			return -1
		case a.it.Count.N < b.it.Count.N:
			return 1
		}
		return strings.Compare(a.label, b.label)
	}
	slices.SortFunc(cs, sortCands)
	if len(cs) > k {
		cs = cs[:k]
	}
	c := &barChart{
		Title:  s.plain(lang, msgChartNeeds, map[string]any{"Form": s.formName(lang, f.ID)}) + " · " + d.Place,
		Legend: nil,
		Note: s.plain(lang, msgFilter, map[string]any{"Form": d.Form, "Period": d.Period, "Service": d.Service, "Language": d.Language}) +
			". " + s.plain(lang, msgChartNote, map[string]any{"Min": s.minCell}),
	}
	var top float64
	for _, x := range cs {
		v := float64(x.it.Count.N)
		top = math.Max(top, v)
		c.Groups = append(c.Groups, group{Label: x.label, Bars: []bar{{
			Value: v, Drawn: true, Text: num(lang, x.it.Count.N) + " (" + pct(x.it.Share(x.total.N)) + ")"}}})
	}
	c.Max = niceMax(top, false)
	return c
}
