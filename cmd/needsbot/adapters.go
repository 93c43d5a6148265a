package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/redisstore"
)

// sessions adapts the Redis store to interview.Sessions.
type sessions struct{ s *redisstore.Store }

var _ interview.Sessions = sessions{}

func (a sessions) Load(ctx context.Context, chat, update int64) (interview.Loaded, error) {
	blob, version, seen, lastMsg, err := a.s.Load(ctx, chat, update)
	if err != nil {
		return interview.Loaded{}, err
	}
	return interview.Loaded{Blob: blob, Version: version, Seen: interview.Seen(seen), LastMsg: lastMsg}, nil
}

func (a sessions) Save(ctx context.Context, chat, update int64, expect, next uint64, blob []byte, ab *interview.Abandon) error {
	var rec *redisstore.AbandonRecord
	if ab != nil {
		if m := ctxID(ab.Context, interview.CtxMunicipality); m != nil {
			rec = &redisstore.AbandonRecord{Form: ab.Form, FormVersion: ab.FormVersion, MunicipalityID: *m,
				ServiceID: ctxID(ab.Context, interview.CtxService), Language: ab.Language, LastQuestion: ab.LastQuestion,
				Started: time.Unix(ab.Started, 0).UTC()}
		}
	}
	var err error
	if st, derr := dialog.Decode(blob); derr == nil && st.Phase == dialog.PhaseDone {
		// A finished interview keeps only what "already answered" needs,
		// for a short time.
		err = a.s.SaveDone(ctx, chat, update, expect, next, blob)
	} else {
		err = a.s.Save(ctx, chat, update, expect, next, blob, rec)
	}
	if errors.Is(err, redisstore.ErrConflict) {
		return interview.ErrConflict
	}
	return err
}

func (a sessions) MarkSent(ctx context.Context, chat, update int64, lastMsg int) error {
	return a.s.MarkSent(ctx, chat, update, lastMsg)
}

func (a sessions) Delete(ctx context.Context, chat int64) error { return a.s.Delete(ctx, chat) }

// inboundPer is the period of the per-person inbound limit: more than
// NEEDSBOT_INBOUND_LIMIT updates in it get one "slow down" and are
// dropped. A person answering by taps sends about one update a second at
// most; tests and the load test, at machine speed, raise the limit.
const inboundPer = 10 * time.Second

// throttle adapts the Redis store to bot.Throttle.
type throttle struct {
	s     *redisstore.Store
	limit int
}

func (t throttle) Inbound(ctx context.Context, user int64) (bool, bool, error) {
	return t.s.Inbound(ctx, user, t.limit, inboundPer)
}

// messageLog adapts the Redis store to interview.MessageLog.
type messageLog struct{ s *redisstore.Store }

var _ interview.MessageLog = messageLog{}

func (m messageLog) Record(ctx context.Context, chat int64, ids []int) error {
	return m.s.RecordSent(ctx, chat, ids...)
}

func (m messageLog) Recent(ctx context.Context, chat int64) ([]int, error) {
	msgs, err := m.s.SentMessages(ctx, chat)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(msgs))
	for i, x := range msgs {
		ids[i] = x.ID
	}
	return ids, nil
}

func ctxID(c map[string]string, key string) *int64 {
	v, err := strconv.ParseInt(c[key], 10, 64)
	if err != nil || v <= 0 {
		return nil
	}
	return &v
}

// consentVersion names the consent text a response was given under: the
// questionnaire and its version (the intro note is part of it).
func consentVersion(r dialog.Response) string {
	return r.Form + "/" + strconv.Itoa(r.FormVersion)
}

// responses writes completions to Postgres (interview.Responses) and to
// the Redis outbox (interview.Outbox): the core queues what Postgres
// cannot take, so that nothing is lost.
type responses struct {
	db     *pgstore.DB
	store  *redisstore.Store
	outbox *redisstore.Outbox
	forms  *dialog.Library
}

var (
	_ interview.Responses = (*responses)(nil)
	_ interview.Outbox    = (*responses)(nil)
)

