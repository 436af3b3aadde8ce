/* model_internal.h — what model.c and transformer.c share: the model struct and its slab layout. */
#ifndef OBI_MODEL_INTERNAL_H
#define OBI_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "obi/model.h"
#include "obi/train.h"

#define TF_MAX_LAYERS 8
#define ENS_MAX_BASES 8
#define ENS_MAX_FOLDS 10

typedef struct { /* offsets of one transformer block's parameters */
  size_t ln1_g, ln1_b, qkv_w, qkv_b, o_w, o_b, ln2_g, ln2_b, ff1_w, ff1_b, ff2_w, ff2_b;
} tf_block;

/* One convolution of DeepLOB: kind 'w' (1, K) along the width or 't' (K, 1) along time. */
typedef struct {
  char kind;
  int K, Cin, Cout, Win, Wout;
  size_t w, b;
} dl_conv;
#define DL_CONVS 14 /* 9 in the trunk, 5 in the inception module */

typedef struct { /* offsets into the slab (floats), and sizes */
  size_t w_ih, w_hh, b_ih, b_hh, att_w, att_b, att_v, w_out, b_out, total;
  size_t in_w, in_b, lnf_g, lnf_b; /* transformer */
  tf_block blk[TF_MAX_LAYERS];
  dl_conv conv[DL_CONVS]; /* deeplob */
  size_t prec;            /* bayes: posterior precisions (3C + 3) after the means */
  int feat;               /* size of the representation fed to the output layer */
} slab_layout;

struct obi_model {
  model_config cfg;
  int C;
  char (*names)[64];
  float *mean, *std;
  slab_layout L;
  float *params, *grads;
  /* activations for a batch of up to cap windows */
  int cap;
  float *x, *h, *c, *gates, *u, *a, *rep, *rep_drop, *logits, *probs, *drep, *dh, *scratch, *dlogits;
  uint8_t *mask;
  uint64_t rng;
  float *tf;      /* transformer activations for cap windows (transformer.c) */
  void *booster;  /* xgb: BoosterHandle */
  float *pending; /* bayes: normalised rows waiting for their labels (a ring) */
  int pending_head, pending_n, pending_cap;
  size_t tf_per_window;
  obi_model *base[ENS_MAX_BASES]; /* ensemble */
  model_kind base_kind[ENS_MAX_BASES];
  int nbase;
  /* streaming */
  float *ring_x, *ring_proj, *sh, *sc, *sgates;
  int64_t seen;
};

/* transformer.c */
size_t tf_layout(slab_layout *L, const model_config *cfg, int C, size_t offset);
void tf_init(obi_model *m, uint64_t *rng);
size_t tf_floats_per_window(const model_config *cfg);
void tf_forward(obi_model *m, int B);  /* m->x (B, T, C) -> m->rep (B, D) */
void tf_backward(obi_model *m, int B); /* m->drep (B, D) -> gradients */

/* xgb.c */
obi_err xgb_fit(obi_model *m, const train_data *d, train_callback cb, void *ctx, train_result *res);
int xgb_predict(obi_model *m, const float *X, const int64_t *ends, int B, float *probs);
void xgb_free(obi_model *m);
int xgb_save(const obi_model *m, const char *path);
int xgb_load(obi_model *m, const char *path, char *why, size_t why_len);

/* ensemble.c */
int ens_parse_bases(const char *s, model_kind *kinds);                              /* the count, or -1 */
int ens_base_path(char *out, size_t len, const char *path, int i, model_kind kind); /* -1: too long */
obi_err ens_new_bases(obi_model *m);
/* The configuration base i of an ensemble gets: its kind's defaults, the ensemble's window for
 * the models that read one, a seed of its own. */
void ens_base_config(const model_config *ens, model_kind kind, int i, model_config *out);
void ens_free_bases(obi_model *m);
void ens_predict(obi_model *m, const float *X, const int64_t *ends, int B, float *probs);
int ens_step(obi_model *m, const float *row, float *probs);
void ens_reset(obi_model *m);
obi_err ens_fit(obi_model *m, const train_data *d, train_callback cb, void *ctx, train_result *res);
/* The out-of-fold predictions the meta-learner is fitted on: the training part cut at bounds
 * (ens_folds + 2 values, bounds[0] = 0, the last = train_end); window ends[w] of block k
 * (k >= 1) lies in [bounds[k] + purge, bounds[k + 1]) and was predicted by bases trained on
 * rows before bounds[k]. probs (nbase, n, 3). */
typedef struct {
  int64_t bounds[ENS_MAX_FOLDS + 2];
  int64_t n, *ends;
  float *probs;
} ens_oof_result;
obi_err ens_oof(const obi_model *m, const train_data *d, ens_oof_result *r);
void ens_oof_free(ens_oof_result *r);

/* deeplob.c */
size_t dl_layout(slab_layout *L, const model_config *cfg, int C, size_t offset);
void dl_init(obi_model *m, uint64_t *rng);
size_t dl_floats_per_window(const model_config *cfg, int C);
void dl_forward(obi_model *m, int B);  /* m->x (B, T, C) -> m->rep (B, H) */
void dl_backward(obi_model *m, int B); /* m->drep (B, H) -> gradients */

typedef struct {
  const char *name;
  size_t off;
  int ndim;
  int64_t shape[2];
} named_tensor;
int tf_tensors(const obi_model *m, named_tensor *t, char (*names)[48]);
int dl_tensors(const obi_model *m, named_tensor *t, char (*names)[48]);

#endif
