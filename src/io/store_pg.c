/* store_pg.c — the PostgreSQL backend of obi_store (libpq).
 *
 * Bulk writes: each batch is one transaction that COPYs (binary format) the rows of each table into a
 * session-local temporary twin (ON COMMIT DELETE ROWS) and moves them with
 * INSERT ... SELECT ... ON CONFLICT DO NOTHING: COPY's speed, and the idempotent key still
 * holds (COPY alone would fail the whole batch on one duplicate).
 *
 * Time: the time series (predictions, fills, book_snapshots, trades, features, signals,
 * orders) are declaratively partitioned by range of ts_ns, one partition a UTC day
 * (<table>_pYYYYMMDD), created outside the batch's transaction when a row for a new day
 * arrives. When the timescaledb extension is available and can be created (it must be in
 * shared_preload_libraries), the same tables are hypertables with one-day chunks instead;
 * the migration decides once and the choice is read back from pg_class on later opens.
 *
 * Connection loss (SQLSTATE class 08, 57P01..57P03, or a connection libpq marks bad) is
 * OBI_EIO: store.c spools and calls pg_reconnect later. Anything else is OBI_EINVAL. The
 * library never prints: libpq's notices are swallowed. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"

#define DAY_NS 86400000000000LL
#define MAX_DAYS 4096

typedef struct {
  PGconn *c;
  int timescale;
  int temp_ready;   /* the temporary twins exist on this connection */
  int slow_batches; /* batches to write through the temporary twins before trying COPY again */
  struct {
    int kind;
    int64_t day;
  } days[MAX_DAYS]; /* partitions known to exist */
  int ndays;
  char *buf; /* COPY data (binary format) */
  size_t len, cap;
} pg_db;

static void quiet(void *arg, const char *message) { (void)arg, (void)message; }

/* Classifies a failed result and writes "what: message" to why. */
static obi_err pg_fail(pg_db *d, PGresult *res, const char *what, char *why, size_t why_len) {
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  char msg[512];
  snprintf(msg, sizeof msg, "%s", primary ? primary : PQerrorMessage(d->c));
  char *nl = strchr(msg, '\n');
  if (nl) *nl = 0;
  snprintf(why, why_len, "%s: %s", what, msg[0] ? msg : "connection lost");
  int lost = PQstatus(d->c) != CONNECTION_OK || (state && (!strncmp(state, "08", 2) || !strcmp(state, "57P01") ||
                                                           !strcmp(state, "57P02") || !strcmp(state, "57P03")));
  if (res) PQclear(res); /* state and primary point into it */
  if (!lost && PQtransactionStatus(d->c) == PQTRANS_INERROR) PQclear(PQexec(d->c, "ROLLBACK"));
  return lost ? OBI_EIO : OBI_EINVAL;
}

static obi_err pg_exec(pg_db *d, const char *sql, const char *what, char *why, size_t why_len) {
  PGresult *r = PQexec(d->c, sql);
  ExecStatusType s = PQresultStatus(r);
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
    PQclear(r);
    return OBI_OK;
  }
  return pg_fail(d, r, what, why, why_len);
}

