/* exchange.c — the simulated exchange (sim.h has the rules; docs/backtest.md the reasoning).
 *
 * State: every order ever sent, by id (ids are 1, 2, ... so the table is an array); the ids of
 * the orders resting at the exchange (a short list: a strategy rests a handful at a time); the
 * depletions of levels the strategy took liquidity from; and one binary min-heap of pending
 * actions ordered by (time, sequence), so that equal times keep their order of creation.
 * Exchange-side actions (an order or a cancel arriving) are executed inside sim_next_action;
 * strategy-side ones (a notice, a scheduled decision) are handed back to the caller.
 *
 * Invariants: an order is in exactly one state; a resting order has 0 <= ahead <= the visible
 * size of its level; every order ends with exactly one terminal notice (done, cancelled or
 * rejected); a depletion is > 0 and at most its level's size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "obi/sim.h"
#include "sim_internal.h"

enum { O_IN_FLIGHT, O_RESTING, O_FINISHED };
enum { A_ARRIVE, A_CANCEL, A_NOTICE, A_TOKEN };

typedef struct {
  int side, type, state;
  int cancel_requested;
  int64_t price, qty, left, ahead;
} sim_order;

typedef struct {
  int64_t t;
  uint64_t seq;
  int kind;
  uint64_t id; /* order id or token */
  sim_notice notice;
} sim_action;

#define SIM_MAX_DEPLETED 64

struct sim_exchange {
  sim_config cfg;
  uint64_t rng;
  sim_order *orders; /* orders[id - 1] */
  size_t norders, orders_cap;
  uint64_t *resting;
  size_t nresting, resting_cap;
  sim_action *heap;
  size_t nheap, heap_cap;
  uint64_t seq;
  struct {
    int side;
    int64_t price, qty;
  } depleted[SIM_MAX_DEPLETED];
  int ndepleted;
  sim_fill *fills;
  size_t nfills, fills_cap;
  int64_t position;
  int64_t last_entry, last_notice; /* arrival times of the last message each way (FIFO sessions) */
  sim_stats stats;
};

void sim_config_default(sim_config *c) {
  memset(c, 0, sizeof *c);
  c->lot = 1;
  c->tick = 1;
  c->price_scale = 10000;
  c->queue = SIM_QUEUE_TRADES;
  c->queue_power = 2;
  c->seed = 1;
}

obi_err sim_queue_parse(sim_config *c, const char *spec) {
  if (!strcmp(spec, "trades"))
    c->queue = SIM_QUEUE_TRADES;
  else if (!strcmp(spec, "linear"))
    c->queue = SIM_QUEUE_LINEAR;
  else if (!strncmp(spec, "power:", 6)) {
    char *end;
    double n = strtod(spec + 6, &end);
    if (*end || end == spec + 6 || !(n > 0 && n <= 100)) return OBI_EPARSE;
    c->queue = SIM_QUEUE_POWER, c->queue_power = n;
  } else
    return OBI_EPARSE;
  return OBI_OK;
}

obi_err sim_new(sim_exchange **out, const sim_config *cfg) {
  *out = NULL;
  if (cfg->lot < 1 || cfg->tick < 1 || !(cfg->price_scale > 0) || !(cfg->queue_power > 0)) return OBI_EINVAL;
  sim_exchange *s = calloc(1, sizeof *s);
  if (!s) return OBI_ENOMEM;
  s->cfg = *cfg;
  s->rng = cfg->seed;
  *out = s;
  return OBI_OK;
}

void sim_free(sim_exchange *s) {
  if (!s) return;
  sim_latency_free(&s->cfg.feed);
  sim_latency_free(&s->cfg.entry);
  sim_latency_free(&s->cfg.response);
  free(s->orders);
  free(s->resting);
  free(s->heap);
  free(s->fills);
  free(s);
}

/* ---- the action heap ---- */

static int before(const sim_action *a, const sim_action *b) { return a->t < b->t || (a->t == b->t && a->seq < b->seq); }

