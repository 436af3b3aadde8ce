/* cmd_ingest.c — `obi ingest`: loads market data recordings (a LOBSTER pair, a recording of
 * exchange WebSocket traffic), a feature file, a backtest's fills or a predictions CSV into a
 * store (sqlite:PATH or postgresql://...). Rows keep idempotent keys that are functions of the
 * input (the row, trade or snapshot number is the seq), so ingesting a file twice stores it once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/features.h"
#include "obi/npy.h"
#include "obi/recording.h"
#include "obi/store.h"
#include "recsource.h"
#include "source.h"

typedef struct {
  const char *store, *symbol, *features, *trades, *predictions, *run, *model, *sample;
  const char *files[2]; /* a recording: LOBSTER messages and orderbook, or WebSocket [and REST] */
  int nfiles, venue, quiet;
  long version, depth;
  double scale;
  int json;
} ingest_args;

/* ---- market data: instruments, trades and book snapshots ---------------------------------- */

typedef struct {
  char name[STORE_SYM];
  feat_sampler clock;
  int32_t trades, snapshots;
  obi_event last; /* the last event of the current message (recordings) */
  int touched;
} ingest_symbol;

typedef struct {
  obi_store *s;
  const ingest_args *a;
  ingest_symbol *sym;
  int nsym;
  feed *f; /* recordings; NULL for LOBSTER */
  long instruments, trades, snapshots;
} market_ingest;

/* A trade event: TRADE from a feed, or a LOBSTER execution (visible or hidden) or cross. The
 * event's side is the resting side, so the aggressor is the other one; a cross has none. */
static void put_trade(market_ingest *m, ingest_symbol *is, const obi_event *ev) {
  int exec = ev->type == OBI_EV_EXEC || ev->type == OBI_EV_EXEC_HIDDEN;
  if (!exec && ev->type != OBI_EV_TRADE) return;
  int known = exec || m->f;
  store_trade t = {.ts_ns = ev->ts_ns, .seq = ++is->trades, .price = ev->price, .size = ev->size};
  t.side = known ? (ev->side == OBI_BID ? -1 : 1) : 0;
  memcpy(t.instrument, is->name, sizeof t.instrument);
  if (store_put_trade(m->s, &t) == OBI_OK) m->trades++;
}

/* The top levels of the book when the sampling clock takes a row; known[] caps each side at
 * the levels known to be exact (a depth-limited snapshot). */
static void put_snapshot(market_ingest *m, ingest_symbol *is, const obi_event *ev, const obi_book *b,
                         const uint32_t known[2]) {
  store_book_snapshot r = {.ts_ns = ev->ts_ns, .seq = is->snapshots + 1, .depth = (int32_t)m->a->depth};
  memcpy(r.instrument, is->name, sizeof r.instrument);
  int64_t *px[2] = {r.bid_px, r.ask_px}, *sz[2] = {r.bid_sz, r.ask_sz};
  uint32_t got[2];
  for (int side = 0; side < 2; side++) {
    uint32_t want = known[side] < (uint32_t)m->a->depth ? known[side] : (uint32_t)m->a->depth;
    got[side] = book_top(b, side, px[side], sz[side], want);
  }
  /* arrays of one length: a side with fewer levels is padded with zero price and size */
  r.depth = (int32_t)(got[0] > got[1] ? got[0] : got[1]);
  if (r.depth == 0) return;
  is->snapshots++;
  if (store_put_book_snapshot(m->s, &r) == OBI_OK) m->snapshots++;
}

static void on_feed_event(void *ctx, int symbol_index, const obi_event *ev, const obi_book *book) {
  (void)book;
  market_ingest *m = ctx;
  if (symbol_index < 0 || symbol_index >= m->nsym) return;
  ingest_symbol *is = &m->sym[symbol_index];
  put_trade(m, is, ev);
  is->last = *ev, is->touched = 1;
}

/* After each message: a message is one update, so the books are consistent only here. The
 * clock sees one step per message (its last event). */
