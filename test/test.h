/* test.h — the test framework: a test is a void function; CHECK records a failure with
 * file and line and returns from the test. Every test is listed once in tests.h. */
#ifndef OBI_TEST_H
#define OBI_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

void test_fail(const char *file, int line, const char *fmt, ...);
void test_skip(const char *reason);
/* A scratch directory for this run (created on first use, removed at exit). */
const char *test_tmpdir(void);
/* Runs "obi <args>" from the source directory through the shell; returns its exit code and
 * leaves what it printed in test_out / test_err. */
int test_run_obi(const char *args);
extern char test_out[1 << 16], test_err[1 << 14];

/* Writes text to <tmpdir>/name and returns the path (static buffer per call slot). */
const char *test_write_file(const char *name, const char *text);
/* The text of the file at path (at most 1 MiB, in a buffer reused by the next call), or NULL
 * when it cannot be opened. */
const char *test_read_file(const char *path);

#define CHECK(cond)                                                                                                    \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                                               \
      return;                                                                                                          \
    }                                                                                                                  \
  } while (0)

#define CHECK_EQ(a, b)                                                                                                 \
  do {                                                                                                                 \
    long long a_ = (long long)(a), b_ = (long long)(b);                                                                \
    if (a_ != b_) {                                                                                                    \
      test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", #a, #b, a_, b_);                                 \
      return;                                                                                                          \
    }                                                                                                                  \
  } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                                                \
  do {                                                                                                                 \
    const char *h_ = (hay);                                                                                            \
    if (!h_ || !strstr(h_, (needle))) {                                                                                \
      test_fail(__FILE__, __LINE__, "'%s' does not contain '%s'", h_ ? h_ : "(null)", (needle));                       \
      return;                                                                                                          \
    }                                                                                                                  \
  } while (0)

#endif
