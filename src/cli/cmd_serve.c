/* cmd_serve.c — `obi serve`: the whole pipeline live on a replay, served over HTTP (serve.h).
 *
 * The main thread runs the pipeline: a LOBSTER replay paced at --speed (1 real time, 0 as fast
 * as possible), the book, the features and the model (the model_signal of the backtest), and
 * paper trading — the backtest's strategy, risk manager and simulated exchange (bt_*), fed the
 * streaming book. It publishes the book, features, predictions, signals, position and PnL,
 * risk state and model monitoring to the server; libmicrohttpd's threads answer requests.
 *
 * The model is shared with the request threads (POST /v1/predict, POST /admin/model) under one
 * mutex: a reload builds the new model outside the lock and swaps it in, so the pipeline and
 * requests in flight never see a half-loaded model, and no request fails during the swap.
 *
 * Model monitoring (labels mature late): each prediction waits k rows (the label horizon of the
 * training file) for its label (a) — the mean mid of the next k rows against the row's mid, with
 * the training file's alpha; then it enters rolling windows of accuracy, macro-F1, log-loss and
 * calibration. Feature drift: each model feature's training deciles give 10 bins; the share of
 * the last rows in each bin against the training share gives the population stability index
 * PSI = sum (a - e) ln(a / e). An alert is raised when PSI or accuracy cross their limits.
 *
 * --store URL keeps what the service computes (store.h): every streaming prediction, every paper
 * fill, a book snapshot (top STORE_DEPTH levels) each second of replay time, and the model in the
 * registry. The pipeline thread only copies rows into the store's queue (store_put_*); the
 * store's writer thread talks to the database. Monitoring has no table in the store's schema and
 * is not stored (docs/api.md).
 *
 * --kafka BROKERS publishes (kafka.h, docs/kafka.md) every event with its corrections (kind 1, as
 * `obi stream produce`), every sampled feature row (kind 2) and every prediction (kind 3) to
 * PREFIX.events, PREFIX.features and PREFIX.predictions, keyed by the instrument, through one
 * idempotent producer. The pipeline never waits on Kafka: a record that does not fit in
 * librdkafka's local queue is dropped and counted (obi_kafka_errors_total); the queue is flushed
 * at shutdown. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dataset.h"
#include "obi/backtest.h"
#include "obi/feed.h"
#include "obi/kafka.h"
#include "obi/serve.h"
#include "obi/store.h"
#include "pipeline.h"
#include "source.h"

#define MON_WINDOW 500
#define PSI_WINDOW 1000
#define PSI_BINS 10
#define STORE_DEPTH 10 /* book levels a side in each stored snapshot */

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

typedef struct {
  int label, pred;
  double p_true, conf;
} mon_entry;

typedef struct {
  /* pending predictions: ring of the last k + 1 rows (mid, probs) */
  int k;
  double alpha;
  double *mid;
  float (*probs)[3];
  uint8_t *has;
  int64_t rows;
  double sum_next; /* sum of the mids of the last k rows */
  /* the rolling window of labelled predictions */
  mon_entry win[MON_WINDOW];
  int64_t nwin;
  int64_t conf[3][3];
  double logloss_sum;
  int64_t calib_n[10];
  double calib_conf[10], calib_hit[10];
  /* drift */
  int C;
  float (*edges)[PSI_BINS - 1];
  double (*expected)[PSI_BINS];
  uint8_t (*bins)[MODEL_MAX_FEATURES];
  int64_t nbins;
  int64_t (*count)[PSI_BINS];
} monitor;

typedef struct {
  obi_server *srv;
  pthread_mutex_t model_lock;
  obi_model *model;
  model_signal ms;
  sidecar sc;
  char model_path[1024], model_json[2048], symbol[32];
  double price_scale;
  int ready;
  monitor mon;
  double psi_limit, accuracy_limit;
  /* paper trading as the exchange reported it */
  int64_t position;
  double cash;
  size_t fills_seen;
  size_t risk_seen;
  double last_mid;
  int64_t last_ts;
  double event_wall; /* wall time the current event group was taken up */
  /* --store: the rows go to the store's queue; NULL without --store */
  obi_store *store;
  char store_model[STORE_NAME]; /* "kind:version" of the model, the predictions' model column */
  char run_id[STORE_NAME];      /* the fills' run */
  int64_t fills_total;          /* fills stored over every --loop pass: the fills' seq */
  int64_t last_snapshot_s;      /* replay second of the last stored book snapshot */
  uint64_t stored_predictions, stored_fills, stored_snapshots, stored_monitor;
  /* --kafka: NULL without it */
  kafka_producer *kafka;
  char ktopic[3][256];                     /* PREFIX.events, .features, .predictions */
  uint64_t kseq[3], kproduced[3], kfailed; /* per topic: sequence (one instrument), records queued */
  obi_book kmirror;                        /* what the events topic rebuilds (kafka_sync_levels) */
  int kmirror_ok;
  char kmodel_kind[16], kmodel_version[16]; /* the predictions' model, under model_lock */
  uint64_t kfeature_set;                    /* hash of the engine's column names, once */
} app;

enum { KT_EVENTS, KT_FEATURES, KT_PREDICTIONS };

/* Queues one record without waiting; a full local queue or an error counts in obi_kafka_errors_total. */
static void kafka_send(app *a, int t, const void *buf, size_t len) {
  if (kafka_produce_bytes(a->kafka, a->ktopic[t], a->symbol, buf, len) == OBI_OK) {
    a->kproduced[t]++;
    char labels[300];
    snprintf(labels, sizeof labels, "topic=\"%s\"", a->ktopic[t]);
    serve_metric(a->srv, SERVE_COUNTER, "obi_kafka_produced_total", labels, "Records queued to Kafka, by topic", 1);
  } else {
    serve_metric(a->srv, SERVE_COUNTER, "obi_kafka_errors_total", "",
                 "Kafka records dropped (local queue full) or not delivered", 1);
  }
  uint64_t failed = kafka_producer_get_stats(a->kafka)->failed; /* delivery reports seen so far */
  if (failed > a->kfailed) {
    serve_metric(a->srv, SERVE_COUNTER, "obi_kafka_errors_total", "",
                 "Kafka records dropped (local queue full) or not delivered", (double)(failed - a->kfailed));
    a->kfailed = failed;
  }
}

/* An event of the source and the LEVEL_SETs that bring the topic's book to the source's. */
static void kafka_send_event(app *a, const obi_event *ev, const obi_book *truth) {
  uint8_t buf[KAFKA_EVENT_RECORD_SIZE];
  kafka_event_record rec = {.seq = ++a->kseq[KT_EVENTS], .ev = *ev};
  snprintf(rec.symbol, sizeof rec.symbol, "%s", a->symbol);
  if (kafka_event_encode(buf, &rec) == OBI_OK) kafka_send(a, KT_EVENTS, buf, sizeof buf);
  kafka_apply_event(&a->kmirror, ev);
  obi_event fix[512];
  int n;
  obi_err e;
  do {
    e = kafka_sync_levels(&a->kmirror, truth, ev->ts_ns, fix, 512, &n);
    for (int k = 0; k < n; k++) {
      kafka_event_record c = {.seq = ++a->kseq[KT_EVENTS], .flags = KAFKA_FLAG_CORRECTION, .ev = fix[k]};
      snprintf(c.symbol, sizeof c.symbol, "%s", a->symbol);
      if (kafka_event_encode(buf, &c) == OBI_OK) kafka_send(a, KT_EVENTS, buf, sizeof buf);
    }
  } while (e == OBI_ERANGE && n > 0);
}

