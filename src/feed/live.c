/* live.c — a live feed session: ws.c's client carries the venue's messages to feed.c's
 * protocol layer, and the snapshots and resubscriptions the feed asks for go back out.
 *
 * Everything happens in live_service, on the caller's thread: ws_client_service delivers
 * messages (fed to the feed at once, with their receive times), state changes and finished
 * snapshot requests; after it returns, the session asks the feed what it wants.
 *
 * Invariants:
 * - The feed's books only ever hold what the current connection delivered: when a
 *   connection that was open ends, feed_reset clears every book and buffer before any
 *   message of the next connection arrives, and snapshot responses to requests made before
 *   that (an older epoch) are thrown away, never applied.
 * - At most one snapshot request per symbol is under way in the current epoch. A symbol
 *   is requested when the feed has handed it out (feed_snapshot_wanted), a connection is
 *   open and its retry time has come. After every response the symbol is handed out
 *   again by the feed only if it still waits, so a request is never made for a book that
 *   is synced.
 * - Retries (failed requests, malformed bodies, snapshots the feed refused as older than
 *   its buffer) wait ws_backoff_ms(attempt) — the same full-jitter backoff as reconnects —
 *   and the attempt count returns to 0 when a snapshot synced the symbol. */
#include "obi/live.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIVE_MAX_SYMBOLS 64

typedef struct {
  char name[32];    /* as given, upper case for Binance */
  int wanted;       /* the feed handed it out; no request started yet */
  int inflight;     /* a request of the current epoch is under way */
  int attempts;     /* unsuccessful snapshots in a row */
  int64_t retry_at; /* monotonic ns before which no request starts */
  uint64_t books;   /* SNAPSHOT_END events seen: books built */
  int lost;         /* the book was cleared after it had been built */
} live_sym;

typedef struct { /* one snapshot request; the slot is free again when its response came */
  struct live *l;
  int used, sym;
  uint64_t epoch;
} live_req;

struct live {
  live_config cfg;
  feed_event_fn user_on_event;
  void (*user_on_message_end)(void *ctx);
  void *user_ctx;
  feed *f;
  ws_client *c;
  int nsym;
  live_sym sym[LIVE_MAX_SYMBOLS];
  live_req req[2 * LIVE_MAX_SYMBOLS];
  int connected, stopping;
  uint64_t epoch; /* connections that ended so far */
  uint64_t rng;   /* snapshot retry jitter */
  obi_err fatal;
  char url[8192], rest[2048];
  char *subs[3]; /* subscribe messages (Coinbase) */
  size_t n_subs;
  live_stats st;
  char err[512];
};

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void set_error(live *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(live *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(l->err, sizeof l->err, fmt, ap);
  va_end(ap);
}

static int is_binance(int venue) { return venue == FEED_BINANCE_SPOT || venue == FEED_BINANCE_FUTURES; }

/* ---- URLs and subscribe messages ---- */

static void strip_slash(char *s) {
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '/') s[--n] = 0;
}

