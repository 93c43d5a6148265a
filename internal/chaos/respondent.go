package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog"
)

// respondent is one simulated person answering the immigrants'
// questionnaire by its keyboards. It decides from the callback data, not
// the labels, so it works in every language — the same walk as the load
// test's (cmd/needsbot/loadtest_respondent.go), which lives in package main
// and so cannot be imported; it also remembers what it answered, so that a
// duplicate applied twice shows as answers that differ in Postgres.
type respondent struct {
	u       *telegramtest.User
	form    *dialog.Form
	rng     *rand.Rand
	lang    string
	comment string
	timeout time.Duration
	think   time.Duration

	lastToggled int
	toggledPos  int
	// card is the question card last acted on: the current question is
	// never older (cards are edited in place or followed by new ones), so
	// stale keyboards a race or a repeat left higher up are not walked.
	card int
	// chose is what the person picked, by question name: the single
	// choice, or the ticked options of a multi-choice question.
	chose map[string]map[string]bool

	completed bool
	updates   int
	worst     time.Duration // longest wait for the bot's first reply to one update
	slow      int           // updates whose first reply took longer than slowAfter
	err       error
	// progress is how far the walk got, as a question position.
	progress func(pos int)
}

// slowAfter is the wait the report counts as too long.
const slowAfter = 5 * time.Second

const maxSteps = 200

func (r *respondent) interview(ctx context.Context) error {
	r.chose = map[string]map[string]bool{}
	chat, err := r.act(ctx, "start", func() (int, error) { return r.u.Send("/start"), nil })
	if err != nil {
		return err
	}
	var prev string
	repeats := 0
	for step := 0; step < maxSteps; step++ {
		q, keys, ok := currentQuestion(chat, r.card)
		if !ok {
			r.completed = true
			return nil
		}
		kind, key, text := r.decide(q, keys)
		if kind == "" {
			return r.fail(chat, fmt.Errorf("no way to answer message %d (%v)", q.ID, q.Labels()))
		}
		sig := fmt.Sprintf("%d|%s|%s|%v", q.ID, kind, key.label, q.Labels())
		if sig == prev {
			if repeats++; repeats >= 3 {
				return r.fail(chat, fmt.Errorf("stuck: %s %q on message %d is not accepted", kind, key.label+text, q.ID))
			}
		} else {
			prev, repeats = sig, 0
		}
		if r.progress != nil && key.cb.Pos >= 0 {
			r.progress(key.cb.Pos)
		}
		if r.think > 0 {
			if err := sleepCtx(ctx, time.Duration(r.rng.Int64N(int64(2*r.think)))); err != nil {
				return err
			}
		}
		msgID := q.ID
		r.card = q.ID
		chat, err = r.act(ctx, kind, func() (int, error) {
			if kind == "text" {
				return r.u.Send(text), nil
			}
			return 0, r.u.TapIn(msgID, key.label)
		})
		if err != nil {
			return err
		}
		r.remember(kind, key)
		if kind == "toggle" {
			r.lastToggled, r.toggledPos = msgID, key.cb.Pos
		}
	}
	return r.fail(chat, fmt.Errorf("interview did not end after %d steps", maxSteps))
}

// remember records an answer the bot took (it replied to it).
func (r *respondent) remember(kind string, k key) {
	if k.cb.Pos < 0 || k.cb.Pos >= len(r.form.Questions) {
		return
	}
	name := r.form.Questions[k.cb.Pos].Name
	switch kind {
	case "choose":
		r.chose[name] = map[string]bool{k.cb.Option: true}
	case "toggle":
		if r.chose[name] == nil {
			r.chose[name] = map[string]bool{}
		}
		if r.chose[name][k.cb.Option] {
			delete(r.chose[name], k.cb.Option)
		} else {
			r.chose[name][k.cb.Option] = true
		}
	}
}

func (r *respondent) fail(chat telegramtest.Chat, err error) error {
	r.err = fmt.Errorf("respondent %d: %w\n%s", r.u.ID(), err, lastLines(chat.Transcript(), 30))
	return r.err
}

// act sends one update and waits until the bot has acknowledged it and
// replied with a message or an edit (a callback answer alone, such as "one
// moment", is a first reply but not yet the next question). It records the
// wait for the first reply of any kind.
func (r *respondent) act(ctx context.Context, kind string, send func() (int, error)) (telegramtest.Chat, error) {
	msgID, err := send()
	if err != nil {
		return r.u.Chat(), r.fail(r.u.Chat(), fmt.Errorf("%s: %w", kind, err))
	}
	sent := r.u.Chat()
	enq, ok := enqueuedAt(sent, msgID)
	if !ok {
		return sent, r.fail(sent, fmt.Errorf("%s: the update is not in the chat", kind))
	}
	r.updates++
	wctx, cancel := context.WithTimeout(ctx, r.timeout)
	chat, err := r.u.WaitFor(wctx, func(c telegramtest.Chat) bool {
		return c.Pending == 0 && movedSince(c, enq)
	})
	cancel()
	wait := r.timeout
	if first, ok := firstReply(chat, enq); ok {
		wait = first.Sub(enq)
	}
	r.worst = max(r.worst, wait)
	if wait > slowAfter {
		r.slow++
	}
	if err != nil {
		if ctx.Err() != nil {
			return chat, ctx.Err()
		}
		return chat, r.fail(chat, fmt.Errorf("%s: no reply within %s", kind, r.timeout))
	}
	return chat, nil
}

