#!/usr/bin/env bash
# Both stores side by side in one run: the ingestion benchmark (bench/ingest.sh) and the query
# benchmark (examples/query_bench, 10 million events) on the embedded store and on a local
# ClickHouse server started here (scripts/clickhouse-server.sh).
# Usage: bench/compare.sh [EVENTS] [DURATION]
# Seeded data is kept for the next run: /tmp/qbench (embedded) and /tmp/qbench-ch (ClickHouse
# server directory, database qbench).
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-10000000}
DURATION=${2:-30s}
TARGET=${CARGO_TARGET_DIR:-target}
BENCH=$TARGET/debug/examples/query_bench
CH_DIR=${CH_DIR:-/tmp/qbench-ch}
log=$(mktemp)
bash scripts/clickhouse-server.sh "$CH_DIR/server" >"$log" 2>&1 &
chpid=$!
trap 'kill $chpid 2>/dev/null || true; wait $chpid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 300); do grep -q '^url ' "$log" && break; sleep 0.1; done
url=$(awk '/^url / {print $2}' "$log")
[ -n "$url" ] || { cat "$log"; exit 1; }
echo "ClickHouse $(curl -s "$url/?query=SELECT%20version()") at $url"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"

echo "== ingestion, embedded store"
bash bench/ingest.sh "$DURATION" | grep -E "Latency|  99%|Requests/sec|accepted="
echo "== ingestion, ClickHouse store"
SPURLOS_STORE=clickhouse SPURLOS_CLICKHOUSE_URL=$url SPURLOS_CLICKHOUSE_DATABASE="ingest_$(date +%s)" \
  bash bench/ingest.sh "$DURATION" | grep -E "Latency|  99%|Requests/sec|accepted="

echo "== dashboard queries, embedded store ($EVENTS events)"
"$BENCH" "$EVENTS" 11 /tmp/qbench | grep -E 'store:|archived|median'
echo "== dashboard queries, ClickHouse store ($EVENTS events)"
SPURLOS_STORE=clickhouse SPURLOS_CLICKHOUSE_URL=$url SPURLOS_CLICKHOUSE_DATABASE=qbench \
  "$BENCH" "$EVENTS" 11 "$CH_DIR/spurlos" | grep -E 'store:|seeded|archived|median'
