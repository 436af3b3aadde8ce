/* npy.c — the NumPy .npy format, version 1.0 (numpy.lib.format): the magic "\x93NUMPY",
 * version 1.0, a little-endian uint16 header length, and a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (R, C), } padded with spaces and a
 * final newline so that the data starts at a multiple of 64 bytes. The writer reserves a
 * 128-byte header so that the final shape always fits when it is rewritten on close. */
#include "obi/npy.h"
#include "why.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NPY_HEADER_BYTES 128

static size_t item_size(const char *descr) {
  static const struct {
    const char *d;
    size_t n;
  } known[] = {{"<f4", 4}, {"<f8", 8}, {"<i1", 1}, {"|i1", 1}, {"<i4", 4}, {"<i8", 8}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (!strcmp(descr, known[i].d)) return known[i].n;
  return 0;
}

static int write_header(npy_writer *w) {
  char dict[NPY_HEADER_BYTES];
  int n;
  if (w->cols)
    n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%llu, %zu), }", w->descr,
                 (unsigned long long)w->rows, w->cols);
  else
    n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%llu,), }", w->descr,
                 (unsigned long long)w->rows);
  size_t body = NPY_HEADER_BYTES - 10; /* magic 6 + version 2 + length 2 */
  if (n < 0 || (size_t)n + 1 > body) return 0;
  memset(dict + n, ' ', body - (size_t)n - 1);
  dict[body - 1] = '\n';
  unsigned char pre[10] = {
      0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(body & 0xff), (unsigned char)(body >> 8)};
  return fseek(w->f, 0, SEEK_SET) == 0 && fwrite(pre, 1, 10, w->f) == 10 && fwrite(dict, 1, body, w->f) == body;
}

obi_err npy_open(npy_writer *w, const char *path, const char *descr, size_t cols) {
  memset(w, 0, sizeof *w);
  w->item = item_size(descr);
  if (!w->item) return OBI_EINVAL;
  snprintf(w->descr, sizeof w->descr, "%s", descr);
  w->cols = cols;
  w->f = fopen(path, "wb");
  if (!w->f) return OBI_EIO;
  if (!write_header(w)) {
    fclose(w->f);
    w->f = NULL;
    return OBI_EIO;
  }
  return OBI_OK;
}

obi_err npy_append(npy_writer *w, const void *data, size_t n) {
  size_t per = w->cols ? w->cols : 1;
  if (fwrite(data, w->item * per, n, w->f) != n) return OBI_EIO;
  w->rows += n;
  return OBI_OK;
}

obi_err npy_close(npy_writer *w) {
  if (!w->f) return OBI_EIO;
  int ok = write_header(w);
  ok = fclose(w->f) == 0 && ok;
  w->f = NULL;
  return ok ? OBI_OK : OBI_EIO;
}

/* Finds 'key': in the header dict and returns a pointer just after the colon and spaces. */
static const char *dict_value(const char *dict, const char *key) {
  const char *k = strstr(dict, key);
  if (!k) return NULL;
  k += strlen(key);
  while (*k == ' ') k++;
  if (*k != ':') return NULL;
  k++;
  while (*k == ' ') k++;
  return k;
}

obi_err npy_read(npy_array *a, const char *path, char *why, size_t why_len) {
  memset(a, 0, sizeof *a);
  FILE *f = fopen(path, "rb");
  if (!f) return why_fail(why, why_len, errno == ENOENT ? OBI_ENOENT : OBI_EIO, "cannot open");
  obi_err err = npy_read_stream(a, f, why, why_len);
  fclose(f);
  return err;
}

