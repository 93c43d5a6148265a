//go:build !prod

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/storage/storagetest"
)

// chromium returns the browser for the browser test: missing, it skips
// the test, or fails it under CI=true (.ci/run installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is required under CI=true (apt-get install chromium)")
	}
	t.Skip("no Chromium: apt-get install chromium to run the browser test")
	return ""
}

// browser starts a headless Chromium with a fresh profile that makes no
// network requests of its own.
func browser(ctx context.Context, t *testing.T) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("lang", "en-US"),
	)
	t.Cleanup(cancelAlloc)
	bctx, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	return bctx
}

// screenDOM reads the chat from the page as a person sees it.
const screenDOM = `[...document.querySelectorAll('#messages .msg')].map(m => {
	const t = m.querySelector('.text');
	let text = '';
	if (t) { const c = t.cloneNode(true); c.querySelector('.meta')?.remove(); text = c.textContent; }
	return {ID: +m.dataset.id, FromBot: m.classList.contains('in'), Text: text,
		Labels: [...m.querySelectorAll('.kb-row')].map(r => [...r.children].map(b => b.dataset.label))};
})`

// TestTryBrowserInterview opens `needsbot try`'s web chat in headless
// Chromium and does what a respondent does on their phone: sets the
// phone's language, presses START on the invite, picks English, consents,
// answers every question by tapping buttons, types a comment. Then it
// checks the response in Postgres, switches persona and back, and takes
// screenshots of the page (phone and desktop).
func TestTryBrowserInterview(t *testing.T) {
	if testing.Short() {
		t.Skip("a complete interview at Telegram's pace takes about 40 s")
	}
	t.Parallel()
	dsn := storagetest.Postgres(t)
	_, prefix := storagetest.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), slow(3*time.Minute))
	defer cancel()
	bctx := browser(ctx, t)
	r := startTry(t, map[string]string{
		"NEEDSBOT_DATABASE_URL": dsn, "NEEDSBOT_REDIS_URL": storagetest.RedisURL(), "NEEDSBOT_REDIS_PREFIX": prefix,
	}, nil)
	if !strings.Contains(r.out.String(), "(--redis-url)") || !strings.Contains(r.out.String(), "(--database-url)") {
		t.Fatalf("try did not use the test's Redis and Postgres:\n%s", r.out)
	}

	// The page's state for waiting: mark remembers the chat version the
	// page shows; idle waits until it shows a later one with every update
	// handled by the bot.
	before := ""
	mark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Evaluate[string](`document.body.dataset.version`)(ctx, tg)
		before = v
		return err
	})
	idle := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		ctx, cancel := context.WithTimeout(ctx, slow(30*time.Second))
		defer cancel()
		js := fmt.Sprintf(`document.body.dataset.pending === "0" && document.body.dataset.version !== "" && document.body.dataset.version !== %q`, before)
		if _, err := chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond))(ctx, tg); err != nil {
			return fmt.Errorf("the page did not show the bot's answer: %w", err)
		}
		return pageShowsIdleBot(ctx, t, tg, r.url)
	})
	eval := func(js string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](js) }
	// Everything the page writes to the console: a script error or a
	// request the Content-Security-Policy refused fails the test.
	var consoleMu sync.Mutex
	var console []string
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				consoleMu.Lock()
				console = append(console, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				consoleMu.Unlock()
			}
		}
	}()
	checkConsole := func() {
		t.Helper()
		consoleMu.Lock()
		defer consoleMu.Unlock()
		if len(console) > 0 {
			t.Errorf("the page logged errors:\n%s", strings.Join(console, "\n"))
		}
	}
	start := time.Now()
	err := chromedp.Do(bctx,
		chromedp.EmulateViewport(412, 860, chromedp.EmulateScale(2)),
		chromedp.Navigate(r.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#start`)),
		// Count the times "typing…" shows while the bot handles an update.
		eval(`new MutationObserver(() => {
			if (!document.querySelector('#typing').hidden && document.querySelector('#status').classList.contains('busy')) window.sawTyping = (window.sawTyping || 0) + 1;
		}).observe(document.querySelector('#typing'), {attributes: true})`),
		// The phone is set to Italian: the bot suggests Italian first.
		eval(`(s => { s.value = "it"; s.dispatchEvent(new Event("change")); })(document.querySelector("#lang"))`),
	)
	if err != nil {
		t.Fatalf("opening the page: %v\n%s", err, r.err)
	}
	dir := os.Getenv("NEEDSBOT_TEST_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	screenshot(t, bctx, filepath.Join(dir, "try-start.png"), chromedp.Sleep(100*time.Millisecond))
	if err := chromedp.Do(bctx, mark, chromedp.Click(chromedp.CSS(`#start`), chromedp.NodeVisible), idle); err != nil {
		t.Fatalf("START: %v\n%s", err, r.err)
	}
	user, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.dataset.user`))
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseInt(user, 10, 64)

	const comment = "Più corsi di sera, per favore — شكرا"
	tapped := map[int]bool{}
	steps := 0
	for ; ; steps++ {
		if steps > 90 {
			t.Fatal("the interview did not end in 90 steps")
		}
		msgs, err := chromedp.Run(bctx, chromedp.Evaluate[[]shown](screenDOM))
		if err != nil {
			t.Fatal(err)
		}
		if steps == 0 && (len(msgs) < 2 || len(msgs[1].Labels) == 0 || msgs[1].Labels[0][0] != "Italiano") {
			t.Fatalf("the language picker does not put the phone's language first: %+v", msgs)
		}
		m, err := nextMove(msgs, "English", comment, tapped)
		if err != nil {
			t.Fatal(err)
		}
		if m.done {
			break
		}
		if steps == 4 { // a question with its buttons
			screenshot(t, bctx, filepath.Join(dir, "try-question.png"), chromedp.Sleep(0))
		}
		var act chromedp.Action[chromedp.Void]
		if m.text != "" {
			act = chromedp.Steps(
				chromedp.SendKeys(chromedp.CSS(`#input`), m.text, chromedp.NodeVisible),
				chromedp.Click(chromedp.CSS(`#send`), chromedp.NodeVisible),
			)
		} else {
			sel := fmt.Sprintf(`#messages .msg[data-id="%d"] .kb-row:nth-child(%d) > :nth-child(%d)`, m.msg, m.row+1, m.col+1)
			act = chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)
		}
		if err := chromedp.Do(bctx, mark, act, idle); err != nil {
			t.Fatalf("step %d (%+v): %v", steps, m, err)
		}
	}
	t.Logf("interview of %d steps done in the browser in %v", steps, time.Since(start).Round(time.Millisecond))
	checkStoredResponse(t, dsn, uid, "en", comment)

	// What the page shows: the typed comment as the user's, every text
	// direction-aware, no keyboard left to tap.
	shownComment, err := chromedp.Run(bctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#messages .msg.out .text')].pop().firstChild.textContent`))
	if err != nil {
		t.Fatal(err)
	}
	noAutoDir, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#messages .text:not([dir=auto])').length`))
	if err != nil {
		t.Fatal(err)
	}
	keyboards, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#messages .kb button').length`))
	if err != nil {
		t.Fatal(err)
	}
	typing, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.sawTyping || 0`))
	if err != nil {
		t.Fatal(err)
	}
	if shownComment != comment || noAutoDir != 0 || keyboards != 0 || typing < steps/2 {
		t.Fatalf("page: comment %q, %d texts without dir=auto, %d buttons left, typing shown %d times in %d steps",
			shownComment, noAutoDir, keyboards, typing, steps)
	}
	t.Logf("typing… shown %d times in %d steps", typing, steps)
	phone := screenshot(t, bctx, filepath.Join(dir, "try-phone.png"),
		eval(`document.querySelector('#chat').scrollTop = document.querySelector('#chat').scrollHeight`))

	// The persona switch: the manager has a chat of their own…
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`.persona[data-persona="manager"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`body[data-persona="manager"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#chips button`)),
		chromedp.Poll[chromedp.Void](`document.body.dataset.version !== ""`),
		mark,
		chromedp.Click(chromedp.CSS(`#chips button`), chromedp.NodeVisible), // /results
		idle,
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('#messages .msg.in').length > 0`, chromedp.WithPollingTimeout(slow(20*time.Second))),
	)
	if err != nil {
		t.Fatalf("manager: %v", err)
	}
	// …and the respondent's interview is still there after switching back.
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`.persona[data-persona="respondent"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`body[data-persona="respondent"]`)),
		// One live card became the closing words and the summary.
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#messages .msg.in')].some(m => m.textContent.includes('Your answers'))`, chromedp.WithPollingTimeout(slow(10*time.Second))),
	)
	if err != nil {
		t.Fatalf("back to the respondent: %v", err)
	}
	desktop := screenshot(t, bctx, filepath.Join(dir, "try-desktop.png"), chromedp.EmulateViewport(1280, 900))
	t.Logf("screenshots in %s: phone %dx%d, desktop %dx%d", dir, phone.Dx(), phone.Dy(), desktop.Dx(), desktop.Dy())

	// The operator makes an invite (the first choice at every step) and
	// taps its t.me link: the page opens it as a new respondent, as
	// scanning the poster with another phone would.
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`.persona[data-persona="operator"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`body[data-persona="operator"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#chips button`)),
		chromedp.Poll[chromedp.Void](`document.body.dataset.version !== ""`),
		mark,
		chromedp.Click(chromedp.CSS(`#chips button`), chromedp.NodeVisible), // /invite
		idle,
	)
	if err != nil {
		t.Fatalf("operator: %v", err)
	}
	const link = `#messages .msg.in a[href^="https://t.me/needsbot_try_bot?start="]`
	for i := 0; ; i++ {
		found, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`!!document.querySelector('`+link+`')`))
		if err != nil {
			t.Fatal(err)
		}
		if found {
			break
		}
		if i == 8 {
			t.Fatal("no invite link after 8 taps of /invite's first choices")
		}
		// The first choice of each step; the label step's first button
		// ("✍️ Reply to this message") asks for typing, so the next one.
		if err := chromedp.Do(bctx, mark); err != nil {
			t.Fatalf("invite step %d: %v", i, err)
		}
		tapped, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => {
			const b = [...document.querySelectorAll('#messages .msg:last-child .kb-row > *')]
				.find(x => !x.textContent.trim().startsWith('✍'));
			if (b) b.click();
			return !!b;
		})()`))
		if err == nil && !tapped {
			t.Fatalf("invite step %d: no button to tap", i)
		}
		if err == nil {
			err = chromedp.Do(bctx, idle)
		}
		if err != nil {
			t.Fatalf("invite step %d: %v", i, err)
		}
	}
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(link), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`body[data-persona="respondent"]`)),
		chromedp.Poll[chromedp.Void](`document.body.dataset.user !== "`+user+`" && document.querySelectorAll('#messages .msg.in .kb button').length > 0`,
			chromedp.WithPollingTimeout(slow(20*time.Second))),
	)
	if err != nil {
		t.Fatalf("opening the invite link: %v", err)
	}
	started, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(t => { const c = t.cloneNode(true); c.querySelector('.meta').remove(); return c.textContent; })(document.querySelector('#messages .msg.out .text'))`))
	// The link's START reads "/start" as in Telegram (the invite travels
	// to the bot, not into the bubble).
	if err != nil || started != "/start" {
		t.Fatalf("the new respondent's first bubble: %q %v", started, err)
	}
	t.Logf("browser test done in %v", time.Since(start).Round(time.Millisecond))
	checkConsole()
}

