/* report.c — the HTML page of `obi eval --html`: one self-contained file (no scripts, no
 * network) with the numbers as tables and the plots as inline SVG drawn here — the confusion
 * matrix, the reliability diagram, macro-F1 of the model beside its baselines, per-class F1,
 * and for trees the feature importance. */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
}

/* The page's head (title "<kind>: <model>", the shared style) and its heading; the body follows. */
static void page_start(FILE *f, const char *kind, const char *model, const char *heading) {
  fprintf(f, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s: ", kind);
  esc(f, model);
  fprintf(f,
          "</title>\n<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1000px}"
          "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}"
          "td:first-child,th:first-child{text-align:left}svg text{font:12px system-ui,sans-serif}"
          "section{margin:1.5em 0}</style></head><body>\n<h1>%s</h1>\n",
          heading);
}

static const char *const cls[3] = {"down", "stationary", "up"};

/* A heat map of counts, shaded by each true class's share (rows sum to one). */
static void confusion_svg(FILE *f, const metrics *m) {
  const int cell = 70, left = 110, top = 40;
  fprintf(f, "<svg class=\"confusion\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"confusion matrix\">\n",
          left + 3 * cell + 20, top + 3 * cell + 40);
  for (int p = 0; p < 3; p++)
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", left + p * cell + cell / 2, top - 8,
            cls[p]);
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">predicted</text>\n", left + 3 * cell / 2,
          top + 3 * cell + 25);
  for (int t = 0; t < 3; t++) {
    int64_t row = m->confusion[t][0] + m->confusion[t][1] + m->confusion[t][2];
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">true %s</text>\n", left - 8, top + t * cell + cell / 2 + 5,
            cls[t]);
    for (int p = 0; p < 3; p++) {
      double share = row ? (double)m->confusion[t][p] / (double)row : 0;
      fprintf(f,
              "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" stroke=\"#fff\"/>"
              "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%lld</text>\n",
              left + p * cell, top + t * cell, cell, cell, (int)(255 - 200 * share), (int)(255 - 150 * share), 255,
              left + p * cell + cell / 2, top + t * cell + cell / 2 + 5, share > 0.5 ? "#fff" : "#000",
              (long long)m->confusion[t][p]);
    }
  }
  fputs("</svg>\n", f);
}

/* Accuracy against confidence per bin, the diagonal being perfect calibration; the area of
 * each point grows with its bin's count. */
static void reliability_svg(FILE *f, const metrics *m) {
  const int W = 300, pad = 40;
  int64_t most = 1;
  for (int b = 0; b < 10; b++)
    if (m->calib_n[b] > most) most = m->calib_n[b];
  fprintf(f, "<svg class=\"reliability\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"reliability\">\n",
          W + 2 * pad, W + 2 * pad);
  fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n", pad, pad, W, W);
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\" stroke-dasharray=\"4\"/>\n", pad, pad + W,
          pad + W, pad);
  for (int t = 0; t <= 4; t++) {
    double v = t / 4.0;
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.2f</text>", pad + (int)(v * W), pad + W + 15, v);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.2f</text>\n", pad - 4, pad + W - (int)(v * W) + 4, v);
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">predicted probability of the chosen class</text>\n",
          pad + W / 2, pad + W + 32);
  fprintf(f, "<text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" text-anchor=\"middle\">accuracy</text>\n",
          pad + W / 2, pad + W / 2);
  for (int b = 0; b < 10; b++) {
    if (!m->calib_n[b]) continue;
    double r = 3 + 9 * sqrt((double)m->calib_n[b] / (double)most);
    fprintf(f,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"#3366cc\" fill-opacity=\"0.7\"><title>%lld windows: "
            "confidence %.3f, accuracy %.3f</title></circle>\n",
            pad + m->calib_confidence[b] * W, pad + W - m->calib_accuracy[b] * W, r, (long long)m->calib_n[b],
            m->calib_confidence[b], m->calib_accuracy[b]);
  }
  fputs("</svg>\n", f);
}

