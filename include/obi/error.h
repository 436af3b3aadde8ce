/* error.h — error codes shared by every obi module.
 *
 * Library functions return an obi_err: 0 on success, a negative code otherwise.
 * The codes live in one X-macro table so that the enum, the names and the
 * messages can never drift apart. Library code never prints; where a caller
 * needs more than the code (file, line, field), the module offers a message
 * buffer of its own (see lobster.h). */
#ifndef OBI_ERROR_H
#define OBI_ERROR_H

#define OBI_ERRNO_MAP(X)                                                                                               \
  X(OK, 0, "success")                                                                                                  \
  X(NOMEM, -1, "out of memory")                                                                                        \
  X(IO, -2, "input/output error")                                                                                      \
  X(NOENT, -3, "no such file")                                                                                         \
  X(PARSE, -4, "malformed input")                                                                                      \
  X(RANGE, -5, "value out of range")                                                                                   \
  X(INVAL, -6, "invalid argument")                                                                                     \
  X(EOF, -7, "end of input")                                                                                           \
  X(UNKNOWN_ORDER, -8, "unknown order id")                                                                             \
  X(DUP_ORDER, -9, "duplicate order id")                                                                               \
  X(OVERFILL, -10, "size exceeds the order or level")                                                                  \
  X(CROSSED, -11, "crossed book")                                                                                      \
  X(INVARIANT, -12, "book invariant violated")                                                                         \
  X(UNSUPPORTED, -13, "unsupported")                                                                                   \
  X(AGAIN, -14, "nothing yet, try again")

typedef enum {
#define OBI__ERR_ENUM(name, code, msg) OBI_E##name = code,
  OBI_ERRNO_MAP(OBI__ERR_ENUM)
#undef OBI__ERR_ENUM
} obi_err_code;

/* Every fallible function returns one of the codes above as an int. */
typedef int obi_err;

/* A short English message for err; never NULL ("unknown error" for codes outside the table). */
const char *obi_strerror(obi_err err);

/* The symbolic name ("OBI_EPARSE"); never NULL. */
const char *obi_err_name(obi_err err);

#define OBI_OK OBI_EOK

#endif
