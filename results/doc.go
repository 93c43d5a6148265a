// Package results turns responses into what municipal managers plan with.
//
// It owns /results and /export for staff (it implements staff.Results, without importing staff: members and roles are package org's, buttons package menu's):
// a summary per questionnaire, period, service and language — completed
// and abandoned interviews, completion rate, median duration, languages,
// top priorities, top needs per area — where every count staff see goes
// through Protect, the cell-key method (docs/disclosure-control.md): each
// record carries a random key, a cell's key is the sum of its records'
// keys, and the count is rounded to a multiple of 5 by a rule looked up
// from the cell key (the same records always give the same value), shown as
// "<5" below the threshold; views count whole days before today and are
// audit-logged. It draws charts as PNG (the need areas, immigrants'
// priorities beside what operators cannot meet, and the top needs); says
// where interviews are abandoned; compares municipalities side by side for
// admins; and streams CSV and XLSX exports from Postgres, audit-logged,
// with formula injection neutralised.
//
// It also makes synthetic interviews (Synth) by walking the real
// questionnaires with dialog.Step, for benchmarks and demos, and the rows
// of the reporting schema's label tables for BI tools (docs/bi.md).
//
// Counting happens in storage/pgstore (a daily rollup kept by triggers,
// with the sums of the record keys); this package decides what may be
// shown and how.
package results
