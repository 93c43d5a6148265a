package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage"
)

// ErrConflict is returned by Save when the chat's state is no longer at the
// expected version: another writer saved first. The caller reloads and steps
// again. A Save retried after its reply was lost also gets ErrConflict; the
// reload then reports the update as SeenApplied.
var ErrConflict = errors.New("redisstore: state version conflict")

// Seen says how far an update id was already handled.
type Seen uint8

// Seen states.
const (
	SeenNone    Seen = iota // not seen in the last SeenTTL
	SeenApplied             // its effect was saved; its replies were not confirmed sent
	SeenSent                // fully handled: effect saved and replies sent
)

// String returns "none", "applied" or "sent".
func (s Seen) String() string {
	switch s {
	case SeenNone:
		return "none"
	case SeenApplied:
		return "applied"
	case SeenSent:
		return "sent"
	}
	return "Seen(" + strconv.Itoa(int(s)) + ")"
}

// Defaults for Options.
const (
	DefaultStateTTL     = 30 * 24 * time.Hour
	DefaultSeenTTL      = 24 * time.Hour
	DefaultAbandonGrace = 7 * 24 * time.Hour
	DefaultDoneTTL      = 24 * time.Hour
	DefaultDeadTTL      = 7 * 24 * time.Hour
	// SentTTL is how long the ids of messages sent to a chat are kept:
	// Telegram lets a bot delete its messages for 48 hours.
	SentTTL = 48 * time.Hour
)

// sentMax caps the message ids kept per chat.
const sentMax = 200

// seenMax caps the seen ids kept per chat, whatever their age: a flood of
// updates cannot grow the record without bound. Older ids are reported
// SeenSent (seen.go).
const seenMax = 1000

// Options configure a Store. Zero values take the defaults.
type Options struct {
	// Prefix starts every key, e.g. "needsbot:". It must not contain '{'
	// or '}': the first {…} of a key is its Cluster hash tag.
	Prefix string
	// StateTTL is how long an idle interview state is kept (30 days).
	StateTTL time.Duration
	// SeenTTL is how long update ids are remembered (24 h).
	SeenTTL time.Duration
	// AbandonGrace is how long, after its state expired, an abandonment
	// record waits for DueAbandoned (7 days) before it is lost.
	AbandonGrace time.Duration
	// DoneTTL is how long the state of a finished interview (completed or
	// declined; only what "already answered" needs) is kept (24 h).
	DoneTTL time.Duration
	// DeadTTL is how long an outbox entry rejected for good is kept for
	// inspection (7 days).
	DeadTTL time.Duration
	// KeySecret keys the derivation of the per-chat part of every key
	// (HMAC-SHA256 of the chat id, domain "redis"): no key holds a raw
	// Telegram id. Use the pseudonym key; without it the derivation is
	// unkeyed (tests).
	KeySecret []byte
	// Now is the clock (time.Now).
	Now func() time.Time
	// TailDelay, when positive, defers the writes that follow a saved
	// turn — MarkSent, ArmReminder, RecordSent — to the chat's next Save
	// (same script, same round trip) or, after TailDelay, to RunTails
	// (tail.go). Zero writes them at once.
	TailDelay time.Duration
}

// Store is the Redis side of needsbot. It is safe for concurrent use.
type Store struct {
	rdb          redis.UniversalClient
	prefix       string
	stateTTL     time.Duration
	seenTTL      time.Duration
	abandonGrace time.Duration
	doneTTL      time.Duration
	deadTTL      time.Duration
	secret       []byte
	now          func() time.Time
	limiter      *redis_rate.Limiter
	tailDelay    time.Duration

	mu    sync.Mutex
	tails map[int64]*tail      // deferred tails by chat (tail.go)
	book  tailBook             // what putBack must know of drops (tail.go)
	pre   map[int64]prefetched // chats read by Inbound for their Load
	// verdicts: inbound counts made by LoadCounting for their Inbound
	verdicts map[int64]verdict
	// counts: inbound counts made by LoadCounting for their Save
	counts map[int64]pendingCount
	// reads: what each chat's last read (or this replica's last save)
	// found of the state and the seen record (chatRead): the Save appends
	// to a record whose TTL is fresh instead of rewriting it
	// (saveScript), and decides a common save (saveCommonScript).
	reads map[int64]chatRead
	// warm: what this replica's common saves left of each active chat,
	// for its next Load (warm.go); warmBytes their size, wbook their
	// drops.
	warm      map[int64]*warmChat
	warmBytes int
	wbook     tailBook

	indexed map[int64]indexMark // interviews this replica indexed (save)
	// remindHints and expireHints: reminder and expiry index members this
	// replica added (schedule.go, jobs.go).
	remindHints map[int64]int64
	// armed: the reminder this replica last wrote per chat (armSkip).
	armed       map[int64]armMark
	expireHints map[int64]expireHint

	// chatIDs caches chatID (an HMAC per call, several calls per update):
	// chat → derived id, emptied when it passes maxChatIDs entries.
	chatIDs  sync.Map
	nChatIDs atomic.Int64
}

// maxChatIDs bounds the chatID cache (about 100 bytes an entry).
const maxChatIDs = 1 << 16

