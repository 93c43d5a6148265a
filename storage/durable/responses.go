package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/redisstore"
)

// Responses writes completed responses to Postgres, or queues them in the
// Redis outbox when Postgres cannot take them (the caller — the interview
// core — decides when), and its Run drains the outbox into Postgres, so
// that nothing is lost.
type Responses struct {
	db     *pgstore.DB
	store  *redisstore.Store
	outbox *redisstore.Outbox
}

// NewResponses returns the responses of db, with store's outbox for what
// must wait.
func NewResponses(db *pgstore.DB, store *redisstore.Store, log *slog.Logger) *Responses {
	r := &Responses{db: db, store: store}
	r.outbox = store.Outbox(redisstore.OutboxOptions{Logger: log, Linger: drainLinger, WriteBatch: r.writeBatch})
	return r
}

// drainLinger is how long the drainer waits after a completion before it
// writes (redisstore.OutboxOptions.Linger), so that completions that come
// close together share one Postgres transaction (writeBatch). Issue 19:
// a transaction of its own cost Postgres ~0.4 ms of CPU per completion
// over its rows' work (~0.2 ms), most of it the commit's WAL flush
// (docs/performance.md, "Session 9: pg"). The completion is in Redis
// meanwhile, as it was while it waited for the drain; nobody waits for
// it: the respondent's reply went out with the turn.
const drainLinger = 250 * time.Millisecond

// Save writes the response to Postgres (pgstore.SaveResponse: idempotent by
// ID). A response Postgres refuses as invalid fails with pgstore.ErrInvalid:
// queueing it would not help.
func (r *Responses) Save(ctx context.Context, pc pgstore.Completed) error {
	return r.db.SaveResponse(ctx, pc)
}

// Queue puts the response in the Redis outbox, once per idempotency key
// (a redelivered completion is queued once), under its pseudonym so that
// Erase finds it, and wakes the drainer.
func (r *Responses) Queue(ctx context.Context, pc pgstore.Completed) error {
	key, payload, err := entry(pc)
	if err != nil {
		return err
	}
	if err := r.store.EnqueueFor(ctx, key, pc.Pseudonym, payload); err != nil {
		return fmt.Errorf("queue response: %w", err)
	}
	r.outbox.Kick()
	return nil
}

// SaveCompleted saves the finished interview's state of chat
// (redisstore.Store.SaveDoneCompleted: compare-and-swap from expect to
// next, update marked applied) with the response recorded in the same
// atomic step, and wakes the drainer, which writes it to Postgres after
// (Run): the turn does not wait for Postgres. A conflict
// (redisstore.ErrConflict) records nothing. A response Postgres would
// refuse as invalid fails with pgstore.ErrInvalid, saving nothing.
func (r *Responses) SaveCompleted(ctx context.Context, chat, update int64, expect, next uint64, blob []byte, pc pgstore.Completed) error {
	if err := pc.Validate(); err != nil {
		return err
	}
	key, payload, err := entry(pc)
	if err != nil {
		return err
	}
	if err := r.store.SaveDoneCompleted(ctx, chat, update, expect, next, blob, key, pc.Pseudonym, payload); err != nil {
		return err
	}
	r.outbox.Kick()
	return nil
}

// entry is pc as the outbox keeps it: under its idempotency key (its id
// when it has none), so that a redelivered completion is kept once.
func entry(pc pgstore.Completed) (key string, payload []byte, err error) {
	payload, err = pgstore.MarshalCompleted(pc)
	key = pc.Idem
	if key == "" {
		key = pc.ID
	}
	return key, payload, err
}

// write is the outbox drainer's writer: an entry Postgres refuses as
// invalid, or that does not decode, goes to the dead letters.
func (r *Responses) write(ctx context.Context, payload []byte) error {
	pc, err := pgstore.UnmarshalCompleted(payload)
	if err != nil {
		return redisstore.Permanent(err)
	}
	if err := r.db.SaveResponse(ctx, pc); err != nil {
		if errors.Is(err, pgstore.ErrInvalid) {
			return redisstore.Permanent(err)
		}
		return err
	}
	return nil
}

// writeBatch is the drainer's writer of a drain's completions: all of
// them in one transaction (pgstore.DB.SaveResponses). On any failure the
// outbox writes them one at a time with write, which sends what can never
// be written to the dead letters.
func (r *Responses) writeBatch(ctx context.Context, payloads [][]byte) error {
	cs := make([]pgstore.Completed, len(payloads))
	for i, p := range payloads {
		pc, err := pgstore.UnmarshalCompleted(p)
		if err != nil {
			return err
		}
		cs[i] = pc
	}
	return r.db.SaveResponses(ctx, cs)
}

// Run drains the outbox into Postgres until ctx ends (redisstore.Outbox.Run).
func (r *Responses) Run(ctx context.Context) error { return r.outbox.Run(ctx, r.write) }

// Flush writes what the outbox holds now, at shutdown; what it cannot
// write stays in Redis for the next replica.
func (r *Responses) Flush(ctx context.Context) (int, error) { return r.outbox.Flush(ctx, r.write) }

// Erase deletes the respondent's responses from Postgres and from the
// outbox (queued and dead letters). Postgres is erased again after the
// outbox, in case the drainer wrote an entry in between.
func (r *Responses) Erase(ctx context.Context, pseudonym string) (int, error) {
	n, err := r.db.Erase(ctx, pseudonym)
	if err != nil {
		return n, err
	}
	q, err := r.store.EraseOwner(ctx, pseudonym)
	if err != nil {
		return n, err
	}
	m, err := r.db.Erase(ctx, pseudonym)
	return n + q + m, err
}
