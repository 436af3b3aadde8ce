/* feed.h — the protocol layer of live exchange feeds: exchange messages in, an exact
 * order book per symbol and obi_events out. No network code: a transport (WebSocket,
 * REST, or a recording being replayed) hands every message to this layer and asks it
 * what to fetch or resubscribe; docs/feeds.md describes the rules with their sources.
 *
 * One `feed` is one connection to one venue carrying several symbols:
 *
 *  - BINANCE_SPOT, BINANCE_FUTURES (USDⓈ-M): the diff-depth stream (`depthUpdate`, raw or
 *    inside a combined-stream envelope) plus REST depth snapshots, synchronised as Binance
 *    documents in "How to manage a local order book correctly": diff events are buffered
 *    until a snapshot arrives; events with u <= lastUpdateId (futures: u < lastUpdateId)
 *    are dropped; the first applied event must have U <= lastUpdateId+1 <= u (futures:
 *    U <= lastUpdateId <= u); every later event must have U == previous u + 1 (futures:
 *    pu == previous u). A violation is a gap: the book is cleared and a new snapshot is
 *    wanted; the events that follow are buffered for it. `aggTrade` and `trade` give trades.
 *  - COINBASE_EXCHANGE: the `level2` channel (`snapshot`, then `l2update` with
 *    [side, price, new size], size 0 removes the level) and `match` messages for trades.
 *    The channel has no sequence numbers, so gaps cannot be seen in it.
 *  - COINBASE_ADVANCED: Advanced Trade `level2` (messages on channel `l2_data`, events
 *    `snapshot` and `update`), `market_trades` and `heartbeats`. `sequence_num` counts the
 *    messages of the connection: a jump is a gap that clears every book and asks the
 *    transport to resubscribe (feed_resubscribe_wanted); each book returns with its next
 *    snapshot.
 *
 * Prices and sizes arrive as decimal strings and become integers with a per-symbol scale
 * (price_decimals, size_decimals: ticks of 10^-price_decimals and lots of
 * 10^-size_decimals), parsed exactly without floating point. A value with more non-zero
 * decimals than the scale, or outside (0, BOOK_MAX_QTY] (sizes: [0, BOOK_MAX_QTY]), is an
 * error naming the venue, the symbol and the field. A scale given as -1 is learned from
 * the first snapshot (and the events buffered before it): the most decimals any value
 * there carries. Configure the scale (the venue's tick and step size) where a later value
 * may need more.
 *
 * Every message is parsed and checked completely before anything is applied: a malformed
 * message (bad JSON, a missing or mistyped field, a bad number) is counted, described by
 * feed_last_error, and skipped, and the books stay exactly as they were. Its loss is then
 * caught by the venue's sequence rules where it has them (the next Binance event no longer
 * continues the last applied one).
 *
 * Events reach the callback after they were applied to the symbol's book: SNAPSHOT_BEGIN
 * (the book was cleared: a snapshot follows, or a gap happened and one is awaited),
 * LEVEL_SET per level of a snapshot or an update, SNAPSHOT_END (the book is whole again),
 * and TRADE with side = the RESTING side of the trade. A level removal for a price the
 * book does not hold changes nothing and gives no event. Event times are the receive
 * times given by the transport (recv_ns): the clock on which the information existed.
 *
 * Known depth: a Binance snapshot holds at most `limit` levels per side, so levels beyond
 * its worst price are unknown until they change. The feed keeps that worst price per side
 * and feed_known_depth says how many levels from the best are inside it; readers (the
 * feature engine) must not read deeper. A side with fewer levels than the configured
 * snapshot_limit, and every Coinbase snapshot, is complete.
 *
 * Parsing: a Binance depthUpdate (the hot message) is read by a strict scanner straight from
 * the text, without a tree or any allocation; a message it does not fully understand (any
 * other type, an unknown or repeated key, escapes, whitespace, exponents, ...) goes to
 * jansson, the reference, which gives every other message and every error message. The
 * two give the same result for every message the scanner takes (tests and the fuzzer
 * compare them).
 *
 * Memory: messages parsed by jansson allocate per message; scratch arrays, the buffer of
 * events awaiting a snapshot and the books grow during warm-up and are reused.
 * Not thread-safe: one caller drives a feed. */