/* Horizontal bars of values in [0, max], one per label; err_lo/err_hi draw an interval. */
static void bars_svg(FILE *f, const char *cls_name, const char *const *labels, const double *v, int n, double max,
                     const double *err_lo, const double *err_hi) {
  const int bar = 22, left = 260, W = 320;
  if (!(max > 0)) max = 1;
  fprintf(f, "<svg class=\"%s\" width=\"%d\" height=\"%d\" role=\"img\">\n", cls_name, left + W + 70,
          n * (bar + 6) + 10);
  for (int i = 0; i < n; i++) {
    int y = 5 + i * (bar + 6);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8, y + bar - 6);
    esc(f, labels[i]);
    fprintf(f,
            "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>"
            "<text x=\"%.1f\" y=\"%d\">%.4g</text>\n",
            left, y, fmax(0, v[i]) / max * W, bar, i == 0 ? "#3366cc" : "#aaa",
            left + fmax(fmax(0, v[i]), err_hi ? err_hi[i] : 0) / max * W + 4, y + bar - 6, v[i]);
    if (err_lo && err_hi && err_hi[i] > err_lo[i])
      fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#000\" stroke-width=\"2\"/>\n",
              left + err_lo[i] / max * W, left + err_hi[i] / max * W, y + bar / 2, y + bar / 2);
  }
  fputs("</svg>\n", f);
}

