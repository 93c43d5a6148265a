package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/loadtest"
)

// Row is one fault's count.
type Row struct {
	Fault       string
	People      int           // simulated respondents
	Completed   int           // interviews that ended with the bot's thank-you
	Stuck       int           // people left with no card with buttons and no thank-you
	Rows        int           // responses in Postgres under their pseudonyms
	Lost        int           // completed by a person, no row
	Doubled     int           // rows beyond one per person
	Twice       int           // people whose stored answers differ from what they tapped
	Waited      int           // people who waited longer than 5 s for a reply to some update
	Worst       time.Duration // the longest of those waits
	WorstStep   time.Duration // the longest wait from an update to the next card or the thank-you
	TooMany     int           // 429s the fake Bot API gave for the bot's own pace (injected ones not counted)
	Storm       bool          // 429s were injected on purpose in this row
	Elapsed     time.Duration
	Notes       []string
	Failures    []string // the first few respondents' problems, with transcripts
	Unconfirmed int      // webhook updates dropped after every attempt, or never acknowledged
	Checked     int      // stored answers compared with the taps
}

// slowAfter is the wait the report counts as too long.
const slowAfter = 5 * time.Second

// Verdict is "ok", or what went wrong.
func (w Row) Verdict() string {
	var bad []string
	if w.Lost > 0 {
		bad = append(bad, "lost")
	}
	if w.Doubled > 0 {
		bad = append(bad, "doubled")
	}
	if w.Twice > 0 {
		bad = append(bad, "applied twice")
	}
	if w.Stuck > 0 {
		bad = append(bad, fmt.Sprintf("%d stuck", w.Stuck))
	}
	if n := w.People - w.Completed - w.Stuck; n > 0 {
		bad = append(bad, fmt.Sprintf("%d not completed", n))
	}
	if w.TooMany > 0 && !w.Storm {
		bad = append(bad, "429s")
	}
	if len(bad) > 0 {
		return "FAIL: " + strings.Join(bad, ", ")
	}
	if w.Waited > 0 {
		return "ok, slow"
	}
	return "ok"
}

// Broken reports whether a response was lost or doubled or an update
// applied twice: what the CI test fails on.
func (w Row) Broken() bool { return w.Lost > 0 || w.Doubled > 0 || w.Twice > 0 }

func (w Row) line() string {
	return fmt.Sprintf("%s: completed %d/%d (stuck %d), rows %d, lost %d, doubled %d, applied twice %d, waited>5s %d (worst %s, next card %s), 429s %d, %s, in %s; %d stored answers checked against the taps",
		w.Fault, w.Completed, w.People, w.Stuck, w.Rows, w.Lost, w.Doubled, w.Twice, w.Waited, w.Worst.Round(100*time.Millisecond),
		w.WorstStep.Round(100*time.Millisecond), w.TooMany, w.Verdict(), w.Elapsed.Round(time.Second), w.Checked)
}

// Report is a run's table.
type Report struct {
	Short       bool
	Seed        uint64
	Respondents int
	Timing      timing
	Rows        []Row
	LogErrors   int
	LogSamples  []string
}

// OK reports whether no row lost, doubled or applied twice.
func (rep *Report) OK() bool {
	for _, w := range rep.Rows {
		if w.Broken() {
			return false
		}
	}
	return true
}

// WriteTable prints the table, then each row's notes.
func (rep *Report) WriteTable(out io.Writer) {
	form := "long form (the issue's durations)"
	if rep.Short {
		form = "short form: outages scaled down (Postgres 3 s at completion and 5 s, Redis 2 s and 5 s instead of 10 s and 60 s; Bot API faults 3 s instead of 20 s; kill: 1 s down)"
	}
	fmt.Fprintf(out, "needsbot chaos — %s; seed %d; %d respondents per fault; 2 webhook replicas + 1 polling replica\n\n", form, rep.Seed, rep.Respondents)
	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "fault\tcompleted\trows\tlost\tdoubled\tapplied twice\twaited >5s\tworst wait\tworst to next card\t429s\tverdict")
	for _, w := range rep.Rows {
		tooMany := fmt.Sprint(w.TooMany)
		if w.Storm {
			tooMany += " (+injected)"
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", w.Fault, w.Completed, w.People, w.Rows, w.Lost, w.Doubled,
			w.Twice, w.Waited, w.Worst.Round(100*time.Millisecond), w.WorstStep.Round(100*time.Millisecond), tooMany, w.Verdict())
	}
	_ = tw.Flush()
	fmt.Fprintln(out)
	for _, w := range rep.Rows {
		if len(w.Notes) == 0 && len(w.Failures) == 0 {
			continue
		}
		fmt.Fprintf(out, "%s:\n", w.Fault)
		for _, n := range w.Notes {
			fmt.Fprintf(out, "  - %s\n", n)
		}
		for _, f := range w.Failures {
			fmt.Fprintf(out, "  - %s\n", strings.ReplaceAll(f, "\n", "\n      "))
		}
	}
	fmt.Fprintf(out, "replica log errors: %d\n", rep.LogErrors)
	for _, s := range rep.LogSamples {
		fmt.Fprintf(out, "  %s\n", s)
	}
}

