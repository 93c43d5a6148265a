package bot

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/locales"
)

// TestEveryQuestionInEveryLanguage renders every question of the
// immigrants' questionnaire (and, in the staff languages, the operators')
// and every engine and bot message in every shipped language through the
// real renderer: no message id may show through, no template placeholder
// may be left, the HTML must be valid for Telegram and fit its limits.
func TestEveryQuestionInEveryLanguage(t *testing.T) {
	r, lib := testRenderer(t)
	langs := r.cat.Languages()
	if len(langs) < 16 {
		t.Fatalf("only %d languages shipped", len(langs))
	}
	data := map[string]any{"N": 3, "Of": 30, "Count": 3, "Choice": "c.immigrati.aree.lingua", "Answer": "X", "Min": "1", "Max": "5", "Year": "2024", "Hours": "lun-ven 9-13", "Languages": "Italiano"}
	for _, l := range langs {
		t.Run(l.Code, func(t *testing.T) {
			forms := []string{"immigrati"}
			if l.Code == "it" || l.Code == "en" {
				forms = append(forms, "operatori")
			}
			for _, id := range forms {
				f := lib.Latest(id)
				for _, q := range f.Questions {
					if !q.Type.Shown() {
						continue
					}
					rep := dialog.Reply{Kind: dialog.ReplyAsk, Msg: q.Label, Hint: q.Hint, Question: q.Name, Pos: q.Index,
						Progress: dialog.Progress{N: 3, Of: 30}, Error: q.ConstraintMsg}
					if q.LabelChoice != nil {
						// A label that names an earlier answer's choice.
						rep.Args = map[string]any{"Choice": q.LabelChoice.List.Choices[0].Label}
					}
					if q.List != nil {
						for _, c := range q.List.Choices {
							rep.Buttons = append(rep.Buttons, dialog.Button{Kind: dialog.BtnChoose, Label: c.Label, Option: c.Name})
						}
					}
					rep.Buttons = append(rep.Buttons, dialog.Button{Kind: dialog.BtnBack, Label: dialog.MsgBack}, dialog.Button{Kind: dialog.BtnSkip, Label: dialog.MsgSkip})
					m, err := r.Ask(l.Code, f, rep)
					if err != nil {
						t.Fatalf("%s: %v", q.Name, err)
					}
					checkRendered(t, l, q.Name, m.Text)
					for _, row := range m.Keyboard {
						for _, k := range row {
							if k.Text == "" || strings.Contains(k.Text, "c."+id+".") || strings.Contains(k.Text, "m.btn") {
								t.Errorf("%s: button %q shows a message id", q.Name, k.Text)
							}
							if n := utf8.RuneCountInString(k.Text); n > 40 {
								t.Errorf("%s: button %q has %d characters", q.Name, k.Text, n)
							}
						}
					}
					ans := r.Answered(l.Code, f, dialog.Reply{Msg: q.Label, Args: rep.Args, Question: q.Name, AnswerMsgs: []string{dialog.MsgOK}})
					checkRendered(t, l, q.Name+" answered", ans.Text)
				}
			}
			for _, id := range append(dialog.EngineMessageIDs(), MessageIDs()...) {
				checkRendered(t, l, id, r.Text(l.Code, id, data))
			}
		})
	}
}

func checkRendered(t *testing.T, l locales.Language, what, text string) {
	t.Helper()
	switch {
	case strings.Contains(text, "{{") || strings.Contains(text, "<no value>"):
		t.Errorf("%s: unfilled placeholder: %q", what, text)
	case strings.Contains(text, "q.immigrati.") || strings.Contains(text, "q.operatori.") || strings.HasPrefix(text, "m.") || strings.HasPrefix(text, "b."):
		t.Errorf("%s: a message id shows through: %q", what, text)
	case utf8.RuneCountInString(text) > MaxText:
		t.Errorf("%s: %d characters", what, utf8.RuneCountInString(text))
	}
	if err := locales.CheckHTML(text); err != nil {
		t.Errorf("%s: %v in %q", what, err, text)
	}
	if l.RTL && strings.Contains(text, "3 / 30") && !strings.Contains(text, lri) {
		t.Errorf("%s: progress not isolated in %s", what, l.Code)
	}
}
