/* microprice.c — fitting Stoikov's micro-price adjustment table.
 *
 * Stoikov, "The micro-price: a high-frequency estimator of future prices", Quantitative
 * Finance 18(12), 2018. The state x = (spread bucket, imbalance bucket) of the book moves
 * from row to row. Transitions without a mid change form Q (transient), those with a
 * change form T (to the state after the change) and R (the mean change, in ticks). The
 * expected mid change until the next mid change is G1 = (I - Q)^-1 R, the state after it
 * is distributed as B = (I - Q)^-1 T, and the micro-price adjustment is the limit
 * g = G1 + B G1 + B^2 G1 + ... . The data are symmetrised first (every transition is also
 * counted mirrored: imbalance i -> n_imb - 1 - i, mid change negated), which makes g
 * antisymmetric in the imbalance and the series converge. The linear systems are small
 * (n_imb * n_spread <= 160 states) and solved by Gaussian elimination with partial pivoting. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "obi/features.h"

/* Solves A X = Y in place for an n x n A and n x m Y (row-major); A is destroyed.
 * Returns 0 when A is singular. */
static int solve(double *A, double *Y, int n, int m) {
  for (int c = 0; c < n; c++) {
    int piv = c;
    for (int r = c + 1; r < n; r++)
      if (fabs(A[r * n + c]) > fabs(A[piv * n + c])) piv = r;
    if (fabs(A[piv * n + c]) < 1e-12) return 0;
    if (piv != c) {
      for (int k = 0; k < n; k++) {
        double t = A[c * n + k];
        A[c * n + k] = A[piv * n + k], A[piv * n + k] = t;
      }
      for (int k = 0; k < m; k++) {
        double t = Y[c * m + k];
        Y[c * m + k] = Y[piv * m + k], Y[piv * m + k] = t;
      }
    }
    for (int r = 0; r < n; r++) {
      if (r == c || A[r * n + c] == 0) continue;
      double f = A[r * n + c] / A[c * n + c];
      for (int k = c; k < n; k++) A[r * n + k] -= f * A[c * n + k];
      for (int k = 0; k < m; k++) Y[r * m + k] -= f * Y[c * m + k];
    }
  }
  for (int r = 0; r < n; r++)
    for (int k = 0; k < m; k++) Y[r * m + k] /= A[r * n + r];
  return 1;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Spread buckets: the distinct spreads if there are few, else quantiles (distinct edges). */
static int spread_buckets(feat_microprice *mp, int max_spread, const feat_mp_obs *obs, size_t n) {
  int64_t *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return 0;
  for (size_t i = 0; i < n; i++) v[i] = obs[i].spread_ticks;
  qsort(v, n, sizeof *v, cmp_i64);
  int k = 0;
  for (int q = 1; q <= max_spread && n; q++) {
    int64_t edge = q == max_spread ? v[n - 1] : v[(size_t)((double)n * q / max_spread)];
    if (k == 0 || edge > mp->spread_upper[k - 1]) mp->spread_upper[k++] = edge;
  }
  free(v);
  mp->n_spread = k ? k : 1;
  return 1;
}

obi_err feat_microprice_fit(feat_microprice *mp, int n_imb, int max_spread, const feat_mp_obs *obs, size_t n,
                            feat_mp_fit_info *info) {
  if (n_imb < 2 || n_imb > FEAT_MP_MAX_IMB || max_spread < 1 || max_spread > FEAT_MP_MAX_SPREAD) return OBI_EINVAL;
  memset(mp, 0, sizeof *mp);
  mp->n_imb = n_imb;
  if (!spread_buckets(mp, max_spread, obs, n)) return OBI_ENOMEM;
  int n_spread = mp->n_spread;
  int N = n_imb * n_spread, M = N + 1; /* right-hand sides: T (N columns) and R */
  double *Qc = calloc((size_t)N * N, sizeof *Qc), *Y = calloc((size_t)N * M, sizeof *Y);
  double *cnt = calloc((size_t)N, sizeof *cnt), *g = calloc((size_t)N, sizeof *g),
         *next = calloc((size_t)N, sizeof *next);
  obi_err err = OBI_ENOMEM;
  if (!Qc || !Y || !cnt || !g || !next) goto done;
  uint64_t transitions = 0;
  for (size_t t = 0; t + 1 < n; t++) {
    int s0 = feat_mp_spread_bucket(mp, obs[t].spread_ticks),
        i0 = feat_mp_imb_bucket(mp, obs[t].bid_size, obs[t].ask_size);
    int s1 = feat_mp_spread_bucket(mp, obs[t + 1].spread_ticks),
        i1 = feat_mp_imb_bucket(mp, obs[t + 1].bid_size, obs[t + 1].ask_size);
    double dm = obs[t + 1].mid_ticks - obs[t].mid_ticks;
    for (int mirror = 0; mirror < 2; mirror++) {
      int a = s0 * n_imb + (mirror ? n_imb - 1 - i0 : i0), b = s1 * n_imb + (mirror ? n_imb - 1 - i1 : i1);
      double d = mirror ? -dm : dm;
      cnt[a] += 1;
      if (d == 0) {
        Qc[a * N + b] += 1;
      } else {
        Y[a * M + b] += 1; /* T */
        Y[a * M + N] += d; /* R */
      }
    }
    transitions++;
  }
  /* Rare states leave the chain: no transitions out of them, and paths that enter one
   * stop there (their counts stay in the denominator: they contribute 0). */
  int used = 0;
  for (int a = 0; a < N; a++) {
    if (cnt[a] >= FEAT_MP_MIN_COUNT) {
      used++;
      continue;
    }
    for (int b = 0; b < N; b++) Qc[a * N + b] = 0, Y[a * M + b] = 0;
    Y[a * M + N] = 0;
    for (int b = 0; b < N; b++) Qc[b * N + a] = 0, Y[b * M + a] = 0;
  }
  /* A = I - Q, rows normalised by the number of transitions out of each state */
  for (int a = 0; a < N; a++) {
    double c = cnt[a] > 0 ? cnt[a] : 1;
    for (int b = 0; b < N; b++) Qc[a * N + b] = (a == b ? 1.0 : 0.0) - Qc[a * N + b] / c;
    for (int k = 0; k < M; k++) Y[a * M + k] /= c;
  }
  err = OBI_ERANGE;
  if (!solve(Qc, Y, N, M)) goto done;
  /* Y now holds B (columns 0..N-1) and G1 (column N) */
  int it = 0, converged = 0;
  for (int a = 0; a < N; a++) g[a] = Y[a * M + N];
  double *term = calloc((size_t)N, sizeof *term);
  if (!term) {
    err = OBI_ENOMEM;
    goto done;
  }
  memcpy(term, g, (size_t)N * sizeof *g);
  for (it = 1; it < 100 && !converged; it++) { /* term_{k+1} = B term_k; g += term */
    double biggest = 0;
    for (int a = 0; a < N; a++) {
      double s = 0;
      for (int b = 0; b < N; b++) s += Y[a * M + b] * term[b];
      next[a] = s;
      if (fabs(s) > biggest) biggest = fabs(s);
    }
    for (int a = 0; a < N; a++) g[a] += next[a], term[a] = next[a];
    converged = biggest < 1e-12;
  }
  free(term);
  if (!converged) /* the series does not settle: keep the first-order adjustment G1 */
    for (int a = 0; a < N; a++) g[a] = Y[a * M + N];
  for (int s = 0; s < n_spread; s++)
    for (int i = 0; i < n_imb; i++) mp->g[s][i] = g[s * n_imb + i];
  if (info)
    *info =
        (feat_mp_fit_info){.iterations = it, .converged = converged, .states_used = used, .transitions = transitions};
  err = OBI_OK;
done:
  free(Qc);
  free(Y);
  free(cnt);
  free(g);
  free(next);
  return err;
}
