package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// redisDump renders every key under prefix with its value: strings, hash
// fields and values, set and sorted-set members.
func redisDump(t *testing.T, rdb *redis.Client, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, prefix+"*", 200).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var v string
		switch rdb.Type(ctx, k).Val() {
		case "hash":
			for f, x := range rdb.HGetAll(ctx, k).Val() {
				v += f + "=" + x + ";"
			}
		case "zset":
			v = strings.Join(rdb.ZRange(ctx, k, 0, -1).Val(), ";")
		case "set":
			v = strings.Join(rdb.SMembers(ctx, k).Val(), ";")
		case "string":
			v = rdb.Get(ctx, k).Val()
		}
		out[k] = v
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func isHex(s string) bool {
	return strings.Trim(s, "0123456789abcdef") == ""
}

// After a completed interview Redis holds neither the raw Telegram id nor
// any answer: the finished state keeps only what "already answered" needs,
// for a short time.
func TestEndToEndRedisHoldsNoAnswersAfterCompletion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start()
	const id = 5550101
	u := h.tg.User(id, telegramtest.LanguageCode("it"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	r.tap("Italiano")
	r.tap("Sì, accetto")
	r.answerRest("Grazie mille")
	if v := h.count(`SELECT count(*) FROM responses`); v != 1 {
		t.Fatalf("responses: %d", v)
	}
	// Every answer token that could not occur by chance in hex or JSON.
	secrets := []string{strconv.Itoa(id), "Va bene così"}
	rows, err := h.db().Query(context.Background(), `SELECT value FROM answers`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.Fields(v) {
			if len(f) >= 4 && !isHex(f) {
				secrets = append(secrets, f)
			}
		}
	}
	rows.Close()
	if len(secrets) < 5 {
		t.Fatalf("too few answers to look for: %v", secrets)
	}
	rdb := testRedis(t)
	prefix := h.env["NEEDSBOT_REDIS_PREFIX"]
	dump := redisDump(t, rdb, prefix)
	if len(dump) == 0 {
		t.Fatal("nothing in Redis: the test would pass vacuously")
	}
	for k, v := range dump {
		for _, s := range secrets {
			if strings.Contains(k, s) || strings.Contains(v, s) {
				t.Errorf("%q found in Redis key %s", s, k)
			}
		}
	}
	store := redisstore.New(rdb, redisstore.Options{Prefix: prefix, KeySecret: []byte(testPseudonymKey)})
	state := prefix + store.ChatTag(id) + ":s"
	if _, ok := dump[state]; !ok {
		t.Fatalf("no finished state under %s (keys: %v)", state, dump)
	}
	if ttl := rdb.PTTL(context.Background(), state).Val(); ttl <= 0 || ttl > redisstore.DefaultDoneTTL {
		t.Errorf("finished state kept %s, want at most %s", ttl, redisstore.DefaultDoneTTL)
	}
	// "Already answered" still works from what is left.
	r.send("/start")
	if !strings.Contains(u.Last().Text, "Hai già risposto") {
		t.Fatalf("after completion /start says %q", u.Last().Text)
	}
}

// /delete leaves nothing of the respondent: not in Postgres (any table, any
// column), not in Redis (state, abandonment record and index member, outbox
// and dead letters), and the chat's messages are deleted.
func TestEndToEndDeleteLeavesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start()
	const id = 5550102
	ctx := context.Background()
	pseudo := storage.Pseudonym([]byte(testPseudonymKey), id)
	u := h.tg.User(id, telegramtest.LanguageCode("it"))
	r := &respondent{t: t, u: u}
	r.send("/start")
	r.tap("Italiano")
	r.tap("Sì, accetto")
	r.answerRest("Grazie mille")
	if v := h.count(`SELECT count(*) FROM responses WHERE respondent = $1`, pseudo); v != 1 {
		t.Fatalf("responses: %d", v)
	}
	rdb := testRedis(t)
	prefix := h.env["NEEDSBOT_REDIS_PREFIX"]
	store := redisstore.New(rdb, redisstore.Options{Prefix: prefix, KeySecret: []byte(testPseudonymKey)})
	// A completion the system of record rejected for good: a dead letter
	// holding the pseudonym (the bot's own outbox buries it).
	if err := store.EnqueueFor(ctx, "rejected-1", pseudo, []byte(`{"v":1,"id":"x","pseudonym":"`+pseudo+`"}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(slow(15 * time.Second))
	for n, _ := store.DeadLetters(ctx); n != 1; n, _ = store.DeadLetters(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("the outbox did not bury the rejected entry (%d dead letters)", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A second interview, past consent: an abandonment record and its
	// index member.
	r.send("/restart")
	if q := r.question(); len(q.Buttons) == 0 {
		t.Fatalf("no question after /restart:\n%s", u.Transcript())
	}
	for _, l := range []string{"Italiano", "Sì, accetto"} {
		if pick(r.question().Labels(), l) != "" {
			r.tap(l)
		}
	}
	tag := store.ChatTag(id)
	if members := rdb.ZRange(ctx, prefix+"abandon:due", 0, -1).Val(); len(members) != 1 || !strings.HasPrefix(members[0], tag[3:len(tag)-1]+":") {
		t.Fatalf("abandonment index: %v, want one member of %s", members, tag)
	}
	// One live question card: a whole interview leaves few messages (the
	// card is edited), still enough to see them deleted.
	if len(u.Messages()) < 5 {
		t.Fatalf("too few messages to see deletion:\n%s", u.Transcript())
	}

	r.send("/delete")
	r.tap("Sì, cancella")

	// Postgres: the pseudonym in no column of any table.
	db := h.db()
	cols, err := db.Query(ctx, `SELECT table_schema, table_name, column_name FROM information_schema.columns
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
		  AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')`)
	if err != nil {
		t.Fatal(err)
	}
	var targets [][3]string
	for cols.Next() {
		var c [3]string
		if err := cols.Scan(&c[0], &c[1], &c[2]); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, c)
	}
	cols.Close()
	if len(targets) < 20 {
		t.Fatalf("only %d columns found", len(targets))
	}
	for _, c := range targets {
		q := `SELECT count(*) FROM "` + c[0] + `"."` + c[1] + `" WHERE "` + c[2] + `"::text LIKE '%' || $1 || '%'`
		var n int
		if err := db.QueryRow(ctx, q, pseudo[:24]).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != 0 {
			t.Errorf("pseudonym left in %s.%s.%s", c[0], c[1], c[2])
		}
	}
	if n := h.count(`SELECT count(*) FROM responses`); n != 0 {
		t.Errorf("%d responses left", n)
	}
	// Redis: only the seen update ids (no answers) stay for this chat.
	for k, v := range redisDump(t, rdb, prefix) {
		if strings.Contains(k, tag) && !strings.HasSuffix(k, ":u") {
			t.Errorf("key left after /delete: %s", k)
		}
		if strings.Contains(v, tag[3:len(tag)-1]) || strings.Contains(v, pseudo) || strings.Contains(v, strconv.Itoa(id)) {
			t.Errorf("respondent's data left in %s = %s", k, v)
		}
	}
	if n, _ := store.DeadLetters(ctx); n != 0 {
		t.Errorf("%d dead letters left", n)
	}
	// Telegram: the chat's messages are gone; what is left says so.
	if left := u.Messages(); len(left) != 2 || !strings.Contains(left[1].Text, "48 ore") {
		t.Fatalf("after /delete the chat shows:\n%s", u.Transcript())
	}
	for _, v := range h.tg.Violations() {
		t.Errorf("violation: %+v", v)
	}
}
