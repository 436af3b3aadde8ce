/* store.h — the obi_store interface: one schema, two backends (SQLite, PostgreSQL).
 *
 * A store is opened from a URL:
 *   sqlite:PATH                 an embedded SQLite file (WAL mode, batched transactions)
 *   postgresql://USER@HOST:PORT/DB?...   (or postgres://) a PostgreSQL server through libpq; rows go in
 *                               with COPY, time-series tables are partitioned by day (TimescaleDB
 *                               hypertables when that extension can be created)
 *
 * Writes never block on the database: store_put_* copy the row into a bounded queue that a
 * writer thread drains in batches. When the queue is full the caller waits (back-pressure)
 * until the writer has taken a batch: rows are never dropped. The writer does not stall on
 * a missing database either: when a batch cannot be written it is appended to a local spool
 * file (fsync per batch) and the whole spool is replayed once the database is back. Every
 * row has an idempotent key (see docs/store.md) and is inserted with ON CONFLICT DO NOTHING,
 * so a replay, or putting the same row twice, stores it once.
 *
 * Threads: store_put_* may be called from any number of threads; the other functions from
 * one thread at a time. Library code: nothing here prints or exits. See docs/store.md. */
#ifndef OBI_STORE_H
#define OBI_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

#define STORE_SCHEMA_VERSION 2
#define STORE_SYM 32           /* instrument symbols, order ids (with the NUL) */
#define STORE_NAME 64          /* model names, run ids */
#define STORE_MAX_LEVELS 20    /* book snapshot depth */
#define STORE_MAX_FEATURES 256 /* floats in one feature row */
#define STORE_TEXT 1024        /* JSON documents (config, metrics) */

typedef struct obi_store obi_store;

/* The row types. Text fields are NUL-terminated; longer text is cut at the buffer.
 * The idempotent key of each is named in brackets. */

/* One forecast [instrument, ts_ns, model, horizon, seq]. */
typedef struct {
  char instrument[STORE_SYM];
  int64_t ts_ns;
  int32_t seq;
  char model[STORE_NAME];
  int32_t horizon; /* events ahead */
  float p_down, p_flat, p_up;
} store_prediction;

/* One fill of a paper or backtest order [run_id, instrument, ts_ns, seq]. */
typedef struct {
  char run_id[STORE_NAME];
  char instrument[STORE_SYM];
  int64_t ts_ns;
  int32_t seq;
  char order_id[STORE_SYM];
  int32_t side;        /* +1 buy, -1 sell */
  int64_t price, size; /* ticks, lots */
  double fee;
} store_fill;

/* The top depth levels of a book on the sampling clock [instrument, ts_ns, seq]. */
typedef struct {
  char instrument[STORE_SYM];
  int64_t ts_ns;
  int32_t seq;
  int32_t depth; /* levels used in each array, <= STORE_MAX_LEVELS */
  int64_t bid_px[STORE_MAX_LEVELS], bid_sz[STORE_MAX_LEVELS];
  int64_t ask_px[STORE_MAX_LEVELS], ask_sz[STORE_MAX_LEVELS];
} store_book_snapshot;

/* A trade print [instrument, ts_ns, seq]. */
typedef struct {
  char instrument[STORE_SYM];
  int64_t ts_ns;
  int32_t seq;
  int64_t price, size;
  int32_t side; /* aggressor: +1 buy, -1 sell, 0 unknown */
} store_trade;

/* One row of a feature set [instrument, ts_ns, version, seq]. */
typedef struct {
  char instrument[STORE_SYM];
  int64_t ts_ns;
  int32_t seq;
  int32_t version; /* the feature-set version: the column list it was computed with */
  int32_t n;       /* values used, <= STORE_MAX_FEATURES */
  float vals[STORE_MAX_FEATURES];
} store_feature_row;

/* A model file in the registry [file_hash]. */
typedef struct {
  char file_hash[65]; /* SHA-256, hex */
  char name[STORE_NAME];
  int64_t created_ns;
  char config[STORE_TEXT];  /* JSON */
  char metrics[STORE_TEXT]; /* JSON */
} store_model_entry;

/* The summary of a backtest run on one instrument [run_id, instrument]. */
typedef struct {
  char run_id[STORE_NAME];
  char instrument[STORE_SYM];
  int64_t created_ns;
  double pnl, sharpe, max_drawdown;
  int64_t n_trades;
  char metrics[STORE_TEXT]; /* JSON, the full report */
} store_backtest_result;

/* An instrument [symbol]: its tick and lot in currency and base units, and where it trades. */
typedef struct {
  char symbol[STORE_SYM];
  double tick_size, lot_size; /* one price tick / one size lot of the rows' integers, e.g. 0.01 and 0.00001 */
  char venue[STORE_SYM];      /* "lobster", "binance-spot", ... */
} store_instrument;

/* One published state of the model monitor of obi serve [symbol, ts_ns, model, version]: the
 * rolling metrics of matured predictions (NaN while n is 0), the largest population stability
 * index and its feature, and whether an alert was raised (schema version 2). */
