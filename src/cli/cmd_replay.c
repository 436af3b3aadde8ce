/* cmd_replay.c — `obi replay`: a LOBSTER message/orderbook pair through the book,
 * optionally verified against every orderbook row, with statistics and throughput; or a
 * recording of exchange WebSocket traffic (with its REST snapshots) through the feed
 * protocol layer, with per-symbol synchronisation statistics. The format is told from
 * the content of the first file. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/feed.h"
#include "obi/lobster.h"
#include "obi/recording.h"
#include "recsource.h"

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

/* ---- recordings of exchange feeds -------------------------------------------------- */

static json_t *price_json(const obi_book *b, int side, int decimals) {
  int64_t price, size;
  char text[32];
  if (!book_best(b, side, &price, &size) || decimals < 0) return json_null();
  feed_format_decimal(price, decimals, text);
  return json_string(text);
}

static int replay_recording(const char *ws_path, const char *http_path, int venue, int json, int quiet, FILE *out) {
  char msg[1200] = "";
  const char *url;
  rec_source src;
  rec_counts counts;
  cli_progress progress;
  double t0 = cli_now();
  if (recsource_open(&src, ws_path, http_path, venue, NULL, NULL, NULL, msg, sizeof msg))
    return cli_input_error("%s", msg);
  int rc = EXIT_OK;
  feed *f = src.f;
  ws_path = src.ws_path, http_path = src.http_path, venue = src.venue, url = src.url;
  cli_progress_start(&progress, "replay", quiet || json);
  double t1 = cli_now();
  if (recsource_replay(&src, &counts, &progress, msg, sizeof msg)) {
    rc = cli_input_error("%s", msg);
    goto done;
  }
  double seconds = cli_now() - t1, total_seconds = cli_now() - t0;
  cli_progress_done(&progress);
  const feed_conn_stats *cs = feed_get_stats(f);
  int nsym = feed_symbol_count(f);
  if (json) {
    json_t *o = json_object(), *syms = json_array();
    json_object_set_new(o, "recording", json_string(ws_path));
    json_object_set_new(o, "rest_recording", http_path ? json_string(http_path) : json_null());
    json_object_set_new(o, "venue", json_string(feed_venue_name(venue)));
    json_object_set_new(o, "url", json_string(url));
    json_object_set_new(o, "received", json_integer((json_int_t)counts.received));
    json_object_set_new(o, "sent", json_integer((json_int_t)counts.sent));
    json_object_set_new(o, "connections", json_integer((json_int_t)counts.connections));
    json_object_set_new(o, "rest_responses", json_integer((json_int_t)counts.rest));
    json_object_set_new(o, "ignored", json_integer((json_int_t)cs->ignored));
    json_object_set_new(o, "malformed", json_integer((json_int_t)cs->malformed));
    json_object_set_new(o, "unknown_symbol", json_integer((json_int_t)cs->unknown_symbol));
    json_object_set_new(o, "venue_errors", json_integer((json_int_t)cs->venue_errors));
    json_object_set_new(o, "sequence_gaps", json_integer((json_int_t)cs->sequence_gaps));
    json_object_set_new(o, "first_error", counts.errors_reported ? json_string(counts.first_error) : json_null());
    for (int i = 0; i < nsym; i++) {
      const feed_symbol_stats *s = feed_symbol_get_stats(f, i);
      const obi_book *b = feed_book(f, i);
      int pd, sd;
      feed_symbol_decimals(f, i, &pd, &sd);
      json_t *e = json_object();
      json_object_set_new(e, "symbol", json_string(feed_symbol_name(f, i)));
      json_object_set_new(e, "price_decimals", json_integer(pd));
      json_object_set_new(e, "size_decimals", json_integer(sd));
#define STAT(name) json_object_set_new(e, #name, json_integer((json_int_t)s->name))
      STAT(messages), STAT(depth_updates), STAT(updates_applied), STAT(levels_applied), STAT(dropped_stale);
      STAT(dropped_unsynced), STAT(buffered), STAT(buffer_dropped), STAT(gaps), STAT(gaps_first_event), STAT(resyncs);
      STAT(snapshots), STAT(snapshots_applied), STAT(snapshots_too_old), STAT(snapshots_unwanted), STAT(crossed_checks);
      STAT(crossed), STAT(trades), STAT(malformed);
#undef STAT
      json_object_set_new(e, "synced", json_boolean(feed_synced(f, i)));
      json_object_set_new(e, "best_bid", price_json(b, OBI_BID, pd));
      json_object_set_new(e, "best_ask", price_json(b, OBI_ASK, pd));
      json_object_set_new(e, "bid_levels", json_integer(book_depth(b, OBI_BID)));
      json_object_set_new(e, "ask_levels", json_integer(book_depth(b, OBI_ASK)));
      json_object_set_new(e, "known_bid_levels", json_integer(feed_known_depth(f, i, OBI_BID)));
      json_object_set_new(e, "known_ask_levels", json_integer(feed_known_depth(f, i, OBI_ASK)));
      char digest[17];
      snprintf(digest, sizeof digest, "%016llx", (unsigned long long)feed_book_digest(f, i));
      json_object_set_new(e, "book_digest", json_string(digest));
      json_array_append_new(syms, e);
    }
    json_object_set_new(o, "symbols", syms);
    json_object_set_new(o, "seconds", json_real(total_seconds));
    json_object_set_new(o, "messages_per_second", json_real(seconds > 0 ? (double)counts.received / seconds : 0));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!text) {
      rc = cli_input_error("out of memory");
      goto done;
    }
    fprintf(out, "%s\n", text);
    free(text);
  } else {
    fprintf(out, "replay   %s (%s)\n", ws_path, feed_venue_name(venue));
    if (http_path) fprintf(out, "         %s (REST snapshots)\n", http_path);
    fprintf(out, "lines    %llu received, %llu sent, %llu connection%s, %llu REST responses\n",
            (unsigned long long)counts.received, (unsigned long long)counts.sent,
            (unsigned long long)counts.connections, counts.connections == 1 ? "" : "s",
            (unsigned long long)counts.rest);
    fprintf(out, "messages %llu ignored (tickers, klines, acknowledgements...), %llu malformed, %llu venue errors",
            (unsigned long long)cs->ignored, (unsigned long long)cs->malformed, (unsigned long long)cs->venue_errors);
    if (venue == FEED_COINBASE_ADVANCED) fprintf(out, ", %llu sequence gaps", (unsigned long long)cs->sequence_gaps);
    fprintf(out, "\n\n%-12s %6s %7s %7s %5s %4s %7s %5s %9s %6s %-14s %-14s %s\n", "symbol", "msgs", "diffs", "applied",
            "stale", "gaps", "resyncs", "snaps", "crossed", "trades", "best bid", "best ask",
            "known levels (bid/ask of total)");
    for (int i = 0; i < nsym; i++) {
      const feed_symbol_stats *s = feed_symbol_get_stats(f, i);
      const obi_book *b = feed_book(f, i);
      int pd, sd;
      feed_symbol_decimals(f, i, &pd, &sd);
      char bid[32] = "-", ask[32] = "-", crossed[32];
      int64_t p, q;
      if (pd >= 0 && book_best(b, OBI_BID, &p, &q)) feed_format_decimal(p, pd, bid);
      if (pd >= 0 && book_best(b, OBI_ASK, &p, &q)) feed_format_decimal(p, pd, ask);
      snprintf(crossed, sizeof crossed, "%llu/%llu", (unsigned long long)s->crossed,
               (unsigned long long)s->crossed_checks);
      fprintf(out, "%-12s %6llu %7llu %7llu %5llu %4llu %7llu %5llu %9s %6llu %-14s %-14s %u/%u of %u/%u%s\n",
              feed_symbol_name(f, i), (unsigned long long)s->messages, (unsigned long long)s->depth_updates,
              (unsigned long long)s->updates_applied, (unsigned long long)s->dropped_stale, (unsigned long long)s->gaps,
              (unsigned long long)s->resyncs, (unsigned long long)s->snapshots_applied, crossed,
              (unsigned long long)s->trades, bid, ask, feed_known_depth(f, i, OBI_BID), feed_known_depth(f, i, OBI_ASK),
              book_depth(b, OBI_BID), book_depth(b, OBI_ASK), feed_synced(f, i) ? "" : "  (not synced)");
    }
    if (counts.errors_reported)
      fprintf(out, "\n%llu malformed or unusable lines; the first: %s\n", (unsigned long long)counts.errors_reported,
              counts.first_error);
    fprintf(out, "\nwall time %.3f s (two passes: scales, then the replay at %.0f messages/s)\n", total_seconds,
            seconds > 0 ? (double)counts.received / seconds : 0);
  }
