package results

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// Periods returns the choices of the period button, in days (0: all time),
// as a fresh slice.
func Periods() []int { return []int{7, 30, 90, 0} }

// Filter is what a /results view or an export covers.
type Filter struct {
	Form         string // questionnaire id
	Days         int    // 7, 30 or 90: the whole days before today; 0: all time
	Municipality int64  // municipality id; 0: every municipality (admins)
	Service      int64  // service id whose code filters; 0: every service
	Language     string // interview language; "": every language
}

// Since is the first instant a filter covers: midnight in Rome Days days
// before now's day, or zero for all time.
func (f Filter) Since(now time.Time) time.Time {
	if f.Days <= 0 {
		return time.Time{}
	}
	loc := pgstore.ResultsLocation()
	t := now.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day()-f.Days, 0, 0, 0, 0, loc)
}

// Until is the end of what every view covers: midnight in Rome at the
// start of now's day. Results publish whole days only, so that the
// records added between two views a manager compares are a whole day's,
// never one known interview alone (docs/disclosure-control.md).
func Until(now time.Time) time.Time {
	loc := pgstore.ResultsLocation()
	t := now.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// Verbs of a results button: what tapping it does.
const (
	verbShow      = "s" // show the summary for the filter
	verbForm      = "f" // pick the questionnaire
	verbPeriod    = "p" // pick the period
	verbService   = "v" // pick the service
	verbLanguage  = "l" // pick the language
	verbMuni      = "m" // pick the municipality (admins)
	verbChart     = "c" // send the charts
	verbFunnel    = "u" // send where interviews stop
	verbCompare   = "x" // send the comparison of municipalities (admins)
	verbExportCSV = "e" // send a CSV export
	verbExportXLS = "E" // send an XLSX export
)

var verbs = map[string]bool{verbShow: true, verbForm: true, verbPeriod: true, verbService: true, verbLanguage: true,
	verbMuni: true, verbChart: true, verbFunnel: true, verbCompare: true, verbExportCSV: true, verbExportXLS: true}

// errPayload is a results button's payload that is malformed or forged.
var errPayload = errors.New("results: invalid button payload")

// encodePayload writes verb and filter as a button payload:
// verb.form.days.municipality.service.language, numbers in base 36.
func encodePayload(verb string, f Filter) string {
	var b strings.Builder
	b.WriteString(verb)
	b.WriteByte('.')
	b.WriteString(f.Form)
	b.WriteByte('.')
	b.WriteString(strconv.Itoa(f.Days))
	b.WriteByte('.')
	b.WriteString(strconv.FormatInt(f.Municipality, 36))
	b.WriteByte('.')
	b.WriteString(strconv.FormatInt(f.Service, 36))
	b.WriteByte('.')
	b.WriteString(f.Language)
	return b.String()
}

// decodePayload parses what encodePayload wrote. It checks the syntax
// only: whether the filter is allowed is for the caller.
func decodePayload(p string) (string, Filter, error) {
	parts := strings.Split(p, ".")
	if len(parts) != 6 || !verbs[parts[0]] || parts[1] == "" {
		return "", Filter{}, errPayload
	}
	var f Filter
	f.Form = parts[1]
	for _, r := range f.Form {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", Filter{}, errPayload
		}
	}
	days, err := strconv.Atoi(parts[2])
	if err != nil || strconv.Itoa(days) != parts[2] || !validDays(days) {
		return "", Filter{}, errPayload
	}
	f.Days = days
	for i, dst := range []*int64{&f.Municipality, &f.Service} {
		v, err := strconv.ParseInt(parts[3+i], 36, 64)
		if err != nil || v < 0 || strconv.FormatInt(v, 36) != parts[3+i] {
			return "", Filter{}, errPayload
		}
		*dst = v
	}
	f.Language = parts[5]
	for _, r := range f.Language {
		if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", Filter{}, errPayload
		}
	}
	return parts[0], f, nil
}

func validDays(d int) bool {
	for _, p := range Periods() {
		if p == d {
			return true
		}
	}
	return false
}

// button makes a results button: a staff button of the menu.Results
// route, whose payload staff hands back to Callback.
func button(text, verb string, f Filter) (bot.Key, error) {
	return menu.Key(text, menu.Results, encodePayload(verb, f))
}