typedef struct {
  char symbol[STORE_SYM];
  int64_t ts_ns;
  char model[STORE_NAME];  /* the model kind, e.g. "logistic" */
  char version[STORE_SYM]; /* the model version: the SHA-256 prefix of its file */
  int64_t n;               /* matured predictions in the window */
  double accuracy, macro_f1, log_loss, calibration_error;
  double psi_max;
  char psi_feature[STORE_NAME];
  int32_t alert; /* 1 when drift or accuracy crossed its limit */
} store_monitor;

typedef struct {
  size_t queue_rows;      /* capacity of the queue (default 32768; memory is touched only as it fills) */
  size_t batch_rows;      /* most rows per transaction (default 8192) */
  const char *spool_path; /* default: PATH.spool for SQLite, ./obi-store-<hash of URL>.spool otherwise */
} store_options;

typedef struct {
  uint64_t put;        /* rows accepted by store_put_* */
  uint64_t written;    /* rows handed to the database in committed batches (including replays) */
  uint64_t spooled;    /* rows appended to the spool file */
  uint64_t replays;    /* successful spool replays */
  uint64_t full_waits; /* times a put waited for room in the queue */
  uint64_t pending;    /* rows in the queue or the spool now */
} store_stats;

/* Opens (and creates or migrates) the store at url; opt may be NULL. Replays a spool left
 * by an earlier process. On failure *out is NULL and why says what and where (the URL,
 * with any password hidden, and the database's message). Errors: OBI_EINVAL (unknown
 * scheme), OBI_EIO (cannot connect or open), OBI_EUNSUPPORTED (schema newer than this obi). */
obi_err store_open(obi_store **out, const char *url, const store_options *opt, char *why, size_t why_len);
/* Writes what is queued (to the database, or to the spool if it is unavailable), stops the
 * writer and closes. Accepts NULL. Rows left in the spool are replayed by the next open. */
void store_close(obi_store *s);

/* Enqueue a copy of one row; returns at once unless the queue is full (then it waits for
 * the writer). OBI_EINVAL after store_close has begun. */
obi_err store_put_prediction(obi_store *s, const store_prediction *r);
obi_err store_put_fill(obi_store *s, const store_fill *r);
obi_err store_put_book_snapshot(obi_store *s, const store_book_snapshot *r);
obi_err store_put_trade(obi_store *s, const store_trade *r);
obi_err store_put_feature_row(obi_store *s, const store_feature_row *r);
obi_err store_put_model(obi_store *s, const store_model_entry *r);
obi_err store_put_backtest_result(obi_store *s, const store_backtest_result *r);
obi_err store_put_monitor(obi_store *s, const store_monitor *r);
obi_err store_put_instrument(obi_store *s, const store_instrument *r);

/* Waits until every row put so far is committed in the database (queue and spool empty).
 * OBI_OK; OBI_EIO when timeout_ms passed first or a write failed for a reason other than a
 * lost connection (a permission, a full disk): store_errmsg says which table and why, and
 * the rows stay in the spool for a later replay. */
obi_err store_flush(obi_store *s, int timeout_ms);

/* The last error, naming the URL and the table; "" when none. Valid until the next call. */
const char *store_errmsg(obi_store *s);
void store_get_stats(obi_store *s, store_stats *st);
/* "sqlite", "postgresql" or "postgresql+timescaledb". */
const char *store_backend(const obi_store *s);
/* The schema version recorded in the database. */
obi_err store_schema_version(obi_store *s, int *version);
/* Rows in table (one of the schema's table names); OBI_EINVAL for another name. */
obi_err store_count(obi_store *s, const char *table, int64_t *n);

/* Reads back committed rows, ordered by key. Rows with ts_ns in [from_ns, to_ns) and, when
 * the key argument is not NULL, that instrument (run_id, model name); *rows is malloc'd,
 * owned by the caller (free), NULL when *n is 0. */
obi_err store_query_predictions(obi_store *s, const char *instrument, int64_t from_ns, int64_t to_ns,
                                store_prediction **rows, size_t *n);
obi_err store_query_fills(obi_store *s, const char *run_id, int64_t from_ns, int64_t to_ns, store_fill **rows,
                          size_t *n);
obi_err store_query_book_snapshots(obi_store *s, const char *instrument, int64_t from_ns, int64_t to_ns,
                                   store_book_snapshot **rows, size_t *n);
obi_err store_query_trades(obi_store *s, const char *instrument, int64_t from_ns, int64_t to_ns, store_trade **rows,
                           size_t *n);
obi_err store_query_feature_rows(obi_store *s, const char *instrument, int64_t from_ns, int64_t to_ns,
                                 store_feature_row **rows, size_t *n);
/* All registry entries (name NULL) or those of one model name, by created_ns. */
obi_err store_query_models(obi_store *s, const char *name, store_model_entry **rows, size_t *n);
/* The results of one run (run_id NULL: all runs). */
obi_err store_query_backtest_results(obi_store *s, const char *run_id, store_backtest_result **rows, size_t *n);
/* Monitor states of one symbol (NULL: all) with ts_ns in [from_ns, to_ns). */
obi_err store_query_instruments(obi_store *s, const char *symbol, store_instrument **rows, size_t *n);
obi_err store_query_monitor(obi_store *s, const char *symbol, int64_t from_ns, int64_t to_ns, store_monitor **rows,
                            size_t *n);

#endif
