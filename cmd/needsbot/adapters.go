package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/durable"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/redisstore"
)

// sessions adapts the Redis store to interview.Sessions. With inbound set
// (inbound.limit > 0), loading a Telegram update also counts it against
// the person's inbound limit in the same round trip; the throttle's
// Inbound that follows in the turn reads that verdict without a round
// trip of its own.
type sessions struct {
	s       *redisstore.Store
	inbound throttle
}

var (
	_ interview.Sessions  = sessions{}
	_ interview.Confirmer = sessions{}
)

func (a sessions) Load(ctx context.Context, chat, update int64) (interview.Loaded, error) {
	blob, version, seen, lastMsg, err := a.s.LoadCounting(ctx, chat, update, a.inbound.limit, inboundPer)
	if err != nil {
		return interview.Loaded{}, err
	}
	return interview.Loaded{Blob: blob, Version: version, Seen: interview.Seen(seen), LastMsg: lastMsg}, nil
}

func (a sessions) Save(ctx context.Context, chat, update int64, expect, next uint64, blob []byte, ab *interview.Abandon, stage interview.Stage) error {
	var err error
	if stage.Done {
		// A finished interview keeps only what "already answered" needs,
		// for a short time.
		err = a.s.SaveDone(ctx, chat, update, expect, next, blob)
	} else {
		// The language-choice index rides on the save: no round trip of
		// its own.
		err = a.s.SaveWaiting(ctx, chat, update, expect, next, blob, abandonRecord(ab), stage.WaitingAt)
	}
	if errors.Is(err, redisstore.ErrConflict) {
		return interview.ErrConflict
	}
	return err
}

// completingSessions is sessions recording a completion with the save of
// the finished interview (interview.CompletingSessions): the response
// waits in the chat's Redis slot, saved atomically with the state, and the
// durable drainer writes it to Postgres after the turn.
type completingSessions struct {
	sessions
	rec responses
}

var _ interview.CompletingSessions = completingSessions{}

func (a completingSessions) SaveCompleted(ctx context.Context, chat, update int64, expect, next uint64, blob []byte, c interview.Completion) error {
	pc, err := a.rec.completed(c)
	if err != nil {
		return fmt.Errorf("%w: %w", interview.ErrRejected, err)
	}
	err = a.rec.d.SaveCompleted(ctx, chat, update, expect, next, blob, pc)
	switch {
	case errors.Is(err, redisstore.ErrConflict):
		return interview.ErrConflict
	case errors.Is(err, pgstore.ErrInvalid):
		return fmt.Errorf("store response: %w: %w", interview.ErrRejected, err)
	}
	return err
}

// abandonRecord is the store's record of an interview past consent (nil
// for none, or without a municipality: nothing to count it under).
func abandonRecord(ab *interview.Abandon) *redisstore.AbandonRecord {
	if ab == nil {
		return nil
	}
	m := ctxID(ab.Context, interview.CtxMunicipality)
	if m == nil {
		return nil
	}
	return &redisstore.AbandonRecord{Form: ab.Form, FormVersion: ab.FormVersion, MunicipalityID: *m,
		ServiceID: ctxID(ab.Context, interview.CtxService), Language: ab.Language, LastQuestion: ab.LastQuestion,
		Started: time.Unix(ab.Started, 0).UTC(), Reminded: ab.Reminded, Resumed: ab.Resumed, Expires: ab.Expires}
}

// abandonments adapts durable.Abandonment to interview.Abandonments.
type abandonments struct{ j *durable.Abandonment }

var _ interview.Abandonments = abandonments{}

func (a abandonments) Abandoned(ctx context.Context, chat int64, ab interview.Abandon, at time.Time) error {
	rec := abandonRecord(&ab)
	if rec == nil {
		return nil
	}
	return a.j.Record(ctx, chat, *rec, at)
}

func (a sessions) MarkSent(ctx context.Context, chat, update int64, lastMsg int) error {
	return a.s.MarkSent(ctx, chat, update, lastMsg)
}

func (a sessions) Delete(ctx context.Context, chat int64) error { return a.s.Delete(ctx, chat) }

// Confirm checks a turn that saves nothing against the stored version
// when its Load came from memory (interview.Confirmer).
func (a sessions) Confirm(ctx context.Context, chat int64, version uint64) error {
	if err := a.s.Confirm(ctx, chat, version); errors.Is(err, redisstore.ErrConflict) {
		return interview.ErrConflict
	} else if err != nil {
		return err
	}
	return nil
}

