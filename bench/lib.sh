# shellcheck shell=bash
# Sourced by bench/build-push.sh and bench/phases.sh: the test environment
# and the commands they compare. Expects PLATFORMS, PROGRESS (plain or
# rawjson) and a log function; sets WORK (removed at exit), BUILDCTL, REG,
# BASE, SLIPWAY, slip_env, slip_args and raw_cmd.

# ------------------------------------------------------------ environment

started=
if ! hack/testenv.sh status >/dev/null 2>&1; then
  started=1
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench.XXXXXX")
cleanup() {
  rm -rf "$WORK"
  if [ -n "$started" ]; then hack/testenv.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
log "starting the test environment (hack/testenv.sh up)"
hack/testenv.sh up >/dev/null
# shellcheck disable=SC1091
. "${SLIPWAY_TEST_STATE:-/tmp/slipway-testenv}/env"
BUILDCTL=${SLIPWAY_TEST_BUILDCTL:?}
REG=${SLIPWAY_TEST_REGISTRY:?}
BASE=${SLIPWAY_TEST_BASE_IMAGE:?}

SLIPWAY=${BIN:-bin/slipway}
if [ ! -x "$SLIPWAY" ]; then
  log "building $SLIPWAY (make build)"
  make build BIN="$SLIPWAY" >&2
fi

CONTEXT=examples/demo
SLIP_REPO=$REG/bench/slipway
RAW_REPO=$REG/bench/raw
OUTDIR=$WORK/slipway-out

# ------------------------------------------------------------ the commands

# slipway: environment as hack/demo.sh, everything after the build off.
slip_env=(
  BUILDKIT_HOST="$BUILDKIT_HOST"
  SLIPWAY_IMAGES="$SLIP_REPO"
  SLIPWAY_BUILD_ARGS="BASE_IMAGE=$BASE"
  SLIPWAY_OUTPUT_DIR="$OUTDIR"
  SLIPWAY_SCAN=false
  SLIPWAY_CI=local
)
# shellcheck disable=SC2054 # the commas are inside one flag value
slip_args=(
  run --context "$CONTEXT"
  --platforms "$PLATFORMS"
  --provenance mode=min --sbom false
  --push true --sign false --scan=false
  --tags type=raw,value=bench,enable=false
  --progress "$PROGRESS"
)

# The plan must build and push, and do nothing else (no tag, scan, sign).
plan=$(env "${slip_env[@]}" "$SLIPWAY" "${slip_args[@]}" --dry-run --output json 2>/dev/null)
steps=$(printf '%s\n' "$plan" | awk '/"steps": \[/ { s = 1 } s && /"stage":/ { gsub(/[",]/, "", $2); printf "%s ", $2 }')
case "$steps" in
"build " | "build report ") ;;
*)
  log "slipway's plan has the steps [$steps]: expected only build (and report)"
  exit 1
  ;;
esac
printf '%s\n' "$plan" | grep -q '"tags": \[\]' || {
  log "slipway's plan has tags; expected none"
  exit 1
}

# The labels and manifest annotations slipway puts on the image, read from
# its plan (JSON, one key per line), become buildctl options; "created" is
# set anew for each buildctl run, as slipway does.
LABELS=()
ANNOTATIONS=()
while IFS=$'\t' read -r kind k v; do
  case $kind in
  label) LABELS+=("$k=$v") ;;
  annotation) ANNOTATIONS+=("$k=$v") ;;
  esac
done < <(printf '%s\n' "$plan" | awk '
  /^    "labels": \{/ { sec = "label"; next }
  /^    "annotations": \[/ { sec = "annotation"; next }
  sec != "" && /^    [\]\}]/ { sec = ""; next }
  sec == "label" {
    line = $0; sub(/^ *"/, "", line); sub(/",?$/, "", line)
    i = index(line, "\": \""); printf "label\t%s\t%s\n", substr(line, 1, i - 1), substr(line, i + 4)
  }
  sec == "annotation" {
    line = $0; sub(/^ *"/, "", line); sub(/",?$/, "", line)
    i = index(line, "="); printf "annotation\t%s\t%s\n", substr(line, 1, i - 1), substr(line, i + 1)
  }')
[ ${#LABELS[@]} -gt 0 ] || {
  log "could not read the labels from slipway's plan"
  exit 1
}

# raw_cmd CREATED [SIDE]: the buildctl command line, in the array RAW.
# SIDE "raw" (the default) pushes by digest; "rawoci" also writes an OCI
# layout (kept between runs, as slipway's) in the same build: the outputs
# slipway asks BuildKit for.
# shellcheck source=bench/buildctl.sh
. bench/buildctl.sh
raw_cmd() {
  if [ "${2:-raw}" = rawoci ]; then
    BUILDCTL_LAYOUT=$WORK/rawoci-layout buildctl_cmd "$RAW_REPO-oci" "$1"
  else
    BUILDCTL_LAYOUT='' buildctl_cmd "$RAW_REPO" "$1"
  fi
  # shellcheck disable=SC2034 # used by the scripts that source this
  RAW=("${BUILDCTL_CMD[@]}")
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
created_now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

