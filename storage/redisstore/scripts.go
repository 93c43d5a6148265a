package redisstore

import (
	"strconv"
)

// The Lua scripts. Each touches only keys of one hash tag ({c:N} or
// {outbox}), so all are valid under Redis Cluster. They never return a Lua
// false (nil) inside a table: under RESP3 that becomes a boolean, not a nil.

// The chat's read (Load, LoadCounting) is a pipeline of two plain
// commands in one round trip (readChat): an HMGET of the state's v, b and
// m, then a GET of the seen record (seen.go), from which Go tells whether
// its update was seen and, for LoadCounting, counts it against the
// inbound limit (countIn; the Save writes the count). The state blob never
// passes through Lua: a 600-byte blob read by a script and returned costs
// Redis ~22k instructions, the plain HMGET ~4k. The state is read before
// the seen record, so the record is at least as new as the state: an
// update applied after the read is either in the record (seen) or fails
// the save's compare-and-swap (a reload). loadTailScript only converts a
// record of the format before it; inboundScript serves Store.Inbound on
// its own and the first refusal of a flood.

// loadTailScript writes the chat's deferred tail, if any, and returns the
// seen record as written.
//
// KEYS: state hash, seen record, reminder hash, sent message zset. ARGV:
// now (ms), seen TTL (ms), now less the seen TTL's slack (commonArgs),
// then the tail's arguments with the mark pair (tailArgs; none when there
// is no tail). Returns {seen record
// ("" = none)}, with one more element "i" when the reminder's index needs
// a ZADD (tailLua).
var loadTailScript = newScript(seenLua + tailLua + `
seenload(KEYS[2])
local idx = tail(KEYS[1], KEYS[2], KEYS[3], KEYS[4], 6)
local r = {seensave(KEYS[2], ARGV[1], ARGV[2], ARGV[3])}
if idx == 1 then r[2] = 'i' end
return r
`)

// inboundScript counts one incoming update of a person against the
// per-person limit (GCRA, kept in the seen record of the person's private
// chat: no key of its own) and writes the chat's deferred tail, in one
// script, with the state's HMGET before it (readChat): Store.Inbound keeps
// the reply for the Load that follows. LoadCounting counts in Go
// (countIn) and runs it only for the first refusal of a flood, which must
// be written (told).
//
// An update (its Telegram id, ARGV 3) is counted once: not when it is in
// the seen record or at or below its floor (handled already), nor when it
// is at or below the highest id counted (hc in the record: a copy of it
// handled by another replica, or an older update delivered late). Such an
// update is let through uncounted. An id <= 0 is always counted.
//
// KEYS as loadTailScript. ARGV: 1 the emission interval (period / limit,
// ms; tat is kept in whole ms, rounded down), 2 period (ms), 3 update id, 4-6
// as loadTailScript's 1-3, then the tail's arguments with the mark pair
// (tailArgs; none when there is no tail). Returns {verdict, then as loadTailScript}: verdict 0
// (refused), 2 (refused, first refusal of the period: tell the person
// once) or 1 (allowed).
var inboundScript = newScript(seenLua + tailLua + `
local id = ARGV[3]
seenload(KEYS[2])
-- The limit's state written by saves and refusals since session 6 (the
-- state hash's t, h, o: Store.LoadCounting): the larger of both counts.
local lt = redis.call('HMGET', KEYS[1], 't', 'h', 'o')
if lt[1] and ilt(sv.tat, lt[1]) then sv.tat = lt[1] end
if lt[2] and ilt(sv.hc, lt[2]) then sv.hc = lt[2] end
if lt[3] and ilt(sv.told, lt[3]) then sv.told = lt[3] end
local count = true
if string.byte(id, 1) ~= 45 and id ~= '0' then
  if not ilt(sv.hc, id) or not ilt(sv.f, id) or string.find(sv.body, ' ' .. id .. ':', 1, true) then
    count = false
  else
    sv.hc = id
    sv.dirty = true
  end
end
local ok = 1
if count then
  local now, per = ARGV[4] + 0, ARGV[2] + 0
  local tat = math.max(tonumber(sv.tat) or 0, now)
  local nt = math.floor(tat + ARGV[1])
  if nt - now <= per then
    sv.tat = string.format('%d', nt)
    sv.dirty = true
  elseif (tonumber(sv.told) or 0) > now then
    ok = 0
  else
    sv.told = tostring(now + per)
    sv.dirty = true
    ok = 2
  end
end
local idx = tail(KEYS[1], KEYS[2], KEYS[3], KEYS[4], 9)
local r = {ok, seensave(KEYS[2], ARGV[4], ARGV[5], ARGV[6])}
if idx == 1 then r[3] = 'i' end
return r
`)

