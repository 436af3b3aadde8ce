/* test_live.c — the live feed session (src/feed/live.c) against the loopback test server run
 * as a market (test/ws_server.c): the server holds the true book of each symbol, sends the
 * venue's documented messages generated from it and answers the Binance REST depth snapshot
 * with the book and its lastUpdateId. Each test injects one fault — a dropped message, two
 * messages swapped, a duplicate, a snapshot older than the buffered events, failed snapshot
 * requests, a disconnect, malformed JSON, a stalled connection, a Coinbase Advanced sequence
 * gap — runs the session until the script is done and every message sent was received, and
 * then asserts that every book equals the server's true book level by level and that the
 * feed's counters (applied, stale, gaps, resyncs, snapshots) are exactly what the fault must
 * produce: every update applied once or dropped as stale, none lost without a gap.
 *
 * Determinism: gates (ws_server_market_gate) fix where in the stream each snapshot is taken,
 * so the counts do not depend on whether a message arrives before or after the snapshot.
 * Only the old-snapshot test relies on timing: its stale answer is delayed 150 ms so that
 * the events it is older than are buffered first. Every feed runs book_check after each
 * message (check_books). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "obi/live.h"
#include "test.h"
#include "ws_server.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *const BINANCE_SYMS[] = {"BTCUSDT", "ETHUSDT"};
static const char *const COINBASE_SYMS[] = {"BTC-USD", "ETH-USD"};
static const int PRICE_DEC[] = {2, 2}, SIZE_DEC[] = {3, 3}; /* the server's grid: ticks of 0.01, lots of 0.001 */

/* A session on the test server with fast timers; symbols (NULL: the server's names). */
static live *start_live(ws_server *s, feed_venue venue, const char *const *symbols, int n) {
  char endpoint[64], rest[64];
  snprintf(endpoint, sizeof endpoint, "ws://127.0.0.1:%d", ws_server_port(s));
  snprintf(rest, sizeof rest, "http://127.0.0.1:%d/", ws_server_port(s));
  live_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.venue = venue;
  cfg.symbols = symbols;
  cfg.n_symbols = n;
  cfg.price_decimals = PRICE_DEC;
  cfg.size_decimals = SIZE_DEC;
  cfg.endpoint = endpoint;
  cfg.rest_endpoint = rest;
  cfg.feed.check_books = 1;
  cfg.ping_interval_ms = 100;
  cfg.stall_timeout_ms = 300;
  cfg.backoff_base_ms = 20;
  cfg.backoff_max_ms = 100;
  cfg.seed = 7;
  cfg.snapshot_timeout_ms = 2000;
  cfg.snapshot_retry_base_ms = 20;
  cfg.snapshot_retry_max_ms = 100;
  live *l = NULL;
  return live_new(&l, &cfg) == OBI_OK ? l : NULL;
}

/* 1 when the book of every symbol equals the server's true book, level by level; else 0
 * with the first difference in why. */
static int books_equal(ws_server *s, const live *l, int nsym, char *why, size_t cap) {
  const feed *f = live_feed(l);
  for (int sym = 0; sym < nsym; sym++)
    for (int side = 0; side < 2; side++) {
      long long price[WS_MARKET_LEVELS], size[WS_MARKET_LEVELS];
      int n = ws_server_market_book(s, sym, side, price, size, WS_MARKET_LEVELS);
      const obi_book *b = feed_book(f, sym);
      if ((int)book_depth(b, side) != n) {
        snprintf(why, cap, "symbol %d side %d: %u levels, the true book has %d", sym, side, book_depth(b, side), n);
        return 0;
      }
      for (int k = 0; k < n; k++) {
        const book_level *lv = book_level_at(b, side, (uint32_t)k);
        if (lv->price != price[k] || lv->size != size[k]) {
          snprintf(why, cap, "symbol %d side %d level %d: %lld@%lld, the true book has %lld@%lld", sym, side, k,
                   (long long)lv->size, (long long)lv->price, size[k], price[k]);
          return 0;
        }
      }
    }
  return 1;
}

/* Services l until the server has taken every step, the session has received every message
 * the server sent, and every book is synced; then 30 ms more (nothing else may come). Returns
 * 1 when that happened within max_ms and the books equal the true books (why otherwise). */
static int run_to_end(ws_server *s, live *l, int nsym, int max_ms, char *why, size_t cap) {
  double end = now_s() + max_ms / 1000.0;
  snprintf(why, cap, "timed out");
  while (now_s() < end) {
    obi_err err = live_service(l, 5);
    if (err) {
      snprintf(why, cap, "live_service: %s (%s)", obi_strerror(err), live_error(l));
      return 0;
    }
    if (ws_server_pending(s) == 0 && live_ws_stats(l)->messages == (uint64_t)ws_server_get_counts(s).sent &&
        live_synced(l)) {
      double quiet = now_s() + 0.03;
      while (now_s() < quiet) live_service(l, 5);
      if (live_ws_stats(l)->messages != (uint64_t)ws_server_get_counts(s).sent) {
        snprintf(why, cap, "more messages arrived after the end");
        return 0;
      }
      return books_equal(s, l, nsym, why, cap);
    }
  }
  char diff[256] = "";
  books_equal(s, l, nsym, diff, sizeof diff);
  const ws_client_stats *ws = live_ws_stats(l);
  ws_server_counts sc = ws_server_get_counts(s);
  snprintf(why, cap,
           "timed out (%d steps pending; server: %d connections, %d sent, %d received, %d snapshots; client: %llu "
           "connects, %llu messages, synced %d); %s",
           ws_server_pending(s), sc.connections, sc.sent, sc.received, ws_server_market_snapshots(s),
           (unsigned long long)ws->connects, (unsigned long long)ws->messages, live_synced(l), diff);
  return 0;
}

