/* lobster.c — LOBSTER parser and the replay that rebuilds the exact book from a
 * message file and its orderbook file (the method is described in lobster.h).
 *
 * Parsing is hand-written and strict: every field must be a plain decimal integer
 * (the time a decimal, rounded to the nanosecond), the field count must be
 * exact, and every error names the field and what was expected. Both files are read
 * in step, one line each per message. With verification every row is parsed and
 * checked in full; without, a row is parsed only where the replay needs it (see
 * lobster_next) and the others only have their columns counted. */
#include "obi/lobster.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const lobster_field_names[6] = {"time", "type", "order id", "size", "price", "direction"};

/* Eight ASCII bytes at once (SWAR): the number of leading decimal digits of the 64-bit
 * little-endian word x, 0..8. A byte b is a digit when b ^ '0' is at most 9: its high
 * nibble is 0 and adding 6 does not carry into the high nibble. A carry out of a
 * non-digit byte can only disturb later bytes, which do not change the first non-digit. */
__attribute__((always_inline)) static inline int swar_digit_run(uint64_t x) {
  uint64_t a = x ^ 0x3030303030303030ULL;
  uint64_t nondigit = (a | (a + 0x0606060606060606ULL)) & 0xF0F0F0F0F0F0F0F0ULL;
  return nondigit ? __builtin_ctzll(nondigit) >> 3 : 8;
}

/* The value of the first n (1..8) digits of x: shift them to the top so that the
 * missing digits become leading zeros, then combine neighbours pairwise:
 * bytes -> 2-digit lanes -> 4-digit lanes -> the 8-digit value. */
__attribute__((always_inline)) static inline uint64_t swar_digits_value(uint64_t x, int n) {
  uint64_t v = (x & 0x0F0F0F0F0F0F0F0FULL) << (8 * (8 - n));
  v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFULL;
  v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFULL;
  return (v * 10000 + (v >> 32)) & 0xFFFFFFFFULL;
}

static const uint64_t pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* The general case of scan_i64: any digit count, near the end of the line. */
__attribute__((noinline)) static const char *scan_digits_slow(const char *p, const char *end, uint64_t *out) {
  const char *start = p;
  uint64_t v = 0;
  while (p < end && (unsigned)(*p - '0') < 10 && p - start <= 18) v = v * 10 + (uint64_t)(*p++ - '0');
  if (p == start || p - start > 18) return NULL;
  *out = v;
  return p;
}

/* Parses an optionally negative decimal integer of at most 18 digits at p; returns the
 * end of the digits, or NULL when there are none or too many. The common cases, up to
 * 15 digits with 8 (16) bytes left in the line, take one (two) SWAR steps; nothing is
 * read past end. */
__attribute__((always_inline)) static inline const char *scan_i64(const char *p, const char *end, int64_t *out) {
  int neg = p < end && *p == '-';
  p += neg;
  uint64_t v;
  const char *q = NULL;
  if (end - p >= 8) {
    uint64_t x;
    memcpy(&x, p, 8);
    int n = swar_digit_run(x);
    if (n > 0 && n < 8) {
      v = swar_digits_value(x, n);
      q = p + n;
    } else if (n == 8 && end - p >= 16) { /* 8 to 15 digits: two words */
      uint64_t y;
      memcpy(&y, p + 8, 8);
      int m = swar_digit_run(y);
      if (m < 8) {
        v = swar_digits_value(x, 8);
        if (m > 0) v = v * pow10_u64[m] + swar_digits_value(y, m);
        q = p + 8 + m;
      }
    }
  }
  if (!q && !(q = scan_digits_slow(p, end, &v))) return NULL;
  if (neg && v == 0) return NULL; /* "-0" is not a number LOBSTER writes */
  *out = neg ? -(int64_t)v : (int64_t)v;
  return q;
}

static int report(char *why, size_t why_len, const char *fmt, ...) {
  if (why && why_len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
  }
  return 0;
}

/* The field starting at p, for messages: up to the next comma, at most 24 characters. */
static void quote_field(const char *p, const char *end, char *out, size_t out_len) {
  size_t n = 0;
  while (p + n < end && p[n] != ',' && n < 24 && n + 1 < out_len) n++;
  for (size_t i = 0; i < n; i++) out[i] = (p[i] >= 32 && p[i] < 127) ? p[i] : '?';
  out[n] = 0;
}

