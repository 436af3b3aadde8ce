/* book.c — price-time priority limit order book, L3 and L2 in one structure.
 *
 * Layout. Orders live in one pool (book.orders) and levels in another (book.levels);
 * both are addressed by 32-bit indices so that growing a pool (realloc) never leaves
 * a dangling pointer inside the book. Each side keeps a sorted array of "keys" (the
 * price for bids, minus the price for asks) with the level indices beside them, in
 * ascending key order: the best level is always the last entry, and most updates,
 * which happen near the top of the book, move only a few entries.
 *
 * Queues. A level's orders sit in a slot array in arrival order; an order that leaves
 * empties its slot instead of shifting the others, so removal from the middle is
 * O(1) and every order keeps its slot. A Fenwick tree over the slot sizes gives the
 * size ahead of any slot in O(log cap). When the tail reaches the capacity the queue
 * is compacted (or moved to a block twice as large when it is more than half full),
 * which costs O(cap) once per at least cap/2 appends: amortised O(1).
 *
 * Memory. Queue blocks come from free lists by power-of-two class; pools only grow.
 * After warm-up (the largest book seen so far) no operation calls malloc; every
 * allocation is counted in stats.allocations so benchmarks can prove it.
 *
 * Invariants (book_check verifies them all): keys strictly increasing per side; every
 * level has orders > 0 and size == the sum of its live orders' sizes; every live
 * order's (level, slot) points back at it; the Fenwick prefix sums equal the running
 * sums of slot sizes; every identified live order is in the id map exactly once;
 * anonymous orders are not, and a level has at most one; best bid < best ask. */
#include "obi/book.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MIN_CLASS 2 /* smallest queue block: 4 slots */

static void *book__alloc(obi_book *b, void *old, size_t bytes) {
  b->stats.allocations++;
  return realloc(old, bytes);
}

static inline int64_t side_key(int side, int64_t price) { return side == OBI_BID ? price : -price; }

/* ---- id map ---------------------------------------------------------------------- */

