/* recsource.c — a recording of exchange traffic as a source (see recsource.h). */
#include "recsource.h"

#include <stdlib.h>
#include <string.h>

#include "obi/recording.h"

/* The two files of a recording read in receive-time order (the WebSocket file first on
 * equal times): what the feed handler saw, in the order it saw it. */
typedef struct {
  rec_reader *in[2]; /* WebSocket messages, REST responses (may be NULL) */
  rec_line line[2];
  int have[2];
  int failed; /* the reader that returned an error */
} rec_merge;

static obi_err merge_fill(rec_merge *m, int k) {
  if (!m->in[k] || m->have[k]) return OBI_OK;
  obi_err err = rec_next(m->in[k], &m->line[k]);
  if (err == OBI_EEOF) return OBI_OK;
  m->failed = k;
  if (err) return err;
  m->have[k] = 1;
  return OBI_OK;
}

/* The next line of either file into *line, *from = 0 (WebSocket) or 1 (REST); OBI_EEOF at the end. */
static obi_err merge_next(rec_merge *m, rec_line *line, int *from) {
  obi_err err;
  if ((err = merge_fill(m, 0)) || (err = merge_fill(m, 1))) return err;
  if (!m->have[0] && !m->have[1]) return OBI_EEOF;
  int k = !m->have[0] || (m->have[1] && m->line[1].recv_ns < m->line[0].recv_ns);
  *line = m->line[k];
  m->have[k] = 0;
  *from = k;
  return OBI_OK;
}

/* The value of a URL query parameter (symbol=, limit=), or NULL. */
static const char *url_param(const char *url, size_t len, const char *key, size_t *vlen) {
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl < len; i++) {
    if ((url[i] != '?' && url[i] != '&') || strncmp(url + i + 1, key, kl) || url[i + 1 + kl] != '=') continue;
    const char *v = url + i + 2 + kl, *end = url + len;
    const char *e = v;
    while (e < end && *e != '&') e++;
    *vlen = (size_t)(e - v);
    return v;
  }
  return NULL;
}

/* One pass over the recording through a feed, a line at a time. */
struct rec_pass {
  rec_merge m;
  feed *f;
  const char *ws_path, *http_path;
  rec_counts *c;
  cli_progress *progress;
  uint64_t n;
};

static void pass_close(rec_pass *p) {
  if (!p) return;
  rec_close(p->m.in[0]);
  rec_close(p->m.in[1]);
  free(p);
}

static obi_err pass_open(rec_pass **out, feed *f, const char *ws_path, const char *http_path, rec_counts *c, char *msg,
                         size_t msg_len) {
  rec_pass *p = calloc(1, sizeof *p);
  *out = NULL;
  if (!p) return OBI_ENOMEM;
  p->f = f, p->ws_path = ws_path, p->http_path = http_path, p->c = c;
  memset(c, 0, sizeof *c);
  obi_err err = rec_open(&p->m.in[0], ws_path, msg, msg_len);
  if (!err && http_path) err = rec_open(&p->m.in[1], http_path, msg, msg_len);
  if (err) {
    pass_close(p);
    return err;
  }
  *out = p;
  return OBI_OK;
}

/* The next line through the feed: OBI_OK, OBI_EEOF at the end, or an error that stops the pass
 * (msg set). Lines the feed rejects are counted, the first described. */
