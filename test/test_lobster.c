/* test_lobster.c — the LOBSTER parser, calendar helpers, the line reader, and the replay:
 * each step of the method in lobster.h on a small hand-made pair of files, detection of
 * a wrong orderbook row, and 0 mismatches at every level on the bundled and shared data. */
#include <dirent.h>
#include <stdlib.h>

#include "obi/lobster.h"
#include "test.h"

void lobster_parse_message_fields(void) {
  lobster_msg m;
  char why[256];
  const char *line = "34200.18960767,1,11885113,21,2238100,1";
  CHECK_EQ(lobster_parse_message(line, strlen(line), &m, why, sizeof why), OBI_OK);
  CHECK_EQ(m.time_ns, 34200189607670LL);
  CHECK_EQ(m.type, 1);
  CHECK_EQ(m.order_id, 11885113);
  CHECK_EQ(m.size, 21);
  CHECK_EQ(m.price, 2238100);
  CHECK_EQ(m.direction, 1);
  line = "34200.017459617,5,0,1,2238200,-1";
  CHECK_EQ(lobster_parse_message(line, strlen(line), &m, why, sizeof why), OBI_OK);
  CHECK_EQ(m.time_ns, 34200017459617LL);
  CHECK_EQ(m.direction, -1);
  line = "34397.878728270996,3,1,1,1,1"; /* a floating-point artefact in real MSFT data: rounds */
  CHECK_EQ(lobster_parse_message(line, strlen(line), &m, why, sizeof why), OBI_OK);
  CHECK_EQ(m.time_ns, 34397878728271LL);
  line = "36023,7,0,0,-1,-1"; /* trading halt */
  CHECK_EQ(lobster_parse_message(line, strlen(line), &m, why, sizeof why), OBI_OK);
  CHECK_EQ(m.type, 7);
  CHECK_EQ(m.price, -1);
  CHECK_EQ(m.time_ns, 36023000000000LL);
}

static void expect_bad_message(const char *line, const char *needle, int *ok) {
  lobster_msg m;
  char why[256] = "";
  obi_err err = lobster_parse_message(line, strlen(line), &m, why, sizeof why);
  *ok = err != OBI_OK && strstr(why, needle) != NULL;
  if (!*ok) printf("# '%s' -> %s '%s', wanted '%s'\n", line, obi_err_name(err), why, needle);
}

