#!/usr/bin/env bash
# Images assembled from what this machine reaches (Debian's mirror through
# mmdebstrap, the Go module proxy), pushed to a registry under bases/:
#
#   hack/bases.sh dockerfile REGISTRY [PLATFORMS]
#       the base images that the repository's Dockerfile names, printed as
#       slipway build-contexts, one per line:
#       golang:1.26-trixie=docker-image://REGISTRY/bases/golang:1.26-trixie@sha256:…
#
#       debian:<release>-slim   Debian <release> (mmdebstrap --variant=minbase,
#                               with the slim image's dpkg excludes) for each
#                               of PLATFORMS (default linux/amd64,linux/arm64;
#                               arm64 through qemu-user-static)
#       golang:<go>-<release>   the same Debian with ca-certificates and git,
#                               and Go from the Go module proxy
#                               (golang.org/toolchain@v0.0.1-go<ver>.linux-<arch>),
#                               for the build platform only: the Dockerfile's
#                               Go stages run --platform=$BUILDPLATFORM
#
#       <release> and <go> are the Dockerfile's DEBIAN_RELEASE and GO_VERSION.
#
#   hack/bases.sh runner REGISTRY
#       REGISTRY/bases/runner:<release>, the job image of the CI runner
#       emulators in the tests (act's ubuntu-latest, gitlab-ci-local's helper
#       image): Debian with bash, git, rsync and ca-certificates; printed as
#       REGISTRY/bases/runner:<release>@sha256:…
#
# The root file systems and the assembled images are kept in
# $SLIPWAY_CACHE/bases: only the first run on a machine bootstraps Debian.
# Needs root (mmdebstrap, apt-get).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "bases: $*" >&2; }
die() {
  echo "bases: error: $*" >&2
  exit 1
}
# shellcheck source=hack/lib.sh
. "$ROOT/hack/lib.sh"

# The Go release of the golang image: a release of the Dockerfile's GO_VERSION.
GO_TOOLCHAIN=1.26.8
CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
BASES=$CACHE/bases

usage="usage: $0 dockerfile REGISTRY [PLATFORMS] | runner REGISTRY"
[ $# -ge 2 ] || die "$usage"
what=$1
registry=$2
platforms=${3:-linux/amd64,linux/arm64}
case $what in dockerfile | runner) ;; *) die "$usage" ;; esac
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap)"

arg() { sed -n "s/^ARG $1=//p" "$ROOT/Dockerfile" | head -n1; }
go_version=$(arg GO_VERSION)
release=$(arg DEBIAN_RELEASE)
if [ -z "$go_version" ] || [ -z "$release" ]; then
  die "the Dockerfile declares no GO_VERSION or DEBIAN_RELEASE default"
fi
case $GO_TOOLCHAIN in
"$go_version" | "$go_version".*) ;;
*) die "GO_TOOLCHAIN $GO_TOOLCHAIN is no release of the Dockerfile's GO_VERSION $go_version: change both together" ;;
esac

ensure_packages mmdebstrap arch-test
mkdir -p "$BASES"
exec 8>"$BASES/.lock"
flock -w 1800 8 || die "another hack/bases.sh holds $BASES/.lock"

# The mirror this machine's apt uses, in the images' sources too.
# shellcheck disable=SC1091 # the machine's own file
host_suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mirror=$(debian_mirror "$host_suite") || die "no Debian mirror"
security=$(SLIPWAY_DEBIAN_MIRROR='' debian_mirror "$host_suite-security" 2>/dev/null) || security=
sources=("deb $mirror $release main" "deb $mirror $release-updates main")
[ -z "$security" ] || sources+=("deb $security $release-security main")

