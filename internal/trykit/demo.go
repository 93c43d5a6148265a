package trykit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/needsbot/needsbot/bot/webchat"
)

// The demo staff's Telegram user ids. Fixed, so that a local Postgres
// keeps one operator, one manager and one admin across runs, and impossible as real
// Telegram ids (those have at most 52 significant bits): seeding them can
// never make a stranger staff. Still exact as JavaScript numbers (< 2^53)
// for the web chat.
const (
	DemoOperatorID int64 = 1<<52 + 1
	DemoManagerID  int64 = 1<<52 + 2
	DemoAdminID    int64 = 1<<52 + 3
)

// DemoStaff are the staff a database may hold for try and seed to use it.
func DemoStaff() []int64 { return []int64{DemoOperatorID, DemoManagerID, DemoAdminID} }

// DemoToken returns a fresh random demo invite token (a guessable one
// would let anyone answer into the demo municipality's results).
func DemoToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "try-" + base64.RawURLEncoding.EncodeToString(b)
}

// Demo is what `try` sets up in Postgres so that every persona of the web
// chat has something to do: an operator and a manager of the default
// municipality, an admin of all, and a respondent invite for its
// immigrants' desk.
type Demo struct {
	Municipality string // its name, e.g. Roma
	Service      string // the invite's service, "" when none
	Invite       string // the invite's token, "" when not set up
	Staff        bool   // the operator, manager and admin are in the staff table
	// Other is the second municipality the admin compares with the first
	// (its name), "" when the database has one only.
	Other string
}

// Describe is the line `try` prints about the demo.
func (d Demo) Describe(istat string) string {
	where := istat
	if d.Municipality != "" {
		where = d.Municipality + " (" + istat + ")"
	}
	s := "respondents start in " + where
	if d.Invite != "" {
		s += " through the invite /start " + d.Invite
		if d.Service != "" {
			s += " (" + d.Service + ")"
		}
	}
	if d.Staff {
		s += fmt.Sprintf("; operator %d and manager %d are staff of %s, admin %d of every municipality", DemoOperatorID, DemoManagerID, where, DemoAdminID)
	}
	return s
}

// Personas are the people the web chat can be; seed, when set, is the
// manager's button that fills the demo with synthetic interviews, and
// seedBoth the admin's, that fills the demo municipality and the other.
func (d Demo) Personas(seed, seedBoth func(ctx context.Context) (string, error)) []webchat.Persona {
	where := d.Municipality
	if where == "" {
		where = "the municipality"
	}
	ps := []webchat.Persona{
		{Key: "respondent", Label: "Respondent", FirstName: "Amina", StartButton: true, StartPayload: d.Invite,
			Description: "Got an invite at a service desk in " + where + " and answers the questionnaire.",
			Tips: "Press START, choose a language and answer by tapping. Try ◀ Back, /language to switch language " +
				"half-way, or typing instead of tapping. Set the phone to العربية or اردو for right-to-left. " +
				"New respondent starts over as another person."},
		{Key: "operator", Label: "Operator", FirstName: "Giulia", UserID: DemoOperatorID,
			Description: "Works at a service desk in " + where + ": hands out invites.",
			Tips: "/invite creates an invite link and a QR poster for the desk; tap the link to open it " +
				"as a new respondent would. /invites lists yours with their counts.",
			Commands: []string{"/invite", "/invites", "/help"}},
		{Key: "manager", Label: "Manager", FirstName: "Marco", UserID: DemoManagerID,
			Description: "Plans services for " + where + ": reads the results.",
			Tips: "/results shows what respondents need, with charts; /export sends the answers as CSV or XLSX. " +
				"Small counts are hidden to protect people: fill the demo with synthetic interviews (the orange button) " +
				"to see full charts at once, or complete a few interviews as respondents.",
			Commands: []string{"/results", "/export", "/staff", "/help"}},
	}
	if seed != nil {
		ps[2].Action = &webchat.Action{Label: fmt.Sprintf("＋ %d synthetic interviews", DemoSeedN), Run: seed}
	}
	if d.Staff {
		both := where
		if d.Other != "" {
			both = where + " and " + d.Other
		}
		admin := webchat.Persona{Key: "admin", Label: "Admin", FirstName: "Ada", UserID: DemoAdminID,
			Description: "Runs needsbot for every municipality (" + both + "): compares them and manages staff.",
			Tips: "/results shows all municipalities; ⚖️ Compare puts them side by side, with counts protected as everywhere " +
				"(rounded to multiples of 5, small ones hidden). Fill " + both + " with synthetic interviews (the orange button) " +
				"so the comparison has something to show. /staff enrols or revokes people, /municipalities lists " +
				"municipalities and their services, /invites shows every invite.",
			Commands: []string{"/results", "/staff", "/municipalities", "/help"}}
		if seedBoth != nil && d.Other != "" {
			admin.Action = &webchat.Action{Label: fmt.Sprintf("＋ %d synthetic interviews in each of %s", DemoSeedN, both), Run: seedBoth}
		}
		ps = append(ps, admin)
	}
	return ps
}

// DemoSeedN is how many synthetic interviews the manager's demo button adds.
const DemoSeedN = 300
