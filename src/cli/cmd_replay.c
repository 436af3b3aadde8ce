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

/* The two files of a recording read in receive-time order (the WebSocket file first on
 * equal times): what the feed handler saw, in the order it saw it. */
typedef struct {
  rec_reader *in[2]; /* WebSocket messages, REST responses (may be NULL) */
  rec_line line[2];
  int have[2];
  int failed; /* the reader that returned an error */
} rec_merge;

static obi_err merge_fill(rec_merge *m, int k) {
  if (!m->in[k] || m->have[k]) return OBI_OK;
  obi_err err = rec_next(m->in[k], &m->line[k]);
  if (err == OBI_EEOF) return OBI_OK;
  m->failed = k;
  if (err) return err;
  m->have[k] = 1;
  return OBI_OK;
}

/* The next line of either file into *line, *from = 0 (WebSocket) or 1 (REST); OBI_EEOF at the end. */
static obi_err merge_next(rec_merge *m, rec_line *line, int *from) {
  obi_err err;
  if ((err = merge_fill(m, 0)) || (err = merge_fill(m, 1))) return err;
  if (!m->have[0] && !m->have[1]) return OBI_EEOF;
  int k = !m->have[0] || (m->have[1] && m->line[1].recv_ns < m->line[0].recv_ns);
  *line = m->line[k];
  m->have[k] = 0;
  *from = k;
  return OBI_OK;
}

/* The value of a URL query parameter (symbol=, limit=), or NULL. */
static const char *url_param(const char *url, size_t len, const char *key, size_t *vlen) {
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl < len; i++) {
    if ((url[i] != '?' && url[i] != '&') || strncmp(url + i + 1, key, kl) || url[i + 1 + kl] != '=') continue;
    const char *v = url + i + 2 + kl, *end = url + len;
    const char *e = v;
    while (e < end && *e != '&') e++;
    *vlen = (size_t)(e - v);
    return v;
  }
  return NULL;
}

typedef struct {
  uint64_t received, sent, connections, rest;
  char first_error[1024];
  uint64_t errors_reported;
} rec_counts;

/* One pass over the recording through feed f. Returns OBI_OK or a reading error (msg set). */
static obi_err replay_pass(feed *f, const char *ws_path, const char *http_path, rec_counts *c, cli_progress *progress,
                           char *msg, size_t msg_len) {
  rec_merge m = {0};
  obi_err err = rec_open(&m.in[0], ws_path, msg, msg_len);
  if (!err && http_path) err = rec_open(&m.in[1], http_path, msg, msg_len);
  memset(c, 0, sizeof *c);
  rec_line l;
  int from = 0;
  uint64_t n = 0;
  while (!err && (err = merge_next(&m, &l, &from)) == OBI_OK) {
    const char *name = from ? http_path : ws_path;
    if ((++n & 0x3ff) == 0 && progress) cli_progress_update(progress, rec_progress(m.in[0]), n);
    obi_err fe = OBI_OK;
    if (l.kind == REC_CONNECT) {
      if (c->connections++) feed_reset(f, l.recv_ns);
    } else if (l.kind == REC_SENT) {
      c->sent++;
    } else if (l.kind == REC_RECEIVED) {
      c->received++;
      fe = feed_on_message(f, l.recv_ns, l.json, l.json_len);
    } else { /* a REST response: a depth snapshot for the symbol its URL names */
      c->rest++;
      size_t sl;
      const char *sv = url_param(l.url, l.url_len, "symbol", &sl);
      int sym = sv ? feed_find_symbol(f, sv, sl) : -1;
      if (sv && sym < 0) {
        char name_buf[64];
        snprintf(name_buf, sizeof name_buf, "%.*s", (int)(sl < 63 ? sl : 63), sv);
        sym = feed_add_symbol(f, name_buf, -1, -1);
      }
      if (sym < 0) {
        if (c->errors_reported++ == 0)
          snprintf(c->first_error, sizeof c->first_error, "%s:%llu: a REST response whose URL names no symbol", name,
                   (unsigned long long)rec_line_no(m.in[from]));
        continue;
      }
      fe = feed_on_snapshot(f, sym, l.recv_ns, l.json, l.json_len);
    }
    if (fe == OBI_ENOMEM || fe == OBI_EINVARIANT || fe == OBI_EINVAL) {
      snprintf(msg, msg_len, "%s:%llu: %s", name, (unsigned long long)rec_line_no(m.in[from]),
               fe == OBI_EINVARIANT ? feed_last_error(f) : obi_strerror(fe));
      err = fe;
    } else if (fe && c->errors_reported++ == 0) {
      snprintf(c->first_error, sizeof c->first_error, "%s:%llu: %s", name, (unsigned long long)rec_line_no(m.in[from]),
               feed_last_error(f));
    }
  }
  if (err == OBI_EEOF) err = OBI_OK;
  if (err && !msg[0] && m.in[m.failed]) snprintf(msg, msg_len, "%s", rec_error(m.in[m.failed]));
  rec_close(m.in[0]);
  rec_close(m.in[1]);
  return err;
}

