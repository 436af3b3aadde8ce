/* nn.c — the layer kernels of nn.h: forward/backward pairs, outputs first.
 *
 * Matrix products use cblas (OpenBLAS) with row-major layouts; each kernel that uses BLAS has
 * a plain-loop reference. Backward kernels accumulate into their gradients. The file is compiled
 * twice, as float and (NN_DOUBLE) as double, for the finite-difference gradient checks. */
#include "obi/nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#ifdef NN_DOUBLE
#define GEMM cblas_dgemm
#define GEMV cblas_dgemv
#define RSQRT(x) (1.0 / sqrt(x))
#define EXP exp
#define LOG log
#define TANH tanh
#define ERF erf
#else
#define GEMM cblas_sgemm
#define GEMV cblas_sgemv
#define RSQRT(x) (1.0f / sqrtf(x))
#define EXP expf
#define LOG logf
#define TANH tanhf
#define ERF erff
#endif

/* ---- linear ---- */

void NN(nn_linear_forward)(real *out, const real *in, const real *w, const real *b, int N, int C, int OC) {
  if ((size_t)N * (size_t)C * (size_t)OC <= 8192) { /* streaming steps (one row): a BLAS call costs more than
                                                       the arithmetic (3,700 instructions for 1 x 91 x 3) */
    NN(nn_linear_forward_ref)(out, in, w, b, N, C, OC);
    return;
  }
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) out[n * OC + o] = b ? b[o] : 0;
  /* out (N, OC) += in (N, C) w^T */
  GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1, in, C, w, C, 1, out, OC);
}

void NN(nn_linear_forward_ref)(real *out, const real *in, const real *w, const real *b, int N, int C, int OC) {
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      real s = b ? b[o] : 0;
      for (int c = 0; c < C; c++) s += in[n * C + c] * w[o * C + c];
      out[n * OC + o] = s;
    }
}

void NN(nn_linear_backward)(real *din, real *dw, real *db, const real *dout, const real *in, const real *w, int N,
                            int C, int OC) {
  /* din (N, C) += dout (N, OC) w (OC, C); dw (OC, C) += dout^T (OC, N) in (N, C) */
  if (din) GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1, dout, OC, w, C, 1, din, C);
  GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1, dout, OC, in, C, 1, dw, C);
  if (db)
    for (int n = 0; n < N; n++)
      for (int o = 0; o < OC; o++) db[o] += dout[n * OC + o];
}

/* ---- layer norm ---- */

void NN(nn_layernorm_forward)(real *out, real *mean, real *rstd, const real *in, const real *g, const real *b, int N,
                              int C) {
  for (int n = 0; n < N; n++) {
    const real *x = in + n * C;
    real m = 0, v = 0;
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
    v /= C;
    real s = RSQRT(v + (real)1e-5);
    for (int c = 0; c < C; c++) out[n * C + c] = (x[c] - m) * s * g[c] + b[c];
    mean[n] = m, rstd[n] = s;
  }
}

