#!/usr/bin/env bash
# Load test of the ranked page: 10,000 generated events (scripts/gen_study_inputs.py,
# seeded) over the 82 real tokens, studied, then `wrk` at 64 connections against nginx
# serving the HTML of `/` as a static file (the peer), then against catalyst's cached `/`,
# a filtered view, a search, an event page and the API. Prints requests/s, latency
# percentiles, timeouts, and the ratio of cached `/` to nginx.
#
#   EVENTS=10000 DURATION=20s CONNECTIONS=64 scripts/load_web.sh
#
# Needs wrk and nginx (apt-get install wrk nginx-light), python3, ../shared/data. Runs
# everything on 127.0.0.1; nginx with as many workers as cores, like catalyst's runtime.
set -euo pipefail
unset DATABASE_URL   # always the private cluster below
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-10000}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is not installed (apt-get install nginx-light)"; exit 1; }

cargo build --release -q
BIN=$PWD/target/release/catalyst
work=$(mktemp -d /tmp/catalyst-load-XXXXXX)
chmod 755 "$work"
server=""
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
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

word=$(grep -o 'w[0-9]\+' "$work/events.rss" | sed -n 5p)

# The peer: nginx serving the same HTML as a static file.
mkdir -p "$work/www"
curl -s "http://127.0.0.1:$port/" > "$work/www/index.html"
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<CONF
worker_processes $(nproc);
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/html;
  server { listen 127.0.0.1:$nport; root $work/www; index index.html; }
}
CONF
"$NGINX" -c "$work/nginx.conf" -p "$work" 2>/dev/null &
nginx_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nport/" >/dev/null && break; sleep 0.1; done

bench() {  # $1: label, $2: URL. Prints the figures; sets rps.
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --timeout 2s --latency "$2")
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  local timeouts
  timeouts=$(echo "$out" | awk '/Socket errors/{for(i=1;i<=NF;i++) if($i=="timeout") print $(i+1)}')
  printf '%-34s %10s req/s  p50 %8s  p90 %8s  p99 %8s  timeouts %s%s\n' "$1" "$rps" \
    "$(echo "$out" | awk '$1=="50%"{print $2}')" "$(echo "$out" | awk '$1=="90%"{print $2}')" \
    "$(echo "$out" | awk '$1=="99%"{print $2}')" "${timeouts:-0}" \
    "$(echo "$out" | awk '/Non-2xx/{print "  non-2xx " $NF}')"
}

echo "== $(nproc) cores, $EVENTS events, wrk -t2 -c$CONNECTIONS -d$DURATION (servers and wrk share the machine)"
for path in "/" "/?category=ai&min_score=1" "/?q=$word" "/events/$event" "/api/v1/events"; do
  curl -s -o /dev/null "http://127.0.0.1:$port$path"   # cached from here on
done
bench "nginx, static copy of /" "http://127.0.0.1:$nport/"
nginx_rps=$rps
bench "catalyst / (cached)" "http://127.0.0.1:$port/"
echo "ratio catalyst / : nginx = $(echo "scale=2; $rps / $nginx_rps" | bc)"
for path in "/?category=ai&min_score=1" "/?q=$word" "/events/$event" "/api/v1/events"; do
  bench "catalyst $path" "http://127.0.0.1:$port$path"
done
