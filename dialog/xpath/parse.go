package xpath

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the lexer and the parser; evaluation and values are in
// eval.go.

// Limits that keep parsing and evaluation bounded whatever a definition file
// (or a fuzzer) contains. Real XLSForm expressions are a few hundred bytes
// and a few levels deep.
const (
	// MaxLen is the longest accepted source, in bytes.
	MaxLen = 4096
	// MaxDepth is the deepest accepted nesting of parentheses, function
	// arguments and unary minus signs. It keeps the recursive-descent parser
	// and the evaluator far from any stack limit.
	MaxDepth = 100
)

// Expr is a parsed expression. It is immutable and safe for concurrent use;
// parse it once when the form loads and evaluate it as often as needed.
type Expr struct {
	src  string
	root *node
	refs []string // ${name} references, deduplicated, in source order
	cols []string // bare names (choice_filter columns), deduplicated
	dot  bool     // "." appears
	now  bool     // today() appears
}

// Error is a syntax error in an expression. The form loader adds the
// file, line and column name; the column here lets an author find the
// offending token inside a long expression.
type Error struct {
	Col int    // 1-based rune column in the source of the offending token
	Msg string // what is wrong, e.g. "unknown function foo"
}

// Error returns "column N: msg".
func (e *Error) Error() string { return "column " + strconv.Itoa(e.Col) + ": " + e.Msg }

// String returns the source text the expression was parsed from.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Refs returns the names referenced as ${name}, deduplicated, in order of
// first occurrence. The form loader checks that each names a question.
// The slice is a copy and may be modified.
func (e *Expr) Refs() []string {
	if e == nil {
		return nil
	}
	return slices.Clone(e.refs)
}

// UsesCurrent reports whether the expression uses ".", the value of the
// question it belongs to (constraints and select_multiple bounds use it).
func (e *Expr) UsesCurrent() bool { return e != nil && e.dot }

// UsesToday reports whether the expression calls today(): its value may
// then change with the day, whatever the answers.
func (e *Expr) UsesToday() bool { return e != nil && e.now }

// Columns returns the bare names the expression uses, deduplicated, in order
// of first occurrence. In a choice_filter they name columns of the choice
// row; elsewhere they are almost certainly a mistake the loader can report.
// The slice is a copy and may be modified.
func (e *Expr) Columns() []string {
	if e == nil {
		return nil
	}
	return slices.Clone(e.cols)
}

// Parse parses an XLSForm expression. A syntax error is returned as an
// *Error whose column points at the offending token.
func Parse(src string) (*Expr, error) {
	if len(src) > MaxLen {
		return nil, &Error{Col: 1, Msg: fmt.Sprintf("expression too long: %d bytes, at most %d", len(src), MaxLen)}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, &Error{Col: 1, Msg: "empty expression"}
	}
	root, err := p.parseExpr(p.peek())
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, unexpected(t)
	}
	e := &Expr{src: src, root: root, now: p.today}
	// Collect names from the tokens rather than the tree: tokens are in
	// source order, which is the order Refs and Columns promise.
	for _, t := range toks {
		switch t.kind {
		case tRef:
			if !slices.Contains(e.refs, t.val) {
				e.refs = append(e.refs, t.val)
			}
		case tName:
			if !slices.Contains(e.cols, t.val) {
				e.cols = append(e.cols, t.val)
			}
		case tDot:
			e.dot = true
		}
	}
	return e, nil
}

// ---- lexer ----

type tokKind uint8

const (
	tEOF  tokKind = iota
	tNum          // number literal; num holds its value
	tStr          // string literal; val holds its content
	tRef          // ${name}; val holds name
	tDot          // "." the current value
	tName         // bare name (a column in choice_filter); val holds it
	tFunc         // function name, always followed by "("; val holds it
	tLParen
	tRParen
	tComma
	// operators
	tOr
	tAnd
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tPlus
	tMinus
	tMul
	tDiv
	tMod
)

type token struct {
	kind tokKind
	col  int    // 1-based rune column of the first character
	text string // the token as written, for error messages
	val  string
	num  float64
}

// endsOperand reports whether a token can end an operand. XPath's lexical
// rule uses it: after such a token, "and", "or", "div" and "mod" are
// operators; anywhere else they are ordinary names.
func (k tokKind) endsOperand() bool {
	switch k {
	case tNum, tStr, tRef, tDot, tName, tRParen:
		return true
	}
	return false
}

// isXPathSpace reports XPath's ExprWhitespace: only these four characters.
func isXPathSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isNCNameStart and isNCNameChar follow XPath's NCName, approximated with
// Unicode letter and digit classes; hyphens and dots are name characters,
// which is why count-selected is one token and "a-1" is a name, not a
// subtraction (write "a - 1").
func isNCNameStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isNCNameChar(r rune) bool {
	return r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r) ||
		unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

