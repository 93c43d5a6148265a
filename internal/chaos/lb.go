package chaos

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// LBMode is how the load balancer delivers webhook updates.
type LBMode int

// The delivery modes.
const (
	LBRoundRobin LBMode = iota // each delivery to the next replica
	LBDuplicate                // each delivery, once answered, again to the other replica
	LBReorder                  // after a delivery, an earlier one again (out of order), now and then
	LBRace                     // each delivery to both replicas at the same time
)

// LB is the webhook's load balancer on loopback: Telegram (the fake)
// delivers to it and it forwards to the replicas, skipping one that does not
// accept connections (killed). Its modes make deliveries arrive twice, late
// or concurrently, as they do when Telegram retries after a timeout. A copy's
// answer is not lost: a method call in its body is made against the Bot API
// as Telegram would make it, so a duplicate that replies shows.
type LB struct {
	URL      string
	backends []string // base URLs of the replicas
	api      string   // Bot API base URL + "/bot" + token, for a copy's method call
	srv      *http.Server
	client   *http.Client

	mode   atomic.Int32
	next   atomic.Uint64
	copies atomic.Int64 // extra deliveries made

	mu     sync.Mutex
	rng    *rand.Rand
	recent [][]byte // bodies of the last deliveries, for replays
	wg     sync.WaitGroup
}

// NewLB starts a load balancer in front of the replicas' base URLs.
func NewLB(backends []string, apiBase string, seed uint64) (*LB, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lb := &LB{URL: "http://" + ln.Addr().String(), backends: backends, api: apiBase,
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64,
			DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}},
		rng: rand.New(rand.NewPCG(seed, 17))}
	lb.srv = &http.Server{Handler: lb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = lb.srv.Serve(ln) }()
	return lb, nil
}

// Set changes the delivery mode.
func (lb *LB) Set(m LBMode) { lb.mode.Store(int32(m)) }

// Copies is how many extra deliveries (duplicates, replays, racers) were made.
func (lb *LB) Copies() int64 { return lb.copies.Load() }

type lbAnswer struct {
	status int
	header http.Header
	body   []byte
}

// post delivers body to backend i; on a refused connection (a replica
// down) it tries the others, as a health-checking balancer would.
func (lb *LB) post(i int, path string, h http.Header, body []byte) (*lbAnswer, error) {
	var last error
	for k := range lb.backends {
		b := lb.backends[(i+k)%len(lb.backends)]
		req, err := http.NewRequest(http.MethodPost, b+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", h.Get("X-Telegram-Bot-Api-Secret-Token"))
		resp, err := lb.client.Do(req)
		if err != nil {
			last = err
			if isRefused(err) {
				continue
			}
			return nil, err
		}
		b2, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		return &lbAnswer{status: resp.StatusCode, header: resp.Header, body: b2}, nil
	}
	return nil, last
}

func isRefused(err error) bool {
	var op *net.OpError
	for e := err; e != nil; {
		if o, ok := e.(*net.OpError); ok {
			op = o
			break
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return op != nil && op.Op == "dial"
}

func (lb *LB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	i := int(lb.next.Add(1) % uint64(len(lb.backends)))
	mode := LBMode(lb.mode.Load())
	var ans *lbAnswer
	switch mode {
	case LBRace:
		type res struct {
			a   *lbAnswer
			err error
		}
		ch := make(chan res, 2)
		for k := range 2 {
			go func() {
				a, err := lb.post(i+k, r.URL.Path, r.Header, body)
				ch <- res{a, err}
			}()
		}
		lb.copies.Add(1)
		first := <-ch
		second := <-ch
		// Telegram hears one answer; the other's method call is made too.
		if first.err != nil || first.a.status/100 != 2 {
			first, second = second, first
		}
		ans, err = first.a, first.err
		if second.err == nil {
			lb.replay(second.a)
		}
	default:
		ans, err = lb.post(i, r.URL.Path, r.Header, body)
	}
	if err != nil {
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	if ans.status/100 == 2 {
		switch mode {
		case LBDuplicate:
			lb.copy(i+1, r.URL.Path, r.Header, body)
		case LBReorder:
			lb.mu.Lock()
			var old []byte
			if len(lb.recent) > 0 && lb.rng.IntN(2) == 0 {
				old = lb.recent[lb.rng.IntN(len(lb.recent))]
			}
			lb.recent = append(lb.recent, body)
			if len(lb.recent) > 32 {
				lb.recent = lb.recent[1:]
			}
			lb.mu.Unlock()
			if old != nil {
				lb.copy(i+1, r.URL.Path, r.Header, old)
			}
		}
	}
	if ct := ans.header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(ans.status)
	_, _ = w.Write(ans.body)
}

// copy delivers body once more to replica i after the original was
// answered, and makes the method call of its answer.
func (lb *LB) copy(i int, path string, h http.Header, body []byte) {
	lb.copies.Add(1)
	h = h.Clone()
	lb.wg.Add(1)
	go func() {
		defer lb.wg.Done()
		if a, err := lb.post(i, path, h, body); err == nil {
			lb.replay(a)
		}
	}()
}

// replay makes the Bot API call a replica put in its answer to a copy, as
// Telegram would have made it had that been the delivery it heard.
func (lb *LB) replay(a *lbAnswer) {
	if a.status/100 != 2 {
		return
	}
	var m map[string]any
	if json.Unmarshal(a.body, &m) != nil {
		return
	}
	method, _ := m["method"].(string)
	if method == "" {
		return
	}
	delete(m, "method")
	b, _ := json.Marshal(m)
	resp, err := lb.client.Post(lb.api+"/"+method, "application/json", bytes.NewReader(b))
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// Close stops the balancer after its copies are delivered.
func (lb *LB) Close() {
	_ = lb.srv.Close()
	lb.wg.Wait()
}