static void on_message_end(void *ctx) {
  market_ingest *m = ctx;
  for (int i = 0; i < m->nsym; i++) {
    ingest_symbol *is = &m->sym[i];
    if (!is->touched) continue;
    is->touched = 0;
    const obi_book *b = feed_book(m->f, i);
    if (!feed_synced(m->f, i) || !feat_sampler_take(&is->clock, &is->last, b, 1)) continue;
    uint32_t known[2] = {feed_known_depth(m->f, i, OBI_BID), feed_known_depth(m->f, i, OBI_ASK)};
    put_snapshot(m, is, &is->last, b, known);
  }
}

static int symbols_init(market_ingest *m, int n) {
  m->sym = calloc((size_t)n, sizeof *m->sym);
  if (!m->sym) return cli_input_error("out of memory");
  m->nsym = n;
  for (int i = 0; i < n; i++)
    if (feat_sampler_parse(&m->sym[i].clock, m->a->sample, 0))
      return cli_usage_error(&cmd_ingest_def, "--sample: every, events:N, trades, mid or time:MS, not '%s'",
                             m->a->sample);
  return EXIT_OK;
}

static int ingest_recording(obi_store *s, const ingest_args *a, market_ingest *m) {
  rec_source src;
  char msg[1200] = "";
  if (recsource_open(&src, a->files[0], a->nfiles > 1 ? a->files[1] : NULL, a->venue, on_feed_event, on_message_end, m,
                     msg, sizeof msg))
    return cli_input_error("%s", msg);
  int rc = EXIT_OK;
  m->f = src.f;
  int n = feed_symbol_count(src.f);
  if ((rc = symbols_init(m, n))) goto done;
  for (int i = 0; i < n; i++) { /* the instrument as the venue names it, with its learned scale */
    int pd, sd;
    feed_symbol_decimals(src.f, i, &pd, &sd);
    snprintf(m->sym[i].name, sizeof m->sym[i].name, "%s", feed_symbol_name(src.f, i));
    if (pd < 0 || sd < 0) continue; /* never had a book: no scale, and it will give no rows */
    store_instrument in = {.tick_size = pow(10, -pd), .lot_size = pow(10, -sd)};
    snprintf(in.symbol, sizeof in.symbol, "%s", m->sym[i].name);
    snprintf(in.venue, sizeof in.venue, "%s", feed_venue_name(src.venue));
    if (store_put_instrument(s, &in) == OBI_OK) m->instruments++;
  }
  cli_progress progress;
  cli_progress_start(&progress, "ingest", a->quiet || a->json);
  rec_counts counts;
  if (recsource_replay(&src, &counts, &progress, msg, sizeof msg)) rc = cli_input_error("%s", msg);
  cli_progress_done(&progress);
  if (!rc) recsource_warn_skipped(&counts);
done:
  recsource_close(&src);
  m->f = NULL;
  return rc;
}

static int ingest_lobster(obi_store *s, const ingest_args *a, market_ingest *m) {
  char day[64];
  cli_source_day(a->files[0], day, sizeof day);
  if (!a->symbol && !day[0])
    return cli_usage_error(&cmd_ingest_def, "%s: no symbol in the file name; give --symbol", a->files[0]);
  obi_source *r;
  char why[1400];
  if (source_open(&r, a->files[0], a->files[1], a->symbol, -1, why, sizeof why)) return cli_input_error("%s", why);
  int rc = symbols_init(m, 1);
  if (rc) goto done;
  ingest_symbol *is = &m->sym[0];
  const source_info *info = source_get_info(r);
  snprintf(is->name, sizeof is->name, "%s", info->symbol); /* --symbol, or AMZN from AMZN_2012-06-21_... */
  store_instrument in = {.tick_size = 1 / info->price_scale, .lot_size = 1 / info->size_scale}; /* 1e-4 $, 1 share */
  memcpy(in.symbol, is->name, sizeof in.symbol);
  snprintf(in.venue, sizeof in.venue, "%s", info->venue);
  if (store_put_instrument(s, &in) == OBI_OK) m->instruments++;
  cli_progress progress;
  cli_progress_start(&progress, "ingest", a->quiet || a->json);
  obi_event ev;
  obi_err e;
  int group_end;
  int64_t next;
  uint64_t n = 0;
  while ((e = source_next(r, &ev, &group_end, &next)) == OBI_OK) {
    if ((++n & 0xffff) == 0) cli_progress_update(&progress, source_progress(r), n);
    put_trade(m, is, &ev);
    if (feat_sampler_take(&is->clock, &ev, source_book(r), group_end)) {
      uint32_t n_levels = (uint32_t)info->tracked_levels, known[2] = {n_levels, n_levels}; /* the file's N levels */
      put_snapshot(m, is, &ev, source_book(r), known);
    }
  }
  cli_progress_done(&progress);
  if (e != OBI_EEOF) rc = cli_input_error("%s", source_error(r));
done:
  source_close(r);
  return rc;
}

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

