/* cmd_stream.c — `obi stream`: normalised events through a Kafka topic (see kafka.h and
 * docs/kafka.md).
 *
 * produce replays a LOBSTER pair and publishes every message as an event record keyed by the
 * instrument, each followed by the LEVEL_SET corrections that keep a book rebuilt from the topic
 * equal to the replay's book (kafka_sync_levels against a mirror book fed only with what was
 * published). consume joins a consumer group, rebuilds one book per instrument of the partitions
 * it is assigned, and prints per instrument the records, the last sequence, sequence gaps and the
 * final best bid and ask (integer ticks). Offsets are committed after each batch is processed.
 *
 * With --model, each instrument also has the pipeline of serve and backtest (pipeline.h): a
 * feature engine and sampler from the training file's sidecar and its own model (model_step keeps
 * per-stream state). An event's row waits for the instrument's next event record, which says
 * whether the event ended its timestamp group; the row then sees the book after the event and its
 * level corrections, as the source's book was. Predictions go to a topic as kind-3 records whose
 * seq is the event record's, and are flushed before each commit.
 *
 * The state lives in memory, so the consumer asks for kafka_consumer_options.rebuild: a partition
 * it is assigned is read from its beginning, what the group had committed rebuilds the state only
 * (no output), and output starts at the committed offset. A restarted instance, or one that takes
 * a partition over, thus has the state an uninterrupted one would have, while the partition still
 * holds the instruments' first records (docs/kafka.md, "Scaling out by partition"). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/kafka.h"
#include "obi/lobster.h"
#include "pipeline.h"

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static int produce(const char *brokers, const char *topic, const char *msg_path, const char *book_path,
                   const char *symbol_opt, long limit, const char *compression, int json) {
  char err[1024], symbol[KAFKA_SYMBOL_MAX + 1];
  if (symbol_opt) {
    snprintf(symbol, sizeof symbol, "%.31s", symbol_opt);
  } else {
    char day[64];
    cli_source_day(msg_path, day, sizeof day);
    char *us = strchr(day, '_');
    if (us) *us = 0;
    snprintf(symbol, sizeof symbol, "%.31s", day[0] ? day : "UNKNOWN");
  }
  lobster_replay *r = NULL;
  kafka_producer *p = NULL;
  obi_book mirror;
  int rc = EXIT_BAD_INPUT, mirror_ok = 0;
  if (lobster_open(&r, msg_path, book_path, NULL, err, sizeof err)) {
    cli_input_error("%s", err);
    goto done;
  }
  if (book_init(&mirror, 0)) {
    cli_input_error("out of memory");
    goto done;
  }
  mirror_ok = 1;
  kafka_producer_options o = {.compression = compression};
  if (kafka_producer_new(&p, brokers, topic, &o, err, sizeof err)) {
    cli_input_error("%s", err);
    goto done;
  }
  double t0 = cli_now();
  uint64_t seq = 0, events = 0, corrections = 0;
  obi_event ev, fix[512];
  obi_err e;
  while ((limit <= 0 || (long)events < limit) && (e = lobster_next(r, &ev)) == OBI_OK) {
    kafka_event_record rec = {.seq = ++seq, .ev = ev};
    snprintf(rec.symbol, sizeof rec.symbol, "%s", symbol);
    kafka_apply_event(&mirror, &ev);
    if (kafka_produce_event(p, &rec)) goto kafka_fail;
    events++;
    int n;
    do {
      e = kafka_sync_levels(&mirror, lobster_book(r), ev.ts_ns, fix, 512, &n);
      for (int k = 0; k < n; k++) {
        kafka_event_record c = {.seq = ++seq, .flags = KAFKA_FLAG_CORRECTION, .ev = fix[k]};
        memcpy(c.symbol, rec.symbol, sizeof c.symbol);
        if (kafka_produce_event(p, &c)) goto kafka_fail;
        corrections++;
      }
    } while (e == OBI_ERANGE);
    if (e) {
      cli_input_error("%s: the book could not be mirrored after message %llu (%s)", msg_path,
                      (unsigned long long)events, obi_strerror(e));
      goto done;
    }
  }
  if (e != OBI_OK && e != OBI_EEOF) {
    cli_input_error("%s", lobster_error(r));
    goto done;
  }
  if (kafka_producer_flush(p, 60000)) goto kafka_fail;
  double secs = cli_now() - t0;
  const kafka_producer_stats *s = kafka_producer_get_stats(p);
  if (json)
    printf("{\"topic\":\"%s\",\"symbol\":\"%s\",\"events\":%llu,\"corrections\":%llu,\"records\":%llu,"
           "\"delivered\":%llu,\"seconds\":%.3f}\n",
           topic, symbol, (unsigned long long)events, (unsigned long long)corrections, (unsigned long long)seq,
           (unsigned long long)s->delivered, secs);
  else
    printf("%s -> %s: %llu records (%llu events, %llu level corrections), all delivered, %.2f s (%.0f records/s)\n",
           symbol, topic, (unsigned long long)seq, (unsigned long long)events, (unsigned long long)corrections, secs,
           secs > 0 ? (double)seq / secs : 0.0);
  rc = EXIT_OK;
  goto done;
kafka_fail:
  cli_input_error("%s", kafka_producer_error(p));
done:
  kafka_producer_free(p);
  if (mirror_ok) book_free(&mirror);
  lobster_close(r);
  return rc;
}

#define MAX_INSTRUMENTS 1024

/* --model: what every instrument's pipeline is built from. */
typedef struct {
  const char *model_path, *features;
  sidecar sc;
  char kind[KAFKA_MODEL_TEXT_MAX + 1], version[KAFKA_MODEL_TEXT_MAX + 1];
  const char *topic; /* predictions */
  kafka_producer *out;
} predictor;

