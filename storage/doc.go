// Package storage owns needsbot's backing services. Each outside world has
// its own subpackage so that go-redis and pgx never leak past this tree:
//
//   - redisstore: live interview state per chat with compare-and-swap,
//     update-id dedup, abandonment records, the durable completion outbox and
//     rate limits (Redis);
//   - pgstore: the system of record: embedded migrations, municipalities,
//     services, staff, invites, completed responses with normalised answers,
//     abandonment counts and the append-only audit log (Postgres);
//   - durable: what moves from Redis to Postgres — completions (straight,
//     or through the outbox while Postgres is down), abandoned interviews,
//     and the retention that unlinks old responses — with their Run loops;
//   - storagetest: helpers that give each test its own Redis key prefix or
//     Postgres database, and a TCP proxy for fault tests.
//
// This root package holds only what both sides share: the keyed pseudonym
// under which respondents are stored, and RedactURL for printing a store's
// URL.
package storage
