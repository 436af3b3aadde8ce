/* cmd_record.c — `obi record`: a live feed to zstd files, in the line format of the cryptofeed
 * recordings in ../shared/data/crypto/cryptofeed (see docs/ws.md):
 *
 *   URL <-> T              a connection opened (first line of every file)
 *   URL <- T: TEXT         a message the client sent (Coinbase's subscribe)
 *   T: TEXT                a message received, T its receive time
 *   URL -> T: BODY         a REST response, in the sibling .http file (Binance depth snapshots)
 *
 * T is Unix time in seconds with nine decimals (the receive time the transport took, in ns).
 * Messages are written as they arrive into a streaming zstd compressor; at least once a second
 * the frame is ended and the file flushed, so a crash loses at most the last second, and each
 * file is a sequence of complete zstd frames that `zstd -d` and obi's readers take. Files
 * rotate by compressed size and by time; every rotated file starts with the `<->` line of the
 * connection in progress (same URL and time: the same connection, not a new one), and for
 * Binance the depth snapshots are fetched again so that each file pair can be replayed alone.
 * The snapshot is fetched inside the client's event loop, so messages keep their receive times
 * while the request waits. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "cli.h"
#include "obi/ws.h"

enum { VENUE_BINANCE = 1, VENUE_COINBASE };

typedef struct {
  FILE *f;
  ZSTD_CCtx *z;
  char path[4096];
  uint64_t bytes_out; /* compressed bytes written */
  int dirty;          /* data since the last frame end */
} zfile;

typedef struct {
  int venue;
  int futures; /* Binance USD-M futures (fstream / fapi) instead of spot */
  char **symbols;
  int n_symbols;
  char ws_url[8192], rest_base[2048], subscribe[8192];
  char base[4096], suffix[8];
  int segment;
  zfile ws, http;
  double rotate_bytes;
  int64_t rotate_ns, segment_started, last_flush;
  int connected;
  int64_t connect_ns;
  /* Binance snapshots: symbols still to fetch on this connection or segment */
  int snap_next, snap_req, snap_inflight, snap_pending;
  int64_t snap_retry_at;
  const char *ca_file;
  ws_client *c;
  int quiet, failed;
  char error[8800];
  uint64_t messages, bytes, sent, snapshots, snapshot_failures, connects;
  char **files;
  int n_files;
  unsigned char *zbuf;
  size_t zbuf_cap;
} recorder;

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static int64_t mono_ns(void) { return (int64_t)(cli_now() * 1e9); }

/* ---- zstd files ---- */

static void rec_fail(recorder *r, const char *fmt, const char *path) {
  if (r->failed) return;
  r->failed = 1;
  snprintf(r->error, sizeof r->error, fmt, path, strerror(errno));
}

static int zfile_open(recorder *r, zfile *z, const char *path) {
  snprintf(z->path, sizeof z->path, "%s", path);
  z->f = fopen(path, "wx"); /* never overwrite a recording */
  if (!z->f) {
    rec_fail(r, "%s: cannot create (%s)", path);
    return -1;
  }
  z->z = ZSTD_createCCtx();
  if (!z->z) {
    errno = ENOMEM;
    rec_fail(r, "%s: %s", path);
    return -1;
  }
  ZSTD_CCtx_setParameter(z->z, ZSTD_c_compressionLevel, 3);
  z->bytes_out = 0;
  z->dirty = 0;
  char **files = realloc(r->files, (size_t)(r->n_files + 1) * sizeof *files);
  if (files) {
    r->files = files;
    r->files[r->n_files] = malloc(strlen(path) + 1);
    if (r->files[r->n_files]) strcpy(r->files[r->n_files++], path);
  }
  return 0;
}

/* Feeds [data, data+len) to the compressor; end closes the frame and flushes the file. */
static int zfile_put(recorder *r, zfile *z, const void *data, size_t len, int end) {
  if (!z->f) return -1;
  ZSTD_inBuffer in = {data, len, 0};
  ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
  for (;;) {
    ZSTD_outBuffer out = {r->zbuf, r->zbuf_cap, 0};
    size_t left = ZSTD_compressStream2(z->z, &out, &in, mode);
    if (ZSTD_isError(left)) {
      errno = EIO;
      rec_fail(r, "%s: zstd: %s", z->path);
      return -1;
    }
    if (out.pos && fwrite(r->zbuf, 1, out.pos, z->f) != out.pos) {
      rec_fail(r, "%s: write failed (%s)", z->path);
      return -1;
    }
    z->bytes_out += out.pos;
    if (end ? left == 0 : in.pos == in.size) break;
  }
  if (end) {
    z->dirty = 0;
    if (fflush(z->f)) {
      rec_fail(r, "%s: write failed (%s)", z->path);
      return -1;
    }
  } else if (len) {
    z->dirty = 1;
  }
  return 0;
}

