package bot

import (
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/width"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/internal/tghtml"
	"github.com/needsbot/needsbot/locales"
)

// MaxText is Telegram's limit on a message's text, in characters.
const MaxText = 4096

// Bot message ids (locales/active.*.toml, prefix b.).
const (
	MsgHelp            = "b.help"
	MsgPrivacy         = "b.privacy"
	MsgDeleteConfirm   = "b.delete.confirm"
	MsgDeleteYes       = "b.delete.yes"
	MsgDeleteNo        = "b.delete.no"
	MsgDeleteDone      = "b.delete.done"
	MsgDeleteCancelled = "b.delete.cancelled"
	MsgUnknownCommand  = "b.unknown_command"
	MsgOnlyText        = "b.only_text"
	MsgForwarded       = "b.forwarded"
	MsgEdited          = "b.edited"
	MsgGroup           = "b.group"
	MsgError           = "b.error"
	MsgNoInvite        = "b.no_invite"
	MsgMultiHint       = "b.multi_hint"
	MsgSummary         = "b.summary"
	MsgMore            = "b.more"
	MsgResume          = "b.resume"
	MsgInviteUnknown   = "b.invite.unknown"
	MsgInviteExpired   = "b.invite.expired"
	MsgInviteRevoked   = "b.invite.revoked"
	MsgInviteExhausted = "b.invite.exhausted"
	MsgInviteLimited   = "b.invite.limited"
	MsgLanguageChoose  = "m.language.choose"
)

// Commands returns the respondent commands registered with setMyCommands
// (a fresh slice); each has a description message b.cmd.<name>.
func Commands() []string {
	return []string{"start", "language", "back", "restart", "services", "help", "privacy", "delete"}
}

// MessageIDs lists every message id this package renders, for lint.
func MessageIDs() []string {
	ids := []string{MsgHelp, MsgPrivacy, MsgDeleteConfirm, MsgDeleteYes, MsgDeleteNo, MsgDeleteDone,
		MsgDeleteCancelled, MsgUnknownCommand, MsgOnlyText, MsgForwarded, MsgEdited, MsgGroup, MsgError,
		MsgNoInvite, MsgMultiHint, MsgSummary, MsgMore, MsgResume, MsgInviteUnknown, MsgInviteExpired, MsgInviteRevoked,
		MsgInviteExhausted, MsgInviteLimited, MsgLanguageChoose}
	ids = append(ids, coreMessageIDs()...)
	ids = append(ids, langMessageIDs()...)
	ids = append(ids, servicesMessageIDs()...)
	ids = append(ids, remindMessageIDs()...)
	for _, c := range Commands() {
		ids = append(ids, "b.cmd."+c)
	}
	return ids
}

// Key is one inline button: its visible text and its callback data.
type Key struct{ Text, Data string }

// Message is a rendered message: Telegram HTML text and an inline keyboard.
type Message struct {
	Text     string
	Keyboard [][]Key
}

// Renderer turns dialog replies into Telegram messages in a language. It
// is immutable and safe for concurrent use.
type Renderer struct {
	cat *locales.Catalog
	msg *tghtml.Messages
	// progressText caches progress's line per (language, N, Of): one per
	// question shown, the same few over and over.
	progressText sync.Map
	// layouts caches keyboards' layouts (keyLayout) by language and
	// buttons (layoutKey).
	layoutMu sync.RWMutex
	layouts  map[layoutKey]*keyLayout
}

type progressKey struct {
	lang  string
	n, of int
}

// NewRenderer returns a renderer over the catalog.
func NewRenderer(cat *locales.Catalog) *Renderer {
	return &Renderer{cat: cat, msg: tghtml.NewMessages(cat)}
}

// Directional marks (see tghtml): a right-to-left mark at the start of a
// line, isolates around numbers and Latin fragments so they keep their
// order inside Arabic or Urdu text.
const (
	rlm = tghtml.RLM
	lri = tghtml.LRI
	fsi = tghtml.FSI
	pdi = tghtml.PDI
)

func (r *Renderer) rtl(lang string) bool { return r.msg.RTL(lang) }

// Text renders message id with data as Telegram HTML, escaping string
// arguments (and, in right-to-left languages, isolating them and slash
// commands); see tghtml.Messages.Text.
func (r *Renderer) Text(lang, id string, data map[string]any) string {
	return r.msg.Text(lang, id, data)
}

