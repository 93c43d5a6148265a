package dialog

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/needsbot/needsbot/dialog/xpath"
)

type loader struct {
	file     string
	problems []Problem
	form     *Form
	groups   []*Group // open groups (begin_group stack)
	exprs    []pendingExpr
	// label_choice references, checked once every question is known.
	labelChoices []pendingLabelChoice
}

type pendingLabelChoice struct {
	q    *Question
	ref  string
	line int
}

// pendingExpr is an expression whose references are checked once every
// question is known.
type pendingExpr struct {
	e      *xpath.Expr
	column string
	q      *Question // nil for form-level expressions
	line   int
	order  int // position of the owner; references must be earlier for relevant
	strict bool
}

func (l *loader) errorf(line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) done(f *Form) (*Form, error) {
	if len(l.problems) > 0 {
		sort.SliceStable(l.problems, func(i, j int) bool { return l.problems[i].Line < l.problems[j].Line })
		return nil, &LoadError{Problems: l.problems}
	}
	return f, nil
}

// Compile turns a questionnaire in the row model into a validated Form:
// the one compiler behind the YAML files and XLSForm workbooks. Every
// problem is reported, as a *LoadError at the rows' lines.
func Compile(s *Sheets) (*Form, error) {
	l := &loader{file: s.File}
	return l.done(l.compile(s))
}

func (l *loader) compile(s *Sheets) *Form {
	f := &Form{File: l.file, Lists: map[string]*List{}, byName: map[string]int{}}
	l.form = f
	set := s.Settings
	for col := range set.Cells {
		if !contains(settingsColumns, col) {
			l.errorf(set.lineOf(col), "unknown setting %q", col)
		}
	}
	f.ID = set.Get(SetFormID)
	if v := set.Get(SetVersion); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			l.errorf(set.lineOf(SetVersion), "version must be a positive integer, not %q", v)
		}
		f.Version = n
	}
	f.Title = set.Get(SetTitle)
	f.Language = set.Get(SetDefaultLanguage)
	f.Consent = set.Get(SetConsent)
	if v := set.Get(SetEligible); v != "" {
		ln := set.lineOf(SetEligible)
		f.Eligible = l.expr(v, "eligible", ln)
		if f.Eligible != nil {
			l.exprs = append(l.exprs, pendingExpr{e: f.Eligible, column: "eligible", line: ln, order: -1})
		}
	}
	switch a := Audience(set.Get(SetAudience)); a {
	case "":
		f.Audience = AudienceRespondents
	case AudienceRespondents, AudienceStaff:
		f.Audience = a
	default:
		l.errorf(set.lineOf(SetAudience), "audience must be %s or %s, not %q", AudienceRespondents, AudienceStaff, a)
	}
	f.PairsWith = set.Get(SetPairsWith)
	if f.PairsWith != "" && !nameRe.MatchString(f.PairsWith) {
		l.errorf(set.lineOf(SetPairsWith), "pairs_with %q must be a form id", f.PairsWith)
	}
	if f.ID == "" {
		l.errorf(1, "missing form id (form:)")
	} else if !nameRe.MatchString(f.ID) {
		l.errorf(1, "form id %q must be letters, digits and _", f.ID)
	}
	if f.Version == 0 {
		l.errorf(1, "missing version")
	}
	if f.Language == "" {
		f.Language = "it"
	}
	if f.Title == "" {
		f.Title = "f." + f.ID + ".title"
	}
	l.loadChoices(s.Choices)
	for _, r := range s.Survey {
		l.row(r)
	}
	if len(l.groups) > 0 {
		g := l.groups[len(l.groups)-1]
		l.errorf(g.Line, "begin_group %q has no end_group", g.Name)
	}
	l.checkRefs()
	l.checkLabelChoices()
	l.checkConsent()
	l.deriveBounds()
	l.relevanceReaders()
	return f
}

