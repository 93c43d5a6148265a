package locales

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// StaffLanguages returns the languages that must have every message,
// including the operators' questionnaire and the staff commands (a fresh
// slice); the other languages need only the respondent-facing ones.
func StaffLanguages() []string { return []string{"it", "en"} }

// RespondentFacing reports whether message id is shown to respondents and
// so must exist in every shipped language: engine (m.) and bot (b.)
// messages and the texts of the respondents' questionnaires (the forms
// declaring audience: respondents), whose ids are <kind>.<form>.….
func RespondentFacing(id string, respondentForms ...string) bool {
	if strings.HasPrefix(id, "m.") || strings.HasPrefix(id, "b.") {
		return true
	}
	_, rest, ok := strings.Cut(id, ".")
	if !ok {
		return false
	}
	form, _, _ := strings.Cut(rest, ".")
	return slices.Contains(respondentForms, form)
}

// Telegram's limits that messages must respect.
const (
	maxMessage      = 4096 // characters of a message
	maxButton       = 32   // characters of a button label: about one phone row
	maxCommandDescr = 30   // characters of a command menu description (we keep them short)
)

// isButton reports whether id is shown on a button.
func isButton(id string) bool {
	return strings.HasPrefix(id, "c.") || strings.HasPrefix(id, "m.btn.") || strings.HasPrefix(id, "m.month.") ||
		id == "b.delete.yes" || id == "b.delete.no" || id == "m.language.more"
}

var placeholderRe = regexp.MustCompile(`{{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*}}`)

// Lint checks the catalog against the message ids the code and the
// questionnaires use. It returns one problem per line, prefixed with the
// language's file:
//   - every used id exists in every language that must have it;
//   - no stale id: every id of the source language is used;
//   - placeholders of every form equal the source's;
//   - every plural category the language needs (CLDR, as go-i18n applies
//     it) is present, and no other;
//   - HTML is balanced and uses only Telegram's tags;
//   - texts fit Telegram: messages ≤ 4096 characters, buttons ≤ 32,
//     command descriptions ≤ 30;
//   - translations carry no description (only the source does), and the
//     source has one on every message.
//
// respondentForms are the ids of the respondents' questionnaires: their
// texts must exist in every language (RespondentFacing).
func Lint(c *Catalog, used []string, respondentForms ...string) []string {
	return lint(c, used, func(string) bool { return true }, respondentForms)
}

// LintForms checks only the messages given questionnaires use, and the
// messages of a forms directory's own files (NewWithForms): `needsbot lint
// FILE` checks that form and its messages, not every embedded message
// against one form. A forms-directory message no form uses is stale.
func LintForms(c *Catalog, used []string) []string {
	want := map[string]bool{}
	for _, id := range used {
		want[id] = true
	}
	return lint(c, used, func(id string) bool { return want[id] || c.FromForms(id) }, nil)
}