int report_write_eval(const char *path, const report_eval *r) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  page_start(f, "obi eval", r->model, "obi eval");
  fputs("<p>model <b>", f);
  esc(f, r->model);
  fputs("</b> on <b>", f);
  esc(f, r->data);
  fprintf(f, "</b>, label <b>");
  esc(f, r->label);
  fprintf(f, "</b>: %lld windows from row %lld. Majority-class accuracy of these rows: %.4f.</p>\n", (long long)r->n,
          (long long)r->rows_from, r->met->majority_accuracy);

  fputs("<section><h2>Model and baselines</h2>\n<table class=\"scores\"><tr><th></th><th>accuracy</th><th>macro-F1"
        "</th><th>MCC</th><th>kappa</th><th>log-loss</th><th>Brier</th></tr>\n",
        f);
  fputs("<tr><td>model</td>", f);
  fprintf(f, "<td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td></tr>\n", r->met->accuracy,
          r->met->macro_f1, r->met->mcc, r->met->kappa, r->met->log_loss, r->met->brier);
  for (int b = 0; b < r->nbase; b++) {
    fputs("<tr><td>", f);
    esc(f, r->base_names[b]);
    const metrics *m = &r->base[b];
    fprintf(f, "</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td></tr>\n",
            m->accuracy, m->macro_f1, m->mcc, m->kappa, m->log_loss, m->brier);
  }
  fprintf(f, "</table>\n<p>macro-F1 95%% interval (moving-block bootstrap): [%.4f, %.4f].", r->ci_lo, r->ci_hi);
  if (r->vs_best) {
    fputs(" Against ", f);
    esc(f, r->vs_best);
    fprintf(f,
            ": Diebold–Mariano on log-loss %+.3f (p %.3g; negative means the model's loss is lower), McNemar %.3f "
            "(p %.3g; %lld windows only the model got right, %lld only the baseline).",
            r->dm, r->dm_p, r->mcnemar, r->mcnemar_p, (long long)r->only_model, (long long)r->only_base);
  }
  fputs("</p>\n", f);
  const char *labels[4] = {"model"};
  double f1[4] = {r->met->macro_f1}, lo[4] = {r->ci_lo}, hi[4] = {r->ci_hi};
  for (int b = 0; b < r->nbase && b < 3; b++) labels[b + 1] = r->base_names[b], f1[b + 1] = r->base[b].macro_f1;
  for (int b = 1; b < 4; b++) lo[b] = hi[b] = 0;
  bars_svg(f, "macro-f1", labels, f1, 1 + (r->nbase < 3 ? r->nbase : 3), 1.0, lo, hi);
  fputs("</section>\n", f);

  fputs("<section><h2>Confusion matrix</h2>\n", f);
  confusion_svg(f, r->met);
  fputs("<table class=\"per-class\"><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th></tr>\n", f);
  for (int k = 0; k < 3; k++)
    fprintf(f, "<tr><td>%s</td><td>%.4f</td><td>%.4f</td><td>%.4f</td></tr>\n", cls[k], r->met->precision[k],
            r->met->recall[k], r->met->f1[k]);
  fputs("</table></section>\n", f);

  fputs("<section><h2>Calibration</h2>\n<p>Windows binned by the predicted probability of the class the model "
        "chose; a calibrated model's points lie on the diagonal.</p>\n",
        f);
  reliability_svg(f, r->met);
  fputs("</section>\n", f);

  if (r->importance && r->nfeat > 0) {
    int order[64], shown = 0;
    int used[1024] = {0};
    for (; shown < 15 && shown < r->nfeat && shown < 64; shown++) {
      int best = -1;
      for (int c = 0; c < r->nfeat && c < 1024; c++)
        if (!used[c] && (best < 0 || r->importance[c] > r->importance[best])) best = c;
      used[best] = 1, order[shown] = best;
    }
    const char *names[64];
    double v[64];
    for (int i = 0; i < shown; i++) names[i] = r->feature_names[order[i]], v[i] = r->importance[order[i]];
    fputs("<section><h2>Feature importance</h2>\n<p>Total gain of the trees' splits on each feature (the 15 largest)."
          "</p>\n",
          f);
    bars_svg(f, "importance", names, v, shown, shown ? v[0] : 1, NULL, NULL);
    fputs("</section>\n", f);
  }
  fputs("</body></html>\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

/* Grouped vertical bars: for each group (a label) the model's mean with its sd as a whisker,
 * then the baselines' means. */
static void by_label_svg(FILE *f, const report_wf *runs, int n) {
  static const char *const names[4] = {"model (mean ± sd over folds)", "training frequencies", "persistence",
                                       "OFI logistic"};
  static const char *const colours[4] = {"#3366cc", "#ccc", "#999", "#e08a2c"};
  const int bw = 22, gap = 30, H = 220, top = 20, left = 50;
  int groups_w = n * (4 * bw + gap), width = left + (groups_w > 540 ? groups_w : 540) + 20;
  fprintf(f, "<svg class=\"by-label\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"macro-F1 by horizon\">\n",
          width, top + H + 90);
  for (int t = 0; t <= 5; t++) {
    double v = t * 0.1;
    int y = top + H - (int)(v / 0.5 * H);
    fprintf(f,
            "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#eee\"/><text x=\"%d\" y=\"%d\" "
            "text-anchor=\"end\">%.1f</text>\n",
            left, left + groups_w, y, y, left - 4, y + 4, v);
  }
  for (int g = 0; g < n; g++) {
    const report_wf *r = &runs[g];
    double v[4] = {r->f1_mean, -1, -1, -1};
    for (int b = 0; b < 3; b++) {
      double s = 0;
      int k = 0;
      for (int i = 0; i < r->nf; i++)
        if (r->folds[i].has[b]) s += r->folds[i].baseline[b].macro_f1, k++;
      if (k) v[b + 1] = s / k;
    }
    int x0 = left + g * (4 * bw + gap) + gap / 2;
    for (int b = 0; b < 4; b++) {
      if (v[b] < 0) continue;
      double h = fmin(v[b], 0.5) / 0.5 * H;
      fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>%s: %.4f</title></rect>\n",
              x0 + b * bw, top + H - h, bw - 2, h, colours[b], names[b], v[b]);
    }
    double lo = fmax(0, r->f1_mean - r->f1_sd), hi = fmin(0.5, r->f1_mean + r->f1_sd);
    fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" stroke-width=\"2\"/>\n",
            x0 + bw / 2 - 1, x0 + bw / 2 - 1, top + H - lo / 0.5 * H, top + H - hi / 0.5 * H);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x0 + 2 * bw, top + H + 16);
    esc(f, r->label);
    fputs("</text>\n", f);
  }
  for (int b = 0; b < 4; b++)
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
            left + (b % 2) * 260, top + H + 32 + (b / 2) * 18, colours[b], left + (b % 2) * 260 + 16,
            top + H + 43 + (b / 2) * 18, names[b]);
  fputs("</svg>\n", f);
}