static inline uint32_t map_home(const obi_book *b, uint64_t id) {
  return (uint32_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & (b->map_cap - 1);
}

static uint32_t map_find(const obi_book *b, uint64_t id) {
  uint32_t mask = b->map_cap - 1;
  for (uint32_t i = map_home(b, id);; i = (i + 1) & mask) {
    if (b->map_vals[i] == BOOK_NONE) return BOOK_NONE;
    if (b->map_keys[i] == id) return i;
  }
}

static obi_err map_resize(obi_book *b, uint32_t cap) {
  uint64_t *keys = book__alloc(b, NULL, (size_t)cap * sizeof *keys);
  uint32_t *vals = book__alloc(b, NULL, (size_t)cap * sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return OBI_ENOMEM;
  }
  memset(vals, 0xff, (size_t)cap * sizeof *vals);
  uint64_t *old_keys = b->map_keys;
  uint32_t *old_vals = b->map_vals, old_cap = b->map_cap;
  b->map_keys = keys;
  b->map_vals = vals;
  b->map_cap = cap;
  for (uint32_t i = 0; i < old_cap; i++) {
    if (old_vals[i] == BOOK_NONE) continue;
    uint32_t j = map_home(b, old_keys[i]);
    while (vals[j] != BOOK_NONE) j = (j + 1) & (cap - 1);
    keys[j] = old_keys[i];
    vals[j] = old_vals[i];
  }
  free(old_keys);
  free(old_vals);
  return OBI_OK;
}

/* Room for one more id (the map stays at most half full). */
static obi_err map_reserve(obi_book *b) {
  return (b->map_count + 1) * 2 > b->map_cap ? map_resize(b, b->map_cap * 2) : OBI_OK;
}

/* The caller has checked that id is absent and reserved room. */
static void map_insert(obi_book *b, uint64_t id, uint32_t order) {
  uint32_t i = map_home(b, id);
  while (b->map_vals[i] != BOOK_NONE) i = (i + 1) & (b->map_cap - 1);
  b->map_keys[i] = id;
  b->map_vals[i] = order;
  b->map_count++;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void map_erase_at(obi_book *b, uint32_t i) {
  uint32_t mask = b->map_cap - 1;
  b->map_vals[i] = BOOK_NONE;
  b->map_count--;
  for (uint32_t j = (i + 1) & mask; b->map_vals[j] != BOOK_NONE; j = (j + 1) & mask) {
    uint32_t home = map_home(b, b->map_keys[j]);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      b->map_keys[i] = b->map_keys[j];
      b->map_vals[i] = b->map_vals[j];
      b->map_vals[j] = BOOK_NONE;
      i = j;
    }
  }
}

/* ---- 128-bit sums of entry times (mean order age) ---------------------------------- */

/* A level's sum of (ts_ns - epoch) in two words, so that no mix of timestamps overflows. */
static inline void ts_acc_add(book_level *l, int64_t x) {
  uint64_t lo = l->ts_sum_lo + (uint64_t)x;
  l->ts_sum_hi += (x < 0 ? -1 : 0) + (lo < l->ts_sum_lo);
  l->ts_sum_lo = lo;
}

static inline void ts_acc_sub(book_level *l, int64_t x) {
  uint64_t lo = l->ts_sum_lo - (uint64_t)x;
  l->ts_sum_hi -= (x < 0 ? -1 : 0) + (lo > l->ts_sum_lo);
  l->ts_sum_lo = lo;
}

double book_level_mean_age_s(const obi_book *b, const book_level *l, int64_t now_ns) {
  if (!l->orders) return 0.0;
  long double sum = (long double)l->ts_sum_hi * 18446744073709551616.0L + (long double)l->ts_sum_lo;
  return (double)(((long double)now_ns - (long double)b->epoch_ns - sum / (long double)l->orders) * 1e-9L);
}

/* ---- queue blocks and the Fenwick index ----------------------------------------- */

static inline void fen_add(int64_t *fen, uint32_t cap, uint32_t slot, int64_t delta) {
  for (uint32_t i = slot + 1; i <= cap; i += i & (0u - i)) fen[i - 1] += delta;
}

/* Sum of the sizes in slots [0, slot). */
static inline int64_t fen_prefix(const int64_t *fen, uint32_t slot) {
  int64_t s = 0;
  for (uint32_t i = slot; i > 0; i &= i - 1) s += fen[i - 1];
  return s;
}

static int class_of(uint32_t cap) {
  int k = 0;
  while ((1u << k) < cap) k++;
  return k;
}

/* A block holds cap int64 Fenwick entries followed by cap uint32 slots. */
static obi_err block_get(obi_book *b, uint32_t cap, int64_t **fen, uint32_t **slots) {
  int k = class_of(cap);
  void *blk = b->pool[k];
  if (blk) {
    memcpy(&b->pool[k], blk, sizeof(void *));
  } else {
    blk = book__alloc(b, NULL, (size_t)cap * (sizeof(int64_t) + sizeof(uint32_t)));
    if (!blk) return OBI_ENOMEM;
  }
  *fen = blk;
  *slots = (uint32_t *)(*fen + cap);
  return OBI_OK;
}

static void block_put(obi_book *b, uint32_t cap, int64_t *fen) {
  int k = class_of(cap);
  memcpy(fen, &b->pool[k], sizeof(void *));
  b->pool[k] = fen;
}

/* Make room for one more slot at the tail: compact in place when at most half the
 * slots are live, otherwise move to a block of twice the capacity. */
static obi_err queue_make_room(obi_book *b, book_level *l) {
  uint32_t cap = l->cap;
  int64_t *fen = l->fen;
  uint32_t *slots = l->slots;
  if ((l->orders + 1) * 2 > cap) {
    obi_err err = block_get(b, cap * 2, &fen, &slots);
    if (err) return err;
    cap *= 2;
  }
  uint32_t n = 0;
  for (uint32_t s = l->head; s < l->tail; s++) {
    uint32_t oi = l->slots[s];
    if (oi == BOOK_NONE) continue;
    slots[n] = oi;
    b->orders[oi].slot = n;
    n++;
  }
  memset(fen, 0, (size_t)cap * sizeof *fen);
  for (uint32_t s = 0; s < n; s++) fen[s] = b->orders[slots[s]].size;
  for (uint32_t i = 1; i <= cap; i++) { /* linear-time Fenwick build */
    uint32_t up = i + (i & (0u - i));
    if (up <= cap) fen[up - 1] += fen[i - 1];
  }
  if (fen != l->fen) block_put(b, l->cap, l->fen);
  l->fen = fen;
  l->slots = slots;
  l->cap = cap;
  l->head = 0;
  l->tail = n;
  b->stats.compactions++;
  return OBI_OK;
}

/* ---- levels ------------------------------------------------------------------------ */

/* Index of the first key >= key (the insertion point). Updates cluster at the top of the
 * book, which is the end of the array, so look there first. */
static uint32_t side_lower_bound(const book_side *s, int64_t key) {
  uint32_t hi = s->n, lo = 0;
  for (int step = 0; step < 8 && hi > 0; step++) {
    if (s->prices[hi - 1] < key) return hi;
    hi--;
  }
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (s->prices[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static uint32_t level_find(const obi_book *b, int side, int64_t price) {
  const book_side *s = &b->sides[side];
  int64_t key = side_key(side, price);
  uint32_t i = side_lower_bound(s, key);
  return (i < s->n && s->prices[i] == key) ? s->lvl[i] : BOOK_NONE;
}

/* Finds the level at price or creates an empty one; *out receives its index. */
static obi_err level_get(obi_book *b, int side, int64_t price, uint32_t *out) {
  book_side *s = &b->sides[side];
  int64_t key = side_key(side, price);
  uint32_t pos = side_lower_bound(s, key);
  if (pos < s->n && s->prices[pos] == key) {
    *out = s->lvl[pos];
    return OBI_OK;
  }
  if (s->n == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 64;
    int64_t *prices = book__alloc(b, s->prices, (size_t)cap * sizeof *prices);
    if (!prices) return OBI_ENOMEM;
    s->prices = prices;
    uint32_t *lvl = book__alloc(b, s->lvl, (size_t)cap * sizeof *lvl);
    if (!lvl) return OBI_ENOMEM;
    s->lvl = lvl;
    s->cap = cap;
  }
  if (b->nlevel_free == 0) {
    uint32_t old = b->nlevels_cap, cap = old ? old * 2 : 128;
    book_level *levels = book__alloc(b, b->levels, (size_t)cap * sizeof *levels);
    if (!levels) return OBI_ENOMEM;
    b->levels = levels;
    uint32_t *free_list = book__alloc(b, b->level_free, (size_t)cap * sizeof *free_list);
    if (!free_list) return OBI_ENOMEM;
    b->level_free = free_list;
    for (uint32_t i = cap; i > old; i--) b->level_free[b->nlevel_free++] = i - 1;
    b->nlevels_cap = cap;
  }
  uint32_t li = b->level_free[b->nlevel_free - 1];
  book_level *l = &b->levels[li];
  memset(l, 0, sizeof *l);
  l->cap = 1u << QUEUE_MIN_CLASS;
  obi_err err = block_get(b, l->cap, &l->fen, &l->slots);
  if (err) return err;
  memset(l->fen, 0, (size_t)l->cap * sizeof *l->fen);
  b->nlevel_free--;
  l->price = price;
  l->side = (uint8_t)side;
  l->anon = BOOK_NONE;
  memmove(s->prices + pos + 1, s->prices + pos, (size_t)(s->n - pos) * sizeof *s->prices);
  memmove(s->lvl + pos + 1, s->lvl + pos, (size_t)(s->n - pos) * sizeof *s->lvl);
  s->prices[pos] = key;
  s->lvl[pos] = li;
  s->n++;
  uint64_t used = b->nlevels_cap - b->nlevel_free;
  if (used > b->stats.levels_peak) b->stats.levels_peak = used;
  *out = li;
  return OBI_OK;
}

/* Drops an empty level (its orders must already be gone, or be dropped by the caller). */
static void level_drop(obi_book *b, uint32_t li) {
  book_level *l = &b->levels[li];
  book_side *s = &b->sides[l->side];
  int64_t key = side_key(l->side, l->price);
  uint32_t pos = side_lower_bound(s, key);
  memmove(s->prices + pos, s->prices + pos + 1, (size_t)(s->n - pos - 1) * sizeof *s->prices);
  memmove(s->lvl + pos, s->lvl + pos + 1, (size_t)(s->n - pos - 1) * sizeof *s->lvl);
  s->n--;
  block_put(b, l->cap, l->fen);
  l->fen = NULL;
  l->slots = NULL;
  b->level_free[b->nlevel_free++] = li;
}

/* ---- orders ------------------------------------------------------------------------ */

static obi_err order_new(obi_book *b, uint32_t *out) {
  if (b->norder_free == 0) {
    uint32_t old = b->norders_cap, cap = old ? old * 2 : 1024;
    book_order *orders = book__alloc(b, b->orders, (size_t)cap * sizeof *orders);
    if (!orders) return OBI_ENOMEM;
    b->orders = orders;
    uint32_t *free_list = book__alloc(b, b->order_free, (size_t)cap * sizeof *free_list);
    if (!free_list) return OBI_ENOMEM;
    b->order_free = free_list;
    for (uint32_t i = cap; i > old; i--) b->order_free[b->norder_free++] = i - 1;
    b->norders_cap = cap;
  }
  *out = b->order_free[--b->norder_free];
  return OBI_OK;
}

/* Room for one more order at the back of level li. */
static obi_err queue_reserve(obi_book *b, uint32_t li) {
  book_level *l = &b->levels[li];
  return l->tail == l->cap ? queue_make_room(b, l) : OBI_OK;
}

/* Appends order oi (fields already set except level/slot) to the back of level li, which
 * has room (queue_reserve). */
static void order_enqueue(obi_book *b, uint32_t oi, uint32_t li) {
  book_level *l = &b->levels[li];
  book_order *o = &b->orders[oi];
  o->level = li;
  o->slot = l->tail++;
  o->live = 1;
  l->slots[o->slot] = oi;
  fen_add(l->fen, l->cap, o->slot, o->size);
  if (!b->epoch_set) b->epoch_ns = o->ts_ns, b->epoch_set = 1;
  ts_acc_add(l, o->ts_ns - b->epoch_ns);
  l->size += o->size;
  l->orders++;
  if (o->anon) l->anon = oi;
  b->live_orders++;
  if (b->live_orders > b->stats.orders_peak) b->stats.orders_peak = b->live_orders;
}

/* Takes an order out of its queue and the id map (map_pos: its map slot, or BOOK_NONE
 * to look it up). Drops the level when it becomes empty unless keep_level. */
static void order_remove(obi_book *b, uint32_t oi, uint32_t map_pos, int keep_level) {
  book_order *o = &b->orders[oi];
  book_level *l = &b->levels[o->level];
  fen_add(l->fen, l->cap, o->slot, -o->size);
  l->slots[o->slot] = BOOK_NONE;
  while (l->head < l->tail && l->slots[l->head] == BOOK_NONE) l->head++;
  ts_acc_sub(l, o->ts_ns - b->epoch_ns);
  l->size -= o->size;
  l->orders--;
  if (o->anon) {
    l->anon = BOOK_NONE;
  } else {
    if (map_pos == BOOK_NONE) map_pos = map_find(b, o->id);
    map_erase_at(b, map_pos);
  }
  o->live = 0;
  b->order_free[b->norder_free++] = oi;
  b->live_orders--;
  if (l->orders == 0 && !keep_level) level_drop(b, o->level);
}

/* Removes size from a live order; the order leaves when nothing remains. */
static void order_reduce(obi_book *b, uint32_t oi, uint32_t map_pos, int64_t size) {
  book_order *o = &b->orders[oi];
  if (size == o->size) {
    order_remove(b, oi, map_pos, 0);
    return;
  }
  book_level *l = &b->levels[o->level];
  fen_add(l->fen, l->cap, o->slot, -size);
  o->size -= size;
  l->size -= size;
}

/* ---- public operations ----------------------------------------------------------- */

obi_err book_init(obi_book *b, uint32_t orders_hint) {
  memset(b, 0, sizeof *b);
  uint32_t cap = 1024;
  while (cap < 2 * (uint64_t)orders_hint && cap < (1u << 30)) cap *= 2;
  return map_resize(b, cap);
}

void book_free(obi_book *b) {
  if (!b) return;
  book_clear(b); /* returns the level blocks to the pools */
  for (int s = 0; s < 2; s++) {
    free(b->sides[s].prices);
    free(b->sides[s].lvl);
  }
  for (int k = 0; k < 33; k++) {
    while (b->pool[k]) {
      void *next;
      memcpy(&next, b->pool[k], sizeof next);
      free(b->pool[k]);
      b->pool[k] = next;
    }
  }
  free(b->levels);
  free(b->level_free);
  free(b->orders);
  free(b->order_free);
  free(b->map_keys);
  free(b->map_vals);
  memset(b, 0, sizeof *b);
}

void book_clear(obi_book *b) {
  for (int s = 0; s < 2; s++) book_truncate(b, s, 0);
}

/* Undoes level_get's creation of an empty level after a later step failed. */
static void level_drop_if_empty(obi_book *b, uint32_t li) {
  if (li != BOOK_NONE && b->levels[li].orders == 0) level_drop(b, li);
}

obi_err book_add(obi_book *b, uint64_t id, int side, int64_t price, int64_t size, int64_t ts_ns) {
  if ((side != OBI_BID && side != OBI_ASK) || price <= 0 || price > BOOK_MAX_QTY || size <= 0 || size > BOOK_MAX_QTY)
    return OBI_ERANGE;
  if (map_find(b, id) != BOOK_NONE) return OBI_EDUP_ORDER;
  /* every step that can fail comes before the first change to the book */
  uint32_t oi, li = BOOK_NONE;
  obi_err err = map_reserve(b);
  if (!err) err = order_new(b, &oi);
  if (err) return err;
  err = level_get(b, side, price, &li);
  if (!err && b->levels[li].size > BOOK_MAX_QTY - size) err = OBI_ERANGE;
  if (!err) err = queue_reserve(b, li);
  if (err) {
    b->order_free[b->norder_free++] = oi;
    if (li != BOOK_NONE) level_drop_if_empty(b, li);
    return err;
  }
  b->orders[oi] = (book_order){.id = id, .size = size, .ts_ns = ts_ns, .side = (uint8_t)side};
  map_insert(b, id, oi);
  order_enqueue(b, oi, li);
  return OBI_OK;
}

static obi_err reduce_by_id(obi_book *b, uint64_t id, int64_t size) {
  if (size <= 0) return OBI_ERANGE;
  uint32_t pos = map_find(b, id);
  if (pos == BOOK_NONE) return OBI_EUNKNOWN_ORDER;
  uint32_t oi = b->map_vals[pos];
  if (size > b->orders[oi].size) return OBI_EOVERFILL;
  order_reduce(b, oi, pos, size);
  return OBI_OK;
}

obi_err book_cancel(obi_book *b, uint64_t id, int64_t size) { return reduce_by_id(b, id, size); }

obi_err book_execute(obi_book *b, uint64_t id, int64_t size) { return reduce_by_id(b, id, size); }

obi_err book_delete(obi_book *b, uint64_t id) {
  uint32_t pos = map_find(b, id);
  if (pos == BOOK_NONE) return OBI_EUNKNOWN_ORDER;
  order_remove(b, b->map_vals[pos], pos, 0);
  return OBI_OK;
}

/* Changes the anonymous order of level li by delta (> 0 creates it at the back). */
static obi_err anon_adjust(obi_book *b, uint32_t li, int64_t delta, int64_t ts_ns) {
  book_level *l = &b->levels[li];
  if (delta > 0 && l->size > BOOK_MAX_QTY - delta) return OBI_ERANGE;
  if (l->anon == BOOK_NONE) {
    if (delta <= 0) return delta == 0 ? OBI_OK : OBI_EUNKNOWN_ORDER;
    uint32_t oi;
    obi_err err = order_new(b, &oi);
    if (err) return err;
    if ((err = queue_reserve(b, li))) {
      b->order_free[b->norder_free++] = oi;
      return err;
    }
    b->orders[oi] = (book_order){.size = delta, .ts_ns = ts_ns, .side = b->levels[li].side, .anon = 1};
    order_enqueue(b, oi, li);
    return OBI_OK;
  }
  uint32_t oi = l->anon;
  book_order *o = &b->orders[oi];
  if (delta < 0) {
    if (-delta > o->size) return OBI_EOVERFILL;
    order_reduce(b, oi, BOOK_NONE, -delta);
    return OBI_OK;
  }
  fen_add(l->fen, l->cap, o->slot, delta);
  o->size += delta;
  l->size += delta;
  return OBI_OK;
}

obi_err book_add_anon(obi_book *b, int side, int64_t price, int64_t size, int64_t ts_ns) {
  if ((side != OBI_BID && side != OBI_ASK) || price <= 0 || price > BOOK_MAX_QTY || size <= 0 || size > BOOK_MAX_QTY)
    return OBI_ERANGE;
  uint32_t li;
  obi_err err = level_get(b, side, price, &li);
  if (err) return err;
  err = anon_adjust(b, li, size, ts_ns);
  if (err) level_drop_if_empty(b, li);
  return err;
}

obi_err book_reduce_anon(obi_book *b, int side, int64_t price, int64_t size) {
  if ((side != OBI_BID && side != OBI_ASK) || size <= 0) return OBI_ERANGE;
  uint32_t li = level_find(b, side, price);
  if (li == BOOK_NONE || b->levels[li].anon == BOOK_NONE) return OBI_EUNKNOWN_ORDER;
  return anon_adjust(b, li, -size, 0);
}

/* Removes a level with all its orders. */
static void level_remove_all(obi_book *b, uint32_t li) {
  book_level *l = &b->levels[li];
  for (uint32_t s = l->head; s < l->tail; s++) {
    uint32_t oi = l->slots[s];
    if (oi != BOOK_NONE) order_remove(b, oi, BOOK_NONE, 1);
  }
  level_drop(b, li);
}

obi_err book_set_level(obi_book *b, int side, int64_t price, int64_t size, int64_t ts_ns) {
  if ((side != OBI_BID && side != OBI_ASK) || price <= 0 || price > BOOK_MAX_QTY || size < 0 || size > BOOK_MAX_QTY)
    return OBI_ERANGE;
  uint32_t li = level_find(b, side, price);
  if (size == 0) {
    if (li != BOOK_NONE) level_remove_all(b, li);
    return OBI_OK;
  }
  if (li == BOOK_NONE) {
    obi_err err = level_get(b, side, price, &li);
    if (err) return err;
  }
  const book_level *l = &b->levels[li];
  int64_t anon = l->anon == BOOK_NONE ? 0 : b->orders[l->anon].size;
  int64_t identified = l->size - anon;
  if (size < identified) return OBI_EOVERFILL;
  obi_err err = anon_adjust(b, li, size - identified - anon, ts_ns);
  if (err) level_drop_if_empty(b, li);
  return err;
}

obi_err book_apply(obi_book *b, const obi_event *ev) {
  switch (ev->type) {
  case OBI_EV_ADD: return book_add(b, ev->order_id, ev->side, ev->price, ev->size, ev->ts_ns);
  case OBI_EV_CANCEL: return book_cancel(b, ev->order_id, ev->size);
  case OBI_EV_EXEC: return book_execute(b, ev->order_id, ev->size);
  case OBI_EV_DELETE: return book_delete(b, ev->order_id);
  case OBI_EV_LEVEL_SET: return book_set_level(b, ev->side, ev->price, ev->size, ev->ts_ns);
  case OBI_EV_SNAPSHOT_BEGIN: book_clear(b); return OBI_OK;
  case OBI_EV_EXEC_HIDDEN:
  case OBI_EV_TRADE:
  case OBI_EV_HALT:
  case OBI_EV_SNAPSHOT_END: return OBI_OK;
  default: return OBI_EINVAL;
  }
}

uint32_t book_truncate(obi_book *b, int side, uint32_t keep) {
  uint32_t removed = 0;
  while (b->sides[side].n > keep) {
    level_remove_all(b, b->sides[side].lvl[0]); /* the worst level is first */
    removed++;
  }
  return removed;
}

int book_best(const obi_book *b, int side, int64_t *price, int64_t *size) {
  const book_level *l = book_level_at(b, side, 0);
  if (!l) return 0;
  if (price) *price = l->price;
  if (size) *size = l->size;
  return 1;
}

uint32_t book_top(const obi_book *b, int side, int64_t *prices, int64_t *sizes, uint32_t n) {
  const book_side *s = &b->sides[side];
  uint32_t k = 0;
  for (; k < n && k < s->n; k++) {
    const book_level *l = &b->levels[s->lvl[s->n - 1 - k]];
    if (prices) prices[k] = l->price;
    if (sizes) sizes[k] = l->size;
  }
  return k;
}

const book_level *book_find_level(const obi_book *b, int side, int64_t price) {
  if (side != OBI_BID && side != OBI_ASK) return NULL;
  uint32_t li = level_find(b, side, price);
  return li == BOOK_NONE ? NULL : &b->levels[li];
}

const book_order *book_find_order(const obi_book *b, uint64_t id) {
  uint32_t pos = map_find(b, id);
  return pos == BOOK_NONE ? NULL : &b->orders[b->map_vals[pos]];
}

obi_err book_queue_position(const obi_book *b, uint64_t id, int64_t *size_ahead, uint32_t *orders_ahead) {
  const book_order *o = book_find_order(b, id);
  if (!o) return OBI_EUNKNOWN_ORDER;
  const book_level *l = &b->levels[o->level];
  if (size_ahead) *size_ahead = fen_prefix(l->fen, o->slot);
  if (orders_ahead) {
    uint32_t n = 0;
    for (uint32_t s = l->head; s < o->slot; s++) n += l->slots[s] != BOOK_NONE;
    *orders_ahead = n;
  }
  return OBI_OK;
}

const book_order *book_level_next_order(const obi_book *b, const book_level *l, uint32_t *cursor) {
  uint32_t s = *cursor < l->head ? l->head : *cursor;
  while (s < l->tail && l->slots[s] == BOOK_NONE) s++;
  if (s >= l->tail) {
    *cursor = s;
    return NULL;
  }
  *cursor = s + 1;
  return &b->orders[l->slots[s]];
}

int book_crossed(const obi_book *b) {
  int64_t bid, ask;
  return book_best(b, OBI_BID, &bid, NULL) && book_best(b, OBI_ASK, &ask, NULL) && bid >= ask;
}

#define CHECK(cond, ...)                                                                                               \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      if (why) snprintf(why, why_len, __VA_ARGS__);                                                                    \
      return OBI_EINVARIANT;                                                                                           \
    }                                                                                                                  \
  } while (0)

/* Every Fenwick node i covers the slots (i - lowbit(i), i]: compare it with prefix sums. */
static int fenwick_ok(const obi_book *b, const book_level *l) {
  int64_t *pre = malloc(((size_t)l->cap + 1) * sizeof *pre);
  if (!pre) return 0;
  pre[0] = 0;
  for (uint32_t s = 0; s < l->cap; s++) {
    uint32_t oi = s < l->tail ? l->slots[s] : BOOK_NONE;
    pre[s + 1] = pre[s] + (oi == BOOK_NONE ? 0 : b->orders[oi].size);
  }
  int ok = 1;
  for (uint32_t i = 1; i <= l->cap && ok; i++) ok = l->fen[i - 1] == pre[i] - pre[i - (i & (0u - i))];
  free(pre);
  return ok;
}

obi_err book_check(const obi_book *b, char *why, size_t why_len) {
  uint64_t live = 0, identified = 0;
  for (int side = 0; side < 2; side++) {
    const book_side *s = &b->sides[side];
    for (uint32_t i = 0; i < s->n; i++) {
      uint32_t li = s->lvl[i];
      CHECK(li < b->nlevels_cap, "side %d entry %u: level index %u out of range", side, i, li);
      const book_level *l = &b->levels[li];
      CHECK(i == 0 || s->prices[i - 1] < s->prices[i], "side %d: prices not strictly ordered at entry %u", side, i);
      CHECK(l->side == side && side_key(side, l->price) == s->prices[i],
            "side %d entry %u: level price %lld does not match its key", side, i, (long long)l->price);
      CHECK(l->orders > 0 && l->size > 0, "level %lld (side %d) is empty but listed", (long long)l->price, side);
      CHECK(l->head <= l->tail && l->tail <= l->cap, "level %lld: queue bounds head %u tail %u cap %u",
            (long long)l->price, l->head, l->tail, l->cap);
      int64_t sum = 0;
      book_level acc = {0};
      uint32_t count = 0, anon_seen = 0;
      CHECK(fenwick_ok(b, l), "level %lld: queue index disagrees with the order sizes", (long long)l->price);
      for (uint32_t slot = 0; slot < l->tail; slot++) {
        uint32_t oi = l->slots[slot];
        if (oi == BOOK_NONE) continue;
        CHECK(slot >= l->head, "level %lld: live order before the queue head", (long long)l->price);
        CHECK(oi < b->norders_cap, "level %lld: order index out of range", (long long)l->price);
        const book_order *o = &b->orders[oi];
        CHECK(o->live && o->level == li && o->slot == slot && o->side == side,
              "level %lld: order %llu does not point back at slot %u", (long long)l->price, (unsigned long long)o->id,
              slot);
        CHECK(o->size > 0, "order %llu has size %lld", (unsigned long long)o->id, (long long)o->size);
        if (o->anon) {
          anon_seen++;
          CHECK(l->anon == oi, "level %lld: anonymous order not registered", (long long)l->price);
        } else {
          uint32_t pos = map_find(b, o->id);
          CHECK(pos != BOOK_NONE && b->map_vals[pos] == oi, "order %llu is not in the id map",
                (unsigned long long)o->id);
          identified++;
        }
        sum += o->size;
        ts_acc_add(&acc, o->ts_ns - b->epoch_ns);
        count++;
      }
      CHECK(sum == l->size, "level %lld: size %lld but its orders sum to %lld", (long long)l->price, (long long)l->size,
            (long long)sum);
      CHECK(acc.ts_sum_hi == l->ts_sum_hi && acc.ts_sum_lo == l->ts_sum_lo,
            "level %lld: the sum of the order times disagrees with the orders", (long long)l->price);
      CHECK(l->head >= l->tail || l->slots[l->head] != BOOK_NONE, "level %lld: the queue head is an empty slot",
            (long long)l->price);
      CHECK(count == l->orders, "level %lld: %u orders counted, %u recorded", (long long)l->price, count, l->orders);
      CHECK(anon_seen <= 1 && (anon_seen == 1) == (l->anon != BOOK_NONE),
            "level %lld: anonymous order bookkeeping is wrong", (long long)l->price);
      live += count;
    }
  }
  CHECK(live == b->live_orders, "%llu orders in levels, %llu recorded live", (unsigned long long)live,
        (unsigned long long)b->live_orders);
  CHECK(identified == b->map_count, "%llu identified orders in levels, %u in the id map",
        (unsigned long long)identified, b->map_count);
  CHECK(!book_crossed(b), "crossed book: best bid >= best ask");
  return OBI_OK;
}
