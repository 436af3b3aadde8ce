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
  if (rc != EXIT_OK) return rc;

  /* a model on the whole level-1 day, traded out of sample with costs and latency */
  char msg1[4500], book1[4500], feats[4700], model[4700], report[4700], strat[4700];
  snprintf(msg1, sizeof msg1, "%s/AMZN_2012-06-21_34200000_57600000_message_1.csv.zst", dir);
  snprintf(book1, sizeof book1, "%s/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv.zst", dir);
  snprintf(feats, sizeof feats, "%s/day.npy", out);
  snprintf(model, sizeof model, "%s/logistic.safetensors", out);
  snprintf(report, sizeof report, "%s/backtest.html", out);
  snprintf(strat, sizeof strat, "%s/strategy.json", out);
  FILE *sf = fopen(strat, "w");
  if (!sf || fputs("{\"size\": 10, \"threshold\": 0.3, \"entry\": \"taker\"}\n", sf) < 0 || fclose(sf))
    return cli_input_error("%s: cannot write", strat);
  printf("\nobi features %s %s --out %s --horizons 20\n", msg1, book1, feats);
  char *fargs[] = {"features", msg1, book1, "--out", feats, "--horizons", "20", "--quiet", NULL};
  if ((rc = cmd_features_def.run(8, fargs))) return rc;
  printf("obi train --model logistic --data %s --out %s\n", feats, model);
  char *targs[] = {"train", "--model", "logistic", "--data", feats, "--out", model, "--quiet", NULL};
  if ((rc = cmd_train_def.run(8, targs))) return rc;
  printf("obi backtest --model %s --features %s %s %s --strategy %s --fees -0.2,0.3 "
         "--latency feed=1ms,entry=lognormal:300us:0.5,response=1ms --queue power:2 --report %s\n\n",
         model, feats, msg1, book1, strat, report);
  char *bargs[] = {"backtest",
                   "--model",
                   model,
                   "--features",
                   feats,
                   msg1,
                   book1,
                   "--strategy",
                   strat,
                   "--fees",
                   "-0.2,0.3",
                   "--latency",
                   "feed=1ms,entry=lognormal:300us:0.5,response=1ms",
                   "--queue",
                   "power:2",
                   "--report",
                   report,
                   NULL};
  if ((rc = cmd_backtest_def.run(17, bargs))) return rc;
  printf("\nthe report: %s\n"
         "the same model live, with the dashboard at http://127.0.0.1:8080/ :\n"
         "  obi serve --model %s --features %s %s %s --speed 10 --loop\n"
         "next: 'obi features --list' for every feature, docs/features.md for the definitions, docs/models.md for\n"
         "the models, docs/backtest.md for the execution rules, docs/api.md for the service.\n",
         report, model, feats, msg1, book1);
  return rc;
}

const cli_command cmd_demo_def = {"demo", cmd_demo, "replay and verify the bundled sample, print a summary",
                                  "usage: obi demo\n\n"
                                  "Replays every LOBSTER sample in data/lobster (or $OBI_DATA/lobster) with\n"
                                  "verification against its orderbook file and prints a summary of each.\n"};
