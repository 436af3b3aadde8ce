/* risk.h — the risk manager: limits on every order and the states that stop trading.
 *
 * The same code guards the event-driven backtest and live paper trading, so it takes plain
 * numbers (times, mids, equity, positions, order quantities and prices), never simulator or feed
 * structures. The caller reports what happens (risk_on_market, risk_on_equity, risk_on_clock,
 * risk_on_feed_gap / risk_on_feed_resync, risk_kill) and asks before each order
 * (risk_check_order), which returns the quantity that may be sent.
 *
 * Rules (docs/risk.md has each default and exactly when it trips and resets):
 *  - limits on the position an order may reach, per instrument: |position| <= max_position,
 *    |position x price| <= max_notional and <= concentration x capital;
 *  - daily drawdown stop: equity - equity at the start of the day <= -daily_drawdown x capital
 *    stops opening on every instrument until the next day, and asks the caller to flatten;
 *  - volatility pause (per instrument): short-term realised volatility of the mid above
 *    vol_ratio x its trailing baseline stops opening until the ratio falls back;
 *  - stale-data halt (no market update for more than stale_ns) and feed-gap halt (until resync);
 *  - kill switch: flatten everything, open nothing, until risk_reset_kill.
 * An order's part that reduces the absolute position always passes, in every state: flattening
 * always works. The part that would open (add to |position|, or cross zero into the other side)
 * is what the rules clip or reject.
 *
 * Every intervention is an event in a log of fixed capacity (events that do not fit are counted).
 * A state is logged when it begins and when it ends, never once per order; see risk_check_order
 * for how clipped orders are logged.
 *
 * Memory: risk_init allocates the log and the volatility ring buffers; nothing after. A call costs
 * O(instruments), and O(instruments) more for each sampling tick that passed since the last call
 * (a long gap counts as at most vol_short + vol_long + 1 ticks). Not thread-safe: one caller. */
#ifndef OBI_RISK_H
#define OBI_RISK_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

#define RISK_MAX_INSTRUMENTS 64
#define RISK_REASON_LEN 160

/* The kinds of intervention, with their names (risk_kind_name). The three limits come first
 * (risk.c relies on it). */
#define RISK_KIND_MAP(X)                                                                                               \
  X(POSITION_LIMIT, "position_limit")           /* an order clipped or rejected by max_position */                     \
  X(NOTIONAL_LIMIT, "notional_limit")           /* ... by max_notional (or a price that is not > 0) */                 \
  X(CONCENTRATION_LIMIT, "concentration_limit") /* ... by concentration x capital */                                   \
  X(DAILY_DRAWDOWN_STOP, "daily_drawdown_stop")                                                                        \
  X(DAY_RESUME, "day_resume")                                                                                          \
  X(VOL_PAUSE, "vol_pause")                                                                                            \
  X(VOL_RESUME, "vol_resume")                                                                                          \
  X(STALE_HALT, "stale_halt")                                                                                          \
  X(STALE_RESUME, "stale_resume")                                                                                      \
  X(FEED_GAP_HALT, "feed_gap_halt")                                                                                    \
  X(FEED_RESYNC, "feed_resync")                                                                                        \
  X(KILL, "kill")                                                                                                      \
  X(KILL_RESET, "kill_reset")

typedef enum {
#define OBI__RISK_KIND_ENUM(name, text) RISK_##name,
  RISK_KIND_MAP(OBI__RISK_KIND_ENUM)
#undef OBI__RISK_KIND_ENUM
      RISK_KIND_COUNT
} risk_kind;

/* "position_limit", ...; "unknown" outside the table. Never NULL. */
const char *risk_kind_name(risk_kind kind);

/* One intervention. */
typedef struct {
  int64_t ts_ns; /* time of the call that made it; volatility events: time of the sample (tick) */
  int inst;      /* instrument index, -1 for all */
  risk_kind kind;
  char reason[RISK_REASON_LEN]; /* the numbers, e.g. "|position 120 + order 50| > max 150: clipped to 30" */
} risk_event;

/* What an instrument may do now, most severe first when several hold. */
typedef enum {
  RISK_STATE_OK,
  RISK_STATE_VOL_PAUSE,
  RISK_STATE_STOPPED_FOR_DAY,
  RISK_STATE_HALTED_STALE, /* also before the instrument's first market update (when stale_ns > 0) */
  RISK_STATE_HALTED_FEED_GAP,
  RISK_STATE_KILLED,
} risk_state;

/* "ok", "vol_pause", "stopped_for_day", "halted_stale", "halted_feed_gap", "killed"; "unknown"
 * outside the enum. Never NULL. */
const char *risk_state_name(risk_state state);

