/* bench_feed.c — the protocol layer (feed.h) on recorded Binance traffic: parse + apply throughput.
 *
 * The recording (a *.ws.* file and its *.http.* REST snapshots, plain or zstd) is read into memory
 * and split into lines once; the lines are merged in receive-time order as `obi replay` merges them
 * (the WebSocket file first on equal times), and the scales are learned once by a scanning feed.
 * A pass then hands every received message to feed_on_message and every REST snapshot to
 * feed_on_snapshot, exactly as a live session would, after feed_reset (every book cleared, the
 * buffers emptied: each pass rebuilds the books from the recording's snapshots). Workloads:
 *   feed       parse + apply: the books, the sync rules, the counters
 *   parse      the same messages through a scan_only feed: JSON, every field and number checked,
 *              nothing applied; apply = feed - parse (per message)
 *   reference  feed with no_fast_path: every message through jansson, as before the fast
 *              depthUpdate scanner (the "before" of the same run)
 * "Level updates" are the [price, qty] pairs applied: those of applied diff messages
 * (levels_applied) and those of applied snapshots, counted separately. Median of 5 timed runs of
 * >= 0.5 s. Allocations are counted by interposing malloc (jansson allocates per message).
 * `bench.sh` adds callgrind instruction counts (--toggle-collect=feed_on_message).
 *
 * usage: bench_feed [--callgrind] <ws-recording> [<rest-recording>] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obi/feed.h"
#include "obi/recording.h"

#include "bench_common.h"

enum { OP_CONNECT, OP_MESSAGE, OP_SNAPSHOT };

typedef struct {
  int kind;
  int sym; /* OP_SNAPSHOT: the symbol index (-1: names none) */
  int64_t recv_ns;
  const char *json;
  size_t len;
  const char *url; /* OP_SNAPSHOT: the REST URL (symbol=, limit=) */
  size_t url_len;
} op;

static op *ops;
static size_t n_ops;
static feed *full, *scan, *ref;
static uint64_t messages, snapshots, diff_levels, snapshot_levels; /* of one pass */

/* The value of a URL query parameter, or NULL. */
static const char *url_param(const char *url, size_t len, const char *key, size_t *vlen) {
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl < len; i++) {
    if ((url[i] != '?' && url[i] != '&') || strncmp(url + i + 1, key, kl) || url[i + 1 + kl] != '=') continue;
    const char *v = url + i + 2 + kl, *e = v;
    while (e < url + len && *e != '&') e++;
    *vlen = (size_t)(e - v);
    return v;
  }
  return NULL;
}

/* The lines of text as ops (CONNECT, RECEIVED, HTTP; SENT lines are skipped). */
static op *read_ops(char *text, size_t len, const char *path, size_t *n) {
  size_t cap = 1024;
  op *o = malloc(cap * sizeof *o);
  *n = 0;
  for (char *p = text, *end = text + len; p < end;) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t l = (size_t)(nl - p);
    rec_line rl;
    char why[256];
    if (l && rec_parse_line(p, l, &rl, why, sizeof why)) {
      fprintf(stderr, "%s: %s\n", path, why);
      exit(1);
    }
    p = nl + 1;
    if (!l || rl.kind == REC_SENT) continue;
    if (*n == cap) o = realloc(o, (cap *= 2) * sizeof *o);
    o[(*n)++] = (op){rl.kind == REC_CONNECT    ? OP_CONNECT
                     : rl.kind == REC_RECEIVED ? OP_MESSAGE
                                               : OP_SNAPSHOT,
                     -1,
                     rl.recv_ns,
                     rl.json,
                     rl.json_len,
                     rl.url,
                     rl.url_len};
  }
  return o;
}

/* One pass of every op through f (reset first). Returns the messages and snapshots handed over. */
static uint64_t run_ops(feed *f) {
  feed_reset(f, ops[0].recv_ns);
  int connections = 0;
  for (size_t i = 0; i < n_ops; i++) {
    const op *o = &ops[i];
    if (o->kind == OP_MESSAGE)
      feed_on_message(f, o->recv_ns, o->json, o->len);
    else if (o->kind == OP_SNAPSHOT && o->sym >= 0)
      feed_on_snapshot(f, o->sym, o->recv_ns, o->json, o->len);
    else if (o->kind == OP_CONNECT && connections++)
      feed_reset(f, o->recv_ns);
  }
  return messages + snapshots;
}

static uint64_t levels_applied(const feed *f) {
  uint64_t n = 0;
  for (int i = 0; i < feed_symbol_count(f); i++) n += feed_symbol_get_stats(f, i)->levels_applied;
  return n;
}

__attribute__((noinline)) static uint64_t full_pass(void) { return run_ops(full); }
__attribute__((noinline)) static uint64_t parse_pass(void) { return run_ops(scan); }
__attribute__((noinline)) static uint64_t ref_pass(void) { return run_ops(ref); }

