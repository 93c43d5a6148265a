package redisstore

import "testing"

// TestDecideCommonReadsTheMirrorAsTheHead: decideCommon takes a save as
// common only when saveFastLua would (its pattern '^(%d+) (%S+) (%S+)
// (%S+) (%S+)$', its tag compared as a string, its TTL windows): a mirror
// it would not match goes to saveScript, and the new mirror is the one
// the head would write.
func TestDecideCommonReadsTheMirrorAsTheHead(t *testing.T) {
	rd := chatRead{v: 7, e: 1000, hasE: true, recLen: 100}
	tl := &tail{arm: true, armCheck: true, lang: "uk"}
	for _, c := range []struct {
		mirror, want string
	}{
		{"7 500 2000 3000 uk", "8 500 2000 4000 uk"},
		{"7 500 2000 - uk", "8 500 2000 4000 uk"}, // the job armed anew
		{"07 500 2000 3000 uk", ""},               // another tag
		{"7 500 2000 3000 uk x", ""},              // six fields
		{"7 500 2000 3000 u\tk", ""},              // a space of another kind
		{"7 500 2000  uk", ""},                    // an empty field
		{"7 501 2000 3000 uk", ""},                // another interview
		{"7 500 1000 3000 uk", ""},                // the record's TTL moves
		{"7 500 2000 3000 it", ""},                // the reminder in another language
		{"7 500 2000 x uk", ""},                   // a job's due time that is no number
	} {
		rd.mirror = c.mirror
		b, cs := decideCommon(nil, rd, 7, 8, true, "500", 1100, 900, 2100, 1900, 4000, tl)
		if got := string(b); !cs.ok && got != "" || cs.ok && got != c.want || cs.ok != (c.want != "") {
			t.Errorf("mirror %q: common %v, new mirror %q; want %q", c.mirror, cs.ok, got, c.want)
		}
	}
	// The state's TTL window, and a language choice.
	rd.mirror = "7 500 2000 3000 uk"
	for _, r := range []chatRead{{v: 7, e: 1200, hasE: true}, {v: 7, e: 800, hasE: true}, {v: 7, hasE: false}, {v: 7, e: 1000, hasE: true, waiting: true}, {v: 6, e: 1000, hasE: true}} {
		r.mirror = rd.mirror
		if _, cs := decideCommon(nil, r, 7, 8, true, "500", 1100, 900, 2100, 1900, 4000, tl); cs.ok {
			t.Errorf("%+v: taken as common", r)
		}
	}
}
