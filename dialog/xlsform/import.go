package xlsform

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/language"

	"github.com/needsbot/needsbot/dialog"
)

// Problem is one thing of a workbook Import cannot carry over, at a sheet,
// row and column, with what to do instead. A refused problem stops the
// import; the others are notes (a column needsbot ignores on purpose).
type Problem struct {
	Sheet      string
	Row        int // 0: the whole sheet
	Column     string
	Msg        string
	Suggestion string
	Refused    bool
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Sheet)
	if p.Row > 0 {
		fmt.Fprintf(&b, ", row %d", p.Row)
	}
	if p.Column != "" {
		fmt.Fprintf(&b, ", column %s", p.Column)
	}
	b.WriteString(": ")
	if !p.Refused {
		b.WriteString("note: ")
	}
	b.WriteString(p.Msg)
	if p.Suggestion != "" {
		b.WriteString(" — " + p.Suggestion)
	}
	return b.String()
}

// RefusedError lists every problem of a refused workbook.
type RefusedError struct {
	File     string
	Problems []Problem
}

func (e *RefusedError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = e.File + ": " + p.String()
	}
	return strings.Join(lines, "\n")
}

// Result is an imported form: its rows (the row model dialog compiles),
// the same as a YAML definition, and its messages.
type Result struct {
	FormID string
	YAML   []byte
	Sheets *dialog.Sheets
	Form   *dialog.Form
	// Messages maps language code → message id → text.
	Messages map[string]map[string]string
	// Descriptions holds the translators' description of every message id
	// (written into the source language's file).
	Descriptions map[string]string
	Notes        []Problem
}

// Languages lists the languages of the messages, sorted.
func (r *Result) Languages() []string {
	var ls []string
	for l := range r.Messages {
		ls = append(ls, l)
	}
	sort.Strings(ls)
	return ls
}

// TOML returns the go-i18n message file of one language (the source
// language, en, carries descriptions).
func (r *Result) TOML(lang string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Messages of questionnaire %s in %s, imported from an XLSForm by `needsbot form import`.\n", r.FormID, lang)
	msgs := r.Messages[lang]
	ids := make([]string, 0, len(msgs))
	for id := range msgs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "\n[%s]\n", quote(id))
		if lang == "en" && r.Descriptions[id] != "" {
			fmt.Fprintf(&b, "description = %s\n", quote(r.Descriptions[id]))
		}
		fmt.Fprintf(&b, "other = %s\n", quote(msgs[id]))
	}
	return b.Bytes()
}

// quote writes s as a double-quoted string valid in both YAML and TOML.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

var (
	nameRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	refInTextRe = regexp.MustCompile(`\$\{[^}]*\}`)
	entityRe    = regexp.MustCompile(`^&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);`)
	tagRe       = regexp.MustCompile(`^</?(b|strong|i|em|u|ins|s|strike|del|code|pre|a|tg-spoiler|span|blockquote)(\s[^<>]*)?>`)
)

// Columns of the survey sheet the importer maps; translated columns are
// listed by their base name.
var surveyColumns = map[string]bool{
	"type": true, "name": true, "label": true, "hint": true, "required": true, "required_message": true,
	"relevant": true, "constraint": true, "constraint_message": true, "choice_filter": true,
	"calculation": true, "default": true, "appearance": true, "parameters": true,
	// needsbot's own columns (Kobo and ODK ignore unknown columns).
	"label_id": true, "label_choice": true, "max_length": true,
	// the short label before the answers in the closing summary (summary::…)
	"summary": true,
	// what the form means for reports (dialog.Section) and its need area
	"report": true, "area": true,
	// the start-context key a hidden row takes (an invite's service…)
	"context": true,
	// ignored with a note
	"guidance_hint": true,
}

