package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// TestPublishedVersionReachesRunningInterviews (issue 12: a form published
// while interviews run, delivered through the core): with the bot running,
// version 2 of a live-published form is published from the shell. The
// replica that reloads announces it, the scheduler leases the fan-out job,
// and every chat waiting at the form's language choice gets one
// KindPublished input through its mailbox: a respondent who was sitting at
// the language choice of version 1 answers version 2, one half-way
// through version 1 finishes on version 1.
func TestPublishedVersionReachesRunningInterviews(t *testing.T) {
	t.Parallel()
	h := newHarness(t, telegramtest.WithoutRateLimits())
	h.env["NEEDSBOT_TELEGRAM_CHAT_RATE"] = "100"
	h.env["NEEDSBOT_ADMIN_IDS"] = "7400001"
	delete(h.env, "NEEDSBOT_DEFAULT_MUNICIPALITY")
	ctx := context.Background()
	swaps := h.formsSwaps()
	h.start()
	publish := func(path string) (string, int) {
		var out, errb bytes.Buffer
		code := run(ctx, []string{"form", "publish", path}, func(k string) string { return h.env[k] }, nil, &out, &errb)
		m := regexp.MustCompile(`published (\w+) version (\d+) for `).FindStringSubmatch(out.String())
		if code != 0 || m == nil {
			t.Fatalf("publish %s = %d\n%s%s", path, code, out.String(), errb.String())
		}
		return m[1], len(m[2])
	}
	id, _ := publish("testdata/forms/vicinato.xlsx")
	if s := awaitSwap(t, swaps, h); s.Forms.Get(id, 1) == nil {
		t.Fatalf("snapshot lacks %s v1", id)
	}

	// An invite link to it.
	admin := &respondent{t: t, u: h.tg.User(7400001, telegramtest.FirstName("Ada"), telegramtest.LanguageCode("en"))}
	admin.send("/invite")
	admin.tap(pick(admin.question().Labels(), "Continue without"))
	var label string
	for _, l := range flat(admin.question().Labels()) {
		if strings.Contains(l, "Neighbourhood") {
			label = l
		}
	}
	if label == "" {
		t.Fatalf("invite menu lacks the published form: %v", admin.question().Labels())
	}
	admin.tap(label)
	admin.tap("Roma")
	admin.tap("No particular service")
	admin.tap(pick(admin.question().Labels(), "🪧"))
	admin.tap(pick(admin.question().Labels(), ""))
	_, token := linkIn(t, admin.u.Last())

	steps := []string{"Yes", "18–34", "type:2", "⬜ Health", "done", "⬜ Housing", "done", "type:More parks"}
	walk := func(r *respondent, steps []string) {
		for _, s := range steps {
			switch {
			case s == "done":
				r.tap(pick(r.question().Labels(), "✓ "))
			case strings.HasPrefix(s, "type:"):
				r.send(strings.TrimPrefix(s, "type:"))
			default:
				r.tap(s)
			}
		}
	}
	// French speakers: the form speaks it and en only, so it asks.
	waiting := &respondent{t: t, u: h.tg.User(7410001, telegramtest.LanguageCode("fr"))}
	waiting.send("/start " + token)
	if got := flat(waiting.question().Labels()); len(got) != 2 || !slices.Contains(got, "English") {
		t.Fatalf("language menu: %v\n%s", got, waiting.u.Transcript())
	}
	halfway := &respondent{t: t, u: h.tg.User(7410002, telegramtest.LanguageCode("fr"))}
	halfway.send("/start " + token)
	halfway.tap("English")
	walk(halfway, steps[:3])

	// Version 2: the same workbook, its settings' version raised.
	wb, err := excelize.OpenFile("testdata/forms/vicinato.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	if err := wb.SetCellInt("settings", "B2", 2); err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(t.TempDir(), "vicinato-v2.xlsx")
	if err := wb.SaveAs(v2); err != nil {
		t.Fatal(err)
	}
	publish(v2)
	if s := awaitSwap(t, swaps, h); s.Forms.Get(id, 2) == nil {
		t.Fatalf("snapshot lacks %s v2", id)
	}
	// The fan-out job is done once its marker is set (bounded wait; the
	// scheduler ticks every second).
	opt, err := redis.ParseURL(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	done := h.env["NEEDSBOT_REDIS_PREFIX"] + "{publish}:d:" + id + "|2"
	for deadline := time.Now().Add(slow(45 * time.Second)); rdb.Exists(ctx, done).Val() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the publication of %s v2 was not fanned out; logs:\n%s", id, h.logs.String())
		}
	}

	waiting.tap("English")
	walk(waiting, steps)
	walk(halfway, steps[3:])
	if waiting.live() != 0 || halfway.live() != 0 {
		t.Fatalf("interviews did not end:\n%s\n%s", waiting.u.Transcript(), halfway.u.Transcript())
	}
	if n := h.count(`SELECT count(*) FROM responses WHERE form = $1 AND form_version = 2`, id); n != 1 {
		t.Fatalf("%d responses on version 2, want 1 (the one waiting at the language choice)", n)
	}
	if n := h.count(`SELECT count(*) FROM responses WHERE form = $1 AND form_version = 1`, id); n != 1 {
		t.Fatalf("%d responses on version 1, want 1 (the one half-way through)", n)
	}
}
