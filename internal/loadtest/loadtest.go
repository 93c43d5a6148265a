package loadtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/needsbot/needsbot/bot/telegramtest"
	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/storage"
	"github.com/needsbot/needsbot/storage/redisstore"
	"github.com/needsbot/needsbot/storage/scratch"
)

// Options are the flags of `needsbot loadtest` (cmd/needsbot parses them).
type Options struct {
	Respondents    int           // simulated respondents, each completing the immigrants' interview
	Concurrency    int           // respondents interviewing at the same time (at most Respondents)
	Webhook        bool          // deliver updates by webhook instead of long polling
	TelegramLimits bool          // enforce Telegram's flood limits in the fake Bot API
	TelegramRate   string        // the bot's NEEDSBOT_TELEGRAM_RATE under TelegramLimits ("" = 28, the bot's default)
	DBURL          string        // Postgres server on which a fresh database is created and dropped
	RedisURL       string        // Redis server (a unique key prefix, deleted after)
	Bin            string        // needsbot binary to run ("" = this executable)
	Think          time.Duration // average pause of a respondent before each update
	UpdateTimeout  time.Duration // how long one update may take before the respondent gives up
	Seed           uint64        // seed of the respondents' choices
	BotLog         string        // write the bot's log to this file ("" = nowhere)
	Env            EnvFlag       // extra NEEDSBOT_* settings for the bot
}

// EnvFlag collects repeated --env KEY=VALUE flags.
type EnvFlag map[string]string

func (e EnvFlag) String() string { return fmt.Sprint(map[string]string(e)) }

// Set adds one NEEDSBOT_NAME=value setting.
func (e EnvFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(k, "NEEDSBOT_") {
		return errors.New("want NEEDSBOT_NAME=value")
	}
	e[k] = val
	return nil
}

// Check validates the options and caps Concurrency at Respondents.
func (o *Options) Check() error {
	switch {
	case o.Respondents < 1:
		return errors.New("--respondents must be at least 1")
	case o.Concurrency < 1:
		return errors.New("--concurrency must be at least 1")
	case o.UpdateTimeout <= 0:
		return errors.New("--update-timeout must be positive")
	case o.Think < 0:
		return errors.New("--think must not be negative")
	}
	o.Concurrency = min(o.Concurrency, o.Respondents)
	return nil
}

