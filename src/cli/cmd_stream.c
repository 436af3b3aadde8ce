/* cmd_stream.c — `obi stream`: normalised events through a Kafka topic (see kafka.h and
 * docs/kafka.md).
 *
 * produce replays a LOBSTER pair and publishes every message as an event record keyed by the
 * instrument, each followed by the LEVEL_SET corrections that keep a book rebuilt from the topic
 * equal to the replay's book (kafka_sync_levels against a mirror book fed only with what was
 * published). consume joins a consumer group, rebuilds one book per instrument of the partitions
 * it is assigned, and prints per instrument the records, the last sequence, sequence gaps and the
 * final best bid and ask (integer ticks). Offsets are committed after each batch is processed.
 * A consumer's books live in memory: an instance that joins a stream in the middle sees the
 * instrument's books from its first record on (docs/kafka.md says how a deployment handles it). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/kafka.h"
#include "obi/lobster.h"

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

typedef struct {
  char symbol[KAFKA_SYMBOL_MAX + 1];
  int partition;
  uint64_t records, corrections, last_seq, gaps, book_errors;
  obi_book book;
} instrument;

typedef struct {
  instrument *ins;
  int n;
  uint64_t records;
  long max;
} consume_state;

static int on_record(void *user, const kafka_event_record *r, int32_t partition, int64_t offset) {
  (void)offset;
  consume_state *st = user;
  instrument *in = NULL;
  for (int i = 0; i < st->n && !in; i++)
    if (!strcmp(st->ins[i].symbol, r->symbol)) in = &st->ins[i];
  if (!in) {
    if (st->n == MAX_INSTRUMENTS || book_init(&st->ins[st->n].book, 0)) return 1;
    in = &st->ins[st->n++];
    snprintf(in->symbol, sizeof in->symbol, "%s", r->symbol);
  }
  in->partition = partition;
  if (in->last_seq && r->seq != in->last_seq + 1) in->gaps++;
  in->last_seq = r->seq;
  in->records++;
  in->corrections += r->flags & KAFKA_FLAG_CORRECTION;
  if (kafka_apply_event(&in->book, &r->ev)) in->book_errors++;
  st->records++;
  return 0;
}

static int cmp_symbol(const void *a, const void *b) {
  return strcmp(((const instrument *)a)->symbol, ((const instrument *)b)->symbol);
}

static int consume(const char *brokers, const char *topic, const char *group, double idle_s, long max, int json) {
  char err[1024];
  consume_state st = {.max = max};
  st.ins = calloc(MAX_INSTRUMENTS, sizeof *st.ins);
  if (!st.ins) return cli_input_error("out of memory");
  kafka_consumer *c;
  if (kafka_consumer_new(&c, brokers, topic, group, NULL, err, sizeof err)) {
    free(st.ins);
    return cli_input_error("%s", err);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  int rc = EXIT_OK;
  double t0 = cli_now(), last = t0;
  while (!stop_signal && (max <= 0 || (long)st.records < max)) {
    int got;
    int batch = max > 0 && max - (long)st.records < 1000 ? (int)(max - (long)st.records) : 1000;
    obi_err e = kafka_consumer_poll(c, 200, batch, on_record, &st, &got);
    if (e) {
      rc = cli_input_error("%s", e == 1 ? "more than 1024 instruments" : kafka_consumer_error(c));
      break;
    }
    double now = cli_now();
    if (got || !kafka_consumer_assigned(c)) last = now; /* idle counts from the assignment on */
    if (idle_s > 0 && now - last >= idle_s) break;
  }
  const kafka_consumer_stats *s = kafka_consumer_get_stats(c);
  double secs = cli_now() - t0;
  qsort(st.ins, (size_t)st.n, sizeof *st.ins, cmp_symbol);
  if (json) {
    printf("{\"topic\":\"%s\",\"group\":\"%s\",\"records\":%llu,\"duplicates\":%llu,\"bad\":%llu,\"seconds\":%.3f,"
           "\"instruments\":[",
           topic, group, (unsigned long long)st.records, (unsigned long long)s->duplicates, (unsigned long long)s->bad,
           secs);
  }
  for (int i = 0; i < st.n; i++) {
    instrument *in = &st.ins[i];
    int64_t bid = 0, bid_size = 0, ask = 0, ask_size = 0;
    int has_bid = book_best(&in->book, OBI_BID, &bid, &bid_size),
        has_ask = book_best(&in->book, OBI_ASK, &ask, &ask_size);
    if (json) {
      printf("%s{\"symbol\":\"%s\",\"partition\":%d,\"records\":%llu,\"events\":%llu,\"corrections\":%llu,"
             "\"last_seq\":%llu,\"gaps\":%llu,\"book_errors\":%llu,",
             i ? "," : "", in->symbol, in->partition, (unsigned long long)in->records,
             (unsigned long long)(in->records - in->corrections), (unsigned long long)in->corrections,
             (unsigned long long)in->last_seq, (unsigned long long)in->gaps, (unsigned long long)in->book_errors);
      if (has_bid)
        printf("\"bid\":%lld,\"bid_size\":%lld,", (long long)bid, (long long)bid_size);
      else
        printf("\"bid\":null,\"bid_size\":null,");
      if (has_ask)
        printf("\"ask\":%lld,\"ask_size\":%lld}", (long long)ask, (long long)ask_size);
      else
        printf("\"ask\":null,\"ask_size\":null}");
    } else {
      printf("%s (partition %d): %llu records (%llu events, %llu corrections), last seq %llu, %llu gaps", in->symbol,
             in->partition, (unsigned long long)in->records, (unsigned long long)(in->records - in->corrections),
             (unsigned long long)in->corrections, (unsigned long long)in->last_seq, (unsigned long long)in->gaps);
      if (has_bid) printf(", bid %lld x %lld", (long long)bid, (long long)bid_size);
      if (has_ask) printf(", ask %lld x %lld", (long long)ask, (long long)ask_size);
      printf("\n");
    }
  }
  if (json)
    printf("]}\n");
  else
    printf("%llu records from %s (group %s), %llu duplicates dropped, %llu bad records, %.2f s\n",
           (unsigned long long)st.records, topic, group, (unsigned long long)s->duplicates, (unsigned long long)s->bad,
           secs);
  if (s->bad) fprintf(stderr, "obi: first bad record: %s\n", kafka_consumer_error(c));
  kafka_consumer_free(c);
  for (int i = 0; i < st.n; i++) book_free(&st.ins[i].book);
  free(st.ins);
  return rc;
}