// inboundPer is the period of the per-person inbound limit: more than
// NEEDSBOT_INBOUND_LIMIT updates in it get one "slow down" and are
// dropped. A person answering by taps sends about one update a second at
// most; tests and the load test, at machine speed, raise the limit.
const inboundPer = 10 * time.Second

// chatPacer adapts the Redis store to bot.ChatPacer: a GCRA bucket per
// chat (keyed by a keyed derivation of the chat id, never the id) shared
// by the webhook replicas, rate new messages a second with a burst.
type chatPacer struct {
	s     *redisstore.Store
	key   []byte
	rate  float64
	burst int
}

func (p chatPacer) Reserve(ctx context.Context, chat int64) (time.Duration, error) {
	per := time.Duration(float64(p.burst) / p.rate * float64(time.Second))
	got, wait, err := p.s.Take(ctx, "chat:"+storage.Keyed(p.key, "pace", chat)[:32], p.burst, max(per, time.Millisecond), 1)
	if err != nil || got > 0 {
		return 0, err
	}
	return max(wait, time.Millisecond), nil
}

// throttle adapts the Redis store to bot.Throttle. Updates may reach two
// replicas at once (webhooks behind a balancer): the store counts an
// update id once (the highest counted id is kept with the limit), so a
// copy does not count twice, at no extra round trip.
type throttle struct {
	s     *redisstore.Store
	limit int
}

func (t throttle) Inbound(ctx context.Context, user, update int64) (bool, bool, error) {
	return t.s.Inbound(ctx, user, update, t.limit, inboundPer)
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
	s := c[key]
	if s == "" {
		// Most interviews have no service: not a parse error (an
		// allocation on every save, issue 19).
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
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

// responses adapts durable.Responses to the core's ports: Responses
// (Postgres) and Outbox (the Redis outbox, drained into Postgres later).
// It only translates an interview.Completion into the record; the core
// decides when to queue.
type responses struct {
	d   *durable.Responses
	lib formlib.Source
}

var (
	_ interview.Responses = responses{}
	_ interview.Outbox    = responses{}
)

func (a responses) completed(c interview.Completion) (pgstore.Completed, error) {
	r := c.Response
	m := ctxID(r.Context, interview.CtxMunicipality)
	if m == nil {
		return pgstore.Completed{}, fmt.Errorf("response %s has no municipality", c.ID)
	}
	pc := pgstore.Completed{ID: c.ID, Idem: c.Idem, Pseudonym: c.Pseudonym, MunicipalityID: *m,
		ServiceID: ctxID(r.Context, interview.CtxService), OperatorID: ctxID(r.Context, interview.CtxOperator),
		Invite: r.Context[interview.CtxInvite], ConsentVersion: consentVersion(r), Response: r,
		Reminded: r.Context[interview.CtxReminded] == "1", Resumed: r.Context[interview.CtxResumed] == "1"}
	if f := a.lib.Current().Forms.Get(r.Form, r.FormVersion); f != nil {
		pc.Types = pgstore.QuestionTypes(f)
	}
	return pc, nil
}

// Complete stores the response in Postgres. An invalid one is
// interview.ErrRejected; on any other failure the core queues it (Queue).
func (a responses) Complete(ctx context.Context, c interview.Completion) error {
	pc, err := a.completed(c)
	if err != nil {
		return fmt.Errorf("%w: %w", interview.ErrRejected, err)
	}
	if err := a.d.Save(ctx, pc); err != nil {
		if errors.Is(err, pgstore.ErrInvalid) {
			return fmt.Errorf("store response: %w: %w", interview.ErrRejected, err)
		}
		return err
	}
	return nil
}

// Queue puts the response in the Redis outbox (interview.Outbox), from
// which durable.Responses.Run writes it to Postgres once Postgres is back.
func (a responses) Queue(ctx context.Context, c interview.Completion) error {
	pc, err := a.completed(c)
	if err != nil {
		return err
	}
	return a.d.Queue(ctx, pc)
}

// Erase deletes the respondent's responses from Postgres and the outbox.
func (a responses) Erase(ctx context.Context, pseudonym string) (int, error) {
	return a.d.Erase(ctx, pseudonym)
}

// popularLanguages adapts pgstore.LanguageCache to the handler's
// PopularLanguages, which names the municipality as its context value.
func popularLanguages(c *pgstore.LanguageCache) func(ctx context.Context, municipality string) []string {
	return func(ctx context.Context, municipality string) []string {
		id, err := strconv.ParseInt(municipality, 10, 64)
		if err != nil {
			return nil
		}
		return c.Get(ctx, id)
	}
}
