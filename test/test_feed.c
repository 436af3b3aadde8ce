/* test_feed.c — the feed protocol layer (src/feed/feed.c, binance.c, coinbase.c) and the
 * recording reader (src/feed/recording.c): exact decimals; Binance synchronisation on
 * message sequences built from the rules of "How to manage a local order book correctly"
 * (buffering before the snapshot, stale events, the first-event rule, gaps and resyncs,
 * the futures pu rule, duplicates, out-of-order events, snapshots older than the buffer);
 * Coinbase Exchange snapshot/l2update/match and Advanced Trade sequence gaps; malformed
 * messages that leave the books as they were; known depth; the bundled excerpts and the
 * shared recordings replayed with counts checked against an independent count. Every
 * feed in these tests runs book_check after each message (check_books), and the event
 * callback checks that the book it is given already shows the event. */
#include <jansson.h>
#include <stdlib.h>

#include "feed_compare.h"
#include "obi/feed.h"
#include "obi/recording.h"
#include "test.h"

/* ---- helpers ----------------------------------------------------------------------- */

typedef struct {
  int sym;
  obi_event ev;
} seen_event;

static seen_event seen[8192];
static int nseen, event_book_mismatch;

static void on_event(void *ctx, int sym, const obi_event *ev, const obi_book *b) {
  (void)ctx;
  if (nseen < (int)(sizeof seen / sizeof *seen)) seen[nseen++] = (seen_event){sym, *ev};
  if (ev->type == OBI_EV_LEVEL_SET) {
    const book_level *l = book_find_level(b, ev->side, ev->price);
    if (ev->size ? (!l || l->size != ev->size) : l != NULL) event_book_mismatch++;
  }
  if (ev->type == OBI_EV_SNAPSHOT_BEGIN && (book_depth(b, OBI_BID) || book_depth(b, OBI_ASK))) event_book_mismatch++;
}

static feed *make_feed(feed_venue venue, uint32_t snapshot_limit) {
  feed_config cfg = {.on_event = on_event, .check_books = 1, .snapshot_limit = snapshot_limit};
  feed *f = NULL;
  nseen = event_book_mismatch = 0;
  if (feed_new(&f, venue, &cfg)) return NULL;
  return f;
}

static obi_err msg(feed *f, const char *text) { return feed_on_message(f, 1000, text, strlen(text)); }

/* A depthUpdate for BTCUSDT inside a combined-stream envelope; pu < 0: spot (no pu). */
static obi_err diff(feed *f, long long U, long long u, long long pu, const char *bids, const char *asks) {
  char buf[2048];
  if (pu >= 0)
    snprintf(buf, sizeof buf,
             "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"T\":1,\"s\":\"BTCUSDT\","
             "\"U\":%lld,\"u\":%lld,\"pu\":%lld,\"b\":%s,\"a\":%s}}",
             U, u, pu, bids, asks);
  else
    snprintf(buf, sizeof buf,
             "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\",\"U\":%lld,\"u\":%lld,\"b\":%s,\"a\":%s}", U, u, bids,
             asks);
  return msg(f, buf);
}

static obi_err snap(feed *f, long long lid, const char *bids, const char *asks) {
  char buf[4096];
  snprintf(buf, sizeof buf, "{\"lastUpdateId\":%lld,\"bids\":%s,\"asks\":%s}", lid, bids, asks);
  return feed_on_snapshot(f, 0, 2000, buf, strlen(buf));
}

/* The size at price on a side of symbol 0's book, 0 when there is no level. */
static int64_t level(const feed *f, int side, int64_t price) {
  const book_level *l = book_find_level(feed_book(f, 0), side, price);
  return l ? l->size : 0;
}

static int count_type(int type) {
  int n = 0;
  for (int i = 0; i < nseen; i++) n += seen[i].ev.type == type;
  return n;
}

static const feed_symbol_stats *st(const feed *f) { return feed_symbol_get_stats(f, 0); }

/* ---- decimals ------------------------------------------------------------------------ */

static obi_err dec(const char *s, int decimals, int64_t *v) {
  return feed_parse_decimal(s, strlen(s), decimals, BOOK_MAX_QTY, v);
}

void feed_decimal_parsing(void) {
  int64_t v = -1;
  CHECK_EQ(dec("0", 0, &v), OBI_OK);
  CHECK_EQ(v, 0);
  CHECK_EQ(dec("1", 8, &v), OBI_OK);
  CHECK_EQ(v, 100000000);
  CHECK_EQ(dec("0.35210000", 4, &v), OBI_OK); /* trailing zeros beyond the scale are exact */
  CHECK_EQ(v, 3521);
  CHECK_EQ(dec("0.35210000", 8, &v), OBI_OK);
  CHECK_EQ(v, 35210000);
  CHECK_EQ(dec("00012.50", 2, &v), OBI_OK);
  CHECK_EQ(v, 1250);
  CHECK_EQ(dec("1.0000000000000000000000000000", 0, &v), OBI_OK);
  CHECK_EQ(v, 1);
  CHECK_EQ(dec("0.35215", 4, &v), OBI_ERANGE); /* a fifth non-zero decimal at 4 */
  CHECK_EQ(dec("0.0000000000000000001", 18, &v), OBI_ERANGE);
  CHECK_EQ(dec("1000000000000000", 0, &v), OBI_OK); /* BOOK_MAX_QTY itself */
  CHECK_EQ(v, BOOK_MAX_QTY);
  CHECK_EQ(dec("1000000000000001", 0, &v), OBI_ERANGE);
  CHECK_EQ(dec("10000000", 8, &v), OBI_OK);
  CHECK_EQ(dec("10000000.00000001", 8, &v), OBI_ERANGE);
  CHECK_EQ(dec("99999999999999999999", 0, &v), OBI_ERANGE); /* beyond 10^18 digits */
  const char *bad[] = {"", ".", ".5", "5.", "-1", "+1", "1e5", " 1", "1 ", "1.2.3", "1,5", "0x10", "NaN", "１"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    v = 77;
    if (dec(bad[i], 4, &v) != OBI_EPARSE || v != 77) {
      test_fail(__FILE__, __LINE__, "'%s' was accepted", bad[i]);
      return;
    }
  }
  CHECK_EQ(feed_parse_decimal("1\0", 2, 0, BOOK_MAX_QTY, &v), OBI_EPARSE); /* an embedded NUL */
  CHECK_EQ(feed_parse_decimal("1", 1, 19, BOOK_MAX_QTY, &v), OBI_EINVAL);
  char text[32];
  const struct {
    int64_t v;
    int d;
    const char *s;
  } fmt[] = {{35270000, 8, "0.3527"}, {0, 2, "0"}, {100, 0, "100"}, {5, 3, "0.005"}, {-15, 1, "-1.5"}, {1500, 2, "15"}};
  for (size_t i = 0; i < sizeof fmt / sizeof *fmt; i++) {
    feed_format_decimal(fmt[i].v, fmt[i].d, text);
    if (strcmp(text, fmt[i].s)) {
      test_fail(__FILE__, __LINE__, "format(%lld, %d) = '%s', expected '%s'", (long long)fmt[i].v, fmt[i].d, text,
                fmt[i].s);
      return;
    }
  }
}

/* ---- Binance ------------------------------------------------------------------------- */

/* Spot: four events arrive before the snapshot (lastUpdateId 100). [95,98] is covered by
 * the snapshot and dropped; [99,101] holds 101 = lastUpdateId+1 and is applied first;
 * [102,104] and [105,106] continue it. */
void feed_binance_buffers_until_snapshot(void) {
  feed *f = make_feed(FEED_BINANCE_SPOT, 1000);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 2, 3), 0);
  int s = -1;
  CHECK(feed_snapshot_wanted(f, &s) && s == 0);
  CHECK(!feed_snapshot_wanted(f, &s)); /* asked for once */
  CHECK_EQ(diff(f, 95, 98, -1, "[[\"99.00\",\"1\"]]", "[]"), OBI_OK);
  CHECK_EQ(diff(f, 99, 101, -1, "[[\"100.00\",\"2\"]]", "[]"), OBI_OK);
  CHECK_EQ(diff(f, 102, 104, -1, "[]", "[[\"101.00\",\"3\"]]"), OBI_OK);
  CHECK_EQ(diff(f, 105, 106, -1, "[[\"100.00\",\"0\"]]", "[]"), OBI_OK);
  CHECK_EQ(st(f)->buffered, 4);
  CHECK_EQ(nseen, 0);
  CHECK(!feed_synced(f, 0));
  CHECK_EQ(snap(f, 100, "[[\"100.00\",\"1\"],[\"99.00\",\"5\"]]", "[[\"101.00\",\"1\"],[\"102.00\",\"4\"]]"), OBI_OK);
  CHECK_EQ(st(f)->dropped_stale, 1);
  CHECK_EQ(st(f)->updates_applied, 3);
  CHECK_EQ(st(f)->gaps, 0);
  CHECK(feed_synced(f, 0));
  CHECK(!feed_snapshot_wanted(f, &s));
  CHECK_EQ(level(f, OBI_BID, 10000), 0);    /* removed by [105,106] */
  CHECK_EQ(level(f, OBI_BID, 9900), 5000);  /* the snapshot's, not the stale event's 1 */
  CHECK_EQ(level(f, OBI_ASK, 10100), 3000); /* [102,104] */
  CHECK_EQ(level(f, OBI_ASK, 10200), 4000);
  /* BEGIN, 4 snapshot levels, END, then one level per event */
  CHECK_EQ(nseen, 9);
  CHECK_EQ(seen[0].ev.type, OBI_EV_SNAPSHOT_BEGIN);
  CHECK_EQ(seen[5].ev.type, OBI_EV_SNAPSHOT_END);
  CHECK_EQ(seen[6].ev.type, OBI_EV_LEVEL_SET);
  CHECK_EQ(seen[6].ev.price, 10000);
  CHECK_EQ(seen[6].ev.size, 2000);
  CHECK_EQ(seen[8].ev.size, 0);
  CHECK_EQ(seen[8].ev.ts_ns, 1000); /* the receive time of its message */
  CHECK_EQ(event_book_mismatch, 0);
  feed_free(f);
}

