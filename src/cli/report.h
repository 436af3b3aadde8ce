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

#endif
