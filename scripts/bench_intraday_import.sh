#!/usr/bin/env bash
# Intraday bulk-load benchmark: `catalyst prices import` of the shared 1- and 5-minute
# OHLCV folders (about 1.5 million bars: parse, COPY straight into price_bars where the
# token has nothing stored over the file's range, else a staging table and INSERT ... ON
# CONFLICT; one transaction per folder; ANALYZE after), next to `psql \copy` of the same
# rows, prepared as one CSV in the table's shape, into the same (empty) table of a second
# database. Prints rows/s for both and the ratio. The proxies are not rebuilt
# (--no-proxies), so both sides do the same work: rows into price_bars.
#
#   scripts/bench_intraday_import.sh            # release build
#   PROFILE=dev scripts/bench_intraday_import.sh
#   SKIP_BUILD=1 scripts/bench_intraday_import.sh   # use the binary as built
#
# Uses its own scratch databases on 127.0.0.1:5432 (user postgres), created and dropped
# here; without a server there, a private cluster in a temporary folder. Never the
# caller's DATABASE_URL. Needs psql and ../shared/data.
set -euo pipefail
unset DATABASE_URL PGDATABASE   # never the caller's database
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/prices}
PROFILE=${PROFILE:-release}
# folder:interval, as the demo imports them.
FOLDERS=(
  "binance-spot-ohlcv-5m:5m"
  "binance-spot-ohlcv-5m-2024-08-01_10:5m"
  "binance-spot-ohlcv-1m/2025-01-01_2025-02-04:1m"
  "binance-spot-ohlcv-1m/2024-08-01_2024-08-10:1m"
)
for f in "${FOLDERS[@]}"; do
  [ -d "$DATA/${f%%:*}" ] || { echo "no $DATA/${f%%:*}" >&2; exit 1; }
done

[ -n "${SKIP_BUILD:-}" ] || cargo build --profile "$PROFILE" -q --bin catalyst
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
BIN=$PWD/target/$dir/catalyst

work=$(mktemp -d /tmp/catalyst-bench-intraday-XXXXXX)
chmod 755 "$work"
db=catalyst_bench_intraday_$$
port=5432
private=""
cleanup() {
  if [ -n "$private" ]; then
    pg_ctl -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  else
    psql -h 127.0.0.1 -p "$port" -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    psql -h 127.0.0.1 -p "$port" -U postgres -qc "DROP DATABASE IF EXISTS ${db}_psql WITH (FORCE)" >/dev/null 2>&1 || true
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

# 1. catalyst: each folder under its interval, as `catalyst demo` loads them.
"${PSQL[@]}" -d "$db" -c "CHECKPOINT"
t0=$(now)
for f in "${FOLDERS[@]}"; do
  DATABASE_URL="$URL" RUST_LOG=warn "$BIN" prices import "$DATA/${f%%:*}" --interval "${f##*:}" --no-proxies >/dev/null
done
t1=$(now)
rows=$("${PSQL[@]}" -d "$db" -c "SELECT count(*) FROM price_bars")
bytes=$("${PSQL[@]}" -d "$db" -c "SELECT pg_size_pretty(pg_total_relation_size('price_bars'))")

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

# 3. A second import finds every file stored (the demo's second run).
t4=$(now)
for f in "${FOLDERS[@]}"; do
  DATABASE_URL="$URL" RUST_LOG=warn "$BIN" prices import "$DATA/${f%%:*}" --interval "${f##*:}" --no-proxies >/dev/null
done
t5=$(now)
rows3=$("${PSQL[@]}" -d "$db" -c "SELECT count(*) FROM price_bars")
[ "$rows" = "$rows3" ] || { echo "the second import changed the row count: $rows vs $rows3" >&2; exit 1; }

csv=$(du -csh "$DATA/binance-spot-ohlcv-5m" "$DATA/binance-spot-ohlcv-5m-2024-08-01_10" "$DATA/binance-spot-ohlcv-1m" | tail -1 | cut -f1)
python3 - "$rows" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$csv" "$PROFILE" "$bytes" <<'PY'
import sys
rows = int(sys.argv[1]); t0, t1, t2, t3, t4, t5 = map(float, sys.argv[2:8])
a, b, c = t1 - t0, t3 - t2, t5 - t4
print(f"bars: {rows} from {sys.argv[8]} of CSV ({sys.argv[9]} build); price_bars with its key: {sys.argv[10]}")
print(f"catalyst prices import : {a:6.2f} s  {rows / a:10.0f} rows/s  (parse + COPY + ANALYZE, 4 folders)")
print(f"psql \\copy             : {b:6.2f} s  {rows / b:10.0f} rows/s  (same rows, same table)")
print(f"ratio catalyst / psql  : {(rows / a) / (rows / b):.2f}")
print(f"second import          : {c:6.2f} s  (every file found stored, nothing written)")
PY
