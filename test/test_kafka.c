/* test_kafka.c — the Kafka record format and the producer/consumer against librdkafka's
 * in-process mock cluster (rd_kafka_mock_cluster_new: brokers on loopback inside this process,
 * no real Kafka). The stream is the bundled LOBSTER sample: the first 2000 messages of the
 * level-10 file as instrument "AMZN" and the first 1000 of the level-1 file as "AMZN1", each
 * followed by the producer's level corrections (kafka_sync_levels). Every test checks that what
 * the consumers passed on, per instrument, is byte for byte the produced sequence, and that the
 * books rebuilt from it equal the replay's books level for level. */
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "obi/kafka.h"
#include "obi/lobster.h"
#include "test.h"

#define DAY OBI_SOURCE_DIR "/data/lobster/AMZN_2012-06-21_34200000_57600000_"
#define NSYM 2
#define PARTITIONS 4

static const char *const sym_names[NSYM] = {"AMZN", "AMZN1"};

typedef struct {
  kafka_event_record *r;
  int n, cap;
} rec_list;

static int rec_push(rec_list *l, const kafka_event_record *r) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 1024;
    kafka_event_record *p = realloc(l->r, (size_t)cap * sizeof *p);
    if (!p) return -1;
    l->r = p;
    l->cap = cap;
  }
  l->r[l->n++] = *r;
  return 0;
}

/* The produced stream: per instrument its records in order, and the replay's final book. */
typedef struct {
  rec_list sent[NSYM];
  obi_book truth[NSYM];
} stream;

static void stream_free(stream *s) {
  for (int i = 0; i < NSYM; i++) {
    free(s->sent[i].r);
    book_free(&s->truth[i]);
  }
}

/* Replays `messages` messages of a LOBSTER pair into records for symbol (events, then the
 * corrections that make a book rebuilt from the records equal the replay's), and copies the
 * replay's final book into truth. */
static int make_records(const char *level, const char *symbol, int messages, rec_list *out, obi_book *truth) {
  char m[512], o[512], err[512];
  snprintf(m, sizeof m, DAY "message_%s.csv.zst", level);
  snprintf(o, sizeof o, DAY "orderbook_%s.csv.zst", level);
  lobster_replay *r;
  if (lobster_open(&r, m, o, NULL, err, sizeof err)) return -1;
  obi_book mirror;
  if (book_init(&mirror, 0) || book_init(truth, 0)) return -1;
  uint64_t seq = 0;
  obi_event ev, fix[256];
  int ok = 0, nfix;
  for (int i = 0; i < messages && lobster_next(r, &ev) == OBI_OK; i++) {
    kafka_event_record rec = {.seq = ++seq, .ev = ev};
    snprintf(rec.symbol, sizeof rec.symbol, "%s", symbol);
    kafka_apply_event(&mirror, &ev);
    if (rec_push(out, &rec) || kafka_sync_levels(&mirror, lobster_book(r), ev.ts_ns, fix, 256, &nfix)) goto done;
    for (int k = 0; k < nfix; k++) {
      kafka_event_record c = {.seq = ++seq, .flags = KAFKA_FLAG_CORRECTION, .ev = fix[k]};
      snprintf(c.symbol, sizeof c.symbol, "%s", symbol);
      if (rec_push(out, &c)) goto done;
    }
  }
  /* truth: the replay's levels, as anonymous liquidity */
  const obi_book *b = lobster_book(r);
  for (int side = 0; side < 2; side++)
    for (uint32_t k = 0; k < book_depth(b, side); k++) {
      const book_level *l = book_level_at(b, side, k);
      if (book_set_level(truth, side, l->price, l->size, 0)) goto done;
    }
  ok = 1;
done:
  book_free(&mirror);
  lobster_close(r);
  return ok ? 0 : -1;
}

static int stream_make(stream *s) {
  memset(s, 0, sizeof *s);
  return make_records("10", sym_names[0], 2000, &s->sent[0], &s->truth[0]) ||
         make_records("1", sym_names[1], 1000, &s->sent[1], &s->truth[1]);
}

static int same_record(const kafka_event_record *a, const kafka_event_record *b) {
  uint8_t x[KAFKA_EVENT_RECORD_SIZE], y[KAFKA_EVENT_RECORD_SIZE];
  return kafka_event_encode(x, a) == OBI_OK && kafka_event_encode(y, b) == OBI_OK && !memcmp(x, y, sizeof x);
}

static int same_levels(const obi_book *a, const obi_book *b) {
  for (int side = 0; side < 2; side++) {
    if (book_depth(a, side) != book_depth(b, side)) return 0;
    for (uint32_t k = 0; k < book_depth(a, side); k++)
      if (book_level_at(a, side, k)->price != book_level_at(b, side, k)->price ||
          book_level_at(a, side, k)->size != book_level_at(b, side, k)->size)
        return 0;
  }
  return 1;
}

/* A mock cluster of 3 brokers with the topic in PARTITIONS partitions, replication 3. */
typedef struct {
  rd_kafka_t *owner;
  rd_kafka_mock_cluster_t *mc;
  char brokers[256];
} mock;

static int mock_start(mock *m, const char *topic) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
  m->owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!m->owner) return -1;
  m->mc = rd_kafka_mock_cluster_new(m->owner, 3);
  if (!m->mc) return -1;
  snprintf(m->brokers, sizeof m->brokers, "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
  return rd_kafka_mock_topic_create(m->mc, topic, PARTITIONS, 3) ? -1 : 0;
}

static void mock_stop(mock *m) {
  if (m->mc) rd_kafka_mock_cluster_destroy(m->mc);
  if (m->owner) rd_kafka_destroy(m->owner);
}

/* Reconnect quickly to a broker that comes back (the default backoff grows to 10 s). */
static const char *const fast[] = {"reconnect.backoff.ms", "10", "reconnect.backoff.max.ms", "100", NULL};

static kafka_producer *new_producer(const mock *m, const char *topic) {
  kafka_producer *p;
  char err[512];
  kafka_producer_options o = {.compression = "zstd", .linger_ms = 2, .message_timeout_ms = 60000, .config = fast};
  if (kafka_producer_new(&p, m->brokers, topic, &o, err, sizeof err)) {
    printf("# %s\n", err);
    return NULL;
  }
  return p;
}

/* Produces records [from, to) of each instrument's list (as a fraction of its length, in
 * thousandths), interleaving the instruments. */