/* The single value of a one-row query, copied to out ("" for NULL or no row); 0 or an error. */
static obi_err pg_value(pg_db *d, const char *sql, char *out, size_t len, char *why, size_t why_len) {
  PGresult *r = PQexec(d->c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_fail(d, r, sql, why, why_len);
  snprintf(out, len, "%s", PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
  PQclear(r);
  return OBI_OK;
}

static const char *const pg_types[COL_NTYPES] = {"TEXT", "BIGINT",   "INTEGER", "DOUBLE PRECISION",
                                                 "REAL", "BIGINT[]", "REAL[]"};

static void col_list(const store_table *t, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = 0;
  for (int c = 0; c < t->ncols && used < len; c++)
    used += (size_t)snprintf(buf + used, len - used, "%s%s", c ? ", " : "", t->cols[c].name);
}

/* Version v creates the tables that version adds (1: all but monitor; 2: monitor): partitioned
 * (or hypertables) when a time series. The primary key leads with (instrument, ts_ns) for those
 * keyed by instrument; fills and orders, keyed by run first, get an index on (instrument, ts_ns). */
static obi_err pg_migrate_to(pg_db *d, int v, char *why, size_t why_len) {
  char sql[4096];
  obi_err rc;
  for (int k = 0; k < ST_NKIND; k++) {
    const store_table *t = &store__tables[k];
    if (store__table_since(k) != v) continue;
    size_t used = (size_t)snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s (", t->name);
    for (int c = 0; c < t->ncols; c++)
      used += (size_t)snprintf(sql + used, sizeof sql - used, "%s %s NOT NULL, ", t->cols[c].name,
                               pg_types[t->cols[c].type]);
    snprintf(sql + used, sizeof sql - used, "PRIMARY KEY (%s))%s", t->key,
             t->time_col >= 0 && !d->timescale ? " PARTITION BY RANGE (ts_ns)" : "");
    if ((rc = pg_exec(d, sql, t->name, why, why_len))) return rc;
    if (t->time_col >= 0 && d->timescale) {
      snprintf(sql, sizeof sql,
               "SELECT create_hypertable('%s', 'ts_ns', chunk_time_interval => %lld::bigint, if_not_exists => true)",
               t->name, DAY_NS);
      if ((rc = pg_exec(d, sql, t->name, why, why_len))) return rc;
    }
    if (t->time_col > 1) {
      snprintf(sql, sizeof sql, "CREATE INDEX IF NOT EXISTS %s_instrument_time ON %s (instrument, ts_ns)", t->name,
               t->name);
      if ((rc = pg_exec(d, sql, t->name, why, why_len))) return rc;
    }
  }
  return OBI_OK;
}

/* The recorded version, or 0 when there is no schema_version table yet. */
static obi_err pg_read_version(pg_db *d, int *v, char *why, size_t why_len) {
  char val[64];
  obi_err rc = pg_value(d, "SELECT to_regclass('schema_version') IS NOT NULL", val, sizeof val, why, why_len);
  if (rc) return rc;
  if (strcmp(val, "t")) return *v = 0, OBI_OK;
  rc = pg_value(d, "SELECT COALESCE(MAX(version), 0) FROM schema_version", val, sizeof val, why, why_len);
  *v = atoi(val);
  return rc;
}

/* Migrates under an advisory lock (two processes opening a new database at once take
 * turns). A database already at the current version needs no privilege beyond SELECT. */
static obi_err pg_migrate(pg_db *d, char *why, size_t why_len) {
  int v;
  obi_err rc = pg_read_version(d, &v, why, why_len);
  if (rc || v == STORE_SCHEMA_VERSION) goto flavour;
  if ((rc = pg_exec(d, "BEGIN", "begin", why, why_len))) return rc;
  if ((rc = pg_exec(d, "SELECT pg_advisory_xact_lock(7362091)", "advisory lock", why, why_len))) return rc;
  rc = pg_exec(d,
               "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_ns BIGINT NOT NULL, "
               "description TEXT NOT NULL)",
               "schema_version", why, why_len);
  if (!rc) rc = pg_read_version(d, &v, why, why_len);
  if (!rc && v >= 1) { /* an upgrade: new tables follow the flavour of the old ones */
    char val[16];
    rc = pg_value(d, "SELECT relkind FROM pg_class WHERE oid = 'predictions'::regclass", val, sizeof val, why, why_len);
    d->timescale = !rc && !strcmp(val, "r");
  }
  if (!rc && v < 1) { /* TimescaleDB only when it loads: it needs shared_preload_libraries */
    char val[64];
    rc = pg_value(d, "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'", val, sizeof val, why,
                  why_len);
    if (!rc && atoi(val) > 0) {
      char ignore[256];
      pg_exec(d, "SAVEPOINT ts", "savepoint", why, why_len);
      d->timescale =
          pg_exec(d, "CREATE EXTENSION IF NOT EXISTS timescaledb", "timescaledb", ignore, sizeof ignore) == OBI_OK;
      if (!d->timescale) pg_exec(d, "ROLLBACK TO SAVEPOINT ts", "savepoint", why, why_len);
    }
  }
  for (int next = v + 1; !rc && next <= STORE_SCHEMA_VERSION; next++) {
    rc = pg_migrate_to(d, next, why, why_len);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char sql[512];
    snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%d, %lld, '%s%s')", next,
             (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, store__migrations[next - 1],
             next == 1 && d->timescale ? " (timescaledb hypertables)" : "");
    if (!rc) rc = pg_exec(d, sql, "schema_version", why, why_len);
  }
  if (!rc && v > STORE_SCHEMA_VERSION) {
    snprintf(why, why_len, "schema_version: the database has version %d, this obi knows up to %d", v,
             STORE_SCHEMA_VERSION);
    rc = OBI_EUNSUPPORTED;
  }
  if (rc) {
    PQclear(PQexec(d->c, "ROLLBACK"));
    return rc;
  }
  if ((rc = pg_exec(d, "COMMIT", "commit", why, why_len))) return rc;
flavour:
  if (!rc && v > STORE_SCHEMA_VERSION) {
    snprintf(why, why_len, "schema_version: the database has version %d, this obi knows up to %d", v,
             STORE_SCHEMA_VERSION);
    return OBI_EUNSUPPORTED;
  }
  if (!rc) { /* a hypertable is a plain table ('r'); a partitioned one is 'p' */
    char val[16];
    rc = pg_value(d, "SELECT relkind FROM pg_class WHERE oid = 'predictions'::regclass", val, sizeof val, why, why_len);
    d->timescale = !rc && !strcmp(val, "r");
  }
  return rc;
}

static void pg_close(void *db) {
  pg_db *d = db;
  if (!d) return;
  PQfinish(d->c);
  free(d->buf);
  free(d);
}

static obi_err pg_open(void **out, const char *url, const char *shown, char *why, size_t why_len) {
  (void)shown;
  pg_db *d = calloc(1, sizeof *d);
  if (!d) return OBI_ENOMEM;
  d->c = PQconnectdb(url);
  if (!d->c || PQstatus(d->c) != CONNECTION_OK) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", d->c ? PQerrorMessage(d->c) : "out of memory");
    for (char *p = msg; *p; p++)
      if (*p == '\n') *p = ' ';
    snprintf(why, why_len, "cannot connect: %s", msg);
    pg_close(d);
    return OBI_EIO;
  }
  PQsetNoticeProcessor(d->c, quiet, NULL);
  obi_err rc = pg_migrate(d, why, why_len);
  if (rc) {
    pg_close(d);
    return rc == OBI_EUNSUPPORTED ? rc : OBI_EIO;
  }
  *out = d;
  return OBI_OK;
}

/* ---- writing ---- */

static int buf_reserve(pg_db *d, size_t more) {
  if (d->len + more <= d->cap) return 1;
  size_t cap = d->cap ? d->cap : 1 << 16;
  while (cap < d->len + more) cap *= 2;
  char *b = realloc(d->buf, cap);
  if (!b) return 0;
  d->buf = b, d->cap = cap;
  return 1;
}

/* COPY binary format (PostgreSQL docs, "COPY", Binary Format): a header, then per row a 16-bit
 * field count and each field as a 32-bit length and its bytes in the type's send format (all
 * integers big-endian), then -1 as the trailer. Binary rather than text because formatting 91
 * floats with %.9g in the writer and parsing them again in the server was most of the time of
 * a batch of feature rows (docs/store.md, Speed). */
static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

static char *put_u32(char *o, uint32_t v) {
  o[0] = (char)(v >> 24), o[1] = (char)(v >> 16), o[2] = (char)(v >> 8), o[3] = (char)v;
  return o + 4;
}
static char *put_u64(char *o, uint64_t v) { return put_u32(put_u32(o, (uint32_t)(v >> 32)), (uint32_t)v); }

/* Appends one row in COPY binary format. The element types of the arrays: int8 (OID 20) and
 * float4 (OID 700), as the schema's BIGINT[] and REAL[]. */
static int copy_line(pg_db *d, const store_table *t, const void *row) {
  const char *p = row;
  if (!buf_reserve(d, 2)) return 0;
  d->buf[d->len++] = (char)(t->ncols >> 8), d->buf[d->len++] = (char)t->ncols;
  for (int c = 0; c < t->ncols; c++) {
    const store_col *col = &t->cols[c];
    if (!buf_reserve(d, 64 + (col->type == COL_TEXT ? col->cap : 12 * col->cap))) return 0;
    char *o = d->buf + d->len;
    uint32_t u32;
    uint64_t u64;
    switch (col->type) {
    case COL_TEXT: {
      size_t n = strnlen(p + col->off, col->cap);
      o = put_u32(o, (uint32_t)n);
      memcpy(o, p + col->off, n);
      o += n;
      break;
    }
    case COL_I64:
    case COL_F64: memcpy(&u64, p + col->off, 8), o = put_u64(put_u32(o, 8), u64); break;
    case COL_I32:
    case COL_F32: memcpy(&u32, p + col->off, 4), o = put_u32(put_u32(o, 4), u32); break;
    case COL_I64ARR:
    case COL_F32ARR: {
      size_t n = store__array_count(col, row), w = col->type == COL_I64ARR ? 8 : 4;
      o = put_u32(o, (uint32_t)(n ? 20 + n * (4 + w) : 12));
      o = put_u32(o, n ? 1 : 0); /* dimensions */
      o = put_u32(o, 0);         /* no NULLs */
      o = put_u32(o, col->type == COL_I64ARR ? 20 : 700);
      if (n) o = put_u32(put_u32(o, (uint32_t)n), 1); /* length, lower bound */
      for (size_t i = 0; i < n; i++) {
        o = put_u32(o, (uint32_t)w);
        if (w == 8)
          memcpy(&u64, p + col->off + 8 * i, 8), o = put_u64(o, u64);
        else
          memcpy(&u32, p + col->off + 4 * i, 4), o = put_u32(o, u32);
      }
      break;
    }
    default: break;
    }
    d->len = (size_t)(o - d->buf);
  }
  return 1;
}

static int64_t floor_day(int64_t ts) { return ts >= 0 ? ts / DAY_NS : -((-ts + DAY_NS - 1) / DAY_NS); }

/* Creates the day partitions the batch needs (declarative partitioning only). */
static obi_err ensure_partitions(pg_db *d, const store_row *rows, size_t n, char *why, size_t why_len) {
  if (d->timescale) return OBI_OK;
  for (size_t i = 0; i < n; i++) {
    const store_table *t = &store__tables[rows[i].kind];
    if (t->time_col < 0) continue;
    int64_t ts;
    memcpy(&ts, (const char *)&rows[i].u + t->cols[t->time_col].off, 8);
    int64_t day = floor_day(ts);
    int known = 0;
    for (int j = d->ndays - 1; j >= 0 && !known; j--) known = d->days[j].kind == rows[i].kind && d->days[j].day == day;
    if (known) continue;
    time_t secs = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char part[128], sql[512], val[16];
    snprintf(part, sizeof part, "%s_p%04d%02d%02d", t->name, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    snprintf(sql, sizeof sql, "SELECT to_regclass('%s') IS NOT NULL", part);
    obi_err rc = pg_value(d, sql, val, sizeof val, why, why_len);
    if (!rc && strcmp(val, "t")) {
      snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM (%lld) TO (%lld)", part,
               t->name, (long long)(day * DAY_NS), (long long)((day + 1) * DAY_NS));
      rc = pg_exec(d, sql, part, why, why_len);
    }
    if (rc) return rc;
    if (d->ndays == MAX_DAYS) d->ndays = 0;
    d->days[d->ndays].kind = rows[i].kind;
    d->days[d->ndays++].day = day;
  }
  return OBI_OK;
}

/* COPYs the rows of kind k into table (binary format), sending the data in pieces of about 1 MB
 * while it is encoded, so that the server parses one piece while the next is built. A unique
 * violation (SQLSTATE 23505) sets *conflict and returns OBI_EINVAL without touching the
 * transaction (the caller rolls back to its savepoint); other failures go through pg_fail. */
static obi_err copy_rows(pg_db *d, const char *table, int k, const store_row *rows, size_t n, int *conflict, char *why,
                         size_t why_len) {
  const store_table *t = &store__tables[k];
  char cols[1024], sql[3072], what[128];
  col_list(t, cols, sizeof cols);
  snprintf(what, sizeof what, "copy into %s", t->name);
  snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN (FORMAT binary)", table, cols);
  PGresult *r = PQexec(d->c, sql);
  if (PQresultStatus(r) != PGRES_COPY_IN) return pg_fail(d, r, what, why, why_len);
  PQclear(r);
  d->len = 0;
  int ok = buf_reserve(d, sizeof copy_header);
  if (ok) memcpy(d->buf, copy_header, sizeof copy_header), d->len = sizeof copy_header;
  for (size_t i = 0; i < n && ok; i++) {
    if (rows[i].kind != k) continue;
    ok = copy_line(d, t, &rows[i].u);
    if (ok && d->len >= (1u << 20)) {
      if (PQputCopyData(d->c, d->buf, (int)d->len) != 1) break;
      d->len = 0;
    }
  }
  if (!ok) { /* out of memory: abandon the COPY, then the transaction */
    PQputCopyEnd(d->c, "out of memory");
    while ((r = PQgetResult(d->c))) PQclear(r);
    return OBI_ENOMEM;
  }
  if (!buf_reserve(d, 2)) {
    PQputCopyEnd(d->c, "out of memory");
    while ((r = PQgetResult(d->c))) PQclear(r);
    return OBI_ENOMEM;
  }
  d->buf[d->len++] = (char)0xff, d->buf[d->len++] = (char)0xff; /* the trailer: -1 */
  if (PQputCopyData(d->c, d->buf, (int)d->len) != 1 || PQputCopyEnd(d->c, NULL) != 1)
    return pg_fail(d, NULL, what, why, why_len);
  r = PQgetResult(d->c);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && !strcmp(state, "23505")) {
      PQclear(r);
      while ((r = PQgetResult(d->c))) PQclear(r);
      snprintf(why, why_len, "%s: duplicate key", what);
      *conflict = 1;
      return OBI_EINVAL;
    }
    obi_err rc = pg_fail(d, r, what, why, why_len);
    while ((r = PQgetResult(d->c))) PQclear(r);
    return rc;
  }
  PQclear(r);
  while ((r = PQgetResult(d->c))) PQclear(r);
  return OBI_OK;
}

