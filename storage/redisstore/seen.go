package redisstore

import (
	"strconv"
	"strings"
	"time"
)

// The seen record of a chat (key <prefix>{c:N}:u) is one Redis string,
// read and written whole by the scripts — a GET and a SET where a sorted
// set took four or five commands per write:
//
//	"<written ms> <floor> <tat> <told> <id>:<f> <id>:<f> …"
//
// written: when the record was last written (the injected clock, so that
// tests can age it; the key also expires SeenTTL after its last write).
// floor: the highest update id dropped from the record to keep it at
// seenMax entries: a Telegram update id (positive; the keys of other
// inputs are negative hashes, without order) at or below it that is not
// listed is reported
// SeenSent (an update that old was handled long ago: dropping it is
// safer than applying it twice; Telegram delivers a chat's updates in
// order, so a first delivery can never be seenMax updates late).
// tat, told: the per-person inbound limit (GCRA theoretical arrival time,
// ms, and until when the person counts as told to slow down), so that the
// limit costs no key and no command of its own (see Store.Inbound). tat
// may end in ":<id>": the highest Telegram update id counted against the
// limit, so that a copy of an update (two webhook replicas) or an older
// one is not counted again.
// Each entry is an update id with f = a (applied) or s (replies sent),
// oldest first. An id above every listed one, or between listed ones
// (out-of-order delivery), is not seen.

// seenLua reads, changes and writes the seen record. It defines seenload,
// seenmark and seensave over a local table sv; seensave writes only when
// something changed and returns the record as stored.
//
// written is when the record's TTL was last set: seensave sets it (and
// written) only when written is before pxafter (now less ttlSlack of the
// seen TTL), and otherwise keeps both (SET KEEPTTL). So the key still
// expires SeenTTL after written, never later than SeenTTL after the last
// write, and at most the slack (1/24 of SeenTTL, at most an hour) earlier
// than SeenTTL after it; Load's "older than SeenTTL is gone" holds as
// before. Replicas of the release before set PX on every write: both mix.
//
// Numbers stay strings where they can: a tonumber of a millisecond time
// costs Redis's Lua (strtod, twice) more than a GET of the same key, and
// a string.format as much. ilt compares two non-negative decimal integers
// (no sign, no leading zeros) as strings.
const seenLua = `
local sv = {raw = '', f = '0', tat = '0', hc = '0', told = '0', body = '', dirty = false}
local function ilt(a, b)
  local la, lb = #a, #b
  if la ~= lb then return la < lb end
  return a < b
end
local function seenload(U)
  local v = redis.pcall('GET', U)
  if type(v) == 'table' then
    -- A sorted set of the format before the record (members "<id>" and
    -- "<id>:sent"): read it into a record, written back by seensave.
    local seen = {}
    local order = {}
    for _, m in ipairs(redis.call('ZRANGE', U, 0, -1)) do
      local id, sent = string.match(m, '^(%-?%d+)(.*)$')
      if id then
        if not seen[id] then order[#order + 1] = id end
        if sent == ':sent' or seen[id] == 's' then seen[id] = 's' else seen[id] = 'a' end
      end
    end
    for _, id in ipairs(order) do sv.body = sv.body .. ' ' .. id .. ':' .. seen[id] end
    redis.call('DEL', U)
    sv.dirty = true
    return
  end
  if v then
    local w, f, tat, told, body = string.match(v, '^(%d+) (%d+) (%S+) (%S+)(.*)$')
    if w then
      sv.raw, sv.w, sv.f, sv.tat, sv.told, sv.body = v, w, f, tat, told, body
      local t, hc = string.match(tat, '^([^:]*):(%d+)$')
      if t then sv.tat, sv.hc = t, hc end
    end
  end
end
local function seenmark(id, flag, maxn)
  local key = ' ' .. id .. ':'
  local body = sv.body
  local p = string.find(body, key, 1, true)
  if p then
    local q = p + #key
    if string.sub(body, q, q) ~= 's' then
      body = string.sub(body, 1, q - 1) .. flag .. string.sub(body, q + 1)
    end
  else
    body = body .. key .. flag
  end
  -- An entry takes at least 4 bytes: count them only when there may be
  -- too many.
  local n = 0
  if #body > 4 * maxn then n = select(2, string.gsub(body, ' ', ' ')) end
  -- The oldest entries go in one pass: the cut is found entry by entry
  -- without copying, then the body is cut once (a copy of the rest per
  -- dropped entry made a long record's trim quadratic: ~100M
  -- instructions for the ~300 entries dropped from a 16 KB record).
  local pos = 1
  while n > maxn do
    local _, e, old = string.find(body, '^ (%-?%d+):%a', pos)
    if tonumber(old) > tonumber(sv.f) then sv.f = old end
    pos = e + 1
    n = n - 1
  end
  if pos > 1 then body = string.sub(body, pos) end
  sv.body = body
  sv.dirty = true
end
local function seensave(U, now, ttl, pxafter)
  if sv.dirty then
    local tat = sv.tat
    if sv.hc ~= '0' then tat = tat .. ':' .. sv.hc end
    if sv.w and pxafter and not ilt(sv.w, pxafter) then
      -- Its TTL was set at w, less than the slack ago: kept (a SET with
      -- PX costs Redis ~6.7k instructions more, rewritten to PXAT).
      sv.raw = sv.w .. ' ' .. sv.f .. ' ' .. tat .. ' ' .. sv.told .. sv.body
      redis.call('SET', U, sv.raw, 'KEEPTTL')
    else
      sv.raw = now .. ' ' .. sv.f .. ' ' .. tat .. ' ' .. sv.told .. sv.body
      redis.call('SET', U, sv.raw, 'PX', ttl)
    end
    sv.dirty = false
  end
  return sv.raw
end
`

// seenOf tells from a seen record (as read by a script) how far update id
// was handled: the record counts as gone once it is older than ttl.
func seenOf(rec string, id int64, now time.Time, ttl time.Duration) Seen {
	w, rest, ok := strings.Cut(rec, " ")
	if !ok {
		return SeenNone
	}
	written, err := strconv.ParseInt(w, 10, 64)
	if err != nil || now.UnixMilli()-written > ttl.Milliseconds() {
		return SeenNone
	}
	f, rest, _ := strings.Cut(rest, " ")
	floor, _ := strconv.ParseInt(f, 10, 64)
	// Skip tat and told.
	_, rest, _ = strings.Cut(rest, " ")
	_, body, _ := strings.Cut(rest, " ")
	var buf [24]byte
	key := strconv.AppendInt(buf[:0], id, 10)
	key = append(key, ':')
	// An id may be listed twice (a save appends "<id>:s" after "<id>:a"
	// rather than rewrite the record): "s" wins.
	applied := false
	for body != "" {
		var entry string
		entry, body, _ = strings.Cut(body, " ")
		if len(entry) == len(key)+1 && entry[:len(key)] == string(key) {
			if entry[len(key)] == 's' {
				return SeenSent
			}
			applied = true
		}
	}
	if applied {
		return SeenApplied
	}
	if id > 0 && id <= floor {
		return SeenSent
	}
	return SeenNone
}