static int produce_range(kafka_producer *p, const stream *s, int from_permille, int to_permille) {
  int lo[NSYM], hi[NSYM], more = 1;
  for (int i = 0; i < NSYM; i++) {
    lo[i] = (int)((long)s->sent[i].n * from_permille / 1000);
    hi[i] = (int)((long)s->sent[i].n * to_permille / 1000);
  }
  while (more) {
    more = 0;
    for (int i = 0; i < NSYM; i++)
      for (int k = 0; k < 16 && lo[i] < hi[i]; k++, more = 1)
        if (kafka_produce_event(p, &s->sent[i].r[lo[i]++])) return -1;
  }
  return 0;
}

/* What a consumer passed on: per instrument, the records and the book rebuilt from them; the
 * offset of each partition's first record; `stop_at` > 0 makes the callback refuse the record
 * that would be the stop_at-th (a crash before that record was processed). Records marked
 * KAFKA_DELIVERY_REBUILD go to the book and to `rebuilt`, not to `got` nor the counts above. */
typedef struct {
  rec_list got[NSYM], rebuilt[NSYM];
  int firsts; /* records marked KAFKA_DELIVERY_FIRST */
  obi_book book[NSYM];
  int partition_of[NSYM];
  int64_t first_offset[PARTITIONS];
  int total, stop_at, apply_errors, bad_partition;
} sink;

static void sink_init(sink *k) {
  memset(k, 0, sizeof *k);
  for (int i = 0; i < NSYM; i++) {
    book_init(&k->book[i], 0);
    k->partition_of[i] = -1;
  }
  for (int i = 0; i < PARTITIONS; i++) k->first_offset[i] = -1;
}

static void sink_free(sink *k) {
  for (int i = 0; i < NSYM; i++) {
    free(k->got[i].r);
    free(k->rebuilt[i].r);
    book_free(&k->book[i]);
  }
}

static int on_record(void *user, const kafka_event_record *r, int32_t partition, int64_t offset) {
  sink *k = user;
  if (k->stop_at && k->total + 1 == k->stop_at) return 99;
  int i = 0;
  while (i < NSYM && strcmp(sym_names[i], r->symbol)) i++;
  if (i == NSYM || partition < 0 || partition >= PARTITIONS) return 98;
  if (k->partition_of[i] < 0) k->partition_of[i] = partition;
  if (k->partition_of[i] != partition) k->bad_partition++; /* an instrument stays in one partition */
  k->firsts += (r->delivery & KAFKA_DELIVERY_FIRST) != 0;
  if (kafka_apply_event(&k->book[i], &r->ev) && r->ev.type != OBI_EV_CANCEL && r->ev.type != OBI_EV_DELETE &&
      r->ev.type != OBI_EV_EXEC)
    k->apply_errors++;
  if (r->delivery & KAFKA_DELIVERY_REBUILD) return rec_push(&k->rebuilt[i], r) ? 97 : 0;
  if (k->first_offset[partition] < 0) k->first_offset[partition] = offset;
  if (rec_push(&k->got[i], r)) return 97;
  k->total++;
  return 0;
}

static int expected_total(const stream *s) {
  int n = 0;
  for (int i = 0; i < NSYM; i++) n += s->sent[i].n;
  return n;
}

/* Consumes with a new member of group until the sink holds `until` records, the callback stops
 * it, or 20 s pass. Returns the consumer (still in the group) or NULL. */
static obi_err consume(const mock *m, const char *topic, const char *group, sink *k, int until, int rebuild,
                       kafka_consumer **keep) {
  kafka_consumer *c;
  char err[512];
  /* a short session: the mock coordinator waits session timeout - 1 s for members to rejoin */
  static const char *const consumer_fast[] = {
      "reconnect.backoff.ms", "10", "reconnect.backoff.max.ms", "100", "heartbeat.interval.ms", "300", NULL};
  kafka_consumer_options o = {.session_timeout_ms = 4000, .config = consumer_fast, .rebuild = rebuild};
  obi_err rc = kafka_consumer_new(&c, m->brokers, topic, group, &o, err, sizeof err);
  if (rc) {
    printf("# %s\n", err);
    return rc;
  }
  time_t deadline = time(NULL) + 20;
  while (k->total < until && time(NULL) < deadline) {
    int got;
    rc = kafka_consumer_poll(c, 100, 500, on_record, k, &got);
    if (rc) break;
  }
  if (keep)
    *keep = c;
  else
    kafka_consumer_free(c);
  return rc;
}

/* A plain reader of every partition of topic from its beginning (assigned, no group join), or NULL. */
static rd_kafka_t *open_reader(const mock *m, const char *topic, const char *group) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", m->brokers, errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr)) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) return NULL;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
  for (int i = 0; i < PARTITIONS; i++)
    rd_kafka_topic_partition_list_add(parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  return rk;
}

/* Reads the whole topic with a plain reader (partitions assigned, no group: no join wait) into
 * k, and returns the number of records the partitions' logs hold (the sum of high - low
 * watermarks), or -1: the producer's result, duplicates included, seen from the broker. */
static int64_t read_topic(const mock *m, const char *topic, sink *k, int until) {
  rd_kafka_t *rk = open_reader(m, topic, "reader");
  if (!rk) return -1;
  time_t deadline = time(NULL) + 20;
  while (k->total < until && time(NULL) < deadline) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
    if (!msg) continue;
    kafka_event_record r;
    if (!msg->err && kafka_event_decode(&r, msg->payload, msg->len, NULL, 0) == OBI_OK)
      on_record(k, &r, msg->partition, msg->offset);
    rd_kafka_message_destroy(msg);
  }
  int64_t held = 0;
  for (int i = 0; i < PARTITIONS; i++) {
    int64_t lo, hi;
    if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 5000)) held = -1;
    if (held >= 0) held += hi - lo;
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return held;
}

/* The consumed records of each instrument, concatenated over the sinks, equal the produced ones;
 * the rebuilt books equal the replay's. */
static int check_streams(const stream *s, sink *const *sinks, int nsinks) {
  for (int i = 0; i < NSYM; i++) {
    int at = 0;
    for (int j = 0; j < nsinks; j++)
      for (int q = 0; q < sinks[j]->got[i].n; q++, at++)
        if (at >= s->sent[i].n || !same_record(&sinks[j]->got[i].r[q], &s->sent[i].r[at])) {
          printf("# %s: record %d differs from the produced one (seq %llu)\n", sym_names[i], at,
                 (unsigned long long)sinks[j]->got[i].r[q].seq);
          return 0;
        }
    if (at != s->sent[i].n) {
      printf("# %s: consumed %d of %d records\n", sym_names[i], at, s->sent[i].n);
      return 0;
    }
  }
  return 1;
}

