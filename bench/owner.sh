# Sourced by the dashboard benchmarks: starts spurlos on $DATA (the query benchmark's data),
# makes bench.example's customer and owner (idempotent) and sets $B (the server's address),
# $pid, $cookie (the owner's session) and api() (the admin API). Needs DATA set.
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${SPURLOS_BIN:-$TARGET/debug/spurlos}
TOKEN=bench-admin-token-0123456789
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B=http://127.0.0.1:$port
SPURLOS_DATA_DIR=$DATA SPURLOS_LISTEN=127.0.0.1:$port SPURLOS_ADMIN_TOKEN=$TOKEN SPURLOS_LOG=${SPURLOS_LOG:-warn} "$BIN" serve &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -sf "$B/api/health" >/dev/null && break; sleep 0.1; done
api() { curl -sf -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"} "$B$2"; }
api PUT /api/admin/customers/bench '{"name":"Bench"}' >/dev/null
api PUT /api/admin/sites/bench.example/customer '{"customer":"bench"}' >/dev/null
api PUT /api/admin/users/bench@example.com '{"memberships":[{"customer":"bench","role":"owner"}]}' >/dev/null
url=$(api POST /api/admin/users/bench@example.com/password-link | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
curl -sf -o /dev/null -H "Origin: $B" -d "token=${url#*token=}&password=benchpassword1&confirm=benchpassword1" "$B/set-password"
cookie=$(curl -s -i -H "Origin: $B" -d "email=bench@example.com&password=benchpassword1" "$B/login" | grep -i '^set-cookie' | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//')
