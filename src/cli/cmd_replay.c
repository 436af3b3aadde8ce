/* cmd_replay.c — `obi replay`: a LOBSTER message/orderbook pair through the book,
 * optionally verified against every orderbook row, with statistics and throughput. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/lobster.h"

static const char *const type_names[8] = {"",          "submission",  "cancellation", "deletion",
                                          "execution", "hidden exec", "cross trade",  "halt"};

static void print_side_by_side(FILE *out, const int64_t *expected, const int64_t *book, int levels) {
  fprintf(out, "    %-5s | %-37s | %-37s\n", "level", "orderbook row (bid size@price  ask)", "replayed book");
  for (int k = 0; k < levels; k++) {
    const int64_t *e = expected + 4 * k, *b = book + 4 * k;
    int differs = memcmp(e, b, 4 * sizeof *e) != 0;
    fprintf(out, "    %-5d | %7lld@%-10lld %7lld@%-10lld | %7lld@%-10lld %7lld@%-10lld %s\n", k + 1, (long long)e[3],
            (long long)e[2], (long long)e[1], (long long)e[0], (long long)b[3], (long long)b[2], (long long)b[1],
            (long long)b[0], differs ? "<--" : "");
  }
}

static void print_row_json(FILE *out, const int64_t *row, int levels) {
  fputc('[', out);
  for (int i = 0; i < 4 * levels; i++) fprintf(out, "%s%lld", i ? "," : "", (long long)row[i]);
  fputc(']', out);
}

int cmd_replay_run(const char *msg_path, const char *book_path, int verify, int verify_levels, int json, int quiet,
                   FILE *out) {
  lobster_options opt = {.verify = verify, .verify_levels = verify_levels, .day_from_name = 1};
  lobster_replay *r;
  char err_msg[1024];
  if (lobster_open(&r, msg_path, book_path, &opt, err_msg, sizeof err_msg)) return cli_input_error("%s", err_msg);
  cli_progress progress;
  cli_progress_start(&progress, "replay", quiet || json);
  obi_event ev;
  obi_err err;
  double t0 = cli_now();
  uint64_t n = 0;
  while ((err = lobster_next(r, &ev)) == OBI_OK)
    if ((++n & 0xffff) == 0) cli_progress_update(&progress, lobster_progress(r), n);
  double seconds = cli_now() - t0;
  cli_progress_done(&progress);
  if (err != OBI_EEOF) {
    int rc = cli_input_error("%s", lobster_error(r));
    lobster_close(r);
    return rc;
  }
  const lobster_stats *s = lobster_get_stats(r);
  const obi_book *book = lobster_book(r);
  int levels = lobster_levels(r);
  int checked = verify_levels && verify_levels < levels ? verify_levels : levels;
  double rate = seconds > 0 ? (double)s->messages / seconds : 0;
  int64_t bid = 0, ask = 0, bid_size = 0, ask_size = 0;
  int has_bid = book_best(book, OBI_BID, &bid, &bid_size), has_ask = book_best(book, OBI_ASK, &ask, &ask_size);
  if (json) {
    fprintf(out, "{\"messages_file\":\"%s\",\"orderbook_file\":\"%s\",\"levels\":%d,\"messages\":%llu,\"by_type\":{",
            msg_path, book_path, levels, (unsigned long long)s->messages);
    for (int t = 1; t <= 7; t++) fprintf(out, "%s\"%d\":%llu", t > 1 ? "," : "", t, (unsigned long long)s->by_type[t]);
    fprintf(out,
            "},\"unknown_order_messages\":%llu,\"unknown_order_size\":%lld,\"unmatched_messages\":%llu,"
            "\"levels_from_orderbook\":%llu,\"size_from_orderbook\":%lld,\"levels_forgotten\":%llu,"
            "\"orders_forgotten\":%llu,\"verified\":%s,\"verified_levels\":%d,\"rows_verified\":%llu,"
            "\"mismatches\":%llu",
            (unsigned long long)s->unknown_order_msgs, (long long)s->unknown_order_size,
            (unsigned long long)s->unmatched_msgs, (unsigned long long)s->levels_from_orderbook,
            (long long)s->size_from_orderbook, (unsigned long long)s->levels_forgotten,
            (unsigned long long)s->orders_forgotten, verify ? "true" : "false", verify ? checked : 0,
            (unsigned long long)s->rows_verified, (unsigned long long)s->mismatches);
    if (s->mismatches) {
      fprintf(out, ",\"first_mismatch\":{\"line\":%llu,\"orderbook\":", (unsigned long long)s->first_mismatch_line);
      print_row_json(out, lobster_mismatch_expected(r), levels);
      fprintf(out, ",\"book\":");
      print_row_json(out, lobster_mismatch_book(r), levels);
      fputc('}', out);
    }
    fprintf(out, ",\"final_best_bid\":%lld,\"final_best_ask\":%lld,\"seconds\":%.6f,\"messages_per_second\":%.0f}\n",
            has_bid ? (long long)bid : 0, has_ask ? (long long)ask : 0, seconds, rate);
  } else {
    fprintf(out, "replay   %s\n         %s (%d levels)\n", msg_path, book_path, levels);
    fprintf(out, "messages %llu\n", (unsigned long long)s->messages);
    for (int t = 1; t <= 7; t++) fprintf(out, "  %d %-13s %llu\n", t, type_names[t], (unsigned long long)s->by_type[t]);
    fprintf(out, "unknown-order messages %llu (%lld shares, taken from anonymous liquidity)\n",
            (unsigned long long)s->unknown_order_msgs, (long long)s->unknown_order_size);
    fprintf(out, "unmatched messages     %llu\n", (unsigned long long)s->unmatched_msgs);
    fprintf(out, "levels from orderbook  %llu (%lld shares of unknown orders)\n",
            (unsigned long long)s->levels_from_orderbook, (long long)s->size_from_orderbook);
    fprintf(out, "levels forgotten       %llu (with %llu known orders)\n", (unsigned long long)s->levels_forgotten,
            (unsigned long long)s->orders_forgotten);
    if (verify)
      fprintf(out, "verified rows          %llu (top %d levels, both sides)\nmismatches             %llu\n",
              (unsigned long long)s->rows_verified, checked, (unsigned long long)s->mismatches);
    if (has_bid && has_ask)
      fprintf(out, "final book             %lld x %lld @ %lld / %lld\n", (long long)bid_size, (long long)ask_size,
              (long long)bid, (long long)ask);
    fprintf(out, "wall time              %.3f s (%.2f million messages/s)\n", seconds, rate / 1e6);
    if (s->mismatches) {
      fprintf(out, "first mismatch at line %llu:\n", (unsigned long long)s->first_mismatch_line);
      print_side_by_side(out, lobster_mismatch_expected(r), lobster_mismatch_book(r), levels);
    }
  }
  int rc = EXIT_OK;
  if (verify && s->mismatches)
    rc = cli_input_error("%s: %llu rows differ from the replayed book (first at line %llu)", book_path,
                         (unsigned long long)s->mismatches, (unsigned long long)s->first_mismatch_line);
  lobster_close(r);
  return rc;
}

static int cmd_replay(int argc, char **argv) {
  const char *paths[2];
  int npaths = 0, verify = 0, json = 0, quiet = 0;
  long levels = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--verify"))
      verify = 1;
    else if (!strcmp(argv[i], "--json"))
      json = 1;
    else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q"))
      quiet = 1;
    else if (!strcmp(argv[i], "--levels")) {
      if (i + 1 >= argc || cli_parse_int(argv[i + 1], 1, LOBSTER_MAX_LEVELS, &levels))
        return cli_usage_error(&cmd_replay_def, "--levels needs a number from 1 to %d", LOBSTER_MAX_LEVELS);
      i++;
    } else if (argv[i][0] == '-' && argv[i][1])
      return cli_usage_error(&cmd_replay_def, "unknown option '%s'", argv[i]);
    else if (npaths < 2)
      paths[npaths++] = argv[i];
    else
      return cli_usage_error(&cmd_replay_def, "too many files ('%s')", argv[i]);
  }
  if (npaths != 2) return cli_usage_error(&cmd_replay_def, "needs a message file and an orderbook file");
  return cmd_replay_run(paths[0], paths[1], verify, (int)levels, json, quiet, stdout);
}

const cli_command cmd_replay_def = {
    "replay", cmd_replay, "replay LOBSTER data through the order book, verify it, print throughput",
    "usage: obi replay <messages.csv[.zst]> <orderbook.csv[.zst]> [--verify] [--levels N] [--json] [--quiet]\n"
    "\n"
    "Replays a LOBSTER message file into the L3 order book, reading the orderbook file in step\n"
    "(levels entering the recorded depth are taken from it; see docs/architecture.md).\n"
    "Files may be plain or zstd-compressed.\n"
    "\n"
    "  --verify     after every message, compare the book's top levels (prices and sizes,\n"
    "               both sides) with the orderbook row; exit 1 if any differ\n"
    "  --levels N   verify only the top N levels (default: all levels of the file)\n"
    "  --json       print the report as one JSON object (keys include messages, mismatches,\n"
    "               seconds, messages_per_second)\n"
    "  --quiet      no progress bar\n"
    "\n"
    "example:\n"
    "  obi replay data/lobster/AMZN_2012-06-21_34200000_57600000_message_10.csv.zst \\\n"
    "             data/lobster/AMZN_2012-06-21_34200000_57600000_orderbook_10.csv.zst --verify\n"};