// relevanceReaders fills Form.readers and Form.incremental: which rows'
// relevance and calculations each answer feeds, when they depend only on
// the answers of earlier rows.
func (l *loader) relevanceReaders() {
	f := l.form
	readers := make([][]int, len(f.Questions))
	// read notes that row i reads the answer of the row called ref, which
	// must come before limit; ok is false for a form without the shortcut.
	read := func(i int, ref string, limit int) bool {
		j, ok := f.byName[ref]
		if !ok || j >= limit {
			return false // unknown (reported by checkRefs), or not before
		}
		if r := readers[j]; len(r) == 0 || r[len(r)-1] != i {
			readers[j] = append(r, i)
		}
		return true
	}
	for i, q := range f.Questions {
		for _, g := range q.Groups {
			e := g.Relevant
			if e.UsesToday() || e.UsesCurrent() {
				// "." in a group's relevance reads whatever row the full
				// pass evaluated last.
				return
			}
			for _, ref := range e.Refs() {
				// Before the group: the full pass evaluates it at its
				// first row, the shortcut perhaps later.
				if !read(i, ref, g.first) {
					return
				}
			}
		}
		if e := q.Relevant; e != nil {
			if e.UsesToday() {
				return
			}
			for _, ref := range e.Refs() {
				if !read(i, ref, i) {
					return
				}
			}
			if e.UsesCurrent() {
				read(i, q.Name, i+1)
			}
		}
		if e := q.Calculation; e != nil && q.Type == TypeCalculate {
			// Computed once from earlier rows, its value is what the full
			// pass's second round in dependency order computes again.
			if e.UsesToday() || e.UsesCurrent() {
				return
			}
			for _, ref := range e.Refs() {
				if !read(i, ref, i) {
					return
				}
			}
		}
	}
	f.readers, f.incremental = readers, true
}

// loadChoices builds the lists from the choice rows, in order of first
// appearance of each list_name.
func (l *loader) loadChoices(rows []Row) {
	for _, r := range rows {
		name := r.Get(ChoiceListName)
		ln := r.Line
		list := l.form.Lists[name]
		if list == nil {
			if !nameRe.MatchString(name) {
				l.errorf(ln, "list name %q must be letters, digits and _", name)
			}
			list = &List{Name: name, index: map[string]int{}}
			l.form.Lists[name] = list
		}
		c := Choice{Name: r.Get(ChoiceName)}
		for _, col := range sortedCols(r) {
			v := r.Get(col)
			switch col {
			case ChoiceListName, ChoiceName:
			case ChoiceExclusive, ChoiceOther:
				yes, ok := YesNo(v)
				if !ok {
					l.errorf(r.lineOf(col), "list %q: %s must be yes or no, not %q", name, col, v)
				}
				if col == ChoiceExclusive {
					c.Exclusive = yes
				} else {
					c.Other = yes
				}
			case ChoiceArea:
				if !choiceNameRe.MatchString(v) {
					l.errorf(r.lineOf(col), "list %q: area %q must be ASCII letters, digits and _", name, v)
				}
				c.Area = v
			default:
				if col == ChoiceMin || col == ChoiceMax {
					if _, err := strconv.ParseFloat(v, 64); err != nil {
						l.errorf(r.lineOf(col), "list %q: %s must be a number, not %q", name, col, v)
					}
				}
				if c.Filter == nil {
					c.Filter = map[string]string{}
				}
				c.Filter[col] = v
			}
		}
		if lo, hi, ok := c.Bounds(); ok && lo > hi {
			l.errorf(ln, "list %q: choice %q has min %v above max %v", name, c.Name, lo, hi)
		}
		switch {
		case c.Name == "":
			l.errorf(ln, "list %q: a choice without a name", name)
			continue
		case !choiceNameRe.MatchString(c.Name):
			l.errorf(ln, "list %q: choice name %q must be ASCII letters, digits and _", name, c.Name)
		case len(c.Name) > MaxChoiceName:
			l.errorf(ln, "list %q: choice name %q is %d bytes; at most %d fit in Telegram's 64-byte button data", name, c.Name, len(c.Name), MaxChoiceName)
		}
		if _, dup := list.index[c.Name]; dup {
			l.errorf(ln, "list %q: duplicate choice %q", name, c.Name)
			continue
		}
		if lo, hi, ok := c.Bounds(); ok {
			for _, o := range list.Choices {
				if olo, ohi, ook := o.Bounds(); ook && lo <= ohi && olo <= hi {
					l.errorf(ln, "list %q: the band of choice %q overlaps that of %q", name, c.Name, o.Name)
				}
			}
		}
		c.Label = "c." + l.form.ID + "." + name + "." + c.Name
		list.index[c.Name] = len(list.Choices)
		list.Choices = append(list.Choices, c)
	}
}

func (l *loader) openGroup(r Row) *Group {
	ln := r.Line
	name := r.Get("name")
	if !nameRe.MatchString(name) {
		l.errorf(ln, "group name %q must be letters, digits and _", name)
	}
	g := &Group{Name: name, Label: "g." + l.form.ID + "." + name, Line: ln, index: l.form.groups}
	l.form.groups++
	if rel := r.Get("relevant"); rel != "" {
		g.Relevant = l.expr(rel, "relevant", ln)
		if g.Relevant != nil {
			l.exprs = append(l.exprs, pendingExpr{e: g.Relevant, column: "relevant", line: ln, order: len(l.form.Questions), strict: true})
		}
	}
	return g
}