// Plain renders a message as plain text (for button labels and notices);
// see tghtml.Messages.Plain.
func (r *Renderer) Plain(lang, id string, data map[string]any) string {
	return r.msg.Plain(lang, id, data)
}

func (r *Renderer) progress(lang string, p dialog.Progress) string {
	if p.N == 0 || p.Of <= 1 {
		return ""
	}
	key := progressKey{lang, p.N, p.Of}
	if s, ok := r.progressText.Load(key); ok {
		return s.(string)
	}
	s := r.cat.Text(lang, dialog.MsgProgress, map[string]any{"N": p.N, "Of": p.Of})
	if r.rtl(lang) {
		s = rlm + tghtml.IsolateLTR(s)
	}
	r.progressText.Store(key, s)
	return s
}

// Ask renders a question (ReplyAsk or ReplyKeyboard) of form f, showing
// the first page of a long list.
func (r *Renderer) Ask(lang string, f *dialog.Form, rep dialog.Reply) (Message, error) {
	return r.AskPage(lang, f, rep, 0)
}

// AskPage renders a question with page page of its options (see
// maxOptionRows); a page out of range shows the last one.
func (r *Renderer) AskPage(lang string, f *dialog.Form, rep dialog.Reply, page int) (Message, error) {
	// The pieces first, then the text at its length in one go.
	var errText, hint, how, date string
	var haveHow, haveDate bool
	if rep.Error != "" {
		errText = r.Text(lang, rep.Error, rep.ErrorArgs)
	}
	label := r.Text(lang, rep.Msg, rep.Args)
	if rep.Hint != "" {
		hint = r.Text(lang, rep.Hint, nil)
	}
	if q := f.Question(rep.Question); q != nil {
		var id string
		switch q.Type {
		case dialog.TypeSelectMultiple:
			if q.Hint == "" {
				// One instruction: the question's own hint already
				// says how many to tick and to tap Done.
				id = MsgMultiHint
			}
		case dialog.TypeText:
			id = dialog.MsgTypeText
		case dialog.TypeInteger, dialog.TypeDecimal:
			id = dialog.MsgTypeNumber
		}
		if id != "" {
			how, haveHow = r.Text(lang, id, nil), true
		}
		if q.Type == dialog.TypeDate && rep.Args["Year"] != nil {
			date, haveDate = r.Text(lang, dialog.MsgMonth, nil), true
		} else if q.Type == dialog.TypeDate {
			date, haveDate = r.Text(lang, dialog.MsgYear, nil), true
		}
	}
	progress := r.progress(lang, rep.Progress)
	var b strings.Builder
	b.Grow(len(errText) + len(label) + len(hint) + len(how) + len(date) + len(progress) + 48)
	if rep.Error != "" {
		b.WriteString("⚠️ ")
		b.WriteString(errText)
		b.WriteString("\n\n")
	}
	b.WriteString("<b>")
	b.WriteString(label)
	b.WriteString("</b>")
	if rep.Hint != "" {
		b.WriteString("\n<i>")
		b.WriteString(hint)
		b.WriteString("</i>")
	}
	if haveHow {
		b.WriteString("\n\n")
		b.WriteString(how)
	}
	if haveDate {
		b.WriteString("\n\n")
		b.WriteString(date)
	}
	if progress != "" {
		b.WriteString("\n<i>")
		b.WriteString(progress)
		b.WriteString("</i>")
	}
	kb, err := r.keyboard(lang, rep, page)
	if err != nil {
		return Message{}, err
	}
	return Message{Text: b.String(), Keyboard: kb}, nil
}

// Answered renders the settled form of an answered question's message:
// its label and the answer, without buttons.
func (r *Renderer) Answered(lang string, f *dialog.Form, rep dialog.Reply) Message {
	var b strings.Builder
	b.WriteString("<b>")
	if rep.Msg != "" {
		// The question's own label and arguments (a version may give a
		// question its own text ids, and labels may name a choice).
		b.WriteString(r.Text(lang, rep.Msg, rep.Args))
	} else {
		b.WriteString(r.Text(lang, "q."+f.ID+"."+rep.Question, nil))
	}
	b.WriteString("</b>")
	var parts []string
	for _, id := range rep.AnswerMsgs {
		parts = append(parts, r.Text(lang, id, nil))
	}
	if rep.Answer != "" {
		parts = append(parts, r.literal(lang, rep.Answer))
	}
	if len(parts) > 0 {
		b.WriteString("\n✓ <i>")
		b.WriteString(strings.Join(parts, ", "))
		b.WriteString("</i>")
	}
	return Message{Text: b.String()}
}

