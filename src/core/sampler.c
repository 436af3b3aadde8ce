/* sampler.c — the sampling clock of feature rows (features.h), shared by `obi features`, the
 * backtest and the live service so that a model sees rows taken exactly as in training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obi/features.h"

static int parse_count(const char *s, long hi, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < 1 || v > hi) return -1;
  *out = v;
  return 0;
}

obi_err feat_sampler_parse(feat_sampler *s, const char *spec, int split_timestamps) {
  memset(s, 0, sizeof *s);
  s->split_timestamps = split_timestamps;
  snprintf(s->spec, sizeof s->spec, "%s", spec);
  long v;
  if (!strcmp(spec, "every"))
    s->kind = FEAT_SAMPLE_EVERY;
  else if (!strcmp(spec, "trades"))
    s->kind = FEAT_SAMPLE_TRADES;
  else if (!strcmp(spec, "mid"))
    s->kind = FEAT_SAMPLE_MID;
  else if (!strncmp(spec, "events:", 7) && !parse_count(spec + 7, 1000000000, &v))
    s->kind = FEAT_SAMPLE_EVENTS, s->n = v;
  else if (!strncmp(spec, "time:", 5) && !parse_count(spec + 5, 86400000, &v))
    s->kind = FEAT_SAMPLE_TIME, s->n = v * 1000000LL;
  else
    return OBI_EPARSE;
  return OBI_OK;
}

int feat_sampler_take(feat_sampler *s, const obi_event *ev, const obi_book *b, int group_end) {
  s->events++;
  if (s->kind == FEAT_SAMPLE_EVERY) s->pending = 1;
  if (s->kind == FEAT_SAMPLE_EVENTS && s->events % (uint64_t)s->n == 0) s->pending = 1;
  if (s->kind == FEAT_SAMPLE_TRADES &&
      (ev->type == OBI_EV_EXEC || ev->type == OBI_EV_EXEC_HIDDEN || ev->type == OBI_EV_TRADE))
    s->pending = 1;
  if (!group_end && !s->split_timestamps) return 0;
  int64_t bid, ask;
  int both = book_best(b, OBI_BID, &bid, NULL) && book_best(b, OBI_ASK, &ask, NULL);
  int take = 0;
  if (both) {
    switch (s->kind) {
    case FEAT_SAMPLE_EVERY:
    case FEAT_SAMPLE_EVENTS:
    case FEAT_SAMPLE_TRADES: take = s->pending; break;
    case FEAT_SAMPLE_MID: take = bid + ask != s->last_bid + s->last_ask; break;
    case FEAT_SAMPLE_TIME:
      take = ev->ts_ns >= s->next_t;
      if (take) s->next_t = (ev->ts_ns / s->n + 1) * s->n;
      break;
    }
    s->last_bid = bid, s->last_ask = ask;
  }
  s->pending = 0;
  return take;
}
