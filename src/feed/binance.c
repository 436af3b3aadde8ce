/* binance.c — Binance spot and USDⓈ-M futures: the diff-depth stream synchronised with
 * REST depth snapshots, and trades.
 *
 * The rules are Binance's "How to manage a local order book correctly" (spot: WebSocket
 * Streams documentation; futures: USDⓈ-M Futures, WebSocket Market Streams):
 *   spot    drop u <= lastUpdateId; first event U <= lastUpdateId+1 <= u; then U == prev u + 1
 *   futures drop u <  lastUpdateId; first event U <= lastUpdateId   <= u; then pu == prev u
 * A symbol is in one of three states (feed_internal.h):
 *   WAIT     no book: diff events are buffered (exact decimals, so a scale to be learned
 *            from the snapshot can still cover them); a snapshot is wanted.
 *   SYNCING  the snapshot is the book (last_id = lastUpdateId); the next event that is not
 *            stale must pass the first-event rule.
 *   LIVE     last_id = u of the last applied event; each event must continue it.
 * An event that breaks a rule is a gap: the book is cleared, the symbol goes back to WAIT
 * and the event is buffered (it is newer than the book was, and the next snapshot may
 * line up with it). A snapshot that arrives while events older than it are buffered is
 * applied and the buffer replayed through the same rules; a snapshot older than every
 * buffered event (its lastUpdateId+1 < U of the first) cannot be continued: it is refused
 * and fetched again (Binance: "if lastUpdateId < U of the first buffered event, go back").
 * An event with u <= the last applied u is a duplicate or arrived late: dropped, never a
 * gap (its updates are already in the book). */
#include <string.h>

#include "feed_internal.h"

static int is_spot(const feed *f) { return f->venue == FEED_BINANCE_SPOT; }

/* Already covered by a snapshot with this lastUpdateId. */
static int stale_for_snapshot(const feed *f, int64_t u, int64_t lid) { return is_spot(f) ? u <= lid : u < lid; }

/* May be the first event applied on a snapshot with this lastUpdateId (given not stale). */
static int first_event_ok(const feed *f, int64_t U, int64_t lid) { return is_spot(f) ? U <= lid + 1 : U <= lid; }

/* Removes the first k buffered events. */
static void buffer_consume(feed_sym *s, uint32_t k) {
  if (k == 0) return;
  uint32_t lev_drop = k < s->nbuf ? s->buf[k].first : s->nbuf_levels;
  if (k < s->nbuf) memmove(s->buf, s->buf + k, (s->nbuf - k) * sizeof *s->buf);
  if (lev_drop < s->nbuf_levels)
    memmove(s->buf_levels, s->buf_levels + lev_drop, (s->nbuf_levels - lev_drop) * sizeof *s->buf_levels);
  s->nbuf -= k;
  s->nbuf_levels -= lev_drop;
  for (uint32_t i = 0; i < s->nbuf; i++) s->buf[i].first -= lev_drop;
}

/* Appends an event to the symbol's buffer; when full, the oldest quarter goes. */
static obi_err buffer_event(feed *f, feed_sym *s, int64_t U, int64_t u, int64_t pu, int64_t recv_ns,
                            const feed_raw_level *raw, uint32_t n) {
  if (s->nbuf >= f->cfg.max_buffered) {
    uint32_t drop = s->nbuf / 4 ? s->nbuf / 4 : s->nbuf;
    buffer_consume(s, drop);
    s->stats.buffer_dropped += drop;
  }
  if (s->nbuf == s->capbuf) {
    uint32_t cap = s->capbuf ? 2 * s->capbuf : 16;
    feed_buffered *buf = realloc(s->buf, cap * sizeof *buf);
    if (!buf) return OBI_ENOMEM;
    s->buf = buf;
    s->capbuf = cap;
  }
  if (!s->buf_levels || s->nbuf_levels + n > s->capbuf_levels) {
    uint32_t cap = s->capbuf_levels ? s->capbuf_levels : 64;
    while (cap < s->nbuf_levels + n) cap *= 2;
    feed_raw_level *lev = realloc(s->buf_levels, cap * sizeof *lev);
    if (!lev) return OBI_ENOMEM;
    s->buf_levels = lev;
    s->capbuf_levels = cap;
  }
  s->buf[s->nbuf++] = (feed_buffered){U, u, pu, recv_ns, s->nbuf_levels, n};
  if (n) memcpy(s->buf_levels + s->nbuf_levels, raw, n * sizeof *raw);
  s->nbuf_levels += n;
  s->stats.buffered++;
  return OBI_OK;
}

