package results

import "testing"

func TestProtectUnkeyed(t *testing.T) {
	for _, c := range []struct {
		n       int64
		minCell int
		want    string
	}{
		{0, 5, "<5"}, {1, 5, "<5"}, {4, 5, "<5"}, {5, 5, "5"}, {7, 5, "5"}, {8, 5, "10"},
		{12, 5, "10"}, {13, 5, "15"}, {9, 10, "<10"}, {10, 10, "10"}, {12, 10, "10"}, {2, 3, "<5"},
	} {
		got := ProtectUnkeyed(c.n, c.minCell)
		if got.String() != c.want {
			t.Errorf("ProtectUnkeyed(%d, %d) = %s, want %s", c.n, c.minCell, got, c.want)
		}
		if got.Visible() && got.N%RoundingBase != 0 {
			t.Errorf("ProtectUnkeyed(%d, %d) = %d, not a multiple of %d", c.n, c.minCell, got.N, RoundingBase)
		}
	}
}
