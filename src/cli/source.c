/* source.c — one instrument's events from a LOBSTER pair or a feed recording (see source.h). */
#include "source.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/feed.h"
#include "obi/live.h"
#include "obi/lobster.h"
#include "obi/recording.h"
#include "recsource.h"

typedef struct {
  obi_event ev;
  int end;           /* the last event of its message */
  uint32_t known[2]; /* at the end of the message: the levels known to be exact per side */
} queued;

struct obi_source {
  source_info info;
  const char *paths[2];
  /* LOBSTER */
  lobster_replay *lob;
  /* a recording or a live session: the feed's events of the chosen symbol wait here until read */
  rec_source rec;
  live *live;
  const feed *f;
  rec_counts counts;
  int sym, eof;
  queued *q;
  size_t head, tail, cap;
  int overflow;
  obi_book book;
  int book_ok;
  char err[1300];
};

static void on_event(void *ctx, int symbol_index, const obi_event *ev, const obi_book *book) {
  (void)book;
  obi_source *s = ctx;
  if (symbol_index != s->sym) return;
  if (s->tail == s->cap) {
    if (s->head > 0) { /* room at the front: move the waiting events down */
      memmove(s->q, s->q + s->head, (s->tail - s->head) * sizeof *s->q);
      s->tail -= s->head, s->head = 0;
    } else {
      size_t cap = s->cap ? s->cap * 2 : 1024;
      queued *q = realloc(s->q, cap * sizeof *q);
      if (!q) {
        s->overflow = 1;
        return;
      }
      s->q = q, s->cap = cap;
    }
  }
  s->q[s->tail++] = (queued){.ev = *ev};
}

/* A message is complete: the symbol's events of that message end there. */
static void on_message_end(void *ctx) {
  obi_source *s = ctx;
  if (s->tail == s->head || s->q[s->tail - 1].end) return;
  queued *last = &s->q[s->tail - 1];
  last->end = 1;
  last->known[0] = feed_known_depth(s->f, s->sym, OBI_BID);
  last->known[1] = feed_known_depth(s->f, s->sym, OBI_ASK);
}

/* Reads lines until an event waits or the recording ends; a live session is served once for up
 * to 100 ms. */
static obi_err fill(obi_source *s) {
  if (s->live && s->head == s->tail) {
    obi_err err = live_service(s->live, 100);
    if (s->overflow) err = OBI_ENOMEM;
    if (err == OBI_EEOF)
      s->eof = 1;
    else if (err) {
      snprintf(s->err, sizeof s->err, "%s: %s", live_url(s->live),
               live_error(s->live)[0] ? live_error(s->live) : obi_strerror(err));
      return err;
    }
    return OBI_OK;
  }
  while (s->head == s->tail && !s->eof) {
    char msg[1200] = "";
    obi_err err = recsource_step(&s->rec, msg, sizeof msg);
    if (s->overflow) {
      snprintf(s->err, sizeof s->err, "%s: out of memory", s->paths[0]);
      return OBI_ENOMEM;
    }
    if (err == OBI_EEOF) {
      s->eof = 1;
    } else if (err) {
      snprintf(s->err, sizeof s->err, "%s", msg);
      return err;
    }
  }
  return OBI_OK;
}

/* A feed's symbol: prices in units of 10^-pd (one unit the tick), sizes of 10^-sd, signed trades,
 * the book already cut at its known levels. */
static void feed_info(obi_source *s, int venue, int pd, int sd) {
  source_info *in = &s->info;
  in->recording = 1, in->signed_trades = 1, in->tracked_levels = 0, in->tick = 1;
  in->price_scale = pow(10, pd), in->size_scale = pow(10, sd);
  snprintf(in->symbol, sizeof in->symbol, "%s", feed_symbol_name(s->f, s->sym));
  snprintf(in->venue, sizeof in->venue, "%s", feed_venue_name(venue));
}

