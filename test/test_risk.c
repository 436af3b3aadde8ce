/* test_risk.c — the risk manager: every limit and state trips exactly at its threshold and not one
 * unit (nanosecond, sample) earlier, resets when it should, lets reducing orders through, and logs
 * each intervention once with its kind, time and numbers. The volatility ring is compared with a
 * naive recomputation from the raw updates. */
#include <math.h>
#include <stdlib.h>

#include "obi/risk.h"
#include "test.h"

#define SEC 1000000000LL
#define DAY (86400 * SEC)
#define T0 (19723 * DAY + 10 * 3600 * SEC) /* 2024-01-01 10:00 UTC */

/* Every rule off except what a test turns on; capital 100000. */
static risk_config quiet_config(void) {
  risk_config c;
  risk_config_default(&c);
  c.capital = 100000;
  c.concentration = 0;
  c.daily_drawdown = 0;
  c.vol_ratio = 0;
  c.stale_ns = 0;
  return c;
}

#define CHECK_EVENT(r, i, kind_, inst_, ts_, text)                                                                     \
  do {                                                                                                                 \
    const risk_event *e_ = risk_log_at((r), (i));                                                                      \
    CHECK(e_ != NULL);                                                                                                 \
    CHECK_EQ(e_->kind, (kind_));                                                                                       \
    CHECK_EQ(e_->inst, (inst_));                                                                                       \
    CHECK_EQ(e_->ts_ns, (ts_));                                                                                        \
    CHECK_STR_CONTAINS(e_->reason, (text));                                                                            \
  } while (0)

void risk_config_names_and_init(void) {
  risk_config c;
  risk_config_default(&c);
  CHECK(c.capital == 0 && c.max_position == 0 && c.max_notional == 0);
  CHECK(c.concentration == 0.20 && c.daily_drawdown == 0.10 && c.vol_ratio == 3);
  CHECK_EQ(c.vol_sample_ns, SEC);
  CHECK_EQ(c.vol_short, 60);
  CHECK_EQ(c.vol_long, 1800);
  CHECK_EQ(c.vol_min_baseline, 300);
  CHECK_EQ(c.stale_ns, 5 * SEC);
  CHECK_EQ(c.day_offset_ns, 0);
  CHECK_EQ(c.log_capacity, 4096);
  CHECK(!strcmp(risk_kind_name(RISK_POSITION_LIMIT), "position_limit"));
  CHECK(!strcmp(risk_kind_name(RISK_DAILY_DRAWDOWN_STOP), "daily_drawdown_stop"));
  CHECK(!strcmp(risk_kind_name(RISK_KILL_RESET), "kill_reset"));
  CHECK(!strcmp(risk_kind_name((risk_kind)99), "unknown"));
  CHECK(!strcmp(risk_state_name(RISK_STATE_OK), "ok"));
  CHECK(!strcmp(risk_state_name(RISK_STATE_HALTED_FEED_GAP), "halted_feed_gap"));
  CHECK(!strcmp(risk_state_name(RISK_STATE_KILLED), "killed"));

  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 1), OBI_EINVAL); /* concentration and drawdown are on but capital is 0 */
  risk_free(&r);
  c.capital = 100000;
  CHECK_EQ(risk_init(&r, &c, 0), OBI_EINVAL);
  CHECK_EQ(risk_init(&r, &c, RISK_MAX_INSTRUMENTS + 1), OBI_EINVAL);
  c.vol_min_baseline = 1801; /* more than the baseline window holds */
  CHECK_EQ(risk_init(&r, &c, 1), OBI_EINVAL);
  c.vol_min_baseline = 300;
  c.max_position = -1;
  CHECK_EQ(risk_init(&r, &c, 1), OBI_EINVAL);
  c.max_position = 0;
  CHECK_EQ(risk_init(&r, &c, 2), OBI_OK);
  /* before its first market update an instrument counts as stale (stale_ns is on), silently */
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_HALTED_STALE);
  CHECK_EQ(risk_can_open(&r, 0), 0);
  CHECK_EQ(risk_on_market(&r, 0, T0, 0.0), OBI_EINVAL);
  CHECK_EQ(risk_on_market(&r, 2, T0, 100), OBI_EINVAL);
  CHECK_EQ(risk_on_market(&r, 0, T0, 100), OBI_OK);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_OK);
  CHECK_EQ(risk_state_of(&r, 1), RISK_STATE_HALTED_STALE);
  CHECK_EQ(risk_state_of(&r, 5), RISK_STATE_KILLED); /* a bad index may do nothing */
  CHECK_EQ(risk_log_count(&r), 0);
  CHECK_EQ(risk_set_limits(&r, 2, 10, 0), OBI_EINVAL);
  CHECK_EQ(risk_set_limits(&r, 0, NAN, 0), OBI_EINVAL);
  CHECK(risk_check_order(&r, 7, T0, 0, 1, 100) == 0);
  CHECK(risk_check_order(&r, 0, T0, 0, NAN, 100) == 0);
  CHECK_EQ(r.stats.invalid, 2);
  risk_free(&r);
  risk_free(NULL);
}

