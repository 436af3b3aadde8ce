/* cmd_query.c — `obi query`: reads predictions or fills back from a store, as CSV or JSON. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "obi/store.h"

static int parse_ns(const char *v, int64_t *out) {
  char *end;
  long long x = strtoll(v, &end, 10);
  if (!*v || *end) return -1;
  *out = x;
  return 0;
}

static int cmd_query(int argc, char **argv) {
  const char *url = NULL, *what = NULL, *symbol = NULL, *run = NULL;
  int64_t from = INT64_MIN, to = INT64_MAX;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--json"))
      json = 1;
    else if (!strcmp(o, "--store") && v)
      url = v, i++;
    else if (!strcmp(o, "--symbol") && v)
      symbol = v, i++;
    else if (!strcmp(o, "--run") && v)
      run = v, i++;
    else if ((!strcmp(o, "--from") || !strcmp(o, "--to")) && v) {
      if (parse_ns(v, o[2] == 'f' ? &from : &to))
        return cli_usage_error(&cmd_query_def, "%s: nanoseconds since the epoch", o);
      i++;
    } else if (o[0] != '-' && !what)
      what = o;
    else
      return cli_usage_error(&cmd_query_def, "unexpected argument '%s'", o);
  }
  if (!url || !what) return cli_usage_error(&cmd_query_def, "--store URL and what to read are required");
  if (strcmp(what, "predictions") && strcmp(what, "fills"))
    return cli_usage_error(&cmd_query_def, "'%s': expected predictions or fills", what);
  obi_store *s;
  char why[1024];
  if (store_open(&s, url, NULL, why, sizeof why)) return cli_input_error("%s", why);
  size_t n = 0;
  int rc = EXIT_OK;
  if (!strcmp(what, "predictions")) {
    store_prediction *r;
    if (store_query_predictions(s, symbol, from, to, &r, &n)) {
      rc = cli_input_error("%s", store_errmsg(s));
    } else {
      printf(json ? "[" : "instrument,ts_ns,seq,model,horizon,p_down,p_flat,p_up\n");
      for (size_t i = 0; i < n; i++)
        printf(json ? "%s{\"instrument\":\"%s\",\"ts_ns\":%lld,\"seq\":%d,\"model\":\"%s\",\"horizon\":%d,"
                      "\"p_down\":%.9g,\"p_flat\":%.9g,\"p_up\":%.9g}"
                    : "%s%s,%lld,%d,%s,%d,%.9g,%.9g,%.9g\n",
               json && i ? "," : "", r[i].instrument, (long long)r[i].ts_ns, r[i].seq, r[i].model, r[i].horizon,
               (double)r[i].p_down, (double)r[i].p_flat, (double)r[i].p_up);
      if (json) printf("]\n");
      free(r);
    }
  } else {
    store_fill *r;
    if (store_query_fills(s, run, from, to, &r, &n)) {
      rc = cli_input_error("%s", store_errmsg(s));
    } else {
      printf(json ? "[" : "run_id,instrument,ts_ns,seq,order_id,side,price,size,fee\n");
      for (size_t i = 0; i < n; i++)
        printf(json ? "%s{\"run_id\":\"%s\",\"instrument\":\"%s\",\"ts_ns\":%lld,\"seq\":%d,\"order_id\":\"%s\","
                      "\"side\":%d,\"price\":%lld,\"size\":%lld,\"fee\":%.10g}"
                    : "%s%s,%s,%lld,%d,%s,%d,%lld,%lld,%.10g\n",
               json && i ? "," : "", r[i].run_id, r[i].instrument, (long long)r[i].ts_ns, r[i].seq, r[i].order_id,
               r[i].side, (long long)r[i].price, (long long)r[i].size, r[i].fee);
      if (json) printf("]\n");
      free(r);
    }
  }
  store_close(s);
  return rc;
}

const cli_command cmd_query_def = {
    "query", cmd_query, "read predictions or fills back from a store",
    "usage: obi query --store URL predictions [--symbol S] [--from NS] [--to NS] [--json]\n"
    "       obi query --store URL fills [--run ID] [--from NS] [--to NS] [--json]\n"
    "\n"
    "Rows with ts_ns in [--from, --to), ordered by key, as CSV (a header line) or a JSON array.\n"
    "Names in JSON are not escaped: symbols, models and run ids are plain identifiers.\n"
    "The SQL behind it, for psql or sqlite3, is in docs/store.md.\n"};
