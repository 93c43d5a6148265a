package staff

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/org"
)

// The largest drafts still fit Telegram's 64 bytes of callback data.
func TestOptionsFitCallbackData(t *testing.T) {
	big := int64(36*36*36*36 - 1) // 1.7 million municipalities or services (Italy has about 8,000 comuni)
	opts := []string{
		linkOpt(linkDraft{Role: org.RoleOperator, Muni: menu.Some(big), Svc: menu.Some(big), Days: 90, Page: 1000}),
		inviteOpt(inviteDraft{Form: 9, Muni: big, Svc: menu.Some(big), Valid: menu.Some(90), Uses: menu.Some(50), Page: 1000, Asked: true, Label: strings.Repeat("é", maxLabel/2)}),
		actionOpt(optPoster, idAction{Confirm: true, ID: int64(1)<<50 - 1}),
		actionOpt(optRevokeInvite, idAction{Confirm: true, ID: int64(1)<<50 - 1}),
		string(menu.Directory) + dirDraft{Op: dirEdit, Muni: big, Entry: menu.Some(int64(1)<<40 - 1), At: 10, Field: 9, Val: menu.Some(99), Page: 1000}.encode(),
	}
	for _, o := range opts {
		if _, err := (bot.Callback{Kind: bot.CbStaff, Option: o}).Encode(); err != nil {
			t.Errorf("%q (%d bytes) does not fit: %v", o, len(o), err)
		}
	}
}

func TestOptionRoundTrip(t *testing.T) {
	links := []linkDraft{{}, {Role: org.RoleAdmin}, {Role: org.RoleOperator, Muni: menu.Some(12), Svc: menu.Some(0), Days: 7},
		{Role: org.RoleManager, Muni: menu.Some(40), Page: 3}}
	for _, d := range links {
		got, err := parseLink(d.encode())
		if err != nil || got != d {
			t.Errorf("link %+v → %q → %+v, %v", d, d.encode(), got, err)
		}
	}
	invites := []inviteDraft{newInviteDraft(""), newInviteDraft("Via Roma. desk"),
		{Form: 2, Muni: 5, Svc: menu.Some(0), Valid: menu.Some(0), Uses: menu.Some(0), Label: "x"},
		{Form: 1, Muni: 5, Svc: menu.Some(77), Valid: menu.Some(90), Uses: menu.Some(1), Page: 2, Asked: true}}
	for _, d := range invites {
		got, err := parseInvite(d.encode())
		if err != nil || got != d {
			t.Errorf("invite %+v → %q → %+v, %v", d, d.encode(), got, err)
		}
	}
	dirs := []dirDraft{{Op: dirPick}, {Op: dirList, Muni: 3, Page: 2}, {Op: dirAdd, Muni: 3, Entry: menu.Some(0), At: 4, Val: menu.Some(2)},
		{Op: dirEdit, Muni: 3, Entry: menu.Some(9), Field: 9}}
	for _, d := range dirs {
		got, err := parseDir(d.encode())
		if err != nil || got != d {
			t.Errorf("directory %+v → %q → %+v, %v", d, d.encode(), got, err)
		}
	}
	for _, bad := range []string{"", ".", "....", "x....", ".01...", "....-1", "0.0.0.0", "0..........", "a.1.2.3.4.5.6.7",
		"0.0.....2.", "0.0......\x01", "0.0.....x", "?", "?0", "!-1", "?01", "0", "z?", "!", "!0", "*1", "e.1..0.10..0", "q.1..0.0..0"} {
		if _, err := parseLink(bad); err == nil {
			t.Errorf("parseLink(%q) accepted", bad)
		}
		if _, err := parseInvite(bad); err == nil {
			t.Errorf("parseInvite(%q) accepted", bad)
		}
		if _, err := parseIDAction(bad); err == nil {
			t.Errorf("parseIDAction(%q) accepted", bad)
		}
		if _, err := parseDir(bad); err == nil {
			t.Errorf("parseDir(%q) accepted", bad)
		}
	}
}

