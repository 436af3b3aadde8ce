/* perf.c — backtest performance statistics (perf.h). libc and libm, plus stats_normal_cdf.
 *
 * perf_compute walks the marks once with a pointer into the fills: every fill at or before a
 * mark is applied to the cash, the fees and the round-trip state before the mark is valued, so
 * the equity series, the position series and the round trips all come from the same pass and
 * agree with each other. The position lives in the round-trip state, which snaps it to exactly 0
 * when a fill brings it within rounding of 0; the equity uses that same position.
 *
 * The invariants (up to rounding): net_pnl = gross_pnl - fees - extra_costs = equity[nm-1] - capital,
 * and the period returns sum to (equity[nm-1] - equity[0]) / capital. The statistics of the returns are separate
 * functions so that each can be checked by hand. */
#include "obi/perf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "obi/stats.h"

#define NS_PER_DAY 86400000000000LL
#define TRADING_DAYS_PER_YEAR 252.0
#define FLAT_TOLERANCE 1e-9 /* of a fill's qty: a position this close to 0 is 0 */

void perf_config_default(perf_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->capital = 1e6;
  cfg->periods_per_year = 98280; /* 390 one-minute marks x 252 days */
  cfg->extra_cost_bps = 0;
  cfg->nw_lags = -1;
  cfg->bootstrap_resamples = 2000;
  cfg->bootstrap_mean_block = 0;
  cfg->seed = 1;
  cfg->trials = 1;
  cfg->trials_sharpe_var = 0;
  cfg->day_offset_ns = 0;
}

/* ---- round trips ---- */

typedef struct {
  double pos;     /* signed position */
  perf_trip trip; /* the open round trip, when pos != 0 */
} trip_state;

static int fill_valid(const perf_fill *f) {
  return (f->side == 1 || f->side == -1) && isfinite(f->price) && f->price > 0 && isfinite(f->qty) && f->qty > 0 &&
         isfinite(f->fee);
}

/* Adds qty of fill f (carrying share of its fee) to the open round trip. */
static void trip_add(trip_state *s, const perf_fill *f, double qty, double share, double cost_rate, int opening) {
  perf_trip *t = &s->trip;
  double notional = f->price * qty;
  t->fills++;
  t->gross_pnl -= f->side * notional;
  t->fees += f->fee * share;
  t->extra_costs += notional * cost_rate;
  if (opening) t->entry_notional += notional;
}

static void trip_open(trip_state *s, const perf_fill *f) {
  memset(&s->trip, 0, sizeof s->trip);
  s->trip.open_ts = f->ts_ns;
  s->trip.side = f->side;
}

/* Applies one valid fill; returns 1 and writes *closed when it completes a round trip. */
static int trip_step(trip_state *s, const perf_fill *f, double cost_rate, perf_trip *closed) {
  double tol = FLAT_TOLERANCE * f->qty;
  if (s->pos == 0) trip_open(s, f);
  if (s->pos == 0 || (s->pos > 0) == (f->side > 0)) { /* opening or adding */
    trip_add(s, f, f->qty, 1.0, cost_rate, 1);
    s->pos += f->side * f->qty;
    if (fabs(s->pos) > s->trip.max_qty) s->trip.max_qty = fabs(s->pos);
    return 0;
  }
  double held = fabs(s->pos), rest = f->qty - held;
  if (rest < -tol) { /* reduces without reaching 0 */
    trip_add(s, f, f->qty, 1.0, cost_rate, 0);
    s->pos += f->side * f->qty;
    return 0;
  }
  int flips = rest > tol;
  double part = flips ? held : f->qty;
  trip_add(s, f, part, part / f->qty, cost_rate, 0);
  s->trip.close_ts = f->ts_ns;
  s->trip.net_pnl = s->trip.gross_pnl - s->trip.fees - s->trip.extra_costs;
  *closed = s->trip;
  s->pos = 0;
  if (flips) {
    trip_open(s, f);
    trip_add(s, f, rest, rest / f->qty, cost_rate, 1);
    s->pos = f->side * rest;
    s->trip.max_qty = rest;
  }
  return 1;
}

