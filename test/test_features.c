/* test_features.c — the feature engine's contracts (causality, column list, bad config),
 * the micro-price fit on a chain solved by hand, labels on hand-made series, the .npy
 * writer/reader (read back by numpy too), and `obi features` end to end. The feature values
 * themselves are checked against an independent naive implementation in test_features_ref.c. */
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "obi/features.h"
#include "obi/labels.h"
#include "obi/lobster.h"
#include "obi/npy.h"
#include "test.h"

#define AMZN10 OBI_SOURCE_DIR "/data/lobster/AMZN_2012-06-21_34200000_57600000_"

void features_columns_and_config(void) {
  feat_config c;
  feat_config_default(&c);
  feat_engine *e;
  CHECK_EQ(feat_new(&e, &c), OBI_OK);
  CHECK(feat_count(e) >= 60);
  CHECK_EQ(feat_count(e), 91);
  for (int i = 0; i < feat_count(e); i++) {
    CHECK(feat_name(e, i) && strlen(feat_name(e, i)) > 0);
    CHECK(feat_description(e, i) && strlen(feat_description(e, i)) > 10);
    CHECK_EQ(feat_find(e, feat_name(e, i)), i); /* names are unique */
  }
  CHECK(feat_find(e, "ofi_l1_10s") >= 0);
  CHECK(feat_find(e, "vol_yang_zhang") >= 0);
  CHECK(feat_find(e, "microprice_stoikov") >= 0);
  CHECK_EQ(feat_find(e, "no_such_feature"), -1);
  CHECK(feat_name(e, feat_count(e)) == NULL);
  feat_free(e);
  feat_config bad = c;
  bad.levels = 0;
  CHECK_EQ(feat_new(&e, &bad), OBI_EINVAL);
  bad = c;
  bad.window_ns[1] = bad.window_ns[0];
  CHECK_EQ(feat_new(&e, &bad), OBI_EINVAL);
  bad = c;
  bad.tick = 0;
  CHECK_EQ(feat_new(&e, &bad), OBI_EINVAL);
  /* fewer levels: the depth columns beyond K disappear */
  c.levels = 3;
  CHECK_EQ(feat_new(&e, &c), OBI_OK);
  CHECK_EQ(feat_find(e, "imb_depth_5"), -1);
  CHECK(feat_find(e, "imb_depth_3") >= 0);
  CHECK_EQ(feat_find(e, "depth_bid_10"), -1);
  feat_free(e);
}

/* Rows up to time t are bit-identical whatever happens after t. */
void features_causality_property(void) {
  size_t n = 6000;
  lobster_replay *r;
  lobster_options opt = {.day_from_name = 1};
  CHECK_EQ(lobster_open(&r, AMZN10 "message_10.csv.zst", AMZN10 "orderbook_10.csv.zst", &opt, NULL, 0), OBI_OK);
  feat_config c;
  feat_config_default(&c);
  feat_engine *base;
  CHECK_EQ(feat_new(&base, &c), OBI_OK);
  int nc = feat_count(base);
  double *rows = malloc(n * (size_t)nc * sizeof *rows);
  obi_event ev;
  for (size_t i = 0; i < n && lobster_next(r, &ev) == OBI_OK; i++) {
    feat_update(base, &ev, lobster_book(r));
    feat_compute(base, lobster_book(r), rows + i * (size_t)nc);
  }
  /* several cut points: after the cut, events are altered (sizes, prices, dropped events) */
  uint64_t seed = 12345;
  for (int trial = 0; trial < 4; trial++) {
    size_t cut = 500 + (size_t)trial * 1300;
    lobster_replay *r2;
    CHECK_EQ(lobster_open(&r2, AMZN10 "message_10.csv.zst", AMZN10 "orderbook_10.csv.zst", &opt, NULL, 0), OBI_OK);
    feat_engine *e;
    CHECK_EQ(feat_new(&e, &c), OBI_OK);
    obi_book alt;
    book_init(&alt, 0);
    double row[FEAT_MAX_COLS];
    size_t i = 0;
    for (; i <= cut && lobster_next(r2, &ev) == OBI_OK; i++) {
      feat_update(e, &ev, lobster_book(r2));
      feat_compute(e, lobster_book(r2), row);
      if (memcmp(row, rows + i * (size_t)nc, (size_t)nc * sizeof *row) != 0) {
        test_fail(__FILE__, __LINE__, "trial %d: row %zu differs before the cut", trial, i);
        return;
      }
    }
    /* after the cut: a different future (a copy of the book with random L2 changes) */
    const obi_book *b = lobster_book(r2);
    for (int s = 0; s < 2; s++)
      for (uint32_t k = 0; k < book_depth(b, s); k++) {
        const book_level *l = book_level_at(b, s, k);
        book_set_level(&alt, s, l->price, l->size, ev.ts_ns);
      }
    int changed = 0;
    for (int k = 0; k < 200; k++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      int s = (int)(seed >> 63);
      const book_level *best = book_level_at(&alt, s, 0);
      int64_t price = best->price + (s == OBI_BID ? -100 : 100) * (int64_t)((seed >> 40) % 3);
      obi_event x = {.ts_ns = ev.ts_ns + 1000 * (k + 1),
                     .type = OBI_EV_LEVEL_SET,
                     .side = (uint8_t)s,
                     .price = price,
                     .size = 1 + (int64_t)((seed >> 20) % 500)};
      book_apply(&alt, &x);
      feat_update(e, &x, &alt);
      feat_compute(e, &alt, row);
      changed |= memcmp(row, rows + (cut + 1 + (size_t)k) * (size_t)nc, (size_t)nc * sizeof *row) != 0;
    }
    CHECK(changed); /* the altered future really is different */
    book_free(&alt);
    feat_free(e);
    lobster_close(r2);
  }
  lobster_close(r);
  feat_free(base);
  free(rows);
}

