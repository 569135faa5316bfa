#!/usr/bin/env bash
# Rows, sizes and times at 1x, 10x, 100x of the demo data (82 tokens' hourly bars,
# 31 events), for docs/scaling.md. Each factor k gets a fresh private cluster:
#   tokens  = 82 * min(k, TOKEN_CAP)   (the 82 real files + synthetic ones: beta * BTC + noise)
#   events  = 31 * k                   (generated headlines that name no token)
# then times `prices import`, `ingest`, `study --all`, and the first (uncached) and
# second (cached) render of the ranked list and of an event page.
#
#   FACTORS="1 10 100" TOKEN_CAP=10 scripts/scale.sh
#
# TOKEN_CAP keeps the 100x study at 10x tokens (100x tokens = 100 M bars and 25 M
# token-event pairs, beyond one session on 2 cores); BARS_ONLY_FACTOR=100 additionally
# loads 100x the bars alone and reports their size and load time.
set -euo pipefail
unset DATABASE_URL   # always the private clusters below
cd "$(dirname "$0")/.."
FACTORS=${FACTORS:-"1 10 100"}
TOKEN_CAP=${TOKEN_CAP:-10}
BARS_ONLY_FACTOR=${BARS_ONLY_FACTOR:-}
PRICES=../shared/data/prices/binance-hourly-close

cargo build --release -q
BIN=$PWD/target/release/catalyst
work=$(mktemp -d /tmp/catalyst-scale-XXXXXX)
chmod 755 "$work"
holder=""
cleanup() { [ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
secs() { printf '%.1f' "$(echo "$2 - $1" | bc)"; }

start_cluster() {  # $1: dir, $2: port. A long-lived `serve` holds the cluster up.
  RUST_LOG=warn "$BIN" --pg-dir "$1" serve --addr "127.0.0.1:$2" >/dev/null 2>&1 &
  holder=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.2; done
  echo "server did not start" >&2; exit 1
}
stop_cluster() { kill "$holder"; wait "$holder" 2>/dev/null || true; holder=""; }

price_dir() {  # $1: number of tokens -> a directory with that many price files
  local n=$1 dir="$work/prices-$1"
  mkdir -p "$dir"
  for f in "$PRICES"/*.csv; do ln -sf "$(realpath "$f")" "$dir/"; done
  if [ "$n" -gt 82 ]; then python3 scripts/gen_study_inputs.py tokens $((n - 82)) "$dir"; fi
  echo "$dir"
}

sql() { psql "postgres://catalyst@localhost/catalyst?host=$1" -Atc "$2"; }

echo "== $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; catalyst $("$BIN" --version); PostgreSQL $(psql --version | awk '{print $3}')"
printf '%-6s %8s %7s %11s %9s %9s %8s %10s %9s %9s %9s %10s %9s %9s\n' \
  factor tokens events bars bars_MB import_s ingest_s pairs study_s results_MB db_MB list_ms event_ms cached_ms
port=18600
for k in $FACTORS; do
  tf=$(( k < TOKEN_CAP ? k : TOKEN_CAP ))
  ntok=$((82 * tf)); nev=$((31 * k))
  pg="$work/pg-$k"; port=$((port + 1))
  start_cluster "$pg" "$port"
  dir=$(price_dir "$ntok")
  python3 scripts/gen_study_inputs.py events "$nev" "$work/events-$k.rss"
  t0=$(now); RUST_LOG=warn "$BIN" --pg-dir "$pg" prices import "$dir" >/dev/null; t1=$(now)
  RUST_LOG=warn "$BIN" --pg-dir "$pg" ingest --feed "$work/events-$k.rss" >/dev/null; t2=$(now)
  RUST_LOG=warn "$BIN" --pg-dir "$pg" study --all >/dev/null; t3=$(now)
  bars=$(sql "$pg" "SELECT count(*) FROM price_bars")
  bars_mb=$(sql "$pg" "SELECT pg_total_relation_size('price_bars') / 1048576")
  pairs=$(sql "$pg" "SELECT count(*) FROM study_token_estimates")
  res_mb=$(sql "$pg" "SELECT sum(pg_total_relation_size(c.oid)) / 1048576 FROM pg_class c WHERE relname LIKE 'study\_%' AND relkind = 'r'")
  db_mb=$(sql "$pg" "SELECT pg_database_size(current_database()) / 1048576")
  ev=$(sql "$pg" "SELECT event_id FROM event_impact ORDER BY impact_score DESC NULLS LAST LIMIT 1")
  list_ms=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/?per_page=50" | awk '{printf "%.0f", $1 * 1000}')
  event_ms=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/events/$ev" | awk '{printf "%.0f", $1 * 1000}')
  cached_ms=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/?per_page=50" | awk '{printf "%.1f", $1 * 1000}')
  printf '%-6s %8s %7s %11s %9s %9s %8s %10s %9s %9s %9s %10s %9s %9s\n' \
    "${k}x" "$ntok" "$nev" "$bars" "$bars_mb" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" \
    "$pairs" "$(secs "$t2" "$t3")" "$res_mb" "$db_mb" "$list_ms" "$event_ms" "$cached_ms"
  stop_cluster
  rm -rf "$pg" "$work/prices-$ntok"
done

if [ -n "$BARS_ONLY_FACTOR" ]; then
  k=$BARS_ONLY_FACTOR; ntok=$((82 * k)); pg="$work/pg-bars"; port=$((port + 1))
  start_cluster "$pg" "$port"
  dir=$(price_dir "$ntok")
  t0=$(now); RUST_LOG=warn "$BIN" --pg-dir "$pg" prices import "$dir" >/dev/null; t1=$(now)
  bars=$(sql "$pg" "SELECT count(*) FROM price_bars")
  bars_mb=$(sql "$pg" "SELECT pg_total_relation_size('price_bars') / 1048576")
  t2=$(now); sql "$pg" "SELECT count(*), avg(close) FROM price_bars_hourly WHERE token = 'BTC' AND open_time >= '2025-01-01' AND open_time < '2025-02-01'" >/dev/null; t3=$(now)
  echo "bars only, ${k}x: $ntok tokens, $bars bars, $bars_mb MB, import $(secs "$t0" "$t1") s ($(echo "$bars / ($t1 - $t0)" | bc) rows/s); one token-month read $(secs "$t2" "$t3") s"
  stop_cluster
fi
