/* test_features_ref.c — an independent check of the feature engine against docs/features.md:
 *  - features_match_naive_reference: the bundled AMZN sample is replayed into the engine while a
 *    deliberately naive reference records the raw history (events and the top K levels after each)
 *    and, at ~300 sample points, recomputes every column by direct summation over its window;
 *  - features_ofi_hand_cases: ofi_l1 on hand-made books, each value worked out in a comment;
 *  - features_volatility_hand_bars: bar estimators, rv and bv on hand-made 1 s bars.
 * The reference keeps no incremental state; it knows each documented column by name and fails on
 * engine columns it does not know (and on documented columns the engine lacks). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

#include "obi/features.h"
#include "obi/lobster.h"
#include "test.h"

#define RK 10 /* K */
#define NS 1000000000LL
#define PS 10000.0
#define TICK 100.0
#define REF_PI 3.14159265358979323846

static const int64_t WIN_NS[3] = {1 * NS, 10 * NS, 60 * NS};
static const char *const WIN_NAME[3] = {"1s", "10s", "60s"};

/* ---- the recorded history ---- */

typedef struct {
  int64_t ts, price, size;
  uint8_t type, side;
  uint8_t def;     /* both sides non-empty after the event */
  uint8_t has_mid; /* some event up to this one had a defined mid */
  int64_t msum;    /* p^b_1 + p^a_1 of the mid after the event (the last defined one, carried) */
  int nlev[2];
  int64_t p[2][RK], q[2][RK]; /* top K levels after the event, best first */
} rec;

static double ratio(double a, double b) { return b == 0 ? 0 : a / b; }
static int is_trade(int type) { return type == OBI_EV_EXEC || type == OBI_EV_EXEC_HIDDEN || type == OBI_EV_TRADE; }
static int trade_sign(const rec *x) { return x->type == OBI_EV_TRADE ? 0 : x->side == OBI_ASK ? 1 : -1; }
/* Event j changed the mid: it differs from the (defined) mid after event j - 1. */
static int mid_changed(const rec *R, int j) { return j > 0 && R[j - 1].has_mid && R[j].msum != R[j - 1].msum; }
static double mid_of(const rec *x) { return (double)x->msum / 2.0 / PS; }
/* First index of the window (t - w, t] that ends at event i. */
static int win_start(const rec *R, int i, int64_t w) {
  int j = i;
  while (j > 0 && R[j - 1].ts > R[i].ts - w) j--;
  return j;
}

/* e_m of docs/features.md from the level m (0-based) before and after an event; a missing level
 * has size 0 and price -inf (bid) / +inf (ask); before == NULL is the empty book. */
static int64_t ofi_e(const rec *before, const rec *after, int m) {
  int64_t e = 0;
  for (int s = 0; s < 2; s++) {
    int hb = before && m < before->nlev[s], ha = m < after->nlev[s];
    int64_t q0 = hb ? before->q[s][m] : 0, q1 = ha ? after->q[s][m] : 0;
    int up, down; /* p' >= p, p' <= p */
    if (!hb && !ha)
      up = down = 1;
    else if (!hb)
      up = s == OBI_BID, down = s == OBI_ASK;
    else if (!ha)
      up = s == OBI_ASK, down = s == OBI_BID;
    else
      up = after->p[s][m] >= before->p[s][m], down = after->p[s][m] <= before->p[s][m];
    if (s == OBI_BID)
      e += (up ? q1 : 0) - (down ? q0 : 0);
    else
      e += (up ? q0 : 0) - (down ? q1 : 0);
  }
  return e;
}

/* ---- the reference row: name -> value (and accepted alternatives where the doc is ambiguous) ---- */

enum { G_PRICE, G_IMB, G_OFI, G_TRADE, G_DEPTH, G_RV, G_BARS, G_QUEUE, G_RET, G_N };
static const char *const GROUP_NAME[G_N] = {"prices",       "imbalance", "ofi",   "trade flow", "depth",
                                            "realized vol", "bar vol",   "queue", "returns"};

typedef struct {
  char name[40];
  double v, alt[3];
  int nalt, exact, group;
} ref_col;

typedef struct {
  ref_col c[FEAT_MAX_COLS + 32];
  int n;
} ref_row;

static ref_col *put(ref_row *r, int group, int exact, double v, const char *fmt, ...) {
  ref_col *c = &r->c[r->n++];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->name, sizeof c->name, fmt, ap);
  va_end(ap);
  c->v = v;
  c->nalt = 0;
  c->exact = exact;
  c->group = group;
  return c;
}

static void add_alt(ref_col *c, double v) {
  if (v != c->v && c->nalt < 3) c->alt[c->nalt++] = v;
}

/* What the reference reads from the live book at the sample: orders at the best level,
 * front order age and mean age (seconds), by walking the level's queue. */
typedef struct {
  double count[2], front_age[2], mean_age[2];
} live_best;

static void read_live(const obi_book *b, int64_t t, live_best *lb) {
  for (int s = 0; s < 2; s++) {
    lb->count[s] = lb->front_age[s] = lb->mean_age[s] = 0;
    const book_level *l = book_level_at(b, s, 0);
    if (!l) continue;
    uint32_t cur = 0, n = 0;
    int64_t sum = 0;
    const book_order *o;
    while ((o = book_level_next_order(b, l, &cur))) {
      if (n == 0) lb->front_age[s] = (double)(t - o->ts_ns) / 1e9;
      sum += t - o->ts_ns;
      n++;
    }
    lb->count[s] = n;
    lb->mean_age[s] = n ? (double)sum / n / 1e9 : 0;
  }
}

