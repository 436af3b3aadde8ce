/* safetensors.c — reading and writing safetensors files (format: github.com/huggingface/
 * safetensors, "the format"): u64 little-endian N, N bytes of JSON header, then the data.
 * The header is parsed with jansson. A file is accepted only when every tensor is F32, its
 * offsets match its shape exactly, lie inside the data and do not overlap, so a truncated or
 * tampered file is an error, never a read past the buffer. */
#include "obi/safetensors.h"
#include "why.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

obi_err st_write(const char *path, const st_tensor *t, int n, const char *const *meta_keys,
                 const char *const *meta_values, int n_meta) {
  json_t *h = json_object(), *meta = json_object();
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    size_t count = 1;
    json_t *shape = json_array();
    for (int d = 0; d < t[i].ndim; d++)
      json_array_append_new(shape, json_integer(t[i].shape[d])), count *= (size_t)t[i].shape[d];
    json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape, "data_offsets", (json_int_t)off,
                          (json_int_t)(off + 4 * count));
    json_object_set_new(h, t[i].name, e);
    off += 4 * count;
  }
  for (int i = 0; i < n_meta; i++) json_object_set_new(meta, meta_keys[i], json_string(meta_values[i]));
  json_object_set_new(h, "__metadata__", meta);
  char *text = json_dumps(h, JSON_COMPACT);
  json_decref(h);
  if (!text) return OBI_ENOMEM;
  size_t hl = strlen(text), pad = (8 - hl % 8) % 8; /* the data starts 8-byte aligned */
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(text);
    return OBI_EIO;
  }
  uint64_t total = hl + pad;
  unsigned char le[8];
  for (int i = 0; i < 8; i++) le[i] = (unsigned char)(total >> (8 * i));
  int ok = fwrite(le, 1, 8, f) == 8 && fwrite(text, 1, hl, f) == hl && fwrite("        ", 1, pad, f) == pad;
  free(text);
  for (int i = 0; ok && i < n; i++) {
    size_t count = 1;
    for (int d = 0; d < t[i].ndim; d++) count *= (size_t)t[i].shape[d];
    ok = fwrite(t[i].data, 4, count, f) == count;
  }
  ok = fclose(f) == 0 && ok;
  return ok ? OBI_OK : OBI_EIO;
}

static int cmp_offsets(const void *a, const void *b) {
  const st_tensor *x = a, *y = b;
  return (x->data > y->data) - (x->data < y->data);
}

