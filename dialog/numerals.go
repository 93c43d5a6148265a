package dialog

import (
	"math"
	"strconv"
	"strings"
)

// Numerals that are not decimal digits: Ethiopic (ti, am: ፫ 3, ፲ 10,
// ፳፭ 25, ፻ 100) and Chinese/Japanese (三 3, 十 10, 三十 30, 二十五 25,
// 一百零五 105, 二〇二四 2024). Unicode gives them no decimal value
// (unicode.IsDigit is false: Ethiopic numerals are No, the Han ones
// letters), golang.org/x/text has no reader for them, and no maintained Go
// module reads both, so the few rules are here, table-driven.
//
// Both systems are additive-multiplicative: a group below ten (or, in
// Ethiopic, tens then units) is multiplied by the unit after it (十 百 千,
// ፻), and what stands before a large unit (万 億, ፼) by that unit. Chinese
// also writes digits positionally (二〇二四, a year) and elides the last
// unit ("三百五" 350, "一万二" 12000); a 零 (or 〇) marks a gap ("一百零五"
// 105). Anything else — a digit after a digit in a written-out number,
// units out of order, scripts mixed — is no number.

type numeralKind uint8

const (
	nDigit numeralKind = iota + 1 // 1–9 (a group's units)
	nZero                         // 零 〇: a gap, or 0 in positional writing
	nTens                         // ፲…፺ 廿 卅: a group's tens
	nUnit                         // 十 百 千 ፻: multiplies the group before it
	nLarge                        // 万 億 ፼: multiplies everything before it
)

type numeral struct {
	kind     numeralKind
	v        int64
	ethiopic bool
}

var numerals = func() map[rune]numeral {
	m := map[rune]numeral{}
	// Ethiopic digits U+1369–U+1371 (1–9), tens U+1372–U+137A (10–90),
	// hundred U+137B, ten thousand U+137C. No zero.
	for i := range rune(9) {
		m[0x1369+i] = numeral{nDigit, int64(i + 1), true}
		m[0x1372+i] = numeral{nTens, int64(i+1) * 10, true}
	}
	m[0x137B] = numeral{nUnit, 100, true}
	m[0x137C] = numeral{nLarge, 10_000, true}
	// Han: everyday, financial (大写) and traditional forms.
	for _, d := range []struct {
		runes string
		v     int64
	}{
		{"一壹弌", 1}, {"二两兩贰貳弍", 2}, {"三叁參叄弎", 3}, {"四肆", 4}, {"五伍", 5},
		{"六陆陸", 6}, {"七柒", 7}, {"八捌", 8}, {"九玖", 9},
	} {
		for _, r := range d.runes {
			m[r] = numeral{nDigit, d.v, false}
		}
	}
	for _, r := range "零〇○" {
		m[r] = numeral{nZero, 0, false}
	}
	m['廿'] = numeral{nTens, 20, false}
	m['卅'] = numeral{nTens, 30, false}
	for _, u := range []struct {
		runes string
		v     int64
		kind  numeralKind
	}{
		{"十拾", 10, nUnit}, {"百佰", 100, nUnit}, {"千仟", 1000, nUnit},
		{"万萬", 10_000, nLarge}, {"亿億", 100_000_000, nLarge},
	} {
		for _, r := range u.runes {
			m[r] = numeral{u.kind, u.v, false}
		}
	}
	return m
}()

// maxNumeral bounds what is read (far beyond any answer: ages, years,
// counts), so that nothing overflows.
const maxNumeral = 1e15

// ParseNumeral reads s written in Ethiopic or Chinese/Japanese numerals
// (spaces ignored, an optional leading minus sign) and returns its value.
// ok is false when s has anything else, decimal digits included
// (ParseNumber reads those).
func ParseNumeral(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	neg := false
	for _, minus := range []string{"-", "−"} {
		if r, ok := strings.CutPrefix(s, minus); ok {
			neg, s = true, r
			break
		}
	}
	var (
		ns        []numeral
		ethiopic  bool
		hasUnits  bool
		fromDigit = true // positional writing possible: digits and zeros only
	)
	for _, r := range s {
		switch r {
		case ' ', '\u00a0', '\u202f', '\u2009', '\u3000':
			continue
		}
		n, ok := numerals[r]
		if !ok {
			return 0, false
		}
		if len(ns) > 0 && n.ethiopic != ethiopic {
			return 0, false // scripts mixed
		}
		ethiopic = n.ethiopic
		if n.kind != nDigit && n.kind != nZero {
			fromDigit = false
		}
		if n.kind == nUnit || n.kind == nLarge {
			hasUnits = true
		}
		ns = append(ns, n)
		if len(ns) > 40 {
			return 0, false
		}
	}
	if len(ns) == 0 {
		return 0, false
	}
	var v int64
	var ok bool
	if fromDigit && !ethiopic && !hasUnits {
		v, ok = positional(ns)
	} else {
		v, ok = additive(ns, ethiopic)
	}
	if !ok {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// positional reads Han digits written one per place: 二〇二四 is 2024.
func positional(ns []numeral) (int64, bool) {
	var v int64
	for _, n := range ns {
		v = v*10 + n.v
		if v > maxNumeral {
			return 0, false
		}
	}
	return v, true
}

// additive reads a written-out number: groups multiplied by the units
// after them.
func additive(ns []numeral, ethiopic bool) (int64, bool) {
	var (
		total, section int64 // below the last large unit; below it, the units read
		group          int64 // the group being read (before its unit)
		hasDigit       bool  // the group has its units
		hasTens        bool  // the group has its tens
		gap            bool  // a 零 since the last unit
		lastUnit       int64 = math.MaxInt64
		lastLarge      int64 = math.MaxInt64
	)
	for i, n := range ns {
		switch n.kind {
		case nDigit:
			if hasDigit {
				return 0, false
			}
			group += n.v
			hasDigit = true
		case nTens:
			if hasDigit || hasTens {
				return 0, false
			}
			group, hasTens = n.v, true
		case nZero:
			// A gap after a unit ("一百零五"), never inside a group.
			if hasDigit || hasTens || i == 0 || ethiopic {
				return 0, false
			}
			gap = true
		case nUnit:
			if n.v >= lastUnit || (!ethiopic && hasTens) {
				return 0, false
			}
			m := group
			if !hasDigit && !hasTens {
				m = 1 // 十 is 10, ፻ 100
			}
			section += m * n.v
			group, hasDigit, hasTens, gap = 0, false, false, false
			lastUnit = n.v
		case nLarge:
			if n.v >= lastLarge {
				return 0, false
			}
			m := section + group
			if m == 0 {
				m = 1 // 万 is 10000, ፼ too
			}
			total += m * n.v
			if total > maxNumeral {
				return 0, false
			}
			section, group, hasDigit, hasTens, gap = 0, 0, false, false, false
			lastUnit, lastLarge = math.MaxInt64, n.v
		}
	}
	if !ethiopic && hasDigit && !gap && len(ns) >= 2 {
		// An elided unit: "三百五" is 350, "一万二" 12000 — the digit
		// right after a unit of 100 or more counts a tenth of it.
		if u := ns[len(ns)-2]; (u.kind == nUnit || u.kind == nLarge) && u.v >= 100 {
			group *= u.v / 10
		}
	}
	v := total + section + group
	if v > maxNumeral {
		return 0, false
	}
	return v, true
}

// numeralString is ParseNumeral's value as ParseNumber returns numbers.
func numeralString(s string) (string, bool) {
	v, ok := ParseNumeral(s)
	if !ok {
		return "", false
	}
	return strconv.FormatInt(v, 10), true
}
