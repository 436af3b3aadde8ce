/* ws_server.c — the loopback WebSocket + HTTP test server (see ws_server.h).
 *
 * The libwebsockets context lives in a thread of its own; every lws call on it is made from
 * that thread, except lws_cancel_service, which is how the test's thread wakes it after
 * changing the shared state (script, routes, settings) under the mutex. The server thread
 * also takes the mutex inside its callbacks, so the state is never read half-written.
 *
 * Faults that change what is sent (drop, duplicate, reorder) are applied when the test pushes
 * the messages, so the queue only holds steps to take in order: send, skip (a dropped message,
 * counted when reached), disconnect, close, stall, pause. Only the newest WebSocket connection
 * takes steps; a step is consumed once, so a disconnect mid-stream resumes where it left off.
 *
 * The market (ws_server_market) adds steps that carry an event of a symbol (ord: its number,
 * 1-based, in the order the events were generated) and the books they change. `reached`
 * counts, per symbol, the events the script has taken; as a reordered message may be sent
 * after a later one, it is the highest ord taken, and the book as of k events is always the
 * initial book plus events 1..k in generation order. Gates and waits are steps that hold the
 * stream until a depth snapshot was served or the client sent enough messages. Messages of
 * Coinbase Advanced carry the connection's sequence_num and Coinbase snapshots the book of the
 * moment, so they are written when sent ("dynamic" steps). */
#include "ws_server.h"

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STEP_SEND, STEP_SKIP, STEP_DISCONNECT, STEP_CLOSE, STEP_STALL, STEP_PAUSE, STEP_MARKET, STEP_GATE, STEP_WAIT };

/* Messages written when sent (see the file comment). */
enum { DYN_NONE, DYN_CB_SNAPSHOT, DYN_ADV_UPDATE, DYN_ADV_SNAPSHOT, DYN_ADV_HEARTBEAT, DYN_ADV_TRADE };

typedef struct {
  int kind, ms; /* ms: the pause; STEP_WAIT: the messages to wait for */
  char *text;
  size_t len, frag;
  int sym, ord; /* a market event: its symbol and number (ord 0: none) */
  int dyn;      /* DYN_* */
  int released; /* STEP_GATE: a snapshot was served for it */
} step;

typedef struct {
  unsigned char idx; /* price: 100.00 + idx * 0.01 */
  int size;          /* lots of 0.001; 0 removes the level */
} mchange;

typedef struct {
  long long U, u, pu;
  int n;
  mchange c[4];
} mevent;

typedef struct {
  char name[32], lower[32];
  int init[WS_MARKET_LEVELS];
  mevent *ev;
  int nev, capev;
  int reached;    /* events the script has taken */
  int stale_next; /* the next snapshot lags this many events */
} msym;

typedef struct {
  char prefix[256];
  char *body;
  int status, delay_ms;
} route;

struct ws_server {
  struct lws_context *ctx;
  int port;
  pthread_t thread;
  atomic_int quit;
  pthread_mutex_t mu;
  /* shared with the test's thread (under mu) */
  step *steps;
  size_t head, n, cap;
  int pace_ms, wait_sub, reject_left;
  int drop_next, dup_next, reorder_next, truncate_next, holding;
  step held;
  route routes[16];
  int n_routes;
  ws_server_counts counts;
  char **received;
  size_t n_received, cap_received;
  char ws_uri[2048], http_uri[2048];
  /* the market */
  int venue, nmsym;
  msym msyms[WS_MARKET_MAX_SYMBOLS];
  uint64_t rng;
  int snap_delay_ms, snapshots_served;
  int snap_fail[8], n_snap_fail; /* statuses of the next depth answers that fail */
  long long trade_id, heartbeat_counter;
  /* the server thread's own */
  struct lws *conn;
  int conn_subs, stalled, pausing;
  long long conn_seq; /* Coinbase Advanced: sequence_num of the next message on this connection */
  size_t frag_off;
  lws_sorted_usec_list_t sul_pace;
  char *rx;
  size_t rx_len;
  SSL_CTX *client_ssl_ctx;
};

typedef struct { /* per HTTP request */
  lws_sorted_usec_list_t sul;
  struct lws *wsi;
  int route, body_ready;
  char *body; /* a market depth answer (else the route's body) */
  size_t len;
  int gate; /* 1 + the index of the gate step the answer opens, 0: none */
} http_pss;

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) abort();
  return p;
}

static char *xstrndup(const char *s, size_t n) {
  char *d = xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

static void add_step(ws_server *s, step st) {
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 64;
    s->steps = realloc(s->steps, s->cap * sizeof *s->steps);
    if (!s->steps) abort();
  }
  s->steps[s->n++] = st;
}

static void wake(ws_server *s) { lws_cancel_service(s->ctx); }

