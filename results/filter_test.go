package results

import (
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/storage/pgstore"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, f := range []Filter{
		{Form: "immigrati"},
		{Form: "operatori", Days: 7, Municipality: 3, Service: 12, Language: "it"},
		{Form: "immigrati", Days: 90, Municipality: 1 << 40, Service: 1 << 40, Language: "zh-Hans"},
	} {
		for v := range verbs {
			p := encodePayload(v, f)
			gotV, got, err := decodePayload(p)
			if err != nil || gotV != v || got != f {
				t.Fatalf("decode(encode(%q, %+v)) = %q %+v %v", v, f, gotV, got, err)
			}
			k, err := button("x", v, f)
			if err != nil {
				t.Fatalf("button %q %+v: %v", v, f, err)
			}
			if len(k.Data) > bot.MaxCallbackData {
				t.Fatalf("callback data %q is %d bytes", k.Data, len(k.Data))
			}
			cb, err := bot.DecodeCallback(k.Data)
			if err != nil || cb.Kind != bot.CbStaff || cb.Option != string(menu.Results)+p {
				t.Fatalf("callback %q decodes to %+v, %v", k.Data, cb, err)
			}
		}
	}
}

func TestPayloadRejects(t *testing.T) {
	for _, p := range []string{
		"", "s", "s.immigrati.0.1.0", "s.immigrati.0.1.0..x", "z.immigrati.0.1.0.", "s..0.1.0.",
		"s.immigrati.5.1.0.", "s.immigrati.07.1.0.", "s.immigrati.0.-1.0.", "s.immigrati.0.01.0.",
		"s.immigrati.0.1.0.it;DROP", "s.immi-grati.0.1.0.", "s.immigrati.0.1.0.it.x", "s.immigrati.x.1.0.",
		"s.immigrati.0.zzzzzzzzzzzzzzzzzzzzzz.0.",
	} {
		if v, f, err := decodePayload(p); err == nil {
			t.Errorf("decodePayload(%q) = %q %+v, want an error", p, v, f)
		}
	}
}

func FuzzPayload(f *testing.F) {
	f.Add("s.immigrati.30.1.0.it")
	f.Add("E.operatori.0.a.b.zh-Hans")
	f.Add("x..0.0.0.")
	f.Fuzz(func(t *testing.T, p string) {
		v, filter, err := decodePayload(p)
		if err != nil {
			return
		}
		if again := encodePayload(v, filter); again != p {
			t.Fatalf("decode(%q) re-encodes as %q", p, again)
		}
	})
}

func TestSince(t *testing.T) {
	rome := pgstore.ResultsLocation()
	// 00:30 on 10 March in Rome is still 9 March in UTC.
	now := time.Date(2025, 3, 10, 0, 30, 0, 0, rome)
	for _, tc := range []struct {
		days int
		want time.Time
	}{
		{0, time.Time{}},
		{7, time.Date(2025, 3, 3, 0, 0, 0, 0, rome)},
		{30, time.Date(2025, 2, 8, 0, 0, 0, 0, rome)},
		// Across the switch to summer time (30 March 2025).
		{90, time.Date(2024, 12, 10, 0, 0, 0, 0, rome)},
	} {
		got := Filter{Days: tc.days}.Since(now)
		if !got.Equal(tc.want) {
			t.Errorf("Since(%d days) = %s, want %s", tc.days, got, tc.want)
		}
	}
	summer := time.Date(2025, 4, 2, 12, 0, 0, 0, rome)
	if got := (Filter{Days: 7}).Since(summer); got.In(rome).Hour() != 0 || got.In(rome).Day() != 26 {
		t.Errorf("Since across summer time = %s, want midnight of 26 March in Rome", got.In(rome))
	}
	if got := Until(now); !got.Equal(time.Date(2025, 3, 10, 0, 0, 0, 0, rome)) {
		t.Errorf("Until = %s, want midnight of 10 March in Rome", got)
	}
}

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "",
		"ciao":                             "ciao",
		"=1+1":                             "'=1+1",
		"+39 333":                          "'+39 333",
		"-2+3":                             "'-2+3",
		"@SUM(A1)":                         "'@SUM(A1)",
		"\t=cmd":                           "'\t=cmd",
		"\r=cmd":                           "'\r=cmd",
		`=HYPERLINK("http://x","click")`:   `'=HYPERLINK("http://x","click")`,
		"-3":                               "-3",
		"-2.5":                             "-2.5",
		"42":                               "42",
		"a=b":                              "a=b",
		"-":                                "'-",
		"-3 ":                              "'-3 ",
		"'already":                         "'already",
		"=cmd|' /C calc'!A0":               "'=cmd|' /C calc'!A0",
		strings.Repeat("x", 3) + "=danger": "xxx=danger",
	} {
		if got := Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}
