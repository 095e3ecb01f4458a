#!/usr/bin/env bash
# make image: slipway builds its own image. bin/slipway runs its whole
# pipeline on the repository's Dockerfile, on the test environment's
# BuildKit: it builds for PLATFORMS (default linux/amd64,linux/arm64),
# pushes by digest to the test registry (<registry>/slipway-ci/slipway),
# scans (the demo DB, written by hack/demodb), signs and attests with an
# ephemeral key, verifies, then moves the tags. The Dockerfile's base
# images come from hack/bases.sh as named contexts. The last line of
# standard output is the pinned reference, <registry>/slipway-ci/slipway@sha256:…
#
# The test environment is started when it is not running, and left
# running: the image lives in its registry. $SLIPWAY_TEST_STATE/image.env
# tells the tests where the image and its public key are. Results (the
# report, the SBOMs, cosign.pub) are in out/image.
#
# Environment: PLATFORMS, BIN (default bin/slipway), IMAGE_OUT (out/image).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin/slipway}
platforms=${PLATFORMS:-linux/amd64,linux/arm64}
out=${IMAGE_OUT:-out/image}
export GOEXPERIMENT=jsonv2 # Trivy, linked into hack/demodb, needs it

[ -x "$bin" ] || {
  echo "image: $bin is missing: run make build (make image does)" >&2
  exit 1
}
hack/testenv.sh up >/dev/null
state=${SLIPWAY_TEST_STATE:-/tmp/slipway-testenv}
# shellcheck disable=SC1091
. "$state/env"

contexts=$(hack/bases.sh dockerfile "$SLIPWAY_TEST_REGISTRY" "$platforms")

rm -rf "$out"
mkdir -p "$out"
# Trivy's real DB cannot be downloaded here: the demo DB (fake
# SLIPWAY-DEMO-* advisories for Debian 12 and Alpine; none for this image's
# Debian 13), so the scan runs for real and its findings say nothing.
go run ./hack/demodb -cache-dir "$out/trivy-cache"
# An ephemeral key: no OIDC issuer is reachable for keyless signing.
COSIGN_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export COSIGN_PASSWORD
go run ./hack/demokey -dir "$out/keys" >/dev/null

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
commit=$(git rev-parse HEAD)
repo=$SLIPWAY_TEST_REGISTRY/slipway-ci/slipway
echo "image: slipway builds $repo for $platforms" >&2
start=$SECONDS
env BUILDKIT_HOST="$BUILDKIT_HOST" \
  SLIPWAY_CI=local \
  SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" \
  SLIPWAY_IMAGES="$repo" \
  SLIPWAY_PLATFORMS="$platforms" \
  SLIPWAY_BUILD_CONTEXTS="$contexts" \
  SLIPWAY_BUILD_ARGS="VERSION=$version"$'\n'"COMMIT=$commit" \
  SLIPWAY_PUSH=true SLIPWAY_COMMENT=never \
  SLIPWAY_SIGN=true SLIPWAY_COSIGN_KEY="$out/keys/cosign.key" SLIPWAY_TLOG_UPLOAD=false \
  SLIPWAY_SCAN_CACHE_DIR="$out/trivy-cache" SLIPWAY_SCAN_SKIP_DB_UPDATE=true \
  SLIPWAY_OUTPUT_DIR="$out" \
  "$bin" run --context . --file Dockerfile >"$out/images"
ref=$(head -n1 "$out/images")
case $ref in
"$repo"@sha256:*) ;;
*)
  echo "image: slipway printed no reference of $repo on stdout: '$ref'" >&2
  exit 1
  ;;
esac
cat >"$state/image.env.tmp" <<EOF
SLIPWAY_TEST_IMAGE=$ref
SLIPWAY_TEST_IMAGE_PLATFORMS=$platforms
SLIPWAY_TEST_IMAGE_PUBKEY=$(cd "$out" && pwd)/cosign.pub
SLIPWAY_TEST_IMAGE_BUILD_CONTEXTS=$(echo "$contexts" | paste -sd, -)
EOF
mv "$state/image.env.tmp" "$state/image.env"
echo "image: $ref in $((SECONDS - start))s (report: $out/slipway-summary.md)" >&2
echo "$ref"
