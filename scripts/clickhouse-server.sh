#!/usr/bin/env bash
# Starts a local ClickHouse server (Debian's clickhouse-server) for the benchmarks and the browser
# tests on ClickHouse, in DIR on a free loopback port, in the foreground; prints
# "url http://127.0.0.1:PORT" once it answers.
# Usage: scripts/clickhouse-server.sh DIR        (stop it with SIGTERM)
set -euo pipefail
dir=$(realpath -m "$1")
mkdir -p "$dir"
bin=$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)
http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tcp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/server.log</log><errorlog>$dir/server.err.log</errorlog></logger>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>536870912</mark_cache_size>
</yandex>
XML
cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
"$bin" --config-file="$dir/config.xml" >"$dir/stdout.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0' TERM INT EXIT
for _ in $(seq 300); do
  [ "$(curl -s "http://127.0.0.1:$http/?query=SELECT%201" || true)" = 1 ] && break
  sleep 0.1
done
echo "url http://127.0.0.1:$http"
wait $pid
