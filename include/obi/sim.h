/* sim.h — the simulated exchange of the backtest (and of live paper trading): the strategy's
 * orders executed against a real, replayed book, with latency, queue position and fees.
 *
 * The replayed book is the market as it happened; the strategy's orders are not in it (they
 * are virtual). The simulator runs one clock for both: market events, and its own actions in
 * a time-ordered queue — an order or cancel reaching the exchange (sent + entry latency), a
 * fill or acknowledgement reaching the strategy (exchange time + response latency), a
 * decision taken on data that arrived late (market time + feed latency). An action due at
 * time t runs after every market event at or before t ("the market moves first"), on the
 * book as those events left it: the caller tells the simulator, before it applies the
 * events of a new timestamp, to run everything due earlier (sim_run_until).
 *
 * Execution rules (docs/backtest.md):
 *  - Market orders walk the visible opposite side from the best level, size-aware, until filled
 *    or the book is exhausted (the rest is cancelled, as an IOC). Limit orders that cross take
 *    the same way up to their price; the rest rests.
 *  - A resting limit order joins the BACK of its price level: the volume ahead of it is the
 *    level's visible size at arrival (0 for a price no one quotes). It advances as volume ahead
 *    of it trades: an execution of size s at its price first consumes the volume ahead, the
 *    excess fills the order. An execution at a price through it (a bid below a resting buy)
 *    means the whole level was taken: the order fills up to s. An order added on the other
 *    side at a price that crosses it would have matched it: the order fills up to that size.
 *    Cancellations at its price: the queue model decides whether they were ahead —
 *      trades    never (the queue advances only on trades; the most conservative);
 *      linear    ahead with probability a / S (a volume ahead, S level size before the cancel);
 *      power:n   ahead with probability f(a/S), f(x) = x^n / (x^n + (1 - x)^n) (n > 1: cancels
 *                come mostly from the back of the queue);
 *    and whatever the model, the volume ahead never exceeds the level's visible size.
 *  - Liquidity the strategy's own fills consumed stays consumed: the recorded book still shows
 *    it, but the exchange would not. Each (side, price) the strategy took from carries a
 *    depletion that is subtracted from the visible size for its later orders, clamped to the
 *    level's size, and forgotten when the level empties. Two orders never fill from the same
 *    liquidity.
 *  - Messages travel on one session each way: an order or cancel never overtakes an earlier one
 *    on its way to the exchange, nor a notice an earlier notice on its way back, whatever the
 *    drawn latencies (each arrives at max(its draw, the previous arrival)).
 *  - Fees: maker or taker fee in bps of the notional (a negative maker fee is a rebate), plus an
 *    optional extra cost in bps per fill; sizes are whole lots, prices whole ticks.
 *
 * Not thread-safe. Memory: sim_new allocates the order table and the action heap; they grow
 * by doubling when a strategy keeps more orders in flight than they hold (rare). */
#ifndef OBI_SIM_H
#define OBI_SIM_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "obi/book.h"
#include "obi/error.h"
#include "obi/event.h"

/* ---- latency models ---- */
typedef enum { SIM_LAT_CONST, SIM_LAT_UNIFORM, SIM_LAT_EXP, SIM_LAT_LOGNORMAL, SIM_LAT_FILE } sim_latency_kind;
typedef struct {
  sim_latency_kind kind;
  double a, b;         /* const: a; uniform: [a, b]; exp: mean a; lognormal: median a, sigma b (ns) */
  int64_t *at, *value; /* file: measured latencies (value) at times (at), sorted by time */
  size_t n;
} sim_latency;

/* Parses "250us", "0", "1.5ms", "uniform:100us:300us", "exp:200us", "lognormal:200us:0.5" or
 * "file:PATH" (a CSV of "time_ns,latency_ns" rows, sorted by time; interpolated linearly,
 * constant beyond its ends). Units: ns, us, ms, s (a bare number is ns). Returns OBI_OK, or
 * OBI_EPARSE / OBI_ENOENT with why naming the spec (and the file line). */
obi_err sim_latency_parse(sim_latency *l, const char *spec, char *why, size_t why_len);
/* The rows of a latency file from an open stream (name for messages); l must be zeroed with kind
 * SIM_LAT_FILE. Same errors as above. */
obi_err sim_latency_read(sim_latency *l, FILE *f, const char *name, char *why, size_t why_len);
void sim_latency_free(sim_latency *l);
/* One latency in ns (>= 0) at time now_ns; rng is the caller's generator state. */
int64_t sim_latency_draw(const sim_latency *l, int64_t now_ns, uint64_t *rng);
/* A uniform double in [0, 1) from a splitmix64 generator. */
double sim_uniform(uint64_t *rng);

/* ---- the exchange ---- */
typedef enum { SIM_QUEUE_TRADES, SIM_QUEUE_LINEAR, SIM_QUEUE_POWER } sim_queue_model;

