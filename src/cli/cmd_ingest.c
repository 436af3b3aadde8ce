/* cmd_ingest.c — `obi ingest`: loads a feature file, a backtest's fills or a predictions CSV
 * into a store (sqlite:PATH or postgresql://...). Rows keep their idempotent keys (the row
 * number is the seq), so ingesting the same file twice stores it once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/npy.h"
#include "obi/store.h"

typedef struct {
  const char *store, *symbol, *features, *trades, *predictions, *run, *model;
  long version;
  double scale;
  int json;
} ingest_args;

static int ingest_features(obi_store *s, const ingest_args *a, long *rows) {
  npy_array x = {0}, ts = {0};
  char why[512], tpath[4200];
  int rc = EXIT_OK;
  if (npy_read(&x, a->features, why, sizeof why)) return cli_input_error("%s: %s", a->features, why);
  size_t len = strlen(a->features);
  snprintf(tpath, sizeof tpath, "%.*s.timestamps.npy", (int)(len > 4 ? len - 4 : len), a->features);
  int have_ts = npy_read(&ts, tpath, why, sizeof why) == OBI_OK;
  if (strcmp(x.descr, "<f4") || x.ndim != 2 || x.shape[1] > STORE_MAX_FEATURES) {
    rc = cli_input_error("%s: expected a 2-D <f4 array of at most %d columns", a->features, STORE_MAX_FEATURES);
    goto done;
  }
  if (have_ts && (strcmp(ts.descr, "<i8") || ts.shape[0] != x.shape[0])) {
    rc = cli_input_error("%s: expected one <i8 timestamp per row of %s", tpath, a->features);
    goto done;
  }
  store_feature_row *r = calloc(1, sizeof *r);
  if (!r) {
    rc = cli_input_error("out of memory");
    goto done;
  }
  snprintf(r->instrument, sizeof r->instrument, "%s", a->symbol);
  r->version = (int32_t)a->version;
  r->n = (int32_t)x.shape[1];
  for (uint64_t i = 0; i < x.shape[0]; i++) {
    r->ts_ns = have_ts ? ((const int64_t *)ts.data)[i] : (int64_t)i;
    r->seq = (int32_t)i; /* the row number: unique even where timestamps repeat */
    memcpy(r->vals, (const float *)x.data + i * x.shape[1], x.shape[1] * sizeof(float));
    store_put_feature_row(s, r);
  }
  free(r);
  *rows = (long)x.shape[0];
done:
  npy_free(&x);
  if (have_ts) npy_free(&ts);
  return rc;
}

/* The CSV of `obi backtest --trades`: exch_ns,notify_ns,order_id,side,price,qty,notional,fee,... */
static int ingest_trades(obi_store *s, const ingest_args *a, long *rows) {
  FILE *f = fopen(a->trades, "r");
  if (!f) return cli_input_error("%s: cannot open", a->trades);
  char line[1024];
  long lineno = 0;
  int rc = EXIT_OK;
  while (fgets(line, sizeof line, f)) {
    if (++lineno == 1) {
      if (strncmp(line, "exch_ns,", 8))
        rc = cli_input_error("%s:1: expected the header of obi backtest --trades", a->trades);
      if (rc) break;
      continue;
    }
    long long ts, notify, qty;
    char oid[32], side[8];
    double price, notional, fee;
    if (sscanf(line, "%lld,%lld,%31[^,],%7[^,],%lf,%lld,%lf,%lf", &ts, &notify, oid, side, &price, &qty, &notional,
               &fee) != 8 ||
        !isfinite(price) || !isfinite(fee)) {
      rc = cli_input_error("%s:%ld: expected exch_ns,notify_ns,order_id,side,price,qty,notional,fee,...", a->trades,
                           lineno);
      break;
    }
    store_fill r = {.ts_ns = ts,
                    .seq = (int32_t)lineno,
                    .side = strcmp(side, "buy") ? -1 : 1,
                    .price = llround(price * a->scale),
                    .size = qty,
                    .fee = fee};
    snprintf(r.run_id, sizeof r.run_id, "%s", a->run);
    snprintf(r.instrument, sizeof r.instrument, "%s", a->symbol);
    snprintf(r.order_id, sizeof r.order_id, "%s", oid);
    store_put_fill(s, &r);
    ++*rows;
  }
  fclose(f);
  return rc;
}

