package redisstore

import (
	"testing"

	"github.com/needsbot/needsbot/storage"
)

// chatID's cache must give the derived id the HMAC gives, on a miss, a
// hit, and after the cache was emptied for size.
func TestChatIDCacheSameAsKeyed(t *testing.T) {
	s := New(nil, Options{Prefix: "t:", KeySecret: []byte("secret")})
	for round := 0; round < 2; round++ {
		for _, chat := range []int64{1, -100123, 42, 1 << 40} {
			want := storage.Keyed([]byte("secret"), "redis", chat)[:32]
			if got := s.chatID(chat); got != want {
				t.Fatalf("chatID(%d) round %d = %q, want %q", chat, round, got, want)
			}
		}
	}
	for chat := int64(0); chat < maxChatIDs+10; chat++ {
		s.chatID(chat)
	}
	if n := s.nChatIDs.Load(); n > maxChatIDs {
		t.Fatalf("cache holds %d entries, bound %d", n, maxChatIDs)
	}
	if got, want := s.chatID(7), storage.Keyed([]byte("secret"), "redis", 7)[:32]; got != want {
		t.Fatalf("after emptying: %q, want %q", got, want)
	}
}
