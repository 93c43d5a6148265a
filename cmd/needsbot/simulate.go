package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/internal/tghtml"
	"github.com/needsbot/needsbot/locales"
)

// runSimulate walks a questionnaire in the terminal. Typed lines are inputs:
// a number taps that option, "done", "back", "skip", "restart", "lang xx",
// "start [payload]", anything else is typed text. With --script the lines
// come from a file and the transcript is printed: the golden tests use it.
func runSimulate(_ context.Context, e *cmdEnv, args []string) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	form := fs.String("form", "", "questionnaire id (default: the first form respondents answer)")
	version := fs.Int("version", 0, "questionnaire version (0: the newest, as new interviews get)")
	lang := fs.String("lang", "it", "language (empty: ask, as the bot does)")
	script := fs.String("script", "", "read inputs from this file and print the transcript")
	dir := fs.String("forms", "", "directory of questionnaire definitions (default: embedded)")
	walks := fs.Int("walks", 0, "instead of an interview, walk N random paths and report question screens (median, 90th percentile, longest)")
	seed := fs.Uint64("seed", 14, "random seed of --walks")
	skips := fs.Int("skip-one-in", 0, "with --walks, skip about one optional question in N (0: never)")
	date := fs.String("now", "", "the clock, RFC 3339 (default: now; scripts default to 2026-01-15T10:00:00Z)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	lib, err := forms.Load(*dir)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	if ids := lib.Respondents(); *form == "" && len(ids) > 0 {
		*form = ids[0]
	}
	f := lib.Latest(*form)
	if f == nil {
		fmt.Fprintf(e.stderr, "simulate: no questionnaire %q (have %s)\n", *form, strings.Join(lib.IDs(), ", "))
		return 2
	}
	if *version != 0 {
		if f = lib.Get(*form, *version); f == nil {
			fmt.Fprintf(e.stderr, "simulate: questionnaire %q has no version %d\n", *form, *version)
			return 2
		}
	}
	if *walks > 0 {
		return simulateWalks(e, f, *walks, *seed, *skips, *lang)
	}
	cat, err := locales.NewWithForms(*dir)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	now := time.Now().UTC()
	in := e.stdin
	interactive := true
	if *script != "" {
		file, err := os.Open(*script)
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			return 1
		}
		defer file.Close()
		in, interactive = file, false
		now = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	}
	if *date != "" {
		if now, err = time.Parse(time.RFC3339, *date); err != nil {
			fmt.Fprintln(e.stderr, "simulate: --now:", err)
			return 2
		}
	}
	sim := &simulator{form: f, cat: cat, out: e.stdout, now: now, echo: !interactive}
	sim.state.Lang = *lang
	sim.apply(dialog.Input{Kind: dialog.InStart})
	if interactive {
		fmt.Fprintln(e.stdout, "(type an option number, done, back, skip, restart, lang xx, or text; Ctrl-D ends)")
	}
	sim.loop(in)
	return 0
}

// simulateWalks walks n random paths through f and prints the
// distribution of question screens per interview.
func simulateWalks(e *cmdEnv, f *dialog.Form, n int, seed uint64, skips int, lang string) int {
	rng := rand.New(rand.NewPCG(seed, uint64(f.Version)))
	pick := dialog.RandomPicker(f, rng, skips)
	counts := make([]int, 0, n)
	for i := 0; i < n; i++ {
		res, err := dialog.Walk(f, lang, nil, pick)
		if err != nil {
			fmt.Fprintf(e.stderr, "simulate: walk %d: %v\n", i+1, err)
			return 1
		}
		counts = append(counts, res.Screens)
	}
	st := dialog.Stats(counts)
	fmt.Fprintf(e.stdout, "%s v%d: %d random walks: question screens median %d, 90th percentile %d, min %d, longest %d\n",
		f.ID, f.Version, st.Walks, st.Median, st.P90, st.Min, st.Max)
	return 0
}

// simulator renders replies as plain text, numbering the options of the
// last question so that a typed number taps them.
type simulator struct {
	form    *dialog.Form
	cat     *locales.Catalog
	out     io.Writer
	now     time.Time
	echo    bool
	state   dialog.State
	buttons []dialog.Button
	pos     int
	seq     uint32
	langs   []locales.Language
}

func (s *simulator) loop(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if s.echo {
			fmt.Fprintf(s.out, "» %s\n", line)
		}
		s.apply(s.parse(line))
		// A minute passes between inputs, so durations are visible.
		s.now = s.now.Add(time.Minute)
	}
}

