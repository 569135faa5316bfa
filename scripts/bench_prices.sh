#!/usr/bin/env bash
# Bulk-load benchmark: `catalyst prices import` of the 82 shared hourly files (about a
# million bars: parse, COPY into a staging table, INSERT ... ON CONFLICT into price_bars,
# one transaction) next to `psql \copy` of the same rows, prepared as one CSV in the
# table's shape, into the same (emptied) table. Prints rows/s for both and the ratio.
#
#   scripts/bench_prices.sh            # release build
#   PROFILE=dev scripts/bench_prices.sh
#   SKIP_BUILD=1 PROFILE=dev scripts/bench_prices.sh   # use the binary as built
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

# 1. catalyst: parse every file, COPY, merge; one transaction.
"${PSQL[@]}" -d "$db" -c "CHECKPOINT"
t0=$(now)
DATABASE_URL="$URL" RUST_LOG=warn "$BIN" prices import "$PRICES" --no-proxies >/dev/null
t1=$(now)
rows=$("${PSQL[@]}" -d "$db" -c "SELECT count(*) FROM price_bars")

# 1b. The whole default command, market proxies rebuilt over the bars written, into a
#     third fresh database.
"${PSQL[@]}" -c "CREATE DATABASE ${db}_full"
URL3=postgres://postgres@127.0.0.1:$port/${db}_full
DATABASE_URL="$URL3" RUST_LOG=warn "$BIN" migrate >/dev/null
"${PSQL[@]}" -d "${db}_full" -c "CHECKPOINT"
t4=$(now)
DATABASE_URL="$URL3" RUST_LOG=warn "$BIN" prices import "$PRICES" >/dev/null
t5=$(now)

# 2. The same rows as one CSV in the table's shape, psql \copy'd into the same table in a
#    second database migrated the same way (a fresh table on both sides).
"${PSQL[@]}" -d "$db" -c "\\copy (SELECT * FROM price_bars) TO '$work/bars.csv' CSV"
"${PSQL[@]}" -c "CREATE DATABASE ${db}_psql"
URL2=postgres://postgres@127.0.0.1:$port/${db}_psql
DATABASE_URL="$URL2" RUST_LOG=warn "$BIN" migrate >/dev/null
"${PSQL[@]}" -d "${db}_psql" -c "CHECKPOINT"
t2=$(now)
"${PSQL[@]}" -d "${db}_psql" -c "\\copy price_bars FROM '$work/bars.csv' CSV"
t3=$(now)
rows2=$("${PSQL[@]}" -d "${db}_psql" -c "SELECT count(*) FROM price_bars")
[ "$rows" = "$rows2" ] || { echo "row counts differ: $rows vs $rows2" >&2; exit 1; }

python3 - "$rows" "$t0" "$t1" "$t2" "$t3" "$(du -sh "$PRICES" | cut -f1)" "$PROFILE" "$t4" "$t5" <<'PY'
import sys
rows = int(sys.argv[1]); t0, t1, t2, t3 = map(float, sys.argv[2:6])
a, b = t1 - t0, t3 - t2
c = float(sys.argv[9]) - float(sys.argv[8])
print(f"bars: {rows} from {sys.argv[6]} of CSV ({sys.argv[7]} build)")
print(f"catalyst prices import : {a:6.2f} s  {rows / a:10.0f} rows/s  (parse + COPY + upsert, one transaction)")
print(f"psql \\copy             : {b:6.2f} s  {rows / b:10.0f} rows/s  (same rows, same table)")
print(f"ratio catalyst / psql  : {(rows / a) / (rows / b):.2f}")
print(f"with the proxy rebuild : {c:6.2f} s  {rows / c:10.0f} rows/s  (the default command)")
print(f"ratio (with proxies)   : {(rows / c) / (rows / b):.2f}")
PY