// saveFastLua is saveScript's head: the state's HMGET (hv, cur, used by
// the rest of the script too) and the common save on its own, before the
// rest of the script defines its helpers (seenLua, tailLua and its own:
// eight closures and the seen record's table, made on every call, ~0.5k
// instructions each) and builds its tables (session 9: a common save
// costs Redis ~22k fewer instructions, ~146k → ~124k, by callgrind). The
// common save is a turn that moves an interview on: the version matches,
// the mirror (field a) holds, the state's and the record's TTLs need no
// refresh, the interview is the one the record describes (or there is no
// record, and none was there), no language choice is entered or left, no
// completion, no sent ids, the reminder's arm is none or a check of the
// language the mirror knows, and the seen record is appended to (84 % of
// the saves of session 11's load test). It writes what the rest of the
// script writes for such a save — the state's HSET, the seen record's
// APPEND, the record's HSET — and returns 1 + idx (saveReply: a table
// costs more). Anything else falls through to the rest, which does the
// whole save; the only write made before it falls through is the APPEND
// of a record now too long (appended: the rest reads it back and trims
// it, as after its own APPEND). Such a save needs only the first three
// keys, and a rest after its APPEND needs no other either. It writes the
// record's job chat (xc) only when it arms a job the mirror names none
// of: while the mirror names one, the save that wrote it left xc in the
// record (every save writes xc, xd and xv together, and what drops them
// drops the mirror too).
//
// It compares numbers as seenLua's ilt does (not defined yet here), inline.
var saveFastLua = `
local hv = redis.call('HMGET', KEYS[1], 'v', 'l', 'e', 'a')
local cur = hv[1] or '0'
local appended = false
repeat
  if cur ~= ARGV[1] or not hv[4] or hv[2] or not hv[3] or #ARGV > 15 then break end
  local tag, mst, mae, mxd, mrl = string.match(hv[4], '^(%d+) (%S+) (%S+) (%S+) (%S+)$')
  if tag ~= cur then break end
  -- The state's TTL would move (saveScript's refresh).
  -- (Compared as strings of one length, all ms times for centuries:
  -- another length goes to the rest, which compares them as numbers.)
  local se = hv[3]
  if #se ~= #ARGV[5] or #se ~= #ARGV[6] or ARGV[5] < se or se < ARGV[6] then break end
  local rp = '-'
  local arm = ARGV[14]
  if arm ~= '' then
    if string.byte(arm, 1) ~= 99 or mrl == '-' or string.sub(arm, 2) ~= mrl then break end
    rp = mrl
  end
  if ARGV[7] ~= '' then
    if mst ~= ARGV[8] or #mae ~= #ARGV[9] or #mae ~= #ARGV[10] or ARGV[9] < mae or mae < ARGV[10] then break end
    if ARGV[11] == '' and mxd ~= '-' then break end
  elseif mst ~= '-' or mxd ~= '-' then
    break
  end
  -- The seen record first: what it returns may send the save to the rest.
  local e = ARGV[4]
  if e ~= '' then
    local n = redis.pcall('APPEND', KEYS[2], e)
    -- Not a string yet (the format before the record): the rest
    -- converts it; nothing was written.
    if type(n) == 'table' then break end
    if n == #e then
      local now, ttl = string.match(ARGV[15], '^%S+ (%S+) (%S+)')
      redis.call('SET', KEYS[2], now .. ' 0 0 0' .. e, 'PX', ttl)
    elseif n > ` + strconv.Itoa(16*seenMax) + ` then
      appended = true
      break
    end
  end
  local idx = 0
  local a
  if ARGV[7] ~= '' then
    local xd = ARGV[11]
    if xd ~= '' then
      if mxd == '-' then
        -- The job is armed in the record now: its chat (xc) too. While
        -- the mirror names a job, the record holds its xc already.
        idx = 1
        redis.call('HSET', KEYS[3], 'r', ARGV[7], 'xc', string.match(ARGV[15], '^%S+ %S+ %S+ %S+ %S+ (%S+)'), 'xd', xd, 'xv', ARGV[2])
      else
        if #xd < #mxd or (#xd == #mxd and xd < mxd) then idx = 1 end
        redis.call('HSET', KEYS[3], 'r', ARGV[7], 'xd', xd, 'xv', ARGV[2])
      end
    else
      xd = '-'
      redis.call('HSET', KEYS[3], 'r', ARGV[7])
    end
    a = ARGV[2] .. ' ' .. ARGV[8] .. ' ' .. mae .. ' ' .. xd .. ' ' .. rp
  else
    a = ARGV[2] .. ' - - - ' .. rp
  end
  -- The state's HSET: the count and the mark when given (no table).
  local m = ARGV[12]
  if ARGV[13] ~= '' then
    local tat, hc = string.match(ARGV[13], '^(%d+) (%d+)$')
    if m ~= '' then
      redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 't', tat, 'h', hc, 'm', m, 'a', a)
    else
      redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 't', tat, 'h', hc, 'a', a)
    end
  elseif m ~= '' then
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 'm', m, 'a', a)
  else
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 'a', a)
  end
  return 1 + idx
until true
`

