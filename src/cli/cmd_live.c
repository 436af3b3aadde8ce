/* cmd_live.c — `obi live`: watch a live feed session (live.h) from the terminal.
 *
 * Runs one live session (Binance spot, or Coinbase Exchange) for its symbols and, once a
 * second, prints a line per symbol: best bid and ask, levels per side, diff updates applied,
 * gaps and resyncs. At the end (--duration, SIGINT or SIGTERM) it takes the summary of the books
 * as they are (closing the connection resets the feed and clears them), closes the connection
 * cleanly and prints the summary, or with --json only one JSON object: per symbol whether the
 * book is synced, its best prices and levels, the feed's counters; per session the
 * transport's and the session's counters. Scales are learned from the first snapshot
 * (live_config price_decimals NULL). */
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/live.h"

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* Splits a comma-separated list into at most max names (pointers into buf). */
static int split_list(char *buf, const char **names, int max) {
  int n = 0;
  for (char *p = buf;;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    if (!*p || n == max) return -1;
    names[n++] = p;
    if (!comma) return n;
    p = comma + 1;
  }
}

/* The best price of a side as a decimal string, or "-" when the side is empty or unscaled. */
static const char *best_text(const feed *f, int sym, int side, char buf[32]) {
  int pd, sd;
  int64_t price, size;
  feed_symbol_decimals(f, sym, &pd, &sd);
  if (pd < 0 || !book_best(feed_book(f, sym), side, &price, &size)) return "-";
  feed_format_decimal(price, pd, buf);
  return buf;
}

static void print_status(const live *l, double t) {
  const feed *f = live_feed(l);
  for (int i = 0; i < feed_symbol_count(f); i++) {
    const feed_symbol_stats *st = feed_symbol_get_stats(f, i);
    const obi_book *b = feed_book(f, i);
    char bid[32], ask[32];
    printf("%7.1fs %-10s %s bid %s ask %s levels %u/%u applied %llu gaps %llu resyncs %llu\n", t,
           feed_symbol_name(f, i), feed_synced(f, i) ? "synced " : "waiting", best_text(f, i, OBI_BID, bid),
           best_text(f, i, OBI_ASK, ask), book_depth(b, OBI_BID), book_depth(b, OBI_ASK),
           (unsigned long long)st->updates_applied, (unsigned long long)st->gaps, (unsigned long long)st->resyncs);
  }
  fflush(stdout);
}