void NN(nn_layernorm_backward)(real *din, real *dg, real *db, const real *dout, const real *in, const real *g,
                               const real *mean, const real *rstd, int N, int C) {
  for (int n = 0; n < N; n++) {
    const real *x = in + n * C, *dy = dout + n * C;
    /* xhat = (x - m) s; dxhat = dy g; dx = s (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
    real mdx = 0, mdxx = 0;
    for (int c = 0; c < C; c++) {
      real xhat = (x[c] - mean[n]) * rstd[n], dxhat = dy[c] * g[c];
      mdx += dxhat, mdxx += dxhat * xhat;
      dg[c] += dy[c] * xhat;
      db[c] += dy[c];
    }
    mdx /= C, mdxx /= C;
    for (int c = 0; c < C; c++) {
      real xhat = (x[c] - mean[n]) * rstd[n];
      din[n * C + c] += rstd[n] * (dy[c] * g[c] - mdx - xhat * mdxx);
    }
  }
}

/* ---- activations, dropout ---- */

void NN(nn_relu_forward)(real *out, const real *in, int n) {
  for (int i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0;
}

void NN(nn_relu_backward)(real *din, const real *dout, const real *in, int n) {
  for (int i = 0; i < n; i++) din[i] += in[i] > 0 ? dout[i] : 0;
}

/* GELU(x) = x Phi(x), Phi the standard normal CDF (Hendrycks and Gimpel 2016) */
void NN(nn_gelu_forward)(real *out, const real *in, int n) {
  for (int i = 0; i < n; i++) out[i] = (real)0.5 * in[i] * (1 + ERF(in[i] * (real)0.70710678118654752440));
}

void NN(nn_gelu_backward)(real *din, const real *dout, const real *in, int n) {
  for (int i = 0; i < n; i++) {
    real x = in[i], cdf = (real)0.5 * (1 + ERF(x * (real)0.70710678118654752440));
    real pdf = EXP((real)-0.5 * x * x) * (real)0.39894228040143267794;
    din[i] += dout[i] * (cdf + x * pdf);
  }
}

static inline uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}

void NN(nn_dropout_forward)(real *out, uint8_t *mask, const real *in, int n, real p, uint64_t *rng) {
  real scale = p < 1 ? 1 / (1 - p) : 0;
  for (int i = 0; i < n; i++) {
    mask[i] = (real)((xorshift(rng) >> 11) * (1.0 / 9007199254740992.0)) >= p;
    out[i] = mask[i] ? in[i] * scale : 0;
  }
}

void NN(nn_dropout_backward)(real *din, const real *dout, const uint8_t *mask, int n, real p) {
  real scale = p < 1 ? 1 / (1 - p) : 0;
  for (int i = 0; i < n; i++) din[i] += mask[i] ? dout[i] * scale : 0;
}

/* ---- softmax cross-entropy ---- */

real NN(nn_xent_forward)(real *probs, const real *logits, const int32_t *targets, const real *class_w, int N, int K) {
  double loss = 0, wsum = 0;
  for (int n = 0; n < N; n++) {
    const real *z = logits + n * K;
    real mx = z[0];
    for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
    real s = 0;
    for (int k = 0; k < K; k++) s += probs[n * K + k] = EXP(z[k] - mx);
    for (int k = 0; k < K; k++) probs[n * K + k] /= s;
    real w = class_w ? class_w[targets[n]] : 1;
    /* -log p_y computed from the logits, stable when p_y underflows */
    loss += w * (double)(mx + LOG(s) - z[targets[n]]);
    wsum += w;
  }
  return wsum > 0 ? (real)(loss / wsum) : 0;
}

void NN(nn_xent_backward)(real *dlogits, const real *probs, const int32_t *targets, const real *class_w, int N, int K) {
  real wsum = 0;
  for (int n = 0; n < N; n++) wsum += class_w ? class_w[targets[n]] : 1;
  if (wsum <= 0) return;
  for (int n = 0; n < N; n++) {
    real w = (class_w ? class_w[targets[n]] : 1) / wsum;
    for (int k = 0; k < K; k++) dlogits[n * K + k] += w * (probs[n * K + k] - (k == targets[n]));
  }
}

/* ---- LSTM ---- */

/* exp without a library call, so that the gate loops vectorise: x = n ln2 + r with |r| <=
 * ln2/2 (Cody-Waite: ln2 in two parts), e^r by the minimax polynomial of Cephes' expf
 * (S. Moshier), 2^n put into the exponent bits. Relative error about 2e-7 in float; the
 * double build keeps libm's exp (the gradient checks want full precision). */
#ifdef NN_DOUBLE
static inline real fast_exp(real x) { return exp(x); }
#else
static inline float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
  /* n = round(x / ln2) by the 1.5 * 2^23 trick (SSE2 has no vector floor) */
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
#endif

static inline real sigm(real x) { return 1 / (1 + fast_exp(-x)); }
static inline real fast_tanh(real x) { return 2 / (1 + fast_exp(-2 * x)) - 1; }

real NN(nn_exp)(real x) { return fast_exp(x); }

void NN(nn_lstm_activate)(real *h, real *c, real *g4, const real *c_prev, int H) {
  for (int k = 0; k < 2 * H; k++) g4[k] = sigm(g4[k]); /* i, f */
  for (int j = 0; j < H; j++) g4[2 * H + j] = fast_tanh(g4[2 * H + j]);
  for (int j = 0; j < H; j++) g4[3 * H + j] = sigm(g4[3 * H + j]);
  if (c_prev)
    for (int j = 0; j < H; j++) c[j] = g4[H + j] * c_prev[j] + g4[j] * g4[2 * H + j];
  else
    for (int j = 0; j < H; j++) c[j] = g4[j] * g4[2 * H + j];
  for (int j = 0; j < H; j++) h[j] = g4[3 * H + j] * fast_tanh(c[j]);
}

void NN(nn_lstm_forward)(real *h, real *c, real *gates, const real *in, const real *w_ih, const real *w_hh,
                         const real *b_ih, const real *b_hh, int B, int T, int C, int H) {
  int G = 4 * H;
  /* pre-activations of every step: gates (B*T, 4H) = in w_ih^T + b_ih + b_hh */
  for (int r = 0; r < B * T; r++)
    for (int k = 0; k < G; k++) gates[(size_t)r * G + k] = b_ih[k] + b_hh[k];
  GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B * T, G, C, 1, in, C, w_ih, C, 1, gates, G);
  for (int t = 0; t < T; t++) {
    /* gates[:, t] += h[:, t-1] w_hh^T: rows of one step are T*4H (T*H) apart */
    if (t > 0)
      GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, G, H, 1, h + (size_t)(t - 1) * H, T * H, w_hh, H, 1,
           gates + (size_t)t * G, T * G);
    for (int b = 0; b < B; b++) {
      size_t at = (size_t)b * T + t;
      NN(nn_lstm_activate)(h + at * H, c + at * H, gates + at * G, t ? c + (at - 1) * H : NULL, H);
    }
  }
}

