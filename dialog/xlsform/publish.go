package xlsform

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/internal/tghtml"
)

// Publication is a workbook ready to publish (issue 13): the imported form,
// the languages it can be published for and those left out because they
// lack messages. `needsbot form publish` and the bot's workbook upload share it.
type Publication struct {
	Result     *Result
	Complete   []string
	Incomplete []string
}

// Prepare imports a workbook for publication: refused with the importer's
// problems (a *RefusedError), or when the default language lacks messages.
func Prepare(wb *Workbook) (*Publication, error) {
	res, err := Import(wb)
	if err != nil {
		return nil, err
	}
	p := &Publication{Result: res}
	p.Complete, p.Incomplete = res.CompleteLanguages()
	if !slices.Contains(p.Complete, res.Form.Language) {
		return nil, fmt.Errorf("the default language %s lacks messages: complete it before publishing", res.Form.Language)
	}
	return p, nil
}

// Messages is the message file (TOML) of every complete language.
func (p *Publication) Messages() map[string]string {
	msgs := make(map[string]string, len(p.Complete))
	for _, l := range p.Complete {
		msgs[l] = string(p.Result.TOML(l))
	}
	return msgs
}

// Preview is a short plain-text transcript of one walk through the form in
// lang: the title, then each question asked (at most max) with its choices,
// the one answered marked. The walk answers deterministically, as an
// eligible respondent who consents, so the same workbook previews the same;
// when no such walk ends, the questions are listed in form order.
func (p *Publication) Preview(lang string, max int) string {
	f := p.Result.Form
	msgs := p.Result.Messages[lang]
	text := func(id string) string {
		if s, ok := msgs[id]; ok {
			return tghtml.Plain(s)
		}
		return id
	}
	// A random answer may break a constraint: try a few seeds, then show
	// the questions in form order without answers.
	var res dialog.WalkResult
	err := fmt.Errorf("no walk")
	for seed := uint64(1); seed <= 20 && err != nil; seed++ {
		random := dialog.RandomPicker(f, rand.New(rand.NewPCG(seed, uint64(f.Version))), 0)
		res, err = dialog.Walk(f, lang, nil, func(q *dialog.Question, offered []string) ([]string, bool) {
			if q.Type == dialog.TypeInteger || q.Type == dialog.TypeDecimal {
				return []string{"30"}, false // an adult's age, a count: passes the usual constraints
			}
			return random(q, offered)
		})
	}
	if err != nil {
		res = dialog.WalkResult{}
		for _, q := range f.Questions {
			res.Asked = append(res.Asked, q.Name)
		}
	}
	answers := map[string][]string{}
	if res.Response != nil {
		for q, a := range res.Response.Answers {
			answers[q] = strings.Fields(a)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s]\n", text(f.Title), lang)
	n := 0
	for i, name := range res.Asked {
		q := f.Question(name)
		if q.Label == "" || msgs[q.Label] == "" {
			continue // calculations show nothing
		}
		if n == max {
			fmt.Fprintf(&b, "… (%d more)\n", len(res.Asked)-i)
			break
		}
		n++
		fmt.Fprintf(&b, "%d. %s\n", n, text(q.Label))
		if q.List == nil {
			continue
		}
		for _, c := range q.List.Choices {
			mark := "  -"
			if slices.Contains(answers[name], c.Name) {
				mark = "  ✔"
			}
			fmt.Fprintf(&b, "%s %s\n", mark, text(c.Label))
		}
	}
	return b.String()
}
