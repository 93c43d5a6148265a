package dialog

import (
	"strings"
	"testing"
)

const labelSrc = `
form: lbl
version: 2
survey:
  - type: hidden svc
    name: invite
  - type: select_one svc
    name: servizio
    relevant: "${invite} = ''"
  - type: calculate svc
    name: rated
    calculation: "if(${invite} != '', ${invite}, ${servizio})"
  - type: select_one yn
    name: ok
    label_id: ok_v2
    label_choice: rated
    relevant: "${rated} != ''"
  - type: select_one yn
    name: after
choices:
  svc: ["anagrafe", "asl", "other"]
  yn: ["yes", "no"]
`

// TestLabelIDAndLabelChoice: label_id gives a question its own text ids;
// label_choice passes the chosen choice's label id as "Choice"; a
// relevance that depends on a calculation sees its value in the same step.
func TestLabelIDAndLabelChoice(t *testing.T) {
	f, err := Parse("lbl.yaml", []byte(labelSrc))
	if err != nil {
		t.Fatal(err)
	}
	q := f.Question("ok")
	if q.Label != "q.lbl.ok_v2" || q.LabelChoice != f.Question("rated") {
		t.Fatalf("label %q, label choice %v", q.Label, q.LabelChoice)
	}
	x := newSession(t, f)
	x.s.Lang = "it"
	x.do(Input{Kind: InStart})
	out := x.tap("asl")
	var ask *Reply
	for i, r := range out {
		if r.Kind == ReplyAsk {
			ask = &out[i]
		}
	}
	if ask == nil || ask.Question != "ok" {
		t.Fatalf("after the service, want the rating asked (a stale calculation skips it): %+v", out)
	}
	if ask.Msg != "q.lbl.ok_v2" || ask.Args["Choice"] != "c.lbl.svc.asl" {
		t.Fatalf("ask %q with %v", ask.Msg, ask.Args)
	}
	out = x.tap("yes")
	for _, r := range out {
		if r.Kind == ReplyAnswered && (r.Msg != "q.lbl.ok_v2" || r.Args["Choice"] != "c.lbl.svc.asl") {
			t.Fatalf("answered reply %q with %v", r.Msg, r.Args)
		}
	}

	// From an invite: the service question is not asked, the rating names
	// the invite's service.
	x = newSession(t, f)
	x.s.Lang = "it"
	out = x.do(Input{Kind: InStart, Context: map[string]string{"invite": "anagrafe"}})
	found := false
	for _, r := range out {
		if r.Kind == ReplyAsk {
			found = r.Question == "ok" && r.Args["Choice"] == "c.lbl.svc.anagrafe"
		}
	}
	if !found {
		t.Fatalf("with an invite, want the rating first, naming the invite's service: %+v", out)
	}

	// An invite code the list does not know is named as "other", never
	// left as an empty placeholder.
	x = newSession(t, f)
	x.s.Lang = "it"
	out = x.do(Input{Kind: InStart, Context: map[string]string{"invite": "nuovo_servizio"}})
	found = false
	for _, r := range out {
		if r.Kind == ReplyAsk {
			found = r.Question == "ok" && r.Args["Choice"] == "c.lbl.svc.other"
		}
	}
	if !found {
		t.Fatalf("unknown invite code: want the rating naming 'other': %+v", out)
	}
}

func TestLabelChoiceProblems(t *testing.T) {
	for _, tc := range []struct{ row, want string }{
		{"label_choice: nope", `no question "nope"`},
		{"label_choice: after", "must come before"},
		{"label_choice: multi", "must be a select_one"},
		{"label_id: 'bad id'", "label_id"},
	} {
		src := strings.Replace(`
form: p
version: 1
survey:
  - type: select_multiple yn
    name: multi
  - type: select_one yn
    name: q
    ROW
  - type: select_one yn
    name: after
choices:
  yn: ["yes", "no"]
`, "ROW", tc.row, 1)
		_, err := Parse("p.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.row, err, tc.want)
		}
	}
}
