package results

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// The attack battery (docs/disclosure-control.md): differencing attacks on
// what /results publishes, over many random datasets, with a rigorous
// definition of an exact recovery.
//
// A dataset is cut into atoms: disjoint sets of records (e.g. "service A,
// language L1, the last 7 days, chose asylum"), each with a true count and
// records carrying random keys. A view is a union of atoms that some
// screen publishes (a cell of /results under some filter); it is published
// with the method under test. The attacker knows every published value, the
// public parameters (the rounding base, the threshold, the perturbation
// table: which published values a true count can give) and the structure
// (which atoms make which view), but not the record keys. The attacker's
// feasible set for a target (an atom or a union of atoms: a cell shown or
// never shown, like "30 days minus 7 days") is the set of values the target
// takes over every assignment of non-negative counts to the atoms that is
// consistent with everything published, including what determinism gives
// away: two views whose published values differ cannot hold the same
// records. A recovery is exact when that set is a single value; the battery
// counts exact recoveries of true counts below the minimum cell size.

// publisher is a disclosure control method: the published value of a view
// of n records whose keys sum to keySum.
type publisher func(n, keySum int64) Count

// knowledge is what a published value tells about the true count: whether
// n could give it, and the bounds of those n.
type knowledge interface {
	possible(n int64, c Count) bool
	bounds(c Count) (lo, hi int64)
}

// cellKey is what the attacker knows of Protect: n gives n rounded down
// or, when n is not a multiple of the base, rounded up; below the
// threshold it shows as Small.
type cellKey struct{ minCell int }

func (k cellKey) possible(n int64, c Count) bool {
	if n < 0 {
		return false
	}
	lim := int64(Threshold(k.minCell))
	r := n % RoundingBase
	for _, o := range []int64{n - r, n - r + RoundingBase} {
		if o != n-r && r == 0 {
			continue
		}
		if o < lim && c.Mark == Small || o >= lim && c.Mark == Shown && c.N == o {
			return true
		}
	}
	return false
}

func (k cellKey) bounds(c Count) (int64, int64) {
	if c.Mark == Small {
		return 0, int64(Threshold(k.minCell)) - 1
	}
	return max(1, c.N-RoundingBase+1), c.N + RoundingBase - 1
}

// naive is primary suppression alone (what one view of f4ec990 did to a
// multiple-choice cell): true counts, "<5" below the minimum. The battery
// must find exact recoveries in it, or it tests nothing.
type naive struct{ minCell int }

func (k naive) publish(n, _ int64) Count {
	if n < int64(k.minCell) {
		return Count{Mark: Small, Limit: k.minCell}
	}
	return Count{N: n, Mark: Shown, Limit: k.minCell}
}

func (k naive) possible(n int64, c Count) bool {
	if n < 0 {
		return false
	}
	if c.Mark == Small {
		return n < int64(k.minCell)
	}
	return n == c.N
}

func (k naive) bounds(c Count) (int64, int64) {
	if c.Mark == Small {
		return 0, int64(k.minCell) - 1
	}
	return c.N, c.N
}

// attack is one scenario over one dataset.
type attack struct {
	atoms []int64    // true counts
	keys  []int64    // sums of the atoms' record keys
	dom   [][2]int64 // what the attacker knows of each atom a priori: [lo, hi], hi < 0 for no bound
	views []uint64   // published views: sets of atoms
	exact []exactSum
	// targets are the sets of atoms whose true count the attacker is
	// after; every published view is one too.
	targets []uint64
}

// exactSum is side knowledge: the atoms of set add up to n (e.g. the
// known interview is in the cell or out of it: the two add up to 1).
type exactSum struct {
	set uint64
	n   int64
}

func (a *attack) sum(set uint64, x []int64) int64 {
	var s int64
	for set != 0 {
		i := bits.TrailingZeros64(set)
		s += x[i]
		set &^= 1 << i
	}
	return s
}

// solver searches assignments of counts to atoms consistent with what is
// published.
type solver struct {
	a     *attack
	k     knowledge
	shown []Count
	lo    []int64 // per view
	hi    []int64
	dom   [][2]int64 // per atom, after the views' bounds
	// differ are pairs of views whose published values differ: their
	// records differ, so their symmetric difference holds a record.
	differ []uint64
	nodes  int
}

