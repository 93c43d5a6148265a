package telegramtest

import (
	"strconv"
	"strings"

	"github.com/go-telegram/bot/models"
)

// sendVenue is a map pin with a title and an address, as Telegram checks
// it: both coordinates within range, a non-empty title and address.
func (s *Server) sendVenue(c *call) (any, *apiError) {
	lat, err := coordinate(c, "latitude", 90)
	if err != nil {
		return nil, err
	}
	lon, err := coordinate(c, "longitude", 180)
	if err != nil {
		return nil, err
	}
	title, address := c.p.str("title"), c.p.str("address")
	if title == "" {
		return nil, badRequest("venue title is empty")
	}
	if address == "" {
		return nil, badRequest("venue address is empty")
	}
	mk, err := parseMarkup(c.p.str("reply_markup"), false)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.targetChat(c)
	if err != nil {
		return nil, err
	}
	if err := writable(ch); err != nil {
		return nil, err
	}
	replyTo, err := replyTarget(c, ch)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.admit(ch, now, true); err != nil {
		return nil, err
	}
	m := &message{
		fromBot: true, date: now, kind: KindVenue, replyTo: replyTo,
		venue: &models.Venue{Location: models.Location{Latitude: lat, Longitude: lon}, Title: title, Address: address},
	}
	applyMarkup(ch, m, mk)
	s.addMessage(ch, m)
	return s.wireMessage(m, true), nil
}

func coordinate(c *call, key string, limit float64) (float64, *apiError) {
	raw := strings.TrimSpace(c.p.str(key))
	if raw == "" {
		return 0, badRequest("%s is not specified", key)
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || v < -limit || v > limit {
		return 0, badRequest("invalid %s specified", key)
	}
	return v, nil
}
