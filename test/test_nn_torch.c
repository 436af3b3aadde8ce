/* test_nn_torch.c — the float kernels of nn.h against PyTorch. The fixtures under
 * test/fixtures/nn/<layer>/ are written by tools/gen_nn_fixtures.py (PyTorch 1.13, computed
 * in float64 from float32-representable inputs, saved as float32; (B, T, X) tensors are
 * stored as (B*T, X)). Each test runs a layer forward and backward (gradient buffers zeroed,
 * since backward kernels accumulate) and compares every output, cache and gradient within
 * |got - want| <= 1e-4 * max(1, |want|), printing the worst error of each tensor. A second
 * backward pass on the same buffers must give twice the gradients (the += contract).
 * Regenerate the fixtures with: /usr/bin/python3 tools/gen_nn_fixtures.py */
#include <math.h>
#include <stdlib.h>

#include "obi/nn.h"
#include "obi/npy.h"
#include "test.h"

#define TOL 1e-4
/* The scratch nn_lstm_backward takes, as nn.h states it. */
#define LSTM_SCRATCH(B, T, H) (2 * (B) * (H) + 4 * (B) * (T) * (H))

/* Shapes of the fixtures (tools/gen_nn_fixtures.py). */
enum { FX_B = 2, FX_T = 5, FX_C = 4, FX_H = 3, FX_A = 3, FX_N = 6, FX_K = 3, FX_OC = 3, FX_LN_C = 5, FX_ACT_N = 32 };

/* Everything a test loads or allocates is registered here and released by fx_release(),
 * which each test calls after its body, so an early return from CHECK leaks nothing. */
#define FX_MAX 64
static npy_array fx_arrays[FX_MAX];
static int fx_narrays;
static void *fx_blocks[FX_MAX];
static int fx_nblocks;

static void fx_release(void) {
  for (int i = 0; i < fx_narrays; i++) npy_free(&fx_arrays[i]);
  for (int i = 0; i < fx_nblocks; i++) free(fx_blocks[i]);
  fx_narrays = fx_nblocks = 0;
}

/* Loads test/fixtures/nn/<layer>/<name>.npy with dtype descr and shape (rows, cols), cols 0
 * for a 1-D array; NULL (after test_fail) when missing or of another dtype or shape. */
static void *fx_load(const char *layer, const char *name, const char *descr, size_t rows, size_t cols) {
  char path[512], why[256] = "";
  snprintf(path, sizeof path, "%s/test/fixtures/nn/%s/%s.npy", OBI_SOURCE_DIR, layer, name);
  if (fx_narrays == FX_MAX) {
    test_fail(__FILE__, __LINE__, "too many fixtures");
    return NULL;
  }
  npy_array *a = &fx_arrays[fx_narrays];
  obi_err e = npy_read(a, path, why, sizeof why);
  if (e != OBI_OK) {
    test_fail(__FILE__, __LINE__, "%s: npy_read error %d %s (run tools/gen_nn_fixtures.py)", path, (int)e, why);
    return NULL;
  }
  fx_narrays++;
  int ndim = cols ? 2 : 1;
  if (strcmp(a->descr, descr) || a->ndim != ndim || a->shape[0] != rows || (ndim == 2 && a->shape[1] != cols)) {
    test_fail(__FILE__, __LINE__, "%s: %s with %d dims (%llu, %llu), want %s (%zu, %zu)", path, a->descr, a->ndim,
              (unsigned long long)a->shape[0], (unsigned long long)(a->ndim == 2 ? a->shape[1] : 0), descr, rows, cols);
    return NULL;
  }
  return a->data;
}

#define LOADF(var, layer, name, rows, cols)                                                                            \
  const float *var = fx_load(layer, name, "<f4", rows, cols);                                                          \
  if (!var) return

/* Zeroed floats, released by fx_release(). */
static float *fx_zeros(size_t n) {
  float *p = calloc(n ? n : 1, sizeof *p);
  if (p && fx_nblocks < FX_MAX) {
    fx_blocks[fx_nblocks++] = p;
    return p;
  }
  free(p);
  test_fail(__FILE__, __LINE__, "out of memory");
  return NULL;
}

