/* feed.c — what every venue of the feed shares: exact decimals, symbols and their scales,
 * errors that name the venue, symbol and field, the three steps of a message (parse into
 * items, scale, apply; see feed_internal.h), books, snapshots, gaps, known depth, and the
 * transport's questions (which snapshot to fetch, whether to resubscribe).
 *
 * Invariants: a symbol's book is only changed in step 3, so a message rejected in steps 1
 * or 2 leaves every book as it was; every SNAPSHOT_BEGIN emitted for a symbol is followed
 * by exactly one SNAPSHOT_END, when a snapshot makes the book whole again (a gap or a
 * reset emits BEGIN at once: consumers learn immediately that the book is not valid);
 * a symbol's scale, once set, never changes (prices of one symbol are always comparable). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feed_internal.h"

static const char *const venue_names[FEED__VENUE_COUNT] = {"binance-spot", "binance-futures", "coinbase-exchange",
                                                           "coinbase-advanced"};

const char *feed_venue_name(int venue) { return venue >= 0 && venue < FEED__VENUE_COUNT ? venue_names[venue] : "?"; }

static int has_prefix(const char *s, size_t len, const char *prefix) {
  size_t n = strlen(prefix);
  return len >= n && strncasecmp(s, prefix, n) == 0;
}

static int has_suffix(const char *s, size_t len, const char *suffix) {
  size_t n = strlen(suffix);
  return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

int feed_venue_from_url(const char *url, size_t len) {
  static const char *const schemes[] = {"wss://", "ws://", "https://", "http://"};
  const char *p = url, *end = url + len;
  for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
    if (has_prefix(p, len, schemes[i])) {
      p += strlen(schemes[i]);
      break;
    }
  const char *h = p;
  while (p < end && *p != '/' && *p != ':' && *p != '?') p++;
  size_t hl = (size_t)(p - h);
  if (has_suffix(h, hl, "binance.com") || has_suffix(h, hl, "binance.us") || has_suffix(h, hl, "binance.vision")) {
    if (has_prefix(h, hl, "fstream") || has_prefix(h, hl, "fapi") || has_prefix(h, hl, "dstream") ||
        has_prefix(h, hl, "dapi"))
      return FEED_BINANCE_FUTURES;
    return FEED_BINANCE_SPOT;
  }
  if (has_suffix(h, hl, "coinbase.com")) {
    if (has_prefix(h, hl, "advanced-trade-ws")) return FEED_COINBASE_ADVANCED;
    if (has_prefix(h, hl, "ws-feed")) return FEED_COINBASE_EXCHANGE;
  }
  return -1;
}

/* ---- exact decimals ---------------------------------------------------------------- */

#define DEC_LIMIT 1000000000000000000LL /* 10^18: the largest mantissa kept */
#define DEC_MAX_DECIMALS 18

/* "123.4500" -> {12345, 2}. Digits, optionally '.' and at least one digit; nothing else.
 * OBI_EPARSE for anything else, OBI_ERANGE when the digits exceed 10^18 or a non-zero
 * digit sits beyond the 18th decimal. */
obi_err feed__dec_parse(const char *s, size_t len, feed_dec *out) {
  size_t i = 0;
  int64_t m = 0;
  while (i < len && (unsigned)(s[i] - '0') < 10) {
    int d = s[i++] - '0';
    if (m > (DEC_LIMIT - d) / 10) return OBI_ERANGE;
    m = m * 10 + d;
  }
  if (i == 0) return OBI_EPARSE;
  int32_t dec = 0;
  if (i < len) {
    if (s[i++] != '.') return OBI_EPARSE;
    size_t start = i, pos = 0, zeros = 0;
    while (i < len && (unsigned)(s[i] - '0') < 10) {
      int d = s[i++] - '0';
      pos++;
      if (d == 0) {
        zeros++;
        continue;
      }
      if (pos > DEC_MAX_DECIMALS) return OBI_ERANGE;
      for (size_t k = 0; k <= zeros; k++) {
        if (m > DEC_LIMIT / 10) return OBI_ERANGE;
        m *= 10;
      }
      if (m > DEC_LIMIT - d) return OBI_ERANGE;
      m += d;
      dec = (int32_t)pos;
      zeros = 0;
    }
    if (i == start || i < len) return OBI_EPARSE;
  }
  out->mant = m;
  out->dec = dec;
  return OBI_OK;
}

