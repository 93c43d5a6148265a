package main

import (
	"context"
	"math/rand/v2"

	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/internal/loadtest"
	"github.com/needsbot/needsbot/locales"
)

// TestEndToEndEveryLanguage: through the real binary and the fake Bot API,
// one respondent per supported language (23) walks the immigrants'
// questionnaire to completion, all at once. Half of them have a phone in
// their language (the picker must offer it first: one tap); the others
// have none, and find theirs in the usual order, on the menu's second page
// when it is not on the first. Each response is stored in its language,
// with its answers.
func TestEndToEndEveryLanguage(t *testing.T) {
	t.Parallel()
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	form := lib.Latest("immigrati")
	if n := len(cat.Languages()); n != 23 {
		t.Fatalf("%d languages, want 23", n)
	}
	// Telegram's pacing is tested elsewhere: here 23 people answer at machine speed.
	h := fast(newHarness(t, telegramtest.WithoutRateLimits()))
	h.start()
	secondPage := 0
	texts := loadtest.TextsOf(cat, form)
	t.Run("walk", func(t *testing.T) {
		for i, l := range cat.Languages() {
			hint := ""
			if i%2 == 0 {
				hint = l.Code
			}
			id := int64(7_700_001 + i)
			u := h.tg.User(id, telegramtest.FirstName("R"), telegramtest.LanguageCode(hint))
			if hint == "" && i >= 10 {
				secondPage++
			}
			t.Run(l.Code, func(t *testing.T) {
				t.Parallel()
				r := &loadtest.Walker{User: u, Form: form, Rng: rand.New(rand.NewPCG(15, uint64(i))), Lang: l.Code,
					Comment: "ok ۱۲ ௧௨ ෧෨", Timeout: slow(30 * time.Second), Texts: texts}
				err := r.Interview(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				msgs := u.Messages()
				if hint != "" {
					// The picker's first key is the phone's language.
					for _, m := range msgs {
						if !m.FromBot {
							continue
						}
						if strings.HasPrefix(m.Text, "🌐 ") && len(m.Buttons) == 0 {
							// The settled menu names the choice.
							if m.Text != "🌐 "+l.Name {
								t.Errorf("menu settled as %q, want %q", m.Text, "🌐 "+l.Name)
							}
							break
						}
					}
					if taps := r.Taps("language"); taps != 1 {
						t.Errorf("%d taps to choose the suggested language, want 1", taps)
					}
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	rows, err := h.db().Query(context.Background(), `SELECT r.language, count(DISTINCT r.id), count(a.*) FROM responses r
		JOIN answers a ON a.response_id = r.id WHERE r.form = 'immigrati' GROUP BY r.language`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for rows.Next() {
		var lang string
		var n, answers int
		if err := rows.Scan(&lang, &n, &answers); err != nil {
			t.Fatal(err)
		}
		got[lang] = [2]int{n, answers}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, l := range cat.Languages() {
		if c := got[l.Code]; c[0] != 1 || c[1] < 10 {
			t.Errorf("%s: %d responses with %d answers, want 1 complete", l.Code, c[0], c[1])
		}
	}
	if secondPage == 0 {
		t.Error("no respondent used the picker's second page")
	}
	if vs := h.tg.Violations(); len(vs) > 0 {
		t.Fatalf("Bot API limits violated: %+v", vs)
	}
	t.Logf("23 interviews completed; %d languages found on the picker's second page", secondPage)
}