// DefaultDB is the default Postgres server of --db.
const DefaultDB = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Run drives simulated respondents through the fake Bot API
// (bot/telegramtest) against the real binary, a real Redis and a fresh
// Postgres database, and measures throughput, latency, Telegram calls per
// update, 429s and resource use. Progress lines go to progress. It returns
// a report whenever the run got as far as measuring (Report.OK says whether
// every interview completed, every response reached Postgres, the outbox
// is empty and the fake recorded no violation), and an error when the
// set-up or the tear-down failed.
func Run(ctx context.Context, o Options, progress io.Writer) (rep *Report, err error) {
	bin := o.Bin
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find this executable (use --bin): %w", err)
		}
	}
	lib, err := forms.Load("")
	if err != nil {
		return nil, err
	}
	var form *dialog.Form
	if ids := lib.Respondents(); len(ids) > 0 {
		form = lib.Latest(ids[0])
	}
	if form == nil {
		return nil, errors.New("no embedded questionnaire for respondents")
	}
	cat, err := locales.New()
	if err != nil {
		return nil, err
	}

	// A fresh database, dropped at the end.
	dsn, dropDB, err := scratch.Database(ctx, o.DBURL, "needsbot_loadtest_")
	if err != nil {
		return nil, err
	}
	defer func() {
		if derr := dropDB(); derr != nil && err == nil {
			err = derr
		}
	}()
	// A unique Redis prefix, whose keys are deleted at the end.
	ropt, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", storage.RedactURL(o.RedisURL), err)
	}
	prefix := "needsbot_loadtest:" + scratch.Hex(8) + ":"
	defer func() {
		if cerr := scratch.DeleteKeys(context.WithoutCancel(ctx), rdb, prefix); cerr != nil && err == nil {
			err = cerr
		}
	}()

	tgOpts := []telegramtest.Option{telegramtest.WithoutRateLimits()}
	if o.TelegramLimits {
		tgOpts = []telegramtest.Option{telegramtest.WithRateLimits(telegramtest.DefaultRateLimits())}
	}
	tg := telegramtest.NewServer(tgOpts...)
	defer tg.Close()

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pseudoKey := scratch.Hex(32)
	env := childEnv(o, tg, addr, dsn, prefix, pseudoKey)
	var logFile io.Writer
	if o.BotLog != "" {
		f, err := os.Create(o.BotLog)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		logFile = f
	}

	mode := "polling"
	if o.Webhook {
		mode = "webhook"
	}
	fmt.Fprintf(progress, "loadtest: starting %s run (%s)\n", bin, mode)
	child, err := startChild(bin, addr, env, logFile)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_, _, _ = child.stop(30 * time.Second)
		}
	}()
	err = child.waitReady(ctx, func() bool {
		c := tg.Calls()
		if o.Webhook {
			return c["setWebhook"] > 0
		}
		return c["getUpdates"] > 0
	})
	if err != nil {
		return nil, err
	}

	rep = &Report{Mode: mode, TelegramLimits: o.TelegramLimits, Respondents: o.Respondents, Concurrency: o.Concurrency,
		Binary: bin, Workers: cmp.Or(env["NEEDSBOT_WORKERS"], "32 (default)"), CPUs: runtime.NumCPU()}
	if o.Think > 0 {
		rep.Think = o.Think.String()
	}

	// The measured window: after start-up, from before the first update to
	// the last acknowledgement.
	before := takeSnapshot(ctx, tg, child, rdb)
	res := driveRespondents(ctx, tg, o, form, cat, progress)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	idle, cancel := context.WithTimeout(ctx, o.UpdateTimeout)
	idleErr := tg.WaitIdle(idle)
	after := takeSnapshot(ctx, tg, child, rdb)
	// A polling bot confirms to Telegram an update whose turn outlives the
	// batch's hold (settleHold, 3 s: a loaded machine gets there) before
	// the turn ends — its journal keeps it — so the fake can be idle while
	// the bot still handles it, and its metrics would miss the update
	// (94 of 95 in a CI run at load 35, session 13). The snapshot waits
	// for the bot to count every update sent, within the same bound.
	for handledUpdates(after) < len(res.samples) && after.metricsErr == nil && idle.Err() == nil {
		select {
		case <-idle.Done():
		case <-time.After(20 * time.Millisecond): // sync: polls the bot's /metrics
		}
		after = takeSnapshot(ctx, tg, child, rdb)
	}
	cancel()
	elapsed := after.at.Sub(res.start)
	if idleErr == nil && res.lastAck.After(res.start) {
		elapsed = res.lastAck.Sub(res.start)
	}
	rep.addRun(res, elapsed)
	rep.addTelegram(before, after, tg.Violations())
	budget, _ := strconv.ParseFloat(env["NEEDSBOT_TELEGRAM_RATE"], 64)
	rep.addThroughput(res.steady, budget)
	rep.addResources(before, after, elapsed)
	rep.addBotMetrics(before, after)

	if err := rep.addStorage(ctx, dsn, redisstore.New(rdb, redisstore.Options{Prefix: prefix}), pseudoKey, res); err != nil {
		return nil, err
	}
	if rss, err := procPeakRSS(child.cmd.Process.Pid); err == nil {
		rep.BotPeakRSSMiB = math.Round(float64(rss)/(1<<20)*10) / 10
	}
	code, ru, stopErr := child.stop(60 * time.Second)
	stopped = true
	rep.BotExit = code
	rep.BotTotalCPUS = math.Round(rusageCPU(ru).Seconds()*100) / 100
	rep.BotLogWarnings, rep.BotLogErrors, rep.BotLogSamples = child.logs.counts()

	rep.check(rep.Completed == o.Respondents, "%d of %d interviews completed", rep.Completed, o.Respondents)
	rep.check(rep.Responses == o.Respondents, "%d responses in Postgres, want %d", rep.Responses, o.Respondents)
	rep.check(rep.UnderPseudonym == o.Respondents, "%d responses under the respondents' pseudonyms, want %d", rep.UnderPseudonym, o.Respondents)
	rep.check(rep.LanguageOK == o.Respondents, "%d responses in the language the respondent chose, want %d", rep.LanguageOK, o.Respondents)
	rep.check(rep.OutboxPending == 0 && rep.OutboxDead == 0, "outbox not empty: %d pending, %d dead", rep.OutboxPending, rep.OutboxDead)
	rep.check(rep.Violations == 0, "the fake Bot API recorded %d violations", rep.Violations)
	rep.check(idleErr == nil, "updates still unacknowledged at the end: %v", idleErr)
	rep.check(rep.BotExit == 0, "the bot exited with %d", rep.BotExit)
	rep.check(rep.BotLogErrors == 0, "the bot logged %d errors", rep.BotLogErrors)
	if stopErr != nil {
		rep.check(false, "%v", stopErr)
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

// childEnv is the bot's whole configuration.
func childEnv(o Options, tg *telegramtest.Server, addr, dsn, prefix, pseudoKey string) map[string]string {
	env := map[string]string{
		"NEEDSBOT_TELEGRAM_TOKEN":       tg.Token(),
		"NEEDSBOT_TELEGRAM_API_URL":     tg.URL,
		"NEEDSBOT_REDIS_URL":            o.RedisURL,
		"NEEDSBOT_REDIS_PREFIX":         prefix,
		"NEEDSBOT_DATABASE_URL":         dsn,
		"NEEDSBOT_PSEUDONYM_KEY":        pseudoKey,
		"NEEDSBOT_LISTEN_ADDR":          addr,
		"NEEDSBOT_DEFAULT_MUNICIPALITY": "058091",
		"NEEDSBOT_LOG_LEVEL":            "info",
		// The simulated respondents answer at machine speed, far above a
		// person's pace: the per-person inbound limit would drop them.
		"NEEDSBOT_INBOUND_LIMIT": "100000",
	}
	if o.TelegramLimits {
		// The bot's own defaults, which stay under Telegram's limits
		// (set here, so that an older --bin runs at the same budget).
		env["NEEDSBOT_TELEGRAM_RATE"], env["NEEDSBOT_TELEGRAM_CHAT_RATE"] = cmp.Or(o.TelegramRate, "28"), "1"
	} else {
		// A self-hosted Bot API server has no flood limits.
		env["NEEDSBOT_TELEGRAM_RATE"], env["NEEDSBOT_TELEGRAM_CHAT_RATE"] = "100000", "100000"
	}
	if o.Webhook {
		env["NEEDSBOT_WEBHOOK_URL"] = "http://" + addr + "/telegram/webhook"
		env["NEEDSBOT_WEBHOOK_SECRET"] = scratch.Hex(16)
	}
	for k, v := range o.Env {
		env[k] = v
	}
	return env
}

// handledUpdates is the number of updates the bot's metrics count as
// handled (needsbot_updates_total, every kind and outcome).
func handledUpdates(s ltSnapshot) int {
	n := 0.0
	for _, v := range counterBy(s.metrics["needsbot_updates_total"]) {
		n += v
	}
	return int(n)
}

// ltSnapshot is the counters at one end of the measured window.
type ltSnapshot struct {
	at         time.Time
	calls      map[string]int // the fake's, by method
	metrics    map[string]*dto.MetricFamily
	metricsErr error
	botCPU     time.Duration
	busy       int64 // jiffies of all CPUs
	total      int64
	self       time.Duration
	redis      map[string]float64
}

// redisFields are what the report takes from Redis's INFO. Commands run
// inside Lua scripts count in total_commands_processed too.
func redisFields() []string {
	return []string{"total_commands_processed", "used_cpu_sys", "used_cpu_user", "cmdstat_evalsha", "cmdstat_eval"}
}

func takeSnapshot(ctx context.Context, tg *telegramtest.Server, child *ltChild, rdb *redis.Client) ltSnapshot {
	s := ltSnapshot{at: time.Now(), calls: tg.Calls(), self: selfCPU()}
	s.botCPU, _ = procCPU(child.cmd.Process.Pid)
	s.busy, s.total, _ = machineCPU()
	info := rdb.Info(ctx, "stats", "cpu", "commandstats").Val()
	s.redis = redisInfo(info, redisFields()...)
	s.redis["usec_scripts"], s.redis["usec_all"] = redisUsec(info)
	s.metrics, s.metricsErr = child.scrape(ctx)
	return s
}

// addRun adds what the respondents measured: throughput and latencies.
func (r *Report) addRun(res ltResults, elapsed time.Duration) {
	r.Completed, r.Failed, r.Failures = res.completed, res.failed, res.failures
	var replies, acks []time.Duration
	byKind := map[string][]time.Duration{}
	for _, s := range res.samples {
		r.Updates++
		acks = append(acks, s.Ack)
		if !s.Replied {
			r.NoReply++
			continue
		}
		replies = append(replies, s.Reply)
		byKind[s.Kind] = append(byKind[s.Kind], s.Reply)
	}
	r.DurationS = math.Round(elapsed.Seconds()*100) / 100
	r.UpdatesPerS = math.Round(float64(r.Updates)/elapsed.Seconds()*10) / 10
	r.Reply, r.Ack, r.Interview = distOf(replies), distOf(acks), distOf(res.interviews)
	r.ReplyByKind = map[string]ltDist{}
	for k, v := range byKind {
		r.ReplyByKind[k] = distOf(v)
	}
	if n := r.Completed + r.Failed; n > 0 {
		r.UpdatesEach = math.Round(float64(r.Updates)/float64(n)*10) / 10
	}
}

// perUpdate divides by the number of updates, rounded to 0.001.
func (r *Report) perUpdate(v float64) float64 {
	return math.Round(v/math.Max(1, float64(r.Updates))*1000) / 1000
}

// addTelegram adds the calls the fake Bot API answered during the window
// and every violation it recorded.
func (r *Report) addTelegram(s0, s1 ltSnapshot, violations []telegramtest.Violation) {
	r.CallsByMethod, r.PerUpdateMethod = map[string]int{}, map[string]float64{}
	for m, n := range s1.calls {
		switch d := n - s0.calls[m]; {
		case d == 0:
		case m == "getUpdates":
			r.GetUpdates = d
		default:
			r.CallsByMethod[m] = d
			r.PerUpdateMethod[m] = r.perUpdate(float64(d))
			r.Calls += d
		}
	}
	r.CallsPerUpdate = r.perUpdate(float64(r.Calls))
	r.Violations = len(violations)
	r.ViolationKinds = map[string]int{}
	for _, v := range violations {
		if v.Code == http.StatusTooManyRequests {
			r.TooMany++
		}
		kind := fmt.Sprintf("%s %d %s", v.Method, v.Code, v.Description)
		if v.Method == "webhook" {
			kind = fmt.Sprintf("webhook %d delivery failed", v.Code) // the description names the update
		}
		r.ViolationKinds[kind]++
		if len(r.ViolationSample) < 5 {
			r.ViolationSample = append(r.ViolationSample, v.String())
		}
	}
}

// addResources adds the CPU time of the bot, Redis, this process and the
// machine during the window.
func (r *Report) addResources(s0, s1 ltSnapshot, elapsed time.Duration) {
	round := func(v float64) float64 { return math.Round(v*100) / 100 }
	bot := (s1.botCPU - s0.botCPU).Seconds()
	r.BotCPUS = round(bot)
	r.BotCPUPerUpdate = r.perUpdate(bot * 1000)
	r.BotCores = round(bot / elapsed.Seconds())
	self := (s1.self - s0.self).Seconds()
	r.LoadgenCPUS = round(self)
	r.LoadgenCPUPerUpd = r.perUpdate(self * 1000)
	redisCPU := s1.redis["used_cpu_sys"] + s1.redis["used_cpu_user"] - s0.redis["used_cpu_sys"] - s0.redis["used_cpu_user"]
	r.RedisCPUS = round(redisCPU)
	r.RedisCmdsPerUpd = r.perUpdate(s1.redis["total_commands_processed"] - s0.redis["total_commands_processed"])
	r.RedisScriptsPerUpd = r.perUpdate(s1.redis["cmdstat_evalsha"] + s1.redis["cmdstat_eval"] - s0.redis["cmdstat_evalsha"] - s0.redis["cmdstat_eval"])
	r.RedisScriptUsPerUpd = r.perUpdate(s1.redis["usec_scripts"] - s0.redis["usec_scripts"])
	r.RedisAllUsPerUpd = r.perUpdate(s1.redis["usec_all"] - s0.redis["usec_all"])
	r.RedisCPUUsPerUpd = r.perUpdate(redisCPU * 1e6)
	if s1.total > s0.total {
		r.MachineBusyPct = math.Round(float64(s1.busy-s0.busy) / float64(s1.total-s0.total) * 100)
		machine := float64(s1.busy-s0.busy) / clockTicks
		r.OtherCPUS = round(machine - bot - self - redisCPU)
	}
}

// addBotMetrics adds what the bot's /metrics say about the window.
func (r *Report) addBotMetrics(s0, s1 ltSnapshot) {
	if err := cmp.Or(s0.metricsErr, s1.metricsErr); err != nil {
		r.check(false, "%v", err)
		return
	}
	if f := s1.metrics["needsbot_update_duration_seconds"]; f != nil {
		// Start-up handles no update, so the whole histogram is the window's.
		mean, n := histogramMean(f)
		r.BotHandle = ltDist{N: int(n), Mean: secToMS(mean), P50: secToMS(histogramQuantile(.5, f)),
			P90: secToMS(histogramQuantile(.9, f)), P99: secToMS(histogramQuantile(.99, f))}
	}
	r.BotUpdates = intMap(counterBy(s1.metrics["needsbot_updates_total"], "outcome"))
	// Calls during the window only: start-up's setMyCommands are not counted.
	before := counterBy(s0.metrics["needsbot_telegram_calls_total"], "method", "outcome")
	r.BotCallOutcome = map[string]int{}
	for k, v := range counterBy(s1.metrics["needsbot_telegram_calls_total"], "method", "outcome") {
		if n := int(math.Round(v - before[k])); n > 0 {
			r.BotCallOutcome[k] = n
			r.BotRequests += n
		}
	}
	r.BotRequestsPerUpd = r.perUpdate(float64(r.BotRequests))
	holdsBefore := counterBy(s0.metrics["needsbot_webhook_holds_expired_total"], "answer")
	for k, v := range counterBy(s1.metrics["needsbot_webhook_holds_expired_total"], "answer") {
		if n := int(math.Round(v - holdsBefore[k])); n > 0 {
			if r.BotHoldsExpired == nil {
				r.BotHoldsExpired = map[string]int{}
			}
			r.BotHoldsExpired[k] = n
		}
	}
	delta := func(name string) float64 { return counterBy(s1.metrics[name])[""] - counterBy(s0.metrics[name])[""] }
	r.BotMallocsPerUpd = r.perUpdate(delta("go_memstats_mallocs_total"))
	r.BotAllocBytesPerUpd = r.perUpdate(delta("go_memstats_alloc_bytes_total"))
	// GC cycles: the sample count of the pause summary.
	gcs := func(m map[string]*dto.MetricFamily) int {
		n := 0
		for _, mt := range m["go_gc_duration_seconds"].GetMetric() {
			n += int(mt.GetSummary().GetSampleCount())
		}
		return n
	}
	r.BotGCs = gcs(s1.metrics) - gcs(s0.metrics)
	if f := s1.metrics["needsbot_telegram_retry_after_seconds_total"]; f != nil && len(f.GetMetric()) > 0 {
		r.BotRetryAfterS = f.GetMetric()[0].GetCounter().GetValue()
	}
}

// addStorage checks what reached Postgres: completed responses arrive at
// completion, or through the outbox shortly after, so it waits for them a
// little; then that each is under its respondent's pseudonym and in the
// language they picked, and that the outbox is empty.
func (r *Report) addStorage(ctx context.Context, dsn string, store *redisstore.Store, pseudoKey string, res ltResults) error {
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := db.QueryRow(ctx, `SELECT count(*) FROM responses`).Scan(&r.Responses); err != nil {
			return fmt.Errorf("count responses: %w", err)
		}
		if r.OutboxPending, err = store.Depth(ctx); err != nil {
			return err
		}
		if r.Responses >= res.completed && r.OutboxPending == 0 || time.Now().After(deadline) {
			break
		}
		if err := Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	if r.OutboxDead, err = store.DeadLetters(ctx); err != nil {
		return err
	}
	pseudonyms := make([]string, len(res.ids))
	for i, id := range res.ids {
		pseudonyms[i] = storage.Pseudonym([]byte(pseudoKey), id)
	}
	err = db.QueryRow(ctx, `SELECT count(*) FROM responses WHERE form = $2 AND respondent = ANY($1)`, pseudonyms, res.form).Scan(&r.UnderPseudonym)
	if err != nil {
		return fmt.Errorf("count responses: %w", err)
	}
	err = db.QueryRow(ctx, `SELECT count(*) FROM responses r JOIN unnest($1::text[], $2::text[]) AS c(respondent, language)
		ON c.respondent = r.respondent AND c.language = r.language`, pseudonyms, res.langs).Scan(&r.LanguageOK)
	if err != nil {
		return fmt.Errorf("check languages: %w", err)
	}
	return nil
}

// secToMS converts seconds to milliseconds rounded to 0.01, and NaN (no
// data) to 0, which JSON can encode.
func secToMS(s float64) float64 {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return 0
	}
	return math.Round(s*1e5) / 100
}