/* Appends a message step, applying the faults set for the next message; called with mu held. */
static void push_step(ws_server *s, step st) {
  if (s->truncate_next && st.text) {
    s->truncate_next = 0;
    st.len /= 2;
    st.text[st.len] = 0;
  }
  if (s->drop_next) {
    s->drop_next = 0;
    st.kind = STEP_SKIP;
    add_step(s, st);
  } else if (s->dup_next) {
    s->dup_next = 0;
    step copy = st;
    copy.text = st.text ? xstrndup(st.text, st.len) : NULL;
    add_step(s, st);
    add_step(s, copy);
  } else if (s->reorder_next) { /* hold the first, send it after the second */
    s->reorder_next = 0;
    s->held = st;
    s->holding = 1;
  } else {
    add_step(s, st);
    if (s->holding) {
      s->holding = 0;
      add_step(s, s->held);
    }
  }
}

void ws_server_push(ws_server *s, const char *text, size_t frag) {
  size_t len = strlen(text);
  pthread_mutex_lock(&s->mu);
  push_step(s, (step){STEP_SEND, 0, xstrndup(text, len), len, frag, 0, 0, 0, 0});
  pthread_mutex_unlock(&s->mu);
  wake(s);
}

void ws_server_fault(ws_server *s, ws_fault f) {
  if (f == WS_FAULT_MALFORMED) {
    ws_server_push(s, WS_SERVER_MALFORMED, 0);
    return;
  }
  pthread_mutex_lock(&s->mu);
  step st = {0};
  switch (f) {
  case WS_FAULT_DROP: s->drop_next = 1; break;
  case WS_FAULT_DUPLICATE: s->dup_next = 1; break;
  case WS_FAULT_REORDER: s->reorder_next = 1; break;
  case WS_FAULT_TRUNCATE: s->truncate_next = 1; break;
  case WS_FAULT_DISCONNECT: st.kind = STEP_DISCONNECT, add_step(s, st); break;
  case WS_FAULT_CLOSE: st.kind = STEP_CLOSE, add_step(s, st); break;
  case WS_FAULT_STALL: st.kind = STEP_STALL, add_step(s, st); break;
  default: break;
  }
  pthread_mutex_unlock(&s->mu);
  wake(s);
}

void ws_server_pause(ws_server *s, int ms) {
  pthread_mutex_lock(&s->mu);
  add_step(s, (step){STEP_PAUSE, ms, NULL, 0, 0, 0, 0, 0, 0});
  pthread_mutex_unlock(&s->mu);
  wake(s);
}

void ws_server_pace(ws_server *s, int interval_ms) {
  pthread_mutex_lock(&s->mu);
  s->pace_ms = interval_ms;
  pthread_mutex_unlock(&s->mu);
}

void ws_server_wait_subscribe(ws_server *s, int n) {
  pthread_mutex_lock(&s->mu);
  s->wait_sub = n;
  pthread_mutex_unlock(&s->mu);
}

void ws_server_reject(ws_server *s, int n) {
  pthread_mutex_lock(&s->mu);
  s->reject_left = n;
  pthread_mutex_unlock(&s->mu);
}

int ws_server_pending(ws_server *s) {
  pthread_mutex_lock(&s->mu);
  int n = (int)(s->n - s->head);
  pthread_mutex_unlock(&s->mu);
  return n;
}

void ws_server_route(ws_server *s, const char *prefix, int status, const char *body, int delay_ms) {
  pthread_mutex_lock(&s->mu);
  if (s->n_routes < 16) {
    route *r = &s->routes[s->n_routes++];
    snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
    r->body = xstrndup(body, strlen(body));
    r->status = status;
    r->delay_ms = delay_ms;
  }
  pthread_mutex_unlock(&s->mu);
}

ws_server_counts ws_server_get_counts(ws_server *s) {
  pthread_mutex_lock(&s->mu);
  ws_server_counts c = s->counts;
  pthread_mutex_unlock(&s->mu);
  return c;
}

int ws_server_received_text(ws_server *s, int i, char *buf, size_t cap) {
  pthread_mutex_lock(&s->mu);
  int ok = i >= 0 && (size_t)i < s->n_received;
  if (ok) snprintf(buf, cap, "%s", s->received[i]);
  pthread_mutex_unlock(&s->mu);
  return ok ? 0 : -1;
}

void ws_server_last_ws_uri(ws_server *s, char *buf, size_t cap) {
  pthread_mutex_lock(&s->mu);
  snprintf(buf, cap, "%s", s->ws_uri);
  pthread_mutex_unlock(&s->mu);
}

void ws_server_last_http_uri(ws_server *s, char *buf, size_t cap) {
  pthread_mutex_lock(&s->mu);
  snprintf(buf, cap, "%s", s->http_uri);
  pthread_mutex_unlock(&s->mu);
}

/* ---- the server thread ---- */

/* The path and the query, its arguments joined again with '&' (lws keeps them apart). */
static void copy_uri(struct lws *wsi, char *dst, size_t cap) {
  char path[1024] = "", arg[1024];
  lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
  size_t n = (size_t)snprintf(dst, cap, "%s", path);
  for (int i = 0; n < cap && lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++)
    n += (size_t)snprintf(dst + n, cap - n, "%c%s", i ? '&' : '?', arg);
}

static void pace_cb(lws_sorted_usec_list_t *sul) {
  ws_server *s = lws_container_of(sul, ws_server, sul_pace);
  s->pausing = 0;
  if (s->conn) lws_callback_on_writable(s->conn);
}

