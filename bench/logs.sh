#!/usr/bin/env bash
# Log import benchmark (issue 13): generates (once) a LINES-line vhost_combined log over 50
# sites and 7 days (bench/gen_logs.py), then in one run on this machine: `spurlos logs import
# --by-vhost` through a running server into a fresh data directory (50 sites added first),
# the same on the data directory without a server, and GoAccess over the same file. Prints
# wall-clock seconds and lines per second of each, and checks that every page view the import
# counted is answered by the Stats API.
# Usage: bench/logs.sh [LINES] [LOG]   (default 2000000, /tmp/bench-vhost-LINES.log)
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-2000000}
LOG=${2:-/tmp/bench-vhost-$LINES.log}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/debug/spurlos
[ -s "$LOG" ] || python3 bench/gen_logs.py "$LINES" 50 7 "$LOG"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "log: $LOG, $(wc -l <"$LOG") lines, $(du -m "$LOG" | cut -f1) MB"
rate() { python3 -c "print(f'{$1:.1f} s, {$LINES/$1:,.0f} lines/s')"; }
now() { date +%s.%N; }

fresh() {
  rm -rf "$1" && mkdir -p "$1"
  for i in $(seq 50); do SPURLOS_DATA_DIR=$1 SPURLOS_LISTEN=127.0.0.1:1 "$BIN" site add "site$i.example" >/dev/null; done
}

# 1. Through a running server.
DATA=$(mktemp -d)
fresh "$DATA"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SPURLOS_DATA_DIR=$DATA SPURLOS_LISTEN=127.0.0.1:$port SPURLOS_LOG=warn "$BIN" serve &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$DATA" "$DATA.local"' EXIT
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
start=$(now)
SPURLOS_DATA_DIR=$DATA SPURLOS_LISTEN=127.0.0.1:$port "$BIN" logs import --by-vhost --json "$LOG" >/tmp/logs-bench.json
t=$(python3 -c "print($(now) - $start)")
echo "spurlos logs import, through the server: $(rate "$t")"
counted=$(python3 -c 'import json; print(sum(s["pageviews"] for s in json.load(open("/tmp/logs-bench.json"))["sites"]))')
token=$(cat "$DATA/admin-token" 2>/dev/null || true)
answered=0
for i in $(seq 50); do
  n=$(curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"site_id\":\"site$i.example\",\"metrics\":[\"pageviews\"],\"date_range\":[\"2024-05-31\",\"2024-06-09\"]}" \
    "http://127.0.0.1:$port/api/v2/query" | python3 -c 'import json,sys; r=json.load(sys.stdin)["results"]; print(r[0]["metrics"][0] if r else 0)')
  answered=$((answered + n))
done
echo "page views counted by the import: $counted, answered by the Stats API: $answered"
[ "$counted" = "$answered" ] || { echo "page views lost"; exit 1; }
kill $pid; wait $pid 2>/dev/null || true

# 2. On the data directory (no server), without and with the archive run at its end.
fresh "$DATA.local"
start=$(now)
SPURLOS_DATA_DIR=$DATA.local SPURLOS_LISTEN=127.0.0.1:1 "$BIN" logs import --by-vhost "$LOG" | head -1
t=$(python3 -c "print($(now) - $start)")
echo "spurlos logs import, on the data directory (with archiving the 8 days): $(rate "$t")"

# 3. GoAccess over the same file.
if command -v goaccess >/dev/null; then
  start=$(now)
  goaccess --log-format=VCOMBINED --no-progress "$LOG" -o /tmp/goaccess-bench.html 2>/dev/null
  t=$(python3 -c "print($(now) - $start)")
  echo "$(goaccess --version | head -1): $(rate "$t")"
fi
