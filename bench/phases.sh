#!/usr/bin/env bash
# Where the time of one build+push goes, for slipway and for raw buildctl:
# a companion of bench/build-push.sh (same commands, same daemon, warm
# cache), with BuildKit's progress as rawjson instead of plain text.
#
#   bench/phases.sh [-n N] [-p PLATFORMS]
#
# Each run is cut into phases from timestamps that need no profiler:
#   start      the wall clock just before the process is started
#   solve      the first BuildKit vertex starting (the daemon has the request)
#   export     the first exporter vertex starting ("exporting to image",
#              and for slipway and buildctl+layout also "exporting to oci
#              image format", both at once)
#   push       BuildKit starting to push ("pushing layers"): the image
#              exporter pushes once every exporter of the build is done.
#              slipway pushes itself: its blobs go up during the export
#              (so its push phase is 0) and its manifests after the build,
#              in "exit"
#   pushed     the last exporter vertex completed
#   end        the wall clock once the process has exited
# and the median of each phase over N runs is printed (milliseconds), for
# slipway, raw buildctl (push only) and buildctl+layout (push and an OCI
# layout: slipway's outputs). Then the start-up alone: the median wall
# time of `slipway version` and of `buildctl --version`.
#
# The commands are those of bench/build-push.sh (bench/lib.sh). Needs bash,
# coreutils, awk, jq (Debian package "jq") and the test environment
# (hack/testenv.sh; started and stopped again when not running).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N=5
PLATFORMS=linux/amd64
while getopts "n:p:h" opt; do
  case $opt in
  n) N=$OPTARG ;;
  p) PLATFORMS=$OPTARG ;;
  h)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *) exit 2 ;;
  esac
done
command -v jq >/dev/null || {
  echo "phases: jq is missing (Debian: apt-get install -y jq)" >&2
  exit 1
}

log() { echo "phases: $*" >&2; }
PROGRESS=rawjson
# shellcheck source=bench/lib.sh
. bench/lib.sh

slip() { env "${slip_env[@]}" "$SLIPWAY" "${slip_args[@]}"; }
raw() {
  raw_cmd "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1"
  "${RAW[@]}"
}

ms() { echo $(($(date -d "$1" +%s%N) / 1000000)); }

# times LOG: "first_start export_start push_start export_completed"
# (RFC 3339), from BuildKit's rawjson progress; push_start is
# export_completed when BuildKit did not push (slipway's side).
times() {
  grep '^{' "$1" | jq -rs '
    [.[] | .vertexes[]?] as $v
    | [.[] | .statuses[]?] as $s
    | ([$v[] | .started | select(.)] | min) as $first
    | [$v[] | select(.name | startswith("exporting to"))] as $e
    | ([$e[] | .completed | select(.)] | max) as $done
    | [$first,
       ([$e[] | .started | select(.)] | min),
       (([$s[] | select(.id == "pushing layers") | .started | select(.)] | min) // $done),
       $done]
    | @tsv'
}

: >"$WORK/phases"
run() {
  local side=$1 log=$WORK/$1.log t0 t1 first es ps ec
  t0=$(now_ms)
  if [ "$side" = slipway ]; then slip >"$log" 2>&1; else raw "$side" >"$log" 2>&1; fi
  t1=$(now_ms)
  read -r first es ps ec < <(times "$log")
  first=$(ms "$first") es=$(ms "$es") ps=$(ms "$ps") ec=$(ms "$ec")
  echo "$side $((first - t0)) $((es - first)) $((ps - es)) $((ec - ps)) $((t1 - ec)) $((t1 - t0))" >>"$WORK/phases"
}

SIDES=(slipway raw rawoci)
for s in "${SIDES[@]}"; do run "$s"; done
: >"$WORK/phases"
for ((i = 1; i <= N; i++)); do
  for ((j = 0; j < 3; j++)); do run "${SIDES[$(((i - 1 + j) % 3))]}"; done
done

# shellcheck source=bench/stats.sh
. bench/stats.sh
echo "platforms $PLATFORMS, median of $N runs each, ms"
printf '%-16s %9s %7s %16s %7s %6s %7s\n' "" "to solve" solve "export(+layout)" push exit total
for side in "${SIDES[@]}"; do
  row=()
  for c in 2 3 4 5 6 7; do row+=("$(awk -v s="$side" -v c="$c" '$1 == s { print $c }' "$WORK/phases" | med)"); done
  case $side in raw) name=buildctl ;; rawoci) name=buildctl+layout ;; *) name=$side ;; esac
  printf '%-16s %9s %7s %16s %7s %6s %7s\n' "$name" "${row[@]}"
done
echo "start-up alone: slipway version $(wall "$N" "$SLIPWAY" version) ms, buildctl --version $(wall "$N" "$BUILDCTL" --version) ms"
echo "per run (side, to solve, solve, export, push, exit, total):"
sed 's/^/  /' "$WORK/phases"
