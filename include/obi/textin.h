/* textin.h — line-by-line reading of text files, plain or zstd-compressed.
 *
 * The format is detected from the content (the zstd frame magic), not the file name,
 * and compressed files are decompressed as a stream through a fixed buffer, so a
 * day of data never has to fit in memory. Lines are returned without the line
 * terminator ("\n" or "\r\n"). A reader can also wrap a buffer already in memory
 * (benchmarks, fuzzing). */
#ifndef OBI_TEXTIN_H
#define OBI_TEXTIN_H

#include <stddef.h>
#include <stdint.h>

#include "obi/error.h"

typedef struct obi_textin obi_textin;

/* Opens path. OBI_ENOENT if it does not exist, OBI_EIO if it cannot be read.
 * The reader owns the file until obi_textin_close. */
obi_err obi_textin_open(obi_textin **out, const char *path);

/* Reads from [data, data + len), which the caller keeps alive and unchanged until close.
 * Plain text only; line pointers point into data. */
obi_err obi_textin_open_mem(obi_textin **out, const char *data, size_t len);

/* The next line: *line points into the reader's buffer (valid until the next call),
 * *len excludes the terminator. Returns OBI_OK, OBI_EEOF after the last line, OBI_EIO
 * on a read or decompression error (a truncated zstd frame included), OBI_EPARSE for
 * a line longer than 1 MiB. Lines may contain any byte but '\n' (NUL included): the
 * parsers that consume them reject what they do not expect. */
obi_err obi_textin_line(obi_textin *t, const char **line, size_t *len);

/* Number of the line last returned (1-based; 0 before the first). */
uint64_t obi_textin_line_no(const obi_textin *t);

/* Bytes of input consumed so far (compressed bytes for zstd) and the file size (0 if unknown). */
uint64_t obi_textin_bytes_read(const obi_textin *t);
uint64_t obi_textin_bytes_total(const obi_textin *t);

/* Closes the file and frees the reader. Accepts NULL. */
void obi_textin_close(obi_textin *t);

#endif
