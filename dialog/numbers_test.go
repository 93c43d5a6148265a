package dialog

import "testing"

// TestDigitsOfEveryScript: typed numbers and dates are read in the digits
// of every script our 23 languages write, the seven of issue 15 included.
func TestDigitsOfEveryScript(t *testing.T) {
	tests := []struct {
		script, in, want string
	}{
		{"ASCII", "0123456789", "0123456789"},
		{"Arabic-Indic (ar)", "٠١٢٣٤٥٦٧٨٩", "0123456789"},
		{"Extended Arabic-Indic (fa, ps, ur)", "۰۱۲۳۴۵۶۷۸۹", "0123456789"},
		{"Devanagari (hi)", "०१२३४५६७८९", "0123456789"},
		{"Bengali (bn)", "০১২৩৪৫৬৭৮৯", "0123456789"},
		{"Gurmukhi (pa)", "੦੧੨੩੪੫੬੭੮੯", "0123456789"},
		{"Tamil (ta)", "௦௧௨௩௪௫௬௭௮௯", "0123456789"},
		{"Sinhala lith (si)", "෦෧෨෩෪෫෬෭෮෯", "0123456789"},
		{"full-width (zh)", "０１２３４５６７８９", "0123456789"},
		{"mixed", "۱۹ years ௨0", "19 years 20"},
	}
	for _, tt := range tests {
		if got := NormalizeDigits(tt.in); got != tt.want {
			t.Errorf("%s: NormalizeDigits(%q) = %q, want %q", tt.script, tt.in, got, tt.want)
		}
	}
}

func TestParseNumberNativeDigits(t *testing.T) {
	tests := []struct {
		in      string
		decimal bool
		want    string
		ok      bool
	}{
		{"۴۲", false, "42", true},      // Persian / Pashto
		{"٤٢", false, "42", true},      // Arabic
		{"௪௨", false, "42", true},      // Tamil
		{"෪෨", false, "42", true},      // Sinhala lith
		{"۱٬۲۰۰", false, "1200", true}, // Persian thousands separator
		{"۳٫۵", true, "3.5", true},     // Persian decimal separator
		{"௩,௫", true, "3.5", true},     // Tamil digits, decimal comma
		{"෧.෫", true, "1.5", true},     // Sinhala lith, decimal point
		{"−۷", false, "-7", true},      // minus sign
		{"۱۲a", false, "", false},      // a letter is no digit
		{"፲፱", false, "19", true},      // Ethiopic numerals (not digits: ParseNumeral)
		{"۳٫۵", false, "", false},      // no decimals where integers are asked
		{"", false, "", false},
	}
	for _, tt := range tests {
		got, ok := ParseNumber(tt.in, tt.decimal)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseNumber(%q, %v) = %q, %v; want %q, %v", tt.in, tt.decimal, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseDateNativeDigits(t *testing.T) {
	tests := map[string]string{
		"۱۵/۰۳/۲۰۲۴": "2024-03-15", // Persian
		"௨௦௨௪-௦௩":    "2024-03",    // Tamil
		"෦෩/෨෦෨෪":    "2024-03",    // Sinhala lith
		"٢٠٢٤-٠٣-١٥": "2024-03-15", // Arabic
	}
	for in, want := range tests {
		if got, ok := ParseDate(in); !ok || got != want {
			t.Errorf("ParseDate(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
