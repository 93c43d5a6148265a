package bot

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/interview"
)

// step applies in to the interview through the core (which records a
// completion and saves the state when save is set and it changed) and
// sends the replies.
func (t *turn) step(ctx context.Context, in dialog.Input, save bool) (Outcome, error) {
	h := t.h
	if in.Kind == dialog.InText && t.form != nil {
		// A typed option label or number counts as the tap.
		if typed, ok := t.r.typedChoice(t.lang, t.form, t.state, in.Text, h.cfg.Now); ok {
			in = typed
		}
	}
	if t.it.Idle() {
		// Back after a pause: a re-ask shows the notes before the
		// question too (show adds the recap above them).
		in.Resume = true
	}
	eff, err := t.it.Step(ctx, in, save)
	if err != nil {
		return Outcome{}, err
	}
	return t.show(ctx, eff)
}

// show sends what a step decided.
func (t *turn) show(ctx context.Context, eff interview.Effects) (Outcome, error) {
	if eff.NoInvite {
		// No interview and no invite: tell how to get a link.
		t.say(ctx, MsgNoInvite)
		return t.finish(ctx)
	}
	t.sync()
	if t.it.Idle() && !t.recapped && t.state.Phase == dialog.PhaseAsking {
		// Back after a pause (Core.IdleGap), whatever the input: the
		// recap above the current question.
		t.resumeNote()
	}
	if err := t.send(ctx, eff.Replies, eff.Prev); err != nil {
		return Outcome{}, err
	}
	if eff.Completed != nil {
		// After the closing card: services matching the needs (services.go).
		t.refer(ctx, eff.Completed)
	}
	return t.finish(ctx)
}