void risk_position_limit_exact(void) {
  risk_config c = quiet_config();
  c.max_position = 150;
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 2), OBI_OK);
  /* 100 + 50 = 150: at the max, passes whole; 100 + 51 = 151: one unit over, clipped to 50 */
  CHECK(risk_check_order(&r, 0, T0, 100, 50, 10) == 50);
  CHECK_EQ(risk_log_count(&r), 0);
  CHECK(risk_check_order(&r, 0, T0 + 1, 100, 51, 10) == 50);
  CHECK_EQ(risk_log_count(&r), 1);
  CHECK_EVENT(&r, 0, RISK_POSITION_LIMIT, 0, T0 + 1, "|position 100 + order 51| > max 150: clipped to 50");
  /* the same limit binding again is counted, not logged: 150 + 1 rejected, -100 - 51 clipped to -50 */
  CHECK(risk_check_order(&r, 0, T0 + 2, 100, 60, 10) == 50);
  CHECK(risk_check_order(&r, 0, T0 + 3, 150, 1, 10) == 0);
  CHECK(risk_check_order(&r, 0, T0 + 4, -100, -51, 10) == -50);
  CHECK_EQ(risk_log_count(&r), 1);
  CHECK_EQ(r.stats.clipped, 3);
  CHECK_EQ(r.stats.rejected, 1);
  CHECK_EQ(r.stats.passed, 1);
  CHECK_EQ(r.stats.cut_by[RISK_POSITION_LIMIT], 4);
  /* reducing orders pass even from beyond the max (200 > 150): 200 - 30 = 170; 200 - 350 = -150
   * is at the max on the other side; 200 - 400 = -200 keeps its reducing 200 and opens only 150 */
  CHECK(risk_check_order(&r, 0, T0 + 5, 200, -30, 10) == -30);
  CHECK(risk_check_order(&r, 0, T0 + 6, 200, -350, 10) == -350);
  CHECK(risk_check_order(&r, 0, T0 + 7, 200, -400, 10) == -350);
  /* -350 crossed zero (it opened a short of 150) and passed whole: that ended the episode, so the
   * -400 clip begins a new one and is logged */
  CHECK_EQ(risk_log_count(&r), 2);
  CHECK_EVENT(&r, 1, RISK_POSITION_LIMIT, 0, T0 + 7, "|position 200 + order -400| > max 150: clipped to -350");
  /* an opening order that passes whole ends the binding episode: the next clip is logged again */
  CHECK(risk_check_order(&r, 0, T0 + 8, 0, 10, 10) == 10);
  CHECK(risk_check_order(&r, 0, T0 + 9, 140, 20, 10) == 10);
  CHECK_EQ(risk_log_count(&r), 3);
  CHECK_EVENT(&r, 2, RISK_POSITION_LIMIT, 0, T0 + 9, "|position 140 + order 20| > max 150: clipped to 10");
  /* a per-instrument limit: instrument 1 at max 2.5 (BTC-sized units), instrument 0 unlimited */
  CHECK_EQ(risk_set_limits(&r, 1, 2.5, 0), OBI_OK);
  CHECK_EQ(risk_set_limits(&r, 0, 0, 0), OBI_OK);
  CHECK(risk_check_order(&r, 1, T0 + 10, 2, 0.5, 40000) == 0.5);
  CHECK(risk_check_order(&r, 1, T0 + 11, 2, 0.75, 40000) == 0.5);
  CHECK(risk_check_order(&r, 0, T0 + 12, 1e6, 1e6, 10) == 1e6);
  CHECK_EQ(risk_log_count(&r), 4);
  CHECK_EVENT(&r, 3, RISK_POSITION_LIMIT, 1, T0 + 11, "|position 2 + order 0.75| > max 2.5: clipped to 0.5");
  risk_free(&r);
}