func intMap(m map[string]float64) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(math.Round(v))
	}
	return out
}

// ltResults is what the respondents did.
type ltResults struct {
	form       string   // the questionnaire's id
	ids        []int64  // every respondent's user id
	langs      []string // the language each one picked, by index
	samples    []Sample
	interviews []time.Duration
	completed  int
	failed     int
	failures   []string // the first few, with transcripts
	start      time.Time
	lastAck    time.Time
	steady     ltWindow // while every respondent slot was busy
}

// ltWindow is the part of a run in which the load was steady: from the
// first completed interview (every slot had been busy for a whole
// interview) to the moment the last respondent began (after it, fewer
// respondents are left than slots and the load drains). What the bot did
// in it is what it serves under a sustained queue, with neither the
// ramp-up nor the tail.
type ltWindow struct {
	from, to time.Time
	calls0   map[string]int // the fake's calls by method at from
	calls1   map[string]int // and at to
}

// ltHints are the language_code values the respondents' clients report:
// supported languages in several spellings, an unsupported one and none.
func ltHints() []string {
	return []string{"it", "en", "ar", "uk", "ru", "fr", "es", "pt-br", "ro", "sq", "zh-hans", "bn", "ur", "pa", "hi", "tl",
		"fa-AF", "ps", "ti-ER", "so", "si", "ta-LK", "wo", "it-IT", "de", ""}
}