/* d in units of 10^-decimals; OBI_ERANGE when d needs more decimals or exceeds max. */
static obi_err dec_scale(feed_dec d, int decimals, int64_t max, int64_t *out) {
  if (d.dec > decimals) return OBI_ERANGE;
  int64_t v = d.mant;
  for (int k = d.dec; k < decimals; k++) {
    if (v > max / 10) return OBI_ERANGE;
    v *= 10;
  }
  if (v > max) return OBI_ERANGE;
  *out = v;
  return OBI_OK;
}

obi_err feed_parse_decimal(const char *s, size_t len, int decimals, int64_t max, int64_t *out) {
  feed_dec d;
  if (decimals < 0 || decimals > DEC_MAX_DECIMALS || max < 0) return OBI_EINVAL;
  obi_err err = feed__dec_parse(s, len, &d);
  return err ? err : dec_scale(d, decimals, max, out);
}

int feed_format_decimal(int64_t v, int decimals, char *buf) {
  char digits[24];
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  int n = 0, len = 0;
  do {
    digits[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u || n <= decimals);
  int frac_end = 0; /* digits[0..frac_end) are trailing zeros of the fraction */
  while (frac_end < decimals && digits[frac_end] == '0') frac_end++;
  if (v < 0) buf[len++] = '-';
  for (int i = n - 1; i >= decimals; i--) buf[len++] = digits[i];
  if (frac_end < decimals) {
    buf[len++] = '.';
    for (int i = decimals - 1; i >= frac_end; i--) buf[len++] = digits[i];
  }
  buf[len] = 0;
  return len;
}

/* ---- errors ------------------------------------------------------------------------- */

static void verror(feed *f, int sym, const char *fmt, va_list ap) {
  int n;
  if (sym >= 0)
    n = snprintf(f->err, sizeof f->err, "%s %s: ", venue_names[f->venue], f->syms[sym]->name);
  else
    n = snprintf(f->err, sizeof f->err, "%s: ", venue_names[f->venue]);
  if (n > 0 && (size_t)n < sizeof f->err) vsnprintf(f->err + n, sizeof f->err - (size_t)n, fmt, ap);
}

void feed__set_error(feed *f, int sym, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verror(f, sym, fmt, ap);
  va_end(ap);
}

obi_err feed__malformed(feed *f, int sym, obi_err code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verror(f, sym, fmt, ap);
  va_end(ap);
  f->stats.malformed++;
  if (sym >= 0) f->syms[sym]->stats.malformed++;
  return code;
}

/* s[0..len) for an error message: at most 40 bytes, non-printable bytes as '?'. */
static void quote(const char *s, size_t len, char *out, size_t cap) {
  size_t n = len < 40 ? len : 40, k = 0;
  for (size_t i = 0; i < n && k + 4 < cap; i++) out[k++] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
  if (n < len && k + 4 < cap) out[k++] = '.', out[k++] = '.', out[k++] = '.';
  out[k] = 0;
}

static const char *json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a real number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  }
  return "?";
}

/* ---- the feed and its symbols ------------------------------------------------------- */

obi_err feed_new(feed **out, feed_venue venue, const feed_config *cfg) {
  *out = NULL;
  if ((int)venue < 0 || venue >= FEED__VENUE_COUNT) return OBI_EINVAL;
  feed *f = calloc(1, sizeof *f);
  if (!f) return OBI_ENOMEM;
  f->venue = venue;
  if (cfg) f->cfg = *cfg;
  if (!f->cfg.max_buffered) f->cfg.max_buffered = 10000;
  f->capraw = 256; /* never NULL, so that f->raw + first is always a valid pointer */
  f->raw = malloc(f->capraw * sizeof *f->raw);
  f->lev = malloc(f->capraw * sizeof *f->lev);
  if (!f->raw || !f->lev) {
    feed_free(f);
    return OBI_ENOMEM;
  }
  f->stats.last_sequence = -1;
  *out = f;
  return OBI_OK;
}

