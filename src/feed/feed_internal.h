/* feed_internal.h — what feed.c, binance.c and coinbase.c share: the feed's structures,
 * the parsed form of a message, and the steps every venue uses (decimal values, symbols,
 * errors, applying levels and snapshots, gaps). Not a public header.
 *
 * A message is handled in three steps so that a malformed one changes nothing:
 *  1. the venue parser (binance.c, coinbase.c) reads the JSON into "items" (a snapshot, a
 *     diff, a trade of one symbol) whose prices and sizes are exact decimals (feed_dec)
 *     in f->raw, checking every field it needs;
 *  2. feed__scale_items fixes the scale each item will use and converts every value to
 *     integer ticks and lots in f->lev, checking ranges;
 *  3. only then the venue applies the items (sync rules, books, events). */
#ifndef OBI_FEED_INTERNAL_H
#define OBI_FEED_INTERNAL_H

#include <jansson.h>

#include "obi/feed.h"

/* An exact decimal as written: value = mant * 10^-dec, trailing zeros of the fraction
 * removed (so dec is the number of decimals the value needs). */
typedef struct {
  int64_t mant;
  int32_t dec;
} feed_dec;

typedef struct {
  feed_dec price, size;
  uint8_t side; /* obi_side; for trades the resting side */
} feed_raw_level;

typedef struct {
  int64_t price, size;
  uint8_t side;
} feed_level;

enum { FEED_ITEM_SNAPSHOT = 1, FEED_ITEM_DIFF, FEED_ITEM_TRADE };

typedef struct {
  uint8_t kind;
  int sym;
  int64_t U, u, pu;  /* Binance update ids (u of a snapshot = lastUpdateId) */
  uint32_t first, n; /* its values: f->raw[first..first+n), then f->lev[first..first+n) */
  int pdec, sdec;    /* the scale used to convert (-1: not converted, see feed__scale_items) */
} feed_item;

/* A Binance diff event kept while its symbol waits for a snapshot. */
typedef struct {
  int64_t U, u, pu, recv_ns;
  uint32_t first, n; /* its levels in sym->buf_levels */
} feed_buffered;

enum { FEED_SYM_WAIT = 0, FEED_SYM_SYNCING = 1, FEED_SYM_LIVE = 2 };

typedef struct {
  char name[32];
  int pdec, sdec;           /* the scale; -1 until learned */
  int scale_learned;        /* the scale came from a snapshot, not from feed_add_symbol */
  int scan_pdec, scan_sdec; /* scan_only: most decimals seen so far (-1: no value seen) */
  obi_book book;
  int state;             /* FEED_SYM_* */
  int snapshot_open;     /* a SNAPSHOT_BEGIN was emitted and its SNAPSHOT_END not yet */
  int request_in_flight; /* feed_snapshot_wanted handed this symbol out */
  int gap_pending;       /* the next snapshot applied is a resync */
  int64_t last_id;       /* Binance: lastUpdateId while SYNCING, the last applied u while LIVE */
  int64_t known_key[2];  /* per side: the worst known book key (INT64_MIN: the whole side) */
  uint64_t msg_serial;   /* the message that last counted this symbol in stats.messages */
  feed_buffered *buf;
  uint32_t nbuf, capbuf;
  feed_raw_level *buf_levels;
  uint32_t nbuf_levels, capbuf_levels;
  feed_symbol_stats stats;
} feed_sym;

struct feed {
  feed_venue venue;
  feed_config cfg;
  feed_sym **syms;
  int nsyms, capsyms;
  feed_item *items;
  uint32_t nitems, capitems;
  feed_raw_level *raw;
  feed_level *lev;
  uint32_t nraw, capraw;
  int resubscribe_wanted;
  uint64_t msg_serial;
  feed_conn_stats stats;
  char err[512];
};

/* ---- feed.c: shared steps ---------------------------------------------------------- */

/* Records a malformed message: the error text (prefixed with the venue and the symbol,
 * sym may be -1), the counters. Returns code. */
