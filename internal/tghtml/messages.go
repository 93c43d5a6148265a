package tghtml

import (
	"regexp"
	"strings"

	"github.com/needsbot/needsbot/locales"
)

// ChoiceArg is the message argument that carries a choice's label id
// rather than text (dialog's Step sets it, e.g. a question about "the
// service you chose"): it is shown as that label, in the reader's language.
const ChoiceArg = "Choice"

// Messages renders catalog messages with arguments, as Telegram HTML or as
// plain text. It is immutable and safe for concurrent use.
type Messages struct {
	cat *locales.Catalog
}

// NewMessages returns the renderer of cat's messages.
func NewMessages(cat *locales.Catalog) *Messages { return &Messages{cat: cat} }

// Catalog returns the catalog the messages come from.
func (m *Messages) Catalog() *locales.Catalog { return m.cat }

// RTL reports whether lang is written right to left.
func (m *Messages) RTL(lang string) bool {
	l, ok := m.cat.Language(lang)
	return ok && l.RTL
}

// Text renders message id in lang as Telegram HTML. String arguments are
// escaped (a typed answer cannot inject markup); the ChoiceArg is shown as
// its label. In right-to-left languages every string argument is isolated
// and so is every slash command ("/delete" inside Arabic would read
// "delete/").
func (m *Messages) Text(lang, id string, data map[string]any) string {
	rtl := m.RTL(lang)
	text := m.cat.Text(lang, id, m.args(lang, data, rtl))
	if rtl && strings.IndexByte(text, '/') >= 0 {
		// A command starts with "/": without one, nothing to isolate
		// (and no regexp run over every right-to-left text).
		text = commandRe.ReplaceAllString(text, "${1}"+LRI+"${2}"+PDI)
	}
	return text
}

// Plain renders message id in lang as plain text (button labels, notices,
// chart and file labels): Text without markup, entities or isolates.
// Arguments come out exactly as given.
func (m *Messages) Plain(lang, id string, data map[string]any) string {
	return Plain(m.cat.Text(lang, id, m.args(lang, data, false)))
}

// args escapes (and, when isolate is set, isolates) the string arguments
// and resolves the ChoiceArg. The caller's map is left alone.
func (m *Messages) args(lang string, data map[string]any, isolate bool) map[string]any {
	if len(data) == 0 {
		return data
	}
	out := make(map[string]any, len(data))
	for k, v := range data {
		if s, ok := v.(string); ok {
			if k == ChoiceArg && (m.cat.Has(lang, s) || m.cat.Has(locales.Source, s)) {
				s = m.Plain(lang, s, nil)
			}
			s = Escape(s)
			if isolate {
				s = Isolate(s)
			}
			v = s
		}
		out[k] = v
	}
	return out
}

// commandRe finds slash commands at the start of a word. A regexp is
// immutable once compiled.
var commandRe = regexp.MustCompile(`(^|[\s(«"“])(/[a-z_]+)`)
