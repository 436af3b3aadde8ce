/* coinbase.c — Coinbase Exchange (the `level2` and `matches` channels of
 * ws-feed.exchange.coinbase.com, formerly Coinbase Pro) and Coinbase Advanced Trade
 * (advanced-trade-ws.coinbase.com: `level2`, `market_trades`, `heartbeats`).
 *
 * Exchange: a `snapshot` message ({"type":"snapshot","product_id", "bids":[[p,q],..],
 * "asks":[..]}) is the whole book; `l2update` ({"product_id","changes":[[side,p,q],..]},
 * side "buy"/"sell") sets levels, size "0" removes one. Updates before the product's first
 * snapshot cannot be applied and are dropped (counted). The channel has no sequence number,
 * so a lost message cannot be noticed here. `match` is a trade whose side is the MAKER's
 * (Coinbase: "the side field indicates the maker order side"), i.e. the resting side;
 * `last_match`, sent once on subscription, is an old trade and is not emitted.
 *
 * Advanced Trade: every message is {"channel", "sequence_num", "events":[..]} and
 * sequence_num counts the messages of the connection, so a jump means messages were lost:
 * every book is cleared (SNAPSHOT_BEGIN) and resubscription is asked for
 * (feed_resubscribe_wanted); each product's book returns with its next `snapshot` event.
 * A sequence_num at or below the last one is a duplicate or late message: dropped.
 * `l2_data` events are {"type":"snapshot"|"update","product_id","updates":[{"side":
 * "bid"|"offer","price_level","new_quantity"},..]}; `market_trades` events hold trades
 * {"product_id","price","size","side"} whose side is the TAKER's (Coinbase's schema:
 * "Taker side of the trade"), so the resting side is the other one; trades in a
 * `snapshot` event are history sent on subscription and are not emitted. `heartbeats`
 * only keep the connection open and are counted. */
#include <string.h>

#include "feed_internal.h"

static obi_err venue_error(feed *f, json_t *root) {
  json_t *msg = json_object_get(root, "message"), *reason = json_object_get(root, "reason");
  f->stats.venue_errors++;
  feed__set_error(f, -1, "error from the venue: %s%s%s", json_is_string(msg) ? json_string_value(msg) : "(no message)",
                  json_is_string(reason) ? ": " : "", json_is_string(reason) ? json_string_value(reason) : "");
  return OBI_OK;
}

/* Applies the items of a message (all parsed and scaled). */
static obi_err apply_items(feed *f, int64_t recv_ns) {
  for (uint32_t k = 0; k < f->nitems; k++) {
    const feed_item *it = &f->items[k];
    feed_sym *s = f->syms[it->sym];
    obi_err err = OBI_OK;
    if (it->kind == FEED_ITEM_SNAPSHOT) {
      err = feed__apply_snapshot(f, it, recv_ns, 0);
      if (!err) s->state = FEED_SYM_LIVE;
    } else if (it->kind == FEED_ITEM_DIFF) {
      if (s->state != FEED_SYM_LIVE || it->pdec < 0) {
        s->stats.dropped_unsynced++;
        continue;
      }
      err = feed__apply_levels(f, it->sym, f->lev + it->first, it->n, recv_ns);
      if (err) return err;
      s->stats.updates_applied++;
      s->stats.levels_applied += it->n;
      feed__check_crossed(f, it->sym);
    } else {
      feed__trade(f, it, recv_ns);
    }
    if (err) return err;
  }
  return OBI_OK;
}

static obi_err finish(feed *f, int64_t recv_ns) {
  if (f->cfg.scan_only) {
    feed__scan_items(f);
    return OBI_OK;
  }
  obi_err err = feed__scale_items(f);
  return err ? err : apply_items(f, recv_ns);
}

/* A side name: "buy"/"bid" -> OBI_BID, "sell"/"offer"/"ask" -> OBI_ASK, else -1. */
static int side_of(json_t *v) {
  if (!json_is_string(v)) return -1;
  const char *s = json_string_value(v);
  if (!strcmp(s, "buy") || !strcmp(s, "bid") || !strcmp(s, "BUY")) return OBI_BID;
  if (!strcmp(s, "sell") || !strcmp(s, "offer") || !strcmp(s, "ask") || !strcmp(s, "SELL")) return OBI_ASK;
  return -1;
}

/* ---- Exchange ------------------------------------------------------------------------- */

