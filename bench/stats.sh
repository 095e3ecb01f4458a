# shellcheck shell=bash
# Sourced by the benchmark scripts: small statistics over runs.

# med: the median of the numbers on standard input, one per line.
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

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
