package results

import "testing"

// The buttons that make files or images go to staff's work queue; those
// that only change the menu do not; forged payloads are not long work.
func TestLongButtons(t *testing.T) {
	s := &Service{}
	f := Filter{Form: "immigrati", Municipality: 3}
	for verb, long := range map[string]bool{verbShow: false, verbForm: false, verbPeriod: false, verbService: false,
		verbLanguage: false, verbMuni: false, verbChart: true, verbFunnel: true, verbCompare: true, verbExportCSV: true, verbExportXLS: true} {
		if got := s.Long(encodePayload(verb, f)); got != long {
			t.Errorf("verb %q: Long = %v, want %v", verb, got, long)
		}
	}
	if s.Long("c.bad") {
		t.Error("a forged payload counts as long work")
	}
}
