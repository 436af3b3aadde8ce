/* labels.h — forecast targets computed from the future of the same stream, never the past.
 *
 * Input is the sampled row series (mid and timestamp per row, in time order). For each
 * horizon (k rows, or a duration):
 *  (a) FI-2010 / DeepLOB smoothed label: m+ = mean of the mids of the next k rows (or of the
 *      rows in (t, t + h]); l = (m+ - m_t) / m_t; up if l > alpha, down if l < -alpha.
 *  (b) the same with a past window separated by the horizon (Zhang, Zohren, Roberts 2019):
 *      m- = mean of the mids of the last k rows including this one (or of (t - h, t]);
 *      l = (m+ - m-) / m-. This removes the bias of comparing a smoothed future with a
 *      single current mid.
 *  (c) the forward mid return in bps: (m_{t+k} - m_t) / m_t * 1e4 (time horizons: the mid
 *      of the last row at or before t + h).
 *  (d) (horizon-free) the direction of the next mid change: up or down.
 * Classes are encoded 0 = down, 1 = stationary, 2 = up. A row whose horizon runs past the
 * end of the data (or, for (b), before its start) has no label: valid[i] = 0, and callers
 * drop it rather than fill it. Alpha is chosen on the training rows only. */
#ifndef OBI_LABELS_H
#define OBI_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

enum { LABEL_DOWN = 0, LABEL_FLAT = 1, LABEL_UP = 2 };

typedef struct {
  int64_t value; /* rows, or nanoseconds when is_time */
  int is_time;
  char name[24]; /* as written: "10", "1s", "500ms" */
} label_horizon;

/* Parses "10,20,50" or "1s,500ms,100" (rows unless suffixed with s or ms). Each must be > 0;
 * at most max. On error returns OBI_EINVAL and writes the reason into why. */
obi_err label_parse_horizons(const char *spec, label_horizon *out, int max, int *n, char *why, size_t why_len);

typedef enum { LABEL_ALPHA_FIXED, LABEL_ALPHA_BALANCED, LABEL_ALPHA_SPREAD } label_alpha_mode;

typedef struct {
  const double *mid;        /* mid per row */
  const int64_t *ts;        /* timestamp per row, non-decreasing */
  const double *rel_spread; /* spread / mid per row (for LABEL_ALPHA_SPREAD; may be NULL otherwise) */
  size_t n;
  size_t train_rows; /* rows [0, train_rows) are the training part */
} label_series;

typedef struct {
  double alpha_a, alpha_b; /* the thresholds used for (a) and (b) */
} label_alpha;

/* Labels (a), (b) and returns (c) of one horizon for every row; valid[i] is cleared (never
 * set) for rows without a complete horizon, so one mask can collect several horizons.
 * Returns OBI_EINVAL for a bad alpha or mode, OBI_ENOMEM. */
obi_err label_compute(const label_series *s, const label_horizon *h, label_alpha_mode mode, double alpha,
                      int8_t *label_a, int8_t *label_b, float *ret_bps, uint8_t *valid, label_alpha *used);

/* Label (d): direction of the next mid change (LABEL_UP or LABEL_DOWN); clears valid[i] when
 * the mid never changes after row i. */
void label_next_change(const label_series *s, int8_t *dir, uint8_t *valid);

#endif
