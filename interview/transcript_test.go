package interview

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/internal/golden"
)

// Goldens of the core, goflow-style: a conversation of inputs through
// Apply over in-memory ports, and per step the calls the core made, the
// effects it handed the channel and the session it left. `go test
// -update` rewrites testdata/*.golden (review the diff).

// memPorts is every port in memory, logging each call.
type memPorts struct {
	log      []string
	states   map[int64]Loaded
	seen     map[int64]Seen
	reminder map[int64]string
}

func newMemPorts() *memPorts {
	return &memPorts{states: map[int64]Loaded{}, seen: map[int64]Seen{}, reminder: map[int64]string{}}
}

func (m *memPorts) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

func (m *memPorts) Load(_ context.Context, chat, key int64) (Loaded, error) {
	m.logf("Load chat=%d key=%d", chat, key)
	l := m.states[chat]
	l.Seen = SeenNone
	if key != 0 {
		l.Seen = m.seen[key]
	}
	return l, nil
}

func (m *memPorts) Save(_ context.Context, chat, key int64, expect, next uint64, blob []byte, ab *Abandon, _ Stage) error {
	abandon := "-"
	if ab != nil {
		abandon = ab.Form + "@" + ab.LastQuestion
	}
	m.logf("Save chat=%d key=%d expect=%d next=%d abandon=%s", chat, key, expect, next, abandon)
	if m.states[chat].Version != expect {
		return ErrConflict
	}
	m.states[chat] = Loaded{Blob: blob, Version: next, LastMsg: m.states[chat].LastMsg}
	if key != 0 {
		m.seen[key] = SeenApplied
	}
	return nil
}

func (m *memPorts) MarkSent(_ context.Context, chat, key int64, lastMsg int) error {
	m.logf("MarkSent chat=%d key=%d last=%d", chat, key, lastMsg)
	m.seen[key] = SeenSent
	if l, ok := m.states[chat]; ok {
		l.LastMsg = lastMsg
		m.states[chat] = l
	}
	return nil
}

func (m *memPorts) Delete(_ context.Context, chat int64) error {
	m.logf("Delete chat=%d", chat)
	delete(m.states, chat)
	delete(m.reminder, chat)
	return nil
}

func (m *memPorts) Complete(_ context.Context, c Completion) error {
	m.logf("Complete pseudonym=%s form=%s v%d answers=%s context=%s", c.Pseudonym, c.Response.Form, c.Response.FormVersion,
		sortedMap(c.Response.Answers), sortedMap(c.Response.Context))
	return nil
}

func (m *memPorts) Erase(_ context.Context, pseudonym string) (int, error) {
	m.logf("Erase pseudonym=%s", pseudonym)
	return 1, nil
}

func (m *memPorts) Resolve(_ context.Context, token, user string) (Invite, error) {
	m.logf("Resolve token=%s user=%s", token, user)
	if token != "poster" {
		return Invite{}, ErrInviteUnknown
	}
	return Invite{Form: "mini", Context: map[string]string{CtxMunicipality: "3", CtxService: "9", CtxInvite: "12"}}, nil
}

func (m *memPorts) Arm(_ context.Context, chat int64, lang string, due time.Time) error {
	m.logf("Arm chat=%d lang=%s due=%s", chat, lang, due.UTC().Format(time.RFC3339))
	if m.reminder[chat] != "refused" {
		m.reminder[chat] = "armed"
	}
	return nil
}

func (m *memPorts) Cancel(_ context.Context, chat int64, refuse bool) error {
	m.logf("Cancel chat=%d refuse=%v", chat, refuse)
	m.reminder[chat] = ""
	if refuse {
		m.reminder[chat] = "refused"
	}
	return nil
}

func (m *memPorts) Record(_ context.Context, chat int64, ids []int) error {
	m.logf("Record chat=%d ids=%v", chat, ids)
	return nil
}

func (m *memPorts) Recent(_ context.Context, chat int64) ([]int, error) {
	m.logf("Recent chat=%d", chat)
	return []int{100, 101}, nil
}

