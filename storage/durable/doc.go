// Package durable moves what Redis holds for a while into Postgres, which
// keeps it: a completed response goes straight to Postgres, or into the
// Redis outbox while Postgres cannot take it (and from there to Postgres
// later); an interview abandoned after consent is recorded once its state
// expires in Redis; and responses older than the retention period are
// unlinked from their pseudonyms. It is the one package that works with
// both stores; cmd/needsbot only constructs its types and starts their
// Run loops.
package durable
