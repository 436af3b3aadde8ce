/* test_sim.c — the simulated exchange on hand-built books: every fill rule of sim.h with the
 * expected fills worked out in the comments, latency ordering, cancels racing fills, fees
 * with a maker rebate, the depletion of liquidity the strategy already took, and the
 * probabilistic queue models' frequencies. */
#include <math.h>
#include <stdlib.h>

#include "obi/sim.h"
#include "test.h"

/* One market event: applied to the book, then shown to the simulator. */
static int market(obi_book *b, sim_exchange *s, int64_t ts, int type, int side, int64_t price, int64_t size,
                  uint64_t id) {
  obi_event ev = {
      .ts_ns = ts, .type = (uint8_t)type, .side = (uint8_t)side, .price = price, .size = size, .order_id = id};
  int err = book_apply(b, &ev);
  sim_on_event(s, &ev, b);
  return err;
}

/* Runs everything due at or before t; collects notices (up to cap). */
static int drain(sim_exchange *s, int64_t t, const obi_book *b, sim_notice *got, int cap) {
  int n = 0;
  sim_notice no;
  uint64_t tok;
  int64_t tok_ns;
  int k;
  while ((k = sim_next_action(s, t, b, &no, &tok, &tok_ns)))
    if (k == 1 && n < cap) got[n++] = no;
  return n;
}

static sim_exchange *make(double maker_bps, double taker_bps, const char *queue) {
  sim_config c;
  sim_config_default(&c);
  c.maker_fee_bps = maker_bps, c.taker_fee_bps = taker_bps;
  if (queue && sim_queue_parse(&c, queue)) return NULL;
  sim_exchange *s;
  return sim_new(&s, &c) ? NULL : s;
}

void sim_market_order_walks_levels_and_depletes(void) {
  obi_book b;
  CHECK_EQ(book_init(&b, 0), OBI_OK);
  sim_exchange *s = make(0, 5, NULL);
  CHECK(s);
  /* asks 10100 x 5, 10200 x 4, 10300 x 10; bid 10000 x 7 */
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_ASK, 10100, 5, 1), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_ASK, 10200, 4, 2), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_ASK, 10300, 10, 3), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 10000, 7, 4), OBI_OK);
  uint64_t id = sim_send(s, 10, OBI_BID, SIM_MARKET, 0, 12);
  sim_notice n[8];
  CHECK_EQ(drain(s, 10, &b, n, 8), 4);
  /* 5 @ 10100, 4 @ 10200, 3 @ 10300, then done */
  CHECK(n[0].kind == SIM_N_FILL && n[0].price == 10100 && n[0].qty == 5 && n[0].order_id == id && !n[0].maker);
  CHECK(n[1].kind == SIM_N_FILL && n[1].price == 10200 && n[1].qty == 4);
  CHECK(n[2].kind == SIM_N_FILL && n[2].price == 10300 && n[2].qty == 3);
  CHECK(n[3].kind == SIM_N_DONE);
  /* taker 5 bps of the notional: 5 x 1.01 = 5.05 -> 0.002525 */
  CHECK(fabs(n[0].fee - 5.05 * 5e-4) < 1e-12);
  CHECK_EQ(sim_position(s), 12);
  /* the recorded book still shows all of it; a second buy of 10 may take only the 7 left at
   * 10300 (5 and 4 were consumed): 3 stay unfilled and the order is cancelled as an IOC */
  sim_send(s, 20, OBI_BID, SIM_MARKET, 0, 10);
  CHECK_EQ(drain(s, 20, &b, n, 8), 2);
  CHECK(n[0].kind == SIM_N_FILL && n[0].price == 10300 && n[0].qty == 7);
  CHECK(n[1].kind == SIM_N_CANCELLED && n[1].qty == 3);
  CHECK_EQ(sim_get_stats(s)->unfilled_ioc, 3);
  CHECK_EQ(sim_get_stats(s)->depleted_skipped, 5 + 4 + 3);
  /* the 10100 level empties (its order is deleted): its depletion is forgotten; a new order
   * there is fully available */
  CHECK_EQ(market(&b, s, 30, OBI_EV_DELETE, OBI_ASK, 10100, 5, 1), OBI_OK);
  CHECK_EQ(market(&b, s, 31, OBI_EV_ADD, OBI_ASK, 10100, 6, 5), OBI_OK);
  sim_send(s, 40, OBI_BID, SIM_MARKET, 0, 6);
  CHECK_EQ(drain(s, 40, &b, n, 8), 2);
  CHECK(n[0].kind == SIM_N_FILL && n[0].price == 10100 && n[0].qty == 6);
  /* a sell market order takes from the bids: 7 @ 10000 */
  sim_send(s, 50, OBI_ASK, SIM_MARKET, 0, 7);
  CHECK_EQ(drain(s, 50, &b, n, 8), 2);
  CHECK(n[0].price == 10000 && n[0].qty == 7 && n[0].side == OBI_ASK);
  CHECK_EQ(sim_position(s), 12 + 7 + 6 - 7);
  size_t nf;
  const sim_fill *f = sim_fills(s, &nf);
  CHECK_EQ(nf, 6);
  CHECK(f[0].mid_x2 == 10000 + 10100 && f[5].side == OBI_ASK);
  sim_free(s);
  book_free(&b);
}

