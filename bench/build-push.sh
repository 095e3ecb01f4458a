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
# Three sides, for each run:
#   slipway   `slipway run`: BuildKit pushes the result by digest to
#             <registry>/bench/slipway and, in the same build, sends an OCI
#             layout to slipway's output directory (kept between runs);
#   buildctl  raw `buildctl build`, pushing by digest to <registry>/bench/raw
#             (BuildKit's image exporter);
#   +layout   raw `buildctl build` with both of slipway's outputs: the push
#             (to <registry>/bench/raw-oci) and an OCI layout directory with
#             the same name and annotations (kept between runs).
# All three build examples/demo/Dockerfile (BASE_IMAGE = the test
# registry's busybox) for PLATFORMS on $BUILDKIT_HOST, provenance mode=min,
# no SBOM, with the same image labels and manifest annotations (slipway
# generates them: org.opencontainers.image.*, "created" being the time of
# the run; buildctl gets the same keys and values, with its own "created"),
# so each run makes a new image config on every side, as a CI run would.
# slipway has scan, sign and every tag off (its plan has no tag step).
#
# Runs are interleaved (the order rotates so that no side always runs
# first) and timed with the wall clock (date +%s%N around the process).
# Printed: median, min and max of each side, the ratios of the medians,
# the medians of the per-round ratios, and peak RSS (/usr/bin/time %M). The
# same goes to bench/results/build-push-<UTC date>-<platforms>.txt with the
# per-run figures, the exact commands and the machine.
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
# shellcheck source=bench/stats.sh
. bench/stats.sh

# run_side NAME TAG: one run; appends "NAME ms rss_kb TAG" to $WORK/runs.
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
    raw_cmd "$(created_now)" "$side"
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
    sed -n 's/^ *built [^ ]* in \([0-9.]*m\{0,1\}s\).*/\1/p' "$logf" | tail -n1 >"$WORK/built"
  fi
}

# ------------------------------------------------------------ runs

SIDES=(slipway raw rawoci)
: >"$WORK/runs"
log "platforms $PLATFORMS: $WARMUP warm-up run(s) of each side, then $N interleaved rounds"
for ((i = 1; i <= WARMUP; i++)); do
  for s in "${SIDES[@]}"; do run_side "$s" warmup; done
done
: >"$WORK/built-all"
for ((i = 1; i <= N; i++)); do
  # rotate the order: slipway raw rawoci, raw rawoci slipway, ...
  for ((j = 0; j < 3; j++)); do
    s=${SIDES[$(((i - 1 + j) % 3))]}
    run_side "$s" "$i"
    if [ "$s" = slipway ]; then echo "$i $(cat "$WORK/built")" >>"$WORK/built-all"; fi
  done
  printf '  round %d/%d: slipway %s ms, buildctl %s ms, buildctl+layout %s ms\n' "$i" "$N" \
    "$(awk -v i="$i" '$1 == "slipway" && $4 == i { print $2 }' "$WORK/runs")" \
    "$(awk -v i="$i" '$1 == "raw" && $4 == i { print $2 }' "$WORK/runs")" \
    "$(awk -v i="$i" '$1 == "rawoci" && $4 == i { print $2 }' "$WORK/runs")" >&2
done

# ------------------------------------------------------------ figures

# stats SIDE COLUMN: "median min max" of COLUMN (2 = ms, 3 = RSS kB).
stats() { awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$WORK/runs" | spread; }
read -r s_med s_min s_max < <(stats slipway 2)
read -r r_med r_min r_max < <(stats raw 2)
read -r o_med o_min o_max < <(stats rawoci 2)
read -r s_rss _ s_rss_max < <(stats slipway 3)
read -r r_rss _ r_rss_max < <(stats raw 3)
read -r o_rss _ o_rss_max < <(stats rawoci 3)
# ratio A B: the ratio of the medians of sides A and B; round_ratio A B:
# the median of the per-round ratios.
ratio() {
  awk -v a="$(stats "$1" 2 | cut -d' ' -f1)" -v b="$(stats "$2" 2 | cut -d' ' -f1)" 'BEGIN { printf "%.3f", a / b }'
}
round_ratio() {
  awk -v x="$1" -v y="$2" '$1 == x { a[$4] = $2 } $1 == y { b[$4] = $2 }
    END { for (i in a) print a[i] / b[i] }' "$WORK/runs" | med | awk '{ printf "%.3f", $1 }'
}
ratio_raw=$(ratio slipway raw) round_raw=$(round_ratio slipway raw)
ratio_oci=$(ratio slipway rawoci) round_oci=$(round_ratio slipway rawoci)
verdict() { awk -v r="$1" 'BEGIN { print (r <= 1.10) ? "met" : "MISSED" }'; }

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
row() {
  printf '%-16s %10s %10s %10s %14s\n' "$1" "$2" "$3" "$4" \
    "$(awk -v k="$5" -v m="$6" 'BEGIN { printf "%.1f (max %.1f)", k / 1024, m / 1024 }')"
}
{
  echo "slipway build+push benchmark ($stamp)"
  echo
  printf '%-16s %10s %10s %10s %14s\n' "" "median ms" "min ms" "max ms" "peak RSS MiB"
  row slipway "$s_med" "$s_min" "$s_max" "$s_rss" "$s_rss_max"
  row buildctl "$r_med" "$r_min" "$r_max" "$r_rss" "$r_rss_max"
  row buildctl+layout "$o_med" "$o_min" "$o_max" "$o_rss" "$o_rss_max"
  echo
  echo "slipway/buildctl (push only):          ${ratio_raw}x (median per round ${round_raw}x), target ≤ 1.10x: $(verdict "$ratio_raw")"
  echo "slipway/buildctl+layout (same outputs): ${ratio_oci}x (median per round ${round_oci}x), target ≤ 1.10x: $(verdict "$ratio_oci")"
  echo
  echo "platforms: $PLATFORMS; N=$N interleaved rounds (order rotating), $WARMUP warm-up run(s) each"
  echo "slipway:   $("$SLIPWAY" version 2>/dev/null | head -n1)"
  echo "buildctl:  $("$BUILDCTL" --version 2>/dev/null)"
  echo "buildkitd: $BUILDKIT_HOST; registry: $REG"
  echo "machine:   $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(free -h | awk '/^Mem:/ { print $2 }') RAM, kernel $(uname -r)"
  echo
  echo "per run (side, wall ms, peak RSS kB, round):"
  sed 's/^/  /' "$WORK/runs"
  echo "slipway's own \"built ... in\" figure per round (build + push):"
  sed 's/^/  /' "$WORK/built-all"
  echo
  echo "commands:"
  echo "  slipway:         env $(q "${slip_env[@]}") $(q "$SLIPWAY" "${slip_args[@]}")"
  raw_cmd '<created>' raw
  echo "  buildctl:        $(q "${RAW[@]}")"
  raw_cmd '<created>' rawoci
  echo "  buildctl+layout: $(q "${RAW[@]}")"
} | tee "$RESULT"
log "written: $RESULT"
