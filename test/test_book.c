/* test_book.c — unit tests of src/core/book.c: each operation, level ordering, FIFO
 * priority, queue positions, anonymous liquidity, truncation, the invariant checker,
 * and that a warmed-up book allocates nothing. */
#include <math.h>

#include "obi/book.h"
#include "test.h"

#define CHECK_BOOK(b)                                                                                                  \
  do {                                                                                                                 \
    char why_[256];                                                                                                    \
    if (book_check((b), why_, sizeof why_) != OBI_OK) {                                                                \
      test_fail(__FILE__, __LINE__, "book_check: %s", why_);                                                           \
      return;                                                                                                          \
    }                                                                                                                  \
  } while (0)

void book_add_sets_best_and_level(void) {
  obi_book b;
  CHECK_EQ(book_init(&b, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 1, OBI_BID, 1000, 5, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 2, OBI_BID, 1000, 7, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 3, OBI_ASK, 1010, 4, 0), OBI_OK);
  int64_t price = 0, size = 0;
  CHECK(book_best(&b, OBI_BID, &price, &size));
  CHECK_EQ(price, 1000);
  CHECK_EQ(size, 12);
  CHECK(book_best(&b, OBI_ASK, &price, &size));
  CHECK_EQ(price, 1010);
  CHECK_EQ(size, 4);
  const book_level *l = book_find_level(&b, OBI_BID, 1000);
  CHECK(l != NULL);
  CHECK_EQ(l->orders, 2);
  CHECK_EQ(book_depth(&b, OBI_BID), 1);
  CHECK(book_find_level(&b, OBI_ASK, 1000) == NULL);
  CHECK_BOOK(&b);
  book_free(&b);
}

void book_levels_are_ordered_best_first(void) {
  obi_book b;
  book_init(&b, 0);
  int64_t bids[] = {995, 1000, 990, 998, 999}, asks[] = {1010, 1005, 1020, 1006};
  for (int i = 0; i < 5; i++) CHECK_EQ(book_add(&b, 10 + i, OBI_BID, bids[i], i + 1, 0), OBI_OK);
  for (int i = 0; i < 4; i++) CHECK_EQ(book_add(&b, 20 + i, OBI_ASK, asks[i], 10 * (i + 1), 0), OBI_OK);
  int64_t p[8], s[8];
  CHECK_EQ(book_top(&b, OBI_BID, p, s, 8), 5);
  int64_t want_bid[] = {1000, 999, 998, 995, 990}, want_bid_size[] = {2, 5, 4, 1, 3};
  for (int i = 0; i < 5; i++) {
    CHECK_EQ(p[i], want_bid[i]);
    CHECK_EQ(s[i], want_bid_size[i]);
  }
  CHECK_EQ(book_top(&b, OBI_ASK, p, s, 3), 3); /* top-N stops at N */
  CHECK_EQ(p[0], 1005);
  CHECK_EQ(p[1], 1006);
  CHECK_EQ(p[2], 1010);
  CHECK_EQ(s[0], 20);
  CHECK_EQ(book_level_at(&b, OBI_ASK, 3)->price, 1020);
  CHECK(book_level_at(&b, OBI_ASK, 4) == NULL);
  CHECK_BOOK(&b);
  book_free(&b);
}

