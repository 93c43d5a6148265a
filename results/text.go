package results

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/internal/tghtml"
)

// Message ids of this package (locales/results.*.toml).
const (
	msgTitle           = "r.title"
	msgFilter          = "r.filter"
	msgAllMunis        = "r.all_municipalities"
	msgAllServices     = "r.all_services"
	msgAllLanguages    = "r.all_languages"
	msgEmpty           = "r.empty"
	msgLine            = "r.line"
	msgListLine        = "r.list_line"
	msgCompleted       = "r.ind.completed"
	msgAbandoned       = "r.ind.abandoned"
	msgRate            = "r.ind.rate"
	msgMedian          = "r.ind.median"
	msgLanguages       = "r.ind.languages"
	msgPrioInd         = "r.ind.priorities"
	msgDuration        = "r.duration"
	msgNotShown        = "r.not_shown"
	msgPriorities      = "r.priorities"
	msgNeeds           = "r.needs"
	msgNeedLine        = "r.need_line"
	msgItem            = "r.item"
	msgTooFew          = "r.too_few"
	msgOthersSmall     = "r.others_small"
	msgLegend          = "r.legend"
	msgFunnelTitle     = "r.funnel.title"
	msgFunnelNone      = "r.funnel.none"
	msgFunnelLine      = "r.funnel.line"
	msgFunnelRemind    = "r.funnel.reminders"
	msgCompareTitle    = "r.compare.title"
	msgCompareOnly     = "r.compare.admins"
	msgBtnForm         = "r.btn.form"
	msgBtnPeriod       = "r.btn.period"
	msgBtnService      = "r.btn.service"
	msgBtnLanguage     = "r.btn.language"
	msgBtnMuni         = "r.btn.municipality"
	msgBtnChart        = "r.btn.chart"
	msgBtnFunnel       = "r.btn.funnel"
	msgBtnCompare      = "r.btn.compare"
	msgBtnCSV          = "r.btn.csv"
	msgBtnXLSX         = "r.btn.xlsx"
	msgBtnBack         = "r.btn.back"
	msgChartAreas      = "r.chart.areas"
	msgVersions        = "r.versions"
	msgChartNeeds      = "r.chart.needs"
	msgChartImm        = "r.chart.immigrants"
	msgChartOps        = "r.chart.operators"
	msgChartAxis       = "r.chart.axis"
	msgChartNote       = "r.chart.note"
	msgChartNoData     = "r.chart.no_data"
	msgExportCapRows   = "r.export.caption_rows"
	msgExportCapTotals = "r.export.caption_totals"
	msgExportZipped    = "r.export.zipped"
	msgExportTooBig    = "r.export.too_big"
	msgExportBusy      = "r.export.busy"
	msgExportPick      = "r.export.pick"
	msgExportFailed    = "r.export.failed"
	msgExportToast     = "r.export.toast"
	msgNotAllowed      = "r.not_allowed"
	msgStale           = "r.stale"
	msgError           = "r.error"
)

// periodMsg is the message id naming a period.
func periodMsg(days int) string {
	if days <= 0 {
		return "r.period.all"
	}
	return "r.period." + strconv.Itoa(days)
}

// formMsg is the message id of a questionnaire's short name for staff.
func formMsg(form string) string { return "r.form." + form }

// needMsg is the message id of the short title of a need question, for
// staff (r.need.<form>-<question>). A form may have none: the question's
// label stands in (needTitle).
func needMsg(form, question string) string { return "r.need." + form + "-" + question }

