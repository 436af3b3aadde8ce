/* nn.h — neural-network layers as forward/backward pairs (llm.c style): outputs first,
 * inputs after, shapes in the comment above each. Backward functions ACCUMULATE (+=) into
 * every gradient they write, inputs' gradients included, so callers zero them first.
 *
 * Weight layouts are PyTorch's (nn.Linear: w (OC, C); nn.LSTM: w_ih (4H, C), w_hh (4H, H),
 * gates in the order i, f, g, o), so fixtures dumped by tools/gen_nn_fixtures.py compare
 * directly.
 *
 * The same source compiles twice: as float (the library) and, with -DNN_DOUBLE, as double
 * with every symbol suffixed _f64 (NN(name)) — the finite-difference gradient checks run on
 * the double build. Matrix products go through OpenBLAS (cblas); every BLAS-backed kernel
 * keeps a plain loop version nn_*_ref that the tests compare against. */
#ifndef OBI_NN_H
#define OBI_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef NN_DOUBLE
typedef double real;
#define NN(name) name##_f64
#else
typedef float real;
#define NN(name) name
#endif

/* out (N, OC) = in (N, C) w^T + b;  w (OC, C), b (OC) or NULL */
void NN(nn_linear_forward)(real *out, const real *in, const real *w, const real *b, int N, int C, int OC);
void NN(nn_linear_forward_ref)(real *out, const real *in, const real *w, const real *b, int N, int C, int OC);
/* din (N, C), dw (OC, C), db (OC) (either of din, db may be NULL) += from dout (N, OC) */
void NN(nn_linear_backward)(real *din, real *dw, real *db, const real *dout, const real *in, const real *w, int N,
                            int C, int OC);

/* Layer norm over the last dimension: out (N, C), mean/rstd (N) cached; eps 1e-5 (PyTorch) */
void NN(nn_layernorm_forward)(real *out, real *mean, real *rstd, const real *in, const real *g, const real *b, int N,
                              int C);
void NN(nn_layernorm_backward)(real *din, real *dg, real *db, const real *dout, const real *in, const real *g,
                               const real *mean, const real *rstd, int N, int C);

/* Elementwise, n values. GELU is the exact erf form (PyTorch nn.GELU()). */
void NN(nn_relu_forward)(real *out, const real *in, int n);
void NN(nn_relu_backward)(real *din, const real *dout, const real *in, int n);
void NN(nn_gelu_forward)(real *out, const real *in, int n);
void NN(nn_gelu_backward)(real *din, const real *dout, const real *in, int n);

/* Inverted dropout: keeps each value with probability 1 - p, scaled by 1 / (1 - p); mask (n)
 * records the choice. *rng is a xorshift64 state (deterministic with a seed). */
void NN(nn_dropout_forward)(real *out, uint8_t *mask, const real *in, int n, real p, uint64_t *rng);
void NN(nn_dropout_backward)(real *din, const real *dout, const uint8_t *mask, int n, real p);

/* Softmax cross-entropy with class weights, mean over the batch weighted like PyTorch's
 * CrossEntropyLoss(weight=w): loss = sum_i w[y_i] (-log p_i[y_i]) / sum_i w[y_i].
 * probs (N, K) out; logits (N, K); targets (N) in 0..K-1; class_w (K) or NULL (all 1). */
real NN(nn_xent_forward)(real *probs, const real *logits, const int32_t *targets, const real *class_w, int N, int K);
/* dlogits (N, K) += d loss / d logits */
void NN(nn_xent_backward)(real *dlogits, const real *probs, const int32_t *targets, const real *class_w, int N, int K);

/* LSTM over time from zero state: in (B, T, C) -> h (B, T, H). Caches: c (B, T, H) cell
 * states, gates (B, T, 4H) after their activations (i, f, g, o). Biases b_ih, b_hh (4H).
 * The input projection of all B*T rows is one matrix product; each time step adds the
 * recurrent product of the whole batch (one more). */
void NN(nn_lstm_forward)(real *h, real *c, real *gates, const real *in, const real *w_ih, const real *w_hh,
                         const real *b_ih, const real *b_hh, int B, int T, int C, int H);
/* Backpropagation through time: din (B, T, C) (may be NULL) and the weight gradients += from
 * dh (B, T, H). scratch: B * T * 4H + 2 * B * H reals. */
void NN(nn_lstm_backward)(real *din, real *dw_ih, real *dw_hh, real *db_ih, real *db_hh, const real *dh, const real *in,
                          const real *h, const real *c, const real *gates, const real *w_ih, const real *w_hh, int B,
                          int T, int C, int H, real *scratch);
/* The cell update from pre-activation gates g4 (4H, turned into activations in place): c (H)
 * from c_prev (H, or NULL for a zero state), h (H). nn_lstm_forward applies it at every step. */
void NN(nn_lstm_activate)(real *h, real *c, real *g4, const real *c_prev, int H);

