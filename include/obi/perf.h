/* perf.h — the performance statistics of a backtest: P&L, round trips, risk-adjusted returns and
 * whether they are distinguishable from luck.
 *
 * Input is what a simulation produced: the fills, in time order, and the mid price at every tick
 * of a fixed clock (the marks). The equity is marked to the mid at each mark; per-period returns
 * are equity changes divided by a fixed capital (no compounding), so they add up to net P&L /
 * capital. From those returns come the Sharpe and Sortino ratios, the drawdown, a Newey-West
 * t-statistic, a stationary-bootstrap p-value and the deflated Sharpe ratio, which asks how
 * likely the Sharpe ratio is to be positive after accounting for the number of configurations
 * tried. docs/backtest.md gives every formula with its source.
 *
 * Units: prices and P&L in currency, quantities in base units, times in nanoseconds since the
 * Unix epoch, returns as fractions of capital, edges and costs in basis points (1e-4). Ratios are
 * per period unless their name says annualised. A statistic that is undefined for the data (a
 * standard deviation of 0, too few observations) is NAN, never an error. */
#ifndef OBI_PERF_H
#define OBI_PERF_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

typedef struct {
  int64_t ts_ns;
  int side;     /* +1 buy, -1 sell */
  double price; /* > 0 */
  double qty;   /* > 0, base units */
  double fee;   /* currency; negative for a rebate */
  int maker;    /* 1 if the fill provided liquidity (counted, not used otherwise) */
} perf_fill;

typedef struct {
  int64_t ts_ns; /* strictly increasing */
  double mid;    /* > 0 */
} perf_mark;

typedef struct {
  double capital;              /* currency, > 0: returns are equity changes / capital */
  double periods_per_year;     /* of the mark clock, e.g. 1-minute marks over 6.5 h x 252 days = 98280 */
  double extra_cost_bps;       /* extra cost charged on every fill's notional (slippage, fees not in the fills) */
  int nw_lags;                 /* Newey-West lags; < 0: floor(4 (n/100)^(2/9)) (Newey and West 1994) */
  int bootstrap_resamples;     /* stationary-bootstrap resamples; 0: no p-value (NAN) */
  double bootstrap_mean_block; /* mean block length in periods; <= 0: n^(1/3) */
  uint64_t seed;               /* of the bootstrap */
  int trials;                  /* configurations tried, for the deflated Sharpe ratio; 1: no deflation */
  double trials_sharpe_var;    /* variance across trials of their per-period Sharpe ratios; 0 if unknown */
  int64_t day_offset_ns;       /* added to timestamps before cutting days (exchange local time) */
} perf_config;

typedef struct {
  double net_pnl, gross_pnl, fees, extra_costs; /* net = gross - fees - extra_costs */
  int64_t fills, maker_fills;
  int64_t trades;               /* completed round trips (perf_round_trips) */
  double win_rate;              /* fraction of round trips with net pnl > 0; NAN with no trade */
  double profit_factor;         /* sum of winning / |sum of losing| net pnl; INFINITY with no loss, 0 with no
                                 * trade, NAN when every trade made exactly 0 */
  double avg_gross_edge_bps;    /* mean over round trips of gross pnl / entry notional x 1e4; NAN with no trade */
  double avg_net_edge_bps;      /* the same with net pnl */
  double traded_notional;       /* sum of price x qty over fills */
  double turnover;              /* traded_notional / capital */
  double sharpe, sortino;       /* annualised with periods_per_year, from per-period returns */
  double sharpe_daily;          /* from daily returns, x sqrt(252); NAN with fewer than 2 days */
  double max_drawdown;          /* largest peak-to-trough fall of equity, as a fraction of capital (>= 0) */
  double max_drawdown_currency; /* the same in currency */
  double annual_return;         /* mean per-period return x periods_per_year */
  double calmar;                /* annual_return / max_drawdown; NAN with no drawdown */
  double cost_capacity_bps;     /* further extra cost per fill, in bps of its notional, that brings net pnl to
                                 * 0: net_pnl x 1e4 / traded_notional (negative when already losing; NAN with
                                 * no fills) */
  double nw_t;                  /* Newey-West t-statistic of the mean per-period return */
  int nw_lags;                  /* the lags it used */
  double p_value;               /* one-sided stationary-bootstrap p-value of H0: mean return <= 0 */
  double deflated_sharpe;       /* a probability; the probabilistic Sharpe ratio vs 0 when trials == 1 */
  double skew, kurtosis;        /* of per-period returns (population moments; kurtosis not excess) */
  int64_t periods;              /* per-period returns: marks - 1 */
  int64_t days;                 /* days with at least one period ending in them */
} perf_summary;

