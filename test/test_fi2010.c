/* test_fi2010.c — the FI-2010 reader on the committed excerpt (first 300 samples of day 2),
 * its errors, window segmentation by day, and obi train / obi eval on FI-2010 files. */
#include <math.h>
#include <stdlib.h>

#include "obi/fi2010.h"
#include "obi/model.h"
#include "obi/train.h"
#include "test.h"

#define EXCERPT OBI_SOURCE_DIR "/data/fi2010/FI2010_day2_first300.txt.zst"

void fi2010_reads_the_excerpt(void) {
  fi2010_data d;
  char why[256];
  CHECK_EQ(fi2010_read(&d, EXCERPT, why, sizeof why), OBI_OK);
  CHECK_EQ(d.n, 300);
  /* row 1, sample 1 (ask price 1) is 4.8382630e-01 in the file */
  CHECK(fabsf(d.x[0] - 0.4838263f) < 1e-7f);
  /* row 145 (horizon 10) starts 2, 2, 3 in the file: stationary, stationary, down */
  CHECK_EQ(d.labels[0 * FI2010_HORIZONS + 0], 1);
  CHECK_EQ(d.labels[1 * FI2010_HORIZONS + 0], 1);
  CHECK_EQ(d.labels[2 * FI2010_HORIZONS + 0], 0);
  for (int64_t i = 0; i < d.n * FI2010_FEATURES; i++) CHECK(isfinite(d.x[i]));
  for (int64_t i = 0; i < d.n * FI2010_HORIZONS; i++) CHECK(d.labels[i] >= 0 && d.labels[i] <= 2);
  /* the same sample through awk: row 40 (bid volume 10) of sample 300 */
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "zstd -dc '%s' | awk 'NR==40{printf \"%%s\", $300}' > '%s/v'", EXCERPT, test_tmpdir());
  CHECK_EQ(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s/v", test_tmpdir());
  FILE *f = fopen(cmd, "r");
  double v = 0;
  CHECK(f && fscanf(f, "%lf", &v) == 1);
  fclose(f);
  CHECK(fabs(d.x[299 * FI2010_FEATURES + 39] - v) < 1e-6 * fmax(1, fabs(v)));
  fi2010_free(&d);
  CHECK_EQ(fi2010_horizon_index(50), 3);
  CHECK_EQ(fi2010_horizon_index(15), -1);
}