static double wall(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The members "model": "logistic", "version": "<sha256 prefix of the file>", "model_path": ... to
 * splice into the JSON objects that carry a prediction. */
static void describe_model(app *a, const char *path) {
  char sha[65] = "";
  cli_sha256_file(path, sha);
  json_t *o = json_pack("{s:s, s:s, s:s}", "model", model_kind_name(model_get_config(a->model)->kind), "version",
                        sha[0] ? (sha[12] = 0, sha) : "unknown", "model_path", path);
  char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  size_t n = t ? strlen(t) : 0;
  snprintf(a->model_json, sizeof a->model_json, "%.*s", n >= 2 ? (int)n - 2 : 0, t ? t + 1 : "");
  free(t);
  json_decref(o);
  char labels[200];
  snprintf(labels, sizeof labels, "model=\"%s\",version=\"%s\"", model_kind_name(model_get_config(a->model)->kind),
           sha);
  serve_metric(a->srv, SERVE_GAUGE, "obi_model_info", labels, "The loaded model (value 1)", 1);
  snprintf(a->kmodel_kind, sizeof a->kmodel_kind, "%.15s", model_kind_name(model_get_config(a->model)->kind));
  snprintf(a->kmodel_version, sizeof a->kmodel_version, "%.15s", sha[0] ? sha : "unknown");
  if (a->store) { /* the registry entry, and the name the predictions carry */
    char full[65] = "";
    cli_sha256_file(path, full);
    snprintf(a->store_model, sizeof a->store_model, "%s:%.12s", model_kind_name(model_get_config(a->model)->kind),
             full[0] ? full : "unknown");
    if (full[0]) {
      static store_model_entry e; /* 2 kB: not on the stack of a request thread */
      memset(&e, 0, sizeof e);
      snprintf(e.file_hash, sizeof e.file_hash, "%s", full);
      snprintf(e.name, sizeof e.name, "%s", model_kind_name(model_get_config(a->model)->kind));
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      e.created_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
      snprintf(e.config, sizeof e.config, "{%.*s}", (int)sizeof e.config - 3, a->model_json);
      snprintf(e.metrics, sizeof e.metrics, "{}");
      store_put_model(a->store, &e);
    }
  }
}

/* ---- hooks for the server ---- */

static int hook_ready(void *ctx, char *why, size_t why_len) {
  app *a = ctx;
  if (!a->ready) {
    snprintf(why, why_len, "the book is not synchronised yet (no two-sided book)");
    return -1;
  }
  return 0;
}

static int hook_predict(void *ctx, const char *const *names, int C, const float *rows, int T, float probs[3],
                        char *model, size_t model_len, char *why, size_t why_len) {
  app *a = ctx;
  pthread_mutex_lock(&a->model_lock);
  obi_model *m = a->model;
  int rc = 0, W = model_get_config(m)->window;
  if (C != model_features(m)) {
    snprintf(why, why_len, "the model reads %d features, the request has %d", model_features(m), C);
    rc = -1;
  }
  for (int c = 0; !rc && c < C; c++)
    if (strcmp(names[c], model_feature_name(m, c))) {
      snprintf(why, why_len, "feature %d is '%s', the model expects '%s'", c, names[c], model_feature_name(m, c));
      rc = -1;
    }
  if (!rc && T < W) {
    snprintf(why, why_len, "the model needs a window of %d rows, the request has %d", W, T);
    rc = -1;
  }
  for (int i = 0; !rc && i < T * C; i++)
    if (!isfinite(rows[i])) {
      snprintf(why, why_len, "rows[%d][%d] is not a finite number", i / C, i % C);
      rc = -1;
    }
  if (!rc) {
    int64_t end = T - 1;
    model_predict(m, rows, &end, 1, probs);
    snprintf(model, model_len, "%s", a->model_json);
  }
  pthread_mutex_unlock(&a->model_lock);
  return rc;
}

static int hook_reload(void *ctx, const char *path, char *why, size_t why_len) {
  app *a = ctx;
  obi_model *m;
  char w[1024];
  if (model_load(&m, path, w, sizeof w)) {
    snprintf(why, why_len, "%s: %s", path, w);
    return -1;
  }
  int cols[MODEL_MAX_FEATURES];
  if (ms_map_columns(a->ms.e, m, cols, why, why_len)) {
    model_free(m);
    return -1;
  }
  pthread_mutex_lock(&a->model_lock);
  obi_model *old = a->model;
  a->model = a->ms.m = m;
  memcpy(a->ms.cols, cols, sizeof cols);
  a->ms.C = model_features(m);
  snprintf(a->model_path, sizeof a->model_path, "%s", path);
  describe_model(a, path);
  pthread_mutex_unlock(&a->model_lock);
  model_free(old);
  serve_metric(a->srv, SERVE_COUNTER, "obi_model_reloads_total", "", "Models hot-reloaded", 1);
  return 0;
}

/* ---- monitoring ---- */

static int cmpf(const void *x, const void *y) {
  float a = *(const float *)x, b = *(const float *)y;
  return (a > b) - (a < b);
}

static int monitor_init(monitor *mo, const sidecar *sc, const dataset *d, const obi_model *m) {
  memset(mo, 0, sizeof *mo);
  mo->k = (int)sc->hold_rows; /* row horizons only: a time horizon leaves accuracy unmonitored */
  mo->alpha = sc->alpha_a;
  if (mo->k > 0) {
    mo->mid = calloc((size_t)mo->k + 1, sizeof *mo->mid);
    mo->probs = calloc((size_t)mo->k + 1, sizeof *mo->probs);
    mo->has = calloc((size_t)mo->k + 1, 1);
    if (!mo->mid || !mo->probs || !mo->has) return -1;
  }
  /* training deciles of each model feature */
  mo->C = model_features(m);
  mo->edges = calloc((size_t)mo->C, sizeof *mo->edges);
  mo->expected = calloc((size_t)mo->C, sizeof *mo->expected);
  mo->bins = calloc(PSI_WINDOW, sizeof *mo->bins);
  mo->count = calloc((size_t)mo->C, sizeof *mo->count);
  int64_t n = d->train_end;
  float *col = malloc((size_t)(n > 0 ? n : 1) * sizeof *col);
  if (!mo->edges || !mo->expected || !mo->bins || !mo->count || !col) {
    free(col);
    return -1;
  }
  for (int c = 0; c < mo->C; c++) {
    int dc = -1;
    for (int k = 0; k < d->C; k++)
      if (!strcmp(d->names[k], model_feature_name(m, c))) dc = k;
    int64_t got = 0;
    for (int64_t r = 0; dc >= 0 && r < n; r++)
      if (isfinite(d->X[r * d->C + dc])) col[got++] = d->X[r * d->C + dc];
    if (got > 0) { /* decile edges of the sorted training values */
      qsort(col, (size_t)got, sizeof *col, cmpf);
      for (int b = 0; b < PSI_BINS - 1; b++) mo->edges[c][b] = col[(got * (b + 1)) / PSI_BINS];
      for (int64_t r = 0; r < got; r++) {
        int bin = 0;
        while (bin < PSI_BINS - 1 && col[r] >= mo->edges[c][bin]) bin++;
        mo->expected[c][bin] += 1.0 / (double)got;
      }
    } else {
      mo->expected[c][0] = 1;
    }
  }
  free(col);
  return 0;
}

static void monitor_free(monitor *mo) {
  free(mo->mid), free(mo->probs), free(mo->has), free(mo->edges), free(mo->expected), free(mo->bins);
  free(mo->count);
}

static double psi_of(const monitor *mo, int c, int *n_out) {
  int64_t n = mo->nbins < PSI_WINDOW ? mo->nbins : PSI_WINDOW;
  *n_out = (int)n;
  if (n == 0) return 0;
  double psi = 0;
  for (int b = 0; b < PSI_BINS; b++) {
    double act = fmax((double)mo->count[c][b] / (double)n, 1e-4), exp_ = fmax(mo->expected[c][b], 1e-4);
    psi += (act - exp_) * log(act / exp_);
  }
  return psi;
}

/* One row: its features into the drift bins, its prediction into the pending ring, and the label
 * of the row k back (now complete) into the rolling windows. */
static void monitor_row(app *a, const float *x, double mid, const float *p) {
  monitor *mo = &a->mon;
  size_t slot = (size_t)(mo->nbins % PSI_WINDOW);
  for (int c = 0; c < mo->C; c++) {
    if (mo->nbins >= PSI_WINDOW) mo->count[c][mo->bins[slot][c]]--;
    int bin = 0;
    while (bin < PSI_BINS - 1 && x[c] >= mo->edges[c][bin]) bin++;
    mo->bins[slot][c] = (uint8_t)bin;
    mo->count[c][bin]++;
  }
  mo->nbins++;
  if (mo->k <= 0) return;
  int K = mo->k + 1;
  size_t cur = (size_t)(mo->rows % K);
  if (mo->rows >= mo->k) mo->sum_next -= mo->mid[(mo->rows - mo->k) % K]; /* leaves the last-k window */
  mo->mid[cur] = mid;
  mo->has[cur] = p != NULL;
  if (p) memcpy(mo->probs[cur], p, sizeof mo->probs[cur]);
  if (mo->rows >= 1) mo->sum_next += mid; /* rows (t - k, t] are the horizon of row t - k */
  mo->rows++;
  if (mo->rows <= mo->k) return;
  size_t old = (size_t)((mo->rows - 1 - mo->k) % K);
  if (!mo->has[old]) return;
  double m0 = mo->mid[old], l = (mo->sum_next / mo->k - m0) / m0;
  int label = l > mo->alpha ? 2 : l < -mo->alpha ? 0 : 1;
  const float *q = mo->probs[old];
  int pred = q[2] > q[1] && q[2] > q[0] ? 2 : q[0] > q[1] ? 0 : 1;
  mon_entry e = {label, pred, fmax(q[label], 1e-12), q[pred]};
  mon_entry *w = &mo->win[mo->nwin % MON_WINDOW];
  if (mo->nwin >= MON_WINDOW) { /* the oldest leaves */
    mo->conf[w->label][w->pred]--;
    mo->logloss_sum += log(w->p_true);
    int cb = (int)fmin(9, w->conf * 10);
    mo->calib_n[cb]--, mo->calib_conf[cb] -= w->conf, mo->calib_hit[cb] -= w->label == w->pred;
  }
  *w = e;
  mo->nwin++;
  mo->conf[label][pred]++;
  mo->logloss_sum -= log(e.p_true);
  int cb = (int)fmin(9, e.conf * 10);
  mo->calib_n[cb]++, mo->calib_conf[cb] += e.conf, mo->calib_hit[cb] += label == pred;
}

static void monitor_publish(app *a, int64_t ts) {
  monitor *mo = &a->mon;
  int64_t n = mo->nwin < MON_WINDOW ? mo->nwin : MON_WINDOW;
  double acc = NAN, f1 = NAN, ll = NAN, ece = NAN;
  if (n > 0) {
    int64_t hit = mo->conf[0][0] + mo->conf[1][1] + mo->conf[2][2];
    acc = (double)hit / (double)n;
    f1 = 0;
    for (int c = 0; c < 3; c++) {
      int64_t tp = mo->conf[c][c], fp = 0, fn = 0;
      for (int k = 0; k < 3; k++)
        if (k != c) fp += mo->conf[k][c], fn += mo->conf[c][k];
      f1 += tp ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) / 3 : 0;
    }
    ll = mo->logloss_sum / (double)n;
    ece = 0;
    for (int b = 0; b < 10; b++)
      if (mo->calib_n[b] > 0) ece += fabs(mo->calib_hit[b] - mo->calib_conf[b]) / (double)n;
  }
  double psi_max = 0;
  int at = -1, m;
  for (int c = 0; c < mo->C; c++) {
    double p = psi_of(mo, c, &m);
    if (p > psi_max || at < 0) psi_max = p, at = c;
  }
  int alert = (psi_max > a->psi_limit && mo->nbins >= PSI_WINDOW) ||
              (a->accuracy_limit > 0 && n >= MON_WINDOW / 2 && acc < a->accuracy_limit);
  pthread_mutex_lock(&a->model_lock);
  const char *fname = at >= 0 ? model_feature_name(a->model, at) : "";
  const char *kind = model_kind_name(model_get_config(a->model)->kind);
  json_t *o =
      json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:f, s:s, s:b}", "symbol", a->symbol, "ts_ns", (json_int_t)ts, "n",
                (json_int_t)n, "accuracy", isfinite(acc) ? json_real(acc) : json_null(), "macro_f1",
                isfinite(f1) ? json_real(f1) : json_null(), "log_loss", isfinite(ll) ? json_real(ll) : json_null(),
                "calibration_error", isfinite(ece) ? json_real(ece) : json_null(), "psi_max", psi_max, "psi_feature",
                fname, "alert", alert);
  char labels[160];
  snprintf(labels, sizeof labels, "model=\"%s\"", kind);
  if (a->store) { /* key: symbol, ts, model, version: a --loop pass stores each state once */
    store_monitor sm = {.ts_ns = ts, .n = n, .accuracy = acc, .macro_f1 = f1, .log_loss = ll};
    sm.calibration_error = ece, sm.psi_max = psi_max, sm.alert = alert;
    snprintf(sm.symbol, sizeof sm.symbol, "%s", a->symbol);
    const char *colon = strchr(a->store_model, ':'); /* "kind:version" */
    snprintf(sm.model, sizeof sm.model, "%.*s", colon ? (int)(colon - a->store_model) : (int)strlen(a->store_model),
             a->store_model);
    snprintf(sm.version, sizeof sm.version, "%s", colon ? colon + 1 : "");
    snprintf(sm.psi_feature, sizeof sm.psi_feature, "%s", fname ? fname : "");
    if (store_put_monitor(a->store, &sm) == OBI_OK) a->stored_monitor++;
  }
  pthread_mutex_unlock(&a->model_lock);
  char *t = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
  json_decref(o);
  if (t) serve_publish(a->srv, "monitor", a->symbol, t, 1);
  free(t);
  if (isfinite(acc)) {
    serve_metric(a->srv, SERVE_GAUGE, "obi_model_accuracy", labels, "Rolling accuracy of matured predictions", acc);
    serve_metric(a->srv, SERVE_GAUGE, "obi_model_macro_f1", labels, "Rolling macro-F1 of matured predictions", f1);
    serve_metric(a->srv, SERVE_GAUGE, "obi_model_log_loss", labels, "Rolling log-loss of matured predictions", ll);
  }
  serve_metric(a->srv, SERVE_GAUGE, "obi_feature_psi_max", labels, "Largest population stability index", psi_max);
  serve_metric(a->srv, SERVE_GAUGE, "obi_model_alert", labels, "1 when drift or accuracy crossed its limit", alert);
}

