package redisstore

import (
	"strings"
	"testing"
	"time"
)

// TestSeenSummary: what an entry keeps of a seen record.
func TestSeenSummary(t *testing.T) {
	for _, c := range []struct {
		rec, head string
		max       int64
		ok        bool
	}{
		{"", "", 0, true},
		{"17 0 0 0", "17 0 0 0", 0, true},
		{"17 5 12:9 0 3:a 3:s -88:a 12:a 4:s", "17 5 12:9 0", 12, true},
		{"17 5 0 0 -7:a", "17 5 0 0", 0, true},
		{"17 5 0", "", 0, false},
		{"17 5 0 0 x:a", "", 0, false},
		{"17 5 0 0 3", "", 0, false},
	} {
		head, m, ok := seenSummary(c.rec)
		if head != c.head || m != c.max || ok != c.ok {
			t.Errorf("%q: %q %d %v; want %q %d %v", c.rec, head, m, ok, c.head, c.max, c.ok)
		}
	}
}

// TestWarmBounded: the entries kept for the chats' next Loads stay within
// warmMaxEntries and warmMaxBytes however many chats save, the idle go
// first, and RunTails' sweep drops those idle past warmIdle.
func TestWarmBounded(t *testing.T) {
	now := time.Now()
	s := New(nil, Options{TailDelay: time.Minute, Now: func() time.Time { return now }})
	head := "1796689572387 0 1796689572390:1005 0"
	blob := strings.Repeat("b", 600)
	for c := range int64(3 * warmMaxEntries) {
		w := &warmChat{at: now, head: head, recLen: 1000, maxID: 1005, ready: true}
		w.vals[1] = blob
		s.mu.Lock()
		s.warmPut(c, w, now)
		n, b := len(s.warm), s.warmBytes
		s.mu.Unlock()
		if n > warmMaxEntries || b > warmMaxBytes {
			t.Fatalf("after %d chats: %d entries, %d bytes", c+1, n, b)
		}
	}
	n, b := s.WarmChats()
	sum := 0
	for _, w := range s.warm {
		sum += w.size
	}
	if n == 0 || b != sum {
		t.Fatalf("%d entries, %d bytes counted, %d held", n, b, sum)
	}
	// An idle one goes before the fresh.
	old := now.Add(-2 * warmIdle)
	s.mu.Lock()
	for c, w := range s.warm {
		w.at = old
		s.warm[c] = w
		break
	}
	s.mu.Unlock()
	s.warmSweep(now)
	if m, _ := s.WarmChats(); m != n-1 {
		t.Fatalf("sweep left %d of %d entries, want one idle gone", m, n)
	}
	s.warmSweep(now.Add(warmIdle + time.Second))
	if m, b := s.WarmChats(); m != 0 || b != 0 {
		t.Fatalf("sweep after warmIdle left %d entries, %d bytes", m, b)
	}
}
