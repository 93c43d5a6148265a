//go:build !prod

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needsbot/needsbot/internal/loadtest"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// needsbotBinary returns an executable that is needsbot: a script that
// runs this test binary as main() (TestMain, asNeedsbot). The load test
// runs the bot as a child process; building ./cmd/needsbot for it took
// minutes of the package's time on a loaded CI machine, and this binary
// has the same run() — built with the race detector when the tests are,
// so a data race in the child fails the load test (exit 66).
func needsbotBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "needsbot")
	script := "#!/bin/sh\n" + asNeedsbot + "=1 exec '" + self + "' \"$@\"\n"
	if strings.Contains(self, "'") {
		t.Fatalf("test binary path %q has a quote", self)
	}
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestLoadtestCommand runs `needsbot loadtest` for three respondents in
// both delivery modes and checks the report it prints.
func TestLoadtestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the bot as a child process")
	}
	t.Parallel()
	storagetest.Redis(t)    // skips (fails under CI) without Redis
	storagetest.Postgres(t) // and without Postgres
	bin := needsbotBinary(t)
	for _, mode := range []string{"polling", "webhook"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"loadtest", "--respondents", "3", "--concurrency", "2", "--bin", bin, "--json",
				"--db", storagetest.PostgresURL(), "--redis", storagetest.RedisURL(), "--update-timeout", slow(20 * time.Second).String()}
			if mode == "webhook" {
				args = append(args, "--webhook")
			}
			var out, errOut bytes.Buffer
			code := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut)
			var rep loadtest.Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("exit %d, report is not JSON (%v):\n%s\nstderr:\n%s", code, err, out.String(), errOut.String())
			}
			if code != 0 || !rep.OK {
				t.Fatalf("exit %d, problems %q, failures:\n%s\nstderr:\n%s", code, rep.Problems, strings.Join(rep.Failures, "\n"), errOut.String())
			}
			if rep.Mode != mode || rep.Respondents != 3 || rep.Concurrency != 2 {
				t.Errorf("report describes %s with %d respondents, %d at a time", rep.Mode, rep.Respondents, rep.Concurrency)
			}
			if rep.Completed != 3 || rep.Failed != 0 || rep.Responses != 3 || rep.UnderPseudonym != 3 || rep.LanguageOK != 3 {
				t.Errorf("completed %d, failed %d, responses %d (%d under pseudonyms, %d in the chosen language), want 3 each",
					rep.Completed, rep.Failed, rep.Responses, rep.UnderPseudonym, rep.LanguageOK)
			}
			// /start, language, consent, age, ~20 questions, multi-selects twice.
			if rep.Updates < 3*25 || rep.Updates > 3*loadtest.MaxSteps {
				t.Errorf("%d updates for 3 interviews", rep.Updates)
			}
			if rep.Reply.N+rep.NoReply != rep.Updates || rep.Ack.N != rep.Updates || rep.NoReply != 0 {
				t.Errorf("latency samples: %d replies + %d without, %d acks, for %d updates", rep.Reply.N, rep.NoReply, rep.Ack.N, rep.Updates)
			}
			if !(rep.Reply.P50 > 0 && rep.Reply.P50 <= rep.Reply.P99 && rep.Reply.P99 <= rep.Reply.Max) {
				t.Errorf("reply latency not ordered: %+v", rep.Reply)
			}
			if rep.UpdatesPerS <= 0 || rep.DurationS <= 0 {
				t.Errorf("throughput %v updates/s over %v s", rep.UpdatesPerS, rep.DurationS)
			}
			// A tap costs the callback answer, an edit and the next
			// question; the design budget is at most three calls.
			if rep.CallsPerUpdate < 1.5 || rep.CallsPerUpdate > 3.5 {
				t.Errorf("%.2f Telegram calls per update", rep.CallsPerUpdate)
			}
			if rep.CallsByMethod["answerCallbackQuery"] == 0 || rep.CallsByMethod["sendMessage"] == 0 || rep.CallsByMethod["editMessageText"] == 0 {
				t.Errorf("calls by method: %v", rep.CallsByMethod)
			}
			if mode == "webhook" {
				// Callback answers ride in the webhook's response. The
				// bot answers a tap by a request of its own only when
				// the response had to go before the tap's turn knew its
				// answer (the 3-s hold ended while it loaded or saved:
				// a loaded CI machine with the race detector gets
				// there), and it counts those.
				if apiAnswers, late := rep.BotCallOutcome["answerCallbackQuery ok"], rep.BotHoldsExpired["api"]; rep.BotRequestsPerUpd >= rep.CallsPerUpdate || apiAnswers > late {
					t.Errorf("webhook: the bot made %.2f requests per update for %.2f calls (%v); %d callback answers by request, %d holds expired before the turn's answer (%v)",
						rep.BotRequestsPerUpd, rep.CallsPerUpdate, rep.BotCallOutcome, apiAnswers, late, rep.BotHoldsExpired)
				}
			} else if rep.GetUpdates == 0 {
				t.Error("polling without getUpdates calls")
			}
			if rep.BotHandle.N != rep.Updates {
				t.Errorf("the bot's metrics count %d updates, the respondents sent %d", rep.BotHandle.N, rep.Updates)
			}
			if rep.TooMany != 0 || rep.Violations != 0 || rep.OutboxPending != 0 || rep.OutboxDead != 0 {
				t.Errorf("429s %d, violations %d, outbox %d/%d", rep.TooMany, rep.Violations, rep.OutboxPending, rep.OutboxDead)
			}
			if rep.BotPeakRSSMiB < 5 || rep.BotTotalCPUS <= 0 || rep.BotExit != 0 {
				t.Errorf("bot process: peak RSS %.1f MiB, CPU %.2f s, exit %d", rep.BotPeakRSSMiB, rep.BotTotalCPUS, rep.BotExit)
			}
			// One script per update (the save) since session 6: the load
			// runs none.
			if rep.RedisScriptsPerUpd < 1 {
				t.Errorf("%.2f Redis scripts per update: the bot is not using the test's Redis?", rep.RedisScriptsPerUpd)
			}
			// The text report says the same.
			out.Reset()
			rep.WriteText(&out)
			for _, want := range []string{"3 completed, 0 failed", "updates/s", "p99", "calls per update", "RESULT: ok"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("text report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestLoadtestBotFailsToStart: a binary that is not a bot makes the run
// fail with exit 1 and the child's output, not hang.
func TestLoadtestBotFailsToStart(t *testing.T) {
	t.Parallel()
	storagetest.Redis(t)
	storagetest.Postgres(t)
	script := filepath.Join(t.TempDir(), "notabot")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'no bot here' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"loadtest", "--respondents", "1", "--bin", script,
		"--db", storagetest.PostgresURL(), "--redis", storagetest.RedisURL()}, func(string) string { return "" }, nil, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "exited during start-up") || !strings.Contains(errOut.String(), "no bot here") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	if time.Since(start) > slow(20*time.Second) {
		t.Errorf("took %s to notice", time.Since(start))
	}
}

func TestLoadtestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error; "" = valid
	}{
		{[]string{}, ""},
		{[]string{"--respondents", "1000", "--concurrency", "100", "--webhook", "--env", "NEEDSBOT_WORKERS=64"}, ""},
		{[]string{"--respondents", "0"}, "--respondents"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--think", "-1s"}, "--think"},
		{[]string{"--update-timeout", "0s"}, "--update-timeout"},
		{[]string{"--env", "WORKERS=64"}, "NEEDSBOT_NAME=value"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		var stderr bytes.Buffer
		o, _, err := parseLoadtestFlags(tc.args, &stderr)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want)):
			t.Errorf("%q: error %v, want one about %s", tc.args, err, tc.want)
		case tc.want == "" && o.Concurrency > o.Respondents:
			t.Errorf("%q: concurrency %d above %d respondents", tc.args, o.Concurrency, o.Respondents)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"loadtest", "--respondents", "0"}, func(string) string { return "" }, nil, &stdout, &stderr); code != 2 {
		t.Errorf("bad flags exit %d, want 2", code)
	}
}
