package redisstore_test

import (
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// Limited reads the limit without counting: any number of checks leave
// room for the events Allow counts, and it says "limited" exactly when
// Allow would refuse the next one.
func TestLimited(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	for i := range 3 {
		for range 5 {
			if limited, err := s.Limited(ctx, "bad-token:1", 3, time.Hour); err != nil || limited {
				t.Fatalf("after %d events: limited=%v %v, want room", i, limited, err)
			}
		}
		if ok, err := s.Allow(ctx, "bad-token:1", 3, time.Hour); err != nil || !ok {
			t.Fatalf("event %d: %v %v, want allowed", i+1, ok, err)
		}
	}
	if limited, err := s.Limited(ctx, "bad-token:1", 3, time.Hour); err != nil || !limited {
		t.Fatalf("after 3 events: limited=%v %v, want limited", limited, err)
	}
	if ok, _ := s.Allow(ctx, "bad-token:1", 3, time.Hour); ok {
		t.Fatal("Allow admitted what Limited refused")
	}
	if limited, _ := s.Limited(ctx, "bad-token:2", 3, time.Hour); limited {
		t.Fatal("another key was limited")
	}
	if _, err := s.Limited(ctx, "x", 0, time.Hour); err == nil {
		t.Fatal("limit 0 accepted")
	}
}