// New returns a Store over rdb (a client, cluster client or ring). It
// panics if opts.Prefix contains a brace, which would break the per-chat
// hash tags.
func New(rdb redis.UniversalClient, opts Options) *Store {
	if strings.ContainsAny(opts.Prefix, "{}") {
		panic("redisstore: Options.Prefix must not contain '{' or '}': " + opts.Prefix)
	}
	s := &Store{
		rdb:          rdb,
		prefix:       opts.Prefix,
		stateTTL:     cmpOr(opts.StateTTL, DefaultStateTTL),
		seenTTL:      cmpOr(opts.SeenTTL, DefaultSeenTTL),
		abandonGrace: cmpOr(opts.AbandonGrace, DefaultAbandonGrace),
		doneTTL:      cmpOr(opts.DoneTTL, DefaultDoneTTL),
		deadTTL:      cmpOr(opts.DeadTTL, DefaultDeadTTL),
		secret:       opts.KeySecret,
		now:          opts.Now,
		limiter:      redis_rate.NewLimiter(rdb),
		tailDelay:    opts.TailDelay,
		tails:        map[int64]*tail{},
		pre:          map[int64]prefetched{},
		verdicts:     map[int64]verdict{},
		counts:       map[int64]pendingCount{},
		reads:        map[int64]chatRead{},
		warm:         map[int64]*warmChat{},
		indexed:      map[int64]indexMark{},
		remindHints:  map[int64]int64{},
		armed:        map[int64]armMark{},
		expireHints:  map[int64]expireHint{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// chatID is the per-chat part of keys: 128 bits of HMAC(secret,
// "redis|"+chat) in hex, never the chat id itself.
func (s *Store) chatID(chat int64) string {
	if id, ok := s.chatIDs.Load(chat); ok {
		return id.(string)
	}
	id := storage.Keyed(s.secret, "redis", chat)[:32]
	if s.nChatIDs.Add(1) > maxChatIDs {
		s.chatIDs.Clear()
		s.nChatIDs.Store(1)
	}
	s.chatIDs.Store(chat, id)
	return id
}

// ChatTag returns the hash tag "{c:<derived id>}" of a chat's keys: each
// of them is <prefix><tag>:<kind>. For tests and operators' tools.
func (s *Store) ChatTag(chat int64) string { return "{c:" + s.chatID(chat) + "}" }

// tagKey returns <prefix>{c:<id>}:<kind> for a derived chat id.
func (s *Store) tagKey(id string, kind byte) string {
	return s.prefix + "{c:" + id + "}:" + string(kind)
}

func (s *Store) chatKey(chat int64, kind byte) string { return s.tagKey(s.chatID(chat), kind) }

// chatKeysInto fills keys (len(kinds) of them, e.g. an argv's) with the
// chat's keys of the given kinds, in their order, as chatKey makes them:
// one string allocation for all (a turn builds eleven keys otherwise).
func (s *Store) chatKeysInto(keys []string, chat int64, kinds string) []string {
	id := s.chatID(chat)
	n := len(s.prefix) + len(id) + len("{c:}:") + 1
	buf := make([]byte, 0, n*len(kinds))
	for i := range len(kinds) {
		buf = append(append(append(append(buf, s.prefix...), "{c:"...), id...), "}:"...)
		buf = append(buf, kinds[i])
	}
	all := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is not written again
	for i := range keys {
		keys[i] = all[i*n : (i+1)*n]
	}
	return keys
}

// The kinds of the keys of a turn's read (readChat: state, seen record,
// reminder, sent ids) and of its Save (saveScript's KEYS, in order).
const (
	readKinds = "surm"
	saveKinds = "sualcrm" // state, seen, abandonment record, language choice, completions, reminder, sent ids
)

func (s *Store) stateKey(chat int64) string   { return s.chatKey(chat, 's') }
func (s *Store) seenKey(chat int64) string    { return s.chatKey(chat, 'u') }
func (s *Store) abandonKey(chat int64) string { return s.chatKey(chat, 'a') }
func (s *Store) sentKey(chat int64) string    { return s.chatKey(chat, 'm') }
func (s *Store) dueKey() string               { return s.prefix + "abandon:due" }

// Load returns the chat's state blob and version (nil, 0 when there is
// none), whether updateID was already seen, and the message id last
// recorded by MarkSent for this state (0 when none), in one round trip of
// plain commands (no script), or none after this replica's common save of
// the chat, for an update newer than the chat's seen ones (warm.go; with
// TailDelay only). The chat's deferred tail (tail.go) waits for
// its next Save; the read takes it into account (an update marked sent in
// it is SeenSent, its mark's message id is returned). Right after Inbound
// for the same chat it makes no round trip: Inbound's script read the chat
// already (see Inbound).
func (s *Store) Load(ctx context.Context, chat, updateID int64) (blob []byte, version uint64, seen Seen, lastMsg int, err error) {
	now := s.now()
	if res, ok := s.takePrefetch(chat, now); ok {
		return s.finishLoad(chat, updateID, now, res)
	}
	res, _, err := s.plainRead(ctx, chat, updateID)
	if err != nil {
		return nil, 0, SeenNone, 0, fmt.Errorf("redisstore: load: %w", err)
	}
	return s.finishLoad(chat, updateID, now, res)
}

// plainRead reads the chat without a script (readChat): the deferred tail
// stays pending for the chat's next Save (tail.go); the read returns its
// mark's message id when the state is at the mark's version. After this
// replica's common save of the chat it makes no round trip: the chat is
// as that save left it (warm.go).
func (s *Store) plainRead(ctx context.Context, chat, update int64) (chatReply, limState, error) {
	mark, _ := s.peekTail(chat, update)
	if head, recLen, vals, ok := s.warmTake(chat, update, s.now()); ok {
		// The record's header stands for it: update is in none of its
		// entries (warmTake).
		s.noteReadLen(chat, head, recLen, vals[:])
		return replyOf(mark, head, vals[:]), limOf(vals[:]), nil
	}
	_, res, lim, err := s.readChat(ctx, chat, mark, nil, 0, nil, s.warmStart())
	return res, lim, err
}

func (s *Store) finishLoad(chat, updateID int64, now time.Time, res chatReply) (blob []byte, version uint64, seen Seen, lastMsg int, err error) {
	var rec string
	rec, blob, version, lastMsg, err = parseLoad(res)
	if err != nil {
		return nil, 0, SeenNone, 0, err
	}
	s.noteVersion(chat, version)
	seen = seenOf(rec, updateID, now, s.seenTTL)
	if !s.deferring() {
		// A mark kept after its write failed (keepFailed), not yet
		// written again (RunTails, every keptRetry): a redelivery
		// meanwhile is dropped as the written mark would have it, and
		// the live card is the kept one unless the state shows a newer
		// one (as keptScript writes it).
		sent, msg := s.keptMark(chat, updateID)
		if sent {
			seen = SeenSent
		}
		if version != 0 && msg > lastMsg {
			lastMsg = msg
		}
		return blob, version, seen, lastMsg, nil
	}
	if seen != SeenSent {
		// Marked sent in the tail that waits for the chat's next Save.
		if s.markedSent(chat, updateID) {
			seen = SeenSent
		}
	}
	return blob, version, seen, lastMsg, nil
}

// readChat reads the chat (see scripts.go): the state's HMGET, then sc
// with args (nil: a plain GET of the seen record), in one round trip, with
// the reminder index's ZADD when the tail's arm needs one. The seen record
// is element at of sc's reply. It returns sc's reply (nil without sc),
// the chat (chatReply; its message id the tail's mark's when the state
// read is at the mark's version: the next Save writes it there, markFor)
// and the inbound limit's state (LoadCounting's). A plain read begun at
// warm generation gen (not 0: warmStart) is kept as the basis of the
// chat's next common save (warm.go).
func (s *Store) readChat(ctx context.Context, chat int64, t *tail, sc *redis.Script, at int, args []any, gen uint64) (reply []any, res chatReply, lim limState, err error) {
	zadd := t != nil && t.arm && !s.remindHinted(chat, t.due)
	keys, st, get, cmd, perr := s.readCmds(ctx, chat, t, sc, args, zadd)
	vals, err := st.Result()
	if err != nil {
		return nil, res, lim, err
	}
	var rec string
	if sc == nil {
		rec, err = get.Result()
		if errors.Is(err, redis.Nil) {
			rec, err = "", nil
		} else if err != nil && redis.HasErrorPrefix(err, "WRONGTYPE") {
			// A record of the format before the string: the script
			// converts it (seenLua).
			gen = 0
			var r []any
			r, err = loadTailScript.Run(ctx, s.rdb, keys, s.commonArgs(s.now())...).Slice()
			if err == nil && len(r) > 0 {
				rec, _ = r[0].(string)
			}
		}
		if err != nil {
			return nil, res, lim, err
		}
	} else {
		if reply, err = cmd.Slice(); err != nil {
			return nil, res, lim, err
		}
		if len(reply) <= at {
			return nil, res, lim, fmt.Errorf("unexpected reply of %d elements", len(reply))
		}
		var ok bool
		if rec, ok = reply[at].(string); !ok {
			return nil, res, lim, fmt.Errorf("unexpected reply (element %d %T)", at, reply[at])
		}
		if _, err := s.afterArm(ctx, chat, t, zadd, reply[at:]); err != nil {
			return nil, res, lim, err
		}
	}
	if perr != nil && zadd {
		// Only the index's ZADD can have failed.
		return nil, res, lim, fmt.Errorf("reminder index: %w", perr)
	}
	if len(vals) != 9 {
		return nil, res, lim, fmt.Errorf("unexpected state reply of %d elements", len(vals))
	}
	s.noteRead(chat, rec, vals)
	if sc == nil {
		s.warmNote(chat, gen, rec, vals)
	}
	return reply, replyOf(t, rec, vals), limOf(vals), nil
}

// limOf is the inbound limit's state in a read's vals (hmgetState's).
func limOf(vals []string) (lim limState) {
	for i, v := range vals[3:6] {
		if v != "" {
			lim[i], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return lim
}

// replyOf is the chat as read: the seen record rec and the state's vals
// (hmgetState's), with the message id of the tail t's mark when the state
// is at the mark's version.
func replyOf(t *tail, rec string, vals []string) chatReply {
	if vals[0] == "" {
		return chatReply{rec: rec}
	}
	// The message id as read unless it is empty or the mark's.
	m := vals[2]
	if m == "" {
		m = "0"
	}
	if t != nil && t.hasMark && parseVersion(vals[0]) == t.markV {
		m = strconv.Itoa(t.lastMsg)
	}
	return chatReply{rec: rec, v: vals[0], b: vals[1], m: m}
}

// readCmds sends readChat's commands. Their arguments are in one argv
// (client.go): HMGet and Get box the key and each field anew (9
// allocations and their slices). The usual read (no script, no ZADD) is a
// pipeline of its own, without pipelined's closures (whose captured
// variables are allocated too).
func (s *Store) readCmds(ctx context.Context, chat int64, t *tail, sc *redis.Script, args []any, zadd bool) (keys []string, st *redis.StringSliceCmd, get *redis.StringCmd, cmd *redis.Cmd, err error) {
	v := newReadArgv()
	keys = s.chatKeysInto(v.keys(len(readKinds)), chat, readKinds)
	if sc == nil && !zadd {
		p := s.rdb.Pipeline()
		st = hmgetState(ctx, v, &keys[0])
		get = getString(ctx, v, &keys[1])
		_ = p.Process(ctx, st)
		_ = p.Process(ctx, get)
		_, err = p.Exec(ctx)
		return keys, st, get, nil, err
	}
	var (
		pst  *redis.StringSliceCmd
		pget *redis.StringCmd
		pcmd *redis.Cmd
	)
	err = s.pipelined(ctx, func(p redis.Pipeliner, run runFunc) {
		pst = hmgetState(ctx, v, &keys[0])
		_ = p.Process(ctx, pst)
		if sc == nil {
			pget = getString(ctx, v, &keys[1])
			_ = p.Process(ctx, pget)
		} else {
			pcmd = run(sc, keys, args...)
		}
		if zadd {
			// The index is a hint in another slot (see ArmReminder).
			p.ZAdd(ctx, s.remindDueKey(), redis.Z{Score: float64(t.due), Member: s.chatID(chat)})
		}
	})
	return keys, pst, pget, pcmd, err
}

// hmgetState is HMGet(key, "v", "b", "m", "t", "h", "o", "a", "e", "l")
// with its arguments in v: the state, its message id, the inbound limit's
// state (limState), and what the Save decides a common save by (the
// mirror a, the state's expiry e, the language choice l: chatRead). Its
// reply is read as strings ("" for a field that is not there: none of
// them is ever empty), not as HMGet's []any: each string made an any was
// an allocation more (session 12: 8 per read). (Do with constant fields,
// which reads it as a Cmd, raised the bot's peak RSS by 1.3–1.9 MiB in 5
// of 5 load-test pairs, session 7.)
func hmgetState(ctx context.Context, v *argv, key *string) *redis.StringSliceCmd {
	at := len(v.a)
	v.lit("hmget")
	v.key(key)
	v.lit("v")
	v.lit("b")
	v.lit("m")
	v.lit("t")
	v.lit("h")
	v.lit("o")
	v.lit("a")
	v.lit("e")
	v.lit("l")
	return redis.NewStringSliceCmd(ctx, v.cut(at)...)
}

// getString is Get(key) with its arguments in v.
func getString(ctx context.Context, v *argv, key *string) *redis.StringCmd {
	at := len(v.a)
	v.lit("get")
	v.key(key)
	return redis.NewStringCmd(ctx, v.cut(at)...)
}

// limState is the inbound limit's state kept in the state hash (t, h, o:
// theoretical arrival time in ms, the highest update id counted, told
// until, ms), as a read returns it after the chat (readChat): written by
// the Save of a counted update (saveScript) and by a first refusal
// (LoadCounting). The seen record's header holds the same for
// Store.Inbound's script and replicas of sessions 4–5; a count takes the
// larger of both.
type limState [3]int64

// chatReply is a chat as a read returns it (readChat): the seen record
// ("" = none) and, when there is a state (v not ""), its version, blob
// and message id, as strings of the reply (in a []any each was one
// allocation more: session 12).
type chatReply struct{ rec, v, b, m string }

// parseLoad reads a chat's read. Its errors describe the reply's shape,
// never its content: the blob holds answers, and errors end up in logs.
func parseLoad(res chatReply) (seenRec string, blob []byte, version uint64, lastMsg int, err error) {
	seenRec = res.rec
	if res.v == "" {
		return seenRec, nil, 0, 0, nil
	}
	v, b, m := res.v, res.b, res.m
	version, err = strconv.ParseUint(v, 10, 64)
	if err != nil {
		return "", nil, 0, 0, fmt.Errorf("redisstore: load: bad version (%d bytes)", len(v))
	}
	lastMsg, err = strconv.Atoi(m)
	if err != nil {
		return "", nil, 0, 0, fmt.Errorf("redisstore: load: bad message id (%d bytes)", len(m))
	}
	return seenRec, ownBytes(b), version, lastMsg, nil
}

// ownBytes returns the bytes of b, a string of a reply that nothing else
// holds (go-redis reads each bulk string into a buffer of its own,
// proto.Reader.readStringReply, and the store uses no client-side cache;
// the reply's elements are read once: a prefetched read is taken by one
// Load), without copying them: the state's record, the largest
// allocation of a turn's read (~600 B), was copied from the reply's
// string into a []byte here and then aliased by dialog.DecodeOwned (issue
// 19). The caller owns the slice as it owned a copy: nothing else reads b.
func ownBytes(b string) []byte {
	if b == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(b), len(b))
}

// parseVersion reads a state version as HMGET returns it, 0 when it is not
// one (versions start at 1).
func parseVersion(v string) uint64 {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// AbandonRecord is what is kept, next to an interview past consent, so that
// it can be counted if abandoned: never answers, never the respondent.
type AbandonRecord struct {
	Form           string    `json:"f"`
	FormVersion    int       `json:"fv"`
	MunicipalityID int64     `json:"m"`
	ServiceID      *int64    `json:"s,omitempty"`
	Language       string    `json:"l"`
	LastQuestion   string    `json:"q"` // furthest question reached
	Started        time.Time `json:"t"` // identifies the interview within the chat
	// Reminded and Resumed: the reminder was sent; the respondent came
	// back after it (the reminder funnel, issue 16).
	Reminded bool `json:"rm,omitempty"`
	Resumed  bool `json:"rs,omitempty"`
	// Expires, when set, arms the interview's expiry job (jobs.go) in the
	// same script as the save; it is not part of the record.
	Expires time.Time `json:"-"`
}

// Save stores blob as version newVersion of the chat's state if the stored
// version is still expect (0 = no state), refreshing its TTL, and marks
// updateID applied (updateID 0 marks nothing), atomically. It returns
// ErrConflict, changing nothing, when the version differs.
//
// rec is the interview's abandonment record when it has reached past
// consent; nil deletes the chat's record (before consent, and at
// completion). Save is one round trip: a script, pipelined with the
// abandonment index update when rec is set.
func (s *Store) Save(ctx context.Context, chat, updateID int64, expect, newVersion uint64, blob []byte, rec *AbandonRecord) error {
	return s.save(ctx, chat, updateID, expect, newVersion, blob, rec, s.stateTTL, "", nil)
}

// SaveWaiting is Save for a state that waits at the language choice of
// form ("" = at none): in the same round trip the chat is recorded and
// indexed as waiting there (published.go); when a later save leaves the
// choice, the record goes in the save script and the index member right
// after it (another slot: one ZREM per interview).
func (s *Store) SaveWaiting(ctx context.Context, chat, updateID int64, expect, newVersion uint64, blob []byte, rec *AbandonRecord, form string) error {
	return s.save(ctx, chat, updateID, expect, newVersion, blob, rec, s.stateTTL, form, nil)
}

// SaveDone is Save for the state of a finished interview: it is kept only
// DoneTTL (what "already answered" and dedup need), and it never has an
// abandonment record.
func (s *Store) SaveDone(ctx context.Context, chat, updateID int64, expect, newVersion uint64, blob []byte) error {
	return s.save(ctx, chat, updateID, expect, newVersion, blob, nil, s.doneTTL, "", nil)
}

func (s *Store) save(ctx context.Context, chat, updateID int64, expect, newVersion uint64, blob []byte, rec *AbandonRecord, ttl time.Duration, waitForm string, cp *savedCompletion) error {
	if newVersion <= expect {
		return fmt.Errorf("redisstore: save: new version %d not after %d", newVersion, expect)
	}
	if len(blob) == 0 {
		return errors.New("redisstore: save: empty state")
	}
	now := s.now()
	nowMS := now.UnixMilli()
	var recJSON []byte
	var started string
	if rec != nil {
		if rec.Started.IsZero() {
			return errors.New("redisstore: save: abandonment record without start")
		}
		var err error
		if recJSON, err = json.Marshal(rec); err != nil {
			return fmt.Errorf("redisstore: save: %w", err)
		}
		started = strconv.FormatInt(rec.Started.UnixMilli(), 10)
	}
	expDue := int64(0)
	if rec != nil && !rec.Expires.IsZero() {
		// The expiry job (jobs.go) rides in the record: the state is kept
		// ExpireGrace past its due time, so that the job finds it.
		expDue = rec.Expires.UnixMilli()
		ttl = max(ttl, rec.Expires.Sub(now)+ExpireGrace)
	}
	recTTL := max(s.stateTTL, ttl) + s.abandonGrace
	stateExp, recExp := now.Add(ttl).UnixMilli(), now.Add(recTTL).UnixMilli()
	// The chat's deferred tail (tail.go), and the message id of its mark
	// when it belongs to the state this save replaces: written with the
	// state.
	t, mark := s.takeTailForSave(chat, expect)
	// What this replica knows of the chat as Redis holds it (warm.go):
	// a common save updates it, any other drops it.
	wb := s.warmBasis(chat)
	count := s.takeCount(chat, now)
	cpArg := ""
	if cp != nil {
		cpArg = strconv.Itoa(len(cp.key)) + ":" + cp.key + cp.entry
	}
	// The keys and arguments in one argv (client.go). A key only when
	// the save may need it (each key or argument of a script costs Redis
	// ~1.5-2k instructions, session 11): the state, the seen record and
	// the abandonment record always; the language-choice record, the
	// completions, the reminder and the sent ids up to the last that Go
	// knows the save needs. A save whose rest needs a key not given (it
	// leaves a language choice, or checks a reminder the mirror does not
	// know) is refused before it writes anything and sent again with all
	// seven (saveKeysAll).
	nkeys := 3
	switch {
	case t != nil && len(t.sent) > 0:
		nkeys = 7
	case t != nil && t.arm && !t.armCheck:
		nkeys = 6
	case cp != nil:
		nkeys = 5
	case waitForm != "":
		nkeys = 4
	}
	arm := ""
	if t != nil {
		arm = armArg(t)
	}
	rd := s.readOf(chat)
	var opt [4]string
	if n := s.seenPXAfterMS(now); (cp != nil || count != "" || t != nil) && !s.seenFresh(rd, n) {
		// The seen record is appended to, not rewritten, when its TTL
		// was set less than the slack ago ("" instead of pxafter), and
		// by a save without tail, count or completion (whose read, if
		// any, did not tell).
		opt[0] = strconv.FormatInt(n, 10)
	}
	opt[1], opt[2] = waitForm, cpArg
	if t != nil {
		opt[3] = sentArg(t, now)
	}
	last := len(opt) - 1
	for last >= 0 && opt[last] == "" {
		last--
	}
	stateLow, recLow := stateExp-ttlSlack(ttl).Milliseconds(), recExp-ttlSlack(recTTL).Milliseconds()
	// A common save, decided from the chat's read (decideCommon): sent
	// to saveCommonScript with what it writes made here. Any other, and
	// one whose read the script finds out of date, to saveScript.
	var cs commonSave
	var v *argv
	if last < 0 {
		v, cs = s.commonCall(chat, rd, expect, newVersion, started, stateExp, stateLow, recExp, recLow, expDue, t, updateID, blob, recJSON, mark, count)
	}
	// full is saveScript's call.
	full := func() *argv {
		seldom, seen := seldomArg(ttl.Milliseconds(), nowMS, s.seenTTL.Milliseconds(), recTTL.Milliseconds(), rec != nil, chat, t, updateID)
		v := newSaveArgv()
		v.script(saveScript, nkeys)
		keys := s.chatKeysInto(v.keys(nkeys), chat, saveKinds[:nkeys])
		for i := range keys {
			v.key(&keys[i])
		}
		// saveScript's arguments (its comment): those of a common save
		// first, the 15th read only when needed, 16-19 only up to the
		// last that is not empty.
		v.int(int64(expect))
		v.int(int64(newVersion))
		v.bytes(blob)
		v.str(seen)
		v.int(stateExp)
		v.int(stateLow)
		v.bytes(recJSON)
		v.str(started)
		v.int(recExp)
		v.int(recLow)
		if expDue != 0 {
			v.int(expDue)
		} else {
			v.lit("")
		}
		v.str(mark)
		v.str(count)
		v.str(arm)
		v.str(seldom)
		for _, a := range opt[:last+1] {
			v.str(a)
		}
		return v
	}
	sc := saveCommonScript
	if !cs.ok {
		sc, v = saveScript, full()
	}
	var res *redis.Cmd
	zadd := rec != nil && !s.indexedAlready(chat, started, now)
	xadd := expDue != 0 && !s.expireHinted(chat, started, expDue)
	radd := t != nil && t.arm && !s.remindHinted(chat, t.due)
	if !zadd && !xadd && !radd && waitForm == "" && cp == nil {
		res = s.evalScript(ctx, sc, v)
	} else {
		// Copies never assigned again: the closure captures them by
		// value (v and sc, assigned again, would be moved to the heap).
		pv, psc := v, sc
		err := s.pipelined(ctx, func(p redis.Pipeliner, run runFunc) {
			if cp != nil {
				// The completion's index member, another slot: sent
				// BEFORE the script, so that a completion saved is
				// indexed whatever becomes of this replica after
				// (outbox.go). For a save that conflicts it is a hint
				// the drainer finds empty and drops.
				p.ZAdd(ctx, s.completedIndex(), redis.Z{Score: float64(nowMS), Member: s.chatID(chat)})
			}
			res = run(psc, nil, pv)
			// The index lives in another slot, so it cannot be in the
			// script. A ZADD for a Save that conflicts is harmless:
			// DueAbandoned re-checks every member.
			if zadd {
				p.ZAdd(ctx, s.dueKey(), redis.Z{
					Score:  float64(now.Add(ttl).UnixMilli()),
					Member: s.chatID(chat) + ":" + started,
				})
			}
			// The expiry job's member, when this replica does not know
			// it is there with an earlier (or the same) due time (jobs.go).
			if xadd {
				p.ZAdd(ctx, s.expireDueKey(), redis.Z{Score: float64(expDue), Member: s.chatID(chat)})
			}
			// The language-choice index, another slot: a hint checked
			// against the record (ForEachWaiting), so a ZADD for a save
			// that conflicts is harmless too.
			if waitForm != "" {
				p.ZAdd(ctx, s.waitIndexKey(waitForm), redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: s.chatID(chat)})
			}
			// The reminder's index, when the tail arms it and this
			// replica does not know the member is there (schedule.go).
			if radd {
				p.ZAdd(ctx, s.remindDueKey(), redis.Z{Score: float64(t.due), Member: s.chatID(chat)})
			}
		})
		if err != nil && res.Err() == nil {
			return fmt.Errorf("redisstore: save: abandonment index: %w", err)
		}
	}
	var reply saveReply
	var err error
	if cs.ok {
		reply, err = parseCommonReply(res, cs.idx)
		if err == nil && reply.missed {
			// The state or the seen record is not what the read found:
			// nothing was written; the whole save decides.
			cs.ok = false
			v = full()
			res = s.evalScript(ctx, saveScript, v)
		}
	}
	if !cs.ok {
		reply, err = parseSaveReply(res)
	}
	if err == nil && reply.keys && nkeys < len(saveKinds) {
		// Refused for a key not given, nothing written: again with all.
		reply, err = parseSaveReply(s.evalScript(ctx, saveScript, s.saveAllKeys(v, chat)))
	}
	if err == nil && reply.keys {
		err = errors.New("refused for a key with all keys given")
	}
	if err != nil {
		s.warmDrop(chat)
		s.putBack(chat, t, mark != "")
		return fmt.Errorf("redisstore: save: %w", err)
	}
	// The state and seen record as this save left them (warm.go): known
	// after a common save, not after any other.
	if reply.saved && cs.ok {
		s.warmSaved(chat, wb, expect, newVersion, blob, &cs, mark, count, reply.recLen)
	} else {
		s.warmDrop(chat)
	}
	// The tail was written whatever became of the state.
	if t != nil && t.arm {
		s.noteArmed(chat, t)
		flag := reply.ridx
		if flag == 1 && !radd {
			if err := s.rdb.ZAdd(ctx, s.remindDueKey(), redis.Z{Score: float64(t.due), Member: s.chatID(chat)}).Err(); err != nil {
				return fmt.Errorf("redisstore: save: reminder index: %w", err)
			}
		}
		if flag == 1 || radd {
			s.noteRemindHint(chat, t.due)
		}
	}
	if !reply.saved {
		return ErrConflict
	}
	if left := reply.left; left != "" {
		// The language choice is over: its index member is a link to
		// the chat that nothing needs any more (erasure must not find
		// it either). Once per interview.
		if err := s.rdb.ZRem(ctx, s.waitIndexKey(left), s.chatID(chat)).Err(); err != nil {
			return fmt.Errorf("redisstore: save: language-choice index: %w", err)
		}
	}
	s.noteVersion(chat, newVersion)
	if cs.ok {
		s.noteSaved(chat, newVersion, cs.mirror, cs.grown)
	} else {
		s.noteSaved(chat, newVersion, "", 0)
	}
	// A read by Inbound that no Load took is older than this save.
	s.takePrefetch(chat, now)
	s.noteIndexed(chat, started, now, zadd)
	if reply.idx == 1 && !xadd {
		// Armed anew (by another replica's knowledge, or after DoneJob
		// dropped the member): the member must be there.
		if err := s.rdb.ZAdd(ctx, s.expireDueKey(), redis.Z{Score: float64(expDue), Member: s.chatID(chat)}).Err(); err != nil {
			return fmt.Errorf("redisstore: save: expiry index: %w", err)
		}
		xadd = true
	}
	s.noteExpireHint(chat, started, expDue, xadd)
	if old := reply.old; old != "" {
		// The interview that record described is over (completed,
		// declined, restarted): its index member goes now, not when
		// DueAbandoned finds it stale a state lifetime later.
		if err := s.rdb.ZRem(ctx, s.dueKey(), s.chatID(chat)+":"+old).Err(); err != nil {
			return fmt.Errorf("redisstore: save: abandonment index: %w", err)
		}
	}
	return nil
}

// saveAllKeys returns the saveScript call v (argv.script) again with all
// of saveKinds as its keys, and v's arguments (shared: v is not sent
// again).
func (s *Store) saveAllKeys(v *argv, chat int64) *argv {
	n, _ := v.a[v.at+2].(int)
	w := newSaveArgv()
	w.script(saveScript, len(saveKinds))
	keys := s.chatKeysInto(w.keys(len(saveKinds)), chat, saveKinds)
	for i := range keys {
		w.key(&keys[i])
	}
	w.a = append(w.a, v.a[v.at+3+n:]...)
	return w
}

// saveKeysAll is saveScript's reply when the save needs a key that it
// was not given (Store.save gives the rarely needed ones only when it
// knows they are): nothing was written, and the save is sent again with
// all of saveKinds.
const saveKeysAll = -1

// saveReply is saveScript's reply: a table {saved (1 or 0), started,
// left, idx, ridx} (its comment), or for the common save (saveFastLua)
// the integer 1 + idx (saved, "", "", idx, 0: a table of five cost Redis
// ~6k instructions to build, convert and collect, session 11), or
// saveKeysAll.
type saveReply struct {
	saved     bool
	old, left string
	idx, ridx int64
	keys      bool  // saveKeysAll
	missed    bool  // saveCommonMissed
	recLen    int64 // the common save's: the seen record's length after it appended (0: none)
}

func parseSaveReply(cmd *redis.Cmd) (saveReply, error) {
	v, err := cmd.Result()
	if err != nil {
		return saveReply{}, err
	}
	switch r := v.(type) {
	case int64:
		switch r {
		case saveKeysAll:
			return saveReply{keys: true}, nil
		case 1, 2:
			return saveReply{saved: true, idx: r - 1}, nil
		}
	case []any:
		if len(r) >= 5 {
			ok, _ := r[0].(int64)
			rp := saveReply{saved: ok == 1}
			rp.old, _ = r[1].(string)
			rp.left, _ = r[2].(string)
			rp.idx, _ = r[3].(int64)
			rp.ridx, _ = r[4].(int64)
			return rp, nil
		}
	}
	return saveReply{}, fmt.Errorf("unexpected reply %v", v)
}

// commonSave is a common save as Go decides it from the chat's read
// (decideCommon): what saveFastLua would find and write, made here.
type commonSave struct {
	ok     bool
	mirror string // the state's new mirror (field a)
	xc     bool   // the record's job chat is written (the job armed anew)
	idx    int64  // the expiry job's index member must be added
	grown  int    // what the save appends to the seen record (bytes)
	seen   string // what it appends
}

// commonCall decides a save from the chat's read (decideCommon) and
// returns saveCommonScript's call for it (nil and cs.ok false when it is
// not a common save). The new mirror and the seen record's entries are
// one allocation. Its frame (the buffer) is not on the stack while the
// save waits for Redis.
func (s *Store) commonCall(chat int64, rd chatRead, expect, newVersion uint64, started string, stateExp, stateLow, recExp, recLow, expDue int64, t *tail, update int64, blob, recJSON []byte, mark, count string) (*argv, commonSave) {
	var buf [160]byte
	b, cs := decideCommon(buf[:0], rd, expect, newVersion, recJSON != nil, started, stateExp, stateLow, recExp, recLow, expDue, t)
	if !cs.ok {
		return nil, cs
	}
	n := len(b)
	b = appendSeen(b, t, update)
	cs.grown = len(b) - n
	if cs.grown > 0 && (rd.recLen == 0 || rd.recLen+cs.grown > 16*seenMax) {
		// No record read (the rest writes its header), or one to trim
		// (the rest rewrites it).
		return nil, commonSave{}
	}
	all := string(b)
	cs.mirror, cs.seen = all[:n], all[n:]
	return commonArgv(s, chat, &cs, rd.mirror, newVersion, blob, all[n:], recJSON, expDue, mark, count), cs
}

// decideCommon tells whether a save is a common one (saveFastLua's
// conditions) by the chat's read rd, and what it writes: the state is at
// expect with a mirror of that version, an expiry (e) whose TTL need not
// move and no language choice; the abandonment record is the
// interview's (or there is none, and none was there) and its TTL need
// not move, its job is armed or none was; the tail's arm is none or a
// check of the reminder the mirror knows. The caller has made sure the
// save has none of saveScript's arguments 16-19 and checks the seen
// record's length (Store.save). The mirror is "<version> <started>
// <record's e> <job's due> <reminder's language>" ("-" for none), the
// version as decimal digits.
func decideCommon(b []byte, rd chatRead, expect, newVersion uint64, withRec bool, started string, stateExp, stateLow, recExp, recLow, expDue int64, t *tail) ([]byte, commonSave) {
	var no commonSave
	if expect == 0 || rd.v != expect || rd.mirror == "" || !rd.hasE || rd.waiting || rd.e < stateLow || rd.e > stateExp {
		return b, no
	}
	var f [5]string
	rest := rd.mirror
	for i := range f {
		var ok bool
		if f[i], rest, ok = strings.Cut(rest, " "); (!ok && i < 4) || f[i] == "" || strings.ContainsAny(f[i], "\t\n\v\f\r") {
			return b, no
		}
	}
	if rest != "" {
		return b, no
	}
	tag, mst, mae, mxd, mrl := f[0], f[1], f[2], f[3], f[4]
	var vb [20]byte // the tag as saveFastLua compares it: the version's digits
	if string(strconv.AppendUint(vb[:0], expect, 10)) != tag || !digitsOr(mae) || !digitsOr(mxd) {
		return b, no
	}
	rp := "-"
	if t != nil && t.arm {
		if !t.armCheck || mrl == "-" || t.lang != mrl {
			return b, no
		}
		rp = mrl
	}
	a := strconv.AppendUint(b, newVersion, 10)
	var cs commonSave
	if withRec {
		ae := atoi(mae)
		if mst != started || mae == "-" || ae < recLow || ae > recExp {
			return b, no
		}
		xd := "-"
		if expDue != 0 {
			if mxd == "-" {
				cs.xc, cs.idx = true, 1
			} else if expDue < atoi(mxd) {
				cs.idx = 1
			}
		} else if mxd != "-" {
			return b, no
		}
		a = append(a, ' ')
		a = append(a, started...)
		a = append(a, ' ')
		a = append(a, mae...)
		a = append(a, ' ')
		if expDue != 0 {
			a = strconv.AppendInt(a, expDue, 10)
		} else {
			a = append(a, xd...)
		}
	} else {
		if mst != "-" || mxd != "-" {
			return b, no
		}
		a = append(a, " - - -"...)
	}
	a = append(a, ' ')
	a = append(a, rp...)
	cs.ok = true
	return a, cs
}

// digitsOr reports whether v is "-" or a decimal integer (no sign).
func digitsOr(v string) bool {
	if v == "-" {
		return true
	}
	for i := range len(v) {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return v != ""
}

// commonArgv is saveCommonScript's call for cs (its comment has the
// layout): the keys, and its arguments up to the last that is not empty.
func commonArgv(s *Store, chat int64, cs *commonSave, mirror string, newVersion uint64, blob []byte, seen string, recJSON []byte, expDue int64, mark, count string) *argv {
	nk := 2
	if recJSON != nil {
		nk = 3
	}
	v := newSaveArgv()
	v.script(saveCommonScript, nk)
	keys := s.chatKeysInto(v.keys(nk), chat, saveKinds[:nk])
	for i := range keys {
		v.key(&keys[i])
	}
	v.str(mirror)
	v.int(int64(newVersion))
	v.bytes(blob)
	v.str(seen)
	v.str(cs.mirror)
	v.bytes(recJSON)
	tat, hc, _ := strings.Cut(count, " ")
	var xc string
	if cs.xc {
		xc = strconv.FormatInt(chat, 10)
	}
	opt := [...]string{mark, tat, hc, xc}
	last := len(opt) - 1
	for last >= 0 && opt[last] == "" {
		last--
	}
	if expDue != 0 {
		v.int(expDue)
	} else if last >= 0 {
		v.lit("")
	}
	for _, a := range opt[:last+1] {
		v.str(a)
	}
	return v
}

// appendSeen appends to b what a save appends to the seen record
// (seldomArg's second string).
func appendSeen(b []byte, t *tail, update int64) []byte {
	var marks []int64
	if t != nil {
		marks = t.marks
	}
	for _, id := range marks {
		b = append(b, ' ')
		b = strconv.AppendInt(b, id, 10)
		b = append(b, ":s"...)
	}
	if update != 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, update, 10)
		b = append(b, ":a"...)
	}
	return b
}

// saveCommonMissed is saveCommonScript's reply when the state or the
// seen record is not what the read found: nothing was written, and the
// save goes to saveScript.
const saveCommonMissed = -2

// parseCommonReply reads saveCommonScript's reply (1: saved; more: saved,
// and the seen record's length after its append; idx is Go's,
// decideCommon's).
func parseCommonReply(cmd *redis.Cmd, idx int64) (saveReply, error) {
	v, err := cmd.Result()
	if err != nil {
		return saveReply{}, err
	}
	switch n, _ := v.(int64); {
	case n == 1:
		return saveReply{saved: true, idx: idx}, nil
	case n > 1:
		return saveReply{saved: true, idx: idx, recLen: n}, nil
	case n == saveCommonMissed:
		return saveReply{missed: true}, nil
	}
	return saveReply{}, fmt.Errorf("unexpected reply %v", v)
}

// seldomArg returns saveScript's 15th and 4th arguments, built in one
// allocation.
//
// The 15th is read only when needed: "<state TTL> <now> <seen TTL>
// <record TTL> <record id> <chat id>" (ms), then, when the tail arms the
// reminder, " <due> <ttl> <expiry> <that less the slack>" (appendArmNums
// after the chat id). The record id is 128 random bits in hex (randomID)
// with a record, "-" without.
//
// The 4th is what the save appends to the seen record: " <id>:s" for
// each update of the tail marked sent, then " <update>:a" for the update
// applied (none when update is 0); the common save appends it as it is.
func seldomArg(ttl, now, seenTTL, recTTL int64, withRecord bool, chat int64, t *tail, update int64) (seldom, seen string) {
	var buf [256]byte // on the stack: string(b) copies it
	b := buf[:0]
	b = strconv.AppendInt(b, ttl, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, now, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, seenTTL, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, recTTL, 10)
	b = append(b, ' ')
	if withRecord {
		var r [16]byte
		rand.Read(r[:])
		b = hex.AppendEncode(b, r[:])
	} else {
		b = append(b, '-')
	}
	b = append(b, ' ')
	if t != nil && t.arm {
		b = appendArmNums(b, chat, t)
	} else {
		b = strconv.AppendInt(b, chat, 10)
	}
	n := len(b)
	b = appendSeen(b, t, update)
	all := string(b)
	return all[:n], all[n:]
}

// indexRefresh is how often a replica re-sends the abandonment index
// member of an interview it saves. The index is a hint that DueAbandoned
// re-scores while the state lives, so one ZADD per interview (and a day)
// does, not one per turn.
const indexRefresh = 24 * time.Hour

// indexedAlready reports whether this replica indexed the chat's
// interview (started) less than indexRefresh ago.
func (s *Store) indexedAlready(chat int64, started string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.indexed[chat]
	return ok && m.started == started && now.Sub(m.at) < indexRefresh && now.Sub(m.at) >= 0
}

// noteIndexed remembers the interview a save indexed (zadd: now) or kept
// ("" = none: the record was deleted).
func (s *Store) noteIndexed(chat int64, started string, now time.Time, zadd bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if started == "" {
		delete(s.indexed, chat)
		return
	}
	if m, ok := s.indexed[chat]; ok && m.started == started && !zadd {
		return // keep the time of the ZADD
	}
	if len(s.indexed) >= 100_000 {
		for c, m := range s.indexed {
			if now.Sub(m.at) >= indexRefresh {
				delete(s.indexed, c)
			}
		}
		if len(s.indexed) >= 100_000 {
			clear(s.indexed) // the index heals itself: at worst a ZADD more
		}
	}
	s.indexed[chat] = indexMark{started: started, at: now}
}

// indexMark is an interview this replica put in the abandonment index.
type indexMark struct {
	started string
	at      time.Time
}

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// MarkSent records that updateID's replies were confirmed sent — a
// redelivery is then reported SeenSent and dropped — and lastMsg, the id of
// the message now showing the current question, which Load returns until
// the next MarkSent. lastMsg is kept only while the chat has a state; Save
// leaves it alone. With Options.TailDelay it is deferred (tail.go).
func (s *Store) MarkSent(ctx context.Context, chat, updateID int64, lastMsg int) error {
	now := s.now()
	if s.deferring() {
		s.mu.Lock()
		t := s.tailFor(chat)
		if t.empty() {
			t.since = now
		}
		if !slices.Contains(t.marks, updateID) {
			t.marks = append(t.marks, updateID)
		}
		t.hasMark, t.lastMsg, t.markV = true, lastMsg, t.version
		s.mu.Unlock()
		return nil
	}
	err := markSentScript.Run(ctx, s.rdb, []string{s.seenKey(chat), s.stateKey(chat)},
		updateID, now.UnixMilli(), s.seenPXAfter(now), s.seenTTL.Milliseconds(), seenMax, lastMsg).Err()
	if err != nil {
		// Written again once Redis is back (keepFailed): also when the
		// script ran and its reply was lost (a mark is a set member, and
		// the card's id never moves the state's back).
		s.keepFailed(chat, &tail{marks: []int64{updateID}, lastMsg: lastMsg}, nil)
		return fmt.Errorf("redisstore: mark sent: %w", err)
	}
	return nil
}

// Delete erases the chat's interview state, its abandonment record and
// that record's abandonment index entry, and the recorded sent message ids
// (for /delete). The seen update ids are kept, so that redeliveries are
// still recognised; they hold no answers and expire within SeenTTL.
func (s *Store) Delete(ctx context.Context, chat int64) error {
	s.warmDrop(chat)
	defer s.warmDrop(chat)
	s.dropTail(chat)
	s.takePrefetch(chat, s.now())
	s.noteIndexed(chat, "", time.Time{}, false)
	id := s.chatID(chat)
	// The record says which interview the index member names.
	started, err := s.rdb.HGet(ctx, s.abandonKey(chat), "st").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	// The language-choice record says which form's index names the chat.
	waitForm, err := s.rdb.HGet(ctx, s.waitKey(chat), "f").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	members := []any{}
	if started != "" {
		members = append(members, id+":"+started)
	}
	// Members left behind by a crash between a save and its index update:
	// a scan of the index for this chat (erasure is rare).
	iter := s.rdb.ZScan(ctx, s.dueKey(), 0, id+":*", 1000).Iterator()
	for i := 0; iter.Next(ctx); i++ {
		if i%2 == 0 { // member, score, member, score…
			members = append(members, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.stateKey(chat), s.abandonKey(chat), s.sentKey(chat), s.waitKey(chat), s.remindKey(chat), s.remindLeaseKey(id), s.expireLeaseKey(id), s.completedKey(id))
		p.ZRem(ctx, s.remindDueKey(), id)
		p.ZRem(ctx, s.expireDueKey(), id)
		if len(members) > 0 {
			p.ZRem(ctx, s.dueKey(), members...)
		}
		if waitForm != "" {
			p.ZRem(ctx, s.waitIndexKey(waitForm), id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// SentMessage is a message the bot sent to a chat, recorded so that /delete
// can delete it while Telegram allows (48 h).
type SentMessage struct {
	ID int
	At time.Time
}

// RecordSent remembers the ids of messages of chat sent now, for SentTTL
// (at most the newest 200). Only message ids are kept, never their text.
// With Options.TailDelay it is deferred (tail.go).
func (s *Store) RecordSent(ctx context.Context, chat int64, msgIDs ...int) error {
	now := s.now()
	if s.deferring() {
		s.mu.Lock()
		t := s.tailFor(chat)
		if t.empty() {
			t.since = now
		}
		for _, id := range msgIDs {
			if id != 0 {
				t.sent = append(t.sent, id)
			}
		}
		t.sentAt = now.UnixMilli()
		s.mu.Unlock()
		return nil
	}
	var zs []redis.Z
	// Ids whose write failed before (keepUnsent) go with these.
	kept, keptAt := s.takeUnsent(chat)
	for _, id := range kept {
		zs = append(zs, redis.Z{Score: float64(keptAt), Member: strconv.Itoa(id)})
	}
	for _, id := range msgIDs {
		if id != 0 {
			zs = append(zs, redis.Z{Score: float64(now.UnixMilli()), Member: strconv.Itoa(id)})
		}
	}
	if len(zs) == 0 {
		return nil
	}
	key := s.sentKey(chat)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(now.Add(-SentTTL).UnixMilli(), 10))
		p.ZAdd(ctx, key, zs...)
		p.ZRemRangeByRank(ctx, key, 0, -(sentMax + 1))
		p.PExpire(ctx, key, SentTTL)
		return nil
	})
	if err != nil {
		s.keepUnsent(chat, kept, keptAt, msgIDs, now.UnixMilli())
		return fmt.Errorf("redisstore: record sent: %w", err)
	}
	return nil
}

// SentMessages returns the recorded messages of chat younger than SentTTL,
// oldest first.
func (s *Store) SentMessages(ctx context.Context, chat int64) ([]SentMessage, error) {
	min := strconv.FormatInt(s.now().Add(-SentTTL).UnixMilli(), 10)
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: s.sentKey(chat), Start: min, Stop: "+inf", ByScore: true}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: sent messages: %w", err)
	}
	out := make([]SentMessage, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		id, err := strconv.Atoi(m)
		if err != nil {
			continue
		}
		out = append(out, SentMessage{ID: id, At: time.UnixMilli(int64(z.Score))})
	}
	// Deferred (or kept after a failed write: keepUnsent), not yet
	// written: the newest.
	s.mu.Lock()
	if t := s.tails[chat]; t != nil {
		for _, id := range t.sent {
			out = append(out, SentMessage{ID: id, At: time.UnixMilli(t.sentAt)})
		}
	}
	s.mu.Unlock()
	return out, nil
}

// Allow reports whether one more event under key fits within limit events
// per period (GCRA, bursts up to limit), counting it if so. It is meant for
// bad invite tokens and similar abuse.
func (s *Store) Allow(ctx context.Context, key string, limit int, per time.Duration) (bool, error) {
	if limit <= 0 || per <= 0 {
		return false, fmt.Errorf("redisstore: allow: bad limit %d per %s", limit, per)
	}
	res, err := s.limiter.Allow(ctx, s.prefix+"rl:"+key, redis_rate.Limit{Rate: limit, Burst: limit, Period: per})
	if err != nil {
		return false, fmt.Errorf("redisstore: allow: %w", err)
	}
	return res.Allowed > 0, nil
}

// Limited reports whether key has no room left for one more event under
// limit per period, without counting one (Allow counts). It lets a caller
// refuse before doing the work that a limited user must not get, e.g. a
// token lookup.
func (s *Store) Limited(ctx context.Context, key string, limit int, per time.Duration) (bool, error) {
	if limit <= 0 || per <= 0 {
		return false, fmt.Errorf("redisstore: limited: bad limit %d per %s", limit, per)
	}
	// A cost of 0 reads the GCRA state: Remaining is how many events fit now.
	res, err := s.limiter.AllowN(ctx, s.prefix+"rl:"+key, redis_rate.Limit{Rate: limit, Burst: limit, Period: per}, 0)
	if err != nil {
		return false, fmt.Errorf("redisstore: limited: %w", err)
	}
	return res.Remaining < 1, nil
}

// Inbound counts incoming update (its Telegram update id; <= 0: none) of a
// Telegram user against limit updates per period (GCRA, bursts up to
// limit). When the update is over the limit, first reports whether it is
// the first refusal of this flood (once per period), so that the person is
// told once and later updates are dropped silently. An update counted
// already (a copy handled by another replica, a redelivery) or older than
// the newest one counted is let through uncounted (ok): the session's
// dedup keeps it from applying twice.
//
// The limit lives in the seen record of the person's private chat (whose
// id is the user's), and the same script writes that chat's deferred tail
// and reads its state. After LoadCounting of the same chat and update,
// Inbound returns its verdict without a round trip. Otherwise, when the
// update is allowed, the next Load of the chat within prefetchTTL takes
// the reply instead of a round trip of its own. A turn is thus two round
// trips, the limit included. The reply is a snapshot: if the state moves
// on before the turn saves, Save's compare-and-swap fails and the caller
// loads again, as on any conflict.
func (s *Store) Inbound(ctx context.Context, user, update int64, limit int, per time.Duration) (ok, first bool, err error) {
	if limit <= 0 || per <= 0 {
		return false, false, fmt.Errorf("redisstore: inbound: bad limit %d per %s", limit, per)
	}
	now := s.now()
	if v, hit := s.takeVerdict(user, update, now); hit {
		return v == 1, v == 2, nil
	}
	v, res, err := s.inbound(ctx, user, update, limit, per, now)
	if err != nil {
		return false, false, err
	}
	if v == 1 {
		s.putPrefetch(user, now, res)
	}
	return v == 1, v == 2, nil
}

// LoadCounting is Load that also counts update (a Telegram update id, >
// 0) of the chat's person against the inbound limit as Inbound does, in
// the same round trip; the verdict waits for the Inbound of the same chat
// and update (within prefetchTTL), which then makes no round trip. For
// other inputs (update <= 0) it is Load.
func (s *Store) LoadCounting(ctx context.Context, chat, update int64, limit int, per time.Duration) (blob []byte, version uint64, seen Seen, lastMsg int, err error) {
	now := s.now()
	if update <= 0 || limit <= 0 || per <= 0 {
		return s.Load(ctx, chat, update)
	}
	if res, ok := s.takePrefetch(chat, now); ok {
		return s.finishLoad(chat, update, now, res)
	}
	// The read needs no script: the count is made here from the seen
	// record read, and written by the chat's next Save (saveScript).
	res, lim, err := s.plainRead(ctx, chat, update)
	if err != nil {
		return nil, 0, SeenNone, 0, fmt.Errorf("redisstore: load: %w", err)
	}
	rec := res.rec
	pend := s.pendingCountOf(chat, now)
	v, c, ok := countIn(rec, lim, pend, update, limit, per, now)
	switch {
	case !ok:
		// A record this cannot read: the script counts.
		if v, res, err = s.inbound(ctx, chat, update, limit, per, now); err != nil {
			return nil, 0, SeenNone, 0, fmt.Errorf("redisstore: load: %w", err)
		}
	case v == 2:
		// The first refusal of a flood: the person is told once; the
		// state hash remembers until when (a bare hash gets a TTL: the
		// Load reads no state without v).
		told := strconv.FormatInt(now.Add(per).UnixMilli(), 10)
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, s.stateKey(chat), "o", told)
			p.Do(ctx, "pexpire", s.stateKey(chat), max(2*per, time.Second).Milliseconds(), "NX")
			return nil
		})
		s.warmDrop(chat) // o is written (warm.go)
		if err != nil {
			return nil, 0, SeenNone, 0, fmt.Errorf("redisstore: load: inbound limit: %w", err)
		}
	case c != pend:
		s.putCount(chat, c, now)
	}
	s.putVerdict(chat, update, v, now)
	return s.finishLoad(chat, update, now, res)
}

