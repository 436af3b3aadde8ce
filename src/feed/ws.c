/* ws.c — the WebSocket client and HTTP GET of the live feeds, on libwebsockets (lws) 4.1.
 *
 * Each client owns one lws context (no listening socket), so its TLS settings and its event
 * loop are its own and nothing is shared between clients but lws's process-wide log level.
 * The context carries one protocol handler, ws_callback, for both kinds of connections the
 * client makes: the WebSocket and any HTTP GETs started with ws_client_http_get. Each
 * connection's opaque user data points at the object it belongs to, whose first field says
 * which kind it is; a connection whose object has gone (an HTTP request that timed out) has
 * its user data cleared, and its late callbacks are ignored.
 *
 * Invariants:
 * - c->wsi is the current WebSocket connection or NULL; every connection ends exactly once,
 *   in conn_ended(), reached from the first of CLIENT_CONNECTION_ERROR, CLIENT_CLOSED or
 *   WSI_DESTROY for that wsi; conn_ended() clears c->wsi so that the others do nothing.
 * - Outside a connection attempt or an open connection the client is either waiting in
 *   backoff (sul_retry scheduled) or stopped; never neither.
 * - The reassembly buffer holds the fragments of one message and never more than
 *   max_message bytes.
 * - Timers use lws's scheduler (lws_sul, monotonic microseconds); the stall clock counts only
 *   time spent inside ws_client_service (see ws_client_service). */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "obi/ws.h"

enum { KIND_CLIENT = 1, KIND_HTTP = 2 };
enum { ST_IDLE, ST_CONNECTING, ST_OPEN, ST_BACKOFF, ST_STOPPED };

#define MS ((lws_usec_t)1000) /* lws_usec_t (microseconds) per millisecond */

typedef struct out_msg {
  unsigned char *buf; /* LWS_PRE bytes of headroom, the text (masked in place when written), a copy */
  size_t len;
} out_msg;

typedef struct http_req {
  int kind; /* KIND_HTTP: first, as in ws_client */
  struct http_req *next;
  ws_client *client; /* NULL for the blocking ws_http_get */
  struct lws *wsi;
  lws_sorted_usec_list_t sul_timeout;
  ws_http_response resp;
  size_t cap, max_body;
  int timeout_ms, done, in_connect;
  obi_err err;
  void (*cb)(void *ctx, obi_err err, const ws_http_response *resp);
  void *ctx;
} http_req;

struct ws_client {
  int kind; /* KIND_CLIENT */
  ws_config cfg;
  char *url, *ca_file;
  ws_url u;
  char host_header[300];
  char **subs;
  size_t *sub_len;
  struct lws_context *context;
  struct lws *wsi;
  int state, stop_requested, reconnect_now, close_requested, ping_requested, destroying, in_connect;
  /* reassembly */
  char *msg;
  size_t msg_len, msg_cap;
  /* outgoing texts of the open connection */
  out_msg *outq;
  size_t out_head, out_n, out_cap;
  /* timers */
  lws_sorted_usec_list_t sul_keepalive, sul_retry, sul_wake, sul_connect;
  lws_usec_t last_rx, last_ping, opened_at, service_left;
  int64_t last_recv_ns;
  uint64_t rng;
  char close_reason[256];
  ws_client_stats st;
  http_req *http;
};

