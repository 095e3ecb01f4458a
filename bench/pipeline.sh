#!/usr/bin/env bash
# Pipeline benchmark (issue 7): the anchor pipeline a user runs today,
# glued from the CLIs of the same versions slipway links, against one
# `slipway run` doing the same work on examples/demo, on the same BuildKit
# daemon and registry (hack/testenv.sh).
#
#   bench/pipeline.sh [-n N] [-p PLATFORMS] [-m MODES] [-s STARTS] [-T]
#
#   -n N          timed runs of each side per mode (default 5; below 5 the
#                 result is marked SMOKE RUN, not a measurement)
#   -p PLATFORMS  comma-separated target platforms (default linux/amd64)
#   -m MODES      cold, warm or cold,warm (default cold,warm)
#   -s STARTS     runs of each start-time figure (default 20)
#   -T            only build/check the tools (slipway, trivy, cosign) and exit
#
# The anchor, one run (every process under /usr/bin/time):
#   1. build   buildctl build (the testenv's buildctl v0.34.2), Dockerfile
#              frontend, BASE_IMAGE build arg, slipway's labels and manifest
#              annotations (read from its --dry-run plan, fresh "created"),
#              provenance mode=min, pushed by digest, no tag (push-by-digest);
#   2. scan    per platform: `trivy image --image-src remote` of
#              <repo>@<digest> --platform P (offline: --skip-db-update
#              --skip-java-db-update --offline-scan --skip-version-check, the
#              demo DB as --cache-dir, --scanners vuln) to a JSON report with
#              --list-all-pkgs, then `trivy convert` of that report to SARIF,
#              CycloneDX and cosign-vuln (no rescan), and the gate:
#              `trivy convert --format table --severity CRITICAL,HIGH
#              --exit-code 0` (reports, the run continues);
#   3. sign    one `cosign sign --key --tlog-upload=false --yes` of the
#              index and each platform manifest (their digests read from
#              the index with one curl GET), as slipway signs; then per
#              platform `cosign attest --type cyclonedx` and `cosign attest
#              --type vuln` on the index digest;
#   4. tag     the tag moves last: one curl PUT of the index manifest (the
#              bytes fetched in step 3) under the tag, what `crane tag`
#              does, the cheapest honest equivalent.
# slipway, one run: `slipway run` with the same platforms, provenance
# mode=min, scan (same demo DB, own cache dir, SLIPWAY_SCAN_FAIL=false like
# --exit-code 0), sign + attest with the same key (tlog off), verify, tag
# last. Its plan must be: build scan gate sign verify tag report.
#
# Modes, each side with its own repository, Trivy cache dir and (slipway)
# output dir:
#   cold  before each run: `buildctl prune --all` (the whole daemon's cache:
#         the base image is pulled again), a new repository, an empty
#         Trivy analysis cache (<cache>/fanal), a new slipway output dir;
#   warm  one untimed run of each side first, then everything is kept:
#         unchanged source, BuildKit cache, repository, Trivy cache, the
#         slipway output dir (its OCI layout).
# In each mode the N runs are interleaved, the order alternating (anchor
# first on odd runs, slipway first on even ones). Figures: median, min and
# max wall time (date +%s%N around the whole side), ratio of the medians;
# peak RSS (/usr/bin/time %M: for the anchor the max over its processes);
# bytes the registry sent for GET .../blobs/... (its access log, between
# byte offsets taken around the step): for the anchor during the scan step,
# for slipway (which scans its local OCI layout) during the whole run, both
# for the side's repository only. Also: start time of `slipway version`,
# `slipway run --dry-run`, `trivy --version` and `cosign version` (median
# of STARTS runs each).
#
# Tools, built once into ${SLIPWAY_CACHE:-~/.cache/slipway}/bin under the
# shared lock /tmp/slipway-heavy.lock (never two heavy builds at once):
#   trivy-v0.70.0   Trivy's CLI, from a copy of the module directory with
#                   every module slipway links required at slipway's
#                   version (`go install ...@v0.70.0` fails here: the proxy
#                   answers 403 to its deprecation lookup);
#   cosign-v2.6.5   cosign's CLI, reused when present, else built the same way;
#   bin/slipway     `make build` when missing (BIN= to measure another).
# The demo DB (hack/demodb: a fake Trivy DB, the real one cannot be
# downloaded here) is written into a work dir for each side.
#
# Writes bench/results/pipeline-<UTC time>-<platforms>.txt (every figure,
# per-run rows, the exact commands, tool versions, module differences, the
# machine and load average before/after) and prints the summary.
#
# Needs root, bash, coreutils, awk, sed, curl, jq, flock, /usr/bin/time
# (Debian "time"), Go, and what hack/testenv.sh installs (it is started when
# not running, and then stopped again at the end; never otherwise).
# Warning: cold mode prunes the whole BuildKit cache of the shared daemon,
# which hack/testenv.sh keeps across runs: the next `make image` compiles
# slipway and BuildKit from scratch again.
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export GOEXPERIMENT=jsonv2