static obi_err field_error(const char *p, const char *end, int field, const char *expected, char *why, size_t why_len) {
  char found[32];
  quote_field(p, end, found, sizeof found);
  report(why, why_len, "field %d (%s): expected %s, found '%s'", field + 1, lobster_field_names[field], expected,
         found);
  return OBI_EPARSE;
}

obi_err lobster_parse_message(const char *line, size_t len, lobster_msg *m, char *why, size_t why_len) {
  const char *p = line, *end = line + len, *q;
  int64_t v[6];
  /* time: seconds '.' up to 9 decimals */
  int64_t secs, frac = 0;
  q = scan_i64(p, end, &secs);
  if (!q || secs < 0) return field_error(p, end, 0, "seconds after midnight", why, why_len);
  if (q < end && *q == '.') {
    /* LOBSTER writes up to 9 decimals, but some files carry binary floating-point
     * artefacts ("34397.878728270996"): digits beyond the 9th round to the nearest ns. */
    const char *d = ++q;
    int64_t digits_value;
    const char *after = scan_i64(q, end, &digits_value);
    if (after && *q != '-') {
      int digits = (int)(after - q);
      if (digits <= 9) {
        frac = digits_value * (int64_t)pow10_u64[9 - digits];
      } else { /* keep 9 digits, round on the 10th */
        int64_t scale = 1;
        for (int k = 9; k < digits; k++) scale *= 10;
        frac = digits_value / scale + (digits_value % scale >= scale / 2);
      }
      q = after;
    } else if (q < end && (unsigned)(*q - '0') < 10) {
      return field_error(p, end, 0, "at most 18 decimals", why, why_len);
    }
    if (q == d) return field_error(p, end, 0, "decimals after '.'", why, why_len);
  }
  if (secs > 7 * 86400) return field_error(p, end, 0, "seconds after midnight", why, why_len);
  v[0] = secs * 1000000000 + frac;
  for (int f = 1; f < 6; f++) {
    if (q == end) {
      report(why, why_len, "expected 6 fields, found %d", f);
      return OBI_EPARSE;
    }
    if (*q != ',') return field_error(p, end, f - 1, "a number followed by ','", why, why_len);
    p = q + 1;
    q = scan_i64(p, end, &v[f]);
    if (!q || (q < end && *q != ',')) return field_error(p, end, f, "an integer", why, why_len);
  }
  if (q != end) {
    report(why, why_len, "expected 6 fields, found more");
    return OBI_EPARSE;
  }
  m->time_ns = v[0];
  m->type = (int)v[1];
  m->order_id = v[2];
  m->size = v[3];
  m->price = v[4];
  m->direction = (int)v[5];
  if (v[1] < 1 || v[1] > 7) {
    report(why, why_len, "field 2 (type): unknown event type %lld (expected 1-7)", (long long)v[1]);
    return OBI_ERANGE;
  }
  if (v[5] != 1 && v[5] != -1) {
    report(why, why_len, "field 6 (direction): expected 1 or -1, found %lld", (long long)v[5]);
    return OBI_ERANGE;
  }
  if (m->type == 7) {
    if (m->price < -1 || m->price > 1) {
      report(why, why_len, "field 5 (price): a halt message (type 7) has price -1, 0 or 1, found %lld",
             (long long)m->price);
      return OBI_ERANGE;
    }
    return OBI_OK;
  }
  if (m->order_id < (m->type == 6 ? -1 : 0)) {
    report(why, why_len, "field 3 (order id): must not be negative, found %lld", (long long)m->order_id);
    return OBI_ERANGE;
  }
  if (m->size <= 0 && m->type != 6) {
    report(why, why_len, "field 4 (size): must be positive, found %lld", (long long)m->size);
    return OBI_ERANGE;
  }
  if (m->size > BOOK_MAX_QTY || m->price > BOOK_MAX_QTY) {
    report(why, why_len, "field %d (%s): larger than %lld", m->size > BOOK_MAX_QTY ? 4 : 5,
           m->size > BOOK_MAX_QTY ? "size" : "price", (long long)BOOK_MAX_QTY);
    return OBI_ERANGE;
  }
  if (m->size < 0 || m->price <= 0) {
    report(why, why_len,
           m->size < 0 ? "field 4 (size): must not be negative, found %lld"
                       : "field 5 (price): must be positive, found %lld",
           (long long)(m->size < 0 ? m->size : m->price));
    return OBI_ERANGE;
  }
  return OBI_OK;
}