// pendingCount is the inbound limit's state (GCRA theoretical arrival
// time, ms, and the highest update id counted) as counted by LoadCounting
// and not yet written: the chat's next Save writes it (saveScript), and
// the next count starts from it when it is ahead of what Redis holds (an
// update that was counted but not saved).
type pendingCount struct {
	at      time.Time
	tat, hc int64
}

// countIn counts update (> 0) against limit per period as inboundScript
// does, from the chat's seen record and state hash as read (lim) and the
// count pending in memory: v 1 (allowed) with the limit's state to write
// (c; pend itself when the update is not counted: in the record, at or
// below its floor or the highest id counted), v 0 (refused, the person
// told already), v 2 (refused, the first refusal of the flood: told is to
// be written), or ok false for a record this cannot read.
func countIn(rec string, lim limState, pend pendingCount, update int64, limit int, per time.Duration, now time.Time) (v int64, c pendingCount, ok bool) {
	var floor, hc, t, told int64
	id := strconv.FormatInt(update, 10)
	listed := false
	if rec != "" {
		// "<written> <floor> <tat>[:<hc>] <told>" then " <id>:<f>"…
		var f [4]string
		rest, ok := rec, true
		for i := range f {
			if f[i], rest, ok = strings.Cut(rest, " "); !ok && i < 3 {
				return 0, pend, false
			}
		}
		floor = atoi(f[1])
		tp, hp, _ := strings.Cut(f[2], ":")
		t, hc, told = atoi(tp), atoi(hp), atoi(f[3])
		// rest is "<id>:<f> <id>:<f>…", after the header.
		listed = strings.Contains(rest, " "+id+":") || strings.HasPrefix(rest, id+":")
	}
	t, hc, told = max(t, lim[0], pend.tat), max(hc, lim[1], pend.hc), max(told, lim[2])
	if update <= hc || update <= floor || listed {
		return 1, pend, true
	}
	nowMS, perMS := now.UnixMilli(), per.Milliseconds()
	nt := int64(math.Floor(float64(max(t, nowMS)) + float64(perMS)/float64(limit)))
	if nt-nowMS > perMS {
		// Refused: silently when the person was told already.
		if told > nowMS {
			return 0, pend, true
		}
		return 2, pend, true
	}
	return 1, pendingCount{at: now, tat: nt, hc: update}, true
}