func newSolver(a *attack, k knowledge, shown []Count) *solver {
	s := &solver{a: a, k: k, shown: shown}
	for _, c := range shown {
		lo, hi := k.bounds(c)
		s.lo, s.hi = append(s.lo, lo), append(s.hi, hi)
	}
	for i := range a.atoms {
		d := a.dom[i]
		if d[1] < 0 {
			d[1] = 1 << 40
		}
		for v, set := range a.views {
			if set&(1<<i) != 0 {
				d[1] = min(d[1], s.hi[v])
			}
		}
		for _, e := range a.exact {
			if e.set&(1<<i) != 0 {
				d[1] = min(d[1], e.n)
			}
		}
		s.dom = append(s.dom, d)
	}
	for v := range a.views {
		for w := v + 1; w < len(a.views); w++ {
			if shown[v] != shown[w] {
				if d := a.views[v] ^ a.views[w]; d != 0 {
					s.differ = append(s.differ, d)
				} else {
					panic("one set of records published twice with different values")
				}
			}
		}
	}
	return s
}

// consistent checks what can be checked with atoms [0, upto) assigned.
func (s *solver) consistent(x []int64, upto int) bool {
	done := uint64(1)<<upto - 1
	rest := func(set uint64) int64 { // the most the unassigned atoms of set can add
		var r int64
		for set &^= done; set != 0; {
			i := bits.TrailingZeros64(set)
			r += s.dom[i][1]
			set &^= 1 << i
		}
		return r
	}
	for v, set := range s.a.views {
		sum := s.a.sum(set&done, x)
		if set&^done == 0 {
			if !s.k.possible(sum, s.shown[v]) {
				return false
			}
			continue
		}
		if sum > s.hi[v] || sum+rest(set) < s.lo[v] {
			return false
		}
	}
	for _, e := range s.a.exact {
		sum := s.a.sum(e.set&done, x)
		if sum > e.n || e.set&^done == 0 && sum != e.n || sum+rest(e.set) < e.n {
			return false
		}
	}
	for _, d := range s.differ {
		if d&^done == 0 && s.a.sum(d, x) == 0 {
			return false
		}
	}
	return true
}

// other reports whether some consistent assignment gives target a value
// other than the true one.
func (s *solver) other(target uint64, truth int64) bool {
	x := make([]int64, len(s.a.atoms))
	var dfs func(i int) bool
	dfs = func(i int) bool {
		s.nodes++
		if i == len(x) {
			return s.a.sum(target, x) != truth
		}
		for v := s.dom[i][0]; v <= s.dom[i][1]; v++ {
			x[i] = v
			if !s.consistent(x, i+1) {
				continue
			}
			if target&^(uint64(1)<<(i+1)-1) == 0 && s.a.sum(target, x) == truth {
				continue // the target is fixed and equals the truth: nothing to find below
			}
			if dfs(i + 1) {
				return true
			}
		}
		return false
	}
	return dfs(0)
}

// run publishes the views with pub and counts the exact recoveries of true
// counts below minCell.
func (a *attack) run(t *testing.T, pub publisher, k knowledge, minCell int) (exact, targets int) {
	shown := make([]Count, len(a.views))
	for v, set := range a.views {
		shown[v] = pub(a.sum(set, a.atoms), a.sum(set, a.keys))
	}
	s := newSolver(a, k, shown)
	if !s.consistent(a.atoms, len(a.atoms)) {
		t.Fatalf("the true dataset is not consistent with what was published: %+v %v", a, shown)
	}
	seen := map[uint64]bool{}
	for _, tg := range append(append([]uint64(nil), a.views...), a.targets...) {
		if seen[tg] {
			continue
		}
		seen[tg] = true
		truth := a.sum(tg, a.atoms)
		if truth >= int64(minCell) {
			continue
		}
		targets++
		if !s.other(tg, truth) {
			exact++
		}
	}
	return exact, targets
}