#define CHECK_RUN(s, l, nsym, max_ms)                                                                                  \
  do {                                                                                                                 \
    char why_[512];                                                                                                    \
    if (!run_to_end(s, l, nsym, max_ms, why_, sizeof why_)) {                                                          \
      test_fail(__FILE__, __LINE__, "the session did not end with the true book: %s; last error '%s' / '%s'", why_,    \
                live_error(l), feed_last_error(live_feed(l)));                                                         \
      live_free(l);                                                                                                    \
      ws_server_stop(s);                                                                                               \
      return;                                                                                                          \
    }                                                                                                                  \
  } while (0)

/* n events of symbol sym. */
static void events(ws_server *s, int sym, int n) {
  for (int i = 0; i < n; i++) ws_server_market_event(s, sym);
}

/* The counters every Binance fault test asserts, for symbol 0. */
typedef struct {
  uint64_t depth_updates, applied, stale, gaps, gaps_first, resyncs, snapshots, snapshots_applied, too_old;
} sync_counts;

static sync_counts counts_of(const live *l, int sym) {
  const feed_symbol_stats *st = feed_symbol_get_stats(live_feed(l), sym);
  return (sync_counts){st->depth_updates, st->updates_applied,   st->dropped_stale,
                       st->gaps,          st->gaps_first_event,  st->resyncs,
                       st->snapshots,     st->snapshots_applied, st->snapshots_too_old};
}

#define CHECK_COUNTS(got, want)                                                                                        \
  do {                                                                                                                 \
    sync_counts g_ = (got), w_ = (want);                                                                               \
    if (memcmp(&g_, &w_, sizeof g_)) {                                                                                 \
      test_fail(__FILE__, __LINE__,                                                                                    \
                "counts (depth_updates applied stale gaps gaps_first resyncs snapshots applied too_old): "             \
                "%llu %llu %llu %llu %llu %llu %llu %llu %llu, expected %llu %llu %llu %llu %llu %llu %llu %llu %llu", \
                (unsigned long long)g_.depth_updates, (unsigned long long)g_.applied, (unsigned long long)g_.stale,    \
                (unsigned long long)g_.gaps, (unsigned long long)g_.gaps_first, (unsigned long long)g_.resyncs,        \
                (unsigned long long)g_.snapshots, (unsigned long long)g_.snapshots_applied,                            \
                (unsigned long long)g_.too_old, (unsigned long long)w_.depth_updates, (unsigned long long)w_.applied,  \
                (unsigned long long)w_.stale, (unsigned long long)w_.gaps, (unsigned long long)w_.gaps_first,          \
                (unsigned long long)w_.resyncs, (unsigned long long)w_.snapshots,                                      \
                (unsigned long long)w_.snapshots_applied, (unsigned long long)w_.too_old);                             \
      goto done;                                                                                                       \
    }                                                                                                                  \
  } while (0)

/* ---- Binance ---------------------------------------------------------------------------- */

/* Two symbols on one combined-stream connection. Three events each before the snapshot
 * (taken at the gate, so all three are in it: stale), then 20 each that continue it. */
void live_binance_spot_sync_two_symbols(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 2, 1);
  for (int i = 0; i < 3; i++) ws_server_market_event(s, 0), ws_server_market_event(s, 1);
  ws_server_market_gate(s, 0);
  ws_server_market_gate(s, 1);
  for (int i = 0; i < 20; i++) {
    ws_server_market_event(s, 0);
    ws_server_market_event(s, 1);
    if (i % 5 == 0) ws_server_market_trade(s, 0);
  }
  const char *names[] = {"btcusdt", "ETHUSDT"}; /* any case */
  live *l = start_live(s, FEED_BINANCE_SPOT, names, 2);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 2, 5000);
  char uri[512], http[512];
  ws_server_last_ws_uri(s, uri, sizeof uri);
  ws_server_last_http_uri(s, http, sizeof http);
  const feed *f = live_feed(l);
  const live_stats *ls = live_get_stats(l);
  for (int sym = 0; sym < 2; sym++) {
    CHECK_COUNTS(counts_of(l, sym), ((sync_counts){23, 20, 3, 0, 0, 0, 1, 1, 0}));
    CHECK_EQ(feed_known_depth(f, sym, OBI_BID), book_depth(feed_book(f, sym), OBI_BID)); /* a whole snapshot */
    CHECK_EQ(feed_known_depth(f, sym, OBI_ASK), book_depth(feed_book(f, sym), OBI_ASK));
  }
  CHECK_EQ(feed_symbol_get_stats(f, 0)->trades, 4);
  CHECK(!strcmp(uri, "/stream?streams=btcusdt@depth@100ms/btcusdt@trade/ethusdt@depth@100ms/ethusdt@trade"));
  CHECK(!strncmp(http, "/api/v3/depth?symbol=", 21) && strstr(http, "&limit=5000"));
  CHECK_EQ(ls->snapshot_requests, 2);
  CHECK_EQ(ls->snapshot_failures + ls->snapshots_refused + ls->snapshots_discarded, 0);
  CHECK_EQ(ls->connects, 1);
  CHECK_EQ(ls->disconnects + ls->resyncs + ls->rejected, 0);
  CHECK_EQ(feed_get_stats(f)->malformed, 0);
  CHECK_EQ(ws_server_market_snapshots(s), 2);
