/* http.c — the routes of serve.h on libmicrohttpd (docs/api.md).
 *
 * Request life: libmicrohttpd calls `handle` once with the headers (a request context is made),
 * then with each piece of the body (appended, up to max_body: beyond it the request is answered
 * 413 at once and the rest discarded), then once more with no data: the route runs and queues
 * its answer. `completed` records the route, status and latency in the metrics.
 *
 * SSE: every published event gets a sequence number and goes into a ring of sse_backlog
 * events. A client remembers the next sequence it wants; its reader copies whatever is new,
 * and when nothing is, suspends the connection (libmicrohttpd stops polling it) and returns 0.
 * Publishing resumes every suspended client, under the same lock, so a resume can never come
 * before its suspend. A keep-alive thread resumes clients idle for keepalive_ms so that they get
 * a comment line (and a dead peer is noticed). A client slower than the ring loses the oldest
 * events (it is told with an "event: gap" carrying the number skipped).
 *
 * Shutdown: `stopping` makes every reader end its stream, all suspended clients are resumed,
 * then MHD_stop_daemon waits for the connections to finish. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve_internal.h"

typedef struct {
  char type[24], symbol[32];
  char *json;
} latest_doc;

typedef struct sse_client {
  obi_server *srv;
  struct MHD_Connection *conn;
  uint64_t next;
  int suspended;
  char *pending;
  size_t pend_len, pend_off;
  double last_send;
  struct sse_client *prev, *nextc;
} sse_client;

struct obi_server {
  serve_config cfg;
  char bind[64], web_dir[1024], token[256];
  serve_hooks hooks;
  struct MHD_Daemon *d;
  int port;
  pthread_mutex_t lock; /* latest, instruments, the SSE ring and clients */
  latest_doc *latest;
  size_t nlatest, latest_cap;
  char **instruments;
  int ninstruments;
  char **ring;   /* SSE events by seq % sse_backlog */
  uint64_t head; /* next sequence number */
  sse_client *clients;
  int stopping;
  pthread_t keepalive;
  int keepalive_running;
  pthread_cond_t wake;
  serve_registry reg;
};

serve_registry *server_registry(obi_server *s) { return &s->reg; }

void serve_config_default(serve_config *c) {
  memset(c, 0, sizeof *c);
  c->bind = "127.0.0.1";
  c->threads = 4;
  c->max_connections = 128;
  c->max_body = 1 << 20;
  c->timeout_s = 30;
  c->keepalive_ms = 15000;
  c->sse_backlog = 4096;
}

static double mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- published state ---- */

static latest_doc *latest_find(obi_server *s, const char *type, const char *symbol) {
  for (size_t i = 0; i < s->nlatest; i++)
    if (!strcmp(s->latest[i].type, type) && !strcmp(s->latest[i].symbol, symbol)) return &s->latest[i];
  return NULL;
}

static void resume_all(obi_server *s) { /* with the lock held */
  for (sse_client *c = s->clients; c; c = c->nextc)
    if (c->suspended) {
      c->suspended = 0;
      MHD_resume_connection(c->conn);
    }
}

void serve_publish(obi_server *s, const char *type, const char *symbol, const char *json, int stream) {
  if (!s) return;
  symbol = symbol ? symbol : "";
  pthread_mutex_lock(&s->lock);
  latest_doc *d = latest_find(s, type, symbol);
  if (!d && s->nlatest == s->latest_cap) {
    size_t cap = s->latest_cap ? 2 * s->latest_cap : 32;
    latest_doc *l = realloc(s->latest, cap * sizeof *l);
    if (l) s->latest = l, s->latest_cap = cap;
  }
  if (!d && s->nlatest < s->latest_cap) {
    d = &s->latest[s->nlatest++];
    memset(d, 0, sizeof *d);
    snprintf(d->type, sizeof d->type, "%s", type);
    snprintf(d->symbol, sizeof d->symbol, "%s", symbol);
  }
  if (d) {
    char *copy = strdup(json);
    if (copy) free(d->json), d->json = copy;
  }
  if (stream) {
    size_t n = strlen(type) + strlen(json) + 24;
    char *ev = malloc(n);
    if (ev) {
      snprintf(ev, n, "event: %s\ndata: %s\n\n", type, json);
      size_t slot = (size_t)(s->head % s->cfg.sse_backlog);
      free(s->ring[slot]);
      s->ring[slot] = ev;
      s->head++;
      resume_all(s);
    }
  }
  pthread_mutex_unlock(&s->lock);
}

