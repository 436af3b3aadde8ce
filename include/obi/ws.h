/* ws.h — the transport of the live feeds: a WebSocket client and a small HTTP GET, on
 * libwebsockets with TLS through OpenSSL.
 *
 * The client knows nothing of exchanges. It connects to one URL (ws:// or wss://; a Binance
 * combined-streams URL carries several streams on one connection), sends the configured
 * subscribe messages after every (re)connect, reassembles fragmented messages and hands each
 * complete message, with the time it was received, to a callback. It keeps the connection
 * alive (pings when the line is quiet; a connection that delivers neither data nor a pong
 * within the stall timeout is closed) and reconnects after every close or failure with
 * exponential backoff and full jitter. The protocol layer (Binance/Coinbase sync) sits on top.
 *
 * Threading: a client is single-threaded. Everything happens inside ws_client_service(),
 * which the caller runs in its own loop; the callbacks are called from there. Separate
 * clients may live in separate threads.
 *
 * Time: receive times are CLOCK_REALTIME nanoseconds since the Unix epoch, taken when the
 * last fragment of a message has been read; they strictly increase within a client (a
 * message completed in the same nanosecond as the previous one, or while the wall clock
 * stepped back, gets the previous time + 1 ns). Timers (ping, stall, backoff) use the
 * monotonic clock. See docs/ws.md. */
#ifndef OBI_WS_H
#define OBI_WS_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

typedef struct ws_client ws_client;

typedef enum {
  WS_CONNECTING = 1, /* a connection attempt has started (TCP, TLS, upgrade) */
  WS_OPEN,           /* the upgrade succeeded; subscribe messages are being sent */
  WS_CLOSED,         /* the connection closed or the attempt failed; reason says why */
  WS_BACKOFF         /* waiting before the next attempt; ws_client_stats_get()->last_backoff_ms: how long */
} ws_state;

/* TLS settings, shared by the WebSocket client and ws_http_get. The system's CA store is
 * always trusted; ca_file adds a PEM file of further CAs (a self-signed test certificate).
 * insecure_loopback skips certificate verification, and is refused (OBI_EINVAL) unless the
 * host is 127.x.x.x, ::1 or localhost: it exists for tests only. */
typedef struct {
  const char *ca_file;
  int insecure_loopback;
} ws_tls;

typedef struct {
  const char *url; /* ws://host[:port]/path?query or wss://...; copied */
  ws_tls tls;
  /* Text messages sent, in this order, after every successful connect (copied). */
  const char *const *subscribe;
  size_t n_subscribe;

  /* A complete message. text is NOT NUL-terminated and is valid only during the call.
   * Binary messages are delivered the same way. */
  void (*on_message)(void *ctx, int64_t recv_ns, const char *text, size_t len);
  /* A state change; reason is a short English phrase (never NULL, may be ""). Optional. */
  void (*on_state)(void *ctx, ws_state state, const char *reason);
  /* A text message has been written to the socket (subscribe messages and ws_client_send),
   * with the CLOCK_REALTIME time of the write: recorders log what was sent. Optional. */
  void (*on_send)(void *ctx, int64_t sent_ns, const char *text, size_t len);
  void *ctx;

  /* Limits and timers; 0 selects the default in brackets. */
  size_t max_message;     /* [16 MiB] larger messages close the connection (status 1009) */
  int ping_interval_ms;   /* [10000] ping after this long without receiving anything */
  int stall_timeout_ms;   /* [30000] close when nothing (data or pong) arrived this long */
  int connect_timeout_ms; /* [10000] TCP + TLS + upgrade must finish within this */
  int backoff_base_ms;    /* [250] see ws_backoff_ms */
  int backoff_max_ms;     /* [30000] cap of the backoff window */
  int backoff_reset_ms;   /* [60000] a connection that stayed open this long resets the attempt count */
  uint64_t seed;          /* [from the clock and pid] of the jitter generator; set it in tests */
} ws_config;

typedef struct {
  uint64_t connect_attempts; /* connections started (the first one included) */
  uint64_t connects;         /* upgrades that succeeded */
  uint64_t closes;           /* open connections that ended, for any reason */
  uint64_t failures;         /* attempts that never opened */
  uint64_t messages;         /* complete messages delivered */
  uint64_t bytes;            /* their payload bytes */
  uint64_t fragments;        /* frames and partial reads that were joined into messages */
  uint64_t pings_sent, pongs_received;
  uint64_t stalls;     /* connections closed by the stall timeout */
  uint64_t oversize;   /* connections closed because a message exceeded max_message */
  uint64_t sent;       /* text messages written (subscribe messages included) */
  int attempt;         /* failed attempts since the last stable connection */
  int last_backoff_ms; /* the most recent backoff delay drawn */
} ws_client_stats;

