/* backtest.c — the driver of backtest.h: signal -> strategy -> risk -> simulated exchange on one
 * clock.
 *
 * The strategy knows only what has reached it: its position and cash change when a fill
 * NOTICE arrives (after the response latency), not when the exchange filled the order; an
 * order stays "open" for it until its terminal notice. Decisions on a row are queued in the
 * simulator at the row's time plus the feed latency (a token indexes the pending decision), so
 * they interleave with fills and notices in time order. Equity for the risk manager is the
 * strategy's known cash plus its known position at the last seen mid.
 *
 * Accounting (PnL, fees, Sharpe) is not done here: the exchange-side fills and the marks go to
 * perf.h, which recomputes everything from them (as a user can from the --trades CSV). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "obi/backtest.h"
#include "sim_internal.h"

typedef struct {
  uint64_t id;
  int64_t left, sent_ns, signed_qty;
  int exit, cancel_sent, maker;
} open_order;

typedef struct {
  int64_t seen_ns, row, bid, ask;
  float probs[3];
} pending;

#define BT_MAX_OPEN 16

struct obi_backtest {
  bt_config cfg;
  bt_signal sig;
  sim_exchange *sim;
  obi_risk risk;
  int risk_ready;
  /* what the strategy knows */
  int64_t pos;
  double cash;
  int64_t entry_ns, entry_row;
  open_order open[BT_MAX_OPEN];
  int nopen;
  /* decisions waiting for their time (a ring indexed by token) */
  pending *ring;
  uint64_t ring_head, ring_tail;
  size_t ring_cap;
  /* the clock of marks */
  int64_t next_mark, last_mid_x2, row;
  int64_t last_act; /* time of the last scheduled decision */
  int64_t last_pos; /* exchange-side position at the end of the last group */
  bt_mark *marks;
  size_t nmarks, marks_cap;
  bt_decision *dec;
  size_t ndec, dec_cap;
  bt_stats stats;
};

void strat_config_default(strat_config *c) {
  *c = (strat_config){.threshold = 0.3,
                      .size = 100,
                      .maker_timeout_ns = 1000000000LL,
                      .hold_rows = 50,
                      .exit_on_flip = 1,
                      .allow_short = 1};
}

void bt_config_default(bt_config *c) {
  memset(c, 0, sizeof *c);
  strat_config_default(&c->strat);
  sim_config_default(&c->sim);
  risk_config_default(&c->risk);
  feat_sampler_parse(&c->sampler, "every", 0);
  c->mark_ns = 60000000000LL;
}

/* "500ms" style durations for the JSON; -1 when malformed. */
static int64_t duration_ns(const char *s) {
  char *unit;
  double v = strtod(s, &unit);
  if (unit == s || !(v >= 0)) return -1;
  double k = !strcmp(unit, "ns")   ? 1
             : !strcmp(unit, "us") ? 1e3
             : !strcmp(unit, "ms") ? 1e6
             : !strcmp(unit, "s")  ? 1e9
                                   : -1;
  return k < 0 || v * k > 9e18 ? -1 : (int64_t)(v * k);
}

obi_err strat_config_from_json(strat_config *c, const char *json_text, char *why, size_t why_len) {
  json_t *o = sim_json_object(json_text, "strategy", why, why_len);
  if (!o) return OBI_EPARSE;
  const char *key;
  json_t *v;
  obi_err err = OBI_OK;
  json_object_foreach(o, key, v) {
    const char *bad = NULL;
    if (!strcmp(key, "threshold")) {
      if (!json_is_number(v) || !(json_number_value(v) > 0 && json_number_value(v) <= 1))
        bad = "a number in (0, 1]";
      else
        c->threshold = json_number_value(v);
    } else if (!strcmp(key, "size")) {
      if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000000000LL)
        bad = "a positive integer (size units)";
      else
        c->size = json_integer_value(v);
    } else if (!strcmp(key, "entry")) {
      const char *s = json_string_value(v);
      if (!s || (strcmp(s, "taker") && strcmp(s, "maker")))
        bad = "\"taker\" or \"maker\"";
      else
        c->maker = !strcmp(s, "maker");
    } else if (!strcmp(key, "maker_timeout")) {
      int64_t ns = json_is_string(v) ? duration_ns(json_string_value(v)) : -1;
      if (ns <= 0)
        bad = "a duration such as \"500ms\"";
      else
        c->maker_timeout_ns = ns;
    } else if (!strcmp(key, "hold")) {
      if (json_is_integer(v) && json_integer_value(v) >= 1) {
        c->hold_rows = json_integer_value(v), c->hold_ns = 0;
      } else {
        int64_t ns = json_is_string(v) ? duration_ns(json_string_value(v)) : -1;
        if (ns <= 0)
          bad = "a number of rows (50) or a duration (\"2s\")";
        else
          c->hold_ns = ns, c->hold_rows = 0;
      }
    } else if (!strcmp(key, "exit_on_flip") || !strcmp(key, "allow_short")) {
      if (!json_is_boolean(v))
        bad = "true or false";
      else
        *(!strcmp(key, "exit_on_flip") ? &c->exit_on_flip : &c->allow_short) = json_is_true(v);
    } else {
      snprintf(why, why_len,
               "strategy: unknown key '%s' (threshold, size, entry, maker_timeout, hold, exit_on_flip, allow_short)",
               key);
      err = OBI_EPARSE;
      break;
    }
    if (bad) {
      snprintf(why, why_len, "strategy: '%s' must be %s", key, bad);
      err = OBI_EPARSE;
      break;
    }
  }
  json_decref(o);
  return err;
}