func (r *Renderer) label(lang string, b dialog.Button) string {
	var s string
	if b.Literal != "" {
		s = b.Literal
	} else {
		s = r.Plain(lang, b.Label, nil)
	}
	if r.rtl(lang) {
		// Arrows point the way the text reads.
		s = mirrorArrows.Replace(s)
	}
	if b.Checked {
		s = "✅ " + s
	} else if b.Kind == dialog.BtnToggle {
		// A white square with a dark outline shows on any button colour.
		s = "⬜ " + s
	}
	return s
}

var mirrorArrows = strings.NewReplacer("◀", "▶", "▶", "◀")

var buttonKinds = map[dialog.ButtonKind]byte{
	dialog.BtnChoose: CbChoose, dialog.BtnToggle: CbToggle, dialog.BtnDone: CbDone,
	dialog.BtnBack: CbBack, dialog.BtnSkip: CbSkip, dialog.BtnAck: CbAck,
}

// maxOptionRows is how many rows of options a card shows at once: with
// the question, the page key and the navigation row it fits one phone
// screen (360×640). Longer lists are paged.
const maxOptionRows = 6

// PageOf returns the page of rep's keyboard that shows option opt (0 when
// the list is not paged or opt is not in it).
func (r *Renderer) PageOf(lang string, rep dialog.Reply, opt string) int {
	// The keyboard's pages (the keyboard lays out every key but the
	// navigation; a multi-choice's options are all taps or ticks). A
	// pinned option is on every page: the first one will do.
	for p, page := range r.layoutOf(lang, rep.Buttons).pages {
		for _, row := range page {
			for _, i := range row {
				if b := rep.Buttons[i]; b.Option == opt && (b.Kind == dialog.BtnChoose || b.Kind == dialog.BtnToggle) {
					return p
				}
			}
		}
	}
	return 0
}

// declineOption is the choice that declines a question ("prefer not to
// answer"): on a paged list it is on every page, the one way to decline
// always at hand.
const declineOption = "pnta"

// pages lays options out and cuts the rows into pages of at most
// maxOptionRows rows; when there is more than one page, the pinned options
// leave the flow and close every page.
func pages(opts []Key, pinned []bool) [][][]Key {
	rows := Layout(opts, nil)
	// A page of a paged list shows maxOptionRows rows and the page key:
	// a list of one row more takes as much room whole, every answer in
	// sight (paged, a seven-row list showed its last answer alone on a
	// second page: the oldest age band in Urdu, Hindi, Tamil, Wolof…).
	if len(rows) <= maxOptionRows+1 {
		return [][][]Key{rows}
	}
	var rest, pin []Key
	for i, k := range opts {
		if pinned[i] {
			pin = append(pin, k)
		} else {
			rest = append(rest, k)
		}
	}
	rows = Layout(rest, nil)
	per := maxOptionRows
	if len(pin) > 0 {
		per--
	}
	var out [][][]Key
	for i := 0; i < len(rows); i += per {
		page := append([][]Key(nil), rows[i:min(i+per, len(rows))]...)
		if len(pin) > 0 {
			page = append(page, pin)
		}
		out = append(out, page)
	}
	return out
}

