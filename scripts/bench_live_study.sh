#!/usr/bin/env bash
# How cheap is the live tracker's study to rerun? On the demo's database (82 tokens' real
# hourly closes, about 936,000 bars, 103 stories; a live tracker's first 200 days are
# about 400,000 bars), times `catalyst study` with nothing changed, after one new story
# whose windows are still open, and after one whose windows have closed, with the
# study's own breakdown (universe, null of ordinary hours, scoring). Prints the figures
# for docs/performance.md ("Live study"). Uses a private PostgreSQL cluster in a
# temporary folder.
#
#   RUNS=3 scripts/bench_live_study.sh
#
# Needs the release build's dependencies, psql and ../shared/data.
set -euo pipefail
unset DATABASE_URL   # always the private cluster below
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}

cargo build --release -q
BIN=$PWD/target/release/catalyst
work=$(mktemp -d /tmp/catalyst-live-bench-XXXXXX)
chmod 755 "$work"
pg="$work/pg"
holder=""
cleanup() { [ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Create and migrate the database first (two processes creating a fresh cluster's
# database at once would race), then a long-lived web server keeps the private cluster
# up, so the timed commands don't include starting it.
RUST_LOG=warn "$BIN" --pg-dir "$pg" migrate >/dev/null
RUST_LOG=warn "$BIN" --pg-dir "$pg" serve --no-worker --addr 127.0.0.1:0 >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do [ -S "$pg/.s.PGSQL.5432" ] && break; sleep 0.2; done
RUST_LOG=warn "$BIN" --pg-dir "$pg" demo --no-serve >/dev/null
bars=$(psql "postgres://catalyst@localhost/catalyst?host=$pg" -Atc "SELECT count(*) FROM price_bars")
events=$(psql "postgres://catalyst@localhost/catalyst?host=$pg" -Atc "SELECT count(*) FROM events")

study() {  # prints: wall seconds, then the study's own breakdown
  local log="$work/study.log" t0 t1
  t0=$(date +%s.%N)
  RUST_LOG=catalyst=info "$BIN" --pg-dir "$pg" --log-format json study >"$work/study.out" 2>"$log"
  t1=$(date +%s.%N)
  local null scored activity
  null=$(grep -o '"message":"null of ordinary hours built"[^}]*' "$log" | grep -o '"secs":[0-9.]*' | cut -d: -f2)
  scored=$(grep -o '"message":"events scored"[^}]*' "$log" | grep -o '"secs":[0-9.]*' | cut -d: -f2)
  activity=$(grep -o '"message":"volume and volatility measured"[^}]*' "$log" | grep -o '"secs":[0-9.]*' | cut -d: -f2)
  printf '%.2f s (null %.2f s, scoring %.2f s, volume and volatility %.2f s; %s)' "$(echo "$t1 - $t0" | bc)" "${null:-0}" "${scored:-0}" "${activity:-0}" "$(cat "$work/study.out")"
}

feed() {  # $1: file, $2: pubDate (RFC 2822), $3: title
  cat >"$1" <<RSS
<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title><link>https://bench.example/</link><description>b</description>
<item><title>$3</title><link>https://bench.example/$RANDOM$RANDOM</link><description>Bench story.</description><pubDate>$2</pubDate></item>
</channel></rss>
RSS
}

echo "== $(nproc) cores; catalyst $("$BIN" --version); $bars bars, $events stories"
for i in $(seq "$RUNS"); do
  echo "nothing changed, run $i: $(study)"
done
# The prices end on 2025-06-13 about 08:00: a story of 2025-06-12 12:00 awaits prices.
feed "$work/open.rss" "Thu, 12 Jun 2025 12:00:00 +0000" "Solana ETF filing amended as SOL rallies"
RUST_LOG=warn "$BIN" --pg-dir "$pg" ingest --feed "$work/open.rss" >/dev/null
echo "one new story, windows open: $(study)"
feed "$work/closed.rss" "Tue, 20 May 2025 12:00:00 +0000" "Ethereum developers schedule the next upgrade as ETH jumps"
RUST_LOG=warn "$BIN" --pg-dir "$pg" ingest --feed "$work/closed.rss" >/dev/null
echo "one new story, windows closed: $(study)"
echo "nothing changed again: $(study)"
