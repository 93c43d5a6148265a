package bot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// wireClient makes the DirectAPI's calls to a Bot API server reached over
// plain HTTP (a self-hosted telegram-bot-api server, the load tests) as
// HTTP/1.1 requests on keep-alive connections of its own, each call a
// single write and its reads in the calling goroutine (issue 19: the bot's
// CPU per Bot API call). net/http's client hands every request to two
// goroutines of the connection (one writes, one reads) and back over
// channels, parses the URL, copies headers and runs a timer goroutine for
// Client.Timeout: a third to a half of the bot's CPU per call besides the
// system calls. HTTPS (api.telegram.org, HTTP/2) and proxies stay with
// net/http (NewWireAPI).
//
// What it keeps from the http.Client it replaces (run.go's httpClient):
// up to 128 idle connections, closed after 90 s idle; a call times out
// after 60 s or at its context's deadline, whichever is sooner, and ends
// when its context is cancelled; a request that could not be sent on a
// reused connection the server had closed meanwhile goes once more on a
// new one (net/http checks idle connections in the background instead);
// a reply is read up to 1 MiB.
type wireClient struct {
	addr string // host:port to dial
	// head and tail frame the method in the request line and headers:
	// head + method + tail + Content-Length + "\r\n\r\n" + body.
	head, tail string

	timeout     time.Duration
	maxIdle     int
	idleTimeout time.Duration
	dialer      net.Dialer

	mu   sync.Mutex
	idle []*wireConn // most recently used last
	// reqs are request buffers (headers and body written in one piece).
	reqs sync.Pool
}

// wireConn is one keep-alive connection.
type wireConn struct {
	net.Conn
	r    *bufio.Reader
	used time.Time // when it went idle
}

const (
	wireTimeout     = 60 * time.Second
	wireMaxIdle     = 128
	wireIdleTimeout = 90 * time.Second
	// wireCheckAfter: a connection idle at least this long is checked for
	// a close by the server (without blocking) before it is used again.
	wireCheckAfter = time.Second
	wireMaxReply   = 1 << 20
)

// newWireClient returns the client for serverURL and token, or nil when
// the URL is not one it serves: a scheme other than http, a proxy for it
// in the environment (HTTP_PROXY, as net/http would use), user info, a
// query, or a token with characters a request line would need escaped.
func newWireClient(serverURL, token string) *wireClient {
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || p != nil {
		return nil
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == ':' || c == '_' || c == '-') {
			return nil
		}
	}
	path := u.EscapedPath()
	for len(path) > 0 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	hostHeader := u.Host
	if len(hostHeader) > 0 && hostHeader[len(hostHeader)-1] == ':' {
		hostHeader = hostHeader[:len(hostHeader)-1]
	}
	w := &wireClient{
		addr: net.JoinHostPort(host, port),
		head: "POST " + path + "/bot" + token + "/",
		tail: " HTTP/1.1\r\nHost: " + hostHeader + "\r\nUser-Agent: Go-http-client/1.1\r\nContent-Type: application/json\r\nContent-Length: ",
		// As run.go's transport (http.DefaultTransport's dialer).
		timeout: wireTimeout, maxIdle: wireMaxIdle, idleTimeout: wireIdleTimeout,
		dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
	}
	w.reqs.New = func() any { b := make([]byte, 0, 2048); return &b }
	return w
}

// post sends params (the body, as DirectAPI writes it) to method and reads
// the reply's body into out; it returns the HTTP status. Errors name the
// method, never the token.
func (w *wireClient) post(ctx context.Context, method string, params any, out *bytes.Buffer) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, wireError(method, err)
	}
	bp := w.reqs.Get().(*[]byte)
	defer w.reqs.Put(bp)
	// The body goes after room for the headers, which are written in
	// front of it once its length is known.
	room := len(w.head) + len(method) + len(w.tail) + 24
	b := append((*bp)[:0], make([]byte, room)...)
	b, err := appendParams(b, params)
	if err != nil {
		return 0, err
	}
	*bp = b[:0]
	var num [20]byte
	n := strconv.AppendInt(num[:0], int64(len(b)-room), 10)
	start := room - (len(w.head) + len(method) + len(w.tail) + len(n) + 4)
	p := start
	p += copy(b[p:], w.head)
	p += copy(b[p:], method)
	p += copy(b[p:], w.tail)
	p += copy(b[p:], n)
	copy(b[p:], "\r\n\r\n")
	req := b[start:]

	deadline, ctxDeadline := time.Now().Add(w.timeout), false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxDeadline = d, true
	}
	// ctxErr is the context's error when it ended (the call's error then
	// is only how the end showed) or its deadline passed (the
	// connection's may show first), err otherwise.
	ctxErr := func(ctx context.Context, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		var ne net.Error
		if ctxDeadline && errors.As(err, &ne) && ne.Timeout() {
			return context.DeadlineExceeded
		}
		return err
	}
	for attempt := 0; ; attempt++ {
		c, reused, err := w.conn(ctx, deadline)
		if err != nil {
			return 0, wireError(method, ctxErr(ctx, err))
		}
		status, answered, err := w.roundTrip(ctx, c, req, deadline, out)
		if err == nil {
			return status, nil
		}
		// A reused connection the server closed before reading the
		// request (its idle timeout): nothing was answered, so the
		// request goes once more on a new connection.
		if reused && !answered && attempt == 0 && ctx.Err() == nil && closedByPeer(err) {
			out.Reset()
			continue
		}
		return 0, wireError(method, ctxErr(ctx, err))
	}
}