func (r *Renderer) keyboard(lang string, rep dialog.Reply, page int) ([][]Key, error) {
	// Every key's data must encode, shown on this page or not.
	var pre [32]byte
	head, err := appendCallback(pre[:0], Callback{Kind: CbChoose, Pos: rep.Pos, Seq: rep.Seq})
	if err != nil {
		return nil, err
	}
	for _, b := range rep.Buttons {
		k := buttonKinds[b.Kind]
		if !validKind(k) || k == CbStaff || strings.IndexByte(b.Option, 0) >= 0 || len(head)+len(b.Option) > MaxCallbackData {
			return nil, ErrCallback
		}
	}
	lay := r.layoutOf(lang, rep.Buttons)
	pg := lay.pages[0]
	more := ""
	next := 0
	if len(lay.pages) > 1 {
		// A long list shows a page at a time, with a key to the next
		// page (the last one leads back to the first).
		page = min(max(page, 0), len(lay.pages)-1)
		pg = lay.pages[page]
		next = (page + 1) % len(lay.pages)
		more = lay.more[page]
	}
	n := len(lay.nav)
	for _, row := range pg {
		n += len(row)
	}
	if more != "" {
		n++
	}
	// One array for the keys and one string for their callback data, cut
	// into rows and pieces: the data is written once, into the builder
	// whose String is the pieces' string (no copy), and where each piece
	// ends is kept on the stack for up to 64 keys.
	keys := make([]Key, 0, n)
	var endBuf [64]int
	ends := endBuf[:0]
	var all strings.Builder
	all.Grow(n * (12 + maxOption(rep.Buttons)))
	data := func(c Callback) {
		var one [16 + MaxCallbackData]byte
		b, aerr := appendCallback(one[:0], c)
		if aerr != nil {
			err = aerr
		} else if len(b) > MaxCallbackData {
			err = ErrCallback
		}
		all.Write(b)
		ends = append(ends, all.Len())
	}
	for _, row := range pg {
		for _, i := range row {
			b := rep.Buttons[i]
			keys = append(keys, Key{Text: lay.text(i, b)})
			data(Callback{Kind: buttonKinds[b.Kind], Pos: rep.Pos, Seq: rep.Seq, Option: b.Option})
		}
	}
	if more != "" {
		keys = append(keys, Key{Text: more})
		data(Callback{Kind: CbPage, Pos: rep.Pos, Seq: rep.Seq, Option: strconv.Itoa(next)})
	}
	for _, i := range lay.nav {
		b := rep.Buttons[i]
		keys = append(keys, Key{Text: lay.text(i, b)})
		data(Callback{Kind: buttonKinds[b.Kind], Pos: rep.Pos, Seq: rep.Seq, Option: b.Option})
	}
	if err != nil {
		return nil, err
	}
	str := all.String()
	start := 0
	for i := range keys {
		keys[i].Data = str[start:ends[i]]
		start = ends[i]
	}
	rows := make([][]Key, 0, len(pg)+2)
	at := 0
	cut := func(w int) {
		rows = append(rows, keys[at:at+w:at+w])
		at += w
	}
	for _, row := range pg {
		cut(len(row))
	}
	if more != "" {
		cut(1)
	}
	if len(lay.nav) > 0 {
		cut(len(lay.nav))
	}
	if r.rtl(lang) {
		// Telegram lays keys out left to right whatever the language:
		// mirror every row so the first key is on the right.
		for _, row := range rows {
			for i, j := 0, len(row)-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
	}
	return rows, nil
}

func maxOption(bs []dialog.Button) int {
	n := 0
	for _, b := range bs {
		n = max(n, len(b.Option))
	}
	return n
}

// appendCallback appends c encoded as Callback.Encode does (for the kinds
// of an interview's keys: not CbStaff), without the length check.
func appendCallback(dst []byte, c Callback) ([]byte, error) {
	if !validKind(c.Kind) || c.Kind == CbStaff || c.Pos < 0 || strings.IndexByte(c.Option, 0) >= 0 {
		return dst, ErrCallback
	}
	dst = append(dst, codecVersion, c.Kind)
	dst = strconv.AppendInt(dst, int64(c.Pos), 36)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(c.Seq), 36)
	dst = append(dst, '.')
	return append(dst, c.Option...), nil
}

// keyLayout is how a set of buttons is laid out in a language: their
// labels and, for the options, the rows of every page. It depends only on
// the language and the buttons (kinds, labels, ticks, options), not on
// the question's position or showing, so a renderer keeps it
// (Renderer.layouts): the same keyboards are shown over and over.
type keyLayout struct {
	labels []string  // of every button, by index in the reply (a tick's unticked)
	ticked []string  // a tick's label ticked, by index (nil: no ticks)
	pages  [][][]int // option rows per page: indices of buttons
	more   []string  // the next-page key's label per page (paged lists)
	nav    []int     // the navigation row: Back, Done, Skip
}