int serve_latest(obi_server *s, const char *type, const char *symbol, char *out, size_t out_len) {
  pthread_mutex_lock(&s->lock);
  latest_doc *d = latest_find(s, type, symbol ? symbol : "");
  int rc = d && d->json ? 0 : -1;
  if (!rc) snprintf(out, out_len, "%s", d->json);
  pthread_mutex_unlock(&s->lock);
  return rc;
}

void serve_set_instruments(obi_server *s, const char *const *symbols, int n) {
  pthread_mutex_lock(&s->lock);
  for (int i = 0; i < s->ninstruments; i++) free(s->instruments[i]);
  free(s->instruments);
  s->instruments = calloc((size_t)(n > 0 ? n : 1), sizeof *s->instruments);
  s->ninstruments = 0;
  for (int i = 0; s->instruments && i < n; i++)
    if ((s->instruments[i] = strdup(symbols[i]))) s->ninstruments++;
  pthread_mutex_unlock(&s->lock);
}

/* ---- SSE ---- */

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  sse_client *c = cls;
  obi_server *s = c->srv;
  pthread_mutex_lock(&s->lock);
  ssize_t out = 0;
  if (s->stopping) {
    out = MHD_CONTENT_READER_END_OF_STREAM;
  } else {
    if (c->pend_off == c->pend_len) { /* refill */
      free(c->pending);
      c->pending = NULL, c->pend_len = c->pend_off = 0;
      uint64_t oldest = s->head > s->cfg.sse_backlog ? s->head - s->cfg.sse_backlog : 0;
      size_t len = 0, cap = 0;
      char gap[64] = "";
      if (c->next < oldest) {
        snprintf(gap, sizeof gap, "event: gap\ndata: {\"skipped\":%llu}\n\n", (unsigned long long)(oldest - c->next));
        c->next = oldest;
      }
      for (uint64_t q = c->next; q < s->head && cap < 65536; q++) cap += strlen(s->ring[q % s->cfg.sse_backlog]);
      cap += strlen(gap) + 32; /* the copy below stops where this sum stopped: len < 65536 at each start */
      if (c->next < s->head || gap[0]) {
        c->pending = malloc(cap);
        if (c->pending) {
          len = (size_t)snprintf(c->pending, cap, "%s", gap);
          for (; c->next < s->head && len < 65536; c->next++) {
            const char *ev = s->ring[c->next % s->cfg.sse_backlog];
            size_t n = strlen(ev);
            memcpy(c->pending + len, ev, n);
            len += n;
          }
          c->pend_len = len;
        }
      } else if ((mono() - c->last_send) * 1000 >= s->cfg.keepalive_ms) {
        c->pending = strdup(": keepalive\n\n");
        c->pend_len = c->pending ? strlen(c->pending) : 0;
      }
    }
    if (c->pend_off < c->pend_len) {
      size_t n = c->pend_len - c->pend_off < max ? c->pend_len - c->pend_off : max;
      memcpy(buf, c->pending + c->pend_off, n);
      c->pend_off += n;
      c->last_send = mono();
      out = (ssize_t)n;
    } else {
      c->suspended = 1; /* nothing to send: wait for a publish or the keep-alive */
      MHD_suspend_connection(c->conn);
      out = 0;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return out;
}

static void sse_free(void *cls) {
  sse_client *c = cls;
  obi_server *s = c->srv;
  pthread_mutex_lock(&s->lock);
  if (c->prev)
    c->prev->nextc = c->nextc;
  else
    s->clients = c->nextc;
  if (c->nextc) c->nextc->prev = c->prev;
  pthread_mutex_unlock(&s->lock);
  free(c->pending);
  free(c);
  serve_metric(s, SERVE_GAUGE, "obi_sse_clients", "", "SSE clients connected", 0); /* recounted below */
  pthread_mutex_lock(&s->lock);
  int n = 0;
  for (sse_client *k = s->clients; k; k = k->nextc) n++;
  pthread_mutex_unlock(&s->lock);
  serve_metric(s, SERVE_GAUGE, "obi_sse_clients", "", "SSE clients connected", n);
}

static void *keepalive_main(void *arg) {
  obi_server *s = arg;
  pthread_mutex_lock(&s->lock);
  while (!s->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long step_ms = s->cfg.keepalive_ms / 4 > 0 ? s->cfg.keepalive_ms / 4 : 1;
    until.tv_nsec += (step_ms % 1000) * 1000000L;
    until.tv_sec += step_ms / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&s->wake, &s->lock, &until);
    double now = mono();
    for (sse_client *c = s->clients; c; c = c->nextc)
      if (c->suspended && (now - c->last_send) * 1000 >= s->cfg.keepalive_ms) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
      }
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- requests ---- */

typedef struct {
  char *body;
  size_t len, cap, discarded;
  int too_large, answered; /* too_large: 1 by Content-Length, 2 found while reading */
  unsigned status;
  char route[48];
  double t0;
} request;

static enum MHD_Result reply(struct MHD_Connection *conn, request *rq, unsigned status, const char *type,
                             const char *text, const char *allow) {
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  if (allow) MHD_add_response_header(r, "Allow", allow);
  enum MHD_Result ok = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  rq->status = status, rq->answered = 1;
  return ok;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, request *rq, unsigned status, const char *json) {
  return reply(conn, rq, status, "application/json", json, NULL);
}

/* {"error": why} */
static enum MHD_Result reply_error(struct MHD_Connection *conn, request *rq, unsigned status, const char *why,
                                   const char *allow) {
  json_t *o = json_pack("{s:s, s:i}", "error", why, "status", (int)status);
  char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  enum MHD_Result r = reply(conn, rq, status, "application/json", t ? t : "{\"error\":\"out of memory\"}", allow);
  free(t);
  return r;
}

/* Constant-time comparison of the bearer token (the time does not depend on where they differ). */
static int token_ok(const obi_server *s, struct MHD_Connection *conn) {
  const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  if (!h || strncmp(h, "Bearer ", 7)) return 0;
  const char *given = h + 7;
  size_t a = strlen(given), b = strlen(s->token), n = a > b ? a : b;
  unsigned char diff = (unsigned char)(a != b);
  for (size_t i = 0; i < n; i++) {
    unsigned char x = i < a ? (unsigned char)given[i] : 0, y = i < b ? (unsigned char)s->token[i] : 0;
    diff |= (unsigned char)(x ^ y);
  }
  return diff == 0;
}

static const char *mime_of(const char *path) {
  const char *dot = strrchr(path, '.');
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"},
               {".js", "text/javascript; charset=utf-8"},
               {".css", "text/css; charset=utf-8"},
               {".json", "application/json"},
               {".png", "image/png"},
               {".svg", "image/svg+xml"},
               {".md", "text/plain; charset=utf-8"},
               {".txt", "text/plain; charset=utf-8"}};
  for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
    if (!strcmp(dot, types[i].ext)) return types[i].type;
  return "application/octet-stream";
}

