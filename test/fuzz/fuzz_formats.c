/* fuzz_formats.c — libFuzzer harness for the other parsers: the .npy reader (over the
 * input as a file through fmemopen), the safetensors reader (model files), the label horizon
 * list, the backtest's inputs (strategy JSON, latency specs and latency files), and the feed
 * protocol layer with the recording line parser (fuzz_feed: the first byte picks the venue and
 * the entry points), and the Kafka event record decoder (an accepted record encodes back to the
 * same bytes). Any input must give a clean result or a clean error; a crash or sanitizer
 * report is a bug. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../feed_compare.h"
#include "obi/backtest.h"
#include "obi/feed.h"
#include "obi/kafka.h"
#include "obi/labels.h"
#include "obi/npy.h"
#include "obi/recording.h"
#include "obi/safetensors.h"

/* The feed: byte 0 bits 0-1 pick the venue, bit 2 adds unknown symbols, bits 3-4 the
 * snapshot limit (0..3), bit 5 calls feed_reset halfway. The rest is split into lines;
 * each goes through the recording line parser, then to the feed: lines starting with '#'
 * as a REST snapshot of symbol 0 (Binance), the others as WebSocket messages (a recording
 * line's JSON when it parses as one). Then the whole rest once more as one message and one
 * snapshot. Every call must return OK, EPARSE or ERANGE (check_books verifies the books
 * after each), known depth never exceeds the book, and an accepted decimal formats back
 * to itself.
 *
 * Every call also goes to a second feed with no_fast_path (jansson, the reference, for
 * every message): the fast depthUpdate scanner must never accept what the reference
 * rejects nor read anything differently, so after each call both must return the same
 * code and agree in feed_compare (items, scaled levels, counters, error text, books,
 * events); any difference aborts. */
#define SAME(call_f, call_r)                                                                                           \
  do {                                                                                                                 \
    obi_err ef_ = (call_f), er_ = (call_r);                                                                            \
    const char *d_ = ef_ != er_ ? "return codes" : feed_compare(f, r);                                                 \
    if (d_) {                                                                                                          \
      fprintf(stderr, "fast path and jansson differ in %s: %s | %s\n", d_, feed_last_error(f), feed_last_error(r));    \
      abort();                                                                                                         \
    }                                                                                                                  \
    err = ef_;                                                                                                         \
  } while (0)

static void fuzz_feed(const uint8_t *data, size_t size) {
  if (size < 1) return;
  const char *text = (const char *)data + 1, *end = text + size - 1;
  uint64_t hf = 0, hr = 0;
  feed_config cfg = {.check_books = 1,
                     .add_unknown_symbols = data[0] >> 2 & 1,
                     .snapshot_limit = data[0] >> 3 & 3,
                     .on_event = feed_compare_on_event,
                     .ctx = &hf};
  feed *f, *r;
  if (feed_new(&f, (feed_venue)(data[0] & 3), &cfg)) return;
  cfg.no_fast_path = 1, cfg.ctx = &hr;
  if (feed_new(&r, (feed_venue)(data[0] & 3), &cfg)) abort();
  feed_add_symbol(f, "BTCUSDT", 2, 3);
  feed_add_symbol(f, "BTC-USD", -1, -1);
  feed_add_symbol(r, "BTCUSDT", 2, 3);
  feed_add_symbol(r, "BTC-USD", -1, -1);
  int64_t t = 0;
  size_t lines = 0;
  for (const char *p = text; p < end; lines++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    rec_line rl;
    obi_err err;
    char why[256];
    ++t;
    if (rec_parse_line(p, len, &rl, why, sizeof why) == OBI_OK && rl.json)
      SAME(feed_on_message(f, t, rl.json, rl.json_len), feed_on_message(r, t, rl.json, rl.json_len));
    else if (len && p[0] == '#')
      SAME(feed_on_snapshot(f, 0, t, p + 1, len - 1), feed_on_snapshot(r, 0, t, p + 1, len - 1));
    else
      SAME(feed_on_message(f, t, p, len), feed_on_message(r, t, p, len));
    if (err && err != OBI_EPARSE && err != OBI_ERANGE && err != OBI_EINVAL) {
      fprintf(stderr, "feed error %d: %s\n", err, feed_last_error(f));
      abort();
    }
    for (int s = 0; s < feed_symbol_count(f); s++)
      for (int side = 0; side < 2; side++)
        if (feed_known_depth(f, s, side) > book_depth(feed_book(f, s), side)) abort();
    int sym;
    while (feed_snapshot_wanted(f, &sym)) {
    }
    while (feed_snapshot_wanted(r, &sym)) {
    }
    feed_resubscribe_wanted(f);
    feed_resubscribe_wanted(r);
    if ((data[0] & 0x20) && lines == 8) feed_reset(f, ++t), feed_reset(r, t);
    p += len + 1;
  }
  obi_err err, e1, e2;
  ++t;
  SAME(feed_on_message(f, t, text, (size_t)(end - text)), feed_on_message(r, t, text, (size_t)(end - text)));
  e1 = err;
  ++t;
  SAME(feed_on_snapshot(f, 0, t, text, (size_t)(end - text)), feed_on_snapshot(r, 0, t, text, (size_t)(end - text)));
  e2 = err;
  if ((e1 && e1 != OBI_EPARSE && e1 != OBI_ERANGE) || (e2 && e2 != OBI_EPARSE && e2 != OBI_ERANGE && e2 != OBI_EINVAL))
    abort();
  feed_free(f);
  feed_free(r);
  int64_t v, w;
  char back[32];
  size_t n = (size_t)(end - text) < 40 ? (size_t)(end - text) : 40;
  if (feed_parse_decimal(text, n, data[0] % 19, BOOK_MAX_QTY, &v) == OBI_OK) {
    int len = feed_format_decimal(v, data[0] % 19, back);
    if (feed_parse_decimal(back, (size_t)len, data[0] % 19, BOOK_MAX_QTY, &w) != OBI_OK || w != v) abort();
  }
}

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
  fuzz_feed(data, size);
  kafka_event_record kr;
  if (kafka_event_decode(&kr, data, size, why, sizeof why) == OBI_OK) {
    uint8_t back[KAFKA_EVENT_RECORD_SIZE];
    if (kafka_event_encode(back, &kr) != OBI_OK || size != sizeof back || memcmp(back, data, size)) abort();
  }
  static kafka_feature_record fr;
  if (kafka_features_decode(&fr, data, size, why, sizeof why) == OBI_OK) {
    static uint8_t back[KAFKA_FEATURES_HEADER_SIZE + 4 * KAFKA_FEATURES_MAX];
    if (kafka_features_encode(back, sizeof back, &fr) != size || memcmp(back, data, size)) abort();
  }
  kafka_prediction_record pr;
  if (kafka_prediction_decode(&pr, data, size, why, sizeof why) == OBI_OK) {
    uint8_t back[KAFKA_PREDICTION_RECORD_SIZE];
    if (kafka_prediction_encode(back, &pr) != OBI_OK || size != sizeof back || memcmp(back, data, size)) abort();
  }
  return 0;
}