static void sym_free(feed_sym *s) {
  if (!s) return;
  book_free(&s->book);
  free(s->buf);
  free(s->buf_levels);
  free(s);
}

void feed_free(feed *f) {
  if (!f) return;
  for (int i = 0; i < f->nsyms; i++) sym_free(f->syms[i]);
  free(f->syms);
  free(f->items);
  free(f->raw);
  free(f->lev);
  free(f);
}

int feed_find_symbol(const feed *f, const char *name, size_t len) {
  for (int i = 0; i < f->nsyms; i++) {
    const char *n = f->syms[i]->name;
    if (strlen(n) == len && strncasecmp(n, name, len) == 0) return i;
  }
  return -1;
}

static int add_symbol(feed *f, const char *name, size_t len, int pdec, int sdec) {
  if (len == 0 || len >= sizeof f->syms[0]->name || pdec < -1 || pdec > DEC_MAX_DECIMALS || sdec < -1 ||
      sdec > DEC_MAX_DECIMALS || (pdec < 0) != (sdec < 0))
    return OBI_EINVAL;
  for (size_t i = 0; i < len; i++)
    if (name[i] <= 32 || name[i] >= 127) return OBI_EINVAL;
  if (feed_find_symbol(f, name, len) >= 0) return OBI_EDUP_ORDER;
  if (f->nsyms == f->capsyms) {
    int cap = f->capsyms ? 2 * f->capsyms : 8;
    feed_sym **syms = realloc(f->syms, (size_t)cap * sizeof *syms);
    if (!syms) return OBI_ENOMEM;
    f->syms = syms;
    f->capsyms = cap;
  }
  feed_sym *s = calloc(1, sizeof *s);
  if (!s) return OBI_ENOMEM;
  if (book_init(&s->book, 256)) {
    free(s);
    return OBI_ENOMEM;
  }
  memcpy(s->name, name, len);
  s->pdec = pdec;
  s->sdec = sdec;
  s->scan_pdec = s->scan_sdec = -1;
  s->state = FEED_SYM_WAIT;
  s->known_key[0] = s->known_key[1] = INT64_MIN;
  f->syms[f->nsyms] = s;
  return f->nsyms++;
}

int feed_add_symbol(feed *f, const char *symbol, int price_decimals, int size_decimals) {
  if (!f || !symbol) return OBI_EINVAL;
  return add_symbol(f, symbol, strlen(symbol), price_decimals, size_decimals);
}

obi_err feed__symbol(feed *f, const char *name, size_t len, int *sym) {
  int i = feed_find_symbol(f, name, len);
  *sym = -1;
  if (i < 0) {
    if (!f->cfg.add_unknown_symbols) {
      f->stats.unknown_symbol++;
      return OBI_OK;
    }
    i = add_symbol(f, name, len, -1, -1);
    if (i == OBI_EINVAL) { /* a name no venue uses: the message is malformed */
      char q[48];
      quote(name, len, q, sizeof q);
      return feed__malformed(f, -1, OBI_EPARSE, "symbol '%s' is not a symbol name", q);
    }
    if (i < 0) return i;
  }
  feed_sym *s = f->syms[i];
  if (s->msg_serial != f->msg_serial) {
    s->msg_serial = f->msg_serial;
    s->stats.messages++;
  }
  *sym = i;
  return OBI_OK;
}

/* ---- step 1: fields ------------------------------------------------------------------ */

obi_err feed__get_string(feed *f, int sym, json_t *obj, const char *key, const char *ctx, const char **s, size_t *len) {
  json_t *v = json_object_get(obj, key);
  if (!v) return feed__malformed(f, sym, OBI_EPARSE, "%s: field '%s' is missing", ctx, key);
  if (!json_is_string(v))
    return feed__malformed(f, sym, OBI_EPARSE, "%s: field '%s' must be a string, found %s", ctx, key,
                           json_type_name(v));
  *s = json_string_value(v);
  *len = json_string_length(v);
  return OBI_OK;
}

