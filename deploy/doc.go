// Package deploy holds the deployment examples (compose.yaml, k8s/,
// Dockerfile) and, in its test, the checks that keep them least-privilege:
// Redis behind a password with no published port, the bot's Postgres role
// not a superuser, images pinned by digest, a NetworkPolicy, and secret
// placeholders that the bot refuses. It has no code.
package deploy
