package staff

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/needsbot/needsbot/bot"
	"github.com/needsbot/needsbot/dialog/xlsform"
	"github.com/needsbot/needsbot/internal/tghtml"
	"github.com/needsbot/needsbot/menu"
	"github.com/needsbot/needsbot/org"
)

// Publishing a questionnaire through the bot (issue 13): an admin sends an
// XLSForm workbook as a document; the bot answers with the lint report, or
// with a preview (what will be published, and a short walk in two
// languages) and Publish / Cancel buttons. Callback data holds 64 bytes,
// so the workbook waits server-side under a random key until it expires;
// Publish prepares the very same bytes again, re-checks the role, and
// publishes them once (a second tap is told it was done).

// Upload is a workbook waiting for Publish.
type Upload struct {
	Key       string
	StaffID   int64  // who sent it: only they may publish it
	Name      string // the file's name (a workbook without form_id is named after it)
	Workbook  []byte
	ExpiresAt time.Time
	// Published is set once it was published, as Form version Version.
	Published bool
	Form      string
	Version   int
}

// FormPublisher keeps the workbooks sent to the bot and publishes them
// (cmd: Postgres, then the running bot's form library). Errors are org's:
// ErrNotFound (no such key, or expired), ErrUsed (this upload was already
// published: the Upload says as what), ErrExists (that version of the
// form is already published).
type FormPublisher interface {
	SaveUpload(ctx context.Context, u Upload) error
	Upload(ctx context.Context, key string, now time.Time) (Upload, error)
	// Publish publishes p, prepared from the upload under key, by staff
	// member actor (audit-logged), and makes it live in this process.
	Publish(ctx context.Context, key string, now time.Time, actor int64, p *xlsform.Publication) (Upload, error)
}

const (
	// uploadTTL is how long a preview's Publish button works.
	uploadTTL = time.Hour
	// previewQuestions bounds each language's walk in the preview.
	previewQuestions = 8
	// maxText is Telegram's limit on a message's text.
	maxText = 4096
	// uploadKeyBytes of randomness make a key (22 characters base64url).
	uploadKeyBytes = 16
	// maxNotes of the import's notes are shown in a preview.
	maxNotes = 5
	// verbPublish is the Publish button's verb (route menu.Forms).
	verbPublish = "p"
)

// formsOn reports whether publishing through the bot is configured.
func (h *Handler) formsOn() bool { return h.cfg.Publisher != nil }

// Document takes a document sent in a private chat: an admin's workbook.
// Anybody else's document is not handled (they get the usual answer to
// media).
func (h *Handler) Document(ctx context.Context, r *bot.Request, fileID, name string) (bool, error) {
	if !h.formsOn() {
		return false, nil
	}
	w, ok, err := h.who(ctx, r.User, level(org.RoleAdmin))
	if err != nil || !ok {
		return false, err
	}
	if ext := strings.ToLower(path.Ext(name)); ext != ".xlsx" {
		h.send(ctx, r, bot.Message{Text: h.text(r, msgFormNotXLSX, nil)})
		return true, nil
	}
	// Downloading and importing take a while: staff work runs on its own
	// queue, off the respondents' path, once per update.
	staffID := w.m.ID
	name = truncateRunes(name, 200) // kept with the upload
	return true, h.long(ctx, r, "workbook", func(ctx context.Context) error {
		return h.previewWorkbook(ctx, r, staffID, fileID, name)
	})
}

// previewWorkbook downloads a workbook and answers with its lint report,
// or keeps it and answers with the preview.
func (h *Handler) previewWorkbook(ctx context.Context, r *bot.Request, staffID int64, fileID, name string) error {
	data, err := r.Sender.Download(ctx, fileID)
	if errors.Is(err, bot.ErrTooLarge) {
		h.send(ctx, r, bot.Message{Text: h.text(r, msgFormTooBig, map[string]any{"MB": bot.MaxDownload >> 20})})
		return nil
	}
	if err != nil {
		return h.fail(ctx, r, fmt.Errorf("staff: workbook download: %w", err))
	}
	p, msg := h.prepare(r, name, data)
	if p == nil {
		h.send(ctx, r, msg)
		return nil
	}
	if h.shipped(p.Result.FormID) {
		h.send(ctx, r, bot.Message{Text: h.text(r, msgFormShipped, map[string]any{"Form": p.Result.FormID})})
		return nil
	}
	if latest := h.latestVersion(p.Result.FormID); latest >= p.Result.Form.Version {
		h.send(ctx, r, bot.Message{Text: h.text(r, msgFormVersionTaken, map[string]any{
			"Form": p.Result.FormID, "Version": p.Result.Form.Version, "Latest": latest})})
		return nil
	}
	key, err := h.uploadKey()
	if err != nil {
		return h.fail(ctx, r, err)
	}
	if err := h.cfg.Publisher.SaveUpload(ctx, Upload{Key: key, StaffID: staffID, Name: name, Workbook: data, ExpiresAt: h.cfg.Now().Add(uploadTTL)}); err != nil {
		return h.fail(ctx, r, fmt.Errorf("staff: save workbook: %w", err))
	}
	h.log.Info("workbook previewed", "staff_id", staffID, "form", p.Result.FormID, "version", p.Result.Form.Version)
	h.send(ctx, r, h.preview(r, p, key))
	return nil
}