/* capital 1e6, periods_per_year 98280 (1-minute marks of a 6.5-hour session), no extra cost,
 * automatic Newey-West lags, 2000 resamples with automatic block length, seed 1, one trial,
 * day offset 0 (UTC). */
void perf_config_default(perf_config *cfg);

/* One round trip: it opens when the position leaves 0 and closes when it returns to 0. A fill
 * that takes the position through 0 is split: the part that reaches 0 closes this round trip, the
 * rest opens the next; its fee (and extra cost) is split in proportion to quantity. */
typedef struct {
  int64_t open_ts, close_ts;
  int side;              /* +1 long, -1 short */
  int64_t fills;         /* fills (or parts of a split fill) in it */
  double max_qty;        /* largest |position| held */
  double entry_notional; /* sum of price x qty of the fills that opened or added to the position */
  double gross_pnl;      /* the cash flow of its fills: sum of -side x price x qty */
  double fees, extra_costs;
  double net_pnl; /* gross - fees - extra_costs */
} perf_trip;

/* The completed round trips of fills[0..nf) (time order), with extra_cost_bps charged on every
 * fill's notional. trips, when not NULL, must hold nf entries (a fill closes at most one round
 * trip); *ntrips gets their number. A round trip still open after the last fill is not reported.
 * A position within 1e-9 x the fill's qty of 0 counts as 0 (decimal lot sizes do not add up
 * exactly in binary). Returns OBI_EINVAL for fills out of time order, a side other than +-1, a
 * qty or price <= 0 or not finite, or a fee that is not finite. */
obi_err perf_round_trips(const perf_fill *fills, size_t nf, double extra_cost_bps, perf_trip *trips, size_t *ntrips);

/* Sharpe (1966, 1994) ratio of r[0..n): mean / sample sd (n - 1 in the denominator) x sqrt(ppy).
 * With no risk-free rate: returns are already excess returns for a book that holds no cash
 * overnight. The sqrt(ppy) scaling is exact only for uncorrelated returns (Lo 2002). NAN when
 * n < 2 or the sd is 0. */
double perf_sharpe(const double *r, size_t n, double ppy);

/* Sortino ratio with target 0: mean / DD x sqrt(ppy), DD = sqrt((1/n) sum min(r_t, 0)^2) — the
 * downside deviation over all n periods, not only the losing ones (Sortino and Price 1994).
 * INFINITY when no period lost and the mean is positive, NAN when n == 0 or DD == 0 otherwise. */
double perf_sortino(const double *r, size_t n, double ppy);

/* The largest fall equity[peak] - equity[trough] with peak <= trough and equity[peak] the running
 * maximum: >= 0, in the units of equity. *peak and *trough (either may be NULL) get its indices,
 * the first such pair; both 0 when equity never falls (or n == 0). */
double perf_max_drawdown(const double *equity, size_t n, size_t *peak, size_t *trough);

/* The Newey-West (1994) automatic lag count for n observations: floor(4 (n/100)^(2/9)). */
int perf_newey_west_lags(size_t n);

/* t-statistic of mean(r): mean / sqrt(V / n), V = g_0 + 2 sum_{k=1..L} (1 - k/(L+1)) g_k with
 * g_k = (1/n) sum_t (r_t - mean)(r_{t-k} - mean) (Bartlett weights, Newey and West 1987). lags < 0
 * uses perf_newey_west_lags(n); lags above n - 1 are cut to n - 1. NAN when n < 2 or V <= 0. */