static json_t *summary_json(const live *l, const char *venue, double seconds) {
  const feed *f = live_feed(l);
  const live_stats *ls = live_get_stats(l);
  const ws_client_stats *ws = live_ws_stats(l);
  json_t *o = json_object(), *syms = json_array();
  json_object_set_new(o, "venue", json_string(venue));
  json_object_set_new(o, "url", json_string(live_url(l)));
  json_object_set_new(o, "seconds", json_real(seconds));
  json_object_set_new(o, "connects", json_integer((json_int_t)ls->connects));
  json_object_set_new(o, "disconnects", json_integer((json_int_t)ls->disconnects));
  json_object_set_new(o, "connect_failures", json_integer((json_int_t)ws->failures));
  json_object_set_new(o, "stalls", json_integer((json_int_t)ws->stalls));
  json_object_set_new(o, "messages", json_integer((json_int_t)ls->messages));
  json_object_set_new(o, "rejected", json_integer((json_int_t)ls->rejected));
  json_object_set_new(o, "snapshot_requests", json_integer((json_int_t)ls->snapshot_requests));
  json_object_set_new(o, "snapshot_failures", json_integer((json_int_t)ls->snapshot_failures));
  json_object_set_new(o, "resyncs", json_integer((json_int_t)ls->resyncs));
  json_object_set_new(o, "last_error", json_string(feed_last_error(f)));
  for (int i = 0; i < feed_symbol_count(f); i++) {
    const feed_symbol_stats *st = feed_symbol_get_stats(f, i);
    const obi_book *b = feed_book(f, i);
    char bid[32], ask[32];
    const char *bt = best_text(f, i, OBI_BID, bid), *at = best_text(f, i, OBI_ASK, ask);
    json_t *e = json_object();
    json_object_set_new(e, "symbol", json_string(feed_symbol_name(f, i)));
    json_object_set_new(e, "synced", json_boolean(feed_synced(f, i)));
    json_object_set_new(e, "best_bid", strcmp(bt, "-") ? json_string(bt) : json_null());
    json_object_set_new(e, "best_ask", strcmp(at, "-") ? json_string(at) : json_null());
    json_object_set_new(e, "bid_levels", json_integer(book_depth(b, OBI_BID)));
    json_object_set_new(e, "ask_levels", json_integer(book_depth(b, OBI_ASK)));
    json_object_set_new(e, "depth_updates", json_integer((json_int_t)st->depth_updates));
    json_object_set_new(e, "updates_applied", json_integer((json_int_t)st->updates_applied));
    json_object_set_new(e, "levels_applied", json_integer((json_int_t)st->levels_applied));
    json_object_set_new(e, "dropped_stale", json_integer((json_int_t)st->dropped_stale));
    json_object_set_new(e, "gaps", json_integer((json_int_t)st->gaps));
    json_object_set_new(e, "resyncs", json_integer((json_int_t)st->resyncs));
    json_object_set_new(e, "snapshots_applied", json_integer((json_int_t)st->snapshots_applied));
    json_object_set_new(e, "trades", json_integer((json_int_t)st->trades));
    json_object_set_new(e, "malformed", json_integer((json_int_t)st->malformed));
    json_array_append_new(syms, e);
  }
  json_object_set_new(o, "symbols", syms);
  return o;
}