obi_err st_read_buffer(st_file *f, unsigned char *buf, size_t len, char *why, size_t why_len) {
  memset(f, 0, sizeof *f);
  f->buf = buf;
  f->len = len;
  obi_err err = OBI_EPARSE;
  json_t *h = NULL;
  if (len < 8) {
    why_fail(why, why_len, err, "truncated: %zu bytes, no header length", len);
    goto fail;
  }
  uint64_t hl = 0;
  for (int i = 0; i < 8; i++) hl |= (uint64_t)buf[i] << (8 * i);
  if (hl > len - 8 || hl > (100u << 20)) {
    why_fail(why, why_len, err, "truncated or corrupt: header of %llu bytes in a %zu-byte file", (unsigned long long)hl,
             len);
    goto fail;
  }
  json_error_t jerr;
  h = json_loadb((const char *)buf + 8, (size_t)hl, 0, &jerr);
  if (!h || !json_is_object(h)) {
    why_fail(why, why_len, err, "header is not a JSON object (%s)", h ? "" : jerr.text);
    goto fail;
  }
  const unsigned char *data = buf + 8 + hl;
  size_t data_len = len - 8 - (size_t)hl;
  size_t n = json_object_size(h);
  f->t = calloc(n ? n : 1, sizeof *f->t);
  f->meta_keys = calloc(n ? n : 1, sizeof(char *));
  f->meta_values = calloc(n ? n : 1, sizeof(char *));
  if (!f->t || !f->meta_keys || !f->meta_values) {
    err = OBI_ENOMEM;
    goto fail;
  }
  const char *key;
  json_t *val;
  json_object_foreach(h, key, val) {
    if (!strcmp(key, "__metadata__")) {
      const char *mk;
      json_t *mv;
      if (!json_is_object(val)) {
        why_fail(why, why_len, err, "__metadata__ is not an object");
        goto fail;
      }
      json_object_foreach(val, mk, mv) {
        if (!json_is_string(mv) || f->n_meta >= (int)n) continue;
        f->meta_keys[f->n_meta] = strdup(mk);
        f->meta_values[f->n_meta] = strdup(json_string_value(mv));
        f->n_meta++;
      }
      continue;
    }
    json_t *dt = json_object_get(val, "dtype"), *shape = json_object_get(val, "shape"),
           *offs = json_object_get(val, "data_offsets");
    if (!json_is_string(dt) || strcmp(json_string_value(dt), "F32") != 0) {
      why_fail(why, why_len, err, "tensor '%s': dtype must be F32", key);
      goto fail;
    }
    if (!json_is_array(shape) || json_array_size(shape) > ST_MAX_DIMS || !json_is_array(offs) ||
        json_array_size(offs) != 2) {
      why_fail(why, why_len, err, "tensor '%s': bad shape or data_offsets", key);
      goto fail;
    }
    st_tensor *t = &f->t[f->n];
    uint64_t count = 1;
    for (size_t d = 0; d < json_array_size(shape); d++) {
      json_t *x = json_array_get(shape, d);
      if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > (1 << 30)) {
        why_fail(why, why_len, err, "tensor '%s': bad dimension", key);
        goto fail;
      }
      t->shape[t->ndim++] = json_integer_value(x);
      count *= (uint64_t)json_integer_value(x);
      if (count > (1ull << 34)) {
        why_fail(why, why_len, err, "tensor '%s': too large", key);
        goto fail;
      }
    }
    json_t *a = json_array_get(offs, 0), *b = json_array_get(offs, 1);
    if (!json_is_integer(a) || !json_is_integer(b) || json_integer_value(a) < 0 ||
        json_integer_value(b) < json_integer_value(a) || (uint64_t)json_integer_value(b) > data_len ||
        (uint64_t)(json_integer_value(b) - json_integer_value(a)) != 4 * count || json_integer_value(a) % 4) {
      why_fail(why, why_len, err, "tensor '%s': data_offsets do not match its shape or lie outside the %zu data bytes",
               key, data_len);
      goto fail;
    }
    t->data = (const float *)(data + json_integer_value(a));
    t->name = strdup(key);
    f->n++;
  }
  /* no two tensors share bytes */
  st_tensor *sorted = malloc((f->n ? f->n : 1) * sizeof *sorted);
  if (!sorted) {
    err = OBI_ENOMEM;
    goto fail;
  }
  memcpy(sorted, f->t, (size_t)f->n * sizeof *sorted);
  qsort(sorted, (size_t)f->n, sizeof *sorted, cmp_offsets);
  for (int i = 1; i < f->n; i++) {
    uint64_t prev_count = 1;
    for (int d = 0; d < sorted[i - 1].ndim; d++) prev_count *= (uint64_t)sorted[i - 1].shape[d];
    if ((const unsigned char *)sorted[i - 1].data + 4 * prev_count > (const unsigned char *)sorted[i].data) {
      why_fail(why, why_len, err, "tensors '%s' and '%s' overlap", sorted[i - 1].name, sorted[i].name);
      free(sorted);
      goto fail;
    }
  }
  free(sorted);
  json_decref(h);
  return OBI_OK;
fail:
  json_decref(h);
  st_free(f);
  return err;
}

obi_err st_read(st_file *f, const char *path, char *why, size_t why_len) {
  memset(f, 0, sizeof *f);
  FILE *fp = fopen(path, "rb");
  if (!fp) return why_fail(why, why_len, errno == ENOENT ? OBI_ENOENT : OBI_EIO, "cannot open");
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 1 << 16;
      unsigned char *g = realloc(buf, cap);
      if (!g) {
        free(buf);
        fclose(fp);
        return OBI_ENOMEM;
      }
      buf = g;
    }
    size_t got = fread(buf + len, 1, cap - len, fp);
    len += got;
    if (got == 0) break;
  }
  int io = ferror(fp);
  fclose(fp);
  if (io) {
    free(buf);
    return why_fail(why, why_len, OBI_EIO, "read error");
  }
  return st_read_buffer(f, buf, len, why, why_len);
}

const st_tensor *st_find(const st_file *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (!strcmp(f->t[i].name, name)) return &f->t[i];
  return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
  for (int i = 0; i < f->n_meta; i++)
    if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
  return NULL;
}

void st_free(st_file *f) {
  if (!f) return;
  for (int i = 0; i < f->n; i++) free((char *)f->t[i].name);
  for (int i = 0; i < f->n_meta; i++) free(f->meta_keys[i]), free(f->meta_values[i]);
  free(f->t);
  free(f->meta_keys);
  free(f->meta_values);
  free(f->buf);
  memset(f, 0, sizeof *f);
}
