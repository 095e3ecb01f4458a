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
#   export     the exporter vertex starting ("exporting to oci image format"
#              for slipway, "exporting to image" for buildctl)
#   exported   the exporter vertex completed: for slipway, the OCI layout is
#              in the output directory (sent through the client session);
#              for buildctl, the image is pushed (the image exporter pushes)
#   1st req    slipway only: the registry's first request for
#              <registry>/bench/slipway (its log: completion − duration)
#   pushed     slipway only: the registry's last answer for that repository
#   end        the wall clock once the process has exited
# and the median of each phase over N runs is printed (milliseconds).
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
REGLOG=${SLIPWAY_TEST_STATE:-/tmp/slipway-testenv}/registry.log

slip() { env "${slip_env[@]}" "$SLIPWAY" "${slip_args[@]}"; }
raw() {
  raw_cmd "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
  "${RAW[@]}"
}

ms() { echo $(($(date -d "$1" +%s%N) / 1000000)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# vertex_times LOG: "first_start export_start export_completed" (RFC 3339).
vertex_times() {
  grep '^{' "$1" | jq -rs '
    [.[] | .vertexes[]?] as $v
    | ([$v[] | .started | select(.)] | min) as $first
    | [$v[] | select(.name | startswith("exporting to"))] as $e
    | [$first, ([$e[] | .started | select(.)] | min), ([$e[] | .completed | select(.)] | max)]
    | @tsv'
}

: >"$WORK/phases"
run() {
  local side=$1 log=$WORK/$1.log t0 t1 first es ec pushed='' req1=''
  t0=$(now_ms)
  if [ "$side" = slipway ]; then slip >"$log" 2>&1; else raw >"$log" 2>&1; fi
  t1=$(now_ms)
  read -r first es ec < <(vertex_times "$log")
  first=$(ms "$first") es=$(ms "$es") ec=$(ms "$ec")
  if [ "$side" = slipway ]; then
    # the registry's answers for bench/slipway within this run
    awk '/bench\/slipway/ && /response completed/ {
        match($0, /time="[^"]*"/); t = substr($0, RSTART + 6, RLENGTH - 7)
        match($0, /http.response.duration=[^ ]*/); d = substr($0, RSTART + 23, RLENGTH - 23)
        print t, d }' "$REGLOG" | tail -n 60 | while read -r t d; do
      m=$(ms "$t")
      if [ "$m" -ge "$t0" ] && [ "$m" -le "$t1" ]; then echo "$m $d"; fi
    done | sort -n >"$WORK/reqs"
    # first request start ≈ its completion time minus its duration
    req1=$(awk 'NR == 1 { d = $2; gsub(/"/, "", d); f = 1
        if (d ~ /µs$/) f = 0.001; else if (d ~ /ms$/) f = 1; else if (d ~ /s$/) f = 1000
        sub(/[µm]?s$/, "", d); printf "%.0f", $1 - d * f }' "$WORK/reqs")
    pushed=$(tail -n1 "$WORK/reqs" | cut -d' ' -f1)
    echo "slipway $((first - t0)) $((es - first)) $((ec - es)) $((req1 - ec)) $((pushed - req1)) $((t1 - pushed)) $((t1 - t0)) $(wc -l <"$WORK/reqs")" >>"$WORK/phases"
  else
    echo "raw $((first - t0)) $((es - first)) $((ec - es)) 0 0 $((t1 - ec)) $((t1 - t0)) -" >>"$WORK/phases"
  fi
}

slip >/dev/null 2>&1
raw >/dev/null 2>&1
for ((i = 1; i <= N; i++)); do
  if ((i % 2)); then run slipway; run raw; else run raw; run slipway; fi
done

med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "platforms $PLATFORMS, median of $N runs each, ms"
printf '%-9s %9s %7s %14s %12s %10s %6s %7s\n' "" "to solve" solve "export(+push)" "to 1st req" "registry" exit total
for side in slipway raw; do
  row=()
  for c in 2 3 4 5 6 7 8; do row+=("$(awk -v s="$side" -v c="$c" '$1 == s { print $c }' "$WORK/phases" | med)"); done
  name=slipway
  if [ "$side" = raw ]; then name=buildctl row[3]=- row[4]=-; fi
  printf '%-9s %9s %7s %14s %12s %10s %6s %7s\n' "$name" "${row[@]}"
done
echo "per run (side, to solve, solve, export, to first registry request, registry, exit, total, requests):"
sed 's/^/  /' "$WORK/phases"
