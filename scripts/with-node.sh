#!/usr/bin/env bash
# Runs a command with another Node.js release first on PATH, installed from the npm `node`
# package into npm's cache (once; later runs reuse it). Child processes that the tests spawn
# with process.execPath, and npm itself, run on that release too.
#   bash scripts/with-node.sh 22 npm test
set -euo pipefail
version="$1"; shift
bin=$(npx -y -p "node@$version" -c 'dirname "$(command -v node)"')
export PATH="$bin:$PATH"
echo "with-node: $(node -v) from $bin" >&2
exec "$@"