/* A snapshot with nothing buffered; a stale event is dropped, an event that does not
 * cover lastUpdateId+1 is a gap (first-event rule), the next snapshot lines up with it.
 * Then a snapshot older than every buffered event is refused and asked for again. */
void feed_binance_stale_first_event_and_old_snapshot(void) {
  feed *f = make_feed(FEED_BINANCE_SPOT, 1000);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 2, 3), 0);
  CHECK_EQ(snap(f, 100, "[[\"100.00\",\"1\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  CHECK(feed_synced(f, 0));
  CHECK_EQ(diff(f, 90, 100, -1, "[[\"100.00\",\"9\"]]", "[]"), OBI_OK);
  CHECK_EQ(st(f)->dropped_stale, 1);
  CHECK_EQ(level(f, OBI_BID, 10000), 1000);
  CHECK_EQ(diff(f, 102, 105, -1, "[[\"100.00\",\"2\"]]", "[]"), OBI_OK); /* 101 is missing */
  CHECK_EQ(st(f)->gaps, 1);
  CHECK_EQ(st(f)->gaps_first_event, 1);
  CHECK(!feed_synced(f, 0));
  CHECK_EQ(book_depth(feed_book(f, 0), OBI_BID) + book_depth(feed_book(f, 0), OBI_ASK), 0);
  CHECK_EQ(seen[nseen - 1].ev.type, OBI_EV_SNAPSHOT_BEGIN);
  int s = -1;
  CHECK(feed_snapshot_wanted(f, &s) && s == 0);
  CHECK_EQ(snap(f, 104, "[[\"100.00\",\"1\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  CHECK(feed_synced(f, 0));
  CHECK_EQ(st(f)->resyncs, 1);
  CHECK_EQ(st(f)->updates_applied, 1); /* [102,105] covers 105 = 104+1 */
  CHECK_EQ(level(f, OBI_BID, 10000), 2000);
  CHECK_EQ(count_type(OBI_EV_SNAPSHOT_BEGIN), 2);
  CHECK_EQ(count_type(OBI_EV_SNAPSHOT_END), 2);
  CHECK_EQ(event_book_mismatch, 0);
  feed_free(f);

  f = make_feed(FEED_BINANCE_SPOT, 1000);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 2, 3), 0);
  CHECK(feed_snapshot_wanted(f, &s));
  CHECK_EQ(diff(f, 110, 112, -1, "[[\"100.00\",\"4\"]]", "[]"), OBI_OK);
  CHECK_EQ(snap(f, 100, "[[\"100.00\",\"1\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  CHECK_EQ(st(f)->snapshots_too_old, 1);
  CHECK_EQ(st(f)->snapshots_applied, 0);
  CHECK(!feed_synced(f, 0));
  CHECK_EQ(nseen, 0);
  CHECK(feed_snapshot_wanted(f, &s) && s == 0); /* asked for again */
  CHECK_EQ(snap(f, 111, "[[\"100.00\",\"1\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  CHECK(feed_synced(f, 0));
  CHECK_EQ(level(f, OBI_BID, 10000), 4000);
  feed_free(f);
}

/* A full buffer drops its oldest quarter; a snapshot older than what is left is refused.
 * A learned scale covers the buffered events as well as the snapshot. */
void feed_binance_buffer_limit_and_learned_scale(void) {
  feed_config cfg = {.on_event = on_event, .check_books = 1, .max_buffered = 8};
  feed *f;
  nseen = event_book_mismatch = 0;
  CHECK_EQ(feed_new(&f, FEED_BINANCE_SPOT, &cfg), OBI_OK);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", -1, -1), 0);
  char bids[64];
  for (int i = 0; i < 10; i++) { /* events [101+i, 101+i]; the last one has 3 price decimals */
    snprintf(bids, sizeof bids, "[[\"%s\",\"%d\"]]", i == 9 ? "99.125" : "100.5", i + 1);
    CHECK_EQ(diff(f, 101 + i, 101 + i, -1, bids, "[]"), OBI_OK);
  }
  CHECK_EQ(st(f)->buffered, 10);
  CHECK_EQ(st(f)->buffer_dropped, 2); /* at the 9th event: 8 held, the oldest 2 go */
  CHECK_EQ(snap(f, 100, "[[\"100\",\"1\"]]", "[[\"101\",\"1\"]]"), OBI_OK);
  CHECK_EQ(st(f)->snapshots_too_old, 1); /* 101 and 102 were dropped: 100 cannot be continued */
  CHECK_EQ(snap(f, 102, "[[\"100\",\"1\"]]", "[[\"101\",\"1\"]]"), OBI_OK);
  CHECK(feed_synced(f, 0));
  int pd, sd;
  feed_symbol_decimals(f, 0, &pd, &sd);
  CHECK_EQ(pd, 3); /* from the buffered 99.125 */
  CHECK_EQ(sd, 0);
  CHECK_EQ(st(f)->updates_applied, 8);
  CHECK_EQ(level(f, OBI_BID, 100500), 9);
  CHECK_EQ(level(f, OBI_BID, 99125), 10);
  CHECK_EQ(level(f, OBI_BID, 100000), 1);
  CHECK_EQ(event_book_mismatch, 0);
  feed_free(f);
}

/* A lost event while live: gap, the book cleared, later events buffered, resync. */
void feed_binance_gap_clears_and_resyncs(void) {
  feed *f = make_feed(FEED_BINANCE_SPOT, 1000);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 2, 3), 0);
  CHECK_EQ(snap(f, 100, "[[\"100.00\",\"1\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  CHECK_EQ(diff(f, 101, 103, -1, "[[\"100.00\",\"2\"]]", "[]"), OBI_OK);
  CHECK_EQ(level(f, OBI_BID, 10000), 2000);
  CHECK_EQ(diff(f, 105, 106, -1, "[]", "[[\"101.00\",\"5\"]]"), OBI_OK); /* 104 lost */
  CHECK_EQ(st(f)->gaps, 1);
  CHECK_EQ(st(f)->gaps_first_event, 0);
  CHECK(!feed_synced(f, 0));
  CHECK_EQ(feed_known_depth(f, 0, OBI_BID), 0);
  CHECK_EQ(book_depth(feed_book(f, 0), OBI_BID), 0);
  int s = -1;
  CHECK(feed_snapshot_wanted(f, &s) && s == 0);
  CHECK_EQ(diff(f, 107, 108, -1, "[[\"99.00\",\"7\"]]", "[]"), OBI_OK);
  CHECK_EQ(st(f)->buffered, 2); /* the gap event and the one after it */
  CHECK_EQ(snap(f, 106, "[[\"100.00\",\"3\"]]", "[[\"101.00\",\"5\"]]"), OBI_OK);
  CHECK_EQ(st(f)->resyncs, 1);
  CHECK_EQ(st(f)->dropped_stale, 1); /* [105,106] is in the snapshot */
  CHECK_EQ(st(f)->updates_applied, 2);
  CHECK_EQ(level(f, OBI_BID, 10000), 3000);
  CHECK_EQ(level(f, OBI_BID, 9900), 7000);
  CHECK_EQ(level(f, OBI_ASK, 10100), 5000);
  CHECK_EQ(count_type(OBI_EV_SNAPSHOT_BEGIN), 2); /* the first snapshot, the gap */
  CHECK_EQ(count_type(OBI_EV_SNAPSHOT_END), 2);
  CHECK_EQ(event_book_mismatch, 0);
  feed_free(f);
}

/* Duplicates and late events are dropped without a gap; an event that overtakes another
 * is a gap, and the overtaken one, arriving later, is dropped after the resync. */
void feed_binance_duplicates_and_out_of_order(void) {
  feed *f = make_feed(FEED_BINANCE_SPOT, 1000);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 2, 3), 0);
  CHECK_EQ(snap(f, 100, "[[\"100.00\",\"1\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  CHECK_EQ(diff(f, 101, 103, -1, "[[\"100.00\",\"2\"]]", "[]"), OBI_OK);
  CHECK_EQ(diff(f, 101, 103, -1, "[[\"100.00\",\"2\"]]", "[]"), OBI_OK); /* duplicate */
  CHECK_EQ(diff(f, 99, 100, -1, "[[\"100.00\",\"8\"]]", "[]"), OBI_OK);  /* late */
  CHECK_EQ(st(f)->dropped_stale, 2);
  CHECK_EQ(st(f)->gaps, 0);
  CHECK_EQ(level(f, OBI_BID, 10000), 2000);
  CHECK_EQ(diff(f, 104, 105, -1, "[[\"100.00\",\"3\"]]", "[]"), OBI_OK);
  CHECK_EQ(diff(f, 108, 110, -1, "[[\"100.00\",\"5\"]]", "[]"), OBI_OK); /* overtook [106,107] */
  CHECK_EQ(st(f)->gaps, 1);
  CHECK_EQ(diff(f, 106, 107, -1, "[[\"100.00\",\"4\"]]", "[]"), OBI_OK);
  CHECK_EQ(snap(f, 107, "[[\"100.00\",\"4\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  /* buffered in arrival order: [108,110] lines up with 107+1; [106,107] is then stale */
  CHECK_EQ(level(f, OBI_BID, 10000), 5000);
  CHECK_EQ(st(f)->dropped_stale, 3);
  CHECK_EQ(st(f)->resyncs, 1);
  CHECK_EQ(st(f)->updates_applied, 3);
  CHECK(feed_synced(f, 0));
  CHECK_EQ(event_book_mismatch, 0);
  feed_free(f);
}

/* USDⓈ-M futures: drop u < lastUpdateId; the first event has U <= lastUpdateId <= u (u may
 * equal it); then pu must be the previous u. */
void feed_binance_futures_pu_rule(void) {
  feed *f = make_feed(FEED_BINANCE_FUTURES, 1000);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 1, 3), 0);
  CHECK_EQ(snap(f, 200, "[[\"100.0\",\"1\"]]", "[[\"100.1\",\"1\"]]"), OBI_OK);
  CHECK_EQ(diff(f, 190, 199, 180, "[[\"100.0\",\"9\"]]", "[]"), OBI_OK);
  CHECK_EQ(st(f)->dropped_stale, 1);
  CHECK_EQ(diff(f, 195, 200, 190, "[[\"100.0\",\"2\"]]", "[]"), OBI_OK); /* u == lastUpdateId: applied */
  CHECK_EQ(st(f)->updates_applied, 1);
  CHECK_EQ(level(f, OBI_BID, 1000), 2000);
  CHECK_EQ(diff(f, 211, 215, 200, "[[\"99.9\",\"1\"]]", "[]"), OBI_OK); /* ids jump; pu links */
  CHECK_EQ(st(f)->updates_applied, 2);
  CHECK_EQ(diff(f, 216, 220, 214, "[[\"99.8\",\"1\"]]", "[]"), OBI_OK); /* pu != 215 */
  CHECK_EQ(st(f)->gaps, 1);
  CHECK(!feed_synced(f, 0));
  /* a futures depthUpdate without pu is malformed */
  CHECK_EQ(diff(f, 221, 222, -1, "[]", "[]"), OBI_EPARSE);
  CHECK_STR_CONTAINS(feed_last_error(f), "binance-futures BTCUSDT");
  CHECK_STR_CONTAINS(feed_last_error(f), "'pu'");
  feed_free(f);

  /* the same event on spot is stale: spot drops u <= lastUpdateId */
  f = make_feed(FEED_BINANCE_SPOT, 1000);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 1, 3), 0);
  CHECK_EQ(snap(f, 200, "[[\"100.0\",\"1\"]]", "[[\"100.1\",\"1\"]]"), OBI_OK);
  CHECK_EQ(diff(f, 195, 200, -1, "[[\"100.0\",\"2\"]]", "[]"), OBI_OK);
  CHECK_EQ(st(f)->dropped_stale, 1);
  CHECK_EQ(level(f, OBI_BID, 1000), 1000);
  feed_free(f);
}

/* Every kind of malformed message is counted, named, skipped, and leaves the book as it
 * was; the next event then shows the loss as a gap. Unused messages are ignored. */
void feed_malformed_messages_keep_the_book(void) {
  feed *f = make_feed(FEED_BINANCE_SPOT, 1000);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 2, 3), 0);
  CHECK_EQ(snap(f, 100, "[[\"100.00\",\"1\"],[\"99.00\",\"2\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  CHECK_EQ(diff(f, 101, 101, -1, "[[\"100.00\",\"3\"]]", "[]"), OBI_OK);
  int64_t before_p[3] = {0}, before_q[3] = {0}, after_p[3] = {0}, after_q[3] = {0};
  uint32_t nb = book_top(feed_book(f, 0), OBI_BID, before_p, before_q, 3);
  CHECK_EQ(nb, 2);
  const struct {
    const char *text, *expect;
    int names_symbol;
  } bad[] = {
      {"{", "not valid JSON", 0},
      {"[1,2]", "not a JSON object", 0},
      {"{\"stream\":\"x\",\"data\":5}", "not a JSON object", 0},
      {"{\"e\":5}", "'e'", 0},
      {"{\"e\":\"depthUpdate\",\"U\":102,\"u\":103,\"b\":[],\"a\":[]}", "'s' is missing", 0},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"b\":[],\"a\":[]}", "'u' is missing", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":\"102\",\"u\":103,\"b\":[],\"a\":[]}", "must be an integer", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":-1,\"u\":103,\"b\":[],\"a\":[]}", "must not be negative", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":104,\"u\":103,\"b\":[],\"a\":[]}", "after the last", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"u\":103,\"b\":\"x\",\"a\":[]}", "'b' must be an array", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"u\":103,\"b\":[[\"abc\",\"1\"]],\"a\":[]}", "b price", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"u\":103,\"b\":[[\"100.00\",\"9\"],[\"1.2.3\",\"1\"]],"
       "\"a\":[]}",
       "(entry 1) '1.2.3'", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"u\":103,\"b\":[[\"100.00\",\"9\"]],\"a\":[[\"101.123\","
       "\"1\"]]}",
       "more than the symbol's scale of 2", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"u\":103,\"b\":[[\"100.00\",\"1e3\"]],\"a\":[]}", "b size",
       1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"u\":103,\"b\":[[\"0\",\"1\"]],\"a\":[]}", "positive", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"u\":103,\"b\":[[\"100.00\",\"2000000000000\"]],\"a\":[]}",
       "exceeds", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"u\":103,\"b\":[[\"100.00\"]],\"a\":[]}",
       "[price, size] array", 1},
      {"{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"s\":\"X\",\"U\":102,\"u\":103,\"b\":[],\"a\":[]}", "duplicate", 0},
      {"{\"e\":\"aggTrade\",\"s\":\"BTCUSDT\",\"p\":\"100.00\",\"q\":\"1\"}", "'m'", 1},
  };
  int nbad = (int)(sizeof bad / sizeof *bad), naming = 0;
  for (int i = 0; i < nbad; i++) {
    obi_err err = msg(f, bad[i].text);
    naming += bad[i].names_symbol;
    if ((err != OBI_EPARSE && err != OBI_ERANGE) || !strstr(feed_last_error(f), bad[i].expect) ||
        !strstr(feed_last_error(f), "binance-spot") ||
        (bad[i].names_symbol && !strstr(feed_last_error(f), "binance-spot BTCUSDT: "))) {
      test_fail(__FILE__, __LINE__, "message %d: result %d, error '%s' (expected '%s')", i, err, feed_last_error(f),
                bad[i].expect);
      return;
    }
  }
  CHECK_EQ(feed_get_stats(f)->malformed, nbad);
  CHECK_EQ(st(f)->malformed, naming);
  CHECK_EQ(book_top(feed_book(f, 0), OBI_BID, after_p, after_q, 3), nb);
  CHECK(!memcmp(before_p, after_p, sizeof before_p) && !memcmp(before_q, after_q, sizeof before_q));
  CHECK_EQ(before_q[0], 3000);
  CHECK_EQ(book_depth(feed_book(f, 0), OBI_ASK), 1);
  CHECK_EQ(st(f)->updates_applied, 1);
  CHECK(feed_synced(f, 0));
  /* well-formed messages the book does not use */
  uint64_t ignored = feed_get_stats(f)->ignored;
  CHECK_EQ(msg(f, "{\"result\":null,\"id\":1}"), OBI_OK);
  CHECK_EQ(msg(f, "{\"u\":400900217,\"s\":\"BTCUSDT\",\"b\":\"100.00\",\"B\":\"1\",\"a\":\"101.00\",\"A\":\"1\"}"),
           OBI_OK); /* spot bookTicker */
  CHECK_EQ(msg(f, "{\"e\":\"kline\",\"s\":\"BTCUSDT\",\"k\":{}}"), OBI_OK);
  CHECK_EQ(feed_get_stats(f)->ignored, ignored + 3);
  CHECK_EQ(diff(f, 102, 103, -1, "[]", "[]"), OBI_OK); /* continues 101: applied */
  CHECK_EQ(msg(f, "{\"e\":\"depthUpdate\",\"s\":\"ETHUSDT\",\"U\":1,\"u\":2,\"b\":[],\"a\":[]}"), OBI_OK);
  CHECK_EQ(feed_get_stats(f)->unknown_symbol, 1);
  CHECK_EQ(msg(f, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}"), OBI_OK);
  CHECK_EQ(feed_get_stats(f)->venue_errors, 1);
  CHECK_STR_CONTAINS(feed_last_error(f), "Invalid symbol.");
  /* a depthUpdate [104,105] whose price is broken is lost: [106,106] then shows the gap */
  CHECK_EQ(diff(f, 104, 105, -1, "[[\"x\",\"1\"]]", "[]"), OBI_EPARSE);
  CHECK_EQ(diff(f, 106, 106, -1, "[]", "[]"), OBI_OK);
  CHECK_EQ(st(f)->gaps, 1);
  CHECK_EQ(event_book_mismatch, 0);
  feed_free(f);
}

/* Known depth: a snapshot side as long as the limit is cut at its worst price. */
void feed_known_depth_after_cut_snapshot(void) {
  feed *f = make_feed(FEED_BINANCE_SPOT, 3);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 2, 3), 0);
  CHECK_EQ(feed_known_depth(f, 0, OBI_BID), 0);
  CHECK_EQ(snap(f, 100, "[[\"100.00\",\"1\"],[\"99.00\",\"1\"],[\"98.00\",\"1\"]]",
                "[[\"101.00\",\"1\"],[\"102.00\",\"1\"]]"),
           OBI_OK);
  CHECK_EQ(feed_known_depth(f, 0, OBI_BID), 3);
  CHECK_EQ(feed_known_depth(f, 0, OBI_ASK), 2);
  CHECK_EQ(diff(f, 101, 101, -1, "[[\"97.00\",\"1\"]]", "[[\"103.00\",\"1\"]]"), OBI_OK);
  CHECK_EQ(book_depth(feed_book(f, 0), OBI_BID), 4);
  CHECK_EQ(feed_known_depth(f, 0, OBI_BID), 3); /* 97 is beyond the snapshot: 97.5 may exist */
  CHECK_EQ(feed_known_depth(f, 0, OBI_ASK), 3); /* the ask side was whole (2 < 3 levels) */
  CHECK_EQ(diff(f, 102, 102, -1, "[[\"98.00\",\"0\"],[\"100.50\",\"1\"]]", "[]"), OBI_OK);
  CHECK_EQ(feed_known_depth(f, 0, OBI_BID), 3); /* 100.50, 100, 99 */
  CHECK_EQ(book_depth(feed_book(f, 0), OBI_BID), 4);
  feed_free(f);
  f = make_feed(FEED_BINANCE_SPOT, 0); /* limit unknown: every side may be cut */
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 2, 3), 0);
  CHECK_EQ(snap(f, 100, "[[\"100.00\",\"1\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  CHECK_EQ(diff(f, 101, 101, -1, "[]", "[[\"103.00\",\"1\"]]"), OBI_OK);
  CHECK_EQ(feed_known_depth(f, 0, OBI_ASK), 1);
  feed_free(f);
}

/* ---- Coinbase ----------------------------------------------------------------------- */

void feed_coinbase_exchange_level2_and_matches(void) {
  feed *f = make_feed(FEED_COINBASE_EXCHANGE, 0);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTC-USD", -1, -1), 0); /* scale learned from the snapshot */
  int s;
  CHECK(!feed_snapshot_wanted(f, &s));
  CHECK_EQ(msg(f, "{\"type\":\"subscriptions\",\"channels\":[{\"name\":\"level2\",\"product_ids\":[\"BTC-USD\"]}]}"),
           OBI_OK);
  CHECK_EQ(msg(f, "{\"type\":\"l2update\",\"product_id\":\"BTC-USD\",\"changes\":[[\"buy\",\"100\",\"1\"]]}"), OBI_OK);
  CHECK_EQ(st(f)->dropped_unsynced, 1);
  CHECK_EQ(nseen, 0);
  CHECK_EQ(msg(f, "{\"type\":\"snapshot\",\"product_id\":\"BTC-USD\",\"bids\":[[\"100.5\",\"1.25\"],[\"100\",\"2\"]],"
                  "\"asks\":[[\"101\",\"0.5\"]]}"),
           OBI_OK);
  int pd, sd;
  feed_symbol_decimals(f, 0, &pd, &sd);
  CHECK_EQ(pd, 1);
  CHECK_EQ(sd, 2);
  CHECK(feed_synced(f, 0));
  CHECK_EQ(level(f, OBI_BID, 1005), 125);
  CHECK_EQ(feed_known_depth(f, 0, OBI_BID), 2); /* Coinbase snapshots are whole */
  int before = nseen;
  CHECK_EQ(msg(f, "{\"type\":\"l2update\",\"product_id\":\"BTC-USD\",\"time\":\"2021-04-17T16:43:37.075687Z\","
                  "\"changes\":[[\"buy\",\"100.5\",\"0\"],[\"sell\",\"101.5\",\"3\"],[\"buy\",\"99\",\"0.00\"]]}"),
           OBI_OK);
  CHECK_EQ(nseen - before, 2); /* removing the absent 99 changes nothing */
  CHECK_EQ(level(f, OBI_BID, 1005), 0);
  CHECK_EQ(level(f, OBI_ASK, 1015), 300);
  CHECK_EQ(st(f)->levels_applied, 3);
  CHECK_EQ(msg(f, "{\"type\":\"match\",\"trade_id\":1,\"side\":\"sell\",\"size\":\"0.1\",\"price\":\"101\","
                  "\"product_id\":\"BTC-USD\",\"sequence\":5}"),
           OBI_OK);
  CHECK_EQ(seen[nseen - 1].ev.type, OBI_EV_TRADE);
  CHECK_EQ(seen[nseen - 1].ev.side, OBI_ASK); /* maker side sell: the resting order was an ask */
  CHECK_EQ(seen[nseen - 1].ev.price, 1010);
  CHECK_EQ(seen[nseen - 1].ev.size, 10);
  CHECK_EQ(msg(f, "{\"type\":\"last_match\",\"trade_id\":0,\"side\":\"buy\",\"size\":\"1\",\"price\":\"100\","
                  "\"product_id\":\"BTC-USD\"}"),
           OBI_OK);
  CHECK_EQ(msg(f, "{\"type\":\"ticker\",\"product_id\":\"BTC-USD\",\"price\":\"100.7\"}"), OBI_OK);
  CHECK_EQ(st(f)->trades, 1);
  CHECK_EQ(st(f)->messages, 6); /* every message with its product_id */
  /* a value finer than the learned scale is refused, the book stays */
  CHECK_EQ(msg(f, "{\"type\":\"l2update\",\"product_id\":\"BTC-USD\",\"changes\":[[\"buy\",\"100.25\",\"1\"]]}"),
           OBI_ERANGE);
  CHECK_STR_CONTAINS(feed_last_error(f), "coinbase-exchange BTC-USD: update: price 100.25");
  CHECK_STR_CONTAINS(feed_last_error(f), "learned");
  CHECK_EQ(msg(f, "{\"type\":\"l2update\",\"product_id\":\"BTC-USD\",\"changes\":[[\"up\",\"100\",\"1\"]]}"),
           OBI_EPARSE);
  CHECK_EQ(msg(f, "{\"type\":\"l2update\",\"product_id\":\"BTC-USD\"}"), OBI_EPARSE);
  CHECK_STR_CONTAINS(feed_last_error(f), "'changes' is missing");
  CHECK_EQ(level(f, OBI_BID, 1000), 200);
  CHECK_EQ(st(f)->malformed, 3);
  CHECK_EQ(msg(f, "{\"type\":\"error\",\"message\":\"Failed to subscribe\",\"reason\":\"FOO-BAR is not a valid "
                  "product\"}"),
           OBI_OK);
  CHECK_EQ(feed_get_stats(f)->venue_errors, 1);
  CHECK_STR_CONTAINS(feed_last_error(f), "Failed to subscribe: FOO-BAR is not a valid product");
  /* a bid at the best ask: the crossed-book check counts it */
  CHECK_EQ(st(f)->crossed, 0);
  CHECK_EQ(msg(f, "{\"type\":\"l2update\",\"product_id\":\"BTC-USD\",\"changes\":[[\"buy\",\"101\",\"1\"]]}"), OBI_OK);
  CHECK_EQ(st(f)->crossed, 1);
  CHECK_EQ(st(f)->crossed_checks, 3); /* the snapshot and two applied updates */
  feed_free(f);
}

static obi_err adv(feed *f, long long seq, const char *channel, const char *events) {
  char buf[4096];
  snprintf(buf, sizeof buf,
           "{\"channel\":\"%s\",\"client_id\":\"\",\"timestamp\":\"2023-02-09T20:32:50.714964855Z\","
           "\"sequence_num\":%lld,\"events\":%s}",
           channel, seq, events);
  return msg(f, buf);
}

#define ADV_UPDATE(pid, side, price, qty)                                                                              \
  "[{\"type\":\"update\",\"product_id\":\"" pid "\",\"updates\":[{\"side\":\"" side "\",\"event_time\":\"x\","         \
  "\"price_level\":\"" price "\",\"new_quantity\":\"" qty "\"}]}]"

void feed_coinbase_advanced_sequence_gaps(void) {
  feed *f = make_feed(FEED_COINBASE_ADVANCED, 0);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTC-USD", 2, 8), 0);
  CHECK_EQ(feed_add_symbol(f, "ETH-USD", 2, 8), 1);
  CHECK_EQ(adv(f, 0, "subscriptions", "[{\"subscriptions\":{\"level2\":[\"BTC-USD\",\"ETH-USD\"]}}]"), OBI_OK);
  CHECK_EQ(adv(f, 1, "l2_data",
               "[{\"type\":\"snapshot\",\"product_id\":\"BTC-USD\",\"updates\":["
               "{\"side\":\"bid\",\"event_time\":\"x\",\"price_level\":\"21921.73\",\"new_quantity\":\"0.06317902\"},"
               "{\"side\":\"offer\",\"event_time\":\"x\",\"price_level\":\"21921.74\",\"new_quantity\":\"1\"}]},"
               "{\"type\":\"snapshot\",\"product_id\":\"ETH-USD\",\"updates\":["
               "{\"side\":\"bid\",\"event_time\":\"x\",\"price_level\":\"1500\",\"new_quantity\":\"2\"}]}]"),
           OBI_OK);
  CHECK(feed_synced(f, 0) && feed_synced(f, 1));
  CHECK_EQ(level(f, OBI_BID, 2192173), 6317902);
  CHECK_EQ(adv(f, 2, "l2_data", ADV_UPDATE("BTC-USD", "offer", "21921.74", "0")), OBI_OK);
  CHECK_EQ(level(f, OBI_ASK, 2192174), 0);
  CHECK_EQ(adv(f, 3, "heartbeats", "[{\"current_time\":\"2023-02-09 20:32:50\",\"heartbeat_counter\":3}]"), OBI_OK);
  CHECK_EQ(feed_get_stats(f)->heartbeats, 1);
  CHECK_EQ(
      adv(f, 4, "market_trades",
          "[{\"type\":\"update\",\"trades\":[{\"trade_id\":\"1\",\"product_id\":\"BTC-USD\",\"price\":\"21921.73\","
          "\"size\":\"0.01\",\"side\":\"BUY\",\"time\":\"x\"}]}]"),
      OBI_OK);
  CHECK_EQ(seen[nseen - 1].ev.type, OBI_EV_TRADE);
  CHECK_EQ(seen[nseen - 1].ev.side, OBI_ASK); /* a taker BUY lifts a resting ask */
  CHECK_EQ(seen[nseen - 1].ev.size, 1000000);
  CHECK_EQ(adv(f, 5, "market_trades",
               "[{\"type\":\"snapshot\",\"trades\":[{\"trade_id\":\"0\",\"product_id\":\"BTC-USD\",\"price\":\"1\","
               "\"size\":\"1\",\"side\":\"SELL\",\"time\":\"x\"}]}]"),
           OBI_OK);
  CHECK_EQ(st(f)->trades, 1); /* history is not a trade now */
  CHECK_EQ(adv(f, 4, "l2_data", ADV_UPDATE("BTC-USD", "bid", "21921.00", "5")), OBI_OK); /* old sequence */
  CHECK_EQ(feed_get_stats(f)->sequence_stale, 1);
  CHECK_EQ(level(f, OBI_BID, 2192100), 0);
  CHECK(!feed_resubscribe_wanted(f));
  /* 6 is lost */
  CHECK_EQ(adv(f, 7, "l2_data", ADV_UPDATE("BTC-USD", "bid", "21921.00", "5")), OBI_OK);
  CHECK_EQ(feed_get_stats(f)->sequence_gaps, 1);
  CHECK(!feed_synced(f, 0) && !feed_synced(f, 1));
  CHECK_EQ(book_depth(feed_book(f, 1), OBI_BID), 0);
  CHECK_EQ(st(f)->dropped_unsynced, 1);
  CHECK_EQ(feed_symbol_get_stats(f, 1)->gaps, 1);
  CHECK(feed_resubscribe_wanted(f));
  CHECK(!feed_resubscribe_wanted(f)); /* once per gap */
  CHECK_EQ(adv(f, 8, "l2_data",
               "[{\"type\":\"snapshot\",\"product_id\":\"BTC-USD\",\"updates\":[{\"side\":\"bid\",\"event_time\":\"x\","
               "\"price_level\":\"21900\",\"new_quantity\":\"1\"}]}]"),
           OBI_OK);
  CHECK(feed_synced(f, 0) && !feed_synced(f, 1));
  CHECK_EQ(st(f)->resyncs, 1);
  /* a message whose second event is malformed applies nothing, and is then missing */
  CHECK_EQ(adv(f, 9, "l2_data",
               "[{\"type\":\"update\",\"product_id\":\"BTC-USD\",\"updates\":[{\"side\":\"bid\",\"price_level\":"
               "\"21900\",\"new_quantity\":\"7\"}]},{\"type\":\"update\",\"product_id\":\"BTC-USD\",\"updates\":"
               "[{\"side\":\"bid\",\"price_level\":\"21900\"}]}]"),
           OBI_EPARSE);
  CHECK_STR_CONTAINS(feed_last_error(f), "coinbase-advanced BTC-USD: l2_data: updates new_quantity (entry 0)");
  CHECK_EQ(level(f, OBI_BID, 2190000), 100000000);
  CHECK_EQ(adv(f, 10, "l2_data", ADV_UPDATE("BTC-USD", "bid", "21900", "3")), OBI_OK);
  CHECK_EQ(feed_get_stats(f)->sequence_gaps, 2);
  CHECK(!feed_synced(f, 0));
  CHECK_EQ(msg(f, "{\"type\":\"error\",\"message\":\"authentication failure\"}"), OBI_OK);
  CHECK_EQ(feed_get_stats(f)->venue_errors, 1);
  CHECK_EQ(msg(f, "{\"channel\":\"l2_data\",\"events\":[]}"), OBI_EPARSE);
  CHECK_STR_CONTAINS(feed_last_error(f), "'sequence_num' is missing");
  CHECK_EQ(event_book_mismatch, 0);
  feed_free(f);
}

/* A reconnect: books cleared, snapshots wanted again; scan_only learns scales, applies nothing. */
void feed_reset_and_scan(void) {
  feed *f = make_feed(FEED_BINANCE_SPOT, 1000);
  CHECK(f);
  CHECK_EQ(feed_add_symbol(f, "BTCUSDT", 2, 3), 0);
  CHECK_EQ(feed_add_symbol(f, "ETHUSDT", 2, 3), 1);
  CHECK_EQ(feed_add_symbol(f, "ethusdt", 2, 3), OBI_EDUP_ORDER);
  CHECK_EQ(feed_add_symbol(f, "", 2, 3), OBI_EINVAL);
  CHECK_EQ(feed_add_symbol(f, "X", 19, 3), OBI_EINVAL);
  CHECK_EQ(snap(f, 100, "[[\"100.00\",\"1\"]]", "[[\"101.00\",\"1\"]]"), OBI_OK);
  CHECK_EQ(diff(f, 101, 101, -1, "[[\"100.00\",\"2\"]]", "[]"), OBI_OK);
  int s;
  CHECK(feed_snapshot_wanted(f, &s) && s == 1); /* ETHUSDT never had one */
  CHECK(!feed_snapshot_wanted(f, &s));
  feed_snapshot_failed(f, 1);
  CHECK(feed_snapshot_wanted(f, &s) && s == 1);
  int begins = count_type(OBI_EV_SNAPSHOT_BEGIN);
  feed_reset(f, 5000);
  CHECK_EQ(count_type(OBI_EV_SNAPSHOT_BEGIN), begins + 1); /* only the book that was live */
  CHECK(!feed_synced(f, 0));
  CHECK_EQ(book_depth(feed_book(f, 0), OBI_BID), 0);
  CHECK_EQ(feed_get_stats(f)->resets, 1);
  CHECK(feed_snapshot_wanted(f, &s) && s == 0);
  feed_free(f);

  feed_config cfg = {.on_event = on_event, .scan_only = 1, .add_unknown_symbols = 1};
  nseen = 0;
  CHECK_EQ(feed_new(&f, FEED_BINANCE_SPOT, &cfg), OBI_OK);
  CHECK_EQ(diff(f, 1, 2, -1, "[[\"100.125\",\"1.5\"]]", "[]"), OBI_OK);
  CHECK_EQ(msg(f, "{\"e\":\"aggTrade\",\"s\":\"BTCUSDT\",\"p\":\"100.5\",\"q\":\"0.0001\",\"m\":false}"), OBI_OK);
  CHECK_EQ(feed_symbol_count(f), 1);
  CHECK_EQ(feed_find_symbol(f, "btcusdt", 7), 0);
  int pd, sd;
  feed_symbol_decimals(f, 0, &pd, &sd);
  CHECK_EQ(pd, 3);
  CHECK_EQ(sd, 4);
  CHECK_EQ(nseen, 0);
  CHECK_EQ(book_depth(feed_book(f, 0), OBI_BID), 0);
  CHECK(!feed_snapshot_wanted(f, &s));
  feed_free(f);
  CHECK_EQ(feed_new(&f, (feed_venue)7, NULL), OBI_EINVAL);
  CHECK_EQ(feed_venue_from_url("wss://stream.binance.com:9443/stream?streams=a", 46), FEED_BINANCE_SPOT);
  CHECK_EQ(feed_venue_from_url("https://fapi.binance.com/fapi/v1/depth", 38), FEED_BINANCE_FUTURES);
  CHECK_EQ(feed_venue_from_url("wss://ws-feed.pro.coinbase.com", 30), FEED_COINBASE_EXCHANGE);
  CHECK_EQ(feed_venue_from_url("wss://advanced-trade-ws.coinbase.com", 36), FEED_COINBASE_ADVANCED);
  CHECK_EQ(feed_venue_from_url("ws://127.0.0.1:9000/stream", 26), -1);
}

/* ---- recordings -------------------------------------------------------------------- */

void feed_recording_lines(void) {
  rec_line l;
  char why[256];
  const char *c = "wss://ws-feed.pro.coinbase.com <-> 1618677816.8434298";
  CHECK_EQ(rec_parse_line(c, strlen(c), &l, why, sizeof why), OBI_OK);
  CHECK_EQ(l.kind, REC_CONNECT);
  CHECK_EQ(l.recv_ns, 1618677816843429800LL);
  CHECK_EQ(l.url_len, 30);
  const char *s = "wss://ws-feed.pro.coinbase.com <- 1618677817.020616: {\"type\":\"subscribe\"}";
  CHECK_EQ(rec_parse_line(s, strlen(s), &l, why, sizeof why), OBI_OK);
  CHECK_EQ(l.kind, REC_SENT);
  CHECK_EQ(l.recv_ns, 1618677817020616000LL);
  CHECK_EQ(l.json_len, 20);
  const char *r = "1633998512.0633569: {\"a\":1}";
  CHECK_EQ(rec_parse_line(r, strlen(r), &l, why, sizeof why), OBI_OK);
  CHECK_EQ(l.kind, REC_RECEIVED);
  CHECK_EQ(l.recv_ns, 1633998512063356900LL);
  CHECK(l.url == NULL);
  CHECK(!strncmp(l.json, "{\"a\":1}", l.json_len));
  const char *h = "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000 -> 1633998512.320639: {}";
  CHECK_EQ(rec_parse_line(h, strlen(h), &l, why, sizeof why), OBI_OK);
  CHECK_EQ(l.kind, REC_HTTP);
  CHECK_EQ(l.recv_ns, 1633998512320639000LL);
  const char *t = "5.1234567891: x"; /* decimals beyond the ninth are dropped */
  CHECK_EQ(rec_parse_line(t, strlen(t), &l, why, sizeof why), OBI_OK);
  CHECK_EQ(l.recv_ns, 5123456789LL);
  const char *bad[] = {"",
                       "abc",
                       "URL <-> x",
                       "URL <-> 1.5 extra",
                       "1633998512.06 {}",
                       "1.:x",
                       "URL => 1: {}",
                       "URL -> 1.5 {}",
                       " <-> 1",
                       "123456789012345: {}",
                       "16339985110.5: {}",
                       "9000000001: {}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (rec_parse_line(bad[i], strlen(bad[i]), &l, why, sizeof why) != OBI_EPARSE) {
      test_fail(__FILE__, __LINE__, "'%s' was accepted", bad[i]);
      return;
    }
  const char *text = "wss://a.example <-> 1.0\n2.5: {\"x\":1}\n\nwss://b.example <-> 3\n4: {}\nnonsense\n";
  rec_reader *rd;
  CHECK_EQ(rec_open_mem(&rd, text, strlen(text), "mem"), OBI_OK);
  CHECK_EQ(rec_next(rd, &l), OBI_OK);
  CHECK_EQ(rec_next(rd, &l), OBI_OK);
  CHECK_EQ(l.kind, REC_RECEIVED);
  CHECK(l.url_len == 15 && !strncmp(l.url, "wss://a.example", 15)); /* the connection's URL */
  CHECK_EQ(rec_next(rd, &l), OBI_OK);                               /* the empty line is skipped */
  CHECK_EQ(l.kind, REC_CONNECT);
  CHECK_EQ(rec_next(rd, &l), OBI_OK);
  CHECK(!strncmp(l.url, "wss://b.example", 15));
  CHECK_EQ(rec_next(rd, &l), OBI_EPARSE);
  CHECK_STR_CONTAINS(rec_error(rd), "mem:6: ");
  rec_close(rd);
  CHECK_EQ(rec_detect(test_write_file("rec.ws", "wss://x <-> 1.5\n1.6: {}\n")), 1);
  CHECK_EQ(rec_detect(test_write_file("rec.http", "https://x/depth?symbol=A -> 1.5: {}\n")), 1);
  CHECK_EQ(rec_detect(test_write_file("lobster.csv", "34200.1,1,1,100,2238100,1\n")), 0);
  CHECK_EQ(rec_detect("/nonexistent/file"), OBI_ENOENT);
}

/* ---- the bundled excerpts and the shared recordings, through `obi replay --json` ------ */

/* Runs `obi replay args --json` and returns the parsed report (NULL on failure). */
static json_t *replay_json(const char *args) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "replay %s --json", args);
  if (test_run_obi(cmd) != 0) {
    printf("# obi replay %s: %s\n", args, test_err);
    return NULL;
  }
  json_error_t je;
  return json_loads(test_out, 0, &je);
}

