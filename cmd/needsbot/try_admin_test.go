//go:build !prod

package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/internal/trykit"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// Session 14 (staff3): try has an admin persona, so that comparing
// municipalities and managing staff can be walked too (there were a
// respondent, an operator and a manager only). Its button fills the demo
// municipality and a second one with synthetic interviews; then /results,
// ⚖️ Compare shows both, counts protected as everywhere (multiples of 5,
// small ones hidden), and /municipalities lists them.
func TestTryAdminComparesMunicipalities(t *testing.T) {
	t.Parallel()
	dsn := storagetest.Postgres(t)
	_, prefix := storagetest.Redis(t)
	r := startTry(t, map[string]string{"NEEDSBOT_DATABASE_URL": dsn, "NEEDSBOT_REDIS_URL": storagetest.RedisURL(),
		"NEEDSBOT_REDIS_PREFIX": prefix}, nil)
	if out := r.out.String(); !strings.Contains(out, "admin 4503599627370499 of every municipality") ||
		!strings.Contains(out, "or an admin: switch on the page") {
		t.Fatalf("try does not say there is an admin:\n%s", out)
	}
	c := &pageClient{t: t, base: r.url}
	var cfg struct {
		Personas []struct {
			Key         string `json:"key"`
			Description string `json:"description"`
			Action      *struct {
				Label string `json:"label"`
			} `json:"action"`
		} `json:"personas"`
	}
	c.call("GET", "/api/config", nil, &cfg)
	var admin int
	for admin = range cfg.Personas {
		if cfg.Personas[admin].Key == "admin" {
			break
		}
	}
	if p := cfg.Personas[admin]; p.Key != "admin" || p.Action == nil || !strings.Contains(p.Action.Label, "Roma and Milano") {
		t.Fatalf("no admin persona with a button filling two municipalities: %+v", cfg.Personas)
	}

	var act struct {
		Text string `json:"text"`
	}
	c.call("POST", "/api/action", map[string]any{"persona": "admin"}, &act)
	if !strings.Contains(act.Text, "synthetic interviews") {
		t.Fatalf("admin's seed action: %q", act.Text)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, istat := range []string{"058091", "015146"} {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM responses r JOIN municipalities m ON m.id = r.municipality_id
			WHERE m.istat_code = $1`, istat).Scan(&n); err != nil || n < 100 {
			t.Fatalf("after the admin's button %s has %d responses (%v)", istat, n, err)
		}
	}
	var role string
	var muni *int64
	if err := conn.QueryRow(ctx, `SELECT role, municipality_id FROM staff WHERE telegram_user_id = $1 AND revoked_at IS NULL`,
		trykit.DemoAdminID).Scan(&role, &muni); err != nil || role != "admin" || muni != nil {
		t.Fatalf("the demo admin is %q of municipality %v (%v)", role, muni, err)
	}
	conn.Close(ctx)

	var s struct {
		User int64 `json:"user"`
	}
	c.call("POST", "/api/session", map[string]any{"persona": "admin", "lang": "en"}, &s)
	if s.User != trykit.DemoAdminID {
		t.Fatalf("admin persona is user %d, want %d", s.User, trykit.DemoAdminID)
	}
	// waitFor waits until the chat's last message contains want (the
	// staff work queue's "Preparing…" comes first).
	waitFor := func(ch pageChat, want string) (pageChat, shown) {
		t.Helper()
		for range 20 {
			sc := ch.screen()
			if last := sc[len(sc)-1]; strings.Contains(last.Text, want) {
				return ch, last
			}
			ch = c.waitIdle(s.User, ch.Version)
		}
		t.Fatalf("the chat does not end with %q: %+v", want, ch.screen())
		return ch, shown{}
	}
	c.call("POST", "/api/send", map[string]any{"user": s.User, "text": "/results"}, nil)
	ch, sum := waitFor(c.waitIdle(s.User, 0), "Results · All municipalities")
	c.call("POST", "/api/tap", map[string]any{"user": s.User, "message": sum.ID, "label": "⚖️ Compare"}, nil)
	ch, last := waitFor(c.waitIdle(s.User, ch.Version), "Municipalities compared")
	cmp := last.Text
	t.Logf("the comparison:\n%s", cmp)
	// The completed interviews of each: a protected count, never a true
	// one that is not a multiple of 5.
	completed, _, _ := strings.Cut(cmp[strings.Index(cmp, "Completed interviews"):], "\n\n")
	for _, name := range []string{"Roma", "Milano"} {
		m := regexp.MustCompile(`• ` + name + `: (\S+)`).FindStringSubmatch(completed)
		if m == nil || !regexp.MustCompile(`^[1-9][0-9]*[05]$|^[5-9][05]?$`).MatchString(strings.ReplaceAll(m[1], ",", "")) {
			t.Fatalf("%s's completed interviews in the comparison are not a shown protected count:\n%s", name, cmp)
		}
	}
	if !strings.Contains(completed, "• Prato: <") {
		t.Fatalf("Prato (no interviews) is not shown as a small count:\n%s", cmp)
	}

	c.call("POST", "/api/send", map[string]any{"user": s.User, "text": "/municipalities"}, nil)
	sc := c.waitIdle(s.User, ch.Version).screen()
	if last := sc[len(sc)-1].Text; !strings.Contains(last, "Roma") || !strings.Contains(last, "Milano") {
		t.Fatalf("/municipalities: %q", last)
	}
}