void sim_limit_queue_advance_partial_fills_and_rebate(void) {
  obi_book b;
  CHECK_EQ(book_init(&b, 0), OBI_OK);
  sim_exchange *s = make(-2, 5, "trades"); /* maker rebate 2 bps */
  CHECK(s);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_ASK, 10100, 50, 1), OBI_OK);
  /* bids at 9900: 10, 20, 5 = 35 */
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 9900, 10, 2), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 9900, 20, 3), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 9900, 5, 4), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 9800, 30, 5), OBI_OK);
  uint64_t id = sim_send(s, 10, OBI_BID, SIM_LIMIT, 9900, 8);
  sim_notice n[8];
  CHECK_EQ(drain(s, 10, &b, n, 8), 1);
  CHECK(n[0].kind == SIM_N_ACCEPTED);
  CHECK_EQ(sim_queue_ahead(s, id), 35); /* joins the back */
  CHECK_EQ(market(&b, s, 11, OBI_EV_EXEC, OBI_BID, 9900, 10, 2), OBI_OK);
  CHECK_EQ(sim_queue_ahead(s, id), 25);
  /* a cancel of 20: the trades model never counts it as ahead, but the volume ahead cannot
   * exceed the 5 still visible */
  CHECK_EQ(market(&b, s, 12, OBI_EV_DELETE, OBI_BID, 9900, 20, 3), OBI_OK);
  CHECK_EQ(sim_queue_ahead(s, id), 5);
  CHECK_EQ(market(&b, s, 13, OBI_EV_EXEC, OBI_BID, 9900, 5, 4), OBI_OK);
  CHECK_EQ(sim_queue_ahead(s, id), 0);
  CHECK_EQ(drain(s, 13, &b, n, 8), 0); /* nothing filled yet */
  /* an order joins behind us and is executed for 7: we are first, 7 of our 8 fill */
  CHECK_EQ(market(&b, s, 14, OBI_EV_ADD, OBI_BID, 9900, 9, 6), OBI_OK);
  CHECK_EQ(market(&b, s, 15, OBI_EV_EXEC, OBI_BID, 9900, 7, 6), OBI_OK);
  CHECK_EQ(drain(s, 15, &b, n, 8), 1);
  CHECK(n[0].kind == SIM_N_FILL && n[0].qty == 7 && n[0].price == 9900 && n[0].maker);
  /* rebate: 7 x 0.99 = 6.93 x -2 bps = -0.001386 */
  CHECK(fabs(n[0].fee - (-6.93 * 2e-4)) < 1e-12);
  /* an execution below our price (9800) means 9900 was swept: our last 1 fills */
  CHECK_EQ(market(&b, s, 16, OBI_EV_DELETE, OBI_BID, 9900, 2, 6), OBI_OK);
  CHECK_EQ(market(&b, s, 16, OBI_EV_EXEC, OBI_BID, 9800, 4, 5), OBI_OK);
  CHECK_EQ(drain(s, 16, &b, n, 8), 2);
  CHECK(n[0].kind == SIM_N_FILL && n[0].qty == 1 && n[0].price == 9900);
  CHECK(n[1].kind == SIM_N_DONE && n[1].order_id == id);
  CHECK_EQ(sim_open_orders(s), 0);
  CHECK_EQ(sim_position(s), 8);
  sim_free(s);
  book_free(&b);
}

