/* ws_server.h — a WebSocket + HTTP test server on 127.0.0.1 for the live-feed tests.
 *
 * It runs libwebsockets in a thread of its own, so a test drives the client in its own thread
 * (or runs `obi record` as a child) while the server answers. The WebSocket side replays a
 * script — a queue of steps shared by all connections, so that a disconnect mid-stream
 * resumes with the next step on the next connection — and injects faults on command. The
 * HTTP side answers GETs from a table of routes, each with an optional delay before the body.
 * Every function may be called from the test's thread at any time; the server wakes up and
 * acts. Connections and what clients sent are recorded for the test to check.
 *
 * A market (ws_server_market) makes the server an exchange: it holds the TRUE book of each
 * symbol, generates the venue's documented messages from it (Binance diff-depth events with
 * U/u and, for futures, pu; Coinbase Exchange snapshot/l2update; Advanced Trade l2_data with
 * sequence_num) and answers the Binance REST depth snapshot with the book and its
 * lastUpdateId. Each event changes the true book when the script reaches it, whether it is
 * sent, dropped by a fault or silent (the market moved while no client was listening), so a
 * snapshot shows what the exchange holds at that point of the script. */
#ifndef OBI_TEST_WS_SERVER_H
#define OBI_TEST_WS_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws_server ws_server;

typedef enum {
  WS_FAULT_DROP = 1,   /* the next message pushed is never sent (a gap) */
  WS_FAULT_DUPLICATE,  /* the next message pushed is sent twice */
  WS_FAULT_REORDER,    /* the next two messages pushed are sent in reverse order */
  WS_FAULT_DISCONNECT, /* drop the connection at this point (no close frame) */
  WS_FAULT_CLOSE,      /* close it cleanly at this point (status 1001, "going away") */
  WS_FAULT_STALL,      /* stop sending and stop reading (so pings go unanswered) on this connection */
  WS_FAULT_MALFORMED,  /* send WS_SERVER_MALFORMED, a truncated JSON object */
  WS_FAULT_TRUNCATE    /* the next message pushed is sent cut to half its length (no longer JSON) */
} ws_fault;

#define WS_SERVER_MALFORMED "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"U\":"

/* Starts a server on 127.0.0.1 and an ephemeral port; with cert_file and key_file (PEM) it
 * speaks TLS (wss://, https://). 0 on success. */
int ws_server_start(ws_server **out, const char *cert_file, const char *key_file);
int ws_server_port(const ws_server *s);
/* Stops the thread, closes everything, frees. Accepts NULL. */
void ws_server_stop(ws_server *s);

/* ---- the WebSocket script ---- */
/* Appends a text message; frag > 0 sends it in frames of frag bytes (continuation frames). */
void ws_server_push(ws_server *s, const char *text, size_t frag);
/* Appends a fault (see ws_fault). */
void ws_server_fault(ws_server *s, ws_fault f);
/* Appends a pause of ms before the next step. */
void ws_server_pause(ws_server *s, int ms);
/* Waits interval_ms between messages (0: as fast as the socket takes them). */
void ws_server_pace(ws_server *s, int interval_ms);
/* A new connection sends nothing until it has received n text messages (subscriptions). */
void ws_server_wait_subscribe(ws_server *s, int n);
/* The next n WebSocket upgrades are refused (the client sees a failed connection). */
void ws_server_reject(ws_server *s, int n);
/* Steps not yet taken. */
int ws_server_pending(ws_server *s);

/* ---- HTTP ---- */
/* GETs whose path starts with prefix get status and body, the body delay_ms after the header. */
void ws_server_route(ws_server *s, const char *prefix, int status, const char *body, int delay_ms);

