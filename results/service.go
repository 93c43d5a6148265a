package results

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// MaxDocument is Telegram's limit on a document a bot sends, with room for
// the request around it.
const MaxDocument = 50<<20 - 256<<10

// Options configure a Service.
type Options struct {
	// The stores (storage/pgstore's DB satisfies them all).
	Places    Places
	Services  Services
	Counts    Counts
	Rows      Rows
	Auditor   Auditor
	Reporting Reporting
	Forms     *dialog.Library
	Catalog   *locales.Catalog
	// Library, when set, replaces Forms and Catalog with the snapshot in
	// force, read once per request (live reload).
	Library formlib.Source
	// MinCell is the smallest count staff see (NEEDSBOT_MIN_CELL); smaller
	// ones show as "<MinCell". Default 5.
	MinCell int
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
	// MaxDocument is the largest file sent as it is; larger exports are
	// zipped, and if still larger refused. Default MaxDocument.
	MaxDocument int64
	// TempDir holds exports while they are made (default os.TempDir()).
	TempDir string
	// Exports bounds the exports made at the same time (default 2).
	Exports int
}

// Service answers /results and /export for managers and admins: summaries
// with small-cell suppression, charts, the abandonment funnel, the
// comparison of municipalities, and CSV/XLSX exports. It implements
// staff.Results (staff wires it; results does not import staff) and is safe for concurrent use.
type Service struct {
	db      stores
	lib     formlib.Source // nil: forms and cat are fixed
	forms   *dialog.Library
	cat     *locales.Catalog
	minCell int
	log     *slog.Logger
	now     func() time.Time
	maxDoc  int64
	tempDir string
	exports chan struct{}
	fonts   *fonts
}

// at is the service over the questionnaires in force (Options.Library):
// each request takes one snapshot and keeps it.
func (s *Service) at() *Service {
	if s.lib == nil {
		return s
	}
	snap := s.lib.Current()
	if snap.Forms == s.forms && snap.Catalog == s.cat {
		return s
	}
	c := *s
	c.forms, c.cat = snap.Forms, snap.Catalog
	return &c
}

// limit is the threshold counts show below: "<limit".
func (s *Service) limit() int { return Threshold(s.minCell) }