static void free_step(step *st) {
  free(st->text);
  st->text = NULL;
}

static void render_dynamic(ws_server *s, step *st);

/* A step of the script was taken: the event it carries is now part of the true book. */
static void reach(ws_server *s, const step *st) {
  if (st->ord > 0 && st->ord > s->msyms[st->sym].reached) s->msyms[st->sym].reached = st->ord;
}

/* Takes the next step on the current connection; called with mu held. */
static int ws_writeable(ws_server *s, struct lws *wsi) {
  if (wsi != s->conn || s->stalled || s->pausing || s->conn_subs < s->wait_sub) return 0;
  for (; s->head < s->n; s->head++) { /* the steps that send nothing */
    step *st = &s->steps[s->head];
    if (st->kind == STEP_SKIP) {
      s->counts.dropped++;
      if (st->dyn >= DYN_ADV_UPDATE) s->conn_seq++; /* a lost message had its number */
    } else if (st->kind == STEP_GATE) {
      if (!st->released) return 0; /* until the snapshot is served (http_body wakes us) */
    } else if (st->kind == STEP_WAIT) {
      if (s->conn_subs < st->ms) return 0; /* until the client sent enough (LWS_CALLBACK_RECEIVE) */
    } else if (st->kind != STEP_MARKET) {
      break;
    }
    reach(s, st);
    free_step(st);
  }
  if (s->head == s->n) return 0;
  step *st = &s->steps[s->head];
  switch (st->kind) {
  case STEP_SEND: {
    if (s->frag_off == 0 && st->dyn) render_dynamic(s, st);
    size_t off = s->frag_off, chunk = st->len - off;
    if (st->frag && chunk > st->frag) chunk = st->frag;
    int first = off == 0, last = off + chunk == st->len;
    int flags = first ? LWS_WRITE_TEXT : LWS_WRITE_CONTINUATION;
    if (!last) flags |= LWS_WRITE_NO_FIN;
    unsigned char *buf = xmalloc(LWS_PRE + chunk);
    memcpy(buf + LWS_PRE, st->text + off, chunk);
    int n = lws_write(wsi, buf + LWS_PRE, chunk, (enum lws_write_protocol)flags);
    free(buf);
    if (n < (int)chunk) return -1;
    if (!last) {
      s->frag_off += chunk;
      lws_callback_on_writable(wsi);
      return 0;
    }
    s->frag_off = 0;
    s->counts.sent++;
    reach(s, st);
    free_step(st);
    s->head++;
    if (s->pace_ms > 0) {
      s->pausing = 1;
      lws_sul_schedule(s->ctx, 0, &s->sul_pace, pace_cb, (lws_usec_t)s->pace_ms * 1000);
    } else {
      lws_callback_on_writable(wsi);
    }
    return 0;
  }
  case STEP_DISCONNECT: /* this connection takes no further steps, even while lws closes it */
    s->head++;
    s->conn = NULL;
    return -1;
  case STEP_CLOSE: {
    s->head++;
    s->conn = NULL;
    static const char why[] = "going away";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)why, sizeof why - 1);
    return -1;
  }
  case STEP_STALL:
    s->head++;
    s->stalled = 1;
    lws_rx_flow_control(wsi, 0);
    return 0;
  case STEP_PAUSE:
    s->head++;
    s->pausing = 1;
    lws_sul_schedule(s->ctx, 0, &s->sul_pace, pace_cb, (lws_usec_t)st->ms * 1000);
    return 0;
  default: return 0;
  }
}

static void http_body_cb(lws_sorted_usec_list_t *sul) {
  http_pss *p = lws_container_of(sul, http_pss, sul);
  p->body_ready = 1;
  lws_callback_on_writable(p->wsi);
}

static int market_depth(ws_server *s, http_pss *pss, struct lws *wsi);

