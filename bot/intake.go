package bot

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	tgmodels "github.com/go-telegram/bot/models"
)

// Intake takes updates in, keeps each chat's updates in order (one worker
// owns each chat: chat id modulo the number of workers), runs different
// chats in parallel (bounded by the workers), recovers panics, and drains
// in-flight work on Stop.
type Intake struct {
	h       *Handler
	queues  []chan *job
	timeout time.Duration
	log     *slog.Logger

	mu      sync.RWMutex
	stopped bool
	wg      sync.WaitGroup
}

type job struct {
	upd         *tgmodels.Update
	remind      int64 // a due reminder for this chat (upd is nil): remind.go
	deferAnswer bool
	retries     int
	done        chan result
}

type result struct {
	out Outcome
	err error
}

// ErrStopped is returned for updates offered after Stop.
var ErrStopped = errors.New("intake stopped")

// IntakeOptions configures an Intake.
type IntakeOptions struct {
	Workers int           // default 32
	Queue   int           // per worker, default 64
	Timeout time.Duration // per update, default 30 s
	Logger  *slog.Logger
}

// NewIntake starts the workers.
func NewIntake(h *Handler, o IntakeOptions) *Intake {
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	in := &Intake{h: h, timeout: o.Timeout, log: o.Logger}
	for i := 0; i < o.Workers; i++ {
		q := make(chan *job, o.Queue)
		in.queues = append(in.queues, q)
		in.wg.Add(1)
		go in.work(q)
	}
	return in
}

func (in *Intake) work(q chan *job) {
	defer in.wg.Done()
	for j := range q {
		var res result
		for attempt := 0; ; attempt++ {
			res = in.run(j)
			if res.err == nil || attempt >= j.retries {
				break
			}
			in.log.Warn("update failed, retrying", "update", j.upd.ID, "attempt", attempt+1, "err", res.err)
			time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
		}
		j.done <- res
	}
}

