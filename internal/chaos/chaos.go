// Package chaos is the fault matrix of issue 17 as a repeatable tool: it
// runs the real needsbot binary — two replicas on webhooks behind a small
// loopback load balancer and one replica on long polling — against real
// Redis and Postgres behind cuttable TCP proxies and the fake Bot API
// (bot/telegramtest) behind a front that injects faults, drives simulated
// respondents through the immigrants' questionnaire by its keyboards, and
// injects faults one at a time and then at random. Each fault ends with a
// count: interviews the people completed against rows in Postgres, answers
// that differ from what they tapped, waits, 429s. `needsbot chaos` only
// parses flags and calls Run.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/internal/loadtest"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/scratch"
)

// Options configure a run.
type Options struct {
	Bin         string        // the needsbot binary
	RedisURL    string        // a Redis server; the run uses its own key prefix and deletes its keys after
	DatabaseURL string        // a Postgres server; the run creates its own database and drops it after
	Short       bool          // the bounded form: few respondents, outages scaled down
	Duration    time.Duration // how long the random phase injects faults (0: no random phase)
	Seed        uint64
	Respondents int      // simulated people per fault (both transports together)
	Only        []string // run only these faults (by name), if set
	Progress    io.Writer
	BotLog      io.Writer // the replicas' logs, if set
	// WebhookTailDelay is the webhook replicas' NEEDSBOT_TAIL_DELAY: 0,
	// the README's setting for replicas without chat affinity (the
	// balancer has none); a rolling deploy runs two replicas with the
	// default (30s) for a while, which this reproduces.
	WebhookTailDelay time.Duration
}

// timing is the run's durations: the long form's are the issue's, the
// short form's are scaled down (the table header says so).
type timing struct {
	pgAtCompletion time.Duration
	pgLong         time.Duration
	redisShort     time.Duration
	redisLong      time.Duration
	apiFault       time.Duration // 429 storm, 5xx, timeouts, slow calls
	slowCall       time.Duration
	hang           time.Duration // a Bot API call that times out hangs this long
	killDown       time.Duration // a killed replica stays down this long
	updateTimeout  time.Duration // a respondent gives up on one update after this
	settle         time.Duration // how long rows may take to reach Postgres after the walks
	think          time.Duration
	flood          int
}

func timings(short bool) timing {
	if short {
		return timing{pgAtCompletion: 3 * time.Second, pgLong: 5 * time.Second, redisShort: 2 * time.Second,
			redisLong: 5 * time.Second, apiFault: 3 * time.Second, slowCall: 2 * time.Second, hang: 3 * time.Second,
			killDown: time.Second, updateTimeout: 45 * time.Second, settle: 60 * time.Second, think: 250 * time.Millisecond, flood: 50}
	}
	return timing{pgAtCompletion: 10 * time.Second, pgLong: 60 * time.Second, redisShort: 10 * time.Second,
		redisLong: 60 * time.Second, apiFault: 20 * time.Second, slowCall: 2 * time.Second, hang: 10 * time.Second,
		killDown: 3 * time.Second, updateTimeout: 3 * time.Minute, settle: 3 * time.Minute, think: 800 * time.Millisecond, flood: 50}
}

// rig is everything a run starts.
type rig struct {
	o      Options
	t      timing
	form   *dialog.Form
	cat    *locales.Catalog
	texts  loadtest.Texts // the thank-you and the stale notice by language
	dsn    string         // direct, for counting
	key    []byte         // pseudonym key
	rdb    *redis.Client
	redisP *Proxy
	pgP    *Proxy
	tgW    *telegramtest.Server // the webhook bot's Bot API
	tgP    *telegramtest.Server // the polling bot's
	frontW *Front
	frontP *Front
	lb     *LB
	w1, w2 *Replica
	p      *Replica
	nextID atomic.Int64
	// flooders are the people of the flood fault (by user id = chat id),
	// whose chats' 429s the report tells apart.
	flooders sync.Map
	rng      *mrand.Rand
}

