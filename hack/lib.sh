# shellcheck shell=bash
# Shell functions shared by hack/ and bench/ scripts; source it. The
# sourcing script defines log and die.

# debian_mirror SUITE: the Debian archive this machine's apt uses for
# SUITE (one-line and deb822 sources), or $SLIPWAY_DEBIAN_MIRROR. Fails
# when there is none: the scripts fetch only from the mirror apt uses.
debian_mirror() {
  if [ -n "${SLIPWAY_DEBIAN_MIRROR:-}" ]; then
    echo "$SLIPWAY_DEBIAN_MIRROR"
    return
  fi
  local suite=$1 m
  m=$(
    {
      # one-line style: deb [options] URI SUITE COMPONENTS
      cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -e 's/\[[^]]*\]//' |
        awk -v s="$suite" '$1 == "deb" && $3 == s { print $2 }'
      # deb822 style
      for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '
          function flush() { if (deb && hit && uri != "") print uri; deb = hit = 0; uri = "" }
          /^[[:space:]]*$/ { flush(); next }
          tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
          tolower($1) == "uris:" { uri = $2 }
          tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
          END { flush() }' "$f"
      done
    } | head -n1
  )
  if [ -z "$m" ]; then
    echo "no Debian mirror for $suite in /etc/apt/sources.list*: set SLIPWAY_DEBIAN_MIRROR" >&2
    return 1
  fi
  echo "$m"
}

# go_mod_download FIELD MODULE@VERSION: download a module through the Go
# module proxy (checked against the checksum database) and print FIELD of
# go mod download -json: Dir (the extracted tree) or Zip.
go_mod_download() {
  go mod download -json "$2" | sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p"
}

# ensure_packages PKG...: install, with apt-get, the Debian packages that
# are missing (as root).
APT_UPDATED=
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them (Debian 12 expected)"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "could not install ${missing[*]}"
}
