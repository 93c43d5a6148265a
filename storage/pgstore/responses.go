package pgstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/dialog"
)

// Completed is a completed interview ready for the system of record.
type Completed struct {
	// ID is the response's id: random (NewResponseID), never derived from
	// the respondent. Saving the same ID again changes nothing.
	ID string
	// Idem is the completion's idempotency key ("" for none): saving
	// another response with the same Idem changes nothing either.
	// Retention erases it.
	Idem string
	// Pseudonym is the respondent's storage.Pseudonym ("" for none); never
	// the Telegram user id.
	Pseudonym      string
	MunicipalityID int64
	ServiceID      *int64
	// Invite is the invite's id (decimal, interview.CtxInvite), "" for none. A
	// token (an interview started before tokens were hashed, or its outbox
	// entry) is accepted too and stored as the id of its invite: the
	// response never holds the token.
	Invite         string
	OperatorID     *int64
	ConsentVersion string
	// Types gives each question's XLSForm type name ("select_multiple",
	// "integer"…), as QuestionTypes returns it. It decides normalisation:
	// each choice of a select_one or select_multiple answer is also stored
	// on its own (answer_choices); integer, decimal and range answers also
	// as numbers (value_num). An answer whose question is missing here is
	// stored as text only.
	Types map[string]string
	// Reminded says the interview's one reminder was sent; Resumed that
	// the respondent came back after it (the reminder funnel of /results).
	Reminded, Resumed bool
	Response          dialog.Response
}

// NewResponseID returns a random response id: 128 bits from crypto/rand in
// hex. It says nothing about the respondent.
func NewResponseID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("pgstore: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// IdempotencyKey derives a completion's idempotency key from the
// respondent's keyed pseudonym, the questionnaire and the interview's
// start: the same interview completed again (a redelivered update, an
// outbox replay) gets the same key. It is stored only until retention.
func IdempotencyKey(pseudonym, form string, started time.Time) string {
	sum := sha256.Sum256([]byte("idem|" + pseudonym + "|" + form + "|" + strconv.FormatInt(started.Unix(), 10)))
	return hex.EncodeToString(sum[:16])
}

// QuestionTypes returns the XLSForm type name of each of f's questions, for
// Completed.Types.
func QuestionTypes(f *dialog.Form) map[string]string {
	types := make(map[string]string, len(f.Questions))
	for _, q := range f.Questions {
		types[q.Name] = q.Type.String()
	}
	return types
}

// validate checks what the schema would reject anyway, with clearer errors.
func (c *Completed) validate() error {
	r := &c.Response
	switch {
	case c.ID == "" || len(c.ID) > 200:
		return fmt.Errorf("id %q: want 1 to 200 characters", c.ID)
	case len(c.Idem) > 200:
		return fmt.Errorf("idempotency key: want at most 200 characters")
	case r.Form == "":
		return fmt.Errorf("no form")
	case c.MunicipalityID <= 0:
		return fmt.Errorf("no municipality")
	case r.Language == "":
		return fmt.Errorf("no language")
	case c.ConsentVersion == "":
		return fmt.Errorf("no consent version")
	case r.Started.IsZero() || r.Completed.IsZero() || r.Completed.Before(r.Started):
		return fmt.Errorf("bad times: started %s, completed %s", r.Started, r.Completed)
	}
	for q := range r.Answers {
		if q == "" {
			return fmt.Errorf("answer without a question")
		}
	}
	return nil
}

// saveResponseSQL writes a response with its answers (parallel arrays of
// the row, migration 00014) in one statement, so in one transaction and
// one round trip. When the id already exists, r is empty: a replay stores
// nothing. duration_s is the trigger's expression (migrations 00005 and
// 00017): set here, the trigger is not called. The response waits in results_rollup_pending for
// CatchUpRollups to count it.
const saveResponseSQL = `
WITH r AS (
    INSERT INTO responses (id, form, form_version, municipality_id, service_id, invite_id,
                           operator_id, respondent, language, languages, consent_version,
                           started_at, completed_at, duration_s, idem, reminded, resumed,
                           answer_questions, answer_values, answer_nums, choice_questions, choices)
    VALUES ($1, $2, $3, $4, $5, ` + inviteIDSQL + `, $7, NULLIF($8, ''), $9, $10, $11, $12, $13,
            extract(epoch FROM $13::timestamptz - $12::timestamptz)::integer, NULLIF($19, ''), $20, $21,
            $14, $15, $16::text[]::numeric[], $17, $18)
    ON CONFLICT DO NOTHING
    RETURNING id
), p AS (
    INSERT INTO results_rollup_pending (response_id) SELECT r.id FROM r
)
SELECT count(*) FROM r`

// inviteIDSQL turns Completed.Invite ($6) into an invite id: the id
// itself, or the id of the invite whose token it is (generated tokens are
// 20 characters, never 1 to 18 digits), or NULL. An unknown token becomes
// -1, which no invite has: the foreign key refuses it (ErrInvalid).
const inviteIDSQL = `(CASE WHEN $6::text ~ '^[0-9]{1,18}$' THEN $6::text::bigint
        WHEN $6::text <> '' THEN coalesce((SELECT id FROM invites WHERE token_hash = sha256(convert_to($6::text, 'UTF8'))), -1) END)`

// answerArrays are a response's answers as stored (migration 00014):
// questions, values and nums parallel, one per answer in question order
// (nums nil but for numeric answers), and choiceQ and choices parallel,
// one per distinct selected choice.
type answerArrays struct {
	questions, values []string
	nums              []*string
	choiceQ, choices  []string
}

// arrays normalises c's answers by c.Types.
func (c *Completed) arrays() answerArrays {
	r := &c.Response
	n := len(r.Answers)
	a := answerArrays{questions: make([]string, 0, n), values: make([]string, 0, n), nums: make([]*string, 0, n),
		choiceQ: []string{}, choices: []string{}}
	for _, q := range slices.Sorted(maps.Keys(r.Answers)) {
		v := r.Answers[q]
		a.questions, a.values = append(a.questions, q), append(a.values, v)
		var num *string
		switch c.Types[q] {
		case "integer", "decimal", "range":
			if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				num = &v
			}
		case "select_one", "select_multiple":
			fields := strings.Fields(v)
			for i, ch := range fields {
				if !slices.Contains(fields[:i], ch) {
					a.choiceQ, a.choices = append(a.choiceQ, q), append(a.choices, ch)
				}
			}
		}
		a.nums = append(a.nums, num)
	}
	return a
}

