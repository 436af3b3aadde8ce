/* test_backtest.c — the backtest driver on the bundled AMZN day (level 1, 57,515 messages):
 * an oracle that knows the future executable prices earns at least a computed bound; random
 * signals earn nothing mid-to-mid and lose their costs; truncating the future changes no
 * earlier decision; the kill switch flattens and stops; strategy JSON errors name the key. */
#include <math.h>
#include <stdlib.h>

#include "obi/backtest.h"
#include "obi/lobster.h"
#include "obi/perf.h"
#include "test.h"

#define DAY OBI_SOURCE_DIR "/data/lobster/AMZN_2012-06-21_34200000_57600000_"

/* Pass 1: bid and ask at every sampled row ("every" clock at group ends), as the backtest sees
 * them. */
typedef struct {
  int64_t *bid, *ask, *ts;
  int64_t n, cap;
} rows;

static int group_end(lobster_replay *r, const obi_event *ev, int64_t *next) {
  int more = lobster_peek_time(r, next);
  if (!more) *next = INT64_MAX;
  return !more || *next > ev->ts_ns;
}

static int record_rows(rows *out) {
  lobster_replay *r;
  char err[512];
  if (lobster_open(&r, DAY "message_1.csv.zst", DAY "orderbook_1.csv.zst", NULL, err, sizeof err)) return -1;
  feat_sampler s;
  feat_sampler_parse(&s, "every", 0);
  obi_event ev;
  memset(out, 0, sizeof *out);
  while (lobster_next(r, &ev) == OBI_OK) {
    int64_t next;
    if (!feat_sampler_take(&s, &ev, lobster_book(r), group_end(r, &ev, &next))) continue;
    if (out->n == out->cap) {
      out->cap = out->cap ? 2 * out->cap : 65536;
      out->bid = realloc(out->bid, (size_t)out->cap * sizeof *out->bid);
      out->ask = realloc(out->ask, (size_t)out->cap * sizeof *out->ask);
      out->ts = realloc(out->ts, (size_t)out->cap * sizeof *out->ts);
    }
    book_best(lobster_book(r), OBI_BID, &out->bid[out->n], NULL);
    book_best(lobster_book(r), OBI_ASK, &out->ask[out->n], NULL);
    out->ts[out->n++] = ev.ts_ns;
  }
  lobster_close(r);
  return 0;
}

static void rows_free(rows *r) { free(r->bid), free(r->ask), free(r->ts); }

typedef struct {
  int64_t at;
  int done;
} obi_kill_at;

/* Runs the backtest over the day, feeding events up to stop_ns (INT64_MAX: all). */
static obi_backtest *run(bt_config *cfg, bt_signal sig, int64_t stop_ns, obi_kill_at *kill) {
  obi_backtest *bt;
  if (bt_new(&bt, cfg, sig)) return NULL;
  lobster_replay *r;
  char err[512];
  if (lobster_open(&r, DAY "message_1.csv.zst", DAY "orderbook_1.csv.zst", NULL, err, sizeof err)) {
    bt_free(bt);
    return NULL;
  }
  obi_event ev;
  while (lobster_next(r, &ev) == OBI_OK && ev.ts_ns <= stop_ns) {
    int64_t next;
    int end = group_end(r, &ev, &next);
    if (next > stop_ns) next = INT64_MAX;
    if (kill && !kill->done && ev.ts_ns >= kill->at) bt_kill(bt, ev.ts_ns, "test"), kill->done = 1;
    if (bt_on_event(bt, &ev, lobster_book(r), end, next)) {
      bt_free(bt);
      bt = NULL;
      break;
    }
  }
  lobster_close(r);
  return bt;
}

/* ---- signals ---- */

typedef struct {
  const rows *r;
  int64_t h;
} oracle_ctx;

/* Up when the bid h rows ahead is above today's ask (a long round trip through both spreads
 * pays), down when the ask h rows ahead is below today's bid. */
static int oracle(void *ctx, const obi_event *ev, const obi_book *b, int64_t row, float p[3]) {
  (void)ev, (void)b;
  const oracle_ctx *o = ctx;
  p[0] = p[1] = p[2] = 0;
  if (row + o->h >= o->r->n) return 0;
  if (o->r->bid[row + o->h] > o->r->ask[row])
    p[2] = 1;
  else if (o->r->ask[row + o->h] < o->r->bid[row])
    p[0] = 1;
  else
    p[1] = 1;
  return 1;
}

