package xpath

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// x3 is the constraint of every "at most three, exclusive none/dnk/pnta"
// multi-select in the questionnaires (QUESTIONNAIRES.md).
const x3 = `not((selected(.,'none') or selected(.,'dnk') or selected(.,'pnta')) and count-selected(.)>1) and count-selected(.)<4`

// testNow is 01:00 on 11 May in UTC+3, which is still 10 May in UTC:
// today() must use the UTC day.
var testNow = time.Date(2024, 5, 11, 1, 0, 0, 0, time.FixedZone("UTC+3", 3*3600))

func testEnv() MapEnv {
	return MapEnv{
		Answers: map[string]string{
			"a":     "3",
			"b":     "abc",
			"ms":    "lingua casa",
			"empty": "",
			"d":     "2024-05-01",
			"n1":    "-2.5",
			"yes":   "yes",
			"big":   "1000000",
		},
		Self: "self",
		Row:  map[string]string{"area": "nord", "div": "x", "and": "1", "mod": "5", "area-1": "sud"},
		Now:  testNow,
	}
}

// typed shows a value with its type, so that tests tell the number 3 from
// the string "3".
func typed(v Value) string {
	k := map[valueKind]string{kindString: "s", kindNumber: "n", kindBool: "b"}[v.kind]
	return k + ":" + v.String()
}

