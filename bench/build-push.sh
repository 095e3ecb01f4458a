#!/usr/bin/env bash
# Build+push benchmark: `slipway run` limited to build and push by digest,
# against raw `buildctl build` with the same options, on the same BuildKit
# daemon with a warm cache.
#
#   bench/build-push.sh [-n N] [-p PLATFORMS] [-w WARMUP]
#
#   -n N          timed runs of each side (default 7, at least 5)
#   -p PLATFORMS  comma-separated target platforms (default linux/amd64)
#   -w WARMUP     untimed runs of each side first (default 1)
#
# Needs only public tools: bash, coreutils, awk, sed, /usr/bin/time (Debian
# package "time"), git and make (to build bin/slipway when it is missing),
# and whatever hack/testenv.sh installs (it starts a buildkitd and a
# registry when they are not running, and stops them again at the end).
#
# The commands are built in bench/lib.sh (shared with bench/phases.sh).
#
# Both sides, for each run:
#   - build examples/demo/Dockerfile (BASE_IMAGE = the test registry's
#     busybox) for PLATFORMS on $BUILDKIT_HOST, provenance mode=min, no SBOM;
#   - the same image labels and manifest annotations (slipway generates
#     them: org.opencontainers.image.*, "created" being the time of the run;
#     buildctl gets the same keys and values, with its own "created"), so
#     each run makes a new image config on both sides, as a CI run would;
#   - push by digest, no tag, to the same registry:
#     slipway to <registry>/bench/slipway (BuildKit exports an OCI layout to
#     the client, slipway pushes it with go-containerregistry), buildctl to
#     <registry>/bench/raw (BuildKit's image exporter pushes it).
# slipway has scan, sign and every tag off (its plan has no tag step).
#
# Runs are interleaved (slipway, buildctl, buildctl, slipway, ...: the order
# alternates so neither side always runs second) and timed with the wall
# clock (date +%s%N around the process). Printed: median, min and max of
# each side, the ratio of the medians, the median of the per-pair ratios,
# and peak RSS (/usr/bin/time %M). The same goes to
# bench/results/build-push-<UTC date>-<platforms>.txt with the per-run
# figures, the exact commands and the machine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N=${BENCH_N:-7}
PLATFORMS=${BENCH_PLATFORMS:-linux/amd64}
WARMUP=${BENCH_WARMUP:-1}
while getopts "n:p:w:h" opt; do
  case $opt in
  n) N=$OPTARG ;;
  p) PLATFORMS=$OPTARG ;;
  w) WARMUP=$OPTARG ;;
  h)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *) exit 2 ;;
  esac
done
if ! [[ $N =~ ^[0-9]+$ ]] || [ "$N" -lt 5 ]; then
  echo "build-push: -n must be a number ≥ 5 (got $N)" >&2
  exit 2
fi
[[ $WARMUP =~ ^[0-9]+$ ]] || {
  echo "build-push: -w must be a number" >&2
  exit 2
}

log() { echo "build-push: $*" >&2; }

TIME=/usr/bin/time
[ -x "$TIME" ] || {
  log "$TIME is missing (Debian: apt-get install -y time)"
  exit 1
}

# shellcheck source=bench/lib.sh
PROGRESS=plain
. bench/lib.sh

# run_side NAME TAG: one run; appends "NAME ms rss_kb" to $WORK/runs.
run_side() {
  local side=$1 tag=$2 t0 t1 logf=$WORK/$1-$2.log
  if [ "$side" = slipway ]; then
    t0=$(now_ms)
    env "${slip_env[@]}" "$TIME" -f %M -o "$WORK/rss" \
      "$SLIPWAY" "${slip_args[@]}" >"$logf" 2>&1 || {
      tail -n 30 "$logf" >&2
      log "slipway failed ($logf)"
      exit 1
    }
    t1=$(now_ms)
  else
    raw_cmd "$(created_now)"
    t0=$(now_ms)
    "$TIME" -f %M -o "$WORK/rss" "${RAW[@]}" >"$logf" 2>&1 || {
      tail -n 30 "$logf" >&2
      log "buildctl failed ($logf)"
      exit 1
    }
    t1=$(now_ms)
  fi
  local rss
  rss=$(tail -n1 "$WORK/rss")
  [ "$tag" = warmup ] || echo "$side $((t1 - t0)) $rss $tag" >>"$WORK/runs"
  if [ "$side" = slipway ]; then
    # slipway's own figure: "built <digest> in Xms" (build and push)
    sed -n 's/^slipway: built [^ ]* in \([0-9.]*m\{0,1\}s\).*/\1/p' "$logf" | tail -n1 >"$WORK/built"
  fi
}

