package redisstore_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"

	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// roundTrips counts the client's network round trips: one per command
// processed alone, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// blob600 stands in for an encoded interview state of ~600 bytes.
var blob600 = bytes.Repeat([]byte("state-"), 100)

var benchRecord = &redisstore.AbandonRecord{
	Form: "immigrants", FormVersion: 1, MunicipalityID: 1, Language: "ar",
	LastQuestion: "q_housing_problems", Started: time.Now(),
}

func benchStore(b *testing.B) (*redisstore.Store, *roundTrips) {
	s, rdb, _ := newStore(b, redisstore.Options{})
	h := &roundTrips{}
	rdb.AddHook(h)
	// Warm up: scripts cached on the server, a pooled connection.
	if err := s.Save(ctx, 1, 1, 0, 1, blob600, benchRecord); err != nil {
		b.Fatal(err)
	}
	if _, _, _, _, err := s.Load(ctx, 1, 1); err != nil {
		b.Fatal(err)
	}
	return s, h
}

func BenchmarkLoad(b *testing.B) {
	s, h := benchStore(b)
	h.n.Store(0)
	b.ResetTimer()
	for i := range b.N {
		if _, _, _, _, err := s.Load(ctx, 1, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
}

func BenchmarkSave(b *testing.B) {
	for _, bc := range []struct {
		name string
		rec  *redisstore.AbandonRecord
	}{{"before-consent", nil}, {"with-abandon-record", benchRecord}} {
		b.Run(bc.name, func(b *testing.B) {
			s, h := benchStore(b)
			h.n.Store(0)
			b.ResetTimer()
			v := uint64(1)
			for i := range b.N {
				if err := s.Save(ctx, 1, int64(i+2), v, v+1, blob600, bc.rec); err != nil {
					b.Fatal(err)
				}
				v++
			}
			b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
		})
	}
}

// TestStateMemoryUsage measures with Redis's MEMORY USAGE what one chat
// takes: its state key with a ~600-byte blob, its seen-ids key after an
// interview's worth (100) of updates, and its abandonment record. Run with
// -v to see the figures.
func TestStateMemoryUsage(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	v := uint64(0)
	for i := range 100 {
		if err := s.Save(ctx, 77, int64(1_000_000+i), v, v+1, blob600, benchRecord); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkSent(ctx, 77, int64(1_000_000+i), 0); err != nil {
			t.Fatal(err)
		}
		v++
	}
	usage := func(k string) int64 {
		n, err := rdb.MemoryUsage(ctx, prefix+k, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	state, seen, rec := usage(s.ChatTag(77)+":s"), usage(s.ChatTag(77)+":u"), usage(s.ChatTag(77)+":a")
	t.Logf("MEMORY USAGE: state %d B (blob %d B), seen ids (100) %d B, abandonment record %d B, total %d B per chat",
		state, len(blob600), seen, rec, state+seen+rec)
	if state > 2*int64(len(blob600)) {
		t.Errorf("state key takes %d B for a %d-byte blob", state, len(blob600))
	}
}

// serverStats reads the server's total usec of EVAL and EVALSHA (INFO
// commandstats; they include the commands the scripts call) and the calls
// of all commands but INFO (those inside scripts included).
func serverStats(b *testing.B, rdb *redis.Client) (scriptUsec, calls float64) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if !strings.HasPrefix(k, "cmdstat_") || k == "cmdstat_info" {
			continue
		}
		c, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
		n, _ := strconv.ParseFloat(c, 64)
		calls += n
		if k != "cmdstat_eval" && k != "cmdstat_evalsha" {
			continue
		}
		_, u, _ := strings.Cut(v, "usec=")
		u, _, _ = strings.Cut(u, ",")
		n, _ = strconv.ParseFloat(u, 64)
		scriptUsec += n
	}
	return scriptUsec, calls
}

// BenchmarkTurn is one respondent's turn as needsbot runs it (TailDelay
// on): the chat's read counting the update (LoadCounting), Inbound, Save with an
// abandonment record and its expiry job (due time moving each turn),
// MarkSent, ArmReminder (due time moving each turn) and RecordSent
// deferred. It reports round trips, Redis commands (those inside scripts
// included) and the Redis time per turn from INFO commandstats
// (script-us/op, whole server: point NEEDSBOT_TEST_REDIS_URL at a Redis of
// its own for meaningful figures).
func BenchmarkTurn(b *testing.B) {
	s, rdb, _ := newStore(b, redisstore.Options{TailDelay: time.Minute})
	h := &roundTrips{}
	rdb.AddHook(h)
	rec := *benchRecord
	v := uint64(0)
	// A new chat every 40 turns: seen records of an interview's size.
	turn := func(i int) {
		chat := int64(5 + i/40)
		if i%40 == 0 {
			v = 0
		}
		update := int64(1_000_000 + i)
		now := time.Now()
		// As needsbot: the load counts the update (LoadCounting), the
		// turn's Inbound takes the verdict without a round trip.
		_, ver, seen, _, err := s.LoadCounting(ctx, chat, update, 1_000_000, time.Second)
		if err != nil || seen != redisstore.SeenNone || ver != v {
			b.Fatal(ver, seen, err)
		}
		if ok, _, err := s.Inbound(ctx, chat, update, 1_000_000, time.Second); err != nil || !ok {
			b.Fatal(ok, err)
		}
		rec.Expires = now.Add(7 * 24 * time.Hour)
		if err := s.Save(ctx, chat, update, v, v+1, blob600, &rec); err != nil {
			b.Fatal(err)
		}
		v++
		if err := s.MarkSent(ctx, chat, update, 100+i); err != nil {
			b.Fatal(err)
		}
		if err := s.ArmReminder(ctx, chat, "uk", now.Add(24*time.Hour), time.Hour); err != nil {
			b.Fatal(err)
		}
		if err := s.RecordSent(ctx, chat, 100+i); err != nil {
			b.Fatal(err)
		}
	}
	turn(-40) // warm up (another chat): scripts cached
	h.n.Store(0)
	u0, c0 := serverStats(b, rdb)
	b.ResetTimer()
	for i := range b.N {
		turn(i)
	}
	b.StopTimer()
	u1, c1 := serverStats(b, rdb)
	b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
	b.ReportMetric((u1-u0)/float64(b.N), "script-us/op")
	b.ReportMetric((c1-c0)/float64(b.N), "cmds/op")
}

// BenchmarkLongChatTurns: turns of a chat whose seen record is at its
// bound (over a thousand updates within the seen TTL, e.g. a flood): every
// ~300 turns a save trims the record back to seenMax entries, and that
// trim must stay linear in the record's length (it held Redis for ~30 ms
// when it copied the rest of the record per dropped entry).
func BenchmarkLongChatTurns(b *testing.B) {
	clk := newClock()
	s, _, _ := newStore(b, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	tt := newTypicalTurns(b, s, clk, 61)
	for range 1400 {
		tt.turn()
	}
	b.ResetTimer()
	for range b.N {
		tt.turn()
	}
}

// BenchmarkCommonTurn is the turn needsbot runs most (session 11): the
// read counting the update, Inbound, a Save whose abandonment record
// names a new question and moves its expiry job, the deferred MarkSent
// with the message id and ArmReminder checking the reminder in the same
// language — no sent id to record (BenchmarkTurn records one on every
// turn, which sends every save to the rest of the script). 100 chats
// round robin, each past its first three turns: every save is a common
// one (saveFastLua). TestCallgrindTurns (-tags shapes) is the same turn
// against a Redis under callgrind.
func BenchmarkCommonTurn(b *testing.B) {
	clk := newClock()
	s, rdb, _ := newStore(b, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	h := &roundTrips{}
	rdb.AddHook(h)
	const chats = 100
	vers := make([]uint64, chats)
	rec := *benchRecord
	next := int64(1_000_000)
	turn := func(c int) {
		chat := int64(700 + c)
		update := next
		next++
		now := clk.Now()
		if _, ver, seen, _, err := s.LoadCounting(ctx, chat, update, 1_000_000, time.Second); err != nil || seen != redisstore.SeenNone || ver != vers[c] {
			b.Fatal(ver, seen, err)
		}
		if ok, _, err := s.Inbound(ctx, chat, update, 1_000_000, time.Second); err != nil || !ok {
			b.Fatal(ok, err)
		}
		rec.LastQuestion = "q_" + strconv.FormatInt(update%97, 10)
		rec.Expires = now.Add(7 * 24 * time.Hour)
		if err := s.Save(ctx, chat, update, vers[c], vers[c]+1, blob600, &rec); err != nil {
			b.Fatal(err)
		}
		vers[c]++
		if err := s.MarkSent(ctx, chat, update, int(update%100_000)+5000); err != nil {
			b.Fatal(err)
		}
		if err := s.ArmReminder(ctx, chat, "uk", now.Add(24*time.Hour), time.Hour); err != nil {
			b.Fatal(err)
		}
		clk.Add(time.Millisecond)
	}
	for range 3 {
		for c := range chats {
			turn(c)
		}
	}
	h.n.Store(0)
	u0, c0 := serverStats(b, rdb)
	b.ResetTimer()
	for i := range b.N {
		turn(i % chats)
	}
	b.StopTimer()
	u1, c1 := serverStats(b, rdb)
	b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
	b.ReportMetric((u1-u0)/float64(b.N), "script-us/op")
	b.ReportMetric((c1-c0)/float64(b.N), "cmds/op")
}

// BenchmarkSaveDone is a finished interview's save, alone and with its
// completion recorded in the same step (SaveDoneCompleted, a ~1.3 KB
// payload as MarshalCompleted writes for the shipped questionnaire).
func BenchmarkSaveDone(b *testing.B) {
	payload := bytes.Repeat([]byte("completion-payload-"), 70)
	for _, bc := range []struct {
		name    string
		payload []byte
	}{{"state-only", nil}, {"with-completion", payload}} {
		b.Run(bc.name, func(b *testing.B) {
			s, h := benchStore(b)
			h.n.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			v := uint64(1)
			for i := range b.N {
				var err error
				if bc.payload == nil {
					err = s.SaveDone(ctx, 1, int64(i+2), v, v+1, blob600)
				} else {
					err = s.SaveDoneCompleted(ctx, 1, int64(i+2), v, v+1, blob600, "k"+strconv.Itoa(i), "p_owner", bc.payload)
				}
				if err != nil {
					b.Fatal(err)
				}
				v++
			}
			b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
		})
	}
}
