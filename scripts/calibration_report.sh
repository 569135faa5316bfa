#!/usr/bin/env bash
# Regenerates the false-positive table of docs/study.md ("Calibration on ordinary hours")
# and prints what calibration costs beside the rest of `catalyst study`, on the demo data
# (curated events, real NewsAPI headlines, shared hourly prices) in a private PostgreSQL
# cluster in a temporary folder.
#
#   scripts/calibration_report.sh            # rewrite the table in docs/study.md
#   WRITE=0 scripts/calibration_report.sh    # only print
#
# Needs the release build's dependencies, python3 and ../shared/data.
set -euo pipefail
unset DATABASE_URL   # always the private cluster below
cd "$(dirname "$0")/.."
WRITE=${WRITE:-1}
SPLITS=${SPLITS:-10}

cargo build --release -q
BIN=$PWD/target/release/catalyst
work=$(mktemp -d /tmp/catalyst-calib-XXXXXX)
chmod 755 "$work"   # the server may run as another user (see README, "As root")
pg="$work/pg"
holder=""
cleanup() { [ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Create and migrate the database first: two processes creating a fresh cluster's
# database at once would race. Then a long-lived `serve` keeps the cluster up, so timed
# commands don't start it.
RUST_LOG=warn "$BIN" --pg-dir "$pg" migrate >/dev/null
RUST_LOG=warn "$BIN" --pg-dir "$pg" serve --no-worker --addr 127.0.0.1:0 >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do [ -S "$pg/.s.PGSQL.5432" ] && break; sleep 0.2; done
RUST_LOG=warn "$BIN" --pg-dir "$pg" demo --no-serve >/dev/null

echo "== $(nproc) cores; catalyst $("$BIN" --version)"
echo "== catalyst study --all on the demo data, 5 runs (seconds)"
for i in 1 2 3 4 5; do
  t0=$(date +%s.%N)
  RUST_LOG=info "$BIN" --pg-dir "$pg" --log-format json study --all 2>&1 >/dev/null | cat > "$work/log-$i"
  t1=$(date +%s.%N)
  python3 - "$work/log-$i" "$(echo "$t1 - $t0" | bc)" <<'PY'
import json, sys
null = score = activity = 0.0
for line in open(sys.argv[1]):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    f = rec.get("fields", rec)
    if f.get("message") == "null of ordinary hours built":
        null = float(f["secs"])
    if f.get("message") == "events scored":
        score = float(f["secs"])
    if f.get("message") == "volume and volatility measured":
        activity = float(f["secs"])
total = float(sys.argv[2])
calib = null + score
print(f"total {total:.2f}  calibration {calib:.2f} (null {null:.2f}, scoring {score:.3f})  "
      f"volume and volatility {activity:.2f}  "
      f"rest {total - calib - activity:.2f}  calibration / rest = {calib / (total - calib - activity):.2f}")
PY
done

echo "== false-positive rates at ordinary hours ($SPLITS splits)"
table=$(RUST_LOG=warn "$BIN" --pg-dir "$pg" study placebo --splits "$SPLITS")
echo "$table"
if [ "$WRITE" = 1 ]; then
  python3 - "$table" <<'PY'
import re, sys
path = "docs/study.md"
doc = open(path).read()
start, end = "<!-- placebo-table:start -->", "<!-- placebo-table:end -->"
if start not in doc or end not in doc:
    sys.exit(f"{path}: markers {start} / {end} not found")
head, rest = doc.split(start, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(head + start + "\n" + sys.argv[1].strip() + "\n" + end + tail)
print(f"rewrote the table in {path}")
PY
fi

echo "== false-positive rates of the volume, volatility and taker tests"
table=$(RUST_LOG=warn "$BIN" --pg-dir "$pg" study activity-placebo --hours 2000 --splits "$SPLITS" --seed 1)
echo "$table"
if [ "$WRITE" = 1 ]; then
  python3 - "$table" <<'PY'
import sys
path = "docs/study.md"
doc = open(path).read()
start, end = "<!-- activity-fpr-table:start -->", "<!-- activity-fpr-table:end -->"
if start not in doc or end not in doc:
    sys.exit(f"{path}: markers {start} / {end} not found")
head, rest = doc.split(start, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(head + start + "\n" + sys.argv[1].strip() + "\n" + end + tail)
print(f"rewrote the activity table in {path}")
PY
fi
