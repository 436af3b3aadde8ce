/* kafka.c — the Kafka record format, an idempotent producer and a consumer-group consumer on
 * librdkafka (see kafka.h for the contract and docs/kafka.md for the format byte by byte).
 *
 * The codec writes every field byte by byte in little-endian order, so a record is the same on
 * every host and the decoder never reads past len: it checks the length before any field. The
 * producer keys each message with the instrument symbol and uses the murmur2 partitioner (the
 * Java client's default), so an instrument maps to the same partition from any client. The
 * consumer keeps, per partition, the next offset to commit: it advances only after the callback
 * returned 0, and the commit after each batch is synchronous, so a committed offset never runs
 * ahead of processing. A small open-addressing table of (symbol, last sequence) drops records
 * the consumer has already passed on (redeliveries after a rebalance within this process).
 *
 * Rebuild (kafka_consumer_options.rebuild): a rebalance callback reads, for each partition it is
 * assigned, the group's committed offset (rd_kafka_committed), remembers it as the partition's
 * rebuild limit and assigns the partition at RD_KAFKA_OFFSET_BEGINNING (eager or cooperative
 * protocol alike). Records below the limit go to the callback marked KAFKA_DELIVERY_REBUILD and
 * their offsets are not put in the commit list, so a commit never goes below what the group had
 * committed. The instruments last seen in that partition forget their last sequence, since their
 * records come again from the start. If the committed offsets cannot be read the consumer stops
 * (OBI_EIO) rather than run with state it knows to be incomplete. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "obi/kafka.h"

/* ---- record codec ---- */

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static int symbol_ok(const char *s, size_t n) {
  if (n < 1 || n > KAFKA_SYMBOL_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0x21 || s[i] > 0x7e) return 0;
  return 1;
}

obi_err kafka_event_encode(uint8_t out[KAFKA_EVENT_RECORD_SIZE], const kafka_event_record *r) {
  size_t n = strnlen(r->symbol, sizeof r->symbol);
  if (!symbol_ok(r->symbol, n) || r->ev.type < 1 || r->ev.type >= OBI_EV__COUNT || r->ev.side > 1 ||
      (r->flags & ~KAFKA_FLAG_CORRECTION))
    return OBI_EINVAL;
  memset(out, 0, KAFKA_EVENT_RECORD_SIZE);
  out[0] = KAFKA_RECORD_MAGIC0;
  out[1] = KAFKA_RECORD_MAGIC1;
  out[2] = KAFKA_RECORD_VERSION;
  out[3] = KAFKA_KIND_EVENT;
  out[4] = r->flags;
  out[5] = r->ev.type;
  out[6] = r->ev.side;
  out[7] = (uint8_t)n;
  put_u64(out + 8, r->seq);
  put_u64(out + 16, (uint64_t)r->ev.ts_ns);
  put_u64(out + 24, (uint64_t)r->ev.price);
  put_u64(out + 32, (uint64_t)r->ev.size);
  put_u64(out + 40, r->ev.order_id);
  memcpy(out + 48, r->symbol, n);
  return OBI_OK;
}

#define FAIL(code, ...)                                                                                                \
  do {                                                                                                                 \
    if (why && why_len) snprintf(why, why_len, __VA_ARGS__);                                                           \
    return code;                                                                                                       \
  } while (0)