/* Bar estimators over the last B = 60 completed 1 s bars, from the mids after events f..i-1. */
static void ref_bars(const rec *R, int f, int i, ref_row *out) {
  enum { B = 60 };
  double O[B + 1], H[B + 1], L[B + 1], C[B + 1];
  int has[B + 1] = {0};
  int64_t J = R[i].ts / NS, J0 = R[f].ts / NS;
  int64_t nc = J - J0 > 0 ? J - J0 : 0, n = nc < B ? nc : B;
  double pk = 0, gk = 0, rs = 0, rsm = 0, yz[3] = {0, 0, 0};
  if (n > 0) {
    int64_t jb = J - n, jp = jb - 1 >= J0 ? jb - 1 : J0; /* slots: bars jp..J-1 */
    int ns = (int)(J - jp);
    int s = i;
    while (s > f && R[s - 1].ts >= jp * NS) s--;
    double prevc = s > f ? mid_of(&R[s - 1]) : NAN;
    for (int k = s; k < i && R[k].ts < J * NS; k++) {
      int b = (int)(R[k].ts / NS - jp);
      double m = mid_of(&R[k]);
      if (!has[b]) O[b] = H[b] = L[b] = C[b] = m, has[b] = 1;
      H[b] = fmax(H[b], m), L[b] = fmin(L[b], m), C[b] = m;
    }
    for (int b = 0; b < ns; b++)
      if (!has[b]) O[b] = H[b] = L[b] = C[b] = b ? C[b - 1] : prevc;
    double o[B], c[B];
    int m = 0;
    for (int b = (int)(jb - jp); b < ns; b++) {
      double hl = 1e4 * log(H[b] / L[b]), co = 1e4 * log(C[b] / O[b]);
      pk += hl * hl / (4 * log(2.0));
      gk += 0.5 * hl * hl - (2 * log(2.0) - 1) * co * co;
      double rs_b = 1e4 * log(H[b] / C[b]) * 1e4 * log(H[b] / O[b]) + 1e4 * log(L[b] / C[b]) * 1e4 * log(L[b] / O[b]);
      rs += rs_b;
      if (b >= 1) o[m] = 1e4 * log(O[b] / C[b - 1]), c[m] = co, rsm += rs_b, m++; /* bars with a previous bar */
    }
    pk /= n, gk /= n, rs /= n;
    /* Yang-Zhang: when the first bar of the day is among the n bars, only m = n - 1 bars have a
     * previous bar and the doc leaves open whether k and the divisor use n or m: variants
     * [0] divisor m-1, k(m), 0 if n < 3; [1] divisor n-1, k(n), 0 if n < 3; [2] as [0] but 0 if m < 3. */
    double mo = 0, mc = 0, vo = 0, vc = 0;
    for (int j = 0; j < m; j++) mo += o[j] / m, mc += c[j] / m;
    for (int j = 0; j < m; j++) vo += (o[j] - mo) * (o[j] - mo), vc += (c[j] - mc) * (c[j] - mc);
    int cnt[3] = {m, (int)n, m}, need[3] = {(int)n, (int)n, m};
    for (int v = 0; v < 3; v++) {
      if (need[v] < 3 || cnt[v] < 2) continue;
      double k = 0.34 / (1.34 + (cnt[v] + 1.0) / (cnt[v] - 1.0));
      /* docs/features.md: the Rogers-Satchell term is the mean over the same m bars */
      yz[v] = vo / (cnt[v] - 1) + k * vc / (cnt[v] - 1) + (1 - k) * (m ? rsm / m : 0);
    }
  }
  put(out, G_BARS, 0, pk, "vol_parkinson");
  put(out, G_BARS, 0, gk, "vol_garman_klass");
  put(out, G_BARS, 0, rs, "vol_rogers_satchell");
  ref_col *c = put(out, G_BARS, 0, yz[0], "vol_yang_zhang");
  add_alt(c, yz[1]);
  add_alt(c, yz[2]);
}