#define ZEROS(var, n)                                                                                                  \
  float *var = fx_zeros(n);                                                                                            \
  if (!var) return

/* Compares got to scale * want: prints the worst relative error, calls test_fail (and
 * returns 0) if it is above tol. The test goes on, so every tensor gets reported. */
static int close_to(int line, const char *what, const float *got, const float *want, size_t n, double scale,
                    double tol) {
  double worst = 0;
  size_t at = 0;
  int nonfinite = 0;
  for (size_t i = 0; i < n; i++) {
    double w = scale * (double)want[i], g = got[i];
    double err = fabs(g - w) / fmax(1.0, fabs(w));
    if (!isfinite(g)) nonfinite = 1, err = INFINITY;
    if (err > worst) worst = err, at = i;
  }
  printf("# %-36s worst rel err %.3g (n=%zu)\n", what, worst, n);
  if (nonfinite || !(worst <= tol)) {
    test_fail(__FILE__, line, "%s[%zu]: got %.9g, want %.9g (rel err %.3g > %.3g)", what, at, (double)got[at],
              scale * (double)want[at], worst, tol);
    return 0;
  }
  return 1;
}

#define COMPARE(what, got, want, n) close_to(__LINE__, what, got, want, n, 1.0, TOL)
#define COMPARE2(what, got, want, n) close_to(__LINE__, what " (2 passes)", got, want, n, 2.0, TOL)

/* ---- linear ---- */

