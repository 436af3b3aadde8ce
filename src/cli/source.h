/* source.h — one instrument's events, with the book after each, from a LOBSTER message/orderbook
 * pair or from one symbol of a recording of exchange traffic: what `obi features`, `obi backtest`
 * and `obi serve` replay. The format is told from the content of the first file.
 *
 * A recording goes through the feed protocol layer (recsource.h) with its synchronisation rules;
 * the chosen symbol's events are replayed into a book of the source's own, message by message.
 * A message is one update that happened at one instant: its last event ends a group (as a
 * LOBSTER timestamp group), and only there is the book a state the venue had. At that point the
 * book is also cut to the levels known to be exact (a depth-limited Binance snapshot leaves
 * levels beyond its worst price unknown), so that nothing downstream reads an unknown level.
 * Prices are in units of 10^-d (d: the decimals the symbol's prices use in the recording), sizes
 * in units of 10^-e. */
#ifndef OBI_CLI_SOURCE_H
#define OBI_CLI_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "obi/book.h"
#include "obi/error.h"
#include "obi/event.h"

typedef struct obi_source obi_source;

typedef struct {
  int recording;      /* 0: a LOBSTER pair, 1: a feed recording */
  char symbol[32];    /* the instrument (LOBSTER: from the file name, "" when it has none) */
  char venue[32];     /* "lobster", "binance-spot", ... */
  double price_scale; /* price units per currency unit: LOBSTER 10000, a recording 10^d */
  double tick;        /* the price grid in price units: LOBSTER 100 (a cent), a recording 1 */
  double size_scale;  /* size units per base unit: LOBSTER 1, a recording 10^e */
  int tracked_levels; /* LOBSTER: the orderbook file's N levels; a recording: 0 (cut at the known levels) */
  int signed_trades;  /* TRADE events carry the resting side (feeds); LOBSTER's crosses do not */
  int live;           /* a live session (recording is 1 too: the same units and rules) */
} source_info;

/* Opens a LOBSTER pair (b: the orderbook file) or a recording (b: its REST responses, or NULL);
 * symbol picks the recording's instrument (NULL: the recording must hold exactly one with a
 * book) and names a LOBSTER instrument (NULL: from the file name); venue (feed_venue) is the
 * recording's venue when its URL does not tell (a local server), -1 otherwise. A recording is scanned once
 * first (symbols and their decimals). Returns OBI_OK, or an error with why ("file: reason"). */
obi_err source_open(obi_source **out, const char *a, const char *b, const char *symbol, int venue, char *why,
                    size_t why_len);

/* A live session of one symbol (live.h) at venue (feed_venue), with the scale given (a model's
 * prices must be in the units it was trained in; a value with more decimals is a malformed
 * message). endpoint / rest_endpoint NULL: the venue's public ones. */
obi_err source_open_live(obi_source **out, int venue, const char *symbol, const char *endpoint,
                         const char *rest_endpoint, int price_decimals, int size_decimals, char *why, size_t why_len);

/* The next event and, through source_book, the book after it. *group_end: the event is the last
 * of its timestamp group (LOBSTER) or of its message (a recording); *next_ts: the time of the
 * next event, INT64_MAX at the end (live: the next event's time when it is already here, else
 * the event's time + 1). OBI_OK, OBI_EEOF, OBI_EAGAIN (live: nothing arrived within 100 ms), or
 * an error (source_error). */
obi_err source_next(obi_source *s, obi_event *ev, int *group_end, int64_t *next_ts);
const obi_book *source_book(const obi_source *s);
const source_info *source_get_info(const obi_source *s);
/* Input progress in [0, 1]. */
double source_progress(const obi_source *s);
const char *source_error(const obi_source *s);
/* Lines of a recording the feed rejected so far (malformed JSON, bad fields: skipped, as obi replay
 * counts them), *first the first one with its file and line; 0 for LOBSTER (which stops instead)
 * and live sessions (live_stats count theirs). */
uint64_t source_skipped(const obi_source *s, const char **first);
/* Prints the count and the first of them to stderr when there are any. */
void source_warn_skipped(const obi_source *s);
/* Books rebuilt after a gap or a reconnect so far (feeds; 0 for LOBSTER). */
uint64_t source_resyncs(const obi_source *s);
/* The first file's path and, for the sidecar, the second's (NULL for a recording without one). */
const char *source_path(const obi_source *s, int which);
void source_close(obi_source *s);

#endif
