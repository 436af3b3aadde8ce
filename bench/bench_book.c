/* bench_book.c — throughput of the LOBSTER replay and of the order book, one core.
 *
 * Workloads, each over a whole message/orderbook pair held decompressed in memory:
 *   parse        both files' lines through the strict parsers, no book
 *   replay       parse + apply + level sync (what `obi replay` does), no verification
 *   replay_verify  the same with the comparison against every orderbook row
 *   apply        pre-parsed events applied to a book alone (book_apply; unknown ids
 *                taken from anonymous liquidity), the book cleared between passes
 *   replay_zstd  the replay streaming from the compressed files on disk
 * Each is timed over repeated passes (median of 5 runs of at least 0.3 s). Every
 * allocation of the process is counted by interposing malloc, to show that the book
 * allocates nothing once warm. Output: one JSON object on stdout and one human line
 * per workload on stderr. `bench.sh` adds callgrind instruction counts per message.
 *
 * usage: bench_book [--callgrind WORKLOAD] <messages> <orderbook> */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obi/lobster.h"

#include "bench_common.h"

static const char *msg_text, *book_text, *msg_path, *book_path;
static size_t msg_len, book_len;
static obi_event *events;
static uint64_t nevents;
static obi_book apply_book;

/* One pass of each workload; returns the number of messages. Not inlined so that
 * callgrind can count exactly the instructions inside (--toggle-collect). */
__attribute__((noinline)) static uint64_t run_parse_pass(void) {
  static int64_t row[4 * LOBSTER_MAX_LEVELS];
  uint64_t n = 0;
  lobster_msg m;
  for (const char *p = msg_text, *end = msg_text + msg_len; p < end; n++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (lobster_parse_message(p, (size_t)(nl - p), &m, NULL, 0)) abort();
    p = nl + 1;
  }
  for (const char *p = book_text, *end = book_text + book_len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (lobster_parse_book_row(p, (size_t)(nl - p), 0, row, NULL, 0) < 0) abort();
    p = nl + 1;
  }
  return n;
}

static uint64_t replay_events(lobster_replay *r) {
  obi_event ev;
  uint64_t n = 0;
  obi_err err;
  while ((err = lobster_next(r, &ev)) == OBI_OK) n++;
  if (err != OBI_EEOF || lobster_get_stats(r)->mismatches) {
    fprintf(stderr, "replay failed: %s\n", lobster_error(r));
    exit(1);
  }
  return n;
}

static uint64_t replay_mem(int verify) {
  obi_textin *m, *b;
  obi_textin_open_mem(&m, msg_text, msg_len);
  obi_textin_open_mem(&b, book_text, book_len);
  lobster_options opt = {.verify = verify};
  lobster_replay *r;
  if (lobster_open_readers(&r, m, "messages", b, "orderbook", &opt, NULL, 0)) exit(1);
  uint64_t n = replay_events(r);
  lobster_close(r);
  return n;
}

__attribute__((noinline)) static uint64_t run_replay_pass(void) { return replay_mem(0); }
__attribute__((noinline)) static uint64_t run_replay_verify_pass(void) { return replay_mem(1); }

__attribute__((noinline)) static uint64_t run_replay_zstd_pass(void) {
  lobster_replay *r;
  lobster_options opt = {0};
  if (lobster_open(&r, msg_path, book_path, &opt, NULL, 0)) exit(1);
  uint64_t n = replay_events(r);
  lobster_close(r);
  return n;
}

__attribute__((noinline)) static uint64_t run_apply_pass(void) {
  obi_book *b = &apply_book;
  book_clear(b);
  for (uint64_t i = 0; i < nevents; i++) {
    const obi_event *ev = &events[i];
    if (book_apply(b, ev) == OBI_EUNKNOWN_ORDER) book_reduce_anon(b, ev->side, ev->price, ev->size);
  }
  return nevents;
}

/* The one pass that `valgrind --toggle-collect=counted_pass` measures. */
static volatile uint64_t counted_messages; /* the store after the call keeps it from being a tail call */
__attribute__((noinline)) static uint64_t counted_pass(uint64_t (*pass)(void)) {
  counted_messages = pass();
  return counted_messages;
}

typedef struct {
  const char *name;
  uint64_t (*pass)(void);
  double median_rate;
  unsigned long long allocs_after_warmup; /* over all timed passes */
  uint64_t passes, messages;
} workload;

