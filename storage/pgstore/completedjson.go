package pgstore

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendCompleted appends c's outbox encoding to b: the JSON that
// encoding/json writes for completedV1, byte for byte (fields in order,
// omitempty as tagged, map keys sorted, strings HTML-escaped). A
// completion turn encodes its response before the save that precedes the
// thank-you; through encoding/json that took ~41 µs and 129 allocations
// for the shipped questionnaire (reflection, a sorted copy of each map's
// keys as reflect.Values, a buffer per time), as much as the rest of the
// bot's turn (issue 19, docs/performance.md "Session 12: done"). ok is
// false for what encoding/json would refuse (a time outside RFC 3339);
// the caller then lets encoding/json say why.
func appendCompleted(b []byte, w *completedV1) (_ []byte, ok bool) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(w.V), 10)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, w.ID)
	if w.Idem != "" {
		b = append(b, `,"idem":`...)
		b = appendJSONString(b, w.Idem)
	}
	if w.Pseudonym != "" {
		b = append(b, `,"pseudonym":`...)
		b = appendJSONString(b, w.Pseudonym)
	}
	b = append(b, `,"municipality_id":`...)
	b = strconv.AppendInt(b, w.MunicipalityID, 10)
	if w.ServiceID != nil {
		b = append(b, `,"service_id":`...)
		b = strconv.AppendInt(b, *w.ServiceID, 10)
	}
	if w.Invite != "" {
		b = append(b, `,"invite":`...)
		b = appendJSONString(b, w.Invite)
	}
	if w.OperatorID != nil {
		b = append(b, `,"operator_id":`...)
		b = strconv.AppendInt(b, *w.OperatorID, 10)
	}
	b = append(b, `,"consent_version":`...)
	b = appendJSONString(b, w.ConsentVersion)
	if len(w.Types) > 0 {
		b = append(b, `,"types":`...)
		b = appendJSONMap(b, w.Types)
	}
	b = append(b, `,"form":`...)
	b = appendJSONString(b, w.Form)
	b = append(b, `,"form_version":`...)
	b = strconv.AppendInt(b, int64(w.FormVersion), 10)
	b = append(b, `,"language":`...)
	b = appendJSONString(b, w.Language)
	if len(w.Languages) > 0 {
		b = append(b, `,"languages":[`...)
		for i, l := range w.Languages {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, l)
		}
		b = append(b, ']')
	}
	b = append(b, `,"answers":`...)
	if w.Answers == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONMap(b, w.Answers)
	}
	if len(w.Context) > 0 {
		b = append(b, `,"context":`...)
		b = appendJSONMap(b, w.Context)
	}
	b = append(b, `,"started":`...)
	if b, ok = appendJSONTime(b, w.Started); !ok {
		return b, false
	}
	b = append(b, `,"completed":`...)
	if b, ok = appendJSONTime(b, w.Completed); !ok {
		return b, false
	}
	if w.Reminded {
		b = append(b, `,"reminded":true`...)
	}
	if w.Resumed {
		b = append(b, `,"resumed":true`...)
	}
	return append(b, '}'), true
}

// appendJSONMap appends m as encoding/json writes a map[string]string: its
// keys in sorted order.
func appendJSONMap(b []byte, m map[string]string) []byte {
	var arr [64]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONTime appends t as time.Time.MarshalJSON writes it; false for a
// time it refuses (a year outside [0,9999], a zone offset of 24 hours or
// more).
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	if len(b)-n0 < len("2006-01-02T15:04:05Z") || b[n0+len("9999")] != '-' {
		return b, false
	}
	if b[len(b)-1] != 'Z' {
		c := b[len(b)-len("Z07:00")]
		h := b[len(b)-len("07:00"):]
		if ('0' <= c && c <= '9') || 10*(h[0]-'0')+(h[1]-'0') >= 24 {
			return b, false
		}
	}
	return append(b, '"'), true
}

// marshalCompleted is MarshalCompleted's encoding of w.
func marshalCompleted(w completedV1) ([]byte, error) {
	if b, ok := appendCompleted(make([]byte, 0, sizeCompleted(&w)), &w); ok {
		return b, nil
	}
	return json.Marshal(w)
}

// sizeCompleted is about the length of w's encoding (its fixed part and
// strings before escaping), so that one buffer holds it.
func sizeCompleted(w *completedV1) int {
	n := 400 + len(w.ID) + len(w.Idem) + len(w.Pseudonym) + len(w.Invite) + len(w.ConsentVersion) +
		len(w.Form) + len(w.Language)
	for _, l := range w.Languages {
		n += len(l) + 3
	}
	for _, m := range [...]map[string]string{w.Types, w.Answers, w.Context} {
		for k, v := range m {
			n += len(k) + len(v) + 6
		}
	}
	return n
}

// jsonPlain[c] is set for each byte that encoding/json writes as it is in
// a string (HTML-safe): printable ASCII but '"', '\\', '<', '>' and '&'.
// Every byte of a multi-byte character is unset (it is decoded). The same
// table and appendJSONString as bot/direct.go's.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it (HTML characters escaped, invalid UTF-8 as U+FFFD, U+2028 and
// U+2029 escaped).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
