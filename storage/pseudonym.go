package storage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Pseudonym returns the keyed pseudonym of a Telegram user: the lowercase hex
// HMAC-SHA256, under key, of the user id written in decimal ASCII (64
// characters).
//
// Respondents reach Postgres only under this pseudonym. Without the key it
// cannot be reversed by enumerating the (small) space of Telegram user ids,
// which a plain hash could; with it, /delete can find a respondent's
// responses again. Rotating the key therefore orphans earlier responses from
// erasure, so the key must be kept for as long as identified responses are
// (see pgstore's ApplyRetention). key should be at least 32 random bytes;
// the caller validates configuration.
func Pseudonym(key []byte, telegramUserID int64) string {
	m := hmac.New(sha256.New, key)
	m.Write(strconv.AppendInt(nil, telegramUserID, 10))
	return hex.EncodeToString(m.Sum(nil))
}

// Keyed returns a keyed, domain-separated derivation of a Telegram id: the
// lowercase hex HMAC-SHA256, under key, of domain + "|" + the id in decimal.
// Each use (log lines, Redis keys…) takes its own domain, so no derived
// value equals, or is a prefix of, the pseudonym stored with responses, and
// values of one domain cannot be joined with another's without the key.
func Keyed(key []byte, domain string, id int64) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain))
	m.Write([]byte{'|'})
	m.Write(strconv.AppendInt(nil, id, 10))
	return hex.EncodeToString(m.Sum(nil))
}