void NN(nn_lstm_step)(real *h, real *c, real *gates, const real *x, const real *w_ih, const real *w_hh,
                      const real *b_ih, const real *b_hh, int C, int H) {
  /* h and c are read as the previous state and overwritten: gates first, then the update */
  for (int k = 0; k < 4 * H; k++) gates[k] = b_ih[k] + b_hh[k];
  GEMV(CblasRowMajor, CblasNoTrans, 4 * H, C, 1, w_ih, C, x, 1, 1, gates, 1);
  GEMV(CblasRowMajor, CblasNoTrans, 4 * H, H, 1, w_hh, H, h, 1, 1, gates, 1);
  for (int j = 0; j < H; j++) {
    real i = sigm(gates[j]), f = sigm(gates[H + j]), g = fast_tanh(gates[2 * H + j]), o = sigm(gates[3 * H + j]);
    c[j] = f * c[j] + i * g;
    h[j] = o * fast_tanh(c[j]);
  }
}

void NN(nn_lstm_backward)(real *din, real *dw_ih, real *dw_hh, real *db_ih, real *db_hh, const real *dh, const real *in,
                          const real *h, const real *c, const real *gates, const real *w_ih, const real *w_hh, int B,
                          int T, int C, int H, real *scratch) {
  int G = 4 * H;
  real *dG = scratch, *dh_next = scratch + (size_t)B * T * G, *dc_next = dh_next + (size_t)B * H;
  memset(dh_next, 0, 2 * (size_t)B * H * sizeof *dh_next);
  for (int t = T - 1; t >= 0; t--) {
    for (int b = 0; b < B; b++) {
      size_t at = (size_t)b * T + t;
      const real *gt = gates + at * G, *ct = c + at * H, *cp = t ? c + (at - 1) * H : NULL;
      real *dg = dG + at * G, *dhn = dh_next + (size_t)b * H, *dcn = dc_next + (size_t)b * H;
      for (int j = 0; j < H; j++) {
        real i = gt[j], f = gt[H + j], g = gt[2 * H + j], o = gt[3 * H + j];
        real tc = fast_tanh(ct[j]);
        real dht = dh[at * H + j] + dhn[j];
        real dct = dcn[j] + dht * o * (1 - tc * tc);
        real cprev = cp ? cp[j] : 0;
        dg[j] = dct * g * i * (1 - i);          /* d pre-activation of i */
        dg[H + j] = dct * cprev * f * (1 - f);  /* f */
        dg[2 * H + j] = dct * i * (1 - g * g);  /* g */
        dg[3 * H + j] = dht * tc * o * (1 - o); /* o */
        dcn[j] = dct * f;
      }
    }
    /* dh_{t-1} (B, H) = dG_t (B, 4H) w_hh (4H, H); dw_hh += dG_t^T h_{t-1} */
    memset(dh_next, 0, (size_t)B * H * sizeof *dh_next);
    if (t > 0) {
      GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, G, 1, dG + (size_t)t * G, T * G, w_hh, H, 0, dh_next, H);
      GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, B, 1, dG + (size_t)t * G, T * G, h + (size_t)(t - 1) * H,
           T * H, 1, dw_hh, H);
    }
  }
  /* the input side for all steps at once */
  for (int r = 0; r < B * T; r++)
    for (int k = 0; k < G; k++) db_ih[k] += dG[(size_t)r * G + k], db_hh[k] += dG[(size_t)r * G + k];
  GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G, C, B * T, 1, dG, G, in, C, 1, dw_ih, C);
  if (din) GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B * T, C, G, 1, dG, G, w_ih, C, 1, din, C);
}