/* ts_ns,horizon,p_down,p_flat,p_up with a header line. */
static int ingest_predictions(obi_store *s, const ingest_args *a, long *rows) {
  FILE *f = fopen(a->predictions, "r");
  if (!f) return cli_input_error("%s: cannot open", a->predictions);
  char line[512];
  long lineno = 0;
  int rc = EXIT_OK;
  while (fgets(line, sizeof line, f)) {
    if (++lineno == 1 && !strncmp(line, "ts_ns", 5)) continue;
    long long ts;
    int h;
    float pd, pf, pu;
    if (sscanf(line, "%lld,%d,%f,%f,%f", &ts, &h, &pd, &pf, &pu) != 5) {
      rc = cli_input_error("%s:%ld: expected ts_ns,horizon,p_down,p_flat,p_up", a->predictions, lineno);
      break;
    }
    store_prediction r = {.ts_ns = ts, .seq = (int32_t)lineno, .horizon = h, .p_down = pd, .p_flat = pf, .p_up = pu};
    snprintf(r.instrument, sizeof r.instrument, "%s", a->symbol);
    snprintf(r.model, sizeof r.model, "%s", a->model);
    store_put_prediction(s, &r);
    ++*rows;
  }
  fclose(f);
  return rc;
}

static int cmd_ingest(int argc, char **argv) {
  ingest_args a = {.run = "ingest", .model = "ingest", .version = 1, .scale = 1e4};
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--json"))
      a.json = 1;
    else if (!strcmp(o, "--store") && v)
      a.store = v, i++;
    else if (!strcmp(o, "--symbol") && v)
      a.symbol = v, i++;
    else if (!strcmp(o, "--trades") && v)
      a.trades = v, i++;
    else if (!strcmp(o, "--predictions") && v)
      a.predictions = v, i++;
    else if (!strcmp(o, "--run") && v)
      a.run = v, i++;
    else if (!strcmp(o, "--model") && v)
      a.model = v, i++;
    else if (!strcmp(o, "--version") && v) {
      if (cli_parse_int(v, 0, 1000000, &a.version)) return cli_usage_error(&cmd_ingest_def, "--version: 0..1e6");
      i++;
    } else if (!strcmp(o, "--scale") && v) {
      a.scale = strtod(v, NULL);
      if (!(a.scale > 0) || !isfinite(a.scale)) return cli_usage_error(&cmd_ingest_def, "--scale: a number > 0");
      i++;
    } else if (o[0] != '-' && !a.features)
      a.features = o;
    else
      return cli_usage_error(&cmd_ingest_def, "unexpected argument '%s'", o);
  }
  if (!a.store || !a.symbol) return cli_usage_error(&cmd_ingest_def, "--store URL and --symbol S are required");
  if (!!a.features + !!a.trades + !!a.predictions != 1)
    return cli_usage_error(&cmd_ingest_def, "give one of FEATURES.npy, --trades CSV, --predictions CSV");
  obi_store *s;
  char why[1024];
  if (store_open(&s, a.store, NULL, why, sizeof why)) return cli_input_error("%s", why);
  double t0 = cli_now();
  long rows = 0;
  int rc = a.features ? ingest_features(s, &a, &rows)
           : a.trades ? ingest_trades(s, &a, &rows)
                      : ingest_predictions(s, &a, &rows);
  if (store_flush(s, 60000) != OBI_OK && rc == EXIT_OK) rc = cli_input_error("%s", store_errmsg(s));
  double secs = cli_now() - t0;
  const char *table = a.features ? "features" : a.trades ? "fills" : "predictions";
  if (rc == EXIT_OK) {
    if (a.json)
      printf("{\"table\":\"%s\",\"rows\":%ld,\"seconds\":%.3f,\"backend\":\"%s\"}\n", table, rows, secs,
             store_backend(s));
    else
      printf("ingested %ld rows into %s (%s) in %.2f s\n", rows, table, store_backend(s), secs);
  }
  store_close(s);
  return rc;
}

const cli_command cmd_ingest_def = {
    "ingest", cmd_ingest, "load features, backtest fills or predictions into a store",
    "usage: obi ingest --store URL --symbol S FEATURES.npy [--version N]\n"
    "       obi ingest --store URL --symbol S --trades FILE.csv [--run ID] [--scale N]\n"
    "       obi ingest --store URL --symbol S --predictions FILE.csv [--model NAME]   [--json]\n"
    "\n"
    "URL is sqlite:PATH or postgresql://USER@HOST:PORT/DB. FEATURES.npy is the output of obi features\n"
    "(timestamps from FEATURES.timestamps.npy when it exists, else the row number). --trades takes\n"
    "the CSV of obi backtest --trades (prices times --scale, default 10000, stored as ticks).\n"
    "--predictions takes lines ts_ns,horizon,p_down,p_flat,p_up. The row number is part of each\n"
    "row's key: ingesting a file twice stores it once. See docs/store.md.\n"};
