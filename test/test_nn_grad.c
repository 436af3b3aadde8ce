/* test_nn_grad.c — finite-difference gradient checks of every layer, in double precision
 * (this file is compiled with NN_DOUBLE and calls the _f64 build of src/ml/nn.c).
 *
 * For a layer y = f(x, params) and a fixed random projection R, the scalar L = sum(R * y)
 * has gradient backward(dout = R). Each input and parameter element is perturbed by +-1e-6
 * and (L+ - L-) / 2e-6 must match the analytic gradient within 1e-6 relative. */
#include <math.h>
#include <stdlib.h>

#include "obi/nn.h"
#include "test.h"

static uint64_t seed = 88172645463325252ULL;
static double rnd(void) {
  seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
  return (double)(seed >> 11) / 9007199254740992.0 * 2 - 1;
}
/* Every buffer of a test is tracked and freed at its end (release_all). */
static void *tracked[64];
static int ntracked;
static double *zeros(size_t n) {
  double *v = calloc(n ? n : 1, sizeof *v);
  if (ntracked < 64) tracked[ntracked++] = v;
  return v;
}
static double *rand_vec(int n) {
  double *v = zeros((size_t)n);
  for (int i = 0; i < n; i++) v[i] = rnd();
  return v;
}
static void release_all(void) {
  while (ntracked) free(tracked[--ntracked]);
}

typedef double (*loss_fn)(void *ctx);

/* Compares grad (n) with central differences of fn over the n values at x. */
static int check(const char *what, loss_fn fn, void *ctx, double *x, const double *grad, int n) {
  double worst = 0;
  for (int i = 0; i < n; i++) {
    double keep = x[i];
    x[i] = keep + 1e-6;
    double lp = fn(ctx);
    x[i] = keep - 1e-6;
    double lm = fn(ctx);
    x[i] = keep;
    double num = (lp - lm) / 2e-6, err = fabs(num - grad[i]) / fmax(1e-3, fabs(num) + fabs(grad[i]));
    if (err > worst) worst = err;
  }
  printf("# %-28s worst relative error %.2e\n", what, worst);
  return worst < 1e-6;
}

