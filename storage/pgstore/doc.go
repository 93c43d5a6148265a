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
// A response's answers are stored in its own row (migration 00014), as
// parallel arrays: one element per answer (answer_questions,
// answer_values, answer_nums) and one per selected choice
// (choice_questions, choices). The views answers and answer_choices
// unnest them into one row per answer and per choice, so that results
// and manual SQL are GROUP BY queries as before; the rollup job and the
// exports read the arrays directly.
// Which answers are numbers or choices is decided by the XLSForm type of
// each question, carried in Completed.Types because a response can outlive
// the form version it was made with (it may wait in the outbox).
package pgstore