// snap is what a row counts from: what the fronts and the balancer did
// before it.
type snap struct {
	injected map[APIFault]int64
	copies   int64
}

func (r *rig) snapshot() snap {
	r.tgW.ClearViolations()
	r.tgP.ClearViolations()
	s := snap{injected: map[APIFault]int64{}, copies: r.lb.Copies()}
	for _, a := range []APIFault{APIStorm429, API5xx, APITimeout, APISlow} {
		s.injected[a] = r.frontW.Injected(a) + r.frontP.Injected(a)
	}
	return s
}

// count waits for the bots to acknowledge every update and for the
// completed interviews to reach Postgres (bounded), then counts.
func (r *rig) count(ctx context.Context, name string, storm bool, ps []*loadtest.Walker, before snap, elapsed time.Duration) (Row, error) {
	w := Row{Fault: name, People: len(ps), Storm: storm, Elapsed: elapsed}
	idle, cancel := context.WithTimeout(ctx, r.t.settle)
	for _, tg := range []*telegramtest.Server{r.tgW, r.tgP} {
		if err := tg.WaitIdle(idle); err != nil {
			w.Unconfirmed += tg.PendingUpdates()
		}
	}
	cancel()
	for _, p := range ps {
		switch {
		case p.Completed:
			w.Completed++
		case p.Stuck:
			w.Stuck++
		}
		if !p.Completed && len(w.Failures) < 3 && p.Err != nil {
			// The walker's error carries the chat's last messages.
			w.Failures = append(w.Failures, p.Err.Error())
		}
		worst, slow := p.Worst(slowAfter)
		if slow > 0 {
			w.Waited++
		}
		w.Worst = max(w.Worst, worst)
		w.WorstStep = max(w.WorstStep, p.WorstStep())
	}

	db, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		return w, fmt.Errorf("postgres: %w", err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	pseudos := r.pseudonyms(ps)
	var rows map[string]int
	deadline := time.Now().Add(r.t.settle)
	for {
		if rows, err = responsesBy(ctx, db, pseudos); err != nil {
			return w, err
		}
		missing := 0
		for i, p := range ps {
			if p.Completed && rows[pseudos[i]] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		if err := loadtest.Sleep(ctx, 200*time.Millisecond); err != nil {
			return w, err
		}
	}
	for i, p := range ps {
		n := rows[pseudos[i]]
		w.Rows += n
		if p.Completed && n == 0 {
			w.Lost++
			if len(w.Failures) < 4 {
				// What the person saw at the end: the lead for finding
				// out why no row exists.
				w.Failures = append(w.Failures, fmt.Sprintf("respondent %d: thanked, but no response is stored; last messages:\n%s",
					p.User.ID(), loadtest.LastLines(p.User.Chat().Transcript(), 20)))
			}
		}
		if n > 1 {
			w.Doubled += n - 1
		}
	}
	stored, err := storedChoices(ctx, db, pseudos)
	if err != nil {
		return w, err
	}
	for i, p := range ps {
		if !p.Completed || rows[pseudos[i]] != 1 {
			continue
		}
		w.Checked += len(stored[pseudos[i]])
		if diff := answersDiffer(p.Choices(), stored[pseudos[i]]); diff != "" {
			w.Twice++
			if len(w.Failures) < 4 {
				w.Failures = append(w.Failures, fmt.Sprintf("respondent %d: stored answers differ from the taps: %s\n%s",
					p.User.ID(), diff, loadtest.LastLines(p.User.Transcript(), 400)))
			}
		}
	}

	// The same message sent twice in a row: a reply repeated by a
	// duplicate or a race.
	repeated := 0
	for _, p := range ps {
		repeated += repeatedReplies(p.User.Chat())
	}
	if repeated > 0 {
		w.Notes = append(w.Notes, fmt.Sprintf("the same bot message sent twice in a row (a reply repeated): %d", repeated))
	}

	// What the fake Bot API saw.
	kinds := map[string]int{}
	flooded := 0
	for _, tg := range []*telegramtest.Server{r.tgW, r.tgP} {
		for _, v := range tg.Violations() {
			switch {
			case v.Method == "webhook" && strings.Contains(v.Description, "dropped"):
				w.Unconfirmed++
			case v.Method == "webhook":
				kinds[fmt.Sprintf("webhook answered %d (redelivered)", v.Code)]++
			case v.Code == http.StatusTooManyRequests:
				w.TooMany++
				if _, ok := r.flooders.Load(v.ChatID); ok {
					flooded++
				}
			default:
				kinds[fmt.Sprintf("%s %d %s", v.Method, v.Code, v.Description)]++
			}
		}
	}
	if flooded > 0 {
		w.Notes = append(w.Notes, fmt.Sprintf("429s in the flooding person's chat: %d of %d", flooded, w.TooMany))
	}
	if len(kinds) > 0 {
		keys := make([]string, 0, len(kinds))
		for k := range kinds {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, kinds[k]))
		}
		w.Notes = append(w.Notes, "fake Bot API: "+strings.Join(parts, "; "))
	}
	after := r.snapshot()
	var inj []string
	for _, a := range []APIFault{APIStorm429, API5xx, APITimeout, APISlow} {
		if d := after.injected[a] - before.injected[a]; d > 0 {
			inj = append(inj, fmt.Sprintf("%s ×%d", []string{"", "429", "5xx", "timeout", "slow call"}[a], d))
		}
	}
	if len(inj) > 0 {
		w.Notes = append(w.Notes, "injected into the bot's calls: "+strings.Join(inj, ", "))
	}
	if d := after.copies - before.copies; d > 0 {
		w.Notes = append(w.Notes, fmt.Sprintf("extra webhook deliveries (copies, replays, racers): %d", d))
	}
	if w.Unconfirmed > 0 {
		w.Notes = append(w.Notes, fmt.Sprintf("updates never acknowledged or dropped by the fake after every attempt: %d", w.Unconfirmed))
	}
	return w, nil
}

