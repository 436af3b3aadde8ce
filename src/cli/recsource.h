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

/* Called after each line of the recording went through the feed: the events of one message
 * have all been delivered, so the books are between updates (a consistent state). */
typedef void (*recsource_after_fn)(void *ctx, int64_t recv_ns);

typedef struct {
  const char *ws_path, *http_path; /* the WebSocket recording and its REST responses (or NULL) */
  int venue;                       /* feed_venue */
  char url[2048];                  /* the WebSocket URL of the first connection */
  feed *f;                         /* every symbol added with its learned scale */
  recsource_after_fn after;        /* may be set after recsource_open; NULL: none */
  void *after_ctx;
} rec_source;

/* Checks two files given in either order (http may be NULL), tells the venue (venue < 0: from
 * the URL), runs the scanning pass and creates s->f with on_event(ctx). Returns EXIT_OK, or
 * prints what is wrong and where (cli_input_error) and returns EXIT_BAD_INPUT. */
int recsource_open(rec_source *s, const char *ws, const char *http, int venue, feed_event_fn on_event, void *ctx);
/* One replay through s->f. Lines the feed rejects are counted in c (the first described);
 * OBI_OK, or an error that stops the replay (unreadable file, out of memory) described in msg. */
obi_err recsource_replay(rec_source *s, rec_counts *c, cli_progress *progress, char *msg, size_t msg_len);
void recsource_close(rec_source *s);

#endif
