package bot

import (
	"context"
	"testing"
)

// TestWebhookAnswerMadeOnce: a webhook tap's turn offers its callback
// answer before each Bot API call (answerNow) and returns it (finish): one
// answer object for all of them while the notice stays the same (before,
// one per offer and one more for the outcome), a new one when the notice
// changes, the one offered last being what the turn returns.
func TestWebhookAnswerMadeOnce(t *testing.T) {
	j := &job{webhook: true}
	ctx := context.WithValue(context.Background(), workKey{}, &work{j: j})
	tr := &turn{ev: event{query: "q1"}, defer_: true}
	n := testing.AllocsPerRun(50, func() {
		tr.offer = nil
		_ = tr.answerNow(ctx)
		_ = tr.answerNow(ctx)
		out, _ := tr.finish(ctx)
		if out.Answer != j.offered() || out.Answer.QueryID != "q1" {
			t.Fatalf("finish returned %+v, offered %+v", out.Answer, j.offered())
		}
	})
	if n > 1 {
		t.Errorf("two offers and the outcome made %.0f callback answers, want 1", n)
	}
	_ = tr.answerNow(ctx)
	tr.notice = "Please wait a moment"
	_ = tr.answerNow(ctx)
	if got := j.offered(); got.Text != tr.notice || got.QueryID != "q1" {
		t.Errorf("after the notice changed the offer is %+v", got)
	}
	if out, _ := tr.finish(ctx); out.Answer != j.offered() {
		t.Errorf("finish returned %+v, offered %+v", out.Answer, j.offered())
	}
}
