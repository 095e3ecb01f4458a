#!/usr/bin/env bash
# Scan benchmark on a large image: slipway's scan stage (Trivy as a
# library, offline, fixture vulnerability DB) on a single-layer image of a
# real Debian 12 root filesystem. Reports scan time (cold: every layer
# analysed; warm: the layer analysis from Trivy's fs cache), peak heap from
# inside the benchmark, and the test process's peak RSS.
#
#   bench/scan-large.sh [-n N] [-r]
#
#   -n N   scans per sub-benchmark (go test -benchtime=Nx; default 5)
#   -r     only make the root filesystem (no benchmark)
#
# Environment:
#   SLIPWAY_CACHE          cache root (default $HOME/.cache/slipway); the
#                          root filesystem is made once, in
#                          $SLIPWAY_CACHE/bench/debian-bookworm-minbase
#   SLIPWAY_DEBIAN_MIRROR  the Debian archive (default: the one this
#                          machine's apt uses for bookworm, as
#                          hack/testenv.sh finds it)
#
# Making the root filesystem runs `debootstrap --variant=minbase bookworm`
# and needs root (debootstrap is apt-get installed when missing). Then:
#
#   go test -c ./internal/scan/      (the test binary, built first so that
#                                     the compiler and linker are not in the
#                                     RSS figure)
#   SLIPWAY_BENCH_ROOTFS=<rootfs> /usr/bin/time -v scan.test \
#     -test.run '^$' -test.bench '^BenchmarkScanLargeImage$' \
#     -test.benchmem -test.benchtime=Nx        (in internal/scan, as go test)
#
# which is `go test -run '^$' -bench BenchmarkScanLargeImage -benchmem
# -benchtime=Nx ./internal/scan/` with the build step taken out of the
# timing. The figures go to bench/results/scan-large-<UTC date>.txt with
# the machine, the root filesystem and /usr/bin/time's report.
#
# Needs: bash, coreutils, awk, sed, Go, /usr/bin/time (Debian package
# "time"), debootstrap.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=hack/lib.sh
. "$ROOT/hack/lib.sh"
cd "$ROOT"

N=${BENCH_N:-5}
ROOTFS_ONLY=
while getopts "n:rh" opt; do
  case $opt in
  n) N=$OPTARG ;;
  r) ROOTFS_ONLY=1 ;;
  h)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *) exit 2 ;;
  esac
done
if ! [[ $N =~ ^[0-9]+$ ]] || [ "$N" -lt 1 ]; then
  echo "scan-large: -n must be a number ≥ 1 (got $N)" >&2
  exit 2
fi

log() { echo "scan-large: $*" >&2; }
die() {
  log "$*"
  exit 1
}

CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}/bench
SUITE=bookworm
ROOTFS=$CACHE/debian-$SUITE-minbase

# make_rootfs: $ROOTFS, made once (the stamp file marks a finished one).
make_rootfs() {
  if [ -f "$ROOTFS.stamp" ] && [ -s "$ROOTFS/var/lib/dpkg/status" ]; then
    log "root filesystem: $ROOTFS (cached, $(cat "$ROOTFS.stamp"))"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "debootstrap needs root: run as root once to make $ROOTFS"
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 ||
      { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; } ||
      die "apt-get install debootstrap failed"
  fi
  local mirror tmp
  mirror=$(debian_mirror "$SUITE") || exit 1
  mkdir -p "$CACHE"
  rm -rf "$ROOTFS" "$ROOTFS".tmp.*
  tmp=$(mktemp -d "$ROOTFS.tmp.XXXXXX")
  log "debootstrap --variant=minbase $SUITE $tmp $mirror (once)"
  debootstrap --variant=minbase "$SUITE" "$tmp" "$mirror" >"$tmp.log" 2>&1 || {
    tail -n 30 "$tmp.log" >&2
    die "debootstrap failed (log: $tmp.log)"
  }
  rm -rf "$tmp/var/cache/apt/archives/"*.deb
  mv "$tmp" "$ROOTFS"
  rm -f "$tmp.log"
  echo "debootstrap --variant=minbase $SUITE $mirror, $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$ROOTFS.stamp"
  log "root filesystem: $ROOTFS"
}

make_rootfs
[ -z "$ROOTFS_ONLY" ] || exit 0

TIME=/usr/bin/time
[ -x "$TIME" ] || die "$TIME is missing (Debian: apt-get install -y time)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-scan-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