obi_err feed__get_int(feed *f, int sym, json_t *obj, const char *key, const char *ctx, int64_t *out) {
  json_t *v = json_object_get(obj, key);
  if (!v) return feed__malformed(f, sym, OBI_EPARSE, "%s: field '%s' is missing", ctx, key);
  if (!json_is_integer(v))
    return feed__malformed(f, sym, OBI_EPARSE, "%s: field '%s' must be an integer, found %s", ctx, key,
                           json_type_name(v));
  if (json_integer_value(v) < 0)
    return feed__malformed(f, sym, OBI_ERANGE, "%s: field '%s' must not be negative, found %lld", ctx, key,
                           (long long)json_integer_value(v));
  *out = json_integer_value(v);
  return OBI_OK;
}

obi_err feed__get_array(feed *f, int sym, json_t *obj, const char *key, const char *ctx, json_t **arr) {
  json_t *v = json_object_get(obj, key);
  if (!v) return feed__malformed(f, sym, OBI_EPARSE, "%s: field '%s' is missing", ctx, key);
  if (!json_is_array(v))
    return feed__malformed(f, sym, OBI_EPARSE, "%s: field '%s' must be an array, found %s", ctx, key,
                           json_type_name(v));
  *arr = v;
  return OBI_OK;
}

obi_err feed__dec(feed *f, int sym, json_t *v, const char *ctx, const char *what, size_t idx, feed_dec *out) {
  if (!json_is_string(v))
    return feed__malformed(f, sym, OBI_EPARSE, "%s: %s (entry %zu) must be a decimal string, found %s", ctx, what, idx,
                           v ? json_type_name(v) : "nothing");
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  obi_err err = feed__dec_parse(s, len, out);
  if (err) {
    char q[48];
    quote(s, len, q, sizeof q);
    return feed__malformed(f, sym, err, "%s: %s (entry %zu) '%s' %s", ctx, what, idx, q,
                           err == OBI_ERANGE ? "has more than 18 digits or decimals"
                                             : "is not a decimal number (digits, optionally '.' and digits)");
  }
  return OBI_OK;
}

obi_err feed__add_item(feed *f, int kind, int sym, feed_item **out) {
  if (f->nitems == f->capitems) {
    uint32_t cap = f->capitems ? 2 * f->capitems : 8;
    feed_item *items = realloc(f->items, cap * sizeof *items);
    if (!items) return OBI_ENOMEM;
    f->items = items;
    f->capitems = cap;
  }
  feed_item *it = &f->items[f->nitems++];
  memset(it, 0, sizeof *it);
  it->kind = (uint8_t)kind;
  it->sym = sym;
  it->first = f->nraw;
  it->pdec = it->sdec = -1;
  *out = it;
  return OBI_OK;
}

obi_err feed__add_raw(feed *f, feed_item *it, feed_dec price, feed_dec size, int side) {
  if (f->nraw == f->capraw) {
    if (f->capraw >= (1u << 30)) return OBI_ENOMEM;
    uint32_t cap = 2 * f->capraw;
    feed_raw_level *raw = realloc(f->raw, cap * sizeof *raw);
    if (!raw) return OBI_ENOMEM;
    f->raw = raw;
    feed_level *lev = realloc(f->lev, cap * sizeof *lev);
    if (!lev) return OBI_ENOMEM;
    f->lev = lev;
    f->capraw = cap;
  }
  f->raw[f->nraw++] = (feed_raw_level){price, size, (uint8_t)side};
  it->n++;
  return OBI_OK;
}

obi_err feed__levels_pairs(feed *f, feed_item *it, json_t *arr, int side, const char *ctx, const char *key) {
  size_t n = json_array_size(arr);
  char what[48];
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(arr, i);
    if (!json_is_array(e) || json_array_size(e) < 2)
      return feed__malformed(f, it->sym, OBI_EPARSE, "%s: %s[%zu] must be a [price, size] array, found %s", ctx, key, i,
                             json_is_array(e) ? "a shorter array" : json_type_name(e));
    /* The hot path of every depth message: the field's name is written only for an error
     * (formatting it for every level cost a fifth of the parse). */
    feed_dec p, q;
    json_t *pv = json_array_get(e, 0), *qv = json_array_get(e, 1);
    obi_err err;
    if (!json_is_string(pv) || feed__dec_parse(json_string_value(pv), json_string_length(pv), &p)) {
      snprintf(what, sizeof what, "%s price", key);
      return feed__dec(f, it->sym, pv, ctx, what, i, &p);
    }
    if (!json_is_string(qv) || feed__dec_parse(json_string_value(qv), json_string_length(qv), &q)) {
      snprintf(what, sizeof what, "%s size", key);
      return feed__dec(f, it->sym, qv, ctx, what, i, &q);
    }
    if ((err = feed__add_raw(f, it, p, q, side))) return err;
  }
  return OBI_OK;
}