static obi_err pass_step(rec_pass *p, char *msg, size_t msg_len) {
  rec_line l;
  int from = 0;
  obi_err err = merge_next(&p->m, &l, &from);
  if (err) {
    if (err != OBI_EEOF && p->m.in[p->m.failed]) snprintf(msg, msg_len, "%s", rec_error(p->m.in[p->m.failed]));
    return err;
  }
  feed *f = p->f;
  rec_counts *c = p->c;
  const char *name = from ? p->http_path : p->ws_path;
  if ((++p->n & 0x3ff) == 0 && p->progress) cli_progress_update(p->progress, rec_progress(p->m.in[0]), p->n);
  obi_err fe = OBI_OK;
  if (l.kind == REC_CONNECT) {
    if (c->connections++) feed_reset(f, l.recv_ns);
  } else if (l.kind == REC_SENT) {
    c->sent++;
  } else if (l.kind == REC_RECEIVED) {
    c->received++;
    fe = feed_on_message(f, l.recv_ns, l.json, l.json_len);
  } else { /* a REST response: a depth snapshot for the symbol its URL names */
    c->rest++;
    size_t sl;
    const char *sv = url_param(l.url, l.url_len, "symbol", &sl);
    int sym = sv ? feed_find_symbol(f, sv, sl) : -1;
    if (sv && sym < 0) {
      char name_buf[64];
      snprintf(name_buf, sizeof name_buf, "%.*s", (int)(sl < 63 ? sl : 63), sv);
      sym = feed_add_symbol(f, name_buf, -1, -1);
    }
    if (sym < 0) {
      if (c->errors_reported++ == 0)
        snprintf(c->first_error, sizeof c->first_error, "%s:%llu: a REST response whose URL names no symbol", name,
                 (unsigned long long)rec_line_no(p->m.in[from]));
      return OBI_OK;
    }
    fe = feed_on_snapshot(f, sym, l.recv_ns, l.json, l.json_len);
  }
  if (fe == OBI_ENOMEM || fe == OBI_EINVARIANT || fe == OBI_EINVAL) {
    snprintf(msg, msg_len, "%s:%llu: %s", name, (unsigned long long)rec_line_no(p->m.in[from]),
             fe == OBI_EINVARIANT ? feed_last_error(f) : obi_strerror(fe));
    return fe;
  }
  if (fe && c->errors_reported++ == 0)
    snprintf(c->first_error, sizeof c->first_error, "%s:%llu: %s", name, (unsigned long long)rec_line_no(p->m.in[from]),
             feed_last_error(f));
  return OBI_OK;
}

/* A whole pass. Returns OBI_OK or an error that stopped it (msg set). */
static obi_err replay_pass(feed *f, const char *ws_path, const char *http_path, rec_counts *c, cli_progress *progress,
                           char *msg, size_t msg_len) {
  rec_pass *p;
  obi_err err = pass_open(&p, f, ws_path, http_path, c, msg, msg_len);
  if (err) return err;
  p->progress = progress;
  while ((err = pass_step(p, msg, msg_len)) == OBI_OK) continue;
  pass_close(p);
  return err == OBI_EEOF ? OBI_OK : err;
}

/* Reads the first line of a recording: its kind and URL (copied into url). */
static obi_err first_line(const char *path, int *kind, char *url, size_t url_cap, char *msg, size_t msg_len) {
  rec_reader *r;
  rec_line l;
  obi_err err = rec_open(&r, path, msg, msg_len);
  if (err) return err;
  err = rec_next(r, &l);
  if (err == OBI_EEOF)
    snprintf(msg, msg_len, "%s: empty recording", path);
  else if (err)
    snprintf(msg, msg_len, "%s", rec_error(r));
  else {
    *kind = l.kind;
    snprintf(url, url_cap, "%.*s", (int)l.url_len, l.url ? l.url : "");
  }
  rec_close(r);
  return err;
}

#define FAIL(...) (snprintf(why, why_len, __VA_ARGS__), OBI_EINVAL)

