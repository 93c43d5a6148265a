package interview

import (
	"strings"

	"github.com/needsbot/needsbot/dialog"
)

// The closing of a finished interview, shown again on a replay.
//
// The step that ends an interview shows its closing notes (the thank-you,
// or why nothing was kept) on the last card, with a summary of the
// answers. When that step is saved but its reply never reaches the person
// (the Bot API failing past every retry, Redis cut between the save and
// its reply) the update comes again, finds itself applied, and is
// replayed: the answers have left with the save (Stored), so the summary
// cannot be shown again, but the closing notes can — by name
// (CtxClosing), rendered again in the interview's language. Without them
// (a state saved by a replica that did not keep them) the replay says
// "already answered", as before.

// maxClosing bounds the closing notes kept (a form's end has one or two).
const maxClosing = 8

// withClosing returns the stored state of a finished interview s with the
// names of the closing notes that replies (the ending step's) show. A note
// whose label names an answer (LabelChoice) cannot be shown again without
// it and is left out.
func withClosing(s dialog.State, replies []dialog.Reply) dialog.State {
	var names []string
	for _, r := range replies {
		if r.Kind != dialog.ReplySay || r.Question == "" || len(names) == maxClosing {
			continue
		}
		if r.Args != nil || strings.ContainsAny(r.Question, " \t\n") {
			continue
		}
		names = append(names, r.Question)
	}
	if len(names) == 0 {
		return s
	}
	ctx := make(map[string]string, len(s.Context)+1)
	for k, v := range s.Context {
		ctx[k] = v
	}
	ctx[CtxClosing] = strings.Join(names, " ")
	s.Context = ctx
	return s
}

// Closing returns the closing notes kept with finished interview s of form
// f (CtxClosing), as the replies that showed them; nil when none were kept
// or f has none of those names.
func Closing(f *dialog.Form, s dialog.State) []dialog.Reply {
	names := s.Context[CtxClosing]
	if f == nil || s.Phase != dialog.PhaseDone || names == "" {
		return nil
	}
	var out []dialog.Reply
	for _, name := range strings.Fields(names) {
		for _, q := range f.Questions {
			if q.Name != name {
				continue
			}
			if q.Type == dialog.TypeNote && q.LabelChoice == nil {
				out = append(out, dialog.Reply{Kind: dialog.ReplySay, Msg: q.Label, Hint: q.Hint, Question: q.Name, Pos: q.Index})
			}
			break
		}
	}
	return out
}