// Run runs the matrix and returns its table.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Respondents < 1 {
		return nil, errors.New("chaos: at least one respondent per fault")
	}
	r := &rig{o: o, t: timings(o.Short), rng: mrand.New(mrand.NewPCG(o.Seed, 1))}
	r.nextID.Store(5_000_000)
	lib, err := forms.Load("")
	if err != nil {
		return nil, err
	}
	if ids := lib.Respondents(); len(ids) > 0 {
		r.form = lib.Latest(ids[0])
	}
	if r.form == nil {
		return nil, errors.New("chaos: no embedded questionnaire for respondents")
	}
	if r.cat, err = locales.New(); err != nil {
		return nil, err
	}
	r.texts = loadtest.TextsOf(r.cat, r.form)
	cleanup, err := r.setUp(ctx)
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err != nil {
		return nil, err
	}

	rep = &Report{Short: o.Short, Seed: o.Seed, Respondents: o.Respondents, Timing: r.t}
	for _, f := range r.faults() {
		if len(o.Only) > 0 && !contains(o.Only, f.name) {
			continue
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		row, err := r.phase(ctx, f, o.Respondents)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", f.name, err)
		}
		rep.Rows = append(rep.Rows, row)
		fmt.Fprintf(o.Progress, "chaos: %s\n", row.line())
	}
	if o.Duration > 0 && (len(o.Only) == 0 || contains(o.Only, "random")) {
		row, err := r.random(ctx, o.Duration)
		if err != nil {
			return rep, fmt.Errorf("random: %w", err)
		}
		rep.Rows = append(rep.Rows, row)
		fmt.Fprintf(o.Progress, "chaos: %s\n", row.line())
	}
	for _, rp := range []*Replica{r.w1, r.w2, r.p} {
		n, samples := rp.Errors()
		rep.LogErrors += n
		rep.LogSamples = append(rep.LogSamples, samples...)
	}
	return rep, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// setUp starts the database, proxies, fakes, fronts, balancer and
// replicas; cleanup undoes whatever was started.
func (r *rig) setUp(ctx context.Context) (cleanup func() error, err error) {
	var undo []func() error
	cleanup = func() error {
		var first error
		for i := len(undo) - 1; i >= 0; i-- {
			if e := undo[i](); e != nil && first == nil {
				first = e
			}
		}
		return first
	}
	do := func(f func()) { undo = append(undo, func() error { f(); return nil }) }

	dsn, drop, err := scratch.Database(ctx, r.o.DatabaseURL, "needsbot_chaos_")
	if err != nil {
		return cleanup, err
	}
	undo = append(undo, drop)
	r.dsn = dsn
	dbu, _ := url.Parse(dsn)
	if r.pgP, err = NewProxy(hostPort(dbu.Host, "5432")); err != nil {
		return cleanup, err
	}
	do(r.pgP.Close)
	proxied := *dbu
	proxied.Host = r.pgP.Addr

	ropt, err := redis.ParseURL(r.o.RedisURL)
	if err != nil {
		return cleanup, fmt.Errorf("redis URL: %w", err)
	}
	r.rdb = redis.NewClient(ropt)
	do(func() { _ = r.rdb.Close() })
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return cleanup, fmt.Errorf("redis: %w", err)
	}
	prefix := "needsbot_chaos:" + scratch.Hex(8) + ":"
	undo = append(undo, func() error { return scratch.DeleteKeys(context.WithoutCancel(ctx), r.rdb, prefix) })
	if r.redisP, err = NewProxy(ropt.Addr); err != nil {
		return cleanup, err
	}
	do(r.redisP.Close)
	ru, _ := url.Parse(r.o.RedisURL)
	ru.Host = r.redisP.Addr

	tgOpts := []telegramtest.Option{telegramtest.WithRateLimits(telegramtest.DefaultRateLimits()),
		telegramtest.WithWebhookRetry(100*time.Millisecond, 1_000_000), telegramtest.WithWebhookTimeout(40 * time.Second)}
	r.tgW = telegramtest.NewServer(tgOpts...)
	do(r.tgW.Close)
	r.tgP = telegramtest.NewServer(tgOpts...)
	do(r.tgP.Close)
	if r.frontW, err = NewFront(r.tgW, r.t.slowCall, r.t.hang); err != nil {
		return cleanup, err
	}
	do(r.frontW.Close)
	if r.frontP, err = NewFront(r.tgP, r.t.slowCall, r.t.hang); err != nil {
		return cleanup, err
	}
	do(r.frontP.Close)

	r.key = []byte(scratch.Hex(32))
	addrs := make([]string, 3)
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return cleanup, err
		}
	}
	if r.lb, err = NewLB([]string{"http://" + addrs[0], "http://" + addrs[1]}, r.frontW.URL+"/bot"+r.tgW.Token(), r.o.Seed); err != nil {
		return cleanup, err
	}
	do(r.lb.Close)

	base := map[string]string{
		"NEEDSBOT_REDIS_URL":            ru.String(),
		"NEEDSBOT_REDIS_PREFIX":         prefix,
		"NEEDSBOT_DATABASE_URL":         proxied.String(),
		"NEEDSBOT_PSEUDONYM_KEY":        string(r.key),
		"NEEDSBOT_DEFAULT_MUNICIPALITY": "058091",
		"NEEDSBOT_LOG_LEVEL":            "info",
		"NEEDSBOT_REMINDER_AFTER":       "0",
		// The simulated people answer faster than people do, and duplicate
		// deliveries count against the limit too (see docs/operations.md);
		// the flood (50 messages at once) still goes over it.
		"NEEDSBOT_INBOUND_LIMIT":    "40",
		"NEEDSBOT_SHUTDOWN_TIMEOUT": "10s",
	}
	secret := scratch.Hex(20)
	envFor := func(addr string, tg *telegramtest.Server, front *Front, webhook bool) map[string]string {
		env := map[string]string{"NEEDSBOT_LISTEN_ADDR": addr, "NEEDSBOT_TELEGRAM_TOKEN": tg.Token(), "NEEDSBOT_TELEGRAM_API_URL": front.URL}
		for k, v := range base {
			env[k] = v
		}
		if webhook {
			env["NEEDSBOT_WEBHOOK_URL"] = r.lb.URL + "/telegram/webhook"
			env["NEEDSBOT_WEBHOOK_SECRET"] = secret
			// The balancer has no chat affinity: the README's setting for
			// that (a turn's tail written at once, not held in memory for
			// the chat's next update, which may reach the other replica).
			env["NEEDSBOT_TAIL_DELAY"] = r.o.WebhookTailDelay.String()
		}
		return env
	}
	r.w1 = newReplica("webhook-1", r.o.Bin, addrs[0], envFor(addrs[0], r.tgW, r.frontW, true), r.o.BotLog)
	r.w2 = newReplica("webhook-2", r.o.Bin, addrs[1], envFor(addrs[1], r.tgW, r.frontW, true), r.o.BotLog)
	r.p = newReplica("polling", r.o.Bin, addrs[2], envFor(addrs[2], r.tgP, r.frontP, false), r.o.BotLog)
	for _, rp := range []*Replica{r.w1, r.w2, r.p} {
		if err := r.start(ctx, rp); err != nil {
			return cleanup, err
		}
		undo = append(undo, func() error {
			if code := rp.Stop(20 * time.Second); code != 0 {
				return fmt.Errorf("%s exited with %d", rp.Name, code)
			}
			return nil
		})
	}
	fmt.Fprintf(r.o.Progress, "chaos: 2 webhook replicas behind %s, 1 polling replica; Redis via %s, Postgres via %s\n",
		r.lb.URL, r.redisP.Addr, r.pgP.Addr)
	return cleanup, nil
}

