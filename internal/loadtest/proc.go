package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ltChild is the bot under test: the real binary running `needsbot run` as
// a child process.
type ltChild struct {
	cmd    *exec.Cmd
	addr   string // its HTTP listener (webhook, /healthz, /metrics)
	logs   *ltLogTail
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startChild runs bin with `run` and env added to this process's
// environment minus every NEEDSBOT_* variable (the child is configured only
// by what the load test decides). Its log goes to the tail, and to logFile
// if set.
func startChild(bin, addr string, env map[string]string, logFile io.Writer) (*ltChild, error) {
	cmd := exec.Command(bin, "run")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NEEDSBOT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	c := &ltChild{cmd: cmd, addr: addr, logs: newLogTail(200), exited: make(chan struct{})}
	var out io.Writer = c.logs
	if logFile != nil {
		out = io.MultiWriter(c.logs, logFile)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// waitReady waits until the child serves /healthz and ready() holds (the
// bot has set its webhook or started polling).
func (c *ltChild) waitReady(ctx context.Context, ready func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("the bot exited during start-up (%v); its log:\n%s", c.err, c.logs.String())
		default:
		}
		if resp, err := hc.Get("http://" + c.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && ready() {
				return nil
			}
		}
		if err := Sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("the bot did not become ready within a minute; its log:\n%s", c.logs.String())
		}
	}
}

// stop sends SIGTERM and waits for a graceful exit (killing after
// timeout); it returns the exit code and the process's resource usage.
func (c *ltChild) stop(timeout time.Duration) (int, *syscall.Rusage, error) {
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(timeout):
			_ = c.cmd.Process.Kill()
			<-c.exited
			return -1, nil, fmt.Errorf("the bot did not stop within %s after SIGTERM; killed", timeout)
		}
	}
	ru, _ := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	code := c.cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	if c.err != nil && !errors.As(c.err, &exitErr) {
		return code, ru, c.err
	}
	return code, ru, nil
}

// scrape fetches the bot's /metrics.
func (c *ltChild) scrape(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return fams, nil
}

// ltLogTail keeps the last lines of the bot's log and counts warnings and
// errors (the log is JSON, one record a line).
type ltLogTail struct {
	mu       sync.Mutex
	max      int
	lines    []string
	partial  []byte
	warnings int
	errors   int
	samples  []string // the first error and warning messages
}

func newLogTail(n int) *ltLogTail { return &ltLogTail{max: n} }

func (t *ltLogTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	buf := append(t.partial, p...)
	for {
		i := strings.IndexByte(string(buf), '\n')
		if i < 0 {
			break
		}
		t.line(string(buf[:i]))
		buf = buf[i+1:]
	}
	t.partial = append([]byte(nil), buf...)
	return len(p), nil
}

func (t *ltLogTail) line(l string) {
	isErr, isWarn := strings.Contains(l, `"level":"ERROR"`), strings.Contains(l, `"level":"WARN"`)
	if isErr {
		t.errors++
	}
	if isWarn {
		t.warnings++
	}
	if (isErr || isWarn) && len(t.samples) < 5 {
		t.samples = append(t.samples, l)
	}
	t.lines = append(t.lines, l)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *ltLogTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

func (t *ltLogTail) counts() (warnings, errors int, samples []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.warnings, t.errors, append([]string(nil), t.samples...)
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procCPU returns a process's user+system CPU time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line; the command name in parentheses may hold spaces.
func parseProcStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, errors.New("malformed /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat")
	}
	return time.Duration(u+st) * time.Second / clockTicks, nil
}

// procPeakRSS returns VmHWM, the peak resident set size, in bytes.
func procPeakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseVmHWM(f)
}

func parseVmHWM(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// machineCPU returns the busy and total jiffies of all CPUs from /proc/stat.
func machineCPU() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, errors.New("malformed /proc/stat")
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, errors.New("malformed /proc/stat")
		}
		total += n
		if i != 3 && i != 4 { // idle and iowait
			busy += n
		}
	}
	return busy, total, nil
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return rusageCPU(&ru)
}

func rusageCPU(ru *syscall.Rusage) time.Duration {
	if ru == nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisInfo reads numeric fields from the output of Redis's INFO; for a
// commandstats line (cmdstat_NAME:calls=N,…) the value is its calls.
func redisInfo(info string, fields ...string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !slices.Contains(fields, k) {
			continue
		}
		if calls, ok := strings.CutPrefix(v, "calls="); ok {
			v, _, _ = strings.Cut(calls, ",")
		}
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// redisUsec sums the usec of INFO commandstats: of the scripts (EVAL,
// EVALSHA: their time includes the commands they call) and of every
// command. Commands called by a script are counted again under their own
// name, so all counts them twice: the time Redis spent executing commands
// lies between scripts+direct and all.
func redisUsec(info string) (scripts, all float64) {
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(k, "cmdstat_") {
			continue
		}
		_, u, ok := strings.Cut(v, "usec=")
		if !ok {
			continue
		}
		u, _, _ = strings.Cut(u, ",")
		n, err := strconv.ParseFloat(u, 64)
		if err != nil {
			continue
		}
		all += n
		if k == "cmdstat_eval" || k == "cmdstat_evalsha" {
			scripts += n
		}
	}
	return scripts, all
}

// histogramQuantile estimates the q-quantile of a Prometheus histogram
// summed over its series, interpolating linearly inside a bucket as
// PromQL's histogram_quantile does.
func histogramQuantile(q float64, fam *dto.MetricFamily) float64 {
	if fam == nil {
		return math.NaN()
	}
	counts := map[float64]float64{}
	var total float64
	for _, m := range fam.GetMetric() {
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		total += float64(h.GetSampleCount())
		for _, b := range h.GetBucket() {
			counts[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	}
	if total == 0 {
		return math.NaN()
	}
	bounds := make([]float64, 0, len(counts))
	for b := range counts {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bounds {
		c := counts[b]
		if c >= rank {
			if math.IsInf(b, 1) {
				return lower // PromQL: the highest finite bound
			}
			if c == below {
				return b
			}
			return lower + (b-lower)*(rank-below)/(c-below)
		}
		lower, below = b, c
	}
	return lower // beyond the last finite bucket: its bound, as PromQL does
}

// histogramMean is sum/count of a histogram over its series.
func histogramMean(fam *dto.MetricFamily) (mean float64, count uint64) {
	var sum float64
	for _, m := range fam.GetMetric() {
		if h := m.GetHistogram(); h != nil {
			sum += h.GetSampleSum()
			count += h.GetSampleCount()
		}
	}
	if count == 0 {
		return math.NaN(), 0
	}
	return sum / float64(count), count
}

// counterBy sums a counter family by the value of one label.
func counterBy(fam *dto.MetricFamily, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range fam.GetMetric() {
		var key []string
		for _, l := range labels {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == l {
					key = append(key, lp.GetValue())
				}
			}
		}
		out[strings.Join(key, " ")] += m.GetCounter().GetValue()
	}
	return out
}
