package menu

import (
	"context"

	"github.com/needsbot/needsbot/bot"
)

// Step is one question of a wizard over drafts of type D (a small value
// type whose fields are set in step order).
type Step[D any] struct {
	Name string
	// Done reports whether d has this step's answer.
	Done func(d D) bool
	// Clear forgets this step's answer (Back).
	Clear func(d D) D
	// Preset, if set, answers the step without asking when there is
	// nothing to choose (a manager's own municipality, a municipality
	// without services); ok false: ask. Back passes over preset steps.
	Preset func(ctx context.Context, d D) (next D, ok bool, err error)
	// Ask is the question and its choices.
	Ask func(ctx context.Context, d D) (Prompt[D], error)
	// Input, when set, makes the step a typed-input step: the member
	// replies to the menu message with text, which Input turns into the
	// next draft, or into a problem (a message for the member) when the
	// text is not valid.
	Input func(ctx context.Context, d D, text string) (next D, problem string, err error)
}

// Choice is a button: its label and the draft it leads to.
type Choice[D any] struct {
	Label string
	Next  D
}

// Prompt is what a step shows.
type Prompt[D any] struct {
	Text    string
	Choices []Choice[D]
	Nav     []Choice[D] // previous/next page, "none of these"…: a row of its own
	Column  bool        // one choice per row (long labels)
}

// Labels are the wizard's own buttons, in the member's language.
type Labels struct {
	Back, Cancel string
	// Reply labels the first button of a typed-input step; it carries
	// the draft that a reply to the message continues.
	Reply string
}

// Wizard is a sequence of steps over drafts carried in button data under
// one route.
type Wizard[D any] struct {
	Route  Route
	Steps  []Step[D]
	Encode func(d D) string // the draft as a payload (see Enc)
}

// Resolve applies the presets of the steps before the first one d does
// not answer, and returns the completed draft and that step's index
// (len(Steps) when every step is answered).
func (w *Wizard[D]) Resolve(ctx context.Context, d D) (D, int, error) {
	for i, s := range w.Steps {
		if s.Done(d) {
			continue
		}
		if s.Preset != nil {
			next, ok, err := s.Preset(ctx, d)
			if err != nil {
				return d, i, err
			}
			if ok {
				d = next
				continue
			}
		}
		return d, i, nil
	}
	return d, len(w.Steps), nil
}

// Back returns the draft one question back from step at: the last
// answered step that was asked (not preset) is cleared, with any preset
// ones after it. ok is false at the first question.
func (w *Wizard[D]) Back(ctx context.Context, d D, at int) (D, bool, error) {
	for i := at - 1; i >= 0; i-- {
		d = w.Steps[i].Clear(d)
		if p := w.Steps[i].Preset; p != nil {
			_, preset, err := p(ctx, d)
			if err != nil {
				return d, false, err
			}
			if preset {
				continue
			}
		}
		return d, true, nil
	}
	return d, false, nil
}

// Screen renders step at of draft d: the prompt's text (after head) and a
// keyboard of its choices, then Back (when there is a question to go back
// to) and Cancel. A typed-input step's first button carries d itself.
func (w *Wizard[D]) Screen(ctx context.Context, d D, at int, head string, l Labels) (bot.Message, error) {
	s := w.Steps[at]
	p, err := s.Ask(ctx, d)
	if err != nil {
		return bot.Message{}, err
	}
	var rows [][]bot.Key
	if s.Input != nil {
		k, err := w.key(l.Reply, d)
		if err != nil {
			return bot.Message{}, err
		}
		rows = append(rows, []bot.Key{k})
	}
	keys, err := w.keys(p.Choices)
	if err != nil {
		return bot.Message{}, err
	}
	nav, err := w.keys(p.Nav)
	if err != nil {
		return bot.Message{}, err
	}
	if p.Column {
		for _, k := range keys {
			rows = append(rows, []bot.Key{k})
		}
		if len(nav) > 0 {
			rows = append(rows, nav)
		}
	} else {
		rows = append(rows, bot.Layout(keys, nav)...)
	}
	var last []bot.Key
	if prev, ok, err := w.Back(ctx, d, at); err != nil {
		return bot.Message{}, err
	} else if ok {
		k, err := w.key(l.Back, prev)
		if err != nil {
			return bot.Message{}, err
		}
		last = append(last, k)
	}
	cancel, err := Key(l.Cancel, Cancel, "")
	if err != nil {
		return bot.Message{}, err
	}
	rows = append(rows, append(last, cancel))
	text := p.Text
	if head != "" {
		text = head + "\n\n" + p.Text
	}
	return bot.Message{Text: text, Keyboard: rows}, nil
}

func (w *Wizard[D]) key(label string, d D) (bot.Key, error) { return Key(label, w.Route, w.Encode(d)) }

func (w *Wizard[D]) keys(cs []Choice[D]) ([]bot.Key, error) {
	keys := make([]bot.Key, 0, len(cs))
	for _, c := range cs {
		k, err := w.key(c.Label, c.Next)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Typed applies text typed in reply to the menu of draft d, at the step d
// waits for. ok is false when that step takes no typed input (the reply
// is not for the wizard).
func (w *Wizard[D]) Typed(ctx context.Context, d D, text string) (next D, at int, problem string, ok bool, err error) {
	d, at, err = w.Resolve(ctx, d)
	if err != nil || at == len(w.Steps) || w.Steps[at].Input == nil {
		return d, at, "", false, err
	}
	next, problem, err = w.Steps[at].Input(ctx, d, text)
	return next, at, problem, true, err
}