obi_err kafka_event_decode(kafka_event_record *r, const void *buf, size_t len, char *why, size_t why_len) {
  const uint8_t *p = buf;
  if (len < 4) FAIL(OBI_EPARSE, "record of %zu bytes is truncated: the header needs 8", len);
  if (p[0] != KAFKA_RECORD_MAGIC0 || p[1] != KAFKA_RECORD_MAGIC1)
    FAIL(OBI_EPARSE, "byte 0: expected the magic \"OK\" (4f 4b), found %02x %02x", p[0], p[1]);
  if (p[2] != KAFKA_RECORD_VERSION)
    FAIL(OBI_EUNSUPPORTED, "byte 2: record version %u, this reader knows version %d", p[2], KAFKA_RECORD_VERSION);
  if (p[3] != KAFKA_KIND_EVENT) FAIL(OBI_EUNSUPPORTED, "byte 3: record kind %u, expected 1 (event)", p[3]);
  if (len != KAFKA_EVENT_RECORD_SIZE)
    FAIL(OBI_EPARSE, "event record of %zu bytes, expected %d (%s)", len, KAFKA_EVENT_RECORD_SIZE,
         len < KAFKA_EVENT_RECORD_SIZE ? "truncated" : "trailing bytes");
  if (p[4] & ~KAFKA_FLAG_CORRECTION) FAIL(OBI_EPARSE, "byte 4: unknown flags %02x", p[4]);
  if (p[5] < 1 || p[5] >= OBI_EV__COUNT) FAIL(OBI_EPARSE, "byte 5: event type %u, expected 1..10", p[5]);
  if (p[6] > 1) FAIL(OBI_EPARSE, "byte 6: side %u, expected 0 (bid) or 1 (ask)", p[6]);
  size_t n = p[7];
  if (!symbol_ok((const char *)p + 48, n))
    FAIL(OBI_EPARSE, "byte 7: symbol length %zu, expected 1..31 printable ASCII bytes at 48", n);
  for (size_t i = 48 + n; i < KAFKA_EVENT_RECORD_SIZE; i++)
    if (p[i]) FAIL(OBI_EPARSE, "byte %zu: symbol padding must be zero", i);
  memset(r, 0, sizeof *r);
  r->flags = p[4];
  r->ev.type = p[5];
  r->ev.side = p[6];
  r->seq = get_u64(p + 8);
  r->ev.ts_ns = (int64_t)get_u64(p + 16);
  r->ev.price = (int64_t)get_u64(p + 24);
  r->ev.size = (int64_t)get_u64(p + 32);
  r->ev.order_id = get_u64(p + 40);
  memcpy(r->symbol, p + 48, n);
  return OBI_OK;
}

/* ---- kinds 2 (feature row) and 3 (prediction) ---- */

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}

static void put_f32(uint8_t *p, float f) { /* the bit pattern, NaNs included: decode -> encode is exact */
  uint32_t v;
  memcpy(&v, &f, 4);
  put_u32(p, v);
}

static float get_f32(const uint8_t *p) {
  uint32_t v = get_u32(p);
  float f;
  memcpy(&f, &v, 4);
  return f;
}

uint64_t kafka_feature_set_hash(const char *const *names, int n) {
  uint64_t h = 14695981039346656037ull;
  for (int i = 0; i < n; i++) {
    if (i) h = (h ^ (uint8_t)'\n') * 1099511628211ull;
    for (const char *s = names[i]; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  }
  return h;
}

static void put_header(uint8_t *out, int kind, size_t symlen) {
  out[0] = KAFKA_RECORD_MAGIC0;
  out[1] = KAFKA_RECORD_MAGIC1;
  out[2] = KAFKA_RECORD_VERSION;
  out[3] = (uint8_t)kind;
  out[7] = (uint8_t)symlen;
}

size_t kafka_features_encode(uint8_t *out, size_t cap, const kafka_feature_record *r) {
  size_t n = strnlen(r->symbol, sizeof r->symbol);
  size_t len = KAFKA_FEATURES_HEADER_SIZE + 4 * (size_t)r->count;
  if (!symbol_ok(r->symbol, n) || r->count < 1 || r->count > KAFKA_FEATURES_MAX || cap < len) return 0;
  memset(out, 0, KAFKA_FEATURES_HEADER_SIZE);
  put_header(out, KAFKA_KIND_FEATURES, n);
  put_u64(out + 8, r->seq);
  put_u64(out + 16, (uint64_t)r->ts_ns);
  put_u64(out + 24, r->feature_set);
  out[32] = (uint8_t)(r->count & 0xff);
  out[33] = (uint8_t)(r->count >> 8);
  memcpy(out + 36, r->symbol, n);
  for (int i = 0; i < r->count; i++) put_f32(out + KAFKA_FEATURES_HEADER_SIZE + 4 * i, r->values[i]);
  return len;
}

/* The common checks of a header of kind `kind` and exact length `want` (0: at least `min`). */
#define CHECK_HEADER(kind, name)                                                                                       \
  do {                                                                                                                 \
    if (len < 4) FAIL(OBI_EPARSE, "record of %zu bytes is truncated: the header needs 8", len);                        \
    if (p[0] != KAFKA_RECORD_MAGIC0 || p[1] != KAFKA_RECORD_MAGIC1)                                                    \
      FAIL(OBI_EPARSE, "byte 0: expected the magic \"OK\" (4f 4b), found %02x %02x", p[0], p[1]);                      \
    if (p[2] != KAFKA_RECORD_VERSION)                                                                                  \
      FAIL(OBI_EUNSUPPORTED, "byte 2: record version %u, this reader knows version %d", p[2], KAFKA_RECORD_VERSION);   \
    if (p[3] != (kind)) FAIL(OBI_EUNSUPPORTED, "byte 3: record kind %u, expected %d (" name ")", p[3], kind);          \
  } while (0)

static int text_ok(const uint8_t *p, size_t field, size_t max) { /* 1..max printable bytes, then zeros */
  size_t n = 0;
  while (n < field && p[n]) n++;
  if (n < 1 || n > max) return 0;
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x21 || p[i] > 0x7e) return 0;
  for (size_t i = n; i < field; i++)
    if (p[i]) return 0;
  return 1;
}

