//go:build shapes

package redisstore_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// TestRollingTurns is session 11's rolling-deploy check (docs/performance.md,
// "Session 11: args"), built only with -tags shapes: it runs turns NB_FROM
// to NB_TO (1-based) of chats 42 and -42 under the key prefix NB_PREFIX,
// with a clock at NB_CLOCK ms plus the turn's number, as needsbot does
// (LoadCounting, Inbound, Save with the abandonment record and its expiry
// job, MarkSent, ArmReminder; every 5th turn a sent id, turns 2-3 at a
// language choice, turn 9 a new interview; session 12 added turns 13-24,
// each kind of save saveCommonScript writes and those around it: 13-14
// and 17-18 without the expiry job, 17-18 read with Load (no inbound
// count, no Inbound), 16-17 without MarkSent (so 18 saves the record
// alone), 21-24 without the abandonment record), writes its deferred
// tails at
// the end (a replica shutting down) and prints the chats' keys (the
// record's random id left out) as JSON. Run the same turns by one
// release, or by two releases taking turns (the old script's test binary
// and the new one's, against one Redis), and compare what is stored.
func TestRollingTurns(t *testing.T) {
	prefix := os.Getenv("NB_PREFIX")
	if prefix == "" {
		t.Skip("NB_PREFIX not set")
	}
	from, _ := strconv.Atoi(os.Getenv("NB_FROM"))
	to, _ := strconv.Atoi(os.Getenv("NB_TO"))
	clock, _ := strconv.ParseInt(os.Getenv("NB_CLOCK"), 10, 64)
	rdb, _ := storagetest.Redis(t) // its own prefix: nothing of NB_PREFIX is deleted
	bc, err := redisstore.Batched(rdb)
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	s := redisstore.New(bc, redisstore.Options{Prefix: prefix, TailDelay: time.Minute, Now: func() time.Time { return now }})
	for i := from; i <= to; i++ {
		now = time.UnixMilli(clock + int64(i)*1000)
		for _, chat := range []int64{42, -42} {
			update := int64(5000 + i)
			var ver uint64
			var err error
			if i == 17 || i == 18 {
				if _, ver, _, _, err = s.Load(ctx, chat, update); err != nil {
					t.Fatal(err)
				}
			} else {
				if _, ver, _, _, err = s.LoadCounting(ctx, chat, update, 1_000_000, time.Second); err != nil {
					t.Fatal(err)
				}
				if _, _, err := s.Inbound(ctx, chat, update, 1_000_000, time.Second); err != nil {
					t.Fatal(err)
				}
			}
			started := time.UnixMilli(clock)
			if i >= 9 {
				started = time.UnixMilli(clock + 9000)
			}
			rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "uk", LastQuestion: "q" + strconv.Itoa(i%4), Started: started, Expires: now.Add(7 * 24 * time.Hour)}
			if i == 13 || i == 14 || i == 17 || i == 18 {
				rec.Expires = time.Time{}
			}
			switch {
			case i == 1 || i >= 21:
				err = s.Save(ctx, chat, update, ver, ver+1, []byte("state-"+strconv.Itoa(i)), nil)
			case i == 2 || i == 3:
				err = s.SaveWaiting(ctx, chat, update, ver, ver+1, []byte("state-"+strconv.Itoa(i)), nil, "f")
			default:
				err = s.Save(ctx, chat, update, ver, ver+1, []byte("state-"+strconv.Itoa(i)), rec)
			}
			if err != nil {
				t.Fatal(i, err)
			}
			if i != 16 && i != 17 {
				if err := s.MarkSent(ctx, chat, update, 100+i); err != nil {
					t.Fatal(err)
				}
			}
			if i >= 4 {
				if err := s.ArmReminder(ctx, chat, "uk", now.Add(24*time.Hour), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			if i%5 == 0 {
				if err := s.RecordSent(ctx, chat, 100+i); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := s.FlushTails(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, chat := range []int64{42, -42} {
		k := prefix + s.ChatTag(chat)
		for _, suf := range []string{":s", ":a", ":r", ":l"} {
			h := rdb.HGetAll(ctx, k+suf).Val()
			delete(h, "id")
			out[strconv.FormatInt(chat, 10)+suf] = h
		}
		out[strconv.FormatInt(chat, 10)+":u"] = rdb.Get(ctx, k+":u").Val()
		m := rdb.ZRangeWithScores(ctx, k+":m", 0, -1).Val()
		out[strconv.FormatInt(chat, 10)+":m"] = fmt.Sprint(m)
		ttls := []string{}
		for _, suf := range []string{":s", ":a", ":r", ":u", ":m", ":l"} {
			ttls = append(ttls, suf+"="+strconv.FormatBool(rdb.PTTL(ctx, k+suf).Val() > 0))
		}
		sort.Strings(ttls)
		out[strconv.FormatInt(chat, 10)+" ttl set"] = ttls
	}
	b, _ := json.MarshalIndent(out, "", " ")
	fmt.Println(string(b))
}
