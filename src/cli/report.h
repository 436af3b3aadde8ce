/* report.h — the HTML page of `obi eval --html`. */
#ifndef OBI_REPORT_H
#define OBI_REPORT_H

#include "obi/train.h"

typedef struct {
  const char *model, *data, *label;
  int64_t rows_from, n;
  const metrics *met;
  double ci_lo, ci_hi;
  int nbase;
  const char *const *base_names;
  const metrics *base;
  const char *vs_best; /* the best baseline's name, or NULL: then no tests */
  double dm, dm_p, mcnemar, mcnemar_p;
  int64_t only_model, only_base;
  const double *importance; /* per feature, or NULL */
  const char *const *feature_names;
  int nfeat;
} report_eval;

/* Writes the page; 0 on success, -1 when the file cannot be written. */
int report_write_eval(const char *path, const report_eval *r);

/* One walk-forward fold, and a walk-forward run over folds (one label). Baselines: 0 training
 * class frequencies, 1 persistence, 2 OFI logistic; has[b] when the file allowed baseline b. */
typedef struct {
  int fold;
  int64_t train_rows, test_from, test_to, n; /* test rows [test_from, test_to) */
  metrics model, baseline[3];
  int has[3];
} report_fold;

typedef struct {
  char label[64];
  int64_t purge, test_windows;
  int nf;
  report_fold folds[64];
  double f1_mean, f1_sd;
} report_wf;

/* The walk-forward page: macro-F1 by label (horizon) for the model (mean and sd over folds)
 * beside the baselines' means, then macro-F1 per fold for each label, and the fold tables. */
int report_write_walk_forward(const char *path, const char *model, const char *data, const report_wf *runs, int n);

#endif
