package main

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are needsbot's Prometheus series; names are those deploy/README.md
// alerts on.
type metrics struct {
	reg        *prometheus.Registry
	updates    *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	calls      *prometheus.CounterVec
	callTime   *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	retryAfter prometheus.Counter
	interviews *prometheus.CounterVec
	holds      *prometheus.CounterVec
	outbox     prometheus.Gauge
	outboxDead prometheus.Gauge

	// bound are the calls' series by method and outcome, looked up once
	// (WithLabelValues hashes the labels and takes a lock on every call):
	// a map replaced whole when a pair is new.
	bound   atomic.Pointer[map[callKey]boundCall]
	boundMu sync.Mutex
}

type callKey struct{ method, outcome string }

type boundCall struct {
	calls prometheus.Counter
	time  prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needsbot_updates_total",
			Help: "Telegram updates handled, by kind and outcome."}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "needsbot_update_duration_seconds",
			Help:    "Time to handle one update, from intake to replies sent.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"kind"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needsbot_telegram_calls_total",
			Help: "Bot API calls, by method and outcome (ok, 400, 403, 429, not_modified, …)."}, []string{"method", "outcome"}),
		callTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "needsbot_telegram_call_seconds",
			Help: "Bot API call latency.", Buckets: prometheus.DefBuckets}, []string{"method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needsbot_telegram_errors_total",
			Help: "Bot API failures by kind: blocked, refused, transient, throttled."}, []string{"kind"}),
		retryAfter: prometheus.NewCounter(prometheus.CounterOpts{Name: "needsbot_telegram_retry_after_seconds_total",
			Help: "Seconds spent waiting on Telegram's retry_after (429)."}),
		interviews: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needsbot_interviews_total",
			Help: "Interview events: started (consent given), completed, declined, abandoned, stopped (blocked the bot)."}, []string{"event"}),
		holds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "needsbot_webhook_holds_expired_total",
			Help: "Webhook responses sent when their 3-s hold ended, before the update was handled, by what answered the tap: empty (its turn had not begun), offered (its turn's answer, its replies under way), api (its turn answers it by a request of its own), none (not a tap)."}, []string{"answer"}),
		outbox: prometheus.NewGauge(prometheus.GaugeOpts{Name: "needsbot_outbox_pending",
			Help: "Completed responses waiting in the Redis outbox for Postgres."}),
		outboxDead: prometheus.NewGauge(prometheus.GaugeOpts{Name: "needsbot_outbox_dead",
			Help: "Outbox entries Postgres refused permanently (need a human)."}),
	}
	m.reg.MustRegister(m.updates, m.duration, m.calls, m.callTime, m.errors, m.retryAfter, m.interviews, m.holds, m.outbox, m.outboxDead,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Call implements bot.Observer.
func (m *metrics) Call(method, outcome string, d time.Duration) {
	b := m.boundCall(method, outcome)
	b.calls.Inc()
	b.time.Observe(d.Seconds())
	switch outcome {
	case "403":
		m.errors.WithLabelValues("blocked").Inc()
	case "429":
		m.errors.WithLabelValues("throttled").Inc()
	case "400", "refused":
		m.errors.WithLabelValues("refused").Inc()
	case "network", "500", "502", "503", "504":
		m.errors.WithLabelValues("transient").Inc()
	}
}

// boundCall is the series of a call's method and outcome.
func (m *metrics) boundCall(method, outcome string) boundCall {
	k := callKey{method, outcome}
	if all := m.bound.Load(); all != nil {
		if b, ok := (*all)[k]; ok {
			return b
		}
	}
	m.boundMu.Lock()
	defer m.boundMu.Unlock()
	next := map[callKey]boundCall{}
	if all := m.bound.Load(); all != nil {
		if b, ok := (*all)[k]; ok {
			return b
		}
		for k, b := range *all {
			next[k] = b
		}
	}
	b := boundCall{calls: m.calls.WithLabelValues(method, outcome), time: m.callTime.WithLabelValues(method)}
	next[k] = b
	m.bound.Store(&next)
	return b
}

// Waited429 implements bot.Observer.
func (m *metrics) Waited429(d time.Duration) { m.retryAfter.Add(d.Seconds()) }

// Update implements bot.EventObserver.
func (m *metrics) Update(kind, outcome string, d time.Duration) {
	m.updates.WithLabelValues(kind, outcome).Inc()
	m.duration.WithLabelValues(kind).Observe(d.Seconds())
}

// Outbox implements durable.Observer.
func (m *metrics) Outbox(pending, dead int64) {
	m.outbox.Set(float64(pending))
	m.outboxDead.Set(float64(dead))
}

// Interview implements bot.EventObserver and durable.Observer.
func (m *metrics) Interview(event string) { m.interviews.WithLabelValues(event).Inc() }

// HoldExpired implements bot.EventObserver.
func (m *metrics) HoldExpired(answer string) { m.holds.WithLabelValues(answer).Inc() }