static json_t *symbol_entry(json_t *report, const char *name) {
  json_t *syms = json_object_get(report, "symbols"), *e;
  size_t i;
  json_array_foreach(syms, i, e) if (!strcmp(json_string_value(json_object_get(e, "symbol")), name)) return e;
  return NULL;
}

static long long jint(json_t *e, const char *key) { return (long long)json_integer_value(json_object_get(e, key)); }

typedef struct {
  const char *symbol;
  long long depth_updates, stale, trades;
  const char *bid, *ask;
} expected_symbol;

/* Checks every symbol of a report: its counts, no gap, no crossed book, synced, and the
 * final best prices; and that the report has no other symbol. */
static int check_report(json_t *report, const expected_symbol *x, int n) {
  if (!report) return 0;
  if ((int)json_array_size(json_object_get(report, "symbols")) != n || jint(report, "malformed") != 0) {
    printf("# %d symbols expected, report has %zu; malformed %lld\n", n,
           json_array_size(json_object_get(report, "symbols")), jint(report, "malformed"));
    return 0;
  }
  for (int i = 0; i < n; i++) {
    json_t *e = symbol_entry(report, x[i].symbol);
    const char *bid = e ? json_string_value(json_object_get(e, "best_bid")) : NULL;
    const char *ask = e ? json_string_value(json_object_get(e, "best_ask")) : NULL;
    if (!e || jint(e, "depth_updates") != x[i].depth_updates || jint(e, "dropped_stale") != x[i].stale ||
        jint(e, "updates_applied") != x[i].depth_updates - x[i].stale || jint(e, "trades") != x[i].trades ||
        jint(e, "gaps") != 0 || jint(e, "crossed") != 0 || jint(e, "snapshots_applied") != 1 ||
        !json_is_true(json_object_get(e, "synced")) ||
        jint(e, "crossed_checks") != x[i].depth_updates - x[i].stale + 1 || !bid || !ask || strcmp(bid, x[i].bid) ||
        strcmp(ask, x[i].ask)) {
      char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
      printf("# %s: expected %lld diffs, %lld stale, %lld trades, %s / %s; found %s\n", x[i].symbol, x[i].depth_updates,
             x[i].stale, x[i].trades, x[i].bid, x[i].ask, text ? text : "nothing");
      free(text);
      return 0;
    }
  }
  return 1;
}

