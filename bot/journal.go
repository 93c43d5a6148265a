package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// The poller's journal (issue 17 finding 5).
//
// A polling replica confirms a batch to Telegram — the offset of its next
// getUpdates — once the batch's updates are settled, and a settled update
// may still wait in its chat's mailbox (paced, parked in an outage, behind
// its chat's backlog). Killed at that moment (kill -9, OOM), the replica
// lost those updates: Telegram had been told they were taken. Now, before
// a getUpdates confirms a batch, the batch's updates that are not finished
// yet are written to a Journal in one round trip, and an update leaves the
// journal as soon as it is finished. A replica starting up applies what its predecessor kept before
// fetching anything new. An update kept twice or already applied is
// harmless: a copy waiting in its mailbox is dropped, one applied before is
// recognised by the session's dedup. When every update of a batch is
// finished before the next getUpdates — the common case — the journal
// costs nothing: a turn keeps its two Redis round trips.

// Journal keeps updates a poller confirmed to Telegram before they were
// applied. Keep adds and drops entries by update id in one round trip;
// Kept returns what is kept.
type Journal interface {
	Keep(ctx context.Context, add map[int64][]byte, drop []int64) error
	Kept(ctx context.Context) (map[int64][]byte, error)
}

// journal is the poller's side of a Journal: which updates are kept, and
// which finished ones are to be dropped at the next write.
type journal struct {
	j   Journal
	log *slog.Logger

	mu   sync.Mutex
	kept map[int64]bool // written, or about to be
	drop []int64        // finished and kept: to drop at the next write
	open map[int64]*job // enqueued and not finished
	// writing holds the updates a sync is adding (its round trip in
	// flight), late those of them finished meanwhile: their removal must
	// follow the write, not race it (a removal that reached Redis first
	// left the whole update — name, typed text — in the journal for a
	// day), so the sync removes them once its write is done.
	writing map[int64]bool
	late    []int64
}

func newJournal(j Journal, log *slog.Logger) *journal {
	return &journal{j: j, log: log, kept: map[int64]bool{}, open: map[int64]*job{}, writing: map[int64]bool{}}
}

// track notes an enqueued job; the job tells the journal when it is
// finished (done). A kept update leaves the journal as soon as it is
// finished, in its chat's mailbox goroutine (no worker slot held): what
// the journal holds — the update's text, the person's name — stays no
// longer than needed, and a /delete leaves nothing behind. Only kept
// updates cost this round trip.
func (jl *journal) track(j *job) {
	jl.mu.Lock()
	jl.open[j.upd.ID] = j
	jl.mu.Unlock()
	j.jl = jl
}

// left notes that j, finished, is about to be settled: a sync from now on
// does not keep it.
func (jl *journal) left(j *job) {
	jl.mu.Lock()
	delete(jl.open, j.upd.ID)
	jl.mu.Unlock()
}