// Validate reports what SaveResponse would refuse as invalid without
// asking Postgres (an error wrapping ErrInvalid), e.g. before a response
// is queued to be written later.
func (c *Completed) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("pgstore: response: %w: %w", ErrInvalid, err)
	}
	return nil
}

// SaveResponse stores a completed interview and its answers, normalised,
// atomically and idempotently: if c.ID or c.Idem is already stored, nothing changes
// and SaveResponse returns nil. Data the schema can never accept yields an
// error wrapping ErrInvalid.
func (d *DB) SaveResponse(ctx context.Context, c Completed) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("pgstore: save response: %w: %w", ErrInvalid, err)
	}
	var inserted int // 0 for a replay
	if err := d.pool.QueryRow(ctx, saveResponseSQL, c.saveArgs()...).Scan(&inserted); err != nil {
		return classify("save response", err)
	}
	return nil
}

// saveArgs are saveResponseSQL's arguments for c.
func (c *Completed) saveArgs() []any {
	r := &c.Response
	a := c.arrays()
	languages := r.Languages
	if languages == nil {
		languages = []string{}
	}
	return []any{
		c.ID, r.Form, r.FormVersion, c.MunicipalityID, c.ServiceID, c.Invite,
		c.OperatorID, c.Pseudonym, r.Language, languages, c.ConsentVersion,
		r.Started, r.Completed,
		a.questions, a.values, a.nums, a.choiceQ, a.choices, c.Idem, c.Reminded, c.Resumed,
	}
}

// SaveResponses stores responses as SaveResponse does, all of them in one
// transaction and one round trip (a pipeline of SaveResponse's statement),
// for the outbox's drainer: one commit for a batch instead of one each.
// It is idempotent as SaveResponse is, within the batch too. When one of
// them is invalid (Validate, or refused by Postgres as ErrInvalid) none is
// stored and the error wraps ErrInvalid: write them one at a time then to
// tell which.
func (d *DB) SaveResponses(ctx context.Context, cs []Completed) error {
	if len(cs) == 1 {
		return d.SaveResponse(ctx, cs[0])
	}
	b := &pgx.Batch{}
	for i := range cs {
		c := &cs[i]
		if err := c.validate(); err != nil {
			return fmt.Errorf("pgstore: save responses: %w: %w", ErrInvalid, err)
		}
		b.Queue(saveResponseSQL, c.saveArgs()...)
	}
	// A batch without transaction statements runs in one implicit
	// transaction: all or nothing, one commit.
	if err := d.pool.SendBatch(ctx, b).Close(); err != nil {
		return classify("save responses", err)
	}
	return nil
}

