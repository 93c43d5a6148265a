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

// Share is the item's share of total (0 to 1), or 0 when total is 0. Both
// are published (perturbed) counts, so a share is capped at 1.
func (it Item) Share(total int64) float64 {
	if total <= 0 {
		return 0
	}
	return min(1, float64(it.Count.N)/float64(total))
}

// Breakdown is a total split into cells, protected (Protect).
type Breakdown struct {
	Question string // the question counted ("" for languages)
	List     string // its choice list: labels are c.<form>.<list>.<choice>
	// Total is what shares are taken of: the responses that answered the
	// question, or the total the cells partition.
	Total Count
	Items []Item
}

// Report is a /results summary, protected: what staff may see.
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

// Empty reports whether nothing may be shown: completed and abandoned
// interviews are both below the threshold (perhaps none).
func (r *Report) Empty() bool { return !r.Completed.Visible() && !r.Abandoned.Visible() }

// priorityQuestion returns the question in which respondents name their
// priorities: the form's select_multiple declared with report: priorities.
func priorityQuestion(f *dialog.Form) string {
	if q := f.First(dialog.SectionPriorities); q != nil && q.Type == dialog.TypeSelectMultiple {
		return q.Name
	}
	return ""
}

// needQuestions returns the multiple-choice questions of the form's
// sections, in form order, without the priority question: the need
// questions and the descriptive ones (report: descriptive), which the
// summary lists with their section and the chart of the top needs leaves
// out.
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

// cell is a true count and the sum of its records' keys: what Protect
// needs.
type cell struct{ n, key int64 }

// choiceIndex indexes choice counts by question and choice.
type choiceIndex map[string]map[string]cell

func indexChoices(cs []pgstore.ChoiceCount) choiceIndex {
	idx := choiceIndex{}
	for _, c := range cs {
		m := idx[c.Question]
		if m == nil {
			m = map[string]cell{}
			idx[c.Question] = m
		}
		x := m[c.Choice]
		m[c.Choice] = cell{x.n + c.N, x.key + c.Key}
	}
	return idx
}

// choiceBreakdown builds the protected breakdown of a select question:
// every choice of its list, largest first (ties in list order).
func choiceBreakdown(q *dialog.Question, counts map[string]cell, minCell int) Breakdown {
	t := counts[""]
	b := Breakdown{Question: q.Name, Total: Protect(t.n, t.key, minCell)}
	if q.List == nil {
		return b
	}
	b.List = q.List.Name
	for _, ch := range q.List.Choices {
		c := counts[ch.Name]
		b.Items = append(b.Items, Item{Code: ch.Name, Count: Protect(c.n, c.key, minCell)})
	}
	hideUnder(&b)
	sortItems(b.Items)
	return b
}

// hideUnder hides every cell of a breakdown whose total is not shown: the
// cells of a population below the threshold are never shown, whatever
// their own perturbed value (population rule).
func hideUnder(b *Breakdown) {
	if b.Total.Visible() {
		return
	}
	for i := range b.Items {
		b.Items[i].Count = Count{Mark: Small, Limit: b.Total.Limit}
	}
}

// sortItems orders items by published count, largest first; stable, so
// ties keep their order. Hidden items count as 0: their order reveals
// nothing.
func sortItems(items []Item) {
	slices.SortStableFunc(items, func(a, b Item) int { return cmp.Compare(b.Count.N, a.Count.N) })
}

// buildReport turns counts into the report staff see: pure, so that the
// protection of every number is tested on its own. Every count goes
// through Protect; rates and shares are taken of published counts only.
// older are need questions only older versions have (olderNeedQuestions).
func buildReport(f *dialog.Form, filter Filter, t pgstore.Totals, choices []pgstore.ChoiceCount, minCell int, older ...*dialog.Question) *Report {
	r := &Report{Filter: filter, Completed: Protect(t.Completed, t.CompletedKey, minCell),
		Abandoned: Protect(t.Abandoned, t.AbandonedKey, minCell)}
	if r.Completed.Visible() && r.Abandoned.Visible() {
		r.Rate = float64(r.Completed.N) / float64(r.Completed.N+r.Abandoned.N)
		r.RateShown = true
	}
	if r.Completed.Visible() {
		r.MedianSeconds, r.MedianShown = t.MedianSeconds, true
	}

	r.Languages = Breakdown{Total: r.Completed}
	for lang, n := range t.Languages {
		r.Languages.Items = append(r.Languages.Items, Item{Code: lang, Count: Protect(n, t.LanguageKeys[lang], minCell)})
	}
	hideUnder(&r.Languages)
	slices.SortFunc(r.Languages.Items, func(a, b Item) int {
		return cmp.Or(cmp.Compare(b.Count.N, a.Count.N), cmp.Compare(a.Code, b.Code))
	})

	r.Funnel = funnel(f, t.Funnel, t.FunnelKeys, r.Abandoned, minCell)

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
	if !r.Completed.Visible() {
		// Nothing of a population below the threshold.
		if r.Priorities != nil {
			r.Priorities.Total = r.Completed
			hideUnder(r.Priorities)
		}
		for i := range r.Needs {
			r.Needs[i].Total = r.Completed
			hideUnder(&r.Needs[i])
		}
	}
	return r
}

