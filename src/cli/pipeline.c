/* pipeline.c — what `obi backtest`, `obi serve` and `obi stream consume` share: the training features' sidecar (so a
 * model sees rows computed exactly as in training), the model as a signal on the feature
 * engine, latency options and small configuration files. */
#include "pipeline.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "obi/npy.h"

void ms_update(void *ctx, const obi_event *ev, const obi_book *book) {
  model_signal *s = ctx;
  feat_update(s->e, ev, book);
}

int ms_row(const model_signal *s, const obi_book *book, double *full, float *x) {
  if (!feat_ready(s->e)) return 0;
  feat_compute(s->e, book, full);
  for (int c = 0; c < s->C; c++) x[c] = (float)full[s->cols[c]];
  return 1;
}

int ms_map_columns(const feat_engine *e, const obi_model *m, int *cols, char *why, size_t why_len) {
  for (int c = 0; c < model_features(m); c++) {
    cols[c] = feat_find(e, model_feature_name(m, c));
    if (cols[c] < 0) {
      snprintf(why, why_len, "feature '%s' is not computed by the engine", model_feature_name(m, c));
      return -1;
    }
  }
  return 0;
}

int ms_predict(void *ctx, const obi_event *ev, const obi_book *book, int64_t row, float probs[3]) {
  (void)ev, (void)row;
  model_signal *s = ctx;
  double full[FEAT_MAX_COLS];
  float x[MODEL_MAX_FEATURES];
  return ms_row(s, book, full, x) && model_step(s->m, x, probs);
}

int sidecar_fits_source(const sidecar *sc, int recording, double price_scale, const char *source, const char *features,
                        char *why, size_t why_len) {
  if (recording == sc->recording && (!recording || price_scale == sc->fc.price_scale)) return 0;
  snprintf(why, why_len,
           "%s: the model's features (%s) were computed from %s with prices in units of 1/%g; this source is %s "
           "with 1/%g",
           source, features, sc->recording ? "a feed recording" : "LOBSTER data", sc->fc.price_scale,
           recording ? "a feed recording" : "LOBSTER data", price_scale);
  return -1;
}