int64_t ws_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static lws_usec_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (lws_usec_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* splitmix64 (Steele, Lea, Flood 2014): one multiply-xorshift step per draw, good enough for
 * jitter and reproducible from a seed. */
static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int ws_backoff_ms(uint64_t *rng, int attempt, int base_ms, int max_ms) {
  if (attempt < 1) attempt = 1;
  if (base_ms < 0) base_ms = 0;
  if (max_ms < 0) max_ms = 0;
  int64_t window = base_ms;
  for (int i = 1; i < attempt && window < max_ms; i++) window *= 2;
  if (window > max_ms) window = max_ms;
  return (int)(splitmix64(rng) % (uint64_t)(window + 1));
}

/* ---- URLs ---- */

obi_err ws_url_parse(ws_url *out, const char *url) {
  memset(out, 0, sizeof *out);
  if (!url) return OBI_EINVAL;
  static const struct {
    const char *prefix;
    int tls, port;
  } schemes[] = {{"ws://", 0, 80}, {"wss://", 1, 443}, {"http://", 0, 80}, {"https://", 1, 443}};
  const char *p = NULL;
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
    if (!strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix))) {
      p = url + strlen(schemes[i].prefix);
      out->tls = schemes[i].tls, out->port = schemes[i].port;
      break;
    }
  if (!p) return OBI_EINVAL;
  const char *host = p, *host_end;
  if (*p == '[') { /* IPv6 literal */
    host = p + 1;
    host_end = strchr(host, ']');
    if (!host_end) return OBI_EINVAL;
    p = host_end + 1;
  } else {
    while (*p && *p != ':' && *p != '/' && *p != '?') p++;
    host_end = p;
  }
  size_t hl = (size_t)(host_end - host);
  if (hl == 0 || hl >= sizeof out->host) return OBI_EINVAL;
  memcpy(out->host, host, hl);
  out->host[hl] = 0;
  if (*p == ':') {
    long port = 0;
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9' && digits < 6; p++, digits++) port = port * 10 + (*p - '0');
    if (!digits || port < 1 || port > 65535) return OBI_EINVAL;
    out->port = (int)port;
  }
  if (*p && *p != '/' && *p != '?') return OBI_EINVAL;
  int n = snprintf(out->path, sizeof out->path, "%s%s", *p == '/' ? "" : "/", p);
  if (n < 0 || (size_t)n >= sizeof out->path) return OBI_EINVAL;
  return OBI_OK;
}

static int is_loopback(const char *host) {
  return !strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcmp(host, "localhost");
}

