package results

import (
	"regexp"
	"testing"
)

func TestMaskFreeText(t *testing.T) {
	t.Parallel()
	m := NewMasker()
	for _, c := range []struct{ name, in, want string }{
		{"plain text stays", "Servono più corsi di italiano la sera", "Servono più corsi di italiano la sera"},
		{"a year stays", "sono in Italia dal 2019", "sono in Italia dal 2019"},
		{"four digits stay", "ho pagato 1200 euro", "ho pagato 1200 euro"},
		{"email", "scrivetemi a mario.rossi+x@example.co.uk grazie", "scrivetemi a [email] grazie"},
		{"email, unicode local part", "é.ñ@dominio.it", "[email]"},
		{"italian mobile with spaces", "chiamami al +39 333 123 4567", "chiamami al [phone]"},
		{"mobile without separators", "3331234567", "[phone]"},
		{"landline with dash and parentheses", "tel. (02) 1234-5678 ore ufficio", "tel. [phone] ore ufficio"},
		{"dotted number", "06.1234.5678", "[phone]"},
		{"arabic-indic digits", "رقمي ٠٥٥١٢٣٤٥٦٧", "رقمي [phone]"},
		{"devanagari digits", "फोन ९८७६५४३२१०", "फोन [phone]"},
		{"full-width digits", "電話 ０９０１２３４５６７８", "電話 [phone]"},
		{"postcode", "abito al 20121 vicino alla stazione", "abito al [number] vicino alla stazione"},
		{"six digits", "pratica 123456", "pratica [number]"},
		{"tax code", "il mio codice è RSSMRA85T10A562S", "il mio codice è [code]"},
		{"permit number", "permesso n. I12345678", "permesso n. [code]"},
		{"passport", "passaporto YA1234567", "passaporto [code]"},
		{"iban", "IBAN IT60X0542811101000000123456", "IBAN [code]"},
		{"telegram handle", "scrivimi @mario_rossi88", "scrivimi [account]"},
		{"link", "vedi https://t.me/mario?x=1 e www.example.it/pagina", "vedi [link] e [link]"},
		{"t.me link", "t.me/mariorossi", "[link]"},
		{"word with one digit stays", "covid19", "covid19"},
		{"two numbers with words", "ho 2 figli di 5 e 7 anni", "ho 2 figli di 5 e 7 anni"},
		{"birth date", "nato il 12/05/1985 a Lagos", "nato il [date] a Lagos"},
		{"short date", "arrivato il 1.2.19", "arrivato il [date]"},
		{"iso date", "scadenza 2027-03-31", "scadenza [date]"},
		{"month and year stay", "da 05/2019", "da 05/2019"},
		{"several in one", "a@b.it, 333 1234567, 12345", "[email], [phone], [number]"},
	} {
		if got := m.Mask(c.in); got != c.want {
			t.Errorf("%s: Mask(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

// FuzzMask: whatever the text, what Mask returns holds no run of 5 or more
// digits (of any script) and no e-mail address.
func FuzzMask(f *testing.F) {
	for _, s := range []string{"", "333 1234567", "a@b.it", "٠٥٥١٢٣٤٥٦٧", "RSSMRA85T10A562S", "12/05/1985", "1 2 3 4 5 6 7 8", "x@y.z@w.it 12345"} {
		f.Add(s)
	}
	m := NewMasker()
	digits := regexp.MustCompile(`\p{Nd}{5,}`)
	email := regexp.MustCompile(`[\p{L}\p{Nd}._%+\-]+@[\p{L}\p{Nd}\-]+(?:\.[\p{L}\p{Nd}\-]+)+`)
	f.Fuzz(func(t *testing.T, s string) {
		out := m.Mask(s)
		if digits.MatchString(out) || email.MatchString(out) {
			t.Fatalf("Mask(%q) = %q", s, out)
		}
	})
}