// enqueuedAt is when the fake enqueued the update: the date of the user's
// message, or the time of the latest tap.
func enqueuedAt(chat telegramtest.Chat, msgID int) (time.Time, bool) {
	if msgID != 0 {
		for i := len(chat.Messages) - 1; i >= 0; i-- {
			if m := chat.Messages[i]; m.ID == msgID && !m.FromBot {
				return m.Date, true
			}
		}
		return time.Time{}, false
	}
	if cb, ok := chat.LastAnswer(); ok {
		return cb.At, true
	}
	return time.Time{}, false
}

// movedSince reports whether the bot sent or edited a message after t.
func movedSince(chat telegramtest.Chat, t time.Time) bool {
	for i := len(chat.Messages) - 1; i >= 0; i-- {
		m := chat.Messages[i]
		if m.FromBot && (m.Date.After(t) || m.EditDate.After(t)) {
			return true
		}
	}
	return false
}

// firstReply is the earliest moment after since at which the bot sent or
// edited a message or answered a callback query.
func firstReply(chat telegramtest.Chat, since time.Time) (time.Time, bool) {
	var first time.Time
	take := func(t time.Time) {
		if t.After(since) && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	for _, m := range chat.Messages {
		if m.FromBot {
			take(m.Date)
			take(m.EditDate)
		}
	}
	for _, cb := range chat.Callbacks {
		if cb.Answered {
			take(cb.AnsweredAt)
		}
	}
	return first, !first.IsZero()
}

// key is one interview button and its decoded callback data.
type key struct {
	label string
	cb    bot.Callback
}

// currentQuestion is the latest bot message from card on that still has
// interview buttons; when there is none the interview is over.
func currentQuestion(chat telegramtest.Chat, card int) (telegramtest.Message, []key, bool) {
	for i := len(chat.Messages) - 1; i >= 0; i-- {
		m := chat.Messages[i]
		if m.ID < card {
			break
		}
		if !m.FromBot || len(m.Buttons) == 0 {
			continue
		}
		var keys []key
		for _, row := range m.Buttons {
			for _, b := range row {
				cb, err := bot.DecodeCallback(b.Data)
				if err != nil || cb.Kind == bot.CbStaff || cb.Kind == bot.CbDelete || cb.Kind == bot.CbServices ||
					cb.Kind == bot.CbRemind || cb.Kind == bot.CbPage {
					continue
				}
				keys = append(keys, key{label: b.Text, cb: cb})
			}
		}
		if len(keys) > 0 {
			return m, keys, true
		}
	}
	return telegramtest.Message{}, nil, false
}

// decide picks the next action on question q.
func (r *respondent) decide(q telegramtest.Message, keys []key) (kind string, k key, text string) {
	by := map[byte][]key{}
	for _, k := range keys {
		by[k.cb.Kind] = append(by[k.cb.Kind], k)
	}
	switch {
	case len(by[bot.CbLanguage]) > 0:
		var langs []key
		var page *key
		for _, k := range by[bot.CbLanguage] {
			switch {
			case k.cb.Option == r.lang:
				return "language", k, ""
			case k.cb.Option == ">":
				page = &k
			default:
				langs = append(langs, k)
			}
		}
		if r.lang != "" && page != nil && page.cb.Pos > 0 {
			return "language", *page, ""
		}
		if len(langs) == 0 {
			return "", key{}, ""
		}
		return "language", langs[r.rng.IntN(len(langs))], ""
	case len(by[bot.CbToggle]) > 0:
		if q.ID == r.lastToggled && by[bot.CbToggle][0].cb.Pos == r.toggledPos && len(by[bot.CbDone]) > 0 {
			return "done", by[bot.CbDone][0], ""
		}
		opts := by[bot.CbToggle]
		return "toggle", opts[r.rng.IntN(len(opts))], ""
	case len(by[bot.CbChoose]) > 0:
		opts := r.allowed(by[bot.CbChoose])
		if len(opts) == 0 {
			return "", key{}, ""
		}
		return "choose", opts[r.rng.IntN(len(opts))], ""
	case len(by[bot.CbAck]) > 0:
		return "ack", by[bot.CbAck][0], ""
	case len(by[bot.CbSkip]) > 0 || len(by[bot.CbBack]) > 0:
		k := key{cb: bot.Callback{Pos: -1}}
		if s := by[bot.CbSkip]; len(s) > 0 {
			k.cb.Pos = s[0].cb.Pos
		}
		return "text", k, r.comment
	}
	return "", key{}, ""
}

// allowed keeps the interview going: consent is given and the age band is
// an adult's.
func (r *respondent) allowed(opts []key) []key {
	pos := opts[0].cb.Pos
	if pos < 0 || pos >= len(r.form.Questions) {
		return opts
	}
	q := r.form.Questions[pos]
	return slices.DeleteFunc(slices.Clone(opts), func(k key) bool {
		switch {
		case q.Name == r.form.Consent:
			return k.cb.Option != "yes"
		case r.form.Excludes(nil, q, k.cb.Option):
			return true // ineligible (adults only): no response
		}
		return false
	})
}

func comments() []string {
	return []string{
		"Più corsi di italiano la sera, per favore.",
		"Evening Italian classes and clearer information about the residence permit.",
		"Besoin d'aide pour trouver un logement.",
		"Більше інформації українською мовою.",
		"نحتاج إلى مزيد من المعلومات باللغة العربية.",
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
