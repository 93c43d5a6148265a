package dialog

import (
	"bytes"
	"encoding/binary"
	"maps"
	"math/rand"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// TestDecodeVersion1JSON: a session stored by the JSON encoding (version 1,
// before the binary one) still loads, field by field.
func TestDecodeVersion1JSON(t *testing.T) {
	old := []byte(`{"e":1,"f":"immigrati","fv":3,"v":17,"q":9,"ph":2,"l":"it","ls":["en","it"],"p":12,` +
		`"b":[0,3,7],"a":{"age":"30","lingua":"ar uk"},"pe":"a b","c":{"m":"58091"},"co":true,"s":1700000000,"u":1700000600,"r":"eta"}`)
	got, err := Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	want := State{Form: "immigrati", FormVersion: 3, Version: 17, Seq: 9, Phase: PhaseAsking, Lang: "it",
		Langs: []string{"en", "it"}, Pos: 12, Back: []int{0, 3, 7},
		Answers: map[string]string{"age": "30", "lingua": "ar uk"}, Pending: "a b",
		Context: map[string]string{"m": "58091"}, Consent: true, Started: 1700000000, Updated: 1700000600, Reached: "eta"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("old JSON session\n got %+v\nwant %+v", got, want)
	}
	// Saved again, it is written in the current encoding and reads back equal.
	b, err := Encode(got)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != encodingBinary {
		t.Fatalf("re-encoded with version byte %d", b[0])
	}
	again, err := Decode(b)
	if err != nil || !reflect.DeepEqual(again, want) {
		t.Fatalf("re-encoded: %+v, %v", again, err)
	}
}

// TestEncodeDeterministic: equal states encode to equal bytes (maps in key
// order), which the bot's tests and the CAS rely on.
func TestEncodeDeterministic(t *testing.T) {
	s := State{Form: "f", Answers: map[string]string{}, Context: map[string]string{}}
	for i := range 40 {
		s.Answers[string(rune('a'+i%26))+string(rune('A'+i/26))] = "v"
	}
	s.Context["m"], s.Context["s"], s.Context["invite"] = "1", "2", "x"
	first, _ := Encode(s)
	for range 20 {
		b, _ := Encode(s)
		if !bytes.Equal(b, first) {
			t.Fatal("two encodings of one state differ")
		}
	}
}

// TestDecodeRejectsTruncated: every proper prefix of an encoding, and any
// trailing byte, is refused, never misread.
func TestDecodeRejectsTruncated(t *testing.T) {
	s := State{Form: "immigrati", FormVersion: 2, Version: 5, Phase: PhaseAsking, Lang: "uk", Langs: []string{"uk"},
		Pos: -1, Back: []int{1, 2}, Answers: map[string]string{"q": "a"}, Context: map[string]string{"m": "1"}, Started: -5}
	b, _ := Encode(s)
	for i := range len(b) {
		if _, err := Decode(b[:i]); err == nil {
			t.Fatalf("prefix of %d of %d bytes accepted", i, len(b))
		}
	}
	if _, err := Decode(append(b[:len(b):len(b)], 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	if got, err := Decode(b); err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
}

// FuzzDecode: Decode never panics, and what it accepts encodes back to
// something that decodes to the same state.
func FuzzDecode(f *testing.F) {
	s := State{Form: "f", Version: 3, Phase: PhaseAsking, Answers: map[string]string{"a": "b"}, Back: []int{0}}
	b, _ := Encode(s)
	f.Add(b)
	f.Add([]byte(`{"e":1,"f":"x","v":2}`))
	f.Add([]byte{2, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := Decode(data)
		owned, oerr := DecodeOwned(bytes.Clone(data))
		if (err == nil) != (oerr == nil) || !reflect.DeepEqual(owned, st) {
			t.Fatalf("DecodeOwned = %+v, %v; Decode %+v, %v", owned, oerr, st, err)
		}
		if err != nil {
			return
		}
		b, err := Encode(st)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(b)
		if err != nil || !reflect.DeepEqual(again, st) {
			t.Fatalf("re-decoded %+v, %v; want %+v", again, err, st)
		}
	})
}

// encodeRef is Encode as it was before it read each map once into sorted
// pairs: the keys sorted, each value looked up again.
func encodeRef(s State) []byte {
	var b []byte
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
	for _, m := range []map[string]string{s.Answers, s.Context} {
		b = binary.AppendUvarint(b, uint64(len(m)))
		keys := slices.Sorted(maps.Keys(m))
		for _, k := range keys {
			b = appendString(b, k)
			b = appendString(b, m[k])
		}
	}
	return b
}

// TestEncodeAsBefore: Encode writes the bytes encodeRef writes, for the
// states of random walks of the shipped and test questionnaires and for
// maps of 0 to 65,537 entries (more than the 64 answers and 16 context
// entries kept on the stack, more than the 65,536 its index sort orders),
// with keys that share prefixes, are empty or are not ASCII.
func TestEncodeAsBefore(t *testing.T) {
	check := func(s State) {
		t.Helper()
		got, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if want := encodeRef(s); !bytes.Equal(got, want) {
			t.Fatalf("Encode(%+v)\n got %x\nwant %x", s, got, want)
		}
	}
	files, _ := filepath.Glob("forms/*.yaml")
	good, _ := filepath.Glob("testdata/good/*.yaml")
	states := 0
	for _, file := range append(files, good...) {
		f := mustParseFile(t, file)
		rng := rand.New(rand.NewSource(3))
		x := newSession(t, f)
		x.do(Input{Kind: InStart, Context: map[string]string{"invite": "AbCdEfGhIjKlMnOpQrStUv", "municipality": "058091"}})
		x.do(Input{Kind: InSetLanguage, Lang: "it"})
		for range 120 {
			x.do(sensibleInput(rng, x))
			check(x.s)
			states++
		}
	}
	keys := []string{"", "a", "ab", "a b", "é", "ü1", "z", "日本", "\xff", "a\x00"}
	for _, n := range []int{0, 1, 2, 16, 17, 63, 64, 65, 200, 1<<16 + 1} {
		s := State{Form: "f", Lang: "ar", Langs: []string{"ar", "it"}, Back: []int{-1, 3, 400}, Answers: map[string]string{}}
		if n > 0 {
			s.Context = map[string]string{}
		}
		for i := range n {
			s.Answers[keys[i%len(keys)]+strconv.Itoa(i/len(keys))] = strconv.Itoa(i * 7)
			s.Context[keys[(i+3)%len(keys)]+strconv.Itoa(i)] = keys[i%len(keys)]
		}
		check(s)
		states++
	}
	t.Logf("%d states encoded as before", states)
}
