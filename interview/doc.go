// Package interview is needsbot's application core: it owns the interview
// turn for every kind of input — a Telegram-derived message or tap, a
// scheduled input (expiry, a reminder), a staff action — through one entry,
// Core.Apply. A turn resolves the invite, loads the session and dedups the
// input by its idempotency key, runs dialog.Step, records a completion,
// saves with compare-and-swap, and hands the replies, as data, to the
// channel that renders and sends them. Abandonment, erasure (/delete) and
// the reminders' turn logic live here too.
//
// # Inputs and their keys
//
// Every input carries an idempotency Key, checked in the same round trip
// that loads the session, and recorded with the save:
//
//   - KindChat: a Telegram update (UpdateKey, the update id), interpreted
//     by the channel (Channel.Present).
//   - KindRemind: the interview's one reminder, due (RemindKey of the chat
//     and the due time). Its flag is saved before it goes out, so a job
//     that comes again — its lease ran out mid-send, maybe on another
//     replica — finds its key applied and sends nothing: at most once.
//   - KindExpire: the interview idled out (ExpireKey of the chat and the
//     session version the job was armed at). With Config.ExpireAfter, every
//     save past consent arms the expiry job with the save
//     (Abandon.Expires); the scheduler (package schedule) delivers it, the
//     core records the abandonment through Abandonments (before saving),
//     applies dialog.InExpire and tells the person. A job armed at an older
//     version expires nothing. The store's TTL and the abandonment sweep
//     (storage/durable) remain the safety net for sessions with no job.
//   - KindPublished: a staff action outside any chat — a version of a form
//     was published (Input.Form, Input.FormVersion), delivered to a chat
//     with PublishedKey(form, version, chat). What it does: an interview
//     still at the language choice of an older version of that form
//     (nothing answered, no consent given) moves to the published
//     version, if the turn's snapshot (formlib) has it; any other interview
//     keeps the version it began with (its consent was given on that
//     version's text). Nothing is said to the person; a key applied
//     before moves nothing. Who sends it: each save of a state at a form's
//     language choice says so (Stage.WaitingAt) and the store indexes the
//     chat under the form in the save's round trip; a replica whose
//     formlib swap brings a newer version of a form announces it
//     (redisstore.Announce: one job however many replicas announce);
//     the scheduler leases the job to one replica, which walks the
//     waiting chats in batches (ForEachWaiting) and applies the input to
//     each through its mailbox (bot.Intake.Scheduled). A fan-out cut
//     short is claimed again; the keys keep each chat from applying it
//     twice. Interviews past the language choice are not indexed, since
//     the input would change nothing for them. Retiring a form is not an
//     input yet.
//
// interview does no Telegram and no storage: it declares the small
// interfaces it needs (Sessions, Responses, Outbox, Invites, Reminders,
// Abandonments, MessageLog) and cmd wires the storage types in; the
// Telegram adapter (bot) drives it.
package interview
