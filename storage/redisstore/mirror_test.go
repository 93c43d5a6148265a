package redisstore_test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/redisstore"
)

// monitor watches the test Redis with MONITOR (a connection of its own)
// and collects the commands that scripts call on keys containing tag.
type monitor struct {
	conn  net.Conn
	lines chan string
}

func newMonitor(t *testing.T, rdb *redis.Client) *monitor {
	t.Helper()
	o := rdb.Options()
	conn, err := net.Dial("tcp", o.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rd := bufio.NewReader(conn)
	send := func(words ...string) {
		var b strings.Builder
		b.WriteString("*" + itoa(len(words)) + "\r\n")
		for _, w := range words {
			b.WriteString("$" + itoa(len(w)) + "\r\n" + w + "\r\n")
		}
		if _, err := conn.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
		if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("%s: %q %v", words[0], line, err)
		}
	}
	if o.Password != "" {
		send("AUTH", o.Password)
	}
	send("MONITOR")
	m := &monitor{conn: conn, lines: make(chan string, 1<<16)}
	go func() {
		defer close(m.lines)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			m.lines <- line
		}
	}()
	return m
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// until returns the commands called by scripts ("[<db> lua]") on keys
// containing tag, as "NAME:<key kind>", until a PING carrying marker.
func (m *monitor) until(t *testing.T, rdb *redis.Client, tag, marker string) []string {
	t.Helper()
	if err := rdb.Do(ctx, "ping", marker).Err(); err != nil {
		t.Fatal(err)
	}
	var out []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-m.lines:
			if !ok {
				t.Fatal("monitor closed")
			}
			if strings.Contains(line, marker) {
				return out
			}
			if !strings.Contains(line, " lua] ") || !strings.Contains(line, tag) {
				continue
			}
			f := strings.SplitN(line, "\"", 5)
			if len(f) < 4 {
				continue
			}
			kind := f[3][strings.LastIndex(f[3], ":")+1:]
			out = append(out, f[1]+":"+kind)
		case <-timeout:
			t.Fatal("monitor: marker not seen")
		}
	}
}

// TestSaveFourCalls: a turn that only moves the interview to its next
// question (as needsbot runs it: TailDelay, the count, an abandonment
// record with its expiry job and a reminder pushed back, both moving each
// turn) makes at most four Redis calls in its save script: the state's
// HMGET and HSET, the seen record's APPEND and the abandonment record's
// HSET. The record and the reminder are not read: the state hash mirrors
// what the save before left in them (field a). Before: six (HMGET of the
// record and of the reminder).
func TestSaveFourCalls(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{TailDelay: time.Minute})
	m := newMonitor(t, rdb)
	const chat = 41
	tag := s.ChatTag(chat)
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "uk", Started: time.Now()}
	v := uint64(0)
	turn := func(i int) {
		t.Helper()
		update := int64(500 + i)
		now := time.Now()
		if _, ver, seen, _, err := s.LoadCounting(ctx, chat, update, 100, time.Second); err != nil || seen != redisstore.SeenNone || ver != v {
			t.Fatalf("turn %d: v%d %v %v", i, ver, seen, err)
		}
		if ok, _, err := s.Inbound(ctx, chat, update, 100, time.Second); err != nil || !ok {
			t.Fatal(ok, err)
		}
		rec.LastQuestion = "q" + itoa(i)
		rec.Expires = now.Add(7 * 24 * time.Hour)
		if err := s.Save(ctx, chat, update, v, v+1, []byte("state"), rec); err != nil {
			t.Fatal(err)
		}
		v++
		if err := s.MarkSent(ctx, chat, update, 900+i); err != nil {
			t.Fatal(err)
		}
		if err := s.ArmReminder(ctx, chat, "uk", now.Add(24*time.Hour), time.Hour); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := s.RecordSent(ctx, chat, 900); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 3 { // the record, the reminder and its first check
		turn(i)
	}
	m.until(t, rdb, tag, "warm-"+prefix)
	const turns = 10
	for i := range turns {
		turn(3 + i)
	}
	calls := m.until(t, rdb, tag, "done-"+prefix)
	if got := float64(len(calls)) / turns; got > 4 {
		t.Errorf("%.1f calls per save, want at most 4: %v", got, calls[:min(len(calls), 12)])
	}
	for _, c := range calls {
		if c == "HMGET:a" || c == "HMGET:r" {
			t.Errorf("a save read the record or the reminder: %v", calls[:min(len(calls), 12)])
			break
		}
	}
	// The record and the reminder are as a save that read them leaves them.
	r := rdb.HMGet(ctx, prefix+tag+":a", "st", "xv", "xd").Val()
	if r[0] != itoa64(rec.Started.UnixMilli()) || r[1] != itoa64(int64(v)) || r[2] != itoa64(rec.Expires.UnixMilli()) {
		t.Errorf("record st, xv, xd = %v, want %d, %d, %d", r, rec.Started.UnixMilli(), v, rec.Expires.UnixMilli())
	}
	if st := rdb.HGet(ctx, prefix+tag+":r", "s").Val(); st != "p" {
		t.Errorf("reminder %q, want pending", st)
	}
}