obi_err bt_new(obi_backtest **out, bt_config *cfg, bt_signal signal) {
  *out = NULL;
  if (!(cfg->strat.threshold > 0) || cfg->strat.size < 1 || cfg->mark_ns < 1 || !signal.predict ||
      (cfg->strat.hold_rows < 1 && cfg->strat.hold_ns < 1))
    return OBI_EINVAL;
  obi_backtest *bt = calloc(1, sizeof *bt);
  if (!bt) return OBI_ENOMEM;
  bt->cfg = *cfg;
  bt->sig = signal;
  memset(&cfg->sim.feed, 0, sizeof cfg->sim.feed); /* the tables moved in */
  memset(&cfg->sim.entry, 0, sizeof cfg->sim.entry);
  memset(&cfg->sim.response, 0, sizeof cfg->sim.response);
  obi_err err = sim_new(&bt->sim, &bt->cfg.sim);
  if (!err) err = risk_init(&bt->risk, &bt->cfg.risk, 1);
  if (err) {
    if (!bt->sim) {
      sim_latency_free(&bt->cfg.sim.feed);
      sim_latency_free(&bt->cfg.sim.entry);
      sim_latency_free(&bt->cfg.sim.response);
    }
    sim_free(bt->sim);
    free(bt);
    return err;
  }
  bt->risk_ready = 1;
  bt->next_mark = INT64_MIN;
  *out = bt;
  return OBI_OK;
}

void bt_free(obi_backtest *bt) {
  if (!bt) return;
  sim_free(bt->sim);
  if (bt->risk_ready) risk_free(&bt->risk);
  free(bt->ring);
  free(bt->marks);
  free(bt->dec);
  free(bt);
}

/* ---- the strategy ---- */

static void send(obi_backtest *bt, int64_t now, int64_t signed_qty, int maker, int64_t price, int exit) {
  if (bt->nopen == BT_MAX_OPEN || signed_qty == 0) return;
  int side = signed_qty > 0 ? OBI_BID : OBI_ASK;
  int64_t q = signed_qty > 0 ? signed_qty : -signed_qty;
  uint64_t id = sim_send(bt->sim, now, side, maker ? SIM_LIMIT : SIM_MARKET, price, q);
  if (!id) return;
  bt->open[bt->nopen++] = (open_order){id, q, now, signed_qty, exit, 0, maker};
}

static void cancel_entries(obi_backtest *bt, int64_t now) {
  for (int i = 0; i < bt->nopen; i++)
    if (!bt->open[i].exit && !bt->open[i].cancel_sent && sim_cancel(bt->sim, now, bt->open[i].id) == OBI_OK)
      bt->open[i].cancel_sent = 1;
}

static void on_notice(obi_backtest *bt, const sim_notice *n) {
  bt->stats.notices++;
  int k = 0;
  while (k < bt->nopen && bt->open[k].id != n->order_id) k++;
  if (n->kind == SIM_N_FILL) {
    int64_t before = bt->pos, q = n->side == OBI_BID ? n->qty : -n->qty;
    bt->pos += q;
    bt->cash -= (double)q * (double)n->price / bt->cfg.sim.price_scale + n->fee;
    /* a taker's holding period starts at its decision; a maker's when its first fill is known */
    if (before == 0 && bt->pos != 0 && n->maker) bt->entry_ns = n->notify_ns, bt->entry_row = bt->row - 1;
    if (k < bt->nopen) bt->open[k].left -= n->qty;
  } else if (n->kind != SIM_N_ACCEPTED && k < bt->nopen) {
    bt->open[k] = bt->open[--bt->nopen]; /* the order's terminal notice */
  }
}