enum { DIFF_APPLIED, DIFF_DROPPED, DIFF_GAP };

/* One diff event on a symbol that holds a book (SYNCING or LIVE): the sync rules, then
 * the levels. Returns DIFF_*, or a negative obi_err when the book failed. */
static int diff_apply(feed *f, int sym, int64_t U, int64_t u, int64_t pu, const feed_level *lev, uint32_t n,
                      int64_t recv_ns) {
  feed_sym *s = f->syms[sym];
  if (s->state == FEED_SYM_SYNCING) {
    if (stale_for_snapshot(f, u, s->last_id)) {
      s->stats.dropped_stale++;
      return DIFF_DROPPED;
    }
    if (!first_event_ok(f, U, s->last_id)) {
      feed__gap(f, sym, 1, recv_ns);
      return DIFF_GAP;
    }
  } else {
    if (u <= s->last_id) {
      s->stats.dropped_stale++;
      return DIFF_DROPPED;
    }
    if (is_spot(f) ? U != s->last_id + 1 : pu != s->last_id) {
      feed__gap(f, sym, 0, recv_ns);
      return DIFF_GAP;
    }
  }
  obi_err err = feed__apply_levels(f, sym, lev, n, recv_ns);
  if (err) return err;
  s->last_id = u;
  s->state = FEED_SYM_LIVE;
  s->stats.updates_applied++;
  s->stats.levels_applied += n;
  feed__check_crossed(f, sym);
  return DIFF_APPLIED;
}

static obi_err depth_commit(feed *f, int64_t recv_ns, int sym);

/* A depthUpdate message: {"e":"depthUpdate","E":..,"s":"BTCUSDT","U":..,"u":..,["pu":..,]
 * "b":[[price,qty],..],"a":[..]}. */
static obi_err depth_update(feed *f, int64_t recv_ns, json_t *d) {
  const char *name;
  size_t name_len;
  int sym;
  obi_err err;
  if ((err = feed__get_string(f, -1, d, "s", "depthUpdate", &name, &name_len))) return err;
  if ((err = feed__symbol(f, name, name_len, &sym)) || sym < 0) return err;
  int64_t U, u, pu = -1;
  json_t *b, *a;
  if ((err = feed__get_int(f, sym, d, "U", "depthUpdate", &U)) ||
      (err = feed__get_int(f, sym, d, "u", "depthUpdate", &u)))
    return err;
  if (!is_spot(f) && (err = feed__get_int(f, sym, d, "pu", "depthUpdate", &pu))) return err;
  if (U > u)
    return feed__malformed(f, sym, OBI_ERANGE, "depthUpdate: first update id U %lld is after the last u %lld",
                           (long long)U, (long long)u);
  if ((err = feed__get_array(f, sym, d, "b", "depthUpdate", &b)) ||
      (err = feed__get_array(f, sym, d, "a", "depthUpdate", &a)))
    return err;
  feed_item *it;
  if ((err = feed__add_item(f, FEED_ITEM_DIFF, sym, &it))) return err;
  it->U = U, it->u = u, it->pu = pu;
  if ((err = feed__levels_pairs(f, it, b, OBI_BID, "depthUpdate", "b")) ||
      (err = feed__levels_pairs(f, it, a, OBI_ASK, "depthUpdate", "a")))
    return err;
  return depth_commit(f, recv_ns, sym);
}

