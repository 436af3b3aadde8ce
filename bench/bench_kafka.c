/* bench_kafka.c — Kafka produce and consume throughput against librdkafka's in-process mock
 * cluster (rd_kafka_mock_cluster_new: 3 brokers on loopback inside this process, the topic in
 * 4 partitions with replication 3, as test_kafka.c sets it up).
 *
 * The events are those of a LOBSTER day (decoded once, before timing) as 80-byte records of
 * instrument "AMZN", sequence 1, 2, 3, ... (kafka.h). Timed:
 *   produce   from the first kafka_produce_event to the return of kafka_producer_flush: every
 *             record acknowledged (idempotent producer, acks=all, zstd, linger 5 ms)
 *   consume   a new consumer group reads them back through kafka_consumer_poll (records decoded,
 *             passed to a callback, offsets committed synchronously after each poll of up to
 *             1000 records), from the first record to the last; joining the group (the mock
 *             coordinator's rebalance) is reported apart, not counted
 * Each of 3 runs uses a fresh topic and group; the figures are the medians. Twice: with the
 * producer's defaults (kafka_producer_new: librdkafka's batch.size, 1 MB) and with batch.size
 * 4 MB, to see whether batching matters (on the mock cluster it did not, once warm). The mock cluster
 * runs in this process: the brokers' work shares the 2 cores with the client, and there is no
 * network or disk, so a real cluster differs in both directions.
 *
 * usage: bench_kafka <messages> <orderbook>
 * Prints one JSON object on stdout and a human summary on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "obi/kafka.h"
#include "obi/lobster.h"

#include "bench_common.h"

#define RUNS 3

static kafka_event_record *recs;
static int nrecs;

typedef struct {
  int got;
  uint64_t last_seq;
  int out_of_order;
  double first;
} sink;

static int on_record(void *user, const kafka_event_record *r, int32_t partition, int64_t offset) {
  (void)partition, (void)offset;
  sink *k = user;
  if (!strcmp(r->symbol, "WARMUP")) return 0;
  if (k->got == 0) k->first = now();
  if (r->seq != k->last_seq + 1) k->out_of_order++;
  k->last_seq = r->seq;
  k->got++;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: bench_kafka <messages> <orderbook>\n");
    return 2;
  }
  char err[512];
  lobster_replay *r;
  if (lobster_open(&r, argv[1], argv[2], NULL, err, sizeof err)) {
    fprintf(stderr, "bench_kafka: %s\n", err);
    return 1;
  }
  obi_event ev;
  int cap = 1 << 16;
  recs = malloc((size_t)cap * sizeof *recs);
  while (lobster_next(r, &ev) == OBI_OK) {
    if (nrecs == cap) recs = realloc(recs, (size_t)(cap *= 2) * sizeof *recs);
    kafka_event_record *x = &recs[nrecs++];
    memset(x, 0, sizeof *x);
    x->seq = (uint64_t)nrecs;
    snprintf(x->symbol, sizeof x->symbol, "AMZN");
    x->ev = ev;
  }
  lobster_close(r);

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  rd_kafka_mock_cluster_t *mc = owner ? rd_kafka_mock_cluster_new(owner, 3) : NULL;
  if (!mc) {
    fprintf(stderr, "bench_kafka: cannot start the mock cluster: %s\n", err);
    return 1;
  }
  const char *brokers = rd_kafka_mock_cluster_bootstraps(mc);
  static const char *const big_batches[] = {"batch.size", "4000000", NULL};
  char json[2][256];
  for (int big = 0; big < 2; big++) {
    double produce[RUNS], consume[RUNS], join[RUNS];
    for (int run = 0; run < RUNS; run++) {
      char topic[32], group[32];
      snprintf(topic, sizeof topic, "events%d_%d", big, run);
      snprintf(group, sizeof group, "bench%d_%d", big, run);
      if (rd_kafka_mock_topic_create(mc, topic, 4, 3)) return 1;
      kafka_producer *p;
      kafka_producer_options po = {.compression = "zstd", .linger_ms = 5, .config = big ? big_batches : NULL};
      if (kafka_producer_new(&p, brokers, topic, &po, err, sizeof err)) {
        fprintf(stderr, "bench_kafka: %s\n", err);
        return 1;
      }
      /* warm-up, not timed: topic metadata and the idempotent producer's id */
      kafka_event_record warm = recs[0];
      snprintf(warm.symbol, sizeof warm.symbol, "WARMUP");
      if (kafka_produce_event(p, &warm) || kafka_producer_flush(p, 60000)) {
        fprintf(stderr, "bench_kafka: warm-up: %s\n", kafka_producer_error(p));
        return 1;
      }
      double t0 = now();
      for (int i = 0; i < nrecs; i++)
        if (kafka_produce_event(p, &recs[i])) {
          fprintf(stderr, "bench_kafka: %s\n", kafka_producer_error(p));
          return 1;
        }
      if (kafka_producer_flush(p, 60000)) {
        fprintf(stderr, "bench_kafka: flush: %s\n", kafka_producer_error(p));
        return 1;
      }
      produce[run] = (double)nrecs / (now() - t0);
      kafka_producer_free(p);

      static const char *const fast[] = {"heartbeat.interval.ms", "300", NULL};
      kafka_consumer_options co = {.session_timeout_ms = 4000, .config = fast};
      kafka_consumer *c;
      double tj = now();
      if (kafka_consumer_new(&c, brokers, topic, group, &co, err, sizeof err)) {
        fprintf(stderr, "bench_kafka: %s\n", err);
        return 1;
      }
      sink k = {0};
      double deadline = now() + 120;
      while (k.got < nrecs && now() < deadline) {
        int got;
        if (kafka_consumer_poll(c, 100, 1000, on_record, &k, &got)) {
          fprintf(stderr, "bench_kafka: %s\n", kafka_consumer_error(c));
          return 1;
        }
      }
      double t1 = now();
      kafka_consumer_free(c);
      if (k.got != nrecs || k.out_of_order) {
        fprintf(stderr, "bench_kafka: consumed %d of %d records, %d out of order\n", k.got, nrecs, k.out_of_order);
        return 1;
      }
      join[run] = k.first - tj;
      consume[run] = (double)(nrecs - 1) / (t1 - k.first);
    }
    qsort(produce, RUNS, sizeof *produce, cmp_double);
    qsort(consume, RUNS, sizeof *consume, cmp_double);
    qsort(join, RUNS, sizeof *join, cmp_double);
    double both = 1 / (1 / produce[1] + 1 / consume[1]);
    fprintf(stderr,
            "kafka (mock cluster, %d events, batch.size %s): produce %.0f events/s, consume %.0f events/s, produce + "
            "consume %.0f events/s (group join %.2f s, not counted)\n",
            nrecs, big ? "4000000" : "default", produce[1], consume[1], both, join[1]);
    snprintf(json[big], sizeof json[big],
             "{\"produce_events_per_second\":%.0f,\"consume_events_per_second\":%.0f,"
             "\"produce_consume_events_per_second\":%.0f,\"group_join_seconds\":%.2f}",
             produce[1], consume[1], both, join[1]);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(owner);
  printf("{\"messages_file\":\"%s\",\"events\":%d,\"default\":%s,\"batch_size_4mb\":%s}\n", argv[1], nrecs, json[0],
         json[1]);
  free(recs);
  return 0;
}