obi_err kafka_features_decode(kafka_feature_record *r, const void *buf, size_t len, char *why, size_t why_len) {
  const uint8_t *p = buf;
  CHECK_HEADER(KAFKA_KIND_FEATURES, "feature row");
  if (len < KAFKA_FEATURES_HEADER_SIZE)
    FAIL(OBI_EPARSE, "feature record of %zu bytes is truncated: the header needs %d", len, KAFKA_FEATURES_HEADER_SIZE);
  if (p[4] || p[5] || p[6]) FAIL(OBI_EPARSE, "bytes 4..6: flags and reserved bytes must be zero");
  size_t count = (size_t)p[32] | (size_t)p[33] << 8;
  if (count < 1 || count > KAFKA_FEATURES_MAX) FAIL(OBI_EPARSE, "byte 32: feature count %zu, expected 1..1024", count);
  if (p[34] || p[35]) FAIL(OBI_EPARSE, "byte 34: reserved bytes must be zero");
  size_t want = KAFKA_FEATURES_HEADER_SIZE + 4 * count;
  if (len != want)
    FAIL(OBI_EPARSE, "feature record of %zu bytes, expected %zu for %zu values (%s)", len, want, count,
         len < want ? "truncated" : "trailing bytes");
  size_t n = p[7];
  if (!symbol_ok((const char *)p + 36, n))
    FAIL(OBI_EPARSE, "byte 7: symbol length %zu, expected 1..31 printable ASCII bytes at 36", n);
  for (size_t i = 36 + n; i < 68; i++)
    if (p[i]) FAIL(OBI_EPARSE, "byte %zu: symbol padding must be zero", i);
  memset(r, 0, offsetof(kafka_feature_record, values));
  r->seq = get_u64(p + 8);
  r->ts_ns = (int64_t)get_u64(p + 16);
  r->feature_set = get_u64(p + 24);
  r->count = (uint16_t)count;
  memcpy(r->symbol, p + 36, n);
  for (size_t i = 0; i < count; i++) r->values[i] = get_f32(p + KAFKA_FEATURES_HEADER_SIZE + 4 * i);
  return OBI_OK;
}

obi_err kafka_prediction_encode(uint8_t out[KAFKA_PREDICTION_RECORD_SIZE], const kafka_prediction_record *r) {
  size_t n = strnlen(r->symbol, sizeof r->symbol), kn = strnlen(r->model_kind, sizeof r->model_kind),
         vn = strnlen(r->model_version, sizeof r->model_version);
  if (!symbol_ok(r->symbol, n) || !kn || kn > KAFKA_MODEL_TEXT_MAX || !vn || vn > KAFKA_MODEL_TEXT_MAX ||
      !symbol_ok(r->model_kind, kn) || !symbol_ok(r->model_version, vn))
    return OBI_EINVAL;
  memset(out, 0, KAFKA_PREDICTION_RECORD_SIZE);
  put_header(out, KAFKA_KIND_PREDICTION, n);
  put_u64(out + 8, r->seq);
  put_u64(out + 16, (uint64_t)r->ts_ns);
  for (int k = 0; k < 3; k++) put_f32(out + 24 + 4 * k, r->p[k]);
  memcpy(out + 40, r->symbol, n);
  memcpy(out + 72, r->model_kind, kn);
  memcpy(out + 88, r->model_version, vn);
  return OBI_OK;
}

