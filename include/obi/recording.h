/* recording.h — raw WebSocket and REST traffic recorded with receive times, in the text
 * format of the cryptofeed project's sample data (../shared/data/crypto/cryptofeed):
 *
 *   URL <-> TIME            a WebSocket connection opened (first line of a *.ws.* file)
 *   URL <- TIME: JSON       a message the client sent (subscriptions)
 *   TIME: JSON              a message received on the connection opened last
 *   URL -> TIME: JSON       a REST response (*.http.* files: depth snapshots)
 *
 * TIME is Unix seconds with a fraction ("1633998512.0633569"), read exactly into
 * nanoseconds (digits beyond the ninth decimal are dropped). URLs contain no spaces.
 * Files are plain or zstd-compressed (obi_textin). The JSON is not parsed here. */
#ifndef OBI_RECORDING_H
#define OBI_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

typedef enum { REC_CONNECT = 1, REC_SENT = 2, REC_RECEIVED = 3, REC_HTTP = 4 } rec_kind;

typedef struct {
  int kind;        /* rec_kind */
  int64_t recv_ns; /* the line's time, ns since the Unix epoch */
  /* The URL: the line's own for CONNECT, SENT and HTTP; for RECEIVED, rec_next gives the
   * URL of the connection opened last (rec_parse_line leaves it NULL, 0). */
  const char *url;
  size_t url_len;
  const char *json; /* the text after "TIME: " (NULL, 0 for CONNECT) */
  size_t json_len;
} rec_line;

/* Parses one line. OBI_EPARSE (why says what was expected) when it has none of the four
 * forms. The pointers point into line. */
obi_err rec_parse_line(const char *line, size_t len, rec_line *out, char *why, size_t why_len);

typedef struct rec_reader rec_reader;

/* Opens a recording (plain or zstd). OBI_ENOENT, OBI_EIO; why names the file. */
obi_err rec_open(rec_reader **out, const char *path, char *why, size_t why_len);
/* Reads a recording already in memory (data stays alive and unchanged until rec_close). */
obi_err rec_open_mem(rec_reader **out, const char *data, size_t len, const char *name);

/* The next non-empty line. OBI_OK, OBI_EEOF after the last, OBI_EPARSE / OBI_EIO with
 * rec_error() = "FILE:LINE: what was wrong". Pointers stay valid until the next call. */
obi_err rec_next(rec_reader *r, rec_line *out);
const char *rec_error(const rec_reader *r);
uint64_t rec_line_no(const rec_reader *r);
/* Fraction of the file read so far (0 when the size is unknown). */
double rec_progress(const rec_reader *r);
/* Closes the file and frees the reader. Accepts NULL. */
void rec_close(rec_reader *r);

/* 1 when the first non-empty line of the file at path is a recording line (a connection
 * or a REST response), 0 when it is not, a negative obi_err when it cannot be read. */
int rec_detect(const char *path);

#endif
