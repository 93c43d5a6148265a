// Package results turns responses into what municipal managers plan with.
//
// It owns /results and /export for staff (it implements staff.Results):
// a summary per questionnaire, period, service and language — completed
// and abandoned interviews, completion rate, median duration, languages,
// top priorities, top needs per area — with small-cell suppression of every
// number staff see (Suppress: counts below the minimum cell size show as
// "<5", and a breakdown that would reveal one by subtraction hides more);
// charts drawn as PNG (the need areas, immigrants' priorities beside what
// operators cannot meet, and the top needs); where interviews are
// abandoned; municipalities compared side by side for admins; and
// row-level CSV and XLSX exports streamed from Postgres, audit-logged, with
// formula injection neutralised.
//
// It also makes synthetic interviews (Synth) by walking the real
// questionnaires with dialog.Step, for benchmarks and demos, and the rows
// of the reporting schema's label tables for BI tools (docs/bi.md).
//
// Counting happens in storage/pgstore (a daily rollup kept by triggers);
// this package decides what may be shown and how.
package results