/* ---- additive attention ---- */

void NN(nn_attention_forward)(real *ctx, real *u, real *a, const real *in, const real *w, const real *b, const real *v,
                              int B, int T, int H, int A) {
  /* u (B*T, A) = tanh(in w^T + b) for all steps at once */
  NN(nn_linear_forward)(u, in, w, b, B * T, H, A);
  for (int i = 0; i < B * T * A; i++) u[i] = fast_tanh(u[i]);
  for (int bb = 0; bb < B; bb++) {
    real *ab = a + (size_t)bb * T, mx = 0;
    for (int t = 0; t < T; t++) {
      real s = 0;
      for (int k = 0; k < A; k++) s += v[k] * u[((size_t)bb * T + t) * A + k];
      ab[t] = s;
      if (t == 0 || s > mx) mx = s;
    }
    real sum = 0;
    for (int t = 0; t < T; t++) sum += ab[t] = EXP(ab[t] - mx);
    for (int t = 0; t < T; t++) ab[t] /= sum;
    real *cb = ctx + (size_t)bb * H;
    for (int j = 0; j < H; j++) cb[j] = 0;
    for (int t = 0; t < T; t++)
      for (int j = 0; j < H; j++) cb[j] += ab[t] * in[((size_t)bb * T + t) * H + j];
  }
}

void NN(nn_attention_backward)(real *din, real *dw, real *db, real *dv, const real *dctx, const real *in, const real *u,
                               const real *a, const real *w, const real *v, int B, int T, int H, int A, real *scratch) {
  real *dpre = scratch, *ds = scratch + (size_t)T * A;
  for (int bb = 0; bb < B; bb++) {
    const real *ab = a + (size_t)bb * T, *dc = dctx + (size_t)bb * H;
    /* ctx = sum a_t h_t: dh_t += a_t dctx; da_t = dctx . h_t; softmax: ds_t = a_t (da_t - sum a da) */
    real dot = 0;
    for (int t = 0; t < T; t++) {
      real da = 0;
      for (int j = 0; j < H; j++) {
        din[((size_t)bb * T + t) * H + j] += ab[t] * dc[j];
        da += dc[j] * in[((size_t)bb * T + t) * H + j];
      }
      ds[t] = da;
      dot += ab[t] * da;
    }
    for (int t = 0; t < T; t++) ds[t] = ab[t] * (ds[t] - dot);
    /* score_t = v . u_t: dv += ds_t u_t; du_t = ds_t v; u = tanh(pre): dpre = du (1 - u^2) */
    for (int t = 0; t < T; t++) {
      const real *ut = u + ((size_t)bb * T + t) * A;
      for (int k = 0; k < A; k++) {
        dv[k] += ds[t] * ut[k];
        dpre[t * A + k] = ds[t] * v[k] * (1 - ut[k] * ut[k]);
      }
    }
    /* pre = h w^T + b */
    NN(nn_linear_backward)(din + (size_t)bb * T * H, dw, db, dpre, in + (size_t)bb * T * H, w, T, H, A);
  }
}

/* ---- multi-head causal self-attention with ALiBi ---- */

