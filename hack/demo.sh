#!/usr/bin/env bash
# The main job, end to end, on examples/demo: start the test environment
# (buildkitd, a registry, base images), then `slipway run` builds the demo
# app for linux/amd64 and linux/arm64 on the real BuildKit, pushes it by
# digest to the local registry, moves its tags last and reports. Results
# stay in ./out; what was started is stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin/slipway}
export GOEXPERIMENT=jsonv2 # Trivy, linked into hack/demodb, needs it

# Stop at the end only what this script started.
if ! hack/testenv.sh status >/dev/null 2>&1; then
  trap 'hack/testenv.sh down >/dev/null' EXIT
fi
hack/testenv.sh up >/dev/null
# shellcheck disable=SC1091
. "${SLIPWAY_TEST_STATE:-/tmp/slipway-testenv}/env"

rm -rf out && mkdir -p out
# Trivy's vulnerability DB cannot be downloaded without internet: the demo
# writes a small, fake one with the code the tests use, and says so.
cat >&2 <<'BANNER'
######################################################################
##  DEMO VULNERABILITY DB: Trivy's real DB is not downloaded here.  ##
##  The scan uses a small fake DB (SLIPWAY-DEMO-* advisories) from  ##
##  internal/scan/fixture, written to out/trivy-cache.              ##
######################################################################
BANNER
go run ./hack/demodb -cache-dir out/trivy-cache

echo "== slipway run on examples/demo (registry $SLIPWAY_TEST_REGISTRY)" >&2
BUILDKIT_HOST=$BUILDKIT_HOST \
SLIPWAY_IMAGES="$SLIPWAY_TEST_REGISTRY/slipway/demo" \
SLIPWAY_BUILD_ARGS="BASE_IMAGE=$SLIPWAY_TEST_BASE_IMAGE" \
SLIPWAY_OUTPUT_DIR=out \
SLIPWAY_SCAN_CACHE_DIR=out/trivy-cache \
SLIPWAY_SCAN_SKIP_DB_UPDATE=true \
  "$bin" run --context examples/demo --output json > out/result.json
echo "== result: out/result.json; OCI layout: out/oci; reports and build metadata in out/" >&2
