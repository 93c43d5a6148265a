// Package redisstore keeps needsbot's live, short-lived data in Redis: each
// chat's interview state, the update ids already seen, abandonment records,
// the durable completion outbox and rate-limit counters.
//
// # State and dedup
//
// The store is agnostic of how dialog encodes a state: it keeps an opaque
// blob and its version. Per chat, with N the chat's derived id — 128 bits of
// HMAC-SHA256(KeySecret, "redis|" + chat id) in hex, never the raw Telegram
// id (see ChatTag):
//
//	<prefix>{c:N}:s  hash   v = version (decimal), b = blob, m = message id recorded by MarkSent,
//	                        e = the expiry last set (ms), a = what the last Save left in :a and
//	                        :r (the interview's start, the record's expiry, the expiry job's
//	                        due time, the reminder's language; saveScript); expires StateTTL
//	                        after the last Save,
//	                        DoneTTL (24 h) after SaveDone (a finished interview: no answers
//	                        are in its blob) — up to an hour earlier: see below
//	<prefix>{c:N}:u  string the seen record (seen.go): "<written ms> <floor> <tat> <told>" then
//	                        " <id>:a" (applied) or " <id>:s" (replies confirmed sent) per input,
//	                        oldest first; tat and told are the per-person inbound limit
//	<prefix>{c:N}:a  hash   abandonment record of the interview in progress (see below)
//	<prefix>{c:N}:m  zset   ids of the chat's messages (RecordSent), scored by time (ms);
//	                        kept 48 h (SentTTL), for /delete
//
// The {c:N} hash tag puts a chat's keys in one Redis Cluster slot, so the Lua
// scripts behind Load (state + dedup in one round trip), Save (compare-and-
// swap + mark applied + abandonment record, atomically) and MarkSent are
// valid under Cluster. An update is marked applied in the same script that
// saves its effect, never before: a crash in between cannot lose it.
//
// With Options.TailDelay, what follows a saved turn — MarkSent,
// ArmReminder, RecordSent — waits in memory and is written by the same
// script as the chat's next Save (or by RunTails after TailDelay, and at
// shutdown): a turn is two round trips, Load and Save (tail.go), and one
// script, the Save's (since session 6 the Load of a turn is plain
// commands; the inbound count is made in Go and written by the Save).
// After a common save of the chat by this replica, its next turn's Load
// answers from memory (warm.go, session 14): such a turn is one round
// trip, the Save's.
//
// The seen record stays bounded: it lists at most the newest 1000 inputs
// (an update id at or below the highest one dropped counts as handled), and
// it expires SeenTTL (24 h) after its TTL was last set, which is at most a
// slack (1/24 of SeenTTL, at most an hour) before the chat's last input
// (SET KEEPTTL in between; its written time is when the TTL was set); Load
// treats one written longer ago than SeenTTL as gone. Scripts read and
// write it whole (GET, SET): Load reads it (a plain GET) and tells in Go
// whether its update was seen. Load reads the state with a plain HMGET
// before it, in the same round trip: the state's blob never passes through
// Lua (scripts.go).
//
// A Save sets the TTL of the state (and of the abandonment record) only
// when it is new, shorter than before, or would end more than a slack
// (1/24 of the TTL, at most an hour) later than the one set: field e
// remembers it. The TTLs are a safety net behind the expiry job and the
// sweep; a PEXPIRE per key and save is not worth an hour of them.
//
// # Abandonment
//
// States expire after StateTTL idle. So that an interview that reached past
// consent and was then abandoned is still counted (form, municipality,
// service, language, last question reached, start — never answers), Save
// takes an optional AbandonRecord. The script stores it in the chat's :a key
// with a longer TTL (StateTTL + AbandonGrace), and a ZADD pipelined in the
// same round trip indexes it in the global sorted set
//
//	<prefix>abandon:due  member "<N>:<started ms>", score = when the state expires (ms)
//
// The ZADD is a separate command, not part of the script, because the index
// is a global key in another Cluster slot; it is pipelined, so Save is still
// one round trip. The index is only a hint and heals itself: DueAbandoned
// checks each due member against the chat's keys with a per-chat script, re-
// scores members whose state is still alive, drops members whose record is
// gone or belongs to another interview (completed, erased, or restarted),
// and returns the rest. After storing them, the caller calls Ack. Saving
// without a record (before consent, or at completion) deletes the chat's
// record, so a completed interview is never counted as abandoned, and
// removes the record's index member in a second round trip (only then, and
// when a new interview replaces the record); Delete deletes record and
// members too, so an erased one is not counted either. Each record carries
// a random ID, fixed for the life of the interview, which the system of
// record uses as its idempotency key; no key or value holds the raw chat id.
//
// # Reminders
//
// One reminder per interview (schedule.go):
//
//	<prefix>{c:N}:r    hash   c = chat id (only while the reminder is pending), l = language,
//	                          d = due (ms), s = p pending / x sent / n refused (Stop, blocked),
//	                          e = the expiry last set (ms)
//	<prefix>{c:N}:rl   string lease of the replica sending it (SET NX PX)
//	<prefix>remind:due zset   member N, score = due (ms); a hint checked against :r
//
// ArmReminder (each saved turn past consent) pushes the due time back, in
// :r only: the index member keeps the due time the reminder was armed at
// (one ZADD per interview), and the claim re-scores it when it finds the
// reminder not yet due; with Options.TailDelay, a replica writes the due
// time only when it moves by more than 1/1440 of the delay (at most a
// minute) since it last wrote it, and otherwise only checks that the
// reminder is pending (armSkip): it may come up to that much early;
// ClaimReminders leases due ones; DoneReminder marks them sent and drops
// the chat id; CancelReminder and Delete drop them. The raw chat id is on
// the value side of the chat's own key, never in a key or index member.
//
// # Scheduled jobs
//
// ClaimJobs and DoneJob (jobs.go) hand out due jobs of every kind —
// reminders, and the expiry of an interview in progress past consent —
// with one lease pattern. The expiry job rides in the abandonment record
// (xc = chat id, xd = due, xv = the state version it was armed at), set
// by the Save script from AbandonRecord.Expires, so arming it costs no
// round trip of its own; the state is then kept ExpireGrace (24 h) past
// the due time. <prefix>{c:N}:xl is its lease and <prefix>expire:due its
// index (member N, score = the due time it was armed at: later saves move
// xd only, and the claim re-scores the member). The TTL expiry and DueAbandoned above
// are the safety net for states saved without a job.
//
// # Publications
//
// A form version published while interviews run reaches the chats waiting
// at that form's language choice (published.go): <prefix>{c:N}:l holds
// the chat id and the form while it waits, <prefix>lw:<form> indexes N;
// Announce queues the version once in <prefix>{publish}:due (a done
// marker keeps it from being queued again), ClaimJobs leases it as a
// JobPublished, and its handler walks the chats with ForEachWaiting.
//
// # Outbox
//
// Completed responses bound for Postgres wait in a durable outbox when
// Postgres is unavailable:
//
//	<prefix>{outbox}:q     zset  idempotency key, scored by enqueue time (ms): the order
//	<prefix>{outbox}:h     hash  idempotency key → payload
//	<prefix>{outbox}:dead  hash  idempotency key → payload that a writer rejected as Permanent
//	<prefix>{outbox}:dt    zset  idempotency key of each dead letter, scored by burial time (ms):
//	                             dead letters are dropped after DeadTTL (7 days)
//	<prefix>{outbox}:w     hash  idempotency key → owner tag (EnqueueFor)
//	<prefix>{outbox}:o:T   set   idempotency keys of owner tag T (hex of sha256("outbox|" + pseudonym)),
//	                             so that EraseOwner (for /delete) finds them without reading payloads
//
// Enqueue, Pending and Done are scripts over these (one slot). Outbox.Run
// drains it with exponential backoff while the writer fails. An entry is
// removed only after the writer succeeds, so delivery is at least once and
// the writer must be idempotent (pgstore's SaveResponse is); several
// replicas may drain the same outbox.
//
// # Rate limits
//
// Allow is a GCRA limiter (github.com/go-redis/redis_rate). That library
// prepends "rate:" to its keys, so limiter keys are
// "rate:<prefix>rl:<key>". Inbound, the per-person limit of incoming
// updates, is a GCRA kept in the seen record of the person's private chat
// (tat, and told: until when the person was told to slow down), in the
// script that also writes the chat's tail and reads the chat for the Load
// that follows: a turn stays two round trips with the limit.
package redisstore
