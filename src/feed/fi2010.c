/* fi2010.c — reading FI-2010 benchmark files (fi2010.h). The file is read row by row (a row
 * is one quantity for every sample: about 630 KB for a day); the matrix is transposed into
 * sample-major order as it is filled. Numbers are parsed with strtod (scientific notation). */
#include "obi/fi2010.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obi/textin.h"

const int fi2010_horizons[FI2010_HORIZONS] = {10, 20, 30, 50, 100};

int fi2010_horizon_index(int k) {
  for (int i = 0; i < FI2010_HORIZONS; i++)
    if (fi2010_horizons[i] == k) return i;
  return -1;
}

void fi2010_free(fi2010_data *d) {
  if (!d) return;
  free(d->x);
  free(d->labels);
  memset(d, 0, sizeof *d);
}

obi_err fi2010_read(fi2010_data *d, const char *path, char *why, size_t why_len) {
  memset(d, 0, sizeof *d);
  obi_textin *t;
  obi_err err = obi_textin_open(&t, path);
  if (err) {
    snprintf(why, why_len, "%s: cannot open: %s", path, obi_strerror(err));
    return err;
  }
  char num[64];
  int row = 0;
  const char *line;
  size_t len;
  err = OBI_EPARSE;
  while ((err = obi_textin_line(t, &line, &len)) == OBI_OK) {
    /* count the fields of the first row to size the matrix */
    const char *p = line, *end = line + len;
    if (row == 0) {
      int64_t n = 0;
      for (const char *q = p; q < end;) {
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        if (q == end) break;
        n++;
        while (q < end && *q != ' ' && *q != '\t') q++;
      }
      if (n == 0) {
        snprintf(why, why_len, "%s:1: no samples", path);
        err = OBI_EPARSE;
        goto done;
      }
      d->n = n;
      d->x = malloc((size_t)n * FI2010_FEATURES * sizeof *d->x);
      d->labels = malloc((size_t)n * FI2010_HORIZONS);
      if (!d->x || !d->labels) {
        err = OBI_ENOMEM;
        snprintf(why, why_len, "%s: out of memory for %lld samples", path, (long long)n);
        goto done;
      }
    }
    if (row >= FI2010_ROWS) {
      snprintf(why, why_len, "%s:%d: more than %d rows", path, row + 1, FI2010_ROWS);
      err = OBI_EPARSE;
      goto done;
    }
    int64_t col = 0;
    while (p < end) {
      while (p < end && (*p == ' ' || *p == '\t')) p++;
      if (p == end) break;
      const char *start = p;
      while (p < end && *p != ' ' && *p != '\t') p++;
      size_t flen = (size_t)(p - start);
      if (col >= d->n || flen >= sizeof num) {
        snprintf(why, why_len, "%s:%d: %s", path, row + 1,
                 col >= d->n ? "more samples than the first row" : "a field longer than 63 characters");
        err = OBI_EPARSE;
        goto done;
      }
      memcpy(num, start, flen);
      num[flen] = 0;
      char *stop;
      errno = 0;
      double v = strtod(num, &stop);
      if (*stop || errno == ERANGE) {
        snprintf(why, why_len, "%s:%d: sample %lld: '%s' is not a number", path, row + 1, (long long)col + 1, num);
        err = OBI_EPARSE;
        goto done;
      }
      if (row < FI2010_FEATURES) {
        d->x[col * FI2010_FEATURES + row] = (float)v;
      } else {
        if (v != 1 && v != 2 && v != 3) {
          snprintf(why, why_len, "%s:%d: sample %lld: label %s is not 1, 2 or 3", path, row + 1, (long long)col + 1,
                   num);
          err = OBI_EPARSE;
          goto done;
        }
        d->labels[col * FI2010_HORIZONS + (row - FI2010_FEATURES)] = (int8_t)(3 - (int)v); /* 1 up -> 2, 3 down -> 0 */
      }
      col++;
    }
    if (col != d->n) {
      snprintf(why, why_len, "%s:%d: %lld samples, the first row has %lld", path, row + 1, (long long)col,
               (long long)d->n);
      err = OBI_EPARSE;
      goto done;
    }
    row++;
  }
  if (err == OBI_EEOF && row == FI2010_ROWS) {
    err = OBI_OK;
  } else if (err == OBI_EEOF) {
    snprintf(why, why_len, "%s: %d rows, FI-2010 files have %d", path, row, FI2010_ROWS);
    err = OBI_EPARSE;
  } else if (err) {
    snprintf(why, why_len, "%s:%d: %s", path, row + 1,
             err == OBI_EIO ? "read error (truncated or corrupt file?)" : "line longer than 1 MiB");
  }
done:
  obi_textin_close(t);
  if (err) fi2010_free(d);
  return err;
}
