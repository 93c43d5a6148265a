package bot

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/directory"
	"github.com/needsbot/needsbot/interview"
)

// memDirectory is a directory of one municipality ("1") in memory.
type memDirectory struct {
	mu      sync.Mutex
	entries []directory.Entry
	counted []string // "service/area"
}

func (d *memDirectory) Services(_ context.Context, muni string) ([]directory.Entry, error) {
	if muni != "1" {
		return nil, nil
	}
	return d.entries, nil
}

func (d *memDirectory) Referred(_ context.Context, muni string, picks []directory.Pick) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range picks {
		d.counted = append(d.counted, p.Entry.Name+"/"+p.Area)
	}
	return nil
}

func demoDirectory() *memDirectory {
	yes := true
	return &memDirectory{entries: []directory.Entry{
		{ID: 1, Name: "Sportello Casa", Address: "Via Roma 1", HasCoords: true, Latitude: 43.77, Longitude: 11.25,
			Hours: "lun-ven 9-13", Languages: []string{"it", "ar"}, Areas: []string{"casa"}, Free: &yes},
		{ID: 2, Name: "Ufficio Documenti", Address: "Piazza 2", HasCoords: true, Latitude: 43.78, Longitude: 11.26,
			Languages: []string{"it"}, Areas: []string{"documenti"}},
		{ID: 3, Name: "Centro Lavoro", Address: "Via 3", Languages: []string{"it"}, Areas: []string{"lavoro"}},
		{ID: 4, Name: "Punto Informativo", Address: "Via dei Servi 3", Phone: "055 000", HelpPoint: true},
	}}
}

func venues(msgs []telegramtest.Message) []string {
	var out []string
	for _, m := range msgs {
		if m.Kind == telegramtest.KindVenue {
			out = append(out, m.Venue.Title)
		}
	}
	return out
}

// A completed interview whose top needs are housing and documents gets
// the matching services as a card in the respondent's language and as map
// pins, the help point, and the referrals are counted; an operators' form
// and a municipality without a directory get no list.
func TestReferralsAfterCompletion(t *testing.T) {
	r := newRig(t)
	dir := demoDirectory()
	r.handler.cfg.Directory = dir
	u := r.srv.User(940, telegramtest.LanguageCode("en"))
	u.Send("hi")
	tr := &turn{h: r.handler, ev: event{chat: 940, user: 940}, lang: "en", snap: r.handler.cfg.Library.Current(), r: r.handler.Renderer()}
	resp := &dialog.Response{Form: "immigrati", Context: map[string]string{interview.CtxMunicipality: "1"},
		Answers: map[string]string{"priorita": "casa documenti", "bisogni": "documenti casa lavoro"}}
	tr.refer(context.Background(), resp)
	msgs := u.Messages()
	var card telegramtest.Message
	for _, m := range msgs {
		if m.FromBot && strings.Contains(m.Text, "Services that can help you") {
			card = m
		}
	}
	for _, want := range []string{"1. Sportello Casa — Housing", "Via Roma 1", "Hours: lun-ven 9-13", "Languages spoken: Italiano, العربية",
		"2. Ufficio Documenti", "3. Centro Lavoro", "General help point: Punto Informativo", "055 000", "🆓 Free of charge"} {
		if !strings.Contains(card.Text, want) {
			t.Errorf("card lacks %q:\n%s", want, card.Text)
		}
	}
	if got := strings.Join(venues(msgs), ","); got != "Sportello Casa,Ufficio Documenti" {
		t.Errorf("venues %q, want the two matches with coordinates", got)
	}
	if got := strings.Join(dir.counted, ","); got != "Sportello Casa/casa,Ufficio Documenti/documenti,Centro Lavoro/lavoro,Punto Informativo/" {
		t.Errorf("counted %s", got)
	}
	if len(tr.sent) != 3 {
		t.Errorf("%d messages recorded for /delete, want 3 (card and two pins)", len(tr.sent))
	}

	// The operators' questionnaire: nothing.
	n := len(u.Messages())
	resp.Form = "operatori"
	tr.refer(context.Background(), resp)
	if len(u.Messages()) != n {
		t.Errorf("operators were referred: %s", u.Last().Text)
	}
	// No directory for the municipality: never an empty list; the closing
	// note says where to ask, nothing more is sent after an interview...
	resp.Form, resp.Context[interview.CtxMunicipality] = "immigrati", "2"
	tr.refer(context.Background(), resp)
	if len(u.Messages()) != n {
		t.Errorf("without a directory something was sent: %q", u.Last().Text)
	}
	// ...and /services says where to ask.
	r.core.DefaultContext = map[string]string{interview.CtxMunicipality: "2"}
	r.rewire()
	r.srv.User(941).Send("hi")
	if _, err := r.intake.Submit(context.Background(), textUpdate(5, 941, "/services"), false, 0); err != nil {
		t.Fatal(err)
	}
	if v := r.srv.User(941); !strings.Contains(v.Last().Text, "URP") {
		t.Errorf("/services without a directory: %q", v.Last().Text)
	}
}

