/* dataset.c — a feature file written by `obi features` read back for training and evaluation:
 * the features, one label column, the timestamps and the sidecar's names, normalisation and
 * training boundary. FILE.npy has siblings FILE.labels.npy, FILE.timestamps.npy, FILE.json;
 * DIR/features.npy has DIR/labels.npy, DIR/timestamps.npy, DIR/features.json. */
#include "dataset.h"

#include "cli.h"

#include "obi/fi2010.h"
#include "obi/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dataset_sibling(char *out, size_t n, const char *path, const char *file_suffix, const char *dir_name) {
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
  dataset_sibling(p, sizeof p, path, ".json", "features.json");
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
  if (!label) { /* default: the forward-only label (a) of the first horizon (docs/models.md: why not b) */
    static char def[64];
    json_t *h0 = json_array_get(horizons, 0);
    snprintf(def, sizeof def, "label_a_%s", json_string_value(json_object_get(h0, "name")));
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
  dataset_sibling(p, sizeof p, path, ".labels.npy", "labels.npy");
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
  /* The purge gap: the most rows any label of this column can look ahead, so that no label on
   * one side of a boundary reaches rows on the other (and an online model applies a label only
   * after its horizon). Row horizons: k rows. Time horizons: the most rows inside any interval
   * (t, t + h] of the file. The next-mid-change label: the longest run of rows without a mid
   * change (from the mid column), or 100 rows when the file has none. */
  d->purge = 100;
  int found = 0;
  for (size_t h = 0; h < json_array_size(horizons) && !found; h++) {
    json_t *hj = json_array_get(horizons, h);
    const char *hn = json_string_value(json_object_get(hj, "name"));
    if (!hn || strlen(label) <= 8 || strcmp(label + 8, hn) != 0) continue; /* "label_a_" / "label_b_" */
    found = 1;
    if (json_is_integer(json_object_get(hj, "rows"))) {
      d->purge = json_integer_value(json_object_get(hj, "rows"));
      continue;
    }
    int64_t ns = json_integer_value(json_object_get(hj, "ns"));
    npy_array ts;
    dataset_sibling(p, sizeof p, path, ".timestamps.npy", "timestamps.npy");
    if (npy_read(&ts, p, w, sizeof w) || ts.ndim != 1 || strcmp(ts.descr, "<i8") || ts.shape[0] != (uint64_t)d->rows) {
      npy_free(&ts);
      snprintf(why, why_len, "%s: the timestamps (int64, one per row) are needed for the time horizon %s", p, hn);
      return -1;
    }
    const int64_t *t = ts.data;
    int64_t most = 0;
    for (int64_t r = 0, e = 0; r < d->rows; r++) { /* e: the last row with t <= t[r] + ns */
      if (e < r) e = r;
      while (e + 1 < d->rows && t[e + 1] <= t[r] + ns) e++;
      if (e - r > most) most = e - r;
    }
    d->purge = most + 1;
    npy_free(&ts);
  }
  if (!found && !strcmp(label, "label_next_mid_change")) {
    for (int c = 0; c < d->C; c++)
      if (!strcmp(d->names[c], "mid")) {
        int64_t run = 0, longest = 0;
        for (int64_t r = 1; r < d->rows; r++) {
          run = d->X[r * d->C + c] == d->X[(r - 1) * d->C + c] ? run + 1 : 0;
          if (run > longest) longest = run;
        }
        d->purge = longest + 1;
      }
  }
  d->fitted_end = d->train_end; /* micro-price table, alpha, normalisation: fitted on rows before this */
  return 0;
}