/* ---- the pipeline ---- */

static void live_update(void *ctx, const obi_event *ev, const obi_book *book) {
  app *a = ctx;
  ms_update(&a->ms, ev, book); /* the engine belongs to the pipeline thread */
}

static int live_predict(void *ctx, const obi_event *ev, const obi_book *book, int64_t row, float probs[3]) {
  app *a = ctx;
  pthread_mutex_lock(&a->model_lock);
  (void)row;
  float x[MODEL_MAX_FEATURES];
  double full[FEAT_MAX_COLS];
  int ready = ms_row(&a->ms, book, full, x); /* one engine row serves the model, Kafka and monitoring */
  int got = ready && model_step(a->ms.m, x, probs);
  if (a->kafka && ready) {          /* the sampled row, every engine column */
    static kafka_feature_record fr; /* 4 kB: the pipeline thread only */
    static uint8_t fb[KAFKA_FEATURES_HEADER_SIZE + 4 * KAFKA_FEATURES_MAX];
    int nc = feat_count(a->ms.e) < KAFKA_FEATURES_MAX ? feat_count(a->ms.e) : KAFKA_FEATURES_MAX;
    const char *names[KAFKA_FEATURES_MAX];
    for (int c = 0; c < nc; c++) names[c] = feat_name(a->ms.e, c), fr.values[c] = (float)full[c];
    fr.seq = ++a->kseq[KT_FEATURES], fr.ts_ns = ev->ts_ns, fr.count = (uint16_t)nc;
    if (!a->kfeature_set) a->kfeature_set = kafka_feature_set_hash(names, nc); /* the columns never change */
    fr.feature_set = a->kfeature_set;
    snprintf(fr.symbol, sizeof fr.symbol, "%s", a->symbol);
    size_t len = kafka_features_encode(fb, sizeof fb, &fr);
    if (len) kafka_send(a, KT_FEATURES, fb, len);
  }
  kafka_prediction_record pr = {0};
  if (a->kafka && got) {
    snprintf(pr.model_kind, sizeof pr.model_kind, "%s", a->kmodel_kind);
    snprintf(pr.model_version, sizeof pr.model_version, "%s", a->kmodel_version);
  }
  pthread_mutex_unlock(&a->model_lock);
  if (a->kafka && got) {
    uint8_t pb[KAFKA_PREDICTION_RECORD_SIZE];
    pr.seq = ++a->kseq[KT_PREDICTIONS], pr.ts_ns = ev->ts_ns;
    memcpy(pr.p, probs, sizeof pr.p);
    snprintf(pr.symbol, sizeof pr.symbol, "%s", a->symbol);
    if (kafka_prediction_encode(pb, &pr) == OBI_OK) kafka_send(a, KT_PREDICTIONS, pb, sizeof pb);
  }
  int64_t bid, ask;
  if (!ready || !book_best(book, OBI_BID, &bid, NULL) || !book_best(book, OBI_ASK, &ask, NULL)) return got;
  double mid = (double)(bid + ask) * 0.5 / a->price_scale;
  monitor_row(a, x, mid, got ? probs : NULL);
  if (got) {
    double lat = wall() - a->event_wall;
    serve_observe(a->srv, "obi_prediction_latency_seconds", "", "From the event to its prediction", lat);
    char t[3000];
    snprintf(t, sizeof t,
             "{\"symbol\":\"%s\",\"ts_ns\":%lld,\"p\":[%.6g,%.6g,%.6g],%s,\"horizon_rows\":%lld,"
             "\"latency_us\":%.3f}",
             a->symbol, (long long)ev->ts_ns, probs[0], probs[1], probs[2], a->model_json, (long long)a->sc.hold_rows,
             lat * 1e6);
    serve_publish(a->srv, "prediction", a->symbol, t, 1);
    serve_metric(a->srv, SERVE_COUNTER, "obi_predictions_total", "", "Streaming predictions", 1);
    if (a->store) {
      /* key: instrument, ts, model, horizon and the row of the pass: a function of the data, so a
       * --loop pass over the same replay stores each prediction once */
      store_prediction sp = {.ts_ns = ev->ts_ns, .seq = (int32_t)row, .horizon = (int32_t)a->sc.hold_rows};
      snprintf(sp.instrument, sizeof sp.instrument, "%s", a->symbol);
      pthread_mutex_lock(&a->model_lock); /* a reload rewrites store_model */
      snprintf(sp.model, sizeof sp.model, "%s", a->store_model);
      pthread_mutex_unlock(&a->model_lock);
      sp.p_down = probs[0], sp.p_flat = probs[1], sp.p_up = probs[2];
      if (store_put_prediction(a->store, &sp) == OBI_OK) a->stored_predictions++;
    }
  }
  if (a->mon.nbins % 100 == 0) monitor_publish(a, ev->ts_ns);
  return got;
}

