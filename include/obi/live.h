/* live.h — a live feed session: the WebSocket/TLS transport (ws.h) and the protocol layer
 * (feed.h) joined into one object that keeps an exact book per symbol of one venue.
 *
 * A session owns one ws_client and one feed. It builds the venue's connection URL and
 * subscribe messages from the symbols, hands every received message to feed_on_message
 * with its receive time, fetches the Binance REST depth snapshot whenever the feed asks for
 * one (feed_snapshot_wanted) inside the client's event loop, retries failed or refused
 * snapshots with exponential backoff and full jitter, resubscribes Coinbase Advanced Trade's
 * level2 channel after a sequence gap (feed_resubscribe_wanted), and calls feed_reset when
 * a connection ends: whatever was in the books is void, and they resync from fresh
 * snapshots on the next connection. docs/feeds.md ("Live session") says what happens on each
 * fault and which test shows it.
 *
 *   live_config cfg = {.venue = FEED_BINANCE_SPOT, .symbols = syms, .n_symbols = 2,
 *                      .feed = {.on_event = on_event, .ctx = me}};
 *   live *l;
 *   if (live_new(&l, &cfg)) ...;
 *   while (running) live_service(l, 100);   (feed callbacks happen in here)
 *   live_stop(l);
 *   while (live_service(l, 100) == OBI_OK) {}
 *   live_free(l);
 *
 * Threading: one thread drives a session; callbacks run inside live_service. Recording is
 * `obi record`'s business (raw traffic to files that `obi replay` rebuilds the books from). */
#ifndef OBI_LIVE_H
#define OBI_LIVE_H

#include <stdint.h>

#include "obi/error.h"
#include "obi/feed.h"
#include "obi/ws.h"

typedef struct {
  feed_venue venue;
  /* The symbols as the venue names them: Binance "BTCUSDT" (any case: streams are written
   * in lower case, REST symbols in upper case), Coinbase "BTC-USD". At most 64. */
  const char *const *symbols;
  int n_symbols;
  /* Per symbol scale (ticks of 10^-price_decimals, lots of 10^-size_decimals), or NULL:
   * learned from the first snapshot (see feed_add_symbol). */
  const int *price_decimals, *size_decimals;

  /* Where to connect; NULL selects the venue's public endpoint:
   *  Binance spot     wss://stream.binance.com:9443 (+ /stream?streams=s@depth@100ms/s@trade/...)
   *                   REST https://api.binance.com (/api/v3/depth?symbol=S&limit=5000)
   *  Binance futures  wss://fstream.binance.com (+ /stream?streams=s@depth@100ms/s@aggTrade/...)
   *                   REST https://fapi.binance.com (/fapi/v1/depth?symbol=S&limit=1000)
   *  Coinbase Exchange  wss://ws-feed.exchange.coinbase.com (the URL as given)
   *  Coinbase Advanced  wss://advanced-trade-ws.coinbase.com (the URL as given)
   * For Binance, endpoint and rest_endpoint are roots: the paths above are appended. */
  const char *endpoint;
  const char *rest_endpoint;
  /* Coinbase Exchange channels, comma-separated; NULL: "level2_batch,matches" (level2 itself
   * needs authentication today). Ignored for other venues. */
  const char *channels;
  ws_tls tls;

  /* The protocol layer's settings: event callback and its context, check_books, ...
   * snapshot_limit 0 becomes the limit the REST request asks for (5000 spot, 1000 futures);
   * add_unknown_symbols and scan_only must be 0. */
  feed_config feed;

  /* The transport's timers (see ws_config); 0 selects its default. */
  int ping_interval_ms, stall_timeout_ms, connect_timeout_ms;
  int backoff_base_ms, backoff_max_ms;
  uint64_t seed; /* of the jitter of reconnects and snapshot retries; 0: from the clock */
  /* Binance snapshots: timeout of one request [10000]; the wait before retrying a failed or
   * refused one is ws_backoff_ms(attempt, base [1000], max [30000]). */
  int snapshot_timeout_ms, snapshot_retry_base_ms, snapshot_retry_max_ms;

  /* Connection state changes (ws_state, reason as in ws_config.on_state), optional. */
  void (*on_state)(void *ctx, ws_state state, const char *reason);
  void *ctx;
} live_config;

typedef struct {
  uint64_t connects;            /* connections opened */
  uint64_t disconnects;         /* open connections that ended (each one resets the feed) */
  uint64_t messages;            /* messages handed to the feed */
  uint64_t rejected;            /* of which the feed rejected as malformed (feed_last_error) */
  uint64_t snapshot_requests;   /* REST snapshot requests started */
  uint64_t snapshot_failures;   /* of which failed: no response, HTTP status not 200, a malformed body */
  uint64_t snapshots_refused;   /* well-formed snapshots that did not sync the symbol (older than the buffer) */
  uint64_t snapshots_discarded; /* responses to requests made before a reconnect (not used) */
  uint64_t resubscribes;        /* Coinbase Advanced level2 resubscriptions sent */
  uint64_t resyncs;             /* books rebuilt by a snapshot after they were lost (gap or reconnect) */
} live_stats;

typedef struct live live;

/* Creates a session (cfg is copied; its strings need not outlive the call) and starts the
 * first connection attempt; nothing happens until live_service. OBI_EINVAL for an unknown
 * venue, no symbols or too many, a symbol the venue cannot name (Binance: letters and digits;
 * Coinbase: also '-'; at most 31 bytes; no duplicates), bad decimals, a bad endpoint or
 * channel list, add_unknown_symbols or scan_only; OBI_EIO when the transport cannot be set
 * up; OBI_ENOMEM. The caller owns *out (NULL on failure) and frees it with live_free. */
obi_err live_new(live **out, const live_config *cfg);

/* Runs the session for at most timeout_ms (0: no wait): network events, feed callbacks,
 * snapshot requests and retries, resubscriptions. Returns after the first round of events.
 * OBI_OK while running; OBI_EEOF once stopped (live_stop completed); OBI_EIO when the event
 * loop failed; OBI_ENOMEM or OBI_EINVARIANT when the feed failed (live_error says how): the
 * books can no longer be trusted, and the caller should free the session. */
obi_err live_service(live *l, int timeout_ms);

/* Closes the connection cleanly and stops reconnecting; live_service returns OBI_EEOF once
 * it is closed. */
void live_stop(live *l);

/* Frees the session, its connection, feed and books. Not from inside a callback. Accepts NULL. */
void live_free(live *l);

/* The feed (books, per-symbol and connection counters, feed_last_error) and the transport's
 * counters. Valid until live_free. */
const feed *live_feed(const live *l);
const ws_client_stats *live_ws_stats(const live *l);
const live_stats *live_get_stats(const live *l);
/* 1 when a connection is open and every symbol's book is synced (feed_synced). */
int live_synced(const live *l);
/* The WebSocket URL the session connects to. */
const char *live_url(const live *l);
/* The last failure of the session itself (a fatal feed error, a failed snapshot), "" if none. */
const char *live_error(const live *l);

#endif