/* ---- step 2: scales ------------------------------------------------------------------ */

static const char *const kind_names[4] = {"", "snapshot", "update", "trade"};

obi_err feed__scale_items(feed *f) {
  /* A snapshot of a symbol without a scale fixes the scale for the rest of this message
   * (tent_*); it is committed when the snapshot is applied. */
  int tent_sym = -1, tent_pdec = -1, tent_sdec = -1;
  for (uint32_t k = 0; k < f->nitems; k++) {
    feed_item *it = &f->items[k];
    feed_sym *s = f->syms[it->sym];
    int pdec = s->pdec, sdec = s->sdec;
    if (pdec < 0 && tent_sym == it->sym) pdec = tent_pdec, sdec = tent_sdec;
    if (pdec < 0 && it->kind == FEED_ITEM_SNAPSHOT) {
      pdec = sdec = 0; /* the most decimals of any value in the snapshot and the buffer */
      for (uint32_t i = it->first; i < it->first + it->n; i++) {
        if (f->raw[i].price.dec > pdec) pdec = f->raw[i].price.dec;
        if (f->raw[i].size.dec > sdec) sdec = f->raw[i].size.dec;
      }
      for (uint32_t i = 0; i < s->nbuf_levels; i++) {
        if (s->buf_levels[i].price.dec > pdec) pdec = s->buf_levels[i].price.dec;
        if (s->buf_levels[i].size.dec > sdec) sdec = s->buf_levels[i].size.dec;
      }
      tent_sym = it->sym, tent_pdec = pdec, tent_sdec = sdec;
    }
    if (pdec < 0) continue; /* no scale yet: the venue buffers or drops the item */
    it->pdec = pdec;
    it->sdec = sdec;
    int trade = it->kind == FEED_ITEM_TRADE;
    for (uint32_t i = it->first; i < it->first + it->n; i++) {
      const feed_raw_level *r = &f->raw[i];
      feed_level *l = &f->lev[i];
      l->side = r->side;
      for (int field = 0; field < 2; field++) {
        feed_dec d = field ? r->size : r->price;
        int decimals = field ? sdec : pdec;
        int64_t *v = field ? &l->size : &l->price;
        const char *name = field ? "size" : "price";
        char text[24];
        if (d.dec > decimals) {
          feed_format_decimal(d.mant, d.dec, text);
          return feed__malformed(
              f, it->sym, OBI_ERANGE, "%s: %s %s (entry %u) has %d decimals, more than the symbol's scale of %d%s",
              kind_names[it->kind], name, text, i - it->first, d.dec, decimals,
              s->pdec < 0 || s->scale_learned ? " (learned from the first snapshot; configure the scale)" : "");
        }
        if (dec_scale(d, decimals, BOOK_MAX_QTY, v)) {
          feed_format_decimal(d.mant, d.dec, text);
          return feed__malformed(f, it->sym, OBI_ERANGE, "%s: %s %s (entry %u) exceeds %lld units of 10^-%d",
                                 kind_names[it->kind], name, text, i - it->first, (long long)BOOK_MAX_QTY, decimals);
        }
        if (*v == 0 && (field == 0 || trade)) {
          return feed__malformed(f, it->sym, OBI_ERANGE, "%s: %s (entry %u) must be positive, found 0",
                                 kind_names[it->kind], name, i - it->first);
        }
      }
    }
  }
  return OBI_OK;
}

void feed__scan_items(feed *f) {
  for (uint32_t k = 0; k < f->nitems; k++) {
    const feed_item *it = &f->items[k];
    feed_sym *s = f->syms[it->sym];
    for (uint32_t i = it->first; i < it->first + it->n; i++) {
      if (f->raw[i].price.dec > s->scan_pdec) s->scan_pdec = f->raw[i].price.dec;
      if (f->raw[i].size.dec > s->scan_sdec) s->scan_sdec = f->raw[i].size.dec;
    }
  }
}

