/* features.h — the streaming feature engine: market-microstructure features of one
 * instrument, updated per event in O(1) or O(levels), read out as one row of doubles.
 *
 * Use: for every event of the stream, apply it to the book, then call feat_update with
 * the event and the book as it is AFTER the event. The engine keeps what it needs of
 * the book before the event itself (the top levels and best prices seen at the previous
 * update), so every event must go through feat_update, in order. feat_compute then
 * writes the row for the current time (the time of the last event) whenever the
 * sampler wants one. Every feature is causal: it depends only on events up to now.
 *
 * The columns, their names and their exact definitions are listed by feat_name /
 * feat_description, by `obi features --list`, and in docs/features.md. Units: prices in
 * currency (price / price_scale), returns and spreads in basis points, variances in
 * bps^2, sizes in lots, times in seconds, rates in events per second.
 *
 * Memory: feat_new allocates the rolling windows; their ring buffers double when an
 * unusually busy window overflows them (warm-up), and nothing else allocates. */
#ifndef OBI_FEATURES_H
#define OBI_FEATURES_H

#include <stdint.h>

#include "obi/book.h"
#include "obi/error.h"
#include "obi/event.h"

#define FEAT_MAX_LEVELS 50
#define FEAT_WINDOWS 3
#define FEAT_OFI_LEVELS 5
#define FEAT_MAX_COLS 128

typedef struct {
  int levels;                      /* K: levels read per side, 1..FEAT_MAX_LEVELS (default 10) */
  int64_t window_ns[FEAT_WINDOWS]; /* rolling time windows, increasing (default 1 s, 10 s, 60 s) */
  int event_window;                /* events in the rolling event window of ofi_l1_<N>ev (default 100) */
  double level_decay;              /* lambda of imb_decay's weights exp(-lambda (k - 1)) (default 0.5) */
  double intensity_tau_s;          /* time constant of the queue intensities, seconds (default 5) */
  int64_t bar_ns;                  /* length of the OHLC bars of the mid (default 1 s) */
  int bars;                        /* completed bars used by the bar volatility estimators (default 60) */
  double price_scale;              /* price units per currency unit (LOBSTER: 10000) */
  double tick;                     /* tick size in price units (US equities: 100) */
  int signed_trades;               /* TRADE events carry the resting side (exchange feeds); 0: unsigned (LOBSTER
                                      crosses, type 6) */
} feat_config;

/* Fills the defaults above; price_scale 10000 and tick 100 (LOBSTER US equities). */
void feat_config_default(feat_config *c);

/* Stoikov's micro-price adjustment (Stoikov 2018): g[s][i] is the expected long-run mid
 * change, in ticks, given spread bucket s and imbalance bucket i (I = bid size / (bid size +
 * ask size) at L1, cut into n_imb equal buckets). Spread bucket s holds the spreads (in
 * ticks) up to spread_upper[s] and above the previous bucket's; the last bucket holds all
 * wider spreads. Fitted by feat_microprice_fit on training data. */
#define FEAT_MP_MAX_IMB 20
#define FEAT_MP_MAX_SPREAD 8
typedef struct {
  int n_imb, n_spread;
  int64_t spread_upper[FEAT_MP_MAX_SPREAD]; /* inclusive upper edge of each spread bucket, ticks */
  double g[FEAT_MP_MAX_SPREAD][FEAT_MP_MAX_IMB];
} feat_microprice;

/* The buckets of a book state for the micro-price: imbalance bucket of I = qb/(qb+qa) and
 * spread bucket of a spread in ticks. */
int feat_mp_imb_bucket(const feat_microprice *m, int64_t bid_size, int64_t ask_size);
int feat_mp_spread_bucket(const feat_microprice *m, int64_t spread_ticks);

/* One observation for fitting the micro-price: the L1 sizes, the spread in ticks and the
 * mid in ticks at a sampled row. Consecutive observations are consecutive rows. */
typedef struct {
  int64_t bid_size, ask_size, spread_ticks;
  double mid_ticks;
} feat_mp_obs;