// flag reads a yes/no column of a row, reporting anything else.
func (l *loader) flag(r Row, col string) bool {
	yes, ok := YesNo(r.Get(col))
	if !ok {
		l.errorf(r.lineOf(col), "%s must be yes or no, not %q", col, r.Get(col))
	}
	return yes
}

func (l *loader) row(r Row) {
	ln := r.Line
	for _, col := range sortedCols(r) {
		if !SurveyColumn(col) {
			l.errorf(r.lineOf(col), "unknown field %q", col)
		}
	}
	typ, list, _ := strings.Cut(r.Get("type"), " ")
	list = strings.TrimSpace(list)
	name := r.Get("name")
	switch typ {
	case "begin_group", "begin group":
		g := l.openGroup(r)
		g.first = len(l.form.Questions)
		l.groups = append(l.groups, g)
		return
	case "end_group", "end group":
		if len(l.groups) == 0 {
			l.errorf(ln, "end_group without begin_group")
			return
		}
		g := l.groups[len(l.groups)-1]
		l.groups = l.groups[:len(l.groups)-1]
		if g.first == len(l.form.Questions) {
			l.errorf(g.Line, "group %q is empty", g.Name)
		}
		return
	}
	q := &Question{Name: name, Line: ln, Required: l.flag(r, "required"), Appearance: r.Get("appearance")}
	if v := r.Get("max_length"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			l.errorf(r.lineOf("max_length"), "max_length must be a positive integer, not %q", v)
		}
		q.MaxLength = n
	}
	switch typ {
	case "note":
		q.Type = TypeNote
	case "acknowledge":
		q.Type = TypeAcknowledge
	case "select_one", "select_multiple":
		q.Type = TypeSelectOne
		if typ == "select_multiple" {
			q.Type = TypeSelectMultiple
		}
		if list == "" {
			l.errorf(ln, "%s needs a choice list: %q", typ, typ+" LIST")
		} else if q.List = l.form.Lists[list]; q.List == nil {
			l.errorf(ln, "unknown list %q", list)
		}
	case "text":
		q.Type = TypeText
	case "integer":
		q.Type = TypeInteger
	case "decimal":
		q.Type = TypeDecimal
	case "range":
		q.Type = TypeRange
		l.rangeParams(q, r.Get("parameters"), ln)
	case "date":
		q.Type = TypeDate
	case "calculate":
		q.Type = TypeCalculate
		if r.Get("calculation") == "" {
			l.errorf(ln, "calculate %q needs a calculation", name)
		}
	case "hidden":
		q.Type = TypeHidden
	case "":
		l.errorf(ln, "row without a type")
		return
	default:
		l.errorf(ln, "unknown type %q", typ)
		return
	}
	switch {
	case list != "" && (q.Type == TypeCalculate || q.Type == TypeHidden):
		// A calculate or hidden row may name the list its value comes
		// from, so that label_choice can show the choice's label.
		if q.List = l.form.Lists[list]; q.List == nil {
			l.errorf(ln, "unknown list %q", list)
		}
	case list != "" && q.Type != TypeSelectOne && q.Type != TypeSelectMultiple:
		l.errorf(ln, "type %s takes no list", typ)
	}
	if r.Get("parameters") != "" && q.Type != TypeRange {
		l.errorf(ln, "parameters apply to range only")
	}
	if q.MaxLength != 0 && q.Type != TypeText {
		l.errorf(ln, "max_length applies to text only")
	}
	if q.Type == TypeText && q.MaxLength <= 0 {
		q.MaxLength = DefaultMaxText
	}
	switch {
	case name == "":
		l.errorf(ln, "row of type %s without a name", typ)
	case !nameRe.MatchString(name):
		l.errorf(ln, "name %q must be letters, digits and _", name)
	default:
		if _, dup := l.form.byName[name]; dup {
			l.errorf(ln, "duplicate name %q", name)
		}
	}
	textName := name
	if id := r.Get("label_id"); id != "" {
		// The row's texts have their own ids (q.<form>.<label_id>…): a
		// newer version can reword a question that keeps its name, and so
		// its codes, without changing the texts older versions show.
		if !nameRe.MatchString(id) {
			l.errorf(ln, "label_id %q must be letters, digits and _", id)
		}
		textName = id
	}
	if q.Type.Shown() || l.flag(r, "label") {
		q.Label = "q." + l.form.ID + "." + textName
	}
	if lc := r.Get("label_choice"); lc != "" {
		l.labelChoices = append(l.labelChoices, pendingLabelChoice{q: q, ref: lc, line: ln})
	}
	if l.flag(r, "hint") {
		q.Hint = q.Label + ".hint"
	}
	if l.flag(r, "summary") {
		if q.Label == "" {
			l.errorf(r.lineOf("summary"), "summary on a row without a label")
		}
		q.Summary = q.Label + ".summary"
	}
	if l.flag(r, "constraint_message") {
		if r.Get("constraint") == "" {
			l.errorf(ln, "constraint_message without a constraint")
		}
		q.ConstraintMsg = q.Label + ".constraint"
	}
	l.meaning(q, r)
	if c := r.Get("context"); c != "" {
		if q.Type != TypeHidden {
			l.errorf(r.lineOf("context"), "context applies to hidden rows only")
		}
		q.Context = c
	}
	q.Groups = append([]*Group(nil), l.groups...)
	q.Index = len(l.form.Questions)
	add := func(column string, strict bool) *xpath.Expr {
		src := r.Get(column)
		if src == "" {
			return nil
		}
		eln := ln
		e := l.expr(src, column, eln)
		if e != nil {
			l.exprs = append(l.exprs, pendingExpr{e: e, column: column, q: q, line: eln, order: q.Index, strict: strict})
		}
		return e
	}
	q.Relevant = add("relevant", true)
	q.Constraint = add("constraint", false)
	q.ChoiceFilter = add("choice_filter", false)
	q.Calculation = add("calculation", false)
	q.Default = add("default", false)
	if q.ChoiceFilter != nil && q.List == nil {
		l.errorf(ln, "choice_filter applies to select questions only")
	}
	if q.Calculation != nil && q.Type != TypeCalculate {
		l.errorf(ln, "calculation applies to calculate rows only")
	}
	if q.Required && !q.Type.Shown() {
		l.errorf(ln, "a %s row cannot be required", typ)
	}
	if name != "" {
		if _, dup := l.form.byName[name]; !dup {
			l.form.byName[name] = q.Index
		}
	}
	l.form.Questions = append(l.form.Questions, q)
}