static void host_header(char *dst, size_t cap, const ws_url *u) {
  int v6 = strchr(u->host, ':') != NULL, dflt = u->port == (u->tls ? 443 : 80);
  if (dflt)
    snprintf(dst, cap, v6 ? "[%s]" : "%s", u->host);
  else
    snprintf(dst, cap, v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
}

static int ssl_flags(const ws_url *u, const ws_tls *tls) {
  if (!u->tls) return 0;
  int f = LCCSCF_USE_SSL;
  if (tls && tls->insecure_loopback)
    f |=
        LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
  return f;
}

/* ---- the lws context ---- */

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

static const struct lws_protocols protocols[] = {{"obi-ws", ws_callback, 0, 65536, 0, NULL, 0},
                                                 {NULL, NULL, 0, 0, 0, NULL, 0}};

/* lws only logs a CA file it cannot load and goes on without it: check first. */
static int ca_readable(const ws_tls *tls) {
  if (!tls || !tls->ca_file || !*tls->ca_file) return 1;
  FILE *f = fopen(tls->ca_file, "rb");
  if (f) fclose(f);
  return f != NULL;
}

static struct lws_context *make_context(const ws_tls *tls, int connect_timeout_ms) {
  /* lws logs to stderr through a process-wide setting; library code stays quiet unless the
   * user asks (OBI_LWS_LOG=<lws log bits>, e.g. 15 for errors to info). */
  const char *env = getenv("OBI_LWS_LOG");
  lws_set_log_level(env ? atoi(env) : 0, NULL);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.client_ssl_ca_filepath = tls && tls->ca_file && *tls->ca_file ? tls->ca_file : NULL;
  /* lws indexes connections by descriptor number: the default (the process's fd limit) would
   * allocate tables for a million descriptors. */
  info.fd_limit_per_thread = 4096;
  info.connect_timeout_secs = (unsigned)(connect_timeout_ms + 999) / 1000 + 1;
  info.timeout_secs = 30;
  return lws_create_context(&info);
}

/* ---- HTTP GET ---- */

/* Hands a finished client request to its callback and frees it (the blocking ws_http_get
 * reads the result itself). */
static void http_complete(http_req *r) {
  ws_client *c = r->client;
  if (!c) return;
  for (http_req **pp = &c->http; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  if (r->cb) r->cb(r->ctx, r->err, &r->resp);
  ws_http_response_free(&r->resp);
  free(r);
}

static void http_complete_cb(lws_sorted_usec_list_t *sul) {
  http_complete(lws_container_of(sul, http_req, sul_timeout));
}

static void http_finish(http_req *r, obi_err err, const char *why) {
  if (r->done) return;
  r->done = 1;
  r->err = err;
  if (why) snprintf(r->resp.error, sizeof r->resp.error, "%s", why);
  lws_sul_cancel(&r->sul_timeout);
  if (r->wsi) { /* the connection may outlive the request: cut it loose */
    lws_set_opaque_user_data(r->wsi, NULL);
    lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    r->wsi = NULL;
  }
  /* A failure inside lws_client_connect_via_info: the callback comes from the loop, never
   * from within ws_client_http_get. */
  if (r->in_connect && r->client)
    lws_sul_schedule(r->client->context, 0, &r->sul_timeout, http_complete_cb, 0);
  else
    http_complete(r);
}

static void http_timeout_cb(lws_sorted_usec_list_t *sul) {
  http_req *r = lws_container_of(sul, http_req, sul_timeout);
  char why[96];
  snprintf(why, sizeof why, "timed out after %d ms", r->timeout_ms);
  http_finish(r, OBI_EIO, why);
}

static int http_append(http_req *r, const char *data, size_t len) {
  if (r->resp.len + len > r->max_body) return -1;
  if (r->resp.len + len + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 65536;
    while (cap < r->resp.len + len + 1) cap *= 2;
    char *b = realloc(r->resp.body, cap);
    if (!b) return -1;
    r->resp.body = b, r->cap = cap;
  }
  memcpy(r->resp.body + r->resp.len, data, len);
  r->resp.len += len;
  r->resp.body[r->resp.len] = 0;
  return 0;
}

static obi_err http_start(http_req *r, struct lws_context *context, const char *url, const ws_tls *tls) {
  ws_url u;
  if (ws_url_parse(&u, url) || (tls && tls->insecure_loopback && !is_loopback(u.host))) return OBI_EINVAL;
  char host[300];
  host_header(host, sizeof host, &u);
  struct lws_client_connect_info i;
  memset(&i, 0, sizeof i);
  i.context = context;
  i.address = u.host;
  i.port = u.port;
  i.path = u.path;
  i.host = host;
  i.origin = host;
  i.ssl_connection = ssl_flags(&u, tls);
  i.method = "GET";
  i.alpn = "http/1.1";
  i.local_protocol_name = "obi-ws";
  i.opaque_user_data = r;
  lws_sul_schedule(context, 0, &r->sul_timeout, http_timeout_cb, (lws_usec_t)r->timeout_ms * MS);
  /* lws may call back (and fail) inside the call; callbacks adopt the wsi meanwhile. */
  r->in_connect = 1;
  struct lws *wsi = lws_client_connect_via_info(&i);
  r->in_connect = 0;
  if (r->done) return OBI_OK; /* already failed and reported; r may be freed for a client request */
  if (!wsi)
    http_finish(r, OBI_EIO, "connection failed");
  else
    r->wsi = wsi;
  return OBI_OK;
}

static http_req *http_new(size_t max_body, int timeout_ms) {
  http_req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->kind = KIND_HTTP;
  r->max_body = max_body ? max_body : (size_t)64 << 20;
  r->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
  return r;
}

static void wake_cb(lws_sorted_usec_list_t *sul) { (void)sul; }

obi_err ws_http_get(const char *url, const ws_tls *tls, int timeout_ms, size_t max_body, ws_http_response *out) {
  memset(out, 0, sizeof *out);
  ws_url u;
  if (ws_url_parse(&u, url) || (tls && tls->insecure_loopback && !is_loopback(u.host))) {
    snprintf(out->error, sizeof out->error, "bad URL '%s'", url ? url : "");
    return OBI_EINVAL;
  }
  if (!ca_readable(tls)) {
    snprintf(out->error, sizeof out->error, "cannot read the CA file '%s'", tls->ca_file);
    return OBI_EIO;
  }
  http_req *r = http_new(max_body, timeout_ms);
  if (!r) return OBI_ENOMEM;
  struct lws_context *context = make_context(tls, r->timeout_ms);
  if (!context) {
    free(r);
    snprintf(out->error, sizeof out->error, "cannot set up libwebsockets/TLS (CA file?)");
    return OBI_EIO;
  }
  lws_sorted_usec_list_t wake;
  memset(&wake, 0, sizeof wake);
  obi_err err = http_start(r, context, url, tls);
  while (!err && !r->done) {
    lws_sul_schedule(context, 0, &wake, wake_cb, 50 * MS); /* bound each wait */
    if (lws_service(context, 0) < 0) http_finish(r, OBI_EIO, "event loop failed");
  }
  lws_sul_cancel(&wake);
  if (!r->done) http_finish(r, err, "bad URL");
  lws_context_destroy(context);
  *out = r->resp;
  err = r->err;
  free(r);
  return err;
}

obi_err ws_client_http_get(ws_client *c, const char *url, int timeout_ms, size_t max_body,
                           void (*done)(void *ctx, obi_err err, const ws_http_response *resp), void *ctx) {
  ws_url u;
  if (ws_url_parse(&u, url) || (c->cfg.tls.insecure_loopback && !is_loopback(u.host))) return OBI_EINVAL;
  http_req *r = http_new(max_body, timeout_ms);
  if (!r) return OBI_ENOMEM;
  r->client = c, r->cb = done, r->ctx = ctx;
  r->next = c->http, c->http = r;
  return http_start(r, c->context, url, &c->cfg.tls);
}

void ws_http_response_free(ws_http_response *resp) {
  if (!resp) return;
  free(resp->body);
  resp->body = NULL;
  resp->len = 0;
}

static int http_callback(http_req *r, struct lws *wsi, enum lws_callback_reasons reason, void *in, size_t len) {
  if (!r->wsi && r->in_connect) r->wsi = wsi;
  switch (reason) {
  case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP: r->resp.status = (int)lws_http_client_http_response(wsi); return 0;
  case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
    if (http_append(r, in, len)) {
      char why[96];
      snprintf(why, sizeof why, "body larger than %zu bytes", r->max_body);
      http_finish(r, OBI_EIO, why);
      return -1;
    }
    return 0;
  case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
    char buf[LWS_PRE + 16384], *p = buf + LWS_PRE;
    int n = (int)sizeof buf - LWS_PRE;
    return lws_http_client_read(wsi, &p, &n) < 0 ? -1 : 0;
  }
  case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
    r->resp.recv_ns = ws_now_ns();
    if (!r->resp.body && http_append(r, "", 0)) { /* an empty body is still a string */
      http_finish(r, OBI_ENOMEM, "out of memory");
      return -1;
    }
    r->wsi = NULL; /* lws closes it after we return -1 */
    lws_set_opaque_user_data(wsi, NULL);
    http_finish(r, OBI_OK, "");
    return -1;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
    char why[200];
    snprintf(why, sizeof why, "connection failed: %s", in ? (const char *)in : "unknown error");
    r->wsi = NULL;
    lws_set_opaque_user_data(wsi, NULL);
    http_finish(r, OBI_EIO, why);
    return 0;
  }
  case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
  case LWS_CALLBACK_WSI_DESTROY:
    r->wsi = NULL;
    lws_set_opaque_user_data(wsi, NULL);
    http_finish(r, OBI_EIO, "connection closed before the response was complete");
    return 0;
  default: return 0;
  }
}

