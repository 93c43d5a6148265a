// Package bot is needsbot's Telegram channel: the only importer of
// github.com/go-telegram/bot. It takes updates (webhook or long polling),
// keeps one chat's updates in order, turns each into an input of the
// application core (interview.Core.Apply, which loads, dedups, steps and
// saves the interview), renders the replies the core decided in the
// respondent's language as HTML with inline keyboards, and sends them
// through one outbound sender that owns Telegram's rate limits and errors.
//
// Button data is a typed, versioned codec (codec.go) routed by one table
// of every kind of button, the respondents' and the staff's (Routes,
// route.go; package menu builds staff buttons on its staff rows).
//
// bot never imports storage: the core declares the stores it needs and
// cmd wires them in; bot declares only its Telegram-side needs (Staff,
// Throttle, Directory).
//
// Several go-telegram/bot defaults are unsafe for us (DESIGN.md): its
// update loop runs every update in its own goroutine, its webhook handler
// answers 200 before processing and for a wrong secret, and its poller
// commits the offset before handling. So the webhook handler, the poller
// and the per-chat workers are ours; the library is used for Bot API calls.
package bot
