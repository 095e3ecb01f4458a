#!/usr/bin/env bash
# Installs, idempotently, the real fixtures and validators slipway's tests
# use, at the versions pinned in hack/testdeps/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/testdeps"

command -v npm >/dev/null || { echo "testdeps: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }

stamp=node_modules/.slipway-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "testdeps: installing pinned npm packages into hack/testdeps/node_modules" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" > "$stamp"