/* A depthUpdate parsed into f->items[0] (either parser): counted, then scaled and buffered
 * or applied through the sync rules. */
static obi_err depth_commit(feed *f, int64_t recv_ns, int sym) {
  feed_sym *s = f->syms[sym];
  feed_item *it = &f->items[0];
  int64_t U = it->U, u = it->u, pu = it->pu;
  obi_err err;
  s->stats.depth_updates++;
  if (f->cfg.scan_only) {
    feed__scan_items(f);
    return OBI_OK;
  }
  if ((err = feed__scale_items(f))) return err;
  it = &f->items[0];
  if (s->state == FEED_SYM_WAIT) return buffer_event(f, s, U, u, pu, recv_ns, f->raw + it->first, it->n);
  int r = diff_apply(f, sym, U, u, pu, f->lev + it->first, it->n, recv_ns);
  if (r < 0) return r;
  if (r == DIFF_GAP) return buffer_event(f, s, U, u, pu, recv_ns, f->raw + it->first, it->n);
  return OBI_OK;
}

/* aggTrade {"s","p","q","m"} and trade (the same fields): m = the buyer is the maker, so
 * the resting order was the bid. */
static obi_err trade(feed *f, int64_t recv_ns, json_t *d, const char *ctx) {
  const char *name;
  size_t name_len;
  int sym;
  obi_err err;
  if ((err = feed__get_string(f, -1, d, "s", ctx, &name, &name_len))) return err;
  if ((err = feed__symbol(f, name, name_len, &sym)) || sym < 0) return err;
  json_t *m = json_object_get(d, "m");
  if (!json_is_boolean(m))
    return feed__malformed(f, sym, OBI_EPARSE, "%s: field 'm' (buyer is maker) must be a boolean", ctx);
  feed_dec p, q;
  if ((err = feed__dec(f, sym, json_object_get(d, "p"), ctx, "p (price)", 0, &p)) ||
      (err = feed__dec(f, sym, json_object_get(d, "q"), ctx, "q (quantity)", 0, &q)))
    return err;
  feed_item *it;
  if ((err = feed__add_item(f, FEED_ITEM_TRADE, sym, &it)) ||
      (err = feed__add_raw(f, it, p, q, json_is_true(m) ? OBI_BID : OBI_ASK)))
    return err;
  if (f->cfg.scan_only) {
    feed__scan_items(f);
    return OBI_OK;
  }
  if ((err = feed__scale_items(f))) return err;
  feed__trade(f, &f->items[0], recv_ns);
  return OBI_OK;
}

obi_err feed__binance_message(feed *f, int64_t recv_ns, json_t *root) {
  json_t *d = root;
  /* combined streams wrap each event: {"stream":"btcusdt@depth@100ms","data":{...}} */
  if (json_is_object(root) && json_object_get(root, "stream") && json_object_get(root, "data"))
    d = json_object_get(root, "data");
  if (!json_is_object(d)) return feed__malformed(f, -1, OBI_EPARSE, "the message is not a JSON object");
  json_t *e = json_object_get(d, "e");
  if (!e) {
    json_t *code = json_object_get(d, "code"), *msg = json_object_get(d, "msg");
    if (json_is_integer(code) && json_is_string(msg)) {
      f->stats.venue_errors++;
      feed__set_error(f, -1, "error %lld from the venue: %s", (long long)json_integer_value(code),
                      json_string_value(msg));
      return OBI_OK;
    }
    /* subscription acknowledgements {"result":null,"id":1}; spot bookTicker (no "e") */
    json_t *s = json_object_get(d, "s");
    int sym;
    if (json_is_string(s) && feed__symbol(f, json_string_value(s), json_string_length(s), &sym) == OBI_ENOMEM)
      return OBI_ENOMEM;
    f->stats.ignored++;
    return OBI_OK;
  }
  if (!json_is_string(e)) return feed__malformed(f, -1, OBI_EPARSE, "field 'e' (event type) must be a string");
  const char *type = json_string_value(e);
  if (!strcmp(type, "depthUpdate")) return depth_update(f, recv_ns, d);
  if (!strcmp(type, "aggTrade") || !strcmp(type, "trade")) return trade(f, recv_ns, d, type);
  json_t *s = json_object_get(d, "s"); /* bookTicker, kline, markPriceUpdate, ... */
  int sym;
  if (json_is_string(s) && feed__symbol(f, json_string_value(s), json_string_length(s), &sym) == OBI_ENOMEM)
    return OBI_ENOMEM;
  f->stats.ignored++;
  return OBI_OK;
}