void risk_notional_limit_exact(void) {
  risk_config c = quiet_config();
  c.max_notional = 15000;
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 1), OBI_OK);
  /* at price 100 the max notional 15000 is 150 units: |100 + 50| x 100 = 15000 passes,
   * |100 + 51| x 100 = 15100 is clipped to 50 */
  CHECK(risk_check_order(&r, 0, T0, 100, 50, 100) == 50);
  CHECK(risk_check_order(&r, 0, T0, 100, 51, 100) == 50);
  CHECK_EVENT(&r, 0, RISK_NOTIONAL_LIMIT, 0, T0,
              "|position 100 + order 51| x price 100 = 15100 > max notional 15000: clipped to 50");
  /* a sell at a higher price: |-50 - 60| x 125 = 13750 passes; |-50 - 71| x 125 = 15125 clipped to
   * 15000 / 125 - 50 = 70 */
  CHECK(risk_check_order(&r, 0, T0, -50, -60, 125) == -60);
  CHECK(risk_check_order(&r, 0, T0, -50, -71, 125) == -70);
  /* 0.3 / 0.1 = 2.9999999999999996 in binary: a position of exactly 3 x 0.1 = 0.3 still passes */
  CHECK_EQ(risk_set_limits(&r, 0, 0, 0.3), OBI_OK);
  CHECK(risk_check_order(&r, 0, T0, 0, 3, 0.1) == 3);
  CHECK(fabs(risk_check_order(&r, 0, T0, 0, 4, 0.1) - 3) < 1e-12);
  /* a price that is not > 0 cannot be checked: opening rejected, reducing passes */
  CHECK_EQ(risk_log_count(&r), 3); /* 15100, -121 x 125 (a new episode: -110 passed), 4 x 0.1 */
  CHECK_EVENT(&r, 1, RISK_NOTIONAL_LIMIT, 0, T0, "= 15125 > max notional 15000: clipped to -70");
  /* a price that is not > 0 cannot be checked: opening rejected, reducing passes. (The opening
   * order first ends the episode of the 4 x 0.1 clip, so that the price is logged.) */
  CHECK(risk_check_order(&r, 0, T0, 0, 1, 0.1) == 1);
  CHECK(risk_check_order(&r, 0, T0 + 1, 0, 1, 0) == 0);
  CHECK(risk_check_order(&r, 0, T0 + 2, 10, 5, -1) == 0);
  CHECK(risk_check_order(&r, 0, T0 + 3, 10, -5, 0) == -5);
  CHECK_EQ(risk_log_count(&r), 4);
  CHECK_EVENT(&r, 3, RISK_NOTIONAL_LIMIT, 0, T0 + 1, "price 0 is not > 0: rejected");
  risk_free(&r);
}

void risk_concentration_limit_exact(void) {
  risk_config c = quiet_config();
  c.concentration = 0.20; /* 20% of 100000 = 20000; at price 100: 200 units */
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 2), OBI_OK);
  CHECK(risk_check_order(&r, 0, T0, 150, 50, 100) == 50); /* 200 x 100 = 20000 = 20% exactly */
  CHECK_EQ(risk_log_count(&r), 0);
  CHECK(risk_check_order(&r, 0, T0, 150, 51, 100) == 50); /* 201 x 100 = 20100 > 20000 */
  CHECK_EVENT(&r, 0, RISK_CONCENTRATION_LIMIT, 0, T0,
              "|position 150 + order 51| x price 100 = 20100 > 20% of capital 100000: clipped to 50");
  CHECK(risk_check_order(&r, 0, T0, -200, -1, 100) == 0);
  CHECK_EQ(r.stats.cut_by[RISK_CONCENTRATION_LIMIT], 2);
  /* the tightest limit sets L and names the rule: max 180 units < 200 */
  CHECK_EQ(risk_set_limits(&r, 1, 180, 0), OBI_OK);
  CHECK(risk_check_order(&r, 1, T0, 150, 51, 100) == 30);
  CHECK_EVENT(&r, 1, RISK_POSITION_LIMIT, 1, T0, "max 180: clipped to 30");
  /* at price 125 the concentration limit is 160 units < 180 */
  CHECK(risk_check_order(&r, 1, T0, 150, 11, 125) == 10);
  CHECK_EVENT(&r, 2, RISK_CONCENTRATION_LIMIT, 1, T0, "= 20125 > 20% of capital 100000: clipped to 10");
  risk_free(&r);
}

