// Package tghtml owns the one text format of needsbot's messages: the HTML
// subset Telegram accepts with parse_mode HTML (<b>, <i>, <code>, …, with
// &lt; &gt; &amp; and numeric entities), in which every message of locales
// is written.
//
// It has the project's one escaper (Escape), its one HTML-to-plain renderer
// (Plain, for button labels, chart and file labels, notices and the
// terminal simulator) and the one way to render a catalog message with
// arguments (Messages.Text and Messages.Plain), used by the Telegram adapter
// (bot), the staff results (results) and the simulator alike. The web chat
// turns the same HTML into browser HTML; that is a different output and
// lives with it (bot/webchat).
package tghtml

import (
	"html"
	"strings"
)

// Unicode directional marks. A right-to-left mark starts a line that must
// read right to left; isolates keep numbers, Latin fragments and slash
// commands in their own order inside Arabic, Persian or Urdu text.
const (
	RLM = "\u200f" // right-to-left mark
	LRI = "\u2066" // left-to-right isolate
	FSI = "\u2068" // first-strong isolate
	PDI = "\u2069" // pop directional isolate
)

// Escape escapes s for Telegram HTML text: after it, s shows exactly as
// written and cannot open a tag.
func Escape(s string) string { return html.EscapeString(s) }

// Isolate wraps s in a first-strong isolate: it keeps its own direction
// (an Arabic name inside an English line, a Latin one inside Arabic).
func Isolate(s string) string { return FSI + s + PDI }

// IsolateLTR wraps s in a left-to-right isolate (numbers, commands).
func IsolateLTR(s string) string { return LRI + s + PDI }

// Plain renders Telegram HTML as plain text: tags are dropped (the text
// inside them stays) and entities are decoded. A "<" without a closing ">"
// is not a tag and stays as written; well-formed Telegram HTML never has one.
func Plain(h string) string {
	if !strings.ContainsAny(h, "<&") {
		return h
	}
	var b strings.Builder
	b.Grow(len(h))
	for {
		lt := strings.IndexByte(h, '<')
		if lt < 0 {
			break
		}
		gt := strings.IndexByte(h[lt:], '>')
		if gt < 0 {
			break
		}
		b.WriteString(h[:lt])
		h = h[lt+gt+1:]
	}
	b.WriteString(h)
	return html.UnescapeString(b.String())
}