N=5
PLATFORMS=linux/amd64
MODES=cold,warm
STARTS=20
TOOLS_ONLY=
while getopts "n:p:m:s:Th" opt; do
  case $opt in
  n) N=$OPTARG ;;
  p) PLATFORMS=$OPTARG ;;
  m) MODES=$OPTARG ;;
  s) STARTS=$OPTARG ;;
  T) TOOLS_ONLY=1 ;;
  h)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *) exit 2 ;;
  esac
done

log() { echo "pipeline: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}
if ! [[ $N =~ ^[0-9]+$ ]] || [ "$N" -lt 1 ]; then die "-n must be a number ≥ 1 (got $N)"; fi
if ! [[ $STARTS =~ ^[0-9]+$ ]] || [ "$STARTS" -lt 1 ]; then die "-s must be a number ≥ 1 (got $STARTS)"; fi
SMOKE=
if [ "$N" -lt 5 ]; then
  SMOKE=1
  log "-n $N < 5: a SMOKE RUN, marked as such; measure with -n 5 or more"
fi
case $MODES in cold | warm | cold,warm | warm,cold) ;; *) die "-m must be cold, warm or cold,warm (got $MODES)" ;; esac
for t in /usr/bin/time curl jq flock go awk; do
  command -v "$t" >/dev/null || die "$t is missing (Debian: apt-get install -y time curl jq util-linux)"
done

TIME=/usr/bin/time
LOCK=/tmp/slipway-heavy.lock
CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
TRIVY_VERSION=v0.70.0
COSIGN_VERSION=v2.6.5
TRIVY=$CACHE/bin/trivy-$TRIVY_VERSION
COSIGN=$CACHE/bin/cosign-$COSIGN_VERSION
SLIPWAY=${BIN:-bin/slipway}
[[ $SLIPWAY == /* ]] || SLIPWAY=$ROOT/$SLIPWAY
CONTEXT=examples/demo
SEVERITY=CRITICAL,HIGH
TAG=bench

# ------------------------------------------------------------ environment

started=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-pipeline.XXXXXX")
cleanup() {
  if [ -n "${KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  if [ -n "$started" ]; then hack/testenv.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# ------------------------------------------------------------ tools

# go_pins: "-require=path@version" for every module bin/slipway links.
go_pins() {
  go version -m "$SLIPWAY" | awk '$1 == "dep" && $2 !~ /^github.com\/slipway-ci\// { print "-require=" $2 "@" $3 }'
}

# build_cli OUT MODULE VERSION PKG LDFLAGS: the command PKG of MODULE at
# VERSION into OUT, built from a copy of the module directory (as
# hack/testenv.sh builds BuildKit) with every module slipway links required
# at slipway's version, under the shared lock. Nothing when OUT exists.
build_cli() {
  local out=$1 mod=$2 ver=$3 pkg=$4 ldflags=$5 dir src
  [ -x "$out" ] && return 0
  log "building $pkg@$ver into $out (minutes, once; waits for $LOCK)"
  mkdir -p "$(dirname "$out")"
  dir=$(cd "$WORK" && go mod download -json "$mod@$ver" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -d "${dir:-/nonexistent}" ] || die "go mod download $mod@$ver failed"
  src=$WORK/src-${mod##*/}
  rm -rf "$src"
  cp -a "$dir"/. "$src"/
  chmod -R u+w "$src"
  # shellcheck disable=SC2046 # one argument per module
  (cd "$src" && go mod edit $(go_pins | grep -v "^-require=$mod@")) ||
    die "pinning $mod to slipway's module versions failed"
  (
    flock 9
    cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "./${pkg#"$mod"/}"
  ) 9>"$LOCK" >&2 || die "building $pkg@$ver failed"
  mv "$out.tmp" "$out"
  rm -rf "$src"
}

