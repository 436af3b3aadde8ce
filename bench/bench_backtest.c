/* bench_backtest.c — the whole backtest pipeline on a LOBSTER day, side by side with its parts.
 *
 * The pair is decompressed into memory and replayed repeatedly. Three workloads, timed the same
 * way (median of 5 runs of >= 0.5 s) in one process so that their ratios compare like with like:
 *   replay      parse + book
 *   features    + feat_update at every event, a full row (every column) at every sampled row
 *   backtest    + the logistic model on every row, the strategy, the risk manager and the
 *               simulated exchange (bt_on_event), 1 ms feed / 500 us entry / 1 ms response latency
 * The model is a logistic model on all engine columns with seeded random weights: its forecasts
 * are meaningless, but it trades (and pays for every row), which is what is being timed.
 * `bench.sh` adds callgrind instructions per event of bt_on_event.
 *
 * usage: bench_backtest [--callgrind] <messages> <orderbook> */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obi/backtest.h"
#include "obi/lobster.h"
#include "obi/model.h"

#include "bench_common.h"

static const char *msg_text, *book_text;
static size_t msg_len, book_len;
static int64_t day_offset;
static double sink;

typedef struct {
  feat_engine *e;
  obi_model *m;
  float x[FEAT_MAX_COLS];
  double full[FEAT_MAX_COLS];
} ctx;
static ctx C;

static void upd(void *c, const obi_event *ev, const obi_book *b) { feat_update(((ctx *)c)->e, ev, b); }
static int predict(void *c, const obi_event *ev, const obi_book *b, int64_t row, float p[3]) {
  (void)ev, (void)row;
  ctx *k = c;
  if (!feat_ready(k->e)) return 0;
  feat_compute(k->e, b, k->full);
  int n = feat_count(k->e);
  for (int i = 0; i < n; i++) k->x[i] = (float)k->full[i];
  return model_step(k->m, k->x, p);
}

enum { W_REPLAY, W_FEATURES, W_BACKTEST };
static uint64_t trades_total;

static uint64_t pass(int w) {
  day_offset += 86400LL * 1000000000LL; /* each pass is the next day: time only moves forward */
  obi_textin *mt, *bt_in;
  obi_textin_open_mem(&mt, msg_text, msg_len);
  obi_textin_open_mem(&bt_in, book_text, book_len);
  lobster_options opt = {.day_from_name = 1};
  lobster_replay *r;
  if (lobster_open_readers(&r, mt, "messages", bt_in, "orderbook", &opt, NULL, 0)) exit(1);
  obi_backtest *bt = NULL;
  feat_sampler s;
  feat_sampler_parse(&s, "every", 0);
  if (w == W_BACKTEST) {
    bt_config cfg;
    bt_config_default(&cfg);
    cfg.risk.capital = 1e7;
    cfg.strat.threshold = 0.2, cfg.strat.size = 100;
    sim_latency_parse(&cfg.sim.feed, "1ms", NULL, 0);
    sim_latency_parse(&cfg.sim.entry, "500us", NULL, 0);
    sim_latency_parse(&cfg.sim.response, "1ms", NULL, 0);
    if (bt_new(&bt, &cfg, (bt_signal){upd, predict, &C})) exit(1);
  }
  obi_event ev;
  uint64_t n = 0;
  while (lobster_next(r, &ev) == OBI_OK) {
    n++;
    if (w == W_REPLAY) continue;
    ev.ts_ns += day_offset;
    int64_t next;
    int more = lobster_peek_time(r, &next);
    next = more ? next + day_offset : INT64_MAX;
    int end = !more || next > ev.ts_ns;
    if (w == W_BACKTEST) {
      bt_on_event(bt, &ev, lobster_book(r), end, next);
      continue;
    }
    feat_update(C.e, &ev, lobster_book(r));
    if (feat_sampler_take(&s, &ev, lobster_book(r), end) && feat_ready(C.e)) {
      feat_compute(C.e, lobster_book(r), C.full);
      sink += C.full[0];
    }
  }
  if (bt) {
    size_t nf;
    bt_fills(bt, &nf);
    trades_total += nf;
    bt_free(bt);
  }
  lobster_close(r);
  return n;
}

__attribute__((noinline)) static uint64_t replay_pass(void) { return pass(W_REPLAY); }
__attribute__((noinline)) static uint64_t features_pass(void) { return pass(W_FEATURES); }
__attribute__((noinline)) static uint64_t backtest_pass(void) { return pass(W_BACKTEST); }

int main(int argc, char **argv) {
  int callgrind = argc > 1 && !strcmp(argv[1], "--callgrind");
  int a = 1 + callgrind;
  if (argc - a != 2) {
    fprintf(stderr, "usage: bench_backtest [--callgrind] <messages> <orderbook>\n");
    return 2;
  }
  msg_text = slurp_text(argv[a], &msg_len);
  book_text = slurp_text(argv[a + 1], &book_len);
  feat_config fc;
  feat_config_default(&fc);
  if (feat_new(&C.e, &fc)) return 1;
  int cols = feat_count(C.e);
  model_config mc;
  model_config_default(&mc, MODEL_LOGISTIC);
  float mean[FEAT_MAX_COLS] = {0}, sd[FEAT_MAX_COLS];
  for (int i = 0; i < cols; i++) sd[i] = 1e3f; /* raw features span many scales: keep the logits tame */
  if (model_new(&C.m, &mc, cols, NULL, mean, sd)) return 1;
  if (callgrind) { /* one pass: bench.sh counts the instructions inside bt_on_event */
    uint64_t events = backtest_pass();
    printf("{\"events\":%llu}\n", (unsigned long long)events);
    return 0;
  }
  uint64_t events = backtest_pass(); /* warm-up */
  trades_total = 0;
  double replay = bench_median_rate(replay_pass, 0.5, NULL), features = bench_median_rate(features_pass, 0.5, NULL);
  double backtest = bench_median_rate(backtest_pass, 0.5, NULL);
  fprintf(stderr,
          "replay %.2f M events/s, + features %.2f M/s, + model, strategy, risk and simulator %.2f M/s "
          "(backtest / replay = %.2f)\n",
          replay / 1e6, features / 1e6, backtest / 1e6, backtest / replay);
  printf("{\"messages_file\":\"%s\",\"events\":%llu,\"replay_events_per_second\":%.0f,"
         "\"features_events_per_second\":%.0f,\"backtest_events_per_second\":%.0f,"
         "\"backtest_over_replay\":%.3f}\n",
         argv[a], (unsigned long long)events, replay, features, backtest, backtest / replay);
  model_free(C.m);
  feat_free(C.e);
  return sink == 12345.678 ? 3 : 0;
}
