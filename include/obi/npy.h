/* npy.h — NumPy .npy files (format version 1.0), written as a stream and read whole.
 *
 * A writer is opened with the dtype and the number of columns; rows are appended and
 * the header, which holds the shape, is rewritten with the final row count on close
 * (it is padded to a fixed length so the rewrite never moves the data). The files load
 * with numpy.load. Supported dtypes: "<f4", "<f8", "<i1", "<i4", "<i8" (little-endian). */
#ifndef OBI_NPY_H
#define OBI_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "obi/error.h"

typedef struct {
  FILE *f;
  char descr[8];
  size_t item, cols; /* bytes per element, elements per row (0 for a 1-D array) */
  uint64_t rows;
} npy_writer;

/* cols == 0 writes a 1-D array. OBI_EIO if the file cannot be created, OBI_EINVAL for an unknown dtype. */
obi_err npy_open(npy_writer *w, const char *path, const char *descr, size_t cols);
/* Appends n rows (n * cols elements, or n elements for 1-D) in the writer's dtype. */
obi_err npy_append(npy_writer *w, const void *data, size_t n);
/* Writes the final header and closes; returns OBI_EIO if anything failed. */
obi_err npy_close(npy_writer *w);

typedef struct {
  char descr[8];
  int ndim;
  uint64_t shape[2];
  size_t item;
  void *data; /* owned; free with npy_free */
} npy_array;

/* Reads a whole .npy file (C order, little-endian, 1 or 2 dimensions). Errors: OBI_ENOENT,
 * OBI_EIO, OBI_EPARSE (bad magic, header or dtype; why names it), OBI_ERANGE (data
 * shorter than the shape says: a truncated file). */
obi_err npy_read(npy_array *a, const char *path, char *why, size_t why_len);
/* The same from an open stream positioned at the start of the file (the caller closes it). */
obi_err npy_read_stream(npy_array *a, FILE *f, char *why, size_t why_len);
void npy_free(npy_array *a);

#endif