// WriteCompleted saves a response encoded by MarshalCompleted, as an
// outbox writer: idempotent, and failing with an error that wraps
// ErrInvalid when the payload can never be saved.
func (d *DB) WriteCompleted(ctx context.Context, payload []byte) error {
	c, err := UnmarshalCompleted(payload)
	if err != nil {
		return err
	}
	return d.SaveResponse(ctx, c)
}

// completedV1 is the outbox encoding of Completed. It is versioned because
// an entry may be read by a newer release than wrote it.
type completedV1 struct {
	V              int               `json:"v"`
	ID             string            `json:"id"`
	Idem           string            `json:"idem,omitempty"`
	Pseudonym      string            `json:"pseudonym,omitempty"`
	MunicipalityID int64             `json:"municipality_id"`
	ServiceID      *int64            `json:"service_id,omitempty"`
	Invite         string            `json:"invite,omitempty"`
	OperatorID     *int64            `json:"operator_id,omitempty"`
	ConsentVersion string            `json:"consent_version"`
	Types          map[string]string `json:"types,omitempty"`
	Form           string            `json:"form"`
	FormVersion    int               `json:"form_version"`
	Language       string            `json:"language"`
	Languages      []string          `json:"languages,omitempty"`
	Answers        map[string]string `json:"answers"`
	Context        map[string]string `json:"context,omitempty"`
	Started        time.Time         `json:"started"`
	Completed      time.Time         `json:"completed"`
	Reminded       bool              `json:"reminded,omitempty"`
	Resumed        bool              `json:"resumed,omitempty"`
}

// MarshalCompleted encodes c as JSON for the outbox.
func MarshalCompleted(c Completed) ([]byte, error) {
	r := c.Response
	return json.Marshal(completedV1{
		V: 1, ID: c.ID, Idem: c.Idem, Pseudonym: c.Pseudonym, MunicipalityID: c.MunicipalityID,
		ServiceID: c.ServiceID, Invite: c.Invite, OperatorID: c.OperatorID,
		ConsentVersion: c.ConsentVersion, Types: c.Types,
		Form: r.Form, FormVersion: r.FormVersion, Language: r.Language, Languages: r.Languages,
		Answers: r.Answers, Context: r.Context, Started: r.Started, Completed: r.Completed,
		Reminded: c.Reminded, Resumed: c.Resumed,
	})
}

// UnmarshalCompleted decodes what MarshalCompleted encoded. A payload it
// cannot decode yields an error wrapping ErrInvalid.
func UnmarshalCompleted(data []byte) (Completed, error) {
	var w completedV1
	if err := json.Unmarshal(data, &w); err != nil {
		return Completed{}, fmt.Errorf("pgstore: unmarshal completed: %w: %w", ErrInvalid, err)
	}
	if w.V != 1 {
		return Completed{}, fmt.Errorf("pgstore: unmarshal completed: %w: version %d", ErrInvalid, w.V)
	}
	if w.Idem == "" && w.Pseudonym != "" {
		// Written before ids were random: the id was the idempotency key
		// (migration 00005 kept it so for the rows it re-keyed).
		w.Idem = w.ID
	}
	return Completed{
		ID: w.ID, Idem: w.Idem, Pseudonym: w.Pseudonym, MunicipalityID: w.MunicipalityID,
		ServiceID: w.ServiceID, Invite: w.Invite, OperatorID: w.OperatorID,
		ConsentVersion: w.ConsentVersion, Types: w.Types, Reminded: w.Reminded, Resumed: w.Resumed,
		Response: dialog.Response{
			Form: w.Form, FormVersion: w.FormVersion, Language: w.Language, Languages: w.Languages,
			Answers: w.Answers, Context: w.Context, Started: w.Started, Completed: w.Completed,
		},
	}, nil
}