// dataset makes an attack's atoms: true counts from a mix of zeros, small,
// medium and large cells, and record keys drawn per record.
func (a *attack) fill(rng *rand.Rand, n int) {
	a.atoms, a.keys, a.dom = make([]int64, n), make([]int64, n), make([][2]int64, n)
	for i := range n {
		var c int64
		switch p := rng.Float64(); {
		case p < 0.25:
			c = 0
		case p < 0.55:
			c = 1 + rng.Int64N(4)
		case p < 0.85:
			c = 5 + rng.Int64N(20)
		default:
			c = 25 + rng.Int64N(100)
		}
		a.atoms[i] = c
		for range c {
			a.keys[i] += rng.Int64N(CellKeyModulus)
		}
		a.dom[i] = [2]int64{0, -1}
	}
}

func set(atoms ...int) uint64 {
	var s uint64
	for _, i := range atoms {
		s |= 1 << i
	}
	return s
}

// scenarios are the attacks of the battery, each a maker of one random
// instance.
var scenarios = []struct {
	name string
	make func(rng *rand.Rand) *attack
	// datasets is how many datasets it runs over, when not the default
	// (the largest search is slow).
	datasets int
}{
	// "All services" minus service A gives service B (and interviews
	// without a service, N). Admins' municipality comparison is the same
	// shape: all municipalities minus the others.
	{"complementary services (all − A → B)", func(rng *rand.Rand) *attack {
		a := &attack{}
		a.fill(rng, 3) // A, B, N
		a.views = []uint64{set(0, 1, 2), set(0), set(1)}
		a.targets = []uint64{set(2), set(1, 2)}
		return a
	}, 0},
	{"complementary services, every interview with a service", func(rng *rand.Rand) *attack {
		a := &attack{}
		a.fill(rng, 2)
		a.views = []uint64{set(0, 1), set(0), set(1)}
		return a
	}, 0},
	// 7 ⊂ 30 ⊂ 90 ⊂ all time: the days in between are never shown.
	{"nested periods (30 − 7 days)", func(rng *rand.Rand) *attack {
		a := &attack{}
		a.fill(rng, 4) // days 1–7, 8–30, 31–90, older
		a.views = []uint64{set(0), set(0, 1), set(0, 1, 2), set(0, 1, 2, 3)}
		a.targets = []uint64{set(1), set(2), set(3), set(1, 2), set(2, 3)}
		return a
	}, 0},
	// Total minus every language shown isolates a rare one.
	{"language splits (total − Σ languages)", func(rng *rand.Rand) *attack {
		a := &attack{}
		a.fill(rng, 5)
		a.views = []uint64{set(0, 1, 2, 3, 4), set(0), set(1), set(2), set(3), set(4)}
		a.targets = []uint64{set(3, 4), set(1, 2, 3, 4)}
		return a
	}, 0},
	// A multiple-choice cell (chose c) inside who answered the question,
	// for two services: cA, nA (answered, not c), cB, nB.
	{"multiple-choice cells with complementary services", func(rng *rand.Rand) *attack {
		a := &attack{}
		a.fill(rng, 4)
		a.views = []uint64{set(0, 1, 2, 3), set(0, 1), set(2, 3), set(0, 2), set(0), set(2)}
		a.targets = []uint64{set(1), set(3), set(1, 3)}
		return a
	}, 0},
	// Before and after one known interview: x (the cell before), y (the
	// rest of the view before), d (the known interview is in the cell),
	// e (it is not: d + e = 1), z and w (others completed the same day,
	// in and out of the cell: results publish whole days, so the
	// attacker does not know whether there were any).
	{"before/after one known interview", func(rng *rand.Rand) *attack {
		a := &attack{}
		a.fill(rng, 6)
		d := rng.Int64N(2)
		a.atoms[2], a.atoms[3] = d, 1-d
		a.keys[2], a.keys[3] = d*rng.Int64N(CellKeyModulus), (1-d)*rng.Int64N(CellKeyModulus)
		for _, i := range []int{4, 5} { // a quiet day: often nobody else
			if rng.IntN(2) == 0 {
				a.atoms[i], a.keys[i] = 0, 0
			}
		}
		a.dom[2], a.dom[3] = [2]int64{0, 1}, [2]int64{0, 1}
		a.exact = []exactSum{{set(2, 3), 1}}
		a.views = []uint64{set(0), set(0, 1), set(0, 2, 4), set(0, 1, 2, 3, 4, 5)}
		a.targets = []uint64{set(2), set(2, 4)}
		return a
	}, 0},
	// The same when the attacker knows the interview they watched was the
	// only one that day: release batches (at least 5 interviews each) put
	// it in a batch with others, whose number the attacker may even know
	// (batch − 1 others, z in the cell and w out of it) but not their
	// answers.
	{"before/after one known interview, alone that day (release batches)", func(rng *rand.Rand) *attack {
		a := &attack{}
		a.fill(rng, 6)
		d := rng.Int64N(2)
		a.atoms[2], a.atoms[3] = d, 1-d
		a.keys[2], a.keys[3] = d*rng.Int64N(CellKeyModulus), (1-d)*rng.Int64N(CellKeyModulus)
		others := 4 + rng.Int64N(4) // a batch of 5 to 8
		z := rng.Int64N(others + 1)
		if rng.IntN(2) == 0 {
			z = 0 // often none of the others is in the cell
		}
		a.atoms[4], a.atoms[5] = z, others-z
		a.keys[4], a.keys[5] = 0, 0
		for range z {
			a.keys[4] += rng.Int64N(CellKeyModulus)
		}
		for range others - z {
			a.keys[5] += rng.Int64N(CellKeyModulus)
		}
		a.dom[2], a.dom[3] = [2]int64{0, 1}, [2]int64{0, 1}
		a.exact = []exactSum{{set(2, 3), 1}, {set(4, 5), others}}
		a.views = []uint64{set(0), set(0, 1), set(0, 2, 4), set(0, 1, 2, 3, 4, 5)}
		a.targets = []uint64{set(2), set(2, 4)}
		return a
	}, 0},
	// Every view a manager reaches for one cell: service (all, A, B) ×
	// language (all, L1, L2) × period (7, 30 days); atoms are service ×
	// language × (days 1–7, days 8–30).
	{"every view a manager can reach (service × language × period)", func(rng *rand.Rand) *attack {
		a := &attack{}
		a.fill(rng, 8)
		atom := func(s, l, p int) int { return s*4 + l*2 + p }
		for _, ps := range [][]int{{0}, {0, 1}} {
			for _, ss := range [][]int{{0, 1}, {0}, {1}} {
				for _, ls := range [][]int{{0, 1}, {0}, {1}} {
					var v uint64
					for _, s := range ss {
						for _, l := range ls {
							for _, p := range ps {
								v |= 1 << atom(s, l, p)
							}
						}
					}
					a.views = append(a.views, v)
				}
			}
		}
		for i := range 8 {
			a.targets = append(a.targets, set(i))
		}
		return a
	}, 0},
	// The same with three periods (7, 30, 90 days) and the comparison of
	// two municipalities' all-services views beside them.
	{"service × language × period (7, 30, 90 days)", func(rng *rand.Rand) *attack {
		a := &attack{}
		a.fill(rng, 12)
		atom := func(s, l, p int) int { return s*6 + l*3 + p }
		for _, ps := range [][]int{{0}, {0, 1}, {0, 1, 2}} {
			for _, ss := range [][]int{{0, 1}, {0}, {1}} {
				for _, ls := range [][]int{{0, 1}, {0}, {1}} {
					var v uint64
					for _, s := range ss {
						for _, l := range ls {
							for _, p := range ps {
								v |= 1 << atom(s, l, p)
							}
						}
					}
					a.views = append(a.views, v)
				}
			}
		}
		for i := range 12 {
			a.targets = append(a.targets, set(i))
		}
		return a
	}, 12},
}

