/* event.c — names and small helpers shared by every module: error messages, event
 * type names, and the calendar arithmetic that turns an exchange's local date into
 * Unix time. Nothing here allocates. */
#include "obi/event.h"
#include "obi/error.h"

const char *obi_strerror(obi_err err) {
  switch (err) {
#define OBI__ERR_MSG(name, code, msg)                                                                                  \
  case code: return msg;
    OBI_ERRNO_MAP(OBI__ERR_MSG)
#undef OBI__ERR_MSG
  default: return "unknown error";
  }
}

const char *obi_err_name(obi_err err) {
  switch (err) {
#define OBI__ERR_NAME(name, code, msg)                                                                                 \
  case code: return "OBI_E" #name;
    OBI_ERRNO_MAP(OBI__ERR_NAME)
#undef OBI__ERR_NAME
  default: return "OBI_E?";
  }
}

const char *obi_event_type_name(int type) {
  static const char *const names[OBI_EV__COUNT] = {"none",        "add",   "cancel", "delete",    "exec",
                                                   "exec_hidden", "trade", "halt",   "level_set", "snapshot_begin",
                                                   "snapshot_end"};
  return type >= 0 && type < OBI_EV__COUNT ? names[type] : "?";
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar: count days in
 * 400-year eras starting on March 1 so that the leap day falls at the end of a year. */
int64_t obi_days_from_civil(int year, int month, int day) {
  int64_t y = year - (month <= 2);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                            /* [0, 399] */
  int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1; /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                    /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

/* Day of the month of the n-th Sunday (n >= 1) of a month. 1970-01-01 was a Thursday. */
static int nth_sunday(int year, int month, int n) {
  int64_t first = obi_days_from_civil(year, month, 1);
  int weekday = (int)(((first % 7) + 7 + 4) % 7); /* 0 = Sunday */
  return 1 + (7 - weekday) % 7 + 7 * (n - 1);
}

int obi_us_eastern_offset_s(int year, int month, int day) {
  int start_month, start_day, end_month, end_day;
  if (year >= 2007) { /* second Sunday of March .. first Sunday of November */
    start_month = 3, start_day = nth_sunday(year, 3, 2);
    end_month = 11, end_day = nth_sunday(year, 11, 1);
  } else { /* 1987-2006: first Sunday of April .. last Sunday of October */
    start_month = 4, start_day = nth_sunday(year, 4, 1);
    end_month = 10, end_day = nth_sunday(year, 10, 4);
    if (end_day + 7 <= 31) end_day += 7;
  }
  int64_t d = obi_days_from_civil(year, month, day);
  /* At local midnight the change of the start day has not happened yet (02:00), the
   * change of the end day has not either: DST covers (start_day, end_day]. */
  int dst = d > obi_days_from_civil(year, start_month, start_day) && d <= obi_days_from_civil(year, end_month, end_day);
  return dst ? -4 * 3600 : -5 * 3600;
}
