/* deeplob.c — DeepLOB (Zhang, Zohren and Roberts, "DeepLOB: Deep convolutional neural
 * networks for limit order books", IEEE Trans. Signal Processing 67(11), 2019).
 *
 * The input row is the raw book, W = C columns in FI-2010 order (ask price, ask size, bid
 * price, bid size per level), z-scored by the model's normalisation. Channels-last throughout:
 *   trunk   conv (1,2)/2 -> conv (4,1) -> conv (4,1)     32 channels, width W -> W/2
 *           conv (1,2)/2 -> conv (4,1) -> conv (4,1)     W/2 -> W/4
 *           conv (1,W/4) -> conv (4,1) -> conv (4,1)     W/4 -> 1
 *           each followed by a leaky ReLU (0.01); (4,1) convolutions pad 'same' along time
 *   inception  [conv 1x1 -> conv (3,1)], [conv 1x1 -> conv (5,1)], [max-pool (3,1) -> conv 1x1],
 *           64 channels each, leaky ReLU after every convolution, concatenated: 192 channels
 *   LSTM (192 -> H) over the window, the last hidden state to the shared output layer.
 * Activations (pre- and post-activation of every convolution) live in m->tf, one array per
 * quantity sized for the batch capacity; their gradients in arrays of the same sizes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"
#include "obi/nn.h"

#define DL_CH 32  /* trunk channels */
#define DL_INC 64 /* channels of each inception branch */

size_t dl_layout(slab_layout *L, const model_config *c, int C, size_t o) {
  /* trunk: (kind, K, Cin, Cout) with widths following */
  const struct {
    char kind;
    int K, Cin, Cout;
  } trunk[9] = {{'w', 2, 1, DL_CH},         {'t', 4, DL_CH, DL_CH}, {'t', 4, DL_CH, DL_CH},
                {'w', 2, DL_CH, DL_CH},     {'t', 4, DL_CH, DL_CH}, {'t', 4, DL_CH, DL_CH},
                {'w', C / 4, DL_CH, DL_CH}, {'t', 4, DL_CH, DL_CH}, {'t', 4, DL_CH, DL_CH}};
  int W = C;
  for (int i = 0; i < 9; i++) {
    dl_conv *v = &L->conv[i];
    *v = (dl_conv){.kind = trunk[i].kind,
                   .K = trunk[i].K,
                   .Cin = trunk[i].Cin,
                   .Cout = trunk[i].Cout,
                   .Win = W,
                   .Wout = trunk[i].kind == 'w' ? W / trunk[i].K : W};
    W = v->Wout;
  }
  /* inception (width 1): 9 = 1x1 a, 10 = (3,1), 11 = 1x1 b, 12 = (5,1), 13 = 1x1 after the pool */
  L->conv[9] = (dl_conv){.kind = 'w', .K = 1, .Cin = DL_CH, .Cout = DL_INC, .Win = 1, .Wout = 1};
  L->conv[10] = (dl_conv){.kind = 't', .K = 3, .Cin = DL_INC, .Cout = DL_INC, .Win = 1, .Wout = 1};
  L->conv[11] = (dl_conv){.kind = 'w', .K = 1, .Cin = DL_CH, .Cout = DL_INC, .Win = 1, .Wout = 1};
  L->conv[12] = (dl_conv){.kind = 't', .K = 5, .Cin = DL_INC, .Cout = DL_INC, .Win = 1, .Wout = 1};
  L->conv[13] = (dl_conv){.kind = 'w', .K = 1, .Cin = DL_CH, .Cout = DL_INC, .Win = 1, .Wout = 1};
  for (int i = 0; i < DL_CONVS; i++) {
    dl_conv *v = &L->conv[i];
    v->w = o, o += (size_t)v->Cout * v->K * v->Cin;
    v->b = o, o += (size_t)v->Cout;
  }
  int H = c->hidden, G = 4 * H, I = 3 * DL_INC;
  L->w_ih = o, o += (size_t)G * I;
  L->w_hh = o, o += (size_t)G * H;
  L->b_ih = o, o += (size_t)G;
  L->b_hh = o, o += (size_t)G;
  return o;
}

/* He (Kaiming) initialisation for the leaky ReLUs every convolution feeds: weights U(+-sqrt(3) g /
 * sqrt(fan_in)), g^2 = 2 / (1 + 0.01^2), so that each layer keeps the second moment of its input
 * (He, Zhang, Ren and Sun 2015); biases zero (as Keras, which the paper used, starts them).
 * PyTorch's Conv2d default, U(+-1/sqrt(fan_in)) for weights and biases, shrinks the part of the
 * signal that differs between windows by about sqrt(6) per layer (a third of the variance from the
 * weights, half from the ReLU) while the random biases add a part that does not. On the FI-2010
 * excerpt (T = 50, 32 windows) its between-window standard deviation fell from 0.2 after the first
 * convolution to 7e-5 after the inception module and 8e-6 in the LSTM's last state (whose
 * window-independent part was 0.06), so every window got the same output and training sat at
 * ln 3. With this initialisation those are 0.5, 0.2 and 0.03 (test model_deeplob_fits_a_small_batch). */
