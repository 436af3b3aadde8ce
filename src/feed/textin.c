/* textin.c — streamed line reader over plain or zstd files (libzstd's streaming API).
 *
 * The reader keeps one window of decompressed text, buf[pos..end). A line is found
 * with memchr; when the window holds no complete line, the unread tail moves to the
 * front and the window is refilled from the file (through ZSTD_decompressStream for
 * compressed input). A file that does not end in a newline still yields its last line.
 * For in-memory input the window is the caller's buffer itself: nothing is copied. */
#include "obi/textin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#define TEXTIN_WINDOW (1u << 20) /* the longest accepted line */
#define TEXTIN_READ (1u << 17)

struct obi_textin {
  FILE *file;
  ZSTD_DCtx *zstd;
  char *buf; /* window (owned unless mem) */
  size_t pos, end, cap;
  char *zin; /* compressed input chunk */
  size_t zin_pos, zin_len;
  int zstd_frame_open; /* 1 while a frame is only partly decoded */
  int eof, mem;
  uint64_t line_no, bytes_read, bytes_total;
};

obi_err obi_textin_open_mem(obi_textin **out, const char *data, size_t len) {
  obi_textin *t = calloc(1, sizeof *t);
  if (!t) return OBI_ENOMEM;
  t->buf = (char *)data;
  t->end = t->cap = len;
  t->eof = t->mem = 1;
  t->bytes_read = t->bytes_total = len;
  *out = t;
  return OBI_OK;
}

obi_err obi_textin_open(obi_textin **out, const char *path) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return errno == ENOENT ? OBI_ENOENT : OBI_EIO;
  obi_textin *t = calloc(1, sizeof *t);
  if (!t) goto fail_nomem;
  t->file = f;
  t->cap = TEXTIN_WINDOW + TEXTIN_READ;
  t->buf = malloc(t->cap);
  if (!t->buf) goto fail_nomem;
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) t->bytes_total = (uint64_t)st.st_size;
  /* The first four bytes tell the format. They are kept (not re-read: pipes cannot seek):
   * as compressed input for zstd, as text otherwise. */
  unsigned char head[4];
  size_t got = fread(head, 1, 4, f);
  t->bytes_read = got;
  uint32_t magic = (uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 | (uint32_t)head[3] << 24;
  if (got == 4 && (magic == ZSTD_MAGICNUMBER || (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START)) {
    t->zstd = ZSTD_createDCtx();
    t->zin = malloc(ZSTD_DStreamInSize());
    if (!t->zstd || !t->zin) goto fail_nomem;
    memcpy(t->zin, head, 4);
    t->zin_len = 4;
  } else {
    memcpy(t->buf, head, got);
    t->end = got;
  }
  *out = t;
  return OBI_OK;
fail_nomem:
  if (t) {
    ZSTD_freeDCtx(t->zstd);
    free(t->zin);
    free(t->buf);
    free(t);
  }
  fclose(f);
  return OBI_ENOMEM;
}

/* Appends up to `room` bytes of text at buf+end. Returns bytes added (0 at end of input) or -1. */
static long textin_fill(obi_textin *t, size_t room) {
  if (!t->zstd) {
    size_t n = fread(t->buf + t->end, 1, room, t->file);
    if (n == 0 && ferror(t->file)) return -1;
    t->bytes_read += n;
    return (long)n;
  }
  ZSTD_outBuffer out = {t->buf + t->end, room, 0};
  for (;;) {
    int drained = 0;
    if (t->zin_pos == t->zin_len) {
      t->zin_len = fread(t->zin, 1, ZSTD_DStreamInSize(), t->file);
      t->zin_pos = 0;
      t->bytes_read += t->zin_len;
      if (t->zin_len == 0) {
        if (ferror(t->file)) return -1;
        if (!t->zstd_frame_open) return 0;
        drained = 1; /* no more input: let the decoder flush what it holds */
      }
    }
    ZSTD_inBuffer in = {t->zin, t->zin_len, t->zin_pos};
    size_t ret = ZSTD_decompressStream(t->zstd, &out, &in);
    t->zin_pos = in.pos;
    if (ZSTD_isError(ret)) return -1;
    t->zstd_frame_open = ret != 0;
    if (out.pos > 0) break;
    if (drained) return -1; /* the frame was cut short: an error, not an end */
  }
  return (long)out.pos;
}

obi_err obi_textin_line(obi_textin *t, const char **line, size_t *len) {
  for (;;) {
    char *start = t->buf + t->pos;
    char *nl = t->pos < t->end ? memchr(start, '\n', t->end - t->pos) : NULL;
    if (nl || (t->eof && t->pos < t->end)) {
      size_t n = nl ? (size_t)(nl - start) : t->end - t->pos;
      if (n > TEXTIN_WINDOW) {
        t->line_no++;
        return OBI_EPARSE;
      }
      t->pos += n + (nl != NULL);
      if (n > 0 && start[n - 1] == '\r') n--;
      t->line_no++;
      *line = start;
      *len = n;
      return OBI_OK;
    }
    if (t->eof) return OBI_EEOF;
    if (t->pos > 0) { /* keep the partial line, make room after it */
      memmove(t->buf, t->buf + t->pos, t->end - t->pos);
      t->end -= t->pos;
      t->pos = 0;
    }
    if (t->end >= TEXTIN_WINDOW) {
      t->line_no++;
      return OBI_EPARSE; /* no newline within the window: the line is too long */
    }
    long n = textin_fill(t, t->cap - t->end);
    if (n < 0) return OBI_EIO;
    if (n == 0) t->eof = 1;
    t->end += (size_t)n;
  }
}

uint64_t obi_textin_line_no(const obi_textin *t) { return t->line_no; }
uint64_t obi_textin_bytes_read(const obi_textin *t) { return t->bytes_read; }
uint64_t obi_textin_bytes_total(const obi_textin *t) { return t->bytes_total; }

void obi_textin_close(obi_textin *t) {
  if (!t) return;
  if (t->file) fclose(t->file);
  ZSTD_freeDCtx(t->zstd);
  free(t->zin);
  if (!t->mem) free(t->buf);
  free(t);
}