/* The expected numbers come from an independent count: tools/feed_count.py (Python
 * decimals and dictionaries, written from the exchanges' documentation, not from src/feed),
 * which also asserts that the recordings have no gap, so applied = diffs - stale:
 *   tools/feed_count.py data/crypto/BINANCE.ws.1.0.zst data/crypto/BINANCE.http.0.0.zst
 *   tools/feed_count.py data/crypto/BINANCE_FUTURES.ws.1.0.first500.zst \
 *                       data/crypto/BINANCE_FUTURES.http.0.0.zst --futures
 *   tools/feed_count.py data/crypto/COINBASE.ws.28.0.first2000.zst
 * print per symbol: diffs, stale diffs, trades, final best bid, final best ask. */
void feed_excerpts_replay_expected_counts(void) {
  static const expected_symbol spot[] = {{"NKNUSDT", 150, 1, 1, "0.3527", "0.3531"},
                                         {"BLZETH", 10, 1, 0, "0.00006547", "0.0000656"},
                                         {"LRCBTC", 15, 2, 1, "0.00000637", "0.00000638"},
                                         {"RUNEEUR", 2, 1, 0, "6.251", "6.269"}};
  json_t *r = replay_json("data/crypto/BINANCE.ws.1.0.zst data/crypto/BINANCE.http.0.0.zst");
  CHECK(check_report(r, spot, 4));
  CHECK(!strcmp(json_string_value(json_object_get(r, "venue")), "binance-spot"));
  CHECK_EQ(jint(r, "received"), 265);
  CHECK_EQ(jint(r, "rest_responses"), 4);
  json_decref(r);
  static const expected_symbol fut[] = {{"SUSHIUSDT", 109, 3, 14, "7.612", "7.613"},
                                        {"AKROUSDT", 72, 1, 3, "0.01731", "0.01732"},
                                        {"KEEPUSDT", 37, 3, 0, "0.2463", "0.2464"},
                                        {"CTKUSDT", 72, 5, 15, "1.01", "1.011"}};
  r = replay_json("data/crypto/BINANCE_FUTURES.ws.1.0.first500.zst data/crypto/BINANCE_FUTURES.http.0.0.zst");
  CHECK(check_report(r, fut, 4));
  CHECK(!strcmp(json_string_value(json_object_get(r, "venue")), "binance-futures"));
  json_t *sushi = symbol_entry(r, "SUSHIUSDT");
  CHECK(sushi);
  CHECK_EQ(jint(sushi, "price_decimals"), 3); /* "7.6110": written with 4, needs 3 */
  CHECK_EQ(jint(sushi, "known_bid_levels"), 1002);
  CHECK_EQ(jint(sushi, "bid_levels"), 1004); /* two levels changed beyond the snapshot's 1000 */
  json_decref(r);
  static const expected_symbol cb[] = {{"BAND-GBP", 100, 0, 0, "14.7712", "14.8086"},
                                       {"SKL-GBP", 83, 0, 1, "0.5748", "0.5771"},
                                       {"NU-GBP", 39, 0, 0, "0.4389", "0.4393"},
                                       {"YFI-BTC", 186, 0, 0, "0.82608", "0.82727"},
                                       {"SKL-BTC", 370, 0, 4, "0.00001305", "0.00001307"},
                                       {"CRV-EUR", 128, 0, 0, "3.2989", "3.304"},
                                       {"BAND-BTC", 121, 0, 0, "0.00033449", "0.00033516"},
                                       {"DASH-BTC", 288, 0, 0, "0.00619644", "0.0062047"},
                                       {"NMR-EUR", 71, 0, 5, "66.9296", "67.0209"},
                                       {"SKL-USD", 547, 0, 5, "0.7911", "0.7922"}};
  r = replay_json("data/crypto/COINBASE.ws.28.0.first2000.zst");
  CHECK(check_report(r, cb, 10));
  CHECK_EQ(jint(r, "sent"), 3);
  json_decref(r);
}

