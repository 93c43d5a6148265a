package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	tg "github.com/go-telegram/bot"

	"github.com/needsbot/needsbot/staff"
	"github.com/needsbot/needsbot/storage/pgstore"
)

const adminUsage = `usage: needsbot admin OBJECT ACTION [flags]

  municipality list
  municipality add --istat 048017 --name Firenze
  service list --municipality 048017
  service add --municipality 048017 --code sportello_immigrati --name "Sportello immigrati"
  staff list [--municipality 048017]
  staff link --role admin|manager|operator [--municipality 048017] [--service CODE] [--days 7] [--bot USERNAME]
  staff revoke --id N

It reads NEEDSBOT_DATABASE_URL (or --database-url) like migrate does. staff link
prints a single-use enrolment link; it needs the bot's username (--bot, or
NEEDSBOT_TELEGRAM_TOKEN to ask Telegram). Every change is written to the audit log.
`

// runAdmin is `needsbot admin`: municipalities, services and staff from the
// command line, for the first admin and for scripts.
func runAdmin(ctx context.Context, e *cmdEnv, args []string) int {
	if len(args) < 2 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stderr, adminUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	cfg, _, err := loadConfig("admin", nil, e.getenv, e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 2
	}
	what := args[0] + " " + args[1]
	fs := flag.NewFlagSet("admin "+what, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dsn := fs.String("database-url", cfg.DatabaseURL, "Postgres ($NEEDSBOT_DATABASE_URL)")
	istat := fs.String("istat", "", "ISTAT code of the municipality (six digits)")
	name := fs.String("name", "", "name")
	muni := fs.String("municipality", "", "ISTAT code of the municipality")
	code := fs.String("code", "", "service code: lowercase letters, digits and _")
	role := fs.String("role", "", "admin, manager or operator")
	service := fs.String("service", "", "service code (operators bound to one service)")
	days := fs.Int("days", 7, "days the staff link stays valid")
	botName := fs.String("bot", "", "the bot's username, for the link (default: ask Telegram with NEEDSBOT_TELEGRAM_TOKEN)")
	id := fs.Int64("id", 0, "staff id (from staff list)")
	if err := fs.Parse(args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	db, err := pgstore.Open(ctx, *dsn)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	defer db.Close()
	ad := &admin{db: db, out: e.stdout}
	switch what {
	case "municipality list":
		err = ad.municipalities(ctx)
	case "municipality add":
		err = ad.addMunicipality(ctx, *istat, *name)
	case "service list":
		err = ad.services(ctx, *muni)
	case "service add":
		err = ad.addService(ctx, *muni, *code, *name)
	case "staff list":
		err = ad.staff(ctx, *muni)
	case "staff link":
		username := *botName
		if username == "" {
			if username, err = botUsername(ctx, cfg); err != nil {
				break
			}
		}
		err = ad.link(ctx, username, *role, *muni, *service, *days)
	case "staff revoke":
		err = ad.revoke(ctx, *id)
	default:
		fmt.Fprintf(e.stderr, "needsbot admin: unknown %q\n\n%s", what, adminUsage)
		return 2
	}
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(e.stderr, "needsbot admin %s: %v\n", what, err)
		return 2
	case err != nil:
		fmt.Fprintf(e.stderr, "needsbot admin %s: %v\n", what, err)
		return 1
	}
	return 0
}

// usageError is a mistake in the command line (exit status 2).
type usageError string

func (u usageError) Error() string { return string(u) }

type admin struct {
	db  *pgstore.DB
	out io.Writer
}

func (a *admin) table(header string, rows func(w io.Writer)) {
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	tw.Flush()
}

func (a *admin) municipality(ctx context.Context, istat string) (pgstore.Municipality, error) {
	if istat == "" {
		return pgstore.Municipality{}, usageError("--municipality ISTAT is required")
	}
	id, err := a.db.MunicipalityID(ctx, istat)
	if errors.Is(err, pgstore.ErrNotFound) {
		return pgstore.Municipality{}, usageError(fmt.Sprintf("no municipality with ISTAT code %s (see: needsbot admin municipality list)", istat))
	}
	if err != nil {
		return pgstore.Municipality{}, err
	}
	return a.db.Municipality(ctx, id)
}

func (a *admin) municipalities(ctx context.Context) error {
	all, err := a.db.Municipalities(ctx)
	if err != nil {
		return err
	}
	a.table("ISTAT\tNAME\tSERVICES", func(w io.Writer) {
		for _, m := range all {
			fmt.Fprintf(w, "%s\t%s\t%d\n", m.ISTAT, m.Name, m.Services)
		}
	})
	return nil
}

func (a *admin) addMunicipality(ctx context.Context, istat, name string) error {
	if istat == "" || strings.TrimSpace(name) == "" {
		return usageError("--istat and --name are required")
	}
	m, err := a.db.AddMunicipality(ctx, nil, istat, strings.TrimSpace(name))
	switch {
	case errors.Is(err, pgstore.ErrExists):
		return usageError("a municipality with ISTAT code " + istat + " already exists")
	case errors.Is(err, pgstore.ErrInvalid):
		return usageError("the ISTAT code must be six digits (Firenze is 048017)")
	case err != nil:
		return err
	}
	fmt.Fprintf(a.out, "added %s %s (id %d)\n", m.ISTAT, m.Name, m.ID)
	return nil
}

func (a *admin) services(ctx context.Context, istat string) error {
	m, err := a.municipality(ctx, istat)
	if err != nil {
		return err
	}
	svcs, err := a.db.Services(ctx, m.ID)
	if err != nil {
		return err
	}
	a.table("CODE\tNAME", func(w io.Writer) {
		for _, s := range svcs {
			fmt.Fprintf(w, "%s\t%s\n", s.Code, s.Name)
		}
	})
	return nil
}

func (a *admin) addService(ctx context.Context, istat, code, name string) error {
	if code == "" || strings.TrimSpace(name) == "" {
		return usageError("--municipality, --code and --name are required")
	}
	m, err := a.municipality(ctx, istat)
	if err != nil {
		return err
	}
	s, err := a.db.AddService(ctx, nil, m.ID, code, strings.TrimSpace(name))
	switch {
	case errors.Is(err, pgstore.ErrExists):
		return usageError(m.Name + " already has a service " + code)
	case errors.Is(err, pgstore.ErrInvalid):
		return usageError("the code may use only lowercase letters, digits and _ (e.g. sportello_immigrati)")
	case err != nil:
		return err
	}
	fmt.Fprintf(a.out, "added %s %q to %s\n", s.Code, s.Name, m.Name)
	return nil
}

func (a *admin) staff(ctx context.Context, istat string) error {
	var muni int64
	if istat != "" {
		m, err := a.municipality(ctx, istat)
		if err != nil {
			return err
		}
		muni = m.ID
	}
	list, err := a.db.ListStaff(ctx, muni)
	if err != nil {
		return err
	}
	a.table("ID\tROLE\tMUNICIPALITY\tSERVICE\tNAME\tSINCE", func(w io.Writer) {
		for _, s := range list {
			m := s.MunicipalityName
			if m == "" {
				m = "(all)"
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Role, m, s.ServiceName, s.Name, s.CreatedAt.Format("2006-01-02"))
		}
	})
	return nil
}

func (a *admin) link(ctx context.Context, username, role, istat, service string, days int) error {
	l := pgstore.StaffLink{Role: role, ExpiresAt: time.Now().Add(time.Duration(days) * 24 * time.Hour)}
	switch {
	case role != pgstore.RoleAdmin && role != pgstore.RoleManager && role != pgstore.RoleOperator:
		return usageError("--role must be admin, manager or operator")
	case days < 1 || days > 90:
		return usageError("--days must be between 1 and 90")
	case role == pgstore.RoleAdmin && (istat != "" || service != ""):
		return usageError("an admin link has no --municipality or --service")
	case role == pgstore.RoleManager && service != "":
		return usageError("a manager link has no --service")
	}
	if role != pgstore.RoleAdmin {
		m, err := a.municipality(ctx, istat)
		if err != nil {
			return err
		}
		l.MunicipalityID = m.ID
		if service != "" {
			svcs, err := a.db.Services(ctx, m.ID)
			if err != nil {
				return err
			}
			for _, s := range svcs {
				if s.Code == service {
					l.ServiceID = s.ID
				}
			}
			if l.ServiceID == 0 {
				return usageError(fmt.Sprintf("%s has no service %q (see: needsbot admin service list --municipality %s)", m.Name, service, istat))
			}
		}
	}
	var err error
	if l.Token, err = staff.NewStaffToken(rand.Reader); err != nil {
		return err
	}
	if _, err := a.db.CreateStaffLink(ctx, l); err != nil {
		return err
	}
	fmt.Fprintf(a.out, "%s\n(single use, valid until %s; whoever opens it becomes %s)\n",
		staff.DeepLink(username, l.Token), l.ExpiresAt.Format("2006-01-02 15:04 MST"), role)
	return nil
}

func (a *admin) revoke(ctx context.Context, id int64) error {
	if id <= 0 {
		return usageError("--id is required (see: needsbot admin staff list)")
	}
	s, err := a.db.RevokeStaff(ctx, 0, id, 0)
	if errors.Is(err, pgstore.ErrNotFound) {
		return usageError(fmt.Sprintf("no active staff member with id %d", id))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "revoked %d (%s %s)\n", s.ID, s.Role, s.Name)
	return nil
}

// botUsername asks Telegram for the bot's username.
func botUsername(ctx context.Context, cfg Config) (string, error) {
	if cfg.TelegramToken == "" {
		return "", usageError("--bot USERNAME is required (or NEEDSBOT_TELEGRAM_TOKEN to ask Telegram)")
	}
	api, err := tg.New(cfg.TelegramToken, tg.WithServerURL(cfg.TelegramAPIURL), tg.WithSkipGetMe())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	me, err := api.GetMe(ctx)
	if err != nil {
		return "", fmt.Errorf("telegram getMe: %w", err)
	}
	return me.Username, nil
}
