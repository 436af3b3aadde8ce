/* test_cli.c — the obi binary as a user runs it: help, version, usage errors (exit 2),
 * bad input (exit 1, one line naming file and line), JSON output and the demo. */
#include <stdlib.h>
#include <sys/wait.h>

#include "test.h"

void cli_help_version_usage(void) {
  CHECK_EQ(test_run_obi("--help"), 0);
  CHECK_STR_CONTAINS(test_out, "replay");
  CHECK_STR_CONTAINS(test_out, "features");
  CHECK_STR_CONTAINS(test_out, "demo");
  CHECK_EQ(test_run_obi("--version"), 0);
  CHECK_STR_CONTAINS(test_out, "obi 0.2.0");
  CHECK_EQ(test_run_obi("replay --help"), 0);
  CHECK_STR_CONTAINS(test_out, "--verify");
  CHECK_EQ(test_run_obi("help replay"), 0);
  CHECK_STR_CONTAINS(test_out, "--levels");
  CHECK_EQ(test_run_obi(""), 2);
  CHECK_EQ(test_run_obi("frobnicate"), 2);
  CHECK_STR_CONTAINS(test_err, "unknown command 'frobnicate'");
  CHECK_EQ(test_run_obi("replay only_one_file.csv"), 2);
  CHECK_STR_CONTAINS(test_err, "needs a message file and an orderbook file");
  CHECK_EQ(test_run_obi("replay a b --levels zero"), 2);
  CHECK_EQ(test_run_obi("replay a b --bogus"), 2);
  CHECK_STR_CONTAINS(test_err, "unknown option '--bogus'");
  CHECK_EQ(test_run_obi("demo extra"), 2);
}

/* Each case: a message file, an orderbook file (level 1) and what stderr must say. */
void cli_bad_input_exit_1_with_file_and_line(void) {
  static const char *const cases[][3] = {
      {"34200.1,1,5,10,1000000,1\n34200.2,1,6,10\n", "1001000,5,1000000,10\n1001000,5,1000000,20\n",
       "bad_message_1.csv:2: expected 6 fields, found 4"},
      {"34200.1,1,5,10,1000000,1\n34200.2,1,6,ten,1000000,1\n", "1001000,5,1000000,10\n1001000,5,1000000,20\n",
       "bad_message_1.csv:2: field 4 (size): expected an integer, found 'ten'"},
      {"34200.1,1,5,10,1000000,1\n34200.2,8,6,10,1000000,1\n", "1001000,5,1000000,10\n1001000,5,1000000,20\n",
       "bad_message_1.csv:2: field 2 (type): unknown event type 8"},
      {"34200.1,1,5,10,1000000,1\n34200.2,1,6,-10,1000000,1\n", "1001000,5,1000000,10\n1001000,5,1000000,20\n",
       "bad_message_1.csv:2: field 4 (size): must be positive, found -10"},
      {"34200.1,1,5,10,1000000,1\n34200.2,1,6,10,1000000,1\n", "1001000,5,1000000,10\n1000000,5,1000000,20\n",
       "bad_orderbook_1.csv:2: crossed book: best bid 1000000 >= best ask 1000000"},
      {"34200.1,1,5,10,1000000,1\n34200.2,1,6,10,1001000,1\n", "1001000,5,1000000,10\n1001000,5,1000000,10\n",
       "bad_message_1.csv:2: crossed book after this message: best bid 1001000 >= best ask 1001000"},
      {"34200.1,1,5,10,1000000,1\n34200.2,1,6,10,1000000,1\n", "1001000,5,1000000,10\n1001000,5,1000000\n",
       "bad_orderbook_1.csv:2: expected 4 columns (1 levels), found 3"},
      {"34200.1,1,5,10,1000000,1\n34200.2,1,6,10,1000000,1\n", "1001000,5,1000000,10\n",
       "bad_orderbook_1.csv:2: missing: the orderbook file ends before message 2"},
      {"34200.1,1,5,10,1000000,1\n", "1001000,5,1000000,10\n1001000,5,1000000,10\n",
       "bad_orderbook_1.csv:2: more rows than the 1 messages"},
      {"34200.1,1,5,10,1000000,1\n34200.2,1,5,10,1000000,1\n", "1001000,5,1000000,10\n1001000,5,1000000,20\n",
       "bad_message_1.csv:2: submission of order 5, which is already in the book"},
      {"34200.1,1,5,10,1000000,1\n34200.2,2,5,11,1000000,1\n", "1001000,5,1000000,10\n1001000,5,-9999999999,0\n",
       "bad_message_1.csv:2: cancellation of 11 shares exceeds the 10 left of order 5"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    test_write_file("bad_message_1.csv", cases[i][0]);
    test_write_file("bad_orderbook_1.csv", cases[i][1]);
    char args[1400];
    snprintf(args, sizeof args, "replay '%s/bad_message_1.csv' '%s/bad_orderbook_1.csv' --verify", test_tmpdir(),
             test_tmpdir());
    int rc = test_run_obi(args);
    if (rc != 1 || !strstr(test_err, cases[i][2])) {
      test_fail(__FILE__, __LINE__, "case %zu: exit %d, stderr '%s', wanted exit 1 and '%s'", i, rc, test_err,
                cases[i][2]);
      return;
    }
    CHECK(strchr(test_err, '\n') == test_err + strlen(test_err) - 1); /* one line */
  }
  char args[1400];
  snprintf(args, sizeof args, "replay /nonexistent/m.csv '%s/bad_orderbook_1.csv'", test_tmpdir());
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "/nonexistent/m.csv: cannot open: no such file");
}

