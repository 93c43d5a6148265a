package results

import (
	"context"

	"github.com/needsbot/needsbot/org"
	"github.com/needsbot/needsbot/storage/pgstore"
)

// The stores results needs, each as small as its use (storage/pgstore's
// DB satisfies them all; cmd wires it into each). The rows they return are
// the aggregation's own types, kept in pgstore beside their SQL.

// Places looks municipalities up.
type Places interface {
	Municipalities(ctx context.Context) ([]org.Municipality, error)
	Municipality(ctx context.Context, id int64) (org.Municipality, error)
	MunicipalityID(ctx context.Context, istat string) (int64, error)
}

// Services looks services up: one by id, and those of a municipality
// that have responses.
type Services interface {
	Service(ctx context.Context, id int64) (org.Service, error)
	ResultsServices(ctx context.Context, municipality int64) ([]org.Service, error)
}

// Counts are the aggregates behind /results and the charts.
type Counts interface {
	ResultsTotals(ctx context.Context, s pgstore.ResultsScope) (pgstore.Totals, error)
	ResultsDays(ctx context.Context, s pgstore.ResultsScope) ([]pgstore.DayCount, error)
	ResultsChoices(ctx context.Context, s pgstore.ResultsScope, questions []string, perMunicipality bool) ([]pgstore.ChoiceCount, error)
}

// Rows streams the responses an export is made of.
type Rows interface {
	ExportResponses(ctx context.Context, s pgstore.ResultsScope, fn func(*pgstore.ExportRow) error) (int, error)
	ExportResponsesByDay(ctx context.Context, s pgstore.ResultsScope, fn func(*pgstore.ExportRow) error) (int, error)
}

// Auditor records staff views and exports in the audit log.
type Auditor interface {
	Audit(ctx context.Context, actor *int64, action string, detail any) error
}

// Reporting keeps the reporting tables' labels in step with the forms.
type Reporting interface {
	SyncReporting(ctx context.Context, questions []pgstore.ReportingQuestion, labels []pgstore.ReportingLabel, groups []pgstore.ReportingGroup) error
}

// stores is every store a Service uses, under one field (s.db) so that
// the code reads as one database.
type stores struct {
	Places
	Services
	Counts
	Rows
	Auditor
	Reporting
}

func (st stores) complete() bool {
	return st.Places != nil && st.Services != nil && st.Counts != nil && st.Rows != nil && st.Auditor != nil && st.Reporting != nil
}