obi_err feed__malformed(feed *f, int sym, obi_err code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Records an error text without counting anything. */
void feed__set_error(feed *f, int sym, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The symbol named name[0..len) into *sym, adding it when cfg.add_unknown_symbols, and
 * counts the message for it once. *sym = -1 (counted in unknown_symbol) when it is not
 * known. Errors: a name that cannot be a symbol (malformed), OBI_ENOMEM. */
obi_err feed__symbol(feed *f, const char *name, size_t len, int *sym);

/* Step 1 helpers. Each returns OBI_OK or a malformed error naming the field `what`. */
obi_err feed__get_string(feed *f, int sym, json_t *obj, const char *key, const char *ctx, const char **s, size_t *len);
obi_err feed__get_int(feed *f, int sym, json_t *obj, const char *key, const char *ctx, int64_t *v);
obi_err feed__get_array(feed *f, int sym, json_t *obj, const char *key, const char *ctx, json_t **arr);
/* The JSON string v as an exact decimal; what names the field in errors ("b[3] price"). */
obi_err feed__dec(feed *f, int sym, json_t *v, const char *ctx, const char *what, size_t idx, feed_dec *out);
/* "123.4500" -> {12345, 2}: digits, optionally '.' and at least one digit, nothing else.
 * OBI_EPARSE for anything else, OBI_ERANGE beyond 10^18 or 18 decimals. */
obi_err feed__dec_parse(const char *s, size_t len, feed_dec *out);
/* Appends an item (levels appended after it with feed__add_raw). */
obi_err feed__add_item(feed *f, int kind, int sym, feed_item **out);
obi_err feed__add_raw(feed *f, feed_item *it, feed_dec price, feed_dec size, int side);
/* Parses a [[price, size], ...] array of one side into the item's levels (Binance
 * snapshots and diffs, Coinbase Exchange snapshots). */
obi_err feed__levels_pairs(feed *f, feed_item *it, json_t *arr, int side, const char *ctx, const char *key);

/* Step 2: chooses each item's scale and converts its values (see the file comment).
 * Items of a symbol without a scale convert when they are snapshots (the scale is then
 * learned from the snapshot and the symbol's buffered events); others stay unconverted
 * (pdec = -1). A value out of range or with too many decimals is a malformed message. */
obi_err feed__scale_items(feed *f);
/* scan_only: widens the symbols' learned scales with every value of the items. */
void feed__scan_items(feed *f);

/* Step 3 helpers. */
void feed__emit(feed *f, int sym, int type, int side, int64_t price, int64_t size, int64_t ts_ns);
/* Applies levels to the book, emitting LEVEL_SET events (not for removals of absent
 * levels). Returns OBI_OK or a failure of the book (allocation). */
obi_err feed__apply_levels(feed *f, int sym, const feed_level *lev, uint32_t n, int64_t ts_ns);
/* Replaces the book by a snapshot: SNAPSHOT_BEGIN (unless one is open), the levels,
 * SNAPSHOT_END; commits the item's scale; known depth per side (cut = the side may have
 * been cut at the snapshot's limit); counts it and a resync when a gap was pending. */
obi_err feed__apply_snapshot(feed *f, const feed_item *it, int64_t ts_ns, int binance_limits);
/* After a complete update: the crossed-book check. */
void feed__check_crossed(feed *f, int sym);
/* A gap: counted, the book cleared (SNAPSHOT_BEGIN), the symbol waits for a snapshot. */
void feed__gap(feed *f, int sym, int first_event, int64_t ts_ns);
/* Emits a trade item. */
void feed__trade(feed *f, const feed_item *it, int64_t ts_ns);

/* Venue parsers and appliers: parse the message (root) into items, or handle it. */
obi_err feed__binance_message(feed *f, int64_t recv_ns, json_t *root);
obi_err feed__binance_snapshot(feed *f, int sym, int64_t recv_ns, json_t *root);
/* The fast path of feed_on_message for Binance: 1 when text is a depthUpdate the strict
 * scanner fully understands, handled exactly as feed__binance_message would (*err its
 * result); 0 when it gave up, having changed nothing: parse text with jansson. */
int feed__binance_fast(feed *f, int64_t recv_ns, const char *text, size_t len, obi_err *err);
obi_err feed__coinbase_exchange_message(feed *f, int64_t recv_ns, json_t *root);
obi_err feed__coinbase_advanced_message(feed *f, int64_t recv_ns, json_t *root);

#endif
