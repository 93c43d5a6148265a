package chaos

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/storage/storagetest"
)

// TestChaosShort runs the whole matrix in its short form against the real
// binary and fails on any row that is not ok: a response lost or doubled,
// an update applied twice, a person stuck (no card with buttons and no
// thank-you) or not completed, or 429s earned outside a storm. It prints
// the table (go test -v) so a CI log shows the waits and 429s. It takes a
// few minutes (about 5 on a loaded 2-core machine, building included).
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("the short chaos matrix takes minutes; run without -short")
	}
	servers(t)
	bin := filepath.Join(t.TempDir(), "needsbot")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/needsbot")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{Bin: bin, RedisURL: storagetest.RedisURL(), DatabaseURL: storagetest.PostgresURL(),
		Short: true, Duration: 20 * time.Second, Seed: 1, Respondents: 4, Progress: &progress})
	var table bytes.Buffer
	if rep != nil {
		rep.WriteTable(&table)
		t.Log("\n" + table.String())
	}
	if err != nil {
		t.Fatalf("chaos: %v\n%s", err, progress.String())
	}
	if want := len((&rig{t: timings(true)}).faults()) + 1; len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d (every fault and the random phase)", len(rep.Rows), want)
	}
	for _, w := range rep.Rows {
		if v := w.Verdict(); strings.HasPrefix(v, "FAIL") {
			t.Errorf("%s: %s (completed %d/%d, stuck %d, %d lost, %d doubled, %d applied twice, %d 429s, storm %v)",
				w.Fault, v, w.Completed, w.People, w.Stuck, w.Lost, w.Doubled, w.Twice, w.TooMany, w.Storm)
		}
		if w.Completed > 0 && w.Checked == 0 {
			t.Errorf("%s: no stored answer was compared with the taps", w.Fault)
		}
	}
}

// servers skips (or fails under CI=true) without Redis and Postgres.
func servers(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fail := func(what string, err error) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s unavailable under CI=true: %v", what, err)
		}
		t.Skipf("%s unavailable: %v", what, err)
	}
	opt, err := redis.ParseURL(storagetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		fail("redis", err)
	}
	conn, err := pgx.Connect(ctx, storagetest.PostgresURL())
	if err != nil {
		fail("postgres", err)
	}
	_ = conn.Close(ctx)
}

func TestProxyCutAndRestore(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	p, err := NewProxy(echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	roundTrip := func(c net.Conn) error {
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		b := make([]byte, 4)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.ReadFull(c, b)
		return err
	}
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Cut()
	if err := roundTrip(c); err == nil {
		t.Fatal("an open connection still works after Cut")
	}
	c2, err := net.Dial("tcp", p.Addr)
	if err == nil {
		if roundTrip(c2) == nil {
			t.Fatal("a new connection works while cut")
		}
		c2.Close()
	}
	p.Restore()
	c3, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := roundTrip(c3); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}

// replicaStub is a webhook replica that counts deliveries and answers with
// a callback answer in its body.
func replicaStub(t *testing.T, n *atomic.Int64) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"method":"answerCallbackQuery","callback_query_id":"q1"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestLBDuplicatesAndReplaysTheCopysAnswer(t *testing.T) {
	var a, b, api atomic.Int64
	sa, sb := replicaStub(t, &a), replicaStub(t, &b)
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/answerCallbackQuery") {
			api.Add(1)
		}
	}))
	defer apiSrv.Close()
	lb, err := NewLB([]string{sa.URL, sb.URL}, apiSrv.URL+"/botTOKEN", 1)
	if err != nil {
		t.Fatal(err)
	}
	lb.Set(LBDuplicate)
	resp, err := http.Post(lb.URL+"/telegram/webhook", "application/json", strings.NewReader(`{"update_id":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lb.Close() // waits for the copy
	if !strings.Contains(string(body), "answerCallbackQuery") {
		t.Errorf("the delivery's answer was not passed on: %s", body)
	}
	if a.Load() != 1 || b.Load() != 1 {
		t.Errorf("deliveries: replica a %d, b %d; want one each", a.Load(), b.Load())
	}
	if api.Load() != 1 {
		t.Errorf("the copy's method call was made %d times, want 1", api.Load())
	}
	if lb.Copies() != 1 {
		t.Errorf("Copies() = %d, want 1", lb.Copies())
	}
}

func TestLBSkipsADeadReplica(t *testing.T) {
	var a atomic.Int64
	sa := replicaStub(t, &a)
	dead, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	lb, err := NewLB([]string{"http://" + dead, sa.URL}, "http://127.0.0.1:1/botX", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	for range 4 {
		resp, err := http.Post(lb.URL+"/telegram/webhook", "application/json", strings.NewReader(`{"update_id":1}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200 from the live replica", resp.StatusCode)
		}
	}
	if a.Load() != 4 {
		t.Errorf("the live replica got %d deliveries, want 4", a.Load())
	}
}