obi_err recsource_open(rec_source *s, const char *ws_path, const char *http_path, int venue, feed_event_fn on_event,
                       void (*on_message_end)(void *), void *ctx, char *why, size_t why_len) {
  char msg[1200] = "", http_url[2048] = "";
  int kind[2] = {0, 0};
  memset(s, 0, sizeof *s);
  obi_err err = first_line(ws_path, &kind[0], s->url, sizeof s->url, msg, sizeof msg);
  if (!err && http_path) err = first_line(http_path, &kind[1], http_url, sizeof http_url, msg, sizeof msg);
  if (err) return FAIL("%s", msg);
  if (kind[0] == REC_HTTP && http_path && kind[1] == REC_CONNECT) { /* given the other way round */
    const char *t = ws_path;
    ws_path = http_path, http_path = t;
    char tmp[2048];
    memcpy(tmp, s->url, sizeof tmp), memcpy(s->url, http_url, sizeof s->url), memcpy(http_url, tmp, sizeof tmp);
  } else if (kind[0] != REC_CONNECT) {
    return FAIL("%s:1: a WebSocket recording starts with 'URL <-> TIME'", ws_path);
  }
  if (http_path && kind[0] == kind[1])
    return FAIL("%s: expected REST responses ('URL -> TIME: JSON') beside the WebSocket recording %s", http_path,
                ws_path);
  if (venue < 0) venue = feed_venue_from_url(s->url, strlen(s->url));
  if (venue < 0) return FAIL("%s:1: cannot tell the venue from the URL '%s' (use --venue)", ws_path, s->url);
  if (http_path && venue != FEED_BINANCE_SPOT && venue != FEED_BINANCE_FUTURES)
    return FAIL("%s: REST snapshots belong to Binance recordings; %s is %s", http_path, ws_path,
                feed_venue_name(venue));
  s->ws_path = ws_path, s->http_path = http_path, s->venue = venue;
  feed_config cfg = {.add_unknown_symbols = 1, .scan_only = 1};
  size_t ll;
  const char *lv = http_path ? url_param(http_url, strlen(http_url), "limit", &ll) : NULL;
  if (lv) cfg.snapshot_limit = (uint32_t)strtoul(lv, NULL, 10);

  /* Pass 1 learns every symbol and the decimals its values use; pass 2 replays with
   * exactly those scales, so no value of the recording can fall outside them. */
  feed *scan = NULL;
  rec_counts counts;
  obi_err rc = OBI_OK;
  if (feed_new(&scan, (feed_venue)venue, &cfg) ||
      replay_pass(scan, ws_path, http_path, &counts, NULL, msg, sizeof msg)) {
    rc = FAIL("%s", msg[0] ? msg : "out of memory");
    goto done;
  }
  cfg.scan_only = 0, cfg.on_event = on_event, cfg.on_message_end = on_message_end, cfg.ctx = ctx;
  if (feed_new(&s->f, (feed_venue)venue, &cfg)) {
    rc = FAIL("out of memory");
    goto done;
  }
  for (int i = 0; i < feed_symbol_count(scan); i++) {
    int pd, sd;
    feed_symbol_decimals(scan, i, &pd, &sd);
    if (pd < 0 || sd < 0) pd = sd = -1;
    if (feed_add_symbol(s->f, feed_symbol_name(scan, i), pd, sd) < 0) {
      rc = FAIL("out of memory");
      goto done;
    }
  }
done:
  feed_free(scan);
  if (rc) recsource_close(s);
  return rc;
}

#undef FAIL

obi_err recsource_replay(rec_source *s, rec_counts *c, cli_progress *progress, char *msg, size_t msg_len) {
  return replay_pass(s->f, s->ws_path, s->http_path, c, progress, msg, msg_len);
}

void recsource_warn_skipped(const rec_counts *c) {
  uint64_t n = c->errors_reported;
  if (n)
    fprintf(stderr,
            "obi: %llu malformed or unusable line%s of the recording skipped (as obi replay counts them); the "
            "first: %s\n",
            (unsigned long long)n, n == 1 ? "" : "s", c->first_error);
}

obi_err recsource_start(rec_source *s, rec_counts *c, char *msg, size_t msg_len) {
  pass_close(s->pass);
  return pass_open(&s->pass, s->f, s->ws_path, s->http_path, c, msg, msg_len);
}

obi_err recsource_step(rec_source *s, char *msg, size_t msg_len) {
  return s->pass ? pass_step(s->pass, msg, msg_len) : OBI_EEOF;
}

double recsource_progress(const rec_source *s) { return s->pass ? rec_progress(s->pass->m.in[0]) : 0; }

void recsource_close(rec_source *s) {
  pass_close(s->pass);
  s->pass = NULL;
  feed_free(s->f);
  s->f = NULL;
}