/* ---- the WebSocket client ---- */

static void set_state(ws_client *c, int st, ws_state public_state, const char *reason) {
  c->state = st;
  if (c->cfg.on_state && !c->destroying) c->cfg.on_state(c->cfg.ctx, public_state, reason ? reason : "");
}

static void outq_clear(ws_client *c) {
  for (size_t i = c->out_head; i < c->out_n; i++) free(c->outq[i].buf);
  c->out_head = c->out_n = 0;
}

static int outq_push(ws_client *c, const char *text, size_t len) {
  if (c->out_head == c->out_n) c->out_head = c->out_n = 0;
  if (c->out_n == c->out_cap) {
    if (c->out_head > 0) { /* slide down before growing */
      memmove(c->outq, c->outq + c->out_head, (c->out_n - c->out_head) * sizeof *c->outq);
      c->out_n -= c->out_head, c->out_head = 0;
    } else {
      size_t cap = c->out_cap ? 2 * c->out_cap : 8;
      out_msg *q = realloc(c->outq, cap * sizeof *q);
      if (!q) return -1;
      c->outq = q, c->out_cap = cap;
    }
  }
  unsigned char *buf = malloc(LWS_PRE + 2 * len + 1);
  if (!buf) return -1;
  memcpy(buf + LWS_PRE, text, len);
  memcpy(buf + LWS_PRE + len, text, len);
  c->outq[c->out_n].buf = buf;
  c->outq[c->out_n].len = len;
  c->out_n++;
  return 0;
}

static void start_connect(ws_client *c);
static void attempt_over(ws_client *c, const char *reason);

static void retry_cb(lws_sorted_usec_list_t *sul) {
  ws_client *c = lws_container_of(sul, ws_client, sul_retry);
  if (c->state == ST_BACKOFF) start_connect(c);
}