/* Appends to dst (capacity cap, current length *n); -1 when it does not fit. */
static int append(char *dst, size_t cap, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int append(char *dst, size_t cap, size_t *n, const char *fmt, ...) {
  if (*n >= cap) return -1;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(dst + *n, cap - *n, fmt, ap);
  va_end(ap);
  if (w < 0 || (size_t)w >= cap - *n) return -1;
  *n += (size_t)w;
  return 0;
}

/* The JSON array of product ids: ["BTC-USD","ETH-USD"]. */
static int product_list(const live *l, char *dst, size_t cap) {
  size_t n = 0;
  if (append(dst, cap, &n, "[")) return -1;
  for (int i = 0; i < l->nsym; i++)
    if (append(dst, cap, &n, "%s\"%s\"", i ? "," : "", l->sym[i].name)) return -1;
  return append(dst, cap, &n, "]");
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* The Advanced Trade (un)subscribe message of one channel. */
static char *advanced_sub(const live *l, const char *type, const char *channel) {
  char products[64 * 40], text[64 * 40 + 128];
  if (product_list(l, products, sizeof products)) return NULL;
  snprintf(text, sizeof text, "{\"type\":\"%s\",\"product_ids\":%s,\"channel\":\"%s\"}", type, products, channel);
  return dup_str(text);
}

static obi_err build_urls(live *l, const live_config *cfg) {
  size_t n = 0;
  if (is_binance(cfg->venue)) {
    int spot = cfg->venue == FEED_BINANCE_SPOT;
    char root[2048];
    if (snprintf(root, sizeof root, "%s",
                 cfg->endpoint ? cfg->endpoint
                 : spot        ? "wss://stream.binance.com:9443"
                               : "wss://fstream.binance.com") >= (int)sizeof root)
      return OBI_EINVAL;
    strip_slash(root);
    if (append(l->url, sizeof l->url, &n, "%s/stream?streams=", root)) return OBI_EINVAL;
    for (int i = 0; i < l->nsym; i++) {
      char lower[32];
      size_t k = 0;
      for (; l->sym[i].name[k]; k++) lower[k] = (char)tolower((unsigned char)l->sym[i].name[k]);
      lower[k] = 0;
      if (append(l->url, sizeof l->url, &n, "%s%s@depth@100ms/%s@%s", i ? "/" : "", lower, lower,
                 spot ? "trade" : "aggTrade"))
        return OBI_EINVAL;
    }
    if (snprintf(l->rest, sizeof l->rest, "%s",
                 cfg->rest_endpoint ? cfg->rest_endpoint
                 : spot             ? "https://api.binance.com"
                                    : "https://fapi.binance.com") >= (int)sizeof l->rest)
      return OBI_EINVAL;
    strip_slash(l->rest);
    ws_url u;
    if (strncmp(l->rest, "http", 4) || ws_url_parse(&u, l->rest)) return OBI_EINVAL;
  } else {
    int exchange = cfg->venue == FEED_COINBASE_EXCHANGE;
    const char *url = cfg->endpoint ? cfg->endpoint
                      : exchange    ? "wss://ws-feed.exchange.coinbase.com"
                                    : "wss://advanced-trade-ws.coinbase.com";
    if (append(l->url, sizeof l->url, &n, "%s", url)) return OBI_EINVAL;
    if (exchange) {
      char products[64 * 40], text[64 * 40 + 1024];
      size_t t = 0;
      if (product_list(l, products, sizeof products) ||
          append(text, sizeof text, &t, "{\"type\":\"subscribe\",\"product_ids\":%s,\"channels\":[", products))
        return OBI_EINVAL;
      const char *p = cfg->channels ? cfg->channels : "level2_batch,matches";
      for (int i = 0;; i++) { /* names of letters, digits and '_', none empty */
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) return OBI_EINVAL;
        for (size_t k = 0; k < len; k++)
          if (!(isalnum((unsigned char)p[k]) || p[k] == '_')) return OBI_EINVAL;
        if (append(text, sizeof text, &t, "%s\"%.*s\"", i ? "," : "", (int)len, p)) return OBI_EINVAL;
        if (!e) break;
        p = e + 1;
      }
      if (append(text, sizeof text, &t, "]}") || !(l->subs[l->n_subs++] = dup_str(text))) return OBI_ENOMEM;
    } else { /* one message per channel, as Advanced Trade wants */
      const char *channels[3] = {"level2", "heartbeats", "market_trades"};
      for (int i = 0; i < 3; i++)
        if (!(l->subs[l->n_subs++] = advanced_sub(l, "subscribe", channels[i]))) return OBI_ENOMEM;
    }
  }
  ws_url u;
  return strncmp(l->url, "ws", 2) || ws_url_parse(&u, l->url) ? OBI_EINVAL : OBI_OK;
}

/* ---- snapshots ---- */

static void start_snapshot(live *l, int sym);

static void snapshot_retry(live *l, int sym) {
  live_sym *s = &l->sym[sym];
  s->attempts++;
  int ms = ws_backoff_ms(&l->rng, s->attempts, l->cfg.snapshot_retry_base_ms, l->cfg.snapshot_retry_max_ms);
  s->retry_at = mono_ns() + (int64_t)ms * 1000000;
}

static void on_snapshot(void *ctx, obi_err err, const ws_http_response *resp) {
  live_req *r = ctx;
  live *l = r->l;
  int sym = r->sym;
  live_sym *s = &l->sym[sym];
  r->used = 0;
  if (r->epoch != l->epoch) { /* asked on a connection that has ended: its book is void */
    l->st.snapshots_discarded++;
    return;
  }
  s->inflight = 0;
  s->wanted = 0; /* the feed hands the symbol out again if it still waits */
  if (err || resp->status != 200) {
    l->st.snapshot_failures++;
    if (err)
      set_error(l, "snapshot of %s: %s", s->name, resp->error);
    else
      set_error(l, "snapshot of %s: HTTP %d %.200s", s->name, resp->status, resp->body ? resp->body : "");
    feed_snapshot_failed(l->f, sym);
    snapshot_retry(l, sym);
    return;
  }
  obi_err fe = feed_on_snapshot(l->f, sym, resp->recv_ns, resp->body, resp->len);
  if (fe == OBI_ENOMEM || fe == OBI_EINVARIANT) {
    l->fatal = fe;
    set_error(l, "snapshot of %s: %s", s->name, fe == OBI_EINVARIANT ? feed_last_error(l->f) : obi_strerror(fe));
  } else if (fe) {
    l->st.snapshot_failures++;
    set_error(l, "snapshot of %s: %s", s->name, feed_last_error(l->f));
    snapshot_retry(l, sym);
  } else if (!feed_synced(l->f, sym)) {
    l->st.snapshots_refused++;
    snapshot_retry(l, sym);
  } else {
    s->attempts = 0;
    s->retry_at = 0;
  }
}

static void start_snapshot(live *l, int sym) {
  live_req *r = NULL;
  for (size_t i = 0; i < sizeof l->req / sizeof *l->req && !r; i++)
    if (!l->req[i].used) r = &l->req[i];
  if (!r) return; /* every slot holds a request of an ended connection: wait for them */
  char url[2200];
  snprintf(url, sizeof url, "%s%s?symbol=%s&limit=%s", l->rest,
           l->cfg.venue == FEED_BINANCE_SPOT ? "/api/v3/depth" : "/fapi/v1/depth", l->sym[sym].name,
           l->cfg.venue == FEED_BINANCE_SPOT ? "5000" : "1000");
  *r = (live_req){l, 1, sym, l->epoch};
  l->st.snapshot_requests++;
  obi_err err = ws_client_http_get(l->c, url, l->cfg.snapshot_timeout_ms, 0, on_snapshot, r);
  if (err) {
    r->used = 0;
    l->st.snapshot_failures++;
    set_error(l, "snapshot of %s: cannot start the request (%s)", l->sym[sym].name, obi_strerror(err));
    snapshot_retry(l, sym); /* the symbol stays wanted */
    return;
  }
  l->sym[sym].wanted = 0;
  l->sym[sym].inflight = 1;
}

/* Asks the feed what it wants and starts what may start now. Returns the ms until the
 * next retry is due (-1: none). */
static int run_requests(live *l) {
  if (!is_binance(l->cfg.venue) || !l->connected || l->stopping) return -1;
  int sym;
  while (feed_snapshot_wanted(l->f, &sym)) l->sym[sym].wanted = 1;
  int64_t now = mono_ns(), next = -1;
  for (int i = 0; i < l->nsym; i++) {
    live_sym *s = &l->sym[i];
    if (!s->wanted || s->inflight) continue;
    if (now >= s->retry_at)
      start_snapshot(l, i);
    else if (next < 0 || s->retry_at - now < next)
      next = s->retry_at - now;
  }
  return next < 0 ? -1 : (int)(next / 1000000 + 1);
}

static void resubscribe(live *l) {
  if (!l->connected) return; /* the next connection subscribes afresh */
  char *unsub = advanced_sub(l, "unsubscribe", "level2"), *sub = advanced_sub(l, "subscribe", "level2");
  if (unsub && sub && !ws_client_send(l->c, unsub, strlen(unsub)) && !ws_client_send(l->c, sub, strlen(sub)))
    l->st.resubscribes++;
  else /* a fresh connection subscribes to everything again */
    ws_client_reconnect(l->c, "resubscription failed");
  free(unsub);
  free(sub);
}

/* ---- callbacks ---- */

static void on_event(void *ctx, int sym, const obi_event *ev, const obi_book *book) {
  live *l = ctx;
  live_sym *s = &l->sym[sym];
  if (ev->type == OBI_EV_SNAPSHOT_BEGIN && s->books) s->lost = 1;
  if (ev->type == OBI_EV_SNAPSHOT_END) {
    s->books++;
    if (s->lost) l->st.resyncs++;
    s->lost = 0;
  }
  if (l->user_on_event) l->user_on_event(l->user_ctx, sym, ev, book);
}

static void on_message_end(void *ctx) {
  live *l = ctx;
  if (l->user_on_message_end) l->user_on_message_end(l->user_ctx);
}

static void on_message(void *ctx, int64_t recv_ns, const char *text, size_t len) {
  live *l = ctx;
  if (l->fatal) return;
  l->st.messages++;
  obi_err err = feed_on_message(l->f, recv_ns, text, len);
  if (err == OBI_ENOMEM || err == OBI_EINVARIANT) {
    l->fatal = err;
    set_error(l, "%s", err == OBI_EINVARIANT ? feed_last_error(l->f) : obi_strerror(err));
  } else if (err) {
    l->st.rejected++; /* counted and described by the feed; the books are as they were */
  }
}

static void on_state(void *ctx, ws_state st, const char *reason) {
  live *l = ctx;
  if (st == WS_OPEN) {
    l->connected = 1;
    l->st.connects++;
  } else if (st == WS_CLOSED && l->connected) {
    /* Messages may have been lost with the connection: every book is void. Requests
     * still under way belong to it and will be discarded. */
    l->connected = 0;
    l->st.disconnects++;
    l->epoch++;
    feed_reset(l->f, ws_now_ns());
    for (int i = 0; i < l->nsym; i++) {
      l->sym[i].wanted = l->sym[i].inflight = l->sym[i].attempts = 0;
      l->sym[i].retry_at = 0;
    }
  }
  if (l->cfg.on_state) l->cfg.on_state(l->cfg.ctx, st, reason);
}

/* ---- the session ---- */

static int valid_symbol(const char *s, int venue) {
  size_t n = strlen(s);
  if (n == 0 || n > 31) return 0;
  for (size_t i = 0; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || (!is_binance(venue) && s[i] == '-'))) return 0;
  return 1;
}

