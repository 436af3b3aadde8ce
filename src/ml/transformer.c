/* transformer.c — the Transformer encoder of obi_model (model.h).
 *
 *   x0 = in W_in^T + b_in                                (B, T, D)
 *   for each block:  x = x + MHA(LN1(x))                 causal, ALiBi position biases (nn.h)
 *                    x = x + W2 GELU(W1 LN2(x) + b1) + b2
 *   rep = LNf(x[:, T-1])                                 (B, D), then the shared output layer
 * Pre-norm blocks (Xiong et al. 2020) train without warm-up tricks; ALiBi needs no position
 * embedding, and its biases depend only on distances. Activations live in one buffer
 * (m->tf), one array per quantity sized for the batch capacity m->cap. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"
#include "obi/nn.h"

size_t tf_layout(slab_layout *L, const model_config *c, int C, size_t o) {
  int D = c->hidden, F = c->ffn;
  L->in_w = o, o += (size_t)D * C;
  L->in_b = o, o += (size_t)D;
  for (int l = 0; l < c->layers; l++) {
    tf_block *b = &L->blk[l];
    b->ln1_g = o, o += (size_t)D;
    b->ln1_b = o, o += (size_t)D;
    b->qkv_w = o, o += (size_t)3 * D * D;
    b->qkv_b = o, o += (size_t)3 * D;
    b->o_w = o, o += (size_t)D * D;
    b->o_b = o, o += (size_t)D;
    b->ln2_g = o, o += (size_t)D;
    b->ln2_b = o, o += (size_t)D;
    b->ff1_w = o, o += (size_t)F * D;
    b->ff1_b = o, o += (size_t)F;
    b->ff2_w = o, o += (size_t)D * F;
    b->ff2_b = o, o += (size_t)D;
  }
  L->lnf_g = o, o += (size_t)D;
  L->lnf_b = o, o += (size_t)D;
  return o;
}

static double uni(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return (double)(*s >> 11) * (1.0 / 9007199254740992.0) * 2 - 1;
}

static void fill(float *p, size_t n, double k, uint64_t *s) {
  for (size_t i = 0; i < n; i++) p[i] = (float)(uni(s) * k);
}

/* PyTorch-like: linear layers U(+-1/sqrt(fan_in)), layer norms g = 1, b = 0 */
void tf_init(obi_model *m, uint64_t *s) {
  const model_config *c = &m->cfg;
  const slab_layout *L = &m->L;
  float *P = m->params;
  int D = c->hidden, F = c->ffn, C = m->C;
  fill(P + L->in_w, (size_t)D * C + D, 1 / sqrt((double)C), s);
  for (int l = 0; l < c->layers; l++) {
    const tf_block *b = &L->blk[l];
    for (int i = 0; i < D; i++) P[b->ln1_g + i] = 1, P[b->ln1_b + i] = 0, P[b->ln2_g + i] = 1, P[b->ln2_b + i] = 0;
    fill(P + b->qkv_w, (size_t)3 * D * D + 3 * D, 1 / sqrt((double)D), s);
    fill(P + b->o_w, (size_t)D * D + D, 1 / sqrt((double)D), s);
    fill(P + b->ff1_w, (size_t)F * D + F, 1 / sqrt((double)D), s);
    fill(P + b->ff2_w, (size_t)D * F + D, 1 / sqrt((double)F), s);
  }
  for (int i = 0; i < D; i++) P[L->lnf_g + i] = 1, P[L->lnf_b + i] = 0;
}

/* Per-window sizes (floats) of the activation arrays, in buffer order. */
enum { A_LN1, A_M1, A_R1, A_QKV, A_ATT, A_Y, A_ATTN, A_X1, A_LN2, A_M2, A_R2, A_FFP, A_FFA, A_FFO, A_X2, A_NQ };
static size_t qsize(const model_config *c, int q) {
  size_t T = (size_t)c->window, D = (size_t)c->hidden, F = (size_t)c->ffn, NH = (size_t)c->heads;
  switch (q) {
  case A_M1:
  case A_R1:
  case A_M2:
  case A_R2: return T;
  case A_QKV: return 3 * T * D;
  case A_ATT: return NH * T * T;
  case A_FFP:
  case A_FFA: return T * F;
  default: return T * D;
  }
}

static size_t layer_size(const model_config *c) {
  size_t s = 0;
  for (int q = 0; q < A_NQ; q++) s += qsize(c, q);
  return s;
}

/* gradients and scratch per window: dx, dx2, dln (T D each), dffa, dffp (T F each), the MHA
 * scratch (T 4D + T), and the final layer norm (D + 2) */
static size_t grad_size(const model_config *c) {
  size_t T = (size_t)c->window, D = (size_t)c->hidden, F = (size_t)c->ffn;
  return 3 * T * D + 2 * T * F + 4 * T * D + T;
}

