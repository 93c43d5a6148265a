package main

import (
	"context"

	"github.com/needsbot/needsbot/bot"
)

// wireStaff builds the staff side (roles, staff links, invites) and the
// invite resolver. Until the staff package is wired, /start needs
// NEEDSBOT_DEFAULT_MUNICIPALITY.
func (a *app) wireStaff(ctx context.Context) (bot.Staff, bot.Invites, error) {
	return nil, nil, nil
}