/* One transaction for the batch. Each table's rows are first COPYed straight into the table
 * under a savepoint: written once, the fast path. When a row's key is already there (a spool
 * replay, the same row put twice) COPY fails as a whole; the savepoint is rolled back and the
 * rows take the slow path: COPY into the temporary twin, then INSERT ... SELECT ... ON
 * CONFLICT DO NOTHING, which stores each key once. After such a conflict the next batches go
 * the slow way directly (replays come in runs), then the fast path is tried again. */
static obi_err pg_write(void *db, const store_row *rows, size_t n, char *why, size_t why_len) {
  pg_db *d = db;
  obi_err rc;
  if (PQstatus(d->c) != CONNECTION_OK) return snprintf(why, why_len, "connection lost"), OBI_EIO;
  if (!d->temp_ready) {
    for (int k = 0; k < ST_NKIND; k++) {
      char sql[512];
      snprintf(sql, sizeof sql, "CREATE TEMP TABLE IF NOT EXISTS tmp_%s (LIKE %s) ON COMMIT DELETE ROWS",
               store__tables[k].name, store__tables[k].name);
      if ((rc = pg_exec(d, sql, store__tables[k].name, why, why_len))) return rc;
    }
    d->temp_ready = 1;
  }
  if ((rc = ensure_partitions(d, rows, n, why, why_len))) return rc;
  if ((rc = pg_exec(d, "BEGIN", "begin", why, why_len))) return rc;
  for (int k = 0; k < ST_NKIND && !rc; k++) {
    const store_table *t = &store__tables[k];
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += rows[i].kind == k;
    if (!count) continue;
    if (d->slow_batches == 0) {
      if ((rc = pg_exec(d, "SAVEPOINT direct", "savepoint", why, why_len))) break;
      int conflict = 0;
      rc = copy_rows(d, t->name, k, rows, n, &conflict, why, why_len);
      if (rc == OBI_OK) continue;
      if (!conflict) break;
      if ((rc = pg_exec(d, "ROLLBACK TO SAVEPOINT direct", "savepoint", why, why_len))) break;
      d->slow_batches = 16;
    }
    char tmp[96], cols[1024], sql[3072], what[128];
    snprintf(tmp, sizeof tmp, "tmp_%s", t->name);
    int conflict = 0; /* the twin has no key: cannot happen */
    if ((rc = copy_rows(d, tmp, k, rows, n, &conflict, why, why_len))) break;
    col_list(t, cols, sizeof cols);
    snprintf(what, sizeof what, "insert into %s", t->name);
    snprintf(sql, sizeof sql, "INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT DO NOTHING", t->name, cols, cols, tmp);
    rc = pg_exec(d, sql, what, why, why_len);
  }
  if (d->slow_batches > 0) d->slow_batches--;
  if (!rc) rc = pg_exec(d, "COMMIT", "commit", why, why_len);
  if (rc && rc != OBI_EIO && PQtransactionStatus(d->c) != PQTRANS_IDLE) PQclear(PQexec(d->c, "ROLLBACK"));
  return rc;
}