// done notes that j is finished and drops it from the journal if it was
// kept.
func (jl *journal) done(j *job) {
	id := j.upd.ID
	jl.mu.Lock()
	delete(jl.open, id)
	kept := jl.kept[id]
	delete(jl.kept, id)
	if kept && jl.writing[id] {
		jl.late = append(jl.late, id) // dropped by the sync writing it
		kept = false
	}
	jl.mu.Unlock()
	if !kept {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := jl.j.Keep(ctx, nil, []int64{id}); err != nil {
		// Dropped at the next write; a copy applied again is
		// recognised by the session's dedup.
		jl.log.Warn("update journal: finished update not dropped", "update", id, "err", err)
		jl.mu.Lock()
		jl.drop = append(jl.drop, id)
		jl.mu.Unlock()
	}
}

// sync writes the unfinished updates not kept yet and drops the finished
// ones, in one round trip (none when there is nothing to write). It is
// called before each getUpdates, which confirms what was fetched before.
func (jl *journal) sync(ctx context.Context) error {
	jl.mu.Lock()
	add := map[int64][]byte{}
	for id, j := range jl.open {
		if jl.kept[id] {
			continue
		}
		b, err := j.upd.journalJSON()
		if err != nil {
			continue
		}
		add[id] = b
		jl.kept[id] = true
		jl.writing[id] = true
	}
	drop := jl.drop
	jl.drop = nil
	jl.mu.Unlock()
	if len(add) == 0 && len(drop) == 0 {
		return nil
	}
	err := jl.j.Keep(ctx, add, drop)
	jl.mu.Lock()
	clear(jl.writing)
	late := jl.late
	jl.late = nil
	if err != nil {
		for id := range add {
			delete(jl.kept, id)
		}
		// Re-queue the removals only of updates not written again, and
		// of those finished during the write (it may have landed).
		jl.drop = append(jl.drop, drop...)
		jl.drop = append(jl.drop, late...)
		jl.mu.Unlock()
		return err
	}
	jl.mu.Unlock()
	if len(late) > 0 {
		if err := jl.j.Keep(ctx, nil, late); err != nil {
			jl.mu.Lock()
			jl.drop = append(jl.drop, late...)
			jl.mu.Unlock()
			return err
		}
	}
	return nil
}

// restore returns the updates a previous run kept, oldest first, and
// marks them kept (their removal is due once they are finished).
func (jl *journal) restore(ctx context.Context) ([]*Update, error) {
	kept, err := jl.j.Kept(ctx)
	if err != nil {
		return nil, err
	}
	var ups []*Update
	jl.mu.Lock()
	defer jl.mu.Unlock()
	for id, b := range kept {
		u, err := decodeUpdate(bytes.NewReader(b))
		if err != nil || u.ID != id {
			jl.drop = append(jl.drop, id) // unreadable: nothing to apply
			continue
		}
		jl.kept[id] = true
		ups = append(ups, u)
	}
	sort.Slice(ups, func(a, b int) bool { return ups[a].ID < ups[b].ID })
	return ups, nil
}

// journalJSON is u as the journal keeps it: Telegram's JSON, which a
// release before or after this one reads back (restore). An update decoded
// by encoding/json is kept as the library wrote it; one the hand-written
// decoder read, with what the bot reads of it — a tap's message as its id
// and chat (its date only as "accessible"), a sender without the names
// the bot never reads.
func (u *Update) journalJSON() ([]byte, error) {
	if u.lib != nil {
		return json.Marshal(u.lib)
	}
	k := keptUpdate{ID: u.ID}
	msg := &keptMessage{ID: u.MsgID, Chat: keptChat{ID: u.Chat, Type: string(u.ChatType)}, Text: u.Text}
	if u.HasFrom {
		msg.From = &keptUser{ID: u.From, FirstName: u.Name, LanguageCode: u.Lang}
	}
	switch u.Kind {
	case upMessage:
		k.Message = msg
	case upEdited:
		msg.Text = ""
		k.EditedMessage = msg
	case upCallback:
		k.CallbackQuery = &keptCallback{ID: u.Query, From: keptUser{ID: u.From, FirstName: u.Name, LanguageCode: u.Lang}, Data: u.Data}
		if u.HasMsg {
			// Any date but 0, which means "inaccessible".
			msg.From, msg.Text, msg.Date = nil, "", 1
			k.CallbackQuery.Message = msg
		}
	}
	return json.Marshal(&k)
}

// keptUpdate and its parts are the JSON of journalJSON, in Telegram's
// names.
type keptUpdate struct {
	ID            int64         `json:"update_id"`
	Message       *keptMessage  `json:"message,omitempty"`
	EditedMessage *keptMessage  `json:"edited_message,omitempty"`
	CallbackQuery *keptCallback `json:"callback_query,omitempty"`
}

type keptMessage struct {
	ID   int       `json:"message_id"`
	From *keptUser `json:"from,omitempty"`
	Date int       `json:"date"`
	Chat keptChat  `json:"chat"`
	Text string    `json:"text,omitempty"`
}

type keptUser struct {
	ID           int64  `json:"id"`
	FirstName    string `json:"first_name"`
	LanguageCode string `json:"language_code,omitempty"`
}

type keptChat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

type keptCallback struct {
	ID      string       `json:"id"`
	From    keptUser     `json:"from"`
	Message *keptMessage `json:"message,omitempty"`
	Data    string       `json:"data"`
}
