#!/usr/bin/env bash
# e2e.sh — start bin/hexward with the demo district on a throwaway private
# PostgreSQL, then run the headless-browser and outside-client tests in
# web/e2e/ against it. The server is stopped however the tests end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

data=$(mktemp -d /tmp/hexward-e2e.XXXXXX)
chmod 755 "$data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
log="$data/server.log"
bin/hexward serve --demo --data "$data" --addr "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$data"
}
trap cleanup EXIT

url="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
	if curl -fsS "$url/healthz" >/dev/null 2>&1; then break; fi
	if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; echo "e2e: server exited" >&2; exit 1; fi
	sleep 0.5
done
curl -fsS "$url/healthz" >/dev/null || { cat "$log"; echo "e2e: server not healthy" >&2; exit 1; }
echo "e2e: server up at $url"
if ! HEXWARD_URL=$url node --test --test-concurrency=1 web/e2e/; then
	echo "--- server log (tail) ---"; tail -n 50 "$log"
	exit 1
fi
