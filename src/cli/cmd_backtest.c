/* cmd_backtest.c — `obi backtest`: a trained model traded on a LOBSTER source, event by event,
 * through the simulated exchange, then judged by perf.h.
 *
 * The model's features are recomputed exactly as `obi features` computed its training file:
 * the same engine configuration, the same fitted micro-price table and the same sampling clock,
 * all read from the training file's sidecar (--features). When the source is the file the model
 * was trained on, only the rows after the training part and one label horizon trade (the
 * out-of-sample part); --in-sample lifts that, and the output says so. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "obi/backtest.h"
#include "obi/lobster.h"
#include "obi/model.h"
#include "obi/perf.h"
#include "pipeline.h"
#include "report.h"
#include "source.h"

#define MAX_SWEEP 32

typedef struct {
  const char *model_path, *features, *msg, *book, *strategy, *risk, *trades, *report, *latency, *queue, *symbol;
  int venue; /* of a recording whose URL does not tell, or -1 */
  double maker_bps, taker_bps, extra_bps, capital, session_hours, days_per_year;
  int64_t mark_ns;
  int in_sample, json, quiet, trials;
  long seed;
  double sweep[MAX_SWEEP];
  int nsweep;
  long lot;
} bt_args;

/* A JSON string (escaped). */
static void json_str(FILE *f, const char *s) {
  json_t *j = json_string(s ? s : "");
  char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  fputs(t ? t : "null", f);
  free(t);
  json_decref(j);
}

static void jnum(FILE *f, const char *key, double v, int last) {
  if (isfinite(v))
    fprintf(f, "\"%s\":%.10g%s", key, v, last ? "" : ",");
  else
    fprintf(f, "\"%s\":null%s", key, last ? "" : ",");
}

static int write_trades(const char *path, const sim_fill *f, size_t n, const bt_mark *mk, size_t nm, double scale) {
  FILE *o = fopen(path, "w");
  if (!o) return -1;
  fprintf(o, "exch_ns,notify_ns,order_id,side,price,qty,notional,fee,extra_cost,maker,mid,position\n");
  int64_t pos = 0;
  for (size_t i = 0; i < n; i++) {
    pos += f[i].side == OBI_BID ? f[i].qty : -f[i].qty;
    double px = (double)f[i].price / scale;
    fprintf(o, "%lld,%lld,%llu,%s,%.10g,%lld,%.10g,%.10g,%.10g,%d,%.10g,%lld\n", (long long)f[i].exch_ns,
            (long long)f[i].notify_ns, (unsigned long long)f[i].order_id, f[i].side == OBI_BID ? "buy" : "sell", px,
            (long long)f[i].qty, px * (double)f[i].qty, f[i].fee, f[i].extra_cost, f[i].maker,
            (double)f[i].mid_x2 * 0.5 / scale, (long long)pos);
  }
  int bad = fclose(o) != 0;
  char mp[4200];
  snprintf(mp, sizeof mp, "%.*s.marks.csv",
           (int)(strlen(path) > 4 && !strcmp(path + strlen(path) - 4, ".csv") ? strlen(path) - 4 : strlen(path)), path);
  o = fopen(mp, "w");
  if (!o) return -1;
  fprintf(o, "ts_ns,mid,position\n");
  for (size_t i = 0; i < nm; i++)
    fprintf(o, "%lld,%.10g,%lld\n", (long long)mk[i].ts_ns, (double)mk[i].mid_x2 * 0.5 / scale,
            (long long)mk[i].position);
  return (fclose(o) != 0 || bad) ? -1 : 0;
}