// isRefName reports whether s is a valid ${name}: the XLSForm question name
// syntax, [A-Za-z_][A-Za-z0-9_.-]*.
func isRefName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && (isDigit(c) || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

type lexer struct {
	src  string
	pos  int // byte offset
	col  int // rune column of pos, 1-based
	toks []token
}

func lex(src string) ([]token, error) {
	// A token takes about four bytes of a typical expression.
	l := &lexer{src: src, col: 1, toks: make([]token, 0, len(src)/4+2)}
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		l.toks = append(l.toks, t)
		if t.kind == tEOF {
			return l.toks, nil
		}
	}
}

// advance moves past n bytes that are known to be ASCII.
func (l *lexer) advance(n int) {
	l.pos += n
	l.col += n
}

// scanRunes moves past runes while ok holds.
func (l *lexer) scanRunes(ok func(rune) bool) {
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		if !ok(r) {
			return
		}
		l.pos += size
		l.col++
	}
}

func (l *lexer) prevEndsOperand() bool {
	return len(l.toks) > 0 && l.toks[len(l.toks)-1].kind.endsOperand()
}

func (l *lexer) next() (token, error) {
	l.scanRunes(isXPathSpace)
	start, col := l.pos, l.col
	tok := func(k tokKind, n int) (token, error) {
		l.advance(n)
		return token{kind: k, col: col, text: l.src[start:l.pos]}, nil
	}
	if l.pos >= len(l.src) {
		return token{kind: tEOF, col: col}, nil
	}
	c := l.src[l.pos]
	switch c {
	case '(':
		return tok(tLParen, 1)
	case ')':
		return tok(tRParen, 1)
	case ',':
		return tok(tComma, 1)
	case '=':
		return tok(tEq, 1)
	case '+':
		return tok(tPlus, 1)
	case '-':
		return tok(tMinus, 1)
	case '*':
		return tok(tMul, 1)
	case '!':
		if strings.HasPrefix(l.src[l.pos:], "!=") {
			return tok(tNe, 2)
		}
	case '<':
		if strings.HasPrefix(l.src[l.pos:], "<=") {
			return tok(tLe, 2)
		}
		return tok(tLt, 1)
	case '>':
		if strings.HasPrefix(l.src[l.pos:], ">=") {
			return tok(tGe, 2)
		}
		return tok(tGt, 1)
	case '\'', '"':
		end := strings.IndexByte(l.src[l.pos+1:], c)
		if end < 0 {
			return token{}, &Error{Col: col, Msg: "unterminated string"}
		}
		val := l.src[l.pos+1 : l.pos+1+end]
		l.pos += end + 2
		l.col += utf8.RuneCountInString(val) + 2
		return token{kind: tStr, col: col, text: l.src[start:l.pos], val: val}, nil
	case '$':
		return l.ref()
	case '.':
		if l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]) {
			return l.number()
		}
		return tok(tDot, 1)
	}
	if isDigit(c) {
		return l.number()
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	if !isNCNameStart(r) {
		return token{}, &Error{Col: col, Msg: fmt.Sprintf("unexpected character %q", r)}
	}
	l.scanRunes(isNCNameChar)
	name := l.src[start:l.pos]
	t := token{kind: tName, col: col, text: name, val: name}
	if l.prevEndsOperand() {
		// XPath: a name right after an operand is an operator name. Any other
		// name there is a syntax error, which the parser reports.
		switch name {
		case "and":
			t.kind = tAnd
		case "or":
			t.kind = tOr
		case "div":
			t.kind = tDiv
		case "mod":
			t.kind = tMod
		}
		if t.kind != tName {
			return t, nil
		}
	}
	// XPath: a name followed by "(" (after optional whitespace) is a
	// function name.
	rest := strings.TrimLeft(l.src[l.pos:], " \t\r\n")
	if strings.HasPrefix(rest, "(") {
		t.kind = tFunc
	}
	return t, nil
}

// number scans XPath's Number: Digits ("." Digits?)? | "." Digits. There is
// no exponent and no sign (minus is the unary operator).
func (l *lexer) number() (token, error) {
	start, col := l.pos, l.col
	i := l.pos
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	if i < len(l.src) && l.src[i] == '.' {
		i++
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
	}
	l.advance(i - start)
	text := l.src[start:l.pos]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// Only overflow can fail here: the text is digits and one dot.
		return token{}, &Error{Col: col, Msg: "number too large: " + shorten(text)}
	}
	return token{kind: tNum, col: col, text: text, num: f}, nil
}