static int http_request(ws_server *s, http_pss *pss, struct lws *wsi, const char *path) {
  unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
  pthread_mutex_lock(&s->mu);
  copy_uri(wsi, s->http_uri, sizeof s->http_uri);
  free(pss->body);
  pss->body = NULL;
  pss->gate = 0;
  const char *depth = s->venue == WS_MARKET_BINANCE_SPOT ? "/api/v3/depth" : "/fapi/v1/depth";
  if (s->nmsym && s->venue <= WS_MARKET_BINANCE_FUTURES && !strcmp(path, depth))
    return market_depth(s, pss, wsi); /* unlocks */
  int found = -1;
  for (int i = 0; i < s->n_routes && found < 0; i++)
    if (!strncmp(path, s->routes[i].prefix, strlen(s->routes[i].prefix))) found = i;
  if (found < 0) {
    pthread_mutex_unlock(&s->mu);
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  route *r = &s->routes[found];
  int delay = r->delay_ms;
  if (lws_add_http_common_headers(wsi, (unsigned)r->status, "application/json", strlen(r->body), &p, end) ||
      lws_finalize_write_http_header(wsi, start, &p, end)) {
    pthread_mutex_unlock(&s->mu);
    return -1;
  }
  pthread_mutex_unlock(&s->mu);
  pss->wsi = wsi;
  pss->route = found;
  if (delay > 0)
    lws_sul_schedule(s->ctx, 0, &pss->sul, http_body_cb, (lws_usec_t)delay * 1000);
  else {
    pss->body_ready = 1;
    lws_callback_on_writable(wsi);
  }
  return 0;
}

static int http_body(ws_server *s, http_pss *pss, struct lws *wsi) {
  if (!pss->body_ready) return 0;
  pss->body_ready = 0;
  pthread_mutex_lock(&s->mu);
  const char *body = pss->body ? pss->body : s->routes[pss->route].body;
  size_t len = pss->body ? pss->len : strlen(body);
  unsigned char *buf = xmalloc(LWS_PRE + len);
  memcpy(buf + LWS_PRE, body, len);
  s->counts.http_requests++;
  free(pss->body);
  pss->body = NULL;
  if (pss->gate) { /* the stream goes on past the gate once the snapshot is out */
    s->steps[pss->gate - 1].released = 1;
    pss->gate = 0;
    if (s->conn) lws_callback_on_writable(s->conn);
  }
  pthread_mutex_unlock(&s->mu);
  int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
  free(buf);
  if (n < (int)len) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  ws_server *s = lws_context_user(lws_get_context(wsi));
  http_pss *pss = user;
  int rc = 0;
  switch (reason) {
  case LWS_CALLBACK_HTTP: return http_request(s, pss, wsi, in);
  case LWS_CALLBACK_HTTP_WRITEABLE: return http_body(s, pss, wsi);
  case LWS_CALLBACK_CLOSED_HTTP:
    if (pss) {
      lws_sul_cancel(&pss->sul);
      free(pss->body);
      pss->body = NULL;
    }
    return 0;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    pthread_mutex_lock(&s->mu);
    if (s->reject_left > 0) {
      s->reject_left--;
      s->counts.rejected++;
      rc = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
  case LWS_CALLBACK_ESTABLISHED:
    pthread_mutex_lock(&s->mu);
    s->conn = wsi;
    s->conn_subs = s->stalled = s->pausing = 0;
    s->conn_seq = 0;
    s->frag_off = s->rx_len = 0;
    lws_sul_cancel(&s->sul_pace);
    s->counts.connections++;
    copy_uri(wsi, s->ws_uri, sizeof s->ws_uri);
    pthread_mutex_unlock(&s->mu);
    lws_callback_on_writable(wsi);
    return 0;
  case LWS_CALLBACK_RECEIVE:
    pthread_mutex_lock(&s->mu);
    s->rx = realloc(s->rx, s->rx_len + len + 1);
    if (!s->rx) abort();
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (lws_is_final_fragment(wsi)) {
      if (s->n_received == s->cap_received) {
        s->cap_received = s->cap_received ? 2 * s->cap_received : 16;
        s->received = realloc(s->received, s->cap_received * sizeof *s->received);
        if (!s->received) abort();
      }
      s->received[s->n_received++] = xstrndup(s->rx, s->rx_len);
      s->rx_len = 0;
      s->counts.received++;
      if (wsi == s->conn) { /* a wait for subscriptions may be over */
        s->conn_subs++;
        lws_callback_on_writable(wsi);
      }
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    pthread_mutex_lock(&s->mu);
    rc = ws_writeable(s, wsi);
    pthread_mutex_unlock(&s->mu);
    return rc;
  case LWS_CALLBACK_CLOSED:
    pthread_mutex_lock(&s->mu);
    s->counts.closed++;
    if (wsi == s->conn) {
      s->conn = NULL;
      s->stalled = s->pausing = 0;
      s->frag_off = 0;
      lws_sul_cancel(&s->sul_pace);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
  case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
    if (!s) return 0;
    pthread_mutex_lock(&s->mu);
    if (s->conn && !s->stalled && !s->pausing) lws_callback_on_writable(s->conn);
    pthread_mutex_unlock(&s->mu);
    return 0;
  default: return 0;
  }
}

static const struct lws_protocols server_protocols[] = {
    {"obi-test", server_callback, sizeof(http_pss), 65536, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

static void *server_main(void *arg) {
  ws_server *s = arg;
  while (!atomic_load(&s->quit))
    if (lws_service(s->ctx, 0) < 0) break;
  return NULL;
}

int ws_server_start(ws_server **out, const char *cert_file, const char *key_file) {
  *out = NULL;
  ws_server *s = calloc(1, sizeof *s);
  if (!s) return -1;
  pthread_mutex_init(&s->mu, NULL);
  const char *env = getenv("OBI_LWS_LOG"); /* lws's log bits, as in src/feed/ws.c */
  lws_set_log_level(env ? atoi(env) : 0, NULL);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  /* OpenSSL only for a TLS server; and the vhost's client SSL_CTX (it makes no client
   * connections) is ours: the one lws 4.1 makes itself is not freed when the context is
   * destroyed after connections were served (LeakSanitizer reports it). */
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | (cert_file ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
  if (cert_file && !(s->client_ssl_ctx = SSL_CTX_new(TLS_client_method()))) goto fail;
  info.user = s;
  info.fd_limit_per_thread = 4096;
  s->ctx = lws_create_context(&info);
  if (!s->ctx) goto fail;
  info.port = 0;
  info.iface = "127.0.0.1";
  info.protocols = server_protocols;
  info.vhost_name = "obi-test";
  info.ssl_cert_filepath = cert_file;
  info.ssl_private_key_filepath = key_file;
  info.provided_client_ssl_ctx = s->client_ssl_ctx;
  struct lws_vhost *vh = lws_create_vhost(s->ctx, &info);
  if (!vh) goto fail;
  s->port = lws_get_vhost_listen_port(vh);
  if (s->port <= 0 || pthread_create(&s->thread, NULL, server_main, s)) goto fail;
  *out = s;
  return 0;
fail:
  if (s->ctx) lws_context_destroy(s->ctx);
  SSL_CTX_free(s->client_ssl_ctx);
  pthread_mutex_destroy(&s->mu);
  free(s);
  return -1;
}

int ws_server_port(const ws_server *s) { return s->port; }

void ws_server_stop(ws_server *s) {
  if (!s) return;
  atomic_store(&s->quit, 1);
  lws_cancel_service(s->ctx);
  pthread_join(s->thread, NULL);
  lws_context_destroy(s->ctx);
  SSL_CTX_free(s->client_ssl_ctx);
  for (size_t i = s->head; i < s->n; i++) free_step(&s->steps[i]);
  if (s->holding) free_step(&s->held);
  free(s->steps);
  for (int i = 0; i < s->n_routes; i++) free(s->routes[i].body);
  for (int i = 0; i < s->nmsym; i++) free(s->msyms[i].ev);
  for (size_t i = 0; i < s->n_received; i++) free(s->received[i]);
  free(s->received);
  free(s->rx);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* ---- the market ---- */

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int rnd(ws_server *s, int n) { return (int)(splitmix(&s->rng) % (uint64_t)n); }

static int is_binance_market(const ws_server *s) { return s->venue <= WS_MARKET_BINANCE_FUTURES; }

void ws_server_market(ws_server *s, int venue, const char *const *symbols, int n, uint64_t seed) {
  pthread_mutex_lock(&s->mu);
  s->venue = venue;
  s->rng = seed;
  s->nmsym = n < WS_MARKET_MAX_SYMBOLS ? n : WS_MARKET_MAX_SYMBOLS;
  for (int i = 0; i < s->nmsym; i++) {
    msym *m = &s->msyms[i];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", symbols[i]);
    for (size_t k = 0; m->name[k]; k++)
      m->lower[k] = (char)(m->name[k] >= 'A' && m->name[k] <= 'Z' ? m->name[k] + 32 : m->name[k]);
    for (int idx = 30; idx < 70; idx++) m->init[idx] = 1 + rnd(s, 9999); /* 20 bids, 20 asks */
  }
  pthread_mutex_unlock(&s->mu);
}

/* The book of m after its first k events. */
static void book_at(const msym *m, int k, int *book) {
  memcpy(book, m->init, sizeof m->init);
  for (int e = 0; e < k; e++)
    for (int i = 0; i < m->ev[e].n; i++) book[m->ev[e].c[i].idx] = m->ev[e].c[i].size;
}

static long long last_u(const msym *m) { return m->nev ? m->ev[m->nev - 1].u : WS_MARKET_FIRST_ID; }

/* Generates the next event of symbol sym; returns its number (1-based). Called with mu held. */
static int gen_event(ws_server *s, int sym) {
  msym *m = &s->msyms[sym];
  if (m->nev == m->capev) {
    m->capev = m->capev ? 2 * m->capev : 64;
    m->ev = realloc(m->ev, (size_t)m->capev * sizeof *m->ev);
    if (!m->ev) abort();
  }
  mevent e;
  memset(&e, 0, sizeof e);
  e.pu = last_u(m);
  e.U = e.pu + 1;
  e.u = e.U + rnd(s, 3);
  e.n = 1 + rnd(s, 4);
  for (int i = 0; i < e.n; i++) {
    int bid = rnd(s, 2);
    e.c[i].idx = (unsigned char)(bid ? 25 + rnd(s, 25) : 50 + rnd(s, 25));
    e.c[i].size = rnd(s, 4) == 0 ? 0 : 1 + rnd(s, 9999);
  }
  m->ev[m->nev++] = e;
  return m->nev;
}

/* Text building into a growing buffer. */
typedef struct {
  char *p;
  size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->n;
    int w = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
    va_end(ap);
    if (w < 0) abort();
    if ((size_t)w < room) {
      b->n += (size_t)w;
      return;
    }
    b->cap = b->cap ? 2 * b->cap + (size_t)w : 1024 + (size_t)w;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
}

/* A price and a size as the venue writes them: Binance spot with 8 decimals ("100.07000000",
 * "1.25000000"), the others with the grid's ("100.07", "1.250"). */
static void sb_price(sbuf *b, const ws_server *s, int idx) {
  int ticks = 10000 + idx;
  sb_printf(b, "\"%d.%02d%s\"", ticks / 100, ticks % 100, s->venue == WS_MARKET_BINANCE_SPOT ? "000000" : "");
}

static void sb_size(sbuf *b, const ws_server *s, int lots) {
  sb_printf(b, "\"%d.%03d%s\"", lots / 1000, lots % 1000, s->venue == WS_MARKET_BINANCE_SPOT ? "00000" : "");
}

/* [[price, size], ...] of one side of book, best first (Binance, Coinbase Exchange). */
static void sb_side_pairs(sbuf *b, const ws_server *s, const int *book, int bid) {
  sb_printf(b, "[");
  int first = 1;
  for (int k = 0; k < WS_MARKET_LEVELS / 2; k++) {
    int idx = bid ? WS_MARKET_LEVELS / 2 - 1 - k : WS_MARKET_LEVELS / 2 + k;
    if (!book[idx]) continue;
    sb_printf(b, "%s[", first ? "" : ",");
    sb_price(b, s, idx);
    sb_printf(b, ",");
    sb_size(b, s, book[idx]);
    sb_printf(b, "]");
    first = 0;
  }
  sb_printf(b, "]");
}

static const char *TIME = "2024-01-02T03:04:05.000000Z";

/* Advanced Trade: the l2_data updates of a book (snapshot) or an event. */
static void sb_adv_updates(sbuf *b, const ws_server *s, const int *book, const mevent *e) {
  sb_printf(b, "[");
  int n = 0;
  for (int idx = 0; idx < WS_MARKET_LEVELS; idx++) {
    int size = 0, present = 0;
    if (book) {
      size = book[idx], present = size > 0;
    } else {
      for (int i = 0; i < e->n; i++)
        if (e->c[i].idx == idx) size = e->c[i].size, present = 1; /* the last change of a level wins */
    }
    if (!present) continue;
    sb_printf(b, "%s{\"side\":\"%s\",\"event_time\":\"%s\",\"price_level\":", n++ ? "," : "",
              idx < WS_MARKET_LEVELS / 2 ? "bid" : "offer", TIME);
    sb_price(b, s, idx);
    sb_printf(b, ",\"new_quantity\":");
    sb_size(b, s, size);
    sb_printf(b, "}");
  }
  sb_printf(b, "]");
}

/* The message of event e of symbol sym (Binance, Coinbase Exchange). */
static char *render_event(ws_server *s, int sym, const mevent *e) {
  const msym *m = &s->msyms[sym];
  sbuf b = {0};
  if (is_binance_market(s)) {
    int fut = s->venue == WS_MARKET_BINANCE_FUTURES;
    sb_printf(&b, "{\"stream\":\"%s@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":%lld,", m->lower,
              1700000000000LL + e->u);
    if (fut) sb_printf(&b, "\"T\":%lld,", 1700000000000LL + e->u);
    sb_printf(&b, "\"s\":\"%s\",\"U\":%lld,\"u\":%lld,", m->name, e->U, e->u);
    if (fut) sb_printf(&b, "\"pu\":%lld,", e->pu);
    for (int side = 0; side < 2; side++) {
      sb_printf(&b, "\"%s\":[", side ? "a" : "b");
      int first = 1;
      for (int i = 0; i < e->n; i++) {
        if ((e->c[i].idx < WS_MARKET_LEVELS / 2) != (side == 0)) continue;
        sb_printf(&b, "%s[", first ? "" : ",");
        sb_price(&b, s, e->c[i].idx);
        sb_printf(&b, ",");
        sb_size(&b, s, e->c[i].size);
        sb_printf(&b, "]");
        first = 0;
      }
      sb_printf(&b, "]%s", side ? "}}" : ",");
    }
  } else {
    sb_printf(&b, "{\"type\":\"l2update\",\"product_id\":\"%s\",\"changes\":[", m->name);
    for (int i = 0; i < e->n; i++) {
      sb_printf(&b, "%s[\"%s\",", i ? "," : "", e->c[i].idx < WS_MARKET_LEVELS / 2 ? "buy" : "sell");
      sb_price(&b, s, e->c[i].idx);
      sb_printf(&b, ",");
      sb_size(&b, s, e->c[i].size);
      sb_printf(&b, "]");
    }
    sb_printf(&b, "],\"time\":\"%s\"}", TIME);
  }
  return b.p;
}

/* Writes a dynamic step's text as the script reaches it; called with mu held. */
static void render_dynamic(ws_server *s, step *st) {
  sbuf b = {0};
  const msym *m = &s->msyms[st->sym];
  int book[WS_MARKET_LEVELS];
  if (st->dyn == DYN_CB_SNAPSHOT) {
    book_at(m, m->reached, book);
    sb_printf(&b, "{\"type\":\"snapshot\",\"product_id\":\"%s\",\"bids\":", m->name);
    sb_side_pairs(&b, s, book, 1);
    sb_printf(&b, ",\"asks\":");
    sb_side_pairs(&b, s, book, 0);
    sb_printf(&b, "}");
  } else {
    const char *channel = st->dyn == DYN_ADV_HEARTBEAT ? "heartbeats"
                          : st->dyn == DYN_ADV_TRADE   ? "market_trades"
                                                       : "l2_data";
    sb_printf(&b, "{\"channel\":\"%s\",\"client_id\":\"\",\"timestamp\":\"%s\",\"sequence_num\":%lld,\"events\":[",
              channel, TIME, s->conn_seq++);
    if (st->dyn == DYN_ADV_HEARTBEAT) {
      sb_printf(&b, "{\"current_time\":\"%s\",\"heartbeat_counter\":%lld}", TIME, ++s->heartbeat_counter);
    } else if (st->dyn == DYN_ADV_TRADE) {
      sb_printf(&b,
                "{\"type\":\"update\",\"trades\":[{\"trade_id\":\"%lld\",\"product_id\":\"%s\",\"price\":\"100.50\","
                "\"size\":\"0.100\",\"side\":\"BUY\",\"time\":\"%s\"}]}",
                ++s->trade_id, m->name, TIME);
    } else {
      int snapshot = st->dyn == DYN_ADV_SNAPSHOT;
      if (snapshot) book_at(m, m->reached, book);
      sb_printf(&b, "{\"type\":\"%s\",\"product_id\":\"%s\",\"updates\":", snapshot ? "snapshot" : "update", m->name);
      sb_adv_updates(&b, s, snapshot ? book : NULL, snapshot ? NULL : &m->ev[st->ord - 1]);
      sb_printf(&b, "}");
    }
    sb_printf(&b, "]}");
  }
  free(st->text);
  st->text = b.p;
  st->len = b.n;
}

static void market_step(ws_server *s, step st) {
  pthread_mutex_lock(&s->mu);
  if (st.kind == STEP_SEND || st.kind == STEP_MARKET) {
    if (st.ord < 0) st.ord = gen_event(s, st.sym);
    if (st.kind == STEP_SEND && st.dyn == DYN_NONE) {
      st.text = render_event(s, st.sym, &s->msyms[st.sym].ev[st.ord - 1]);
      st.len = strlen(st.text);
    }
  }
  if (st.kind == STEP_SEND)
    push_step(s, st);
  else
    add_step(s, st);
  pthread_mutex_unlock(&s->mu);
  wake(s);
}

void ws_server_market_event(ws_server *s, int sym) {
  step st = {STEP_SEND, 0, NULL, 0, 0, sym, -1, s->venue == WS_MARKET_COINBASE_ADVANCED ? DYN_ADV_UPDATE : DYN_NONE, 0};
  market_step(s, st);
}

void ws_server_market_silent(ws_server *s, int sym) {
  market_step(s, (step){STEP_MARKET, 0, NULL, 0, 0, sym, -1, 0, 0});
}

void ws_server_market_gate(ws_server *s, int sym) { market_step(s, (step){STEP_GATE, 0, NULL, 0, 0, sym, 0, 0, 0}); }

void ws_server_wait_received(ws_server *s, int n) { market_step(s, (step){STEP_WAIT, n, NULL, 0, 0, 0, 0, 0, 0}); }

void ws_server_market_snapshot(ws_server *s, int sym) {
  int dyn = s->venue == WS_MARKET_COINBASE_ADVANCED ? DYN_ADV_SNAPSHOT : DYN_CB_SNAPSHOT;
  market_step(s, (step){STEP_SEND, 0, NULL, 0, 0, sym, 0, dyn, 0});
}

void ws_server_market_heartbeat(ws_server *s) {
  market_step(s, (step){STEP_SEND, 0, NULL, 0, 0, 0, 0, DYN_ADV_HEARTBEAT, 0});
}

void ws_server_market_trade(ws_server *s, int sym) {
  if (s->venue == WS_MARKET_COINBASE_ADVANCED) {
    market_step(s, (step){STEP_SEND, 0, NULL, 0, 0, sym, 0, DYN_ADV_TRADE, 0});
    return;
  }
  pthread_mutex_lock(&s->mu);
  const msym *m = &s->msyms[sym];
  long long id = ++s->trade_id;
  sbuf b = {0};
  if (s->venue == WS_MARKET_BINANCE_SPOT)
    sb_printf(&b,
              "{\"stream\":\"%s@trade\",\"data\":{\"e\":\"trade\",\"E\":1700000000000,\"s\":\"%s\",\"t\":%lld,"
              "\"p\":\"100.50000000\",\"q\":\"0.10000000\",\"T\":1700000000000,\"m\":%s,\"M\":true}}",
              m->lower, m->name, id, id % 2 ? "true" : "false");
  else if (s->venue == WS_MARKET_BINANCE_FUTURES)
    sb_printf(&b,
              "{\"stream\":\"%s@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1700000000000,\"s\":\"%s\",\"a\":%lld,"
              "\"p\":\"100.50\",\"q\":\"0.100\",\"f\":%lld,\"l\":%lld,\"T\":1700000000000,\"m\":%s}}",
              m->lower, m->name, id, id, id, id % 2 ? "true" : "false");
  else
    sb_printf(&b,
              "{\"type\":\"match\",\"trade_id\":%lld,\"maker_order_id\":\"m%lld\",\"taker_order_id\":\"t%lld\","
              "\"side\":\"sell\",\"size\":\"0.100\",\"price\":\"100.50\",\"product_id\":\"%s\",\"sequence\":%lld,"
              "\"time\":\"%s\"}",
              id, id, id, m->name, id, TIME);
  push_step(s, (step){STEP_SEND, 0, b.p, b.n, 0, sym, 0, DYN_NONE, 0});
  pthread_mutex_unlock(&s->mu);
  wake(s);
}

void ws_server_market_stale_snapshot(ws_server *s, int sym, int n) {
  pthread_mutex_lock(&s->mu);
  s->msyms[sym].stale_next = n;
  pthread_mutex_unlock(&s->mu);
}

void ws_server_market_snapshot_delay(ws_server *s, int ms) {
  pthread_mutex_lock(&s->mu);
  s->snap_delay_ms = ms;
  pthread_mutex_unlock(&s->mu);
}

void ws_server_market_snapshot_fail(ws_server *s, int status) {
  pthread_mutex_lock(&s->mu);
  if (s->n_snap_fail < 8) s->snap_fail[s->n_snap_fail++] = status;
  pthread_mutex_unlock(&s->mu);
}

int ws_server_market_book(ws_server *s, int sym, int side, long long *price, long long *size, int max) {
  pthread_mutex_lock(&s->mu);
  int book[WS_MARKET_LEVELS], n = 0;
  book_at(&s->msyms[sym], s->msyms[sym].nev, book);
  for (int k = 0; k < WS_MARKET_LEVELS / 2 && n < max; k++) {
    int idx = side == 0 ? WS_MARKET_LEVELS / 2 - 1 - k : WS_MARKET_LEVELS / 2 + k;
    if (!book[idx]) continue;
    price[n] = 10000 + idx;
    size[n++] = book[idx];
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}

int ws_server_market_snapshots(ws_server *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->snapshots_served;
  pthread_mutex_unlock(&s->mu);
  return n;
}

/* A Binance depth request (LWS_CALLBACK_HTTP), called with mu held; unlocks. The answer is
 * the book as of the first gate of the symbol still closed, or as of the steps taken so far
 * when there is none (see ws_server_market_gate), less a stale lag; a failure when asked. */
static int market_depth(ws_server *s, http_pss *pss, struct lws *wsi) {
  const char *q = strstr(s->http_uri, "symbol=");
  int sym = -1, status = 200;
  for (int i = 0; q && i < s->nmsym; i++) {
    size_t n = strlen(s->msyms[i].name);
    if (!strncmp(q + 7, s->msyms[i].name, n) && (q[7 + n] == 0 || q[7 + n] == '&')) sym = i;
  }
  sbuf b = {0};
  s->snapshots_served++;
  if (sym < 0) {
    status = 400;
    sb_printf(&b, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}");
  } else if (s->n_snap_fail > 0) {
    status = s->snap_fail[0];
    memmove(s->snap_fail, s->snap_fail + 1, (size_t)--s->n_snap_fail * sizeof *s->snap_fail);
    sb_printf(&b, status == 200 ? "{\"lastUpdateId\":1,\"bids\":[[\"100.00\","
                                : "{\"code\":-1003,\"msg\":\"Too many requests.\"}");
  } else {
    msym *m = &s->msyms[sym];
    int ord = m->reached, gate = -1;
    for (size_t i = s->head; i < s->n && gate < 0; i++)
      if (s->steps[i].kind == STEP_GATE && s->steps[i].sym == sym && !s->steps[i].released) gate = (int)i;
    for (int i = (int)s->head; i < gate; i++)
      if (s->steps[i].ord > ord && s->steps[i].sym == sym) ord = s->steps[i].ord;
    if (m->stale_next) { /* an old answer: lags, and opens nothing */
      ord = ord > m->stale_next ? ord - m->stale_next : 0;
      m->stale_next = 0;
      gate = -1;
    }
    int book[WS_MARKET_LEVELS];
    book_at(m, ord, book);
    long long lid = ord ? m->ev[ord - 1].u : WS_MARKET_FIRST_ID;
    sb_printf(&b, "{\"lastUpdateId\":%lld,", lid);
    if (s->venue == WS_MARKET_BINANCE_FUTURES) sb_printf(&b, "\"E\":1700000000000,\"T\":1700000000000,");
    sb_printf(&b, "\"bids\":");
    sb_side_pairs(&b, s, book, 1);
    sb_printf(&b, ",\"asks\":");
    sb_side_pairs(&b, s, book, 0);
    sb_printf(&b, "}");
    pss->gate = gate + 1;
  }
  int delay = s->snap_delay_ms;
  pss->body = b.p;
  pss->len = b.n;
  pthread_mutex_unlock(&s->mu);
  unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
  if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", pss->len, &p, end) ||
      lws_finalize_write_http_header(wsi, start, &p, end))
    return -1;
  pss->wsi = wsi;
  if (delay > 0) {
    lws_sul_schedule(s->ctx, 0, &pss->sul, http_body_cb, (lws_usec_t)delay * 1000);
  } else {
    pss->body_ready = 1;
    lws_callback_on_writable(wsi);
  }
  return 0;
}