// text is the label of button b at index i.
func (lay *keyLayout) text(i int, b dialog.Button) string {
	if b.Checked && b.Kind == dialog.BtnToggle {
		return lay.ticked[i]
	}
	return lay.labels[i]
}

// maxLayouts bounds a renderer's layout cache; when full, it starts
// again. The lists of the immigrants' questionnaire in the 23 languages
// are ~710 keyboards; each answer shown ticked on a return to its
// question is another (~3,800 for all of them). ~860 bytes each
// (TestLayoutCacheRetainsLittle): at most ~1.7 MB of heap, ~2.5 MiB of
// peak RSS at GOGC=50 (8192 allowed 7 MB; issue 19).
const maxLayouts = 2048

// layoutKey identifies a keyboard's layout: two independent 64-bit hashes
// of its language and buttons. The buttons' options and labels are some
// 400 bytes a keyboard on average (a third of a cached layout's memory,
// issue 19), the 128 bits of hash 16; two keyboards that differ and hash
// the same in both are not a concern (about 1 in 2^128 per pair).
type layoutKey [2]uint64

// layoutSeeds seed layoutKey's two hashes (per process: a key is never
// stored).
var layoutSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// layoutOf returns the layout of bs in lang, from the cache or made now.
func (r *Renderer) layoutOf(lang string, bs []dialog.Button) *keyLayout {
	// The buttons are written to the hashes a few hundred bytes at a time
	// (a long list's are a few kilobytes).
	var h0, h1 maphash.Hash
	h0.SetSeed(layoutSeeds[0])
	h1.SetSeed(layoutSeeds[1])
	var arr [512]byte
	buf := append(arr[:0], lang...)
	for _, b := range bs {
		if len(buf) > 256 {
			h0.Write(buf)
			h1.Write(buf)
			buf = buf[:0]
		}
		buf = append(buf, 0, byte(b.Kind))
		// A tick's state is left out: ticked or not, its label is as
		// wide (keyLayout.ticked), so the layout is the same.
		if b.Checked && b.Kind != dialog.BtnToggle {
			buf = append(buf, 1)
		} else {
			buf = append(buf, 0)
		}
		buf = append(buf, b.Option...)
		buf = append(buf, 0)
		buf = append(buf, b.Label...)
		buf = append(buf, 0)
		buf = append(buf, b.Literal...)
	}
	h0.Write(buf)
	h1.Write(buf)
	key := layoutKey{h0.Sum64(), h1.Sum64()}
	r.layoutMu.RLock()
	lay := r.layouts[key]
	r.layoutMu.RUnlock()
	if lay != nil {
		return lay
	}
	lay = r.layout(lang, bs)
	r.layoutMu.Lock()
	if len(r.layouts) >= maxLayouts {
		clear(r.layouts)
	}
	if r.layouts == nil {
		r.layouts = map[layoutKey]*keyLayout{}
	}
	r.layouts[key] = lay
	r.layoutMu.Unlock()
	return lay
}

// layout lays bs out in lang (see layoutOf).
func (r *Renderer) layout(lang string, bs []dialog.Button) *keyLayout {
	lay := &keyLayout{labels: make([]string, len(bs))}
	var opts []Key
	var pinned []bool
	back, skip, done := -1, -1, -1
	for i, b := range bs {
		if b.Kind == dialog.BtnToggle {
			if lay.ticked == nil {
				lay.ticked = make([]string, len(bs))
			}
			b.Checked = true
			lay.ticked[i] = r.label(lang, b)
			b.Checked = false
		}
		lay.labels[i] = r.label(lang, b)
		switch b.Kind {
		case dialog.BtnBack:
			back = i
		case dialog.BtnSkip:
			skip = i
		case dialog.BtnDone:
			done = i
		default:
			// The index travels as the key's data through the layout.
			opts = append(opts, Key{Text: lay.labels[i], Data: strconv.Itoa(i)})
			pinned = append(pinned, b.Option == declineOption)
		}
	}
	// One navigation row everywhere, in reading order: Back, then the
	// multi-choice's Done, then Skip.
	for _, i := range []int{back, done, skip} {
		if i >= 0 {
			lay.nav = append(lay.nav, i)
		}
	}
	// The rows of all pages share one array of indices (a pinned option
	// repeats on every page), each page's rows one array of rows: the
	// layout stays in the cache.
	pgs := pages(opts, pinned)
	ids := make([]int, 0, len(opts)+len(pgs))
	lay.pages = make([][][]int, 0, len(pgs))
	for _, page := range pgs {
		rows := make([][]int, 0, len(page))
		for _, row := range page {
			start := len(ids)
			for _, k := range row {
				id, _ := strconv.Atoi(k.Data)
				ids = append(ids, id)
			}
			rows = append(rows, ids[start:len(ids):len(ids)])
		}
		lay.pages = append(lay.pages, rows)
	}
	if len(lay.pages) > 1 {
		for p := range lay.pages {
			lay.more = append(lay.more, r.Plain(lang, MsgMore, map[string]any{"N": p + 1, "Of": len(lay.pages)}))
		}
	}
	return lay
}

