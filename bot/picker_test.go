package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/interview"
)

func pickerCodes(t *testing.T, m Message) (codes []string, page *Callback, pageKey string) {
	t.Helper()
	for _, row := range m.Keyboard {
		for _, k := range row {
			cb, err := DecodeCallback(k.Data)
			if err != nil || cb.Kind != CbLanguage {
				t.Fatalf("key %q carries %q", k.Text, k.Data)
			}
			if cb.Option == pageOption {
				if page != nil {
					t.Fatalf("two page keys")
				}
				c := cb
				page, pageKey = &c, k.Text
				continue
			}
			codes = append(codes, cb.Option)
		}
	}
	return codes, page, pageKey
}

// The 23 languages' picker: the suggested language first (one tap), then the
// municipality's most used, the usual order after; ten on the first page,
// the rest one "More languages" tap away, every language exactly once.
func TestLanguagePickerPages(t *testing.T) {
	r := newRig(t)
	h := r.handler
	h.cfg.PopularLanguages = func(_ context.Context, m string) []string {
		if m != "7" {
			t.Errorf("popular languages of %q", m)
		}
		return []string{"ti", "so", "fa"}
	}
	ctx := context.Background()
	sctx := map[string]string{interview.CtxMunicipality: "7"}
	first := h.languagePage(ctx, "fa", "fa-AF", sctx, 0)
	codes, page, label := pickerCodes(t, first)
	if want := []string{"fa", "ti", "so", "it", "en", "fr", "es", "pt", "ar", "ro"}; strings.Join(codes, " ") != strings.Join(want, " ") {
		t.Fatalf("first page %v, want %v", codes, want)
	}
	if len(first.Keyboard) != 6 || len(first.Keyboard[5]) != 1 {
		t.Fatalf("first page rows %d: five rows of two and the page key", len(first.Keyboard))
	}
	if page == nil || page.Pos != 1 {
		t.Fatalf("no key to the second page")
	}
	if label != "🌐 زبان\u200cهای دیگر ◂" {
		t.Errorf("Persian page key %q: in Persian, pointing the way Persian reads", label)
	}
	if first.Keyboard[0][0].Text != "فارسی" {
		t.Errorf("first key %q", first.Keyboard[0][0].Text)
	}
	second := h.languagePage(ctx, "fa", "fa-AF", sctx, 1)
	rest, back, _ := pickerCodes(t, second)
	if back == nil || back.Pos != 0 {
		t.Fatalf("no key back to the first page")
	}
	all := map[string]int{}
	for _, c := range append(codes, rest...) {
		all[c]++
	}
	for _, l := range h.cfg.Catalog.Languages() {
		if all[l.Code] != 1 {
			t.Errorf("%s offered %d times", l.Code, all[l.Code])
		}
	}
	if len(all) != 23 {
		t.Errorf("%d languages offered, want 23", len(all))
	}
	// Left-to-right: the arrow points right; no hint, no municipality: the
	// usual order.
	it := h.languagePage(ctx, "it", "", nil, 0)
	codes, _, label = pickerCodes(t, it)
	if codes[0] != "it" || len(codes) != pickerFirstPage {
		t.Errorf("Italian first page %v", codes)
	}
	if label != "🌐 Altre lingue ▸" {
		t.Errorf("Italian page key %q", label)
	}
}

// A form published for fewer languages offers only those, whatever
// Telegram suggests or the municipality's respondents use most.
func TestLanguagePickerFormLanguages(t *testing.T) {
	r := newRig(t)
	h := r.handler
	h.cfg.PopularLanguages = func(context.Context, string) []string { return []string{"ti", "en", "fa"} }
	snap := *h.cfg.Library.Current()
	snap.Languages = map[string][]string{"vicinato": {"it", "en"}}
	sctx := map[string]string{interview.CtxMunicipality: "7"}
	m := h.formLanguagePage(context.Background(), &snap, "vicinato", "fa", "fa-AF", sctx, 0)
	codes, page, _ := pickerCodes(t, m)
	if strings.Join(codes, " ") != "en it" || page != nil {
		t.Fatalf("form published for it and en offers %v (page key %v)", codes, page != nil)
	}
	// Another form of the same snapshot still speaks every language.
	all := h.formLanguagePage(context.Background(), &snap, "immigrati", "fa", "fa-AF", sctx, 0)
	if codes, _, _ := pickerCodes(t, all); len(codes) != pickerFirstPage || codes[0] != "fa" {
		t.Fatalf("shipped form offers %v", codes)
	}
}