static void connect_timeout_cb(lws_sorted_usec_list_t *sul) {
  ws_client *c = lws_container_of(sul, ws_client, sul_connect);
  if (c->state != ST_CONNECTING || !c->wsi) return;
  snprintf(c->close_reason, sizeof c->close_reason, "connect timed out after %d ms", c->cfg.connect_timeout_ms);
  lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void keepalive_cb(lws_sorted_usec_list_t *sul);

/* The keepalive timer fires at the earlier of the next ping and the stall deadline. */
static void keepalive_arm(ws_client *c) {
  lws_usec_t ping_at = (c->last_rx > c->last_ping ? c->last_rx : c->last_ping) + c->cfg.ping_interval_ms * MS;
  lws_usec_t stall_at = c->last_rx + c->cfg.stall_timeout_ms * MS;
  lws_usec_t at = ping_at < stall_at ? ping_at : stall_at, now = mono_us();
  lws_sul_schedule(c->context, 0, &c->sul_keepalive, keepalive_cb, at > now ? at - now : 0);
}

static void keepalive_cb(lws_sorted_usec_list_t *sul) {
  ws_client *c = lws_container_of(sul, ws_client, sul_keepalive);
  if (c->state != ST_OPEN || !c->wsi) return;
  lws_usec_t now = mono_us();
  if (now - c->last_rx >= c->cfg.stall_timeout_ms * MS) {
    c->st.stalls++;
    snprintf(c->close_reason, sizeof c->close_reason, "stalled: nothing received for %d ms",
             (int)((now - c->last_rx) / MS));
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return;
  }
  lws_usec_t quiet_since = c->last_rx > c->last_ping ? c->last_rx : c->last_ping;
  if (now - quiet_since >= c->cfg.ping_interval_ms * MS) {
    c->ping_requested = 1;
    c->last_ping = now;
    lws_callback_on_writable(c->wsi);
  }
  keepalive_arm(c);
}

static void start_connect(ws_client *c) {
  c->close_reason[0] = 0;
  c->close_requested = c->ping_requested = 0;
  c->msg_len = 0;
  outq_clear(c);
  c->st.connect_attempts++;
  set_state(c, ST_CONNECTING, WS_CONNECTING, c->url);
  struct lws_client_connect_info i;
  memset(&i, 0, sizeof i);
  i.context = c->context;
  i.address = c->u.host;
  i.port = c->u.port;
  i.path = c->u.path;
  i.host = c->host_header;
  i.origin = c->host_header;
  i.ssl_connection = ssl_flags(&c->u, &c->cfg.tls);
  i.local_protocol_name = "obi-ws";
  i.opaque_user_data = c;
  lws_sul_schedule(c->context, 0, &c->sul_connect, connect_timeout_cb, (lws_usec_t)c->cfg.connect_timeout_ms * MS);
  /* lws may call back inside the call (a synchronous failure goes through conn_ended):
   * callbacks adopt the new wsi while in_connect is set. */
  c->wsi = NULL;
  c->in_connect = 1;
  struct lws *wsi = lws_client_connect_via_info(&i);
  c->in_connect = 0;
  if (c->state != ST_CONNECTING) return;
  if (wsi) {
    c->wsi = wsi;
    return;
  }
  c->wsi = NULL;
  attempt_over(c, "connection failed");
}

/* The end of a connection or attempt: counters, then backoff or stop. */
static void attempt_over(ws_client *c, const char *reason) {
  lws_sul_cancel(&c->sul_keepalive);
  lws_sul_cancel(&c->sul_connect);
  outq_clear(c);
  c->msg_len = 0;
  if (c->state == ST_OPEN) {
    c->st.closes++;
    if (mono_us() - c->opened_at >= c->cfg.backoff_reset_ms * MS) c->st.attempt = 0;
  } else {
    c->st.failures++;
  }
  const char *why = c->close_reason[0] ? c->close_reason : reason;
  if (c->destroying || c->stop_requested) {
    set_state(c, ST_STOPPED, WS_CLOSED, why);
    return;
  }
  set_state(c, ST_IDLE, WS_CLOSED, why);
  char msg[96];
  if (c->reconnect_now) {
    c->reconnect_now = 0;
    c->st.last_backoff_ms = 0;
    snprintf(msg, sizeof msg, "reconnecting now");
  } else {
    c->st.attempt++;
    c->st.last_backoff_ms = ws_backoff_ms(&c->rng, c->st.attempt, c->cfg.backoff_base_ms, c->cfg.backoff_max_ms);
    snprintf(msg, sizeof msg, "retry %d in %d ms", c->st.attempt, c->st.last_backoff_ms);
  }
  set_state(c, ST_BACKOFF, WS_BACKOFF, msg);
  lws_sul_schedule(c->context, 0, &c->sul_retry, retry_cb, (lws_usec_t)c->st.last_backoff_ms * MS);
}

static void conn_ended(ws_client *c, struct lws *wsi, const char *reason) {
  if (!wsi || wsi != c->wsi) return;
  c->wsi = NULL;
  lws_set_opaque_user_data(wsi, NULL);
  attempt_over(c, reason);
}

static int deliver(ws_client *c, struct lws *wsi, const char *in, size_t len) {
  c->last_rx = mono_us();
  if (c->msg_len + len > c->cfg.max_message) {
    c->st.oversize++;
    snprintf(c->close_reason, sizeof c->close_reason, "message larger than %zu bytes", c->cfg.max_message);
    static const char why[] = "message too big";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why, sizeof why - 1);
    return -1;
  }
  int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
  if (!(first && final)) c->st.fragments++;
  if (first && final && c->msg_len == 0) { /* the common case: no copy */
    int64_t t = ws_now_ns();
    if (t <= c->last_recv_ns) t = c->last_recv_ns + 1;
    c->last_recv_ns = t;
    c->st.messages++, c->st.bytes += len;
    if (c->cfg.on_message) c->cfg.on_message(c->cfg.ctx, t, in, len);
    return 0;
  }
  if (c->msg_len + len > c->msg_cap) {
    size_t cap = c->msg_cap ? c->msg_cap : 65536;
    while (cap < c->msg_len + len) cap *= 2;
    if (cap > c->cfg.max_message) cap = c->cfg.max_message;
    char *m = realloc(c->msg, cap);
    if (!m) {
      snprintf(c->close_reason, sizeof c->close_reason, "out of memory for a %zu-byte message", c->msg_len + len);
      return -1;
    }
    c->msg = m, c->msg_cap = cap;
  }
  memcpy(c->msg + c->msg_len, in, len);
  c->msg_len += len;
  if (final) {
    int64_t t = ws_now_ns();
    if (t <= c->last_recv_ns) t = c->last_recv_ns + 1;
    c->last_recv_ns = t;
    c->st.messages++, c->st.bytes += c->msg_len;
    size_t n = c->msg_len;
    c->msg_len = 0;
    if (c->cfg.on_message) c->cfg.on_message(c->cfg.ctx, t, c->msg, n);
  }
  return 0;
}