void dl_init(obi_model *m, uint64_t *s) {
  float *P = m->params;
  for (int i = 0; i < DL_CONVS; i++) {
    const dl_conv *v = &m->L.conv[i];
    size_t n = (size_t)v->Cout * v->K * v->Cin;
    double k = sqrt(3.0 * 2.0 / (1 + 0.01 * 0.01) / ((double)v->K * v->Cin));
    for (size_t j = 0; j < n; j++) {
      *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
      P[v->w + j] = (float)(((double)(*s >> 11) / 9007199254740992.0 * 2 - 1) * k);
    }
    memset(P + v->b, 0, (size_t)v->Cout * sizeof *P);
  }
  /* the LSTM part was initialised by model.c like the other LSTMs (fan = H) */
}

/* Activation arrays per window: 14 convolutions (pre and post), the pool and its argmax (as
 * floats' worth of bytes), the concatenation; then the same again for gradients. */
static size_t conv_out(const model_config *c, const dl_conv *v) { return (size_t)c->window * v->Wout * v->Cout; }
static size_t conv_in(const model_config *c, const dl_conv *v) { return (size_t)c->window * v->Win * v->Cin; }

size_t dl_floats_per_window(const model_config *c, int C) {
  slab_layout L;
  dl_layout(&L, c, C, 0);
  size_t s = 0;
  for (int i = 0; i < DL_CONVS; i++) s += 2 * conv_out(c, &L.conv[i]);
  size_t T = (size_t)c->window;
  s += T * DL_CH + T * DL_CH / sizeof(float) + 1; /* pool, argmax */
  s += T * 3 * DL_INC;                            /* concat */
  return 2 * s;                                   /* activations, then gradients */
}

typedef struct { /* the arrays of a batch */
  float *z[DL_CONVS], *h[DL_CONVS], *pool, *cat;
  int8_t *arg;
} dl_arrays;

static void arrays(obi_model *m, float *base, dl_arrays *a) {
  const model_config *c = &m->cfg;
  size_t cap = (size_t)m->cap, T = (size_t)c->window;
  float *p = base;
  for (int i = 0; i < DL_CONVS; i++) {
    size_t n = cap * conv_out(c, &m->L.conv[i]);
    a->z[i] = p, p += n;
    a->h[i] = p, p += n;
  }
  a->pool = p, p += cap * T * DL_CH;
  a->arg = (int8_t *)p, p += cap * (T * DL_CH / sizeof(float) + 1);
  a->cat = p;
}

static void conv_fwd(obi_model *m, int i, const float *in, int B, dl_arrays *a) {
  const dl_conv *v = &m->L.conv[i];
  const float *P = m->params;
  int T = m->cfg.window, n = B * T * v->Wout * v->Cout;
  if (v->kind == 'w')
    nn_conv_w_forward(a->z[i], in, P + v->w, P + v->b, B, T, v->Win, v->Cin, v->K, v->Cout);
  else
    nn_conv_t_forward(a->z[i], in, P + v->w, P + v->b, B, T, v->Win, v->Cin, v->K, v->Cout);
  nn_lrelu_forward(a->h[i], a->z[i], n);
}

void dl_forward(obi_model *m, int B) {
  const model_config *c = &m->cfg;
  const float *P = m->params;
  const slab_layout *L = &m->L;
  int T = c->window, H = c->hidden, I = 3 * DL_INC;
  dl_arrays a;
  arrays(m, m->tf, &a);
  const float *x = m->x; /* (B, T, W = C, 1) */
  for (int i = 0; i < 9; i++) conv_fwd(m, i, i ? a.h[i - 1] : x, B, &a), x = a.h[i];
  /* inception on (B, T, 32) */
  conv_fwd(m, 9, a.h[8], B, &a);
  conv_fwd(m, 10, a.h[9], B, &a);
  conv_fwd(m, 11, a.h[8], B, &a);
  conv_fwd(m, 12, a.h[11], B, &a);
  nn_maxpool3_t_forward(a.pool, a.arg, a.h[8], B, T, DL_CH);
  conv_fwd(m, 13, a.pool, B, &a);
  for (int r = 0; r < B * T; r++) {
    memcpy(a.cat + (size_t)r * I, a.h[10] + (size_t)r * DL_INC, DL_INC * sizeof(float));
    memcpy(a.cat + (size_t)r * I + DL_INC, a.h[12] + (size_t)r * DL_INC, DL_INC * sizeof(float));
    memcpy(a.cat + (size_t)r * I + 2 * DL_INC, a.h[13] + (size_t)r * DL_INC, DL_INC * sizeof(float));
  }
  nn_lstm_forward(m->h, m->c, m->gates, a.cat, P + L->w_ih, P + L->w_hh, P + L->b_ih, P + L->b_hh, B, T, I, H);
  for (int b = 0; b < B; b++) memcpy(m->rep + (size_t)b * H, m->h + ((size_t)b * T + T - 1) * H, H * sizeof(float));
}