void risk_daily_drawdown_stop_and_resume(void) {
  risk_config c = quiet_config();
  c.concentration = 0.20;
  c.daily_drawdown = 0.10; /* the stop: equity - day start <= -0.10 x 100000 = -10000 */
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 2), OBI_OK);
  CHECK_EQ(risk_on_equity(&r, T0, 100000), OBI_OK);      /* the day's first equity: its start */
  CHECK_EQ(risk_on_equity(&r, T0 + SEC, 90010), OBI_OK); /* -9990 = -9.99%: no stop */
  CHECK_EQ(risk_must_flatten(&r, 0), 0);
  CHECK_EQ(risk_can_open(&r, 0), 1);
  CHECK(risk_check_order(&r, 0, T0 + SEC, 0, 10, 100) == 10);
  CHECK_EQ(risk_log_count(&r), 0);
  CHECK_EQ(risk_on_equity(&r, T0 + 2 * SEC, 90000), OBI_OK); /* -10000 = -10%: stop */
  CHECK_EQ(risk_log_count(&r), 1);
  CHECK_EVENT(&r, 0, RISK_DAILY_DRAWDOWN_STOP, -1, T0 + 2 * SEC,
              "equity 90000 - day start 100000 = -10000 <= -10% of capital 100000");
  CHECK_EQ(risk_state_of(&r, 1), RISK_STATE_STOPPED_FOR_DAY);
  CHECK_EQ(risk_must_flatten(&r, 0), 1);
  CHECK_EQ(risk_must_flatten(&r, 1), 1);
  /* opening is rejected; flattening passes; an order through zero is clipped to flat */
  CHECK(risk_check_order(&r, 0, T0 + 3 * SEC, 10, 1, 100) == 0);
  CHECK(risk_check_order(&r, 0, T0 + 3 * SEC, 10, -10, 100) == -10);
  CHECK(risk_check_order(&r, 0, T0 + 3 * SEC, 10, -15, 100) == -10);
  CHECK(risk_check_order(&r, 1, T0 + 3 * SEC, -5, 2, 100) == 2);
  CHECK_EQ(r.stats.cut_by[RISK_DAILY_DRAWDOWN_STOP], 2);
  /* a deeper loss or a recovery within the day: still stopped, nothing more logged */
  CHECK_EQ(risk_on_equity(&r, T0 + 4 * SEC, 80000), OBI_OK);
  CHECK_EQ(risk_on_equity(&r, T0 + 5 * SEC, 100000), OBI_OK);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_STOPPED_FOR_DAY);
  CHECK_EQ(risk_log_count(&r), 1);
  /* the next day begins at 19724 x 86400 s: one nanosecond before it, still stopped */
  int64_t next = 19724 * DAY;
  risk_on_clock(&r, next - 1);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_STOPPED_FOR_DAY);
  risk_on_clock(&r, next);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_OK);
  CHECK_EQ(risk_must_flatten(&r, 0), 0);
  CHECK_EQ(risk_log_count(&r), 2);
  CHECK_EVENT(&r, 1, RISK_DAY_RESUME, -1, next, "day 19724 begins: the drawdown stop of day 19723 ends");
  /* the new day's start is its first equity, 80000; the stop is still 10% of capital, 10000:
   * 70010 (-9990) passes, 70000 (-10000) stops */
  CHECK_EQ(risk_on_equity(&r, next + SEC, 80000), OBI_OK);
  CHECK_EQ(risk_on_equity(&r, next + 2 * SEC, 70010), OBI_OK);
  CHECK_EQ(risk_log_count(&r), 2);
  CHECK_EQ(risk_on_equity(&r, next + 3 * SEC, 70000), OBI_OK);
  CHECK_EQ(risk_log_count(&r), 3);
  CHECK_EVENT(&r, 2, RISK_DAILY_DRAWDOWN_STOP, -1, next + 3 * SEC, "equity 70000 - day start 80000 = -10000");
  CHECK_EQ(risk_on_equity(&r, 0, NAN), OBI_EINVAL);
  risk_free(&r);

  /* day_offset -5 h: the New York day ends at 05:00 UTC */
  c.day_offset_ns = -5 * 3600 * SEC;
  CHECK_EQ(risk_init(&r, &c, 1), OBI_OK);
  int64_t ny_midnight = 19724 * DAY + 5 * 3600 * SEC; /* 2024-01-02 00:00 New York */
  CHECK_EQ(risk_on_equity(&r, ny_midnight - 3600 * SEC, 100000), OBI_OK);
  CHECK_EQ(risk_on_equity(&r, ny_midnight - 1800 * SEC, 89000), OBI_OK);
  risk_on_clock(&r, ny_midnight - 1);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_STOPPED_FOR_DAY);
  risk_on_clock(&r, ny_midnight);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_OK);
  CHECK_EVENT(&r, 1, RISK_DAY_RESUME, -1, ny_midnight, "day 19724 begins");
  risk_free(&r);
}

/* Returns of size a = 1e-3 (alternating sign: the RMS sees only sizes) for samples 1..12, a
 * burst of size b for samples 13..16, then a again. Windows: short 4, baseline 8, 8 needed.
 * Mids change at whole seconds T0 + k s, so the sample of tick T0 + k s is mid k and return k
 * (sample k over sample k-1) is pushed when time passes that tick, at the call of second k + 1.
 *  sample 15: short = (a, b, b, b), baseline 8 x a: ratio^2 = (1 + 3 x 9.1809) / 4 = 7.1357 < 9;
 *  sample 16: short = 4 x b, baseline still 8 x a: ratio = b / a = 3.03 > 3 -> pause at T0 + 16 s;
 *  sample 17: short = (b, b, b, a) = 7.1357 a^2, baseline = (7 a, b) = (7 + 9.1809) / 8 = 2.0226 a^2:
 *             ratio = sqrt(3.5279) = 1.878 <= 3 -> resume at T0 + 17 s.
 * Instrument 1 gets the same series with b = 2.97 a: ratio at sample 16 is 2.97, no pause. */