typedef struct {
  double maker_fee_bps, taker_fee_bps; /* of notional; negative = rebate */
  double extra_cost_bps;               /* per fill, of notional (slippage allowance, taxes) */
  int64_t lot;                         /* order sizes are multiples of lot (size units), >= 1 */
  int64_t tick;                        /* limit prices are multiples of tick (price units), >= 1 */
  double price_scale;                  /* price units per currency unit */
  sim_queue_model queue;
  double queue_power; /* n of the power model (> 0) */
  sim_latency feed, entry, response;
  uint64_t seed;
  int tracked_levels; /* the book holds only the best N levels a side (a level-N LOBSTER file): prices
                         beyond them are unknown, not empty; 0: the book is complete */
} sim_config;

/* No fees, no latency, lot 1, tick 1, price scale 10000, queue model "trades", seed 1. */
void sim_config_default(sim_config *c);
/* "trades", "linear", "power:2" -> the model; returns OBI_EPARSE for anything else. */
obi_err sim_queue_parse(sim_config *c, const char *spec);

typedef enum { SIM_MARKET = 0, SIM_LIMIT = 1 } sim_order_type;

/* What reaches the strategy (after the response latency). */
typedef enum { SIM_N_FILL, SIM_N_ACCEPTED, SIM_N_CANCELLED, SIM_N_REJECTED, SIM_N_DONE } sim_notice_kind;
typedef struct {
  sim_notice_kind kind;
  uint64_t order_id;
  int64_t exch_ns;    /* when it happened at the exchange */
  int64_t notify_ns;  /* when the strategy learns it */
  int side;           /* OBI_BID = the order buys, OBI_ASK = it sells */
  int64_t price, qty; /* fill: price and quantity; cancelled/done: the quantity that never filled */
  double fee;         /* currency, negative for a rebate; extra costs included */
  int maker;
} sim_notice;

/* A fill as it happened at the exchange (the accounting record; exch time). */
typedef struct {
  uint64_t order_id;
  int64_t exch_ns, notify_ns;
  int side;
  int64_t price, qty;
  double fee, extra_cost;
  int maker;
  int64_t mid_x2; /* bid + ask at the fill (price units x 2), for slippage */
} sim_fill;

typedef struct {
  uint64_t orders, market_orders, limit_orders, cancels_sent, rejected;
  uint64_t fills, maker_fills, taker_fills;
  int64_t unfilled_ioc;     /* market/IOC volume the book could not fill */
  int64_t depleted_skipped; /* volume a taker order could not take because its own earlier fills had */
} sim_stats;

typedef struct sim_exchange sim_exchange;

/* The simulator takes ownership of nothing in cfg except the latency tables (sim_free frees
 * them). OBI_EINVAL for lot/tick/scale < 1 or a bad queue power; OBI_ENOMEM. */
obi_err sim_new(sim_exchange **out, const sim_config *cfg);
void sim_free(sim_exchange *s);

/* The strategy sends an order at now_ns (after its decision). It reaches the exchange at
 * now + entry latency. qty is rounded down to whole lots (0 lots: rejected at once, 0
 * returned); a limit price must be a multiple of the tick (else rejected). Returns the order
 * id (> 0). side: OBI_BID to buy, OBI_ASK to sell. */
uint64_t sim_send(sim_exchange *s, int64_t now_ns, int side, sim_order_type type, int64_t price, int64_t qty);
/* A cancel sent at now_ns, effective when it reaches the exchange (entry latency); the order
 * may fill meanwhile. Returns OBI_EUNKNOWN_ORDER for an id never sent or already finished. */
obi_err sim_cancel(sim_exchange *s, int64_t now_ns, uint64_t id);
/* A decision to be taken at now + feed latency on what was seen at now: returns the time the
 * strategy acts (the caller schedules itself; see sim_schedule). */
int64_t sim_feed_delay(sim_exchange *s, int64_t seen_ns);
/* Schedules a strategy callback token at time t: it comes back from sim_next_action. */
obi_err sim_schedule(sim_exchange *s, int64_t t, uint64_t token);

/* The market side. For every event of the source, after the book applied it: */
void sim_on_event(sim_exchange *s, const obi_event *ev, const obi_book *book);

/* Runs exchange-side actions (order and cancel arrivals) due at or before t on the book as it
 * is, and returns the next strategy-side item due at or before t, in time order: a notice
 * (returns 1, *notice filled) or a scheduled token (returns 2, *token and its time *token_ns
 * filled); 0 when nothing more is due. Call it in a loop before applying events later than t. */
int sim_next_action(sim_exchange *s, int64_t t, const obi_book *book, sim_notice *notice, uint64_t *token,
                    int64_t *token_ns);

/* Fills so far (exchange side), in order; valid until the next call into the simulator. */
const sim_fill *sim_fills(const sim_exchange *s, size_t *n);
/* Exchange-side position (size units, + long) and cash (currency, fees included). */
int64_t sim_position(const sim_exchange *s);
const sim_stats *sim_get_stats(const sim_exchange *s);
/* Orders live at the exchange or in flight to it. */
size_t sim_open_orders(const sim_exchange *s);
/* The volume ahead of a resting order in its queue (size units), or -1 if not resting. */
int64_t sim_queue_ahead(const sim_exchange *s, uint64_t id);

#endif
