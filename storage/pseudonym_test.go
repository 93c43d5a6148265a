package storage_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/storage"
)

func TestPseudonym(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	got := storage.Pseudonym(key, 123456789)

	m := hmac.New(sha256.New, key)
	m.Write([]byte("123456789"))
	if want := hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("Pseudonym = %s, want %s", got, want)
	}
	if len(got) != 64 || strings.Contains(got, "123456789") {
		t.Fatalf("Pseudonym = %q: want 64 hex chars without the id", got)
	}
	if storage.Pseudonym(key, 123456789) != got {
		t.Fatal("Pseudonym is not deterministic")
	}
	if storage.Pseudonym(key, 123456780) == got {
		t.Fatal("different users share a pseudonym")
	}
	if storage.Pseudonym([]byte("another key, another pseudonym!!"), 123456789) == got {
		t.Fatal("the key does not change the pseudonym")
	}
	if storage.Pseudonym(key, -100123) == storage.Pseudonym(key, 100123) {
		t.Fatal("sign ignored")
	}
}