static obi_err push(sim_exchange *s, int64_t t, int kind, uint64_t id, const sim_notice *n) {
  if (sim_grow((void **)&s->heap, &s->heap_cap, s->nheap, sizeof *s->heap, 64)) return OBI_ENOMEM;
  sim_action a = {.t = t, .seq = s->seq++, .kind = kind, .id = id};
  if (n) a.notice = *n;
  size_t i = s->nheap++;
  while (i > 0 && before(&a, &s->heap[(i - 1) / 2])) {
    s->heap[i] = s->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  s->heap[i] = a;
  return OBI_OK;
}

static sim_action pop(sim_exchange *s) {
  sim_action top = s->heap[0], last = s->heap[--s->nheap];
  size_t i = 0, n = s->nheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(&s->heap[c + 1], &s->heap[c])) c++;
    if (!before(&s->heap[c], &last)) break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (n) s->heap[i] = last;
  return top;
}

/* ---- notices and fills ---- */

/* now + a latency, saturating (latencies are bounded at 1e15 ns, times near INT64_MAX are not). */
static int64_t later(int64_t now, int64_t lat) { return now > INT64_MAX - lat ? INT64_MAX : now + lat; }

/* Queues a notice for the strategy; returns the time it arrives there. */
static int64_t notify(sim_exchange *s, int64_t exch_ns, sim_notice_kind kind, uint64_t id, int64_t price, int64_t qty,
                      double fee, int maker) {
  const sim_order *o = &s->orders[id - 1];
  int64_t at = later(exch_ns, sim_latency_draw(&s->cfg.response, exch_ns, &s->rng));
  if (at < s->last_notice) at = s->last_notice; /* one session: messages arrive in the order they were sent */
  s->last_notice = at;
  sim_notice n = {kind, id, exch_ns, at, o->side, price, qty, fee, maker};
  push(s, at, A_NOTICE, id, &n); /* a failed push loses a notice: only when memory is gone */
  return at;
}

static int64_t *depletion(sim_exchange *s, int side, int64_t price) {
  for (int i = 0; i < s->ndepleted; i++)
    if (s->depleted[i].side == side && s->depleted[i].price == price) return &s->depleted[i].qty;
  return NULL;
}

static void deplete(sim_exchange *s, int side, int64_t price, int64_t qty) {
  int64_t *d = depletion(s, side, price);
  if (d) {
    *d += qty;
  } else if (s->ndepleted < SIM_MAX_DEPLETED) {
    s->depleted[s->ndepleted].side = side, s->depleted[s->ndepleted].price = price;
    s->depleted[s->ndepleted++].qty = qty;
  } else { /* the table holds the levels near the touch of one strategy: forget the oldest */
    memmove(&s->depleted[0], &s->depleted[1], sizeof s->depleted[0] * (SIM_MAX_DEPLETED - 1));
    s->depleted[SIM_MAX_DEPLETED - 1].side = side, s->depleted[SIM_MAX_DEPLETED - 1].price = price;
    s->depleted[SIM_MAX_DEPLETED - 1].qty = qty;
  }
}

/* Whether the book knows the size at this price: every price does with a full book; with a book
 * of the best tracked_levels levels (a level-N LOBSTER file), prices beyond its worst level on
 * a full side are unknown, not empty. */
static int tracked(const sim_exchange *s, const obi_book *b, int side, int64_t price) {
  uint32_t n = (uint32_t)s->cfg.tracked_levels;
  if (!n || book_depth(b, side) < n) return 1;
  int64_t worst = book_level_at(b, side, n - 1)->price;
  return side == OBI_BID ? price >= worst : price <= worst;
}

/* The size of a level the strategy could still meet: what the book shows less what its own
 * fills already consumed there; -1 when the book does not know it. */
static int64_t visible(sim_exchange *s, const obi_book *b, int side, int64_t price) {
  if (!tracked(s, b, side, price)) return -1;
  const book_level *l = book_find_level(b, side, price);
  int64_t *d = depletion(s, side, price), v = (l ? l->size : 0) - (d ? *d : 0);
  return v > 0 ? v : 0;
}

/* Our own resting volume ahead of order id at its price (earlier ids joined earlier). */
static int64_t own_ahead(const sim_exchange *s, uint64_t id) {
  const sim_order *o = &s->orders[id - 1];
  int64_t v = 0;
  for (size_t i = 0; i < s->nresting; i++) {
    const sim_order *q = &s->orders[s->resting[i] - 1];
    if (s->resting[i] < id && q->side == o->side && q->price == o->price) v += q->left;
  }
  return v;
}