static obi_err open_recording(obi_source *s, const char *a, const char *b, const char *symbol, int venue) {
  char msg[1200] = "";
  if (recsource_open(&s->rec, a, b, venue, on_event, on_message_end, s, msg, sizeof msg)) {
    snprintf(s->err, sizeof s->err, "%s", msg);
    return OBI_EINVAL;
  }
  feed *f = s->rec.f;
  s->f = f;
  s->sym = -1;
  if (symbol) {
    s->sym = feed_find_symbol(f, symbol, strlen(symbol));
  } else { /* the only symbol with a book */
    int with_book = 0;
    for (int i = 0; i < feed_symbol_count(f); i++) {
      int pd, sd;
      feed_symbol_decimals(f, i, &pd, &sd);
      if (pd >= 0 && sd >= 0) s->sym = with_book++ ? s->sym : i;
    }
    if (with_book > 1) s->sym = -2;
  }
  int pd = -1, sd = -1;
  if (s->sym >= 0) feed_symbol_decimals(f, s->sym, &pd, &sd);
  if (s->sym < 0 || pd < 0 || sd < 0) {
    size_t used = (size_t)snprintf(s->err, sizeof s->err, "%s: %s; symbols with a book:", s->rec.ws_path,
                                   s->sym == -2 ? "several symbols, give --symbol"
                                   : symbol     ? "no book for that symbol in the recording"
                                                : "no symbol has a book");
    for (int i = 0; i < feed_symbol_count(f) && used < sizeof s->err; i++) {
      int p, q;
      feed_symbol_decimals(f, i, &p, &q);
      if (p >= 0 && q >= 0)
        used += (size_t)snprintf(s->err + used, sizeof s->err - used, " %s", feed_symbol_name(f, i));
    }
    return OBI_EINVAL;
  }
  feed_info(s, s->rec.venue, pd, sd);
  s->paths[0] = s->rec.ws_path, s->paths[1] = s->rec.http_path;
  if (book_init(&s->book, 0)) return OBI_ENOMEM;
  s->book_ok = 1;
  if (recsource_start(&s->rec, &s->counts, msg, sizeof msg)) {
    snprintf(s->err, sizeof s->err, "%s", msg);
    return OBI_EIO;
  }
  return OBI_OK;
}

obi_err source_open(obi_source **out, const char *a, const char *b, const char *symbol, int venue, char *why,
                    size_t why_len) {
  obi_source *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) return OBI_ENOMEM;
  s->paths[0] = a, s->paths[1] = b;
  obi_err err;
  if (rec_detect(a) == 1 || (b && rec_detect(b) == 1)) {
    err = open_recording(s, a, b, symbol, venue);
  } else if (!b) {
    snprintf(s->err, sizeof s->err, "%s: neither a feed recording nor a LOBSTER message file with its orderbook file",
             a);
    err = OBI_EINVAL;
  } else {
    lobster_options opt = {.day_from_name = 1};
    err = lobster_open(&s->lob, a, b, &opt, s->err, sizeof s->err);
    source_info *in = &s->info;
    if (!err) in->tracked_levels = lobster_levels(s->lob);
    in->price_scale = 10000, in->tick = 100, in->size_scale = 1;
    snprintf(in->venue, sizeof in->venue, "lobster");
    if (symbol) {
      snprintf(in->symbol, sizeof in->symbol, "%s", symbol);
    } else { /* AMZN from AMZN_2012-06-21_..._message_10.csv; else the name up to its first '_' or '.' */
      char day[64];
      cli_source_day(a, day, sizeof day);
      if (!day[0]) {
        const char *base = strrchr(a, '/');
        snprintf(day, sizeof day, "%s", base ? base + 1 : a);
        day[strcspn(day, ".")] = 0;
      }
      day[strcspn(day, "_")] = 0;
      snprintf(in->symbol, sizeof in->symbol, "%.31s", day);
    }
  }
  if (err) {
    snprintf(why, why_len, "%s", s->err);
    source_close(s);
    return err;
  }
  *out = s;
  return OBI_OK;
}

