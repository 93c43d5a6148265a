package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/needsbot/needsbot/bot/webchat"
)

// The demo staff's Telegram user ids. Fixed, so that a local Postgres
// keeps one operator and one manager across runs.
const (
	demoOperatorID int64 = 700_000_001
	demoManagerID  int64 = 700_000_002
)

// demo is what `try` sets up in Postgres so that every persona of the web
// chat has something to do: an operator and a manager of the default
// municipality, and a respondent invite for its immigrants' desk.
type demo struct {
	municipality string // its name, e.g. Roma
	service      string // the invite's service, "" when none
	invite       string // the invite's token, "" when not set up
	staff        bool   // the operator and manager are in the staff table
}

// seedDemo inserts the demo staff and invite (idempotently: a local
// database keeps them between runs). Staff normally enrol through staff
// links; here they are written directly, as `needsbot admin` would, and
// their commands work once the staff package handles them.
func seedDemo(ctx context.Context, a *app, istat string) (demo, error) {
	var d demo
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, a.cfg.DatabaseURL)
	if err != nil {
		return d, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var muni int64
	if err := conn.QueryRow(ctx, `SELECT id, name FROM municipalities WHERE istat_code = $1`, istat).Scan(&muni, &d.municipality); err != nil {
		return d, fmt.Errorf("municipality %s: %w", istat, err)
	}
	var service *int64
	var sid int64
	switch err := conn.QueryRow(ctx, `SELECT id, name FROM services WHERE municipality_id = $1 AND code = 'sportello_immigrati'`, muni).Scan(&sid, &d.service); err {
	case nil:
		service = &sid
	case pgx.ErrNoRows:
	default:
		return d, fmt.Errorf("service: %w", err)
	}
	for _, s := range []struct {
		id         int64
		role, name string
	}{{demoOperatorID, "operator", "Giulia (demo operator)"}, {demoManagerID, "manager", "Marco (demo manager)"}} {
		var staffID int64
		err := conn.QueryRow(ctx, `
			INSERT INTO staff (telegram_user_id, role, municipality_id, display_name)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (telegram_user_id) DO UPDATE
			SET role = EXCLUDED.role, municipality_id = EXCLUDED.municipality_id, service_id = NULL,
			    display_name = EXCLUDED.display_name, revoked_at = NULL
			RETURNING id`, s.id, s.role, muni, s.name).Scan(&staffID)
		if err != nil {
			return d, fmt.Errorf("staff %s: %w", s.role, err)
		}
		if err := a.db.Audit(ctx, nil, "try.staff", map[string]any{"staff": staffID, "role": s.role, "municipality": istat}); err != nil {
			return d, fmt.Errorf("audit: %w", err)
		}
	}
	d.staff = true
	token := "try-demo-" + istat
	if _, err := conn.Exec(ctx, `
		INSERT INTO invites (token, form, municipality_id, service_id, label)
		VALUES ($1, 'immigrati', $2, $3, 'needsbot try: demo invite')
		ON CONFLICT (token) DO UPDATE
		SET form = EXCLUDED.form, municipality_id = EXCLUDED.municipality_id, service_id = EXCLUDED.service_id,
		    expires_at = NULL, max_uses = NULL, revoked_at = NULL`, token, muni, service); err != nil {
		return d, fmt.Errorf("invite: %w", err)
	}
	d.invite = token
	return d, nil
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

// personas are the people the web chat can be.
func (d demo) personas() []webchat.Persona {
	where := d.municipality
	if where == "" {
		where = "the municipality"
	}
	return []webchat.Persona{
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
				"Complete a few interviews as respondents first: small counts are hidden to protect people.",
			Commands: []string{"/results", "/export", "/staff", "/help"}},
	}
}
