/* cmd_eval.c — `obi eval`: a saved model on the held-out part of a feature file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "obi/stats.h"
#include "obi/train.h"
#include "report.h"

/* ---- baselines: fitted on the training rows only, scored on the same windows ---- */

typedef struct {
  const char *name;
  float *probs; /* (n, 3), owned */
  metrics met;
} baseline;

/* The training rows' class frequencies as a constant forecast. */
static int baseline_majority(baseline *b, const dataset *d, int64_t n) {
  double cnt[3] = {1, 1, 1}; /* Laplace: no class gets probability 0 */
  for (int64_t r = 0; r < d->train_end; r++) cnt[d->y[r]]++;
  double tot = cnt[0] + cnt[1] + cnt[2];
  b->name = "majority class (training frequencies)";
  b->probs = malloc((size_t)n * 3 * sizeof *b->probs);
  if (!b->probs) return 0;
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < 3; k++) b->probs[i * 3 + k] = (float)(cnt[k] / tot);
  return 1;
}

/* The direction of the last mid change at or before each window's row (needs a 'mid' column):
 * up or down with probability 0.6 (0.2 for the others), stationary before any change. */
static int baseline_persistence(baseline *b, const dataset *d, const int64_t *ends, int64_t n) {
  int col = -1;
  for (int c = 0; c < d->C; c++)
    if (!strcmp(d->names[c], "mid")) col = c;
  if (col < 0) return 0;
  b->name = "persistence (last mid move)";
  b->probs = malloc((size_t)n * 3 * sizeof *b->probs);
  if (!b->probs) return 0;
  int last = 1; /* stationary until the mid has moved */
  int64_t r = 1;
  for (int64_t i = 0; i < n; i++) {
    for (; r <= ends[i]; r++) {
      float now = d->X[r * d->C + col], before = d->X[(r - 1) * d->C + col];
      if (now != before) last = now > before ? 2 : 0;
    }
    for (int k = 0; k < 3; k++) b->probs[i * 3 + k] = k == last ? 0.6f : 0.2f;
  }
  return 1;
}

/* Multinomial logistic regression on the level-1 OFI columns, trained on the training rows. */
static int baseline_ofi_logistic(baseline *b, const dataset *d, const int64_t *ends, int64_t n) {
  int cols[8], nc = 0;
  for (int c = 0; c < d->C && nc < 8; c++)
    if (!strncmp(d->names[c], "ofi_l1_", 7)) cols[nc++] = c;
  if (nc == 0 || d->train_end < 200) return 0;
  float *X = malloc((size_t)d->rows * nc * sizeof *X);
  const char *names[8];
  float mean[8], std[8];
  for (int j = 0; j < nc; j++) names[j] = d->names[cols[j]], mean[j] = d->mean[cols[j]], std[j] = d->std[cols[j]];
  obi_model *m = NULL;
  model_config cfg;
  model_config_default(&cfg, MODEL_LOGISTIC);
  int ok = X && model_new(&m, &cfg, nc, names, mean, std) == OBI_OK;
  if (ok) {
    for (int64_t r = 0; r < d->rows; r++)
      for (int j = 0; j < nc; j++) X[r * nc + j] = d->X[r * d->C + cols[j]];
    train_data td = {X, d->y, d->rows, nc, d->train_end, d->purge, d->seg_starts, d->nseg};
    train_result *res = calloc(1, sizeof *res);
    ok = res && model_fit(m, &td, NULL, NULL, res) == OBI_OK;
    free(res);
  }
  if (ok) {
    b->name = "logistic regression on OFI (level 1)";
    b->probs = malloc((size_t)n * 3 * sizeof *b->probs);
    ok = b->probs != NULL;
    if (ok) model_predict(m, X, ends, (int)n, b->probs);
  }
  model_free(m);
  free(X);
  return ok;
}

