package bot

import (
	"context"

	tg "github.com/go-telegram/bot"
)

// Venue is a map pin with a title and an address: the respondent's maps
// app opens it.
type Venue struct {
	Latitude, Longitude float64
	Title, Address      string
}

// SendVenue sends v to chat as a new message (counted against the chat's
// burst like any new message) and returns its id.
func (s *Sender) SendVenue(ctx context.Context, chat int64, v Venue) (int, error) {
	p := &tg.SendVenueParams{ChatID: chat, Latitude: v.Latitude, Longitude: v.Longitude,
		Title: v.Title, Address: v.Address, DisableNotification: true}
	var id int
	err := s.do(ctx, "sendVenue", chat, limitChat, func(ctx context.Context) error {
		msg, err := s.api.SendVenue(ctx, p)
		if err == nil && msg != nil {
			id = msg.ID
		}
		return err
	})
	return id, err
}
