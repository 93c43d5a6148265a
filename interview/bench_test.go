package interview

import (
	"context"
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog"
)

// BenchmarkApplyTap is the core's own cost of one tap (load+dedup, Step,
// encode, save, mark sent) over in-memory ports: no Redis, no Telegram.
func BenchmarkApplyTap(b *testing.B) {
	m := newMemPorts()
	core := New(Config{Forms: miniForms(b), DefaultForm: "mini", Sessions: m, Responses: m,
		Now: func() time.Time { return testNow }})
	at := stateAt(b, inStart, inLangEN, inYes) // at "likes"
	blob := blobOf(b, at)
	ctx := context.Background()
	ch := channelFunc(func(ctx context.Context, t *Turn) error {
		_, err := t.Step(ctx, dialog.Input{Kind: dialog.InChoose, Option: "yes", Button: true, Pos: at.Pos, Seq: at.Seq}, true)
		return err
	})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.log = m.log[:0]
		m.states[7] = Loaded{Blob: blob, Version: at.Version}
		if err := core.Apply(ctx, Input{Kind: KindChat, Key: UpdateKey(int64(i + 1)), Chat: 7, User: 7}, ch); err != nil {
			b.Fatal(err)
		}
	}
}