obi_err feed__coinbase_exchange_message(feed *f, int64_t recv_ns, json_t *root) {
  if (!json_is_object(root)) return feed__malformed(f, -1, OBI_EPARSE, "the message is not a JSON object");
  const char *type, *pid;
  size_t type_len, pid_len;
  int sym = -1;
  obi_err err;
  if ((err = feed__get_string(f, -1, root, "type", "message", &type, &type_len))) return err;
  if (!strcmp(type, "error")) return venue_error(f, root);
  int snapshot = !strcmp(type, "snapshot"), update = !strcmp(type, "l2update"), match = !strcmp(type, "match");
  if (!snapshot && !update && !match) { /* subscriptions, ticker, heartbeat, last_match, ... */
    json_t *p = json_object_get(root, "product_id");
    if (json_is_string(p) && feed__symbol(f, json_string_value(p), json_string_length(p), &sym) == OBI_ENOMEM)
      return OBI_ENOMEM;
    f->stats.ignored++;
    return OBI_OK;
  }
  if ((err = feed__get_string(f, -1, root, "product_id", type, &pid, &pid_len))) return err;
  if ((err = feed__symbol(f, pid, pid_len, &sym)) || sym < 0) return err;
  feed_item *it;
  if (snapshot) {
    json_t *bids, *asks;
    if ((err = feed__get_array(f, sym, root, "bids", type, &bids)) ||
        (err = feed__get_array(f, sym, root, "asks", type, &asks)) ||
        (err = feed__add_item(f, FEED_ITEM_SNAPSHOT, sym, &it)) ||
        (err = feed__levels_pairs(f, it, bids, OBI_BID, type, "bids")) ||
        (err = feed__levels_pairs(f, it, asks, OBI_ASK, type, "asks")))
      return err;
    f->syms[sym]->stats.snapshots++;
  } else if (update) {
    json_t *changes;
    if ((err = feed__get_array(f, sym, root, "changes", type, &changes)) ||
        (err = feed__add_item(f, FEED_ITEM_DIFF, sym, &it)))
      return err;
    for (size_t i = 0; i < json_array_size(changes); i++) {
      json_t *c = json_array_get(changes, i);
      int side = json_is_array(c) && json_array_size(c) >= 3 ? side_of(json_array_get(c, 0)) : -1;
      if (side < 0)
        return feed__malformed(f, sym, OBI_EPARSE, "l2update: changes[%zu] must be [\"buy\"|\"sell\", price, size]", i);
      feed_dec p, q;
      if ((err = feed__dec(f, sym, json_array_get(c, 1), type, "changes price", i, &p)) ||
          (err = feed__dec(f, sym, json_array_get(c, 2), type, "changes size", i, &q)) ||
          (err = feed__add_raw(f, it, p, q, side)))
        return err;
    }
    f->syms[sym]->stats.depth_updates++;
  } else {
    int side = side_of(json_object_get(root, "side"));
    feed_dec p, q;
    if (side < 0) return feed__malformed(f, sym, OBI_EPARSE, "match: field 'side' must be \"buy\" or \"sell\"");
    if ((err = feed__dec(f, sym, json_object_get(root, "price"), type, "price", 0, &p)) ||
        (err = feed__dec(f, sym, json_object_get(root, "size"), type, "size", 0, &q)) ||
        (err = feed__add_item(f, FEED_ITEM_TRADE, sym, &it)) || (err = feed__add_raw(f, it, p, q, side)))
      return err;
  }
  return finish(f, recv_ns);
}

/* ---- Advanced Trade ----------------------------------------------------------------------- */

static obi_err l2_events(feed *f, json_t *events) {
  obi_err err;
  for (size_t e = 0; e < json_array_size(events); e++) {
    json_t *ev = json_array_get(events, e), *updates;
    const char *type, *pid;
    size_t type_len, pid_len;
    int sym;
    if (!json_is_object(ev)) return feed__malformed(f, -1, OBI_EPARSE, "l2_data: events[%zu] is not an object", e);
    if ((err = feed__get_string(f, -1, ev, "product_id", "l2_data event", &pid, &pid_len))) return err;
    if ((err = feed__symbol(f, pid, pid_len, &sym))) return err;
    if (sym < 0) continue;
    if ((err = feed__get_string(f, sym, ev, "type", "l2_data event", &type, &type_len))) return err;
    int snapshot = !strcmp(type, "snapshot");
    if (!snapshot && strcmp(type, "update"))
      return feed__malformed(f, sym, OBI_EPARSE, "l2_data: event type must be \"snapshot\" or \"update\"");
    if ((err = feed__get_array(f, sym, ev, "updates", "l2_data event", &updates))) return err;
    feed_item *it;
    if ((err = feed__add_item(f, snapshot ? FEED_ITEM_SNAPSHOT : FEED_ITEM_DIFF, sym, &it))) return err;
    for (size_t i = 0; i < json_array_size(updates); i++) {
      json_t *u = json_array_get(updates, i);
      int side = json_is_object(u) ? side_of(json_object_get(u, "side")) : -1;
      if (side < 0)
        return feed__malformed(f, sym, OBI_EPARSE, "l2_data: updates[%zu] needs a side \"bid\" or \"offer\"", i);
      feed_dec p, q;
      if ((err = feed__dec(f, sym, json_object_get(u, "price_level"), "l2_data", "updates price_level", i, &p)) ||
          (err = feed__dec(f, sym, json_object_get(u, "new_quantity"), "l2_data", "updates new_quantity", i, &q)) ||
          (err = feed__add_raw(f, it, p, q, side)))
        return err;
    }
    if (snapshot)
      f->syms[sym]->stats.snapshots++;
    else
      f->syms[sym]->stats.depth_updates++;
  }
  return OBI_OK;
}