static int cmd_live(int argc, char **argv) {
  const char *list = NULL, *endpoint = NULL, *rest = NULL, *ca_file = NULL;
  int venue = -1, json = 0;
  double duration = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    if (!strcmp(o, "--json"))
      json = 1;
    else if ((!strcmp(o, "--binance") || !strcmp(o, "--binance-futures") || !strcmp(o, "--coinbase") ||
              !strcmp(o, "--coinbase-advanced")) &&
             v) {
      if (venue >= 0) return cli_usage_error(&cmd_live_def, "one venue at a time");
      venue = !strcmp(o, "--binance")           ? FEED_BINANCE_SPOT
              : !strcmp(o, "--binance-futures") ? FEED_BINANCE_FUTURES
              : !strcmp(o, "--coinbase")        ? FEED_COINBASE_EXCHANGE
                                                : FEED_COINBASE_ADVANCED;
      list = v, i++;
    } else if (!strcmp(o, "--endpoint") && v)
      endpoint = v, i++;
    else if (!strcmp(o, "--rest-endpoint") && v)
      rest = v, i++;
    else if (!strcmp(o, "--ca-file") && v)
      ca_file = v, i++;
    else if (!strcmp(o, "--duration") && v) {
      duration = strtod(v, &end), i++;
      if (*end || !(duration > 0 && duration < 1e9)) return cli_usage_error(&cmd_live_def, "--duration: seconds > 0");
    } else
      return cli_usage_error(&cmd_live_def, "unknown option or missing value: '%s'", o);
  }
  if (venue < 0)
    return cli_usage_error(&cmd_live_def, "needs --binance SYMBOLS, --binance-futures SYMBOLS, --coinbase PRODUCTS or "
                                          "--coinbase-advanced PRODUCTS");
  if ((venue == FEED_COINBASE_EXCHANGE || venue == FEED_COINBASE_ADVANCED) && rest)
    return cli_usage_error(&cmd_live_def, "--rest-endpoint is for Binance (the depth snapshot)");
  char buf[4096];
  const char *names[64];
  snprintf(buf, sizeof buf, "%s", list);
  int n = strlen(list) < sizeof buf ? split_list(buf, names, 64) : -1;
  if (n <= 0) return cli_usage_error(&cmd_live_def, "bad symbol list '%s' (comma-separated, at most 64)", list);

  live_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.venue = (feed_venue)venue;
  cfg.symbols = names;
  cfg.n_symbols = n;
  cfg.endpoint = endpoint;
  cfg.rest_endpoint = rest;
  cfg.tls.ca_file = ca_file;
  live *l = NULL;
  obi_err err = live_new(&l, &cfg);
  if (err == OBI_EINVAL)
    return cli_usage_error(&cmd_live_def,
                           "bad symbols '%s' or endpoint (Binance: letters and digits; Coinbase: also '-')", list);
  if (err) return cli_input_error("cannot start the live session (%s)", obi_strerror(err));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  double t0 = cli_now(), next_print = t0 + 1, give_up = 0, seconds = 0;
  json_t *summary = NULL;
  int stopping = 0, rc = EXIT_OK;
  for (;;) {
    err = live_service(l, 100);
    if (err == OBI_EEOF) break;
    if (err) {
      rc = cli_input_error("%s: the live session failed (%s): %s", live_url(l), obi_strerror(err), live_error(l));
      break;
    }
    double now = cli_now();
    if (!stopping && (stop_signal || (duration > 0 && now - t0 >= duration))) {
      /* the summary is of the books as they stand now: closing the connection clears them */
      seconds = now - t0;
      summary = summary_json(l, feed_venue_name(venue), seconds);
      if (!json) print_status(l, seconds);
      live_stop(l);
      stopping = 1;
      give_up = now + 2; /* a server that never answers the close */
    }
    if (stopping && now >= give_up) break;
    if (!json && !stopping && now >= next_print) {
      print_status(l, now - t0);
      next_print += 1;
      if (next_print < now) next_print = now + 1;
    }
  }
  if (rc == EXIT_OK && summary) {
    if (json) {
      char *text = json_dumps(summary, JSON_COMPACT);
      if (text) printf("%s\n", text);
      free(text);
    } else {
      const live_stats *ls = live_get_stats(l);
      printf("%.1f s on %s: %llu connects, %llu messages (%llu rejected), %llu snapshot requests (%llu failed), "
             "%llu resyncs\n",
             seconds, live_url(l), (unsigned long long)ls->connects, (unsigned long long)ls->messages,
             (unsigned long long)ls->rejected, (unsigned long long)ls->snapshot_requests,
             (unsigned long long)ls->snapshot_failures, (unsigned long long)ls->resyncs);
    }
  }
  json_decref(summary);
  live_free(l);
  return rc;
}

const cli_command cmd_live_def = {
    "live", cmd_live, "watch a live Binance or Coinbase feed: books, updates, gaps, resyncs",
    "usage: obi live --binance|--binance-futures SYMBOLS [--endpoint URL] [--rest-endpoint URL] [--duration S]\n"
    "                [--json]\n"
    "       obi live --coinbase|--coinbase-advanced PRODUCTS [--endpoint URL] [--duration S] [--json]\n\n"
    "Runs a live feed session (docs/feeds.md, \"Live session\"): Binance spot or USD-M futures (SYMBOLS\n"
    "like btcusdt,ethusdt; diff-depth stream synchronised with REST depth snapshots), Coinbase Exchange\n"
    "(PRODUCTS like BTC-USD; level2_batch and matches) or Coinbase Advanced Trade (level2,\n"
    "market_trades, heartbeats). Every second it prints per symbol whether the\n"
    "book is synced, the best bid and ask, the levels per side, the updates applied, gaps and resyncs.\n"
    "Stops after --duration seconds or on Ctrl-C / SIGTERM, closing the connection, and prints a\n"
    "summary; --json prints only the summary, as one JSON object. --endpoint / --rest-endpoint replace\n"
    "the venue's WebSocket and REST roots (as in obi record); --ca-file trusts a further CA (PEM).\n"
    "Scales (tick and lot decimals) are learned from each symbol's first snapshot.\n"};