// TestAttackBattery runs every scenario over many seeded random datasets
// against Protect, and asserts 0 exact recoveries of true counts below the
// minimum cell size. It also runs them against primary suppression alone,
// which they must beat (so that the battery can fail).
func TestAttackBattery(t *testing.T) {
	const minCell = 5
	datasets := 400
	if testing.Short() {
		datasets = 60
	}
	pub := func(n, key int64) Count { return Protect(n, key, minCell) }
	nv := naive{minCell}
	var report strings.Builder
	total, naiveTotal := 0, 0
	for si, sc := range scenarios {
		rng := rand.New(rand.NewPCG(uint64(si)+1, 7))
		exact, targets, nExact := 0, 0, 0
		n := datasets
		if sc.datasets > 0 {
			n = min(n, sc.datasets)
		}
		for range n {
			a := sc.make(rng)
			e, n := a.run(t, pub, cellKey{minCell}, minCell)
			exact += e
			targets += n
			ne, _ := a.run(t, nv.publish, nv, minCell)
			nExact += ne
		}
		fmt.Fprintf(&report, "%-70s %4d datasets %6d targets below %d: %d exact recoveries (primary suppression alone: %d)\n",
			sc.name, n, targets, minCell, exact, nExact)
		total += exact
		naiveTotal += nExact
	}
	t.Logf("attack battery, cell key (base %d, threshold %d):\n%s", RoundingBase, Threshold(minCell), report.String())
	if total != 0 {
		t.Errorf("%d exact recoveries", total)
	}
	if naiveTotal == 0 {
		t.Error("the battery recovers nothing from primary suppression alone: it cannot tell a safe method from an unsafe one")
	}
}