static int64_t mid_x2(const obi_book *b) {
  int64_t bid, ask;
  return book_best(b, OBI_BID, &bid, NULL) && book_best(b, OBI_ASK, &ask, NULL) ? bid + ask : 0;
}

static void fill(sim_exchange *s, int64_t now, uint64_t id, int64_t price, int64_t qty, int maker, const obi_book *b) {
  sim_order *o = &s->orders[id - 1];
  double notional = (double)qty * (double)price / s->cfg.price_scale;
  double fee = notional * (maker ? s->cfg.maker_fee_bps : s->cfg.taker_fee_bps) * 1e-4;
  double extra = notional * s->cfg.extra_cost_bps * 1e-4;
  o->left -= qty;
  s->position += o->side == OBI_BID ? qty : -qty;
  s->stats.fills++;
  if (maker)
    s->stats.maker_fills++;
  else
    s->stats.taker_fills++;
  int64_t at = notify(s, now, SIM_N_FILL, id, price, qty, fee + extra, maker);
  if (!sim_grow((void **)&s->fills, &s->fills_cap, s->nfills, sizeof *s->fills, 64))
    s->fills[s->nfills++] = (sim_fill){id, now, at, o->side, price, qty, fee, extra, maker, mid_x2(b)};
}

static void finish(sim_exchange *s, int64_t now, uint64_t id, sim_notice_kind kind) {
  sim_order *o = &s->orders[id - 1];
  if (o->state == O_RESTING) /* the list stays in id (arrival) order */
    for (size_t i = 0; i < s->nresting; i++)
      if (s->resting[i] == id) {
        memmove(&s->resting[i], &s->resting[i + 1], (s->nresting - i - 1) * sizeof *s->resting);
        s->nresting--;
        break;
      }
  o->state = O_FINISHED;
  notify(s, now, kind, id, o->price, kind == SIM_N_DONE ? 0 : o->left, 0, 0);
}

/* Takes from the opposite side, best level first, up to limit (0: any price); returns what is left. */
static int64_t take(sim_exchange *s, int64_t now, uint64_t id, const obi_book *b) {
  sim_order *o = &s->orders[id - 1];
  int opp = o->side == OBI_BID ? OBI_ASK : OBI_BID;
  for (uint32_t k = 0; o->left > 0; k++) {
    const book_level *l = book_level_at(b, opp, k);
    if (!l) break;
    if (o->type == SIM_LIMIT && (o->side == OBI_BID ? l->price > o->price : l->price < o->price)) break;
    int64_t *d = depletion(s, opp, l->price), used = d ? *d : 0;
    int64_t avail = l->size - used;
    if (used && avail < o->left) s->stats.depleted_skipped += (l->size < used ? l->size : used);
    if (avail <= 0) continue;
    int64_t q = avail < o->left ? avail : o->left;
    fill(s, now, id, l->price, q, 0, b);
    deplete(s, opp, l->price, q);
  }
  return o->left;
}

/* ---- exchange-side actions ---- */

static void arrive(sim_exchange *s, int64_t now, uint64_t id, const obi_book *b) {
  sim_order *o = &s->orders[id - 1];
  if (o->cancel_requested) { /* the cancel overtook the order */
    finish(s, now, id, SIM_N_CANCELLED);
    return;
  }
  take(s, now, id, b);
  if (o->left == 0) {
    finish(s, now, id, SIM_N_DONE);
  } else if (o->type == SIM_MARKET) {
    s->stats.unfilled_ioc += o->left;
    finish(s, now, id, SIM_N_CANCELLED);
  } else {
    int64_t v = visible(s, b, o->side, o->price);
    o->ahead = v < 0 ? -1 : v + own_ahead(s, id); /* -1: unknown until the level comes into view */
    o->state = O_RESTING;
    if (sim_grow((void **)&s->resting, &s->resting_cap, s->nresting, sizeof *s->resting, 64)) {
      finish(s, now, id, SIM_N_REJECTED);
      return;
    }
    s->resting[s->nresting++] = id;
    notify(s, now, SIM_N_ACCEPTED, id, o->price, o->left, 0, 0);
  }
}

static void cancel_arrives(sim_exchange *s, int64_t now, uint64_t id) {
  sim_order *o = &s->orders[id - 1];
  if (o->state == O_IN_FLIGHT)
    o->cancel_requested = 1;
  else if (o->state == O_RESTING)
    finish(s, now, id, SIM_N_CANCELLED);
  /* finished: the cancel came too late; the order's terminal notice is on its way */
}

