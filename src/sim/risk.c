/* risk.c — the risk manager (risk.h). libc and libm only.
 *
 * Design. Every call that carries a time first runs advance(): it samples the volatility clock
 * for every instrument up to (not including) that time, halts instruments whose data went stale,
 * and starts a new day. Doing all of it in one place, for every instrument, keeps the log in time
 * order and makes a state the same whether the caller checks an order, reports a mid or only
 * lets time pass. States are flags (killed and stopped_for_day for the portfolio; stale, feed_gap
 * and vol_paused per instrument); risk_state_of ranks them. An order check turns the state and the
 * limits into one number L, the largest |position| the order may reach (0 while a state blocks
 * opening), and clips the order's target position toward the current one: the part of an order
 * that reduces |position| is never cut, because the clip never moves the target past the
 * current position.
 *
 * Volatility. The mid is sampled at the ticks k x vol_sample_ns; the sample of tick T is the last
 * mid at or before T, so a tick is taken only once time has moved past it (more updates at T may
 * still come). Each sample after the first pushes its log return into a ring of
 * vol_short + vol_long returns. Invariants of the ring after each push:
 *   ss_short     = sum of squares of the newest min(n, vol_short) returns,
 *   ss_base      = sum of squares of the n - vol_short returns before them (when n > vol_short),
 *   nonzero_base = how many of those are not 0 (exact, so "a non-zero baseline" never rests on a
 *                  rounding residue of the running sums),
 * kept in O(1) by moving the return that leaves the short window into the baseline and dropping
 * the one that leaves the ring; the sums are recomputed from the ring every ring length of pushes
 * so rounding cannot accumulate. A tick at which an instrument's data is stale is not sampled,
 * and a stale halt clears the instrument's history: returns across an outage are not the
 * market's volatility. */
#include "obi/risk.h"
#include "sim_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_NS 86400000000000LL
/* A value within this relative distance of a limit counts as at the limit, so that a position
 * exactly at max_notional / price is not clipped by the rounding of the division. */
#define LIMIT_TOL 1e-9

static const char *const kind_names[] = {
#define OBI__RISK_KIND_NAME(name, text) text,
    RISK_KIND_MAP(OBI__RISK_KIND_NAME)
#undef OBI__RISK_KIND_NAME
};

const char *risk_kind_name(risk_kind kind) { return (unsigned)kind < RISK_KIND_COUNT ? kind_names[kind] : "unknown"; }

const char *risk_state_name(risk_state state) {
  switch (state) {
  case RISK_STATE_OK: return "ok";
  case RISK_STATE_VOL_PAUSE: return "vol_pause";
  case RISK_STATE_STOPPED_FOR_DAY: return "stopped_for_day";
  case RISK_STATE_HALTED_STALE: return "halted_stale";
  case RISK_STATE_HALTED_FEED_GAP: return "halted_feed_gap";
  case RISK_STATE_KILLED: return "killed";
  }
  return "unknown";
}

void risk_config_default(risk_config *c) {
  memset(c, 0, sizeof *c);
  c->concentration = 0.20;
  c->daily_drawdown = 0.10;
  c->vol_ratio = 3;
  c->vol_sample_ns = 1000000000LL;
  c->vol_short = 60;
  c->vol_long = 1800;
  c->vol_min_baseline = 300;
  c->stale_ns = 5000000000LL;
  c->log_capacity = 4096;
}

