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
 * takes steps; a step is consumed once, so a disconnect mid-stream resumes where it left off. */
#include "ws_server.h"

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STEP_SEND, STEP_SKIP, STEP_DISCONNECT, STEP_CLOSE, STEP_STALL, STEP_PAUSE };

typedef struct {
  int kind, ms;
  char *text;
  size_t len, frag;
} step;

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
  int drop_next, dup_next, reorder_next, holding;
  step held;
  route routes[16];
  int n_routes;
  ws_server_counts counts;
  char **received;
  size_t n_received, cap_received;
  char ws_uri[2048], http_uri[2048];
  /* the server thread's own */
  struct lws *conn;
  int conn_subs, stalled, pausing;
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

void ws_server_push(ws_server *s, const char *text, size_t frag) {
  size_t len = strlen(text);
  pthread_mutex_lock(&s->mu);
  step st = {STEP_SEND, 0, xstrndup(text, len), len, frag};
  if (s->drop_next) {
    s->drop_next = 0;
    st.kind = STEP_SKIP;
    add_step(s, st);
  } else if (s->dup_next) {
    s->dup_next = 0;
    step copy = st;
    copy.text = xstrndup(text, len);
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
  pthread_mutex_unlock(&s->mu);
  wake(s);
}

void ws_server_fault(ws_server *s, ws_fault f) {
  if (f == WS_FAULT_MALFORMED) {
    ws_server_push(s, WS_SERVER_MALFORMED, 0);
    return;
  }
  pthread_mutex_lock(&s->mu);
  step st = {0, 0, NULL, 0, 0};
  switch (f) {
  case WS_FAULT_DROP: s->drop_next = 1; break;
  case WS_FAULT_DUPLICATE: s->dup_next = 1; break;
  case WS_FAULT_REORDER: s->reorder_next = 1; break;
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
  add_step(s, (step){STEP_PAUSE, ms, NULL, 0, 0});
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

static void free_step(step *st) { free(st->text); }

/* Takes the next step on the current connection; called with mu held. */
static int ws_writeable(ws_server *s, struct lws *wsi) {
  if (wsi != s->conn || s->stalled || s->pausing || s->conn_subs < s->wait_sub) return 0;
  while (s->head < s->n && s->steps[s->head].kind == STEP_SKIP) {
    s->counts.dropped++;
    free_step(&s->steps[s->head++]);
  }
  if (s->head == s->n) return 0;
  step *st = &s->steps[s->head];
  switch (st->kind) {
  case STEP_SEND: {
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

static int http_request(ws_server *s, http_pss *pss, struct lws *wsi, const char *path) {
  unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
  pthread_mutex_lock(&s->mu);
  copy_uri(wsi, s->http_uri, sizeof s->http_uri);
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
  route *r = &s->routes[pss->route];
  size_t len = strlen(r->body);
  unsigned char *buf = xmalloc(LWS_PRE + len);
  memcpy(buf + LWS_PRE, r->body, len);
  s->counts.http_requests++;
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
    if (pss) lws_sul_cancel(&pss->sul);
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
      if (wsi == s->conn && ++s->conn_subs == s->wait_sub) lws_callback_on_writable(wsi);
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
  for (size_t i = 0; i < s->n_received; i++) free(s->received[i]);
  free(s->received);
  free(s->rx);
  pthread_mutex_destroy(&s->mu);
  free(s);
}
