/* store.c — the backend-independent half of obi_store: the schema as data, the bounded
 * queue, the writer thread and the spool file.
 *
 * Invariants. Every row accepted by store_put_* is, at any moment, in exactly one of: the
 * queue (ring), the writer's current batch, the spool file, or the database. The writer
 * moves a batch to the database only while the spool is empty, so the spool always holds
 * the oldest unwritten rows; while it is not empty every new batch is appended to it, and
 * it is replayed whole, then unlinked. A replay that dies half-way is repeated from the
 * start: the primary keys and ON CONFLICT DO NOTHING make the repeat harmless, which is
 * why the spool needs no cursor. The queue never drops: a full queue makes store_put_*
 * wait (counted in full_waits), and since the writer empties the queue into the spool at
 * disk speed when the database is gone, the wait is bounded by an fsync, not by a network
 * timeout.
 *
 * Locks: mu guards the queue, the counters and the error text; db_mu serialises the use of
 * the backend's connection between the writer and the caller's queries. The writer never
 * holds mu while it talks to the database or the disk. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"

/* ---- the schema as data ---- */

#define C_TEXT(S, f)                                                                                                   \
  { #f, COL_TEXT, offsetof(S, f), sizeof(((S *)0)->f), 0 }
#define C_I64(S, f)                                                                                                    \
  { #f, COL_I64, offsetof(S, f), 0, 0 }
#define C_I32(S, f)                                                                                                    \
  { #f, COL_I32, offsetof(S, f), 0, 0 }
#define C_F64(S, f)                                                                                                    \
  { #f, COL_F64, offsetof(S, f), 0, 0 }
#define C_F32(S, f)                                                                                                    \
  { #f, COL_F32, offsetof(S, f), 0, 0 }
#define C_I64ARR(S, f, cnt)                                                                                            \
  { #f, COL_I64ARR, offsetof(S, f), STORE_MAX_LEVELS, offsetof(S, cnt) }
#define C_F32ARR(S, f, cnt)                                                                                            \
  { #f, COL_F32ARR, offsetof(S, f), STORE_MAX_FEATURES, offsetof(S, cnt) }
#define NCOLS(a) ((int)(sizeof a / sizeof a[0]))

static const store_col prediction_cols[] = {C_TEXT(store_prediction, instrument), C_I64(store_prediction, ts_ns),
                                            C_I32(store_prediction, seq),         C_TEXT(store_prediction, model),
                                            C_I32(store_prediction, horizon),     C_F32(store_prediction, p_down),
                                            C_F32(store_prediction, p_flat),      C_F32(store_prediction, p_up)};
static const store_col fill_cols[] = {
    C_TEXT(store_fill, run_id), C_TEXT(store_fill, instrument), C_I64(store_fill, ts_ns),
    C_I32(store_fill, seq),     C_TEXT(store_fill, order_id),   C_I32(store_fill, side),
    C_I64(store_fill, price),   C_I64(store_fill, size),        C_F64(store_fill, fee)};
static const store_col book_cols[] = {C_TEXT(store_book_snapshot, instrument),
                                      C_I64(store_book_snapshot, ts_ns),
                                      C_I32(store_book_snapshot, seq),
                                      C_I32(store_book_snapshot, depth),
                                      C_I64ARR(store_book_snapshot, bid_px, depth),
                                      C_I64ARR(store_book_snapshot, bid_sz, depth),
                                      C_I64ARR(store_book_snapshot, ask_px, depth),
                                      C_I64ARR(store_book_snapshot, ask_sz, depth)};
static const store_col trade_cols[] = {C_TEXT(store_trade, instrument), C_I64(store_trade, ts_ns),
                                       C_I32(store_trade, seq),         C_I64(store_trade, price),
                                       C_I64(store_trade, size),        C_I32(store_trade, side)};
static const store_col feature_cols[] = {C_TEXT(store_feature_row, instrument), C_I64(store_feature_row, ts_ns),
                                         C_I32(store_feature_row, seq),         C_I32(store_feature_row, version),
                                         C_I32(store_feature_row, n),           C_F32ARR(store_feature_row, vals, n)};
static const store_col model_cols[] = {C_TEXT(store_model_entry, file_hash), C_TEXT(store_model_entry, name),
                                       C_I64(store_model_entry, created_ns), C_TEXT(store_model_entry, config),
                                       C_TEXT(store_model_entry, metrics)};
static const store_col backtest_cols[] = {
    C_TEXT(store_backtest_result, run_id),    C_TEXT(store_backtest_result, instrument),
    C_I64(store_backtest_result, created_ns), C_F64(store_backtest_result, pnl),
    C_F64(store_backtest_result, sharpe),     C_F64(store_backtest_result, max_drawdown),
    C_I64(store_backtest_result, n_trades),   C_TEXT(store_backtest_result, metrics)};
static const store_col instrument_cols[] = {C_TEXT(store_instrument, symbol), C_F64(store_instrument, tick_size),
                                            C_F64(store_instrument, lot_size), C_TEXT(store_instrument, venue)};
static const store_col signal_cols[] = {C_TEXT(store__signal, instrument), C_I64(store__signal, ts_ns),
                                        C_I32(store__signal, seq), C_TEXT(store__signal, model),
                                        C_F64(store__signal, value)};
static const store_col order_cols[] = {
    C_TEXT(store__order, run_id), C_TEXT(store__order, instrument), C_I64(store__order, ts_ns),
    C_I32(store__order, seq),     C_TEXT(store__order, order_id),   C_I32(store__order, side),
    C_I64(store__order, price),   C_I64(store__order, size),        C_TEXT(store__order, type)};
static const store_col run_cols[] = {C_TEXT(store__backtest_run, run_id), C_I64(store__backtest_run, created_ns),
                                     C_TEXT(store__backtest_run, model_hash), C_TEXT(store__backtest_run, config)};

static const store_col monitor_cols[] = {C_TEXT(store_monitor, symbol),
                                         C_I64(store_monitor, ts_ns),
                                         C_TEXT(store_monitor, model),
                                         C_TEXT(store_monitor, version),
                                         C_I64(store_monitor, n),
                                         C_F64(store_monitor, accuracy),
                                         C_F64(store_monitor, macro_f1),
                                         C_F64(store_monitor, log_loss),
                                         C_F64(store_monitor, calibration_error),
                                         C_F64(store_monitor, psi_max),
                                         C_TEXT(store_monitor, psi_feature),
                                         C_I32(store_monitor, alert)};

#define TABLE(name, cols, key, filter, time, order, S)                                                                 \
  { name, cols, NCOLS(cols), key, filter, time, order, sizeof(S) }
const store_table store__tables[ST_NKIND] = {
    [ST_PREDICTION] = TABLE("predictions", prediction_cols, "instrument, ts_ns, model, horizon, seq", 0, 1,
                            "instrument, ts_ns, model, horizon, seq", store_prediction),
    [ST_FILL] =
        TABLE("fills", fill_cols, "run_id, instrument, ts_ns, seq", 0, 2, "run_id, ts_ns, instrument, seq", store_fill),
    [ST_BOOK] = TABLE("book_snapshots", book_cols, "instrument, ts_ns, seq", 0, 1, "instrument, ts_ns, seq",
                      store_book_snapshot),
    [ST_TRADE] = TABLE("trades", trade_cols, "instrument, ts_ns, seq", 0, 1, "instrument, ts_ns, seq", store_trade),
    [ST_FEATURE] = TABLE("features", feature_cols, "instrument, ts_ns, version, seq", 0, 1,
                         "instrument, ts_ns, version, seq", store_feature_row),
    [ST_MODEL] = TABLE("models", model_cols, "file_hash", 1, -1, "created_ns, file_hash", store_model_entry),
    [ST_BACKTEST] = TABLE("backtest_results", backtest_cols, "run_id, instrument", 0, -1, "run_id, instrument",
                          store_backtest_result),
    [ST_INSTRUMENT] = TABLE("instruments", instrument_cols, "symbol", 0, -1, "symbol", store_instrument),
    [ST_SIGNAL] = TABLE("signals", signal_cols, "instrument, ts_ns, model, seq", 0, 1, "instrument, ts_ns, model, seq",
                        store__signal),
    [ST_ORDER] = TABLE("orders", order_cols, "run_id, instrument, ts_ns, seq", 0, 2, "run_id, ts_ns, instrument, seq",
                       store__order),
    [ST_RUN] = TABLE("backtest_runs", run_cols, "run_id", 0, -1, "created_ns, run_id", store__backtest_run),
    [ST_MONITOR] = TABLE("monitor", monitor_cols, "symbol, ts_ns, model, version", 0, 1,
                         "symbol, ts_ns, model, version", store_monitor),
};

int store__table_since(int kind) { return kind == ST_MONITOR ? 2 : 1; }

const char *const store__migrations[STORE_SCHEMA_VERSION] = {
    "1: instruments, book_snapshots, trades, features, predictions, signals, orders, fills, backtest_runs, "
    "backtest_results, models",
    "2: monitor"};

int store__table_index(const char *name) {
  for (int k = 0; k < ST_NKIND; k++)
    if (!strcmp(store__tables[k].name, name)) return k;
  return -1;
}

size_t store__array_count(const store_col *c, const void *row) {
  int32_t n;
  memcpy(&n, (const char *)row + c->count_off, sizeof n);
  return n < 0 ? 0 : (size_t)n > c->cap ? c->cap : (size_t)n;
}

/* ---- the store ---- */

#define SPOOL_MAGIC "OBISPL1"

struct obi_store {
  const store_ops *ops;
  void *db;
  char url[512]; /* as shown in messages: the password hidden */
  char spool_path[512];
  size_t batch_rows;

  pthread_mutex_t mu, db_mu;
  pthread_cond_t not_empty, not_full, idle;
  pthread_t writer;
  int writer_started;
  store_row *ring; /* cap slots, count of them used from head */
  size_t cap, head, count;
  int busy;                 /* the writer holds a batch */
  int stopping;             /* store_close has begun */
  int down;                 /* the connection is lost: reconnect before the next replay */
  int failed;               /* a write failed for good: err says why; rows go to the spool */
  uint64_t spool_rows;      /* whole rows in the spool file */
  struct timespec retry_at; /* next replay attempt while the spool is not empty */
  int backoff_ms;
  int inject; /* test hook: fail this many writes */
  store_stats st;
  char err[1024]; /* the writer's last error (under mu) */
  char msg[3072]; /* what store_errmsg returns */
};

static void now_plus(struct timespec *t, int ms) {
  clock_gettime(CLOCK_MONOTONIC, t);
  t->tv_sec += ms / 1000;
  t->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) t->tv_sec++, t->tv_nsec -= 1000000000L;
}

static int before_now(const struct timespec *t) {
  struct timespec n;
  clock_gettime(CLOCK_MONOTONIC, &n);
  return t->tv_sec < n.tv_sec || (t->tv_sec == n.tv_sec && t->tv_nsec <= n.tv_nsec);
}

static void set_err(obi_store *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
}

/* ---- the spool: a header, then store_row records; appended with one fsync per batch ---- */

typedef struct {
  char magic[8];
  uint32_t row_size, schema;
} spool_header;

/* Appends n rows; 0 or -1 (errno). */
static int spool_append(obi_store *s, const store_row *rows, size_t n) {
  int fd = open(s->spool_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return -1;
  struct stat sb;
  int ok = fstat(fd, &sb) == 0;
  if (ok && sb.st_size == 0) {
    spool_header h = {SPOOL_MAGIC, (uint32_t)sizeof(store_row), STORE_SCHEMA_VERSION};
    ok = write(fd, &h, sizeof h) == (ssize_t)sizeof h;
  }
  const char *p = (const char *)rows;
  size_t left = n * sizeof *rows;
  while (ok && left) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) p += w, left -= (size_t)w;
  }
  ok = ok && fsync(fd) == 0;
  int e = errno;
  close(fd);
  errno = e;
  return ok ? 0 : -1;
}

/* Counts the whole rows of an existing spool (0 when there is none); cuts a torn last
 * record (a batch whose fsync never returned was never acknowledged). */
static obi_err spool_scan(obi_store *s, char *why, size_t why_len) {
  int fd = open(s->spool_path, O_RDWR);
  if (fd < 0)
    return errno == ENOENT ? OBI_OK : (snprintf(why, why_len, "spool %s: %s", s->spool_path, strerror(errno)), OBI_EIO);
  spool_header h;
  struct stat sb;
  obi_err rc = OBI_OK;
  if (fstat(fd, &sb) != 0) {
    rc = OBI_EIO;
  } else if (sb.st_size == 0) {
    s->spool_rows = 0;
  } else if (read(fd, &h, sizeof h) != (ssize_t)sizeof h || memcmp(h.magic, SPOOL_MAGIC, 8) ||
             h.row_size != sizeof(store_row) || h.schema < 1 || h.schema > STORE_SCHEMA_VERSION) {
    snprintf(why, why_len, "spool %s: not a spool of this obi build (expected row size %zu, schema %d)", s->spool_path,
             sizeof(store_row), STORE_SCHEMA_VERSION);
    rc = OBI_EPARSE;
  } else {
    s->spool_rows = (uint64_t)(sb.st_size - (off_t)sizeof h) / sizeof(store_row);
    off_t whole = (off_t)(sizeof h + s->spool_rows * sizeof(store_row));
    if (whole != sb.st_size && ftruncate(fd, whole) != 0) rc = OBI_EIO;
  }
  if (rc == OBI_EIO && why[0] == 0) snprintf(why, why_len, "spool %s: %s", s->spool_path, strerror(errno));
  close(fd);
  return rc;
}

/* Writes the whole spool to the database in batches, then unlinks it. Called by the writer
 * with db_mu held. OBI_OK, or the backend's error (message in why). */
static obi_err spool_replay(obi_store *s, store_row *buf, uint64_t *rows_written, char *why, size_t why_len) {
  FILE *f = fopen(s->spool_path, "rb");
  *rows_written = 0;
  if (!f)
    return errno == ENOENT ? OBI_OK : (snprintf(why, why_len, "spool %s: %s", s->spool_path, strerror(errno)), OBI_EIO);
  obi_err rc = fseek(f, (long)sizeof(spool_header), SEEK_SET) ? OBI_EIO : OBI_OK;
  size_t n;
  while (rc == OBI_OK && (n = fread(buf, sizeof *buf, s->batch_rows, f)) > 0) {
    rc = s->ops->write(s->db, buf, n, why, why_len);
    if (rc == OBI_OK) *rows_written += n;
  }
  if (rc == OBI_OK && ferror(f)) rc = OBI_EIO, snprintf(why, why_len, "spool %s: read error", s->spool_path);
  fclose(f);
  if (rc == OBI_OK && unlink(s->spool_path) != 0)
    rc = OBI_EIO, snprintf(why, why_len, "spool %s: cannot remove: %s", s->spool_path, strerror(errno));
  return rc;
}

/* Writes one batch (or spools it); the writer, without mu. */
static void write_batch(obi_store *s, store_row *batch, size_t n, store_row *buf) {
  char why[900] = "";
  pthread_mutex_lock(&s->mu);
  int direct = s->spool_rows == 0 && !s->failed && !s->down;
  pthread_mutex_unlock(&s->mu);
  obi_err rc = OBI_EIO;
  if (direct) {
    pthread_mutex_lock(&s->db_mu);
    if (s->inject > 0)
      s->inject--, snprintf(why, sizeof why, "injected failure");
    else
      rc = s->ops->write(s->db, batch, n, why, sizeof why);
    pthread_mutex_unlock(&s->db_mu);
  }
  if (rc == OBI_OK) {
    pthread_mutex_lock(&s->mu);
    s->st.written += n;
    pthread_mutex_unlock(&s->mu);
    return;
  }
  /* Into the spool; a failing disk is retried rather than losing the batch (the queue
   * fills meanwhile and puts wait: back-pressure, not loss). */
  int tries = 0;
  while (spool_append(s, batch, n) != 0) {
    pthread_mutex_lock(&s->mu);
    set_err(s, "store %s: cannot write the spool %s: %s", s->url, s->spool_path, strerror(errno));
    int give_up = s->stopping && ++tries > 50;
    pthread_mutex_unlock(&s->mu);
    if (give_up) return;
    nanosleep(&(struct timespec){0, 100000000L}, NULL);
  }
  (void)buf;
  pthread_mutex_lock(&s->mu);
  if (direct) {
    set_err(s, "store %s: %s", s->url, why);
    if (rc == OBI_EIO)
      s->down = 1;
    else
      s->failed = 1;
    s->backoff_ms = 50;
    now_plus(&s->retry_at, s->backoff_ms);
  }
  s->spool_rows += n;
  s->st.spooled += n;
  pthread_mutex_unlock(&s->mu);
}

/* One attempt to reconnect (if needed) and replay the spool; the writer, without mu. */
static void try_replay(obi_store *s, store_row *buf) {
  char why[900] = "";
  uint64_t rows = 0;
  pthread_mutex_lock(&s->db_mu);
  obi_err rc = OBI_OK;
  if (s->down) rc = s->ops->reconnect(s->db, why, sizeof why);
  if (rc == OBI_OK) {
    if (s->inject > 0)
      s->inject--, rc = OBI_EIO, snprintf(why, sizeof why, "injected failure");
    else
      rc = spool_replay(s, buf, &rows, why, sizeof why);
  }
  pthread_mutex_unlock(&s->db_mu);
  pthread_mutex_lock(&s->mu);
  s->st.written += rows;
  if (rc == OBI_OK) {
    s->down = 0;
    s->spool_rows = 0;
    s->st.replays++;
    s->err[0] = 0;
  } else {
    set_err(s, "store %s: %s", s->url, why);
    if (rc == OBI_EIO)
      s->down = 1;
    else
      s->failed = 1;
    s->backoff_ms = s->backoff_ms < 50 ? 50 : s->backoff_ms * 2 > 1000 ? 1000 : s->backoff_ms * 2;
    now_plus(&s->retry_at, s->backoff_ms);
  }
  pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg) {
  obi_store *s = arg;
  store_row *batch = malloc(s->batch_rows * sizeof *batch), *buf = malloc(s->batch_rows * sizeof *buf);
  pthread_mutex_lock(&s->mu);
  for (;;) {
    int replay_due = s->spool_rows && !s->failed && before_now(&s->retry_at);
    while (!s->count && !s->stopping && !replay_due) {
      if (s->spool_rows && !s->failed)
        pthread_cond_timedwait(&s->not_empty, &s->mu, &s->retry_at);
      else
        pthread_cond_wait(&s->not_empty, &s->mu);
      replay_due = s->spool_rows && !s->failed && before_now(&s->retry_at);
    }
    size_t n = 0;
    if (batch && buf) {
      for (; n < s->count && n < s->batch_rows; n++) batch[n] = s->ring[(s->head + n) % s->cap];
      s->head = (s->head + n) % s->cap;
      s->count -= n;
    }
    s->busy = 1;
    int stop = s->stopping && s->count == 0;
    pthread_cond_broadcast(&s->not_full);
    pthread_mutex_unlock(&s->mu);
    if (replay_due || (stop && s->spool_rows && !s->failed)) try_replay(s, buf);
    if (n) write_batch(s, batch, n, buf);
    pthread_mutex_lock(&s->mu);
    s->busy = 0;
    pthread_cond_broadcast(&s->idle);
    if (stop && s->count == 0) break;
    if (!batch || !buf) { /* cannot run without memory: hold the rows, report */
      set_err(s, "store %s: out of memory in the writer", s->url);
      s->failed = 1;
      pthread_cond_wait(&s->not_empty, &s->mu);
    }
  }
  pthread_mutex_unlock(&s->mu);
  free(batch);
  free(buf);
  return NULL;
}

/* ---- public API ---- */

static void hide_password(const char *url, char *out, size_t len) {
  snprintf(out, len, "%s", url);
  char *scheme = strstr(out, "://");
  if (!scheme) return;
  char *at = strchr(scheme + 3, '@'), *colon = strchr(scheme + 3, ':');
  if (at && colon && colon < at) memmove(colon + 4, at, strlen(at) + 1), memcpy(colon, ":***", 4);
}

obi_err store_open(obi_store **out, const char *url, const store_options *opt, char *why, size_t why_len) {
  *out = NULL;
  if (why_len) why[0] = 0;
  obi_store *s = calloc(1, sizeof *s);
  if (!s) return OBI_ENOMEM;
  hide_password(url, s->url, sizeof s->url);
  const char *target;
  if (!strncmp(url, "sqlite:", 7)) {
    s->ops = &store__sqlite_ops;
    target = url + 7;
    if (!strncmp(target, "//", 2)) target += 2;
    snprintf(s->spool_path, sizeof s->spool_path, "%s.spool", target);
  } else if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
    s->ops = &store__pg_ops;
    target = url;
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = url; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    const char *dir = getenv("OBI_SPOOL_DIR");
    snprintf(s->spool_path, sizeof s->spool_path, "%s/obi-store-%016llx.spool", dir && *dir ? dir : ".",
             (unsigned long long)h);
  } else {
    snprintf(why, why_len, "store '%s': unknown scheme (expected sqlite:PATH or postgresql://...)", s->url);
    free(s);
    return OBI_EINVAL;
  }
  if (opt && opt->spool_path) snprintf(s->spool_path, sizeof s->spool_path, "%s", opt->spool_path);
  s->cap = opt && opt->queue_rows ? opt->queue_rows : 32768;
  s->batch_rows = opt && opt->batch_rows ? opt->batch_rows : 8192;
  s->ring = malloc(s->cap * sizeof *s->ring);
  if (!s->ring) {
    free(s);
    return OBI_ENOMEM;
  }
  char msg[900] = "";
  obi_err rc = s->ops->open(&s->db, target, s->url, msg, sizeof msg);
  if (rc) {
    snprintf(why, why_len, "store %s: %s", s->url, msg);
    free(s->ring);
    free(s);
    return rc;
  }
  rc = spool_scan(s, why, why_len);
  if (rc) {
    s->ops->close(s->db);
    free(s->ring);
    free(s);
    return rc;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->db_mu, NULL);
  pthread_cond_init(&s->not_empty, &ca);
  pthread_cond_init(&s->not_full, &ca);
  pthread_cond_init(&s->idle, &ca);
  pthread_condattr_destroy(&ca);
  clock_gettime(CLOCK_MONOTONIC, &s->retry_at); /* a spool left behind is replayed at once */
  if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
    snprintf(why, why_len, "store %s: cannot start the writer thread", s->url);
    store_close(s);
    return OBI_ENOMEM;
  }
  s->writer_started = 1;
  *out = s;
  return OBI_OK;
}

void store_close(obi_store *s) {
  if (!s) return;
  if (s->writer_started) {
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->not_empty);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
  }
  s->ops->close(s->db);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->db_mu);
  pthread_cond_destroy(&s->not_empty);
  pthread_cond_destroy(&s->not_full);
  pthread_cond_destroy(&s->idle);
  free(s->ring);
  free(s);
}

static obi_err put(obi_store *s, int kind, const void *row, size_t size) {
  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    pthread_mutex_unlock(&s->mu);
    return OBI_EINVAL;
  }
  if (s->count == s->cap) s->st.full_waits++;
  while (s->count == s->cap) pthread_cond_wait(&s->not_full, &s->mu);
  store_row *slot = &s->ring[(s->head + s->count) % s->cap];
  slot->kind = kind;
  memcpy(&slot->u, row, size);
  s->count++;
  s->st.put++;
  pthread_cond_signal(&s->not_empty);
  pthread_mutex_unlock(&s->mu);
  return OBI_OK;
}