static int zfile_close(recorder *r, zfile *z) {
  if (!z->f) return 0;
  int rc = z->dirty ? zfile_put(r, z, "", 0, 1) : 0;
  if (fclose(z->f) && !rc) {
    rec_fail(r, "%s: close failed (%s)", z->path);
    rc = -1;
  }
  ZSTD_freeCCtx(z->z);
  z->f = NULL;
  z->z = NULL;
  return rc;
}

/* ---- lines ---- */

static int fmt_time(char *dst, int64_t ns) {
  return sprintf(dst, "%lld.%09lld", (long long)(ns / 1000000000LL), (long long)(ns % 1000000000LL));
}

/* Writes prefix + text + "\n"; line breaks inside the text (only possible as JSON whitespace)
 * become spaces so that one message stays one line. */
static int put_line(recorder *r, zfile *z, const char *prefix, const char *text, size_t len, int end) {
  if (zfile_put(r, z, prefix, strlen(prefix), 0)) return -1;
  size_t from = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n' || text[i] == '\r') {
      if (zfile_put(r, z, text + from, i - from, 0) || zfile_put(r, z, " ", 1, 0)) return -1;
      from = i + 1;
    }
  return zfile_put(r, z, text + from, len - from, 0) || zfile_put(r, z, "\n", 1, end);
}

static void segment_path(const recorder *r, char *dst, size_t cap, int http) {
  char idx[16] = "";
  if (r->segment) snprintf(idx, sizeof idx, ".%04d", r->segment);
  snprintf(dst, cap, "%s%s%s%s", r->base, idx, http ? ".http" : "", r->suffix);
}

static void write_connect_line(recorder *r) {
  char prefix[8300], t[32];
  fmt_time(t, r->connect_ns);
  snprintf(prefix, sizeof prefix, "%s <-> %s", r->ws_url, t);
  put_line(r, &r->ws, prefix, "", 0, 0);
}

static void queue_snapshots(recorder *r) {
  if (r->venue != VENUE_BINANCE) return;
  r->snap_next = 0;
  r->snap_pending = 1;
  r->snap_retry_at = 0;
}

static int open_segment(recorder *r) {
  char path[4200];
  segment_path(r, path, sizeof path, 0);
  if (zfile_open(r, &r->ws, path)) return -1;
  r->segment_started = mono_ns();
  r->last_flush = r->segment_started;
  if (r->connected) {
    write_connect_line(r);
    queue_snapshots(r);
  }
  return 0;
}

static int rotate(recorder *r) {
  if (zfile_close(r, &r->ws) || zfile_close(r, &r->http)) return -1;
  r->segment++;
  return open_segment(r);
}

/* ---- callbacks ---- */

static void on_message(void *ctx, int64_t recv_ns, const char *text, size_t len) {
  recorder *r = ctx;
  char prefix[48];
  int n = fmt_time(prefix, recv_ns);
  memcpy(prefix + n, ": ", 3);
  put_line(r, &r->ws, prefix, text, len, 0);
  r->messages++;
  r->bytes += len;
}

static void on_send(void *ctx, int64_t ns, const char *text, size_t len) {
  recorder *r = ctx;
  char prefix[8300], t[32];
  fmt_time(t, ns);
  snprintf(prefix, sizeof prefix, "%s <- %s: ", r->ws_url, t);
  put_line(r, &r->ws, prefix, text, len, 0);
  r->sent++;
}

static void on_state(void *ctx, ws_state st, const char *reason) {
  recorder *r = ctx;
  if (st == WS_OPEN) {
    r->connected = 1;
    r->connects++;
    r->connect_ns = ws_now_ns();
    write_connect_line(r);
    queue_snapshots(r);
    if (!r->quiet) fprintf(stderr, "obi record: connected to %s\n", r->ws_url);
  } else if (st == WS_CLOSED) {
    if (r->connected && !r->quiet)
      fprintf(stderr, "obi record: connection closed: %s\n", reason);
    else if (!r->quiet && strncmp(reason, "closed by request", 17))
      fprintf(stderr, "obi record: %s\n", reason);
    r->connected = 0;
  } else if (st == WS_BACKOFF && !r->quiet) {
    fprintf(stderr, "obi record: %s\n", reason);
  }
}

