package results

import (
	"math/rand/v2"
	"testing"
)

func TestProtect(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := rng.Int64N(200)
		key := rng.Int64()
		c := Protect(n, key, 5)
		if c != Protect(n, key, 5) {
			t.Fatal("Protect is not deterministic")
		}
		switch {
		case c.Mark == Small:
			if c.N != 0 || c.Limit != 5 || n >= 5 || c.String() != "<5" {
				t.Fatalf("Protect(%d) = %+v", n, c)
			}
		case c.N%RoundingBase != 0 || c.N < 5 || c.N-n >= RoundingBase || n-c.N >= RoundingBase:
			t.Fatalf("Protect(%d) = %+v", n, c)
		}
	}
	if c := Protect(0, 12345, 5); c.Mark != Small || c.N != 0 {
		t.Fatalf("Protect(0) = %+v", c)
	}
	for _, tc := range []struct{ min, want int }{{3, 5}, {5, 5}, {6, 10}, {10, 10}, {11, 15}} {
		if got := Threshold(tc.min); got != tc.want {
			t.Errorf("Threshold(%d) = %d, want %d", tc.min, got, tc.want)
		}
	}
}

// TestPerturbUnbiased: over uniform cell keys the published value is the
// true count on average, and the rounding goes up with probability r/B.
func TestPerturbUnbiased(t *testing.T) {
	const keys = 5000
	for n := int64(1); n <= 12; n++ {
		var sum int64
		for i := range int64(keys) {
			sum += Perturb(n, i*(CellKeyModulus/keys))
		}
		if mean := float64(sum) / keys; mean < float64(n)-0.01 || mean > float64(n)+0.01 {
			t.Errorf("mean of Perturb(%d) = %.3f", n, mean)
		}
	}
	if CellKey(-1) != CellKeyModulus-1 || CellKey(CellKeyModulus+3) != 3 {
		t.Error("CellKey does not reduce mod K")
	}
}

// TestSQLProtect: the BI views' reporting.protect gives what Protect gives
// (the same published value for the same records in /results and in BI).
func TestSQLProtect(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var ns, ks []int64
	for i := range 3000 {
		n := rng.Int64N(60)
		if i%10 == 0 {
			n = rng.Int64N(100000)
		}
		k := rng.Int64N(1<<40) - 1<<39
		if i%7 == 0 {
			k = rng.Int64N(CellKeyModulus)
		}
		ns, ks = append(ns, n), append(ks, k)
	}
	rows, err := w.pool.Query(ctx, "SELECT reporting.protect(n, k) FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS x (n, k, i) ORDER BY i", ns, ks)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var p *int64
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		want := Protect(ns[i], ks[i], 5)
		if (p == nil) != !want.Visible() || p != nil && *p != want.N {
			t.Errorf("reporting.protect(%d, %d) = %v, Protect %+v", ns[i], ks[i], p, want)
		}
		i++
	}
	if rows.Err() != nil || i != len(ns) {
		t.Fatal(rows.Err(), i)
	}
}
