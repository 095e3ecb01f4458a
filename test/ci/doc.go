// Package ci tests what users receive: the slipway image that `make
// image` built with slipway itself, pinned by digest as a release pins it,
// run as each CI runs it, on the test environment's dockerd:
//
//   - GitHub Actions: act (pinned in hack/testdeps.sh) runs the release
//     workflow (.github/workflows/release.yml), then the example workflow
//     against the action file the release produced, on push and on
//     pull_request events;
//   - GitLab CI: gitlab-ci-local runs the template's job in the image with
//     its Docker executor;
//   - Jenkins: the docker-workflow plugin's `docker run`/`docker exec` of
//     the example's docker agent.
//
// The tests fail, never skip, when the environment, the image or a tool is
// missing: `make test` builds and starts all of them first.
package ci