obi_err perf_round_trips(const perf_fill *fills, size_t nf, double extra_cost_bps, perf_trip *trips, size_t *ntrips) {
  *ntrips = 0;
  if (!isfinite(extra_cost_bps)) return OBI_EINVAL;
  trip_state s = {0};
  perf_trip closed;
  for (size_t i = 0; i < nf; i++) {
    if (!fill_valid(&fills[i]) || (i > 0 && fills[i].ts_ns < fills[i - 1].ts_ns)) return OBI_EINVAL;
    if (trip_step(&s, &fills[i], extra_cost_bps * 1e-4, &closed)) {
      if (trips) trips[*ntrips] = closed;
      (*ntrips)++;
    }
  }
  return OBI_OK;
}

/* ---- statistics of a return series ---- */

static double mean_of(const double *r, size_t n) {
  double s = 0;
  for (size_t t = 0; t < n; t++) s += r[t];
  return s / (double)n;
}

double perf_sharpe(const double *r, size_t n, double ppy) {
  if (n < 2) return NAN;
  double m = mean_of(r, n), ss = 0;
  for (size_t t = 0; t < n; t++) ss += (r[t] - m) * (r[t] - m);
  double sd = sqrt(ss / (double)(n - 1));
  return sd > 0 ? m / sd * sqrt(ppy) : NAN;
}

double perf_sortino(const double *r, size_t n, double ppy) {
  if (n == 0) return NAN;
  double m = mean_of(r, n), dd = 0;
  for (size_t t = 0; t < n; t++)
    if (r[t] < 0) dd += r[t] * r[t];
  dd = sqrt(dd / (double)n);
  if (dd > 0) return m / dd * sqrt(ppy);
  return m > 0 ? INFINITY : NAN;
}

double perf_max_drawdown(const double *equity, size_t n, size_t *peak, size_t *trough) {
  size_t hi = 0, best_peak = 0, best_trough = 0;
  double worst = 0;
  for (size_t t = 1; t < n; t++) {
    if (equity[t] > equity[hi]) hi = t;
    double fall = equity[hi] - equity[t];
    if (fall > worst) worst = fall, best_peak = hi, best_trough = t;
  }
  if (peak) *peak = best_peak;
  if (trough) *trough = best_trough;
  return worst;
}

int perf_newey_west_lags(size_t n) { return (int)floor(4.0 * pow((double)n / 100.0, 2.0 / 9.0)); }

double perf_newey_west_t(const double *r, size_t n, int lags) {
  if (n < 2) return NAN;
  if (lags < 0) lags = perf_newey_west_lags(n);
  if ((size_t)lags > n - 1) lags = (int)(n - 1);
  double m = mean_of(r, n), v = 0;
  for (int k = 0; k <= lags; k++) {
    double g = 0;
    for (size_t t = (size_t)k; t < n; t++) g += (r[t] - m) * (r[t - k] - m);
    g /= (double)n;
    v += k == 0 ? g : 2.0 * (1.0 - (double)k / (lags + 1)) * g;
  }
  return v > 0 ? m / sqrt(v / (double)n) : NAN;
}

/* SplitMix64 (Steele, Lea, Flood 2014): a full-period generator with good output from any seed. */
static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static double uniform01(uint64_t *s) { return (double)(splitmix64(s) >> 11) * 0x1.0p-53; } /* [0, 1) */

double perf_stationary_bootstrap_p(const double *r, size_t n, double mean_block, int resamples, uint64_t seed) {
  if (n < 2 || resamples < 1) return NAN;
  if (!(mean_block > 0)) mean_block = cbrt((double)n);
  double p_new = mean_block > 1 ? 1.0 / mean_block : 1.0;
  double m = mean_of(r, n);
  uint64_t s = seed;
  int exceed = 0;
  for (int b = 0; b < resamples; b++) {
    size_t i = (size_t)(uniform01(&s) * (double)n);
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
      if (k > 0) i = uniform01(&s) < p_new ? (size_t)(uniform01(&s) * (double)n) : (i + 1 == n ? 0 : i + 1);
      sum += r[i] - m;
    }
    exceed += sum / (double)n >= m;
  }
  return (1.0 + exceed) / (1.0 + resamples);
}

/* Acklam, "An algorithm for computing the inverse normal cumulative distribution function"
 * (2003): rational approximations in a central region and in the tails. Computed for p <= 0.5
 * only, by symmetry, so that the Halley step sees Phi(x) in the accurate lower tail. */