// roundTrip writes req on c and reads the reply into out; c goes back to
// the idle list or is closed. answered reports whether any byte of a reply
// came.
func (w *wireClient) roundTrip(ctx context.Context, c *wireConn, req []byte, deadline time.Time, out *bytes.Buffer) (status int, answered bool, err error) {
	if err := c.SetDeadline(deadline); err != nil {
		c.Close()
		return 0, false, err
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.SetDeadline(aLongTimeAgo) })
	}
	status, answered, keep, err := c.exchange(req, out)
	if stop != nil && !stop() {
		// The context ended meanwhile and moved the deadline (or is about
		// to): the connection cannot be trusted with another call. A
		// reply read in full is still the reply.
		keep = false
		if err != nil {
			err = ctx.Err()
		}
	}
	if err != nil || !keep {
		c.Close()
	} else {
		w.put(c)
	}
	return status, answered, err
}

var aLongTimeAgo = time.Unix(1, 0)

// conn takes the most recently used idle connection that is still open,
// or dials a new one.
func (w *wireClient) conn(ctx context.Context, deadline time.Time) (c *wireConn, reused bool, err error) {
	now := time.Now()
	w.mu.Lock()
	for n := len(w.idle); n > 0; n = len(w.idle) {
		c := w.idle[n-1]
		w.idle[n-1] = nil
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		idle := now.Sub(c.used)
		if idle < w.idleTimeout && (idle < wireCheckAfter || c.open()) {
			return c, true, nil
		}
		c.Close()
		w.mu.Lock()
	}
	w.mu.Unlock()
	d := w.dialer
	d.Deadline = deadline
	nc, err := d.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return nil, false, err
	}
	return &wireConn{Conn: nc, r: bufio.NewReaderSize(nc, 4096)}, false, nil
}

// put keeps c for the next call; the oldest idle connection goes when
// there are too many or it has been idle too long.
func (w *wireClient) put(c *wireConn) {
	c.used = time.Now()
	var drop *wireConn
	w.mu.Lock()
	if len(w.idle) > 0 && (len(w.idle) >= w.maxIdle || c.used.Sub(w.idle[0].used) >= w.idleTimeout) {
		drop = w.idle[0]
		copy(w.idle, w.idle[1:])
		w.idle[len(w.idle)-1] = nil
		w.idle = w.idle[:len(w.idle)-1]
	}
	w.idle = append(w.idle, c)
	w.mu.Unlock()
	if drop != nil {
		drop.Close()
	}
}