void feed_shared_recordings(void) {
  const char *env = getenv("OBI_SHARED_DATA");
  char dir[512], args[2048];
  snprintf(dir, sizeof dir, "%s/crypto/cryptofeed", env && *env ? env : OBI_SOURCE_DIR "/../shared/data");
  snprintf(args, sizeof args, "%s/COINBASE.ws.28.0.zst", dir);
  FILE *probe = fopen(args, "rb");
  if (!probe) {
    char reason[600];
    snprintf(reason, sizeof reason, "%s not present", dir);
    test_skip(reason);
    return;
  }
  fclose(probe);
  /* tools/feed_count.py over the whole files (the spot pair is bundled whole) */
  static const expected_symbol spot[] = {{"NKNUSDT", 150, 1, 1, "0.3527", "0.3531"},
                                         {"BLZETH", 10, 1, 0, "0.00006547", "0.0000656"},
                                         {"LRCBTC", 15, 2, 1, "0.00000637", "0.00000638"},
                                         {"RUNEEUR", 2, 1, 0, "6.251", "6.269"}};
  snprintf(args, sizeof args, "%s/BINANCE.ws.1.0.zst %s/BINANCE.http.0.0.zst", dir, dir);
  json_t *r = replay_json(args);
  CHECK(check_report(r, spot, 4));
  json_decref(r);
  static const expected_symbol fut[] = {{"SUSHIUSDT", 255, 3, 40, "7.612", "7.616"},
                                        {"AKROUSDT", 189, 1, 8, "0.01734", "0.01735"},
                                        {"KEEPUSDT", 135, 3, 5, "0.2463", "0.2467"},
                                        {"CTKUSDT", 185, 5, 38, "1.011", "1.012"}};
  snprintf(args, sizeof args, "%s/BINANCE_FUTURES.ws.1.0.zst %s/BINANCE_FUTURES.http.0.0.zst", dir, dir);
  r = replay_json(args);
  CHECK(check_report(r, fut, 4));
  json_decref(r);
  static const expected_symbol cb[] = {{"BAND-GBP", 471, 0, 4, "14.7366", "14.7664"},
                                       {"SKL-GBP", 289, 0, 1, "0.5747", "0.5768"},
                                       {"NU-GBP", 76, 0, 1, "0.4388", "0.4393"},
                                       {"YFI-BTC", 487, 0, 0, "0.82553", "0.82696"},
                                       {"SKL-BTC", 1539, 0, 8, "0.00001303", "0.00001305"},
                                       {"CRV-EUR", 670, 0, 0, "3.2956", "3.301"},
                                       {"BAND-BTC", 1005, 0, 8, "0.00033388", "0.00033421"},
                                       {"DASH-BTC", 1925, 0, 15, "0.00619316", "0.00619947"},
                                       {"NMR-EUR", 665, 0, 8, "66.9257", "67.021"},
                                       {"SKL-USD", 2592, 0, 52, "0.7902", "0.7911"}};
  snprintf(args, sizeof args, "%s/COINBASE.ws.28.0.zst", dir);
  r = replay_json(args);
  CHECK(check_report(r, cb, 10));
  json_decref(r);
}

