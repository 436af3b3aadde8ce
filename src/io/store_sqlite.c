/* store_sqlite.c — the SQLite backend of obi_store: one file, WAL mode (readers never wait
 * for the writer), synchronous=NORMAL (a commit is durable at the next checkpoint; the WAL
 * survives a process crash), and one transaction per batch from the writer thread.
 *
 * SQLite has no array type: the book levels and the feature values are BLOBs of native
 * (little-endian on every platform obi builds for) int64 or float32, their element count
 * in the depth / n column beside them. Statements are generated from the table
 * descriptors of store.c and prepared once. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"

typedef struct {
  sqlite3 *h;
  sqlite3_stmt *insert[ST_NKIND];
} sq_db;

static const char *const sq_types[COL_NTYPES] = {"TEXT", "INTEGER", "INTEGER", "REAL", "REAL", "BLOB", "BLOB"};

static void col_list(const store_table *t, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = 0;
  for (int c = 0; c < t->ncols && used < len; c++)
    used += (size_t)snprintf(buf + used, len - used, "%s%s", c ? ", " : "", t->cols[c].name);
}

static obi_err sq_fail(sq_db *d, const char *what, char *why, size_t why_len) {
  int code = sqlite3_errcode(d->h) & 0xff;
  snprintf(why, why_len, "%s: %s", what, sqlite3_errmsg(d->h));
  return code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR || code == SQLITE_FULL ||
                 code == SQLITE_CANTOPEN
             ? OBI_EIO
             : OBI_EINVAL;
}

static obi_err sq_exec(sq_db *d, const char *sql, const char *what, char *why, size_t why_len) {
  if (sqlite3_exec(d->h, sql, NULL, NULL, NULL) == SQLITE_OK) return OBI_OK;
  return sq_fail(d, what, why, why_len);
}

/* Creates table k. The primary key is the idempotent key and (for the time series) already an
 * index on (instrument, ts_ns); fills and orders, keyed by run first, get one more. SQLite
 * stores a NaN as NULL, so the DOUBLE columns of the tables of version 2 (monitor metrics,
 * NaN while undefined) may be NULL; read_row turns NULL back into NaN. */
