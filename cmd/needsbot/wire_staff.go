package main

import (
	"context"
	"fmt"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/staff"
	"github.com/needsbot/needsbot/storage"
)

// wireStaff builds the staff side (roles, staff links, invites, QR
// posters) and the invite resolver, and makes the Telegram users listed in
// NEEDSBOT_ADMIN_IDS admins (audit-logged when that changes anything).
func (a *app) wireStaff(ctx context.Context) (bot.Staff, bot.Invites, error) {
	for _, id := range a.cfg.adminIDs() {
		s, changed, err := a.db.EnsureAdmin(ctx, id)
		if err != nil {
			return nil, nil, fmt.Errorf("NEEDSBOT_ADMIN_IDS: %w", err)
		}
		if changed {
			a.log.Info("admin bootstrapped from NEEDSBOT_ADMIN_IDS", "staff_id", s.ID)
		}
	}
	key := []byte(a.cfg.PseudonymKey)
	var results staff.Results
	if r := a.wireResults(); r != nil {
		results = r
	}
	h, err := staff.New(staff.Config{
		DB: a.db, Limiter: a.store, Results: results, BotUsername: a.username, Logger: a.log,
		Pseudonym: func(user int64) string { return storage.Pseudonym(key, user) },
	})
	if err != nil {
		return nil, nil, err
	}
	return h, h, nil
}