# mod_diff TOOL: the modules TOOL and slipway both link at other versions.
mod_diff() {
  LC_ALL=C join <(go version -m "$1" | awk '$1 == "dep" { print $2, $3 }' | LC_ALL=C sort) \
    <(go version -m "$SLIPWAY" | awk '$1 == "dep" { print $2, $3 }' | LC_ALL=C sort) |
    awk '$2 != $3 { print "    " $1 ": " $2 " (slipway " $3 ")" }'
}

if [ ! -x "$SLIPWAY" ]; then
  log "building $SLIPWAY (make build; waits for $LOCK)"
  flock "$LOCK" make build BIN="$SLIPWAY" >&2
fi
[ -n "$(go_pins)" ] || die "no module build info in $SLIPWAY (go version -m)"
build_cli "$TRIVY" github.com/aquasecurity/trivy "$TRIVY_VERSION" github.com/aquasecurity/trivy/cmd/trivy \
  "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}"
build_cli "$COSIGN" github.com/sigstore/cosign/v2 "$COSIGN_VERSION" github.com/sigstore/cosign/v2/cmd/cosign \
  "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION"
"$TRIVY" --version 2>/dev/null | grep -q "Version: ${TRIVY_VERSION#v}" || die "$TRIVY is not Trivy ${TRIVY_VERSION#v}"
"$COSIGN" version 2>&1 | grep -q "$COSIGN_VERSION" || die "$COSIGN is not cosign $COSIGN_VERSION"
log "tools: $("$SLIPWAY" version | sed -n 1p); trivy $TRIVY_VERSION ($TRIVY); cosign $COSIGN_VERSION ($COSIGN)"
[ -n "$TOOLS_ONLY" ] && exit 0

if ! hack/testenv.sh status >/dev/null 2>&1; then started=1; fi
log "test environment (hack/testenv.sh up${started:+; stopped again at the end})"
hack/testenv.sh up >/dev/null
# shellcheck disable=SC1091
. "${SLIPWAY_TEST_STATE:-/tmp/slipway-testenv}/env"
BUILDCTL=${SLIPWAY_TEST_BUILDCTL:?}
REG=${SLIPWAY_TEST_REGISTRY:?}
BASE=${SLIPWAY_TEST_BASE_IMAGE:?}
REGLOG=${SLIPWAY_TEST_REGISTRY_LOG:?}
[ -f "$REGLOG" ] || die "the registry's access log $REGLOG is missing"

# The demo DB, once, then a copy per side (each side its own Trivy cache).
log "writing the demo vulnerability DB (hack/demodb)"
flock "$LOCK" go run ./hack/demodb -cache-dir "$WORK/demodb" >&2 || die "hack/demodb failed"
new_cache() { # new_cache DIR: DIR holds the demo DB and no analysis cache
  rm -rf "$1"
  mkdir -p "$1"
  cp -a "$WORK/demodb/db" "$1/db"
}

# An ephemeral cosign key pair, shared by both sides.
export COSIGN_PASSWORD="bench-$RANDOM$RANDOM"
mkdir -p "$WORK/key"
(cd "$WORK/key" && "$COSIGN" generate-key-pair >/dev/null 2>&1) || die "cosign generate-key-pair failed"
KEY=$WORK/key/cosign.key