void book_fifo_queue_position(void) {
  obi_book b;
  book_init(&b, 0);
  CHECK_EQ(book_add(&b, 1, OBI_ASK, 500, 100, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 2, OBI_ASK, 500, 50, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 3, OBI_ASK, 500, 30, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 4, OBI_ASK, 501, 30, 0), OBI_OK);
  int64_t ahead;
  uint32_t n;
  CHECK_EQ(book_queue_position(&b, 1, &ahead, &n), OBI_OK);
  CHECK_EQ(ahead, 0);
  CHECK_EQ(n, 0);
  CHECK_EQ(book_queue_position(&b, 3, &ahead, &n), OBI_OK);
  CHECK_EQ(ahead, 150);
  CHECK_EQ(n, 2);
  CHECK_EQ(book_cancel(&b, 2, 20), OBI_OK); /* a partial cancel keeps priority */
  CHECK_EQ(book_queue_position(&b, 3, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 130);
  CHECK_EQ(book_queue_position(&b, 2, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 100);
  CHECK_EQ(book_execute(&b, 1, 100), OBI_OK); /* the front order fills and leaves */
  CHECK(book_find_order(&b, 1) == NULL);
  CHECK_EQ(book_queue_position(&b, 2, &ahead, &n), OBI_OK);
  CHECK_EQ(ahead, 0);
  CHECK_EQ(n, 0);
  CHECK_EQ(book_queue_position(&b, 3, &ahead, &n), OBI_OK);
  CHECK_EQ(ahead, 30);
  CHECK_EQ(n, 1);
  CHECK_EQ(book_queue_position(&b, 4, &ahead, NULL), OBI_OK); /* another level counts nothing */
  CHECK_EQ(ahead, 0);
  /* iteration follows arrival order */
  uint32_t cursor = 0;
  const book_level *l = book_find_level(&b, OBI_ASK, 500);
  CHECK_EQ(book_level_next_order(&b, l, &cursor)->id, 2);
  CHECK_EQ(book_level_next_order(&b, l, &cursor)->id, 3);
  CHECK(book_level_next_order(&b, l, &cursor) == NULL);
  CHECK_EQ(book_queue_position(&b, 99, &ahead, NULL), OBI_EUNKNOWN_ORDER);
  CHECK_BOOK(&b);
  book_free(&b);
}

void book_cancel_execute_delete(void) {
  obi_book b;
  book_init(&b, 0);
  CHECK_EQ(book_add(&b, 7, OBI_BID, 100, 10, 0), OBI_OK);
  CHECK_EQ(book_cancel(&b, 7, 3), OBI_OK);
  CHECK_EQ(book_find_order(&b, 7)->size, 7);
  CHECK_EQ(book_find_level(&b, OBI_BID, 100)->size, 7);
  CHECK_EQ(book_execute(&b, 7, 8), OBI_EOVERFILL); /* more than remains: refused, nothing changes */
  CHECK_EQ(book_find_order(&b, 7)->size, 7);
  CHECK_EQ(book_execute(&b, 7, 2), OBI_OK);
  CHECK_EQ(book_find_level(&b, OBI_BID, 100)->size, 5);
  CHECK_EQ(book_delete(&b, 7), OBI_OK);
  CHECK(book_find_level(&b, OBI_BID, 100) == NULL); /* the empty level is gone */
  CHECK_EQ(book_depth(&b, OBI_BID), 0);
  CHECK_EQ(book_delete(&b, 7), OBI_EUNKNOWN_ORDER);
  CHECK_EQ(book_cancel(&b, 8, 1), OBI_EUNKNOWN_ORDER);
  CHECK_EQ(book_add(&b, 9, OBI_BID, 100, 1, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 9, OBI_ASK, 200, 1, 0), OBI_EDUP_ORDER);
  CHECK_EQ(book_add(&b, 10, OBI_BID, 0, 1, 0), OBI_ERANGE);
  CHECK_EQ(book_add(&b, 10, OBI_BID, 100, -1, 0), OBI_ERANGE);
  CHECK_EQ(book_add(&b, 10, 2, 100, 1, 0), OBI_ERANGE);
  CHECK_EQ(book_cancel(&b, 9, 0), OBI_ERANGE);
  CHECK_BOOK(&b);
  book_free(&b);
}

void book_set_level_l2(void) {
  obi_book b;
  book_init(&b, 0);
  CHECK_EQ(book_set_level(&b, OBI_ASK, 2000, 15, 0), OBI_OK);
  CHECK_EQ(book_set_level(&b, OBI_ASK, 1990, 5, 0), OBI_OK);
  CHECK_EQ(book_find_level(&b, OBI_ASK, 2000)->size, 15);
  CHECK_EQ(book_set_level(&b, OBI_ASK, 2000, 9, 0), OBI_OK); /* new total, not a delta */
  CHECK_EQ(book_find_level(&b, OBI_ASK, 2000)->size, 9);
  CHECK_EQ(book_find_level(&b, OBI_ASK, 2000)->orders, 1);
  CHECK_EQ(book_set_level(&b, OBI_ASK, 1990, 0, 0), OBI_OK);
  CHECK(book_find_level(&b, OBI_ASK, 1990) == NULL);
  CHECK_EQ(book_set_level(&b, OBI_ASK, 1980, 0, 0), OBI_OK); /* removing an absent level is a no-op */
  /* a level with identified orders: the anonymous part absorbs the difference */
  CHECK_EQ(book_add(&b, 1, OBI_ASK, 2000, 4, 0), OBI_OK);
  CHECK_EQ(book_set_level(&b, OBI_ASK, 2000, 20, 0), OBI_OK);
  CHECK_EQ(book_find_level(&b, OBI_ASK, 2000)->size, 20);
  CHECK_EQ(book_find_order(&b, 1)->size, 4);
  CHECK_EQ(book_set_level(&b, OBI_ASK, 2000, 3, 0), OBI_EOVERFILL); /* below the identified 4 */
  CHECK_EQ(book_set_level(&b, OBI_ASK, 2000, 4, 0), OBI_OK);        /* anonymous part leaves */
  CHECK_EQ(book_find_level(&b, OBI_ASK, 2000)->orders, 1);
  obi_event ev = {.type = OBI_EV_LEVEL_SET, .side = OBI_BID, .price = 1500, .size = 8};
  CHECK_EQ(book_apply(&b, &ev), OBI_OK);
  CHECK_EQ(book_find_level(&b, OBI_BID, 1500)->size, 8);
  CHECK_BOOK(&b);
  ev.type = OBI_EV_SNAPSHOT_BEGIN;
  CHECK_EQ(book_apply(&b, &ev), OBI_OK);
  CHECK_EQ(book_depth(&b, OBI_BID) + book_depth(&b, OBI_ASK), 0);
  CHECK(book_find_order(&b, 1) == NULL);
  CHECK_BOOK(&b);
  book_free(&b);
}

void book_anonymous_liquidity_queue(void) {
  obi_book b;
  book_init(&b, 0);
  /* a level that starts anonymous: identified orders queue behind it */
  CHECK_EQ(book_add_anon(&b, OBI_BID, 300, 40, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 5, OBI_BID, 300, 10, 0), OBI_OK);
  int64_t ahead;
  CHECK_EQ(book_queue_position(&b, 5, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 40);
  CHECK_EQ(book_reduce_anon(&b, OBI_BID, 300, 15), OBI_OK);
  CHECK_EQ(book_queue_position(&b, 5, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 25);
  CHECK_EQ(book_reduce_anon(&b, OBI_BID, 300, 26), OBI_EOVERFILL);
  CHECK_EQ(book_reduce_anon(&b, OBI_BID, 300, 25), OBI_OK);
  CHECK_EQ(book_reduce_anon(&b, OBI_BID, 300, 1), OBI_EUNKNOWN_ORDER); /* none left */
  CHECK_EQ(book_queue_position(&b, 5, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 0);
  /* anonymous liquidity joining a level with identified orders goes to the back */
  CHECK_EQ(book_add_anon(&b, OBI_BID, 300, 7, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 6, OBI_BID, 300, 1, 0), OBI_OK);
  CHECK_EQ(book_queue_position(&b, 6, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 17);
  CHECK_EQ(book_reduce_anon(&b, OBI_ASK, 300, 1), OBI_EUNKNOWN_ORDER); /* no such level */
  CHECK_EQ(book_find_level(&b, OBI_BID, 300)->size, 18);
  CHECK_BOOK(&b);
  book_free(&b);
}

void book_truncate_forgets_deep_levels(void) {
  obi_book b;
  book_init(&b, 0);
  for (int i = 0; i < 6; i++) CHECK_EQ(book_add(&b, 100 + i, OBI_ASK, 1000 + i, 1 + i, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 200, OBI_ASK, 1005, 3, 0), OBI_OK);
  CHECK_EQ(book_truncate(&b, OBI_ASK, 4), 2);
  CHECK_EQ(book_depth(&b, OBI_ASK), 4);
  CHECK_EQ(book_level_at(&b, OBI_ASK, 3)->price, 1003);
  CHECK(book_find_order(&b, 105) == NULL);
  CHECK(book_find_order(&b, 200) == NULL);
  CHECK(book_find_order(&b, 103) != NULL);
  CHECK_EQ(book_truncate(&b, OBI_ASK, 10), 0);
  CHECK_BOOK(&b);
  /* the forgotten id can be used again */
  CHECK_EQ(book_add(&b, 200, OBI_ASK, 1001, 1, 0), OBI_OK);
  CHECK_BOOK(&b);
  book_free(&b);
}

void book_queue_compaction_keeps_positions(void) {
  obi_book b;
  book_init(&b, 0);
  /* a long-lived order at the front while thousands arrive and leave behind it */
  CHECK_EQ(book_add(&b, 1, OBI_BID, 100, 5, 0), OBI_OK);
  for (uint64_t i = 0; i < 5000; i++) {
    CHECK_EQ(book_add(&b, 10 + i, OBI_BID, 100, 1 + (int64_t)(i % 3), 0), OBI_OK);
    if (i >= 3) CHECK_EQ(book_delete(&b, 10 + i - 3), OBI_OK);
  }
  CHECK(b.stats.compactions > 0);
  int64_t ahead;
  CHECK_EQ(book_queue_position(&b, 1, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 0);
  /* the three live followers: ids 5007, 5008, 5009 with sizes (4997%3)+1 .. */
  uint64_t last = 10 + 4999;
  CHECK_EQ(book_queue_position(&b, last, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 5 + (1 + 4997 % 3) + (1 + 4998 % 3));
  CHECK_BOOK(&b);
  book_free(&b);
}

void book_limits_and_times(void) {
  obi_book b;
  book_init(&b, 0);
  CHECK_EQ(book_add(&b, 1, OBI_BID, 100, BOOK_MAX_QTY + 1, 0), OBI_ERANGE);
  CHECK_EQ(book_add(&b, 1, OBI_BID, BOOK_MAX_QTY + 1, 1, 0), OBI_ERANGE);
  CHECK_EQ(book_add(&b, 1, OBI_BID, 100, BOOK_MAX_QTY, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 2, OBI_BID, 100, 1, 0), OBI_ERANGE); /* the level total would exceed the limit */
  CHECK_EQ(book_add_anon(&b, OBI_BID, 100, 1, 0), OBI_ERANGE);
  CHECK_EQ(book_set_level(&b, OBI_ASK, 200, BOOK_MAX_QTY + 1, 0), OBI_ERANGE);
  CHECK(book_find_order(&b, 2) == NULL);
  CHECK_EQ(book_depth(&b, OBI_ASK), 0);
  CHECK_BOOK(&b);
  /* entry times far apart (an order at time 0, then real times) do not overflow the age sums */
  for (uint64_t i = 0; i < 8; i++)
    CHECK_EQ(book_add(&b, 10 + i, OBI_ASK, 300, 1, i ? 1700000000000000000LL : 0), OBI_OK);
  CHECK_BOOK(&b);
  double age = book_level_mean_age_s(&b, book_find_level(&b, OBI_ASK, 300), 1700000000000000000LL);
  CHECK(fabs(age - 1.7e9 / 8) < 1e-3); /* one order 1.7e9 s old, seven of age 0 */
  book_free(&b);
}

void book_check_detects_corruption(void) {
  obi_book b;
  book_init(&b, 0);
  CHECK_EQ(book_add(&b, 1, OBI_BID, 100, 5, 0), OBI_OK);
  CHECK_EQ(book_add(&b, 2, OBI_ASK, 101, 5, 0), OBI_OK);
  CHECK_BOOK(&b);
  char why[256];
  book_level *l = &b.levels[b.sides[OBI_BID].lvl[0]];
  l->size += 1;
  CHECK_EQ(book_check(&b, why, sizeof why), OBI_EINVARIANT);
  CHECK_STR_CONTAINS(why, "sum to");
  l->size -= 1;
  CHECK_BOOK(&b);
  CHECK_EQ(book_add(&b, 3, OBI_BID, 101, 1, 0), OBI_OK); /* locks the book: bid == ask */
  CHECK(book_crossed(&b));
  CHECK_EQ(book_check(&b, why, sizeof why), OBI_EINVARIANT);
  CHECK_STR_CONTAINS(why, "crossed");
  book_free(&b);
}

/* One pass of a workload that touches every path: adds, cancels, executions, deletes,
 * anonymous liquidity, set_level, truncation. */
static void workload(obi_book *b) {
  for (uint64_t round = 0; round < 20; round++) {
    for (uint64_t i = 0; i < 500; i++) {
      uint64_t id = round * 1000 + i + 1;
      int side = (int)(i & 1);
      int64_t price = side == OBI_BID ? 1000 - (int64_t)(i % 50) : 1001 + (int64_t)(i % 50);
      book_add(b, id, side, price, 10, 0);
      if (i % 5 == 0) book_cancel(b, id, 3);
      if (i % 7 == 0) book_execute(b, id, 2);
    }
    book_set_level(b, OBI_BID, 900, 50, 0);
    book_add_anon(b, OBI_ASK, 1100, 20, 0);
    for (uint64_t i = 0; i < 500; i++) book_delete(b, round * 1000 + i + 1);
    book_truncate(b, OBI_BID, 0);
    book_truncate(b, OBI_ASK, 0);
  }
}

void book_no_allocation_after_warmup(void) {
  obi_book b;
  book_init(&b, 0);
  workload(&b);
  CHECK_BOOK(&b);
  uint64_t warm = b.stats.allocations;
  CHECK(warm > 0);
  workload(&b);
  workload(&b);
  CHECK_EQ(b.stats.allocations, warm);
  CHECK_BOOK(&b);
  book_free(&b);
}