// run handles one update with its own deadline, detached from the caller's
// cancellation so that shutdown finishes in-flight work, and recovers a
// panic into a logged error and a localised apology.
func (in *Intake) run(j *job) (res result) {
	ctx, cancel := context.WithTimeout(context.Background(), in.timeout)
	defer cancel()
	if j.upd == nil {
		return in.runReminder(ctx, j)
	}
	defer func() {
		if p := recover(); p != nil {
			in.log.Error("panic handling update", "update", j.upd.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			in.h.apologise(ctx, j.upd)
			// Handled: redelivering a poison update would panic again.
			res = result{}
		}
	}()
	out, err := in.h.Handle(ctx, j.upd, j.deferAnswer)
	if err != nil {
		in.log.Error("update not applied", "update", j.upd.ID, "err", err)
	}
	return result{out, err}
}

// Submit hands an update to its chat's worker and waits for the result.
func (in *Intake) Submit(ctx context.Context, u *tgmodels.Update, deferAnswer bool, retries int) (Outcome, error) {
	j, err := in.enqueue(ctx, u, deferAnswer, retries)
	if err != nil {
		return Outcome{}, err
	}
	res := <-j.done
	return res.out, res.err
}

func (in *Intake) enqueue(ctx context.Context, u *tgmodels.Update, deferAnswer bool, retries int) (*job, error) {
	return in.enqueueJob(ctx, &job{upd: u, deferAnswer: deferAnswer, retries: retries, done: make(chan result, 1)}, ChatOf(u))
}

// enqueueJob hands j to the worker that owns chat.
func (in *Intake) enqueueJob(ctx context.Context, j *job, chat int64) (*job, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.stopped {
		return nil, ErrStopped
	}
	if chat < 0 {
		chat = -chat
	}
	select {
	case in.queues[chat%int64(len(in.queues))] <- j:
		return j, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Stop refuses new updates and waits for the queued and in-flight ones.
func (in *Intake) Stop() {
	in.mu.Lock()
	if !in.stopped {
		in.stopped = true
		for _, q := range in.queues {
			close(q)
		}
	}
	in.mu.Unlock()
	in.wg.Wait()
}

// maxUpdateBody bounds a webhook request body.
const maxUpdateBody = 1 << 20

// Webhook returns the HTTP handler for Telegram's webhook: 401 for a wrong
// secret, 200 only once the update's effect is committed (with the
// callback answer in the response body), 500 when it could not be, so that
// Telegram delivers it again, 503 while shutting down.
func (in *Intake) Webhook(secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
		if secret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var u tgmodels.Update
		if err := json.NewDecoder(io.LimitReader(r.Body, maxUpdateBody)).Decode(&u); err != nil {
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		out, err := in.Submit(r.Context(), &u, true, 0)
		switch {
		case errors.Is(err, ErrStopped):
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		case err != nil:
			http.Error(w, "not applied", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if out.Answer != nil {
			body := map[string]any{"method": "answerCallbackQuery", "callback_query_id": out.Answer.QueryID}
			if out.Answer.Text != "" {
				body["text"] = out.Answer.Text
			}
			_ = json.NewEncoder(w).Encode(body)
			return
		}
		_, _ = w.Write([]byte("{}"))
	})
}

// Poller takes updates by long polling. It advances the offset only after
// every update of a batch was handled (each chat in order; a failing update
// is retried a few times, then logged and dropped so that one poison
// update cannot stop the bot).
type Poller struct {
	Intake         *Intake
	Client         *http.Client
	APIURL, Token  string
	Timeout        time.Duration // long-poll timeout, default 25 s
	AllowedUpdates []string
	Logger         *slog.Logger
}

// Run polls until ctx is cancelled.
func (p *Poller) Run(ctx context.Context) error {
	if p.Timeout == 0 {
		p.Timeout = 25 * time.Second
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var offset int64
	backoff := time.Second
	for ctx.Err() == nil {
		updates, err := p.get(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Warn("getUpdates failed", "err", err)
			if sleep(ctx, backoff) != nil {
				break
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		jobs := make([]*job, 0, len(updates))
		for _, u := range updates {
			// Enqueue in order: each chat's worker sees its updates in order.
			j, err := p.Intake.enqueue(context.Background(), u, false, 3)
			if err != nil {
				return nil // stopped
			}
			jobs = append(jobs, j)
		}
		for i, j := range jobs {
			if res := <-j.done; res.err != nil {
				log.Error("update dropped after retries", "update", updates[i].ID, "err", res.err)
			}
			offset = updates[i].ID + 1
		}
	}
	return nil
}

func (p *Poller) get(ctx context.Context, offset int64) ([]*tgmodels.Update, error) {
	body, _ := json.Marshal(map[string]any{"offset": offset, "timeout": int(p.Timeout.Seconds()), "allowed_updates": p.AllowedUpdates})
	ctx, cancel := context.WithTimeout(ctx, p.Timeout+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.APIURL+"/bot"+p.Token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.Client.Do(req)
	if err != nil {
		// The URL holds the token: never let it reach a log.
		return nil, errors.New("getUpdates: request failed: " + redact(err.Error(), p.Token))
	}
	defer resp.Body.Close()
	var r struct {
		OK          bool               `json:"ok"`
		Result      []*tgmodels.Update `json:"result"`
		Description string             `json:"description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("getUpdates: %w", err)
	}
	if !r.OK {
		return nil, fmt.Errorf("getUpdates: %d %s", resp.StatusCode, r.Description)
	}
	return r.Result, nil
}

func redact(s, token string) string {
	if token == "" {
		return s
	}
	return string(bytes.ReplaceAll([]byte(s), []byte(token), []byte("***")))
}

// apologise tells the user, in their language, that something went wrong.
func (h *Handler) apologise(ctx context.Context, u *tgmodels.Update) {
	ev := h.classify(u)
	if ev.chat == 0 || ev.kind == evGroup || ev.kind == evOther {
		return
	}
	lang := h.lang("", ev.langHint)
	if ev.query != "" {
		_ = h.cfg.Sender.Answer(ctx, ev.query, "")
	}
	_, _ = h.cfg.Sender.Send(ctx, ev.chat, Message{Text: h.r.Text(lang, MsgError, nil)})
}
