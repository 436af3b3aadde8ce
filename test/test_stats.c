/* test_stats.c — the significance tests against values computed by hand (the arithmetic is in
 * the comments) and the block bootstrap's percentiles. */
#include <math.h>
#include <stdlib.h>

#include "obi/stats.h"
#include "test.h"

void stats_normal_and_mcnemar(void) {
  CHECK(fabs(stats_normal_cdf(1.96) - 0.9750021048517795) < 1e-12);
  CHECK(fabs(stats_normal_cdf(0) - 0.5) < 1e-15);
  /* a right on 10 rows b got wrong, b right on 4 rows a got wrong, 6 rows both right:
   * (|10 - 4| - 1)^2 / 14 = 25 / 14 = 1.785714; chi-squared(1) tail = erfc(sqrt(1.785714 / 2))
   * = 0.181449 (scipy.stats.chi2.sf(25/14, 1) = 0.1814492) */
  uint8_t a[20] = {0}, b[20] = {0};
  for (int i = 0; i < 10; i++) a[i] = 1;
  for (int i = 10; i < 14; i++) b[i] = 1;
  for (int i = 14; i < 20; i++) a[i] = b[i] = 1;
  stats_mcnemar m;
  stats_mcnemar_test(a, b, 20, &m);
  CHECK_EQ(m.a_only, 10);
  CHECK_EQ(m.b_only, 4);
  CHECK(fabs(m.statistic - 25.0 / 14.0) < 1e-12);
  CHECK(fabs(m.p_value - 0.1814492) < 1e-6);
  stats_mcnemar_test(a + 14, b + 14, 6, &m); /* no disagreement: p = 1 */
  CHECK(m.p_value == 1);
}

void stats_diebold_mariano_by_hand(void) {
  /* d = (1, 2, 3, 4): mean 2.5, gamma_0 = (2.25 + .25 + .25 + 2.25) / 4 = 1.25,
   * lags 0: DM = 2.5 / sqrt(1.25 / 4) = 4.472136;
   * gamma_1 = ((-.5)(-1.5) + (.5)(-.5) + (1.5)(.5)) / 4 = .3125, lags 1: V = 1.25 + 2 (1/2) .3125
   * = 1.5625, DM = 2.5 / sqrt(1.5625 / 4) = 4 */
  double la[4] = {1, 2, 3, 4}, lb[4] = {0, 0, 0, 0};
  stats_dm dm;
  CHECK_EQ(stats_diebold_mariano(la, lb, 4, 0, &dm), 0);
  CHECK(fabs(dm.statistic - 4.47213595499958) < 1e-12);
  CHECK(fabs(dm.mean_diff - 2.5) < 1e-15);
  CHECK(fabs(dm.p_value - 2 * (1 - stats_normal_cdf(4.47213595499958))) < 1e-15);
  CHECK_EQ(stats_diebold_mariano(la, lb, 4, 1, &dm), 0);
  CHECK(fabs(dm.statistic - 4.0) < 1e-12);
  CHECK(fabs(dm.p_value - 6.334248366623996e-05) < 1e-10); /* 2 (1 - Phi(4)) */
  double same[4] = {1, 1, 1, 1};
  CHECK_EQ(stats_diebold_mariano(same, same, 4, 0, &dm), -1); /* no variance */
}

static double mean_of(const size_t *idx, size_t n, void *ctx) {
  const double *v = ctx;
  double s = 0;
  for (size_t i = 0; i < n; i++) s += v[idx[i]];
  return s / (double)n;
}

void stats_block_bootstrap_percentiles(void) {
  enum { N = 1000 };
  double v[N];
  for (int i = 0; i < N; i++) v[i] = i % 2; /* mean 0.5, sd 0.5 */
  double lo, hi;
  /* blocks of 1: the mean's standard error is 0.5 / sqrt(1000) = 0.0158, so the 95% interval is
   * about 0.5 +- 0.031 */
  CHECK_EQ(stats_block_bootstrap(N, 1, 2000, 0.95, 7, mean_of, v, &lo, &hi), 0);
  CHECK(lo > 0.46 && lo < 0.48 && hi > 0.52 && hi < 0.54);
  /* blocks of 2 over an alternating series always hold one 0 and one 1: no variation */
  CHECK_EQ(stats_block_bootstrap(N, 2, 500, 0.95, 7, mean_of, v, &lo, &hi), 0);
  CHECK(fabs(lo - 0.5) < 1e-12 && fabs(hi - 0.5) < 1e-12);
  double c[N];
  for (int i = 0; i < N; i++) c[i] = 3;
  CHECK_EQ(stats_block_bootstrap(N, 10, 100, 0.9, 1, mean_of, c, &lo, &hi), 0);
  CHECK(lo == 3 && hi == 3);
}

/* Labels 0 0 1 1 2 2, predictions 0 1 1 1 2 0 with probability 0.8 (0.1 elsewhere):
 * confusion [[1,1,0],[0,2,0],[1,0,1]], 4 correct of 6; true counts t = (2,2,2), predicted
 * p = (2,3,1): sum p t = 12, sum p^2 = 14, sum t^2 = 12.
 * MCC = (4*6 - 12) / sqrt((36 - 14)(36 - 12)) = 12 / sqrt(528) = 0.522233;
 * kappa: p_e = 12/36, (2/3 - 1/3) / (2/3) = 0.5;
 * Brier: correct rows 0.2^2 + 2 * 0.1^2 = 0.06, wrong rows 0.8^2 + 0.9^2 + 0.1^2 = 1.46:
 * (4 * 0.06 + 2 * 1.46) / 6 = 0.526667; every row in calibration bin 8, accuracy 4/6. */
#include "obi/train.h"

void metrics_by_hand(void) {
  int32_t y[6] = {0, 0, 1, 1, 2, 2};
  int pred[6] = {0, 1, 1, 1, 2, 0};
  float p[18];
  for (int i = 0; i < 6; i++)
    for (int k = 0; k < 3; k++) p[i * 3 + k] = k == pred[i] ? 0.8f : 0.1f;
  metrics m;
  metrics_compute(&m, p, y, 6);
  CHECK(fabs(m.accuracy - 4.0 / 6) < 1e-12);
  CHECK(fabs(m.mcc - 12 / sqrt(528.0)) < 1e-9);
  CHECK(fabs(m.kappa - 0.5) < 1e-9);
  CHECK(fabs(m.brier - 3.16 / 6) < 1e-6);
  CHECK_EQ(m.calib_n[8], 6);
  CHECK(fabs(m.calib_confidence[8] - 0.8) < 1e-6);
  CHECK(fabs(m.calib_accuracy[8] - 4.0 / 6) < 1e-12);
  CHECK_EQ(m.confusion[2][0], 1);
  CHECK(fabs(m.recall[1] - 1.0) < 1e-12);
  CHECK(fabs(m.precision[1] - 2.0 / 3) < 1e-12);
}