// start starts a replica and waits until it set its webhook or polls.
func (r *rig) start(ctx context.Context, rp *Replica) error {
	tg, method := r.tgW, "setWebhook"
	if rp == r.p {
		tg, method = r.tgP, "getUpdates"
	}
	before := tg.Calls()[method]
	return rp.Start(ctx, func() bool { return tg.Calls()[method] > before })
}

// restart starts a killed replica again; failing that is an error of the
// run, reported in the row.
func (r *rig) restart(ctx context.Context, rp *Replica) error {
	return r.start(context.WithoutCancel(ctx), rp)
}

func hostPort(host, port string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(host, port)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// people makes n respondents, alternating between the webhook bot and the
// polling one unless only one transport is asked for.
func (r *rig) people(n int, transports string, think time.Duration, progress func(int)) []*loadtest.Walker {
	langs := r.cat.Languages()
	cs := loadtest.Comments()
	out := make([]*loadtest.Walker, n)
	for i := range out {
		id := r.nextID.Add(1)
		tg := r.tgW
		switch transports {
		case "polling":
			tg = r.tgP
		case "both":
			if i%2 == 1 {
				tg = r.tgP
			}
		}
		rng := mrand.New(mrand.NewPCG(r.o.Seed, uint64(id)))
		lang := langs[rng.IntN(len(langs))].Code
		out[i] = &loadtest.Walker{
			User:     tg.User(id, telegramtest.FirstName("Respondent"), telegramtest.LanguageCode(lang)),
			Form:     r.form,
			Rng:      rng,
			Lang:     lang,
			Comment:  cs[int(id)%len(cs)],
			Timeout:  r.t.updateTimeout,
			Think:    think,
			Texts:    r.texts,
			Progress: progress,
		}
	}
	return out
}

// walk runs the respondents' interviews concurrently.
func walk(ctx context.Context, ps []*loadtest.Walker) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Interview(ctx)
		}()
	}
	wg.Wait()
}

// pseudonyms of the respondents.
func (r *rig) pseudonyms(ps []*loadtest.Walker) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = storage.Pseudonym(r.key, p.User.ID())
	}
	return out
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "chaos:   "+format+"\n", args...)
}
