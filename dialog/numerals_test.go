package dialog

import "testing"

// TestParseNumeral: Ethiopic numerals (Tigrinya, Amharic) and Chinese or
// Japanese ones are read as numbers where typed numbers are; what is no
// well-formed number is not.
func TestParseNumeral(t *testing.T) {
	tests := []struct {
		script, in string
		want       int64
		ok         bool
	}{
		{"Ethiopic", "፫", 3, true},
		{"Ethiopic", "፲", 10, true},
		{"Ethiopic", "፲፱", 19, true},
		{"Ethiopic", "፳", 20, true},
		{"Ethiopic", "፳፭", 25, true},
		{"Ethiopic", "፴", 30, true},
		{"Ethiopic", "፺፱", 99, true},
		{"Ethiopic", "፻", 100, true},
		{"Ethiopic", "፻፳፫", 123, true},
		{"Ethiopic", "፪፻", 200, true},
		{"Ethiopic", "፲፻", 1000, true},
		{"Ethiopic", "፲፱፻፹፮", 1986, true},
		{"Ethiopic", "፳፻፲፮", 2016, true},
		{"Ethiopic", "፼", 10000, true},
		{"Ethiopic", "፻፼", 1000000, true},
		{"Ethiopic, spaced", " ፳ ፭ ", 25, true},
		{"Ethiopic, minus", "-፫", -3, true},
		{"Ethiopic, units before tens", "፫፳", 0, false},
		{"Ethiopic, two units", "፫፫", 0, false},
		{"Ethiopic, two tens", "፳፲", 0, false},
		{"Ethiopic, hundred twice", "፻፻", 0, false},
		{"Chinese", "三", 3, true},
		{"Chinese", "十", 10, true},
		{"Chinese", "十五", 15, true},
		{"Chinese", "三十", 30, true},
		{"Chinese", "二十五", 25, true},
		{"Chinese", "两", 2, true},
		{"Chinese", "一百", 100, true},
		{"Chinese", "一百零五", 105, true},
		{"Chinese", "一百一十", 110, true},
		{"Chinese, elided unit", "三百五", 350, true},
		{"Chinese, elided unit", "一万二", 12000, true},
		{"Chinese", "两千零二十四", 2024, true},
		{"Chinese", "二十万", 200000, true},
		{"Chinese", "一亿五千万", 150000000, true},
		{"Chinese, positional", "二〇二四", 2024, true},
		{"Chinese, positional", "〇", 0, true},
		{"Chinese, zero", "零", 0, true},
		{"Chinese, financial", "叁拾", 30, true},
		{"Traditional", "貳拾伍", 25, true},
		{"Traditional", "一萬", 10000, true},
		{"Chinese, 廿", "廿五", 25, true},
		{"Japanese", "二千二十四", 2024, true},
		{"Chinese, full-width space", "三　十", 30, true},
		{"Chinese, digit after digit", "二五十", 0, false},
		{"Chinese, units rising", "十百", 0, false},
		{"Chinese, zero first", "零五十", 0, false},
		{"Chinese, large twice", "万万", 0, false},
		{"Chinese, a word", "三十岁", 0, false},
		{"scripts mixed", "三፫", 0, false},
		{"decimal digits are ParseNumber's", "30", 0, false},
		{"mixed with decimal digits", "3十", 0, false},
		{"empty", "", 0, false},
		{"a minus alone", "-", 0, false},
		{"minus twice", "--三", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseNumeral(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: ParseNumeral(%q) = %d, %v; want %d, %v", tt.script, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestParseNumberNumerals: ParseNumber, which numeric questions and typed
// numbers at banded lists use, reads them too (whole numbers only).
func TestParseNumberNumerals(t *testing.T) {
	for _, tt := range []struct {
		in      string
		decimal bool
		want    string
	}{
		{"፫", false, "3"}, {"፴", true, "30"}, {"፳፭", false, "25"}, {"三十", true, "30"}, {"二十五", false, "25"},
		{"十", false, "10"}, {"三", true, "3"}, {"−三", false, "-3"},
	} {
		if got, ok := ParseNumber(tt.in, tt.decimal); !ok || got != tt.want {
			t.Errorf("ParseNumber(%q, %v) = %q, %v; want %q", tt.in, tt.decimal, got, ok, tt.want)
		}
	}
}
