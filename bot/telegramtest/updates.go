package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// pendingUpdate is an update the bot has not acknowledged yet.
type pendingUpdate struct {
	id   int64
	chat *chatState
	kind string
	raw  json.RawMessage
	done bool
}

// defaultAllowed reports whether Telegram sends an update kind when
// allowed_updates was never set (or set to []).
func defaultAllowed(kind string) bool {
	switch kind {
	case "chat_member", "message_reaction", "message_reaction_count":
		return false
	}
	return true
}

// enqueue stamps an update with the next id and queues it for the bot, unless
// allowed_updates excludes its kind; s.mu must be held.
func (s *Server) enqueue(ch *chatState, kind string, u *wireUpdate) {
	if s.allowed == nil && !defaultAllowed(kind) || s.allowed != nil && !slices.Contains(s.allowed, kind) {
		return
	}
	s.nextUpdateID++
	u.UpdateID = s.nextUpdateID
	raw, err := json.Marshal(u)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: marshal update: %v", err))
	}
	pu := &pendingUpdate{id: u.UpdateID, chat: ch, kind: kind, raw: raw}
	s.queue = append(s.queue, pu)
	ch.queue = append(ch.queue, pu)
	s.pending++
	if s.pending > maxPendingUpdates {
		// Telegram keeps updates for 24 hours; the fake keeps a bounded number.
		for _, old := range s.queue {
			if !old.done {
				s.finish(old)
				break
			}
		}
	}
	s.markReady(ch)
	s.bumpQueue()
}

func (s *Server) bumpQueue() {
	close(s.queueChanged)
	s.queueChanged = make(chan struct{})
}

// finish forgets an acknowledged (or dropped) update; s.mu must be held.
func (s *Server) finish(pu *pendingUpdate) {
	if pu.done {
		return
	}
	pu.done = true
	s.pending--
	ch := pu.chat
	if i := slices.Index(ch.queue, pu); i >= 0 {
		ch.queue = slices.Delete(ch.queue, i, i+1)
	}
	i := 0
	for i < len(s.queue) && s.queue[i].done {
		i++
	}
	if i > 0 {
		s.queue = slices.Delete(s.queue, 0, i)
	}
	ch.bump()
}

// poller is a getUpdates request waiting for updates.
type poller struct {
	terminated chan string // receives the description of a 409
}

func (p *poller) terminate(desc string) {
	select {
	case p.terminated <- desc:
	default: // already terminated
	}
}

func (s *Server) getUpdates(c *call) (any, *apiError) {
	offset, _, err := c.p.int64("offset")
	if err != nil {
		return nil, err
	}
	limit, _, err := c.p.int("limit")
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _, err := c.p.int("timeout")
	if err != nil {
		return nil, err
	}
	var allowed []string
	setAllowed := c.p.has("allowed_updates")
	if setAllowed {
		if allowed, err = parseAllowed(c.p.str("allowed_updates")); err != nil {
			return nil, err
		}
	}

	s.mu.Lock()
	if s.webhook != nil {
		s.mu.Unlock()
		return nil, conflict("can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
	}
	if s.poller != nil {
		s.poller.terminate("terminated by other getUpdates request; make sure that only one bot instance is running")
	}
	me := &poller{terminated: make(chan string, 1)}
	s.poller = me
	defer func() {
		s.mu.Lock()
		if s.poller == me {
			s.poller = nil
		}
		s.mu.Unlock()
	}()
	if setAllowed {
		s.allowed = allowed
	}
	s.confirm(offset)

	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(time.Duration(timeout) * time.Second)
		defer t.Stop()
		timer = t.C
	}
	for {
		var out []json.RawMessage
		for _, pu := range s.queue {
			if len(out) == limit {
				break
			}
			if !pu.done && pu.id >= offset {
				out = append(out, pu.raw)
			}
		}
		changed := s.queueChanged
		s.mu.Unlock()
		if len(out) > 0 || timer == nil {
			if out == nil {
				out = []json.RawMessage{}
			}
			return out, nil
		}
		select {
		case <-changed:
		case <-timer:
			timer = nil
		case desc := <-me.terminated:
			return nil, conflict(desc)
		case <-c.ctx.Done():
			return []json.RawMessage{}, nil
		case <-s.closing:
			return []json.RawMessage{}, nil
		}
		s.mu.Lock()
		select {
		case desc := <-me.terminated:
			s.mu.Unlock()
			return nil, conflict(desc)
		default:
		}
	}
}

