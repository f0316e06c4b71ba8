#!/usr/bin/env bash
# Dashboard benchmark on the query benchmark's data (10 million events of bench.example):
# starts spurlos on DATA_DIR, gives the site a customer and a user (idempotent), measures the
# dashboard's load in Chromium and its page weight (HTML + CSS, gzipped).
# Usage: bench/dashboard.sh [DATA_DIR]   (seed first: cargo run --example query_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/qbench}
source bench/owner.sh
# Eleven loads; the first may read from disk (a cold cache), the median is reported.
node bench/dashboard.mjs "$B" bench@example.com benchpassword1 bench.example 2024-06-11 2024-07-10
html=$(curl -s -H "Cookie: $cookie" "$B/dashboard/bench.example?period=custom&from=2024-06-11&to=2024-07-10" | gzip -9c | wc -c)
css=$(curl -s "$B/dashboard.css" | gzip -9c | wc -c)
echo "page weight (gzipped): HTML $html + CSS $css = $((html + css)) bytes; no script"
