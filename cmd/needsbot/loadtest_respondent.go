package main

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

// ltSample is the measurement of one update a simulated respondent sent.
type ltSample struct {
	kind string // start, language, choose, toggle, done, ack, text
	// reply is from the fake Bot API enqueuing the update to the bot's last
	// reply to it (a message sent or edited, or the callback answered), all
	// by the fake's clock; zero with replied false if the bot said nothing.
	reply   time.Duration
	replied bool
	// ack is from the update being enqueued to the bot acknowledging it
	// (webhook 2xx, or a getUpdates offset past it) as WaitHandled saw it.
	ack time.Duration
}

// ltRespondent is one simulated person answering the immigrants'
// questionnaire by tapping buttons, like respondent.answerRest in the
// end-to-end tests but without testing.T, and deciding from the callback
// data (not the labels) so that it works in every language.
type ltRespondent struct {
	u       *telegramtest.User
	form    *dialog.Form
	rng     *rand.Rand
	lang    string // the language to pick in the picker
	comment string // what to type at the free-text question
	timeout time.Duration
	think   time.Duration

	samples     []ltSample
	lastToggled int // id of the multi-select message already ticked
	toggledPos  int // and the position of its question (one card shows many)
}

// ltMaxSteps bounds one interview: the questionnaire has fewer than 60
// questions, a multi-select takes two taps.
const ltMaxSteps = 200

// interview runs a whole interview: /start, the language, consent, an
// adult age band, then a valid answer to every question until no question
// is left. It returns the first problem, with the chat's transcript.
func (r *ltRespondent) interview(ctx context.Context) error {
	chat, err := r.act(ctx, "start", func() (int, error) { return r.u.Send("/start"), nil })
	if err != nil {
		return err
	}
	var prev string
	repeats := 0
	for step := 0; step < ltMaxSteps; step++ {
		q, keys, ok := currentQuestion(chat)
		if !ok {
			return nil // no buttons left: the interview is over
		}
		kind, label, text := r.decide(q, keys)
		if kind == "" {
			return r.fail(chat, fmt.Errorf("no way to answer message %d (%v)", q.ID, q.Labels()))
		}
		// The same question, shown the same way, answered the same way
		// three times: the bot is not accepting the answer.
		sig := fmt.Sprintf("%d|%s|%v", q.ID, kind+label, q.Labels())
		if sig == prev {
			if repeats++; repeats >= 3 {
				return r.fail(chat, fmt.Errorf("stuck: %s %q on message %d is not accepted", kind, label+text, q.ID))
			}
		} else {
			prev, repeats = sig, 0
		}
		if r.think > 0 {
			if err := sleep(ctx, time.Duration(r.rng.Int64N(int64(2*r.think)))); err != nil {
				return err
			}
		}
		msgID := q.ID
		toggledPos := keys[0].cb.Pos
		chat, err = r.act(ctx, kind, func() (int, error) {
			if kind == "text" {
				return r.u.Send(text), nil
			}
			return 0, r.u.TapIn(msgID, label)
		})
		if err != nil {
			return err
		}
		if kind == "toggle" {
			r.lastToggled, r.toggledPos = msgID, toggledPos
		}
	}
	return r.fail(chat, fmt.Errorf("interview did not end after %d steps", ltMaxSteps))
}

func (r *ltRespondent) fail(chat telegramtest.Chat, err error) error {
	return fmt.Errorf("respondent %d: %w\n%s", r.u.ID(), err, lastLines(chat.Transcript(), 40))
}

// act sends one update, waits until the bot has acknowledged it, and
// records its latencies. send returns the id of the message it sent (0 for
// a tap).
func (r *ltRespondent) act(ctx context.Context, kind string, send func() (int, error)) (telegramtest.Chat, error) {
	msgID, err := send()
	if err != nil {
		return r.u.Chat(), r.fail(r.u.Chat(), fmt.Errorf("%s: %w", kind, err))
	}
	wctx, cancel := context.WithTimeout(ctx, r.timeout)
	err = r.u.WaitHandled(wctx)
	cancel()
	acked := time.Now()
	chat := r.u.Chat()
	if err != nil {
		if ctx.Err() != nil {
			return chat, ctx.Err()
		}
		return chat, r.fail(chat, fmt.Errorf("%s not handled within %s: %w", kind, r.timeout, err))
	}
	enq, ok := enqueuedAt(chat, msgID)
	if !ok {
		return chat, r.fail(chat, fmt.Errorf("%s: the update is not in the chat", kind))
	}
	s := ltSample{kind: kind, ack: acked.Sub(enq)}
	if last, ok := lastReply(chat, enq); ok {
		s.reply, s.replied = last.Sub(enq), true
	}
	r.samples = append(r.samples, s)
	return chat, nil
}

// enqueuedAt is when the fake enqueued the update: the date of the user's
// message, or the time of the latest tap (each respondent waits for one
// update before sending the next, so the latest tap is this update's).
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