/* A two-state chain solved by hand (docs/features.md, micro-price): state H (I = 0.75) and
 * L (I = 0.25), one spread bucket. From H: half the time no change, a quarter +1 tick staying
 * in H, a quarter +1 tick moving to L; L mirrors H. Then Q = diag(0.5), R = (0.5, -0.5),
 * G1 = (I - Q)^-1 R = (1, -1), B = (I - Q)^-1 T = [[0.5, 0.5], [0.5, 0.5]], B G1 = 0:
 * g = (g_L, g_H) = (-1, +1) ticks exactly. */
void features_microprice_hand_chain(void) {
  /* one cycle: H0 H0 H0 H1 L2 L2 L2 L1 (back to H0), mid in ticks */
  static const int state[8] = {1, 1, 1, 1, 0, 0, 0, 0};
  static const double mid[8] = {0, 0, 0, 1, 2, 2, 2, 1};
  feat_mp_obs obs[41];
  for (int k = 0; k < 41; k++) {
    int i = k % 8;
    obs[k] = (feat_mp_obs){
        .bid_size = state[i] ? 3 : 1, .ask_size = state[i] ? 1 : 3, .spread_ticks = 1, .mid_ticks = mid[i]};
  }
  feat_microprice mp;
  feat_mp_fit_info info;
  CHECK_EQ(feat_microprice_fit(&mp, 2, 1, obs, 41, &info), OBI_OK);
  CHECK_EQ(mp.n_spread, 1);
  CHECK(info.converged);
  CHECK_EQ(info.states_used, 2);
  CHECK(fabs(mp.g[0][1] - 1.0) < 1e-12);
  CHECK(fabs(mp.g[0][0] + 1.0) < 1e-12);
  /* the engine applies it: micro-price = mid + g * tick */
  feat_config c;
  feat_config_default(&c);
  feat_engine *e;
  CHECK_EQ(feat_new(&e, &c), OBI_OK);
  feat_set_microprice(e, &mp);
  obi_book b;
  book_init(&b, 0);
  obi_event x = {.ts_ns = 1, .type = OBI_EV_LEVEL_SET, .side = OBI_BID, .price = 1000000, .size = 300};
  book_apply(&b, &x);
  feat_update(e, &x, &b);
  x = (obi_event){.ts_ns = 2, .type = OBI_EV_LEVEL_SET, .side = OBI_ASK, .price = 1000100, .size = 100};
  book_apply(&b, &x);
  feat_update(e, &x, &b);
  double row[FEAT_MAX_COLS];
  feat_compute(e, &b, row);
  CHECK(fabs(row[feat_find(e, "microprice_stoikov")] - (100.005 + 0.01)) < 1e-12);
  CHECK(fabs(row[feat_find(e, "microprice_minus_mid_bps")] - 0.01 / 100.005 * 1e4) < 1e-9);
  book_free(&b);
  feat_free(e);
  CHECK_EQ(feat_microprice_fit(&mp, 1, 1, obs, 41, NULL), OBI_EINVAL);
}