/* The buffered events after a snapshot: through the same rules as live events. A gap
 * among them keeps that event and the rest buffered for the next snapshot. */
static obi_err replay_buffer(feed *f, int sym) {
  feed_sym *s = f->syms[sym];
  uint32_t k = 0;
  while (k < s->nbuf && s->state != FEED_SYM_WAIT) {
    const feed_buffered *b = &s->buf[k];
    /* the scale is known now (configured, or learned from the snapshot and this buffer) */
    feed_item *it;
    f->nitems = f->nraw = 0;
    obi_err err = feed__add_item(f, FEED_ITEM_DIFF, sym, &it);
    for (uint32_t i = 0; !err && i < b->n; i++) {
      const feed_raw_level *r = &s->buf_levels[b->first + i];
      err = feed__add_raw(f, it, r->price, r->size, r->side);
    }
    if (err) return err;
    if (feed__scale_items(f)) { /* counted as malformed; the next event will show the gap */
      k++;
      continue;
    }
    int64_t U = b->U, u = b->u, pu = b->pu, t = b->recv_ns;
    int r = diff_apply(f, sym, U, u, pu, f->lev + f->items[0].first, f->items[0].n, t);
    if (r < 0) return r;
    if (r == DIFF_GAP) break; /* s->state is WAIT again; this event stays buffered */
    k++;
  }
  buffer_consume(s, k);
  return OBI_OK;
}

obi_err feed__binance_snapshot(feed *f, int sym, int64_t recv_ns, json_t *root) {
  obi_err err;
  int64_t lid;
  json_t *bids, *asks;
  if (!json_is_object(root)) return feed__malformed(f, sym, OBI_EPARSE, "snapshot: not a JSON object");
  if ((err = feed__get_int(f, sym, root, "lastUpdateId", "snapshot", &lid)) ||
      (err = feed__get_array(f, sym, root, "bids", "snapshot", &bids)) ||
      (err = feed__get_array(f, sym, root, "asks", "snapshot", &asks)))
    return err;
  feed_item *it;
  if ((err = feed__add_item(f, FEED_ITEM_SNAPSHOT, sym, &it))) return err;
  it->u = lid;
  if ((err = feed__levels_pairs(f, it, bids, OBI_BID, "snapshot", "bids")) ||
      (err = feed__levels_pairs(f, it, asks, OBI_ASK, "snapshot", "asks")))
    return err;
  feed_sym *s = f->syms[sym];
  s->stats.snapshots++;
  if (f->cfg.scan_only) {
    feed__scan_items(f);
    return OBI_OK;
  }
  if (s->state != FEED_SYM_WAIT) {
    s->stats.snapshots_unwanted++;
    return OBI_OK;
  }
  uint32_t k = 0;
  while (k < s->nbuf && stale_for_snapshot(f, s->buf[k].u, lid)) k++;
  if (k < s->nbuf && !first_event_ok(f, s->buf[k].U, lid)) {
    s->stats.snapshots_too_old++;
    s->stats.dropped_stale += k;
    buffer_consume(s, k);
    return OBI_OK; /* still waiting: feed_snapshot_wanted asks for another */
  }
  if ((err = feed__scale_items(f))) return err;
  s->stats.dropped_stale += k;
  buffer_consume(s, k);
  if ((err = feed__apply_snapshot(f, &f->items[0], recv_ns, 1))) return err;
  s->state = FEED_SYM_SYNCING;
  s->last_id = lid;
  return replay_buffer(f, sym);
}