// TestSaveMirrorAfterAnotherWriter: the mirror holds only at the version
// its save wrote. A save of a replica of the release before (which writes
// the record but not the mirror) moves the version on: the next save
// reads the record, and keeps the interview's id that replica wrote.
func TestSaveMirrorAfterAnotherWriter(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t, redisstore.Options{})
	const chat = 42
	key := prefix + s.ChatTag(chat)
	first := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", Started: time.Now().Add(-time.Hour)}
	if err := s.Save(ctx, chat, 1, 0, 1, []byte("state"), first); err != nil {
		t.Fatal(err)
	}
	if a := rdb.HGet(ctx, key+":s", "a").Val(); !strings.HasPrefix(a, "1 "+itoa64(first.Started.UnixMilli())+" ") {
		t.Fatalf("mirror %q", a)
	}
	// The other replica: a new interview (restart) at version 2.
	next := *first
	next.Started = time.Now()
	rdb.HSet(ctx, key+":s", "v", "2", "b", "state2")
	rdb.HSet(ctx, key+":a", "st", itoa64(next.Started.UnixMilli()), "id", "old-replica-id", "r", "{}")
	if err := s.Save(ctx, chat, 3, 2, 3, []byte("state3"), &next); err != nil {
		t.Fatal(err)
	}
	if id := rdb.HGet(ctx, key+":a", "id").Val(); id != "old-replica-id" {
		t.Errorf("record id %q, want the one of the interview's first save (old-replica-id)", id)
	}
	if a := rdb.HGet(ctx, key+":s", "a").Val(); !strings.HasPrefix(a, "3 "+itoa64(next.Started.UnixMilli())+" ") {
		t.Errorf("mirror %q after the save of version 3", a)
	}
}

// TestSaveAfterExpiryDone: DoneJob drops the expiry job from the record
// and the mirror with it: a later save of the same interview arms the job
// again and indexes it, though the replica remembers indexing it.
func TestSaveAfterExpiryDone(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, rdb, prefix := newStore(t, redisstore.Options{Now: clk.Now})
	const chat = 43
	id := s.ChatTag(chat)[3:35]
	rec := &redisstore.AbandonRecord{Form: "f", MunicipalityID: 1, Language: "it", Started: clk.Now()}
	due := clk.Now().Add(time.Hour).Truncate(time.Millisecond)
	rec.Expires = due
	if err := s.Save(ctx, chat, 1, 0, 1, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimJobs(ctx, due, 10, time.Minute)
	if err != nil || len(jobs) != 1 || jobs[0].Kind != redisstore.JobExpire {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if err := s.DoneJob(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
	if n := rdb.ZCard(ctx, prefix+"expire:due").Val(); n != 0 {
		t.Fatalf("%d expiry index members after DoneJob", n)
	}
	rec.Expires = due.Add(time.Minute)
	if err := s.Save(ctx, chat, 2, 1, 2, []byte("state"), rec); err != nil {
		t.Fatal(err)
	}
	if sc, err := rdb.ZScore(ctx, prefix+"expire:due", id).Result(); err != nil || int64(sc) != rec.Expires.UnixMilli() {
		t.Errorf("expiry index after the job was armed again: %v %v", sc, err)
	}
}
