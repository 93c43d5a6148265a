// Package dialog is the domain of needsbot: the questionnaire model (loaded from
// XLSForm-style YAML, with expressions parsed by dialog/xpath), the interview State, and
// the pure Step function that moves an interview forward.
//
// dialog does no I/O and knows nothing of Telegram, Redis, Postgres or go-i18n:
// it emits Replies made of message ids, arguments and typed buttons, and the
// channel (package bot) renders them. Everything that moves an interview is an
// Input value; time enters only as Step's now argument.
package dialog