/* Every documented column at event i (both sides non-empty), f = first event with a mid. */
static void build_ref(const rec *R, int i, int f, const live_best *lb, ref_row *out) {
  const rec *x = &R[i];
  const int64_t t = x->ts;
  const char *sn[2] = {"bid", "ask"};
  out->n = 0;

  /* prices and spread */
  int64_t pb = x->p[0][0], pa = x->p[1][0], qb = x->q[0][0], qa = x->q[1][0];
  double mid = (double)(pb + pa) / 2.0 / PS;
  put(out, G_PRICE, 0, mid, "mid");
  put(out, G_PRICE, 0, (double)(pa - pb) / TICK, "spread_ticks");
  put(out, G_PRICE, 0, (double)(pa - pb) / ((double)(pa + pb) / 2.0) * 1e4, "spread_bps");
  put(out, G_PRICE, 0, ((double)pb * (double)qa + (double)pa * (double)qb) / (double)(qb + qa) / PS, "wmid_l1");
  put(out, G_PRICE, 0, mid, "microprice_stoikov"); /* no table: g = 0 */
  put(out, G_PRICE, 0, 0.0, "microprice_minus_mid_bps");

  /* imbalance */
  put(out, G_IMB, 0, ratio((double)(qb - qa), (double)(qb + qa)), "imb_l1");
  static const int DN[4] = {2, 3, 5, 10};
  for (int d = 0; d < 4; d++) {
    int64_t num = 0, den = 0;
    for (int k = 0; k < DN[d]; k++) {
      int64_t b = k < x->nlev[0] ? x->q[0][k] : 0, a = k < x->nlev[1] ? x->q[1][k] : 0;
      num += b - a, den += b + a;
    }
    put(out, G_IMB, 0, ratio((double)num, (double)den), "imb_depth_%d", DN[d]);
  }
  double dn = 0, dd = 0;
  for (int k = 0; k < RK; k++) {
    double w = exp(-0.5 * k);
    int64_t b = k < x->nlev[0] ? x->q[0][k] : 0, a = k < x->nlev[1] ? x->q[1][k] : 0;
    dn += w * (double)(b - a), dd += w * (double)(b + a);
  }
  put(out, G_IMB, 0, ratio(dn, dd), "imb_decay");
  put(out, G_IMB, 0, ratio(lb->count[0] - lb->count[1], lb->count[0] + lb->count[1]), "imb_order_count");

  /* order flow imbalance: sum of e_m over the window / mean (q^b_m + q^a_m)/2 after those events */
  for (int m = 0; m < FEAT_OFI_LEVELS; m++) {
    for (int w = 0; w <= (m == 0 ? FEAT_WINDOWS : FEAT_WINDOWS - 1); w++) { /* w = 3: the last N = 100 events */
      int j0 = w < FEAT_WINDOWS ? win_start(R, i, WIN_NS[w]) : (i >= 99 ? i - 99 : 0);
      int64_t se = 0, sd = 0;
      for (int j = j0; j <= i; j++) {
        se += ofi_e(j ? &R[j - 1] : NULL, &R[j], m);
        sd += (m < R[j].nlev[0] ? R[j].q[0][m] : 0) + (m < R[j].nlev[1] ? R[j].q[1][m] : 0);
      }
      double D = (double)sd / 2.0 / (double)(i - j0 + 1);
      double v = D == 0 ? 0 : (double)se / D;
      if (w < FEAT_WINDOWS)
        put(out, G_OFI, 0, v, "ofi_l%d_%s", m + 1, WIN_NAME[w]);
      else
        put(out, G_OFI, 0, v, "ofi_l1_100ev");
    }
  }

  /* trade flow */
  for (int w = 0; w < FEAT_WINDOWS; w++) {
    int64_t cnt = 0, sv = 0, vol = 0, pv = 0;
    for (int j = win_start(R, i, WIN_NS[w]); j <= i; j++) {
      if (!is_trade(R[j].type)) continue;
      cnt++, sv += trade_sign(&R[j]) * R[j].size, vol += R[j].size, pv += R[j].price * R[j].size;
    }
    double ws = (double)WIN_NS[w] / 1e9, inten = 0;
    for (int j = 0; j <= i; j++)
      if (is_trade(R[j].type)) inten += exp(-(double)(t - R[j].ts) / 1e9 / ws) / ws;
    put(out, G_TRADE, 1, (double)sv, "trade_signed_volume_%s", WIN_NAME[w]);
    put(out, G_TRADE, 0, ratio((double)sv, (double)vol), "trade_imbalance_%s", WIN_NAME[w]);
    put(out, G_TRADE, 1, (double)cnt, "trade_count_%s", WIN_NAME[w]);
    put(out, G_TRADE, 0, inten, "trade_intensity_%s", WIN_NAME[w]);
    put(out, G_TRADE, 0, vol ? ((double)pv / (double)vol / PS - mid) / mid * 1e4 : 0.0, "vwap_minus_mid_bps_%s",
        WIN_NAME[w]);
  }

  /* depth profile */
  static const int DEP[4] = {1, 3, 5, 10};
  for (int s = 0; s < 2; s++) {
    int nl = x->nlev[s];
    for (int d = 0; d < 4; d++) {
      int64_t sum = 0;
      for (int k = 0; k < DEP[d] && k < nl; k++) sum += x->q[s][k];
      put(out, G_DEPTH, 1, (double)sum, "depth_%s_%d", sn[s], DEP[d]);
    }
    static const int BPS[2] = {10, 50};
    for (int d = 0; d < 2; d++) { /* exact: 1e4 |2p - S| <= x S with S = p^b_1 + p^a_1 */
      int64_t S = pb + pa, le = 0, lt = 0;
      for (int k = 0; k < nl; k++) {
        int64_t dist = 2 * x->p[s][k] - S;
        if (dist < 0) dist = -dist;
        if (10000 * dist <= BPS[d] * S) le += x->q[s][k];
        if (10000 * dist < BPS[d] * S) lt += x->q[s][k];
      }
      add_alt(put(out, G_DEPTH, 1, (double)le, "depth_%s_%dbps", sn[s], BPS[d]), (double)lt); /* at the boundary */
    }
    double slope = 0;
    if (nl >= 2) {
      double dk[RK], Q[RK], md = 0, mq = 0, sxx = 0, sxy = 0;
      int64_t cum = 0;
      for (int k = 0; k < nl; k++) {
        cum += x->q[s][k];
        dk[k] = fabs((double)x->p[s][k] / PS - mid) / mid * 1e4, Q[k] = (double)cum;
        md += dk[k] / nl, mq += Q[k] / nl;
      }
      for (int k = 0; k < nl; k++) sxx += (dk[k] - md) * (dk[k] - md), sxy += (dk[k] - md) * (Q[k] - mq);
      slope = sxx == 0 ? 0 : sxy / sxx;
    }
    put(out, G_DEPTH, 0, slope, "slope_%s", sn[s]);
    int64_t tot = 0;
    double hhi = 0;
    for (int k = 0; k < nl; k++) tot += x->q[s][k];
    for (int k = 0; k < nl && tot; k++) hhi += ((double)x->q[s][k] / tot) * ((double)x->q[s][k] / tot);
    put(out, G_DEPTH, 0, hhi, "hhi_%s", sn[s]);
    put(out, G_DEPTH, 0, nl ? fabs((double)(x->p[s][0] - x->p[s][nl - 1])) / TICK : 0.0, "span_%s_ticks", sn[s]);
  }

  /* realized volatility over the mid-change returns in the window */
  for (int w = 1; w < FEAT_WINDOWS; w++) {
    double rv = 0, bv = 0, rprev = 0;
    int have = 0;
    for (int j = win_start(R, i, WIN_NS[w]); j <= i; j++) {
      if (!mid_changed(R, j)) continue;
      double r = 1e4 * log((double)R[j].msum / (double)R[j - 1].msum);
      rv += r * r;
      if (have) bv += fabs(r) * fabs(rprev);
      rprev = r, have = 1;
    }
    put(out, G_RV, 0, rv, "rv_%s", WIN_NAME[w]);
    put(out, G_RV, 0, REF_PI / 2 * bv, "bv_%s", WIN_NAME[w]);
  }

  ref_bars(R, f, i, out);

  /* queue dynamics: intensities over the whole history, tau = 5 s */
  double add[2] = {0, 0}, can[2] = {0, 0}, exe[2] = {0, 0};
  for (int j = 0; j <= i; j++) {
    const rec *y = &R[j];
    int s = y->side;
    double w = exp(-(double)(t - y->ts) / 1e9 / 5.0) / 5.0;
    int best_before = j > 0 && R[j - 1].nlev[s] > 0 && R[j - 1].p[s][0] == y->price;
    if (y->type == OBI_EV_ADD && y->nlev[s] > 0 && y->p[s][0] == y->price) add[s] += w;
    if ((y->type == OBI_EV_CANCEL || y->type == OBI_EV_DELETE) && best_before) can[s] += w;
    if (y->type == OBI_EV_EXEC && best_before) exe[s] += w;
  }
  for (int s = 0; s < 2; s++) {
    put(out, G_QUEUE, 0, add[s], "add_rate_%s", sn[s]);
    put(out, G_QUEUE, 0, can[s], "cancel_rate_%s", sn[s]);
    put(out, G_QUEUE, 0, exe[s], "exec_rate_%s", sn[s]);
    put(out, G_QUEUE, 0, ratio(can[s], add[s]), "cancel_to_add_%s", sn[s]);
    put(out, G_QUEUE, 0, exe[s] == 0 ? 3600.0 : fmin(3600.0, (double)x->q[s][0] / exe[s]), "deplete_time_%s", sn[s]);
    put(out, G_QUEUE, 0, lb->front_age[s], "queue_front_age_%s", sn[s]);
    put(out, G_QUEUE, 0, lb->mean_age[s], "queue_mean_age_%s", sn[s]);
  }
  int lastm = -1, lastt = -1;
  for (int j = 0; j <= i; j++) {
    if (mid_changed(R, j)) lastm = j;
    if (is_trade(R[j].type)) lastt = j;
  }
  ref_col *c =
      put(out, G_QUEUE, 0, lastm < 0 ? 3600.0 : fmin(3600.0, (double)(t - R[lastm].ts) / 1e9), "time_since_mid_change");
  if (lastm < 0) add_alt(c, fmin(3600.0, (double)(t - R[f].ts) / 1e9)); /* the first mid counted as a change */
  put(out, G_QUEUE, 0, lastt < 0 ? 3600.0 : fmin(3600.0, (double)(t - R[lastt].ts) / 1e9), "time_since_trade");

  /* recent returns */
  int ndef = 0;
  for (int j = 0; j <= i; j++) ndef += R[j].def;
  static const int RN[3] = {1, 10, 100};
  for (int k = 0; k < 3; k++) {
    int n = RN[k];
    double v = ndef < n + 1 || !R[i - n].has_mid ? 0 : 1e4 * log((double)x->msum / (double)R[i - n].msum);
    put(out, G_RET, 0, v, "ret_%dev", n);
  }
  for (int w = 0; w < 2; w++) {
    int j = i;
    while (j >= 0 && R[j].ts > t - WIN_NS[w]) j--;
    double v = j < 0 || !R[j].has_mid ? 0 : 1e4 * log((double)x->msum / (double)R[j].msum);
    put(out, G_RET, 0, v, "ret_%s", WIN_NAME[w]);
  }
}

