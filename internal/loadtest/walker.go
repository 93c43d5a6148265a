package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/locales"
)

// Sample is the measurement of one update a simulated respondent sent.
type Sample struct {
	Kind string // start, language, choose, toggle, done, ack, text
	// Reply is from the fake Bot API enqueuing the update to the bot's last
	// reply to it (a message sent or edited, or the callback answered), all
	// by the fake's clock; zero with Replied false if the bot said nothing.
	Reply   time.Duration
	Replied bool
	// First is from the update being enqueued to the bot's first reply of
	// any kind (a callback answer such as "one moment" counts): what the
	// person waited before seeing anything. Without any reply it is the
	// time the walker waited before giving up.
	First time.Duration
	// Ack is from the update being enqueued to the bot acknowledging it
	// (webhook 2xx, or a getUpdates offset past it).
	Ack time.Duration
}

// errVanished is a tap that found the card's keyboard gone: the bot changed
// the card between the walker reading it and tapping it (a person would
// tap the card that is there now).
var errVanished = errors.New("the keyboard changed under the tap")

// errStale is a tap the bot answered as one on an old question's button.
var errStale = errors.New("the bot took the tap for one on an old question")

// ErrStuck is why a walk ended with the person left without a way on: no
// card with interview buttons and no thank-you.
var ErrStuck = errors.New("stuck: no question card with buttons and no thank-you")

// Walker is one simulated person answering a questionnaire by tapping its
// keyboards, deciding from the callback data (not the labels) so that it
// walks in every language. It is the one walker of the load test, the
// chaos matrix and the end-to-end tests: set the fields, call Interview,
// read the results.
type Walker struct {
	User    *telegramtest.User
	Form    *dialog.Form
	Rng     *rand.Rand
	Lang    string // the language to pick in the picker ("": any)
	Comment string // what to type at the free-text question
	Timeout time.Duration
	Think   time.Duration // mean pause before each action (0: none)
	// Texts are the bot's texts the walker recognises (TextsOf): a walk
	// is completed only when the bot sent the thank-you.
	Texts Texts
	// Progress, if set, is told the position of each question the person
	// is about to answer.
	Progress func(pos int)

	// Completed is set when the bot sent the thank-you and no question
	// is left.
	Completed bool
	// Stuck is set when the person was left with no card with buttons
	// and no thank-you.
	Stuck   bool
	Samples []Sample
	Err     error

	// taps are the choices tapped, in order, with when the fake enqueued
	// each (its callback query's time), for Choices.
	taps    []tap
	lastEnq time.Time // when the fake enqueued the latest update

	chosenLang  string // the language tapped in the picker
	lastToggled int    // id of the multi-select message already ticked
	toggledPos  int    // and the position of its question (one card shows many)
	// card is the question card last acted on: the current question is
	// never older (cards are edited in place or followed by new ones), so
	// stale keyboards a race or a repeat left higher up are not walked.
	card int
}

// MaxSteps bounds one interview: the questionnaire has fewer than 60
// questions, a multi-select takes two taps.
const MaxSteps = 200

// Texts are, by language, the bot's texts a walker recognises by their
// locale keys, as the bot renders them.
type Texts struct {
	// Thanks are the notes after the questionnaire's last question,
	// which a completed interview ends with.
	Thanks map[string][]string
	// Stale is the callback answer to a tap on an old question's button:
	// the tap was not taken.
	Stale map[string]string
}

// TextsOf returns the texts of form in every language of cat.
func TextsOf(cat *locales.Catalog, form *dialog.Form) Texts {
	var keys []string
	for i := len(form.Questions) - 1; i >= 0; i-- {
		q := form.Questions[i]
		if !q.Type.Shown() {
			continue
		}
		if q.Type != dialog.TypeNote {
			break
		}
		if q.LabelChoice == nil { // with arguments the text varies
			keys = append(keys, q.Label)
		}
	}
	r := bot.NewRenderer(cat)
	out := Texts{Thanks: map[string][]string{}, Stale: map[string]string{}}
	for _, l := range cat.Languages() {
		for _, k := range keys {
			out.Thanks[l.Code] = append(out.Thanks[l.Code], r.Text(l.Code, k, nil))
		}
		out.Stale[l.Code] = r.Plain(l.Code, dialog.MsgStale, nil)
	}
	return out
}

// Taps counts the person's actions of a kind (start, language, choose,
// toggle, done, ack, text).
func (r *Walker) Taps(kind string) int {
	n := 0
	for _, s := range r.Samples {
		if s.Kind == kind {
			n++
		}
	}
	return n
}