var evalTests = []struct {
	src, want string
}{
	// literals and primaries
	{`12`, "n:12"},
	{`3.5`, "n:3.5"},
	{`.5`, "n:0.5"},
	{`12.`, "n:12"},
	{`007`, "n:7"},
	{`"it's"`, "s:it's"},
	{`'say "hi"'`, `s:say "hi"`},
	{`''`, "s:"},
	{`${a}`, "s:3"},
	{`${missing}`, "s:"},
	{`.`, "s:self"},
	{`area`, "s:nord"},
	{`area-1`, "s:sud"}, // hyphens belong to names, as in XPath
	{`nocolumn`, "s:"},
	{"  \t\n1\r\n", "n:1"},

	// arithmetic
	{`1 + 2`, "n:3"},
	{`5 - 7`, "n:-2"},
	{`2 * 3.5`, "n:7"},
	{`7 div 2`, "n:3.5"},
	{`7 mod 3`, "n:1"},
	{`-7 mod 3`, "n:-1"},
	{`7 mod -3`, "n:1"},
	{`5.5 mod 2`, "n:1.5"},
	{`1 div 0`, "n:Infinity"},
	{`-1 div 0`, "n:-Infinity"},
	{`0 div 0`, "n:NaN"},
	{`1 mod 0`, "n:NaN"},
	{`1 div (0 * -1)`, "n:-Infinity"},
	{`0 * -1`, "n:0"},
	{`0.1 + 0.2`, "n:0.30000000000000004"},
	{`1 div 3`, "n:0.3333333333333333"},
	{`.5 + .5`, "n:1"},
	{`${big} * ${big} * ${big} * ${big}`, "n:1000000000000000000000000"},
	{`${a} + 1`, "n:4"},
	{`${a} * ${n1}`, "n:-7.5"},
	{`${b} + 1`, "n:NaN"},
	{`${missing} + 1`, "n:NaN"},
	{`true() + true()`, "n:2"},
	{`-2`, "n:-2"},
	{`-'4'`, "n:-4"},
	{`--3`, "n:3"},
	{`- - '3'`, "n:3"},
	{`-2 - -3`, "n:1"},
	{`-${a}`, "n:-3"},

	// precedence and associativity
	{`1 + 2 * 3`, "n:7"},
	{`(1 + 2) * 3`, "n:9"},
	{`10 - 4 - 3`, "n:3"},
	{`10 - (4 - 3)`, "n:9"},
	{`8 div 4 div 2`, "n:1"},
	{`2 * 3 mod 4`, "n:2"},
	{`2 + 3 mod 2`, "n:3"},
	{`-2 * 3`, "n:-6"},
	{`- 2 + 3`, "n:1"},
	{`1 + 2 = 3`, "b:true"},
	{`1 < 2 = true()`, "b:true"},
	{`3 > 2 > 1`, "b:false"}, // (3 > 2) > 1 is 1 > 1
	{`1 = 1 = 1`, "b:true"},
	{`2 = 2 = 2`, "b:true"},  // (2 = 2) = 2 compares booleans, and 2 is true
	{`0 = 0 = 0`, "b:false"}, // (0 = 0) = 0 is true = false
	{`1 or 0 and 0`, "b:true"},
	{`(1 or 0) and 0`, "b:false"},
	{`0 and 1 or 1`, "b:true"},
	{`1 = 1 and 2 = 3 or 1 < 2`, "b:true"},
	{`1 < 2 and 2 < 1`, "b:false"},
	{`1 + 1 < 2 * 2 and 4 div 2 = 2`, "b:true"},

	// keywords are operators only after an operand
	{`div = 'x'`, "b:true"},
	{`and and and`, "b:true"},
	{`mod mod mod`, "n:0"},
	{`${a}div 2`, "n:1.5"},
	{`1and 1`, "b:true"},
	{`(1)or(0)`, "b:true"},
	{`.=.`, "b:true"},

	// equality: booleans, then numbers, then strings
	{`${a} = 3`, "b:true"},
	{`${a} = 3.0`, "b:true"},
	{`${a} = '3'`, "b:true"},
	{`${a} = '3.0'`, "b:false"},
	{`${b} = 'abc'`, "b:true"},
	{`${b} != 'abc'`, "b:false"},
	{`'a' != 'b'`, "b:true"},
	{`${missing} = ''`, "b:true"},
	{`${empty} = 0`, "b:false"},
	{`${empty} != 0`, "b:true"},
	{`0 div 0 = 0 div 0`, "b:false"},
	{`0 div 0 != 0 div 0`, "b:true"},
	{`true() = 'x'`, "b:true"},
	{`false() = ''`, "b:true"},
	{`true() = 0`, "b:false"},
	{`2 = true()`, "b:true"},
	{`${yes} = true()`, "b:true"},
	{`'false' = false()`, "b:false"}, // a non-empty string is true

	// relational operators compare numbers
	{`'10' > '9'`, "b:true"},
	{`'abc' < 'abd'`, "b:false"},
	{`'abc' >= 'abc'`, "b:false"},
	{`${empty} < 1`, "b:false"},
	{`${empty} >= 1`, "b:false"},
	{`${b} > 1`, "b:false"},
	{`${a} >= 3`, "b:true"},
	{`${a} <= 2.9`, "b:false"},
	{`${n1} < -2`, "b:true"},
	{`' 4 ' > 3`, "b:true"},
	{`true() > false()`, "b:true"},

	// dates
	{`today()`, "s:2024-05-10"},
	{`number(today())`, "n:19853"},
	{`today() > '2024-05-09'`, "b:true"},
	{`today() - ${d}`, "n:9"},
	{`${d} < today()`, "b:true"},
	{`${d} = '2024-05-01'`, "b:true"},
	{`${d} + 1`, "n:19845"},
	{`'2024-05' <= ${d}`, "b:true"},
	{`'2024-05' < ${d}`, "b:false"},
	{`number('2024-05-01')`, "n:19844"},
	{`number('2024-02')`, "n:19754"},
	{`number('1970-01-01')`, "n:0"},
	{`number('1970-01-02')`, "n:1"},
	{`number('1969-12-31')`, "n:-1"},
	{`number('2024-02-29')`, "n:19782"},
	{`number('2023-02-29')`, "n:NaN"},
	{`number('2024-13-01')`, "n:NaN"},
	{`number('2024-00')`, "n:NaN"},
	{`number('2024-5-1')`, "n:NaN"},
	{`number('2024-05-01T10:00')`, "n:NaN"},
	{`'2000-01-01' < '1999-12-31'`, "b:false"},

	// functions
	{`not(${missing})`, "b:true"},
	{`not(1)`, "b:false"},
	{`not ( 0 )`, "b:true"},
	{`true()`, "b:true"},
	{`false()`, "b:false"},
	{`selected(${ms}, 'casa')`, "b:true"},
	{`selected(${ms}, 'lingua')`, "b:true"},
	{`selected(${ms}, 'cas')`, "b:false"},
	{`selected(${ms}, ' casa ')`, "b:true"},
	{`selected(${ms}, 'lingua casa')`, "b:false"},
	{`selected(${missing}, '')`, "b:false"},
	{`selected('a  b', 'b')`, "b:true"},
	{`selected(${a}, 3)`, "b:true"},
	{`count-selected(${ms})`, "n:2"},
	{`count-selected('')`, "n:0"},
	{`count-selected('  a   b ')`, "n:2"},
	{`count-selected(${a})`, "n:1"},
	{`count-selected(${missing})`, "n:0"},
	{`string-length('àbc')`, "n:3"},
	{`string-length(${missing})`, "n:0"},
	{`string-length(12.50)`, "n:4"},
	{`string-length(true())`, "n:4"},
	{`regex('abc123', '^[a-z]+[0-9]{3}$')`, "b:true"},
	{`regex('abc1234', '^[a-z]+[0-9]{3}$')`, "b:false"},
	{`regex('abc', 'b')`, "b:true"}, // unanchored, like ODK
	{`regex(123, '^\d+$')`, "b:true"},
	{`regex(${b}, concat('^', 'a'))`, "b:true"},
	{`regex(${b}, concat('^', 'b'))`, "b:false"},
	{`regex('(', concat('(', ''))`, "b:false"}, // a bad computed pattern is false
	{`if(${a} > 2, 'big', 'small')`, "s:big"},
	{`if(${a} > 5, 'big', 'small')`, "s:small"},
	{`if('', 1, 2)`, "n:2"},
	{`if(1, 1 div 0, 2)`, "n:Infinity"},
	{`coalesce(${missing}, 'x')`, "s:x"},
	{`coalesce(${a}, 'x')`, "s:3"},
	{`coalesce('', '')`, "s:"},
	{`coalesce(${empty}, 7)`, "n:7"},
	{`coalesce(false(), 7)`, "b:false"}, // "false" is not empty
	{`number(' 42 ')`, "n:42"},
	{`number('-4.')`, "n:-4"},
	{`number('-.5')`, "n:-0.5"},
	{`number('4e2')`, "n:NaN"},
	{`number('+4')`, "n:NaN"},
	{`number('- 4')`, "n:NaN"},
	{`number('1,5')`, "n:NaN"},
	{`number('Infinity')`, "n:NaN"},
	{`number('')`, "n:NaN"},
	{`number(true())`, "n:1"},
	{`number(false())`, "n:0"},
	{`int(3.7)`, "n:3"},
	{`int(-3.7)`, "n:-3"},
	{`int('12.9')`, "n:12"},
	{`int('x')`, "n:NaN"},
	{`int(1 div 0)`, "n:Infinity"},
	{`round(2.5)`, "n:3"},
	{`round(2.4)`, "n:2"},
	{`round(-2.5)`, "n:-2"},
	{`round(-2.6)`, "n:-3"},
	{`round(0.49999999999999994)`, "n:0"},
	{`1 div round(-0.4)`, "n:-Infinity"}, // round(-0.4) is negative zero
	{`round(-0.4)`, "n:0"},
	{`round(0 div 0)`, "n:NaN"},
	{`round(-1 div 0)`, "n:-Infinity"},
	{`string(3)`, "s:3"},
	{`string(-0.5)`, "s:-0.5"},
	{`string(1 div 0)`, "s:Infinity"},
	{`string(0 div 0)`, "s:NaN"},
	{`string(1 = 1)`, "s:true"},
	{`string(.)`, "s:self"},
	{`concat('a', 1, true(), ${missing}, 2.5)`, "s:a1true2.5"},
	{`concat(${b}, '-', ${a})`, "s:abc-3"},
	{`boolean('')`, "b:false"},
	{`boolean('0')`, "b:true"},
	{`boolean(0)`, "b:false"},
	{`boolean(0 div 0)`, "b:false"},
	{`boolean(-1)`, "b:true"},
	{`boolean(${b})`, "b:true"},

	// choice_filter: bare names read the choice row
	{`area = 'nord'`, "b:true"},
	{`area = ${b} or area = 'nord'`, "b:true"},
	{`area != 'nord'`, "b:false"},
}