static int random_signal(void *ctx, const obi_event *ev, const obi_book *b, int64_t row, float p[3]) {
  (void)ev, (void)b, (void)row;
  double u = sim_uniform(ctx);
  p[0] = u < 0.02 ? 1.0f : 0.0f; /* a trade every ~25 rows on average */
  p[2] = u > 0.98 ? 1.0f : 0.0f;
  p[1] = 1 - p[0] - p[2];
  return 1;
}

/* Level-1 imbalance as the probability of up (a real, causal signal). */
static int imbalance(void *ctx, const obi_event *ev, const obi_book *b, int64_t row, float p[3]) {
  (void)ctx, (void)ev, (void)row;
  int64_t bp, ap, bq, aq;
  if (!book_best(b, OBI_BID, &bp, &bq) || !book_best(b, OBI_ASK, &ap, &aq)) return 0;
  float i = (float)bq / (float)(bq + aq);
  p[2] = i, p[0] = 1 - i, p[1] = 0;
  return 1;
}

static void base_config(bt_config *c, int64_t hold) {
  bt_config_default(c);
  c->strat.size = 1, c->strat.hold_rows = hold, c->strat.exit_on_flip = 0, c->strat.threshold = 0.5;
  c->risk.capital = 1e6;
  c->keep_decisions = 1;
}

void backtest_oracle_earns_its_bound(void) {
  rows r;
  CHECK(record_rows(&r) == 0);
  CHECK(r.n > 50000);
  bt_config c;
  base_config(&c, 20);
  oracle_ctx o = {&r, 20};
  obi_backtest *bt = run(&c, (bt_signal){NULL, oracle, &o}, INT64_MAX, NULL);
  CHECK(bt);
  size_t nf;
  const sim_fill *f = bt_fills(bt, &nf);
  /* every round trip: entry at row i, exit at row i + 20, each at the touch of that row (zero
   * latency, one share). Sum the cash flows and count the trips. */
  double pnl = 0;
  int64_t trips = 0, pos = 0;
  for (size_t i = 0; i < nf; i++) {
    pnl += (f[i].side == OBI_BID ? -1.0 : 1.0) * (double)f[i].price * (double)f[i].qty / 10000;
    int64_t before = pos;
    pos += f[i].side == OBI_BID ? f[i].qty : -f[i].qty;
    trips += before != 0 && pos == 0;
  }
  if (pos != 0) pnl += (pos > 0 ? r.bid[r.n - 1] : r.ask[r.n - 1]) * (double)pos / 10000; /* close at the touch */
  /* bound: each trip gains at least one tick (bid[i+20] > ask[i] in whole ticks of $0.01) */
  CHECK(trips > 100);
  CHECK(pnl >= 0.01 * (double)trips - 1e-9);
  /* and each fill happened at the touch of its decision row */
  size_t nd;
  const bt_decision *d = bt_decisions(bt, &nd);
  int checked = 0;
  for (size_t k = 0, fi = 0; k < nd && fi < nf; k++) {
    if (d[k].action != BT_ENTER_LONG && d[k].action != BT_ENTER_SHORT && d[k].action != BT_EXIT) continue;
    int buy = d[k].qty > 0;
    CHECK_EQ(f[fi].price, buy ? r.ask[d[k].row] : r.bid[d[k].row]);
    fi++, checked++;
  }
  CHECK(checked > 200);
  bt_free(bt);
  rows_free(&r);
}

