package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Replica is one `needsbot run` process; it can be killed and started again
// with the same configuration.
type Replica struct {
	Name string
	Addr string // its HTTP listener
	bin  string
	env  []string
	log  io.Writer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *logTail
}

func newReplica(name, bin, addr string, env map[string]string, logw io.Writer) *Replica {
	var list []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NEEDSBOT_") {
			list = append(list, kv)
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		list = append(list, k+"="+env[k])
	}
	return &Replica{Name: name, Addr: addr, bin: bin, env: list, log: logw, logs: &logTail{max: 200}}
}

// Start runs the process and waits until it serves /healthz and ready()
// holds.
func (r *Replica) Start(ctx context.Context, ready func() bool) error {
	cmd := exec.Command(r.bin, "run")
	cmd.Env = r.env
	var out io.Writer = r.logs
	if r.log != nil {
		out = io.MultiWriter(r.logs, prefixWriter{r.Name, r.log})
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", r.Name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-exited:
			return fmt.Errorf("%s exited during start-up; its log:\n%s", r.Name, r.logs.String())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within a minute; its log:\n%s", r.Name, r.logs.String())
		case <-time.After(25 * time.Millisecond):
		}
		if resp, err := hc.Get("http://" + r.Addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && ready() {
				return nil
			}
		}
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (r *Replica) Kill() {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Stop sends SIGTERM and waits (SIGKILL after timeout); it returns the exit
// code.
func (r *Replica) Stop(timeout time.Duration) int {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if cmd == nil {
		return -1
	}
	select {
	case <-exited:
	default:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(timeout):
			_ = cmd.Process.Kill()
			<-exited
			return -1
		}
	}
	return cmd.ProcessState.ExitCode()
}

// Errors is how many ERROR lines the replica logged, with the first few.
func (r *Replica) Errors() (int, []string) { return r.logs.counts() }

// logTail keeps the last lines of a JSON log and counts its errors.
type logTail struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial []byte
	errors  int
	samples []string
}

func (t *logTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	buf := append(t.partial, p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		l := string(buf[:i])
		buf = buf[i+1:]
		if strings.Contains(l, `"level":"ERROR"`) {
			t.errors++
			if len(t.samples) < 5 {
				t.samples = append(t.samples, l)
			}
		}
		t.lines = append(t.lines, l)
		if len(t.lines) > t.max {
			t.lines = t.lines[len(t.lines)-t.max:]
		}
	}
	t.partial = append([]byte(nil), buf...)
	return len(p), nil
}

func (t *logTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

func (t *logTail) counts() (int, []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.errors, append([]string(nil), t.samples...)
}

// prefixWriter writes to w with the replica's name before each write.
type prefixWriter struct {
	name string
	w    io.Writer
}

func (p prefixWriter) Write(b []byte) (int, error) {
	_, err := fmt.Fprintf(p.w, "%s %s", p.name, b)
	return len(b), err
}
