/* book.h — the limit order book: L3 (orders by id, FIFO per price) and L2 (levels).
 *
 * One obi_book per instrument. Every price level keeps its orders in arrival order
 * (price-time priority) and the sum of their sizes; L2-only sources (feeds without
 * order ids) keep one anonymous order per level whose size is the level total.
 * Anonymous liquidity also stands for orders the book has never seen (LOBSTER
 * levels that enter the recorded depth from below; see lobster.h).
 *
 * Costs: best bid/ask O(1); level lookup by price O(log L) (L levels on the side);
 * add/cancel/delete/execute O(1) expected for the order map plus O(log Q) to keep
 * the queue-position index of the level (Q orders at the level); an order's queue
 * position (size ahead of it) O(log Q). Memory comes from pools that grow by
 * doubling during warm-up; once they are large enough no operation allocates
 * (stats.allocations counts every allocation the book makes).
 *
 * Not thread-safe: one writer, readers on the same thread. */
#ifndef OBI_BOOK_H
#define OBI_BOOK_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"
#include "obi/event.h"

#define BOOK_NONE UINT32_MAX
/* The largest price, order size and level total the book accepts (OBI_ERANGE beyond), so that
 * no sum it keeps can overflow. */
#define BOOK_MAX_QTY 1000000000000000LL

typedef struct {
  uint64_t id;    /* exchange order id; 0 for anonymous liquidity */
  int64_t size;   /* remaining visible size, > 0 while live */
  int64_t ts_ns;  /* time the order entered the book (for order-age features) */
  uint32_t level; /* index of its level in the level pool */
  uint32_t slot;  /* position in the level's queue (arrival order) */
  uint8_t side;
  uint8_t anon; /* 1: anonymous liquidity, not in the id map */
  uint8_t live;
} book_order;

typedef struct {
  int64_t price;
  int64_t size;       /* sum of the sizes of the live orders */
  uint32_t orders;    /* live orders */
  uint32_t anon;      /* order index of the anonymous order, or BOOK_NONE */
  uint64_t ts_sum_lo; /* sum of (order ts_ns - book.epoch_ns) over live orders, 128-bit */
  int64_t ts_sum_hi;  /* (two words, so no mix of timestamps overflows): mean order age in O(1) */
  uint8_t side;
  /* The queue: slots[head..tail) hold order indices in arrival order, BOOK_NONE for
   * orders that left; fen is a Fenwick tree over the slot sizes (0 for empty slots)
   * so the size ahead of slot s is a prefix sum. Both live in one pooled block of
   * cap entries; when tail reaches cap the queue is compacted or moved to a bigger block. */
  uint32_t head, tail, cap;
  uint32_t *slots;
  int64_t *fen;
} book_level;

/* One side's levels sorted by price, best at the END (bids ascending, asks descending),
 * so the best price is O(1) and changes near the top move few entries. */
typedef struct {
  int64_t *prices; /* prices[i] == levels[lvl[i]].price, kept beside for the search */
  uint32_t *lvl;
  uint32_t n, cap;
} book_side;

typedef struct {
  uint64_t allocations; /* every malloc/realloc the book made since book_init */
  uint64_t compactions; /* queue compactions (amortised O(1) per append) */
  uint64_t orders_peak;
  uint64_t levels_peak;
} book_stats;

typedef struct {
  book_side sides[2];
  book_level *levels;
  uint32_t nlevels_cap, *level_free, nlevel_free;
  book_order *orders;
  uint32_t norders_cap, *order_free, norder_free;
  /* open-addressing id -> order index map, linear probing, backward-shift deletion */
  uint64_t *map_keys;
  uint32_t *map_vals; /* BOOK_NONE marks an empty slot */
  uint32_t map_cap, map_count;
  void *pool[33]; /* free queue blocks by log2(capacity) */
  uint64_t live_orders;
  int64_t epoch_ns; /* ts_ns of the first order ever queued: the origin of level.ts_sum */
  int epoch_set;
  book_stats stats;
} obi_book;

/* Caller allocates; book_init prepares an empty book with room for about
 * `orders_hint` orders (0: a small default). Returns OBI_OK or OBI_ENOMEM. */
obi_err book_init(obi_book *b, uint32_t orders_hint);
/* Releases everything book_init and the operations allocated. Accepts NULL. */
void book_free(obi_book *b);
/* Removes every order and level; keeps the pools (no allocation when refilled). */
void book_clear(obi_book *b);