// New returns a Service.
func New(o Options) (*Service, error) {
	s := &Service{db: stores{o.Places, o.Services, o.Counts, o.Rows, o.Auditor, o.Reporting}, forms: o.Forms, cat: o.Catalog, minCell: o.MinCell, log: o.Logger, now: o.Now,
		maxDoc: o.MaxDocument, tempDir: o.TempDir, lib: o.Library}
	if s.lib != nil {
		snap := s.lib.Current()
		s.forms, s.cat = snap.Forms, snap.Catalog
	}
	if !s.db.complete() || s.forms == nil || s.cat == nil {
		return nil, errors.New("results: New needs its stores, questionnaires and a catalog")
	}
	if s.minCell <= 0 {
		s.minCell = 5
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxDoc <= 0 {
		s.maxDoc = MaxDocument
	}
	n := o.Exports
	if n <= 0 {
		n = 2
	}
	s.exports = make(chan struct{}, n)
	var err error
	if s.fonts, err = loadFonts(); err != nil {
		return nil, err
	}
	return s, nil
}

// errNotAllowed is a filter outside what the member may see.
var errNotAllowed = errors.New("results: not allowed")

// canSeeResults reports whether the role may use /results at all.
func canSeeResults(m org.Member) bool {
	return m.Role == org.RoleAdmin || m.Role == org.RoleManager
}

// defaultFilter is where /results starts: the first respondents'
// questionnaire (or the first), all time, the member's municipality (all
// for admins) and service.
func (s *Service) defaultFilter(m org.Member) Filter {
	form := ""
	for _, ids := range [][]string{s.forms.Respondents(), s.forms.IDs()} {
		if form == "" && len(ids) > 0 {
			form = ids[0]
		}
	}
	f := Filter{Form: form, Municipality: m.MunicipalityID, Service: m.ServiceID}
	if m.Role == org.RoleAdmin {
		f.Municipality = 0
	}
	return f
}

// authorize checks a filter (from a button, so possibly stale or forged)
// against what the member may see: managers only their municipality (and
// their service when bound to one), admins anything.
func (s *Service) authorize(m org.Member, f Filter) error {
	if !canSeeResults(m) || !m.Can(f.Municipality) {
		return errNotAllowed
	}
	if m.Role != org.RoleAdmin && m.ServiceID != 0 && f.Service != m.ServiceID {
		return errNotAllowed
	}
	if s.forms.Latest(f.Form) == nil {
		return errPayload
	}
	if f.Language != "" {
		if _, ok := s.cat.Language(f.Language); !ok {
			return errPayload
		}
	}
	return nil
}

// scope turns a filter into the database's scope: the service id names a
// service code (which, across municipalities, spans every municipality's
// service of that code).
func (s *Service) scope(ctx context.Context, f Filter) (pgstore.ResultsScope, error) {
	sc, err := s.unreleased(ctx, f)
	if err != nil {
		return sc, err
	}
	return s.release(ctx, sc)
}

// unreleased is scope before the cut to release batches.
func (s *Service) unreleased(ctx context.Context, f Filter) (pgstore.ResultsScope, error) {
	now := s.now()
	sc := pgstore.ResultsScope{Form: f.Form, Municipality: f.Municipality, Language: f.Language, Since: f.Since(now), Until: Until(now)}
	if f.Service != 0 {
		svc, err := s.db.Service(ctx, f.Service)
		if errors.Is(err, org.ErrNotFound) {
			return sc, errPayload
		}
		if err != nil {
			return sc, err
		}
		if f.Municipality != 0 && svc.MunicipalityID != f.Municipality {
			return sc, errNotAllowed
		}
		sc.Service = svc.Code
	}
	return sc, nil
}

// release cuts a scope to whole release batches (docs/disclosure-control.md):
// walking the scope's days in order, a batch closes at the end of the
// first day that brings it to at least the threshold of interviews; a view
// covers the batches closed before today, and a period starts at the first
// batch boundary inside it. So what two views of the same scope on
// different days differ by is whole batches, each of at least the
// threshold: never one interview alone, at either end of a period.
func (s *Service) release(ctx context.Context, sc pgstore.ResultsScope) (pgstore.ResultsScope, error) {
	days, err := s.db.ResultsDays(ctx, sc)
	if err != nil {
		return sc, err
	}
	bs := releases(days, int64(s.limit()))
	if len(bs) == 0 {
		// Nothing released yet: an empty window.
		sc.Until = noRelease()
		sc.Since = sc.Until
		return sc, nil
	}
	sc.Until = bs[len(bs)-1]
	if !sc.Since.IsZero() {
		since := sc.Until
		for _, b := range bs {
			if !b.Before(sc.Since) {
				since = b
				break
			}
		}
		sc.Since = since
	}
	return sc, nil
}

// releases returns the batch boundaries of a scope's days: the midnights
// (in Rome) after each day that closes a batch of at least t interviews.
func releases(days []pgstore.DayCount, t int64) []time.Time {
	loc := pgstore.ResultsLocation()
	var bs []time.Time
	var acc int64
	for _, d := range days {
		acc += d.N
		if acc >= t {
			bs = append(bs, time.Date(d.Day.Year(), d.Day.Month(), d.Day.Day()+1, 0, 0, 0, 0, loc))
			acc = 0
		}
	}
	return bs
}

// noRelease is a cut-off before any interview: a view with nothing released.
func noRelease() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, pgstore.ResultsLocation()) }

// describe names a filter's parts in lang.
func (s *Service) describe(ctx context.Context, lang string, f Filter) (described, error) {
	d := described{Place: s.plain(lang, msgAllMunis, nil), Service: s.plain(lang, msgAllServices, nil),
		Language: s.plain(lang, msgAllLanguages, nil), Period: s.plain(lang, periodMsg(f.Days), nil),
		Form: s.formName(lang, f.Form), Versions: s.versions(f.Form)}
	if f.Municipality != 0 {
		m, err := s.db.Municipality(ctx, f.Municipality)
		if err != nil {
			return d, err
		}
		d.Place = m.Name
	}
	if f.Service != 0 {
		svc, err := s.db.Service(ctx, f.Service)
		if err != nil {
			return d, err
		}
		d.Service = svc.Name
	}
	if f.Language != "" {
		d.Language = s.languageName(f.Language)
	}
	return d, nil
}