static int close_enough(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(1.0, fabs(b)); }

/* Records event i (the book after it) into R. */
static void record(rec *R, int i, const obi_event *ev, const obi_book *b) {
  rec *x = &R[i];
  x->ts = ev->ts_ns, x->type = ev->type, x->side = ev->side, x->price = ev->price, x->size = ev->size;
  for (int s = 0; s < 2; s++) x->nlev[s] = (int)book_top(b, s, x->p[s], x->q[s], RK);
  x->def = x->nlev[0] > 0 && x->nlev[1] > 0;
  x->has_mid = x->def || (i > 0 && R[i - 1].has_mid);
  x->msum = x->def ? x->p[0][0] + x->p[1][0] : i > 0 ? R[i - 1].msum : 0;
}

static int config_is_default(const feat_config *c) {
  return c->levels == RK && c->window_ns[0] == WIN_NS[0] && c->window_ns[1] == WIN_NS[1] &&
         c->window_ns[2] == WIN_NS[2] && c->event_window == 100 && c->level_decay == 0.5 && c->intensity_tau_s == 5.0 &&
         c->bar_ns == NS && c->bars == 60 && c->price_scale == PS && c->tick == TICK;
}

void features_match_naive_reference(void) {
  enum { CAP = 20000, RANDOM_SAMPLES = 290 };
  const char *dir = OBI_SOURCE_DIR "/data/lobster/AMZN_2012-06-21_34200000_57600000_";
  char mp[512], op[512], err[1024];
  snprintf(mp, sizeof mp, "%smessage_10.csv.zst", dir);
  snprintf(op, sizeof op, "%sorderbook_10.csv.zst", dir);
  feat_config cfg;
  feat_config_default(&cfg);
  CHECK(config_is_default(&cfg)); /* the reference hard-codes these */

  lobster_replay *r = NULL;
  feat_engine *e = NULL;
  rec *R = calloc(CAP, sizeof *R);
  char *want = calloc(CAP, 1);
  ref_row *ref = malloc(sizeof *ref);
  int map[FEAT_MAX_COLS];
  double row[FEAT_MAX_COLS], worst[G_N] = {0};
  char worst_name[G_N][40] = {{0}};
  int worst_at[G_N] = {0}, samples = 0, bad = 0, alt_hits = 0, i = 0;
  if (!R || !want || !ref) {
    test_fail(__FILE__, __LINE__, "out of memory");
    goto done;
  }
  if (lobster_open(&r, mp, op, NULL, err, sizeof err)) {
    test_fail(__FILE__, __LINE__, "%s", err);
    goto done;
  }
  if (feat_new(&e, &cfg)) {
    test_fail(__FILE__, __LINE__, "feat_new failed");
    goto done;
  }
  int ncol = feat_count(e);
  if (ncol <= 0 || ncol > FEAT_MAX_COLS) {
    test_fail(__FILE__, __LINE__, "feat_count() = %d", ncol);
    goto done;
  }
  uint32_t seed = 20120621u; /* fixed LCG */
  for (int k = 0; k < RANDOM_SAMPLES; k++) {
    seed = seed * 1664525u + 1013904223u;
    want[(seed >> 8) % CAP] = 1;
  }
  for (int k = 0; k < 6; k++) want[k] = want[CAP - 1 - k] = 1;

  obi_event ev;
  obi_err rc;
  int f = -1;
  for (i = 0; (rc = lobster_next(r, &ev)) == OBI_OK; i++) {
    if (i >= CAP) {
      test_fail(__FILE__, __LINE__, "more than %d events in the sample", CAP);
      goto done;
    }
    const obi_book *b = lobster_book(r);
    feat_update(e, &ev, b);
    record(R, i, &ev, b);
    if (f < 0 && R[i].def) f = i;
    if (feat_ready(e) != R[i].def) {
      test_fail(__FILE__, __LINE__, "event %d: feat_ready %d, sides non-empty %d", i, feat_ready(e), R[i].def);
      goto done;
    }
    if (feat_events(e) != (uint64_t)i + 1) {
      test_fail(__FILE__, __LINE__, "event %d: feat_events %llu", i, (unsigned long long)feat_events(e));
      goto done;
    }
    if (!want[i] || !R[i].def) continue;
    live_best lb;
    read_live(b, R[i].ts, &lb);
    build_ref(R, i, f, &lb, ref);
    if (samples == 0) { /* name mapping, both ways */
      int unknown = 0;
      for (int c = 0; c < ncol; c++) {
        map[c] = -1;
        for (int k = 0; k < ref->n; k++)
          if (!strcmp(feat_name(e, c), ref->c[k].name)) map[c] = k;
        if (map[c] < 0)
          test_fail(__FILE__, __LINE__, "engine column '%s' has no reference", feat_name(e, c)), unknown++;
      }
      for (int k = 0; k < ref->n; k++)
        if (feat_find(e, ref->c[k].name) < 0)
          test_fail(__FILE__, __LINE__, "documented column '%s' missing from the engine", ref->c[k].name), unknown++;
      if (unknown) goto done;
    }
    feat_compute(e, b, row);
    samples++;
    for (int c = 0; c < ncol; c++) {
      const ref_col *rc_ = &ref->c[map[c]];
      double a = row[c], v = rc_->v;
      int ok = rc_->exact ? a == v : close_enough(a, v);
      for (int k = 0; !ok && k < rc_->nalt; k++)
        if (rc_->exact ? a == rc_->alt[k] : close_enough(a, rc_->alt[k])) {
          ok = 1, v = rc_->alt[k];
          if (alt_hits++ < 5)
            printf("# event %d %s: engine %.17g matches the alternative reading %.17g (primary %.17g)\n", i, rc_->name,
                   a, v, rc_->v);
        }
      double rel = fabs(a - v) / fmax(1.0, fabs(v));
      if (!(rel <= worst[rc_->group])) { /* also catches NaN */
        worst[rc_->group] = isnan(rel) ? INFINITY : rel;
        snprintf(worst_name[rc_->group], 40, "%s", rc_->name);
        worst_at[rc_->group] = i;
      }
      if (!ok && bad++ < 30)
        printf("# MISMATCH event %d (t=%.9f) %s: engine %.17g reference %.17g\n", i, (double)R[i].ts / 1e9, rc_->name,
               a, rc_->v);
    }
  }
  if (rc != OBI_EEOF) test_fail(__FILE__, __LINE__, "%s", lobster_error(r));
  printf("# %d events, %d sample rows x %d columns compared, %d via an alternative reading\n", i, samples, ncol,
         alt_hits);
  for (int g = 0; g < G_N; g++)
    printf("# %-12s worst rel err %.3g%s%s at event %d\n", GROUP_NAME[g], worst[g], worst_name[g][0] ? " in " : "",
           worst_name[g], worst_at[g]);
  if (bad) test_fail(__FILE__, __LINE__, "%d column values differ from the naive reference", bad);
  if (samples < 250) test_fail(__FILE__, __LINE__, "only %d samples compared", samples);
done:
  if (e) feat_free(e);
  if (r) lobster_close(r);
  free(R);
  free(want);
  free(ref);
}