/* The baselines scored on the n windows ending at ends, in their slots (0 training frequencies,
 * 1 persistence, 2 OFI logistic); has[b] when baseline b could be built. The two fitted on the
 * training rows only when fitted (not on another day's or instrument's file scored whole). */
static void baselines_score(baseline base[3], int has[3], const dataset *d, const int64_t *ends, int64_t n,
                            const int32_t *labels, int fitted) {
  has[0] = fitted && baseline_majority(&base[0], d, n);
  has[1] = baseline_persistence(&base[1], d, ends, n);
  has[2] = fitted && baseline_ofi_logistic(&base[2], d, ends, n);
  for (int b = 0; b < 3; b++)
    if (has[b]) metrics_compute(&base[b].met, base[b].probs, labels, n);
}

typedef struct {
  const int32_t *labels;
  const float *probs;
} f1_ctx;

static double macro_f1_of(const size_t *idx, size_t n, void *p) {
  const f1_ctx *c = p;
  int64_t conf[3][3] = {{0}};
  for (size_t i = 0; i < n; i++) {
    const float *q = c->probs + idx[i] * 3;
    int pred = q[1] > q[0] ? 1 : 0;
    if (q[2] > q[pred]) pred = 2;
    conf[c->labels[idx[i]]][pred]++;
  }
  double f1 = 0;
  for (int k = 0; k < 3; k++) {
    double tp = (double)conf[k][k], pk = 0, tk = 0;
    for (int j = 0; j < 3; j++) pk += (double)conf[j][k], tk += (double)conf[k][j];
    f1 += pk + tk > 0 ? 2 * tp / (pk + tk) : 0;
  }
  return f1 / 3;
}

static void row_losses(const float *probs, const int32_t *labels, int64_t n, double *loss, uint8_t *correct) {
  for (int64_t i = 0; i < n; i++) {
    const float *q = probs + i * 3;
    loss[i] = -log(fmax((double)q[labels[i]], 1e-15));
    int pred = q[1] > q[0] ? 1 : 0;
    if (q[2] > q[pred]) pred = 2;
    correct[i] = pred == labels[i];
  }
}

/* ---- walk-forward: fresh models on expanding chronological folds ---- */

/* Folds: the rows cut into folds + 1 equal blocks in time (or at day boundaries when there are
 * several days); fold f trains on blocks 0..f-1 (its last part validates) and tests on block f,
 * after a purge gap of the label horizon. Normalisation is fitted on each fold's training rows. */