static obi_err sq_create(sq_db *d, int k, char *why, size_t why_len) {
  char sql[4096];
  const store_table *t = &store__tables[k];
  size_t used = (size_t)snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s (", t->name);
  for (int c = 0; c < t->ncols; c++)
    used += (size_t)snprintf(sql + used, sizeof sql - used, "%s %s%s, ", t->cols[c].name, sq_types[t->cols[c].type],
                             t->cols[c].type == COL_F64 && store__table_since(k) >= 2 ? "" : " NOT NULL");
  snprintf(sql + used, sizeof sql - used, "PRIMARY KEY (%s))", t->key);
  obi_err rc = sq_exec(d, sql, t->name, why, why_len);
  if (rc) return rc;
  if (t->time_col > 1) {
    snprintf(sql, sizeof sql, "CREATE INDEX IF NOT EXISTS %s_instrument_time ON %s (instrument, ts_ns)", t->name,
             t->name);
    if ((rc = sq_exec(d, sql, t->name, why, why_len))) return rc;
  }
  return OBI_OK;
}

/* Version v: the tables that version adds (1: all but monitor; 2: monitor). */
static obi_err sq_migrate_to(sq_db *d, int v, char *why, size_t why_len) {
  for (int k = 0; k < ST_NKIND; k++) {
    if (store__table_since(k) != v) continue;
    obi_err rc = sq_create(d, k, why, why_len);
    if (rc) return rc;
  }
  return OBI_OK;
}

static int sq_version(sq_db *d) {
  sqlite3_stmt *st;
  int v = -1;
  if (sqlite3_prepare_v2(d->h, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &st, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static obi_err sq_migrate(sq_db *d, char *why, size_t why_len) {
  obi_err rc = sq_exec(d, "BEGIN IMMEDIATE", "begin", why, why_len);
  if (rc) return rc;
  rc = sq_exec(d,
               "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_ns INTEGER NOT NULL, "
               "description TEXT NOT NULL)",
               "schema_version", why, why_len);
  int v = rc ? -1 : sq_version(d);
  if (!rc && v < 0) rc = sq_fail(d, "schema_version", why, why_len);
  if (!rc && v > STORE_SCHEMA_VERSION) {
    snprintf(why, why_len, "schema_version: the database has version %d, this obi knows up to %d", v,
             STORE_SCHEMA_VERSION);
    rc = OBI_EUNSUPPORTED;
  }
  for (int next = v + 1; !rc && next <= STORE_SCHEMA_VERSION; next++) {
    rc = sq_migrate_to(d, next, why, why_len);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char sql[512];
    snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%d, %lld, '%s')", next,
             (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, store__migrations[next - 1]);
    if (!rc) rc = sq_exec(d, sql, "schema_version", why, why_len);
  }
  if (rc) {
    sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  return sq_exec(d, "COMMIT", "commit", why, why_len);
}

static void sq_close(void *db) {
  sq_db *d = db;
  if (!d) return;
  for (int k = 0; k < ST_NKIND; k++) sqlite3_finalize(d->insert[k]);
  sqlite3_close(d->h);
  free(d);
}

static obi_err sq_open(void **out, const char *path, const char *shown, char *why, size_t why_len) {
  (void)shown;
  sq_db *d = calloc(1, sizeof *d);
  if (!d) return OBI_ENOMEM;
  obi_err rc = OBI_OK;
  if (sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    snprintf(why, why_len, "cannot open %s: %s", path, d->h ? sqlite3_errmsg(d->h) : "out of memory");
    rc = OBI_EIO;
    goto fail;
  }
  sqlite3_busy_timeout(d->h, 5000);
  if ((rc = sq_exec(d, "PRAGMA journal_mode=WAL", path, why, why_len)) ||
      (rc = sq_exec(d, "PRAGMA synchronous=NORMAL", path, why, why_len)))
    goto fail;
  if ((rc = sq_migrate(d, why, why_len))) goto fail;
  for (int k = 0; k < ST_NKIND; k++) {
    const store_table *t = &store__tables[k];
    char cols[1024], sql[2048];
    col_list(t, cols, sizeof cols);
    size_t used = (size_t)snprintf(sql, sizeof sql, "INSERT INTO %s (%s) VALUES (", t->name, cols);
    for (int c = 0; c < t->ncols; c++) used += (size_t)snprintf(sql + used, sizeof sql - used, "%s?", c ? ", " : "");
    snprintf(sql + used, sizeof sql - used, ") ON CONFLICT DO NOTHING");
    if (sqlite3_prepare_v2(d->h, sql, -1, &d->insert[k], NULL) != SQLITE_OK) {
      rc = sq_fail(d, t->name, why, why_len);
      goto fail;
    }
  }
  *out = d;
  return OBI_OK;
fail:
  sq_close(d);
  return rc == OBI_EIO || rc == OBI_EUNSUPPORTED ? rc : OBI_EIO;
}

static void bind_row(sqlite3_stmt *st, const store_table *t, const void *row) {
  const char *p = row;
  for (int c = 0; c < t->ncols; c++) {
    const store_col *col = &t->cols[c];
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    switch (col->type) {
    case COL_TEXT:
      sqlite3_bind_text(st, c + 1, p + col->off, (int)strnlen(p + col->off, col->cap), SQLITE_STATIC);
      break;
    case COL_I64: memcpy(&i64, p + col->off, 8), sqlite3_bind_int64(st, c + 1, i64); break;
    case COL_I32: memcpy(&i32, p + col->off, 4), sqlite3_bind_int64(st, c + 1, i32); break;
    case COL_F64: memcpy(&f64, p + col->off, 8), sqlite3_bind_double(st, c + 1, f64); break;
    case COL_F32: memcpy(&f32, p + col->off, 4), sqlite3_bind_double(st, c + 1, f32); break;
    case COL_I64ARR:
      sqlite3_bind_blob(st, c + 1, p + col->off, (int)(store__array_count(col, row) * 8), SQLITE_STATIC);
      break;
    case COL_F32ARR:
      sqlite3_bind_blob(st, c + 1, p + col->off, (int)(store__array_count(col, row) * 4), SQLITE_STATIC);
      break;
    default: break;
    }
  }
}

static obi_err sq_write(void *db, const store_row *rows, size_t n, char *why, size_t why_len) {
  sq_db *d = db;
  obi_err rc = sq_exec(d, "BEGIN IMMEDIATE", "begin", why, why_len);
  if (rc) return rc;
  for (size_t i = 0; i < n && !rc; i++) {
    const store_table *t = &store__tables[rows[i].kind];
    sqlite3_stmt *st = d->insert[rows[i].kind];
    bind_row(st, t, &rows[i].u);
    if (sqlite3_step(st) != SQLITE_DONE) { /* the message is built only for a failure: this loop is per row */
      char what[128];
      snprintf(what, sizeof what, "insert into %s", t->name);
      rc = sq_fail(d, what, why, why_len);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  if (!rc) rc = sq_exec(d, "COMMIT", "commit", why, why_len);
  if (rc) sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

static obi_err sq_reconnect(void *db, char *why, size_t why_len) {
  (void)db, (void)why, (void)why_len;
  return OBI_OK; /* a file does not go away; busy and I/O errors are simply retried */
}

static void read_row(sqlite3_stmt *st, const store_table *t, void *row) {
  char *p = row;
  memset(row, 0, t->row_size);
  for (int c = 0; c < t->ncols; c++) {
    const store_col *col = &t->cols[c];
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    switch (col->type) {
    case COL_TEXT: {
      const unsigned char *s = sqlite3_column_text(st, c);
      snprintf(p + col->off, col->cap, "%s", s ? (const char *)s : "");
      break;
    }
    case COL_I64: i64 = sqlite3_column_int64(st, c), memcpy(p + col->off, &i64, 8); break;
    case COL_I32: i32 = (int32_t)sqlite3_column_int64(st, c), memcpy(p + col->off, &i32, 4); break;
    case COL_F64:
      f64 = sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
      memcpy(p + col->off, &f64, 8);
      break;
    case COL_F32: f32 = (float)sqlite3_column_double(st, c), memcpy(p + col->off, &f32, 4); break;
    case COL_I64ARR:
    case COL_F32ARR: {
      size_t el = col->type == COL_I64ARR ? 8 : 4, bytes = (size_t)sqlite3_column_bytes(st, c);
      const void *b = sqlite3_column_blob(st, c);
      if (bytes > col->cap * el) bytes = col->cap * el;
      if (b) memcpy(p + col->off, b, bytes);
      break;
    }
    default: break;
    }
  }
}

static obi_err sq_query(void *db, int kind, const char *key, int64_t from, int64_t to, void **rows, size_t *n,
                        char *why, size_t why_len) {
  sq_db *d = db;
  const store_table *t = &store__tables[kind];
  char cols[1024], sql[2048];
  col_list(t, cols, sizeof cols);
  int timed = t->time_col >= 0;
  snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE (?1 IS NULL OR %s = ?1)%s ORDER BY %s", cols, t->name,
           t->cols[t->filter_col].name, timed ? " AND ts_ns >= ?2 AND ts_ns < ?3" : "", t->order);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) return sq_fail(d, t->name, why, why_len);
  if (key)
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 1);
  if (timed) sqlite3_bind_int64(st, 2, from), sqlite3_bind_int64(st, 3, to);
  char *out = NULL;
  size_t cap = 0, cnt = 0;
  int r;
  obi_err rc = OBI_OK;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      cap = cap ? 2 * cap : 64;
      char *g = realloc(out, cap * t->row_size);
      if (!g) {
        rc = OBI_ENOMEM;
        break;
      }
      out = g;
    }
    read_row(st, t, out + cnt++ * t->row_size);
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(d, t->name, why, why_len);
  sqlite3_finalize(st);
  if (rc) {
    free(out);
    return rc;
  }
  *rows = cnt ? out : (free(out), NULL);
  *n = cnt;
  return OBI_OK;
}

static obi_err sq_count(void *db, int kind, int64_t *n, char *why, size_t why_len) {
  sq_db *d = db;
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", store__tables[kind].name);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
    return sq_fail(d, store__tables[kind].name, why, why_len);
  obi_err rc = sqlite3_step(st) == SQLITE_ROW ? OBI_OK : sq_fail(d, store__tables[kind].name, why, why_len);
  *n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc;
}

static obi_err sq_schema_version(void *db, int *version, char *why, size_t why_len) {
  sq_db *d = db;
  *version = sq_version(d);
  return *version < 0 ? sq_fail(d, "schema_version", why, why_len) : OBI_OK;
}

static const char *sq_flavour(void *db) {
  (void)db;
  return "sqlite";
}

const store_ops store__sqlite_ops = {"sqlite", sq_open,  sq_close,          sq_write,  sq_reconnect,
                                     sq_query, sq_count, sq_schema_version, sq_flavour};
