/* features.c — the streaming feature engine (definitions in docs/features.md).
 *
 * Per event (feat_update) the engine does O(1) work plus O(5) for multi-level OFI:
 *   - OFI contributions e_m from the top-5 snapshot it kept at the previous event;
 *   - one record per event in a ring buffer shared by the rolling time windows; each
 *     window keeps the index of its oldest event and running integer sums (OFI, depth,
 *     trade volume, counts), which stay exact under add/evict;
 *   - sums of doubles (realized and bipower variance, traded notional) use the two-stack
 *     sliding aggregation instead of subtract-on-evict, so a window that shrinks after a
 *     burst never carries cancellation error: every query is a sum of positive terms;
 *   - exponentially decayed intensities are one multiply-add per event of their class;
 *   - OHLC bars of the mid close when time moves past them; the bar estimators are
 *     recomputed once per completed bar (O(B) per bar, not per event).
 * feat_compute reads the book's top K levels (O(K)) and the state above. */
#include "obi/features.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_TIME_CAP_S 3600.0
#define RET_EVENTS 100 /* longest event return: ret_100ev */
#define PI 3.14159265358979323846

/* ---- two-stack sliding sum of non-negative doubles --------------------------------- */

typedef struct {
  int64_t *ts;       /* eviction time of each item */
  double *val, *agg; /* agg[i]: sum of val[i..split) (valid for the front part) */
  uint64_t head, split, tail;
  uint32_t cap; /* power of two */
  double back_sum;
} swsum;

static int swsum_init(swsum *s, uint32_t cap) {
  memset(s, 0, sizeof *s);
  s->cap = cap;
  s->ts = malloc(cap * sizeof *s->ts);
  s->val = malloc(cap * sizeof *s->val);
  s->agg = malloc(cap * sizeof *s->agg);
  return s->ts && s->val && s->agg;
}

static void swsum_free(swsum *s) {
  free(s->ts);
  free(s->val);
  free(s->agg);
}

static int swsum_grow(swsum *s) {
  uint32_t cap = s->cap * 2, mask = cap - 1, old = s->cap - 1;
  int64_t *ts = malloc(cap * sizeof *ts);
  double *val = malloc(cap * sizeof *val), *agg = malloc(cap * sizeof *agg);
  if (!ts || !val || !agg) {
    free(ts), free(val), free(agg);
    return 0;
  }
  for (uint64_t i = s->head; i < s->tail; i++) {
    ts[i & mask] = s->ts[i & old];
    val[i & mask] = s->val[i & old];
    agg[i & mask] = s->agg[i & old];
  }
  swsum_free(s);
  s->ts = ts, s->val = val, s->agg = agg, s->cap = cap;
  return 1;
}

static void swsum_push(swsum *s, int64_t ts, double v) {
  if (s->tail - s->head == s->cap && !swsum_grow(s)) return; /* out of memory: drop (never seen) */
  uint32_t i = (uint32_t)(s->tail++ & (s->cap - 1));
  s->ts[i] = ts;
  s->val[i] = v;
  s->back_sum += v;
}

/* Evicts items with ts <= limit. When the front part is empty, the back part becomes the
 * front: its suffix sums are computed once (each item is moved once: amortised O(1)). */
static void swsum_evict(swsum *s, int64_t limit) {
  uint32_t mask = s->cap - 1;
  while (s->head < s->tail && s->ts[s->head & mask] <= limit) {
    if (s->head == s->split) {
      double acc = 0;
      for (uint64_t i = s->tail; i > s->split; i--) {
        acc += s->val[(i - 1) & mask];
        s->agg[(i - 1) & mask] = acc;
      }
      s->split = s->tail;
      s->back_sum = 0;
    }
    s->head++;
  }
}

static double swsum_value(const swsum *s) {
  return (s->head < s->split ? s->agg[s->head & (s->cap - 1)] : 0.0) + s->back_sum;
}

/* ---- the engine ------------------------------------------------------------------ */

typedef struct { /* one event's contribution to the rolling windows */
  int64_t ts;
  int64_t ofi[FEAT_OFI_LEVELS];
  int64_t depth[FEAT_OFI_LEVELS]; /* q^b_m + q^a_m after the event */
  int64_t volume, signed_volume;
  int32_t trade;
  double mid; /* mid after the event (currency); 0 while undefined */
} ev_record;

typedef struct {
  uint64_t start; /* oldest event in the window (absolute index into the ring) */
  int64_t ofi[FEAT_OFI_LEVELS], depth[FEAT_OFI_LEVELS];
  int64_t volume, signed_volume, trades, events;
  double mid_before; /* mid after the last evicted event (the last one at or before t - w) */
  int has_before;
} time_window;

enum { Q_ADD, Q_CANCEL, Q_EXEC, Q_CLASSES };

typedef struct {
  double o, h, l, c;
} bar;

/* What the estimators need of a completed bar, computed once when it completes (bps^2 / bps). */
typedef struct {
  double parkinson, garman_klass, rogers_satchell;
  double open_ret, close_ret; /* ln(O / previous C), ln(C / O); open_ret valid when has_prev */
  int has_prev;
} bar_terms;

struct feat_engine {
  feat_config cfg;
  int ncols;
  char names[FEAT_MAX_COLS][48];
  char descs[FEAT_MAX_COLS][200];
  /* column groups (first column of each) */
  int c_price, c_imb, n_imb_depth, imb_depth_n[4], c_ofi, c_trade, c_depth, n_depth, depth_n[4], c_within, c_shape,
      c_vol, c_queue, c_ret;
  int has_mp;
  feat_microprice mp;

