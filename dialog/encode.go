package dialog

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"
)

// The State encoding. A state is read and written on every update, so it is
// a compact binary record (version 2): one decode is a few hundred
// nanoseconds and a handful of allocations, whatever the number of answers
// (the strings of a decoded state share one copy of the record).
//
// Layout, after the version byte 0x02 (integers are varints, strings and
// lists are a uvarint length followed by their contents):
//
//	varint FormVersion, uvarint Version, uvarint Seq, byte Phase, varint Pos,
//	byte flags (bit 0: Consent), varint Started, varint Updated,
//	string Form, string Lang, string Pending, string Reached, string Outcome,
//	list of strings Langs, list of varints Back,
//	map Answers, map Context (a uvarint count of key, value string pairs,
//	keys in ascending order so that equal states encode to equal bytes).
//
// Version 1 was JSON with short names ({"e":1,...}); Decode still reads it,
// so sessions stored before version 2 keep working until they expire.
const (
	encodingJSON   = 1
	encodingBinary = 2
)

// wireState is the version 1 (JSON) encoding of a State, still read.
type wireState struct {
	E  int               `json:"e"`
	F  string            `json:"f"`
	FV int               `json:"fv"`
	V  uint64            `json:"v"`
	Q  uint32            `json:"q,omitempty"`
	Ph Phase             `json:"ph,omitempty"`
	L  string            `json:"l,omitempty"`
	Ls []string          `json:"ls,omitempty"`
	P  int               `json:"p"`
	B  []int             `json:"b,omitempty"`
	A  map[string]string `json:"a,omitempty"`
	Pe string            `json:"pe,omitempty"`
	C  map[string]string `json:"c,omitempty"`
	Co bool              `json:"co,omitempty"`
	S  int64             `json:"s,omitempty"`
	U  int64             `json:"u,omitempty"`
	R  string            `json:"r,omitempty"`
	O  string            `json:"o,omitempty"`
}

// Encode serialises a state. Decode(Encode(s)) equals s, except that empty
// lists and maps come back nil.
func Encode(s State) ([]byte, error) {
	// Each map read once, into pairs put in key order by an index: on the
	// stack up to 64 answers and 16 context entries (stored there without
	// the write barrier), on the heap beyond.
	var abuf [64]pair
	var cbuf [16]pair
	var aord [64]uint16
	var cord [16]uint16
	var answers, context sorted
	var an, cn int
	if len(s.Answers) > len(abuf) {
		answers, an = sortedPairs(nil, s.Answers)
	} else {
		i := 0
		an = 2
		for k, v := range s.Answers {
			abuf[i] = pair{k, v}
			an += 4 + len(k) + len(v)
			i++
		}
		answers = sortedOrder(abuf[:i], aord[:0])
	}
	if len(s.Context) > len(cbuf) {
		context, cn = sortedPairs(nil, s.Context)
	} else {
		i := 0
		cn = 2
		for k, v := range s.Context {
			cbuf[i] = pair{k, v}
			cn += 4 + len(k) + len(v)
			i++
		}
		context = sortedOrder(cbuf[:i], cord[:0])
	}
	n := 48 + len(s.Form) + len(s.Lang) + len(s.Pending) + len(s.Reached) + len(s.Outcome) +
		4*len(s.Back) + an + cn
	for _, l := range s.Langs {
		n += 2 + len(l)
	}
	b := make([]byte, 0, n)
	b = append(b, encodingBinary)
	b = binary.AppendVarint(b, int64(s.FormVersion))
	b = binary.AppendUvarint(b, s.Version)
	b = binary.AppendUvarint(b, uint64(s.Seq))
	b = append(b, byte(s.Phase))
	b = binary.AppendVarint(b, int64(s.Pos))
	var flags byte
	if s.Consent {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, s.Started)
	b = binary.AppendVarint(b, s.Updated)
	for _, str := range [...]string{s.Form, s.Lang, s.Pending, s.Reached, s.Outcome} {
		b = appendString(b, str)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Langs)))
	for _, l := range s.Langs {
		b = appendString(b, l)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Back)))
	for _, p := range s.Back {
		b = binary.AppendVarint(b, int64(p))
	}
	b = appendPairs(b, answers)
	b = appendPairs(b, context)
	return b, nil
}

type pair struct{ k, v string }

// sortedPairs is m's entries in key order, with an upper bound of their
// encoded size (a map of more entries than Encode keeps on its stack).
func sortedPairs(buf []pair, m map[string]string) (sorted, int) {
	n := 2
	for k, v := range m {
		buf = append(buf, pair{k, v})
		n += 4 + len(k) + len(v)
	}
	if len(buf) > math.MaxUint16+1 {
		slices.SortFunc(buf, func(a, b pair) int { return strings.Compare(a.k, b.k) })
		return sorted{ps: buf}, n
	}
	return sortedOrder(buf, make([]uint16, 0, len(buf))), n
}

// sortedOrder is ps in key order, as indices appended to ord (at most
// 1<<16 pairs).
//
// The pairs are ordered by index, not moved: a swap of two pairs writes
// four pointers, each through the garbage collector's write barrier while
// a collection runs — under load, a good part of the time — where a swap
// of two indices writes none. (The pairs are stored so too: on Encode's
// stack, without a barrier.)
func sortedOrder(ps []pair, ord []uint16) sorted {
	for i := range ps {
		ord = append(ord, uint16(i))
	}
	slices.SortFunc(ord, func(a, b uint16) int { return strings.Compare(ps[a].k, ps[b].k) })
	return sorted{ps: ps, ord: ord}
}

// sorted is a map's pairs and their key order: pair ord[i] is the i-th
// (without ord, the pairs are in order).
type sorted struct {
	ps  []pair
	ord []uint16
}