int lobster_parse_book_row(const char *line, size_t len, int levels, int64_t *row, char *why, size_t why_len) {
  const char *p = line, *end = line + len;
  int max_cols = levels > 0 ? 4 * levels : 4 * LOBSTER_MAX_LEVELS, n = 0;
  for (;;) {
    int64_t v;
    const char *q = scan_i64(p, end, &v);
    if (!q || (q < end && *q != ',')) {
      char found[32];
      quote_field(p, end, found, sizeof found);
      report(why, why_len, "column %d: expected an integer, found '%s'", n + 1, found);
      return OBI_EPARSE;
    }
    if (n == max_cols) {
      report(why, why_len,
             levels > 0 ? "expected %d columns (%d levels), found more" : "more than %d columns (%d levels)", max_cols,
             max_cols / 4);
      return OBI_EPARSE;
    }
    row[n++] = v;
    if (q == end) break;
    p = q + 1;
  }
  if ((levels > 0 && n != 4 * levels) || n % 4 != 0) {
    if (levels > 0)
      report(why, why_len, "expected %d columns (%d levels), found %d", 4 * levels, levels, n);
    else
      report(why, why_len, "expected a multiple of 4 columns, found %d", n);
    return OBI_EPARSE;
  }
  int nl = n / 4;
  for (int side = 0; side < 2; side++) { /* side 0: asks (columns 0,1), side 1: bids (2,3) */
    int64_t dummy = side == 0 ? LOBSTER_DUMMY_ASK : LOBSTER_DUMMY_BID;
    const char *name = side == 0 ? "ask" : "bid";
    int empty_seen = 0;
    for (int k = 0; k < nl; k++) {
      int64_t price = row[4 * k + 2 * side], size = row[4 * k + 2 * side + 1];
      if (size < 0 || size > BOOK_MAX_QTY) {
        report(why, why_len, "%s size %d: must be between 0 and %lld, found %lld", name, k + 1, (long long)BOOK_MAX_QTY,
               (long long)size);
        return OBI_ERANGE;
      }
      if (size == 0) {
        if (price != dummy) {
          report(why, why_len, "%s level %d: size 0 needs the dummy price %lld, found %lld", name, k + 1,
                 (long long)dummy, (long long)price);
          return OBI_ERANGE;
        }
        empty_seen = 1;
        continue;
      }
      if (empty_seen || price <= 0 || price >= LOBSTER_DUMMY_ASK) {
        report(why, why_len,
               empty_seen ? "%s level %d: occupied after an empty level" : "%s level %d: price %lld out of range", name,
               k + 1, (long long)price);
        return OBI_ERANGE;
      }
      if (k > 0 && (side == 0 ? price <= row[4 * (k - 1)] : price >= row[4 * (k - 1) + 2])) {
        report(why, why_len, "%s level %d: price %lld is not worse than level %d", name, k + 1, (long long)price, k);
        return OBI_ERANGE;
      }
    }
  }
  if (row[1] > 0 && row[3] > 0 && row[2] >= row[0]) {
    report(why, why_len, "crossed book: best bid %lld >= best ask %lld", (long long)row[2], (long long)row[0]);
    return OBI_ECROSSED;
  }
  return nl;
}

void lobster_to_event(const lobster_msg *m, int64_t day_start_ns, obi_event *ev) {
  static const uint8_t types[8] = {OBI_EV_NONE, OBI_EV_ADD,         OBI_EV_CANCEL, OBI_EV_DELETE,
                                   OBI_EV_EXEC, OBI_EV_EXEC_HIDDEN, OBI_EV_TRADE,  OBI_EV_HALT};
  ev->ts_ns = day_start_ns + m->time_ns;
  ev->type = types[m->type];
  ev->side = m->direction == 1 ? OBI_BID : OBI_ASK;
  ev->price = m->price;
  ev->size = m->size;
  ev->order_id = m->order_id < 0 ? 0 : (uint64_t)m->order_id;
}

