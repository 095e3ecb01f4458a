// Package build is slipway's build stage: it drives a real BuildKit daemon
// through its Go client with the built-in Dockerfile frontend
// (dockerfile.v0), pushes the result by digest only (tags move later, after
// scan and sign) and always keeps an OCI layout of it under the output
// directory, so later stages never pull it back.
//
// Connect chooses the builder: the builder input or BUILDKIT_HOST, else a
// BuildKit container started through a Docker Engine, else an embedded
// buildkitd child process, else an error naming these ways.
package build