func appendPairs(b []byte, s sorted) []byte {
	b = binary.AppendUvarint(b, uint64(len(s.ps)))
	if s.ord == nil {
		for _, p := range s.ps {
			b = appendString(b, p.k)
			b = appendString(b, p.v)
		}
		return b
	}
	for _, i := range s.ord {
		p := &s.ps[i]
		b = appendString(b, p.k)
		b = appendString(b, p.v)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ErrEncoding is returned for data that is not an encoded State.
var ErrEncoding = errors.New("not an encoded interview state")

// Decode reads a state written by Encode, or by the JSON encoding of
// version 1.
func Decode(b []byte) (State, error) {
	if len(b) > 0 && b[0] == encodingBinary {
		return decodeBinary(string(b))
	}
	return decodeOther(b)
}

// DecodeOwned is Decode of a record handed over by the caller, who
// modifies b no more: the state's strings are b's bytes, not a copy of them.
// A turn decodes the record its store has just read for it (interview), and
// the copy was one allocation of the record's size per update (issue 19).
func DecodeOwned(b []byte) (State, error) {
	if len(b) > 0 && b[0] == encodingBinary {
		return decodeBinary(unsafe.String(unsafe.SliceData(b), len(b)))
	}
	return decodeOther(b)
}

func decodeOther(b []byte) (State, error) {
	if len(b) == 0 {
		return State{}, fmt.Errorf("%w: empty", ErrEncoding)
	}
	if b[0] == '{' {
		return decodeJSON(b)
	}
	return State{}, fmt.Errorf("%w: encoding version byte %d", ErrEncoding, b[0])
}

// decoder reads the binary encoding. Strings are substrings of str, the
// whole record (one copy of it, or none: DecodeOwned), so that a decoded
// state costs at most one allocation for all its strings.
type decoder struct {
	str string
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s at byte %d", ErrEncoding, what, d.off)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.off >= len(d.str) {
			break
		}
		c := d.str[d.off]
		d.off++
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			return v | uint64(c)<<s
		}
		v |= uint64(c&0x7f) << s
		s += 7
	}
	d.fail(what)
	return 0
}

func (d *decoder) varint(what string) int64 {
	u := d.uvarint(what)
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) u8(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.str) {
		d.fail(what)
		return 0
	}
	c := d.str[d.off]
	d.off++
	return c
}

// count reads a length and checks that at least min bytes per element
// remain, so that a corrupt length cannot make Decode allocate much.
func (d *decoder) count(what string, min int) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.str)-d.off)/uint64(min) {
		d.fail(what)
		return 0
	}
	return int(n)
}

func (d *decoder) string(what string) string {
	n := d.count(what, 1)
	if d.err != nil || n == 0 {
		return ""
	}
	s := d.str[d.off : d.off+n]
	d.off += n
	return s
}

func (d *decoder) strmap(what string) map[string]string {
	n := d.count(what, 2)
	if d.err != nil || n == 0 {
		return nil
	}
	// Room for one more: a step answers a question.
	m := make(map[string]string, n+1)
	for range n {
		k := d.string(what)
		m[k] = d.string(what)
	}
	if d.err != nil {
		return nil
	}
	return m
}

func decodeBinary(str string) (State, error) {
	d := decoder{str: str, off: 1}
	var s State
	fv := d.varint("form version")
	s.Version = d.uvarint("version")
	seq := d.uvarint("seq")
	s.Phase = Phase(d.u8("phase"))
	pos := d.varint("position")
	flags := d.u8("flags")
	s.Started = d.varint("start")
	s.Updated = d.varint("update")
	if fv > 1<<31 || fv < -1<<31 || seq > 1<<32-1 || pos > 1<<31 || pos < -1<<31 {
		d.fail("number")
	}
	s.FormVersion, s.Seq, s.Pos, s.Consent = int(fv), uint32(seq), int(pos), flags&1 != 0
	s.Form = d.string("form")
	s.Lang = d.string("language")
	s.Pending = d.string("pending")
	s.Reached = d.string("reached")
	s.Outcome = d.string("outcome")
	if n := d.count("languages", 1); n > 0 {
		s.Langs = make([]string, n)
		for i := range s.Langs {
			s.Langs[i] = d.string("languages")
		}
	}
	if n := d.count("back", 1); n > 0 {
		// Room for one more: a step that asks the next question appends
		// to it (in place under StepOwned).
		s.Back = make([]int, n, n+1)
		for i := range s.Back {
			s.Back[i] = int(d.varint("back"))
		}
	}
	s.Answers = d.strmap("answers")
	s.Context = d.strmap("context")
	if d.err == nil && d.off != len(d.str) {
		d.fail("length")
	}
	if d.err != nil {
		return State{}, d.err
	}
	if s.Phase > PhaseDone {
		return State{}, fmt.Errorf("%w: phase %d", ErrEncoding, s.Phase)
	}
	return s, nil
}

func decodeJSON(b []byte) (State, error) {
	var w wireState
	if err := json.Unmarshal(b, &w); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	if w.E != encodingJSON {
		return State{}, fmt.Errorf("%w: encoding version %d", ErrEncoding, w.E)
	}
	if w.Ph > PhaseDone {
		return State{}, fmt.Errorf("%w: phase %d", ErrEncoding, w.Ph)
	}
	return State{
		Form: w.F, FormVersion: w.FV, Version: w.V, Seq: w.Q, Phase: w.Ph, Lang: w.L, Langs: w.Ls,
		Pos: w.P, Back: w.B, Answers: w.A, Pending: w.Pe, Context: w.C, Consent: w.Co,
		Started: w.S, Updated: w.U, Reached: w.R, Outcome: w.O,
	}, nil
}