// screenshot captures the viewport after prepare, writes it to path and
// checks that it is a real picture of the page, not a blank one.
func screenshot(t *testing.T, ctx context.Context, path string, prepare chromedp.Action[chromedp.Void]) image.Rectangle {
	t.Helper()
	if err := chromedp.Do(ctx, prepare, chromedp.Sleep(400*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	colors := map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[(r>>11)<<10|(g>>11)<<5|bl>>11] = true
		}
	}
	if len(buf) < 30_000 || b.Dx() < 400 || b.Dy() < 400 || len(colors) < 64 {
		t.Fatalf("screenshot %s looks blank: %d bytes, %dx%d, %d colours", path, len(buf), b.Dx(), b.Dy(), len(colors))
	}
	return b
}

// phoneDOM reads, on a phone's screen, what issue 18 asks of the chat: the
// bot messages with live keyboards, and for the live card where its
// question and first option are, where Back and Skip are, against the
// visible chat area.
const phoneDOM = `(() => {
	const chat = document.querySelector('#chat').getBoundingClientRect();
	const bottom = Math.min(chat.bottom, window.innerHeight);
	const live = [...document.querySelectorAll('#messages .msg.in')].filter(m => m.querySelector('.kb button'));
	const out = {Live: live.length, Bottom: bottom, Top: chat.top};
	const m = live[live.length - 1];
	if (!m) return out;
	const t = m.querySelector('.text').cloneNode(true);
	t.querySelector('.meta')?.remove();
	out.ID = +m.dataset.id;
	out.Text = t.textContent;
	const bs = m.querySelectorAll('.text b');
	if (bs.length) { const r = bs[bs.length - 1].getBoundingClientRect(); out.QTop = r.top; out.QBottom = r.bottom; }
	const first = m.querySelector('.kb button').getBoundingClientRect();
	out.FirstBottom = first.bottom;
	const card = m.getBoundingClientRect();
	out.CardTop = card.top; out.CardBottom = card.bottom;
	out.Rows = [...m.querySelectorAll('.kb-row')].map(r => [...r.children].map(b => ({Label: b.dataset.label, X: b.getBoundingClientRect().left})));
	out.Commands = [...m.querySelectorAll('a.cmd')].map(a => a.textContent);
	return out;
})()`

