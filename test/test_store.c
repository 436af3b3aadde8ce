/* test_store.c — one suite run against both obi_store backends: SQLite in a temporary file,
 * and PostgreSQL in a throwaway cluster this file starts itself (initdb in a temporary
 * directory, a free loopback port, stopped and removed at exit). The PostgreSQL cases
 * skip, saying why, only when the server binaries are missing. */
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../src/io/store_internal.h"
#include "obi/lobster.h"
#include "obi/npy.h"
#include "obi/store.h"
#include "obi/textin.h"
#include "pg_cluster.h"
#include "test.h"

/* ---- targets: a fresh database per case ---- */

typedef struct {
  char url[512], spool[512];
  store_options opt;
} target;

/* A fresh SQLite file or PostgreSQL database called name; 0, or -1 (the test is skipped). */
static int target_new(target *t, int postgres, const char *name) {
  memset(t, 0, sizeof *t);
  snprintf(t->spool, sizeof t->spool, "%s/%s.spool", test_tmpdir(), name);
  unlink(t->spool);
  t->opt.spool_path = t->spool;
  if (!postgres) {
    snprintf(t->url, sizeof t->url, "sqlite:%s/%s.db", test_tmpdir(), name);
    return 0;
  }
  const char *why = pg_up();
  if (why) {
    test_skip(why);
    return -1;
  }
  char sql[256];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
  pg_sql("postgres", sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
  if (pg_sql("postgres", sql)) return test_fail(__FILE__, __LINE__, "cannot create database %s", name), -1;
  snprintf(t->url, sizeof t->url, "postgresql://postgres@127.0.0.1:%d/%s", pg.port, name);
  return 0;
}

#define OPEN(s, t)                                                                                                     \
  do {                                                                                                                 \
    char why_[1024];                                                                                                   \
    if (store_open(&(s), (t)->url, &(t)->opt, why_, sizeof why_) != OBI_OK) {                                          \
      test_fail(__FILE__, __LINE__, "store_open: %s", why_);                                                           \
      return;                                                                                                          \
    }                                                                                                                  \
  } while (0)

#define FLUSH(s)                                                                                                       \
  do {                                                                                                                 \
    if (store_flush((s), 20000) != OBI_OK) {                                                                           \
      test_fail(__FILE__, __LINE__, "store_flush: %s", store_errmsg(s));                                               \
      store_close(s);                                                                                                  \
      return;                                                                                                          \
    }                                                                                                                  \
  } while (0)

static const int64_t T0 = 1718000000000000000LL; /* 2024-06-10 */
static const int64_t DAY = 86400000000000LL;

static void prediction(store_prediction *p, const char *sym, int64_t ts, int seq) {
  memset(p, 0, sizeof *p);
  snprintf(p->instrument, sizeof p->instrument, "%s", sym);
  p->ts_ns = ts;
  p->seq = seq;
  snprintf(p->model, sizeof p->model, "lstm-%d", seq % 3);
  p->horizon = 10 + seq % 2 * 10;
  p->p_down = 0.1f + (float)(seq % 7) * 0.01f;
  p->p_up = 0.3f - (float)(seq % 5) * 0.013f;
  p->p_flat = 1.0f - p->p_down - p->p_up;
}

/* ---- the cases, each for both backends ---- */

static void round_trip(int postgres) {
  target t;
  if (target_new(&t, postgres, "round_trip")) return;
  obi_store *s;
  OPEN(s, &t);
  store_prediction pr[3];
  for (int i = 0; i < 3; i++) prediction(&pr[i], "BTCUSDT", T0 + i * DAY / 2, i), store_put_prediction(s, &pr[i]);
  store_fill fl[2];
  memset(fl, 0, sizeof fl);
  for (int i = 0; i < 2; i++) {
    snprintf(fl[i].run_id, sizeof fl[i].run_id, "run\t\\%d\n", 7); /* COPY's escapes */
    snprintf(fl[i].instrument, sizeof fl[i].instrument, "ETH-USD");
    fl[i].ts_ns = T0 + i;
    fl[i].seq = i;
    snprintf(fl[i].order_id, sizeof fl[i].order_id, "o%d", 100 + i);
    fl[i].side = i ? -1 : 1;
    fl[i].price = 312345 + i;
    fl[i].size = 3 - i;
    fl[i].fee = -0.0123456789012345;
    store_put_fill(s, &fl[i]);
  }
  store_book_snapshot bk[2];
  memset(bk, 0, sizeof bk);
  for (int i = 0; i < 2; i++) {
    snprintf(bk[i].instrument, sizeof bk[i].instrument, "BTCUSDT");
    bk[i].ts_ns = T0 + 1000 * i;
    bk[i].depth = i ? STORE_MAX_LEVELS : 3;
    for (int l = 0; l < bk[i].depth; l++)
      bk[i].bid_px[l] = 6000000 - l, bk[i].ask_px[l] = 6000001 + l, bk[i].bid_sz[l] = l + 1,
      bk[i].ask_sz[l] = (int64_t)1 << (40 + l % 20);
    store_put_book_snapshot(s, &bk[i]);
  }
  store_trade tr[2];
  memset(tr, 0, sizeof tr);
  for (int i = 0; i < 2; i++) {
    snprintf(tr[i].instrument, sizeof tr[i].instrument, "BTCUSDT");
    tr[i].ts_ns = T0 - i; /* the day before: another partition */
    tr[i].seq = 5;
    tr[i].price = 42;
    tr[i].size = 7 + i;
    tr[i].side = i ? -1 : 1;
    store_put_trade(s, &tr[i]);
  }
  store_feature_row *fe = calloc(2, sizeof *fe);
  CHECK(fe);
  for (int i = 0; i < 2; i++) {
    snprintf(fe[i].instrument, sizeof fe[i].instrument, "BTCUSDT");
    fe[i].ts_ns = T0 + i;
    fe[i].version = 3;
    fe[i].n = i ? STORE_MAX_FEATURES : 10;
    for (int c = 0; c < fe[i].n; c++) fe[i].vals[c] = (float)c / 3.0f - 1e-7f * (float)c * (float)c;
    store_put_feature_row(s, &fe[i]);
  }
  store_model_entry *md = calloc(2, sizeof *md);
  CHECK(md);
  for (int i = 0; i < 2; i++) {
    snprintf(md[i].file_hash, sizeof md[i].file_hash, "%064d", i);
    snprintf(md[i].name, sizeof md[i].name, "deeplob");
    md[i].created_ns = T0 + i;
    snprintf(md[i].config, sizeof md[i].config, "{\"hidden\": %d, \"quote\": \"it's\"}", 32 << i);
    snprintf(md[i].metrics, sizeof md[i].metrics, "{\"f1\": 0.5%d}", i);
    store_put_model(s, &md[i]);
  }
  store_backtest_result bt[2];
  memset(bt, 0, sizeof bt);
  for (int i = 0; i < 2; i++) {
    snprintf(bt[i].run_id, sizeof bt[i].run_id, "run-%d", i);
    snprintf(bt[i].instrument, sizeof bt[i].instrument, "AMZN");
    bt[i].created_ns = T0;
    bt[i].pnl = 1234.5 * (i + 1);
    bt[i].sharpe = 1.0 / 3.0;
    bt[i].max_drawdown = -99.25;
    bt[i].n_trades = 17 + i;
    snprintf(bt[i].metrics, sizeof bt[i].metrics, "{\"trades\": %d}", 17 + i);
    store_put_backtest_result(s, &bt[i]);
  }
  FLUSH(s);

  size_t n;
  store_prediction *qp;
  CHECK(store_query_predictions(s, "BTCUSDT", T0, T0 + DAY, &qp, &n) == OBI_OK);
  CHECK_EQ(n, 2); /* the third is a day later: outside [from, to) */
  CHECK(!memcmp(qp, pr, 2 * sizeof *pr));
  free(qp);
  CHECK(store_query_predictions(s, NULL, INT64_MIN, INT64_MAX, &qp, &n) == OBI_OK);
  CHECK_EQ(n, 3);
  CHECK(!memcmp(qp, pr, 3 * sizeof *pr));
  free(qp);
  CHECK(store_query_predictions(s, "NOPE", INT64_MIN, INT64_MAX, &qp, &n) == OBI_OK);
  CHECK(n == 0 && qp == NULL);
  store_fill *qf;
  CHECK(store_query_fills(s, fl[0].run_id, INT64_MIN, INT64_MAX, &qf, &n) == OBI_OK);
  CHECK_EQ(n, 2);
  CHECK(!memcmp(qf, fl, sizeof fl));
  free(qf);
  store_book_snapshot *qb;
  CHECK(store_query_book_snapshots(s, "BTCUSDT", INT64_MIN, INT64_MAX, &qb, &n) == OBI_OK);
  CHECK_EQ(n, 2);
  CHECK(!memcmp(qb, bk, sizeof bk));
  free(qb);
  store_trade *qt;
  CHECK(store_query_trades(s, "BTCUSDT", INT64_MIN, INT64_MAX, &qt, &n) == OBI_OK);
  CHECK_EQ(n, 2);
  CHECK(!memcmp(&qt[0], &tr[1], sizeof *tr) && !memcmp(&qt[1], &tr[0], sizeof *tr)); /* ordered by time */
  free(qt);
  store_feature_row *qe;
  CHECK(store_query_feature_rows(s, "BTCUSDT", INT64_MIN, INT64_MAX, &qe, &n) == OBI_OK);
  CHECK_EQ(n, 2);
  CHECK(!memcmp(qe, fe, 2 * sizeof *fe));
  free(qe);
  free(fe);
  store_model_entry *qm;
  CHECK(store_query_models(s, "deeplob", &qm, &n) == OBI_OK);
  CHECK_EQ(n, 2);
  CHECK(!memcmp(qm, md, 2 * sizeof *md));
  free(qm);
  free(md);
  store_backtest_result *qr;
  CHECK(store_query_backtest_results(s, "run-1", &qr, &n) == OBI_OK);
  CHECK_EQ(n, 1);
  CHECK(!memcmp(qr, &bt[1], sizeof *bt));
  free(qr);
  store_stats st;
  store_get_stats(s, &st);
  CHECK_EQ(st.put, 15);
  CHECK_EQ(st.written, 15);
  CHECK_EQ(st.spooled, 0);
  CHECK_EQ(st.pending, 0);
  store_close(s);
}

static void migrations_idempotent(int postgres) {
  target t;
  if (target_new(&t, postgres, "migrations")) return;
  obi_store *s;
  OPEN(s, &t);
  CHECK(!strcmp(store_backend(s), postgres ? "postgresql" : "sqlite"));
  store_prediction p;
  prediction(&p, "X", T0, 1);
  store_put_prediction(s, &p);
  store_close(s); /* closing writes what is queued */
  for (int round = 0; round < 2; round++) {
    OPEN(s, &t);
    int v = -1;
    int64_t n = -1;
    CHECK(store_schema_version(s, &v) == OBI_OK);
    CHECK_EQ(v, STORE_SCHEMA_VERSION);
    CHECK(store_count(s, "predictions", &n) == OBI_OK);
    CHECK_EQ(n, 1);
    CHECK(store_count(s, "schema_versions", &n) == OBI_EINVAL);
    CHECK_STR_CONTAINS(store_errmsg(s), "schema_versions");
    store_close(s);
  }
}

static void idempotent_keys(int postgres) {
  target t;
  if (target_new(&t, postgres, "idempotent")) return;
  t.opt.batch_rows = 64;
  obi_store *s;
  OPEN(s, &t);
  store_prediction p;
  for (int i = 0; i < 500; i++) prediction(&p, "BTCUSDT", T0 + i * 1000, i), store_put_prediction(s, &p);
  FLUSH(s);
  for (int i = 0; i < 600; i++) prediction(&p, "BTCUSDT", T0 + i * 1000, i), store_put_prediction(s, &p);
  for (int i = 0; i < 600; i++) prediction(&p, "BTCUSDT", T0 + i * 1000, i), store_put_prediction(s, &p);
  FLUSH(s);
  int64_t n;
  CHECK(store_count(s, "predictions", &n) == OBI_OK);
  CHECK_EQ(n, 600);
  store_close(s);
}

/* Checksum of the keys and values of predictions, order-independent. */
static uint64_t row_hash(const store_prediction *p) {
  uint64_t h = 1469598103934665603ULL;
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < sizeof *p; i++) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

/* The batch writes fail (as if the connection had dropped) for a while: rows go to the
 * spool and arrive once; then a store closed while failing leaves its spool to the next. */
static void spool_replays_exactly_once(int postgres) {
  target t;
  if (target_new(&t, postgres, "spool")) return;
  t.opt.batch_rows = 100;
  t.opt.queue_rows = 256;
  obi_store *s;
  OPEN(s, &t);
  store__inject_failures(s, 4);
  store_prediction p;
  uint64_t want = 0;
  for (int i = 0; i < 3000; i++) {
    prediction(&p, "ETHUSDT", T0 + (int64_t)i * 60000000000LL, i);
    want += row_hash(&p);
    CHECK(store_put_prediction(s, &p) == OBI_OK);
  }
  FLUSH(s);
  store_stats st;
  store_get_stats(s, &st);
  CHECK(st.spooled > 0);
  CHECK(st.replays >= 1);
  CHECK(access(t.spool, F_OK) != 0); /* replayed whole and removed */
  store_prediction *q;
  size_t n;
  CHECK(store_query_predictions(s, "ETHUSDT", INT64_MIN, INT64_MAX, &q, &n) == OBI_OK);
  CHECK_EQ(n, 3000);
  uint64_t got = 0;
  for (size_t i = 0; i < n; i++) got += row_hash(&q[i]);
  free(q);
  CHECK(got == want);

  store__inject_failures(s, 1000000); /* down for good: close leaves a spool */
  for (int i = 3000; i < 3100; i++) prediction(&p, "ETHUSDT", T0 + i, i), store_put_prediction(s, &p);
  CHECK(store_flush(s, 200) == OBI_EIO);
  CHECK_STR_CONTAINS(store_errmsg(s), "rows not written");
  CHECK_STR_CONTAINS(store_errmsg(s), t.spool);
  store_close(s);
  CHECK(access(t.spool, F_OK) == 0);
  OPEN(s, &t);
  FLUSH(s);
  int64_t count;
  CHECK(store_count(s, "predictions", &count) == OBI_OK);
  CHECK_EQ(count, 3100);
  store_close(s);
}

static void bad_urls(int postgres) {
  obi_store *s = (obi_store *)1;
  char why[1024];
  if (!postgres) {
    CHECK(store_open(&s, "mysql://db/x", NULL, why, sizeof why) == OBI_EINVAL);
    CHECK(s == NULL);
    CHECK_STR_CONTAINS(why, "mysql://db/x");
    CHECK(store_open(&s, "sqlite:/nonexistent/dir/obi.db", NULL, why, sizeof why) == OBI_EIO);
    CHECK_STR_CONTAINS(why, "/nonexistent/dir/obi.db");
    return;
  }
  char url[256];
  snprintf(url, sizeof url, "postgresql://obi:secret@127.0.0.1:%d/obi?connect_timeout=2", free_port());
  CHECK(store_open(&s, url, NULL, why, sizeof why) == OBI_EIO);
  CHECK_STR_CONTAINS(why, "cannot connect");
  CHECK_STR_CONTAINS(why, "obi:***@127.0.0.1");
  CHECK(!strstr(why, "secret"));
  CHECK(store_open(&s, "postgresql://127.0.0.1:notaport/x", NULL, why, sizeof why) == OBI_EIO);
  CHECK_STR_CONTAINS(why, "postgresql://127.0.0.1:notaport/x");
}

void store_sqlite_round_trip(void) { round_trip(0); }
void store_sqlite_migrations_idempotent(void) { migrations_idempotent(0); }
void store_sqlite_idempotent_keys(void) { idempotent_keys(0); }
void store_sqlite_spool_replays_exactly_once(void) { spool_replays_exactly_once(0); }
void store_sqlite_bad_url(void) { bad_urls(0); }
void store_pg_round_trip(void) { round_trip(1); }
void store_pg_migrations_idempotent(void) { migrations_idempotent(1); }
void store_pg_idempotent_keys(void) { idempotent_keys(1); }
void store_pg_spool_replays_exactly_once(void) { spool_replays_exactly_once(1); }
void store_pg_bad_connection_string(void) { bad_urls(1); }

/* The server is stopped in the middle of a write stream and started again: every row
 * arrives exactly once (count and checksum), and the writer never blocked the puts on
 * the network. */
void store_pg_server_restart_exactly_once(void) {
  target t;
  if (target_new(&t, 1, "restart")) return;
  t.opt.batch_rows = 200;
  obi_store *s;
  OPEN(s, &t);
  store_prediction p;
  uint64_t want = 0;
  const int N = 12000;
  for (int i = 0; i < N; i++) {
    if (i == 3000) CHECK(pg_ctl("-m fast stop") == 0);
    if (i == 8000) CHECK(pg_ctl("start") == 0);
    prediction(&p, i % 2 ? "BTCUSDT" : "ETHUSDT", T0 + (int64_t)i * 20000000000LL, i);
    want += row_hash(&p);
    CHECK(store_put_prediction(s, &p) == OBI_OK);
  }
  FLUSH(s);
  store_stats st;
  store_get_stats(s, &st);
  CHECK(st.spooled > 0); /* the outage was seen */
  CHECK(st.replays >= 1);
  int64_t count;
  CHECK(store_count(s, "predictions", &count) == OBI_OK);
  CHECK_EQ(count, N);
  store_prediction *q;
  size_t n;
  CHECK(store_query_predictions(s, NULL, INT64_MIN, INT64_MAX, &q, &n) == OBI_OK);
  CHECK_EQ(n, N);
  uint64_t got = 0;
  for (size_t i = 0; i < n; i++) got += row_hash(&q[i]);
  free(q);
  CHECK(got == want);
  store_close(s);
}

/* A role that may read but not insert: open works (no DDL needed), the write fails with a
 * message naming the URL and the table, and the rows stay in the spool. */
void store_pg_permission_error(void) {
  target t;
  if (target_new(&t, 1, "perm")) return;
  obi_store *s;
  OPEN(s, &t);
  store_prediction p;
  prediction(&p, "BTCUSDT", T0, 0);
  store_put_prediction(s, &p); /* the owner creates the day's partition */
  FLUSH(s);
  store_close(s);
  pg_sql("perm", "DROP ROLE IF EXISTS obi_reader");
  CHECK(pg_sql("perm", "CREATE ROLE obi_reader LOGIN") == 0);
  CHECK(pg_sql("perm", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO obi_reader") == 0);
  target r = t;
  snprintf(r.url, sizeof r.url, "postgresql://obi_reader@127.0.0.1:%d/perm", pg.port);
  OPEN(s, &r);
  prediction(&p, "BTCUSDT", T0 + 5, 1);
  store_put_prediction(s, &p);
  CHECK(store_flush(s, 10000) == OBI_EIO);
  CHECK_STR_CONTAINS(store_errmsg(s), "obi_reader@127.0.0.1");
  CHECK_STR_CONTAINS(store_errmsg(s), "permission denied for table predictions");
  CHECK_STR_CONTAINS(store_errmsg(s), r.spool);
  int64_t n;
  CHECK(store_count(s, "predictions", &n) == OBI_OK); /* reading is allowed */
  CHECK_EQ(n, 1);
  store_close(s);
  CHECK(access(r.spool, F_OK) == 0);
}

/* obi ingest / obi query end to end: twice the same file stores it once. */
static void cli_ingest_query(int postgres) {
  target t;
  if (target_new(&t, postgres, "cli")) return;
  const char *csv = test_write_file("preds.csv", "ts_ns,horizon,p_down,p_flat,p_up\n"
                                                 "1718000000000000000,10,0.25,0.5,0.25\n"
                                                 "1718000000000000001,10,0.125,0.75,0.125\n"
                                                 "1718000000000000002,20,0.5,0.25,0.25\n");
  char args[2048];
  snprintf(args, sizeof args, "ingest --store '%s' --symbol BTCUSDT --predictions '%s' --model m1", t.url, csv);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "ingested 3 rows into predictions");
  CHECK_EQ(test_run_obi(args), 0);
  char npy[600];
  snprintf(npy, sizeof npy, "%s/store_ingest.timestamps.npy", test_tmpdir());
  npy_writer w;
  int64_t ts[2] = {T0 + 7, T0 + 9};
  CHECK(npy_open(&w, npy, "<i8", 0) == OBI_OK && npy_append(&w, ts, 2) == OBI_OK && npy_close(&w) == OBI_OK);
  snprintf(npy, sizeof npy, "%s/store_ingest.npy", test_tmpdir());
  float x[6] = {1, 2, 3, 4, 5, 6};
  CHECK(npy_open(&w, npy, "<f4", 3) == OBI_OK && npy_append(&w, x, 2) == OBI_OK && npy_close(&w) == OBI_OK);
  snprintf(args, sizeof args, "ingest --store '%s' --symbol BTCUSDT '%s' --json", t.url, npy);
  int rc = test_run_obi(args);
  if (rc) printf("# %s", test_err);
  CHECK_EQ(rc, 0);
  CHECK_STR_CONTAINS(test_out, "\"table\":\"features\",\"rows\":2");
  obi_store *s;
  OPEN(s, &t);
  store_feature_row *fr;
  size_t n;
  CHECK(store_query_feature_rows(s, "BTCUSDT", INT64_MIN, INT64_MAX, &fr, &n) == OBI_OK);
  CHECK_EQ(n, 2);
  CHECK(fr[1].ts_ns == T0 + 9 && fr[1].seq == 1 && fr[1].n == 3 && fr[1].vals[2] == 6.0f && fr[1].version == 1);
  free(fr);
  store_close(s);
  snprintf(args, sizeof args, "query --store '%s' predictions --symbol BTCUSDT --from 1718000000000000001 --json",
           t.url);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "[{\"instrument\":\"BTCUSDT\",\"ts_ns\":1718000000000000001,\"seq\":3,\"model\":\"m1\","
                               "\"horizon\":10,\"p_down\":0.125,\"p_flat\":0.75,\"p_up\":0.125},");
  CHECK(!strstr(test_out, "1718000000000000000"));
  snprintf(args, sizeof args, "query --store '%s' predictions", t.url);
  CHECK_EQ(test_run_obi(args), 0);
  int lines = 0;
  for (const char *p = test_out; *p; p++) lines += *p == '\n';
  CHECK_EQ(lines, 4); /* the header and three rows: the second ingest added none */
  CHECK_EQ(test_run_obi("query --store sqlite:/nonexistent/x.db predictions"), 1);
  CHECK_STR_CONTAINS(test_err, "/nonexistent/x.db");
  CHECK_EQ(test_run_obi("query --store 'mysql://h/db' predictions"), 1);
  CHECK_STR_CONTAINS(test_err, "mysql://h/db");
}

/* obi ingest of market data. LOBSTER: the level-10 sample; every stored trade is an execution
 * of the message file with the aggressor opposite the resting side, and every book snapshot
 * equals the orderbook file's row (the exchange's book) after the last message of its
 * timestamp, on a one-second clock. A recording: the Binance spot excerpt, whose instruments,
 * trades per symbol and last book tops equal what `obi replay --json` reports. Ingesting twice
 * stores everything once. */
#define LOB OBI_SOURCE_DIR "/data/lobster/AMZN_2012-06-21_34200000_57600000_"
#define BINANCE_WS OBI_SOURCE_DIR "/data/crypto/BINANCE.ws.1.0.zst"
#define BINANCE_HTTP OBI_SOURCE_DIR "/data/crypto/BINANCE.http.0.0.zst"

typedef struct {
  int64_t ts;
  int64_t row[40];
} lob_state;

/* The states after each timestamp group of the LOBSTER pair (the orderbook row of its last
 * message) and its executions, read straight from the files. */
static size_t lobster_truth(lob_state **states, store_trade **trades, size_t *ntrades) {
  obi_textin *m, *b;
  int found;
  int64_t day = lobster_day_start_ns(LOB "message_10.csv", &found);
  if (obi_textin_open(&m, LOB "message_10.csv.zst") || obi_textin_open(&b, LOB "orderbook_10.csv.zst")) return 0;
  size_t n = 0, cap = 1 << 16, tcap = 1 << 14;
  *states = malloc(cap * sizeof **states), *trades = malloc(tcap * sizeof **trades), *ntrades = 0;
  const char *ml, *bl;
  size_t mlen, blen;
  char why[256];
  while (obi_textin_line(m, &ml, &mlen) == OBI_OK && obi_textin_line(b, &bl, &blen) == OBI_OK) {
    lobster_msg msg;
    int64_t row[40];
    if (lobster_parse_message(ml, mlen, &msg, why, sizeof why) ||
        lobster_parse_book_row(bl, blen, 10, row, why, sizeof why) != 10)
      break;
    int64_t ts = day + msg.time_ns;
    if (!n || (*states)[n - 1].ts != ts) {
      if (n == cap) *states = realloc(*states, (cap *= 2) * sizeof **states);
      n++;
    }
    (*states)[n - 1].ts = ts;
    memcpy((*states)[n - 1].row, row, sizeof row);
    if (msg.type == 4 || msg.type == 5) {
      if (*ntrades == tcap) *trades = realloc(*trades, (tcap *= 2) * sizeof **trades);
      /* direction 1: a buy limit order was hit, by a seller */
      (*trades)[(*ntrades)++] =
          (store_trade){.ts_ns = ts, .price = msg.price, .size = msg.size, .side = -msg.direction};
    }
  }
  obi_textin_close(m);
  obi_textin_close(b);
  return n;
}

static void check_lobster_ingest(const target *t) {
  lob_state *st;
  store_trade *tr;
  size_t ntr, ns = lobster_truth(&st, &tr, &ntr);
  CHECK(ns > 1000 && ntr > 500);
  obi_store *s;
  OPEN(s, t);
  store_instrument *in;
  store_book_snapshot *bk;
  store_trade *qt;
  size_t n, nb, nt;
  CHECK(store_query_instruments(s, NULL, &in, &n) == OBI_OK);
  CHECK(n == 1 && !strcmp(in[0].symbol, "AMZN") && in[0].tick_size == 1e-4 && in[0].lot_size == 1 &&
        !strcmp(in[0].venue, "lobster"));
  free(in);
  CHECK(store_query_trades(s, "AMZN", INT64_MIN, INT64_MAX, &qt, &nt) == OBI_OK);
  CHECK_EQ(nt, ntr);
  for (size_t i = 0; i < nt && i < ntr; i++)
    if (qt[i].ts_ns != tr[i].ts_ns || qt[i].seq != (int32_t)i + 1 || qt[i].price != tr[i].price ||
        qt[i].size != tr[i].size || qt[i].side != tr[i].side) {
      test_fail(__FILE__, __LINE__, "trade %zu: %lld %d %lld x %lld side %d, expected %lld %lld x %lld side %d", i,
                (long long)qt[i].ts_ns, qt[i].seq, (long long)qt[i].price, (long long)qt[i].size, qt[i].side,
                (long long)tr[i].ts_ns, (long long)tr[i].price, (long long)tr[i].size, tr[i].side);
      break;
    }
  free(qt);
  CHECK(store_query_book_snapshots(s, "AMZN", INT64_MIN, INT64_MAX, &bk, &nb) == OBI_OK);
  /* the clock: the first group at or after each whole second */
  size_t want = 0, k = 0;
  int64_t next = INT64_MIN;
  for (size_t i = 0; i < ns; i++) {
    if (st[i].ts < next) continue;
    next = (st[i].ts / 1000000000 + 1) * 1000000000;
    if (k < nb) {
      const store_book_snapshot *r = &bk[k];
      int same = r->ts_ns == st[i].ts && r->seq == (int32_t)k + 1 && r->depth == 10;
      for (int l = 0; l < 10 && same; l++) /* LOBSTER rows: ask price, ask size, bid price, bid size */
        same = r->ask_px[l] == st[i].row[4 * l] && r->ask_sz[l] == st[i].row[4 * l + 1] &&
               r->bid_px[l] == st[i].row[4 * l + 2] && r->bid_sz[l] == st[i].row[4 * l + 3];
      if (!same) {
        test_fail(__FILE__, __LINE__, "snapshot %zu at %lld differs from the orderbook row at %lld", k,
                  (long long)r->ts_ns, (long long)st[i].ts);
        k = nb;
      }
    }
    k++, want++;
  }
  CHECK_EQ(nb, want);
  printf("# LOBSTER: %zu trades, %zu snapshots\n", nt, nb);
  free(bk);
  free(st);
  free(tr);
  store_close(s);
}

/* Per symbol of `obi replay --json`: trades, and the final best bid and ask in ticks. */
static void check_recording_ingest(const target *t, const char *replay_json) {
  json_error_t je;
  json_t *o = json_loads(replay_json, 0, &je), *syms = json_object_get(o, "symbols"), *e;
  CHECK(json_array_size(syms) == 4);
  obi_store *s;
  OPEN(s, t);
  store_instrument *in;
  size_t n, i;
  CHECK(store_query_instruments(s, NULL, &in, &n) == OBI_OK);
  CHECK_EQ(n, json_array_size(syms) + 1); /* and AMZN */
  json_array_foreach(syms, i, e) {
    const char *sym = json_string_value(json_object_get(e, "symbol"));
    int pd = (int)json_integer_value(json_object_get(e, "price_decimals"));
    int sd = (int)json_integer_value(json_object_get(e, "size_decimals"));
    size_t j = 0;
    while (j < n && strcmp(in[j].symbol, sym)) j++;
    if (j == n) {
      test_fail(__FILE__, __LINE__, "instrument %s not stored", sym);
      continue;
    }
    CHECK(fabs(in[j].tick_size - pow(10, -pd)) < 1e-18 && fabs(in[j].lot_size - pow(10, -sd)) < 1e-18);
    CHECK(!strcmp(in[j].venue, "binance-spot"));
    store_trade *tr;
    size_t nt;
    CHECK(store_query_trades(s, sym, INT64_MIN, INT64_MAX, &tr, &nt) == OBI_OK);
    CHECK_EQ((long long)nt, (long long)json_integer_value(json_object_get(e, "trades")));
    free(tr);
    store_book_snapshot *bk;
    size_t nb;
    CHECK(store_query_book_snapshots(s, sym, INT64_MIN, INT64_MAX, &bk, &nb) == OBI_OK);
    CHECK(nb > 0);
    if (nb && json_is_true(json_object_get(e, "synced"))) { /* --sample every: the last one is the final book */
      double bid = atof(json_string_value(json_object_get(e, "best_bid")));
      double ask = atof(json_string_value(json_object_get(e, "best_ask")));
      CHECK_EQ(bk[nb - 1].bid_px[0], llround(bid * pow(10, pd)));
      CHECK_EQ(bk[nb - 1].ask_px[0], llround(ask * pow(10, pd)));
      CHECK(bk[nb - 1].depth == 10 ||
            bk[nb - 1].depth == (int)json_integer_value(json_object_get(e, "known_bid_levels")));
    }
    for (size_t k = 0; k < nb; k++) /* never past the known levels, bids falling, asks rising */
      for (int l = 1; l < bk[k].depth; l++)
        if ((bk[k].bid_px[l] && bk[k].bid_px[l] >= bk[k].bid_px[l - 1]) ||
            (bk[k].ask_px[l] && bk[k].ask_px[l] <= bk[k].ask_px[l - 1])) {
          test_fail(__FILE__, __LINE__, "%s snapshot %zu: levels out of order", sym, k);
          k = nb;
          break;
        }
    free(bk);
  }
  free(in);
  json_decref(o);
  store_close(s);
}

static void cli_ingest_market(int postgres) {
  target t;
  if (target_new(&t, postgres, "market")) return;
  char args[2048];
  snprintf(args, sizeof args, "ingest --store '%s' " LOB "message_10.csv.zst " LOB "orderbook_10.csv.zst --json",
           t.url);
  for (int pass = 0; pass < 2; pass++) { /* the second stores nothing new */
    int rc = test_run_obi(args);
    if (rc) printf("# %s", test_err);
    CHECK_EQ(rc, 0);
    CHECK_STR_CONTAINS(test_out, "\"instruments\":1,");
    check_lobster_ingest(&t);
  }
  CHECK_EQ(test_run_obi("replay " BINANCE_WS " " BINANCE_HTTP " --json"), 0);
  char *replay = strdup(test_out);
  snprintf(args, sizeof args, "ingest --store '%s' " BINANCE_HTTP " " BINANCE_WS " --sample every --quiet", t.url);
  for (int pass = 0; pass < 2; pass++) {
    CHECK_EQ(test_run_obi(args), 0);
    CHECK_STR_CONTAINS(test_out, "ingested 4 instruments");
    check_recording_ingest(&t, replay);
  }
  free(replay);
  /* obi query reads them back */
  snprintf(args, sizeof args, "query --store '%s' instruments --symbol AMZN --json", t.url);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "[{\"symbol\":\"AMZN\",\"tick_size\":0.0001,\"lot_size\":1.0,\"venue\":\"lobster\"}]");
  snprintf(args, sizeof args, "query --store '%s' books --symbol AMZN --to 1340285401000000000", t.url);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "instrument,ts_ns,seq,depth,bid_px,bid_sz,ask_px,ask_sz\nAMZN,");
  /* bad input: named, nothing stored */
  snprintf(args, sizeof args, "ingest --store '%s' " LOB "message_10.csv.zst", t.url);
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "message_10.csv.zst: neither a .npy feature file nor a feed recording");
  snprintf(args, sizeof args, "ingest --store '%s' --symbol X " BINANCE_WS, t.url);
  CHECK_EQ(test_run_obi(args), 2);
  snprintf(args, sizeof args, "ingest --store '%s' " LOB "message_10.csv.zst " LOB "orderbook_10.csv.zst --depth 21",
           t.url);
  CHECK_EQ(test_run_obi(args), 2);
  const char *bad = test_write_file("BAD_2012-06-21_34200000_57600000_message_1.csv",
                                    "34200.01,1,1,100,2238100,1\n34200.02,1,2,x,2238200,-1\n");
  const char *badbook = test_write_file("BAD_2012-06-21_34200000_57600000_orderbook_1.csv",
                                        "2239000,10,2238100,100\n2239000,10,2238200,100\n");
  snprintf(args, sizeof args, "ingest --store '%s' '%s' '%s'", t.url, bad, badbook);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "message_1.csv:2");
}

