/* cmd_features.c — `obi features`: a source through the book and the feature engine,
 * sampled by a clock, labelled from the future, written as .npy files with a JSON sidecar.
 *
 * Two passes over the source. Pass 1 replays it and records, per sampled row, only what
 * the labels and the micro-price need (time, mid, spread, L1 sizes). Then the training
 * part (the first --train-fraction of the rows, chronologically) fixes everything that is
 * fitted: the micro-price table, alpha, and the normalisation statistics. Pass 2 replays
 * again with the engine and writes the rows that have a complete label horizon. Nothing
 * fitted ever sees a row after the training part. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "obi/features.h"
#include "obi/labels.h"
#include "obi/lobster.h"
#include "obi/npy.h"
#include "source.h"

#define MAX_HORIZONS 16
#define MP_IMB_BUCKETS 10
#define MP_SPREAD_BUCKETS 4
#define CKS_INTERVAL_NS 10000000000LL

typedef struct {
  const char *msg_path, *book_path, *out, *symbol; /* book_path: NULL for a recording without REST responses */
  int tick_given, venue;                           /* venue: of a recording whose URL does not tell, or -1 */
  uint64_t skipped;                                /* lines of a recording the feed rejected (pass 1) */
  char first_skipped[1100];
  feat_sampler sample;
  label_horizon horizons[MAX_HORIZONS];
  int nh;
  label_alpha_mode alpha_mode;
  double alpha, train_fraction;
  int csv, report, report_top, json, quiet;
  feat_config fc;
  int *cols, ncols; /* selected engine columns */
  int raw_book;     /* instead: the raw top levels, 4 columns per level (FI-2010 / DeepLOB order) */
} features_args;

typedef struct { /* pass 1: per sampled row */
  int64_t *ts;
  double *mid, *rel_spread;
  feat_mp_obs *obs;
  size_t n, cap;
} row_series;

static int series_push(row_series *s, int64_t ts, const obi_book *b, double price_scale, double tick) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 65536;
    int64_t *t = realloc(s->ts, cap * sizeof *t);
    if (t) s->ts = t;
    double *m = realloc(s->mid, cap * sizeof *m);
    if (m) s->mid = m;
    double *r = realloc(s->rel_spread, cap * sizeof *r);
    if (r) s->rel_spread = r;
    feat_mp_obs *o = realloc(s->obs, cap * sizeof *o);
    if (o) s->obs = o;
    if (!t || !m || !r || !o) return -1;
    s->cap = cap;
  }
  int64_t bid, ask, bq, aq;
  book_best(b, OBI_BID, &bid, &bq);
  book_best(b, OBI_ASK, &ask, &aq);
  double mid = (double)(bid + ask) * 0.5;
  s->ts[s->n] = ts;
  s->mid[s->n] = mid / price_scale;
  s->rel_spread[s->n] = (double)(ask - bid) / mid;
  s->obs[s->n] = (feat_mp_obs){bq, aq, (int64_t)llround((double)(ask - bid) / tick), mid / tick};
  s->n++;
  return 0;
}

static void series_free(row_series *s) {
  free(s->ts);
  free(s->mid);
  free(s->rel_spread);
  free(s->obs);
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

/* Output file names: FILE.npy -> FILE.npy, FILE.labels.npy, ...; DIR -> DIR/features.npy, ... */
typedef struct {
  char features[4096], labels[4096], returns[4096], ts[4096], json[4096], csv[4096], report[4096];
} out_paths;

static int make_paths(const char *out, out_paths *p) {
  size_t len = strlen(out);
  if (len > 4 && !strcmp(out + len - 4, ".npy")) {
    int base = (int)(len - 4);
    snprintf(p->features, sizeof p->features, "%s", out);
    snprintf(p->labels, sizeof p->labels, "%.*s.labels.npy", base, out);
    snprintf(p->returns, sizeof p->returns, "%.*s.returns.npy", base, out);
    snprintf(p->ts, sizeof p->ts, "%.*s.timestamps.npy", base, out);
    snprintf(p->json, sizeof p->json, "%.*s.json", base, out);
    snprintf(p->csv, sizeof p->csv, "%.*s.csv", base, out);
    snprintf(p->report, sizeof p->report, "%.*s.report.json", base, out);
    return 0;
  }
  if (mkdir(out, 0777) != 0 && errno != EEXIST) return -1;
  snprintf(p->features, sizeof p->features, "%s/features.npy", out);
  snprintf(p->labels, sizeof p->labels, "%s/labels.npy", out);
  snprintf(p->returns, sizeof p->returns, "%s/returns.npy", out);
  snprintf(p->ts, sizeof p->ts, "%s/timestamps.npy", out);
  snprintf(p->json, sizeof p->json, "%s/features.json", out);
  snprintf(p->csv, sizeof p->csv, "%s/features.csv", out);
  snprintf(p->report, sizeof p->report, "%s/report.json", out);
  return 0;
}

/* ---- the report: Spearman information coefficients and the CKS regression ---- */

static int cmp_idx_value;
static const float *rank_values;
static int cmp_by_value(const void *a, const void *b) {
  float x = rank_values[*(const uint32_t *)a], y = rank_values[*(const uint32_t *)b];
  (void)cmp_idx_value;
  return (x > y) - (x < y);
}

/* Average ranks (ties share their mean rank) of v[0..n) with stride. */
static void ranks_of(const float *v, size_t n, size_t stride, double *rank, uint32_t *idx, float *tmp) {
  for (size_t i = 0; i < n; i++) tmp[i] = v[i * stride], idx[i] = (uint32_t)i;
  rank_values = tmp;
  qsort(idx, n, sizeof *idx, cmp_by_value);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && tmp[idx[j + 1]] == tmp[idx[i]]) j++;
    double r = 0.5 * (double)(i + j) + 1;
    for (size_t k = i; k <= j; k++) rank[idx[k]] = r;
    i = j + 1;
  }
}

