# slipway's build. Trivy (linked from the scan stage on) needs
# GOEXPERIMENT=jsonv2 for every build, test and lint: it is exported here.
export GOEXPERIMENT := jsonv2
export CGO_ENABLED ?= 0

GO            ?= go
BIN           ?= bin/slipway
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT        ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS       := -s -w -X github.com/slipway-ci/slipway/internal/version.Version=$(VERSION) \
                 -X github.com/slipway-ci/slipway/internal/version.Commit=$(COMMIT)
# Tools and daemons the tests build live outside the repository.
SLIPWAY_CACHE ?= $(HOME)/.cache/slipway
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(SLIPWAY_CACHE)/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)
FUZZTIME      ?= 20s

# The platforms of `make image`, and of the image `make test` builds.
PLATFORMS     ?= linux/amd64,linux/arm64
TEST_IMAGE_PLATFORMS ?= linux/amd64

.PHONY: all build test lint fuzz demo image testdeps testenv-up testenv-down clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/slipway

## test: every test, with what the tests need installed and started first
## (pinned npm fixtures and tools; buildkitd, a registry, dockerd and base
## images; the slipway image, built by slipway for TEST_IMAGE_PLATFORMS),
## stopped again by PID whatever the tests' outcome, unless they were
## already running
test: testdeps lint build
	@running=; hack/testenv.sh status >/dev/null 2>&1 && running=1; \
	hack/testenv.sh up || exit 1; \
	PLATFORMS='$(TEST_IMAGE_PLATFORMS)' hack/image.sh >&2 && \
	$(GO) test -count=1 -timeout 60m ./... ; rc=$$?; \
	[ -n "$$running" ] || hack/testenv.sh down; exit $$rc

testdeps:
	hack/testdeps.sh

testenv-up:
	hack/testenv.sh up

testenv-down:
	hack/testenv.sh down

$(GOLANGCI_LINT):
	mkdir -p $(dir $@)
	GOBIN=$(SLIPWAY_CACHE)/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(SLIPWAY_CACHE)/bin/golangci-lint $@

## lint: go.mod and go.sum as go mod tidy leaves them (the module and the
## test tools' own, hack/tools/cimage), then golangci-lint
lint: $(GOLANGCI_LINT)
	$(GO) mod tidy -diff
	cd hack/tools/cimage && $(GO) mod tidy -diff
	$(GOLANGCI_LINT) run ./...

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParseTagRule -fuzztime=$(FUZZTIME) ./internal/meta/
	$(GO) test -run='^$$' -fuzz=FuzzTemplate -fuzztime=$(FUZZTIME) ./internal/meta/
	$(GO) test -run='^$$' -fuzz=FuzzSplit -fuzztime=$(FUZZTIME) ./internal/csvlist/
	$(GO) test -run='^$$' -fuzz=FuzzParseCacheEntry -fuzztime=$(FUZZTIME) ./internal/config/
	$(GO) test -run='^$$' -fuzz=FuzzParseAttrs -fuzztime=$(FUZZTIME) ./internal/config/
	$(GO) test -run='^$$' -fuzz=FuzzRedactAttrs -fuzztime=$(FUZZTIME) ./internal/config/
	$(GO) test -run='^$$' -fuzz=FuzzParseSecret -fuzztime=$(FUZZTIME) ./internal/config/
	$(GO) test -run='^$$' -fuzz=FuzzRegistryLogin -fuzztime=$(FUZZTIME) ./internal/config/
	$(GO) test -run='^$$' -fuzz=FuzzBuilder -fuzztime=$(FUZZTIME) ./internal/config/
	$(GO) test -run='^$$' -fuzz=FuzzLoadConfigFile -fuzztime=$(FUZZTIME) ./internal/config/

## demo: the main job, end to end, on the example app
demo: build
	hack/demo.sh

## image: slipway builds, scans, signs and pushes its own image (Dockerfile)
## on the test environment, for PLATFORMS; the last line of stdout is the
## pinned reference. The test environment is left running.
image: build
	PLATFORMS='$(PLATFORMS)' hack/image.sh

clean:
	rm -rf bin out .slipway
