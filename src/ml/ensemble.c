/* ensemble.c — the stacked ensemble behind obi_model (kind ensemble).
 *
 * Base models (cfg.bases, e.g. "logistic,lstm,xgb") each give three class probabilities; the
 * ensemble's output layer (the slab's out.weight (3, 3 x bases) and out.bias) is a multinomial
 * logistic meta-learner on their logarithms. Stacking needs predictions the bases made on rows
 * they were not trained on (Wolpert 1992), and in time series those rows must also lie after
 * the training rows: ens_oof cuts the training part into ens_folds + 1 blocks in time, and for
 * fold k trains fresh bases on every row before block k (normalisation fitted there) and
 * predicts block k after a purge gap. The meta-learner is fitted on those out-of-fold
 * predictions, with its own chronological validation split; then the bases are refitted on
 * the whole training part. With cfg.stack = 0 the ensemble is the plain average of the bases'
 * probabilities (the baseline a stacked ensemble has to beat).
 *
 * Files: the ensemble's file holds the meta-learner; base i is saved beside it as
 * PATH.base<i>.<kind>.safetensors (and an xgb base's booster beside that). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "obi/train.h"

int ens_parse_bases(const char *s, model_kind *kinds) {
  int n = 0;
  char buf[sizeof((model_config *)0)->bases];
  snprintf(buf, sizeof buf, "%s", s);
  size_t len = strlen(buf);
  if (len == 0 || buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,")) return -1; /* no empty entries */
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int k = model_kind_from_name(tok);
    if (k < 0 || k == MODEL_ENSEMBLE || n == ENS_MAX_BASES) return -1;
    kinds[n++] = (model_kind)k;
  }
  return n ? n : -1;
}

