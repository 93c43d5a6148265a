package staff

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// StaffTokenPrefix starts every staff link token, and no respondent invite
// token: /start payloads with it are staff links (Start), all others
// respondent invites (Resolve).
const StaffTokenPrefix = "staff-"

// Token sizes: 15 bytes (120 bits, random or keyed) make a 20-character
// respondent token, short enough for a small, robust QR code; staff links carry 18
// (144 bits). Both are base64url (A-Z a-z 0-9 - _), as Telegram's /start
// payload requires, and well under its 64 characters.
const (
	inviteTokenBytes = 15
	staffTokenBytes  = 18
)

func randomToken(rnd io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("staff: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// inviteToken derives the token of the respondent invite with id from the
// secret key: HMAC-SHA256(key, domain | id), its first 15 bytes
// (120 bits) in base64url. Only the token's hash is stored, and the key is
// not in the database, so neither a dump nor a backup opens an invite; the
// bot, holding the key, can print an invite's poster again. ok is false in
// the (2^-36) case of a token that looks like a staff link: take another
// id.
func inviteToken(key []byte, id int64) (token string, ok bool) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("needsbot invite token v1|" + strconv.FormatInt(id, 10)))
	t := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:inviteTokenBytes])
	return t, !strings.HasPrefix(t, StaffTokenPrefix)
}

// NewStaffToken returns a staff link token drawn from rnd (crypto/rand).
func NewStaffToken(rnd io.Reader) (string, error) {
	t, err := randomToken(rnd, staffTokenBytes)
	return StaffTokenPrefix + t, err
}

// IsStaffToken reports whether a /start payload is a staff link token.
func IsStaffToken(payload string) bool { return strings.HasPrefix(payload, StaffTokenPrefix) }

// DeepLink is the link that opens the bot with a /start payload.
func DeepLink(botUsername, token string) string {
	return "https://t.me/" + botUsername + "?start=" + token
}