typedef struct {
  char symbol[KAFKA_SYMBOL_MAX + 1];
  int partition;
  uint64_t records, corrections, first_seq, last_seq, gaps, book_errors, rebuilt, predictions;
  obi_book book;
  int book_ok;
  /* --model: the engine, sampler and model state of this instrument, and the event whose row
   * waits for the next event (which says whether it ended its timestamp group) */
  model_signal ms;
  feat_sampler sampler;
  int has_pending;
  obi_event pending;
  uint64_t pending_seq;
} instrument;

typedef struct {
  instrument *ins;
  int n;
  uint64_t records, rebuilt, predictions;
  predictor *pr; /* NULL without --model */
  char why[1200];
} consume_state;

static void instrument_free(instrument *in) {
  if (in->book_ok) book_free(&in->book);
  in->book_ok = 0;
  feat_free(in->ms.e);
  model_free(in->ms.m);
  in->ms.e = NULL, in->ms.m = NULL;
}

/* A fresh state: empty book, and with a model a fresh engine, sampler and model state. The model
 * is loaded once per instrument (model_step keeps per-stream state such as LSTM windows). */
static int instrument_start(consume_state *st, instrument *in) {
  uint64_t predictions = in->predictions; /* what was published stays published */
  obi_model *m = in->ms.m;
  in->ms.m = NULL;
  instrument_free(in);
  char symbol[sizeof in->symbol];
  memcpy(symbol, in->symbol, sizeof symbol);
  memset(in, 0, sizeof *in);
  memcpy(in->symbol, symbol, sizeof symbol);
  in->predictions = predictions;
  if (book_init(&in->book, 0)) {
    model_free(m);
    return snprintf(st->why, sizeof st->why, "out of memory"), -1;
  }
  in->book_ok = 1;
  if (!st->pr) return 0;
  const predictor *pr = st->pr;
  if (m)
    model_reset(m);
  else if (model_load(&m, pr->model_path, st->why, sizeof st->why))
    return -1;
  in->ms.m = m;
  in->ms.C = model_features(m);
  if (feat_new(&in->ms.e, &pr->sc.fc))
    return snprintf(st->why, sizeof st->why, "%s: invalid feature configuration", pr->features), -1;
  if (pr->sc.has_mp) feat_set_microprice(in->ms.e, &pr->sc.mp);
  if (ms_map_columns(in->ms.e, m, in->ms.cols, st->why, sizeof st->why) ||
      feat_sampler_parse(&in->sampler, pr->sc.sampling, pr->sc.split_timestamps))
    return -1; /* checked at start: not reached */
  return 0;
}