static obi_err trade_events(feed *f, json_t *events) {
  obi_err err;
  for (size_t e = 0; e < json_array_size(events); e++) {
    json_t *ev = json_array_get(events, e), *trades;
    const char *type;
    size_t type_len;
    if (!json_is_object(ev))
      return feed__malformed(f, -1, OBI_EPARSE, "market_trades: events[%zu] is not an object", e);
    if ((err = feed__get_string(f, -1, ev, "type", "market_trades event", &type, &type_len)) ||
        (err = feed__get_array(f, -1, ev, "trades", "market_trades event", &trades)))
      return err;
    int history = !strcmp(type, "snapshot");
    for (size_t i = 0; i < json_array_size(trades); i++) {
      json_t *t = json_array_get(trades, i);
      const char *pid;
      size_t pid_len;
      int sym;
      if (!json_is_object(t))
        return feed__malformed(f, -1, OBI_EPARSE, "market_trades: trades[%zu] is not an object", i);
      if ((err = feed__get_string(f, -1, t, "product_id", "market_trades", &pid, &pid_len)) ||
          (err = feed__symbol(f, pid, pid_len, &sym)))
        return err;
      if (sym < 0 || history) continue;
      int taker = side_of(json_object_get(t, "side"));
      if (taker < 0)
        return feed__malformed(f, sym, OBI_EPARSE, "market_trades: trades[%zu] side must be BUY or SELL", i);
      feed_dec p, q;
      feed_item *it;
      if ((err = feed__dec(f, sym, json_object_get(t, "price"), "market_trades", "trades price", i, &p)) ||
          (err = feed__dec(f, sym, json_object_get(t, "size"), "market_trades", "trades size", i, &q)) ||
          (err = feed__add_item(f, FEED_ITEM_TRADE, sym, &it)) ||
          (err = feed__add_raw(f, it, p, q, taker == OBI_BID ? OBI_ASK : OBI_BID)))
        return err;
    }
  }
  return OBI_OK;
}

obi_err feed__coinbase_advanced_message(feed *f, int64_t recv_ns, json_t *root) {
  if (!json_is_object(root)) return feed__malformed(f, -1, OBI_EPARSE, "the message is not a JSON object");
  json_t *type = json_object_get(root, "type");
  if (json_is_string(type) && !strcmp(json_string_value(type), "error")) return venue_error(f, root);
  const char *channel;
  size_t channel_len;
  int64_t seq;
  json_t *events;
  obi_err err;
  if ((err = feed__get_string(f, -1, root, "channel", "message", &channel, &channel_len)) ||
      (err = feed__get_int(f, -1, root, "sequence_num", "message", &seq)) ||
      (err = feed__get_array(f, -1, root, "events", "message", &events)))
    return err;
  int l2 = !strcmp(channel, "l2_data"), trades = !strcmp(channel, "market_trades");
  if (l2)
    err = l2_events(f, events);
  else if (trades)
    err = trade_events(f, events);
  if (err) return err;
  if (f->cfg.scan_only) return finish(f, recv_ns);
  /* The message is whole: now its place in the connection's sequence. */
  int64_t last = f->stats.last_sequence;
  if (last >= 0 && seq <= last) {
    f->stats.sequence_stale++;
    return OBI_OK;
  }
  if (last >= 0 && seq != last + 1) {
    f->stats.sequence_gaps++;
    for (int i = 0; i < f->nsyms; i++)
      if (f->syms[i]->state != FEED_SYM_WAIT) feed__gap(f, i, 0, recv_ns);
    if (!f->resubscribe_wanted) f->stats.resubscribes++;
    f->resubscribe_wanted = 1;
  }
  f->stats.last_sequence = seq;
  if (!strcmp(channel, "heartbeats")) f->stats.heartbeats++;
  if (!l2 && !trades) {
    if (strcmp(channel, "heartbeats")) f->stats.ignored++;
    return OBI_OK;
  }
  return finish(f, recv_ns);
}
