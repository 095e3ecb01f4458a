#!/usr/bin/env bash
# The test environment of slipway: a real BuildKit daemon and a real registry,
# on this machine, started from nothing but Debian's packages and the Go
# module proxy. Used by `make test`, `make demo` and CI, as root, on a fresh
# Debian 12 machine.
#
#   hack/testenv.sh up       install what is missing, build BuildKit once
#                            (cached), start the registry and buildkitd,
#                            push the base images; print the environment.
#                            A second `up` while all runs only prints it.
#   hack/testenv.sh down     stop what `up` started (by PID), remove the state
#   hack/testenv.sh env      print the environment file (KEY=value lines)
#   hack/testenv.sh status   say what runs
#
# Environment:
#   SLIPWAY_CACHE        builds and downloads kept across runs
#                        (default $HOME/.cache/slipway)
#   SLIPWAY_TEST_STATE   the running environment, made anew by every `up`
#                        (default /tmp/slipway-testenv)
#   SLIPWAY_BUILDKIT_ROOT  buildkitd's state (its cache, the cache mounts of
#                        RUN steps), kept across `down` and `up` so that only
#                        the first build of the slipway image on a machine
#                        compiles everything (default $SLIPWAY_CACHE/buildkitd-root)
#   SLIPWAY_TEST_DOCKER  1 (default) to also start a dockerd and put a
#                        BuildKit image and a CI runner image in it; 0 to
#                        leave it out
#   SLIPWAY_TEST_WAIT    seconds to wait for each daemon (default 60)
#   SLIPWAY_DEBIAN_MIRROR  the Debian mirror for the arm64 package; default:
#                        the one in /etc/apt/sources.list*
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=hack/lib.sh
. "$ROOT/hack/lib.sh"
BUILDKIT_VERSION=v0.34.2
CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
STATE=${SLIPWAY_TEST_STATE:-/tmp/slipway-testenv}
WANT_DOCKER=${SLIPWAY_TEST_DOCKER:-1}
WAIT=${SLIPWAY_TEST_WAIT:-60}
BK_BIN=$CACHE/buildkit-$BUILDKIT_VERSION/bin
BK_ROOT=${SLIPWAY_BUILDKIT_ROOT:-$CACHE/buildkitd-root}
ENV_FILE=$STATE/env
LOCK_FILE=${STATE%/}.lock
PACKAGES=(runc qemu-user-static binfmt-support docker-registry busybox-static openssh-client git)
DOCKER_PACKAGES=(docker.io)

log() { echo "testenv: $*" >&2; }
die() {
  echo "testenv: error: $*" >&2
  exit 1
}

# ---------------------------------------------------------------- helpers

# pid_alive PID NAME: PID runs and its command line names NAME (so a
# recycled PID is never taken for ours).
pid_alive() {
  local pid=$1 name=$2
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name"
}

# http_status HOST PORT PATH: the status code of a GET, with bash alone (curl
# is not on a fresh Debian).
http_status() {
  local host=$1 port=$2 path=$3
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$2" "$0" "$1" >&3
    IFS=" " read -r _ code _ <&3 && echo "$code"
  ' "$host" "$port" "$path" 2>/dev/null || true
}

port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

free_port() {
  local port i
  for i in $(seq 1 100); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
    port_in_use "$port" || {
      echo "$port"
      return
    }
    : "$i"
  done
  die "found no free TCP port on 127.0.0.1"
}

# env_get KEY: the value of KEY in the environment file.
env_get() {
  [ -f "$ENV_FILE" ] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n1
}

# pid_get NAME: the PID recorded for NAME (written as soon as it starts, so
# `down` stops it even when `up` failed half way).
pid_get() {
  if [ -f "$STATE/$1.pid" ]; then cat "$STATE/$1.pid"; fi
}

# start NAME LOG CMD...: CMD in the background, in its own session, its
# output to LOG, its PID in $STATE/NAME.pid.
start() {
  local name=$1 logf=$2
  shift 2
  setsid "$@" </dev/null >>"$logf" 2>&1 9>&- &
  echo $! >"$STATE/$name.pid"
}

