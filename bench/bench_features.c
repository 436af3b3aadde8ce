/* bench_features.c — the feature engine at every event: throughput and allocations.
 *
 * The LOBSTER pair is decompressed into memory, then replayed repeatedly. Two workloads:
 *   replay            the replay alone (parse, book, level sync)
 *   replay_features   the same plus feat_update and a full feat_compute (every column) per event
 * The engine's own cost per event is the difference. Median of 5 timed runs of >= 0.3 s.
 * Allocations are counted by interposing malloc; the engine is created once and warmed by a
 * first pass, so later passes show whether it allocates per event.
 * `bench.sh` adds callgrind instruction counts of feat_update + feat_compute per event.
 *
 * usage: bench_features [--callgrind] <messages> <orderbook> */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obi/features.h"
#include "obi/lobster.h"

#include "bench_common.h"

static const char *msg_text, *book_text;
static size_t msg_len, book_len;
static feat_engine *engine;
static double row[FEAT_MAX_COLS], sink;
static unsigned long long engine_allocs; /* allocations inside the engine calls */

static int64_t day_offset; /* each pass is replayed as the next day, so time only moves forward */

static uint64_t pass(int with_features) {
  day_offset += 86400LL * 1000000000LL;
  obi_textin *m, *b;
  obi_textin_open_mem(&m, msg_text, msg_len);
  obi_textin_open_mem(&b, book_text, book_len);
  lobster_options opt = {.day_from_name = 1};
  lobster_replay *r;
  if (lobster_open_readers(&r, m, "messages", b, "orderbook", &opt, NULL, 0)) exit(1);
  obi_event ev;
  uint64_t n = 0;
  while (lobster_next(r, &ev) == OBI_OK) {
    n++;
    if (!with_features) continue;
    ev.ts_ns += day_offset;
    unsigned long long a0 = allocations;
    feat_update(engine, &ev, lobster_book(r));
    if (feat_ready(engine)) feat_compute(engine, lobster_book(r), row);
    engine_allocs += allocations - a0;
    sink += row[0];
  }
  lobster_close(r);
  return n;
}

__attribute__((noinline)) static uint64_t replay_pass(void) { return pass(0); }
__attribute__((noinline)) static uint64_t features_pass(void) { return pass(1); }

int main(int argc, char **argv) {
  int callgrind = argc > 1 && !strcmp(argv[1], "--callgrind");
  int a = 1 + callgrind;
  if (argc - a != 2) {
    fprintf(stderr, "usage: bench_features [--callgrind] <messages> <orderbook>\n");
    return 2;
  }
  msg_text = slurp_text(argv[a], &msg_len);
  book_text = slurp_text(argv[a + 1], &book_len);
  feat_config c;
  feat_config_default(&c);
  if (feat_new(&engine, &c)) return 1;
  if (callgrind) { /* exactly one pass: bench.sh counts the instructions of feat_update + feat_compute */
    uint64_t events = features_pass();
    printf("{\"events\":%llu}\n", (unsigned long long)events);
    return 0;
  }
  uint64_t events = features_pass(); /* warm-up: the engine's windows reach their size */
  unsigned long long warm_allocs = engine_allocs;
  engine_allocs = 0;
  uint64_t p_replay = 0, p_feat = 0;
  double replay = bench_median_rate(replay_pass, 0.3, &p_replay);
  double with = bench_median_rate(features_pass, 0.3, &p_feat);
  double engine_ns = 1e9 / with - 1e9 / replay;
  fprintf(stderr,
          "replay %.2f M events/s, replay + features %.2f M events/s, engine %.0f ns/event (%.2f M/s), "
          "%llu engine allocations in %llu passes after warm-up (%llu while warming)\n",
          replay / 1e6, with / 1e6, engine_ns, 1e3 / engine_ns, engine_allocs, (unsigned long long)p_feat, warm_allocs);
  printf("{\"messages_file\":\"%s\",\"events\":%llu,\"columns\":%d,\"replay_events_per_second\":%.0f,"
         "\"replay_features_events_per_second\":%.0f,\"engine_ns_per_event\":%.1f,"
         "\"engine_events_per_second\":%.0f,\"engine_allocations_after_warmup\":%llu,\"timed_passes\":%llu}\n",
         argv[a], (unsigned long long)events, feat_count(engine), replay, with, engine_ns, 1e9 / engine_ns,
         engine_allocs, (unsigned long long)p_feat);
  feat_free(engine);
  return sink == 12345.678 ? 3 : 0;
}
