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
	"sync"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/internal/typeset"
)

// A chart is laid out first (barChart: what is drawn, testable on its
// own) and then rendered to PNG by hand with internal/typeset's shaped
// text in every script: paired
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
	Lang   string // the language of the texts: shaping and direction
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

// fonts draw the charts' text: shaped, in every script (internal/typeset),
// safe for concurrent use. The typesetter is the process's shared one,
// parsed on the first chart (typeset.Shared): a bot that draws no chart
// never holds the fonts in memory.
type fonts struct {
	once sync.Once
	ts   *typeset.Typesetter
	err  error
}

func loadFonts() (*fonts, error) { return &fonts{}, nil }

// typesetter parses the fonts if no chart has been drawn yet.
func (fs *fonts) typesetter() (*typeset.Typesetter, error) {
	fs.once.Do(func() {
		if fs.ts, fs.err = typeset.Shared(); fs.err != nil {
			fs.err = fmt.Errorf("results: %w", fs.err)
		}
	})
	return fs.ts, fs.err
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

// rect is a drawn bar's place, for tests.
type rect struct {
	Series         int
	X0, Y0, X1, Y1 int
}

// render draws the chart as a PNG and returns where its bars are.
func (c *barChart) render(fs *fonts) ([]byte, []rect, error) {
	if _, err := fs.typesetter(); err != nil {
		return nil, nil, err
	}
	img, rects := c.draw(fs)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, nil, fmt.Errorf("results: chart: %w", err)
	}
	return buf.Bytes(), rects, nil
}

