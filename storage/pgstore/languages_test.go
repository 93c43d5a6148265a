package pgstore_test

import (
	"testing"
	"time"
)

func TestPopularLanguages(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	for i, lang := range []string{"ar", "it", "ar", "uk", "ar", "it"} {
		c := e.completed(t, "pop-"+string(rune('a'+i)), "")
		c.Response.Language = lang
		c.Response.Started, c.Response.Completed = now.Add(-time.Hour), now
		if err := e.db.SaveResponse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	old := e.completed(t, "pop-old", "")
	old.Response.Language = "ru" // completed long ago: not counted
	if err := e.db.SaveResponse(ctx, old); err != nil {
		t.Fatal(err)
	}
	m, _ := e.municipality(t, "100005", "anagrafe")
	got, err := e.db.PopularLanguages(ctx, m, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "ar" || got[1] != "it" {
		t.Fatalf("popular languages %v, want [ar it]", got)
	}
	// Below the minimum cell a language is not shown: ar has 3, it 2, uk 1.
	if got, err := e.db.PopularLanguages(ctx, m, 4, 3); err != nil || len(got) != 1 || got[0] != "ar" {
		t.Fatalf("popular languages with at least 3: %v %v, want [ar]", got, err)
	}
	other, _ := e.municipality(t, "058091", "anagrafe")
	if got, err := e.db.PopularLanguages(ctx, other, 4, 1); err != nil || len(got) != 0 {
		t.Fatalf("another municipality: %v %v", got, err)
	}
}
