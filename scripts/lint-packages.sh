#!/usr/bin/env bash
# publint and @arethetypeswrong/cli on every published package, each packed as npm would publish
# it (so its prepack builds dist/ from a clean state). The packages are ES modules only, hence
# attw's "esm-only" profile: the CommonJS resolutions it skips are covered by Node's require(esm)
# (Node >= 20.19), which test/consumer-apps.test.ts checks with a CommonJS app.
set -euo pipefail
cd "$(dirname "$0")/.."
# The workspaces list is in dependency order (core first), so each package builds against the
# freshly built .d.ts of the packages it imports.
mapfile -t dirs < <(node -p "require('./package.json').workspaces.filter((w) => w.startsWith('packages/')).join('\n')")
for dir in "${dirs[@]}"; do
  echo "lint:packages: $dir"
  # attw packs first: its npm pack runs prepack, which publint's own pack does not.
  npx attw --pack "$dir" --profile esm-only --format table-flipped
  npx publint --strict "$dir"
done
