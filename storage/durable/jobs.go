package durable

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/redisstore"
)

// Observer counts what the jobs do (cmd/needsbot's Prometheus metrics).
type Observer interface {
	// Interview counts an interview event; the jobs report "abandoned".
	Interview(event string)
	// Outbox reports the outbox: responses waiting, and dead letters.
	Outbox(pending, dead int64)
}

// abandonBatch is how many abandoned interviews one Redis call claims.
const abandonBatch = 200

// Abandonment records in Postgres the interviews abandoned after consent:
// those the interview core expires through a scheduled job (Record), and
// — the safety net for sessions that have no job, such as those saved
// before expiry jobs existed or whose job could not run within
// redisstore.ExpireGrace — those whose state expired in Redis (Sweep,
// every minute). It also reports the outbox's depth.
type Abandonment struct {
	DB       *pgstore.DB
	Store    *redisstore.Store
	Observer Observer     // nil: not counted
	Logger   *slog.Logger // nil: discarded
	Now      func() time.Time
	Every    time.Duration // between sweeps (a minute)
}

// Sweep records up to one batch of due abandoned interviews, each once
// (pgstore.SaveAbandoned is idempotent by ID, then the Redis record is
// acknowledged), and returns how many it recorded and whether more may be
// due. It stops at the first Postgres failure: what is left stays due.
func (j *Abandonment) Sweep(ctx context.Context) (n int, more bool, err error) {
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	due, err := j.Store.DueAbandoned(ctx, now(), abandonBatch)
	if err != nil {
		return 0, false, err
	}
	for _, d := range due {
		err := j.DB.SaveAbandoned(ctx, pgstore.Abandoned{ID: d.ID, Form: d.Form, FormVersion: d.FormVersion,
			MunicipalityID: d.MunicipalityID, ServiceID: d.ServiceID, Language: d.Language,
			LastQuestion: d.LastQuestion, StartedAt: d.Started, AbandonedAt: d.At,
			Reminded: d.Reminded, Resumed: d.Resumed})
		if err != nil {
			return n, false, err
		}
		if err := j.Store.Ack(ctx, d); err != nil {
			j.logger().Warn("ack abandoned", "err", err)
		}
		n++
		if j.Observer != nil {
			j.Observer.Interview("abandoned")
		}
	}
	return n, len(due) == abandonBatch, nil
}

// Record records in Postgres the abandonment of chat's interview, which
// the interview core expired at at (a scheduled expiry; the sweep is the
// safety net for interviews that have none). Its id is the one of the
// interview's Redis record, fixed for the life of the interview, so that
// recording it again (an expiry applied twice) or the sweep finding it
// later stores it once; without a Redis record (gone already) a fresh
// random id is used.
func (j *Abandonment) Record(ctx context.Context, chat int64, rec redisstore.AbandonRecord, at time.Time) error {
	id, err := j.Store.AbandonID(ctx, chat, rec.Started)
	if err != nil {
		return err
	}
	if id == "" {
		if id, err = randomID(); err != nil {
			return err
		}
	}
	err = j.DB.SaveAbandoned(ctx, pgstore.Abandoned{ID: id, Form: rec.Form, FormVersion: rec.FormVersion,
		MunicipalityID: rec.MunicipalityID, ServiceID: rec.ServiceID, Language: rec.Language,
		LastQuestion: rec.LastQuestion, StartedAt: rec.Started, AbandonedAt: at,
		Reminded: rec.Reminded, Resumed: rec.Resumed})
	return err // counted by the core (its "abandoned" event), not here
}

// Run sweeps until ctx ends: at once, again at once while a sweep found a
// full batch, then every j.Every, reporting the outbox after each wait.
func (j *Abandonment) Run(ctx context.Context) {
	t := time.NewTicker(cmpOr(j.Every, time.Minute))
	defer t.Stop()
	for {
		_, more, err := j.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			j.logger().Warn("abandoned interviews", "err", err)
		}
		if more && err == nil {
			continue
		}
		// The results rollup's job (migration 00011): an advisory lock
		// keeps it to one replica at a time; it adds a batch when enough
		// is pending (pgstore.RollupTick).
		if _, err := j.DB.RollupTick(ctx); err != nil && ctx.Err() == nil {
			j.logger().Warn("results rollup", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		j.reportOutbox(ctx)
	}
}

func (j *Abandonment) reportOutbox(ctx context.Context) {
	if j.Observer == nil {
		return
	}
	depth, err := j.Store.Depth(ctx)
	if err != nil {
		return
	}
	dead, err := j.Store.DeadLetters(ctx)
	if err != nil {
		return
	}
	j.Observer.Outbox(depth, dead)
}

func (j *Abandonment) logger() *slog.Logger { return orDiscard(j.Logger) }

// Retention unlinks responses older than Age from their pseudonyms
// (pgstore.ApplyRetention), at start and every hour.
type Retention struct {
	DB     *pgstore.DB
	Age    time.Duration
	Logger *slog.Logger  // nil: discarded
	Every  time.Duration // between runs (an hour)
}

// Once applies the retention now and returns how many responses it
// unlinked.
func (j *Retention) Once(ctx context.Context) (int, error) {
	n, err := j.DB.ApplyRetention(ctx, j.Age)
	if n > 0 {
		orDiscard(j.Logger).Info("responses unlinked from pseudonyms after the retention period", "responses", n)
	}
	return n, err
}

// Run applies the retention until ctx ends: at once, then every j.Every.
func (j *Retention) Run(ctx context.Context) {
	t := time.NewTicker(cmpOr(j.Every, time.Hour))
	defer t.Stop()
	for {
		if _, err := j.Once(ctx); err != nil && ctx.Err() == nil {
			orDiscard(j.Logger).Warn("retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
