package redisstore_test

import (
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

func TestTake(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.Options{})
	steps := []struct{ n, want int }{{3, 3}, {3, 2}, {3, 0}}
	for i, st := range steps {
		got, retry, err := s.Take(ctx, "telegram:global", 5, time.Hour, st.n)
		if err != nil || got != st.want {
			t.Fatalf("step %d: took %d (%v), want %d", i, got, err, st.want)
		}
		if got == 0 && retry <= 0 {
			t.Fatalf("step %d: nothing taken and no retry-after", i)
		}
	}
	if _, _, err := s.Take(ctx, "x", 0, time.Second, 1); err == nil {
		t.Fatal("bad limit accepted")
	}
}
