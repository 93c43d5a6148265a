package staff

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// StaffTokenPrefix starts every staff link token, and no respondent invite
// token: /start payloads with it are staff links (Start), all others
// respondent invites (Resolve).
const StaffTokenPrefix = "staff-"

// Token sizes: 15 random bytes (120 bits) make a 20-character respondent
// token, short enough for a small, robust QR code; staff links carry 18
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

// newInviteToken returns a respondent invite token, never one that looks
// like a staff link.
func newInviteToken(rnd io.Reader) (string, error) {
	for {
		t, err := randomToken(rnd, inviteTokenBytes)
		if err != nil || !strings.HasPrefix(t, StaffTokenPrefix) {
			return t, err
		}
	}
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
