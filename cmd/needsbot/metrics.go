package main

import (
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
	outbox     prometheus.Gauge
	outboxDead prometheus.Gauge
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
		outbox: prometheus.NewGauge(prometheus.GaugeOpts{Name: "needsbot_outbox_pending",
			Help: "Completed responses waiting in the Redis outbox for Postgres."}),
		outboxDead: prometheus.NewGauge(prometheus.GaugeOpts{Name: "needsbot_outbox_dead",
			Help: "Outbox entries Postgres refused permanently (need a human)."}),
	}
	m.reg.MustRegister(m.updates, m.duration, m.calls, m.callTime, m.errors, m.retryAfter, m.interviews, m.outbox, m.outboxDead,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Call implements bot.Observer.
func (m *metrics) Call(method, outcome string, d time.Duration) {
	m.calls.WithLabelValues(method, outcome).Inc()
	m.callTime.WithLabelValues(method).Observe(d.Seconds())
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
