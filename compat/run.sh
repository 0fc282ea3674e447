#!/usr/bin/env bash
# Runs express-session's and koa-session's own suites against @scaleout/express and @scaleout/koa
# (see docs/compatibility.md). Their code is not part of this project: give checkouts of
# expressjs/session (v1.19.0) and koajs/session (v7.0.2) in --peers DIR (DIR/express-session,
# DIR/koa-session); the shims here take the place of the libraries their tests load.
#   compat/run.sh --peers DIR [--backend memory|redis] [--repo .] [--rev <commit>] [--strategy store|sticky]
# --rev: test that commit of --repo instead of its working tree: it is extracted (git archive,
#   read-only on the repo) to snapshots/<sha>, with node_modules linked to the repo's and
#   @scaleout/* linked to the snapshot's packages.
# --strategy (memory only): "store" = createStrategy({strategy:'store', store:{type:'memory'}}) (default),
#   "sticky" = createStrategy({strategy:'sticky', ...}), which also sets the route cookie.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BACKEND=memory REPO="$(cd "$HERE/.." && pwd)" STRATEGY=store REV= PEERS=
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) BACKEND="$2"; shift 2;;
    --repo) REPO="$(cd "$2" && pwd)"; shift 2;;
    --strategy) STRATEGY="$2"; shift 2;;
    --rev) REV="$2"; shift 2;;
    --peers) PEERS="$(cd "$2" && pwd)"; shift 2;;
    -h|--help) sed -n 2,5p "$0"; exit 0;;
    *) echo "unknown argument: $1" >&2; exit 2;;
  esac
done
case "$BACKEND" in memory|redis) ;; *) echo "--backend memory|redis" >&2; exit 2;; esac
[ -n "$PEERS" ] && [ -d "$PEERS/express-session/test" ] && [ -d "$PEERS/koa-session/test" ] || {
  echo "--peers DIR: DIR must hold checkouts of expressjs/session (express-session/) and koajs/session (koa-session/)" >&2; exit 2; }
WORK="${COMPAT_WORK:-$(cd "$HERE/.." && pwd)/.tmp/compat}"  # .tmp/ is git-ignored
mkdir -p "$WORK" && rm -rf "$WORK/harness" && cp -r "$HERE/harness" "$WORK/harness"
(cd "$WORK/harness" && npm install --no-audit --no-fund --silent >/dev/null) || { echo "npm install of the harness failed" >&2; exit 1; }
H="$WORK/harness"
LABEL="worktree"
if [ -n "$REV" ]; then
  SHA="$(git -C "$REPO" rev-parse --verify "$REV^{commit}")" || exit 2
  SNAP="$WORK/snapshots/${SHA:0:12}"
  if [ ! -d "$SNAP/packages" ]; then
    rm -rf "$SNAP" && mkdir -p "$SNAP/node_modules/@scaleout"
    git -C "$REPO" archive "$SHA" | tar -x -C "$SNAP"
    for e in "$REPO"/node_modules/* "$REPO"/node_modules/.bin; do
      [ "$(basename "$e")" = "@scaleout" ] || ln -s "$e" "$SNAP/node_modules/$(basename "$e")"
    done
    for l in "$REPO"/node_modules/@scaleout/*; do
      t="$(readlink "$l")"; ln -s "$t" "$SNAP/node_modules/@scaleout/$(basename "$l")"   # relative: into the snapshot
    done
  fi
  echo "snapshot of $REPO at ${SHA:0:12}: $SNAP"
  REPO_DESC="$(git -C "$REPO" log -1 --format='%h %s' "$SHA" | cut -c1-100)"
  REPO="$SNAP" LABEL="${SHA:0:12}"
else
  REPO_DESC="$(git -C "$REPO" log -1 --format='%h %s' 2>/dev/null | cut -c1-100)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null && [ -z "$(git -C "$REPO" status --porcelain 2>/dev/null)" ] || echo ' + uncommitted changes')"
fi
OUT="$WORK/out/$LABEL-$BACKEND-$STRATEGY"
mkdir -p "$OUT"

# The peers' suites, copied next to the shims (their `../` and `../src/index.js` are the shims).
rm -rf "$H/express/test" "$H/koa/test"
cp -r "$PEERS/express-session/test" "$H/express/test"
cp -r "$PEERS/koa-session/test" "$H/koa/test"
cp "$H/koa/store.ts" "$H/koa/test/store.ts"
mkdir -p "$H/express/test/fixtures"
[ -f "$H/express/test/fixtures/server.crt" ] || (cd "$H/express" && sh ./test/support/gencert.sh >/dev/null 2>&1)
# externalkey.test.ts checks `instanceof ZodError`: the zod of the koa-session under test.
ZOD="$(NODE_OPTIONS= node -e "
const { createRequire } = require('module'), path = require('path');
let p; try { p = createRequire(process.argv[1] + '/packages/koa/package.json').resolve('koa-session/package.json') } catch { p = require.resolve('koa-session/package.json', { paths: [process.argv[2]] }) }
console.log(path.dirname(createRequire(p).resolve('zod/package.json')))" "$REPO" "$H")"
mkdir -p "$H/koa/node_modules" && ln -sfn "$ZOD" "$H/koa/node_modules/zod"

REDIS_PID=""
cleanup() { [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null; }
trap cleanup EXIT
if [ "$BACKEND" = redis ]; then
  PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --protected-mode yes >"$OUT/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$PORT" ping >/dev/null || { echo "redis-server did not start (see $OUT/redis.log)"; exit 1; }
  export COMPAT_REDIS_URL="redis://127.0.0.1:$PORT"
fi

export COMPAT_REPO="$REPO" COMPAT_BACKEND="$BACKEND" COMPAT_STRATEGY="$STRATEGY"
export NODE_OPTIONS="--conditions=source --import tsx --import $H/setup.mjs"
export NODE_PATH="" NO_DEPRECATION=express-session
MOCHA="$H/node_modules/.bin/mocha"

echo "scaleout compat: $REPO [$REPO_DESC], backend $BACKEND, strategy $STRATEGY"
echo "  express-session $(git -C "$PEERS/express-session" describe --tags 2>/dev/null), koa-session $(git -C "$PEERS/koa-session" describe --tags 2>/dev/null)"

(cd "$H/express" && timeout 900 "$MOCHA" --no-config --no-package --require test/support/env --check-leaks --exit --timeout 10000 \
  --reporter json --reporter-option "output=$OUT/express.json" test/session.js >"$OUT/express.log" 2>&1)
NODE_OPTIONS= node "$HERE/summarize.mjs" "$OUT/express.json" "express-session test/session.js -> @scaleout/express session(strategy, options)"

for MODE in store binding; do
  rm -f "$OUT/koa-$MODE.json"
  (cd "$H/koa" && COMPAT_KOA_MODE=$MODE timeout 900 "$MOCHA" --no-config --no-package --exit --timeout 10000 --extension ts \
    --reporter json --reporter-option "output=$OUT/koa-$MODE.json" test/store.test.ts test/externalkey.test.ts >"$OUT/koa-$MODE.log" 2>&1)
  if [ $MODE = store ]; then L="koaSessionStore() inside koa-session"; else L="@scaleout/koa session(strategy, app, options)"; fi
  NODE_OPTIONS= node "$HERE/summarize.mjs" "$OUT/koa-$MODE.json" "koa-session test/store.test.ts + test/externalkey.test.ts -> $L"
done
echo "(logs and JSON reports: $OUT)"
