// Package trykit is what `needsbot try` runs the bot on when nobody gave it
// anything: it chooses Redis (a local server, else an embedded miniredis)
// and Postgres (a local server's needsbot_try database, else a throwaway
// cluster made with the machine's initdb), and describes the demo staff,
// invite and web-chat personas. It is a development tool: the production
// build (-tags prod) leaves it out, and with it miniredis and the web chat.
package trykit