void backtest_random_signal_earns_nothing_and_pays_costs(void) {
  /* 12 seeds: mid-to-mid PnL (the move of the mid while positioned, which a random signal
   * cannot predict) averages 0 within 3 standard errors of the seeds' mean; net PnL after the
   * spread and a 0.5 bps taker fee is negative for every seed */
  enum { SEEDS = 12 };
  double mid_pnl[SEEDS], mean = 0;
  for (int s = 0; s < SEEDS; s++) {
    bt_config c;
    base_config(&c, 20);
    c.sim.taker_fee_bps = 0.5;
    uint64_t rng = (uint64_t)s * 7919 + 1;
    obi_backtest *bt = run(&c, (bt_signal){NULL, random_signal, &rng}, INT64_MAX, NULL);
    CHECK(bt);
    size_t nf;
    const sim_fill *f = bt_fills(bt, &nf);
    CHECK(nf > 100);
    double net = 0, mid = 0;
    int64_t pos = 0;
    for (size_t i = 0; i < nf; i++) {
      double sgn = f[i].side == OBI_BID ? -1.0 : 1.0;
      net += sgn * (double)f[i].price * (double)f[i].qty / 10000 - f[i].fee;
      mid += sgn * (double)f[i].mid_x2 * 0.5 * (double)f[i].qty / 10000;
      pos += f[i].side == OBI_BID ? f[i].qty : -f[i].qty;
    }
    size_t nm;
    const bt_mark *mk = bt_marks(bt, &nm);
    double last_mid = (double)mk[nm - 1].mid_x2 * 0.5 / 10000;
    net += (double)pos * last_mid, mid += (double)pos * last_mid;
    CHECK(net < 0);
    mid_pnl[s] = mid, mean += mid / SEEDS;
    bt_free(bt);
  }
  double var = 0;
  for (int s = 0; s < SEEDS; s++) var += (mid_pnl[s] - mean) * (mid_pnl[s] - mean) / (SEEDS - 1);
  CHECK(fabs(mean) <= 3 * sqrt(var / SEEDS));
}

void backtest_truncated_future_changes_no_decision(void) {
  /* with latencies, the imbalance signal: the run that stops at 12:00 and the full run agree on
   * every decision acted on and every fill that happened before 12:00 */
  int64_t noon = 0;
  int found;
  noon = lobster_day_start_ns(DAY "message_1.csv", &found) + 12 * 3600000000000LL;
  CHECK(found);
  obi_backtest *bt[2];
  for (int k = 0; k < 2; k++) {
    bt_config c;
    base_config(&c, 30);
    c.strat.threshold = 0.6, c.strat.exit_on_flip = 1, c.strat.maker = 1;
    char why[256];
    CHECK_EQ(sim_latency_parse(&c.sim.feed, "lognormal:1ms:0.5", why, sizeof why), OBI_OK);
    CHECK_EQ(sim_latency_parse(&c.sim.entry, "500us", why, sizeof why), OBI_OK);
    CHECK_EQ(sim_latency_parse(&c.sim.response, "exp:1ms", why, sizeof why), OBI_OK);
    sim_queue_parse(&c.sim, "linear");
    bt[k] = run(&c, (bt_signal){NULL, imbalance, NULL}, k ? noon : INT64_MAX, NULL);
    CHECK(bt[k]);
  }
  size_t n0, n1, f0, f1;
  const bt_decision *d0 = bt_decisions(bt[0], &n0), *d1 = bt_decisions(bt[1], &n1);
  const sim_fill *a = bt_fills(bt[0], &f0), *b = bt_fills(bt[1], &f1);
  size_t k = 0, acted = 0;
  for (; k < n1 && d1[k].act_ns < noon; k++) {
    CHECK(k < n0);
    CHECK_EQ(d0[k].act_ns, d1[k].act_ns);
    CHECK_EQ(d0[k].action, d1[k].action);
    CHECK_EQ(d0[k].qty, d1[k].qty);
    acted += d0[k].action != BT_NONE && d0[k].action != BT_HOLD;
  }
  CHECK(acted > 20);
  size_t fills = 0;
  for (size_t i = 0; i < f1 && b[i].exch_ns < noon; i++, fills++) {
    CHECK(i < f0);
    CHECK(a[i].exch_ns == b[i].exch_ns && a[i].price == b[i].price && a[i].qty == b[i].qty);
  }
  CHECK(fills > 20);
  CHECK(n0 > k); /* the full run went on */
  bt_free(bt[0]);
  bt_free(bt[1]);
}

