package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/directory"
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
		results = resultsWithReferrals{Results: r, db: a.db, log: a.log, forms: a.forms, minCell: a.cfg.MinCell}
	}
	// Invite tokens are derived from a key of their own, separated from the
	// pseudonyms' by its label.
	tokenKey := hmac.New(sha256.New, key)
	tokenKey.Write([]byte("needsbot invite token key"))
	// A workbook must not replace a shipped questionnaire (issue 13). Only
	// the shipped ids are kept: the compiled library (some 0.3 MB of heap)
	// would stay alive for the process's lifetime in the closure (issue 19).
	shipped, err := shippedIDs(a.cfg.FormsDir)
	if err != nil {
		return nil, nil, err
	}
	h, err := staff.New(staff.Config{
		Members: a.db, Enrolment: a.db, Places: a.db, Registry: a.db, ServiceLookup: a.db, InviteMaker: a.db, InviteList: a.db,
		Directory: a.db, DirectoryEditor: a.db, DirectoryVocabulary: a.directoryVocabulary(), AreaLabels: areaLabels(a.forms),
		Limiter: a.store, Results: results, BotUsername: a.username, Logger: a.log,
		Pseudonym: func(user int64) string { return storage.Pseudonym(key, user) },
		TokenKey:  tokenKey.Sum(nil),
		Library:   a.lib,
		Publisher: formPublisher{db: a.db, live: a.lib, app: a}, FormVersion: a.latestVersion,
		Shipped: func(form string) bool { return shipped[form] },
	})
	if err != nil {
		return nil, nil, err
	}
	return h, h, nil
}

// directoryVocabulary is what the directory menu offers (as the import
// checks): the forms' need areas and the bot's languages.
func (a *app) directoryVocabulary() directory.Vocabulary {
	v := directory.Vocabulary{Areas: a.forms.AreaCodes()}
	for _, l := range a.cat.Languages() {
		v.Languages = append(v.Languages, l.Code)
	}
	return v
}

// areaLabels maps each need area code to the message id of its label:
// the choice naming it (column area), respondents' forms first.
func areaLabels(lib *dialog.Library) map[string]string {
	labels := map[string]string{}
	for _, code := range lib.AreaCodes() {
		labels[code] = lib.AreaLabel(code)
	}
	return labels
}

// shippedIDs returns the ids of the questionnaires shipped with the binary
// and in formsDir.
func shippedIDs(formsDir string) (map[string]bool, error) {
	lib, err := forms.Load(formsDir)
	if err != nil {
		return nil, fmt.Errorf("questionnaires: %w", err)
	}
	ids := map[string]bool{}
	for _, id := range lib.IDs() {
		ids[id] = shippedForm(lib, id) != nil
	}
	return ids, nil
}