void labels_parse_horizons(void) {
  label_horizon h[8];
  int n;
  char why[128];
  CHECK_EQ(label_parse_horizons("10,20,1s,500ms", h, 8, &n, why, sizeof why), OBI_OK);
  CHECK_EQ(n, 4);
  CHECK_EQ(h[0].value, 10);
  CHECK(!h[0].is_time);
  CHECK_EQ(h[2].value, 1000000000LL);
  CHECK(h[2].is_time);
  CHECK_EQ(h[3].value, 500000000LL);
  CHECK_EQ(label_parse_horizons("0", h, 8, &n, why, sizeof why), OBI_EINVAL);
  CHECK_STR_CONTAINS(why, "must be > 0");
  CHECK_EQ(label_parse_horizons("-5", h, 8, &n, why, sizeof why), OBI_EINVAL);
  CHECK_EQ(label_parse_horizons("10,", h, 8, &n, why, sizeof why), OBI_EINVAL);
  CHECK_EQ(label_parse_horizons("ten", h, 8, &n, why, sizeof why), OBI_EINVAL);
  CHECK_EQ(label_parse_horizons("5h", h, 8, &n, why, sizeof why), OBI_EINVAL);
  CHECK_EQ(label_parse_horizons("", h, 8, &n, why, sizeof why), OBI_EINVAL);
  CHECK_EQ(label_parse_horizons("1,2,3", h, 2, &n, why, sizeof why), OBI_EINVAL);
}

void labels_hand_series(void) {
  /* mids 100, 101, 102, 101, 100, 100 ; horizon k = 2 rows, alpha 0.004 */
  double mid[6] = {100, 101, 102, 101, 100, 100};
  int64_t ts[6] = {0, 1, 2, 3, 4, 5};
  label_series s = {mid, ts, NULL, 6, 6};
  label_horizon h = {.value = 2};
  int8_t a[6], b[6], d[6];
  float r[6];
  uint8_t valid[6];
  memset(valid, 1, 6);
  label_alpha used;
  CHECK_EQ(label_compute(&s, &h, LABEL_ALPHA_FIXED, 0.004, a, b, r, valid, &used), OBI_OK);
  /* (a): row 0: m+ = 101.5 -> +1.5% up; row 1: 101.5 -> +0.495% up; row 2: 100.5 -> -1.47% down;
   * row 3: 100 -> -0.99% down; rows 4, 5: no complete horizon */
  CHECK_EQ(a[0], LABEL_UP);
  CHECK_EQ(a[1], LABEL_UP);
  CHECK_EQ(a[2], LABEL_DOWN);
  CHECK_EQ(a[3], LABEL_DOWN);
  /* (b): row 1: m- = 100.5, m+ = 101.5 -> +0.995% up; row 2: m- = 101.5, m+ = 100.5 -> down;
   * row 3: m- = 101.5, m+ = 100 -> down; row 0 has no past window */
  CHECK_EQ(b[1], LABEL_UP);
  CHECK_EQ(b[2], LABEL_DOWN);
  CHECK_EQ(b[3], LABEL_DOWN);
  /* (c): row 0: (102 - 100)/100 = 200 bps; row 3: (100 - 101)/101 */
  CHECK(fabs(r[0] - 200.0f) < 1e-3);
  CHECK(fabs(r[3] - (float)(-1.0 / 101 * 1e4)) < 1e-3);
  uint8_t want[6] = {0, 1, 1, 1, 0, 0};
  CHECK(memcmp(valid, want, 6) == 0);
  /* a threshold that makes row 1's (a) label stationary: 0.495% < 0.5% */
  CHECK_EQ(label_compute(&s, &h, LABEL_ALPHA_FIXED, 0.005, a, b, r, valid, &used), OBI_OK);
  CHECK_EQ(a[1], LABEL_FLAT);
  /* (d): next mid change */
  memset(valid, 1, 6);
  label_next_change(&s, d, valid);
  CHECK_EQ(d[0], LABEL_UP);
  CHECK_EQ(d[2], LABEL_DOWN);
  CHECK_EQ(d[3], LABEL_DOWN);
  CHECK(valid[3] && !valid[4] && !valid[5]); /* the mid never changes after row 4 */
  /* time horizon: 2 ns; the same as 2 rows here */
  label_horizon ht = {.value = 2, .is_time = 1};
  memset(valid, 1, 6);
  int8_t a2[6], b2[6];
  CHECK_EQ(label_compute(&s, &ht, LABEL_ALPHA_FIXED, 0.004, a2, b2, r, valid, &used), OBI_OK);
  CHECK_EQ(label_compute(&s, &h, LABEL_ALPHA_FIXED, 0.004, a, b, r, valid, &used), OBI_OK);
  CHECK(memcmp(a + 1, a2 + 1, 3) == 0 && memcmp(b + 1, b2 + 1, 3) == 0);
}

