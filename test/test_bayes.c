/* test_bayes.c — the Bayesian online model: one update by hand, the sequential posterior against
 * a batch Laplace fit, labels that arrive late, and uncertainty that shrinks with evidence. */
#include <math.h>
#include <stdlib.h>

#include "obi/model.h"
#include "obi/train.h"
#include "test.h"

static obi_model *bayes(int C, double prior, double forgetting) {
  model_config c;
  model_config_default(&c, MODEL_BAYES);
  c.prior_precision = prior;
  c.forgetting = forgetting;
  obi_model *m = NULL;
  model_new(&m, &c, C, NULL, NULL, NULL); /* mean 0, std 1: rows are used as they are */
  return m;
}

/* One feature, prior precision 1, row x = 2 labelled up. For class 2 (t = 1): mu = 0, s = 0.5,
 * h = 0.25; q = 1 + 0.25 * 4 = 2, w = 0.5 * 2 / 2 = 0.5; bias: q = 1.25, b = 0.5 / 1.25 = 0.4.
 * Classes 0 and 1 (t = 0): w = -0.5, b = -0.4. Layout: means (3 x 1), biases (3), then the
 * precisions (3 x 1) and the bias precisions (3). */
void bayes_one_update_by_hand(void) {
  obi_model *m = bayes(1, 1.0, 1.0);
  float row = 2;
  CHECK_EQ(model_bayes_update(m, &row, 2), OBI_OK);
  const float *P = model_params(m);
  CHECK(fabsf(P[2] - 0.5f) < 1e-7f && fabsf(P[0] + 0.5f) < 1e-7f && fabsf(P[1] + 0.5f) < 1e-7f);
  CHECK(fabsf(P[5] - 0.4f) < 1e-7f && fabsf(P[3] + 0.4f) < 1e-7f);
  CHECK(fabsf(P[6 + 2] - 2.0f) < 1e-7f && fabsf(P[9 + 2] - 1.25f) < 1e-7f);
  /* forgetting pulls the precisions back to the prior before the next update */
  obi_model *f = bayes(1, 1.0, 0.5);
  model_bayes_update(f, &row, 2);
  model_bayes_update(f, &row, 2); /* q = 0.5 * 2 + 0.5 * 1 + h x^2 */
  double mu = model_params(f)[2] * 2 + model_params(f)[5], s = 0;
  (void)mu, (void)s;
  CHECK(model_params(f)[8] < 2.0f + 1.0f); /* without forgetting it would be 2 + 0.25*4-ish */
  CHECK_EQ(model_bayes_update(m, &row, 3), OBI_EINVAL);
  model_free(f);
  model_free(m);
}

/* A one-against-rest problem with independent features: the sequential diagonal posterior is
 * close to the batch Laplace fit (Newton iterations to the MAP, variance = inverse Hessian). */