/* ---- hand-made cases ---- */

#define T0 (1340280000LL * NS) /* a whole second, so bars start on it */

static int lvl(obi_book *b, feat_engine *e1, feat_engine *e2, int64_t ts, int side, int64_t price, int64_t size) {
  obi_event ev = {.ts_ns = ts, .type = OBI_EV_LEVEL_SET, .side = (uint8_t)side, .price = price, .size = size};
  if (book_apply(b, &ev) != OBI_OK) return 0;
  feat_update(e1, &ev, b);
  if (e2) feat_update(e2, &ev, b);
  return 1;
}

/* Column `name` of the row now, NAN when the engine has no such column or no row. */
static double col(const feat_engine *e, const obi_book *b, const char *name) {
  double row[FEAT_MAX_COLS];
  int c = feat_find(e, name);
  if (c < 0 || !feat_ready(e)) return NAN;
  feat_compute(e, b, row);
  return row[c];
}

typedef struct {
  const char *what;
  int nev;
  struct {
    int64_t dt_ns;
    int side;
    int64_t price, size;
  } ev[2];
  double want;
} ofi_case;

/* One case on a fresh book. Unless from_empty, the book is first set (at T0) to
 *   bids 1000000 x 10, 999900 x 8; asks 1000200 x 20, 1000300 x 30
 * and the case events come 100 s later, so the 60 s window holds only them:
 * ofi_l1_60s = sum e_1 / D_1, D_1 = mean over the case events of (q^b_1 + q^a_1)/2 after each. */
