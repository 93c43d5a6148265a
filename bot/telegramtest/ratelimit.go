package telegramtest

import (
	"math"
	"time"
)

// Limit is a token bucket: Burst messages at once, refilled at Rate per
// second. A zero Limit does not limit.
type Limit struct {
	Rate  float64
	Burst int
}

func (l Limit) off() bool { return l.Rate <= 0 || l.Burst <= 0 }

// RateLimits model Telegram's flood control. New messages count against the
// chat's bucket (Chat for private chats, Group for groups, supergroups and
// channels) and the bot's (Global); edits only against the bot's.
type RateLimits struct {
	Chat   Limit
	Group  Limit
	Global Limit
}

// DefaultRateLimits returns limits close to Telegram's documented ones: about
// one message per second per chat with a small burst, 20 per minute in a
// group, 30 per second per bot.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Chat:   Limit{Rate: 1, Burst: 5},
		Group:  Limit{Rate: 20.0 / 60, Burst: 5},
		Global: Limit{Rate: 30, Burst: 30},
	}
}

type bucket struct {
	tokens  float64
	last    time.Time
	started bool
}

// refill brings the bucket up to now and returns how long until one token is
// available (0 if one is).
func (b *bucket) refill(now time.Time, l Limit) time.Duration {
	if l.off() {
		return 0
	}
	if !b.started {
		b.tokens, b.last, b.started = float64(l.Burst), now, true
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(float64(l.Burst), b.tokens+elapsed.Seconds()*l.Rate)
		b.last = now
	}
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / l.Rate * float64(time.Second))
}

func (b *bucket) take(l Limit) {
	if !l.off() {
		b.tokens--
	}
}

// retryAfter is the whole number of seconds Telegram would ask to wait.
func retryAfter(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