void lobster_parse_message_rejects_bad_rows(void) {
  static const char *const cases[][2] = {
      {"34200.1,1,5,10", "expected 6 fields, found 4"},
      {"", "field 1 (time)"},
      {"34200.1,1,5,abc,2238100,1", "field 4 (size): expected an integer, found 'abc'"},
      {"34200.1,1,5,10x,2238100,1", "field 4 (size): expected an integer, found '10x'"},
      {"x34200.1,1,5,10,2238100,1", "field 1 (time)"},
      {"34200.,1,5,10,2238100,1", "field 1 (time)"},
      {"34200.1,9,5,10,2238100,1", "unknown event type 9"},
      {"34200.1,0,5,10,2238100,1", "unknown event type 0"},
      {"34200.1,1,5,-10,2238100,1", "field 4 (size): must be positive, found -10"},
      {"34200.1,1,5,0,2238100,1", "field 4 (size): must be positive"},
      {"34200.1,1,5,10,-2238100,1", "field 5 (price): must be positive"},
      {"34200.1,1,-5,10,2238100,1", "field 3 (order id): must not be negative"},
      {"34200.1,1,5,10,2238100,0", "field 6 (direction): expected 1 or -1"},
      {"34200.1,1,5,10,2238100,1,7", "found more"},
      {"34200.1,7,0,0,5,-1", "halt message"},
      {"34200.1,1,5,1234567890123456789012,2238100,1", "field 4 (size)"},
      {"34200.1234567890123456789,1,5,10,2238100,1", "at most 18 decimals"},
      {"-0.5,1,5,10,2238100,1", "field 1 (time)"},
      {"34200.1,1,-0,10,2238100,1", "field 3 (order id)"},
      {"34200.1,1,5,10000000000000000,2238100,1", "field 4 (size): larger than"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int ok;
    expect_bad_message(cases[i][0], cases[i][1], &ok);
    CHECK(ok);
  }
}

void lobster_parse_book_row_checks(void) {
  static int64_t row[4 * LOBSTER_MAX_LEVELS];
  char why[256] = "";
  const char *line = "2239500,100,2231800,100,2239900,100,2230700,200";
  CHECK_EQ(lobster_parse_book_row(line, strlen(line), 0, row, why, sizeof why), 2);
  CHECK_EQ(row[0], 2239500);
  CHECK_EQ(row[7], 200);
  CHECK_EQ(lobster_parse_book_row(line, strlen(line), 2, row, why, sizeof why), 2);
  CHECK(lobster_parse_book_row(line, strlen(line), 3, row, why, sizeof why) < 0);
  CHECK_STR_CONTAINS(why, "expected 12 columns (3 levels), found 8");
  CHECK(lobster_parse_book_row(line, strlen(line), 1, row, why, sizeof why) < 0);
  CHECK_STR_CONTAINS(why, "expected 4 columns (1 levels), found more");
  line = "2239500,100,2231800";
  CHECK(lobster_parse_book_row(line, strlen(line), 0, row, why, sizeof why) < 0);
  CHECK_STR_CONTAINS(why, "multiple of 4 columns, found 3");
  line = "9999999999,0,2231800,100,9999999999,0,-9999999999,0"; /* empty levels are fine */
  CHECK_EQ(lobster_parse_book_row(line, strlen(line), 2, row, why, sizeof why), 2);
  line = "2231800,100,2231800,100";
  CHECK_EQ(lobster_parse_book_row(line, strlen(line), 1, row, why, sizeof why), OBI_ECROSSED);
  CHECK_STR_CONTAINS(why, "crossed book");
  line = "2239500,0,2231800,100";
  CHECK(lobster_parse_book_row(line, strlen(line), 1, row, why, sizeof why) < 0);
  CHECK_STR_CONTAINS(why, "dummy price");
  line = "2239500,100,2231800,100,2239000,100,2230700,200";
  CHECK(lobster_parse_book_row(line, strlen(line), 2, row, why, sizeof why) < 0);
  CHECK_STR_CONTAINS(why, "ask level 2: price 2239000 is not worse");
  line = "2239500,100,2231800,-5";
  CHECK(lobster_parse_book_row(line, strlen(line), 1, row, why, sizeof why) < 0);
  CHECK_STR_CONTAINS(why, "bid size 1: must be between 0 and 1000000000000000, found -5");
  line = "2239500,100,22318a0,100";
  CHECK(lobster_parse_book_row(line, strlen(line), 1, row, why, sizeof why) < 0);
  CHECK_STR_CONTAINS(why, "column 3: expected an integer, found '22318a0'");
}

void lobster_calendar(void) {
  CHECK_EQ(obi_days_from_civil(1970, 1, 1), 0);
  CHECK_EQ(obi_days_from_civil(2000, 3, 1), 11017);
  CHECK_EQ(obi_days_from_civil(1969, 12, 31), -1);
  /* 2012: DST from Sunday March 11 to Sunday November 4; midnight of the change days
   * is still on the old offset because the change happens at 02:00 */
  CHECK_EQ(obi_us_eastern_offset_s(2012, 3, 11), -5 * 3600);
  CHECK_EQ(obi_us_eastern_offset_s(2012, 3, 12), -4 * 3600);
  CHECK_EQ(obi_us_eastern_offset_s(2012, 6, 21), -4 * 3600);
  CHECK_EQ(obi_us_eastern_offset_s(2012, 11, 4), -4 * 3600);
  CHECK_EQ(obi_us_eastern_offset_s(2012, 11, 5), -5 * 3600);
  CHECK_EQ(obi_us_eastern_offset_s(2012, 1, 15), -5 * 3600);
  CHECK_EQ(obi_us_eastern_offset_s(2005, 4, 4), -4 * 3600);   /* old rule: first Sunday of April (Apr 3) */
  CHECK_EQ(obi_us_eastern_offset_s(2005, 10, 31), -5 * 3600); /* last Sunday of October (Oct 30) */
  int found;
  /* 2012-06-21 00:00 in New York is 04:00 UTC: `date -u -d '2012-06-21 04:00' +%s` = 1340251200 */
  CHECK_EQ(lobster_day_start_ns("x/AMZN_2012-06-21_34200000_57600000_message_10.csv.zst", &found),
           1340251200LL * 1000000000LL);
  CHECK(found);
  CHECK_EQ(lobster_day_start_ns("messages.csv", &found), 0);
  CHECK(!found);
  lobster_day_start_ns("X_2012-02-31_1_2_message_1.csv", &found); /* no such day */
  CHECK(!found);
  lobster_day_start_ns("X_2300-01-02_1_2_message_1.csv", &found); /* beyond int64 nanoseconds */
  CHECK(!found);
  lobster_day_start_ns("X_ 2012-06-21_1_2_message_1.csv", &found);
  CHECK(!found);
  lobster_day_start_ns("X_2011-02-29_1_2_message_1.csv", &found); /* not a leap year */
  CHECK(!found);
  lobster_day_start_ns("X_2012-02-29_1_2_message_1.csv", &found);
  CHECK(found);
}

void lobster_textin_lines(void) {
  const char *path = test_write_file("lines.txt", "a,b\r\n\nlast");
  obi_textin *t;
  CHECK_EQ(obi_textin_open(&t, path), OBI_OK);
  const char *line;
  size_t len;
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_OK);
  CHECK_EQ(len, 3); /* CR stripped */
  CHECK(memcmp(line, "a,b", 3) == 0);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_OK);
  CHECK_EQ(len, 0);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_OK); /* a last line without newline */
  CHECK_EQ(len, 4);
  CHECK_EQ(obi_textin_line_no(t), 3);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_EEOF);
  obi_textin_close(t);
  CHECK_EQ(obi_textin_open(&t, "/nonexistent/obi/file.csv"), OBI_ENOENT);
  CHECK(t == NULL);
}