/* One write per call: a ping first, then the queued texts, then the close frame. */
static int client_writeable(ws_client *c, struct lws *wsi) {
  if (c->close_requested && !c->ping_requested && c->out_head == c->out_n) {
    static const char bye[] = "bye";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)bye, sizeof bye - 1);
    return -1;
  }
  if (c->ping_requested) {
    unsigned char buf[LWS_PRE + 8];
    memcpy(buf + LWS_PRE, "obi", 3);
    c->ping_requested = 0;
    if (lws_write(wsi, buf + LWS_PRE, 3, LWS_WRITE_PING) < 3) return -1;
    c->st.pings_sent++;
  } else if (c->out_head < c->out_n) {
    out_msg *m = &c->outq[c->out_head];
    if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len) return -1;
    c->st.sent++;
    if (c->cfg.on_send) c->cfg.on_send(c->cfg.ctx, ws_now_ns(), (const char *)m->buf + LWS_PRE + m->len, m->len);
    free(m->buf);
    c->out_head++;
  }
  if (c->out_head < c->out_n || c->ping_requested || c->close_requested) lws_callback_on_writable(wsi);
  return 0;
}

static int client_callback(ws_client *c, struct lws *wsi, enum lws_callback_reasons reason, void *in, size_t len) {
  if (c->destroying) return reason == LWS_CALLBACK_CLIENT_RECEIVE ? -1 : 0;
  if (!c->wsi && c->in_connect) c->wsi = wsi;
  switch (reason) {
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    if (wsi != c->wsi) return -1;
    lws_sul_cancel(&c->sul_connect);
    c->st.connects++;
    c->opened_at = c->last_rx = mono_us();
    c->last_ping = 0;
    set_state(c, ST_OPEN, WS_OPEN, "");
    for (size_t k = 0; k < c->cfg.n_subscribe; k++)
      if (outq_push(c, c->subs[k], c->sub_len[k])) {
        snprintf(c->close_reason, sizeof c->close_reason, "out of memory");
        return -1;
      }
    if (c->stop_requested) c->close_requested = 1;
    if (c->out_n || c->close_requested) lws_callback_on_writable(wsi);
    keepalive_arm(c);
    return 0;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    if (wsi != c->wsi) return -1;
    return deliver(c, wsi, in, len);
  case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
    c->last_rx = mono_us();
    c->st.pongs_received++;
    return 0;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (wsi != c->wsi) return -1;
    return client_writeable(c, wsi);
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (!c->close_reason[0]) {
      const unsigned char *p = in;
      int status = len >= 2 ? p[0] << 8 | p[1] : 0;
      int n = len > 2 ? (int)(len - 2 < 120 ? len - 2 : 120) : 0;
      snprintf(c->close_reason, sizeof c->close_reason, "closed by the server (status %d%s%.*s)", status, n ? ": " : "",
               n, n ? (const char *)p + 2 : "");
    }
    return 0;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
    char why[200];
    snprintf(why, sizeof why, "connection failed: %s", in ? (const char *)in : "unknown error");
    conn_ended(c, wsi, why);
    return 0;
  }
  case LWS_CALLBACK_CLIENT_CLOSED: conn_ended(c, wsi, "connection lost"); return 0;
  case LWS_CALLBACK_WSI_DESTROY: conn_ended(c, wsi, "connection closed"); return 0;
  default: return 0;
  }
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  (void)user;
  int *kind = wsi ? lws_get_opaque_user_data(wsi) : NULL;
  if (!kind) return 0;
  if (*kind == KIND_HTTP) return http_callback((http_req *)kind, wsi, reason, in, len);
  return client_callback((ws_client *)kind, wsi, reason, in, len);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

