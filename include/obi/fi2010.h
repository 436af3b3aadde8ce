/* fi2010.h — the FI-2010 benchmark files (Ntakaris, Magris, Kanniainen, Gabbouj, Iosifidis,
 * "Benchmark dataset for mid-price forecasting of limit order book data with machine learning
 * methods", Journal of Forecasting 37(8), 2018; CC BY 4.0).
 *
 * A file holds one or more days as whitespace-separated text with 149 rows and one column per
 * sample (read here transposed): rows 1-40 the 10-level book (ask price, ask volume, bid price,
 * bid volume per level), rows 41-144 hand-crafted features, rows 145-149 the labels for the
 * horizons 10, 20, 30, 50 and 100 (DeepLOB's naming) with 1 = up, 2 = stationary, 3 = down. */
#ifndef OBI_FI2010_H
#define OBI_FI2010_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

#define FI2010_ROWS 149
#define FI2010_FEATURES 144
#define FI2010_BOOK 40
#define FI2010_HORIZONS 5

extern const int fi2010_horizons[FI2010_HORIZONS]; /* 10, 20, 30, 50, 100 */

typedef struct {
  int64_t n;      /* samples */
  float *x;       /* (n, 144), owned */
  int8_t *labels; /* (n, 5) in obi's encoding: 0 down, 1 stationary, 2 up; owned */
} fi2010_data;

/* Reads a file (plain or zstd). Errors name the row and column: OBI_ENOENT, OBI_EIO, OBI_EPARSE
 * (not 149 rows, rows of different lengths, a field that is not a number, a label not in 1-3). */
obi_err fi2010_read(fi2010_data *d, const char *path, char *why, size_t why_len);
void fi2010_free(fi2010_data *d);
/* Index 0..4 of a horizon (10, 20, 30, 50, 100), or -1. */
int fi2010_horizon_index(int k);

#endif