/* L3 operations. Sizes and prices must be in (0, BOOK_MAX_QTY]. An operation that fails
 * leaves the book as it was (allocation failures included).
 * add: OBI_EDUP_ORDER if id is live, OBI_ERANGE for size/price out of range, side not 0/1,
 *   or a level total that would exceed BOOK_MAX_QTY.
 * cancel/execute: remove `size` from the order (the order leaves when it reaches 0);
 *   OBI_EUNKNOWN_ORDER if id is not live, OBI_EOVERFILL if size exceeds the order.
 * delete: the order leaves entirely. */
obi_err book_add(obi_book *b, uint64_t id, int side, int64_t price, int64_t size, int64_t ts_ns);
obi_err book_cancel(obi_book *b, uint64_t id, int64_t size);
obi_err book_execute(obi_book *b, uint64_t id, int64_t size);
obi_err book_delete(obi_book *b, uint64_t id);

/* Anonymous liquidity (no order id): add joins the anonymous order of the level, which
 * is created at the BACK of the queue when the level has none; reduce takes size from
 * the level's anonymous order (OBI_EUNKNOWN_ORDER if there is none, OBI_EOVERFILL if it
 * is smaller than size). */
obi_err book_add_anon(obi_book *b, int side, int64_t price, int64_t size, int64_t ts_ns);
obi_err book_reduce_anon(obi_book *b, int side, int64_t price, int64_t size);

/* L2 update: the level's total becomes size (0 removes the level and its orders).
 * The difference is applied to the level's anonymous order; OBI_EOVERFILL if the
 * level's identified orders alone exceed size. */
obi_err book_set_level(obi_book *b, int side, int64_t price, int64_t size, int64_t ts_ns);

/* Applies one event: ADD, CANCEL, DELETE, EXEC via the L3 operations, LEVEL_SET via
 * book_set_level; EXEC_HIDDEN, TRADE, HALT and SNAPSHOT_* leave the book unchanged.
 * SNAPSHOT_BEGIN clears the book. */
obi_err book_apply(obi_book *b, const obi_event *ev);

/* Removes every level of `side` beyond the best `keep` ones, with their orders.
 * Returns the number of levels removed. */
uint32_t book_truncate(obi_book *b, int side, uint32_t keep);

/* Number of levels on a side. */
static inline uint32_t book_depth(const obi_book *b, int side) { return b->sides[side].n; }

/* The k-th best level of a side (k = 0 is the best), or NULL when k >= depth. O(1). */
static inline const book_level *book_level_at(const obi_book *b, int side, uint32_t k) {
  const book_side *s = &b->sides[side];
  return k < s->n ? &b->levels[s->lvl[s->n - 1 - k]] : NULL;
}

/* Best price and size; returns 0 (and leaves *price, *size alone) when the side is empty. */
int book_best(const obi_book *b, int side, int64_t *price, int64_t *size);

/* Copies up to n best levels of a side into caller arrays (either may be NULL);
 * returns how many were written. Never allocates. */
uint32_t book_top(const obi_book *b, int side, int64_t *prices, int64_t *sizes, uint32_t n);

/* The level at an exact price, or NULL. O(log L). */
const book_level *book_find_level(const obi_book *b, int side, int64_t price);

/* The live order with this id, or NULL. */
const book_order *book_find_order(const obi_book *b, uint64_t id);

/* Queue position of a live order: the total size and the number of orders ahead of it
 * at its price level (anonymous liquidity counts as one order). O(log Q) for the size.
 * orders_ahead may be NULL (computing it walks the queue, O(Q)). */
obi_err book_queue_position(const obi_book *b, uint64_t id, int64_t *size_ahead, uint32_t *orders_ahead);

/* Orders of a level in queue order: pass *cursor = 0 first; returns NULL at the end. */
const book_order *book_level_next_order(const obi_book *b, const book_level *l, uint32_t *cursor);

/* The first order in a level's queue (the oldest), or NULL for an empty level. O(1). */
static inline const book_order *book_level_front(const obi_book *b, const book_level *l) {
  return l->orders ? &b->orders[l->slots[l->head]] : NULL;
}

/* Mean age in seconds at now_ns of the orders of a level (now minus their mean entry time),
 * in O(1) from the level's 128-bit sum of entry times; 0 for an empty level. */
double book_level_mean_age_s(const obi_book *b, const book_level *l, int64_t now_ns);

/* 1 when both sides are non-empty and best bid >= best ask. */
int book_crossed(const obi_book *b);

/* Walks the whole book and checks every invariant: prices strictly ordered on each
 * side, no crossed book, every level non-empty with size = sum of its orders and
 * orders = their count, queue index consistent with the orders' sizes, every order
 * reachable from the id map and back. Returns OBI_OK or OBI_EINVARIANT and, when
 * why != NULL, a sentence saying which invariant failed. O(size of the book). */
obi_err book_check(const obi_book *b, char *why, size_t why_len);

#endif