obi_err source_open_live(obi_source **out, int venue, const char *symbol, const char *endpoint,
                         const char *rest_endpoint, int price_decimals, int size_decimals, char *why, size_t why_len) {
  obi_source *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) return OBI_ENOMEM;
  if (book_init(&s->book, 0)) {
    free(s);
    return OBI_ENOMEM;
  }
  s->book_ok = 1;
  const char *syms[1] = {symbol};
  live_config cfg = {.venue = (feed_venue)venue,
                     .symbols = syms,
                     .n_symbols = 1,
                     .endpoint = endpoint,
                     .rest_endpoint = rest_endpoint};
  cfg.price_decimals = &price_decimals, cfg.size_decimals = &size_decimals;
  cfg.feed.on_event = on_event, cfg.feed.on_message_end = on_message_end, cfg.feed.ctx = s;
  obi_err err = live_new(&s->live, &cfg);
  if (err) {
    snprintf(why, why_len, "%s %s: cannot start the live session (%s: a bad symbol, endpoint or scale?)",
             feed_venue_name(venue), symbol, obi_strerror(err));
    source_close(s);
    return err;
  }
  s->f = live_feed(s->live);
  s->sym = 0;
  feed_info(s, venue, price_decimals, size_decimals);
  s->info.live = 1;
  s->paths[0] = live_url(s->live);
  *out = s;
  return OBI_OK;
}

obi_err source_next(obi_source *s, obi_event *ev, int *group_end, int64_t *next_ts) {
  if (s->lob) {
    obi_err err = lobster_next(s->lob, ev);
    if (err) return err;
    if (!s->info.tracked_levels) s->info.tracked_levels = lobster_levels(s->lob); /* known after the first */
    int64_t next;
    int more = lobster_peek_time(s->lob, &next);
    *next_ts = more ? next : INT64_MAX;
    *group_end = !more || next > ev->ts_ns;
    return OBI_OK;
  }
  obi_err err = fill(s);
  if (err) return err;
  if (s->head == s->tail) return s->eof ? OBI_EEOF : OBI_EAGAIN;
  queued it = s->q[s->head++];
  *ev = it.ev;
  if ((err = book_apply(&s->book, ev))) {
    snprintf(s->err, sizeof s->err, "%s: %s event of %s at %lld does not apply to the book (%s)", s->paths[0],
             obi_event_type_name(ev->type), s->info.symbol, (long long)ev->ts_ns, obi_strerror(err));
    return OBI_EINVARIANT;
  }
  *group_end = it.end;
  if (it.end) /* the venue's state: only its known levels */
    for (int side = 0; side < 2; side++) book_truncate(&s->book, side, it.known[side]);
  if (s->live) { /* the next event has not happened yet: it will be later than this one */
    *next_ts = s->head < s->tail ? s->q[s->head].ev.ts_ns : ev->ts_ns + 1;
    return OBI_OK;
  }
  if ((err = fill(s))) return err; /* the next event: read ahead to its message */
  *next_ts = s->head < s->tail ? s->q[s->head].ev.ts_ns : INT64_MAX;
  return OBI_OK;
}

const obi_book *source_book(const obi_source *s) { return s->lob ? lobster_book(s->lob) : &s->book; }
const source_info *source_get_info(const obi_source *s) { return &s->info; }
double source_progress(const obi_source *s) {
  return s->lob ? lobster_progress(s->lob) : s->live ? 0 : recsource_progress(&s->rec);
}
const char *source_error(const obi_source *s) { return s->lob ? lobster_error(s->lob) : s->err; }
uint64_t source_skipped(const obi_source *s, const char **first) {
  *first = s->counts.errors_reported ? s->counts.first_error : "";
  return s->counts.errors_reported;
}

void source_warn_skipped(const obi_source *s) { recsource_warn_skipped(&s->counts); }

uint64_t source_resyncs(const obi_source *s) {
  return s->f && s->sym >= 0 ? feed_symbol_get_stats(s->f, s->sym)->resyncs : 0;
}
const char *source_path(const obi_source *s, int which) { return s->paths[which ? 1 : 0]; }

void source_close(obi_source *s) {
  if (!s) return;
  lobster_close(s->lob);
  recsource_close(&s->rec);
  if (s->live) {
    live_stop(s->live);
    for (int i = 0; i < 20 && live_service(s->live, 50) == OBI_OK; i++) continue; /* a clean close, briefly */
    live_free(s->live);
  }
  if (s->book_ok) book_free(&s->book);
  free(s->q);
  free(s);
}