void fi2010_rejects_bad_files(void) {
  char text[8192], why[256];
  fi2010_data d;
  /* 149 rows of 2 samples; then break it in each way */
  size_t n = 0;
  for (int r = 0; r < FI2010_ROWS; r++)
    n += (size_t)snprintf(text + n, sizeof text - n, "  %s  %s\r\n", r < 144 ? "0.5" : "1", r < 144 ? "-1.5e-01" : "3");
  CHECK_EQ(fi2010_read(&d, test_write_file("ok.txt", text), why, sizeof why), OBI_OK);
  CHECK_EQ(d.n, 2);
  CHECK_EQ(d.labels[1 * FI2010_HORIZONS], 0); /* 3 = down */
  fi2010_free(&d);
  char *last = strstr(text, "  1  3\r\n"); /* the first label row */
  memcpy(last, "  1  4", 6);
  CHECK_EQ(fi2010_read(&d, test_write_file("label.txt", text), why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, ":145: sample 2: label 4 is not 1, 2 or 3");
  memcpy(last, "  1  3", 6);
  char *second = strstr(text, "\r\n") + 2;
  memcpy(second, "  x.5", 5);
  CHECK_EQ(fi2010_read(&d, test_write_file("num.txt", text), why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, ":2: sample 1: 'x.5' is not a number");
  memcpy(second, "  0.5", 5);
  text[strlen(text) - 20] = 0; /* cut inside the last row */
  CHECK_EQ(fi2010_read(&d, test_write_file("cut.txt", text), why, sizeof why), OBI_EPARSE);
  CHECK_EQ(fi2010_read(&d, test_write_file("rows.txt", "  1  2\r\n  1  2\r\n"), why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "2 rows, FI-2010 files have 149");
  CHECK_EQ(fi2010_read(&d, test_write_file("ragged.txt", "  1  2\r\n  1\r\n"), why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, ":2: 1 samples, the first row has 2");
  CHECK_EQ(fi2010_read(&d, "/nonexistent/fi.txt", why, sizeof why), OBI_ENOENT);
}

/* No window contains the start of another day. */
void train_windows_respect_segments(void) {
  int64_t segs[3] = {0, 37, 80}, ends[200];
  int T = 10;
  int64_t n = window_ends_seg(0, 120, T, segs, 3, ends);
  /* day 1: ends 9..36 (28), day 2: 46..79 (34), day 3: 89..119 (31) */
  CHECK_EQ(n, 28 + 34 + 31);
  for (int64_t i = 0; i < n; i++)
    for (int s = 0; s < 3; s++) CHECK(!(segs[s] > ends[i] - T + 1 && segs[s] <= ends[i]));
  CHECK_EQ(window_ends_seg(0, 120, T, NULL, 0, NULL), window_ends(0, 120, T, NULL));
}

/* Training on several days: the window counts and the windows agree (they once did not). */
void train_on_segments(void) {
  enum { ROWS = 600, C = 3 };
  float X[ROWS * C];
  int8_t y[ROWS];
  for (int i = 0; i < ROWS * C; i++) X[i] = (float)((i * 37) % 11) / 11.0f;
  for (int i = 0; i < ROWS; i++) y[i] = (int8_t)(i % 3);
  int64_t segs[4] = {0, 150, 310, 450};
  model_config c;
  model_config_default(&c, MODEL_LSTM);
  c.window = 20, c.hidden = 4, c.epochs = 1, c.batch = 8;
  obi_model *m;
  CHECK_EQ(model_new(&m, &c, C, NULL, NULL, NULL), OBI_OK);
  train_data d = {X, y, ROWS, C, ROWS, 5, segs, 4};
  train_result *res = calloc(1, sizeof *res);
  CHECK_EQ(model_fit(m, &d, NULL, NULL, res), OBI_OK);
  /* validation: rows 480..599 (the last fifth) in the day starting at 450 -> ends 499..599 */
  CHECK_EQ(res->val_windows, 101);
  /* training: rows before 480 - 5 = 475, windows inside days [0,150), [150,310), [310,450), [450,475) */
  CHECK_EQ(res->train_windows, 131 + 141 + 121 + 6);
  free(res);
  model_free(m);
}

void fi2010_cli_train_eval(void) {
  char args[2048];
  snprintf(args, sizeof args,
           "train --model lstm --fi2010 '%s' --horizon 10 --out '%s/fi.safetensors' --epochs 1 --config '%s' --json",
           EXCERPT, test_tmpdir(), test_write_file("fi.json", "{\"window\": 10, \"hidden\": 8, \"batch\": 16}"));
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "\"label\":\"fi2010_k10\"");
  snprintf(args, sizeof args, "eval --model '%s/fi.safetensors' --fi2010 '%s' --horizon 10 --json", test_tmpdir(),
           EXCERPT);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "\"n\":291,"); /* 300 samples, windows of 10 */
  snprintf(args, sizeof args, "eval --model '%s/fi.safetensors' --fi2010 '%s' --horizon 15", test_tmpdir(), EXCERPT);
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "--horizon: 10, 20, 30, 50 or 100");
  snprintf(args, sizeof args, "eval --model '%s/fi.safetensors' --fi2010 '%s' --horizon 10 --fi2010-all-features",
           test_tmpdir(), EXCERPT);
  CHECK_EQ(test_run_obi(args), 1); /* trained on the 40 book columns */
  CHECK_STR_CONTAINS(test_err, "144 features, the model was trained on 40");
  /* walk-forward on FI-2010: no mid or OFI columns, so only the class-frequency baseline, under
   * its own name (not shifted into another baseline's place) */
  snprintf(args, sizeof args, "eval --walk-forward --model logistic --fi2010 '%s' --horizon 10 --folds 2 --json",
           EXCERPT);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "\"majority_macro_f1\":");
  CHECK(strstr(test_out, "persistence_macro_f1") == NULL);
  CHECK(strstr(test_out, "ofi_logistic_macro_f1") == NULL);
  CHECK_STR_CONTAINS(test_out, "\"test_rows\":[110,200]"); /* the first third trains only; purge 10 */
}