/* Replays the source through a new backtest of cfg. */
static int simulate(const bt_args *a, bt_config *cfg, model_signal *ms, obi_backtest **out, double *secs) {
  char why[4600];
  *out = NULL;
  obi_backtest *bt;
  obi_source *r;
  if (source_open(&r, a->msg, a->book, a->symbol, a->venue, why, sizeof why)) {
    sim_latency_free(&cfg->sim.feed), sim_latency_free(&cfg->sim.entry), sim_latency_free(&cfg->sim.response);
    return cli_input_error("%s", why);
  }
  /* a level-N LOBSTER file: prices below its N levels are unknown (a recording's book is cut at
   * its known levels already) */
  cfg->sim.tracked_levels = source_get_info(r)->tracked_levels;
  obi_err err = bt_new(&bt, cfg, (bt_signal){ms_update, ms_predict, ms});
  if (err) {
    source_close(r);
    return cli_input_error("invalid backtest configuration: %s", obi_strerror(err));
  }
  cli_progress prog;
  cli_progress_start(&prog, "backtest", a->quiet || a->json);
  obi_event ev;
  uint64_t events = 0;
  double t0 = cli_now();
  int group_end;
  int64_t next;
  while ((err = source_next(r, &ev, &group_end, &next)) == OBI_OK) {
    if ((err = bt_on_event(bt, &ev, source_book(r), group_end, next))) break;
    if ((++events & 0xffff) == 0) cli_progress_update(&prog, source_progress(r), events);
  }
  *secs = cli_now() - t0;
  cli_progress_done(&prog);
  int rc = EXIT_OK;
  if (err != OBI_EEOF) rc = cli_input_error("%s", err == OBI_ENOMEM ? "out of memory" : source_error(r));
  source_warn_skipped(r);
  source_close(r);
  if (rc)
    bt_free(bt);
  else
    *out = bt;
  return rc;
}

typedef struct { /* a run judged by perf.h */
  perf_fill *pf;
  perf_mark *pm;
  double *equity, *position;
  size_t first_mark, k; /* the marks from the start of trading: k of them */
  perf_summary ps;
} judged;

static void judged_free(judged *j) {
  free(j->pf), free(j->pm), free(j->equity), free(j->position);
  memset(j, 0, sizeof *j);
}

static int judge(const bt_config *cfg, const perf_config *pc, const obi_backtest *bt, judged *j, const bt_args *a) {
  size_t nf, nm;
  const sim_fill *fills = bt_fills(bt, &nf);
  const bt_mark *marks = bt_marks(bt, &nm);
  j->pf = malloc((nf ? nf : 1) * sizeof *j->pf);
  j->pm = malloc((nm ? nm : 1) * sizeof *j->pm);
  j->equity = malloc((nm ? nm : 1) * sizeof *j->equity);
  j->position = malloc((nm ? nm : 1) * sizeof *j->position);
  if (!j->pf || !j->pm || !j->equity || !j->position) {
    judged_free(j);
    return cli_input_error("out of memory");
  }
  double scale = cfg->sim.price_scale;
  for (size_t i = 0; i < nf; i++)
    j->pf[i] = (perf_fill){fills[i].exch_ns,
                           fills[i].side == OBI_BID ? 1 : -1,
                           (double)fills[i].price / scale,
                           (double)fills[i].qty,
                           fills[i].fee,
                           fills[i].maker};
  /* from the last mark at or before the start of trading, so that every fill is in a period return */
  while (j->first_mark + 1 < nm && marks[j->first_mark + 1].ts_ns <= cfg->start_ns) j->first_mark++;
  for (size_t i = j->first_mark; i < nm; i++)
    j->pm[j->k++] = (perf_mark){marks[i].ts_ns, (double)marks[i].mid_x2 * 0.5 / scale};
  if (j->k < 2) {
    judged_free(j);
    return cli_input_error("%s: fewer than two %lld-second marks in the trading period: nothing to judge", a->msg,
                           (long long)(a->mark_ns / 1000000000LL));
  }
  obi_err err = perf_compute(pc, j->pf, nf, j->pm, j->k, &j->ps, j->equity, j->position);
  if (err) {
    judged_free(j);
    return cli_input_error("performance statistics failed: %s", obi_strerror(err));
  }
  return EXIT_OK;
}