size_t tf_floats_per_window(const model_config *c) {
  size_t T = (size_t)c->window, D = (size_t)c->hidden;
  return T * D /* x0 */ + (size_t)c->layers * layer_size(c) + D + 2 /* lnf, mean, rstd */ + grad_size(c);
}

/* The array of quantity q of layer l, for the batch capacity. */
static float *act(obi_model *m, int l, int q) {
  const model_config *c = &m->cfg;
  size_t off = (size_t)c->window * c->hidden + (size_t)l * layer_size(c);
  for (int k = 0; k < q; k++) off += qsize(c, k);
  return m->tf + (size_t)m->cap * off;
}
static float *x0(obi_model *m) { return m->tf; }
static float *fin(obi_model *m) { /* lnf (cap, D), then mean (cap), rstd (cap) */
  const model_config *c = &m->cfg;
  return m->tf + (size_t)m->cap * ((size_t)c->window * c->hidden + (size_t)c->layers * layer_size(c));
}
static float *grad_area(obi_model *m) { return fin(m) + (size_t)m->cap * ((size_t)m->cfg.hidden + 2); }

void tf_forward(obi_model *m, int B) {
  const model_config *c = &m->cfg;
  const slab_layout *L = &m->L;
  const float *P = m->params;
  int T = c->window, D = c->hidden, F = c->ffn, NH = c->heads, BT = B * T;
  nn_linear_forward(x0(m), m->x, P + L->in_w, P + L->in_b, BT, m->C, D);
  const float *x = x0(m);
  for (int l = 0; l < c->layers; l++) {
    const tf_block *b = &L->blk[l];
    float *ln1 = act(m, l, A_LN1), *x1 = act(m, l, A_X1), *attn = act(m, l, A_ATTN);
    nn_layernorm_forward(ln1, act(m, l, A_M1), act(m, l, A_R1), x, P + b->ln1_g, P + b->ln1_b, BT, D);
    nn_mha_forward(attn, act(m, l, A_QKV), act(m, l, A_ATT), act(m, l, A_Y), ln1, P + b->qkv_w, P + b->qkv_b,
                   P + b->o_w, P + b->o_b, B, T, D, NH);
    for (int i = 0; i < BT * D; i++) x1[i] = x[i] + attn[i];
    float *ln2 = act(m, l, A_LN2), *ffp = act(m, l, A_FFP), *ffa = act(m, l, A_FFA), *ffo = act(m, l, A_FFO);
    float *x2 = act(m, l, A_X2);
    nn_layernorm_forward(ln2, act(m, l, A_M2), act(m, l, A_R2), x1, P + b->ln2_g, P + b->ln2_b, BT, D);
    nn_linear_forward(ffp, ln2, P + b->ff1_w, P + b->ff1_b, BT, D, F);
    nn_gelu_forward(ffa, ffp, BT * F);
    nn_linear_forward(ffo, ffa, P + b->ff2_w, P + b->ff2_b, BT, F, D);
    for (int i = 0; i < BT * D; i++) x2[i] = x1[i] + ffo[i];
    x = x2;
  }
  /* the last position of every window, normalised */
  float *last = grad_area(m); /* borrowed: (B, D) gathered rows */
  for (int bb = 0; bb < B; bb++)
    memcpy(last + (size_t)bb * D, x + ((size_t)bb * T + T - 1) * D, (size_t)D * sizeof *last);
  float *lnf = fin(m), *mf = lnf + (size_t)m->cap * D, *rf = mf + m->cap;
  nn_layernorm_forward(lnf, mf, rf, last, P + L->lnf_g, P + L->lnf_b, B, D);
  memcpy(m->rep, lnf, (size_t)B * D * sizeof *m->rep);
}