obi_err ws_client_new(ws_client **out, const ws_config *cfg) {
  *out = NULL;
  if (!cfg || !cfg->url) return OBI_EINVAL;
  ws_url u;
  if (ws_url_parse(&u, cfg->url) || !(strncmp(cfg->url, "ws://", 5) == 0 || strncmp(cfg->url, "wss://", 6) == 0))
    return OBI_EINVAL;
  if (cfg->tls.insecure_loopback && !is_loopback(u.host)) return OBI_EINVAL;
  if (cfg->ping_interval_ms < 0 || cfg->stall_timeout_ms < 0 || cfg->connect_timeout_ms < 0 ||
      cfg->backoff_base_ms < 0 || cfg->backoff_max_ms < 0 || cfg->backoff_reset_ms < 0 ||
      (cfg->n_subscribe && !cfg->subscribe))
    return OBI_EINVAL;
  if (!ca_readable(&cfg->tls)) return OBI_EIO;
  ws_client *c = calloc(1, sizeof *c);
  if (!c) return OBI_ENOMEM;
  c->kind = KIND_CLIENT;
  c->cfg = *cfg;
  c->u = u;
  host_header(c->host_header, sizeof c->host_header, &u);
  ws_config *k = &c->cfg;
  if (!k->max_message) k->max_message = (size_t)16 << 20;
  if (!k->ping_interval_ms) k->ping_interval_ms = 10000;
  if (!k->stall_timeout_ms) k->stall_timeout_ms = 30000;
  if (!k->connect_timeout_ms) k->connect_timeout_ms = 10000;
  if (!k->backoff_base_ms) k->backoff_base_ms = 250;
  if (!k->backoff_max_ms) k->backoff_max_ms = 30000;
  if (!k->backoff_reset_ms) k->backoff_reset_ms = 60000;
  c->rng = k->seed ? k->seed : (uint64_t)ws_now_ns() ^ ((uint64_t)getpid() << 32);
  obi_err err = OBI_ENOMEM;
  c->url = dup_str(cfg->url);
  c->ca_file = cfg->tls.ca_file ? dup_str(cfg->tls.ca_file) : NULL;
  if (!c->url || (cfg->tls.ca_file && !c->ca_file)) goto fail;
  k->url = c->url;
  k->tls.ca_file = c->ca_file;
  if (k->n_subscribe) {
    c->subs = calloc(k->n_subscribe, sizeof *c->subs);
    c->sub_len = calloc(k->n_subscribe, sizeof *c->sub_len);
    if (!c->subs || !c->sub_len) goto fail;
    for (size_t i = 0; i < k->n_subscribe; i++) {
      if (!cfg->subscribe[i]) {
        err = OBI_EINVAL;
        goto fail;
      }
      if (!(c->subs[i] = dup_str(cfg->subscribe[i]))) goto fail;
      c->sub_len[i] = strlen(c->subs[i]);
    }
  }
  k->subscribe = NULL;
  c->context = make_context(&k->tls, k->connect_timeout_ms);
  if (!c->context) {
    err = OBI_EIO;
    goto fail;
  }
  c->service_left = mono_us();
  start_connect(c);
  *out = c;
  return OBI_OK;
fail:
  ws_client_free(c);
  return err;
}

