#!/usr/bin/env bash
# Nodes benchmark (issue 16): one BuildKit node per platform against one
# node building both, and slipway against the anchor pipeline on the same
# two nodes, for a two-platform (linux/amd64, linux/arm64) Debian image
# with a compile stage (bench/nodes/Dockerfile).
#
#   flock -o /tmp/slipway-heavy.lock bench/nodes.sh [-n N] [-m MODES] [-s SIDES] [-u UNITS] [-r]
#
#   -n N       timed runs of each side per mode (default 5; below 5 the
#              result is marked SMOKE RUN, not a measurement)
#   -m MODES   cold, warm or cold,warm (default cold,warm)
#   -s SIDES   comma-separated, of nodes, single, anchor (default all three)
#   -u UNITS   C files of the compile stage (default 10: ~11 s of gcc -O2
#              on 2 amd64 cores natively, ~60 s for arm64 under QEMU)
#   -r         only make the root file systems and push the base image
#
# The script takes no lock itself: run it under the shared lock, as above
# (it builds crane, hack/bases and hack/demodb with `go` when needed, and
# its runs load both cores). Trivy and cosign come from bench/pipeline.sh:
# `bench/pipeline.sh -T` builds them once (it takes the lock itself around
# its go build, so it is not run under flock).
#
# The base image, made once and cached:
#   mmdebstrap --variant=minbase --format=tar --architectures=A
#     --include=gcc,libc6-dev --dpkgopt=force-unsafe-io bookworm
#     $SLIPWAY_CACHE/bench/debian-bookworm-gcc-A.tar 'deb <mirror> bookworm main'
#   for A in amd64 and arm64 (arm64's maintainer scripts run through
#   qemu-user-static's binfmt_misc handler, which hack/testenv.sh installs),
#   then `go run ./hack/bases -name bench-debian-gcc:bookworm -rootfs
#   linux/amd64=… -rootfs linux/arm64=…`: hack/bases, the repository's base
#   image assembler, pushes the two-platform index to the test registry
#   (<registry>/bases/bench-debian-gcc:bookworm), one gzip layer each.
#
# The daemons: three buildkitd processes of the test environment's binary
# (v0.34.2), started here on unix sockets under a temp dir, each with its
# own --root there, the registry over HTTP, stopped by PID at exit:
#   amd64    --oci-worker-platform linux/amd64
#   arm64    --oci-worker-platform linux/arm64 (runs arm64 through QEMU: this
#            machine has no arm64 CPU)
#   single   no --oci-worker-platform: every platform it can (amd64
#            natively, arm64 through QEMU)
#
# Sides, each with its own repository, Trivy cache and slipway output dir:
#   nodes    slipway run, builder "<amd64> platforms=linux/amd64" and
#            "<arm64> platforms=linux/arm64" (SLIPWAY_BUILDER, two lines)
#   single   slipway run, builder <single> (one line: both platforms there)
#   anchor   on the two nodes: two `buildctl build`s at once (one platform
#            each, push-by-digest, provenance mode=min, slipway's labels
#            and annotations), `crane index append` of their two indexes
#            (flattened) under a staging tag, then per platform `trivy
#            image --image-src remote` + `trivy convert` to SARIF,
#            CycloneDX, cosign-vuln and the gate's table (as
#            bench/pipeline.sh), `cosign sign` of the index and both
#            platform manifests, `cosign attest` cyclonedx and vuln per
#            platform, and the tag last (curl PUT of the index).
# Both slipway sides: platforms linux/amd64,linux/arm64, provenance
# mode=min, no BuildKit SBOM, scan on (offline, the demo DB of
# hack/demodb, SLIPWAY_SCAN_FAIL=false), sign and attest with an ephemeral
# cosign key (tlog off), tag last, --progress rawjson (to a log).
#
# Modes:
#   cold  before each run the daemons of the side are stopped, their
#         --root removed and started again (empty BuildKit cache: the base
#         image is pulled from the registry again; no registry cache is
#         used, no --cache-from/--cache-to), a new repository, an empty
#         Trivy analysis cache, a new slipway output dir;
#   warm  one untimed run of each side, then everything is kept (unchanged
#         source: every step is cached; a fresh "created" per run).
# The N rounds rotate the order of the sides.
#
# Figures per run: wall time (date +%s%N around the side); from slipway's
# <output-dir>/slipway-report.json: the build stage's duration
# (.result.build.duration), each node's (.result.build.nodes[].duration:
# connection, solve and export into the layout), the scan's; from
# BuildKit's rawjson progress, per node (per platform on the single node,
# from the vertices named "[linux/<arch> …"): its solve (first vertex
# started → first "exporting to" vertex started) and export. Derived:
# overlap = sum of the node durations ÷ wall; overhead = build stage −
# slowest node, as % of the slowest node (issue 16's goal: ≤ 5 %); beyond
# the solve = wall − the slowest node's BuildKit solve (export, push,
# scan, sign, tag, report, and the process starts). Foreign CPU: the
# machine's busy time (/proc/stat) minus the CPU time of this script and
# its waited-for children, of the daemons it started with their build
# steps, and of the registry: other jobs on a shared machine (and kernel
# threads); the summary repeats wall and beyond-solve over the "quiet"
# runs, whose foreign CPU is at most 10 % of 2 cores × their wall time.
#
# Writes bench/results/nodes-<UTC time>.txt (summary, per-run rows, the
# commands, versions, machine, load average) and prints the summary.
# Needs root, bash, coreutils, awk, curl, jq, mmdebstrap, arch-test,
# qemu-user-static (binfmt), /usr/bin/time, Go, and hack/testenv.sh (started
# when not running and then stopped again; never otherwise).
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export GOEXPERIMENT=jsonv2

N=5
MODES=cold,warm
SIDES=nodes,single,anchor
UNITS=10
ROOTFS_ONLY=
while getopts "n:m:s:u:rh" opt; do
  case $opt in
  n) N=$OPTARG ;;
  m) MODES=$OPTARG ;;
  s) SIDES=$OPTARG ;;
  u) UNITS=$OPTARG ;;
  r) ROOTFS_ONLY=1 ;;
  h)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *) exit 2 ;;
  esac
done

