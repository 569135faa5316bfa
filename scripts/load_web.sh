#!/usr/bin/env bash
# Load test of the ranked page: 10,000 generated events (scripts/gen_study_inputs.py,
# seeded) over the 82 real tokens, studied, then `wrk` against `/` (and a filtered view
# and an event page) at 64 connections. Prints requests/s and latency percentiles.
#
#   EVENTS=10000 DURATION=20s CONNECTIONS=64 scripts/load_web.sh
#
# Needs wrk (apt-get install wrk), python3, ../shared/data. Runs everything on 127.0.0.1.
set -euo pipefail
unset DATABASE_URL   # always the private cluster below
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-10000}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }

cargo build --release -q
BIN=$PWD/target/release/catalyst
work=$(mktemp -d /tmp/catalyst-load-XXXXXX)
chmod 755 "$work"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

pg="$work/pg"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$BIN" --pg-dir "$pg" serve --no-worker --addr "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
python3 scripts/gen_study_inputs.py events "$EVENTS" "$work/events.rss"
RUST_LOG=warn "$BIN" --pg-dir "$pg" prices import ../shared/data/prices/binance-hourly-close >/dev/null
RUST_LOG=warn "$BIN" --pg-dir "$pg" ingest --feed "$work/events.rss" >/dev/null
RUST_LOG=warn "$BIN" --pg-dir "$pg" study --all
event=$(curl -s "http://127.0.0.1:$port/api/v1/events?per_page=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"][0]["id"])')

echo "== $(nproc) cores, $EVENTS events, wrk -t2 -c$CONNECTIONS -d$DURATION (server and wrk share the machine)"
for path in "/" "/?category=ai&min_score=1" "/events/$event" "/api/v1/events"; do
  echo "-- GET $path"
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$port$path" \
    | grep -E "Requests/sec|Non-2xx|Socket errors|^ +(50|75|90|99)%|Latency  "
done