// refusedTypes maps XLSForm types needsbot cannot ask over a chat to what
// to do instead.
var refusedTypes = map[string]string{
	"begin_repeat":             "repeats are not supported: ask a fixed number of questions, or a select_multiple",
	"end_repeat":               "repeats are not supported",
	"geopoint":                 "locations are not collected: ask for the municipality or district as a select_one",
	"geotrace":                 "locations are not collected: ask for the area as a select_one",
	"geoshape":                 "locations are not collected: ask for the area as a select_one",
	"start-geopoint":           "locations are not collected",
	"image":                    "media are not collected over the chat: remove the row",
	"audio":                    "media are not collected over the chat: remove the row",
	"background-audio":         "media are not collected over the chat: remove the row",
	"video":                    "media are not collected over the chat: remove the row",
	"file":                     "files are not collected over the chat: remove the row",
	"barcode":                  "barcodes are not scanned over the chat: use text",
	"time":                     "ask a date, or a select_one of times of day",
	"datetime":                 "ask a date, or a select_one of times of day",
	"rank":                     "use a select_multiple with a count-selected(.) bound",
	"deviceid":                 "device metadata is not collected (privacy): remove the row",
	"subscriberid":             "device metadata is not collected (privacy): remove the row",
	"simserial":                "device metadata is not collected (privacy): remove the row",
	"phonenumber":              "device metadata is not collected (privacy): remove the row",
	"username":                 "device metadata is not collected (privacy): remove the row",
	"email":                    "device metadata is not collected (privacy): remove the row",
	"audit":                    "device metadata is not collected (privacy): remove the row",
	"select_one_external":      "use select_one with a choice_filter over extra columns of the choices sheet",
	"select_multiple_external": "use select_multiple with a choice_filter over extra columns of the choices sheet",
	"osm":                      "use a select_one",
	"xml-external":             "external instances are not supported",
	"csv-external":             "external instances are not supported",
	"trigger":                  "use acknowledge",
	"entity":                   "entities are not supported",
}

// droppedTypes are metadata rows needsbot records by itself.
var droppedTypes = map[string]string{
	"start": "needsbot records when an interview starts by itself",
	"end":   "needsbot records when an interview is completed by itself",
	"today": "needsbot records the interview's dates by itself",
}

// typeAliases normalise XLSForm's spellings.
var typeAliases = map[string]string{
	"begin group": "begin_group", "end group": "end_group", "begin repeat": "begin_repeat", "end repeat": "end_repeat",
	"select one": "select_one", "select multiple": "select_multiple", "int": "integer",
	"select one from file": "select_one_from_file", "select multiple from file": "select_multiple_from_file",
	"phone number": "phonenumber", "phone_number": "phonenumber", "add note prompt": "note", "note": "note",
	"datetime": "datetime", "start geopoint": "start-geopoint", "background audio": "background-audio",
	"select one external": "select_one_external", "select multiple external": "select_multiple_external",
	"begin_group": "begin_group", "end_group": "end_group",
	"select one from": "select_one", "select multiple from": "select_multiple",
	"select_one_from": "select_one", "select_multiple_from": "select_multiple",
}

// languageNames maps the English names XLSForms use without a code.
var languageNames = map[string]string{
	"english": "en", "italian": "it", "italiano": "it", "french": "fr", "français": "fr", "francais": "fr",
	"spanish": "es", "español": "es", "espanol": "es", "portuguese": "pt", "português": "pt", "arabic": "ar",
	"romanian": "ro", "albanian": "sq", "ukrainian": "uk", "russian": "ru", "chinese": "zh-Hans",
	"bengali": "bn", "bangla": "bn", "urdu": "ur", "punjabi": "pa", "hindi": "hi", "tagalog": "tl",
	"filipino": "tl", "german": "de", "swahili": "sw", "somali": "so", "tigrinya": "ti", "pashto": "ps",
	"dari": "fa-AF", "farsi": "fa", "persian": "fa", "turkish": "tr", "wolof": "wo", "hausa": "ha",
	"amharic": "am", "kurdish": "ku", "nepali": "ne", "burmese": "my", "polish": "pl", "dutch": "nl",
}

var codeInParens = regexp.MustCompile(`\(([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)\)\s*$`)