/* Pipes cannot seek: the bytes read to detect the format must not be lost. */
void lobster_textin_pipe_and_skippable_frame(void) {
  char cmd[2048], fifo[600];
  const char *path = test_write_file("p.txt", "34200.1,1,5,10,2238100,1\nsecond\n");
  snprintf(fifo, sizeof fifo, "%s/fifo", test_tmpdir());
  snprintf(cmd, sizeof cmd, "rm -f '%s' && mkfifo '%s' && (cat '%s' > '%s' &)", fifo, fifo, path, fifo);
  CHECK_EQ(system(cmd), 0);
  obi_textin *t;
  const char *line;
  size_t len;
  CHECK_EQ(obi_textin_open(&t, fifo), OBI_OK);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_OK);
  CHECK(len == 24 && memcmp(line, "34200.1,1,5,10,2238100,1", 24) == 0);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_OK);
  CHECK(len == 6 && memcmp(line, "second", 6) == 0);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_EEOF);
  obi_textin_close(t);
  /* a zstd file through a pipe */
  snprintf(cmd, sizeof cmd, "zstd -q -f '%s' -o '%s.zst' && (cat '%s.zst' > '%s' &)", path, path, path, fifo);
  CHECK_EQ(system(cmd), 0);
  CHECK_EQ(obi_textin_open(&t, fifo), OBI_OK);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_OK);
  CHECK(len == 24 && memcmp(line, "34200.1", 7) == 0);
  obi_textin_close(t);
  /* a skippable frame (magic 0x184D2A50, 4-byte length, payload) before the zstd frame */
  char skip[600];
  snprintf(skip, sizeof skip, "%s/skip.zst", test_tmpdir());
  snprintf(cmd, sizeof cmd, "printf '\\120\\052\\115\\030\\004\\000\\000\\000abcd' > '%s' && cat '%s.zst' >> '%s'",
           skip, path, skip);
  CHECK_EQ(system(cmd), 0);
  CHECK_EQ(obi_textin_open(&t, skip), OBI_OK);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_OK);
  CHECK(len == 24 && memcmp(line, "34200.1,1,5,10,2238100,1", 24) == 0);
  obi_textin_close(t);
}

