package locales

import "testing"

// Text caches messages rendered without data; the cached rendering must be
// the one go-i18n gives, and ids the catalog does not know stay uncached.
func TestTextCacheSameAsRendering(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range c.Languages() {
		for id := range c.IDs(l.Code) {
			want := c.text(l.Code, id, nil)
			for i := 0; i < 2; i++ { // miss, then hit
				if got := c.Text(l.Code, id, nil); got != want {
					t.Fatalf("Text(%s, %s) call %d = %q, want %q", l.Code, id, i, got, want)
				}
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no messages checked")
	}
	if got := c.Text(Source, "no.such.id", nil); got != "no.such.id" {
		t.Fatalf("unknown id rendered %q", got)
	}
	if _, ok := c.plain[Source].Load("no.such.id"); ok {
		t.Fatal("unknown id cached")
	}
}