void store_sqlite_cli_ingest_market(void) { cli_ingest_market(0); }
void store_pg_cli_ingest_market(void) { cli_ingest_market(1); }

/* Monitor rows (schema version 2): a database left at version 1 (monitor dropped, version 2
 * forgotten) is upgraded by the next open; rows round-trip, NaN metrics included, and a repeat
 * is stored once. */
static void monitor_rows(int postgres) {
  target t;
  if (target_new(&t, postgres, "monitor_rows")) return;
  obi_store *s;
  OPEN(s, &t);
  store_prediction p;
  prediction(&p, "X", T0, 1);
  store_put_prediction(s, &p);
  store_close(s);
  const char *down = "DROP TABLE monitor; DELETE FROM schema_version WHERE version = 2";
  if (postgres) {
    CHECK_EQ(pg_sql("monitor_rows", down), 0);
  } else {
    sqlite3 *h;
    CHECK(sqlite3_open(t.url + strlen("sqlite:"), &h) == SQLITE_OK);
    CHECK(sqlite3_exec(h, down, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h);
  }
  OPEN(s, &t);
  int v = -1;
  int64_t n = -1;
  CHECK(store_schema_version(s, &v) == OBI_OK);
  CHECK_EQ(v, 2);
  CHECK(store_count(s, "predictions", &n) == OBI_OK);
  CHECK_EQ(n, 1); /* the upgrade kept the rows of version 1 */
  CHECK(store_count(s, "monitor", &n) == OBI_OK);
  CHECK_EQ(n, 0);
  store_monitor m[3];
  memset(m, 0, sizeof m);
  for (int i = 0; i < 3; i++) {
    snprintf(m[i].symbol, sizeof m[i].symbol, "AMZN");
    m[i].ts_ns = T0 + i * DAY / 2; /* two days: two partitions */
    snprintf(m[i].model, sizeof m[i].model, "logistic");
    snprintf(m[i].version, sizeof m[i].version, "0123456789ab");
    m[i].n = i * 100;
    m[i].accuracy = i ? 0.25 * i : NAN;
    m[i].macro_f1 = i ? 0.125 * i : NAN;
    m[i].log_loss = i ? 1.0 + i : NAN;
    m[i].calibration_error = i ? 0.03125 : NAN;
    m[i].psi_max = 0.5 * i;
    snprintf(m[i].psi_feature, sizeof m[i].psi_feature, "ofi_%d", i);
    m[i].alert = i == 2;
    store_put_monitor(s, &m[i]);
  }
  store_put_monitor(s, &m[1]); /* the same key again */
  FLUSH(s);
  CHECK(store_count(s, "monitor", &n) == OBI_OK);
  CHECK_EQ(n, 3);
  store_monitor *r;
  size_t got;
  CHECK(store_query_monitor(s, "AMZN", T0 + 1, INT64_MAX, &r, &got) == OBI_OK);
  CHECK_EQ(got, 2);
  if (got == 2) {
    CHECK(!strcmp(r[0].symbol, "AMZN") && !strcmp(r[0].model, "logistic") && !strcmp(r[0].version, "0123456789ab"));
    CHECK(r[0].ts_ns == m[1].ts_ns && r[0].n == 100 && r[0].accuracy == 0.25 && r[0].macro_f1 == 0.125);
    CHECK(r[0].log_loss == 2.0 && r[0].calibration_error == 0.03125 && r[0].psi_max == 0.5 && r[0].alert == 0);
    CHECK(!strcmp(r[1].psi_feature, "ofi_2") && r[1].alert == 1);
  }
  free(r);
  CHECK(store_query_monitor(s, NULL, INT64_MIN, INT64_MAX, &r, &got) == OBI_OK);
  CHECK_EQ(got, 3);
  if (got == 3) CHECK(isnan(r[0].accuracy) && isnan(r[0].log_loss) && r[0].n == 0 && r[0].psi_max == 0);
  free(r);
  store_close(s);
}

void store_sqlite_monitor_rows(void) { monitor_rows(0); }
void store_pg_monitor_rows(void) { monitor_rows(1); }

void store_sqlite_cli_ingest_query(void) { cli_ingest_query(0); }
void store_pg_cli_ingest_query(void) { cli_ingest_query(1); }