log() { echo "nodes: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}
# shellcheck source=hack/lib.sh
. "$ROOT/hack/lib.sh"

if ! [[ $N =~ ^[0-9]+$ ]] || [ "$N" -lt 1 ]; then die "-n must be a number ≥ 1 (got $N)"; fi
if ! [[ $UNITS =~ ^[0-9]+$ ]] || [ "$UNITS" -lt 1 ]; then die "-u must be a number ≥ 1 (got $UNITS)"; fi
SMOKE=
if [ "$N" -lt 5 ]; then
  SMOKE=1
  log "-n $N < 5: a SMOKE RUN, marked as such; measure with -n 5 or more"
fi
case $MODES in cold | warm | cold,warm | warm,cold) ;; *) die "-m must be cold, warm or cold,warm (got $MODES)" ;; esac
IFS=, read -r -a SIDE_LIST <<<"$SIDES"
for s in "${SIDE_LIST[@]}"; do
  case $s in nodes | single | anchor) ;; *) die "-s: unknown side $s (nodes, single, anchor)" ;; esac
done
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, buildkitd)"
for t in /usr/bin/time curl jq go awk mmdebstrap; do
  command -v "$t" >/dev/null || die "$t is missing (Debian: apt-get install -y time curl jq mmdebstrap)"
done

