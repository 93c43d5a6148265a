package pgstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/needsbot/needsbot/storage/pgstore"
)

// BenchmarkSaveResponse stores completed responses of 35 answers (a mix of
// select_one, select_multiple, integer and text: ~61 rows each) and reports
// responses per second, one writer at a time (with the rollup job's work:
// see docs/performance.md for Postgres CPU per interview), in the
// drainer's batches of 25 (each op is a batch) and from parallel writers.
func BenchmarkSaveResponse(b *testing.B) {
	e := newEnv(b)
	base := e.bigCompleted(b, "base", 35)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c := base
			c.ID = fmt.Sprint("s-", i)
			if err := e.db.SaveResponse(ctx, c); err != nil {
				b.Fatal(err)
			}
			if i%50 == 49 { // the rollup job's share: it ticks every minute, 50 interviews a minute is 3,000 an hour
				if _, err := e.db.RollupTick(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := e.db.CatchUpRollups(ctx, false); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
		if n := e.count(b, "SELECT count(*) FROM answers WHERE response_id = 's-0'"); n != 35 {
			b.Fatalf("%d answers stored, want 35", n)
		}
	})
	b.Run("batch25", func(b *testing.B) { // the drainer's batches (SaveResponses): 100 completions a second, 250 ms linger
		b.ReportAllocs()
		const size = 25
		batch := make([]pgstore.Completed, size)
		for i := 0; b.Loop(); i++ {
			for j := range batch {
				batch[j] = base
				batch[j].ID = fmt.Sprint("b-", i, "-", j)
			}
			if err := e.db.SaveResponses(ctx, batch); err != nil {
				b.Fatal(err)
			}
			if i%2 == 1 { // the rollup job's share, as in serial
				if _, err := e.db.RollupTick(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := e.db.CatchUpRollups(ctx, false); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "responses/s")
	})
	b.Run("parallel", func(b *testing.B) {
		var n atomic.Int64
		b.SetParallelism(4) // 4 × GOMAXPROCS writers
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c := base
				c.ID = fmt.Sprint("p-", n.Add(1))
				if err := e.db.SaveResponse(ctx, c); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
	})
}
