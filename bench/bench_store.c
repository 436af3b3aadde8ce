/* bench_store.c — how fast obi_store takes rows into SQLite and PostgreSQL.
 *
 * What is timed is what a caller sees: from the first store_put_* to the return of store_flush,
 * that is, every row committed in the database (the queue, the writer thread, the backend's
 * batch writes). The producer is one thread putting rows as fast as it can; the writer thread
 * and, for PostgreSQL, the server run beside it on the same machine.
 *
 * Rows: feature rows of 91 float32 values (the engine's full row, docs/features.md) and
 * predictions. Each timed run writes new keys (a new day of timestamps), so ON CONFLICT never
 * skips a row; the figure is the median of 3 runs.
 *
 * SQLite: a fresh file in $TMPDIR. PostgreSQL: a throwaway cluster started as test_store.c
 * starts it (test/pg_cluster.c), on a loopback TCP port, once with fsync=off (the tests'
 * setting) and once with the server's defaults (fsync on, synchronous_commit on); skipped with
 * a message when the server binaries are missing. The batch size is varied for feature rows
 * (store_options.batch_rows).
 *
 * usage: bench_store [--rows N] [--no-pg]
 * Prints one JSON object on stdout and a human summary on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test/pg_cluster.h"
#include "obi/store.h"

#include "bench_common.h"

#define FEATURES 91
#define RUNS 3
static const int64_t T0 = 1718000000000000000LL; /* 2024-06-10 */
static const int64_t DAY = 86400000000000LL;

static int day_counter; /* every run gets a day of its own: new keys */

/* Puts n rows of kind (0 features, 1 predictions) and flushes; rows per second, or -1. */
static double timed_run(const char *url, const store_options *opt, int kind, int n) {
  char why[1024];
  obi_store *s;
  if (store_open(&s, url, opt, why, sizeof why) != OBI_OK) {
    fprintf(stderr, "bench_store: %s\n", why);
    return -1;
  }
  int64_t base = T0 + (int64_t)(day_counter++) * DAY;
  static store_feature_row fr;
  store_prediction pr;
  memset(&fr, 0, sizeof fr);
  memset(&pr, 0, sizeof pr);
  snprintf(fr.instrument, sizeof fr.instrument, "AMZN");
  fr.version = 1, fr.n = FEATURES;
  snprintf(pr.instrument, sizeof pr.instrument, "AMZN");
  snprintf(pr.model, sizeof pr.model, "logistic:0123456789ab");
  pr.horizon = 20;
  double t0 = now();
  for (int i = 0; i < n; i++) {
    int64_t ts = base + (int64_t)i * 1000000; /* 1 ms apart: a run fits in a day */
    if (kind == 0) {
      fr.ts_ns = ts, fr.seq = i;
      for (int c = 0; c < FEATURES; c++) fr.vals[c] = (float)(i % 1000) * 0.001f + (float)c * 0.37f;
      store_put_feature_row(s, &fr);
    } else {
      pr.ts_ns = ts, pr.seq = i;
      pr.p_down = 0.2f + (float)(i % 7) * 0.01f, pr.p_up = 0.3f - (float)(i % 5) * 0.01f;
      pr.p_flat = 1 - pr.p_down - pr.p_up;
      store_put_prediction(s, &pr);
    }
  }
  obi_err rc = store_flush(s, 600000);
  double t = now() - t0;
  if (rc != OBI_OK) fprintf(stderr, "bench_store: %s\n", store_errmsg(s));
  store_close(s);
  if (rc != OBI_OK) return -1;
  return (double)n / t;
}

static double median_rate(const char *url, const store_options *opt, int kind, int n) {
  double r[RUNS];
  for (int k = 0; k < RUNS; k++)
    if ((r[k] = timed_run(url, opt, kind, n)) < 0) return -1;
  qsort(r, RUNS, sizeof r[0], cmp_double);
  return r[RUNS / 2];
}

/* The JSON object of one backend: feature rows at each batch size, predictions at the default. */
static int backend(const char *url, int n, char *json, size_t len, const char *label) {
  static const size_t batches[] = {1024, 8192};
  size_t off = (size_t)snprintf(json, len, "{\"feature_rows\":%d,\"features_per_row\":%d", n, FEATURES);
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    store_options opt = {.batch_rows = batches[b], .queue_rows = 4 * batches[b]};
    char spool[256];
    snprintf(spool, sizeof spool, "/tmp/bench_store_%d.spool", (int)getpid());
    opt.spool_path = spool;
    double r = median_rate(url, &opt, 0, n);
    if (r < 0) return -1;
    off += (size_t)snprintf(json + off, len - off, ",\"feature_rows_per_second_batch%zu\":%.0f", batches[b], r);
    fprintf(stderr, "%s: %.0f feature rows/s (%d values a row, batch %zu)\n", label, r, FEATURES, batches[b]);
  }
  double r = median_rate(url, NULL, 1, n);
  if (r < 0) return -1;
  snprintf(json + off, len - off, ",\"prediction_rows_per_second\":%.0f}", r);
  fprintf(stderr, "%s: %.0f prediction rows/s (default batch, 8192)\n", label, r);
  return 0;
}

int main(int argc, char **argv) {
  int n = 100000, use_pg = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--rows") && i + 1 < argc)
      n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-pg"))
      use_pg = 0;
    else {
      fprintf(stderr, "usage: bench_store [--rows N] [--no-pg]\n");
      return 2;
    }
  }
  static char sq[2048], pg_off[2048], pg_on[2048];
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  char path[512], url[600];
  snprintf(path, sizeof path, "%s/bench_store_%d.db", tmp, (int)getpid());
  snprintf(url, sizeof url, "sqlite:%s", path);
  int rc = backend(url, n, sq, sizeof sq, "sqlite");
  static const char *const suffix[] = {"", "-wal", "-shm"};
  for (int k = 0; k < 3; k++) {
    char f[600];
    snprintf(f, sizeof f, "%s%s", path, suffix[k]);
    unlink(f);
  }
  if (rc) return 1;

  const char *skip = use_pg ? pg_up() : "--no-pg";
  if (skip) {
    fprintf(stderr, "bench_store: PostgreSQL skipped: %s\n", skip);
    printf("{\"feature_rows\":%d,\"sqlite\":%s,\"postgresql\":null,\"postgresql_skipped\":\"%s\"}\n", n, sq, skip);
    return 0;
  }
  pg_sql("postgres", "CREATE DATABASE bench");
  snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/bench", pg.port);
  if (backend(url, n, pg_off, sizeof pg_off, "postgresql fsync=off")) return 1;
  snprintf(pg.settings, sizeof pg.settings, "-c fsync=on -c synchronous_commit=on");
  if (pg_ctl("restart") != 0) {
    fprintf(stderr, "bench_store: cannot restart the cluster with fsync on\n");
    return 1;
  }
  if (backend(url, n, pg_on, sizeof pg_on, "postgresql fsync=on")) return 1;
  printf("{\"sqlite\":%s,\"postgresql_fsync_off\":%s,\"postgresql\":%s,\"target_pg_feature_rows_per_second\":200000}\n",
         sq, pg_off, pg_on);
  return 0;
}
