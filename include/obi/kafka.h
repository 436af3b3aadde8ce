/* kafka.h — normalised events through Kafka (librdkafka): the record format, an idempotent
 * producer keyed by instrument, and a consumer-group consumer that commits after processing.
 *
 * Record format, version 1 (docs/kafka.md has it byte by byte). Every record starts with the
 * same 8-byte header; all integers are little-endian, whatever the host:
 *
 *   off size  field
 *     0   2   magic "OK" (0x4F 0x4B): an obi Kafka record
 *     2   1   version (KAFKA_RECORD_VERSION = 1); a reader refuses versions it does not know
 *     3   1   kind: 1 event (this layout); 2 feature row and 3 prediction (docs/kafka.md)
 *     4   1   flags: bit 0 KAFKA_FLAG_CORRECTION (the producer synthesised this LEVEL_SET so that
 *             a book rebuilt from the stream equals the source's book; see kafka_sync_levels);
 *             other bits are 0
 *     5   1   event type (obi_event_type, 1..10)
 *     6   1   side (0 bid, 1 ask)
 *     7   1   symbol length n (1..31)
 *     8   8   sequence number, u64: 1, 2, 3, ... per instrument, assigned by the producer
 *    16   8   ts_ns, i64
 *    24   8   price, i64 (ticks)
 *    32   8   size, i64 (lots)
 *    40   8   order_id, u64
 *    48  32   symbol: n bytes (printable ASCII), then zeros
 *             total KAFKA_EVENT_RECORD_SIZE = 80 bytes
 *
 * Keys and partitions: the message key is the symbol, so the default partitioner (murmur2 of the
 * key, as in the Java client) sends every event of an instrument to one partition, where Kafka
 * keeps them in order. Consumers of one group share the partitions: instances scale out by
 * partition, each rebuilding the books of the instruments its partitions carry.
 *
 * Delivery: the producer is idempotent (enable.idempotence=true: the broker drops the
 * duplicates that retries after a lost acknowledgement would write, and keeps the order within
 * a partition). The consumer commits an offset only after the caller's callback returned for that
 * message (enable.auto.commit=false): a crash between processing and commit re-delivers
 * messages (at least once), never skips one. The callback sees each record's sequence number;
 * the consumer drops records whose sequence is not above the last one it passed on for that
 * instrument (kafka_consumer_stats.duplicates), and a consumer whose state survives a restart
 * stores the last sequence with its state, so that processing is effectively once. A consumer
 * whose state lives in memory asks for kafka_consumer_options.rebuild instead: a partition it is
 * assigned is read again from its beginning, what the group had committed only rebuilds state
 * (KAFKA_DELIVERY_REBUILD), and output starts at the committed offset.
 *
 * Not thread-safe: one thread per producer or consumer handle. */
#ifndef OBI_KAFKA_H
#define OBI_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "obi/book.h"
#include "obi/error.h"
#include "obi/event.h"

#define KAFKA_RECORD_MAGIC0 0x4F /* 'O' */
#define KAFKA_RECORD_MAGIC1 0x4B /* 'K' */
#define KAFKA_RECORD_VERSION 1
#define KAFKA_KIND_EVENT 1
#define KAFKA_FLAG_CORRECTION 1
#define KAFKA_EVENT_RECORD_SIZE 80
#define KAFKA_SYMBOL_MAX 31
#define KAFKA_KIND_FEATURES 2
#define KAFKA_KIND_PREDICTION 3
#define KAFKA_FEATURES_HEADER_SIZE 68 /* then count float32 values */
#define KAFKA_FEATURES_MAX 1024
#define KAFKA_PREDICTION_RECORD_SIZE 104
#define KAFKA_MODEL_TEXT_MAX 15 /* model kind and version: 1..15 printable ASCII bytes */

/* How the consumer passes a record (kafka_event_record.delivery; never on the wire). */
#define KAFKA_DELIVERY_REBUILD 1 /* processed and committed before: rebuild state from it, output nothing */
#define KAFKA_DELIVERY_FIRST 2   /* the instrument's first record since its partition was assigned: start */
                                 /* its state afresh (kafka_consumer_options.rebuild only) */

typedef struct {
  uint64_t seq;                      /* per instrument, from 1 */
  char symbol[KAFKA_SYMBOL_MAX + 1]; /* NUL-terminated */
  uint8_t flags;                     /* KAFKA_FLAG_* */
  uint8_t delivery;                  /* KAFKA_DELIVERY_* set by the consumer; the codec ignores it (decode: 0) */
  obi_event ev;
} kafka_event_record;

/* Writes the 80-byte record. Returns OBI_OK, or OBI_EINVAL when the record cannot be encoded
 * (symbol empty, longer than 31 bytes or not printable ASCII; type outside 1..10; side not 0/1;
 * unknown flags). */
obi_err kafka_event_encode(uint8_t out[KAFKA_EVENT_RECORD_SIZE], const kafka_event_record *r);