#ifndef OBI_FEED_H
#define OBI_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "obi/book.h"
#include "obi/error.h"
#include "obi/event.h"

typedef enum {
  FEED_BINANCE_SPOT = 0,
  FEED_BINANCE_FUTURES = 1, /* USDⓈ-M (fstream/fapi); COIN-M (dstream/dapi) follows the same rules */
  FEED_COINBASE_EXCHANGE = 2,
  FEED_COINBASE_ADVANCED = 3,
  FEED__VENUE_COUNT
} feed_venue;

/* Called after ev was applied to the book of symbol_index (book is that book, after ev).
 * The callback must not call back into the feed except for the read-only accessors. */
typedef void (*feed_event_fn)(void *ctx, int symbol_index, const obi_event *ev, const obi_book *book);

typedef struct {
  feed_event_fn on_event; /* may be NULL */
  void *ctx;
  /* Called (with ctx) when feed_on_message, feed_on_snapshot or feed_reset has delivered all
   * the events of that call: one update is complete and the books are a state the venue had.
   * May be NULL. The same rules as on_event. */
  void (*on_message_end)(void *ctx);
  /* Binance: the `limit` the REST snapshots are fetched with. A snapshot side with fewer
   * levels is the whole side; with as many, levels beyond its worst price are unknown.
   * 0: every side is treated as cut off. */
  uint32_t snapshot_limit;
  /* Binance: the most diff events kept per symbol while a snapshot is awaited (0: 10000).
   * When full, the oldest quarter is dropped (counted in buffer_dropped); a snapshot older
   * than what is left is then refused and fetched again. */
  uint32_t max_buffered;
  /* Messages for a symbol that was not added add it (scales learned) instead of being
   * counted as unknown_symbol. Replays use it; live connections add their symbols. */
  int add_unknown_symbols;
  /* Scan only: parse and check every message, add symbols (with add_unknown_symbols) and
   * widen their learned scales to the most decimals any value shows; apply nothing and
   * emit no events. A replay runs a recording through a scanning feed first so that the
   * scales it then configures fit every value of the recording. */
  int scan_only;
  /* Run book_check after every message (tests); a failure is OBI_EINVARIANT. A crossed
   * book is not checked: it is what the venue sent (counted in crossed), not a defect. */
  int check_books;
  /* Parse every message with jansson, the reference, never the fast depthUpdate scanner
   * (tests and benchmarks compare the two). */
  int no_fast_path;
} feed_config;

/* Per-symbol counters. "update" = one diff message for the symbol (a Binance depthUpdate,
 * a Coinbase l2update, an Advanced `update` event); "level" = one price level in it. */
typedef struct {
  uint64_t messages;           /* messages naming the symbol (depth, snapshots, trades, tickers...) */
  uint64_t depth_updates;      /* diff messages received (well-formed) */
  uint64_t updates_applied;    /* diff messages applied to the book */
  uint64_t levels_applied;     /* price levels set by applied diff messages */
  uint64_t dropped_stale;      /* diffs already covered by the book (u <= lastUpdateId or last u):
                                  late, duplicated or pre-snapshot events */
  uint64_t dropped_unsynced;   /* Coinbase diffs that arrived while no snapshot was held, and trades
                                  of a symbol whose scale is still to be learned */
  uint64_t buffered;           /* Binance diffs buffered while a snapshot was awaited */
  uint64_t buffer_dropped;     /* buffered diffs dropped because the buffer was full */
  uint64_t gaps;               /* sequence breaks: the book was cleared, a new snapshot awaited */
  uint64_t gaps_first_event;   /* of which: the first event after a snapshot did not cover it */
  uint64_t resyncs;            /* books rebuilt by a snapshot after a gap */
  uint64_t snapshots;          /* snapshots received (well-formed) */
  uint64_t snapshots_applied;  /* snapshots that became the book */
  uint64_t snapshots_too_old;  /* Binance snapshots older than every buffered event (fetched again) */
  uint64_t snapshots_unwanted; /* Binance snapshots for a book that was not waiting for one (ignored) */
  uint64_t crossed_checks;     /* complete updates after which book_crossed was evaluated */
  uint64_t crossed;            /* of which the book was crossed (best bid >= best ask) */
  uint64_t trades;             /* TRADE events emitted */
  uint64_t malformed;          /* messages naming the symbol that were rejected */
} feed_symbol_stats;