func FuzzOptions(f *testing.F) {
	for _, s := range []string{"....", "o.c..7.0", "1.c..7.1.0..label", "1.c.0.7.1.0.1.", "0.0.....", "?c", "!1", "3", "!3", "l.3..0.0..0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Whatever arrives, a parsed value encodes back to exactly the
		// input (one canonical form per meaning), and never panics.
		if d, err := parseLink(s); err == nil && d.encode() != s {
			t.Fatalf("link %q → %q", s, d.encode())
		}
		if d, err := parseInvite(s); err == nil {
			if d.encode() != s || !utf8.ValidString(d.Label) || len(d.Label) > maxLabel {
				t.Fatalf("invite %q → %+v", s, d)
			}
		}
		if a, err := parseIDAction(s); err == nil && (a.encode() != s || a.ID <= 0) {
			t.Fatalf("action %q → %+v", s, a)
		}
		if d, err := parseDir(s); err == nil && d.encode() != s {
			t.Fatalf("directory %q → %q", s, d.encode())
		}
	})
}

func TestCleanLabel(t *testing.T) {
	for in, want := range map[string]string{
		"  Via  Roma\ndesk ":    "Via Roma desk",
		"a\x00b":                "a b",
		strings.Repeat("è", 40): strings.Repeat("è", 16),
		"Sportello – bacheca, piano terra, ingresso B": "Sportello – bacheca, piano ter",
	} {
		if got := cleanLabel(in); got != want {
			t.Errorf("cleanLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for id := range int64(1000) {
		inv, ok := inviteToken(tokenKey, id+1)
		st, err := NewStaffToken(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || !tokenRe.MatchString(inv) || !tokenRe.MatchString(st) || len(inv) != 20 || IsStaffToken(inv) || !IsStaffToken(st) {
			t.Fatalf("tokens %q %q", inv, st)
		}
		if seen[inv] || seen[st] {
			t.Fatal("token repeated")
		}
		seen[inv], seen[st] = true, true
		// The same id and key give the same token; another key another.
		if again, _ := inviteToken(tokenKey, id+1); again != inv {
			t.Fatalf("token of %d not stable: %q, %q", id+1, inv, again)
		}
		if other, _ := inviteToken(pseudoKey, id+1); other == inv {
			t.Fatalf("token of %d does not depend on the key", id+1)
		}
	}
	if _, err := NewStaffToken(bytes.NewReader(nil)); err == nil {
		t.Fatal("an empty random source gave a token")
	}
}

// Every message the staff side renders exists in English and Italian, with
// a description in English, and renders without template leftovers.
func TestStaffMessages(t *testing.T) {
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range locales.Lint(cat, MessageIDs(lib.IDs()...)) {
		// Lint also reports on the other packages' messages.
		if strings.Contains(p, `"s.`) || strings.Contains(p, "staff.") {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		t.Fatalf("message problems:\n%s", strings.Join(problems, "\n"))
	}
	r := bot.NewRenderer(cat)
	data := map[string]any{"Name": "N", "Role": "R", "Scope": "S", "Municipality": "M", "Service": "V", "Until": "U",
		"Link": "L", "Label": "B", "Form": "F", "Status": "T", "Started": 1, "Completed": 2, "Created": "C", "N": 3,
		"Count": 2, "ISTAT": "048017", "Code": "c", "Shown": 1, "Total": 2, "ID": 4, "Kind": "K",
		"Address": "A", "Coordinates": "1, 2", "Phone": "P", "Website": "W", "Hours": "H", "Languages": "it", "Areas": "X",
		"Free": "Y", "Appointment": "Z",
		"MB": 5, "File": "f.xlsx", "Reason": "why", "Version": 2, "Latest": 1, "Title": "T", "Language": "it"}
	for _, lang := range []string{"en", "it"} {
		for _, id := range MessageIDs() {
			got := r.Text(lang, id, data)
			if got == "" || got == id || strings.Contains(got, "<no value>") || strings.Contains(got, "{{") {
				t.Errorf("%s %s renders %q", lang, id, got)
			}
		}
	}
}
