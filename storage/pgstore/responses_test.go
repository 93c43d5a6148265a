package pgstore_test

import (
	"errors"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/storage/pgstore"
)

func TestSaveResponseIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.completed(t, "resp-1", "pseudo-1")
	for range 2 {
		if err := e.db.SaveResponse(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// A replay with different content is still the same response.
	c2 := c
	c2.Response.Answers = map[string]string{"age": "99"}
	if err := e.db.SaveResponse(ctx, c2); err != nil {
		t.Fatal(err)
	}
	// Racing replays too.
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if err := e.db.SaveResponse(ctx, c); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.count(t, "SELECT count(*) FROM responses"); n != 1 {
		t.Fatalf("%d responses, want 1", n)
	}
	if n := e.count(t, "SELECT count(*) FROM answers"); n != len(c.Response.Answers) {
		t.Fatalf("%d answers, want %d", n, len(c.Response.Answers))
	}
	if n := e.count(t, "SELECT count(*) FROM answer_choices"); n != 5 { // consent, country, 3 needs
		t.Fatalf("%d choice rows, want 5", n)
	}
}

func TestSaveResponseStoresFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.completed(t, "resp-f", "pseudo-f")
	if err := e.db.SaveResponse(ctx, c); err != nil {
		t.Fatal(err)
	}
	var (
		form, lang, consent string
		respondent          *string
		invite              *int64
		version             int
		municipality        int64
		service, operator   *int64
		langs               []string
		started, completed  time.Time
		duration            int
	)
	err := e.pool.QueryRow(ctx, `SELECT form, form_version, municipality_id, service_id, invite_id, operator_id,
		respondent, language, languages, consent_version, started_at, completed_at, duration_s FROM responses WHERE id = $1`, c.ID).
		Scan(&form, &version, &municipality, &service, &invite, &operator, &respondent, &lang, &langs, &consent, &started, &completed, &duration)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Response
	if form != r.Form || version != r.FormVersion || municipality != c.MunicipalityID || *service != *c.ServiceID ||
		invite != nil || operator != nil || respondent == nil || *respondent != "pseudo-f" || lang != "zh" ||
		!reflect.DeepEqual(langs, []string{"it", "zh"}) || consent != "2025-01" ||
		!started.Equal(r.Started) || !completed.Equal(r.Completed) || duration != 690 {
		t.Fatalf("stored %v %v %v %v %v %v %v %v %v %v %v %v %v", form, version, municipality, service, invite, operator,
			respondent, lang, langs, consent, started, completed, duration)
	}
}

func TestAnswerNormalisation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.completed(t, "resp-n", "pseudo-n")
	c.Response.Answers["needs"] = "work language work" // a duplicate choice counts once
	c.Response.Answers["untyped"] = "7"
	c.Response.Answers["nan"] = "NaN"
	c.Types = map[string]string{}
	for k, v := range testTypes {
		c.Types[k] = v
	}
	c.Types["nan"] = "decimal"
	if err := e.db.SaveResponse(ctx, c); err != nil {
		t.Fatal(err)
	}
	rows, err := e.pool.Query(ctx, "SELECT question, value, value_num::text FROM answers WHERE response_id = $1", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	type ans struct {
		value string
		num   *string
	}
	got := map[string]ans{}
	for rows.Next() {
		var q string
		var a ans
		if err := rows.Scan(&q, &a.value, &a.num); err != nil {
			t.Fatal(err)
		}
		got[q] = a
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	wantNum := map[string]string{"age": "34", "hours": "12.5", "satisfaction": "4"}
	for q, v := range c.Response.Answers {
		a, ok := got[q]
		if !ok || a.value != v {
			t.Errorf("%s: stored %+v, want value %q", q, a, v)
			continue
		}
		switch want, isNum := wantNum[q]; {
		case isNum && (a.num == nil || *a.num != want):
			t.Errorf("%s: value_num %v, want %s", q, a.num, want)
		case !isNum && a.num != nil:
			t.Errorf("%s: value_num %s, want NULL", q, *a.num)
		}
	}

	var choices []string
	err = e.pool.QueryRow(ctx, `SELECT array_agg(question || '=' || choice ORDER BY question, choice)
		FROM answer_choices WHERE response_id = $1`, c.ID).Scan(&choices)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"consent=yes", "country=cn", "needs=language", "needs=work"}
	if !reflect.DeepEqual(choices, want) {
		t.Fatalf("answer_choices = %v, want %v", choices, want)
	}

	// Counting a choice per municipality is a GROUP BY.
	var n int
	err = e.pool.QueryRow(ctx, `SELECT count(*) FROM answer_choices c JOIN responses r ON r.id = c.response_id
		WHERE r.municipality_id = $1 AND c.question = 'needs' AND c.choice = 'work'`, c.MunicipalityID).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
}

func TestSaveResponseInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	roma, romaService := e.municipality(t, "058091", "anagrafe")
	for name, mutate := range map[string]func(*pgstore.Completed){
		"no id":              func(c *pgstore.Completed) { c.ID = "" },
		"no form":            func(c *pgstore.Completed) { c.Response.Form = "" },
		"no municipality":    func(c *pgstore.Completed) { c.MunicipalityID = 0 },
		"no consent version": func(c *pgstore.Completed) { c.ConsentVersion = "" },
		"no language":        func(c *pgstore.Completed) { c.Response.Language = "" },
		"completed before started": func(c *pgstore.Completed) {
			c.Response.Completed = c.Response.Started.Add(-time.Second)
		},
		"unknown municipality": func(c *pgstore.Completed) { c.MunicipalityID = 9999; c.ServiceID = nil },
		"service of another municipality": func(c *pgstore.Completed) {
			c.ServiceID = romaService
		},
		"unknown invite":   func(c *pgstore.Completed) { c.Invite = "nope" },
		"unknown operator": func(c *pgstore.Completed) { op := int64(42); c.OperatorID = &op },
	} {
		c := e.completed(t, "bad-"+name, "p")
		mutate(&c)
		if err := e.db.SaveResponse(ctx, c); !errors.Is(err, pgstore.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM responses"); n != 0 {
		t.Fatalf("%d invalid responses stored", n)
	}
	// A valid one with an invite and no service.
	inv, err := e.db.CreateInvite(ctx, pgstore.Invite{Token: "qr-roma-1", Form: "immigrants", MunicipalityID: roma})
	if err != nil {
		t.Fatal(err)
	}
	c := e.completed(t, "good", "p")
	c.MunicipalityID, c.ServiceID, c.Invite = roma, nil, strconv.FormatInt(inv.ID, 10)
	if err := e.db.SaveResponse(ctx, c); err != nil {
		t.Fatal(err)
	}
	// An interview started before tokens were hashed carries the token:
	// it is stored as the invite's id.
	c = e.completed(t, "legacy", "p")
	c.MunicipalityID, c.ServiceID, c.Invite = roma, nil, "qr-roma-1"
	if err := e.db.SaveResponse(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "SELECT count(*) FROM responses WHERE invite_id = $1", inv.ID); n != 2 {
		t.Fatalf("%d responses with invite %d, want 2", n, inv.ID)
	}
}

func TestCompletedRoundTrip(t *testing.T) {
	t.Parallel()
	op := int64(3)
	svc := int64(5)
	c := pgstore.Completed{
		ID: "k", Idem: "i", Pseudonym: "p", MunicipalityID: 2, ServiceID: &svc, Invite: "inv", OperatorID: &op,
		ConsentVersion: "v1", Types: map[string]string{"a": "integer"},
		Response: dialog.Response{
			Form: "f", FormVersion: 4, Language: "ar", Languages: []string{"it", "ar"},
			Answers: map[string]string{"a": "1"}, Context: map[string]string{"invite": "inv"},
			Started:   time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
			Completed: time.Date(2025, 1, 2, 3, 14, 5, 6, time.UTC),
		},
	}
	data, err := pgstore.MarshalCompleted(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgstore.UnmarshalCompleted(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
	for _, bad := range []string{"", "{", `{"v":2}`, "[]"} {
		if _, err := pgstore.UnmarshalCompleted([]byte(bad)); !errors.Is(err, pgstore.ErrInvalid) {
			t.Errorf("UnmarshalCompleted(%q): err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestQuestionTypes(t *testing.T) {
	t.Parallel()
	f := &dialog.Form{Questions: []*dialog.Question{
		{Name: "a", Type: dialog.TypeSelectMultiple}, {Name: "b", Type: dialog.TypeInteger}, {Name: "c", Type: dialog.TypeText},
	}}
	want := map[string]string{"a": "select_multiple", "b": "integer", "c": "text"}
	if got := pgstore.QuestionTypes(f); !reflect.DeepEqual(got, want) {
		t.Fatalf("QuestionTypes = %v, want %v", got, want)
	}
}

func TestSaveAbandoned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, s := e.municipality(t, "015146", "corso_italiano")
	a := pgstore.Abandoned{
		ID: "0123abcd", Form: "immigrants", FormVersion: 1, MunicipalityID: m, ServiceID: s,
		Language: "bn", LastQuestion: "q_housing", StartedAt: time.Now().Add(-31 * 24 * time.Hour), AbandonedAt: time.Now(),
	}
	for range 2 {
		if err := e.db.SaveAbandoned(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM abandoned WHERE last_question = 'q_housing'"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	if err := e.db.SaveAbandoned(ctx, pgstore.Abandoned{ID: "x"}); !errors.Is(err, pgstore.ErrInvalid) {
		t.Fatalf("incomplete: %v", err)
	}
}
