package dialog

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	yamlparser "github.com/goccy/go-yaml/parser"

	"github.com/needsbot/needsbot/dialog/xpath"
)

// MaxChoiceName is the longest choice name, in bytes, that still fits in
// Telegram's 64-byte callback data together with the button codec's header.
const MaxChoiceName = 32

// DefaultMaxText is the length cap of text answers without max_length.
const DefaultMaxText = 1000

var (
	nameRe       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	choiceNameRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// exclusiveChoices must stand alone in a select_multiple answer.
var exclusiveChoices = map[string]bool{"none": true, "dnk": true, "pnta": true}

// Problem is one thing wrong with a definition, at a line of its file.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// LoadError lists every problem found while loading a definition.
type LoadError struct{ Problems []Problem }

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

type rawRow struct {
	Type              string `yaml:"type"`
	Name              string `yaml:"name"`
	Required          bool   `yaml:"required"`
	Relevant          string `yaml:"relevant"`
	Constraint        string `yaml:"constraint"`
	ConstraintMessage bool   `yaml:"constraint_message"`
	Hint              bool   `yaml:"hint"`
	Label             bool   `yaml:"label"`
	ChoiceFilter      string `yaml:"choice_filter"`
	Calculation       string `yaml:"calculation"`
	Default           string `yaml:"default"`
	Appearance        string `yaml:"appearance"`
	Parameters        string `yaml:"parameters"`
	MaxLength         int    `yaml:"max_length"`
	LabelID           string `yaml:"label_id"`
	LabelChoice       string `yaml:"label_choice"`
	Children          any    `yaml:"children"`
}

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

// Parse loads one questionnaire definition from YAML. file names the source
// in problems. Every problem is reported, as a *LoadError.
func Parse(file string, src []byte) (*Form, error) {
	l := &loader{file: file}
	f := l.parse(src)
	if len(l.problems) > 0 {
		sort.SliceStable(l.problems, func(i, j int) bool { return l.problems[i].Line < l.problems[j].Line })
		return nil, &LoadError{Problems: l.problems}
	}
	return f, nil
}

func (l *loader) parse(src []byte) *Form {
	file, err := yamlparser.ParseBytes(src, 0)
	if err != nil {
		l.yamlError(err)
		return nil
	}
	if len(file.Docs) != 1 || file.Docs[0].Body == nil {
		l.errorf(1, "expected exactly one YAML document")
		return nil
	}
	root := file.Docs[0].Body
	f := &Form{File: l.file, Lists: map[string]*List{}, byName: map[string]int{}}
	l.form = f
	var survey, choices ast.Node
	for _, kv := range pairs(root) {
		key := kv.Key.GetToken().Value
		line := kv.Key.GetToken().Position.Line
		val := scalar(kv.Value)
		switch key {
		case "form":
			f.ID = val
		case "version":
			v, err := strconv.Atoi(val)
			if err != nil || v <= 0 {
				l.errorf(line, "version must be a positive integer, not %q", val)
			}
			f.Version = v
		case "title":
			f.Title = val
		case "default_language":
			f.Language = val
		case "consent":
			f.Consent = val
		case "eligible":
			f.Eligible = l.expr(val, "eligible", line)
			if f.Eligible != nil {
				l.exprs = append(l.exprs, pendingExpr{e: f.Eligible, column: "eligible", line: line, order: -1})
			}
		case "survey":
			survey = kv.Value
		case "choices":
			choices = kv.Value
		default:
			l.errorf(line, "unknown key %q", key)
		}
	}
	if pairs(root) == nil {
		l.errorf(1, "a definition is a mapping with form, version, survey and choices")
		return nil
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
	l.loadChoices(choices)
	seq, ok := survey.(*ast.SequenceNode)
	if !ok {
		l.errorf(1, "missing survey: a list of rows")
		return f
	}
	l.rows(seq)
	if len(l.groups) > 0 {
		g := l.groups[len(l.groups)-1]
		l.errorf(g.Line, "begin_group %q has no end_group", g.Name)
	}
	l.checkRefs()
	l.checkLabelChoices()
	l.checkConsent()
	l.deriveBounds()
	return f
}

func (l *loader) yamlError(err error) {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		l.errorf(ye.GetToken().Position.Line, "%s", ye.GetMessage())
		return
	}
	l.errorf(1, "%v", err)
}

// pairs returns the key/value pairs of a mapping node (goccy represents a
// one-pair mapping as a bare MappingValueNode), or nil.
func pairs(n ast.Node) []*ast.MappingValueNode {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}
	case *ast.TagNode:
		return pairs(m.Value)
	case *ast.AnchorNode:
		return pairs(m.Value)
	}
	return nil
}

