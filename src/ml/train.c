/* train.c — the training loop (train.h) and classification metrics. */
#include "obi/train.h"

#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void metrics_compute(metrics *out, const float *probs, const int32_t *labels, int64_t n) {
  memset(out, 0, sizeof *out);
  out->n = n;
  int64_t count[MODEL_CLASSES] = {0};
  double ll = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *p = probs + i * MODEL_CLASSES;
    int pred = 0;
    for (int k = 1; k < MODEL_CLASSES; k++)
      if (p[k] > p[pred]) pred = k;
    out->confusion[labels[i]][pred]++;
    count[labels[i]]++;
    ll -= log(fmax((double)p[labels[i]], 1e-15));
  }
  int64_t correct = 0, most = 0;
  double f1_sum = 0;
  for (int k = 0; k < MODEL_CLASSES; k++) {
    correct += out->confusion[k][k];
    if (count[k] > most) most = count[k];
    int64_t predicted = 0;
    for (int j = 0; j < MODEL_CLASSES; j++) predicted += out->confusion[j][k];
    out->precision[k] = predicted ? (double)out->confusion[k][k] / (double)predicted : 0;
    out->recall[k] = count[k] ? (double)out->confusion[k][k] / (double)count[k] : 0;
    double pr = out->precision[k] + out->recall[k];
    out->f1[k] = pr > 0 ? 2 * out->precision[k] * out->recall[k] / pr : 0;
    f1_sum += out->f1[k];
  }
  out->accuracy = n ? (double)correct / (double)n : 0;
  out->macro_f1 = f1_sum / MODEL_CLASSES;
  /* MCC and kappa from the confusion matrix: t_k true counts, p_k predicted counts */
  double sn = (double)n, sum_pt = 0, sum_pp = 0, sum_tt = 0;
  for (int k = 0; k < MODEL_CLASSES; k++) {
    double pk = 0;
    for (int j = 0; j < MODEL_CLASSES; j++) pk += (double)out->confusion[j][k];
    sum_pt += pk * (double)count[k], sum_pp += pk * pk, sum_tt += (double)count[k] * count[k];
  }
  double den = sqrt((sn * sn - sum_pp) * (sn * sn - sum_tt));
  out->mcc = den > 0 ? ((double)correct * sn - sum_pt) / den : 0;
  double pe = n ? sum_pt / (sn * sn) : 0;
  out->kappa = pe < 1 ? (out->accuracy - pe) / (1 - pe) : 0;
  double brier = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *p = probs + i * MODEL_CLASSES;
    int pred = 0;
    for (int k = 0; k < MODEL_CLASSES; k++) {
      double e = p[k] - (k == labels[i]);
      brier += e * e;
      if (p[k] > p[pred]) pred = k;
    }
    int bin = (int)(p[pred] * 10);
    bin = bin > 9 ? 9 : bin < 0 ? 0 : bin;
    out->calib_n[bin]++;
    out->calib_confidence[bin] += p[pred];
    out->calib_accuracy[bin] += pred == labels[i];
  }
  out->brier = n ? brier / sn : 0;
  for (int b = 0; b < 10; b++)
    if (out->calib_n[b])
      out->calib_confidence[b] /= (double)out->calib_n[b], out->calib_accuracy[b] /= (double)out->calib_n[b];
  out->log_loss = n ? ll / (double)n : 0;
  out->majority_accuracy = n ? (double)most / (double)n : 0;
}

int64_t window_ends(int64_t from, int64_t to, int T, int64_t *ends) {
  int64_t n = 0;
  for (int64_t e = from + T - 1; e < to; e++) {
    if (ends) ends[n] = e;
    n++;
  }
  return n;
}

void column_stats(const float *X, int64_t rows, int C, double min_var, float *mean, float *std) {
  for (int c = 0; c < C; c++) {
    double s = 0, s2 = 0;
    for (int64_t r = 0; r < rows; r++) s += X[r * C + c], s2 += (double)X[r * C + c] * X[r * C + c];
    double m = rows ? s / (double)rows : 0, v = rows ? s2 / (double)rows - m * m : 1;
    mean[c] = (float)m, std[c] = v > min_var ? (float)sqrt(v) : 1;
  }
}

int64_t window_ends_seg(int64_t from, int64_t to, int T, const int64_t *seg_starts, int nseg, int64_t *ends) {
  int64_t n = 0;
  int k = 0;
  for (int64_t e = from + T - 1; e < to; e++) {
    while (k < nseg && seg_starts[k] <= e) k++; /* seg_starts[k-1]: the start of e's segment */
    if (k > 0 && seg_starts[k - 1] > e - T + 1) continue;
    if (ends) ends[n] = e;
    n++;
  }
  return n;
}