  /* state */
  uint64_t events;
  int64_t now;
  int ready;
  double mid, last_mid; /* current mid (currency), and the mid after the previous event */
  int mid_defined;
  int64_t prev_p[2][FEAT_OFI_LEVELS], prev_q[2][FEAT_OFI_LEVELS];
  int prev_n[2];
  int64_t prev_best[2]; /* best prices after the previous event (0: none) */
  int in_snapshot;      /* between SNAPSHOT_BEGIN and SNAPSHOT_END: a book being rebuilt */

  ev_record *ring;
  uint64_t ring_head, ring_tail;
  uint32_t ring_cap;
  time_window win[FEAT_WINDOWS];

  /* last N events: OFI L1 and depth L1 */
  int64_t *ev_ofi1, *ev_depth1;
  int64_t ev_ofi1_sum, ev_depth1_sum;

  /* decayed intensities, all kept at the time of the last event (`now`): every event decays
   * them by one shared factor per time constant (none when time did not move), so reading
   * them needs no exp */
  double trade_intensity[FEAT_WINDOWS];
  double q_rate[Q_CLASSES][2];
  int64_t last_mid_change, last_trade;
  int has_mid_change, has_trade;

  /* realized and bipower variance over windows 1 and 2; traded notional per window (price x
   * size can exceed int64, so it is a sum of doubles, exact enough without subtraction) */
  swsum rv[2], bv[2], notional[FEAT_WINDOWS];
  double last_ret; /* last mid-change return (bps) */
  int64_t last_ret_ts;
  int has_ret;

  /* mid after each of the last RET_EVENTS + 1 events */
  double mids[RET_EVENTS + 1];
  uint64_t mids_count;

  /* bars */
  int64_t bar_index;
  int bar_open, bar_has_events;
  bar cur;
  double prev_close;
  bar_terms *bars; /* the last B + 1 completed bars */
  uint64_t bars_done;
  double vol_parkinson, vol_gk, vol_rs, vol_yz;
};

void feat_config_default(feat_config *c) {
  memset(c, 0, sizeof *c);
  c->levels = 10;
  c->window_ns[0] = 1000000000LL;
  c->window_ns[1] = 10000000000LL;
  c->window_ns[2] = 60000000000LL;
  c->event_window = 100;
  c->level_decay = 0.5;
  c->intensity_tau_s = 5.0;
  c->bar_ns = 1000000000LL;
  c->bars = 60;
  c->price_scale = 10000.0;
  c->tick = 100.0;
}

static void window_name(int64_t ns, char *out, size_t n) {
  if (ns % 1000000000LL == 0)
    snprintf(out, n, "%llds", (long long)(ns / 1000000000LL));
  else
    snprintf(out, n, "%lldms", (long long)(ns / 1000000LL));
}

static void add_col(feat_engine *e, const char *desc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_col(feat_engine *e, const char *desc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->names[e->ncols], sizeof e->names[0], fmt, ap);
  va_end(ap);
  snprintf(e->descs[e->ncols], sizeof e->descs[0], "%s", desc);
  e->ncols++;
}