static void live_decision(void *ctx, const bt_decision *d) {
  static const char *const names[] = {"none", "enter_long", "enter_short", "exit", "hold", "blocked"};
  if (d->action == BT_NONE || d->action == BT_HOLD) return;
  app *a = ctx;
  char t[300];
  snprintf(t, sizeof t, "{\"symbol\":\"%s\",\"ts_ns\":%lld,\"action\":\"%s\",\"qty\":%lld}", a->symbol,
           (long long)d->act_ns, names[d->action], (long long)d->qty);
  serve_publish(a->srv, "signal", a->symbol, t, 1);
}

static void publish_book(app *a, const obi_book *b, int64_t ts) {
  char t[8192];
  int64_t p[2][20], q[2][20];
  int n[2];
  for (int s = 0; s < 2; s++) n[s] = (int)book_top(b, s, p[s], q[s], 20);
  size_t len = (size_t)snprintf(t, sizeof t, "{\"symbol\":\"%s\",\"ts_ns\":%lld", a->symbol, (long long)ts);
  static const char *const side[2] = {"bids", "asks"};
  for (int s = 0; s < 2; s++) {
    len += (size_t)snprintf(t + len, sizeof t - len, ",\"%s\":[", side[s]);
    for (int k = 0; k < n[s]; k++)
      len += (size_t)snprintf(t + len, sizeof t - len, "%s[%.10g,%lld]", k ? "," : "", (double)p[s][k] / a->price_scale,
                              (long long)q[s][k]);
    len += (size_t)snprintf(t + len, sizeof t - len, "]");
  }
  double mid = n[0] && n[1] ? (double)(p[0][0] + p[1][0]) * 0.5 / a->price_scale : NAN;
  double full[FEAT_MAX_COLS];
  int ready = feat_ready(a->ms.e), mc = feat_find(a->ms.e, "microprice_stoikov");
  if (ready) feat_compute(a->ms.e, b, full);
  double micro = ready && mc >= 0 ? full[mc] : mid; /* Stoikov's, with the training file's table */
  if (isfinite(mid))
    len += (size_t)snprintf(t + len, sizeof t - len, ",\"mid\":%.10g,\"microprice\":%.10g", mid, micro);
  snprintf(t + len, sizeof t - len, "}");
  serve_publish(a->srv, "book_full", a->symbol, t, 0);
  serve_publish(a->srv, "book", a->symbol, t, 1);
  /* features: every column for GET, a few for the stream */
  if (!ready) return;
  json_t *all = json_object(), *few = json_object();
  static const char *const shown[] = {
      "imb_l1", "ofi_l1_1s", "ofi_l1_100ev", "spread_bps", "microprice_minus_mid_bps", "rv_10s", "trade_imbalance_1s"};
  for (int c = 0; c < feat_count(a->ms.e); c++) {
    double v = full[c];
    json_object_set_new(all, feat_name(a->ms.e, c), isfinite(v) ? json_real(v) : json_null());
    for (size_t k = 0; k < sizeof shown / sizeof *shown; k++)
      if (!strcmp(shown[k], feat_name(a->ms.e, c)))
        json_object_set_new(few, shown[k], isfinite(v) ? json_real(v) : json_null());
  }
  json_t *o = json_pack("{s:s, s:I, s:o}", "symbol", a->symbol, "ts_ns", (json_int_t)ts, "values", all);
  char *s1 = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(8));
  if (s1) serve_publish(a->srv, "features_full", a->symbol, s1, 0);
  free(s1);
  json_decref(o);
  o = json_pack("{s:s, s:I, s:o}", "symbol", a->symbol, "ts_ns", (json_int_t)ts, "values", few);
  s1 = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(8));
  if (s1) serve_publish(a->srv, "features", a->symbol, s1, 1);
  free(s1);
  json_decref(o);
  a->last_mid = mid;
}