// prepare reads and imports a workbook: the publication, or (nil and) the
// message saying why it cannot be published.
func (h *Handler) prepare(r *bot.Request, name string, data []byte) (*xlsform.Publication, bot.Message) {
	wb, err := xlsform.ReadXLSX(bytes.NewReader(data))
	if err != nil {
		return nil, bot.Message{Text: h.text(r, msgFormUnreadable, nil)}
	}
	wb.File = name
	p, err := xlsform.Prepare(wb)
	var re *xlsform.RefusedError
	switch {
	case errors.As(err, &re):
		return nil, bot.Message{Text: h.lintReport(r, name, re.Problems)}
	case err != nil:
		// Prepare's other refusal: the default language lacks messages.
		return nil, bot.Message{Text: h.text(r, msgFormRefused, map[string]any{"File": name, "Reason": err.Error()})}
	}
	return p, bot.Message{}
}

// lintReport lists each problem with its sheet, row, column and
// suggestion, cut to Telegram's 4096 characters with a count of the rest.
func (h *Handler) lintReport(r *bot.Request, name string, problems []xlsform.Problem) string {
	var refused []xlsform.Problem
	for _, p := range problems {
		if p.Refused {
			refused = append(refused, p)
		}
	}
	if len(refused) == 0 {
		refused = problems
	}
	head := h.text(r, msgFormLintTitle, map[string]any{"File": name, "Count": len(refused)})
	lines := make([]string, len(refused))
	for i, p := range refused {
		lines[i] = "• " + html.EscapeString(p.String())
	}
	return fitLines(head, lines, func(rest int) string {
		return h.text(r, msgFormLintMore, map[string]any{"Count": rest})
	})
}

// fitLines joins head and lines, one per line, within maxText characters
// (runes, as Telegram counts after entities are parsed; the HTML escapes
// only make the estimate safer): the lines that do not fit are replaced by
// more(number left out).
func fitLines(head string, lines []string, more func(rest int) string) string {
	var b strings.Builder
	b.WriteString(head)
	for i, ln := range lines {
		tail := ""
		if i < len(lines)-1 {
			tail = "\n" + more(len(lines)-i-1)
		}
		if runes(b.String())+1+runes(ln)+runes(tail) > maxText {
			b.WriteString("\n" + more(len(lines)-i))
			return b.String()
		}
		b.WriteString("\n" + ln)
	}
	return b.String()
}

func runes(s string) int { return len([]rune(s)) }

// truncateRunes cuts s to n runes, with an ellipsis.
func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// preview says what will be published (form, version, languages, those
// left out and why, what the import left out on purpose) and shows a walk
// in the default language and one more, with Publish and Cancel.
func (h *Handler) preview(r *bot.Request, p *xlsform.Publication, key string) bot.Message {
	res := p.Result
	def := res.Form.Language
	var b strings.Builder
	b.WriteString(h.text(r, msgFormPreview, map[string]any{
		"Title": tghtml.Plain(res.Messages[def][res.Form.Title]), "Form": res.FormID,
		"Version": res.Form.Version, "Languages": strings.Join(p.Complete, ", ")}))
	if latest := h.latestVersion(res.FormID); latest > 0 {
		b.WriteString("\n" + h.text(r, msgFormReplaces, map[string]any{"Latest": latest}))
	}
	if len(p.Incomplete) > 0 {
		missing := missingMessages(p)
		out := make([]string, len(p.Incomplete))
		for i, l := range p.Incomplete {
			out[i] = h.plain(r, msgFormMissingN, map[string]any{"Language": l, "Count": missing[l]})
		}
		b.WriteString("\n" + h.text(r, msgFormLeftOut, map[string]any{"Languages": strings.Join(out, ", ")}))
	}
	if notes := res.Notes; len(notes) > 0 {
		// What the import left out on purpose: nothing silently dropped.
		lines := make([]string, 0, maxNotes)
		for _, n := range notes[:min(len(notes), maxNotes)] {
			lines = append(lines, "• "+html.EscapeString(truncateRunes(n.String(), 200)))
		}
		b.WriteString("\n\n" + h.text(r, msgFormNotes, map[string]any{"Count": len(notes)}) + "\n" + strings.Join(lines, "\n"))
		if len(notes) > maxNotes {
			b.WriteString("\n" + h.text(r, msgFormLintMore, map[string]any{"Count": len(notes) - maxNotes}))
		}
	}
	langs := []string{def}
	for _, l := range p.Complete {
		if l != def {
			langs = append(langs, l)
			break
		}
	}
	for _, l := range langs {
		b.WriteString("\n\n" + h.text(r, msgFormWalk, map[string]any{"Language": l}) + "\n")
		b.WriteString("<blockquote>" + html.EscapeString(strings.TrimRight(p.Preview(l, previewQuestions), "\n")) + "</blockquote>")
	}
	confirm := "\n\n" + h.text(r, msgFormConfirm, nil)
	text := b.String()
	if runes(text)+runes(confirm) > maxText {
		// Long labels: drop the walks rather than the buttons' meaning.
		text = text[:strings.Index(text, "\n\n")]
	}
	return bot.Message{Text: text + confirm, Keyboard: [][]bot.Key{{
		h.key(h.plain(r, btnPublish, nil), menu.Forms, new(menu.Enc).Code(verbPublish).Code(key).String()),
		h.cancelKey(r),
	}}}
}