static void start_snapshot(recorder *r);

/* The REST depth snapshot of symbol i: spot /api/v3/depth (limit 5000), futures /fapi/v1/depth (limit 1000). */
static void snapshot_url(const recorder *r, int i, char *url, size_t cap) {
  snprintf(url, cap, "%s/%s?symbol=%s&limit=%d", r->rest_base, r->futures ? "fapi/v1/depth" : "api/v3/depth",
           r->symbols[i], r->futures ? 1000 : 5000);
}

static void on_snapshot(void *ctx, obi_err err, const ws_http_response *resp) {
  recorder *r = ctx;
  r->snap_inflight = 0;
  char url[2300];
  snapshot_url(r, r->snap_req, url, sizeof url);
  if (err || resp->status != 200) {
    r->snapshot_failures++;
    if (!r->quiet) {
      if (err)
        fprintf(stderr, "obi record: snapshot %s: %s; retrying in 5 s\n", url, resp->error);
      else
        fprintf(stderr, "obi record: snapshot %s: HTTP %d %.200s; retrying in 5 s\n", url, resp->status,
                resp->body ? resp->body : "");
    }
    r->snap_retry_at = mono_ns() + 5000000000LL;
    return;
  }
  if (!r->http.f) {
    char path[4200];
    segment_path(r, path, sizeof path, 1);
    if (zfile_open(r, &r->http, path)) return;
  }
  char prefix[2400], t[32];
  fmt_time(t, resp->recv_ns);
  snprintf(prefix, sizeof prefix, "%s -> %s: ", url, t);
  put_line(r, &r->http, prefix, resp->body, resp->len, 1);
  r->snapshots++;
  /* unless the queue was restarted meanwhile (a reconnect or a rotation), go on to the next */
  if (r->snap_req == r->snap_next && ++r->snap_next >= r->n_symbols) r->snap_pending = 0;
}

static void start_snapshot(recorder *r) {
  if (!r->snap_pending || r->snap_inflight || !r->connected || mono_ns() < r->snap_retry_at) return;
  char url[2300];
  snapshot_url(r, r->snap_next, url, sizeof url);
  if (ws_client_http_get(r->c, url, 10000, 0, on_snapshot, r) == OBI_OK)
    r->snap_inflight = 1, r->snap_req = r->snap_next;
  else
    r->snap_retry_at = mono_ns() + 5000000000LL;
}

/* ---- options ---- */

static int split_symbols(recorder *r, const char *list, int venue) {
  const char *p = list;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 0 || n > 40) return -1;
    char *s = malloc(n + 1), **more = realloc(r->symbols, (size_t)(r->n_symbols + 1) * sizeof *more);
    if (!s || !more) {
      free(s);
      if (more) r->symbols = more;
      return -1;
    }
    r->symbols = more;
    for (size_t i = 0; i < n; i++) {
      unsigned char ch = (unsigned char)p[i];
      if (!(isalnum(ch) || (venue == VENUE_COINBASE && ch == '-'))) {
        free(s);
        return -1;
      }
      s[i] = (char)toupper(ch);
    }
    s[n] = 0;
    r->symbols[r->n_symbols++] = s;
    p = e ? e + 1 : p + n;
  }
  return r->n_symbols ? 0 : -1;
}

static void strip_slash(char *s) {
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '/') s[--n] = 0;
}

