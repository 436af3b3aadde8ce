/* why.h — the format readers' error helper: writes a message into the caller's why buffer (if
 * any) and returns the error code, so that a failure is one line: return why_fail(...). */
#ifndef OBI_FORMAT_WHY_H
#define OBI_FORMAT_WHY_H

#include <stdarg.h>
#include <stdio.h>

#include "obi/error.h"

static inline obi_err why_fail(char *why, size_t why_len, obi_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline obi_err why_fail(char *why, size_t why_len, obi_err err, const char *fmt, ...) {
  if (why && why_len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
  }
  return err;
}

#endif