slug=$(printf '%s' "$PLATFORMS" | sed 's#linux/##g; s#[/,]#-#g')
IFS=, read -r -a PLATS <<<"$PLATFORMS"
RUNID=$(date -u +%H%M%S)-$RANDOM

# ------------------------------------------------------------ slipway

# slip_env REPO OUTDIR CACHEDIR: the environment of one slipway run, in SENV.
slip_env() {
  SENV=(
    BUILDKIT_HOST="$BUILDKIT_HOST"
    SLIPWAY_CI=local
    SLIPWAY_IMAGES="$1"
    SLIPWAY_BUILD_ARGS="BASE_IMAGE=$BASE"
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
  --provenance mode=min --sbom false
  --push true
  --tags "type=raw,value=$TAG" --flavor latest=false
  --progress plain
)

slip_env "$REG/bench/pipeline/plan" "$WORK/plan-out" "$WORK/plan-cache"
plan=$(env "${SENV[@]}" "$SLIPWAY" "${SARGS[@]}" --dry-run --output json 2>"$WORK/plan.err") || {
  cat "$WORK/plan.err" >&2
  die "slipway --dry-run failed (a bin/slipway that cannot sign yet? rebuild: flock $LOCK make build)"
}
steps=$(jq -r '[.steps[].stage] | join(" ")' <<<"$plan")
[ "$steps" = "build scan gate sign verify tag report" ] ||
  die "slipway's plan has the steps [$steps]; expected build scan gate sign verify tag report"

# The labels and manifest annotations slipway puts on the image become
# buildctl options ("created" anew for each run, as slipway does).
mapfile -t LABELS < <(jq -r '.metadata.labels | to_entries[] | "\(.key)=\(.value)"' <<<"$plan")
mapfile -t ANNOTATIONS < <(jq -r '.metadata.annotations[]' <<<"$plan")
[ ${#LABELS[@]} -gt 0 ] || die "no labels in slipway's plan"

# ------------------------------------------------------------ anchor

# build_cmd REPO CREATED METADATA: the buildctl command, in BUILD.
# shellcheck source=bench/buildctl.sh
. bench/buildctl.sh
# shellcheck source=bench/stats.sh
. bench/stats.sh
PROGRESS=plain
build_cmd() {
  buildctl_cmd "$1" "$2" --metadata-file "$3"
  BUILD=("${BUILDCTL_CMD[@]}")
}
TRIVY_OFFLINE=(--skip-db-update --skip-java-db-update --offline-scan --skip-version-check --quiet)
cosign_args() { COSIGN_ARGS=(--key "$KEY" --tlog-upload=false --yes); }
cosign_args

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

# timed LOGFILE NAME CMD...: run CMD under /usr/bin/time, its output to
# LOGFILE; appends its peak RSS (kB) and NAME to $WORK/procs.
timed() {
  local logf=$1 name=$2
  shift 2
  "$TIME" -f %M -o "$WORK/rss" "$@" >>"$logf" 2>&1 || {
    tail -n 40 "$logf" >&2
    die "failed: $* (log $logf)"
  }
  echo "$(tail -n1 "$WORK/rss") $name" >>"$WORK/procs"
}

# blob_bytes FROM TO REPO: "bytes count" of the registry's answers to GET
# /v2/REPO/blobs/... between byte offsets FROM and TO of its access log.
blob_bytes() {
  dd if="$REGLOG" bs=1M iflag=skip_bytes,count_bytes skip="$1" count="$(($2 - $1))" status=none |
    awk -v p="/v2/$3/blobs/" '$6 == "\"GET" && index($7, p) == 1 && $10 ~ /^[0-9]+$/ { b += $10; n++ }
      END { printf "%d %d\n", b, n }'
}
logsize() { stat -c %s "$REGLOG"; }

# run_anchor MODE I REPO CACHEDIR: one anchor run; appends its row to $WORK/runs.
run_anchor() {
  local mode=$1 i=$2 repo=$3 cache=$4 d=$WORK/anchor-$1-$2 t0 t tb ts tg tt digest p pd off0 off1 rss
  local path=${repo#*/}
  rm -rf "$d"
  mkdir -p "$d"
  : >"$WORK/procs"
  t0=$(now_ns)
  # 1. build, push by digest
  t=$(now_ns)
  build_cmd "$repo" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$d/md.json"
  timed "$d/build.log" buildctl-build "${BUILD[@]}"
  digest=$(jq -r '."containerimage.digest"' "$d/md.json")
  tb=$(ms_since "$t")
  # 2. scan each platform from the registry, reports, gate
  t=$(now_ns)
  off0=$(logsize)
  for p in "${PLATS[@]}"; do
    pd=$d/${p//\//-}
    mkdir -p "$pd"
    timed "$d/scan.log" trivy-image "$TRIVY" image --image-src remote "${TRIVY_OFFLINE[@]}" --cache-dir "$cache" \
      --scanners vuln --platform "$p" --format json --list-all-pkgs --output "$pd/trivy-report.json" "$repo@$digest"
    timed "$d/scan.log" trivy-convert "$TRIVY" convert --quiet --format sarif --output "$pd/trivy-results.sarif" "$pd/trivy-report.json"
    timed "$d/scan.log" trivy-convert "$TRIVY" convert --quiet --format cyclonedx --output "$pd/sbom.cdx.json" "$pd/trivy-report.json"
    timed "$d/scan.log" trivy-convert "$TRIVY" convert --quiet --format cosign-vuln --output "$pd/vuln.json" "$pd/trivy-report.json"
    timed "$d/scan.log" trivy-convert "$TRIVY" convert --quiet --format table --scanners vuln --severity "$SEVERITY" --exit-code 0 "$pd/trivy-report.json"
  done
  off1=$(logsize)
  ts=$(ms_since "$t")
  # 3. sign the index and each platform manifest, attest per platform
  t=$(now_ns)
  curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' -o "$d/index.json" "http://$REG/v2/$path/manifests/$digest"
  mapfile -t pds < <(jq -r '.manifests[] | select(.platform.os != "unknown") | .digest' "$d/index.json")
  timed "$d/sign.log" cosign-sign "$COSIGN" sign "${COSIGN_ARGS[@]}" "$repo@$digest" "${pds[@]/#/$repo@}"
  for p in "${PLATS[@]}"; do
    pd=$d/${p//\//-}
    timed "$d/sign.log" cosign-attest "$COSIGN" attest "${COSIGN_ARGS[@]}" --type cyclonedx --predicate "$pd/sbom.cdx.json" "$repo@$digest"
    timed "$d/sign.log" cosign-attest "$COSIGN" attest "${COSIGN_ARGS[@]}" --type vuln --predicate "$pd/vuln.json" "$repo@$digest"
  done
  tg=$(ms_since "$t")
  # 4. tag last: PUT the index manifest under the tag
  t=$(now_ns)
  curl -fsS -X PUT -H "Content-Type: $(jq -r .mediaType "$d/index.json")" --data-binary @"$d/index.json" \
    "http://$REG/v2/$path/manifests/$TAG" -o /dev/null
  tt=$(ms_since "$t")
  local total
  total=$(ms_since "$t0")
  rss=$(sort -n "$WORK/procs" | tail -n1)
  read -r bytes gets < <(blob_bytes "$off0" "$off1" "$path")
  # mode side run total_ms rss_kB bytes gets build scan sign tag procs max_rss_process
  echo "$mode anchor $i $total ${rss%% *} $bytes $gets $tb $ts $tg $tt $(wc -l <"$WORK/procs") ${rss#* }" >>"$WORK/runs"
  cp "$WORK/procs" "$d/procs"
  [ "$(curl -fsS -o /dev/null -w '%{http_code}' -I -H 'Accept: application/vnd.oci.image.index.v1+json' \
    "http://$REG/v2/$path/manifests/$TAG")" = 200 ] || die "anchor: $repo:$TAG is missing"
}

# run_slipway MODE I REPO CACHEDIR OUTDIR: one slipway run.
run_slipway() {
  local mode=$1 i=$2 repo=$3 cache=$4 out=$5 t0 total off0 off1 rss logf=$WORK/slipway-$1-$2.log
  local path=${repo#*/}
  slip_env "$repo" "$out" "$cache"
  off0=$(logsize)
  t0=$(now_ns)
  env "${SENV[@]}" "$TIME" -f %M -o "$WORK/rss" "$SLIPWAY" "${SARGS[@]}" >"$logf" 2>&1 || {
    tail -n 40 "$logf" >&2
    die "slipway run failed ($logf)"
  }
  total=$(ms_since "$t0")
  off1=$(logsize)
  rss=$(tail -n1 "$WORK/rss")
  read -r bytes gets < <(blob_bytes "$off0" "$off1" "$path")
  echo "$mode slipway $i $total $rss $bytes $gets - - - - 1 slipway" >>"$WORK/runs"
  [ "$(curl -fsS -o /dev/null -w '%{http_code}' -I -H 'Accept: application/vnd.oci.image.index.v1+json' \
    "http://$REG/v2/$path/manifests/$TAG")" = 200 ] || die "slipway: $repo:$TAG is missing"
}

# ------------------------------------------------------------ runs

uptime_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$WORK/runs"
prune() { "$BUILDCTL" --addr "$BUILDKIT_HOST" prune --all >/dev/null 2>&1 || die "buildctl prune --all failed"; }

for mode in ${MODES//,/ }; do
  base=bench/pipeline/$RUNID-$mode
  if [ "$mode" = warm ]; then
    a_repo=$REG/$base-anchor s_repo=$REG/$base-slipway
    a_cache=$WORK/trivy-anchor-warm s_cache=$WORK/trivy-slipway-warm s_out=$WORK/slipway-out-warm
    new_cache "$a_cache"
    new_cache "$s_cache"
    log "warm: one untimed run of each side first"
    run_anchor warm 0 "$a_repo" "$a_cache"
    run_slipway warm 0 "$s_repo" "$s_cache" "$s_out"
  fi
  for ((i = 1; i <= N; i++)); do
    if ((i % 2)); then order="anchor slipway"; else order="slipway anchor"; fi
    line=
    for side in $order; do
      if [ "$mode" = cold ]; then
        prune
        a_repo=$REG/$base-$i-anchor s_repo=$REG/$base-$i-slipway
        a_cache=$WORK/trivy-anchor-cold s_cache=$WORK/trivy-slipway-cold s_out=$WORK/slipway-out-cold-$i
        if [ "$side" = anchor ]; then new_cache "$a_cache"; else new_cache "$s_cache"; fi
      fi
      if [ "$side" = anchor ]; then
        run_anchor "$mode" "$i" "$a_repo" "$a_cache"
      else
        run_slipway "$mode" "$i" "$s_repo" "$s_cache" "$s_out"
      fi
      line+=" $side $(tail -n1 "$WORK/runs" | cut -d' ' -f4) ms"
    done
    log "$mode run $i/$N:$line"
  done
done
# Runs of warm mode number 0 are the untimed warm-ups.
awk '$3 != 0' "$WORK/runs" >"$WORK/timed"

# ------------------------------------------------------------ start times

# start_ms CMD...: the median wall time (ms, 1 decimal) of STARTS runs of CMD.
start_ms() {
  local k t
  for ((k = 0; k < STARTS; k++)); do
    t=$(now_ns)
    "$@" >/dev/null 2>&1 || true
    echo $(($(now_ns) - t))
  done | med | awk '{ printf "%.1f\n", $1 / 1e6 }'
}
log "start times ($STARTS runs each)"
slip_env "$REG/bench/pipeline/plan" "$WORK/plan-out" "$WORK/plan-cache"
st_version=$(start_ms "$SLIPWAY" version)
st_dry=$(start_ms env "${SENV[@]}" "$SLIPWAY" "${SARGS[@]}" --dry-run)
st_trivy=$(start_ms "$TRIVY" --version)
st_cosign=$(start_ms "$COSIGN" version)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------ figures

# stats MODE SIDE COL: "median min max" of column COL.
stats() { awk -v m="$1" -v s="$2" -v c="$3" '$1 == m && $2 == s { print $c }' "$WORK/timed" | spread; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
RESULT=bench/results/pipeline-$stamp-$slug.txt

q() { # the arguments as one shell-quoted line
  local a out=()
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi
  done
  echo "${out[*]}"
}

{
  echo "slipway pipeline benchmark ($stamp): anchor (buildctl + trivy + cosign + curl) vs one slipway run"
  if [ -n "$SMOKE" ]; then
    echo
    echo "*** SMOKE RUN: N=$N (< 5), figures are not a measurement ***"
  fi
  echo
  echo "platforms: $PLATFORMS; N=$N timed runs per side and mode, interleaved, order alternating"
  printf '%-5s %-8s %22s %7s %20s %22s\n' mode side "wall ms median (min-max)" ratio "peak RSS MiB median" "scan: blob KiB (GETs)"
  for mode in ${MODES//,/ }; do
    read -r am amin amax < <(stats "$mode" anchor 4)
    read -r sm smin smax < <(stats "$mode" slipway 4)
    read -r ar _ arx < <(stats "$mode" anchor 5)
    read -r sr _ srx < <(stats "$mode" slipway 5)
    read -r ab _ _ < <(stats "$mode" anchor 6)
    read -r sb _ _ < <(stats "$mode" slipway 6)
    read -r ag _ _ < <(stats "$mode" anchor 7)
    read -r sg _ _ < <(stats "$mode" slipway 7)
    ratio=$(awk -v a="$sm" -v b="$am" 'BEGIN { printf "%.2fx", a / b }')
    printf '%-5s %-8s %22s %7s %20s %22s\n' "$mode" anchor "$am ($amin-$amax)" 1 "$(mib "$ar") (max $(mib "$arx"))" "$(kib "$ab") ($ag)"
    printf '%-5s %-8s %22s %7s %20s %22s\n' "$mode" slipway "$sm ($smin-$smax)" "$ratio" "$(mib "$sr") (max $(mib "$srx"))" "$(kib "$sb") ($sg)"
  done
  echo "(ratio: median slipway / median anchor; anchor RSS: the max over its processes;"
  echo " scan bytes: anchor during its scan step, slipway during its whole run; its own repository only)"
  echo "work not on both sides: slipway also verifies the signatures before tagging and writes the GitLab"
  echo "report; the anchor reads the image back from the registry and starts one process per step"
  echo
  echo "anchor steps, median ms:"
  printf '  %-5s %8s %8s %12s %8s %s\n' mode build scan sign+attest tag "processes (largest RSS)"
  for mode in ${MODES//,/ }; do
    row=()
    for c in 8 9 10 11 12; do row+=("$(stats "$mode" anchor "$c" | cut -d' ' -f1)"); done
    big=$(awk -v m="$mode" '$1 == m && $2 == "anchor" { print $13 }' "$WORK/timed" | sort | uniq -c | sort -rn | awk 'NR == 1' | awk '{ $1 = ""; print substr($0, 2) }')
    printf '  %-5s %8s %8s %12s %8s %s\n' "$mode" "${row[@]:0:4}" "${row[4]} ($big)"
  done
  echo
  echo "start time, median of $STARTS runs (date +%s%N around the process):"
  echo "  slipway version              $st_version ms"
  echo "  slipway run --dry-run        $st_dry ms (the run's environment, plan as text on stderr)"
  echo "  trivy --version              $st_trivy ms"
  echo "  cosign version               $st_cosign ms"
  echo
  echo "per run (mode side run wall_ms peak_rss_kB scan_blob_bytes blob_gets build_ms scan_ms sign_ms tag_ms processes largest_rss_process):"
  sed 's/^/  /' "$WORK/runs" | awk '{ if ($3 == 0) print $0 "   (untimed warm-up)"; else print }'
  echo
  echo "versions:"
  echo "  slipway:  $("$SLIPWAY" version 2>/dev/null | sed -n 1p) ($SLIPWAY)"
  echo "  buildctl: $("$BUILDCTL" --version 2>/dev/null) ($BUILDCTL)"
  echo "  trivy:    $("$TRIVY" --version 2>/dev/null | sed -n 1p) ($TRIVY, $(go version "$TRIVY" | awk '{ print $2 }'))"
  echo "  cosign:   $("$COSIGN" version 2>&1 | awk '/GitVersion/ { print $2 }') ($COSIGN, $(go version "$COSIGN" | awk '{ print $2 }'))"
  echo "  modules both link at different versions (trivy CLI | cosign CLI vs slipway):"
  echo "    trivy: $(mod_diff "$TRIVY" | wc -l) modules (first 20 listed)"
  mod_diff "$TRIVY" | awk 'NR <= 20'
  echo "    cosign: $(mod_diff "$COSIGN" | wc -l) modules (first 20 listed)"
  mod_diff "$COSIGN" | awk 'NR <= 20'
  echo
  echo "daemons: buildkitd $BUILDKIT_HOST (shared), registry $REG (access log $REGLOG)"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(free -h | awk '/^Mem:/ { print $2 }') RAM, kernel $(uname -r)"
  echo "load average (1 5 15 min): before $uptime_before, after $load_after"
  echo
  echo "commands (one run; <...> differ per run; cold mode runs \`$(q "$BUILDCTL") --addr $BUILDKIT_HOST prune --all\` before each run):"
  build_cmd "<repo>" "<created>" "<work>/md.json"
  echo "  anchor 1 build:  $(q "${BUILD[@]}")"
  for p in "${PLATS[@]}"; do
    echo "  anchor 2 scan:   $(q "$TRIVY" image --image-src remote "${TRIVY_OFFLINE[@]}" --cache-dir "<cache>" --scanners vuln --platform "$p" --format json --list-all-pkgs --output "<$p>/trivy-report.json" "<repo>@<digest>")"
    for f in sarif cyclonedx cosign-vuln; do
      echo "                   $(q "$TRIVY" convert --quiet --format "$f" --output "<$p>/<file>" "<$p>/trivy-report.json")"
    done
    echo "                   $(q "$TRIVY" convert --quiet --format table --scanners vuln --severity "$SEVERITY" --exit-code 0 "<$p>/trivy-report.json")"
  done
  echo "  anchor 3 sign:   curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' -o index.json http://$REG/v2/<repo path>/manifests/<digest>"
  echo "                   COSIGN_PASSWORD=<pw> $(q "$COSIGN" sign "${COSIGN_ARGS[@]}") <repo>@<digest> <repo>@<platform digest>..."
  for p in "${PLATS[@]}"; do
    echo "                   $(q "$COSIGN" attest "${COSIGN_ARGS[@]}" --type cyclonedx --predicate "<$p>/sbom.cdx.json") <repo>@<digest>"
    echo "                   $(q "$COSIGN" attest "${COSIGN_ARGS[@]}" --type vuln --predicate "<$p>/vuln.json") <repo>@<digest>"
  done
  echo "  anchor 4 tag:    curl -fsS -X PUT -H 'Content-Type: <index media type>' --data-binary @index.json http://$REG/v2/<repo path>/manifests/$TAG"
  slip_env "<repo>" "<outdir>" "<cache>"
  echo "  slipway:         env $(q "${SENV[@]}" | sed "s/COSIGN_PASSWORD=[^ ]*/COSIGN_PASSWORD=<pw>/") $(q "$SLIPWAY" "${SARGS[@]}")"
} | tee "$RESULT"
log "written: $RESULT"