export GOEXPERIMENT=jsonv2
log "building the test binary (go test -c ./internal/scan/)"
go test -c -o "$WORK/scan.test" ./internal/scan/ >&2

bench_args=(-test.run '^$' -test.bench '^BenchmarkScanLargeImage$' -test.benchmem "-test.benchtime=${N}x")
# The same binary running nothing: its own RSS (text, Trivy's package
# initialisation, the runtime), which the benchmark's peak RSS includes.
(cd internal/scan && "$TIME" -f %M -o "$WORK/idle-rss" "$WORK/scan.test" -test.run '^$' >/dev/null 2>&1) ||
  die "the test binary does not run"
idle_kb=$(tail -n1 "$WORK/idle-rss")
log "running BenchmarkScanLargeImage (${N} cold and ${N} warm scans, after building the image)"
(
  cd internal/scan
  SLIPWAY_BENCH_ROOTFS=$ROOTFS "$TIME" -v -o "$WORK/time.txt" "$WORK/scan.test" "${bench_args[@]}"
) | tee "$WORK/bench.txt" >&2 || {
  cat "$WORK/time.txt" >&2 || true
  die "the benchmark failed"
}
grep -q '^ok\|^PASS' "$WORK/bench.txt" || die "the benchmark failed"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
RESULT=bench/results/scan-large-$stamp.txt
tv() { sed -n "s/^[[:space:]]*$1: //p" "$WORK/time.txt"; }
rss_kb=$(tv 'Maximum resident set size (kbytes)')
{
  echo "slipway scan benchmark on a large image ($stamp)"
  echo
  grep -E '^(Benchmark|goos|goarch|pkg|cpu)' "$WORK/bench.txt"
  echo
  grep 'large_bench_test.go' "$WORK/bench.txt" | sed 's/^[[:space:]]*large_bench_test.go:[0-9]*: /  /'
  echo
  echo "test process (image build + DB write + 1 warm-up + $N cold + $N warm scans), /usr/bin/time -v:"
  echo "  peak RSS:      $(awk -v k="$rss_kb" 'BEGIN { printf "%.1f MiB", k / 1024 }') ($rss_kb kB)"
  echo "  idle RSS:      $(awk -v k="$idle_kb" 'BEGIN { printf "%.1f MiB", k / 1024 }') ($idle_kb kB: the same binary running no test or benchmark)"
  echo "  peak - idle:   $(awk -v k="$rss_kb" -v i="$idle_kb" 'BEGIN { printf "%.1f MiB", (k - i) / 1024 }')"
  echo "  wall:          $(tv 'Elapsed (wall clock) time (h:mm:ss or m:ss)')"
  echo "  user / system: $(tv 'User time (seconds)') s / $(tv 'System time (seconds)') s"
  echo
  echo "root filesystem: $ROOTFS"
  echo "  made by:       $(cat "$ROOTFS.stamp")"
  echo "  size (du):     $(du -sh --apparent-size "$ROOTFS" 2>/dev/null | cut -f1) apparent, $(find "$ROOTFS" -xdev | wc -l) entries"
  echo "  dpkg packages: $(grep -c '^Status: install ok installed' "$ROOTFS/var/lib/dpkg/status")"
  # shellcheck disable=SC1091 # the root filesystem's own file
  echo "  os:            $(. "$ROOTFS/etc/os-release" && echo "$PRETTY_NAME") ($(cat "$ROOTFS/etc/debian_version"))"
  echo
  echo "machine:   $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  free -h | sed 's/^/  /'
  echo "go:        $(go version)"
  echo "slipway:   $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo -dirty)"
  echo "test binary: $(stat -c %s "$WORK/scan.test" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
  echo
  echo "command (in internal/scan):"
  echo "  SLIPWAY_BENCH_ROOTFS=$ROOTFS /usr/bin/time -v scan.test$(printf ' %q' "${bench_args[@]}")"
  echo "  (scan.test: GOEXPERIMENT=jsonv2 go test -c ./internal/scan/)"
  echo
  echo "full benchmark output:"
  sed 's/^/  /' "$WORK/bench.txt"
  echo
  echo "/usr/bin/time -v:"
  cat "$WORK/time.txt"
} >"$RESULT"
sed -n '1,/^root filesystem/p' "$RESULT" | sed '$d'
log "written: $RESULT"