type phoneKey struct {
	Label string
	X     float64
}

type phoneView struct {
	Live                       int
	ID                         int
	Text                       string
	Top, Bottom, QTop, QBottom float64
	FirstBottom                float64
	CardTop, CardBottom        float64
	Rows                       [][]phoneKey
	Commands                   []string
}

// TestTryBrowserPhoneInterview walks whole interviews in Italian and in
// Arabic on a 360×640 phone screen and checks at every step what issue 18
// asks: one live keyboard, the question and its first options on screen
// together, a typed label and a typed number accepted, Back and Skip in
// one order that reads outward in both directions, /delete tappable in
// Arabic. The screenshots stay in $NEEDSBOT_TEST_SCREENSHOTS or in
// $TMPDIR/needsbot-phone-screens (the path is printed).
func TestTryBrowserPhoneInterview(t *testing.T) {
	if testing.Short() {
		t.Skip("two complete interviews in a browser")
	}
	t.Parallel()
	dsn := storagetest.Postgres(t)
	_, prefix := storagetest.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), slow(5*time.Minute))
	defer cancel()
	bctx := browser(ctx, t)
	r := startTry(t, map[string]string{
		"NEEDSBOT_DATABASE_URL": dsn, "NEEDSBOT_REDIS_URL": storagetest.RedisURL(), "NEEDSBOT_REDIS_PREFIX": prefix,
	}, nil)
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("NEEDSBOT_TEST_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "needsbot-phone-screens")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	before := ""
	mark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Evaluate[string](`document.body.dataset.version`)(ctx, tg)
		before = v
		return err
	})
	idle := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		ctx, cancel := context.WithTimeout(ctx, slow(30*time.Second))
		defer cancel()
		js := fmt.Sprintf(`document.body.dataset.pending === "0" && document.body.dataset.version !== "" && document.body.dataset.version !== %q`, before)
		if _, err := chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond))(ctx, tg); err != nil {
			return err
		}
		return pageShowsIdleBot(ctx, t, tg, r.url)
	})
	eval := func(js string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](js) }
	// The chat is read where the page scrolled it (session 6: a card
	// taller than the screen shows its top, not its bottom).
	settle := eval(`void 0`)
	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(360, 640, chromedp.EmulateScale(2)),
		chromedp.Navigate(r.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)),
	); err != nil {
		t.Fatalf("opening the page: %v\n%s", err, r.err)
	}
	type script struct {
		lang, language, consent, typedLabel, typedNumber, comment string
		back, skip                                                string // the navigation keys as shown
		rtl                                                       bool
		phone                                                     string // the phone's language, when not lang
		typedAge                                                  string // an age in the band's range, typed in the language's digits
		typedYears                                                string // years in Italy typed at their bands: 4 (3 to 5 years; the 4th key is 6 to 10)
	}
	for i, sc := range []script{
		{lang: "it", language: "Italiano", consent: "Sì, accetto", typedLabel: "da 25 a 34 ANNI", typedNumber: "2",
			comment: "Più corsi di sera", back: "◀ Indietro", skip: "Salta ▶", typedYears: "4"},
		{lang: "ar", language: "العربية", consent: "", typedLabel: "", typedNumber: "٢",
			comment: "نحتاج إلى دروس مسائية", back: "▶ رجوع", skip: "تخطي ◀", rtl: true, typedYears: "٤"},
		// Issue 15: Persian from a phone set to Italian (the picker's second
		// page, Extended Arabic-Indic digits typed), Tigrinya from a phone
		// set to Tigrinya (first key, Ethiopic script).
		// Their drafts are longer than the others: a card taller than a
		// 360×640 screen shows its top (the question), its keys a scroll
		// below (logged for the translators).
		{lang: "fa", phone: "it", language: "فارسی", consent: "بله، موافقم", typedAge: "۳۰", typedNumber: "۲",
			comment: "کلاس\u200cهای شبانه لازم است", back: "▶ برگشت", skip: "رد شدن ◀", rtl: true, typedYears: "۴"},
		// Tigrinya in Ethiopic numerals (not decimal digits): ፴ is 30,
		// ፪ the second key, ፬ four years.
		{lang: "ti", language: "ትግርኛ", consent: "እወ፣ እሰማማዕ እየ", typedAge: "፴", typedNumber: "፪",
			comment: "ናይ ምሸት ትምህርቲ የድሊ", back: "◀ ንድሕሪት", skip: "ሕለፉ ▶", typedYears: "፬"},
		// Chinese in Han numerals: 三十 is 30, 二 the second key, 四 four years.
		{lang: "zh-Hans", language: "简体中文", consent: "是，我同意", typedAge: "三十", typedNumber: "二",
			comment: "需要晚上的意大利语课", back: "◀ 返回", skip: "跳过 ▶", typedYears: "四"},
	} {
		phoneLang := sc.phone
		if phoneLang == "" {
			phoneLang = sc.lang
		}
		if i > 0 {
			// The phone's language first: the new respondent's session
			// carries it (a change afterwards races with START).
			if err := chromedp.Do(bctx, eval(fmt.Sprintf(`(s => { s.value = %q; s.dispatchEvent(new Event("change")); })(document.querySelector("#lang"))`, phoneLang)),
				chromedp.Click(chromedp.CSS(`#new-respondent`), chromedp.NodeVisible),
				chromedp.Poll[chromedp.Void](`document.querySelectorAll('#messages .msg').length === 0`)); err != nil {
				t.Fatalf("new respondent: %v", err)
			}
		}
		shot := func(name string) {
			screenshot(t, bctx, filepath.Join(dir, sc.lang+"-"+name+".png"), settle)
		}
		err := chromedp.Do(bctx,
			eval(fmt.Sprintf(`(s => { s.value = %q; s.dispatchEvent(new Event("change")); })(document.querySelector("#lang"))`, phoneLang)),
			chromedp.WaitVisible(chromedp.CSS(`#start`)),
			mark, chromedp.Click(chromedp.CSS(`#start`), chromedp.NodeVisible), idle)
		if err != nil {
			t.Fatalf("%s: START: %v\n%s", sc.lang, err, r.err)
		}
		view := func() phoneView {
			t.Helper()
			if err := chromedp.Do(bctx, settle, chromedp.Sleep(150*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			v, err := chromedp.Run(bctx, chromedp.Evaluate[phoneView](phoneDOM))
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		tap := func(v phoneView, label string) {
			t.Helper()
			for ri, row := range v.Rows {
				for ci, k := range row {
					if k.Label == label {
						sel := fmt.Sprintf(`#messages .msg[data-id="%d"] .kb-row:nth-child(%d) > :nth-child(%d)`, v.ID, ri+1, ci+1)
						if err := chromedp.Do(bctx, mark, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible), idle); err != nil {
							t.Fatalf("%s: tap %q: %v", sc.lang, label, err)
						}
						return
					}
				}
			}
			t.Fatalf("%s: no key %q in %+v", sc.lang, label, v.Rows)
		}
		typeText := func(text string) {
			t.Helper()
			err := chromedp.Do(bctx, mark,
				chromedp.SendKeys(chromedp.CSS(`#input`), text, chromedp.NodeVisible),
				chromedp.Click(chromedp.CSS(`#send`), chromedp.NodeVisible), idle)
			if err != nil {
				t.Fatalf("%s: type %q: %v", sc.lang, text, err)
			}
		}
		isNav := func(l string) bool {
			return strings.ContainsAny(l, "◀▶") || strings.HasPrefix(l, "✓ ")
		}
		v := view()
		shot("01-language")
		onPage := func(v phoneView, label string) bool {
			for _, row := range v.Rows {
				for _, k := range row {
					if k.Label == label {
						return true
					}
				}
			}
			return false
		}
		// The picker: the phone's language is the first key; the other
		// languages are on the first page or one tap away on the second,
		// both pages whole on the phone's screen.
		if first := v.Rows[0][0].Label; phoneLang == sc.lang && first != sc.language {
			t.Errorf("%s: the picker's first key is %q, want %q", sc.lang, first, sc.language)
		}
		if v.FirstBottom > v.Bottom+1 {
			t.Errorf("%s: the picker's first key is off screen", sc.lang)
		}
		if !onPage(v, sc.language) {
			more := ""
			for _, row := range v.Rows {
				for _, k := range row {
					if strings.HasPrefix(k.Label, "🌐 ") {
						more = k.Label
					}
				}
			}
			if more == "" {
				t.Fatalf("%s: %q is not on the picker's first page and there is no page key: %+v", sc.lang, sc.language, v.Rows)
			}
			menu := v.ID
			tap(v, more)
			v = view()
			shot("01-language-page2")
			if v.ID != menu || !onPage(v, sc.language) {
				t.Fatalf("%s: the second page (message %d, menu %d) lacks %q: %+v", sc.lang, v.ID, menu, sc.language, v.Rows)
			}
			if v.Live != 1 {
				t.Errorf("%s: %d live keyboards after turning the picker's page", sc.lang, v.Live)
			}
		}
		tap(v, sc.language)
		v = view()
		shot("02-welcome")
		if sc.rtl && !slices.Contains(v.Commands, "/delete") {
			t.Errorf("%s: /delete is not tappable on the welcome card: %v\n%s", sc.lang, v.Commands, v.Text)
		}
		consent := sc.consent
		if consent == "" {
			consent = v.Rows[0][len(v.Rows[0])-1].Label // yes: first in reading order (rightmost)
			if sc.rtl {
				consent = v.Rows[0][0].Label
				if len(v.Rows[0]) > 1 {
					consent = v.Rows[0][len(v.Rows[0])-1].Label
				}
			}
		}
		welcome := v
		tap(v, consent)
		// Back from the first question: the card is the welcome again,
		// its notice above the consent question (session 6), shown from
		// its top; agreeing again turns it into the first question.
		v = view()
		tap(v, sc.back)
		v = view()
		shot("02b-back-to-consent")
		if v.ID != welcome.ID || v.Text != welcome.Text {
			t.Errorf("%s: Back from the first question shows card %d:\n%s\nwant the welcome card %d as first shown:\n%s", sc.lang, v.ID, v.Text, welcome.ID, welcome.Text)
		}
		if v.CardTop < v.Top-1 {
			t.Errorf("%s: the consent card is shown from %.0f, above the screen (%.0f)", sc.lang, v.CardTop, v.Top)
		}
		tap(v, "✅ "+consent)
		// The age band, typed as its label (Italian) or as an age (Arabic:
		// "٣٠", 30, the band 25–34; immigrati v2's bands: min/max).
		v = view()
		ageCard := v.ID
		if sc.typedLabel != "" {
			typeText(sc.typedLabel)
		} else {
			age := sc.typedAge
			if age == "" {
				age = "٣٠"
			}
			typeText(age)
		}
		v = view()
		// The next card shows the band (a re-asked card shows the
		// answer before the age: the consent).
		if band := cat.Text(sc.lang, "c.immigrati.eta.25_34", nil); !strings.Contains(v.Text, "✓ "+band) || v.ID == ageCard && strings.Contains(v.Text, "18") {
			t.Fatalf("%s: the typed age was not accepted (want ✓ %s): %q", sc.lang, band, v.Text)
		}
		shot("03-typed-label")
		// The next question (nationality: 23 options) is a long list: paged,
		// question and first options on screen.
		shotLong := false
		for _, row := range v.Rows {
			for _, k := range row {
				shotLong = shotLong || strings.HasPrefix(k.Label, "…")
			}
		}
		if shotLong {
			shot("06-long-list")
			if v.QTop < v.Top-1 || v.FirstBottom > v.Bottom+1 {
				t.Errorf("%s: long list: question at %.0f, first option ends at %.0f, screen %.0f–%.0f", sc.lang, v.QTop, v.FirstBottom, v.Top, v.Bottom)
			}
		}
		// Answered by typing its number in the list.
		typeText(sc.typedNumber)
		v = view()
		if second := cat.Text(sc.lang, "c.immigrati.genere.uomo", nil); !strings.Contains(v.Text, "✓ "+second) {
			t.Fatalf("%s: the typed number was not accepted: %q", sc.lang, v.Text)
		}
		shot("04-typed-number")
		// /help: its reply, then the card again below, as it was — its
		// "✓ previous answer" line too.
		card := v
		typeText("/help")
		if v = view(); v.ID == card.ID || v.Text != card.Text {
			t.Errorf("%s: the card below /help is not the card it replaces:\n%s\nwant:\n%s", sc.lang, v.Text, card.Text)
		}
		lessThanAYear := cat.Text(sc.lang, "c.immigrati.anni_italia.lt1", nil)
		threeToFive := cat.Text(sc.lang, "c.immigrati.anni_italia.3_5", nil)
		typedYears := false
		checkedNav, shotMulti := false, false
		for step := 0; ; step++ {
			if step > 90 {
				t.Fatalf("%s: the interview did not end in 90 steps", sc.lang)
			}
			v = view()
			if v.Live == 0 {
				break
			}
			if v.Live != 1 {
				t.Fatalf("%s step %d: %d live keyboards, want 1", sc.lang, step, v.Live)
			}
			// The question and its first options on one screen; on a
			// card taller than the screen, the question's start at least
			// (the page shows such a card from its top).
			tall := v.CardBottom-v.CardTop > v.Bottom-v.Top
			if v.QTop < v.Top-1 || v.FirstBottom > v.Bottom+1 {
				shot(fmt.Sprintf("fail-%02d", step))
				report := t.Errorf
				if tall && v.QTop >= v.Top-1 {
					report = t.Logf
				}
				report("%s step %d: question at %.0f–%.0f, first option ends at %.0f, card %.0f–%.0f, screen %.0f–%.0f: %q",
					sc.lang, step, v.QTop, v.QBottom, v.FirstBottom, v.CardTop, v.CardBottom, v.Top, v.Bottom, v.Text)
			}
			var opts []string
			var back, skip *phoneKey
			done, ticked := "", false
			for _, row := range v.Rows {
				for j := range row {
					k := row[j]
					switch {
					case k.Label == sc.back:
						back = &row[j]
					case k.Label == sc.skip:
						skip = &row[j]
					case strings.HasPrefix(k.Label, "✓ "):
						done = k.Label
					case !isNav(k.Label):
						opts = append(opts, k.Label)
						ticked = ticked || strings.HasPrefix(k.Label, "✅")
					}
				}
			}
			if back != nil && skip != nil {
				// One order, reading outward: Back where reading starts.
				if sc.rtl != (back.X > skip.X) {
					t.Errorf("%s step %d: Back at x=%.0f, Skip at x=%.0f", sc.lang, step, back.X, skip.X)
				}
				if !checkedNav {
					shot("05-navigation")
					checkedNav = true
				}
			}
			if len(opts) > 12 && !shotLong {
				shot("06-long-list")
				shotLong = true
			}
			if done != "" && !shotMulti {
				shot("07-multi-select")
				shotMulti = true
			}
			switch {
			case slices.Contains(opts, lessThanAYear):
				// Years in Italy typed as a number pick their band.
				typeText(sc.typedYears)
				if v = view(); !strings.Contains(v.Text, "✓ "+threeToFive) {
					t.Errorf("%s: %q typed at the years in Italy did not pick %q: %q", sc.lang, sc.typedYears, threeToFive, v.Text)
				}
				shot("04b-typed-years")
				typedYears = true
			case len(opts) == 0:
				typeText(sc.comment)
			case done != "" && ticked:
				tap(v, done)
			default:
				tap(v, opts[0])
			}
		}
		shot("08-end")
		if !typedYears {
			t.Errorf("%s: the walk did not meet the years in Italy", sc.lang)
		}
		if !checkedNav || !shotLong || !shotMulti {
			t.Errorf("%s: the walk met no question with Back and Skip (%v), no long list (%v) or no multi-select (%v)", sc.lang, checkedNav, shotLong, shotMulti)
		}
	}
	t.Logf("phone screenshots (360×640) in %s", dir)
}

// pageShowsIdleBot waits, once the page shows no pending update, until the
// bot has finished with the page's chat and the page shows the chat as the
// bot left it. The page's pending count is the updates the bot has not
// acknowledged, and the poller acknowledges a batch's stragglers while
// their turns still run (bot.Poller's stragglerHold): without this a slow
// turn's reply could come after the test read the page.
func pageShowsIdleBot(ctx context.Context, t testing.TB, tg *chromedp.Target, base string) error {
	user, err := chromedp.Evaluate[string](`document.body.dataset.user`)(ctx, tg)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		return fmt.Errorf("the page's user %q: %w", user, err)
	}
	if err := waitIdle(ctx, t, id); err != nil {
		return fmt.Errorf("the bot did not finish with chat %d: %w", id, err)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/chat?user=%d", base, id), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var ch struct {
		Version uint64 `json:"version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ch); err != nil {
		return fmt.Errorf("GET /api/chat: %w", err)
	}
	// And "typing…" is gone: the page asks the bot's intake (session 6),
	// whose end of work wakes the page's poll even when it changes no
	// message.
	js := fmt.Sprintf(`Number(document.body.dataset.version) >= %d && document.body.dataset.pending === "0" && document.body.dataset.busy === "false" && document.querySelector("#typing").hidden`, ch.Version)
	_, err = chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond))(ctx, tg)
	return err
}