obi_err kafka_prediction_decode(kafka_prediction_record *r, const void *buf, size_t len, char *why, size_t why_len) {
  const uint8_t *p = buf;
  CHECK_HEADER(KAFKA_KIND_PREDICTION, "prediction");
  if (len != KAFKA_PREDICTION_RECORD_SIZE)
    FAIL(OBI_EPARSE, "prediction record of %zu bytes, expected %d (%s)", len, KAFKA_PREDICTION_RECORD_SIZE,
         len < KAFKA_PREDICTION_RECORD_SIZE ? "truncated" : "trailing bytes");
  if (p[4] || p[5] || p[6]) FAIL(OBI_EPARSE, "bytes 4..6: flags and reserved bytes must be zero");
  if (p[36] || p[37] || p[38] || p[39]) FAIL(OBI_EPARSE, "byte 36: reserved bytes must be zero");
  size_t n = p[7];
  if (!symbol_ok((const char *)p + 40, n))
    FAIL(OBI_EPARSE, "byte 7: symbol length %zu, expected 1..31 printable ASCII bytes at 40", n);
  for (size_t i = 40 + n; i < 72; i++)
    if (p[i]) FAIL(OBI_EPARSE, "byte %zu: symbol padding must be zero", i);
  if (!text_ok(p + 72, 16, KAFKA_MODEL_TEXT_MAX))
    FAIL(OBI_EPARSE, "byte 72: model kind must be 1..15 printable ASCII bytes, then zeros");
  if (!text_ok(p + 88, 16, KAFKA_MODEL_TEXT_MAX))
    FAIL(OBI_EPARSE, "byte 88: model version must be 1..15 printable ASCII bytes, then zeros");
  memset(r, 0, sizeof *r);
  r->seq = get_u64(p + 8);
  r->ts_ns = (int64_t)get_u64(p + 16);
  for (int k = 0; k < 3; k++) r->p[k] = get_f32(p + 24 + 4 * k);
  memcpy(r->symbol, p + 40, n);
  memcpy(r->model_kind, p + 72, strnlen((const char *)p + 72, 16));
  memcpy(r->model_version, p + 88, strnlen((const char *)p + 88, 16));
  return OBI_OK;
}

/* ---- books rebuilt from the stream ---- */

obi_err kafka_apply_event(obi_book *b, const obi_event *ev) {
  obi_err err = book_apply(b, ev);
  if (err != OBI_EUNKNOWN_ORDER) return err;
  if (ev->type != OBI_EV_CANCEL && ev->type != OBI_EV_DELETE && ev->type != OBI_EV_EXEC) return err;
  return book_reduce_anon(b, ev->side, ev->price, ev->size) == OBI_OK ? OBI_OK : OBI_EUNKNOWN_ORDER;
}

static obi_err emit_level(obi_book *mirror, int side, int64_t price, int64_t size, int64_t ts_ns, obi_event *out,
                          int max, int *n) {
  if (*n >= max) return OBI_ERANGE;
  obi_err err = book_set_level(mirror, side, price, size, ts_ns);
  if (err == OBI_EOVERFILL) { /* identified orders the truth no longer has: clear the level first */
    if (*n + 1 >= max) return OBI_ERANGE;
    out[(*n)++] = (obi_event){.ts_ns = ts_ns, .type = OBI_EV_LEVEL_SET, .side = (uint8_t)side, .price = price};
    if ((err = book_set_level(mirror, side, price, 0, ts_ns)) == OBI_OK)
      err = book_set_level(mirror, side, price, size, ts_ns);
  }
  if (err) return err;
  out[(*n)++] =
      (obi_event){.ts_ns = ts_ns, .type = OBI_EV_LEVEL_SET, .side = (uint8_t)side, .price = price, .size = size};
  return OBI_OK;
}

obi_err kafka_sync_levels(obi_book *mirror, const obi_book *truth, int64_t ts_ns, obi_event *out, int max, int *n) {
  *n = 0;
  for (int side = 0; side < 2; side++) {
    /* levels of the truth that the mirror lacks or sizes differently */
    for (uint32_t k = 0; k < book_depth(truth, side); k++) {
      const book_level *t = book_level_at(truth, side, k);
      const book_level *m = book_find_level(mirror, side, t->price);
      if (m && m->size == t->size) continue;
      obi_err err = emit_level(mirror, side, t->price, t->size, ts_ns, out, max, n);
      if (err) return err;
    }
    /* levels of the mirror the truth does not have (removing one shifts the indices: walk from the end) */
    for (uint32_t k = book_depth(mirror, side); k-- > 0;) {
      const book_level *m = book_level_at(mirror, side, k);
      if (book_find_level(truth, side, m->price)) continue;
      obi_err err = emit_level(mirror, side, m->price, 0, ts_ns, out, max, n);
      if (err) return err;
      if (k > book_depth(mirror, side)) k = book_depth(mirror, side);
    }
  }
  return OBI_OK;
}

/* ---- producer ---- */

