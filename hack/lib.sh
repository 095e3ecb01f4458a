# shellcheck shell=bash
# Shell functions shared by hack/ and bench/ scripts; source it.

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