obi_err npy_read_stream(npy_array *a, FILE *f, char *why, size_t why_len) {
  memset(a, 0, sizeof *a);
  obi_err err = OBI_EPARSE;
  unsigned char pre[10];
  char *dict = NULL;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    why_fail(why, why_len, err, "not a .npy file (bad magic)");
    goto fail;
  }
  if (pre[6] != 1 && pre[6] != 2 && pre[6] != 3) {
    why_fail(why, why_len, err, "unsupported .npy version %d", pre[6]);
    goto fail;
  }
  size_t hlen = pre[8] | (size_t)pre[9] << 8;
  if (pre[6] >= 2) { /* versions 2 and 3 use a 4-byte length */
    unsigned char more[2];
    if (fread(more, 1, 2, f) != 2) goto truncated;
    hlen |= (size_t)more[0] << 16 | (size_t)more[1] << 24;
  }
  if (hlen > (1u << 20)) {
    why_fail(why, why_len, err, "header length %zu is implausible", hlen);
    goto fail;
  }
  dict = malloc(hlen + 1);
  if (!dict) {
    err = OBI_ENOMEM;
    goto fail;
  }
  if (fread(dict, 1, hlen, f) != hlen) goto truncated;
  dict[hlen] = 0;
  const char *v = dict_value(dict, "'descr'");
  if (!v || *v != '\'' || !strchr(v + 1, '\'') || strchr(v + 1, '\'') - (v + 1) >= (long)sizeof a->descr) {
    why_fail(why, why_len, err, "header has no valid 'descr'");
    goto fail;
  }
  memcpy(a->descr, v + 1, (size_t)(strchr(v + 1, '\'') - (v + 1)));
  a->item = item_size(a->descr);
  if (!a->item) {
    why_fail(why, why_len, err, "unsupported dtype '%s'", a->descr);
    goto fail;
  }
  v = dict_value(dict, "'fortran_order'");
  if (!v || strncmp(v, "False", 5) != 0) {
    why_fail(why, why_len, err, "only C-order arrays are supported");
    goto fail;
  }
  v = dict_value(dict, "'shape'");
  if (!v || *v != '(') {
    why_fail(why, why_len, err, "header has no valid 'shape'");
    goto fail;
  }
  v++;
  while (a->ndim < 3) {
    while (*v == ' ') v++;
    if (*v == ')') break;
    char *end;
    unsigned long long d = strtoull(v, &end, 10);
    if (end == v || a->ndim == 2) {
      why_fail(why, why_len, err, "shape must have 1 or 2 dimensions");
      goto fail;
    }
    a->shape[a->ndim++] = d;
    v = end;
    while (*v == ' ') v++;
    if (*v == ',') v++;
  }
  if (a->ndim == 0) {
    why_fail(why, why_len, err, "scalars are not supported");
    goto fail;
  }
  uint64_t count = a->shape[0] * (a->ndim == 2 ? a->shape[1] : 1);
  if (a->shape[0] > (1ull << 40) || (a->ndim == 2 && a->shape[1] > (1ull << 24)) || count > (1ull << 36)) {
    why_fail(why, why_len, OBI_ERANGE, "shape too large");
    err = OBI_ERANGE;
    goto fail;
  }
  /* Never trust the header with memory: compare it with what the file holds first (for a
   * stream that cannot seek, read in chunks so a lying header fails at end of file). */
  uint64_t bytes = count * a->item;
  long here = ftell(f);
  if (here >= 0 && fseek(f, 0, SEEK_END) == 0) {
    long end = ftell(f);
    if (end < here || fseek(f, here, SEEK_SET) != 0) goto truncated;
    if ((uint64_t)(end - here) < bytes) goto truncated;
  }
  uint64_t got = 0, cap = bytes < (1u << 20) ? bytes : (1u << 20);
  a->data = malloc(cap + 1);
  if (!a->data) {
    err = OBI_ENOMEM;
    goto fail;
  }
  while (got < bytes) {
    if (got == cap) {
      cap = cap * 2 < bytes ? cap * 2 : bytes;
      void *grown = realloc(a->data, cap + 1);
      if (!grown) {
        err = OBI_ENOMEM;
        goto fail;
      }
      a->data = grown;
    }
    size_t n = fread((char *)a->data + got, 1, cap - got, f);
    if (n == 0) goto truncated;
    got += n;
  }
  free(dict);
  return OBI_OK;
truncated:
  why_fail(why, why_len, OBI_ERANGE, "file is truncated (shorter than its header says)");
  err = OBI_ERANGE;
fail:
  free(dict);
  free(a->data);
  a->data = NULL;
  return err;
}

void npy_free(npy_array *a) {
  if (!a) return;
  free(a->data);
  a->data = NULL;
}
