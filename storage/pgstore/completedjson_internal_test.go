package pgstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog"
)

// completedCases are completions that exercise every field of the outbox
// encoding, each omitempty both ways, and strings encoding/json escapes.
func completedCases() []Completed {
	started := time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)
	svc, op := int64(7), int64(-3)
	rome := time.FixedZone("CET", 3600)
	odd := "a\"b\\c<d>e&f\n\r\t\b\f\x00\x1f\u2028\u2029\xff\xfe end é 中文 🙂"
	full := Completed{ID: "r1", Idem: "i1", Pseudonym: "p1", MunicipalityID: 12, ServiceID: &svc, Invite: "44",
		OperatorID: &op, ConsentVersion: "immigrants/3", Types: map[string]string{"b": "integer", "a": "text", odd: odd},
		Reminded: true, Resumed: true,
		Response: dialog.Response{Form: "immigrants", FormVersion: 3, Language: "ar", Languages: []string{"ar", "it", odd},
			Answers: map[string]string{"z": "1", "a": odd, "m": "", odd: "x"}, Context: map[string]string{"municipality": "12", "k<": ">v"},
			Started: started, Completed: started.Add(time.Minute).In(rome)}}
	bare := Completed{ID: "r2", ConsentVersion: "", Types: map[string]string{},
		Response: dialog.Response{Languages: []string{}, Context: map[string]string{}}}
	many := full
	many.Types, many.Response.Answers = map[string]string{}, map[string]string{}
	for i := range 100 {
		q := fmt.Sprintf("q%03d", 99-i)
		many.Types[q], many.Response.Answers[q] = "select_multiple", strings.Repeat("x ", i)
	}
	local := full
	local.Response.Started = time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("odd", -(5*3600+30*60)))
	local.Response.Completed = time.Date(2025, 1, 2, 3, 4, 5, 500, time.Local)
	return []Completed{full, bare, many, local, {}}
}

// TestMarshalCompletedIsEncodingJSON: the outbox encoding is byte for byte
// what encoding/json writes for completedV1 (what every earlier release
// wrote, and what each of them decodes), and it decodes back to the same
// completion.
func TestMarshalCompletedIsEncodingJSON(t *testing.T) {
	for i, c := range completedCases() {
		r := c.Response
		w := completedV1{V: 1, ID: c.ID, Idem: c.Idem, Pseudonym: c.Pseudonym, MunicipalityID: c.MunicipalityID,
			ServiceID: c.ServiceID, Invite: c.Invite, OperatorID: c.OperatorID, ConsentVersion: c.ConsentVersion,
			Types: c.Types, Form: r.Form, FormVersion: r.FormVersion, Language: r.Language, Languages: r.Languages,
			Answers: r.Answers, Context: r.Context, Started: r.Started, Completed: r.Completed,
			Reminded: c.Reminded, Resumed: c.Resumed}
		want, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		got, err := MarshalCompleted(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
		if _, err := UnmarshalCompleted(got); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

// TestMarshalCompletedRefusesWhatEncodingJSONRefuses: a time RFC 3339
// cannot write fails as it did.
func TestMarshalCompletedRefusesWhatEncodingJSONRefuses(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600)),
	} {
		c := completedCases()[0]
		c.Response.Completed = at
		if _, err := MarshalCompleted(c); err == nil {
			t.Errorf("completed %v: encoded, want encoding/json's error", at)
		}
	}
}

// TestMarshalCompletedAllocations: a completion turn's outbox encoding is
// one allocation (its buffer), not encoding/json's ~130 for the shipped
// questionnaire's size (30 types, 26 answers).
func TestMarshalCompletedAllocations(t *testing.T) {
	c := completedCases()[0]
	c.Types, c.Response.Answers = map[string]string{}, map[string]string{}
	for i := range 30 {
		q := fmt.Sprintf("q_question_%02d", i)
		c.Types[q], c.Response.Answers[q] = "select_one", "often"
	}
	n := testing.AllocsPerRun(20, func() {
		if _, err := MarshalCompleted(c); err != nil {
			t.Fatal(err)
		}
	})
	if n > 2 {
		t.Errorf("MarshalCompleted makes %.0f allocations, want at most 2", n)
	}
}