func TestEval(t *testing.T) {
	env := testEnv()
	for _, tt := range evalTests {
		e, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := typed(e.Eval(env)); got != tt.want {
			t.Errorf("Eval(%q) = %s, want %s", tt.src, got, tt.want)
		}
		if got, want := e.Bool(env), e.Eval(env).Bool(); got != want {
			t.Errorf("Bool(%q) = %v, Eval().Bool() = %v", tt.src, got, want)
		}
	}
}

func TestX3(t *testing.T) {
	e, err := Parse(x3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		value string
		ok    bool
	}{
		{"", true}, // emptiness is the business of required
		{"lingua", true},
		{"lingua casa", true},
		{"lingua casa lavoro", true},
		{"lingua casa lavoro salute", false},
		{"none", true},
		{"dnk", true},
		{"pnta", true},
		{"none lingua", false},
		{"lingua none", false},
		{"pnta casa", false},
		{"dnk pnta", false},
		{"nonesuch lingua", true}, // only whole codes count
	} {
		if got := e.Bool(MapEnv{Self: tt.value}); got != tt.ok {
			t.Errorf("X3 with . = %q: %v, want %v", tt.value, got, tt.ok)
		}
	}
}

func TestShortCircuit(t *testing.T) {
	// The right operand must not be evaluated when the left decides: the
	// env records which references were read.
	for _, tt := range []struct {
		src  string
		want bool
		read []string
	}{
		{`${t} or ${x}`, true, []string{"t"}},
		{`${f} or ${x}`, false, []string{"f", "x"}},
		{`${f} and ${x}`, false, []string{"f"}},
		{`${t} and ${x}`, false, []string{"t", "x"}},
		{`if(${t}, ${y}, ${x})`, true, []string{"t", "y"}},
		{`coalesce(${t}, ${x})`, true, []string{"t"}},
	} {
		env := &recordingEnv{MapEnv: MapEnv{Answers: map[string]string{"t": "1", "y": "1"}}}
		e, err := Parse(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Bool(env); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.src, got, tt.want)
		}
		if !slices.Equal(env.read, tt.read) {
			t.Errorf("%s read %v, want %v", tt.src, env.read, tt.read)
		}
	}
}