static real alibi_slope(int h, int NH) { return (real)pow(2.0, -8.0 * (h + 1) / NH); }

void NN(nn_mha_forward)(real *out, real *qkv, real *att, real *y, const real *in, const real *w_qkv, const real *b_qkv,
                        const real *w_o, const real *b_o, int B, int T, int D, int NH) {
  int dh = D / NH, D3 = 3 * D;
  real scale = 1 / (real)sqrt((double)dh);
  NN(nn_linear_forward)(qkv, in, w_qkv, b_qkv, B * T, D, D3);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      real slope = alibi_slope(h, NH);
      for (int i = 0; i < T; i++) {
        const real *q = qkv + ((size_t)b * T + i) * D3 + h * dh;
        real *row = att + (((size_t)b * NH + h) * T + i) * T, mx = 0;
        for (int j = 0; j <= i; j++) {
          const real *k = qkv + ((size_t)b * T + j) * D3 + D + h * dh;
          real s = 0;
          for (int e = 0; e < dh; e++) s += q[e] * k[e];
          row[j] = s * scale - slope * (real)(i - j);
          if (j == 0 || row[j] > mx) mx = row[j];
        }
        real sum = 0;
        for (int j = 0; j <= i; j++) sum += row[j] = EXP(row[j] - mx);
        for (int j = 0; j <= i; j++) row[j] /= sum;
        for (int j = i + 1; j < T; j++) row[j] = 0;
        real *yv = y + ((size_t)b * T + i) * D + h * dh;
        for (int e = 0; e < dh; e++) yv[e] = 0;
        for (int j = 0; j <= i; j++) {
          const real *v = qkv + ((size_t)b * T + j) * D3 + 2 * D + h * dh;
          for (int e = 0; e < dh; e++) yv[e] += row[j] * v[e];
        }
      }
    }
  NN(nn_linear_forward)(out, y, w_o, b_o, B * T, D, D);
}

void NN(nn_mha_backward)(real *din, real *dw_qkv, real *db_qkv, real *dw_o, real *db_o, const real *dout,
                         const real *in, const real *qkv, const real *att, const real *y, const real *w_qkv,
                         const real *w_o, int B, int T, int D, int NH, real *scratch) {
  int dh = D / NH, D3 = 3 * D;
  real scale = 1 / (real)sqrt((double)dh);
  real *dqkv = scratch, *dy = scratch + (size_t)B * T * D3, *datt = dy + (size_t)B * T * D;
  memset(dqkv, 0, (size_t)B * T * D3 * sizeof *dqkv);
  memset(dy, 0, (size_t)B * T * D * sizeof *dy);
  NN(nn_linear_backward)(dy, dw_o, db_o, dout, y, w_o, B * T, D, D);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int i = 0; i < T; i++) {
        const real *row = att + (((size_t)b * NH + h) * T + i) * T, *dyv = dy + ((size_t)b * T + i) * D + h * dh;
        const real *q = qkv + ((size_t)b * T + i) * D3 + h * dh;
        real *dq = dqkv + ((size_t)b * T + i) * D3 + h * dh, dot = 0;
        /* y_i = sum_j a_ij v_j */
        for (int j = 0; j <= i; j++) {
          const real *v = qkv + ((size_t)b * T + j) * D3 + 2 * D + h * dh;
          real *dv = dqkv + ((size_t)b * T + j) * D3 + 2 * D + h * dh, d = 0;
          for (int e = 0; e < dh; e++) d += dyv[e] * v[e], dv[e] += row[j] * dyv[e];
          datt[j] = d;
          dot += row[j] * d;
        }
        /* softmax, then s_ij = q_i . k_j scale - slope (i - j) (the bias has no gradient) */
        for (int j = 0; j <= i; j++) {
          real ds = row[j] * (datt[j] - dot) * scale;
          const real *k = qkv + ((size_t)b * T + j) * D3 + D + h * dh;
          real *dk = dqkv + ((size_t)b * T + j) * D3 + D + h * dh;
          for (int e = 0; e < dh; e++) dq[e] += ds * k[e], dk[e] += ds * q[e];
        }
      }
  NN(nn_linear_backward)(din, dw_qkv, db_qkv, dqkv, in, w_qkv, B * T, D, D3);
}

