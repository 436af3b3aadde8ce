/* model.h — the forecasting models behind one interface (DESIGN: obi_model).
 *
 * A model maps a window of T feature rows (the rows ending at the row being predicted) to
 * probabilities of the three classes (0 down, 1 stationary, 2 up). Inputs are normalised
 * inside the model with the training statistics it was given, so callers pass raw feature
 * rows. Models:
 *   logistic    multinomial logistic regression on the last row (the baseline)
 *   lstm        LSTM over the window, linear layer on the last hidden state
 *   attn_lstm   LSTM, additive attention over all hidden states, linear layer on the context
 *   transformer input projection, pre-norm blocks of causal multi-head self-attention with ALiBi
 *               position biases and a GELU feed-forward layer, final layer norm, linear layer on
 *               the last position
 *   deeplob     DeepLOB (Zhang, Zohren, Roberts 2019) on the raw book: convolutions over the
 *               columns and time, an inception module, an LSTM; needs C = 4 x levels raw book
 *               columns in FI-2010 order (obi features --raw-book)
 *   bayes       Bayesian online logistic regression (one-vs-rest, Gaussian prior, diagonal
 *               posterior updated per labelled row, forgetting factor); trained by one
 *               sequential pass, and online with labels that arrive late (model_bayes_*)
 *   xgb         gradient-boosted trees through XGBoost's C API (multi:softprob) on the last row;
 *               the booster is saved in XGBoost's own JSON format beside the model file
 *   ensemble    a stacked ensemble: a multinomial logistic meta-learner on the logarithms of base
 *               models' probabilities, fitted on their out-of-fold predictions from time-ordered
 *               folds (or, with stack 0, the plain average of the bases)
 * All parameters live in one slab (and their gradients in another) so that the optimiser,
 * gradient clipping, checkpoints and files treat them as one array. */
#ifndef OBI_MODEL_H
#define OBI_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

#define MODEL_CLASSES 3
#define MODEL_MAX_FEATURES 256

typedef enum {
  MODEL_LOGISTIC,
  MODEL_LSTM,
  MODEL_ATTN_LSTM,
  MODEL_TRANSFORMER,
  MODEL_DEEPLOB,
  MODEL_BAYES,
  MODEL_XGB,
  MODEL_ENSEMBLE,
  MODEL__COUNT
} model_kind;

typedef struct {
  model_kind kind;
  int window;             /* T: rows per window (logistic: 1) */
  int hidden;             /* H: LSTM state size; the transformer's model width D */
  int attn;               /* A: attention size (attn_lstm) */
  int layers, heads, ffn; /* transformer: blocks, attention heads (hidden % heads == 0), feed-forward width */
  /* training */
  int epochs, batch;
  double lr, weight_decay, clip, dropout;
  int warmup_steps, patience;
  double val_fraction; /* the last part of the training rows, for early stopping */
  int class_weights;   /* 1: weight classes by inverse training frequency */
  uint64_t seed;
  double prior_precision; /* bayes: precision of the Gaussian prior on every weight (default 1) */
  double forgetting;      /* bayes: precisions decay towards the prior by this factor per update (1: none) */
  int max_depth;          /* xgb: tree depth (default 6); xgb uses epochs as boosting rounds, lr as eta */
  int best_rounds;        /* xgb: rounds kept after early stopping (set by training) */
  char bases[96];         /* ensemble: base kinds, comma-separated (default "logistic,lstm,xgb") */
  int stack;              /* ensemble: 1 a fitted meta-learner (default), 0 the plain average */
  int ens_folds;          /* ensemble: time-ordered folds for the out-of-fold predictions (default 3) */
} model_config;

/* Defaults per kind (small enough to train in minutes on two cores). */
void model_config_default(model_config *c, model_kind kind);
/* "logistic" -> MODEL_LOGISTIC ...; -1 if unknown. */
int model_kind_from_name(const char *name);
const char *model_kind_name(model_kind kind);
/* Applies a JSON object of overrides ({"hidden": 32, "lr": 0.001, ...}). OBI_EPARSE with why on
 * an unknown key, a wrong type or an out-of-range value. */
obi_err model_config_from_json(model_config *c, const char *json_text, char *why, size_t why_len);

typedef struct obi_model obi_model;

/* A new model with freshly initialised weights (seeded) for C features. names (C strings) and
 * mean/std (C) are copied; std 0 is treated as 1. */
obi_err model_new(obi_model **out, const model_config *cfg, int C, const char *const *names, const float *mean,
                  const float *std);
void model_free(obi_model *m);

const model_config *model_get_config(const obi_model *m);
int model_features(const obi_model *m);
const char *model_feature_name(const obi_model *m, int i);
size_t model_param_count(const obi_model *m);
/* The parameter and gradient slabs (model_param_count values each). */
float *model_params(obi_model *m);
float *model_grads(obi_model *m);

/* Probabilities for B windows: X is the feature matrix (rows, C), ends[b] the last row of
 * window b (ends[b] >= T - 1). probs (B, 3). */
void model_predict(obi_model *m, const float *X, const int64_t *ends, int B, float *probs);

/* Forward and backward on a batch (training mode: dropout on): returns the mean weighted
 * cross-entropy; gradients are ADDED to the gradient slab. class_w (3) may be NULL. */
float model_loss_backward(obi_model *m, const float *X, const int64_t *ends, const int32_t *targets, int B,
                          const float *class_w);

/* Streaming inference: model_reset, then one raw feature row per model_step. Returns 1 and
 * fills probs once T rows have been seen; the result equals model_predict on the last T rows. */
void model_reset(obi_model *m);
int model_step(obi_model *m, const float *row, float *probs);

/* Bayesian online model (kind bayes). Labels arrive late: the label of a row is known only
 * once its horizon has passed. model_bayes_push remembers the (raw) row just predicted;
 * model_bayes_mature(label) applies the label of the row pushed `delay` pushes ago — the
 * oldest one waiting — and never touches a row whose label has not been given. Returns
 * OBI_EINVAL when no row is waiting. model_bayes_update applies a label to a row directly
 * (offline fitting). Predictive probabilities integrate the posterior variance (MacKay's
 * probit approximation); model_bayes_uncertainty gives each class's predictive variance of the
 * logit for the last predicted row. */
obi_err model_bayes_update(obi_model *m, const float *row, int label);
obi_err model_bayes_push(obi_model *m, const float *row);
obi_err model_bayes_mature(obi_model *m, int label);
int model_bayes_waiting(const obi_model *m);
void model_bayes_uncertainty(const obi_model *m, const float *row, double *logit_var);

/* Feature importance of an xgb model: total gain per feature (C values); OBI_EINVAL for other kinds. */
obi_err model_xgb_importance(obi_model *m, double *gain);

/* Files: weights as safetensors at path, configuration and feature metadata in its
 * __metadata__ (JSON: kind, config, feature names, normalisation, version). Loading checks the
 * shapes against the configuration: a truncated or mismatched file is OBI_EPARSE with why. */
obi_err model_save(const obi_model *m, const char *path);
obi_err model_load(obi_model **out, const char *path, char *why, size_t why_len);

#endif