// meaning reads the row's report and area columns.
func (l *loader) meaning(q *Question, r Row) {
	for _, sec := range strings.Fields(r.Get("report")) {
		s := Section(sec)
		if !contains(sectionNames, sec) {
			l.errorf(r.lineOf("report"), "report: unknown section %q (known: %s)", sec, strings.Join(sectionNames, ", "))
			continue
		}
		if q.Type != TypeSelectMultiple && q.Type != TypeSelectOne {
			l.errorf(r.lineOf("report"), "report: %s counts choices: %q must be a select", sec, q.Name)
		}
		q.Report = append(q.Report, s)
	}
	if a := r.Get("area"); a != "" {
		if !choiceNameRe.MatchString(a) {
			l.errorf(r.lineOf("area"), "area %q must be ASCII letters, digits and _", a)
		}
		q.Area = a
	}
}

func (l *loader) rangeParams(q *Question, params string, ln int) {
	q.Start, q.End, q.Step = 1, 10, 1
	for _, p := range strings.Fields(params) {
		k, v, ok := strings.Cut(p, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			l.errorf(ln, "range parameter %q must be key=number", p)
			continue
		}
		switch k {
		case "start":
			q.Start = f
		case "end":
			q.End = f
		case "step":
			q.Step = f
		default:
			l.errorf(ln, "unknown range parameter %q", k)
		}
	}
	switch n := (q.End-q.Start)/q.Step + 1; {
	case q.Step <= 0 || q.End < q.Start:
		l.errorf(ln, "range needs start <= end and step > 0")
	case n > 100:
		l.errorf(ln, "range has %.0f values; at most 100 buttons fit", n)
	}
}

func (l *loader) expr(src, column string, ln int) *xpath.Expr {
	e, err := xpath.Parse(src)
	if err != nil {
		var xe *xpath.Error
		if errors.As(err, &xe) {
			l.errorf(ln, "%s: column %d: %s", column, xe.Col, xe.Msg)
		} else {
			l.errorf(ln, "%s: %v", column, err)
		}
		return nil
	}
	return e
}