func TestFrontInjectsOnlyIntoReplies(t *testing.T) {
	var passed atomic.Int64
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passed.Add(1)
		_, _ = io.WriteString(w, `{"ok":true,"result":true}`)
	})
	f, err := NewFront(api, time.Millisecond, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	call := func(method string) int {
		resp, err := http.Post(f.URL+"/botT/"+method, "application/json", strings.NewReader("{}"))
		if err != nil {
			return -1 // a dropped connection (timeout fault)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	f.Set(APIStorm429)
	if got := call("sendMessage"); got != http.StatusTooManyRequests {
		t.Errorf("storm: sendMessage got %d, want 429", got)
	}
	if got := call("getUpdates"); got != http.StatusOK {
		t.Errorf("storm: getUpdates got %d, want 200 (polling is not a reply)", got)
	}
	f.Set(API5xx)
	codes := map[int]int{}
	for range 6 {
		codes[call("editMessageText")]++
	}
	if codes[http.StatusBadGateway] != 2 || codes[http.StatusOK] != 4 {
		t.Errorf("5xx: codes %v, want every third call 502", codes)
	}
	f.Set(APITimeout)
	codes = map[int]int{}
	for range 3 {
		codes[call("answerCallbackQuery")]++
	}
	if codes[-1] != 1 || codes[http.StatusOK] != 2 {
		t.Errorf("timeouts: codes %v, want one dropped connection in three", codes)
	}
	f.Set(APINone)
	if got := call("sendMessage"); got != http.StatusOK {
		t.Errorf("no fault: got %d", got)
	}
	if f.Injected(APIStorm429) != 1 || f.Injected(API5xx) != 2 || f.Injected(APITimeout) != 1 {
		t.Errorf("injected: 429 %d, 5xx %d, timeout %d", f.Injected(APIStorm429), f.Injected(API5xx), f.Injected(APITimeout))
	}
}

func TestAnswersDiffer(t *testing.T) {
	set := func(xs ...string) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x] = true
		}
		return m
	}
	tapped := map[string]map[string]bool{"a": set("x"), "b": set("p", "q"), "c": set("z")}
	cases := []struct {
		name   string
		stored map[string]map[string]bool
		differ bool
	}{
		{"same (a tapped question not stored with choices is not compared)", map[string]map[string]bool{"a": set("x"), "b": set("q", "p")}, false},
		{"a toggle applied twice", map[string]map[string]bool{"a": set("x"), "b": set("p")}, true},
		{"another choice", map[string]map[string]bool{"a": set("y")}, true},
		{"stored but never tapped", map[string]map[string]bool{"d": set("x")}, true},
	}
	for _, c := range cases {
		if got := answersDiffer(tapped, c.stored) != ""; got != c.differ {
			t.Errorf("%s: differ = %v, want %v", c.name, got, c.differ)
		}
	}
}

func TestVerdict(t *testing.T) {
	cases := []struct {
		row  Row
		want string
	}{
		{Row{People: 2, Completed: 2, Rows: 2}, "ok"},
		{Row{People: 2, Completed: 2, Rows: 2, Waited: 1}, "ok, slow"},
		{Row{People: 2, Completed: 2, Rows: 1, Lost: 1}, "FAIL: lost"},
		{Row{People: 2, Completed: 2, Rows: 3, Doubled: 1}, "FAIL: doubled"},
		{Row{People: 2, Completed: 1, Stuck: 1, Rows: 1}, "FAIL: 1 stuck"},
		{Row{People: 2, Completed: 1, Rows: 1}, "FAIL: 1 not completed"},
		{Row{People: 3, Completed: 1, Stuck: 1, Rows: 1}, "FAIL: 1 stuck, 1 not completed"},
		{Row{People: 2, Completed: 2, Rows: 2, TooMany: 3}, "FAIL: 429s"},
		{Row{People: 2, Completed: 2, Rows: 2, TooMany: 3, Storm: true}, "ok"},
	}
	for _, c := range cases {
		if got := c.row.Verdict(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.row, got, c.want)
		}
	}
}
