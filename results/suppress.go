package results

import (
	"slices"
	"strconv"
)

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
	N    int64 // the published count (Protect: perturbed; 0 unless Shown)
	Mark Mark
	// Limit is the threshold a Small count shows below ("<Limit").
	Limit int
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

// The cell-key method (docs/disclosure-control.md).
//
// Every completed response and every abandoned interview carries a random
// record key (responses.rkey, abandoned.rkey: uniform in [0, CellKeyModulus),
// set by the database when the row is inserted). A cell's key is the sum of
// its records' keys modulo CellKeyModulus; the rollups keep the sums next to
// the counts, so a cell key is a GROUP BY away like the count. The key picks
// the perturbation of the count from a fixed table (unbiased random rounding
// to a multiple of RoundingBase): the same records always get the same
// published value, so repeating a query, or asking it again through another
// filter that selects the same records, gains nothing, and differences of
// published values are uncertain by up to 2·(RoundingBase-1).

const (
	// CellKeyModulus is K: record keys are uniform in [0, K) and a cell's
	// key is the sum of its records' keys mod K.
	CellKeyModulus = 1 << 32
	// RoundingBase is B: every published count is a multiple of B.
	RoundingBase = 5
)

// Threshold is the published threshold for a minimum cell size
// (NEEDSBOT_MIN_CELL): minCell rounded up to a multiple of RoundingBase.
// A perturbed count below it shows as "<Threshold"; the true count is
// then below Threshold too.
func Threshold(minCell int) int {
	if minCell < 1 {
		minCell = 1
	}
	return (minCell + RoundingBase - 1) / RoundingBase * RoundingBase
}

// CellKey reduces a sum of record keys to the cell key in [0, K).
func CellKey(keySum int64) uint64 {
	k := keySum % CellKeyModulus
	if k < 0 {
		k += CellKeyModulus
	}
	return uint64(k)
}

// Perturb returns the published value of a count n whose records' keys sum
// to keySum, before the threshold: n rounded to a multiple of RoundingBase,
// up with probability (n mod B)/B over the cell key (so on average the
// published value is the true one), deterministically. Zero stays zero.
func Perturb(n, keySum int64) int64 {
	if n <= 0 {
		return 0
	}
	r := n % RoundingBase
	p := n - r
	// Up when key/K < r/B.
	if CellKey(keySum)*RoundingBase < uint64(r)*CellKeyModulus {
		p += RoundingBase
	}
	return p
}

// Protect is the one function every count staff see goes through
// (/results, charts, the aggregate sheets of exports): n records counted,
// keySum the sum of their record keys (sum(rkey) over the same rows),
// minCell the configured minimum cell size. The result is the perturbed
// count, or Small (shown as "<Limit") when the perturbed count is below
// Threshold(minCell): a zero and a small count look the same. Protect is
// pure and deterministic.
func Protect(n, keySum int64, minCell int) Count {
	lim := Threshold(minCell)
	p := Perturb(n, keySum)
	if p < int64(lim) {
		return Count{Mark: Small, Limit: lim}
	}
	return Count{N: p, Mark: Shown, Limit: lim}
}

// String shows a count as staff may see it: the published number, or
// "<Limit".
func (c Count) String() string {
	if c.Mark != Shown {
		return "<" + strconv.Itoa(c.Limit)
	}
	return strconv.FormatInt(c.N, 10)
}
