/* fuzz_lobster.c — libFuzzer harness for the LOBSTER parsers and the replay.
 *
 * The input is a message file and an orderbook file separated by the first NUL byte
 * (without one, the whole input is used as both). Every line goes through both line
 * parsers, then the pair is replayed with verification: any input must either be
 * rejected with an error message or leave a book that passes book_check after every
 * message. A crash, a sanitizer report or a failed check is a bug. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obi/lobster.h"

static int64_t row[4 * LOBSTER_MAX_LEVELS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const char *nul = memchr(text, 0, size);
  size_t msg_len = nul ? (size_t)(nul - text) : size;
  const char *book_text = nul ? nul + 1 : text;
  size_t book_len = nul ? size - msg_len - 1 : size;
  char why[256];

  /* the line parsers on every line of both parts */
  for (const char *p = text, *end = text + size; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    lobster_msg m;
    lobster_parse_message(p, len, &m, why, sizeof why);
    lobster_parse_book_row(p, len, 0, row, why, sizeof why);
    lobster_parse_book_row(p, len, 2, row, why, sizeof why);
    p += len + 1;
  }

  /* the whole replay */
  obi_textin *msgs, *book;
  if (obi_textin_open_mem(&msgs, text, msg_len)) return 0;
  if (obi_textin_open_mem(&book, book_text, book_len)) {
    obi_textin_close(msgs);
    return 0;
  }
  lobster_options opt = {.verify = 1};
  lobster_replay *r;
  if (lobster_open_readers(&r, msgs, "fuzz_message", book, "fuzz_orderbook", &opt, why, sizeof why)) return 0;
  obi_event ev;
  int n = 0;
  while (lobster_next(r, &ev) == OBI_OK && n++ < 100000) {
    if (book_check(lobster_book(r), why, sizeof why) != OBI_OK) {
      fprintf(stderr, "book_check failed after message %d: %s\n", n, why);
      abort();
    }
  }
  lobster_close(r);
  return 0;
}