static double pearson(const double *x, const double *y, size_t n) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; i++) mx += x[i], my += y[i];
  mx /= (double)n, my /= (double)n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; i++) {
    double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy, sxx += dx * dx, syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0.0;
}

typedef struct {
  double *ofi, *dmid; /* per complete interval */
  size_t n, cap;
  int64_t index, ofi_sum;
  double mid_start, mid_last;
  int open;
} cks_state;

static void cks_event(cks_state *c, int64_t ts, int64_t ofi, int has_mid, double mid_ticks) {
  int64_t j = ts / CKS_INTERVAL_NS;
  if (c->open && j != c->index) {
    if (c->n == c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 1024;
      double *a = realloc(c->ofi, cap * sizeof *a);
      if (a) c->ofi = a;
      double *b = realloc(c->dmid, cap * sizeof *b);
      if (b) c->dmid = b;
      if (!a || !b) return;
      c->cap = cap;
    }
    c->ofi[c->n] = (double)c->ofi_sum;
    c->dmid[c->n] = c->mid_last - c->mid_start;
    c->n++;
    c->open = 0;
  }
  if (!has_mid) return;
  if (!c->open) c->open = 1, c->index = j, c->ofi_sum = 0, c->mid_start = c->mid_last = mid_ticks;
  c->ofi_sum += ofi;
  c->mid_last = mid_ticks;
}

/* ---- column names: the engine's, or the raw book's ---- */

static char raw_names[FEAT_MAX_COLS][24];
static const char *raw_desc[4] = {
    "ask price of level k (currency); a missing level repeats the last price, size 0", "ask size of level k (lots)",
    "bid price of level k (currency); a missing level repeats the last price, size 0", "bid size of level k (lots)"};

static const char *col_name(const features_args *a, const feat_engine *e, int c) {
  return a->raw_book ? raw_names[c] : feat_name(e, a->cols[c]);
}
static const char *col_desc(const features_args *a, const feat_engine *e, int c) {
  return a->raw_book ? raw_desc[c % 4] : feat_description(e, a->cols[c]);
}

/* The raw book row: per level k, ask price, ask size, bid price, bid size. */
static void raw_book_row(const obi_book *b, int levels, double price_scale, float *row) {
  int64_t p[2][FEAT_MAX_COLS / 4], q[2][FEAT_MAX_COLS / 4];
  int n[2];
  for (int s = 0; s < 2; s++) n[s] = (int)book_top(b, s, p[s], q[s], (uint32_t)levels);
  for (int k = 0; k < levels; k++)
    for (int s = 0; s < 2; s++) {
      int col = 4 * k + (s == OBI_ASK ? 0 : 2);
      int at = k < n[s] ? k : n[s] - 1; /* n > 0: rows are taken only with both sides present */
      row[col] = (float)((double)p[s][at] / price_scale);
      row[col + 1] = k < n[s] ? (float)q[s][k] : 0.0f;
    }
}

/* ---- the command ---- */

/* Opens the source; a recording sets the price scale, the tick (unless --tick) and signed trades. */
static int replay_open(features_args *a, obi_source **r) {
  char err[1400];
  if (source_open(r, a->msg_path, a->book_path, a->symbol, a->venue, err, sizeof err))
    return cli_input_error("%s", err);
  const source_info *in = source_get_info(*r);
  if (in->recording) {
    a->fc.price_scale = in->price_scale, a->fc.signed_trades = in->signed_trades;
    if (!a->tick_given) a->fc.tick = in->tick;
  }
  return 0;
}

