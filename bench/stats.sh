# shellcheck shell=bash
# Sourced by the benchmark scripts: small statistics over runs.

# med: the median of the numbers on standard input, one per line.
med() { sort -n | awk '{ v[NR] = $1 } END { printf "%.15g\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# spread: "median min max" of the numbers on standard input, one per
# line; "- - -" when there are none.
spread() {
  sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "- - -"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.15g %s %s\n", m, v[1], v[NR] }'
}

# wall N CMD...: the median wall time in ms of N runs of CMD (its output
# discarded).
wall() {
  local n=$1 i t0
  shift
  for ((i = 0; i < n; i++)); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    echo $((($(date +%s%N) - t0) / 1000000))
  done | med
}