/* ---- the fast path: depthUpdate read straight from the text ---------------------------
 *
 * jansson builds and frees a tree of ~90 allocations per message, which was 87% of the
 * time of a depth update (docs/feeds.md, "Throughput"). The hot message has one fixed,
 * compact shape, so it is scanned here in place:
 *   [{"stream":"<name>","data":] {"e":"depthUpdate","E":n,["T":n,]"s":"<sym>","U":n,"u":n,
 *   ["pu":n,]"b":[["p","q"],..],"a":[..]} [}]
 * keys in any order (b before a), E and T optional (not used; futures send T). The scanner
 * is strict: it accepts a message only when jansson (with JSON_REJECT_DUPLICATES) would
 * accept it and depth_update would take every field without an error, and it then yields
 * exactly depth_update's item. Anything else makes it give up, and jansson, the reference,
 * reads the message with all its error messages: whitespace, escapes or bytes outside
 * printable ASCII in strings, an unknown or repeated key, a missing field, "pu" on spot,
 * "a" before "b", a number that is not a plain non-negative integer of at most 18 digits
 * (sign, fraction, exponent, leading zero), a level that is not exactly two decimal
 * strings dec_parse takes, U > u, another event type, other envelope keys, trailing bytes.
 * The levels go into f->raw as feed__add_raw puts them (growing it during warm-up only). */

typedef struct {
  const char *p, *end;
} fast_text;

/* A string of printable ASCII without escapes: its content in [*s, *s + *len). */
static int fast_string(fast_text *t, const char **s, size_t *len) {
  const char *p = t->p;
  if (p == t->end || *p != '"') return 0;
  const char *start = ++p;
  while (p < t->end && *p != '"') {
    unsigned char c = (unsigned char)*p++;
    if (c < 0x20 || c > 0x7e || c == '\\') return 0;
  }
  if (p == t->end) return 0;
  *s = start;
  *len = (size_t)(p - start);
  t->p = p + 1;
  return 1;
}

/* 0, or [1-9][0-9]* of at most 18 digits (well inside jansson's int64). What follows is
 * checked by the caller (',' or '}' only, so "1.5", "1e3" and "01" give up). */
static int fast_uint(fast_text *t, int64_t *v) {
  const char *p = t->p;
  int64_t x = 0;
  int n = 0;
  while (p < t->end && (unsigned)(*p - '0') < 10 && n < 18) x = x * 10 + (*p++ - '0'), n++;
  if (n == 0 || (n > 1 && t->p[0] == '0')) return 0;
  if (p < t->end && (unsigned)(*p - '0') < 10) return 0; /* a 19th digit: jansson decides */
  t->p = p;
  *v = x;
  return 1;
}

static int fast_char(fast_text *t, char c) {
  if (t->p == t->end || *t->p != c) return 0;
  t->p++;
  return 1;
}

static int fast_decimal(fast_text *t, feed_dec *d) {
  const char *s;
  size_t len;
  return fast_string(t, &s, &len) && feed__dec_parse(s, len, d) == OBI_OK;
}

/* [["p","q"],...] of one side appended to it. */
static int fast_levels(feed *f, fast_text *t, feed_item *it, int side) {
  if (!fast_char(t, '[')) return 0;
  if (fast_char(t, ']')) return 1;
  do {
    feed_dec p, q;
    if (!fast_char(t, '[') || !fast_decimal(t, &p) || !fast_char(t, ',') || !fast_decimal(t, &q) ||
        !fast_char(t, ']') || feed__add_raw(f, it, p, q, side))
      return 0; /* an allocation failure too: jansson's path meets it again and reports it */
  } while (fast_char(t, ','));
  return fast_char(t, ']');
}