void sim_crossing_add_fills_resting_order_once(void) {
  obi_book b;
  CHECK_EQ(book_init(&b, 0), OBI_OK);
  sim_exchange *s = make(0, 0, NULL);
  CHECK(s);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_ASK, 10100, 5, 1), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 9900, 5, 2), OBI_OK);
  /* a buy at 10000, inside the spread: nobody ahead */
  uint64_t id = sim_send(s, 5, OBI_BID, SIM_LIMIT, 10000, 4);
  sim_notice n[8];
  drain(s, 5, &b, n, 8);
  CHECK_EQ(sim_queue_ahead(s, id), 0);
  /* a sell order of 3 is added at 10000: in the real book it would have matched ours */
  CHECK_EQ(market(&b, s, 6, OBI_EV_ADD, OBI_ASK, 10000, 3, 3), OBI_OK);
  CHECK_EQ(drain(s, 6, &b, n, 8), 1);
  CHECK(n[0].kind == SIM_N_FILL && n[0].qty == 3 && n[0].price == 10000 && n[0].maker);
  /* the recorded book shows that ask; our own market buy must not take it again: it goes to
   * 10100 */
  sim_send(s, 7, OBI_BID, SIM_MARKET, 0, 2);
  CHECK_EQ(drain(s, 7, &b, n, 8), 2);
  CHECK(n[0].kind == SIM_N_FILL && n[0].price == 10100 && n[0].qty == 2);
  sim_free(s);
  book_free(&b);
}

void sim_latency_orders_cancels_and_notices(void) {
  obi_book b;
  CHECK_EQ(book_init(&b, 0), OBI_OK);
  sim_config c;
  sim_config_default(&c);
  char why[256];
  CHECK_EQ(sim_latency_parse(&c.entry, "100ns", why, sizeof why), OBI_OK);
  CHECK_EQ(sim_latency_parse(&c.response, "50", why, sizeof why), OBI_OK);
  sim_exchange *s;
  CHECK_EQ(sim_new(&s, &c), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_ASK, 10100, 5, 1), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 9900, 5, 2), OBI_OK);
  /* sent at 1000, reaches the exchange at 1100: the ask moved at 1050 and is what it meets */
  sim_send(s, 1000, OBI_BID, SIM_MARKET, 0, 2);
  sim_notice n[8];
  CHECK_EQ(drain(s, 1049, &b, n, 8), 0);
  CHECK_EQ(market(&b, s, 1050, OBI_EV_DELETE, OBI_ASK, 10100, 5, 1), OBI_OK);
  CHECK_EQ(market(&b, s, 1050, OBI_EV_ADD, OBI_ASK, 10200, 5, 3), OBI_OK);
  CHECK_EQ(drain(s, 1149, &b, n, 8), 0); /* filled at 1100, known at 1150 */
  CHECK_EQ(sim_position(s), 2);
  CHECK_EQ(drain(s, 1150, &b, n, 8), 2);
  CHECK(n[0].kind == SIM_N_FILL && n[0].price == 10200 && n[0].exch_ns == 1100 && n[0].notify_ns == 1150);
  /* a resting sell at 10200 behind 3; a cancel is sent at 2000 (arrives 2100), but an
   * execution of 5 at 2050 fills 2 of ours first: fill, then the cancel removes the rest */
  uint64_t id = sim_send(s, 1200, OBI_ASK, SIM_LIMIT, 10200, 4);
  CHECK_EQ(drain(s, 1349, &b, n, 8), 0);
  CHECK_EQ(sim_queue_ahead(s, id), 3); /* at the exchange since 1300: 5 shown, 2 of them ours already */
  CHECK_EQ(drain(s, 1350, &b, n, 8), 1);
  CHECK(n[0].kind == SIM_N_ACCEPTED && n[0].exch_ns == 1300);
  CHECK_EQ(sim_cancel(s, 2000, id), OBI_OK);
  CHECK_EQ(market(&b, s, 2050, OBI_EV_EXEC, OBI_ASK, 10200, 3, 3), OBI_OK);
  CHECK_EQ(market(&b, s, 2050, OBI_EV_ADD, OBI_ASK, 10200, 9, 4), OBI_OK);
  CHECK_EQ(market(&b, s, 2060, OBI_EV_EXEC, OBI_ASK, 10200, 2, 4), OBI_OK);
  CHECK_EQ(drain(s, 3000, &b, n, 8), 2);
  CHECK(n[0].kind == SIM_N_FILL && n[0].qty == 2 && n[0].exch_ns == 2060);
  CHECK(n[1].kind == SIM_N_CANCELLED && n[1].qty == 2 && n[1].exch_ns == 2100 && n[1].notify_ns == 2150);
  /* a cancel that arrives after the order finished does nothing; a cancel of an unknown id
   * is refused */
  CHECK_EQ(sim_cancel(s, 3000, id), OBI_EUNKNOWN_ORDER);
  CHECK_EQ(sim_cancel(s, 3000, 999), OBI_EUNKNOWN_ORDER);
  /* a limit price off the tick grid and an order below one lot are rejected */
  sim_free(s);
  sim_config_default(&c);
  c.tick = 100, c.lot = 10;
  CHECK_EQ(sim_new(&s, &c), OBI_OK);
  sim_send(s, 1, OBI_BID, SIM_LIMIT, 9950, 10);
  sim_send(s, 1, OBI_BID, SIM_LIMIT, 9900, 9);
  sim_send(s, 1, OBI_BID, SIM_LIMIT, 9900, 25); /* 20 after rounding to lots */
  CHECK_EQ(drain(s, 1, &b, n, 8), 3);
  CHECK(n[0].kind == SIM_N_REJECTED && n[1].kind == SIM_N_REJECTED);
  CHECK(n[2].kind == SIM_N_ACCEPTED && n[2].qty == 20);
  CHECK_EQ(sim_get_stats(s)->rejected, 2);
  sim_free(s);
  book_free(&b);
}

