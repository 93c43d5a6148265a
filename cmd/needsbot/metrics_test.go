package main

import (
	"testing"
	"time"
)

// The calls' series looked up once per method and outcome still count
// every call in the series of its labels.
func TestCallMetricsBound(t *testing.T) {
	m := newMetrics()
	for range 3 {
		m.Call("sendMessage", "ok", time.Millisecond)
	}
	m.Call("sendMessage", "429", time.Millisecond)
	m.Call("editMessageText", "ok", time.Millisecond)
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			key := f.GetName()
			for _, l := range s.GetLabel() {
				key += " " + l.GetValue()
			}
			switch {
			case s.GetCounter() != nil:
				got[key] = s.GetCounter().GetValue()
			case s.GetHistogram() != nil:
				got[key] = float64(s.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"needsbot_telegram_calls_total sendMessage ok":      3,
		"needsbot_telegram_calls_total sendMessage 429":     1,
		"needsbot_telegram_calls_total editMessageText ok":  1,
		"needsbot_telegram_call_seconds sendMessage":        4,
		"needsbot_telegram_call_seconds editMessageText":    1,
		"needsbot_telegram_errors_total throttled":          1,
		"needsbot_telegram_calls_total editMessageText 429": 0,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}