func callbackUpdate(id, chat int64, msgID int, data string) *Update {
	return updateOf(&tgmodels.Update{ID: id, CallbackQuery: &tgmodels.CallbackQuery{ID: "q" + data, Data: data,
		From:    tgmodels.User{ID: chat, FirstName: "T"},
		Message: tgmodels.MaybeInaccessibleMessage{Message: &tgmodels.Message{ID: msgID, Date: int(time.Now().Unix()), Chat: tgmodels.Chat{ID: chat, Type: tgmodels.ChatTypePrivate}}}}})
}

// /services in Arabic after completing: a button per area the directory
// serves, labelled in Arabic; a tap lists that area's services with the
// Italian names isolated inside the right-to-left text.
func TestServicesCommandArabic(t *testing.T) {
	r := newRig(t)
	dir := demoDirectory()
	r.handler.cfg.Directory = dir
	u := r.srv.User(950, telegramtest.LanguageCode("ar"))
	u.Send("hi")
	done := dialog.State{Form: "immigrati", Version: 3, Phase: dialog.PhaseDone, Lang: "ar", Outcome: dialog.OutcomeCompleted,
		Context: map[string]string{interview.CtxMunicipality: "1"}}
	if f := r.core.Forms.Latest("immigrati"); f != nil {
		done.FormVersion = f.Version
	}
	blob, err := dialog.Encode(done)
	if err != nil {
		t.Fatal(err)
	}
	r.sessions.states[950] = interview.Loaded{Blob: blob, Version: 3}
	ctx := context.Background()
	if _, err := r.intake.Submit(ctx, textUpdate(1, 950, "/services"), false, 0); err != nil {
		t.Fatal(err)
	}
	menu := u.Last()
	if !strings.Contains(menu.Text, "في أي مجال تحتاج إلى مساعدة") {
		t.Fatalf("menu text %q", menu.Text)
	}
	var labels []string
	var casaData string
	for _, row := range menu.Buttons {
		for _, b := range row {
			labels = append(labels, b.Text)
			if cb, err := DecodeCallback(b.Data); err == nil && cb.Kind == CbServices && cb.Option == "casa" {
				casaData = b.Data
			}
		}
	}
	housing := r.handler.Renderer().Plain("ar", "c.immigrati.aree.casa", nil)
	if len(labels) != 3 || !contains(labels, housing) || casaData == "" {
		t.Fatalf("buttons %q, want 3 areas with %q", labels, housing)
	}
	if _, err := r.intake.Submit(ctx, callbackUpdate(2, 950, menu.ID, casaData), false, 0); err != nil {
		t.Fatal(err)
	}
	msgs := u.Messages()
	var card telegramtest.Message
	for _, m := range msgs {
		if strings.Contains(m.Text, "خدمات يمكنها مساعدتك") {
			card = m
		}
	}
	for _, want := range []string{fsi + "Sportello Casa" + pdi, housing, "ساعات العمل", "اللغات المستخدمة", "نقطة المساعدة العامة"} {
		if !strings.Contains(card.Text, want) {
			t.Errorf("Arabic card lacks %q:\n%s", want, card.Text)
		}
	}
	if strings.Contains(card.Text, "Ufficio Documenti") {
		t.Errorf("housing card lists documents:\n%s", card.Text)
	}
	if got := venues(msgs); len(got) != 1 || got[0] != "Sportello Casa" {
		t.Errorf("venues %v", got)
	}
	if got := strings.Join(dir.counted, ","); got != "Sportello Casa/casa,Punto Informativo/" {
		t.Errorf("counted %s", got)
	}
}

// A desk that is free or by appointment says so in words in every
// language: the card showed the symbols alone, 🆓 (English letters) and 📅
// (a calendar: to book? open days?), to people who may not read English.
func TestServicesFreeAndAppointmentInWords(t *testing.T) {
	r := newRig(t)
	yes := true
	e := directory.Entry{Name: "Sportello Casa", Address: "Via Roma 1", Phone: "055 000", Free: &yes, Appointment: &yes}
	for _, l := range r.handler.Renderer().cat.Languages() {
		tr := &turn{h: r.handler, lang: l.Code, snap: r.handler.cfg.Library.Current(), r: r.handler.Renderer()}
		var b strings.Builder
		tr.entryCard(&b, e, "")
		card := b.String()
		for _, id := range []string{MsgServicesFree, MsgServicesAppointment} {
			words := tr.r.Text(l.Code, id, nil)
			if !r.handler.Renderer().cat.Has(l.Code, id) || !strings.Contains(card, words) || len([]rune(words)) < 4 {
				t.Errorf("%s: the card does not say %s in words (%q):\n%s", l.Code, id, words, card)
			}
		}
	}
}
