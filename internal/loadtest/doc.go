// Package loadtest is `needsbot loadtest`: it runs the real needsbot binary
// as a child process against the fake Bot API (bot/telegramtest), a real
// Redis under a unique key prefix and a fresh Postgres database, drives
// simulated respondents through the immigrants' interview and reports
// throughput, latency, Telegram calls per update, 429s and resource use.
// Its Walker is the one simulated respondent of the project's tools and
// tests (the chaos matrix and the end-to-end tests walk with it too).
// It is a development tool: the production build (-tags prod) leaves it
// out.
package loadtest
