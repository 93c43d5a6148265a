package interview

import (
	"hash/fnv"
	"strconv"
)

// Kind is what brought an input.
type Kind uint8

// Input kinds. A chat input is interpreted by the channel within the turn
// (Channel.Present); the others the core applies itself and hands the
// channel the result to render.
const (
	// KindChat is a person's message or tap (a Telegram update), or a staff
	// action made in the chat; the channel interprets it.
	KindChat Kind = iota
	// KindExpire says the interview idled out: dialog.InExpire is applied.
	KindExpire
	// KindRemind says the interview's one reminder is due (issue 16).
	KindRemind
	// KindPublished is a staff action outside any chat: a version of a
	// form (Input.Form, Input.FormVersion) was published while the chat's
	// interview runs, delivered to each chat with its PublishedKey. An
	// interview past the language choice keeps the version it started
	// with (its consent was given on that version's text); one still at
	// the language choice moves to the published version, silently. See
	// doc.go.
	KindPublished
	// KindShow is a staff action in the chat whose messages went out after
	// its turn (work queued off the turn: a poster, a chart, an export):
	// during an interview the channel shows the current question again
	// below them; nothing else changes. Its Key names the staff update.
	KindShow
)

var kindNames = [...]string{"chat", "expire", "remind", "published", "show"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind" + strconv.Itoa(int(k))
}

// Key is an input's idempotency key: the same key is applied at most once
// (Sessions dedups it with the session, in the same round trip). Telegram
// update ids are positive; keys of other inputs are derived from a name and
// negative, so the two never meet. The zero Key dedups nothing.
type Key struct{ id int64 }

// UpdateKey is the key of a Telegram update.
func UpdateKey(update int64) Key { return Key{id: update} }

// NamedKey is the key of an input that is not a Telegram update, derived
// from a name that is stable across retries (for example
// "remind|<chat>|<due>").
func NamedKey(name string) Key {
	h := fnv.New64a()
	h.Write([]byte(name))
	return Key{id: -int64(h.Sum64()>>1) - 1}
}

// ID is the key as Sessions stores it.
func (k Key) ID() int64 { return k.id }

// Input is one thing that moves an interview, whatever brought it.
type Input struct {
	Kind Kind
	Key  Key
	Chat int64
	// User is the person (a Telegram user id) for a chat input, 0 for a
	// scheduled one. It never leaves the core but as a keyed pseudonym.
	User int64
	// LangHint is Telegram's language_code, when known.
	LangHint string
	// InFlightGrace, for a chat input, says another process may be
	// handling a copy of it right now (a webhook delivery: replicas behind
	// a balancer): found applied but not yet sent, it is not replayed but
	// refused with ErrInFlight, to be tried again in a moment, when the
	// other process has sent its replies and marked them.
	InFlightGrace bool
	// Version, for KindExpire, is the session version the expiry job was
	// armed at: an interview that moved on since is not expired (its
	// newer save armed a newer job). 0 expires whatever version is stored.
	Version uint64
	// Form and FormVersion, for KindPublished, are the form version that
	// was published.
	Form        string
	FormVersion int
}

// RemindKey is the idempotency key of the reminder due at dueMS for chat.
func RemindKey(chat, dueMS int64) Key {
	return NamedKey("remind|" + strconv.FormatInt(chat, 10) + "|" + strconv.FormatInt(dueMS, 10))
}

// ExpireKey is the idempotency key of the expiry of chat's session at
// version.
func ExpireKey(chat int64, version uint64) Key {
	return NamedKey("expire|" + strconv.FormatInt(chat, 10) + "|" + strconv.FormatUint(version, 10))
}

// ShowKey is the idempotency key of showing chat's question again below
// the messages of staff work queued by update (KindShow).
func ShowKey(chat, update int64) Key {
	return NamedKey("show|" + strconv.FormatInt(chat, 10) + "|" + strconv.FormatInt(update, 10))
}

// PublishedKey is the idempotency key of the staff action "version of
// form published" delivered to chat: each chat applies it once.
func PublishedKey(form string, version int, chat int64) Key {
	return NamedKey("published|" + form + "|" + strconv.Itoa(version) + "|" + strconv.FormatInt(chat, 10))
}