/* One step of one sequence: h, c (H) updated in place from x (C); gates scratch (4H). */
void NN(nn_lstm_step)(real *h, real *c, real *gates, const real *x, const real *w_ih, const real *w_hh,
                      const real *b_ih, const real *b_hh, int C, int H);

/* The exponential the recurrent kernels use (float: a polynomial that vectorises, relative
 * error about 2e-7; double: libm). Exposed so that tests compare it with libm. */
real NN(nn_exp)(real x);

/* Additive (Bahdanau) attention over time: u_t = tanh(W h_t + b) (A), score_t = v . u_t,
 * a = softmax_t(score), ctx = sum_t a_t h_t. in (B, T, H) -> ctx (B, H); caches u (B, T, A),
 * a (B, T). W (A, H), b (A), v (A). */
void NN(nn_attention_forward)(real *ctx, real *u, real *a, const real *in, const real *w, const real *b, const real *v,
                              int B, int T, int H, int A);
/* din (B, T, H), dw, db, dv += from dctx (B, H); scratch: T * A + T reals */
void NN(nn_attention_backward)(real *din, real *dw, real *db, real *dv, const real *dctx, const real *in, const real *u,
                               const real *a, const real *w, const real *v, int B, int T, int H, int A, real *scratch);

/* Convolutions for DeepLOB, channels-last: activations (B, T, W, C) (time, width = book
 * columns, channels). Weights are channels-last too: (Cout, kh, kw, Cin) — PyTorch's Conv2d
 * weight (Cout, Cin, kh, kw) permuted (0, 2, 3, 1).
 * conv_w: kernel (1, K) with stride (1, K) along the width: in (B, T, W, C) -> out (B, T, W/K, Cout),
 *   w (Cout, 1, K, C), one matrix product. */
void NN(nn_conv_w_forward)(real *out, const real *in, const real *w, const real *b, int B, int T, int W, int C, int K,
                           int Cout);
void NN(nn_conv_w_backward)(real *din, real *dw, real *db, const real *dout, const real *in, const real *w, int B,
                            int T, int W, int C, int K, int Cout);
/* conv_t: kernel (K, 1) along time, 'same' padding as TensorFlow pads it (K - 1 zeros split with
 * the larger half after: (K-1)/2 before): in (B, T, W, C) -> out (B, T, W, Cout), w (Cout, K, 1, C). */
void NN(nn_conv_t_forward)(real *out, const real *in, const real *w, const real *b, int B, int T, int W, int C, int K,
                           int Cout);
void NN(nn_conv_t_backward)(real *din, real *dw, real *db, const real *dout, const real *in, const real *w, int B,
                            int T, int W, int C, int K, int Cout);
/* Max-pooling (3, 1) along time with stride 1 and 'same' padding: out and in (N = B, T, WC = W*C);
 * arg (B*T*WC) records the winning time offset (-1, 0, 1) for the backward pass. */
void NN(nn_maxpool3_t_forward)(real *out, int8_t *arg, const real *in, int B, int T, int WC);
void NN(nn_maxpool3_t_backward)(real *din, const real *dout, const int8_t *arg, int B, int T, int WC);
/* Leaky ReLU with slope 0.01 for negative inputs (Keras / DeepLOB). */
void NN(nn_lrelu_forward)(real *out, const real *in, int n);
void NN(nn_lrelu_backward)(real *din, const real *dout, const real *in, int n);

/* Multi-head causal self-attention with ALiBi position biases (Press, Smith and Lewis, "Train
 * Short, Test Long", ICLR 2022): for head h (0-based) of NH, slope m_h = 2^(-8 (h + 1) / NH); the
 * score of query i on key j <= i is q_i . k_j / sqrt(dh) - m_h (i - j) (keys after i are
 * masked). The biases depend only on distances, so a window that slides leaves them unchanged.
 * in (B, T, D) -> out (B, T, D), dh = D / NH. w_qkv (3D, D) and b_qkv (3D) produce q, k, v
 * (in that order along the 3D outputs, head h at columns h*dh .. h*dh+dh-1 of each); w_o (D, D),
 * b_o (D) project the concatenated heads. Caches: qkv (B, T, 3D), att (B, NH, T, T) (the
 * softmax, 0 above the diagonal), y (B, T, D) (heads before the projection). */
void NN(nn_mha_forward)(real *out, real *qkv, real *att, real *y, const real *in, const real *w_qkv, const real *b_qkv,
                        const real *w_o, const real *b_o, int B, int T, int D, int NH);
/* din (B, T, D), dw_qkv, db_qkv, dw_o, db_o += from dout (B, T, D). scratch: B*T*3D + B*T*D + T reals. */
void NN(nn_mha_backward)(real *din, real *dw_qkv, real *db_qkv, real *dw_o, real *db_o, const real *dout,
                         const real *in, const real *qkv, const real *att, const real *y, const real *w_qkv,
                         const real *w_o, int B, int T, int D, int NH, real *scratch);

#endif