static void decide(obi_backtest *bt, int64_t now, const pending *p) {
  const strat_config *sc = &bt->cfg.strat;
  bt_decision d = {p->seen_ns, now, p->row, {p->probs[0], p->probs[1], p->probs[2]}, BT_NONE, 0};
  bt->stats.decisions++;
  for (int i = 0; i < bt->nopen; i++) /* maker entries that waited too long */
    if (bt->open[i].maker && !bt->open[i].cancel_sent && now - bt->open[i].sent_ns >= sc->maker_timeout_ns &&
        sim_cancel(bt->sim, now, bt->open[i].id) == OBI_OK)
      bt->open[i].cancel_sent = 1;
  if (p->seen_ns >= bt->cfg.start_ns) {
    bt->stats.trading_decisions++;
    double s = (double)p->probs[2] - (double)p->probs[0];
    int dir = s > sc->threshold ? 1 : s < -sc->threshold ? -1 : 0;
    if (dir < 0 && !sc->allow_short) dir = 0;
    int exit_open = 0;
    for (int i = 0; i < bt->nopen; i++) exit_open |= bt->open[i].exit;
    int flatten = risk_must_flatten(&bt->risk, 0);
    if (bt->pos != 0) {
      int held = (int)(bt->pos > 0 ? 1 : -1);
      int expired = sc->hold_ns ? now - bt->entry_ns >= sc->hold_ns : p->row - bt->entry_row >= sc->hold_rows;
      int flip = sc->exit_on_flip && dir == -held;
      d.action = BT_HOLD;
      if ((flatten || expired || flip) && !exit_open) {
        cancel_entries(bt, now);
        send(bt, now, -bt->pos, 0, 0, 1);
        bt->stats.exits++;
        d.action = BT_EXIT, d.qty = -bt->pos;
      }
    } else if (flatten) {
      cancel_entries(bt, now);
    } else if (dir != 0 && bt->nopen == 0) {
      int64_t price = dir > 0 ? p->bid : p->ask; /* maker: join the own best */
      int64_t ref = dir > 0 ? p->ask : p->bid;   /* what a taker would pay */
      double allowed =
          risk_check_order(&bt->risk, 0, now, 0, (double)(dir * sc->size), (double)ref / bt->cfg.sim.price_scale);
      int64_t q = (int64_t)allowed;
      if (q == 0) {
        d.action = BT_BLOCKED;
        bt->stats.blocked_by_risk++;
      } else {
        send(bt, now, q, sc->maker, price, 0);
        bt->entry_ns = now, bt->entry_row = p->row;
        bt->stats.entries++;
        d.action = dir > 0 ? BT_ENTER_LONG : BT_ENTER_SHORT, d.qty = q;
      }
    }
  }
  if (bt->cfg.on_decision) bt->cfg.on_decision(bt->cfg.decision_ctx, &d);
  if (bt->cfg.keep_decisions && !sim_grow((void **)&bt->dec, &bt->dec_cap, bt->ndec, sizeof *bt->dec, 256))
    bt->dec[bt->ndec++] = d;
}

/* Everything due before `until`, in time order. */
static void run_until(obi_backtest *bt, int64_t until, const obi_book *book) {
  sim_notice n;
  uint64_t token;
  int64_t at;
  int k;
  while ((k = sim_next_action(bt->sim, until, book, &n, &token, &at))) {
    if (k == 1) {
      on_notice(bt, &n);
    } else { /* tokens come back in order (see last_act) */
      pending p = bt->ring[token % bt->ring_cap];
      bt->ring_head = token + 1;
      decide(bt, at, &p);
    }
  }
}

static int64_t book_mid_x2(const obi_book *b) {
  int64_t bid, ask;
  return book_best(b, OBI_BID, &bid, NULL) && book_best(b, OBI_ASK, &ask, NULL) ? bid + ask : 0;
}