type recordingEnv struct {
	MapEnv
	read []string
}

func (r *recordingEnv) Lookup(name string) (string, bool) {
	r.read = append(r.read, name)
	return r.MapEnv.Lookup(name)
}

func TestValue(t *testing.T) {
	for _, tt := range []struct {
		v    Value
		s    string
		n    float64 // NaN means NaN
		bool bool
	}{
		{Value{}, "", math.NaN(), false},
		{StringValue("x"), "x", math.NaN(), true},
		{StringValue("0"), "0", 0, true},
		{StringValue(" 2.50 "), " 2.50 ", 2.5, true},
		{StringValue("1970-01-11"), "1970-01-11", 10, true},
		{NumberValue(3), "3", 3, true},
		{NumberValue(-3.25), "-3.25", -3.25, true},
		{NumberValue(0), "0", 0, false},
		{NumberValue(math.Copysign(0, -1)), "0", math.Copysign(0, -1), false},
		{NumberValue(math.NaN()), "NaN", math.NaN(), false},
		{NumberValue(math.Inf(1)), "Infinity", math.Inf(1), true},
		{NumberValue(math.Inf(-1)), "-Infinity", math.Inf(-1), true},
		{NumberValue(1e21), "1000000000000000000000", 1e21, true},
		{NumberValue(1e-7), "0.0000001", 1e-7, true},
		{NumberValue(123456789012345678), "123456789012345680", 123456789012345678, true},
		{BoolValue(true), "true", 1, true},
		{BoolValue(false), "false", 0, false},
	} {
		if got := tt.v.String(); got != tt.s {
			t.Errorf("%#v.String() = %q, want %q", tt.v, got, tt.s)
		}
		if got := tt.v.Number(); got != tt.n && !(math.IsNaN(got) && math.IsNaN(tt.n)) {
			t.Errorf("%#v.Number() = %v, want %v", tt.v, got, tt.n)
		}
		if got := tt.v.Bool(); got != tt.bool {
			t.Errorf("%#v.Bool() = %v, want %v", tt.v, got, tt.bool)
		}
	}
}