obi_err store_put_prediction(obi_store *s, const store_prediction *r) { return put(s, ST_PREDICTION, r, sizeof *r); }
obi_err store_put_fill(obi_store *s, const store_fill *r) { return put(s, ST_FILL, r, sizeof *r); }
obi_err store_put_book_snapshot(obi_store *s, const store_book_snapshot *r) { return put(s, ST_BOOK, r, sizeof *r); }
obi_err store_put_trade(obi_store *s, const store_trade *r) { return put(s, ST_TRADE, r, sizeof *r); }
obi_err store_put_feature_row(obi_store *s, const store_feature_row *r) { return put(s, ST_FEATURE, r, sizeof *r); }
obi_err store_put_model(obi_store *s, const store_model_entry *r) { return put(s, ST_MODEL, r, sizeof *r); }
obi_err store_put_backtest_result(obi_store *s, const store_backtest_result *r) {
  return put(s, ST_BACKTEST, r, sizeof *r);
}
obi_err store_put_monitor(obi_store *s, const store_monitor *r) { return put(s, ST_MONITOR, r, sizeof *r); }
obi_err store_put_instrument(obi_store *s, const store_instrument *r) { return put(s, ST_INSTRUMENT, r, sizeof *r); }

obi_err store_flush(obi_store *s, int timeout_ms) {
  struct timespec deadline;
  now_plus(&deadline, timeout_ms);
  pthread_mutex_lock(&s->mu);
  int timed_out = 0;
  while ((s->count || s->busy || s->spool_rows) && !s->failed && !timed_out)
    timed_out = pthread_cond_timedwait(&s->idle, &s->mu, &deadline) == ETIMEDOUT;
  obi_err rc = OBI_OK;
  if (s->failed) {
    snprintf(s->msg, sizeof s->msg, "%s (rows kept in %s)", s->err, s->spool_path);
    rc = OBI_EIO;
  } else if (s->count || s->busy || s->spool_rows) {
    snprintf(s->msg, sizeof s->msg, "store %s: %llu rows not written after %d ms (spooled in %s): %s", s->url,
             (unsigned long long)(s->count + s->spool_rows), timeout_ms, s->spool_path,
             s->err[0] ? s->err : "the writer is behind");
    rc = OBI_EIO;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

const char *store_errmsg(obi_store *s) { return s->msg; }

void store_get_stats(obi_store *s, store_stats *st) {
  pthread_mutex_lock(&s->mu);
  *st = s->st;
  st->pending = s->count + s->spool_rows + (s->busy ? 1 : 0);
  pthread_mutex_unlock(&s->mu);
}

const char *store_backend(const obi_store *s) { return s->ops->flavour(s->db); }

void store__inject_failures(obi_store *s, int n) {
  pthread_mutex_lock(&s->db_mu);
  s->inject = n;
  pthread_mutex_unlock(&s->db_mu);
}

/* Runs a read on the caller's thread: db_mu keeps it off the writer's connection use. */
#define WITH_DB(s, call)                                                                                               \
  do {                                                                                                                 \
    char why_[900] = "";                                                                                               \
    pthread_mutex_lock(&(s)->db_mu);                                                                                   \
    obi_err rc_ = (call);                                                                                              \
    pthread_mutex_unlock(&(s)->db_mu);                                                                                 \
    if (rc_) snprintf((s)->msg, sizeof(s)->msg, "store %s: %s", (s)->url, why_);                                       \
    return rc_;                                                                                                        \
  } while (0)

obi_err store_schema_version(obi_store *s, int *version) {
  WITH_DB(s, s->ops->schema_version(s->db, version, why_, sizeof why_));
}

obi_err store_count(obi_store *s, const char *table, int64_t *n) {
  int k = store__table_index(table);
  if (k < 0) {
    snprintf(s->msg, sizeof s->msg, "store %s: no table '%s'", s->url, table);
    return OBI_EINVAL;
  }
  WITH_DB(s, s->ops->count(s->db, k, n, why_, sizeof why_));
}

static obi_err query(obi_store *s, int kind, const char *key, int64_t from, int64_t to, void **rows, size_t *n) {
  *rows = NULL;
  *n = 0;
  WITH_DB(s, s->ops->query(s->db, kind, key, from, to, rows, n, why_, sizeof why_));
}

obi_err store_query_predictions(obi_store *s, const char *instrument, int64_t from_ns, int64_t to_ns,
                                store_prediction **rows, size_t *n) {
  return query(s, ST_PREDICTION, instrument, from_ns, to_ns, (void **)rows, n);
}
obi_err store_query_fills(obi_store *s, const char *run_id, int64_t from_ns, int64_t to_ns, store_fill **rows,
                          size_t *n) {
  return query(s, ST_FILL, run_id, from_ns, to_ns, (void **)rows, n);
}
obi_err store_query_book_snapshots(obi_store *s, const char *instrument, int64_t from_ns, int64_t to_ns,
                                   store_book_snapshot **rows, size_t *n) {
  return query(s, ST_BOOK, instrument, from_ns, to_ns, (void **)rows, n);
}
obi_err store_query_trades(obi_store *s, const char *instrument, int64_t from_ns, int64_t to_ns, store_trade **rows,
                           size_t *n) {
  return query(s, ST_TRADE, instrument, from_ns, to_ns, (void **)rows, n);
}
obi_err store_query_feature_rows(obi_store *s, const char *instrument, int64_t from_ns, int64_t to_ns,
                                 store_feature_row **rows, size_t *n) {
  return query(s, ST_FEATURE, instrument, from_ns, to_ns, (void **)rows, n);
}
obi_err store_query_models(obi_store *s, const char *name, store_model_entry **rows, size_t *n) {
  return query(s, ST_MODEL, name, 0, 0, (void **)rows, n);
}
obi_err store_query_backtest_results(obi_store *s, const char *run_id, store_backtest_result **rows, size_t *n) {
  return query(s, ST_BACKTEST, run_id, 0, 0, (void **)rows, n);
}
obi_err store_query_instruments(obi_store *s, const char *symbol, store_instrument **rows, size_t *n) {
  return query(s, ST_INSTRUMENT, symbol, 0, 0, (void **)rows, n);
}
obi_err store_query_monitor(obi_store *s, const char *symbol, int64_t from_ns, int64_t to_ns, store_monitor **rows,
                            size_t *n) {
  return query(s, ST_MONITOR, symbol, from_ns, to_ns, (void **)rows, n);
}