// draw draws the chart and returns where its bars are. Texts are shaped
// in the chart's language (Arabic joined, Indic conjuncts…); in a
// right-to-left language they are aligned to the right.
func (c *barChart) draw(fs *fonts) (*image.RGBA, []rect) {
	ts, err := fs.typesetter()
	if err != nil {
		panic(err) // render checks first; the fonts are embedded
	}
	title := typeset.Style{Size: titleSize, Bold: true, Lang: c.Lang}
	label := typeset.Style{Size: labelSize, Lang: c.Lang}
	small := typeset.Style{Size: smallSize, Lang: c.Lang}
	inner := chartWidth - 2*chartMargin
	titleLines := ts.Wrap(title, c.Title, inner)
	noteLines := ts.Wrap(small, c.Note, inner)

	// Heights first, then draw.
	// lead is the room a wrapped line takes: size+gap, more for a
	// script that reaches far above and below (Urdu's Nastaliq).
	lead := func(l *typeset.Line, size, gap int) int { return max(size+gap, l.Height()*9/10) }
	h := chartMargin + 10
	for _, l := range titleLines {
		h += lead(l, titleSize, 10)
	}
	legendH := len(c.Legend) * (labelSize + 14)
	h += legendH + 20
	plotTop := h
	for _, g := range c.Groups {
		h += labelSize + 10 + len(g.Bars)*(barHeight+barGap) + groupGap
	}
	plotBottom := h
	h += smallSize + 20 // axis labels
	for _, l := range noteLines {
		h += lead(l, smallSize, 8)
	}
	h += chartMargin

	img := image.NewRGBA(image.Rect(0, 0, chartWidth, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	// text draws l with its start at x (its end, in a right-to-left
	// line, at the right end of the space: x+width).
	text := func(l *typeset.Line, col color.Color, x, width, baseline int) {
		if l.RTL && width > 0 {
			x += width - l.Width()
		}
		ts.Draw(img, image.NewUniform(col), l, x, baseline)
	}
	fill := func(x0, y0, x1, y1 int, col color.Color) {
		draw.Draw(img, image.Rect(x0, y0, x1, y1), image.NewUniform(col), image.Point{}, draw.Src)
	}

	y := chartMargin
	for _, l := range titleLines {
		y += lead(l, titleSize, 10) - 10
		text(l, inkColor, chartMargin, inner, y)
		y += 10
	}
	y += 10
	for i, l := range c.Legend {
		col := seriesColors[i%len(seriesColors)]
		w := inner - labelSize - 14
		line := ts.Fit(label, l, w)
		if line.RTL {
			// The swatch at the right, before the text.
			fill(chartWidth-chartMargin-labelSize, y+6, chartWidth-chartMargin, y+6+labelSize-6, col)
			text(line, inkColor, chartMargin, w, y+labelSize)
		} else {
			fill(chartMargin, y+6, chartMargin+labelSize, y+6+labelSize-6, col)
			text(line, inkColor, chartMargin+labelSize+14, w, y+labelSize)
		}
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
		l := ts.Shape(typeset.Style{Size: smallSize}, s)
		w := l.Width()
		text(l, greyColor, min(max(gx-w/2, 0), chartWidth-w), 0, plotBottom+smallSize+6)
	}

	var rects []rect
	y = plotTop
	for _, g := range c.Groups {
		y += labelSize
		text(ts.Fit(label, g.Label, inner), inkColor, x0, inner, y)
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
			// Numbers and marks ("47%", "<5") read left to right in
			// every language: set without the chart's direction.
			text(ts.Shape(typeset.Style{Size: labelSize}, b.Text), tcol, end+10, 0, y+barHeight-8)
			y += barHeight + barGap
		}
		y += groupGap
	}
	y = plotBottom + smallSize + 20
	for _, l := range noteLines {
		y += lead(l, smallSize, 8) - 8
		text(l, greyColor, chartMargin, inner, y)
		y += 8
	}
	return img, rects
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
	c := &barChart{Shares: true, Lang: lang,
		Title: s.plain(lang, msgChartAreas, nil) + " · " + d.Place,
		Legend: []string{
			s.plain(lang, msgChartImm, map[string]any{"N": s.countText(lang, a.Immigrants.Total)}),
			s.plain(lang, msgChartOps, map[string]any{"N": s.countText(lang, a.Operators.Total)}),
		},
		Note: s.plain(lang, msgFilter, map[string]any{"Form": s.formName(lang, a.Forms[0]) + " + " + s.formName(lang, a.Forms[1]),
			"Period": d.Period, "Service": d.Service, "Language": d.Language}) + ". " +
			s.plain(lang, msgChartAxis, nil) + ". " + s.plain(lang, msgChartNote, map[string]any{"Min": s.limit()}),
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
			Label: s.areaLabel(lang, a, i, code),
			Bars:  []bar{side(a.Immigrants, i, 0), side(a.Operators, i, 1)},
		})
	}
	c.Max = niceMax(top, true)
	return c
}

// areaLabel is the label of the i-th area of a chart: the choice naming
// it, in lang, or the area code.
func (s *Service) areaLabel(lang string, a *Areas, i int, code string) string {
	if i < len(a.Labels) && a.Labels[i] != "" && (s.cat.Has(lang, a.Labels[i]) || s.cat.Has("en", a.Labels[i])) {
		return s.plain(lang, a.Labels[i], nil)
	}
	return code
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
		if !b.Total.Visible() {
			continue
		}
		q := s.question(f, b.Question)
		if q == nil || q.In(dialog.SectionDescriptive) {
			continue
		}
		title := s.needTitle(lang, f, q)
		for _, it := range b.Items {
			if !it.Count.Visible() || it.Count.N == 0 {
				continue
			}
			if ch, ok := q.List.Choice(it.Code); ok && (ch.Exclusive || ch.Other) {
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
	c := &barChart{Lang: lang,
		Title:  s.plain(lang, msgChartNeeds, map[string]any{"Form": s.formName(lang, f.ID)}) + " · " + d.Place,
		Legend: nil,
		Note: s.plain(lang, msgFilter, map[string]any{"Form": d.Form, "Period": d.Period, "Service": d.Service, "Language": d.Language}) +
			". " + s.plain(lang, msgChartNote, map[string]any{"Min": s.limit()}),
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
