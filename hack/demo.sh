#!/usr/bin/env bash
# The main job, end to end, on examples/demo: start the test environment
# (buildkitd, a registry, base images), then `slipway run` builds the demo
# app for linux/amd64 and linux/arm64 on the real BuildKit, pushes it by
# digest to the local registry, scans it, signs and attests it with an
# ephemeral cosign key, verifies that, moves its tags last and prints the
# summary a pull request would get. Results stay in ./out; what was
# started is stopped again.
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
# Trivy's vulnerability DB: the real one when its registry answers,
# otherwise a small, fake one written with the code the tests use.
scan_env=(SLIPWAY_SCAN_CACHE_DIR=out/trivy-cache)
if curl -fsS -m 5 -o /dev/null -w '' https://mirror.gcr.io/v2/ 2>/dev/null ||
  [ "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' https://mirror.gcr.io/v2/ 2>/dev/null)" = 401 ]; then
  echo "== Trivy's vulnerability DB is reachable: the scan downloads the real one into out/trivy-cache" >&2
else
  cat >&2 <<'BANNER'
######################################################################
##  DEMO VULNERABILITY DB: Trivy's real DB cannot be downloaded     ##
##  here (no route to mirror.gcr.io). The scan uses a small, fake   ##
##  DB (SLIPWAY-DEMO-* advisories) from internal/scan/fixture,      ##
##  written to out/trivy-cache. Its findings are not real.          ##
######################################################################
BANNER
  go run ./hack/demodb -cache-dir out/trivy-cache
  scan_env+=(SLIPWAY_SCAN_SKIP_DB_UPDATE=true)
fi

# An ephemeral cosign key pair, for this demo only; the transparency log
# (public Rekor) is off since the demo registry is private to this machine.
COSIGN_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export COSIGN_PASSWORD
go run ./hack/demokey -dir out/keys

echo "== slipway run on examples/demo (registry $SLIPWAY_TEST_REGISTRY)" >&2
env BUILDKIT_HOST="$BUILDKIT_HOST" \
  SLIPWAY_IMAGES="$SLIPWAY_TEST_REGISTRY/slipway/demo" \
  SLIPWAY_BUILD_ARGS="BASE_IMAGE=$SLIPWAY_TEST_BASE_IMAGE" \
  SLIPWAY_OUTPUT_DIR=out \
  SLIPWAY_SIGN=true SLIPWAY_COSIGN_KEY=out/keys/cosign.key SLIPWAY_TLOG_UPLOAD=false \
  "${scan_env[@]}" \
  "$bin" run --context examples/demo --output json > out/result.json
echo "== the summary a pull request would get (out/slipway-summary.md):" >&2
cat out/slipway-summary.md >&2
echo "== result: out/result.json; summary: out/slipway-summary.md; OCI layout: out/oci; reports in out/" >&2
