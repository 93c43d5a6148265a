package bot

import (
	"strings"
	"testing"
)

func TestCallbackCodec(t *testing.T) {
	good := []Callback{
		{Kind: CbChoose, Pos: 5, Seq: 12, Option: "trovare_lavoro"},
		{Kind: CbToggle, Pos: 120, Seq: 4294967295, Option: strings.Repeat("x", 32)},
		{Kind: CbDone, Pos: 0, Seq: 0},
		{Kind: CbLanguage, Option: "zh-Hans"},
		{Kind: CbDelete, Option: "yes"},
		{Kind: CbStaff, Option: "r:0.1"},
	}
	for _, c := range good {
		data, err := c.Encode()
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if len(data) > MaxCallbackData {
			t.Fatalf("%q is %d bytes", data, len(data))
		}
		got, err := DecodeCallback(data)
		if err != nil || got != c {
			t.Fatalf("round trip %+v → %q → %+v, %v", c, data, got, err)
		}
	}
	bad := []string{"", "1", "2c5.1.x", "1z5.1.x", "1c5", "1c5.1", "1c-5.1.x", "1c05.1.x", "1cZZZZZZZZZZ.1.x",
		"1c5.zzzzzzzzzzzz.x", strings.Repeat("1c5.1.", 20), "1cA.1.x", "1c5.1Z.x", "1c5.00.x", "1c.1.x", "1c5..x", "1c+5.1.x"}
	for _, data := range bad {
		if c, err := DecodeCallback(data); err == nil {
			t.Errorf("%q decoded as %+v", data, c)
		}
	}
	if _, err := (Callback{Kind: CbChoose, Option: strings.Repeat("x", 60)}).Encode(); err == nil {
		t.Error("over-long callback encoded")
	}
	if _, err := (Callback{Kind: 'q'}).Encode(); err == nil {
		t.Error("unknown kind encoded")
	}
	// Staff buttons have no position, and an option (their route).
	for _, c := range []Callback{{Kind: CbStaff, Pos: 1, Option: "L"}, {Kind: CbStaff}, {Kind: CbStaff, Option: strings.Repeat("x", 63)}} {
		if d, err := c.Encode(); err == nil {
			t.Errorf("%+v encoded as %q", c, d)
		}
	}
}

// TestDecodeCallbackAllocations: a tap's data is decoded once or twice
// per update (the poller's early answer, the turn's routing and steps),
// without an allocation, whatever its numbers' length.
func TestDecodeCallbackAllocations(t *testing.T) {
	for _, data := range []string{"1c5.c.trovare_lavoro", "1t1k.2fz.opt_12", "1dzz.zzzzz.", "1L0.0.zh-Hans", "1Sr:0.1"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = DecodeCallback(data) }); n != 0 {
			t.Errorf("DecodeCallback(%q) allocates %.0f times, want 0", data, n)
		}
	}
}

func FuzzCallbackCodec(f *testing.F) {
	f.Add("1c5.c.trovare_lavoro")
	f.Add("1L0.0.zh-Hans")
	f.Add("garbage")
	f.Add("1Sr:0.1")
	f.Fuzz(func(t *testing.T, data string) {
		c, err := DecodeCallback(data)
		if err != nil {
			return
		}
		again, err := c.Encode()
		if err != nil {
			t.Fatalf("decoded %q but cannot encode %+v: %v", data, c, err)
		}
		if again != data {
			t.Fatalf("%q → %+v → %q", data, c, again)
		}
	})
}

// checkRoutes is the routing table's rule: rows described, staff rows
// with a role and respondents' without, and no prefix a prefix of
// another — across respondents and staff.
func checkRoutes(rs []Route) []string {
	var errs []string
	for i, a := range rs {
		if a.Prefix == "" || a.What == "" || a.Staff != (a.Need != "") || a.Staff && (a.Prefix[0] != CbStaff || len(a.Prefix) < 2) {
			errs = append(errs, "row "+a.Prefix+": empty prefix or description, or a role where there should be none")
		}
		for j, b := range rs {
			if i != j && strings.HasPrefix(b.Prefix, a.Prefix) {
				errs = append(errs, "prefix "+a.Prefix+" of "+a.What+" is a prefix of "+b.Prefix+" of "+b.What)
			}
		}
	}
	return errs
}

// TestRoutesUniqueAcrossRespondentsAndStaff: the one table holds both, and
// the rule catches a duplicate across the two (checked on a table with a
// respondent kind 'S' added, which would swallow every staff button).
func TestRoutesUniqueAcrossRespondentsAndStaff(t *testing.T) {
	rs := Routes()
	staff, resp := 0, 0
	for _, r := range rs {
		if r.Staff {
			staff++
		} else {
			resp++
		}
	}
	if staff == 0 || resp == 0 {
		t.Fatalf("%d staff and %d respondent rows: want both in one table", staff, resp)
	}
	for _, e := range checkRoutes(rs) {
		t.Error(e)
	}
	clash := append(Routes(), respondent(CbStaff, "a respondent kind on the staff byte"))
	if len(checkRoutes(clash)) == 0 {
		t.Error("a respondent row on the staff prefix was not caught")
	}
	dup := append(Routes(), staffRoute(StaffLink+"x", "operator", "a staff route under another"))
	if len(checkRoutes(dup)) == 0 {
		t.Error("a staff route under another was not caught")
	}
}

// TestEveryRouteFitsAndIsFound: data made for each row fits 64 bytes with
// a payload, decodes, and is routed back to its row; every respondent row
// is handled here, and CbStaff hands staff rows on (staff's
// TestEveryRouteHandled covers their handlers).
func TestEveryRouteFitsAndIsFound(t *testing.T) {
	handlers := respondentRoutes()
	for _, r := range Routes() {
		c := Callback{Kind: r.Prefix[0], Pos: 12, Seq: 34, Option: strings.Repeat("x", 32)}
		if r.Staff {
			c = Callback{Kind: CbStaff, Option: r.StaffRoute() + strings.Repeat("x", 40)}
		}
		data, err := c.Encode()
		if err != nil || len(data) > MaxCallbackData {
			t.Fatalf("%s: %q, %v", r.What, data, err)
		}
		got, ok := RouteOf(data)
		if !ok || got != r {
			t.Errorf("%q routed to %+v, want %+v", data, got, r)
		}
		if _, err := DecodeCallback(data); err != nil {
			t.Errorf("%q: %v", data, err)
		}
		if handlers[r.Prefix[0]] == nil {
			t.Errorf("row %q (%s) has no handler", r.Prefix, r.What)
		}
	}
	if len(handlers) != len(Routes())-len(menuRows())+1 {
		t.Errorf("%d handlers for %d respondent rows and CbStaff", len(handlers), len(Routes())-len(menuRows()))
	}
	if _, ok := RouteOf("1q0.0.x"); ok {
		t.Error("unknown data routed")
	}
	// A staff button of the format before the table (position 0.0.)
	// decodes, but routes nowhere: the staff handler calls it stale.
	if r, ok := RouteOf("1S0.0.Lx"); ok {
		t.Errorf("old staff data routed to %+v", r)
	}
}

func menuRows() []Route {
	var out []Route
	for _, r := range Routes() {
		if r.Staff {
			out = append(out, r)
		}
	}
	return out
}