static int build_urls(recorder *r, const char *endpoint, const char *rest, const char *channels) {
  if (r->venue == VENUE_BINANCE) {
    char root[2048];
    snprintf(root, sizeof root, "%s",
             endpoint     ? endpoint
             : r->futures ? "wss://fstream.binance.com"
                          : "wss://stream.binance.com:9443");
    strip_slash(root);
    size_t n = (size_t)snprintf(r->ws_url, sizeof r->ws_url, "%s/stream?streams=", root);
    for (int i = 0; i < r->n_symbols && n < sizeof r->ws_url; i++) {
      char lower[64];
      size_t k = 0;
      for (; r->symbols[i][k] && k < sizeof lower - 1; k++) lower[k] = (char)tolower((unsigned char)r->symbols[i][k]);
      lower[k] = 0;
      n += (size_t)snprintf(r->ws_url + n, sizeof r->ws_url - n, "%s%s@depth@100ms/%s@%s", i ? "/" : "", lower, lower,
                            r->futures ? "aggTrade" : "trade");
    }
    if (n >= sizeof r->ws_url) return -1;
    snprintf(r->rest_base, sizeof r->rest_base, "%s",
             rest         ? rest
             : r->futures ? "https://fapi.binance.com"
                          : "https://api.binance.com");
    strip_slash(r->rest_base);
    ws_url u;
    if (ws_url_parse(&u, r->rest_base) || strncmp(r->rest_base, "http", 4)) return -1;
  } else {
    snprintf(r->ws_url, sizeof r->ws_url, "%s", endpoint ? endpoint : "wss://ws-feed.exchange.coinbase.com");
    size_t n = (size_t)snprintf(r->subscribe, sizeof r->subscribe, "{\"type\":\"subscribe\",\"product_ids\":[");
    for (int i = 0; i < r->n_symbols && n < sizeof r->subscribe; i++)
      n += (size_t)snprintf(r->subscribe + n, sizeof r->subscribe - n, "%s\"%s\"", i ? "," : "", r->symbols[i]);
    n += (size_t)snprintf(r->subscribe + n, sizeof r->subscribe - n, "],\"channels\":[");
    const char *p = channels ? channels : "level2,matches";
    for (int i = 0; *p && n < sizeof r->subscribe; i++) {
      const char *e = strchr(p, ',');
      size_t len = e ? (size_t)(e - p) : strlen(p);
      for (size_t k = 0; k < len; k++)
        if (!(isalnum((unsigned char)p[k]) || p[k] == '_')) return -1;
      n += (size_t)snprintf(r->subscribe + n, sizeof r->subscribe - n, "%s\"%.*s\"", i ? "," : "", (int)len, p);
      p = e ? e + 1 : p + len;
    }
    n += (size_t)snprintf(r->subscribe + n, sizeof r->subscribe - n, "]}");
    if (n >= sizeof r->subscribe) return -1;
  }
  ws_url u;
  return ws_url_parse(&u, r->ws_url) || strncmp(r->ws_url, "ws", 2) ? -1 : 0;
}

static void print_summary(recorder *r, int json, double seconds) {
  if (json) {
    printf("{\"venue\":\"%s\",\"url\":\"%s\",\"seconds\":%.3f,\"messages\":%llu,\"bytes\":%llu,\"sent\":%llu,"
           "\"connects\":%llu,\"snapshots\":%llu,\"snapshot_failures\":%llu,\"files\":[",
           r->venue == VENUE_BINANCE ? (r->futures ? "binance-futures" : "binance") : "coinbase", r->ws_url, seconds,
           (unsigned long long)r->messages, (unsigned long long)r->bytes, (unsigned long long)r->sent,
           (unsigned long long)r->connects, (unsigned long long)r->snapshots, (unsigned long long)r->snapshot_failures);
    for (int i = 0; i < r->n_files; i++) printf("%s\"%s\"", i ? "," : "", r->files[i]);
    printf("]}\n");
  } else if (!r->quiet) {
    fprintf(stderr, "obi record: %llu messages (%llu bytes) in %.1f s, %llu connection%s, %llu snapshot%s, %d file%s\n",
            (unsigned long long)r->messages, (unsigned long long)r->bytes, seconds, (unsigned long long)r->connects,
            r->connects == 1 ? "" : "s", (unsigned long long)r->snapshots, r->snapshots == 1 ? "" : "s", r->n_files,
            r->n_files == 1 ? "" : "s");
  }
}

static void recorder_free(recorder *r) {
  for (int i = 0; i < r->n_symbols; i++) free(r->symbols[i]);
  free(r->symbols);
  for (int i = 0; i < r->n_files; i++) free(r->files[i]);
  free(r->files);
  free(r->zbuf);
}

