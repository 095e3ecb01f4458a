// Package ship holds the tests of what ships slipway into each CI, beside
// the Go code: action.yml, the Dockerfile, the GitLab template and the
// examples, checked with the real validators hack/testdeps.sh installs
// (action-validator, actionlint) and with BuildKit's Dockerfile checks on
// the test environment's buildkitd. It has no code of its own.
package ship
