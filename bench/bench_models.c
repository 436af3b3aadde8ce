/* bench_models.c — the models' speed: training throughput (windows/s of forward + backward +
 * AdamW steps, the same work tools/bench_torch.py times for PyTorch), full-window batch
 * inference (windows/s) and streaming inference latency per event (model_step, p50/p99 in us).
 * Synthetic data (C features, uniform noise): speed does not depend on the values. One thread.
 *
 * usage: bench_models [--features C] [--batch B] [--seconds S] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obi/model.h"
#include "obi/train.h"

#include "bench_common.h"

int main(int argc, char **argv) {
  int C = 91, B = 64;
  double seconds = 2.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--features"))
      C = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--batch"))
      B = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--seconds"))
      seconds = atof(argv[i + 1]);
  }
  openblas_set_num_threads(1);
  int rows = 20000;
  float *X = malloc((size_t)rows * C * sizeof *X);
  int32_t *y = malloc((size_t)B * sizeof *y);
  uint64_t s = 12345;
  for (int i = 0; i < rows * C; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    X[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
  }
  printf("{\"features\":%d,\"batch\":%d,\"threads\":1,\"models\":{", C, B);
  for (int kind = 0; kind < MODEL__COUNT; kind++) {
    model_config c;
    model_config_default(&c, (model_kind)kind);
    c.dropout = 0;                           /* as the PyTorch side: no dropout layer */
    int Ck = kind == MODEL_DEEPLOB ? 40 : C; /* DeepLOB reads the raw 10-level book */
    obi_model *m;
    if (model_new(&m, &c, Ck, NULL, NULL, NULL)) return 1;
    int T = c.window;
    size_t P = model_param_count(m);
    float *mom = calloc(P, sizeof *mom), *vel = calloc(P, sizeof *vel);
    int64_t *ends = malloc((size_t)B * sizeof *ends);
    /* training */
    int64_t steps = 0;
    double t0 = now(), t;
    do {
      for (int b = 0; b < B; b++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        ends[b] = T - 1 + (int64_t)(s % (uint64_t)(rows - T));
        y[b] = (int32_t)(s >> 40) % 3;
      }
      memset(model_grads(m), 0, P * sizeof(float));
      model_loss_backward(m, X, ends, y, B, NULL);
      adamw_update(model_params(m), model_grads(m), mom, vel, P, 1e-3, 1e-4, steps, 1.0);
      steps++;
    } while ((t = now() - t0) < seconds);
    double train_wps = (double)steps * B / t;
    /* batch inference */
    int NB = 256;
    int64_t *bends = malloc((size_t)NB * sizeof *bends);
    float *probs = malloc((size_t)NB * 3 * sizeof *probs);
    for (int b = 0; b < NB; b++) bends[b] = T - 1 + b * 7;
    int64_t batches = 0;
    t0 = now();
    do model_predict(m, X, bends, NB, probs), batches++;
    while ((t = now() - t0) < seconds / 2);
    double infer_wps = (double)batches * NB / t;
    /* streaming latency */
    int N = 20000;
    double *lat = malloc((size_t)N * sizeof *lat);
    float p3[3];
    model_reset(m);
    for (int i = 0; i < N; i++) {
      double a = now();
      model_step(m, X + (size_t)(i % rows) * C, p3); /* (DeepLOB reads the first 40 values) */
      lat[i] = (now() - a) * 1e6;
    }
    qsort(lat + T, (size_t)(N - T), sizeof *lat, cmp_double);
    double p50 = lat[T + (N - T) / 2], p99 = lat[T + (size_t)((N - T) * 0.99)];
    printf("%s\"%s\":{\"features\":%d,\"window\":%d,\"hidden\":%d,\"parameters\":%zu,\"train_windows_per_second\":%.0f,"
           "\"batch_inference_windows_per_second\":%.0f,\"step_p50_us\":%.2f,\"step_p99_us\":%.2f}",
           kind ? "," : "", model_kind_name((model_kind)kind), Ck, T, c.hidden, P, train_wps, infer_wps, p50, p99);
    fprintf(stderr, "%-10s train %8.0f windows/s  batch inference %8.0f windows/s  step p50 %.1f us p99 %.1f us\n",
            model_kind_name((model_kind)kind), train_wps, infer_wps, p50, p99);
    free(mom), free(vel), free(ends), free(bends), free(probs), free(lat);
    model_free(m);
  }
  printf("}}\n");
  free(X);
  free(y);
  return 0;
}