// confirm forgets the updates a getUpdates offset confirms; s.mu must be held.
func (s *Server) confirm(offset int64) {
	switch {
	case offset > 0:
		// finish keeps the head of the queue undone, and ids ascend.
		if len(s.queue) == 0 || s.queue[0].id >= offset {
			return
		}
		for len(s.queue) > 0 && s.queue[0].id < offset {
			s.finish(s.queue[0])
		}
		s.bumpQueue()
	case offset < 0:
		// A negative offset keeps only the last -offset updates.
		var live []*pendingUpdate
		for _, pu := range s.queue {
			if !pu.done {
				live = append(live, pu)
			}
		}
		if keep := int(-offset); len(live) > keep {
			for _, pu := range live[:len(live)-keep] {
				s.finish(pu)
			}
			s.bumpQueue()
		}
	}
}

func parseAllowed(raw string) ([]string, *apiError) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	var kinds []string
	if err := json.Unmarshal([]byte(raw), &kinds); err != nil {
		return nil, badRequest("can't parse allowed updates JSON array")
	}
	if len(kinds) == 0 {
		return nil, nil // [] means the default set
	}
	return kinds, nil
}

// webhookState is a webhook set with setWebhook.
type webhookState struct {
	url      string
	secret   string
	maxConns int
	ctx      context.Context // cancelled when the webhook is replaced or deleted
	cancel   context.CancelFunc
}

func (s *Server) setWebhook(c *call) (any, *apiError) {
	rawURL := strings.TrimSpace(c.p.str("url"))
	if rawURL == "" {
		return s.deleteWebhook(c)
	}
	u, perr := url.Parse(rawURL)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, badRequest("bad webhook: invalid webhook URL specified")
	}
	secret := c.p.str("secret_token")
	if len(secret) > 256 || strings.ContainsFunc(secret, func(r rune) bool {
		return !(r < 128 && (isAlnum(byte(r)) || r == '_' || r == '-'))
	}) {
		return nil, badRequest("secret token contains unallowed characters")
	}
	maxConns, _, err := c.p.int("max_connections")
	if err != nil {
		return nil, err
	}
	if maxConns <= 0 {
		maxConns = 40
	}
	maxConns = min(maxConns, 100)
	var allowed []string
	setAllowed := c.p.has("allowed_updates")
	if setAllowed {
		if allowed, err = parseAllowed(c.p.str("allowed_updates")); err != nil {
			return nil, err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &apiError{code: http.StatusServiceUnavailable, desc: "Service Unavailable: server closed"}
	}
	if c.p.bool("drop_pending_updates") {
		s.dropPending()
	}
	if setAllowed {
		s.allowed = allowed
	}
	c.description = "Webhook was set"
	if old := s.webhook; old != nil {
		if old.url == rawURL && old.secret == secret && old.maxConns == maxConns {
			c.description = "Webhook is already set"
		}
		old.cancel()
	}
	if s.poller != nil {
		s.poller.terminate("terminated by setWebhook request")
		s.poller = nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.webhook = &webhookState{url: rawURL, secret: secret, maxConns: maxConns, ctx: ctx, cancel: cancel}
	s.resetDeliveries()
	return true, nil
}

func (s *Server) deleteWebhook(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.p.bool("drop_pending_updates") {
		s.dropPending()
	}
	if s.webhook == nil {
		c.description = "Webhook is already deleted"
		return true, nil
	}
	s.webhook.cancel()
	s.webhook = nil
	s.resetDeliveries()
	c.description = "Webhook was deleted"
	return true, nil
}

// resetDeliveries forgets deliveries to a previous webhook and queues every
// chat with updates for the current one; s.mu must be held.
func (s *Server) resetDeliveries() {
	s.inflight = 0
	s.ready = s.ready[:0]
	var waiting []*chatState
	for _, ch := range s.chats {
		ch.inflight, ch.inReady = nil, false
		if len(ch.queue) > 0 {
			waiting = append(waiting, ch)
		}
		ch.bump()
	}
	slices.SortFunc(waiting, func(a, b *chatState) int { return int(a.queue[0].id - b.queue[0].id) })
	for _, ch := range waiting {
		s.markReady(ch)
	}
	s.bumpQueue()
}

// markReady queues a chat for webhook delivery if it has updates and none
// in flight; s.mu must be held.
func (s *Server) markReady(ch *chatState) {
	if s.webhook != nil && ch.inflight == nil && !ch.inReady && len(ch.queue) > 0 {
		ch.inReady = true
		s.ready = append(s.ready, ch)
	}
}

// dropPending forgets every queued update; s.mu must be held.
func (s *Server) dropPending() {
	for _, pu := range slices.Clone(s.queue) {
		s.finish(pu)
	}
	s.bumpQueue()
}

// PendingUpdates returns how many updates the bot has not acknowledged yet.
func (s *Server) PendingUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// WaitIdle waits until the bot has acknowledged every update of every chat
// and no webhook delivery is in progress.
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		idle, changed := s.pending == 0 && s.inflight == 0, s.queueChanged
		s.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return ErrClosed
		}
	}
}