/* Creates a client for cfg (validated and copied: cfg and its strings need not outlive the
 * call) and starts the first connection attempt; nothing happens until ws_client_service.
 * OBI_EINVAL for a URL that is not ws:// or wss://host[:port][/path], for insecure_loopback
 * with a non-loopback host, or for negative limits; OBI_EIO when libwebsockets or OpenSSL
 * cannot be set up (an unreadable ca_file included); OBI_ENOMEM. On failure *out is NULL. */
obi_err ws_client_new(ws_client **out, const ws_config *cfg);

/* Waits at most timeout_ms (0: do not wait) for network events and timers and handles them,
 * calling the callbacks; returns after the first round of events. OBI_OK while the client
 * runs, OBI_EEOF once it has stopped (after ws_client_request_close, when the close has
 * completed), OBI_EIO when libwebsockets fails. */
obi_err ws_client_service(ws_client *c, int timeout_ms);

/* Queues a text message for the current connection (copied). OBI_EINVAL when no connection
 * is open: messages are not kept across reconnects (the subscribe messages are). */
obi_err ws_client_send(ws_client *c, const char *text, size_t len);

/* Closes the current connection (or cancels the wait) and connects again at once, counting
 * it as a failure only if the connection was not stable; reason reaches on_state. For a
 * protocol layer that needs a fresh subscription. */
void ws_client_reconnect(ws_client *c, const char *reason);

/* Starts a clean close (close frame, status 1000) with no reconnect; ws_client_service
 * returns OBI_EEOF once the connection is gone. */
void ws_client_request_close(ws_client *c);

/* The URL the client connects to (its copy) and its counters. */
const char *ws_client_url(const ws_client *c);
const ws_client_stats *ws_client_stats_get(const ws_client *c);

/* Closes any connection at once and frees everything; pending ws_client_http_get requests end
 * without their callbacks. Not from inside a callback. Accepts NULL. */
void ws_client_free(ws_client *c);

/* The backoff delay before attempt number `attempt` (1 for the first retry), in ms, with
 * "full jitter" (Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015):
 * uniform in [0, min(max_ms, base_ms * 2^(attempt-1))]. *rng is the generator's state
 * (splitmix64), advanced by one step. The client uses exactly this function. */
int ws_backoff_ms(uint64_t *rng, int attempt, int base_ms, int max_ms);

/* A parsed ws://, wss://, http:// or https:// URL. */
typedef struct {
  int tls;         /* wss or https */
  int port;        /* explicit, or 80/443 */
  char host[256];  /* without brackets for IPv6 literals */
  char path[4096]; /* path and query, "/" when absent */
} ws_url;

/* Parses url; OBI_EINVAL for another scheme, an empty host, a bad port or a part too long. */
obi_err ws_url_parse(ws_url *out, const char *url);

/* One HTTP response. body is malloc'd and NUL-terminated (len excludes the NUL); free it
 * with ws_http_response_free. */
typedef struct {
  int status; /* HTTP status, 0 when no response header arrived */
  char *body;
  size_t len;
  int64_t recv_ns; /* CLOCK_REALTIME when the body was complete */
  char error[256]; /* why the request failed, "" on success */
} ws_http_response;

/* GET url (http:// or https://, TLS as for the client) and wait for the whole body, at most
 * timeout_ms in all. Returns OBI_OK when a complete response arrived, whatever its status
 * (the caller checks out->status); OBI_EIO for a connection or TLS failure, a timeout or a
 * body longer than max_body (0: 64 MiB), with out->error saying which; OBI_EINVAL for a bad
 * URL. A blocking call with its own event loop: inside a running client use
 * ws_client_http_get so that messages keep their receive times. */
obi_err ws_http_get(const char *url, const ws_tls *tls, int timeout_ms, size_t max_body, ws_http_response *out);

/* The same GET inside the client's event loop (TLS settings of the client): done is called
 * from ws_client_service with the response (the callee takes nothing: the response is freed
 * after the call) and err as ws_http_get would return. The request is independent of the
 * WebSocket connection and survives its reconnects. OBI_EINVAL for a bad URL, OBI_ENOMEM. */
obi_err ws_client_http_get(ws_client *c, const char *url, int timeout_ms, size_t max_body,
                           void (*done)(void *ctx, obi_err err, const ws_http_response *resp), void *ctx);

/* Frees resp->body and clears it. Accepts NULL. */
void ws_http_response_free(ws_http_response *resp);

/* CLOCK_REALTIME in nanoseconds since the Unix epoch. */
int64_t ws_now_ns(void);

#endif