void bayes_matches_batch_laplace(void) {
  enum { N = 4000, C = 2 };
  static float X[N * C];
  static int8_t y[N];
  uint64_t s = 5;
  const double w_true[C] = {1.5, -1.0}, b_true = 0.3;
  for (int i = 0; i < N; i++) {
    double z = b_true;
    for (int j = 0; j < C; j++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      X[i * C + j] = (float)((double)(s >> 11) / 9007199254740992.0 * 4 - 2);
      z += w_true[j] * X[i * C + j];
    }
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    y[i] = (double)(s >> 11) / 9007199254740992.0 < 1 / (1 + exp(-z)) ? 2 : 0; /* class 2 or not */
  }
  obi_model *m = bayes(C, 1.0, 1.0);
  for (int i = 0; i < N; i++) CHECK_EQ(model_bayes_update(m, X + i * C, y[i]), OBI_OK);
  /* batch MAP for class 2 by Newton's method, prior precision 1 on w and b */
  double w[C + 1] = {0}, H[C + 1][C + 1];
  for (int it = 0; it < 30; it++) {
    double g[C + 1];
    for (int a = 0; a <= C; a++) {
      g[a] = w[a];
      for (int b2 = 0; b2 <= C; b2++) H[a][b2] = a == b2;
    }
    for (int i = 0; i < N; i++) {
      double xi[C + 1] = {X[i * C], X[i * C + 1], 1}, z = 0;
      for (int a = 0; a <= C; a++) z += w[a] * xi[a];
      double p = 1 / (1 + exp(-z)), t = y[i] == 2;
      for (int a = 0; a <= C; a++) {
        g[a] -= (t - p) * xi[a];
        for (int b2 = 0; b2 <= C; b2++) H[a][b2] += p * (1 - p) * xi[a] * xi[b2];
      }
    }
    /* solve H dw = g (3 x 3, Cramer's rule is enough here) */
    double det = H[0][0] * (H[1][1] * H[2][2] - H[1][2] * H[2][1]) - H[0][1] * (H[1][0] * H[2][2] - H[1][2] * H[2][0]) +
                 H[0][2] * (H[1][0] * H[2][1] - H[1][1] * H[2][0]);
    double d[3];
    for (int col = 0; col < 3; col++) {
      double M[3][3];
      for (int a = 0; a < 3; a++)
        for (int b2 = 0; b2 < 3; b2++) M[a][b2] = b2 == col ? g[a] : H[a][b2];
      d[col] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) - M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
                M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) /
               det;
    }
    for (int a = 0; a <= C; a++) w[a] -= d[a];
  }
  const float *P = model_params(m);
  double seq[3] = {P[2 * C + 0], P[2 * C + 1], P[3 * C + 2]}; /* class 2's weights and bias */
  printf("# batch MAP (%.3f, %.3f, %.3f), sequential (%.3f, %.3f, %.3f), truth (1.5, -1, 0.3)\n", w[0], w[1], w[2],
         seq[0], seq[1], seq[2]);
  for (int a = 0; a < 3; a++) CHECK(fabs(seq[a] - w[a]) < 0.1 * fabs(w[a]) + 0.05);
  /* the posterior precisions are the Hessian's diagonal (at the sequence of means) */
  const float *q = P + 3 * C + 3;
  for (int a = 0; a < C; a++) CHECK(fabs(q[2 * C + a] - H[a][a]) < 0.1 * H[a][a]);
  model_free(m);
}

/* Labels that mature k rows later: after n rows the model equals an offline fit of the first
 * n - k rows, bit for bit, and nothing can be applied before it is pushed. */
void bayes_delayed_labels(void) {
  enum { N = 300, C = 3, K = 7 };
  float X[N * C];
  int8_t y[N];
  for (int i = 0; i < N * C; i++) X[i] = (float)sin(i * 0.37);
  for (int i = 0; i < N; i++) y[i] = (int8_t)((i * 7 + i / 5) % 3);
  obi_model *live = bayes(C, 2.0, 0.99), *offline = bayes(C, 2.0, 0.99);
  CHECK_EQ(model_bayes_mature(live, 1), OBI_EINVAL); /* nothing waiting */
  for (int j = 0; j < N; j++) {
    float probs[3];
    model_step(live, X + j * C, probs); /* predict, then remember the row */
    CHECK_EQ(model_bayes_push(live, X + j * C), OBI_OK);
    if (j >= K) CHECK_EQ(model_bayes_mature(live, y[j - K]), OBI_OK); /* row j - K's label is known now */
    CHECK_EQ(model_bayes_waiting(live), j >= K ? K : j + 1);
    if (j >= K) CHECK_EQ(model_bayes_update(offline, X + (j - K) * C, y[j - K]), OBI_OK);
    if (memcmp(model_params(live), model_params(offline), model_param_count(live) * sizeof(float)) != 0) {
      test_fail(__FILE__, __LINE__, "row %d: the live model differs from the offline fit of the matured rows", j);
      break;
    }
  }
  model_free(live);
  model_free(offline);
}

void bayes_uncertainty_shrinks(void) {
  obi_model *m = bayes(2, 1.0, 1.0);
  float row[2] = {1, -1};
  double before[3], after[3];
  model_bayes_uncertainty(m, row, before);
  CHECK(fabs(before[0] - 3.0) < 1e-6); /* prior: 1 + 1 + 1 (bias) */
  for (int i = 0; i < 50; i++) model_bayes_update(m, row, i % 3);
  model_bayes_uncertainty(m, row, after);
  for (int k = 0; k < 3; k++) CHECK(after[k] < before[k] / 5);
  model_free(m);
}
