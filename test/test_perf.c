/* test_perf.c — the backtest statistics of perf.h against values computed by hand (the
 * arithmetic is in the comments) or, where noted, by an independent Python computation (numpy
 * and the standard library's statistics.NormalDist, whose inverse CDF is Wichura's AS241 rather
 * than the Acklam approximation used here). */
#include <math.h>
#include <stdlib.h>

#include "obi/perf.h"
#include "obi/stats.h"
#include "test.h"

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

void perf_sharpe_sortino_by_hand(void) {
  /* r = (0.01, -0.02, 0.03, 0.02): mean 0.01, deviations (0, -0.03, 0.02, 0.01), sum of squares
   * 14e-4, sample variance 14e-4 / 3, sd 0.0216025; Sharpe per period 0.01 / 0.0216025 = 0.462910,
   * x sqrt(4) = 0.925820. Downside: only -0.02 counts, DD = sqrt(4e-4 / 4) = 0.01, Sortino
   * 0.01 / 0.01 x sqrt(4) = 2. */
  double r[4] = {0.01, -0.02, 0.03, 0.02};
  CHECK(near(perf_sharpe(r, 4, 4), 0.9258200997725514, 1e-12));
  CHECK(near(perf_sharpe(r, 4, 1) * sqrt(252), perf_sharpe(r, 4, 252), 1e-12));
  CHECK(near(perf_sortino(r, 4, 4), 2.0, 1e-12));
  double flat[3] = {0.01, 0.01, 0.01}, up[2] = {0.01, 0.0}, zero[2] = {0, 0};
  CHECK(isnan(perf_sharpe(flat, 3, 1))); /* sd 0 */
  CHECK(isnan(perf_sharpe(r, 1, 1)));    /* n < 2 */
  CHECK(perf_sortino(up, 2, 1) == INFINITY);
  CHECK(isnan(perf_sortino(zero, 2, 1)));
}

void perf_max_drawdown_by_hand(void) {
  /* falls from running peaks: 110 -> 105 (5), 120 -> 90 (30), 130 -> 125 (5): the worst is 30,
   * from index 3 to index 4 (not from the global maximum 130 at index 6) */
  double eq[8] = {100, 110, 105, 120, 90, 95, 130, 125};
  size_t peak = 99, trough = 99;
  CHECK(perf_max_drawdown(eq, 8, &peak, &trough) == 30);
  CHECK_EQ(peak, 3);
  CHECK_EQ(trough, 4);
  double rising[3] = {1, 2, 3};
  CHECK(perf_max_drawdown(rising, 3, &peak, &trough) == 0);
  CHECK_EQ(peak, 0);
  CHECK_EQ(trough, 0);
  CHECK(perf_max_drawdown(eq, 8, NULL, NULL) == 30);
}

void perf_newey_west_by_hand(void) {
  /* r = (1, -1, 2, 0): mean 0.5, deviations (0.5, -1.5, 1.5, -0.5).
   * g0 = (0.25 + 2.25 + 2.25 + 0.25) / 4 = 1.25; lags 0: t = 0.5 / sqrt(1.25 / 4) = 0.894427.
   * g1 = (-1.5 x 0.5 + 1.5 x -1.5 + -0.5 x 1.5) / 4 = -0.9375; lags 1: V = 1.25 + 2 (1/2) g1
   * = 0.3125, t = 0.5 / sqrt(0.3125 / 4) = 1.788854 (negative autocorrelation raises t).
   * g2 = (1.5 x 0.5 + -0.5 x -1.5) / 4 = 0.375; lags 2: V = 1.25 + 2 (2/3) g1 + 2 (1/3) g2
   * = 1.25 - 1.25 + 0.25 = 0.25, t = 0.5 / sqrt(0.25 / 4) = 2.
   * Automatic lags for n = 4: floor(4 x 0.04^(2/9)) = floor(1.956) = 1; n = 1000: floor(6.65) = 6. */
  double r[4] = {1, -1, 2, 0};
  CHECK(near(perf_newey_west_t(r, 4, 0), 0.5 / sqrt(1.25 / 4), 1e-12));
  CHECK(near(perf_newey_west_t(r, 4, 0), 0.8944271909999159, 1e-12));
  CHECK(near(perf_newey_west_t(r, 4, 1), 1.7888543819998317, 1e-12));
  CHECK(near(perf_newey_west_t(r, 4, 2), 2.0, 1e-12));
  CHECK_EQ(perf_newey_west_lags(4), 1);
  CHECK_EQ(perf_newey_west_lags(1000), 6);
  CHECK(perf_newey_west_t(r, 4, -1) == perf_newey_west_t(r, 4, 1));
  double same[3] = {2, 2, 2};
  CHECK(isnan(perf_newey_west_t(same, 3, 1))); /* V = 0 */
}

