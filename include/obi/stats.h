/* stats.h — significance tests and resampling for comparing forecasts honestly.
 *
 * Forecast losses of neighbouring rows are correlated (their labels overlap when the horizon
 * spans several rows), so the tests here account for it: the Diebold-Mariano statistic uses a
 * Newey-West long-run variance, and confidence intervals come from a moving-block bootstrap. */
#ifndef OBI_STATS_H
#define OBI_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Standard normal CDF. */
double stats_normal_cdf(double x);

typedef struct {
  double statistic; /* DM, asymptotically N(0, 1) under equal accuracy */
  double p_value;   /* two-sided */
  double mean_diff; /* mean of loss_a - loss_b: negative when a is better */
  int lags;
} stats_dm;

/* Diebold and Mariano (1995): d_t = loss_a[t] - loss_b[t]; DM = mean(d) / sqrt(V / n), V the
 * Newey-West (1987) long-run variance of d with Bartlett weights up to `lags` (use the horizon
 * minus one for overlapping labels). Returns 0, or -1 when n < 2 or V <= 0. */
int stats_diebold_mariano(const double *loss_a, const double *loss_b, size_t n, int lags, stats_dm *out);

typedef struct {
  int64_t a_only, b_only; /* rows only a got right, only b got right */
  double statistic;       /* (|b - c| - 1)^2 / (b + c), chi-squared with 1 degree of freedom */
  double p_value;
} stats_mcnemar;

/* McNemar (1947) with Edwards' continuity correction, from per-row correctness (0/1). */
void stats_mcnemar_test(const uint8_t *correct_a, const uint8_t *correct_b, size_t n, stats_mcnemar *out);

/* A statistic of a sample given as row indices (the resample): called with idx[0..n). */
typedef double (*stats_fn)(const size_t *idx, size_t n, void *ctx);

/* Moving-block bootstrap (Kuensch 1989): `resamples` samples of n rows made of blocks of
 * `block` consecutive rows (start uniform, wrapping), the statistic of each; lo/hi = the
 * (1-level)/2 and (1+level)/2 percentiles. Deterministic for a seed. Returns 0, or -1 (memory). */
int stats_block_bootstrap(size_t n, size_t block, int resamples, double level, uint64_t seed, stats_fn fn, void *ctx,
                          double *lo, double *hi);

#endif