# ------------------------------------------------------------ runs

: >"$WORK/runs"
log "platforms $PLATFORMS: $WARMUP warm-up run(s) of each side, then $N interleaved pairs"
for ((i = 1; i <= WARMUP; i++)); do
  run_side slipway warmup
  run_side raw warmup
done
: >"$WORK/built-all"
for ((i = 1; i <= N; i++)); do
  if ((i % 2)); then order="slipway raw"; else order="raw slipway"; fi
  for s in $order; do
    run_side "$s" "$i"
    if [ "$s" = slipway ]; then echo "$i $(cat "$WORK/built")" >>"$WORK/built-all"; fi
  done
  printf '  run %d/%d: slipway %s ms, buildctl %s ms\n' "$i" "$N" \
    "$(awk -v i="$i" '$1 == "slipway" && $4 == i { print $2 }' "$WORK/runs")" \
    "$(awk -v i="$i" '$1 == "raw" && $4 == i { print $2 }' "$WORK/runs")" >&2
done

# ------------------------------------------------------------ figures

# stats SIDE COLUMN: "median min max" of COLUMN (2 = ms, 3 = RSS kB).
stats() {
  awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$WORK/runs" | sort -n |
    awk '{ v[NR] = $1 } END {
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%s %s %s\n", m, v[1], v[NR] }'
}
read -r s_med s_min s_max < <(stats slipway 2)
read -r r_med r_min r_max < <(stats raw 2)
read -r s_rss _ s_rss_max < <(stats slipway 3)
read -r r_rss _ r_rss_max < <(stats raw 3)
ratio=$(awk -v a="$s_med" -v b="$r_med" 'BEGIN { printf "%.3f", a / b }')
pair_ratio=$(awk '$1 == "slipway" { s[$4] = $2 } $1 == "raw" { r[$4] = $2 }
  END { for (i in s) print s[i] / r[i] }' "$WORK/runs" | sort -n |
  awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.10) ? "met" : "MISSED" }')

slug=$(printf '%s' "$PLATFORMS" | sed 's#linux/##g; s#[/,]#-#g')
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
RESULT=bench/results/build-push-$stamp-$slug.txt

# q ARG...: the arguments as one shell-quoted line ('...' where needed).
q() {
  local a out=()
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then
      out+=("$a")
    else
      out+=("'${a//\'/\'\\\'\'}'")
    fi
  done
  echo "${out[*]}"
}
raw_cmd '<created>'
{
  echo "slipway build+push benchmark ($stamp)"
  echo
  printf '%-10s %10s %10s %10s %14s\n' "" "median ms" "min ms" "max ms" "peak RSS MiB"
  printf '%-10s %10s %10s %10s %14s\n' slipway "$s_med" "$s_min" "$s_max" \
    "$(awk -v k="$s_rss" -v m="$s_rss_max" 'BEGIN { printf "%.1f (max %.1f)", k / 1024, m / 1024 }')"
  printf '%-10s %10s %10s %10s %14s\n' buildctl "$r_med" "$r_min" "$r_max" \
    "$(awk -v k="$r_rss" -v m="$r_rss_max" 'BEGIN { printf "%.1f (max %.1f)", k / 1024, m / 1024 }')"
  echo
  echo "ratio of medians slipway/buildctl: ${ratio}x (median of per-pair ratios: ${pair_ratio}x)"
  echo "target ≤ 1.10x: $verdict"
  echo
  echo "platforms: $PLATFORMS; N=$N interleaved pairs (order alternating), $WARMUP warm-up run(s) each"
  echo "slipway:   $("$SLIPWAY" version 2>/dev/null | head -n1)"
  echo "buildctl:  $("$BUILDCTL" --version 2>/dev/null)"
  echo "buildkitd: $BUILDKIT_HOST; registry: $REG"
  echo "machine:   $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(free -h | awk '/^Mem:/ { print $2 }') RAM, kernel $(uname -r)"
  echo
  echo "per run (side, wall ms, peak RSS kB, pair):"
  sed 's/^/  /' "$WORK/runs"
  echo "slipway's own \"built ... in\" figure per pair (build + push):"
  sed 's/^/  /' "$WORK/built-all"
  echo
  echo "commands:"
  echo "  slipway:  env $(q "${slip_env[@]}") $(q "$SLIPWAY" "${slip_args[@]}")"
  echo "  buildctl: $(q "${RAW[@]}")"
} | tee "$RESULT"
log "written: $RESULT"