// send renders and sends the engine's replies as one live question card.
//
// The card is a single message: a line with the answer given to the
// question before ("✓ …", also when the question is asked again:
// prevAnswerLine),
// any notes and notices, and the current question with its keyboard. A tap
// turns the tapped card into the next question with one edit (the callback
// answer travels in the webhook response), so a tap costs one Bot API
// request and only one keyboard is ever live. A typed re-ask (junk, an
// error) edits the card in place when it is right above the typed message;
// a typed answer leaves the old card as history (its keyboard removed) and
// sends the next question below it. A tap on the welcome-and-consent card
// edits it into the first question like any other tap; a card that showed
// a note is kept as history only when nothing is asked next ("No, thanks")
// or a typed message re-asks below it. The interview's end turns the card
// into the closing note and a compact summary of the answers.
func (t *turn) send(ctx context.Context, replies []dialog.Reply, prev dialog.State) error {
	ev := t.ev
	var (
		lead     []string
		answered *dialog.Reply
		ask      *dialog.Reply
		summary  string
		notesAt  = -1 // where the form's notes start in lead
	)
	lead = append(lead, t.lead...)
	t.lead = nil
	for i := range replies {
		r := &replies[i]
		switch r.Kind {
		case dialog.ReplyNotice:
			text := t.r.Plain(t.lang, r.Msg, r.Args)
			if ev.query != "" && t.notice == "" && claimNotice(ctx) {
				t.notice = text
				continue
			}
			lead = append(lead, "⚠️ "+t.r.Text(t.lang, r.Msg, r.Args))
		case dialog.ReplyAnswered:
			answered = r
		case dialog.ReplyKeyboard, dialog.ReplyAsk:
			ask = r
		case dialog.ReplySay:
			if r.Question != "" && notesAt < 0 {
				notesAt = len(lead)
			}
			lead = append(lead, t.sayText(r))
		case dialog.ReplyComplete:
			summary = t.r.Summary(t.lang, t.form, r.Response)
		case dialog.ReplyAskLanguage:
			// The language menu is the card until a language is chosen.
			if err := t.placeCard(ctx, prev, t.languagePage(ctx, 0)); err != nil {
				return err
			}
		}
	}
	if ask != nil && ask.Error != "" {
		lead, ask, notesAt = t.errorAboveNotes(prev, lead, notesAt, ask)
	}
	var parts []string
	if answered != nil && (ask == nil || ask.Pos > answered.Pos) {
		if a := t.r.answerLine(t.lang, *answered); a != "" {
			parts = append(parts, a)
		}
	}
	parts = append(parts, lead...)
	if summary != "" {
		parts = append(parts, summary)
	}
	var m Message
	if ask != nil {
		page := 0
		if cb, err := DecodeCallback(ev.data); err == nil && ev.query != "" && cb.Kind == CbToggle && ask.Kind == dialog.ReplyKeyboard {
			// A tick on page 2 of a long list keeps page 2 on screen.
			page = t.r.PageOf(t.lang, *ask, cb.Option)
		}
		q, err := t.r.AskPage(t.lang, t.form, *ask, page)
		if err != nil {
			return err
		}
		if ask.Kind == dialog.ReplyKeyboard && len(parts) == 0 && ev.query != "" && ev.msgID != 0 && ev.msgID == t.cur {
			// A tick or a year: only the keyboard changes, and the
			// card keeps its "✓ previous answer" line.
			t.edits = append(t.edits, edit{msg: ev.msgID, m: Message{Keyboard: q.Keyboard}, kbOnly: true})
			t.lastMsg = ev.msgID
			return t.flushEdits(ctx)
		}
		if t.it.Seen() == interview.SeenNone && ev.query != "" && ev.msgID != 0 && ev.msgID == t.cur && len(parts) == 0 &&
			ask.Error == "" && ask.Seq == prev.Seq && ask.Kind == dialog.ReplyAsk {
			// The live card asked again as it is (a forged or garbled
			// tap): the notice in the callback answer is all that changes.
			return t.flushEdits(ctx)
		}
		if answered == nil || ask.Pos <= answered.Pos {
			// The question asked again (a command's reply, a typed
			// message, queued work, a refused tap, back, a new language)
			// keeps the line the card had when it was first asked: the
			// answer to the question before it.
			if a := t.prevAnswerLine(ask.Pos); a != "" && !t.recapped {
				parts = append([]string{a}, parts...)
			}
		}
		parts = append(parts, q.Text)
		m.Keyboard = q.Keyboard
	}
	if len(parts) == 0 {
		return t.flushEdits(ctx)
	}
	m.Text = strings.Join(parts, "\n\n")
	if len([]rune(m.Text)) > MaxText && summary != "" {
		// The summary is a courtesy: never let it break the card.
		m.Text = strings.Join(parts[:len(parts)-1], "\n\n")
	}
	if err := t.placeCard(ctx, prev, m); err != nil {
		return err
	}
	if len(m.Keyboard) > 0 {
		// The card placed shows its question with or without the notes
		// before it (a typed re-ask below the card that carries them:
		// without; errorAboveNotes reads it).
		t.bare = notesAt < 0
	}
	return t.flushEdits(ctx)
}

// prevAnswerLine is the "✓ answer" line of the question shown before the
// one at pos (the top of the way back), as the card showed it when the
// question was asked after it: "" when there is none, or its answer shows
// itself (typed text) or was skipped.
func (t *turn) prevAnswerLine(pos int) string {
	s, f := t.state, t.form
	if f == nil || s.Phase != dialog.PhaseAsking || len(s.Back) == 0 {
		return ""
	}
	p := s.Back[len(s.Back)-1]
	if p < 0 || p >= pos || pos >= len(f.Questions) {
		return ""
	}
	q := f.Questions[p]
	v, ok := s.Answers[q.Name]
	if !ok {
		return ""
	}
	msgs, lit := dialog.AnswerDisplay(q, v)
	return t.r.answerLine(t.lang, dialog.Reply{AnswerMsgs: msgs, Answer: lit})
}