TIME=/usr/bin/time
CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
BENCH_CACHE=$CACHE/bench
TRIVY=$CACHE/bin/trivy-v0.70.0
COSIGN=$CACHE/bin/cosign-v2.6.5
SLIPWAY=${BIN:-bin/slipway}
[[ $SLIPWAY == /* ]] || SLIPWAY=$ROOT/$SLIPWAY
CONTEXT=bench/nodes
PLATFORMS=linux/amd64,linux/arm64
PLATS=(linux/amd64 linux/arm64)
SEVERITY=CRITICAL,HIGH
TAG=bench
SUITE=bookworm
BASE_NAME=bench-debian-gcc:$SUITE

# ------------------------------------------------------------ environment

started=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-nodes.XXXXXX")
# Daemon state in a short directory: it holds unix sockets.
STATE=$(mktemp -d /tmp/snb.XXXXXX)
declare -A BK_PID=() BK_ADDR=()
stop_daemon() { # stop_daemon NAME: SIGTERM by PID, SIGKILL after 30 s
  local pid=${BK_PID[$1]:-} k
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((k = 0; k < 300; k++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  BK_PID[$1]=
}
# unmount_under DIR: what a daemon stopped mid-build left mounted there.
unmount_under() {
  local m
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}
cleanup() {
  local n
  for n in "${!BK_PID[@]}"; do stop_daemon "$n"; done
  unmount_under "$STATE"
  rm -rf "$STATE"
  if [ -n "${KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  if [ -n "$started" ]; then hack/testenv.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! hack/testenv.sh status >/dev/null 2>&1; then started=1; fi
log "test environment (hack/testenv.sh up${started:+; stopped again at the end})"
hack/testenv.sh up >/dev/null
# shellcheck disable=SC1091
. "${SLIPWAY_TEST_STATE:-/tmp/slipway-testenv}/env"
BUILDCTL=${SLIPWAY_TEST_BUILDCTL:?}
BUILDKITD=${SLIPWAY_TEST_BUILDKITD:?}
REG=${SLIPWAY_TEST_REGISTRY:?}
unset BUILDKIT_HOST # every side names its daemons

# ------------------------------------------------------------ base image

# rootfs ARCH: the path of Debian $SUITE minbase with gcc and libc6-dev for
# ARCH as a tarball, made once (a .stamp file holds how).
rootfs() {
  local arch=$1 mirror out desc t0 try
  mirror=$(debian_mirror "$SUITE") || die "no Debian mirror for $SUITE"
  out=$BENCH_CACHE/debian-$SUITE-gcc-$arch.tar
  # shellcheck disable=SC2054 # the commas are inside one option
  local args=(--variant=minbase --format=tar --architectures="$arch" --include=gcc,libc6-dev
    --dpkgopt=force-unsafe-io "$SUITE")
  desc="mmdebstrap ${args[*]} $out.tmp 'deb $mirror $SUITE main'"
  if [ -s "$out" ] && [ "$(sed -n 1p "$out.stamp" 2>/dev/null)" = "$desc" ]; then
    echo "$out"
    return 0
  fi
  mkdir -p "$BENCH_CACHE"
  log "bootstrapping Debian $SUITE with gcc for $arch (once; arm64 through QEMU, minutes)"
  t0=$(date +%s)
  for try in 1 2 3; do
    mmdebstrap --quiet "${args[@]}" "$out.tmp" "deb $mirror $SUITE main" >&2 && break
    rm -f "$out.tmp"
    [ "$try" -lt 3 ] || die "mmdebstrap $SUITE $arch failed (3 tries)"
    sleep $((try * 10))
  done
  mv "$out.tmp" "$out"
  printf '%s\nmade %s in %s s\n' "$desc" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" $(($(date +%s) - t0)) >"$out.stamp"
  echo "$out"
}
fs_amd64=$(rootfs amd64) || exit 1
fs_arm64=$(rootfs arm64) || exit 1
log "pushing $BASE_NAME (go run ./hack/bases; assembled once into $BENCH_CACHE/bases)"
BASE=$(go run ./hack/bases -registry "$REG" -cache "$BENCH_CACHE/bases" -name "$BASE_NAME" \
  -rootfs "linux/amd64=$fs_amd64" -rootfs "linux/arm64=$fs_arm64") || die "hack/bases failed"
BASE=${BASE#*=docker-image://}
log "base image: $BASE"
[ -z "$ROOTFS_ONLY" ] || exit 0

# ------------------------------------------------------------ tools

[ -x "$SLIPWAY" ] || die "$SLIPWAY is missing: flock -o /tmp/slipway-heavy.lock make build (or BIN=…)"
for t in "$TRIVY" "$COSIGN"; do
  [ -x "$t" ] || die "$t is missing: build it with bench/pipeline.sh -T (which takes the lock itself)"
done
# crane, from go-containerregistry at the version slipway links, built once.
GGCR=github.com/google/go-containerregistry
GGCR_VERSION=$(go version -m "$SLIPWAY" | awk -v m="$GGCR" '$1 == "dep" && $2 == m { print $3 }')
[ -n "$GGCR_VERSION" ] || die "no $GGCR in $SLIPWAY's build info"
CRANE=$CACHE/bin/crane-$GGCR_VERSION
if [ ! -x "$CRANE" ]; then
  log "building crane $GGCR_VERSION into $CRANE (once)"
  dir=$(cd "$WORK" && go mod download -json "$GGCR@$GGCR_VERSION" | jq -r .Dir)
  [ -d "${dir:-/nonexistent}" ] || die "go mod download $GGCR@$GGCR_VERSION failed"
  cp -a "$dir"/. "$WORK/src-ggcr"/
  chmod -R u+w "$WORK/src-ggcr"
  (cd "$WORK/src-ggcr" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$CRANE.tmp" ./cmd/crane) >&2 ||
    die "building crane failed"
  mv "$CRANE.tmp" "$CRANE"
  rm -rf "$WORK/src-ggcr"
fi
log "tools: $("$SLIPWAY" version | sed -n 1p); trivy v0.70.0; cosign v2.6.5; crane $GGCR_VERSION"

log "writing the demo vulnerability DB (hack/demodb)"
go run ./hack/demodb -cache-dir "$WORK/demodb" >&2 || die "hack/demodb failed"
new_cache() { # new_cache DIR: DIR holds the demo DB and no analysis cache
  rm -rf "$1"
  mkdir -p "$1"
  cp -a "$WORK/demodb/db" "$1/db"
}
export COSIGN_PASSWORD="bench-$RANDOM$RANDOM"
mkdir -p "$WORK/key"
(cd "$WORK/key" && "$COSIGN" generate-key-pair >/dev/null 2>&1) || die "cosign generate-key-pair failed"
KEY=$WORK/key/cosign.key

# ------------------------------------------------------------ daemons

# start_daemon NAME [PLATFORM]: buildkitd NAME with a fresh --root, its
# worker restricted to PLATFORM when given; returns once it answers.
start_daemon() {
  local n=$1 plat=${2:-} d=$STATE/$1 k
  unmount_under "$d"
  rm -rf "$d"
  mkdir -p "$d"
  printf '[registry."%s"]\n  http = true\n' "$REG" >"$d/buildkitd.toml"
  BK_ADDR[$n]=unix://$d/bk.sock
  local args=(--addr "${BK_ADDR[$n]}" --root "$d/root" --otel-socket-path "$d/otel.sock"
    --config "$d/buildkitd.toml" --oci-worker=true --containerd-worker=false)
  [ -z "$plat" ] || args+=(--oci-worker-platform "$plat")
  "$BUILDKITD" "${args[@]}" >"$d/buildkitd.log" 2>&1 &
  BK_PID[$n]=$!
  for ((k = 0; k < 240; k++)); do
    "$BUILDCTL" --addr "${BK_ADDR[$n]}" debug workers >/dev/null 2>&1 && return 0
    kill -0 "${BK_PID[$n]}" 2>/dev/null || {
      tail -n 20 "$d/buildkitd.log" >&2
      die "buildkitd $n exited while starting"
    }
    sleep 0.25
  done
  die "buildkitd $n did not answer at ${BK_ADDR[$n]}"
}
daemon_plat() { case $1 in amd64) echo linux/amd64 ;; arm64) echo linux/arm64 ;; *) echo "" ;; esac }
# reset NAME...: the daemons stopped, their state removed, started afresh.
reset() {
  local n
  for n in "$@"; do stop_daemon "$n"; done
  for n in "$@"; do start_daemon "$n" "$(daemon_plat "$n")"; done
}
daemons_of() { case $1 in single) echo single ;; *) echo amd64 arm64 ;; esac }
need=()
for s in "${SIDE_LIST[@]}"; do
  for n in $(daemons_of "$s"); do
    [[ " ${need[*]} " == *" $n "* ]] || need+=("$n")
  done
done
log "starting buildkitd: ${need[*]} (state under $STATE)"
reset "${need[@]}"
for n in "${need[@]}"; do
  log "  $n: ${BK_ADDR[$n]} pid ${BK_PID[$n]}, platforms $("$BUILDCTL" --addr "${BK_ADDR[$n]}" debug workers --format '{{range .}}{{range .Platforms}}{{.OS}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}} {{end}}{{end}}' 2>/dev/null || echo '?')"
done
# The builder inputs (SLIPWAY_BUILDER, one node per line).
builder_of() {
  case $1 in
  single) echo "${BK_ADDR[single]:-unix://$STATE/single/bk.sock}" ;;
  *) printf '%s platforms=linux/amd64\n%s platforms=linux/arm64\n' "${BK_ADDR[amd64]:-unix://$STATE/amd64/bk.sock}" \
    "${BK_ADDR[arm64]:-unix://$STATE/arm64/bk.sock}" ;;
  esac
}

# ------------------------------------------------------------ slipway

# slip_env REPO OUTDIR CACHEDIR BUILDER: the environment of one run, in SENV.
slip_env() {
  SENV=(
    SLIPWAY_BUILDER="$4"
    SLIPWAY_CI=local
    SLIPWAY_IMAGES="$1"
    SLIPWAY_OUTPUT_DIR="$2"
    SLIPWAY_SCAN=true
    SLIPWAY_SCAN_CACHE_DIR="$3"
    SLIPWAY_SCAN_SKIP_DB_UPDATE=true
    SLIPWAY_SEVERITY="$SEVERITY"
    SLIPWAY_SCAN_FAIL=false
    SLIPWAY_SIGN=true
    SLIPWAY_COSIGN_KEY="$KEY"
    COSIGN_PASSWORD="$COSIGN_PASSWORD"
    SLIPWAY_TLOG_UPLOAD=false
    SLIPWAY_ATTEST=true
  )
}
SARGS=(
  run --context "$CONTEXT"
  --platforms "$PLATFORMS"
  --build-args "BASE_IMAGE=$BASE" --build-args "UNITS=$UNITS"
  --provenance mode=min --sbom false
  --push true
  --tags "type=raw,value=$TAG" --flavor latest=false
  --progress rawjson
)

# The plans of both slipway sides are checked (a dry run contacts no
# daemon); the labels come from the last one.
for s in single nodes; do
  slip_env "$REG/bench/nodes/plan" "$WORK/plan-out" "$WORK/plan-cache" "$(builder_of "$s")"
  plan=$(env "${SENV[@]}" "$SLIPWAY" "${SARGS[@]}" --dry-run --output json 2>"$WORK/plan.err") || {
    cat "$WORK/plan.err" >&2
    die "slipway --dry-run failed ($s)"
  }
  steps=$(jq -r '[.steps[].stage] | join(" ")' <<<"$plan")
  [ "$steps" = "build scan gate sign verify tag report" ] ||
    die "slipway's plan ($s) has the steps [$steps]; expected build scan gate sign verify tag report"
  nn=$(jq '.build.nodes | length' <<<"$plan")
  if [ "$s" = nodes ]; then want=2; else want=0; fi
  [ "$nn" = "$want" ] || die "slipway's plan ($s) has $nn nodes; expected $want"
done
# The labels and manifest annotations slipway puts on the image become
# buildctl options ("created" anew for each run, as slipway does).
mapfile -t LABELS < <(jq -r '.metadata.labels | to_entries[] | "\(.key)=\(.value)"' <<<"$plan")
mapfile -t ANNOTATIONS < <(jq -r '.metadata.annotations[]' <<<"$plan")
[ ${#LABELS[@]} -gt 0 ] || die "no labels in slipway's plan"

# ------------------------------------------------------------ measuring

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }
epoch_ms() { [ "$1" = null ] && echo - || echo $(($(date -d "$1" +%s%N) / 1000000)); }

# bk_times FILE [PLATFORM]: "first export_start export_done plat_done" in
# epoch ms from BuildKit's rawjson progress (one JSON object per line):
# the first vertex started, the first "exporting to" vertex started, the
# last one completed, and, with PLATFORM, the last vertex named
# "[PLATFORM …" completed (a multi-platform build names its steps so).
bk_times() {
  local r
  r=$(jq -rs --arg p "[${2:-none} " '
    [.[] | .vertexes[]?] as $v
    | [$v[] | select((.name // "") | startswith("exporting to"))] as $e
    | [([$v[] | .started | select(.)] | min),
       ([$e[] | .started | select(.)] | min),
       ([$e[] | .completed | select(.)] | max),
       ([$v[] | select((.name // "") | startswith($p)) | .completed | select(.)] | max)]
    | map(. // "null") | @tsv' "$1")
  local a b c d
  IFS=$'\t' read -r a b c d <<<"$r"
  echo "$(epoch_ms "$a") $(epoch_ms "$b") $(epoch_ms "$c") $(epoch_ms "$d")"
}
# bk_compile FILE [PLATFORM]: the compile step's time in ms (its vertex,
# "RUN … gcc -O2 …", from started to completed; with PLATFORM, the one
# named "[PLATFORM …"), "-" when absent.
bk_compile() {
  local r a b
  r=$(jq -rs --arg p "${2:+[$2 }" '
    [.[] | .vertexes[]? | select((.name // "") | (contains("gcc -O2") and startswith($p)))] as $c
    | [([$c[] | .started | select(.)] | min), ([$c[] | .completed | select(.)] | max)]
    | map(. // "null") | @tsv' "$1")
  IFS=$'\t' read -r a b <<<"$r"
  d_ms "$(epoch_ms "$a")" "$(epoch_ms "$b")"
}
# progress_of LOG PREFIX OUT: the rawjson lines of LOG (those after PREFIX,
# or the bare JSON lines with an empty PREFIX) into OUT.
progress_of() {
  awk -v p="$2" 'p == "" && /^\{/ { print; next } p != "" && index($0, p) == 1 { print substr($0, length(p) + 1) }' "$1" |
    grep '^{' >"$3" || true
}
d_ms() { if [ "$1" = - ] || [ "$2" = - ]; then echo -; else echo $(($2 - $1)); fi; }

# check_index REPO: the tag names an index with both platform images.
check_index() {
  local path=${1#*/} got
  got=$(curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/$path/manifests/$TAG" |
    jq -r '[.manifests[] | select(.platform.os == "linux") | .platform.architecture] | sort | join(",")')
  [ "$got" = amd64,arm64 ] || die "$1:$TAG holds the platforms [$got]; expected amd64,arm64"
}