/* New fills and risk interventions since the last call, as position and risk events. */
static void publish_trading(app *a, obi_backtest *bt, int64_t ts) {
  size_t nf;
  const sim_fill *f = bt_fills(bt, &nf);
  int changed = 0;
  for (; a->fills_seen < nf; a->fills_seen++, changed = 1) {
    const sim_fill *x = &f[a->fills_seen];
    int64_t q = x->side == OBI_BID ? x->qty : -x->qty;
    a->position += q;
    a->cash -= (double)q * (double)x->price / a->price_scale + x->fee + x->extra_cost;
    serve_metric(a->srv, SERVE_COUNTER, "obi_paper_fills_total", "", "Paper-trading fills", 1);
    if (a->store) {
      store_fill sf = {.ts_ns = x->exch_ns,
                       .seq = (int32_t)a->fills_total++,
                       .side = x->side == OBI_BID ? 1 : -1,
                       .price = x->price,
                       .size = x->qty,
                       .fee = x->fee + x->extra_cost};
      snprintf(sf.run_id, sizeof sf.run_id, "%s", a->run_id);
      snprintf(sf.instrument, sizeof sf.instrument, "%s", a->symbol);
      snprintf(sf.order_id, sizeof sf.order_id, "%llu", (unsigned long long)x->order_id);
      if (store_put_fill(a->store, &sf) == OBI_OK) a->stored_fills++;
    }
  }
  if (changed || (ts / 1000000000LL) != (a->last_ts / 1000000000LL)) {
    double pnl = a->cash + (isfinite(a->last_mid) ? (double)a->position * a->last_mid : 0);
    char t[300];
    snprintf(t, sizeof t,
             "{\"symbol\":\"%s\",\"ts_ns\":%lld,\"position\":%lld,\"cash\":%.6f,\"pnl\":%.6f,\"fills\":%zu}", a->symbol,
             (long long)ts, (long long)a->position, a->cash, pnl, nf);
    serve_publish(a->srv, "position", a->symbol, t, 1);
    serve_metric(a->srv, SERVE_GAUGE, "obi_paper_pnl", "", "Paper-trading PnL (currency)", pnl);
    serve_metric(a->srv, SERVE_GAUGE, "obi_paper_position", "", "Paper-trading position", (double)a->position);
  }
  const obi_risk *r = bt_risk(bt);
  size_t nr = risk_log_count(r);
  risk_state st = risk_state_of(r, 0);
  for (; a->risk_seen < nr; a->risk_seen++) {
    const risk_event *e = risk_log_at(r, a->risk_seen);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s}", "ts_ns", (json_int_t)e->ts_ns, "state", risk_state_name(st), "kind",
                          risk_kind_name(e->kind), "reason", e->reason);
    char *t = json_dumps(o, JSON_COMPACT);
    if (t) serve_publish(a->srv, "risk", a->symbol, t, 1);
    free(t);
    json_decref(o);
    char labels[80];
    snprintf(labels, sizeof labels, "kind=\"%s\"", risk_kind_name(e->kind));
    serve_metric(a->srv, SERVE_COUNTER, "obi_risk_interventions_total", labels, "Risk interventions by kind", 1);
  }
  for (int s = 0; s <= RISK_STATE_KILLED; s++) {
    char labels[64];
    snprintf(labels, sizeof labels, "state=\"%s\"", risk_state_name((risk_state)s));
    serve_metric(a->srv, SERVE_GAUGE, "obi_risk_state", labels, "1 for the current risk state", s == (int)st);
  }
  a->last_ts = ts;
}

/* The book's top levels on the store's sampling clock: the first event group of each second of
 * replay time. Also the moment to show the store's backlog in /metrics. */
static void store_snapshot(app *a, const obi_book *b, int64_t ts) {
  a->last_snapshot_s = ts / 1000000000LL;
  store_book_snapshot s = {.ts_ns = ts, .depth = STORE_DEPTH};
  snprintf(s.instrument, sizeof s.instrument, "%s", a->symbol);
  int n[2];
  n[0] = (int)book_top(b, OBI_BID, s.bid_px, s.bid_sz, STORE_DEPTH);
  n[1] = (int)book_top(b, OBI_ASK, s.ask_px, s.ask_sz, STORE_DEPTH);
  s.depth = n[0] > n[1] ? n[0] : n[1]; /* the shorter side is padded with zeros */
  if (store_put_book_snapshot(a->store, &s) == OBI_OK) a->stored_snapshots++;
  store_stats st;
  store_get_stats(a->store, &st);
  serve_metric(a->srv, SERVE_GAUGE, "obi_store_pending_rows", "", "Rows queued or spooled, not yet in the store",
               (double)st.pending);
  serve_metric(a->srv, SERVE_GAUGE, "obi_store_spooled_rows", "", "Rows appended to the spool file so far",
               (double)st.spooled);
}

typedef struct {
  const char *model, *features, *msg, *book, *strategy, *risk, *latency, *queue, *bind, *web, *token_file, *state;
  const char *store, *run_id, *kafka, *kafka_prefix, *symbol;
  int live_venue; /* a live feed instead of files: feed_venue, or -1 */
  int venue;      /* of a recording whose URL does not tell, or -1 */
  const char *live_symbol, *endpoint, *rest_endpoint;
  double speed, fees[2], psi_limit, accuracy_limit, duration;
  long port, threads;
  int loop, quiet;
} serve_args;