// atoi reads a decimal integer as strconv.ParseInt does, 0 when it cannot,
// without allocating for an empty or short non-negative one (ParseInt's
// error for "" allocates).
func atoi(v string) int64 {
	if v == "" {
		return 0
	}
	if len(v) < 19 {
		var n int64
		for i := range len(v) {
			c := v[i]
			if c < '0' || c > '9' {
				goto slow
			}
			n = n*10 + int64(c-'0')
		}
		return n
	}
slow:
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// chatRead is what a chat's read found (readChat; noteRead), for its
// Save: the seen record's written time (w, 0: none) and length, and the
// state's version (0: none), mirror (the field a, "" when none), expiry
// (e) and whether it waits at a language choice (l). A save that Go can
// decide from it is sent to saveCommonScript, which checks that the
// mirror is still the one read. After such a save it holds what the
// save left (noteCommonSaved); after another, the state is unknown (v
// 0) until the next read.
type chatRead struct {
	w, e    int64
	recLen  int
	v       uint64
	mirror  string
	hasE    bool
	waiting bool
}

// noteRead remembers what a read of the chat found: rec the seen record,
// vals the state's HMGET (hmgetState; vals[0] "" when there is no
// state).
func (s *Store) noteRead(chat int64, rec string, vals []string) {
	s.noteReadLen(chat, rec, len(rec), vals)
}

// noteReadLen is noteRead of a record of recLen bytes that starts with
// rec.
func (s *Store) noteReadLen(chat int64, rec string, recLen int, vals []string) {
	w, _, _ := strings.Cut(rec, " ")
	r := chatRead{w: atoi(w), recLen: recLen}
	if vals[0] != "" {
		r.v = parseVersion(vals[0])
		r.mirror = vals[6]
		r.hasE, r.e = vals[7] != "", atoi(vals[7])
		r.waiting = vals[8] != ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reads) >= maxChatIDs {
		clear(s.reads)
	}
	s.reads[chat] = r
}

// readOf returns what the chat's last read found (the zero chatRead when
// none).
func (s *Store) readOf(chat int64) chatRead {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[chat]
}

// noteSaved records a save of the chat: after a common one (mirror its
// new mirror, grown the seen record's growth), the state is at v with
// that mirror and its expiry and language choice unchanged; after
// another (mirror ""), the state is unknown until the next read.
func (s *Store) noteSaved(chat int64, v uint64, mirror string, grown int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reads[chat]
	if !ok {
		return
	}
	if mirror == "" {
		r.v, r.mirror = 0, ""
	} else {
		r.v, r.mirror = v, mirror
		r.recLen += grown
	}
	s.reads[chat] = r
}

// seenFresh reports whether the chat's seen record, as last read, had its
// TTL set at or after pxafter (ms): a Save need not set it again.
func (s *Store) seenFresh(r chatRead, pxafter int64) bool {
	return r.w != 0 && r.w >= pxafter
}

// pendingCountOf returns the chat's count pending in memory (zero when
// none or older than countTTL).
func (s *Store) pendingCountOf(chat int64, now time.Time) pendingCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts[chat]
	if d := now.Sub(c.at); d < 0 || d > countTTL {
		return pendingCount{}
	}
	return c
}

