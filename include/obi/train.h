/* train.h — training and evaluating obi_model on feature files, and classification metrics.
 *
 * Splits are chronological and windows never straddle them: rows [0, train_end) are the
 * training part, of which the last val_fraction is the validation part used for early
 * stopping; a purge gap of `purge` rows (the label horizon) separates the parts, so no
 * training label looks into validation rows. Optimiser: AdamW (Loshchilov and Hutter 2019)
 * with global gradient-norm clipping, linear warm-up then cosine decay to 10% of the rate,
 * class weights by inverse frequency, early stopping on validation macro-F1 (the best
 * weights are kept). Everything random comes from the model's seed. */
#ifndef OBI_TRAIN_H
#define OBI_TRAIN_H

#include <stdint.h>

#include "obi/model.h"

typedef struct {
  const float *X;  /* features (rows, C), raw (the model normalises) */
  const int8_t *y; /* labels (rows), 0..2 */
  int64_t rows;
  int C;
  int64_t train_end;         /* rows [0, train_end) may be trained on */
  int64_t purge;             /* rows dropped at each boundary (the label horizon) */
  const int64_t *seg_starts; /* optional (NULL): rows where a new segment (a day) starts; no */
  int nseg;                  /* window straddles a segment start */
} train_data;

typedef struct {
  int64_t n;
  int64_t confusion[MODEL_CLASSES][MODEL_CLASSES]; /* [true][predicted] */
  double accuracy, macro_f1, log_loss;
  double precision[MODEL_CLASSES], recall[MODEL_CLASSES], f1[MODEL_CLASSES];
  double majority_accuracy; /* always predicting the most frequent true class (of these rows) */
  double mcc;               /* multiclass Matthews correlation (Gorodkin 2004) */
  double kappa;             /* Cohen's kappa */
  double brier;             /* mean over rows of sum_k (p_k - 1{y = k})^2 */
  /* reliability: rows binned by the predicted class's probability, [b/10, (b+1)/10) */
  int64_t calib_n[10];
  double calib_confidence[10], calib_accuracy[10];
} metrics;

/* Metrics of n predictions (probs (n, 3)) against labels. */
void metrics_compute(metrics *out, const float *probs, const int32_t *labels, int64_t n);

typedef struct {
  int epoch;
  double train_loss, val_loss, val_accuracy, val_macro_f1, lr;
  double seconds;
} epoch_report;

typedef struct {
  int epochs_run, best_epoch;
  double best_val_macro_f1;
  int64_t train_windows, val_windows;
  double windows_per_second;
  epoch_report history[1000];
} train_result;

/* Called after every epoch (progress between epochs: step/steps). May be NULL. */
typedef void (*train_callback)(void *ctx, int epoch, int64_t step, int64_t steps, const epoch_report *finished);

/* One AdamW step (step counts from 0): gradients clipped to global norm clip (0: none), then
 * the moment updates with bias correction and decoupled weight decay. */
void adamw_update(float *params, const float *grads, float *mom, float *vel, size_t P, double lr, double weight_decay,
                  int64_t step, double clip);

/* Per-column mean and standard deviation of rows [0, rows) of X (rows, C): the normalisation
 * statistics of a model's training rows. std is 1 where the variance is not above min_var (a
 * constant column); mean 0 and std 1 when rows is 0. */
void column_stats(const float *X, int64_t rows, int C, double min_var, float *mean, float *std);

/* Trains m in place. OBI_EINVAL when there are too few windows for a training and a
 * validation part; OBI_ENOMEM. */
obi_err model_fit(obi_model *m, const train_data *d, train_callback cb, void *ctx, train_result *res);

/* Window ends (the row each window predicts) in [from, to) whose windows lie inside
 * [from, to): ends >= from + T - 1. Returns the count; ends may be NULL to count. */
int64_t window_ends(int64_t from, int64_t to, int T, int64_t *ends);
/* The same, also excluding windows that contain a segment start (seg_starts sorted; may be NULL). */
int64_t window_ends_seg(int64_t from, int64_t to, int T, const int64_t *seg_starts, int nseg, int64_t *ends);

#endif
