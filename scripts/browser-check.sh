#!/usr/bin/env bash
# Checks densing report pages in headless Debian Chromium (tests/browser/check.mjs):
# no console errors, no network requests, non-empty figures, table sorts by density.
# usage: scripts/browser-check.sh OUT_DIR [OUT_DIR ...]   (each holding report.html)
# Screenshots go to $DENSING_ARTEFACTS (default target/browser-check).
# Needs: apt-get install -y chromium; Node.js with npm (playwright-core is installed
# from tests/browser/package-lock.json on first use).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$#" -eq 0 ]; then
    echo "usage: $0 OUT_DIR [OUT_DIR ...]" >&2
    exit 2
fi
if [ ! -d "$root/tests/browser/node_modules/playwright-core" ]; then
    npm ci --prefix "$root/tests/browser" --no-audit --no-fund
fi
pages=()
for dir in "$@"; do
    pages+=("$dir/report.html")
done
exec node "$root/tests/browser/check.mjs" "${DENSING_ARTEFACTS:-$root/target/browser-check}" "${pages[@]}"
