package directory

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Columns are the CSV columns, in export order. name is required; the
// others may be empty. free, appointment and help_point are optional
// columns (yes/no, empty: not said).
var columns = []string{"name", "address", "latitude", "longitude", "phone", "website", "hours", "languages", "areas", "notes", "free", "appointment", "help_point"}

// required are the columns an imported file must have.
var required = []string{"name", "address", "latitude", "longitude", "phone", "website", "hours", "languages", "areas", "notes"}

// Columns returns the CSV header written by WriteCSV.
func Columns() []string { return slices.Clone(columns) }

// Problem is one mistake in an imported file.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Problems is every mistake found in a file; nothing is imported then.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

// Vocabulary is what a file's codes are checked against.
type Vocabulary struct {
	Areas     []string // the questionnaire's `aree` codes a service can serve
	Languages []string // locale codes (it, en, ar, zh-Hans…)
}

// ParseCSV reads a directory file named file (for the messages). Lists
// (languages, areas) are separated by ";". It returns the entries, or
// Problems listing every mistake with its line.
func ParseCSV(file string, r io.Reader, v Vocabulary) ([]Entry, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var ps Problems
	add := func(line int, format string, args ...any) {
		ps = append(ps, Problem{file, line, fmt.Sprintf(format, args...)})
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, Problems{{file, 1, "empty file: the first line must name the columns " + strings.Join(required, ",")}}
	}
	if err != nil {
		return nil, Problems{{file, csvLine(err, 1), err.Error()}}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case !contains(columns, h):
			add(1, "unknown column %q (columns: %s)", h, strings.Join(columns, ","))
		case col[h] != 0:
			add(1, "column %q twice", h)
		default:
			col[h] = i + 1 // 0: absent
		}
	}
	for _, h := range required {
		if col[h] == 0 {
			add(1, "missing column %q", h)
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	areas := set(v.Areas, strings.ToLower)
	langs := set(v.Languages, strings.ToLower)
	var entries []Entry
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			add(csvLine(err, line), "%v", err)
			break
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			add(line, "%d fields, the header has %d", len(rec), len(header))
			continue
		}
		get := func(h string) string {
			if col[h] == 0 {
				return ""
			}
			return strings.TrimSpace(rec[col[h]-1])
		}
		e := Entry{
			Name: get("name"), Address: get("address"), Phone: get("phone"), Website: get("website"),
			Hours: get("hours"), Notes: get("notes"),
		}
		if e.Name == "" {
			add(line, "missing name")
		} else if first, ok := seen[strings.ToLower(e.Name+"\x00"+e.Address)]; ok {
			add(line, "%q at %q is already on line %d", e.Name, e.Address, first)
		} else {
			seen[strings.ToLower(e.Name+"\x00"+e.Address)] = line
		}
		la, lo, has, problem := Coordinates(get("latitude"), get("longitude"))
		if problem != "" {
			add(line, "%s", problem)
		}
		e.HasCoords, e.Latitude, e.Longitude = has, la, lo
		for _, l := range list(get("languages")) {
			code, ok := langs[strings.ToLower(l)]
			if !ok {
				add(line, "unknown language code %q (known: %s)", l, strings.Join(v.Languages, " "))
				continue
			}
			if !contains(e.Languages, code) {
				e.Languages = append(e.Languages, code)
			}
		}
		for _, a := range list(get("areas")) {
			code, ok := areas[strings.ToLower(a)]
			if !ok {
				add(line, "unknown area code %q (known: %s)", a, strings.Join(v.Areas, " "))
				continue
			}
			if !contains(e.Areas, code) {
				e.Areas = append(e.Areas, code)
			}
		}
		var perr error
		if e.Free, perr = parseBool(get("free")); perr != nil {
			add(line, "free: %v", perr)
		}
		if e.Appointment, perr = parseBool(get("appointment")); perr != nil {
			add(line, "appointment: %v", perr)
		}
		hp, perr := parseBool(get("help_point"))
		if perr != nil {
			add(line, "help_point: %v", perr)
		}
		e.HelpPoint = hp != nil && *hp
		if problem := Website(e.Website); problem != "" {
			add(line, "%s", problem)
		}
		if !e.HelpPoint && len(e.Areas) == 0 && e.Name != "" {
			add(line, "%q serves no area: list its areas, or mark it help_point", e.Name)
		}
		entries = append(entries, e)
	}
	helpPoints := 0
	for _, e := range entries {
		if e.HelpPoint {
			helpPoints++
		}
	}
	if helpPoints > 1 {
		add(1, "%d help points: mark at most one entry help_point", helpPoints)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return entries, nil
}