// scalar returns the raw text of a scalar node: the token value, so that
// an unquoted yes stays "yes" rather than becoming a boolean.
func scalar(n ast.Node) string {
	if n == nil {
		return ""
	}
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return ""
	case *ast.NullNode:
		return ""
	}
	return n.GetToken().Value
}

func line(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 1
	}
	return n.GetToken().Position.Line
}

func (l *loader) loadChoices(n ast.Node) {
	if n == nil {
		return
	}
	ps := pairs(n)
	if ps == nil {
		l.errorf(line(n), "choices must map list names to lists of choices")
		return
	}
	for _, kv := range ps {
		name := kv.Key.GetToken().Value
		ln := kv.Key.GetToken().Position.Line
		if !nameRe.MatchString(name) {
			l.errorf(ln, "list name %q must be letters, digits and _", name)
		}
		if _, dup := l.form.Lists[name]; dup {
			l.errorf(ln, "duplicate list %q", name)
			continue
		}
		list := &List{Name: name, index: map[string]int{}}
		seq, ok := kv.Value.(*ast.SequenceNode)
		if !ok || len(seq.Values) == 0 {
			l.errorf(ln, "list %q must have at least one choice", name)
			l.form.Lists[name] = list
			continue
		}
		for _, item := range seq.Values {
			c := Choice{}
			if ps := pairs(item); ps != nil {
				for _, col := range ps {
					k, v := col.Key.GetToken().Value, scalar(col.Value)
					if k == "name" {
						c.Name = v
						continue
					}
					if c.Filter == nil {
						c.Filter = map[string]string{}
					}
					c.Filter[k] = v
				}
			} else {
				c.Name = scalar(item)
			}
			il := line(item)
			switch {
			case c.Name == "":
				l.errorf(il, "list %q: a choice without a name", name)
				continue
			case !choiceNameRe.MatchString(c.Name):
				l.errorf(il, "list %q: choice name %q must be ASCII letters, digits and _", name, c.Name)
			case len(c.Name) > MaxChoiceName:
				l.errorf(il, "list %q: choice name %q is %d bytes; at most %d fit in Telegram's 64-byte button data", name, c.Name, len(c.Name), MaxChoiceName)
			}
			if _, dup := list.index[c.Name]; dup {
				l.errorf(il, "list %q: duplicate choice %q", name, c.Name)
				continue
			}
			c.Label = "c." + l.form.ID + "." + name + "." + c.Name
			c.Exclusive = exclusiveChoices[c.Name]
			list.index[c.Name] = len(list.Choices)
			list.Choices = append(list.Choices, c)
		}
		l.form.Lists[name] = list
	}
}

func (l *loader) rows(seq *ast.SequenceNode) {
	for _, item := range seq.Values {
		ln := line(item)
		var r rawRow
		if err := yaml.NodeToValue(item, &r, yaml.Strict()); err != nil {
			var ye yaml.Error
			if errors.As(err, &ye) && ye.GetToken() != nil {
				l.errorf(ye.GetToken().Position.Line, "%s", ye.GetMessage())
			} else {
				l.errorf(ln, "%v", err)
			}
			continue
		}
		var children *ast.SequenceNode
		for _, kv := range pairs(item) {
			if kv.Key.GetToken().Value == "children" {
				children, _ = kv.Value.(*ast.SequenceNode)
			}
		}
		l.row(r, ln, children)
	}
}

func (l *loader) openGroup(r rawRow, ln int) *Group {
	if !nameRe.MatchString(r.Name) {
		l.errorf(ln, "group name %q must be letters, digits and _", r.Name)
	}
	g := &Group{Name: r.Name, Label: "g." + l.form.ID + "." + r.Name, Line: ln, index: l.form.groups}
	l.form.groups++
	if r.Relevant != "" {
		g.Relevant = l.expr(r.Relevant, "relevant", ln)
		if g.Relevant != nil {
			l.exprs = append(l.exprs, pendingExpr{e: g.Relevant, column: "relevant", line: ln, order: len(l.form.Questions), strict: true})
		}
	}
	return g
}