double perf_newey_west_t(const double *r, size_t n, int lags);

/* One-sided p-value of H0: E[r] <= 0 by the stationary bootstrap (Politis and Romano 1994). The
 * null is imposed by resampling the centred returns c_t = r_t - mean: each resample of n values
 * starts at a uniform index and at every step either starts a new block at a uniform index (with
 * probability 1 / mean_block) or takes the next value (wrapping from n - 1 to 0), so blocks have
 * geometric lengths with mean mean_block (<= 0: n^(1/3); <= 1: the iid bootstrap).
 * p = (1 + #{resamples whose mean >= mean(r)}) / (1 + resamples), in (0, 1]. Deterministic for a
 * seed; allocates nothing. NAN when n < 2 or resamples < 1. */
double perf_stationary_bootstrap_p(const double *r, size_t n, double mean_block, int resamples, uint64_t seed);

/* Inverse of the standard normal CDF: Acklam's rational approximation (relative error 1.15e-9)
 * refined by one Halley step, good to about 1e-15. -INFINITY at 0, INFINITY at 1, NAN outside
 * [0, 1]. */
double perf_inv_normal_cdf(double p);

/* Skewness m3 / m2^(3/2) and kurtosis m4 / m2^2 (not excess) of r[0..n), with the population
 * central moments m_k = (1/n) sum (r_t - mean)^k. Both NAN when n == 0 or m2 == 0. */
void perf_skew_kurtosis(const double *r, size_t n, double *skew, double *kurtosis);

/* Deflated Sharpe ratio (Bailey and Lopez de Prado 2014) of a per-period (not annualised) Sharpe
 * ratio sr measured on n returns with the given skewness and kurtosis (not excess):
 *   SR0 = sqrt(var_sr) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e))), g = 0.5772... (Euler),
 *   DSR = Phi((sr - SR0) sqrt(n - 1) / sqrt(1 - skew sr + (kurtosis - 1) / 4 sr^2)),
 * the expected maximum Sharpe ratio of N = trials unskilled trials standing in for SR0. With
 * trials <= 1 (or var_sr == 0) SR0 = 0 and DSR is the probabilistic Sharpe ratio against 0 (Bailey
 * and Lopez de Prado 2012). NAN when n < 2, an input is NAN, or the variance term is <= 0. */
double perf_deflated_sharpe(double sr, size_t n, double skew, double kurtosis, int trials, double var_sr);

/* Every statistic of perf_summary for the fills fills[0..nf) (time order) against the marks
 * marks[0..nm) (nm >= 2, strictly increasing times, every fill at or before the last mark).
 *
 * At mark j the fills with ts <= marks[j].ts_ns have been applied, and
 *   equity[j] = capital + cash + position x mid_j - fees - extra costs,
 * cash = -sum side x price x qty. Fills at or before the first mark are in equity[0] (and so in
 * the P&L) but in no period return: start the clock before the first fill. Period return
 * j = 1..nm-1 is (equity[j] - equity[j-1]) / capital; a day's return is the sum of the period
 * returns whose closing mark falls in it, days cut at floor((ts + day_offset_ns) / 86400e9).
 * Gross P&L is cash + position x the last mid. A round trip still open at the end counts in the
 * P&L (marked to the last mid) but not in the trade statistics.
 *
 * equity_out and position_out (each nm values, either may be NULL) get the equity and the
 * position (signed, base units) at each mark. Returns OBI_EINVAL for a bad config (capital or
 * periods_per_year <= 0, trials < 1, resamples < 0, negative trials_sharpe_var, a non-finite
 * extra_cost_bps), nm < 2, marks out of order or with a mid <= 0, a fill after the last mark or as
 * perf_round_trips; OBI_ENOMEM. */
obi_err perf_compute(const perf_config *cfg, const perf_fill *fills, size_t nf, const perf_mark *marks, size_t nm,
                     perf_summary *out, double *equity_out, double *position_out);

#endif