/* The share of 4000 seeded runs in which a cancel of 1 at a level of 100 with 40 ahead of our
 * order counts as ahead: linear 0.4, power:2 0.16 / (0.16 + 0.36) = 0.3077, trades 0. The
 * bound is 4 standard errors (sqrt(p (1-p) / 4000) <= 0.0079). */
static double share_ahead(const char *queue) {
  int ahead = 0, runs = 4000;
  for (int r = 0; r < runs; r++) {
    obi_book b;
    book_init(&b, 0);
    sim_config c;
    sim_config_default(&c);
    sim_queue_parse(&c, queue);
    c.seed = (uint64_t)r + 1;
    sim_exchange *s;
    sim_new(&s, &c);
    market(&b, s, 1, OBI_EV_ADD, OBI_ASK, 10100, 5, 1);
    market(&b, s, 1, OBI_EV_ADD, OBI_BID, 9900, 40, 2);
    uint64_t id = sim_send(s, 2, OBI_BID, SIM_LIMIT, 9900, 1);
    sim_notice n[4];
    drain(s, 2, &b, n, 4);
    market(&b, s, 3, OBI_EV_ADD, OBI_BID, 9900, 60, 3); /* behind us: the level is 100 */
    market(&b, s, 4, OBI_EV_CANCEL, OBI_BID, 9900, 1, 3);
    ahead += sim_queue_ahead(s, id) == 39;
    sim_free(s);
    book_free(&b);
  }
  return (double)ahead / runs;
}

void sim_probabilistic_queue_models(void) {
  CHECK(share_ahead("trades") == 0);
  CHECK(fabs(share_ahead("linear") - 0.4) < 4 * 0.0078);
  CHECK(fabs(share_ahead("power:2") - 0.16 / 0.52) < 4 * 0.0073);
  sim_config c;
  sim_config_default(&c);
  CHECK_EQ(sim_queue_parse(&c, "power:0"), OBI_EPARSE);
  CHECK_EQ(sim_queue_parse(&c, "fifo"), OBI_EPARSE);
}

