package staff

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/internal/testnet"
	"github.com/needsbot/needsbot/interview"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/pgstore"
	"github.com/needsbot/needsbot/storage/pgstore/pgstoretest"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// The rig runs the real bot.Handler with this package's Handler as its
// Staff and Invites, over the fake Bot API, real Redis and a fresh
// Postgres database: people in the tests talk to the bot as they would on
// Telegram.

var (
	pseudoKey = []byte("staff-test-pseudonym-key-0123456789abcdef")
	tokenKey  = []byte("staff-test-invite-token-key-0123456789abcdef")
)

// sessions adapts redisstore to interview.Sessions (as cmd/needsbot does).
type sessions struct {
	s     *redisstore.Store
	calls *sessionCalls
}

// sessionCalls counts the session store's round trips a test may assert
// on: loads and MarkSents.
type sessionCalls struct{ loads, marks atomic.Int64 }

var _ interview.Sessions = sessions{}

func (a sessions) Load(ctx context.Context, chat, update int64) (interview.Loaded, error) {
	a.calls.loads.Add(1)
	blob, version, seen, lastMsg, err := a.s.Load(ctx, chat, update)
	return interview.Loaded{Blob: blob, Version: version, Seen: interview.Seen(seen), LastMsg: lastMsg}, err
}

func (a sessions) Save(ctx context.Context, chat, update int64, expect, next uint64, blob []byte, _ *interview.Abandon, _ interview.Stage) error {
	err := a.s.Save(ctx, chat, update, expect, next, blob, nil)
	if errors.Is(err, redisstore.ErrConflict) {
		return interview.ErrConflict
	}
	return err
}

func (a sessions) MarkSent(ctx context.Context, chat, update int64, lastMsg int) error {
	a.calls.marks.Add(1)
	return a.s.MarkSent(ctx, chat, update, lastMsg)
}

func (a sessions) Delete(ctx context.Context, chat int64) error { return a.s.Delete(ctx, chat) }

// completions records completed interviews.
type completions struct {
	mu  sync.Mutex
	all []interview.Completion
}

func (c *completions) Complete(_ context.Context, x interview.Completion) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, x)
	return nil
}

func (c *completions) Erase(context.Context, string) (int, error) { return 0, nil }

// fakeResults records what the dispatcher hands to Results.
type fakeResults struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeResults) Command(ctx context.Context, r *bot.Request, m org.Member, name, args string) error {
	f.mu.Lock()
	f.calls = append(f.calls, "cmd:"+name+":"+string(m.Role))
	f.mu.Unlock()
	_, err := r.Sender.Send(ctx, r.Chat, bot.Message{Text: "results for " + string(m.Role)})
	return err
}

func (f *fakeResults) Callback(ctx context.Context, r *bot.Request, m org.Member, payload, queryID string, msgID int) error {
	f.mu.Lock()
	f.calls = append(f.calls, "cb:"+payload+":"+string(m.Role))
	f.mu.Unlock()
	return r.Sender.Answer(ctx, queryID, "results")
}

type rig struct {
	sender  *bot.Sender
	cat     *locales.Catalog
	t       *testing.T
	tg      *telegramtest.Server
	db      *pgstore.DB
	pool    *pgxpool.Pool
	h       *Handler
	store   *redisstore.Store
	rdb     *redis.Client
	prefix  string
	done    *completions
	results *fakeResults
	now     time.Time
	mu      sync.Mutex
	intake  *bot.Intake
	// sessions counts the interview core's session loads and marks.
	sessions sessionCalls

	roma, milano          int64
	romaAnagrafe, milanoS int64
}

type rigOption func(*Config)

func withResults(c *Config) { c.Results = &fakeResults{} }

