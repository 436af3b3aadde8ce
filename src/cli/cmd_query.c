/* cmd_query.c — `obi query`: reads rows back from a store, as CSV or JSON. Each row is built as
 * a JSON object (jansson: strings escaped, keys in column order) and printed either as an
 * element of a JSON array or as a CSV line with the arrays' elements joined by ';'. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/store.h"

static int parse_ns(const char *v, int64_t *out) {
  char *end;
  long long x = strtoll(v, &end, 10);
  if (!*v || *end) return -1;
  *out = x;
  return 0;
}

static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *i64_array(const int64_t *v, int n) {
  json_t *a = json_array();
  for (int i = 0; i < n; i++) json_array_append_new(a, json_integer((json_int_t)v[i]));
  return a;
}

/* One CSV field: text as it is (quoted when it holds a comma, quote or newline), numbers as
 * JSON writes them, arrays as their elements joined by ';', null as nothing. */
static void csv_field(const json_t *v) {
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (!strpbrk(s, ",\"\n\r")) {
      fputs(s, stdout);
      return;
    }
    putchar('"');
    for (; *s; s++) {
      if (*s == '"') putchar('"');
      putchar(*s);
    }
    putchar('"');
  } else if (json_is_array(v)) {
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
      if (i) putchar(';');
      csv_field(e);
    }
  } else if (!json_is_null(v)) {
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
    if (t) fputs(t, stdout);
    free(t);
  }
}

typedef struct {
  int json;
  size_t rows;
} printer;

/* The CSV header: the keys of a row. */
static void print_header(json_t *row) {
  const char *key;
  json_t *v;
  int first = 1;
  json_object_foreach(row, key, v) printf("%s%s", first ? "" : ",", key), first = 0;
  putchar('\n');
}

/* Prints and releases one row. */
static void emit(printer *p, json_t *row) {
  const char *key;
  json_t *v;
  if (p->json) {
    char *t = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    printf("%s%s", p->rows ? "," : "[", t ? t : "null");
    free(t);
  } else {
    if (!p->rows) print_header(row);
    int first = 1;
    json_object_foreach(row, key, v) {
      if (!first) putchar(',');
      csv_field(v);
      first = 0;
    }
    putchar('\n');
  }
  p->rows++;
  json_decref(row);
}

static json_t *prediction_row(const store_prediction *r) {
  return json_pack("{s:s, s:I, s:i, s:s, s:i, s:o, s:o, s:o}", "instrument", r->instrument, "ts_ns",
                   (json_int_t)r->ts_ns, "seq", r->seq, "model", r->model, "horizon", r->horizon, "p_down",
                   real_or_null(r->p_down), "p_flat", real_or_null(r->p_flat), "p_up", real_or_null(r->p_up));
}

static json_t *fill_row(const store_fill *r) {
  return json_pack("{s:s, s:s, s:I, s:i, s:s, s:i, s:I, s:I, s:o}", "run_id", r->run_id, "instrument", r->instrument,
                   "ts_ns", (json_int_t)r->ts_ns, "seq", r->seq, "order_id", r->order_id, "side", r->side, "price",
                   (json_int_t)r->price, "size", (json_int_t)r->size, "fee", real_or_null(r->fee));
}

static json_t *trade_row(const store_trade *r) {
  return json_pack("{s:s, s:I, s:i, s:I, s:I, s:i}", "instrument", r->instrument, "ts_ns", (json_int_t)r->ts_ns, "seq",
                   r->seq, "price", (json_int_t)r->price, "size", (json_int_t)r->size, "side", r->side);
}

static json_t *book_row(const store_book_snapshot *r) {
  int d = r->depth < 0 ? 0 : r->depth > STORE_MAX_LEVELS ? STORE_MAX_LEVELS : r->depth;
  return json_pack("{s:s, s:I, s:i, s:i, s:o, s:o, s:o, s:o}", "instrument", r->instrument, "ts_ns",
                   (json_int_t)r->ts_ns, "seq", r->seq, "depth", r->depth, "bid_px", i64_array(r->bid_px, d), "bid_sz",
                   i64_array(r->bid_sz, d), "ask_px", i64_array(r->ask_px, d), "ask_sz", i64_array(r->ask_sz, d));
}

static json_t *instrument_row(const store_instrument *r) {
  return json_pack("{s:s, s:o, s:o, s:s}", "symbol", r->symbol, "tick_size", real_or_null(r->tick_size), "lot_size",
                   real_or_null(r->lot_size), "venue", r->venue);
}

static json_t *monitor_row(const store_monitor *r) {
  return json_pack("{s:s, s:I, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:s, s:i}", "symbol", r->symbol, "ts_ns",
                   (json_int_t)r->ts_ns, "model", r->model, "version", r->version, "n", (json_int_t)r->n, "accuracy",
                   real_or_null(r->accuracy), "macro_f1", real_or_null(r->macro_f1), "log_loss",
                   real_or_null(r->log_loss), "calibration_error", real_or_null(r->calibration_error), "psi_max",
                   real_or_null(r->psi_max), "psi_feature", r->psi_feature, "alert", r->alert);
}

