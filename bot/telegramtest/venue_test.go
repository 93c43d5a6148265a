package telegramtest_test

import (
	"strings"
	"testing"

	tg "github.com/go-telegram/bot"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

func TestSendVenue(t *testing.T) {
	srv := newServer(t)
	b := newBot(t, srv)
	ctx := ctxT(t)
	u := srv.User(14)
	u.Send("/start")
	m, err := b.SendVenue(ctx, &tg.SendVenueParams{ChatID: u.ID(), Latitude: 43.7696, Longitude: 11.2558,
		Title: "Sportello Casa", Address: "Via Roma 1, Firenze"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Venue == nil || m.Venue.Title != "Sportello Casa" || m.Venue.Location.Latitude != 43.7696 || m.Location == nil {
		t.Errorf("venue message = %+v", m)
	}
	last := u.Last()
	if last.Kind != telegramtest.KindVenue || last.Venue == nil || last.Venue.Address != "Via Roma 1, Firenze" || last.Venue.Location.Longitude != 11.2558 {
		t.Errorf("user sees %+v", last)
	}
	if tr := u.Transcript(); !strings.Contains(tr, "[venue Sportello Casa, Via Roma 1, Firenze @43.7696,11.2558]") {
		t.Errorf("transcript:\n%s", tr)
	}
	_, err = b.SendVenue(ctx, &tg.SendVenueParams{ChatID: u.ID(), Latitude: 91, Longitude: 11, Title: "X", Address: "Y"})
	wantBadRequest(t, err, "invalid latitude specified")
	_, err = b.SendVenue(ctx, &tg.SendVenueParams{ChatID: u.ID(), Latitude: 43, Longitude: 11, Title: "", Address: "Y"})
	wantBadRequest(t, err, "venue title is empty")
}
