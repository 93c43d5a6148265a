package dialog

import (
	"maps"
	"slices"
	"strings"

	"github.com/needsbot/needsbot/dialog/xpath"
)

// Audience is who answers a form.
type Audience string

// The audiences a form declares (setting audience).
const (
	// AudienceRespondents: the people the assessment is about; their
	// texts must exist in every language, they get referrals.
	AudienceRespondents Audience = "respondents"
	// AudienceStaff: the staff who serve them, answering about their own
	// work; exported as aggregates only.
	AudienceStaff Audience = "staff"
)

// Section is a part of the reports a question feeds (survey column
// report, several separated by spaces).
type Section string

// The report sections a question may declare.
const (
	// SectionPriorities: the question in which respondents name their
	// priorities (first in /results).
	SectionPriorities Section = "priorities"
	// SectionNeeds: a need question. Every select_multiple not declared
	// otherwise is one.
	SectionNeeds Section = "needs"
	// SectionDescriptive: describes rather than names needs (where people
	// find information…): listed in /results, left out of the top needs.
	SectionDescriptive Section = "descriptive"
	// SectionAreas: the question the areas chart sets against the paired
	// form's one, over the choices' areas.
	SectionAreas Section = "areas"
	// SectionReferral: the areas of its chosen choices point the
	// respondent to services (priorities first).
	SectionReferral Section = "referral"
	// SectionOrigin: its choices' macro column is the macro-area a
	// response is reported by; the last answered one wins.
	SectionOrigin Section = "origin"
	// SectionSatisfaction and SectionBarriers group questions for readers
	// of exports and future report sections.
	SectionSatisfaction Section = "satisfaction"
	SectionBarriers     Section = "barriers"
)

var sectionNames = []string{string(SectionPriorities), string(SectionNeeds), string(SectionDescriptive),
	string(SectionAreas), string(SectionReferral), string(SectionOrigin), string(SectionSatisfaction),
	string(SectionBarriers)}

// In reports whether the question feeds section s. A select_multiple
// without any declared section is a need question.
func (q *Question) In(s Section) bool {
	if slices.Contains(q.Report, s) {
		return true
	}
	return s == SectionNeeds && q.Type == TypeSelectMultiple &&
		!slices.Contains(q.Report, SectionPriorities) && !slices.Contains(q.Report, SectionDescriptive)
}

// Section returns the questions feeding s, in form order.
func (f *Form) Section(s Section) []*Question {
	var out []*Question
	for _, q := range f.Questions {
		if q.In(s) {
			out = append(out, q)
		}
	}
	return out
}

// First returns the first question feeding s, or nil.
func (f *Form) First(s Section) *Question {
	for _, q := range f.Questions {
		if q.In(s) {
			return q
		}
	}
	return nil
}

// ChoiceOfArea returns the first choice of the list naming area a.
func (l *List) ChoiceOfArea(a string) (Choice, bool) {
	for _, c := range l.Choices {
		if c.Area == a {
			return c, true
		}
	}
	return Choice{}, false
}

// Areas lists the areas the list's choices name, in list order, once each.
func (l *List) Areas() []string {
	var out []string
	for _, c := range l.Choices {
		if c.Area != "" && !slices.Contains(out, c.Area) {
			out = append(out, c.Area)
		}
	}
	return out
}

// NeedAreas returns the areas of the choices a completed interview chose
// in the referral questions, priorities first, once each: what services
// the respondent is pointed to.
func (f *Form) NeedAreas(answers map[string]string) []string {
	var out []string
	add := func(q *Question) {
		if q.List == nil {
			return
		}
		for _, name := range strings.Fields(answers[q.Name]) {
			if c, ok := q.List.Choice(name); ok && c.Area != "" && !slices.Contains(out, c.Area) {
				out = append(out, c.Area)
			}
		}
	}
	refs := f.Section(SectionReferral)
	for _, q := range refs {
		if q.In(SectionPriorities) {
			add(q)
		}
	}
	for _, q := range refs {
		if !q.In(SectionPriorities) {
			add(q)
		}
	}
	return out
}

