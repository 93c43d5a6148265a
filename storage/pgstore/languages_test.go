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

// TestLanguageCache: within its TTL the cache answers without asking
// Postgres again (a new response does not show); after it, it asks again.
func TestLanguageCache(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	save := func(id, lang string) {
		t.Helper()
		c := e.completed(t, id, "")
		c.Response.Language = lang
		c.Response.Started, c.Response.Completed = now.Add(-time.Hour), now
		if err := e.db.SaveResponse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	save("cache-a", "ar")
	m, _ := e.municipality(t, "100005", "anagrafe")
	clock := now
	cache := e.db.LanguageCache(4, 1, 10*time.Minute, func() time.Time { return clock })
	if got := cache.Get(ctx, m); len(got) != 1 || got[0] != "ar" {
		t.Fatalf("first Get = %v, want [ar]", got)
	}
	save("cache-b", "uk")
	clock = now.Add(9 * time.Minute)
	if got := cache.Get(ctx, m); len(got) != 1 {
		t.Fatalf("within the TTL Get = %v, want the cached [ar]", got)
	}
	clock = now.Add(11 * time.Minute)
	if got := cache.Get(ctx, m); len(got) != 2 {
		t.Fatalf("after the TTL Get = %v, want [ar uk] from Postgres", got)
	}
}