void feed_cli_replay_recording_errors(void) {
  CHECK_EQ(test_run_obi("replay data/crypto/BINANCE.ws.1.0.zst"), 0); /* without its snapshots */
  CHECK_STR_CONTAINS(test_out, "(not synced)");
  const char *bad = test_write_file("bad.ws", "wss://stream.binance.com:9443/stream <-> 1.5\n2: {}\nnot a line\n");
  char args[700];
  snprintf(args, sizeof args, "replay '%s'", bad);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "bad.ws:3: expected");
  const char *local = test_write_file("local.ws", "ws://127.0.0.1:9000/stream <-> 1.5\n"
                                                  "2: {\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":1,\"u\":2,"
                                                  "\"b\":[[\"1.5\",\"2\"]],\"a\":[]}\n3: {oops\n");
  snprintf(args, sizeof args, "replay '%s'", local);
  CHECK_EQ(test_run_obi(args), 1);
  CHECK_STR_CONTAINS(test_err, "--venue");
  snprintf(args, sizeof args, "replay '%s' --venue binance-spot --json", local);
  CHECK_EQ(test_run_obi(args), 0);
  CHECK_STR_CONTAINS(test_out, "\"malformed\":1");
  CHECK_STR_CONTAINS(test_out, "local.ws:3: binance-spot: not valid JSON");
  CHECK_STR_CONTAINS(test_out, "\"buffered\":1");
  CHECK_EQ(test_run_obi("replay data/crypto/COINBASE.ws.28.0.first2000.zst data/crypto/BINANCE.http.0.0.zst"), 1);
  CHECK_STR_CONTAINS(test_err, "REST snapshots belong to Binance recordings");
  CHECK_EQ(test_run_obi("replay data/crypto/BINANCE.http.0.0.zst data/crypto/BINANCE.ws.1.0.zst"),
           0); /* either order */
  CHECK_STR_CONTAINS(test_out, "NKNUSDT");
  CHECK_EQ(test_run_obi("replay data/crypto/BINANCE.ws.1.0.zst --verify"), 2);
  CHECK_EQ(test_run_obi("replay data/crypto/BINANCE.ws.1.0.zst --venue nyse"), 2);
}

