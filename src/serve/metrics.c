/* metrics.c — the Prometheus registry of the server: counters, gauges and histograms by series
 * (name plus labels), rendered in the text exposition format (version 0.0.4): for each metric
 * name one "# HELP" and one "# TYPE" line, then its series; histograms as cumulative
 * name_bucket{le="..."} lines, name_sum and name_count.
 *
 * A short linear table under one mutex: a service has tens of series, and the hot path (the
 * pipeline) updates a handful per event group. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

static const double bucket_le[SERVE_BUCKETS] = {1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3,
                                                5e-3, 1e-2, 5e-2, 0.1,  0.5,  1,    10};

static serve_series *find(serve_registry *r, const char *name, const char *labels, int kind, const char *help) {
  for (size_t i = 0; i < r->n; i++)
    if (!strcmp(r->s[i].name, name) && !strcmp(r->s[i].labels, labels)) return &r->s[i];
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    serve_series *s = realloc(r->s, cap * sizeof *s);
    if (!s) return NULL;
    r->s = s, r->cap = cap;
  }
  serve_series *s = &r->s[r->n++];
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "%s", name);
  snprintf(s->labels, sizeof s->labels, "%s", labels ? labels : "");
  snprintf(s->help, sizeof s->help, "%s", help ? help : "");
  s->kind = kind;
  return s;
}

void registry_free(serve_registry *r) {
  free(r->s);
  r->s = NULL;
  r->n = r->cap = 0;
}

void serve_metric(obi_server *srv, serve_metric_kind kind, const char *name, const char *labels, const char *help,
                  double value) {
  serve_registry *r = server_registry(srv);
  pthread_mutex_lock(&r->lock);
  serve_series *s = find(r, name, labels ? labels : "", kind == SERVE_COUNTER ? 'c' : 'g', help);
  if (s) {
    if (kind == SERVE_COUNTER)
      s->value += value;
    else
      s->value = value;
  }
  pthread_mutex_unlock(&r->lock);
}

void serve_observe(obi_server *srv, const char *name, const char *labels, const char *help, double seconds) {
  serve_registry *r = server_registry(srv);
  pthread_mutex_lock(&r->lock);
  serve_series *s = find(r, name, labels ? labels : "", 'h', help);
  if (s) {
    for (int b = 0; b < SERVE_BUCKETS; b++)
      if (seconds <= bucket_le[b]) s->bucket[b]++;
    s->sum += seconds;
    s->count++;
  }
  pthread_mutex_unlock(&r->lock);
}

/* Appends to a growing string; returns -1 when memory is gone. */
static int put(char **buf, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int put(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < *cap - *len) {
      *len += (size_t)n;
      return 0;
    }
    size_t cap2 = 2 * *cap + (size_t)n;
    char *b = realloc(*buf, cap2);
    if (!b) return -1;
    *buf = b, *cap = cap2;
  }
}

static void labels_with(char *out, size_t n, const char *labels, const char *extra) {
  if (!*labels && !*extra)
    out[0] = 0;
  else
    snprintf(out, n, "{%s%s%s}", labels, *labels && *extra ? "," : "", extra);
}

char *serve_metrics_text(obi_server *srv) {
  serve_registry *r = server_registry(srv);
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  buf[0] = 0;
  int bad = 0;
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->n && !bad; i++) {
    const serve_series *first = &r->s[i];
    int seen = 0;
    for (size_t k = 0; k < i; k++) seen |= !strcmp(r->s[k].name, first->name);
    if (seen) continue; /* its name was rendered with an earlier series */
    static const char *const kinds[] = {['c'] = "counter", ['g'] = "gauge", ['h'] = "histogram"};
    bad |= put(&buf, &len, &cap, "# HELP %s %s\n# TYPE %s %s\n", first->name, first->help, first->name,
               kinds[(int)first->kind]);
    for (size_t k = i; k < r->n && !bad; k++) {
      const serve_series *s = &r->s[k];
      if (strcmp(s->name, first->name)) continue;
      char lab[600];
      if (s->kind != 'h') {
        labels_with(lab, sizeof lab, s->labels, "");
        bad |= put(&buf, &len, &cap, "%s%s %.17g\n", s->name, lab, s->value);
        continue;
      }
      for (int b = 0; b < SERVE_BUCKETS && !bad; b++) {
        char le[40];
        snprintf(le, sizeof le, "le=\"%g\"", bucket_le[b]);
        labels_with(lab, sizeof lab, s->labels, le);
        bad |= put(&buf, &len, &cap, "%s_bucket%s %llu\n", s->name, lab, (unsigned long long)s->bucket[b]);
      }
      labels_with(lab, sizeof lab, s->labels, "le=\"+Inf\"");
      bad |= put(&buf, &len, &cap, "%s_bucket%s %llu\n", s->name, lab, (unsigned long long)s->count);
      labels_with(lab, sizeof lab, s->labels, "");
      bad |= put(&buf, &len, &cap, "%s_sum%s %.17g\n%s_count%s %llu\n", s->name, lab, s->sum, s->name, lab,
                 (unsigned long long)s->count);
    }
  }
  pthread_mutex_unlock(&r->lock);
  if (bad) {
    free(buf);
    return NULL;
  }
  return buf;
}