func (s *Store) putCount(chat int64, c pendingCount, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dropStale(s.counts, func(x pendingCount) time.Time { return x.at }, countTTL, now)
	s.counts[chat] = c
}

// takeCount returns and forgets the chat's pending count as saveScript's
// argument "<tat> <hc>" ("" when none, or stale).
func (s *Store) takeCount(chat int64, now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.counts[chat]
	if !ok {
		return ""
	}
	delete(s.counts, chat)
	if d := now.Sub(c.at); d < 0 || d > countTTL {
		return ""
	}
	b := make([]byte, 0, 40)
	b = strconv.AppendInt(b, c.tat, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, c.hc, 10)
	return string(b)
}

// countTTL is how long a count waits in memory for a Save: longer than a
// turn, shorter than a flood's period would make it lenient.
const countTTL = time.Minute

// inbound runs inboundScript: the verdict (0 refused, 2 refused first, 1
// allowed) and the chat as loadScript returns it.
func (s *Store) inbound(ctx context.Context, user, update int64, limit int, per time.Duration, now time.Time) (int64, chatReply, error) {
	t := s.takeTail(user)
	// The emission interval, whole or with a fraction: Lua reads it as is.
	interval := strconv.FormatFloat(float64(per.Milliseconds())/float64(limit), 'f', -1, 64)
	args := append(append([]any{interval, per.Milliseconds(), update}, s.commonArgs(now)...), s.tailArgs(user, t, markEmpty, now)...)
	// The script writes the seen record (the count): what this replica
	// knew of the chat is out of date (warm.go).
	s.warmDrop(user)
	defer s.warmDrop(user)
	reply, load, _, err := s.readChat(ctx, user, t, inboundScript, 1, args, 0)
	if err != nil {
		s.putBack(user, t, false)
		return 0, load, fmt.Errorf("redisstore: inbound: %w", err)
	}
	v, _ := reply[0].(int64)
	if v < 0 || v > 2 {
		return 0, load, fmt.Errorf("redisstore: inbound: unexpected reply (first %T)", reply[0])
	}
	return v, load, nil
}

