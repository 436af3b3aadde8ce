/* lobster.h — LOBSTER message/orderbook files replayed into an exact order book.
 *
 * LOBSTER (Huang and Polak 2011, lobsterdata.com) publishes, per stock and day, a
 * message file (time, type 1-7, order id, size, price x 10^4, direction) and an
 * orderbook file whose row i is the top N levels after message i. A level-N message
 * file holds only the messages that change the top N levels, so the messages alone
 * cannot rebuild the book. The replay therefore reads both files in step:
 *
 *  1. The book starts as the first orderbook row, every level one anonymous order
 *     (the orders resting before the file starts are unknown); when the first
 *     message is a submission, its order is taken out of that row and added by id.
 *  2. Each later message is applied by order id. A cancel, delete or execution of an
 *     id the replay never saw (submitted before the file starts, or forgotten, see 3)
 *     carries its own price and size: that size is taken from the anonymous
 *     liquidity of the level.
 *  3. Levels that fall below the top N are forgotten with their orders (their later
 *     changes are not in the file).
 *  4. When a side holds fewer than N levels and the orderbook row shows more, the
 *     missing deeper levels enter as one anonymous order each.
 *
 * Anonymous liquidity of a level is always at the FRONT of its queue: it entered
 * the book (step 1 or 4) when the level held no known order, and every identified
 * order at that price arrived after it. An identified order's queue position is
 * therefore the anonymous size plus the identified orders ahead of it — the most
 * optimistic position for that liquidity would be behind it, but nothing in the
 * data says it is, and it is what a trader joining the level would face.
 * Every case of steps 1-4 is counted in lobster_stats.
 *
 * With verify on, after every message the book's top N levels (both sides, prices
 * and sizes) are compared with the orderbook row; differences are counted and the
 * first one is kept; every row is then parsed and checked in full (column count,
 * integers, dummy prices, level order, no crossed row). Without verify a row is parsed
 * only where the replay needs it (the first row, and whenever a side holds fewer than
 * N levels); the other rows only have their column count checked. Files may be plain
 * or zstd-compressed. */
#ifndef OBI_LOBSTER_H
#define OBI_LOBSTER_H

#include <stddef.h>
#include <stdint.h>

#include "obi/book.h"
#include "obi/error.h"
#include "obi/event.h"
#include "obi/textin.h"

#define LOBSTER_DUMMY_ASK 9999999999LL    /* price of an empty ask level */
#define LOBSTER_DUMMY_BID (-9999999999LL) /* price of an empty bid level */
#define LOBSTER_MAX_LEVELS 1000

typedef struct {
  int64_t time_ns;  /* nanoseconds after midnight, exchange local time */
  int type;         /* 1..7 */
  int64_t order_id; /* >= 0; -1 allowed for type 6 (cross trades have no order) */
  int64_t size;
  int64_t price; /* dollars x 10^4; -1/0/1 for type 7 */
  int direction; /* 1 buy limit order (bid side), -1 sell limit order (ask side) */
} lobster_msg;

/* Parses one message line ("34200.18960767,1,11885113,21,2238100,1"). Checks field count,
 * integers, the time as seconds with up to 18 decimals (rounded to the nanosecond), type 1..7, direction +-1, size > 0
 * and price > 0 for types 1-5, price in {-1, 0, 1} for type 7. On error returns OBI_EPARSE or OBI_ERANGE and writes
 * "field 4 (size): ..." into why. */
obi_err lobster_parse_message(const char *line, size_t len, lobster_msg *m, char *why, size_t why_len);

/* Parses one orderbook row of `levels` levels into row[4 * levels] (ask price, ask size,
 * bid price, bid size per level). levels == 0 accepts any multiple of 4 columns up to
 * LOBSTER_MAX_LEVELS levels. Returns the number of levels (> 0) or a negative obi_err. Checks:
 * the column count, sizes >= 0, dummy prices exactly where size is 0, levels sorted
 * (asks rising, bids falling), no occupied level after an empty one, and an uncrossed top. */