# wait_for WHAT PIDNAME CMD...: run CMD until it succeeds, for at most $WAIT
# seconds, failing early when the daemon died.
wait_for() {
  local what=$1 pidname=$2 logf=$3 i
  shift 3
  for ((i = 0; i < WAIT * 4; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if ! pid_alive "$(pid_get "$pidname")" "$pidname"; then
      tail -n 30 "$logf" >&2 || true
      die "$what exited while starting; its log is $logf"
    fi
    sleep 0.25
  done
  tail -n 30 "$logf" >&2 || true
  die "$what did not answer within ${WAIT}s; its log is $logf"
}

# ----------------------------------------------------------- prerequisites

require_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (it installs Debian packages and runs buildkitd with runc)"
}

require_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || die "$t is missing (it should come with the packages above)"
  done
}

# ensure_binfmt: the kernel runs arm64 binaries through qemu-aarch64-static,
# registered with the F flag so that it also works inside containers.
ensure_binfmt() {
  local bm=/proc/sys/fs/binfmt_misc
  if [ ! -e "$bm/register" ]; then
    log "mounting binfmt_misc"
    mount -t binfmt_misc binfmt_misc "$bm" || die "could not mount binfmt_misc on $bm"
  fi
  [ -e "$bm/qemu-aarch64" ] || update-binfmts --enable qemu-aarch64 >&2 || true
  if [ ! -e "$bm/qemu-aarch64" ]; then
    local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -f "$conf" ] || die "qemu-aarch64 is not registered with binfmt_misc and $conf is missing (package qemu-user-static)"
    log "registering $conf"
    cat "$conf" >"$bm/register" || die "could not register qemu-aarch64 with binfmt_misc"
  fi
  grep -qx enabled "$bm/qemu-aarch64" || echo 1 >"$bm/qemu-aarch64"
  grep -q '^flags:.*F' "$bm/qemu-aarch64" ||
    die "qemu-aarch64 is registered without the F flag; arm64 RUN steps would fail in containers (see $bm/qemu-aarch64)"
}

# ---------------------------------------------------------------- BuildKit