// langCode returns the BCP 47 code of an XLSForm language ("English (en)",
// "en", "English"), or "" when it cannot tell.
func langCode(s string) string {
	s = strings.TrimSpace(s)
	if m := codeInParens.FindStringSubmatch(s); m != nil {
		s = m[1]
	} else if c, ok := languageNames[strings.ToLower(s)]; ok {
		return c
	}
	s = strings.ReplaceAll(s, "_", "-")
	tag, err := language.Parse(s)
	if err != nil || tag == language.Und {
		return ""
	}
	// Keep the code as written (language.Tag.String would turn tl into
	// fil), with BCP 47 casing: zh-hans → zh-Hans, pt-br → pt-BR.
	parts := strings.Split(s, "-")
	for i, p := range parts {
		switch {
		case i == 0:
			parts[i] = strings.ToLower(p)
		case len(p) == 4:
			parts[i] = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
		case len(p) == 2:
			parts[i] = strings.ToUpper(p)
		default:
			parts[i] = strings.ToLower(p)
		}
	}
	return strings.Join(parts, "-")
}

// splitColumn splits "label::English (en)" (or "label:English (en)") into
// its base and language.
func splitColumn(col string) (base, lang string, translated bool) {
	if b, l, ok := strings.Cut(col, "::"); ok {
		return strings.TrimSpace(b), strings.TrimSpace(l), true
	}
	if b, l, ok := strings.Cut(col, ":"); ok && (b == "label" || b == "form_title" || b == "hint" || b == "constraint_message" || b == "required_message" || b == "guidance_hint") {
		return b, strings.TrimSpace(l), true
	}
	return col, "", false
}

// origin is where a row of the row model came from.
type origin struct {
	sheet string
	row   int
}

type importer struct {
	wb       *Workbook
	problems []Problem
	id       string
	defLang  string
	msgs     map[string]map[string]string
	descr    map[string]string
	sheets   dialog.Sheets
	origins  []origin // by row Line-1
	lists    []string // in order of appearance
	choices  map[string][]choiceRow
	fileList map[string]string // file → list name
	titleRow int
	// skipped are the names of refused survey rows; skippedGroup is set
	// when a begin or end of a group or repeat was refused.
	skipped      []string
	skippedGroup bool
}

type choiceRow struct {
	name   string
	row    int
	sheet  string
	filter [][2]string
}

func (im *importer) refuse(sheet string, row int, col, msg, suggestion string) {
	im.problems = append(im.problems, Problem{Sheet: sheet, Row: row, Column: col, Msg: msg, Suggestion: suggestion, Refused: true})
}

func (im *importer) note(sheet string, row int, col, msg string) {
	im.problems = append(im.problems, Problem{Sheet: sheet, Row: row, Column: col, Msg: msg})
}

// at returns the Line of a new row coming from o: its position in
// origins, so that the compiler's problems map back to sheet and row.
func (im *importer) at(o origin) int {
	im.origins = append(im.origins, o)
	return len(im.origins)
}

// newRow starts a survey row from o.
func (im *importer) newRow(o origin, typ string) {
	im.sheets.Survey = append(im.sheets.Survey, dialog.Row{Line: im.at(o), Cells: map[string]string{"type": typ}})
}

// set sets a column of the current survey row.
func (im *importer) set(col, v string) { im.sheets.Survey[len(im.sheets.Survey)-1].Set(col, v) }

func (im *importer) message(lang, id, text, descr string) {
	if im.msgs[lang] == nil {
		im.msgs[lang] = map[string]string{}
	}
	im.msgs[lang][id] = telegramText(text)
	if descr != "" {
		im.descr[id] = descr
	}
}

// telegramText escapes & and < that do not start an entity or one of
// Telegram's HTML tags, so that a workbook's text renders as written.
func telegramText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '&' && !entityRe.MatchString(s[i:]):
			b.WriteString("&amp;")
		case s[i] == '<' && !tagRe.MatchString(s[i:]):
			b.WriteString("&lt;")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Import converts a workbook. A workbook with anything needsbot cannot