func (s *Server) getWebhookInfo(*call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := wireWebhookInfo{PendingUpdateCount: s.pending, AllowedUpdates: s.allowed}
	if wh := s.webhook; wh != nil {
		info.URL, info.MaxConnections = wh.url, wh.maxConns
		if !s.lastHookErr.IsZero() {
			info.LastErrorDate, info.LastErrorMessage = s.lastHookErr.Unix(), s.lastHookMsg
		}
	}
	return info, nil
}

// dispatchWebhooks starts deliveries whenever updates, slots or the webhook
// change.
func (s *Server) dispatchWebhooks() {
	defer s.routines.Done()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		wh := s.webhook
		for wh != nil && len(s.ready) > 0 && s.inflight < wh.maxConns {
			ch := s.ready[0]
			s.ready = s.ready[1:]
			ch.inReady = false
			if ch.inflight != nil || len(ch.queue) == 0 {
				continue
			}
			ch.inflight = wh
			s.inflight++
			s.routines.Add(1)
			go s.deliver(wh, ch, ch.queue[0])
		}
		changed := s.queueChanged
		s.mu.Unlock()
		select {
		case <-changed:
		case <-s.closing:
			return
		}
	}
}

// deliver posts one update to the webhook until it is acknowledged, the
// attempts run out, or the webhook changes. Only then may the chat's next
// update go, which keeps each chat in order.
func (s *Server) deliver(wh *webhookState, ch *chatState, pu *pendingUpdate) {
	defer s.routines.Done()
	acked := false
	for attempt := 1; ; attempt++ {
		reply, code, err := s.post1(wh, pu)
		if err == nil {
			if reply != nil {
				s.runWebhookReply(wh.ctx, reply)
			}
			acked = true
			break
		}
		if wh.ctx.Err() != nil {
			break // the webhook was replaced or deleted; the update stays queued
		}
		s.mu.Lock()
		s.lastHookErr, s.lastHookMsg = s.now(), err.Error()
		s.violate(Violation{Method: "webhook", ChatID: ch.id, Code: code,
			Description: fmt.Sprintf("update %d, attempt %d: %s", pu.id, attempt, err)})
		s.mu.Unlock()
		s.cfg.logger.Warn("telegramtest: webhook delivery failed", "update", pu.id, "attempt", attempt, "error", err)
		if attempt >= s.cfg.webhookAttempts {
			s.mu.Lock()
			s.violate(Violation{Method: "webhook", ChatID: ch.id, Code: code,
				Description: fmt.Sprintf("update %d dropped after %d attempts", pu.id, attempt)})
			s.mu.Unlock()
			acked = true // dropped
			break
		}
		backoff := min(s.cfg.webhookBackoff<<(attempt-1), 5*time.Second)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-wh.ctx.Done():
		}
		t.Stop()
		if wh.ctx.Err() != nil {
			break
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if acked {
		s.finish(pu)
	}
	if ch.inflight == wh && s.webhook == wh {
		ch.inflight = nil
		s.inflight--
		s.markReady(ch)
	}
	ch.bump()
	s.bumpQueue()
}

// post1 makes one delivery attempt. It returns the method call in a 2xx
// answer, if any, or an error with the status to record.
func (s *Server) post1(wh *webhookState, pu *pendingUpdate) (json.RawMessage, int, error) {
	ctx, cancel := context.WithTimeout(wh.ctx, s.cfg.webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.url, bytes.NewReader(pu.raw))
	if err != nil {
		return nil, http.StatusBadGateway, err
	}
	req.Header.Set("Content-Type", "application/json")
	if wh.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", wh.secret)
	}
	resp, err := s.hooks.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, http.StatusGatewayTimeout, errors.New("Read timeout expired")
		}
		return nil, http.StatusBadGateway, fmt.Errorf("Connection failed: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp.StatusCode, fmt.Errorf("Wrong response from the webhook: %s", resp.Status)
	}
	if err != nil {
		return nil, http.StatusBadGateway, fmt.Errorf("Connection failed: %v", err)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, resp.StatusCode, nil
	}
	return body, resp.StatusCode, nil
}

// runWebhookReply executes the method call a bot may return in the body of
// its answer to a webhook delivery, as Telegram does. Its result is lost;
// errors are recorded as violations like any other call's.
func (s *Server) runWebhookReply(ctx context.Context, body json.RawMessage) {
	p := params{values: map[string]string{}, files: map[string]upload{}}
	if err := p.addJSON(body); err != nil {
		return // not a method call: Telegram ignores the body
	}
	method := p.str("method")
	if method == "" {
		return
	}
	delete(p.values, "method")
	_, _, _ = s.call(ctx, method, p)
}