/* Zero turns off the limit or rule where the comment says "0: off". */
typedef struct {
  double capital;        /* currency; must be > 0 when concentration or daily_drawdown is on. Default 0 */
  double max_position;   /* |position| in base units, for every instrument (risk_set_limits); 0: off */
  double max_notional;   /* |position x price| in currency, every instrument; 0: off */
  double concentration;  /* |position x price| <= concentration x capital. Default 0.20; 0: off */
  double daily_drawdown; /* fraction of capital. Default 0.10; 0: off */
  double vol_ratio;      /* pause while short RV > vol_ratio x baseline RV. Default 3; 0: off */
  int64_t vol_sample_ns; /* the sampling clock: ticks at multiples of it. Default 1 s */
  int vol_short;         /* returns in the short window. Default 60 */
  int vol_long;          /* returns in the baseline window, the vol_long before the short one. Default 1800 */
  int vol_min_baseline;  /* baseline returns needed before a pause (1..vol_long). Default 300 */
  int64_t stale_ns;      /* halt an instrument with no market update for more than this. Default 5 s; 0: off */
  int64_t day_offset_ns; /* day = floor((ts + day_offset_ns) / 86400 s): -5 h puts the boundary at 05:00 UTC.
                            Default 0 (midnight UTC) */
  int log_capacity;      /* events the log keeps. Default 4096 */
} risk_config;

/* The defaults above. */
void risk_config_default(risk_config *c);
/* Overrides from a JSON object: {"capital": 1e6, "max_position": 500, "max_notional": 2e5,
 * "concentration": 0.2, "daily_drawdown": 0.1, "vol_ratio": 3, "vol_sample_s": 1, "vol_short": 60,
 * "vol_long": 1800, "vol_min_baseline": 300, "stale_s": 5} (0 turns a limit off where the field
 * says so). OBI_EPARSE with why naming the key for an unknown key or a value out of range. */
obi_err risk_config_from_json(risk_config *c, const char *json_text, char *why, size_t why_len);

typedef struct {
  uint64_t orders;                    /* risk_check_order calls */
  uint64_t passed, clipped, rejected; /* orders passed whole, cut to a smaller quantity, cut to 0 */
  uint64_t invalid;                   /* of the rejected: bad instrument index or a quantity that is not finite */
  uint64_t cut_by[RISK_KIND_COUNT];   /* clipped or rejected orders by the rule that cut them; a state that blocks
                                         opening counts under the kind that begins it (vol_pause, stale_halt, ...) */
  uint64_t events;                    /* interventions, logged or not */
  uint64_t dropped;                   /* of those, the ones the full log could not keep */
} risk_stats;

/* Per instrument; internal except where noted. */
typedef struct {
  double max_position, max_notional; /* read: the limits in force (risk_set_limits) */
  double mid;                        /* last mid, currency */
  int64_t last_ts;                   /* time of the last market update */
  int has_mid;
  uint8_t stale, feed_gap, vol_paused;
  unsigned limits_logged; /* bit per limit kind: this binding episode was logged */
  /* Volatility: returns of the sampled mid in a ring of vol_short + vol_long; the newest
   * vol_short are the short window, the ones before (up to vol_long) the baseline. Sums of
   * squares move with each push and are recomputed exactly every ring length of pushes. */
  double prev_sample;
  int has_prev;
  double *ret;
  int head, n, since_exact, nonzero_base;
  double ss_short, ss_base;
} risk_inst;

typedef struct {
  risk_config cfg;
  int ninst;
  risk_inst inst[RISK_MAX_INSTRUMENTS];
  int64_t now;       /* the latest time seen */
  int started;       /* a time has been seen */
  int64_t next_tick; /* the next sampling tick not yet sampled */
  int64_t day;       /* the current day */
  double day_equity; /* equity at the start of the day (the day's first risk_on_equity) */
  int has_day_equity;
  int stopped_for_day, killed;
  risk_event *log;
  size_t log_n;
  risk_stats stats; /* read freely */
  double *ring_slab;
} obi_risk;

/* Checks c and sets r up for `instruments` instruments (indices 0..instruments-1). Returns
 * OBI_EINVAL (instruments outside 1..RISK_MAX_INSTRUMENTS, a negative limit, capital <= 0 with
 * concentration or daily_drawdown on, vol_sample_ns <= 0, windows < 1, vol_min_baseline outside
 * 1..vol_long, log_capacity < 0) or OBI_ENOMEM. r may be passed to risk_free after any return. */
obi_err risk_init(obi_risk *r, const risk_config *c, int instruments);

/* Releases what risk_init allocated; r may be NULL or a failed init. */
void risk_free(obi_risk *r);