/* One pass over the source; returns 0 at its end, 1 when asked to stop, or an exit code < 0. */
static int run_once(app *a, const serve_args *sa, bt_config *base, double t_start) {
  char why[4600];
  bt_config cfg = *base;
  if (sa->latency && parse_latencies(&cfg.sim, sa->latency, why, sizeof why)) {
    fprintf(stderr, "obi: %s\n", why);
    return -1;
  }
  obi_backtest *bt;
  obi_source *r;
  obi_err oe = sa->live_venue >= 0 ? source_open_live(&r, sa->live_venue, sa->live_symbol, sa->endpoint,
                                                      sa->rest_endpoint, (int)lround(log10(a->sc.fc.price_scale)),
                                                      (int)lround(log10(a->sc.size_scale)), why, sizeof why)
                                   : source_open(&r, sa->msg, sa->book, sa->symbol, sa->venue, why, sizeof why);
  if (oe) {
    sim_latency_free(&cfg.sim.feed), sim_latency_free(&cfg.sim.entry), sim_latency_free(&cfg.sim.response);
    fprintf(stderr, "obi: %s\n", why);
    return -1;
  }
  int is_live = source_get_info(r)->live, last_was_end = 0;
  int64_t last_end_ts = INT64_MIN;
  uint64_t resyncs_seen = 0;
  cfg.sim.tracked_levels = source_get_info(r)->tracked_levels;
  if (bt_new(&bt, &cfg, (bt_signal){live_update, live_predict, a})) {
    source_close(r);
    return -1;
  }
  a->fills_seen = 0, a->risk_seen = 0, a->position = 0, a->cash = 0;
  obi_event ev;
  obi_err err;
  double t0 = wall(), last_book = 0;
  int64_t first_ts = INT64_MIN;
  char labels[80];
  snprintf(labels, sizeof labels, "instrument=\"%s\"", a->symbol);
  int rc = 0;
  int end;
  int64_t next;
  for (;;) {
    err = source_next(r, &ev, &end, &next);
    if (stop_requested || (sa->duration > 0 && wall() - t_start >= sa->duration)) {
      rc = 1;
      break;
    }
    if (err == OBI_EAGAIN) continue; /* live: nothing arrived yet */
    if (err) break;
    if (first_ts == INT64_MIN) first_ts = ev.ts_ns;
    if (a->kafka) kafka_send_event(a, &ev, source_book(r));
    if (sa->speed > 0 && !is_live) { /* the event's time on the replay clock */
      double due = t0 + (double)(ev.ts_ns - first_ts) * 1e-9 / sa->speed, now = wall();
      if (due > now + 0.0005) {
        double d = due - now > 0.2 ? 0.2 : due - now; /* short sleeps: a stop request is noticed */
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
        if (due - wall() > 0.0005) { /* still early (woken to check): wait again */
          while (!stop_requested && due - wall() > 0.0005) {
            double dd = due - wall() > 0.2 ? 0.2 : due - wall();
            struct timespec t2 = {(time_t)dd, (long)((dd - (double)(time_t)dd) * 1e9)};
            nanosleep(&t2, NULL);
          }
        }
      } else {
        serve_metric(a->srv, SERVE_GAUGE, "obi_feed_lag_seconds", labels, "How far the pipeline is behind the feed",
                     now - due);
      }
    }
    a->event_wall = wall();
    last_was_end = end;
    if (end) last_end_ts = ev.ts_ns;
    if (bt_on_event(bt, &ev, source_book(r), end, next)) {
      rc = -1;
      break;
    }
    serve_metric(a->srv, SERVE_COUNTER, "obi_events_total", labels, "Events processed", 1);
    if (end) {
      const obi_book *b = source_book(r);
      if (!a->ready && book_depth(b, OBI_BID) && book_depth(b, OBI_ASK)) a->ready = 1;
      double now = wall();
      if (now - last_book >= 0.05 || sa->speed == 0) { /* at most 20 book updates a second on the stream */
        if (sa->speed > 0 || now - last_book >= 0.05) {
          pthread_mutex_lock(&a->model_lock);
          publish_book(a, b, ev.ts_ns);
          pthread_mutex_unlock(&a->model_lock);
          last_book = now;
        }
      }
      publish_trading(a, bt, ev.ts_ns);
      uint64_t rs = source_resyncs(r);
      if (rs > resyncs_seen) {
        serve_metric(a->srv, SERVE_COUNTER, "obi_book_resyncs_total", labels, "Book resynchronisations after feed gaps",
                     (double)(rs - resyncs_seen));
        resyncs_seen = rs;
      }
      if (a->store && ev.ts_ns / 1000000000LL != a->last_snapshot_s) store_snapshot(a, b, ev.ts_ns);
    }
  }
  if (rc == 0 && err != OBI_EEOF) {
    fprintf(stderr, "obi: %s\n", source_error(r));
    rc = -1;
  }
  /* the book as the pass ended, when it ended between updates */
  if (a->store && last_was_end && last_end_ts != INT64_MIN) store_snapshot(a, source_book(r), last_end_ts);
  source_warn_skipped(r);
  source_close(r);
  bt_free(bt);
  return rc;
}