// saveCommonScript is a common save (saveFastLua's) as Go decided it
// from the chat's read (decideCommon: session 12): Go found the state at
// the version it replaces, with a mirror of that version, and worked out
// what the head would, so the script neither parses the mirror nor
// compares times. It checks that the state's mirror (field a) is still
// the one Go read — the compare-and-swap: the mirror names the version,
// every save writes it with v in one HSET, and what changes the record
// or the reminder between saves drops it (saveScript's comment); the
// state's e and l change only with a save — and that the seen record is
// still a string (APPEND), and then writes what the head writes: the
// seen record's APPEND, the record's HSET, the state's HSET. Otherwise
// it returns -2 (saveCommonMissed), having written nothing (an APPEND
// that made a record anew is deleted), and Go sends the save to
// saveScript.
//
// KEYS: state hash, seen record, abandonment record hash (only with a
// record). ARGV: 1 the mirror read, 2 new version, 3 blob, 4 the seen
// record's entries (saveScript's 4), 5 the new mirror, 6 record JSON (""
// = none: nothing was there either), 7 the expiry job's due time ("" =
// none, and none was armed), 8 the mark's message id, 9 and 10 the
// inbound count's tat and highest id ("" = none), 11 the job's chat (xc:
// written when the job is armed anew); 7-11 only up to the last that is
// not empty. Returns, when saved (Go knows idx), 1 when nothing was
// appended to the seen record, else the record's length after the APPEND
// (more than 1: an entry is at least 4 bytes, and the record had some):
// Go compares it with what it knows of the record (warm.go).
var saveCommonScript = newScript(`
if redis.call('HGET', KEYS[1], 'a') ~= ARGV[1] then return -2 end
local e = ARGV[4]
local n = 1
if e ~= '' then
  n = redis.pcall('APPEND', KEYS[2], e)
  if type(n) == 'table' then return -2 end
  if n == #e then
    redis.call('DEL', KEYS[2])
    return -2
  end
end
if ARGV[6] ~= '' then
  local xd = ARGV[7] or ''
  if xd == '' then
    redis.call('HSET', KEYS[3], 'r', ARGV[6])
  elseif ARGV[11] then
    redis.call('HSET', KEYS[3], 'r', ARGV[6], 'xc', ARGV[11], 'xd', xd, 'xv', ARGV[2])
  else
    redis.call('HSET', KEYS[3], 'r', ARGV[6], 'xd', xd, 'xv', ARGV[2])
  end
end
local m, tat = ARGV[8] or '', ARGV[9] or ''
if tat ~= '' then
  if m ~= '' then
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 't', tat, 'h', ARGV[10], 'm', m, 'a', ARGV[5])
  else
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 't', tat, 'h', ARGV[10], 'a', ARGV[5])
  end
elseif m ~= '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 'm', m, 'a', ARGV[5])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3], 'a', ARGV[5])
end
return n
`)

