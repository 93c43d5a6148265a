// Package directory is the per-municipality service directory (issue 16):
// the entries, their CSV form (`needsbot directory import/export`), its
// validation with one file:line: message per problem, and the choice of the
// services a respondent is referred to. It has no storage and no Telegram:
// storage/pgstore keeps the entries, the bot sends them.
//
// Names and addresses stay in Italian, as on the signs; everything else a
// respondent reads about an entry (area labels, "languages spoken", hours
// words) is rendered by the bot in the respondent's language.
package directory

import (
	"slices"
)

// Entry is one service of a municipality's directory.
type Entry struct {
	ID          int64 // storage id; 0 before import
	Name        string
	Address     string
	HasCoords   bool // Latitude and Longitude are set (a map pin can be sent)
	Latitude    float64
	Longitude   float64
	Phone       string
	Website     string
	Hours       string
	Languages   []string // desk languages, locale codes (it, en, ar, zh-Hans…)
	Areas       []string // need areas served: the questionnaire's `aree` codes
	Notes       string
	Free        *bool // nil: not said
	Appointment *bool // nil: not said
	// HelpPoint marks the municipality's general help point, sent after the
	// matching services whatever the needs.
	HelpPoint bool
	Hidden    bool
}

// Speaks reports whether the desk speaks lang.
func (e Entry) Speaks(lang string) bool { return slices.Contains(e.Languages, lang) }

// Serves reports whether the entry serves area.
func (e Entry) Serves(area string) bool { return slices.Contains(e.Areas, area) }

// Pick is an entry chosen for a respondent, with the need area it was
// chosen for (the one its referral is counted under).
type Pick struct {
	Entry Entry
	Area  string
}

// Fallback is the language desks are ranked by when they do not speak the
// respondent's: Italian.
const Fallback = "it"

// Match chooses up to n visible entries for a respondent whose needs are
// areas, most important first (the v2 form's `priorita`, then the other
// `bisogni`), answering in lang. An entry serving an earlier area ranks
// first; among those serving the same area, desks speaking lang come
// before Italian-speaking ones, which come before the others; then the
// directory's order. The help point is not among them (see HelpPoint).
func Match(entries []Entry, areas []string, lang string, n int) []Pick {
	type cand struct {
		pick       Pick
		area, lang int
		pos        int
	}
	var cands []cand
	for pos, e := range entries {
		if e.Hidden || e.HelpPoint {
			continue
		}
		best := -1
		for i, a := range areas {
			if e.Serves(a) {
				best = i
				break
			}
		}
		if best < 0 {
			continue
		}
		ls := 2
		switch {
		case e.Speaks(lang):
			ls = 0
		case e.Speaks(Fallback):
			ls = 1
		}
		cands = append(cands, cand{Pick{e, areas[best]}, best, ls, pos})
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if a.area != b.area {
			return a.area - b.area
		}
		if a.lang != b.lang {
			return a.lang - b.lang
		}
		return a.pos - b.pos
	})
	var out []Pick
	for _, c := range cands {
		if len(out) == n {
			break
		}
		out = append(out, c.pick)
	}
	return out
}

// HelpPoint returns the municipality's visible general help point, if any.
func HelpPoint(entries []Entry) (Entry, bool) {
	for _, e := range entries {
		if e.HelpPoint && !e.Hidden {
			return e, true
		}
	}
	return Entry{}, false
}

// NeedAreas orders a respondent's need areas for Match: the priorities
// first, then the other needs, without duplicates and without the
// non-answers (none, dnk, pnta, other).
func NeedAreas(priorities, needs []string) []string {
	var out []string
	for _, list := range [][]string{priorities, needs} {
		for _, a := range list {
			switch a {
			case "", "none", "dnk", "pnta", "other":
				continue
			}
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}
