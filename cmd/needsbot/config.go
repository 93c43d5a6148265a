package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/needsbot/needsbot/storage"
)

// Config is every setting of needsbot, read from NEEDSBOT_* variables and
// overridable by flags of the same name (NEEDSBOT_REDIS_URL ↔ --redis-url).
type Config struct {
	TelegramToken       string
	TelegramAPIURL      string
	RedisURL            string
	RedisPrefix         string
	DatabaseURL         string
	WebhookURL          string
	WebhookSecret       string
	ListenAddr          string
	AdminIDs            string
	PseudonymKey        string
	LogLevel            string
	FormsDir            string
	DefaultMunicipality string
	DefaultForm         string
	MinCell             int
	InboundLimit        int
	Workers             int
	TelegramRate        float64
	TelegramChatRate    float64
	StateTTL            time.Duration
	Retention           time.Duration
	ShutdownTimeout     time.Duration
	ReminderAfter       time.Duration
	QuietHours          string
	OutageWindow        time.Duration
	TailDelay           time.Duration
	RedisBatching       bool
}

// setting is one row of the configuration table: the README's table is
// the output of `needsbot run --help`.
type setting struct {
	env, def, help string
	set            func(c *Config, v string) error
}

func str(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

// settingDefault is the default value of the setting named env.
func settingDefault(env string) string {
	for _, s := range settings() {
		if s.env == env {
			return s.def
		}
	}
	panic("no setting " + env)
}

func settings() []setting {
	return []setting{
		{"NEEDSBOT_TELEGRAM_TOKEN", "", "bot token from @BotFather (required by run)", str(func(c *Config) *string { return &c.TelegramToken })},
		{"NEEDSBOT_TELEGRAM_API_URL", "https://api.telegram.org", "Bot API server (self-hosted servers, tests)", str(func(c *Config) *string { return &c.TelegramAPIURL })},
		{"NEEDSBOT_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis for live interviews, dedup, outbox, rate limits", str(func(c *Config) *string { return &c.RedisURL })},
		{"NEEDSBOT_REDIS_PREFIX", "needsbot:", "prefix of every Redis key (several deployments can share a Redis)", str(func(c *Config) *string { return &c.RedisPrefix })},
		{"NEEDSBOT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/needsbot?sslmode=disable", "Postgres for responses, staff, invites, results", str(func(c *Config) *string { return &c.DatabaseURL })},
		{"NEEDSBOT_WEBHOOK_URL", "", "public webhook URL; empty = long polling", str(func(c *Config) *string { return &c.WebhookURL })},
		{"NEEDSBOT_WEBHOOK_SECRET", "", "webhook secret token (required with a webhook URL; 32+ characters of A-Z a-z 0-9 _ -)", str(func(c *Config) *string { return &c.WebhookSecret })},
		{"NEEDSBOT_LISTEN_ADDR", ":8080", "HTTP listener: webhook, /healthz, /readyz, /metrics", str(func(c *Config) *string { return &c.ListenAddr })},
		{"NEEDSBOT_ADMIN_IDS", "", "comma-separated Telegram user ids bootstrapped as admins", str(func(c *Config) *string { return &c.AdminIDs })},
		{"NEEDSBOT_PSEUDONYM_KEY", "", "secret for respondent pseudonyms, at least 32 characters (required by run; never change it)", str(func(c *Config) *string { return &c.PseudonymKey })},
		{"NEEDSBOT_LOG_LEVEL", "info", "debug, info, warn or error", str(func(c *Config) *string { return &c.LogLevel })},
		{"NEEDSBOT_FORMS_DIR", "", "directory of questionnaire YAML overriding the embedded ones", str(func(c *Config) *string { return &c.FormsDir })},
		{"NEEDSBOT_DEFAULT_MUNICIPALITY", "", "ISTAT code used when /start has no invite (empty: an invite is required)", str(func(c *Config) *string { return &c.DefaultMunicipality })},
		{"NEEDSBOT_DEFAULT_FORM", "", "respondents' questionnaire of a /start without invite (empty: the first respondents' form; must be one)", str(func(c *Config) *string { return &c.DefaultForm })},
		{"NEEDSBOT_MIN_CELL", "5", "smallest count shown to staff; smaller cells show as <N", func(c *Config, v string) error { return atoi(v, &c.MinCell) }},
		{"NEEDSBOT_INBOUND_LIMIT", "20", "updates one person may send in 10 s; a flood gets one \"slow down\" and is dropped", func(c *Config, v string) error { return atoi(v, &c.InboundLimit) }},
		{"NEEDSBOT_WORKERS", "32", "updates handled in parallel (one chat is always in order; a chat waiting for its own pacing holds none)", func(c *Config, v string) error { return atoi(v, &c.Workers) }},
		{"NEEDSBOT_OUTAGE_WINDOW", "2m", "how long an update is kept and retried while Redis or Postgres is down (a tap gets \"one moment\" at once)", func(c *Config, v string) error { return duration(v, &c.OutageWindow) }},
		{"NEEDSBOT_REDIS_BATCHING", "on", "on: the Redis commands of chats handled at the same time share writes on one connection (go-redis's experimental full-duplex autopipeliner); off: each takes a pooled connection and a round trip of its own", func(c *Config, v string) error { return onOff(v, &c.RedisBatching) }},
		{"NEEDSBOT_TAIL_DELAY", "30s", "how long a turn's replies-sent mark, reminder and message ids wait in memory to ride on the chat's next Redis call; 0 = written at once (use 0 with several webhook replicas without chat affinity)", func(c *Config, v string) error { return tailDelayValue(v, &c.TailDelay) }},
		{"NEEDSBOT_TELEGRAM_RATE", "28", "Bot API calls per second for the whole bot (new messages and edits; Telegram allows about 30), shared by replicas through Redis", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				return fmt.Errorf("want a positive number, not %q", v)
			}
			c.TelegramRate = f
			return nil
		}},
		{"NEEDSBOT_TELEGRAM_CHAT_RATE", "1", "new messages per second to one chat (Telegram allows about 1; raise only for a self-hosted Bot API)", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				return fmt.Errorf("want a positive number, not %q", v)
			}
			c.TelegramChatRate = f
			return nil
		}},
		{"NEEDSBOT_STATE_TTL", "720h", "idle time after which an unfinished interview expires (counted as abandoned)", func(c *Config, v string) error { return duration(v, &c.StateTTL) }},
		{"NEEDSBOT_RETENTION", "4320h", "after this, responses are unlinked from respondents' pseudonyms", func(c *Config, v string) error { return duration(v, &c.Retention) }},
		{"NEEDSBOT_REMINDER_AFTER", "24h", "idle time after which an unfinished interview gets its one reminder; 0 = no reminders", func(c *Config, v string) error { return reminderAfter(v, &c.ReminderAfter) }},
		{"NEEDSBOT_QUIET_HOURS", "21-9", "hours (Europe/Rome) in which no reminder is sent, FROM-TO; off = none", str(func(c *Config) *string { return &c.QuietHours })},
		{"NEEDSBOT_SHUTDOWN_TIMEOUT", "25s", "how long SIGTERM waits for in-flight updates and the outbox", func(c *Config, v string) error { return duration(v, &c.ShutdownTimeout) }},
	}
}