obi_err live_new(live **out, const live_config *cfg) {
  *out = NULL;
  if (!cfg || (int)cfg->venue < 0 || cfg->venue >= FEED__VENUE_COUNT || !cfg->symbols || cfg->n_symbols <= 0 ||
      cfg->n_symbols > LIVE_MAX_SYMBOLS || cfg->feed.add_unknown_symbols || cfg->feed.scan_only)
    return OBI_EINVAL;
  live *l = calloc(1, sizeof *l);
  if (!l) return OBI_ENOMEM;
  l->cfg = *cfg;
  l->cfg.symbols = NULL; /* copied below; the caller's strings are not kept */
  l->cfg.price_decimals = l->cfg.size_decimals = NULL;
  l->cfg.endpoint = l->cfg.rest_endpoint = l->cfg.channels = NULL;
  l->cfg.tls.ca_file = NULL; /* ws_client_new copies it */
  if (!l->cfg.snapshot_timeout_ms) l->cfg.snapshot_timeout_ms = 10000;
  if (!l->cfg.snapshot_retry_base_ms) l->cfg.snapshot_retry_base_ms = 1000;
  if (!l->cfg.snapshot_retry_max_ms) l->cfg.snapshot_retry_max_ms = 30000;
  l->rng = cfg->seed ? cfg->seed ^ 0x5bd1e995u : (uint64_t)ws_now_ns();
  l->fatal = OBI_OK;
  obi_err err = OBI_EINVAL;
  if (l->cfg.snapshot_timeout_ms < 0 || l->cfg.snapshot_retry_base_ms < 0 || l->cfg.snapshot_retry_max_ms < 0)
    goto fail;

  /* the feed: our event callback counts rebuilt books and passes every event on */
  feed_config fc = cfg->feed;
  l->user_on_event = fc.on_event;
  l->user_on_message_end = fc.on_message_end;
  l->user_ctx = fc.ctx;
  fc.on_event = on_event;
  fc.on_message_end = on_message_end;
  fc.ctx = l;
  if (!fc.snapshot_limit && is_binance(cfg->venue)) fc.snapshot_limit = cfg->venue == FEED_BINANCE_SPOT ? 5000 : 1000;
  if ((err = feed_new(&l->f, cfg->venue, &fc))) goto fail;
  for (int i = 0; i < cfg->n_symbols; i++) {
    err = OBI_EINVAL;
    if (!cfg->symbols[i] || !valid_symbol(cfg->symbols[i], cfg->venue)) goto fail;
    live_sym *s = &l->sym[i];
    snprintf(s->name, sizeof s->name, "%s", cfg->symbols[i]);
    if (is_binance(cfg->venue))
      for (char *p = s->name; *p; p++) *p = (char)toupper((unsigned char)*p);
    int pd = cfg->price_decimals ? cfg->price_decimals[i] : -1, sd = cfg->size_decimals ? cfg->size_decimals[i] : -1;
    int idx = feed_add_symbol(l->f, s->name, pd, sd);
    if (idx < 0) {
      err = idx == OBI_ENOMEM ? OBI_ENOMEM : OBI_EINVAL;
      goto fail;
    }
    l->nsym++;
  }
  if ((err = build_urls(l, cfg))) goto fail;

  ws_config wc;
  memset(&wc, 0, sizeof wc);
  wc.url = l->url;
  wc.tls = cfg->tls;
  wc.subscribe = (const char *const *)l->subs;
  wc.n_subscribe = l->n_subs;
  wc.on_message = on_message;
  wc.on_state = on_state;
  wc.ctx = l;
  wc.ping_interval_ms = cfg->ping_interval_ms;
  wc.stall_timeout_ms = cfg->stall_timeout_ms;
  wc.connect_timeout_ms = cfg->connect_timeout_ms;
  wc.backoff_base_ms = cfg->backoff_base_ms;
  wc.backoff_max_ms = cfg->backoff_max_ms;
  wc.seed = cfg->seed;
  if ((err = ws_client_new(&l->c, &wc))) goto fail;
  *out = l;
  return OBI_OK;
fail:
  live_free(l);
  return err;
}

