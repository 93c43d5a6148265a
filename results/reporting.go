package results

import (
	"context"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/internal/tghtml"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// ReportingRows returns the questions of every questionnaire (the newest
// version of each question), the labels of questions and of the choices of
// every version in the staff languages, and the groups of choices that
// have a `macro` column (countries → macro-areas), for the BI views'
// reporting.questions, reporting.labels and reporting.choice_groups:
// labels live in locales/, not in the database.
func ReportingRows(lib *dialog.Library, cat *locales.Catalog) ([]pgstore.ReportingQuestion, []pgstore.ReportingLabel, []pgstore.ReportingGroup) {
	var qs []pgstore.ReportingQuestion
	var ls []pgstore.ReportingLabel
	var gs []pgstore.ReportingGroup
	seen := map[string]bool{}
	seenChoice := map[string]bool{}
	forms := lib.Forms()
	for i := len(forms) - 1; i >= 0; i-- { // newest versions first
		f := forms[i]
		for _, q := range f.Questions {
			key := f.ID + "\x00" + q.Name
			if !seen[key] {
				seen[key] = true
				rq := pgstore.ReportingQuestion{Form: f.ID, Question: q.Name, Position: q.Index, Type: q.Type.String()}
				if q.List != nil {
					rq.List = q.List.Name
				}
				if len(q.Groups) > 0 {
					rq.Section = q.Groups[0].Name
				}
				qs = append(qs, rq)
				for _, lang := range locales.StaffLanguages() {
					if cat.Has(lang, q.Label) {
						ls = append(ls, pgstore.ReportingLabel{Form: f.ID, Question: q.Name, Lang: lang, Label: plainText(cat, lang, q.Label)})
					}
				}
			}
			if q.List == nil {
				continue
			}
			// Choices of every version: codes an older version used keep
			// their labels (codes that stayed the same are one row).
			for _, ch := range q.List.Choices {
				ck := key + "\x00" + ch.Name
				if seenChoice[ck] {
					continue
				}
				seenChoice[ck] = true
				if g := ch.Filter["macro"]; g != "" {
					gs = append(gs, pgstore.ReportingGroup{Form: f.ID, Question: q.Name, Choice: ch.Name, Group: g})
				}
				for _, lang := range locales.StaffLanguages() {
					if cat.Has(lang, ch.Label) {
						ls = append(ls, pgstore.ReportingLabel{Form: f.ID, Question: q.Name, Choice: ch.Name, Lang: lang,
							Label: plainText(cat, lang, ch.Label)})
					}
				}
			}
		}
	}
	return qs, ls, gs
}

func plainText(cat *locales.Catalog, lang, id string) string {
	// A label that names the rated service ({{.Choice}}) names none here.
	return tghtml.NewMessages(cat).Plain(lang, id, map[string]any{tghtml.ChoiceArg: "…"})
}

// SyncReporting refreshes the questions, labels and choice groups the BI
// views join with (needsbot does it at every start).
func (s *Service) SyncReporting(ctx context.Context) error {
	s = s.at() // the questionnaires in force, for this whole request
	qs, ls, gs := ReportingRows(s.forms, s.cat)
	return s.db.SyncReporting(ctx, qs, ls, gs)
}