func (a *responses) completed(c interview.Completion) (pgstore.Completed, error) {
	r := c.Response
	m := ctxID(r.Context, interview.CtxMunicipality)
	if m == nil {
		return pgstore.Completed{}, fmt.Errorf("response %s has no municipality", c.ID)
	}
	pc := pgstore.Completed{ID: c.ID, Idem: c.Idem, Pseudonym: c.Pseudonym, MunicipalityID: *m,
		ServiceID: ctxID(r.Context, interview.CtxService), OperatorID: ctxID(r.Context, interview.CtxOperator),
		Invite: r.Context[interview.CtxInvite], ConsentVersion: consentVersion(r), Response: r}
	if f := a.forms.Get(r.Form, r.FormVersion); f != nil {
		pc.Types = pgstore.QuestionTypes(f)
	}
	return pc, nil
}

// Complete stores the response in Postgres. An invalid one is
// interview.ErrRejected; on any other failure the core queues it (Queue).
func (a *responses) Complete(ctx context.Context, c interview.Completion) error {
	pc, err := a.completed(c)
	if err != nil {
		return fmt.Errorf("%w: %w", interview.ErrRejected, err)
	}
	if err := a.db.SaveResponse(ctx, pc); err != nil {
		if errors.Is(err, pgstore.ErrInvalid) {
			return fmt.Errorf("store response: %w: %w", interview.ErrRejected, err)
		}
		return err
	}
	return nil
}

// Queue puts the response in the Redis outbox (interview.Outbox), from
// which the flusher writes it to Postgres once Postgres is back.
func (a *responses) Queue(ctx context.Context, c interview.Completion) error {
	pc, err := a.completed(c)
	if err != nil {
		return err
	}
	payload, err := pgstore.MarshalCompleted(pc)
	if err != nil {
		return err
	}
	key := pc.Idem // a redelivered completion is queued once
	if key == "" {
		key = pc.ID
	}
	if err := a.store.EnqueueFor(ctx, key, pc.Pseudonym, payload); err != nil {
		return fmt.Errorf("queue response: %w", err)
	}
	a.outbox.Kick()
	return nil
}

// write is the outbox flusher's writer.
func (a *responses) write(ctx context.Context, payload []byte) error {
	pc, err := pgstore.UnmarshalCompleted(payload)
	if err != nil {
		return redisstore.Permanent(err)
	}
	if err := a.db.SaveResponse(ctx, pc); err != nil {
		if errors.Is(err, pgstore.ErrInvalid) {
			return redisstore.Permanent(err)
		}
		return err
	}
	return nil
}

// Erase deletes the respondent's responses from Postgres and from the
// outbox (queued and dead letters). Postgres is erased again after the
// outbox, in case the flusher wrote an entry in between.
func (a *responses) Erase(ctx context.Context, pseudonym string) (int, error) {
	n, err := a.db.Erase(ctx, pseudonym)
	if err != nil {
		return n, err
	}
	q, err := a.store.EraseOwner(ctx, pseudonym)
	if err != nil {
		return n, err
	}
	m, err := a.db.Erase(ctx, pseudonym)
	return n + q + m, err
}

// popularLanguages caches each municipality's most used respondent
// languages for the language menu (a query per municipality every ten
// minutes, not per /start).
type popularLanguages struct {
	db      *pgstore.DB
	minCell int // a language is shown only with at least this many respondents
	mu      sync.Mutex
	ttl     time.Duration
	m       map[string]popularEntry
}

type popularEntry struct {
	langs []string
	at    time.Time
}

func (p *popularLanguages) get(ctx context.Context, municipality string) []string {
	p.mu.Lock()
	e, ok := p.m[municipality]
	p.mu.Unlock()
	if ok && time.Since(e.at) < p.ttl {
		return e.langs
	}
	id, err := strconv.ParseInt(municipality, 10, 64)
	if err != nil {
		return nil
	}
	langs, err := p.db.PopularLanguages(ctx, id, 4, p.minCell)
	if err != nil {
		return e.langs // stale is better than nothing; errors show in /readyz
	}
	p.mu.Lock()
	if len(p.m) > 10000 {
		clear(p.m)
	}
	p.m[municipality] = popularEntry{langs: langs, at: time.Now()}
	p.mu.Unlock()
	return langs
}