static double dot(const double *a, const double *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* ---- linear ---- */
typedef struct {
  int N, C, OC;
  double *in, *w, *b, *R, *out;
} lin_ctx;
static double lin_loss(void *p) {
  lin_ctx *c = p;
  nn_linear_forward_f64(c->out, c->in, c->w, c->b, c->N, c->C, c->OC);
  return dot(c->out, c->R, c->N * c->OC);
}

void nn_gradcheck_linear(void) {
  release_all();
  lin_ctx c = {.N = 3, .C = 5, .OC = 4};
  c.in = rand_vec(15), c.w = rand_vec(20), c.b = rand_vec(4), c.R = rand_vec(12), c.out = rand_vec(12);
  double *din = zeros(15), *dw = zeros(20), *db = zeros(4);
  nn_linear_backward_f64(din, dw, db, c.R, c.in, c.w, 3, 5, 4);
  CHECK(check("linear: input", lin_loss, &c, c.in, din, 15));
  CHECK(check("linear: weight", lin_loss, &c, c.w, dw, 20));
  CHECK(check("linear: bias", lin_loss, &c, c.b, db, 4));
}

/* ---- layer norm ---- */
typedef struct {
  int N, C;
  double *in, *g, *b, *R, *out, *mean, *rstd;
} ln_ctx;
static double ln_loss(void *p) {
  ln_ctx *c = p;
  nn_layernorm_forward_f64(c->out, c->mean, c->rstd, c->in, c->g, c->b, c->N, c->C);
  return dot(c->out, c->R, c->N * c->C);
}

void nn_gradcheck_layernorm(void) {
  release_all();
  ln_ctx c = {.N = 3, .C = 6};
  c.in = rand_vec(18), c.g = rand_vec(6), c.b = rand_vec(6), c.R = rand_vec(18), c.out = rand_vec(18);
  c.mean = rand_vec(3), c.rstd = rand_vec(3);
  ln_loss(&c);
  double *din = zeros(18), *dg = zeros(6), *db = zeros(6);
  nn_layernorm_backward_f64(din, dg, db, c.R, c.in, c.g, c.mean, c.rstd, 3, 6);
  CHECK(check("layernorm: input", ln_loss, &c, c.in, din, 18));
  CHECK(check("layernorm: gain", ln_loss, &c, c.g, dg, 6));
  CHECK(check("layernorm: bias", ln_loss, &c, c.b, db, 6));
}

/* ---- activations and dropout ---- */
typedef struct {
  int n, kind; /* 0 relu, 1 gelu, 2 dropout */
  double *in, *R, *out;
  uint8_t *mask;
} act_ctx;
static double act_loss(void *p) {
  act_ctx *c = p;
  if (c->kind == 0)
    nn_relu_forward_f64(c->out, c->in, c->n);
  else if (c->kind == 1)
    nn_gelu_forward_f64(c->out, c->in, c->n);
  else
    for (int i = 0; i < c->n; i++) c->out[i] = c->mask[i] ? c->in[i] / 0.75 : 0; /* the mask held fixed */
  return dot(c->out, c->R, c->n);
}

void nn_gradcheck_activations(void) {
  release_all();
  act_ctx c = {.n = 20};
  c.in = rand_vec(20), c.R = rand_vec(20), c.out = rand_vec(20), c.mask = (uint8_t *)zeros(20);
  for (int i = 0; i < 20; i++)
    if (fabs(c.in[i]) < 1e-3) c.in[i] = 0.5; /* ReLU has no derivative at 0 */
  for (int kind = 0; kind < 3; kind++) {
    c.kind = kind;
    double *din = zeros(20);
    if (kind == 0) nn_relu_backward_f64(din, c.R, c.in, 20);
    if (kind == 1) nn_gelu_backward_f64(din, c.R, c.in, 20);
    if (kind == 2) {
      uint64_t rng = 7;
      nn_dropout_forward_f64(c.out, c.mask, c.in, 20, 0.25, &rng);
      int kept = 0;
      for (int i = 0; i < 20; i++) kept += c.mask[i];
      CHECK(kept > 5 && kept < 20);
      nn_dropout_backward_f64(din, c.R, c.mask, 20, 0.25);
    }
    CHECK(check(kind == 0 ? "relu" : kind == 1 ? "gelu" : "dropout", act_loss, &c, c.in, din, 20));
  }
}

/* ---- weighted cross-entropy ---- */
typedef struct {
  int N, K;
  double *logits, *probs, *w;
  int32_t *y;
} xe_ctx;
static double xe_loss(void *p) {
  xe_ctx *c = p;
  return nn_xent_forward_f64(c->probs, c->logits, c->y, c->w, c->N, c->K);
}

void nn_gradcheck_xent(void) {
  release_all();
  int32_t y[5] = {0, 2, 1, 2, 0};
  double w[3] = {0.5, 2.0, 1.25};
  xe_ctx c = {5, 3, rand_vec(15), rand_vec(15), w, y};
  xe_loss(&c);
  double *d = zeros(15);
  nn_xent_backward_f64(d, c.probs, y, w, 5, 3);
  CHECK(check("cross-entropy (weighted)", xe_loss, &c, c.logits, d, 15));
}

/* ---- LSTM ---- */
typedef struct {
  int B, T, C, H;
  double *in, *w_ih, *w_hh, *b_ih, *b_hh, *R, *h, *c, *gates;
} lstm_ctx;
static double lstm_loss(void *p) {
  lstm_ctx *c = p;
  nn_lstm_forward_f64(c->h, c->c, c->gates, c->in, c->w_ih, c->w_hh, c->b_ih, c->b_hh, c->B, c->T, c->C, c->H);
  return dot(c->h, c->R, c->B * c->T * c->H);
}

void nn_gradcheck_lstm(void) {
  release_all();
  lstm_ctx c = {.B = 2, .T = 4, .C = 3, .H = 5};
  int G = 4 * c.H, BT = c.B * c.T;
  c.in = rand_vec(BT * c.C), c.w_ih = rand_vec(G * c.C), c.w_hh = rand_vec(G * c.H), c.b_ih = rand_vec(G);
  c.b_hh = rand_vec(G), c.R = rand_vec(BT * c.H), c.h = rand_vec(BT * c.H), c.c = rand_vec(BT * c.H);
  c.gates = rand_vec(BT * G);
  lstm_loss(&c);
  double *din = zeros((size_t)BT * c.C), *dwi = zeros((size_t)G * c.C);
  double *dwh = zeros((size_t)G * c.H), *dbi = zeros((size_t)G);
  double *dbh = zeros((size_t)G), *scratch = zeros((size_t)BT * G + 2 * c.B * c.H);
  nn_lstm_backward_f64(din, dwi, dwh, dbi, dbh, c.R, c.in, c.h, c.c, c.gates, c.w_ih, c.w_hh, c.B, c.T, c.C, c.H,
                       scratch);
  CHECK(check("lstm: input", lstm_loss, &c, c.in, din, BT * c.C));
  CHECK(check("lstm: weight_ih", lstm_loss, &c, c.w_ih, dwi, G * c.C));
  CHECK(check("lstm: weight_hh", lstm_loss, &c, c.w_hh, dwh, G * c.H));
  CHECK(check("lstm: bias_ih", lstm_loss, &c, c.b_ih, dbi, G));
  CHECK(check("lstm: bias_hh", lstm_loss, &c, c.b_hh, dbh, G));
}

/* ---- additive attention ---- */
typedef struct {
  int B, T, H, A;
  double *in, *w, *b, *v, *R, *ctx, *u, *a;
} att_ctx;
static double att_loss(void *p) {
  att_ctx *c = p;
  nn_attention_forward_f64(c->ctx, c->u, c->a, c->in, c->w, c->b, c->v, c->B, c->T, c->H, c->A);
  return dot(c->ctx, c->R, c->B * c->H);
}

void nn_gradcheck_attention(void) {
  release_all();
  att_ctx c = {.B = 2, .T = 5, .H = 4, .A = 3};
  c.in = rand_vec(40), c.w = rand_vec(12), c.b = rand_vec(3), c.v = rand_vec(3), c.R = rand_vec(8);
  c.ctx = rand_vec(8), c.u = rand_vec(30), c.a = rand_vec(10);
  att_loss(&c);
  double *din = zeros(40), *dw = zeros(12), *db = zeros(3);
  double *dv = zeros(3), *scratch = zeros(5 * 3 + 5);
  nn_attention_backward_f64(din, dw, db, dv, c.R, c.in, c.u, c.a, c.w, c.v, 2, 5, 4, 3, scratch);
  CHECK(check("attention: input", att_loss, &c, c.in, din, 40));
  CHECK(check("attention: weight", att_loss, &c, c.w, dw, 12));
  CHECK(check("attention: bias", att_loss, &c, c.b, db, 3));
  CHECK(check("attention: v", att_loss, &c, c.v, dv, 3));
  release_all();
}

/* ---- multi-head causal self-attention (ALiBi) ---- */
typedef struct {
  int B, T, D, NH;
  double *in, *w_qkv, *b_qkv, *w_o, *b_o, *R, *out, *qkv, *att, *y;
} mha_ctx;
static double mha_loss(void *p) {
  mha_ctx *c = p;
  nn_mha_forward_f64(c->out, c->qkv, c->att, c->y, c->in, c->w_qkv, c->b_qkv, c->w_o, c->b_o, c->B, c->T, c->D, c->NH);
  return dot(c->out, c->R, c->B * c->T * c->D);
}

void nn_gradcheck_mha(void) {
  release_all();
  mha_ctx c = {.B = 2, .T = 4, .D = 6, .NH = 2};
  int BT = c.B * c.T, D = c.D;
  c.in = rand_vec(BT * D), c.w_qkv = rand_vec(3 * D * D), c.b_qkv = rand_vec(3 * D), c.w_o = rand_vec(D * D);
  c.b_o = rand_vec(D), c.R = rand_vec(BT * D), c.out = zeros((size_t)BT * D), c.qkv = zeros((size_t)BT * 3 * D);
  c.att = zeros((size_t)c.B * c.NH * c.T * c.T), c.y = zeros((size_t)BT * D);
  mha_loss(&c);
  /* causality: every attention row sums to 1 over keys up to the query, 0 after it */
  for (int r = 0; r < c.B * c.NH * c.T; r++) {
    int i = r % c.T;
    double s = 0;
    for (int j = 0; j < c.T; j++) {
      s += c.att[r * c.T + j];
      if (j > i) CHECK(c.att[r * c.T + j] == 0);
    }
    CHECK(fabs(s - 1) < 1e-12);
  }
  double *din = zeros((size_t)BT * D), *dwq = zeros((size_t)3 * D * D), *dbq = zeros((size_t)3 * D);
  double *dwo = zeros((size_t)D * D), *dbo = zeros((size_t)D), *scratch = zeros((size_t)BT * 4 * D + c.T);
  nn_mha_backward_f64(din, dwq, dbq, dwo, dbo, c.R, c.in, c.qkv, c.att, c.y, c.w_qkv, c.w_o, c.B, c.T, D, c.NH,
                      scratch);
  CHECK(check("mha: input", mha_loss, &c, c.in, din, BT * D));
  CHECK(check("mha: weight_qkv", mha_loss, &c, c.w_qkv, dwq, 3 * D * D));
  CHECK(check("mha: bias_qkv", mha_loss, &c, c.b_qkv, dbq, 3 * D));
  CHECK(check("mha: weight_out", mha_loss, &c, c.w_o, dwo, D * D));
  CHECK(check("mha: bias_out", mha_loss, &c, c.b_o, dbo, D));
  release_all();
}

/* ---- DeepLOB convolutions, pooling, leaky ReLU ---- */
typedef struct {
  int B, T, W, C, K, Cout, kind; /* kind 0: conv_w, 1: conv_t, 2: maxpool (C = W*C), 3: lrelu */
  double *in, *w, *b, *R, *out;
  int8_t *arg;
} conv_ctx;
static int conv_outn(const conv_ctx *c) {
  return c->kind == 0   ? c->B * c->T * (c->W / c->K) * c->Cout
         : c->kind == 1 ? c->B * c->T * c->W * c->Cout
                        : c->B * c->T * c->W * c->C;
}
static double conv_loss(void *p) {
  conv_ctx *c = p;
  if (c->kind == 0) nn_conv_w_forward_f64(c->out, c->in, c->w, c->b, c->B, c->T, c->W, c->C, c->K, c->Cout);
  if (c->kind == 1) nn_conv_t_forward_f64(c->out, c->in, c->w, c->b, c->B, c->T, c->W, c->C, c->K, c->Cout);
  if (c->kind == 2) nn_maxpool3_t_forward_f64(c->out, c->arg, c->in, c->B, c->T, c->W * c->C);
  if (c->kind == 3) nn_lrelu_forward_f64(c->out, c->in, c->B * c->T * c->W * c->C);
  return dot(c->out, c->R, conv_outn(c));
}

void nn_gradcheck_convolutions(void) {
  release_all();
  static const int cases[][7] = {/* B, T, W, C, K, Cout, kind */
                                 {2, 3, 8, 3, 2, 4, 0}, {2, 2, 4, 2, 4, 3, 0}, {2, 6, 3, 3, 4, 4, 1},
                                 {1, 5, 2, 2, 3, 3, 1}, {1, 7, 1, 2, 5, 2, 1}, {2, 5, 3, 2, 1, 1, 2},
                                 {2, 3, 2, 2, 1, 1, 3}};
  static const char *const names[] = {"conv (1,2)/2",    "conv (1,4)/4",  "conv (4,1) same", "conv (3,1) same",
                                      "conv (5,1) same", "maxpool (3,1)", "leaky relu"};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    conv_ctx c = {.B = cases[k][0],
                  .T = cases[k][1],
                  .W = cases[k][2],
                  .C = cases[k][3],
                  .K = cases[k][4],
                  .Cout = cases[k][5],
                  .kind = cases[k][6]};
    int nin = c.B * c.T * c.W * c.C, nw = c.Cout * c.K * c.C, nout = conv_outn(&c);
    c.in = rand_vec(nin), c.w = rand_vec(nw), c.b = rand_vec(c.Cout), c.R = rand_vec(nout), c.out = zeros((size_t)nout);
    c.arg = (int8_t *)zeros((size_t)nout);
    conv_loss(&c);
    double *din = zeros((size_t)nin), *dw = zeros((size_t)nw), *db = zeros((size_t)c.Cout);
    if (c.kind == 0) nn_conv_w_backward_f64(din, dw, db, c.R, c.in, c.w, c.B, c.T, c.W, c.C, c.K, c.Cout);
    if (c.kind == 1) nn_conv_t_backward_f64(din, dw, db, c.R, c.in, c.w, c.B, c.T, c.W, c.C, c.K, c.Cout);
    if (c.kind == 2) nn_maxpool3_t_backward_f64(din, c.R, c.arg, c.B, c.T, c.W * c.C);
    if (c.kind == 3) nn_lrelu_backward_f64(din, c.R, c.in, nin);
    char what[64];
    snprintf(what, sizeof what, "%s: input", names[k]);
    CHECK(check(what, conv_loss, &c, c.in, din, nin));
    if (c.kind <= 1) {
      snprintf(what, sizeof what, "%s: weight", names[k]);
      CHECK(check(what, conv_loss, &c, c.w, dw, nw));
      snprintf(what, sizeof what, "%s: bias", names[k]);
      CHECK(check(what, conv_loss, &c, c.b, db, c.Cout));
    }
  }
  release_all();
}