func TestTodayUTC(t *testing.T) {
	e, err := Parse(`today()`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{testNow, "2024-05-10"},
		{time.Date(2024, 12, 31, 23, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)), "2025-01-01"},
		{time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), "1969-12-31"},
		{time.Time{}, "0001-01-01"},
	} {
		v := e.Eval(MapEnv{Now: tt.now})
		if v.String() != tt.want {
			t.Errorf("today() at %v = %q, want %q", tt.now, v.String(), tt.want)
		}
		y, m, d := tt.now.UTC().Date()
		days := float64(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
		if v.Number() != days {
			t.Errorf("number(today()) at %v = %v, want %v", tt.now, v.Number(), days)
		}
	}
}

var errorTests = []struct {
	src string
	col int
	msg string
}{
	{``, 1, "empty expression"},
	{"  \t", 1, "empty expression"},
	{`1 +`, 4, "unexpected end of expression"},
	{`1 and`, 6, "unexpected end of expression"},
	{`-`, 2, "unexpected end of expression"},
	{`not(`, 5, "unexpected end of expression"},
	{`foo(1)`, 1, "unknown function foo"},
	{`1 + bar (2)`, 5, "unknown function bar"},
	{`selected(., 'a') or count_selected(.)`, 21, "unknown function count_selected"},
	{`(1 + 2`, 7, "expected ')', found end of expression"},
	{`(1 2)`, 4, "expected ')', found '2'"},
	{`'abc`, 1, "unterminated string"},
	{`1 = "abc`, 5, "unterminated string"},
	{`'it''s'`, 5, `unexpected token "'s'"`},
	{`1 2`, 3, "unexpected token '2'"},
	{`)`, 1, "unexpected token ')'"},
	{`()`, 2, "unexpected token ')'"},
	{`* 2`, 1, "unexpected token '*'"},
	{`1 = = 2`, 5, "unexpected token '='"},
	{`1 foo`, 3, "unexpected token 'foo'"},
	{`1 foo(2)`, 3, "unexpected token 'foo'"},
	{`..`, 2, "unexpected token '.'"},
	{`1.2.3`, 4, "unexpected token '.3'"},
	{`'é' x`, 5, "unexpected token 'x'"},
	{"1 +\n)", 5, "unexpected token ')'"},
	{`not()`, 1, "function not takes 1 argument, got 0"},
	{`not(1, 2)`, 1, "function not takes 1 argument, got 2"},
	{`1 and if(1, 2)`, 7, "function if takes 3 arguments, got 2"},
	{`concat('a')`, 1, "function concat takes at least 2 arguments, got 1"},
	{`today(1)`, 1, "function today takes 0 arguments, got 1"},
	{`selected(., 'a' 'b')`, 17, `expected ',' or ')', found "'b'"`},
	{`not(1,)`, 7, "unexpected token ')'"},
	{`regex(., '(')`, 10, "invalid regex: missing closing ) in '('"},
	{`regex(., 'a**')`, 10, "invalid regex: invalid nested repetition operator in '**'"},
	{`${}`, 1, "invalid name in reference '${}'"},
	{`1 + ${a b}`, 5, "invalid name in reference '${a b}'"},
	{`${1a}`, 1, "invalid name in reference '${1a}'"},
	{`${abc`, 1, "unterminated reference: missing '}'"},
	{`$abc`, 1, "expected '{' after '$': write references as ${name}"},
	{`1 # 2`, 3, "unexpected character '#'"},
	{`1 ! 2`, 3, "unexpected character '!'"},
	{`a:b`, 2, "unexpected character ':'"},
	{`/data/x`, 1, "unexpected character '/'"},
	{"1 = \x00", 5, `unexpected character '\x00'`},
	{"\xff", 1, `unexpected character '�'`},
	{strings.Repeat("9", 400), 1, "number too large: " + strings.Repeat("9", 24) + "…"},
	{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), 100, "expression nested too deeply (more than 100 levels)"},
	{strings.Repeat("-", 100) + "1", 100, "expression nested too deeply (more than 100 levels)"},
	{strings.Repeat("not(", 100) + "1" + strings.Repeat(")", 100), 397, "expression nested too deeply (more than 100 levels)"},
	{strings.Repeat("1+", 2048) + "1", 1, "expression too long: 4097 bytes, at most 4096"},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorTests {
		e, err := Parse(tt.src)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error", tt.src, e)
			continue
		}
		var xe *Error
		if !errors.As(err, &xe) {
			t.Errorf("Parse(%q) error %T, want *Error", tt.src, err)
			continue
		}
		if xe.Col != tt.col || xe.Msg != tt.msg {
			t.Errorf("Parse(%q) = column %d %q, want column %d %q", shorten(tt.src), xe.Col, xe.Msg, tt.col, tt.msg)
		}
		if want := fmt.Sprintf("column %d: %s", tt.col, tt.msg); err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
	}
}