// Report computes the protected summary for a filter (already
// authorized).
func (s *Service) Report(ctx context.Context, f Filter) (*Report, error) {
	s = s.at() // the questionnaires in force, for this whole request
	form := s.forms.Latest(f.Form)
	if form == nil {
		return nil, errPayload
	}
	sc, err := s.scope(ctx, f)
	if err != nil {
		return nil, err
	}
	t, err := s.db.ResultsTotals(ctx, sc)
	if err != nil {
		return nil, err
	}
	older := olderNeedQuestions(s.forms, form)
	choices, err := s.db.ResultsChoices(ctx, sc, reportQuestions(form, older...), false)
	if err != nil {
		return nil, err
	}
	// Questions only older versions asked appear when the published count
	// of their answers is shown (a zero must not be told from a few).
	var withAnswers []*dialog.Question
	idx := indexChoices(choices)
	for _, q := range older {
		if c := idx[q.Name][""]; Protect(c.n, c.key, s.minCell).Visible() {
			withAnswers = append(withAnswers, q)
		}
	}
	return buildReport(form, f, t, choices, s.minCell, withAnswers...), nil
}

// Compare computes the protected comparison of municipalities (admins).
func (s *Service) Compare(ctx context.Context, f Filter) (*Comparison, error) {
	s = s.at() // the questionnaires in force, for this whole request
	form := s.forms.Latest(f.Form)
	if form == nil {
		return nil, errPayload
	}
	raw, err := s.unreleased(ctx, f)
	if err != nil {
		return nil, err
	}
	raw.Municipality = 0
	// Every municipality, those without interviews too (a zero must look
	// like a small count, not be told by its absence), each cut to its
	// own release batches.
	all, err := s.db.Municipalities(ctx)
	if err != nil {
		return nil, err
	}
	prio := priorityQuestion(form)
	var ms []pgstore.MunicipalityTotals
	var choices []pgstore.ChoiceCount
	for _, m := range all { // by name
		c := raw
		c.Municipality = m.ID
		if c, err = s.release(ctx, c); err != nil {
			return nil, err
		}
		t, err := s.db.ResultsTotals(ctx, c)
		if err != nil {
			return nil, err
		}
		ms = append(ms, pgstore.MunicipalityTotals{ID: m.ID, ISTAT: m.ISTAT, Name: m.Name, Completed: t.Completed,
			Abandoned: t.Abandoned, MedianSeconds: t.MedianSeconds, CompletedKey: t.CompletedKey, AbandonedKey: t.AbandonedKey})
		if prio != "" {
			cs, err := s.db.ResultsChoices(ctx, c, []string{prio}, false)
			if err != nil {
				return nil, err
			}
			for _, ch := range cs {
				ch.Municipality = m.ID
				choices = append(choices, ch)
			}
		}
	}
	return buildComparison(form, f, ms, choices, s.minCell), nil
}

// pairedForms returns the two sides of the "both sides" comparison the
// form takes part in (pairs_with), respondents first; nils when the form
// pairs with none.
func (s *Service) pairedForms(form string) (resp, staffSide *dialog.Form) {
	f := s.forms.Latest(form)
	g := s.forms.Pair(f)
	if f == nil || g == nil {
		return nil, nil
	}
	if f.Audience == dialog.AudienceStaff {
		f, g = g, f
	}
	return f, g
}