/* The pending event's row, as `obi serve` and `obi backtest` make it (bt_on_event): the engine
 * sees the event with the book after it and its level corrections, the sampler decides, the model
 * steps on the row. group_end: the next event of the instrument has a later timestamp. The
 * prediction is published unless the record that closed the event only rebuilds state. */
static int close_pending(consume_state *st, instrument *in, int group_end, int publish) {
  const obi_event *ev = &in->pending;
  in->has_pending = 0;
  ms_update(&in->ms, ev, &in->book);
  float p[3];
  if (!feat_sampler_take(&in->sampler, ev, &in->book, group_end) || !ms_predict(&in->ms, ev, &in->book, 0, p) ||
      !publish)
    return 0;
  const predictor *pr = st->pr;
  /* seq: the event record's, a function of the input stream, so a prediction published again
   * after a crash carries the seq it had and a reader drops it (docs/kafka.md) */
  kafka_prediction_record rec = {.seq = in->pending_seq, .ts_ns = ev->ts_ns};
  memcpy(rec.p, p, sizeof rec.p);
  memcpy(rec.symbol, in->symbol, sizeof rec.symbol);
  memcpy(rec.model_kind, pr->kind, sizeof rec.model_kind);
  memcpy(rec.model_version, pr->version, sizeof rec.model_version);
  uint8_t buf[KAFKA_PREDICTION_RECORD_SIZE];
  if (kafka_prediction_encode(buf, &rec) ||
      kafka_produce_wait(pr->out, pr->topic, in->symbol, buf, sizeof buf) != OBI_OK) {
    snprintf(st->why, sizeof st->why, "%s", kafka_producer_error(pr->out));
    return -1;
  }
  in->predictions++;
  st->predictions++;
  return 0;
}

static int on_record(void *user, const kafka_event_record *r, int32_t partition, int64_t offset) {
  (void)offset;
  consume_state *st = user;
  instrument *in = NULL;
  for (int i = 0; i < st->n && !in; i++)
    if (!strcmp(st->ins[i].symbol, r->symbol)) in = &st->ins[i];
  if (!in) {
    if (st->n == MAX_INSTRUMENTS)
      return snprintf(st->why, sizeof st->why, "more than %d instruments", MAX_INSTRUMENTS), 1;
    in = &st->ins[st->n++];
    snprintf(in->symbol, sizeof in->symbol, "%s", r->symbol);
    if (instrument_start(st, in)) return 1;
  } else if (r->delivery & KAFKA_DELIVERY_FIRST) { /* its partition was assigned again: read from the start */
    if (instrument_start(st, in)) return 1;
  }
  int rebuild = r->delivery & KAFKA_DELIVERY_REBUILD, correction = r->flags & KAFKA_FLAG_CORRECTION;
  if (!in->records) in->first_seq = r->seq;
  in->partition = partition;
  if (in->last_seq && r->seq != in->last_seq + 1) in->gaps++;
  in->last_seq = r->seq;
  in->records++;
  in->corrections += (uint64_t)correction;
  in->rebuilt += (uint64_t)(rebuild != 0);
  st->rebuilt += (uint64_t)(rebuild != 0);
  if (st->pr && !correction && in->has_pending &&
      close_pending(st, in, r->ev.ts_ns > in->pending.ts_ns, !rebuild)) /* the source's lobster_peek_time rule */
    return 1;
  if (kafka_apply_event(&in->book, &r->ev)) in->book_errors++;
  if (st->pr && !correction) in->pending = r->ev, in->pending_seq = r->seq, in->has_pending = 1;
  st->records++;
  return 0;
}