// Worst is the longest wait for a first reply, and how many updates
// waited longer than slow.
func (r *Walker) Worst(slow time.Duration) (worst time.Duration, over int) {
	for _, s := range r.Samples {
		worst = max(worst, s.First)
		if s.First > slow {
			over++
		}
	}
	return worst, over
}

// WorstStep is the longest wait from an update to the bot's last reply to
// it that the walker saw, which is when the next card (or the thank-you)
// was there: a "one moment" answers at once, the question comes later.
func (r *Walker) WorstStep() time.Duration {
	var worst time.Duration
	for _, s := range r.Samples {
		if s.Replied {
			worst = max(worst, s.Reply)
		}
	}
	return worst
}

// Interview runs a whole interview: /start, the language, consent, an
// adult age band, then a valid answer to every question until the bot
// thanks. It returns the first problem, with the chat's transcript (also
// kept in Err).
func (r *Walker) Interview(ctx context.Context) error {
	chat, err := r.act(ctx, "start", "", func() (int, error) { return r.User.Send("/start"), nil })
	if err != nil {
		return err
	}
	var prev string
	repeats, vanished := 0, 0
	for step := 0; step < MaxSteps; step++ {
		q, keys, ok := currentQuestion(chat, r.card)
		if !ok {
			if r.thanked(chat) {
				r.Completed = true
				return nil
			}
			r.Stuck = true
			return r.fail(chat, ErrStuck)
		}
		kind, k, text := r.decide(q, keys)
		if kind == "" {
			return r.fail(chat, fmt.Errorf("no way to answer message %d (%v)", q.ID, q.Labels()))
		}
		// The same question, shown the same way, answered the same way
		// three times: the bot is not accepting the answer.
		sig := fmt.Sprintf("%d|%s|%s|%v", q.ID, kind, k.label, q.Labels())
		if sig == prev {
			if repeats++; repeats >= 3 {
				return r.fail(chat, fmt.Errorf("stuck: %s %q on message %d is not accepted", kind, k.label+text, q.ID))
			}
		} else {
			prev, repeats = sig, 0
		}
		if r.Progress != nil && k.cb.Pos >= 0 {
			r.Progress(k.cb.Pos)
		}
		if r.Think > 0 {
			if err := Sleep(ctx, time.Duration(r.Rng.Int64N(int64(2*r.Think)))); err != nil {
				return err
			}
		}
		msgID := q.ID
		r.card = q.ID
		chat, err = r.act(ctx, kind, cardSig(q), func() (int, error) {
			if kind == "text" {
				return r.User.Send(text), nil
			}
			if err := r.User.TapIn(msgID, k.label); err != nil {
				if !hasButton(r.User.Chat(), msgID, k.label) {
					return 0, errVanished
				}
				return 0, err
			}
			return 0, nil
		})
		if errors.Is(err, errStale) {
			// The bot showed this card's question as old (a
			// replay moved it on, or the walker tapped before the
			// bot's reply came): the tap was not taken.
			continue
		}
		if errors.Is(err, errVanished) {
			// Look again, as a person would; a bot that keeps
			// moving the keyboard away is stuck all the same.
			if vanished++; vanished > 5 {
				return r.fail(chat, fmt.Errorf("%s %q on message %d: %w, 5 times", kind, k.label, msgID, err))
			}
			wctx, cancel := context.WithTimeout(ctx, r.Timeout)
			chat, _ = r.User.WaitFor(wctx, r.onward)
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		if err != nil {
			return err
		}
		if kind == "choose" || kind == "toggle" {
			r.taps = append(r.taps, tap{at: r.lastEnq, kind: kind, k: k})
		}
		if kind == "toggle" {
			r.lastToggled, r.toggledPos = msgID, k.cb.Pos
		}
	}
	return r.fail(chat, fmt.Errorf("interview did not end after %d steps", MaxSteps))
}

// onward reports whether the chat shows the person a way on: a card with
// interview buttons, or the thank-you.
func (r *Walker) onward(c telegramtest.Chat) bool {
	_, _, card := currentQuestion(c, r.card)
	return card || r.thanked(c)
}

// lang is the language the person chose, or was to choose.
func (r *Walker) lang() string {
	if r.chosenLang != "" {
		return r.chosenLang
	}
	return r.Lang
}

// thanked reports whether the bot sent the completion message in the
// person's language (any language if it is not known).
func (r *Walker) thanked(chat telegramtest.Chat) bool {
	texts, ok := r.Texts.Thanks[r.lang()]
	if !ok {
		for _, t := range r.Texts.Thanks {
			if all(chat, t) {
				return true
			}
		}
		return false
	}
	return all(chat, texts)
}

// all reports whether each text is in some bot message of the chat.
func all(chat telegramtest.Chat, texts []string) bool {
	if len(texts) == 0 {
		return false
	}
	for _, t := range texts {
		if !slices.ContainsFunc(chat.Messages, func(m telegramtest.Message) bool {
			return m.FromBot && strings.Contains(m.Source, t)
		}) {
			return false
		}
	}
	return true
}

// tap is one choice tapped.
type tap struct {
	at   time.Time
	kind string // choose or toggle
	k    key
}

// Choices is what the person chose and the bot took, by question name: the
// single choice, or the ticked options of a multi-choice question. A tap
// the bot answered as one on an old question's button was not taken. Call
// it after the walk, once the bot has answered every tap.
func (r *Walker) Choices() map[string]map[string]bool {
	stale := map[time.Time]bool{}
	if want := r.Texts.Stale[r.lang()]; want != "" {
		for _, cb := range r.User.Chat().Callbacks {
			if cb.Answered && cb.Text == want {
				stale[cb.At] = true
			}
		}
	}
	out := map[string]map[string]bool{}
	for _, t := range r.taps {
		if stale[t.at] || t.k.cb.Pos < 0 || t.k.cb.Pos >= len(r.Form.Questions) {
			continue
		}
		name := r.Form.Questions[t.k.cb.Pos].Name
		switch t.kind {
		case "choose":
			out[name] = map[string]bool{t.k.cb.Option: true}
		case "toggle":
			if out[name] == nil {
				out[name] = map[string]bool{}
			}
			if out[name][t.k.cb.Option] {
				delete(out[name], t.k.cb.Option)
			} else {
				out[name][t.k.cb.Option] = true
			}
		}
	}
	return out
}

// cardSig is what a card shows: an action on it is answered when the card
// the chat shows is no longer this one (edited, or a new card below).
func cardSig(m telegramtest.Message) string {
	return fmt.Sprintf("%d|%s|%v", m.ID, m.Source, m.Labels())
}

func (r *Walker) fail(chat telegramtest.Chat, err error) error {
	r.Err = fmt.Errorf("respondent %d: %w\n%s", r.User.ID(), err, LastLines(chat.Transcript(), 30))
	return r.Err
}

// act sends one update and waits until the bot has acknowledged it and
// shown the next step: the bot sent or edited a message after it (a
// callback answer alone, such as "one moment", is a first reply but not
// yet the next question), and the chat shows the thank-you or a card with
// interview buttons other than before, the card acted on. Both halves
// matter: the bot removes the old card's keyboard before it sends the next
// card, so between the two the chat has no card at all; and a late edit
// of an earlier turn (a retried call) moves the chat while the card acted
// on is still there. A tap answered as one on an old question's button is
// answered too. It records the update's latencies; send returns the id of
// the message it sent (0 for a tap).
func (r *Walker) act(ctx context.Context, kind, before string, send func() (int, error)) (telegramtest.Chat, error) {
	msgID, err := send()
	if errors.Is(err, errVanished) {
		return r.User.Chat(), err
	}
	if err != nil {
		return r.User.Chat(), r.fail(r.User.Chat(), fmt.Errorf("%s: %w", kind, err))
	}
	sent := r.User.Chat()
	enq, ok := enqueuedAt(sent, msgID)
	if !ok {
		return sent, r.fail(sent, fmt.Errorf("%s: the update is not in the chat", kind))
	}
	r.lastEnq = enq
	wctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	s := Sample{Kind: kind}
	handled := r.User.WaitHandled(wctx)
	s.Ack = time.Since(enq)
	var chat telegramtest.Chat
	if handled == nil {
		chat, err = r.User.WaitFor(wctx, func(c telegramtest.Chat) bool {
			if msgID == 0 && r.staleTap(c, enq) {
				return true
			}
			if !movedSince(c, enq) {
				return false
			}
			if r.thanked(c) {
				return true
			}
			q, _, ok := currentQuestion(c, r.card)
			return ok && cardSig(q) != before
		})
	} else {
		chat, err = r.User.Chat(), handled
	}
	if first, last, ok := Replies(chat, enq); ok {
		s.First, s.Reply, s.Replied = first.Sub(enq), last.Sub(enq), true
	} else {
		s.First = time.Since(enq)
	}
	r.Samples = append(r.Samples, s)
	if err == nil && msgID == 0 && r.staleTap(chat, enq) {
		return chat, errStale
	}
	if err != nil {
		if ctx.Err() != nil {
			return chat, ctx.Err()
		}
		switch {
		case handled != nil:
			return chat, r.fail(chat, fmt.Errorf("%s not handled within %s: %w", kind, r.Timeout, handled))
		case movedSince(chat, enq):
			// The bot answered but left no way on: the loop decides
			// (stuck), with this chat.
			return chat, nil
		}
		return chat, r.fail(chat, fmt.Errorf("%s: no reply within %s", kind, r.Timeout))
	}
	return chat, nil
}

// staleTap reports whether the tap enqueued at enq was answered as one on
// an old question's button.
func (r *Walker) staleTap(chat telegramtest.Chat, enq time.Time) bool {
	cb, ok := chat.LastAnswer()
	return ok && cb.At.Equal(enq) && cb.Answered && cb.Text != "" && cb.Text == r.Texts.Stale[r.lang()]
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

// Replies are the earliest and the latest moments after since at which
// the bot sent or edited a message in the chat or answered a callback
// query; ok is false if it did none of these.
func Replies(chat telegramtest.Chat, since time.Time) (first, last time.Time, ok bool) {
	take := func(t time.Time) {
		if !t.After(since) {
			return
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
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
	return first, last, !first.IsZero()
}

// hasButton reports whether message id shows a button labelled label.
func hasButton(chat telegramtest.Chat, id int, label string) bool {
	for _, m := range chat.Messages {
		if m.ID != id {
			continue
		}
		for _, row := range m.Buttons {
			for _, b := range row {
				if b.Text == label {
					return true
				}
			}
		}
	}
	return false
}

// key is one interview button and its decoded callback data.
type key struct {
	label string
	cb    bot.Callback
}

// currentQuestion is the latest bot message from card on that still has
// interview buttons: answered questions lose theirs. Buttons outside the
// interview (staff, /delete, services, reminders, pages of a list of
// services) do not count.
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

// decide picks the next action on question q: the kind of update, the
// key to tap (for text, a key whose position is the question's) or the
// text to type. An empty kind means no action fits.
func (r *Walker) decide(q telegramtest.Message, keys []key) (kind string, k key, text string) {
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
			case k.cb.Option == r.Lang:
				r.chosenLang = k.cb.Option
				return "language", k, ""
			case k.cb.Option == ">": // the menu's page key
				page = &k
			default:
				langs = append(langs, k)
			}
		}
		if r.Lang != "" && page != nil && page.cb.Pos > 0 {
			// The language is on the menu's second page.
			return "language", *page, ""
		}
		if len(langs) == 0 {
			return "", key{}, ""
		}
		k := langs[r.Rng.IntN(len(langs))]
		r.chosenLang = k.cb.Option
		return "language", k, ""
	case len(by[bot.CbToggle]) > 0:
		if q.ID == r.lastToggled && by[bot.CbToggle][0].cb.Pos == r.toggledPos && len(by[bot.CbDone]) > 0 {
			return "done", by[bot.CbDone][0], ""
		}
		opts := by[bot.CbToggle]
		return "toggle", opts[r.Rng.IntN(len(opts))], ""
	case len(by[bot.CbChoose]) > 0:
		opts := r.allowed(by[bot.CbChoose])
		if len(opts) == 0 {
			return "", key{}, ""
		}
		return "choose", opts[r.Rng.IntN(len(opts))], ""
	case len(by[bot.CbAck]) > 0:
		return "ack", by[bot.CbAck][0], ""
	case len(by[bot.CbSkip]) > 0 || len(by[bot.CbBack]) > 0:
		// Only navigation: a free-text question. Type the comment.
		k := key{cb: bot.Callback{Pos: -1}}
		if s := by[bot.CbSkip]; len(s) > 0 {
			k.cb.Pos = s[0].cb.Pos
		}
		return "text", k, r.Comment
	}
	return "", key{}, ""
}

// allowed filters a single-choice question's options so that the
// interview goes on: consent is given, and the age band is an adult's
// (the questionnaire ends at once for minors). Every other option of every
// other question is fair game.
func (r *Walker) allowed(opts []key) []key {
	pos := opts[0].cb.Pos
	if pos < 0 || pos >= len(r.Form.Questions) {
		return opts
	}
	q := r.Form.Questions[pos]
	return slices.DeleteFunc(slices.Clone(opts), func(k key) bool {
		switch {
		case q.Name == r.Form.Consent:
			return k.cb.Option != "yes"
		case r.Form.Excludes(nil, q, k.cb.Option):
			return true // ineligible (adults only): no response
		}
		return false
	})
}

// Comments are what the respondents type at the free-text question.
func Comments() []string {
	return []string{
		"Più corsi di italiano la sera, per favore.",
		"Evening Italian classes and clearer information about the residence permit.",
		"Besoin d'aide pour trouver un logement.",
		"Більше інформації українською мовою.",
		"نحتاج إلى مزيد من المعلومات باللغة العربية.",
		"Mais ajuda com os documentos & o trabalho <obrigado>.",
	}
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