// TestAttackerKnowsProtect checks the battery's model of the attacker's
// knowledge against Protect itself: a count can give exactly the published
// values the model says (a model too weak would hide recoveries).
func TestAttackerKnowsProtect(t *testing.T) {
	for _, minCell := range []int{3, 5, 7, 10} {
		k := cellKey{minCell}
		for n := int64(0); n <= 60; n++ {
			got := map[Count]bool{}
			for i := range int64(1000) {
				got[Protect(n, i*(CellKeyModulus/1000), minCell)] = true
			}
			cands := []Count{{Mark: Small, Limit: Threshold(minCell)}}
			for p := int64(0); p <= 80; p += RoundingBase {
				cands = append(cands, Count{N: p, Mark: Shown, Limit: Threshold(minCell)})
			}
			for _, c := range cands {
				if k.possible(n, c) != got[c] {
					t.Errorf("min %d, n %d: model says %+v possible %v, Protect %v", minCell, n, c, k.possible(n, c), got[c])
				}
				if lo, hi := k.bounds(c); got[c] && (n < lo || n > hi) {
					t.Errorf("min %d, n %d: outside the bounds [%d, %d] of %+v", minCell, n, lo, hi, c)
				}
			}
		}
	}
}

// TestAttackResidual measures, without asserting, what release batches
// prevent and what remains (docs/disclosure-control.md, residual risks):
// without batches, an attacker who knows that the one interview they
// watched was the only one added between two views learns that a cell
// whose published value changed holds it. With batches the same holds
// only for an attacker who knows the answers of every other interview of
// the batch.
func TestAttackResidual(t *testing.T) {
	const minCell = 5
	rng := rand.New(rand.NewPCG(99, 7))
	pub := func(n, key int64) Count { return Protect(n, key, minCell) }
	var exact, targets, inCell, changed int
	for range 400 {
		a := scenarios[5].make(rng)
		for _, i := range []int{4, 5} {
			a.atoms[i], a.keys[i] = 0, 0
			a.dom[i] = [2]int64{0, 0}
		}
		a.targets = []uint64{set(2)}
		a.views = a.views[:3] // before and after the cell, the total before
		e, n := a.run(t, pub, cellKey{minCell}, minCell)
		exact += e
		targets += n
		if a.atoms[2] == 1 {
			inCell++
			if pub(a.atoms[0], a.keys[0]) != pub(a.atoms[0]+1, a.keys[0]+a.keys[2]) {
				changed++
			}
		}
	}
	t.Logf("residual (one interview alone between two views, as without release batches, or every other one of the batch known): %d of %d targets below 5 (the cell before and after, the interview's membership) recovered exactly; "+
		"the interview was in the cell %d times, and the cell's published value changed %d times (%.0f%%)",
		exact, targets, inCell, changed, 100*float64(changed)/float64(max(1, inCell)))
}