/* ---- step 3: books and events ----------------------------------------------------- */

void feed__emit(feed *f, int sym, int type, int side, int64_t price, int64_t size, int64_t ts_ns) {
  if (!f->cfg.on_event) return;
  obi_event ev = {.ts_ns = ts_ns, .type = (uint8_t)type, .side = (uint8_t)side, .price = price, .size = size};
  f->cfg.on_event(f->cfg.ctx, sym, &ev, &f->syms[sym]->book);
}

obi_err feed__apply_levels(feed *f, int sym, const feed_level *lev, uint32_t n, int64_t ts_ns) {
  feed_sym *s = f->syms[sym];
  for (uint32_t i = 0; i < n; i++) {
    const feed_level *l = &lev[i];
    if (l->size == 0 && !book_find_level(&s->book, l->side, l->price)) continue;
    obi_err err = book_set_level(&s->book, l->side, l->price, l->size, ts_ns);
    if (err) { /* allocation failure: the book is no longer exact */
      feed__set_error(f, sym, "the book could not be updated (%s); resynchronising", obi_strerror(err));
      feed__gap(f, sym, 0, ts_ns);
      return err;
    }
    feed__emit(f, sym, OBI_EV_LEVEL_SET, l->side, l->price, l->size, ts_ns);
  }
  return OBI_OK;
}

void feed__check_crossed(feed *f, int sym) {
  feed_sym *s = f->syms[sym];
  s->stats.crossed_checks++;
  if (book_crossed(&s->book)) s->stats.crossed++;
}

obi_err feed__apply_snapshot(feed *f, const feed_item *it, int64_t ts_ns, int binance_limits) {
  int sym = it->sym;
  feed_sym *s = f->syms[sym];
  if (s->pdec < 0) {
    s->pdec = it->pdec;
    s->sdec = it->sdec;
    s->scale_learned = 1;
  }
  book_clear(&s->book);
  if (!s->snapshot_open) {
    s->snapshot_open = 1;
    feed__emit(f, sym, OBI_EV_SNAPSHOT_BEGIN, 0, 0, 0, ts_ns);
  }
  /* Venues list the best level first; inserting from the worst end appends to the
   * book's sorted arrays instead of shifting them. */
  uint32_t per_side[2] = {0, 0};
  int64_t worst[2] = {INT64_MAX, INT64_MAX};
  for (uint32_t i = it->first + it->n; i-- > it->first;) {
    const feed_level *l = &f->lev[i];
    if (l->size == 0) continue;
    int64_t key = l->side == OBI_BID ? l->price : -l->price;
    per_side[l->side]++;
    if (key < worst[l->side]) worst[l->side] = key;
    obi_err err = feed__apply_levels(f, sym, l, 1, ts_ns);
    if (err) return err;
  }
  for (int side = 0; side < 2; side++) {
    int cut =
        binance_limits && per_side[side] > 0 && (f->cfg.snapshot_limit == 0 || per_side[side] >= f->cfg.snapshot_limit);
    s->known_key[side] = cut ? worst[side] : INT64_MIN;
  }
  s->snapshot_open = 0;
  feed__emit(f, sym, OBI_EV_SNAPSHOT_END, 0, 0, 0, ts_ns);
  s->stats.snapshots_applied++;
  if (s->gap_pending) {
    s->gap_pending = 0;
    s->stats.resyncs++;
  }
  feed__check_crossed(f, sym);
  return OBI_OK;
}

static void clear_book(feed *f, int sym, int64_t ts_ns) {
  feed_sym *s = f->syms[sym];
  book_clear(&s->book);
  if (!s->snapshot_open) {
    s->snapshot_open = 1;
    feed__emit(f, sym, OBI_EV_SNAPSHOT_BEGIN, 0, 0, 0, ts_ns);
  }
  s->state = FEED_SYM_WAIT;
  s->request_in_flight = 0;
  s->last_id = 0;
}