void perf_inv_normal_cdf_points(void) {
  /* reference values: Python statistics.NormalDist().inv_cdf (Wichura AS241) */
  CHECK(near(perf_inv_normal_cdf(0.975), 1.959963984540054, 1e-14));
  CHECK(near(perf_inv_normal_cdf(0.025), -1.959963984540054, 1e-14));
  CHECK(perf_inv_normal_cdf(0.5) == 0);
  CHECK(near(perf_inv_normal_cdf(0.3), -0.5244005127080407, 1e-14));
  CHECK(near(perf_inv_normal_cdf(0.9), 1.2815515655446008, 1e-14));
  CHECK(near(perf_inv_normal_cdf(0.999), 3.090232306167813, 1e-13));
  CHECK(near(perf_inv_normal_cdf(0.02425), -1.9729610513118845, 1e-14)); /* the region boundary */
  CHECK(near(perf_inv_normal_cdf(1e-10), -6.361340902404056, 1e-12));
  CHECK(near(perf_inv_normal_cdf(1e-300), -37.0470962993612, 1e-10));
  CHECK(perf_inv_normal_cdf(0) == -INFINITY);
  CHECK(perf_inv_normal_cdf(1) == INFINITY);
  CHECK(isnan(perf_inv_normal_cdf(1.5)));
  CHECK(isnan(perf_inv_normal_cdf(NAN)));
  /* the inverse of stats_normal_cdf on a grid that crosses both region boundaries */
  for (int k = 1; k < 1000; k++) {
    double p = k / 1000.0;
    CHECK(near(stats_normal_cdf(perf_inv_normal_cdf(p)), p, 1e-15));
  }
}

void perf_deflated_sharpe_by_hand(void) {
  /* One trial (no deflation), SR 0.1 per period on n = 250 returns, skew -0.5, kurtosis 4:
   * 1 - (-0.5)(0.1) + (4 - 1)/4 (0.01) = 1.0575; Phi(0.1 sqrt(249) / sqrt(1.0575)) = Phi(1.534474)
   * = 0.937543 (Python: NormalDist().cdf). */
  CHECK(near(perf_deflated_sharpe(0.1, 250, -0.5, 4, 1, 0.002), 0.9375434364545412, 1e-12));
  CHECK(
      near(perf_deflated_sharpe(0.1, 250, -0.5, 4, 1, 0.002), stats_normal_cdf(0.1 * sqrt(249) / sqrt(1.0575)), 1e-15));
  /* N = 10 trials with Sharpe variance 0.002: SR0 = sqrt(0.002) ((1 - g) Phi^-1(0.9) + g Phi^-1(1 - 1/(10 e)))
   * = 0.0447214 (0.4227843 x 1.2815516 + 0.5772157 x 1.7891...) = 0.0704182, and
   * DSR = Phi((0.1 - 0.0704182) sqrt(249) / sqrt(1.0575)) = 0.675059. N = 100: SR0 = 0.1131720,
   * DSR = 0.419911 (both by the formula in Python with NormalDist's inv_cdf and cdf). */
  CHECK(near(perf_deflated_sharpe(0.1, 250, -0.5, 4, 10, 0.002), 0.6750587160849818, 1e-9));
  CHECK(near(perf_deflated_sharpe(0.1, 250, -0.5, 4, 100, 0.002), 0.41991109629923795, 1e-9));
  CHECK(near(perf_deflated_sharpe(0.1, 250, -0.5, 4, 100, 0), 0.9375434364545412, 1e-12)); /* var unknown */
  CHECK(isnan(perf_deflated_sharpe(0.1, 1, 0, 3, 1, 0)));
  CHECK(isnan(perf_deflated_sharpe(NAN, 250, 0, 3, 1, 0)));
  CHECK(isnan(perf_deflated_sharpe(2.0, 250, 2.0, 1.0, 1, 0))); /* 1 - 4 + 0 < 0 */
}

