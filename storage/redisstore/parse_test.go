package redisstore

import (
	"strings"
	"testing"
	"time"
)

// Load's errors end up in logs: they never carry the reply's content.
func TestParseLoadErrorsHoldNoContent(t *testing.T) {
	const secret = "ANSWER-permesso-asilo"
	for _, res := range []chatReply{
		{"", secret, secret, "0"}, // bad version
		{"", "1", secret, secret}, // bad message id
	} {
		_, _, _, _, err := parseLoad(res)
		if err == nil {
			t.Fatalf("%v: no error", res)
		}
		if strings.Contains(err.Error(), "ANSWER") {
			t.Errorf("error shows the reply: %v", err)
		}
	}
}

// countIn reads the seen record's header and entries as inboundScript
// does: an update listed (first or later), at or below the floor or the
// highest id counted is not counted; otherwise GCRA.
func TestCountIn(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	const limit, per = 2, 10 * time.Second
	for _, c := range []struct {
		name, rec string
		lim       limState
		update    int64
		v         int64
		counted   bool
	}{
		{"no record", "", limState{}, 50, 1, true},
		{"listed first", "1 0 0:0 0 50:a 51:s", limState{}, 50, 1, false},
		{"listed later", "1 0 0:0 0 49:a 50:s", limState{}, 50, 1, false},
		{"not listed, prefix of another", "1 0 0:0 0 500:a 5:s", limState{}, 50, 1, true},
		{"at the floor", "1 50 0:0 0", limState{}, 50, 1, false},
		{"at the highest counted", "1 0 0:50 0", limState{}, 50, 1, false},
		{"counted in the state hash", "1 0 0:0 0", limState{0, 50, 0}, 50, 1, false},
		{"over the limit, first", "1 0 1015000:49 0", limState{}, 50, 2, false},
		{"over the limit, told", "1 0 1015000:49 1005000", limState{}, 50, 0, false},
		{"over the limit by the state hash", "1 0 0:0 0", limState{1015000, 49, 0}, 50, 2, false},
	} {
		v, got, ok := countIn(c.rec, c.lim, pendingCount{}, c.update, limit, per, now)
		if !ok || v != c.v || (got.hc == c.update) != c.counted {
			t.Errorf("%s: v %d count %+v ok %v; want v %d counted %v", c.name, v, got, ok, c.v, c.counted)
		}
	}
	if _, _, ok := countIn("garbage", limState{}, pendingCount{}, 50, limit, per, now); ok {
		t.Error("an unreadable record was counted")
	}
}