static uint64_t next_rand(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void adamw_update(float *params, const float *grads, float *mom, float *vel, size_t P, double lr, double weight_decay,
                  int64_t step, double clip) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double norm = 0;
  for (size_t k = 0; k < P; k++) norm += (double)grads[k] * grads[k];
  norm = sqrt(norm);
  double scale = clip > 0 && norm > clip ? clip / norm : 1;
  double bc1 = 1 - pow(b1, (double)(step + 1)), bc2 = 1 - pow(b2, (double)(step + 1));
  for (size_t k = 0; k < P; k++) {
    double g = grads[k] * scale;
    mom[k] = (float)(b1 * mom[k] + (1 - b1) * g);
    vel[k] = (float)(b2 * vel[k] + (1 - b2) * g * g);
    /* decoupled weight decay (Loshchilov and Hutter 2019), as torch.optim.AdamW */
    params[k] -= (float)(lr * ((mom[k] / bc1) / (sqrt(vel[k] / bc2) + eps) + weight_decay * params[k]));
  }
}

/* Mean loss and metrics of the model on the windows ending at ends. */
static void evaluate(obi_model *m, const train_data *d, const int64_t *ends, int64_t n, const float *class_w,
                     double *loss, metrics *met, float *probs, int32_t *labels) {
  model_predict(m, d->X, ends, (int)n, probs);
  double l = 0, wsum = 0;
  for (int64_t i = 0; i < n; i++) {
    labels[i] = d->y[ends[i]];
    double w = class_w ? class_w[labels[i]] : 1;
    l -= w * log(fmax((double)probs[i * MODEL_CLASSES + labels[i]], 1e-15));
    wsum += w;
  }
  *loss = wsum > 0 ? l / wsum : 0;
  metrics_compute(met, probs, labels, n);
}

/* The Bayesian online model learns in one pass, row after row in time order, as it would live
 * (every training row's label is known by then); the validation part is scored afterwards. */
static obi_err bayes_fit(obi_model *m, const train_data *d, train_callback cb, void *ctx, train_result *res) {
  int64_t val_start = d->train_end - (int64_t)floor((double)d->train_end * model_get_config(m)->val_fraction);
  int64_t n_val = window_ends_seg(val_start, d->train_end, 1, d->seg_starts, d->nseg, NULL);
  if (val_start - d->purge < 1 || n_val < 1) return OBI_EINVAL;
  double t0 = now_s();
  for (int64_t r = 0; r < val_start - d->purge; r++) {
    obi_err err = model_bayes_update(m, d->X + r * d->C, d->y[r]);
    if (err) return err;
    if (cb && (r & 4095) == 0) cb(ctx, 1, r, val_start - d->purge, NULL);
  }
  int64_t *ends = malloc((size_t)n_val * sizeof *ends);
  float *probs = malloc((size_t)n_val * MODEL_CLASSES * sizeof *probs);
  int32_t *labels = malloc((size_t)n_val * sizeof *labels);
  if (!ends || !probs || !labels) {
    free(ends), free(probs), free(labels);
    return OBI_ENOMEM;
  }
  window_ends_seg(val_start, d->train_end, 1, d->seg_starts, d->nseg, ends);
  metrics met;
  epoch_report *r = &res->history[0];
  evaluate(m, d, ends, n_val, NULL, &r->val_loss, &met, probs, labels);
  r->epoch = 1, r->val_accuracy = met.accuracy, r->val_macro_f1 = met.macro_f1, r->seconds = now_s() - t0;
  res->epochs_run = res->best_epoch = 1;
  res->best_val_macro_f1 = met.macro_f1;
  res->train_windows = val_start - d->purge, res->val_windows = n_val;
  res->windows_per_second = r->seconds > 0 ? (double)res->train_windows / r->seconds : 0;
  if (cb) cb(ctx, 1, 1, 1, r);
  free(ends), free(probs), free(labels);
  return OBI_OK;
}