int ens_base_path(char *out, size_t len, const char *path, int i, model_kind kind) {
  int n = snprintf(out, len, "%s.base%d.%s.safetensors", path, i, model_kind_name(kind));
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

void ens_base_config(const model_config *ens, model_kind kind, int i, model_config *out) {
  model_config_default(out, kind);
  if (out->window != 1) out->window = ens->window;
  out->seed = ens->seed + 7919u * (uint64_t)(i + 1);
}

static obi_err new_base(obi_model **out, const obi_model *m, int i, const float *mean, const float *std) {
  model_config bc;
  ens_base_config(&m->cfg, m->base_kind[i], i, &bc);
  const char *names[MODEL_MAX_FEATURES];
  for (int c = 0; c < m->C; c++) names[c] = m->names[c];
  return model_new(out, &bc, m->C, names, mean, std);
}

obi_err ens_new_bases(obi_model *m) {
  for (int i = 0; i < m->nbase; i++) {
    obi_err err = new_base(&m->base[i], m, i, m->mean, m->std);
    if (err) return err;
  }
  return OBI_OK;
}

void ens_free_bases(obi_model *m) {
  for (int i = 0; i < m->nbase; i++) model_free(m->base[i]), m->base[i] = NULL;
}

/* probs (B, 3) from the bases' probabilities bp (nbase, B, 3) */
static void combine(const obi_model *m, const float *bp, int B, float *probs) {
  int nb = m->nbase, F = 3 * nb;
  const float *W = m->params + m->L.w_out, *bias = m->params + m->L.b_out;
  for (int b = 0; b < B; b++) {
    float *p = probs + (size_t)b * MODEL_CLASSES;
    if (!m->cfg.stack) {
      for (int k = 0; k < MODEL_CLASSES; k++) {
        double s = 0;
        for (int i = 0; i < nb; i++) s += bp[((size_t)i * B + b) * MODEL_CLASSES + k];
        p[k] = (float)(s / nb);
      }
      continue;
    }
    int bad = 0; /* a base that could not answer: no answer, not a confident one */
    for (int i = 0; i < nb; i++)
      for (int k = 0; k < MODEL_CLASSES; k++) bad |= isnan(bp[((size_t)i * B + b) * MODEL_CLASSES + k]);
    if (bad) {
      for (int k = 0; k < MODEL_CLASSES; k++) p[k] = NAN;
      continue;
    }
    double z[MODEL_CLASSES], mx = -INFINITY, sum = 0;
    for (int k = 0; k < MODEL_CLASSES; k++) {
      z[k] = bias[k];
      for (int j = 0; j < F; j++) {
        int i = j / MODEL_CLASSES, c = j % MODEL_CLASSES;
        z[k] += W[k * F + j] * logf(fmaxf(bp[((size_t)i * B + b) * MODEL_CLASSES + c], 1e-6f));
      }
      mx = fmax(mx, z[k]);
    }
    for (int k = 0; k < MODEL_CLASSES; k++) sum += z[k] = exp(z[k] - mx);
    for (int k = 0; k < MODEL_CLASSES; k++) p[k] = (float)(z[k] / sum);
  }
}

void ens_predict(obi_model *m, const float *X, const int64_t *ends, int B, float *probs) {
  float *bp = malloc((size_t)m->nbase * B * MODEL_CLASSES * sizeof *bp);
  if (!bp) {
    for (int i = 0; i < B * MODEL_CLASSES; i++) probs[i] = NAN; /* never a silent answer */
    return;
  }
  for (int i = 0; i < m->nbase; i++) model_predict(m->base[i], X, ends, B, bp + (size_t)i * B * MODEL_CLASSES);
  combine(m, bp, B, probs);
  free(bp);
}

int ens_step(obi_model *m, const float *row, float *probs) {
  float bp[ENS_MAX_BASES * MODEL_CLASSES];
  int ready = 1;
  for (int i = 0; i < m->nbase; i++) ready &= model_step(m->base[i], row, bp + i * MODEL_CLASSES);
  if (++m->seen < m->cfg.window || !ready) return 0;
  combine(m, bp, 1, probs);
  return 1;
}

void ens_reset(obi_model *m) {
  m->seen = 0;
  for (int i = 0; i < m->nbase; i++) model_reset(m->base[i]);
}

obi_err ens_oof(const obi_model *m, const train_data *d, ens_oof_result *r) {
  memset(r, 0, sizeof *r);
  int K = m->cfg.ens_folds, T = m->cfg.window, nb = m->nbase, C = d->C;
  int64_t E = d->train_end;
  if (K < 2 || K > ENS_MAX_FOLDS) return OBI_EINVAL;
  for (int k = 0; k <= K + 1; k++) r->bounds[k] = E * k / (K + 1);
  if (r->bounds[1] < 1) return OBI_EINVAL;
  for (int k = 1; k <= K; k++)
    r->n += window_ends_seg(r->bounds[k] + d->purge, r->bounds[k + 1], T, d->seg_starts, d->nseg, NULL);
  if (r->n < 1) return OBI_EINVAL;
  r->ends = malloc((size_t)r->n * sizeof *r->ends);
  r->probs = malloc((size_t)nb * r->n * MODEL_CLASSES * sizeof *r->probs);
  float *mean = malloc((size_t)C * sizeof *mean), *std = malloc((size_t)C * sizeof *std);
  float *fp = malloc((size_t)r->n * MODEL_CLASSES * sizeof *fp);
  obi_err err = OBI_ENOMEM;
  if (!r->ends || !r->probs || !mean || !std || !fp) goto done;
  int64_t at = 0;
  for (int k = 1; k <= K; k++) {
    int64_t lo = r->bounds[k],
            n = window_ends_seg(lo + d->purge, r->bounds[k + 1], T, d->seg_starts, d->nseg, r->ends + at);
    column_stats(d->X, lo, C, 0, mean, std); /* normalisation from this fold's training rows only */
    train_data td = *d;
    td.train_end = lo;
    for (int i = 0; i < nb && n > 0; i++) {
      obi_model *b = NULL;
      train_result *tr = calloc(1, sizeof *tr);
      err = tr ? new_base(&b, m, i, mean, std) : OBI_ENOMEM;
      if (!err) err = model_fit(b, &td, NULL, NULL, tr);
      if (!err) model_predict(b, d->X, r->ends + at, (int)n, fp);
      for (int64_t w = 0; !err && w < n; w++)
        memcpy(r->probs + ((size_t)i * r->n + at + w) * MODEL_CLASSES, fp + w * MODEL_CLASSES,
               MODEL_CLASSES * sizeof *fp);
      model_free(b);
      free(tr);
      if (err) goto done;
    }
    at += n;
  }
  err = OBI_OK;
done:
  free(mean), free(std), free(fp);
  if (err) ens_oof_free(r);
  return err;
}

void ens_oof_free(ens_oof_result *r) {
  free(r->ends), free(r->probs);
  r->ends = NULL, r->probs = NULL, r->n = 0;
}

obi_err ens_fit(obi_model *m, const train_data *d, train_callback cb, void *ctx, train_result *res) {
  int nb = m->nbase, F = 3 * nb;
  obi_err err = OBI_OK;
  if (cb) cb(ctx, 1, 0, 2, NULL);
  if (m->cfg.stack) {
    ens_oof_result r;
    if ((err = ens_oof(m, d, &r))) return err;
    /* the meta-learner's rows: log-probabilities of the bases, one row per out-of-fold window */
    float *Z = malloc((size_t)r.n * F * sizeof *Z), *mu = calloc((size_t)F, sizeof *mu),
          *sd = calloc((size_t)F, sizeof *sd);
    int8_t *y = malloc((size_t)r.n);
    const char *names[3 * ENS_MAX_BASES];
    char nbuf[3 * ENS_MAX_BASES][48];
    obi_model *meta = NULL;
    err = OBI_ENOMEM;
    if (Z && mu && sd && y) {
      for (int64_t w = 0; w < r.n; w++) {
        y[w] = d->y[r.ends[w]];
        for (int j = 0; j < F; j++) {
          float p = r.probs[((size_t)(j / 3) * r.n + w) * MODEL_CLASSES + j % 3];
          Z[w * F + j] = logf(fmaxf(p, 1e-6f));
        }
      }
      column_stats(Z, r.n, F, 1e-12, mu, sd);
      for (int j = 0; j < F; j++) {
        snprintf(nbuf[j], sizeof nbuf[j], "%s.log_p%d", model_kind_name(m->base_kind[j / 3]), j % 3);
        names[j] = nbuf[j];
      }
      model_config mc;
      model_config_default(&mc, MODEL_LOGISTIC);
      mc.seed = m->cfg.seed;
      err = model_new(&meta, &mc, F, names, mu, sd);
    }
    if (!err) {
      train_data md = {Z, y, r.n, F, r.n, d->purge, NULL, 0};
      err = model_fit(meta, &md, NULL, NULL, res);
    }
    if (!err) { /* fold the meta-learner's normalisation into the ensemble's output layer */
      const float *W = model_params(meta) + meta->L.w_out, *b = model_params(meta) + meta->L.b_out;
      float *W2 = m->params + m->L.w_out, *b2 = m->params + m->L.b_out;
      for (int k = 0; k < MODEL_CLASSES; k++) {
        double bias = b[k];
        for (int j = 0; j < F; j++) {
          W2[k * F + j] = W[k * F + j] / sd[j];
          bias -= (double)W[k * F + j] * mu[j] / sd[j];
        }
        b2[k] = (float)bias;
      }
    }
    model_free(meta);
    free(Z), free(mu), free(sd), free(y);
    ens_oof_free(&r);
    if (err) return err;
  }
  if (cb) cb(ctx, 1, 1, 2, NULL);
  for (int i = 0; i < nb && !err; i++) { /* the bases, refitted on the whole training part */
    train_result *tr = calloc(1, sizeof *tr);
    err = tr ? model_fit(m->base[i], d, NULL, NULL, tr) : OBI_ENOMEM;
    if (!m->cfg.stack && tr && !err && i == nb - 1) *res = *tr;
    free(tr);
  }
  if (!err && cb && res->epochs_run > 0) cb(ctx, 1, 2, 2, &res->history[res->best_epoch > 0 ? res->best_epoch - 1 : 0]);
  return err;
}