obi_err ws_client_service(ws_client *c, int timeout_ms) {
  if (c->state == ST_STOPPED) return OBI_EEOF;
  /* Time spent outside the loop cannot count towards a stall: nothing could be read. */
  lws_usec_t now = mono_us();
  if (c->state == ST_OPEN && now > c->service_left) {
    c->last_rx += now - c->service_left;
    if (c->last_rx > now) c->last_rx = now;
    keepalive_arm(c);
  }
  lws_sul_schedule(c->context, 0, &c->sul_wake, wake_cb, (lws_usec_t)(timeout_ms > 0 ? timeout_ms : 0) * MS);
  int n = lws_service(c->context, 0);
  lws_sul_cancel(&c->sul_wake);
  c->service_left = mono_us();
  if (n < 0) return OBI_EIO;
  return c->state == ST_STOPPED ? OBI_EEOF : OBI_OK;
}

obi_err ws_client_send(ws_client *c, const char *text, size_t len) {
  if (c->state != ST_OPEN || !c->wsi || c->close_requested) return OBI_EINVAL;
  if (outq_push(c, text, len)) return OBI_ENOMEM;
  lws_callback_on_writable(c->wsi);
  return OBI_OK;
}

void ws_client_reconnect(ws_client *c, const char *reason) {
  if (c->state == ST_STOPPED || c->stop_requested) return;
  if (c->state == ST_BACKOFF) {
    lws_sul_schedule(c->context, 0, &c->sul_retry, retry_cb, 0);
    return;
  }
  if (c->wsi) {
    c->reconnect_now = 1;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason && *reason ? reason : "reconnect requested");
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

void ws_client_request_close(ws_client *c) {
  if (c->stop_requested || c->state == ST_STOPPED) return;
  c->stop_requested = 1;
  if (c->state == ST_BACKOFF || c->state == ST_IDLE) {
    lws_sul_cancel(&c->sul_retry);
    set_state(c, ST_STOPPED, WS_CLOSED, "closed by request");
  } else if (c->state == ST_OPEN && c->wsi) {
    snprintf(c->close_reason, sizeof c->close_reason, "closed by request");
    c->close_requested = 1;
    lws_callback_on_writable(c->wsi);
  } else if (c->wsi) { /* still connecting */
    snprintf(c->close_reason, sizeof c->close_reason, "closed by request");
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

const char *ws_client_url(const ws_client *c) { return c->url; }
const ws_client_stats *ws_client_stats_get(const ws_client *c) { return &c->st; }

void ws_client_free(ws_client *c) {
  if (!c) return;
  c->destroying = 1;
  if (c->context) {
    lws_sul_cancel(&c->sul_keepalive);
    lws_sul_cancel(&c->sul_retry);
    lws_sul_cancel(&c->sul_wake);
    lws_sul_cancel(&c->sul_connect);
    while (c->http) { /* pending requests end without their callbacks */
      http_req *r = c->http;
      c->http = r->next;
      lws_sul_cancel(&r->sul_timeout);
      if (r->wsi) lws_set_opaque_user_data(r->wsi, NULL);
      ws_http_response_free(&r->resp);
      free(r);
    }
    lws_context_destroy(c->context);
  }
  outq_clear(c);
  free(c->outq);
  free(c->msg);
  for (size_t i = 0; c->subs && i < c->cfg.n_subscribe; i++) free(c->subs[i]);
  free(c->subs);
  free(c->sub_len);
  free(c->url);
  free(c->ca_file);
  free(c);
}