/* When a message sent now reaches the exchange: orders and cancels travel on one session, so a
 * message never overtakes an earlier one whatever the drawn latencies. */
static int64_t entry_time(sim_exchange *s, int64_t now_ns) {
  int64_t at = later(now_ns, sim_latency_draw(&s->cfg.entry, now_ns, &s->rng));
  if (at < s->last_entry) at = s->last_entry;
  s->last_entry = at;
  return at;
}

uint64_t sim_send(sim_exchange *s, int64_t now_ns, int side, sim_order_type type, int64_t price, int64_t qty) {
  if (sim_grow((void **)&s->orders, &s->orders_cap, s->norders, sizeof *s->orders, 64)) return 0;
  uint64_t id = ++s->norders;
  sim_order *o = &s->orders[id - 1];
  /* whole lots, except an order that only reduces the position (a partial fill may leave less
   * than a lot, and the exit must still be possible) */
  int reduces = (side == OBI_BID ? s->position < 0 && qty <= -s->position : s->position > 0 && qty <= s->position);
  int64_t lots = qty > 0 ? (reduces ? qty : qty / s->cfg.lot * s->cfg.lot) : 0;
  *o = (sim_order){.side = side, .type = type, .state = O_IN_FLIGHT, .price = price, .qty = lots, .left = lots};
  s->stats.orders++;
  if (type == SIM_MARKET)
    s->stats.market_orders++;
  else
    s->stats.limit_orders++;
  if (lots == 0 || (side != OBI_BID && side != OBI_ASK) || (type == SIM_LIMIT && (price <= 0 || price % s->cfg.tick))) {
    s->stats.rejected++;
    finish(s, now_ns, id, SIM_N_REJECTED);
    return id;
  }
  int64_t at = entry_time(s, now_ns);
  if (push(s, at, A_ARRIVE, id, NULL)) {
    s->stats.rejected++;
    finish(s, now_ns, id, SIM_N_REJECTED);
  }
  return id;
}

obi_err sim_cancel(sim_exchange *s, int64_t now_ns, uint64_t id) {
  if (id == 0 || id > s->norders || s->orders[id - 1].state == O_FINISHED) return OBI_EUNKNOWN_ORDER;
  s->stats.cancels_sent++;
  return push(s, entry_time(s, now_ns), A_CANCEL, id, NULL);
}

int64_t sim_feed_delay(sim_exchange *s, int64_t seen_ns) {
  return later(seen_ns, sim_latency_draw(&s->cfg.feed, seen_ns, &s->rng));
}

obi_err sim_schedule(sim_exchange *s, int64_t t, uint64_t token) { return push(s, t, A_TOKEN, token, NULL); }

int sim_next_action(sim_exchange *s, int64_t t, const obi_book *book, sim_notice *notice, uint64_t *token,
                    int64_t *token_ns) {
  while (s->nheap && s->heap[0].t <= t) {
    sim_action a = pop(s);
    switch (a.kind) {
    case A_ARRIVE: arrive(s, a.t, a.id, book); break;
    case A_CANCEL: cancel_arrives(s, a.t, a.id); break;
    case A_NOTICE: *notice = a.notice; return 1;
    case A_TOKEN: *token = a.id, *token_ns = a.t; return 2;
    }
  }
  return 0;
}

/* ---- the market moves ---- */

/* Probability that a cancel at the order's level came from ahead of it. */
static double ahead_probability(const sim_config *c, int64_t ahead, int64_t level_before) {
  if (level_before <= 0) return 0;
  double x = (double)ahead / (double)level_before;
  if (x >= 1) return 1;
  if (c->queue == SIM_QUEUE_LINEAR) return x;
  double p = pow(x, c->queue_power), q = pow(1 - x, c->queue_power);
  return p / (p + q);
}