// Origin returns the macro-area a response is reported by: the macro
// column of the chosen choice of the last answered origin question that
// has one ("" when none).
func (f *Form) Origin(answers map[string]string) string {
	m := ""
	for _, q := range f.Section(SectionOrigin) {
		if q.List == nil {
			continue
		}
		if c, ok := q.List.Choice(answers[q.Name]); ok && c.Filter["macro"] != "" {
			m = c.Filter["macro"]
		}
	}
	return m
}

// Respondents returns the ids of the forms whose newest version is
// answered by respondents, sorted.
func (l *Library) Respondents() []string { return l.byAudience(AudienceRespondents) }

// StaffForms returns the ids of the forms whose newest version is answered
// by staff, sorted.
func (l *Library) StaffForms() []string { return l.byAudience(AudienceStaff) }

func (l *Library) byAudience(a Audience) []string {
	var out []string
	for _, id := range l.IDs() {
		if l.Latest(id).Audience == a {
			out = append(out, id)
		}
	}
	return out
}

// Pair returns the newest version of the form f is compared with (f's
// pairs_with, or a form that names f), or nil.
func (l *Library) Pair(f *Form) *Form {
	if f == nil {
		return nil
	}
	if f.PairsWith != "" {
		return l.Latest(f.PairsWith)
	}
	for _, id := range l.IDs() {
		if g := l.Latest(id); g.PairsWith == f.ID {
			return g
		}
	}
	return nil
}

// ByAudience returns every form id, the respondents' forms first, then the
// staff's, each sorted: the order of menus that offer forms.
func (l *Library) ByAudience() []string { return append(l.Respondents(), l.StaffForms()...) }

// ContextKey is the start-context key a hidden row takes its value from.
func (q *Question) ContextKey() string {
	if q.Context != "" {
		return q.Context
	}
	return q.Name
}

// Excludes reports whether answering q with choice, other answers as
// given, makes the respondent ineligible (the form's eligible rule false)
// while another choice of q would not: synthetic respondents leave such
// choices out, so that they complete.
func (f *Form) Excludes(answers map[string]string, q *Question, choice string) bool {
	if f.Eligible == nil || q.List == nil {
		return false
	}
	eligible := func(c string) bool {
		a := maps.Clone(answers)
		if a == nil {
			a = map[string]string{}
		}
		a[q.Name] = c
		return f.Eligible.Bool(xpath.MapEnv{Answers: a})
	}
	if eligible(choice) {
		return false
	}
	for _, c := range q.List.Choices {
		if c.Name != choice && eligible(c.Name) {
			return true
		}
	}
	return false
}

// AreaLabel returns the message id of the label of need area a: the first
// choice naming it, in the respondents' forms first (newest versions),
// then the staff's; "" when no form names it.
func (l *Library) AreaLabel(a string) string {
	for _, id := range l.ByAudience() {
		f := l.Latest(id)
		for _, q := range f.Questions {
			if q.List == nil {
				continue
			}
			if c, ok := q.List.ChoiceOfArea(a); ok {
				return c.Label
			}
		}
	}
	return ""
}

// AreaCodes lists every need area the forms' choices name, in the order
// of the forms (ByAudience, every version) and their questions.
func (l *Library) AreaCodes() []string {
	var out []string
	for _, id := range l.ByAudience() {
		for v := 1; v <= l.Latest(id).Version; v++ {
			f := l.Get(id, v)
			if f == nil {
				continue
			}
			for _, q := range f.Questions {
				if q.List == nil {
					continue
				}
				for _, a := range q.List.Areas() {
					if !slices.Contains(out, a) {
						out = append(out, a)
					}
				}
			}
		}
	}
	return out
}
