/* safetensors.h — the safetensors weight format (Hugging Face): an 8-byte little-endian
 * header length, a JSON header mapping tensor names to {"dtype", "shape", "data_offsets"}
 * (plus an optional "__metadata__" object of strings), then the raw little-endian data.
 * Only F32 tensors are written and read here. */
#ifndef OBI_SAFETENSORS_H
#define OBI_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

#define ST_MAX_DIMS 4

typedef struct {
  const char *name;
  int ndim;
  int64_t shape[ST_MAX_DIMS];
  const float *data; /* writing: the values; reading: points into the file's buffer */
} st_tensor;

/* Writes n tensors and the metadata pairs (keys[i] -> values[i], may be 0 pairs). */
obi_err st_write(const char *path, const st_tensor *t, int n, const char *const *meta_keys,
                 const char *const *meta_values, int n_meta);

typedef struct {
  unsigned char *buf; /* the whole file */
  size_t len;
  st_tensor *t;
  int n;
  char **meta_keys, **meta_values;
  int n_meta;
} st_file;

/* Reads and validates a whole file: header JSON, dtypes (F32 only), shapes, offsets inside
 * the data and covering it without overlap. Errors: OBI_ENOENT, OBI_EIO, OBI_EPARSE (why says
 * what: truncated file, bad header, bad offsets, ...). */
obi_err st_read(st_file *f, const char *path, char *why, size_t why_len);
/* The same from a buffer the reader takes over (freed by st_free). */
obi_err st_read_buffer(st_file *f, unsigned char *buf, size_t len, char *why, size_t why_len);
const st_tensor *st_find(const st_file *f, const char *name);
const char *st_meta(const st_file *f, const char *key);
void st_free(st_file *f);

#endif