static int run_backtest(bt_args *a) {
  char why[8192];
  sidecar sc = {0};
  if (read_sidecar(a->features, &sc, why, sizeof why)) return cli_input_error("%s", why);
  obi_model *m = NULL;
  if (model_load(&m, a->model_path, why, sizeof why)) return cli_input_error("%s: %s", a->model_path, why);
  int rc = EXIT_BAD_INPUT;
  obi_backtest *bt = NULL;
  model_signal ms = {.m = m};
  judged j = {0};
  double sweep_var = NAN;
  bt_config cfg;
  bt_config_default(&cfg);
  if (feat_new(&ms.e, &sc.fc)) {
    rc = cli_input_error("%s: invalid feature configuration in the sidecar", a->features);
    goto done;
  }
  if (sc.has_mp) feat_set_microprice(ms.e, &sc.mp);
  ms.C = model_features(m);
  if (ms_map_columns(ms.e, m, ms.cols, why, sizeof why)) {
    rc = cli_input_error("%s: %s (raw-book models such as deeplob are not supported by the backtest yet)",
                         a->model_path, why);
    goto done;
  }
  if (feat_sampler_parse(&cfg.sampler, sc.sampling, sc.split_timestamps)) {
    rc = cli_input_error("%s: unknown sampling '%s'", a->features, sc.sampling);
    goto done;
  }
  if (sc.hold_ns > 0)
    cfg.strat.hold_ns = sc.hold_ns, cfg.strat.hold_rows = 0;
  else if (sc.hold_rows > 0)
    cfg.strat.hold_rows = sc.hold_rows;
  if (a->strategy) {
    const char *text = read_small_file(a->strategy);
    if (!text) {
      rc = cli_input_error("%s: %s", a->strategy, strerror(errno));
      goto done;
    }
    if (strat_config_from_json(&cfg.strat, text, why, sizeof why)) {
      rc = cli_input_error("%s: %s", a->strategy, why);
      goto done;
    }
  }
  cfg.sim.maker_fee_bps = a->maker_bps, cfg.sim.taker_fee_bps = a->taker_bps, cfg.sim.extra_cost_bps = a->extra_bps;
  cfg.sim.price_scale = sc.fc.price_scale;
  cfg.sim.tick = sc.fc.tick >= 1 ? (int64_t)sc.fc.tick : 1;
  cfg.sim.seed = (uint64_t)a->seed;
  cfg.sim.lot = a->lot;
  if (a->queue && sim_queue_parse(&cfg.sim, a->queue)) {
    rc = cli_input_error("--queue: expected trades, linear or power:N, not '%s'", a->queue);
    goto done;
  }
  cfg.risk.capital = a->capital;
  cfg.risk.stale_ns = 0; /* in a replay, silence is the market's, not a dead feed's (live trading halts on it) */
  if (a->risk) {
    const char *text = read_small_file(a->risk);
    if (!text) {
      rc = cli_input_error("%s: %s", a->risk, strerror(errno));
      goto done;
    }
    if (risk_config_from_json(&cfg.risk, text, why, sizeof why)) {
      rc = cli_input_error("%s: %s", a->risk, why);
      goto done;
    }
    a->capital = cfg.risk.capital; /* the statistics use the same capital */
  }
  cfg.mark_ns = a->mark_ns;
  int found = 0;
  int64_t day0 = lobster_day_start_ns(a->msg, &found);
  int64_t day_offset = found ? -(((day0 % 86400000000000LL) + 86400000000000LL) % 86400000000000LL) : 0;
  cfg.risk.day_offset_ns = day_offset;
  /* Out of sample: when this source is the training file's day — the same content (whatever the
   * compression), or the same symbol and date in the names (another depth of the same day) — trade
   * only after its training part. The boundary is a time of day, moved onto this source's clock. */
  char sha[65] = "", day[64];
  obi_source *src;
  if (source_open(&src, a->msg, a->book, a->symbol, a->venue, why, sizeof why)) {
    rc = cli_input_error("%s", why);
    goto done;
  }
  const source_info *in = source_get_info(src);
  const char *first = source_path(src, 0); /* a recording's WebSocket file, whatever the order given */
  if (sidecar_fits_source(&sc, in->recording, in->price_scale, a->msg, a->features, why, sizeof why)) {
    rc = cli_input_error("%s", why);
    source_close(src);
    goto done;
  }
  cli_source_day(first, day, sizeof day);
  int same_content = (!cli_sha256_file(first, sha) && !strcmp(sha, sc.msg_sha)) ||
                     (sc.content_sha[0] && !cli_sha256_lines(first, sha) && !strcmp(sha, sc.content_sha));
  source_close(src);
  int same_day = day[0] && !strcmp(day, sc.day);
  int same_source = same_content || same_day;
  int64_t here = found ? day0 : 0;
  int64_t shift = sc.day_start_ns >= 0 ? here - sc.day_start_ns : 0;
  cfg.start_ns = same_source && !a->in_sample ? sc.oos_start_ns + shift : INT64_MIN;
  perf_config pc;
  perf_config_default(&pc);
  pc.capital = a->capital;
  pc.periods_per_year = a->session_hours * 3600e9 / (double)a->mark_ns * a->days_per_year;
  pc.extra_cost_bps = a->extra_bps;
  pc.trials = a->trials > a->nsweep ? a->trials : a->nsweep;
  pc.seed = (uint64_t)a->seed;
  pc.day_offset_ns = day_offset;
  /* one run, or one per threshold of the sweep: the best by Sharpe is reported, its Sharpe ratio
   * deflated by the number of thresholds tried and the spread of their Sharpe ratios */
  int runs = a->nsweep ? a->nsweep : 1;
  double sr[MAX_SWEEP], secs = 0;
  int best = -1;
  for (int k = 0; k < runs; k++) {
    bt_config ck = cfg;
    if (a->nsweep) ck.strat.threshold = a->sweep[k];
    if (a->latency && parse_latencies(&ck.sim, a->latency, why, sizeof why)) {
      sim_latency_free(&ck.sim.feed), sim_latency_free(&ck.sim.entry), sim_latency_free(&ck.sim.response);
      rc = cli_input_error("%s", why);
      goto done;
    }
    feat_free(ms.e);
    ms.e = NULL;
    if (feat_new(&ms.e, &sc.fc)) {
      rc = cli_input_error("%s: invalid feature configuration in the sidecar", a->features);
      goto done;
    }
    if (sc.has_mp) feat_set_microprice(ms.e, &sc.mp);
    model_reset(m);
    obi_backtest *one = NULL;
    double t = 0;
    if ((rc = simulate(a, &ck, &ms, &one, &t))) goto done;
    judged jk = {0};
    rc = judge(&ck, &pc, one, &jk, a);
    if (rc) {
      bt_free(one);
      goto done;
    }
    sr[k] = jk.ps.sharpe / sqrt(pc.periods_per_year); /* per period */
    if (a->nsweep && !a->quiet && !a->json)
      printf("threshold %.3f: net PnL %.2f, %lld round trips, Sharpe %.2f\n", ck.strat.threshold, jk.ps.net_pnl,
             (long long)jk.ps.trades, jk.ps.sharpe);
    if (best < 0 || (isfinite(sr[k]) && !(sr[k] <= sr[best])) || !isfinite(sr[best])) {
      bt_free(bt);
      judged_free(&j);
      bt = one, j = jk, best = k, secs = t, cfg.strat.threshold = ck.strat.threshold;
    } else {
      bt_free(one);
      judged_free(&jk);
    }
  }
  if (a->nsweep > 1) { /* the variance of the per-period Sharpe ratios across the thresholds */
    double mean = 0, var = 0;
    int n = 0;
    for (int k = 0; k < runs; k++)
      if (isfinite(sr[k])) mean += sr[k], n++;
    mean = n ? mean / n : 0;
    for (int k = 0; k < runs; k++)
      if (isfinite(sr[k])) var += (sr[k] - mean) * (sr[k] - mean);
    var = n > 1 ? var / (n - 1) : 0;
    j.ps.deflated_sharpe =
        perf_deflated_sharpe(sr[best], (size_t)j.ps.periods, j.ps.skew, j.ps.kurtosis, pc.trials, var);
    sweep_var = var;
  }
  size_t nf, nm;
  const sim_fill *fills = bt_fills(bt, &nf);
  const bt_mark *marks = bt_marks(bt, &nm);
  size_t first_mark = j.first_mark, k = j.k;
  double scale = cfg.sim.price_scale;
  perf_summary ps = j.ps;
  perf_mark *pm = j.pm;
  perf_fill *pf = j.pf;
  double *equity = j.equity, *position = j.position;
  const bt_stats *st = bt_get_stats(bt);
  const sim_stats *ss = sim_get_stats(bt_exchange(bt));
  const obi_risk *risk = bt_risk(bt);
  size_t interventions = risk_log_count(risk);
  if (a->trades && write_trades(a->trades, fills, nf, marks + first_mark, k, scale)) {
    rc = cli_input_error("%s: cannot write: %s", a->trades, strerror(errno));
    goto done;
  }
  if (a->report) {
    report_backtest rb = {.model = a->model_path,
                          .source = a->msg,
                          .summary = &ps,
                          .perf = &pc,
                          .marks = pm,
                          .equity = equity,
                          .position = position,
                          .nmarks = k,
                          .fills = pf,
                          .nfills = nf,
                          .risk = risk,
                          .day_offset_ns = day_offset,
                          .in_sample = cfg.start_ns == INT64_MIN && same_source};
    if (report_write_backtest(a->report, &rb)) {
      rc = cli_input_error("%s: cannot write the report", a->report);
      goto done;
    }
  }
  if (a->json) {
    FILE *o = stdout;
    fprintf(o, "{\"model\":");
    json_str(o, a->model_path);
    fprintf(o, ",\"source\":");
    json_str(o, a->msg);
    fprintf(o, ",");
    fprintf(o, "\"out_of_sample\":%s,\"start_ns\":%lld,", cfg.start_ns == INT64_MIN && same_source ? "false" : "true",
            (long long)(cfg.start_ns == INT64_MIN ? 0 : cfg.start_ns));
    jnum(o, "net_pnl", ps.net_pnl, 0), jnum(o, "gross_pnl", ps.gross_pnl, 0), jnum(o, "fees", ps.fees, 0);
    jnum(o, "extra_costs", ps.extra_costs, 0);
    fprintf(o, "\"trades\":%lld,\"fills\":%lld,\"maker_fills\":%lld,", (long long)ps.trades, (long long)ps.fills,
            (long long)ps.maker_fills);
    jnum(o, "sharpe", ps.sharpe, 0), jnum(o, "sortino", ps.sortino, 0), jnum(o, "sharpe_daily", ps.sharpe_daily, 0);
    jnum(o, "periods_per_year", pc.periods_per_year, 0);
    jnum(o, "max_drawdown", ps.max_drawdown, 0), jnum(o, "max_drawdown_currency", ps.max_drawdown_currency, 0);
    jnum(o, "calmar", ps.calmar, 0), jnum(o, "annual_return", ps.annual_return, 0);
    jnum(o, "win_rate", ps.win_rate, 0), jnum(o, "profit_factor", ps.profit_factor, 0);
    jnum(o, "avg_gross_edge_bps", ps.avg_gross_edge_bps, 0), jnum(o, "avg_net_edge_bps", ps.avg_net_edge_bps, 0);
    jnum(o, "turnover", ps.turnover, 0), jnum(o, "traded_notional", ps.traded_notional, 0);
    jnum(o, "cost_capacity_bps", ps.cost_capacity_bps, 0), jnum(o, "nw_t", ps.nw_t, 0);
    jnum(o, "p_value", ps.p_value, 0), jnum(o, "deflated_sharpe", ps.deflated_sharpe, 0);
    fprintf(o, "\"threshold\":%.10g,", cfg.strat.threshold);
    if (a->nsweep) {
      fprintf(o, "\"sweep_thresholds\":[");
      for (int k = 0; k < a->nsweep; k++) fprintf(o, "%s%.10g", k ? "," : "", a->sweep[k]);
      fprintf(o, "],");
      jnum(o, "sweep_sharpe_variance_per_period", sweep_var, 0);
    }
    fprintf(o, "\"trials\":%d,\"periods\":%lld,\"days\":%lld,", pc.trials, (long long)ps.periods, (long long)ps.days);
    fprintf(o, "\"events\":%llu,\"decisions\":%llu,\"entries\":%llu,\"exits\":%llu,\"blocked_by_risk\":%llu,",
            (unsigned long long)st->events, (unsigned long long)st->decisions, (unsigned long long)st->entries,
            (unsigned long long)st->exits, (unsigned long long)st->blocked_by_risk);
    fprintf(o, "\"orders\":%llu,\"rejected\":%llu,\"unfilled_ioc\":%lld,\"risk_interventions\":%zu,",
            (unsigned long long)ss->orders, (unsigned long long)ss->rejected, (long long)ss->unfilled_ioc,
            interventions);
    jnum(o, "events_per_second", secs > 0 ? (double)st->events / secs : NAN, 1);
    fprintf(o, "}\n");
  } else if (!a->quiet) {
    printf("backtest of %s on %s: %s\n", a->model_path, a->msg,
           cfg.start_ns == INT64_MIN
               ? (same_source ? "IN SAMPLE (--in-sample): the model was trained on part of these rows"
                              : "another source than the model's training file: every row is out of sample")
               : "out of sample: trading starts one label horizon after the training part");
    printf("  %llu events, %llu decisions (%llu while trading), %llu entries, %llu exits, %llu blocked by risk (%.2f M "
           "events/s)\n",
           (unsigned long long)st->events, (unsigned long long)st->decisions, (unsigned long long)st->trading_decisions,
           (unsigned long long)st->entries, (unsigned long long)st->exits, (unsigned long long)st->blocked_by_risk,
           secs > 0 ? (double)st->events / secs / 1e6 : 0.0);
    printf("  net PnL %.2f = gross %.2f - fees %.2f - extra costs %.2f; %lld round trips, %lld fills (%lld maker)\n",
           ps.net_pnl, ps.gross_pnl, ps.fees, ps.extra_costs, (long long)ps.trades, (long long)ps.fills,
           (long long)ps.maker_fills);
    printf("  win rate %.3f, profit factor %.3f, edge per trade %.2f bps gross / %.2f bps net; cost capacity %.2f "
           "bps\n",
           ps.win_rate, ps.profit_factor, ps.avg_gross_edge_bps, ps.avg_net_edge_bps, ps.cost_capacity_bps);
    printf("  Sharpe %.2f (annualised: %.0f %lld-second periods a year), Sortino %.2f, max drawdown %.4f%% of "
           "capital, Calmar %.2f\n",
           ps.sharpe, pc.periods_per_year, (long long)(a->mark_ns / 1000000000LL), ps.sortino, 100 * ps.max_drawdown,
           ps.calmar);
    if (a->nsweep)
      printf("  the best of %d thresholds by Sharpe: %.3f (its deflated Sharpe accounts for the sweep)\n", a->nsweep,
             cfg.strat.threshold);
    printf("  Newey-West t %.2f, bootstrap p-value %.4f, deflated Sharpe %.3f (%d configurations tried)\n", ps.nw_t,
           ps.p_value, ps.deflated_sharpe, pc.trials);
    printf("  risk interventions: %zu\n", interventions);
    for (size_t i = 0; i < interventions && i < 10; i++) {
      const risk_event *e = risk_log_at(risk, i);
      int64_t local = ((e->ts_ns + day_offset) % 86400000000000LL + 86400000000000LL) % 86400000000000LL;
      printf("    %02lld:%02lld:%02lld.%03lld %s: %s\n", (long long)(local / 3600000000000LL),
             (long long)(local / 60000000000LL % 60), (long long)(local / 1000000000LL % 60),
             (long long)(local / 1000000LL % 1000), risk_kind_name(e->kind), e->reason);
    }
  }
  rc = EXIT_OK;
done:
  judged_free(&j);
  bt_free(bt);
  feat_free(ms.e);
  model_free(m);
  return rc;
}

