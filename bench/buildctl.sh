# shellcheck shell=bash
# Sourced by bench/lib.sh and bench/pipeline.sh: the `buildctl build` that
# does what slipway's build does, for the scripts that compare the two.

# buildctl_cmd REPO CREATED [OPTION...]: into the array BUILDCTL_CMD, the
# build of CONTEXT for PLATFORMS (BASE as BASE_IMAGE, provenance
# mode=min, progress PROGRESS) on BUILDKIT_HOST with BUILDCTL, with the
# labels and manifest annotations of the arrays LABELS (key=value) and
# ANNOTATIONS (level:key=value) — their "created" set to CREATED, as
# slipway sets it anew for each run — pushed by digest to REPO. With
# BUILDCTL_LAYOUT set to a directory, the same build also writes an OCI
# layout there (a second exporter with the same name and annotations: what
# slipway asks BuildKit for). The OPTIONs go before the labels.
buildctl_cmd() {
  local repo=$1 created=$2 kv k out
  shift 2
  BUILDCTL_CMD=(
    "$BUILDCTL" --addr "$BUILDKIT_HOST" build
    --progress "$PROGRESS"
    --frontend dockerfile.v0
    --local context="$CONTEXT" --local dockerfile="$CONTEXT"
    --opt filename=Dockerfile
    --opt platform="$PLATFORMS"
    --opt build-arg:BASE_IMAGE="$BASE"
    --opt attest:provenance=mode=min
    "$@"
  )
  for kv in "${LABELS[@]}"; do
    k=${kv%%=*}
    [ "$k" = org.opencontainers.image.created ] && kv="$k=$created"
    BUILDCTL_CMD+=(--opt "label:$kv")
  done
  local ann=""
  for kv in "${ANNOTATIONS[@]}"; do
    k=${kv%%=*}
    [ "$k" = manifest:org.opencontainers.image.created ] && kv="$k=$created"
    # level:key=value → annotation-level.key=value (quoted for the CSV)
    ann+=",\"annotation-${k%%:*}.${kv#*:}\""
  done
  out="type=image,name=$repo,push=true,push-by-digest=true,name-canonical=true,oci-mediatypes=true"
  BUILDCTL_CMD+=(--output "$out$ann")
  if [ -n "${BUILDCTL_LAYOUT:-}" ]; then
    BUILDCTL_CMD+=(--output "type=oci,name=$repo,dest=$BUILDCTL_LAYOUT,tar=false,oci-mediatypes=true$ann")
  fi
}