static int cmd_stream(int argc, char **argv) {
  const char *brokers = NULL, *topic = NULL, *group = NULL, *symbol = NULL, *compression = "zstd", *mode = NULL;
  const char *files[2] = {NULL, NULL};
  int nfiles = 0, json = 0;
  long limit = 0, max = 0;
  double idle = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    if (!strcmp(o, "--json"))
      json = 1;
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
    if (nfiles != 2)
      return cli_usage_error(&cmd_stream_def, "produce needs a LOBSTER message file and its orderbook file");
    return produce(brokers, topic, files[0], files[1], symbol, limit, compression, json);
  }
  if (!strcmp(mode, "consume")) {
    if (nfiles) return cli_usage_error(&cmd_stream_def, "consume takes no files");
    if (!group) return cli_usage_error(&cmd_stream_def, "consume needs --group G");
    return consume(brokers, topic, group, idle, max, json);
  }
  return cli_usage_error(&cmd_stream_def, "unknown mode '%s' (produce or consume)", mode);
}

const cli_command cmd_stream_def = {
    "stream", cmd_stream, "publish events to a Kafka topic, or consume them and rebuild the books",
    "usage: obi stream --kafka BROKERS --topic T produce MESSAGES ORDERBOOK [--symbol S] [--limit N]\n"
    "                  [--compression zstd|lz4|none] [--json]\n"
    "       obi stream --kafka BROKERS --topic T consume --group G [--idle S] [--max N] [--json]\n\n"
    "produce replays a LOBSTER message/orderbook pair (plain or .zst) and publishes every message as an\n"
    "80-byte event record (docs/kafka.md) keyed by the instrument (--symbol, default: from the file name),\n"
    "each followed by the level corrections that keep a book rebuilt from the topic equal to the\n"
    "replay's. The producer is idempotent; --limit stops after N messages.\n\n"
    "consume joins consumer group G, rebuilds one book per instrument from the records of its partitions,\n"
    "commits offsets after processing, and prints per instrument the records, the last sequence number,\n"
    "gaps in the sequence, and the final best bid and ask in integer ticks. It runs until interrupted,\n"
    "until no record came for --idle seconds (counted once partitions are assigned), or after --max records.\n"
    "BROKERS is host:port[,host:port...].\n"};
