package staff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog/xlsform"
	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// pgPublisher adapts pgstore to FormPublisher as cmd does, counting the
// publications made live.
type pgPublisher struct {
	db   *pgstore.DB
	mu   sync.Mutex
	live []string
}

var _ FormPublisher = (*pgPublisher)(nil)

func (p *pgPublisher) SaveUpload(ctx context.Context, u Upload) error {
	return p.db.SaveFormUpload(ctx, pgstore.FormUpload{Key: u.Key, StaffID: u.StaffID, Name: u.Name, Workbook: u.Workbook, ExpiresAt: u.ExpiresAt})
}

func fromPG(u pgstore.FormUpload) Upload {
	return Upload{Key: u.Key, StaffID: u.StaffID, Name: u.Name, Workbook: u.Workbook, ExpiresAt: u.ExpiresAt, Published: u.PublishedAt != nil, Form: u.Form, Version: u.Version}
}

func (p *pgPublisher) Upload(ctx context.Context, key string, now time.Time) (Upload, error) {
	u, err := p.db.FormUploadByKey(ctx, key, now)
	return fromPG(u), err
}

func (p *pgPublisher) Publish(ctx context.Context, key string, now time.Time, actor int64, pub *xlsform.Publication) (Upload, error) {
	u, err := p.db.PublishFormUpload(ctx, key, now, pgstore.PublishedForm{Form: pub.Result.FormID, Version: pub.Result.Form.Version,
		Definition: string(pub.Result.YAML), Messages: pub.Messages(), Languages: pub.Complete, PublishedBy: &actor})
	if err == nil {
		p.mu.Lock()
		p.live = append(p.live, fmt.Sprintf("%s v%d", u.Form, u.Version))
		p.mu.Unlock()
	}
	return fromPG(u), err
}