# CPU time not spent by the benchmark, in ms: this machine is shared, and
# another job's CPU use slows a run down. cpu_busy is the machine's busy
# time (/proc/stat: all but idle and iowait), cpu_mine that of this script
# with its waited-for children (slipway, buildctl, trivy, cosign, crane),
# of the daemons it started with theirs (runc and the build steps), and of
# the registry; a run's foreign CPU is the difference of the two deltas.
HZ=$(getconf CLK_TCK)
cpu_busy() { awk -v hz="$HZ" '$1 == "cpu" { print int(($2 + $3 + $4 + $7 + $8 + $9) * 1000 / hz) }' /proc/stat; }
cpu_mine() {
  local p t=0
  for p in $$ "${BK_PID[@]}" "${SLIPWAY_TEST_REGISTRY_PID:-}"; do
    if [ -z "$p" ] || [ ! -r "/proc/$p/stat" ]; then continue; fi
    t=$((t + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat")))
  done
  echo $((t * 1000 / HZ))
}

# Each run appends one row to $WORK/runs:
#  1 mode  2 side  3 run  4 wall_ms  5 build_ms  6 node_amd64_ms  7 node_arm64_ms
#  8 bk_solve_amd64_ms  9 bk_solve_arm64_ms  10 bk_export_amd64_ms  11 bk_export_arm64_ms
#  12 scan_ms  13 index_ms  14 sign_ms  15 tag_ms  16 peak_rss_kB  17 steps/cached
#  18 compile_amd64_ms  19 compile_arm64_ms (the RUN step with gcc, BuildKit's times)
#  20 foreign_cpu_ms (CPU the machine spent on other work during the run)
# build_ms: slipway's build stage (report); the anchor's build step (both
# buildctl at once). node_*: slipway's per-node duration (report), the
# anchor's buildctl process wall time; "-" on the single node. bk_solve_*:
# BuildKit's first vertex → first export (per node), or, on the single
# node, its first vertex → the platform's last step; bk_export_*: the
# node's export (on the single node, in the amd64 column: its only one).
# scan_ms: slipway's scan stage (report), the anchor's scan step.

# run_slipway SIDE MODE I REPO CACHEDIR OUTDIR
run_slipway() {
  local side=$1 mode=$2 i=$3 repo=$4 cache=$5 out=$6 t0 wall rss rep logf=$WORK/$1-$2-$3.log
  slip_env "$repo" "$out" "$cache" "$(builder_of "$side")"
  t0=$(now_ns)
  env "${SENV[@]}" "$TIME" -f %M -o "$WORK/rss" "$SLIPWAY" "${SARGS[@]}" >"$logf" 2>&1 || {
    grep -v '^{\|^\[[a-z]*://[^]]*\] {' "$logf" | tail -n 40 >&2
    die "slipway run ($side, $mode $i) failed: $logf"
  }
  wall=$(ms_since "$t0")
  rss=$(tail -n1 "$WORK/rss")
  rep=$out/slipway-report.json
  [ -s "$rep" ] || die "no $rep"
  cp "$rep" "$WORK/$side-$mode-$i.report.json"
  local build scan steps na=- nr=- sa=- sr=- ea=- er=- ca cr f s e pd
  # time.Duration is JSON nanoseconds
  build=$(jq '.result.build.duration / 1e6 | round' "$rep")
  scan=$(jq '(.result.scan.duration // 0) / 1e6 | round' "$rep")
  steps=$(jq -r '"\(.result.build.steps)/\(.result.build["cached-steps"])"' "$rep")
  if [ "$side" = nodes ]; then
    na=$(jq --arg a "${BK_ADDR[amd64]}" '.result.build.nodes[] | select(.address == $a) | .duration / 1e6 | round' "$rep")
    nr=$(jq --arg a "${BK_ADDR[arm64]}" '.result.build.nodes[] | select(.address == $a) | .duration / 1e6 | round' "$rep")
    if [ -z "$na" ] || [ -z "$nr" ]; then die "no per-node durations in $rep"; fi
    progress_of "$logf" "[${BK_ADDR[amd64]}] " "$WORK/p"
    read -r f s e _ < <(bk_times "$WORK/p")
    sa=$(d_ms "$f" "$s") ea=$(d_ms "$s" "$e") ca=$(bk_compile "$WORK/p")
    progress_of "$logf" "[${BK_ADDR[arm64]}] " "$WORK/p"
    read -r f s e _ < <(bk_times "$WORK/p")
    sr=$(d_ms "$f" "$s") er=$(d_ms "$s" "$e") cr=$(bk_compile "$WORK/p")
  else
    progress_of "$logf" "" "$WORK/p"
    read -r f s e pd < <(bk_times "$WORK/p" linux/amd64)
    sa=$(d_ms "$f" "$pd") ea=$(d_ms "$s" "$e")
    read -r f s e pd < <(bk_times "$WORK/p" linux/arm64)
    sr=$(d_ms "$f" "$pd")
    ca=$(bk_compile "$WORK/p" linux/amd64) cr=$(bk_compile "$WORK/p" linux/arm64)
    # the whole daemon's solve, first vertex → export
    d_ms "$f" "$s" >"$WORK/$side-$mode-$i.solve"
  fi
  check_index "$repo"
  echo "$mode $side $i $wall $build $na $nr $sa $sr $ea $er $scan - - - $rss $steps $ca $cr" >>"$WORK/runs"
}

# ------------------------------------------------------------ anchor

# shellcheck source=bench/buildctl.sh
. bench/buildctl.sh
# shellcheck source=bench/stats.sh
. bench/stats.sh
PROGRESS=rawjson
TRIVY_OFFLINE=(--skip-db-update --skip-java-db-update --offline-scan --skip-version-check --quiet)
COSIGN_ARGS=(--key "$KEY" --tlog-upload=false --yes)

# timed LOGFILE CMD...: CMD under /usr/bin/time, its output to LOGFILE;
# appends its peak RSS (kB) to $WORK/procs.
timed() {
  local logf=$1
  shift
  "$TIME" -f %M -o "$WORK/rss.$BASHPID" "$@" >>"$logf" 2>&1 || {
    tail -n 40 "$logf" >&2
    die "failed: $* (log $logf)"
  }
  tail -n1 "$WORK/rss.$BASHPID" >>"$WORK/procs"
}

# anchor_build ARCH REPO DIR: one node's buildctl build of linux/ARCH;
# writes DIR/ARCH.ms (its wall time) and DIR/ARCH.md.json.
anchor_build() {
  local arch=$1 repo=$2 d=$3 t
  BUILDKIT_HOST=${BK_ADDR[$arch]} PLATFORMS=linux/$arch buildctl_cmd "$repo" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" \
    --opt build-arg:UNITS="$UNITS" --metadata-file "$d/$arch.md.json"
  t=$(now_ns)
  timed "$d/$arch.log" "${BUILDCTL_CMD[@]}"
  ms_since "$t" >"$d/$arch.ms"
}

# run_anchor MODE I REPO CACHEDIR
run_anchor() {
  local mode=$1 i=$2 repo=$3 cache=$4 d=$WORK/anchor-$1-$2 t0 t tb ti ts tg tt digest p pd rss wall
  local path=${repo#*/}
  rm -rf "$d"
  mkdir -p "$d"
  : >"$WORK/procs"
  t0=$(now_ns)
  # 1. build: one buildctl per node, at once, each pushing by digest
  t=$(now_ns)
  anchor_build amd64 "$repo" "$d" &
  local pa=$!
  anchor_build arm64 "$repo" "$d" &
  local pr=$!
  wait "$pa" || die "anchor: the amd64 build failed ($d/amd64.log)"
  wait "$pr" || die "anchor: the arm64 build failed ($d/arm64.log)"
  tb=$(ms_since "$t")
  # 2. the index of both (crane flattens their indexes), under a staging tag
  t=$(now_ns)
  local da dr
  da=$(jq -r '."containerimage.digest"' "$d/amd64.md.json")
  dr=$(jq -r '."containerimage.digest"' "$d/arm64.md.json")
  timed "$d/index.log" "$CRANE" index append --insecure -m "$repo@$da" -m "$repo@$dr" -t "$repo:staging-$i"
  digest=$(grep -o 'sha256:[0-9a-f]\{64\}' "$d/index.log" | tail -n1)
  [ -n "$digest" ] || die "anchor: no index digest from crane ($d/index.log)"
  ti=$(ms_since "$t")
  # 3. scan each platform from the registry, reports, gate
  t=$(now_ns)
  for p in "${PLATS[@]}"; do
    pd=$d/${p//\//-}
    mkdir -p "$pd"
    timed "$d/scan.log" "$TRIVY" image --image-src remote "${TRIVY_OFFLINE[@]}" --cache-dir "$cache" \
      --scanners vuln --platform "$p" --format json --list-all-pkgs --output "$pd/trivy-report.json" "$repo@$digest"
    timed "$d/scan.log" "$TRIVY" convert --quiet --format sarif --output "$pd/trivy-results.sarif" "$pd/trivy-report.json"
    timed "$d/scan.log" "$TRIVY" convert --quiet --format cyclonedx --output "$pd/sbom.cdx.json" "$pd/trivy-report.json"
    timed "$d/scan.log" "$TRIVY" convert --quiet --format cosign-vuln --output "$pd/vuln.json" "$pd/trivy-report.json"
    timed "$d/scan.log" "$TRIVY" convert --quiet --format table --scanners vuln --severity "$SEVERITY" --exit-code 0 "$pd/trivy-report.json"
  done
  ts=$(ms_since "$t")
  # 4. sign the index and each platform manifest, attest per platform
  t=$(now_ns)
  curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' -o "$d/index.json" "http://$REG/v2/$path/manifests/$digest"
  mapfile -t pds < <(jq -r '.manifests[] | select(.platform.os != "unknown") | .digest' "$d/index.json")
  [ ${#pds[@]} = 2 ] || die "anchor: the index has ${#pds[@]} platform images; expected 2"
  timed "$d/sign.log" "$COSIGN" sign "${COSIGN_ARGS[@]}" "$repo@$digest" "${pds[@]/#/$repo@}"
  for p in "${PLATS[@]}"; do
    pd=$d/${p//\//-}
    timed "$d/sign.log" "$COSIGN" attest "${COSIGN_ARGS[@]}" --type cyclonedx --predicate "$pd/sbom.cdx.json" "$repo@$digest"
    timed "$d/sign.log" "$COSIGN" attest "${COSIGN_ARGS[@]}" --type vuln --predicate "$pd/vuln.json" "$repo@$digest"
  done
  tg=$(ms_since "$t")
  # 5. tag last: PUT the index manifest under the tag
  t=$(now_ns)
  curl -fsS -X PUT -H "Content-Type: $(jq -r .mediaType "$d/index.json")" --data-binary @"$d/index.json" \
    "http://$REG/v2/$path/manifests/$TAG" -o /dev/null
  tt=$(ms_since "$t")
  wall=$(ms_since "$t0")
  rss=$(sort -n "$WORK/procs" | tail -n1)
  local f s e sa sr ea er ca cr
  grep '^{' "$d/amd64.log" >"$WORK/p" || true
  read -r f s e _ < <(bk_times "$WORK/p")
  sa=$(d_ms "$f" "$s") ea=$(d_ms "$s" "$e") ca=$(bk_compile "$WORK/p")
  grep '^{' "$d/arm64.log" >"$WORK/p" || true
  read -r f s e _ < <(bk_times "$WORK/p")
  sr=$(d_ms "$f" "$s") er=$(d_ms "$s" "$e") cr=$(bk_compile "$WORK/p")
  check_index "$repo"
  echo "$mode anchor $i $wall $tb $(cat "$d/amd64.ms") $(cat "$d/arm64.ms") $sa $sr $ea $er $ts $ti $tg $tt $rss - $ca $cr" >>"$WORK/runs"
}

# ------------------------------------------------------------ runs

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
RUNID=$(date -u +%H%M%S)-$RANDOM
: >"$WORK/runs"
t_all=$(now_ns)

# one SIDE MODE I: one run of SIDE (cold: its daemons and caches anew).
one() {
  local side=$1 mode=$2 i=$3 base=bench/nodes/$RUNID-$2 repo cache out
  if [ "$mode" = cold ]; then
    # shellcheck disable=SC2046 # one daemon name per word
    reset $(daemons_of "$side")
    repo=$REG/$base-$i-$side cache=$WORK/trivy-$side-cold out=$WORK/out-$side-cold-$i
    new_cache "$cache"
  else
    repo=$REG/$base-$side cache=$WORK/trivy-$side-warm out=$WORK/out-$side-warm
  fi
  local b0 m0
  b0=$(cpu_busy) m0=$(cpu_mine)
  if [ "$side" = anchor ]; then
    run_anchor "$mode" "$i" "$repo" "$cache"
  else
    run_slipway "$side" "$mode" "$i" "$repo" "$cache" "$out"
  fi
  # the row gets the foreign CPU time of the run
  local row
  row=$(tail -n1 "$WORK/runs")
  sed -i '$d' "$WORK/runs"
  echo "$row $(($(cpu_busy) - b0 - ($(cpu_mine) - m0)))" >>"$WORK/runs"
}

for mode in ${MODES//,/ }; do
  if [ "$mode" = warm ]; then
    log "warm: one untimed run of each side first"
    for s in "${SIDE_LIST[@]}"; do
      new_cache "$WORK/trivy-$s-warm"
      one "$s" warm 0
      log "  warm-up $s: $(tail -n1 "$WORK/runs" | cut -d' ' -f4) ms"
    done
  fi
  for ((i = 1; i <= N; i++)); do
    line=
    k=${#SIDE_LIST[@]}
    for ((j = 0; j < k; j++)); do
      s=${SIDE_LIST[$(((i - 1 + j) % k))]}
      one "$s" "$mode" "$i"
      line+=" $s $(tail -n1 "$WORK/runs" | cut -d' ' -f4) ms"
    done
    log "$mode run $i/$N:$line"
  done
done
t_all=$(ms_since "$t_all")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
awk '$3 != 0' "$WORK/runs" >"$WORK/timed"

# ------------------------------------------------------------ figures

# col MODE SIDE EXPR: one value per timed run of MODE and SIDE, of the awk
# expression EXPR over the row's columns ($4 …); rows where it is "-" drop.
col() {
  awk -v m="$1" -v s="$2" '$1 == m && $2 == s { v = '"$3"'; if (v != "-") print v }' "$WORK/timed"
}
# colq: col over the quiet runs only, those whose foreign CPU is at most
# 10 % of what the run had (2 cores × its wall time).
colq() {
  awk -v m="$1" -v s="$2" '$1 == m && $2 == s && $20 <= 0.1 * 2 * $4 { v = '"$3"'; if (v != "-") print v }' "$WORK/timed"
}
fmt() { # fmt "median min max": "median (min–max)"
  awk '{ if ($1 == "-") print "-"; else printf "%.0f (%.0f–%.0f)\n", $1, $2, $3 }'
}
pct() { awk '{ if ($1 == "-") print "-"; else printf "%.2f %% (%.2f–%.2f)\n", $1, $2, $3 }'; }
ratio() { awk '{ if ($1 == "-") print "-"; else printf "%.2f (%.2f–%.2f)\n", $1, $2, $3 }'; }
# per-row helpers (awk expressions)
# shellcheck disable=SC2016 # awk's fields
MAXNODE='($6 == "-" ? "-" : ($6 > $7 ? $6 : $7))'
# shellcheck disable=SC2016 # awk's fields
MAXSOLVE='($8 > $9 ? $8 : $9)'

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
RESULT=bench/results/nodes-$stamp.txt

last_report=$(find "$WORK" -maxdepth 1 -name 'nodes-*.report.json' | sort | tail -n1)
q() { # the arguments as one shell-quoted line
  local a out=()
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then
      out+=("$a")
    elif [[ $a == *$'\n'* ]]; then
      out+=("$(printf '%q' "$a")")
    else
      out+=("'${a//\'/\'\\\'\'}'")
    fi
  done
  echo "${out[*]}"
}

# shellcheck disable=SC2016 # awk's fields in single quotes
{
  echo "slipway nodes benchmark ($stamp): one BuildKit node per platform vs one node, slipway vs the anchor"
  if [ -n "$SMOKE" ]; then
    echo
    echo "*** SMOKE RUN: N=$N (< 5), figures are not a measurement ***"
  fi
  echo
  echo "image: bench/nodes/Dockerfile, UNITS=$UNITS, platforms $PLATFORMS, base $BASE"
  echo "N=$N timed runs per side and mode, the order of the sides rotating; all times in ms, median (min–max)"
  echo
  for mode in ${MODES//,/ }; do
    echo "== $mode"
    printf '%-7s %-20s %-20s %-20s %-20s %-20s %-20s\n' side wall "build stage" "node amd64" "node arm64" "BK solve amd64" "BK solve arm64"
    for s in "${SIDE_LIST[@]}"; do
      printf '%-7s %-20s %-20s %-20s %-20s %-20s %-20s\n' "$s" \
        "$(col "$mode" "$s" '$4' | spread | fmt)" "$(col "$mode" "$s" '$5' | spread | fmt)" \
        "$(col "$mode" "$s" '$6' | spread | fmt)" "$(col "$mode" "$s" '$7' | spread | fmt)" \
        "$(col "$mode" "$s" '$8' | spread | fmt)" "$(col "$mode" "$s" '$9' | spread | fmt)"
    done
    echo
    printf '%-7s %-20s %-22s %-20s %-20s %-14s %-20s\n' side "overlap Σnodes/wall" "overhead build−maxnode" "  as % of maxnode" "beyond BK solve" "  % of wall" "scan"
    for s in "${SIDE_LIST[@]}"; do
      printf '%-7s %-20s %-22s %-20s %-20s %-14s %-20s\n' "$s" \
        "$(col "$mode" "$s" '($6 == "-" ? "-" : ($6 + $7) / $4)' | spread | ratio)" \
        "$(col "$mode" "$s" '($6 == "-" ? "-" : $5 - '"$MAXNODE"')' | spread | fmt)" \
        "$(col "$mode" "$s" '($6 == "-" ? "-" : 100 * ($5 - '"$MAXNODE"') / '"$MAXNODE"')' | spread | pct)" \
        "$(col "$mode" "$s" '$4 - '"$MAXSOLVE" | spread | fmt)" \
        "$(col "$mode" "$s" '100 * ($4 - '"$MAXSOLVE"') / $4' | spread | awk '{ printf "%.0f %%\n", $1 }')" \
        "$(col "$mode" "$s" '$12' | spread | fmt)"
    done
    if [[ ",$SIDES," == *,single,* ]]; then
      echo "single node, BuildKit solve of both platforms (first vertex → export): $(for f in "$WORK"/single-"$mode"-[1-9]*.solve; do cat "$f"; done | spread | fmt)"
    fi
    if [[ ",$SIDES," == *,anchor,* ]]; then
      echo "anchor steps: build $(col "$mode" anchor '$5' | spread | fmt), index $(col "$mode" anchor '$13' | spread | fmt), scan $(col "$mode" anchor '$12' | spread | fmt), sign+attest $(col "$mode" anchor '$14' | spread | fmt), tag $(col "$mode" anchor '$15' | spread | fmt)"
    fi
    echo "compile step (RUN … gcc -O2, BuildKit's times): $(for s in "${SIDE_LIST[@]}"; do printf '%s amd64 %s arm64 %s; ' "$s" "$(col "$mode" "$s" '$18' | spread | fmt)" "$(col "$mode" "$s" '$19' | spread | fmt)"; done)"
    echo "foreign CPU (s, other work on the machine during the run; 2 cores): $(for s in "${SIDE_LIST[@]}"; do printf '%s %s; ' "$s" "$(col "$mode" "$s" '$20 / 1000' | spread | awk '{ printf "%.1f (%.1f–%.1f)", $1, $2, $3 }')"; done)"
    echo "quiet runs only (foreign CPU ≤ 10 % of 2 × wall): $(for s in "${SIDE_LIST[@]}"; do printf '%s n=%s wall %s, beyond BK solve %s; ' "$s" "$(colq "$mode" "$s" '$4' | wc -l)" "$(colq "$mode" "$s" '$4' | spread | fmt)" "$(colq "$mode" "$s" '$4 - '"$MAXSOLVE" | spread | fmt)"; done)"
    echo "peak RSS (MiB, median): $(for s in "${SIDE_LIST[@]}"; do printf '%s %s  ' "$s" "$(col "$mode" "$s" '$16' | med | awk '{ printf "%.0f", $1 / 1024 }')"; done)"
    echo
  done
  echo "definitions: build stage = slipway's .result.build.duration (anchor: both buildctl at once); node = slipway's"
  echo " .result.build.nodes[].duration (connect + solve + export into the layout; anchor: each buildctl's wall);"
  echo " BK solve = BuildKit's first vertex started → first 'exporting to' vertex started on that node (single node:"
  echo " → the platform's last '[linux/<arch> …' step completed); overlap = (node amd64 + node arm64) / wall;"
  echo " overhead = build stage − slowest node (issue 16: ≤ 5 % of the slowest node); beyond BK solve = wall −"
  echo " the slowest BK solve (export, push, index, scan, sign, tag, report, process starts)"
  echo
  echo "per run (mode side run wall build node_amd64 node_arm64 bk_solve_amd64 bk_solve_arm64 bk_export_amd64 bk_export_arm64 scan index sign tag peak_rss_kB steps/cached compile_amd64 compile_arm64 foreign_cpu):"
  sed 's/^/  /' "$WORK/runs" | awk '{ if ($3 == 0) print $0 "   (untimed warm-up)"; else print }'
  echo
  echo "total time of the runs: $((t_all / 1000)) s"
  echo
  echo "versions:"
  echo "  slipway:   $("$SLIPWAY" version 2>/dev/null | sed -n 1p) ($SLIPWAY)"
  echo "  buildkitd: $("$BUILDKITD" --version 2>/dev/null) ($BUILDKITD)"
  echo "  buildctl:  $("$BUILDCTL" --version 2>/dev/null)"
  echo "  trivy:     $("$TRIVY" --version 2>/dev/null | sed -n 1p) ($TRIVY)"
  echo "  cosign:    $("$COSIGN" version 2>&1 | awk '/GitVersion/ { print $2 }') ($COSIGN)"
  echo "  crane:     $("$CRANE" version 2>/dev/null || echo "$GGCR_VERSION") ($CRANE, go-containerregistry $GGCR_VERSION)"
  echo "  qemu:      $(qemu-aarch64-static --version 2>/dev/null | sed -n 1p) (binfmt_misc: $(sed -n 's/^interpreter //p' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null))"
  echo "base image: $BASE"
  for a in amd64 arm64; do
    f=$BENCH_CACHE/debian-$SUITE-gcc-$a.tar
    echo "  $a: $(stat -c %s "$f" | awk '{ printf "%.0f MB", $1 / 1e6 }') root file system tarball, $(sed -n 2p "$f.stamp")"
  done
  echo "  $(sed -n 1p "$BENCH_CACHE/debian-$SUITE-gcc-amd64.tar.stamp")"
  echo "image sizes (last nodes run, compressed, from the report): $(jq -r '[.result.build.platforms[] | "\(.platform) \(.size / 1e6 | round) MB"] | join(", ")' "$last_report" 2>/dev/null)"
  echo
  echo "daemons: buildkitd ${need[*]} (started by this script; state under $STATE), registry $REG"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(free -h | awk '/^Mem:/ { print $2 }') RAM, kernel $(uname -r)"
  echo "load average (1 5 15 min): before $load_before, after $load_after"
  echo
  echo "commands (one run; <...> differ per run; cold mode stops each daemon of the side, removes its --root and starts it again):"
  for n in "${need[@]}"; do
    echo "  buildkitd $n: $(q "$BUILDKITD" --addr "<state>/$n/bk.sock" --root "<state>/$n/root" --otel-socket-path "<state>/$n/otel.sock" --config "<state>/$n/buildkitd.toml" --oci-worker=true --containerd-worker=false) $([ -z "$(daemon_plat "$n")" ] || echo "--oci-worker-platform $(daemon_plat "$n")")"
  done
  for s in "${SIDE_LIST[@]}"; do
    [ "$s" = anchor ] && continue
    slip_env "<repo>" "<outdir>" "<cache>" "$(builder_of "$s")"
    echo "  $s: env $(q "${SENV[@]}" | sed "s/COSIGN_PASSWORD=[^ ]*/COSIGN_PASSWORD=<pw>/") $(q "$SLIPWAY" "${SARGS[@]}")"
  done
  if [[ ",$SIDES," == *,anchor,* ]]; then
    for a in amd64 arm64; do
      BUILDKIT_HOST=${BK_ADDR[$a]} PLATFORMS=linux/$a buildctl_cmd "<repo>" "<created>" --opt build-arg:UNITS="$UNITS" --metadata-file "<work>/$a.md.json"
      echo "  anchor 1 build ($a, both at once): $(q "${BUILDCTL_CMD[@]}")"
    done
    echo "  anchor 2 index:  $(q "$CRANE" index append --insecure -m "<repo>@<amd64 index>" -m "<repo>@<arm64 index>" -t "<repo>:staging-<run>")"
    for p in "${PLATS[@]}"; do
      echo "  anchor 3 scan:   $(q "$TRIVY" image --image-src remote "${TRIVY_OFFLINE[@]}" --cache-dir "<cache>" --scanners vuln --platform "$p" --format json --list-all-pkgs --output "<$p>/trivy-report.json" "<repo>@<digest>")"
      for f in sarif cyclonedx cosign-vuln; do
        echo "                   $(q "$TRIVY" convert --quiet --format "$f" --output "<$p>/<file>" "<$p>/trivy-report.json")"
      done
      echo "                   $(q "$TRIVY" convert --quiet --format table --scanners vuln --severity "$SEVERITY" --exit-code 0 "<$p>/trivy-report.json")"
    done
    echo "  anchor 4 sign:   curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' -o index.json http://$REG/v2/<repo path>/manifests/<digest>"
    echo "                   COSIGN_PASSWORD=<pw> $(q "$COSIGN" sign "${COSIGN_ARGS[@]}") <repo>@<digest> <repo>@<amd64 digest> <repo>@<arm64 digest>"
    for p in "${PLATS[@]}"; do
      echo "                   $(q "$COSIGN" attest "${COSIGN_ARGS[@]}" --type cyclonedx --predicate "<$p>/sbom.cdx.json") <repo>@<digest>"
      echo "                   $(q "$COSIGN" attest "${COSIGN_ARGS[@]}" --type vuln --predicate "<$p>/vuln.json") <repo>@<digest>"
    done
    echo "  anchor 5 tag:    curl -fsS -X PUT -H 'Content-Type: <index media type>' --data-binary @index.json http://$REG/v2/<repo path>/manifests/$TAG"
  fi
} | tee "$RESULT"
log "written: $RESULT"