func atoi(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a positive whole number, not %q", v)
	}
	*dst = n
	return nil
}

func duration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration like 720h, not %q", v)
	}
	*dst = d
	return nil
}

// onOff parses "on" or "off".
func onOff(v string, dst *bool) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on":
		*dst = true
	case "off":
		*dst = false
	default:
		return fmt.Errorf("want on or off, not %q", v)
	}
	return nil
}

// tailDelayValue parses NEEDSBOT_TAIL_DELAY: a duration, 0 to write each
// turn's tail at once.
func tailDelayValue(v string, dst *time.Duration) error {
	if strings.TrimSpace(v) == "0" {
		*dst = 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration like 30s, or 0 to write at once, not %q", v)
	}
	*dst = d
	return nil
}

// flagName turns NEEDSBOT_REDIS_URL into redis-url.
func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "NEEDSBOT_")), "_", "-")
}

// loadConfig reads the environment, then the flags; an empty variable
// counts as unset. Problems are reported together, one per line.
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, *flag.FlagSet, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := map[string]*string{}
	for _, s := range settings() {
		v := getenv(s.env)
		if v == "" {
			v = s.def
		}
		values[s.env] = fs.String(flagName(s.env), v, s.help+" ($"+s.env+")")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: needsbot %s [flags]\n\nEvery setting is an environment variable or a flag:\n\n", name)
		printSettings(stderr)
	}
	if err := fs.Parse(args); err != nil {
		return c, fs, err
	}
	var problems []string
	for _, s := range settings() {
		if err := s.set(&c, *values[s.env]); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", s.env, err))
		}
	}
	if len(problems) > 0 {
		return c, fs, errors.New(strings.Join(problems, "\n"))
	}
	return c, fs, nil
}

