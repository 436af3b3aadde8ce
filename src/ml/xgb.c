/* xgb.c — gradient-boosted trees (XGBoost's C API) behind obi_model.
 *
 * The trees read the last row of each window as it is (trees need no normalisation), with the
 * multi:softprob objective. Training (xgb_fit, called by model_fit) adds one round at a time and
 * checks validation macro-F1 every 10 rounds; the rounds of the best check are kept
 * (cfg.best_rounds) and predictions use only those trees. Class weights by inverse frequency go
 * in as instance weights. The booster is saved in XGBoost's own JSON format next to the model
 * file (PATH.xgb.json); the model file keeps obi's metadata. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xgboost/c_api.h>

#include "model_internal.h"
#include "obi/train.h"

static DMatrixHandle rows_matrix(const float *X, int C, const int64_t *ends, int64_t n, float *scratch) {
  for (int64_t i = 0; i < n; i++) memcpy(scratch + i * C, X + ends[i] * C, (size_t)C * sizeof *scratch);
  DMatrixHandle h = NULL;
  if (XGDMatrixCreateFromMat(scratch, (bst_ulong)n, (bst_ulong)C, NAN, &h)) return NULL;
  return h;
}

void xgb_free(obi_model *m) {
  if (m->booster) XGBoosterFree(m->booster);
  m->booster = NULL;
}

int xgb_predict(obi_model *m, const float *X, const int64_t *ends, int B, float *probs) {
  float *scratch = malloc((size_t)B * m->C * sizeof *scratch);
  DMatrixHandle h = scratch && m->booster ? rows_matrix(X, m->C, ends, B, scratch) : NULL;
  bst_ulong len = 0;
  const float *out = NULL;
  int ok = h && !XGBoosterPredict(m->booster, h, 0, (unsigned)m->cfg.best_rounds, 0, &len, &out) &&
           len == (bst_ulong)B * MODEL_CLASSES;
  if (ok) memcpy(probs, out, (size_t)B * MODEL_CLASSES * sizeof *probs);
  if (h) XGDMatrixFree(h);
  free(scratch);
  return ok;
}

static void set(BoosterHandle b, const char *k, const char *v) { XGBoosterSetParam(b, k, v); }

obi_err xgb_fit(obi_model *m, const train_data *d, train_callback cb, void *ctx, train_result *res) {
  model_config *c = &m->cfg;
  int64_t val_start = d->train_end - (int64_t)floor((double)d->train_end * c->val_fraction);
  int64_t n_tr = window_ends_seg(0, val_start - d->purge, 1, d->seg_starts, d->nseg, NULL);
  int64_t n_va = window_ends_seg(val_start, d->train_end, 1, d->seg_starts, d->nseg, NULL);
  if (n_tr < 10 || n_va < 1) return OBI_EINVAL;
  int64_t *tr = malloc((size_t)n_tr * sizeof *tr), *va = malloc((size_t)n_va * sizeof *va);
  float *scratch = malloc((size_t)(n_tr > n_va ? n_tr : n_va) * m->C * sizeof *scratch);
  float *label = malloc((size_t)n_tr * sizeof *label), *weight = malloc((size_t)n_tr * sizeof *weight);
  float *probs = malloc((size_t)n_va * MODEL_CLASSES * sizeof *probs);
  int32_t *vl = malloc((size_t)n_va * sizeof *vl);
  DMatrixHandle dtr = NULL, dva = NULL;
  obi_err err = OBI_ENOMEM;
  if (!tr || !va || !scratch || !label || !weight || !probs || !vl) goto done;
  window_ends_seg(0, val_start - d->purge, 1, d->seg_starts, d->nseg, tr);
  window_ends_seg(val_start, d->train_end, 1, d->seg_starts, d->nseg, va);
  int64_t cnt[MODEL_CLASSES] = {0};
  for (int64_t i = 0; i < n_tr; i++) cnt[d->y[tr[i]]]++;
  for (int64_t i = 0; i < n_tr; i++) {
    label[i] = d->y[tr[i]];
    weight[i] = c->class_weights && cnt[d->y[tr[i]]] ? (float)((double)n_tr / (3.0 * (double)cnt[d->y[tr[i]]])) : 1;
  }
  for (int64_t i = 0; i < n_va; i++) vl[i] = d->y[va[i]];
  err = OBI_EIO;
  dtr = rows_matrix(d->X, m->C, tr, n_tr, scratch);
  if (!dtr || XGDMatrixSetFloatInfo(dtr, "label", label, (bst_ulong)n_tr) ||
      XGDMatrixSetFloatInfo(dtr, "weight", weight, (bst_ulong)n_tr))
    goto done;
  dva = rows_matrix(d->X, m->C, va, n_va, scratch);
  xgb_free(m);
  if (!dva || XGBoosterCreate(&dtr, 1, &m->booster)) goto done;
  char v[64];
  set(m->booster, "objective", "multi:softprob");
  set(m->booster, "num_class", "3");
  set(m->booster, "nthread", "1");
  set(m->booster, "tree_method", "hist");
  snprintf(v, sizeof v, "%d", c->max_depth);
  set(m->booster, "max_depth", v);
  snprintf(v, sizeof v, "%g", c->lr);
  set(m->booster, "eta", v);
  snprintf(v, sizeof v, "%g", c->weight_decay > 0 ? c->weight_decay : 1.0);
  set(m->booster, "lambda", v);
  set(m->booster, "subsample", "0.8");
  set(m->booster, "colsample_bytree", "0.8");
  snprintf(v, sizeof v, "%llu", (unsigned long long)(c->seed % 2147483647));
  set(m->booster, "seed", v);
  double best = -1, t0 = (double)clock() / CLOCKS_PER_SEC;
  int since = 0;
  c->best_rounds = 0;
  for (int round = 1; round <= c->epochs; round++) {
    if (XGBoosterUpdateOneIter(m->booster, round - 1, dtr)) goto done;
    if (round % 10 && round != c->epochs) continue;
    bst_ulong len;
    const float *out;
    if (XGBoosterPredict(m->booster, dva, 0, (unsigned)round, 0, &len, &out)) goto done;
    metrics met;
    metrics_compute(&met, out, vl, n_va);
    epoch_report *r = &res->history[res->epochs_run < 1000 ? res->epochs_run : 999];
    r->epoch = round, r->val_accuracy = met.accuracy, r->val_macro_f1 = met.macro_f1, r->val_loss = met.log_loss;
    res->epochs_run++;
    if (cb) cb(ctx, round, round, c->epochs, r);
    if (met.macro_f1 > best)
      best = met.macro_f1, c->best_rounds = round, res->best_epoch = round, since = 0;
    else if (++since >= c->patience)
      break;
  }
  res->best_val_macro_f1 = best;
  res->train_windows = n_tr, res->val_windows = n_va;
  double secs = (double)clock() / CLOCKS_PER_SEC - t0; /* rows per second of the whole fit */
  res->windows_per_second = secs > 0 ? (double)n_tr / secs : 0;
  err = OBI_OK;