static int walk_forward(const dataset *d0, const model_config *cfg_in, int folds, int quiet, const char *data,
                        report_wf *out) {
  /* Test blocks only after the rows the feature file fitted anything on (its micro-price table
   * and alpha came from its training part): the part after that is cut into `folds` blocks, and
   * each fold trains on everything before its block. With several days, whole days are blocks. */
  int64_t bounds[66];
  int nblocks;
  int64_t first = d0->fitted_end;
  if (d0->nseg > 1) {
    int k = 0, start = 0;
    while (start < d0->nseg && d0->seg_starts[start] < first) start++;
    for (int s = start; s < d0->nseg && k < 65; s++) bounds[k++] = d0->seg_starts[s];
    nblocks = k;
    folds = nblocks - 1 < folds ? nblocks - 1 : folds;
    if (folds < 1) return cli_input_error("%s: fewer than two days after the fitted part: no walk-forward folds", data);
    memmove(bounds, bounds + (nblocks - folds - 1), (size_t)(folds + 1) * sizeof *bounds);
    nblocks = folds + 1;
  } else {
    if (first == 0) first = d0->rows / (folds + 1); /* nothing fitted: the first block only trains */
    nblocks = folds + 1;
    bounds[0] = 0;
    for (int b = 1; b < nblocks; b++) bounds[b] = first + (d0->rows - first) * (b - 1) / folds;
  }
  bounds[nblocks] = d0->rows;
  report_fold *res = out->folds;
  int nf = 0;
  int64_t total = 0;
  double f1_sum = 0, f1_sq = 0;
  cli_progress bar;
  cli_progress_start(&bar, "walk-forward", quiet);
  for (int f = 1; f < nblocks; f++) {
    cli_progress_update(&bar, (double)(f - 1) / (nblocks - 1), (uint64_t)(f - 1));
    dataset d = *d0;
    d.train_end = bounds[f];
    float *mean = calloc((size_t)d.C, sizeof *mean), *std = calloc((size_t)d.C, sizeof *std);
    if (!mean || !std) {
      free(mean), free(std);
      cli_progress_done(&bar);
      return cli_input_error("out of memory");
    }
    column_stats(d.X, d.train_end, d.C, 0, mean, std); /* training rows only */
    d.mean = mean, d.std = std;
    obi_model *m = NULL;
    report_fold *w = &res[nf];
    memset(w, 0, sizeof *w);
    w->fold = nf + 1, w->train_rows = d.train_end, w->test_from = bounds[f] + d.purge, w->test_to = bounds[f + 1];
    int T = cfg_in->window;
    w->n = w->test_from < w->test_to ? window_ends_seg(w->test_from, w->test_to, T, d.seg_starts, d.nseg, NULL) : 0;
    train_data td = {d.X, d.y, d.rows, d.C, d.train_end, d.purge, d.seg_starts, d.nseg};
    train_result *tr = calloc(1, sizeof *tr);
    int ok = w->n > 0 && model_new(&m, cfg_in, d.C, d.names, mean, std) == OBI_OK &&
             model_fit(m, &td, NULL, NULL, tr) == OBI_OK;
    free(tr);
    if (ok) {
      int64_t *ends = malloc((size_t)w->n * sizeof *ends);
      float *probs = malloc((size_t)w->n * 3 * sizeof *probs);
      int32_t *labels = malloc((size_t)w->n * sizeof *labels);
      window_ends_seg(w->test_from, w->test_to, T, d.seg_starts, d.nseg, ends);
      model_predict(m, d.X, ends, (int)w->n, probs);
      for (int64_t i = 0; i < w->n; i++) labels[i] = d.y[ends[i]];
      metrics_compute(&w->model, probs, labels, w->n);
      baseline base[3];
      baselines_score(base, w->has, &d, ends, w->n, labels, 1);
      for (int b = 0; b < 3; b++)
        if (w->has[b]) w->baseline[b] = base[b].met, free(base[b].probs);
      free(ends), free(probs), free(labels);
      total += w->n;
      f1_sum += w->model.macro_f1, f1_sq += w->model.macro_f1 * w->model.macro_f1;
      nf++;
    } else {
      fprintf(stderr, "obi eval: fold %d skipped (too few rows to train or test)\n", f);
    }
    model_free(m);
    free(mean), free(std);
  }
  cli_progress_done(&bar);
  if (nf == 0) return cli_input_error("%s: no fold could be trained and tested", data);
  snprintf(out->label, sizeof out->label, "%s", d0->label);
  out->purge = d0->purge, out->test_windows = total, out->nf = nf;
  out->f1_mean = f1_sum / nf;
  out->f1_sd = nf > 1 ? sqrt(fmax(0, (f1_sq - nf * out->f1_mean * out->f1_mean) / (nf - 1))) : 0;
  return EXIT_OK;
}

