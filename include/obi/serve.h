/* serve.h — the prediction service: an HTTP API on libmicrohttpd, a Server-Sent-Events stream,
 * Prometheus metrics and the dashboard's static files (docs/api.md).
 *
 * The server knows nothing of books or models: the pipeline (a replay or a live feed, in the
 * CLI) publishes JSON documents — the latest per (type, symbol) answers GET routes, and the
 * ones marked for streaming go to every SSE client — and the server calls hooks for what needs
 * the model (POST /v1/predict, POST /admin/model, GET /ready).
 *
 * Threads: libmicrohttpd's internal thread pool (epoll) handles connections; an SSE client
 * whose queue is empty is suspended (no thread waits for it) and resumed when something is
 * published or when a keep-alive comment is due. serve_publish may be called from any thread.
 * Limits: bodies larger than max_body get 413, requests time out after timeout_s, at most
 * max_connections at once. Admin routes need "Authorization: Bearer <token>", compared in
 * constant time; with no token configured they answer 404 (disabled). */
#ifndef OBI_SERVE_H
#define OBI_SERVE_H
#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

typedef struct {
  const char *bind;    /* address to listen on; default "127.0.0.1" */
  int port;            /* 0: an ephemeral port (serve_port tells which) */
  int threads;         /* worker threads (default 4) */
  int max_connections; /* default 128 */
  size_t max_body;     /* bytes; default 1 MiB */
  int timeout_s;       /* idle connection timeout; default 30 */
  const char *web_dir; /* the dashboard's files, served at / (NULL: none) */
  const char *token;   /* admin bearer token; NULL or "" disables the admin routes */
  int keepalive_ms;    /* SSE comment when nothing was sent for this long (default 15000) */
  size_t sse_backlog;  /* events kept for slow SSE clients (default 4096); older ones are skipped */
} serve_config;

void serve_config_default(serve_config *c);

/* What the server asks of the application. Each returns 0, or -1 with why filled (the
 * message of a 400 / 503 answer). */
typedef struct {
  /* POST /v1/predict: T rows of C named features (row-major); names must match the model's. model
   * gets JSON members to add to the answer ("model": ..., "version": ...), or "". */
  int (*predict)(void *ctx, const char *const *names, int C, const float *rows, int T, float probs[3], char *model,
                 size_t model_len, char *why, size_t why_len);
  /* POST /admin/model {"path": "..."}: load and swap the model; requests in flight finish on the old one. */
  int (*reload)(void *ctx, const char *path, char *why, size_t why_len);
  /* GET /ready: books synced and a model loaded. */
  int (*ready)(void *ctx, char *why, size_t why_len);
  void *ctx;
} serve_hooks;

typedef struct obi_server obi_server;

/* Starts listening. OBI_EIO with why ("127.0.0.1:8080: address in use") when it cannot. */
obi_err serve_start(obi_server **out, const serve_config *cfg, const serve_hooks *hooks, char *why, size_t why_len);
int serve_port(const obi_server *s);
/* Graceful stop: SSE streams end, connections in flight finish, then the daemon stops. Accepts NULL. */
void serve_stop(obi_server *s);

/* The instruments for GET /v1/instruments (copied). */
void serve_set_instruments(obi_server *s, const char *const *symbols, int n);
/* Publishes a JSON document of a type ("book", "features", "prediction", "signal", "position",
 * "risk", "monitor") for a symbol ("" for none): it becomes the latest of its (type, symbol) and,
 * when stream is set, an SSE event "event: type\ndata: json\n\n" for every client. */
void serve_publish(obi_server *s, const char *type, const char *symbol, const char *json, int stream);
/* The latest document of (type, symbol) copied into out (NUL-terminated); 0, or -1 if none. */
int serve_latest(obi_server *s, const char *type, const char *symbol, char *out, size_t out_len);

/* ---- metrics (Prometheus text format at GET /metrics) ---- */
typedef enum { SERVE_COUNTER, SERVE_GAUGE } serve_metric_kind;
/* Adds to (counter) or sets (gauge) the series name{labels} (labels "" or `a="x",b="y"`). The
 * help text of a metric name is taken from its first call. */
void serve_metric(obi_server *s, serve_metric_kind kind, const char *name, const char *labels, const char *help,
                  double value);
/* Observes a value (seconds) into the histogram name{labels} (buckets from 1 us to 10 s). */
void serve_observe(obi_server *s, const char *name, const char *labels, const char *help, double seconds);
/* The text of GET /metrics (caller frees). */
char *serve_metrics_text(obi_server *s);

#endif