// closeIdle closes the idle connections.
func (w *wireClient) closeIdle() {
	w.mu.Lock()
	idle := w.idle
	w.idle = nil
	w.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// open reports whether the server has neither closed c nor sent anything
// unasked on it (a peek that does not wait).
func (c *wireConn) open() bool {
	if c.r.Buffered() > 0 {
		return false
	}
	return peekOpen(c.Conn)
}

// exchange writes req and reads one reply.
func (c *wireConn) exchange(req []byte, out *bytes.Buffer) (status int, answered, keep bool, err error) {
	if _, err := c.Write(req); err != nil {
		return 0, false, false, err
	}
	if _, err := c.r.Peek(1); err != nil {
		return 0, false, false, err
	}
	status, keep, err = readReply(c.r, out)
	return status, true, keep, err
}

// errMalformed is a reply that is not HTTP/1.x as this client reads it.
var errMalformed = errors.New("malformed HTTP reply")

// readReply reads an HTTP/1.x response from r: its status, and its body
// into out (up to wireMaxReply bytes). keep reports whether the connection
// may carry another request.
func readReply(r *bufio.Reader, out *bytes.Buffer) (status int, keep bool, err error) {
	for {
		line, err := readLine(r)
		if err != nil {
			return 0, false, err
		}
		// HTTP/1.x NNN reason
		if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
			(len(line) > 12 && line[12] != ' ') {
			return 0, false, fmt.Errorf("%w: status line %q", errMalformed, clip(line))
		}
		status = 0
		for _, d := range line[9:12] {
			if d < '0' || d > '9' {
				return 0, false, fmt.Errorf("%w: status line %q", errMalformed, clip(line))
			}
			status = status*10 + int(d-'0')
		}
		if status < 100 {
			return 0, false, fmt.Errorf("%w: status line %q", errMalformed, clip(line))
		}
		http10 := line[7] == '0'
		keep = !http10
		length, chunked := int64(-1), false
		for {
			h, err := readLine(r)
			if err != nil {
				return 0, false, err
			}
			if len(h) == 0 {
				break
			}
			colon := bytes.IndexByte(h, ':')
			if colon <= 0 {
				return 0, false, fmt.Errorf("%w: header %q", errMalformed, clip(h))
			}
			name, value := h[:colon], bytes.Trim(h[colon+1:], " \t")
			switch {
			case asciiEqualFold(name, "content-length"):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 || (length >= 0 && n != length) {
					return 0, false, fmt.Errorf("%w: Content-Length %q", errMalformed, clip(value))
				}
				length = n
			case asciiEqualFold(name, "transfer-encoding"):
				if !asciiEqualFold(value, "chunked") {
					return 0, false, fmt.Errorf("%w: Transfer-Encoding %q", errMalformed, clip(value))
				}
				chunked = true
			case asciiEqualFold(name, "connection"):
				for _, tok := range bytes.Split(value, []byte(",")) {
					tok = bytes.Trim(tok, " \t")
					if asciiEqualFold(tok, "close") {
						keep = false
					} else if http10 && asciiEqualFold(tok, "keep-alive") {
						keep = true
					}
				}
			}
		}
		if status == http.StatusSwitchingProtocols {
			return 0, false, fmt.Errorf("%w: 101 Switching Protocols", errMalformed)
		}
		if status < 200 {
			continue // an interim reply (100 Continue): the real one follows
		}
		if status == http.StatusNoContent || status == http.StatusNotModified {
			return status, keep, nil
		}
		switch {
		case chunked:
			more, err := readChunked(r, out)
			return status, keep && !more, err
		case length >= 0:
			n := min(length, wireMaxReply)
			out.Grow(int(n))
			b := out.AvailableBuffer()[:n]
			if _, err := io.ReadFull(r, b); err != nil {
				return 0, false, unexpected(err)
			}
			out.Write(b)
			return status, keep && n == length, nil
		default:
			// Delimited by the end of the connection.
			_, err := out.ReadFrom(io.LimitReader(r, wireMaxReply))
			return status, false, err
		}
	}
}

// readChunked reads a chunked body into out; more reports a body cut at
// wireMaxReply (the rest unread).
func readChunked(r *bufio.Reader, out *bytes.Buffer) (more bool, err error) {
	for {
		line, err := readLine(r)
		if err != nil {
			return false, unexpected(err)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = bytes.Trim(line, " \t")
		size, err := strconv.ParseUint(string(line), 16, 63)
		if err != nil || len(line) == 0 {
			return false, fmt.Errorf("%w: chunk size %q", errMalformed, clip(line))
		}
		if size == 0 {
			for { // trailers
				t, err := readLine(r)
				if err != nil {
					return false, unexpected(err)
				}
				if len(t) == 0 {
					return false, nil
				}
			}
		}
		if uint64(out.Len())+size > wireMaxReply {
			n := wireMaxReply - out.Len()
			if _, err := io.CopyN(out, r, int64(n)); err != nil {
				return false, unexpected(err)
			}
			return true, nil
		}
		out.Grow(int(size))
		b := out.AvailableBuffer()[:size]
		if _, err := io.ReadFull(r, b); err != nil {
			return false, unexpected(err)
		}
		out.Write(b)
		crlf, err := readLine(r)
		if err != nil {
			return false, unexpected(err)
		}
		if len(crlf) != 0 {
			return false, fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
		}
	}
}

// readLine reads a line without its CRLF (or LF); the slice is valid until
// the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: line longer than %d bytes", errMalformed, r.Size())
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

// unexpected is io.ErrUnexpectedEOF for an end of the connection in the
// middle of a reply.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// closedByPeer reports whether err is the end of a connection the server
// closed (or reset) before answering.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// wireError is err as net/http's client reports a failed call, with the
// bot API's address and token left out.
func wireError(method string, err error) error {
	return &url.Error{Op: "Post", URL: "<bot api>/" + method, Err: err}
}