// verdict is an inbound count made by LoadCounting, waiting for Inbound.
type verdict struct {
	at     time.Time
	update int64
	v      int64
}

func (s *Store) putVerdict(chat, update, v int64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dropStale(s.verdicts, func(x verdict) time.Time { return x.at }, prefetchTTL, now)
	s.verdicts[chat] = verdict{at: now, update: update, v: v}
}

// takeVerdict returns and forgets LoadCounting's verdict on the chat's
// update, if fresh.
func (s *Store) takeVerdict(chat, update int64, now time.Time) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.verdicts[chat]
	if !ok || x.update != update {
		return 0, false
	}
	delete(s.verdicts, chat)
	if d := now.Sub(x.at); d < 0 || d > prefetchTTL {
		return 0, false
	}
	return x.v, true
}

// prefetchTTL is how long the chat read by Inbound serves the Load that
// follows it; later, Load reads afresh.
const prefetchTTL = time.Second

// prefetched is a chat read by Inbound, waiting for its Load.
type prefetched struct {
	at  time.Time
	res chatReply
}

func (s *Store) putPrefetch(chat int64, now time.Time, res chatReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Reads whose Load never came (an update that was not a turn).
	dropStale(s.pre, func(p prefetched) time.Time { return p.at }, prefetchTTL, now)
	s.pre[chat] = prefetched{at: now, res: res}
}