struct kafka_producer {
  rd_kafka_t *rk;
  char topic[256];
  kafka_producer_stats stats;
  char error[512];
};

static void set_error(char *buf, size_t len, const char *fmt, const char *a, const char *b) {
  if (buf && len && !buf[0]) snprintf(buf, len, fmt, a, b);
}

static void delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  kafka_producer *p = opaque;
  if (m->err) {
    p->stats.failed++;
    set_error(p->error, sizeof p->error, "delivery to %s failed: %s", p->topic, rd_kafka_err2str(m->err));
  } else {
    p->stats.delivered++;
  }
}

/* Library code never prints: librdkafka's log lines (stderr by default) are dropped unless debug
 * contexts were asked for. Errors reach the caller through return codes and *_error(). */
static void log_drop(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk, (void)level, (void)fac, (void)buf;
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err_msg, size_t err_len) {
  char errstr[256];
  if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK) return 0;
  if (err_msg && err_len) snprintf(err_msg, err_len, "kafka setting %s=%s: %s", name, value, errstr);
  return -1;
}

static int conf_extra(rd_kafka_conf_t *conf, const char *const *kv, char *err_msg, size_t err_len) {
  for (; kv && kv[0]; kv += 2)
    if (!kv[1] || conf_set(conf, kv[0], kv[1], err_msg, err_len)) return -1;
  return 0;
}

obi_err kafka_producer_new(kafka_producer **out, const char *brokers, const char *topic,
                           const kafka_producer_options *opt, char *err_msg, size_t err_len) {
  kafka_producer_options o = {.compression = "zstd", .linger_ms = 5, .message_timeout_ms = 300000};
  if (opt) {
    if (opt->compression) o.compression = opt->compression;
    if (opt->linger_ms > 0) o.linger_ms = opt->linger_ms;
    if (opt->message_timeout_ms > 0) o.message_timeout_ms = opt->message_timeout_ms;
    o.debug = opt->debug;
    o.config = opt->config;
  }
  *out = NULL;
  if (err_msg && err_len) err_msg[0] = 0;
  if (!brokers || !*brokers || !topic || !*topic || strlen(topic) >= 256) {
    if (err_msg && err_len) snprintf(err_msg, err_len, "kafka: brokers and a topic (< 256 bytes) are needed");
    return OBI_EINVAL;
  }
  kafka_producer *p = calloc(1, sizeof *p);
  if (!p) return OBI_ENOMEM;
  snprintf(p->topic, sizeof p->topic, "%s", topic);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char linger[16], timeout[16], errstr[512];
  snprintf(linger, sizeof linger, "%d", o.linger_ms);
  snprintf(timeout, sizeof timeout, "%d", o.message_timeout_ms);
  if (conf_set(conf, "bootstrap.servers", brokers, err_msg, err_len) ||
      conf_set(conf, "enable.idempotence", "true", err_msg, err_len) ||
      conf_set(conf, "compression.codec", o.compression, err_msg, err_len) ||
      conf_set(conf, "partitioner", "murmur2_random", err_msg, err_len) ||
      conf_set(conf, "linger.ms", linger, err_msg, err_len) ||
      conf_set(conf, "message.timeout.ms", timeout, err_msg, err_len) ||
      (o.debug && conf_set(conf, "debug", o.debug, err_msg, err_len)) || conf_extra(conf, o.config, err_msg, err_len))
    goto fail_conf;
  if (!o.debug) rd_kafka_conf_set_log_cb(conf, log_drop);
  rd_kafka_conf_set_opaque(conf, p);
  rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!p->rk) {
    if (err_msg && err_len) snprintf(err_msg, err_len, "kafka producer: %s", errstr);
    goto fail_conf;
  }
  *out = p;
  return OBI_OK;
fail_conf:
  rd_kafka_conf_destroy(conf);
  free(p);
  return OBI_EINVAL;
}

obi_err kafka_produce_event(kafka_producer *p, const kafka_event_record *r) {
  uint8_t buf[KAFKA_EVENT_RECORD_SIZE];
  if (kafka_event_encode(buf, r)) return OBI_EINVAL;
  return kafka_produce_wait(p, NULL, r->symbol, buf, sizeof buf);
}

obi_err kafka_produce_wait(kafka_producer *p, const char *topic, const char *key, const void *buf, size_t len) {
  const char *t = topic ? topic : p->topic;
  for (;;) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(t), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE((void *)buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      set_error(p->error, sizeof p->error, "produce to %s: %s", t, rd_kafka_err2str(err));
      return OBI_EIO;
    }
    rd_kafka_poll(p->rk, 50); /* the queue is full: serve delivery reports to make room */
  }
  p->stats.produced++;
  rd_kafka_poll(p->rk, 0);
  return OBI_OK;
}