// displayWidth counts East Asian wide and full-width characters as two,
// and directional marks (the catalog's right-to-left mark) as none.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		if r == '\u200f' || r == '\u200e' || r >= '\u2066' && r <= '\u2069' {
			continue
		}
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// rowBudget is roughly how many characters fit across a phone's keyboard
// (360 px wide).
const rowBudget = 30

// longList is the number of options above which a list is laid out in
// columns even if a few labels are long, so that the question and its
// first options fit one phone screen.
const longList = 8

// Layout arranges option keys in rows by label width (short labels share a
// row, up to Telegram's 8; long labels get a row each; rows are balanced)
// and puts navigation keys in a last row. Lists longer than longList are
// put in 2 or 3 columns by the width of most of their labels; a label too
// wide for its column gets a row of its own, in its place in the order.
func Layout(opts, nav []Key) [][]Key {
	var rows [][]Key
	if len(opts) > 0 {
		maxW := 0
		for _, k := range opts {
			maxW = max(maxW, displayWidth(k.Text))
		}
		per := min(max(rowBudget/(maxW+3), 1), 8)
		if per == 1 && len(opts) > longList {
			return append(columns(opts), nonEmpty(nav)...)
		}
		nrows := (len(opts) + per - 1) / per
		per = (len(opts) + nrows - 1) / nrows
		for i := 0; i < len(opts); i += per {
			rows = append(rows, opts[i:min(i+per, len(opts))])
		}
	}
	if len(nav) > 0 {
		rows = append(rows, nav)
	}
	return rows
}

func nonEmpty(row []Key) [][]Key {
	if len(row) == 0 {
		return nil
	}
	return [][]Key{row}
}