// sayText renders a ReplySay: its text and its hint below in italics.
func (t *turn) sayText(r *dialog.Reply) string {
	text := t.r.Text(t.lang, r.Msg, r.Args)
	if r.Hint != "" {
		text += "\n<i>" + t.r.Text(t.lang, r.Hint, nil) + "</i>"
	}
	return text
}

// errorAboveNotes places an error re-ask's warning on a card that shows
// the form's notes before the question: error first (a tall card is shown
// from its top, so the warning is what the eye meets), then the notes,
// then the question. A refused tap edits the tapped card in place; when
// that card showed notes (the live card of a question with notes right
// before it), they are put back, or the edit would drop them (the section
// intro, the welcome and the notice). A typed re-ask never edits such a
// card (placeCard keeps it as history and asks below, without the notes
// the person can still read above). It returns the lead and the question
// to render, without its error when the error moved into the lead, and
// where the notes start in the lead (-1: none).
//
// A card that shows its question without the notes (t.bare: a typed
// re-ask went below the card carrying them, which the chat keeps right
// above) is edited without them too: putting them back would show them
// twice, one under the other.
func (t *turn) errorAboveNotes(prev dialog.State, lead []string, notesAt int, ask *dialog.Reply) ([]string, *dialog.Reply, int) {
	ev := t.ev
	if notesAt < 0 && !t.bare && ev.query != "" && ev.msgID != 0 && ev.msgID == t.cur && t.form != nil &&
		prev.Phase == dialog.PhaseAsking && ask.Pos == prev.Pos {
		notes := dialog.NotesBefore(t.form, t.state, ask.Pos)
		if len(notes) > 0 {
			notesAt = len(lead)
			for i := range notes {
				lead = append(lead, t.sayText(&notes[i]))
			}
		}
	}
	if notesAt < 0 {
		return lead, ask, notesAt
	}
	warn := "⚠️ " + t.r.Text(t.lang, ask.Error, ask.ErrorArgs)
	lead = append(lead[:notesAt], append([]string{warn}, lead[notesAt:]...)...)
	q := *ask
	q.Error, q.ErrorArgs = "", nil
	return lead, &q, notesAt + 1
}

// placeCard shows m as the live card: by editing the tapped card, or as a
// new message below (removing the keyboard of the card it replaces, which
// stays as history). After anything the person typed — an answer, a
// message that is not one, a command — the card goes below it: the
// question to answer is then the chat's last message, never above the
// person's own messages for the rest of the interview (taps edit it where
// it is). That costs a call more than editing the card above (the old
// card's keys go), once per typed message: taps, the many, stay one edit.
func (t *turn) placeCard(ctx context.Context, prev dialog.State, m Message) error {
	ev := t.ev
	cur := t.cur
	live := cur != 0 && (prev.Phase == dialog.PhaseAsking || prev.Phase == dialog.PhaseLanguage)
	// A card that showed a note with its question (the welcome and the
	// consent) stays as history when a tap on it asks nothing next:
	// computed only when it matters.
	keep := func() bool {
		return prev.Phase == dialog.PhaseAsking && t.form != nil && dialog.NoteBefore(t.form, prev, prev.Pos)
	}
	reuse := 0
	if ev.query != "" && ev.msgID != 0 && live && !t.below && (ev.msgID != cur || len(m.Keyboard) > 0 || !keep()) {
		// A tap that leads to a question edits the tapped card, the
		// welcome-and-consent card too: "Yes, I agree" turns it into the
		// first question (one call, one live card; /privacy shows the
		// promises again). A tap that ends there ("No, thanks") keeps it.
		reuse = ev.msgID
	}
	if live && cur != reuse {
		t.strip(cur)
	}
	if !live && cur != 0 && prev.Phase == dialog.PhaseDone && t.it.Replay() {
		// The update that ended the interview, applied but its replies
		// never sent (the Bot API or Redis failed after the save): the
		// last question's card still has its keys. Its closing notes
		// are shown again (interview.Closing; the summary cannot be: the
		// answers left with the save) as the step would have: a tap
		// turns the tapped card into them, unless that card showed a
		// note (the welcome-and-consent card: "No, thanks" keeps it);
		// otherwise the card loses its keys and the closing (or "already
		// answered") comes below, so nobody taps on a finished interview.
		if ev.query != "" && ev.msgID == cur && len(m.Keyboard) == 0 && t.closingCard(prev) {
			reuse = cur
		} else {
			t.strip(cur)
		}
	}
	if ev.query != "" && ev.msgID != 0 && ev.msgID != reuse && ev.msgID != cur && !t.below {
		// A tap on an old card: its keyboard goes too.
		t.strip(ev.msgID)
	}
	if reuse != 0 {
		t.dropEdits(reuse)
		t.edits = append(t.edits, edit{msg: reuse, m: m})
		if len(m.Keyboard) > 0 {
			t.lastMsg = reuse
		}
		return nil
	}
	return t.sendMsg(ctx, m, len(m.Keyboard) > 0)
}

