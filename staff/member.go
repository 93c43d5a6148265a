// Package staff is needsbot's side for municipal staff: enrolment through
// single-use staff links, respondent invites with QR posters, the service
// directory kept in Telegram, and the dispatch of staff commands and
// buttons (one routing table, package menu), checking role and scope
// (package org) on every use. Long staff work (exports, charts) runs on
// its own queue (WorkQueue), off the respondents' path.
//
// Tokens are secrets and never rest in the database: staff links are
// random and stored as their SHA-256; a respondent invite's token is
// derived from its id with a key the database does not hold (so its poster
// can be printed again) and stored as its SHA-256 too. Interviews name
// their invite by id. Bad tokens are rate limited per user before any
// lookup.
package staff

import (
	"context"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/org"
)

// Results answers /results and /export and their buttons (package
// results implements it). The staff dispatcher has already checked that m
// is a manager or admin; Results still scopes every query to what m.Can.
// Callback payloads it receives are the part after the menu.Results route
// in a CbStaff button's Option; it makes its buttons with menu.Data.
type Results interface {
	Command(ctx context.Context, r *bot.Request, m org.Member, name, args string) error
	Callback(ctx context.Context, r *bot.Request, m org.Member, payload, queryID string, msgID int) error
}
