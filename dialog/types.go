package dialog

import (
	"math"
	"strconv"
	"time"

	"github.com/needsbot/needsbot/dialog/xpath"
)

// Type is the XLSForm type of a question.
type Type uint8

// The question types needsbot understands (XLSForm vocabulary).
const (
	TypeNote Type = iota + 1
	TypeAcknowledge
	TypeSelectOne
	TypeSelectMultiple
	TypeText
	TypeInteger
	TypeDecimal
	TypeRange
	TypeDate
	TypeCalculate // never shown; its value is computed from Calculation
	TypeHidden    // never shown; its value comes from the start context (invite)
)

var typeNames = map[Type]string{
	TypeNote: "note", TypeAcknowledge: "acknowledge", TypeSelectOne: "select_one",
	TypeSelectMultiple: "select_multiple", TypeText: "text", TypeInteger: "integer",
	TypeDecimal: "decimal", TypeRange: "range", TypeDate: "date", TypeCalculate: "calculate",
	TypeHidden: "hidden",
}

// String returns the XLSForm name of the type.
func (t Type) String() string { return typeNames[t] }

// Shown reports whether questions of this type are presented to the respondent.
func (t Type) Shown() bool { return t != TypeCalculate && t != TypeHidden }

// Choice is one option of a choice list.
type Choice struct {
	Name  string // short ASCII code stored in answers and carried in button data
	Label string // message id: c.<form>.<list>.<name>
	// Exclusive choices (none, "don't know"…) must stand alone in a
	// select_multiple: the form says so in the choice's exclusive column.
	Exclusive bool
	// Other marks a catch-all answer ("other…"): charts of the top needs
	// leave it out (column other).
	Other bool
	// Area is the need area the choice names (column area), "" for none:
	// the codes the areas chart, referrals and the service directory share.
	Area string
	// Filter holds extra columns of the choice row used by choice_filter
	// expressions (XLSForm: any extra column of the choices sheet).
	Filter map[string]string
}

// List is a named choice list.
type List struct {
	Name    string
	Choices []Choice
	index   map[string]int
}

// Bounds returns the band of numbers the choice stands for (columns min
// and max, inclusive; a missing one is unbounded) and whether it has one.
func (c Choice) Bounds() (lo, hi float64, ok bool) {
	lo, hi = math.Inf(-1), math.Inf(1)
	if v, has := c.Filter[ChoiceMin]; has {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, 0, false
		}
		lo, ok = f, true
	}
	if v, has := c.Filter[ChoiceMax]; has {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, 0, false
		}
		hi, ok = f, true
	}
	return lo, hi, ok
}

// Banded reports whether some choice of the list is a band of numbers.
func (l *List) Banded() bool {
	for _, c := range l.Choices {
		if _, _, ok := c.Bounds(); ok {
			return true
		}
	}
	return false
}

// Choice returns the choice called name and whether it exists.
func (l *List) Choice(name string) (Choice, bool) {
	i, ok := l.index[name]
	if !ok {
		return Choice{}, false
	}
	return l.Choices[i], true
}

// Question is one row of the survey, with its group's relevance folded in.
type Question struct {
	Name       string
	Type       Type
	List       *List // select_one / select_multiple
	Required   bool
	Relevant   *xpath.Expr // own relevance (nil = always)
	Groups     []*Group
	Constraint *xpath.Expr
	// ChoiceFilter is evaluated once per choice with the choice's columns
	// available as ${name}-free identifiers (XLSForm: name, or filter columns).
	ChoiceFilter *xpath.Expr
	Calculation  *xpath.Expr
	Default      *xpath.Expr
	Appearance   string
	// Range parameters (type range).
	Start, End, Step float64
	// MaxLength caps text answers (runes); 0 means the engine default.
	MaxLength int
	// MinSelected / MaxSelected bound select_multiple answers (0 = no bound);
	// derived from the constraint when it has the X3 shape, or given explicitly.
	MinSelected, MaxSelected int
	// Context is the start-context key a hidden row takes its value from
	// (column context; default its name): the channel fills the start
	// context (invite), the form says which value it wants.
	Context string
	// Report lists the report sections the question feeds (column report).
	Report []Section
	// Area is the need area the question is about (column area), "" when
	// it is about none in particular.
	Area string
	// LabelChoice, when set, is an earlier single-valued question with a
	// choice list whose answer the label names: the engine passes that
	// choice's label id as the template argument "Choice" (the channel
	// renders it in the respondent's language), e.g. "How satisfied are
	// you with {{.Choice}}?". Without an answer the argument is absent.
	LabelChoice *Question
	// Message ids. Summary is a short label naming what the answers are
	// about, before them on a line of their own in the closing summary,
	// where the answers alone would not say it (a bare "Yes"; the same
	// choices asked by two questions, e.g. the needs and the help received).
	Label         string // q.<form>.<name> (or q.<form>.<label_id>)
	Hint          string // q.<form>.<name>.hint, "" when the question has none
	ConstraintMsg string // q.<form>.<name>.constraint, "" for the type's default
	Summary       string // q.<form>.<name>.summary (column summary), "" when none
	Line          int    // line in the definition file, for errors
	Index         int    // position in Form.Questions
}

// Group is a begin_group/end_group block; its relevance applies to every
// question inside it.
type Group struct {
	Name     string
	Label    string // g.<form>.<name>, may be ""
	Relevant *xpath.Expr
	Line     int
	first    int // index of its first question, while loading
	index    int // position among the form's groups
}

// Form is a loaded, validated questionnaire. It is immutable after loading
// and safe for concurrent use.
type Form struct {
	ID       string
	Version  int
	Title    string // message id f.<form>.title
	Language string // default language
	// Consent names the question whose "yes" choice means consent; a form
	// whose consent is declined completes without a Response.
	Consent string
	// Eligible, when set, must be true at completion for a Response to be
	// produced (e.g. adults only).
	Eligible *xpath.Expr
	// Audience is who answers the form: respondents (the default) or
	// staff (setting audience).
	Audience Audience
	// PairsWith names the form the "both sides" comparison sets this one
	// against (setting pairs_with), "" for none.
	PairsWith string
	Questions []*Question
	Lists     map[string]*List
	File      string
	byName    map[string]int
	calcs     []int // calculate rows in dependency order
	groups    int   // number of groups
	// readers[j] lists, in order, the rows whose relevance (their own or
	// a group's) reads row j's answer (${name}, or "." for the row
	// itself). Set when incremental is.
	readers [][]int
	// incremental says a step may re-evaluate relevance only where an
	// answer changed (stepper.update): every relevance (a row's or its
	// groups') and every calculation reads only rows before it (or, with
	// ".", the row itself), and none calls today(), so a row's relevance
	// and value depend on the answers of the rows before it alone
	// (loader.relevanceReaders).
	incremental bool
}

// Question returns the question called name, or nil.
func (f *Form) Question(name string) *Question {
	i, ok := f.byName[name]
	if !ok {
		return nil
	}
	return f.Questions[i]
}

// Response is a completed interview, ready for storage. Answers hold
// language-neutral codes: choice names, select_multiple as space-separated
// names, numbers in canonical ASCII, dates as YYYY-MM-DD or YYYY-MM.
type Response struct {
	Form        string
	FormVersion int
	Language    string   // language the interview was completed in
	Languages   []string // every language used, in order of first use
	Answers     map[string]string
	Context     map[string]string // start context (invite token, municipality…)
	Started     time.Time
	Completed   time.Time
}

// Duration is how long the interview took.
func (r Response) Duration() time.Duration { return r.Completed.Sub(r.Started) }