// dropStale removes m's entries older than ttl once m holds 4096 chats:
// the per-chat notes a read leaves for a later call (prefetch, verdict,
// count) that never came. Callers hold s.mu.
func dropStale[V any](m map[int64]V, at func(V) time.Time, ttl time.Duration, now time.Time) {
	if len(m) < 4096 {
		return
	}
	for k, v := range m {
		if now.Sub(at(v)) > ttl {
			delete(m, k)
		}
	}
}

// takePrefetch returns and forgets the chat's read by Inbound, if fresh.
func (s *Store) takePrefetch(chat int64, now time.Time) (chatReply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pre[chat]
	if !ok {
		return chatReply{}, false
	}
	delete(s.pre, chat)
	if d := now.Sub(p.at); d < 0 || d > prefetchTTL {
		return chatReply{}, false
	}
	return p.res, true
}

// runFunc queues a script in a pipeline: with keys and args as
// sc.EvalSha takes them, or (keys nil) the script call last begun in an
// argv (argv.script), the *argv as its one argument.
type runFunc func(sc *redis.Script, keys []string, args ...any) *redis.Cmd

// pipelined sends fn's commands in one round trip, queueing scripts as
// EVALSHA. If Redis does not know a script (first use, SCRIPT FLUSH,
// failover), the pipeline is sent again with EVAL. A NOSCRIPT command did
// nothing, so this is safe as long as fn's other commands are idempotent.
func (s *Store) pipelined(ctx context.Context, fn func(p redis.Pipeliner, run runFunc)) error {
	for _, eval := range []bool{false, true} {
		var scripts []*redis.Cmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			fn(p, func(sc *redis.Script, keys []string, args ...any) *redis.Cmd {
				var c *redis.Cmd
				if v := argvOf(keys, args); v != nil {
					c = scriptCmd(ctx, v)
					if eval {
						keys, args := evalArgs(c)
						c = sc.Eval(ctx, p, keys, args...)
					} else {
						_ = p.Process(ctx, c)
					}
				} else if eval {
					c = sc.Eval(ctx, p, keys, args...)
				} else {
					c = sc.EvalSha(ctx, p, keys, args...)
				}
				scripts = append(scripts, c)
				return c
			})
			return nil
		})
		noScript := false
		for _, c := range scripts {
			if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
				noScript = true
			}
		}
		if !noScript || eval {
			return err
		}
	}
	panic("unreachable")
}