obi_err kafka_produce_bytes(kafka_producer *p, const char *topic, const char *key, const void *buf, size_t len) {
  const char *t = topic ? topic : p->topic;
  rd_kafka_resp_err_t err =
      rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(t), RD_KAFKA_V_KEY(key, strlen(key)),
                        RD_KAFKA_V_VALUE((void *)buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  rd_kafka_poll(p->rk, 0); /* delivery reports, never waiting */
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    p->stats.dropped++;
    return OBI_ERANGE;
  }
  if (err) {
    set_error(p->error, sizeof p->error, "produce to %s: %s", t, rd_kafka_err2str(err));
    return OBI_EIO;
  }
  p->stats.produced++;
  return OBI_OK;
}

obi_err kafka_producer_flush(kafka_producer *p, int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(p->rk, timeout_ms);
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    char n[32];
    snprintf(n, sizeof n, "%d", rd_kafka_outq_len(p->rk));
    set_error(p->error, sizeof p->error, "%s records to %s still undelivered at the flush timeout", n, p->topic);
    return OBI_EIO;
  }
  return p->stats.failed ? OBI_EIO : OBI_OK;
}

const kafka_producer_stats *kafka_producer_get_stats(const kafka_producer *p) { return &p->stats; }
const char *kafka_producer_error(const kafka_producer *p) { return p->error; }
void *kafka_producer_handle(kafka_producer *p) { return p->rk; }

void kafka_producer_free(kafka_producer *p) {
  if (!p) return;
  if (p->rk) {
    rd_kafka_flush(p->rk, 10000);
    rd_kafka_destroy(p->rk);
  }
  free(p);
}

/* ---- consumer ---- */

#define SEEN_CAP 4096 /* instruments whose last sequence is remembered (power of two) */

typedef struct {
  char symbol[KAFKA_SYMBOL_MAX + 1];
  uint64_t last;
  int32_t partition; /* where its last record came from */
  uint8_t fresh;     /* rebuild: no record passed on since its partition was assigned */
} seen_entry;

struct kafka_consumer {
  rd_kafka_t *rk;
  char topic[256];
  kafka_consumer_stats stats;
  seen_entry *seen;
  uint32_t nseen;
  /* rebuild: per partition, the offset below which records only rebuild state (the group's
   * committed offset when the partition was assigned) */
  int rebuild, from_end;
  int64_t *until;
  int32_t nuntil;
  int failed; /* the committed offsets of an assignment could not be read: stop, state would not be exact */
  int (*before_commit)(void *ctx);
  void *before_commit_ctx;
  char error[512];
};

/* Rebuild: what an assignment of parts must rebuild; every partition starts at its beginning. */
static void plan_rebuild(kafka_consumer *c, rd_kafka_topic_partition_list_t *parts) {
  rd_kafka_topic_partition_list_t *got = rd_kafka_topic_partition_list_copy(parts);
  rd_kafka_resp_err_t err = rd_kafka_committed(c->rk, got, 10000);
  for (int i = 0; i < parts->cnt; i++) {
    rd_kafka_topic_partition_t *p = &parts->elems[i];
    rd_kafka_resp_err_t e = err ? err : got->elems[i].err;
    int64_t until = got->elems[i].offset, lo, hi;
    if (!e && until < 0) { /* nothing committed: all is new, or (from_end) all that is there is old */
      until = 0;
      if (c->from_end && !(e = rd_kafka_query_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi, 10000)))
        until = hi;
    }
    if (e || p->partition < 0) {
      c->failed = 1;
      snprintf(c->error, sizeof c->error, "%s partition %d: the committed offset could not be read on assignment (%s)",
               c->topic, (int)p->partition, rd_kafka_err2str(e));
      continue;
    }
    if (p->partition >= c->nuntil) {
      int32_t n = p->partition + 1;
      int64_t *u = realloc(c->until, (size_t)n * sizeof *u);
      if (!u) {
        c->failed = 1;
        snprintf(c->error, sizeof c->error, "out of memory on the assignment of %s", c->topic);
        continue;
      }
      for (int32_t k = c->nuntil; k < n; k++) u[k] = 0;
      c->until = u, c->nuntil = n;
    }
    c->until[p->partition] = until;
    p->offset = RD_KAFKA_OFFSET_BEGINNING;
    for (uint32_t k = 0; k < SEEN_CAP; k++) /* its instruments start again */
      if (c->seen[k].symbol[0] && c->seen[k].partition == p->partition) c->seen[k].last = 0, c->seen[k].fresh = 1;
  }
  rd_kafka_topic_partition_list_destroy(got);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
  kafka_consumer *c = opaque;
  int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    plan_rebuild(c, parts);
    if (coop)
      rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
    else
      rd_kafka_assign(rk, parts);
  } else if (coop) {
    rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
  } else {
    rd_kafka_assign(rk, NULL);
  }
}