// checkRefs checks every expression's ${refs}: they must name a question;
// in relevant they must come earlier; calculations must not form a cycle.
func (l *loader) checkRefs() {
	f := l.form
	for _, p := range l.exprs {
		for _, ref := range p.e.Refs() {
			i, ok := f.byName[ref]
			if !ok {
				l.errorf(p.line, "%s: unknown reference ${%s}", p.column, ref)
				continue
			}
			target := f.Questions[i]
			if p.strict && i >= p.order && target.Type != TypeCalculate {
				if p.q != nil && i == p.order {
					l.errorf(p.line, "%s: ${%s} refers to the question itself", p.column, ref)
				} else {
					l.errorf(p.line, "%s: ${%s} refers to a question that comes later (line %d)", p.column, ref, target.Line)
				}
			}
			if target.Type == TypeNote || target.Type == TypeAcknowledge && p.column != "relevant" {
				l.errorf(p.line, "%s: ${%s} is a %s and has no value", p.column, ref, target.Type)
			}
		}
		if p.column == "choice_filter" && p.q != nil && p.q.List != nil {
			for _, col := range p.e.Columns() {
				if col == "name" {
					continue
				}
				found := false
				for _, c := range p.q.List.Choices {
					if _, ok := c.Filter[col]; ok {
						found = true
						break
					}
				}
				if !found {
					l.errorf(p.line, "choice_filter: list %q has no column %q", p.q.List.Name, col)
				}
			}
		} else if cols := p.e.Columns(); len(cols) > 0 {
			l.errorf(p.line, "%s: bare name %q; write ${%s} to refer to a question", p.column, cols[0], cols[0])
		}
	}
	l.calcOrder()
}

// calcOrder orders calculate rows so that each comes after the ones it
// depends on, reporting cycles.
func (l *loader) calcOrder() {
	f := l.form
	state := map[int]int{} // 0 new, 1 visiting, 2 done
	var visit func(i int, path []string) bool
	visit = func(i int, path []string) bool {
		switch state[i] {
		case 1:
			q := f.Questions[i]
			l.errorf(q.Line, "calculation cycle: %s", strings.Join(append(path, q.Name), " → "))
			return false
		case 2:
			return true
		}
		state[i] = 1
		q := f.Questions[i]
		ok := true
		for _, ref := range q.Calculation.Refs() {
			if j, found := f.byName[ref]; found && f.Questions[j].Type == TypeCalculate {
				if !visit(j, append(path, q.Name)) {
					ok = false
					break
				}
			}
		}
		state[i] = 2
		if ok {
			f.calcs = append(f.calcs, i)
		}
		return ok
	}
	for i, q := range f.Questions {
		if q.Type == TypeCalculate && q.Calculation != nil && state[i] == 0 {
			visit(i, nil)
		}
	}
}

// checkLabelChoices resolves label_choice: the named question must come
// earlier and have a choice list (a select, or a calculate/hidden row that
// names its list).
func (l *loader) checkLabelChoices() {
	f := l.form
	for _, p := range l.labelChoices {
		i, ok := f.byName[p.ref]
		if !ok {
			l.errorf(p.line, "label_choice: no question %q", p.ref)
			continue
		}
		target := f.Questions[i]
		switch {
		case i >= p.q.Index:
			l.errorf(p.line, "label_choice: %q must come before the question", p.ref)
		case target.List == nil || target.Type == TypeSelectMultiple:
			l.errorf(p.line, "label_choice: %q must be a select_one, or a calculate or hidden row naming a list", p.ref)
		default:
			p.q.LabelChoice = target
		}
	}
}

func (l *loader) checkConsent() {
	f := l.form
	if f.Consent == "" {
		return
	}
	q := f.Question(f.Consent)
	if q == nil {
		l.errorf(1, "consent: no question %q", f.Consent)
		return
	}
	if q.Type != TypeSelectOne || q.List == nil {
		l.errorf(q.Line, "consent question %q must be a select_one", q.Name)
		return
	}
	if _, ok := q.List.Choice("yes"); !ok {
		l.errorf(q.Line, "consent question %q needs a choice named yes", q.Name)
	}
	if !q.Required {
		l.errorf(q.Line, "consent question %q must be required", q.Name)
	}
}

// deriveBounds reads select_multiple bounds from constraints of the usual
// shapes (count-selected(.) < N / <= N), so the engine can refuse a tick
// over the maximum at once instead of only at Done.
func (l *loader) deriveBounds() {
	for _, q := range l.form.Questions {
		if q.Type != TypeSelectMultiple {
			continue
		}
		if q.Required {
			q.MinSelected = 1
		}
		if q.Constraint == nil {
			continue
		}
		src := strings.ReplaceAll(q.Constraint.String(), " ", "")
		for _, m := range maxSelRe.FindAllStringSubmatch(src, -1) {
			n, _ := strconv.Atoi(m[2])
			if m[1] == "<" {
				n--
			}
			if n > 0 && (q.MaxSelected == 0 || n < q.MaxSelected) {
				q.MaxSelected = n
			}
		}
	}
}

var maxSelRe = regexp.MustCompile(`count-selected\(\.\)(<=?)(\d+)`)