func TestLimitsJustInside(t *testing.T) {
	for _, src := range []string{
		strings.Repeat("(", 99) + "1" + strings.Repeat(")", 99),
		strings.Repeat("-", 99) + "1",
		strings.Repeat("1+", 2047) + "11",
		x3,
	} {
		if _, err := Parse(src); err != nil {
			t.Errorf("Parse(%s): %v", shorten(src), err)
		}
	}
	// A long left-associative chain stays within limits and evaluates.
	e, err := Parse(strings.Repeat("1+", 2047) + "11")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Eval(nil).String(); got != "2058" {
		t.Errorf("long chain = %s, want 2058", got)
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		src        string
		refs, cols []string
		dot        bool
	}{
		{`1`, nil, nil, false},
		{`${a} + ${b} - ${a} > ${c.d-e}`, []string{"a", "b", "c.d-e"}, nil, false},
		{`area = ${region} and name != 'x' and area != .`, []string{"region"}, []string{"area", "name"}, true},
		{`and and and`, nil, []string{"and"}, false},
		{x3, nil, nil, true},
		{`'${notref} . area'`, nil, nil, false},
		{`.5 + 1`, nil, nil, false},
		{`not(selected(${q1}, 'x')) or count-selected(${q2}) > 0 or string-length(${q1}) > 0`, []string{"q1", "q2"}, nil, false},
	} {
		e, err := Parse(tt.src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.src, err)
		}
		if got := e.Refs(); !slices.Equal(got, tt.refs) {
			t.Errorf("Refs(%q) = %q, want %q", tt.src, got, tt.refs)
		}
		if got := e.Columns(); !slices.Equal(got, tt.cols) {
			t.Errorf("Columns(%q) = %q, want %q", tt.src, got, tt.cols)
		}
		if got := e.UsesCurrent(); got != tt.dot {
			t.Errorf("UsesCurrent(%q) = %v, want %v", tt.src, got, tt.dot)
		}
		if e.String() != tt.src {
			t.Errorf("String() = %q, want %q", e.String(), tt.src)
		}
	}

	// Refs and Columns hand out copies: the Expr stays immutable.
	e, _ := Parse(`${a} = area`)
	e.Refs()[0] = "changed"
	e.Columns()[0] = "changed"
	if e.Refs()[0] != "a" || e.Columns()[0] != "area" {
		t.Errorf("Refs/Columns share their backing array")
	}
}