static void run_ofi_case(const ofi_case *k, int from_empty) {
  obi_book book;
  feat_engine *e = NULL;
  feat_config cfg;
  feat_config_default(&cfg);
  CHECK_EQ(book_init(&book, 0), OBI_OK);
  if (feat_new(&e, &cfg) != OBI_OK) {
    test_fail(__FILE__, __LINE__, "feat_new failed");
    book_free(&book);
    return;
  }
  int ok = 1;
  int64_t t = T0;
  if (!from_empty) {
    ok = lvl(&book, e, NULL, T0, OBI_BID, 1000000, 10) && lvl(&book, e, NULL, T0 + 1000, OBI_BID, 999900, 8) &&
         lvl(&book, e, NULL, T0 + 2000, OBI_ASK, 1000200, 20) && lvl(&book, e, NULL, T0 + 3000, OBI_ASK, 1000300, 30);
    t = T0 + 100 * NS;
  }
  for (int j = 0; ok && j < k->nev; j++)
    ok = lvl(&book, e, NULL, t + k->ev[j].dt_ns, k->ev[j].side, k->ev[j].price, k->ev[j].size);
  double v = col(e, &book, "ofi_l1_60s");
  if (!ok)
    test_fail(__FILE__, __LINE__, "%s: book_apply failed", k->what);
  else if (!(fabs(v - k->want) <= 1e-12 * fmax(1.0, fabs(k->want))))
    test_fail(__FILE__, __LINE__, "%s: ofi_l1_60s = %.17g, by hand %.17g", k->what, v, k->want);
  feat_free(e);
  book_free(&book);
}