// saveScript is the compare-and-swap of a chat's state. It marks the update
// applied and sets or clears the abandonment record in the same atomic step.
// Before the compare-and-swap, whatever its outcome, it writes the chat's
// deferred tail (tail.go) and the inbound count made by LoadCounting into
// the seen record: the turn's read runs no script.
//
// KEYS: state hash, seen record, abandonment record hash, language-choice
// record (published.go), the chat's completions hash (outbox.go), reminder
// hash, sent message zset. A new key goes at the end (8…). Only the first
// three always (Store.save gives the rest up to the last it knows the save
// needs): a save whose rest needs one it was not given returns -1
// before it writes anything, and Go sends it again with all seven.
// ARGV (Store.save; session 11): 1 expected version ("0" = none), 2
// new version, 3 blob, 4 the seen record's entries, appended as they are
// by a common save: " <id>:s" for each update of the tail marked sent,
// then " <update>:a" for the update applied ("" = none of either), 5 the
// state's expiry (now + TTL, ms), 6 that less the slack (ttlSlack), 7
// record JSON ("" = delete the record), 8 record's interview (started
// ms), 9 and 10 the record's expiry and that less the slack, 11 the expiry
// job's due time (ms; "" = none: the job is dropped; its chat, xc, is
// read from 15), 12 the message id of the chat's deferred mark ("" =
// none: m is left as it is), written with the state (the mark belongs to
// the version replaced: the compare-and-swap checks it; tail.go), 13 the
// inbound count ("<tat> <highest id counted>", "" = none;
// Store.LoadCounting), 14 the tail's arm ("" = none; tailArgs), 15 the
// arguments a save seldom needs, space-separated and read only when
// needed: state TTL (ms), now (ms), seen TTL (ms), record TTL (ms), a
// fresh random record id ("-" without a record), the chat id, then, with
// an arm, the arm's due time, TTL, expiry and that less the slack (the
// tail's numbers after its chat id: appendArmNums). 16-19 only up to the
// last that is not empty (a common save has 15 arguments): 16 now less
// the seen TTL's slack ("" when Go read the record's TTL set less than
// the slack ago, or a save of no tail, count or completion: the record is
// appended to), 17 the form whose language choice the saved state waits
// at ("" = none), 18 a completion ("" = none: "<length of its idempotency
// key>:<key><entry>"), its entry set under its key in KEYS[5] when the
// version matches (outbox.go), 19 the tail's sent ids ("" = none;
// tailArgs).
//
// Each key or argument costs Redis ~1.5–2k instructions (the RESP
// argument, its Lua string interned, its slot in KEYS or ARGV, and the
// garbage collector's share; session 11's callgrind): a common save sends
// 3 keys and 15 arguments, where it sent 7 and 22 before session 11
// (1-3, 4 the update id, 5-10, 11 the job's chat, 12 its due time, 13
// the form waited at, 14 the seldom argument, 15 the mark, 16 the
// completion, 17 the count, 18 pxafter, 19-21 the tail's arm, the arm's
// numbers and sent ids, from 22 the marked updates, one each); earlier
// layouts in sessions 6 and 7. Each replica sends its own layout to its
// own script (another SHA); what is stored is the same.
//
// The expiry job lives in the record (xc, xd, xv = chat, due, the version
// it was armed at), so that it goes when the record goes (completion,
// erasure, expiry). The language-choice record is written when the state
// comes to a choice (field l of the state hash remembers the form) and
// deleted when it leaves it, in the same step as the save
// (Store.SaveWaiting).
// Returns 1 + idx for a common save (its head), -1 for a key not given,
// else {1, started, left, idx, ridx} when saved, {0, "", "", 0, ridx} on
// a version conflict (nothing of the state changed); started is the
// interview (started ms) whose record was deleted or replaced, "" when
// none: its abandonment index member is stale; left is the form whose
// language choice the state has just left ("" when none): its
// language-choice index member goes (another slot); idx is 1 when the
// expiry job's index member must be added (another slot); ridx is 1 when
// the tail's reminder needs its index member (tailLua).
//
// The state hash and the record keep e, the expiry (ms) last set on them:
// their TTL is set only when it would move by more than ttlslack (at most
// an hour), not on every save.
//
// The state hash's field a mirrors what the save left in the abandonment
// record and the reminder ("<version> <started> <record's e> <job's due>
// <reminder's language>", "-" for none; session 8): the next save, while
// the state is still at that version, reads neither key (an HMGET of each,
// ~10k instructions apiece); a save of a turn that only moves to the next
// question makes four calls (the state's HMGET and HSET, the seen
// record's APPEND, the record's HSET). Saves of replicas of the release
// before do not write it, so it goes stale at their version and the keys
// are read as before; expireDoneScript and CancelReminder, which change the
// record or the reminder between saves, drop it.
//
// Its head (saveFastLua) writes that common save on its own, before the
// helpers below are made; the rest of the script does every other.
var saveScript = newScript(saveFastLua + seenLua + tailLua + `
-- refresh says whether a key's TTL must be set: it was never set through
-- e (the expiry last set, ms), or the new one (exp) would end earlier, or
-- later than low (exp less the slack). The TTLs are a safety net (the
-- expiry job and the abandonment sweep are the mechanisms): ending up to
-- the slack early spares a PEXPIRE per key and save.
local function refresh(e, exp, low)
  return not e or ilt(exp, e) or ilt(e, low)
end
local rare
local function seldom()
  if not rare then
    rare = {string.match(ARGV[15], '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)(.*)$')}
  end
  return rare
end
local left = ''
-- The mirror (the state hash's a: "<version> <st> <e> <xd> <lang>", "-"
-- for none): what the save that wrote that version left in the
-- abandonment record (its interview, the expiry last set on it, the
-- expiry job's due time) and the reminder (the language it is pending
-- in). It holds while the state is at that version: mst is nil
-- otherwise (a save of a replica of the release before, which does not
-- write it, or none yet), and the keys are read. What changes the record
-- or the reminder between saves drops it (expireDoneScript,
-- CancelReminder): the rest (Ack, a sent or refused reminder) leaves
-- nothing a save would write.
local mst, mae, mxd, mrl
if hv[4] then
  local tag
  tag, mst, mae, mxd, mrl = string.match(hv[4], '^(%d+) (%S+) (%S+) (%S+) (%S+)$')
  if tag ~= cur then mst = nil end
end
local known
if mst and mrl ~= '-' then known = mrl end
-- The chat's deferred tail (reminder, sent ids; its marks are appended
-- to the seen record below) is written whatever becomes of the state.
-- The keys beyond the first three are given only when Go knows the save
-- needs them (Store.save): one that it needs and was not given (it leaves
-- a language choice, or its arm checks a reminder the mirror does not
-- know) refuses the save before anything is written (-1: Go sends it
-- again with all seven). The head's APPEND is made only when none is.
do
  local arm, need = ARGV[14], 3
  if ARGV[19] and ARGV[19] ~= '' then
    need = 7
  elseif arm ~= '' and not (known == string.sub(arm, 2) and string.byte(arm, 1) == 99) then
    need = 6
  elseif ARGV[18] and ARGV[18] ~= '' then
    need = 5
  elseif cur == ARGV[1] and ((ARGV[17] or '') ~= '' or hv[2]) then
    need = 4
  end
  if #KEYS < need then return -1 end
end
local ridx, rp = tail(KEYS[1], KEYS[2], KEYS[6], KEYS[7], 0, function() return seldom()[6] .. seldom()[7] end, known)
local pxafter = ARGV[16] or ''
-- seenwrite writes the tail's marks (ARGV 4's ":s" entries) and, when own,
-- the update applied (its ":a" entry) into the seen record: appended (one
-- APPEND, the record is not read) while its TTL is fresh (pxafter "": Go
-- read it set less than the slack ago, or a save without tail or count,
-- which does not tell); read and rewritten (seenLua) when its TTL is to
-- be set again, when it is not a string yet, or to trim it once it is
-- long.
local function seenwrite(own)
  local U = KEYS[2]
  local e = ARGV[4]
  if not own then e = string.gsub(e, ' %-?%d+:a', '') end
  if pxafter == '' and not appended then
    if e == '' then return end
    local n = redis.pcall('APPEND', U, e)
    if type(n) ~= 'table' then
      if n == #e then
        redis.call('SET', U, seldom()[2] .. ' 0 0 0' .. e, 'PX', seldom()[3])
        return
      end
      if n <= ` + strconv.Itoa(16*seenMax) + ` then return end
    end
  end
  seenload(U)
  for id, f in string.gmatch(e, '(%-?%d+):(%a)') do seenmark(id, f, ` + strconv.Itoa(seenMax) + `) end
  seensave(U, seldom()[2], seldom()[3], pxafter)
end
if cur ~= ARGV[1] then
  seenwrite(false)
  -- The tail moved the reminder off what the mirror says: drop it.
  if known and ARGV[14] ~= '' and rp ~= known then redis.call('HDEL', KEYS[1], 'a') end
  return {0, '', '', 0, ridx}
end
-- A completion recorded with the save (Store.SaveDoneCompleted, outbox.go):
-- KEYS[5], ARGV 18 "<key length>:<key><entry>", only when given.
if ARGV[18] and ARGV[18] ~= '' then
  local c = ARGV[18]
  local p = string.find(c, ':', 1, true)
  local kn = tonumber(string.sub(c, 1, p - 1))
  redis.call('HSET', KEYS[5], string.sub(c, p + 1, p + kn), string.sub(c, p + kn + 1))
end
-- The abandonment record as it is: from the mirror while it holds, else
-- read. What it becomes is worked out here, so that the mirror goes
-- into the state's HSET; it is written after it.
local ar
if mst then
  ar = {mst ~= '-' and mst, mae ~= '-' and mae, mxd ~= '-' and mxd}
else
  ar = redis.call('HMGET', KEYS[3], 'st', 'e', 'xd')
end
local old = ar[1] or ''
local rh, rx
local idx = 0
local mirror = ' - - - '
if ARGV[7] ~= '' then
  rh = {'r', ARGV[7]}
  -- The id identifies one interview: keep it while the interview (its
  -- start) is the same, take the fresh one when a new interview begins.
  local fresh = old ~= ARGV[8]
  if fresh then
    rh[#rh + 1] = 'id'
    rh[#rh + 1] = seldom()[5]
    rh[#rh + 1] = 'st'
    rh[#rh + 1] = ARGV[8]
  else
    old = ''
  end
  rx = fresh or refresh(ar[2], ARGV[9], ARGV[10])
  local ae = ar[2]
  if rx then
    rh[#rh + 1] = 'e'
    rh[#rh + 1] = ARGV[9]
    ae = ARGV[9]
  end
  -- idx: the expiry job's index member must be (re)added — the job is
  -- armed anew, or earlier than before. Otherwise the member there holds
  -- an earlier due time: a hint that the claim re-scores
  -- (claimExpireScript).
  local xd = '-'
  if ARGV[11] ~= '' then
    rh[#rh + 1] = 'xc'
    rh[#rh + 1] = seldom()[6]
    rh[#rh + 1] = 'xd'
    rh[#rh + 1] = ARGV[11]
    rh[#rh + 1] = 'xv'
    rh[#rh + 1] = ARGV[2]
    xd = ARGV[11]
    if fresh or not ar[3] or ilt(ARGV[11], ar[3]) then idx = 1 end
  end
  mirror = ' ' .. ARGV[8] .. ' ' .. ae .. ' ' .. xd .. ' '
end
local h = {'v', ARGV[2], 'b', ARGV[3]}
if ARGV[13] ~= '' then
  -- The inbound count made in Go (Store.LoadCounting): "<tat> <hc>".
  local tat, hc = string.match(ARGV[13], '^(%d+) (%d+)$')
  h[#h + 1] = 't'
  h[#h + 1] = tat
  h[#h + 1] = 'h'
  h[#h + 1] = hc
end
if ARGV[12] ~= '' then
  h[#h + 1] = 'm'
  h[#h + 1] = ARGV[12]
end
h[#h + 1] = 'a'
h[#h + 1] = ARGV[2] .. mirror .. (rp or '-')
-- A new state (cur "0": no hash, or one without a version) always gets its
-- TTL: a hash without one would leak.
local sx = cur == '0' or refresh(hv[3], ARGV[5], ARGV[6])
if sx then
  h[#h + 1] = 'e'
  h[#h + 1] = ARGV[5]
end
local wait = ARGV[17] or ''
if wait ~= '' then
  h[#h + 1] = 'l'
  h[#h + 1] = wait
  redis.call('HSET', KEYS[4], 'c', seldom()[6], 'f', wait)
  redis.call('PEXPIRE', KEYS[4], seldom()[1])
elseif hv[2] then
  redis.call('HDEL', KEYS[1], 'l')
  redis.call('DEL', KEYS[4])
  left = hv[2]
end
redis.call('HSET', KEYS[1], unpack(h))
if sx then redis.call('PEXPIRE', KEYS[1], seldom()[1]) end
seenwrite(true)
if not rh then
  if ar[1] or ar[3] then redis.call('DEL', KEYS[3]) end
  return {1, old, left, 0, ridx}
end
if ARGV[11] == '' and ar[3] then
  redis.call('HDEL', KEYS[3], 'xc', 'xd', 'xv')
end
redis.call('HSET', KEYS[3], unpack(rh))
if rx then redis.call('PEXPIRE', KEYS[3], seldom()[4]) end
return {1, old, left, idx, ridx}
`)