// AreasFor counts the need areas for a filter: the respondents'
// areas question (with the filter's language) and the staff's (every
// language: staff answer in Italian or English), of the filter's form and
// the form it pairs with.
func (s *Service) AreasFor(ctx context.Context, f Filter) (*Areas, error) {
	s = s.at() // the questionnaires in force, for this whole request
	imm, ops := s.pairedForms(f.Form)
	if imm == nil {
		return &Areas{}, nil
	}
	sc, err := s.unreleased(ctx, f)
	if err != nil {
		return nil, err
	}
	count := func(form, q, language string) (map[string]cell, error) {
		c := sc
		c.Form, c.Language = form, language
		// Each questionnaire is cut to its own release batches.
		c, err := s.release(ctx, c)
		if err != nil {
			return nil, err
		}
		cs, err := s.db.ResultsChoices(ctx, c, []string{q}, false)
		if err != nil {
			return nil, err
		}
		return indexChoices(cs)[q], nil
	}
	var ic, oc map[string]cell
	if q := areasQuestion(imm); q != nil {
		if ic, err = count(imm.ID, q.Name, sc.Language); err != nil {
			return nil, err
		}
	}
	if q := areasQuestion(ops); q != nil {
		if oc, err = count(ops.ID, q.Name, ""); err != nil {
			return nil, err
		}
	}
	return buildAreas(imm, ops, ic, oc, s.minCell), nil
}

// Command answers /results [ISTAT] and /export [csv|xlsx].
func (s *Service) Command(ctx context.Context, r *bot.Request, m org.Member, name, args string) error {
	s = s.at() // the questionnaires in force, for this whole request
	lang := staffLang(r.Lang)
	if !canSeeResults(m) {
		return s.send(ctx, r, bot.Message{Text: s.text(lang, msgNotAllowed, nil)})
	}
	f := s.defaultFilter(m)
	args = strings.TrimSpace(args)
	if name == "results" && istatRe.MatchString(args) {
		id, err := s.db.MunicipalityID(ctx, args)
		if err != nil && !errors.Is(err, org.ErrNotFound) {
			return err
		}
		if err != nil || !m.Can(id) {
			return s.send(ctx, r, bot.Message{Text: s.text(lang, msgNotAllowed, nil)})
		}
		f.Municipality = id
	}
	switch name {
	case "results":
		msg, err := s.summary(ctx, lang, m, f)
		if err != nil {
			return s.fail(ctx, r, lang, err)
		}
		return s.send(ctx, r, msg)
	case "export":
		switch strings.ToLower(args) {
		case "csv":
			return s.sendExport(ctx, r, lang, m, f, FormatCSV)
		case "xlsx", "excel":
			return s.sendExport(ctx, r, lang, m, f, FormatXLSX)
		}
		msg, err := s.exportMenu(ctx, lang, f)
		if err != nil {
			return s.fail(ctx, r, lang, err)
		}
		return s.send(ctx, r, msg)
	}
	return nil
}

var istatRe = regexp.MustCompile(`^[0-9]{6}$`)

// Callback answers a results button.
func (s *Service) Callback(ctx context.Context, r *bot.Request, m org.Member, payload, queryID string, msgID int) error {
	s = s.at() // the questionnaires in force, for this whole request
	lang := staffLang(r.Lang)
	verb, f, err := decodePayload(payload)
	if err == nil {
		err = s.authorize(m, f)
	}
	switch {
	case errors.Is(err, errNotAllowed):
		return s.answer(ctx, r, queryID, s.plain(lang, msgNotAllowed, nil))
	case err != nil:
		return s.answer(ctx, r, queryID, s.plain(lang, msgStale, nil))
	}
	if (verb == verbMuni || verb == verbCompare) && m.Role != org.RoleAdmin {
		return s.answer(ctx, r, queryID, s.plain(lang, msgCompareOnly, nil))
	}
	if verb == verbExportCSV || verb == verbExportXLS {
		if err := s.answer(ctx, r, queryID, s.plain(lang, msgExportToast, nil)); err != nil {
			return err
		}
		format := FormatCSV
		if verb == verbExportXLS {
			format = FormatXLSX
		}
		return s.sendExport(ctx, r, lang, m, f, format)
	}
	// Answer at once: the work below may take a moment.
	if err := s.answer(ctx, r, queryID, ""); err != nil {
		return err
	}
	var werr error
	switch verb {
	case verbShow:
		var msg bot.Message
		if msg, werr = s.summary(ctx, lang, m, f); werr == nil {
			werr = r.Sender.Edit(ctx, r.Chat, msgID, msg)
		}
	case verbForm, verbPeriod, verbService, verbLanguage, verbMuni:
		var kb [][]bot.Key
		if kb, werr = s.picker(ctx, lang, m, verb, f); werr == nil {
			werr = r.Sender.EditKeyboard(ctx, r.Chat, msgID, kb)
		}
	case verbChart:
		if werr = s.auditView(ctx, m, "charts", f); werr == nil {
			werr = s.sendCharts(ctx, r, lang, f)
		}
	case verbFunnel:
		if werr = s.auditView(ctx, m, "funnel", f); werr == nil {
			werr = s.sendFunnel(ctx, r, lang, f)
		}
	case verbCompare:
		g := f
		g.Municipality = 0 // the comparison covers every municipality
		if werr = s.auditView(ctx, m, "compare", g); werr == nil {
			werr = s.sendCompare(ctx, r, lang, f)
		}
	}
	if werr != nil {
		return s.fail(ctx, r, lang, werr)
	}
	return nil
}