func newRig(t *testing.T, opts ...rigOption) *rig {
	t.Helper()
	ctx := context.Background()
	rdb, prefix := storagetest.Redis(t)
	_, db, pool := pgstoretest.New(t)
	r := &rig{t: t, db: db, pool: pool, done: &completions{}, now: time.Now(), rdb: rdb, prefix: prefix}
	r.store = redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	r.tg = telegramtest.NewServer(telegramtest.WithoutRateLimits())
	t.Cleanup(r.tg.Close)

	api, err := tg.New(r.tg.Token(), tg.WithServerURL(r.tg.URL), tg.WithSkipGetMe(), tg.WithHTTPClient(time.Minute, bot.APIClient(testnet.Client())))
	if err != nil {
		t.Fatal(err)
	}
	sender := bot.NewSender(api, bot.SenderOptions{Global: rate.NewLimiter(rate.Inf, 1), ChatRate: 1000, ChatBurst: 100})
	r.sender = sender
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	r.cat = cat
	lib, err := forms.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Members: db, Enrolment: db, Places: db, Registry: db, ServiceLookup: db, InviteMaker: db, InviteList: db,
		Directory: db, DirectoryEditor: db, Limiter: r.store, BotUsername: r.tg.BotUsername(), Now: r.clock, TokenKey: tokenKey, Forms: lib.ByAudience(),
		Pseudonym: func(u int64) string { return storage.Pseudonym(pseudoKey, u) }}
	for _, o := range opts {
		o(&cfg)
	}
	if f, ok := cfg.Results.(*fakeResults); ok {
		r.results = f
	}
	if r.h, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	core := interview.New(interview.Config{Forms: lib, Catalog: cat, Sessions: sessions{s: r.store, calls: &r.sessions}, Responses: r.done,
		Invites: r.h, Now: r.clock, Pseudonym: func(u int64) string { return storage.Pseudonym(pseudoKey, u) }})
	handler := bot.NewHandler(bot.Config{Core: core, Catalog: cat, Staff: r.h, Sender: sender, Username: r.tg.BotUsername(), Now: r.clock})
	intake := bot.NewIntake(handler, bot.IntakeOptions{Workers: 4})
	r.intake = intake
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	p := &bot.Poller{Intake: intake, Client: testnet.Client(), APIURL: r.tg.URL, Token: r.tg.Token(), Timeout: time.Second}
	go func() { defer close(stopped); _ = p.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-stopped; intake.Stop() })

	muni := func(istat, svc string) (int64, int64) {
		var m, s int64
		if err := pool.QueryRow(ctx, `SELECT m.id, s.id FROM municipalities m JOIN services s ON s.municipality_id = m.id
			WHERE m.istat_code = $1 AND s.code = $2`, istat, svc).Scan(&m, &s); err != nil {
			t.Fatal(err)
		}
		return m, s
	}
	r.roma, r.romaAnagrafe = muni("058091", "anagrafe")
	r.milano, r.milanoS = muni("015146", "anagrafe")
	return r
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

// enrol makes Telegram user id a member through a link made by creator (0:
// the command line).
func (r *rig) enrol(user int64, name string, role org.Role, muni, svc, creator int64) pgstore.Staff {
	r.t.Helper()
	ctx := context.Background()
	if role == org.RoleAdmin {
		s, _, err := r.db.EnsureAdmin(ctx, user)
		if err != nil {
			r.t.Fatal(err)
		}
		return s
	}
	tok, err := NewStaffToken(r.h.rand)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.db.CreateStaffLink(ctx, pgstore.StaffLink{Token: tok, Role: string(role), MunicipalityID: muni, ServiceID: svc,
		CreatedBy: creator, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		r.t.Fatal(err)
	}
	c, err := r.db.ClaimStaffLink(ctx, tok, user, name, time.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	return c.Staff
}

func (r *rig) count(q string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// person is someone in a private chat with the bot.
type person struct {
	t      *testing.T
	u      *telegramtest.User
	h      *Handler
	intake *bot.Intake
}

func (r *rig) person(id int64, name string) *person {
	return &person{t: r.t, u: r.tg.User(id, telegramtest.FirstName(name), telegramtest.LanguageCode("en")), h: r.h, intake: r.intake}
}

func (p *person) wait() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.u.WaitHandled(ctx); err != nil {
		p.t.Fatalf("not handled: %v\n%s", err, p.u.Transcript())
	}
	// Acknowledged is not applied: the poller confirms an update once it
	// is queued behind its chat's own work (bot/mailbox.go).
	if p.intake != nil {
		if err := p.intake.WaitIdle(ctx, p.u.ID()); err != nil {
			p.t.Fatalf("not applied: %v\n%s", err, p.u.Transcript())
		}
	}
	p.h.Wait() // and the staff work it queued (exports, results)
}

func (p *person) send(text string) telegramtest.Message {
	p.t.Helper()
	p.u.Send(text)
	p.wait()
	return p.u.Chat().LastFromBot()
}

func (p *person) tap(label string) {
	p.t.Helper()
	if err := p.u.Tap(label); err != nil {
		p.t.Fatalf("tap %q: %v\n%s", label, err, p.u.Transcript())
	}
	p.wait()
}

// tapData presses a button carrying any staff option on the bot's last
// message, as a forged or stale client could, and returns the callback
// answer's text.
func (p *person) tapData(opt string) string {
	p.t.Helper()
	data, err := bot.Callback{Kind: bot.CbStaff, Option: opt}.Encode()
	if err != nil {
		p.t.Fatalf("encode %q: %v", opt, err)
	}
	last := p.u.Chat().LastFromBot()
	if last.ID == 0 {
		p.send("/help")
		last = p.u.Chat().LastFromBot()
	}
	if err := p.u.TapData(last.ID, data); err != nil {
		p.t.Fatal(err)
	}
	p.wait()
	cbs := p.u.CallbackAnswers()
	a := cbs[len(cbs)-1]
	if !a.Answered {
		p.t.Fatalf("callback %q not answered\n%s", opt, p.u.Transcript())
	}
	return a.Text
}

func id36(v int64) string { return strconv.FormatInt(v, 36) }