void backtest_kill_switch_flattens_and_stops(void) {
  int found;
  int64_t at = lobster_day_start_ns(DAY "message_1.csv", &found) + 11 * 3600000000000LL;
  bt_config c;
  base_config(&c, 1000000); /* hold "for ever": only the kill switch closes */
  c.strat.threshold = 0.5;
  obi_kill_at kill = {at, 0};
  obi_backtest *bt = run(&c, (bt_signal){NULL, imbalance, NULL}, INT64_MAX, &kill);
  CHECK(bt);
  size_t nd, nf;
  const bt_decision *d = bt_decisions(bt, &nd);
  const sim_fill *f = bt_fills(bt, &nf);
  int entries_before = 0, exits_after = 0;
  for (size_t i = 0; i < nd; i++) {
    if (d[i].act_ns < at) entries_before += d[i].action == BT_ENTER_LONG || d[i].action == BT_ENTER_SHORT;
    if (d[i].act_ns >= at) {
      CHECK(d[i].action != BT_ENTER_LONG && d[i].action != BT_ENTER_SHORT);
      exits_after += d[i].action == BT_EXIT;
    }
  }
  CHECK_EQ(entries_before, 1); /* held for ever: one entry */
  CHECK_EQ(exits_after, 1);
  CHECK_EQ(sim_position(bt_exchange(bt)), 0);
  CHECK(f[nf - 1].exch_ns >= at);
  const obi_risk *r = bt_risk(bt);
  int logged = 0;
  for (size_t i = 0; i < risk_log_count(r); i++) logged += risk_log_at(r, i)->kind == RISK_KILL;
  CHECK_EQ(logged, 1);
  bt_free(bt);
}