void tf_backward(obi_model *m, int B) {
  const model_config *c = &m->cfg;
  const slab_layout *L = &m->L;
  const float *P = m->params;
  float *G = m->grads;
  int T = c->window, D = c->hidden, F = c->ffn, NH = c->heads, BT = B * T;
  size_t cap = (size_t)m->cap;
  float *g = grad_area(m);
  float *dx = g, *dx2 = dx + cap * T * D, *dln = dx2 + cap * T * D, *dffa = dln + cap * T * D,
        *dffp = dffa + cap * T * F;
  float *mha_scratch = dffp + cap * T * F;
  const float *xl = c->layers ? act(m, c->layers - 1, A_X2) : x0(m);
  /* final layer norm on the last positions: its input is gathered again into dln's space */
  float *last = dln, *dlast = dx2;
  for (int bb = 0; bb < B; bb++)
    memcpy(last + (size_t)bb * D, xl + ((size_t)bb * T + T - 1) * D, (size_t)D * sizeof *last);
  memset(dlast, 0, (size_t)B * D * sizeof *dlast);
  float *lnf = fin(m), *mf = lnf + cap * D, *rf = mf + cap;
  nn_layernorm_backward(dlast, G + L->lnf_g, G + L->lnf_b, m->drep, last, P + L->lnf_g, mf, rf, B, D);
  memset(dx, 0, (size_t)BT * D * sizeof *dx);
  for (int bb = 0; bb < B; bb++)
    memcpy(dx + ((size_t)bb * T + T - 1) * D, dlast + (size_t)bb * D, (size_t)D * sizeof *dx);
  for (int l = c->layers - 1; l >= 0; l--) {
    const tf_block *b = &L->blk[l];
    const float *xin = l ? act(m, l - 1, A_X2) : x0(m), *x1 = act(m, l, A_X1);
    /* x2 = x1 + FFN(LN2(x1)): dx flows to x1 directly and through the feed-forward path */
    memset(dffa, 0, (size_t)BT * F * sizeof *dffa);
    nn_linear_backward(dffa, G + b->ff2_w, G + b->ff2_b, dx, act(m, l, A_FFA), P + b->ff2_w, BT, F, D);
    memset(dffp, 0, (size_t)BT * F * sizeof *dffp);
    nn_gelu_backward(dffp, dffa, act(m, l, A_FFP), BT * F);
    memset(dln, 0, (size_t)BT * D * sizeof *dln);
    nn_linear_backward(dln, G + b->ff1_w, G + b->ff1_b, dffp, act(m, l, A_LN2), P + b->ff1_w, BT, D, F);
    memcpy(dx2, dx, (size_t)BT * D * sizeof *dx2); /* dx1 = dx + LN2 backward */
    nn_layernorm_backward(dx2, G + b->ln2_g, G + b->ln2_b, dln, x1, P + b->ln2_g, act(m, l, A_M2), act(m, l, A_R2), BT,
                          D);
    /* x1 = x + MHA(LN1(x)) */
    memset(dln, 0, (size_t)BT * D * sizeof *dln);
    nn_mha_backward(dln, G + b->qkv_w, G + b->qkv_b, G + b->o_w, G + b->o_b, dx2, act(m, l, A_LN1), act(m, l, A_QKV),
                    act(m, l, A_ATT), act(m, l, A_Y), P + b->qkv_w, P + b->o_w, B, T, D, NH, mha_scratch);
    memcpy(dx, dx2, (size_t)BT * D * sizeof *dx);
    nn_layernorm_backward(dx, G + b->ln1_g, G + b->ln1_b, dln, xin, P + b->ln1_g, act(m, l, A_M1), act(m, l, A_R1), BT,
                          D);
  }
  nn_linear_backward(NULL, G + L->in_w, G + L->in_b, dx, m->x, P + L->in_w, BT, m->C, D);
}

int tf_tensors(const obi_model *m, named_tensor *t, char (*names)[48]) {
  const model_config *c = &m->cfg;
  const slab_layout *L = &m->L;
  int n = 0, D = c->hidden, F = c->ffn;
  t[n++] = (named_tensor){"input.weight", L->in_w, 2, {D, m->C}};
  t[n++] = (named_tensor){"input.bias", L->in_b, 1, {D}};
  for (int l = 0; l < c->layers; l++) {
    const tf_block *b = &L->blk[l];
    const struct {
      const char *what;
      size_t off;
      int ndim;
      int64_t s0, s1;
    } parts[12] = {{"ln1.weight", b->ln1_g, 1, D, 0},          {"ln1.bias", b->ln1_b, 1, D, 0},
                   {"attn.qkv.weight", b->qkv_w, 2, 3 * D, D}, {"attn.qkv.bias", b->qkv_b, 1, 3 * D, 0},
                   {"attn.out.weight", b->o_w, 2, D, D},       {"attn.out.bias", b->o_b, 1, D, 0},
                   {"ln2.weight", b->ln2_g, 1, D, 0},          {"ln2.bias", b->ln2_b, 1, D, 0},
                   {"ff1.weight", b->ff1_w, 2, F, D},          {"ff1.bias", b->ff1_b, 1, F, 0},
                   {"ff2.weight", b->ff2_w, 2, D, F},          {"ff2.bias", b->ff2_b, 1, D, 0}};
    for (int k = 0; k < 12; k++) {
      snprintf(names[n], 48, "block%d.%s", l, parts[k].what);
      t[n] = (named_tensor){names[n], parts[k].off, parts[k].ndim, {parts[k].s0, parts[k].s1}};
      n++;
    }
  }
  t[n++] = (named_tensor){"final_ln.weight", L->lnf_g, 1, {D}};
  t[n++] = (named_tensor){"final_ln.bias", L->lnf_b, 1, {D}};
  return n;
}