static void build_columns(feat_engine *e) {
  const feat_config *c = &e->cfg;
  char w[FEAT_WINDOWS][24], d[200];
  for (int j = 0; j < FEAT_WINDOWS; j++) window_name(c->window_ns[j], w[j], sizeof w[j]);
  e->c_price = e->ncols;
  add_col(e, "mid price (best bid + best ask) / 2, currency", "mid");
  add_col(e, "spread in ticks", "spread_ticks");
  add_col(e, "spread / mid, bps", "spread_bps");
  add_col(e, "L1 size-weighted mid (bid * ask size + ask * bid size) / (bid size + ask size)", "wmid_l1");
  add_col(e, "Stoikov (2018) micro-price: mid + g(imbalance, spread) from the fitted table", "microprice_stoikov");
  add_col(e, "(micro-price - mid) / mid, bps", "microprice_minus_mid_bps");
  e->c_imb = e->ncols;
  add_col(e, "L1 volume imbalance (qb1 - qa1) / (qb1 + qa1)", "imb_l1");
  static const int depth_imb_n[4] = {2, 3, 5, 10};
  for (int i = 0; i < 4; i++) {
    if (depth_imb_n[i] > c->levels) continue;
    e->imb_depth_n[e->n_imb_depth++] = depth_imb_n[i];
    snprintf(d, sizeof d, "cumulative depth imbalance over levels 1..%d", depth_imb_n[i]);
    add_col(e, d, "imb_depth_%d", depth_imb_n[i]);
  }
  snprintf(d, sizeof d, "level-decayed imbalance, weights exp(-%g (k - 1)), k = 1..%d", c->level_decay, c->levels);
  add_col(e, d, "imb_decay");
  add_col(e, "order-count imbalance at the best levels (cb1 - ca1) / (cb1 + ca1)", "imb_order_count");
  e->c_ofi = e->ncols;
  for (int m = 1; m <= FEAT_OFI_LEVELS; m++)
    for (int j = 0; j < FEAT_WINDOWS; j++) {
      snprintf(d, sizeof d, "order flow imbalance at level %d over %s (Cont et al. 2014; Xu et al. 2019), / mean depth",
               m, w[j]);
      add_col(e, d, "ofi_l%d_%s", m, w[j]);
    }
  snprintf(d, sizeof d, "order flow imbalance at level 1 over the last %d events, / mean depth", c->event_window);
  add_col(e, d, "ofi_l1_%dev", c->event_window);
  e->c_trade = e->ncols;
  for (int j = 0; j < FEAT_WINDOWS; j++) {
    snprintf(d, sizeof d, "signed trade volume (buyer-initiated +) over %s", w[j]);
    add_col(e, d, "trade_signed_volume_%s", w[j]);
    snprintf(d, sizeof d, "trade imbalance: signed volume / volume over %s", w[j]);
    add_col(e, d, "trade_imbalance_%s", w[j]);
    snprintf(d, sizeof d, "number of trades over %s", w[j]);
    add_col(e, d, "trade_count_%s", w[j]);
    snprintf(d, sizeof d, "trade intensity, exponentially decayed with time constant %s, per second", w[j]);
    add_col(e, d, "trade_intensity_%s", w[j]);
    snprintf(d, sizeof d, "VWAP of the trades over %s minus mid, bps", w[j]);
    add_col(e, d, "vwap_minus_mid_bps_%s", w[j]);
  }
  e->c_depth = e->ncols;
  static const int depth_n[4] = {1, 3, 5, 10};
  for (int i = 0; i < 4; i++) {
    if (depth_n[i] > c->levels) continue;
    e->depth_n[e->n_depth++] = depth_n[i];
    snprintf(d, sizeof d, "cumulative bid size over levels 1..%d", depth_n[i]);
    add_col(e, d, "depth_bid_%d", depth_n[i]);
    snprintf(d, sizeof d, "cumulative ask size over levels 1..%d", depth_n[i]);
    add_col(e, d, "depth_ask_%d", depth_n[i]);
  }
  e->c_within = e->ncols;
  static const int within_bps[2] = {10, 50};
  for (int i = 0; i < 2; i++) {
    snprintf(d, sizeof d, "bid size within %d bps of mid (top %d levels)", within_bps[i], c->levels);
    add_col(e, d, "depth_bid_%dbps", within_bps[i]);
    snprintf(d, sizeof d, "ask size within %d bps of mid (top %d levels)", within_bps[i], c->levels);
    add_col(e, d, "depth_ask_%dbps", within_bps[i]);
  }
  e->c_shape = e->ncols;
  add_col(e, "bid book slope: OLS slope of cumulative size on distance from mid (bps)", "slope_bid");
  add_col(e, "ask book slope: OLS slope of cumulative size on distance from mid (bps)", "slope_ask");
  add_col(e, "Herfindahl concentration of bid level sizes", "hhi_bid");
  add_col(e, "Herfindahl concentration of ask level sizes", "hhi_ask");
  add_col(e, "price span of the bid levels (best to deepest of K), ticks", "span_bid_ticks");
  add_col(e, "price span of the ask levels (best to deepest of K), ticks", "span_ask_ticks");
  e->c_vol = e->ncols;
  for (int j = 1; j < FEAT_WINDOWS; j++) {
    snprintf(d, sizeof d, "realized variance of mid-change log returns over %s, bps^2", w[j]);
    add_col(e, d, "rv_%s", w[j]);
  }
  for (int j = 1; j < FEAT_WINDOWS; j++) {
    snprintf(d, sizeof d, "bipower variation (Barndorff-Nielsen & Shephard 2004) over %s, bps^2", w[j]);
    add_col(e, d, "bv_%s", w[j]);
  }
  add_col(e, "Parkinson (1980) variance per bar of the mid over the last bars, bps^2", "vol_parkinson");
  add_col(e, "Garman-Klass (1980) variance per bar, bps^2", "vol_garman_klass");
  add_col(e, "Rogers-Satchell (1991) variance per bar, bps^2", "vol_rogers_satchell");
  add_col(e, "Yang-Zhang (2000) variance per bar, bps^2", "vol_yang_zhang");
  e->c_queue = e->ncols;
  static const char *const cls[Q_CLASSES] = {"add", "cancel", "exec"};
  static const char *const cls_desc[Q_CLASSES] = {"adds", "cancellations and deletions", "visible executions"};
  for (int k = 0; k < Q_CLASSES; k++)
    for (int s = 0; s < 2; s++) {
      snprintf(d, sizeof d, "intensity of %s at the best %s (tau %g s), per second", cls_desc[k], s ? "ask" : "bid",
               c->intensity_tau_s);
      add_col(e, d, "%s_rate_%s", cls[k], s ? "ask" : "bid");
    }
  add_col(e, "cancel rate / add rate at the best bid", "cancel_to_add_bid");
  add_col(e, "cancel rate / add rate at the best ask", "cancel_to_add_ask");
  add_col(e, "best bid size / bid execution rate, seconds (cap 3600)", "deplete_time_bid");
  add_col(e, "best ask size / ask execution rate, seconds (cap 3600)", "deplete_time_ask");
  add_col(e, "seconds since the mid last changed (cap 3600)", "time_since_mid_change");
  add_col(e, "seconds since the last trade (cap 3600)", "time_since_trade");
  add_col(e, "age of the first order in the best bid queue, seconds", "queue_front_age_bid");
  add_col(e, "age of the first order in the best ask queue, seconds", "queue_front_age_ask");
  add_col(e, "mean age of the orders at the best bid, seconds", "queue_mean_age_bid");
  add_col(e, "mean age of the orders at the best ask, seconds", "queue_mean_age_ask");
  e->c_ret = e->ncols;
  add_col(e, "mid log return over the last event, bps", "ret_1ev");
  add_col(e, "mid log return over the last 10 events, bps", "ret_10ev");
  add_col(e, "mid log return over the last 100 events, bps", "ret_100ev");
  for (int j = 0; j < 2; j++) {
    snprintf(d, sizeof d, "mid log return over the last %s, bps", w[j]);
    add_col(e, d, "ret_%s", w[j]);
  }
}