static int run_serve(serve_args *sa) {
  char why[4600];
  app *a = calloc(1, sizeof *a);
  if (!a) return cli_input_error("out of memory");
  pthread_mutex_init(&a->model_lock, NULL);
  int rc = EXIT_BAD_INPUT;
  dataset d = {0};
  obi_server *srv = NULL;
  if (read_sidecar(sa->features, &a->sc, why, sizeof why)) {
    rc = cli_input_error("%s", why);
    goto done;
  }
  if (dataset_load(&d, sa->features, NULL, why, sizeof why)) {
    rc = cli_input_error("%s", why);
    goto done;
  }
  if (model_load(&a->model, sa->model, why, sizeof why)) {
    rc = cli_input_error("%s: %s", sa->model, why);
    goto done;
  }
  a->ms.m = a->model;
  a->ms.C = model_features(a->model);
  a->price_scale = a->sc.fc.price_scale;
  a->psi_limit = sa->psi_limit, a->accuracy_limit = sa->accuracy_limit;
  snprintf(a->model_path, sizeof a->model_path, "%s", sa->model);
  if (sa->live_venue >= 0) { /* prices in the units the model was trained in: those of a feed recording */
    if (!a->sc.recording) {
      rc = cli_input_error("%s: a live feed needs a model trained on features of a feed recording (these are from "
                           "LOBSTER data, prices in other units)",
                           sa->features);
      goto done;
    }
    snprintf(a->symbol, sizeof a->symbol, "%s", sa->live_symbol);
    for (char *c = a->symbol; *c; c++)
      if (sa->live_venue <= FEED_BINANCE_FUTURES && *c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
  } else {
    obi_source *src; /* the instrument, and a check that the model's prices are in this source's units */
    if (source_open(&src, sa->msg, sa->book, sa->symbol, sa->venue, why, sizeof why)) {
      rc = cli_input_error("%s", why);
      goto done;
    }
    const source_info *in = source_get_info(src);
    snprintf(a->symbol, sizeof a->symbol, "%s", in->symbol[0] ? in->symbol : "UNKNOWN");
    int mismatch = sidecar_fits_source(&a->sc, in->recording, in->price_scale, sa->msg, sa->features, why, sizeof why);
    if (mismatch) cli_input_error("%s", why);
    source_close(src);
    if (mismatch) goto done;
  }
  if (feat_new(&a->ms.e, &a->sc.fc)) {
    rc = cli_input_error("%s: invalid feature configuration", sa->features);
    goto done;
  }
  if (a->sc.has_mp) feat_set_microprice(a->ms.e, &a->sc.mp);
  if (ms_map_columns(a->ms.e, a->model, a->ms.cols, why, sizeof why)) {
    rc = cli_input_error("%s: %s", sa->model, why);
    goto done;
  }
  if (monitor_init(&a->mon, &a->sc, &d, a->model)) {
    rc = cli_input_error("out of memory");
    goto done;
  }
  bt_config cfg;
  bt_config_default(&cfg);
  if (feat_sampler_parse(&cfg.sampler, a->sc.sampling, a->sc.split_timestamps)) {
    rc = cli_input_error("%s: unknown sampling '%s'", sa->features, a->sc.sampling);
    goto done;
  }
  if (a->sc.hold_ns > 0)
    cfg.strat.hold_ns = a->sc.hold_ns, cfg.strat.hold_rows = 0;
  else if (a->sc.hold_rows > 0)
    cfg.strat.hold_rows = a->sc.hold_rows;
  cfg.risk.capital = 1e6;
  cfg.risk.stale_ns = 0;
  const char *text;
  if (sa->strategy &&
      (!(text = read_small_file(sa->strategy)) || strat_config_from_json(&cfg.strat, text, why, sizeof why))) {
    rc = cli_input_error("%s: %s", sa->strategy, text ? why : strerror(errno));
    goto done;
  }
  if (sa->risk && (!(text = read_small_file(sa->risk)) || risk_config_from_json(&cfg.risk, text, why, sizeof why))) {
    rc = cli_input_error("%s: %s", sa->risk, text ? why : strerror(errno));
    goto done;
  }
  cfg.sim.maker_fee_bps = sa->fees[0], cfg.sim.taker_fee_bps = sa->fees[1];
  cfg.sim.price_scale = a->sc.fc.price_scale;
  cfg.sim.tick = a->sc.fc.tick >= 1 ? (int64_t)a->sc.fc.tick : 1;
  if (sa->queue && sim_queue_parse(&cfg.sim, sa->queue)) {
    rc = cli_input_error("--queue: expected trades, linear or power:N, not '%s'", sa->queue);
    goto done;
  }
  cfg.on_decision = live_decision, cfg.decision_ctx = a;
  /* the admin token: --token-file, else $OBI_ADMIN_TOKEN; none disables the admin routes */
  char token[256] = "";
  if (sa->token_file) {
    const char *t = read_small_file(sa->token_file);
    if (!t) {
      rc = cli_input_error("%s: %s", sa->token_file, strerror(errno));
      goto done;
    }
    snprintf(token, sizeof token, "%s", t);
    token[strcspn(token, "\r\n")] = 0;
  } else if (getenv("OBI_ADMIN_TOKEN")) {
    snprintf(token, sizeof token, "%s", getenv("OBI_ADMIN_TOKEN"));
  }
  serve_config sc;
  serve_config_default(&sc);
  sc.bind = sa->bind, sc.port = (int)sa->port, sc.threads = (int)sa->threads, sc.token = token;
  char web[4200];
  if (sa->web)
    snprintf(web, sizeof web, "%s", sa->web);
  else
    snprintf(web, sizeof web, "%s/../web", cli_data_dir());
  sc.web_dir = web;
  serve_hooks hooks = {hook_predict, hook_reload, hook_ready, a};
  if (serve_start(&srv, &sc, &hooks, why, sizeof why)) {
    rc = cli_input_error("%s", why);
    goto done;
  }
  a->srv = srv;
  if (sa->store) {
    if (store_open(&a->store, sa->store, NULL, why, sizeof why)) {
      rc = cli_input_error("%s", why);
      goto done;
    }
    if (sa->run_id) {
      snprintf(a->run_id, sizeof a->run_id, "%s", sa->run_id);
    } else { /* one paper-trading run per process */
      time_t now = time(NULL);
      struct tm tm;
      gmtime_r(&now, &tm);
      strftime(a->run_id, sizeof a->run_id, "serve-%Y%m%dT%H%M%SZ", &tm);
    }
    a->last_snapshot_s = INT64_MIN;
  }
  if (sa->kafka) {
    static const char *const suffix[3] = {"events", "features", "predictions"};
    for (int t = 0; t < 3; t++) snprintf(a->ktopic[t], sizeof a->ktopic[t], "%s.%s", sa->kafka_prefix, suffix[t]);
    static const char *const conf[] = {"queue.buffering.max.messages", "1000000", NULL};
    kafka_producer_options ko = {.config = conf};
    if (kafka_producer_new(&a->kafka, sa->kafka, a->ktopic[0], &ko, why, sizeof why)) {
      rc = cli_input_error("--kafka: %s", why);
      goto done;
    }
    if (book_init(&a->kmirror, 0)) {
      rc = cli_input_error("out of memory");
      goto done;
    }
    a->kmirror_ok = 1;
  }
  describe_model(a, sa->model);
  const char *syms[1] = {a->symbol};
  serve_set_instruments(srv, syms, 1);
  char first[160]; /* the risk state from the start, so a new page shows it before any intervention */
  snprintf(first, sizeof first, "{\"ts_ns\":0,\"state\":\"ok\",\"kind\":\"\",\"reason\":\"\"}");
  serve_publish(srv, "risk", a->symbol, first, 1);
  char lab[80]; /* a replay never resynchronises; live feeds count their resyncs here */
  snprintf(lab, sizeof lab, "instrument=\"%s\"", a->symbol);
  serve_metric(srv, SERVE_COUNTER, "obi_book_resyncs_total", lab, "Book resynchronisations after feed gaps", 0);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  if (!sa->quiet) {
    printf("obi serve: http://%s:%d/ (model %s, %s at speed %g%s; admin routes %s)\n", sc.bind, serve_port(srv),
           sa->model, a->symbol, sa->speed, sa->loop ? ", looping" : "", token[0] ? "on" : "off");
    fflush(stdout);
  }
  double t_start = wall();
  int once;
  do {
    once = run_once(a, sa, &cfg, t_start);
    if (once == 0 && sa->loop) { /* a fresh book and engine for the next pass */
      pthread_mutex_lock(&a->model_lock);
      feat_free(a->ms.e);
      a->ms.e = NULL;
      if (feat_new(&a->ms.e, &a->sc.fc) == OBI_OK && a->sc.has_mp) feat_set_microprice(a->ms.e, &a->sc.mp);
      model_reset(a->model);
      pthread_mutex_unlock(&a->model_lock);
      if (!a->ms.e) once = -1;
    }
  } while (once == 0 && sa->loop);
  /* at the end of a finite replay keep serving until stopped (or --duration) */
  while (once == 0 && !stop_requested && !(sa->duration > 0 && wall() - t_start >= sa->duration)) {
    struct timespec ts = {0, 50000000L};
    nanosleep(&ts, NULL);
  }
  rc = once < 0 ? EXIT_BAD_INPUT : EXIT_OK;
  /* flush: the final state, then a graceful stop */
  char state[1024] = "";
  serve_latest(srv, "position", a->symbol, state, sizeof state);
  if (sa->state) {
    FILE *f = fopen(sa->state, "w");
    if (!f || fprintf(f, "%s\n", state[0] ? state : "{}") < 0 || fclose(f))
      rc = cli_input_error("%s: cannot write", sa->state);
  }
  if (!sa->quiet) printf("obi serve: stopped; final position %s\n", state[0] ? state : "(none)");
  if (a->store) { /* everything put is written, or kept in the spool for the next open */
    if (store_flush(a->store, 30000) != OBI_OK)
      fprintf(stderr, "obi: %s\n", store_errmsg(a->store));
    else if (!sa->quiet)
      printf("obi serve: stored %llu predictions, %llu fills, %llu book snapshots, %llu monitor states (run %s) in "
             "%s\n",
             (unsigned long long)a->stored_predictions, (unsigned long long)a->stored_fills,
             (unsigned long long)a->stored_snapshots, (unsigned long long)a->stored_monitor, a->run_id,
             store_backend(a->store));
  }
  if (a->kafka) { /* what is queued goes out before the exit (10 s at most) */
    obi_err ke = kafka_producer_flush(a->kafka, 10000);
    const kafka_producer_stats *ks = kafka_producer_get_stats(a->kafka);
    if (!sa->quiet || ke)
      printf("obi serve: kafka: %llu events, %llu feature rows, %llu predictions queued to %s.*; %llu delivered, "
             "%llu dropped (queue full), %llu failed\n",
             (unsigned long long)a->kproduced[0], (unsigned long long)a->kproduced[1],
             (unsigned long long)a->kproduced[2], sa->kafka_prefix, (unsigned long long)ks->delivered,
             (unsigned long long)ks->dropped, (unsigned long long)ks->failed);
    if (ke) fprintf(stderr, "obi: %s\n", kafka_producer_error(a->kafka));
  }
done:
  serve_stop(srv);
  kafka_producer_free(a->kafka);
  if (a->kmirror_ok) book_free(&a->kmirror);
  store_close(a->store);
  monitor_free(&a->mon);
  dataset_free(&d);
  feat_free(a->ms.e);
  model_free(a->model);
  pthread_mutex_destroy(&a->model_lock);
  free(a);
  return rc;
}

static int cmd_serve(int argc, char **argv) {
  serve_args sa = {.kafka_prefix = "obi",
                   .speed = 1,
                   .psi_limit = 0.25,
                   .port = 8080,
                   .threads = 4,
                   .bind = "127.0.0.1",
                   .live_venue = -1,
                   .venue = -1};
  const char *pos[2] = {NULL, NULL};
  int np = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    if (!strcmp(o, "--loop"))
      sa.loop = 1;
    else if (!strcmp(o, "--quiet"))
      sa.quiet = 1;
    else if (!strcmp(o, "--model") && v)
      sa.model = v, i++;
    else if (!strcmp(o, "--features") && v)
      sa.features = v, i++;
    else if (!strcmp(o, "--strategy") && v)
      sa.strategy = v, i++;
    else if (!strcmp(o, "--risk") && v)
      sa.risk = v, i++;
    else if (!strcmp(o, "--latency") && v)
      sa.latency = v, i++;
    else if (!strcmp(o, "--queue") && v)
      sa.queue = v, i++;
    else if (!strcmp(o, "--bind") && v)
      sa.bind = v, i++;
    else if (!strcmp(o, "--web") && v)
      sa.web = v, i++;
    else if (!strcmp(o, "--token-file") && v)
      sa.token_file = v, i++;
    else if (!strcmp(o, "--state") && v)
      sa.state = v, i++;
    else if (!strcmp(o, "--store") && v)
      sa.store = v, i++;
    else if (!strcmp(o, "--run-id") && v)
      sa.run_id = v, i++;
    else if (!strcmp(o, "--kafka") && v)
      sa.kafka = v, i++;
    else if (!strcmp(o, "--kafka-topic-prefix") && v)
      sa.kafka_prefix = v, i++;
    else if (!strcmp(o, "--port") && v) {
      if (cli_parse_int(v, 0, 65535, &sa.port)) return cli_usage_error(&cmd_serve_def, "--port: 0..65535");
      i++;
    } else if (!strcmp(o, "--threads") && v) {
      if (cli_parse_int(v, 1, 256, &sa.threads)) return cli_usage_error(&cmd_serve_def, "--threads: 1..256");
      i++;
    } else if ((!strcmp(o, "--speed") || !strcmp(o, "--duration") || !strcmp(o, "--alert-psi") ||
                !strcmp(o, "--alert-accuracy")) &&
               v) {
      double x = strtod(v, &end);
      if (*end || !(x >= 0) || !isfinite(x)) return cli_usage_error(&cmd_serve_def, "%s: a number >= 0", o);
      *(!strcmp(o, "--speed")       ? &sa.speed
        : !strcmp(o, "--duration")  ? &sa.duration
        : !strcmp(o, "--alert-psi") ? &sa.psi_limit
                                    : &sa.accuracy_limit) = x;
      i++;
    } else if (!strcmp(o, "--fees") && v) {
      if (sscanf(v, "%lf,%lf", &sa.fees[0], &sa.fees[1]) != 2)
        return cli_usage_error(&cmd_serve_def, "--fees: expected MAKER_BPS,TAKER_BPS");
      i++;
    } else if (!strcmp(o, "--symbol") && v) {
      sa.symbol = v, i++;
    } else if (!strcmp(o, "--venue") && v) {
      if ((sa.venue = cli_parse_venue(v)) < 0) return cli_usage_error(&cmd_serve_def, "--venue: " CLI_VENUES);
      i++;
    } else if ((!strcmp(o, "--binance") || !strcmp(o, "--binance-futures") || !strcmp(o, "--coinbase") ||
                !strcmp(o, "--coinbase-advanced")) &&
               v) {
      sa.live_venue = !strcmp(o, "--binance")           ? FEED_BINANCE_SPOT
                      : !strcmp(o, "--binance-futures") ? FEED_BINANCE_FUTURES
                      : !strcmp(o, "--coinbase")        ? FEED_COINBASE_EXCHANGE
                                                        : FEED_COINBASE_ADVANCED;
      sa.live_symbol = v, i++;
    } else if (!strcmp(o, "--endpoint") && v) {
      sa.endpoint = v, i++;
    } else if (!strcmp(o, "--rest-endpoint") && v) {
      sa.rest_endpoint = v, i++;
    } else if (o[0] != '-' && np < 2)
      pos[np++] = o;
    else
      return cli_usage_error(&cmd_serve_def, "unknown option or missing value: '%s'", o);
  }
  if (sa.live_venue >= 0 && (np || sa.loop || sa.symbol))
    return cli_usage_error(&cmd_serve_def, "a live feed takes no files, --loop or --symbol");
  if (sa.live_venue < 0 && (sa.endpoint || sa.rest_endpoint))
    return cli_usage_error(&cmd_serve_def, "--endpoint and --rest-endpoint go with a live feed (--binance S, ...)");
  if (!sa.model || !sa.features || (np == 0 && sa.live_venue < 0))
    return cli_usage_error(&cmd_serve_def, "needs --model MODEL, --features TRAIN.npy and a LOBSTER MESSAGES "
                                           "ORDERBOOK pair, a recording, or a live feed (--binance S, ...)");
  sa.msg = pos[0], sa.book = np == 2 ? pos[1] : NULL;
  return run_serve(&sa);
}

