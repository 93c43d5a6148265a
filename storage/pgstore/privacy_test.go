package pgstore_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

func TestErase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, p := range []string{"alice", "alice", "bob"} {
		if err := e.db.SaveResponse(ctx, e.completed(t, fmt.Sprint("r", i), p)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.db.Erase(ctx, "alice")
	if err != nil || n != 2 {
		t.Fatalf("Erase = %d, %v; want 2", n, err)
	}
	if n := e.count(t, "SELECT count(*) FROM responses WHERE respondent = 'alice'"); n != 0 {
		t.Fatalf("%d of alice's responses left", n)
	}
	if n := e.count(t, "SELECT count(*) FROM answers WHERE response_id IN ('r0', 'r1')"); n != 0 {
		t.Fatalf("%d of alice's answers left", n)
	}
	if n := e.count(t, "SELECT count(*) FROM answer_choices WHERE response_id IN ('r0', 'r1')"); n != 0 {
		t.Fatalf("%d of alice's choices left", n)
	}
	if n := e.count(t, "SELECT count(*) FROM answers WHERE response_id = 'r2'"); n == 0 {
		t.Fatal("bob's answers erased too")
	}
	var actor *int64
	var detail []byte
	err = e.pool.QueryRow(ctx, "SELECT actor_id, detail FROM audit_log WHERE action = 'erase'").Scan(&actor, &detail)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	json.Unmarshal(detail, &d)
	if actor != nil || len(d) != 1 || d["responses"] != float64(2) {
		t.Fatalf("audit entry actor=%v detail=%s; want no actor, {\"responses\": 2}", actor, detail)
	}
	// Erasing someone with nothing stored is fine, and audited too.
	if n, err := e.db.Erase(ctx, "carol"); err != nil || n != 0 {
		t.Fatalf("Erase(carol) = %d, %v", n, err)
	}
	if _, err := e.db.Erase(ctx, ""); err == nil {
		t.Fatal("Erase of the empty pseudonym succeeded")
	}
}

func TestApplyRetention(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	e.db.Now = func() time.Time { return now }
	for i, age := range []time.Duration{400 * 24 * time.Hour, 200 * 24 * time.Hour, 10 * 24 * time.Hour} {
		c := e.completed(t, fmt.Sprint("r", i), "alice")
		c.Response.Completed = now.Add(-age)
		c.Response.Started = c.Response.Completed.Add(-10 * time.Minute)
		if err := e.db.SaveResponse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.db.ApplyRetention(ctx, 180*24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("ApplyRetention = %d, %v; want 2", n, err)
	}
	if n := e.count(t, "SELECT count(*) FROM responses WHERE respondent IS NULL AND id IN ('r0', 'r1')"); n != 2 {
		t.Fatal("old responses still identified")
	}
	if n, _ := e.db.ApplyRetention(ctx, 180*24*time.Hour); n != 0 {
		t.Fatalf("second run anonymised %d", n)
	}
	// Anonymous responses stay counted but can no longer be erased.
	if n, _ := e.db.Erase(ctx, "alice"); n != 1 {
		t.Fatalf("Erase after retention = %d, want 1 (the recent one)", n)
	}
	if n := e.count(t, "SELECT count(*) FROM responses"); n != 2 {
		t.Fatalf("%d responses left, want the 2 anonymised", n)
	}
	if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action = 'retention'"); n != 1 {
		t.Fatalf("%d retention audit entries, want 1", n)
	}
	if _, err := e.db.ApplyRetention(ctx, 0); err == nil {
		t.Fatal("ApplyRetention(0) succeeded")
	}
}

func TestAuditLogAppendOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.db.Audit(ctx, nil, "invite.create", map[string]string{"form": "immigrants"}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Audit(ctx, nil, "startup", nil); err != nil {
		t.Fatal(err)
	}
	var staff int64
	if err := e.pool.QueryRow(ctx, "INSERT INTO staff (telegram_user_id, role) VALUES (1, 'admin') RETURNING id").Scan(&staff); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Audit(ctx, &staff, "staff.add", struct{ Role string }{"admin"}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Audit(ctx, nil, "", nil); err == nil {
		t.Fatal("empty action accepted")
	}
	for _, q := range []string{
		"UPDATE audit_log SET action = 'forged'",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
	} {
		if _, err := e.pool.Exec(ctx, q); err == nil {
			t.Errorf("%s: succeeded on the append-only audit log", q)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM audit_log WHERE action <> 'forged'"); n != 3 {
		t.Fatalf("%d entries, want 3 untouched", n)
	}
}

// TestNoRawTelegramIDStored stores a respondent's data by every path — a
// completed response written directly and through the outbox, an abandoned
// interview, an erasure, retention — and then looks for the raw Telegram
// user id in every column of every row of every table.
func TestNoRawTelegramIDStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rdb, prefix := storagetest.Redis(t)
	rs := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	key := []byte("a secret key of at least 32 bytes!")
	const userID = int64(7_123_456_789)
	raw := strconv.FormatInt(userID, 10)
	pseudonym := storage.Pseudonym(key, userID)

	c := e.completed(t, "direct", pseudonym)
	c.Response.Context = map[string]string{"invite": "qr1"}
	if err := e.db.SaveResponse(ctx, c); err != nil {
		t.Fatal(err)
	}
	c2 := e.completed(t, "via-outbox", pseudonym)
	payload, err := pgstore.MarshalCompleted(c2)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Enqueue(ctx, c2.ID, payload); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Outbox(redisstore.OutboxOptions{}).Flush(ctx, e.write); err != nil {
		t.Fatal(err)
	}
	c3 := e.completed(t, "to-erase", storage.Pseudonym(key, userID+1))
	if err := e.db.SaveResponse(ctx, c3); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Erase(ctx, c3.Pseudonym); err != nil {
		t.Fatal(err)
	}
	m, s := e.municipality(t, "100005", "anagrafe")
	err = e.db.SaveAbandoned(ctx, pgstore.Abandoned{ID: "ab1", Form: "immigrants", FormVersion: 2, MunicipalityID: m,
		ServiceID: s, Language: "zh", LastQuestion: "q_work", StartedAt: c.Response.Started, AbandonedAt: c.Response.Completed})
	if err != nil {
		t.Fatal(err)
	}
	old := e.completed(t, "old", pseudonym)
	old.Response.Started = old.Response.Started.AddDate(-2, 0, 0)
	old.Response.Completed = old.Response.Completed.AddDate(-2, 0, 0)
	if err := e.db.SaveResponse(ctx, old); err != nil {
		t.Fatal(err)
	}
	e.db.Now = func() time.Time { return c.Response.Completed.AddDate(0, 1, 0) }
	if n, err := e.db.ApplyRetention(ctx, 365*24*time.Hour); err != nil || n != 1 {
		t.Fatalf("ApplyRetention = %d, %v; want 1", n, err)
	}
	if n := e.count(t, "SELECT count(*) FROM responses WHERE respondent = $1", pseudonym); n != 2 {
		t.Fatalf("%d responses under the pseudonym, want 2", n)
	}

	rows, err := e.pool.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
		FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	if len(tables) < 10 {
		t.Fatalf("found only tables %v", tables)
	}
	for _, table := range tables {
		// A row cast to text holds every column, whatever its type.
		n := e.count(t, "SELECT count(*) FROM "+table+" AS t WHERE strpos(t::text, $1) > 0", raw)
		if n != 0 {
			t.Errorf("table %s: %d rows contain the raw Telegram user id", table, n)
		}
	}
	// The sanity check of the check: the pseudonym is found.
	if n := e.count(t, "SELECT count(*) FROM responses AS t WHERE strpos(t::text, $1) > 0", pseudonym); n != 2 {
		t.Fatalf("row scan finds the pseudonym in %d rows, want 2", n)
	}
}