static void measure(workload *w) {
  w->messages = w->pass(); /* warm-up: caches, pools */
  double rates[5];
  unsigned long long a0 = allocations;
  for (int k = 0; k < 5; k++) {
    uint64_t n = 0;
    double t0 = now(), t;
    do n += w->pass(), w->passes++;
    while ((t = now() - t0) < 0.3);
    rates[k] = (double)n / t;
  }
  w->allocs_after_warmup = allocations - a0;
  qsort(rates, 5, sizeof rates[0], cmp_double);
  w->median_rate = rates[2];
}

int main(int argc, char **argv) {
  const char *only = NULL;
  int a = 1;
  if (argc > 2 && !strcmp(argv[1], "--callgrind")) only = argv[2], a = 3;
  if (argc - a != 2) {
    fprintf(stderr, "usage: bench_book [--callgrind WORKLOAD] <messages> <orderbook>\n");
    return 2;
  }
  msg_path = argv[a], book_path = argv[a + 1];
  msg_text = slurp_text(msg_path, &msg_len);
  book_text = slurp_text(book_path, &book_len);

  /* pre-parse the events for the book-only workload */
  size_t cap = 1 << 16;
  events = malloc(cap * sizeof *events);
  int64_t day = 0;
  for (const char *p = msg_text, *end = msg_text + msg_len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    lobster_msg m;
    if (lobster_parse_message(p, (size_t)(nl - p), &m, NULL, 0)) abort();
    if (nevents == cap) events = realloc(events, (cap *= 2) * sizeof *events);
    lobster_to_event(&m, day, &events[nevents++]);
    p = nl + 1;
  }
  book_init(&apply_book, 0);

  workload ws[] = {{.name = "parse", .pass = run_parse_pass},
                   {.name = "replay", .pass = run_replay_pass},
                   {.name = "replay_verify", .pass = run_replay_verify_pass},
                   {.name = "apply", .pass = run_apply_pass},
                   {.name = "replay_zstd", .pass = run_replay_zstd_pass}};
  size_t nw = sizeof ws / sizeof ws[0];
  if (only) { /* one pass of one workload, for valgrind */
    for (size_t i = 0; i < nw; i++)
      if (!strcmp(ws[i].name, only)) {
        ws[i].pass(); /* warm-up, outside counted_pass */
        unsigned long long a0 = allocations;
        uint64_t n = counted_pass(ws[i].pass);
        printf("{\"workload\":\"%s\",\"messages\":%llu,\"allocations\":%llu}\n", only, (unsigned long long)n,
               allocations - a0);
        return 0;
      }
    fprintf(stderr, "unknown workload %s\n", only);
    return 2;
  }
  /* allocations inside one replay's events (book pools growing from empty) */
  obi_textin *m, *b;
  obi_textin_open_mem(&m, msg_text, msg_len);
  obi_textin_open_mem(&b, book_text, book_len);
  lobster_replay *r;
  lobster_options opt = {0};
  if (lobster_open_readers(&r, m, "messages", b, "orderbook", &opt, NULL, 0)) return 1;
  unsigned long long a0 = allocations;
  uint64_t msgs = replay_events(r);
  unsigned long long cold_allocs = allocations - a0;
  int levels = lobster_levels(r);
  lobster_close(r);

  for (size_t i = 0; i < nw; i++) {
    measure(&ws[i]);
    fprintf(stderr, "%-14s %8.2f million messages/s  %.1f allocations per pass of %llu messages\n", ws[i].name,
            ws[i].median_rate / 1e6, (double)ws[i].allocs_after_warmup / (double)ws[i].passes,
            (unsigned long long)ws[i].messages);
  }
  printf("{\"messages_file\":\"%s\",\"levels\":%d,\"messages\":%llu,\"replay_allocations_from_empty\":%llu,"
         "\"workloads\":{",
         msg_path, levels, (unsigned long long)msgs, cold_allocs);
  for (size_t i = 0; i < nw; i++)
    printf("%s\"%s\":{\"messages_per_second\":%.0f,\"ns_per_message\":%.1f,\"allocations_per_pass\":%.2f}",
           i ? "," : "", ws[i].name, ws[i].median_rate, 1e9 / ws[i].median_rate,
           (double)ws[i].allocs_after_warmup / (double)ws[i].passes);
  printf("}}\n");
  return 0;
}