// funnel builds the breakdown of abandoned interviews by the last question
// reached, in the order of the form (questions of older versions last).
func funnel(f *dialog.Form, counts, keys map[string]int64, total Count, minCell int) Breakdown {
	b := Breakdown{Total: total}
	for q, n := range counts {
		b.Items = append(b.Items, Item{Code: q, Count: Protect(n, keys[q], minCell)})
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
	hideUnder(&b)
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

// buildComparison protects a comparison: every municipality's counts go
// through Protect (differences between columns, or between a column and
// the all-municipalities view, recover nothing exact); a column whose
// completed count is not shown shows no rate, median or priorities.
func buildComparison(f *dialog.Form, filter Filter, ms []pgstore.MunicipalityTotals, choices []pgstore.ChoiceCount, minCell int) *Comparison {
	c := &Comparison{Filter: filter}
	for _, m := range ms {
		c.Columns = append(c.Columns, Column{Municipality: m, Completed: Protect(m.Completed, m.CompletedKey, minCell),
			Abandoned: Protect(m.Abandoned, m.AbandonedKey, minCell)})
	}
	byMuni := map[int64][]pgstore.ChoiceCount{}
	for _, ch := range choices {
		byMuni[ch.Municipality] = append(byMuni[ch.Municipality], ch)
	}
	prio := priorityQuestion(f)
	for i := range c.Columns {
		col := &c.Columns[i]
		m := col.Municipality
		if col.Completed.Visible() && col.Abandoned.Visible() {
			col.Rate, col.RateShown = float64(col.Completed.N)/float64(col.Completed.N+col.Abandoned.N), true
		}
		if col.Completed.Visible() {
			col.MedianSeconds, col.MedianShown = m.MedianSeconds, true
			if prio != "" {
				b := choiceBreakdown(f.Question(prio), indexChoices(byMuni[m.ID])[prio], minCell)
				col.Priorities = &b
			}
		}
	}
	return c
}

// Areas is the chart of the need areas, like with like: the respondents'
// priorities next to the staff's most frequent requests (what users ask
// them for), as shares of who answered each question. The two forms pair
// (pairs_with); each names its question with report: areas.
type Areas struct {
	Codes      []string  // the need areas, in list order
	Immigrants Breakdown // the respondents' areas question over the areas
	Operators  Breakdown // the staff's areas question over the areas
	// Labels holds, per area, the message id of the choice naming it (the
	// respondents' list first).
	Labels []string
	// Forms are the two forms' ids, respondents first.
	Forms [2]string
}

// areasQuestion returns the question of f declared with report: areas, or
// nil.
func areasQuestion(f *dialog.Form) *dialog.Question {
	if f == nil {
		return nil
	}
	if q := f.First(dialog.SectionAreas); q != nil && q.List != nil {
		return q
	}
	return nil
}

// buildAreas lays the two areas questions over the same list of areas:
// the areas the staff question's choices name (column area), else the
// respondents'. Counts are by choice; each area takes the count of the
// choice naming it.
func buildAreas(imm, ops *dialog.Form, immCounts, opsCounts map[string]cell, minCell int) *Areas {
	a := &Areas{}
	iq, oq := areasQuestion(imm), areasQuestion(ops)
	if iq == nil && oq == nil {
		return a
	}
	for _, q := range []*dialog.Question{oq, iq} {
		if q != nil && len(a.Codes) == 0 {
			a.Codes = q.List.Areas()
		}
	}
	if imm != nil {
		a.Forms[0] = imm.ID
	}
	if ops != nil {
		a.Forms[1] = ops.ID
	}
	for _, code := range a.Codes {
		label := ""
		for _, q := range []*dialog.Question{iq, oq} {
			if q == nil || label != "" {
				continue
			}
			if ch, ok := q.List.ChoiceOfArea(code); ok {
				label = ch.Label
			}
		}
		a.Labels = append(a.Labels, label)
	}
	side := func(q *dialog.Question, counts map[string]cell) Breakdown {
		if q == nil {
			return Breakdown{}
		}
		t := counts[""]
		b := Breakdown{Question: q.Name, List: q.List.Name, Total: Protect(t.n, t.key, minCell)}
		for _, code := range a.Codes {
			var c cell
			if ch, ok := q.List.ChoiceOfArea(code); ok {
				c = counts[ch.Name]
			}
			b.Items = append(b.Items, Item{Code: code, Count: Protect(c.n, c.key, minCell)})
		}
		hideUnder(&b)
		return b
	}
	a.Immigrants = side(iq, immCounts)
	a.Operators = side(oq, opsCounts)
	return a
}
