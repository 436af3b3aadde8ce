/* cmd_demo.c — `obi demo`: what obi can do today, on the samples shipped in data/.
 * For now: replay and verify every bundled LOBSTER pair and summarise. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/lobster.h"

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmd_demo(int argc, char **argv) {
  (void)argv;
  if (argc > 1) return cli_usage_error(&cmd_demo_def, "takes no arguments");
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/lobster", cli_data_dir());
  DIR *d = opendir(dir);
  if (!d) return cli_input_error("%s: cannot open the bundled samples (set OBI_DATA to the data directory)", dir);
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64)
    if (strstr(e->d_name, "_message_")) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, by_name);
  printf("obi demo: exact LOBSTER replay of the bundled samples in %s\n\n", dir);
  int rc = n ? EXIT_OK : cli_input_error("%s: no LOBSTER message files", dir);
  for (int i = 0; i < n; i++) {
    char msg[4500], book[4500];
    snprintf(msg, sizeof msg, "%s/%s", dir, names[i]);
    snprintf(book, sizeof book, "%s/%s", dir, names[i]);
    char *at = strstr(book + strlen(dir), "_message_");
    memmove(at + 11, at + 9, strlen(at + 9) + 1); /* "_message_" -> "_orderbook_" */
    memcpy(at, "_orderbook_", 11);
    int one = cmd_replay_run(msg, book, 1, 0, 0, 0, stdout);
    printf("\n");
    if (one) rc = one;
    free(names[i]);
  }
  if (rc != EXIT_OK) return rc;
  printf("every orderbook row matched the replayed book exactly.\n\n");

  /* features and labels of the 10-level sample, with the information coefficients */
  char msg[4500], book[4500], out[4600];
  snprintf(msg, sizeof msg, "%s/AMZN_2012-06-21_34200000_57600000_message_10.csv.zst", dir);
  snprintf(book, sizeof book, "%s/AMZN_2012-06-21_34200000_57600000_orderbook_10.csv.zst", dir);
  const char *tmp = getenv("TMPDIR");
  snprintf(out, sizeof out, "%s/obi-demo-features", tmp && *tmp ? tmp : "/tmp");
  printf("obi features %s %s --out %s --horizons 10,50,1s --report-top 12\n", msg, book, out);
  char *args[] = {"features", msg, book, "--out", out, "--horizons", "10,50,1s", "--report-top", "12", NULL};
  rc = cmd_features_def.run(9, args);
  if (rc == EXIT_OK)
    printf("\nnext: 'obi features --list' for every feature, docs/features.md for the definitions;\n"
           "models, backtest and the dashboard are being built (see README).\n");
  return rc;
}

const cli_command cmd_demo_def = {"demo", cmd_demo, "replay and verify the bundled sample, print a summary",
                                  "usage: obi demo\n\n"
                                  "Replays every LOBSTER sample in data/lobster (or $OBI_DATA/lobster) with\n"
                                  "verification against its orderbook file and prints a summary of each.\n"};