obi_err feat_new(feat_engine **out, const feat_config *cfg) {
  *out = NULL;
  if (cfg->levels < 1 || cfg->levels > FEAT_MAX_LEVELS || cfg->event_window < 1 || cfg->event_window > 1000000 ||
      cfg->level_decay < 0 || !(cfg->intensity_tau_s > 0) || cfg->bar_ns <= 0 || cfg->bars < 1 || cfg->bars > 100000 ||
      !(cfg->price_scale > 0) || !(cfg->tick > 0))
    return OBI_EINVAL;
  for (int j = 0; j < FEAT_WINDOWS; j++)
    if (cfg->window_ns[j] <= 0 || (j > 0 && cfg->window_ns[j] <= cfg->window_ns[j - 1])) return OBI_EINVAL;
  feat_engine *e = calloc(1, sizeof *e);
  if (!e) return OBI_ENOMEM;
  e->cfg = *cfg;
  e->ring_cap = 1u << 14;
  e->ring = malloc(e->ring_cap * sizeof *e->ring);
  e->ev_ofi1 = calloc((size_t)cfg->event_window, sizeof *e->ev_ofi1);
  e->ev_depth1 = calloc((size_t)cfg->event_window, sizeof *e->ev_depth1);
  e->bars = calloc((size_t)cfg->bars + 1, sizeof *e->bars); /* B bars and the predecessor of the oldest */
  int ok = e->ring && e->ev_ofi1 && e->ev_depth1 && e->bars;
  for (int j = 0; j < 2; j++) ok = swsum_init(&e->rv[j], 1024) && swsum_init(&e->bv[j], 1024) && ok;
  for (int j = 0; j < FEAT_WINDOWS; j++) ok = swsum_init(&e->notional[j], 1024) && ok;
  if (!ok) {
    feat_free(e);
    return OBI_ENOMEM;
  }
  build_columns(e);
  *out = e;
  return OBI_OK;
}

void feat_free(feat_engine *e) {
  if (!e) return;
  free(e->ring);
  free(e->ev_ofi1);
  free(e->ev_depth1);
  free(e->bars);
  for (int j = 0; j < 2; j++) swsum_free(&e->rv[j]), swsum_free(&e->bv[j]);
  for (int j = 0; j < FEAT_WINDOWS; j++) swsum_free(&e->notional[j]);
  free(e);
}

void feat_set_microprice(feat_engine *e, const feat_microprice *m) {
  e->has_mp = m != NULL;
  if (m) e->mp = *m;
}

int feat_count(const feat_engine *e) { return e->ncols; }
const char *feat_name(const feat_engine *e, int col) { return col >= 0 && col < e->ncols ? e->names[col] : NULL; }
const char *feat_description(const feat_engine *e, int col) {
  return col >= 0 && col < e->ncols ? e->descs[col] : NULL;
}
int feat_find(const feat_engine *e, const char *name) {
  for (int i = 0; i < e->ncols; i++)
    if (!strcmp(e->names[i], name)) return i;
  return -1;
}
int feat_ready(const feat_engine *e) { return e->ready; }
int64_t feat_last_ofi(const feat_engine *e, int level) {
  return level >= 1 && level <= FEAT_OFI_LEVELS && e->ring_tail > 0
             ? e->ring[(e->ring_tail - 1) & (e->ring_cap - 1)].ofi[level - 1]
             : 0;
}
uint64_t feat_events(const feat_engine *e) { return e->events; }

int feat_mp_imb_bucket(const feat_microprice *m, int64_t bid_size, int64_t ask_size) {
  double total = (double)(bid_size + ask_size);
  double imb = total > 0 ? (double)bid_size / total : 0.5;
  int i = (int)(imb * m->n_imb);
  return i >= m->n_imb ? m->n_imb - 1 : i < 0 ? 0 : i;
}

int feat_mp_spread_bucket(const feat_microprice *m, int64_t spread_ticks) {
  for (int s = 0; s < m->n_spread - 1; s++)
    if (spread_ticks <= m->spread_upper[s]) return s;
  return m->n_spread - 1;
}

/* ---- update ------------------------------------------------------------------------ */

static void ring_grow(feat_engine *e) {
  uint32_t cap = e->ring_cap * 2;
  ev_record *ring = malloc(cap * sizeof *ring);
  if (!ring) return; /* keep the old ring: the oldest record will be overwritten (never seen) */
  for (uint64_t i = e->ring_head; i < e->ring_tail; i++) ring[i & (cap - 1)] = e->ring[i & (e->ring_cap - 1)];
  free(e->ring);
  e->ring = ring;
  e->ring_cap = cap;
}

/* Recomputes the bar estimators from the stored terms of the last bars: O(B) additions,
 * once per completed bar (or per burst of empty bars). */
