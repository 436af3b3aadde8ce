/* cli.h — what the subcommands share: the dispatch entry, exit codes, option
 * helpers and the terminal progress bar. Only src/cli knows every module. */
#ifndef OBI_CLI_H
#define OBI_CLI_H

#include <stdint.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
  const char *summary;
  const char *usage; /* printed by `obi <cmd> --help` */
} cli_command;

/* Prints "obi <cmd>: <message>" and the usage hint to stderr; returns EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...);
/* Prints "obi: <message>" to stderr; returns EXIT_BAD_INPUT. */
int cli_input_error(const char *fmt, ...);
/* A feed venue by name (binance-spot, binance-futures, coinbase-exchange, coinbase-advanced):
 * its feed_venue, or -1. */
int cli_parse_venue(const char *name);
#define CLI_VENUES "binance-spot, binance-futures, coinbase-exchange or coinbase-advanced"
/* Parses a whole decimal integer in [lo, hi]; returns 0 on success. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
double cli_now(void); /* monotonic seconds */
/* The SHA-256 of a file's bytes as 64 hex digits; 0, or -1 when it cannot be read. */
int cli_sha256_file(const char *path, char hex[65]);
/* The SHA-256 of a text file's lines (plain or zstd: the content, not the bytes on disk), each
 * ending in "\n"; 0, or -1. */
int cli_sha256_lines(const char *path, char hex[65]);
/* "AMZN_2012-06-21" from a LOBSTER file name (symbol and date), or "" when the name has none. */
void cli_source_day(const char *path, char *day, size_t len);

/* A progress bar on stderr, drawn only when stderr is a terminal and not quiet. */
typedef struct {
  int enabled;
  const char *label;
  double started, last_draw;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, int quiet);
void cli_progress_update(cli_progress *p, double fraction, uint64_t count);
void cli_progress_done(cli_progress *p);

/* The data directory of the bundled samples: $OBI_DATA, ./data, or <binary>/../data. */
const char *cli_data_dir(void);
extern const char *cli_argv0;

extern const cli_command cmd_replay_def, cmd_demo_def, cmd_features_def, cmd_train_def, cmd_eval_def, cmd_backtest_def,
    cmd_serve_def, cmd_record_def, cmd_live_def, cmd_ingest_def, cmd_query_def, cmd_stream_def;
/* Runs a replay and prints its report: shared by replay and demo. */
int cmd_replay_run(const char *msg_path, const char *book_path, int verify, int verify_levels, int json, int quiet,
                   FILE *out);

#endif