/* uniform in [-1, 1) from a fixed LCG (Numerical Recipes constants), independent of perf.c */
static double lcg_unit(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (double)(*s >> 8) / (double)(1u << 23) - 1.0;
}

void perf_stationary_bootstrap(void) {
  enum { N = 1000 };
  static double r[N];
  uint32_t s = 12345;
  /* mean 0.5 plus uniform noise (sd 0.577): t about 0.5 / 0.0183 = 27, so no centred resample
   * reaches the observed mean and p is its floor 1 / (1 + 999) */
  for (int t = 0; t < N; t++) r[t] = 0.5 + lcg_unit(&s);
  double p = perf_stationary_bootstrap_p(r, N, 10, 999, 7);
  CHECK(p < 0.01);
  CHECK(p == 1.0 / 1000);
  /* the mirror image: every resample mean (about 0) is >= the observed -0.5: p = 1 */
  for (int t = 0; t < N; t++) r[t] = -r[t];
  CHECK(perf_stationary_bootstrap_p(r, N, 10, 999, 7) == 1.0);
  /* a symmetric zero-mean series (each value and its negative): the centred resample mean is
   * symmetric about 0, so p is near 0.5; its Monte Carlo sd with 2000 resamples is
   * sqrt(0.25 / 2000) = 0.011, and 0.05 is more than 4 of those */
  s = 99;
  for (int t = 0; t < N; t += 2) r[t] = lcg_unit(&s), r[t + 1] = -r[t];
  p = perf_stationary_bootstrap_p(r, N, 0, 2000, 3);
  CHECK(p > 0.45 && p < 0.55);
  CHECK(p > 0 && p <= 1);
  CHECK(p == perf_stationary_bootstrap_p(r, N, 0, 2000, 3)); /* deterministic for a seed */
  CHECK(p != perf_stationary_bootstrap_p(r, N, 0, 2000, 4)); /* and the seed is used */
  /* blocks matter: 20 runs of 50 equal values, each run +1 or -1 at random, shifted so that the
   * mean is exactly 0.1 (sd about 1). The iid bootstrap sees a standard error of 1 / sqrt(1000)
   * = 0.032 (t = 3.2, p about 0.001); blocks of mean length 50 see the runs, 20 independent values,
   * a standard error near 1 / sqrt(20) = 0.22 (t = 0.45, p near 0.3; the geometric blocks cut some
   * runs, so somewhat less) */
  s = 3;
  double sign = 1, m = 0;
  for (int t = 0; t < N; t++) {
    if (t % 50 == 0) sign = lcg_unit(&s) < 0 ? -1 : 1;
    r[t] = sign, m += sign;
  }
  for (int t = 0; t < N; t++) r[t] += 0.1 - m / N;
  CHECK(perf_stationary_bootstrap_p(r, N, 1, 2000, 5) < 0.01);
  CHECK(perf_stationary_bootstrap_p(r, N, 50, 2000, 5) > 0.15);
  CHECK(isnan(perf_stationary_bootstrap_p(r, 1, 1, 100, 5)));
  CHECK(isnan(perf_stationary_bootstrap_p(r, N, 1, 0, 5)));
}

