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
  feed_sym *s = f->syms[sym];
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