// closingCard reports whether a replay after the interview's end (prev,
// the finished state) shows its closing notes again and the tapped card
// would have been turned into them: it did not show a note above its
// question. Which note the card showed is judged without the answers
// (they left with the save): right for the welcome-and-consent card, whose
// notes hold under any answers.
func (t *turn) closingCard(prev dialog.State) bool {
	if t.form == nil || interview.Closing(t.form, prev) == nil {
		return false
	}
	cb, err := DecodeCallback(t.ev.data)
	if err != nil {
		return false
	}
	s := prev
	s.Answers, s.Phase = map[string]string{}, dialog.PhaseAsking
	return !dialog.NoteBefore(t.form, s, cb.Pos)
}

// strip removes message id's keyboard, unless an edit of it is pending
// (an edit without keyboard removes it already).
func (t *turn) strip(id int) {
	for _, e := range t.edits {
		if e.msg == id {
			return
		}
	}
	t.edits = append(t.edits, edit{msg: id, kbOnly: true})
}

func (t *turn) dropEdits(id int) {
	out := t.edits[:0]
	for _, e := range t.edits {
		if e.msg != id {
			out = append(out, e)
		}
	}
	t.edits = out
}

// sendMsg answers the callback and settles edited messages before the
// first new message, so the chat reads in order — except the removal of
// the old card's keyboard, which waits until the new card is there: a
// send that is paced, throttled or fails must not leave the person with
// no card to tap (issue 17: "no button on the consent card").
func (t *turn) sendMsg(ctx context.Context, m Message, question bool) error {
	if err := t.answerNow(ctx); err != nil {
		return err
	}
	var strips []edit
	edits := t.edits[:0]
	for _, e := range t.edits {
		if e.kbOnly && len(e.m.Keyboard) == 0 {
			strips = append(strips, e)
		} else {
			edits = append(edits, e)
		}
	}
	t.edits = edits
	if err := t.flushEdits(ctx); err != nil {
		return err
	}
	id, err := t.h.cfg.Sender.Send(ctx, t.ev.chat, m)
	if err == nil {
		t.edits = append(t.edits, strips...) // flushed by the caller
	}
	if err != nil {
		if errors.Is(err, ErrBlocked) {
			t.h.log.Info("respondent blocked the bot", "chat", t.h.chatKey(t.ev.chat))
			return nil
		}
		if errors.Is(err, ErrTelegram) {
			t.h.log.Error("message refused by Telegram", "chat", t.h.chatKey(t.ev.chat), "err", err)
			return nil
		}
		return err
	}
	t.sent = append(t.sent, id) // for /delete
	if question {
		t.lastMsg = id
	}
	return nil
}