void risk_vol_pause_exact_samples(void) {
  risk_config c = quiet_config();
  c.vol_ratio = 3;
  c.vol_short = 4;
  c.vol_long = 8;
  c.vol_min_baseline = 8;
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 2), OBI_OK);
  double a = 1e-3, size[2] = {3.03e-3, 2.97e-3}, mid[2] = {100, 100};
  for (int k = 0; k <= 20; k++) {
    int64_t ts = T0 + k * SEC;
    for (int i = 0; i < 2; i++) {
      if (k > 0) mid[i] *= exp((k % 2 ? 1 : -1) * (k >= 13 && k <= 16 ? size[i] : a));
      CHECK_EQ(risk_on_market(&r, i, ts, mid[i]), OBI_OK);
    }
    /* returns 1..k-1 are in: the ratio is defined once 4 + 8 = 12 are */
    if (k == 12) CHECK(risk_vol_ratio(&r, 0) == 0);
    if (k == 13) CHECK(fabs(risk_vol_ratio(&r, 0) - 1) < 1e-9);
    if (k == 16) CHECK(fabs(risk_vol_ratio(&r, 0) - 2.6712684252991123) < 1e-9); /* sample 15 */
    if (k == 17) CHECK(fabs(risk_vol_ratio(&r, 0) - 3.03) < 1e-9);
    if (k == 17) CHECK(fabs(risk_vol_ratio(&r, 1) - 2.97) < 1e-9);
    if (k == 18) CHECK(fabs(risk_vol_ratio(&r, 0) - 1.8782836898650979) < 1e-9);
    CHECK_EQ(risk_state_of(&r, 0), k == 17 ? RISK_STATE_VOL_PAUSE : RISK_STATE_OK);
    CHECK_EQ(risk_state_of(&r, 1), RISK_STATE_OK);
    if (k == 17) {
      CHECK(risk_check_order(&r, 0, ts, 0, 1, 100) == 0); /* paused: opening rejected */
      CHECK(risk_check_order(&r, 0, ts, 3, -1, 100) == -1);
      CHECK(risk_check_order(&r, 1, ts, 0, 1, 100) == 1);
    }
  }
  CHECK_EQ(risk_log_count(&r), 2);
  CHECK_EVENT(&r, 0, RISK_VOL_PAUSE, 0, T0 + 16 * SEC, "short rv 0.00303 > 3 x baseline rv 0.001 (ratio 3.03)");
  CHECK_EVENT(&r, 1, RISK_VOL_RESUME, 0, T0 + 17 * SEC, "ratio 1.878 <= 3");
  CHECK_EQ(r.stats.cut_by[RISK_VOL_PAUSE], 1);
  risk_free(&r);

  /* The sample of a tick is the last mid at or before it: updates between ticks are overwritten,
   * one exactly at the tick counts. Ticks T0 + 0, 1, 2 s sample 100, 100 e^0.01 (set at 1 s - 1
   * after a decoy at 0.5 s), 100 e^0.03 (set exactly at 2 s): returns 0.01 and 0.02. With
   * short 1, baseline 1: after tick 2 the ratio is 0.02 / 0.01 = 2. */
  c.vol_short = 1;
  c.vol_long = 1;
  c.vol_min_baseline = 1;
  CHECK_EQ(risk_init(&r, &c, 1), OBI_OK);
  CHECK_EQ(risk_on_market(&r, 0, T0, 100), OBI_OK);
  CHECK_EQ(risk_on_market(&r, 0, T0 + SEC / 2, 250), OBI_OK);
  CHECK_EQ(risk_on_market(&r, 0, T0 + SEC - 1, 100 * exp(0.01)), OBI_OK);
  CHECK_EQ(risk_on_market(&r, 0, T0 + 2 * SEC, 100 * exp(0.03)), OBI_OK);
  CHECK(risk_vol_ratio(&r, 0) == 0); /* tick 2 s is not taken until time passes it */
  risk_on_clock(&r, T0 + 2 * SEC + 1);
  CHECK(fabs(risk_vol_ratio(&r, 0) - 2) < 1e-9);
  risk_free(&r);
}

/* The O(1) ring against a naive recomputation: random mids at random times (several updates
 * between ticks, some exactly on ticks, gaps longer than the ring), the ratio after every call
 * equal to the one recomputed from all samples so far. */
void risk_vol_ratio_matches_naive(void) {
  risk_config c = quiet_config();
  c.vol_ratio = 3;
  c.vol_short = 5;
  c.vol_long = 20;
  c.vol_min_baseline = 10;
  c.vol_sample_ns = 100000000; /* 100 ms */
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 1), OBI_OK);
  enum { N = 6000 };
  static int64_t ts[N];
  static double mids[N];
  static double ret[N * 8];
  srand(11);
  int64_t t = T0;
  double m = 50;
  int64_t dt = c.vol_sample_ns, next_tick = T0; /* T0 is on the 100 ms grid */
  size_t nret = 0, upd = 0;
  double prev = 0;
  int has_prev = 0, mismatches = 0;
  for (int i = 0; i < N; i++) {
    int gap = rand() % 100;
    t += gap < 2 ? 40 * dt : gap < 10 ? dt : gap < 20 ? 0 : rand() % (dt / 2);
    if (rand() % 8 == 0) t = (t / dt + 1) * dt; /* exactly on a tick */
    /* a calm or a wild stretch, so that the ratio moves across its range */
    double step = ((i / 500) % 2 ? 5e-3 : 1e-3) * ((double)rand() / RAND_MAX - 0.5);
    if (rand() % 50 == 0) step = 0;
    m *= exp(step);
    ts[i] = t;
    mids[i] = m;
    CHECK_EQ(risk_on_market(&r, 0, t, m), OBI_OK);
    /* naive: every tick before t takes the last mid at or before it */
    for (; next_tick < t; next_tick += dt) {
      while (upd + 1 <= (size_t)i && ts[upd + 1] <= next_tick) upd++;
      if (ts[upd] > next_tick) continue; /* no mid yet */
      if (has_prev) ret[nret++] = log(mids[upd] / prev);
      prev = mids[upd];
      has_prev = 1;
      if (nret >= sizeof ret / sizeof ret[0]) break;
    }
    CHECK(nret < sizeof ret / sizeof ret[0]);
    double want = 0;
    if (nret >= 15) {
      double ss = 0, sb = 0;
      int nz = 0;
      size_t nb = nret - 5 < 20 ? nret - 5 : 20;
      for (size_t k = nret - 5; k < nret; k++) ss += ret[k] * ret[k];
      for (size_t k = nret - 5 - nb; k < nret - 5; k++) sb += ret[k] * ret[k], nz += ret[k] != 0;
      if (nb >= 10 && nz > 0 && sb > 0) want = sqrt((ss / 5) / (sb / nb));
    }
    double got = risk_vol_ratio(&r, 0);
    if (!(fabs(got - want) <= 1e-9 * (1 + want))) mismatches++;
  }
  CHECK_EQ(mismatches, 0);
  CHECK(nret > 3000);        /* the run covered many ring lengths (25) and recomputations */
  CHECK(r.stats.events > 0); /* some pauses began and ended */
  size_t pauses = 0, resumes = 0;
  for (size_t i = 0; i < risk_log_count(&r); i++) {
    pauses += risk_log_at(&r, i)->kind == RISK_VOL_PAUSE;
    resumes += risk_log_at(&r, i)->kind == RISK_VOL_RESUME;
    if (i > 0) CHECK(risk_log_at(&r, i)->ts_ns > risk_log_at(&r, i - 1)->ts_ns);
  }
  CHECK(pauses > 0 && (pauses == resumes || pauses == resumes + 1));
  risk_free(&r);
}

