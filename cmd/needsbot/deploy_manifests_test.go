package main

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// deployDir holds the deployment examples these tests keep least-privilege:
// Redis behind a password with no published port, the bot's Postgres role
// not a superuser, images pinned by digest, a NetworkPolicy.
var deployDir = filepath.Join("..", "..", "deploy")

// manifestDocs parses every YAML document of a file into generic maps.
func manifestDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(part, "")) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(part), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

func manifestGet(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

func manifestStr(m any, path ...string) string {
	s, _ := manifestGet(m, path...).(string)
	return s
}

func manifestList(m any, path ...string) []any {
	l, _ := manifestGet(m, path...).([]any)
	return l
}

// digestRe is an image pinned by digest: a real sha256, or the explicit
// placeholder that docker, compose and the API server refuse (so an
// unpinned deployment fails instead of running a moving tag).
var digestRe = regexp.MustCompile(`@sha256:([0-9a-f]{64}|REPLACE_WITH_DIGEST_OF_[A-Za-z0-9_.-]+)$`)

// webhookSecretRe is what `needsbot run` accepts as NEEDSBOT_WEBHOOK_SECRET
// (issue 11 finding 7: at least 32 characters of Telegram's alphabet).
var webhookSecretRe = regexp.MustCompile(`^[A-Za-z0-9_-]{32,256}$`)

func TestCompose(t *testing.T) {
	c := manifestDocs(t, filepath.Join(deployDir, "compose.yaml"))[0]
	services, _ := manifestGet(c, "services").(map[string]any)
	for _, name := range []string{"bot", "migrate", "redis", "postgres"} {
		if services[name] == nil {
			t.Fatalf("no service %s", name)
		}
	}
	// No published port for the data stores.
	for _, name := range []string{"redis", "postgres"} {
		if manifestGet(services[name], "ports") != nil {
			t.Errorf("%s publishes a port", name)
		}
	}
	// The bot's port only on loopback.
	for _, p := range manifestList(services["bot"], "ports") {
		if s, _ := p.(string); !strings.HasPrefix(s, "127.0.0.1:") {
			t.Errorf("bot port %v not on loopback", p)
		}
	}
	// Redis: the default user off, the bot's user with a password and no
	// admin or dangerous commands.
	redisCmd := strings.Join(func() []string {
		var out []string
		for _, x := range manifestList(services["redis"], "command") {
			out = append(out, x.(string))
		}
		return out
	}(), " ")
	for _, want := range []string{"user default off", "user needsbot on >%s", "-@admin", "-@dangerous", "--aclfile", "$$REDIS_PASSWORD"} {
		if !strings.Contains(redisCmd, want) {
			t.Errorf("redis command lacks %q: %s", want, redisCmd)
		}
	}
	if strings.Contains(redisCmd, "requirepass") {
		t.Error("redis: use the ACL file, not requirepass on the command line")
	}
	if hc := strings.Join(manifestStrings(manifestList(services["redis"], "healthcheck", "test")), " "); !strings.Contains(hc, "--user needsbot") {
		t.Errorf("redis healthcheck without auth: %s", hc)
	}
	botRedis := manifestStr(services["bot"], "environment", "NEEDSBOT_REDIS_URL")
	if u, err := url.Parse(composeVar.ReplaceAllString(botRedis, "secret")); err != nil || u.User == nil || u.User.Username() != "needsbot" || !strings.Contains(botRedis, "${REDIS_PASSWORD") {
		t.Errorf("bot's Redis URL without the ACL user and password: %q", botRedis)
	}
	// Postgres: the bot is neither the superuser nor the schema owner.
	superuser := manifestStr(services["postgres"], "environment", "POSTGRES_USER")
	botUser := manifestDBUser(t, manifestStr(services["bot"], "environment", "NEEDSBOT_DATABASE_URL"))
	migUser := manifestDBUser(t, manifestStr(services["migrate"], "environment", "NEEDSBOT_DATABASE_URL"))
	if botUser != "needsbot_bot" || migUser != "needsbot_owner" || superuser == botUser || superuser == migUser {
		t.Errorf("database users: superuser %q, migrate %q, bot %q", superuser, migUser, botUser)
	}
	init, err := os.ReadFile(filepath.Join(deployDir, "postgres-init", "10-needsbot-roles.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CREATE ROLE needsbot_owner LOGIN NOSUPERUSER", "CREATE ROLE needsbot_bot LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE needsbot_app",
		"CREATE ROLE needsbot_app NOLOGIN", "ALTER DATABASE needsbot OWNER TO needsbot_owner"} {
		if !bytes.Contains(init, []byte(want)) {
			t.Errorf("postgres-init lacks %q", want)
		}
	}
	if !slices.Contains(manifestStrings(manifestList(services["postgres"], "volumes")), "./postgres-init:/docker-entrypoint-initdb.d:ro") {
		t.Error("postgres-init not mounted")
	}
	// Images pinned by digest (the bot's own image is built here).
	for name, s := range services {
		img := manifestStr(s, "image")
		if img == "" || img == "needsbot:local" {
			continue
		}
		if !digestRe.MatchString(img) {
			t.Errorf("service %s: image %q not pinned by digest", name, img)
		}
	}
	df, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(string(df), -1)
	if len(froms) < 2 {
		t.Fatalf("Dockerfile: %d FROM lines", len(froms))
	}
	for _, f := range froms {
		if !digestRe.MatchString(f[1]) {
			t.Errorf("Dockerfile: FROM %s not pinned by digest", f[1])
		}
	}
}

func manifestStrings(l []any) []string {
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// composeVar is a ${VAR} or ${VAR:?message} of compose's interpolation.
var composeVar = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(:\?[^}]*)?\}`)

func manifestDBUser(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(composeVar.ReplaceAllString(dsn, "secret"))
	if err != nil || u.User == nil {
		t.Fatalf("database URL %q: %v", dsn, err)
	}
	return u.User.Username()
}

func TestKubernetes(t *testing.T) {
	k := manifestDocs(t, filepath.Join(deployDir, "k8s", "kustomization.yaml"))[0]
	resources := manifestStrings(manifestList(k, "resources"))
	for _, r := range resources {
		if strings.HasPrefix(r, "secret") {
			t.Errorf("kustomization applies %s: it would overwrite the real Secret", r)
		}
	}
	if !slices.Contains(resources, "networkpolicy.yaml") {
		t.Error("no networkpolicy.yaml in the kustomization")
	}
	for _, img := range manifestList(k, "images") {
		if d := manifestStr(img, "digest"); !digestRe.MatchString("x@" + d) {
			t.Errorf("kustomization image %v not pinned by digest", img)
		}
		if manifestStr(img, "newTag") != "" {
			t.Errorf("kustomization image %v pinned by tag", img)
		}
	}

	// The Secrets' placeholders fail: the webhook secret is refused by the
	// bot's validation, the bot's database role is the runtime one.
	secrets := map[string]map[string]any{}
	for _, d := range manifestDocs(t, filepath.Join(deployDir, "k8s", "secret.example.yaml")) {
		secrets[manifestStr(d, "metadata", "name")] = d
	}
	bot, mig := secrets["needsbot-secrets"], secrets["needsbot-migrate-secrets"]
	if bot == nil || mig == nil {
		t.Fatalf("secrets %v", secrets)
	}
	if ws := manifestStr(bot, "stringData", "NEEDSBOT_WEBHOOK_SECRET"); webhookSecretRe.MatchString(ws) {
		t.Errorf("the webhook secret placeholder %q would pass validation", ws)
	}
	if u := manifestDBUser(t, manifestStr(bot, "stringData", "NEEDSBOT_DATABASE_URL")); u != "needsbot_bot" {
		t.Errorf("bot database user %q", u)
	}
	if u := manifestDBUser(t, manifestStr(mig, "stringData", "NEEDSBOT_DATABASE_URL")); u != "needsbot_owner" {
		t.Errorf("migration database user %q", u)
	}
	if r, err := url.Parse(manifestStr(bot, "stringData", "NEEDSBOT_REDIS_URL")); err != nil || r.User == nil || r.Scheme != "rediss" {
		t.Errorf("bot Redis URL without password or TLS: %v", r)
	}
	cm := manifestDocs(t, filepath.Join(deployDir, "k8s", "configmap.yaml"))[0]
	if d, _ := manifestGet(cm, "data").(map[string]any); d["NEEDSBOT_REDIS_URL"] != nil || d["NEEDSBOT_DATABASE_URL"] != nil {
		t.Error("a data store URL in the ConfigMap")
	}
	job := manifestDocs(t, filepath.Join(deployDir, "k8s", "migrate-job.yaml"))[0]
	for _, e := range manifestList(job, "spec", "template", "spec", "containers") {
		for _, v := range manifestList(e, "env") {
			if manifestStr(v, "name") == "NEEDSBOT_DATABASE_URL" && manifestStr(v, "valueFrom", "secretKeyRef", "name") != "needsbot-migrate-secrets" {
				t.Error("the migration Job does not use the owner's Secret")
			}
		}
	}
	dep := manifestDocs(t, filepath.Join(deployDir, "k8s", "deployment.yaml"))[0]
	for _, c := range manifestList(dep, "spec", "template", "spec", "containers") {
		for _, ef := range manifestList(c, "envFrom") {
			if manifestStr(ef, "secretRef", "name") == "needsbot-migrate-secrets" {
				t.Error("the bot gets the owner's Secret")
			}
		}
	}

	checkNetworkPolicies(t, manifestDocs(t, filepath.Join(deployDir, "k8s", "networkpolicy.yaml")))
}

// telegramCIDRs are Telegram's published ranges the bot may reach on 443.
var telegramCIDRs = []string{"149.154.160.0/20", "91.108.4.0/22", "91.108.8.0/22", "91.108.56.0/22"}

func checkNetworkPolicies(t *testing.T, pols []map[string]any) {
	t.Helper()
	byName := map[string]map[string]any{}
	for _, p := range pols {
		if manifestStr(p, "kind") != "NetworkPolicy" {
			t.Fatalf("not a NetworkPolicy: %v", p)
		}
		byName[manifestStr(p, "metadata", "name")] = p
	}
	// Default deny: every pod, both directions, no rule.
	dd := byName["default-deny"]
	if dd == nil || len(manifestGet(dd, "spec", "podSelector").(map[string]any)) != 0 ||
		!slices.Equal(manifestStrings(manifestList(dd, "spec", "policyTypes")), []string{"Ingress", "Egress"}) ||
		manifestGet(dd, "spec", "ingress") != nil || manifestGet(dd, "spec", "egress") != nil {
		t.Fatalf("no default deny: %v", dd)
	}
	bot := byName["needsbot-bot"]
	if bot == nil || manifestStr(bot, "spec", "podSelector", "matchLabels", "app.kubernetes.io/component") != "bot" {
		t.Fatalf("no bot policy: %v", bot)
	}
	// Ingress: only 8080, only from the ingress controller and Prometheus.
	var from []string
	for _, rule := range manifestList(bot, "spec", "ingress") {
		for _, p := range manifestList(rule, "ports") {
			if port, _ := manifestGet(p, "port").(uint64); port != 8080 {
				t.Errorf("ingress to port %v", manifestGet(p, "port"))
			}
		}
		if len(manifestList(rule, "ports")) == 0 {
			t.Error("an ingress rule for every port")
		}
		for _, f := range manifestList(rule, "from") {
			ns := manifestStr(f, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name")
			if ns == "" || manifestGet(f, "podSelector") == nil || manifestGet(f, "ipBlock") != nil {
				t.Errorf("ingress from %v: want a namespace and pod selector", f)
			}
			from = append(from, ns)
		}
	}
	slices.Sort(from)
	if !slices.Equal(from, []string{"ingress-nginx", "monitoring"}) {
		t.Errorf("ingress from %v", from)
	}
	// Egress: DNS, Redis, Postgres, and Telegram on 443 only.
	allowed := map[uint64]bool{53: true, 6379: true, 6380: true, 5432: true, 443: true}
	for _, rule := range manifestList(bot, "spec", "egress") {
		ports := manifestList(rule, "ports")
		if len(ports) == 0 || len(manifestList(rule, "to")) == 0 {
			t.Fatalf("an egress rule open to every port or destination: %v", rule)
		}
		for _, p := range ports {
			port, _ := manifestGet(p, "port").(uint64)
			if !allowed[port] {
				t.Errorf("egress to port %d", port)
			}
			if port == 443 {
				for _, to := range manifestList(rule, "to") {
					if c := manifestStr(to, "ipBlock", "cidr"); !slices.Contains(telegramCIDRs, c) || manifestGet(to, "ipBlock", "except") != nil {
						t.Errorf("443 open to %v, not only Telegram", to)
					}
				}
			} else {
				for _, to := range manifestList(rule, "to") {
					if manifestGet(to, "ipBlock") != nil {
						t.Errorf("port %d to an address block %v", port, to)
					}
				}
			}
		}
	}
	mig := byName["needsbot-migrate"]
	if mig == nil || manifestGet(mig, "spec", "ingress") != nil {
		t.Fatalf("migration policy: %v", mig)
	}
	for _, rule := range manifestList(mig, "spec", "egress") {
		for _, p := range manifestList(rule, "ports") {
			if port, _ := manifestGet(p, "port").(uint64); port != 53 && port != 5432 {
				t.Errorf("migration egress to port %d", port)
			}
		}
	}
}
