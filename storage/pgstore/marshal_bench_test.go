package pgstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// benchCompleted is a completion of the size of the shipped
// questionnaire's: 30 questions' types, 26 answers, a mix of kinds.
func benchCompleted() pgstore.Completed {
	started := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	svc := int64(7)
	c := pgstore.Completed{ID: "r_0123456789abcdef0123456789", Idem: "i_0123456789abcdef0123456789abcdef0123",
		Pseudonym: "p_0123456789abcdef0123456789abcdef", MunicipalityID: 1, ServiceID: &svc, ConsentVersion: "immigrants/3",
		Types: map[string]string{},
		Response: dialog.Response{Form: "immigrants", FormVersion: 3, Language: "it", Languages: []string{"it"},
			Answers: map[string]string{}, Context: map[string]string{"municipality": "1", "service": "7"},
			Started: started, Completed: started.Add(11 * time.Minute)}}
	for i := range 30 {
		q := fmt.Sprintf("q_question_%02d", i)
		switch i % 4 {
		case 0:
			c.Types[q] = "select_one"
			c.Response.Answers[q] = "often"
		case 1:
			c.Types[q] = "select_multiple"
			c.Response.Answers[q] = "documents health school"
		case 2:
			c.Types[q] = "integer"
			c.Response.Answers[q] = fmt.Sprint(i * 7)
		case 3:
			c.Types[q] = "text"
			if i < 26 {
				c.Response.Answers[q] = "una risposta"
			}
		}
	}
	return c
}

// BenchmarkMarshalCompleted is the outbox encoding of a completion, which
// a completion turn does before its save (durable.Responses.SaveCompleted).
func BenchmarkMarshalCompleted(b *testing.B) {
	c := benchCompleted()
	p, err := pgstore.MarshalCompleted(c)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(p)), "bytes/payload")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Validate(); err != nil {
			b.Fatal(err)
		}
		if _, err := pgstore.MarshalCompleted(c); err != nil {
			b.Fatal(err)
		}
	}
}