static void walk_forward_print(const report_wf *r, model_kind kind, const char *data, int json) {
  static const char *const bnames[3] = {"majority", "persistence", "ofi_logistic"};
  const report_fold *res = r->folds;
  int nf = r->nf;
  if (json) {
    printf("{\"data\":\"%s\",\"label\":\"%s\",\"model\":\"%s\",\"folds\":[", data, r->label, model_kind_name(kind));
    for (int i = 0; i < nf; i++) {
      const report_fold *w = &res[i];
      printf("%s{\"fold\":%d,\"train_rows\":%lld,\"test_rows\":[%lld,%lld],\"n\":%lld,\"accuracy\":%.6f,"
             "\"macro_f1\":%.6f,\"mcc\":%.6f,\"kappa\":%.6f,\"log_loss\":%.6f,\"brier\":%.6f",
             i ? "," : "", w->fold, (long long)w->train_rows, (long long)w->test_from, (long long)w->test_to,
             (long long)w->n, w->model.accuracy, w->model.macro_f1, w->model.mcc, w->model.kappa, w->model.log_loss,
             w->model.brier);
      for (int b = 0; b < 3; b++)
        if (w->has[b]) printf(",\"%s_macro_f1\":%.6f", bnames[b], w->baseline[b].macro_f1);
      printf("}");
    }
    printf("],\"test_windows\":%lld,\"macro_f1_mean\":%.6f,\"macro_f1_sd\":%.6f}\n", (long long)r->test_windows,
           r->f1_mean, r->f1_sd);
  } else {
    printf("walk-forward: %s on %s (%s), %d folds, purge %lld rows, normalisation fitted per fold\n\n",
           model_kind_name(kind), data, r->label, nf, (long long)r->purge);
    printf("| fold | training rows | test rows | windows | accuracy | macro-F1 | MCC | log-loss | majority F1 | "
           "persistence F1 | OFI logistic F1 |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nf; i++) {
      const report_fold *w = &res[i];
      printf("| %d | %lld | %lld–%lld | %lld | %.4f | %.4f | %.4f | %.4f |", w->fold, (long long)w->train_rows,
             (long long)w->test_from, (long long)w->test_to - 1, (long long)w->n, w->model.accuracy, w->model.macro_f1,
             w->model.mcc, w->model.log_loss);
      for (int b = 0; b < 3; b++) {
        if (w->has[b])
          printf(" %.4f |", w->baseline[b].macro_f1);
        else
          printf(" – |");
      }
      printf("\n");
    }
    printf("\nmacro-F1 over folds: %.4f ± %.4f (mean ± sd, %d folds, %lld test windows)\n", r->f1_mean, r->f1_sd, nf,
           (long long)r->test_windows);
  }
}

