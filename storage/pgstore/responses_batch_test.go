package pgstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/pgstore"
)

// TestSaveResponsesBatch: a batch is stored as SaveResponse stores each
// response (answers, pending rollup, duration), idempotently by id and by
// idempotency key, within the batch and across batches; a batch with an
// invalid response, whether Validate or Postgres refuses it, stores
// nothing and fails with ErrInvalid.
func TestSaveResponsesBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var cs []pgstore.Completed
	for _, id := range []string{"b1", "b2", "b3"} {
		c := e.completed(t, id, "p-"+id)
		c.Idem = "idem-" + id
		cs = append(cs, c)
	}
	again := cs[1]         // the same response twice in one batch
	replay := cs[2]        // another id, the same idempotency key
	replay.ID = "b3-again" //
	if err := e.db.SaveResponses(ctx, append(cs, again, replay)); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SaveResponses(ctx, cs); err != nil { // a drain replayed
		t.Fatal(err)
	}
	if n := e.count(t, "SELECT count(*) FROM responses"); n != 3 {
		t.Fatalf("%d responses, want 3", n)
	}
	if n := e.count(t, "SELECT count(*) FROM results_rollup_pending"); n != 3 {
		t.Fatalf("%d pending for the rollup, want 3", n)
	}
	if n := e.count(t, "SELECT count(*) FROM answers WHERE response_id = 'b2'"); n != len(cs[1].Response.Answers) {
		t.Fatalf("%d answers of b2, want %d", n, len(cs[1].Response.Answers))
	}
	if n := e.count(t, "SELECT count(*) FROM responses WHERE duration_s = 690"); n != 3 {
		t.Fatalf("%d responses with their duration, want 3", n)
	}

	good := e.completed(t, "b4", "p-b4")
	for name, mutate := range map[string]func(*pgstore.Completed){
		"no form":              func(c *pgstore.Completed) { c.Response.Form = "" },
		"unknown municipality": func(c *pgstore.Completed) { c.MunicipalityID = 9999; c.ServiceID = nil },
	} {
		bad := e.completed(t, "bad", "p-bad")
		mutate(&bad)
		if err := e.db.SaveResponses(ctx, []pgstore.Completed{good, bad}); !errors.Is(err, pgstore.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM responses WHERE id IN ('b4', 'bad')"); n != 0 {
		t.Fatalf("%d responses of the refused batches stored, want 0", n)
	}
}

// TestDurationSetByTheInsert: SaveResponse computes the duration itself
// (migration 00017: the trigger runs only for writers that leave it
// NULL, as the release before and COPY do), and those writers still get
// it from the trigger.
func TestDurationSetByTheInsert(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.pool.Exec(ctx, "ALTER TABLE responses DISABLE TRIGGER responses_duration"); err != nil {
		t.Fatal(err)
	}
	c := e.completed(t, "d1", "p-d1")
	c.Response.Completed = c.Response.Started.Add(25*time.Minute + 1500*time.Millisecond)
	if err := e.db.SaveResponse(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "SELECT count(*) FROM responses WHERE id = 'd1' AND duration_s = 1502"); n != 1 {
		t.Fatal("SaveResponse left the duration to the trigger")
	}
	if _, err := e.pool.Exec(ctx, "ALTER TABLE responses ENABLE TRIGGER responses_duration"); err != nil {
		t.Fatal(err)
	}
	old := e.completed(t, "d2", "")
	if _, err := e.db.CopyResponses(ctx, []pgstore.Completed{old}, true); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "SELECT count(*) FROM responses WHERE id = 'd2' AND duration_s = 690"); n != 1 {
		t.Fatal("a writer without the duration did not get it from the trigger")
	}
}
