/* report.h — the HTML page of `obi eval --html`. */
#ifndef OBI_REPORT_H
#define OBI_REPORT_H

#include "obi/perf.h"
#include "obi/risk.h"
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

/* The page of `obi backtest --report`: the summary, the equity curve with the risk
 * interventions marked, the drawdown, the position, the distribution of round-trip PnL, PnL
 * by hour of the day, and the intervention log. */
typedef struct {
  const char *model, *source;
  const perf_summary *summary;
  const perf_config *perf;
  const perf_mark *marks;
  const double *equity, *position; /* per mark */
  size_t nmarks;
  const perf_fill *fills;
  size_t nfills;
  const obi_risk *risk;
  int64_t day_offset_ns; /* to local time of day */
  int in_sample;
} report_backtest;
int report_write_backtest(const char *path, const report_backtest *r);

#endif