void risk_stale_halt_exact(void) {
  risk_config c = quiet_config();
  c.stale_ns = 5 * SEC;
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 2), OBI_OK);
  CHECK_EQ(risk_on_market(&r, 0, T0, 100), OBI_OK);
  risk_on_clock(&r, T0 + 5 * SEC); /* exactly stale_ns without an update: not stale */
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_OK);
  CHECK_EQ(risk_log_count(&r), 0);
  risk_on_clock(&r, T0 + 5 * SEC + 1); /* one nanosecond more */
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_HALTED_STALE);
  CHECK_EQ(risk_log_count(&r), 1);
  CHECK_EVENT(&r, 0, RISK_STALE_HALT, 0, T0 + 5 * SEC + 1, "no market update for 5.000000001 s > 5 s");
  CHECK(risk_check_order(&r, 0, T0 + 6 * SEC, 0, 1, 100) == 0);
  CHECK(risk_check_order(&r, 0, T0 + 6 * SEC, -4, 4, 100) == 4);
  risk_on_clock(&r, T0 + 9 * SEC);
  CHECK_EQ(risk_log_count(&r), 1); /* still stale: not logged again */
  /* instrument 1 never had data: halted from the start, never logged */
  CHECK_EQ(risk_state_of(&r, 1), RISK_STATE_HALTED_STALE);
  CHECK_EQ(risk_on_market(&r, 0, T0 + 10 * SEC, 101), OBI_OK);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_OK);
  CHECK_EQ(risk_log_count(&r), 2);
  CHECK_EVENT(&r, 1, RISK_STALE_RESUME, 0, T0 + 10 * SEC, "market data again after 10 s");
  /* an order check moves the clock too: 5 s + 1 ns after the last update it finds the data stale */
  CHECK(risk_check_order(&r, 0, T0 + 15 * SEC + 1, 0, 1, 100) == 0);
  CHECK_EVENT(&r, 2, RISK_STALE_HALT, 0, T0 + 15 * SEC + 1, "5.000000001 s");
  CHECK_EQ(r.stats.cut_by[RISK_STALE_HALT], 2);
  risk_free(&r);

  c.stale_ns = 0; /* off: nothing is ever stale, even without data */
  CHECK_EQ(risk_init(&r, &c, 1), OBI_OK);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_OK);
  CHECK_EQ(risk_on_market(&r, 0, T0, 100), OBI_OK);
  risk_on_clock(&r, T0 + DAY / 2);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_OK);
  CHECK_EQ(risk_log_count(&r), 0);
  risk_free(&r);
}

/* A stale halt clears the volatility history: returns across an outage are not volatility.
 * Windows short 4, baseline up to 16 (8 needed), stale 1.5 s. Returns of size a for samples
 * 1..12, 30 a from 13 to 16 (mids at whole seconds, the last at 16 s):
 *  sample 13: short (a, a, a, 30a) = (3 + 900) / 4 = 225.75 a^2, baseline 9 x a: ratio 15.02 -> pause;
 *  sample 17 (no update since 16 s: return 0): short (30a, 30a, 30a, 0) = 675 a^2, baseline
 *             (12 a, 30a) = 912 / 13 = 70.15 a^2: ratio 3.10, still paused;
 *  at 17.5 s + 1 ns the data is stale: halt, and the pause ends with the history.
 * Data resumes at 20.5 s; ticks 18, 19, 20 s (more than 1.5 s after the last update) are not
 * sampled, so the first sample is tick 21 s and return j is tick 21 + j s: the ratio is defined
 * again at return 12, tick 33 s, taken by the update at 33.5 s. */