// markSentScript records that an update's replies were sent, and the id of
// the message now showing the current question (in the state hash, if the
// chat has a state: a bare hash without TTL would leak).
//
// KEYS: seen record, state hash. ARGV: update id, now (ms), now less the
// seen TTL's slack (ms; seenLua), seen TTL (ms), most seen ids kept,
// message id.
var markSentScript = newScript(seenLua + `
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'm', ARGV[6])
end
seenload(KEYS[1])
seenmark(ARGV[1], 's', tonumber(ARGV[5]))
seensave(KEYS[1], ARGV[2], ARGV[4], ARGV[3])
return 1
`)

// inspectScript tells DueAbandoned what became of one indexed interview.
//
// KEYS: state hash, abandonment record hash. ARGV: the interview (started ms).
// Returns {0} when the record is gone or belongs to another interview,
// {1, pttl} while the state lives (pttl -1: no expiry), and {2, id, record}
// when the state expired and the record waits to be collected.
var inspectScript = newScript(`
if redis.call('HGET', KEYS[2], 'st') ~= ARGV[1] then return {0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl ~= -2 then return {1, ttl} end
local r = redis.call('HMGET', KEYS[2], 'id', 'r')
if not r[1] or not r[2] then return {0} end
return {2, r[1], r[2]}
`)