// lastReply is the latest moment after since at which the bot sent or
// edited a message in the chat or answered a callback query.
func lastReply(chat telegramtest.Chat, since time.Time) (time.Time, bool) {
	var last time.Time
	for _, m := range chat.Messages {
		if !m.FromBot {
			continue
		}
		if m.Date.After(since) && m.Date.After(last) {
			last = m.Date
		}
		if m.EditDate.After(since) && m.EditDate.After(last) {
			last = m.EditDate
		}
	}
	for _, cb := range chat.Callbacks {
		if cb.Answered && cb.AnsweredAt.After(since) && cb.AnsweredAt.After(last) {
			last = cb.AnsweredAt
		}
	}
	return last, !last.IsZero()
}

// ltKey is one interview button and its decoded callback data.
type ltKey struct {
	label string
	cb    bot.Callback
}

// currentQuestion is the latest bot message that still has interview
// buttons: answered questions lose theirs, so when there is none the
// interview is over.
func currentQuestion(chat telegramtest.Chat) (telegramtest.Message, []ltKey, bool) {
	for i := len(chat.Messages) - 1; i >= 0; i-- {
		m := chat.Messages[i]
		if !m.FromBot || len(m.Buttons) == 0 {
			continue
		}
		var keys []ltKey
		for _, row := range m.Buttons {
			for _, b := range row {
				cb, err := bot.DecodeCallback(b.Data)
				if err != nil || cb.Kind == bot.CbStaff || cb.Kind == bot.CbDelete {
					continue
				}
				keys = append(keys, ltKey{label: b.Text, cb: cb})
			}
		}
		if len(keys) > 0 {
			return m, keys, true
		}
	}
	return telegramtest.Message{}, nil, false
}

// decide picks the next action on question q: the kind of update, the
// label to tap or the text to type. An empty kind means no action fits.
func (r *ltRespondent) decide(q telegramtest.Message, keys []ltKey) (kind, label, text string) {
	by := map[byte][]ltKey{}
	for _, k := range keys {
		by[k.cb.Kind] = append(by[k.cb.Kind], k)
	}
	switch {
	case len(by[bot.CbLanguage]) > 0:
		var langs []ltKey
		var page *ltKey
		for _, k := range by[bot.CbLanguage] {
			switch {
			case k.cb.Option == r.lang:
				return "language", k.label, ""
			case k.cb.Option == ">": // the menu's page key
				page = &k
			default:
				langs = append(langs, k)
			}
		}
		if r.lang != "" && page != nil && page.cb.Pos > 0 {
			// The language is on the menu's second page.
			return "language", page.label, ""
		}
		if len(langs) == 0 {
			return "", "", ""
		}
		return "language", langs[r.rng.IntN(len(langs))].label, ""
	case len(by[bot.CbToggle]) > 0:
		if q.ID == r.lastToggled && by[bot.CbToggle][0].cb.Pos == r.toggledPos && len(by[bot.CbDone]) > 0 {
			return "done", by[bot.CbDone][0].label, ""
		}
		opts := by[bot.CbToggle]
		return "toggle", opts[r.rng.IntN(len(opts))].label, ""
	case len(by[bot.CbChoose]) > 0:
		opts := r.allowed(by[bot.CbChoose])
		if len(opts) == 0 {
			return "", "", ""
		}
		return "choose", opts[r.rng.IntN(len(opts))].label, ""
	case len(by[bot.CbAck]) > 0:
		return "ack", by[bot.CbAck][0].label, ""
	case len(by[bot.CbSkip]) > 0 || len(by[bot.CbBack]) > 0:
		// Only navigation: a free-text question. Type the comment.
		return "text", "", r.comment
	}
	return "", "", ""
}

// allowed filters a single-choice question's options so that the
// interview goes on: consent is given, and the age band is an adult's
// (the questionnaire ends at once for minors). Every other option of every
// other question is fair game.
func (r *ltRespondent) allowed(opts []ltKey) []ltKey {
	pos := opts[0].cb.Pos
	if pos < 0 || pos >= len(r.form.Questions) {
		return opts
	}
	q := r.form.Questions[pos]
	return slices.DeleteFunc(slices.Clone(opts), func(k ltKey) bool {
		switch {
		case q.Name == r.form.Consent:
			return k.cb.Option != "yes"
		case r.form.Excludes(nil, q, k.cb.Option):
			return true // ineligible (adults only): no response
		}
		return false
	})
}

// ltComments are what the respondents type at the free-text question.
func ltComments() []string {
	return []string{
		"Più corsi di italiano la sera, per favore.",
		"Evening Italian classes and clearer information about the residence permit.",
		"Besoin d'aide pour trouver un logement.",
		"Більше інформації українською мовою.",
		"نحتاج إلى مزيد من المعلومات باللغة العربية.",
		"Mais ajuda com os documentos & o trabalho <obrigado>.",
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