func printSettings(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tFLAG\tDEFAULT\tMEANING")
	for _, s := range settings() {
		def := s.def
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(tw, "%s\t--%s\t%s\t%s\n", s.env, flagName(s.env), def, s.help)
	}
	tw.Flush()
}

// secretRe is Telegram's alphabet for secret_token, at least 32 characters:
// a short or placeholder secret would let anyone who guesses it post forged
// updates (any user id, any chat).
var secretRe = regexp.MustCompile(`^[A-Za-z0-9_-]{32,256}$`)

// minMinCell is the smallest NEEDSBOT_MIN_CELL accepted: below it the
// threshold no longer hides small groups.
const minMinCell = 3

// validateRun checks what `run` needs, with a clear message per problem.
func (c Config) validateRun() error {
	var p []string
	if c.TelegramToken == "" {
		p = append(p, "NEEDSBOT_TELEGRAM_TOKEN is required: the token @BotFather gave you")
	} else if !regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`).MatchString(c.TelegramToken) {
		p = append(p, "NEEDSBOT_TELEGRAM_TOKEN does not look like a bot token (123456:ABC…)")
	}
	if c.PseudonymKey == "" {
		p = append(p, "NEEDSBOT_PSEUDONYM_KEY is required: generate one with `openssl rand -hex 32` and keep it forever")
	} else if len(c.PseudonymKey) < 32 {
		p = append(p, "NEEDSBOT_PSEUDONYM_KEY is too short: use at least 32 characters (openssl rand -hex 32)")
	}
	p = append(p, c.validateCommon()...)
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		api, _ := url.Parse(c.TelegramAPIURL)
		official := api != nil && api.Host == "api.telegram.org"
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			p = append(p, "NEEDSBOT_WEBHOOK_URL is not a URL")
		case official && u.Scheme != "https":
			// Telegram itself delivers webhooks over HTTPS only; a
			// self-hosted Bot API server (or the test fake) may use http.
			p = append(p, "NEEDSBOT_WEBHOOK_URL must be an https:// URL Telegram can reach")
		}
		if c.WebhookSecret == "" {
			p = append(p, "NEEDSBOT_WEBHOOK_SECRET is required with a webhook URL")
		} else if !secretRe.MatchString(c.WebhookSecret) {
			p = append(p, "NEEDSBOT_WEBHOOK_SECRET must be 32 to 256 characters of A-Z a-z 0-9 _ - (openssl rand -hex 32)")
		}
	}
	for _, id := range c.adminIDs() {
		if id <= 0 {
			p = append(p, "NEEDSBOT_ADMIN_IDS must be comma-separated Telegram user ids")
			break
		}
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "\n"))
	}
	return nil
}

func (c Config) validateCommon() []string {
	var p []string
	check := func(env, v string, schemes ...string) {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" {
			p = append(p, fmt.Sprintf("%s is not a URL: %q", env, redactURL(v)))
			return
		}
		for _, s := range schemes {
			if u.Scheme == s {
				return
			}
		}
		p = append(p, fmt.Sprintf("%s must start with %s://", env, strings.Join(schemes, ":// or ")))
	}
	check("NEEDSBOT_TELEGRAM_API_URL", c.TelegramAPIURL, "https", "http")
	check("NEEDSBOT_REDIS_URL", c.RedisURL, "redis", "rediss", "unix")
	check("NEEDSBOT_DATABASE_URL", c.DatabaseURL, "postgres", "postgresql")
	if strings.ContainsAny(c.RedisPrefix, "{}") {
		p = append(p, "NEEDSBOT_REDIS_PREFIX must not contain { or }")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, "NEEDSBOT_LOG_LEVEL must be debug, info, warn or error")
	}
	if c.MinCell < minMinCell {
		p = append(p, fmt.Sprintf("NEEDSBOT_MIN_CELL must be at least %d: smaller groups could be recognised", minMinCell))
	}
	if c.DefaultMunicipality != "" && !regexp.MustCompile(`^[0-9]{6}$`).MatchString(c.DefaultMunicipality) {
		p = append(p, "NEEDSBOT_DEFAULT_MUNICIPALITY must be a six-digit ISTAT code (Roma is 058091)")
	}
	return p
}

func (c Config) adminIDs() []int64 {
	var ids []int64
	for _, f := range strings.Split(c.AdminIDs, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			id = -1
		}
		ids = append(ids, id)
	}
	return ids
}

// redactURL hides a password in a URL before it is printed.
func redactURL(v string) string { return storage.RedactURL(v) }
