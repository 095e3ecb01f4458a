#!/usr/bin/env bash
# The main job, end to end, on examples/demo. Until the build stage lands it
# shows the whole plan of that job: what would be built, tagged, pushed,
# scanned, signed and reported.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin/slipway}
mkdir -p out
echo "== slipway run --dry-run on examples/demo" >&2
"$bin" run --dry-run --ci local --context examples/demo --output json > out/plan.json
echo "== the plan as JSON is in out/plan.json" >&2