/* Sets the position and notional limits of one instrument (0: off), replacing the config's.
 * OBI_EINVAL for a bad index or a negative or non-finite limit. */
obi_err risk_set_limits(obi_risk *r, int inst, double max_position, double max_notional);

/* Every call that takes a time first moves the clock to it: the volatility ticks before ts are
 * sampled, stale instruments are halted, a new day lifts the drawdown stop. Times are expected in
 * order; an earlier one counts as the latest time seen. */

/* A market update of instrument inst: its mid (currency, > 0). Ends a stale halt. OBI_EINVAL for a
 * bad index or a mid that is not a positive finite number (nothing changes). */
obi_err risk_on_market(obi_risk *r, int inst, int64_t ts_ns, double mid);

/* The portfolio's marked-to-market equity (currency). The first call of a day sets the day's
 * start; a loss from it of daily_drawdown x capital or more begins the stop. OBI_EINVAL when not
 * finite. */
obi_err risk_on_equity(obi_risk *r, int64_t ts_ns, double equity);

/* Time passes without data: call it on a timer (live) or between events (backtest) so that
 * stale data halts on time. */
void risk_on_clock(obi_risk *r, int64_t ts_ns);

/* The feed layer found a sequence gap on inst (-1: every instrument): opening halts until
 * risk_on_feed_resync. reason (may be NULL) goes into the event. A gap reported while already
 * halted is not logged again. OBI_EINVAL for a bad index. */
obi_err risk_on_feed_gap(obi_risk *r, int inst, int64_t ts_ns, const char *reason);
/* The book of inst (-1: every instrument) is whole again. No event when it was not halted. */
obi_err risk_on_feed_resync(obi_risk *r, int inst, int64_t ts_ns);

/* Kill switch: every instrument must flatten and nothing may open until risk_reset_kill.
 * reason (may be NULL) goes into the event; a kill while killed is not logged again. */
void risk_kill(obi_risk *r, int64_t ts_ns, const char *reason);
void risk_reset_kill(obi_risk *r, int64_t ts_ns);

/* An order of qty_signed base units (> 0 buys, < 0 sells) on inst at price (currency, > 0; the
 * limit price, or the mid for a market order) when the position is `position`. Returns the signed
 * quantity that may be sent: qty_signed itself, a smaller quantity of the same sign, or 0.
 *  - The part that takes |position| toward zero always passes, in every state and whatever the
 *    limits; only the part beyond (adding to |position|, or crossing zero) may be cut.
 *  - Opening is blocked (clipped to flat) in every state but "ok"; otherwise the position may reach
 *    L = min(max_position, max_notional / price, concentration x capital / price), the limits
 *    that are on; a position within 1e-9 relative of L counts as at L.
 *  - Clipped quantities are not rounded to the instrument's lot: round them toward zero.
 * Logging: a limit that cuts an order is logged when it begins binding on the instrument, then
 * not again until an order that opens on that instrument passes whole (the binding has ended);
 * every cut is counted in stats.cut_by. Orders cut because a state blocks opening are counted,
 * not logged (the state's begin event is the record). A price that is not > 0 blocks opening while
 * a notional or concentration limit is on (kind notional_limit). A bad index or a non-finite
 * position, quantity or price returns 0 (stats.invalid). */
double risk_check_order(obi_risk *r, int inst, int64_t ts_ns, double position, double qty_signed, double price);

/* The queries below read the state as of the latest time seen (they do not move the clock: call
 * risk_on_clock first to have them at a later time). */

/* 1 while the caller should close inst's position: the daily drawdown stop or the kill switch. */
int risk_must_flatten(const obi_risk *r, int inst);
/* 1 when inst may open positions (state "ok"); the limits still apply to each order. */
int risk_can_open(const obi_risk *r, int inst);
/* The state of inst; RISK_STATE_KILLED for a bad index. */
risk_state risk_state_of(const obi_risk *r, int inst);

/* sqrt(mean square of the short window / mean square of the baseline) of inst now, or 0 while it
 * is not defined (short window not full, fewer than vol_min_baseline baseline returns, a zero
 * baseline, the pause off). For monitoring and tests. */
double risk_vol_ratio(const obi_risk *r, int inst);

/* The log, oldest first: events 0..risk_log_count-1 (pointers valid until risk_log_clear or
 * risk_free). risk_log_at returns NULL past the end. */
size_t risk_log_count(const obi_risk *r);
const risk_event *risk_log_at(const obi_risk *r, size_t i);
/* Forgets the logged events (after the caller has stored them) so that new ones fit;
 * stats.events and stats.dropped keep counting. */
void risk_log_clear(obi_risk *r);

#endif
