// Package durable moves what Redis holds for a while into Postgres, which
// keeps it: a completed response goes straight to Postgres, or — when the
// interview core finds Postgres unable to take it — into the Redis outbox,
// drained into Postgres later; an interview abandoned after consent is recorded once its state
// expires in Redis; and responses older than the retention period are
// unlinked from their pseudonyms. It is the one package that works with
// both stores; cmd/needsbot only constructs its types and starts their
// Run loops.
package durable