// carry over is refused with a *RefusedError listing every problem (notes
// included); otherwise the result's Notes list what was ignored on purpose.
func Import(wb *Workbook) (*Result, error) {
	im := &importer{wb: wb, msgs: map[string]map[string]string{}, descr: map[string]string{}, choices: map[string][]choiceRow{}, fileList: map[string]string{}}
	for name, s := range wb.Sheets {
		switch name {
		case "survey", "choices", "settings":
		default:
			if len(s.Rows) > 0 {
				im.refuse(name, 0, "", "sheet "+name+" is not supported", "only survey, choices and settings are read; move external choices into choices with a choice_filter, or delete the sheet")
			}
		}
	}
	survey := wb.Sheets["survey"]
	if survey == nil || len(survey.Rows) == 0 {
		im.refuse("survey", 0, "", "no survey sheet with rows", "")
		return nil, im.refused()
	}
	im.settings()
	im.readChoices()
	im.surveyRows(survey)
	im.writeChoices()
	im.fillTitles()
	im.sheets.File = im.id + ".yaml"
	f, err := dialog.Compile(&im.sheets)
	var le *dialog.LoadError
	switch {
	case errors.As(err, &le):
		for _, p := range le.Problems {
			if im.followsRefusal(p.Msg) {
				continue // a consequence of a row already refused
			}
			o := origin{sheet: "survey"}
			if p.Line >= 1 && p.Line <= len(im.origins) {
				o = im.origins[p.Line-1]
			}
			if o.sheet == "" {
				o.sheet = "settings"
			}
			im.refuse(o.sheet, o.row, loaderColumn(p.Msg), p.Msg, "")
		}
		return nil, im.refused()
	case err != nil:
		return nil, err
	}
	if hasRefusal(im.problems) {
		return nil, im.refused()
	}
	return &Result{FormID: im.id, YAML: im.sheets.YAML(), Sheets: &im.sheets, Form: f, Messages: im.msgs, Descriptions: im.descr, Notes: im.problems}, nil
}

// followsRefusal reports whether a loader problem only follows from a row
// left out of the YAML because it was refused (a reference to it, its list).
func (im *importer) followsRefusal(msg string) bool {
	for _, name := range im.skipped {
		if strings.Contains(msg, "${"+name+"}") || strings.Contains(msg, "question \""+name+"\"") {
			return true
		}
	}
	if strings.HasPrefix(msg, "form id ") && !nameRe.MatchString(im.id) {
		return true // refused on the settings sheet already
	}
	return strings.Contains(msg, "end_group without begin_group") && im.skippedGroup ||
		strings.Contains(msg, "has no end_group") && im.skippedGroup
}

// loaderColumn guesses the column a loader problem is about from its
// message ("relevant: …", "name \"a-b\" must…", "list \"l\": choice name…").
func loaderColumn(msg string) string {
	if col, _, ok := strings.Cut(msg, ":"); ok && surveyColumns[col] {
		return col
	}
	switch {
	case strings.HasPrefix(msg, "name "), strings.Contains(msg, ": choice name "), strings.Contains(msg, "duplicate name"), strings.Contains(msg, "duplicate choice"):
		return "name"
	case strings.HasPrefix(msg, "range "):
		return "parameters"
	}
	return ""
}

func hasRefusal(ps []Problem) bool {
	for _, p := range ps {
		if p.Refused {
			return true
		}
	}
	return false
}

func (im *importer) refused() error {
	sort.SliceStable(im.problems, func(i, j int) bool {
		a, b := im.problems[i], im.problems[j]
		if a.Sheet != b.Sheet {
			if sheetOrder(a.Sheet) != sheetOrder(b.Sheet) {
				return sheetOrder(a.Sheet) < sheetOrder(b.Sheet)
			}
			return a.Sheet < b.Sheet
		}
		return a.Row < b.Row
	})
	return &RefusedError{File: im.wb.File, Problems: im.problems}
}

func sheetOrder(s string) int {
	switch s {
	case "settings":
		return 0
	case "survey":
		return 1
	case "choices":
		return 2
	}
	return 3
}