int main(int argc, char **argv) {
  int callgrind = argc > 1 && !strcmp(argv[1], "--callgrind");
  int a = 1 + callgrind;
  if (argc - a < 1 || argc - a > 2) {
    fprintf(stderr, "usage: bench_feed [--callgrind] <ws-recording> [<rest-recording>]\n");
    return 2;
  }
  size_t ws_len, http_len = 0, n_ws, n_http = 0;
  char *ws_text = slurp_text(argv[a], &ws_len), *http_text = argc - a == 2 ? slurp_text(argv[a + 1], &http_len) : NULL;
  op *ws = read_ops(ws_text, ws_len, argv[a], &n_ws);
  op *http = http_text ? read_ops(http_text, http_len, argv[a + 1], &n_http) : NULL;
  if (!n_ws || ws[0].kind != OP_CONNECT) {
    fprintf(stderr, "%s: a WebSocket recording starts with 'URL <-> TIME'\n", argv[a]);
    return 1;
  }
  ops = malloc((n_ws + n_http) * sizeof *ops);
  for (size_t i = 0, j = 0; i < n_ws || j < n_http;) /* receive-time order, WebSocket first on ties */
    ops[n_ops++] = j == n_http || (i < n_ws && ws[i].recv_ns <= http[j].recv_ns) ? ws[i++] : http[j++];
  int venue = feed_venue_from_url(ws[0].url, ws[0].url_len);
  if (venue != FEED_BINANCE_SPOT && venue != FEED_BINANCE_FUTURES) {
    fprintf(stderr, "%s: not a Binance recording (%.*s)\n", argv[a], (int)ws[0].url_len, ws[0].url);
    return 1;
  }
  feed_config cfg = {.add_unknown_symbols = 1, .scan_only = 1};
  size_t ll;
  const char *lv = n_http ? url_param(http[0].url, http[0].url_len, "limit", &ll) : NULL;
  if (lv) cfg.snapshot_limit = (uint32_t)strtoul(lv, NULL, 10);

  /* The symbols and scales: every message and snapshot scanned once (snapshots name their
   * symbol in the URL). The timed feeds then know every symbol with exactly those scales. */
  feed *learn;
  if (feed_new(&learn, (feed_venue)venue, &cfg)) return 1;
  for (size_t i = 0; i < n_ops; i++) {
    op *o = &ops[i];
    if (o->kind == OP_MESSAGE) feed_on_message(learn, o->recv_ns, o->json, o->len);
    if (o->kind != OP_SNAPSHOT) continue;
    size_t sl;
    const char *sv = url_param(o->url, o->url_len, "symbol", &sl);
    if (!sv) continue;
    int sym = feed_find_symbol(learn, sv, sl);
    if (sym < 0) {
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(sl < 63 ? sl : 63), sv);
      sym = feed_add_symbol(learn, name, -1, -1);
    }
    if (sym >= 0) feed_on_snapshot(learn, sym, o->recv_ns, o->json, o->len), o->sym = sym;
  }
  feed_config scan_cfg = cfg;
  cfg.scan_only = 0, cfg.add_unknown_symbols = 0;
  scan_cfg.add_unknown_symbols = 0;
  feed_config ref_cfg = cfg;
  ref_cfg.no_fast_path = 1;
  if (feed_new(&full, (feed_venue)venue, &cfg) || feed_new(&scan, (feed_venue)venue, &scan_cfg) ||
      feed_new(&ref, (feed_venue)venue, &ref_cfg))
    return 1;
  for (int i = 0; i < feed_symbol_count(learn); i++) {
    int pd, sd;
    feed_symbol_decimals(learn, i, &pd, &sd);
    if (pd < 0 || sd < 0) pd = sd = -1;
    if (feed_add_symbol(full, feed_symbol_name(learn, i), pd, sd) != i ||
        feed_add_symbol(scan, feed_symbol_name(learn, i), pd, sd) != i ||
        feed_add_symbol(ref, feed_symbol_name(learn, i), pd, sd) != i)
      return 1;
  }
  feed_free(learn);
  for (size_t i = 0; i < n_ops; i++) {
    messages += ops[i].kind == OP_MESSAGE;
    snapshots += ops[i].kind == OP_SNAPSHOT && ops[i].sym >= 0;
  }

  /* A counting pass: the level updates of one pass, and the warm-up of every buffer. */
  uint64_t lev0 = levels_applied(full), fast0 = feed_get_stats(full)->fast_parsed;
  feed_reset(full, ops[0].recv_ns);
  int connections = 0;
  uint64_t snaps_applied = 0, diffs_applied = 0, malformed = feed_get_stats(full)->malformed;
  for (size_t i = 0; i < n_ops; i++) {
    const op *o = &ops[i];
    if (o->kind == OP_MESSAGE) feed_on_message(full, o->recv_ns, o->json, o->len);
    if (o->kind == OP_CONNECT && connections++) feed_reset(full, o->recv_ns);
    if (o->kind != OP_SNAPSHOT || o->sym < 0) continue;
    uint64_t before = feed_symbol_get_stats(full, o->sym)->snapshots_applied;
    feed_on_snapshot(full, o->sym, o->recv_ns, o->json, o->len);
    if (feed_symbol_get_stats(full, o->sym)->snapshots_applied > before) {
      snaps_applied++;
      snapshot_levels += book_depth(feed_book(full, o->sym), OBI_BID) + book_depth(feed_book(full, o->sym), OBI_ASK);
    }
  }
  diff_levels = levels_applied(full) - lev0;
  uint64_t fast_per_pass = feed_get_stats(full)->fast_parsed - fast0;
  for (int i = 0; i < feed_symbol_count(full); i++) diffs_applied += feed_symbol_get_stats(full, i)->updates_applied;
  malformed = feed_get_stats(full)->malformed - malformed;
  if (malformed)
    fprintf(stderr, "bench_feed: %llu malformed messages (%s)\n", (unsigned long long)malformed, feed_last_error(full));

  if (callgrind) { /* exactly one more pass: bench.sh counts the instructions of feed_on_message */
    full_pass();
    printf("{\"messages\":%llu,\"snapshots\":%llu,\"diff_levels\":%llu,\"snapshot_levels\":%llu}\n",
           (unsigned long long)messages, (unsigned long long)snapshots, (unsigned long long)diff_levels,
           (unsigned long long)snapshot_levels);
    return 0;
  }
  parse_pass(); /* warm-up of the scanning and the reference feeds */
  ref_pass();
  uint64_t p_full = 0, p_parse = 0;
  unsigned long long a0 = allocations;
  double full_rate = bench_median_rate(full_pass, 0.5, &p_full); /* messages + snapshots per second */
  unsigned long long full_allocs = allocations - a0;
  double parse_rate = bench_median_rate(parse_pass, 0.5, &p_parse);
  uint64_t p_ref = 0;
  double ref_rate = bench_median_rate(ref_pass, 0.5, &p_ref);
  double ref_diff_level_rate = (double)diff_levels / ((double)(messages + snapshots) / ref_rate);
  uint64_t items = messages + snapshots;
  double pass_s = (double)items / full_rate, parse_s = (double)items / parse_rate;
  double msg_rate = (double)messages / pass_s, level_rate = (double)(diff_levels + snapshot_levels) / pass_s,
         diff_level_rate = (double)diff_levels / pass_s;
  double apply_ns = (pass_s - parse_s) * 1e9 / (double)items;
  double allocs_per_msg = (double)full_allocs / (double)(p_full * items);
  fprintf(stderr,
          "%llu messages + %llu snapshots per pass (%llu diffs applied: %llu levels; %llu snapshots applied: %llu "
          "levels): %.2f M messages/s, %.2f M level updates/s (diff levels alone %.2f M/s over the whole pass); "
          "parse only %.0f ns, apply %.0f ns per message or snapshot; %.1f allocations per message; %llu messages "
          "by the fast depthUpdate scanner; reference (jansson for every message): diff levels %.2f M/s\n",
          (unsigned long long)messages, (unsigned long long)snapshots, (unsigned long long)diffs_applied,
          (unsigned long long)diff_levels, (unsigned long long)snaps_applied, (unsigned long long)snapshot_levels,
          msg_rate / 1e6, level_rate / 1e6, diff_level_rate / 1e6, parse_s * 1e9 / (double)items, apply_ns,
          allocs_per_msg, (unsigned long long)fast_per_pass, ref_diff_level_rate / 1e6);
  printf("{\"recording\":\"%s\",\"venue\":\"%s\",\"messages\":%llu,\"snapshots\":%llu,\"diffs_applied\":%llu,"
         "\"diff_levels\":%llu,\"snapshot_levels\":%llu,\"pass_seconds\":%.6f,\"messages_per_second\":%.0f,"
         "\"level_updates_per_second\":%.0f,\"diff_level_updates_per_second\":%.0f,"
         "\"parse_ns_per_item\":%.1f,\"apply_ns_per_item\":%.1f,\"allocations_per_message\":%.2f,"
         "\"timed_passes\":%llu,\"fast_parsed\":%llu,\"reference_diff_level_updates_per_second\":%.0f}\n",
         argv[a], feed_venue_name(venue), (unsigned long long)messages, (unsigned long long)snapshots,
         (unsigned long long)diffs_applied, (unsigned long long)diff_levels, (unsigned long long)snapshot_levels,
         pass_s, msg_rate, level_rate, diff_level_rate, parse_s * 1e9 / (double)items, apply_ns, allocs_per_msg,
         (unsigned long long)p_full, (unsigned long long)fast_per_pass, ref_diff_level_rate);
  feed_free(full);
  feed_free(scan);
  feed_free(ref);
  free(ops), free(ws), free(http), free(ws_text), free(http_text);
  return 0;
}
