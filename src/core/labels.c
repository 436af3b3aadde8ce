/* labels.c — labels and forward returns from the future of the row series (labels.h).
 * Window means come from prefix sums of the mids (long double, so that a day of rows
 * loses no precision); time windows are found with two monotone pointers: O(n) per horizon. */
#include "obi/labels.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

obi_err label_parse_horizons(const char *spec, label_horizon *out, int max, int *n, char *why, size_t why_len) {
  *n = 0;
  const char *p = spec;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char item[24];
    if (len == 0 || len >= sizeof item) {
      snprintf(why, why_len, "horizon '%.*s' is empty or too long", (int)(len < 23 ? len : 23), p);
      return OBI_EINVAL;
    }
    memcpy(item, p, len);
    item[len] = 0;
    if (*n == max) {
      snprintf(why, why_len, "at most %d horizons", max);
      return OBI_EINVAL;
    }
    char *end;
    errno = 0;
    long long v = strtoll(item, &end, 10);
    label_horizon h = {.value = v};
    snprintf(h.name, sizeof h.name, "%s", item);
    if (end == item) {
      snprintf(why, why_len, "horizon '%s' is not a number", item);
      return OBI_EINVAL;
    }
    if (*end && strcmp(end, "s") && strcmp(end, "ms")) {
      snprintf(why, why_len, "horizon '%s': expected rows (10) or a duration (1s, 500ms)", item);
      return OBI_EINVAL;
    }
    if (v <= 0 || errno == ERANGE) {
      snprintf(why, why_len, "horizon '%s' must be > 0", item);
      return OBI_EINVAL;
    }
    if (v > 1000000000LL) { /* a billion rows or seconds: also keeps the nanoseconds in range */
      snprintf(why, why_len, "horizon '%s' is too long", item);
      return OBI_EINVAL;
    }
    if (!strcmp(end, "s"))
      h.is_time = 1, h.value = v * 1000000000LL;
    else if (!strcmp(end, "ms"))
      h.is_time = 1, h.value = v * 1000000LL;
    out[(*n)++] = h;
    p += len;
    if (*p == ',') p++;
    if (comma && !*p) {
      snprintf(why, why_len, "trailing comma in '%s'", spec);
      return OBI_EINVAL;
    }
  }
  if (*n == 0) {
    snprintf(why, why_len, "no horizons given");
    return OBI_EINVAL;
  }
  return OBI_OK;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The alpha that leaves a third of the training rows stationary: the 1/3 quantile of |l|. */
static double balanced_alpha(const double *l, const uint8_t *ok, size_t train) {
  double *v = malloc((train ? train : 1) * sizeof *v);
  if (!v) return NAN;
  size_t m = 0;
  for (size_t i = 0; i < train; i++)
    if (ok[i]) v[m++] = fabs(l[i]);
  double a = 0;
  if (m) {
    qsort(v, m, sizeof *v, cmp_double);
    a = v[m / 3];
  }
  free(v);
  return a;
}

static int8_t classify(double l, double alpha) { return l > alpha ? LABEL_UP : l < -alpha ? LABEL_DOWN : LABEL_FLAT; }

obi_err label_compute(const label_series *s, const label_horizon *h, label_alpha_mode mode, double alpha,
                      int8_t *label_a, int8_t *label_b, float *ret_bps, uint8_t *valid, label_alpha *used) {
  size_t n = s->n;
  if (mode == LABEL_ALPHA_FIXED && !(alpha >= 0)) return OBI_EINVAL;
  if (mode == LABEL_ALPHA_SPREAD && !s->rel_spread) return OBI_EINVAL;
  long double *pre = malloc((n + 1) * sizeof *pre);
  double *la = malloc((n ? n : 1) * sizeof *la), *lb = malloc((n ? n : 1) * sizeof *lb);
  uint8_t *ok_a = malloc(n ? n : 1), *ok_b = malloc(n ? n : 1);
  obi_err err = OBI_ENOMEM;
  if (!pre || !la || !lb || !ok_a || !ok_b) goto done;
  pre[0] = 0;
  for (size_t i = 0; i < n; i++) pre[i + 1] = pre[i] + s->mid[i];
  size_t fwd = 0, back = 0; /* time pointers: last row <= t + h; first row > t - h */
  for (size_t i = 0; i < n; i++) {
    double m = s->mid[i];
    double mplus = m, mminus = m, end_mid = m;
    int has_fwd, has_back;
    if (!h->is_time) {
      size_t k = (size_t)h->value;
      has_fwd = i + k < n;
      has_back = i + 1 >= k;
      if (has_fwd) mplus = (double)((pre[i + k + 1] - pre[i + 1]) / (long double)k), end_mid = s->mid[i + k];
      if (has_back) mminus = (double)((pre[i + 1] - pre[i + 1 - k]) / (long double)k);
    } else {
      int64_t t = s->ts[i];
      if (fwd < i) fwd = i;
      while (fwd + 1 < n && s->ts[fwd + 1] <= t + h->value) fwd++;
      has_fwd = s->ts[n - 1] >= t + h->value;
      if (fwd > i) mplus = (double)((pre[fwd + 1] - pre[i + 1]) / (long double)(fwd - i)), end_mid = s->mid[fwd];
      while (s->ts[back] <= t - h->value) back++;
      has_back = s->ts[0] <= t - h->value;
      mminus = (double)((pre[i + 1] - pre[back]) / (long double)(i + 1 - back));
    }
    ok_a[i] = (uint8_t)has_fwd;
    ok_b[i] = (uint8_t)(has_fwd && has_back);
    la[i] = (mplus - m) / m;
    lb[i] = (mplus - mminus) / mminus;
    ret_bps[i] = has_fwd ? (float)((end_mid - m) / m * 1e4) : 0.0f;
    if (!ok_b[i]) valid[i] = 0;
  }
  size_t train = s->train_rows < n ? s->train_rows : n;
  label_alpha a = {alpha, alpha};
  if (mode == LABEL_ALPHA_BALANCED) {
    a.alpha_a = balanced_alpha(la, ok_a, train);
    a.alpha_b = balanced_alpha(lb, ok_b, train);
  } else if (mode == LABEL_ALPHA_SPREAD) {
    double sum = 0;
    for (size_t i = 0; i < train; i++) sum += s->rel_spread[i];
    a.alpha_a = a.alpha_b = train ? sum / (double)train : 0;
  }
  for (size_t i = 0; i < n; i++) {
    label_a[i] = classify(la[i], a.alpha_a);
    label_b[i] = classify(lb[i], a.alpha_b);
  }
  if (used) *used = a;
  err = OBI_OK;
done:
  free(pre);
  free(la);
  free(lb);
  free(ok_a);
  free(ok_b);
  return err;
}

void label_next_change(const label_series *s, int8_t *dir, uint8_t *valid) {
  /* scan backwards, remembering the next row whose mid differs */
  size_t n = s->n;
  int8_t next_dir = -1;
  for (size_t i = n; i-- > 0;) {
    if (i + 1 < n && s->mid[i + 1] != s->mid[i]) next_dir = s->mid[i + 1] > s->mid[i] ? LABEL_UP : LABEL_DOWN;
    dir[i] = next_dir < 0 ? LABEL_FLAT : next_dir;
    if (next_dir < 0) valid[i] = 0;
  }
}