enum { FK_E = 1, FK_TIME = 2, FK_T = 4, FK_S = 8, FK_UFIRST = 16, FK_ULAST = 32, FK_PU = 64, FK_B = 128, FK_A = 256 };

/* The depthUpdate object into it (sym unset) and its symbol's name. */
static int fast_depth(feed *f, fast_text *t, feed_item *it, const char **name, size_t *name_len) {
  unsigned seen = 0;
  int64_t ignored;
  if (!fast_char(t, '{')) return 0;
  do {
    const char *k, *v;
    size_t kl, vl;
    unsigned bit;
    if (!fast_string(t, &k, &kl) || !fast_char(t, ':')) return 0;
    int c = kl == 1 ? k[0] : kl == 2 && k[0] == 'p' && k[1] == 'u' ? 'p' : 0;
    switch (c) {
    case 'e':
      bit = FK_E;
      if (!fast_string(t, &v, &vl) || vl != 11 || memcmp(v, "depthUpdate", 11)) return 0;
      break;
    case 'E':
      bit = FK_TIME;
      if (!fast_uint(t, &ignored)) return 0;
      break;
    case 'T':
      bit = FK_T;
      if (!fast_uint(t, &ignored)) return 0;
      break;
    case 's':
      bit = FK_S;
      if (!fast_string(t, name, name_len)) return 0;
      break;
    case 'U':
      bit = FK_UFIRST;
      if (!fast_uint(t, &it->U)) return 0;
      break;
    case 'u':
      bit = FK_ULAST;
      if (!fast_uint(t, &it->u)) return 0;
      break;
    case 'p':
      bit = FK_PU;
      if (is_spot(f) || !fast_uint(t, &it->pu)) return 0;
      break;
    case 'b':
      bit = FK_B;
      if (seen & FK_A || !fast_levels(f, t, it, OBI_BID)) return 0;
      break;
    case 'a':
      bit = FK_A;
      if (!fast_levels(f, t, it, OBI_ASK)) return 0;
      break;
    default: return 0;
    }
    if (seen & bit) return 0;
    seen |= bit;
  } while (fast_char(t, ','));
  unsigned need = FK_E | FK_S | FK_UFIRST | FK_ULAST | FK_B | FK_A | (is_spot(f) ? 0 : FK_PU);
  return fast_char(t, '}') && (seen & need) == need && it->U <= it->u;
}

int feed__binance_fast(feed *f, int64_t recv_ns, const char *text, size_t len, obi_err *err) {
  fast_text t = {text, text + len};
  static const char envelope[] = "{\"stream\":";
  int wrapped = len > sizeof envelope - 1 && !memcmp(text, envelope, sizeof envelope - 1);
  const char *name, *stream;
  size_t name_len, stream_len;
  if (wrapped) {
    t.p += sizeof envelope - 1;
    if (!fast_string(&t, &stream, &stream_len) || (size_t)(t.end - t.p) < 8 || memcmp(t.p, ",\"data\":", 8)) return 0;
    t.p += 8;
  }
  /* the item is filled in place; feed_on_message emptied the items before */
  feed_item *it;
  if (feed__add_item(f, FEED_ITEM_DIFF, -1, &it)) return 0;
  it->pu = -1;
  if (!fast_depth(f, &t, it, &name, &name_len) || (wrapped && !fast_char(&t, '}')) || t.p != t.end) {
    f->nitems = f->nraw = 0;
    return 0;
  }
  /* From here on the same steps as depth_update, which meets no error before the symbol. */
  f->stats.fast_parsed++;
  int sym;
  *err = feed__symbol(f, name, name_len, &sym);
  if (*err || sym < 0) { /* as depth_update: nothing parsed into items */
    f->nitems = f->nraw = 0;
    return 1;
  }
  f->items[0].sym = sym;
  *err = depth_commit(f, recv_ns, sym);
  return 1;
}