void cli_replay_verify_mismatch_exit_1(void) {
  test_write_file("mm_message_1.csv", "34200.1,1,5,10,1000000,1\n34200.2,1,6,10,1000000,1\n");
  test_write_file("mm_orderbook_1.csv", "1001000,5,1000000,10\n1001000,5,1000000,21\n");
  char args[1400];
  snprintf(args, sizeof args, "replay '%s/mm_message_1.csv' '%s/mm_orderbook_1.csv' --verify", test_tmpdir(),
           test_tmpdir());
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_out, "first mismatch at line 2");
  CHECK_STR_CONTAINS(test_err, "1 rows differ from the replayed book (first at line 2)");
  /* without --verify the same files replay without complaint */
  snprintf(args, sizeof args, "replay '%s/mm_message_1.csv' '%s/mm_orderbook_1.csv'", test_tmpdir(), test_tmpdir());
  CHECK_EQ(test_run_obi(args), 0);
}

void cli_replay_json(void) {
  CHECK_EQ(test_run_obi("replay data/lobster/AMZN_2012-06-21_34200000_57600000_message_10.csv.zst "
                        "data/lobster/AMZN_2012-06-21_34200000_57600000_orderbook_10.csv.zst --verify --json"),
           0);
  CHECK_STR_CONTAINS(test_out, "\"messages\":20000,");
  CHECK_STR_CONTAINS(test_out, "\"mismatches\":0,");
  CHECK_STR_CONTAINS(test_out, "\"rows_verified\":20000,");
  CHECK_STR_CONTAINS(test_out, "\"seconds\":");
  CHECK_STR_CONTAINS(test_out, "\"messages_per_second\":");
  CHECK_STR_CONTAINS(test_out, "\"levels\":10,");
  CHECK(test_out[0] == '{' && strstr(test_out, "}\n") == test_out + strlen(test_out) - 2);
  CHECK_EQ(test_err[0], 0); /* no progress bar in JSON mode */
}

void cli_demo_runs(void) {
  CHECK_EQ(test_run_obi("demo"), 0);
  CHECK_STR_CONTAINS(test_out, "message_1.csv.zst");
  CHECK_STR_CONTAINS(test_out, "message_10.csv.zst");
  CHECK_STR_CONTAINS(test_out, "every orderbook row matched");
  CHECK_STR_CONTAINS(test_out, "information coefficient (Spearman)");
  CHECK_STR_CONTAINS(test_out, "Cont-Kukanov-Stoikov regression");
}
