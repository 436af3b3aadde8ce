/* dataset.c — a feature file written by `obi features` read back for training and evaluation:
 * the features, one label column, the timestamps and the sidecar's names, normalisation and
 * training boundary. FILE.npy has siblings FILE.labels.npy, FILE.timestamps.npy, FILE.json;
 * DIR/features.npy has DIR/labels.npy, DIR/timestamps.npy, DIR/features.json. */
#include "dataset.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void sibling(char *out, size_t n, const char *path, const char *file_suffix, const char *dir_name) {
  size_t len = strlen(path);
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!strcmp(base, "features.npy"))
    snprintf(out, n, "%.*s%s", (int)(base - path), path, dir_name);
  else
    snprintf(out, n, "%.*s%s", (int)(len > 4 ? len - 4 : len), path, file_suffix);
}

int dataset_load(dataset *d, const char *path, const char *label, char *why, size_t why_len) {
  memset(d, 0, sizeof *d);
  char p[4200], w[512];
  if (npy_read(&d->feats, path, w, sizeof w)) {
    snprintf(why, why_len, "%s: %s", path, w);
    return -1;
  }
  if (d->feats.ndim != 2 || strcmp(d->feats.descr, "<f4")) {
    snprintf(why, why_len, "%s: expected a float32 matrix (rows, features)", path);
    return -1;
  }
  d->rows = (int64_t)d->feats.shape[0];
  d->C = (int)d->feats.shape[1];
  d->X = d->feats.data;
  sibling(p, sizeof p, path, ".json", "features.json");
  json_error_t jerr;
  d->meta = json_load_file(p, 0, &jerr);
  if (!d->meta) {
    snprintf(why, why_len, "%s: cannot read the sidecar (line %d: %s)", p, jerr.line, jerr.text);
    return -1;
  }
  json_t *names = json_object_get(d->meta, "features"), *labels = json_object_get(d->meta, "labels"),
         *norm = json_object_get(d->meta, "normalization"), *horizons = json_object_get(d->meta, "horizons");
  json_t *mean = json_object_get(norm, "mean"), *std = json_object_get(norm, "std");
  json_t *train = json_object_get(d->meta, "train_rows_kept");
  if (!json_is_array(names) || json_array_size(names) != (size_t)d->C || !json_is_array(labels) ||
      !json_is_array(mean) || json_array_size(mean) != (size_t)d->C || !json_is_array(std) ||
      json_array_size(std) != (size_t)d->C || !json_is_integer(train) || !json_is_array(horizons)) {
    snprintf(why, why_len, "%s: the sidecar does not describe %s (feature names, normalisation, training rows)", p,
             path);
    return -1;
  }
  d->names = calloc((size_t)d->C, sizeof *d->names);
  d->mean = malloc((size_t)d->C * sizeof *d->mean);
  d->std = malloc((size_t)d->C * sizeof *d->std);
  for (int i = 0; i < d->C; i++) {
    d->names[i] = json_string_value(json_array_get(names, (size_t)i));
    d->mean[i] = (float)json_number_value(json_array_get(mean, (size_t)i));
    d->std[i] = (float)json_number_value(json_array_get(std, (size_t)i));
    if (!d->names[i]) {
      snprintf(why, why_len, "%s: feature name %d is not a string", p, i);
      return -1;
    }
  }
  d->train_end = json_integer_value(train);
  if (d->train_end < 0 || d->train_end > d->rows) d->train_end = d->rows;
  /* the label column */
  size_t nl = json_array_size(labels), col = nl;
  if (!label) { /* default: label (b) of the first horizon */
    static char def[64];
    json_t *h0 = json_array_get(horizons, 0);
    snprintf(def, sizeof def, "label_b_%s", json_string_value(json_object_get(h0, "name")));
    label = def;
  }
  for (size_t i = 0; i < nl; i++)
    if (json_is_string(json_array_get(labels, i)) && !strcmp(json_string_value(json_array_get(labels, i)), label))
      col = i;
  if (col == nl) {
    snprintf(why, why_len, "%s: no label column '%s'", p, label);
    return -1;
  }
  snprintf(d->label, sizeof d->label, "%s", label);
  sibling(p, sizeof p, path, ".labels.npy", "labels.npy");
  if (npy_read(&d->labels, p, w, sizeof w)) {
    snprintf(why, why_len, "%s: %s", p, w);
    return -1;
  }
  if (d->labels.ndim != 2 || d->labels.item != 1 || d->labels.shape[0] != (uint64_t)d->rows ||
      d->labels.shape[1] != nl) {
    snprintf(why, why_len, "%s: expected int8 labels (%lld, %zu)", p, (long long)d->rows, nl);
    return -1;
  }
  d->y = malloc((size_t)(d->rows ? d->rows : 1));
  for (int64_t r = 0; r < d->rows; r++) {
    int8_t v = ((const int8_t *)d->labels.data)[r * (int64_t)nl + (int64_t)col];
    if (v < 0 || v > 2) {
      snprintf(why, why_len, "%s: row %lld: label %d is not 0, 1 or 2", p, (long long)r, v);
      return -1;
    }
    d->y[r] = v;
  }
  /* purge gap: the label's horizon in rows (time horizons: rows within the horizon before the
   * training boundary; the next-mid-change label: 100 rows) */
  d->purge = 100;
  for (size_t h = 0; h < json_array_size(horizons); h++) {
    json_t *hj = json_array_get(horizons, h);
    const char *hn = json_string_value(json_object_get(hj, "name"));
    if (!hn || strlen(label) <= 8 || strcmp(label + 8, hn) != 0) continue; /* "label_a_" / "label_b_" */
    if (json_is_integer(json_object_get(hj, "rows"))) {
      d->purge = json_integer_value(json_object_get(hj, "rows"));
    } else {
      int64_t ns = json_integer_value(json_object_get(hj, "ns"));
      npy_array ts;
      sibling(p, sizeof p, path, ".timestamps.npy", "timestamps.npy");
      if (npy_read(&ts, p, w, sizeof w) == OBI_OK && ts.shape[0] == (uint64_t)d->rows && d->train_end > 0) {
        const int64_t *t = ts.data;
        int64_t b = d->train_end - 1, k = 0;
        while (b - k >= 0 && t[b - k] > t[b] - ns) k++;
        d->purge = k + 1;
      }
      npy_free(&ts);
    }
  }
  return 0;
}

void dataset_free(dataset *d) {
  npy_free(&d->feats);
  npy_free(&d->labels);
  json_decref(d->meta);
  free(d->names);
  free(d->mean);
  free(d->std);
  free(d->y);
  memset(d, 0, sizeof *d);
}
