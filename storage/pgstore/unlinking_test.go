package pgstore_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/pgstore"
)

// After retention nothing in a response leads back to its respondent: no
// pseudonym, no idempotency key, no id derived from either, no invite or
// operator, and times only to the day; the duration stays.
func TestRetentionUnlinksForGood(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	e.db.Now = func() time.Time { return now }
	c := e.completed(t, pgstore.NewResponseID(), "alice")
	var op int64
	if err := e.pool.QueryRow(ctx, "INSERT INTO staff (telegram_user_id, role, municipality_id) VALUES (-5, 'operator', $1) RETURNING id", c.MunicipalityID).Scan(&op); err != nil {
		t.Fatal(err)
	}
	var inv int64
	if err := e.pool.QueryRow(ctx, "INSERT INTO invites (token_hash, form, municipality_id, operator_id) VALUES (sha256('single-1'), 'immigrants', $1, $2) RETURNING id", c.MunicipalityID, op).Scan(&inv); err != nil {
		t.Fatal(err)
	}
	c.Invite, c.OperatorID = strconv.FormatInt(inv, 10), &op
	c.Response.Started = time.Date(2025, 11, 3, 22, 58, 7, 0, time.UTC) // 23:58 in Rome
	c.Response.Completed = c.Response.Started.Add(13*time.Minute + 9*time.Second)
	c.Idem = pgstore.IdempotencyKey("alice", c.Response.Form, c.Response.Started)
	if err := e.db.SaveResponse(ctx, c); err != nil {
		t.Fatal(err)
	}
	// A redelivered completion (another random id, same idempotency key)
	// is stored once.
	again := c
	again.ID = pgstore.NewResponseID()
	if err := e.db.SaveResponse(ctx, again); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "SELECT count(*) FROM responses"); n != 1 {
		t.Fatalf("%d responses after a redelivery, want 1", n)
	}
	if n, err := e.db.ApplyRetention(ctx, 180*24*time.Hour); err != nil || n != 1 {
		t.Fatalf("ApplyRetention = %d, %v", n, err)
	}
	var (
		id                 string
		respondent, idem   *string
		invite, operator   *int64
		started, completed time.Time
		duration           int
	)
	err := e.pool.QueryRow(ctx, `SELECT id, respondent, idem, invite_id, operator_id, started_at, completed_at, duration_s
		FROM responses`).Scan(&id, &respondent, &idem, &invite, &operator, &started, &completed, &duration)
	if err != nil {
		t.Fatal(err)
	}
	if respondent != nil || idem != nil || invite != nil || operator != nil {
		t.Fatalf("after retention: respondent %v idem %v invite %v operator %v; want all NULL", respondent, idem, invite, operator)
	}
	rome, _ := time.LoadLocation("Europe/Rome")
	if s := started.In(rome); s.Hour() != 0 || s.Minute() != 0 || s.Second() != 0 || s.Day() != 3 {
		t.Errorf("started %s, want midnight of 3 November in Rome", s)
	}
	if c := completed.In(rome); c.Hour() != 0 || c.Minute() != 0 || c.Day() != 4 {
		t.Errorf("completed %s, want midnight of 4 November in Rome", c)
	}
	if duration != 13*60+9 {
		t.Errorf("duration %d s, want %d", duration, 13*60+9)
	}
	// Nothing recomputable from the pseudonym matches the id.
	for _, guess := range []string{
		pgstore.IdempotencyKey("alice", c.Response.Form, c.Response.Started),
		pgstore.IdempotencyKey("alice", c.Response.Form, started),
	} {
		if strings.HasPrefix(id, guess) || guess == id {
			t.Fatalf("id %s recomputable from the pseudonym", id)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM answers"); n == 0 {
		t.Fatal("answers lost at retention")
	}
	if n, _ := e.db.Erase(ctx, "alice"); n != 0 {
		t.Fatalf("erase found %d unlinked responses", n)
	}
}