done:
  recsource_close(&src);
  return rc;
}

static int cmd_replay(int argc, char **argv) {
  const char *paths[2];
  int npaths = 0, verify = 0, json = 0, quiet = 0, venue = -1;
  long levels = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--venue")) {
      venue = cli_parse_venue(i + 1 < argc ? argv[i + 1] : NULL);
      if (venue < 0) return cli_usage_error(&cmd_replay_def, "--venue needs " CLI_VENUES);
      i++;
    } else if (!strcmp(argv[i], "--verify"))
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
  if (npaths >= 1) {
    if (rec_detect(paths[0]) == 1) { /* unreadable files go the LOBSTER way, which reports them */
      if (verify || levels)
        return cli_usage_error(&cmd_replay_def, "--verify and --levels apply to LOBSTER files, not to recordings");
      return replay_recording(paths[0], npaths == 2 ? paths[1] : NULL, venue, json, quiet, stdout);
    }
  }
  if (npaths != 2)
    return cli_usage_error(&cmd_replay_def, "needs a message file and an orderbook file, or a feed recording");
  return cmd_replay_run(paths[0], paths[1], verify, (int)levels, json, quiet, stdout);
}

const cli_command cmd_replay_def = {
    "replay", cmd_replay, "replay LOBSTER data or a feed recording through the order book, print statistics",
    "usage: obi replay <messages.csv[.zst]> <orderbook.csv[.zst]> [--verify] [--levels N] [--json] [--quiet]\n"
    "       obi replay <ws-recording> [<rest-recording>] [--venue NAME] [--json] [--quiet]\n"
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
    "Recordings of exchange WebSocket traffic ('URL <-> TIME' first, then 'TIME: JSON' per\n"
    "message; REST responses 'URL -> TIME: JSON' in the second file; see docs/feeds.md) go\n"
    "through the feed protocol layer: the venue comes from the URL, the symbols and their\n"
    "decimals from the messages, and REST depth snapshots join the stream when their\n"
    "recorded receive time says they arrived. The report gives per symbol the messages,\n"
    "diffs applied and dropped as stale, gaps and resyncs, crossed-book checks, trades,\n"
    "the final best bid and ask and the levels known to be exact.\n"
    "\n"
    "  --venue NAME  binance-spot, binance-futures, coinbase-exchange or coinbase-advanced\n"
    "                (when the URL does not tell, e.g. a local test server)\n"
    "\n"
    "examples:\n"
    "  obi replay data/lobster/AMZN_2012-06-21_34200000_57600000_message_10.csv.zst \\\n"
    "             data/lobster/AMZN_2012-06-21_34200000_57600000_orderbook_10.csv.zst --verify\n"
    "  obi replay data/crypto/BINANCE_FUTURES.ws.excerpt.zst data/crypto/BINANCE_FUTURES.http.excerpt.zst\n"};