/* ---- what happened ---- */
typedef struct {
  int connections;   /* upgrades accepted */
  int rejected;      /* upgrades refused */
  int closed;        /* WebSocket connections that ended */
  int sent;          /* messages sent (a duplicate counts twice) */
  int dropped;       /* messages dropped by WS_FAULT_DROP */
  int received;      /* text messages received from clients */
  int http_requests; /* GETs answered */
} ws_server_counts;
ws_server_counts ws_server_get_counts(ws_server *s);
/* Copies the i-th text a client sent (0-based, all connections) into buf; 0 if there is one. */
int ws_server_received_text(ws_server *s, int i, char *buf, size_t cap);
/* Copies the request URI (path and query) of the latest WebSocket connection / HTTP request. */
void ws_server_last_ws_uri(ws_server *s, char *buf, size_t cap);
void ws_server_last_http_uri(ws_server *s, char *buf, size_t cap);

/* ---- a market: true books that generate the venue's messages ---- */

/* In the order of feed_venue (include/obi/feed.h). */
typedef enum {
  WS_MARKET_BINANCE_SPOT = 0,
  WS_MARKET_BINANCE_FUTURES = 1,
  WS_MARKET_COINBASE_EXCHANGE = 2,
  WS_MARKET_COINBASE_ADVANCED = 3
} ws_market_venue;

/* Prices are a grid of 100 ticks of 0.01 from 100.00; bids live below 100.50, asks from it
 * up, so the book never crosses. Sizes are lots of 0.001. */
#define WS_MARKET_LEVELS 100
#define WS_MARKET_FIRST_ID 1000 /* Binance: the lastUpdateId of the initial book */
#define WS_MARKET_MAX_SYMBOLS 4

/* Makes the server a market of venue for n symbols (as the venue names them: "BTCUSDT",
 * "BTC-USD"); each starts with 20 levels a side drawn from seed. Binance depth requests
 * (/api/v3/depth, /fapi/v1/depth ?symbol=) are then answered from the true books. */
void ws_server_market(ws_server *s, int venue, const char *const *symbols, int n, uint64_t seed);
/* The next event of symbol sym (1 to 4 level changes, a removal among them now and then;
 * Binance: update ids U..u spanning 1 to 3, pu the previous u), pushed as a message:
 * faults set before (drop, duplicate, reorder, truncate) apply to it. */
void ws_server_market_event(ws_server *s, int sym);
/* An event that no client receives: the book changes when the script reaches this step
 * (e.g. while a client is disconnected). */
void ws_server_market_silent(ws_server *s, int sym);
/* A trade message of sym (Binance trade / aggTrade, Coinbase match / market_trades). */
void ws_server_market_trade(ws_server *s, int sym);
/* Coinbase: a snapshot message of sym's book as it is when the script reaches it. */
void ws_server_market_snapshot(ws_server *s, int sym);
/* Coinbase Advanced: a heartbeats message. */
void ws_server_market_heartbeat(ws_server *s);
/* Binance: the stream stops here until a depth snapshot of sym has been served, and that
 * snapshot is the book as of this point of the script (whether or not the events before
 * it have been sent yet). Makes a snapshot's place in the stream deterministic. */
void ws_server_market_gate(ws_server *s, int sym);
/* Binance: the next snapshot of sym is the book of n events earlier (a stale answer); it
 * opens no gate. */
void ws_server_market_stale_snapshot(ws_server *s, int sym, int n);
/* Binance: every depth answer waits ms before its body. */
void ws_server_market_snapshot_delay(ws_server *s, int ms);
/* Binance: the next depth request not yet given a failure fails: HTTP status (429, 503,
 * ...) with an error body, or with status 200 a body cut short (malformed JSON). Failures
 * are used in the order they were set (at most 8 pending); they open no gate. */
void ws_server_market_snapshot_fail(ws_server *s, int status);
/* The stream stops here until the current connection has received n text messages in all
 * (Coinbase Advanced: the resubscription after a sequence gap). */
void ws_server_wait_received(ws_server *s, int n);
/* The true book of sym after every event generated so far: up to max levels of side
 * (0 bids, 1 asks), best first, prices in ticks of 0.01 and sizes in lots of 0.001.
 * Returns the number of levels. */
int ws_server_market_book(ws_server *s, int sym, int side, long long *price, long long *size, int max);
/* Depth snapshots served (failed answers included). */
int ws_server_market_snapshots(ws_server *s);

#endif
