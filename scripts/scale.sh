#!/usr/bin/env bash
# The table of docs/scaling.md: for each number of events, a fresh private cluster with
# the 82 real tokens' hourly bars (plus synthetic tokens up to TOKENS: beta * BTC + noise),
# generated events (scripts/gen_study_inputs.py, seeded; headlines that name no token, so
# every event studies every token), then:
#   - `study --all`: wall time, pairs/s, peak client memory (max RSS), CPU use (200% = both
#     cores), and the study tables' size per token-event pair;
#   - pages: cold is the median of five distinct URLs of a kind requested once each (five
#     per_page sizes of the list, filtered by category and sorted by a category's
#     |CAAR|, five words, five event pages: each rendered from the
#     database, after 40 warm-up renders of each kind on other URLs), warm the median of
#     five repeats of one of them
#     (from the page cache). Times are curl's total per request on 127.0.0.1.
#
#   EVENT_COUNTS="1000 10000 100000" TOKENS=82 scripts/scale.sh
#
# Up to INGEST_MAX events (default 10,000) go through `catalyst ingest` of one generated
# feed; beyond, the same events are COPYed into `events` (a single 100,000-item feed
# takes `ingest` tens of minutes: its story matching grows with the articles stored,
# docs/scaling.md), and ingest_s is that COPY.
#   EVENT_COUNTS="2000" TOKENS=1000 scripts/scale.sh      # 1,000 tokens
#   PAGE_ROUNDS=4 scripts/scale.sh                         # cold = median of 20 URLs
#
# Needs the release build's dependencies, python3, psql, curl and ../shared/data.
set -euo pipefail
unset DATABASE_URL   # always the private clusters below
cd "$(dirname "$0")/.."
EVENT_COUNTS=${EVENT_COUNTS:-"1000 10000 100000"}
INGEST_MAX=${INGEST_MAX:-10000}
TOKENS=${TOKENS:-82}
# Distinct URLs per cold figure: 5 x PAGE_ROUNDS (one round's median moved by as much
# as a change did on this VM; more URLs make the median steadier).
PAGE_ROUNDS=${PAGE_ROUNDS:-1}
PRICES=../shared/data/prices/binance-hourly-close