obi_err kafka_consumer_new(kafka_consumer **out, const char *brokers, const char *topic, const char *group,
                           const kafka_consumer_options *opt, char *err_msg, size_t err_len) {
  kafka_consumer_options o = {.session_timeout_ms = 6000};
  if (opt) {
    o = *opt;
    if (o.session_timeout_ms <= 0) o.session_timeout_ms = 6000;
  }
  *out = NULL;
  if (err_msg && err_len) err_msg[0] = 0;
  if (!brokers || !*brokers || !topic || !*topic || strlen(topic) >= 256 || !group || !*group) {
    if (err_msg && err_len) snprintf(err_msg, err_len, "kafka: brokers, a topic (< 256 bytes) and a group are needed");
    return OBI_EINVAL;
  }
  kafka_consumer *c = calloc(1, sizeof *c);
  seen_entry *seen = calloc(SEEN_CAP, sizeof *seen);
  if (!c || !seen) {
    free(c);
    free(seen);
    return OBI_ENOMEM;
  }
  c->seen = seen;
  c->rebuild = o.rebuild, c->from_end = o.from_end;
  c->before_commit = o.before_commit, c->before_commit_ctx = o.before_commit_ctx;
  snprintf(c->topic, sizeof c->topic, "%s", topic);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char session[16], errstr[512];
  snprintf(session, sizeof session, "%d", o.session_timeout_ms);
  rd_kafka_topic_partition_list_t *subs = NULL;
  if (conf_set(conf, "bootstrap.servers", brokers, err_msg, err_len) ||
      conf_set(conf, "group.id", group, err_msg, err_len) ||
      conf_set(conf, "enable.auto.commit", "false", err_msg, err_len) ||
      conf_set(conf, "enable.auto.offset.store", "false", err_msg, err_len) ||
      conf_set(conf, "auto.offset.reset", o.from_end ? "latest" : "earliest", err_msg, err_len) ||
      conf_set(conf, "session.timeout.ms", session, err_msg, err_len) ||
      (o.debug && conf_set(conf, "debug", o.debug, err_msg, err_len)) || conf_extra(conf, o.config, err_msg, err_len))
    goto fail_conf;
  if (!o.debug) rd_kafka_conf_set_log_cb(conf, log_drop);
  if (o.rebuild) {
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  }
  c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!c->rk) {
    if (err_msg && err_len) snprintf(err_msg, err_len, "kafka consumer: %s", errstr);
    goto fail_conf;
  }
  rd_kafka_poll_set_consumer(c->rk);
  subs = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, subs);
  rd_kafka_topic_partition_list_destroy(subs);
  if (err) {
    if (err_msg && err_len) snprintf(err_msg, err_len, "kafka subscribe to %s: %s", topic, rd_kafka_err2str(err));
    rd_kafka_destroy(c->rk);
    goto fail;
  }
  *out = c;
  return OBI_OK;
fail_conf:
  rd_kafka_conf_destroy(conf);
fail:
  free(c->seen);
  free(c);
  return OBI_EINVAL;
}

/* The entry of symbol (last sequence passed on, created at 0); NULL when the table is full. */
static seen_entry *seen_slot(kafka_consumer *c, const char *symbol) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *s = symbol; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  for (uint32_t i = 0; i < SEEN_CAP; i++) {
    seen_entry *e = &c->seen[(h + i) & (SEEN_CAP - 1)];
    if (!e->symbol[0]) {
      if (c->nseen >= SEEN_CAP - 1) return NULL;
      snprintf(e->symbol, sizeof e->symbol, "%s", symbol);
      e->partition = -1;
      e->fresh = 1;
      c->nseen++;
      return e;
    }
    if (!strcmp(e->symbol, symbol)) return e;
  }
  return NULL;
}

