package main

import (
	"context"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Rome for the quiet hours, whatever the host has

	"golang.org/x/time/rate"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/schedule"
	"github.com/needsbot/needsbot/storage/redisstore"
)

// reminders adapts redisstore to interview.Reminders.
type reminders struct {
	s   *redisstore.Store
	ttl time.Duration // the record lives as long as the interview's state
}

var _ interview.Reminders = reminders{}

func (r reminders) Arm(ctx context.Context, chat int64, lang string, due time.Time) error {
	return r.s.ArmReminder(ctx, chat, lang, due, r.ttl)
}

func (r reminders) Cancel(ctx context.Context, chat int64, refuse bool) error {
	return r.s.CancelReminder(ctx, chat, refuse)
}

// reminderAfter parses NEEDSBOT_REMINDER_AFTER: a duration, 0 disables.
func reminderAfter(v string, dst *time.Duration) error {
	if strings.TrimSpace(v) == "0" {
		*dst = 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration like 24h, or 0 to disable, not %q", v)
	}
	*dst = d
	return nil
}

// quietHours parses NEEDSBOT_QUIET_HOURS in Europe/Rome time.
func quietHours(v string) (schedule.Quiet, error) {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return schedule.Quiet{}, err
	}
	return schedule.ParseQuiet(v, loc)
}

// wireReminders sets the reminder part of the core's and the handler's
// configuration.
func (a *app) wireReminders(c *interview.Config, h *bot.Config) error {
	if a.cfg.ReminderAfter <= 0 {
		return nil
	}
	q, err := quietHours(a.cfg.QuietHours)
	if err != nil {
		return fmt.Errorf("NEEDSBOT_QUIET_HOURS: %w", err)
	}
	c.Reminders = reminders{s: a.store, ttl: a.cfg.StateTTL}
	c.ReminderAfter = a.cfg.ReminderAfter
	c.ReminderQuiet = q.Next
	// At most 2 reminders a second from this replica: live replies keep
	// the rest of the Bot API budget.
	h.ReminderPace = rate.NewLimiter(2, 1)
	a.quiet = q
	return nil
}

// jobLoop claims due jobs — reminders, expiries, publications — and applies each on its
// chat's mailbox through the core, with its idempotency key.
func (a *app) jobLoop(ctx context.Context) {
	s := &schedule.Scheduler{Store: a.store, Quiet: a.quiet, Logger: a.log, Now: a.now,
		Handle: func(ctx context.Context, j redisstore.Job) error {
			if j.Kind == redisstore.JobPublished {
				return a.publishedJob(ctx, j) // wire_published.go
			}
			return a.intake.Scheduled(ctx, jobInput(j))
		}}
	s.Run(ctx)
}

// jobInput is the core's input for a scheduled job.
func jobInput(j redisstore.Job) interview.Input {
	if j.Kind == redisstore.JobExpire {
		return interview.Input{Kind: interview.KindExpire, Key: interview.ExpireKey(j.Chat, j.Version), Chat: j.Chat, Version: j.Version}
	}
	return interview.Input{Kind: interview.KindRemind, Key: interview.RemindKey(j.Chat, j.Due.UnixMilli()), Chat: j.Chat}
}