obi_err risk_config_from_json(risk_config *c, const char *json_text, char *why, size_t why_len) {
  static const struct {
    const char *key;
    int kind; /* 0 a fraction or number >= 0, 1 a count >= 1, 2 seconds >= 0 (-> ns) */
    size_t off;
    double hi;
  } keys[] = {{"capital", 0, offsetof(risk_config, capital), 1e15},
              {"max_position", 0, offsetof(risk_config, max_position), 1e15},
              {"max_notional", 0, offsetof(risk_config, max_notional), 1e15},
              {"concentration", 0, offsetof(risk_config, concentration), 1},
              {"daily_drawdown", 0, offsetof(risk_config, daily_drawdown), 1},
              {"vol_ratio", 0, offsetof(risk_config, vol_ratio), 1e6},
              {"vol_sample_s", 2, offsetof(risk_config, vol_sample_ns), 86400},
              {"vol_short", 1, offsetof(risk_config, vol_short), 1e6},
              {"vol_long", 1, offsetof(risk_config, vol_long), 1e6},
              {"vol_min_baseline", 1, offsetof(risk_config, vol_min_baseline), 1e6},
              {"stale_s", 2, offsetof(risk_config, stale_ns), 86400}};
  json_t *o = sim_json_object(json_text, "risk", why, why_len);
  if (!o) return OBI_EPARSE;
  const char *key;
  json_t *v;
  obi_err err = OBI_OK;
  json_object_foreach(o, key, v) {
    size_t i = 0, n = sizeof keys / sizeof *keys;
    while (i < n && strcmp(keys[i].key, key)) i++;
    if (i == n) {
      snprintf(why, why_len,
               "risk: unknown key '%s' (capital, max_position, max_notional, concentration, daily_drawdown, "
               "vol_ratio, vol_sample_s, vol_short, vol_long, vol_min_baseline, stale_s)",
               key);
      err = OBI_EPARSE;
      break;
    }
    double x = json_number_value(v);
    int ok = json_is_number(v) && x >= (keys[i].kind == 1 ? 1 : 0) && x <= keys[i].hi &&
             (keys[i].kind != 1 || json_is_integer(v));
    if (!ok) {
      snprintf(why, why_len, "risk: '%s' must be %s between %g and %g", key,
               keys[i].kind == 1 ? "an integer" : "a number", keys[i].kind == 1 ? 1.0 : 0.0, keys[i].hi);
      err = OBI_EPARSE;
      break;
    }
    char *field = (char *)c + keys[i].off;
    if (keys[i].kind == 0)
      *(double *)field = x;
    else if (keys[i].kind == 1)
      *(int *)field = (int)x;
    else
      *(int64_t *)field = (int64_t)llround(x * 1e9);
  }
  json_decref(o);
  if (!err && c->vol_min_baseline > c->vol_long) {
    snprintf(why, why_len, "risk: vol_min_baseline (%d) must not exceed vol_long (%d)", c->vol_min_baseline,
             c->vol_long);
    err = OBI_EPARSE;
  }
  return err;
}