obi_err live_service(live *l, int timeout_ms) {
  if (l->fatal) return l->fatal;
  /* never sleep past a snapshot retry that is due */
  int due = run_requests(l);
  if (due >= 0 && due < timeout_ms) timeout_ms = due;
  obi_err err = ws_client_service(l->c, timeout_ms);
  if (l->fatal) return l->fatal;
  if (err) {
    if (err != OBI_EEOF) set_error(l, "%s: event loop failed (%s)", l->url, obi_strerror(err));
    return err;
  }
  if (feed_resubscribe_wanted(l->f)) resubscribe(l);
  run_requests(l);
  return OBI_OK;
}

void live_stop(live *l) {
  l->stopping = 1;
  ws_client_request_close(l->c);
}

void live_free(live *l) {
  if (!l) return;
  ws_client_free(l->c); /* requests under way end without their callbacks */
  feed_free(l->f);
  for (size_t i = 0; i < l->n_subs; i++) free(l->subs[i]);
  free(l);
}

const feed *live_feed(const live *l) { return l->f; }
const ws_client_stats *live_ws_stats(const live *l) { return ws_client_stats_get(l->c); }
const live_stats *live_get_stats(const live *l) { return &l->st; }
const char *live_url(const live *l) { return l->url; }
const char *live_error(const live *l) { return l->err; }

int live_synced(const live *l) {
  if (!l->connected) return 0;
  for (int i = 0; i < l->nsym; i++)
    if (!feed_synced(l->f, i)) return 0;
  return 1;
}
