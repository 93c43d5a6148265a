package dialog

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// digitValue returns the value of a decimal digit in any script (Unicode
// category Nd: Arabic-Indic, Persian, Devanagari, Bengali, full-width…).
// Every Nd run in Unicode starts at a zero, so the value is the distance
// from the start of the run, modulo 10.
func digitValue(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if !unicode.IsDigit(r) {
		return 0, false
	}
	k := 0
	for unicode.IsDigit(r - rune(k) - 1) {
		k++
	}
	return k % 10, true
}

// NormalizeDigits rewrites digits of any script as ASCII digits.
func NormalizeDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if v, ok := digitValue(r); ok {
			b.WriteByte(byte('0' + v))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ParseNumber reads a number typed by a person: digits of any script, an
// optional sign (- or −), a decimal comma or point (or the Arabic decimal
// separator) when decimal is true, spaces and thin spaces ignored; or a
// whole number in Ethiopic or Chinese/Japanese numerals (ParseNumeral:
// ፳፭, 二十五). It returns the canonical ASCII form.
func ParseNumber(s string, decimal bool) (string, bool) {
	if v, ok := numeralString(s); ok {
		return v, true
	}
	var b strings.Builder
	seenSep := false
	for i, r := range strings.TrimSpace(s) {
		if v, ok := digitValue(r); ok {
			b.WriteByte(byte('0' + v))
			continue
		}
		switch r {
		case ' ', '\u00a0', '\u202f', '\u2009', '\u066c', '\'':
			// grouping separators
		case '-', '\u2212':
			if i != 0 {
				return "", false
			}
			b.WriteByte('-')
		case '+':
			if i != 0 {
				return "", false
			}
		case ',', '.', '\u066b', '\uff0c', '\uff0e':
			if !decimal || seenSep {
				return "", false
			}
			seenSep = true
			b.WriteByte('.')
		default:
			return "", false
		}
	}
	t := b.String()
	if t == "" || t == "-" || t == "." || t == "-." || len(t) > 40 {
		return "", false
	}
	if !decimal {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return "", false
		}
		return strconv.FormatInt(n, 10), true
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	return canonNumber(f), true
}

// canonNumber prints integers without decimals and others in the
// shortest form.
func canonNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// ParseDate reads a typed date as YYYY-MM-DD, DD/MM/YYYY, YYYY-MM or MM/YYYY
// (digits of any script) and returns YYYY-MM-DD or YYYY-MM.
func ParseDate(s string) (string, bool) {
	s = strings.TrimSpace(NormalizeDigits(s))
	s = strings.NewReplacer(".", "/", " ", "").Replace(s)
	for _, layout := range []string{"2006-01-02", "02/01/2006", "2/1/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02"), true
		}
	}
	for _, layout := range []string{"2006-01", "01/2006", "1/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01"), true
		}
	}
	return "", false
}

// CleanText trims a typed answer, turns control characters (newlines,
// tabs) into single spaces and collapses runs of white space.
func CleanText(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if r == unicode.ReplacementChar {
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
