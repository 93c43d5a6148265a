package xpath

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file evaluates parsed expressions with XPath 1.0 semantics as ODK
// applies them: every answer is a string, and values convert between
// string, number and boolean on demand.

// Env supplies what an expression reads. Answers are strings in their
// stored form: choice names, space-separated names for select_multiple,
// canonical ASCII numbers, dates as YYYY-MM-DD.
type Env interface {
	// Lookup returns the answer of ${name}; ok is false when the question
	// is unanswered or not relevant, which expressions see as "".
	Lookup(name string) (value string, ok bool)
	// Current returns the value of ".", the answer being checked.
	Current() string
	// Column returns a column of the choice row being filtered, for the
	// bare names of a choice_filter; ok is false when there is none.
	Column(name string) (value string, ok bool)
	// Today returns the moment today() refers to: the caller passes the
	// now of Step, so that evaluation never reads a clock.
	Today() time.Time
}

// MapEnv is an Env backed by maps, for tests and for callers that already
// hold answers in a map. Its zero value answers nothing.
type MapEnv struct {
	Answers map[string]string // ${name} → answer
	Self    string            // the value of "."
	Row     map[string]string // choice row columns for bare names
	Now     time.Time         // what today() reports
}

var _ Env = MapEnv{}

// Lookup returns m.Answers[name].
func (m MapEnv) Lookup(name string) (string, bool) {
	v, ok := m.Answers[name]
	return v, ok
}

// Current returns m.Self.
func (m MapEnv) Current() string { return m.Self }

// Column returns m.Row[name].
func (m MapEnv) Column(name string) (string, bool) {
	v, ok := m.Row[name]
	return v, ok
}

// Today returns m.Now.
func (m MapEnv) Today() time.Time { return m.Now }

type valueKind uint8

const (
	kindString valueKind = iota // the zero Value is the empty string
	kindNumber
	kindBool
)

// Value is an XPath 1.0 value: a string, a number or a boolean. Its zero
// value is the empty string. Values convert to each type with the XPath
// rules, so callers pick the view they need (String for a calculation's
// stored answer, Bool for relevant and constraint).
type Value struct {
	kind valueKind
	s    string
	n    float64 // the number, or 1/0 for a boolean
}

// StringValue returns the string s as a Value.
func StringValue(s string) Value { return Value{kind: kindString, s: s} }

// NumberValue returns the number f as a Value.
func NumberValue(f float64) Value { return Value{kind: kindNumber, n: f} }

// BoolValue returns the boolean b as a Value.
func BoolValue(b bool) Value {
	if b {
		return Value{kind: kindBool, n: 1}
	}
	return Value{kind: kindBool}
}

// String converts v to a string: numbers as integers without decimals
// ("3"), otherwise in shortest form without exponent ("3.5"), "NaN",
// "Infinity" or "-Infinity"; booleans as "true" or "false".
func (v Value) String() string {
	switch v.kind {
	case kindNumber:
		return xpathNumberString(v.n)
	case kindBool:
		if v.n != 0 {
			return "true"
		}
		return "false"
	}
	return v.s
}

// Number converts v to a number. A string is a number if it is one in
// XPath syntax (optional minus, digits with an optional decimal point,
// surrounded by optional whitespace); a date YYYY-MM-DD, or YYYY-MM meaning
// the first of the month, is its count of days since 1970-01-01, so dates
// compare and subtract as numbers; anything else, including "", is NaN.
// A boolean is 1 or 0.
func (v Value) Number() float64 {
	if v.kind == kindString {
		return xpathNumber(v.s)
	}
	return v.n
}

// Bool converts v to a boolean: a string is true when non-empty, a number
// when neither zero nor NaN.
func (v Value) Bool() bool {
	switch v.kind {
	case kindNumber, kindBool:
		return v.n != 0 && !math.IsNaN(v.n)
	}
	return v.s != ""
}

// xpathNumberString is XPath's number-to-string conversion.
func xpathNumberString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		// Exactly representable integers; FormatInt avoids allocating for
		// small ones, and turns -0 into "0" as XPath wants.
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// trimXPathSpace removes XPath whitespace (space, tab, CR, LF) at both ends.
func trimXPathSpace(s string) string {
	return strings.Trim(s, " \t\r\n")
}