cargo build --release -q
BIN=$PWD/target/release/catalyst
work=$(mktemp -d /tmp/catalyst-scale-XXXXXX)
chmod 755 "$work"
holder=""
cleanup() { [ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_cluster() {  # $1: dir, $2: port. A long-lived `serve` holds the cluster up.
  RUST_LOG=warn "$BIN" --pg-dir "$1" serve --no-worker --addr "127.0.0.1:$2" >/dev/null 2>&1 &
  holder=$!
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.2; done
  echo "server did not start" >&2; exit 1
}
stop_cluster() { kill "$holder"; wait "$holder" 2>/dev/null || true; holder=""; }
sql() { psql "postgres://catalyst@localhost/catalyst?host=$1" -Atc "$2"; }
ms() { curl -s -o /dev/null -w '%{time_total}\n' "$1" | awk '{printf "%.2f\n", $1 * 1000}'; }
median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }
cold_warm() {  # URLs of one kind: each once (cold), then the first five times (warm)
  local cold warm u
  cold=$(for u in "$@"; do ms "$u"; done | median)
  warm=$(for _ in 1 2 3 4 5; do ms "$1"; done | median)
  echo "$cold/$warm"
}

dir="$work/prices"
mkdir -p "$dir"
for f in "$PRICES"/*.csv; do ln -sf "$(realpath "$f")" "$dir/"; done
if [ "$TOKENS" -gt 82 ]; then python3 scripts/gen_study_inputs.py tokens $((TOKENS - 82)) "$dir"; fi

echo "== $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; catalyst $("$BIN" --version); PostgreSQL $(psql --version | awk '{print $3}'); $TOKENS tokens"
printf '%-8s %9s %10s %8s %9s %8s %7s %10s %7s | %s\n' events ingest_s pairs study_s pairs/s rss_MB cpu% results_MB B/pair \
  "pages ms, cold/warm: /  ?category=ai  ?q=word  ?q=(no match)  event  sort=caar"
port=18600
for n in $EVENT_COUNTS; do
  pg="$work/pg-$n"; port=$((port + 1))
  start_cluster "$pg" "$port"
  python3 scripts/gen_study_inputs.py events "$n" "$work/events-$n.rss"
  RUST_LOG=warn "$BIN" --pg-dir "$pg" prices import "$dir" >/dev/null
  ti=$(date +%s.%N)
  if [ "$n" -le "$INGEST_MAX" ]; then
    RUST_LOG=warn "$BIN" --pg-dir "$pg" ingest --feed "$work/events-$n.rss" >/dev/null
  else
    python3 scripts/gen_study_inputs.py events-csv "$n" "$work/events-$n.csv"
    sql "$pg" "\\copy events (event_time, headline) FROM '$work/events-$n.csv' (FORMAT csv)" >/dev/null
    sql "$pg" "VACUUM ANALYZE events" >/dev/null
  fi
  t0=$(date +%s.%N)
  RUST_LOG=warn /usr/bin/time -f '%M %P' -o "$work/time" "$BIN" --pg-dir "$pg" study --all >/dev/null
  t1=$(date +%s.%N)
  read -r rss cpu < "$work/time"
  study_s=$(echo "$t1 - $t0" | bc)
  pairs=$(sql "$pg" "SELECT count(*) FROM study_token_outcomes")
  bytes=$(sql "$pg" "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'public' AND c.relname LIKE 'study\_%' AND c.relkind = 'r'")
  k=$((5 * PAGE_ROUNDS))
  mapfile -t evs < <(sql "$pg" "SELECT event_id FROM event_impact ORDER BY impact_score DESC NULLS LAST, event_id LIMIT $k")
  # Words of the generated headlines, at fixed positions of their occurrences (the first
  # five as in every earlier table; more rounds add every 97th).
  positions="5 50 500 900 990 $(for ((i = 6; i <= k; i++)); do echo $((i * 97)); done)"
  mapfile -t words < <(grep -o 'w[0-9]\+' "$work/events-$n.rss" | sed -n "$(printf '%dp;' $positions)")
  base="http://127.0.0.1:$port"
  # Warm-up: a server that has been serving a while. Each kind of page is rendered 40
  # times on URLs the measurement does not use, so that the pools' connections are open
  # and have prepared their statements (the keyed pool plans each statement once per
  # connection, on its first execution: docs/performance.md, "Cold pages").
  mapfile -t warm_evs < <(sql "$pg" "SELECT id FROM events ORDER BY id DESC LIMIT 40")
  for i in $(seq 40); do
    for u in "/?per_page=$((100 + i))" "/?category=ai&per_page=$((100 + i))" "/?q=warm$i" \
      "/?sort=caar&sort_category=ai&window=0:24&per_page=$((100 + i))" "/events/${warm_evs[$((i - 1))]}"; do
      curl -s -o /dev/null "$base$u"
    done
  done
  sizes=$(seq 46 $((45 + k)))
  pages="  $(cold_warm $(printf "$base/?per_page=%s " $sizes))"
  pages="$pages  $(cold_warm $(printf "$base/?category=ai&per_page=%s " $sizes))"
  pages="$pages  $(cold_warm "${words[@]/#/$base/?q=}")"
  pages="$pages  $(cold_warm $(printf "$base/?q=nosuchword%s " $(seq "$k")))"
  pages="$pages  $(cold_warm "${evs[@]/#/$base/events/}")"
  pages="$pages  $(cold_warm $(printf "$base/?sort=caar&sort_category=ai&window=0:24&per_page=%s " $sizes))"
  printf '%-8s %9.1f %10s %8.1f %9.0f %8.0f %7s %10.0f %7.0f | %s\n' "$n" "$(echo "$t0 - $ti" | bc)" "$pairs" "$study_s" \
    "$(echo "$pairs / $study_s" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$cpu" \
    "$(echo "$bytes / 1048576" | bc -l)" "$(echo "$bytes / $pairs" | bc -l)" "$pages"
  stop_cluster
  rm -rf "$pg"
done