static enum MHD_Result static_file(obi_server *s, struct MHD_Connection *conn, request *rq, const char *url) {
  snprintf(rq->route, sizeof rq->route, "/static");
  if (!s->web_dir[0]) return reply_error(conn, rq, MHD_HTTP_NOT_FOUND, "no such route", NULL);
  if (strstr(url, "..") || strchr(url, '\\')) return reply_error(conn, rq, MHD_HTTP_NOT_FOUND, "no such file", NULL);
  char path[2200];
  snprintf(path, sizeof path, "%s%s", s->web_dir, strcmp(url, "/") ? url : "/index.html");
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
    if (f) fclose(f);
    return reply_error(conn, rq, MHD_HTTP_NOT_FOUND, "no such file", NULL);
  }
  struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, dup(fileno(f)));
  fclose(f);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", mime_of(path));
  enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  rq->status = MHD_HTTP_OK, rq->answered = 1;
  return ok;
}

/* GET /v1/book/{symbol}?depth=N: the latest book trimmed to N levels a side. */
static enum MHD_Result route_book(obi_server *s, struct MHD_Connection *conn, request *rq, const char *symbol) {
  const char *dq = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "depth");
  long depth = 10;
  if (dq) {
    char *end;
    depth = strtol(dq, &end, 10);
    if (*end || depth < 1 || depth > 1000)
      return reply_error(conn, rq, MHD_HTTP_BAD_REQUEST, "depth must be an integer from 1 to 1000", NULL);
  }
  static __thread char doc[1 << 17];
  if (serve_latest(s, "book_full", symbol, doc, sizeof doc) && serve_latest(s, "book", symbol, doc, sizeof doc)) {
    char why[128];
    snprintf(why, sizeof why, "no book for '%.60s' (GET /v1/instruments lists them)", symbol);
    return reply_error(conn, rq, MHD_HTTP_NOT_FOUND, why, NULL);
  }
  json_t *o = json_loads(doc, 0, NULL);
  if (!o) return reply_error(conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "malformed book document", NULL);
  const char *sides[2] = {"bids", "asks"};
  for (int k = 0; k < 2; k++) {
    json_t *a = json_object_get(o, sides[k]);
    while (json_is_array(a) && json_array_size(a) > (size_t)depth) json_array_remove(a, json_array_size(a) - 1);
  }
  json_object_set_new(o, "depth", json_integer(depth));
  char *t = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
  json_decref(o);
  enum MHD_Result r = t ? reply_json(conn, rq, MHD_HTTP_OK, t) : MHD_NO;
  free(t);
  return r;
}