func (im *importer) settings() {
	s := im.wb.Sheets["settings"]
	var title, version, consent, eligible, audience, pairsWith string
	titles := map[string]string{}
	o := origin{sheet: "settings"}
	if s != nil && len(s.Rows) > 0 {
		r := s.Rows[0]
		o.row = r.Num
		for _, col := range sortedCells(r) {
			v := r.Get(col)
			switch col {
			case "form_id":
				im.id = v
			case "version":
				version = v
			case "form_title":
				title = v
			case "default_language":
				if im.defLang = langCode(v); im.defLang == "" {
					im.refuse("settings", r.Num, col, fmt.Sprintf("unknown language %q", v), `write it as "English (en)"`)
				}
			case "consent":
				consent = v
			case "eligible":
				eligible = v
			case dialog.SetAudience:
				audience = v
			case dialog.SetPairsWith:
				pairsWith = v
			default:
				if b, l, tr := splitColumn(col); tr && b == "form_title" {
					// needsbot's extension: the title in more languages.
					if code := langCode(l); code != "" {
						titles[code] = v
						continue
					}
				}
				im.note("settings", r.Num, col, "ignored: needsbot has no use for this setting")
			}
		}
		for _, r := range s.Rows[1:] {
			im.refuse("settings", r.Num, "", "only the first settings row is read", "delete the row")
		}
	}
	if im.id == "" {
		base := strings.TrimSuffix(path.Base(strings.ReplaceAll(im.wb.File, "\\", "/")), path.Ext(im.wb.File))
		im.id = sanitise(base)
		im.note("settings", 0, "form_id", fmt.Sprintf("no form_id: the form is called %q after the file", im.id))
	}
	if !nameRe.MatchString(im.id) {
		im.refuse("settings", o.row, "form_id", fmt.Sprintf("form id %q must be letters, digits and _", im.id), "e.g. "+sanitise(im.id))
	}
	if im.defLang == "" {
		im.defLang = "en"
	}
	v := 1
	if version != "" {
		n, err := strconv.Atoi(version)
		if err != nil || n <= 0 {
			im.refuse("settings", o.row, "version", fmt.Sprintf("version %q is not a positive integer", version), "needsbot numbers versions 1, 2, 3…; write one")
		}
		v = n
	}
	set := dialog.Row{Line: im.at(o)}
	set.Set(dialog.SetFormID, im.id)
	set.Set(dialog.SetVersion, strconv.Itoa(v))
	set.Set(dialog.SetDefaultLanguage, im.defLang)
	for col, val := range map[string]string{dialog.SetConsent: consent, dialog.SetEligible: eligible,
		dialog.SetAudience: audience, dialog.SetPairsWith: pairsWith} {
		if val != "" {
			set.Set(col, val)
		}
	}
	im.sheets.Settings = set
	if title == "" {
		title = titles[im.defLang] // form_title::<default language> only
	}
	if title == "" {
		title = im.id
	}
	im.message(im.defLang, "f."+im.id+".title", title, "Title of questionnaire "+im.id)
	for l, t := range titles {
		if l != im.defLang {
			im.message(l, "f."+im.id+".title", t, "")
		}
	}
	im.titleRow = o.row
}

