/* backtest.h — the event-driven backtest: a source's events through the book, a signal (a
 * model on the feature engine, or any other), the strategy, the risk manager and the simulated
 * exchange (sim.h). The same strategy and risk code runs in live paper trading.
 *
 * The caller owns the source and the book: for every event it applies the event to the book,
 * then calls bt_on_event with the time of the next event (or INT64_MAX at the end). The
 * backtest runs everything the simulator has due before that time — order arrivals, fills,
 * notices, decisions delayed by the feed latency — so no action ever sees an event from its
 * future. A decision is made on a sampled row (the sampler of the model's training features):
 * it sees the row's probabilities and the book at the row's time, and acts at that time plus
 * the feed latency.
 *
 * Strategy (docs/backtest.md): with s = p(up) - p(down), enter long when s > threshold and
 * short when s < -threshold, from flat only, with one order of `size`; as a taker (market
 * order) or as a maker (a limit order at the own best price, cancelled after maker_timeout).
 * Hold for hold_rows decisions or hold_ns nanoseconds (the label horizon), or until the signal
 * flips (s beyond the threshold the other way), then exit with a market order. Decisions
 * before start_ns (the model's training period) do not trade. The risk manager sees every
 * order first and may clip or refuse it, pause entries, or demand that the position be
 * flattened. */
#ifndef OBI_BACKTEST_H
#define OBI_BACKTEST_H
#include <stddef.h>
#include <stdint.h>

#include "obi/book.h"
#include "obi/error.h"
#include "obi/event.h"
#include "obi/features.h"
#include "obi/risk.h"
#include "obi/sim.h"

typedef struct {
  double threshold;         /* on p(up) - p(down), in (0, 1]; default 0.3 */
  int64_t size;             /* order size, size units; default 100 */
  int maker;                /* 0: enter with market orders (default); 1: limit orders at the own best */
  int64_t maker_timeout_ns; /* an unfilled maker entry is cancelled after this (default 1 s) */
  int64_t hold_rows;        /* exit after this many decisions ... */
  int64_t hold_ns;          /* ... or after this long (one of the two; default 50 rows) */
  int exit_on_flip;         /* exit early when the signal turns (default 1) */
  int allow_short;          /* default 1 */
} strat_config;

void strat_config_default(strat_config *c);
/* Overrides from a JSON object: {"threshold": 0.2, "size": 100, "entry": "taker"|"maker",
 * "maker_timeout": "500ms", "hold": 50 | "2s", "exit_on_flip": true, "allow_short": true}.
 * OBI_EPARSE with why naming the key on an unknown key, a wrong type or a bad value. */
obi_err strat_config_from_json(strat_config *c, const char *json_text, char *why, size_t why_len);

/* Where probabilities come from. update is called for every event (after the book applied
 * it; may be NULL); predict at every sampled row (row counts them from 0): returns 1 and fills
 * probs (down, stationary, up), or 0 when it has no prediction yet (a window filling up). */
typedef struct {
  void (*update)(void *ctx, const obi_event *ev, const obi_book *book);
  int (*predict)(void *ctx, const obi_event *ev, const obi_book *book, int64_t row, float probs[3]);
  void *ctx;
} bt_signal;

struct bt_decision;

typedef struct {
  strat_config strat;
  sim_config sim; /* its latency tables pass to the backtest (bt_free frees them) */
  risk_config risk;
  feat_sampler sampler; /* decision rows: the training features' sampler */
  int64_t start_ns;     /* no trading on rows before this time (default 0) */
  int64_t mark_ns;      /* equity marks clock (default 60 s) */
  int keep_decisions;   /* record every decision (bt_decisions) */
  /* called for every decision as it is taken (live paper trading publishes them); may be NULL */
  void (*on_decision)(void *ctx, const struct bt_decision *d);
  void *decision_ctx;
} bt_config;

void bt_config_default(bt_config *c);

typedef enum { BT_NONE, BT_ENTER_LONG, BT_ENTER_SHORT, BT_EXIT, BT_HOLD, BT_BLOCKED } bt_action;

typedef struct bt_decision {
  int64_t seen_ns, act_ns; /* the row's time; when the strategy acted on it (feed latency) */
  int64_t row;
  float probs[3];
  bt_action action;
  int64_t qty; /* signed: what was sent */
} bt_decision;

typedef struct {
  int64_t ts_ns;
  int64_t mid_x2;   /* bid + ask in price units (so the mid is exact) */
  int64_t position; /* exchange-side position at the mark */
} bt_mark;

typedef struct {
  uint64_t events, rows, decisions, predictions;
  uint64_t trading_decisions; /* decisions on rows at or after start_ns */
  uint64_t entries, exits, blocked_by_risk, notices;
} bt_stats;

typedef struct obi_backtest obi_backtest;

/* A backtest of the signal under cfg (copied; the latency tables move in). OBI_EINVAL for a bad
 * configuration, OBI_ENOMEM. */
obi_err bt_new(obi_backtest **out, bt_config *cfg, bt_signal signal);
void bt_free(obi_backtest *bt);

/* One event of the source, after the book applied it. group_end: the next event has a later
 * timestamp (rows are taken only at the end of a group); next_ts: the time of the next event,
 * INT64_MAX at the end of the source. */
obi_err bt_on_event(obi_backtest *bt, const obi_event *ev, const obi_book *book, int group_end, int64_t next_ts);

/* Results (valid until the next call that changes the backtest). */
const sim_fill *bt_fills(const obi_backtest *bt, size_t *n);
const bt_mark *bt_marks(const obi_backtest *bt, size_t *n);
const bt_decision *bt_decisions(const obi_backtest *bt, size_t *n);
const bt_stats *bt_get_stats(const obi_backtest *bt);
const sim_exchange *bt_exchange(const obi_backtest *bt);
const obi_risk *bt_risk(const obi_backtest *bt);
/* The kill switch of the risk manager, as an operator would press it. */
void bt_kill(obi_backtest *bt, int64_t ts_ns, const char *reason);

#endif
