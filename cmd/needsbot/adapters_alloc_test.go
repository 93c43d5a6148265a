package main

import (
	"testing"
	"time"

	"github.com/needsbot/needsbot/interview"
)

// TestAbandonRecordWithoutService: the record saved beside an interview
// with no service (most of them) is made without a parse error for the
// missing service id: the record and its municipality id, two allocations
// on every save (issue 19; was three).
func TestAbandonRecordWithoutService(t *testing.T) {
	ab := &interview.Abandon{Form: "immigrati", FormVersion: 2, Language: "it", LastQuestion: "eta",
		Context: map[string]string{interview.CtxMunicipality: "58091"}, Started: time.Now().Unix()}
	rec := abandonRecord(ab)
	if rec == nil || rec.MunicipalityID != 58091 || rec.ServiceID != nil {
		t.Fatalf("record %+v", rec)
	}
	if n := testing.AllocsPerRun(50, func() { rec = abandonRecord(ab) }); n > 2 {
		t.Errorf("abandonRecord makes %v allocations without a service, want at most 2", n)
	}
	ab.Context[interview.CtxService] = "7"
	if rec := abandonRecord(ab); rec.ServiceID == nil || *rec.ServiceID != 7 {
		t.Fatalf("service id %v, want 7", rec.ServiceID)
	}
	ab.Context[interview.CtxService] = "x"
	if rec := abandonRecord(ab); rec.ServiceID != nil {
		t.Fatalf("service id %v from %q", *rec.ServiceID, "x")
	}
}
