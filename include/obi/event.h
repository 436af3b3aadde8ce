/* event.h — the normalised market event and the instrument it refers to.
 *
 * Every source (LOBSTER files, exchange feeds, recordings, Kafka) is turned into
 * a stream of obi_event. Prices and sizes are integers: ticks and lots in the
 * instrument's own units (obi_instrument holds the scales), so the book never
 * rounds. Time is int64 nanoseconds since the Unix epoch (UTC). */
#ifndef OBI_EVENT_H
#define OBI_EVENT_H

#include <stdint.h>

/* Event types. 1..7 coincide with LOBSTER's message types where the meaning is the same. */
typedef enum {
  OBI_EV_NONE = 0,
  OBI_EV_ADD = 1,            /* new resting limit order (order_id, side, price, size) */
  OBI_EV_CANCEL = 2,         /* partial cancel: size is the amount removed */
  OBI_EV_DELETE = 3,         /* order removed entirely; size is what it had (informational) */
  OBI_EV_EXEC = 4,           /* visible execution against a resting order: size executed */
  OBI_EV_EXEC_HIDDEN = 5,    /* execution against hidden liquidity: book unchanged */
  OBI_EV_TRADE = 6,          /* trade print without a resting order (cross, auction, feed trade) */
  OBI_EV_HALT = 7,           /* trading state: price -1 halt, 0 quoting resumes, 1 trading resumes */
  OBI_EV_LEVEL_SET = 8,      /* L2 update: size is the new total at price; 0 removes the level */
  OBI_EV_SNAPSHOT_BEGIN = 9, /* the following LEVEL_SET events form a full snapshot */
  OBI_EV_SNAPSHOT_END = 10,
  OBI_EV__COUNT
} obi_event_type;

typedef enum { OBI_BID = 0, OBI_ASK = 1 } obi_side;

typedef struct {
  int64_t ts_ns;     /* event time, ns since the Unix epoch */
  uint8_t type;      /* obi_event_type */
  uint8_t side;      /* obi_side of the resting order or level; for trades the resting side */
  int64_t price;     /* ticks of instrument.price_scale */
  int64_t size;      /* lots of instrument.size_scale */
  uint64_t order_id; /* 0 where the source has no order ids */
} obi_event;

typedef struct {
  char symbol[32];
  int64_t price_scale; /* integer price units per currency unit (LOBSTER: 10000) */
  int64_t size_scale;  /* integer size units per base unit (shares: 1) */
  int64_t tick;        /* minimum price increment in price units (US equities above $1: 100) */
} obi_instrument;

/* "add", "cancel", ... ; "?" for values outside the enum. */
const char *obi_event_type_name(int type);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t obi_days_from_civil(int year, int month, int day);

/* UTC offset in seconds of US Eastern time (NASDAQ, NYSE) at local midnight of the
 * given date: -4 h under daylight saving time, -5 h otherwise, using the rules in
 * force since 2007 (second Sunday of March to first Sunday of November, Energy
 * Policy Act of 2005) and the 1987-2006 rules before. Midnight is never inside a
 * transition (they happen at 02:00), so the offset of the whole trading day is this one. */
int obi_us_eastern_offset_s(int year, int month, int day);

#endif