/* POST /v1/predict {"features": [names], "rows": [[...], ...]} */
static enum MHD_Result route_predict_post(obi_server *s, struct MHD_Connection *conn, request *rq) {
  json_error_t jerr;
  json_t *o = json_loadb(rq->body ? rq->body : "", rq->len, 0, &jerr);
  char why[512];
  if (!o) {
    snprintf(why, sizeof why, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    return reply_error(conn, rq, MHD_HTTP_BAD_REQUEST, why, NULL);
  }
  json_t *names = json_object_get(o, "features"), *rows = json_object_get(o, "rows");
  size_t C = json_array_size(names), T = json_array_size(rows);
  enum MHD_Result res;
  if (!json_is_object(o) || !json_is_array(names) || !json_is_array(rows) || C == 0 || T == 0 || C > 4096 || T > 4096) {
    res = reply_error(conn, rq, MHD_HTTP_BAD_REQUEST,
                      "expected {\"features\": [names], \"rows\": [[values], ...]} with 1..4096 of each", NULL);
    json_decref(o);
    return res;
  }
  const char **nm = calloc(C, sizeof *nm);
  float *x = malloc(C * T * sizeof *x);
  int bad = !nm || !x;
  for (size_t c = 0; !bad && c < C; c++)
    if (!(nm[c] = json_string_value(json_array_get(names, c)))) {
      snprintf(why, sizeof why, "features[%zu] is not a string", c);
      bad = 2;
    }
  for (size_t t = 0; !bad && t < T; t++) {
    json_t *row = json_array_get(rows, t);
    if (json_array_size(row) != C) {
      snprintf(why, sizeof why, "rows[%zu] has %zu values, features has %zu names", t, json_array_size(row), C);
      bad = 2;
      break;
    }
    for (size_t c = 0; c < C; c++) {
      json_t *v = json_array_get(row, c);
      if (!json_is_number(v)) {
        snprintf(why, sizeof why, "rows[%zu][%zu] is not a number", t, c);
        bad = 2;
        break;
      }
      x[t * C + c] = (float)json_number_value(v);
    }
  }
  if (bad == 1) {
    res = reply_error(conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
  } else if (bad) {
    res = reply_error(conn, rq, MHD_HTTP_BAD_REQUEST, why, NULL);
  } else if (!s->hooks.predict) {
    res = reply_error(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "no model", NULL);
  } else {
    float p[3];
    char model[2048] = "";
    double t0 = mono();
    if (s->hooks.predict(s->hooks.ctx, nm, (int)C, x, (int)T, p, model, sizeof model, why, sizeof why)) {
      res = reply_error(conn, rq, MHD_HTTP_BAD_REQUEST, why, NULL);
    } else {
      double us = (mono() - t0) * 1e6;
      char out[3000];
      snprintf(out, sizeof out,
               "{\"p\":[%.9g,%.9g,%.9g],\"classes\":[\"down\",\"stationary\",\"up\"],%s%s"
               "\"latency_us\":%.3f}",
               p[0], p[1], p[2], model, model[0] ? "," : "", us);
      res = reply_json(conn, rq, MHD_HTTP_OK, out);
    }
  }
  free(nm);
  free(x);
  json_decref(o);
  return res;
}

static enum MHD_Result route_admin_model(obi_server *s, struct MHD_Connection *conn, request *rq) {
  if (!token_ok(s, conn)) {
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    return reply_error(conn, rq, MHD_HTTP_UNAUTHORIZED, h ? "wrong token" : "missing bearer token", NULL);
  }
  json_error_t jerr;
  json_t *o = json_loadb(rq->body ? rq->body : "", rq->len, 0, &jerr);
  const char *path = json_string_value(json_object_get(o, "path"));
  char why[1024];
  enum MHD_Result r;
  if (!path) {
    r = reply_error(conn, rq, MHD_HTTP_BAD_REQUEST, "expected {\"path\": \"MODEL.safetensors\"}", NULL);
  } else if (!s->hooks.reload) {
    r = reply_error(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "reloading is not supported", NULL);
  } else if (s->hooks.reload(s->hooks.ctx, path, why, sizeof why)) {
    r = reply_error(conn, rq, MHD_HTTP_BAD_REQUEST, why, NULL);
  } else {
    r = reply_json(conn, rq, MHD_HTTP_OK, "{\"reloaded\":true}");
  }
  json_decref(o);
  return r;
}

static enum MHD_Result route_stream(obi_server *s, struct MHD_Connection *conn, request *rq) {
  sse_client *c = calloc(1, sizeof *c);
  if (!c) return reply_error(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL);
  c->srv = s, c->conn = conn, c->last_send = 0;
  pthread_mutex_lock(&s->lock);
  c->next = s->head;
  /* first the latest state, so a new page is not empty until the next events */
  static const char *const first[] = {"book", "prediction", "position", "risk", "monitor"};
  size_t cap = 64, len = 0;
  for (size_t i = 0; i < s->nlatest; i++) cap += strlen(s->latest[i].json ? s->latest[i].json : "") + 40;
  c->pending = malloc(cap);
  if (c->pending) {
    len = (size_t)snprintf(c->pending, cap, "retry: 2000\n\n");
    for (size_t k = 0; k < sizeof first / sizeof *first; k++)
      for (size_t i = 0; i < s->nlatest; i++)
        if (!strcmp(s->latest[i].type, first[k]) && s->latest[i].json)
          len += (size_t)snprintf(c->pending + len, cap - len, "event: %s\ndata: %s\n\n", first[k], s->latest[i].json);
    c->pend_len = len;
  }
  c->nextc = s->clients;
  if (s->clients) s->clients->prev = c;
  s->clients = c;
  int n = 0;
  for (sse_client *k = s->clients; k; k = k->nextc) n++;
  pthread_mutex_unlock(&s->lock);
  serve_metric(s, SERVE_GAUGE, "obi_sse_clients", "", "SSE clients connected", n);
  struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, c, sse_free);
  if (!r) {
    sse_free(c);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "text/event-stream");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  rq->status = MHD_HTTP_OK, rq->answered = 1;
  return ok;
}

/* The route table: path (a trailing '*' matches one segment), method, name for the metrics. */
enum {
  R_HEALTH,
  R_READY,
  R_INSTRUMENTS,
  R_BOOK,
  R_FEATURES,
  R_PREDICT_GET,
  R_PREDICT_POST,
  R_STREAM,
  R_METRICS,
  R_ADMIN
};
static const struct {
  const char *prefix;
  int wildcard;
  const char *method, *name;
} routes[] = {{"/health", 0, "GET", "/health"},
              {"/ready", 0, "GET", "/ready"},
              {"/v1/instruments", 0, "GET", "/v1/instruments"},
              {"/v1/book/", 1, "GET", "/v1/book/{symbol}"},
              {"/v1/features/", 1, "GET", "/v1/features/{symbol}"},
              {"/v1/predict/", 1, "GET", "/v1/predict/{symbol}"},
              {"/v1/predict", 0, "POST", "/v1/predict"},
              {"/v1/stream", 0, "GET", "/v1/stream"},
              {"/metrics", 0, "GET", "/metrics"},
              {"/admin/model", 0, "POST", "/admin/model"}};

static int match(const char *url, int i, const char **arg) {
  size_t n = strlen(routes[i].prefix);
  if (strncmp(url, routes[i].prefix, n)) return 0;
  if (!routes[i].wildcard) return url[n] == 0;
  *arg = url + n;
  return **arg && !strchr(*arg, '/');
}

static enum MHD_Result dispatch(obi_server *s, struct MHD_Connection *conn, request *rq, const char *url,
                                const char *method) {
  const char *arg = NULL;
  int found = -1, path_known = 0;
  char allow[32] = "";
  for (int i = 0; i < (int)(sizeof routes / sizeof *routes); i++) {
    const char *a = NULL;
    if (!match(url, i, &a)) continue;
    path_known = 1;
    snprintf(allow, sizeof allow, "%s", routes[i].method);
    if (!strcmp(method, routes[i].method) || (!strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
      found = i, arg = a;
      break;
    }
  }
  if (found < 0) {
    if (path_known) {
      snprintf(rq->route, sizeof rq->route, "%s", "method");
      return reply_error(conn, rq, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", allow);
    }
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
      if (!strncmp(url, "/v1/", 4) || !strncmp(url, "/admin", 6)) {
        snprintf(rq->route, sizeof rq->route, "unknown");
        return reply_error(conn, rq, MHD_HTTP_NOT_FOUND, "no such route", NULL);
      }
      return static_file(s, conn, rq, url);
    }
    snprintf(rq->route, sizeof rq->route, "unknown");
    return reply_error(conn, rq, MHD_HTTP_NOT_FOUND, "no such route", NULL);
  }
  snprintf(rq->route, sizeof rq->route, "%s", routes[found].name);
  char why[512];
  static __thread char doc[1 << 17];
  switch (found) {
  case R_HEALTH: return reply_json(conn, rq, MHD_HTTP_OK, "{\"status\":\"alive\"}");
  case R_READY: {
    if (s->hooks.ready && s->hooks.ready(s->hooks.ctx, why, sizeof why)) {
      json_t *o = json_pack("{s:b, s:s}", "ready", 0, "reason", why);
      char *t = json_dumps(o, JSON_COMPACT);
      json_decref(o);
      enum MHD_Result r = reply_json(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE, t ? t : "{\"ready\":false}");
      free(t);
      return r;
    }
    return reply_json(conn, rq, MHD_HTTP_OK, "{\"ready\":true}");
  }
  case R_INSTRUMENTS: {
    json_t *a = json_array();
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->ninstruments; i++) json_array_append_new(a, json_string(s->instruments[i]));
    pthread_mutex_unlock(&s->lock);
    json_t *o = json_pack("{s:o}", "instruments", a);
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    enum MHD_Result r = t ? reply_json(conn, rq, MHD_HTTP_OK, t) : MHD_NO;
    free(t);
    return r;
  }
  case R_BOOK: return route_book(s, conn, rq, arg);
  case R_FEATURES:
  case R_PREDICT_GET: {
    const char *type = found == R_FEATURES ? "features_full" : "prediction";
    if (serve_latest(s, type, arg, doc, sizeof doc)) {
      snprintf(why, sizeof why, "no %s for '%.60s' yet (GET /v1/instruments lists the symbols)",
               found == R_FEATURES ? "features" : "prediction", arg);
      return reply_error(conn, rq, MHD_HTTP_NOT_FOUND, why, NULL);
    }
    return reply_json(conn, rq, MHD_HTTP_OK, doc);
  }
  case R_PREDICT_POST: return route_predict_post(s, conn, rq);
  case R_STREAM: return route_stream(s, conn, rq);
  case R_METRICS: {
    char *t = serve_metrics_text(s);
    enum MHD_Result r = t ? reply(conn, rq, MHD_HTTP_OK, "text/plain; version=0.0.4", t, NULL) : MHD_NO;
    free(t);
    return r;
  }
  case R_ADMIN:
    if (!s->token[0]) {
      snprintf(rq->route, sizeof rq->route, "unknown");
      return reply_error(conn, rq, MHD_HTTP_NOT_FOUND, "admin routes are disabled (no token configured)", NULL);
    }
    return route_admin_model(s, conn, rq);
  }
  return MHD_NO;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)version;
  obi_server *s = cls;
  request *rq = *con_cls;
  if (!rq) { /* the headers */
    rq = calloc(1, sizeof *rq);
    if (!rq) return MHD_NO;
    rq->t0 = mono();
    snprintf(rq->route, sizeof rq->route, "unknown");
    *con_cls = rq;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) rq->too_large = 1;
    if (!rq->too_large) return MHD_YES;
  }
  if (*upload_size && !rq->too_large && rq->len + *upload_size > s->cfg.max_body) rq->too_large = 2;
  if (rq->too_large) {
    /* Announced by Content-Length (1): answered at once, the body is never read. Found while
     * reading a chunked body (2): the rest is read and dropped so the client sees the answer
     * (closing on unread data would reset the connection), up to 8 x max_body. */
    rq->discarded += *upload_size;
    int now = rq->too_large == 1 || !*upload_size || rq->discarded > 8 * s->cfg.max_body;
    *upload_size = 0;
    if (rq->answered || !now) return MHD_YES;
    char why[96];
    snprintf(why, sizeof why, "request body larger than %zu bytes", s->cfg.max_body);
    return reply_error(conn, rq, MHD_HTTP_CONTENT_TOO_LARGE, why, NULL);
  }
  if (*upload_size) { /* a piece of the body */
    if (!rq->too_large) {
      if (rq->len + *upload_size + 1 > rq->cap) {
        size_t cap = (rq->len + *upload_size + 1) * 2;
        char *b = realloc(rq->body, cap);
        if (!b) return MHD_NO;
        rq->body = b, rq->cap = cap;
      }
      memcpy(rq->body + rq->len, upload, *upload_size);
      rq->len += *upload_size;
      rq->body[rq->len] = 0;
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (rq->answered) return MHD_YES;
  return dispatch(s, conn, rq, url, method);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
  (void)conn, (void)toe;
  obi_server *s = cls;
  request *rq = *con_cls;
  if (!rq) return;
  char labels[160];
  snprintf(labels, sizeof labels, "route=\"%s\",code=\"%u\"", rq->route, rq->status ? rq->status : 0);
  serve_metric(s, SERVE_COUNTER, "obi_http_requests_total", labels, "HTTP requests by route and status", 1);
  snprintf(labels, sizeof labels, "route=\"%s\"", rq->route);
  serve_observe(s, "obi_http_request_duration_seconds", labels, "HTTP request latency", mono() - rq->t0);
  free(rq->body);
  free(rq);
  *con_cls = NULL;
}

obi_err serve_start(obi_server **out, const serve_config *cfg, const serve_hooks *hooks, char *why, size_t why_len) {
  *out = NULL;
  obi_server *s = calloc(1, sizeof *s);
  if (!s) return OBI_ENOMEM;
  s->cfg = *cfg;
  if (!s->cfg.sse_backlog) s->cfg.sse_backlog = 4096;
  if (s->cfg.keepalive_ms <= 0) s->cfg.keepalive_ms = 15000;
  snprintf(s->bind, sizeof s->bind, "%s", cfg->bind ? cfg->bind : "127.0.0.1");
  snprintf(s->web_dir, sizeof s->web_dir, "%s", cfg->web_dir ? cfg->web_dir : "");
  snprintf(s->token, sizeof s->token, "%s", cfg->token ? cfg->token : "");
  s->cfg.bind = s->bind, s->cfg.web_dir = s->web_dir, s->cfg.token = s->token;
  if (hooks) s->hooks = *hooks;
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->reg.lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  s->ring = calloc(s->cfg.sse_backlog, sizeof *s->ring);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
  if (!s->ring || inet_pton(AF_INET, s->bind, &addr.sin_addr) != 1) {
    snprintf(why, why_len, "%s: not an IPv4 address", s->bind);
    serve_stop(s);
    return OBI_EINVAL;
  }
  s->d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_ALLOW_SUSPEND_RESUME, (uint16_t)cfg->port, NULL,
      NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
      (unsigned)(cfg->threads > 0 ? cfg->threads : 4), MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)(cfg->max_connections > 0 ? cfg->max_connections : 128), MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)(cfg->timeout_s > 0 ? cfg->timeout_s : 30), MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
  if (!s->d) {
    snprintf(why, why_len, "%s:%d: cannot listen (%s)", s->bind, cfg->port, strerror(errno));
    serve_stop(s);
    return OBI_EIO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : cfg->port;
  if (pthread_create(&s->keepalive, NULL, keepalive_main, s) == 0) s->keepalive_running = 1;
  *out = s;
  return OBI_OK;
}

int serve_port(const obi_server *s) { return s->port; }

void serve_stop(obi_server *s) {
  if (!s) return;
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  resume_all(s);
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
  if (s->keepalive_running) pthread_join(s->keepalive, NULL);
  if (s->d) MHD_stop_daemon(s->d);
  for (size_t i = 0; i < s->nlatest; i++) free(s->latest[i].json);
  free(s->latest);
  for (size_t i = 0; s->ring && i < s->cfg.sse_backlog; i++) free(s->ring[i]);
  free(s->ring);
  for (int i = 0; i < s->ninstruments; i++) free(s->instruments[i]);
  free(s->instruments);
  registry_free(&s->reg);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->reg.lock);
  pthread_cond_destroy(&s->wake);
  free(s);
}
