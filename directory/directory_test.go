package directory

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
)

var vocab = Vocabulary{
	Areas:     []string{"lingua", "lavoro", "titoli", "casa", "salute", "scuola", "documenti", "ricongiungimento", "informazione", "partecipazione", "discriminazione"},
	Languages: []string{"it", "en", "fr", "ar", "zh-Hans"},
}

func parseFile(t *testing.T, name string) ([]Entry, error) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ParseCSV(name, f, vocab)
}

func TestParseGood(t *testing.T) {
	es, err := parseFile(t, "good.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 {
		t.Fatalf("%d entries, want 4", len(es))
	}
	casa := es[0]
	if casa.Name != "Sportello Casa" || casa.Address != "Via Roma 1, Firenze" || !casa.HasCoords || casa.Latitude != 43.7696 ||
		!reflect.DeepEqual(casa.Languages, []string{"it", "ar", "en"}) || !reflect.DeepEqual(casa.Areas, []string{"casa"}) ||
		casa.Free == nil || !*casa.Free || casa.Appointment == nil || *casa.Appointment || casa.HelpPoint {
		t.Errorf("first entry %+v", casa)
	}
	if !es[2].HelpPoint || es[3].HasCoords || es[3].Free == nil || !*es[3].Free || es[3].Appointment != nil {
		t.Errorf("help point / no coordinates: %+v %+v", es[2], es[3])
	}
	// Export and import again: the same entries.
	var buf bytes.Buffer
	if err := WriteCSV(&buf, es); err != nil {
		t.Fatal(err)
	}
	again, err := ParseCSV("again.csv", &buf, vocab)
	if err != nil || !reflect.DeepEqual(again, es) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, again, es)
	}
}

func TestParseBroken(t *testing.T) {
	_, err := parseFile(t, "broken.csv")
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("err = %v, want Problems", err)
	}
	want := []string{
		"broken.csv:2: missing name",
		"broken.csv:3: bad coordinates 91, 11.2: latitude within ±90",
		"broken.csv:4: bad coordinates: give both latitude and longitude",
		`broken.csv:5: bad coordinates "abc", "11.2"`,
		`broken.csv:5: unknown language code "xx"`,
		`broken.csv:5: unknown area code "castelli"`,
		`broken.csv:6: "Sportello D" serves no area`,
	}
	got := ps.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ps), len(want), got)
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "x.csv:1: empty file"},
		{"name,address\nA,B\n", `x.csv:1: missing column "latitude"`},
		{"name,address,latitude,longitude,phone,website,hours,languages,areas,notes,colour\n", `x.csv:1: unknown column "colour"`},
		{"name,address,latitude,longitude,phone,website,hours,languages,areas,notes\nA,B,,,,,,it,casa,,extra\n", "x.csv:2: 11 fields, the header has 10"},
		{"name,address,latitude,longitude,phone,website,hours,languages,areas,notes,free\nA,B,,,,ftp://x,,it,casa,,maybe\n", `x.csv:2: free: "maybe" is neither`},
		{"name,address,latitude,longitude,phone,website,hours,languages,areas,notes\nA,B,,,,,,it,casa,\na,b,,,,,,it,casa,\n", `x.csv:3: "a" at "b" is already on line 2`},
	} {
		_, err := ParseCSV("x.csv", strings.NewReader(tc.src), vocab)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	es := []Entry{
		{Name: "Casa IT", Areas: []string{"casa"}, Languages: []string{"it"}},
		{Name: "Casa AR", Areas: []string{"casa"}, Languages: []string{"it", "ar"}},
		{Name: "Casa none", Areas: []string{"casa"}, Languages: []string{"en"}},
		{Name: "Doc", Areas: []string{"documenti"}, Languages: []string{"it"}},
		{Name: "Doc hidden AR", Areas: []string{"documenti"}, Languages: []string{"ar"}, Hidden: true},
		{Name: "Help", HelpPoint: true, Areas: []string{"casa"}},
		{Name: "Lavoro", Areas: []string{"lavoro"}, Languages: []string{"ar"}},
	}
	names := func(ps []Pick) string {
		var s []string
		for _, p := range ps {
			s = append(s, p.Entry.Name+"/"+p.Area)
		}
		return strings.Join(s, ",")
	}
	areas := NeedAreas([]string{"documenti", "casa"}, []string{"casa", "lavoro", "pnta"})
	if !reflect.DeepEqual(areas, []string{"documenti", "casa", "lavoro"}) {
		t.Fatalf("NeedAreas = %v", areas)
	}
	if got := names(Match(es, areas, "ar", 3)); got != "Doc/documenti,Casa AR/casa,Casa IT/casa" {
		t.Errorf("ar: %s", got)
	}
	if got := names(Match(es, []string{"casa"}, "en", 3)); got != "Casa none/casa,Casa IT/casa,Casa AR/casa" {
		t.Errorf("en: %s", got)
	}
	if got := names(Match(es, []string{"salute"}, "en", 3)); got != "" {
		t.Errorf("no match: %s", got)
	}
	if h, ok := HelpPoint(es); !ok || h.Name != "Help" {
		t.Errorf("HelpPoint = %v %v", h, ok)
	}
}