typedef struct {
  int iterations;  /* terms of the series g = G1 + B G1 + B^2 G1 + ... that were summed */
  int converged;   /* the terms fell below 1e-12 ticks; if not, g is the first-order G1 */
  int states_used; /* states with at least FEAT_MP_MIN_COUNT observations */
  uint64_t transitions;
} feat_mp_fit_info;

#define FEAT_MP_MIN_COUNT 20

/* Fits the table from n observations (Stoikov 2018, symmetrised; docs/features.md). The spread
 * buckets are the distinct spreads when there are at most max_spread of them, otherwise
 * quantiles of the observed spreads. States seen fewer than FEAT_MP_MIN_COUNT times (mirrored
 * observations included) are left out of the chain (g = 0 there; entering one ends the path).
 * Returns OBI_EINVAL for bucket counts out of range, OBI_ERANGE when the transient system is
 * singular, OBI_ENOMEM. */
obi_err feat_microprice_fit(feat_microprice *m, int n_imb, int max_spread, const feat_mp_obs *obs, size_t n,
                            feat_mp_fit_info *info);

typedef struct feat_engine feat_engine;

/* Validates cfg (OBI_EINVAL with nothing allocated if a value is out of range) and creates
 * an engine. The caller owns it; feat_free releases it. */
obi_err feat_new(feat_engine **out, const feat_config *cfg);
void feat_free(feat_engine *e);

/* Sets the micro-price table (copied). Without one, microprice_stoikov equals mid and
 * microprice_minus_mid_bps is 0. */
void feat_set_microprice(feat_engine *e, const feat_microprice *m);

/* Number of columns and their names/definitions (owned by the engine). */
int feat_count(const feat_engine *e);
const char *feat_name(const feat_engine *e, int col);
const char *feat_description(const feat_engine *e, int col);
/* Column index of a name, or -1. */
int feat_find(const feat_engine *e, const char *name);

/* Consumes one event; book is the book after the event was applied. Events must come in
 * time order (an earlier ts_ns than the last one is treated as the last one). */
void feat_update(feat_engine *e, const obi_event *ev, const obi_book *book);

/* 1 when both sides of the book were non-empty at the last update (a row can be read). */
int feat_ready(const feat_engine *e);

/* Writes feat_count() values for the state after the last update. Needs the same book. */
void feat_compute(const feat_engine *e, const obi_book *book, double *row);

/* The order flow imbalance e_m (level m = 1..5) of the last event, in lots. */
int64_t feat_last_ofi(const feat_engine *e, int level);

/* Events consumed so far. */
uint64_t feat_events(const feat_engine *e);

/* The sampling clock of feature rows: which events produce a row.
 *   every        after every event            events:N   after every N-th event
 *   trades       after every execution/trade  mid        when the mid changes
 *   time:MS      at the first event at or after each multiple of MS milliseconds
 * Messages that share a timestamp happened at one instant: the states between them were never
 * observable, and a row taken there would see part of an event's consequences before the rest
 * (a marketable order shown as several executions). So a row is taken only after the last
 * message of a timestamp group (group_end), unless split_timestamps; the clock's condition may
 * fire anywhere in the group. Rows need both sides of the book. */
typedef enum {
  FEAT_SAMPLE_EVERY,
  FEAT_SAMPLE_EVENTS,
  FEAT_SAMPLE_TRADES,
  FEAT_SAMPLE_MID,
  FEAT_SAMPLE_TIME
} feat_sample_kind;
typedef struct {
  feat_sample_kind kind;
  int64_t n; /* events, or nanoseconds */
  char spec[32];
  int split_timestamps; /* also take rows between messages that share a timestamp */
  /* state */
  uint64_t events;
  int pending; /* the clock fired in the current timestamp group */
  int64_t next_t;
  int64_t last_bid, last_ask;
} feat_sampler;
/* Parses a spec above into a fresh sampler; OBI_EPARSE if malformed. */
obi_err feat_sampler_parse(feat_sampler *s, const char *spec, int split_timestamps);
/* Called for every event after the book applied it: 1 when a row is taken now. */
int feat_sampler_take(feat_sampler *s, const obi_event *ev, const obi_book *b, int group_end);

#endif