/* Per-connection counters. */
typedef struct {
  uint64_t messages;       /* feed_on_message calls */
  uint64_t snapshots;      /* feed_on_snapshot calls */
  uint64_t ignored;        /* well-formed messages the book does not use (tickers, klines, acks) */
  uint64_t malformed;      /* rejected messages and snapshots (the per-symbol counts are a subset) */
  uint64_t unknown_symbol; /* messages for symbols not added */
  uint64_t venue_errors;   /* error messages sent by the venue (text in feed_last_error) */
  uint64_t heartbeats;     /* Coinbase Advanced heartbeats */
  uint64_t sequence_gaps;  /* Coinbase Advanced sequence_num jumps */
  uint64_t sequence_stale; /* Coinbase Advanced messages with an old sequence_num (dropped) */
  uint64_t resubscribes;   /* times a resubscription was asked for */
  uint64_t resets;         /* feed_reset calls */
  uint64_t fast_parsed;    /* Binance depthUpdate messages read by the fast scanner (the rest: jansson) */
  int64_t last_sequence;   /* Coinbase Advanced: the last sequence_num accepted, -1 before any */
  int64_t last_recv_ns;    /* receive time of the last message or snapshot */
} feed_conn_stats;

typedef struct feed feed;

/* Creates a feed for venue (cfg may be NULL: defaults). OBI_EINVAL for an unknown venue,
 * OBI_ENOMEM. The caller owns *out and frees it with feed_free. */
obi_err feed_new(feed **out, feed_venue venue, const feed_config *cfg);
/* Frees the feed, its books and buffers. Accepts NULL. */
void feed_free(feed *f);

/* Adds a symbol as the venue names it in messages ("BTCUSDT", "BTC-USD"; compared without
 * regard to case) with its scale: decimals 0..18, or -1 to learn it from the first snapshot.
 * Returns the symbol's index (0, 1, ... in order of addition) or a negative obi_err:
 * OBI_EINVAL (empty or too long name: at most 31 bytes, bad decimals), OBI_EDUP_ORDER
 * (already added), OBI_ENOMEM. Binance symbols start waiting for a snapshot. */
int feed_add_symbol(feed *f, const char *symbol, int price_decimals, int size_decimals);

/* One WebSocket message (text of len bytes, no NUL needed) received at recv_ns.
 * Returns OBI_OK when it was used or deliberately ignored; OBI_EPARSE / OBI_ERANGE when
 * it was malformed (counted, skipped, books unchanged, feed_last_error says why);
 * OBI_ENOMEM or OBI_EINVARIANT (check_books) for failures of the feed itself. */
obi_err feed_on_message(feed *f, int64_t recv_ns, const char *text, size_t len);

/* A Binance REST depth snapshot ({"lastUpdateId":N,"bids":[[p,q],..],"asks":[..]}) for
 * symbol (an index) received at recv_ns. Applied when the symbol waits for one and it is
 * not older than the buffered events; see the rules above. Same results as
 * feed_on_message; OBI_EINVAL for a bad index or a venue without REST snapshots. */
obi_err feed_on_snapshot(feed *f, int symbol, int64_t recv_ns, const char *text, size_t len);