/* dh[i] (post-activation gradient) -> gradient of the convolution's input (accumulated) */
static void conv_bwd(obi_model *m, int i, const float *in, float *din, int B, dl_arrays *a, dl_arrays *g) {
  const dl_conv *v = &m->L.conv[i];
  const float *P = m->params;
  float *G = m->grads;
  int T = m->cfg.window, n = B * T * v->Wout * v->Cout;
  memset(g->z[i], 0, (size_t)n * sizeof(float));
  nn_lrelu_backward(g->z[i], g->h[i], a->z[i], n);
  if (v->kind == 'w')
    nn_conv_w_backward(din, G + v->w, G + v->b, g->z[i], in, P + v->w, B, T, v->Win, v->Cin, v->K, v->Cout);
  else
    nn_conv_t_backward(din, G + v->w, G + v->b, g->z[i], in, P + v->w, B, T, v->Win, v->Cin, v->K, v->Cout);
}

void dl_backward(obi_model *m, int B) {
  const model_config *c = &m->cfg;
  const float *P = m->params;
  float *G = m->grads;
  const slab_layout *L = &m->L;
  int T = c->window, H = c->hidden, I = 3 * DL_INC;
  size_t half = (size_t)m->cap * dl_floats_per_window(c, m->C) / 2;
  dl_arrays a, g;
  arrays(m, m->tf, &a);
  arrays(m, m->tf + half, &g);
  /* LSTM: the last hidden state got drep */
  memset(m->dh, 0, (size_t)B * T * H * sizeof *m->dh);
  for (int b = 0; b < B; b++) memcpy(m->dh + ((size_t)b * T + T - 1) * H, m->drep + (size_t)b * H, H * sizeof(float));
  memset(g.cat, 0, (size_t)B * T * I * sizeof(float));
  nn_lstm_backward(g.cat, G + L->w_ih, G + L->w_hh, G + L->b_ih, G + L->b_hh, m->dh, a.cat, m->h, m->c, m->gates,
                   P + L->w_ih, P + L->w_hh, B, T, I, H, m->scratch);
  for (int r = 0; r < B * T; r++) {
    memcpy(g.h[10] + (size_t)r * DL_INC, g.cat + (size_t)r * I, DL_INC * sizeof(float));
    memcpy(g.h[12] + (size_t)r * DL_INC, g.cat + (size_t)r * I + DL_INC, DL_INC * sizeof(float));
    memcpy(g.h[13] + (size_t)r * DL_INC, g.cat + (size_t)r * I + 2 * DL_INC, DL_INC * sizeof(float));
  }
  size_t n8 = (size_t)B * T * DL_CH, n64 = (size_t)B * T * DL_INC;
  memset(g.h[8], 0, n8 * sizeof(float));
  memset(g.h[9], 0, n64 * sizeof(float));
  memset(g.h[11], 0, n64 * sizeof(float));
  memset(g.pool, 0, n8 * sizeof(float));
  conv_bwd(m, 10, a.h[9], g.h[9], B, &a, &g);
  conv_bwd(m, 9, a.h[8], g.h[8], B, &a, &g);
  conv_bwd(m, 12, a.h[11], g.h[11], B, &a, &g);
  conv_bwd(m, 11, a.h[8], g.h[8], B, &a, &g);
  conv_bwd(m, 13, a.pool, g.pool, B, &a, &g);
  nn_maxpool3_t_backward(g.h[8], g.pool, a.arg, B, T, DL_CH);
  for (int i = 8; i >= 0; i--) {
    if (i > 0) memset(g.h[i - 1], 0, (size_t)B * conv_in(c, &L->conv[i]) * sizeof(float));
    conv_bwd(m, i, i ? a.h[i - 1] : m->x, i ? g.h[i - 1] : NULL, B, &a, &g);
  }
}

int dl_tensors(const obi_model *m, named_tensor *t, char (*names)[48]) {
  static const char *const conv_names[DL_CONVS] = {
      "conv1", "conv2", "conv3",        "conv4",        "conv5",        "conv6",        "conv7",
      "conv8", "conv9", "inception.a1", "inception.a2", "inception.b1", "inception.b2", "inception.c"};
  int n = 0, H = m->cfg.hidden, I = 3 * DL_INC;
  for (int i = 0; i < DL_CONVS; i++) {
    const dl_conv *v = &m->L.conv[i];
    snprintf(names[n], 48, "%s.weight", conv_names[i]); /* (Cout, kh*kw, Cin): channels-last */
    t[n] = (named_tensor){names[n], v->w, 2, {v->Cout, (int64_t)v->K * v->Cin}};
    n++;
    snprintf(names[n], 48, "%s.bias", conv_names[i]);
    t[n] = (named_tensor){names[n], v->b, 1, {v->Cout}};
    n++;
  }
  const slab_layout *L = &m->L;
  t[n++] = (named_tensor){"lstm.weight_ih", L->w_ih, 2, {4 * H, I}};
  t[n++] = (named_tensor){"lstm.weight_hh", L->w_hh, 2, {4 * H, H}};
  t[n++] = (named_tensor){"lstm.bias_ih", L->b_ih, 1, {4 * H}};
  t[n++] = (named_tensor){"lstm.bias_hh", L->b_hh, 1, {4 * H}};
  return n;
}
