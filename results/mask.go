package results

import (
	"regexp"
	"strings"
	"unicode"
)

// Placeholders that replace what MaskFreeText removes.
const (
	maskEmail  = "[email]"
	maskHandle = "[account]"
	maskURL    = "[link]"
	maskPhone  = "[phone]"
	maskID     = "[code]"
	maskNumber = "[number]"
	maskDate   = "[date]"
)

// maskRules are applied in order: e-mail addresses before @handles (an
// address holds an @), links before numbers, phone numbers (digits with
// separators) and document-like codes (letters and digits mixed: tax
// codes, permit and passport numbers, IBANs; before phones, which would
// take their digits) before plain digit runs. \p{Nd} is every script's decimal digit (Arabic-Indic,
// Devanagari, Bengali, full-width…), not only 0-9.
type maskRule struct {
	re   *regexp.Regexp
	with string
}

func maskRules() []maskRule {
	return []maskRule{
		{regexp.MustCompile(`(?i)[\p{L}\p{Nd}._%+\-]+@[\p{L}\p{Nd}\-]+(?:\.[\p{L}\p{Nd}\-]+)+`), maskEmail},
		{regexp.MustCompile(`(?i)\b(?:https?://|www\.|t\.me/)\S+`), maskURL},
		{regexp.MustCompile(`@[A-Za-z][A-Za-z0-9_]{3,}`), maskHandle},
		// Full dates (a birth date identifies): 12/05/1985, 1.2.90, 2019-05-12.
		{regexp.MustCompile(`\p{Nd}{1,2}[./\-]\p{Nd}{1,2}[./\-]\p{Nd}{2,4}|\p{Nd}{4}-\p{Nd}{1,2}-\p{Nd}{1,2}`), maskDate},
		// A word of 6 or more letters and digits holding at least 3 digits
		// and a letter (checked in maskCodes).
		{regexp.MustCompile(`[\p{L}\p{Nd}]{6,}`), ""},
		// 7 or more digits, optionally after a +, with at most two separators
		// (space, dot, dash, slash, parentheses) between consecutive digits.
		{regexp.MustCompile(`[+(]?\p{Nd}(?:[ .\-/()\x{00A0}]{0,2}\p{Nd}){6,}`), maskPhone},
		// 5 or more consecutive digits (postcodes, card and file numbers).
		{regexp.MustCompile(`\p{Nd}{5,}`), maskNumber},
	}
}

// Masker masks free-text answers before they leave the server in a
// de-identified export. It is safe for concurrent use.
type Masker struct {
	rules []maskRule
}

// NewMasker returns a Masker.
func NewMasker() *Masker { return &Masker{rules: maskRules()} }

// Mask replaces, in a free-text answer, e-mail addresses, links, Telegram
// @accounts, full dates, phone numbers (7+ digits with separators), document-like
// codes (6+ letters and digits mixed, with at least 3 digits: tax codes,
// permit, passport and bank numbers) and runs of 5 or more digits with
// placeholders such as "[phone]". What cannot be recognised (a name, a
// street) stays: the text goes out without any response id, in random
// order, so that it cannot be joined to the answers of the same person.
func (m *Masker) Mask(s string) string {
	for _, r := range m.rules {
		if r.with == "" {
			s = r.re.ReplaceAllStringFunc(s, maskCode)
			continue
		}
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

// maskCode masks a word that mixes letters and at least 3 digits.
func maskCode(w string) string {
	digits, letters := 0, 0
	for _, r := range w {
		switch {
		case unicode.IsDigit(r):
			digits++
		case unicode.IsLetter(r):
			letters++
		}
	}
	if digits >= 3 && letters >= 1 && !strings.HasPrefix(w, "[") {
		return maskID
	}
	return w
}