void backtest_strategy_json(void) {
  strat_config s;
  strat_config_default(&s);
  char why[256];
  CHECK_EQ(strat_config_from_json(&s,
                                  "{\"threshold\": 0.2, \"entry\": \"maker\", \"hold\": \"2s\", "
                                  "\"maker_timeout\": \"250ms\", \"size\": 300, \"allow_short\": false}",
                                  why, sizeof why),
           OBI_OK);
  CHECK(s.threshold == 0.2 && s.maker && s.hold_ns == 2000000000LL && s.hold_rows == 0);
  CHECK(s.maker_timeout_ns == 250000000LL && s.size == 300 && !s.allow_short);
  CHECK_EQ(strat_config_from_json(&s, "{\"hold\": 7}", why, sizeof why), OBI_OK);
  CHECK(s.hold_rows == 7 && s.hold_ns == 0);
  CHECK_EQ(strat_config_from_json(&s, "{\"threshold\": 1.5}", why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "'threshold'");
  CHECK_EQ(strat_config_from_json(&s, "{\"treshold\": 0.5}", why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "unknown key 'treshold'");
  CHECK_EQ(strat_config_from_json(&s, "{\"entry\": \"sometimes\"}", why, sizeof why), OBI_EPARSE);
  CHECK_EQ(strat_config_from_json(&s, "[1, 2", why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "line 1");
}

/* The command end to end on the bundled day: features, a logistic model, the backtest with
 * fees and latency. The JSON has the promised keys; the net PnL is recomputed by hand from the
 * --trades CSV (cash flows and fees of every fill, the last position at the last mark's mid);
 * the HTML report opens in headless Chromium, which draws it (the DOM holds every chart) and
 * saves a screenshot beside the test binary (artifacts/backtest_report.png). */
void backtest_cli_json_trades_and_report(void) {
  const char *t = test_tmpdir();
  char args[4096];
  snprintf(args, sizeof args,
           "features " DAY "message_1.csv.zst " DAY "orderbook_1.csv.zst --out %s/bt.npy --horizons 20 --quiet", t);
  CHECK_EQ(test_run_obi(args), 0);
  snprintf(args, sizeof args, "train --model logistic --data %s/bt.npy --out %s/bt.safetensors --quiet", t, t);
  CHECK_EQ(test_run_obi(args), 0);
  const char *strat = test_write_file("strategy.json", "{\"size\": 10, \"threshold\": 0.3}");
  snprintf(args, sizeof args,
           "backtest --model %s/bt.safetensors --features %s/bt.npy " DAY "message_1.csv.zst " DAY
           "orderbook_1.csv.zst --strategy %s --fees -0.2,0.3 --extra-cost 0.1 --latency feed=1ms,entry=300us,"
           "response=exp:1ms --queue power:2 --trades %s/fills.csv --report %s/report.html --json",
           t, t, strat, t, t);
  CHECK_EQ(test_run_obi(args), 0);
  static const char *const keys[] = {"\"net_pnl\":",  "\"gross_pnl\":",        "\"fees\":",
                                     "\"trades\":",   "\"sharpe\":",           "\"max_drawdown\":",
                                     "\"win_rate\":", "\"profit_factor\":",    "\"cost_capacity_bps\":",
                                     "\"p_value\":",  "\"out_of_sample\":true"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) CHECK_STR_CONTAINS(test_out, keys[i]);
  double net = atof(strstr(test_out, "\"net_pnl\":") + 10), fees = atof(strstr(test_out, "\"fees\":") + 7);
  long long trades = atoll(strstr(test_out, "\"trades\":") + 9);
  CHECK(trades > 10);
  /* by hand from the CSV */
  char path[600];
  snprintf(path, sizeof path, "%s/fills.csv", t);
  FILE *f = fopen(path, "r");
  CHECK(f);
  char line[512];
  CHECK(fgets(line, sizeof line, f) != NULL); /* header */
  double cash = 0, fee_sum = 0, extra = 0;
  long long pos = 0, n = 0;
  while (fgets(line, sizeof line, f)) {
    long long ex, no, id, qty, p_after;
    char side[8];
    double price, notional, fee, xc, mid;
    int maker;
    CHECK(sscanf(line, "%lld,%lld,%lld,%7[a-z],%lf,%lld,%lf,%lf,%lf,%d,%lf,%lld", &ex, &no, &id, side, &price, &qty,
                 &notional, &fee, &xc, &maker, &mid, &p_after) == 12);
    CHECK(no >= ex); /* learned after it happened */
    int buy = !strcmp(side, "buy");
    cash += (buy ? -1 : 1) * price * (double)qty;
    fee_sum += fee, extra += xc;
    pos += buy ? qty : -qty;
    CHECK_EQ(pos, p_after);
    CHECK(llabs(pos) <= 10); /* one entry of 10 at a time: notices arrive in order, no double entry */
    n++;
  }
  fclose(f);
  CHECK(n > 20);
  snprintf(path, sizeof path, "%s/fills.marks.csv", t);
  f = fopen(path, "r");
  CHECK(f);
  double last_mid = 0;
  long long ts, mpos;
  CHECK(fgets(line, sizeof line, f) != NULL);
  while (fgets(line, sizeof line, f)) CHECK(sscanf(line, "%lld,%lf,%lld", &ts, &last_mid, &mpos) == 3);
  fclose(f);
  CHECK_EQ(mpos, pos);
  double by_hand = cash + (double)pos * last_mid - fee_sum - extra;
  CHECK(fabs(by_hand - net) < 1e-6 * (1 + fabs(net)));
  CHECK(fabs(fee_sum - fees) < 1e-6 * (1 + fabs(fees)));

  /* a sweep of two thresholds reports the better one, deflated: its deflated Sharpe can only be
   * lower than the same run's probabilistic Sharpe ratio alone */
  snprintf(args, sizeof args,
           "backtest --model %s/bt.safetensors --features %s/bt.npy " DAY "message_1.csv.zst " DAY
           "orderbook_1.csv.zst --strategy %s --sweep-thresholds 0.2,0.45 --json",
           t, t, strat);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "\"sweep_thresholds\":[0.2,0.45]");
  CHECK_STR_CONTAINS(test_out, "\"trials\":2");
  double best = atof(strstr(test_out, "\"threshold\":") + 12);
  double dsr_sweep = atof(strstr(test_out, "\"deflated_sharpe\":") + 18);
  double sharpe_sweep = atof(strstr(test_out, "\"sharpe\":") + 9);
  CHECK(best == 0.2 || best == 0.45);
  snprintf(args, sizeof args,
           "backtest --model %s/bt.safetensors --features %s/bt.npy " DAY "message_1.csv.zst " DAY
           "orderbook_1.csv.zst --strategy %s --sweep-thresholds %g --json",
           t, t, strat, best);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK(fabs(atof(strstr(test_out, "\"sharpe\":") + 9) - sharpe_sweep) < 1e-9 * (1 + fabs(sharpe_sweep)));
  CHECK(dsr_sweep <= atof(strstr(test_out, "\"deflated_sharpe\":") + 18));
  snprintf(args, sizeof args,
           "backtest --model %s/bt.safetensors --features %s/bt.npy " DAY "message_1.csv.zst " DAY
           "orderbook_1.csv.zst --sweep-thresholds 0.2,1.5",
           t, t);
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "--sweep-thresholds");

  /* the risk file: a position limit of 4 clips every entry of 10 to 4 */
  const char *risk = test_write_file("risk.json", "{\"max_position\": 4, \"daily_drawdown\": 0.05}");
  snprintf(args, sizeof args,
           "backtest --model %s/bt.safetensors --features %s/bt.npy " DAY "message_1.csv.zst " DAY
           "orderbook_1.csv.zst --strategy %s --risk %s --trades %s/clipped.csv --json",
           t, t, strat, risk, t);
  CHECK_EQ(test_run_obi(args), 0);
  snprintf(path, sizeof path, "%s/clipped.csv", t);
  f = fopen(path, "r");
  CHECK(f);
  CHECK(fgets(line, sizeof line, f) != NULL);
  long long clipped_fills = 0, most = 0;
  while (fgets(line, sizeof line, f)) {
    const char *last = strrchr(line, ',');
    long long p = atoll(last + 1);
    most = llabs(p) > most ? llabs(p) : most;
    clipped_fills++;
  }
  fclose(f);
  CHECK(clipped_fills > 20);
  CHECK_EQ(most, 4);
  const char *bad = test_write_file("bad_risk.json", "{\"max_positon\": 4}");
  snprintf(args, sizeof args,
           "backtest --model %s/bt.safetensors --features %s/bt.npy " DAY "message_1.csv.zst " DAY
           "orderbook_1.csv.zst --risk %s",
           t, t, bad);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "unknown key 'max_positon'");

  /* the report in a browser */
  snprintf(path, sizeof path, "%s/report.html", t);
  const char *html = test_read_file(path);
  CHECK(html);
  CHECK_STR_CONTAINS(html, "<svg class=\"equity\"");
  if (system("command -v chromium >/dev/null 2>&1") != 0) {
    test_skip("chromium is not installed (make check installs it)");
    return;
  }
  char dir[600], cmd[4800];
  snprintf(dir, sizeof dir, "%s", OBI_BIN);
  *strrchr(dir, '/') = 0;
  snprintf(cmd, sizeof cmd,
           "mkdir -p '%s/artifacts' && chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
           "--window-size=1100,2600 --screenshot='%s/artifacts/backtest_report.png' 'file://%s' >'%s/shot.log' 2>&1 "
           "&& chromium --headless --no-sandbox --disable-gpu --dump-dom 'file://%s' >'%s/dom.html' 2>'%s/dom.log'",
           dir, dir, path, t, path, t, t);
  CHECK_EQ(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s/dom.html", t);
  const char *dom = test_read_file(cmd);
  CHECK(dom);
  static const char *const charts[] = {"class=\"equity\"",   "class=\"drawdown\"",    "class=\"position\"",
                                       "class=\"trip-pnl\"", "class=\"pnl-by-hour\"", "<polyline"};
  for (size_t i = 0; i < sizeof charts / sizeof *charts; i++) CHECK_STR_CONTAINS(dom, charts[i]);
  snprintf(cmd, sizeof cmd, "%s/dom.log", t);
  const char *log = test_read_file(cmd);
  CHECK(log && !strstr(log, "CONSOLE") && !strstr(log, "Uncaught"));
  snprintf(cmd, sizeof cmd, "%s/artifacts/backtest_report.png", dir);
  FILE *png = fopen(cmd, "rb");
  CHECK(png);
  fseek(png, 0, SEEK_END);
  long size = ftell(png);
  fclose(png);
  CHECK(size > 20000); /* a drawn page, not a blank one */
}

/* Time never goes back: a message file whose third message is earlier than the second is refused
 * with the file and line (the no-look-ahead guarantee rests on ordered time). */
void backtest_time_going_back_is_refused(void) {
  const char *m = test_write_file("back_message_1.csv", "34200.000000001,1,1,100,1000000,1\n"
                                                        "34200.000000002,1,2,100,1010000,-1\n"
                                                        "34200.000000000,1,3,50,1000000,1\n");
  const char *b = test_write_file("back_orderbook_1.csv", "9999999999,0,1000000,100\n"
                                                          "1010000,100,1000000,100\n"
                                                          "1010000,100,1000000,150\n");
  char args[2048];
  snprintf(args, sizeof args, "replay %s %s", m, b);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "back_message_1.csv:3");
  CHECK_STR_CONTAINS(test_err, "earlier than the previous message");
}
