package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDeploySecretPlaceholdersRefused: the webhook secret placeholder of
// deploy/k8s/secret.example.yaml is refused by `needsbot run`'s
// validation (a forgotten placeholder must fail loudly, not run with a
// guessable secret), and a real one passes.
func TestDeploySecretPlaceholdersRefused(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "k8s", "secret.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*NEEDSBOT_WEBHOOK_SECRET:\s*"([^"]*)"`).FindSubmatch(data)
	if m == nil {
		t.Fatal("no NEEDSBOT_WEBHOOK_SECRET in secret.example.yaml")
	}
	validate := func(secret string) error {
		env := map[string]string{
			"NEEDSBOT_TELEGRAM_TOKEN": "123456:ABCdef_-",
			"NEEDSBOT_PSEUDONYM_KEY":  strings.Repeat("k", 32),
			"NEEDSBOT_WEBHOOK_URL":    "https://needsbot.example.it/telegram/webhook",
			"NEEDSBOT_WEBHOOK_SECRET": secret,
		}
		cfg, _, err := loadConfig("run", nil, func(k string) string { return env[k] }, &bytes.Buffer{})
		if err != nil {
			return err
		}
		return cfg.validateRun()
	}
	if err := validate(string(m[1])); err == nil || !strings.Contains(err.Error(), "NEEDSBOT_WEBHOOK_SECRET") {
		t.Fatalf("the placeholder %q passes validation: %v", m[1], err)
	}
	if err := validate(strings.Repeat("0123456789abcdef", 4)); err != nil {
		t.Fatalf("a 64-hex secret is refused: %v", err)
	}
}