static int cmd_backtest(int argc, char **argv) {
  bt_args a = {.capital = 1e6,
               .session_hours = 6.5,
               .days_per_year = 252,
               .mark_ns = 60000000000LL,
               .trials = 1,
               .seed = 1,
               .lot = 1,
               .venue = -1};
  const char *pos[2];
  int np = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    if (!strcmp(o, "--json"))
      a.json = 1;
    else if (!strcmp(o, "--quiet"))
      a.quiet = 1;
    else if (!strcmp(o, "--in-sample"))
      a.in_sample = 1;
    else if (!strcmp(o, "--model") && v)
      a.model_path = v, i++;
    else if (!strcmp(o, "--features") && v)
      a.features = v, i++;
    else if (!strcmp(o, "--strategy") && v)
      a.strategy = v, i++;
    else if (!strcmp(o, "--risk") && v)
      a.risk = v, i++;
    else if (!strcmp(o, "--trades") && v)
      a.trades = v, i++;
    else if (!strcmp(o, "--report") && v)
      a.report = v, i++;
    else if (!strcmp(o, "--latency") && v)
      a.latency = v, i++;
    else if (!strcmp(o, "--queue") && v)
      a.queue = v, i++;
    else if (!strcmp(o, "--fees") && v) {
      if (sscanf(v, "%lf,%lf", &a.maker_bps, &a.taker_bps) != 2 || !isfinite(a.maker_bps) || !isfinite(a.taker_bps))
        return cli_usage_error(&cmd_backtest_def, "--fees: expected MAKER_BPS,TAKER_BPS (e.g. -0.2,0.3)");
      i++;
    } else if (!strcmp(o, "--extra-cost") && v) {
      a.extra_bps = strtod(v, &end);
      if (*end || !(a.extra_bps >= 0)) return cli_usage_error(&cmd_backtest_def, "--extra-cost: bps >= 0");
      i++;
    } else if (!strcmp(o, "--lot") && v) {
      if (cli_parse_int(v, 1, 1000000000, &a.lot)) return cli_usage_error(&cmd_backtest_def, "--lot: 1..1e9");
      i++;
    } else if (!strcmp(o, "--capital") && v) {
      a.capital = strtod(v, &end);
      if (*end || !(a.capital > 0) || !isfinite(a.capital)) return cli_usage_error(&cmd_backtest_def, "--capital > 0");
      i++;
    } else if (!strcmp(o, "--session-hours") && v) {
      a.session_hours = strtod(v, &end);
      if (*end || !(a.session_hours > 0 && a.session_hours <= 24))
        return cli_usage_error(&cmd_backtest_def, "--session-hours in (0, 24]");
      i++;
    } else if (!strcmp(o, "--days-per-year") && v) {
      a.days_per_year = strtod(v, &end);
      if (*end || !(a.days_per_year > 0 && a.days_per_year <= 366))
        return cli_usage_error(&cmd_backtest_def, "--days-per-year in (0, 366]");
      i++;
    } else if (!strcmp(o, "--clock") && v) {
      long s;
      if (cli_parse_int(v, 1, 86400, &s)) return cli_usage_error(&cmd_backtest_def, "--clock: seconds, 1..86400");
      a.mark_ns = s * 1000000000LL, i++;
    } else if (!strcmp(o, "--sweep-thresholds") && v) {
      char buf[1024];
      snprintf(buf, sizeof buf, "%s", v);
      a.nsweep = 0;
      for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        double x = strtod(t, &end);
        if (*end || !(x > 0 && x <= 1) || a.nsweep == MAX_SWEEP)
          return cli_usage_error(&cmd_backtest_def,
                                 "--sweep-thresholds: up to %d thresholds in (0, 1], comma-separated", MAX_SWEEP);
        a.sweep[a.nsweep++] = x;
      }
      i++;
    } else if (!strcmp(o, "--trials") && v) {
      long t;
      if (cli_parse_int(v, 1, 1000000, &t)) return cli_usage_error(&cmd_backtest_def, "--trials: 1..1000000");
      a.trials = (int)t, i++;
    } else if (!strcmp(o, "--seed") && v) {
      if (cli_parse_int(v, 0, 2147483647, &a.seed)) return cli_usage_error(&cmd_backtest_def, "--seed: 0..2^31-1");
      i++;
    } else if (!strcmp(o, "--symbol") && v) {
      a.symbol = v, i++;
    } else if (!strcmp(o, "--venue") && v) {
      if ((a.venue = cli_parse_venue(v)) < 0) return cli_usage_error(&cmd_backtest_def, "--venue: " CLI_VENUES);
      i++;
    } else if (o[0] != '-' && np < 2)
      pos[np++] = o;
    else
      return cli_usage_error(&cmd_backtest_def, "unknown option or missing value: '%s'", o);
  }
  if (!a.model_path || !a.features || np == 0)
    return cli_usage_error(&cmd_backtest_def,
                           "needs --model MODEL, --features FILE.npy and a LOBSTER MESSAGES BOOK pair or a recording");
  a.msg = pos[0], a.book = np == 2 ? pos[1] : NULL;
  return run_backtest(&a);
}