void perf_round_trips_flip(void) {
  /* buy 2 @ 100 (fee 0.2), sell 3 @ 101 (fee 0.3: flips to short 1), buy 1 @ 99 (fee 0.1), with
   * an extra cost of 10 bps on every notional.
   * Trip 1, long 2: the sell's first 2 of 3 close it. gross = 2 x (101 - 100) = 2; fees = 0.2 +
   * 0.3 x 2/3 = 0.4; extra = (200 + 202) x 0.001 = 0.402; net = 2 - 0.4 - 0.402 = 1.198; entry 200.
   * Trip 2, short 1: opened by the last 1 of 3 at 101, closed at 99. gross = 2; fees = 0.1 + 0.1 =
   * 0.2; extra = (101 + 99) x 0.001 = 0.2; net = 1.6; entry 101. */
  perf_fill f[3] = {{1, +1, 100, 2, 0.2, 1}, {2, -1, 101, 3, 0.3, 0}, {3, +1, 99, 1, 0.1, 0}};
  perf_trip t[3];
  size_t n = 99;
  CHECK_EQ(perf_round_trips(f, 3, 10, t, &n), OBI_OK);
  CHECK_EQ(n, 2);
  CHECK(t[0].side == 1 && t[0].open_ts == 1 && t[0].close_ts == 2 && t[0].fills == 2 && t[0].max_qty == 2);
  CHECK(near(t[0].gross_pnl, 2, 1e-12));
  CHECK(near(t[0].fees, 0.4, 1e-12));
  CHECK(near(t[0].extra_costs, 0.402, 1e-12));
  CHECK(near(t[0].net_pnl, 1.198, 1e-12));
  CHECK(near(t[0].entry_notional, 200, 1e-12));
  CHECK(t[1].side == -1 && t[1].open_ts == 2 && t[1].close_ts == 3 && t[1].fills == 2 && t[1].max_qty == 1);
  CHECK(near(t[1].gross_pnl, 2, 1e-12));
  CHECK(near(t[1].fees, 0.2, 1e-12));
  CHECK(near(t[1].extra_costs, 0.2, 1e-12));
  CHECK(near(t[1].net_pnl, 1.6, 1e-12));
  CHECK(near(t[1].entry_notional, 101, 1e-12));
  /* counting only; the open short after the first two fills is not a trade */
  CHECK_EQ(perf_round_trips(f, 3, 0, NULL, &n), OBI_OK);
  CHECK_EQ(n, 2);
  CHECK_EQ(perf_round_trips(f, 2, 0, NULL, &n), OBI_OK);
  CHECK_EQ(n, 1);
  /* decimal lots: 0.1 + 0.2 is 0.30000000000000004 in binary; selling 0.3 still closes, and a
   * scale-in (two buys) then partial exits (two sells) is one trip of max_qty 0.3 */
  perf_fill d[4] = {{1, 1, 10, 0.1, 0, 0}, {2, 1, 10, 0.2, 0, 0}, {3, -1, 11, 0.1, 0, 0}, {4, -1, 11, 0.2, 0, 0}};
  CHECK_EQ(perf_round_trips(d, 4, 0, t, &n), OBI_OK);
  CHECK_EQ(n, 1);
  CHECK(t[0].fills == 4 && near(t[0].max_qty, 0.3, 1e-15));
  CHECK(near(t[0].gross_pnl, 0.3, 1e-12));    /* 0.3 x (11 - 10) */
  CHECK(near(t[0].entry_notional, 3, 1e-12)); /* both buys */
}