int report_write_walk_forward(const char *path, const char *model, const char *data, const report_wf *runs, int n) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  page_start(f, "obi walk-forward", model, "obi eval --walk-forward");
  fputs("<p>fresh <b>", f);
  esc(f, model);
  fputs("</b> models on <b>", f);
  esc(f, data);
  fputs("</b>: expanding chronological folds, normalisation fitted on each fold's training rows, a purge gap of the "
        "label's reach before each test block; baselines fitted on the same training rows.</p>\n",
        f);
  fputs("<section><h2>Macro-F1 by horizon</h2>\n", f);
  by_label_svg(f, runs, n);
  fputs("</section>\n", f);
  static const char *const bnames[3] = {"training frequencies", "persistence", "OFI logistic"};
  for (int g = 0; g < n; g++) {
    const report_wf *r = &runs[g];
    fputs("<section><h2>", f);
    esc(f, r->label);
    fprintf(f, "</h2>\n<p>%d folds, purge %lld rows, %lld test windows; macro-F1 %.4f ± %.4f.</p>\n", r->nf,
            (long long)r->purge, (long long)r->test_windows, r->f1_mean, r->f1_sd);
    const char *labels[64];
    double v[64];
    char names[64][24];
    for (int i = 0; i < r->nf && i < 64; i++) {
      snprintf(names[i], sizeof names[i], "fold %d", r->folds[i].fold);
      labels[i] = names[i], v[i] = r->folds[i].model.macro_f1;
    }
    bars_svg(f, "folds", labels, v, r->nf, 1.0, NULL, NULL);
    fputs("<table class=\"folds\"><tr><th>fold</th><th>training rows</th><th>test rows</th><th>windows</th>"
          "<th>accuracy</th><th>macro-F1</th><th>MCC</th><th>log-loss</th>",
          f);
    for (int b = 0; b < 3; b++) fprintf(f, "<th>%s F1</th>", bnames[b]);
    fputs("</tr>\n", f);
    for (int i = 0; i < r->nf; i++) {
      const report_fold *w = &r->folds[i];
      fprintf(f,
              "<tr><td>%d</td><td>%lld</td><td>%lld–%lld</td><td>%lld</td><td>%.4f</td><td>%.4f</td><td>%.4f</td>"
              "<td>%.4f</td>",
              w->fold, (long long)w->train_rows, (long long)w->test_from, (long long)w->test_to - 1, (long long)w->n,
              w->model.accuracy, w->model.macro_f1, w->model.mcc, w->model.log_loss);
      for (int b = 0; b < 3; b++)
        if (w->has[b])
          fprintf(f, "<td>%.4f</td>", w->baseline[b].macro_f1);
        else
          fputs("<td>–</td>", f);
      fputs("</tr>\n", f);
    }
    fputs("</table></section>\n", f);
  }
  fputs("</body></html>\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

/* ---- the backtest page ---- */

/* A time series as a polyline (step: held until the next point), the zero line, the y range,
 * hours of the day along x, and vertical marks at the given times (risk interventions). */
static void series_svg(FILE *f, const char *cls_name, const char *y_label, const perf_mark *t, const double *y,
                       size_t n, int step, int64_t day_offset_ns, const int64_t *marks_at, size_t nmarks) {
  const int W = 900, H = 220, L = 70, T = 10, B = 30;
  double lo = 0, hi = 0;
  for (size_t i = 0; i < n; i++) lo = fmin(lo, y[i]), hi = fmax(hi, y[i]);
  if (hi - lo < 1e-12) hi = lo + 1;
  double t0 = (double)t[0].ts_ns, t1 = (double)t[n - 1].ts_ns;
  if (t1 <= t0) t1 = t0 + 1;
#define SX(v) (L + ((double)(v)-t0) / (t1 - t0) * W)
#define SY(v) (T + (hi - (v)) / (hi - lo) * H)
  fprintf(f, "<svg class=\"%s\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">\n", cls_name, L + W + 20,
          T + H + B, y_label);
  fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#ccc\"/>\n", L, T, W, H);
  fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"3\"/>\n", L, L + W,
          SY(0), SY(0));
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text><text x=\"%d\" y=\"%d\" "
          "text-anchor=\"end\">%.4g</text>\n",
          L - 4, T + 10, hi, L - 4, T + H, lo);
  fprintf(f, "<text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" text-anchor=\"middle\">%s</text>\n", T + H / 2,
          T + H / 2, y_label);
  const int64_t hour = 3600000000000LL;
  for (int64_t h = ((t[0].ts_ns + day_offset_ns) / hour + 1) * hour - day_offset_ns; h <= t[n - 1].ts_ns; h += hour)
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%02lld:00</text>\n", SX(h), T + H + 18,
            (long long)(((h + day_offset_ns) / hour) % 24));
  for (size_t i = 0; i < nmarks; i++)
    if (marks_at[i] >= t[0].ts_ns && marks_at[i] <= t[n - 1].ts_ns)
      fprintf(f, "<line class=\"intervention\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#d33\"/>\n",
              SX(marks_at[i]), SX(marks_at[i]), T, T + H);
  fputs("<polyline fill=\"none\" stroke=\"#3366cc\" stroke-width=\"1.5\" points=\"", f);
  for (size_t i = 0; i < n; i++) {
    if (step && i) fprintf(f, "%.1f,%.1f ", SX(t[i].ts_ns), SY(y[i - 1]));
    fprintf(f, "%.1f,%.1f ", SX(t[i].ts_ns), SY(y[i]));
  }
  fputs("\"/>\n</svg>\n", f);
