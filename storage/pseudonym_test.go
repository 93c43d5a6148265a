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

func TestKeyedIsDomainSeparated(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	p := storage.Pseudonym(key, 42)
	l := storage.Keyed(key, "log", 42)
	r := storage.Keyed(key, "redis", 42)
	if l == r || l[:12] == p[:12] || r[:12] == p[:12] || strings.HasPrefix(p, l[:12]) {
		t.Fatalf("derivations collide: pseudonym %s log %s redis %s", p, l, r)
	}
	if storage.Keyed(key, "log", 42) != l || storage.Keyed(key, "log", 43) == l {
		t.Fatal("Keyed not deterministic per id")
	}
	if len(l) != 64 {
		t.Fatalf("want 64 hex characters, got %q", l)
	}
}