/* Reads the rows of one table and prints each through its row builder. */
#define QUERY_AND_PRINT(type, call, builder)                                                                           \
  do {                                                                                                                 \
    type *rows_ = NULL;                                                                                                \
    if (call) {                                                                                                        \
      rc = cli_input_error("%s", store_errmsg(s));                                                                     \
      break;                                                                                                           \
    }                                                                                                                  \
    for (size_t i_ = 0; i_ < n; i_++) emit(&p, builder(&rows_[i_]));                                                   \
    if (!n && !p.json) { /* the header alone, from the keys of an empty row */                                         \
      type zero_;                                                                                                      \
      memset(&zero_, 0, sizeof zero_);                                                                                 \
      json_t *h_ = builder(&zero_);                                                                                    \
      print_header(h_);                                                                                                \
      json_decref(h_);                                                                                                 \
    }                                                                                                                  \
    free(rows_);                                                                                                       \
  } while (0)

static const char *const kinds[] = {"predictions", "fills", "trades", "books", "instruments", "monitor"};

static int cmd_query(int argc, char **argv) {
  const char *url = NULL, *what = NULL, *symbol = NULL, *run = NULL;
  int64_t from = INT64_MIN, to = INT64_MAX;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--json"))
      json = 1;
    else if (!strcmp(o, "--store") && v)
      url = v, i++;
    else if (!strcmp(o, "--symbol") && v)
      symbol = v, i++;
    else if (!strcmp(o, "--run") && v)
      run = v, i++;
    else if ((!strcmp(o, "--from") || !strcmp(o, "--to")) && v) {
      if (parse_ns(v, o[2] == 'f' ? &from : &to))
        return cli_usage_error(&cmd_query_def, "%s: nanoseconds since the epoch", o);
      i++;
    } else if (o[0] != '-' && !what)
      what = o;
    else
      return cli_usage_error(&cmd_query_def, "unexpected argument '%s'", o);
  }
  if (!url || !what) return cli_usage_error(&cmd_query_def, "--store URL and what to read are required");
  int kind = -1;
  for (int k = 0; k < (int)(sizeof kinds / sizeof *kinds); k++)
    if (!strcmp(what, kinds[k])) kind = k;
  if (kind < 0)
    return cli_usage_error(&cmd_query_def, "'%s': expected predictions, fills, trades, books, instruments or monitor",
                           what);
  if (run && kind != 1) return cli_usage_error(&cmd_query_def, "--run selects fills");
  obi_store *s;
  char why[1024];
  if (store_open(&s, url, NULL, why, sizeof why)) return cli_input_error("%s", why);
  size_t n = 0;
  int rc = EXIT_OK;
  printer p = {.json = json};
  switch (kind) {
  case 0:
    QUERY_AND_PRINT(store_prediction, store_query_predictions(s, symbol, from, to, &rows_, &n), prediction_row);
    break;
  case 1: QUERY_AND_PRINT(store_fill, store_query_fills(s, run, from, to, &rows_, &n), fill_row); break;
  case 2: QUERY_AND_PRINT(store_trade, store_query_trades(s, symbol, from, to, &rows_, &n), trade_row); break;
  case 3:
    QUERY_AND_PRINT(store_book_snapshot, store_query_book_snapshots(s, symbol, from, to, &rows_, &n), book_row);
    break;
  case 4: QUERY_AND_PRINT(store_instrument, store_query_instruments(s, symbol, &rows_, &n), instrument_row); break;
  default: QUERY_AND_PRINT(store_monitor, store_query_monitor(s, symbol, from, to, &rows_, &n), monitor_row); break;
  }
  if (json && rc == EXIT_OK) printf("%s\n", p.rows ? "]" : "[]");
  store_close(s);
  return rc;
}

const cli_command cmd_query_def = {
    "query", cmd_query, "read predictions, fills, trades, book snapshots, instruments or monitor states from a store",
    "usage: obi query --store URL predictions|trades|books|monitor [--symbol S] [--from NS] [--to NS] [--json]\n"
    "       obi query --store URL fills [--run ID] [--from NS] [--to NS] [--json]\n"
    "       obi query --store URL instruments [--symbol S] [--json]\n"
    "\n"
    "Rows with ts_ns in [--from, --to), ordered by key, as CSV (a header line; the levels of a book\n"
    "snapshot joined by ';') or a JSON array. Prices are integer ticks and sizes integer lots of the\n"
    "instrument (its tick_size and lot_size say what they are worth).\n"
    "The SQL behind it, for psql or sqlite3, is in docs/store.md.\n"};
