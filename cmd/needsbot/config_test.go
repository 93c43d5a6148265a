package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRunConfigProblems(t *testing.T) {
	good := map[string]string{
		"NEEDSBOT_TELEGRAM_TOKEN": "123456:ABCdef_-",
		"NEEDSBOT_PSEUDONYM_KEY":  strings.Repeat("k", 32),
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the problems; empty = valid
	}{
		{"valid defaults", nil, nil},
		{"missing token and key", map[string]string{"NEEDSBOT_TELEGRAM_TOKEN": "", "NEEDSBOT_PSEUDONYM_KEY": ""},
			[]string{"NEEDSBOT_TELEGRAM_TOKEN is required", "NEEDSBOT_PSEUDONYM_KEY is required"}},
		{"short key", map[string]string{"NEEDSBOT_PSEUDONYM_KEY": "short"}, []string{"too short"}},
		{"bad token", map[string]string{"NEEDSBOT_TELEGRAM_TOKEN": "nonsense"}, []string{"does not look like a bot token"}},
		{"webhook without secret", map[string]string{"NEEDSBOT_WEBHOOK_URL": "https://bot.example.org/hook"}, []string{"NEEDSBOT_WEBHOOK_SECRET is required"}},
		{"http webhook to real Telegram", map[string]string{"NEEDSBOT_WEBHOOK_URL": "http://bot.example.org/hook", "NEEDSBOT_WEBHOOK_SECRET": "s"}, []string{"must be an https:// URL"}},
		{"bad secret", map[string]string{"NEEDSBOT_WEBHOOK_URL": "https://x.org/h", "NEEDSBOT_WEBHOOK_SECRET": "with space"}, []string{"32 to 256 characters"}},
		{"short secret", map[string]string{"NEEDSBOT_WEBHOOK_URL": "https://x.org/h", "NEEDSBOT_WEBHOOK_SECRET": "s"}, []string{"32 to 256 characters"}},
		{"k8s placeholder secret", map[string]string{"NEEDSBOT_WEBHOOK_URL": "https://x.org/h", "NEEDSBOT_WEBHOOK_SECRET": "REPLACE-ME"}, []string{"32 to 256 characters"}},
		{"min cell below 3", map[string]string{"NEEDSBOT_MIN_CELL": "2"}, []string{"NEEDSBOT_MIN_CELL must be at least 3"}},
		{"malformed urls", map[string]string{"NEEDSBOT_REDIS_URL": "localhost:6379", "NEEDSBOT_DATABASE_URL": "mysql://x/y"},
			[]string{"NEEDSBOT_REDIS_URL is not a URL", "NEEDSBOT_DATABASE_URL must start with postgres://"}},
		{"bad admin ids", map[string]string{"NEEDSBOT_ADMIN_IDS": "12,abc"}, []string{"NEEDSBOT_ADMIN_IDS"}},
		{"bad municipality", map[string]string{"NEEDSBOT_DEFAULT_MUNICIPALITY": "Roma"}, []string{"six-digit ISTAT"}},
		{"bad level", map[string]string{"NEEDSBOT_LOG_LEVEL": "loud"}, []string{"NEEDSBOT_LOG_LEVEL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range good {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, _, err := loadConfig("run", nil, func(k string) string { return env[k] }, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.validateRun()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected problems: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no problem reported, want %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems %q lack %q", err, w)
				}
			}
		})
	}
}