/* The hand example of perf_compute (capital 1000, 1000 periods a year, marks every 10 ns):
 *   mark  t   mid   fills applied (t <= mark)                  cash  pos  fees   equity
 *   0     0   100   -                                          0     0    0      1000
 *   1     10  100   t=5 buy 1 @ 100 fee 0.25 (maker)           -100  1    0.25   1000 - 100 + 100 - 0.25 = 999.75
 *   2     20  104   t=20 sell 1 @ 104 fee 0.25                 4     0    0.5    1003.5
 *   3     30  101   t=25 sell 2 @ 101 fee 0.5                  206   -2   1.0    1000 + 206 - 202 - 1 = 1003
 *   4     40  99    -                                          206   -2   1.0    1000 + 206 - 198 - 1 = 1007
 *   5     50  100   t=45 buy 2 @ 101.5 fee 0.5,                -97   1    1.25   1000 - 97 + 100 - 1.25 = 1001.75
 *                   t=50 buy 1 @ 100 fee -0.25 (maker)
 * gross = -97 + 100 = 3, fees 1.25, net 1.75. Trips: long 1 (gross 4, fees 0.5, net 3.5, entry
 * 100: edges 400 / 350 bps) and short 2 (gross 2 x (101 - 101.5) = -1, fees 1, net -2, entry 202:
 * edges -49.50495 / -99.00990 bps); the last long is open. Win rate 1/2, profit factor 3.5 / 2 =
 * 1.75, mean edges 175.247525 / 125.495050 bps. Notional 100 + 104 + 202 + 203 + 100 = 709:
 * turnover 0.709, cost capacity 1.75e4 / 709 = 24.682652 bps.
 * Returns (1e-4): -2.5, 37.5, -5, 40, -52.5; mean 3.5, deviations -6, 34, -8.5, 36.5, -56, sum of
 * squares 5732.5: sd = sqrt(5732.5 / 4) = 37.8566, Sharpe 3.5 / 37.8566 x sqrt(1000) = 2.923654;
 * downside sqrt((6.25 + 25 + 2756.25) / 5) = 23.6115, Sortino 3.5 / 23.6115 x sqrt(1000) = 4.687547.
 * Drawdown 1007 -> 1001.75 = 5.25 (0.00525); annual return 0.00035 x 1000 = 0.35, Calmar
 * 0.35 / 0.00525 = 66.6667. NW lags 0: 3.5 / sqrt(5732.5 / 5 / 5) = 0.231135. Skew -0.456022,
 * kurtosis 1.970728, PSR = Phi(0.0924541 x 2 / sqrt(1 + 0.456022 x 0.0924541 + 0.970728 / 4 x
 * 0.0924541^2)) = 0.571796 (numpy, population moments). */
static const perf_fill hand_fills[5] = {{5, +1, 100, 1, 0.25, 1},
                                        {20, -1, 104, 1, 0.25, 0},
                                        {25, -1, 101, 2, 0.5, 0},
                                        {45, +1, 101.5, 2, 0.5, 0},
                                        {50, +1, 100, 1, -0.25, 1}};
static const perf_mark hand_marks[6] = {{0, 100}, {10, 100}, {20, 104}, {30, 101}, {40, 99}, {50, 100}};

static void hand_config(perf_config *c) {
  perf_config_default(c);
  c->capital = 1000;
  c->periods_per_year = 1000;
  c->nw_lags = 0;
  c->bootstrap_resamples = 200;
}