void kafka_record_round_trip_and_bad_records(void) {
  kafka_event_record r = {.seq = 0x0102030405060708ULL, .flags = KAFKA_FLAG_CORRECTION, .symbol = "AMZN"};
  r.ev = (obi_event){.ts_ns = 1340285400123456789LL,
                     .type = OBI_EV_EXEC,
                     .side = OBI_ASK,
                     .price = 2238100,
                     .size = -5,
                     .order_id = 0xfedcba9876543210ULL};
  uint8_t b[KAFKA_EVENT_RECORD_SIZE + 1];
  CHECK_EQ(kafka_event_encode(b, &r), OBI_OK);
  /* the header and little-endian fields, byte by byte */
  static const uint8_t head[16] = {0x4f, 0x4b, 1, 1, 1, 4, 1, 4, 8, 7, 6, 5, 4, 3, 2, 1};
  CHECK(!memcmp(b, head, sizeof head));
  CHECK_EQ(b[32], 0xfb); /* size -5 in two's complement */
  CHECK_EQ(b[39], 0xff);
  CHECK_EQ(b[40], 0x10);
  CHECK_EQ(b[47], 0xfe);
  CHECK(!memcmp(b + 48, "AMZN\0\0", 6));
  kafka_event_record d;
  char why[256];
  CHECK_EQ(kafka_event_decode(&d, b, KAFKA_EVENT_RECORD_SIZE, why, sizeof why), OBI_OK);
  CHECK(same_record(&d, &r));
  CHECK_EQ(d.seq, r.seq);
  CHECK_EQ(d.ev.size, -5);
  CHECK_EQ(d.ev.order_id, r.ev.order_id);
  CHECK_EQ(d.ev.ts_ns, r.ev.ts_ns);
  CHECK(!strcmp(d.symbol, "AMZN"));
  /* every truncation, and a trailing byte */
  for (size_t len = 0; len < KAFKA_EVENT_RECORD_SIZE; len++) {
    obi_err e = kafka_event_decode(&d, b, len, why, sizeof why);
    if (e != OBI_EPARSE || !strstr(why, "truncated")) {
      printf("# length %zu: %s '%s'\n", len, obi_err_name(e), why);
      CHECK(0);
    }
  }
  b[KAFKA_EVENT_RECORD_SIZE] = 0;
  CHECK_EQ(kafka_event_decode(&d, b, KAFKA_EVENT_RECORD_SIZE + 1, why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "trailing");
  /* one bad byte at a time */
  static const struct {
    int off, value, err;
    const char *why;
  } bad[] = {
      {0, 'X', OBI_EPARSE, "magic"},         {2, 2, OBI_EUNSUPPORTED, "version 2"},
      {2, 0, OBI_EUNSUPPORTED, "version 0"}, {3, 2, OBI_EUNSUPPORTED, "kind"},
      {4, 2, OBI_EPARSE, "flags"},           {5, 0, OBI_EPARSE, "byte 5"},
      {5, 11, OBI_EPARSE, "byte 5"},         {6, 2, OBI_EPARSE, "side"},
      {7, 0, OBI_EPARSE, "symbol"},          {7, 32, OBI_EPARSE, "symbol"},
      {7, 5, OBI_EPARSE, "symbol"},          {60, 'A', OBI_EPARSE, "padding"},
      {49, ' ', OBI_EPARSE, "symbol"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t c[KAFKA_EVENT_RECORD_SIZE];
    memcpy(c, b, sizeof c);
    c[bad[i].off] = (uint8_t)bad[i].value;
    why[0] = 0;
    obi_err e = kafka_event_decode(&d, c, sizeof c, why, sizeof why);
    if (e != bad[i].err || !strstr(why, bad[i].why)) {
      printf("# byte %d = %d: %s '%s', wanted '%s'\n", bad[i].off, bad[i].value, obi_err_name(e), why, bad[i].why);
      CHECK(0);
    }
  }
  /* what cannot be encoded */
  kafka_event_record e = r;
  e.symbol[0] = 0;
  CHECK_EQ(kafka_event_encode(b, &e), OBI_EINVAL);
  e = r;
  memset(e.symbol, 'A', sizeof e.symbol); /* 32 bytes, no terminator */
  CHECK_EQ(kafka_event_encode(b, &e), OBI_EINVAL);
  e = r;
  e.ev.type = OBI_EV__COUNT;
  CHECK_EQ(kafka_event_encode(b, &e), OBI_EINVAL);
  e = r;
  e.ev.side = 2;
  CHECK_EQ(kafka_event_encode(b, &e), OBI_EINVAL);
  e = r;
  e.flags = 4;
  CHECK_EQ(kafka_event_encode(b, &e), OBI_EINVAL);
}

void kafka_feature_and_prediction_records(void) {
  static kafka_feature_record f, g;
  memset(&f, 0, sizeof f);
  snprintf(f.symbol, sizeof f.symbol, "AMZN");
  f.seq = 0x0102030405060708ull, f.ts_ns = -5, f.count = 3;
  const char *const names[] = {"imb_l1", "spread_bps"};
  f.feature_set = kafka_feature_set_hash(names, 2);
  CHECK(f.feature_set != kafka_feature_set_hash(names, 1));
  f.values[0] = 1.5f, f.values[1] = -0.0f, f.values[2] = NAN;
  static uint8_t b[KAFKA_FEATURES_HEADER_SIZE + 4 * KAFKA_FEATURES_MAX], b2[sizeof b];
  size_t n = kafka_features_encode(b, sizeof b, &f);
  CHECK_EQ((long)n, 68 + 12);
  CHECK(b[0] == 0x4f && b[1] == 0x4b && b[2] == 1 && b[3] == 2 && b[7] == 4 && b[8] == 8 && b[32] == 3 && b[33] == 0);
  CHECK(!memcmp(b + 36, "AMZN", 4) && b[68 + 3] == 0x3f && b[68 + 2] == 0xc0); /* 1.5f = 3fc00000, little-endian */
  CHECK_EQ(kafka_features_decode(&g, b, n, NULL, 0), OBI_OK);
  CHECK(g.seq == f.seq && g.ts_ns == -5 && g.feature_set == f.feature_set && g.count == 3 && !strcmp(g.symbol, "AMZN"));
  CHECK(g.values[0] == 1.5f && isnan(g.values[2]));
  CHECK_EQ((long)kafka_features_encode(b2, sizeof b2, &g), (long)n);
  CHECK(!memcmp(b, b2, n));
  char why[200];
  int bad = 0;
  for (size_t k = 0; k < n; k++) bad += kafka_features_decode(&g, b, k, why, sizeof why) == OBI_OK;
  CHECK_EQ(bad, 0);
  CHECK_EQ(kafka_features_decode(&g, b, n + 1, why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "trailing");
  b[3] = 3;
  CHECK_EQ(kafka_features_decode(&g, b, n, why, sizeof why), OBI_EUNSUPPORTED);
  b[3] = 2, b[5] = 1;
  CHECK_EQ(kafka_features_decode(&g, b, n, why, sizeof why), OBI_EPARSE);
  b[5] = 0, b[32] = 0;
  CHECK_EQ(kafka_features_decode(&g, b, n, why, sizeof why), OBI_EPARSE);
  b[32] = 3, b[40] = 'X';
  CHECK_EQ(kafka_features_decode(&g, b, n, why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "padding");
  f.count = 0;
  CHECK_EQ((long)kafka_features_encode(b, sizeof b, &f), 0);
  f.count = 3;
  CHECK_EQ((long)kafka_features_encode(b, 70, &f), 0);

  kafka_prediction_record p = {.seq = 7, .ts_ns = 123, .p = {0.25f, 0.5f, 0.25f}}, q;
  snprintf(p.symbol, sizeof p.symbol, "AMZN");
  snprintf(p.model_kind, sizeof p.model_kind, "logistic");
  snprintf(p.model_version, sizeof p.model_version, "0123456789ab");
  uint8_t pb[KAFKA_PREDICTION_RECORD_SIZE], pb2[KAFKA_PREDICTION_RECORD_SIZE];
  CHECK_EQ(kafka_prediction_encode(pb, &p), OBI_OK);
  CHECK(pb[3] == 3 && pb[7] == 4 && pb[8] == 7 && pb[16] == 123 && !memcmp(pb + 40, "AMZN", 4));
  CHECK(!memcmp(pb + 72, "logistic", 9) && !memcmp(pb + 88, "0123456789ab", 13));
  CHECK_EQ(kafka_prediction_decode(&q, pb, sizeof pb, why, sizeof why), OBI_OK);
  CHECK(q.seq == 7 && q.ts_ns == 123 && q.p[1] == 0.5f && !strcmp(q.model_kind, "logistic") &&
        !strcmp(q.model_version, "0123456789ab") && !strcmp(q.symbol, "AMZN"));
  CHECK_EQ(kafka_prediction_encode(pb2, &q), OBI_OK);
  CHECK(!memcmp(pb, pb2, sizeof pb));
  bad = 0;
  for (size_t k = 0; k < sizeof pb; k++) bad += kafka_prediction_decode(&q, pb, k, why, sizeof why) == OBI_OK;
  CHECK_EQ(bad, 0);
  uint8_t longer[KAFKA_PREDICTION_RECORD_SIZE + 1] = {0};
  memcpy(longer, pb, sizeof pb);
  CHECK_EQ(kafka_prediction_decode(&q, longer, sizeof longer, why, sizeof why), OBI_EPARSE);
  CHECK_EQ(kafka_event_decode(&(kafka_event_record){0}, pb, sizeof pb, why, sizeof why), OBI_EUNSUPPORTED);
  pb[102] = 'x'; /* a byte after the version's terminator */
  CHECK_EQ(kafka_prediction_decode(&q, pb, sizeof pb, why, sizeof why), OBI_EPARSE);
  pb[102] = 0, pb[72] = 0; /* empty model kind */
  CHECK_EQ(kafka_prediction_decode(&q, pb, sizeof pb, why, sizeof why), OBI_EPARSE);
  p.model_version[0] = 0;
  CHECK_EQ(kafka_prediction_encode(pb, &p), OBI_EINVAL);
}

void kafka_sync_levels_rebuilds_the_replay_book(void) {
  /* replaying the produced records (no Kafka) through kafka_apply_event gives the replay's book */
  stream s;
  CHECK(stream_make(&s) == 0);
  int corrections = 0, ok = 1;
  for (int i = 0; i < NSYM && ok; i++) {
    obi_book b;
    book_init(&b, 0);
    for (int k = 0; k < s.sent[i].n; k++) {
      corrections += s.sent[i].r[k].flags & KAFKA_FLAG_CORRECTION;
      kafka_apply_event(&b, &s.sent[i].r[k].ev);
    }
    char why[256];
    ok = same_levels(&b, &s.truth[i]) && book_check(&b, why, sizeof why) == OBI_OK;
    book_free(&b);
  }
  printf("# %d + %d records, %d corrections\n", s.sent[0].n, s.sent[1].n, corrections);
  CHECK(ok);
  CHECK(corrections > 0);
  CHECK(s.sent[0].n > 2000 && s.sent[1].n > 1000);
  stream_free(&s);
}

void kafka_produce_consume_round_trip(void) {
  stream s;
  mock m = {0};
  sink k;
  sink_init(&k);
  CHECK(stream_make(&s) == 0);
  CHECK(mock_start(&m, "events") == 0);
  kafka_producer *p = new_producer(&m, "events");
  CHECK(p);
  CHECK(produce_range(p, &s, 0, 1000) == 0);
  CHECK_EQ(kafka_producer_flush(p, 30000), OBI_OK);
  CHECK_EQ(kafka_producer_get_stats(p)->delivered, expected_total(&s));
  kafka_producer_free(p);
  CHECK_EQ(consume(&m, "events", "g1", &k, expected_total(&s), 0, NULL), OBI_OK);
  sink *all[] = {&k};
  CHECK(check_streams(&s, all, 1));
  sink r;
  sink_init(&r);
  CHECK_EQ(read_topic(&m, "events", &r, expected_total(&s)), expected_total(&s));
  sink_free(&r);
  CHECK_EQ(k.bad_partition, 0);
  CHECK_EQ(k.apply_errors, 0);
  for (int i = 0; i < NSYM; i++) CHECK(same_levels(&k.book[i], &s.truth[i]));
  int64_t bid, ask, size;
  CHECK(book_best(&k.book[0], OBI_BID, &bid, &size) && book_best(&k.book[0], OBI_ASK, &ask, &size));
  CHECK(bid < ask);
  sink_free(&k);
  stream_free(&s);
  mock_stop(&m);
}

void kafka_broker_down_and_up_during_production(void) {
  stream s;
  mock m = {0};
  sink k;
  sink_init(&k);
  CHECK(stream_make(&s) == 0);
  CHECK(mock_start(&m, "events") == 0);
  kafka_producer *p = new_producer(&m, "events");
  CHECK(p);
  CHECK(produce_range(p, &s, 0, 400) == 0);
  CHECK_EQ(kafka_producer_flush(p, 30000), OBI_OK);
  /* every partition led by broker 1, which goes down with records in flight */
  for (int part = 0; part < PARTITIONS; part++) rd_kafka_mock_partition_set_leader(m.mc, "events", part, 1);
  CHECK(produce_range(p, &s, 400, 700) == 0);
  rd_kafka_mock_broker_set_down(m.mc, 1);
  CHECK(produce_range(p, &s, 700, 1000) == 0);
  rd_kafka_flush(kafka_producer_handle(p), 1500); /* retries against the down broker */
  int64_t waiting = (int64_t)expected_total(&s) - (int64_t)kafka_producer_get_stats(p)->delivered;
  rd_kafka_mock_broker_set_up(m.mc, 1);
  CHECK_EQ(kafka_producer_flush(p, 30000), OBI_OK);
  printf("# %lld records waited for the broker\n", (long long)waiting);
  CHECK(waiting > 0);
  CHECK_EQ(kafka_producer_get_stats(p)->delivered, expected_total(&s));
  CHECK_EQ(kafka_producer_get_stats(p)->failed, 0);
  kafka_producer_free(p);
  CHECK_EQ(read_topic(&m, "events", &k, expected_total(&s)), expected_total(&s)); /* no duplicate in the log */
  sink *all[] = {&k};
  CHECK(check_streams(&s, all, 1));
  for (int i = 0; i < NSYM; i++) CHECK(same_levels(&k.book[i], &s.truth[i]));
  sink_free(&k);
  stream_free(&s);
  mock_stop(&m);
}

void kafka_leader_change_during_production(void) {
  stream s;
  mock m = {0};
  sink k;
  sink_init(&k);
  CHECK(stream_make(&s) == 0);
  CHECK(mock_start(&m, "events") == 0);
  for (int part = 0; part < PARTITIONS; part++) rd_kafka_mock_partition_set_leader(m.mc, "events", part, 1);
  kafka_producer *p = new_producer(&m, "events");
  CHECK(p);
  CHECK(produce_range(p, &s, 0, 500) == 0);
  CHECK_EQ(kafka_producer_flush(p, 30000), OBI_OK);
  for (int part = 0; part < PARTITIONS; part++) rd_kafka_mock_partition_set_leader(m.mc, "events", part, 2 + part % 2);
  CHECK(produce_range(p, &s, 500, 1000) == 0);
  CHECK_EQ(kafka_producer_flush(p, 30000), OBI_OK);
  CHECK_EQ(kafka_producer_get_stats(p)->delivered, expected_total(&s));
  kafka_producer_free(p);
  CHECK_EQ(read_topic(&m, "events", &k, expected_total(&s)), expected_total(&s)); /* no duplicate in the log */
  sink *all[] = {&k};
  CHECK(check_streams(&s, all, 1));
  for (int i = 0; i < NSYM; i++) CHECK(same_levels(&k.book[i], &s.truth[i]));
  sink_free(&k);
  stream_free(&s);
  mock_stop(&m);
}

void kafka_consumer_restart_resumes_from_commit(void) {
  stream s;
  mock m = {0};
  sink a, b;
  sink_init(&a);
  sink_init(&b);
  CHECK(stream_make(&s) == 0);
  CHECK(mock_start(&m, "events") == 0);
  kafka_producer *p = new_producer(&m, "events");
  CHECK(p);
  CHECK(produce_range(p, &s, 0, 1000) == 0);
  CHECK_EQ(kafka_producer_flush(p, 30000), OBI_OK);
  kafka_producer_free(p);
  /* the first instance "crashes" on its 1500th record: the callback refuses it */
  int total = expected_total(&s);
  a.stop_at = 1500;
  kafka_consumer *c = NULL;
  CHECK_EQ(consume(&m, "events", "g1", &a, total, 0, &c), 99);
  CHECK_EQ(a.total, 1499);
  int64_t committed[PARTITIONS];
  for (int part = 0; part < PARTITIONS; part++) committed[part] = kafka_consumer_committed(c, part);
  kafka_consumer_free(c);
  /* the second instance of the group (rebuild: its state lives in memory) reads each partition
   * from the beginning: what the first one committed comes marked KAFKA_DELIVERY_REBUILD, and
   * the new records start at the committed offsets */
  CHECK_EQ(consume(&m, "events", "g1", &b, total - a.total, 1, &c), OBI_OK);
  CHECK_EQ(b.total, total - 1499);
  for (int part = 0; part < PARTITIONS; part++)
    if (b.first_offset[part] >= 0) CHECK_EQ(b.first_offset[part], committed[part] < 0 ? 0 : committed[part]);
  sink *both[] = {&a, &b};
  CHECK(check_streams(&s, both, 2));
  int rebuilt = 0;
  for (int i = 0; i < NSYM; i++) { /* the rebuild records are exactly what the first instance processed */
    CHECK_EQ(b.rebuilt[i].n, a.got[i].n);
    for (int q = 0; q < a.got[i].n; q++) CHECK(same_record(&b.rebuilt[i].r[q], &a.got[i].r[q]));
    rebuilt += b.rebuilt[i].n;
    CHECK(same_levels(&b.book[i], &s.truth[i])); /* books rebuilt from the start: the replay's */
  }
  CHECK_EQ(rebuilt, 1499);
  CHECK_EQ(kafka_consumer_get_stats(c)->rebuilt, 1499);
  CHECK_EQ(b.firsts, NSYM);
  for (int part = 0; part < PARTITIONS; part++) /* commits moved forward only, to the log end */
    CHECK(kafka_consumer_committed(c, part) >= committed[part]);
  kafka_consumer_free(c);
  sink_free(&a);
  sink_free(&b);
  stream_free(&s);
  mock_stop(&m);
}

void kafka_cli_stream_produce_consume(void) {
  /* obi stream in a child process against the mock cluster of this one (loopback) */
  stream s;
  mock m = {0};
  CHECK(stream_make(&s) == 0);
  CHECK(mock_start(&m, "cli") == 0);
  char args[1024];
  snprintf(args, sizeof args,
           "stream --kafka %s --topic cli produce data/lobster/AMZN_2012-06-21_34200000_57600000_message_10.csv.zst "
           "data/lobster/AMZN_2012-06-21_34200000_57600000_orderbook_10.csv.zst --limit 2000 --json",
           m.brokers);
  CHECK_EQ(test_run_obi(args), 0);
  char want[128];
  snprintf(want, sizeof want, "\"symbol\":\"AMZN\",\"events\":2000,\"corrections\":%d,\"records\":%d,\"delivered\":%d",
           s.sent[0].n - 2000, s.sent[0].n, s.sent[0].n);
  CHECK_STR_CONTAINS(test_out, want);
  snprintf(args, sizeof args, "stream --kafka %s --topic cli consume --group cli --max %d --json", m.brokers,
           s.sent[0].n);
  CHECK_EQ(test_run_obi(args), 0);
  int64_t bid, ask, bsz, asz;
  CHECK(book_best(&s.truth[0], OBI_BID, &bid, &bsz) && book_best(&s.truth[0], OBI_ASK, &ask, &asz));
  snprintf(want, sizeof want, "\"records\":%d,\"events\":2000,\"corrections\":%d,\"last_seq\":%d,\"gaps\":0",
           s.sent[0].n, s.sent[0].n - 2000, s.sent[0].n);
  CHECK_STR_CONTAINS(test_out, want);
  snprintf(want, sizeof want, "\"bid\":%lld,\"bid_size\":%lld,\"ask\":%lld,\"ask_size\":%lld", (long long)bid,
           (long long)bsz, (long long)ask, (long long)asz);
  CHECK_STR_CONTAINS(test_out, want);
  CHECK_STR_CONTAINS(test_out, "\"duplicates\":0,\"bad\":0");
  /* usage and input errors */
  snprintf(args, sizeof args, "stream --kafka %s --topic cli consume", m.brokers);
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "--group");
  snprintf(args, sizeof args, "stream --kafka %s --topic cli produce /nonexistent/x_message_1.csv y", m.brokers);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "/nonexistent/x_message_1.csv");
  stream_free(&s);
  mock_stop(&m);
}

/* Reads every record of a topic's partitions (from the beginning up to the high watermarks) and
 * decodes each with the kind's decoder: the number of records, or -1 when one does not decode. */
static int64_t read_all(const mock *m, const char *topic, int kind, int64_t want, int64_t *bad, uint64_t *last_seq) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", m->brokers, errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "group.id", "serve-reader", errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
      rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr)) {
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) return -1;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
  for (int i = 0; i < PARTITIONS; i++)
    rd_kafka_topic_partition_list_add(parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  static kafka_feature_record fr;
  int64_t got = 0;
  *bad = 0, *last_seq = 0;
  time_t deadline = time(NULL) + 30;
  int64_t held = 0, end = 0; /* the mock keeps a bounded log: records from the log start on */
  for (int i = 0; i < PARTITIONS; i++) {
    int64_t lo, hi;
    if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 5000) == 0) held += hi - lo, end += hi;
  }
  while (got < held && time(NULL) < deadline) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
    if (!msg) continue;
    if (!msg->err) {
      got++;
      kafka_event_record er;
      kafka_prediction_record pr;
      uint64_t seq = 0;
      obi_err e = kind == 1   ? kafka_event_decode(&er, msg->payload, msg->len, NULL, 0)
                  : kind == 2 ? kafka_features_decode(&fr, msg->payload, msg->len, NULL, 0)
                              : kafka_prediction_decode(&pr, msg->payload, msg->len, NULL, 0);
      if (e == OBI_OK) {
        seq = kind == 1 ? er.seq : kind == 2 ? fr.seq : pr.seq;
        const char *sym = kind == 1 ? er.symbol : kind == 2 ? fr.symbol : pr.symbol;
        int key_ok = msg->key_len == strlen(sym) && !memcmp(msg->key, sym, msg->key_len);
        /* one instrument: one partition, in order, no duplicates: record seq is offset + 1 */
        if (!key_ok || seq != (uint64_t)msg->offset + 1) e = OBI_EPARSE;
        if (kind == 3 && (fabsf(pr.p[0] + pr.p[1] + pr.p[2] - 1) > 1e-3f || strcmp(pr.model_kind, "logistic")))
          e = OBI_EPARSE;
      }
      if (e && !*bad)
        printf("# %s: record at partition %d offset %lld: seq %llu after %llu\n", topic, (int)msg->partition,
               (long long)msg->offset, (unsigned long long)seq, (unsigned long long)*last_seq);
      if (e) (*bad)++;
      *last_seq = seq;
    }
    rd_kafka_message_destroy(msg);
  }
  if (held != got || end != want || *bad)
    printf("# %s: consumed %lld, held %lld, log end %lld, wanted %lld, bad %lld\n", topic, (long long)got,
           (long long)held, (long long)end, (long long)want, (long long)*bad);
  if (held != got)
    got = -1;
  else
    got = end; /* every record up to the log end was written once, and those still held were read */
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got;
}