static int run_features(features_args *a) {
  int rc = EXIT_BAD_INPUT;
  obi_source *r = NULL;
  feat_engine *e = NULL;
  row_series rows = {0};
  int8_t *lab = NULL;
  float *ret = NULL, *kept_rows = NULL;
  uint8_t *valid = NULL;
  double *sum = NULL, *sumsq = NULL;
  FILE *csv = NULL, *js = NULL;
  cks_state cks = {0};
  npy_writer wf = {0}, wl = {0}, wr = {0}, wt = {0};
  int writers_open = 0;
  out_paths paths;
  obi_event ev;
  obi_err err;
  cli_progress prog;

  /* pass 1 */
  if (replay_open(a, &r)) return EXIT_BAD_INPUT;
  cli_progress_start(&prog, "features pass 1/2", a->quiet || a->json);
  uint64_t events = 0;
  const char *first_skipped;
  int group_end;
  int64_t next_ts;
  while ((err = source_next(r, &ev, &group_end, &next_ts)) == OBI_OK) {
    if (feat_sampler_take(&a->sample, &ev, source_book(r), group_end) &&
        series_push(&rows, ev.ts_ns, source_book(r), a->fc.price_scale, a->fc.tick)) {
      rc = cli_input_error("out of memory after %zu rows", rows.n);
      goto done;
    }
    if ((++events & 0xffff) == 0) cli_progress_update(&prog, source_progress(r), events);
  }
  cli_progress_done(&prog);
  if (err != OBI_EEOF) {
    rc = cli_input_error("%s", source_error(r));
    goto done;
  }
  a->skipped = source_skipped(r, &first_skipped);
  snprintf(a->first_skipped, sizeof a->first_skipped, "%s", first_skipped);
  if (!a->quiet && !a->json) source_warn_skipped(r);
  source_close(r);
  r = NULL;
  if (rows.n == 0) {
    rc = cli_input_error("%s: no rows: the source is empty or never has both sides of the book", a->msg_path);
    goto done;
  }
  size_t n = rows.n, train = (size_t)floor((double)n * a->train_fraction);

  /* fitted on the training rows only: micro-price, alpha (labels), normalisation (pass 2) */
  feat_microprice mp;
  feat_mp_fit_info mp_info = {0};
  int has_mp = feat_microprice_fit(&mp, MP_IMB_BUCKETS, MP_SPREAD_BUCKETS, rows.obs, train, &mp_info) == OBI_OK;
  int nlab = 2 * a->nh + 1;
  lab = malloc(n * (size_t)nlab);
  ret = malloc(n * (size_t)a->nh * sizeof *ret);
  valid = malloc(n);
  int8_t *la = malloc(n), *lb = malloc(n), *ld = malloc(n);
  float *rh = malloc(n * sizeof *rh);
  label_alpha alphas[MAX_HORIZONS];
  if (!lab || !ret || !valid || !la || !lb || !ld || !rh) {
    free(la), free(lb), free(ld), free(rh);
    rc = cli_input_error("out of memory for %zu rows", n);
    goto done;
  }
  memset(valid, 1, n);
  label_series ls = {rows.mid, rows.ts, rows.rel_spread, n, train};
  for (int h = 0; h < a->nh; h++) {
    label_compute(&ls, &a->horizons[h], a->alpha_mode, a->alpha, la, lb, rh, valid, &alphas[h]);
    for (size_t i = 0; i < n; i++) {
      lab[i * (size_t)nlab + 2 * (size_t)h] = la[i];
      lab[i * (size_t)nlab + 2 * (size_t)h + 1] = lb[i];
      ret[i * (size_t)a->nh + (size_t)h] = rh[i];
    }
  }
  label_next_change(&ls, ld, valid);
  for (size_t i = 0; i < n; i++) lab[i * (size_t)nlab + 2 * (size_t)a->nh] = ld[i];
  free(la), free(lb), free(ld), free(rh);
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) kept += valid[i];
  if (kept == 0) {
    rc = cli_input_error("%s: none of the %zu rows has a complete label horizon (horizons too long for the data?)",
                         a->msg_path, n);
    goto done;
  }

  /* pass 2 */
  if (make_paths(a->out, &paths)) {
    rc = cli_input_error("%s: cannot create the output directory: %s", a->out, strerror(errno));
    goto done;
  }
  if (feat_new(&e, &a->fc)) {
    rc = cli_input_error("invalid feature configuration");
    goto done;
  }
  if (has_mp) feat_set_microprice(e, &mp);
  int nc = a->ncols;
  if (npy_open(&wf, paths.features, "<f4", (size_t)nc) || npy_open(&wl, paths.labels, "|i1", (size_t)nlab) ||
      npy_open(&wr, paths.returns, "<f4", (size_t)a->nh) || npy_open(&wt, paths.ts, "<i8", 0)) {
    rc = cli_input_error("%s: cannot create the output files: %s", paths.features, strerror(errno));
    goto done;
  }
  writers_open = 1;
  if (a->csv) {
    csv = fopen(paths.csv, "w");
    if (!csv) {
      rc = cli_input_error("%s: cannot write: %s", paths.csv, strerror(errno));
      goto done;
    }
    fprintf(csv, "ts_ns");
    for (int c = 0; c < nc; c++) fprintf(csv, ",%s", col_name(a, e, c));
    for (int h = 0; h < a->nh; h++) fprintf(csv, ",label_a_%s,label_b_%s", a->horizons[h].name, a->horizons[h].name);
    fprintf(csv, ",label_next_mid_change");
    for (int h = 0; h < a->nh; h++) fprintf(csv, ",ret_bps_%s", a->horizons[h].name);
    fputc('\n', csv);
  }
  sum = calloc((size_t)nc, sizeof *sum);
  sumsq = calloc((size_t)nc, sizeof *sumsq);
  if (a->report) kept_rows = malloc(kept * (size_t)nc * sizeof *kept_rows);
  double full[FEAT_MAX_COLS];
  float frow[FEAT_MAX_COLS];
  if (!sum || !sumsq || (a->report && !kept_rows)) {
    rc = cli_input_error("out of memory");
    goto done;
  }
  if (replay_open(a, &r)) goto done;
  feat_sampler s2;
  feat_sampler_parse(&s2, a->sample.spec, a->sample.split_timestamps);
  size_t row = 0, out_rows = 0, train_kept = 0;
  events = 0;
  cli_progress_start(&prog, "features pass 2/2", a->quiet || a->json);
  while ((err = source_next(r, &ev, &group_end, &next_ts)) == OBI_OK) {
    const obi_book *b = source_book(r);
    feat_update(e, &ev, b);
    int64_t bid, ask;
    int has_mid = book_best(b, OBI_BID, &bid, NULL) && book_best(b, OBI_ASK, &ask, NULL);
    if (a->report)
      cks_event(&cks, ev.ts_ns, feat_last_ofi(e, 1), has_mid, has_mid ? (double)(bid + ask) * 0.5 / a->fc.tick : 0);
    if ((++events & 0xffff) == 0) cli_progress_update(&prog, source_progress(r), events);
    if (!feat_sampler_take(&s2, &ev, b, group_end)) continue;
    if (row >= n) break; /* cannot happen: the same replay and sampler */
    if (valid[row]) {
      if (a->raw_book) {
        raw_book_row(b, a->fc.levels, a->fc.price_scale, frow);
      } else {
        feat_compute(e, b, full);
        for (int c = 0; c < nc; c++) frow[c] = (float)full[a->cols[c]];
      }
      if (row < train) {
        for (int c = 0; c < nc; c++) sum[c] += frow[c], sumsq[c] += (double)frow[c] * frow[c];
        train_kept++;
      }
      npy_append(&wf, frow, 1);
      npy_append(&wl, lab + row * (size_t)nlab, 1);
      npy_append(&wr, ret + row * (size_t)a->nh, 1);
      npy_append(&wt, &ev.ts_ns, 1);
      if (kept_rows) memcpy(kept_rows + out_rows * (size_t)nc, frow, (size_t)nc * sizeof *frow);
      if (csv) {
        fprintf(csv, "%lld", (long long)ev.ts_ns);
        for (int c = 0; c < nc; c++) fprintf(csv, ",%.9g", frow[c]);
        for (int k = 0; k < nlab; k++) fprintf(csv, ",%d", lab[row * (size_t)nlab + (size_t)k]);
        for (int h = 0; h < a->nh; h++) fprintf(csv, ",%.9g", ret[row * (size_t)a->nh + (size_t)h]);
        fputc('\n', csv);
      }
      out_rows++;
    }
    row++;
  }
  cli_progress_done(&prog);
  if (err != OBI_EEOF && err != OBI_OK) {
    rc = cli_input_error("%s", source_error(r));
    goto done;
  }
  writers_open = 0;
  if (npy_close(&wf) | npy_close(&wl) | npy_close(&wr) | npy_close(&wt) || (csv && fclose(csv))) {
    csv = NULL;
    rc = cli_input_error("%s: error writing the output files", a->out);
    goto done;
  }
  csv = NULL;

  /* the sidecar */
  js = fopen(paths.json, "w");
  if (!js) {
    rc = cli_input_error("%s: cannot write: %s", paths.json, strerror(errno));
    goto done;
  }
  /* the files in the source's order (a recording: the WebSocket file first) */
  const source_info *in = source_get_info(r);
  const char *f1 = source_path(r, 0), *f2 = source_path(r, 1);
  char h1[65] = "", h2[65] = "", content[65] = "", day[64] = "";
  cli_sha256_file(f1, h1);
  if (f2) cli_sha256_file(f2, h2);
  cli_sha256_lines(f1, content);
  int has_day = 0;
  int64_t day_start = 0;
  if (!in->recording) {
    cli_source_day(f1, day, sizeof day);
    day_start = lobster_day_start_ns(f1, &has_day);
  }
  fprintf(js, "{\n  \"format\": \"obi-features\",\n  \"version\": 1,\n  \"source\": [{\"file\": ");
  json_string(js, f1);
  fprintf(js, ", \"sha256\": \"%s\", \"content_sha256\": \"%s\", \"day\": \"%s\", \"day_start_ns\": %lld}", h1, content,
          day, (long long)(has_day ? day_start : 0));
  if (f2) {
    fprintf(js, ", {\"file\": ");
    json_string(js, f2);
    fprintf(js, ", \"sha256\": \"%s\"}", h2);
  }
  fprintf(js, "],\n  \"instrument\": {\"symbol\": ");
  json_string(js, in->symbol);
  fprintf(js, ", \"venue\": \"%s\", \"kind\": \"%s\", \"size_scale\": %g},\n", in->venue,
          in->recording ? "recording" : "lobster", in->size_scale);
  fprintf(js, "  \"signed_trades\": %s,\n  \"skipped_lines\": %llu,\n  \"first_skipped_line\": ",
          a->fc.signed_trades ? "true" : "false", (unsigned long long)a->skipped);
  json_string(js, a->first_skipped);
  fprintf(js, ",\n");
  fprintf(js, "  \"files\": {\"features\": ");
  json_string(js, paths.features);
  fprintf(js, ", \"labels\": ");
  json_string(js, paths.labels);
  fprintf(js, ", \"returns\": ");
  json_string(js, paths.returns);
  fprintf(js, ", \"timestamps\": ");
  json_string(js, paths.ts);
  fprintf(js, "},\n  \"rows\": %zu,\n  \"sampled_rows\": %zu,\n  \"dropped_rows\": %zu,\n", out_rows, n, n - out_rows);
  fprintf(js, "  \"train_fraction\": %g,\n  \"train_rows\": %zu,\n  \"train_rows_kept\": %zu,\n", a->train_fraction,
          train, train_kept);
  fprintf(js, "  \"split_timestamps\": %s,\n", a->sample.split_timestamps ? "true" : "false");
  fprintf(js, "  \"sampling\": \"%s\",\n  \"levels\": %d,\n  \"windows_ns\": [%lld, %lld, %lld],\n", a->sample.spec,
          a->fc.levels, (long long)a->fc.window_ns[0], (long long)a->fc.window_ns[1], (long long)a->fc.window_ns[2]);
  fprintf(js, "  \"price_scale\": %g,\n  \"tick\": %g,\n", a->fc.price_scale, a->fc.tick);
  fprintf(js, "  \"units\": \"prices in currency; spreads, returns in bps; variances in bps^2; sizes in lots; times "
              "in seconds; rates per second\",\n");
  fprintf(js, "  \"features\": [");
  for (int c = 0; c < nc; c++) {
    fprintf(js, "%s", c ? ", " : "");
    json_string(js, col_name(a, e, c));
  }
  fprintf(js, "],\n  \"descriptions\": [");
  for (int c = 0; c < nc; c++) {
    fprintf(js, "%s", c ? ", " : "");
    json_string(js, col_desc(a, e, c));
  }
  fprintf(js, "],\n  \"labels\": [");
  for (int h = 0; h < a->nh; h++)
    fprintf(js, "%s\"label_a_%s\", \"label_b_%s\"", h ? ", " : "", a->horizons[h].name, a->horizons[h].name);
  fprintf(js, ", \"label_next_mid_change\"],\n  \"label_encoding\": {\"0\": \"down\", \"1\": \"stationary\", \"2\": "
              "\"up\"},\n");
  fprintf(js, "  \"returns\": [");
  for (int h = 0; h < a->nh; h++) fprintf(js, "%s\"ret_bps_%s\"", h ? ", " : "", a->horizons[h].name);
  static const char *const modes[] = {"fixed", "balanced", "spread"};
  fprintf(js, "],\n  \"horizons\": [");
  for (int h = 0; h < a->nh; h++)
    fprintf(js, "%s{\"name\": \"%s\", \"%s\": %lld, \"alpha_a\": %.9g, \"alpha_b\": %.9g}", h ? ", " : "",
            a->horizons[h].name, a->horizons[h].is_time ? "ns" : "rows", (long long)a->horizons[h].value,
            alphas[h].alpha_a, alphas[h].alpha_b);
  fprintf(js, "],\n  \"alpha_mode\": \"%s\",\n", modes[a->alpha_mode]);
  if (has_mp) {
    fprintf(js,
            "  \"microprice\": {\"n_imb\": %d, \"n_spread\": %d, \"iterations\": %d, \"converged\": %s, "
            "\"states_used\": %d, \"transitions\": %llu, \"spread_upper_ticks\": [",
            mp.n_imb, mp.n_spread, mp_info.iterations, mp_info.converged ? "true" : "false", mp_info.states_used,
            (unsigned long long)mp_info.transitions);
    for (int si = 0; si < mp.n_spread; si++) fprintf(js, "%s%lld", si ? ", " : "", (long long)mp.spread_upper[si]);
    fprintf(js, "], \"g_ticks\": [");
    for (int si = 0; si < mp.n_spread; si++) {
      fprintf(js, "%s[", si ? ", " : "");
      for (int ii = 0; ii < mp.n_imb; ii++) fprintf(js, "%s%.9g", ii ? ", " : "", mp.g[si][ii]);
      fputc(']', js);
    }
    fprintf(js, "]},\n");
  } else {
    fprintf(js, "  \"microprice\": null,\n");
  }
  fprintf(js, "  \"normalization\": {\"rows\": %zu, \"mean\": [", train_kept);
  for (int c = 0; c < nc; c++) fprintf(js, "%s%.9g", c ? ", " : "", train_kept ? sum[c] / (double)train_kept : 0.0);
  fprintf(js, "], \"std\": [");
  for (int c = 0; c < nc; c++) {
    double m = train_kept ? sum[c] / (double)train_kept : 0, v = train_kept ? sumsq[c] / (double)train_kept - m * m : 0;
    fprintf(js, "%s%.9g", c ? ", " : "", v > 0 ? sqrt(v) : 0.0);
  }
  fprintf(js, "]}\n}\n");
  if (fclose(js)) {
    js = NULL;
    rc = cli_input_error("%s: write error", paths.json);
    goto done;
  }
  js = NULL;

  /* the report */
  if (a->report) {
    double *rx = malloc(out_rows * sizeof *rx), *ry = malloc(out_rows * sizeof *ry),
           *ic = malloc((size_t)nc * (size_t)a->nh * sizeof *ic);
    uint32_t *idx = malloc(out_rows * sizeof *idx);
    float *tmp = malloc(out_rows * sizeof *tmp), *retk = malloc(out_rows * (size_t)a->nh * sizeof *retk);
    if (!rx || !ry || !ic || !idx || !tmp || !retk) {
      free(rx), free(ry), free(ic), free(idx), free(tmp), free(retk);
      rc = cli_input_error("out of memory for the report");
      goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (valid[i]) memcpy(retk + k++ * (size_t)a->nh, ret + i * (size_t)a->nh, (size_t)a->nh * sizeof *retk);
    for (int h = 0; h < a->nh; h++) {
      ranks_of(retk + h, out_rows, (size_t)a->nh, ry, idx, tmp);
      for (int c = 0; c < nc; c++) {
        ranks_of(kept_rows + c, out_rows, (size_t)nc, rx, idx, tmp);
        ic[c * a->nh + h] = pearson(rx, ry, out_rows);
      }
    }
    /* CKS: mid change (ticks) on OFI (lots) over 10 s intervals, OLS with intercept */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, cn = (double)cks.n;
    for (size_t i = 0; i < cks.n; i++)
      sx += cks.ofi[i], sy += cks.dmid[i], sxx += cks.ofi[i] * cks.ofi[i], sxy += cks.ofi[i] * cks.dmid[i],
          syy += cks.dmid[i] * cks.dmid[i];
    double den = cn * sxx - sx * sx, slope = den > 0 ? (cn * sxy - sx * sy) / den : 0;
    double cov = sxy - sx * sy / cn, vx = sxx - sx * sx / cn, vy = syy - sy * sy / cn;
    double r2 = vx > 0 && vy > 0 ? cov * cov / (vx * vy) : 0;
    FILE *rep = a->json ? stderr : stdout;
    fprintf(rep, "information coefficient (Spearman) of each feature with the forward return, %zu rows\n", out_rows);
    fprintf(rep, "%-28s", "feature");
    for (int h = 0; h < a->nh; h++) fprintf(rep, " %10s", a->horizons[h].name);
    fputc('\n', rep);
    /* all columns in order, or the --report-top N strongest by |IC| at the first horizon */
    int order[FEAT_MAX_COLS], shown = nc;
    for (int c = 0; c < nc; c++) order[c] = c;
    if (a->report_top > 0) {
      for (int i = 1; i < nc; i++)
        for (int j = i; j > 0 && fabs(ic[order[j] * a->nh]) > fabs(ic[order[j - 1] * a->nh]); j--) {
          int t = order[j];
          order[j] = order[j - 1], order[j - 1] = t;
        }
      if (a->report_top < nc) shown = a->report_top;
    }
    for (int k = 0; k < shown; k++) {
      int c = order[k];
      fprintf(rep, "%-28s", col_name(a, e, c));
      for (int h = 0; h < a->nh; h++) fprintf(rep, " %+10.4f", ic[c * a->nh + h]);
      fputc('\n', rep);
    }
    fprintf(rep,
            "Cont-Kukanov-Stoikov regression, mid change (ticks) on OFI L1 (lots) over %lld s intervals: "
            "%zu intervals, slope %.3g ticks/lot, R^2 %.3f\n",
            (long long)(CKS_INTERVAL_NS / 1000000000LL), cks.n, slope, r2);
    FILE *rj = fopen(paths.report, "w");
    if (rj) {
      fprintf(rj, "{\"rows\": %zu, \"horizons\": [", out_rows);
      for (int h = 0; h < a->nh; h++) fprintf(rj, "%s\"%s\"", h ? ", " : "", a->horizons[h].name);
      fprintf(rj, "], \"ic_spearman\": {");
      for (int c = 0; c < nc; c++) {
        fprintf(rj, "%s", c ? ", " : "");
        json_string(rj, col_name(a, e, c));
        fprintf(rj, ": [");
        for (int h = 0; h < a->nh; h++) fprintf(rj, "%s%.6f", h ? ", " : "", ic[c * a->nh + h]);
        fputc(']', rj);
      }
      fprintf(rj,
              "}, \"cks\": {\"interval_s\": %lld, \"intervals\": %zu, \"slope_ticks_per_lot\": %.6g, \"r2\": %.6f}}\n",
              (long long)(CKS_INTERVAL_NS / 1000000000LL), cks.n, slope, r2);
      fclose(rj);
    }
    free(rx), free(ry), free(ic), free(idx), free(tmp), free(retk);
  }
  if (a->json)
    printf("{\"rows\": %zu, \"sampled_rows\": %zu, \"dropped_rows\": %zu, \"columns\": %d, \"train_rows\": %zu, "
           "\"features\": \"%s\", \"sidecar\": \"%s\"}\n",
           out_rows, n, n - out_rows, nc, train, paths.features, paths.json);
  else if (!a->quiet)
    printf("features: %zu rows x %d columns -> %s (%zu rows without a complete horizon dropped; sidecar %s)\n",
           out_rows, nc, paths.features, n - out_rows, paths.json);
  rc = EXIT_OK;
done:
  if (writers_open) {
    npy_close(&wf), npy_close(&wl), npy_close(&wr), npy_close(&wt);
  }
  if (csv) fclose(csv);
  if (js) fclose(js);
  source_close(r);
  feat_free(e);
  series_free(&rows);
  free(lab), free(ret), free(valid), free(sum), free(sumsq), free(kept_rows);
  free(cks.ofi), free(cks.dmid);
  return rc;
}