/* Binance: 1 and *symbol when a symbol waits for a snapshot that was not asked for yet;
 * the request is then marked as under way (feed_snapshot_failed re-arms it, a snapshot
 * given to feed_on_snapshot ends it). 0 when nothing is wanted (always for Coinbase). */
int feed_snapshot_wanted(feed *f, int *symbol);
void feed_snapshot_failed(feed *f, int symbol);

/* Coinbase Advanced: 1 once after each sequence gap (every book was cleared; resubscribe
 * to level2 so that fresh snapshots come). 0 otherwise. */
int feed_resubscribe_wanted(feed *f);

/* The connection was replaced (reconnect): every book is cleared (SNAPSHOT_BEGIN), buffers
 * are emptied, sequence expectations forgotten, and every symbol waits for a new snapshot
 * (Binance: fetch; Coinbase: the one the new subscription sends). Counted in resets. */
void feed_reset(feed *f, int64_t recv_ns);

/* The accessors below take a valid symbol index (0 <= symbol < feed_symbol_count). */
int feed_symbol_count(const feed *f);
const char *feed_symbol_name(const feed *f, int symbol);
/* The index of a symbol by name (case-insensitive), or -1. */
int feed_find_symbol(const feed *f, const char *name, size_t len);
/* The current scale; -1 while it is still to be learned. */
void feed_symbol_decimals(const feed *f, int symbol, int *price_decimals, int *size_decimals);
const obi_book *feed_book(const feed *f, int symbol);
/* 1 when the book is whole: a snapshot was applied and no gap happened since. */
int feed_synced(const feed *f, int symbol);
/* Levels of side (OBI_BID / OBI_ASK), counted from the best, that are known to be exact:
 * those no worse than the snapshot's worst price on that side (all levels when the
 * snapshot showed the whole side). 0 while the book is not synced. O(log levels). */
uint32_t feed_known_depth(const feed *f, int symbol, int side);
const feed_symbol_stats *feed_symbol_get_stats(const feed *f, int symbol);
const feed_conn_stats *feed_get_stats(const feed *f);

/* A digest of symbol's book that does not depend on its scale: FNV-1a (64 bits) over every
 * level, bids from the best then asks from the best, each written "B|A price size\n" with
 * feed_format_decimal. Books holding the same prices and sizes have the same digest at any
 * scales, so a replay's book can be compared with a live session's (obi replay --json
 * prints it). 0 while the scale is still to be learned. */
uint64_t feed_book_digest(const feed *f, int symbol);

/* The last error (malformed message, venue error) as one line naming the venue, the
 * symbol where known, and what was wrong; "" when there was none. */
const char *feed_last_error(const feed *f);

/* "binance-spot", "binance-futures", "coinbase-exchange", "coinbase-advanced"; "?" otherwise. */
const char *feed_venue_name(int venue);
/* The venue a WebSocket or REST URL belongs to (stream.binance.com / api.binance.com:
 * spot; fstream, fapi, dstream, dapi .binance.com: futures; ws-feed(.pro|.exchange)
 * .coinbase.com: exchange; advanced-trade-ws.coinbase.com: advanced), or -1. */
int feed_venue_from_url(const char *url, size_t len);

/* Exact decimal parsing, exposed for tests and tools: the decimal string s[0..len)
 * (digits, optionally '.' and digits; no sign, exponent or spaces) as an integer of
 * 10^-decimals units. Trailing zeros beyond `decimals` are accepted ("1.500" at 1 decimal
 * is 15). OBI_EPARSE when it is not such a string, OBI_ERANGE when it has more non-zero
 * decimals than `decimals` or exceeds max. */
obi_err feed_parse_decimal(const char *s, size_t len, int decimals, int64_t max, int64_t *out);
/* Writes v (in units of 10^-decimals) as a decimal string ("35270000", 8 -> "0.3527").
 * Returns the length written (buf must hold 24 bytes). */
int feed_format_decimal(int64_t v, int decimals, char *buf);

#endif