/* An orderbook error after the last message is reported against the orderbook file. */
void lobster_error_names_the_right_file(void) {
  const char *m = test_write_file("one_message_1.csv", "34200.1,1,5,10,1000000,1\n");
  char *rows = malloc(1400000);
  strcpy(rows, "1001000,5,1000000,10\n");
  size_t n = strlen(rows);
  memset(rows + n, '1', 1300000);
  strcpy(rows + n + 1300000, "\n");
  const char *o = test_write_file("one_orderbook_1.csv", rows);
  free(rows);
  lobster_replay *r;
  CHECK_EQ(lobster_open(&r, m, o, NULL, NULL, 0), OBI_OK);
  obi_event ev;
  CHECK_EQ(lobster_next(r, &ev), OBI_OK);
  CHECK(lobster_next(r, &ev) != OBI_OK);
  CHECK_STR_CONTAINS(lobster_error(r), "one_orderbook_1.csv:2: line longer than 1 MiB");
  lobster_close(r);
}

void lobster_textin_zstd_and_truncation(void) {
  char cmd[2048];
  const char *path = test_write_file("z.txt", "1,2\n3,4\n");
  snprintf(cmd, sizeof cmd, "zstd -q -f '%s' -o '%s.zst'", path, path);
  CHECK_EQ(system(cmd), 0);
  char zpath[700];
  snprintf(zpath, sizeof zpath, "%s.zst", path);
  obi_textin *t;
  const char *line;
  size_t len;
  CHECK_EQ(obi_textin_open(&t, zpath), OBI_OK);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_OK);
  CHECK(len == 3 && memcmp(line, "1,2", 3) == 0);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_OK);
  CHECK(len == 3 && memcmp(line, "3,4", 3) == 0);
  CHECK_EQ(obi_textin_line(t, &line, &len), OBI_EEOF);
  obi_textin_close(t);
  /* a compressed file cut short is an I/O error, not a silent end of data */
  char big[300];
  snprintf(big, sizeof big, "%s/big.txt", test_tmpdir());
  snprintf(cmd, sizeof cmd, "seq 1 200000 > '%s' && zstd -q -f '%s' -o '%s.zst' && truncate -s -100 '%s.zst'", big, big,
           big, big);
  CHECK_EQ(system(cmd), 0);
  snprintf(zpath, sizeof zpath, "%s.zst", big);
  CHECK_EQ(obi_textin_open(&t, zpath), OBI_OK);
  obi_err err;
  uint64_t lines = 0;
  while ((err = obi_textin_line(t, &line, &len)) == OBI_OK) lines++;
  CHECK_EQ(err, OBI_EIO);
  CHECK(lines > 1000 && lines < 200000);
  obi_textin_close(t);
}

/* A level-2 day in seven messages that exercises every step of the replay (lobster.h). */
static const char *const demo_messages =
    "34200.000000001,1,101,10,1000000,1\n" /* first message: an add, already in row 1 */
    "34200.5,3,555,20,1000000,1\n"         /* delete of an unknown order: from anonymous liquidity */
    "34201,4,101,10,1000000,1\n"           /* executes 101: the bid level empties, 998000 enters */
    "34202,1,102,5,1000500,-1\n"           /* a better ask: 1002000 falls to level 3, forgotten */
    "34203,3,102,5,1000500,-1\n"           /* deleted again: 1002000 comes back from the row */
    "34204,5,0,7,1001000,-1\n"             /* hidden execution: book unchanged */
    "34205,2,777,5,1002000,-1\n";          /* partial cancel of an unknown order at a re-entered level */

