/* cmd_train.c — `obi train`: fits a model on the training part of a feature file (its last
 * part for validation and early stopping), prints each epoch, saves the model. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "obi/train.h"

typedef struct {
  cli_progress progress;
  int quiet, json;
} train_ui;

static void on_progress(void *ctx, int epoch, int64_t step, int64_t steps, const epoch_report *r) {
  train_ui *ui = ctx;
  if (!r) {
    char label[32];
    snprintf(label, sizeof label, "epoch %d", epoch);
    ui->progress.label = label;
    cli_progress_update(&ui->progress, (double)step / (double)steps, (uint64_t)step);
    return;
  }
  cli_progress_done(&ui->progress);
  if (!ui->quiet && !ui->json)
    printf("epoch %3d  train loss %.4f  val loss %.4f  val accuracy %.4f  val macro-F1 %.4f  lr %.2e  %.1f s\n",
           r->epoch, r->train_loss, r->val_loss, r->val_accuracy, r->val_macro_f1, r->lr, r->seconds);
}

static int cmd_train(int argc, char **argv) {
  const char *kind_name = NULL, *data = NULL, *out = NULL, *config = NULL, *label = NULL;
  int json = 0, quiet = 0;
  long epochs = 0, seed = -1;
  fi2010_opts fi = {.horizon = 10};
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int took = cli_fi2010_option(&fi, argc, argv, &i, "train");
    if (took < 0) return EXIT_USAGE;
    if (took) continue;
    if (!strcmp(o, "--json"))
      json = 1;
    else if (!strcmp(o, "--quiet") || !strcmp(o, "-q"))
      quiet = 1;
    else if (!strcmp(o, "--model") && v)
      kind_name = v, i++;
    else if (!strcmp(o, "--data") && v)
      data = v, i++;
    else if (!strcmp(o, "--out") && v)
      out = v, i++;
    else if (!strcmp(o, "--config") && v)
      config = v, i++;
    else if (!strcmp(o, "--label") && v)
      label = v, i++;
    else if (!strcmp(o, "--epochs") && v) {
      if (cli_parse_int(v, 1, 10000, &epochs)) return cli_usage_error(&cmd_train_def, "--epochs: 1 to 10000");
      i++;
    } else if (!strcmp(o, "--seed") && v) {
      if (cli_parse_int(v, 0, 2147483647, &seed)) return cli_usage_error(&cmd_train_def, "--seed: a number >= 0");
      i++;
    } else
      return cli_usage_error(&cmd_train_def, "unknown option or missing value: '%s'", o);
  }
  if (!kind_name || (!data == !fi.n) || !out)
    return cli_usage_error(&cmd_train_def, "needs --model NAME, --data FILE or --fi2010 FILE..., and --out FILE");
  int kind = model_kind_from_name(kind_name);
  if (kind < 0)
    return cli_usage_error(&cmd_train_def,
                           "unknown model '%s' (logistic, lstm, attn_lstm, transformer, deeplob, bayes, xgb, ensemble)",
                           kind_name);
  model_config cfg;
  if (cli_model_config(&cfg, (model_kind)kind, config)) return EXIT_BAD_INPUT;
  char why[1024];
  if (epochs && cfg.kind == MODEL_ENSEMBLE)
    return cli_usage_error(&cmd_train_def, "--epochs does not apply to the ensemble: its bases train with their "
                                           "kinds' defaults (bases, stack, ens_folds, window and seed are its keys)");
  if (epochs) cfg.epochs = (int)epochs;
  if (seed >= 0) cfg.seed = (uint64_t)seed;
  dataset d;
  int bad = fi.n ? dataset_load_fi2010(&d, fi.files, fi.n, (int)fi.horizon, fi.all_features, 1.0, why, sizeof why)
                 : dataset_load(&d, data, label, why, sizeof why);
  if (bad) {
    dataset_free(&d);
    return cli_input_error("%s", why);
  }
  if (!data) data = fi.files[0];
  obi_model *m;
  if (model_new(&m, &cfg, d.C, d.names, d.mean, d.std)) {
    dataset_free(&d);
    return cli_input_error("%s: cannot build a %s model for %d features", data, kind_name, d.C);
  }
  train_data td = {d.X, d.y, d.rows, d.C, d.train_end, d.purge, d.seg_starts, d.nseg};
  train_ui ui = {.quiet = quiet, .json = json};
  cli_progress_start(&ui.progress, "train", quiet || json);
  if (!quiet && !json && cfg.kind == MODEL_ENSEMBLE)
    printf("training an ensemble of %s (%s) on %s, label %s: %lld training rows, purge %lld\n", cfg.bases,
           cfg.stack ? "stacked: out-of-fold predictions, then a logistic meta-learner" : "the plain average", data,
           d.label, (long long)d.train_end, (long long)d.purge);
  else if (!quiet && !json)
    printf("training %s (%zu parameters) on %s, label %s: %lld training rows, purge %lld\n", kind_name,
           model_param_count(m), data, d.label, (long long)d.train_end, (long long)d.purge);
  train_result *res = calloc(1, sizeof *res);
  obi_err err = model_fit(m, &td, on_progress, &ui, res);
  int rc = EXIT_OK;
  if (err == OBI_EINVAL) {
    rc = cli_input_error("%s: too few rows for training and validation windows (window %d, batch %d)", data, cfg.window,
                         cfg.batch);
  } else if (err) {
    rc = cli_input_error("training failed: %s", obi_strerror(err));
  } else if ((err = model_save(m, out))) {
    rc = cli_input_error("%s: cannot write the model: %s", out, obi_strerror(err));
  } else if (json) {
    printf("{\"model\":\"%s\",\"out\":\"%s\",\"parameters\":%zu,\"label\":\"%s\",\"train_windows\":%lld,"
           "\"val_windows\":%lld,\"epochs_run\":%d,\"best_epoch\":%d,\"best_val_macro_f1\":%.6f,"
           "\"windows_per_second\":%.1f,\"history\":[",
           kind_name, out, model_param_count(m), d.label, (long long)res->train_windows, (long long)res->val_windows,
           res->epochs_run, res->best_epoch, res->best_val_macro_f1, res->windows_per_second);
    for (int e = 0; e < res->epochs_run && e < 1000; e++) {
      const epoch_report *r = &res->history[e];
      printf("%s{\"epoch\":%d,\"train_loss\":%.6f,\"val_loss\":%.6f,\"val_accuracy\":%.6f,\"val_macro_f1\":%.6f}",
             e ? "," : "", r->epoch, r->train_loss, r->val_loss, r->val_accuracy, r->val_macro_f1);
    }
    printf("]}\n");
  } else if (!quiet) {
    if (cfg.kind == MODEL_ENSEMBLE)
      printf("%s (validation macro-F1 %.4f); saved %s and its %s beside it\n",
             cfg.stack ? "meta-learner fitted" : "bases fitted", res->best_val_macro_f1, out, "base models");
    else
      printf("best epoch %d (validation macro-F1 %.4f); %.0f training windows/s; saved %s\n", res->best_epoch,
             res->best_val_macro_f1, res->windows_per_second, out);
    double gain[MODEL_MAX_FEATURES];
    if (model_xgb_importance(m, gain) == OBI_OK) { /* the ten largest by total gain */
      printf("feature importance (total gain):");
      for (int shown = 0; shown < 10 && shown < d.C; shown++) {
        int best = -1;
        for (int c = 0; c < d.C; c++)
          if (gain[c] >= 0 && (best < 0 || gain[c] > gain[best])) best = c;
        printf("%s %s %.0f", shown ? "," : "", d.names[best], gain[best]);
        gain[best] = -1;
      }
      printf("\n");
    }
  }
  free(res);
  model_free(m);
  dataset_free(&d);
  return rc;
}