void perf_compute_by_hand(void) {
  perf_config c;
  hand_config(&c);
  perf_summary s;
  double eq[6], pos[6];
  CHECK_EQ(perf_compute(&c, hand_fills, 5, hand_marks, 6, &s, eq, pos), OBI_OK);
  const double want_eq[6] = {1000, 999.75, 1003.5, 1003, 1007, 1001.75}, want_pos[6] = {0, 1, 0, -2, -2, 1};
  for (int j = 0; j < 6; j++) {
    CHECK(near(eq[j], want_eq[j], 1e-9));
    CHECK(pos[j] == want_pos[j]);
  }
  CHECK(near(s.net_pnl, 1.75, 1e-12) && near(s.gross_pnl, 3, 1e-12) && near(s.fees, 1.25, 1e-12));
  CHECK(s.extra_costs == 0);
  CHECK_EQ(s.fills, 5);
  CHECK_EQ(s.maker_fills, 2);
  CHECK_EQ(s.trades, 2);
  CHECK(s.win_rate == 0.5);
  CHECK(near(s.profit_factor, 1.75, 1e-12));
  CHECK(near(s.avg_gross_edge_bps, 175.24752475247524, 1e-9));
  CHECK(near(s.avg_net_edge_bps, 125.49504950495049, 1e-9));
  CHECK(near(s.traded_notional, 709, 1e-12) && near(s.turnover, 0.709, 1e-12));
  CHECK(near(s.cost_capacity_bps, 24.682651622002822, 1e-9));
  CHECK_EQ(s.periods, 5);
  CHECK_EQ(s.days, 1);
  CHECK(isnan(s.sharpe_daily)); /* one day */
  CHECK(near(s.sharpe, 2.9236542261383374, 1e-9));
  CHECK(near(s.sortino, 4.687546711276972, 1e-9));
  CHECK(near(s.max_drawdown_currency, 5.25, 1e-9) && near(s.max_drawdown, 0.00525, 1e-12));
  CHECK(near(s.annual_return, 0.35, 1e-12));
  CHECK(near(s.calmar, 66.66666666666667, 1e-7));
  CHECK_EQ(s.nw_lags, 0);
  CHECK(near(s.nw_t, 0.2311351611343534, 1e-9));
  CHECK(near(s.skew, -0.4560219850861826, 1e-9) && near(s.kurtosis, 1.9707280486754182, 1e-9));
  CHECK(near(s.deflated_sharpe, 0.5717962938131417, 1e-9));
  CHECK(s.p_value > 0 && s.p_value <= 1);
  /* the same summary without the optional outputs */
  perf_summary s2;
  CHECK_EQ(perf_compute(&c, hand_fills, 5, hand_marks, 6, &s2, NULL, NULL), OBI_OK);
  CHECK(s2.sharpe == s.sharpe && s2.max_drawdown == s.max_drawdown && s2.p_value == s.p_value);
  /* charging the cost capacity as extra cost brings net pnl to 0 */
  c.extra_cost_bps = s.cost_capacity_bps;
  CHECK_EQ(perf_compute(&c, hand_fills, 5, hand_marks, 6, &s2, eq, NULL), OBI_OK);
  CHECK(near(s2.extra_costs, 1.75, 1e-12));
  CHECK(fabs(s2.net_pnl) < 1e-12);
  CHECK(near(eq[5], 1000, 1e-9));
  CHECK(near(s2.gross_pnl, 3, 1e-12)); /* gross pnl does not see costs */
  /* no fills: flat equity, nothing defined but the zeros */
  c.extra_cost_bps = 0;
  CHECK_EQ(perf_compute(&c, hand_fills, 0, hand_marks, 6, &s2, eq, NULL), OBI_OK);
  CHECK(s2.net_pnl == 0 && s2.trades == 0 && s2.profit_factor == 0 && eq[5] == 1000);
  CHECK(isnan(s2.win_rate) && isnan(s2.cost_capacity_bps) && isnan(s2.sharpe) && isnan(s2.calmar));
}