func responsesBy(ctx context.Context, db *pgx.Conn, pseudos []string) (map[string]int, error) {
	rs, err := db.Query(ctx, `SELECT respondent, count(*) FROM responses WHERE respondent = ANY($1) GROUP BY respondent`, pseudos)
	if err != nil {
		return nil, fmt.Errorf("count responses: %w", err)
	}
	out := map[string]int{}
	for rs.Next() {
		var p string
		var n int
		if err := rs.Scan(&p, &n); err != nil {
			return nil, err
		}
		out[p] = n
	}
	return out, rs.Err()
}

// storedChoices is, per respondent, the choices stored per question (only
// questions with answer_choices rows).
func storedChoices(ctx context.Context, db *pgx.Conn, pseudos []string) (map[string]map[string]map[string]bool, error) {
	rs, err := db.Query(ctx, `SELECT r.respondent, c.question, c.choice FROM responses r
		JOIN answer_choices c ON c.response_id = r.id WHERE r.respondent = ANY($1)`, pseudos)
	if err != nil {
		return nil, fmt.Errorf("read answers: %w", err)
	}
	out := map[string]map[string]map[string]bool{}
	for rs.Next() {
		var p, q, c string
		if err := rs.Scan(&p, &q, &c); err != nil {
			return nil, err
		}
		if out[p] == nil {
			out[p] = map[string]map[string]bool{}
		}
		if out[p][q] == nil {
			out[p][q] = map[string]bool{}
		}
		out[p][q][c] = true
	}
	return out, rs.Err()
}

// answersDiffer compares what a person tapped with what was stored, over
// the questions stored with choices: "" if they agree.
func answersDiffer(tapped, stored map[string]map[string]bool) string {
	qs := make([]string, 0, len(stored))
	for q := range stored {
		qs = append(qs, q)
	}
	sort.Strings(qs)
	for _, q := range qs {
		if !sameSet(tapped[q], stored[q]) {
			return fmt.Sprintf("%s: tapped %v, stored %v", q, keysOf(tapped[q]), keysOf(stored[q]))
		}
	}
	return ""
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// repeatedReplies counts new bot messages identical to the bot message just
// before them, with no message from the person in between.
func repeatedReplies(chat telegramtest.Chat) int {
	n := 0
	var prev *telegramtest.Message
	for i := range chat.Messages {
		m := &chat.Messages[i]
		if !m.FromBot {
			prev = nil
			continue
		}
		if prev != nil && prev.Text == m.Text && m.Text != "" {
			n++
		}
		prev = m
	}
	return n
}