static double inv_normal_lower(double p) {
  static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                              1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                              6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                              -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                              3.754408661907416e+00};
  double x;
  if (p < 0.02425) {
    double q = sqrt(-2.0 * log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  } else {
    double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  }
  /* one Halley step on Phi(x) - p = 0 (Acklam's refinement): e = Phi(x) - p, u = e / phi(x) */
  double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
  double u = e * 2.5066282746310002 * exp(x * x / 2.0); /* sqrt(2 pi) */
  return x - u / (1.0 + x * u / 2.0);
}

double perf_inv_normal_cdf(double p) {
  if (!(p >= 0 && p <= 1)) return NAN;
  if (p == 0) return -INFINITY;
  if (p == 1) return INFINITY;
  return p <= 0.5 ? inv_normal_lower(p) : -inv_normal_lower(1.0 - p);
}

void perf_skew_kurtosis(const double *r, size_t n, double *skew, double *kurtosis) {
  *skew = *kurtosis = NAN;
  if (n == 0) return;
  double m = mean_of(r, n), m2 = 0, m3 = 0, m4 = 0;
  for (size_t t = 0; t < n; t++) {
    double d = r[t] - m, d2 = d * d;
    m2 += d2, m3 += d2 * d, m4 += d2 * d2;
  }
  m2 /= (double)n, m3 /= (double)n, m4 /= (double)n;
  if (!(m2 > 0)) return;
  *skew = m3 / pow(m2, 1.5);
  *kurtosis = m4 / (m2 * m2);
}

double perf_deflated_sharpe(double sr, size_t n, double skew, double kurtosis, int trials, double var_sr) {
  const double euler_gamma = 0.5772156649015329, e = 2.718281828459045;
  if (n < 2 || isnan(sr) || isnan(skew) || isnan(kurtosis) || isnan(var_sr)) return NAN;
  double sr0 = 0;
  if (trials > 1 && var_sr > 0) {
    double nt = (double)trials;
    sr0 = sqrt(var_sr) *
          ((1 - euler_gamma) * perf_inv_normal_cdf(1 - 1 / nt) + euler_gamma * perf_inv_normal_cdf(1 - 1 / (nt * e)));
  }
  double v = 1 - skew * sr + (kurtosis - 1) / 4 * sr * sr;
  if (!(v > 0)) return NAN;
  return stats_normal_cdf((sr - sr0) * sqrt((double)(n - 1)) / sqrt(v));
}

/* ---- the summary ---- */

static int64_t day_of(int64_t ts, int64_t offset) { /* floor division, also before 1970 */
  int64_t t = ts + offset, d = t / NS_PER_DAY;
  return d - (t % NS_PER_DAY < 0);
}

static int config_valid(const perf_config *c) {
  return c->capital > 0 && isfinite(c->capital) && c->periods_per_year > 0 && isfinite(c->periods_per_year) &&
         isfinite(c->extra_cost_bps) && c->bootstrap_resamples >= 0 && c->trials >= 1 && c->trials_sharpe_var >= 0 &&
         isfinite(c->trials_sharpe_var);
}

static int marks_valid(const perf_mark *marks, size_t nm) {
  for (size_t j = 0; j < nm; j++)
    if (!(isfinite(marks[j].mid) && marks[j].mid > 0) || (j > 0 && marks[j].ts_ns <= marks[j - 1].ts_ns)) return 0;
  return 1;
}

