/* fuzz_formats.c — libFuzzer harness for the other parsers: the .npy reader (over the
 * input as a file through fmemopen), the safetensors reader (model files), the label horizon
 * list, and the backtest's inputs: strategy JSON, latency specs and latency files. Any input must give a
 * clean result or a clean error; a crash or sanitizer report is a bug. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obi/backtest.h"
#include "obi/labels.h"
#include "obi/npy.h"
#include "obi/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char why[256];
  if (size > 0) {
    FILE *f = fmemopen((void *)data, size, "rb");
    if (f) {
      npy_array a;
      if (npy_read_stream(&a, f, why, sizeof why) == OBI_OK) {
        /* the shape must describe exactly the data that was read */
        volatile unsigned char sink = 0;
        uint64_t bytes = a.shape[0] * (a.ndim == 2 ? a.shape[1] : 1) * a.item;
        for (uint64_t i = 0; i < bytes; i += 4096) sink ^= ((unsigned char *)a.data)[i];
        (void)sink;
        npy_free(&a);
      }
      fclose(f);
    }
  }
  /* safetensors: the reader takes over a copy of the input */
  unsigned char *copy = malloc(size ? size : 1);
  if (copy) {
    memcpy(copy, data, size);
    st_file f;
    if (st_read_buffer(&f, copy, size, why, sizeof why) == OBI_OK) {
      volatile float sink = 0;
      for (int i = 0; i < f.n; i++) {
        uint64_t count = 1;
        for (int d = 0; d < f.t[i].ndim; d++) count *= (uint64_t)f.t[i].shape[d];
        if (count) sink += f.t[i].data[count - 1]; /* the last value must be inside the buffer */
      }
      (void)sink;
      st_free(&f);
    }
  }
  char spec[128];
  size_t n = size < sizeof spec - 1 ? size : sizeof spec - 1;
  memcpy(spec, data, n);
  spec[n] = 0;
  label_horizon h[16];
  int nh;
  if (label_parse_horizons(spec, h, 16, &nh, why, sizeof why) == OBI_OK)
    for (int i = 0; i < nh; i++)
      if (h[i].value <= 0) abort();
  /* the backtest's inputs */
  char *text = malloc(size + 1);
  if (text) {
    memcpy(text, data, size);
    text[size] = 0;
    strat_config sc;
    strat_config_default(&sc);
    if (strat_config_from_json(&sc, text, why, sizeof why) == OBI_OK &&
        (!(sc.threshold > 0 && sc.threshold <= 1) || sc.size < 1 || (sc.hold_rows < 1 && sc.hold_ns < 1)))
      abort(); /* accepted values are in range */
    free(text);
  }
  sim_latency l;
  if (strncmp(spec, "file:", 5) && sim_latency_parse(&l, spec, why, sizeof why) == OBI_OK) {
    uint64_t rng = 1;
    if (sim_latency_draw(&l, 0, &rng) < 0) abort();
    sim_latency_free(&l);
  }
  sim_config qc;
  sim_config_default(&qc);
  if (sim_queue_parse(&qc, spec) == OBI_OK && !(qc.queue_power > 0)) abort();
  FILE *lf = size ? fmemopen((void *)data, size, "r") : NULL;
  if (lf) {
    memset(&l, 0, sizeof l);
    l.kind = SIM_LAT_FILE;
    if (sim_latency_read(&l, lf, "fuzz", why, sizeof why) == OBI_OK) {
      uint64_t rng = 1;
      for (size_t i = 0; i < l.n; i++)
        if (sim_latency_draw(&l, l.at[i], &rng) != l.value[i]) abort(); /* exact at the measured points */
    }
    sim_latency_free(&l);
    fclose(lf);
  }
  return 0;
}