#undef SX
#undef SY
}

/* Vertical bars with labels under them; negative values hang below the zero line. */
static void columns_svg(FILE *f, const char *cls_name, const char *const *labels, const double *v, int n,
                        int signed_colors) {
  const int H = 200, T = 10, L = 70, w = n > 30 ? 18 : 34;
  double lo = 0, hi = 0;
  for (int i = 0; i < n; i++) lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
  if (hi - lo < 1e-12) hi = lo + 1;
  double zero = T + hi / (hi - lo) * H;
  fprintf(f, "<svg class=\"%s\" width=\"%d\" height=\"%d\" role=\"img\">\n", cls_name, L + n * (w + 4) + 20,
          T + H + 40);
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text><text x=\"%d\" y=\"%d\" "
          "text-anchor=\"end\">%.4g</text>\n",
          L - 4, T + 10, hi, L - 4, T + H, lo);
  for (int i = 0; i < n; i++) {
    double y = T + (hi - fmax(v[i], 0)) / (hi - lo) * H, h = fabs(v[i]) / (hi - lo) * H;
    int x = L + i * (w + 4);
    fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>", x, y, w, h,
            !signed_colors ? "#3366cc"
            : v[i] >= 0    ? "#3a3"
                           : "#c33");
    esc(f, labels[i]);
    fprintf(f, ": %.6g</title></rect>\n", v[i]);
    if (n <= 12 || i % ((n + 9) / 10) == 0) {
      fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x + w / 2, T + H + 16);
      esc(f, labels[i]);
      fputs("</text>\n", f);
    }
  }
  fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#666\"/>\n</svg>\n", L, L + n * (w + 4), zero,
          zero);
}