done:
  live_free(l);
  ws_server_stop(s);
}

/* The script of the gap tests: 3 events before the first snapshot (stale), 7 applied, the
 * faulty part, 4 events up to the second gate (the resync snapshot covers them), 10 applied. */
static void gap_script(ws_server *s, ws_fault fault) {
  events(s, 0, 3);
  ws_server_market_gate(s, 0);
  events(s, 0, 7);
  ws_server_fault(s, fault);
  events(s, 0, 5);
  ws_server_market_gate(s, 0);
  events(s, 0, 10);
}

/* A dropped message: the next event does not continue the last applied u: a gap, the book
 * cleared, a new snapshot (as of four events later), the events up to it dropped as stale. */
void live_binance_gap_dropped_message_resyncs(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 1, 2);
  gap_script(s, WS_FAULT_DROP);
  live *l = start_live(s, FEED_BINANCE_SPOT, BINANCE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  /* 24 of 25 events arrive: 3 + 4 stale, 7 + 10 applied; the lost one is a gap, not silence */
  CHECK_COUNTS(counts_of(l, 0), ((sync_counts){24, 17, 7, 1, 0, 1, 2, 2, 0}));
  CHECK_EQ(ws_server_get_counts(s).dropped, 1);
  CHECK_EQ(live_get_stats(l)->snapshot_requests, 2);
  CHECK_EQ(live_get_stats(l)->resyncs, 1);
  CHECK_EQ(live_get_stats(l)->connects, 1);
done:
  live_free(l);
  ws_server_stop(s);
}

/* Two events swapped: the later one is a gap (its U is not the last u + 1); the earlier one,
 * arriving next, is buffered with it, and both are inside the resync snapshot. */
void live_binance_out_of_order_resyncs(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 1, 3);
  gap_script(s, WS_FAULT_REORDER);
  live *l = start_live(s, FEED_BINANCE_SPOT, BINANCE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  CHECK_COUNTS(counts_of(l, 0), ((sync_counts){25, 17, 8, 1, 0, 1, 2, 2, 0}));
  CHECK_EQ(live_get_stats(l)->resyncs, 1);
done:
  live_free(l);
  ws_server_stop(s);
}

/* A duplicate: its u is not above the last applied u, so it is dropped as stale — applied
 * once, and no gap, no resync. */
void live_binance_duplicate_dropped(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 1, 4);
  events(s, 0, 3);
  ws_server_market_gate(s, 0);
  events(s, 0, 7);
  ws_server_fault(s, WS_FAULT_DUPLICATE);
  events(s, 0, 10);
  live *l = start_live(s, FEED_BINANCE_SPOT, BINANCE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  CHECK_COUNTS(counts_of(l, 0), ((sync_counts){21, 17, 4, 0, 0, 0, 1, 1, 0}));
  CHECK_EQ(live_get_stats(l)->snapshot_requests, 1);
  CHECK_EQ(live_get_stats(l)->resyncs, 0);
done:
  live_free(l);
  ws_server_stop(s);
}

/* A snapshot older than the buffered events: two events happen before the client connects,
 * five arrive and are buffered, then (150 ms later) a stale answer with the initial book:
 * its lastUpdateId + 1 is below the first buffered U, so it can never be continued. It is
 * refused, asked for again after the retry delay, and the second one (as of the gate) covers
 * the five buffered events. */
void live_binance_old_snapshot_refused(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 1, 5);
  ws_server_market_silent(s, 0);
  ws_server_market_silent(s, 0);
  events(s, 0, 5);
  ws_server_market_gate(s, 0);
  events(s, 0, 10);
  ws_server_market_stale_snapshot(s, 0, 7);
  ws_server_market_snapshot_delay(s, 150);
  live *l = start_live(s, FEED_BINANCE_SPOT, BINANCE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  CHECK_COUNTS(counts_of(l, 0), ((sync_counts){15, 10, 5, 0, 0, 0, 2, 1, 1}));
  CHECK_EQ(live_get_stats(l)->snapshot_requests, 2);
  CHECK_EQ(live_get_stats(l)->snapshots_refused, 1);
  CHECK_EQ(live_get_stats(l)->snapshot_failures, 0);
done:
  live_free(l);
  ws_server_stop(s);
}

/* Snapshot requests that fail — HTTP 429, then a body cut short — are retried with backoff;
 * the third is the book. Nothing is applied from the failures. */