static int list_features(const feat_config *fc) {
  feat_engine *e;
  if (feat_new(&e, fc)) return cli_input_error("invalid feature configuration");
  for (int c = 0; c < feat_count(e); c++) printf("%-28s %s\n", feat_name(e, c), feat_description(e, c));
  feat_free(e);
  return EXIT_OK;
}

static int cmd_features(int argc, char **argv) {
  features_args a = {.alpha_mode = LABEL_ALPHA_BALANCED, .train_fraction = 0.7, .venue = -1};
  feat_config_default(&a.fc);
  feat_sampler_parse(&a.sample, "every", 0);
  const char *paths[2], *horizons = "10,20,50", *select = NULL;
  int npaths = 0, list = 0;
  char why[256];
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    if (!strcmp(o, "--list"))
      list = 1;
    else if (!strcmp(o, "--csv"))
      a.csv = 1;
    else if (!strcmp(o, "--report"))
      a.report = 1;
    else if (!strcmp(o, "--split-timestamps"))
      a.sample.split_timestamps = 1;
    else if (!strcmp(o, "--raw-book"))
      a.raw_book = 1;
    else if (!strcmp(o, "--report-top") && v) {
      if (cli_parse_int(v, 1, FEAT_MAX_COLS, &n))
        return cli_usage_error(&cmd_features_def, "--report-top: 1 to %d", FEAT_MAX_COLS);
      a.report = 1, a.report_top = (int)n, i++;
    } else if (!strcmp(o, "--json"))
      a.json = 1;
    else if (!strcmp(o, "--quiet") || !strcmp(o, "-q"))
      a.quiet = 1;
    else if (!strcmp(o, "--out") && v)
      a.out = v, i++;
    else if (!strcmp(o, "--horizons") && v)
      horizons = v, i++;
    else if (!strcmp(o, "--features") && v)
      select = v, i++;
    else if (!strcmp(o, "--sample") && v) {
      if (feat_sampler_parse(&a.sample, v, a.sample.split_timestamps))
        return cli_usage_error(&cmd_features_def,
                               "--sample: expected every, events:N, trades, mid or time:MS, got '%s'", v);
      i++;
    } else if (!strcmp(o, "--levels") && v) {
      if (cli_parse_int(v, 1, FEAT_MAX_LEVELS, &n))
        return cli_usage_error(&cmd_features_def, "--levels: 1 to %d", FEAT_MAX_LEVELS);
      a.fc.levels = (int)n, i++;
    } else if (!strcmp(o, "--symbol") && v) {
      a.symbol = v, i++;
    } else if (!strcmp(o, "--venue") && v) {
      if ((a.venue = cli_parse_venue(v)) < 0) return cli_usage_error(&cmd_features_def, "--venue: " CLI_VENUES);
      i++;
    } else if (!strcmp(o, "--tick") && v) {
      char *end;
      a.tick_given = 1;
      a.fc.tick = strtod(v, &end);
      if (*end || !(a.fc.tick > 0))
        return cli_usage_error(&cmd_features_def, "--tick: a positive number of price units");
      i++;
    } else if (!strcmp(o, "--train-fraction") && v) {
      char *end;
      a.train_fraction = strtod(v, &end);
      if (*end || !(a.train_fraction > 0 && a.train_fraction <= 1))
        return cli_usage_error(&cmd_features_def, "--train-fraction: a number in (0, 1]");
      i++;
    } else if (!strcmp(o, "--alpha") && v) {
      char *end;
      if (!strcmp(v, "balanced"))
        a.alpha_mode = LABEL_ALPHA_BALANCED;
      else if (!strcmp(v, "spread"))
        a.alpha_mode = LABEL_ALPHA_SPREAD;
      else {
        a.alpha_mode = LABEL_ALPHA_FIXED;
        a.alpha = strtod(v, &end);
        if (*end || !(a.alpha >= 0))
          return cli_usage_error(&cmd_features_def, "--alpha: a number >= 0, balanced or spread");
      }
      i++;
    } else if (o[0] == '-' && o[1])
      return cli_usage_error(&cmd_features_def, "unknown option or missing value: '%s'", o);
    else if (npaths < 2)
      paths[npaths++] = o;
    else
      return cli_usage_error(&cmd_features_def, "too many files ('%s')", o);
  }
  if (list) return list_features(&a.fc);
  if (label_parse_horizons(horizons, a.horizons, MAX_HORIZONS, &a.nh, why, sizeof why))
    return cli_usage_error(&cmd_features_def, "--horizons: %s", why);
  if (npaths == 0)
    return cli_usage_error(&cmd_features_def, "needs a message file and an orderbook file, or a feed recording");
  if (!a.out) return cli_usage_error(&cmd_features_def, "needs --out FILE.npy or --out DIR");
  a.msg_path = paths[0], a.book_path = npaths == 2 ? paths[1] : NULL;
  feat_engine *e;
  if (feat_new(&e, &a.fc)) return cli_usage_error(&cmd_features_def, "invalid feature configuration");
  int cols[FEAT_MAX_COLS];
  a.cols = cols;
  if (a.raw_book) {
    if (select) {
      feat_free(e);
      return cli_usage_error(&cmd_features_def, "--raw-book and --features do not go together");
    }
    if (4 * a.fc.levels > FEAT_MAX_COLS) {
      feat_free(e);
      return cli_usage_error(&cmd_features_def, "--raw-book: at most %d levels", FEAT_MAX_COLS / 4);
    }
    static const char *const part[4] = {"ask_price", "ask_size", "bid_price", "bid_size"};
    for (int c = 0; c < 4 * a.fc.levels; c++)
      snprintf(raw_names[c], sizeof raw_names[c], "%s_%d", part[c % 4], c / 4 + 1);
    a.ncols = 4 * a.fc.levels;
  } else if (!select) {
    for (int c = 0; c < feat_count(e); c++) cols[a.ncols++] = c;
  } else {
    for (const char *p = select; *p;) {
      size_t len = strcspn(p, ",");
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), p);
      int c = feat_find(e, name);
      if (c < 0) {
        feat_free(e);
        return cli_usage_error(&cmd_features_def, "--features: unknown feature '%s' (see 'obi features --list')", name);
      }
      cols[a.ncols++] = c;
      p += len + (p[len] == ',');
      if (a.ncols == FEAT_MAX_COLS) break;
    }
  }
  feat_free(e);
  return run_features(&a);
}