#define DAY1 OBI_SOURCE_DIR "/data/lobster/AMZN_2012-06-21_34200000_57600000_"

/* The features of the level-1 sample and a logistic model trained on them, in <tmp>/kafka_serve
 * (made once per run: the serve and stream tests share them). */
static int serve_fixture(char *dir, size_t len) {
  char args[2048], path[700];
  snprintf(dir, len, "%s/kafka_serve", test_tmpdir());
  snprintf(path, sizeof path, "%s/m.safetensors", dir);
  struct stat sb;
  if (stat(path, &sb) == 0) return 0;
  mkdir(dir, 0700);
  snprintf(args, sizeof args,
           "features " DAY1 "message_1.csv.zst " DAY1 "orderbook_1.csv.zst --out %s/f.npy --horizons 20 --quiet", dir);
  if (test_run_obi(args)) return -1;
  snprintf(args, sizeof args, "train --model logistic --data %s/f.npy --out %s/m.safetensors --quiet", dir, dir);
  return test_run_obi(args) ? -1 : 0;
}

/* obi serve --kafka (prefix obi) over the level-1 sample for 3 s in a child process; its counts. */
static int run_serve_kafka(const mock *m, const char *dir, unsigned long long *ev, unsigned long long *feat,
                           unsigned long long *pred, unsigned long long *delivered, unsigned long long *dropped,
                           unsigned long long *failed) {
  char out[700], cmd[4096];
  snprintf(out, sizeof out, "%s/serve.out", dir);
  pid_t pid = fork();
  if (pid == 0) {
    snprintf(cmd, sizeof cmd,
             "exec '%s' serve --model %s/m.safetensors --features %s/f.npy " DAY1 "message_1.csv.zst " DAY1
             "orderbook_1.csv.zst --port 0 --speed 0 --duration 3 --kafka %s >'%s' 2>&1",
             OBI_BIN, dir, dir, m->brokers, out);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  int status = -1;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  const char *t = test_read_file(out);
  const char *line = t ? strstr(t, "obi serve: kafka: ") : NULL;
  return line && sscanf(line,
                        "obi serve: kafka: %llu events, %llu feature rows, %llu predictions queued to obi.*; %llu "
                        "delivered, %llu dropped (queue full), %llu failed",
                        ev, feat, pred, delivered, dropped, failed) == 6
             ? 0
             : -1;
}

void kafka_serve_publishes_events_features_predictions(void) {
  /* obi serve --kafka in a child process against the mock cluster of this one */
  mock m = {0};
  CHECK(mock_start(&m, "obi.events") == 0);
  CHECK(rd_kafka_mock_topic_create(m.mc, "obi.features", PARTITIONS, 3) == 0);
  CHECK(rd_kafka_mock_topic_create(m.mc, "obi.predictions", PARTITIONS, 3) == 0);
  char dir[600];
  unsigned long long ev = 0, feat = 0, pred = 0, delivered = 0, dropped = 0, failed = 0;
  CHECK(serve_fixture(dir, sizeof dir) == 0);
  CHECK(run_serve_kafka(&m, dir, &ev, &feat, &pred, &delivered, &dropped, &failed) == 0);
  printf("# serve: %llu events, %llu feature rows, %llu predictions; %llu delivered, %llu dropped, %llu failed\n", ev,
         feat, pred, delivered, dropped, failed);
  CHECK(ev > 0 && feat > 0 && pred > 0);
  CHECK_EQ((long long)(ev + feat + pred), (long long)delivered);
  CHECK_EQ((long long)dropped, 0);
  CHECK_EQ((long long)failed, 0);
  int64_t bad;
  uint64_t last;
  CHECK_EQ(read_all(&m, "obi.events", 1, (int64_t)ev, &bad, &last), (int64_t)ev);
  CHECK_EQ(bad, 0);
  CHECK_EQ(read_all(&m, "obi.features", 2, (int64_t)feat, &bad, &last), (int64_t)feat);
  CHECK_EQ(bad, 0);
  CHECK_EQ(read_all(&m, "obi.predictions", 3, (int64_t)pred, &bad, &last), (int64_t)pred);
  CHECK_EQ(bad, 0);
  CHECK_EQ((long long)last, (long long)pred);
  mock_stop(&m);
}

typedef struct {
  kafka_prediction_record *r;
  int n, cap;
} pred_list;

/* Every prediction record of a topic (all partitions, from the beginning to the high watermarks)
 * into out, in log order; the number read, or -1 when one does not decode or the log was not read
 * to its end. */
static int64_t read_predictions(const mock *m, const char *topic, pred_list *out) {
  rd_kafka_t *rk = open_reader(m, topic, "prediction-reader");
  if (!rk) return -1;
  int64_t held = 0, got = 0, bad = 0;
  for (int i = 0; i < PARTITIONS; i++) {
    int64_t lo, hi;
    if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 5000) == 0) held += hi - lo;
  }
  time_t deadline = time(NULL) + 30;
  while (got < held && time(NULL) < deadline) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
    if (!msg) continue;
    if (!msg->err) {
      got++;
      kafka_prediction_record pr;
      if (kafka_prediction_decode(&pr, msg->payload, msg->len, NULL, 0) != OBI_OK) {
        bad++;
      } else {
        if (out->n == out->cap) {
          int cap = out->cap ? 2 * out->cap : 4096;
          kafka_prediction_record *q = realloc(out->r, (size_t)cap * sizeof *q);
          if (!q) bad++;
          if (q) out->r = q, out->cap = cap;
        }
        if (out->n < out->cap) out->r[out->n++] = pr;
      }
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got == held && !bad ? got : -1;
}