int dataset_load_fi2010(dataset *d, const char *const *paths, int n, int k, int all_features, double train_fraction,
                        char *why, size_t why_len) {
  memset(d, 0, sizeof *d);
  int h = fi2010_horizon_index(k);
  if (h < 0) {
    snprintf(why, why_len, "FI-2010 horizons are 10, 20, 30, 50 and 100, not %d", k);
    return -1;
  }
  int C = all_features ? FI2010_FEATURES : FI2010_BOOK;
  d->C = C;
  d->seg_starts = calloc((size_t)n, sizeof *d->seg_starts);
  d->nseg = n;
  for (int f = 0; f < n; f++) {
    fi2010_data day;
    if (fi2010_read(&day, paths[f], why, why_len)) return -1;
    float *x = realloc(d->owned_x, (size_t)(d->rows + day.n) * C * sizeof *x);
    if (x) d->owned_x = x;
    int8_t *y = x ? realloc(d->y, (size_t)(d->rows + day.n)) : NULL;
    if (y) d->y = y;
    if (!x || !y) { /* dataset_free releases what was kept */
      fi2010_free(&day);
      snprintf(why, why_len, "out of memory");
      return -1;
    }
    for (int64_t i = 0; i < day.n; i++) {
      memcpy(x + (size_t)(d->rows + i) * C, day.x + (size_t)i * FI2010_FEATURES, (size_t)C * sizeof *x);
      y[d->rows + i] = day.labels[i * FI2010_HORIZONS + h];
    }
    d->seg_starts[f] = d->rows;
    d->rows += day.n;
    fi2010_free(&day);
  }
  d->X = d->owned_x;
  /* names: the book columns as obi's --raw-book names them, then the hand-crafted rows */
  static char names[FI2010_FEATURES][24];
  static const char *const part[4] = {"ask_price", "ask_size", "bid_price", "bid_size"};
  d->names = calloc((size_t)C, sizeof *d->names);
  for (int c = 0; c < C; c++) {
    if (c < FI2010_BOOK)
      snprintf(names[c], sizeof names[c], "%s_%d", part[c % 4], c / 4 + 1);
    else
      snprintf(names[c], sizeof names[c], "fi2010_row_%d", c + 1);
    d->names[c] = names[c];
  }
  d->train_end = (int64_t)((double)d->rows * train_fraction);
  d->fitted_end = 0; /* FI-2010 comes normalised; obi fits nothing on it but the model's statistics */
  d->purge = k;
  d->mean = calloc((size_t)C, sizeof *d->mean);
  d->std = calloc((size_t)C, sizeof *d->std);
  if (!d->mean || !d->std) {
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  column_stats(d->X, d->train_end, C, 0, d->mean, d->std); /* training rows only */
  snprintf(d->label, sizeof d->label, "fi2010_k%d", k);
  return 0;
}

int cli_fi2010_option(fi2010_opts *o, int argc, char **argv, int *i, const char *cmd_name) {
  const char *a = argv[*i];
  if (!strcmp(a, "--fi2010")) {
    while (*i + 1 < argc && argv[*i + 1][0] != '-' && o->n < 64) o->files[o->n++] = argv[++*i];
    if (o->n) return 1;
    fprintf(stderr, "obi %s: --fi2010 needs one or more files\n", cmd_name);
    return -1;
  }
  if (!strcmp(a, "--fi2010-all-features")) return o->all_features = 1;
  if (!strcmp(a, "--horizon")) {
    char *end;
    o->horizon = *i + 1 < argc ? strtol(argv[*i + 1], &end, 10) : 0;
    if (*i + 1 >= argc || *end || fi2010_horizon_index((int)o->horizon) < 0) {
      fprintf(stderr, "obi %s: --horizon: 10, 20, 30, 50 or 100\n", cmd_name);
      return -1;
    }
    ++*i;
    return 1;
  }
  return 0;
}

void dataset_free(dataset *d) {
  free(d->seg_starts);
  free(d->owned_x);
  npy_free(&d->feats);
  npy_free(&d->labels);
  json_decref(d->meta);
  free(d->names);
  free(d->mean);
  free(d->std);
  free(d->y);
  memset(d, 0, sizeof *d);
}

int cli_model_config(model_config *cfg, model_kind kind, const char *path) {
  model_config_default(cfg, kind);
  if (!path) return 0;
  FILE *f = fopen(path, "rb");
  if (!f) return cli_input_error("%s: cannot read the configuration", path);
  char text[1 << 14], why[512];
  size_t len = fread(text, 1, sizeof text - 1, f);
  int too_long = len == sizeof text - 1 && fgetc(f) != EOF;
  fclose(f);
  text[len] = 0;
  if (too_long) return cli_input_error("%s: the configuration is longer than %zu bytes", path, sizeof text - 1);
  if (model_config_from_json(cfg, text, why, sizeof why)) return cli_input_error("%s: %s", path, why);
  return 0;
}
