/* cmd_eval.c — `obi eval`: a saved model on the held-out part of a feature file. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "obi/train.h"

static int cmd_eval(int argc, char **argv) {
  const char *model_path = NULL, *data = NULL, *label = NULL;
  int json = 0, all = 0;
  fi2010_opts fi = {.horizon = 10};
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int took = cli_fi2010_option(&fi, argc, argv, &i, "eval");
    if (took < 0) return EXIT_USAGE;
    if (took) continue;
    if (!strcmp(o, "--json"))
      json = 1;
    else if (!strcmp(o, "--all-rows"))
      all = 1;
    else if (!strcmp(o, "--model") && v)
      model_path = v, i++;
    else if (!strcmp(o, "--data") && v)
      data = v, i++;
    else if (!strcmp(o, "--label") && v)
      label = v, i++;
    else
      return cli_usage_error(&cmd_eval_def, "unknown option or missing value: '%s'", o);
  }
  if (!model_path || (!data == !fi.n))
    return cli_usage_error(&cmd_eval_def, "needs --model FILE and --data FILE or --fi2010 FILE...");
  char why[1024];
  obi_model *m;
  if (model_load(&m, model_path, why, sizeof why)) return cli_input_error("%s: %s", model_path, why);
  dataset d;
  int rc = EXIT_OK;
  if (fi.n ? dataset_load_fi2010(&d, fi.files, fi.n, (int)fi.horizon, fi.all_features, 1.0, why, sizeof why)
           : dataset_load(&d, data, label, why, sizeof why)) {
    rc = cli_input_error("%s", why);
    goto done;
  }
  if (fi.n) all = 1, data = fi.files[0]; /* FI-2010 files are scored whole */
  if (d.C != model_features(m)) {
    rc = cli_input_error("%s: %d features, the model was trained on %d", data, d.C, model_features(m));
    goto done;
  }
  for (int i = 0; i < d.C; i++)
    if (strcmp(d.names[i], model_feature_name(m, i))) {
      rc = cli_input_error("%s: feature %d is '%s', the model expects '%s'", data, i, d.names[i],
                           model_feature_name(m, i));
      goto done;
    }
  int T = model_get_config(m)->window;
  int64_t from = all ? 0 : d.train_end + d.purge;
  int64_t n = from < d.rows ? window_ends_seg(from, d.rows, T, d.seg_starts, d.nseg, NULL) : 0;
  if (n <= 0) {
    rc = cli_input_error("%s: no %s windows to evaluate", data, all ? "" : "held-out");
    goto done;
  }
  int64_t *ends = malloc((size_t)n * sizeof *ends);
  float *probs = malloc((size_t)n * MODEL_CLASSES * sizeof *probs);
  int32_t *labels = malloc((size_t)n * sizeof *labels);
  window_ends_seg(from, d.rows, T, d.seg_starts, d.nseg, ends);
  model_predict(m, d.X, ends, (int)n, probs);
  for (int64_t i = 0; i < n; i++) labels[i] = d.y[ends[i]];
  metrics met;
  metrics_compute(&met, probs, labels, n);
  if (json) {
    printf("{\"model\":\"%s\",\"data\":\"%s\",\"label\":\"%s\",\"rows_from\":%lld,\"n\":%lld,\"accuracy\":%.6f,"
           "\"macro_f1\":%.6f,\"log_loss\":%.6f,\"majority_accuracy\":%.6f,\"precision\":[%.6f,%.6f,%.6f],"
           "\"recall\":[%.6f,%.6f,%.6f],\"f1\":[%.6f,%.6f,%.6f],\"confusion\":[",
           model_path, data, d.label, (long long)from, (long long)n, met.accuracy, met.macro_f1, met.log_loss,
           met.majority_accuracy, met.precision[0], met.precision[1], met.precision[2], met.recall[0], met.recall[1],
           met.recall[2], met.f1[0], met.f1[1], met.f1[2]);
    for (int k = 0; k < MODEL_CLASSES; k++)
      printf("%s[%lld,%lld,%lld]", k ? "," : "", (long long)met.confusion[k][0], (long long)met.confusion[k][1],
             (long long)met.confusion[k][2]);
    printf("]}\n");
  } else {
    printf("%s on %s (%s, rows %lld..%lld, %lld windows)\n", model_path, data, d.label, (long long)from,
           (long long)d.rows - 1, (long long)n);
    printf("accuracy %.4f (always the majority class: %.4f)  macro-F1 %.4f  log-loss %.4f\n", met.accuracy,
           met.majority_accuracy, met.macro_f1, met.log_loss);
    static const char *const cls[3] = {"down", "stationary", "up"};
    printf("%-11s %9s %9s %9s\n", "class", "precision", "recall", "F1");
    for (int k = 0; k < 3; k++) printf("%-11s %9.4f %9.4f %9.4f\n", cls[k], met.precision[k], met.recall[k], met.f1[k]);
    printf("confusion (rows: true, columns: predicted down / stationary / up)\n");
    for (int k = 0; k < 3; k++)
      printf("%-11s %9lld %9lld %9lld\n", cls[k], (long long)met.confusion[k][0], (long long)met.confusion[k][1],
             (long long)met.confusion[k][2]);
  }
  free(ends);
  free(probs);
  free(labels);
done:
  dataset_free(&d);
  model_free(m);
  return rc;
}

const cli_command cmd_eval_def = {
    "eval", cmd_eval, "evaluate a model on the held-out part of a feature file",
    "usage: obi eval --model MODEL.safetensors --data FEATURES.npy [--label NAME] [--all-rows] [--json]\n"
    "       obi eval --model MODEL --fi2010 FILE... --horizon 10|20|30|50|100 [--fi2010-all-features] [--json]\n"
    "\n"
    "Predicts every window of the rows after the file's training part (after a purge gap of the\n"
    "label horizon), or of every row with --all-rows (another day, another instrument), and prints\n"
    "accuracy (beside the majority-class rate), macro-F1, per-class precision/recall/F1, the\n"
    "confusion matrix and log-loss. The file's feature names must match the model's.\n"
    "--json keys: n, accuracy, macro_f1, precision, recall, f1, confusion, log_loss, majority_accuracy.\n"};
