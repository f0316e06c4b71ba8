#!/usr/bin/env bash
# Filtered-dashboard benchmark (issue 12) on the query benchmark's data: starts spurlos on
# DATA_DIR, signs in as the site's owner, loads the whole dashboard page (all panels, key
# figures with comparison, graph) unfiltered and with each filter, one first load (shown: no
# archive sums remembered yet) and then RUNS timed loads each (server time as curl sees it),
# and prints the median per filter; then
# the server's resident memory and the data directory's bytes per event. Archives every
# finished day before measuring.
# Usage: bench/filtered.sh [DATA_DIR] [RUNS]   (seed first: cargo run --example query_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/qbench}
RUNS=${2:-3}
source bench/owner.sh
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
echo "resident memory after start: $(rss) MB"
# Every finished day archived first (what the server's own runs do in the background), so the
# loads measure the dashboard, not an archive build running beside it.
api POST /api/admin/archive >/dev/null
page="$B/dashboard/bench.example?period=custom&from=2024-06-11&to=2024-07-10"
load() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Cookie: $cookie" "$page$1"
}
bench() {
  local name=$1 filter=$2 code first
  read -r code first < <(load "$filter")
  local times=()
  for _ in $(seq "$RUNS"); do
    read -r code t < <(load "$filter")
    [ "$code" = 200 ] || { echo "$name: HTTP $code"; exit 1; }
    times+=("$t")
  done
  printf '%-28s median %6.0f ms   (%s; first load %.0f ms)\n' "$name" \
    "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]*1000}')" "${times[*]}" \
    "$(awk "BEGIN {print $first * 1000}")"
}
bench "unfiltered" ""
[ -n "${ONLY:-}" ] && { bench "$ONLY" "$ONLY_FILTER"; exit 0; }
bench "visit:source Google" "&f=visit:source|Google"
bench "visit:country DE" "&f=visit:country|DE"
bench "visit:browser Firefox" "&f=visit:browser|Firefox"
bench "event:page /" "&f=event:page|/"
bench "event:name Signup" "&f=event:name|Signup"
bench "event:props:plan pro" "&f=event:props:plan|pro"
bench "source Google + country DE" "&f=visit:source|Google&f=visit:country|DE"
echo "resident memory after the loads: $(rss) MB"
events=$(api POST /api/v2/query '{"site_id":"bench.example","metrics":["events"],"date_range":"all"}' 2>/dev/null \
  | python3 -c 'import json,sys; r=json.load(sys.stdin)["results"]; print(r[0]["metrics"][0] if r else 0)' || echo 0)
bytes=$(du -sb "$DATA" | cut -f1)
echo "data directory: $bytes bytes, $events events: $(python3 -c "print(round($bytes/max($events,1),1))") bytes per event"
