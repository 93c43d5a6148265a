package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/needsbot/needsbot/bot/webchat"
)

// The demo staff's Telegram user ids. Fixed, so that a local Postgres
// keeps one operator and one manager across runs, and impossible as real
// Telegram ids (those have at most 52 significant bits): seeding them can
// never make a stranger staff. Still exact as JavaScript numbers (< 2^53)
// for the web chat.
const (
	demoOperatorID int64 = 1<<52 + 1
	demoManagerID  int64 = 1<<52 + 2
)

// demoStaff are the staff a database may hold for try and seed to use it.
func demoStaff() []int64 { return []int64{demoOperatorID, demoManagerID} }

// demoToken returns a fresh random demo invite token (a guessable one
// would let anyone answer into the demo municipality's results).
func demoToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "try-" + base64.RawURLEncoding.EncodeToString(b)
}

// demo is what `try` sets up in Postgres so that every persona of the web
// chat has something to do: an operator and a manager of the default
// municipality, and a respondent invite for its immigrants' desk.
type demo struct {
	municipality string // its name, e.g. Roma
	service      string // the invite's service, "" when none
	invite       string // the invite's token, "" when not set up
	staff        bool   // the operator and manager are in the staff table
}

// seedDemo sets up the demo staff and invite (idempotently: a local
// database keeps them between runs); see pgstore.SeedDemo.
func seedDemo(ctx context.Context, a *app, istat string) (demo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := ""
	if ids := a.forms.Respondents(); len(ids) > 0 {
		form = ids[0]
	}
	got, err := a.db.SeedDemo(ctx, form, istat, demoOperatorID, demoManagerID, "Giulia (demo operator)", "Marco (demo manager)", demoToken())
	if err != nil {
		return demo{}, err
	}
	if err := a.db.MarkDemoDatabase(ctx); err != nil {
		return demo{}, err
	}
	if err := seedDemoDirectory(ctx, a.db, istat); err != nil {
		return demo{}, fmt.Errorf("demo service directory: %w", err)
	}
	return demo{municipality: got.Municipality, service: got.Service, invite: got.Invite, staff: true}, nil
}

func (d demo) describe(istat string) string {
	where := istat
	if d.municipality != "" {
		where = d.municipality + " (" + istat + ")"
	}
	s := "respondents start in " + where
	if d.invite != "" {
		s += " through the invite /start " + d.invite
		if d.service != "" {
			s += " (" + d.service + ")"
		}
	}
	if d.staff {
		s += fmt.Sprintf("; operator %d and manager %d are staff of %s", demoOperatorID, demoManagerID, where)
	}
	return s
}

// demoSeedN is how many synthetic interviews the manager's demo button adds.
const demoSeedN = 300

// seedAction fills the try database's demo municipality with synthetic
// interviews (what `needsbot seed` does), so that a manager's first
// /results shows charts rather than a wall of hidden small counts.
func seedAction(a *app, istat string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		places, err := seedPlaces(ctx, a.db, istat)
		if err != nil {
			return "", err
		}
		st, err := seedResponses(ctx, a.db, a.forms, places, seedOptions{N: demoSeedN, Days: 90, Seed: uint64(time.Now().UnixNano()),
			Batch: 1000, Workers: 2, Now: time.Now()})
		if err != nil {
			return "", err
		}
		if err := a.db.RebuildRollups(ctx); err != nil {
			return "", err
		}
		return fmt.Sprintf("Added %d synthetic interviews (%d completed, %d abandoned) over the last 90 days. "+
			"They are made up, spread like real answers: send /results to see the charts.", st.completed+st.abandoned, st.completed, st.abandoned), nil
	}
}

// personas are the people the web chat can be; seed, when set, is the
// manager's button that fills the demo with synthetic interviews.
func (d demo) personas(seed func(ctx context.Context) (string, error)) []webchat.Persona {
	where := d.municipality
	if where == "" {
		where = "the municipality"
	}
	ps := []webchat.Persona{
		{Key: "respondent", Label: "Respondent", FirstName: "Amina", StartButton: true, StartPayload: d.invite,
			Description: "Got an invite at a service desk in " + where + " and answers the questionnaire.",
			Tips: "Press START, choose a language and answer by tapping. Try ◀ Back, /language to switch language " +
				"half-way, or typing instead of tapping. Set the phone to العربية or اردو for right-to-left. " +
				"New respondent starts over as another person."},
		{Key: "operator", Label: "Operator", FirstName: "Giulia", UserID: demoOperatorID,
			Description: "Works at a service desk in " + where + ": hands out invites.",
			Tips: "/invite creates an invite link and a QR poster for the desk; tap the link to open it " +
				"as a new respondent would. /invites lists yours with their counts.",
			Commands: []string{"/invite", "/invites", "/help"}},
		{Key: "manager", Label: "Manager", FirstName: "Marco", UserID: demoManagerID,
			Description: "Plans services for " + where + ": reads the results.",
			Tips: "/results shows what respondents need, with charts; /export sends the answers as CSV or XLSX. " +
				"Small counts are hidden to protect people: fill the demo with synthetic interviews (the orange button) " +
				"to see full charts at once, or complete a few interviews as respondents.",
			Commands: []string{"/results", "/export", "/staff", "/help"}},
	}
	if seed != nil {
		ps[2].Action = &webchat.Action{Label: fmt.Sprintf("＋ %d synthetic interviews", demoSeedN), Run: seed}
	}
	return ps
}