static void linear_body(void) {
  const int N = FX_N, C = FX_C, OC = FX_OC;
  LOADF(in, "linear", "in", N, C);
  LOADF(w, "linear", "w", OC, C);
  LOADF(b, "linear", "b", OC, 0);
  LOADF(out_t, "linear", "out", N, OC);
  LOADF(dout, "linear", "dout", N, OC);
  LOADF(din_t, "linear", "din", N, C);
  LOADF(dw_t, "linear", "dw", OC, C);
  LOADF(db_t, "linear", "db", OC, 0);

  ZEROS(out, N * OC);
  ZEROS(out_ref, N * OC);
  nn_linear_forward(out, in, w, b, N, C, OC);
  nn_linear_forward_ref(out_ref, in, w, b, N, C, OC);
  COMPARE("linear out", out, out_t, N * OC);
  COMPARE("linear out (ref)", out_ref, out_t, N * OC);
  COMPARE("linear out vs ref", out, out_ref, N * OC);

  /* no bias: torch's out - b */
  ZEROS(out_nb, N * OC);
  ZEROS(want_nb, N * OC);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) want_nb[n * OC + o] = out_t[n * OC + o] - b[o];
  nn_linear_forward(out_nb, in, w, NULL, N, C, OC);
  COMPARE("linear out (no bias)", out_nb, want_nb, N * OC);
  nn_linear_forward_ref(out_nb, in, w, NULL, N, C, OC);
  COMPARE("linear out (no bias, ref)", out_nb, want_nb, N * OC);

  ZEROS(din, N * C);
  ZEROS(dw, OC * C);
  ZEROS(db, OC);
  nn_linear_backward(din, dw, db, dout, in, w, N, C, OC);
  COMPARE("linear din", din, din_t, N * C);
  COMPARE("linear dw", dw, dw_t, OC * C);
  COMPARE("linear db", db, db_t, OC);
  nn_linear_backward(din, dw, db, dout, in, w, N, C, OC);
  COMPARE2("linear din", din, din_t, N * C);
  COMPARE2("linear dw", dw, dw_t, OC * C);
  COMPARE2("linear db", db, db_t, OC);

  /* din and db may be NULL */
  ZEROS(dw_only, OC * C);
  nn_linear_backward(NULL, dw_only, NULL, dout, in, w, N, C, OC);
  COMPARE("linear dw (din, db NULL)", dw_only, dw_t, OC * C);

  /* BLAS against the plain loop on a shape large enough to leave any small-matrix path */
  enum { BN = 37, BC = 29, BOC = 13 };
  ZEROS(bin, BN * BC);
  ZEROS(bw, BOC * BC);
  ZEROS(bb, BOC);
  ZEROS(bout, BN * BOC);
  ZEROS(bout_ref, BN * BOC);
  uint64_t s = 0x9E3779B97F4A7C15ull;
  float *fill[] = {bin, bw, bb};
  size_t len[] = {BN * BC, BOC * BC, BOC};
  for (int k = 0; k < 3; k++)
    for (size_t i = 0; i < len[k]; i++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      fill[k][i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
  nn_linear_forward(bout, bin, bw, bb, BN, BC, BOC);
  nn_linear_forward_ref(bout_ref, bin, bw, bb, BN, BC, BOC);
  COMPARE("linear 37x29->13 vs ref", bout, bout_ref, BN * BOC);
}

void nn_linear_matches_torch(void) {
  linear_body();
  fx_release();
}

/* ---- layer norm ---- */

static void layernorm_body(void) {
  const int N = FX_N, C = FX_LN_C;
  LOADF(in, "layernorm", "in", N, C);
  LOADF(g, "layernorm", "g", C, 0);
  LOADF(b, "layernorm", "b", C, 0);
  LOADF(out_t, "layernorm", "out", N, C);
  LOADF(mean_t, "layernorm", "mean", N, 0);
  LOADF(rstd_t, "layernorm", "rstd", N, 0);
  LOADF(dout, "layernorm", "dout", N, C);
  LOADF(din_t, "layernorm", "din", N, C);
  LOADF(dg_t, "layernorm", "dg", C, 0);
  LOADF(db_t, "layernorm", "db", C, 0);

  ZEROS(out, N * C);
  ZEROS(mean, N);
  ZEROS(rstd, N);
  nn_layernorm_forward(out, mean, rstd, in, g, b, N, C);
  COMPARE("layernorm out", out, out_t, N * C);
  COMPARE("layernorm mean", mean, mean_t, N);
  COMPARE("layernorm rstd", rstd, rstd_t, N);

  ZEROS(din, N * C);
  ZEROS(dg, C);
  ZEROS(db, C);
  nn_layernorm_backward(din, dg, db, dout, in, g, mean, rstd, N, C);
  COMPARE("layernorm din", din, din_t, N * C);
  COMPARE("layernorm dg", dg, dg_t, C);
  COMPARE("layernorm db", db, db_t, C);
  nn_layernorm_backward(din, dg, db, dout, in, g, mean, rstd, N, C);
  COMPARE2("layernorm din", din, din_t, N * C);
  COMPARE2("layernorm dg", dg, dg_t, C);
  COMPARE2("layernorm db", db, db_t, C);
}

void nn_layernorm_matches_torch(void) {
  layernorm_body();
  fx_release();
}

/* ---- ReLU, GELU ---- */

static void activations_body(void) {
  const int n = FX_ACT_N;
  LOADF(in, "act", "in", n, 0);
  LOADF(dout, "act", "dout", n, 0);
  LOADF(relu_out_t, "act", "relu_out", n, 0);
  LOADF(relu_din_t, "act", "relu_din", n, 0);
  LOADF(gelu_out_t, "act", "gelu_out", n, 0);
  LOADF(gelu_din_t, "act", "gelu_din", n, 0);

  ZEROS(out, n);
  ZEROS(din, n);
  nn_relu_forward(out, in, n);
  COMPARE("relu out", out, relu_out_t, n);
  nn_relu_backward(din, dout, in, n);
  COMPARE("relu din", din, relu_din_t, n);
  nn_relu_backward(din, dout, in, n);
  COMPARE2("relu din", din, relu_din_t, n);

  ZEROS(gout, n);
  ZEROS(gdin, n);
  nn_gelu_forward(gout, in, n);
  COMPARE("gelu out", gout, gelu_out_t, n);
  nn_gelu_backward(gdin, dout, in, n);
  COMPARE("gelu din", gdin, gelu_din_t, n);
  nn_gelu_backward(gdin, dout, in, n);
  COMPARE2("gelu din", gdin, gelu_din_t, n);
}

void nn_activations_match_torch(void) {
  activations_body();
  fx_release();
}

/* ---- softmax cross-entropy with class weights ---- */

static void xent_body(void) {
  const int N = FX_N, K = FX_K;
  LOADF(logits, "xent", "logits", N, K);
  const int32_t *targets = fx_load("xent", "targets", "<i4", N, 0);
  if (!targets) return;
  LOADF(class_w, "xent", "class_w", K, 0);
  LOADF(probs_t, "xent", "probs", N, K);
  LOADF(loss_t, "xent", "loss", 1, 0);
  LOADF(dlogits_t, "xent", "dlogits", N, K);
  LOADF(loss_now_t, "xent", "loss_now", 1, 0);
  LOADF(dlogits_now_t, "xent", "dlogits_now", N, K);

  ZEROS(probs, N * K);
  ZEROS(dlogits, N * K);
  float loss = nn_xent_forward(probs, logits, targets, class_w, N, K);
  COMPARE("xent probs", probs, probs_t, N * K);
  COMPARE("xent loss (weighted)", &loss, loss_t, 1);
  nn_xent_backward(dlogits, probs, targets, class_w, N, K);
  COMPARE("xent dlogits (weighted)", dlogits, dlogits_t, N * K);
  nn_xent_backward(dlogits, probs, targets, class_w, N, K);
  COMPARE2("xent dlogits (weighted)", dlogits, dlogits_t, N * K);

  /* class_w NULL: plain mean, like CrossEntropyLoss() */
  ZEROS(probs2, N * K);
  ZEROS(dlogits2, N * K);
  float loss_now = nn_xent_forward(probs2, logits, targets, NULL, N, K);
  COMPARE("xent probs (no weights)", probs2, probs_t, N * K);
  COMPARE("xent loss (no weights)", &loss_now, loss_now_t, 1);
  nn_xent_backward(dlogits2, probs2, targets, NULL, N, K);
  COMPARE("xent dlogits (no weights)", dlogits2, dlogits_now_t, N * K);
}

void nn_xent_matches_torch(void) {
  xent_body();
  fx_release();
}

/* ---- LSTM ---- */

static void lstm_body(void) {
  const int B = FX_B, T = FX_T, C = FX_C, H = FX_H;
  LOADF(in, "lstm", "in", B * T, C);
  LOADF(w_ih, "lstm", "w_ih", 4 * H, C);
  LOADF(w_hh, "lstm", "w_hh", 4 * H, H);
  LOADF(b_ih, "lstm", "b_ih", 4 * H, 0);
  LOADF(b_hh, "lstm", "b_hh", 4 * H, 0);
  LOADF(h_t, "lstm", "h", B * T, H);
  LOADF(c_t, "lstm", "c", B * T, H);
  LOADF(gates_t, "lstm", "gates", B * T, 4 * H);
  LOADF(dh, "lstm", "dh", B * T, H);
  LOADF(din_t, "lstm", "din", B * T, C);
  LOADF(dw_ih_t, "lstm", "dw_ih", 4 * H, C);
  LOADF(dw_hh_t, "lstm", "dw_hh", 4 * H, H);
  LOADF(db_ih_t, "lstm", "db_ih", 4 * H, 0);
  LOADF(db_hh_t, "lstm", "db_hh", 4 * H, 0);

  ZEROS(h, B * T * H);
  ZEROS(c, B * T * H);
  ZEROS(gates, B * T * 4 * H);
  nn_lstm_forward(h, c, gates, in, w_ih, w_hh, b_ih, b_hh, B, T, C, H);
  COMPARE("lstm h", h, h_t, B * T * H);
  COMPARE("lstm c (cache)", c, c_t, B * T * H);
  COMPARE("lstm gates (cache)", gates, gates_t, B * T * 4 * H);

  ZEROS(din, B * T * C);
  ZEROS(dw_ih, 4 * H * C);
  ZEROS(dw_hh, 4 * H * H);
  ZEROS(db_ih, 4 * H);
  ZEROS(db_hh, 4 * H);
  ZEROS(scratch, LSTM_SCRATCH(B, T, H));
  nn_lstm_backward(din, dw_ih, dw_hh, db_ih, db_hh, dh, in, h, c, gates, w_ih, w_hh, B, T, C, H, scratch);
  COMPARE("lstm din", din, din_t, B * T * C);
  COMPARE("lstm dw_ih", dw_ih, dw_ih_t, 4 * H * C);
  COMPARE("lstm dw_hh", dw_hh, dw_hh_t, 4 * H * H);
  COMPARE("lstm db_ih", db_ih, db_ih_t, 4 * H);
  COMPARE("lstm db_hh", db_hh, db_hh_t, 4 * H);
  nn_lstm_backward(din, dw_ih, dw_hh, db_ih, db_hh, dh, in, h, c, gates, w_ih, w_hh, B, T, C, H, scratch);
  COMPARE2("lstm din", din, din_t, B * T * C);
  COMPARE2("lstm dw_ih", dw_ih, dw_ih_t, 4 * H * C);
  COMPARE2("lstm dw_hh", dw_hh, dw_hh_t, 4 * H * H);
  COMPARE2("lstm db_ih", db_ih, db_ih_t, 4 * H);
  COMPARE2("lstm db_hh", db_hh, db_hh_t, 4 * H);

  /* nn_lstm_step over each sequence from zero state reproduces nn_lstm_forward's h and c */
  ZEROS(step_h, B * T * H);
  ZEROS(step_c, B * T * H);
  ZEROS(sh, H);
  ZEROS(sc, H);
  ZEROS(sgates, 4 * H);
  for (int b = 0; b < B; b++) {
    memset(sh, 0, H * sizeof *sh);
    memset(sc, 0, H * sizeof *sc);
    for (int t = 0; t < T; t++) {
      nn_lstm_step(sh, sc, sgates, in + (b * T + t) * C, w_ih, w_hh, b_ih, b_hh, C, H);
      memcpy(step_h + (b * T + t) * H, sh, H * sizeof *sh);
      memcpy(step_c + (b * T + t) * H, sc, H * sizeof *sc);
    }
  }
  close_to(__LINE__, "lstm step h vs forward", step_h, h, B * T * H, 1.0, 1e-5);
  close_to(__LINE__, "lstm step c vs forward", step_c, c, B * T * H, 1.0, 1e-5);
}

void nn_lstm_matches_torch(void) {
  lstm_body();
  fx_release();
}

/* ---- additive attention ---- */

static void attention_body(void) {
  const int B = FX_B, T = FX_T, H = FX_H, A = FX_A;
  LOADF(in, "attention", "in", B * T, H);
  LOADF(w, "attention", "w", A, H);
  LOADF(b, "attention", "b", A, 0);
  LOADF(v, "attention", "v", A, 0);
  LOADF(u_t, "attention", "u", B * T, A);
  LOADF(a_t, "attention", "a", B, T);
  LOADF(ctx_t, "attention", "ctx", B, H);
  LOADF(dctx, "attention", "dctx", B, H);
  LOADF(din_t, "attention", "din", B * T, H);
  LOADF(dw_t, "attention", "dw", A, H);
  LOADF(db_t, "attention", "db", A, 0);
  LOADF(dv_t, "attention", "dv", A, 0);

  ZEROS(ctx, B * H);
  ZEROS(u, B * T * A);
  ZEROS(a, B * T);
  nn_attention_forward(ctx, u, a, in, w, b, v, B, T, H, A);
  COMPARE("attention ctx", ctx, ctx_t, B * H);
  COMPARE("attention u (cache)", u, u_t, B * T * A);
  COMPARE("attention a (cache)", a, a_t, B * T);

  ZEROS(din, B * T * H);
  ZEROS(dw, A * H);
  ZEROS(db, A);
  ZEROS(dv, A);
  ZEROS(scratch, T * A + T);
  nn_attention_backward(din, dw, db, dv, dctx, in, u, a, w, v, B, T, H, A, scratch);
  COMPARE("attention din", din, din_t, B * T * H);
  COMPARE("attention dw", dw, dw_t, A * H);
  COMPARE("attention db", db, db_t, A);
  COMPARE("attention dv", dv, dv_t, A);
  nn_attention_backward(din, dw, db, dv, dctx, in, u, a, w, v, B, T, H, A, scratch);
  COMPARE2("attention din", din, din_t, B * T * H);
  COMPARE2("attention dw", dw, dw_t, A * H);
  COMPARE2("attention db", db, db_t, A);
  COMPARE2("attention dv", dv, dv_t, A);
}

void nn_attention_matches_torch(void) {
  attention_body();
  fx_release();
}

/* ---- multi-head causal self-attention with ALiBi ---- */

/* Shapes of test/fixtures/nn/mha/ (gen_mha in tools/gen_nn_fixtures.py). */
enum { FX_MHA_D = 8, FX_MHA_NH = 2 };
/* The scratch nn_mha_backward takes, as nn.h states it. */
#define MHA_SCRATCH(B, T, D) (3 * (B) * (T) * (D) + (B) * (T) * (D) + (T))

static void mha_body(void) {
  const int B = FX_B, T = FX_T, D = FX_MHA_D, NH = FX_MHA_NH;
  LOADF(in, "mha", "in", B * T, D);
  LOADF(w_qkv, "mha", "w_qkv", 3 * D, D);
  LOADF(b_qkv, "mha", "b_qkv", 3 * D, 0);
  LOADF(w_o, "mha", "w_o", D, D);
  LOADF(b_o, "mha", "b_o", D, 0);
  LOADF(out_t, "mha", "out", B * T, D);
  LOADF(qkv_t, "mha", "qkv", B * T, 3 * D);
  LOADF(att_t, "mha", "att", B * NH * T, T);
  LOADF(y_t, "mha", "y", B * T, D);
  LOADF(dout, "mha", "dout", B * T, D);
  LOADF(din_t, "mha", "din", B * T, D);
  LOADF(dw_qkv_t, "mha", "dw_qkv", 3 * D, D);
  LOADF(db_qkv_t, "mha", "db_qkv", 3 * D, 0);
  LOADF(dw_o_t, "mha", "dw_o", D, D);
  LOADF(db_o_t, "mha", "db_o", D, 0);

  ZEROS(out, B * T * D);
  ZEROS(qkv, B * T * 3 * D);
  ZEROS(att, B * NH * T * T);
  ZEROS(y, B * T * D);
  /* NaN everywhere first: the forward pass must write every output and cache value (the
   * zeros of att above the diagonal included), and backward must not read stale scratch */
  float *fill[] = {out, qkv, att, y};
  size_t len[] = {B * T * D, B * T * 3 * D, B * NH * T * T, B * T * D};
  for (int k = 0; k < 4; k++)
    for (size_t i = 0; i < len[k]; i++) fill[k][i] = NAN;
  nn_mha_forward(out, qkv, att, y, in, w_qkv, b_qkv, w_o, b_o, B, T, D, NH);
  COMPARE("mha out", out, out_t, B * T * D);
  COMPARE("mha qkv (cache)", qkv, qkv_t, B * T * 3 * D);
  COMPARE("mha att (cache)", att, att_t, B * NH * T * T);
  /* keys after the query are masked: the cached softmax is exactly 0 above the diagonal */
  for (int r = 0, bad = 0; r < B * NH * T && !bad; r++)
    for (int j = r % T + 1; j < T && !bad; j++)
      if (att[r * T + j] != 0)
        bad = 1, test_fail(__FILE__, __LINE__, "mha att[%d][%d] = %.9g above the diagonal, want 0", r, j,
                           (double)att[r * T + j]);
  COMPARE("mha y (cache)", y, y_t, B * T * D);

  ZEROS(din, B * T * D);
  ZEROS(dw_qkv, 3 * D * D);
  ZEROS(db_qkv, 3 * D);
  ZEROS(dw_o, D * D);
  ZEROS(db_o, D);
  ZEROS(scratch, MHA_SCRATCH(B, T, D));
  for (size_t i = 0; i < MHA_SCRATCH(B, T, D); i++) scratch[i] = NAN;
  nn_mha_backward(din, dw_qkv, db_qkv, dw_o, db_o, dout, in, qkv, att, y, w_qkv, w_o, B, T, D, NH, scratch);
  COMPARE("mha din", din, din_t, B * T * D);
  COMPARE("mha dw_qkv", dw_qkv, dw_qkv_t, 3 * D * D);
  COMPARE("mha db_qkv", db_qkv, db_qkv_t, 3 * D);
  COMPARE("mha dw_o", dw_o, dw_o_t, D * D);
  COMPARE("mha db_o", db_o, db_o_t, D);
  nn_mha_backward(din, dw_qkv, db_qkv, dw_o, db_o, dout, in, qkv, att, y, w_qkv, w_o, B, T, D, NH, scratch);
  COMPARE2("mha din", din, din_t, B * T * D);
  COMPARE2("mha dw_qkv", dw_qkv, dw_qkv_t, 3 * D * D);
  COMPARE2("mha db_qkv", db_qkv, db_qkv_t, 3 * D);
  COMPARE2("mha dw_o", dw_o, dw_o_t, D * D);
  COMPARE2("mha db_o", db_o, db_o_t, D);
}

void nn_mha_matches_torch(void) {
  mha_body();
  fx_release();
}

/* ---- DeepLOB layers: channels-last convolutions, max-pool along time, leaky ReLU ---- */

/* The fixtures under test/fixtures/nn/conv/ (gen_conv_w, gen_conv_t, gen_maxpool, gen_lrelu in
 * tools/gen_nn_fixtures.py) are channels-last: activations (B, T, W, C) stored as (B*T, W*C),
 * weights (Cout, kh, kw, Cin) stored as (Cout, kh*kw*Cin). */
enum { FX_POOL_B = 2, FX_POOL_T = 5, FX_POOL_WC = 6, FX_LRELU_N = 20 };

typedef void (*conv_fwd_fn)(float *, const float *, const float *, const float *, int, int, int, int, int, int);
typedef void (*conv_bwd_fn)(float *, float *, float *, const float *, const float *, const float *, int, int, int, int,
                            int, int);

static void fx_nan(float *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = NAN;
}

/* One convolution case: forward into NaN-filled outputs, backward twice (the += contract). Wo is
 * the output width: W / K for conv_w, W for conv_t. */
static void conv_body(const char *name, conv_fwd_fn fwd, conv_bwd_fn bwd, int B, int T, int W, int C, int K, int Cout,
                      int Wo) {
  char layer[64], what[96];
  snprintf(layer, sizeof layer, "conv/%s", name);
  const size_t nin = (size_t)B * T * W * C, nout = (size_t)B * T * Wo * Cout, nw = (size_t)Cout * K * C;
  LOADF(in, layer, "in", B * T, W * C);
  LOADF(w, layer, "w", Cout, K * C);
  LOADF(b, layer, "b", Cout, 0);
  LOADF(out_t, layer, "out", B * T, Wo * Cout);
  LOADF(dout, layer, "dout", B * T, Wo * Cout);
  LOADF(din_t, layer, "din", B * T, W * C);
  LOADF(dw_t, layer, "dw", Cout, K * C);
  LOADF(db_t, layer, "db", Cout, 0);
#define CONV_CMP(label, got, want, n, scale)                                                                           \
  (snprintf(what, sizeof what, "%s %s%s", name, label, (scale) == 2.0 ? " (2 passes)" : ""),                           \
   close_to(__LINE__, what, got, want, n, scale, TOL))

  ZEROS(out, nout);
  fx_nan(out, nout); /* the forward pass must write every output */
  fwd(out, in, w, b, B, T, W, C, K, Cout);
  CONV_CMP("out", out, out_t, nout, 1.0);

  ZEROS(din, nin);
  ZEROS(dw, nw);
  ZEROS(db, Cout);
  bwd(din, dw, db, dout, in, w, B, T, W, C, K, Cout);
  CONV_CMP("din", din, din_t, nin, 1.0);
  CONV_CMP("dw", dw, dw_t, nw, 1.0);
  CONV_CMP("db", db, db_t, Cout, 1.0);
  bwd(din, dw, db, dout, in, w, B, T, W, C, K, Cout);
  CONV_CMP("din", din, din_t, nin, 2.0);
  CONV_CMP("dw", dw, dw_t, nw, 2.0);
  CONV_CMP("db", db, db_t, Cout, 2.0);
#undef CONV_CMP
}

/* conv_w: kernel (1, K), stride (1, K) along the width; K = 2 and K = W (the whole width). */
void nn_conv_w_matches_torch(void) {
  conv_body("w_k2", nn_conv_w_forward, nn_conv_w_backward, 2, 3, 8, 3, 2, 4, 8 / 2);
  fx_release();
  conv_body("w_kw", nn_conv_w_forward, nn_conv_w_backward, 2, 3, 4, 2, 4, 5, 4 / 4);
  fx_release();
}

/* conv_t: kernel (K, 1) along time, TensorFlow 'same' padding ((K-1)/2 before, the rest after):
 * K = 4 (asymmetric: 1 before, 2 after), 3 and 5. */
void nn_conv_t_matches_torch(void) {
  conv_body("t_k4", nn_conv_t_forward, nn_conv_t_backward, 2, 6, 3, 3, 4, 4, 3);
  fx_release();
  conv_body("t_k3", nn_conv_t_forward, nn_conv_t_backward, 2, 5, 2, 2, 3, 3, 2);
  fx_release();
  conv_body("t_k5", nn_conv_t_forward, nn_conv_t_backward, 2, 4, 2, 3, 5, 2, 2);
  fx_release();
}

static void maxpool_lrelu_body(void) {
  const int B = FX_POOL_B, T = FX_POOL_T, WC = FX_POOL_WC, n = B * T * WC;
  LOADF(in, "conv/maxpool", "in", B * T, WC);
  LOADF(out_t, "conv/maxpool", "out", B * T, WC);
  const int32_t *arg_t = fx_load("conv/maxpool", "arg", "<i4", B * T, WC);
  if (!arg_t) return;
  LOADF(dout, "conv/maxpool", "dout", B * T, WC);
  LOADF(din_t, "conv/maxpool", "din", B * T, WC);

  ZEROS(out, n);
  fx_nan(out, n);
  int8_t *arg = (int8_t *)fx_zeros(n); /* n floats hold n bytes */
  if (!arg) return;
  memset(arg, 99, n);
  nn_maxpool3_t_forward(out, arg, in, B, T, WC);
  COMPARE("maxpool out", out, out_t, n);
  /* the winning offsets are torch's return_indices (the fixture has no ties) */
  for (int i = 0; i < n; i++)
    if (arg[i] != arg_t[i]) {
      test_fail(__FILE__, __LINE__, "maxpool arg[%d] (row %d, col %d) = %d, want %d", i, i / WC, i % WC, arg[i],
                arg_t[i]);
      break;
    }
  ZEROS(din, n);
  nn_maxpool3_t_backward(din, dout, arg, B, T, WC);
  COMPARE("maxpool din", din, din_t, n);
  nn_maxpool3_t_backward(din, dout, arg, B, T, WC);
  COMPARE2("maxpool din", din, din_t, n);

  /* ties (not in the fixture; torch takes the earliest row, nn.c the centre): the centre wins
   * over either neighbour, then -1 over +1. Columns: all equal; -1 = +1 above the centre. */
  const float tie_in[3 * 2] = {1, 2, 1, 0, 1, 2};
  const int8_t tie_arg[3 * 2] = {0, 0, 0, -1, 0, 0};
  float tie_out[3 * 2];
  int8_t tie_got[3 * 2];
  nn_maxpool3_t_forward(tie_out, tie_got, tie_in, 1, 3, 2);
  for (int i = 0; i < 6; i++)
    if (tie_got[i] != tie_arg[i]) {
      test_fail(__FILE__, __LINE__, "maxpool tie arg[%d] = %d, want %d", i, tie_got[i], tie_arg[i]);
      break;
    }

  const int m = FX_LRELU_N;
  LOADF(lin, "conv/lrelu", "in", m, 0);
  LOADF(lout_t, "conv/lrelu", "out", m, 0);
  LOADF(ldout, "conv/lrelu", "dout", m, 0);
  LOADF(ldin_t, "conv/lrelu", "din", m, 0);
  ZEROS(lout, m);
  fx_nan(lout, m);
  nn_lrelu_forward(lout, lin, m);
  COMPARE("lrelu out", lout, lout_t, m);
  ZEROS(ldin, m);
  nn_lrelu_backward(ldin, ldout, lin, m);
  COMPARE("lrelu din", ldin, ldin_t, m);
  nn_lrelu_backward(ldin, ldout, lin, m);
  COMPARE2("lrelu din", ldin, ldin_t, m);
}

void nn_maxpool_lrelu_match_torch(void) {
  maxpool_lrelu_body();
  fx_release();
}