obi_err perf_compute(const perf_config *cfg, const perf_fill *fills, size_t nf, const perf_mark *marks, size_t nm,
                     perf_summary *out, double *equity_out, double *position_out) {
  memset(out, 0, sizeof *out);
  if (!config_valid(cfg) || nm < 2 || !marks_valid(marks, nm)) return OBI_EINVAL;
  for (size_t i = 0; i < nf; i++)
    if (!fill_valid(&fills[i]) || (i > 0 && fills[i].ts_ns < fills[i - 1].ts_ns)) return OBI_EINVAL;
  if (nf > 0 && fills[nf - 1].ts_ns > marks[nm - 1].ts_ns) return OBI_EINVAL;

  size_t np = nm - 1; /* periods */
  double *slab = malloc((2 * np + (equity_out ? 0 : nm)) * sizeof *slab);
  if (!slab) return OBI_ENOMEM;
  double *ret = slab, *daily = slab + np, *equity = equity_out ? equity_out : slab + 2 * np;

  /* one pass: apply the fills up to each mark, value the book at the mark */
  const double cost_rate = cfg->extra_cost_bps * 1e-4;
  trip_state st = {0};
  perf_trip closed;
  double cash = 0, sum_win = 0, sum_loss = 0, sum_gross_edge = 0, sum_net_edge = 0;
  int64_t wins = 0;
  size_t i = 0;
  for (size_t j = 0; j < nm; j++) {
    for (; i < nf && fills[i].ts_ns <= marks[j].ts_ns; i++) {
      const perf_fill *f = &fills[i];
      double notional = f->price * f->qty;
      cash -= f->side * notional;
      out->fees += f->fee;
      out->extra_costs += notional * cost_rate;
      out->traded_notional += notional;
      out->fills++;
      out->maker_fills += f->maker != 0;
      if (trip_step(&st, f, cost_rate, &closed)) {
        out->trades++;
        wins += closed.net_pnl > 0;
        if (closed.net_pnl > 0)
          sum_win += closed.net_pnl;
        else
          sum_loss -= closed.net_pnl;
        sum_gross_edge += closed.gross_pnl / closed.entry_notional * 1e4;
        sum_net_edge += closed.net_pnl / closed.entry_notional * 1e4;
      }
    }
    equity[j] = cfg->capital + cash + st.pos * marks[j].mid - out->fees - out->extra_costs;
    if (position_out) position_out[j] = st.pos;
  }

  out->gross_pnl = cash + st.pos * marks[nm - 1].mid;
  out->net_pnl = out->gross_pnl - out->fees - out->extra_costs;
  out->turnover = out->traded_notional / cfg->capital;
  out->cost_capacity_bps = nf > 0 ? out->net_pnl * 1e4 / out->traded_notional : NAN;
  if (out->trades > 0) {
    double nt = (double)out->trades;
    out->win_rate = (double)wins / nt;
    out->profit_factor = sum_loss > 0 ? sum_win / sum_loss : sum_win > 0 ? INFINITY : NAN;
    out->avg_gross_edge_bps = sum_gross_edge / nt;
    out->avg_net_edge_bps = sum_net_edge / nt;
  } else {
    out->win_rate = out->avg_gross_edge_bps = out->avg_net_edge_bps = NAN;
    out->profit_factor = 0;
  }

  /* per-period and daily returns */
  size_t nd = 0;
  int64_t day = 0;
  for (size_t j = 1; j < nm; j++) {
    ret[j - 1] = (equity[j] - equity[j - 1]) / cfg->capital;
    int64_t d = day_of(marks[j].ts_ns, cfg->day_offset_ns);
    if (nd == 0 || d != day) daily[nd++] = 0, day = d;
    daily[nd - 1] += ret[j - 1];
  }
  out->periods = (int64_t)np;
  out->days = (int64_t)nd;

  double ppy = cfg->periods_per_year;
  out->sharpe = perf_sharpe(ret, np, ppy);
  out->sortino = perf_sortino(ret, np, ppy);
  out->sharpe_daily = nd >= 2 ? perf_sharpe(daily, nd, TRADING_DAYS_PER_YEAR) : NAN;
  out->max_drawdown_currency = perf_max_drawdown(equity, nm, NULL, NULL);
  out->max_drawdown = out->max_drawdown_currency / cfg->capital;
  out->annual_return = mean_of(ret, np) * ppy;
  out->calmar = out->max_drawdown > 0 ? out->annual_return / out->max_drawdown : NAN;
  out->nw_lags = cfg->nw_lags < 0 ? perf_newey_west_lags(np) : cfg->nw_lags;
  if ((size_t)out->nw_lags > np - 1) out->nw_lags = (int)(np - 1);
  out->nw_t = perf_newey_west_t(ret, np, out->nw_lags);
  out->p_value = perf_stationary_bootstrap_p(ret, np, cfg->bootstrap_mean_block, cfg->bootstrap_resamples, cfg->seed);
  perf_skew_kurtosis(ret, np, &out->skew, &out->kurtosis);
  out->deflated_sharpe =
      perf_deflated_sharpe(perf_sharpe(ret, np, 1), np, out->skew, out->kurtosis, cfg->trials, cfg->trials_sharpe_var);
  free(slab);
  return OBI_OK;
}