func columns(opts []Key) [][]Key {
	ws := make([]int, len(opts))
	for i, k := range opts {
		ws[i] = displayWidth(k.Text)
	}
	sorted := append([]int(nil), ws...)
	slices.Sort(sorted)
	typical := sorted[len(sorted)*3/4] // most labels are at most this wide
	per := min(max(rowBudget/(typical+1), 2), 3)
	colW := rowBudget/per + 1
	var rows [][]Key
	var row []Key
	for i, k := range opts {
		if ws[i] > colW {
			if len(row) > 0 {
				rows = append(rows, row)
				row = nil
			}
			rows = append(rows, []Key{k})
			continue
		}
		row = append(row, k)
		if len(row) == per {
			rows = append(rows, row)
			row = nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

// Split cuts text into messages within Telegram's limit, at paragraph or
// line boundaries where possible, never inside an HTML tag or entity.
func Split(text string) []string {
	if utf8.RuneCountInString(text) <= MaxText {
		return []string{text}
	}
	var out []string
	for utf8.RuneCountInString(text) > MaxText {
		cut := prefixBytes(text, MaxText)
		head := text[:cut]
		at := strings.LastIndex(head, "\n\n")
		if at <= 0 {
			at = strings.LastIndex(head, "\n")
		}
		if at <= 0 {
			at = strings.LastIndex(head, " ")
		}
		if at <= 0 {
			at = cut
		}
		// Do not cut inside a tag or an entity.
		if lt := strings.LastIndex(text[:at], "<"); lt > strings.LastIndex(text[:at], ">") {
			at = lt
		}
		if amp := strings.LastIndex(text[:at], "&"); amp > strings.LastIndex(text[:at], ";") {
			at = amp
		}
		if at <= 0 {
			at = cut
		}
		out = append(out, strings.TrimSpace(text[:at]))
		text = strings.TrimSpace(text[at:])
	}
	if text != "" {
		out = append(out, text)
	}
	return out
}

// prefixBytes returns the byte length of the first n runes of s.
func prefixBytes(s string, n int) int {
	i := 0
	for pos := range s {
		if i == n {
			return pos
		}
		i++
	}
	return len(s)
}

// Summary renders the compact summary of a completed interview shown at
// its end: the answers, section by section (the top-level group's title in
// bold when it has one). Answers that say what they are about are joined
// on one line ("25 to 34 · A woman · Morocco"); a question with a summary
// label (dialog.Question.Summary: a bare "Yes", or choices that another
// question offers too, as the needs and the help received) has a line of
// its own, the label before its answers, so that "Learning Italian" under
// "Needed help with" and under "Most important now" can be told apart.
// The choices of one question are joined with commas. Free-text answers
// are left out (the respondent's own messages show them), as is the
// consent question.
func (r *Renderer) Summary(lang string, f *dialog.Form, resp *dialog.Response) string {
	// Written straight into one builder, sized for the usual summary
	// (issue 19: the closing card is a completion's first reply, and its
	// summary was a quarter of the turn's CPU, built of ~30 slices and
	// joins); the text is what the joins made (summary_test.go).
	var b strings.Builder
	b.Grow(summaryBase + summaryPerAnswer*len(resp.Answers))
	b.WriteString("<b>")
	b.WriteString(r.Text(lang, MsgSummary, nil))
	b.WriteString("</b>")
	rtl := r.rtl(lang)
	var room [8]string
	line := 0 // answers on the current "✓ a · b" line
	var last *dialog.Group
	for _, q := range f.Questions {
		v, ok := resp.Answers[q.Name]
		if !ok || v == "" || !q.Type.Shown() || q.Type == dialog.TypeNote || q.Name == f.Consent {
			continue
		}
		msgs, lit := dialog.AppendAnswerDisplay(room[:0], q, v)
		if len(msgs) == 0 && lit == "" {
			continue
		}
		var g *dialog.Group
		if len(q.Groups) > 0 {
			g = q.Groups[0]
		}
		if g != last {
			line = 0
			last = g
			if g != nil && g.Label != "" && r.cat.Has(locales.Source, g.Label) {
				b.WriteString("\n<i>")
				b.WriteString(r.Text(lang, g.Label, nil))
				b.WriteString("</i>")
			}
		}
		if q.Summary == "" {
			// One more answer on the line.
			if line == 0 {
				b.WriteString("\n✓ ")
			} else {
				b.WriteString(" · ")
			}
			line++
		} else {
			line = 0
			b.WriteString("\n✓ <i>")
			b.WriteString(r.Text(lang, q.Summary, nil))
			b.WriteString(":</i> ")
		}
		at := b.Len()
		for i, id := range msgs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(r.Text(lang, id, nil))
		}
		if lit != "" {
			if b.Len() > at {
				b.WriteString(" ") // a month and its year
			}
			if rtl {
				b.WriteString(tghtml.LRI)
			}
			b.WriteString(tghtml.Escape(lit))
			if rtl {
				b.WriteString(tghtml.PDI)
			}
		}
	}
	return b.String()
}

// The closing summary's room, grown once: ~60 bytes per answer shown of
// the shipped questionnaire in its longest languages.
const (
	summaryBase      = 128
	summaryPerAnswer = 64
)

// literal escapes a literal answer (a number, a year), isolated in
// right-to-left languages.
func (r *Renderer) literal(lang, s string) string {
	s = tghtml.Escape(s)
	if r.rtl(lang) {
		s = tghtml.IsolateLTR(s)
	}
	return s
}

// answerLine renders the "✓ answer" line of a just-answered question, shown
// above the next question on the card ("" when the answer shows itself,
// e.g. typed text).
func (r *Renderer) answerLine(lang string, rep dialog.Reply) string {
	var parts []string
	for _, id := range rep.AnswerMsgs {
		parts = append(parts, r.Text(lang, id, nil))
	}
	if rep.Answer != "" {
		parts = append(parts, r.literal(lang, rep.Answer))
	}
	if len(parts) == 0 {
		return ""
	}
	return "✓ <i>" + strings.Join(parts, ", ") + "</i>"
}