static obi_err commit(kafka_consumer *c, rd_kafka_topic_partition_list_t *offsets) {
  if (!offsets->cnt) return OBI_OK;
  if (c->before_commit && c->before_commit(c->before_commit_ctx)) {
    if (!c->error[0])
      snprintf(c->error, sizeof c->error, "offsets on %s not committed: the output was not flushed", c->topic);
    return OBI_EIO;
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, offsets, 0);
  if (err) {
    snprintf(c->error, sizeof c->error, "offset commit on %s: %s", c->topic, rd_kafka_err2str(err));
    return OBI_EIO;
  }
  c->stats.commits++;
  return OBI_OK;
}

obi_err kafka_consumer_poll(kafka_consumer *c, int timeout_ms, int max_records, kafka_event_fn fn, void *user,
                            int *got) {
  rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(8);
  obi_err rc = OBI_OK;
  *got = 0;
  for (int i = 0; i < max_records && !c->failed; i++) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, i == 0 ? timeout_ms : 0);
    if (!m) break;
    if (c->failed) { /* an assignment in this poll could not be planned */
      rd_kafka_message_destroy(m);
      break;
    }
    if (m->err) { /* transport errors are retried by librdkafka; only fatal ones stop */
      int fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
      snprintf(c->error, sizeof c->error, "kafka consumer: %s", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      if (fatal) {
        rc = OBI_EIO;
        break;
      }
      continue;
    }
    (*got)++;
    c->stats.messages++;
    kafka_event_record r;
    char why[200];
    int cb = 0;
    /* processed and committed before: rebuilds state, never committed again (not below the commit) */
    int old = c->rebuild && m->partition >= 0 && m->partition < c->nuntil && m->offset < c->until[m->partition];
    if (kafka_event_decode(&r, m->payload, m->len, why, sizeof why) != OBI_OK) {
      c->stats.bad++;
      if (!c->error[0])
        snprintf(c->error, sizeof c->error, "%s partition %d offset %lld: %s", c->topic, (int)m->partition,
                 (long long)m->offset, why);
    } else {
      seen_entry *se = seen_slot(c, r.symbol);
      if (se && r.seq <= se->last) {
        c->stats.duplicates++;
      } else {
        if (old) r.delivery |= KAFKA_DELIVERY_REBUILD;
        if (c->rebuild && se && se->fresh) r.delivery |= KAFKA_DELIVERY_FIRST;
        cb = fn(user, &r, m->partition, m->offset);
        if (cb == 0) {
          c->stats.processed++;
          c->stats.rebuilt += (uint64_t)old;
          if (se) se->last = r.seq, se->fresh = 0, se->partition = m->partition;
        }
      }
    }
    if (cb != 0) { /* not processed: not committed, delivered again after a restart */
      rd_kafka_message_destroy(m);
      rc = cb;
      break;
    }
    if (old) {
      rd_kafka_message_destroy(m);
      continue;
    }
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(offsets, rd_kafka_topic_name(m->rkt), m->partition);
    if (!tp) tp = rd_kafka_topic_partition_list_add(offsets, rd_kafka_topic_name(m->rkt), m->partition);
    tp->offset = m->offset + 1; /* Kafka commits the next offset to read */
    rd_kafka_message_destroy(m);
  }
  obi_err cerr = commit(c, offsets);
  rd_kafka_topic_partition_list_destroy(offsets);
  if (!rc && c->failed) rc = OBI_EIO;
  return rc ? rc : cerr;
}

int kafka_consumer_assigned(const kafka_consumer *c) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  if (rd_kafka_assignment(c->rk, &parts) || !parts) return 0;
  int n = parts->cnt;
  rd_kafka_topic_partition_list_destroy(parts);
  return n;
}

int64_t kafka_consumer_committed(kafka_consumer *c, int32_t partition) {
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, c->topic, partition);
  int64_t off = -1;
  if (rd_kafka_committed(c->rk, parts, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && !parts->elems[0].err &&
      parts->elems[0].offset >= 0)
    off = parts->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(parts);
  return off;
}

const kafka_consumer_stats *kafka_consumer_get_stats(const kafka_consumer *c) { return &c->stats; }
const char *kafka_consumer_error(const kafka_consumer *c) { return c->error; }

void kafka_consumer_free(kafka_consumer *c) {
  if (!c) return;
  if (c->rk) {
    rd_kafka_consumer_close(c->rk); /* offsets were committed after each batch; this leaves the group */
    rd_kafka_destroy(c->rk);
  }
  free(c->seen);
  free(c->until);
  free(c);
}