void labels_alpha_from_training_rows_only(void) {
  /* the first half moves by 1%, the second by 10%: balanced alpha must come from the first */
  enum { N = 200 };
  double mid[N];
  int64_t ts[N];
  for (int i = 0; i < N; i++) {
    double step = i < N / 2 ? 0.01 : 0.10;
    mid[i] = 100 * (1 + step * ((i % 3) - 1));
    ts[i] = i;
  }
  label_series s = {mid, ts, NULL, N, N / 2};
  label_horizon h = {.value = 1};
  int8_t a[N], b[N];
  float r[N];
  uint8_t valid[N];
  memset(valid, 1, N);
  label_alpha used;
  CHECK_EQ(label_compute(&s, &h, LABEL_ALPHA_BALANCED, 0, a, b, r, valid, &used), OBI_OK);
  CHECK(used.alpha_a > 0.005 && used.alpha_a < 0.05); /* from the 1% part, not the 10% part */
  double spread[N];
  for (int i = 0; i < N; i++) spread[i] = i < N / 2 ? 0.001 : 0.5;
  s.rel_spread = spread;
  CHECK_EQ(label_compute(&s, &h, LABEL_ALPHA_SPREAD, 0, a, b, r, valid, &used), OBI_OK);
  CHECK(fabs(used.alpha_a - 0.001) < 1e-15);
}

void npy_round_trip_and_bad_files(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/x.npy", test_tmpdir());
  npy_writer w;
  CHECK_EQ(npy_open(&w, path, "<f4", 3), OBI_OK);
  float data[6] = {1.5f, -2, 3, 4, 5, 6.25f};
  CHECK_EQ(npy_append(&w, data, 2), OBI_OK);
  CHECK_EQ(npy_close(&w), OBI_OK);
  npy_array a;
  char why[256];
  CHECK_EQ(npy_read(&a, path, why, sizeof why), OBI_OK);
  CHECK_EQ(a.ndim, 2);
  CHECK_EQ(a.shape[0], 2);
  CHECK_EQ(a.shape[1], 3);
  CHECK(!strcmp(a.descr, "<f4"));
  CHECK(memcmp(a.data, data, sizeof data) == 0);
  npy_free(&a);
  /* numpy reads it (Debian's python3-numpy) */
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import numpy as np; a = np.load('%s'); "
           "assert a.shape == (2, 3) and a.dtype == np.float32 and a[1, 2] == 6.25 and a[0, 1] == -2\"",
           path);
  CHECK_EQ(system(cmd), 0);
  /* and we read what numpy writes */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import numpy as np; np.save('%s/np.npy', np.arange(5, dtype='<i8'))\"",
           test_tmpdir());
  CHECK_EQ(system(cmd), 0);
  snprintf(path, sizeof path, "%s/np.npy", test_tmpdir());
  CHECK_EQ(npy_read(&a, path, why, sizeof why), OBI_OK);
  CHECK_EQ(a.ndim, 1);
  CHECK_EQ(a.shape[0], 5);
  CHECK_EQ(((int64_t *)a.data)[4], 4);
  npy_free(&a);
  /* truncated, not npy, unknown dtype */
  snprintf(cmd, sizeof cmd, "truncate -s -8 '%s'", path);
  CHECK_EQ(system(cmd), 0);
  CHECK_EQ(npy_read(&a, path, why, sizeof why), OBI_ERANGE);
  CHECK_STR_CONTAINS(why, "truncated");
  CHECK_EQ(npy_read(&a, test_write_file("bad.npy", "hello world, not numpy"), why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "bad magic");
  CHECK_EQ(npy_read(&a, "/nonexistent/x.npy", why, sizeof why), OBI_ENOENT);
  /* a header that claims 10^9 rows of a 200-byte file fails before allocating anything */
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import numpy as np; np.save('%s/huge.npy', np.zeros((8, 2), dtype='<f4'))\" && "
           "sed -i 's/(8, 2)/(999999999, 2)/' '%s/huge.npy'",
           test_tmpdir(), test_tmpdir());
  CHECK_EQ(system(cmd), 0);
  snprintf(path, sizeof path, "%s/huge.npy", test_tmpdir());
  CHECK_EQ(npy_read(&a, path, why, sizeof why), OBI_ERANGE);
  CHECK_STR_CONTAINS(why, "truncated");
  CHECK_EQ(npy_open(&w, path, "<c16", 2), OBI_EINVAL);
}