static int digits(const char *p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if ((unsigned)(p[i] - '0') >= 10) return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

int64_t lobster_day_start_ns(const char *path, int *found) {
  static const int month_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  *found = 0;
  for (const char *p = base; *p; p++) { /* "_YYYY-MM-DD_" */
    if (p[0] != '_' || strlen(p) < 12 || p[5] != '-' || p[8] != '-' || p[11] != '_') continue;
    int y = digits(p + 1, 4), mo = digits(p + 6, 2), d = digits(p + 9, 2);
    if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1]) continue;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) continue;
    *found = 1;
    int64_t days = obi_days_from_civil(y, mo, d);
    return (days * 86400 - obi_us_eastern_offset_s(y, mo, d)) * 1000000000LL;
  }
  return 0;
}

/* ---- the replay ------------------------------------------------------------------- */

struct lobster_replay {
  obi_textin *msgs, *book_in;
  char msg_name[512], book_name[512];
  lobster_options opt;
  int levels;
  int64_t day_start_ns;
  int64_t last_time_ns; /* of the previous message: times must not decrease */
  obi_book book;
  int book_ready;
  int64_t *row, *top, *mismatch_expected, *mismatch_book;
  lobster_stats stats;
  char err[1024];
  int failed;
  /* a message line read ahead by lobster_peek_time (valid until the next read of msgs) */
  int peeked;
  obi_err peek_err;
  const char *peek_line;
  size_t peek_len;
};

/* Statistics sums saturate instead of overflowing (sizes are at most BOOK_MAX_QTY). */
static inline void sat_add(int64_t *sum, int64_t x) { *sum = *sum > INT64_MAX - x ? INT64_MAX : *sum + x; }

