package redisstore_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// scriptCalls records the script commands a client sends and the
// NOSCRIPT answers it gets.
type scriptCalls struct {
	mu       sync.Mutex
	names    []string
	noScript int
}

func (h *scriptCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptCalls) note(cmd redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if name := cmd.Name(); name == "evalsha" || name == "eval" {
		h.names = append(h.names, name)
	}
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		h.noScript++
	}
}

func (h *scriptCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.note(cmd)
		return err
	}
}

func (h *scriptCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.note(c)
		}
		return err
	}
}

// TestLoadScriptsBeforeFirstTurn: after Redis's script cache is emptied
// (a restart, a failover, a deploy with a changed script), the store's
// LoadScripts at start lets the first turn run its scripts by SHA: no
// NOSCRIPT, no EVAL with the script's body.
//
// Not parallel: SCRIPT FLUSH empties the cache of every test on this
// Redis (parallel tests run after this one; other packages' tests fall
// back to EVAL if they meet it).
func TestLoadScriptsBeforeFirstTurn(t *testing.T) {
	s, rdb, _ := newStore(t, redisstore.Options{})
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	h := &scriptCalls{}
	rdb.AddHook(h)
	const chat, update = 41, 900
	if _, _, _, _, err := s.LoadCounting(ctx, chat, update, 100, 1e9); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, chat, update, 0, 1, []byte("state"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, chat, update, 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, chat, update+1, 1, 2, []byte("state"), nil); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.noScript != 0 || len(h.names) == 0 || slices.Contains(h.names, "eval") {
		t.Errorf("script commands %v, %d NOSCRIPT answers; want EVALSHA only, none refused", h.names, h.noScript)
	}
}

// TestScriptsRegistered: every script of the store is made by newScript,
// so that LoadScripts loads it.
func TestScriptsRegistered(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "preload.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "redis.NewScript(") {
			t.Errorf("%s makes a script with redis.NewScript: use newScript (LoadScripts)", f)
		}
	}
}
