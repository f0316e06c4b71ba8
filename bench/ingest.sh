#!/usr/bin/env bash
# Ingestion benchmark: starts spurlos on the embedded store, lets wrk post page views at it,
# then waits until every accepted (202) event is stored and prints events/s and latency.
# Usage: bench/ingest.sh [DURATION] [CONNECTIONS]      (needs: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-30s}
CONNECTIONS=${2:-32}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${SPURLOS_BIN:-$TARGET/debug/spurlos}
TOKEN=bench-admin-token-0123456789
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SPURLOS_DATA_DIR=$data SPURLOS_LISTEN=127.0.0.1:$port SPURLOS_ADMIN_TOKEN=$TOKEN \
  SPURLOS_TRUSTED_PROXIES=127.0.0.1/32 SPURLOS_LOG=warn "$BIN" serve &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
curl -sf -H "Authorization: Bearer $TOKEN" -d '{"domain":"bench.example"}' "http://127.0.0.1:$port/api/admin/sites" >/dev/null
out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/ingest.lua "http://127.0.0.1:$port/api/event")
echo "$out"
accepted=$(echo "$out" | awk '/^ACCEPTED/ {print $2}')
count() {
  curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"site_id":"bench.example","metrics":["pageviews"],"date_range":"all"}' \
    "http://127.0.0.1:$port/api/v2/query" | python3 -c 'import json,sys; r=json.load(sys.stdin)["results"]; print(r[0]["metrics"][0] if r else 0)'
}
for _ in $(seq 600); do [ "$(count)" -ge "$accepted" ] && break; sleep 0.1; done
sleep 1
stored=$(count)
secs=$(echo "$DURATION" | sed 's/s$//')
echo "accepted=$accepted stored=$stored events_per_second=$((accepted / secs))"
# wrk stops counting when its time is up, while up to one request per connection is still in
# flight: those are stored (and answered 202) but not counted. Anything beyond that is a loss.
extra=$((stored - accepted))
if [ "$extra" -lt 0 ] || [ "$extra" -gt "$CONNECTIONS" ]; then
  echo "MISMATCH: accepted $accepted, stored $stored"; exit 1
fi