/* 1 when the file starts with the .npy magic. */
static int is_npy(const char *path) {
  FILE *f = fopen(path, "rb");
  char magic[6] = {0};
  int yes = f && fread(magic, 1, 6, f) == 6 && !memcmp(magic, "\x93NUMPY", 6);
  if (f) fclose(f);
  return yes;
}

static int cmd_ingest(int argc, char **argv) {
  ingest_args a = {.run = "ingest", .model = "ingest", .version = 1, .scale = 1e4};
  a.venue = -1, a.depth = 10, a.sample = "time:1000";
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--json"))
      a.json = 1;
    else if (!strcmp(o, "--quiet") || !strcmp(o, "-q"))
      a.quiet = 1;
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
    else if (!strcmp(o, "--sample") && v)
      a.sample = v, i++;
    else if (!strcmp(o, "--venue") && v) {
      if ((a.venue = cli_parse_venue(v)) < 0) return cli_usage_error(&cmd_ingest_def, "--venue: " CLI_VENUES);
      i++;
    } else if (!strcmp(o, "--depth") && v) {
      if (cli_parse_int(v, 1, STORE_MAX_LEVELS, &a.depth))
        return cli_usage_error(&cmd_ingest_def, "--depth: 1..%d levels", STORE_MAX_LEVELS);
      i++;
    } else if (!strcmp(o, "--version") && v) {
      if (cli_parse_int(v, 0, 1000000, &a.version)) return cli_usage_error(&cmd_ingest_def, "--version: 0..1e6");
      i++;
    } else if (!strcmp(o, "--scale") && v) {
      a.scale = strtod(v, NULL);
      if (!(a.scale > 0) || !isfinite(a.scale)) return cli_usage_error(&cmd_ingest_def, "--scale: a number > 0");
      i++;
    } else if (o[0] != '-' && a.nfiles < 2)
      a.files[a.nfiles++] = o;
    else
      return cli_usage_error(&cmd_ingest_def, "unexpected argument '%s'", o);
  }
  /* what the files are: a feature file, a feed recording, or a LOBSTER pair */
  int recording = 0;
  size_t len0 = a.nfiles ? strlen(a.files[0]) : 0;
  if (a.nfiles == 1 && (is_npy(a.files[0]) || (len0 > 4 && !strcmp(a.files[0] + len0 - 4, ".npy"))))
    a.features = a.files[0], a.nfiles = 0;
  else if (a.nfiles && rec_detect(a.files[0]) == 1)
    recording = 1;
  else if (a.nfiles == 1)
    return cli_usage_error(&cmd_ingest_def,
                           "%s: neither a .npy feature file nor a feed recording (a LOBSTER message file needs its "
                           "orderbook file)",
                           a.files[0]);
  int market = a.nfiles > 0;
  if (!a.store) return cli_usage_error(&cmd_ingest_def, "--store URL is required");
  if (!market && !a.symbol) return cli_usage_error(&cmd_ingest_def, "--symbol S is required");
  if (!!market + !!a.features + !!a.trades + !!a.predictions != 1)
    return cli_usage_error(&cmd_ingest_def, "give one of: a recording, FEATURES.npy, --trades CSV, --predictions CSV");
  if (recording && a.symbol)
    return cli_usage_error(&cmd_ingest_def, "--symbol: a feed recording names its symbols itself");
  feat_sampler probe;
  if (market && feat_sampler_parse(&probe, a.sample, 0))
    return cli_usage_error(&cmd_ingest_def, "--sample: every, events:N, trades, mid or time:MS, not '%s'", a.sample);
  obi_store *s;
  char why[1024];
  if (store_open(&s, a.store, NULL, why, sizeof why)) return cli_input_error("%s", why);
  double t0 = cli_now();
  long rows = 0;
  market_ingest m = {.s = s, .a = &a};
  int rc = market       ? (recording ? ingest_recording(s, &a, &m) : ingest_lobster(s, &a, &m))
           : a.features ? ingest_features(s, &a, &rows)
           : a.trades   ? ingest_trades(s, &a, &rows)
                        : ingest_predictions(s, &a, &rows);
  if (store_flush(s, 60000) != OBI_OK && rc == EXIT_OK) rc = cli_input_error("%s", store_errmsg(s));
  double secs = cli_now() - t0;
  const char *table = a.features ? "features" : a.trades ? "fills" : "predictions";
  if (rc == EXIT_OK && market) {
    rows = m.instruments + m.trades + m.snapshots;
    if (a.json)
      printf("{\"tables\":{\"instruments\":%ld,\"trades\":%ld,\"book_snapshots\":%ld},\"rows\":%ld,"
             "\"seconds\":%.3f,\"backend\":\"%s\"}\n",
             m.instruments, m.trades, m.snapshots, rows, secs, store_backend(s));
    else
      printf("ingested %ld instrument%s, %ld trades, %ld book snapshots (%s) in %.2f s\n", m.instruments,
             m.instruments == 1 ? "" : "s", m.trades, m.snapshots, store_backend(s), secs);
  } else if (rc == EXIT_OK) {
    if (a.json)
      printf("{\"table\":\"%s\",\"rows\":%ld,\"seconds\":%.3f,\"backend\":\"%s\"}\n", table, rows, secs,
             store_backend(s));
    else
      printf("ingested %ld rows into %s (%s) in %.2f s\n", rows, table, store_backend(s), secs);
  }
  free(m.sym);
  store_close(s);
  return rc;
}