// fillTitles gives the title to every language of the form that has no
// form_title::LANG of its own, in the default language, with a note.
func (im *importer) fillTitles() {
	id := "f." + im.id + ".title"
	title := im.msgs[im.defLang][id]
	for _, l := range sortedKeys(im.msgs) {
		if _, ok := im.msgs[l][id]; !ok {
			im.msgs[l][id] = title
			im.note("settings", im.titleRow, "form_title", fmt.Sprintf("no title in %s: the %s one is used; add a column form_title::%s", l, im.defLang, LanguageColumn(l)))
		}
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

func sanitise(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || out[0] >= '0' && out[0] <= '9' {
		out = "f_" + out
	}
	return out
}

func sortedCells(r Row) []string {
	cols := make([]string, 0, len(r.Cells))
	for c := range r.Cells {
		if strings.TrimSpace(r.Cells[c]) != "" {
			cols = append(cols, c)
		}
	}
	sort.Strings(cols)
	return cols
}

// texts collects a row's translated column base (label, hint…) by language.
func (im *importer) texts(sheet string, r Row, base string) map[string]string {
	out := map[string]string{}
	for _, col := range sortedCells(r) {
		b, l, tr := splitColumn(col)
		if b != base {
			continue
		}
		code := im.defLang
		if tr {
			if code = langCode(l); code == "" {
				im.refuse(sheet, r.Num, col, fmt.Sprintf("unknown language %q", l), `write the column as "`+base+`::English (en)"`)
				continue
			}
		}
		out[code] = r.Cells[col]
	}
	return out
}

func (im *importer) readChoices() {
	s := im.wb.Sheets["choices"]
	if s == nil {
		return
	}
	for _, r := range s.Rows {
		list := r.Get("list_name")
		if list == "" {
			list = r.Get("list name")
		}
		name := r.Get("name")
		if list == "" && name == "" {
			continue
		}
		if list == "" {
			im.refuse("choices", r.Num, "list_name", "a choice without a list_name", "")
			continue
		}
		c := choiceRow{name: name, row: r.Num, sheet: "choices"}
		for _, col := range sortedCells(r) {
			b, _, _ := splitColumn(col)
			switch {
			case col == "list_name" || col == "list name" || col == "name" || b == "label":
			case b == "media" || b == "image" || b == "audio" || b == "video" || b == "big-image":
				im.refuse("choices", r.Num, col, "media in choices are not supported", "delete the column")
			case strings.Contains(col, "::") || strings.HasPrefix(col, "(column"):
				im.refuse("choices", r.Num, col, "column not supported", "delete the column")
			default:
				c.filter = append(c.filter, [2]string{col, r.Get(col)})
			}
		}
		if _, seen := im.choices[list]; !seen {
			im.lists = append(im.lists, list)
		}
		im.choices[list] = append(im.choices[list], c)
		if im.id != "" {
			for l, t := range im.texts("choices", r, "label") {
				im.message(l, "c."+im.id+"."+list+"."+name, t, fmt.Sprintf("Choice %s of list %s (questionnaire %s), shown on a button", name, list, im.id))
			}
		}
	}
}

// fromFile reads a select_one_from_file CSV into a choice list.
func (im *importer) fromFile(r Row, file string) string {
	if l, ok := im.fileList[file]; ok {
		return l
	}
	if strings.ToLower(path.Ext(file)) != ".csv" {
		im.refuse("survey", r.Num, "type", "choices from "+file+" are not supported", "use a .csv file with name and label columns, or the choices sheet")
		return ""
	}
	src, err := im.wb.Files(file)
	if err != nil {
		im.refuse("survey", r.Num, "type", fmt.Sprintf("cannot read %s: %v", file, err), "put the CSV beside the workbook")
		return ""
	}
	grid, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(src, []byte("\ufeff")))).ReadAll()
	if err != nil {
		im.refuse("survey", r.Num, "type", fmt.Sprintf("%s: %v", file, err), "")
		return ""
	}
	sub := &Workbook{Sheets: map[string]*Sheet{}}
	sub.add(file, grid, 1)
	s := sub.Sheets[strings.ToLower(file)]
	list := sanitise(strings.TrimSuffix(file, path.Ext(file)))
	for _, taken := im.choices[list]; taken; _, taken = im.choices[list] {
		list += "_file"
	}
	im.fileList[file] = list
	im.lists = append(im.lists, list)
	im.choices[list] = []choiceRow{}
	for _, cr := range s.Rows {
		c := choiceRow{name: cr.Get("name"), row: cr.Num, sheet: file}
		for _, col := range sortedCells(cr) {
			if b, _, _ := splitColumn(col); col != "name" && b != "label" {
				c.filter = append(c.filter, [2]string{col, cr.Get(col)})
			}
		}
		im.choices[list] = append(im.choices[list], c)
		for l, t := range im.texts(file, cr, "label") {
			im.message(l, "c."+im.id+"."+list+"."+c.name, t, fmt.Sprintf("Choice %s of list %s (questionnaire %s, from %s), shown on a button", c.name, list, im.id, file))
		}
	}
	return list
}

