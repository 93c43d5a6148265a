package bot

import (
	"strings"
	"testing"
)

func TestCallbackCodec(t *testing.T) {
	good := []Callback{
		{Kind: CbChoose, Pos: 5, Seq: 12, Option: "trovare_lavoro"},
		{Kind: CbToggle, Pos: 120, Seq: 4294967295, Option: strings.Repeat("x", 32)},
		{Kind: CbDone, Pos: 0, Seq: 0},
		{Kind: CbLanguage, Option: "zh-Hans"},
		{Kind: CbDelete, Option: "yes"},
	}
	for _, c := range good {
		data, err := c.Encode()
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if len(data) > MaxCallbackData {
			t.Fatalf("%q is %d bytes", data, len(data))
		}
		got, err := DecodeCallback(data)
		if err != nil || got != c {
			t.Fatalf("round trip %+v → %q → %+v, %v", c, data, got, err)
		}
	}
	bad := []string{"", "1", "2c5.1.x", "1z5.1.x", "1c5", "1c5.1", "1c-5.1.x", "1c05.1.x", "1cZZZZZZZZZZ.1.x",
		"1c5.zzzzzzzzzzzz.x", strings.Repeat("1c5.1.", 20)}
	for _, data := range bad {
		if c, err := DecodeCallback(data); err == nil {
			t.Errorf("%q decoded as %+v", data, c)
		}
	}
	if _, err := (Callback{Kind: CbChoose, Option: strings.Repeat("x", 60)}).Encode(); err == nil {
		t.Error("over-long callback encoded")
	}
	if _, err := (Callback{Kind: 'q'}).Encode(); err == nil {
		t.Error("unknown kind encoded")
	}
}

func FuzzCallbackCodec(f *testing.F) {
	f.Add("1c5.c.trovare_lavoro")
	f.Add("1L0.0.zh-Hans")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, data string) {
		c, err := DecodeCallback(data)
		if err != nil {
			return
		}
		again, err := c.Encode()
		if err != nil {
			t.Fatalf("decoded %q but cannot encode %+v: %v", data, c, err)
		}
		if again != data {
			t.Fatalf("%q → %+v → %q", data, c, again)
		}
	})
}