done:
  if (dtr) XGDMatrixFree(dtr);
  if (dva) XGDMatrixFree(dva);
  free(tr), free(va), free(scratch), free(label), free(weight), free(probs), free(vl);
  return err;
}

int xgb_save(const obi_model *m, const char *path) {
  char p[4200];
  snprintf(p, sizeof p, "%s.xgb.json", path);
  return m->booster && !XGBoosterSaveModel(m->booster, p);
}

int xgb_load(obi_model *m, const char *path, char *why, size_t why_len) {
  char p[4200];
  snprintf(p, sizeof p, "%s.xgb.json", path);
  xgb_free(m);
  FILE *f = fopen(p, "rb");
  if (!f) {
    snprintf(why, why_len, "the booster file %s is missing", p);
    return 0;
  }
  fclose(f);
  if (XGBoosterCreate(NULL, 0, &m->booster) || XGBoosterLoadModel(m->booster, p)) {
    snprintf(why, why_len, "%s: XGBoost cannot load it: %s", p, XGBGetLastError());
    xgb_free(m);
    return 0;
  }
  return 1;
}

obi_err model_xgb_importance(obi_model *m, double *gain) {
  if (m->cfg.kind != MODEL_XGB || !m->booster) return OBI_EINVAL;
  bst_ulong nf = 0, dim = 0;
  const char **names = NULL;
  const bst_ulong *shape = NULL;
  const float *scores = NULL;
  for (int i = 0; i < m->C; i++) gain[i] = 0;
  if (XGBoosterFeatureScore(m->booster, "{\"importance_type\": \"total_gain\"}", &nf, &names, &dim, &shape, &scores))
    return OBI_EIO;
  for (bst_ulong i = 0; i < nf; i++) { /* names are "f<index>" */
    int k = names[i][0] == 'f' ? atoi(names[i] + 1) : -1;
    if (k >= 0 && k < m->C) gain[k] = scores[i];
  }
  return OBI_OK;
}
