// Package pgstore is needsbot's system of record in Postgres: embedded
// migrations (applied under an advisory lock), municipalities and their
// services, staff and invites, completed responses with normalised answers,
// abandonment counts and the append-only audit log.
//
// Respondents appear only under their keyed pseudonym (storage.Pseudonym):
// a raw Telegram user id never reaches this package's tables. Erase deletes
// a respondent's responses; ApplyRetention later drops the pseudonym so old
// responses become anonymous.
//
// Answers are stored one row per question (answers) and one row per
// selected choice (answer_choices), so that results are GROUP BY queries.
// Which answers are numbers or choices is decided by the XLSForm type of
// each question, carried in Completed.Types because a response can outlive
// the form version it was made with (it may wait in the outbox).
package pgstore
