/* recording.c — the line format of recorded WebSocket/REST traffic (recording.h).
 *
 * A line is recognised by its shape alone: a received message starts with a digit (its
 * time); every other line starts with a URL followed by one of " <-> ", " <- ", " -> ".
 * The time is parsed as integers (seconds, then up to nine decimals), never as a double,
 * so that the interleaving of two files by receive time is exact. The reader remembers
 * the URL of the last connection line for the received messages that follow it. */
#include "obi/recording.h"
#include "../format/why.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obi/textin.h"

/* "SECONDS[.FRACTION]" at p; returns the end, or NULL. */
static const char *parse_time(const char *p, const char *end, int64_t *ns) {
  int64_t s = 0;
  const char *start = p;
  while (p < end && (unsigned)(*p - '0') < 10) {
    if (p - start >= 10) return NULL;
    s = s * 10 + (*p++ - '0');
  }
  if (p == start || s > 9000000000) return NULL; /* ns since 1970 fit an int64 until 2262 */
  int64_t frac = 0;
  int digits = 0;
  if (p < end && *p == '.') {
    const char *d = ++p;
    while (p < end && (unsigned)(*p - '0') < 10) {
      if (digits < 9) frac = frac * 10 + (*p - '0'), digits++;
      p++;
    }
    if (p == d) return NULL;
  }
  for (; digits < 9; digits++) frac *= 10;
  *ns = s * 1000000000 + frac;
  return p;
}

obi_err rec_parse_line(const char *line, size_t len, rec_line *out, char *why, size_t why_len) {
  const char *p = line, *end = line + len;
  memset(out, 0, sizeof *out);
  if (len && (unsigned)(*p - '0') < 10) { /* TIME: JSON */
    out->kind = REC_RECEIVED;
    if (!(p = parse_time(p, end, &out->recv_ns)) || end - p < 2 || p[0] != ':' || p[1] != ' ')
      return why_fail(why, why_len, OBI_EPARSE, "expected 'TIME: JSON' (a received message)");
    out->json = p + 2;
    out->json_len = (size_t)(end - p - 2);
    return OBI_OK;
  }
  const char *sp = memchr(p, ' ', len);
  if (!sp || sp == p)
    return why_fail(why, why_len, OBI_EPARSE,
                    "expected 'TIME: JSON', 'URL <-> TIME', 'URL <- TIME: JSON' or 'URL -> TIME: JSON'");
  out->url = p;
  out->url_len = (size_t)(sp - p);
  p = sp;
  size_t rest = (size_t)(end - p);
  if (rest >= 5 && !memcmp(p, " <-> ", 5)) {
    out->kind = REC_CONNECT;
    p += 5;
  } else if (rest >= 4 && !memcmp(p, " <- ", 4)) {
    out->kind = REC_SENT;
    p += 4;
  } else if (rest >= 4 && !memcmp(p, " -> ", 4)) {
    out->kind = REC_HTTP;
    p += 4;
  } else {
    return why_fail(why, why_len, OBI_EPARSE, "expected ' <-> ', ' <- ' or ' -> ' after the URL");
  }
  if (!(p = parse_time(p, end, &out->recv_ns)))
    return why_fail(why, why_len, OBI_EPARSE, "expected a time (Unix seconds with a fraction) after the direction");
  if (out->kind == REC_CONNECT) {
    if (p != end) return why_fail(why, why_len, OBI_EPARSE, "expected nothing after the time of a connection line");
    return OBI_OK;
  }
  if (end - p < 2 || p[0] != ':' || p[1] != ' ')
    return why_fail(why, why_len, OBI_EPARSE, "expected ': JSON' after the time");
  out->json = p + 2;
  out->json_len = (size_t)(end - p - 2);
  return OBI_OK;
}

struct rec_reader {
  obi_textin *in;
  char name[512];
  char err[1024];
  char *url; /* the last connection's URL */
  size_t url_len, url_cap;
};

static obi_err reader_new(rec_reader **out, obi_textin *in, const char *name) {
  rec_reader *r = calloc(1, sizeof *r);
  if (!r) {
    obi_textin_close(in);
    return OBI_ENOMEM;
  }
  r->in = in;
  snprintf(r->name, sizeof r->name, "%s", name);
  *out = r;
  return OBI_OK;
}

obi_err rec_open(rec_reader **out, const char *path, char *why, size_t why_len) {
  obi_textin *in;
  *out = NULL;
  obi_err err = obi_textin_open(&in, path);
  if (err) {
    if (why && why_len) snprintf(why, why_len, "%s: %s", path, obi_strerror(err));
    return err;
  }
  return reader_new(out, in, path);
}

obi_err rec_open_mem(rec_reader **out, const char *data, size_t len, const char *name) {
  obi_textin *in;
  *out = NULL;
  obi_err err = obi_textin_open_mem(&in, data, len);
  return err ? err : reader_new(out, in, name);
}

obi_err rec_next(rec_reader *r, rec_line *out) {
  const char *line;
  size_t len;
  obi_err err;
  do {
    err = obi_textin_line(r->in, &line, &len);
    if (err == OBI_EEOF) return err;
    if (err) {
      snprintf(r->err, sizeof r->err, "%s:%llu: %s", r->name, (unsigned long long)obi_textin_line_no(r->in) + 1,
               err == OBI_EPARSE ? "line longer than 1 MiB" : obi_strerror(err));
      return err;
    }
  } while (len == 0);
  char why[256];
  if ((err = rec_parse_line(line, len, out, why, sizeof why))) {
    snprintf(r->err, sizeof r->err, "%s:%llu: %s", r->name, (unsigned long long)obi_textin_line_no(r->in), why);
    return err;
  }
  if (out->kind == REC_CONNECT) {
    if (out->url_len > r->url_cap) {
      char *url = realloc(r->url, out->url_len);
      if (!url) return OBI_ENOMEM;
      r->url = url;
      r->url_cap = out->url_len;
    }
    memcpy(r->url, out->url, out->url_len);
    r->url_len = out->url_len;
  } else if (out->kind == REC_RECEIVED) {
    out->url = r->url;
    out->url_len = r->url_len;
  }
  return OBI_OK;
}

const char *rec_error(const rec_reader *r) { return r->err; }
uint64_t rec_line_no(const rec_reader *r) { return obi_textin_line_no(r->in); }

double rec_progress(const rec_reader *r) {
  uint64_t total = obi_textin_bytes_total(r->in);
  return total ? (double)obi_textin_bytes_read(r->in) / (double)total : 0.0;
}

void rec_close(rec_reader *r) {
  if (!r) return;
  obi_textin_close(r->in);
  free(r->url);
  free(r);
}

int rec_detect(const char *path) {
  obi_textin *in;
  obi_err err = obi_textin_open(&in, path);
  if (err) return err;
  const char *line;
  size_t len;
  while ((err = obi_textin_line(in, &line, &len)) == OBI_OK && len == 0) {
  }
  rec_line l;
  int found = err == OBI_OK && rec_parse_line(line, len, &l, NULL, 0) == OBI_OK &&
              (l.kind == REC_CONNECT || l.kind == REC_HTTP);
  obi_textin_close(in);
  return err == OBI_OK || err == OBI_EEOF ? found : err;
}