// ref scans ${name}.
func (l *lexer) ref() (token, error) {
	start, col := l.pos, l.col
	if !strings.HasPrefix(l.src[l.pos:], "${") {
		return token{}, &Error{Col: col, Msg: "expected '{' after '$': write references as ${name}"}
	}
	end := strings.IndexByte(l.src[l.pos:], '}')
	if end < 0 {
		return token{}, &Error{Col: col, Msg: "unterminated reference: missing '}'"}
	}
	name := l.src[l.pos+2 : l.pos+end]
	if !isRefName(name) {
		return token{}, &Error{Col: col, Msg: "invalid name in reference " + quote(l.src[l.pos:l.pos+end+1])}
	}
	l.advance(end + 1) // the name is ASCII, so bytes are runes
	return token{kind: tRef, col: col, text: l.src[start:l.pos], val: name}, nil
}

// shorten keeps error messages readable when the offending token is long.
func shorten(s string) string {
	const max = 24
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// quote quotes token text for a message, with single quotes unless the
// text contains one (a string literal written with single quotes).
func quote(s string) string {
	s = shorten(s)
	if strings.ContainsRune(s, '\'') {
		return `"` + s + `"`
	}
	return "'" + s + "'"
}

// ---- parser ----

// opcode is the operation of a node of the syntax tree.
type opcode uint8

const (
	opNum opcode = iota // literal number in num
	opStr               // literal string in str
	opRef               // ${str}
	opCur               // .
	opCol               // bare name str: a column of the choice row
	opOr
	opAnd
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opNeg  // unary minus of args[0]
	opCall // function fn applied to args
)

// node is one node of the syntax tree. A single struct with an op code
// (rather than an interface per kind) keeps evaluation a plain switch with
// no allocations.
type node struct {
	op   opcode
	fn   function
	str  string
	num  float64
	re   *regexp.Regexp // regex() with a literal pattern, compiled at parse time
	args []*node
}

// binaryOp returns the node and precedence level of a binary operator token;
// levels go from 0 ("or", lowest) to 5 ("*", "div", "mod"), and every level
// is left associative. A switch rather than a table keeps the package free
// of mutable variables.
func binaryOp(k tokKind) (o opcode, level int, ok bool) {
	switch k {
	case tOr:
		return opOr, 0, true
	case tAnd:
		return opAnd, 1, true
	case tEq:
		return opEq, 2, true
	case tNe:
		return opNe, 2, true
	case tLt:
		return opLt, 3, true
	case tLe:
		return opLe, 3, true
	case tGt:
		return opGt, 3, true
	case tGe:
		return opGe, 3, true
	case tPlus:
		return opAdd, 4, true
	case tMinus:
		return opSub, 4, true
	case tMul:
		return opMul, 5, true
	case tDiv:
		return opDiv, 5, true
	case tMod:
		return opMod, 5, true
	}
	return 0, 0, false
}

// levels is the number of binary precedence levels.
const levels = 6

type parser struct {
	toks  []token
	i     int
	depth int
	today bool // today() was parsed
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func unexpected(t token) *Error {
	if t.kind == tEOF {
		return &Error{Col: t.col, Msg: "unexpected end of expression"}
	}
	return &Error{Col: t.col, Msg: "unexpected token " + quote(t.text)}
}

// describe names a token for "expected X, found Y" messages.
func describe(t token) string {
	if t.kind == tEOF {
		return "end of expression"
	}
	return quote(t.text)
}

// enter counts one level of nesting and fails beyond MaxDepth, so that
// no input can make parsing or evaluation recurse without bound.
func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > MaxDepth {
		return &Error{Col: t.col, Msg: fmt.Sprintf("expression nested too deeply (more than %d levels)", MaxDepth)}
	}
	return nil
}

// parseExpr parses a whole (sub)expression: the "or" level. open is the
// token that opened it ("(" or a function name), where a too-deep nesting
// is reported.
func (p *parser) parseExpr(open token) (*node, error) {
	if err := p.enter(open); err != nil {
		return nil, err
	}
	n, err := p.parseLevel(0)
	p.depth--
	return n, err
}

// parseLevel parses the binary operators of precedence level and above.
func (p *parser) parseLevel(level int) (*node, error) {
	if level == levels {
		return p.parseUnary()
	}
	left, err := p.parseLevel(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		o, l, ok := binaryOp(p.peek().kind)
		if !ok || l != level {
			return left, nil
		}
		p.next()
		right, err := p.parseLevel(level + 1)
		if err != nil {
			return nil, err
		}
		left = &node{op: o, args: []*node{left, right}}
	}
}

func (p *parser) parseUnary() (*node, error) {
	t := p.peek()
	if t.kind != tMinus {
		return p.parsePrimary()
	}
	p.next()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	x, err := p.parseUnary()
	p.depth--
	if err != nil {
		return nil, err
	}
	return &node{op: opNeg, args: []*node{x}}, nil
}

func (p *parser) parsePrimary() (*node, error) {
	t := p.next()
	switch t.kind {
	case tNum:
		return &node{op: opNum, num: t.num}, nil
	case tStr:
		return &node{op: opStr, str: t.val}, nil
	case tRef:
		return &node{op: opRef, str: t.val}, nil
	case tDot:
		return &node{op: opCur}, nil
	case tName:
		return &node{op: opCol, str: t.val}, nil
	case tFunc:
		return p.parseCall(t)
	case tLParen:
		x, err := p.parseExpr(t)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &Error{Col: c.col, Msg: "expected ')', found " + describe(c)}
		}
		return x, nil
	}
	return nil, unexpected(t)
}