void live_binance_snapshot_failures_retried(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 1, 6);
  events(s, 0, 3);
  ws_server_market_gate(s, 0);
  events(s, 0, 10);
  ws_server_market_snapshot_fail(s, 429);
  ws_server_market_snapshot_fail(s, 200);
  live *l = start_live(s, FEED_BINANCE_SPOT, BINANCE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  CHECK_COUNTS(counts_of(l, 0), ((sync_counts){13, 10, 3, 0, 0, 0, 1, 1, 0}));
  const live_stats *ls = live_get_stats(l);
  CHECK_EQ(ls->snapshot_requests, 3);
  CHECK_EQ(ls->snapshot_failures, 2);
  CHECK_EQ(feed_get_stats(live_feed(l))->malformed, 1); /* the cut body */
  CHECK_STR_CONTAINS(feed_last_error(live_feed(l)), "not valid JSON");
  CHECK_EQ(ws_server_market_snapshots(s), 3);
done:
  live_free(l);
  ws_server_stop(s);
}

/* The connection drops mid-stream (no close frame). Whatever happened meanwhile is unknown:
 * the book is cleared (feed_reset), three events pass while no one listens, and on the next
 * connection a fresh snapshot rebuilds the book. */
void live_binance_disconnect_resyncs(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 1, 7);
  events(s, 0, 3);
  ws_server_market_gate(s, 0);
  events(s, 0, 7);
  ws_server_fault(s, WS_FAULT_DISCONNECT);
  for (int i = 0; i < 3; i++) ws_server_market_silent(s, 0);
  events(s, 0, 3);
  ws_server_market_gate(s, 0);
  events(s, 0, 10);
  live *l = start_live(s, FEED_BINANCE_SPOT, BINANCE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  /* no gap: the reset is not one; the rebuild is counted by the session */
  CHECK_COUNTS(counts_of(l, 0), ((sync_counts){23, 17, 6, 0, 0, 0, 2, 2, 0}));
  const live_stats *ls = live_get_stats(l);
  CHECK_EQ(ls->connects, 2);
  CHECK_EQ(ls->disconnects, 1);
  CHECK_EQ(ls->resyncs, 1);
  CHECK_EQ(ls->snapshot_requests, 2);
  CHECK_EQ(feed_get_stats(live_feed(l))->resets, 1);
  CHECK_EQ(ws_server_get_counts(s).connections, 2);
done:
  live_free(l);
  ws_server_stop(s);
}

/* The server stops sending and reading (pings unanswered): after 300 ms of silence the
 * transport closes the connection as stalled, and the session resyncs as after a disconnect. */
void live_binance_stall_resyncs(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 1, 8);
  events(s, 0, 3);
  ws_server_market_gate(s, 0);
  events(s, 0, 7);
  ws_server_fault(s, WS_FAULT_STALL);
  ws_server_market_silent(s, 0);
  ws_server_market_silent(s, 0);
  events(s, 0, 3);
  ws_server_market_gate(s, 0);
  events(s, 0, 10);
  live *l = start_live(s, FEED_BINANCE_SPOT, BINANCE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  CHECK_COUNTS(counts_of(l, 0), ((sync_counts){23, 17, 6, 0, 0, 0, 2, 2, 0}));
  CHECK_EQ(live_ws_stats(l)->stalls, 1);
  CHECK_EQ(live_get_stats(l)->disconnects, 1);
  CHECK_EQ(live_get_stats(l)->resyncs, 1);
  CHECK_EQ(feed_get_stats(live_feed(l))->resets, 1);
done:
  live_free(l);
  ws_server_stop(s);
}

/* Malformed JSON: a stray message that is not JSON changes nothing (counted); an event whose
 * text was cut in half is lost like a dropped one, and the next event shows the gap. */
void live_binance_malformed_messages(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 1, 9);
  events(s, 0, 3);
  ws_server_market_gate(s, 0);
  events(s, 0, 7);
  ws_server_fault(s, WS_FAULT_MALFORMED);
  ws_server_fault(s, WS_FAULT_TRUNCATE);
  events(s, 0, 5);
  ws_server_market_gate(s, 0);
  events(s, 0, 10);
  live *l = start_live(s, FEED_BINANCE_SPOT, BINANCE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  CHECK_COUNTS(counts_of(l, 0), ((sync_counts){24, 17, 7, 1, 0, 1, 2, 2, 0}));
  CHECK_EQ(feed_get_stats(live_feed(l))->malformed, 2);
  CHECK_EQ(live_get_stats(l)->rejected, 2);
  CHECK_EQ(live_get_stats(l)->messages, 26);
  CHECK_EQ(live_get_stats(l)->resyncs, 1);
done:
  live_free(l);
  ws_server_stop(s);
}

/* USDⓈ-M futures: pu continuity. A dropped event breaks pu == previous u. The futures rules
 * keep an event whose u equals lastUpdateId (u < lastUpdateId is stale), so the event at
 * each gate is applied again on its snapshot — the same absolute sizes, the same book. */
