package trykit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoInitdb means the machine has no PostgreSQL server binaries.
var ErrNoInitdb = errors.New("initdb not found (under /usr/lib/postgresql/*/bin or on PATH)")

// Cluster is a throwaway PostgreSQL cluster in a temporary directory,
// started with the machine's initdb and pg_ctl on a free loopback port.
type Cluster struct {
	dir    string // temporary directory: data/, the socket and the log
	bindir string
	port   int
	runAs  string // OS user that owns and runs it; "" = the current user
	dsn    string
}

func (c *Cluster) describe() string {
	return fmt.Sprintf("PostgreSQL %s at 127.0.0.1:%d, data in %s", filepath.Base(filepath.Dir(c.bindir)), c.port, c.dir)
}

// FindInitdb returns the directory of the newest initdb: Debian and Ubuntu
// keep one per major version under /usr/lib/postgresql/N/bin, off PATH.
func FindInitdb() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, f := range found {
		if executable(f) && executable(filepath.Join(filepath.Dir(f), "pg_ctl")) {
			return filepath.Dir(f), nil
		}
	}
	if f, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(f); executable(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", ErrNoInitdb
}

// versionOf reads N from /usr/lib/postgresql/N/bin/initdb.
func versionOf(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// StartCluster creates a cluster in a new temporary directory and starts
// it. initdb refuses to run as root, so as root the cluster belongs to
// the postgres OS user (which the PostgreSQL packages create) and its
// commands run through runuser (or su).
func StartCluster(ctx context.Context) (*Cluster, error) {
	bindir, err := FindInitdb()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bindir: bindir}
	RemoveStaleClusters(ctx, bindir, os.TempDir())
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("initdb refuses to run as root, and there is no postgres user to run it as: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		c.runAs = "postgres"
	}
	if c.dir, err = os.MkdirTemp("", ClusterPrefix); err != nil {
		return nil, err
	}
	// Which try owns the cluster: a later try removes it once that
	// process is gone (killed, or its terminal closed before SIGHUP was
	// handled).
	if err := os.WriteFile(filepath.Join(c.dir, OwnerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(c.dir)
		return nil, err
	}
	if uid >= 0 {
		if err := os.Chown(c.dir, uid, gid); err != nil {
			os.RemoveAll(c.dir)
			return nil, fmt.Errorf("give %s to the postgres user: %w", c.dir, err)
		}
	}
	if c.port, err = clusterPort(); err != nil {
		os.RemoveAll(c.dir)
		return nil, err
	}
	data := filepath.Join(c.dir, "data")
	if err := c.run(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(c.dir)
		return nil, err
	}
	// Durability is not wanted for a throwaway cluster: faster without.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
		c.port, clusterQuote(c.dir))
	if err := c.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(c.dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		if log, rerr := os.ReadFile(filepath.Join(c.dir, "postgres.log")); rerr == nil {
			err = fmt.Errorf("%w\n%s", err, tailLines(string(log), 5))
		}
		os.RemoveAll(c.dir)
		return nil, err
	}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	if c.dsn, err = EnsureDatabase(ctx, admin, Database); err != nil {
		c.stop()
		return nil, fmt.Errorf("throwaway cluster: %w", err)
	}
	return c, nil
}

// ClusterPrefix names the temporary directories of throwaway clusters;
// OwnerFile in each holds the process id of the try that made it.
const (
	ClusterPrefix = "needsbot-try-pg-"
	OwnerFile     = "try.pid"
)

// RemoveStaleClusters stops and deletes the throwaway clusters under tmp
// whose try is no longer running. A directory without an owner file (made
// by an older try, or half made) is removed when it is older than a day.
func RemoveStaleClusters(ctx context.Context, bindir, tmp string) []string {
	dirs, _ := filepath.Glob(filepath.Join(tmp, ClusterPrefix+"*"))
	var removed []string
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, OwnerFile))
		if err != nil {
			fi, serr := os.Stat(dir)
			if serr != nil || time.Since(fi.ModTime()) < 24*time.Hour {
				continue
			}
		} else if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr != nil || processAlive(pid) {
			continue
		}
		c := &Cluster{dir: dir, bindir: bindir}
		if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
			if os.Geteuid() == 0 {
				c.runAs = "postgres"
			}
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_ = c.run(sctx, "pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "-t", "20", "stop")
			cancel()
		}
		if os.RemoveAll(dir) == nil {
			removed = append(removed, dir)
		}
	}
	return removed
}

// processAlive reports whether a process with this id exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// stop stops the cluster and deletes its directory.
func (c *Cluster) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = c.run(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "-t", "50", "stop")
	_ = os.RemoveAll(c.dir)
}

// run runs one of the cluster's programs as the cluster's owner.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) error {
	bin := filepath.Join(c.bindir, prog)
	var cmd *exec.Cmd
	switch {
	case c.runAs == "":
		cmd = exec.CommandContext(ctx, bin, args...)
	case onPath("runuser"):
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", bin}, args...)...)
	default:
		q := []string{clusterQuote(bin)}
		for _, a := range args {
			q = append(q, clusterQuote(a))
		}
		cmd = exec.CommandContext(ctx, "su", c.runAs, "-s", "/bin/sh", "-c", strings.Join(q, " "))
	}
	cmd.Dir = c.dir // readable by the owner, unlike root's home
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", prog, err, tailLines(out.String(), 8))
	}
	return nil
}

func onPath(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// clusterPort returns a loopback TCP port that was free a moment ago.
func clusterPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func clusterQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
