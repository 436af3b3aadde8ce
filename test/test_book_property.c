/* test_book_property.c — one million random operations applied to the book and to a
 * deliberately simple reference (an unsorted array of orders with arrival numbers);
 * after every operation the whole L2 view, the result codes, the touched order's queue
 * position and book_check() must agree. */
#include <stdlib.h>

#include "obi/book.h"
#include "test.h"

#define REF_MAX 4096

typedef struct {
  uint64_t id; /* 0: anonymous */
  int side;
  int64_t price, size;
  uint64_t seq; /* arrival: smaller is earlier in the queue */
} ref_order;

typedef struct {
  ref_order o[REF_MAX];
  int n;
  uint64_t next_seq;
} ref_book;

static uint64_t rng_state = 0x243F6A8885A308D3ULL;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ULL;
}
static int64_t rnd_range(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

static int ref_find(const ref_book *r, uint64_t id) {
  for (int i = 0; i < r->n; i++)
    if (r->o[i].id == id && id != 0) return i;
  return -1;
}
static int ref_find_anon(const ref_book *r, int side, int64_t price) {
  for (int i = 0; i < r->n; i++)
    if (r->o[i].id == 0 && r->o[i].side == side && r->o[i].price == price) return i;
  return -1;
}
static void ref_remove(ref_book *r, int i) { r->o[i] = r->o[--r->n]; }

static int64_t ref_ahead(const ref_book *r, int i) {
  int64_t s = 0;
  for (int j = 0; j < r->n; j++)
    if (r->o[j].side == r->o[i].side && r->o[j].price == r->o[i].price && r->o[j].seq < r->o[i].seq) s += r->o[j].size;
  return s;
}

/* L2 of the reference, best first: levels with their sizes, computed from scratch. */
static int ref_levels(const ref_book *r, int side, int64_t *prices, int64_t *sizes) {
  int n = 0;
  for (int i = 0; i < r->n; i++) {
    int k = 0;
    while (k < n && prices[k] != r->o[i].price) k++;
    if (k == n) prices[n] = r->o[i].price, sizes[n++] = 0;
    sizes[k] += r->o[i].size;
  }
  for (int a = 1; a < n; a++) /* insertion sort, best first */
    for (int c = a; c > 0 && (side == OBI_BID ? prices[c] > prices[c - 1] : prices[c] < prices[c - 1]); c--) {
      int64_t tp = prices[c], ts = sizes[c];
      prices[c] = prices[c - 1], sizes[c] = sizes[c - 1];
      prices[c - 1] = tp, sizes[c - 1] = ts;
    }
  return n;
}

static ref_book ref_bid, ref_ask; /* one reference per side keeps ref_levels simple */
static ref_book *ref_side(int side) { return side == OBI_BID ? &ref_bid : &ref_ask; }

/* The price ranges do not overlap, so the book never crosses and book_check applies. */
static int64_t random_price(int side) { return side == OBI_BID ? rnd_range(980, 1000) : rnd_range(1001, 1021); }

/* A live identified order chosen at random (returns its side and index), or -1. */
static int random_live(int *side) {
  int total = ref_bid.n + ref_ask.n;
  if (total == 0) return -1;
  int k = (int)(rnd() % (uint64_t)total);
  *side = k < ref_bid.n ? OBI_BID : OBI_ASK;
  int i = k < ref_bid.n ? k : k - ref_bid.n;
  return ref_side(*side)->o[i].id ? i : -1;
}

void book_property_random_ops_match_reference(void) {
  obi_book b;
  CHECK_EQ(book_init(&b, 0), OBI_OK);
  memset(&ref_bid, 0, sizeof ref_bid);
  memset(&ref_ask, 0, sizeof ref_ask);
  uint64_t next_id = 1;
  int64_t bp[64], bs[64], rp[64], rs[64];
  char why[256];
  for (long step = 0; step < 1000000; step++) {
    int op = (int)(rnd() % 100), side = (int)(rnd() & 1), i;
    ref_book *r;
    int touched_side = -1;
    uint64_t touched_id = 0;
    if (op < 38) { /* add, keeping about 150 live orders */
      if (ref_bid.n + ref_ask.n > 300) continue;
      r = ref_side(side);
      int64_t price = random_price(side), size = rnd_range(1, 100);
      uint64_t id = next_id++;
      CHECK_EQ(book_add(&b, id, side, price, size, step), OBI_OK);
      r->o[r->n++] = (ref_order){id, side, price, size, r->next_seq++};
      touched_side = side, touched_id = id;
    } else if (op < 48) { /* partial cancel */
      if ((i = random_live(&side)) < 0) continue;
      r = ref_side(side);
      ref_order *o = &r->o[i];
      int64_t size = rnd_range(1, o->size);
      CHECK_EQ(book_cancel(&b, o->id, size), OBI_OK);
      touched_side = side, touched_id = o->id;
      if ((o->size -= size) == 0) ref_remove(r, i), touched_id = 0;
    } else if (op < 60) { /* execution */
      if ((i = random_live(&side)) < 0) continue;
      r = ref_side(side);
      ref_order *o = &r->o[i];
      int64_t size = rnd_range(1, o->size + 2);
      if (size > o->size) {
        CHECK_EQ(book_execute(&b, o->id, size), OBI_EOVERFILL);
        continue;
      }
      CHECK_EQ(book_execute(&b, o->id, size), OBI_OK);
      touched_side = side, touched_id = o->id;
      if ((o->size -= size) == 0) ref_remove(r, i), touched_id = 0;
    } else if (op < 82) { /* delete */
      if ((i = random_live(&side)) < 0) continue;
      r = ref_side(side);
      CHECK_EQ(book_delete(&b, r->o[i].id), OBI_OK);
      ref_remove(r, i);
    } else if (op < 86) { /* unknown ids are refused */
      uint64_t id = next_id + 1000;
      CHECK_EQ(book_delete(&b, id), OBI_EUNKNOWN_ORDER);
      CHECK_EQ(book_cancel(&b, id, 1), OBI_EUNKNOWN_ORDER);
    } else if (op < 91) { /* anonymous liquidity joins a level */
      r = ref_side(side);
      int64_t price = random_price(side), size = rnd_range(1, 50);
      CHECK_EQ(book_add_anon(&b, side, price, size, step), OBI_OK);
      int a = ref_find_anon(r, side, price);
      if (a >= 0)
        r->o[a].size += size;
      else
        r->o[r->n++] = (ref_order){0, side, price, size, r->next_seq++};
    } else if (op < 95) { /* anonymous liquidity leaves */
      r = ref_side(side);
      int64_t price = random_price(side), size = rnd_range(1, 30);
      int a = ref_find_anon(r, side, price);
      obi_err want = a < 0 ? OBI_EUNKNOWN_ORDER : size > r->o[a].size ? OBI_EOVERFILL : OBI_OK;
      CHECK_EQ(book_reduce_anon(&b, side, price, size), want);
      if (want == OBI_OK && (r->o[a].size -= size) == 0) ref_remove(r, a);
    } else if (op < 99) { /* L2 set level */
      r = ref_side(side);
      int64_t price = random_price(side), size = rnd_range(0, 120), identified = 0;
      for (int j = 0; j < r->n; j++)
        if (r->o[j].price == price && r->o[j].id) identified += r->o[j].size;
      obi_err want = size == 0 ? OBI_OK : size < identified ? OBI_EOVERFILL : OBI_OK;
      CHECK_EQ(book_set_level(&b, side, price, size, step), want);
      if (want == OBI_OK) {
        if (size == 0) {
          for (int j = r->n - 1; j >= 0; j--)
            if (r->o[j].price == price) ref_remove(r, j);
        } else {
          int a = ref_find_anon(r, side, price);
          int64_t anon = size - identified;
          if (a >= 0 && anon == 0)
            ref_remove(r, a);
          else if (a >= 0)
            r->o[a].size = anon;
          else if (anon > 0)
            r->o[r->n++] = (ref_order){0, side, price, anon, r->next_seq++};
        }
      }
    } else { /* keep only the best few levels */
      r = ref_side(side);
      int keep = (int)rnd_range(0, 15), n = ref_levels(r, side, rp, rs);
      CHECK_EQ(book_truncate(&b, side, (uint32_t)keep), n > keep ? n - keep : 0);
      for (int k = keep; k < n; k++)
        for (int j = r->n - 1; j >= 0; j--)
          if (r->o[j].price == rp[k]) ref_remove(r, j);
    }
    /* the whole L2 view agrees */
    for (int s = 0; s < 2; s++) {
      int n = ref_levels(ref_side(s), s, rp, rs);
      if ((int)book_top(&b, s, bp, bs, 64) != n) {
        test_fail(__FILE__, __LINE__, "step %ld: side %d has %u levels, reference %d", step, s, book_depth(&b, s), n);
        goto done;
      }
      for (int k = 0; k < n; k++)
        if (bp[k] != rp[k] || bs[k] != rs[k]) {
          test_fail(__FILE__, __LINE__, "step %ld: side %d level %d: book %lld@%lld, reference %lld@%lld", step, s, k,
                    (long long)bs[k], (long long)bp[k], (long long)rs[k], (long long)rp[k]);
          goto done;
        }
    }
    /* the queue position of the order just touched, and of one more at random */
    for (int t = 0; t < 2; t++) {
      int s = touched_side, j = -1;
      if (t == 0 && touched_id) j = ref_find(ref_side(s), touched_id);
      if (t == 1) j = random_live(&s);
      if (j < 0) continue;
      const ref_order *o = &ref_side(s)->o[j];
      int64_t ahead = -1;
      if (book_queue_position(&b, o->id, &ahead, NULL) != OBI_OK || ahead != ref_ahead(ref_side(s), j)) {
        test_fail(__FILE__, __LINE__, "step %ld: order %llu has %lld ahead, reference %lld", step,
                  (unsigned long long)o->id, (long long)ahead, (long long)ref_ahead(ref_side(s), j));
        goto done;
      }
    }
    if (book_check(&b, why, sizeof why) != OBI_OK) {
      test_fail(__FILE__, __LINE__, "step %ld: book_check: %s", step, why);
      goto done;
    }
  }
done:
  book_free(&b);
}