void perf_days_and_daily_sharpe(void) {
  /* Long 1 unit bought at 100 exactly at the first mark (fee 0, so equity[0] = capital = 100),
   * marks at 23:00 and 05:00 UTC, mids 100, 101, 99, 102, 102, 104: period returns
   * 0.01, -0.02, 0.03, 0, 0.02.
   *   mark  UTC             UTC+9 (Tokyo)
   *   0     day0 23:00      day1 08:00
   *   1     day1 05:00      day1 14:00
   *   2     day1 23:00      day2 08:00
   *   3     day2 05:00      day2 14:00
   *   4     day2 23:00      day3 08:00
   *   5     day3 05:00      day3 14:00
   * In Tokyo time the returns of marks 1 | 2,3 | 4,5 make the days: 0.01, 0.01, 0.02: mean 0.013333,
   * sd sqrt((2 x 0.003333^2 + 0.006667^2) / 2) = 0.0057735, x sqrt(252): 36.660606.
   * In UTC the days are marks 1,2 | 3,4 | 5: -0.01, 0.03, 0.02: sd 0.0208167, 10.167823. */
  const int64_t h = 3600LL * 1000000000LL, base = 19723LL * 24 * h; /* 2024-01-01 */
  perf_mark m[6];
  const double mids[6] = {100, 101, 99, 102, 102, 104};
  for (int j = 0; j < 6; j++) m[j] = (perf_mark){base - h + (j / 2) * 24 * h + (j % 2) * 6 * h, mids[j]};
  perf_fill f = {m[0].ts_ns, +1, 100, 1, 0, 0};
  perf_config c;
  perf_config_default(&c);
  c.capital = 100;
  c.periods_per_year = 252;
  c.bootstrap_resamples = 0;
  c.day_offset_ns = 9 * h;
  perf_summary s;
  double eq[6], pos[6];
  CHECK_EQ(perf_compute(&c, &f, 1, m, 6, &s, eq, pos), OBI_OK);
  CHECK(eq[0] == 100 && pos[0] == 1); /* a fill at a mark's time is in that mark */
  CHECK(near(eq[5], 104, 1e-12) && near(s.net_pnl, 4, 1e-12));
  CHECK_EQ(s.days, 3);
  CHECK(near(s.sharpe_daily, 36.66060555964672, 1e-8));
  CHECK(near(s.sharpe, 6.602210931891618, 1e-9)); /* the periods: mean 0.008, sd 0.019235 */
  CHECK(isnan(s.p_value));                        /* no resamples */
  CHECK_EQ(s.trades, 0);                          /* still long at the end */
  c.day_offset_ns = 0;
  CHECK_EQ(perf_compute(&c, &f, 1, m, 6, &s, NULL, NULL), OBI_OK);
  CHECK_EQ(s.days, 3);
  CHECK(near(s.sharpe_daily, 10.167822548835879, 1e-8));
  /* two marks on one day: fewer than 2 days */
  CHECK_EQ(perf_compute(&c, &f, 1, m, 2, &s, NULL, NULL), OBI_OK);
  CHECK_EQ(s.days, 1);
  CHECK(isnan(s.sharpe_daily));
  /* days are floored, also before 1970: marks at -3 h, -1 h, +1 h end periods on days -1 and 0 */
  perf_mark e[3] = {{-3 * h, 100}, {-h, 101}, {h, 102}};
  CHECK_EQ(perf_compute(&c, NULL, 0, e, 3, &s, NULL, NULL), OBI_OK);
  CHECK_EQ(s.days, 2);
}

void perf_rejects_bad_input(void) {
  perf_config c;
  hand_config(&c);
  perf_summary s;
  perf_fill f[5];
  memcpy(f, hand_fills, sizeof f);
  CHECK_EQ(perf_compute(&c, f, 5, hand_marks, 1, &s, NULL, NULL), OBI_EINVAL); /* nm < 2 */
  f[2].ts_ns = 4;                                                              /* before fill 1 */
  CHECK_EQ(perf_compute(&c, f, 5, hand_marks, 6, &s, NULL, NULL), OBI_EINVAL);
  size_t n;
  CHECK_EQ(perf_round_trips(f, 5, 0, NULL, &n), OBI_EINVAL);
  f[2] = hand_fills[2];
  f[3].qty = 0;
  CHECK_EQ(perf_compute(&c, f, 5, hand_marks, 6, &s, NULL, NULL), OBI_EINVAL);
  f[3] = hand_fills[3];
  f[3].side = 0;
  CHECK_EQ(perf_compute(&c, f, 5, hand_marks, 6, &s, NULL, NULL), OBI_EINVAL);
  f[3] = hand_fills[3];
  f[4].ts_ns = 51; /* after the last mark */
  CHECK_EQ(perf_compute(&c, f, 5, hand_marks, 6, &s, NULL, NULL), OBI_EINVAL);
  perf_mark m[6];
  memcpy(m, hand_marks, sizeof m);
  m[3].ts_ns = m[2].ts_ns; /* marks must strictly increase */
  CHECK_EQ(perf_compute(&c, hand_fills, 5, m, 6, &s, NULL, NULL), OBI_EINVAL);
  c.capital = 0;
  CHECK_EQ(perf_compute(&c, hand_fills, 5, hand_marks, 6, &s, NULL, NULL), OBI_EINVAL);
  hand_config(&c);
  c.trials = 0;
  CHECK_EQ(perf_compute(&c, hand_fills, 5, hand_marks, 6, &s, NULL, NULL), OBI_EINVAL);
  hand_config(&c);
  CHECK_EQ(perf_compute(&c, hand_fills, 5, hand_marks, 6, &s, NULL, NULL), OBI_OK); /* the control */
}
