package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/staff"
	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// wireStaff builds the staff side (roles, staff links, invites, QR
// posters) and the invite resolver, and makes the Telegram users listed in
// NEEDSBOT_ADMIN_IDS admins (audit-logged when that changes anything),
// except those who were revoked.
func (a *app) wireStaff(ctx context.Context) (bot.Staff, interview.Invites, error) {
	for _, id := range a.cfg.adminIDs() {
		s, changed, err := a.db.EnsureAdmin(ctx, id)
		if errors.Is(err, pgstore.ErrRevoked) {
			// Revoked in Telegram: a restart must not undo that. Coming back
			// takes an admin staff link (needsbot staff link admin).
			a.log.Warn("NEEDSBOT_ADMIN_IDS lists a revoked admin; left revoked (remove the id, or enrol them again with a staff link)",
				"staff_id", s.ID)
			continue
		}
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
		results = resultsWithReferrals{Results: r, db: a.db, log: a.log}
	}
	// Invite tokens are derived from a key of their own, separated from the
	// pseudonyms' by its label.
	tokenKey := hmac.New(sha256.New, key)
	tokenKey.Write([]byte("needsbot invite token key"))
	h, err := staff.New(staff.Config{
		DB: a.db, Limiter: a.store, Results: results, BotUsername: a.username, Logger: a.log,
		Pseudonym: func(user int64) string { return storage.Pseudonym(key, user) },
		TokenKey:  tokenKey.Sum(nil),
	})
	if err != nil {
		return nil, nil, err
	}
	return h, h, nil
}