func (s *Service) send(ctx context.Context, r *bot.Request, m bot.Message) error {
	_, err := r.Sender.Send(ctx, r.Chat, m)
	return err
}

func (s *Service) answer(ctx context.Context, r *bot.Request, queryID, text string) error {
	if queryID == "" {
		return nil
	}
	return r.Sender.Answer(ctx, queryID, text)
}

// fail tells the member, in general terms, that something went wrong, and
// returns the error (logged once, by the caller) unless it was a stale or
// forged filter, which is no error.
func (s *Service) fail(ctx context.Context, r *bot.Request, lang string, err error) error {
	switch {
	case errors.Is(err, errNotAllowed):
		return s.send(ctx, r, bot.Message{Text: s.text(lang, msgNotAllowed, nil)})
	case errors.Is(err, errPayload):
		return s.send(ctx, r, bot.Message{Text: s.text(lang, msgStale, nil)})
	}
	if serr := s.send(ctx, r, bot.Message{Text: s.text(lang, msgError, nil)}); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// summary renders the /results message for a filter, with its keyboard.
func (s *Service) summary(ctx context.Context, lang string, m org.Member, f Filter) (bot.Message, error) {
	if err := s.authorize(m, f); err != nil {
		return bot.Message{}, err
	}
	if err := s.auditView(ctx, m, "summary", f); err != nil {
		return bot.Message{}, err
	}
	rep, err := s.Report(ctx, f)
	if err != nil {
		return bot.Message{}, err
	}
	d, err := s.describe(ctx, lang, f)
	if err != nil {
		return bot.Message{}, err
	}
	kb, err := s.mainKeyboard(lang, m, f, d)
	if err != nil {
		return bot.Message{}, err
	}
	return bot.Message{Text: s.summaryText(lang, s.forms.Latest(f.Form), rep, d), Keyboard: kb}, nil
}

// auditView records in the audit log that m is shown a results view for
// f (who, which view, which filter), before it is shown: a view that
// cannot be audited is not shown. Like exports, so that repeated
// differencing leaves a trace.
func (s *Service) auditView(ctx context.Context, m org.Member, view string, f Filter) error {
	d := map[string]any{"view": view, "form": f.Form, "days": f.Days, "municipality_id": f.Municipality}
	if f.Service != 0 {
		d["service_id"] = f.Service
	}
	if f.Language != "" {
		d["language"] = f.Language
	}
	id := m.ID
	if err := s.db.Audit(ctx, &id, "results.view", d); err != nil {
		return fmt.Errorf("results: view not audited: %w", err)
	}
	return nil
}

// keys builds buttons, stopping at the first that cannot be encoded.
type keys struct {
	err error
}

func (k *keys) key(text, verb string, f Filter) bot.Key {
	if k.err != nil {
		return bot.Key{}
	}
	b, err := button(text, verb, f)
	if err != nil {
		k.err = fmt.Errorf("results: button %q: %w", verb, err)
	}
	return b
}

func (s *Service) mainKeyboard(lang string, m org.Member, f Filter, d described) ([][]bot.Key, error) {
	k := &keys{}
	v := func(id, value string) string { return s.plain(lang, id, map[string]any{"Value": truncate(value, 22)}) }
	rows := [][]bot.Key{
		{k.key(v(msgBtnForm, d.Form), verbForm, f), k.key(v(msgBtnPeriod, d.Period), verbPeriod, f)},
		{k.key(v(msgBtnService, d.Service), verbService, f), k.key(v(msgBtnLanguage, d.Language), verbLanguage, f)},
	}
	if m.Role == org.RoleAdmin {
		rows = append(rows, []bot.Key{k.key(v(msgBtnMuni, d.Place), verbMuni, f), k.key(s.plain(lang, msgBtnCompare, nil), verbCompare, f)})
	}
	rows = append(rows,
		[]bot.Key{k.key(s.plain(lang, msgBtnChart, nil), verbChart, f), k.key(s.plain(lang, msgBtnFunnel, nil), verbFunnel, f)},
		[]bot.Key{k.key(s.plain(lang, msgBtnCSV, nil), verbExportCSV, f), k.key(s.plain(lang, msgBtnXLSX, nil), verbExportXLS, f)})
	return rows, k.err
}

// maxPicker bounds a picker's options (Telegram takes 100 buttons).
const maxPicker = 90

// picker is the keyboard of one filter dimension: its options (the
// current one ticked) and a way back.
func (s *Service) picker(ctx context.Context, lang string, m org.Member, verb string, f Filter) ([][]bot.Key, error) {
	k := &keys{}
	var opts []bot.Key
	opt := func(label string, current bool, g Filter) {
		if current {
			label = "✓ " + label
		}
		if len(opts) < maxPicker {
			opts = append(opts, k.key(truncate(label, 30), verbShow, g))
		}
	}
	switch verb {
	case verbForm:
		for _, id := range s.forms.IDs() {
			g := f
			g.Form = id
			opt(s.formName(lang, id), id == f.Form, g)
		}
	case verbPeriod:
		for _, d := range Periods() {
			g := f
			g.Days = d
			opt(s.plain(lang, periodMsg(d), nil), d == f.Days, g)
		}
	case verbService:
		if m.Role == org.RoleAdmin || m.ServiceID == 0 {
			g := f
			g.Service = 0
			opt(s.plain(lang, msgAllServices, nil), f.Service == 0, g)
		}
		svcs, err := s.db.ResultsServices(ctx, f.Municipality)
		if err != nil {
			return nil, err
		}
		for _, sv := range svcs {
			if m.Role != org.RoleAdmin && m.ServiceID != 0 && sv.ID != m.ServiceID {
				continue
			}
			g := f
			g.Service = sv.ID
			opt(sv.Name, sv.ID == f.Service, g)
		}
	case verbLanguage:
		g := f
		g.Language = ""
		opt(s.plain(lang, msgAllLanguages, nil), f.Language == "", g)
		for _, l := range s.cat.Languages() {
			g := f
			g.Language = l.Code
			opt(l.Name, l.Code == f.Language, g)
		}
	case verbMuni:
		g := f
		g.Municipality, g.Service = 0, 0
		opt(s.plain(lang, msgAllMunis, nil), f.Municipality == 0, g)
		ms, err := s.db.Municipalities(ctx)
		if err != nil {
			return nil, err
		}
		for _, mu := range ms {
			g := f
			// Service ids belong to a municipality: a new place starts
			// with every service.
			g.Municipality, g.Service = mu.ID, 0
			opt(mu.Name, mu.ID == f.Municipality, g)
		}
	}
	back := k.key(s.plain(lang, msgBtnBack, nil), verbShow, f)
	if k.err != nil {
		return nil, k.err
	}
	return bot.Layout(opts, []bot.Key{back}), nil
}

// sendCharts sends the need areas chart and the top needs chart as photos.
func (s *Service) sendCharts(ctx context.Context, r *bot.Request, lang string, f Filter) error {
	d, err := s.describe(ctx, lang, f)
	if err != nil {
		return err
	}
	sent := false
	if imm, ops := s.pairedForms(f.Form); imm != nil && ops != nil {
		a, err := s.AreasFor(ctx, f)
		if err != nil {
			return err
		}
		if a.Immigrants.Total.Visible() || a.Operators.Total.Visible() {
			png, _, err := s.areasChart(lang, a, d).render(s.fonts)
			if err != nil {
				return err
			}
			if err := r.Sender.SendPhoto(ctx, r.Chat, "areas.png", png, s.text(lang, msgChartAreas, nil)); err != nil {
				return err
			}
			sent = true
		}
	}
	rep, err := s.Report(ctx, f)
	if err != nil {
		return err
	}
	c := s.needsChart(lang, s.forms.Latest(f.Form), rep, 12, d)
	if len(c.Groups) > 0 {
		png, _, err := c.render(s.fonts)
		if err != nil {
			return err
		}
		if err := r.Sender.SendPhoto(ctx, r.Chat, "needs.png", png, s.text(lang, msgChartNeeds, map[string]any{"Form": d.Form})); err != nil {
			return err
		}
		sent = true
	}
	if !sent {
		return s.send(ctx, r, bot.Message{Text: s.text(lang, msgChartNoData, map[string]any{"Min": s.limit()})})
	}
	return nil
}

func (s *Service) sendFunnel(ctx context.Context, r *bot.Request, lang string, f Filter) error {
	rep, err := s.Report(ctx, f)
	if err != nil {
		return err
	}
	d, err := s.describe(ctx, lang, f)
	if err != nil {
		return err
	}
	return s.send(ctx, r, bot.Message{Text: s.funnelText(lang, s.forms.Latest(f.Form), rep, d)})
}

func (s *Service) sendCompare(ctx context.Context, r *bot.Request, lang string, f Filter) error {
	c, err := s.Compare(ctx, f)
	if err != nil {
		return err
	}
	d, err := s.describe(ctx, lang, f)
	if err != nil {
		return err
	}
	d.Place = s.plain(lang, msgAllMunis, nil)
	return s.send(ctx, r, bot.Message{Text: s.compareText(lang, s.forms.Latest(f.Form), c, d)})
}

// exportMenu is /export without a format: what it will contain, and two
// buttons.
func (s *Service) exportMenu(ctx context.Context, lang string, f Filter) (bot.Message, error) {
	d, err := s.describe(ctx, lang, f)
	if err != nil {
		return bot.Message{}, err
	}
	k := &keys{}
	kb := [][]bot.Key{{k.key(s.plain(lang, msgBtnCSV, nil), verbExportCSV, f), k.key(s.plain(lang, msgBtnXLSX, nil), verbExportXLS, f)}}
	if len(s.forms.IDs()) > 1 {
		// Another questionnaire (a published one): its results view has
		// the same export buttons.
		kb = append([][]bot.Key{{k.key(s.plain(lang, msgBtnForm, map[string]any{"Value": truncate(d.Form, 22)}), verbForm, f)}}, kb...)
	}
	text := s.text(lang, msgExportPick, map[string]any{"Place": d.Place,
		"Filter": s.plain(lang, msgFilter, map[string]any{"Form": d.Form, "Period": d.Period, "Service": d.Service, "Language": d.Language})})
	return bot.Message{Text: text, Keyboard: kb}, k.err
}

// sendExport makes an export in a temporary file and sends it as a
// document: zipped when larger than Telegram takes, refused when even the
// zip is. Exports are bounded in number; the file goes when sent.
func (s *Service) sendExport(ctx context.Context, r *bot.Request, lang string, m org.Member, f Filter, format string) error {
	if err := s.authorize(m, f); err != nil {
		return s.fail(ctx, r, lang, err)
	}
	select {
	case s.exports <- struct{}{}:
		defer func() { <-s.exports }()
	default:
		return s.send(ctx, r, bot.Message{Text: s.text(lang, msgExportBusy, nil)})
	}
	sc, err := s.scope(ctx, f)
	if err != nil {
		return s.fail(ctx, r, lang, err)
	}
	d, err := s.describe(ctx, lang, f)
	if err != nil {
		return s.fail(ctx, r, lang, err)
	}
	ext := s.ExportExt(f.Form, format, false)
	tmp, err := os.CreateTemp(s.tempDir, "needsbot-export-*."+ext)
	if err != nil {
		return s.fail(ctx, r, lang, fmt.Errorf("results: export: %w", err))
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	actor := m.ID
	x, err := s.export(ctx, tmp, ExportRequest{Format: format, Lang: lang, Scope: sc, Actor: &actor, Via: "telegram"})
	if err != nil {
		s.log.Error("export failed", "err", err, "staff_id", m.ID, "rows", x.rows)
		return s.send(ctx, r, bot.Message{Text: s.text(lang, msgExportFailed, nil)})
	}
	name := exportName(f, d, ext, s.now())
	data, zipped, err := s.document(tmp, name)
	if err != nil {
		return s.fail(ctx, r, lang, err)
	}
	if data == nil {
		return s.send(ctx, r, bot.Message{Text: s.text(lang, msgExportTooBig, map[string]any{"Size": fmt.Sprintf("%.0f MB", float64(s.maxDoc)/(1<<20))})})
	}
	caption := s.exportCaption(lang, d, x)
	if zipped {
		name += ".zip"
		caption += "\n" + s.text(lang, msgExportZipped, nil)
	}
	s.log.Info("export sent", "staff_id", m.ID, "format", format, "rows", x.rows, "bytes", len(data), "zipped", zipped)
	return r.Sender.SendDocument(ctx, r.Chat, name, data, caption)
}

// exportCaption says what an export sent in Telegram holds. It gives no
// true count: a de-identified file has one row per completed interview
// (the rows are the file's own to count), and an aggregates-only file
// (the operators') hides its true counts, so its caption gives the
// protected count of responses the file and /results show for the same
// filter. Before, the caption counted exactly where /results showed the
// protected count, and for an aggregates-only file told what the file
// hides.
func (s *Service) exportCaption(lang string, d described, x exported) string {
	data := map[string]any{"Place": d.Place, "Filter": s.plain(lang, msgFilter, map[string]any{
		"Form": d.Form, "Period": d.Period, "Service": d.Service, "Language": d.Language})}
	if x.totals != nil {
		data["Count"] = s.countText(lang, *x.totals)
		return s.text(lang, msgExportCapTotals, data)
	}
	return s.text(lang, msgExportCapRows, data)
}

// exportName is the file name of an export: questionnaire, place, date.
func exportName(f Filter, d described, format string, now time.Time) string {
	place := "all"
	if f.Municipality != 0 {
		place = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, d.Place)
	}
	return fmt.Sprintf("needsbot_%s_%s_%s.%s", f.Form, place, now.In(pgstore.ResultsLocation()).Format("2006-01-02"), format)
}

// document reads the finished export for sending: as it is when it fits,
// zipped when only the zip fits, nil when neither does.
func (s *Service) document(f *os.File, name string) ([]byte, bool, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("results: export: %w", err)
	}
	if st.Size() <= s.maxDoc {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			return nil, false, fmt.Errorf("results: export: %w", err)
		}
		return data, false, nil
	}
	if strings.HasSuffix(name, ".zip") {
		return nil, false, nil // zipped already: zipping again gains nothing
	}
	z, err := os.CreateTemp(s.tempDir, "needsbot-export-*.zip")
	if err != nil {
		return nil, false, fmt.Errorf("results: export: %w", err)
	}
	defer os.Remove(z.Name())
	defer z.Close()
	zw := zip.NewWriter(z)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: s.now()})
	if err != nil {
		return nil, false, fmt.Errorf("results: export: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, false, fmt.Errorf("results: export: %w", err)
	}
	if _, err := io.Copy(w, f); err != nil {
		return nil, false, fmt.Errorf("results: export: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, false, fmt.Errorf("results: export: %w", err)
	}
	zs, err := z.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("results: export: %w", err)
	}
	if zs.Size() > s.maxDoc {
		return nil, false, nil
	}
	data, err := os.ReadFile(z.Name())
	if err != nil {
		return nil, false, fmt.Errorf("results: export: %w", err)
	}
	return data, true, nil
}
