package results

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needsbot/needsbot/dialog/forms"
	"github.com/needsbot/needsbot/locales"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// The benchmarks run against a large database that the default test run
// never builds: create one with
//
//	needsbot seed --responses 1000000 --database-url postgres://…/needsbot_bench
//
// then
//
//	NEEDSBOT_BENCH_DATABASE_URL=postgres://…/needsbot_bench go test ./results -run - -bench . -benchtime 20x
//
// Without the variable they skip.
func benchService(b *testing.B) *Service {
	b.Helper()
	dsn := os.Getenv("NEEDSBOT_BENCH_DATABASE_URL")
	if dsn == "" {
		b.Skip("NEEDSBOT_BENCH_DATABASE_URL not set: no large database to measure")
	}
	db, err := pgstore.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	lib, err := forms.Load("")
	if err != nil {
		b.Fatal(err)
	}
	cat, err := locales.New()
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Places: db, Services: db, Counts: db, Rows: db, Auditor: db, Reporting: db, Forms: lib, Catalog: cat, TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkReport is the whole aggregation behind one /results message
// (every query and the suppression), for the filters managers pick.
func BenchmarkReport(b *testing.B) {
	s := benchService(b)
	ms, err := s.db.Municipalities(ctx)
	if err != nil || len(ms) == 0 {
		b.Fatal(ms, err)
	}
	big := ms[0].ID
	svcs, err := s.db.Places.(*pgstore.DB).Services(ctx, big)
	if err != nil || len(svcs) == 0 {
		b.Fatal(svcs, err)
	}
	n, err := s.db.Places.(*pgstore.DB).CountResponses(ctx, pgstore.ResultsScope{Form: "immigrati"})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d completed immigrant interviews in the database", n)
	for _, bc := range []struct {
		name string
		f    Filter
	}{
		{"all municipalities, all time", Filter{Form: "immigrati"}},
		{"one municipality, all time", Filter{Form: "immigrati", Municipality: big}},
		{"one municipality, 30 days", Filter{Form: "immigrati", Municipality: big, Days: 30}},
		{"all, 7 days", Filter{Form: "immigrati", Days: 7}},
		{"one service", Filter{Form: "immigrati", Municipality: big, Service: svcs[0].ID}},
		{"one language", Filter{Form: "immigrati", Language: "ar"}},
		{"service and language", Filter{Form: "immigrati", Municipality: big, Service: svcs[0].ID, Language: "ar"}},
		{"operators", Filter{Form: "operatori"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				rep, err := s.Report(ctx, bc.f)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Completed.N == 0 {
					b.Fatal("nothing counted")
				}
			}
		})
	}
	b.Run("comparison of municipalities", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Compare(ctx, Filter{Form: "immigrati"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("charts", func(b *testing.B) {
		for b.Loop() {
			a, err := s.AreasFor(ctx, Filter{Form: "immigrati"})
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.areasChart("it", a, described{Place: "Roma"}).render(s.fonts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExport writes a full export of about 100,000 responses (the
// most recent ones of every municipality), reporting rows, bytes and the
// peak Go heap while it runs.
func BenchmarkExport(b *testing.B) {
	s := benchService(b)
	target := 100_000
	if v := os.Getenv("NEEDSBOT_BENCH_EXPORT_ROWS"); v != "" {
		if _, err := fmt.Sscan(v, &target); err != nil {
			b.Fatal(err)
		}
	}
	// The day from which about target responses were completed.
	loc := pgstore.ResultsLocation()
	since := time.Now().In(loc)
	since = time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, loc)
	var n int
	for n < target {
		since = since.AddDate(0, 0, -1)
		var err error
		if n, err = s.db.Places.(*pgstore.DB).CountResponses(ctx, pgstore.ResultsScope{Form: "immigrati", Since: since}); err != nil {
			b.Fatal(err)
		}
		if since.Before(time.Now().AddDate(-2, 0, 0)) {
			break
		}
	}
	scope := pgstore.ResultsScope{Form: "immigrati", Since: since}
	for _, format := range []string{FormatCSV, FormatXLSX} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				var peak atomic.Uint64
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() {
					var m runtime.MemStats
					t := time.NewTicker(5 * time.Millisecond)
					defer t.Stop()
					for {
						runtime.ReadMemStats(&m)
						if m.HeapInuse > peak.Load() {
							peak.Store(m.HeapInuse)
						}
						select {
						case <-stop:
							return
						case <-t.C:
						}
					}
				})
				cw := &countingWriter{}
				start := time.Now()
				rows, err := s.Export(ctx, cw, ExportRequest{Format: format, Lang: "it", Scope: scope, Via: "benchmark"})
				el := time.Since(start)
				close(stop)
				wg.Wait()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(rows), "rows")
				b.ReportMetric(float64(cw.n)/(1<<20), "MB")
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
			}
		})
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)