// MessageIDs lists every message id this package renders, for lint: its
// own, and the staff names of forms (the questionnaire's short name and
// its need questions' short titles, in locales/results.*.toml) — pass the
// forms that ship with the binary, which must have them; a form published
// at run time may go without (its title and labels stand in).
func MessageIDs(forms ...*dialog.Form) []string {
	ids := []string{msgTitle, msgFilter, msgAllMunis, msgAllServices, msgAllLanguages, msgEmpty, msgLine, msgListLine,
		msgCompleted, msgAbandoned, msgRate, msgMedian, msgLanguages, msgPrioInd, msgDuration, msgNotShown,
		msgPriorities, msgNeeds, msgNeedLine, msgItem, msgTooFew, msgOthersSmall, msgLegend, msgFunnelTitle,
		msgFunnelNone, msgFunnelLine, msgFunnelRemind, msgCompareTitle, msgCompareOnly, msgBtnForm, msgBtnPeriod, msgBtnService,
		msgBtnLanguage, msgBtnMuni, msgBtnChart, msgBtnFunnel, msgBtnCompare, msgBtnCSV, msgBtnXLSX, msgBtnBack,
		msgChartAreas, msgChartNeeds, msgChartImm, msgChartOps, msgChartAxis, msgChartNote, msgChartNoData,
		msgExportCapRows, msgExportCapTotals, msgExportZipped, msgExportTooBig, msgExportBusy, msgExportPick, msgExportFailed,
		msgExportToast, msgNotAllowed, msgStale, msgError, msgVersions}
	for _, d := range Periods() {
		ids = append(ids, periodMsg(d))
	}
	for _, f := range forms {
		ids = append(ids, formMsg(f.ID))
		for _, q := range needQuestions(f) {
			ids = append(ids, needMsg(f.ID, q.Name))
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// safeHTML is a message argument that is already Telegram HTML: text does
// not escape it.
type safeHTML string

// staffLang maps a Telegram language to a staff language: staff texts
// exist in Italian and English.
func staffLang(lang string) string {
	if lang == "it" || strings.HasPrefix(lang, "it-") {
		return "it"
	}
	return "en"
}

// text renders a message as Telegram HTML with escaped string arguments,
// as the bot renders every message (tghtml.Messages.Text).
func (s *Service) text(lang, id string, data map[string]any) string {
	return tghtml.NewMessages(s.cat).Text(lang, id, data)
}

// plain renders a message as plain text (labels for charts, files,
// buttons), as the bot renders button labels (tghtml.Messages.Plain).
func (s *Service) plain(lang, id string, data map[string]any) string {
	return tghtml.NewMessages(s.cat).Plain(lang, id, data)
}

// choiceLabel is the label of a choice of form's list in lang, or the code
// when the catalog has none.
func (s *Service) choiceLabel(lang, form, list, choice string) string {
	id := "c." + form + "." + list + "." + choice
	if !s.cat.Has(lang, id) && !s.cat.Has("en", id) {
		return choice
	}
	return s.plain(lang, id, nil)
}

// questionLabel is a question's label in lang, or its name.
func (s *Service) questionLabel(lang, form, question string) string {
	id := "q." + form + "." + question
	if f := s.forms.Latest(form); f != nil {
		// The newest wording (a question may have its own text id).
		if q := s.question(f, question); q != nil && q.Label != "" {
			id = q.Label
		}
	}
	if !s.cat.Has(lang, id) && !s.cat.Has("en", id) {
		return question
	}
	// A label that names the rated service ({{.Choice}}) names none here.
	return s.plain(lang, id, map[string]any{"Choice": "…"})
}

// needTitle is the short title of a need question: its own message, or
// its section and label.
func (s *Service) needTitle(lang string, f *dialog.Form, q *dialog.Question) string {
	if id := needMsg(f.ID, q.Name); s.cat.Has(lang, id) || s.cat.Has("en", id) {
		return s.plain(lang, id, nil)
	}
	return truncate(s.questionLabel(lang, f.ID, q.Name), 50)
}

// formName is a questionnaire's short name for staff: its r.form.<id>
// message (the shipped forms have one), else its title (a form published
// at run time), else its id.
func (s *Service) formName(lang, form string) string {
	for _, id := range []string{formMsg(form), "f." + form + ".title"} {
		if s.cat.Has(lang, id) || s.cat.Has("en", id) {
			return s.plain(lang, id, nil)
		}
	}
	return form
}

// languageName is a language's own name; a right-to-left one is isolated
// (U+2068…U+2069) so that the numbers after it keep their place.
func (s *Service) languageName(code string) string {
	if l, ok := s.cat.Language(code); ok {
		if l.RTL {
			return tghtml.Isolate(l.Name)
		}
		return l.Name
	}
	return code
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// printer formats numbers the way lang writes them (1,234 / 1.234).
func printer(lang string) *message.Printer {
	if lang == "it" {
		return message.NewPrinter(language.Italian)
	}
	return message.NewPrinter(language.English)
}

// num formats a count that may be shown.
func num(lang string, n int64) string { return printer(lang).Sprintf("%d", n) }

// countText shows a count as staff may see it: the published number or
// "<5".
func (s *Service) countText(lang string, c Count) string {
	if !c.Visible() {
		return "<" + strconv.Itoa(s.limit())
	}
	return num(lang, c.N)
}

// pct formats a share (0 to 1) as a whole percentage.
func pct(share float64) string {
	p := math.Round(share * 100)
	if p == 0 && share > 0 {
		return "<1%"
	}
	return fmt.Sprintf("%d%%", int(p))
}

// plainDuration formats seconds as minutes and seconds.
func (s *Service) plainDuration(lang string, seconds float64) string {
	sec := int(math.Round(seconds))
	return s.plain(lang, msgDuration, map[string]any{"Min": sec / 60, "Sec": sec % 60})
}

// described names what a filter covers, for headers and captions.
type described struct {
	Place, Service, Language, Period, Form string
	// Versions, when the questionnaire has more than one version, says
	// which are counted together (codes that stayed the same are pooled).
	Versions string
}

// header is the title and filter line of a message.
func (s *Service) header(lang, title string, d described) string {
	h := title + "\n<i>" + s.text(lang, msgFilter, map[string]any{"Form": d.Form, "Period": d.Period,
		"Service": d.Service, "Language": d.Language}) + "</i>\n"
	if d.Versions != "" {
		h += "<i>" + s.text(lang, msgVersions, map[string]any{"Versions": d.Versions}) + "</i>\n"
	}
	return h + "\n"
}

// versions lists the loaded versions of form id ("1, 2"), or "" when
// there is only one.
func (s *Service) versions(id string) string {
	var vs []string
	for _, f := range s.forms.Forms() {
		if f.ID == id {
			vs = append(vs, strconv.Itoa(f.Version))
		}
	}
	if len(vs) < 2 {
		return ""
	}
	return strings.Join(vs, ", ")
}

// question finds a question of form f's id in its newest version, else in
// the newest older version that has it (questions a newer version dropped
// still count the answers given to them).
func (s *Service) question(f *dialog.Form, name string) *dialog.Question {
	if q := f.Question(name); q != nil {
		return q
	}
	return olderQuestion(s.forms, f, name)
}

func olderQuestion(lib *dialog.Library, f *dialog.Form, name string) *dialog.Question {
	if lib == nil {
		return nil
	}
	for v := f.Version - 1; v >= 1; v-- {
		if g := lib.Get(f.ID, v); g != nil {
			if q := g.Question(name); q != nil {
				return q
			}
		}
	}
	return nil
}

// line is "Label: <b>value</b>".
func (s *Service) line(lang, labelID, value string) string {
	return s.text(lang, msgLine, map[string]any{"Label": s.plain(lang, labelID, nil), "Value": value}) + "\n"
}

// summaryText renders a report as Telegram HTML.
func (s *Service) summaryText(lang string, f *dialog.Form, rep *Report, d described) string {
	var b strings.Builder
	b.WriteString(s.header(lang, s.text(lang, msgTitle, map[string]any{"Place": d.Place}), d))
	if rep.Empty() {
		b.WriteString(s.text(lang, msgEmpty, map[string]any{"Min": s.limit()}))
		return b.String()
	}
	notShown := s.plain(lang, msgNotShown, nil)
	b.WriteString(s.line(lang, msgCompleted, s.countText(lang, rep.Completed)))
	b.WriteString(s.line(lang, msgAbandoned, s.countText(lang, rep.Abandoned)))
	rate, median := notShown, notShown
	if rep.RateShown {
		rate = pct(rep.Rate)
	}
	if rep.MedianShown {
		median = s.plainDuration(lang, rep.MedianSeconds)
	}
	b.WriteString(s.line(lang, msgRate, rate))
	b.WriteString(s.line(lang, msgMedian, median))
	// Languages: the shown ones, then always "others <5", unnamed (a
	// name with "<5" would still tell that someone answered in it; the
	// line is there even when no other language was used, so that it
	// tells nothing either).
	var langs []string
	for _, it := range rep.Languages.Items {
		if it.Count.Visible() {
			langs = append(langs, s.itemText(lang, s.languageName(it.Code), it, rep.Languages.Total))
		}
	}
	langs = append(langs, s.plain(lang, msgOthersSmall, map[string]any{"Min": s.limit()}))
	if len(langs) > 0 {
		b.WriteString(s.text(lang, msgListLine, map[string]any{"Label": s.plain(lang, msgLanguages, nil), "Value": strings.Join(langs, " · ")}))
		b.WriteString("\n")
	}
	if p := rep.Priorities; p != nil {
		b.WriteString("\n")
		b.WriteString(s.text(lang, msgPriorities, map[string]any{"Label": s.plain(lang, msgPrioInd, nil), "N": s.countText(lang, p.Total)}))
		b.WriteString("\n")
		b.WriteString(s.topLines(lang, f, *p, 5, true))
		b.WriteString("\n")
	}
	if len(rep.Needs) > 0 {
		b.WriteString("\n")
		b.WriteString(s.text(lang, msgNeeds, nil))
		b.WriteString("\n")
		for _, nb := range rep.Needs {
			q := s.question(f, nb.Question)
			b.WriteString(s.text(lang, msgNeedLine, map[string]any{"Title": s.needTitle(lang, f, q),
				"N": s.countText(lang, nb.Total), "List": safeHTML(s.topLines(lang, f, nb, 3, false))}))
			b.WriteString("\n")
		}
	}
	b.WriteString("\n")
	b.WriteString(s.text(lang, msgLegend, map[string]any{"Min": s.limit()}))
	return b.String()
}

// itemText is "label 12 (34%)", or "label <5", as plain text.
func (s *Service) itemText(lang, label string, it Item, total Count) string {
	share := ""
	if it.Count.Visible() && total.Visible() {
		share = pct(it.Share(total.N))
	}
	return strings.TrimSpace(s.plain(lang, msgItem, map[string]any{"Label": label, "N": s.countText(lang, it.Count),
		"Share": share, "HasShare": share != ""}))
}

// topLines lists, as HTML, the k largest shown choices of a breakdown (not
// none, "don't know", "prefer not to answer" or "other"): numbered lines when
// numbered, else one line joined by " · ". Suppressed choices are never
// ranked, so their order reveals nothing.
func (s *Service) topLines(lang string, f *dialog.Form, b Breakdown, k int, numbered bool) string {
	parts := s.top(lang, f, b, k)
	for i := range parts {
		parts[i] = tghtml.Escape(parts[i])
	}
	if !numbered {
		return strings.Join(parts, " · ")
	}
	var out strings.Builder
	for i, p := range parts {
		if i > 0 {
			out.WriteByte('\n')
		}
		fmt.Fprintf(&out, "%d. %s", i+1, p)
	}
	return out.String()
}

// top is topLines' items as plain text.
func (s *Service) top(lang string, f *dialog.Form, b Breakdown, k int) []string {
	tooFew := []string{s.plain(lang, msgTooFew, map[string]any{"Min": s.limit()})}
	if !b.Total.Visible() {
		return tooFew
	}
	var list *dialog.List
	if q := s.question(f, b.Question); q != nil {
		list = q.List
	}
	var parts []string
	small := false
	for _, it := range b.Items {
		if list != nil {
			// None, "don't know", "prefer not to answer" and "other" are
			// no need to plan for.
			if ch, ok := list.Choice(it.Code); ok && (ch.Exclusive || ch.Other) {
				continue
			}
		}
		if !it.Count.Visible() {
			// A zero and a small count look the same.
			small = true
			continue
		}
		if len(parts) < k {
			parts = append(parts, s.itemText(lang, s.choiceLabel(lang, f.ID, b.List, it.Code), it, b.Total))
		}
	}
	if len(parts) == 0 {
		return tooFew
	}
	if small && len(parts) < k {
		parts = append(parts, s.plain(lang, msgOthersSmall, map[string]any{"Min": s.limit()}))
	}
	return parts
}

// funnelText renders where interviews stop.
func (s *Service) funnelText(lang string, f *dialog.Form, rep *Report, d described) string {
	var b strings.Builder
	b.WriteString(s.header(lang, s.text(lang, msgFunnelTitle, map[string]any{"Place": d.Place,
		"N": s.countText(lang, rep.Funnel.Total)}), d))
	if !rep.Funnel.Total.Visible() {
		b.WriteString(s.text(lang, msgFunnelNone, map[string]any{"Min": s.limit()}))
		b.WriteString("\n\n")
		b.WriteString(s.remindersText(lang, rep.Reminders))
		return b.String()
	}
	for _, it := range rep.Funnel.Items {
		share := ""
		if it.Count.Visible() && rep.Funnel.Total.Visible() {
			share = pct(it.Share(rep.Funnel.Total.N))
		}
		b.WriteString(s.text(lang, msgFunnelLine, map[string]any{
			"Question": truncate(s.questionLabel(lang, f.ID, it.Code), 60),
			"N":        s.countText(lang, it.Count), "Share": share, "HasShare": share != ""}))
		b.WriteString("\n")
	}
	b.WriteString("\n")
	b.WriteString(s.remindersText(lang, rep.Reminders))
	b.WriteString("\n\n")
	b.WriteString(s.text(lang, msgLegend, map[string]any{"Min": s.limit()}))
	return b.String()
}

// remindersText renders the reminder funnel: every number a protected
// count ("<5" when small).
func (s *Service) remindersText(lang string, f ReminderFunnel) string {
	return s.text(lang, msgFunnelRemind, map[string]any{
		"Started": s.countText(lang, f.Started), "Reminded": s.countText(lang, f.Reminded),
		"Resumed": s.countText(lang, f.Resumed), "ResumedCompleted": s.countText(lang, f.ResumedCompleted),
		"Completed": s.countText(lang, f.Completed)})
}

// compareText renders municipalities side by side: one block per
// indicator, one line per municipality, so that a phone shows it without
// wrapping a wide table.
func (s *Service) compareText(lang string, f *dialog.Form, c *Comparison, d described) string {
	var b strings.Builder
	b.WriteString(s.header(lang, s.text(lang, msgCompareTitle, nil), d))
	if len(c.Columns) == 0 {
		b.WriteString(s.text(lang, msgEmpty, map[string]any{"Min": s.limit()}))
		return b.String()
	}
	notShown := s.plain(lang, msgNotShown, nil)
	block := func(labelID string, value func(col *Column) string) {
		b.WriteString("<b>")
		b.WriteString(tghtml.Escape(s.plain(lang, labelID, nil)))
		b.WriteString("</b>\n")
		for i := range c.Columns {
			col := &c.Columns[i]
			fmt.Fprintf(&b, "• %s: %s\n", tghtml.Escape(col.Municipality.Name), tghtml.Escape(value(col)))
		}
		b.WriteString("\n")
	}
	block(msgCompleted, func(col *Column) string { return s.countText(lang, col.Completed) })
	block(msgAbandoned, func(col *Column) string { return s.countText(lang, col.Abandoned) })
	block(msgRate, func(col *Column) string {
		if !col.RateShown {
			return notShown
		}
		return pct(col.Rate)
	})
	block(msgMedian, func(col *Column) string {
		if !col.MedianShown {
			return notShown
		}
		return s.plainDuration(lang, col.MedianSeconds)
	})
	if priorityQuestion(f) != "" {
		block(msgPrioInd, func(col *Column) string {
			if col.Priorities == nil {
				return notShown
			}
			return strings.Join(s.top(lang, f, *col.Priorities, 3), " · ")
		})
	}
	b.WriteString(s.text(lang, msgLegend, map[string]any{"Min": s.limit()}))
	return b.String()
}
