# The slipway image: slipway, BuildKit's buildkitd and buildctl (for the
# embedded builder), runc and git on Debian slim. The action on main builds
# it (action.yml: image: Dockerfile); a release publishes it and pins it by
# digest. Build it with BuildKit (docker buildx build, or slipway itself):
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --tags) --build-arg COMMIT=$(git rev-parse HEAD) .

# GO_VERSION is the Go toolchain of the build stages.
ARG GO_VERSION=1.26
# DEBIAN_RELEASE is the Debian release of every stage.
ARG DEBIAN_RELEASE=trixie
# BUILDKIT_VERSION is the release of buildkitd and buildctl in the image.
ARG BUILDKIT_VERSION=v0.34.2

# slipway builds slipway, static, cross-compiled on the build platform.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS slipway
WORKDIR /src
RUN --mount=type=bind,source=go.mod,target=go.mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=cache,target=/go/pkg/mod \
    go mod download
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=
RUN --mount=type=bind,target=. \
    --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOEXPERIMENT=jsonv2 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -o /out/slipway \
      -ldflags="-s -w -X github.com/slipway-ci/slipway/internal/version.Version=${VERSION} -X github.com/slipway-ci/slipway/internal/version.Commit=${COMMIT}" \
      ./cmd/slipway

# buildkit builds buildkitd and buildctl from the github.com/moby/buildkit module.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS buildkit
ARG BUILDKIT_VERSION
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# `go install module@version` refuses a module whose go.mod has exclude
# directives: the module is downloaded, copied and built in place.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build <<'EOT'
set -eu
go mod download "github.com/moby/buildkit@${BUILDKIT_VERSION}"
cp -a "$(go env GOMODCACHE)/github.com/moby/buildkit@${BUILDKIT_VERSION}" /src/buildkit
chmod -R u+w /src/buildkit
cd /src/buildkit
pkg=github.com/moby/buildkit
CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOFLAGS=-mod=mod go build -trimpath -o /out/ \
  -ldflags="-s -w -X $pkg/version.Version=${BUILDKIT_VERSION} -X $pkg/version.Revision=${BUILDKIT_VERSION} -X $pkg/version.Package=$pkg" \
  ./cmd/buildkitd ./cmd/buildctl
rm -rf /src/buildkit
EOT

# The image: Debian slim, runc for the embedded buildkitd, git for the
# commit's context, ca-certificates for registries and APIs.
FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git runc \
 && rm -rf /var/lib/apt/lists/*
COPY --from=buildkit /out/buildkitd /out/buildctl /usr/local/bin/
COPY --from=slipway /out/slipway /usr/local/bin/slipway
# Root: the embedded buildkitd (no BUILDKIT_HOST, no Docker Engine) needs it,
# and GitHub runs container actions as root.
USER root
# slipway itself, no shell in between: GitHub passes a container action's
# inputs as INPUT_<NAME> with the hyphens of the name kept
# (INPUT_BUILD-ARGS), which a POSIX sh (Debian's dash) drops from the
# environment of what it runs.
ENTRYPOINT ["/usr/local/bin/slipway"]
CMD ["run"]