static void log_event(obi_risk *r, int64_t ts, int inst, risk_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void log_event(obi_risk *r, int64_t ts, int inst, risk_kind kind, const char *fmt, ...) {
  r->stats.events++;
  if (r->log_n == (size_t)r->cfg.log_capacity) {
    r->stats.dropped++;
    return;
  }
  risk_event *e = &r->log[r->log_n++];
  e->ts_ns = ts;
  e->inst = inst;
  e->kind = kind;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->reason, sizeof e->reason, fmt, ap);
  va_end(ap);
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t day_of(const obi_risk *r, int64_t ts) { return floor_div(ts + r->cfg.day_offset_ns, DAY_NS); }
static int vol_on(const obi_risk *r) { return r->cfg.vol_ratio > 0; }
static int ring_len(const obi_risk *r) { return r->cfg.vol_short + r->cfg.vol_long; }
static int valid_limit(double x) { return isfinite(x) && x >= 0; }

obi_err risk_init(obi_risk *r, const risk_config *c, int instruments) {
  memset(r, 0, sizeof *r);
  if (instruments < 1 || instruments > RISK_MAX_INSTRUMENTS) return OBI_EINVAL;
  if (!valid_limit(c->capital) || !valid_limit(c->max_position) || !valid_limit(c->max_notional) ||
      !valid_limit(c->concentration) || !valid_limit(c->daily_drawdown) || !valid_limit(c->vol_ratio))
    return OBI_EINVAL;
  if ((c->concentration > 0 || c->daily_drawdown > 0) && !(c->capital > 0)) return OBI_EINVAL;
  if (c->vol_ratio > 0 && (c->vol_sample_ns <= 0 || c->vol_short < 1 || c->vol_long < 1 || c->vol_short > (1 << 24) ||
                           c->vol_long > (1 << 24) || c->vol_min_baseline < 1 || c->vol_min_baseline > c->vol_long))
    return OBI_EINVAL;
  if (c->stale_ns < 0 || c->log_capacity < 0) return OBI_EINVAL;
  r->cfg = *c;
  r->ninst = instruments;
  if (c->log_capacity > 0 && !(r->log = calloc((size_t)c->log_capacity, sizeof *r->log))) goto fail;
  if (vol_on(r) && !(r->ring_slab = calloc((size_t)instruments * (size_t)ring_len(r), sizeof(double)))) goto fail;
  for (int i = 0; i < instruments; i++) {
    risk_inst *s = &r->inst[i];
    s->max_position = c->max_position;
    s->max_notional = c->max_notional;
    s->stale = c->stale_ns > 0; /* no data yet */
    if (r->ring_slab) s->ret = r->ring_slab + (size_t)i * (size_t)ring_len(r);
  }
  return OBI_OK;
fail:
  risk_free(r);
  return OBI_ENOMEM;
}

void risk_free(obi_risk *r) {
  if (!r) return;
  free(r->log);
  free(r->ring_slab);
  r->log = NULL;
  r->ring_slab = NULL;
  r->log_n = 0;
  r->ninst = 0;
}

obi_err risk_set_limits(obi_risk *r, int inst, double max_position, double max_notional) {
  if (inst < 0 || inst >= r->ninst || !valid_limit(max_position) || !valid_limit(max_notional)) return OBI_EINVAL;
  r->inst[inst].max_position = max_position;
  r->inst[inst].max_notional = max_notional;
  return OBI_OK;
}

/* ---- volatility ---- */

static double ring_back(const risk_inst *s, int len, int k) { return s->ret[(s->head - k + len) % len]; } /* k >= 1 */

static void vol_reset(risk_inst *s) {
  s->head = s->n = s->since_exact = s->nonzero_base = 0;
  s->ss_short = s->ss_base = 0;
  s->has_prev = 0;
}

static void vol_push(const obi_risk *r, risk_inst *s, double x) {
  int S = r->cfg.vol_short, len = ring_len(r);
  if (s->n >= S) { /* the oldest short-window return moves into the baseline */
    double y = ring_back(s, len, S);
    s->ss_short -= y * y;
    s->ss_base += y * y;
    s->nonzero_base += y != 0;
  }
  if (s->n == len) { /* the oldest baseline return leaves the ring (it sits where x goes) */
    double z = s->ret[s->head];
    s->ss_base -= z * z;
    s->nonzero_base -= z != 0;
  }
  s->ret[s->head] = x;
  s->head = (s->head + 1) % len;
  if (s->n < len) s->n++;
  s->ss_short += x * x;
  if (++s->since_exact == len) {
    s->since_exact = 0;
    s->ss_short = s->ss_base = 0;
    for (int k = 1; k <= s->n; k++) {
      double v = ring_back(s, len, k);
      if (k <= S)
        s->ss_short += v * v;
      else
        s->ss_base += v * v;
    }
  }
  if (s->ss_short < 0) s->ss_short = 0;
  if (s->ss_base < 0) s->ss_base = 0;
}

/* The squared ratio short mean square / baseline mean square, when defined. */
static int vol_ratio_sq(const obi_risk *r, const risk_inst *s, double *out) {
  int S = r->cfg.vol_short, nb = s->n - S;
  if (!vol_on(r) || s->n < S || nb < r->cfg.vol_min_baseline || s->nonzero_base == 0 || !(s->ss_base > 0)) return 0;
  *out = (s->ss_short / S) / (s->ss_base / nb);
  return 1;
}

static void vol_evaluate(obi_risk *r, int i, int64_t tick) {
  risk_inst *s = &r->inst[i];
  double q = 0, limit = r->cfg.vol_ratio;
  int defined = vol_ratio_sq(r, s, &q);
  int pause = defined && q > limit * limit;
  if (pause && !s->vol_paused) {
    int S = r->cfg.vol_short, nb = s->n - S;
    log_event(r, tick, i, RISK_VOL_PAUSE, "short rv %.4g > %.10g x baseline rv %.4g (ratio %.4g)",
              sqrt(s->ss_short / S), limit, sqrt(s->ss_base / nb), sqrt(q));
  } else if (!pause && s->vol_paused) {
    log_event(r, tick, i, RISK_VOL_RESUME, "ratio %.4g <= %.10g", sqrt(q), limit);
  }
  s->vol_paused = (uint8_t)pause;
}

/* The sample of one instrument at tick T (the current mid: every update before T was applied and
 * none after it). */
static void sample_tick(obi_risk *r, int i, int64_t tick) {
  risk_inst *s = &r->inst[i];
  if (!s->has_mid || (r->cfg.stale_ns > 0 && tick - s->last_ts > r->cfg.stale_ns)) return;
  if (s->has_prev) {
    vol_push(r, s, log(s->mid / s->prev_sample));
    vol_evaluate(r, i, tick);
  }
  s->prev_sample = s->mid;
  s->has_prev = 1;
}

/* Samples the ticks before ts. After ring length + 1 ticks without an update every window holds
 * only zero returns (or the instrument is stale and unsampled), so later ticks of a long gap
 * would change nothing and are skipped. */
static void sample_ticks(obi_risk *r, int64_t ts) {
  int64_t dt = r->cfg.vol_sample_ns;
  if (r->next_tick >= ts) return;
  int64_t pending = (ts - 1 - r->next_tick) / dt + 1; /* ticks next_tick + k dt < ts */
  int64_t todo = pending < ring_len(r) + 1 ? pending : ring_len(r) + 1;
  for (int64_t k = 0; k < todo; k++)
    for (int i = 0; i < r->ninst; i++) sample_tick(r, i, r->next_tick + k * dt);
  r->next_tick += pending * dt;
}

/* ---- the clock ---- */

/* Moves the clock to ts (or keeps it, if ts is earlier): volatility ticks, stale halts, the day. */
static void advance(obi_risk *r, int64_t ts) {
  if (!r->started) {
    r->started = 1;
    r->now = ts;
    r->day = day_of(r, ts);
    if (vol_on(r)) { /* the first tick at or after ts */
      int64_t dt = r->cfg.vol_sample_ns;
      r->next_tick = floor_div(ts, dt) * dt;
      if (r->next_tick < ts) r->next_tick += dt;
    }
  }
  if (ts < r->now) ts = r->now;
  if (vol_on(r)) sample_ticks(r, ts);
  if (r->cfg.stale_ns > 0) {
    for (int i = 0; i < r->ninst; i++) {
      risk_inst *s = &r->inst[i];
      if (!s->has_mid || s->stale || ts - s->last_ts <= r->cfg.stale_ns) continue;
      s->stale = 1;
      log_event(r, ts, i, RISK_STALE_HALT, "no market update for %.10g s > %.10g s", (double)(ts - s->last_ts) / 1e9,
                (double)r->cfg.stale_ns / 1e9);
      if (s->vol_paused) log_event(r, ts, i, RISK_VOL_RESUME, "volatility history reset: stale data");
      s->vol_paused = 0;
      vol_reset(s);
    }
  }
  int64_t day = day_of(r, ts);
  if (day != r->day) {
    if (r->stopped_for_day)
      log_event(r, ts, -1, RISK_DAY_RESUME, "day %lld begins: the drawdown stop of day %lld ends", (long long)day,
                (long long)r->day);
    r->day = day;
    r->has_day_equity = 0;
    r->stopped_for_day = 0;
  }
  r->now = ts;
}

void risk_on_clock(obi_risk *r, int64_t ts_ns) { advance(r, ts_ns); }

obi_err risk_on_market(obi_risk *r, int inst, int64_t ts_ns, double mid) {
  if (inst < 0 || inst >= r->ninst || !isfinite(mid) || !(mid > 0)) return OBI_EINVAL;
  advance(r, ts_ns);
  risk_inst *s = &r->inst[inst];
  if (s->stale && s->has_mid)
    log_event(r, r->now, inst, RISK_STALE_RESUME, "market data again after %.10g s",
              (double)(r->now - s->last_ts) / 1e9);
  s->stale = 0;
  s->has_mid = 1;
  s->mid = mid;
  s->last_ts = r->now;
  return OBI_OK;
}

obi_err risk_on_equity(obi_risk *r, int64_t ts_ns, double equity) {
  if (!isfinite(equity)) return OBI_EINVAL;
  advance(r, ts_ns);
  if (!r->has_day_equity) {
    r->day_equity = equity;
    r->has_day_equity = 1;
  }
  double limit = r->cfg.daily_drawdown * r->cfg.capital, change = equity - r->day_equity;
  if (r->cfg.daily_drawdown > 0 && !r->stopped_for_day && change <= -limit * (1 - LIMIT_TOL)) {
    r->stopped_for_day = 1;
    log_event(r, r->now, -1, RISK_DAILY_DRAWDOWN_STOP,
              "equity %.10g - day start %.10g = %.10g <= -%.10g%% of capital %.10g", equity, r->day_equity, change,
              r->cfg.daily_drawdown * 100, r->cfg.capital);
  }
  return OBI_OK;
}

/* Sets or clears the feed-gap flag of inst (-1: all); returns how many instruments changed. */
static int set_feed_gap(obi_risk *r, int inst, uint8_t on) {
  int lo = inst < 0 ? 0 : inst, hi = inst < 0 ? r->ninst : inst + 1, changed = 0;
  for (int i = lo; i < hi; i++) {
    changed += r->inst[i].feed_gap != on;
    r->inst[i].feed_gap = on;
  }
  return changed;
}

obi_err risk_on_feed_gap(obi_risk *r, int inst, int64_t ts_ns, const char *reason) {
  if (inst < -1 || inst >= r->ninst) return OBI_EINVAL;
  advance(r, ts_ns);
  if (set_feed_gap(r, inst, 1)) log_event(r, r->now, inst, RISK_FEED_GAP_HALT, "%s", reason ? reason : "feed gap");
  return OBI_OK;
}

obi_err risk_on_feed_resync(obi_risk *r, int inst, int64_t ts_ns) {
  if (inst < -1 || inst >= r->ninst) return OBI_EINVAL;
  advance(r, ts_ns);
  if (set_feed_gap(r, inst, 0)) log_event(r, r->now, inst, RISK_FEED_RESYNC, "feed resynchronised");
  return OBI_OK;
}

void risk_kill(obi_risk *r, int64_t ts_ns, const char *reason) {
  advance(r, ts_ns);
  if (r->killed) return;
  r->killed = 1;
  log_event(r, r->now, -1, RISK_KILL, "%s", reason ? reason : "kill switch");
}

void risk_reset_kill(obi_risk *r, int64_t ts_ns) {
  advance(r, ts_ns);
  if (!r->killed) return;
  r->killed = 0;
  log_event(r, r->now, -1, RISK_KILL_RESET, "kill switch reset");
}

/* ---- states and orders ---- */

risk_state risk_state_of(const obi_risk *r, int inst) {
  if (inst < 0 || inst >= r->ninst || r->killed) return RISK_STATE_KILLED;
  const risk_inst *s = &r->inst[inst];
  if (s->feed_gap) return RISK_STATE_HALTED_FEED_GAP;
  if (s->stale) return RISK_STATE_HALTED_STALE;
  if (r->stopped_for_day) return RISK_STATE_STOPPED_FOR_DAY;
  if (s->vol_paused) return RISK_STATE_VOL_PAUSE;
  return RISK_STATE_OK;
}

int risk_can_open(const obi_risk *r, int inst) { return risk_state_of(r, inst) == RISK_STATE_OK; }

int risk_must_flatten(const obi_risk *r, int inst) {
  return inst >= 0 && inst < r->ninst && (r->killed || r->stopped_for_day);
}

double risk_vol_ratio(const obi_risk *r, int inst) {
  double q;
  if (inst < 0 || inst >= r->ninst || !vol_ratio_sq(r, &r->inst[inst], &q)) return 0;
  return sqrt(q);
}

/* The kind whose begin event records why a state blocks opening. */
static risk_kind blocking_kind(risk_state st) {
  switch (st) {
  case RISK_STATE_VOL_PAUSE: return RISK_VOL_PAUSE;
  case RISK_STATE_STOPPED_FOR_DAY: return RISK_DAILY_DRAWDOWN_STOP;
  case RISK_STATE_HALTED_STALE: return RISK_STALE_HALT;
  case RISK_STATE_HALTED_FEED_GAP: return RISK_FEED_GAP_HALT;
  default: return RISK_KILL;
  }
}

static void log_limit(obi_risk *r, int inst, risk_kind rule, double position, double qty, double price,
                      double allowed) {
  char outcome[48];
  if (allowed == 0)
    snprintf(outcome, sizeof outcome, "rejected");
  else
    snprintf(outcome, sizeof outcome, "clipped to %.10g", allowed);
  const risk_inst *s = &r->inst[inst];
  double notional = fabs(position + qty) * price;
  if (rule == RISK_POSITION_LIMIT)
    log_event(r, r->now, inst, rule, "|position %.10g + order %.10g| > max %.10g: %s", position, qty, s->max_position,
              outcome);
  else if (!(price > 0))
    log_event(r, r->now, inst, rule, "price %.10g is not > 0: %s", price, outcome);
  else if (rule == RISK_NOTIONAL_LIMIT)
    log_event(r, r->now, inst, rule, "|position %.10g + order %.10g| x price %.10g = %.10g > max notional %.10g: %s",
              position, qty, price, notional, s->max_notional, outcome);
  else
    log_event(r, r->now, inst, rule,
              "|position %.10g + order %.10g| x price %.10g = %.10g > %.10g%% of capital %.10g: %s", position, qty,
              price, notional, r->cfg.concentration * 100, r->cfg.capital, outcome);
}

double risk_check_order(obi_risk *r, int inst, int64_t ts_ns, double position, double qty, double price) {
  r->stats.orders++;
  if (inst < 0 || inst >= r->ninst || !isfinite(position) || !isfinite(qty) || !isfinite(price)) {
    r->stats.rejected++;
    r->stats.invalid++;
    return 0;
  }
  advance(r, ts_ns);
  if (qty == 0) {
    r->stats.passed++;
    return 0;
  }
  risk_inst *s = &r->inst[inst];
  double want = position + qty;
  int opens = fabs(want) > fabs(position) || want * position < 0;
  /* L: the largest |position| the order may reach, and the rule that sets it */
  double lim = INFINITY;
  risk_kind rule = RISK_KIND_COUNT;
  risk_state st = risk_state_of(r, inst);
  if (st != RISK_STATE_OK) {
    lim = 0;
    rule = blocking_kind(st);
  } else {
    if (s->max_position > 0) lim = s->max_position, rule = RISK_POSITION_LIMIT;
    if ((s->max_notional > 0 || r->cfg.concentration > 0) && !(price > 0)) {
      lim = 0;
      rule = s->max_notional > 0 ? RISK_NOTIONAL_LIMIT : RISK_CONCENTRATION_LIMIT;
    } else {
      if (s->max_notional > 0 && s->max_notional / price < lim)
        lim = s->max_notional / price, rule = RISK_NOTIONAL_LIMIT;
      double conc = r->cfg.concentration * r->cfg.capital;
      if (r->cfg.concentration > 0 && conc / price < lim) lim = conc / price, rule = RISK_CONCENTRATION_LIMIT;
    }
  }
  if (fabs(want) <= lim * (1 + LIMIT_TOL)) {
    r->stats.passed++;
    if (opens) s->limits_logged = 0; /* an opening order passed whole: no limit binds now */
    return qty;
  }
  /* Clip the target toward the current position, never past it: the reducing part stays. */
  double target = qty > 0 ? fmin(want, fmax(position, lim)) : fmax(want, fmin(position, -lim));
  if (target == want) { /* a reducing order beyond the limit: passes */
    r->stats.passed++;
    return qty;
  }
  double allowed = target - position;
  if (allowed == 0) allowed = 0; /* no -0 */
  if (allowed == 0)
    r->stats.rejected++;
  else
    r->stats.clipped++;
  r->stats.cut_by[rule]++;
  /* limits (the first three kinds) are logged once per binding episode; states not at all */
  if (rule <= RISK_CONCENTRATION_LIMIT && !(s->limits_logged & (1u << rule))) {
    s->limits_logged |= 1u << rule;
    log_limit(r, inst, rule, position, qty, price, allowed);
  }
  return allowed;
}

size_t risk_log_count(const obi_risk *r) { return r->log_n; }
const risk_event *risk_log_at(const obi_risk *r, size_t i) { return i < r->log_n ? &r->log[i] : NULL; }
void risk_log_clear(obi_risk *r) { r->log_n = 0; }