// ackScript deletes an abandonment record once collected, unless a new
// interview has replaced it meanwhile.
//
// KEYS: abandonment record hash. ARGV: the interview (started ms).
var ackScript = newScript(`
if redis.call('HGET', KEYS[1], 'st') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)

// enqueueScript adds an outbox entry unless its key is already queued, and
// indexes it under its owner (a tag derived from the respondent's
// pseudonym) so that erasure finds it without reading payloads.
//
// KEYS: queue zset, payload hash, owner hash (key → owner), owner set of
// this entry's owner ("" owner: no index). ARGV: key, payload, now (ms),
// owner.
// Returns 1 when added, 0 when the key was already there.
var enqueueScript = newScript(`
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
    redis.call('SADD', KEYS[4], ARGV[1])
  end
  return 1
end
return 0
`)

// doneScript removes an outbox entry written to the system of record, and
// its owner index entry.
//
// KEYS: queue zset, payload hash, owner hash. ARGV: key, owner set key
// prefix.
var doneScript = newScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local o = redis.call('HGET', KEYS[3], ARGV[1])
if o then
  redis.call('SREM', ARGV[2] .. o, ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
end
return 1
`)

// eraseOwnerScript deletes every outbox entry and dead letter of one owner.
//
// KEYS: queue zset, payload hash, dead-letter hash, dead-letter time zset,
// owner hash, owner set. Returns how many entries it deleted.
var eraseOwnerScript = newScript(`
local ks = redis.call('SMEMBERS', KEYS[6])
local n = 0
for _, k in ipairs(ks) do
  n = n + redis.call('HDEL', KEYS[2], k) + redis.call('HDEL', KEYS[3], k)
  redis.call('ZREM', KEYS[1], k)
  redis.call('ZREM', KEYS[4], k)
  redis.call('HDEL', KEYS[5], k)
end
redis.call('DEL', KEYS[6])
return n
`)

