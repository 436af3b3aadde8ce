/* test_source.c — feed recordings as a source of the pipeline (obi features, backtest, serve).
 *
 * The reference is the feed protocol layer driven directly here, line by line: after every
 * message that touched the symbol, with both sides of its book, the book's top levels (cut at
 * the levels known to be exact) are one expected row. `obi features --raw-book --sample every`
 * over the same recording must give exactly those rows (its source replays the symbol's events
 * into a book of its own, message by message). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "obi/feed.h"
#include "obi/npy.h"
#include "obi/recording.h"
#include "test.h"
#include "ws_server.h"

#define CRYPTO OBI_SOURCE_DIR "/data/crypto/"
#define LEVELS 5

typedef struct {
  int64_t ts;
  double row[4 * LEVELS]; /* ask price, ask size, bid price, bid size per level (the raw-book order) */
} ref_row;

typedef struct {
  const char *symbol;
  int sym, touched;
  ref_row *rows;
  size_t n, cap;
} ref_state;

static void on_event(void *ctx, int symbol_index, const obi_event *ev, const obi_book *book) {
  (void)ev, (void)book;
  ref_state *r = ctx;
  if (symbol_index == r->sym) r->touched = 1;
}

/* The recording's lines in receive-time order (WebSocket first on ties), as the feed saw them. */
static size_t reference_rows(const char *ws, const char *http, const char *symbol, uint32_t limit, ref_row **out) {
  ref_state st = {.symbol = symbol, .sym = -1};
  feed_config cfg = {.on_event = on_event, .ctx = &st, .add_unknown_symbols = 1, .snapshot_limit = limit};
  rec_reader *in[2] = {NULL, NULL};
  char why[512];
  /* the venue and the decimals: what obi replay --json reports for the symbol */
  char args[1024];
  snprintf(args, sizeof args, "replay %s %s --json", ws, http ? http : "");
  if (test_run_obi(args)) return 0;
  const char *s = strstr(test_out, symbol);
  int pd = -1, sd = -1;
  if (!s || sscanf(strstr(s, "\"price_decimals\":"), "\"price_decimals\":%d,\"size_decimals\":%d", &pd, &sd) != 2)
    return 0;
  int venue = strstr(test_out, "\"venue\":\"binance-futures\"") ? FEED_BINANCE_FUTURES
              : strstr(test_out, "\"venue\":\"binance-spot\"")  ? FEED_BINANCE_SPOT
                                                                : FEED_COINBASE_EXCHANGE;
  feed *f;
  if (feed_new(&f, venue, &cfg)) return 0;
  st.sym = feed_add_symbol(f, symbol, pd, sd);
  if (rec_open(&in[0], ws, why, sizeof why) || (http && rec_open(&in[1], http, why, sizeof why))) return 0;
  rec_line line[2];
  int have[2] = {0, 0}, connections = 0;
  double ps = pow(10, pd);
  for (;;) {
    for (int k = 0; k < 2; k++)
      if (in[k] && !have[k]) have[k] = rec_next(in[k], &line[k]) == OBI_OK;
    if (!have[0] && !have[1]) break;
    int k = !have[0] || (have[1] && line[1].recv_ns < line[0].recv_ns);
    rec_line *l = &line[k];
    have[k] = 0;
    st.touched = 0;
    if (l->kind == REC_CONNECT && connections++) feed_reset(f, l->recv_ns);
    if (l->kind == REC_RECEIVED) feed_on_message(f, l->recv_ns, l->json, l->json_len);
    if (l->kind == REC_HTTP && strstr(l->url, symbol)) feed_on_snapshot(f, st.sym, l->recv_ns, l->json, l->json_len);
    const obi_book *b = feed_book(f, st.sym);
    if (!st.touched || !book_depth(b, OBI_BID) || !book_depth(b, OBI_ASK)) continue;
    if (st.n == st.cap) st.rows = realloc(st.rows, (st.cap = st.cap ? 2 * st.cap : 1024) * sizeof *st.rows);
    ref_row *r = &st.rows[st.n++];
    memset(r, 0, sizeof *r);
    r->ts = l->recv_ns;
    for (int side = 0; side < 2; side++) {
      int64_t p[LEVELS], q[LEVELS];
      uint32_t known = feed_known_depth(f, st.sym, side);
      uint32_t got = book_top(b, side, p, q, known < LEVELS ? known : LEVELS);
      for (uint32_t i = 0; i < LEVELS && got > 0; i++) { /* a missing level: the last price, size 0 (raw-book) */
        int col = 4 * (int)i + (side == OBI_ASK ? 0 : 2);
        r->row[col] = (double)p[i < got ? i : got - 1] / ps, r->row[col + 1] = i < got ? (double)q[i] : 0;
      }
    }
  }
  rec_close(in[0]);
  rec_close(in[1]);
  feed_free(f);
  *out = st.rows;
  return st.n;
}