void sim_latency_models(void) {
  sim_latency l;
  char why[256];
  uint64_t rng = 7;
  CHECK_EQ(sim_latency_parse(&l, "1.5ms", why, sizeof why), OBI_OK);
  CHECK_EQ(sim_latency_draw(&l, 0, &rng), 1500000);
  CHECK_EQ(sim_latency_parse(&l, "uniform:100us:300us", why, sizeof why), OBI_OK);
  double sum = 0;
  for (int i = 0; i < 10000; i++) {
    int64_t v = sim_latency_draw(&l, 0, &rng);
    CHECK(v >= 100000 && v <= 300000);
    sum += (double)v;
  }
  CHECK(fabs(sum / 10000 - 200000) < 2000); /* sd 57735 / sqrt(1e4) = 577 */
  CHECK_EQ(sim_latency_parse(&l, "exp:200us", why, sizeof why), OBI_OK);
  sum = 0;
  for (int i = 0; i < 10000; i++) sum += (double)sim_latency_draw(&l, 0, &rng);
  CHECK(fabs(sum / 10000 - 200000) < 8000); /* sd 200000 / 100 = 2000 */
  CHECK_EQ(sim_latency_parse(&l, "lognormal:200us:0.5", why, sizeof why), OBI_OK);
  int below = 0;
  for (int i = 0; i < 10000; i++) below += sim_latency_draw(&l, 0, &rng) < 200000;
  CHECK(abs(below - 5000) < 200); /* the median; sd 50 */
  const char *p = test_write_file("lat.csv", "time_ns,latency_ns\n1000,100\n2000,300\n");
  char spec[4200];
  snprintf(spec, sizeof spec, "file:%s", p);
  CHECK_EQ(sim_latency_parse(&l, spec, why, sizeof why), OBI_OK);
  CHECK_EQ(sim_latency_draw(&l, 500, &rng), 100);
  CHECK_EQ(sim_latency_draw(&l, 1500, &rng), 200);
  CHECK_EQ(sim_latency_draw(&l, 1750, &rng), 250);
  CHECK_EQ(sim_latency_draw(&l, 9000, &rng), 300);
  sim_latency_free(&l);
  p = test_write_file("lat_bad.csv", "1000,100\n900,300\n");
  snprintf(spec, sizeof spec, "file:%s", p);
  CHECK_EQ(sim_latency_parse(&l, spec, why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "lat_bad.csv:2");
  CHECK_EQ(sim_latency_parse(&l, "uniform:3ms:1ms", why, sizeof why), OBI_EPARSE);
  CHECK_EQ(sim_latency_parse(&l, "-5us", why, sizeof why), OBI_EPARSE);
  CHECK_EQ(sim_latency_parse(&l, "10 parsecs", why, sizeof why), OBI_EPARSE);
  CHECK_STR_CONTAINS(why, "10 parsecs");
}

/* A level-1 book: a price below the best bid is not empty but unknown. Our buy there has an
 * unknown queue until the level comes into view, and then everything shown is ahead of it. */
void sim_untracked_levels_are_unknown(void) {
  obi_book b;
  CHECK_EQ(book_init(&b, 0), OBI_OK);
  sim_config c;
  sim_config_default(&c);
  c.tracked_levels = 1;
  sim_exchange *s;
  CHECK_EQ(sim_new(&s, &c), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_ASK, 10100, 100, 1), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 10000, 100, 2), OBI_OK);
  uint64_t id = sim_send(s, 2, OBI_BID, SIM_LIMIT, 9900, 10);
  sim_notice n[8];
  drain(s, 2, &b, n, 8);
  CHECK_EQ(sim_queue_ahead(s, id), -1); /* resting, queue unknown */
  /* 500 rest at 9900 below the tracked level (the book here is complete, but the simulator may
   * look only at the best level); when the best bid leaves, 9900 comes into view */
  CHECK_EQ(market(&b, s, 3, OBI_EV_ADD, OBI_BID, 9900, 500, 3), OBI_OK);
  CHECK_EQ(sim_queue_ahead(s, id), -1);
  CHECK_EQ(market(&b, s, 3, OBI_EV_DELETE, OBI_BID, 10000, 100, 2), OBI_OK);
  CHECK_EQ(sim_queue_ahead(s, id), 500);
  CHECK_EQ(market(&b, s, 4, OBI_EV_EXEC, OBI_BID, 9900, 10, 3), OBI_OK);
  CHECK_EQ(sim_queue_ahead(s, id), 490);
  CHECK_EQ(sim_position(s), 0);
  sim_free(s);
  book_free(&b);
}

/* Two of our buys at one price: the second has the first ahead of it, and an execution through
 * both fills them once, in order. */
void sim_own_orders_share_one_execution(void) {
  obi_book b;
  CHECK_EQ(book_init(&b, 0), OBI_OK);
  sim_exchange *s = make(0, 0, NULL);
  CHECK(s);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_ASK, 10100, 100, 1), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 9900, 5, 2), OBI_OK);
  CHECK_EQ(market(&b, s, 1, OBI_EV_ADD, OBI_BID, 9800, 50, 3), OBI_OK);
  uint64_t a = sim_send(s, 2, OBI_BID, SIM_LIMIT, 9900, 10), bb = sim_send(s, 2, OBI_BID, SIM_LIMIT, 9900, 10);
  sim_notice n[8];
  drain(s, 2, &b, n, 8);
  CHECK_EQ(sim_queue_ahead(s, a), 5);
  CHECK_EQ(sim_queue_ahead(s, bb), 15);
  /* 9900 is swept (the 5 shown go), then 10 trade at 9800: our first order takes them all */
  CHECK_EQ(market(&b, s, 3, OBI_EV_EXEC, OBI_BID, 9900, 5, 2), OBI_OK);
  CHECK_EQ(market(&b, s, 3, OBI_EV_EXEC, OBI_BID, 9800, 10, 3), OBI_OK);
  CHECK_EQ(sim_position(s), 10);
  CHECK_EQ(sim_queue_ahead(s, a), -1); /* done */
  CHECK_EQ(sim_queue_ahead(s, bb), 0);
  sim_free(s);
  book_free(&b);
}