func (im *importer) surveyRows(s *Sheet) {
	for _, r := range s.Rows {
		im.surveyRow(r)
	}
}

func yesNo(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "no", "false", "false()", "0", "n":
		return false, true
	case "yes", "true", "true()", "1", "y":
		return true, true
	}
	return false, false
}

func (im *importer) surveyRow(r Row) {
	n := len(im.sheets.Survey)
	defer func() {
		if len(im.sheets.Survey) == n { // the row wrote nothing: left out
			if name := r.Get("name"); name != "" {
				im.skipped = append(im.skipped, name)
			}
			if t := strings.ToLower(r.Get("type")); strings.Contains(t, "group") || strings.Contains(t, "repeat") {
				im.skippedGroup = true
			}
		}
	}()
	o := origin{sheet: "survey", row: r.Num}
	raw := strings.Join(strings.Fields(strings.ToLower(r.Get("type"))), " ")
	typ, arg, _ := strings.Cut(raw, " ")
	if a, ok := typeAliases[raw]; ok {
		typ, arg = a, ""
	} else if f := strings.Fields(raw); len(f) >= 3 {
		// "select one LIST", "select one from file X.csv"
		for n := len(f) - 1; n >= 2; n-- {
			if a, ok := typeAliases[strings.Join(f[:n], " ")]; ok {
				typ, arg = a, strings.Join(f[n:], " ")
				break
			}
		}
	}
	if a, ok := typeAliases[typ]; ok {
		typ = a
	}
	// Keep the list name's case.
	if arg != "" {
		orig := strings.Fields(r.Get("type"))
		n := len(strings.Fields(arg))
		arg = strings.Join(orig[len(orig)-n:], " ")
		if f := strings.Fields(arg); len(f) == 2 && strings.EqualFold(f[1], "or_other") {
			im.refuse("survey", r.Num, "type", "or_other is not supported", "add an 'other' choice and a text question relevant on selected(${q}, 'other')")
			return
		} else if len(f) > 1 {
			im.refuse("survey", r.Num, "type", fmt.Sprintf("type %q has extra words", r.Get("type")), "write TYPE LIST")
			return
		}
	}
	if typ == "" {
		if len(sortedCells(r)) > 0 {
			im.refuse("survey", r.Num, "type", "a row without a type", "give it a type or delete it")
		}
		return
	}
	if why, ok := droppedTypes[typ]; ok {
		im.note("survey", r.Num, "type", fmt.Sprintf("row %q of type %s left out: %s", r.Get("name"), typ, why))
		return
	}
	if why, ok := refusedTypes[typ]; ok {
		im.refuse("survey", r.Num, "type", "type "+typ+" is not supported", why)
		return
	}
	switch typ {
	case "select_one_from_file", "select_multiple_from_file":
		list := im.fromFile(r, arg)
		if list == "" {
			return
		}
		typ, arg = strings.TrimSuffix(typ, "_from_file"), list
	case "begin_group", "end_group", "note", "acknowledge", "select_one", "select_multiple", "text",
		"integer", "decimal", "range", "date", "calculate", "hidden":
	default:
		im.refuse("survey", r.Num, "type", "unknown type "+strings.TrimSpace(typ+" "+arg), "see docs/xlsform.md for the supported types")
		return
	}
	name := r.Get("name")
	if typ == "end_group" {
		im.newRow(o, "end_group")
		return
	}
	t := typ
	if arg != "" {
		t += " " + arg
	}
	im.newRow(o, t)
	im.set("name", name)
	textName := name
	for _, col := range sortedCells(r) {
		b, _, _ := splitColumn(col)
		if !surveyColumns[b] {
			switch {
			case strings.HasPrefix(col, "$"):
				im.note("survey", r.Num, col, "ignored: a KoboToolbox bookkeeping column")
			case b == "media" || b == "image" || b == "audio" || b == "video":
				im.refuse("survey", r.Num, col, "media are not supported", "delete the column")
			case col == "repeat_count":
				im.refuse("survey", r.Num, col, "repeats are not supported", "")
			case col == "read_only":
				if ro, ok := yesNo(r.Get(col)); ok && !ro {
					continue
				}
				im.refuse("survey", r.Num, col, "read_only is not supported", "use a note, or a calculate row")
			default:
				im.refuse("survey", r.Num, col, "column "+col+" is not supported", "needsbot has no equivalent; empty or delete the column")
			}
			continue
		}
		v := r.Get(col)
		switch b {
		case "required":
			req, ok := yesNo(v)
			if !ok {
				im.refuse("survey", r.Num, col, fmt.Sprintf("required must be yes or no, not %q", v), "needsbot has no conditional required; split the question with relevant")
			} else if req {
				im.set("required", "yes")
			}
		case "relevant", "constraint", "choice_filter", "calculation", "default", "appearance", "parameters", "label_choice", "report", "area", "context":
			im.set(b, v)
		case "label_id":
			im.set("label_id", v)
			textName = v
		case "max_length":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				im.refuse("survey", r.Num, col, fmt.Sprintf("max_length must be a positive integer, not %q", v), "")
				continue
			}
			im.set("max_length", strconv.Itoa(n))
		case "required_message":
			im.note("survey", r.Num, col, "ignored: needsbot re-asks a required question with its own message")
		case "guidance_hint":
			im.note("survey", r.Num, col, "ignored: guidance hints are for enumerators; put respondent help in hint")
		}
	}
	kind := "Question"
	id := "q." + im.id + "." + textName
	switch typ {
	case "begin_group":
		kind, id = "Section heading", "g."+im.id+"."+name
	case "note":
		kind = "Note"
	}
	labels := im.texts("survey", r, "label")
	for l, t := range labels {
		if refInTextRe.MatchString(t) {
			im.refuse("survey", r.Num, "label", "a label that inserts an answer (${…}) is not supported", "write the text without it, or use label_choice to name an earlier choice")
		}
		im.message(l, id, t, fmt.Sprintf("%s %s of questionnaire %s", kind, name, im.id))
	}
	if len(labels) > 0 && (typ == "calculate" || typ == "hidden") {
		im.set("label", "yes")
	}
	if typ == "begin_group" {
		return
	}
	for _, x := range []struct{ base, suffix, key, what string }{
		{"hint", ".hint", "hint", "Hint under question"},
		{"constraint_message", ".constraint", "constraint_message", "Error shown when the answer breaks the rule of question"},
		{"summary", ".summary", "summary", "Short label before the answers of question"},
	} {
		ts := im.texts("survey", r, x.base)
		for l, t := range ts {
			im.message(l, id+x.suffix, t, fmt.Sprintf("%s %s of questionnaire %s", x.what, name, im.id))
		}
		if len(ts) > 0 {
			im.set(x.key, "yes")
		}
	}
}

func (im *importer) writeChoices() {
	for _, list := range im.lists {
		for _, c := range im.choices[list] {
			r := dialog.Row{Line: im.at(origin{sheet: c.sheet, row: c.row})}
			r.Set(dialog.ChoiceListName, list)
			r.Set(dialog.ChoiceName, c.name)
			for _, kv := range c.filter {
				r.Set(kv[0], kv[1])
			}
			im.sheets.Choices = append(im.sheets.Choices, r)
		}
	}
}

// CompleteLanguages splits the result's languages into those with every
// message the form uses (it can be published for them) and the others,
// each sorted.
func (r *Result) CompleteLanguages() (complete, incomplete []string) {
	ids := r.Form.MessageIDs()
	for _, l := range r.Languages() {
		ok := true
		for _, id := range ids {
			if _, has := r.Messages[l][id]; !has {
				ok = false
				break
			}
		}
		if ok {
			complete = append(complete, l)
		} else {
			incomplete = append(incomplete, l)
		}
	}
	return complete, incomplete
}