# What makes Debian's images (docker-library/debian, debuerreotype) slim
# and clean, kept in the image for what later stages install: the dpkg
# excludes of the slim variant, and apt configured to leave no package
# cache or package lists in a layer (docker-clean), to keep lists
# compressed and to fetch no translations.
# shellcheck disable=SC2016 # mmdebstrap expands $1 (the chroot) in hooks
slim=(
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/groff/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/linda/*'
  --dpkgopt='path-exclude=/usr/share/lintian/overrides/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='force-unsafe-io'
  --customize-hook='cat >"$1/etc/apt/apt.conf.d/docker-clean" <<EOF
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF'
  --customize-hook='echo "Acquire::GzipIndexes \"true\";" >"$1/etc/apt/apt.conf.d/docker-gzip-indexes"'
  --customize-hook='echo "Acquire::Languages \"none\";" >"$1/etc/apt/apt.conf.d/docker-no-languages"'
  --customize-hook='echo "Apt::AutoRemove::SuggestsImportant \"false\";" >"$1/etc/apt/apt.conf.d/docker-autoremove-suggests"'
  # With docker-clean's empty Dir::Cache::pkgcache, apt-get clean (at
  # mmdebstrap's cleanup) no longer finds these.
  --customize-hook='rm -f "$1"/var/cache/apt/*.bin'
)

# The certificate authorities this machine trusts beyond Debian's (a
# TLS-intercepting egress proxy's, say): the Go stages fetch modules over
# HTTPS through it, so the golang image trusts them too, as a base image
# made for a network behind such a proxy does.
shopt -s nullglob
local_cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob
ca_hooks=()
if [ ${#local_cas[@]} -gt 0 ]; then
  # shellcheck disable=SC2016 # mmdebstrap expands $1 (the chroot) in hooks
  ca_hooks=(
    --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"'
    --customize-hook="copy-in ${local_cas[*]} /usr/local/share/ca-certificates/"
    --customize-hook='chroot "$1" update-ca-certificates'
  )
fi

# rootfs KIND ARCH [PACKAGES [MMDEBSTRAP-OPTIONS...]]: the path of Debian
# $release for ARCH as a tarball, made once with mmdebstrap, named by a
# hash of how it is made (options, sources, the CA files the options
# copy), so that a change makes it anew; the older one goes.
rootfs() {
  local kind=$1 arch=$2 include=${3:-} key out old
  shift $(($# < 3 ? $# : 3))
  local args=(--quiet --variant=minbase --format=tar --architectures="$arch"
    ${include:+--include="$include"} "${slim[@]}" "$@")
  key=$({
    printf '%s\n' "${args[@]}" "$release" "${sources[@]}"
    [ ${#local_cas[@]} -eq 0 ] || cat "${local_cas[@]}"
  } | sha256sum | cut -c1-12)
  out=$BASES/$kind-$release-$arch-$key.tar
  if [ ! -s "$out" ]; then
    log "bootstrapping Debian $release ($kind, $arch) from $mirror (once; arm64 runs through qemu)"
    # A mirror's transient failure (apt's downloads are not retried by
    # mmdebstrap) gets two more tries.
    local try
    for try in 1 2 3; do
      mmdebstrap "${args[@]}" "$release" "$out.tmp" "${sources[@]}" >&2 && break
      rm -f "$out.tmp"
      [ "$try" -lt 3 ] || die "mmdebstrap $release $arch failed (3 tries)"
      log "mmdebstrap $release $arch failed (try $try of 3); trying again in $((try * 10))s"
      sleep $((try * 10))
    done
    mv "$out.tmp" "$out"
    for old in "$BASES/$kind-$release-$arch"-*.tar; do
      [ "$old" = "$out" ] || rm -f "$old"
    done
  fi
  echo "$out"
}

# toolchain ARCH: the path of the golang.org/toolchain module zip of
# $GO_TOOLCHAIN for linux/ARCH, through the Go module proxy (checked
# against the checksum database like any module).
toolchain() {
  local zip
  zip=$(cd "$BASES" && go_mod_download Zip "golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN.linux-$1")
  [ -s "${zip:-/nonexistent}" ] || die "go mod download golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN.linux-$1 failed"
  echo "$zip"
}

build_arch=$(dpkg --print-architecture)
bases=("go" "run" "$ROOT/hack/bases" -registry "$registry" -cache "$BASES")

# Each root file system is made before the assembler runs: a failure inside
# $(...) ends only that subshell, so it is checked here, not passed on as "".
if [ "$what" = runner ]; then
  fs=$(rootfs runner "$build_arch" bash,ca-certificates,git,rsync) || exit 1
  (cd "$ROOT" && "${bases[@]}" -name "runner:$release" -rootfs "linux/$build_arch=$fs") |
    sed 's/^[^=]*=docker-image:\/\///' || die "assembling runner:$release failed"
  exit 0
fi

slim_args=()
IFS=, read -ra plats <<<"$platforms"
for p in "${plats[@]}"; do
  case $p in
  linux/amd64 | linux/arm64 | linux/arm64/v8) ;;
  *) die "platform $p: only linux/amd64 and linux/arm64 can be bootstrapped here" ;;
  esac
  a=${p#linux/}
  a=${a%%/*}
  fs=$(rootfs debian-slim "$a") || exit 1
  slim_args+=(-rootfs "linux/$a=$fs")
done
(cd "$ROOT" && "${bases[@]}" -name "debian:$release-slim" "${slim_args[@]}") ||
  die "assembling debian:$release-slim failed"

fs=$(rootfs golang "$build_arch" ca-certificates,git "${ca_hooks[@]}") || exit 1
zip=$(toolchain "$build_arch") || exit 1
(cd "$ROOT" && "${bases[@]}" -name "golang:$go_version-$release" -go-version "$GO_TOOLCHAIN" \
  -rootfs "linux/$build_arch=$fs" -go "linux/$build_arch=$zip") ||
  die "assembling golang:$go_version-$release failed"
