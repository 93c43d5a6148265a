package bot

import (
	"testing"

	"github.com/needsbot/needsbot/dialog"
)

// A list of up to seven options is never cut into pages, in any language:
// a page of a paged list shows six rows and the page key, as tall as the
// seven options whole. Before, a list laid out one option a row was paged
// from seven rows on: the oldest age band alone on a second page in Urdu,
// Hindi, Tamil, Wolof… (55 lists in 14 languages).
func TestShortListsAreNotPaged(t *testing.T) {
	r, lib := testRenderer(t)
	seen := 0
	for _, l := range r.cat.Languages() {
		for _, id := range []string{"immigrati", "operatori"} {
			for _, f := range []*dialog.Form{lib.Get(id, 1), lib.Latest(id)} {
				if f == nil {
					continue
				}
				for _, q := range f.Questions {
					if q.List == nil || len(q.List.Choices) > maxOptionRows+1 {
						continue
					}
					var bs []dialog.Button
					for _, c := range q.List.Choices {
						if !r.cat.Has(l.Code, c.Label) {
							bs = nil
							break
						}
						bs = append(bs, dialog.Button{Kind: dialog.BtnChoose, Option: c.Name, Label: c.Label})
					}
					if bs == nil {
						continue
					}
					seen++
					if p := len(r.layout(l.Code, bs).pages); p > 1 {
						t.Errorf("%s %s v%d %s: %d options on %d pages", l.Code, id, f.Version, q.Name, len(bs), p)
					}
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no list checked")
	}
}