const cli_command cmd_backtest_def = {
    "backtest", cmd_backtest, "trade a model on a replayed source through the simulated exchange",
    "usage: obi backtest --model MODEL --features TRAIN.npy MESSAGES ORDERBOOK | WS_RECORDING [REST] [--symbol S]\n"
    "                    [--venue NAME]\n"
    "                    [--strategy FILE.json] [--risk FILE.json] [--fees MAKER_BPS,TAKER_BPS]\n"
    "                    [--extra-cost BPS] [--lot N]\n"
    "                    [--latency feed=D,entry=D,response=D] [--queue trades|linear|power:N]\n"
    "                    [--capital X] [--clock SECONDS] [--session-hours H] [--days-per-year N]\n"
    "                    [--sweep-thresholds LIST] [--trials N] [--seed N] [--in-sample]\n"
    "                    [--trades FILE.csv] [--report FILE.html]\n"
    "                    [--json] [--quiet]\n\n"
    "Replays the source event by event; the model predicts on the rows of its training features'\n"
    "clock (TRAIN.npy's sidecar gives the feature configuration, micro-price and sampling), the\n"
    "strategy trades on p(up) - p(down), the risk manager checks every order, and the simulated\n"
    "exchange fills orders against the replayed book with latency, queue position and fees\n"
    "(docs/backtest.md). When the source is the one TRAIN.npy was made from, only rows after its\n"
    "training part and one label horizon trade, unless --in-sample.\n\n"
    "Latency D: 250us, 1ms, uniform:LO:HI, exp:MEAN, lognormal:MEDIAN:SIGMA, file:PATH (CSV of\n"
    "time_ns,latency_ns). Strategy JSON: {\"threshold\": 0.3, \"size\": 100, \"entry\": \"taker\"|\"maker\",\n"
    "\"maker_timeout\": \"1s\", \"hold\": 50 | \"2s\", \"exit_on_flip\": true, \"allow_short\": true};\n"
    "hold defaults to the label horizon of TRAIN.npy. Risk JSON (docs/risk.md): {\"capital\": 1e6,\n"
    "\"max_position\": 500, \"max_notional\": 2e5, \"concentration\": 0.2, \"daily_drawdown\": 0.1,\n"
    "\"vol_ratio\": 3, \"vol_sample_s\": 1, \"vol_short\": 60, \"vol_long\": 1800, \"stale_s\": 0}.\n"
    "Sharpe is annualised with the periods of --clock (default 60 s) in --session-hours (6.5) x\n"
    "--days-per-year (252). --trials N: the configurations tried, for the deflated Sharpe ratio.\n"
    "--sweep-thresholds 0.2,0.3,0.4 runs one backtest per threshold and reports the best by Sharpe,\n"
    "its Sharpe ratio deflated by the number of thresholds and the variance of their Sharpe\n"
    "ratios. --trades writes every fill (and the marks to FILE.marks.csv) so that every statistic\n"
    "can be recomputed by hand.\n"};