static const char *const demo_rows = "1001000,50,1000000,30,1002000,40,999000,60\n"
                                     "1001000,50,1000000,10,1002000,40,999000,60\n"
                                     "1001000,50,999000,60,1002000,40,998000,70\n"
                                     "1000500,5,999000,60,1001000,50,998000,70\n"
                                     "1001000,50,999000,60,1002000,40,998000,70\n"
                                     "1001000,50,999000,60,1002000,40,998000,70\n"
                                     "1001000,50,999000,60,1002000,35,998000,70\n";

void lobster_replay_steps(void) {
  const char *msgs = test_write_file("steps_message_2.csv", demo_messages);
  const char *rows = test_write_file("steps_orderbook_2.csv", demo_rows);
  lobster_options opt = {.verify = 1};
  lobster_replay *r;
  char err[512];
  CHECK_EQ(lobster_open(&r, msgs, rows, &opt, err, sizeof err), OBI_OK);
  obi_event ev;
  CHECK_EQ(lobster_next(r, &ev), OBI_OK);
  CHECK_EQ(ev.type, OBI_EV_ADD);
  CHECK_EQ(ev.ts_ns, 34200000000001LL); /* no date in the name: ns after midnight */
  int64_t ahead;
  /* order 101 queues behind the 20 shares that were resting before the file starts */
  CHECK_EQ(book_queue_position(lobster_book(r), 101, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 20);
  CHECK_EQ(lobster_next(r, &ev), OBI_OK);
  CHECK_EQ(book_queue_position(lobster_book(r), 101, &ahead, NULL), OBI_OK);
  CHECK_EQ(ahead, 0);
  obi_err e;
  while ((e = lobster_next(r, &ev)) == OBI_OK) {
    char why[256];
    if (book_check(lobster_book(r), why, sizeof why)) {
      test_fail(__FILE__, __LINE__, "book_check: %s", why);
      break;
    }
  }
  CHECK_EQ(e, OBI_EEOF);
  const lobster_stats *s = lobster_get_stats(r);
  CHECK_EQ(s->messages, 7);
  CHECK_EQ(s->by_type[1], 2);
  CHECK_EQ(s->by_type[2], 1);
  CHECK_EQ(s->by_type[3], 2);
  CHECK_EQ(s->by_type[4], 1);
  CHECK_EQ(s->by_type[5], 1);
  CHECK_EQ(s->unknown_order_msgs, 2);
  CHECK_EQ(s->unknown_order_size, 25);
  CHECK_EQ(s->unmatched_msgs, 0);
  CHECK_EQ(s->levels_from_orderbook, 6); /* 4 in row 1, then 998000 and 1002000 */
  CHECK_EQ(s->levels_forgotten, 1);
  CHECK_EQ(s->rows_verified, 7);
  CHECK_EQ(s->mismatches, 0);
  CHECK_EQ(lobster_levels(r), 2);
  CHECK_EQ(book_find_level(lobster_book(r), OBI_ASK, 1002000)->size, 35);
  lobster_close(r);
}

void lobster_replay_reports_mismatch(void) {
  char rows[1024];
  snprintf(rows, sizeof rows, "%s", demo_rows);
  char *row6 = rows;
  for (int i = 0; i < 5; i++) row6 = strchr(row6, '\n') + 1;
  memcpy(row6, "1001000,49", 10); /* row 6 claims 49 at the best ask */
  lobster_options opt = {.verify = 1};
  lobster_replay *r;
  CHECK_EQ(lobster_open(&r, test_write_file("mm_message_2.csv", demo_messages),
                        test_write_file("mm_orderbook_2.csv", rows), &opt, NULL, 0),
           OBI_OK);
  obi_event ev;
  while (lobster_next(r, &ev) == OBI_OK) {
  }
  const lobster_stats *s = lobster_get_stats(r);
  CHECK_EQ(s->mismatches, 1);
  CHECK_EQ(s->first_mismatch_line, 6);
  CHECK_EQ(lobster_mismatch_expected(r)[1], 49);
  CHECK_EQ(lobster_mismatch_book(r)[1], 50);
  lobster_close(r);
}

/* Replays one pair with verification; checks 0 mismatches, a valid book after every
 * message (when check_every), and returns the stats through *out. */
static int replay_pair(const char *msgs, const char *rows, int check_every, lobster_stats *out) {
  lobster_options opt = {.verify = 1, .day_from_name = 1};
  lobster_replay *r;
  char err[1024];
  if (lobster_open(&r, msgs, rows, &opt, err, sizeof err)) {
    test_fail(__FILE__, __LINE__, "%s", err);
    return 0;
  }
  obi_event ev;
  obi_err e;
  char why[256];
  while ((e = lobster_next(r, &ev)) == OBI_OK) {
    if (check_every && book_check(lobster_book(r), why, sizeof why)) {
      test_fail(__FILE__, __LINE__, "%s: book_check after message %llu: %s", msgs,
                (unsigned long long)lobster_get_stats(r)->messages, why);
      lobster_close(r);
      return 0;
    }
  }
  *out = *lobster_get_stats(r);
  int ok = e == OBI_EEOF;
  if (!ok) test_fail(__FILE__, __LINE__, "%s", lobster_error(r));
  if (ok && out->mismatches) {
    test_fail(__FILE__, __LINE__, "%s: %llu mismatches, first at line %llu", rows, (unsigned long long)out->mismatches,
              (unsigned long long)out->first_mismatch_line);
    ok = 0;
  }
  lobster_close(r);
  return ok;
}

void lobster_bundled_sample_zero_mismatches(void) {
  const char *dir = OBI_SOURCE_DIR "/data/lobster/AMZN_2012-06-21_34200000_57600000_";
  char m[512], o[512];
  lobster_stats s;
  snprintf(m, sizeof m, "%smessage_10.csv.zst", dir);
  snprintf(o, sizeof o, "%sorderbook_10.csv.zst", dir);
  CHECK(replay_pair(m, o, 1, &s));
  CHECK_EQ(s.messages, 20000);
  CHECK_EQ(s.rows_verified, 20000);
  /* type counts from `zstd -dc FILE | cut -d, -f2 | sort | uniq -c` */
  CHECK_EQ(s.by_type[1], 9772);
  CHECK_EQ(s.by_type[2], 6);
  CHECK_EQ(s.by_type[3], 9145);
  CHECK_EQ(s.by_type[4], 750);
  CHECK_EQ(s.by_type[5], 327);
  snprintf(m, sizeof m, "%smessage_1.csv.zst", dir);
  snprintf(o, sizeof o, "%sorderbook_1.csv.zst", dir);
  CHECK(replay_pair(m, o, 0, &s));
  CHECK_EQ(s.messages, 57515);
  CHECK_EQ(s.by_type[1], 27845);
  CHECK_EQ(s.by_type[4], 8974);
}

void lobster_shared_data_zero_mismatches(void) {
  const char *env = getenv("OBI_SHARED_DATA");
  char dir[512];
  snprintf(dir, sizeof dir, "%s/lobster", env && *env ? env : OBI_SOURCE_DIR "/../shared/data");
  DIR *d = opendir(dir);
  if (!d) {
    char reason[600];
    snprintf(reason, sizeof reason, "%s not present", dir);
    test_skip(reason);
    return;
  }
  struct dirent *e;
  int pairs = 0;
  while ((e = readdir(d))) {
    const char *at = strstr(e->d_name, "_message_");
    if (!at) continue;
    char m[1024], o[1024];
    snprintf(m, sizeof m, "%s/%s", dir, e->d_name);
    snprintf(o, sizeof o, "%s/%.*s_orderbook_%s", dir, (int)(at - e->d_name), e->d_name, at + 9);
    lobster_stats s;
    if (!replay_pair(m, o, 0, &s)) break;
    printf("# %s: %llu messages, %llu rows verified, 0 mismatches\n", e->d_name, (unsigned long long)s.messages,
           (unsigned long long)s.rows_verified);
    pairs++;
  }
  closedir(d);
  CHECK(pairs >= 1);
}