void live_binance_futures_pu_gap_resyncs(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_BINANCE_FUTURES, BINANCE_SYMS, 1, 10);
  gap_script(s, WS_FAULT_DROP);
  ws_server_market_trade(s, 0);
  live *l = start_live(s, FEED_BINANCE_FUTURES, BINANCE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  char uri[256], http[256];
  ws_server_last_ws_uri(s, uri, sizeof uri);
  ws_server_last_http_uri(s, http, sizeof http);
  CHECK(!strcmp(uri, "/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade"));
  CHECK(!strcmp(http, "/fapi/v1/depth?symbol=BTCUSDT&limit=1000"));
  /* 2 + 3 stale; 8 (e3..e10) + 1 (e15, u = lastUpdateId) + 10 applied */
  CHECK_COUNTS(counts_of(l, 0), ((sync_counts){24, 19, 5, 1, 0, 1, 2, 2, 0}));
  CHECK_EQ(feed_symbol_get_stats(live_feed(l), 0)->trades, 1);
  CHECK_EQ(live_get_stats(l)->resyncs, 1);
done:
  live_free(l);
  ws_server_stop(s);
}

/* ---- record, replay ----------------------------------------------------------------------- */

static void record_script(ws_server *s) {
  ws_server_market(s, WS_MARKET_BINANCE_SPOT, BINANCE_SYMS, 2, 11);
  for (int i = 0; i < 3; i++) ws_server_market_event(s, 0), ws_server_market_event(s, 1);
  ws_server_market_gate(s, 0);
  ws_server_market_gate(s, 1);
  for (int i = 0; i < 30; i++) {
    ws_server_market_event(s, i % 3 ? 0 : 1);
    if (i % 7 == 0) ws_server_market_trade(s, 1);
  }
}

/* `obi record` from the market, `obi replay` of its files, and a live session on the same
 * market (same seed, same script): the replayed books have the live books' digests, and
 * those books equal the true books; the replay counts the same applied and stale events. */
void live_record_replay_same_books(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  record_script(s);
  int port = ws_server_port(s);
  char args[2048], out[512], http[512];
  snprintf(out, sizeof out, "%s/live.jsonl.zst", test_tmpdir());
  snprintf(http, sizeof http, "%s/live.jsonl.http.zst", test_tmpdir());
  snprintf(args, sizeof args,
           "record --binance btcusdt,ethusdt --endpoint ws://127.0.0.1:%d --rest-endpoint http://127.0.0.1:%d "
           "--out '%s' --duration 0.7 --quiet",
           port, port, out);
  CHECK_EQ(test_run_obi(args), 0);
  int recorded_all = ws_server_pending(s) == 0;
  ws_server_stop(s);
  CHECK(recorded_all);
  snprintf(args, sizeof args, "replay '%s' '%s' --venue binance-spot --json", out, http);
  CHECK_EQ(test_run_obi(args), 0);
  json_error_t je;
  json_t *rep = json_loads(test_out, 0, &je);
  CHECK(rep != NULL);

  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  record_script(s);
  live *l = start_live(s, FEED_BINANCE_SPOT, BINANCE_SYMS, 2);
  if (!l) json_decref(rep);
  CHECK(l != NULL);
  if (!run_to_end(s, l, 2, 5000, args, sizeof args)) {
    test_fail(__FILE__, __LINE__, "the live session did not end with the true book: %s", args);
    goto done;
  }
  const feed *f = live_feed(l);
  json_t *syms = json_object_get(rep, "symbols");
  CHECK_EQ(json_array_size(syms), 2);
  for (int i = 0; i < 2; i++) {
    json_t *e = NULL;
    for (size_t k = 0; k < 2; k++)
      if (!strcmp(json_string_value(json_object_get(json_array_get(syms, k), "symbol")), BINANCE_SYMS[i]))
        e = json_array_get(syms, k);
    CHECK(e != NULL);
    char digest[17], bid[32], ask[32];
    snprintf(digest, sizeof digest, "%016llx", (unsigned long long)feed_book_digest(f, i));
    int64_t p, q;
    book_best(feed_book(f, i), OBI_BID, &p, &q);
    feed_format_decimal(p, 2, bid);
    book_best(feed_book(f, i), OBI_ASK, &p, &q);
    feed_format_decimal(p, 2, ask);
    CHECK(!strcmp(json_string_value(json_object_get(e, "book_digest")), digest));
    CHECK(!strcmp(json_string_value(json_object_get(e, "best_bid")), bid));
    CHECK(!strcmp(json_string_value(json_object_get(e, "best_ask")), ask));
    CHECK_EQ(json_integer_value(json_object_get(e, "bid_levels")), book_depth(feed_book(f, i), OBI_BID));
    CHECK_EQ(json_integer_value(json_object_get(e, "ask_levels")), book_depth(feed_book(f, i), OBI_ASK));
    const feed_symbol_stats *st = feed_symbol_get_stats(f, i);
    CHECK_EQ(json_integer_value(json_object_get(e, "updates_applied")), st->updates_applied);
    CHECK_EQ(json_integer_value(json_object_get(e, "dropped_stale")), st->dropped_stale);
    CHECK_EQ(json_integer_value(json_object_get(e, "gaps")), 0);
    CHECK_EQ(json_integer_value(json_object_get(e, "trades")), st->trades);
    CHECK_EQ(st->dropped_stale, 3);
  }
  CHECK_EQ(feed_symbol_get_stats(f, 0)->updates_applied + feed_symbol_get_stats(f, 1)->updates_applied, 30);
done:
  json_decref(rep);
  live_free(l);
  ws_server_stop(s);
}