/* limit: the snapshots' limit= (a snapshot side with that many levels is cut off there). */
static void check_rows(const char *ws, const char *http, const char *symbol, uint32_t limit) {
  ref_row *ref = NULL;
  size_t nref = reference_rows(ws, http, symbol, limit, &ref);
  CHECK(nref > 30);
  char dir[600], args[2048], path[700];
  snprintf(dir, sizeof dir, "%s/source_%s", test_tmpdir(), symbol);
  mkdir(dir, 0700);
  snprintf(args, sizeof args,
           "features %s %s --symbol %s --raw-book --levels %d --sample every --horizons 3 --out %s/f.npy --quiet", ws,
           http ? http : "", symbol, LEVELS, dir);
  int rc = test_run_obi(args);
  if (rc) printf("# %s", test_err);
  CHECK_EQ(rc, 0);
  npy_array x = {0}, t = {0};
  char why[256];
  snprintf(path, sizeof path, "%s/f.npy", dir);
  CHECK(npy_read(&x, path, why, sizeof why) == OBI_OK);
  snprintf(path, sizeof path, "%s/f.timestamps.npy", dir);
  CHECK(npy_read(&t, path, why, sizeof why) == OBI_OK);
  /* the rows but the last ones: 3 whose horizon runs past the end, and those after the last mid
   * change (no next-change label) */
  CHECK(x.shape[0] + 3 <= nref && x.shape[0] >= nref * 3 / 4);
  CHECK_EQ(x.shape[1], 4 * LEVELS);
  /* the file's rows are the reference rows but those without complete labels (at most a horizon
   * of them at the head, those at the tail past the last horizon or mid change): consecutive */
  size_t bad = 0, j = 0;
  for (size_t i = 0; i < x.shape[0] && x.data && !bad; i++) {
    const float *row = (const float *)x.data + i * 4 * LEVELS;
    int64_t ts = ((const int64_t *)t.data)[i];
    if (i == 0) /* the rows dropped at the head: at most a horizon of them */
      while (j < nref && j < 3 && ref[j].ts != ts) j++;
    if (j == nref || ref[j].ts != ts) { /* after the first, row i is the reference row j0 + i: none skipped */
      test_fail(__FILE__, __LINE__,
                "%s row %zu (t %lld) is not the book after the symbol's next message (one skipped or added?)", symbol,
                i, (long long)ts);
      bad++;
      break;
    }
    for (int c = 0; c < 4 * LEVELS && !bad; c++)
      if (fabs(row[c] - ref[j].row[c]) > 1e-6 * fabs(ref[j].row[c]))
        bad++, test_fail(__FILE__, __LINE__,
                         "%s row %zu (t %lld), column %d: %.9g, the feed's book after that message: "
                         "%.9g",
                         symbol, i, (long long)ts, c, row[c], ref[j].row[c]);
    j++;
  }
  if (!bad) printf("# %s: %llu rows equal the feed's books\n", symbol, (unsigned long long)x.shape[0]);
  npy_free(&x);
  npy_free(&t);
  free(ref);
}

void source_recording_rows_equal_the_feed_books(void) {
  check_rows(CRYPTO "COINBASE.ws.28.0.first2000.zst", NULL, "SKL-USD", 0);
  check_rows(CRYPTO "BINANCE_FUTURES.ws.1.0.first500.zst", CRYPTO "BINANCE_FUTURES.http.0.0.zst", "SUSHIUSDT", 1000);
}

/* A snapshot of limit 3 leaves the levels beyond its worst price unknown; a diff then adds a bid
 * there (99.90, below the snapshot's 99.98) and later removes a known one. The feed's book holds
 * the unknown level; the source's book, and so every row, must not (the reference cuts the feed's
 * book at feed_known_depth, as the source must). */