void feed__gap(feed *f, int sym, int first_event, int64_t ts_ns) {
  feed_sym *s = f->syms[sym];
  s->stats.gaps++;
  if (first_event) s->stats.gaps_first_event++;
  s->gap_pending = 1;
  clear_book(f, sym, ts_ns);
}

void feed__trade(feed *f, const feed_item *it, int64_t ts_ns) {
  feed_sym *s = f->syms[it->sym];
  if (it->pdec < 0 || it->n != 1) { /* no scale yet (learned from a snapshot to come) */
    s->stats.dropped_unsynced++;
    return;
  }
  const feed_level *l = &f->lev[it->first];
  s->stats.trades++;
  feed__emit(f, it->sym, OBI_EV_TRADE, l->side, l->price, l->size, ts_ns);
}

/* ---- entry points -------------------------------------------------------------------- */

static obi_err check_books(feed *f) {
  if (!f->cfg.check_books) return OBI_OK;
  for (int i = 0; i < f->nsyms; i++) {
    char why[256]; /* a crossed book is the venue's data, counted in stats.crossed; not checked */
    if (!book_crossed(&f->syms[i]->book) && book_check(&f->syms[i]->book, why, sizeof why)) {
      feed__set_error(f, i, "book invariant violated: %s", why);
      return OBI_EINVARIANT;
    }
  }
  return OBI_OK;
}

static json_t *load_json(feed *f, int sym, const char *text, size_t len) {
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) feed__malformed(f, sym, OBI_EPARSE, "not valid JSON: %s (byte %d)", je.text, je.position);
  return root;
}

static obi_err on_message(feed *f, int64_t recv_ns, const char *text, size_t len) {
  f->stats.messages++;
  f->stats.last_recv_ns = recv_ns;
  f->msg_serial++;
  f->nitems = f->nraw = 0;
  obi_err err;
  if ((f->venue == FEED_BINANCE_SPOT || f->venue == FEED_BINANCE_FUTURES) && !f->cfg.no_fast_path && text &&
      feed__binance_fast(f, recv_ns, text, len, &err))
    return err ? err : check_books(f);
  json_t *root = load_json(f, -1, text ? text : "", len);
  if (!root) return OBI_EPARSE;
  switch (f->venue) {
  case FEED_BINANCE_SPOT:
  case FEED_BINANCE_FUTURES: err = feed__binance_message(f, recv_ns, root); break;
  case FEED_COINBASE_EXCHANGE: err = feed__coinbase_exchange_message(f, recv_ns, root); break;
  default: err = feed__coinbase_advanced_message(f, recv_ns, root); break;
  }
  json_decref(root);
  return err ? err : check_books(f);
}

static obi_err on_snapshot(feed *f, int symbol, int64_t recv_ns, const char *text, size_t len) {
  f->stats.snapshots++;
  f->stats.last_recv_ns = recv_ns;
  f->msg_serial++;
  f->nitems = f->nraw = 0;
  feed_sym *s = f->syms[symbol];
  s->msg_serial = f->msg_serial;
  s->stats.messages++;
  s->request_in_flight = 0;
  json_t *root = load_json(f, symbol, text ? text : "", len);
  if (!root) return OBI_EPARSE;
  obi_err err = feed__binance_snapshot(f, symbol, recv_ns, root);
  json_decref(root);
  return err ? err : check_books(f);
}

/* The message's events have all been delivered: the books are between updates. */
static void message_end(feed *f) {
  if (f->cfg.on_message_end) f->cfg.on_message_end(f->cfg.ctx);
}

obi_err feed_on_message(feed *f, int64_t recv_ns, const char *text, size_t len) {
  if (!f || (!text && len)) return OBI_EINVAL;
  obi_err err = on_message(f, recv_ns, text, len);
  message_end(f);
  return err;
}

obi_err feed_on_snapshot(feed *f, int symbol, int64_t recv_ns, const char *text, size_t len) {
  if (!f || symbol < 0 || symbol >= f->nsyms || (!text && len) ||
      (f->venue != FEED_BINANCE_SPOT && f->venue != FEED_BINANCE_FUTURES))
    return OBI_EINVAL;
  obi_err err = on_snapshot(f, symbol, recv_ns, text, len);
  message_end(f);
  return err;
}