/* ---- the fast depthUpdate scanner against jansson ---------------------------------------- */

typedef struct {
  feed *fast, *ref;
  uint64_t hash_fast, hash_ref;
} feed_pair;

static int pair_new(feed_pair *p, feed_venue venue, int add_unknown) {
  memset(p, 0, sizeof *p);
  feed_config cfg = {.on_event = feed_compare_on_event, .check_books = 1, .add_unknown_symbols = add_unknown};
  cfg.ctx = &p->hash_fast;
  if (feed_new(&p->fast, venue, &cfg)) return 0;
  cfg.ctx = &p->hash_ref, cfg.no_fast_path = 1;
  return feed_new(&p->ref, venue, &cfg) == OBI_OK;
}

static void pair_free(feed_pair *p) {
  feed_free(p->fast);
  feed_free(p->ref);
}

/* One message to both feeds; fails the test (naming where) unless they agree. Returns 1
 * when the fast feed took the fast path. */
static int pair_message(feed_pair *p, const char *text, size_t len, const char *where, obi_err *rc) {
  uint64_t before = feed_get_stats(p->fast)->fast_parsed;
  obi_err ef = feed_on_message(p->fast, 1000, text, len), er = feed_on_message(p->ref, 1000, text, len);
  const char *diff = ef != er ? "return codes" : feed_compare(p->fast, p->ref);
  if (diff)
    test_fail(__FILE__, __LINE__, "%s: fast path and jansson differ in %s (%d vs %d: %s | %s)", where, diff, ef, er,
              feed_last_error(p->fast), feed_last_error(p->ref));
  if (rc) *rc = er;
  return feed_get_stats(p->fast)->fast_parsed > before;
}

static void pair_snapshot(feed_pair *p, int sym, const char *text, size_t len, const char *where) {
  obi_err ef = feed_on_snapshot(p->fast, sym, 1000, text, len), er = feed_on_snapshot(p->ref, sym, 1000, text, len);
  const char *diff = ef != er ? "return codes" : feed_compare(p->fast, p->ref);
  if (diff) test_fail(__FILE__, __LINE__, "%s: snapshot: fast path and jansson differ in %s", where, diff);
}

/* A Binance recording (and its REST snapshots) in receive-time order through both feeds.
 * Returns the messages that took the fast path; *depth = the well-formed depthUpdates. */
static uint64_t pair_recording(const char *ws, const char *http, uint64_t *depth) {
  rec_reader *w = NULL, *h = NULL;
  char why[1024];
  if (rec_open(&w, ws, why, sizeof why) || (http && rec_open(&h, http, why, sizeof why))) {
    test_fail(__FILE__, __LINE__, "%s", why);
    rec_close(w);
    return 0;
  }
  rec_line lw, lh;
  int hw = rec_next(w, &lw) == OBI_OK, hh = h && rec_next(h, &lh) == OBI_OK, connections = 0;
  feed_pair p;
  int venue = hw && lw.kind == REC_CONNECT ? feed_venue_from_url(lw.url, lw.url_len) : -1;
  if ((venue != FEED_BINANCE_SPOT && venue != FEED_BINANCE_FUTURES) || !pair_new(&p, (feed_venue)venue, 1)) {
    test_fail(__FILE__, __LINE__, "%s: not a Binance recording", ws);
    return 0;
  }
  while (hw || hh) {
    if (hw && (!hh || lw.recv_ns <= lh.recv_ns)) {
      snprintf(why, sizeof why, "%s:%llu", ws, (unsigned long long)rec_line_no(w));
      if (lw.kind == REC_CONNECT && connections++) feed_reset(p.fast, lw.recv_ns), feed_reset(p.ref, lw.recv_ns);
      if (lw.kind == REC_RECEIVED) pair_message(&p, lw.json, lw.json_len, why, NULL);
      hw = rec_next(w, &lw) == OBI_OK;
      continue;
    }
    const char *q = strstr(lh.url, "symbol="); /* the URL is followed by " -> TIME: ..." */
    size_t n = 0;
    while (q && q[7 + n] && q[7 + n] != '&' && q[7 + n] != ' ') n++;
    if (q && n < 32) {
      char name[32];
      snprintf(name, sizeof name, "%.*s", (int)n, q + 7);
      int sym = feed_find_symbol(p.fast, name, n);
      if (sym < 0 && (sym = feed_add_symbol(p.fast, name, -1, -1)) >= 0) feed_add_symbol(p.ref, name, -1, -1);
      snprintf(why, sizeof why, "%s:%llu", http, (unsigned long long)rec_line_no(h));
      if (sym >= 0) pair_snapshot(&p, sym, lh.json, lh.json_len, why);
    }
    hh = rec_next(h, &lh) == OBI_OK;
  }
  *depth = 0;
  for (int s = 0; s < feed_symbol_count(p.ref); s++) *depth += feed_symbol_get_stats(p.ref, s)->depth_updates;
  if (feed_get_stats(p.ref)->fast_parsed) test_fail(__FILE__, __LINE__, "the reference feed took the fast path");
  uint64_t fast = feed_get_stats(p.fast)->fast_parsed;
  pair_free(&p);
  rec_close(w);
  rec_close(h);
  return fast;
}

void feed_fast_path_matches_jansson_on_recordings(void) {
  const char *env = getenv("OBI_SHARED_DATA");
  char dir[512], ws[700], http[700];
  snprintf(dir, sizeof dir, "%s/crypto/cryptofeed", env && *env ? env : OBI_SOURCE_DIR "/../shared/data");
  struct {
    const char *dir, *ws, *http;
    uint64_t depth; /* depthUpdates in the file (independent count: grep -c depthUpdate) */
  } rec[] = {
      {OBI_SOURCE_DIR "/data/crypto", "BINANCE.ws.1.0.zst", "BINANCE.http.0.0.zst", 177},
      {OBI_SOURCE_DIR "/data/crypto", "BINANCE_FUTURES.ws.1.0.first500.zst", "BINANCE_FUTURES.http.0.0.zst", 290},
      {dir, "BINANCE.ws.1.0.zst", "BINANCE.http.0.0.zst", 177},
      {dir, "BINANCE_FUTURES.ws.1.0.zst", "BINANCE_FUTURES.http.0.0.zst", 764}};
  int shared = 0;
  for (size_t i = 0; i < sizeof rec / sizeof *rec; i++) {
    snprintf(ws, sizeof ws, "%s/%s", rec[i].dir, rec[i].ws);
    snprintf(http, sizeof http, "%s/%s", rec[i].dir, rec[i].http);
    FILE *probe = fopen(ws, "rb");
    if (!probe) continue; /* the shared recordings may be absent */
    fclose(probe);
    shared += rec[i].dir == dir;
    uint64_t depth = 0, fast = pair_recording(ws, http, &depth);
    /* every depthUpdate of the recordings took the fast path, and nothing else did */
    CHECK_EQ(fast, depth);
    if (rec[i].depth) CHECK_EQ(depth, rec[i].depth);
    CHECK(depth > 0);
  }
  if (!shared) test_skip("the shared recordings are not present; the bundled excerpts were compared");
}

/* Each condition the scanner gives up on, next to variants it takes: both feeds must agree
 * (result, error text, items, books, events), and fast says which path the fast feed took. */
