#!/usr/bin/env bash
# Runs the peer benchmark of ../shared/peers (Telegraf peer, echo-go floor, loadgen) against this checkout,
# from a patched copy: the shared folder is read-only for the project, and two things in it keep needsbot's
# rows from comparing with the peer's (issue 19):
#
#   1. loadgen's generic walker kept its multi-select state per message id (0 → toggle → done → nothing),
#      and needsbot shows every question in one live card (the same message id, edited): the second
#      multi-select was never answered and every needsbot walk ended "stuck" after ~14 updates. The patch
#      answers a multi-select again when the same message shows a new keyboard after Done.
#   2. bench.sh gives needsbot a 14-character webhook secret; needsbot refuses secrets under 32 characters
#      (issue 11). The patch gives it a 36-character one.
#   3. needsbot's per-person inbound limit (20 updates in 10 s) refuses a walker that answers at machine speed
#      from the 21st update on: the patch raises it as it raises the outbound limits (`needsbot loadtest`
#      does the same); the limit is still counted on every update, so its cost stays in the figures.
#   (4. REDIS_PID: account the Redis the run uses — bench.sh picks the oldest redis-server otherwise.)
#   5. Under overload the walker gave up early (session 6): a tap's answer in its webhook response comes
#      after the tap's edit, so after the walker acted on that edit, and counted as a reaction to the next
#      update, it cut that update's wait from -timeout (30 s) to 3 s — walks ended "stuck" while their
#      update still waited for one of loadgen's 40 webhook connections. Only an update's own reactions count.
#   6. The multi-select walker toggles again only when the keyboard changed with nothing ticked, not when
#      the quiet period ran out before a slow bot's tick: a second toggle in flight unticked the first.
#
# The patch is deploy/bench/peers.patch; everything else is the shared bench.sh, unchanged.
#
#   deploy/bench/peers.sh bench            # bench.sh with NEEDSBOT_DIR set; its variables (BOTS, MODES, NS, REPS,
#                                          # REDIS_URL, NB_REDIS_URL, DATABASE_URL, NB_DATABASE_URL, OUT…) pass through
#   deploy/bench/peers.sh check [webhook|polling]   # loadgen -check: one needsbot walk, transcript on stdout
#
# bench.sh empties the Redis databases it uses (REDIS_URL, NB_REDIS_URL: default 1 and 2 of 127.0.0.1:6379):
# on a shared machine point both at a Redis of your own, e.g.
#   redis-server --port 6393 --save '' --daemonize yes --pidfile /tmp/r6393.pid
#   REDIS_URL=redis://127.0.0.1:6393/1 NB_REDIS_URL=redis://127.0.0.1:6393/2 REDIS_PID=$(cat /tmp/r6393.pid) \
#     BOTS="telegraf needsbot" MODES="webhook polling" NS=1000 REPS=3 deploy/bench/peers.sh bench
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-$root/../shared/peers}
[ -f "$PEERS/bench.sh" ] || PEERS=$root/../../shared/peers # a worktree one level deeper
[ -f "$PEERS/bench.sh" ] || { echo "no peers at $PEERS (set PEERS)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/needsbot-peers-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$PEERS/." "$work/"
rm -rf "$work/telegraf-bot/node_modules" # bench.sh copies the peer to $OUT and installs it there
# NOPATCH=1 runs the shared copy as it is (to see the walks stop).
[ -n "${NOPATCH:-}" ] || (cd "$work" && patch -s -p1 <"$root/deploy/bench/peers.patch")

case ${1:-bench} in
bench)
	NEEDSBOT_DIR=$root bash "$work/bench.sh"
	;;
check)
	mode=${2:-webhook}
	OUT=${OUT:-${TMPDIR:-/tmp}/needsbot-peers}
	NB_REDIS_URL=${NB_REDIS_URL:-redis://127.0.0.1:6379/2}
	NB_DATABASE_URL=${NB_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/needsbot_bench?sslmode=disable}
	mkdir -p "$OUT/bin"
	(cd "$work/loadgen" && go build -o "$OUT/bin/loadgen" .)
	(cd "$root" && go build -o "$OUT/bin/needsbot" ./cmd/needsbot)
	psql "${NB_DATABASE_URL%%/needsbot_bench*}/postgres" -qtc "SELECT 1 FROM pg_database WHERE datname='needsbot_bench'" | grep -q 1 ||
		psql "${NB_DATABASE_URL%%/needsbot_bench*}/postgres" -qc 'CREATE DATABASE needsbot_bench' >/dev/null
	NEEDSBOT_DATABASE_URL=$NB_DATABASE_URL "$OUT/bin/needsbot" migrate >/dev/null
	port=${HOOK_PORT:-18090}
	nb="NEEDSBOT_WEBHOOK_URL= NEEDSBOT_WEBHOOK_SECRET= NEEDSBOT_LISTEN_ADDR=127.0.0.1:$port"
	[ "$mode" = webhook ] && nb="NEEDSBOT_WEBHOOK_URL=http://127.0.0.1:$port/webhook NEEDSBOT_WEBHOOK_SECRET=loadgen-secret-0123456789abcdef0123 NEEDSBOT_LISTEN_ADDR=127.0.0.1:$port"
	# A fresh key prefix: the walk's chat and update ids repeat from run to run (bench.sh empties the
	# database instead).
	prefix="peerscheck:$(date +%s%N):"
	"$OUT/bin/loadgen" -check -addr "${API_ADDR:-127.0.0.1:18081}" -token 123456:LOADTEST -mode "$mode" -exec \
		"NEEDSBOT_TELEGRAM_TOKEN=123456:LOADTEST NEEDSBOT_TELEGRAM_API_URL=\$LOADGEN_API_ROOT NEEDSBOT_REDIS_URL='$NB_REDIS_URL' NEEDSBOT_REDIS_PREFIX=$prefix NEEDSBOT_DATABASE_URL='$NB_DATABASE_URL' NEEDSBOT_PSEUDONYM_KEY=loadgen-pseudonym-key-0123456789abcdef NEEDSBOT_DEFAULT_MUNICIPALITY=058091 NEEDSBOT_TELEGRAM_RATE=1000000 NEEDSBOT_TELEGRAM_CHAT_RATE=1000000 NEEDSBOT_INBOUND_LIMIT=1000000 NEEDSBOT_LOG_LEVEL=warn $nb exec '$OUT/bin/needsbot' run"
	;;
*)
	echo "usage: $0 [bench | check [webhook|polling]]"
	exit 2
	;;
esac