static void bars_recompute(feat_engine *e) {
  uint64_t B = (uint64_t)e->cfg.bars, R = B + 1;
  uint64_t n = e->bars_done < B ? e->bars_done : B;
  double park = 0, gk = 0, rs = 0;
  for (uint64_t i = e->bars_done - n; i < e->bars_done; i++) {
    const bar_terms *b = &e->bars[i % R];
    park += b->parkinson, gk += b->garman_klass, rs += b->rogers_satchell;
  }
  e->vol_parkinson = n ? park / (double)n : 0;
  e->vol_gk = n ? gk / (double)n : 0;
  e->vol_rs = n ? rs / (double)n : 0;
  /* Yang-Zhang over the m most recent bars that have a predecessor (all n of them once the
   * first bar of the data has left the window) */
  e->vol_yz = 0;
  uint64_t m = e->bars_done > 0 ? e->bars_done - 1 : 0;
  if (m > B) m = B;
  if (m < 2) return;
  double so = 0, sc = 0, rs2 = 0, mo = 0, mc = 0;
  for (uint64_t i = e->bars_done - m; i < e->bars_done; i++)
    mo += e->bars[i % R].open_ret, mc += e->bars[i % R].close_ret;
  mo /= (double)m, mc /= (double)m;
  for (uint64_t i = e->bars_done - m; i < e->bars_done; i++) {
    const bar_terms *b = &e->bars[i % R];
    so += (b->open_ret - mo) * (b->open_ret - mo);
    sc += (b->close_ret - mc) * (b->close_ret - mc);
    rs2 += b->rogers_satchell;
  }
  double k = 0.34 / (1.34 + (double)(m + 1) / (double)(m - 1));
  e->vol_yz = so / (double)(m - 1) + k * sc / (double)(m - 1) + (1 - k) * rs2 / (double)m;
}

static void bar_complete(feat_engine *e, const bar *b) {
  const double k4ln2 = 4.0 * log(2.0), c2 = 2.0 * log(2.0) - 1.0;
  bar_terms *t = &e->bars[e->bars_done % ((uint64_t)e->cfg.bars + 1)];
  double hl = log(b->h / b->l) * 1e4, co = log(b->c / b->o) * 1e4;
  t->parkinson = hl * hl / k4ln2;
  t->garman_klass = 0.5 * hl * hl - c2 * co * co;
  t->rogers_satchell = log(b->h / b->c) * log(b->h / b->o) * 1e8 + log(b->l / b->c) * log(b->l / b->o) * 1e8;
  t->close_ret = co;
  t->has_prev = e->bars_done > 0;
  t->open_ret = t->has_prev ? log(b->o / e->prev_close) * 1e4 : 0;
  e->prev_close = b->c;
  e->bars_done++;
}

/* A bar without events: every term is 0 (O = H = L = C = the previous close). */
static void bar_complete_flat(feat_engine *e) {
  bar_terms *t = &e->bars[e->bars_done % ((uint64_t)e->cfg.bars + 1)];
  *t = (bar_terms){.has_prev = e->bars_done > 0};
  e->bars_done++;
}

/* Advances the bars to time t (closing the bars that ended) and records the mid. */
static void bars_update(feat_engine *e, int64_t t, double mid) {
  int64_t j = t / e->cfg.bar_ns - (t < 0 && t % e->cfg.bar_ns);
  if (!e->bar_open) {
    e->bar_open = 1;
    e->bar_index = j;
    e->cur = (bar){mid, mid, mid, mid};
    return;
  }
  if (j > e->bar_index) {
    bar_complete(e, &e->cur);
    int64_t empty = j - e->bar_index - 1;
    if (empty > e->cfg.bars) empty = e->cfg.bars;
    for (int64_t k = 0; k < empty; k++) bar_complete_flat(e);
    bars_recompute(e);
    e->bar_index = j;
    e->cur = (bar){mid, mid, mid, mid};
    return;
  }
  if (mid > e->cur.h) e->cur.h = mid;
  if (mid < e->cur.l) e->cur.l = mid;
  e->cur.c = mid;
}

static int is_trade(int type) { return type == OBI_EV_EXEC || type == OBI_EV_EXEC_HIDDEN || type == OBI_EV_TRADE; }