static obi_err fail(lobster_replay *r, obi_err code, const char *name, uint64_t line, const char *fmt, ...) {
  char what[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (line)
    snprintf(r->err, sizeof r->err, "%s:%llu: %s", name, (unsigned long long)line, what);
  else
    snprintf(r->err, sizeof r->err, "%s: %s", name, what);
  r->failed = 1;
  return code;
}

obi_err lobster_open_readers(lobster_replay **out, obi_textin *msgs, const char *msg_name, obi_textin *book,
                             const char *book_name, const lobster_options *opt, char *err_msg, size_t err_len) {
  *out = NULL;
  lobster_replay *r = calloc(1, sizeof *r);
  obi_err err = OBI_ENOMEM;
  if (!r) goto fail;
  r->msgs = msgs;
  r->book_in = book;
  snprintf(r->msg_name, sizeof r->msg_name, "%s", msg_name);
  snprintf(r->book_name, sizeof r->book_name, "%s", book_name);
  if (opt)
    r->opt = *opt;
  else
    r->opt.day_from_name = 1;
  err = OBI_EINVAL;
  if (r->opt.levels < 0 || r->opt.levels > LOBSTER_MAX_LEVELS || r->opt.verify_levels < 0) {
    report(err_msg, err_len, "levels must be between 1 and %d", LOBSTER_MAX_LEVELS);
    goto fail;
  }
  int found = 0;
  if (r->opt.day_from_name) r->day_start_ns = lobster_day_start_ns(msg_name, &found);
  err = OBI_ENOMEM;
  size_t row_bytes = sizeof(int64_t) * 4 * LOBSTER_MAX_LEVELS;
  r->row = malloc(row_bytes);
  if (!r->row || book_init(&r->book, 4096)) goto fail;
  r->book_ready = 1;
  *out = r;
  return OBI_OK;
fail:
  if (err == OBI_ENOMEM) report(err_msg, err_len, "%s", obi_strerror(err));
  if (r) {
    lobster_close(r); /* closes both readers */
  } else {
    obi_textin_close(msgs);
    obi_textin_close(book);
  }
  return err;
}

obi_err lobster_open(lobster_replay **out, const char *msg_path, const char *book_path, const lobster_options *opt,
                     char *err_msg, size_t err_len) {
  obi_textin *msgs = NULL, *book = NULL;
  *out = NULL;
  obi_err err = obi_textin_open(&msgs, msg_path);
  if (err) {
    report(err_msg, err_len, "%s: cannot open: %s", msg_path, obi_strerror(err));
    return err;
  }
  err = obi_textin_open(&book, book_path);
  if (err) {
    obi_textin_close(msgs);
    report(err_msg, err_len, "%s: cannot open: %s", book_path, obi_strerror(err));
    return err;
  }
  return lobster_open_readers(out, msgs, msg_path, book, book_path, opt, err_msg, err_len);
}

/* The first row: size the buffers for the level count and load the row as the book. */
static obi_err start(lobster_replay *r, int levels, const lobster_msg *m, int64_t ts) {
  r->levels = r->opt.levels ? r->opt.levels : levels;
  if (r->opt.verify_levels == 0 || r->opt.verify_levels > r->levels) r->opt.verify_levels = r->levels;
  size_t n = (size_t)4 * r->levels;
  r->top = calloc(n, sizeof *r->top);
  r->mismatch_expected = calloc(n, sizeof *r->mismatch_expected);
  r->mismatch_book = calloc(n, sizeof *r->mismatch_book);
  if (!r->top || !r->mismatch_expected || !r->mismatch_book) return OBI_ENOMEM;
  for (int k = 0; k < r->levels; k++) {
    for (int side = 0; side < 2; side++) {
      int64_t price = r->row[4 * k + 2 * (side == OBI_BID)], size = r->row[4 * k + 2 * (side == OBI_BID) + 1];
      if (size == 0) continue;
      obi_err err = book_add_anon(&r->book, side, price, size, ts);
      if (err) return err;
      r->stats.levels_from_orderbook++;
      sat_add(&r->stats.size_from_orderbook, size);
    }
  }
  if (m->type == 1) { /* the row already holds the new order: take it out, then add it by id */
    int side = m->direction == 1 ? OBI_BID : OBI_ASK;
    obi_err err = book_reduce_anon(&r->book, side, m->price, m->size);
    if (err) return err;
    r->stats.size_from_orderbook -= m->size;
  }
  return OBI_OK;
}

/* Commas in a line, eight bytes at a time: a byte equal to ',' becomes 0 after the xor,
 * and (y & 0x7f..) + 0x7f.. sets the high bit of every non-zero byte without carries. */
static size_t count_commas(const char *line, size_t len) {
  size_t n = 0, i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t x;
    memcpy(&x, line + i, 8);
    uint64_t y = x ^ 0x2C2C2C2C2C2C2C2CULL;
    uint64_t nonzero = ((y & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL) | y;
    n += (size_t)((((~nonzero & 0x8080808080808080ULL) >> 7) * 0x0101010101010101ULL) >> 56);
  }
  for (; i < len; i++) n += line[i] == ',';
  return n;
}

/* Step 4 of lobster.h: levels below the known ones enter from the row. */
static obi_err fill_from_row(lobster_replay *r, int64_t ts) {
  for (int side = 0; side < 2; side++) {
    int col = side == OBI_BID ? 2 : 0;
    for (uint32_t k = book_depth(&r->book, side); k < (uint32_t)r->levels; k++) {
      int64_t price = r->row[4 * k + col], size = r->row[4 * k + col + 1];
      if (size == 0) break;
      const book_level *worst = book_level_at(&r->book, side, book_depth(&r->book, side) - 1);
      if (worst && (side == OBI_BID ? price >= worst->price : price <= worst->price)) break; /* verify reports it */
      obi_err err = book_add_anon(&r->book, side, price, size, ts);
      if (err) return err;
      r->stats.levels_from_orderbook++;
      sat_add(&r->stats.size_from_orderbook, size);
    }
  }
  return OBI_OK;
}

static void book_row(const lobster_replay *r, int64_t *out) {
  for (int k = 0; k < r->levels; k++) {
    out[4 * k + 0] = LOBSTER_DUMMY_ASK, out[4 * k + 1] = 0;
    out[4 * k + 2] = LOBSTER_DUMMY_BID, out[4 * k + 3] = 0;
  }
  for (int side = 0; side < 2; side++) {
    int col = side == OBI_BID ? 2 : 0;
    for (int k = 0; k < r->levels; k++) {
      const book_level *l = book_level_at(&r->book, side, (uint32_t)k);
      if (!l) break;
      out[4 * k + col] = l->price;
      out[4 * k + col + 1] = l->size;
    }
  }
}

static void verify(lobster_replay *r, uint64_t line) {
  int n = 4 * r->opt.verify_levels;
  book_row(r, r->top);
  r->stats.rows_verified++;
  if (memcmp(r->top, r->row, (size_t)n * sizeof *r->row) == 0) return;
  if (r->stats.mismatches++ == 0) {
    r->stats.first_mismatch_line = line;
    memcpy(r->mismatch_expected, r->row, (size_t)4 * r->levels * sizeof *r->row);
    memcpy(r->mismatch_book, r->top, (size_t)4 * r->levels * sizeof *r->top);
  }
}

/* Applies a message to the book (step 2 of lobster.h). */
static obi_err apply(lobster_replay *r, const lobster_msg *m, const obi_event *ev, uint64_t line) {
  obi_book *b = &r->book;
  obi_err err;
  switch (m->type) {
  case 1:
    err = book_add(b, ev->order_id, ev->side, ev->price, ev->size, ev->ts_ns);
    if (err == OBI_EDUP_ORDER)
      return fail(r, err, r->msg_name, line, "submission of order %lld, which is already in the book",
                  (long long)m->order_id);
    return err;
  case 2: err = book_cancel(b, ev->order_id, ev->size); break;
  case 3: err = book_delete(b, ev->order_id); break;
  case 4: err = book_execute(b, ev->order_id, ev->size); break;
  default: return OBI_OK; /* 5, 6, 7 leave the visible book unchanged */
  }
  if (err == OBI_EOVERFILL) {
    const book_order *o = book_find_order(b, ev->order_id);
    return fail(r, err, r->msg_name, line, "%s of %lld shares exceeds the %lld left of order %lld",
                m->type == 2 ? "cancellation" : "execution", (long long)m->size, (long long)(o ? o->size : 0),
                (long long)m->order_id);
  }
  if (err != OBI_EUNKNOWN_ORDER) return err;
  /* An order the replay never saw: its size comes out of the level's anonymous liquidity. */
  err = book_reduce_anon(b, ev->side, ev->price, ev->size);
  if (err == OBI_OK) {
    r->stats.unknown_order_msgs++;
    sat_add(&r->stats.unknown_order_size, m->size);
  } else {
    r->stats.unmatched_msgs++; /* the book stays as it was; verify shows any consequence */
  }
  return OBI_OK;
}

int lobster_peek_time(lobster_replay *r, int64_t *ts_ns) {
  if (r->failed) return 0;
  if (!r->peeked) {
    r->peek_err = obi_textin_line(r->msgs, &r->peek_line, &r->peek_len);
    r->peeked = 1;
  }
  if (r->peek_err) return 0;
  lobster_msg m;
  if (lobster_parse_message(r->peek_line, r->peek_len, &m, NULL, 0)) return 0; /* lobster_next reports it */
  *ts_ns = r->day_start_ns + m.time_ns;
  return 1;
}

obi_err lobster_next(lobster_replay *r, obi_event *ev) {
  if (r->failed) return OBI_EINVAL;
  const char *line, *row_line;
  size_t len, row_len;
  char why[512];
  obi_err err;
  if (r->peeked) {
    r->peeked = 0;
    err = r->peek_err, line = r->peek_line, len = r->peek_len;
  } else {
    err = obi_textin_line(r->msgs, &line, &len);
  }
  uint64_t line_no = obi_textin_line_no(r->msgs);
  if (err == OBI_EEOF) {
    err = obi_textin_line(r->book_in, &row_line, &row_len);
    if (err == OBI_EEOF) return OBI_EEOF;
    uint64_t row_no = obi_textin_line_no(r->book_in);
    if (err == OBI_OK)
      return fail(r, OBI_EPARSE, r->book_name, row_no, "more rows than the %llu messages of %s",
                  (unsigned long long)line_no, r->msg_name);
    return fail(r, err, r->book_name, row_no,
                err == OBI_EIO ? "read error (file truncated or corrupt?)" : "line longer than 1 MiB");
  }
  if (err)
    return fail(r, err, r->msg_name, line_no,
                err == OBI_EIO ? "read error (file truncated or corrupt?)" : "line longer than 1 MiB");
  lobster_msg m;
  err = lobster_parse_message(line, len, &m, why, sizeof why);
  if (err) return fail(r, err, r->msg_name, line_no, "%s", why);
  if (line_no > 1 && m.time_ns < r->last_time_ns) /* everything downstream assumes time never goes back */
    return fail(r, OBI_EPARSE, r->msg_name, line_no, "time %.9f s is earlier than the previous message's %.9f s",
                (double)m.time_ns * 1e-9, (double)r->last_time_ns * 1e-9);
  r->last_time_ns = m.time_ns;
  err = obi_textin_line(r->book_in, &row_line, &row_len);
  if (err == OBI_EEOF)
    return fail(r, OBI_EPARSE, r->book_name, line_no,
                "missing: the orderbook file ends before "
                "message %llu",
                (unsigned long long)line_no);
  if (err)
    return fail(r, err, r->book_name, line_no,
                err == OBI_EIO ? "read error (file truncated or corrupt?)" : "line longer than 1 MiB");
  /* Without verification a row is parsed only when the replay needs it (the first row,
   * or a side with fewer than N known levels); every other row has its columns counted. */
  int row_parsed = 0;
  if (r->levels == 0 || r->opt.verify) {
    int nl = lobster_parse_book_row(row_line, row_len, r->levels ? r->levels : r->opt.levels, r->row, why, sizeof why);
    if (nl < 0) return fail(r, nl, r->book_name, line_no, "%s", why);
    if (r->levels == 0) {
      lobster_to_event(&m, r->day_start_ns, ev);
      err = start(r, nl, &m, ev->ts_ns);
      if (err) return fail(r, err, r->book_name, line_no, "cannot start the book from this row: %s", obi_strerror(err));
    }
    row_parsed = 1;
  } else if (count_commas(row_line, row_len) != (size_t)4 * r->levels - 1) {
    int nl = lobster_parse_book_row(row_line, row_len, r->levels, r->row, why, sizeof why);
    return fail(r, nl < 0 ? nl : OBI_EPARSE, r->book_name, line_no, "%s", why);
  }
  lobster_to_event(&m, r->day_start_ns, ev);
  r->stats.messages++;
  r->stats.by_type[m.type]++;
  if (r->stats.messages > 1 || m.type == 1) err = apply(r, &m, ev, line_no);
  if (err) return r->failed ? err : fail(r, err, r->msg_name, line_no, "%s", obi_strerror(err));
  for (int side = 0; side < 2; side++) {
    if (book_depth(&r->book, side) <= (uint32_t)r->levels) continue;
    uint32_t before = r->book.map_count;
    r->stats.levels_forgotten += book_truncate(&r->book, side, (uint32_t)r->levels);
    r->stats.orders_forgotten += before - r->book.map_count;
  }
  if (book_depth(&r->book, OBI_BID) < (uint32_t)r->levels || book_depth(&r->book, OBI_ASK) < (uint32_t)r->levels) {
    if (!row_parsed) {
      int nl = lobster_parse_book_row(row_line, row_len, r->levels, r->row, why, sizeof why);
      if (nl < 0) return fail(r, nl, r->book_name, line_no, "%s", why);
    }
    err = fill_from_row(r, ev->ts_ns);
    if (err) return fail(r, err, r->book_name, line_no, "%s", obi_strerror(err));
  }
  if (book_crossed(&r->book)) {
    int64_t bid = 0, ask = 0;
    book_best(&r->book, OBI_BID, &bid, NULL);
    book_best(&r->book, OBI_ASK, &ask, NULL);
    return fail(r, OBI_ECROSSED, r->msg_name, line_no,
                "crossed book after this message: best bid %lld >= best ask %lld", (long long)bid, (long long)ask);
  }
  if (r->opt.verify) verify(r, line_no);
  return OBI_OK;
}

const obi_book *lobster_book(const lobster_replay *r) { return &r->book; }
const lobster_stats *lobster_get_stats(const lobster_replay *r) { return &r->stats; }
int lobster_levels(const lobster_replay *r) { return r->levels; }
const char *lobster_error(const lobster_replay *r) { return r->err; }
const int64_t *lobster_mismatch_expected(const lobster_replay *r) { return r->mismatch_expected; }
const int64_t *lobster_mismatch_book(const lobster_replay *r) { return r->mismatch_book; }

double lobster_progress(const lobster_replay *r) {
  uint64_t total = obi_textin_bytes_total(r->msgs);
  return total ? (double)obi_textin_bytes_read(r->msgs) / (double)total : 0.0;
}

void lobster_close(lobster_replay *r) {
  if (!r) return;
  obi_textin_close(r->msgs);
  obi_textin_close(r->book_in);
  if (r->book_ready) book_free(&r->book);
  free(r->row);
  free(r->top);
  free(r->mismatch_expected);
  free(r->mismatch_book);
  free(r);
}
