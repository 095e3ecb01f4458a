#!/bin/sh
# gen.sh UNITS FUNCS: writes UNITS C files (unit0.c ...) and main.c into
# the current directory (one awk process). Each unit has FUNCS functions
# of loops, switches and 64-bit arithmetic that gcc -O2 spends its time on
# (inlining, unrolling, vectorising); main sums them all, so nothing is
# dead code.
set -eu
awk -v units="${1:-16}" -v funcs="${2:-40}" 'BEGIN {
  for (i = 0; i < units; i++) {
    f = "unit" i ".c"
    print "#include <stdint.h>" > f
    for (j = 0; j < funcs; j++) {
      m = "mix_" i "_" j
      printf "static uint64_t %s(uint64_t x, uint64_t k) {\n", m > f
      printf "  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL + k; x ^= x >> 33;\n" > f
      printf "  x *= 0xc4ceb9fe1a85ec53ULL ^ (k << %d); x ^= x >> 29;\n  return x;\n}\n", j % 13 > f
      printf "uint64_t f_%d_%d(const uint32_t *in, int n) {\n", i, j > f
      printf "  uint64_t acc[8] = {0};\n  double d = %d.5;\n", j > f
      printf "  for (int r = 0; r < n; r++) {\n    for (int q = 0; q < 64; q++) {\n" > f
      printf "      uint32_t v = in[(r * 64 + q) & 1023];\n" > f
      printf "      switch ((v + q + %d) & 7) {\n", j > f
      printf "      case 0: acc[q & 7] += %s(v, q); break;\n", m > f
      printf "      case 1: acc[(q + 1) & 7] ^= (uint64_t)v * %d; break;\n", j + 3 > f
      printf "      case 2: d += (double)v / (q + 1.0); break;\n" > f
      printf "      case 3: acc[(q + 2) & 7] -= v >> %d; break;\n", j % 7 + 1 > f
      printf "      case 4: acc[(q + 3) & 7] += (v * v) %% %d; break;\n", j + 17 > f
      printf "      case 5: acc[(q + 4) & 7] = %s(acc[(q + 4) & 7], v); break;\n", m > f
      printf "      default: acc[(q + 5) & 7] += (uint64_t)(d * 3.0) ^ v; break;\n" > f
      printf "      }\n    }\n  }\n  uint64_t s = (uint64_t)d;\n" > f
      printf "  for (int q = 0; q < 8; q++) s = %s(s + acc[q], q);\n  return s;\n}\n", m > f
    }
    printf "uint64_t unit_%d(const uint32_t *in, int n) {\n  uint64_t s = 0;\n", i > f
    for (j = 0; j < funcs; j++) printf "  s += f_%d_%d(in, n);\n", i, j > f
    print "  return s;\n}" > f
    close(f)
  }
  f = "main.c"
  print "#include <stdint.h>\n#include <stdio.h>" > f
  for (i = 0; i < units; i++) printf "uint64_t unit_%d(const uint32_t *in, int n);\n", i > f
  print "int main(void) {\n  static uint32_t in[1024];" > f
  print "  for (int k = 0; k < 1024; k++) in[k] = (uint32_t)(k * 2654435761u);\n  uint64_t s = 0;" > f
  for (i = 0; i < units; i++) printf "  s += unit_%d(in, 1);\n", i > f
  print "  printf(\"%llu\\n\", (unsigned long long)s);\n  return 0;\n}" > f
  close(f)
}'