func (l *loader) row(r rawRow, ln int, children *ast.SequenceNode) {
	typ, list, _ := strings.Cut(strings.TrimSpace(r.Type), " ")
	list = strings.TrimSpace(list)
	switch typ {
	case "begin_group", "begin group":
		g := l.openGroup(r, ln)
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
	case "group":
		g := l.openGroup(r, ln)
		if children == nil || len(children.Values) == 0 {
			l.errorf(ln, "group %q is empty", g.Name)
			return
		}
		l.groups = append(l.groups, g)
		l.rows(children)
		l.groups = l.groups[:len(l.groups)-1]
		return
	}
	if children != nil {
		l.errorf(ln, "only a group has children")
	}
	q := &Question{Name: r.Name, Line: ln, Required: r.Required, Appearance: r.Appearance, MaxLength: r.MaxLength}
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
		l.rangeParams(q, r.Parameters, ln)
	case "date":
		q.Type = TypeDate
	case "calculate":
		q.Type = TypeCalculate
		if r.Calculation == "" {
			l.errorf(ln, "calculate %q needs a calculation", r.Name)
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
	if r.Parameters != "" && q.Type != TypeRange {
		l.errorf(ln, "parameters apply to range only")
	}
	if r.MaxLength != 0 && q.Type != TypeText {
		l.errorf(ln, "max_length applies to text only")
	}
	if q.Type == TypeText && q.MaxLength <= 0 {
		q.MaxLength = DefaultMaxText
	}
	switch {
	case r.Name == "":
		l.errorf(ln, "row of type %s without a name", typ)
	case !nameRe.MatchString(r.Name):
		l.errorf(ln, "name %q must be letters, digits and _", r.Name)
	default:
		if _, dup := l.form.byName[r.Name]; dup {
			l.errorf(ln, "duplicate name %q", r.Name)
		}
	}
	textName := r.Name
	if r.LabelID != "" {
		// The row's texts have their own ids (q.<form>.<label_id>…): a
		// newer version can reword a question that keeps its name, and so
		// its codes, without changing the texts older versions show.
		if !nameRe.MatchString(r.LabelID) {
			l.errorf(ln, "label_id %q must be letters, digits and _", r.LabelID)
		}
		textName = r.LabelID
	}
	if q.Type.Shown() || r.Label {
		q.Label = "q." + l.form.ID + "." + textName
	}
	if r.LabelChoice != "" {
		l.labelChoices = append(l.labelChoices, pendingLabelChoice{q: q, ref: r.LabelChoice, line: ln})
	}
	if r.Hint {
		q.Hint = q.Label + ".hint"
	}
	if r.ConstraintMessage {
		if r.Constraint == "" {
			l.errorf(ln, "constraint_message without a constraint")
		}
		q.ConstraintMsg = q.Label + ".constraint"
	}
	q.Groups = append([]*Group(nil), l.groups...)
	q.Index = len(l.form.Questions)
	add := func(src, column string, strict bool) *xpath.Expr {
		if src == "" {
			return nil
		}
		e := l.expr(src, column, ln)
		if e != nil {
			l.exprs = append(l.exprs, pendingExpr{e: e, column: column, q: q, line: ln, order: q.Index, strict: strict})
		}
		return e
	}
	q.Relevant = add(r.Relevant, "relevant", true)
	q.Constraint = add(r.Constraint, "constraint", false)
	q.ChoiceFilter = add(r.ChoiceFilter, "choice_filter", false)
	q.Calculation = add(r.Calculation, "calculation", false)
	q.Default = add(r.Default, "default", false)
	if q.ChoiceFilter != nil && q.List == nil {
		l.errorf(ln, "choice_filter applies to select questions only")
	}
	if q.Calculation != nil && q.Type != TypeCalculate {
		l.errorf(ln, "calculation applies to calculate rows only")
	}
	if r.Required && !q.Type.Shown() {
		l.errorf(ln, "a %s row cannot be required", typ)
	}
	if r.Name != "" {
		if _, dup := l.form.byName[r.Name]; !dup {
			l.form.byName[r.Name] = q.Index
		}
	}
	l.form.Questions = append(l.form.Questions, q)
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

// LoadFS loads every *.yaml / *.yml file in dir of fsys. Problems of all
// files are reported together.
func LoadFS(fsys fs.FS, dir string) ([]*Form, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read questionnaires: %w", err)
	}
	var forms []*Form
	var all []Problem
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		name := path.Join(dir, e.Name())
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read questionnaire: %w", err)
		}
		f, err := Parse(name, src)
		var le *LoadError
		switch {
		case errors.As(err, &le):
			all = append(all, le.Problems...)
		case err != nil:
			return nil, err
		default:
			forms = append(forms, f)
		}
	}
	if len(all) > 0 {
		return nil, &LoadError{Problems: all}
	}
	return forms, nil
}
