package results

import (
	"math"
	"testing"
)

// TestUtilityCost measures what the cell-key perturbation costs on
// realistic seeded data (synthetic interviews walked through the real
// questionnaires, three municipalities, four months): over every count of
// many /results views (totals, languages, the funnel, every choice of
// every question counted), the mean absolute change of the published
// counts, and the share of non-zero counts shown as "<5" — next to what
// primary suppression alone hid. docs/disclosure-control.md quotes it.
func TestUtilityCost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed(t, 2000, 120, 5)
	s := w.service(t, 5)
	const minCell = 5
	var filters []Filter
	for _, form := range []string{"immigrati", "operatori"} {
		for _, days := range []int{30, 0} {
			filters = append(filters, Filter{Form: form, Days: days})
			for _, m := range w.munis {
				filters = append(filters, Filter{Form: form, Days: days, Municipality: m})
				svcs, err := w.db.Services(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				for _, sv := range svcs {
					filters = append(filters, Filter{Form: form, Days: days, Municipality: m, Service: sv.ID})
				}
				if form == "immigrati" {
					for _, l := range []string{"it", "ar"} {
						filters = append(filters, Filter{Form: form, Days: days, Municipality: m, Language: l})
					}
				}
			}
		}
	}
	var cells, nonzero, shown, small, trueSmall int
	var absShown, absAll, relLarge float64
	var large int
	add := func(n, key int64) {
		cells++
		c := Protect(n, key, minCell)
		absAll += math.Abs(float64(c.N - n))
		if n > 0 {
			nonzero++
			if n < minCell {
				trueSmall++
			}
			if !c.Visible() {
				small++
			}
		}
		if c.Visible() {
			shown++
			absShown += math.Abs(float64(c.N - n))
			if n >= 20 {
				large++
				relLarge += math.Abs(float64(c.N-n)) / float64(n)
			}
		}
	}
	for _, f := range filters {
		sc, err := s.scope(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		tot, err := s.db.ResultsTotals(ctx, sc)
		if err != nil {
			t.Fatal(err)
		}
		add(tot.Completed, tot.CompletedKey)
		add(tot.Abandoned, tot.AbandonedKey)
		for l, n := range tot.Languages {
			add(n, tot.LanguageKeys[l])
		}
		for q, n := range tot.Funnel {
			add(n, tot.FunnelKeys[q])
		}
		cs, err := s.db.ResultsChoices(ctx, sc, reportQuestions(w.lib.Latest(f.Form)), false)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			add(c.N, c.Key)
		}
	}
	if cells < 1000 || shown == 0 {
		t.Fatalf("%d counts, %d shown: the measure measures nothing", cells, shown)
	}
	mean := absShown / float64(shown)
	t.Logf("utility cost over %d views, %d counts (%d non-zero): published counts change by %.2f on average (%.1f%% of the count for counts of 20 or more) where shown, %.2f over all counts; "+
		"%.1f%% of the non-zero counts show as <%d (primary suppression alone: %.1f%%)",
		len(filters), cells, nonzero, mean, 100*relLarge/float64(max(1, large)), absAll/float64(cells),
		100*float64(small)/float64(nonzero), Threshold(minCell), 100*float64(trueSmall)/float64(nonzero))
	// Unbiased random rounding to base 5 changes a count by 1.6 on
	// average when its remainders are uniform: far from it is a defect.
	if mean < 0.8 || mean > 2.4 {
		t.Errorf("mean absolute change %.2f, want about 1.6", mean)
	}
}