void features_cli_end_to_end(void) {
  char args[2048];
  snprintf(args, sizeof args,
           "features " AMZN10 "message_10.csv.zst " AMZN10 "orderbook_10.csv.zst --out '%s/f.npy' --horizons 10,1s "
           "--report --json --quiet",
           test_tmpdir());
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "\"columns\": 91");
  CHECK_STR_CONTAINS(test_err, "Cont-Kukanov-Stoikov regression");
  /* numpy reads every file; shapes agree with the sidecar; labels are 0/1/2; no NaN */
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"\n"
           "import numpy as np, json\n"
           "d = '%s/'\n"
           "j = json.load(open(d + 'f.json'))\n"
           "f = np.load(d + 'f.npy'); l = np.load(d + 'f.labels.npy'); r = np.load(d + 'f.returns.npy')\n"
           "t = np.load(d + 'f.timestamps.npy')\n"
           "assert f.dtype == np.float32 and l.dtype == np.int8 and r.dtype == np.float32 and t.dtype == np.int64\n"
           "assert f.shape == (j['rows'], len(j['features'])) == (j['rows'], 91), f.shape\n"
           "assert l.shape == (j['rows'], 5) and r.shape == (j['rows'], 2)\n"
           "assert set(np.unique(l).tolist()) <= {0, 1, 2}\n"
           "assert np.isfinite(f).all()\n"
           "assert (np.diff(t) >= 0).all()\n"
           "assert j['rows'] + j['dropped_rows'] == j['sampled_rows'] == 18439\n"
           "assert len(j['normalization']['mean']) == 91\n"
           "assert len(j['source'][0]['sha256']) == 64\n"
           "\"",
           test_tmpdir());
  CHECK_EQ(system(cmd), 0);
  /* and the C reader agrees with the sidecar */
  char path[600], why[256];
  snprintf(path, sizeof path, "%s/f.npy", test_tmpdir());
  npy_array a;
  CHECK_EQ(npy_read(&a, path, why, sizeof why), OBI_OK);
  CHECK(a.ndim == 2 && a.shape[1] == 91 && !strcmp(a.descr, "<f4"));
  uint64_t rows = a.shape[0];
  npy_free(&a);
  snprintf(path, sizeof path, "%s/f.labels.npy", test_tmpdir());
  CHECK_EQ(npy_read(&a, path, why, sizeof why), OBI_OK);
  CHECK(a.ndim == 2 && a.shape[0] == rows && a.shape[1] == 5 && a.item == 1);
  for (uint64_t i = 0; i < rows * 5; i++) CHECK(((int8_t *)a.data)[i] >= 0 && ((int8_t *)a.data)[i] <= 2);
  npy_free(&a);
  /* a sampled, selected, CSV export into a directory: 200 rows sampled, of which rows 49..149
   * have both the past window and the future of the longest default horizon (50 rows) */
  snprintf(args, sizeof args,
           "features " AMZN10 "message_10.csv.zst " AMZN10 "orderbook_10.csv.zst --out '%s/fdir' --sample events:100 "
           "--features mid,ofi_l1_10s,imb_l1 --csv --quiet",
           test_tmpdir());
  CHECK_EQ(test_run_obi(args), 0);
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import numpy as np; f = np.load('%s/fdir/features.npy'); assert f.shape == (101, 3), "
           "f.shape\" && head -1 '%s/fdir/features.csv' | grep -q '^ts_ns,mid,ofi_l1_10s,imb_l1,'",
           test_tmpdir(), test_tmpdir());
  CHECK_EQ(system(cmd), 0);
  CHECK_EQ(test_run_obi("features --list"), 0);
  CHECK_STR_CONTAINS(test_out, "vol_yang_zhang");
  CHECK_STR_CONTAINS(test_out, "ofi_l5_60s");
}

