package results

import "strconv"

// Mark says how a count may be shown to staff.
type Mark uint8

// Marks.
const (
	// Shown: the perturbed count is at least the threshold; it shows as
	// it is.
	Shown Mark = iota
	// Small: the perturbed count is below the threshold (Threshold); it
	// shows as "<5". A zero looks the same.
	Small
)

// Count is a count as staff may see it: never the true count.
type Count struct {
	N    int64 // the published count (Protect: perturbed; 0 unless Shown)
	Mark Mark
	// Limit is the threshold a Small count shows below ("<Limit").
	Limit int
}

// Visible reports whether the number itself may be shown.
func (c Count) Visible() bool { return c.Mark == Shown }

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

// ProtectUnkeyed is Protect for a count whose records carry no record key
// (the referral counts under /results: counts per service and area and
// day, nothing else kept): below Threshold(minCell) it is Small, shown as
// "<Limit"; above, rounded to the nearest multiple of RoundingBase. It
// keeps what /results promises of every count (small ones never shown,
// every number a multiple of RoundingBase); without a cell key the
// rounding is the same for every cell of a value.
func ProtectUnkeyed(n int64, minCell int) Count {
	lim := Threshold(minCell)
	p := (n + RoundingBase/2) / RoundingBase * RoundingBase
	if n < int64(lim) || p < int64(lim) {
		return Count{Mark: Small, Limit: lim}
	}
	return Count{N: p, Mark: Shown, Limit: lim}
}