func (s *simulator) parse(line string) dialog.Input {
	word, rest, _ := strings.Cut(line, " ")
	switch word {
	case "start", "/start":
		return dialog.Input{Kind: dialog.InStart, Payload: rest}
	case "lang", "/language":
		return dialog.Input{Kind: dialog.InSetLanguage, Lang: rest}
	case "done":
		in := dialog.Input{Kind: dialog.InDone, Button: true, Pos: s.pos, Seq: s.seq}
		for _, b := range s.buttons {
			if b.Kind == dialog.BtnDone {
				in.Option = b.Option // the Done key as shown (after "nothing ticked": leave it out)
			}
		}
		return in
	case "back", "/back":
		return dialog.Input{Kind: dialog.InBack}
	case "skip":
		return dialog.Input{Kind: dialog.InSkip}
	case "restart", "/restart":
		return dialog.Input{Kind: dialog.InRestart}
	case "expire":
		return dialog.Input{Kind: dialog.InExpire}
	case "text":
		return dialog.Input{Kind: dialog.InText, Text: rest}
	}
	if n, err := strconv.Atoi(line); err == nil && s.langs != nil && n >= 1 && n <= len(s.langs) {
		return dialog.Input{Kind: dialog.InSetLanguage, Lang: s.langs[n-1].Code}
	}
	if n, err := strconv.Atoi(line); err == nil && n >= 1 && n <= len(s.options()) {
		b := s.options()[n-1]
		kind := dialog.InChoose
		if b.Kind == dialog.BtnToggle {
			kind = dialog.InToggle
		}
		return dialog.Input{Kind: kind, Option: b.Option, Button: true, Pos: s.pos, Seq: s.seq}
	}
	return dialog.Input{Kind: dialog.InText, Text: line}
}

func (s *simulator) options() []dialog.Button {
	var opts []dialog.Button
	for _, b := range s.buttons {
		switch b.Kind {
		case dialog.BtnChoose, dialog.BtnToggle, dialog.BtnAck:
			opts = append(opts, b)
		}
	}
	return opts
}

func (s *simulator) apply(in dialog.Input) {
	next, replies := dialog.Step(s.form, s.state, in, s.now)
	s.state = next
	s.langs = nil
	for _, r := range replies {
		s.render(r)
	}
}

// text renders a message as terminal text, the way the bot renders button
// labels (the "Choice" argument shown as the choice's label).
func (s *simulator) text(id string, args map[string]any) string {
	return tghtml.NewMessages(s.cat).Plain(s.state.Lang, id, args)
}

func (s *simulator) label(b dialog.Button) string {
	if b.Literal != "" {
		return b.Literal
	}
	return s.text(b.Label, nil)
}

func (s *simulator) render(r dialog.Reply) {
	w := s.out
	switch r.Kind {
	case dialog.ReplyAskLanguage:
		s.langs = s.cat.Languages()
		fmt.Fprintln(w, "bot:", s.text("m.language.choose", nil))
		for i, l := range s.langs {
			fmt.Fprintf(w, "  %d) %s\n", i+1, l.Name)
		}
	case dialog.ReplySay:
		fmt.Fprintln(w, "bot:", s.text(r.Msg, r.Args))
		if r.Hint != "" {
			fmt.Fprintln(w, "    ", s.text(r.Hint, nil))
		}
	case dialog.ReplyNotice:
		fmt.Fprintln(w, "bot (notice):", s.text(r.Msg, r.Args))
	case dialog.ReplyAnswered:
		var parts []string
		for _, id := range r.AnswerMsgs {
			parts = append(parts, s.text(id, nil))
		}
		if r.Answer != "" {
			parts = append(parts, r.Answer)
		}
		if len(parts) > 0 {
			fmt.Fprintln(w, "   ✔", strings.Join(parts, ", "))
		}
	case dialog.ReplyAsk, dialog.ReplyKeyboard:
		s.buttons, s.pos, s.seq = r.Buttons, r.Pos, r.Seq
		if r.Kind == dialog.ReplyAsk {
			if r.Error != "" {
				fmt.Fprintln(w, "bot: !", s.text(r.Error, r.ErrorArgs))
			}
			if r.Progress.N > 0 && r.Progress.Of > 1 {
				fmt.Fprintf(w, "bot: [%s] %s\n", s.text(dialog.MsgProgress, map[string]any{"N": r.Progress.N, "Of": r.Progress.Of}), s.text(r.Msg, r.Args))
			} else {
				fmt.Fprintf(w, "bot: %s\n", s.text(r.Msg, r.Args))
			}
			if r.Hint != "" {
				fmt.Fprintln(w, "    ", s.text(r.Hint, nil))
			}
		}
		n := 0
		var nav []string
		for _, b := range r.Buttons {
			switch b.Kind {
			case dialog.BtnChoose, dialog.BtnToggle, dialog.BtnAck:
				n++
				mark := ""
				if b.Checked {
					mark = " ✓"
				}
				fmt.Fprintf(w, "  %d) %s%s\n", n, s.label(b), mark)
			case dialog.BtnDone:
				nav = append(nav, "done: "+s.label(b))
			case dialog.BtnBack:
				nav = append(nav, "back: "+s.label(b))
			case dialog.BtnSkip:
				nav = append(nav, "skip: "+s.label(b))
			}
		}
		if len(nav) > 0 {
			fmt.Fprintf(w, "  [%s]\n", strings.Join(nav, " | "))
		}
	case dialog.ReplyComplete:
		resp := r.Response
		fmt.Fprintf(w, "== response: form %s v%d, language %s (used %s), %d answers, %s\n",
			resp.Form, resp.FormVersion, resp.Language, strings.Join(resp.Languages, ","), len(resp.Answers), resp.Duration())
		keys := make([]string, 0, len(resp.Answers))
		for k := range resp.Answers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "   %s = %s\n", k, resp.Answers[k])
		}
	}
}