static obi_err pg_reconnect(void *db, char *why, size_t why_len) {
  pg_db *d = db;
  if (PQstatus(d->c) == CONNECTION_OK) return OBI_OK;
  PQreset(d->c);
  if (PQstatus(d->c) != CONNECTION_OK) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(d->c));
    for (char *p = msg; *p; p++)
      if (*p == '\n') *p = ' ';
    snprintf(why, why_len, "reconnect: %s", msg);
    return OBI_EIO;
  }
  d->temp_ready = 0;
  return OBI_OK;
}

/* ---- reading ---- */

static void parse_array(const char *s, const store_col *col, char *dst) {
  if (*s == '{') s++;
  for (size_t i = 0; i < col->cap && *s && *s != '}'; i++) {
    char *end;
    if (col->type == COL_I64ARR) {
      int64_t v = strtoll(s, &end, 10);
      memcpy(dst + 8 * i, &v, 8);
    } else {
      float v = strtof(s, &end);
      memcpy(dst + 4 * i, &v, 4);
    }
    if (end == s) break;
    s = *end == ',' ? end + 1 : end;
  }
}

static obi_err pg_query(void *db, int kind, const char *key, int64_t from, int64_t to, void **rows, size_t *n,
                        char *why, size_t why_len) {
  pg_db *d = db;
  const store_table *t = &store__tables[kind];
  char cols[1024], sql[2048], f[32], tt[32];
  col_list(t, cols, sizeof cols);
  int timed = t->time_col >= 0;
  snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE ($1::text IS NULL OR %s = $1)%s ORDER BY %s", cols, t->name,
           t->cols[t->filter_col].name, timed ? " AND ts_ns >= $2::bigint AND ts_ns < $3::bigint" : "", t->order);
  snprintf(f, sizeof f, "%lld", (long long)from);
  snprintf(tt, sizeof tt, "%lld", (long long)to);
  const char *params[3] = {key, f, tt};
  PGresult *r = PQexecParams(d->c, sql, timed ? 3 : 1, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_fail(d, r, t->name, why, why_len);
  size_t cnt = (size_t)PQntuples(r);
  char *out = cnt ? calloc(cnt, t->row_size) : NULL;
  if (cnt && !out) return PQclear(r), OBI_ENOMEM;
  for (size_t i = 0; i < cnt; i++) {
    char *p = out + i * t->row_size;
    for (int c = 0; c < t->ncols; c++) {
      const store_col *col = &t->cols[c];
      const char *v = PQgetvalue(r, (int)i, c);
      int32_t i32;
      int64_t i64;
      float f32;
      double f64;
      switch (col->type) {
      case COL_TEXT: snprintf(p + col->off, col->cap, "%s", v); break;
      case COL_I64: i64 = strtoll(v, NULL, 10), memcpy(p + col->off, &i64, 8); break;
      case COL_I32: i32 = (int32_t)strtol(v, NULL, 10), memcpy(p + col->off, &i32, 4); break;
      case COL_F64: f64 = strtod(v, NULL), memcpy(p + col->off, &f64, 8); break;
      case COL_F32: f32 = strtof(v, NULL), memcpy(p + col->off, &f32, 4); break;
      default: parse_array(v, col, p + col->off); break;
      }
    }
  }
  PQclear(r);
  *rows = out;
  *n = cnt;
  return OBI_OK;
}

static obi_err pg_count(void *db, int kind, int64_t *n, char *why, size_t why_len) {
  char sql[256], val[32];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", store__tables[kind].name);
  obi_err rc = pg_value(db, sql, val, sizeof val, why, why_len);
  *n = strtoll(val, NULL, 10);
  return rc;
}

static obi_err pg_schema_version(void *db, int *version, char *why, size_t why_len) {
  return pg_read_version(db, version, why, why_len);
}

static const char *pg_flavour(void *db) { return ((pg_db *)db)->timescale ? "postgresql+timescaledb" : "postgresql"; }

const store_ops store__pg_ops = {"postgresql", pg_open,  pg_close,          pg_write,  pg_reconnect,
                                 pg_query,     pg_count, pg_schema_version, pg_flavour};