const cli_command cmd_ingest_def = {
    "ingest", cmd_ingest, "load recordings, features, backtest fills or predictions into a store",
    "usage: obi ingest --store URL MESSAGES ORDERBOOK [--symbol S] [--depth N] [--sample SPEC]\n"
    "       obi ingest --store URL WS_RECORDING [REST_RECORDING] [--venue NAME] [--depth N] [--sample SPEC]\n"
    "       obi ingest --store URL --symbol S FEATURES.npy [--version N]\n"
    "       obi ingest --store URL --symbol S --trades FILE.csv [--run ID] [--scale N]\n"
    "       obi ingest --store URL --symbol S --predictions FILE.csv [--model NAME]\n"
    "       (each also takes --json; recordings --quiet)\n"
    "\n"
    "URL is sqlite:PATH or postgresql://USER@HOST:PORT/DB.\n"
    "\n"
    "Market data: a LOBSTER message/orderbook pair (symbol from the file name unless --symbol) or a\n"
    "recording of exchange WebSocket traffic with its REST snapshots (the formats of obi replay; every\n"
    "symbol in it) is replayed through the exact book and stored as: the instruments (tick and lot of\n"
    "the stored integers, venue), every trade (price in ticks, size in lots, aggressor side), and the\n"
    "top --depth levels (default 10, at most 20; never past the levels known to be exact) on the\n"
    "sampling clock --sample (the specs of obi features; default time:1000, one per second), taken\n"
    "only between whole updates. Trade and snapshot numbers are the seq of their keys.\n"
    "\n"
    "FEATURES.npy is the output of obi features (timestamps from FEATURES.timestamps.npy when it\n"
    "exists, else the row number). --trades takes the CSV of obi backtest --trades (prices times\n"
    "--scale, default 10000, stored as ticks). --predictions takes lines ts_ns,horizon,p_down,p_flat,\n"
    "p_up. Ingesting a file twice stores it once. See docs/store.md.\n"};
