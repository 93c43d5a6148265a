package dialog

// Phase says what the interview is waiting for.
type Phase uint8

// Interview phases.
const (
	PhaseNew      Phase = iota // nothing started yet
	PhaseLanguage              // waiting for a language choice
	PhaseAsking                // a question is on screen (State.Pos)
	PhaseDone                  // completed (or ended by consent / eligibility)
)

// State is one respondent's interview in progress. It is small, versioned
// and encodes with Encode / Decode.
type State struct {
	Form        string
	FormVersion int
	// Version increases by one on every saved change; storage uses it for
	// compare-and-swap.
	Version uint64
	// Seq increases each time a question is newly asked; button data carries
	// it so that buttons of an earlier showing are recognised as stale.
	Seq   uint32
	Phase Phase
	Lang  string
	// Langs lists every language used, in order of first use.
	Langs []string
	Pos   int // index of the current question in Form.Questions
	// Back is the stack of positions of previously shown questions.
	Back    []int
	Answers map[string]string
	// Pending holds the not-yet-confirmed selection of the current
	// select_multiple (space-separated) or the chosen year of a date.
	Pending string
	// Context is the start context: invite payload and what it resolved to.
	Context map[string]string
	Consent bool  // the consent question was answered yes
	Started int64 // unix seconds
	Updated int64 // unix seconds
	// Reached is the furthest question name reached, for abandonment funnels.
	Reached string
	// Outcome is set when Phase is PhaseDone: "completed", "declined",
	// "ineligible".
	Outcome string
}
