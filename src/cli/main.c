/* main.c — the obi binary: a git-style table of subcommands, each in cmd_<name>.c.
 * Exit codes: 0 success, 1 bad input (one line on stderr saying what and where),
 * 2 usage error. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include <openssl/evp.h>

#include "cli.h"
#include "obi/feed.h"
#include "obi/textin.h"
#include "obi/version.h"

const char *cli_argv0 = "obi";

static const cli_command *const commands[] = {&cmd_replay_def,   &cmd_features_def, &cmd_train_def,  &cmd_eval_def,
                                              &cmd_backtest_def, &cmd_serve_def,    &cmd_record_def, &cmd_live_def,
                                              &cmd_ingest_def,   &cmd_query_def,    &cmd_stream_def, &cmd_demo_def};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *f) {
  fprintf(f, "obi %s — order-book imbalance forecasting\n\nusage: obi <command> [options]\n\ncommands:\n", OBI_VERSION);
  for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(f, "\n'obi <command> --help' describes a command. Exit codes: 0 ok, 1 bad input, 2 usage.\n");
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "obi %s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see 'obi %s --help')\n", cmd->name);
  return EXIT_USAGE;
}

int cli_input_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "obi: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return EXIT_BAD_INPUT;
}

int cli_parse_venue(const char *name) {
  for (int v = 0; name && v < FEED__VENUE_COUNT; v++)
    if (!strcmp(name, feed_venue_name(v))) return v;
  return -1;
}

int cli_parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  if (!s || !*s) return -1;
  long v = strtol(s, &end, 10);
  if (*end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int cli_sha256_file(const char *path, char hex[65]) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char buf[1 << 16], md[32];
  unsigned int len = 0;
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  size_t n;
  while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(ctx, buf, n);
  ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &len) && len == 32;
  EVP_MD_CTX_free(ctx);
  fclose(f);
  for (int i = 0; ok && i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return ok ? 0 : -1;
}

int cli_sha256_lines(const char *path, char hex[65]) {
  obi_textin *t;
  if (obi_textin_open(&t, path)) return -1;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char md[32];
  unsigned int len = 0;
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  const char *line;
  size_t n;
  obi_err err;
  while (ok && (err = obi_textin_line(t, &line, &n)) == OBI_OK)
    ok = EVP_DigestUpdate(ctx, line, n) && EVP_DigestUpdate(ctx, "\n", 1);
  ok = ok && err == OBI_EEOF && EVP_DigestFinal_ex(ctx, md, &len) && len == 32;
  EVP_MD_CTX_free(ctx);
  obi_textin_close(t);
  for (int i = 0; ok && i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return ok ? 0 : -1;
}

void cli_source_day(const char *path, char *day, size_t len) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *us = strchr(base, '_');
  int y, m, d;
  if (us && sscanf(us + 1, "%4d-%2d-%2d", &y, &m, &d) == 3)
    snprintf(day, len, "%.*s_%04d-%02d-%02d", (int)(us - base) < 40 ? (int)(us - base) : 40, base, y, m, d);
  else
    day[0] = 0;
}

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *label, int quiet) {
  p->enabled = !quiet && isatty(STDERR_FILENO) && !getenv("CI");
  p->label = label;
  p->started = p->last_draw = cli_now();
}

void cli_progress_update(cli_progress *p, double fraction, uint64_t count) {
  if (!p->enabled) return;
  double now = cli_now();
  if (now - p->last_draw < 0.1) return;
  p->last_draw = now;
  if (fraction < 0) fraction = 0;
  if (fraction > 1) fraction = 1;
  int width = 30, filled = (int)(fraction * width);
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
  bar[width] = 0;
  double elapsed = now - p->started;
  fprintf(stderr, "\r%s [%s] %3.0f%% %llu in %.1fs", p->label, bar, fraction * 100, (unsigned long long)count, elapsed);
  fflush(stderr);
}

void cli_progress_done(cli_progress *p) {
  if (p->enabled && p->last_draw > p->started) fprintf(stderr, "\r\033[K");
}

const char *cli_data_dir(void) {
  static char path[4096];
  const char *env = getenv("OBI_DATA");
  if (env && *env) return env;
  if (access("data/README.md", R_OK) == 0) return "data";
  char exe[4000];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(path, sizeof path, "%s/../data", exe);
    if (access(path, R_OK) == 0) return path;
  }
  return "data";
}

int main(int argc, char **argv) {
  cli_argv0 = argv[0];
  /* The models' matrices are small: OpenBLAS threads would spin more than they help. */
  openblas_set_num_threads(1);
  if (argc < 2) {
    print_help(stderr);
    return EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    if (argc > 2 && strcmp(argv[1], "help") == 0) {
      for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[2], commands[i]->name)) {
          fputs(commands[i]->usage, stdout);
          return EXIT_OK;
        }
    }
    print_help(stdout);
    return EXIT_OK;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
    printf("obi %s\n", OBI_VERSION);
    return EXIT_OK;
  }
  for (size_t i = 0; i < NCOMMANDS; i++) {
    if (strcmp(argv[1], commands[i]->name)) continue;
    for (int a = 2; a < argc; a++)
      if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
        fputs(commands[i]->usage, stdout);
        return EXIT_OK;
      }
    return commands[i]->run(argc - 1, argv + 1);
  }
  fprintf(stderr, "obi: unknown command '%s'\n\n", argv[1]);
  print_help(stderr);
  return EXIT_USAGE;
}