void feed_fast_path_edge_cases(void) {
#define ENV(d) "{\"stream\":\"btcusdt@depth@100ms\",\"data\":" d "}"
#define FUT(mid) "{\"e\":\"depthUpdate\",\"E\":1,\"T\":1,\"s\":\"BTCUSDT\",\"U\":100,\"u\":101,\"pu\":99," mid "}"
#define LV "\"b\":[[\"100.00\",\"2\"]],\"a\":[[\"101.00\",\"0.5\"]]"
  static const struct {
    int venue;
    const char *text;
    int fast;
    obi_err rc;
  } cases[] = {
      {FEED_BINANCE_FUTURES, ENV(FUT(LV)), 1, OBI_OK},
      {FEED_BINANCE_FUTURES, FUT(LV), 1, OBI_OK},
      {FEED_BINANCE_FUTURES,
       "{\"b\":[[\"100.00\",\"2\"]],\"s\":\"BTCUSDT\",\"u\":101,\"U\":100,\"pu\":99,"
       "\"e\":\"depthUpdate\",\"a\":[]}",
       1, OBI_OK}, /* any order, no E and T */
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[],\"a\":[]")), 1, OBI_OK},
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[[\"100.001\",\"2\"]],\"a\":[]")), 1, OBI_ERANGE}, /* scale */
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[[\"0\",\"2\"]],\"a\":[]")), 1, OBI_ERANGE},
      {FEED_BINANCE_FUTURES,
       ENV("{\"e\":\"depthUpdate\",\"s\":\"ETHUSDT\",\"U\":1,\"u\":2,\"pu\":0,\"b\":[],"
           "\"a\":[]}"),
       1, OBI_OK}, /* a symbol not added */
      /* whitespace, escapes, bytes outside printable ASCII */
      {FEED_BINANCE_FUTURES, "{\"e\": \"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":100,\"u\":101,\"pu\":99," LV "}", 0,
       OBI_OK},
      {FEED_BINANCE_FUTURES, ENV(FUT(LV)) "\n", 0, OBI_OK},
      {FEED_BINANCE_FUTURES, " " ENV(FUT(LV)), 0, OBI_OK},
      {FEED_BINANCE_FUTURES, "{\"e\":\"depthUpdate\",\"s\":\"BTC\\u0055SDT\",\"U\":100,\"u\":101,\"pu\":99," LV "}", 0,
       OBI_OK},
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[[\"100.0\\u0030\",\"2\"]],\"a\":[]")), 0, OBI_OK},
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[[\"100.00\",\"2\t\"]],\"a\":[]")), 0, OBI_EPARSE},
      {FEED_BINANCE_FUTURES, "{\"e\":\"depthUpdate\",\"s\":\"BTC\xc3\xa9\",\"U\":1,\"u\":2,\"pu\":0,\"b\":[],\"a\":[]}",
       0, OBI_OK},
      {FEED_BINANCE_FUTURES, "{\"e\":\"depthUpdate\",\"s\":\"BTC\xff\",\"U\":1,\"u\":2,\"pu\":0,\"b\":[],\"a\":[]}", 0,
       OBI_EPARSE},
      /* keys: repeated, unknown, missing, out of order */
      {FEED_BINANCE_FUTURES, ENV(FUT("\"U\":100," LV)), 0, OBI_EPARSE},
      {FEED_BINANCE_FUTURES, ENV(FUT("\"E\":2," LV)), 0, OBI_EPARSE},
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[],\"b\":[],\"a\":[]")), 0, OBI_EPARSE},
      {FEED_BINANCE_FUTURES, ENV(FUT("\"x\":1," LV)), 0, OBI_OK},
      {FEED_BINANCE_FUTURES, ENV(FUT("\"x\":{\"y\":[1]}," LV)), 0, OBI_OK},
      {FEED_BINANCE_FUTURES, ENV("{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":100,\"u\":101," LV "}"), 0,
       OBI_EPARSE}, /* pu missing on futures */
      {FEED_BINANCE_FUTURES, ENV("{\"s\":\"BTCUSDT\",\"U\":100,\"u\":101,\"pu\":99," LV "}"), 0, OBI_OK}, /* no e */
      {FEED_BINANCE_FUTURES, ENV(FUT("\"a\":[[\"101.00\",\"0.5\"]],\"b\":[[\"100.00\",\"2\"]]")), 0, OBI_OK},
      {FEED_BINANCE_FUTURES, ENV("{\"e\":\"depthupdate\",\"s\":\"BTCUSDT\",\"U\":100,\"u\":101,\"pu\":99," LV "}"), 0,
       OBI_OK},
      /* numbers and types */
      {FEED_BINANCE_FUTURES,
       ENV("{\"e\":\"depthUpdate\",\"E\":1.5,\"s\":\"BTCUSDT\",\"U\":100,\"u\":101,\"pu\":99," LV "}"), 0, OBI_OK},
      {FEED_BINANCE_FUTURES,
       ENV("{\"e\":\"depthUpdate\",\"E\":1e3,\"s\":\"BTCUSDT\",\"U\":100,\"u\":101,\"pu\":99," LV "}"), 0, OBI_OK},
      {FEED_BINANCE_FUTURES,
       ENV("{\"e\":\"depthUpdate\",\"E\":null,\"s\":\"BTCUSDT\",\"U\":100,\"u\":101,\"pu\":99," LV "}"), 0, OBI_OK},
      {FEED_BINANCE_FUTURES, ENV("{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":1e2,\"u\":101,\"pu\":99," LV "}"), 0,
       OBI_EPARSE},
      {FEED_BINANCE_FUTURES, ENV("{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":0100,\"u\":101,\"pu\":99," LV "}"), 0,
       OBI_EPARSE},
      {FEED_BINANCE_FUTURES, ENV("{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":-1,\"u\":101,\"pu\":99," LV "}"), 0,
       OBI_ERANGE},
      {FEED_BINANCE_FUTURES,
       ENV("{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":100,\"u\":1000000000000000001,"
           "\"pu\":99," LV "}"),
       0, OBI_OK}, /* 19 digits */
      {FEED_BINANCE_FUTURES,
       ENV("{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":100,\"u\":9999999999999999999,"
           "\"pu\":99," LV "}"),
       0, OBI_EPARSE}, /* 19 nines: beyond int64, and no overflow in the scanner (UBSan found one) */
      {FEED_BINANCE_FUTURES, ENV("{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":102,\"u\":101,\"pu\":99," LV "}"), 0,
       OBI_ERANGE},                                                                             /* U > u */
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[[\"100.00\",\"2\",\"x\"]],\"a\":[]")), 0, OBI_OK}, /* 3 entries */
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[[100.00,2]],\"a\":[]")), 0, OBI_EPARSE},
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[[\"1e3\",\"2\"]],\"a\":[]")), 0, OBI_EPARSE},
      {FEED_BINANCE_FUTURES, ENV(FUT("\"b\":[[[\"100.00\"],\"2\"]],\"a\":[]")), 0, OBI_EPARSE}, /* nesting */
      /* the envelope and the end of the text */
      {FEED_BINANCE_FUTURES, ENV(FUT(LV)) "}", 0, OBI_EPARSE},
      {FEED_BINANCE_FUTURES, "{\"stream\":\"x\",\"data\":" FUT(LV), 0, OBI_EPARSE},
      {FEED_BINANCE_FUTURES, "{\"stream\":\"x\",\"data\":" FUT(LV) ",\"x\":1}", 0, OBI_OK},
      {FEED_BINANCE_FUTURES, "{\"data\":" FUT(LV) ",\"stream\":\"x\"}", 0, OBI_OK},
      {FEED_BINANCE_FUTURES, "{\"stream\":1,\"data\":" FUT(LV) "}", 0, OBI_OK},
      {FEED_BINANCE_FUTURES, "{\"stream\":\"x\",\"data\":5}", 0, OBI_EPARSE},
      {FEED_BINANCE_FUTURES, "{\"stream\":\"x\"}", 0, OBI_OK},
      {FEED_BINANCE_FUTURES, "{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":100,\"u\":101,\"pu\":99,\"b\":[[\"1", 0,
       OBI_EPARSE},
      {FEED_BINANCE_FUTURES, "", 0, OBI_EPARSE},
      /* spot: no pu (taken nowhere), T ignored */
      {FEED_BINANCE_SPOT, "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\",\"U\":100,\"u\":101," LV "}", 1, OBI_OK},
      {FEED_BINANCE_SPOT, ENV("{\"e\":\"depthUpdate\",\"E\":1,\"T\":2,\"s\":\"BTCUSDT\",\"U\":100,\"u\":101," LV "}"),
       1, OBI_OK},
      {FEED_BINANCE_SPOT, ENV(FUT(LV)), 0, OBI_OK}, /* pu on spot */
  };
#undef ENV
#undef FUT
#undef LV
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    feed_pair p;
    CHECK(pair_new(&p, (feed_venue)cases[i].venue, 0));
    CHECK_EQ(feed_add_symbol(p.fast, "BTCUSDT", 2, 3), 0);
    CHECK_EQ(feed_add_symbol(p.ref, "BTCUSDT", 2, 3), 0);
    const char *s = "{\"lastUpdateId\":100,\"bids\":[[\"99.00\",\"1\"]],\"asks\":[[\"102.00\",\"1\"]]}";
    char where[32];
    snprintf(where, sizeof where, "case %zu", i);
    pair_snapshot(&p, 0, s, strlen(s), where);
    obi_err rc = OBI_OK;
    int fast = pair_message(&p, cases[i].text, strlen(cases[i].text), where, &rc);
    if (fast != cases[i].fast)
      test_fail(__FILE__, __LINE__, "%s: fast path %d, expected %d", where, fast, cases[i].fast);
    if (rc != cases[i].rc) test_fail(__FILE__, __LINE__, "%s: result %d, expected %d", where, rc, cases[i].rc);
    pair_message(&p, cases[i].text, strlen(cases[i].text), where, NULL); /* again: a duplicate now */
    if (cases[i].fast && !strstr(cases[i].text, "ETHUSDT") && cases[i].rc == OBI_OK)
      CHECK_EQ(feed_symbol_get_stats(p.fast, 0)->updates_applied, 1); /* applied once, then a duplicate */
    pair_free(&p);
  }
}