static int cmd_record(int argc, char **argv) {
  recorder r;
  memset(&r, 0, sizeof r);
  const char *out = NULL, *endpoint = NULL, *rest = NULL, *channels = NULL, *list = NULL;
  double duration = 0, rotate_mb = 0, rotate_min = 0;
  int json = 0, rc = EXIT_USAGE;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    if (!strcmp(o, "--json"))
      json = 1;
    else if (!strcmp(o, "--quiet"))
      r.quiet = 1;
    else if ((!strcmp(o, "--binance") || !strcmp(o, "--binance-futures") || !strcmp(o, "--coinbase")) && v) {
      if (r.venue) {
        rc = cli_usage_error(&cmd_record_def, "one venue at a time: --binance, --binance-futures or --coinbase");
        goto done;
      }
      r.venue = o[2] == 'b' ? VENUE_BINANCE : VENUE_COINBASE;
      r.futures = !strcmp(o, "--binance-futures");
      list = v, i++;
    } else if (!strcmp(o, "--out") && v)
      out = v, i++;
    else if (!strcmp(o, "--endpoint") && v)
      endpoint = v, i++;
    else if (!strcmp(o, "--rest-endpoint") && v)
      rest = v, i++;
    else if (!strcmp(o, "--channels") && v)
      channels = v, i++;
    else if (!strcmp(o, "--ca-file") && v)
      r.ca_file = v, i++;
    else if (!strcmp(o, "--duration") && v) {
      duration = strtod(v, &end), i++;
      if (*end || !(duration > 0 && duration < 1e9)) {
        rc = cli_usage_error(&cmd_record_def, "--duration: seconds > 0");
        goto done;
      }
    } else if (!strcmp(o, "--rotate-mb") && v) {
      rotate_mb = strtod(v, &end), i++;
      if (*end || !(rotate_mb > 0 && rotate_mb < 1e9)) {
        rc = cli_usage_error(&cmd_record_def, "--rotate-mb: megabytes > 0 (fractions allowed)");
        goto done;
      }
    } else if (!strcmp(o, "--rotate-minutes") && v) {
      rotate_min = strtod(v, &end), i++;
      if (*end || !(rotate_min > 0 && rotate_min < 1e7)) {
        rc = cli_usage_error(&cmd_record_def, "--rotate-minutes: minutes > 0 (fractions allowed)");
        goto done;
      }
    } else {
      rc = cli_usage_error(&cmd_record_def, "unknown option or missing value: '%s'", o);
      goto done;
    }
  }
  if (!r.venue || !out) {
    rc = cli_usage_error(&cmd_record_def, "needs --binance SYMBOLS or --coinbase PRODUCTS, and --out FILE");
    goto done;
  }
  if (split_symbols(&r, list, r.venue)) {
    rc = cli_usage_error(&cmd_record_def, "bad symbol list '%s' (comma-separated, letters and digits%s)", list,
                         r.venue == VENUE_COINBASE ? " and '-'" : "");
    goto done;
  }
  if (r.venue == VENUE_COINBASE && rest) {
    rc = cli_usage_error(&cmd_record_def, "--rest-endpoint is for Binance (the depth snapshot)");
    goto done;
  }
  if (build_urls(&r, endpoint, rest, channels)) {
    rc = cli_usage_error(&cmd_record_def, "bad --endpoint, --rest-endpoint or --channels");
    goto done;
  }
  size_t ol = strlen(out);
  if (ol >= sizeof r.base) {
    rc = cli_usage_error(&cmd_record_def, "--out: path too long");
    goto done;
  }
  snprintf(r.base, sizeof r.base, "%s", out);
  if (ol > 4 && !strcmp(out + ol - 4, ".zst")) {
    r.base[ol - 4] = 0;
    strcpy(r.suffix, ".zst");
  }
  r.rotate_bytes = rotate_mb * 1048576.0;
  r.rotate_ns = (int64_t)(rotate_min * 60e9);
  r.zbuf_cap = ZSTD_CStreamOutSize();
  r.zbuf = malloc(r.zbuf_cap);
  if (!r.zbuf) {
    rc = cli_input_error("out of memory");
    goto done;
  }
  if (open_segment(&r)) {
    rc = cli_input_error("%s", r.error);
    goto done;
  }

  const char *subs[1] = {r.subscribe};
  ws_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.url = r.ws_url;
  cfg.tls.ca_file = r.ca_file;
  cfg.subscribe = subs;
  cfg.n_subscribe = r.venue == VENUE_COINBASE ? 1 : 0;
  cfg.on_message = on_message;
  cfg.on_state = on_state;
  cfg.on_send = on_send;
  cfg.ctx = &r;
  obi_err err = ws_client_new(&r.c, &cfg);
  if (err) {
    rc = cli_input_error("%s: cannot start the client (%s)", r.ws_url, obi_strerror(err));
    goto done;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  int64_t t0 = mono_ns(), stop_at = duration > 0 ? t0 + (int64_t)(duration * 1e9) : INT64_MAX, give_up = INT64_MAX;
  int closing = 0;
  while (!r.failed) {
    err = ws_client_service(r.c, 100);
    if (err == OBI_EEOF) break;
    if (err) {
      snprintf(r.error, sizeof r.error, "%s: event loop failed (%s)", r.ws_url, obi_strerror(err));
      r.failed = 1;
      break;
    }
    int64_t now = mono_ns();
    if (!closing && (stop_signal || now >= stop_at)) {
      ws_client_request_close(r.c);
      closing = 1;
      give_up = now + 2000000000LL; /* a server that never answers the close */
    }
    if (closing && now >= give_up) break;
    if (now - r.last_flush >= 1000000000LL) { /* at most a second lost on a crash */
      r.last_flush = now;
      if (r.ws.dirty) zfile_put(&r, &r.ws, "", 0, 1);
    }
    if ((r.rotate_bytes > 0 && (double)(r.ws.bytes_out + r.http.bytes_out) >= r.rotate_bytes) ||
        (r.rotate_ns > 0 && now - r.segment_started >= r.rotate_ns))
      rotate(&r);
    if (!closing) start_snapshot(&r);
  }
  double seconds = (double)(mono_ns() - t0) * 1e-9;
  ws_client_free(r.c);
  zfile_close(&r, &r.ws);
  zfile_close(&r, &r.http);
  if (r.failed) {
    rc = cli_input_error("%s", r.error);
    goto done;
  }
  print_summary(&r, json, seconds);
  rc = EXIT_OK;
done:
  if (r.ws.f) fclose(r.ws.f), ZSTD_freeCCtx(r.ws.z);
  if (r.http.f) fclose(r.http.f), ZSTD_freeCCtx(r.http.z);
  recorder_free(&r);
  return rc;
}