/* The first index where two prediction lists differ in seq (when with_seq), time or
 * probabilities (bit for bit), or -1 when the first n are equal. */
static int first_difference(const pred_list *a, const pred_list *b, int n, int with_seq) {
  for (int i = 0; i < n; i++)
    if ((with_seq && a->r[i].seq != b->r[i].seq) || a->r[i].ts_ns != b->r[i].ts_ns ||
        memcmp(a->r[i].p, b->r[i].p, sizeof a->r[i].p) || strcmp(a->r[i].symbol, b->r[i].symbol) ||
        strcmp(a->r[i].model_version, b->r[i].model_version))
      return i;
  return -1;
}

/* A JSON summary's unsigned member after `key` ("\"records\":"), or -1. */
static long long json_count(const char *json, const char *key) {
  const char *at = json ? strstr(json, key) : NULL;
  long long v = -1;
  return at && sscanf(at + strlen(key), "%lld", &v) == 1 ? v : -1;
}

void kafka_stream_consume_predicts_and_resumes_exactly(void) {
  /* obi serve --kafka publishes obi.events and its own predictions: the independent path (the
   * LOBSTER replay's book, the backtest's sampler, serve's model). obi stream consume --model
   * rebuilds the books from obi.events and must publish the same predictions, bit for bit. */
  mock m = {0};
  CHECK(mock_start(&m, "obi.events") == 0);
  static const char *const topics[] = {"obi.features", "obi.predictions", "full.predictions", "split.predictions"};
  for (int i = 0; i < 4; i++) CHECK(rd_kafka_mock_topic_create(m.mc, topics[i], PARTITIONS, 3) == 0);
  char dir[600], args[2048], want[256];
  unsigned long long ev = 0, feat = 0, pred = 0, delivered = 0, dropped = 0, failed = 0;
  CHECK(serve_fixture(dir, sizeof dir) == 0);
  CHECK(run_serve_kafka(&m, dir, &ev, &feat, &pred, &delivered, &dropped, &failed) == 0);
  CHECK(ev > 0 && pred > 0 && dropped == 0 && failed == 0);
  pred_list served = {0}, full = {0}, split = {0};
  CHECK_EQ(read_predictions(&m, "obi.predictions", &served), (long long)pred);
  /* the events as the topic holds them, and the replay's book after as many LOBSTER messages */
  sink k;
  sink_init(&k);
  CHECK_EQ(read_topic(&m, "obi.events", &k, (int)ev), (long long)ev);
  CHECK_EQ(k.got[0].n, (long long)ev);
  int messages = 0;
  for (int i = 0; i < k.got[0].n; i++) messages += !(k.got[0].r[i].flags & KAFKA_FLAG_CORRECTION);
  rec_list replayed = {0};
  obi_book truth;
  CHECK(make_records("1", "AMZN", messages, &replayed, &truth) == 0);
  CHECK(same_levels(&k.book[0], &truth));
  int64_t bid, ask, bsz, asz;
  CHECK(book_best(&truth, OBI_BID, &bid, &bsz) && book_best(&truth, OBI_ASK, &ask, &asz));
  char book_want[256];
  snprintf(book_want, sizeof book_want, "\"levels\":[%u,%u],\"predictions\":", (unsigned)book_depth(&truth, OBI_BID),
           (unsigned)book_depth(&truth, OBI_ASK));
  char best_want[256];
  snprintf(best_want, sizeof best_want, "\"bid\":%lld,\"bid_size\":%lld,\"ask\":%lld,\"ask_size\":%lld}",
           (long long)bid, (long long)bsz, (long long)ask, (long long)asz);

  /* (a) one uninterrupted consumer */
  const char *model_args = "--model %s/m.safetensors --features %s/f.npy";
  char margs[1400];
  snprintf(margs, sizeof margs, model_args, dir, dir);
  snprintf(args, sizeof args,
           "stream --kafka %s --topic obi.events consume --group full %s --predictions full.predictions --max %llu "
           "--idle 5 --json",
           m.brokers, margs, ev);
  CHECK_EQ(test_run_obi(args), 0);
  long long n_full = json_count(test_out, "\"predictions\":");
  CHECK_EQ(json_count(test_out, "\"records\":"), (long long)ev);
  CHECK_EQ(json_count(test_out, "\"rebuilt\":"), 0);
  CHECK_STR_CONTAINS(test_out, book_want);
  CHECK_STR_CONTAINS(test_out, best_want);
  CHECK_EQ(read_predictions(&m, "full.predictions", &full), n_full);
  /* the consumer cannot close the last event's timestamp group (the next event never came): the
   * last row serve made, if it made one there, is the only one it lacks */
  printf("# serve: %llu events, %llu predictions; consumer: %lld predictions\n", ev, pred, n_full);
  CHECK(n_full == (long long)pred || n_full == (long long)pred - 1);
  if (n_full < (long long)pred) CHECK_EQ(served.r[pred - 1].ts_ns, k.got[0].r[k.got[0].n - 1].ev.ts_ns);
  int at = first_difference(&served, &full, (int)n_full, 0);
  if (at >= 0)
    printf("# prediction %d: serve ts %lld p %.9g %.9g %.9g, consumer ts %lld p %.9g %.9g %.9g\n", at,
           (long long)served.r[at].ts_ns, served.r[at].p[0], served.r[at].p[1], served.r[at].p[2],
           (long long)full.r[at].ts_ns, full.r[at].p[0], full.r[at].p[1], full.r[at].p[2]);
  CHECK_EQ(at, -1);
  /* each seq is the seq of the event record the prediction was made at */
  int e = 0, seq_ok = 1;
  for (int i = 0; i < full.n && seq_ok; i++) {
    while (e < k.got[0].n && k.got[0].r[e].seq < full.r[i].seq) e++;
    seq_ok = e < k.got[0].n && k.got[0].r[e].seq == full.r[i].seq && !(k.got[0].r[e].flags & KAFKA_FLAG_CORRECTION) &&
             k.got[0].r[e].ev.ts_ns == full.r[i].ts_ns;
  }
  CHECK(seq_ok);

  /* (b) the first instance of group split stops after `half` records; the second takes the
   * partition over, rebuilds from its beginning, and publishes only from the committed offset */
  long long half = (long long)ev / 2 + 7;
  snprintf(args, sizeof args,
           "stream --kafka %s --topic obi.events consume --group split %s --predictions split.predictions --max %lld "
           "--json",
           m.brokers, margs, half);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_EQ(json_count(test_out, "\"records\":"), half);
  long long n_first = json_count(test_out, "\"predictions\":");
  snprintf(args, sizeof args,
           "stream --kafka %s --topic obi.events consume --group split %s --predictions split.predictions --max %llu "
           "--idle 5 --json",
           m.brokers, margs, ev);
  CHECK_EQ(test_run_obi(args), 0);
  long long n_second = json_count(test_out, "\"predictions\":");
  printf("# restart after %lld records: %lld + %lld predictions\n", half, n_first, n_second);
  CHECK_EQ(json_count(test_out, "\"records\":"), (long long)ev);
  CHECK_EQ(json_count(test_out, "\"rebuilt\":"), half);
  snprintf(want, sizeof want, "\"rebuilt\":%lld,\"first_seq\":1,", half); /* the instrument's, from seq 1 */
  CHECK_STR_CONTAINS(test_out, want);
  CHECK_STR_CONTAINS(test_out, book_want);
  CHECK_STR_CONTAINS(test_out, best_want);
  CHECK(n_first > 0 && n_second > 0);
  CHECK_EQ(n_first + n_second, n_full);
  CHECK_EQ(read_predictions(&m, "split.predictions", &split), n_full);
  CHECK_EQ(first_difference(&full, &split, (int)n_full, 1), -1);

  /* (c) usage and input errors */
  snprintf(args, sizeof args, "stream --kafka %s --topic obi.events consume --group g --model %s/m.safetensors",
           m.brokers, dir);
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "--features");
  snprintf(args, sizeof args, "stream --kafka %s --topic obi.events consume --group g --predictions p", m.brokers);
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "--predictions needs --model");
  snprintf(args, sizeof args, "stream --kafka %s --topic t produce a b --model %s/m.safetensors", m.brokers, dir);
  CHECK_EQ(test_run_obi(args), 2);
  CHECK_STR_CONTAINS(test_err, "are for consume");
  snprintf(args, sizeof args,
           "stream --kafka %s --topic obi.events consume --group g --model %s/missing.safetensors --features %s/f.npy",
           m.brokers, dir, dir);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "missing.safetensors");
  snprintf(args, sizeof args,
           "stream --kafka %s --topic obi.events consume --group g --model %s/m.safetensors --features %s/none.npy",
           m.brokers, dir, dir);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "none");
  free(served.r), free(full.r), free(split.r), free(replayed.r);
  book_free(&truth);
  sink_free(&k);
  mock_stop(&m);
}