// pendingScript lists the oldest outbox entries.
//
// KEYS: queue zset, payload hash. ARGV: last rank (limit-1).
// Returns a flat list of key, enqueued (ms), payload.
var pendingScript = newScript(`
local q = redis.call('ZRANGE', KEYS[1], 0, ARGV[1], 'WITHSCORES')
local out = {}
for i = 1, #q, 2 do
  local p = redis.call('HGET', KEYS[2], q[i])
  if p then
    out[#out + 1] = q[i]
    out[#out + 1] = q[i + 1]
    out[#out + 1] = p
  end
end
return out
`)

// buryScript moves an outbox entry that a writer rejected for good to the
// dead letters, kept DeadTTL: each bury first drops dead letters older than
// that (and the owner index entries of those), and the dead-letter keys
// expire DeadTTL after the last bury.
//
// KEYS: queue zset, payload hash, dead-letter hash, dead-letter time zset,
// owner hash. ARGV: key, now (ms), oldest kept (ms), dead TTL (ms), owner
// set key prefix.
var buryScript = newScript(`
local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[3])
for _, k in ipairs(old) do
  redis.call('HDEL', KEYS[3], k)
  redis.call('ZREM', KEYS[4], k)
  local o = redis.call('HGET', KEYS[5], k)
  if o then
    redis.call('SREM', ARGV[5] .. o, k)
    redis.call('HDEL', KEYS[5], k)
  end
end
local p = redis.call('HGET', KEYS[2], ARGV[1])
if p then
  redis.call('HSET', KEYS[3], ARGV[1], p)
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
  local o = redis.call('HGET', KEYS[5], ARGV[1])
  if o then redis.call('PEXPIRE', ARGV[5] .. o, ARGV[4]) end
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`)