const cli_command cmd_record_def = {
    "record", cmd_record, "record a live Binance or Coinbase feed to zstd files",
    "usage: obi record --binance|--binance-futures SYMBOLS --out FILE [--endpoint URL] [--rest-endpoint URL]\n"
    "       obi record --coinbase PRODUCTS --out FILE [--endpoint URL] [--channels LIST]\n"
    "                  [--rotate-mb N] [--rotate-minutes N] [--duration S] [--ca-file PEM] [--json] [--quiet]\n\n"
    "Connects to the exchange's WebSocket feed and writes every message with its receive time,\n"
    "zstd-compressed, in the line format of the cryptofeed recordings (docs/ws.md):\n"
    "  URL <-> T  a connection; URL <- T: JSON  what was sent; T: JSON  what was received;\n"
    "  URL -> T: JSON  a REST response (Binance depth snapshots), in the sibling FILE's .http file.\n"
    "T is Unix time in seconds with nine decimals. The file is flushed at least once a second.\n\n"
    "Binance (spot): SYMBOLS like btcusdt,ethusdt; one combined-streams connection with\n"
    "<symbol>@depth@100ms and <symbol>@trade for each, and after every (re)connect the REST depth\n"
    "snapshot /api/v3/depth?symbol=X&limit=5000 of each symbol. --endpoint is the stream server's root\n"
    "(default wss://stream.binance.com:9443; /stream?streams=... is added), --rest-endpoint the REST\n"
    "root (default https://api.binance.com).\n"
    "Binance USD-M futures (--binance-futures): the same with <symbol>@aggTrade, the snapshot\n"
    "/fapi/v1/depth?symbol=X&limit=1000, and the roots wss://fstream.binance.com and https://fapi.binance.com.\n"
    "Coinbase Exchange: PRODUCTS like BTC-USD,ETH-USD; subscribes to --channels (default\n"
    "level2,matches; Coinbase now asks for authentication on level2: use level2_batch,matches for the\n"
    "public feed). --endpoint default wss://ws-feed.exchange.coinbase.com.\n\n"
    "FILE (e.g. btc.jsonl.zst) is the first file; rotation (--rotate-mb of compressed output,\n"
    "--rotate-minutes) continues in btc.jsonl.0001.zst, ...; REST responses go to btc.jsonl.http.zst,\n"
    "btc.jsonl.0001.http.zst, ... Existing files are never overwritten. Reconnects use exponential\n"
    "backoff with full jitter. Stops after --duration seconds, or on Ctrl-C, closing the files cleanly.\n"
    "--ca-file trusts a further CA (PEM) for wss:// and https://.\n"};
