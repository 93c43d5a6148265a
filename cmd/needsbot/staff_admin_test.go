package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

func TestAdminCommand(t *testing.T) {
	t.Parallel()
	dsn := storagetest.Postgres(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	tg := telegramtest.NewServer(telegramtest.WithBotUsername("comune_bot"))
	t.Cleanup(tg.Close)
	env := map[string]string{"NEEDSBOT_DATABASE_URL": dsn}
	admin := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"admin"}, args...), func(k string) string { return env[k] }, nil, &out, &errb)
		return code, out.String(), errb.String()
	}
	cases := []struct {
		args []string
		code int
		want string // in stdout (code 0) or stderr
	}{
		{[]string{"municipality", "list"}, 0, "058091  Roma"},
		{[]string{"municipality", "add", "--istat", "048017", "--name", "Firenze"}, 0, "added 048017 Firenze"},
		{[]string{"municipality", "add", "--istat", "048017", "--name", "Firenze"}, 2, "already exists"},
		{[]string{"municipality", "add", "--istat", "4801", "--name", "X"}, 2, "six digits"},
		{[]string{"municipality", "add", "--name", "X"}, 2, "--istat and --name are required"},
		{[]string{"service", "add", "--municipality", "048017", "--code", "sportello_immigrati", "--name", "Sportello immigrati"}, 0, "added sportello_immigrati"},
		{[]string{"service", "add", "--municipality", "048017", "--code", "Bad Code", "--name", "X"}, 2, "lowercase"},
		{[]string{"service", "add", "--municipality", "999999", "--code", "x", "--name", "X"}, 2, "no municipality with ISTAT code 999999"},
		{[]string{"service", "list", "--municipality", "048017"}, 0, "sportello_immigrati  Sportello immigrati"},
		{[]string{"municipality", "list"}, 0, "048017  Firenze  1"},
		{[]string{"staff", "link", "--role", "manager", "--municipality", "048017", "--bot", "comune_bot"}, 0, "https://t.me/comune_bot?start=staff-"},
		{[]string{"staff", "link", "--role", "operator", "--municipality", "048017", "--service", "sportello_immigrati", "--bot", "x_bot"}, 0, "?start=staff-"},
		{[]string{"staff", "link", "--role", "operator", "--municipality", "048017", "--service", "nope", "--bot", "x_bot"}, 2, "has no service"},
		{[]string{"staff", "link", "--role", "admin", "--municipality", "048017", "--bot", "x_bot"}, 2, "an admin link has no"},
		{[]string{"staff", "link", "--role", "boss", "--bot", "x_bot"}, 2, "--role must be"},
		{[]string{"staff", "link", "--role", "admin"}, 2, "--bot USERNAME is required"},
		{[]string{"staff", "revoke", "--id", "42"}, 2, "no active staff member with id 42"},
		{[]string{"staff", "frobnicate"}, 2, "unknown"},
		{[]string{"nothing"}, 2, "usage: needsbot admin"},
	}
	for _, tc := range cases {
		code, out, errs := admin(tc.args...)
		got := out
		if tc.code != 0 {
			got = errs
		}
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("admin %s = %d\nstdout: %s\nstderr: %s\nwant %d with %q", strings.Join(tc.args, " "), code, out, errs, tc.code, tc.want)
		}
	}
	// The bot's username from Telegram when a token is configured.
	env["NEEDSBOT_TELEGRAM_TOKEN"], env["NEEDSBOT_TELEGRAM_API_URL"] = tg.Token(), tg.URL
	code, out, errs := admin("staff", "link", "--role", "admin")
	if code != 0 || !strings.Contains(out, "https://t.me/comune_bot?start=staff-") {
		t.Fatalf("link via getMe: %d %s %s", code, out, errs)
	}
	// A link from the command line works like one from Telegram, and the
	// enrolled member can be listed and revoked.
	db, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	token := regexp.MustCompile(`start=(staff-[A-Za-z0-9_-]+)`).FindStringSubmatch(out)[1]
	c, err := db.ClaimStaffLink(ctx, token, 555, "Ada", time.Now())
	if err != nil || c.Staff.Role != "admin" || c.CreatedBy != 0 {
		t.Fatalf("claim of a command-line link: %+v %v", c, err)
	}
	if code, out, _ := admin("staff", "list"); code != 0 || !strings.Contains(out, "admin") || !strings.Contains(out, "Ada") {
		t.Fatalf("staff list: %d %s", code, out)
	}
	if code, out, errs := admin("staff", "revoke", "--id", itoa64(c.Staff.ID)); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %s %s", code, out, errs)
	}
	var audited int
	if err := dbCount(ctx, dsn, `SELECT count(*) FROM audit_log WHERE actor_id IS NULL AND action IN
		('municipality.add', 'service.add', 'staff.link.create', 'staff.revoke')`, &audited); err != nil || audited != 6 {
		t.Fatalf("%d command-line changes audited, want 6 (%v)", audited, err)
	}
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }

func dbCount(ctx context.Context, dsn, q string, n *int) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.QueryRow(ctx, q).Scan(n)
}