void feat_update(feat_engine *e, const obi_event *ev, const obi_book *book) {
  const feat_config *c = &e->cfg;
  /* A snapshot (SNAPSHOT_BEGIN, the levels from the worst, SNAPSHOT_END: a feed's book cleared
   * and rebuilt, at the start or after a gap) is no flow of orders: its events add no order flow
   * imbalance, no queue intensity and no mid change, and the states between them are no state
   * the venue had. The rebuilt book becomes the reference at SNAPSHOT_END; a move of the mid
   * across the snapshot is the next event's. Trades while one is open (a feed waiting for its
   * snapshot) still count, with no OFI. */
  if (ev->type == OBI_EV_SNAPSHOT_BEGIN) e->in_snapshot = 1;
  int rebuilding = e->in_snapshot;
  if (rebuilding && !is_trade(ev->type)) {
    e->ready = 0;
    if (ev->type == OBI_EV_SNAPSHOT_END) {
      e->in_snapshot = 0;
      for (int s = 0; s < 2; s++) {
        e->prev_n[s] = (int)book_top(book, s, e->prev_p[s], e->prev_q[s], FEAT_OFI_LEVELS);
        e->prev_best[s] = e->prev_n[s] ? e->prev_p[s][0] : 0;
      }
      e->ready = e->prev_n[0] > 0 && e->prev_n[1] > 0;
    }
    return;
  }
  int64_t t = ev->ts_ns > e->now || e->events == 0 ? ev->ts_ns : e->now;
  if (t != e->now && e->events > 0) { /* decay every intensity to the new time */
    double dt = (double)(t - e->now) * 1e-9, f = exp(-dt / c->intensity_tau_s);
    for (int k = 0; k < Q_CLASSES; k++) e->q_rate[k][0] *= f, e->q_rate[k][1] *= f;
    for (int j = 0; j < FEAT_WINDOWS; j++) e->trade_intensity[j] *= exp(-dt / ((double)c->window_ns[j] * 1e-9));
  }
  e->now = t;
  e->events++;

  /* the top five levels after the event, and the OFI contribution of each level */
  int64_t p[2][FEAT_OFI_LEVELS], q[2][FEAT_OFI_LEVELS];
  int n[2];
  for (int s = 0; s < 2; s++) n[s] = (int)book_top(book, s, p[s], q[s], FEAT_OFI_LEVELS);
  ev_record rec = {.ts = t};
  for (int m = 0; m < FEAT_OFI_LEVELS; m++) {
    /* a missing level: size 0, price -inf (bid) / +inf (ask) */
    int64_t pb = m < e->prev_n[0] ? e->prev_p[0][m] : INT64_MIN, qb = m < e->prev_n[0] ? e->prev_q[0][m] : 0;
    int64_t pa = m < e->prev_n[1] ? e->prev_p[1][m] : INT64_MAX, qa = m < e->prev_n[1] ? e->prev_q[1][m] : 0;
    int64_t pb2 = m < n[0] ? p[0][m] : INT64_MIN, qb2 = m < n[0] ? q[0][m] : 0;
    int64_t pa2 = m < n[1] ? p[1][m] : INT64_MAX, qa2 = m < n[1] ? q[1][m] : 0;
    rec.ofi[m] =
        rebuilding ? 0 : (pb2 >= pb ? qb2 : 0) - (pb2 <= pb ? qb : 0) - (pa2 <= pa ? qa2 : 0) + (pa2 >= pa ? qa : 0);
    rec.depth[m] = qb2 + qa2;
  }

  /* queue intensities: adds at the best after the event, removals at the best before it */
  int side = ev->side == OBI_ASK ? 1 : 0;
  double jump = 1.0 / c->intensity_tau_s;
  if (ev->type == OBI_EV_ADD && n[side] > 0 && ev->price == p[side][0]) e->q_rate[Q_ADD][side] += jump;
  if ((ev->type == OBI_EV_CANCEL || ev->type == OBI_EV_DELETE) && e->prev_n[side] > 0 &&
      ev->price == e->prev_best[side])
    e->q_rate[Q_CANCEL][side] += jump;
  if (ev->type == OBI_EV_EXEC && e->prev_n[side] > 0 && ev->price == e->prev_best[side])
    e->q_rate[Q_EXEC][side] += jump;
  if (ev->type == OBI_EV_LEVEL_SET) { /* L2 data: the change of the level's total */
    int at_best = e->prev_n[side] > 0 && ev->price == e->prev_best[side];
    int better = e->prev_n[side] == 0 || (side ? ev->price < e->prev_best[side] : ev->price > e->prev_best[side]);
    if ((at_best && ev->size > e->prev_q[side][0]) || (better && ev->size > 0)) e->q_rate[Q_ADD][side] += jump;
    if (at_best && ev->size < e->prev_q[side][0]) e->q_rate[Q_CANCEL][side] += jump;
  }

  /* trades */
  if (is_trade(ev->type)) {
    int sign = ev->type == OBI_EV_TRADE && !c->signed_trades ? 0 : ev->side == OBI_ASK ? 1 : -1;
    rec.trade = 1;
    rec.volume = ev->size;
    rec.signed_volume = sign * ev->size;
    for (int j = 0; j < FEAT_WINDOWS; j++) swsum_push(&e->notional[j], t, (double)ev->price * (double)ev->size);
    for (int j = 0; j < FEAT_WINDOWS; j++) e->trade_intensity[j] += 1.0 / ((double)c->window_ns[j] * 1e-9);
    e->last_trade = t;
    e->has_trade = 1;
  }

  /* the mid, its changes and returns */
  e->ready = n[0] > 0 && n[1] > 0;
  if (e->ready) {
    double mid = (double)(p[0][0] + p[1][0]) * 0.5 / c->price_scale;
    if (e->mid_defined && mid != e->mid) {
      double r = log(mid / e->mid) * 1e4;
      e->last_mid_change = t;
      e->has_mid_change = 1;
      for (int j = 0; j < 2; j++) swsum_push(&e->rv[j], t, r * r);
      if (e->has_ret)
        for (int j = 0; j < 2; j++) swsum_push(&e->bv[j], e->last_ret_ts, fabs(r) * fabs(e->last_ret));
      e->last_ret = r;
      e->last_ret_ts = t;
      e->has_ret = 1;
    }
    e->mid = mid;
    e->mid_defined = 1;
  }
  if (e->mid_defined) {
    e->mids[e->mids_count % (RET_EVENTS + 1)] = e->mid;
    e->mids_count++;
    bars_update(e, t, e->mid);
  }
  rec.mid = e->mid_defined ? e->mid : 0;

  /* rolling windows */
  if (e->ring_tail - e->ring_head == e->ring_cap) ring_grow(e);
  if (e->ring_tail - e->ring_head == e->ring_cap) e->ring_head++; /* growth failed: drop the oldest */
  e->ring[e->ring_tail & (e->ring_cap - 1)] = rec;
  e->ring_tail++;
  for (int j = 0; j < FEAT_WINDOWS; j++) {
    time_window *w = &e->win[j];
    for (int m = 0; m < FEAT_OFI_LEVELS; m++) w->ofi[m] += rec.ofi[m], w->depth[m] += rec.depth[m];
    w->volume += rec.volume, w->signed_volume += rec.signed_volume;
    w->trades += rec.trade, w->events++;
    int64_t limit = t - c->window_ns[j];
    if (w->start < e->ring_head) w->start = e->ring_head;
    while (w->start < e->ring_tail) {
      const ev_record *r = &e->ring[w->start & (e->ring_cap - 1)];
      if (r->ts > limit) break;
      for (int m = 0; m < FEAT_OFI_LEVELS; m++) w->ofi[m] -= r->ofi[m], w->depth[m] -= r->depth[m];
      w->volume -= r->volume, w->signed_volume -= r->signed_volume;
      w->trades -= r->trade, w->events--;
      w->has_before = r->mid != 0;
      w->mid_before = r->mid;
      w->start++;
    }
  }
  /* the longest window is the last: nothing older than its start is needed */
  e->ring_head = e->win[FEAT_WINDOWS - 1].start;
  for (int j = 0; j < FEAT_WINDOWS; j++) swsum_evict(&e->notional[j], t - c->window_ns[j]);
  for (int j = 0; j < 2; j++) {
    swsum_evict(&e->rv[j], t - c->window_ns[j + 1]);
    swsum_evict(&e->bv[j], t - c->window_ns[j + 1]);
  }

  /* the last N events */
  uint32_t slot = (uint32_t)((e->events - 1) % (uint64_t)c->event_window);
  e->ev_ofi1_sum += rec.ofi[0] - e->ev_ofi1[slot];
  e->ev_depth1_sum += rec.depth[0] - e->ev_depth1[slot];
  e->ev_ofi1[slot] = rec.ofi[0];
  e->ev_depth1[slot] = rec.depth[0];

  for (int s = 0; s < 2; s++) {
    memcpy(e->prev_p[s], p[s], sizeof p[s]);
    memcpy(e->prev_q[s], q[s], sizeof q[s]);
    e->prev_n[s] = n[s];
    e->prev_best[s] = n[s] ? p[s][0] : 0;
  }
}