// WriteCSV writes entries in the form ParseCSV reads.
func WriteCSV(w io.Writer, entries []Entry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(columns); err != nil {
		return err
	}
	for _, e := range entries {
		lat, lon := "", ""
		if e.HasCoords {
			lat = strconv.FormatFloat(e.Latitude, 'f', -1, 64)
			lon = strconv.FormatFloat(e.Longitude, 'f', -1, 64)
		}
		hp := ""
		if e.HelpPoint {
			hp = "yes"
		}
		if err := cw.Write([]string{e.Name, e.Address, lat, lon, e.Phone, e.Website, e.Hours,
			strings.Join(e.Languages, ";"), strings.Join(e.Areas, ";"), e.Notes,
			formatBool(e.Free), formatBool(e.Appointment), hp}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvLine(err error, def int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return def
}

func parseCoord(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a number")
	}
	return f, nil
}

func parseBool(s string) (*bool, error) {
	t, f := true, false
	switch strings.ToLower(s) {
	case "":
		return nil, nil
	case "yes", "y", "true", "1", "si", "sì", "x":
		return &t, nil
	case "no", "n", "false", "0":
		return &f, nil
	}
	return nil, fmt.Errorf("%q is neither yes nor no", s)
}

func formatBool(b *bool) string {
	switch {
	case b == nil:
		return ""
	case *b:
		return "yes"
	}
	return "no"
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func set(codes []string, key func(string) string) map[string]string {
	m := make(map[string]string, len(codes))
	for _, c := range codes {
		m[key(c)] = c
	}
	return m
}

func contains(s []string, v string) bool { return slices.Contains(s, v) }

// Coordinates checks a latitude and a longitude in decimal degrees, both
// given or both empty (has false). problem says what is wrong, in the
// words of the import's messages.
func Coordinates(lat, lon string) (la, lo float64, has bool, problem string) {
	switch {
	case lat == "" && lon == "":
		return 0, 0, false, ""
	case lat == "" || lon == "":
		return 0, 0, false, "bad coordinates: give both latitude and longitude, or neither"
	}
	la, err1 := parseCoord(lat)
	lo, err2 := parseCoord(lon)
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, false, fmt.Sprintf("bad coordinates %q, %q: decimal degrees with a point, e.g. 43.7696, 11.2558", lat, lon)
	case la < -90 || la > 90 || lo < -180 || lo > 180:
		return 0, 0, false, fmt.Sprintf("bad coordinates %s, %s: latitude within ±90, longitude within ±180", lat, lon)
	case la == 0 && lo == 0:
		return 0, 0, false, "bad coordinates 0, 0: leave both empty when unknown"
	}
	return la, lo, true, ""
}

// ParseCoordinates reads "43.7696, 11.2558" (or the two numbers separated
// by spaces), as typed in Telegram or copied from a maps app.
func ParseCoordinates(s string) (la, lo float64, problem string) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' })
	if len(f) != 2 {
		return 0, 0, "bad coordinates: two decimal numbers, latitude then longitude, e.g. 43.7696, 11.2558"
	}
	la, lo, _, problem = Coordinates(f[0], f[1])
	return la, lo, problem
}

// Website checks a website address ("" is allowed: none).
func Website(s string) string {
	if s != "" && !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
		return fmt.Sprintf("website %q must start with https://", s)
	}
	return ""
}

// MaxField bounds a typed field (name, address, hours…) in characters.
const MaxField = 200

// Text checks a typed field: one line, not too long.
func Text(s string) string {
	switch {
	case strings.ContainsAny(s, "\n\r"):
		return "one line only"
	case len([]rune(s)) > MaxField:
		return fmt.Sprintf("at most %d characters", MaxField)
	}
	return ""
}

// Check is the import's check of one entry, for entries edited one field
// at a time: what the entry lacks before respondents may be shown it.
func Check(e Entry) []string {
	var ps []string
	if e.Name == "" {
		ps = append(ps, "missing name")
	}
	if p := Website(e.Website); p != "" {
		ps = append(ps, p)
	}
	if !e.HelpPoint && len(e.Areas) == 0 {
		ps = append(ps, fmt.Sprintf("%q serves no area: list its areas, or mark it help_point", e.Name))
	}
	return ps
}
