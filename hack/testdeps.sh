#!/usr/bin/env bash
# Installs, idempotently, the real fixtures and validators slipway's tests
# use: the npm packages pinned in hack/testdeps/package-lock.json
# (action-validator, gitlab-ci-local, ...) into hack/testdeps/node_modules,
# actionlint, Fulcio, Rekor v2, a timestamp authority, the cosign CLI (v2
# and v3), distribution v3's registry, oras and act, built from their Go
# modules into
# $SLIPWAY_CACHE/bin, cimage-copy, built there from hack/tools/cimage, and the
# Debian packages they call: rsync (gitlab-ci-local's shell executor) and
# ShellCheck (actionlint's checks of run: scripts).
set -euo pipefail
cd "$(dirname "$0")/testdeps"

ACTIONLINT_VERSION=v1.7.12
FULCIO_VERSION=v1.8.4
REKOR_VERSION=v2.3.0
TSA_VERSION=v2.1.2
COSIGN_VERSION=v2.6.5
COSIGN3_VERSION=v3.1.3
ACT_VERSION=v0.2.89
DISTRIBUTION_VERSION=v3.1.2
ORAS_VERSION=v1.3.6
REGCTL_VERSION=v0.11.7
SLIPWAY_CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}

# Debian packages, installed with apt-get when missing (as root).
packages=(rsync shellcheck)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "testdeps: installing ${missing[*]} with apt-get" >&2
  [ "$(id -u)" = 0 ] || { echo "testdeps: run as root, or apt-get install ${missing[*]}" >&2; exit 1; }
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

command -v npm >/dev/null || { echo "testdeps: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }

stamp=node_modules/.slipway-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "testdeps: installing pinned npm packages into hack/testdeps/node_modules" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi

# go_tool NAME VERSION PACKAGE: the Go command PACKAGE (its last path
# element is NAME), built once (static) into $SLIPWAY_CACHE/bin/NAME-VERSION
# and reused.
go_tool() {
  local name=$1 version=$2 module=$3
  local bin=$SLIPWAY_CACHE/bin/$name-$version
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || { echo "testdeps: go is missing" >&2; exit 1; }
  echo "testdeps: building $name $version into $SLIPWAY_CACHE/bin" >&2
  mkdir -p "$SLIPWAY_CACHE/bin"
  (
    dir=$(mktemp -d "$SLIPWAY_CACHE/bin/.$name.XXXXXX")
    trap 'rm -rf "$dir"' EXIT
    GOBIN=$dir CGO_ENABLED=0 go install "$module@$version" >&2
    mv "$dir/${module##*/}" "$bin"
  )
}

# actionlint: the example workflow and action.yml are checked with it.
go_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint

# Fulcio, Sigstore's certificate authority: the keyless signing e2e test
# runs it with an ephemeral CA (internal/testenv.StartFulcio).
go_tool fulcio "$FULCIO_VERSION" github.com/sigstore/fulcio

# Rekor v2 (rekor-tiles), Sigstore's transparency log, with its POSIX
# storage: signing tests run with the log on against it
# (internal/testenv.StartRekor). v2.3.0 is the newest that builds with Go
# 1.26 (v2.4 needs 1.27) and the one sigstore-go's and cosign v3's clients
# are built against.
go_tool rekor "$REKOR_VERSION" github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix

# Sigstore's RFC 3161 timestamp authority, of the version slipway's
# sigstore-go client is built against: keyless signing with Rekor v2 (whose
# entries carry no time) is timestamped by it in tests
# (internal/testenv.StartTimestampAuthority).
go_tool tsa "$TSA_VERSION" github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server

# The cosign CLI of the version slipway links: the sign e2e tests verify
# slipway's signatures and attestations with it.
go_tool cosign "$COSIGN_VERSION" github.com/sigstore/cosign/v2/cmd/cosign

# The current cosign CLI, v3 (what cosign-installer installs today): the
# bundle e2e tests check that what slipway writes verifies with its
# defaults.
go_tool cosign3 "$COSIGN3_VERSION" github.com/sigstore/cosign/v3/cmd/cosign

# distribution v3's registry (Debian's docker-registry is 2.8): the
# signing e2e tests push to both, and to go-containerregistry's registry,
# which has the Referrers API (internal/testenv.StartDistributionV3).
go_tool distribution "$DISTRIBUTION_VERSION" github.com/distribution/distribution/v3/cmd/registry

# oras, a client that reads OCI 1.1 referrers: the signing e2e tests list
# slipway's Sigstore bundles with oras discover.
go_tool oras "$ORAS_VERSION" oras.land/oras/cmd/oras

# regctl (regclient), another registry client: the comparison e2e test
# checks with `regctl image check-base` the base image annotations slipway
# writes.
go_tool regctl "$REGCTL_VERSION" github.com/regclient/regclient/cmd/regctl

# act, the GitHub Actions runner emulator: test/ci runs the release and the
# example workflows under it, on the test environment's dockerd.
go_tool act "$ACT_VERSION" github.com/nektos/act

# cimage-copy, `skopeo copy [--all] --policy` built from upstream
# containers/image in its own module, hack/tools/cimage (Debian's skopeo and
# podman have no sigstore support): tests check with it that a
# containers-policy.json accepts slipway's images and cosign signatures
# (internal/testenv.CImageCopy). Built static, without gpgme or
# containers-storage, into $SLIPWAY_CACHE/bin/cimage-copy-HASH, HASH the first
# 12 hex digits of the SHA-256 of its go.mod, go.sum and main.go (one after
# the other), so that a change to any of them rebuilds it.
cimage_tool() {
  local src=../tools/cimage hash bin
  hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
  bin=$SLIPWAY_CACHE/bin/cimage-copy-$hash
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || { echo "testdeps: go is missing" >&2; exit 1; }
  echo "testdeps: building cimage-copy $hash into $SLIPWAY_CACHE/bin" >&2
  mkdir -p "$SLIPWAY_CACHE/bin"
  (
    dir=$(mktemp -d "$SLIPWAY_CACHE/bin/.cimage-copy.XXXXXX")
    trap 'rm -rf "$dir"' EXIT
    cd "$src"
    CGO_ENABLED=0 go build -trimpath \
      -tags containers_image_openpgp,containers_image_storage_stub,containers_image_docker_daemon_stub \
      -o "$dir/cimage-copy" . >&2
    mv "$dir/cimage-copy" "$bin"
  )
}
cimage_tool