func (m *memPorts) Interview(event string) { m.logf("Event %s", event) }

// tstep is one input of a conversation: what the person (or the clock)
// did, and what the channel does with a chat input.
type tstep struct {
	label string
	in    Input
	act   func(ctx context.Context, t *Turn) error
}

func tap(opt string) func(context.Context, *Turn) error {
	return func(ctx context.Context, t *Turn) error {
		_, err := t.Step(ctx, dialog.Input{Kind: dialog.InChoose, Option: opt, Button: true, Pos: t.State().Pos, Seq: t.State().Seq}, true)
		t.Shown(200 + int(t.State().Seq))
		return err
	}
}

// lost is act whose replies never reach the person: the input is applied
// (saved) and the channel fails.
func lost(act func(context.Context, *Turn) error) func(context.Context, *Turn) error {
	return func(ctx context.Context, t *Turn) error {
		if err := act(ctx, t); err != nil {
			return err
		}
		return errReplyLost
	}
}

var errReplyLost = errors.New("the reply did not reach the person")

func startWith(payload string) func(context.Context, *Turn) error {
	return func(ctx context.Context, t *Turn) error {
		s, err := t.Start(ctx, payload)
		if err != nil || s.Refused != nil {
			return err
		}
		_, err = t.Step(ctx, s.Input, true)
		return err
	}
}

func chooseLanguage(lang string) func(context.Context, *Turn) error {
	return func(ctx context.Context, t *Turn) error {
		_, err := t.ChooseLanguage(ctx, lang)
		return err
	}
}

func TestTranscripts(t *testing.T) {
	chat := func(key int64, label string, act func(context.Context, *Turn) error) tstep {
		return tstep{label: label, in: Input{Kind: KindChat, Key: UpdateKey(key), Chat: 7, User: 7, LangHint: "en-GB"}, act: act}
	}
	convs := map[string][]tstep{
		"complete": {
			chat(1, "/start with an unknown token", startWith("nope")),
			chat(2, "/start poster", startWith("poster")),
			chat(3, "language: en", chooseLanguage("en")),
			chat(4, "tap yes (consent)", tap("yes")),
			chat(4, "the same tap delivered again", tap("yes")),
			chat(5, "tap yes (likes)", tap("yes")),
			chat(6, "tap no (again): completes", tap("no")),
			{label: "reminder due after completion", in: Input{Kind: KindRemind, Chat: 7}},
			chat(7, "/start poster again: a new interview from the invite", startWith("poster")),
		},
		// The step that ends the interview is saved but its reply is
		// lost (the channel fails past every retry): the update comes
		// again and is replayed with the closing note it showed, not
		// "already answered" — for a completion and for a decline.
		"replay-end": {
			chat(1, "/start poster", startWith("poster")),
			chat(2, "language: en", chooseLanguage("en")),
			chat(3, "tap yes (consent)", tap("yes")),
			chat(4, "tap yes (likes)", tap("yes")),
			chat(5, "tap no (again): completes, its reply lost", lost(tap("no"))),
			chat(5, "the same tap delivered again: the closing note again", nil),
			chat(6, "/start poster: a new interview", startWith("poster")),
			chat(7, "language: en", chooseLanguage("en")),
			chat(8, "tap no (consent): declines, its reply lost", lost(tap("no"))),
			chat(8, "the same tap delivered again: the decline's note again", nil),
			chat(9, "a tap on the old card after an end without answers: how to start again", tap("yes")),
		},
		"remind-expire-delete": {
			chat(1, "/start poster", startWith("poster")),
			chat(2, "language: en", chooseLanguage("en")),
			chat(3, "tap yes (consent)", tap("yes")),
			{label: "reminder due", in: Input{Kind: KindRemind, Chat: 7}, act: func(_ context.Context, t *Turn) error {
				t.Reminded(300)
				return nil
			}},
			chat(4, "reminder's Continue", func(_ context.Context, t *Turn) error {
				t.ContinueFromReminder()
				return nil
			}),
			{label: "the interview expires", in: Input{Kind: KindExpire, Key: ExpireKey(7, 3), Chat: 7}},
			{label: "the same expiry again", in: Input{Kind: KindExpire, Key: ExpireKey(7, 3), Chat: 7}},
			chat(5, "/start poster: a new interview", startWith("poster")),
			chat(6, "/delete confirmed", func(ctx context.Context, t *Turn) error {
				_, err := t.Erase(ctx)
				return err
			}),
		},
	}
	for name, steps := range convs {
		t.Run(name, func(t *testing.T) {
			m := newMemPorts()
			core := New(Config{Forms: miniForms(t), DefaultForm: "mini", Sessions: m, Responses: m, Invites: m,
				Messages: m, Reminders: m, ReminderAfter: 24 * time.Hour, Events: m,
				Pseudonym: func(u int64) string { return fmt.Sprintf("p%d", u) }, Now: func() time.Time { return testNow }})
			var b strings.Builder
			for i, st := range steps {
				m.log = nil
				var presented *Turn
				ch := channelFunc(func(ctx context.Context, t *Turn) error {
					presented = t
					if st.act != nil {
						return st.act(ctx, t)
					}
					return nil
				})
				err := core.Apply(context.Background(), st.in, ch)
				fmt.Fprintf(&b, "## %d. %s (%s, key %d)\n", i+1, st.label, st.in.Kind, st.in.Key.ID())
				if err != nil {
					fmt.Fprintf(&b, "error: %v\n", err)
				}
				b.WriteString("calls:\n")
				for _, l := range m.log {
					b.WriteString("  " + l + "\n")
				}
				if presented == nil {
					b.WriteString("presented: nothing\n")
				} else {
					fmt.Fprintf(&b, "presented: lang=%s replay=%v\n", presented.Lang(), presented.Replay())
					writeEffects(&b, presented.Effects())
				}
				writeSession(t, &b, m.states[7])
				b.WriteString("\n")
			}
			golden.Check(t, filepath.Join("testdata", name+".golden"), []byte(b.String()))
		})
	}
}