void sim_on_event(sim_exchange *s, const obi_event *ev, const obi_book *book) {
  int t = ev->type;
  if (s->ndepleted && (t == OBI_EV_CANCEL || t == OBI_EV_DELETE || t == OBI_EV_EXEC || t == OBI_EV_LEVEL_SET ||
                       t == OBI_EV_SNAPSHOT_BEGIN)) {
    for (int i = 0; i < s->ndepleted; i++) {
      int known = t == OBI_EV_SNAPSHOT_BEGIN || tracked(s, book, s->depleted[i].side, s->depleted[i].price);
      const book_level *l =
          t == OBI_EV_SNAPSHOT_BEGIN ? NULL : book_find_level(book, s->depleted[i].side, s->depleted[i].price);
      if (!known) continue; /* out of view: neither emptied nor refreshed */
      if (!l) {             /* the level emptied (or the book was refreshed): the depletion is forgotten */
        s->depleted[i--] = s->depleted[--s->ndepleted];
      } else if (s->depleted[i].qty > l->size) {
        s->depleted[i].qty = l->size;
      }
    }
  }
  int64_t through_left = ev->size; /* an execution through our prices fills our orders once, in order */
  for (size_t r = 0; r < s->nresting; r++) {
    uint64_t id = s->resting[r];
    sim_order *o = &s->orders[id - 1];
    int same = ev->side == o->side;
    int64_t before_left = o->left;
    if (o->ahead < 0 && same) { /* the level came into view: everything shown is ahead of us */
      int64_t v = visible(s, book, o->side, o->price);
      if (v >= 0) o->ahead = v + own_ahead(s, id);
    }
    if ((t == OBI_EV_EXEC || t == OBI_EV_TRADE) && same) {
      if (ev->price == o->price && o->ahead >= 0) {
        if (o->ahead >= ev->size) {
          o->ahead -= ev->size;
        } else {
          int64_t x = ev->size - o->ahead;
          o->ahead = 0;
          fill(s, ev->ts_ns, id, o->price, x < o->left ? x : o->left, 1, book);
        }
      } else if (o->side == OBI_BID ? ev->price < o->price : ev->price > o->price) {
        o->ahead = 0; /* the level was swept: nothing is ahead any more */
        int64_t q = through_left < o->left ? through_left : o->left;
        if (q > 0) fill(s, ev->ts_ns, id, o->price, q, 1, book);
        through_left -= q;
      }
    } else if (t == OBI_EV_ADD && !same && (o->side == OBI_BID ? ev->price <= o->price : ev->price >= o->price)) {
      /* the incoming order would have matched the resting one */
      int64_t *d = depletion(s, ev->side, ev->price);
      const book_level *l = book_find_level(book, ev->side, ev->price);
      int64_t avail = (l ? l->size : 0) - (d ? *d : 0);
      if (avail > ev->size) avail = ev->size;
      if (avail > 0) {
        int64_t q = avail < o->left ? avail : o->left;
        fill(s, ev->ts_ns, id, o->price, q, 1, book);
        deplete(s, ev->side, ev->price, q);
      }
    } else if ((t == OBI_EV_CANCEL || t == OBI_EV_DELETE) && same && ev->price == o->price &&
               s->cfg.queue != SIM_QUEUE_TRADES && o->ahead > 0) {
      const book_level *l = book_find_level(book, o->side, o->price);
      int64_t after = l ? l->size : 0;
      if (sim_uniform(&s->rng) < ahead_probability(&s->cfg, o->ahead, after + ev->size))
        o->ahead -= ev->size < o->ahead ? ev->size : o->ahead;
    }
    if (same && ev->price == o->price && o->ahead >= 0) { /* never more ahead than is there */
      int64_t v = visible(s, book, o->side, o->price);
      if (v >= 0 && o->ahead > v + own_ahead(s, id)) o->ahead = v + own_ahead(s, id);
    }
    if (o->left == 0 && before_left > 0) {
      finish(s, ev->ts_ns, id, SIM_N_DONE);
      r--; /* finish moved the last resting order into this slot */
    }
  }
}

/* ---- readers ---- */

const sim_fill *sim_fills(const sim_exchange *s, size_t *n) {
  *n = s->nfills;
  return s->fills;
}
int64_t sim_position(const sim_exchange *s) { return s->position; }
const sim_stats *sim_get_stats(const sim_exchange *s) { return &s->stats; }
size_t sim_open_orders(const sim_exchange *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->norders; i++) n += s->orders[i].state != O_FINISHED;
  return n;
}
int64_t sim_queue_ahead(const sim_exchange *s, uint64_t id) {
  return id && id <= s->norders && s->orders[id - 1].state == O_RESTING ? s->orders[id - 1].ahead : -1;
}