func (t *turn) flushEdits(ctx context.Context) error {
	edits := t.edits
	t.edits = nil
	for _, e := range edits {
		if err := t.answerNow(ctx); err != nil {
			return err
		}
		var err error
		if e.kbOnly {
			err = t.h.cfg.Sender.EditKeyboard(ctx, t.ev.chat, e.msg, e.m.Keyboard)
		} else {
			err = t.h.cfg.Sender.Edit(ctx, t.ev.chat, e.msg, e.m)
		}
		if err := ignoreTelegram(err); err != nil {
			return err
		}
	}
	return nil
}

// answerNow answers the callback query through the API unless it is
// deferred to the webhook response; a deferred answer only travels when
// nothing else is sent before it would matter, or when a Bot API call has
// to wait (offerAnswer).
func (t *turn) answerNow(ctx context.Context) error {
	if t.ev.query == "" || t.answered {
		return nil
	}
	if t.defer_ {
		offerAnswer(ctx, t.deferred())
		return nil
	}
	t.answered = true
	return t.h.answerAPI(ctx, t.ev.query, t.notice)
}

// deferred is the callback answer the webhook response would carry now.
// It is made once per notice: a turn offers it before each of its calls
// (answerNow) and returns it (finish), and an answer offered is read by
// the goroutine that may settle the job with it, so it is never changed.
func (t *turn) deferred() *CallbackAnswer {
	if t.offer == nil || t.offer.Text != t.notice {
		t.offer = &CallbackAnswer{QueryID: t.ev.query, Text: t.notice}
	}
	return t.offer
}

// answerAPI answers a callback query through the Bot API and, unless the
// call failed in a way worth retrying, records it as answered for the
// update's later attempts (answeredVia).
func (h *Handler) answerAPI(ctx context.Context, query, text string) error {
	err := ignoreTelegram(h.cfg.Sender.Answer(ctx, query, text))
	if err == nil {
		answeredVia(ctx)
	}
	return err
}

// finish settles the edits and answers the callback (now, or in the
// webhook response).
func (t *turn) finish(ctx context.Context) (Outcome, error) {
	var out Outcome
	if err := t.flushEdits(ctx); err != nil {
		return out, err
	}
	if t.ev.query != "" && !t.answered {
		if t.defer_ {
			out.Answer = t.deferred()
		} else if err := t.h.answerAPI(ctx, t.ev.query, t.notice); err != nil {
			return out, err
		}
	}
	// The core records the replies as sent once Present returns.
	return out, nil
}

// note puts a message above the question card of this turn instead of
// sending it on its own (junk and the like get one message, or an edit).
// Without a question to show, it is sent as a message of its own.
func (t *turn) note(id string, warn bool) {
	text := t.r.Text(t.lang, id, nil)
	if warn {
		text = "⚠️ " + text
	}
	t.lead = append(t.lead, text)
}

// page shows another page of the current question's long list: the
// card's keyboard alone changes (one edit), nothing is saved.
func (t *turn) page(ctx context.Context, cb Callback) (Outcome, error) {
	h, ev := t.h, t.ev
	if t.state.Phase != dialog.PhaseAsking || cb.Pos != t.state.Pos || cb.Seq != t.state.Seq || ev.msgID == 0 || t.form == nil {
		t.refuseTap(ctx)
		return t.step(ctx, dialog.Input{Kind: dialog.InRepeat}, false)
	}
	_, replies := dialog.Step(t.form, t.state, dialog.Input{Kind: dialog.InRepeat}, h.cfg.Now())
	for _, r := range replies {
		if r.Kind != dialog.ReplyAsk {
			continue
		}
		n, _ := strconv.Atoi(cb.Option)
		m, err := t.r.AskPage(t.lang, t.form, r, n)
		if err != nil {
			return Outcome{}, err
		}
		t.edits = append(t.edits, edit{msg: ev.msgID, m: Message{Keyboard: m.Keyboard}, kbOnly: true})
		if ev.msgID != t.lastMsg {
			t.bare = false // not known of that card
		}
		t.lastMsg = ev.msgID
	}
	return t.finish(ctx)
}