/* `obi live --json` as a child process on the market: the summary names both symbols, each
 * synced with updates applied, no gap, and a book that is not crossed. */
void live_cli_json_summary(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  record_script(s);
  int port = ws_server_port(s);
  char args[512];
  snprintf(args, sizeof args,
           "live --binance btcusdt,ethusdt --endpoint ws://127.0.0.1:%d --rest-endpoint http://127.0.0.1:%d "
           "--duration 1.5 --json",
           port, port);
  int rc = test_run_obi(args);
  int pending = ws_server_pending(s);
  ws_server_stop(s);
  CHECK_EQ(rc, 0);
  CHECK_EQ(pending, 0);
  json_error_t je;
  json_t *o = json_loads(test_out, 0, &je);
  CHECK(o != NULL);
  json_t *syms = json_object_get(o, "symbols");
  CHECK_EQ(json_array_size(syms), 2);
  CHECK(!strcmp(json_string_value(json_object_get(o, "venue")), "binance-spot"));
  json_int_t applied = 0;
  for (size_t i = 0; i < json_array_size(syms); i++) {
    json_t *e = json_array_get(syms, i);
    CHECK(!strcasecmp(json_string_value(json_object_get(e, "symbol")), BINANCE_SYMS[i]));
    CHECK(json_is_true(json_object_get(e, "synced")));
    CHECK(json_integer_value(json_object_get(e, "updates_applied")) > 0);
    CHECK_EQ(json_integer_value(json_object_get(e, "gaps")), 0);
    CHECK(json_integer_value(json_object_get(e, "bid_levels")) > 0);
    CHECK(json_integer_value(json_object_get(e, "ask_levels")) > 0);
    const char *bid = json_string_value(json_object_get(e, "best_bid")),
               *ask = json_string_value(json_object_get(e, "best_ask"));
    CHECK(bid && ask && strtod(bid, NULL) > 0 && strtod(bid, NULL) < strtod(ask, NULL));
    applied += json_integer_value(json_object_get(e, "updates_applied"));
  }
  CHECK_EQ(applied, 30); /* the script's 30 events after the gates, every one applied */
  json_decref(o);
}

/* ---- Coinbase ------------------------------------------------------------------------------ */

/* Exchange: the subscription brings a snapshot, l2updates apply; a disconnect clears the
 * book, the client subscribes again on the new connection, and the snapshot sent then
 * (which includes two updates nobody received) rebuilds it. */
void live_coinbase_exchange_disconnect_resyncs(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_COINBASE_EXCHANGE, COINBASE_SYMS, 1, 12);
  ws_server_wait_subscribe(s, 1);
  ws_server_market_snapshot(s, 0);
  events(s, 0, 10);
  ws_server_market_trade(s, 0);
  ws_server_fault(s, WS_FAULT_DISCONNECT);
  ws_server_market_silent(s, 0);
  ws_server_market_silent(s, 0);
  ws_server_market_snapshot(s, 0);
  events(s, 0, 8);
  live *l = start_live(s, FEED_COINBASE_EXCHANGE, COINBASE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  char sub[512] = "", sub2[512] = "";
  ws_server_received_text(s, 0, sub, sizeof sub);
  ws_server_received_text(s, 1, sub2, sizeof sub2);
  const feed_symbol_stats *st = feed_symbol_get_stats(live_feed(l), 0);
  CHECK(!strcmp(sub,
                "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],\"channels\":[\"level2_batch\",\"matches\"]}"));
  CHECK(!strcmp(sub2, sub)); /* subscribed again on the second connection */
  CHECK_EQ(st->depth_updates, 18);
  CHECK_EQ(st->updates_applied, 18);
  CHECK_EQ(st->dropped_unsynced, 0);
  CHECK_EQ(st->snapshots_applied, 2);
  CHECK_EQ(st->trades, 1);
  CHECK_EQ(live_get_stats(l)->disconnects, 1);
  CHECK_EQ(live_get_stats(l)->resyncs, 1);
  CHECK_EQ(live_get_stats(l)->snapshot_requests, 0); /* no REST on Coinbase */
  CHECK_EQ(feed_get_stats(live_feed(l))->resets, 1);
  live_free(l);
  ws_server_stop(s);
}

/* Advanced Trade: level2, heartbeats and market_trades subscribed one message each. A
 * dropped message makes sequence_num jump: every book is cleared, the session unsubscribes
 * and subscribes level2 again on the same connection, and the fresh snapshot rebuilds the
 * book; the updates received in between are dropped as unsynced, not applied to a void book. */