void features_ofi_hand_cases(void) {
  static const ofi_case cases[] = {
      /* bid up to 1000100 x 6: e = 1{p'>=p} 6 - 1{p'<=p} 10 = 6 (ask unchanged: -20 + 20 = 0);
       * D = (6 + 20)/2 = 13 -> 6/13 */
      {"bid price up", 1, {{0, OBI_BID, 1000100, 6}}, 6.0 / 13.0},
      /* bid 10 -> 16 at the same price: e = 16 - 10 = 6; D = (16 + 20)/2 = 18 -> 1/3 */
      {"bid same price", 1, {{0, OBI_BID, 1000000, 16}}, 1.0 / 3.0},
      /* best bid removed, 999900 x 8 becomes best: p' < p, e = 0 - 10 = -10; D = (8 + 20)/2 = 14 -> -5/7 */
      {"bid price down", 1, {{0, OBI_BID, 1000000, 0}}, -10.0 / 14.0},
      /* ask down to 1000100 x 5: e = -1{p'<=p} 5 + 1{p'>=p} 20 = -5; D = (10 + 5)/2 = 7.5 -> -2/3 */
      {"ask price down", 1, {{0, OBI_ASK, 1000100, 5}}, -5.0 / 7.5},
      /* ask 20 -> 12 at the same price: e = -12 + 20 = 8; D = (10 + 12)/2 = 11 -> 8/11 */
      {"ask same price", 1, {{0, OBI_ASK, 1000200, 12}}, 8.0 / 11.0},
      /* best ask removed, 1000300 x 30 becomes best: p' > p, e = 0 + 20 = 20; D = (10 + 30)/2 = 20 -> 1 */
      {"ask price up", 1, {{0, OBI_ASK, 1000200, 0}}, 1.0},
      /* two events: bid 10 -> 16 (e = 6, after (16 + 20)/2 = 18), 0.5 s later ask 20 -> 12 (e = 8, after
       * (16 + 12)/2 = 14): sum 14, D = (18 + 14)/2 = 16 -> 0.875 */
      {"bid then ask, same prices", 2, {{0, OBI_BID, 1000000, 16}, {NS / 2, OBI_ASK, 1000200, 12}}, 14.0 / 16.0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) run_ofi_case(&cases[k], 0);
  /* From the empty book (before the first event the book is empty): bid 1000000 x 10 enters, e = +10
   * (the ask is missing before and after: -0 + 0), after (10 + 0)/2 = 5; then ask 1000200 x 20 enters,
   * e = -1{p' <= +inf} 20 = -20, after (10 + 20)/2 = 15. Sum -10, D = (5 + 15)/2 = 10 -> -1. */
  static const ofi_case first = {
      "from the empty book", 2, {{0, OBI_BID, 1000000, 10}, {NS / 2, OBI_ASK, 1000200, 20}}, -1.0};
  run_ofi_case(&first, 1);
}

typedef struct {
  double o, h, l, c;
} ohlc;

/* Parkinson, Garman-Klass, Rogers-Satchell over bars b[first .. first+n-1] (bps^2), and Yang-Zhang
 * when every one of them has a previous bar (first >= 1). */
static void hand_vols(const ohlc *b, int first, int n, double out[4]) {
  double pk = 0, gk = 0, rs = 0, o[16], c[16], mo = 0, mc = 0, vo = 0, vc = 0;
  for (int j = first; j < first + n; j++) {
    double hl = 1e4 * log(b[j].h / b[j].l), co = 1e4 * log(b[j].c / b[j].o);
    pk += hl * hl / (4 * log(2.0)) / n;
    gk += (0.5 * hl * hl - (2 * log(2.0) - 1) * co * co) / n;
    rs += (1e4 * log(b[j].h / b[j].c) * 1e4 * log(b[j].h / b[j].o) +
           1e4 * log(b[j].l / b[j].c) * 1e4 * log(b[j].l / b[j].o)) /
          n;
    if (first >= 1) o[j - first] = 1e4 * log(b[j].o / b[j - 1].c), c[j - first] = co;
  }
  out[0] = pk, out[1] = gk, out[2] = rs, out[3] = NAN;
  if (first < 1) return;
  for (int j = 0; j < n; j++) mo += o[j] / n, mc += c[j] / n;
  for (int j = 0; j < n; j++) vo += (o[j] - mo) * (o[j] - mo) / (n - 1), vc += (c[j] - mc) * (c[j] - mc) / (n - 1);
  double k = 0.34 / (1.34 + (n + 1.0) / (n - 1.0));
  out[3] = n < 3 ? 0 : vo + k * vc + (1 - k) * rs;
}

static void check_vols(const feat_engine *e, const obi_book *book, const double want[4], const char *what) {
  static const char *const names[4] = {"vol_parkinson", "vol_garman_klass", "vol_rogers_satchell", "vol_yang_zhang"};
  for (int k = 0; k < 4; k++) {
    if (isnan(want[k])) continue;
    double v = col(e, book, names[k]);
    if (!close_enough(v, want[k]))
      test_fail(__FILE__, __LINE__, "%s: %s = %.17g, by hand %.17g", what, names[k], v, want[k]);
  }
}

static void check_rv(const feat_engine *e, const obi_book *book, const double *path, int from, int to) {
  /* r_k = 1e4 ln(P_k / P_{k-1}) for the mid changes k = from..to of the hand path */
  double rv = 0, bv = 0;
  for (int k = from; k <= to; k++) {
    double r = 1e4 * log(path[k] / path[k - 1]);
    rv += r * r;
    if (k > from) bv += fabs(r) * fabs(1e4 * log(path[k - 1] / path[k - 2]));
  }
  bv *= REF_PI / 2;
  double v = col(e, book, "rv_10s"), w = col(e, book, "bv_10s");
  if (!close_enough(v, rv)) test_fail(__FILE__, __LINE__, "rv_10s = %.17g, by hand %.17g", v, rv);
  if (!close_enough(w, bv)) test_fail(__FILE__, __LINE__, "bv_10s = %.17g, by hand %.17g", w, bv);
}

/* The ask sits at 1002000 (one lot); the bid is one lot that moves. A move adds the new bid level,
 * then removes the old one 1 us later: moving up, the mid changes on the first event; moving down,
 * on the second (the first leaves the old best in place). Mids (price units) = (bid + 1002000)/2. */
static void vol_hand_run(obi_book *b, feat_engine *ea, feat_engine *eb) {
  static const struct {
    int64_t ms;
    int side;
    int64_t price, size;
  } plan[] = {
      {-500, OBI_ASK, 1002000, 1},                               /* bar -1: no mid yet, no bar */
      {200, OBI_BID, 1000000, 1},                                /* bar 0: mid 1001000 */
      {1100, OBI_BID, 1000400, 1},  {1100, OBI_BID, 1000000, 0}, /* bar 1: up, 1001200 */
      {1500, OBI_BID, 1000200, 1},  {1500, OBI_BID, 1000400, 0}, /*        down, 1001200 then 1001100 */
      {2200, OBI_BID, 999800, 1},   {2200, OBI_BID, 1000200, 0}, /* bar 2: 1001100 then 1000900 */
      {2600, OBI_BID, 1000600, 1},  {2600, OBI_BID, 999800, 0},  /*        1001300 */
      {2800, OBI_BID, 1000400, 1},  {2800, OBI_BID, 1000600, 0}, /*        1001300 then 1001200 */
      {4300, OBI_BID, 1001000, 1},  {4300, OBI_BID, 1000400, 0}, /* bar 3 empty; bar 4: 1001500 */
      {4700, OBI_BID, 1000800, 1},  {4700, OBI_BID, 1001000, 0}, /*        1001500 then 1001400 */
      {5100, OBI_BID, 1001200, 1},  {5100, OBI_BID, 1000800, 0}, /* bar 5: 1001600 */
      {5400, OBI_BID, 1000200, 1},  {5400, OBI_BID, 1001200, 0}, /*        1001600 then 1001100 */
      {5800, OBI_BID, 1000600, 1},  {5800, OBI_BID, 1000200, 0}, /*        1001300 */
      {6500, OBI_BID, 1000000, 1},  {6500, OBI_BID, 1000600, 0}, /* bar 6: 1001300 then 1001000 */
      {7200, OBI_ASK, 1003000, 1},                               /* bar 7: deep ask, mid 1001000 */
      {12000, OBI_ASK, 1003000, 2},                              /* bar 12: deep ask */
  };
  /* The completed bars, by hand from the comments above (O = mid after the bar's first event). */
  static const ohlc bars[12] = {
      {1001000, 1001000, 1001000, 1001000}, /* 0 */
      {1001200, 1001200, 1001100, 1001100}, /* 1 */
      {1001100, 1001300, 1000900, 1001200}, /* 2 */
      {1001200, 1001200, 1001200, 1001200}, /* 3: empty, the previous close */
      {1001500, 1001500, 1001400, 1001400}, /* 4 */
      {1001600, 1001600, 1001100, 1001300}, /* 5 */
      {1001300, 1001300, 1001000, 1001000}, /* 6 */
      {1001000, 1001000, 1001000, 1001000}, /* 7..11: flat */
      {1001000, 1001000, 1001000, 1001000}, {1001000, 1001000, 1001000, 1001000},
      {1001000, 1001000, 1001000, 1001000}, {1001000, 1001000, 1001000, 1001000},
  };
  /* The mid after each mid change, in order (path[0] is the first mid). */
  static const double path[12] = {1001000, 1001200, 1001100, 1000900, 1001300, 1001200,
                                  1001500, 1001400, 1001600, 1001100, 1001300, 1001000};
  int n = (int)(sizeof plan / sizeof plan[0]);
  for (int k = 0; k < n; k++) {
    int64_t ts = T0 + plan[k].ms * 1000000LL + (plan[k].size == 0 ? 1000 : 0); /* removals 1 us later */
    if (!lvl(b, ea, eb, ts, plan[k].side, plan[k].price, plan[k].size)) {
      test_fail(__FILE__, __LINE__, "book_apply failed at plan step %d", k);
      return;
    }
    if (plan[k].ms == 7200) { /* bars 0..6 complete */
      CHECK(close_enough(col(ea, b, "mid"), 100.1));
      double w[4];
      hand_vols(bars, 3, 4, w); /* B = 4: bars 3..6, each with a previous bar */
      check_vols(ea, b, w, "B=4 at 7.2 s");
      hand_vols(bars, 0, 7, w); /* B = 60: the 7 bars 0..6 (Yang-Zhang not checked: bar 0 has no previous) */
      check_vols(eb, b, w, "B=60 at 7.2 s");
      check_rv(ea, b, path, 1, 11); /* window (-2.8 s, 7.2 s]: every return */
    }
  }
  /* at 12 s: bars 0..11 complete; window (2 s, 12 s] drops the returns at 1.1 s and 1.5 s */
  double w[4];
  hand_vols(bars, 8, 4, w); /* B = 4: the flat bars 8..11 */
  check_vols(ea, b, w, "B=4 at 12 s");
  hand_vols(bars, 0, 12, w);
  check_vols(eb, b, w, "B=60 at 12 s");
  check_rv(ea, b, path, 3, 11);
}

void features_volatility_hand_bars(void) {
  obi_book book;
  feat_engine *ea = NULL, *eb = NULL;
  feat_config ca, cb;
  feat_config_default(&ca);
  feat_config_default(&cb);
  ca.bars = 4;
  CHECK_EQ(book_init(&book, 0), OBI_OK);
  if (feat_new(&ea, &ca) != OBI_OK || feat_new(&eb, &cb) != OBI_OK)
    test_fail(__FILE__, __LINE__, "feat_new failed");
  else
    vol_hand_run(&book, ea, eb);
  if (ea) feat_free(ea);
  if (eb) feat_free(eb);
  book_free(&book);
}