const cli_command cmd_train_def = {
    "train", cmd_train, "train a forecasting model on a feature file",
    "usage: obi train --model logistic|lstm|attn_lstm|transformer|deeplob|bayes|xgb|ensemble --data FEATURES.npy --out "
    "MODEL.safetensors\n"
    "                 [--config FILE.json] [--label NAME] [--epochs N] [--seed N] [--json] [--quiet]\n"
    "       obi train --model NAME --fi2010 FILE... --horizon 10|20|30|50|100 [--fi2010-all-features] --out MODEL\n"
    "\n"
    "Trains on the training part of a feature file written by `obi features` (its first\n"
    "train_fraction, from the JSON sidecar); the last part of it (val_fraction) is the validation\n"
    "part for early stopping on macro-F1, with a purge gap of the label horizon between them.\n"
    "The default label is label_a (forward-only) of the first horizon. --config overrides the defaults with a\n"
    "JSON object: window, hidden, attn, layers, heads, ffn, epochs, batch, lr, weight_decay, clip,\n"
    "prior_precision, forgetting (bayes), max_depth (xgb), bases, stack, ens_folds (ensemble), dropout,\n"
    "warmup_steps, patience, val_fraction, class_weights, seed. The model is saved as safetensors\n"
    "with its configuration, feature names and normalisation in the metadata.\n"
    "With --fi2010 the model trains on FI-2010 files (plain or .zst, in chronological order, each\n"
    "a separate day: no window crosses one), on the 40 book columns (or all 144 rows with\n"
    "--fi2010-all-features), label of the horizon; the last part of the files validates.\n"
    "\n"
    "example:\n"
    "  obi features data/lobster/AMZN_2012-06-21_34200000_57600000_message_10.csv.zst \\\n"
    "               data/lobster/AMZN_2012-06-21_34200000_57600000_orderbook_10.csv.zst --out amzn.npy\n"
    "  obi train --model lstm --data amzn.npy --out lstm.safetensors\n"};
