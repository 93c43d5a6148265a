package bot

import (
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/needsbot/needsbot/dialog"
	"github.com/needsbot/needsbot/locales"
)

// keyboardRef is the keyboard as rendered before layouts were cached
// (every key laid out and encoded afresh): the reference the cached
// rendering must equal key for key.
func keyboardRef(r *Renderer, lang string, rep dialog.Reply, page int) ([][]Key, error) {
	var opts, nav []Key
	var pinned []bool
	var back, skip, done *Key
	for _, b := range rep.Buttons {
		data, err := Callback{Kind: buttonKinds[b.Kind], Pos: rep.Pos, Seq: rep.Seq, Option: b.Option}.Encode()
		if err != nil {
			return nil, err
		}
		k := Key{Text: r.label(lang, b), Data: data}
		switch b.Kind {
		case dialog.BtnBack:
			back = &k
		case dialog.BtnSkip:
			skip = &k
		case dialog.BtnDone:
			done = &k
		default:
			opts = append(opts, k)
			pinned = append(pinned, b.Option == declineOption)
		}
	}
	for _, k := range []*Key{back, done, skip} {
		if k != nil {
			nav = append(nav, *k)
		}
	}
	ps := pages(opts, pinned)
	rows := ps[0]
	if len(ps) > 1 {
		page = min(max(page, 0), len(ps)-1)
		next := (page + 1) % len(ps)
		data, err := Callback{Kind: CbPage, Pos: rep.Pos, Seq: rep.Seq, Option: strconv.Itoa(next)}.Encode()
		if err != nil {
			return nil, err
		}
		more := r.Plain(lang, MsgMore, map[string]any{"N": page + 1, "Of": len(ps)})
		rows = append(append([][]Key(nil), ps[page]...), []Key{{Text: more, Data: data}})
	}
	if len(nav) > 0 {
		rows = append(rows, nav)
	}
	if r.rtl(lang) {
		for _, row := range rows {
			for i, j := 0, len(row)-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
	}
	return rows, nil
}

// pageOfRef is PageOf before layouts were cached.
func pageOfRef(r *Renderer, lang string, rep dialog.Reply, opt string) int {
	var opts []Key
	var pinned []bool
	for _, b := range rep.Buttons {
		if b.Kind == dialog.BtnChoose || b.Kind == dialog.BtnToggle {
			opts = append(opts, Key{Text: r.label(lang, b), Data: b.Option})
			pinned = append(pinned, b.Option == declineOption)
		}
	}
	for p, page := range pages(opts, pinned) {
		for _, row := range page {
			for _, k := range row {
				if k.Data == opt {
					return p
				}
			}
		}
	}
	return 0
}

// The cached keyboard layouts render every list of every shipped
// questionnaire in every language exactly as laying each keyboard out
// afresh did: the same rows, labels and callback data, on every page, with
// ticks, Back, Done and Skip, twice (the second time from the cache).
func TestKeyboardLayoutCacheMatchesFreshLayout(t *testing.T) {
	r, lib := testRenderer(t)
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for fi, f := range lib.Forms() {
		for li, l := range cat.Languages() {
			if (fi+li)%3 != 0 && !r.rtl(l.Code) {
				// Each language with some of the questionnaires (all of
				// them right to left): the test stays quick under -race.
				continue
			}
			for qi, q := range f.Questions {
				var bs []dialog.Button
				switch {
				case q.List != nil && q.Type == dialog.TypeSelectMultiple:
					for i, c := range q.List.Choices {
						bs = append(bs, dialog.Button{Kind: dialog.BtnToggle, Label: c.Label, Option: c.Name, Checked: i%3 == 1})
					}
					bs = append(bs, dialog.Button{Kind: dialog.BtnDone, Label: dialog.MsgDone})
				case q.List != nil:
					for i, c := range q.List.Choices {
						bs = append(bs, dialog.Button{Kind: dialog.BtnChoose, Label: c.Label, Option: c.Name, Checked: i == 2})
					}
				case q.Type == dialog.TypeAcknowledge:
					bs = append(bs, dialog.Button{Kind: dialog.BtnAck, Label: dialog.MsgOK, Option: "ok"})
				default:
					for y := 2026; y > 2014; y-- {
						bs = append(bs, dialog.Button{Kind: dialog.BtnChoose, Literal: strconv.Itoa(y), Option: strconv.Itoa(y)})
					}
				}
				if qi%2 == 0 {
					bs = append(bs, dialog.Button{Kind: dialog.BtnBack, Label: dialog.MsgBack})
				}
				if qi%3 == 0 {
					bs = append(bs, dialog.Button{Kind: dialog.BtnSkip, Label: dialog.MsgSkip})
				}
				rep := dialog.Reply{Kind: dialog.ReplyAsk, Question: q.Name, Pos: qi, Seq: uint32(qi * 37), Buttons: bs}
				for round := 0; round < 3; round++ {
					// Other ticks each round: the layout cached for one
					// set of ticks serves the others.
					for i := range bs {
						if bs[i].Kind == dialog.BtnToggle {
							bs[i].Checked = (i+round)%3 == 1
						}
					}
					for page := -1; page < 4; page++ {
						want, werr := keyboardRef(r, l.Code, rep, page)
						got, gerr := r.keyboard(l.Code, rep, page)
						if !reflect.DeepEqual(got, want) || (werr == nil) != (gerr == nil) {
							t.Fatalf("%s %s %s page %d: got\n%v (%v)\nwant\n%v (%v)", f.ID, l.Code, q.Name, page, got, gerr, want, werr)
						}
						checked++
					}
					for _, b := range bs {
						if got, want := r.PageOf(l.Code, rep, b.Option), pageOfRef(r, l.Code, rep, b.Option); got != want {
							t.Fatalf("%s %s %s PageOf(%s) = %d, want %d", f.ID, l.Code, q.Name, b.Option, got, want)
						}
					}
				}
			}
		}
	}
	t.Logf("%d keyboards compared", checked)
}

// The layout of a multi-choice list is cached whatever its ticks because
// a ticked label is as wide as an unticked one.
func TestTickedAsWideAsUnticked(t *testing.T) {
	if displayWidth("✅ ") != displayWidth("⬜ ") {
		t.Fatalf("✅ is %d wide, ⬜ %d: a tick changes the layout", displayWidth("✅ "), displayWidth("⬜ "))
	}
	// Every set of ticks of one list: one layout kept.
	r, _ := testRenderer(t)
	bs := []dialog.Button{{Kind: dialog.BtnDone, Label: dialog.MsgDone}}
	for _, o := range []string{"a", "b", "c", "d", "e"} {
		bs = append(bs, dialog.Button{Kind: dialog.BtnToggle, Literal: "option " + o, Option: o})
	}
	for ticks := range 1 << 5 {
		for i := range 5 {
			bs[i+1].Checked = ticks&(1<<i) != 0
		}
		if _, err := r.keyboard("it", dialog.Reply{Kind: dialog.ReplyKeyboard, Pos: 3, Seq: uint32(ticks), Buttons: bs}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.layouts); n != 1 {
		t.Fatalf("%d layouts kept for the 32 tick sets of one list, want 1", n)
	}
}

// appendCallback writes what Callback.Encode writes.
func TestAppendCallbackIsEncode(t *testing.T) {
	for _, c := range []Callback{
		{Kind: CbChoose, Pos: 0, Seq: 0, Option: "a"},
		{Kind: CbToggle, Pos: 35, Seq: 1 << 31, Option: "pnta"},
		{Kind: CbPage, Pos: 1234, Seq: 99, Option: "3"},
		{Kind: CbBack, Pos: 7, Seq: 8},
		{Kind: CbChoose, Pos: -1, Option: "x"},
		{Kind: CbChoose, Pos: 1, Option: "a\x00b"},
		{Kind: 'z', Pos: 1, Option: "x"},
	} {
		want, werr := c.Encode()
		got, gerr := appendCallback(nil, c)
		if (werr == nil) != (gerr == nil) || (werr == nil && string(got) != want) {
			t.Errorf("%+v: append %q (%v), Encode %q (%v)", c, got, gerr, want, werr)
		}
	}
}

// askPageRef is AskPage's text as it was written before (piece by piece
// into a growing builder).
func askPageRef(r *Renderer, lang string, f *dialog.Form, rep dialog.Reply) string {
	var b strings.Builder
	if rep.Error != "" {
		b.WriteString("⚠️ ")
		b.WriteString(r.Text(lang, rep.Error, rep.ErrorArgs))
		b.WriteString("\n\n")
	}
	b.WriteString("<b>")
	b.WriteString(r.Text(lang, rep.Msg, rep.Args))
	b.WriteString("</b>")
	if rep.Hint != "" {
		b.WriteString("\n<i>")
		b.WriteString(r.Text(lang, rep.Hint, nil))
		b.WriteString("</i>")
	}
	if q := f.Question(rep.Question); q != nil {
		var how string
		switch q.Type {
		case dialog.TypeSelectMultiple:
			if q.Hint == "" {
				how = MsgMultiHint
			}
		case dialog.TypeText:
			how = dialog.MsgTypeText
		case dialog.TypeInteger, dialog.TypeDecimal:
			how = dialog.MsgTypeNumber
		}
		if how != "" {
			b.WriteString("\n\n")
			b.WriteString(r.Text(lang, how, nil))
		}
		if q.Type == dialog.TypeDate && rep.Args["Year"] != nil {
			b.WriteString("\n\n")
			b.WriteString(r.Text(lang, dialog.MsgMonth, nil))
		} else if q.Type == dialog.TypeDate {
			b.WriteString("\n\n")
			b.WriteString(r.Text(lang, dialog.MsgYear, nil))
		}
	}
	if p := r.progress(lang, rep.Progress); p != "" {
		b.WriteString("\n<i>")
		b.WriteString(p)
		b.WriteString("</i>")
	}
	return b.String()
}

// AskPage writes every question of the shipped and test questionnaires,
// in every language, with and without an error, a hint, a year and
// progress, as it did before it sized its text up front.
func TestAskPageTextUnchanged(t *testing.T) {
	r, lib := testRenderer(t)
	cat, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range lib.Forms() {
		for _, l := range cat.Languages() {
			for qi, q := range f.Questions {
				for v := range 4 {
					rep := dialog.Reply{Kind: dialog.ReplyAsk, Question: q.Name, Msg: q.Label, Pos: qi}
					if v&1 == 1 {
						rep.Error, rep.ErrorArgs = dialog.MsgMinSelected, map[string]any{"Count": 2}
						rep.Hint = dialog.MsgTypeText
						rep.Progress = dialog.Progress{N: qi, Of: len(f.Questions)}
					}
					if v&2 == 2 {
						rep.Args = map[string]any{"Year": "2020"}
					}
					want := askPageRef(r, l.Code, f, rep)
					m, err := r.AskPage(l.Code, f, rep, 0)
					if err != nil || m.Text != want {
						t.Fatalf("%s %s %s: %q (%v), want %q", f.ID, l.Code, q.Name, m.Text, err, want)
					}
					n++
				}
			}
		}
	}
	t.Logf("%d texts compared", n)
}

// A key whose data cannot be encoded fails the keyboard, on any page, as
// it did when every key was encoded.
func TestKeyboardRefusesBadDataOnAnyPage(t *testing.T) {
	r, _ := testRenderer(t)
	var bs []dialog.Button
	for i := range 40 {
		bs = append(bs, dialog.Button{Kind: dialog.BtnChoose, Literal: "option " + strconv.Itoa(i), Option: strconv.Itoa(i)})
	}
	long := strings.Repeat("x", 60)
	for _, bad := range []dialog.Button{
		{Kind: dialog.BtnChoose, Literal: "last", Option: long},
		{Kind: dialog.BtnChoose, Literal: "nul", Option: "a\x00b"},
		{Kind: dialog.ButtonKind(99), Literal: "kind", Option: "k"},
	} {
		rep := dialog.Reply{Kind: dialog.ReplyAsk, Pos: 3, Seq: 4, Buttons: append(append([]dialog.Button(nil), bs...), bad)}
		for page := range 3 {
			_, werr := keyboardRef(r, "it", rep, page)
			_, gerr := r.keyboard("it", rep, page)
			if werr == nil || gerr == nil {
				t.Fatalf("%q on page %d: error %v, before %v", bad.Option, page, gerr, werr)
			}
		}
	}
	if _, err := r.keyboard("it", dialog.Reply{Kind: dialog.ReplyAsk, Pos: -1, Buttons: bs}, 0); err == nil {
		t.Fatal("a negative position encoded")
	}
}

// The layout cache keeps little per keyboard: its key is a 128-bit hash
// of the buttons, not the buttons' ~400 bytes, and a layout's rows share
// their arrays. Every list of the shipped questionnaires in every language
// (1,656 keyboards) is laid out once to parse the messages' templates,
// then again into an empty cache, whose heap is measured: ~860 bytes a
// layout (1,290 with the buttons as the key and an array per row).
func TestLayoutCacheRetainsLittle(t *testing.T) {
	r, lib := testRenderer(t)
	render := func() {
		for _, f := range lib.Forms() {
			for _, l := range r.cat.Languages() {
				for qi, q := range f.Questions {
					if q.List == nil {
						continue
					}
					var bs []dialog.Button
					for _, c := range q.List.Choices {
						kind := dialog.BtnChoose
						if q.Type == dialog.TypeSelectMultiple {
							kind = dialog.BtnToggle
						}
						bs = append(bs, dialog.Button{Kind: kind, Label: c.Label, Option: c.Name})
					}
					bs = append(bs, dialog.Button{Kind: dialog.BtnBack, Label: dialog.MsgBack})
					if _, err := r.keyboard(l.Code, dialog.Reply{Kind: dialog.ReplyAsk, Question: q.Name, Pos: qi, Buttons: bs}, 0); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	render()
	r.layouts = nil
	// Twice: what sync.Pools hold goes in the second collection.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	render()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := len(r.layouts)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d layouts keep %d bytes (%d a layout)", n, kept, kept/int64(max(n, 1)))
	if n == 0 || kept > int64(n)*1100 {
		t.Errorf("%d layouts keep %d bytes of heap, want at most 1,100 a layout", n, kept)
	}
}

// A card's keyboard costs three allocations once its layout is cached:
// the keys, their callback data (one string, written once) and the rows.
// The data was copied from a buffer into its string, and the ends of its
// pieces had a slice of their own (five).
func TestKeyboardAllocations(t *testing.T) {
	r, lib := testRenderer(t)
	f := lib.Forms()[0]
	for _, q := range f.Questions {
		if q.List == nil || len(q.List.Choices) < 3 {
			continue
		}
		var bs []dialog.Button
		kind := dialog.BtnChoose
		if q.Type == dialog.TypeSelectMultiple {
			kind = dialog.BtnToggle
		}
		for _, c := range q.List.Choices {
			bs = append(bs, dialog.Button{Kind: kind, Label: c.Label, Option: c.Name})
		}
		if kind == dialog.BtnToggle {
			bs = append(bs, dialog.Button{Kind: dialog.BtnDone, Label: dialog.MsgDone})
		}
		bs = append(bs, dialog.Button{Kind: dialog.BtnBack, Label: dialog.MsgBack})
		rep := dialog.Reply{Kind: dialog.ReplyAsk, Question: q.Name, Pos: q.Index, Seq: 41, Buttons: bs}
		if _, err := r.keyboard("it", rep, 0); err != nil {
			t.Fatalf("%s: %v", q.Name, err)
		}
		if n := testing.AllocsPerRun(20, func() { r.keyboard("it", rep, 0) }); n > 3 {
			t.Errorf("%s: the keyboard of %d keys takes %v allocations, want at most 3", q.Name, len(bs), n)
		}
	}
}
