// Package interview is needsbot's application core: it owns the interview
// turn for every kind of input — a Telegram-derived message or tap, a
// scheduled input (expiry, a reminder), a staff action — through one entry,
// Core.Apply. A turn resolves the invite, loads the session and dedups the
// input by its idempotency key, runs dialog.Step, records a completion,
// saves with compare-and-swap, and hands the replies, as data, to the
// channel that renders and sends them. Abandonment, erasure (/delete) and
// the reminders' turn logic live here too.
//
// interview does no Telegram and no storage: it declares the small
// interfaces it needs (Sessions, Responses, Outbox, Invites, Reminders,
// MessageLog) and cmd wires the storage types in; the Telegram adapter
// (bot) drives it.
package interview