void live_coinbase_advanced_sequence_gap_resubscribes(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_market(s, WS_MARKET_COINBASE_ADVANCED, COINBASE_SYMS, 1, 13);
  ws_server_wait_subscribe(s, 3);
  ws_server_market_heartbeat(s);
  ws_server_market_snapshot(s, 0);
  events(s, 0, 5);
  ws_server_fault(s, WS_FAULT_DROP);
  events(s, 0, 3);
  ws_server_wait_received(s, 5); /* the unsubscribe and subscribe after the gap */
  ws_server_market_snapshot(s, 0);
  events(s, 0, 7);
  ws_server_market_trade(s, 0);
  live *l = start_live(s, FEED_COINBASE_ADVANCED, COINBASE_SYMS, 1);
  CHECK(l != NULL);
  CHECK_RUN(s, l, 1, 5000);
  char text[5][256];
  for (int i = 0; i < 5; i++) {
    text[i][0] = 0;
    ws_server_received_text(s, i, text[i], sizeof text[i]);
  }
  const feed_symbol_stats *st = feed_symbol_get_stats(live_feed(l), 0);
  const feed_conn_stats *cs = feed_get_stats(live_feed(l));
  CHECK(!strcmp(text[0], "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],\"channel\":\"level2\"}"));
  CHECK(!strcmp(text[1], "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],\"channel\":\"heartbeats\"}"));
  CHECK(!strcmp(text[2], "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],\"channel\":\"market_trades\"}"));
  CHECK(!strcmp(text[3], "{\"type\":\"unsubscribe\",\"product_ids\":[\"BTC-USD\"],\"channel\":\"level2\"}"));
  CHECK(!strcmp(text[4], text[0]));
  CHECK_EQ(cs->sequence_gaps, 1);
  CHECK_EQ(cs->heartbeats, 1);
  CHECK_EQ(st->updates_applied, 12);
  CHECK_EQ(st->dropped_unsynced, 2);
  CHECK_EQ(st->gaps, 1);
  CHECK_EQ(st->resyncs, 1);
  CHECK_EQ(st->trades, 1);
  CHECK_EQ(live_get_stats(l)->resubscribes, 1);
  CHECK_EQ(live_get_stats(l)->resyncs, 1);
  CHECK_EQ(live_get_stats(l)->connects, 1);
  live_free(l);
  ws_server_stop(s);
}

/* Configurations the session refuses, and the URLs it builds for the real venues. */
void live_config_errors_and_urls(void) {
  live_config cfg;
  memset(&cfg, 0, sizeof cfg);
  live *l = (live *)1;
  CHECK_EQ(live_new(&l, &cfg), OBI_EINVAL); /* no symbols */
  CHECK(l == NULL);
  const char *bad[] = {"btc_usdt"}, *dup[] = {"BTCUSDT", "btcusdt"}, *cb[] = {"BTC-USD"};
  cfg.symbols = bad;
  cfg.n_symbols = 1;
  CHECK_EQ(live_new(&l, &cfg), OBI_EINVAL);
  cfg.symbols = dup;
  cfg.n_symbols = 2;
  CHECK_EQ(live_new(&l, &cfg), OBI_EINVAL);
  cfg.symbols = cb; /* '-' is not a Binance symbol */
  cfg.n_symbols = 1;
  CHECK_EQ(live_new(&l, &cfg), OBI_EINVAL);
  cfg.venue = FEED_COINBASE_EXCHANGE;
  cfg.channels = "level2,";
  CHECK_EQ(live_new(&l, &cfg), OBI_EINVAL);
  cfg.channels = "level2\"]";
  CHECK_EQ(live_new(&l, &cfg), OBI_EINVAL);
  cfg.channels = NULL;
  cfg.endpoint = "http://127.0.0.1:1";
  CHECK_EQ(live_new(&l, &cfg), OBI_EINVAL);
  cfg.endpoint = NULL;
  cfg.feed.scan_only = 1;
  CHECK_EQ(live_new(&l, &cfg), OBI_EINVAL);
  cfg.feed.scan_only = 0;
  cfg.venue = FEED_BINANCE_SPOT;
  cfg.symbols = dup;
  cfg.rest_endpoint = "ftp://x";
  CHECK_EQ(live_new(&l, &cfg), OBI_EINVAL);
  /* the default endpoints (nothing is connected before live_service) */
  cfg.rest_endpoint = NULL;
  cfg.n_symbols = 1;
  CHECK_EQ(live_new(&l, &cfg), OBI_OK);
  CHECK(!strcmp(live_url(l), "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/btcusdt@trade"));
  live_free(l);
  cfg.venue = FEED_BINANCE_FUTURES;
  CHECK_EQ(live_new(&l, &cfg), OBI_OK);
  CHECK(!strcmp(live_url(l), "wss://fstream.binance.com/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade"));
  live_free(l);
  cfg.venue = FEED_COINBASE_ADVANCED;
  cfg.symbols = cb;
  CHECK_EQ(live_new(&l, &cfg), OBI_OK);
  CHECK(!strcmp(live_url(l), "wss://advanced-trade-ws.coinbase.com"));
  live_free(l);
  live_free(NULL);
}

/* `obi live --binance-futures` and `--coinbase-advanced` as child processes against the loopback
 * markets: synced, every scripted update applied, the final best prices those of the true book. */
