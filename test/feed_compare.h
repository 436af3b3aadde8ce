/* feed_compare.h — white-box comparison of two feeds that were given the same calls, one
 * with the fast depthUpdate scanner and one with no_fast_path (jansson, the reference):
 * used by test_feed.c on recordings and edge cases, and by the fuzzer on any input.
 * Same means: the same items parsed from the last message (fields, exact decimals, scaled
 * integers), the same counters (but fast_parsed), the same last error, the same books and
 * the same events (hashed by the callback feed_compare_on_event, ctx = a uint64_t). */
#ifndef OBI_TEST_FEED_COMPARE_H
#define OBI_TEST_FEED_COMPARE_H

#include <string.h>

#include "../src/feed/feed_internal.h"

static void feed_compare_on_event(void *ctx, int sym, const obi_event *ev, const obi_book *b) {
  (void)b;
  uint64_t *h = ctx;
  int64_t v[6] = {sym, ev->ts_ns, ev->type, ev->side, ev->price, ev->size};
  for (int i = 0; i < 6; i++) *h = (*h ^ (uint64_t)v[i]) * 1099511628211ULL;
}

/* NULL when a and b agree, else what differs. */
static const char *feed_compare(const feed *a, const feed *b) {
  if (a->nitems != b->nitems || a->nraw != b->nraw) return "item or level counts";
  for (uint32_t k = 0; k < a->nitems; k++) {
    const feed_item *x = &a->items[k], *y = &b->items[k];
    if (x->kind != y->kind || x->sym != y->sym || x->U != y->U || x->u != y->u || x->pu != y->pu ||
        x->first != y->first || x->n != y->n || x->pdec != y->pdec || x->sdec != y->sdec)
      return "item fields";
    for (uint32_t i = x->first; i < x->first + x->n; i++) {
      const feed_raw_level *r = &a->raw[i], *q = &b->raw[i];
      if (r->price.mant != q->price.mant || r->price.dec != q->price.dec || r->size.mant != q->size.mant ||
          r->size.dec != q->size.dec || r->side != q->side)
        return "parsed levels";
      if (x->pdec >= 0 &&
          (a->lev[i].price != b->lev[i].price || a->lev[i].size != b->lev[i].size || a->lev[i].side != b->lev[i].side))
        return "scaled levels";
    }
  }
  feed_conn_stats sa = a->stats, sb = b->stats;
  sa.fast_parsed = sb.fast_parsed = 0;
  if (memcmp(&sa, &sb, sizeof sa)) return "connection counters";
  if (strcmp(a->err, b->err)) return "last error";
  if (a->nsyms != b->nsyms) return "symbols";
  for (int s = 0; s < a->nsyms; s++) {
    const feed_sym *x = a->syms[s], *y = b->syms[s];
    if (strcmp(x->name, y->name) || x->pdec != y->pdec || x->sdec != y->sdec || x->scan_pdec != y->scan_pdec ||
        x->scan_sdec != y->scan_sdec || x->state != y->state || x->last_id != y->last_id || x->nbuf != y->nbuf ||
        x->nbuf_levels != y->nbuf_levels || memcmp(&x->stats, &y->stats, sizeof x->stats))
      return "symbol state or counters";
    if (feed_book_digest(a, s) != feed_book_digest(b, s) || book_depth(&x->book, 0) != book_depth(&y->book, 0) ||
        book_depth(&x->book, 1) != book_depth(&y->book, 1))
      return "books";
  }
  if (a->cfg.on_event == feed_compare_on_event && b->cfg.on_event == feed_compare_on_event &&
      *(uint64_t *)a->cfg.ctx != *(uint64_t *)b->cfg.ctx)
    return "events";
  return NULL;
}

#endif
