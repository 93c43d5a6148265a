package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Batched returns the client to give New over c: c's autopipeliner in
// full-duplex mode, so that the round trips of different chats in flight
// at the same time share the socket's writes and reads instead of each
// taking a pooled connection and a write and a read of its own (issue 19).
//
// One connection is held (from c's pipeline pool): a writer goroutine
// writes whatever commands are queued as one write while the replies of
// the previous writes are still coming, and a reader goroutine completes
// each command as its reply lands. Nothing waits on a timer: under light
// load a command is written at once, as with c; under load, the commands
// that arrive during a write go together in the next, and the server
// reads many at once from the one socket (`needsbot loadtest`: 0.3 server
// reads per update instead of 2.4). Redis then does fewer reads, writes
// and epoll wakeups per command, and so does the bot.
//
// Semantics are c's: a caller's call returns when its own reply is in,
// with its own result or error (a Redis error, NOSCRIPT included, fails
// that command alone); commands run in the order they were submitted, so
// a chat's Load, made and awaited before its Save, runs before it; a
// pipeline (Store.pipelined) is written contiguously and its replies read
// in order; a connection error replays the unanswered commands on a new
// connection within c's MaxRetries, as c retries a failed command, so a
// Save whose reply was lost runs again and finds its own version (the
// compare-and-swap conflict and the reload report it SeenApplied); c's
// ReadTimeout bounds each reply. A context already done is refused before
// the command is queued (see batched). Once queued, a command is not
// abandoned when its context ends — nor is it with c, which does not bound
// socket I/O by the context unless ContextTimeoutEnabled. Closing c drains
// the queued commands first.
//
// The autopipeliner is EXPERIMENTAL in go-redis (v9.22+); operators can
// turn it off (NEEDSBOT_REDIS_BATCHING=off), which gives New c itself.
func Batched(c *redis.Client) (redis.UniversalClient, error) {
	ap, err := c.AutoPipelineWithOptions(&redis.AutoPipelineOptions{
		FullDuplex: true,
		// The blocking face's preset: a batch is at most 300 commands
		// (and 128 KiB, the default); more wait for the next write.
		MaxBatchSize: 300,
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: autopipeline: %w", err)
	}
	return batched{ap}, nil
}

// batched is the autopipeliner with the plain client's answer to a done
// context for the store's scripts: the plain client asks its pool for a
// connection first, which fails at once with the context's error, so
// nothing is sent; the autopipeliner queues the command regardless (its
// pipelines, Pipelined included, already refuse a done context).
type batched struct{ *redis.AutoPipeliner }

func doneCmd(ctx context.Context) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(ctx.Err())
	return cmd
}

func (b batched) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	if ctx.Err() != nil {
		return doneCmd(ctx)
	}
	return b.AutoPipeliner.Eval(ctx, script, keys, args...)
}

func (b batched) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	if ctx.Err() != nil {
		return doneCmd(ctx)
	}
	return b.AutoPipeliner.EvalSha(ctx, sha1, keys, args...)
}

func (b batched) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	if ctx.Err() != nil {
		return doneCmd(ctx)
	}
	return b.AutoPipeliner.EvalRO(ctx, script, keys, args...)
}

func (b batched) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	if ctx.Err() != nil {
		return doneCmd(ctx)
	}
	return b.AutoPipeliner.EvalShaRO(ctx, sha1, keys, args...)
}
