package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// devOnly are the packages the production build must not contain: the fake
// Bot API, the web chat, the embedded Redis, the browser driver of the web
// chat's tests, and the packages of the development commands.
var devOnly = []string{
	"github.com/needsbot/needsbot/bot/telegramtest",
	"github.com/needsbot/needsbot/bot/webchat",
	"github.com/needsbot/needsbot/internal/trykit",
	"github.com/needsbot/needsbot/internal/loadtest",
	"github.com/needsbot/needsbot/internal/seed",
	"github.com/needsbot/needsbot/internal/chaos",
	"github.com/alicebob/miniredis/v2",
	"github.com/chromedp/chromedp",
}

func deps(t *testing.T, tags ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps"}, tags...)
	out, err := exec.Command("go", append(args, ".")...).Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}

// TestProductionBuildHasNoDevTools: `go build -tags prod` (what
// deploy/Dockerfile builds) contains none of the development packages,
// while the default build, which `go run ./cmd/needsbot try` uses, does.
func TestProductionBuildHasNoDevTools(t *testing.T) {
	t.Parallel()
	prod, dev := deps(t, "-tags", "prod"), deps(t)
	for _, p := range devOnly {
		if slices.ContainsFunc(prod, func(d string) bool { return d == p || strings.HasPrefix(d, p+"/") }) {
			t.Errorf("the production build depends on %s", p)
		}
	}
	for _, p := range []string{"github.com/needsbot/needsbot/bot/telegramtest", "github.com/needsbot/needsbot/bot/webchat",
		"github.com/alicebob/miniredis/v2", "github.com/needsbot/needsbot/internal/trykit"} {
		if !slices.Contains(dev, p) {
			t.Errorf("the default build lacks %s: `go run ./cmd/needsbot try` needs it", p)
		}
	}
	docker, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(docker), "go build -tags prod ") {
		t.Error("deploy/Dockerfile does not build with -tags prod")
	}
}

// TestProductionBinarySaysNotInThisBuild builds the production binary and
// runs its development commands: they exit 2 and say why, and help still
// lists them.
func TestProductionBinarySaysNotInThisBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "needsbot")
	if out, err := exec.Command("go", "build", "-tags", "prod", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags prod: %v\n%s", err, out)
	}
	for _, c := range []string{"try", "loadtest", "seed", "chaos"} {
		cmd := exec.Command(bin, c)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "not in this build") {
			t.Errorf("needsbot %s in the production build: %v\n%s", c, err, out)
		}
	}
	out, err := exec.Command(bin, "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "try ") || !strings.Contains(string(out), "run ") {
		t.Errorf("help: %v\n%s", err, out)
	}
}