/* Reads the first line of a recording: its kind and URL (copied into url). */
static obi_err first_line(const char *path, int *kind, char *url, size_t url_cap, char *msg, size_t msg_len) {
  rec_reader *r;
  rec_line l;
  obi_err err = rec_open(&r, path, msg, msg_len);
  if (err) return err;
  err = rec_next(r, &l);
  if (err == OBI_EEOF)
    snprintf(msg, msg_len, "%s: empty recording", path);
  else if (err)
    snprintf(msg, msg_len, "%s", rec_error(r));
  else {
    *kind = l.kind;
    snprintf(url, url_cap, "%.*s", (int)l.url_len, l.url ? l.url : "");
  }
  rec_close(r);
  return err;
}

static json_t *price_json(const obi_book *b, int side, int decimals) {
  int64_t price, size;
  char text[32];
  if (!book_best(b, side, &price, &size) || decimals < 0) return json_null();
  feed_format_decimal(price, decimals, text);
  return json_string(text);
}

static int replay_recording(const char *ws_path, const char *http_path, int venue, int json, int quiet, FILE *out) {
  char msg[1200] = "", url[2048] = "", http_url[2048] = "";
  int kind[2] = {0, 0};
  obi_err err = first_line(ws_path, &kind[0], url, sizeof url, msg, sizeof msg);
  if (!err && http_path) err = first_line(http_path, &kind[1], http_url, sizeof http_url, msg, sizeof msg);
  if (err) return cli_input_error("%s", msg);
  if (kind[0] == REC_HTTP && http_path && kind[1] == REC_CONNECT) { /* given the other way round */
    const char *t = ws_path;
    ws_path = http_path, http_path = t;
    char tmp[2048];
    memcpy(tmp, url, sizeof tmp), memcpy(url, http_url, sizeof url), memcpy(http_url, tmp, sizeof tmp);
  } else if (kind[0] != REC_CONNECT) {
    return cli_input_error("%s:1: a WebSocket recording starts with 'URL <-> TIME'", ws_path);
  }
  if (http_path && kind[0] == kind[1])
    return cli_input_error("%s: expected REST responses ('URL -> TIME: JSON') beside the WebSocket recording %s",
                           http_path, ws_path);
  if (venue < 0) venue = feed_venue_from_url(url, strlen(url));
  if (venue < 0) return cli_input_error("%s:1: cannot tell the venue from the URL '%s' (use --venue)", ws_path, url);
  if (http_path && venue != FEED_BINANCE_SPOT && venue != FEED_BINANCE_FUTURES)
    return cli_input_error("%s: REST snapshots belong to Binance recordings; %s is %s", http_path, ws_path,
                           feed_venue_name(venue));
  feed_config cfg = {.add_unknown_symbols = 1, .scan_only = 1};
  size_t ll;
  const char *lv = http_path ? url_param(http_url, strlen(http_url), "limit", &ll) : NULL;
  if (lv) cfg.snapshot_limit = (uint32_t)strtoul(lv, NULL, 10);

  /* Pass 1 learns every symbol and the decimals its values use; pass 2 replays with
   * exactly those scales, so no value of the recording can fall outside them. */
  feed *scan = NULL, *f = NULL;
  rec_counts counts;
  cli_progress progress;
  cli_progress_start(&progress, "replay", quiet || json);
  double t0 = cli_now();
  int rc = EXIT_OK;
  if (feed_new(&scan, (feed_venue)venue, &cfg) ||
      replay_pass(scan, ws_path, http_path, &counts, NULL, msg, sizeof msg)) {
    rc = cli_input_error("%s", msg[0] ? msg : "out of memory");
    goto done;
  }
  cfg.scan_only = 0;
  if (feed_new(&f, (feed_venue)venue, &cfg)) {
    rc = cli_input_error("out of memory");
    goto done;
  }
  for (int i = 0; i < feed_symbol_count(scan); i++) {
    int pd, sd;
    feed_symbol_decimals(scan, i, &pd, &sd);
    if (pd < 0 || sd < 0) pd = sd = -1;
    if (feed_add_symbol(f, feed_symbol_name(scan, i), pd, sd) < 0) {
      rc = cli_input_error("out of memory");
      goto done;
    }
  }
  double t1 = cli_now();
  if (replay_pass(f, ws_path, http_path, &counts, &progress, msg, sizeof msg)) {
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
  feed_free(scan);
  feed_free(f);
  return rc;
}

static int cmd_replay(int argc, char **argv) {
  const char *paths[2];
  int npaths = 0, verify = 0, json = 0, quiet = 0, venue = -1;
  long levels = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--venue")) {
      venue = -1;
      for (int v = 0; i + 1 < argc && v < FEED__VENUE_COUNT; v++)
        if (!strcmp(argv[i + 1], feed_venue_name(v))) venue = v;
      if (venue < 0)
        return cli_usage_error(&cmd_replay_def,
                               "--venue needs binance-spot, binance-futures, coinbase-exchange or coinbase-advanced");
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
