package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// ltDist summarises a set of latencies, in milliseconds.
type ltDist struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// distOf computes a distribution with nearest-rank percentiles.
func distOf(ds []time.Duration) ltDist {
	if len(ds) == 0 {
		return ltDist{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	return ltDist{N: len(s), Mean: ms(sum / time.Duration(len(s))), P50: rank(.50), P90: rank(.90), P99: rank(.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func (d ltDist) String() string {
	if d.N == 0 {
		return "(none)"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  mean %s", fmtMS(d.P50), fmtMS(d.P90), fmtMS(d.P99), fmtMS(d.Max), fmtMS(d.Mean))
}

func fmtMS(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// Report is everything a load test run measured. --json prints it as is.
type Report struct {
	Mode           string `json:"mode"` // polling or webhook
	TelegramLimits bool   `json:"telegram_limits"`
	Respondents    int    `json:"respondents"`
	Concurrency    int    `json:"concurrency"`
	Think          string `json:"think,omitempty"`
	Binary         string `json:"binary"`
	Workers        string `json:"workers"`
	CPUs           int    `json:"cpus"`

	Completed   int      `json:"interviews_completed"`
	Failed      int      `json:"interviews_failed"`
	Failures    []string `json:"failures,omitempty"`
	Updates     int      `json:"updates"`
	DurationS   float64  `json:"duration_s"`
	UpdatesPerS float64  `json:"updates_per_s"`
	Interview   ltDist   `json:"interview"` // one whole interview, start to end
	UpdatesEach float64  `json:"updates_per_interview"`

	Reply       ltDist            `json:"latency_reply"` // enqueued → bot's last reply
	Ack         ltDist            `json:"latency_ack"`   // enqueued → acknowledged
	ReplyByKind map[string]ltDist `json:"latency_reply_by_kind"`
	NoReply     int               `json:"updates_without_reply"`

	BotHandle      ltDist         `json:"bot_handle"` // needsbot_update_duration_seconds (p50/p99 estimated from buckets)
	BotUpdates     map[string]int `json:"bot_updates_by_outcome"`
	BotCallOutcome map[string]int `json:"bot_calls_by_method_outcome"`
	// BotRequests are the Bot API requests the bot made itself: in webhook
	// mode a callback's answer rides in the webhook's response instead.
	BotRequests       int     `json:"bot_requests"`
	BotRequestsPerUpd float64 `json:"bot_requests_per_update"`
	BotRetryAfterS    float64 `json:"bot_retry_after_s"`
	// BotHoldsExpired are the webhook responses the bot sent when their
	// hold (3 s) ended before the update was handled, by what answered the
	// tap (needsbot_webhook_holds_expired_total): "api" ones are answered
	// by the bot's own request later, the only callback answers a webhook
	// bot makes by request.
	BotHoldsExpired map[string]int `json:"bot_webhook_holds_expired,omitempty"`
	// The bot's heap allocations in the window (its go_memstats_mallocs_total
	// and go_memstats_alloc_bytes_total), per update: load-independent.
	BotMallocsPerUpd    float64 `json:"bot_mallocs_per_update"`
	BotAllocBytesPerUpd float64 `json:"bot_alloc_bytes_per_update"`
	BotGCs              int     `json:"bot_gc_cycles"`

	Calls           int                `json:"telegram_calls"` // without getUpdates
	CallsPerUpdate  float64            `json:"telegram_calls_per_update"`
	CallsByMethod   map[string]int     `json:"telegram_calls_by_method"`
	PerUpdateMethod map[string]float64 `json:"telegram_calls_per_update_by_method"`
	GetUpdates      int                `json:"get_updates_calls"`
	// FloodCalls are the calls Telegram's flood control counts against
	// the bot's ~30 per second (FloodLimited); per completed interview
	// they set how many interviews an hour the bot's budget allows.
	FloodCalls        int     `json:"flood_limited_calls"`
	FloodPerInterview float64 `json:"flood_limited_calls_per_interview"`
	// InterviewsPerHour is the whole run's rate (ramp-up and tail
	// included); Steady is the rate while every respondent slot was
	// busy (ltWindow), and BudgetRate the bot's NEEDSBOT_TELEGRAM_RATE.
	InterviewsPerHour float64        `json:"interviews_per_hour"`
	Steady            *ltSteady      `json:"steady,omitempty"`
	BudgetRate        float64        `json:"budget_calls_per_s,omitempty"`
	BudgetCeiling     float64        `json:"interviews_per_hour_at_budget,omitempty"` // BudgetRate × 3600 / FloodPerInterview
	TooMany           int            `json:"status_429"`
	Violations        int            `json:"violations"`
	ViolationKinds    map[string]int `json:"violations_by_kind,omitempty"`
	ViolationSample   []string       `json:"violation_samples,omitempty"`

	Responses      int   `json:"responses_in_postgres"`
	UnderPseudonym int   `json:"responses_under_pseudonyms"`
	LanguageOK     int   `json:"responses_in_chosen_language"`
	OutboxPending  int64 `json:"outbox_pending"`
	OutboxDead     int64 `json:"outbox_dead"`

	BotCPUS            float64  `json:"bot_cpu_s"` // during the measured run
	BotCPUPerUpdate    float64  `json:"bot_cpu_ms_per_update"`
	BotCores           float64  `json:"bot_cores"` // average cores used during the run
	BotTotalCPUS       float64  `json:"bot_total_cpu_s"`
	BotPeakRSSMiB      float64  `json:"bot_peak_rss_mib"`
	BotExit            int      `json:"bot_exit_code"`
	BotLogErrors       int      `json:"bot_log_errors"`
	BotLogWarnings     int      `json:"bot_log_warnings"`
	BotLogSamples      []string `json:"bot_log_samples,omitempty"`
	RedisCmdsPerUpd    float64  `json:"redis_commands_per_update"` // including those inside scripts
	RedisScriptsPerUpd float64  `json:"redis_scripts_per_update"`
	RedisCPUS          float64  `json:"redis_cpu_s"`
	// Redis time per update from INFO commandstats (whole server: use a
	// Redis of its own for the run): the scripts' usec (which include the
	// commands they call), and every command's (which counts those
	// commands twice); and the server's CPU (used_cpu_*, with networking).
	RedisScriptUsPerUpd float64 `json:"redis_script_us_per_update"`
	RedisAllUsPerUpd    float64 `json:"redis_all_commands_us_per_update"`
	RedisCPUUsPerUpd    float64 `json:"redis_cpu_us_per_update"`
	MachineBusyPct      float64 `json:"machine_busy_pct"`
	LoadgenCPUS         float64 `json:"loadgen_cpu_s"`
	OtherCPUS           float64 `json:"other_cpu_s"` // Postgres and anything else on the machine
	LoadgenCPUPerUpd    float64 `json:"loadgen_cpu_ms_per_update"`

	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

// ltSteady is what the steady window (ltWindow) measured. Interviews are
// not counted in it: respondents who began together end together (the
// first wave's work was done before the window), so the rate is the work
// done in it — the flood-limited calls per second — over the calls one
// interview takes.
type ltSteady struct {
	Seconds           float64 `json:"seconds"`
	FloodCallsPerS    float64 `json:"flood_limited_calls_per_s"`
	InterviewsPerHour float64 `json:"interviews_per_hour"`       // FloodCallsPerS × 3600 / FloodPerInterview
	BudgetUsedPct     float64 `json:"budget_used_pct,omitempty"` // FloodCallsPerS of BudgetRate
}

// FloodLimited counts the calls among calls (by method) that Telegram's
// flood control counts against the bot's budget: new messages and edits
// (as the fake Bot API does); callback answers, getUpdates and the like
// are not limited.
func FloodLimited(calls map[string]int) int {
	n := 0
	for m, c := range calls {
		switch m {
		case "sendMessage", "editMessageText", "editMessageReplyMarkup", "editMessageCaption", "sendPhoto", "sendDocument", "sendVenue":
			n += c
		}
	}
	return n
}

// addThroughput adds the interviews per hour, over the whole run and in
// its steady window, and the budget's use. rate is the bot's
// NEEDSBOT_TELEGRAM_RATE (0: not known).
func (r *Report) addThroughput(w ltWindow, rate float64) {
	round1 := func(v float64) float64 { return math.Round(v*10) / 10 }
	r.FloodCalls = FloodLimited(r.CallsByMethod)
	if r.Completed > 0 {
		r.FloodPerInterview = math.Round(float64(r.FloodCalls)/float64(r.Completed)*100) / 100
	}
	if r.DurationS > 0 {
		r.InterviewsPerHour = math.Round(float64(r.Completed) / r.DurationS * 3600)
	}
	if r.TelegramLimits && rate > 0 {
		r.BudgetRate = rate
		if r.FloodPerInterview > 0 {
			r.BudgetCeiling = math.Round(rate * 3600 / r.FloodPerInterview)
		}
	}
	if w.from.IsZero() || !w.to.After(w.from) {
		return
	}
	secs := w.to.Sub(w.from).Seconds()
	st := &ltSteady{Seconds: round1(secs)}
	st.FloodCallsPerS = math.Round(float64(FloodLimited(w.calls1)-FloodLimited(w.calls0))/secs*100) / 100
	if r.FloodPerInterview > 0 {
		st.InterviewsPerHour = math.Round(st.FloodCallsPerS * 3600 / r.FloodPerInterview)
	}
	if r.BudgetRate > 0 {
		st.BudgetUsedPct = round1(st.FloodCallsPerS / r.BudgetRate * 100)
	}
	r.Steady = st
}

// check records a problem unless ok.
func (r *Report) check(ok bool, format string, args ...any) {
	if !ok {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *Report) WriteText(w io.Writer) {
	limits := "off (a self-hosted Bot API server)"
	if r.TelegramLimits {
		limits = "on (Telegram's flood limits)"
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("needsbot load test: %d respondents, %d at a time, %s, Telegram limits %s", r.Respondents, r.Concurrency, r.Mode, limits)
	p("  bot            %s (NEEDSBOT_WORKERS=%s) on %d CPUs", r.Binary, r.Workers, r.CPUs)
	if r.Think != "" {
		p("  think time     %s on average between a respondent's updates", r.Think)
	}
	p("  interviews     %d completed, %d failed; %.1f updates each; one interview took %s", r.Completed, r.Failed, r.UpdatesEach, r.Interview)
	p("  throughput     %d updates in %.2f s = %.1f updates/s; %.0f interviews an hour over the whole run", r.Updates, r.DurationS, r.UpdatesPerS, r.InterviewsPerHour)
	if st := r.Steady; st != nil {
		used := ""
		if st.BudgetUsedPct > 0 {
			used = fmt.Sprintf(" = %.1f%% of the bot's budget of %g/s", st.BudgetUsedPct, r.BudgetRate)
		}
		p("                 steady (every respondent slot busy, %.0f s): %.2f flood-limited calls/s%s = %.0f interviews an hour",
			st.Seconds, st.FloodCallsPerS, used, st.InterviewsPerHour)
	}
	if r.BudgetCeiling > 0 {
		p("                 at %.2f flood-limited calls per interview the budget allows %.0f interviews an hour", r.FloodPerInterview, r.BudgetCeiling)
	}
	p("  latency        enqueued → bot's last reply:   %s", r.Reply)
	p("                 enqueued → acknowledged:       %s", r.Ack)
	for _, k := range sortedKeys(r.ReplyByKind) {
		d := r.ReplyByKind[k]
		p("                   %-9s %6d  p50 %s  p99 %s  max %s", k, d.N, fmtMS(d.P50), fmtMS(d.P99), fmtMS(d.Max))
	}
	if r.NoReply > 0 {
		p("                 %d updates got no reply at all", r.NoReply)
	}
	p("  bot handling   needsbot_update_duration_seconds over %d updates: mean %s, p50 ≈ %s, p99 ≈ %s", r.BotHandle.N, fmtMS(r.BotHandle.Mean), fmtMS(r.BotHandle.P50), fmtMS(r.BotHandle.P99))
	p("  bot heap       %.1f allocations, %.0f bytes allocated per update; %d GC cycles", r.BotMallocsPerUpd, r.BotAllocBytesPerUpd, r.BotGCs)
	p("  Telegram       %.2f calls per update (%d calls, getUpdates not counted)", r.CallsPerUpdate, r.Calls)
	for _, m := range sortedKeys(r.CallsByMethod) {
		p("                   %-24s %8d  %.3f per update", m, r.CallsByMethod[m], r.PerUpdateMethod[m])
	}
	if r.Mode == "polling" {
		p("                   getUpdates               %8d  %.3f per update", r.GetUpdates, float64(r.GetUpdates)/math.Max(1, float64(r.Updates)))
	}
	var outcomes []string
	for _, k := range sortedKeys(r.BotCallOutcome) {
		outcomes = append(outcomes, fmt.Sprintf("%s %d", k, r.BotCallOutcome[k]))
	}
	p("                 HTTP requests the bot made: %.2f per update (%s)", r.BotRequestsPerUpd, strings.Join(outcomes, ", "))
	if len(r.BotHoldsExpired) > 0 {
		var holds []string
		for _, k := range sortedKeys(r.BotHoldsExpired) {
			holds = append(holds, fmt.Sprintf("%s %d", k, r.BotHoldsExpired[k]))
		}
		p("                 webhook holds expired (3 s) before the update was handled: %s", strings.Join(holds, ", "))
	}
	p("  429s           %d answered by the fake; %.0f s waited on retry_after", r.TooMany, r.BotRetryAfterS)
	if r.Violations == 0 {
		p("  violations     none")
	} else {
		var kinds []string
		for _, k := range sortedKeys(r.ViolationKinds) {
			kinds = append(kinds, fmt.Sprintf("%s ×%d", k, r.ViolationKinds[k]))
		}
		p("  violations     %d: %s", r.Violations, strings.Join(kinds, "; "))
		for _, v := range r.ViolationSample {
			p("                   %s", v)
		}
	}
	p("  Postgres       %d responses (%d under the respondents' pseudonyms, %d in the language they chose); outbox %d pending, %d dead",
		r.Responses, r.UnderPseudonym, r.LanguageOK, r.OutboxPending, r.OutboxDead)
	p("  bot process    CPU %.2f s during the run = %.3f ms per update (%.2f cores); %.2f s in all; peak RSS %.1f MiB; exit %d",
		r.BotCPUS, r.BotCPUPerUpdate, r.BotCores, r.BotTotalCPUS, r.BotPeakRSSMiB, r.BotExit)
	p("  bot log        %d errors, %d warnings", r.BotLogErrors, r.BotLogWarnings)
	for _, s := range r.BotLogSamples {
		p("                   %s", s)
	}
	p("  Redis          %.2f script calls and %.2f commands (counting those inside scripts) per update; CPU %.2f s",
		r.RedisScriptsPerUpd, r.RedisCmdsPerUpd, r.RedisCPUS)
	p("                 per update: %.1f µs in scripts, %.1f µs in all commands (INFO commandstats; script-called ones twice), %.1f µs of server CPU",
		r.RedisScriptUsPerUpd, r.RedisAllUsPerUpd, r.RedisCPUUsPerUpd)
	p("  machine        %.0f%% busy over the run; CPU of the load generator %.2f s (%.3f ms per update), of everything else (Postgres, other processes) %.2f s",
		r.MachineBusyPct, r.LoadgenCPUS, r.LoadgenCPUPerUpd, r.OtherCPUS)
	if r.OK {
		p("RESULT: ok")
		return
	}
	p("RESULT: FAILED")
	for _, pr := range r.Problems {
		p("  - %s", pr)
	}
	for _, f := range r.Failures {
		p("\n%s", f)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