int read_sidecar(const char *features, sidecar *sc, char *why, size_t why_len) {
  char p[4200];
  dataset_sibling(p, sizeof p, features, ".json", "features.json");
  json_error_t jerr;
  json_t *j = json_load_file(p, 0, &jerr);
  if (!j) {
    snprintf(why, why_len, "%s: cannot read the sidecar (line %d: %s)", p, jerr.line, jerr.text);
    return -1;
  }
  int rc = -1;
  npy_array ts = {0};
  feat_config_default(&sc->fc);
  json_t *w = json_object_get(j, "windows_ns"), *h = json_array_get(json_object_get(j, "horizons"), 0);
  json_t *src = json_array_get(json_object_get(j, "source"), 0), *mp = json_object_get(j, "microprice");
  if (!json_is_integer(json_object_get(j, "levels")) || json_array_size(w) != FEAT_WINDOWS || !h ||
      !json_is_string(json_object_get(j, "sampling")) || !json_is_integer(json_object_get(j, "train_rows_kept"))) {
    snprintf(why, why_len, "%s: not the sidecar of an obi features file (levels, windows_ns, horizons, sampling)", p);
    goto done;
  }
  sc->fc.levels = (int)json_integer_value(json_object_get(j, "levels"));
  for (int i = 0; i < FEAT_WINDOWS; i++) sc->fc.window_ns[i] = json_integer_value(json_array_get(w, (size_t)i));
  if (json_is_number(json_object_get(j, "price_scale")))
    sc->fc.price_scale = json_number_value(json_object_get(j, "price_scale"));
  if (json_is_number(json_object_get(j, "tick"))) sc->fc.tick = json_number_value(json_object_get(j, "tick"));
  sc->fc.signed_trades = json_is_true(json_object_get(j, "signed_trades"));
  json_t *ins = json_object_get(j, "instrument"); /* absent before obi 0.3: a LOBSTER file */
  snprintf(sc->symbol, sizeof sc->symbol, "%s",
           json_is_string(json_object_get(ins, "symbol")) ? json_string_value(json_object_get(ins, "symbol")) : "");
  sc->size_scale =
      json_is_number(json_object_get(ins, "size_scale")) ? json_number_value(json_object_get(ins, "size_scale")) : 1;
  sc->recording = json_is_string(json_object_get(ins, "kind")) &&
                  !strcmp(json_string_value(json_object_get(ins, "kind")), "recording");
  snprintf(sc->sampling, sizeof sc->sampling, "%s", json_string_value(json_object_get(j, "sampling")));
  sc->split_timestamps = json_is_true(json_object_get(j, "split_timestamps"));
  sc->hold_rows = json_integer_value(json_object_get(h, "rows"));
  sc->hold_ns = json_integer_value(json_object_get(h, "ns"));
  sc->alpha_a = json_number_value(json_object_get(h, "alpha_a"));
  snprintf(sc->msg_sha, sizeof sc->msg_sha, "%s",
           json_is_string(json_object_get(src, "sha256")) ? json_string_value(json_object_get(src, "sha256")) : "");
  snprintf(sc->content_sha, sizeof sc->content_sha, "%s",
           json_is_string(json_object_get(src, "content_sha256"))
               ? json_string_value(json_object_get(src, "content_sha256"))
               : "");
  snprintf(sc->day, sizeof sc->day, "%s",
           json_is_string(json_object_get(src, "day")) ? json_string_value(json_object_get(src, "day")) : "");
  json_t *ds = json_object_get(src, "day_start_ns"); /* absent in files of obi before 0.2: no shift */
  sc->day_start_ns = json_is_integer(ds) ? json_integer_value(ds) : -1;
  sc->has_mp = json_is_object(mp);
  if (sc->has_mp) {
    json_t *up = json_object_get(mp, "spread_upper_ticks"), *g = json_object_get(mp, "g_ticks");
    sc->mp.n_imb = (int)json_integer_value(json_object_get(mp, "n_imb"));
    sc->mp.n_spread = (int)json_integer_value(json_object_get(mp, "n_spread"));
    if (sc->mp.n_imb < 1 || sc->mp.n_imb > FEAT_MP_MAX_IMB || sc->mp.n_spread < 1 ||
        sc->mp.n_spread > FEAT_MP_MAX_SPREAD || json_array_size(up) != (size_t)sc->mp.n_spread ||
        json_array_size(g) != (size_t)sc->mp.n_spread) {
      snprintf(why, why_len, "%s: malformed micro-price table", p);
      goto done;
    }
    for (int s = 0; s < sc->mp.n_spread; s++) {
      sc->mp.spread_upper[s] = json_integer_value(json_array_get(up, (size_t)s));
      json_t *row = json_array_get(g, (size_t)s);
      if (json_array_size(row) != (size_t)sc->mp.n_imb) {
        snprintf(why, why_len, "%s: malformed micro-price table", p);
        goto done;
      }
      for (int i = 0; i < sc->mp.n_imb; i++) sc->mp.g[s][i] = json_number_value(json_array_get(row, (size_t)i));
    }
  }
  /* the training part ends at row train_rows_kept; trading starts one horizon later */
  dataset_sibling(p, sizeof p, features, ".timestamps.npy", "timestamps.npy");
  char w2[512];
  if (npy_read(&ts, p, w2, sizeof w2) || ts.ndim != 1 || strcmp(ts.descr, "<i8")) {
    snprintf(why, why_len, "%s: %s", p, ts.data ? "expected int64 timestamps" : w2);
    goto done;
  }
  int64_t n = (int64_t)ts.shape[0], train = json_integer_value(json_object_get(j, "train_rows_kept"));
  const int64_t *t = ts.data;
  if (n == 0 || train < 1) {
    snprintf(why, why_len, "%s: no training rows", p);
    goto done;
  }
  if (train > n) train = n;
  sc->train_last_ns = t[train - 1];
  if (sc->hold_ns > 0)
    sc->oos_start_ns = sc->train_last_ns + sc->hold_ns + 1;
  else
    sc->oos_start_ns = train + sc->hold_rows < n ? t[train + sc->hold_rows] : t[n - 1] + 1;
  rc = 0;
done:
  npy_free(&ts);
  json_decref(j);
  return rc;
}

/* "feed=1ms,entry=lognormal:200us:0.5,response=300us" (any subset) into the sim config. */
int parse_latencies(sim_config *c, const char *spec, char *why, size_t why_len) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", spec);
  for (char *save = NULL, *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(part, '=');
    sim_latency *l = NULL;
    if (eq) {
      *eq = 0;
      l = !strcmp(part, "feed")       ? &c->feed
          : !strcmp(part, "entry")    ? &c->entry
          : !strcmp(part, "response") ? &c->response
                                      : NULL;
    }
    if (!l) {
      snprintf(why, why_len, "--latency: expected feed=..., entry=... or response=..., not '%s'", part);
      return -1;
    }
    sim_latency_free(l);
    if (sim_latency_parse(l, eq + 1, why, why_len)) return -1;
  }
  return 0;
}

/* The text of a small configuration file (up to 64 KiB; a static buffer reused by the next call),
 * or NULL with errno set. */
const char *read_small_file(const char *path) {
  static char buf[1 << 16];
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return buf;
}
