package dialog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParseFile(t testing.TB, name string) *Form {
	t.Helper()
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(name, src)
	if err != nil {
		t.Fatalf("load %s:\n%v", name, err)
	}
	return f
}

// TestBrokenDefinitions loads one fixture per validation error; each file's
// first line says the problem it must produce ("# want: LINE: message").
func TestBrokenDefinitions(t *testing.T) {
	files, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(src), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("fixture lacks a '# want: ' first line")
			}
			_, err = Parse(name, src)
			if err == nil {
				t.Fatalf("loaded without error; want %q", want)
			}
			le, ok := err.(*LoadError)
			if !ok {
				t.Fatalf("error %T, want *LoadError", err)
			}
			for _, p := range le.Problems {
				if !strings.HasPrefix(p.String(), name+":") {
					t.Errorf("problem %q does not start with the file name", p)
				}
				if strings.Contains(p.String(), name+":"+want) || (!startsWithDigit(want) && strings.Contains(p.Msg, want)) {
					return
				}
			}
			t.Errorf("want a problem %q, got:\n%v", want, err)
		})
	}
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

func TestLoadAllTypes(t *testing.T) {
	f := mustParseFile(t, "testdata/good/all_types.yaml")
	if f.ID != "tipi" || f.Version != 2 || f.Language != "en" || f.Title != "f.tipi.title" {
		t.Errorf("header: %+v", f)
	}
	tests := []struct {
		name  string
		typ   Type
		label string
	}{
		{"hello", TypeNote, "q.tipi.hello"},
		{"ok", TypeSelectOne, "q.tipi.ok"},
		{"age", TypeInteger, "q.tipi.age"},
		{"needs", TypeSelectMultiple, "q.tipi.needs"},
		{"score", TypeRange, "q.tipi.score"},
		{"arrived", TypeDate, "q.tipi.arrived"},
		{"comment", TypeText, "q.tipi.comment"},
		{"ack", TypeAcknowledge, "q.tipi.ack"},
		{"invite_service", TypeHidden, ""},
		{"adult", TypeCalculate, ""},
	}
	for _, tt := range tests {
		q := f.Question(tt.name)
		if q == nil {
			t.Errorf("no question %s", tt.name)
			continue
		}
		if q.Type != tt.typ || q.Label != tt.label {
			t.Errorf("%s: type %v label %q, want %v %q", tt.name, q.Type, q.Label, tt.typ, tt.label)
		}
	}
	needs := f.Question("needs")
	if needs.MaxSelected != 3 || needs.Hint != "q.tipi.needs.hint" {
		t.Errorf("needs: max %d hint %q", needs.MaxSelected, needs.Hint)
	}
	if c, _ := needs.List.Choice("none"); !c.Exclusive {
		t.Error("none is not exclusive")
	}
	if q := f.Question("school_ok"); len(q.Groups) != 2 || q.Groups[1].Name != "school" {
		t.Errorf("school_ok groups: %+v", q.Groups)
	}
	if q := f.Question("score"); q.Start != 1 || q.End != 5 || q.Step != 1 {
		t.Errorf("range: %+v", q)
	}
	if q := f.Question("comment"); q.MaxLength != 20 {
		t.Errorf("max_length %d", q.MaxLength)
	}
	if q := f.Question("age"); q.ConstraintMsg != "q.tipi.age.constraint" || !q.Required {
		t.Errorf("age: %+v", q)
	}
	ids := f.MessageIDs()
	for _, want := range []string{"f.tipi.title", "g.tipi.main", "g.tipi.school", "c.tipi.yn.yes", "c.tipi.countries.ma", "q.tipi.needs.hint"} {
		found := false
		for _, id := range ids {
			found = found || id == want
		}
		if !found {
			t.Errorf("MessageIDs lacks %s", want)
		}
	}
}

func TestLibraryVersions(t *testing.T) {
	v2 := mustParseFile(t, "testdata/good/all_types.yaml")
	src, _ := os.ReadFile("testdata/good/all_types.yaml")
	v1, err := Parse("v1.yaml", []byte(strings.Replace(string(src), "version: 2", "version: 1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := NewLibrary(v2, v1)
	if err != nil {
		t.Fatal(err)
	}
	if lib.Latest("tipi") != v2 || lib.Get("tipi", 1) != v1 || lib.Get("tipi", 3) != nil {
		t.Error("library lookups")
	}
	if _, err := NewLibrary(v1, v1); err == nil {
		t.Error("duplicate version accepted")
	}
}