void risk_stale_resets_volatility(void) {
  risk_config c = quiet_config();
  c.vol_ratio = 3;
  c.vol_short = 4;
  c.vol_long = 16;
  c.vol_min_baseline = 8;
  c.stale_ns = 3 * SEC / 2;
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 1), OBI_OK);
  double a = 1e-3, mid = 100;
  for (int k = 0; k <= 16; k++) {
    if (k > 0) mid *= exp((k % 2 ? 1 : -1) * (k >= 13 ? 30 * a : a));
    CHECK_EQ(risk_on_market(&r, 0, T0 + k * SEC, mid), OBI_OK);
  }
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_VOL_PAUSE);
  CHECK_EVENT(&r, 0, RISK_VOL_PAUSE, 0, T0 + 13 * SEC, "(ratio 15.02)");
  risk_on_clock(&r, T0 + 17 * SEC + SEC / 2);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_VOL_PAUSE);
  CHECK(fabs(risk_vol_ratio(&r, 0) - sqrt(675 / (912 / 13.0))) < 1e-9);
  risk_on_clock(&r, T0 + 17 * SEC + SEC / 2 + 1);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_HALTED_STALE);
  CHECK(risk_vol_ratio(&r, 0) == 0);
  CHECK_EVENT(&r, 1, RISK_STALE_HALT, 0, T0 + 17 * SEC + SEC / 2 + 1, "no market update for 1.500000001 s > 1.5 s");
  CHECK_EVENT(&r, 2, RISK_VOL_RESUME, 0, T0 + 17 * SEC + SEC / 2 + 1, "volatility history reset: stale data");
  for (int k = 20; k <= 33; k++) {
    mid *= exp((k % 2 ? 1 : -1) * a);
    CHECK_EQ(risk_on_market(&r, 0, T0 + k * SEC + SEC / 2, mid), OBI_OK);
    if (k == 32) CHECK(risk_vol_ratio(&r, 0) == 0);
  }
  CHECK(fabs(risk_vol_ratio(&r, 0) - 1) < 1e-9);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_OK);
  CHECK_EQ(risk_log_count(&r), 4);
  CHECK_EVENT(&r, 3, RISK_STALE_RESUME, 0, T0 + 20 * SEC + SEC / 2, "market data again after 4.5 s");
  risk_free(&r);
}

void risk_feed_gap_and_resync(void) {
  risk_config c = quiet_config();
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 3), OBI_OK);
  CHECK_EQ(risk_on_feed_gap(&r, 1, T0, "sequence 100 -> 105"), OBI_OK);
  CHECK_EQ(risk_state_of(&r, 1), RISK_STATE_HALTED_FEED_GAP);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_OK);
  CHECK_EQ(risk_on_feed_gap(&r, 1, T0 + 1, "sequence 110 -> 111"), OBI_OK); /* still halted: not logged */
  CHECK_EQ(risk_log_count(&r), 1);
  CHECK_EVENT(&r, 0, RISK_FEED_GAP_HALT, 1, T0, "sequence 100 -> 105");
  CHECK(risk_check_order(&r, 1, T0 + 2, 0, 5, 100) == 0);
  CHECK(risk_check_order(&r, 1, T0 + 2, 5, -5, 100) == -5);
  CHECK(risk_check_order(&r, 0, T0 + 2, 0, 5, 100) == 5);
  CHECK_EQ(risk_on_feed_resync(&r, 1, T0 + 3), OBI_OK);
  CHECK_EQ(risk_state_of(&r, 1), RISK_STATE_OK);
  CHECK_EQ(risk_on_feed_resync(&r, 1, T0 + 4), OBI_OK); /* not halted: nothing */
  CHECK_EQ(risk_log_count(&r), 2);
  CHECK_EVENT(&r, 1, RISK_FEED_RESYNC, 1, T0 + 3, "feed resynchronised");
  /* -1: the whole feed, one event each way */
  CHECK_EQ(risk_on_feed_gap(&r, -1, T0 + 5, NULL), OBI_OK);
  for (int i = 0; i < 3; i++) CHECK_EQ(risk_state_of(&r, i), RISK_STATE_HALTED_FEED_GAP);
  CHECK_EQ(risk_on_feed_resync(&r, -1, T0 + 6), OBI_OK);
  for (int i = 0; i < 3; i++) CHECK_EQ(risk_state_of(&r, i), RISK_STATE_OK);
  CHECK_EQ(risk_log_count(&r), 4);
  CHECK_EVENT(&r, 2, RISK_FEED_GAP_HALT, -1, T0 + 5, "feed gap");
  CHECK_EVENT(&r, 3, RISK_FEED_RESYNC, -1, T0 + 6, "feed resynchronised");
  CHECK_EQ(risk_on_feed_gap(&r, 3, T0, NULL), OBI_EINVAL);
  CHECK_EQ(risk_on_feed_resync(&r, -2, T0), OBI_EINVAL);
  risk_free(&r);
}

