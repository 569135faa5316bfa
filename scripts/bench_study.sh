#!/usr/bin/env bash
# Times `catalyst study --all` on generated event times over real prices, next to the
# Python peer (statsmodels OLS, scripts/python_peer_study.py) on the same inputs, and
# prints the figures. Uses a private PostgreSQL cluster in a temporary folder.
#
#   EVENTS=10000 PEER_EVENTS=300 SYN_TOKENS=500 SYN_EVENTS=2000 scripts/bench_study.sh
#   SYN_TOKENS=0 scripts/bench_study.sh     # the real tokens only
#
# Needs the release build's dependencies, python3 with numpy and statsmodels, psql,
# and ../shared/data.
set -euo pipefail
unset DATABASE_URL   # always the private cluster below
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-10000}
PEER_EVENTS=${PEER_EVENTS:-300}
SYN_TOKENS=${SYN_TOKENS:-500}
SYN_EVENTS=${SYN_EVENTS:-2000}
PRICES=../shared/data/prices/binance-hourly-close

cargo build --release -q
BIN=$PWD/target/release/catalyst
work=$(mktemp -d /tmp/catalyst-bench-XXXXXX)
chmod 755 "$work"   # the server may run as another user (see README, "As root")
holder=""
cleanup() { [ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

run_set() {  # $1: label, $2: price dir, $3: events
  local pg="$work/pg-$1"
  # A long-lived `serve` keeps the private cluster up, so the timed commands don't
  # include starting it.
  RUST_LOG=warn "$BIN" --pg-dir "$pg" serve --no-worker --addr 127.0.0.1:0 >/dev/null 2>&1 &
  holder=$!
  for _ in $(seq 50); do [ -S "$pg/.s.PGSQL.5432" ] && break; sleep 0.2; done
  python3 scripts/gen_study_inputs.py events "$3" "$work/events-$1.rss"
  local t0=$(date +%s.%N)
  RUST_LOG=warn "$BIN" --pg-dir "$pg" prices import "$2" >/dev/null
  local t1=$(date +%s.%N)
  RUST_LOG=warn "$BIN" --pg-dir "$pg" ingest --feed "$work/events-$1.rss" >/dev/null
  local t2=$(date +%s.%N)
  RUST_LOG=warn "$BIN" --pg-dir "$pg" study --all
  local t3=$(date +%s.%N)
  local bars pairs
  bars=$(psql "postgres://catalyst@localhost/catalyst?host=$pg" -Atc "SELECT count(*) FROM price_bars")
  pairs=$(psql "postgres://catalyst@localhost/catalyst?host=$pg" -Atc "SELECT count(*) FROM study_token_estimates")
  local rate
  rate=$(echo "$pairs / ($t3 - $t2)" | bc -l)
  printf '%s: %s bars imported in %.1f s; %s events ingested in %.1f s; study --all: %.1f s for %s token-event pairs (%.0f pairs/s)\n' \
    "$1" "$bars" "$(echo "$t1 - $t0" | bc)" "$3" "$(echo "$t2 - $t1" | bc)" "$(echo "$t3 - $t2" | bc)" "$pairs" "$rate"
  RUST_LOG=warn "$BIN" --pg-dir "$pg" study >/dev/null
  local t4=$(date +%s.%N)
  printf '%s: incremental study with nothing changed: %.1f s\n' "$1" "$(echo "$t4 - $t3" | bc)"
  if [ "$1" = real ]; then
    local peer peer_rate
    peer=$(python3 scripts/python_peer_study.py "postgres://catalyst@localhost/catalyst?host=$pg" "$PEER_EVENTS")
    echo "$peer"
    peer_rate=$(echo "$peer" | sed -n 's/.*(\([0-9,]*\) pairs\/s.*/\1/p' | tr -d ,)
    printf 'ratio: catalyst study --all (end to end, with writes) / python statsmodels loop (no writes) = %.1f\n' \
      "$(echo "$rate / $peer_rate" | bc -l)"
  fi
  kill "$holder"; wait "$holder" 2>/dev/null || true; holder=""
}

echo "== $(nproc) cores; catalyst $("$BIN" --version)"
run_set real "$PRICES" "$EVENTS"
if [ "$SYN_TOKENS" -gt 0 ]; then   # SYN_TOKENS=0: the real set only
  mkdir -p "$work/syn"
  cp "$PRICES"/BTCUSDT.csv "$PRICES"/ETHUSDT.csv "$work/syn/"
  python3 scripts/gen_study_inputs.py tokens "$SYN_TOKENS" "$work/syn"
  run_set "synthetic-$SYN_TOKENS" "$work/syn" "$SYN_EVENTS"
fi
