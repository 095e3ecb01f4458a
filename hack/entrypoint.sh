#!/bin/sh
# Entry point of the slipway image: trust the checkout, then run slipway
# with the container's arguments (default: run).
#
# The checkout is usually owned by another user than the container's root
# (GitHub mounts the runner's workspace at /github/workspace; a Jenkins or
# GitLab workspace may come from another uid), and git then refuses to read
# it ("dubious ownership"), which slipway needs for the commit's context.
# Only the checkout's own directories are trusted, not every repository.
set -eu
for dir in /github/workspace "${GITHUB_WORKSPACE:-}" "${CI_PROJECT_DIR:-}" "${WORKSPACE:-}" "$PWD"; do
  [ -n "$dir" ] || continue
  # Once per directory, in the global config (HOME, /github/home on GitHub).
  if ! git config --global --get-all safe.directory 2>/dev/null | grep -qxF -- "$dir"; then
    git config --global --add safe.directory "$dir" ||
      echo "slipway-entrypoint: warning: could not mark $dir as a safe git directory" >&2
  fi
done
exec slipway "$@"
