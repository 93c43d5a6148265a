package dialog

// InputKind says what the respondent did.
type InputKind uint8

// Inputs that move an interview.
const (
	InStart       InputKind = iota + 1 // /start, with Payload and Context
	InText                             // typed text
	InChoose                           // tapped an option of a single-choice question (or OK)
	InToggle                           // tapped an option of a multi-choice question
	InDone                             // confirmed a multi-choice selection
	InBack                             // go back to the previous shown question
	InSkip                             // skip an optional question
	InRestart                          // start over, dropping answers
	InSetLanguage                      // switch language (Lang)
	InExpire                           // the state idled out
	InRepeat                           // show the current question again (e.g. redelivery)
)

// Input is one thing the respondent did. For button inputs, Pos and Seq are
// the question position and State.Seq the button was rendered for; a
// mismatch makes the input stale.
type Input struct {
	Kind    InputKind
	Text    string
	Option  string // choice name (InChoose/InToggle)
	Pos     int
	Seq     uint32
	Button  bool // the input came from a button (Pos/Seq are meaningful)
	Lang    string
	Payload string
	Context map[string]string // InStart: resolved invite context, hidden fields
	// Resume says the person comes back to the interview (after a pause,
	// from a reminder, a redelivered input): a step that asks the current
	// question again shows the notes right before it too, as first shown
	// (at the consent question, the welcome and the information notice).
	// An InStart mid-interview is a resume.
	Resume bool
}

// ReplyKind says what a reply is.
type ReplyKind uint8

// Reply kinds. The channel decides how each is shown.
const (
	// ReplyAsk shows a question (Msg is its label) with buttons.
	ReplyAsk ReplyKind = iota + 1
	// ReplySay is a plain message.
	ReplySay
	// ReplyAnswered marks the previously asked question as answered:
	// the channel edits its message to show Answer and drop the buttons.
	ReplyAnswered
	// ReplyKeyboard updates the buttons of the current question in place
	// (multi-select toggles).
	ReplyKeyboard
	// ReplyNotice is a short transient notice (a callback toast where the
	// channel has one, else a message).
	ReplyNotice
	// ReplyAskLanguage asks for the language; the channel builds the picker.
	ReplyAskLanguage
	// ReplyComplete carries the finished Response.
	ReplyComplete
)

// ButtonKind says what tapping a button does.
type ButtonKind uint8

// Button kinds.
const (
	BtnChoose ButtonKind = iota + 1
	BtnToggle
	BtnDone
	BtnBack
	BtnSkip
	BtnAck
)

// Button is a typed button. Label is a message id unless Literal is set
// (numbers of a range, years), in which case Literal is shown as is.
type Button struct {
	Kind    ButtonKind
	Label   string
	Literal string
	Option  string
	Checked bool
}

// Progress is "N / Of" where Of counts the questions relevant now.
type Progress struct{ N, Of int }

// Reply is one thing to show. Msg is a go-i18n message id, Args its
// template data; Hint is an optional second message id.
type Reply struct {
	Kind     ReplyKind
	Msg      string
	Args     map[string]any
	Hint     string
	Question string // name of the question concerned, if any
	Pos      int
	Seq      uint32
	Buttons  []Button
	Progress Progress
	// Answer is the display of a given answer (ReplyAnswered): choice label
	// ids in AnswerMsgs, or a literal in Answer.
	Answer     string
	AnswerMsgs []string
	// Error, on a ReplyAsk, is the message id explaining why the question
	// is asked again; ErrorArgs are its arguments.
	Error     string
	ErrorArgs map[string]any
	Response  *Response
}