/* Messages that share a timestamp give one row, after the last of them, unless --split-timestamps. */
void features_rows_at_timestamp_ends(void) {
  const char *m = test_write_file("ts_message_1.csv",
                                  "34200.1,1,1,10,1000000,1\n34200.1,1,2,10,1001000,-1\n34200.2,1,3,5,1000000,1\n"
                                  "34200.2,4,3,5,1000000,1\n34200.3,1,4,7,1000000,1\n34200.4,3,4,7,1000000,1\n"
                                  "34200.5,1,5,1,1000500,1\n");
  const char *o = test_write_file("ts_orderbook_1.csv", "9999999999,0,1000000,10\n1001000,10,1000000,10\n"
                                                        "1001000,10,1000000,15\n1001000,10,1000000,10\n"
                                                        "1001000,10,1000000,17\n1001000,10,1000000,10\n"
                                                        "1001000,10,1000500,1\n");
  char args[2048];
  snprintf(args, sizeof args, "features '%s' '%s' --out '%s/ts.npy' --horizons 1 --quiet --json", m, o, test_tmpdir());
  CHECK_EQ(test_run_obi(args), 0);
  /* 5 timestamps (34200.1 .. .5) -> 5 rows sampled; the last has no future (no next row, and
   * the mid never changes after it): 4 kept */
  CHECK_STR_CONTAINS(test_out, "\"rows\": 4, \"sampled_rows\": 5,");
  snprintf(args, sizeof args, "features '%s' '%s' --out '%s/ts.npy' --horizons 1 --quiet --json --split-timestamps", m,
           o, test_tmpdir());
  CHECK_EQ(test_run_obi(args), 0);
  /* every message after which both sides exist: messages 2..7, the last without a future */
  CHECK_STR_CONTAINS(test_out, "\"rows\": 5, \"sampled_rows\": 6,");
}

void features_cli_bad_input(void) {
  char args[2048];
  snprintf(args, sizeof args,
           "features " AMZN10 "message_10.csv.zst " AMZN10 "orderbook_10.csv.zst --out '%s/g.npy' --features mid,nope",
           test_tmpdir());
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "unknown feature 'nope'");
  snprintf(args, sizeof args,
           "features " AMZN10 "message_10.csv.zst " AMZN10 "orderbook_10.csv.zst --out '%s/g.npy' --horizons 10,0",
           test_tmpdir());
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "horizon '0' must be > 0");
  snprintf(args, sizeof args, "features '%s' '%s' --out '%s/g.npy'", test_write_file("empty_message_1.csv", ""),
           test_write_file("empty_orderbook_1.csv", ""), test_tmpdir());
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "no rows: the source is empty");
  snprintf(args, sizeof args,
           "features " AMZN10 "message_10.csv.zst " AMZN10 "orderbook_10.csv.zst --out '%s/g.npy' --horizons 100000",
           test_tmpdir());
  CHECK_EQ(test_run_obi(args), 1);
  /* 18439 distinct timestamps: `zstd -dc FILE | cut -d, -f1 | uniq | wc -l` */
  CHECK_STR_CONTAINS(test_err, "none of the 18439 rows has a complete label horizon");
  snprintf(args, sizeof args,
           "features " AMZN10 "message_10.csv.zst " AMZN10 "orderbook_10.csv.zst --sample sometimes --out x");
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_EQ(test_run_obi("features " AMZN10 "message_10.csv.zst " AMZN10 "orderbook_10.csv.zst"), 2);
  CHECK_STR_CONTAINS(test_err, "needs --out");
  CHECK_EQ(test_run_obi("features /nonexistent_message_1.csv /nonexistent_orderbook_1.csv --out /tmp/x.npy"), 1);
  CHECK_STR_CONTAINS(test_err, "cannot open");
}

