package bot

import (
	"errors"
	"strconv"
	"strings"
)

// MaxCallbackData is Telegram's limit on callback_data, in bytes.
const MaxCallbackData = 64

// Callback kinds: what a button does. Interview buttons carry the
// question's position and showing (Seq) so a tap on an old message is
// recognised as stale; the others are bot-level menus.
const (
	CbChoose   = 'c' // pick an option of the current question
	CbToggle   = 't' // tick/untick a multi-choice option
	CbDone     = 'd' // confirm a multi-choice selection
	CbBack     = 'b' // previous question
	CbSkip     = 's' // skip an optional question
	CbAck      = 'k' // acknowledge (OK)
	CbLanguage = 'L' // choose a language (Option = code)
	CbDelete   = 'D' // /delete confirmation (Option = yes / no)
	CbStaff    = 'S' // staff menus (Option = route + payload; no position)
	CbPage     = 'p' // show another page of a long list (Option = page, from 0)
	CbServices = 'V' // /services: list the services of a need area (Option = area code)
	CbRemind   = 'R' // the reminder's Continue / Stop (remind.go)
)

// codecVersion is the first byte of every callback: data of another
// version (an old deployment's buttons) decodes as stale, not as garbage.
const codecVersion = '1'

// Callback is the typed content of a button's callback_data.
type Callback struct {
	Kind   byte
	Pos    int
	Seq    uint32
	Option string
}

// ErrCallback is returned for callback data that is malformed, forged or
// from another version.
var ErrCallback = errors.New("invalid callback data")

// Encode renders c as callback data: "1" kind pos "." seq "." option, with
// pos and seq in base 36 — for a staff button (CbStaff, no position) "1S"
// option, so that the data begins with its row's prefix in the routing
// table (route.go). It fails if the result would exceed Telegram's 64
// bytes, the kind is no row's, or a staff button has a position or no
// option.
func (c Callback) Encode() (string, error) {
	if !validKind(c.Kind) || c.Pos < 0 || strings.ContainsAny(c.Option, "\x00") {
		return "", ErrCallback
	}
	if c.Kind == CbStaff {
		if c.Pos != 0 || c.Seq != 0 || c.Option == "" || 2+len(c.Option) > MaxCallbackData {
			return "", ErrCallback
		}
		return string([]byte{codecVersion, CbStaff}) + c.Option, nil
	}
	var b strings.Builder
	b.Grow(16 + len(c.Option))
	b.WriteByte(codecVersion)
	b.WriteByte(c.Kind)
	b.WriteString(strconv.FormatInt(int64(c.Pos), 36))
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(uint64(c.Seq), 36))
	b.WriteByte('.')
	b.WriteString(c.Option)
	if b.Len() > MaxCallbackData {
		return "", ErrCallback
	}
	return b.String(), nil
}

// DecodeCallback parses callback data written by Encode.
func DecodeCallback(data string) (Callback, error) {
	if len(data) < 3 || len(data) > MaxCallbackData || data[0] != codecVersion || !validKind(data[1]) {
		return Callback{}, ErrCallback
	}
	if strings.IndexByte(data, 0) >= 0 {
		// Encode refuses it in an option: not data of ours.
		return Callback{}, ErrCallback
	}
	if data[1] == CbStaff {
		return Callback{Kind: CbStaff, Option: data[2:]}, nil
	}
	if len(data) < 6 {
		return Callback{}, ErrCallback
	}
	pos, rest, ok := strings.Cut(data[2:], ".")
	if !ok {
		return Callback{}, ErrCallback
	}
	seq, opt, ok := strings.Cut(rest, ".")
	if !ok {
		return Callback{}, ErrCallback
	}
	p, err := strconv.ParseUint(pos, 36, 31)
	if err != nil || !canonical36(pos) {
		return Callback{}, ErrCallback
	}
	s, err := strconv.ParseUint(seq, 36, 32)
	if err != nil || !canonical36(seq) {
		return Callback{}, ErrCallback
	}
	return Callback{Kind: data[1], Pos: int(p), Seq: uint32(s), Option: opt}, nil
}

// canonical36 reports whether n, which strconv.ParseUint read in base 36,
// is as strconv.FormatUint writes it (lower case, no leading zero), so
// that one button has one encoding. It asks without formatting the number
// again: every tap is decoded once or twice (issue 19).
func canonical36(n string) bool {
	if len(n) > 1 && n[0] == '0' {
		return false
	}
	for i := 0; i < len(n); i++ {
		if 'A' <= n[i] && n[i] <= 'Z' {
			return false
		}
	}
	return true
}