build_buildkit() {
  if [ -x "$BK_BIN/buildkitd" ] && [ -x "$BK_BIN/buildctl" ]; then
    return 0
  fi
  require_tools go
  log "building buildkitd and buildctl $BUILDKIT_VERSION into $BK_BIN (minutes, once)"
  local dir src
  dir=$(go_mod_download Dir "github.com/moby/buildkit@$BUILDKIT_VERSION")
  [ -d "${dir:-/nonexistent}" ] ||
    die "go mod download github.com/moby/buildkit@$BUILDKIT_VERSION failed"
  src=$(mktemp -d "${TMPDIR:-/tmp}/slipway-buildkit-src.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the trap must remove this src
  trap "rm -rf '$src'" EXIT
  cp -a "$dir"/. "$src"/
  chmod -R u+w "$src"
  rm -rf "$BK_BIN.tmp"
  mkdir -p "$BK_BIN.tmp"
  local pkg=github.com/moby/buildkit
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$BK_BIN.tmp/" \
    -ldflags "-s -w -X $pkg/version.Version=$BUILDKIT_VERSION -X $pkg/version.Revision=$BUILDKIT_VERSION -X $pkg/version.Package=$pkg" \
    ./cmd/buildkitd ./cmd/buildctl) >&2 || die "building BuildKit $BUILDKIT_VERSION failed"
  rm -rf "$BK_BIN"
  mv "$BK_BIN.tmp" "$BK_BIN"
  rm -rf "$src"
  trap - EXIT
}

# ----------------------------------------------------------- base images

# busybox_debs: Debian's busybox-static for amd64 and arm64 in $BB_DIR,
# downloaded once. The arm64 one comes through a private apt state, so the
# machine's own apt configuration is left as it is.
busybox_debs() {
  BB_DIR=$CACHE/busybox-static
  mkdir -p "$BB_DIR"
  if ! compgen -G "$BB_DIR/busybox-static_*_amd64.deb" >/dev/null; then
    log "downloading busybox-static (amd64)"
    (cd "$BB_DIR" && apt-get -o APT::Sandbox::User=root download -q busybox-static:amd64 >&2) ||
      die "apt-get download busybox-static:amd64 failed"
  fi
  if ! compgen -G "$BB_DIR/busybox-static_*_arm64.deb" >/dev/null; then
    local suite mirror a=$CACHE/apt-arm64
    # shellcheck disable=SC1091 # the machine's own file
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    mirror=$(debian_mirror "$suite") || die "no Debian mirror for the arm64 package"
    log "downloading busybox-static (arm64) from $mirror $suite"
    mkdir -p "$a/state/lists/partial" "$a/cache/archives/partial" "$a/etc/preferences.d"
    : >"$a/state/status"
    echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$a/etc/sources.list"
    local opts=(
      -o Dir::State="$a/state" -o Dir::State::status="$a/state/status"
      -o Dir::Cache="$a/cache" -o Dir::Etc::SourceList="$a/etc/sources.list"
      -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::PreferencesParts="$a/etc/preferences.d"
      -o Dir::Etc::Preferences=/dev/null -o APT::Architecture=arm64 -o APT::Architectures=arm64
      -o Acquire::Languages=none -o APT::Sandbox::User=root
    )
    apt-get "${opts[@]}" update -qq >&2 || die "apt-get update of the private arm64 state in $a failed"
    (cd "$BB_DIR" && apt-get "${opts[@]}" download -q busybox-static:arm64 >&2) ||
      die "apt-get download busybox-static:arm64 failed"
  fi
}

# busybox_rootfs ARCH: $CACHE/busybox-static/rootfs-ARCH, made once from the
# .deb: /bin/busybox, a link for each applet, /etc/passwd and /etc/group with
# root and nobody, /tmp, /www. Running `busybox --list-full` proves the arch
# runs here (for arm64: through qemu and binfmt_misc).
busybox_rootfs() {
  local arch=$1 deb out tmp
  deb=$(compgen -G "$BB_DIR/busybox-static_*_$arch.deb" | tail -n1)
  out=$BB_DIR/rootfs-$arch
  if [ -f "$out.stamp" ] && [ "$(cat "$out.stamp")" = "$(basename "$deb")" ] && [ -x "$out/bin/busybox" ]; then
    "$out/bin/busybox" true || die "$out/bin/busybox does not run ($arch emulation?)"
    return 0
  fi
  tmp=$(mktemp -d "$BB_DIR/tmp.XXXXXX")
  dpkg-deb -x "$deb" "$tmp/deb"
  local r=$tmp/rootfs
  mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/etc" "$r/root" "$r/www" "$r/tmp" "$r/var"
  chmod 1777 "$r/tmp"
  chmod 700 "$r/root"
  cp "$tmp/deb/bin/busybox" "$r/bin/busybox"
  local list
  list=$("$r/bin/busybox" --list-full) || die "the $arch busybox does not run here (binfmt_misc/qemu for arm64?)"
  local p
  while read -r p; do
    if [ -z "$p" ] || [ "$p" = bin/busybox ]; then continue; fi
    mkdir -p "$r/$(dirname "$p")"
    ln -sfn /bin/busybox "$r/$p"
  done <<<"$list"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$r/etc/group"
  rm -rf "$out"
  mv "$r" "$out"
  rm -rf "$tmp"
  basename "$deb" >"$out.stamp"
}

# busybox_tags: latest, MAJOR.MINOR and MAJOR.MINOR.PATCH of the packaged busybox.
busybox_tags() {
  local v
  v=$(dpkg-deb -f "$(compgen -G "$BB_DIR/busybox-static_*_amd64.deb" | tail -n1)" Version)
  v=${v#*:}
  v=${v%%-*}
  echo "latest,${v%.*},$v"
}

build_mkbase() {
  MKBASE=$STATE/bin/mkbase
  mkdir -p "$STATE/bin"
  (cd "$ROOT" && go build -o "$MKBASE" ./hack/testenv/mkbase) >&2 || die "building hack/testenv/mkbase failed"
}

push_base() {
  local registry=$1
  log "pushing $registry/base/busybox (linux/amd64, linux/arm64)"
  "$MKBASE" -registry "$registry" -repo base/busybox -tags "$(busybox_tags)" \
    -amd64 "$BB_DIR/rootfs-amd64" -arm64 "$BB_DIR/rootfs-arm64" >&2 || die "pushing the base image failed"
}

# -------------------------------------------------------------- daemons

start_registry() {
  local port cfg=$STATE/registry.yml attempt
  mkdir -p "$STATE/registry"
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    cat >"$cfg" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    log "starting the registry on 127.0.0.1:$port"
    # The access log (gorilla's combined format) goes to stdout, the rest to stderr.
    setsid /usr/bin/docker-registry serve "$cfg" </dev/null >>"$STATE/registry-access.log" 2>>"$STATE/registry.log" 9>&- &
    echo $! >"$STATE/registry.pid"
    local i
    for ((i = 0; i < WAIT * 4; i++)); do
      [ "$(http_status 127.0.0.1 "$port" /v2/)" = 200 ] && {
        REGISTRY_PORT=$port
        return 0
      }
      pid_alive "$(pid_get registry)" docker-registry || break
      sleep 0.25
    done
    if pid_alive "$(pid_get registry)" docker-registry; then
      tail -n 30 "$STATE/registry.log" >&2 || true
      die "the registry did not answer /v2/ within ${WAIT}s; its log is $STATE/registry.log"
    fi
    grep -q 'address already in use' "$STATE/registry.log" ||
      die "the registry exited; its log is $STATE/registry.log"
    log "port $port was taken (attempt $attempt); trying another"
  done
  die "could not start the registry"
}

# start_buildkitd PORT: buildkitd on a unix socket, and on plain TCP on
# 127.0.0.1 for the tests' containers (what a CI job reaches as a remote
# builder), the registry at PORT over HTTP.
start_buildkitd() {
  local port=$1
  BUILDKIT_TCP_PORT=$(free_port)
  cat >"$STATE/buildkitd.toml" <<EOF
debug = false

# The state outlives the environment ($BK_ROOT): collect garbage only
# beyond 40 GB, keeping 20 GB of cache, or when the disk runs short.
[worker.oci]
  enabled = true
  gc = true
  reservedSpace = "20GB"
  maxUsedSpace = "40GB"
  minFreeSpace = "10%"

[worker.containerd]
  enabled = false

[registry."127.0.0.1:$port"]
  http = true
  insecure = true

[registry."localhost:$port"]
  http = true
  insecure = true
EOF
  mkdir -p "$BK_ROOT"
  log "starting buildkitd on unix://$STATE/buildkitd.sock (state in $BK_ROOT)"
  start buildkitd "$STATE/buildkitd.log" "$BK_BIN/buildkitd" \
    --config "$STATE/buildkitd.toml" \
    --addr "unix://$STATE/buildkitd.sock" \
    --addr "tcp://127.0.0.1:$BUILDKIT_TCP_PORT" \
    --root "$BK_ROOT" \
    --otel-socket-path "$STATE/otel.sock" \
    --oci-worker=true --containerd-worker=false
  wait_for buildkitd buildkitd "$STATE/buildkitd.log" \
    timeout 10 "$BK_BIN/buildctl" --addr "unix://$STATE/buildkitd.sock" debug workers
  local workers
  workers=$(timeout 10 "$BK_BIN/buildctl" --addr "unix://$STATE/buildkitd.sock" debug workers -v 2>&1) || true
  grep -q 'linux/arm64' <<<"$workers" ||
    die "buildkitd does not list linux/arm64 among its platforms (qemu/binfmt_misc?):"$'\n'"$workers"
}

# ---------------------------------------------------------- docker (part 2)

# start_dockerd PORT: Debian's dockerd on a unix socket under the state dir,
# running containers through hack/testenv/runc-nosysresource (this machine
# has no CAP_SYS_RESOURCE to give, which --privileged asks for).
start_dockerd() {
  local port=$1
  ensure_packages "${DOCKER_PACKAGES[@]}"
  require_tools dockerd docker
  mkdir -p "$STATE/docker" "$STATE/docker-exec"
  cat >"$STATE/daemon.json" <<EOF
{
  "runtimes": { "slipway-runc": { "path": "$ROOT/hack/testenv/runc-nosysresource" } },
  "default-runtime": "slipway-runc",
  "insecure-registries": ["127.0.0.1:$port", "localhost:$port"]
}
EOF
  log "starting dockerd on unix://$STATE/docker.sock"
  start dockerd "$STATE/dockerd.log" dockerd \
    --config-file "$STATE/daemon.json" \
    --host "unix://$STATE/docker.sock" \
    --data-root "$STATE/docker" \
    --exec-root "$STATE/docker-exec" \
    --pidfile "$STATE/dockerd.pidfile" \
    --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
    --storage-driver=overlay2 \
    --containerd-namespace slipway-testenv --containerd-plugins-namespace slipway-testenv-plugins
  wait_for dockerd dockerd "$STATE/dockerd.log" \
    timeout 10 docker -H "unix://$STATE/docker.sock" version
}

# buildkit_image REGISTRY: the image REGISTRY/moby/buildkit:VERSION, made from
# the buildkitd and buildctl built here, Debian's runc with its libraries,
# and busybox; pulled into the dockerd and run --privileged once to prove it.
buildkit_image() {
  local registry=$1 r=$STATE/buildkit-image-rootfs lib
  rm -rf "$r"
  cp -a "$BB_DIR/rootfs-amd64" "$r"
  mkdir -p "$r/usr/bin" "$r/var/lib/buildkit" "$r/run"
  cp "$BK_BIN/buildkitd" "$BK_BIN/buildctl" "$r/usr/bin/"
  local runc
  runc=$(command -v runc)
  cp "$runc" "$r/usr/bin/runc"
  # runc's shared libraries (libseccomp, libc, the loader), at their paths.
  while read -r lib; do
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
  done < <(ldd "$runc" | grep -o '/[^ ]*' | sort -u)
  BUILDKIT_IMAGE=$registry/moby/buildkit:$BUILDKIT_VERSION
  log "pushing $BUILDKIT_IMAGE (linux/amd64)"
  "$MKBASE" -registry "$registry" -repo moby/buildkit -tags "$BUILDKIT_VERSION" \
    -cmd buildkitd -amd64 "$r" >&2 || die "pushing the BuildKit image failed"
  rm -rf "$r"
  local d=(docker -H "unix://$STATE/docker.sock")
  "${d[@]}" pull -q "$BUILDKIT_IMAGE" >&2 || die "docker pull $BUILDKIT_IMAGE failed; see $STATE/dockerd.log"
  local out
  out=$("${d[@]}" run --rm --privileged "$BUILDKIT_IMAGE" buildkitd --version 2>&1) ||
    die "a privileged container does not run in the test dockerd:"$'\n'"$out"
  log "privileged container: $out"
}

# runner_image REGISTRY: the job image of the CI runner emulators (act's
# ubuntu-latest, gitlab-ci-local's helper image), Debian with bash, git and
# rsync (hack/bases.sh runner), pulled into the dockerd.
runner_image() {
  RUNNER_IMAGE=$("$ROOT/hack/bases.sh" runner "$1") || die "assembling the runner image failed"
  log "pulling $RUNNER_IMAGE"
  docker -H "unix://$STATE/docker.sock" pull -q "$RUNNER_IMAGE" >&2 || die "docker pull $RUNNER_IMAGE failed; see $STATE/dockerd.log"
}

# ------------------------------------------------------------ commands

# healthy: everything that `up` started answers.
healthy() {
  [ -f "$ENV_FILE" ] || return 1
  local port
  port=$(env_get SLIPWAY_TEST_REGISTRY)
  port=${port##*:}
  pid_alive "$(env_get SLIPWAY_TEST_REGISTRY_PID)" docker-registry || return 1
  pid_alive "$(env_get SLIPWAY_TEST_BUILDKITD_PID)" buildkitd || return 1
  [ "$(http_status 127.0.0.1 "$port" /v2/)" = 200 ] || return 1
  timeout 10 "$(env_get SLIPWAY_TEST_BUILDCTL)" --addr "$(env_get BUILDKIT_HOST)" debug workers >/dev/null 2>&1 || return 1
  if [ "$WANT_DOCKER" = 1 ]; then
    pid_alive "$(env_get SLIPWAY_TEST_DOCKERD_PID)" dockerd || return 1
    timeout 10 docker -H "$(env_get SLIPWAY_TEST_DOCKER_HOST)" version >/dev/null 2>&1 || return 1
  fi
}

cmd_up() {
  require_root
  lock
  if healthy; then
    log "already up"
    cat "$ENV_FILE"
    return 0
  fi
  [ -d "$STATE" ] && stop_all
  local t0=$SECONDS

  if [ "$WANT_DOCKER" = 1 ]; then
    ensure_packages "${PACKAGES[@]}" "${DOCKER_PACKAGES[@]}"
  else
    ensure_packages "${PACKAGES[@]}"
  fi
  require_tools runc dpkg-deb apt-get update-binfmts qemu-aarch64-static setsid timeout go
  [ -x /usr/bin/docker-registry ] || die "/usr/bin/docker-registry is missing (package docker-registry)"
  ensure_binfmt
  build_buildkit
  busybox_debs
  busybox_rootfs amd64
  busybox_rootfs arm64
  [ "$("$BB_DIR/rootfs-arm64/bin/busybox" uname -m)" = aarch64 ] ||
    die "the arm64 busybox does not run as aarch64 here (qemu-user-static/binfmt_misc)"

  mkdir -p "$STATE"
  build_mkbase
  start_registry
  local registry=127.0.0.1:$REGISTRY_PORT
  start_buildkitd "$REGISTRY_PORT"
  push_base "$registry"

  local docker_host="" dockerd_pid=""
  BUILDKIT_IMAGE="" RUNNER_IMAGE=""
  if [ "$WANT_DOCKER" = 1 ]; then
    start_dockerd "$REGISTRY_PORT"
    buildkit_image "$registry"
    runner_image "$registry"
    docker_host=unix://$STATE/docker.sock
    dockerd_pid=$(pid_get dockerd)
  fi

  cat >"$ENV_FILE.tmp" <<EOF
BUILDKIT_HOST=unix://$STATE/buildkitd.sock
SLIPWAY_TEST_REGISTRY=$registry
SLIPWAY_TEST_BASE_IMAGE=$registry/base/busybox:latest
SLIPWAY_TEST_BUILDCTL=$BK_BIN/buildctl
SLIPWAY_TEST_BUILDKITD=$BK_BIN/buildkitd
SLIPWAY_TEST_STATE=$STATE
SLIPWAY_TEST_REGISTRY_LOG=$STATE/registry-access.log
SLIPWAY_TEST_REGISTRY_PID=$(pid_get registry)
SLIPWAY_TEST_BUILDKITD_PID=$(pid_get buildkitd)
SLIPWAY_TEST_DOCKER_HOST=$docker_host
SLIPWAY_TEST_DOCKERD_PID=$dockerd_pid
SLIPWAY_TEST_BUILDKIT_IMAGE=$BUILDKIT_IMAGE
SLIPWAY_TEST_BUILDKIT_TCP=tcp://127.0.0.1:$BUILDKIT_TCP_PORT
SLIPWAY_TEST_RUNNER_IMAGE=$RUNNER_IMAGE
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "up in $((SECONDS - t0))s"
  cat "$ENV_FILE"
}

# stop NAME MATCH: stop the daemon whose PID is in $STATE/NAME.pid: TERM,
# then KILL after 20 s.
stop() {
  local name=$1 match=$2 pid i
  pid=$(pid_get "$name")
  pid_alive "$pid" "$match" || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 80; i++)); do
    pid_alive "$pid" "$match" || return 0
    sleep 0.25
  done
  log "$name (pid $pid) did not stop; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    pid_alive "$pid" "$match" || return 0
    sleep 0.25
  done
  die "$name (pid $pid) does not die"
}

# stop_all: stop the daemons, undo the mounts they left under the state dir
# (theirs, never another's), remove the state dir.
stop_all() {
  stop dockerd dockerd
  stop buildkitd buildkitd
  stop registry docker-registry
  unmount_under "$STATE"
  # buildkitd's state stays (BK_ROOT), without the mounts of a build it was
  # stopped in.
  unmount_under "$BK_ROOT"
  rm -rf --one-file-system "$STATE"
}

# unmount_under DIR: undo every mount below DIR, deepest first; fail when
# one stays.
unmount_under() {
  local dir=${1%/}/ m
  # /proc/self/mountinfo escapes spaces as \040: our paths have none.
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(awk -v s="$dir" '{ if (index($5, s) == 1) print $5 }' /proc/self/mountinfo | sort -r)
  if awk -v s="$dir" '{ if (index($5, s) == 1) f = 1 } END { exit !f }' /proc/self/mountinfo; then
    die "mounts are left under $dir; not removing $STATE"
  fi
}

cmd_down() {
  lock
  if [ ! -d "$STATE" ]; then
    log "not up"
    return 0
  fi
  stop_all
  log "down"
}

cmd_env() {
  [ -f "$ENV_FILE" ] || die "not up: run hack/testenv.sh up"
  cat "$ENV_FILE"
}

cmd_status() {
  if [ ! -f "$ENV_FILE" ]; then
    echo "down${STATE:+ (no $ENV_FILE)}"
    [ -d "$STATE" ] && echo "a partial state dir is left at $STATE: hack/testenv.sh down removes it"
    return 3
  fi
  local ok=0 port pid
  port=$(env_get SLIPWAY_TEST_REGISTRY)
  pid=$(env_get SLIPWAY_TEST_REGISTRY_PID)
  if pid_alive "$pid" docker-registry && [ "$(http_status 127.0.0.1 "${port##*:}" /v2/)" = 200 ]; then
    echo "registry:  running, pid $pid, http://$port"
  else
    echo "registry:  NOT running (pid $pid, $port)"
    ok=1
  fi
  pid=$(env_get SLIPWAY_TEST_BUILDKITD_PID)
  if pid_alive "$pid" buildkitd &&
    timeout 10 "$(env_get SLIPWAY_TEST_BUILDCTL)" --addr "$(env_get BUILDKIT_HOST)" debug workers >/dev/null 2>&1; then
    echo "buildkitd: running, pid $pid, $(env_get BUILDKIT_HOST)"
  else
    echo "buildkitd: NOT running (pid $pid)"
    ok=1
  fi
  pid=$(env_get SLIPWAY_TEST_DOCKERD_PID)
  if [ -z "$pid" ]; then
    echo "dockerd:   not started (SLIPWAY_TEST_DOCKER=0)"
  elif pid_alive "$pid" dockerd; then
    echo "dockerd:   running, pid $pid, $(env_get SLIPWAY_TEST_DOCKER_HOST)"
  else
    echo "dockerd:   NOT running (pid $pid)"
    ok=1
  fi
  echo "base image: $(env_get SLIPWAY_TEST_BASE_IMAGE)"
  return $ok
}

# lock: one `up` or `down` at a time.
lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  flock -w 1800 9 || die "another hack/testenv.sh holds $LOCK_FILE"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
status) cmd_status ;;
*)
  echo "usage: $0 up|down|env|status" >&2
  exit 2
  ;;
esac
