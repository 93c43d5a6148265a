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

// Process refuses a done context as Eval does (see batched): the store's
// scripts and reads go through Process with their own command objects
// (argv).
func (b batched) Process(ctx context.Context, cmd redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		cmd.SetErr(err)
		return err
	}
	return b.AutoPipeliner.Process(ctx, cmd)
}

// argv holds the arguments of the commands of one call (a script, or a
// pipeline's commands), built with one allocation instead of one per
// argument: go-redis takes a command's arguments as []any, and each string
// or integer that is not a constant (or a small integer) allocates when it
// is made an any (a save passed ~30 of them, keys included, plus the slices
// that held them: a third of the objects the bot allocated per update were
// the Redis client's and the scripts' arguments, issue 19). Here strings
// and integers are kept in the argv's own storage and passed by pointer:
// go-redis writes a *string or *int64 as it writes the value
// (proto.Writer), and its cluster routing reads a *string key as the key
// (baseCmd.stringArg), so the bytes sent are the same. Constants (command
// names, field names), empty strings and integers below 256 are passed as
// they are: made an any, they do not allocate.
//
// An argv is not reused or pooled: go-redis may write a command again (a
// retry on a new connection) until its reply is in. Arguments past the
// storage's room are boxed as before.
type argv struct {
	a    []any
	at   int        // where the last script call begins (script)
	strs []string   // room for strings (len: used)
	ints []int64    // room for integers
	byts []bytesArg // room for []byte arguments
}

// argvRead is the storage of a chat's read (readChat: HMGET of the state
// and GET of the seen record, their keys).
type argvRead struct {
	argv
	buf  [13]any
	strs [4]string
}

// argvSave is the storage of a save (saveScript with every optional key
// and argument but a long list of marks).
type argvSave struct {
	argv
	buf  [40]any
	strs [20]string
	ints [10]int64
	byts [2]bytesArg
}

func newReadArgv() *argv {
	x := new(argvRead)
	x.argv = argv{a: x.buf[:0], strs: x.strs[:0]}
	return &x.argv
}

func newSaveArgv() *argv {
	x := new(argvSave)
	x.argv = argv{a: x.buf[:0], strs: x.strs[:0], ints: x.ints[:0], byts: x.byts[:0]}
	return &x.argv
}

// lit appends x as it is: a constant, or a value whose any is made already.
func (v *argv) lit(x any) { v.a = append(v.a, x) }

// str appends s.
func (v *argv) str(s string) {
	if s == "" || len(v.strs) == cap(v.strs) {
		v.a = append(v.a, s)
		return
	}
	v.strs = append(v.strs, s)
	v.a = append(v.a, &v.strs[len(v.strs)-1])
}

// int appends n.
func (v *argv) int(n int64) {
	if (n >= 0 && n < 256) || len(v.ints) == cap(v.ints) {
		v.a = append(v.a, n)
		return
	}
	v.ints = append(v.ints, n)
	v.a = append(v.a, &v.ints[len(v.ints)-1])
}

// bytes appends b (sent as it is: b must not change until the command is done).
func (v *argv) bytes(b []byte) {
	if len(b) == 0 || len(v.byts) == cap(v.byts) {
		v.a = append(v.a, b)
		return
	}
	v.byts = append(v.byts, b)
	v.a = append(v.a, &v.byts[len(v.byts)-1])
}

// keys takes n strings of the argv's room (a new slice when there is
// none), for the caller to fill with keys and append with key.
func (v *argv) keys(n int) []string {
	if len(v.strs)+n > cap(v.strs) {
		return make([]string, n)
	}
	v.strs = v.strs[:len(v.strs)+n]
	return v.strs[len(v.strs)-n:]
}

// key appends *k, a string of keys' (or any string that stays put).
func (v *argv) key(k *string) { v.a = append(v.a, k) }

// cut returns the arguments appended since from, as one command's: a
// slice that go-redis cannot append into the argv's later arguments.
func (v *argv) cut(from int) []any { return v.a[from:len(v.a):len(v.a)] }

// bytesArg is a []byte argument passed by pointer: go-redis writes an
// encoding.BinaryMarshaler's bytes as they are.
type bytesArg []byte

// MarshalBinary returns b itself.
func (b *bytesArg) MarshalBinary() ([]byte, error) { return *b, nil }

// script begins a call of sc (EVALSHA) with nkeys keys, to be appended
// next, then its arguments; evalScript, or a pipeline's runFunc given v,
// sends it.
func (v *argv) script(sc *redis.Script, nkeys int) {
	v.at = len(v.a)
	v.lit("evalsha")
	v.str(sc.Hash())
	v.lit(nkeys) // a small int made an any does not allocate
}

// scriptCmd is the command of v's last script call (argv.script).
func scriptCmd(ctx context.Context, v *argv) *redis.Cmd {
	at := v.at
	cmd := redis.NewCmd(ctx, v.cut(at)...)
	if n, _ := v.a[at+2].(int); n > 0 {
		cmd.SetFirstKeyPos(3)
	}
	return cmd
}

// evalArgs returns the keys and arguments of the script call cmd (made by
// scriptCmd), to send it again by EVAL when Redis does not know the script.
func evalArgs(cmd *redis.Cmd) (keys []string, args []any) {
	all := cmd.Args()
	n, _ := all[2].(int)
	keys = make([]string, n)
	for i := range keys {
		switch k := all[3+i].(type) {
		case *string:
			keys[i] = *k
		case string:
			keys[i] = k
		}
	}
	return keys, all[3+len(keys):]
}

// evalScript runs v's last script call (argv.script) as sc.Run does: by
// EVALSHA, and by EVAL when Redis does not know the script (first use,
// SCRIPT FLUSH, failover).
func (s *Store) evalScript(ctx context.Context, sc *redis.Script, v *argv) *redis.Cmd {
	cmd := scriptCmd(ctx, v)
	_ = s.rdb.Process(ctx, cmd)
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		keys, args := evalArgs(cmd)
		return sc.Eval(ctx, s.rdb, keys, args...)
	}
	return cmd
}