type channelFunc func(ctx context.Context, t *Turn) error

func (f channelFunc) Present(ctx context.Context, t *Turn) error { return f(ctx, t) }

var replyNames = map[dialog.ReplyKind]string{dialog.ReplyAsk: "ask", dialog.ReplySay: "say", dialog.ReplyAnswered: "answered",
	dialog.ReplyKeyboard: "keyboard", dialog.ReplyNotice: "notice", dialog.ReplyAskLanguage: "ask-language", dialog.ReplyComplete: "complete"}

func writeEffects(b *strings.Builder, e Effects) {
	fmt.Fprintf(b, "effects: saved=%v completed=%v noinvite=%v\n", e.Saved, e.Completed != nil, e.NoInvite)
	for _, r := range e.Replies {
		fmt.Fprintf(b, "  %s %s", replyNames[r.Kind], r.Msg)
		for _, k := range r.Buttons {
			fmt.Fprintf(b, " [%s]", cmpStr(k.Option, k.Label))
		}
		if len(r.AnswerMsgs) > 0 {
			fmt.Fprintf(b, " = %s", strings.Join(r.AnswerMsgs, ","))
		}
		b.WriteString("\n")
	}
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func writeSession(t *testing.T, b *strings.Builder, l Loaded) {
	if l.Blob == nil {
		b.WriteString("session: none\n")
		return
	}
	s, err := dialog.Decode(l.Blob)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(b, "session: v%d phase=%d form=%s/%d pos=%d seq=%d lang=%s consent=%v outcome=%s last=%d\n",
		l.Version, s.Phase, s.Form, s.FormVersion, s.Pos, s.Seq, s.Lang, s.Consent, s.Outcome, l.LastMsg)
	fmt.Fprintf(b, "  answers=%s context=%s\n", sortedMap(s.Answers), sortedMap(s.Context))
}

func sortedMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + m[k]
	}
	return "{" + strings.Join(parts, " ") + "}"
}