func (p *parser) parseCall(name token) (*node, error) {
	f, ok := lookupFunc(name.val)
	if !ok {
		return nil, &Error{Col: name.col, Msg: "unknown function " + shorten(name.val)}
	}
	p.next() // "(": the lexer made name a function only because one follows
	n := &node{op: opCall, fn: f}
	p.today = p.today || f == fnToday
	var argCols []int // where each argument starts, for errors about it
	if p.peek().kind == tRParen {
		p.next()
	} else {
		for {
			argCols = append(argCols, p.peek().col)
			arg, err := p.parseExpr(name)
			if err != nil {
				return nil, err
			}
			n.args = append(n.args, arg)
			t := p.next()
			if t.kind == tRParen {
				break
			}
			if t.kind != tComma {
				return nil, &Error{Col: t.col, Msg: "expected ',' or ')', found " + describe(t)}
			}
		}
	}
	spec := f.spec()
	if got := len(n.args); got < spec.min || (spec.max >= 0 && got > spec.max) {
		return nil, &Error{Col: name.col, Msg: arityMsg(spec, got)}
	}
	if f == fnRegex && n.args[1].op == opStr {
		// A literal pattern is checked when the form loads, so a typo in a
		// constraint is an author's load error, not a respondent's dead end.
		re, err := regexp.Compile(n.args[1].str)
		if err != nil {
			msg := err.Error()
			var se *syntax.Error
			if errors.As(err, &se) {
				msg = string(se.Code) + " in " + quote(se.Expr)
			}
			return nil, &Error{Col: argCols[1], Msg: "invalid regex: " + msg}
		}
		n.re = re
	}
	return n, nil
}

func arityMsg(s funcSpec, got int) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return strconv.Itoa(n) + " arguments"
	}
	switch {
	case s.max < 0:
		return fmt.Sprintf("function %s takes at least %s, got %d", s.name, plural(s.min), got)
	case s.min == s.max:
		return fmt.Sprintf("function %s takes %s, got %d", s.name, plural(s.min), got)
	default:
		return fmt.Sprintf("function %s takes %d to %d arguments, got %d", s.name, s.min, s.max, got)
	}
}

// function identifies a built-in function.
type function uint8

const (
	fnNone function = iota
	fnNot
	fnSelected
	fnCountSelected
	fnStringLength
	fnRegex
	fnIf
	fnCoalesce
	fnToday
	fnTrue
	fnFalse
	fnNumber
	fnInt
	fnString
	fnConcat
	fnBoolean
	fnRound
	numFuncs
)

type funcSpec struct {
	name     string
	min, max int // max < 0: variadic
}

// spec describes the function. A switch rather than a table keeps the
// package free of mutable variables.
func (f function) spec() funcSpec {
	switch f {
	case fnNot:
		return funcSpec{"not", 1, 1}
	case fnSelected:
		return funcSpec{"selected", 2, 2}
	case fnCountSelected:
		return funcSpec{"count-selected", 1, 1}
	case fnStringLength:
		return funcSpec{"string-length", 1, 1}
	case fnRegex:
		return funcSpec{"regex", 2, 2}
	case fnIf:
		return funcSpec{"if", 3, 3}
	case fnCoalesce:
		return funcSpec{"coalesce", 2, 2}
	case fnToday:
		return funcSpec{"today", 0, 0}
	case fnTrue:
		return funcSpec{"true", 0, 0}
	case fnFalse:
		return funcSpec{"false", 0, 0}
	case fnNumber:
		return funcSpec{"number", 1, 1}
	case fnInt:
		return funcSpec{"int", 1, 1}
	case fnString:
		return funcSpec{"string", 1, 1}
	case fnConcat:
		// XPath 1.0 requires at least two arguments.
		return funcSpec{"concat", 2, -1}
	case fnBoolean:
		return funcSpec{"boolean", 1, 1}
	case fnRound:
		return funcSpec{"round", 1, 1}
	}
	return funcSpec{}
}

func lookupFunc(name string) (function, bool) {
	for f := fnNone + 1; f < numFuncs; f++ {
		if f.spec().name == name {
			return f, true
		}
	}
	return fnNone, false
}