const cli_command cmd_serve_def = {
    "serve", cmd_serve, "run the pipeline live on a replay and serve it over HTTP (API, SSE, metrics, dashboard)",
    "usage: obi serve --model MODEL --features TRAIN.npy SOURCE [--port 8080] [--bind 127.0.0.1]\n"
    "                 [--speed X] [--loop] [--strategy FILE.json] [--risk FILE.json] [--fees M,T]\n"
    "                 [--latency feed=D,entry=D,response=D] [--queue MODEL] [--token-file FILE]\n"
    "                 [--alert-psi 0.25] [--alert-accuracy A] [--web DIR] [--threads N]\n"
    "                 [--duration S] [--state FILE] [--store URL [--run-id ID]]\n"
    "                 [--kafka BROKERS [--kafka-topic-prefix obi]] [--quiet]\n\n"
    "SOURCE: MESSAGES ORDERBOOK (LOBSTER), WS_RECORDING [REST_RECORDING] [--symbol S] [--venue NAME]\n"
    "(one symbol of a feed recording), or a live feed: --binance S | --binance-futures S | --coinbase P |\n"
    "--coinbase-advanced P [--endpoint URL] [--rest-endpoint URL], with a model trained on a recording of\n"
    "that venue (its prices must be in the units the model was trained in).\n\n"
    "Replays the source at --speed (1 real time, 0 as fast as possible; --loop starts again at the\n"
    "end; a live feed runs as it comes) through the book, the features and the model, paper-trades it with the "
    "backtest's strategy,\n"
    "risk manager and simulated exchange, and serves it (docs/api.md): GET /health, /ready,\n"
    "/v1/instruments, /v1/book/{symbol}?depth=N, /v1/features/{symbol}, /v1/predict/{symbol},\n"
    "POST /v1/predict, GET /v1/stream (Server-Sent Events), /metrics (Prometheus), POST /admin/model\n"
    "(bearer token from --token-file or $OBI_ADMIN_TOKEN; without one the admin routes are off), and\n"
    "the dashboard at /. SIGTERM or SIGINT stops it gracefully (--state writes the final position).\n"
    "--store sqlite:FILE or postgresql://... keeps every prediction, paper fill (run --run-id, default\n"
    "serve-<UTC start time>), a book snapshot each second and the model (docs/store.md), flushed at exit.\n"
    "--kafka host:port,... publishes events, feature rows and predictions to PREFIX.events, .features and\n"
    ".predictions keyed by instrument (docs/kafka.md), never blocking the pipeline, flushed at exit.\n"};