func TestNilExpr(t *testing.T) {
	var e *Expr
	if !e.Bool(nil) {
		t.Error("nil Expr is not true")
	}
	if v := e.Eval(nil); typed(v) != "s:" {
		t.Errorf("nil Expr evaluates to %s", typed(v))
	}
	if e.String() != "" || e.Refs() != nil || e.Columns() != nil || e.UsesCurrent() {
		t.Error("nil Expr has content")
	}
	// A nil Env answers nothing rather than panicking.
	e, _ = Parse(`${a} = '' and . = '' and area = '' and today() = '0001-01-01'`)
	if !e.Bool(nil) {
		t.Error("nil Env is not empty")
	}
}

func TestConcurrentEval(t *testing.T) {
	e, err := Parse(`regex(${b}, '^a') and ` + x3)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				env := MapEnv{Answers: map[string]string{"b": "abc"}, Self: strconv.Itoa(i * j)}
				if !e.Bool(env) {
					t.Errorf("false for %s", env.Self)
					return
				}
			}
		})
	}
	wg.Wait()
}

// canon prints a tree back as source with only the parentheses its shape
// needs. Parsing the output must give the same tree: the fuzz test uses it
// to check the parser against itself.
func canon(n *node) string {
	var b strings.Builder
	canonTo(&b, n, 0)
	return b.String()
}

// canonPrec is the binding strength of a node: its binary level, 6 for
// unary minus, 7 for primaries.
func canonPrec(n *node) int {
	switch n.op {
	case opOr:
		return 0
	case opAnd:
		return 1
	case opEq, opNe:
		return 2
	case opLt, opLe, opGt, opGe:
		return 3
	case opAdd, opSub:
		return 4
	case opMul, opDiv, opMod:
		return 5
	case opNeg:
		return 6
	}
	return 7
}

var canonOps = map[opcode]string{
	opOr: "or", opAnd: "and", opEq: "=", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opAdd: "+", opSub: "-", opMul: "*", opDiv: "div", opMod: "mod",
}

func canonTo(b *strings.Builder, n *node, min int) {
	p := canonPrec(n)
	if p < min {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	switch n.op {
	case opNum:
		b.WriteString(strconv.FormatFloat(n.num, 'f', -1, 64))
	case opStr:
		if strings.Contains(n.str, "'") {
			b.WriteString(`"` + n.str + `"`)
		} else {
			b.WriteString("'" + n.str + "'")
		}
	case opRef:
		b.WriteString("${" + n.str + "}")
	case opCur:
		b.WriteString(".")
	case opCol:
		b.WriteString(n.str)
	case opNeg:
		b.WriteString("-")
		canonTo(b, n.args[0], 6)
	case opCall:
		b.WriteString(n.fn.spec().name + "(")
		for i, a := range n.args {
			if i > 0 {
				b.WriteString(", ")
			}
			canonTo(b, a, 0)
		}
		b.WriteString(")")
	default:
		canonTo(b, n.args[0], p)
		b.WriteString(" " + canonOps[n.op] + " ")
		canonTo(b, n.args[1], p+1)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range evalTests {
		f.Add(tt.src)
	}
	for _, tt := range errorTests {
		f.Add(tt.src)
	}
	f.Add(x3)
	answers := []string{"", "a b", "3", "2024-05-01", "none", "-0.5", "x"}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("error %T, want *Error", err)
			}
			if xe.Col < 1 || xe.Col > len(src)+1 || xe.Msg == "" {
				t.Fatalf("bad error %+v for %q", xe, src)
			}
			return
		}
		env := testEnv()
		for i, r := range e.Refs() {
			env.Answers[r] = answers[i%len(answers)]
		}
		v := e.Eval(env)
		_, _, _ = v.String(), v.Number(), v.Bool()
		e.Eval(MapEnv{})

		if _, err := Parse(e.String()); err != nil {
			t.Fatalf("reparse of %q: %v", src, err)
		}
		// The canonical form must parse to the same tree and value.
		c := canon(e.root)
		if len(c) > MaxLen {
			return
		}
		e2, err := Parse(c)
		if err != nil {
			t.Fatalf("canonical form %q of %q: %v", c, src, err)
		}
		if c2 := canon(e2.root); c2 != c {
			t.Fatalf("canonical form of %q changed on reparse:\n%s\n%s", src, c, c2)
		}
		if a, b := typed(v), typed(e2.Eval(env)); a != b {
			t.Fatalf("%q = %s but canonical %q = %s", src, a, c, b)
		}
		if !slices.Equal(e.Refs(), e2.Refs()) || !slices.Equal(e.Columns(), e2.Columns()) || e.UsesCurrent() != e2.UsesCurrent() {
			t.Fatalf("names of %q differ from canonical %q", src, c)
		}
	})
}