// xpathNumber is XPath's string-to-number conversion, extended with dates.
func xpathNumber(s string) float64 {
	s = trimXPathSpace(s)
	if isXPathNumberSyntax(s) {
		// ParseFloat accepts everything isNumberSyntax does; on overflow it
		// returns ±Inf, which is the right value.
		f, _ := strconv.ParseFloat(s, 64)
		return f
	}
	if d, ok := dateDays(s); ok {
		return d
	}
	return math.NaN()
}

// isXPathNumberSyntax reports whether s is "-"? (Digits ("." Digits?)? | "." Digits).
func isXPathNumberSyntax(s string) bool {
	s = strings.TrimPrefix(s, "-")
	digits := 0
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	return digits > 0 && i == len(s)
}

// dateDays converts YYYY-MM-DD or YYYY-MM (the first of the month) to days
// since 1970-01-01. Invalid dates such as 2023-02-29 are not dates.
func dateDays(s string) (float64, bool) {
	if len(s) != 7 && len(s) != 10 {
		return 0, false
	}
	num := func(t string) (int, bool) {
		n := 0
		for i := 0; i < len(t); i++ {
			if !isDigit(t[i]) {
				return 0, false
			}
			n = n*10 + int(t[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(s[0:4])
	m, ok2 := num(s[5:7])
	d, ok3 := 1, true
	if len(s) == 10 {
		if s[7] != '-' {
			return 0, false
		}
		d, ok3 = num(s[8:10])
	}
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || m < 1 || m > 12 || d < 1 {
		return 0, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // time.Date normalised an impossible day
		return 0, false
	}
	return float64(t.Unix() / 86400), true
}

// dateString is the inverse of dateDays for the UTC day of t.
func dateString(t time.Time) string {
	y, m, d := t.UTC().Date()
	if y < 0 || y > 9999 {
		// Outside the four-digit years an answer can hold; the result is
		// still a readable date even though it is not a date to Number.
		return t.UTC().Format("2006-01-02")
	}
	b := [10]byte{
		byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + int(m)/10), byte('0' + int(m)%10), '-',
		byte('0' + d/10), byte('0' + d%10),
	}
	return string(b[:])
}

// Eval evaluates the expression. It never panics and never fails: XPath
// gives every operation a result (NaN, "", false) for odd inputs. A nil
// Expr evaluates to the empty string and a nil env answers nothing.
func (e *Expr) Eval(env Env) Value {
	if e == nil {
		return Value{}
	}
	if env == nil {
		env = MapEnv{}
	}
	return evalNode(e.root, env)
}

// Bool evaluates the expression as a boolean. A nil Expr is true, because
// an absent relevant or constraint always holds.
func (e *Expr) Bool(env Env) bool {
	if e == nil {
		return true
	}
	return e.Eval(env).Bool()
}

func evalNode(n *node, env Env) Value {
	switch n.op {
	case opNum:
		return NumberValue(n.num)
	case opStr:
		return StringValue(n.str)
	case opRef:
		v, _ := env.Lookup(n.str)
		return StringValue(v)
	case opCur:
		return StringValue(env.Current())
	case opCol:
		v, _ := env.Column(n.str)
		return StringValue(v)
	case opOr:
		// Short-circuit, as XPath specifies.
		return BoolValue(evalNode(n.args[0], env).Bool() || evalNode(n.args[1], env).Bool())
	case opAnd:
		return BoolValue(evalNode(n.args[0], env).Bool() && evalNode(n.args[1], env).Bool())
	case opEq:
		if a, b := n.args[0], n.args[1]; a.op == opRef && b.op == opStr {
			// ${x} = 'literal', most relevances: two strings compare
			// as strings (what xpathEqual does for them).
			v, _ := env.Lookup(a.str)
			return BoolValue(v == b.str)
		}
		return BoolValue(xpathEqual(evalNode(n.args[0], env), evalNode(n.args[1], env)))
	case opNe:
		if a, b := n.args[0], n.args[1]; a.op == opRef && b.op == opStr {
			v, _ := env.Lookup(a.str)
			return BoolValue(v != b.str)
		}
		return BoolValue(!xpathEqual(evalNode(n.args[0], env), evalNode(n.args[1], env)))
	case opLt, opLe, opGt, opGe:
		// Relational operators always compare numbers; any comparison with
		// NaN is false.
		a, b := evalNode(n.args[0], env).Number(), evalNode(n.args[1], env).Number()
		switch n.op {
		case opLt:
			return BoolValue(a < b)
		case opLe:
			return BoolValue(a <= b)
		case opGt:
			return BoolValue(a > b)
		}
		return BoolValue(a >= b)
	case opAdd, opSub, opMul, opDiv, opMod:
		a, b := evalNode(n.args[0], env).Number(), evalNode(n.args[1], env).Number()
		switch n.op {
		case opAdd:
			return NumberValue(a + b)
		case opSub:
			return NumberValue(a - b)
		case opMul:
			return NumberValue(a * b)
		case opDiv:
			// IEEE division: x div 0 is ±Infinity, 0 div 0 is NaN.
			return NumberValue(a / b)
		}
		// XPath mod truncates like fmod: the sign follows the dividend.
		return NumberValue(math.Mod(a, b))
	case opNeg:
		return NumberValue(-evalNode(n.args[0], env).Number())
	case opCall:
		return evalCall(n, env)
	}
	return Value{}
}

// xpathEqual is XPath's "=" between non-node-set values: booleans if either is
// a boolean, else numbers if either is a number, else strings.
func xpathEqual(a, b Value) bool {
	switch {
	case a.kind == kindBool || b.kind == kindBool:
		return a.Bool() == b.Bool()
	case a.kind == kindNumber || b.kind == kindNumber:
		return a.Number() == b.Number()
	}
	return a.s == b.s
}

// eachSelected calls yield for each space-separated item of a select_multiple
// answer, without allocating, and stops when yield returns false.
func eachSelected(s string, yield func(string) bool) {
	for s != "" {
		i := strings.IndexAny(s, " \t\r\n")
		var f string
		if i < 0 {
			f, s = s, ""
		} else {
			f, s = s[:i], s[i+1:]
		}
		if f != "" && !yield(f) {
			return
		}
	}
}

// Selected reports whether item is one of the space-separated names of a
// select_multiple answer, as selected(list, item) does. The interview uses it
// for the ticks it shows, so that both agree on what "selected" means.
func Selected(list, item string) bool {
	found := false
	eachSelected(list, func(f string) bool {
		found = f == item
		return !found
	})
	return found
}

func evalCall(n *node, env Env) Value {
	arg := func(i int) Value { return evalNode(n.args[i], env) }
	switch n.fn {
	case fnNot:
		return BoolValue(!arg(0).Bool())
	case fnSelected:
		// Membership in the space-separated list. The code is trimmed, as
		// JavaRosa does, since codes never contain spaces.
		list, code := arg(0).String(), trimXPathSpace(arg(1).String())
		return BoolValue(Selected(list, code))
	case fnCountSelected:
		count := 0
		eachSelected(arg(0).String(), func(string) bool { count++; return true })
		return NumberValue(float64(count))
	case fnStringLength:
		return NumberValue(float64(utf8.RuneCountInString(arg(0).String())))
	case fnRegex:
		s := arg(0).String()
		re := n.re
		if re == nil {
			// A computed pattern is compiled on every evaluation: the
			// package keeps no caches, and such patterns are rare.
			var err error
			if re, err = regexp.Compile(arg(1).String()); err != nil {
				return BoolValue(false)
			}
		}
		// Like ODK, the pattern may match anywhere; authors anchor it with
		// ^ and $ to match the whole value.
		return BoolValue(re.MatchString(s))
	case fnIf:
		if arg(0).Bool() {
			return arg(1)
		}
		return arg(2)
	case fnCoalesce:
		if v := arg(0); v.String() != "" {
			return v
		}
		return arg(1)
	case fnToday:
		return StringValue(dateString(env.Today()))
	case fnTrue:
		return BoolValue(true)
	case fnFalse:
		return BoolValue(false)
	case fnNumber:
		return NumberValue(arg(0).Number())
	case fnInt:
		return NumberValue(math.Trunc(arg(0).Number()))
	case fnString:
		return StringValue(arg(0).String())
	case fnConcat:
		var b strings.Builder
		for i := range n.args {
			b.WriteString(arg(i).String())
		}
		return StringValue(b.String())
	case fnBoolean:
		return BoolValue(arg(0).Bool())
	case fnRound:
		return NumberValue(xpathRound(arg(0).Number()))
	}
	return Value{}
}

// xpathRound is XPath's round: the closest integer, halves toward +Infinity;
// -0.5 <= x < 0 gives negative zero. Computing x - floor(x) (exact for
// doubles) avoids floor(x + 0.5), which rounds 0.49999999999999994 up.
func xpathRound(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r := math.Floor(x)
	if x-r >= 0.5 {
		r++
	}
	if r == 0 && x < 0 {
		return math.Copysign(0, -1)
	}
	return r
}