// missingMessages counts, per incomplete language, the form's messages it
// lacks.
func missingMessages(p *xlsform.Publication) map[string]int {
	ids := p.Result.Form.MessageIDs()
	out := map[string]int{}
	for _, l := range p.Incomplete {
		for _, id := range ids {
			if _, ok := p.Result.Messages[l][id]; !ok {
				out[l]++
			}
		}
	}
	return out
}

// latestVersion is the newest version of form the bot runs (0: none).
func (h *Handler) latestVersion(form string) int {
	if h.cfg.FormVersion == nil {
		return 0
	}
	return h.cfg.FormVersion(form)
}

// shipped reports whether form is a questionnaire shipped with the bot:
// a workbook must not replace or change it.
func (h *Handler) shipped(form string) bool {
	return h.cfg.Shipped != nil && h.cfg.Shipped(form)
}

func (h *Handler) uploadKey() (string, error) {
	b := make([]byte, uploadKeyBytes)
	if _, err := io.ReadFull(h.rand, b); err != nil {
		return "", fmt.Errorf("staff: upload key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// validKey reports whether s can be an upload key (forged data is stale).
func validKey(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(uploadKeyBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// formsCallback is the Publish button (route Forms, payload: verb "p" and
// the upload's key, through menu's codec).
// The dispatcher has re-checked that the member is still an admin; the
// upload must be theirs.
func (h *Handler) formsCallback(ctx context.Context, r *bot.Request, w who, payload string, msgID int, queryID string) (bool, error) {
	d := menu.NewDec(payload, 2)
	verb, key := d.Code(), d.Code()
	if d.Err() != nil || verb != verbPublish || !validKey(key) {
		return false, nil
	}
	now := h.cfg.Now()
	u, err := h.cfg.Publisher.Upload(ctx, key, now)
	switch {
	case errors.Is(err, org.ErrNotFound):
		h.answer(ctx, r, queryID, h.plain(r, msgFormExpired, nil))
		h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgFormExpired, nil)})
		return true, nil
	case err != nil:
		return true, h.fail(ctx, r, fmt.Errorf("staff: load workbook: %w", err))
	case u.StaffID != w.m.ID:
		return false, nil // another admin's preview: stale to them
	case u.Published:
		h.answer(ctx, r, queryID, h.plain(r, msgFormAlready, map[string]any{"Form": u.Form, "Version": u.Version}))
		return true, nil
	}
	p, msg := h.prepare(r, u.Name, u.Workbook)
	if p == nil {
		// The same bytes prepared fine at the preview; only a changed
		// importer gets here.
		h.answer(ctx, r, queryID, "")
		h.edit(ctx, r, msgID, msg)
		return true, nil
	}
	if h.shipped(p.Result.FormID) {
		// Refused at the preview; only a changed forms directory gets here.
		h.answer(ctx, r, queryID, "")
		h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgFormShipped, map[string]any{"Form": p.Result.FormID})})
		return true, nil
	}
	u, err = h.cfg.Publisher.Publish(ctx, key, now, w.m.ID, p)
	switch {
	case errors.Is(err, org.ErrUsed):
		h.answer(ctx, r, queryID, h.plain(r, msgFormAlready, map[string]any{"Form": u.Form, "Version": u.Version}))
		return true, nil
	case errors.Is(err, org.ErrNotFound):
		h.answer(ctx, r, queryID, h.plain(r, msgFormExpired, nil))
		h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgFormExpired, nil)})
		return true, nil
	case errors.Is(err, org.ErrExists):
		h.answer(ctx, r, queryID, "")
		h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgFormVersionTaken, map[string]any{
			"Form": p.Result.FormID, "Version": p.Result.Form.Version, "Latest": max(p.Result.Form.Version, h.latestVersion(p.Result.FormID))})})
		return true, nil
	case err != nil:
		h.answer(ctx, r, queryID, "")
		return true, h.fail(ctx, r, fmt.Errorf("staff: publish workbook: %w", err))
	}
	h.log.Info("form published through the bot", "staff_id", w.m.ID, "form", u.Form, "version", u.Version)
	h.answer(ctx, r, queryID, "")
	langs := slices.Clone(p.Complete)
	h.edit(ctx, r, msgID, bot.Message{Text: h.text(r, msgFormPublished, map[string]any{
		"Form": u.Form, "Version": u.Version, "Languages": strings.Join(langs, ", ")})})
	return true, nil
}
