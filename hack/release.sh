#!/usr/bin/env bash
# hack/release.sh TAG IMAGE: the release commit of slipway's action, made by
# .github/workflows/release.yml once slipway has built, scanned, signed and
# pushed the image of the tag TAG (vMAJOR.MINOR.PATCH[-PRERELEASE]) as
# IMAGE (repository@sha256:<digest>).
#
# On top of the checked-out tag it commits action.yml with its runs.image
# changed, and nothing else, to docker://IMAGE; moves TAG to that commit
# and, for a release that is no pre-release, the major tag vMAJOR too; and
# pushes both tags to origin. Jobs that `uses: slipway-ci/slipway@vMAJOR`
# then pull the image the release scanned and signed, by digest, and build
# nothing. Run again with the same IMAGE, it makes no second commit.
#
# Exit codes: 0 done, 1 a git step failed, 2 bad arguments or checkout.
set -euo pipefail

die() {
  echo "release: error: $*" >&2
  exit "${2:-1}"
}

[ $# -eq 2 ] || die "usage: $0 TAG IMAGE (e.g. v1.2.3 ghcr.io/slipway-ci/slipway@sha256:…)" 2
tag=$1 image=$2
[[ $tag =~ ^v([0-9]+)\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  die "TAG $tag: want vMAJOR.MINOR.PATCH, optionally -PRERELEASE" 2
major=v${BASH_REMATCH[1]}
prerelease=${BASH_REMATCH[2]}
[[ $image =~ ^[a-z0-9]([a-z0-9._:-]*[a-z0-9])?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)+@sha256:[0-9a-f]{64}$ ]] ||
  die "IMAGE $image: want repository@sha256:<64 hex digits>, the image by digest" 2

cd "$(git rev-parse --show-toplevel)"
[ -f action.yml ] || die "no action.yml at the top of the checkout" 2

# pin FILE IMAGE: FILE with runs.image (the one image: key under runs:) set
# to docker://IMAGE, every other byte kept; fails unless exactly one line
# changed.
pin() {
  awk -v img="docker://$2" '
    /^runs:[[:space:]]*(#.*)?$/ { inruns = 1; print; next }
    inruns && /^[^[:space:]#]/ { inruns = 0 }
    inruns && /^[[:space:]]+image:/ {
      match($0, /^[[:space:]]+image:/)
      print substr($0, 1, RLENGTH) " " img
      n++
      next
    }
    { print }
    END { if (n != 1) exit 3 }
  ' "$1"
}

git_id=(-c "user.name=github-actions[bot]" -c "user.email=41898282+github-actions[bot]@users.noreply.github.com")
pinned=$(pin action.yml "$image") || die "action.yml has no single runs.image to pin" 2
if [ "$pinned" != "$(cat action.yml)" ]; then
  # The checkout is the tag: the release commit goes on top of it.
  [ "$(git rev-parse HEAD)" = "$(git rev-parse "refs/tags/$tag^{commit}" 2>/dev/null)" ] ||
    die "HEAD is not the tag $tag: check out the tag first" 2
  git diff --quiet HEAD -- action.yml || die "action.yml has uncommitted changes" 2
  printf '%s\n' "$pinned" >action.yml
  git add action.yml
  git "${git_id[@]}" commit -q -m "Release $tag: the action runs docker://$image" \
    -m "Made by hack/release.sh: runs.image pinned to the image slipway built, scanned and signed for $tag."
  echo "release: committed action.yml pinned to docker://$image" >&2
else
  echo "release: action.yml already pins docker://$image" >&2
fi

commit=$(git rev-parse HEAD)
git "${git_id[@]}" tag -f -a "$tag" -m "slipway $tag" -m "Image: $image" "$commit" >/dev/null
refs=("refs/tags/$tag")
if [ -z "$prerelease" ]; then
  git tag -f "$major" "$commit" >/dev/null
  refs+=("refs/tags/$major")
fi
git push -q --force origin "${refs[@]}"
echo "release: ${refs[*]#refs/tags/} -> $commit (docker://$image)" >&2
echo "$commit"