/* ---- compute ----------------------------------------------------------------------- */

static inline double ratio(double a, double b) { return b != 0 ? a / b : 0.0; }

void feat_compute(const feat_engine *e, const obi_book *book, double *row) {
  const feat_config *c = &e->cfg;
  int K = c->levels;
  int64_t p[2][FEAT_MAX_LEVELS], q[2][FEAT_MAX_LEVELS];
  int n[2];
  for (int s = 0; s < 2; s++) n[s] = (int)book_top(book, s, p[s], q[s], (uint32_t)K);
  memset(row, 0, (size_t)e->ncols * sizeof *row);
  if (n[0] == 0 || n[1] == 0) return;
  int64_t t = e->now;
  double ps = c->price_scale, mid = (double)(p[0][0] + p[1][0]) * 0.5 / ps;
  double spread = (double)(p[1][0] - p[0][0]);

  /* prices and spread */
  double *r = row + e->c_price;
  r[0] = mid;
  r[1] = spread / c->tick;
  r[2] = spread / ((double)(p[0][0] + p[1][0]) * 0.5) * 1e4;
  r[3] = ((double)p[0][0] * (double)q[1][0] + (double)p[1][0] * (double)q[0][0]) / (double)(q[0][0] + q[1][0]) / ps;
  double g = 0;
  if (e->has_mp) {
    int si = feat_mp_spread_bucket(&e->mp, (int64_t)llround(spread / c->tick));
    g = e->mp.g[si][feat_mp_imb_bucket(&e->mp, q[0][0], q[1][0])];
  }
  r[4] = mid + g * c->tick / ps;
  r[5] = (r[4] - mid) / mid * 1e4;

  /* imbalance */
  r = row + e->c_imb;
  r[0] = ratio((double)(q[0][0] - q[1][0]), (double)(q[0][0] + q[1][0]));
  for (int i = 0; i < e->n_imb_depth; i++) {
    int64_t diff = 0, sum = 0;
    for (int k = 0; k < e->imb_depth_n[i]; k++) {
      int64_t b = k < n[0] ? q[0][k] : 0, a = k < n[1] ? q[1][k] : 0;
      diff += b - a, sum += b + a;
    }
    r[1 + i] = ratio((double)diff, (double)sum);
  }
  double wd = 0, ws = 0, wgt = 1, decay = exp(-c->level_decay);
  for (int k = 0; k < K; k++, wgt *= decay) {
    double b = k < n[0] ? (double)q[0][k] : 0, a = k < n[1] ? (double)q[1][k] : 0;
    wd += wgt * (b - a), ws += wgt * (b + a);
  }
  r[1 + e->n_imb_depth] = ratio(wd, ws);
  const book_level *best[2] = {book_level_at(book, OBI_BID, 0), book_level_at(book, OBI_ASK, 0)};
  r[2 + e->n_imb_depth] =
      ratio((double)best[0]->orders - (double)best[1]->orders, (double)best[0]->orders + (double)best[1]->orders);

  /* order flow imbalance */
  r = row + e->c_ofi;
  for (int m = 0; m < FEAT_OFI_LEVELS; m++)
    for (int j = 0; j < FEAT_WINDOWS; j++) {
      const time_window *w = &e->win[j];
      /* sum e / (depth_sum / (2 events)) */
      r[m * FEAT_WINDOWS + j] = ratio((double)w->ofi[m] * 2.0 * (double)w->events, (double)w->depth[m]);
    }
  uint64_t ne = e->events < (uint64_t)c->event_window ? e->events : (uint64_t)c->event_window;
  r[FEAT_OFI_LEVELS * FEAT_WINDOWS] = ratio((double)e->ev_ofi1_sum * 2.0 * (double)ne, (double)e->ev_depth1_sum);

  /* trade flow */
  r = row + e->c_trade;
  for (int j = 0; j < FEAT_WINDOWS; j++, r += 5) {
    const time_window *w = &e->win[j];
    r[0] = (double)w->signed_volume;
    r[1] = ratio((double)w->signed_volume, (double)w->volume);
    r[2] = (double)w->trades;
    r[3] = e->trade_intensity[j];
    r[4] = w->volume ? (swsum_value(&e->notional[j]) / (double)w->volume / ps - mid) / mid * 1e4 : 0.0;
  }

  /* depth profile */
  r = row + e->c_depth;
  for (int i = 0; i < e->n_depth; i++)
    for (int s = 0; s < 2; s++) {
      int64_t sum = 0;
      for (int k = 0; k < e->depth_n[i] && k < n[s]; k++) sum += q[s][k];
      r[2 * i + s] = (double)sum;
    }
  r = row + e->c_within;
  static const double within_bps[2] = {10, 50};
  for (int i = 0; i < 2; i++)
    for (int s = 0; s < 2; s++) {
      int64_t sum = 0;
      for (int k = 0; k < n[s]; k++)
        if (fabs((double)p[s][k] / ps - mid) <= within_bps[i] * mid / 1e4) sum += q[s][k];
      r[2 * i + s] = (double)sum;
    }
  r = row + e->c_shape;
  for (int s = 0; s < 2; s++) {
    /* OLS slope of cumulative size Q_k on distance d_k (bps) */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, cum = 0, tot = 0;
    for (int k = 0; k < n[s]; k++) tot += (double)q[s][k];
    double hhi = 0;
    for (int k = 0; k < n[s]; k++) {
      cum += (double)q[s][k];
      double d = fabs((double)p[s][k] / ps - mid) / mid * 1e4;
      sx += d, sy += cum, sxx += d * d, sxy += d * cum;
      double share = (double)q[s][k] / tot;
      hhi += share * share;
    }
    double nk = (double)n[s], den = nk * sxx - sx * sx;
    r[s] = n[s] >= 2 && den > 0 ? (nk * sxy - sx * sy) / den : 0.0;
    r[2 + s] = hhi;
    r[4 + s] = (double)llabs(p[s][0] - p[s][n[s] - 1]) / c->tick;
  }

  /* volatility */
  r = row + e->c_vol;
  r[0] = swsum_value(&e->rv[0]);
  r[1] = swsum_value(&e->rv[1]);
  r[2] = PI / 2 * swsum_value(&e->bv[0]);
  r[3] = PI / 2 * swsum_value(&e->bv[1]);
  r[4] = e->vol_parkinson;
  r[5] = e->vol_gk;
  r[6] = e->vol_rs;
  r[7] = e->vol_yz;

  /* queue dynamics */
  r = row + e->c_queue;
  double rate[Q_CLASSES][2];
  for (int k = 0; k < Q_CLASSES; k++)
    for (int s = 0; s < 2; s++) rate[k][s] = r[2 * k + s] = e->q_rate[k][s];
  for (int s = 0; s < 2; s++) {
    r[6 + s] = ratio(rate[Q_CANCEL][s], rate[Q_ADD][s]);
    double dep = rate[Q_EXEC][s] > 0 ? (double)q[s][0] / rate[Q_EXEC][s] : NO_TIME_CAP_S;
    r[8 + s] = dep < NO_TIME_CAP_S ? dep : NO_TIME_CAP_S;
  }
  double since = e->has_mid_change ? (double)(t - e->last_mid_change) * 1e-9 : NO_TIME_CAP_S;
  r[10] = since < NO_TIME_CAP_S ? since : NO_TIME_CAP_S;
  since = e->has_trade ? (double)(t - e->last_trade) * 1e-9 : NO_TIME_CAP_S;
  r[11] = since < NO_TIME_CAP_S ? since : NO_TIME_CAP_S;
  for (int s = 0; s < 2; s++) {
    r[12 + s] = (double)(t - book_level_front(book, best[s])->ts_ns) * 1e-9;
    r[14 + s] = book_level_mean_age_s(book, best[s], t);
  }

  /* recent returns */
  r = row + e->c_ret;
  static const int back[3] = {1, 10, 100};
  for (int i = 0; i < 3; i++)
    if (e->mids_count > (uint64_t)back[i]) {
      double then = e->mids[(e->mids_count - 1 - (uint64_t)back[i]) % (RET_EVENTS + 1)];
      r[i] = log(e->mid / then) * 1e4;
    }
  for (int j = 0; j < 2; j++)
    if (e->win[j].has_before) r[3 + j] = log(e->mid / e->win[j].mid_before) * 1e4;
}
