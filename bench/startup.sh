#!/usr/bin/env bash
# What slipway's process start costs before main runs: the wall time of
# `slipway version` against `buildctl --version`, and the Go runtime's own
# account of package initialisation (GODEBUG=inittrace=1), summed per
# module, so the modules that make the start slow are named.
#
#   bench/startup.sh [-n N] [-t TOP]
#
#   -n N    runs of each command (default 11); medians are printed
#   -t TOP  modules listed (default 15)
#
# Needs bash, coreutils, awk, the Go toolchain (`go version -m` maps the
# packages to their modules) and bin/slipway (`make build`; BIN= another
# binary). buildctl is the test environment's (hack/testenv.sh), or
# BUILDCTL=. The figures go to stdout and to
# bench/results/startup-<UTC time>.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N=11
TOP=15
while getopts "n:t:h" opt; do
  case $opt in
  n) N=$OPTARG ;;
  t) TOP=$OPTARG ;;
  h)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *) exit 2 ;;
  esac
done
if ! [[ $N =~ ^[0-9]+$ ]] || [ "$N" -lt 3 ]; then
  echo "startup: -n must be a number ≥ 3 (got $N)" >&2
  exit 2
fi

SLIPWAY=${BIN:-bin/slipway}
[ -x "$SLIPWAY" ] || {
  echo "startup: $SLIPWAY is missing (make build)" >&2
  exit 1
}
BUILDCTL=${BUILDCTL:-${SLIPWAY_CACHE:-$HOME/.cache/slipway}/buildkit-v0.34.2/bin/buildctl}
[ -x "$BUILDCTL" ] || {
  echo "startup: $BUILDCTL is missing (hack/testenv.sh up builds it; or set BUILDCTL)" >&2
  exit 1
}
command -v go >/dev/null || {
  echo "startup: the Go toolchain is missing (go version -m names the modules)" >&2
  exit 1
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-startup.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=bench/stats.sh
. bench/stats.sh

# The modules linked into the binary, longest path first, so that the
# first prefix matching a package is its module.
go version -m "$SLIPWAY" | awk '$1 == "dep" || $1 == "mod" { print $2 }' |
  awk '{ print length($0), $0 }' | sort -rn | cut -d' ' -f2 >"$WORK/modules"

# inittrace: "init <package> @<t> ms, <clock> ms clock, <bytes> bytes, <n> allocs"
for ((i = 0; i < N; i++)); do
  GODEBUG=inittrace=1 "$SLIPWAY" version 2>&1 >/dev/null | awk -v run="$i" '$1 == "init" { print run, $2, $5 }'
done >"$WORK/inits"

# per module and run: the sum of its packages' init clock; then the median
# over runs per module (standard library packages are one "std" entry).
awk 'NR == FNR { mods[++m] = $1; next }
  {
    mod = "std"
    if ($2 ~ /\./) for (i = 1; i <= m; i++) if (index($2, mods[i]) == 1 && (length($2) == length(mods[i]) || substr($2, length(mods[i]) + 1, 1) == "/")) { mod = mods[i]; break }
    sum[$1 " " mod] += $3; total[$1] += $3; pk[$1]++
  }
  END {
    for (k in sum) print "mod", k, sum[k]
    for (r in total) print "total", r, "-", total[r], pk[r]
  }' "$WORK/modules" "$WORK/inits" >"$WORK/sums"

slip_ms=$(wall "$N" "$SLIPWAY" version)
bc_ms=$(wall "$N" "$BUILDCTL" --version)
init_ms=$(awk '$1 == "total" { print $4 }' "$WORK/sums" | med)
pkgs=$(awk '$1 == "total" { print $5; exit }' "$WORK/sums")

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
RESULT=bench/results/startup-$stamp.txt
{
  echo "slipway start-up ($stamp), median of $N runs"
  echo
  echo "wall time, process that only prints its version:"
  echo "  $("$SLIPWAY" version | head -n1): $slip_ms ms"
  echo "  $("$BUILDCTL" --version): $bc_ms ms"
  echo
  echo "package initialisation before main (GODEBUG=inittrace=1, which itself slows it):"
  echo "  $pkgs packages with init work, $init_ms ms in all"
  echo
  echo "by module, the $TOP slowest (median ms of init clock):"
  awk '$1 == "mod" { print $3, $4 }' "$WORK/sums" | sort -k1,1 -k2,2n |
    awk '{ v[$1] = v[$1] " " $2 } END { for (m in v) { n = split(substr(v[m], 2), a, " "); print ((n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2), m } }' |
    sort -rn | head -n "$TOP" | awk '{ printf "  %7.2f  %s\n", $1, $2 }'
  echo
  echo "binary: $SLIPWAY, $(($(stat -c %s "$SLIPWAY") / 1048576)) MiB; machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel $(uname -r)"
} | tee "$RESULT"
echo "startup: written: $RESULT" >&2