void source_recording_book_cut_at_known_levels(void) {
  static char ws[1 << 15], http[1024];
  size_t n = (size_t)snprintf(ws, sizeof ws,
                              "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms <-> "
                              "1700000000.000000000\n");
  const char *env = "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\"";
  n += (size_t)snprintf(ws + n, sizeof ws - n,
                        "1700000001.000000000: %s,\"U\":101,\"u\":101,\"b\":[[\"99.90\",\"2\"]],"
                        "\"a\":[]}}\n",
                        env);
  for (int k = 0; k < 40; k++) /* the best ask comes and goes: the mid moves at every message */
    n += (size_t)snprintf(ws + n, sizeof ws - n,
                          "1700000001.%03d000000: %s,\"U\":%d,\"u\":%d,\"b\":[%s],\"a\":[[\"100.01\",\"%s\"]]}}\n",
                          k + 1, env, 102 + k, 102 + k, k == 20 ? "[\"99.99\",\"0\"]" : "", k % 2 ? "1" : "0");
  snprintf(http, sizeof http,
           "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=3 -> 1700000000.500000000: "
           "{\"lastUpdateId\":100,\"bids\":[[\"100.00\",\"1\"],[\"99.99\",\"1\"],[\"99.98\",\"1\"]],"
           "\"asks\":[[\"100.01\",\"1\"],[\"100.02\",\"1\"],[\"100.03\",\"1\"]]}\n");
  const char *wp = test_write_file("cut.ws", ws), *hp = test_write_file("cut.http", http);
  char args[2048];
  snprintf(args, sizeof args, "replay '%s' '%s' --json", wp, hp);
  CHECK_EQ(test_run_obi(args), 0); /* the case is exercised: the feed holds a level it does not know */
  CHECK_STR_CONTAINS(test_out, "\"bid_levels\":3,\"ask_levels\":3,\"known_bid_levels\":2");
  check_rows(wp, hp, "BTCUSDT", 3);
}

/* features -> train -> backtest and serve on a recording; a model of one kind of source refused
 * on the other; usage errors name what is missing. */
void source_recording_through_the_pipeline(void) {
  char dir[600], args[4096];
  snprintf(dir, sizeof dir, "%s/source_pipeline", test_tmpdir());
  mkdir(dir, 0700);
  const char *rec = CRYPTO "COINBASE.ws.28.0.first2000.zst";
  snprintf(args, sizeof args, "features %s --symbol SKL-USD --horizons 10 --out %s/f.npy --quiet --json", rec, dir);
  CHECK_EQ(test_run_obi(args), 0);
  snprintf(args, sizeof args, "%s/f.json", dir);
  const char *side = test_read_file(args);
  CHECK(side && strstr(side, "\"symbol\": \"SKL-USD\", \"venue\": \"coinbase-exchange\", \"kind\": \"recording\"") &&
        strstr(side, "\"signed_trades\": true") && strstr(side, "\"price_scale\": 10000,") &&
        strstr(side, "\"tick\": 1,"));
  snprintf(args, sizeof args, "train --model logistic --data %s/f.npy --out %s/m.safetensors --quiet", dir, dir);
  CHECK_EQ(test_run_obi(args), 0);
  snprintf(args, sizeof args,
           "backtest --model %s/m.safetensors --features %s/f.npy %s --symbol SKL-USD --clock 1 --json --quiet", dir,
           dir, rec);
  int rc = test_run_obi(args);
  if (rc) printf("# %s", test_err);
  CHECK_EQ(rc, 0);
  CHECK_STR_CONTAINS(test_out, "\"out_of_sample\":true");
  CHECK_STR_CONTAINS(test_out, "\"net_pnl\":");
  /* the same model on LOBSTER data: refused, prices are in other units */
  snprintf(args, sizeof args,
           "backtest --model %s/m.safetensors --features %s/f.npy " OBI_SOURCE_DIR
           "/data/lobster/AMZN_2012-06-21_34200000_57600000_message_10.csv.zst " OBI_SOURCE_DIR
           "/data/lobster/AMZN_2012-06-21_34200000_57600000_orderbook_10.csv.zst --quiet",
           dir, dir);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "computed from a feed recording");
  /* a recording of several symbols needs --symbol, and says which have a book */
  snprintf(args, sizeof args, "features %s --out %s/g.npy --quiet", rec, dir);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "several symbols, give --symbol; symbols with a book:");
  CHECK_STR_CONTAINS(test_err, "SKL-USD");
  snprintf(args, sizeof args, "features %s --symbol NOPE-USD --out %s/g.npy --quiet", rec, dir);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "no book for that symbol");
  /* a malformed line is skipped, counted, reported and recorded in the sidecar */
  char text[1 << 14];
  size_t used = (size_t)snprintf(text, sizeof text,
                                 "wss://ws-feed.exchange.coinbase.com <-> 1700000000.0\n"
                                 "1700000000.1: {\"type\":\"snapshot\",\"product_id\":\"BTC-USD\","
                                 "\"bids\":[[\"100.00\",\"1.0\"]],\"asks\":[[\"101.00\",\"2.0\"]]}\n");
  for (int k = 0; k < 40; k++) {
    used += (size_t)snprintf(text + used, sizeof text - used,
                             "1700000001.%03d: {\"type\":\"l2update\",\"product_id\":\"BTC-USD\",\"changes\":"
                             "[[\"buy\",\"100.%02d\",\"0.5\"]]}\n",
                             k, 10 + (k % 7) * 10);
    if (k == 20) used += (size_t)snprintf(text + used, sizeof text - used, "1700000001.500: {\"type\":\"l2upd\n");
  }
  const char *bad = test_write_file("bad_coinbase.rec", text);
  snprintf(args, sizeof args, "features '%s' --horizons 2 --out %s/bad.npy", bad, dir);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_err, "1 malformed or unusable line of the recording skipped");
  CHECK_STR_CONTAINS(test_err, "bad_coinbase.rec:24:");
  snprintf(args, sizeof args, "%s/bad.json", dir);
  side = test_read_file(args);
  CHECK(side && strstr(side, "\"skipped_lines\": 1,"));
  /* serve: the replay runs to its end; predictions were made for the recording's symbol */
  snprintf(args, sizeof args,
           "serve --model %s/m.safetensors --features %s/f.npy %s --symbol SKL-USD --port 0 --speed 0 --duration 2 "
           "--store sqlite:%s/s.db --quiet",
           dir, dir, rec, dir);
  rc = test_run_obi(args);
  if (rc) printf("# %s", test_err);
  CHECK_EQ(rc, 0);
  snprintf(args, sizeof args, "query --store sqlite:%s/s.db predictions --symbol SKL-USD", dir);
  CHECK_EQ(test_run_obi(args), 0);
  int lines = 0;
  for (const char *p = test_out; *p; p++) lines += *p == '\n';
  CHECK(lines > 100); /* the header and a prediction per sampled row */
}

