/* recsource.h — a recording of exchange traffic as a source: the WebSocket file and the REST
 * snapshots beside it checked and put in order, the venue told from the recorded URL, every
 * symbol and the decimals its values use learned in a first pass, then the recording replayed
 * through a feed whose callback receives every event. `obi replay` and `obi ingest` share it. */
#ifndef OBI_CLI_RECSOURCE_H
#define OBI_CLI_RECSOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "obi/feed.h"

typedef struct {
  uint64_t received, sent, connections, rest;
  char first_error[1024]; /* the first malformed or unusable line, with file and line */
  uint64_t errors_reported;
} rec_counts;

typedef struct rec_pass rec_pass;

typedef struct {
  const char *ws_path, *http_path; /* the WebSocket recording and its REST responses (or NULL) */
  int venue;                       /* feed_venue */
  char url[2048];                  /* the WebSocket URL of the first connection */
  feed *f;                         /* every symbol added with its learned scale */
  rec_pass *pass;                  /* the stepwise replay (recsource_start) */
} rec_source;

/* Checks two files given in either order (http may be NULL), tells the venue (venue < 0: from
 * the URL), runs the scanning pass and creates s->f with on_event and on_message_end (feed.h;
 * ctx; either may be NULL: on_message_end marks where a message's events end). Returns OBI_OK,
 * or an error with why saying what is wrong and where. */
obi_err recsource_open(rec_source *s, const char *ws, const char *http, int venue, feed_event_fn on_event,
                       void (*on_message_end)(void *), void *ctx, char *why, size_t why_len);
/* One replay through s->f. Lines the feed rejects are counted in c (the first described);
 * OBI_OK, or an error that stops the replay (unreadable file, out of memory) described in msg. */
obi_err recsource_replay(rec_source *s, rec_counts *c, cli_progress *progress, char *msg, size_t msg_len);
/* The lines counted in c that the feed rejected, and the first of them, on stderr (nothing when
 * there are none). */
void recsource_warn_skipped(const rec_counts *c);
/* The same a line at a time: recsource_start opens the files (c receives the counts as they
 * grow), each recsource_step sends one line through s->f and returns
 * OBI_OK, OBI_EEOF at the end, or an error that stops the replay, described in msg. */
obi_err recsource_start(rec_source *s, rec_counts *c, char *msg, size_t msg_len);
obi_err recsource_step(rec_source *s, char *msg, size_t msg_len);
/* Input progress in [0, 1] of the stepwise replay (by bytes of the WebSocket file). */
double recsource_progress(const rec_source *s);
void recsource_close(rec_source *s);

#endif