obi_err model_fit(obi_model *m, const train_data *d, train_callback cb, void *ctx, train_result *res) {
  const model_config *c = model_get_config(m);
  memset(res, 0, sizeof *res);
  if (c->kind == MODEL_BAYES) return bayes_fit(m, d, cb, ctx, res);
  if (c->kind == MODEL_XGB) return xgb_fit(m, d, cb, ctx, res);
  if (c->kind == MODEL_ENSEMBLE) return ens_fit(m, d, cb, ctx, res);
  int T = c->window;
  int64_t val_start = d->train_end - (int64_t)floor((double)d->train_end * c->val_fraction);
  /* training windows end before val_start - purge; validation windows start at val_start */
  int64_t n_train = window_ends_seg(0, val_start - d->purge, T, d->seg_starts, d->nseg, NULL),
          n_val = window_ends_seg(val_start, d->train_end, T, d->seg_starts, d->nseg, NULL);
  if (n_train < c->batch || n_val < 1) return OBI_EINVAL;
  size_t P = model_param_count(m);
  int64_t *train_ends = malloc((size_t)n_train * sizeof *train_ends),
          *val_ends = malloc((size_t)n_val * sizeof *val_ends);
  float *mom = calloc(P, sizeof *mom), *vel = calloc(P, sizeof *vel), *best = malloc(P * sizeof *best);
  float *probs = malloc((size_t)n_val * MODEL_CLASSES * sizeof *probs);
  int32_t *targets = malloc((size_t)(n_val > c->batch ? n_val : c->batch) * sizeof *targets);
  obi_err err = OBI_ENOMEM;
  if (!train_ends || !val_ends || !mom || !vel || !best || !probs || !targets) goto done;
  window_ends_seg(0, val_start - d->purge, T, d->seg_starts, d->nseg, train_ends);
  window_ends_seg(val_start, d->train_end, T, d->seg_starts, d->nseg, val_ends);
  res->train_windows = n_train, res->val_windows = n_val;
  /* class weights: inverse frequency over the training windows, mean 1 */
  float class_w[MODEL_CLASSES] = {1, 1, 1};
  if (c->class_weights) {
    int64_t cnt[MODEL_CLASSES] = {0};
    for (int64_t i = 0; i < n_train; i++) cnt[d->y[train_ends[i]]]++;
    for (int k = 0; k < MODEL_CLASSES; k++) class_w[k] = cnt[k] ? (float)((double)n_train / (3.0 * (double)cnt[k])) : 0;
  }
  float *params = model_params(m), *grads = model_grads(m);
  memcpy(best, params, P * sizeof *best);
  res->best_val_macro_f1 = -1;
  uint64_t rng = c->seed * 0x9E3779B97F4A7C15ULL + 7;
  int64_t steps_per_epoch = n_train / c->batch, total_steps = steps_per_epoch * c->epochs, step = 0;
  int since_best = 0;
  double t_train = 0;
  int64_t windows_trained = 0;
  for (int epoch = 1; epoch <= c->epochs; epoch++) {
    double t0 = now_s();
    for (int64_t i = n_train - 1; i > 0; i--) { /* shuffle the training windows (Fisher-Yates) */
      int64_t j = (int64_t)(next_rand(&rng) % (uint64_t)(i + 1)), t = train_ends[i];
      train_ends[i] = train_ends[j], train_ends[j] = t;
    }
    double loss_sum = 0, lr = c->lr;
    for (int64_t s = 0; s < steps_per_epoch; s++, step++) {
      const int64_t *ends = train_ends + s * c->batch;
      for (int b = 0; b < c->batch; b++) targets[b] = d->y[ends[b]];
      memset(grads, 0, P * sizeof *grads);
      loss_sum += model_loss_backward(m, d->X, ends, targets, c->batch, class_w);
      /* linear warm-up, then cosine decay to 10% */
      if (step < c->warmup_steps)
        lr = c->lr * (double)(step + 1) / c->warmup_steps;
      else {
        double progress = (double)(step - c->warmup_steps) / (double)(total_steps - c->warmup_steps + 1);
        lr = c->lr * (0.1 + 0.9 * 0.5 * (1 + cos(3.14159265358979 * progress)));
      }
      adamw_update(params, grads, mom, vel, P, lr, c->weight_decay, step, c->clip);
      if (cb && (s & 15) == 0) cb(ctx, epoch, s, steps_per_epoch, NULL);
    }
    t_train += now_s() - t0;
    windows_trained += steps_per_epoch * c->batch;
    epoch_report *r = &res->history[res->epochs_run < 1000 ? res->epochs_run : 999];
    metrics met;
    r->epoch = epoch;
    r->train_loss = loss_sum / (double)steps_per_epoch;
    r->lr = lr;
    evaluate(m, d, val_ends, n_val, class_w, &r->val_loss, &met, probs, targets);
    r->val_accuracy = met.accuracy;
    r->val_macro_f1 = met.macro_f1;
    r->seconds = now_s() - t0;
    res->epochs_run++;
    if (cb) cb(ctx, epoch, steps_per_epoch, steps_per_epoch, r);
    if (met.macro_f1 > res->best_val_macro_f1) {
      res->best_val_macro_f1 = met.macro_f1;
      res->best_epoch = epoch;
      memcpy(best, params, P * sizeof *best);
      since_best = 0;
    } else if (++since_best >= c->patience) {
      break;
    }
  }
  memcpy(params, best, P * sizeof *best);
  res->windows_per_second = t_train > 0 ? (double)windows_trained / t_train : 0;
  err = OBI_OK;
done:
  free(train_ends);
  free(val_ends);
  free(mom);
  free(vel);
  free(best);
  free(probs);
  free(targets);
  return err;
}