func BenchmarkEvalX3(b *testing.B) {
	e, err := Parse(x3)
	if err != nil {
		b.Fatal(err)
	}
	var env Env = MapEnv{Self: "lingua casa lavoro"}
	b.ReportAllocs()
	for b.Loop() {
		if !e.Bool(env) {
			b.Fatal("X3 false")
		}
	}
}

func BenchmarkParseX3(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(x3); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSelected(t *testing.T) {
	tests := []struct {
		list, item string
		want       bool
	}{
		{"a b c", "b", true},
		{"a b c", "c", true},
		{"a  b\tc\n", "c", true},
		{"ab c", "a", false},
		{"a b", "", false},
		{"", "a", false},
		{"lavoro_nero lavoro", "lavoro", true},
	}
	for _, tt := range tests {
		if got := Selected(tt.list, tt.item); got != tt.want {
			t.Errorf("Selected(%q, %q) = %v, want %v", tt.list, tt.item, got, tt.want)
		}
		// selected() in an expression agrees, with the item trimmed.
		e, err := Parse("selected(${x}, ' " + tt.item + " ')")
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Bool(MapEnv{Answers: map[string]string{"x": tt.list}}); got != tt.want && tt.item != "" {
			t.Errorf("selected(%q, %q) = %v, want %v", tt.list, tt.item, got, tt.want)
		}
	}
}

// TestRefEqualsLiteral: "${x} = 'lit'" and "!=", evaluated without making
// Values, give what xpathEqual gives for the two string Values, for
// answers and literals that look like numbers, dates, booleans, spaces or
// nothing (XPath compares two strings as strings, whatever they look like).
func TestRefEqualsLiteral(t *testing.T) {
	vals := []string{"", " ", "1", "1.0", "01", " 1", "NaN", "true", "false", "yes", "no", "2024-03-01", "é", "a b", "under18"}
	checked := 0
	for _, lit := range vals {
		for _, op := range []string{"=", "!="} {
			e, err := Parse("${q} " + op + " '" + lit + "'")
			if err != nil {
				t.Fatal(err)
			}
			if e.root.args[0].op != opRef || e.root.args[1].op != opStr {
				t.Fatalf("%q parsed as %v %v", lit, e.root.args[0].op, e.root.args[1].op)
			}
			for _, v := range vals {
				for _, answered := range []bool{true, false} {
					env := MapEnv{Answers: map[string]string{}}
					if answered {
						env.Answers["q"] = v
					}
					ref := xpathEqual(evalNode(e.root.args[0], env), evalNode(e.root.args[1], env))
					if op == "!=" {
						ref = !ref
					}
					if got := e.Eval(env); got != BoolValue(ref) {
						t.Fatalf("${q}=%q (answered %v) %s %q: %v, xpathEqual says %v", v, answered, op, lit, got, ref)
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d comparisons", checked)
}
