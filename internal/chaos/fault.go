package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/internal/loadtest"
)

// fault is one row of the matrix: who it concerns and how it is injected
// while the respondents walk.
type fault struct {
	name   string
	scope  string // both, webhook or polling
	storm  bool   // 429s are injected on purpose
	inject func(ctx context.Context, ph *phaseRun) error
}

// phaseRun is one fault's run in progress.
type phaseRun struct {
	r         *rig
	maxPos    atomic.Int64
	walked    chan struct{}
	questions int
}

// reached waits until some respondent got past frac of the questionnaire
// (or everybody finished).
func (ph *phaseRun) reached(ctx context.Context, frac float64) error {
	want := int64(frac * float64(ph.questions))
	for ph.maxPos.Load() < want {
		select {
		case <-ph.walked:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// during waits d, or until the walks are over if that comes first.
func (ph *phaseRun) during(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
	case <-ph.walked:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (ph *phaseRun) untilWalked(ctx context.Context) error {
	select {
	case <-ph.walked:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// outage cuts p at frac of the walk for d. The whole outage runs even if
// the walks end first: what is parked must survive all of it.
func outage(p func(*rig) *Proxy, frac float64, d func(timing) time.Duration) func(context.Context, *phaseRun) error {
	return func(ctx context.Context, ph *phaseRun) error {
		if err := ph.reached(ctx, frac); err != nil {
			return err
		}
		px := p(ph.r)
		px.Cut()
		defer px.Restore()
		return loadtest.Sleep(ctx, d(ph.r.t))
	}
}

// apiFault makes both fronts answer badly for the timing's window.
func apiFault(a APIFault) func(context.Context, *phaseRun) error {
	return func(ctx context.Context, ph *phaseRun) error {
		if err := ph.reached(ctx, 0.3); err != nil {
			return err
		}
		ph.r.frontW.Set(a)
		ph.r.frontP.Set(a)
		defer ph.r.frontW.Set(APINone)
		defer ph.r.frontP.Set(APINone)
		return ph.during(ctx, ph.r.t.apiFault)
	}
}

// delivery sets the balancer's mode for the whole walk.
func delivery(m LBMode) func(context.Context, *phaseRun) error {
	return func(ctx context.Context, ph *phaseRun) error {
		ph.r.lb.Set(m)
		defer ph.r.lb.Set(LBRoundRobin)
		return ph.untilWalked(ctx)
	}
}

// kill sends SIGKILL to one webhook replica and to the polling replica in
// the middle of the walk (updates in flight), then starts them again.
func kill(ctx context.Context, ph *phaseRun) error {
	if err := ph.reached(ctx, 0.3); err != nil {
		return err
	}
	r := ph.r
	r.w1.Kill()
	r.p.Kill()
	logf(r.o.Progress, "killed %s and %s", r.w1.Name, r.p.Name)
	if err := loadtest.Sleep(ctx, r.t.killDown); err != nil {
		return err
	}
	if err := r.restart(ctx, r.w1); err != nil {
		return err
	}
	return r.restart(ctx, r.p)
}

// flood has one person per bot send r.t.flood messages at once, then waits
// until the bots have answered what they will of it, so that the paced
// tail of the flood (and its 429s) is counted in this row, not the next.
func flood(ctx context.Context, ph *phaseRun) error {
	if err := ph.reached(ctx, 0.2); err != nil {
		return err
	}
	r := ph.r
	var us []*telegramtest.User
	for _, tg := range []*telegramtest.Server{r.tgW, r.tgP} {
		id := r.nextID.Add(1)
		r.flooders.Store(id, true)
		u := tg.User(id, telegramtest.FirstName("Flooder"))
		for i := range r.t.flood {
			u.Send(fmt.Sprintf("hello? %d", i))
		}
		us = append(us, u)
	}
	return quiet(ctx, us, 3*time.Second, r.t.settle)
}

// quiet waits until every user's updates are acknowledged and the bot has
// not written to their chats for calm, or until limit has passed.
func quiet(ctx context.Context, us []*telegramtest.User, calm, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		still := false
		for _, u := range us {
			c := u.Chat()
			_, last, ok := loadtest.Replies(c, time.Time{})
			if c.Pending > 0 || ok && time.Since(last) < calm {
				still = true
			}
		}
		if !still {
			return nil
		}
		if err := loadtest.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func (r *rig) faults() []fault {
	t := r.t
	pg := func(r *rig) *Proxy { return r.pgP }
	rd := func(r *rig) *Proxy { return r.redisP }
	return []fault{
		{name: "none", scope: "both", inject: func(context.Context, *phaseRun) error { return nil }},
		{name: fmt.Sprintf("Postgres down at completion (%s)", t.pgAtCompletion), scope: "both",
			inject: outage(pg, 0.85, func(t timing) time.Duration { return t.pgAtCompletion })},
		{name: fmt.Sprintf("Postgres down %s", t.pgLong), scope: "both",
			inject: outage(pg, 0.5, func(t timing) time.Duration { return t.pgLong })},
		{name: fmt.Sprintf("Redis down %s", t.redisShort), scope: "both",
			inject: outage(rd, 0.3, func(t timing) time.Duration { return t.redisShort })},
		{name: fmt.Sprintf("Redis down %s", t.redisLong), scope: "both",
			inject: outage(rd, 0.3, func(t timing) time.Duration { return t.redisLong })},
		{name: "kill -9 replica mid-update", scope: "both", inject: kill},
		{name: "duplicate webhook deliveries", scope: "webhook", inject: delivery(LBDuplicate)},
		{name: "out-of-order webhook deliveries", scope: "webhook", inject: delivery(LBReorder)},
		{name: "two replicas racing one chat", scope: "webhook", inject: delivery(LBRace)},
		{name: fmt.Sprintf("429 storm (%s)", t.apiFault), scope: "both", storm: true, inject: apiFault(APIStorm429)},
		{name: fmt.Sprintf("Bot API 5xx (%s)", t.apiFault), scope: "both", inject: apiFault(API5xx)},
		{name: fmt.Sprintf("Bot API timeouts (%s)", t.apiFault), scope: "both", inject: apiFault(APITimeout)},
		{name: fmt.Sprintf("slow Bot API, %s/call (%s)", t.slowCall, t.apiFault), scope: "both", inject: apiFault(APISlow)},
		{name: fmt.Sprintf("flood from one user (%d msgs)", t.flood), scope: "both", inject: flood},
	}
}

// phase runs one fault with n fresh respondents and counts.
func (r *rig) phase(ctx context.Context, f fault, n int) (Row, error) {
	logf(r.o.Progress, "%s: %d respondents", f.name, n)
	ph := &phaseRun{r: r, walked: make(chan struct{}), questions: len(r.form.Questions)}
	ps := r.people(n, f.scope, r.t.think, func(pos int) {
		for {
			cur := ph.maxPos.Load()
			if int64(pos) <= cur || ph.maxPos.CompareAndSwap(cur, int64(pos)) {
				return
			}
		}
	})
	before := r.snapshot()
	started := time.Now()
	injErr := make(chan error, 1)
	go func() { injErr <- f.inject(ctx, ph) }()
	walk(ctx, ps)
	close(ph.walked)
	err := <-injErr
	r.clearFaults()
	if err != nil {
		return Row{}, err
	}
	return r.count(ctx, f.name, f.storm, ps, before, time.Since(started))
}

// clearFaults ends every fault.
func (r *rig) clearFaults() {
	r.frontW.Set(APINone)
	r.frontP.Set(APINone)
	r.lb.Set(LBRoundRobin)
	r.pgP.Restore()
	r.redisP.Restore()
}

// random keeps o.Respondents people interviewing for d while faults are
// injected one after another at random (by the seed), each for a random
// time.
func (r *rig) random(ctx context.Context, d time.Duration) (Row, error) {
	name := fmt.Sprintf("random faults for %s", d)
	logf(r.o.Progress, "%s", name)
	rng := rand.New(rand.NewPCG(r.o.Seed, 99))
	maxOut := r.t.redisLong
	before := r.snapshot()
	started := time.Now()
	deadline := started.Add(d)

	var (
		mu  sync.Mutex
		all []*loadtest.Walker
		wg  sync.WaitGroup
	)
	// A steady population: each of the o.Respondents people starts a new
	// interview (a new person) when one ends, until the deadline.
	for k := range r.o.Respondents {
		scope := []string{"webhook", "polling"}[k%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				ps := r.people(1, scope, r.t.think, nil)
				mu.Lock()
				all = append(all, ps...)
				mu.Unlock()
				walk(ctx, ps)
			}
		}()
	}
	var injErr error
	var injected []string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		k := rng.IntN(10)
		hold := time.Duration(500+rng.IntN(int(maxOut/time.Millisecond))) * time.Millisecond
		hold = min(hold, time.Until(deadline)+time.Second)
		switch k {
		case 0:
			r.pgP.Cut()
			injected = append(injected, "postgres")
		case 1:
			r.redisP.Cut()
			injected = append(injected, "redis")
		case 2:
			injected = append(injected, "kill")
			victim := []*Replica{r.w1, r.w2, r.p}[rng.IntN(3)]
			victim.Kill()
			_ = loadtest.Sleep(ctx, r.t.killDown)
			if err := r.restart(ctx, victim); err != nil {
				injErr = err
			}
		case 3, 4, 5:
			injected = append(injected, []string{"duplicates", "reorder", "race"}[k-3])
			r.lb.Set([]LBMode{LBDuplicate, LBReorder, LBRace}[k-3])
		default:
			a := []APIFault{APIStorm429, API5xx, APITimeout, APISlow}[k-6]
			injected = append(injected, []string{"429", "5xx", "timeouts", "slow"}[k-6])
			r.frontW.Set(a)
			r.frontP.Set(a)
		}
		_ = loadtest.Sleep(ctx, hold)
		r.clearFaults()
		if injErr != nil {
			break
		}
		_ = loadtest.Sleep(ctx, time.Duration(300+rng.IntN(2000))*time.Millisecond)
	}
	wg.Wait()
	r.clearFaults()
	if injErr != nil {
		return Row{}, injErr
	}
	row, err := r.count(ctx, name, true, all, before, time.Since(started))
	row.Notes = append(row.Notes, fmt.Sprintf("injected in order: %v", injected))
	return row, err
}