static void stat_row(FILE *f, const char *name, double v, const char *unit) {
  fprintf(f, "<tr><td>%s</td><td>", name);
  if (isfinite(v))
    fprintf(f, "%.6g", v);
  else
    fputs(isnan(v) ? "–" : (v > 0 ? "∞" : "−∞"), f);
  fprintf(f, "</td><td>%s</td></tr>\n", unit);
}

int report_write_backtest(const char *path, const report_backtest *r) {
  if (r->nmarks < 2) return -1;
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  const perf_summary *s = r->summary;
  page_start(f, "obi backtest", r->model, "obi backtest");
  fputs("<p>Model <code>", f);
  esc(f, r->model);
  fputs("</code> on <code>", f);
  esc(f, r->source);
  fprintf(f, "</code>: %s. Capital %.0f; Sharpe annualised with %.0f periods a year.</p>\n",
          r->in_sample ? "<strong>IN SAMPLE</strong> (the model was trained on part of these rows)" : "out of sample",
          r->perf->capital, r->perf->periods_per_year);
  fputs("<section><h2>Summary</h2><table><tr><th>statistic</th><th>value</th><th></th></tr>\n", f);
  stat_row(f, "net PnL", s->net_pnl, "currency");
  stat_row(f, "gross PnL", s->gross_pnl, "currency");
  stat_row(f, "fees", s->fees, "currency");
  stat_row(f, "extra costs", s->extra_costs, "currency");
  stat_row(f, "round trips", (double)s->trades, "");
  stat_row(f, "fills", (double)s->fills, "");
  stat_row(f, "win rate", s->win_rate, "");
  stat_row(f, "profit factor", s->profit_factor, "");
  stat_row(f, "average gross edge", s->avg_gross_edge_bps, "bps per trade");
  stat_row(f, "average net edge", s->avg_net_edge_bps, "bps per trade");
  stat_row(f, "cost capacity", s->cost_capacity_bps, "bps per fill");
  stat_row(f, "turnover", s->turnover, "× capital");
  stat_row(f, "Sharpe (annualised)", s->sharpe, "");
  stat_row(f, "Sortino (annualised)", s->sortino, "");
  stat_row(f, "maximum drawdown", 100 * s->max_drawdown, "% of capital");
  stat_row(f, "Calmar", s->calmar, "");
  stat_row(f, "Newey–West t of the mean return", s->nw_t, "");
  stat_row(f, "bootstrap p-value (mean ≤ 0)", s->p_value, "");
  stat_row(f, "deflated Sharpe (probability)", s->deflated_sharpe, "");
  fputs("</table></section>\n", f);

  size_t nlog = risk_log_count(r->risk);
  int64_t *at = malloc((nlog ? nlog : 1) * sizeof *at);
  for (size_t i = 0; at && i < nlog; i++) at[i] = risk_log_at(r->risk, i)->ts_ns;
  double *dd = malloc(r->nmarks * sizeof *dd);
  if (!at || !dd) {
    free(at), free(dd), fclose(f);
    return -1;
  }
  double peak = r->equity[0];
  for (size_t i = 0; i < r->nmarks; i++) peak = fmax(peak, r->equity[i]), dd[i] = r->equity[i] - peak;
  double *pnl = malloc(r->nmarks * sizeof *pnl);
  if (!pnl) {
    free(at), free(dd), fclose(f);
    return -1;
  }
  for (size_t i = 0; i < r->nmarks; i++) pnl[i] = r->equity[i] - r->perf->capital;
  fputs("<section><h2>Equity</h2><p>Net PnL (currency, fees and costs paid) at each mark; red lines: risk "
        "interventions.</p>\n",
        f);
  series_svg(f, "equity", "net PnL", r->marks, pnl, r->nmarks, 0, r->day_offset_ns, at, at ? nlog : 0);
  free(pnl);
  fputs("</section><section><h2>Drawdown</h2>\n", f);
  series_svg(f, "drawdown", "drawdown", r->marks, dd, r->nmarks, 0, r->day_offset_ns, NULL, 0);
  fputs("</section><section><h2>Position</h2>\n", f);
  series_svg(f, "position", "position", r->marks, r->position, r->nmarks, 1, r->day_offset_ns, NULL, 0);
  fputs("</section>\n", f);
  free(dd);

  perf_trip *trips = malloc((r->nfills ? r->nfills : 1) * sizeof *trips);
  size_t nt = 0;
  if (trips && perf_round_trips(r->fills, r->nfills, r->perf->extra_cost_bps, trips, &nt) == OBI_OK && nt) {
    double lo = trips[0].net_pnl, hi = lo;
    for (size_t i = 0; i < nt; i++) lo = fmin(lo, trips[i].net_pnl), hi = fmax(hi, trips[i].net_pnl);
    enum { BINS = 20 };
    double counts[BINS] = {0}, width = (hi - lo) / BINS;
    for (size_t i = 0; i < nt; i++) {
      int b = width > 0 ? (int)((trips[i].net_pnl - lo) / width) : 0;
      counts[b >= BINS ? BINS - 1 : b]++;
    }
    char lab[BINS][32];
    const char *labels[BINS];
    for (int b = 0; b < BINS; b++) snprintf(lab[b], sizeof lab[b], "%.3g", lo + (b + 0.5) * width), labels[b] = lab[b];
    fprintf(f,
            "<section><h2>Round-trip PnL</h2><p>%zu round trips by net PnL (currency), in %d bins from %.4g to "
            "%.4g.</p>\n",
            nt, BINS, lo, hi);
    columns_svg(f, "trip-pnl", labels, counts, BINS, 0);
    double by_hour[24] = {0};
    int used[24] = {0}, first = 24, last = -1;
    for (size_t i = 0; i < nt; i++) {
      int h = (int)(((trips[i].close_ts + r->day_offset_ns) / 3600000000000LL) % 24);
      by_hour[h] += trips[i].net_pnl, used[h] = 1;
      first = h < first ? h : first, last = h > last ? h : last;
    }
    char hl[24][8];
    const char *hlabels[24];
    int nh = 0;
    double hv[24];
    for (int h = first; h <= last; h++) {
      snprintf(hl[nh], sizeof hl[nh], "%02d h", h);
      hlabels[nh] = hl[nh], hv[nh] = used[h] ? by_hour[h] : 0, nh++;
    }
    fputs("</section><section><h2>PnL by time of day</h2><p>Net PnL of round trips by the hour they closed "
          "(exchange time).</p>\n",
          f);
    columns_svg(f, "pnl-by-hour", hlabels, hv, nh, 1);
    fputs("</section>\n", f);
  }
  free(trips);
  fprintf(f,
          "<section><h2>Risk interventions</h2><p>%zu logged.</p><table><tr><th>time</th><th>kind</th>"
          "<th>reason</th></tr>\n",
          nlog);
  for (size_t i = 0; i < nlog && i < 500; i++) {
    const risk_event *e = risk_log_at(r->risk, i);
    int64_t local = ((e->ts_ns + r->day_offset_ns) % 86400000000000LL + 86400000000000LL) % 86400000000000LL;
    fprintf(f, "<tr><td>%02lld:%02lld:%02lld.%03lld</td><td>%s</td><td>", (long long)(local / 3600000000000LL),
            (long long)(local / 60000000000LL % 60), (long long)(local / 1000000000LL % 60),
            (long long)(local / 1000000LL % 1000), risk_kind_name(e->kind));
    esc(f, e->reason);
    fputs("</td></tr>\n", f);
  }
  fputs("</table></section>\n</body></html>\n", f);
  free(at);
  return fclose(f) == 0 ? 0 : -1;
}
