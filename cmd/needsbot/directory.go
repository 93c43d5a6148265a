package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/directory"
	"github.com/needsbot/needsbot/internal/tghtml"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/results"
	"github.com/needsbot/needsbot/staff"
	"github.com/needsbot/needsbot/storage/pgstore"
)

const directoryUsage = `usage: needsbot directory ACTION [flags]

  import FILE.csv --municipality 048017
  export --municipality 048017 [--out FILE.csv]
  stats --municipality 048017 [--days 30]

The CSV columns are name,address,latitude,longitude,phone,website,hours,
languages,areas,notes (languages and areas separated by ";"), and optionally
free, appointment (yes/no) and help_point (yes on the municipality's general
help point). Areas are the questionnaire's need areas (aree), languages the
bot's language codes. import checks the whole file first and prints one
FILE:LINE: message per problem; with any problem nothing is imported. An
entry missing from a later import is hidden, not deleted. stats prints how
many times the bot pointed respondents to each service, per need area.

It reads NEEDSBOT_DATABASE_URL (or --database-url) like migrate does.
`

// runDirectory is `needsbot directory`: the service directory respondents
// are referred to (issue 16), from the shell.
func runDirectory(ctx context.Context, e *cmdEnv, args []string) int {
	if len(args) < 1 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stderr, directoryUsage)
		if len(args) > 0 {
			return 0
		}
		return 2
	}
	cfg, _, err := loadConfig("directory", nil, e.getenv, e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 2
	}
	action, rest := args[0], args[1:]
	var file string
	if action == "import" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		file, rest = rest[0], rest[1:]
	}
	fs := flag.NewFlagSet("directory "+action, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dsn := fs.String("database-url", cfg.DatabaseURL, "Postgres ($NEEDSBOT_DATABASE_URL)")
	muni := fs.String("municipality", "", "ISTAT code of the municipality (six digits)")
	out := fs.String("out", "", "export: write to this file instead of standard output")
	days := fs.Int("days", 30, "stats: the last this many days")
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if action == "import" && file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "needsbot directory %s: unexpected %q\n\n%s", action, fs.Arg(0), directoryUsage)
		return 2
	}
	switch action {
	case "import", "export", "stats":
	default:
		fmt.Fprintf(e.stderr, "needsbot directory: unknown action %q\n\n%s", action, directoryUsage)
		return 2
	}
	if *muni == "" {
		fmt.Fprintf(e.stderr, "needsbot directory %s: --municipality ISTAT is required\n", action)
		return 2
	}
	var entries []directory.Entry
	if action == "import" {
		// Check the file before touching the database.
		if file == "" {
			fmt.Fprintln(e.stderr, "needsbot directory import: FILE.csv is required")
			return 2
		}
		vocab, err := directoryVocabulary(cfg.FormsDir)
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			return 1
		}
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			return 1
		}
		entries, err = directory.ParseCSV(file, f, vocab)
		f.Close()
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			fmt.Fprintln(e.stderr, "needsbot directory import: nothing imported")
			return 1
		}
	}
	db, err := pgstore.Open(ctx, *dsn)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	defer db.Close()
	ad := &admin{db: db, out: e.stdout}
	m, err := ad.municipality(ctx, *muni)
	if err == nil {
		switch action {
		case "import":
			var a, u, h int
			if a, u, h, err = db.ImportDirectory(ctx, nil, m.ID, entries); err == nil {
				fmt.Fprintf(e.stdout, "%s %s: %d services (%d added, %d updated, %d hidden)\n", m.ISTAT, m.Name, len(entries), a, u, h)
			}
		case "export":
			err = exportDirectory(ctx, db, m.ID, *out, e.stdout)
		case "stats":
			err = directoryStats(ctx, db, m, *days, e.stdout)
		}
	}
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(e.stderr, "needsbot directory %s: %v\n", action, err)
		return 2
	case err != nil:
		fmt.Fprintf(e.stderr, "needsbot directory %s: %v\n", action, err)
		return 1
	}
	return 0
}