void risk_kill_allows_only_flattening(void) {
  risk_config c = quiet_config();
  c.max_position = 100;
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 2), OBI_OK);
  risk_kill(&r, T0, "operator: model drift");
  CHECK_EVENT(&r, 0, RISK_KILL, -1, T0, "operator: model drift");
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(risk_state_of(&r, i), RISK_STATE_KILLED);
    CHECK_EQ(risk_must_flatten(&r, i), 1);
    CHECK_EQ(risk_can_open(&r, i), 0);
  }
  CHECK(risk_check_order(&r, 0, T0 + 1, 0, 1, 100) == 0);    /* opening from flat */
  CHECK(risk_check_order(&r, 1, T0 + 1, 10, 1, 100) == 0);   /* adding */
  CHECK(risk_check_order(&r, 0, T0 + 1, 10, -4, 100) == -4); /* partly flattening */
  CHECK(risk_check_order(&r, 0, T0 + 1, -10, 10, 100) == 10);
  CHECK(risk_check_order(&r, 0, T0 + 1, 10, -15, 100) == -10);  /* through zero: clipped to flat */
  CHECK(risk_check_order(&r, 1, T0 + 1, 150, -50, 100) == -50); /* beyond the max, reducing */
  CHECK_EQ(r.stats.cut_by[RISK_KILL], 3);
  CHECK_EQ(risk_log_count(&r), 1); /* orders under a kill are counted, not logged */
  /* the kill outranks every other state; a second kill is not logged */
  CHECK_EQ(risk_on_feed_gap(&r, 0, T0 + 2, "gap"), OBI_OK);
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_KILLED);
  risk_kill(&r, T0 + 3, "again");
  CHECK_EQ(risk_log_count(&r), 2);
  risk_reset_kill(&r, T0 + 4);
  CHECK_EVENT(&r, 2, RISK_KILL_RESET, -1, T0 + 4, "kill switch reset");
  CHECK_EQ(risk_state_of(&r, 0), RISK_STATE_HALTED_FEED_GAP);
  CHECK_EQ(risk_state_of(&r, 1), RISK_STATE_OK);
  CHECK_EQ(risk_must_flatten(&r, 1), 0);
  CHECK(risk_check_order(&r, 1, T0 + 5, 0, 1, 100) == 1);
  risk_reset_kill(&r, T0 + 6); /* not killed: nothing */
  CHECK_EQ(risk_log_count(&r), 3);
  risk_free(&r);
}

void risk_log_capacity_counts_dropped(void) {
  risk_config c = quiet_config();
  c.log_capacity = 2;
  obi_risk r;
  CHECK_EQ(risk_init(&r, &c, 1), OBI_OK);
  risk_kill(&r, T0, NULL);
  risk_reset_kill(&r, T0 + 1);
  risk_kill(&r, T0 + 2, NULL);
  CHECK_EQ(risk_log_count(&r), 2);
  CHECK_EQ(r.stats.events, 3);
  CHECK_EQ(r.stats.dropped, 1);
  CHECK(risk_log_at(&r, 2) == NULL);
  CHECK_EVENT(&r, 0, RISK_KILL, -1, T0, "kill switch");
  risk_log_clear(&r); /* stored elsewhere by the caller: room again */
  CHECK_EQ(risk_log_count(&r), 0);
  risk_reset_kill(&r, T0 + 3);
  CHECK_EQ(risk_log_count(&r), 1);
  CHECK_EVENT(&r, 0, RISK_KILL_RESET, -1, T0 + 3, "kill switch reset");
  CHECK_EQ(r.stats.events, 4);
  CHECK_EQ(r.stats.dropped, 1);
  risk_free(&r);

  c.log_capacity = 0; /* no log at all: everything counted as dropped */
  CHECK_EQ(risk_init(&r, &c, 1), OBI_OK);
  risk_kill(&r, T0, NULL);
  CHECK_EQ(risk_log_count(&r), 0);
  CHECK_EQ(r.stats.dropped, 1);
  risk_free(&r);
}

void risk_config_json(void) {
  risk_config c;
  risk_config_default(&c);
  char why[256];
  CHECK_EQ(risk_config_from_json(&c,
                                 "{\"capital\": 250000, \"max_position\": 500, \"vol_short\": 30, "
                                 "\"stale_s\": 2.5, \"daily_drawdown\": 0.05}",
                                 why, sizeof why),
           OBI_OK);
  CHECK(c.capital == 250000 && c.max_position == 500 && c.vol_short == 30 && c.daily_drawdown == 0.05);
  CHECK_EQ(c.stale_ns, 2500000000LL);
  CHECK_EQ(c.vol_long, 1800); /* untouched */
  CHECK_EQ(risk_config_from_json(&c, "{\"concentration\": 1.5}", why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "'concentration'");
  CHECK_EQ(risk_config_from_json(&c, "{\"vol_short\": 2.5}", why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "an integer");
  CHECK_EQ(risk_config_from_json(&c, "{\"vol_min_baseline\": 5000}", why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "vol_long");
  CHECK_EQ(risk_config_from_json(&c, "{\"kill\": true}", why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "unknown key 'kill'");
  CHECK_EQ(risk_config_from_json(&c, "nope", why, sizeof why), OBI_EPARSE);
}