func TestConfigParseErrorsAndHelp(t *testing.T) {
	env := map[string]string{"NEEDSBOT_MIN_CELL": "zero", "NEEDSBOT_STATE_TTL": "forever"}
	_, _, err := loadConfig("run", nil, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "NEEDSBOT_MIN_CELL") || !strings.Contains(err.Error(), "NEEDSBOT_STATE_TTL") {
		t.Fatalf("parse problems: %v", err)
	}
	// Flags override the environment.
	cfg, _, err := loadConfig("run", []string{"--min-cell", "10"}, func(k string) string { return map[string]string{"NEEDSBOT_MIN_CELL": "7"}[k] }, &bytes.Buffer{})
	if err != nil || cfg.MinCell != 10 {
		t.Fatalf("flag override: %d %v", cfg.MinCell, err)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"run", "--help"}, func(string) string { return "" }, nil, &out, &out); code != 0 {
		t.Fatalf("run --help exit %d", code)
	}
	for _, s := range settings() {
		if !strings.Contains(out.String(), s.env) {
			t.Errorf("--help lacks %s", s.env)
		}
	}
	var errOut bytes.Buffer
	if code := run(context.Background(), []string{"run"}, func(string) string { return "" }, nil, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "NEEDSBOT_TELEGRAM_TOKEN is required") {
		t.Fatalf("run without config: exit %d, %q", code, errOut.String())
	}
}

// TestREADMEConfigTable keeps the README's configuration table the same as
// `needsbot run --help`.
func TestREADMEConfigTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		def := "—"
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		row := "| `" + s.env + "` | " + def + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README lacks the row %q", row)
		}
	}
}

// TestTailDelaySetting: NEEDSBOT_TAIL_DELAY defaults to 30 s, 0 turns the
// deferral off (several webhook replicas without chat affinity), and a
// negative or garbled value is refused.
func TestTailDelaySetting(t *testing.T) {
	for _, tt := range []struct {
		env, flag string
		want      time.Duration
		bad       bool
	}{
		{want: 30 * time.Second},
		{env: "0", want: 0},
		{env: "0s", want: 0},
		{env: "5s", want: 5 * time.Second},
		{env: "5s", flag: "0", want: 0},
		{env: "-1s", bad: true},
		{env: "soon", bad: true},
	} {
		var args []string
		if tt.flag != "" {
			args = []string{"--tail-delay", tt.flag}
		}
		cfg, _, err := loadConfig("run", args, func(k string) string { return map[string]string{"NEEDSBOT_TAIL_DELAY": tt.env}[k] }, &bytes.Buffer{})
		if tt.bad {
			if err == nil || !strings.Contains(err.Error(), "NEEDSBOT_TAIL_DELAY") {
				t.Errorf("%q: want a problem with NEEDSBOT_TAIL_DELAY, got %v", tt.env, err)
			}
			continue
		}
		if err != nil || cfg.TailDelay != tt.want {
			t.Errorf("env %q flag %q: TailDelay %v, %v; want %v", tt.env, tt.flag, cfg.TailDelay, err, tt.want)
		}
	}
}

// TestRedisBatchingSetting: NEEDSBOT_REDIS_BATCHING is on by default, off
// turns it off, and anything else is refused.
func TestRedisBatchingSetting(t *testing.T) {
	for _, tt := range []struct {
		env, flag string
		want, bad bool
	}{
		{want: true},
		{env: "off", want: false},
		{env: "OFF", want: false},
		{env: "on", want: true},
		{env: "on", flag: "off", want: false},
		{env: "yes", bad: true},
	} {
		var args []string
		if tt.flag != "" {
			args = []string{"--redis-batching", tt.flag}
		}
		cfg, _, err := loadConfig("run", args, func(k string) string { return map[string]string{"NEEDSBOT_REDIS_BATCHING": tt.env}[k] }, &bytes.Buffer{})
		if tt.bad {
			if err == nil || !strings.Contains(err.Error(), "NEEDSBOT_REDIS_BATCHING") {
				t.Errorf("%q: want a problem with NEEDSBOT_REDIS_BATCHING, got %v", tt.env, err)
			}
			continue
		}
		if err != nil || cfg.RedisBatching != tt.want {
			t.Errorf("env %q flag %q: RedisBatching %v, %v; want %v", tt.env, tt.flag, cfg.RedisBatching, err, tt.want)
		}
	}
}