static int cmd_eval(int argc, char **argv) {
  const char *model_path = NULL, *data = NULL, *label = NULL, *config = NULL, *html = NULL;
  int json = 0, all = 0, wf = 0, quiet = 0, all_horizons = 0;
  long folds = 4;
  fi2010_opts fi = {.horizon = 10};
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int took = cli_fi2010_option(&fi, argc, argv, &i, "eval");
    if (took < 0) return EXIT_USAGE;
    if (took) continue;
    if (!strcmp(o, "--json"))
      json = 1;
    else if (!strcmp(o, "--quiet") || !strcmp(o, "-q"))
      quiet = 1;
    else if (!strcmp(o, "--all-rows"))
      all = 1;
    else if (!strcmp(o, "--walk-forward"))
      wf = 1;
    else if (!strcmp(o, "--all-horizons"))
      all_horizons = 1;
    else if (!strcmp(o, "--config") && v)
      config = v, i++;
    else if (!strcmp(o, "--folds") && v) {
      if (cli_parse_int(v, 1, 64, &folds)) return cli_usage_error(&cmd_eval_def, "--folds: 1 to 64");
      i++;
    } else if (!strcmp(o, "--model") && v)
      model_path = v, i++;
    else if (!strcmp(o, "--data") && v)
      data = v, i++;
    else if (!strcmp(o, "--label") && v)
      label = v, i++;
    else if (!strcmp(o, "--html") && v)
      html = v, i++;
    else
      return cli_usage_error(&cmd_eval_def, "unknown option or missing value: '%s'", o);
  }
  if (!model_path || (!data == !fi.n))
    return cli_usage_error(&cmd_eval_def, "needs --model FILE and --data FILE or --fi2010 FILE...");
  char why[1024];
  if (wf) { /* --model names a kind here: fresh models are trained on every fold */
    int kind = model_kind_from_name(model_path);
    if (kind < 0) return cli_usage_error(&cmd_eval_def, "--walk-forward needs --model NAME (logistic, lstm, ...)");
    model_config cfg;
    if (cli_model_config(&cfg, (model_kind)kind, config)) return EXIT_BAD_INPUT;
    if (all_horizons && fi.n) return cli_usage_error(&cmd_eval_def, "--all-horizons reads a feature file (--data)");
    /* the labels to run: the one asked for, or with --all-horizons every horizon of the file
     * (label_a_*, or label_b_* when --label names one) */
    char labels[16][64];
    int nl = 1;
    snprintf(labels[0], sizeof labels[0], "%s", label ? label : "");
    if (all_horizons) {
      dataset probe;
      if (dataset_load(&probe, data, label, why, sizeof why)) {
        dataset_free(&probe);
        return cli_input_error("%s", why);
      }
      json_t *hs = json_object_get(probe.meta, "horizons");
      const char *prefix = label && !strncmp(label, "label_b_", 8) ? "label_b_" : "label_a_";
      nl = 0;
      for (size_t h = 0; h < json_array_size(hs) && nl < 16; h++) {
        const char *hn = json_string_value(json_object_get(json_array_get(hs, h), "name"));
        if (hn) snprintf(labels[nl++], sizeof labels[0], "%s%s", prefix, hn);
      }
      dataset_free(&probe);
    }
    report_wf *runs = calloc((size_t)(nl ? nl : 1), sizeof *runs);
    if (!runs) return cli_input_error("out of memory");
    int rc = EXIT_OK, done = 0;
    for (int l = 0; l < nl && rc == EXIT_OK; l++) {
      dataset dw;
      const char *lab = labels[l][0] ? labels[l] : NULL;
      if (fi.n ? dataset_load_fi2010(&dw, fi.files, fi.n, (int)fi.horizon, fi.all_features, 1.0, why, sizeof why)
               : dataset_load(&dw, data, lab, why, sizeof why)) {
        rc = cli_input_error("%s", why);
      } else {
        rc = walk_forward(&dw, &cfg, (int)folds, quiet, data ? data : fi.files[0], &runs[done]);
        if (rc == EXIT_OK) {
          if (!json && done > 0) printf("\n");
          walk_forward_print(&runs[done], (model_kind)kind, data ? data : fi.files[0], json);
          done++;
        }
      }
      dataset_free(&dw);
    }
    if (html && done &&
        report_write_walk_forward(html, model_kind_name((model_kind)kind), data ? data : fi.files[0], runs, done))
      rc = cli_input_error("%s: cannot write the report", html);
    free(runs);
    return rc;
  }
  obi_model *m;
  if (model_load(&m, model_path, why, sizeof why)) return cli_input_error("%s: %s", model_path, why);
  dataset d;
  int rc = EXIT_OK;
  if (fi.n ? dataset_load_fi2010(&d, fi.files, fi.n, (int)fi.horizon, fi.all_features, 1.0, why, sizeof why)
           : dataset_load(&d, data, label, why, sizeof why)) {
    rc = cli_input_error("%s", why);
    goto done;
  }
  if (fi.n) all = 1, data = fi.files[0]; /* FI-2010 files are scored whole */
  if (d.C != model_features(m)) {
    rc = cli_input_error("%s: %d features, the model was trained on %d", data, d.C, model_features(m));
    goto done;
  }
  for (int i = 0; i < d.C; i++)
    if (strcmp(d.names[i], model_feature_name(m, i))) {
      rc = cli_input_error("%s: feature %d is '%s', the model expects '%s'", data, i, d.names[i],
                           model_feature_name(m, i));
      goto done;
    }
  int T = model_get_config(m)->window;
  int64_t from = all ? 0 : d.train_end + d.purge;
  int64_t n = from < d.rows ? window_ends_seg(from, d.rows, T, d.seg_starts, d.nseg, NULL) : 0;
  if (n <= 0) {
    rc = cli_input_error("%s: no %s windows to evaluate", data, all ? "" : "held-out");
    goto done;
  }
  int64_t *ends = malloc((size_t)n * sizeof *ends);
  float *probs = malloc((size_t)n * MODEL_CLASSES * sizeof *probs);
  int32_t *labels = malloc((size_t)n * sizeof *labels);
  window_ends_seg(from, d.rows, T, d.seg_starts, d.nseg, ends);
  int online = model_get_config(m)->kind == MODEL_BAYES;
  if (online) {
    /* the Bayesian online model keeps learning as it would live: each row is predicted, then
     * remembered; a row's label is applied once its horizon (the purge gap) has passed */
    int64_t delay = d.purge > 0 ? d.purge : 1;
    for (int64_t i = 0; i < n; i++) {
      model_predict(m, d.X, ends + i, 1, probs + i * MODEL_CLASSES);
      model_bayes_push(m, d.X + ends[i] * d.C);
      if (i >= delay) model_bayes_mature(m, d.y[ends[i - delay]]);
    }
  } else {
    model_predict(m, d.X, ends, (int)n, probs);
  }
  for (int64_t i = 0; i < n; i++) labels[i] = d.y[ends[i]];
  metrics met;
  metrics_compute(&met, probs, labels, n);

  /* baselines (the training-fitted ones only on the held-out part of a feature file) */
  baseline slot[3], base[3];
  int has[3], nb = 0, best = -1;
  baselines_score(slot, has, &d, ends, n, labels, !all);
  for (int b = 0; b < 3; b++)
    if (has[b]) base[nb++] = slot[b];
  for (int b = 0; b < nb; b++)
    if (best < 0 || base[b].met.macro_f1 > base[best].met.macro_f1) best = b;
  /* significance against the best baseline; a confidence interval for macro-F1 */
  stats_dm dm = {0};
  stats_mcnemar mc = {0};
  int have_dm = 0;
  double *la = malloc((size_t)n * sizeof *la), *lb = malloc((size_t)n * sizeof *lb);
  uint8_t *ca = malloc((size_t)n), *cb = malloc((size_t)n);
  if (best >= 0 && la && lb && ca && cb) {
    row_losses(probs, labels, n, la, ca);
    row_losses(base[best].probs, labels, n, lb, cb);
    have_dm = stats_diebold_mariano(la, lb, (size_t)n, d.purge > 1 ? (int)d.purge - 1 : 0, &dm) == 0;
    stats_mcnemar_test(ca, cb, (size_t)n, &mc);
  }
  free(la), free(lb), free(ca), free(cb);
  f1_ctx fc = {labels, probs};
  double ci_lo = 0, ci_hi = 0;
  size_t block = d.purge > 10 ? (size_t)d.purge : 10;
  stats_block_bootstrap((size_t)n, block, 500, 0.95, 1, macro_f1_of, &fc, &ci_lo, &ci_hi);
  if (html) {
    const char *bnames[3];
    metrics bmet[3];
    for (int b = 0; b < nb; b++) bnames[b] = base[b].name, bmet[b] = base[b].met;
    double gain[MODEL_MAX_FEATURES];
    const char *fnames[MODEL_MAX_FEATURES];
    for (int c = 0; c < d.C; c++) fnames[c] = d.names[c];
    int have_gain = model_xgb_importance(m, gain) == OBI_OK;
    report_eval rep = {model_path,
                       data,
                       d.label,
                       from,
                       n,
                       &met,
                       ci_lo,
                       ci_hi,
                       nb,
                       bnames,
                       bmet,
                       best >= 0 ? base[best].name : NULL,
                       have_dm ? dm.statistic : 0.0,
                       have_dm ? dm.p_value : 1.0,
                       mc.statistic,
                       mc.p_value,
                       mc.a_only,
                       mc.b_only,
                       have_gain ? gain : NULL,
                       fnames,
                       d.C};
    if (report_write_eval(html, &rep)) rc = cli_input_error("%s: cannot write the report", html);
  }
  if (json) {
    printf("{\"model\":\"%s\",\"data\":\"%s\",\"label\":\"%s\",\"rows_from\":%lld,\"n\":%lld,\"accuracy\":%.6f,"
           "\"macro_f1\":%.6f,\"log_loss\":%.6f,\"majority_accuracy\":%.6f,\"precision\":[%.6f,%.6f,%.6f],"
           "\"recall\":[%.6f,%.6f,%.6f],\"f1\":[%.6f,%.6f,%.6f],\"confusion\":[",
           model_path, data, d.label, (long long)from, (long long)n, met.accuracy, met.macro_f1, met.log_loss,
           met.majority_accuracy, met.precision[0], met.precision[1], met.precision[2], met.recall[0], met.recall[1],
           met.recall[2], met.f1[0], met.f1[1], met.f1[2]);
    for (int k = 0; k < MODEL_CLASSES; k++)
      printf("%s[%lld,%lld,%lld]", k ? "," : "", (long long)met.confusion[k][0], (long long)met.confusion[k][1],
             (long long)met.confusion[k][2]);
    printf("],\"mcc\":%.6f,\"kappa\":%.6f,\"brier\":%.6f,\"macro_f1_ci95\":[%.6f,%.6f],\"calibration\":[", met.mcc,
           met.kappa, met.brier, ci_lo, ci_hi);
    for (int b = 0, first = 1; b < 10; b++)
      if (met.calib_n[b]) {
        printf("%s{\"bin\":%d,\"n\":%lld,\"confidence\":%.6f,\"accuracy\":%.6f}", first ? "" : ",", b,
               (long long)met.calib_n[b], met.calib_confidence[b], met.calib_accuracy[b]);
        first = 0;
      }
    printf("],\"baselines\":[");
    for (int b = 0; b < nb; b++)
      printf("%s{\"name\":\"%s\",\"accuracy\":%.6f,\"macro_f1\":%.6f,\"mcc\":%.6f,\"log_loss\":%.6f}", b ? "," : "",
             base[b].name, base[b].met.accuracy, base[b].met.macro_f1, base[b].met.mcc, base[b].met.log_loss);
    printf("]");
    if (best >= 0)
      printf(",\"vs_best_baseline\":{\"baseline\":\"%s\",\"dm_log_loss\":%.6f,\"dm_p\":%.6g,\"mcnemar\":%.6f,"
             "\"mcnemar_p\":%.6g,\"only_model_right\":%lld,\"only_baseline_right\":%lld}",
             base[best].name, have_dm ? dm.statistic : 0.0, have_dm ? dm.p_value : 1.0, mc.statistic, mc.p_value,
             (long long)mc.a_only, (long long)mc.b_only);
    printf("}\n");
  } else {
    printf("%s on %s (%s, rows %lld..%lld, %lld windows%s)\n", model_path, data, d.label, (long long)from,
           (long long)d.rows - 1, (long long)n, online ? ", learning online from labels as they mature" : "");
    printf("accuracy %.4f (always the majority class: %.4f)  macro-F1 %.4f  log-loss %.4f\n", met.accuracy,
           met.majority_accuracy, met.macro_f1, met.log_loss);
    static const char *const cls[3] = {"down", "stationary", "up"};
    printf("%-11s %9s %9s %9s\n", "class", "precision", "recall", "F1");
    for (int k = 0; k < 3; k++) printf("%-11s %9.4f %9.4f %9.4f\n", cls[k], met.precision[k], met.recall[k], met.f1[k]);
    printf("confusion (rows: true, columns: predicted down / stationary / up)\n");
    for (int k = 0; k < 3; k++)
      printf("%-11s %9lld %9lld %9lld\n", cls[k], (long long)met.confusion[k][0], (long long)met.confusion[k][1],
             (long long)met.confusion[k][2]);
    printf("MCC %.4f  kappa %.4f  Brier %.4f  macro-F1 95%% interval [%.4f, %.4f] (block bootstrap, blocks of %zu)\n",
           met.mcc, met.kappa, met.brier, ci_lo, ci_hi, block);
    if (nb) printf("%-40s %9s %9s %9s %9s\n", "baseline", "accuracy", "macro-F1", "MCC", "log-loss");
    for (int b = 0; b < nb; b++)
      printf("%-40s %9.4f %9.4f %9.4f %9.4f\n", base[b].name, base[b].met.accuracy, base[b].met.macro_f1,
             base[b].met.mcc, base[b].met.log_loss);
    if (best >= 0)
      printf("against %s: Diebold-Mariano on log-loss %+.3f (p %.3g; negative: the model's loss is lower), McNemar "
             "%.3f (p %.3g; %lld windows only the model got right, %lld only the baseline)\n",
             base[best].name, have_dm ? dm.statistic : 0.0, have_dm ? dm.p_value : 1.0, mc.statistic, mc.p_value,
             (long long)mc.a_only, (long long)mc.b_only);
  }
  for (int b = 0; b < nb; b++) free(base[b].probs);
  free(ends);
  free(probs);
  free(labels);