const cli_command cmd_features_def = {
    "features", cmd_features, "compute features and labels from a source, write .npy files",
    "usage: obi features <messages> <orderbook> --out FILE.npy|DIR [options]\n"
    "       obi features <ws-recording> [<rest-recording>] [--symbol S] --out FILE.npy|DIR [options]\n"
    "       obi features --list\n"
    "\n"
    "Replays the source through the book and the streaming feature engine, takes a row at each\n"
    "sample point, labels it from the future of the stream, and writes features (float32 [rows, cols]),\n"
    "labels (int8, 0 down / 1 stationary / 2 up), forward returns (float32, bps), timestamps (int64 ns)\n"
    "as .npy files and a JSON sidecar (feature names, units, sampling, alpha, micro-price table,\n"
    "normalisation statistics of the training rows, source hashes). Rows whose horizon runs past the\n"
    "end are dropped. Everything fitted uses only the first --train-fraction of the rows.\n"
    "\n"
    "  --out PATH           FILE.npy (siblings FILE.labels.npy, ...) or a directory\n"
    "  --symbol S           the instrument of a feed recording (needed when it holds several with a\n"
    "                       book); its prices are in units of its decimals, one unit the tick\n"
    "  --venue NAME         the recording's venue when its URL does not tell (" CLI_VENUES ")\n"
    "  --sample CLOCK       every (default), events:N, trades, mid (every mid change), time:MS;\n"
    "                       rows are taken after the last message of a timestamp\n"
    "  --split-timestamps   also take rows between messages with the same timestamp (states no one\n"
    "                       could observe: they leak the rest of the instant into the row)\n"
    "  --horizons LIST      label horizons in rows (10) or time (1s, 500ms); default 10,20,50\n"
    "  --alpha A            stationary threshold: a number, balanced (default: a third of the training\n"
    "                       rows stationary) or spread (the mean relative spread of the training rows)\n"
    "  --train-fraction F   the chronological training part (default 0.7)\n"
    "  --levels K           levels per side read by the features (default 10)\n"
    "  --tick T             tick size in price units (default 100 = one cent in LOBSTER prices;\n"
    "                       a recording: 1, the last decimal its prices use)\n"
    "  --features LIST      only these columns (names from --list)\n"
    "  --raw-book           instead of the features, the raw top --levels levels: ask price, ask size,\n"
    "                       bid price, bid size per level (FI-2010 order, for DeepLOB)\n"
    "  --csv                also write a CSV file\n"
    "  --report             information coefficients and the Cont-Kukanov-Stoikov regression\n"
    "  --report-top N       the report, showing the N features with the largest |IC| first\n"
    "  --list               print every feature with its definition\n"
    "  --json, --quiet\n"
    "\n"
    "A feed recording (the formats of obi replay) goes through the feed protocol layer with its\n"
    "synchronisation rules; one exchange message is one timestamp group, and the book the features\n"
    "see holds only the levels known to be exact (docs/features.md, Sources).\n"
    "\n"
    "examples:\n"
    "  obi features data/lobster/AMZN_2012-06-21_34200000_57600000_message_10.csv.zst \\\n"
    "               data/lobster/AMZN_2012-06-21_34200000_57600000_orderbook_10.csv.zst --out amzn.npy --report\n"
    "  obi features data/crypto/COINBASE.ws.28.0.first2000.zst --symbol SKL-USD --out skl.npy\n"};
