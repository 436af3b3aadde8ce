/* store_internal.h — what store.c shares with its backends (store_sqlite.c, store_pg.c):
 * the schema as data (one descriptor per table, from which each backend generates its
 * DDL, INSERT/COPY and SELECT), the tagged row that travels through the queue and the
 * spool, and the backend operations. */
#ifndef OBI_STORE_INTERNAL_H
#define OBI_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "obi/store.h"

typedef enum { COL_TEXT, COL_I64, COL_I32, COL_F64, COL_F32, COL_I64ARR, COL_F32ARR, COL_NTYPES } store_col_type;

typedef struct {
  const char *name;
  store_col_type type;
  size_t off;       /* in the row struct */
  size_t cap;       /* COL_TEXT: buffer bytes; arrays: elements */
  size_t count_off; /* arrays: offset of the int32_t element count */
} store_col;

/* Tables without a typed API yet (signals, orders, backtest runs) exist in the schema all
 * the same; their rows are these internal structs. */
typedef struct {
  char instrument[STORE_SYM];
  int64_t ts_ns;
  int32_t seq;
  char model[STORE_NAME];
  double value;
} store__signal;
typedef struct {
  char run_id[STORE_NAME];
  char instrument[STORE_SYM];
  int64_t ts_ns;
  int32_t seq;
  char order_id[STORE_SYM];
  int32_t side;
  int64_t price, size;
  char type[16];
} store__order;
typedef struct {
  char run_id[STORE_NAME];
  int64_t created_ns;
  char model_hash[65];
  char config[STORE_TEXT];
} store__backtest_run;

enum {
  ST_PREDICTION,
  ST_FILL,
  ST_BOOK,
  ST_TRADE,
  ST_FEATURE,
  ST_MODEL,
  ST_BACKTEST,
  ST_INSTRUMENT,
  ST_SIGNAL,
  ST_ORDER,
  ST_RUN,
  ST_MONITOR, /* schema version 2 */
  ST_NKIND
};

typedef struct {
  const char *name; /* the table */
  const store_col *cols;
  int ncols;
  const char *key;   /* the primary key: the idempotent key of a row */
  int filter_col;    /* column matched by a query's key argument */
  int time_col;      /* the ts_ns column, -1 when the table is not a time series */
  const char *order; /* ORDER BY of queries */
  size_t row_size;
} store_table;

extern const store_table store__tables[ST_NKIND];
/* The schema version that created table kind (1, or 2 for monitor). */
int store__table_since(int kind);
/* The index of the table called name, or -1. */
int store__table_index(const char *name);

/* A row in the queue and the spool: fixed size, so the spool is an array of these. */
typedef struct {
  int32_t kind;
  int32_t pad_;
  union {
    store_prediction prediction;
    store_fill fill;
    store_book_snapshot book;
    store_trade trade;
    store_feature_row feature;
    store_model_entry model;
    store_backtest_result backtest;
    store_instrument instrument;
    store__signal signal;
    store__order order;
    store__backtest_run run;
    store_monitor monitor;
  } u;
} store_row;

/* The number of array elements a row holds in column c (clamped to the column's cap). */
size_t store__array_count(const store_col *c, const void *row);

/* Backend results beyond obi_err: a write that failed because the connection is gone is
 * OBI_EIO (retry after reconnect); any other failure is OBI_EINVAL (retrying will not help). */
typedef struct {
  const char *name;
  /* Connects and migrates the schema to STORE_SCHEMA_VERSION; *db owned by the backend. */
  obi_err (*open)(void **db, const char *url, const char *shown_url, char *why, size_t why_len);
  void (*close)(void *db);
  /* Inserts rows (any kinds) in one transaction with ON CONFLICT DO NOTHING. */
  obi_err (*write)(void *db, const store_row *rows, size_t n, char *why, size_t why_len);
  /* Tries to get the connection back after OBI_EIO; OBI_OK when it is back. */
  obi_err (*reconnect)(void *db, char *why, size_t why_len);
  /* Rows of table kind matching key (NULL: any) and [from, to) when the table has time. */
  obi_err (*query)(void *db, int kind, const char *key, int64_t from, int64_t to, void **rows, size_t *n, char *why,
                   size_t why_len);
  obi_err (*count)(void *db, int kind, int64_t *n, char *why, size_t why_len);
  obi_err (*schema_version)(void *db, int *version, char *why, size_t why_len);
  const char *(*flavour)(void *db); /* store_backend() */
} store_ops;

extern const store_ops store__sqlite_ops, store__pg_ops;

/* Migration descriptions, index v-1 for version v, recorded in schema_version. */
extern const char *const store__migrations[STORE_SCHEMA_VERSION];

/* Test hook: the next n batch writes fail as if the connection had been lost. */
void store__inject_failures(obi_store *s, int n);

#endif
