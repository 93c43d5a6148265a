package results

import (
	"slices"
	"testing"
)

const (
	S = Shown
	L = Small
	H = Hidden
)

func TestSuppress(t *testing.T) {
	tests := []struct {
		name      string
		total     int64
		cells     []int64
		partition bool
		wantTotal Mark
		want      []Mark
	}{
		{"all large", 30, []int64{10, 12, 8}, true, S, []Mark{S, S, S}},
		{"empty breakdown", 12, nil, true, S, []Mark{}},
		{"one small hides the next smallest", 30, []int64{20, 7, 3}, true, S, []Mark{S, H, L}},
		{"one small, the next smallest is hidden even when far larger", 110, []int64{90, 18, 2}, true, S, []Mark{S, H, L}},
		{"two small adding up to the minimum: nothing more", 30, []int64{15, 10, 3, 2}, true, S, []Mark{S, S, L, L}},
		{"two small adding up to less than the minimum: one more", 30, []int64{15, 12, 2, 1}, true, S, []Mark{S, H, L, L}},
		{"three small adding up to enough", 30, []int64{18, 4, 4, 4}, true, S, []Mark{S, L, L, L}},
		{"ties: the later equal cell is hidden", 30, []int64{12, 8, 8, 2}, true, S, []Mark{S, S, H, L}},
		{"two cells, one small: both go", 12, []int64{9, 3}, true, S, []Mark{H, L}},
		{"zero counts are small", 20, []int64{20, 0}, true, S, []Mark{H, L}},
		{"total below the minimum: the whole breakdown", 4, []int64{3, 1}, true, L, []Mark{L, L}},
		{"total below the minimum, multiple choice", 4, []int64{4, 2, 1}, false, L, []Mark{L, L, L}},
		{"total at the minimum is shown", 5, []int64{5}, true, S, []Mark{S}},
		{"multiple choice: only primary suppression", 30, []int64{20, 7, 3}, false, S, []Mark{S, S, L}},
		{"multiple choice: cells above the total are fine", 10, []int64{9, 8, 6, 1}, false, S, []Mark{S, S, S, L}},
		{"one cell only, small, total large (not a partition)", 10, []int64{2}, false, S, []Mark{L}},
		{"everything small but the total", 12, []int64{4, 4, 4}, true, S, []Mark{L, L, L}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cells := slices.Clone(tc.cells)
			tm, marks := Suppress(tc.total, tc.cells, 5, tc.partition)
			if tm != tc.wantTotal || !slices.Equal(marks, tc.want) {
				t.Fatalf("Suppress(%d, %v) = %v %v, want %v %v", tc.total, tc.cells, tm, marks, tc.wantTotal, tc.want)
			}
			if !slices.Equal(cells, tc.cells) {
				t.Fatal("Suppress modified its input")
			}
		})
	}
}

// TestSuppressNoRecovery checks the property Suppress exists for, over
// every small partition: from the shown total and shown cells, no
// suppressed cell can be worked out, and the suppressed cells together
// add up to at least the minimum.
func TestSuppressNoRecovery(t *testing.T) {
	const minCell = 5
	var walk func(cells []int64)
	walk = func(cells []int64) {
		if len(cells) == 4 {
			return
		}
		for n := int64(0); n <= 12; n++ {
			next := append(slices.Clone(cells), n)
			var total int64
			for _, c := range next {
				total += c
			}
			tm, marks := Suppress(total, next, minCell, true)
			if tm == Shown {
				hidden, sum := 0, int64(0)
				for i, m := range marks {
					if m == Shown && next[i] < minCell {
						t.Fatalf("%v: small cell %d shown", next, i)
					}
					if m != Shown {
						hidden++
						sum += next[i]
					}
				}
				if hidden == 1 {
					t.Fatalf("%v: a single suppressed cell %v can be recovered by subtraction", next, marks)
				}
				if hidden > 0 && sum < minCell {
					t.Fatalf("%v: suppressed cells %v add up to %d < %d", next, marks, sum, minCell)
				}
			} else {
				for i, m := range marks {
					if m == Shown {
						t.Fatalf("%v: total suppressed but cell %d shown", next, i)
					}
				}
			}
			walk(next)
		}
	}
	walk(nil)
}

func TestMarkCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want Mark
	}{{0, L}, {4, L}, {5, S}, {1000, S}} {
		if got := MarkCount(tc.n, 5); got.Mark != tc.want || got.N != tc.n {
			t.Errorf("MarkCount(%d) = %+v", tc.n, got)
		}
	}
}
