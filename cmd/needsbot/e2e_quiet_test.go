package main

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// TestEndToEndQuietHours (issue 16): the real binary with an injected clock
// (clockHook) and NEEDSBOT_QUIET_HOURS=21-9. A respondent who pauses after
// consent at 22:30 Rome time is scheduled for 09:00 the next morning, not
// for 22:30:05; one who pauses at 10:00 is scheduled 5 s later. The
// scheduler runs on the same injected clock, which stands still at each
// case's time, so nothing falls due while the test runs: what is asserted
// is the schedule itself.
func TestEndToEndQuietHours(t *testing.T) {
	t.Parallel()
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().In(rome).AddDate(0, 0, 2)
	at := func(d, h, m, s int) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day()+d, h, m, s, 0, rome)
	}
	var now atomic.Int64
	h := newHarness(t)
	h.env["NEEDSBOT_REMINDER_AFTER"] = "5s"
	h.env["NEEDSBOT_QUIET_HOURS"] = "21-9"
	h.clock = func() time.Time { return time.Unix(0, now.Load()) }
	h.start()

	opt, err := redis.ParseURL(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	due := func() []int64 {
		zs, err := rdb.ZRangeWithScores(context.Background(), h.env["NEEDSBOT_REDIS_PREFIX"]+"remind:due", 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, z := range zs {
			out = append(out, int64(z.Score))
		}
		slices.Sort(out)
		return out
	}

	cases := []struct {
		name     string
		user     int64
		now, due time.Time
	}{
		{"at 22:30 the reminder waits for 09:00", 5580001, at(0, 22, 30, 0), at(1, 9, 0, 0)},
		{"at 10:00 it is due 5 s later", 5580002, at(0, 10, 0, 0), at(0, 10, 0, 5)},
	}
	var want []int64
	for _, c := range cases {
		now.Store(c.now.UnixNano())
		r := &respondent{t: t, u: h.tg.User(c.user, telegramtest.LanguageCode("it"))}
		r.send("/start")
		r.tap("Italiano")
		r.tap("Sì, accetto")
		// The arm of a turn is written with the chat's next load (or after
		// the tail delay): one more answer writes it, armed at the same time.
		r.tap(pick(r.question().Labels(), "Da 25"))
		want = append(want, c.due.UnixMilli())
		slices.Sort(want)
		if got := due(); !slices.Equal(got, want) {
			t.Fatalf("%s: reminders due %v, want %v (%s)", c.name, times(got, rome), times(want, rome), c.due)
		}
	}
	if n := remindersOf(h.tg.User(5580001)) + remindersOf(h.tg.User(5580002)); n != 0 {
		t.Fatalf("%d reminders sent inside the test, want none yet", n)
	}
}

func times(ms []int64, loc *time.Location) []string {
	var out []string
	for _, m := range ms {
		out = append(out, time.UnixMilli(m).In(loc).Format("2006-01-02 15:04:05"))
	}
	return out
}
