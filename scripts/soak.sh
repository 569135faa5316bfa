#!/usr/bin/env bash
# Soak: the web server under 2,000 idle connections and 200 slow clients (slowloris: one
# header byte every 2 s), while wrk measures `/`. Prints the quiet and the soaked
# latencies and whether any request failed. Bounded: about two minutes.
#
#   scripts/soak.sh                  # IDLE=2000 SLOW=200 SECS=20
#
# Uses a private PostgreSQL cluster in a temporary folder and the demo data; needs wrk
# (apt-get install wrk), python3 and ../shared/data.
set -euo pipefail
unset DATABASE_URL
cd "$(dirname "$0")/.."
IDLE=${IDLE:-2000}
SLOW=${SLOW:-200}
SECS=${SECS:-20}
PORT=${PORT:-18089}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cargo build --release -q
BIN=$PWD/target/release/catalyst
work=$(mktemp -d /tmp/catalyst-soak-XXXXXX)
chmod 755 "$work"
pg="$work/pg"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

RUST_LOG=warn "$BIN" --pg-dir "$pg" migrate >/dev/null
RUST_LOG=warn "$BIN" --pg-dir "$pg" demo --no-serve >/dev/null
RUST_LOG=error "$BIN" --pg-dir "$pg" serve --no-worker --addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/" >/dev/null   # warm the page cache

measure() {  # $1: label
  wrk -t2 -c32 -d"${SECS}s" --latency "http://127.0.0.1:$PORT/" > "$work/wrk-$1"
  python3 - "$1" "$work/wrk-$1" <<'PY'
import re, sys
label, text = sys.argv[1], open(sys.argv[2]).read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
errors = re.search(r"Socket errors: (.*)", text)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{label}: {float(rps.group(1)):,.0f} requests/s, p99 {ms(*p99.groups()):.2f} ms, "
      f"socket errors: {errors.group(1) if errors else 'none'}, "
      f"non-2xx: {non2xx.group(1) if non2xx else 0}")
open(sys.argv[2] + ".p99", "w").write(str(ms(*p99.groups())))
PY
}

echo "== $(nproc) cores; the server's open-file limit: $(ulimit -n)"
measure quiet

# The abusers: idle sockets (re-opened when the server closes them) and slow clients.
python3 - "$PORT" "$IDLE" "$SLOW" "$((SECS + 10))" > "$work/abusers.log" 2>&1 <<'PY' &
import asyncio, sys
port, idle, slow, secs = (int(a) for a in sys.argv[1:])
closed = {"idle": 0, "slow": 0}

async def idler():
    while True:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            await r.read()          # returns when the server closes the socket
            closed["idle"] += 1
        except OSError:
            await asyncio.sleep(0.1)

async def slowloris():
    while True:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            for ch in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
                w.write(bytes([ch])); await w.drain(); await asyncio.sleep(2)
        except OSError:
            closed["slow"] += 1
            await asyncio.sleep(0.1)

async def main():
    tasks = [asyncio.create_task(idler()) for _ in range(idle)]
    tasks += [asyncio.create_task(slowloris()) for _ in range(slow)]
    await asyncio.sleep(secs)
    print(f"closed by the server: {closed['idle']} idle, {closed['slow']} slow")
asyncio.run(main())
PY
pids+=($!)
sleep 5
measure soaked
wait "${pids[-1]}" || true
cat "$work/abusers.log"
python3 - "$work/wrk-quiet.p99" "$work/wrk-soaked.p99" <<'PY'
import sys
q, s = (float(open(p).read()) for p in sys.argv[1:])
print(f"p99 soaked / quiet = {s / q:.2f} (the goal: at most 2)")
PY