// xlsx writes sheets (name → rows, the first the header) as a workbook.
func xlsx(t *testing.T, sheets map[string][][]string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for _, name := range []string{"survey", "choices", "settings"} {
		rows, ok := sheets[name]
		if !ok {
			continue
		}
		if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			vals := make([]any, len(row))
			for j, v := range row {
				vals[j] = v
			}
			if err := f.SetSheetRow(name, cell, &vals); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.DeleteSheet("Sheet1"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// goodWorkbook: form "quartiere" version 3, complete in English and
// Italian, French missing one label; a setting needsbot ignores (a note).
func goodWorkbook(t *testing.T) []byte {
	return xlsx(t, map[string][][]string{
		"survey": {
			{"type", "name", "label::English (en)", "label::Italiano (it)", "label::Français (fr)"},
			{"select_one yn", "happy", "Do you like the neighbourhood?", "Ti piace il quartiere?", "Aimez-vous le quartier ?"},
			{"text", "wish", "What would you change?", "Cosa cambieresti?", ""},
		},
		"choices": {
			{"list_name", "name", "label::English (en)", "label::Italiano (it)", "label::Français (fr)"},
			{"yn", "yes", "Yes", "Sì", "Oui"},
			{"yn", "no", "No", "No", "Non"},
		},
		"settings": {
			{"form_id", "version", "default_language", "form_title::English (en)", "form_title::Italiano (it)", "form_title::Français (fr)", "instance_name"},
			{"quartiere", "3", "en", "Our neighbourhood", "Il nostro quartiere", "Notre quartier", "concat(${happy})"},
		},
	})
}

// badWorkbook has n geopoint rows, each refused.
func badWorkbook(t *testing.T, n int) []byte {
	rows := [][]string{{"type", "name", "label::English (en)"}}
	for i := range n {
		rows = append(rows, []string{"geopoint", fmt.Sprintf("where_%d", i), "Where are you?"})
	}
	return xlsx(t, map[string][][]string{"survey": rows})
}

type formsRig struct {
	*rig
	pub     *pgPublisher
	latest  map[string]int
	shipped map[string]bool
	mu      sync.Mutex
}

func newFormsRig(t *testing.T) *formsRig {
	fr := &formsRig{latest: map[string]int{}, shipped: map[string]bool{}}
	fr.rig = newRig(t, func(c *Config) {
		fr.pub = &pgPublisher{db: c.Members.(*pgstore.DB)}
		c.Publisher = fr.pub
		c.FormVersion = func(form string) int {
			fr.mu.Lock()
			defer fr.mu.Unlock()
			return fr.latest[form]
		}
		c.Shipped = func(form string) bool {
			fr.mu.Lock()
			defer fr.mu.Unlock()
			return fr.shipped[form]
		}
	})
	return fr
}

func (p *person) sendDocument(name string, data []byte) telegramtest.Message {
	p.t.Helper()
	p.u.SendDocument(name, data)
	p.wait()
	return p.u.Chat().LastFromBot()
}

// TestFormDocumentBranches: what an admin's document gets, branch by
// branch, and that nobody else learns anything from sending one.
func TestFormDocumentBranches(t *testing.T) {
	r := newFormsRig(t)
	r.enrol(7100, "Ada", org.RoleAdmin, 0, 0, 0)
	mgr := r.enrol(7101, "Bea", org.RoleManager, r.roma, 0, 0)
	_ = mgr
	admin, manager, stranger := r.person(7100, "Ada"), r.person(7101, "Bea"), r.person(7102, "Cy")
	good := goodWorkbook(t)

	// Not an admin: the usual answer to media, the same as a stranger's,
	// and nothing kept.
	m := manager.sendDocument("form.xlsx", good)
	s := stranger.sendDocument("form.xlsx", good)
	if m.Text != s.Text || strings.Contains(m.Text, "quartiere") || len(m.Buttons) != len(s.Buttons) {
		t.Errorf("a manager's workbook got %q, a stranger's %q", m.Text, s.Text)
	}
	if n := r.count(`SELECT count(*) FROM form_uploads`); n != 0 {
		t.Errorf("%d uploads kept for non-admins", n)
	}

	// Not an .xlsx.
	if got := admin.sendDocument("notes.pdf", []byte("%PDF-1.4")); !strings.Contains(got.Text, "XLSForm workbook (.xlsx)") {
		t.Errorf("not xlsx: %q", got.Text)
	}
	// Not a readable .xlsx.
	if got := admin.sendDocument("broken.xlsx", []byte("PK\x03\x04 not really")); !strings.Contains(got.Text, "cannot be read as an .xlsx") {
		t.Errorf("unreadable: %q", got.Text)
	}
	// Too big: refused with the limit, before reading it.
	big := make([]byte, bot.MaxDownload+1)
	if got := admin.sendDocument("huge.xlsx", big); !strings.Contains(got.Text, "larger than 5 MB") {
		t.Errorf("too big: %q", got.Text)
	}
	// Lint errors: each with sheet, row, column and a suggestion.
	got := admin.sendDocument("geo.xlsx", badWorkbook(t, 2))
	if !strings.Contains(got.Text, "geo.xlsx cannot be published. Problems found: 2") ||
		!strings.Contains(got.Text, "survey, row 2, column type") || !strings.Contains(got.Text, "survey, row 3, column type") ||
		!strings.Contains(got.Text, " — ") || len(got.Buttons) != 0 {
		t.Errorf("lint report:\n%s", got.Text)
	}
	// A long report is cut to Telegram's 4096 characters with a count of
	// the rest.
	got = admin.sendDocument("geo.xlsx", badWorkbook(t, 300))
	if n := len([]rune(got.Text)); n > 4096 || n < 3000 || !strings.Contains(got.Text, "more not shown") || !strings.Contains(got.Text, "Problems found: 300") {
		t.Errorf("long report (%d characters) ends:\n%s", n, got.Text[max(0, len(got.Text)-300):])
	}
	shown := strings.Count(got.Text, "\n• ")
	var more int
	if _, err := fmt.Sscanf(got.Text[strings.LastIndex(got.Text, "… and "):], "… and %d more not shown.", &more); err != nil || shown+more != 300 {
		t.Errorf("%d shown + %d more != 300 (%v)", shown, more, err)
	}
	// A version the bot runs already.
	r.mu.Lock()
	r.latest["quartiere"] = 3
	r.mu.Unlock()
	if got := admin.sendDocument("quartiere.xlsx", good); !strings.Contains(got.Text, "Version 3 of quartiere is already published (newest: 3)") || len(got.Buttons) != 0 {
		t.Errorf("version taken: %q", got.Text)
	}
	if n := r.count(`SELECT count(*) FROM form_uploads`); n != 0 {
		t.Errorf("%d uploads kept for refused workbooks", n)
	}
	if n := r.count(`SELECT count(*) FROM published_forms`); n != 0 {
		t.Errorf("%d forms published", n)
	}
	// A newer version of a questionnaire in use: the preview says so.
	r.mu.Lock()
	r.latest["quartiere"] = 2
	r.mu.Unlock()
	if got := admin.sendDocument("quartiere.xlsx", good); !strings.Contains(got.Text, "A new version of a questionnaire in use (now version 2)") || len(got.Buttons) != 1 {
		t.Errorf("new version: %q", got.Text)
	}
}

// TestFormDocumentShippedID: a workbook under a shipped questionnaire's
// id is refused with the reason, at any version, and nothing is kept; a
// Publish button of a preview made before the id was shipped publishes
// nothing either (issue 13: the shipped forms are unchanged).
func TestFormDocumentShippedID(t *testing.T) {
	r := newFormsRig(t)
	r.enrol(7150, "Ada", org.RoleAdmin, 0, 0, 0)
	admin := r.person(7150, "Ada")
	r.mu.Lock()
	r.shipped["quartiere"] = true
	r.latest["quartiere"] = 1 // older than the workbook's 3: not the version refusal
	r.mu.Unlock()
	got := admin.sendDocument("quartiere.xlsx", goodWorkbook(t))
	if !strings.Contains(got.Text, "quartiere is a questionnaire shipped with the bot: a workbook cannot replace or change it") || len(got.Buttons) != 0 {
		t.Errorf("shipped id: %q %v", got.Text, got.Labels())
	}
	if n := r.count(`SELECT count(*) FROM form_uploads`); n != 0 {
		t.Errorf("%d uploads kept for a shipped id", n)
	}
	// Previewed while not shipped, published after it became so (a
	// changed forms directory): refused at the tap.
	r.mu.Lock()
	r.shipped["quartiere"], r.latest["quartiere"] = false, 0
	r.mu.Unlock()
	pv := previewOf(t, r, admin)
	r.mu.Lock()
	r.shipped["quartiere"] = true
	r.mu.Unlock()
	admin.tap("✅ Publish")
	var done string
	for _, m := range admin.u.Chat().Messages {
		if m.ID == pv.ID {
			done = m.Text
		}
	}
	if !strings.Contains(done, "is a questionnaire shipped with the bot") {
		t.Errorf("after Publish the preview reads:\n%s", done)
	}
	if n := r.count(`SELECT count(*) FROM published_forms`); n != 0 || len(r.pub.live) != 0 {
		t.Errorf("%d forms published under a shipped id (live %v)", n, r.pub.live)
	}
}

// preview sends the good workbook and checks the preview.
func previewOf(t *testing.T, r *formsRig, admin *person) telegramtest.Message {
	t.Helper()
	got := admin.sendDocument("quartiere.xlsx", goodWorkbook(t))
	for _, want := range []string{
		"Our neighbourhood", "Questionnaire quartiere, version 3", "Will be published for: en, it",
		"Left out, texts missing: fr (1 missing)",
		"• Left out on purpose: 1\n• settings, row 2, column instance_name: note: ignored",
		"Sample interview in en:", "1. Do you like the neighbourhood?", "Sample interview in it:", "1. Ti piace il quartiere?",
		"Publish it?",
	} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("preview lacks %q:\n%s", want, got.Text)
		}
	}
	if strings.Contains(got.Text, "questionnaire in use") {
		t.Errorf("a new questionnaire previewed as a new version:\n%s", got.Text)
	}
	if l := got.Labels(); len(l) != 1 || len(l[0]) != 2 || l[0][0] != "✅ Publish" || l[0][1] != "✖️ Cancel" && !strings.Contains(l[0][1], "Cancel") {
		t.Errorf("preview buttons %v", l)
	}
	b, _ := got.Button("✅ Publish")
	if len(b.Data) > 64 || strings.Contains(b.Data, "quartiere") {
		t.Errorf("Publish data %q", b.Data)
	}
	return got
}

// TestFormPublishThroughBot: preview, Publish (published by the admin's
// member id, audited, made live), a second tap harmless.
func TestFormPublishThroughBot(t *testing.T) {
	r := newFormsRig(t)
	ad := r.enrol(7200, "Ada", org.RoleAdmin, 0, 0, 0)
	admin := r.person(7200, "Ada")
	pv := previewOf(t, r, admin)
	if n := r.count(`SELECT count(*) FROM form_uploads WHERE staff_id = $1 AND published_at IS NULL`, ad.ID); n != 1 {
		t.Fatalf("%d uploads waiting", n)
	}
	admin.tap("✅ Publish")
	last := admin.u.Chat().Messages
	var done string
	for _, m := range last {
		if m.ID == pv.ID {
			done = m.Text
		}
	}
	if !strings.Contains(done, "Published quartiere version 3 for en, it") {
		t.Errorf("after Publish the preview reads:\n%s", done)
	}
	if n := r.count(`SELECT count(*) FROM published_forms WHERE form = 'quartiere' AND version = 3 AND published_by = $1
		AND languages = '{en,it}'`, ad.ID); n != 1 {
		t.Errorf("%d publications by the admin", n)
	}
	if n := r.count(`SELECT count(*) FROM audit_log WHERE action = 'form.publish' AND actor_id = $1`, ad.ID); n != 1 {
		t.Errorf("%d audit entries", n)
	}
	if len(r.pub.live) != 1 || r.pub.live[0] != "quartiere v3" {
		t.Errorf("made live: %v", r.pub.live)
	}
	// A second tap (a stale copy of the button, or a double tap): told,
	// nothing more.
	b, _ := pv.Button("✅ Publish")
	opt, err := bot.DecodeCallback(b.Data)
	if err != nil {
		t.Fatal(err)
	}
	if notice := admin.tapData(opt.Option); !strings.Contains(notice, "Already published: quartiere version 3") {
		t.Errorf("second tap: %q", notice)
	}
	if n := r.count(`SELECT count(*) FROM published_forms`); n != 1 {
		t.Errorf("%d publications after a double tap", n)
	}
	if n := r.count(`SELECT count(*) FROM audit_log WHERE action = 'form.publish'`); n != 1 {
		t.Errorf("%d audit entries after a double tap", n)
	}
	// Cancel closes a preview; nothing is published.
	r.mu.Lock()
	r.latest["quartiere"] = 0
	r.mu.Unlock()
	admin.sendDocument("quartiere.xlsx", goodWorkbook(t))
	admin.tap(admin.u.Chat().LastFromBot().Labels()[0][1])
	if got := admin.u.Chat().LastFromBot(); len(got.Buttons) != 0 {
		t.Errorf("after Cancel: %q %v", got.Text, got.Labels())
	}
}

// TestFormPublishRefusals: an expired key, a role revoked between preview
// and publish, another admin's button, a forged key: nothing published.
func TestFormPublishRefusals(t *testing.T) {
	r := newFormsRig(t)
	ad := r.enrol(7300, "Ada", org.RoleAdmin, 0, 0, 0)
	other := r.enrol(7301, "Bob", org.RoleAdmin, 0, 0, 0)
	admin, bob := r.person(7300, "Ada"), r.person(7301, "Bob")
	pv := previewOf(t, r, admin)
	b, _ := pv.Button("✅ Publish")
	cb, err := bot.DecodeCallback(b.Data)
	if err != nil {
		t.Fatal(err)
	}
	// Another admin pressing Ada's button (forwarded data): stale to him.
	if notice := bob.tapData(cb.Option); strings.Contains(notice, "Publish") || strings.Contains(notice, "quartiere") {
		t.Errorf("another admin's tap: %q", notice)
	}
	// A forged key of the right shape.
	if notice := admin.tapData("Fp.AAAAAAAAAAAAAAAAAAAAAA"); !strings.Contains(notice, "expired") {
		t.Errorf("forged key: %q", notice)
	}
	// Malformed data: stale.
	if notice := admin.tapData("Fp.short"); strings.Contains(notice, "expired") {
		t.Errorf("malformed key handled: %q", notice)
	}
	// Expired: an hour later.
	r.advance(61 * time.Minute)
	if notice := admin.tapData(cb.Option); !strings.Contains(notice, "expired") {
		t.Errorf("expired key: %q", notice)
	}
	if n := r.count(`SELECT count(*) FROM published_forms`); n != 0 {
		t.Fatalf("%d publications", n)
	}
	// Role revoked between preview and publish.
	pv = previewOf(t, r, admin)
	b, _ = pv.Button("✅ Publish")
	if _, err := r.db.RevokeStaff(context.Background(), other.ID, ad.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := admin.u.TapIn(pv.ID, "✅ Publish"); err != nil {
		t.Fatal(err)
	}
	admin.wait()
	if n := r.count(`SELECT count(*) FROM published_forms`); n != 0 {
		t.Errorf("a revoked admin published %d", n)
	}
	// Stores fail: an error, not a publication.
	if _, err := r.pub.Upload(context.Background(), "AAAAAAAAAAAAAAAAAAAAAA", time.Now()); !errors.Is(err, org.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
}

// TestFormPublishNamedAfterFile: a workbook without form_id is named after
// its file, at the preview and at Publish alike.
func TestFormPublishNamedAfterFile(t *testing.T) {
	r := newFormsRig(t)
	r.enrol(7400, "Ada", org.RoleAdmin, 0, 0, 0)
	admin := r.person(7400, "Ada")
	wb := xlsx(t, map[string][][]string{
		"survey": {{"type", "name", "label::English (en)"}, {"text", "wish", "What would you change?"}},
	})
	pv := admin.sendDocument("Mio quartiere.xlsx", wb)
	if !strings.Contains(pv.Text, "Questionnaire Mio_quartiere, version 1") && !strings.Contains(pv.Text, "Questionnaire mio_quartiere, version 1") {
		t.Fatalf("preview:\n%s", pv.Text)
	}
	admin.tap("✅ Publish")
	if n := r.count(`SELECT count(*) FROM published_forms WHERE lower(form) = 'mio_quartiere'`); n != 1 {
		t.Fatalf("%d publications named after the file\n%s", n, admin.u.Transcript())
	}
}