obi_err bt_on_event(obi_backtest *bt, const obi_event *ev, const obi_book *book, int group_end, int64_t next_ts) {
  bt->stats.events++;
  sim_on_event(bt->sim, ev, book);
  if (bt->sig.update) bt->sig.update(bt->sig.ctx, ev, book);
  int take = feat_sampler_take(&bt->cfg.sampler, ev, book, group_end);
  if (group_end) {
    int64_t m2 = book_mid_x2(book);
    if (bt->next_mark == INT64_MIN) bt->next_mark = (ev->ts_ns / bt->cfg.mark_ns + 1) * bt->cfg.mark_ns;
    while (bt->next_mark <= ev->ts_ns && bt->last_mid_x2) { /* the mid in force just before the mark */
      if (sim_grow((void **)&bt->marks, &bt->marks_cap, bt->nmarks, sizeof *bt->marks, 256)) return OBI_ENOMEM;
      bt->marks[bt->nmarks++] = (bt_mark){bt->next_mark, bt->last_mid_x2, bt->last_pos}; /* as before this group */
      bt->next_mark += bt->cfg.mark_ns;
    }
    if (m2) {
      bt->last_mid_x2 = m2;
      double mid = (double)m2 * 0.5 / bt->cfg.sim.price_scale;
      risk_on_market(&bt->risk, 0, ev->ts_ns, mid);
      risk_on_equity(&bt->risk, ev->ts_ns, bt->cash + (double)bt->pos * mid);
    }
    risk_on_clock(&bt->risk, ev->ts_ns);
  }
  if (take) {
    bt->stats.rows++;
    pending p = {.seen_ns = ev->ts_ns, .row = bt->row};
    book_best(book, OBI_BID, &p.bid, NULL);
    book_best(book, OBI_ASK, &p.ask, NULL);
    if (bt->sig.predict(bt->sig.ctx, ev, book, bt->row, p.probs)) {
      bt->stats.predictions++;
      if (bt->ring_tail - bt->ring_head == bt->ring_cap) { /* grow the ring, keeping token % cap slots */
        size_t cap = bt->ring_cap ? bt->ring_cap * 2 : 64;
        pending *r = malloc(cap * sizeof *r);
        if (!r) return OBI_ENOMEM;
        for (uint64_t t = bt->ring_head; t < bt->ring_tail; t++) r[t % cap] = bt->ring[t % bt->ring_cap];
        free(bt->ring);
        bt->ring = r, bt->ring_cap = cap;
      }
      uint64_t token = bt->ring_tail++;
      bt->ring[token % bt->ring_cap] = p;
      /* a feed delivers in order (one TCP stream): a row never overtakes an earlier one */
      int64_t at = sim_feed_delay(bt->sim, ev->ts_ns);
      if (at < bt->last_act) at = bt->last_act;
      bt->last_act = at;
      obi_err err = sim_schedule(bt->sim, at, token);
      if (err) return err;
    }
    bt->row++;
  }
  if (group_end) {
    run_until(bt, next_ts == INT64_MAX ? INT64_MAX : next_ts - 1, book);
    bt->last_pos = sim_position(bt->sim);
  }
  if (next_ts == INT64_MAX && bt->last_mid_x2) { /* the end: a last (partial) period closes at the last fill */
    size_t nf;
    const sim_fill *f = sim_fills(bt->sim, &nf);
    int64_t t = ev->ts_ns;
    if (nf && f[nf - 1].exch_ns > t) t = f[nf - 1].exch_ns;
    if (!bt->nmarks || bt->marks[bt->nmarks - 1].ts_ns < t) {
      if (sim_grow((void **)&bt->marks, &bt->marks_cap, bt->nmarks, sizeof *bt->marks, 256)) return OBI_ENOMEM;
      bt->marks[bt->nmarks++] = (bt_mark){t, bt->last_mid_x2, sim_position(bt->sim)};
    }
  }
  return OBI_OK;
}

const sim_fill *bt_fills(const obi_backtest *bt, size_t *n) { return sim_fills(bt->sim, n); }
const bt_mark *bt_marks(const obi_backtest *bt, size_t *n) {
  *n = bt->nmarks;
  return bt->marks;
}
const bt_decision *bt_decisions(const obi_backtest *bt, size_t *n) {
  *n = bt->ndec;
  return bt->dec;
}
const bt_stats *bt_get_stats(const obi_backtest *bt) { return &bt->stats; }
const sim_exchange *bt_exchange(const obi_backtest *bt) { return bt->sim; }
const obi_risk *bt_risk(const obi_backtest *bt) { return &bt->risk; }
void bt_kill(obi_backtest *bt, int64_t ts_ns, const char *reason) { risk_kill(&bt->risk, ts_ns, reason); }
