package results

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestAreasChart: the need areas chart puts immigrants' priorities and
// operators' unmet needs on the same eleven areas, as shares of who
// answered; suppressed cells get a mark and no bar; the PNG has the bars
// where the layout says, as long as their shares.
func TestAreasChart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed(t, 500, 60, 21)
	s := w.service(t, 5)
	f := Filter{Form: "immigrati"}
	a, err := s.AreasFor(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Codes) != 11 {
		t.Fatalf("%d areas: %v", len(a.Codes), a.Codes)
	}
	for _, side := range []struct {
		b    Breakdown
		form string
		q    string
	}{{a.Immigrants, "immigrati", "priorita"}, {a.Operators, "operatori", "richieste"}} {
		rw, ra := w.where(t, Filter{Form: side.form}, "r", "completed_at") // released batches of that questionnaire
		_, answered := w.protected(t, "SELECT count(*), coalesce(sum(r.rkey), 0) FROM answers x JOIN responses r ON r.id = x.response_id WHERE "+rw+
			fmt.Sprintf(" AND x.question = $%d", len(ra)+1), append(ra, side.q)...)
		if side.b.Total != answered {
			t.Errorf("%s answered %+v, want %+v", side.q, side.b.Total, answered)
		}
		for i, it := range side.b.Items {
			if it.Code != a.Codes[i] {
				t.Fatalf("%s: item %d is %s, want %s", side.q, i, it.Code, a.Codes[i])
			}
			_, want := w.protected(t, "SELECT count(*), coalesce(sum(r.rkey), 0) FROM answer_choices x JOIN responses r ON r.id = x.response_id WHERE "+rw+
				fmt.Sprintf(" AND x.question = $%d AND x.choice = $%d", len(ra)+1, len(ra)+2), append(ra, side.q, it.Code)...)
			if !answered.Visible() {
				want = answered
			}
			if it.Count != want {
				t.Errorf("%s/%s: %+v, want %+v", side.q, it.Code, it.Count, want)
			}
		}
	}
	d, _ := s.describe(ctx, "it", f)
	c := s.areasChart("it", a, d)
	if len(c.Groups) != 11 || c.Groups[1].Label != "Lavoro e formazione" && c.Groups[1].Label != s.choiceLabel("it", "immigrati", "aree", "lavoro") {
		t.Fatalf("groups: %+v", c.Groups)
	}
	for i, g := range c.Groups {
		for j, b := range g.Bars {
			side := []Breakdown{a.Immigrants, a.Operators}[j]
			it := side.Items[i]
			if b.Drawn != (it.Count.Visible() && side.Total.Visible()) {
				t.Errorf("%s side %d: drawn %v for %+v", g.Label, j, b.Drawn, it.Count)
			}
			if b.Drawn && math.Abs(b.Value-min(1, float64(it.Count.N)/float64(side.Total.N))) > 1e-12 {
				t.Errorf("%s side %d: value %v", g.Label, j, b.Value)
			}
			if !b.Drawn && b.Text != s.countText("it", it.Count) {
				t.Errorf("%s side %d: text %q for a suppressed cell", g.Label, j, b.Text)
			}
		}
	}
	pngData, rects, err := c.render(s.fonts)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != chartWidth || img.Bounds().Dy() < 1000 || img.Bounds().Dy() > 4000 {
		t.Fatalf("chart is %v", img.Bounds())
	}
	var drawn []bar
	for _, g := range c.Groups {
		for _, b := range g.Bars {
			if b.Drawn && b.Value > 0 {
				drawn = append(drawn, b)
			}
		}
	}
	if len(rects) != len(drawn) || len(rects) == 0 {
		t.Fatalf("%d bars drawn for %d values", len(rects), len(drawn))
	}
	plotW := float64(chartWidth - 2*chartMargin - valueSpace)
	for i, r := range rects {
		cx, cy := (r.X0+r.X1)/2, (r.Y0+r.Y1)/2
		cr, cg, cb, _ := img.At(cx, cy).RGBA()
		want := seriesColors[r.Series]
		if uint8(cr>>8) != want.R || uint8(cg>>8) != want.G || uint8(cb>>8) != want.B {
			t.Errorf("bar %d at (%d,%d) has colour %d,%d,%d", i, cx, cy, cr>>8, cg>>8, cb>>8)
		}
		if wantW := drawn[i].Value / c.Max * plotW; math.Abs(float64(r.X1-r.X0)-wantW) > 2.5 {
			t.Errorf("bar %d is %d px, want %.1f", i, r.X1-r.X0, wantW)
		}
	}
	if dir := os.Getenv("NEEDSBOT_CHART_DIR"); dir != "" {
		// To look at the charts: NEEDSBOT_CHART_DIR=/tmp go test ./results -run Chart
		os.WriteFile(filepath.Join(dir, "areas_it.png"), pngData, 0o644)
		rep, _ := s.Report(ctx, f)
		nc := s.needsChart("en", w.lib.Latest("immigrati"), rep, 12, d)
		if p, _, err := nc.render(s.fonts); err == nil {
			os.WriteFile(filepath.Join(dir, "needs_en.png"), p, 0o644)
		}
	}
}

func TestNeedsChart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed(t, 300, 60, 23)
	s := w.service(t, 5)
	f := Filter{Form: "immigrati"}
	rep, err := s.Report(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.describe(ctx, "en", f)
	c := s.needsChart("en", w.lib.Latest("immigrati"), rep, 12, d)
	if len(c.Groups) != 12 {
		t.Fatalf("%d bars", len(c.Groups))
	}
	// The 12 largest shown needs, largest first, none of them a "none",
	// "prefer not to answer" or "other".
	// The questions the shipped form declares descriptive (report:
	// descriptive), written out here as the oracle.
	descriptive := map[string]bool{"info_fonti": true, "partecipa": true, "servizi_usati": true, "conviventi": true}
	var all []int64
	for _, b := range rep.Needs {
		if !b.Total.Visible() || descriptive[b.Question] {
			continue
		}
		q := w.lib.Latest("immigrati").Question(b.Question)
		for _, it := range b.Items {
			ch, _ := q.List.Choice(it.Code)
			if it.Count.Visible() && !ch.Exclusive && ch.Name != "other" {
				all = append(all, it.Count.N)
			}
		}
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if all[j] > all[i] {
				all[i], all[j] = all[j], all[i]
			}
		}
	}
	for i, g := range c.Groups {
		if int64(g.Bars[0].Value) != all[i] {
			t.Errorf("bar %d (%s) = %v, want %d", i, g.Label, g.Bars[0].Value, all[i])
		}
	}
	if _, _, err := c.render(s.fonts); err != nil {
		t.Fatal(err)
	}
}

func TestNiceMax(t *testing.T) {
	for _, tc := range []struct {
		v      float64
		shares bool
		want   float64
	}{{0.47, true, 0.5}, {0.5, true, 0.5}, {0.01, true, 0.1}, {0.93, true, 1}, {0, true, 0.1},
		{7, false, 10}, {12, false, 20}, {250, false, 500}, {1000, false, 1000}, {0, false, 1}} {
		if got := niceMax(tc.v, tc.shares); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("niceMax(%v, %v) = %v, want %v", tc.v, tc.shares, got, tc.want)
		}
	}
}
