/* runner.c — runs every test listed in tests.h (or those whose names contain argv[1]),
 * prints TAP lines and ends with "N passed, N failed"; exit status 1 if any failed. */
#include <cblas.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "tests.h"

#define DECLARE(name) void name(void);
TEST_LIST(DECLARE)
#undef DECLARE

static const struct {
  const char *name;
  void (*fn)(void);
} tests[] = {
#define ENTRY(name) {#name, name},
    TEST_LIST(ENTRY)
#undef ENTRY
};

static int failed_now, skipped_now;
static char skip_reason[256];
static char tmpdir[256];

void test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("# %s:%d: ", file, line);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  failed_now = 1;
}

void test_skip(const char *reason) {
  skipped_now = 1;
  snprintf(skip_reason, sizeof skip_reason, "%s", reason);
}

const char *test_tmpdir(void) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/obi_test_XXXXXX");
    if (!mkdtemp(tmpdir)) {
      perror("mkdtemp");
      exit(2);
    }
  }
  return tmpdir;
}

const char *test_write_file(const char *name, const char *text) {
  static char paths[16][512];
  static int next;
  char *path = paths[next++ % 16];
  snprintf(path, 512, "%s/%s", test_tmpdir(), name);
  FILE *f = fopen(path, "wb");
  if (!f || fputs(text, f) < 0 || fclose(f)) {
    perror(path);
    exit(2);
  }
  return path;
}

char test_out[1 << 16], test_err[1 << 14];

/* Reads up to cap - 1 bytes of path into buf (empty when it cannot be opened); 1 if it was read. */
static int slurp(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
  buf[n] = 0;
  if (f) fclose(f);
  return f != NULL;
}

const char *test_read_file(const char *path) {
  static char buf[1 << 20];
  return slurp(path, buf, sizeof buf) ? buf : NULL;
}

int test_run_obi(const char *args) {
  char cmd[4096], out[600], err[600];
  snprintf(out, sizeof out, "%s/obi_stdout", test_tmpdir());
  snprintf(err, sizeof err, "%s/obi_stderr", test_tmpdir());
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >'%s' 2>'%s'", OBI_SOURCE_DIR, OBI_BIN, args, out, err);
  int status = system(cmd);
  slurp(out, test_out, sizeof test_out);
  slurp(err, test_err, sizeof test_err);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void remove_tmpdir(void) {
  if (!tmpdir[0]) return;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  openblas_set_num_threads(1); /* as the obi binary does: small matrices */
  atexit(remove_tmpdir);
  size_t n = sizeof tests / sizeof tests[0];
  int passed = 0, failed = 0, skipped = 0, index = 0;
  printf("TAP version 13\n");
  for (size_t i = 0; i < n; i++) {
    if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
    failed_now = skipped_now = 0;
    tests[i].fn();
    index++;
    if (failed_now) {
      printf("not ok %d - %s\n", index, tests[i].name);
      failed++;
    } else if (skipped_now) {
      printf("ok %d - %s # SKIP %s\n", index, tests[i].name, skip_reason);
      skipped++;
    } else {
      printf("ok %d - %s\n", index, tests[i].name);
      passed++;
    }
  }
  printf("1..%d\n", index);
  if (skipped) printf("# %d skipped\n", skipped);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
