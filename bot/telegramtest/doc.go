// Package telegramtest is a fake Telegram Bot API server for tests, load
// tests and local trial runs, in the spirit of net/http/httptest.
//
// NewServer starts an HTTP server on a loopback port. A bot under test talks to
// it exactly as it would talk to api.telegram.org (for go-telegram/bot:
// bot.WithServerURL(server.URL)), while the test plays the people on the other
// side through User, Group and Channel: sending text and commands, tapping
// inline buttons, and reading the chat as a person would see it now.
//
// # What is faithful
//
//   - Transport: POST (or GET) {URL}/bot{token}/{method}, with multipart/form-data,
//     application/x-www-form-urlencoded, application/json or query parameters;
//     method names are case-insensitive; answers are {"ok":true,"result":...} or
//     {"ok":false,"error_code":N,"description":"...","parameters":{...}} with the
//     HTTP status equal to the error code. A wrong token gets 401 Unauthorized,
//     an unknown method 404 Not Found.
//   - Updates: update ids strictly increase across the server, message ids per
//     chat, dates come from the clock. getUpdates long-polls with offset, limit,
//     timeout and allowed_updates; updates below the offset are forgotten; a
//     second concurrent poller terminates the first with 409, and getUpdates
//     while a webhook is set is a 409. setWebhook delivers updates as JSON with
//     X-Telegram-Bot-Api-Secret-Token, one at a time per chat and in order,
//     redelivers after a non-2xx answer or a transport error (with a short,
//     configurable backoff and a bounded number of attempts), and executes a
//     method call returned in the body of a 2xx answer, as Telegram does.
//   - Text: parse_mode HTML is parsed with the algorithm of TDLib (the library
//     behind the Bot API), so malformed or unsupported tags produce the same
//     "Bad Request: can't parse entities: ..." descriptions and byte offsets,
//     and entities carry UTF-16 offsets. Like Telegram, the text is then
//     cleaned (\r removed, control characters turned into spaces,
//     whitespace-only entities dropped, leading and trailing spaces and newlines
//     trimmed) and only then measured: at most 4096 characters (Unicode code
//     points) for text, 1024 for captions.
//   - Errors: empty or too long text, callback_data outside 1–64 bytes
//     (BUTTON_DATA_INVALID), text-only inline buttons, more than 100 inline
//     buttons or more than 8 in a row, editing with identical text and markup
//     ("message is not modified"), editing or deleting an unknown message,
//     answering an unknown, already answered or expired callback query, chats
//     that do not exist or whose user never started the bot or blocked it (403),
//     and flood limits (429 with parameters.retry_after).
//   - editMessageText without reply_markup removes the inline keyboard, as it
//     does on Telegram.
//   - Blocking and unblocking the bot produce my_chat_member updates; in groups
//     with privacy mode (the default) the bot only receives commands, replies
//     to its messages and mentions of its username.
//
// # What is not
//
//   - Only the methods a questionnaire bot needs are implemented (see
//     Server.ServeHTTP); the others answer 404 Not Found, as unknown methods do.
//   - Flood control is a model, not Telegram's secret algorithm: token buckets
//     per chat (by default a burst of 5 refilled at 1 message/s, 20 per minute in
//     groups) and per bot (30/s). New messages count against both; edits count
//     only against the per-bot limit; answerCallbackQuery, sendChatAction and
//     deleteMessage are never limited. The buckets follow the injected clock;
//     long-poll timeouts and webhook backoff use real time.
//   - Telegram accepts a bare '&' in HTML text and shows it literally. The fake
//     does too, but records a Violation with Code 0, because it almost always
//     means that text was not escaped; WithStrictHTML turns it into a 400.
//   - Markdown and MarkdownV2 are accepted but not parsed: the text is stored as
//     sent. The legacy "Markdown" mode is recorded as a Code 0 Violation.
//   - Entities that Telegram detects by itself in the bot's messages (URLs,
//     mentions, hashtags) are not added; in users' messages only bot_command
//     entities are.
//   - Files are kept in memory; photos must be PNG, JPEG or GIF (Telegram also
//     takes other formats); getFile answers file_path "documents/<file_id>"
//     and the data is served at {URL}/file/bot{token}/{file_path}.
//   - setWebhook accepts plain http:// URLs on any port (Telegram requires HTTPS
//     on ports 443, 80, 88 or 8443) and ignores certificates and ip_address.
//
// Every error answer except those injected with FailNext is recorded as a
// Violation, so a test can assert that a run produced none. Memory is bounded:
// each chat keeps its most recent messages (10,000 by default), and the update
// queue, the violation log and the file store are capped too.
//
// Everything is safe for concurrent use; waiting (WaitFor, WaitMessage,
// WaitHandled, long polling) blocks on channels that are closed on change,
// never on sleep loops.
package telegramtest