/* ---- DeepLOB convolutions (channels-last) ---- */

void NN(nn_conv_w_forward)(real *out, const real *in, const real *w, const real *b, int B, int T, int W, int C, int K,
                           int Cout) {
  /* the K consecutive columns of an output position are one contiguous row of K*C values */
  int N = B * T * (W / K);
  NN(nn_linear_forward)(out, in, w, b, N, K * C, Cout);
}

void NN(nn_conv_w_backward)(real *din, real *dw, real *db, const real *dout, const real *in, const real *w, int B,
                            int T, int W, int C, int K, int Cout) {
  NN(nn_linear_backward)(din, dw, db, dout, in, w, B * T * (W / K), K * C, Cout);
}

void NN(nn_conv_t_forward)(real *out, const real *in, const real *w, const real *b, int B, int T, int W, int C, int K,
                           int Cout) {
  int pad = (K - 1) / 2;
  for (int r = 0; r < B * T * W; r++)
    for (int o = 0; o < Cout; o++) out[(size_t)r * Cout + o] = b[o];
  for (int bb = 0; bb < B; bb++)
    for (int j = 0; j < K; j++) {
      /* output times t use input times t + j - pad: the rows (t, x) of one sample are contiguous */
      int s = j - pad, t0 = s < 0 ? -s : 0, t1 = s > 0 ? T - s : T;
      if (t1 <= t0) continue;
      GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (t1 - t0) * W, Cout, C, 1, in + (((size_t)bb * T + t0 + s) * W) * C,
           C, w + (size_t)j * C, K * C, 1, out + (((size_t)bb * T + t0) * W) * Cout, Cout);
    }
}

void NN(nn_conv_t_backward)(real *din, real *dw, real *db, const real *dout, const real *in, const real *w, int B,
                            int T, int W, int C, int K, int Cout) {
  int pad = (K - 1) / 2;
  for (int r = 0; r < B * T * W; r++)
    for (int o = 0; o < Cout; o++) db[o] += dout[(size_t)r * Cout + o];
  for (int bb = 0; bb < B; bb++)
    for (int j = 0; j < K; j++) {
      int s = j - pad, t0 = s < 0 ? -s : 0, t1 = s > 0 ? T - s : T;
      if (t1 <= t0) continue;
      const real *dy = dout + (((size_t)bb * T + t0) * W) * Cout, *x = in + (((size_t)bb * T + t0 + s) * W) * C;
      /* dW_j (Cout, C) += dy^T x; dx += dy W_j */
      GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, Cout, C, (t1 - t0) * W, 1, dy, Cout, x, C, 1, dw + (size_t)j * C,
           K * C);
      if (din)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (t1 - t0) * W, C, Cout, 1, dy, Cout, w + (size_t)j * C, K * C,
             1, din + (((size_t)bb * T + t0 + s) * W) * C, C);
    }
}

void NN(nn_maxpool3_t_forward)(real *out, int8_t *arg, const real *in, int B, int T, int WC) {
  for (int bb = 0; bb < B; bb++)
    for (int t = 0; t < T; t++)
      for (int k = 0; k < WC; k++) {
        size_t at = ((size_t)bb * T + t) * WC + k;
        real best = in[at];
        int8_t a = 0;
        if (t > 0 && in[at - WC] > best) best = in[at - WC], a = -1;
        if (t + 1 < T && in[at + WC] > best) best = in[at + WC], a = 1;
        out[at] = best;
        arg[at] = a;
      }
}

void NN(nn_maxpool3_t_backward)(real *din, const real *dout, const int8_t *arg, int B, int T, int WC) {
  for (size_t at = 0; at < (size_t)B * T * WC; at++) din[(ptrdiff_t)at + arg[at] * WC] += dout[at];
}

void NN(nn_lrelu_forward)(real *out, const real *in, int n) {
  for (int i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : (real)0.01 * in[i];
}

void NN(nn_lrelu_backward)(real *din, const real *dout, const real *in, int n) {
  for (int i = 0; i < n; i++) din[i] += in[i] > 0 ? dout[i] : (real)0.01 * dout[i];
}
