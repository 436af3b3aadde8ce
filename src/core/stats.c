/* stats.c — Diebold-Mariano, McNemar and the moving-block bootstrap (stats.h). libm only. */
#include "obi/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double stats_normal_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

int stats_diebold_mariano(const double *la, const double *lb, size_t n, int lags, stats_dm *out) {
  memset(out, 0, sizeof *out);
  out->lags = lags;
  if (n < 2) return -1;
  double mean = 0;
  for (size_t t = 0; t < n; t++) mean += la[t] - lb[t];
  mean /= (double)n;
  /* gamma_k = (1/n) sum (d_t - mean)(d_{t-k} - mean); V = gamma_0 + 2 sum_k (1 - k/(L+1)) gamma_k */
  double v = 0;
  for (int k = 0; k <= lags && (size_t)k < n; k++) {
    double g = 0;
    for (size_t t = (size_t)k; t < n; t++) g += (la[t] - lb[t] - mean) * (la[t - k] - lb[t - k] - mean);
    g /= (double)n;
    v += k == 0 ? g : 2.0 * (1.0 - (double)k / (lags + 1)) * g;
  }
  out->mean_diff = mean;
  if (!(v > 0)) return -1;
  out->statistic = mean / sqrt(v / (double)n);
  out->p_value = 2.0 * (1.0 - stats_normal_cdf(fabs(out->statistic)));
  return 0;
}

void stats_mcnemar_test(const uint8_t *ca, const uint8_t *cb, size_t n, stats_mcnemar *out) {
  memset(out, 0, sizeof *out);
  for (size_t t = 0; t < n; t++) {
    out->a_only += ca[t] && !cb[t];
    out->b_only += !ca[t] && cb[t];
  }
  double b = (double)out->a_only, c = (double)out->b_only;
  if (b + c == 0) {
    out->p_value = 1;
    return;
  }
  double d = fabs(b - c) - 1;
  if (d < 0) d = 0;
  out->statistic = d * d / (b + c);
  out->p_value = erfc(sqrt(out->statistic / 2)); /* chi-squared(1) tail: P(Z^2 > x) */
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int stats_block_bootstrap(size_t n, size_t block, int resamples, double level, uint64_t seed, stats_fn fn, void *ctx,
                          double *lo, double *hi) {
  if (n == 0 || resamples < 2) return -1;
  if (block < 1) block = 1;
  if (block > n) block = n;
  size_t *idx = malloc(n * sizeof *idx);
  double *vals = malloc((size_t)resamples * sizeof *vals);
  if (!idx || !vals) {
    free(idx);
    free(vals);
    return -1;
  }
  uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (int r = 0; r < resamples; r++) {
    for (size_t filled = 0; filled < n;) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      size_t start = (size_t)(s % n);
      for (size_t k = 0; k < block && filled < n; k++) idx[filled++] = (start + k) % n;
    }
    vals[r] = fn(idx, n, ctx);
  }
  qsort(vals, (size_t)resamples, sizeof *vals, cmp_double);
  double a = (1 - level) / 2;
  *lo = vals[(size_t)(a * (resamples - 1))];
  *hi = vals[(size_t)((1 - a) * (resamples - 1))];
  free(idx);
  free(vals);
  return 0;
}
