/* bench_common.h — what the benchmarks share, included once per benchmark program:
 * a count of every allocation of the process (malloc, calloc and realloc interposed over
 * glibc's), a monotonic clock, and a text file (plain or zstd) read whole into memory. */
#ifndef OBI_BENCH_COMMON_H
#define OBI_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obi/textin.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static unsigned long long allocations;
void *malloc(size_t n) {
  allocations++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  allocations++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  allocations++;
  return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }

static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of 5 timed runs of fn (each run repeats fn for at least min_seconds): events per
 * second, fn returning the events of one pass. *passes (may be NULL) counts the passes. */
static inline double bench_median_rate(uint64_t (*fn)(void), double min_seconds, uint64_t *passes) {
  double rates[5];
  for (int k = 0; k < 5; k++) {
    uint64_t n = 0;
    double t0 = now(), t;
    do {
      n += fn();
      if (passes) (*passes)++;
    } while ((t = now() - t0) < min_seconds);
    rates[k] = (double)n / t;
  }
  qsort(rates, 5, sizeof rates[0], cmp_double);
  return rates[2];
}

/* The lines of a file, each ending in '\n', in one buffer (owned by the caller). */
static inline char *slurp_text(const char *path, size_t *len) {
  obi_textin *t;
  if (obi_textin_open(&t, path)) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  size_t cap = 1 << 20, n = 0;
  char *buf = malloc(cap);
  const char *line;
  size_t l;
  while (obi_textin_line(t, &line, &l) == OBI_OK) {
    while (n + l + 1 > cap) buf = realloc(buf, cap *= 2);
    memcpy(buf + n, line, l);
    n += l;
    buf[n++] = '\n';
  }
  obi_textin_close(t);
  *len = n;
  return buf;
}

#endif