/* Reads a record of len bytes. Returns OBI_OK; OBI_EPARSE for a record that is not one (wrong
 * magic, truncated, too long, bad field: why says which byte offset and what was expected);
 * OBI_EUNSUPPORTED for another version or kind. why may be NULL. */
obi_err kafka_event_decode(kafka_event_record *r, const void *buf, size_t len, char *why, size_t why_len);

/* Kind 2, a feature row (docs/kafka.md): 68-byte header, then count float32 values. */
typedef struct {
  uint64_t seq; /* per instrument on the features topic, from 1 */
  char symbol[KAFKA_SYMBOL_MAX + 1];
  int64_t ts_ns;
  uint64_t feature_set; /* kafka_feature_set_hash of the column names, in order */
  uint16_t count;       /* 1..KAFKA_FEATURES_MAX */
  float values[KAFKA_FEATURES_MAX];
} kafka_feature_record;

/* Kind 3, a prediction: 104 bytes. */
typedef struct {
  uint64_t seq; /* per instrument on the predictions topic, from 1 */
  char symbol[KAFKA_SYMBOL_MAX + 1];
  int64_t ts_ns;
  float p[3];                                   /* down, flat, up */
  char model_kind[KAFKA_MODEL_TEXT_MAX + 1];    /* "logistic", ... */
  char model_version[KAFKA_MODEL_TEXT_MAX + 1]; /* e.g. the first 12 hex digits of the file's SHA-256 */
} kafka_prediction_record;

/* FNV-1a 64 of the names joined by '\n': the feature-set version a feature row carries. */
uint64_t kafka_feature_set_hash(const char *const *names, int n);

/* The record's size (68 + 4 count): writes it to out (cap bytes). Returns the size, or 0 when the
 * record cannot be encoded (symbol, count outside 1..1024) or cap is too small. */
size_t kafka_features_encode(uint8_t *out, size_t cap, const kafka_feature_record *r);
/* OBI_OK; OBI_EPARSE (truncated, trailing bytes, bad field; why says which byte); OBI_EUNSUPPORTED
 * for another version or kind. */
obi_err kafka_features_decode(kafka_feature_record *r, const void *buf, size_t len, char *why, size_t why_len);

/* OBI_OK or OBI_EINVAL (symbol, model kind or version empty, too long or not printable ASCII). */
obi_err kafka_prediction_encode(uint8_t out[KAFKA_PREDICTION_RECORD_SIZE], const kafka_prediction_record *r);
obi_err kafka_prediction_decode(kafka_prediction_record *r, const void *buf, size_t len, char *why, size_t why_len);

/* Book helpers for a consumer that rebuilds books from the stream. */

/* Applies an event like book_apply, except that a CANCEL, DELETE or EXEC of an order id the
 * book does not know takes its size from the anonymous liquidity of its level (the orders
 * resting before the stream started; lobster.h step 2). Returns book_apply's result, OBI_OK for
 * such an unknown id when the anonymous liquidity covered it, and OBI_EUNKNOWN_ORDER (book
 * unchanged) when it did not. */
obi_err kafka_apply_event(obi_book *b, const obi_event *ev);

/* Brings mirror's levels to those of truth: for every price where the level sizes differ (on
 * every level of either book), a LEVEL_SET event with the truth's size (0: remove) is applied to
 * mirror and written to out[0..*n). The producer calls it after each source event, with mirror a
 * book fed only with what it published through kafka_apply_event: what it publishes then
 * rebuilds the source's book level for level. Returns OBI_OK, or OBI_ERANGE when more than max
 * corrections would be needed (mirror is then partly corrected; call again). */
obi_err kafka_sync_levels(obi_book *mirror, const obi_book *truth, int64_t ts_ns, obi_event *out, int max, int *n);

/* Producer. */

typedef struct {
  const char *compression;   /* "zstd" (default), "lz4", "none" */
  int linger_ms;             /* batching delay; default 5 */
  int message_timeout_ms;    /* give up on a message after this long (default 300000: 5 minutes) */
  const char *debug;         /* librdkafka debug contexts (their log lines go to stderr), or NULL */
  const char *const *config; /* more librdkafka settings: name, value, ..., NULL; or NULL */
} kafka_producer_options;

typedef struct {
  uint64_t produced;  /* accepted into the local queue */
  uint64_t delivered; /* acknowledged by the broker */
  uint64_t failed;    /* delivery reports with an error */
  uint64_t dropped;   /* kafka_produce_bytes: not queued, the local queue was full */
} kafka_producer_stats;

typedef struct kafka_producer kafka_producer;

/* Connects an idempotent producer to brokers ("host:port,...") for topic. opt may be NULL.
 * On failure *out is NULL and err_msg says why. Free with kafka_producer_free. */
obi_err kafka_producer_new(kafka_producer **out, const char *brokers, const char *topic,
                           const kafka_producer_options *opt, char *err_msg, size_t err_len);

/* Encodes r and queues it with key = r->symbol. When the local queue is full it serves delivery
 * reports until there is room. Returns OBI_OK, OBI_EINVAL (record cannot be encoded), or OBI_EIO
 * (kafka_producer_error says why). */
