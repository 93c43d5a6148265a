package main

import (
	"context"
	"fmt"
	"time"

	"github.com/needsbot/needsbot/formlib"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/storage/redisstore"
)

// wirePublished delivers a form version published while interviews run:
// the sessions' save indexes the chats waiting at a language choice; each swap of
// the questionnaires that brings a newer version of a form announces it
// (every replica may, the store makes it one job); the scheduler leases
// the job to one replica, which hands each waiting chat a KindPublished
// input (publishedJob).
func (a *app) wirePublished(ctx context.Context, c *interview.Config) {
	// The chats waiting at a language choice are indexed by the sessions'
	// save (interview.Stage.WaitingAt → Store.SaveWaiting), in the save's
	// round trip.
	prev := a.lib.Current()
	a.lib.OnSwap(func(s *formlib.Snapshot) { // under the reload lock: prev is ours
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, id := range s.Forms.IDs() {
			f, old := s.Forms.Latest(id), prev.Forms.Latest(id)
			if f == nil || old == nil || f.Version <= old.Version {
				continue // a new form has nobody waiting for it
			}
			if _, err := a.store.Announce(ctx, id, f.Version); err != nil {
				a.log.Warn("publication not announced to running interviews", "form", id, "version", f.Version, "err", err)
			}
		}
		prev = s
	})
}

// publishedJob hands every chat waiting at the language choice of the
// job's form a KindPublished input, through its mailbox, once this
// replica's questionnaires have the version; an error leaves the job to
// be claimed again after its lease (its inputs' keys keep each chat from
// applying it twice).
func (a *app) publishedJob(ctx context.Context, j redisstore.Job) error {
	// Another replica announced it; this one may not have reloaded yet.
	// Applied without the version in the snapshot, the input would be
	// spent on nothing.
	if a.lib.Current().Forms.Get(j.Form, j.FormVersion) == nil {
		if _, err := a.lib.Reload(ctx); err != nil || a.lib.Current().Forms.Get(j.Form, j.FormVersion) == nil {
			return fmt.Errorf("questionnaire %s version %d not loaded here yet", j.Form, j.FormVersion)
		}
	}
	return a.store.ForEachWaiting(ctx, j.Form, 100, func(chat int64) error {
		return a.intake.Scheduled(ctx, interview.Input{Kind: interview.KindPublished,
			Key: interview.PublishedKey(j.Form, j.FormVersion, chat), Chat: chat, Form: j.Form, FormVersion: j.FormVersion})
	})
}