// lint checks the used ids, and the catalog's messages for which inScope
// holds.
func lint(c *Catalog, used []string, inScope func(id string) bool, respondentForms []string) []string {
	var problems []string
	want := map[string]bool{}
	for _, id := range used {
		want[id] = true
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	staff := map[string]bool{}
	for _, l := range StaffLanguages() {
		staff[l] = true
	}
	file := func(lang string) string { return "locales/active." + lang + ".toml" }
	// A message of a forms directory's questionnaire belongs in that
	// directory's <form>.<lang>.toml.
	missingFile := func(lang, id string) string {
		if parts := strings.SplitN(id, ".", 3); c.formsDir != "" && c.idFlags[c.ids[id]]&fromEmbedded == 0 && len(parts) == 3 {
			return filepath.Join(c.formsDir, parts[1]+"."+lang+".toml")
		}
		return file(lang)
	}
	fileOf := func(lang, id string) string {
		if m, _, ok := c.lookup(lang, id); ok {
			return c.sources[m.file-1]
		}
		return file(lang)
	}
	for _, l := range c.Languages() {
		for _, id := range ids {
			if !c.Has(l.Code, id) && (staff[l.Code] || RespondentFacing(id, respondentForms...)) {
				problems = append(problems, fmt.Sprintf("%s: missing message %q", missingFile(l.Code, id), id))
			}
		}
	}
	src := c.msgs[Source]
	described := func(id string) bool {
		m, _ := src.lookup(c.ids[id])
		return m.described
	}
	srcParsed := func(id string) (*i18n.Message, bool) {
		i := c.ids[id]
		m, ok := src.lookup(i)
		if !ok {
			return nil, false
		}
		return src.parsed(m, i, id), true
	}
	for _, id := range c.langIDs(Source) {
		if !inScope(id) {
			continue
		}
		if !want[id] {
			problems = append(problems, fmt.Sprintf("%s: stale message %q: no code or questionnaire uses it", fileOf(Source, id), id))
		}
		if !described(id) {
			problems = append(problems, fmt.Sprintf("%s: message %q has no description for translators", fileOf(Source, id), id))
		}
	}
	for _, l := range c.Languages() {
		forms := PluralForms(l.Tag)
		msgs := c.msgs[l.Code]
		for _, id := range c.langIDs(l.Code) {
			if !inScope(id) {
				continue
			}
			i := c.ids[id]
			k, _ := msgs.lookup(i)
			m := msgs.parsed(k, i, id)
			s, ok := srcParsed(id)
			if !ok {
				if l.Code != Source {
					problems = append(problems, fmt.Sprintf("%s: message %q is not in the source language", fileOf(l.Code, id), id))
				}
				continue
			}
			for _, p := range checkMessage(l, forms, m, s) {
				problems = append(problems, fmt.Sprintf("%s: %q: %s", fileOf(l.Code, id), id, p))
			}
			if l.Code != Source && k.described {
				problems = append(problems, fmt.Sprintf("%s: %q: translations carry no description", fileOf(l.Code, id), id))
			}
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// formsOf returns a message's plural forms by category.
func formsOf(m *i18n.Message) map[string]string {
	out := map[string]string{}
	for cat, s := range map[string]string{"zero": m.Zero, "one": m.One, "two": m.Two, "few": m.Few, "many": m.Many, "other": m.Other} {
		if s != "" {
			out[cat] = s
		}
	}
	return out
}

func checkMessage(l Language, need map[string]bool, m, src *i18n.Message) []string {
	var p []string
	got, want := formsOf(m), formsOf(src)
	plural := len(want) > 1
	if plural {
		for cat := range need {
			if got[cat] == "" {
				p = append(p, "missing plural form "+cat)
			}
		}
		for cat := range got {
			if !need[cat] {
				p = append(p, "plural form "+cat+" is not used in this language")
			}
		}
	} else if len(got) != 1 || got["other"] == "" {
		p = append(p, "has plural forms but the source has none")
	}
	srcVars := placeholders(src.Other)
	for _, cat := range sortedKeys(got) {
		text := got[cat]
		if v := placeholders(text); v != srcVars && !(plural && v == strings.ReplaceAll(srcVars, "Count", "")) {
			p = append(p, fmt.Sprintf("%s: placeholders {%s}, source has {%s}", cat, v, srcVars))
		}
		if err := CheckHTML(text); err != nil {
			p = append(p, cat+": "+err.Error())
		}
		n := visibleLen(text)
		switch {
		case isButton(m.ID) && n > maxButton:
			p = append(p, fmt.Sprintf("button label of %d characters, at most %d fit", n, maxButton))
		case strings.HasPrefix(m.ID, "b.cmd.") && n > maxCommandDescr:
			p = append(p, fmt.Sprintf("command description of %d characters, at most %d", n, maxCommandDescr))
		case n > maxMessage:
			p = append(p, fmt.Sprintf("%d characters, Telegram allows %d", n, maxMessage))
		}
	}
	return p
}

// placeholders lists a text's {{.Name}}s, sorted and deduplicated.
func placeholders(s string) string {
	set := map[string]bool{}
	for _, m := range placeholderRe.FindAllStringSubmatch(s, -1) {
		set[m[1]] = true
	}
	return strings.Join(sortedKeys(set), ",")
}

// allowedTags are the HTML tags Telegram's HTML parse mode accepts that
// our texts may use.
var allowedTags = map[string]bool{"b": true, "i": true, "u": true, "s": true, "code": true, "strong": true, "em": true}

var tagRe = regexp.MustCompile(`<(/?)([a-zA-Z0-9-]*)[^>]*>|&([a-zA-Z]+|#[0-9]+|#x[0-9a-fA-F]+)?;?|<`)

// CheckHTML reports unbalanced or unsupported tags and bare '<' or '&'.
func CheckHTML(s string) error {
	var stack []string
	for _, m := range tagRe.FindAllStringSubmatch(s, -1) {
		switch {
		case m[0] == "<":
			return fmt.Errorf("bare '<': write &lt;")
		case strings.HasPrefix(m[0], "&"):
			if !strings.HasSuffix(m[0], ";") || m[3] == "" {
				return fmt.Errorf("bare '&': write &amp;")
			}
			switch m[3] {
			case "lt", "gt", "amp", "quot":
			default:
				if !strings.HasPrefix(m[3], "#") {
					return fmt.Errorf("entity &%s; is not one Telegram knows", m[3])
				}
			}
		default:
			tag := strings.ToLower(m[2])
			if !allowedTags[tag] {
				return fmt.Errorf("tag <%s> is not allowed", tag)
			}
			if m[1] == "" {
				stack = append(stack, tag)
				continue
			}
			if len(stack) == 0 || stack[len(stack)-1] != tag {
				return fmt.Errorf("unbalanced </%s>", tag)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed <%s>", stack[len(stack)-1])
	}
	return nil
}

// PluralForms returns the CLDR plural categories go-i18n uses for a
// language, found by asking go-i18n itself with a message that has every
// form: the answer is exactly what rendering will need.
func PluralForms(tag language.Tag) map[string]bool {
	b := i18n.NewBundle(tag)
	_ = b.AddMessages(tag, &i18n.Message{ID: "p", Zero: "zero", One: "one", Two: "two", Few: "few", Many: "many", Other: "other"})
	loc := i18n.NewLocalizer(b, tag.String())
	forms := map[string]bool{}
	var samples []any
	for n := 0; n <= 200; n++ {
		samples = append(samples, n)
	}
	for _, n := range []int{1000, 10000, 100000, 1000000, 1000001} {
		samples = append(samples, n)
	}
	for _, f := range []string{"0.5", "1.5", "2.5", "1.0", "0.0", "10.5"} {
		samples = append(samples, f)
	}
	for _, n := range samples {
		if s, err := loc.Localize(&i18n.LocalizeConfig{MessageID: "p", PluralCount: n}); err == nil {
			forms[s] = true
		}
	}
	return forms
}

// visibleLen counts the characters of s that take room: not the
// directional marks and isolates, such as the right-to-left mark the
// catalog puts before a right-to-left line that begins with a Latin word
// (rtl.go).
func visibleLen(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r == '\u200e' || r == '\u200f' || r == '\u061c':
		case r >= '\u202a' && r <= '\u202e':
		case r >= '\u2066' && r <= '\u2069':
		default:
			n++
		}
	}
	return n
}
