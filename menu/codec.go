package menu

import (
	"errors"
	"strconv"
	"strings"
)

// Opt is an optional number in a draft: unset until chosen, then any
// value, 0 included (0 is a real answer: "no particular service", "no
// expiry"). It replaces the -1 sentinels.
type Opt struct {
	V   int64
	Set bool
}

// Some is a set Opt.
func Some(v int64) Opt { return Opt{V: v, Set: true} }

// Int is the value as an int.
func (o Opt) Int() int { return int(o.V) }

// ErrData is button data that is malformed or not in canonical form
// (forged, or from another version): the handler treats it as stale.
var ErrData = errors.New("menu: invalid button data")

// Enc writes a draft's fields, separated by ".": numbers in base 36, an
// unset Opt as nothing, a flag as "1" or nothing, and at most one text,
// last (it may contain dots).
type Enc struct {
	b strings.Builder
	n int // fields written
}

func (e *Enc) sep() {
	if e.n > 0 {
		e.b.WriteByte('.')
	}
	e.n++
}

// Int writes a number (not negative).
func (e *Enc) Int(v int64) *Enc { e.sep(); e.b.WriteString(strconv.FormatInt(v, 36)); return e }

// Opt writes an optional number.
func (e *Enc) Opt(o Opt) *Enc {
	e.sep()
	if o.Set {
		e.b.WriteString(strconv.FormatInt(o.V, 36))
	}
	return e
}

// Flag writes a flag.
func (e *Enc) Flag(f bool) *Enc {
	e.sep()
	if f {
		e.b.WriteByte('1')
	}
	return e
}

// Code writes a short code of letters, digits, "_" and "-" ("" allowed).
func (e *Enc) Code(s string) *Enc { e.sep(); e.b.WriteString(s); return e }

// Text writes free text, which must be the last field.
func (e *Enc) Text(s string) *Enc { e.sep(); e.b.WriteString(s); return e }

// String is the encoded payload.
func (e *Enc) String() string { return e.b.String() }

// Dec reads what Enc wrote. Errors stick: check Err once at the end, then
// compare the draft's encoding with the payload (canonical form).
type Dec struct {
	f   []string
	i   int
	err error
}

// NewDec splits payload into n fields (the last keeps any dots).
func NewDec(payload string, n int) *Dec {
	f := strings.SplitN(payload, ".", n)
	d := &Dec{f: f}
	if len(f) != n {
		d.err = ErrData
	}
	return d
}

func (d *Dec) next() string {
	if d.err != nil || d.i >= len(d.f) {
		d.err = ErrData
		return ""
	}
	s := d.f[d.i]
	d.i++
	return s
}

func (d *Dec) num(s string) int64 {
	v, err := strconv.ParseInt(s, 36, 64)
	if err != nil || v < 0 || v > 1<<48 {
		d.err = ErrData
	}
	return v
}

// Int reads a number.
func (d *Dec) Int() int64 { return d.num(d.next()) }

// Opt reads an optional number.
func (d *Dec) Opt() Opt {
	s := d.next()
	if s == "" {
		return Opt{}
	}
	return Some(d.num(s))
}

// Flag reads a flag.
func (d *Dec) Flag() bool {
	switch d.next() {
	case "":
		return false
	case "1":
		return true
	}
	d.err = ErrData
	return false
}

// Code reads a short code.
func (d *Dec) Code() string {
	s := d.next()
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			d.err = ErrData
		}
	}
	return s
}

// Text reads the last field.
func (d *Dec) Text() string { return d.next() }

// Err is the first error met, or ErrData if fields are left over.
func (d *Dec) Err() error {
	if d.err == nil && d.i != len(d.f) {
		return ErrData
	}
	return d.err
}