func exportDirectory(ctx context.Context, db *pgstore.DB, municipalityID int64, out string, stdout io.Writer) error {
	entries, err := db.Directory(ctx, municipalityID, false)
	if err != nil {
		return err
	}
	if out == "" {
		return directory.WriteCSV(stdout, entries)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := directory.WriteCSV(f, entries); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func directoryStats(ctx context.Context, db *pgstore.DB, m pgstore.Municipality, days int, w io.Writer) error {
	if days < 1 {
		return usageError("--days must be at least 1")
	}
	stats, err := db.ReferralStats(ctx, m.ID, time.Now().AddDate(0, 0, -(days-1)))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %s: referrals over the last %d days\n", m.ISTAT, m.Name, days)
	if len(stats) == 0 {
		fmt.Fprintln(w, "none")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REFERRALS\tAREA\tSERVICE")
	for _, s := range stats {
		area := s.Area
		if area == "" {
			area = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Count, area, s.Name)
	}
	return tw.Flush()
}

// directoryVocabulary is what directory files are checked against: the
// need areas of the questionnaires (their `aree` choice list, without the
// non-answers) and the bot's languages.
func directoryVocabulary(formsDir string) (directory.Vocabulary, error) {
	lib, err := forms.Load(formsDir)
	if err != nil {
		return directory.Vocabulary{}, err
	}
	cat, err := locales.New()
	if err != nil {
		return directory.Vocabulary{}, err
	}
	var v directory.Vocabulary
	v.Areas = lib.AreaCodes()
	for _, l := range cat.Languages() {
		v.Languages = append(v.Languages, l.Code)
	}
	return v, nil
}

// pgDirectory is bot.Directory over Postgres: the municipality is its
// Postgres id as the interview context holds it.
type pgDirectory struct {
	db      *pgstore.DB
	visible *pgstore.DirectoryCache // db's, read at every completion
	now     func() time.Time
}

// directoryTTL is how long a municipality's directory is reused
// (pgstore.DirectoryCache): an edit made on another replica or by
// `needsbot directory import` reaches respondents within it.
const directoryTTL = time.Minute

func (d pgDirectory) Services(ctx context.Context, municipality string) ([]directory.Entry, error) {
	id, err := strconv.ParseInt(municipality, 10, 64)
	if err != nil {
		return nil, nil // no municipality: no directory
	}
	return d.visible.Get(ctx, id)
}

func (d pgDirectory) Referred(ctx context.Context, _ string, picks []directory.Pick) error {
	refs := make([]pgstore.Referral, 0, len(picks))
	for _, p := range picks {
		if p.Entry.ID != 0 {
			refs = append(refs, pgstore.Referral{EntryID: p.Entry.ID, Area: p.Area})
		}
	}
	return d.db.CountReferrals(ctx, refs, d.now())
}

// demoDirectory is the clearly fictional directory `try` gives its demo
// municipality (production seeds none): names say "(demo)", addresses are
// made up, the coordinates are those of the municipality's centre.
func demoDirectory() []directory.Entry {
	yes, no := true, false
	return []directory.Entry{
		{Name: "Sportello Esempio Casa (demo)", Address: "Via dell'Esempio 1 (indirizzo fittizio)", HasCoords: true, Latitude: 41.8933, Longitude: 12.4829,
			Phone: "000 000 0001", Hours: "lun-ven 9-13", Languages: []string{"it", "en", "ar"}, Areas: []string{"casa"}, Free: &yes, Appointment: &no},
		{Name: "Ufficio Esempio Documenti (demo)", Address: "Piazza Fittizia 2 (indirizzo fittizio)", HasCoords: true, Latitude: 41.8960, Longitude: 12.4870,
			Hours: "mar e gio 9-12", Languages: []string{"it", "fr"}, Areas: []string{"documenti", "ricongiungimento"}, Free: &yes, Appointment: &yes},
		{Name: "Scuola Esempio di italiano (demo)", Address: "Via Immaginaria 3 (indirizzo fittizio)", HasCoords: true, Latitude: 41.8990, Longitude: 12.4760,
			Hours: "lun-gio 18-20", Languages: []string{"it", "en", "es"}, Areas: []string{"lingua", "scuola"}, Free: &yes},
		{Name: "Centro Esempio Lavoro (demo)", Address: "Via Inventata 4 (indirizzo fittizio)", HasCoords: true, Latitude: 41.8900, Longitude: 12.4920,
			Hours: "lun-ven 9-17", Languages: []string{"it", "ro", "uk"}, Areas: []string{"lavoro", "titoli"}},
		{Name: "Ambulatorio Esempio (demo)", Address: "Via Modello 5 (indirizzo fittizio)", HasCoords: true, Latitude: 41.9010, Longitude: 12.4950,
			Hours: "lun-sab 8-12", Languages: []string{"it", "en", "bn"}, Areas: []string{"salute"}, Free: &yes},
		{Name: "Punto Informativo Esempio (demo)", Address: "Piazza del Campione 6 (indirizzo fittizio)", HasCoords: true, Latitude: 41.8950, Longitude: 12.4800,
			Phone: "000 000 0000", Hours: "lun-sab 9-18", Languages: []string{"it", "en", "fr", "ar"}, Areas: []string{"informazione", "partecipazione", "discriminazione"}, HelpPoint: true},
	}
}

// seedDemoDirectory gives the demo municipality the demo directory unless
// it has one (a local database keeps it between runs).
func seedDemoDirectory(ctx context.Context, db *pgstore.DB, istat string) error {
	id, err := db.MunicipalityID(ctx, istat)
	if err != nil {
		return err
	}
	have, err := db.Directory(ctx, id, true)
	if err != nil || len(have) > 0 {
		return err
	}
	_, _, _, err = db.ImportDirectory(ctx, nil, id, demoDirectory())
	return err
}

// msgReferralsTitle heads the referral counts under /results (staff-facing).
const msgReferralsTitle = "d.referrals.title"

// directoryMessageIDs are the message ids of this file, for lint.
func directoryMessageIDs() []string { return []string{msgReferralsTitle} }

// referralDays is the period of the referral counts under /results.
const referralDays = 30

// resultsWithReferrals adds to a manager's /results a short section: how
// many times the bot pointed respondents to each service, per need area,
// over the last 30 days (counts only, nothing links them to a response),
// protected as the other counts: "<5" when small, else multiples of 5.
type resultsWithReferrals struct {
	staff.Results
	db  *pgstore.DB
	log interface {
		Warn(msg string, args ...any)
	}
	forms   *dialog.Library // labels of the need areas
	minCell int             // NEEDSBOT_MIN_CELL
}

// Long forwards to the results service: its long buttons go to the staff
// work queue.
func (x resultsWithReferrals) Long(payload string) bool {
	l, ok := x.Results.(staff.LongResults)
	return ok && l.Long(payload)
}

func (x resultsWithReferrals) Command(ctx context.Context, r *bot.Request, m org.Member, name, args string) error {
	if err := x.Results.Command(ctx, r, m, name, args); err != nil {
		return err
	}
	if name != "results" || m.MunicipalityID == 0 {
		return nil
	}
	if text := x.section(ctx, r, m.MunicipalityID); text != "" {
		if _, err := r.Sender.Send(ctx, r.Chat, bot.Message{Text: text}); err != nil {
			x.log.Warn("referral counts not sent", "err", err)
		}
	}
	return nil
}

// section renders the referral counts, "" when there are none.
func (x resultsWithReferrals) section(ctx context.Context, r *bot.Request, municipality int64) string {
	stats, err := x.db.ReferralStats(ctx, municipality, time.Now().AddDate(0, 0, -(referralDays-1)))
	if err != nil {
		x.log.Warn("referral counts unavailable", "err", err)
		return ""
	}
	if len(stats) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("🧭 <b>" + r.Renderer.Text(r.Lang, msgReferralsTitle, map[string]any{"Days": referralDays}) + "</b>")
	for i, s := range stats {
		if i == 15 {
			b.WriteString("\n…")
			break
		}
		area := "—"
		if s.Area != "" {
			area = s.Area
			if id := x.forms.AreaLabel(s.Area); id != "" {
				area = r.Renderer.Plain(r.Lang, id, nil)
			}
		}
		// Protected as every count staff see: a referral follows a
		// respondent's answers, and one person a month is a small cell.
		n := results.ProtectUnkeyed(int64(s.Count), x.minCell)
		b.WriteString(fmt.Sprintf("\n%s · %s · %s", tghtml.Escape(n.String()), tghtml.Escape(s.Name), tghtml.Escape(area)))
	}
	return b.String()
}