/* Before each commit: what the committed records produced is delivered first. */
static int flush_predictions(void *ctx) {
  predictor *pr = ctx;
  return kafka_producer_flush(pr->out, 60000) != OBI_OK;
}

static int cmp_symbol(const void *a, const void *b) {
  return strcmp(((const instrument *)a)->symbol, ((const instrument *)b)->symbol);
}

/* --model: the sidecar, the model (loaded once to check it against the engine) and the producer. */
static int predictor_open(predictor *pr, const char *brokers, char *why, size_t why_len) {
  if (read_sidecar(pr->features, &pr->sc, why, why_len)) return -1;
  obi_model *m;
  char w[1024];
  if (model_load(&m, pr->model_path, w, sizeof w)) return snprintf(why, why_len, "%s: %s", pr->model_path, w), -1;
  feat_engine *e = NULL;
  int cols[MODEL_MAX_FEATURES], rc = -1;
  feat_sampler sampler;
  if (feat_new(&e, &pr->sc.fc)) {
    snprintf(why, why_len, "%s: invalid feature configuration in the sidecar", pr->features);
  } else if (ms_map_columns(e, m, cols, w, sizeof w)) {
    snprintf(why, why_len, "%s: %s (features of %s)", pr->model_path, w, pr->features);
  } else if (feat_sampler_parse(&sampler, pr->sc.sampling, pr->sc.split_timestamps)) {
    snprintf(why, why_len, "%s: unknown sampling '%s' in the sidecar", pr->features, pr->sc.sampling);
  } else {
    char sha[65] = "";
    cli_sha256_file(pr->model_path, sha);
    snprintf(pr->kind, sizeof pr->kind, "%.15s", model_kind_name(model_get_config(m)->kind));
    snprintf(pr->version, sizeof pr->version, "%.12s", sha[0] ? sha : "unknown");
    kafka_producer_options o = {.linger_ms = 5};
    rc = kafka_producer_new(&pr->out, brokers, pr->topic, &o, why, why_len) ? -1 : 0;
  }
  feat_free(e);
  model_free(m);
  return rc;
}

