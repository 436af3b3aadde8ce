/* ws_server.h — a WebSocket + HTTP test server on 127.0.0.1 for the live-feed tests.
 *
 * It runs libwebsockets in a thread of its own, so a test drives the client in its own thread
 * (or runs `obi record` as a child) while the server answers. The WebSocket side replays a
 * script — a queue of steps shared by all connections, so that a disconnect mid-stream
 * resumes with the next step on the next connection — and injects faults on command. The
 * HTTP side answers GETs from a table of routes, each with an optional delay before the body.
 * Every function may be called from the test's thread at any time; the server wakes up and
 * acts. Connections and what clients sent are recorded for the test to check. */
#ifndef OBI_TEST_WS_SERVER_H
#define OBI_TEST_WS_SERVER_H

#include <stddef.h>

typedef struct ws_server ws_server;

typedef enum {
  WS_FAULT_DROP = 1,   /* the next message pushed is never sent (a gap) */
  WS_FAULT_DUPLICATE,  /* the next message pushed is sent twice */
  WS_FAULT_REORDER,    /* the next two messages pushed are sent in reverse order */
  WS_FAULT_DISCONNECT, /* drop the connection at this point (no close frame) */
  WS_FAULT_CLOSE,      /* close it cleanly at this point (status 1001, "going away") */
  WS_FAULT_STALL,      /* stop sending and stop reading (so pings go unanswered) on this connection */
  WS_FAULT_MALFORMED   /* send WS_SERVER_MALFORMED, a truncated JSON object */
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

#endif