/* ---- a live feed as the source of obi serve ---------------------------------------------- */

static const char *const MARKET_SYMS[] = {"BTCUSDT"};

/* The same market twice (same seed, same script): 300 events and a trade every 5th. */
static void market_script(ws_server *s) {
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, MARKET_SYMS, 1, 23);
  for (int i = 0; i < 3; i++) ws_server_market_event(s, 0);
  ws_server_market_gate(s, 0);
  for (int i = 0; i < 300; i++) {
    ws_server_market_event(s, 0);
    if (i % 5 == 0) ws_server_market_trade(s, 0);
  }
}

/* A model trained on a recording of the market; `obi serve --binance` on a second run of the
 * same market: as many predictions as `obi serve` makes on the recording (one per message with a
 * two-sided book), and the last stored book snapshot equals the market's true book. */
void source_serve_live_binance_market(void) {
  char dir[600], args[4096], rec[700], http[700];
  snprintf(dir, sizeof dir, "%s/source_live", test_tmpdir());
  mkdir(dir, 0700);
  snprintf(rec, sizeof rec, "%s/m.jsonl.zst", dir);
  snprintf(http, sizeof http, "%s/m.jsonl.http.zst", dir);
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  market_script(s);
  int port = ws_server_port(s);
  snprintf(args, sizeof args,
           "record --binance btcusdt --endpoint ws://127.0.0.1:%d --rest-endpoint http://127.0.0.1:%d --out '%s' "
           "--duration 1.5 --quiet",
           port, port, rec);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_EQ(ws_server_pending(s), 0);
  ws_server_stop(s);
  snprintf(args, sizeof args, "features '%s' '%s' --venue binance-spot --horizons 5 --out %s/f.npy --quiet", rec, http,
           dir);
  int rc = test_run_obi(args);
  if (rc) printf("# %s", test_err);
  CHECK_EQ(rc, 0);
  snprintf(args, sizeof args, "train --model logistic --data %s/f.npy --out %s/m.safetensors --quiet", dir, dir);
  CHECK_EQ(test_run_obi(args), 0);
  /* the recording through obi serve */
  snprintf(args, sizeof args,
           "serve --model %s/m.safetensors --features %s/f.npy '%s' '%s' --venue binance-spot --port 0 --speed 0 "
           "--duration 1.5 "
           "--store sqlite:%s/replay.db --quiet",
           dir, dir, rec, http, dir);
  CHECK_EQ(test_run_obi(args), 0);
  snprintf(args, sizeof args, "query --store sqlite:%s/replay.db predictions --symbol BTCUSDT", dir);
  CHECK_EQ(test_run_obi(args), 0);
  int replayed = 0;
  for (const char *p = test_out; *p; p++) replayed += *p == '\n';
  CHECK(replayed > 200);
  /* the live market again */
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  market_script(s);
  port = ws_server_port(s);
  snprintf(args, sizeof args,
           "serve --model %s/m.safetensors --features %s/f.npy --binance btcusdt --endpoint ws://127.0.0.1:%d "
           "--rest-endpoint http://127.0.0.1:%d --port 0 --duration 3 --store sqlite:%s/live.db",
           dir, dir, port, port, dir);
  rc = test_run_obi(args);
  static char serve_said[2048];
  snprintf(serve_said, sizeof serve_said, "%.1000s %.1000s", test_out, test_err);
  if (rc) printf("# %s", test_err);
  CHECK_EQ(rc, 0);
  CHECK_EQ(ws_server_pending(s), 0);
  long long tp[2][10], ts[2][10];
  int tn[2];
  for (int side = 0; side < 2; side++) tn[side] = ws_server_market_book(s, 0, side, tp[side], ts[side], 10);
  ws_server_stop(s);
  snprintf(args, sizeof args, "query --store sqlite:%s/live.db predictions --symbol BTCUSDT", dir);
  CHECK_EQ(test_run_obi(args), 0);
  int live_rows = 0;
  for (const char *p = test_out; *p; p++) live_rows += *p == '\n';
  if (live_rows <= 100) printf("# serve said: %s\n", serve_said);
  /* one prediction per message once the book is synced; the diffs that arrive while the REST
   * snapshot is in flight are applied with it (one update), so the count moves with timing by a
   * few between runs: the recording's run and this one */
  CHECK(live_rows > 100 && live_rows <= 362); /* at most one per event or trade message */
  snprintf(args, sizeof args, "query --store sqlite:%s/live.db books --symbol BTCUSDT --json", dir);
  CHECK_EQ(test_run_obi(args), 0);
  const char *last = strrchr(test_out, '{'); /* the last snapshot: the book as the run ended */
  CHECK(last != NULL);
  if (last) {
    char want[1024];
    size_t used = (size_t)snprintf(want, sizeof want, "\"bid_px\":[");
    for (int k = 0; k < tn[0]; k++)
      used += (size_t)snprintf(want + used, sizeof want - used, "%s%lld", k ? "," : "", tp[0][k]);
    printf("# live: %d predictions (the replay of the recording: %d); last snapshot %.60s\n", live_rows - 1,
           replayed - 1, last);
    used += (size_t)snprintf(want + used, sizeof want - used, "],\"bid_sz\":[");
    for (int k = 0; k < tn[0]; k++)
      used += (size_t)snprintf(want + used, sizeof want - used, "%s%lld", k ? "," : "", ts[0][k]);
    used += (size_t)snprintf(want + used, sizeof want - used, "],\"ask_px\":[");
    for (int k = 0; k < tn[1]; k++)
      used += (size_t)snprintf(want + used, sizeof want - used, "%s%lld", k ? "," : "", tp[1][k]);
    used += (size_t)snprintf(want + used, sizeof want - used, "],\"ask_sz\":[");
    for (int k = 0; k < tn[1]; k++)
      used += (size_t)snprintf(want + used, sizeof want - used, "%s%lld", k ? "," : "", ts[1][k]);
    CHECK(tn[0] == 10 && tn[1] == 10);
    CHECK_STR_CONTAINS(last, want); /* the market's true book, prices and sizes of the top 10 levels */
  }
  /* a live feed needs a model of a feed recording */
  snprintf(args, sizeof args, "serve --model %s/m.safetensors --features %s/f.npy --binance btcusdt 'x' --port 0", dir,
           dir);
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "a live feed takes no files");
}