done:
  dataset_free(&d);
  model_free(m);
  return rc;
}

const cli_command cmd_eval_def = {
    "eval", cmd_eval, "evaluate a model on the held-out part of a feature file",
    "usage: obi eval --model MODEL.safetensors --data FEATURES.npy [--label NAME] [--all-rows] [--html FILE] [--json]\n"
    "       obi eval --walk-forward --model NAME --data FEATURES.npy [--folds 4] [--config FILE.json]\n"
    "                [--all-horizons] [--html FILE] [--json] [--quiet]\n"
    "       obi eval --model MODEL --fi2010 FILE... --horizon 10|20|30|50|100 [--fi2010-all-features] [--json]\n"
    "\n"
    "Predicts every window of the rows after the file's training part (after a purge gap of the\n"
    "label horizon), or of every row with --all-rows (another day, another instrument), and prints\n"
    "accuracy (beside the majority-class rate), macro-F1, per-class precision/recall/F1, the\n"
    "confusion matrix and log-loss. The file's feature names must match the model's.\n"
    "Beside the model: baselines fitted on the training rows (the training class frequencies, the\n"
    "last mid move, logistic regression on level-1 OFI; the last two need those columns), MCC,\n"
    "Cohen's kappa, Brier score, reliability bins, a block-bootstrap 95%% interval for macro-F1, and\n"
    "against the best baseline a Diebold-Mariano test on per-window log-loss (Newey-West, lags =\n"
    "horizon - 1) and a McNemar test on per-window correctness.\n"
    "--html FILE also writes a self-contained page: the tables, the confusion matrix, the reliability\n"
    "diagram, macro-F1 beside the baselines, and for xgb the feature importance.\n"
    "--walk-forward trains a fresh model of kind NAME on expanding chronological folds: the rows after\n"
    "the feature file's training part (on which its micro-price table and alpha were fitted) are cut\n"
    "into --folds blocks in time (or whole days), each fold training on every row before its block\n"
    "(normalisation fitted there) and testing on the block after a purge gap of the label horizon;\n"
    "a markdown table per fold with the baselines, or --json. --all-horizons runs it for every horizon\n"
    "of the file (one table, or one JSON line, per horizon); --html draws macro-F1 by horizon and fold.\n"
    "The bayes model keeps learning during the evaluation, from each row's label once its horizon\n"
    "has passed (as it would live).\n"
    "--json keys: n, accuracy, macro_f1, precision, recall, f1, confusion, log_loss, majority_accuracy,\n"
    "mcc, kappa, brier, macro_f1_ci95, calibration, baselines, vs_best_baseline.\n"};