obi_err kafka_produce_event(kafka_producer *p, const kafka_event_record *r);

/* Queues len bytes to topic (NULL: the producer's topic) with key; when the local queue is full it
 * serves delivery reports until there is room. OBI_OK or OBI_EIO (kafka_producer_error says why). */
obi_err kafka_produce_wait(kafka_producer *p, const char *topic, const char *key, const void *buf, size_t len);

/* Queues len bytes to topic (NULL: the producer's topic) with key, without blocking: when the
 * local queue is full the record is dropped (stats.dropped) and OBI_ERANGE returned. OBI_EIO for
 * another error (kafka_producer_error says why). For a pipeline that must never wait on Kafka. */
obi_err kafka_produce_bytes(kafka_producer *p, const char *topic, const char *key, const void *buf, size_t len);

/* Waits up to timeout_ms until every queued record is delivered. Returns OBI_OK when all were
 * acknowledged, OBI_EIO when some failed or the time ran out. */
obi_err kafka_producer_flush(kafka_producer *p, int timeout_ms);

const kafka_producer_stats *kafka_producer_get_stats(const kafka_producer *p);
const char *kafka_producer_error(const kafka_producer *p);
/* The librdkafka handle (rd_kafka_t *), e.g. to attach a mock cluster in tests. */
void *kafka_producer_handle(kafka_producer *p);
/* Flushes for up to 10 s and releases everything. Accepts NULL. */
void kafka_producer_free(kafka_producer *p);

/* Consumer. */

typedef struct {
  int session_timeout_ms;    /* default 6000 */
  int from_end;              /* a group without committed offsets starts at the end (default: the beginning) */
  const char *debug;         /* librdkafka debug contexts (their log lines go to stderr), or NULL */
  const char *const *config; /* more librdkafka settings: name, value, ..., NULL; or NULL */
  /* Rebuild state on assignment: each partition this member is assigned (at start, after a
   * restart or a rebalance) is read from its beginning (the oldest record Kafka still holds).
   * Records below the group's committed offset of the partition (with from_end and no committed
   * offset: below the end of the log at assignment) come to the callback with
   * KAFKA_DELIVERY_REBUILD: they were processed before, so the callback rebuilds its state from
   * them and produces no output; their offsets are never committed again. The first record of
   * each instrument after an assignment carries KAFKA_DELIVERY_FIRST, and the sequence that
   * duplicates are dropped by starts again for it (the partition is read again from the start). */
  int rebuild;
  /* Called before each offset commit (NULL: none), e.g. to flush what the callback produced, so
   * that a committed record's output is delivered first (at least once downstream). Nonzero:
   * nothing is committed and kafka_consumer_poll returns OBI_EIO. */
  int (*before_commit)(void *ctx);
  void *before_commit_ctx;
} kafka_consumer_options;

typedef struct {
  uint64_t messages;   /* records taken from Kafka */
  uint64_t rebuilt;    /* passed with KAFKA_DELIVERY_REBUILD (processed by the callback, not committed) */
  uint64_t processed;  /* passed to the callback, which returned 0 */
  uint64_t duplicates; /* dropped: sequence not above the last one passed on for the instrument */
  uint64_t bad;        /* not records of this format (skipped, committed; first reason in the error) */
  uint64_t commits;    /* successful offset commits */
} kafka_consumer_stats;

/* Called once per record, in partition order. Return 0 when it is processed (its offset may then
 * be committed), anything else to stop: the record is not committed and will be delivered again.
 * r->delivery says whether it is a rebuild record (kafka_consumer_options.rebuild). */
typedef int (*kafka_event_fn)(void *user, const kafka_event_record *r, int32_t partition, int64_t offset);

typedef struct kafka_consumer kafka_consumer;

/* Joins consumer group `group` and subscribes to topic. opt may be NULL. */
obi_err kafka_consumer_new(kafka_consumer **out, const char *brokers, const char *topic, const char *group,
                           const kafka_consumer_options *opt, char *err_msg, size_t err_len);

/* Takes up to max_records records, waiting at most timeout_ms for the first, passes each to fn and
 * then commits (synchronously) the offsets of what fn accepted. *got receives the number of
 * records taken (0 on timeout). Returns OBI_OK; the callback's nonzero value when it stopped; OBI_EIO
 * for a consumer or commit error (kafka_consumer_error says which). */
obi_err kafka_consumer_poll(kafka_consumer *c, int timeout_ms, int max_records, kafka_event_fn fn, void *user,
                            int *got);

/* Number of partitions assigned to this member now. */
int kafka_consumer_assigned(const kafka_consumer *c);
/* The committed offset of a partition (the next record to read), -1 when none: for tests and tools. */
int64_t kafka_consumer_committed(kafka_consumer *c, int32_t partition);
const kafka_consumer_stats *kafka_consumer_get_stats(const kafka_consumer *c);
const char *kafka_consumer_error(const kafka_consumer *c);
/* Commits what was processed, leaves the group and releases everything. Accepts NULL. */
void kafka_consumer_free(kafka_consumer *c);

#endif