int lobster_parse_book_row(const char *line, size_t len, int levels, int64_t *row, char *why, size_t why_len);

/* Converts a message to an event. day_start_ns is the Unix time of local midnight. */
void lobster_to_event(const lobster_msg *m, int64_t day_start_ns, obi_event *ev);

/* Unix time of local midnight of the date in a LOBSTER file name
 * ("AMZN_2012-06-21_34200000_57600000_message_10.csv"), US Eastern time; returns 0 and
 * sets *found = 0 when the name carries no date. */
int64_t lobster_day_start_ns(const char *path, int *found);

typedef struct {
  uint64_t messages;
  uint64_t by_type[8];            /* LOBSTER types 1..7 */
  uint64_t unknown_order_msgs;    /* cancels/deletes/executions of ids never seen (step 2) */
  int64_t unknown_order_size;     /* their total size, taken from anonymous liquidity */
  uint64_t unmatched_msgs;        /* unknown ids whose level has no anonymous liquidity, or less than their
                                     size: the book is left unchanged (verify shows any consequence) */
  uint64_t levels_from_orderbook; /* levels that entered from the orderbook (steps 1 and 4) */
  int64_t size_from_orderbook;
  uint64_t levels_forgotten; /* levels that fell below the top N (step 3) */
  uint64_t orders_forgotten; /* identified orders dropped with them */
  uint64_t rows_verified;
  uint64_t mismatches;
  uint64_t first_mismatch_line; /* 1-based line of the message and of the orderbook row */
} lobster_stats;

typedef struct {
  int levels;        /* N; 0 = the orderbook file's column count / 4 */
  int verify;        /* compare the book with every orderbook row */
  int verify_levels; /* compare the top k <= N levels (0 = N) */
  int day_from_name; /* 1: timestamps from the date in the message file's name (default) */
} lobster_options;

typedef struct lobster_replay lobster_replay;

/* Opens a message file and its orderbook file (plain or .zst). On failure *out is NULL
 * and, if err_msg != NULL, err_msg receives "path: reason". opt may be NULL (defaults). */
obi_err lobster_open(lobster_replay **out, const char *msg_path, const char *book_path, const lobster_options *opt,
                     char *err_msg, size_t err_len);

/* Same over two readers the replay takes over (they are closed by lobster_close, also
 * on failure). The names are used in messages. */
obi_err lobster_open_readers(lobster_replay **out, obi_textin *msgs, const char *msg_name, obi_textin *book,
                             const char *book_name, const lobster_options *opt, char *err_msg, size_t err_len);

/* Reads, applies and (optionally) verifies the next message; *ev receives it.
 * Returns OBI_OK, OBI_EEOF at the end of both files, or an error with lobster_error()
 * saying "file:line: what" (after an error the replay cannot continue). */
obi_err lobster_next(lobster_replay *r, obi_event *ev);

/* The timestamp of the next message without consuming it (the line is read ahead and used by
 * the next lobster_next). Returns 0 at the end of the file or when the next line is malformed
 * (lobster_next then reports it). Lets a consumer see whether the current message is the last
 * of a group with the same timestamp: such a group happened at one instant, and the state
 * between its messages was never observable. */
int lobster_peek_time(lobster_replay *r, int64_t *ts_ns);

const obi_book *lobster_book(const lobster_replay *r);
const lobster_stats *lobster_get_stats(const lobster_replay *r);
int lobster_levels(const lobster_replay *r);
const char *lobster_error(const lobster_replay *r);
/* Input progress in [0, 1] by compressed bytes of the message file (0 when unknown). */
double lobster_progress(const lobster_replay *r);

/* The first mismatch (valid when stats.mismatches > 0): the orderbook row and the book's
 * top levels in the same layout, 4 * levels values each. */
const int64_t *lobster_mismatch_expected(const lobster_replay *r);
const int64_t *lobster_mismatch_book(const lobster_replay *r);

void lobster_close(lobster_replay *r);

#endif