static int consume(const char *brokers, const char *topic, const char *group, double idle_s, long max, int rebuild,
                   predictor *pr, int json) {
  char err[1200];
  consume_state st = {.pr = pr};
  if (pr && predictor_open(pr, brokers, err, sizeof err)) {
    kafka_producer_free(pr->out);
    return cli_input_error("%s", err);
  }
  st.ins = calloc(MAX_INSTRUMENTS, sizeof *st.ins);
  if (!st.ins) {
    kafka_producer_free(pr ? pr->out : NULL);
    return cli_input_error("out of memory");
  }
  kafka_consumer *c;
  kafka_consumer_options co = {
      .rebuild = rebuild, .before_commit = pr ? flush_predictions : NULL, .before_commit_ctx = pr};
  if (kafka_consumer_new(&c, brokers, topic, group, &co, err, sizeof err)) {
    free(st.ins);
    kafka_producer_free(pr ? pr->out : NULL);
    return cli_input_error("%s", err);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  int rc = EXIT_OK;
  double t0 = cli_now(), last = t0;
  int was_assigned = 0;
  while (!stop_signal && (max <= 0 || (long)st.records < max)) {
    int got;
    int batch = max > 0 && max - (long)st.records < 1000 ? (int)(max - (long)st.records) : 1000;
    obi_err e = kafka_consumer_poll(c, 200, batch, on_record, &st, &got);
    if (e) {
      rc = cli_input_error("%s", e == 1 ? st.why : kafka_consumer_error(c));
      break;
    }
    double now = cli_now();
    int assigned = kafka_consumer_assigned(c);
    /* idle counts from the assignment on (an assignment may take seconds inside the poll) */
    if (got || !assigned || assigned != was_assigned) last = now;
    was_assigned = assigned;
    if (idle_s > 0 && now - last >= idle_s) break;
  }
  const kafka_consumer_stats *s = kafka_consumer_get_stats(c);
  double secs = cli_now() - t0;
  qsort(st.ins, (size_t)st.n, sizeof *st.ins, cmp_symbol);
  if (json) {
    printf("{\"topic\":\"%s\",\"group\":\"%s\",\"records\":%llu,\"rebuilt\":%llu,\"duplicates\":%llu,\"bad\":%llu,",
           topic, group, (unsigned long long)st.records, (unsigned long long)st.rebuilt,
           (unsigned long long)s->duplicates, (unsigned long long)s->bad);
    if (pr)
      printf("\"predictions_topic\":\"%s\",\"model\":\"%s\",\"version\":\"%s\",\"predictions\":%llu,", pr->topic,
             pr->kind, pr->version, (unsigned long long)st.predictions);
    printf("\"seconds\":%.3f,\"instruments\":[", secs);
  }
  for (int i = 0; i < st.n; i++) {
    instrument *in = &st.ins[i];
    int64_t bid = 0, bid_size = 0, ask = 0, ask_size = 0;
    int has_bid = book_best(&in->book, OBI_BID, &bid, &bid_size),
        has_ask = book_best(&in->book, OBI_ASK, &ask, &ask_size);
    if (in->first_seq > 1)
      fprintf(stderr,
              "obi: %s: partition %d starts at seq %llu (records before it are no longer kept): its book%s were "
              "rebuilt from there, not from the instrument's first record\n",
              in->symbol, in->partition, (unsigned long long)in->first_seq, pr ? " and predictions" : "");
    if (json) {
      printf("%s{\"symbol\":\"%s\",\"partition\":%d,\"records\":%llu,\"events\":%llu,\"corrections\":%llu,"
             "\"last_seq\":%llu,\"gaps\":%llu,\"book_errors\":%llu,\"rebuilt\":%llu,\"first_seq\":%llu,",
             i ? "," : "", in->symbol, in->partition, (unsigned long long)in->records,
             (unsigned long long)(in->records - in->corrections), (unsigned long long)in->corrections,
             (unsigned long long)in->last_seq, (unsigned long long)in->gaps, (unsigned long long)in->book_errors,
             (unsigned long long)in->rebuilt, (unsigned long long)in->first_seq);
      printf("\"levels\":[%u,%u],", (unsigned)book_depth(&in->book, OBI_BID), (unsigned)book_depth(&in->book, OBI_ASK));
      if (pr) printf("\"predictions\":%llu,", (unsigned long long)in->predictions);
      if (has_bid)
        printf("\"bid\":%lld,\"bid_size\":%lld,", (long long)bid, (long long)bid_size);
      else
        printf("\"bid\":null,\"bid_size\":null,");
      if (has_ask)
        printf("\"ask\":%lld,\"ask_size\":%lld}", (long long)ask, (long long)ask_size);
      else
        printf("\"ask\":null,\"ask_size\":null}");
    } else {
      printf("%s (partition %d): %llu records (%llu events, %llu corrections, %llu rebuilt), last seq %llu, %llu gaps",
             in->symbol, in->partition, (unsigned long long)in->records,
             (unsigned long long)(in->records - in->corrections), (unsigned long long)in->corrections,
             (unsigned long long)in->rebuilt, (unsigned long long)in->last_seq, (unsigned long long)in->gaps);
      if (pr) printf(", %llu predictions", (unsigned long long)in->predictions);
      if (has_bid) printf(", bid %lld x %lld", (long long)bid, (long long)bid_size);
      if (has_ask) printf(", ask %lld x %lld", (long long)ask, (long long)ask_size);
      printf("\n");
    }
  }
  if (json)
    printf("]}\n");
  else {
    printf("%llu records from %s (group %s; %llu only rebuilt state), %llu duplicates dropped, %llu bad records, "
           "%.2f s\n",
           (unsigned long long)st.records, topic, group, (unsigned long long)st.rebuilt,
           (unsigned long long)s->duplicates, (unsigned long long)s->bad, secs);
    if (pr)
      printf("%llu predictions (%s %s) to %s\n", (unsigned long long)st.predictions, pr->kind, pr->version, pr->topic);
  }
  if (s->bad) fprintf(stderr, "obi: first bad record: %s\n", kafka_consumer_error(c));
  kafka_consumer_free(c); /* commits nothing more: every batch was committed after its flush */
  if (pr && kafka_producer_flush(pr->out, 60000) && rc == EXIT_OK)
    rc = cli_input_error("%s", kafka_producer_error(pr->out));
  for (int i = 0; i < st.n; i++) instrument_free(&st.ins[i]);
  free(st.ins);
  if (pr) kafka_producer_free(pr->out);
  return rc;
}

static int cmd_stream(int argc, char **argv) {
  const char *brokers = NULL, *topic = NULL, *group = NULL, *symbol = NULL, *compression = "zstd", *mode = NULL;
  const char *files[2] = {NULL, NULL}, *model = NULL, *features = NULL, *predictions = NULL;
  int nfiles = 0, json = 0, rebuild = 1;
  long limit = 0, max = 0;
  double idle = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    if (!strcmp(o, "--json"))
      json = 1;
    else if (!strcmp(o, "--no-rebuild"))
      rebuild = 0;
    else if (!strcmp(o, "--model") && v)
      model = v, i++;
    else if (!strcmp(o, "--features") && v)
      features = v, i++;
    else if (!strcmp(o, "--predictions") && v)
      predictions = v, i++;
    else if (!strcmp(o, "--kafka") && v)
      brokers = v, i++;
    else if (!strcmp(o, "--topic") && v)
      topic = v, i++;
    else if (!strcmp(o, "--group") && v)
      group = v, i++;
    else if (!strcmp(o, "--symbol") && v)
      symbol = v, i++;
    else if (!strcmp(o, "--compression") && v)
      compression = v, i++;
    else if (!strcmp(o, "--limit") && v) {
      if (cli_parse_int(v, 1, 1L << 40, &limit)) return cli_usage_error(&cmd_stream_def, "--limit: events > 0");
      i++;
    } else if (!strcmp(o, "--max") && v) {
      if (cli_parse_int(v, 1, 1L << 40, &max)) return cli_usage_error(&cmd_stream_def, "--max: records > 0");
      i++;
    } else if (!strcmp(o, "--idle") && v) {
      idle = strtod(v, &end), i++;
      if (*end || !(idle > 0 && idle < 1e9)) return cli_usage_error(&cmd_stream_def, "--idle: seconds > 0");
    } else if (o[0] == '-')
      return cli_usage_error(&cmd_stream_def, "unknown option or missing value: '%s'", o);
    else if (!mode)
      mode = o;
    else if (nfiles < 2)
      files[nfiles++] = o;
    else
      return cli_usage_error(&cmd_stream_def, "unexpected argument '%s'", o);
  }
  if (!brokers || !topic || !mode)
    return cli_usage_error(&cmd_stream_def, "needs --kafka BROKERS, --topic T and produce or consume");
  if (symbol && (!*symbol || strlen(symbol) > KAFKA_SYMBOL_MAX))
    return cli_usage_error(&cmd_stream_def, "--symbol: 1 to %d characters", KAFKA_SYMBOL_MAX);
  if (strcmp(compression, "zstd") && strcmp(compression, "lz4") && strcmp(compression, "none"))
    return cli_usage_error(&cmd_stream_def, "--compression: zstd, lz4 or none");
  if (!strcmp(mode, "produce")) {
    if (model || features || predictions || !rebuild)
      return cli_usage_error(&cmd_stream_def, "--model, --features, --predictions and --no-rebuild are for consume");
    if (nfiles != 2)
      return cli_usage_error(&cmd_stream_def, "produce needs a LOBSTER message file and its orderbook file");
    return produce(brokers, topic, files[0], files[1], symbol, limit, compression, json);
  }
  if (!strcmp(mode, "consume")) {
    if (nfiles) return cli_usage_error(&cmd_stream_def, "consume takes no files");
    if (!group) return cli_usage_error(&cmd_stream_def, "consume needs --group G");
    if (!model != !features)
      return cli_usage_error(&cmd_stream_def, "--model MODEL and --features TRAIN.npy go together (the features' "
                                              "sidecar gives the engine and the sampler the model was trained on)");
    if (predictions && !model) return cli_usage_error(&cmd_stream_def, "--predictions needs --model and --features");
    if (predictions && (!*predictions || strlen(predictions) >= 256))
      return cli_usage_error(&cmd_stream_def, "--predictions: a topic name of 1 to 255 characters");
    if (!model) return consume(brokers, topic, group, idle, max, rebuild, NULL, json);
    /* the default predictions topic: PREFIX.predictions beside PREFIX.events (as obi serve
     * names them), else TOPIC.predictions */
    char ptopic[300];
    size_t n = strlen(topic);
    if (predictions)
      snprintf(ptopic, sizeof ptopic, "%s", predictions);
    else if (n > 7 && !strcmp(topic + n - 7, ".events"))
      snprintf(ptopic, sizeof ptopic, "%.*s.predictions", (int)(n - 7), topic);
    else
      snprintf(ptopic, sizeof ptopic, "%s.predictions", topic);
    if (strlen(ptopic) >= 256)
      return cli_usage_error(&cmd_stream_def, "the predictions topic '%s' is too long: give --predictions", ptopic);
    predictor pr = {.model_path = model, .features = features, .topic = ptopic};
    return consume(brokers, topic, group, idle, max, rebuild, &pr, json);
  }
  return cli_usage_error(&cmd_stream_def, "unknown mode '%s' (produce or consume)", mode);
}

