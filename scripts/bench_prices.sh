#!/usr/bin/env bash
# Bulk-load benchmark: `catalyst prices import` of the 82 shared hourly files (about a
# million bars: parse, binary COPY straight into price_bars, one transaction), with and
# without the market-proxy rebuild that the default command runs, next to `psql \copy`
# of the same rows, prepared as one CSV in the table's shape, into the same table. Each
# side loads into a freshly migrated database, ROUNDS times (default 3) in rotated
# order; prints each run, the medians, rows/s and the ratios to psql.
#
#   scripts/bench_prices.sh            # release build
#   PROFILE=dev scripts/bench_prices.sh
#   SKIP_BUILD=1 PROFILE=dev scripts/bench_prices.sh   # use the binary as built
#   ROUNDS=5 scripts/bench_prices.sh
#
# Uses its own scratch database on 127.0.0.1:5432 (user postgres), created and dropped
# here; without a server there, a private cluster in a temporary folder. Never the
# caller's DATABASE_URL. Needs psql and ../shared/data.
set -euo pipefail
unset DATABASE_URL PGDATABASE   # never the caller's database
cd "$(dirname "$0")/.."
PRICES=${PRICES:-../shared/data/prices/binance-hourly-close}
PROFILE=${PROFILE:-release}
[ -d "$PRICES" ] || { echo "no $PRICES" >&2; exit 1; }

[ -n "${SKIP_BUILD:-}" ] || cargo build --profile "$PROFILE" -q --bin catalyst
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
BIN=$PWD/target/$dir/catalyst

work=$(mktemp -d /tmp/catalyst-bench-prices-XXXXXX)
chmod 755 "$work"
db=catalyst_bench_prices_$$
port=5432
private=""
cleanup() {
  if [ -n "$private" ]; then
    pg_ctl -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  else
    psql -h 127.0.0.1 -p "$port" -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    psql -h 127.0.0.1 -p "$port" -U postgres -qc "DROP DATABASE IF EXISTS ${db}_psql WITH (FORCE)" >/dev/null 2>&1 || true
    psql -h 127.0.0.1 -p "$port" -U postgres -qc "DROP DATABASE IF EXISTS ${db}_full WITH (FORCE)" >/dev/null 2>&1 || true
    psql -h 127.0.0.1 -p "$port" -U postgres -qc "DROP DATABASE IF EXISTS ${db}_catalyst WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  # No server on 5432: a private cluster on a free port.
  private=1
  port=55432
  initdb -D "$work/pg" -U postgres -A trust >/dev/null
  pg_ctl -D "$work/pg" -o "-p $port -k $work -c listen_addresses=127.0.0.1" -l "$work/pg.log" -w start >/dev/null
fi
PSQL=(psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt)
"${PSQL[@]}" -c "CREATE DATABASE $db"
URL=postgres://postgres@127.0.0.1:$port/$db
DATABASE_URL="$URL" RUST_LOG=warn "$BIN" migrate >/dev/null

now() { date +%s.%N; }
ROUNDS=${ROUNDS:-3}

# The same rows as one CSV in the table's shape, for psql: exported from a first import.
DATABASE_URL="$URL" RUST_LOG=warn "$BIN" prices import "$PRICES" --no-proxies >/dev/null
rows=$("${PSQL[@]}" -d "$db" -c "SELECT count(*) FROM price_bars")
"${PSQL[@]}" -d "$db" -c "\\copy (SELECT * FROM price_bars) TO '$work/bars.csv' CSV"

# One load into a freshly migrated database; prints its seconds. The sides:
#   catalyst  `catalyst prices import --no-proxies` (parse, COPY, one transaction)
#   full      the whole default command, market proxies rebuilt over the bars written
#   psql      `psql \copy` of the same rows into the same table
fresh() {
  PGOPTIONS="-c client_min_messages=warning" "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
  DATABASE_URL="postgres://postgres@127.0.0.1:$port/$1" RUST_LOG=warn "$BIN" migrate >/dev/null
  "${PSQL[@]}" -d "$1" -c "CHECKPOINT"
}
load() {
  local side=$1 target=${db}_$1 t0 t1
  fresh "$target"
  t0=$(now)
  case $side in
    catalyst) DATABASE_URL="postgres://postgres@127.0.0.1:$port/$target" RUST_LOG=warn "$BIN" prices import "$PRICES" --no-proxies >/dev/null ;;
    full) DATABASE_URL="postgres://postgres@127.0.0.1:$port/$target" RUST_LOG=warn "$BIN" prices import "$PRICES" >/dev/null ;;
    psql) "${PSQL[@]}" -d "$target" -c "\\copy price_bars FROM '$work/bars.csv' CSV" ;;
  esac
  t1=$(now)
  got=$("${PSQL[@]}" -d "$target" -c "SELECT count(*) FROM price_bars")
  [ "$got" = "$rows" ] || { echo "$side stored $got rows, not $rows" >&2; exit 1; }
  echo "$side $(python3 -c "print($t1 - $t0)")"
}

# Rounds with the order rotated, so that no side always runs after the same one (the
# disk's write-back of a load runs into the next); the medians are compared.
sides=(psql catalyst full)
: > "$work/times"
for ((r = 0; r < ROUNDS; r++)); do
  for ((i = 0; i < 3; i++)); do
    load "${sides[$(((r + i) % 3))]}" >> "$work/times"
  done
done

python3 - "$rows" "$(du -sh "$PRICES" | cut -f1)" "$PROFILE" "$work/times" <<'PY'
import statistics, sys
rows = int(sys.argv[1])
times = {}
for line in open(sys.argv[4]):
    side, secs = line.split()
    times.setdefault(side, []).append(float(secs))
med = {s: statistics.median(v) for s, v in times.items()}
runs = lambda s: ", ".join(f"{t:.2f}" for t in times[s])
print(f"bars: {rows} from {sys.argv[2]} of CSV ({sys.argv[3]} build), median of {len(times['psql'])} rounds")
print(f"catalyst prices import --no-proxies : {med['catalyst']:6.2f} s  {rows / med['catalyst']:8.0f} rows/s  (runs: {runs('catalyst')})")
print(f"catalyst prices import (proxies)    : {med['full']:6.2f} s  {rows / med['full']:8.0f} rows/s  (runs: {runs('full')})")
print(f"psql \\copy                          : {med['psql']:6.2f} s  {rows / med['psql']:8.0f} rows/s  (runs: {runs('psql')})")
print(f"ratio --no-proxies / psql           : {med['psql'] / med['catalyst']:.2f}")
print(f"ratio with proxies / psql           : {med['psql'] / med['full']:.2f}")
PY