/* A feed's snapshot (SNAPSHOT_BEGIN, one LEVEL_SET per level from the worst, SNAPSHOT_END) is a
 * book cleared and rebuilt, no flow of orders: each level inserted better than the last is no
 * add at the best, the rebuild is no order flow imbalance and its intermediate mids are no
 * price moves. A snapshot of 200 levels per side that restores the same book must leave the
 * queue intensities, OFI and realized variance where a book without it has them. */
void features_snapshot_is_no_order_flow(void) {
  feat_config c;
  feat_config_default(&c);
  feat_engine *with, *without;
  CHECK_EQ(feat_new(&with, &c), OBI_OK);
  CHECK_EQ(feat_new(&without, &c), OBI_OK);
  obi_book b;
  book_init(&b, 0);
  /* a book of 200 levels a side, built by LEVEL_SETs a second apart (seen by both engines) */
  int64_t t = 1000000000LL;
  for (int k = 199; k >= 0; k--)
    for (int s = 0; s < 2; s++) {
      obi_event x = {.ts_ns = t,
                     .type = OBI_EV_LEVEL_SET,
                     .side = (uint8_t)s,
                     .price = s == OBI_BID ? 1000000 - 100 * k : 1000100 + 100 * k,
                     .size = 10 + k};
      book_apply(&b, &x);
      feat_update(with, &x, &b);
      feat_update(without, &x, &b);
    }
  t += 30000000000LL; /* 30 s later: the build-up has decayed and left the windows */
  obi_event tick = {.ts_ns = t, .type = OBI_EV_LEVEL_SET, .side = OBI_BID, .price = 1000000, .size = 10};
  book_apply(&b, &tick);
  feat_update(with, &tick, &b);
  feat_update(without, &tick, &b);
  /* the same book again as a snapshot, as a feed emits it after a resynchronisation */
  obi_event x = {.ts_ns = t + 1000, .type = OBI_EV_SNAPSHOT_BEGIN};
  obi_book snap;
  book_init(&snap, 0);
  book_apply(&snap, &x);
  feat_update(with, &x, &snap);
  for (int k = 199; k >= 0; k--)
    for (int s = 0; s < 2; s++) {
      int64_t price = s == OBI_BID ? 1000000 - 100 * k : 1000100 + 100 * k;
      x = (obi_event){.ts_ns = t + 1000,
                      .type = OBI_EV_LEVEL_SET,
                      .side = (uint8_t)s,
                      .price = price,
                      .size = book_find_level(&b, s, price) ? book_find_level(&b, s, price)->size : 0};
      book_apply(&snap, &x);
      feat_update(with, &x, &snap);
    }
  x = (obi_event){.ts_ns = t + 1000, .type = OBI_EV_SNAPSHOT_END};
  feat_update(with, &x, &snap);
  CHECK(feat_ready(with));
  /* one more change, seen by both, after the snapshot */
  tick = (obi_event){.ts_ns = t + 2000, .type = OBI_EV_LEVEL_SET, .side = OBI_ASK, .price = 1000100, .size = 20};
  book_apply(&b, &tick), book_apply(&snap, &tick);
  feat_update(with, &tick, &snap);
  feat_update(without, &tick, &b);
  double r1[FEAT_MAX_COLS], r2[FEAT_MAX_COLS];
  feat_compute(with, &snap, r1);
  feat_compute(without, &b, r2);
  const char *names[] = {"add_rate_bid", "add_rate_ask", "cancel_rate_bid", "ofi_l1_1s",
                         "ofi_l1_10s",   "rv_10s",       "rv_60s"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    int col = feat_find(with, names[i]);
    CHECK(col >= 0);
    if (col >= 0 && fabs(r1[col] - r2[col]) > 1e-9 * (1 + fabs(r2[col])))
      test_fail(__FILE__, __LINE__, "%s after a snapshot of the same book: %.9g, without it: %.9g", names[i], r1[col],
                r2[col]);
  }
  book_free(&b);
  book_free(&snap);
  feat_free(with);
  feat_free(without);
}
