#!/usr/bin/env bash
# Installs what building and testing spurlos needs on a fresh Debian machine (as root):
# Chromium for the browser tests, ClickHouse 18.16 (Debian) and chDB (a current ClickHouse, from
# PyPI) for the ClickHouse store's tests (the harness starts them itself), wrk for the load
# benchmark, and the tracker's npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v g++ >/dev/null 2>&1 || need+=(g++)
[ -x /usr/bin/clickhouse-server ] || [ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server clickhouse-client)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "please install: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
(cd tracker-js && npm ci --no-audit --no-fund --loglevel=error)
# A current ClickHouse engine (chDB) for the ClickHouse store's tests on a current release
# (scripts/chdb-server.py puts ClickHouse's HTTP interface in front of it).
python3 -c 'import chdb' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check 'chdb-core==26.9.0'
# Matomo's Python tracking client, for the client compatibility tests.
python3 -c 'import matomo' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check 'matomo==1.0.0' 'requests>=2'

