package results

import (
	"cmp"
	"slices"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// Item is one cell of a breakdown: a choice, a language, a question or a
// municipality, and its count.
type Item struct {
	Code  string
	Count Count
}

// Share is the item's share of total (0 to 1), or 0 when total is 0.
func (it Item) Share(total int64) float64 {
	if total <= 0 {
		return 0
	}
	return float64(it.Count.N) / float64(total)
}

// Breakdown is a total split into cells, suppressed.
type Breakdown struct {
	Question string // the question counted ("" for languages)
	List     string // its choice list: labels are c.<form>.<list>.<choice>
	// Total is what shares are taken of: the responses that answered the
	// question, or the total the cells partition.
	Total Count
	Items []Item
}

// Report is a /results summary, suppressed: what staff may see.
type Report struct {
	Filter        Filter
	Completed     Count
	Abandoned     Count
	Rate          float64 // completed ÷ (completed + abandoned)
	RateShown     bool
	MedianSeconds float64
	MedianShown   bool
	Languages     Breakdown  // completed interviews by language (a partition)
	Priorities    *Breakdown // the priority question, when the form has one
	Needs         []Breakdown
	Funnel        Breakdown // abandoned interviews by last question (a partition), in form order
}

// Empty reports whether nothing at all was counted.
func (r *Report) Empty() bool { return r.Completed.N == 0 && r.Abandoned.N == 0 }

// priorityQuestion returns the question in which respondents name their
// priorities: priorita (immigrants) or priorita_interventi (operators).
func priorityQuestion(f *dialog.Form) string {
	for _, name := range []string{"priorita", "priorita_interventi"} {
		if q := f.Question(name); q != nil && q.Type == dialog.TypeSelectMultiple {
			return name
		}
	}
	return ""
}

// needQuestions returns the multiple-choice questions of the form's
// sections, in form order, without the priority question.
func needQuestions(f *dialog.Form) []*dialog.Question {
	prio := priorityQuestion(f)
	var out []*dialog.Question
	for _, q := range f.Questions {
		if q.Type == dialog.TypeSelectMultiple && q.Name != prio {
			out = append(out, q)
		}
	}
	return out
}

// descriptive are multiple-choice questions that describe rather than
// name needs (where people find information, what they take part in, what
// a service covers, which languages its leaflets are in, whom it works
// with): the summary lists them with their section, the chart of the top
// needs leaves them out.
var descriptive = map[string]bool{"info_fonti": true, "partecipa": true, "area_servizio": true,
	"materiali_lingue": true, "rete": true, "servizi_usati": true, "conviventi": true, "mediazione": true}

// reportQuestions lists the questions a report counts choices of: the
// newest version's, then the questions only older versions have.
func reportQuestions(f *dialog.Form, older ...*dialog.Question) []string {
	var qs []string
	if p := priorityQuestion(f); p != "" {
		qs = append(qs, p)
	}
	for _, q := range needQuestions(f) {
		qs = append(qs, q.Name)
	}
	for _, q := range older {
		qs = append(qs, q.Name)
	}
	return qs
}

// olderNeedQuestions returns the multiple-choice questions that only older
// versions of f have, newest version first: their answers are still
// counted, after the newest version's questions.
func olderNeedQuestions(lib *dialog.Library, f *dialog.Form) []*dialog.Question {
	if lib == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, q := range f.Questions {
		seen[q.Name] = true
	}
	var out []*dialog.Question
	for v := f.Version - 1; v >= 1; v-- {
		g := lib.Get(f.ID, v)
		if g == nil {
			continue
		}
		prio := priorityQuestion(g)
		for _, q := range g.Questions {
			if !seen[q.Name] && q.Type == dialog.TypeSelectMultiple && q.Name != prio {
				seen[q.Name] = true
				out = append(out, q)
			}
		}
	}
	return out
}

// choiceIndex indexes choice counts by question and choice.
type choiceIndex map[string]map[string]int64

func indexChoices(cs []pgstore.ChoiceCount) choiceIndex {
	idx := choiceIndex{}
	for _, c := range cs {
		m := idx[c.Question]
		if m == nil {
			m = map[string]int64{}
			idx[c.Question] = m
		}
		m[c.Choice] += c.N
	}
	return idx
}

// choiceBreakdown builds the suppressed breakdown of a select question:
// every choice of its list, largest first (ties in list order).
func choiceBreakdown(q *dialog.Question, counts map[string]int64, minCell int) Breakdown {
	b := Breakdown{Question: q.Name, Total: Count{N: counts[""]}}
	if q.List == nil {
		return b
	}
	b.List = q.List.Name
	for _, ch := range q.List.Choices {
		b.Items = append(b.Items, Item{Code: ch.Name, Count: Count{N: counts[ch.Name]}})
	}
	sortItems(b.Items)
	suppressBreakdown(&b, minCell, q.Type == dialog.TypeSelectOne)
	return b
}

// sortItems orders items by count, largest first; stable, so ties keep
// their order.
func sortItems(items []Item) {
	slices.SortStableFunc(items, func(a, b Item) int { return cmp.Compare(b.Count.N, a.Count.N) })
}

func suppressBreakdown(b *Breakdown, minCell int, partition bool) {
	cells := make([]*Count, len(b.Items))
	for i := range b.Items {
		cells[i] = &b.Items[i].Count
	}
	suppressCounts(&b.Total, cells, minCell, partition)
}

// buildReport turns counts into the report staff see: pure, so that the
// suppression of every number is tested on its own.
// older are need questions only older versions have (olderNeedQuestions).
func buildReport(f *dialog.Form, filter Filter, t pgstore.Totals, choices []pgstore.ChoiceCount, minCell int, older ...*dialog.Question) *Report {
	r := &Report{Filter: filter, Completed: MarkCount(t.Completed, minCell), Abandoned: MarkCount(t.Abandoned, minCell)}
	if r.Completed.Visible() && r.Abandoned.Visible() && t.Completed+t.Abandoned > 0 {
		r.Rate = float64(t.Completed) / float64(t.Completed+t.Abandoned)
		r.RateShown = true
	}
	if r.Completed.Visible() && t.Completed > 0 {
		r.MedianSeconds, r.MedianShown = t.MedianSeconds, true
	}

	r.Languages = Breakdown{Total: Count{N: t.Completed}}
	for lang, n := range t.Languages {
		r.Languages.Items = append(r.Languages.Items, Item{Code: lang, Count: Count{N: n}})
	}
	slices.SortFunc(r.Languages.Items, func(a, b Item) int {
		return cmp.Or(cmp.Compare(b.Count.N, a.Count.N), cmp.Compare(a.Code, b.Code))
	})
	suppressBreakdown(&r.Languages, minCell, true)

	r.Funnel = funnel(f, t.Funnel, minCell)

	idx := indexChoices(choices)
	if p := priorityQuestion(f); p != "" {
		b := choiceBreakdown(f.Question(p), idx[p], minCell)
		r.Priorities = &b
	}
	for _, q := range append(needQuestions(f), older...) {
		if q.Type == dialog.TypeSelectMultiple || len(idx[q.Name]) > 0 {
			r.Needs = append(r.Needs, choiceBreakdown(q, idx[q.Name], minCell))
		}
	}
	return r
}

// funnel builds the breakdown of abandoned interviews by the last question
// reached, in the order of the form (questions of older versions last).
func funnel(f *dialog.Form, counts map[string]int64, minCell int) Breakdown {
	var total int64
	for _, n := range counts {
		total += n
	}
	b := Breakdown{Total: Count{N: total}}
	for q, n := range counts {
		b.Items = append(b.Items, Item{Code: q, Count: Count{N: n}})
	}
	pos := func(q string) int {
		if x := f.Question(q); x != nil {
			return x.Index
		}
		return len(f.Questions)
	}
	slices.SortFunc(b.Items, func(a, c Item) int {
		return cmp.Or(cmp.Compare(pos(a.Code), pos(c.Code)), cmp.Compare(a.Code, c.Code))
	})
	suppressBreakdown(&b, minCell, true)
	return b
}

// Column is one municipality in a comparison.
type Column struct {
	Municipality  pgstore.MunicipalityTotals
	Completed     Count
	Abandoned     Count
	Rate          float64
	RateShown     bool
	MedianSeconds float64
	MedianShown   bool
	Priorities    *Breakdown
}

// Comparison is municipalities side by side on the same indicators.
type Comparison struct {
	Filter  Filter
	Columns []Column
}

// buildComparison suppresses a comparison. Completed (and abandoned)
// interviews per municipality partition the total over all of them, which
// an admin sees in the all-municipalities view: complementary suppression
// applies across the columns; a column whose count is suppressed shows no
// rate, median or priorities.
func buildComparison(f *dialog.Form, filter Filter, ms []pgstore.MunicipalityTotals, choices []pgstore.ChoiceCount, minCell int) *Comparison {
	c := &Comparison{Filter: filter}
	var totalC, totalA Count
	for _, m := range ms {
		c.Columns = append(c.Columns, Column{Municipality: m, Completed: Count{N: m.Completed}, Abandoned: Count{N: m.Abandoned}})
		totalC.N += m.Completed
		totalA.N += m.Abandoned
	}
	cc := make([]*Count, len(c.Columns))
	ac := make([]*Count, len(c.Columns))
	for i := range c.Columns {
		cc[i], ac[i] = &c.Columns[i].Completed, &c.Columns[i].Abandoned
	}
	// Only the municipalities with interviews are listed, so a zero is
	// no cell of the partition: those counts are suppressed as cells of
	// their own.
	suppressCounts(&totalC, cc, minCell, true)
	suppressCounts(&totalA, ac, minCell, true)
	byMuni := map[int64][]pgstore.ChoiceCount{}
	for _, ch := range choices {
		byMuni[ch.Municipality] = append(byMuni[ch.Municipality], ch)
	}
	prio := priorityQuestion(f)
	for i := range c.Columns {
		col := &c.Columns[i]
		m := col.Municipality
		if col.Completed.Visible() && col.Abandoned.Visible() && m.Completed+m.Abandoned > 0 {
			col.Rate, col.RateShown = float64(m.Completed)/float64(m.Completed+m.Abandoned), true
		}
		if col.Completed.Visible() && m.Completed > 0 {
			col.MedianSeconds, col.MedianShown = m.MedianSeconds, true
			if prio != "" {
				b := choiceBreakdown(f.Question(prio), indexChoices(byMuni[m.ID])[prio], minCell)
				col.Priorities = &b
			}
		}
	}
	return c
}

// Areas is the chart of the need areas, like with like: immigrants'
// priorities next to operators' most frequent requests (what users ask
// them for), as shares of who answered each question.
type Areas struct {
	Codes      []string  // the need areas, in list order
	Immigrants Breakdown // priorita over the areas
	Operators  Breakdown // richieste over the areas
}

// areasOperatorsQuestion is the operators' question the areas chart
// compares with the immigrants' priorities.
const areasOperatorsQuestion = "richieste"

// buildAreas lays the two questions over the same list of areas: the
// choices of the operators' `aree` list (the immigrants' one adds other,
// none and pnta).
func buildAreas(imm, ops *dialog.Form, immCounts, opsCounts map[string]int64, minCell int) *Areas {
	a := &Areas{}
	var list *dialog.List
	if ops != nil {
		list = ops.Lists["aree"]
	}
	if list == nil && imm != nil {
		list = imm.Lists["aree"]
	}
	if list == nil {
		return a
	}
	for _, ch := range list.Choices {
		if !ch.Exclusive && ch.Name != "other" {
			a.Codes = append(a.Codes, ch.Name)
		}
	}
	side := func(q string, counts map[string]int64) Breakdown {
		b := Breakdown{Question: q, List: "aree", Total: Count{N: counts[""]}}
		for _, code := range a.Codes {
			b.Items = append(b.Items, Item{Code: code, Count: Count{N: counts[code]}})
		}
		suppressBreakdown(&b, minCell, false)
		return b
	}
	a.Immigrants = side("priorita", immCounts)
	a.Operators = side(areasOperatorsQuestion, opsCounts)
	return a
}