const cli_command cmd_stream_def = {
    "stream", cmd_stream, "publish events to a Kafka topic, or consume them and rebuild the books",
    "usage: obi stream --kafka BROKERS --topic T produce MESSAGES ORDERBOOK [--symbol S] [--limit N]\n"
    "                  [--compression zstd|lz4|none] [--json]\n"
    "       obi stream --kafka BROKERS --topic T consume --group G [--model MODEL --features TRAIN.npy\n"
    "                  [--predictions TOPIC]] [--no-rebuild] [--idle S] [--max N] [--json]\n\n"
    "produce replays a LOBSTER message/orderbook pair (plain or .zst) and publishes every message as an\n"
    "80-byte event record (docs/kafka.md) keyed by the instrument (--symbol, default: from the file name),\n"
    "each followed by the level corrections that keep a book rebuilt from the topic equal to the\n"
    "replay's. The producer is idempotent; --limit stops after N messages.\n\n"
    "consume joins consumer group G, rebuilds one book per instrument from the records of its partitions,\n"
    "commits offsets after processing, and prints per instrument the records, the last sequence number,\n"
    "gaps in the sequence, and the final best bid and ask in integer ticks. Each partition it is given is\n"
    "read from its beginning: records the group had committed only rebuild the state (\"rebuilt\"), so a\n"
    "restarted or new instance has exact books while Kafka still holds the partition's first records\n"
    "(--no-rebuild: start empty at the committed offset). With --model and --features (the training file,\n"
    "whose sidecar gives the feature engine and sampler) every instrument gets its own features and model\n"
    "state, and each prediction is published as a kind-3 record to --predictions (default: P.predictions\n"
    "for a topic P.events, else T.predictions), keyed by the instrument, with the seq of the event record\n"
    "it was made at; a row is made when the instrument's next event arrives. Predictions are flushed before\n"
    "each commit and none is published for a rebuilt record. It runs until interrupted, until no record\n"
    "came for --idle seconds (counted once partitions are assigned), or after --max records (rebuilt ones\n"
    "included).\n"
    "BROKERS is host:port[,host:port...].\n"};
