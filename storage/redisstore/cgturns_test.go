//go:build shapes

package redisstore_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// TestCallgrindTurns is session 11's measurement (docs/performance.md,
// "Session 11: args"), built only with -tags shapes: the common turn as
// needsbot runs it (TailDelay on: LoadCounting, Inbound, Save with the
// abandonment record naming a new question and its expiry job moving,
// MarkSent with the message id, ArmReminder in the same language), a
// 600-byte state, against a Redis under valgrind --tool=callgrind whose
// pid is NB_CG_PID: the counters are zeroed (callgrind_control -z) before
// the measured turns and dumped (-d) after them.
//
// NB_CHATS chats (100) are each walked NB_WARM turns (3) before the
// counters are zeroed — their first save, the reminder's first arm and
// the language's mirror fall there — then NB_TURNS measured turns each
// (20), round robin: every measured save is a common save (saveFastLua).
// With NB_WARM=0 each chat's first turns are measured too (the mix of a
// walk of NB_TURNS turns). It logs the measured turns' commands per turn
// (INFO commandstats, those inside scripts included).
func TestCallgrindTurns(t *testing.T) {
	clk := newClock()
	s, rdb, _ := newStore(t, redisstore.Options{TailDelay: time.Minute, Now: clk.Now})
	chats, warm, turns := 100, 3, 20
	if n, err := strconv.Atoi(os.Getenv("NB_CHATS")); err == nil && n > 0 {
		chats = n
	}
	if n, err := strconv.Atoi(os.Getenv("NB_WARM")); err == nil && n >= 0 {
		warm = n
	}
	if n, err := strconv.Atoi(os.Getenv("NB_TURNS")); err == nil && n > 0 {
		turns = n
	}
	type chatState struct {
		v   uint64
		rec redisstore.AbandonRecord
	}
	cs := make([]chatState, chats)
	for i := range cs {
		cs[i].rec = redisstore.AbandonRecord{Form: "immigrants", FormVersion: 1, MunicipalityID: 1, Language: "uk", Started: clk.Now()}
	}
	next := int64(1_000_000)
	turn := func(c int) {
		chat := int64(900 + c)
		st := &cs[c]
		update := next
		next++
		now := clk.Now()
		if _, ver, seen, _, err := s.LoadCounting(ctx, chat, update, 1_000_000, time.Second); err != nil || seen != redisstore.SeenNone || ver != st.v {
			t.Fatalf("chat %d update %d: v%d (want %d) %v %v", c, update, ver, st.v, seen, err)
		}
		if ok, _, err := s.Inbound(ctx, chat, update, 1_000_000, time.Second); err != nil || !ok {
			t.Fatal(ok, err)
		}
		st.rec.LastQuestion = "q_" + strconv.FormatInt(update%97, 10)
		st.rec.Expires = now.Add(7 * 24 * time.Hour)
		if err := s.Save(ctx, chat, update, st.v, st.v+1, blob600, &st.rec); err != nil {
			t.Fatal(err)
		}
		st.v++
		if err := s.MarkSent(ctx, chat, update, int(update%100_000)+5000); err != nil {
			t.Fatal(err)
		}
		if err := s.ArmReminder(ctx, chat, "uk", now.Add(24*time.Hour), time.Hour); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Millisecond)
	}
	for range warm {
		for c := range chats {
			turn(c)
		}
	}
	pid := os.Getenv("NB_CG_PID")
	cg := func(flag string) {
		if pid == "" {
			return
		}
		if out, err := exec.Command("callgrind_control", flag, pid).CombinedOutput(); err != nil {
			t.Fatalf("callgrind_control %s: %v %s", flag, err, out)
		}
	}
	stats := func() map[string]float64 {
		info, err := rdb.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]float64{}
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if !strings.HasPrefix(k, "cmdstat_") || k == "cmdstat_info" {
				continue
			}
			c, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			m[strings.TrimPrefix(k, "cmdstat_")], _ = strconv.ParseFloat(c, 64)
		}
		return m
	}
	before := stats()
	cg("-z")
	for range turns {
		for c := range chats {
			turn(c)
		}
	}
	cg("-d")
	n := float64(chats * turns)
	all := 0.0
	for k, v := range stats() {
		if d := v - before[k]; d > 0 {
			all += d
			t.Logf("  %s %.3f per turn", k, d/n)
		}
	}
	t.Logf("commands (those inside scripts included) %.3f per turn", all/n)
	t.Logf("%d turns measured", chats*turns)
}