func argvOf(keys []string, args []any) *argv {
	if keys != nil || len(args) != 1 {
		return nil
	}
	v, _ := args[0].(*argv)
	return v
}

// TakeAll reserves n events under key within limit events per period
// (GCRA, bursts up to limit), all or none; when none, it says how long
// until n are free. Unlike Take, a reservation never spends a fraction of
// an event it does not grant: AllowAtMost charges the fraction of the
// budget that has accrued and grants its whole part, so a batch taken
// while the budget refills loses the rest (issue 19: a shared budget of
// 28/s gave 26.8/s to 40 waiters).
func (s *Store) TakeAll(ctx context.Context, key string, limit int, per time.Duration, n int) (bool, time.Duration, error) {
	if limit <= 0 || per <= 0 || n <= 0 || n > limit {
		return false, 0, fmt.Errorf("redisstore: take: bad limit %d per %s, n %d", limit, per, n)
	}
	res, err := s.limiter.AllowN(ctx, s.prefix+"rl:"+key, redis_rate.Limit{Rate: limit, Burst: limit, Period: per}, n)
	if err != nil {
		return false, 0, fmt.Errorf("redisstore: take: %w", err)
	}
	return res.Allowed == n, max(res.RetryAfter, 0), nil
}

// Take reserves up to n events under key within limit events per period
// (GCRA, bursts up to limit) and returns how many it got and, when none,
// how long until one is free. Callers that spend a shared budget often
// (the Bot API's per-bot limit) take a few at a time to spare round trips.
func (s *Store) Take(ctx context.Context, key string, limit int, per time.Duration, n int) (int, time.Duration, error) {
	if limit <= 0 || per <= 0 || n <= 0 {
		return 0, 0, fmt.Errorf("redisstore: take: bad limit %d per %s, n %d", limit, per, n)
	}
	res, err := s.limiter.AllowAtMost(ctx, s.prefix+"rl:"+key, redis_rate.Limit{Rate: limit, Burst: limit, Period: per}, n)
	if err != nil {
		return 0, 0, fmt.Errorf("redisstore: take: %w", err)
	}
	return res.Allowed, max(res.RetryAfter, 0), nil
}

// ttlSlack is how much earlier than set a key of the given TTL may expire
// so that a save (or a reminder's arm) need not set its TTL every time:
// 1/24 of it, at most an hour (see saveScript).
func ttlSlack(ttl time.Duration) time.Duration { return min(time.Hour, ttl/24) }
