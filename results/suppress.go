package results

import "slices"

// Mark says how a count may be shown to staff.
type Mark uint8

// Marks, from the most to the least visible.
const (
	// Shown: the count is at least the minimum cell size and reveals no
	// smaller one.
	Shown Mark = iota
	// Small: the count is below the minimum cell size; it shows as "<5".
	Small
	// Hidden: the count is large enough, but showing it would let a Small
	// count of the same breakdown be worked out by subtraction from the
	// total (complementary suppression); it shows as "×".
	Hidden
)

// Count is a count and how it may be shown.
type Count struct {
	N    int64
	Mark Mark
}

// Visible reports whether the number itself may be shown.
func (c Count) Visible() bool { return c.Mark == Shown }

// Mark marks a single count against the minimum cell size.
func MarkCount(n int64, minCell int) Count {
	if n < int64(minCell) {
		return Count{N: n, Mark: Small}
	}
	return Count{N: n}
}

// Suppress applies small-cell suppression to a breakdown of total into
// cells and returns the mark of the total and of each cell.
//
//   - A total below minCell is Small, and so is the whole breakdown: its
//     cells are Small when below minCell, Hidden otherwise.
//   - Every cell below minCell is Small (primary suppression).
//   - When the cells partition the total (each unit counted in exactly one
//     cell, like interviews by language) the total minus the shown cells
//     gives the sum of the suppressed ones. So while fewer than two cells
//     are suppressed, or the suppressed ones add up to less than minCell,
//     the smallest shown cell is Hidden too (complementary suppression):
//     no suppressed cell, nor a small group of them, can be recovered.
//   - Cells of a multiple choice (one unit in several cells) do not add up
//     to the total; subtraction recovers nothing and only the first two
//     rules apply.
//
// Suppress is pure; cells are not modified.
func Suppress(total int64, cells []int64, minCell int, partition bool) (Mark, []Mark) {
	marks := make([]Mark, len(cells))
	lim := int64(minCell)
	if total < lim {
		for i, n := range cells {
			marks[i] = Hidden
			if n < lim {
				marks[i] = Small
			}
		}
		return Small, marks
	}
	suppressed, sum := 0, int64(0)
	for i, n := range cells {
		if n < lim {
			marks[i] = Small
			suppressed++
			sum += n
		}
	}
	if !partition || suppressed == 0 {
		return Shown, marks
	}
	// The shown cells from the smallest up (ties: the later cell first, so
	// that the first of equal cells, usually the most prominent, stays).
	order := make([]int, 0, len(cells))
	for i := range cells {
		if marks[i] == Shown {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if cells[a] != cells[b] {
			if cells[a] < cells[b] {
				return -1
			}
			return 1
		}
		return b - a
	})
	for _, i := range order {
		if suppressed >= 2 && sum >= lim {
			break
		}
		marks[i] = Hidden
		suppressed++
		sum += cells[i]
	}
	return Shown, marks
}

// suppressCounts is Suppress over Counts, in place.
func suppressCounts(total *Count, cells []*Count, minCell int, partition bool) {
	ns := make([]int64, len(cells))
	for i, c := range cells {
		ns[i] = c.N
	}
	tm, marks := Suppress(total.N, ns, minCell, partition)
	total.Mark = max(total.Mark, tm)
	for i, c := range cells {
		c.Mark = max(c.Mark, marks[i])
	}
}