int feed_snapshot_wanted(feed *f, int *symbol) {
  if (!f || (f->venue != FEED_BINANCE_SPOT && f->venue != FEED_BINANCE_FUTURES) || f->cfg.scan_only) return 0;
  for (int i = 0; i < f->nsyms; i++) {
    feed_sym *s = f->syms[i];
    if (s->state == FEED_SYM_WAIT && !s->request_in_flight) {
      s->request_in_flight = 1;
      *symbol = i;
      return 1;
    }
  }
  return 0;
}

void feed_snapshot_failed(feed *f, int symbol) {
  if (f && symbol >= 0 && symbol < f->nsyms) f->syms[symbol]->request_in_flight = 0;
}

int feed_resubscribe_wanted(feed *f) {
  if (!f || !f->resubscribe_wanted) return 0;
  f->resubscribe_wanted = 0;
  return 1;
}

void feed_reset(feed *f, int64_t recv_ns) {
  if (!f) return;
  f->stats.resets++;
  f->stats.last_sequence = -1;
  f->resubscribe_wanted = 0;
  for (int i = 0; i < f->nsyms; i++) {
    feed_sym *s = f->syms[i];
    s->stats.buffer_dropped += s->nbuf;
    s->nbuf = s->nbuf_levels = 0;
    if (s->state != FEED_SYM_WAIT || book_depth(&s->book, OBI_BID) || book_depth(&s->book, OBI_ASK))
      clear_book(f, i, recv_ns);
    s->state = FEED_SYM_WAIT;
    s->request_in_flight = 0;
  }
  message_end(f);
}

/* ---- accessors ------------------------------------------------------------------------ */

int feed_symbol_count(const feed *f) { return f->nsyms; }
const char *feed_symbol_name(const feed *f, int symbol) { return f->syms[symbol]->name; }
const obi_book *feed_book(const feed *f, int symbol) { return &f->syms[symbol]->book; }
int feed_synced(const feed *f, int symbol) { return f->syms[symbol]->state != FEED_SYM_WAIT; }
const feed_symbol_stats *feed_symbol_get_stats(const feed *f, int symbol) { return &f->syms[symbol]->stats; }
const feed_conn_stats *feed_get_stats(const feed *f) { return &f->stats; }
const char *feed_last_error(const feed *f) { return f->err; }

void feed_symbol_decimals(const feed *f, int symbol, int *price_decimals, int *size_decimals) {
  const feed_sym *s = f->syms[symbol];
  int scanned = f->cfg.scan_only && s->pdec < 0;
  *price_decimals = scanned ? s->scan_pdec : s->pdec;
  *size_decimals = scanned ? s->scan_sdec : s->sdec;
}

uint32_t feed_known_depth(const feed *f, int symbol, int side) {
  const feed_sym *s = f->syms[symbol];
  if (s->state == FEED_SYM_WAIT || (side != OBI_BID && side != OBI_ASK)) return 0;
  const book_side *bs = &s->book.sides[side];
  int64_t key = s->known_key[side];
  if (key == INT64_MIN) return bs->n;
  uint32_t lo = 0, hi = bs->n; /* keys ascend, the best is last: count the keys >= key */
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (bs->prices[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return bs->n - lo;
}

uint64_t feed_book_digest(const feed *f, int symbol) {
  const feed_sym *s = f->syms[symbol];
  if (s->pdec < 0 || s->sdec < 0) return 0;
  uint64_t h = 1469598103934665603ULL; /* FNV-1a offset basis and prime (Fowler, Noll, Vo) */
  for (int side = 0; side < 2; side++)
    for (uint32_t k = 0; k < book_depth(&s->book, side); k++) {
      const book_level *l = book_level_at(&s->book, side, k);
      char line[64];
      size_t n = 0;
      line[n++] = side == OBI_BID ? 'B' : 'A';
      line[n++] = ' ';
      n += (size_t)feed_format_decimal(l->price, s->pdec, line + n);
      line[n++] = ' ';
      n += (size_t)feed_format_decimal(l->size, s->sdec, line + n);
      line[n++] = '\n';
      for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)line[i]) * 1099511628211ULL;
    }
  return h;
}