static void cli_venue(const char *flag, int venue, const char *symbol, int binance, int applied) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  const char *syms[1] = {symbol};
  ws_server_market(s, venue, syms, 1, 17);
  if (binance) {
    for (int i = 0; i < 3; i++) ws_server_market_event(s, 0);
    ws_server_market_gate(s, 0);
  } else {
    ws_server_wait_subscribe(s, 3);
    ws_server_market_snapshot(s, 0);
  }
  for (int i = 0; i < 20; i++) ws_server_market_event(s, 0);
  int port = ws_server_port(s);
  char args[512];
  if (binance)
    snprintf(args, sizeof args,
             "live %s %s --endpoint ws://127.0.0.1:%d --rest-endpoint http://127.0.0.1:%d "
             "--duration 1.5 --json",
             flag, symbol, port, port);
  else
    snprintf(args, sizeof args, "live %s %s --endpoint ws://127.0.0.1:%d --duration 1.5 --json", flag, symbol, port);
  int rc = test_run_obi(args);
  int pending = ws_server_pending(s);
  long long bp, bq, ap, aq;
  int nb = ws_server_market_book(s, 0, 0, &bp, &bq, 1), na = ws_server_market_book(s, 0, 1, &ap, &aq, 1);
  ws_server_stop(s);
  CHECK_EQ(rc, 0);
  CHECK_EQ(pending, 0);
  json_t *o = json_loads(test_out, 0, NULL), *e = json_array_get(json_object_get(o, "symbols"), 0);
  CHECK(e != NULL);
  CHECK(!strcmp(json_string_value(json_object_get(o, "venue")), feed_venue_name(venue)));
  CHECK(json_is_true(json_object_get(e, "synced")));
  CHECK_EQ(json_integer_value(json_object_get(e, "updates_applied")), applied);
  const char *bid = json_string_value(json_object_get(e, "best_bid")),
             *ask = json_string_value(json_object_get(e, "best_ask"));
  CHECK(nb == 1 && na == 1 && bid && ask);
  if (bid && ask) {
    CHECK_EQ(llround(strtod(bid, NULL) * 100), bp); /* the market's prices are ticks of 0.01 */
    CHECK_EQ(llround(strtod(ask, NULL) * 100), ap);
  }
  json_decref(o);
}

void live_cli_futures_and_advanced(void) {
  /* futures: the event whose u equals the snapshot's lastUpdateId is applied too (U <= lastUpdateId <= u) */
  cli_venue("--binance-futures", WS_MARKET_BINANCE_FUTURES, "BTCUSDT", 1, 21);
  cli_venue("--coinbase-advanced", WS_MARKET_COINBASE_ADVANCED, "BTC-USD", 0, 20);
}

/* `obi record --binance-futures` from the loopback futures market, then `obi replay` of its files:
 * the fapi snapshot URL, the aggTrade stream, and a replayed book equal to the market's. */
void live_record_binance_futures(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  const char *syms[1] = {"BTCUSDT"};
  ws_server_market(s, WS_MARKET_BINANCE_FUTURES, syms, 1, 19);
  for (int i = 0; i < 3; i++) ws_server_market_event(s, 0);
  ws_server_market_gate(s, 0);
  for (int i = 0; i < 25; i++) {
    ws_server_market_event(s, 0);
    if (i % 6 == 0) ws_server_market_trade(s, 0);
  }
  int port = ws_server_port(s);
  char args[2048], out[512], http[512];
  snprintf(out, sizeof out, "%s/fut.jsonl.zst", test_tmpdir());
  snprintf(http, sizeof http, "%s/fut.jsonl.http.zst", test_tmpdir());
  snprintf(args, sizeof args,
           "record --binance-futures btcusdt --endpoint ws://127.0.0.1:%d --rest-endpoint http://127.0.0.1:%d "
           "--out '%s' --duration 0.7 --quiet --json",
           port, port, out);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "\"venue\":\"binance-futures\"");
  CHECK_STR_CONTAINS(test_out, "@aggTrade");
  int recorded_all = ws_server_pending(s) == 0;
  long long bp, bq, ap, aq;
  int nb = ws_server_market_book(s, 0, 0, &bp, &bq, 1), na = ws_server_market_book(s, 0, 1, &ap, &aq, 1);
  ws_server_stop(s);
  CHECK(recorded_all && nb == 1 && na == 1);
  snprintf(args, sizeof args, "replay '%s' '%s' --venue binance-futures --json", out, http);
  CHECK_EQ(test_run_obi(args), 0);
  json_t *o = json_loads(test_out, 0, NULL), *e = json_array_get(json_object_get(o, "symbols"), 0);
  CHECK(e != NULL);
  CHECK_STR_CONTAINS(json_string_value(json_object_get(o, "url")) ? json_string_value(json_object_get(o, "url")) : "",
                     "btcusdt@aggTrade");
  CHECK(json_is_true(json_object_get(e, "synced")));
  CHECK_EQ(json_integer_value(json_object_get(e, "gaps")), 0);
  CHECK_EQ(json_integer_value(json_object_get(e, "trades")), 5);
  const char *bid = json_string_value(json_object_get(e, "best_bid")),
             *ask = json_string_value(json_object_get(e, "best_ask"));
  CHECK(bid && ask);
  if (bid && ask) {
    CHECK_EQ(llround(strtod(bid, NULL) * 100), bp);
    CHECK_EQ(llround(strtod(ask, NULL) * 100), ap);
  }
  json_decref(o);
}