// driveRespondents runs o.Respondents interviews, o.Concurrency at a time.
func driveRespondents(ctx context.Context, tg *telegramtest.Server, o Options, form *dialog.Form, cat *locales.Catalog, progress io.Writer) ltResults {
	res := ltResults{form: form.ID, ids: make([]int64, o.Respondents), langs: make([]string, o.Respondents)}
	langs := cat.Languages()
	hints := ltHints()
	comments := Comments()
	texts := TextsOf(cat, form)
	respondents := make([]*Walker, o.Respondents)
	for i := range respondents {
		rng := mrand.New(mrand.NewPCG(o.Seed, uint64(i)))
		id := int64(1_000_001 + i)
		hint := hints[i%len(hints)]
		lang, ok := cat.Match(hint)
		if !ok || hint == "" {
			lang = langs[rng.IntN(len(langs))].Code
		}
		res.ids[i], res.langs[i] = id, lang
		respondents[i] = &Walker{
			User:    tg.User(id, telegramtest.FirstName("Respondent"), telegramtest.LanguageCode(hint)),
			Form:    form,
			Rng:     rng,
			Lang:    lang,
			Comment: comments[i%len(comments)],
			Timeout: o.UpdateTimeout,
			Think:   o.Think,
			Texts:   texts,
		}
	}

	var (
		mu      sync.Mutex
		next    atomic.Int64
		done    atomic.Int64
		updates atomic.Int64
		wg      sync.WaitGroup
	)
	res.start = time.Now()
	stopProgress := make(chan struct{})
	go func() {
		const every = 5 * time.Second
		t := time.NewTicker(every)
		defer t.Stop()
		flood := FloodLimited(tg.Calls())
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				el := time.Since(res.start).Seconds()
				now := FloodLimited(tg.Calls())
				fmt.Fprintf(progress, "loadtest: %6.0f s  %d/%d interviews done, %d updates (%.0f/s), %.1f flood-limited calls/s\n",
					el, done.Load(), o.Respondents, updates.Load(), float64(updates.Load())/el, float64(now-flood)/every.Seconds())
				flood = now
			}
		}
	}()
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(respondents) || ctx.Err() != nil {
					return
				}
				if i == len(respondents)-1 {
					mu.Lock()
					if !res.steady.from.IsZero() {
						res.steady.to, res.steady.calls1 = time.Now(), tg.Calls()
					}
					mu.Unlock()
				}
				r := respondents[i]
				began := time.Now()
				err := r.Interview(ctx)
				took := time.Since(began)
				if done.Add(1) == 1 {
					mu.Lock()
					res.steady.from, res.steady.calls0 = time.Now(), tg.Calls()
					mu.Unlock()
				}
				updates.Add(int64(len(r.Samples)))
				mu.Lock()
				res.samples = append(res.samples, r.Samples...)
				if err != nil {
					res.failed++
					if len(res.failures) < 3 {
						res.failures = append(res.failures, err.Error())
					}
				} else {
					res.completed++
					res.interviews = append(res.interviews, took)
				}
				if now := time.Now(); now.After(res.lastAck) {
					res.lastAck = now
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	return res
}
