/* test_ws.c — the WebSocket transport (src/feed/ws.c) against the loopback test server
 * (test/ws_server.c): subscribe, order and receive times, fragments and large messages, the
 * size limit, reconnects with seeded backoff, stall detection, faults passed through as they
 * are, HTTP GET (blocking and inside the loop), TLS with a certificate made at test time, and
 * `obi record` end to end. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "obi/textin.h"
#include "obi/ws.h"
#include "test.h"
#include "ws_server.h"

#define MAX_MSGS 4096

typedef struct {
  int n;
  char *text[MAX_MSGS];
  size_t len[MAX_MSGS];
  int64_t recv_ns[MAX_MSGS];
  int n_states;
  ws_state states[256];
  char reasons[256][160];
  int backoff_ms[256], n_backoff;
  int n_sent;
  char sent[16][256];
  ws_client *client;
} collector;

static void on_message(void *ctx, int64_t recv_ns, const char *text, size_t len) {
  collector *k = ctx;
  if (k->n >= MAX_MSGS) return;
  k->text[k->n] = malloc(len + 1);
  memcpy(k->text[k->n], text, len);
  k->text[k->n][len] = 0;
  k->len[k->n] = len;
  k->recv_ns[k->n++] = recv_ns;
}

static void on_state(void *ctx, ws_state st, const char *reason) {
  collector *k = ctx;
  if (k->n_states >= 256) return;
  k->states[k->n_states] = st;
  snprintf(k->reasons[k->n_states++], 160, "%s", reason);
  if (st == WS_BACKOFF && k->client && k->n_backoff < 256)
    k->backoff_ms[k->n_backoff++] = ws_client_stats_get(k->client)->last_backoff_ms;
}

static void on_send(void *ctx, int64_t ns, const char *text, size_t len) {
  collector *k = ctx;
  (void)ns;
  if (k->n_sent < 16) snprintf(k->sent[k->n_sent++], 256, "%.*s", (int)len, text);
}

static void collector_free(collector *k) {
  for (int i = 0; i < k->n; i++) free(k->text[i]);
  memset(k, 0, sizeof *k);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Services c until k holds want messages or max_ms passed; returns the messages held. */
static int pump_until(ws_client *c, collector *k, int want, int max_ms) {
  double end = now_s() + max_ms / 1000.0;
  while (k->n < want && now_s() < end)
    if (ws_client_service(c, 20) != OBI_OK) break;
  return k->n;
}

static void pump_for(ws_client *c, int ms) {
  double end = now_s() + ms / 1000.0;
  while (now_s() < end)
    if (ws_client_service(c, 10) != OBI_OK) break;
}

static ws_config base_config(const char *url, collector *k) {
  ws_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.url = url;
  cfg.on_message = on_message;
  cfg.on_state = on_state;
  cfg.on_send = on_send;
  cfg.ctx = k;
  cfg.seed = 7;
  cfg.backoff_base_ms = 20;
  cfg.backoff_max_ms = 200;
  return cfg;
}

static int count_state(const collector *k, ws_state st) {
  int n = 0;
  for (int i = 0; i < k->n_states; i++) n += k->states[i] == st;
  return n;
}

void ws_url_parse_cases(void) {
  ws_url u;
  CHECK_EQ(ws_url_parse(&u, "wss://stream.binance.com:9443/stream?streams=btcusdt@trade"), OBI_OK);
  CHECK_EQ(u.tls, 1);
  CHECK_EQ(u.port, 9443);
  CHECK(!strcmp(u.host, "stream.binance.com"));
  CHECK(!strcmp(u.path, "/stream?streams=btcusdt@trade"));
  CHECK_EQ(ws_url_parse(&u, "ws://127.0.0.1"), OBI_OK);
  CHECK_EQ(u.port, 80);
  CHECK(!strcmp(u.path, "/"));
  CHECK_EQ(ws_url_parse(&u, "https://[::1]:8443?x=1"), OBI_OK);
  CHECK(!strcmp(u.host, "::1"));
  CHECK_EQ(u.port, 8443);
  CHECK(!strcmp(u.path, "/?x=1"));
  CHECK_EQ(ws_url_parse(&u, "http://a:0/"), OBI_EINVAL);
  CHECK_EQ(ws_url_parse(&u, "http://a:65536/"), OBI_EINVAL);
  CHECK_EQ(ws_url_parse(&u, "ftp://a/"), OBI_EINVAL);
  CHECK_EQ(ws_url_parse(&u, "ws:///x"), OBI_EINVAL);
  CHECK_EQ(ws_url_parse(&u, "ws://a:12x/"), OBI_EINVAL);
  /* the client takes only ws:// and wss://, and skips verification only on loopback */
  ws_client *c = NULL;
  ws_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.url = "https://example.com/";
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_EINVAL);
  cfg.url = "wss://example.com/";
  cfg.tls.insecure_loopback = 1;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_EINVAL);
  CHECK(c == NULL);
  cfg.ping_interval_ms = -1;
  cfg.tls.insecure_loopback = 0;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_EINVAL);
  cfg.ping_interval_ms = 0;
  cfg.url = "wss://127.0.0.1:1/";
  cfg.tls.ca_file = "/nonexistent/ca.pem";
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_EIO);
  ws_http_response r;
  CHECK_EQ(ws_http_get("https://127.0.0.1:1/", &cfg.tls, 100, 0, &r), OBI_EIO);
  CHECK_STR_CONTAINS(r.error, "cannot read the CA file");
  /* nothing listens on port 1: a connection failure, reported, not a hang */
  CHECK_EQ(ws_http_get("http://127.0.0.1:1/", NULL, 2000, 0, &r), OBI_EIO);
  CHECK_STR_CONTAINS(r.error, "connection failed");
}

void ws_backoff_full_jitter_bounds(void) {
  /* Full jitter: uniform in [0, min(max, base * 2^(attempt-1))]; deterministic per seed. */
  uint64_t rng = 42;
  for (int attempt = 1; attempt <= 12; attempt++) {
    int window = 250 << (attempt - 1);
    if (window > 30000) window = 30000;
    int lo = window, hi = 0;
    double sum = 0;
    for (int i = 0; i < 4000; i++) {
      int d = ws_backoff_ms(&rng, attempt, 250, 30000);
      CHECK(d >= 0 && d <= window);
      lo = d < lo ? d : lo, hi = d > hi ? d : hi;
      sum += d;
    }
    CHECK(lo <= window / 50);
    CHECK(hi >= window - window / 50);
    double mean = sum / 4000;
    CHECK(mean > 0.45 * window && mean < 0.55 * window);
  }
  uint64_t a = 9, b = 9;
  for (int i = 1; i < 20; i++) CHECK_EQ(ws_backoff_ms(&a, i, 100, 5000), ws_backoff_ms(&b, i, 100, 5000));
  CHECK_EQ(ws_backoff_ms(&a, 3, 0, 1000), 0);
}

void ws_connect_subscribe_order_and_times(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_wait_subscribe(s, 2);
  char text[64];
  for (int i = 0; i < 200; i++) {
    snprintf(text, sizeof text, "{\"seq\":%d}", i);
    ws_server_push(s, text, 0);
  }
  char url[256];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/stream?streams=btcusdt@depth@100ms/btcusdt@trade", ws_server_port(s));
  const char *subs[] = {"{\"method\":\"SUBSCRIBE\",\"id\":1}", "{\"type\":\"subscribe\"}"};
  collector k = {0};
  ws_config cfg = base_config(url, &k);
  cfg.subscribe = subs;
  cfg.n_subscribe = 2;
  ws_client *c = NULL;
  int64_t t0 = ws_now_ns();
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  k.client = c;
  CHECK(!strcmp(ws_client_url(c), url));
  int got = pump_until(c, &k, 200, 3000);
  const ws_client_stats st = *ws_client_stats_get(c);
  char seen[256] = "", uri[512];
  ws_server_received_text(s, 0, seen, sizeof seen);
  int sub0 = !strcmp(seen, subs[0]);
  ws_server_received_text(s, 1, seen, sizeof seen);
  int sub1 = !strcmp(seen, subs[1]);
  ws_server_last_ws_uri(s, uri, sizeof uri);
  ws_server_counts sc = ws_server_get_counts(s);
  ws_client_free(c);
  ws_server_stop(s);
  int in_order = 1, increasing = 1;
  for (int i = 0; i < got; i++) {
    snprintf(text, sizeof text, "{\"seq\":%d}", i);
    in_order &= !strcmp(k.text[i], text);
    increasing &= i == 0 ? k.recv_ns[0] > t0 : k.recv_ns[i] > k.recv_ns[i - 1];
  }
  int64_t span = got ? k.recv_ns[got - 1] - t0 : 0;
  int sent_ok = k.n_sent == 2 && !strcmp(k.sent[0], subs[0]) && !strcmp(k.sent[1], subs[1]);
  ws_state first = k.n_states ? k.states[0] : 0, second = k.n_states > 1 ? k.states[1] : 0;
  collector_free(&k);
  CHECK_EQ(got, 200);
  CHECK(in_order);
  CHECK(increasing);
  CHECK(span > 0 && span < 3000000000LL);
  CHECK(sub0 && sub1);

  CHECK(sent_ok);
  CHECK(!strcmp(uri, "/stream?streams=btcusdt@depth@100ms/btcusdt@trade"));
  CHECK_EQ(first, WS_CONNECTING);
  CHECK_EQ(second, WS_OPEN);
  CHECK_EQ(st.connect_attempts, 1);
  CHECK_EQ(st.connects, 1);
  CHECK_EQ(st.messages, 200);
  CHECK_EQ(st.sent, 2);
  CHECK_EQ(sc.connections, 1);
  CHECK_EQ(sc.sent, 200);
}

void ws_fragmented_and_large_messages(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  static char big[1 << 20], mid[300001], small_frags[10001];
  for (size_t i = 0; i < sizeof big - 1; i++) big[i] = (char)('a' + i % 26);
  big[sizeof big - 1] = 0;
  for (size_t i = 0; i < sizeof mid - 1; i++) mid[i] = (char)('0' + i % 10);
  mid[sizeof mid - 1] = 0;
  for (size_t i = 0; i < sizeof small_frags - 1; i++) small_frags[i] = (char)('A' + i % 7);
  small_frags[sizeof small_frags - 1] = 0;
  ws_server_push(s, "first", 0);
  ws_server_push(s, small_frags, 1000); /* ten continuation frames */
  ws_server_push(s, big, 0);            /* one 1 MiB frame, read in many pieces */
  ws_server_push(s, mid, 50000);        /* seven frames */
  ws_server_push(s, "last", 0);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ws_server_port(s));
  collector k = {0};
  ws_config cfg = base_config(url, &k);
  ws_client *c;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  int got = pump_until(c, &k, 5, 5000);
  ws_client_stats st = *ws_client_stats_get(c);
  ws_client_free(c);
  ws_server_stop(s);
  int ok = got == 5 && !strcmp(k.text[0], "first") && k.len[1] == 10000 && !strcmp(k.text[1], small_frags) &&
           k.len[2] == sizeof big - 1 && !strcmp(k.text[2], big) && k.len[3] == 300000 && !strcmp(k.text[3], mid) &&
           !strcmp(k.text[4], "last");
  collector_free(&k);
  CHECK_EQ(got, 5);
  CHECK(ok);
  CHECK_EQ(st.messages, 5);
  CHECK_EQ(st.bytes, 5 + 10000 + (1 << 20) - 1 + 300000 + 4);
  CHECK(st.fragments >= 10 + 7);
  CHECK_EQ(st.connects, 1);
}

void ws_max_message_size_closes_and_recovers(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  static char big[100001];
  memset(big, 'x', sizeof big - 1);
  ws_server_push(s, "a", 0);
  ws_server_push(s, big, 0);
  ws_server_pause(s, 500); /* "b" goes out on the next connection */
  ws_server_push(s, "b", 0);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ws_server_port(s));
  collector k = {0};
  ws_config cfg = base_config(url, &k);
  cfg.max_message = 65536;
  ws_client *c;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  k.client = c;
  int got = pump_until(c, &k, 2, 3000);
  ws_client_stats st = *ws_client_stats_get(c);
  ws_client_free(c);
  ws_server_stop(s);
  int texts = got == 2 && !strcmp(k.text[0], "a") && !strcmp(k.text[1], "b");
  int reason = 0;
  for (int i = 0; i < k.n_states; i++)
    reason |= k.states[i] == WS_CLOSED && strstr(k.reasons[i], "message larger than 65536 bytes") != NULL;
  collector_free(&k);
  CHECK_EQ(got, 2);
  CHECK(texts);
  CHECK(reason);
  CHECK_EQ(st.oversize, 1);
  CHECK_EQ(st.closes, 1);
  CHECK_EQ(st.connects, 2);
  CHECK_EQ(st.messages, 2);
}

void ws_reconnect_backoff_after_disconnect(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_wait_subscribe(s, 1);
  ws_server_push(s, "m1", 0);
  ws_server_push(s, "m2", 0);
  ws_server_fault(s, WS_FAULT_DISCONNECT);
  ws_server_push(s, "m3", 0);
  ws_server_push(s, "m4", 0);
  ws_server_fault(s, WS_FAULT_CLOSE);
  ws_server_push(s, "m5", 0);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", ws_server_port(s));
  const char *subs[] = {"sub"};
  collector k = {0};
  ws_config cfg = base_config(url, &k);
  cfg.subscribe = subs;
  cfg.n_subscribe = 1;
  ws_client *c;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  k.client = c;
  int got = pump_until(c, &k, 5, 3000);
  ws_client_stats st = *ws_client_stats_get(c);
  ws_server_counts sc = ws_server_get_counts(s);
  ws_client_free(c);
  ws_server_stop(s);
  int order = got == 5;
  for (int i = 0; order && i < 5; i++) {
    char want[8];
    snprintf(want, sizeof want, "m%d", i + 1);
    order = !strcmp(k.text[i], want);
  }
  int server_close = 0;
  for (int i = 0; i < k.n_states; i++)
    server_close |= strstr(k.reasons[i], "closed by the server (status 1001: going away)") != NULL;
  /* The same seed gives the same delays: attempt 1 in [0, 20], attempt 2 in [0, 40]. */
  uint64_t rng = 7;
  int d1 = ws_backoff_ms(&rng, 1, 20, 200), d2 = ws_backoff_ms(&rng, 2, 20, 200);
  int n_backoff = k.n_backoff, b0 = k.backoff_ms[0], b1 = k.backoff_ms[1];
  int opens = count_state(&k, WS_OPEN), closes = count_state(&k, WS_CLOSED), waits = count_state(&k, WS_BACKOFF);
  collector_free(&k);
  CHECK_EQ(got, 5);
  CHECK(order);
  CHECK(server_close);
  CHECK_EQ(st.connects, 3);
  CHECK_EQ(st.closes, 2);
  CHECK_EQ(st.failures, 0);
  CHECK_EQ(st.attempt, 2);
  CHECK_EQ(n_backoff, 2);
  CHECK_EQ(opens, 3);
  CHECK_EQ(closes, 2);
  CHECK_EQ(waits, 2);
  CHECK_EQ(b0, d1);
  CHECK_EQ(b1, d2);
  CHECK(b0 >= 0 && b0 <= 20 && b1 >= 0 && b1 <= 40);
  CHECK_EQ(sc.connections, 3);
  CHECK_EQ(sc.received, 3); /* the subscription was sent again on each connection */
}

void ws_refused_upgrades_count_attempts(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_reject(s, 4);
  ws_server_push(s, "hello", 0);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ws_server_port(s));
  collector k = {0};
  ws_config cfg = base_config(url, &k);
  cfg.seed = 99;
  cfg.backoff_base_ms = 10;
  cfg.backoff_max_ms = 40;
  ws_client *c;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  k.client = c;
  double t0 = now_s();
  int got = pump_until(c, &k, 1, 3000);
  double took = now_s() - t0;
  ws_client_stats st = *ws_client_stats_get(c);
  ws_server_counts sc = ws_server_get_counts(s);
  ws_client_free(c);
  ws_server_stop(s);
  uint64_t rng = 99;
  int expect_ok = k.n_backoff == 4, total = 0;
  for (int i = 0; expect_ok && i < 4; i++) {
    int d = ws_backoff_ms(&rng, i + 1, 10, 40), cap = 10 << i > 40 ? 40 : 10 << i;
    expect_ok = k.backoff_ms[i] == d && d <= cap;
    total += d;
  }
  int hello = got == 1 && !strcmp(k.text[0], "hello");
  collector_free(&k);
  CHECK(hello);
  CHECK(expect_ok);
  CHECK_EQ(st.connect_attempts, 5);
  CHECK_EQ(st.failures, 4);
  CHECK_EQ(st.connects, 1);
  CHECK_EQ(sc.rejected, 4);
  CHECK(took >= total / 1000.0);
}

void ws_stall_detected_and_reconnected(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_push(s, "m1", 0);
  ws_server_pause(s, 500); /* quiet but alive: pings are answered */
  ws_server_push(s, "m2", 0);
  ws_server_fault(s, WS_FAULT_STALL);
  ws_server_push(s, "m3", 0);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ws_server_port(s));
  collector k = {0};
  ws_config cfg = base_config(url, &k);
  cfg.ping_interval_ms = 100;
  cfg.stall_timeout_ms = 300;
  ws_client *c;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  k.client = c;
  int got = pump_until(c, &k, 3, 4000);
  ws_client_stats st = *ws_client_stats_get(c);
  ws_client_free(c);
  ws_server_stop(s);
  int texts = got == 3 && !strcmp(k.text[0], "m1") && !strcmp(k.text[1], "m2") && !strcmp(k.text[2], "m3");
  int64_t quiet = got == 3 ? k.recv_ns[1] - k.recv_ns[0] : 0, stalled = got == 3 ? k.recv_ns[2] - k.recv_ns[1] : 0;
  int reason = 0;
  for (int i = 0; i < k.n_states; i++) reason |= strstr(k.reasons[i], "stalled: nothing received for") != NULL;
  collector_free(&k);
  CHECK(texts);
  CHECK(reason);
  CHECK_EQ(st.stalls, 1);
  CHECK_EQ(st.connects, 2);
  CHECK(st.pongs_received >= 3); /* the quiet 500 ms: a ping every 100 ms, each answered */
  CHECK(st.pings_sent >= st.pongs_received + 1);
  CHECK(quiet >= 480000000LL);
  CHECK(stalled >= 300000000LL && stalled < 1500000000LL);
}

void ws_faults_pass_through_verbatim(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_push(s, "1", 0);
  ws_server_fault(s, WS_FAULT_DROP);
  ws_server_push(s, "2", 0);
  ws_server_fault(s, WS_FAULT_DUPLICATE);
  ws_server_push(s, "3", 0);
  ws_server_fault(s, WS_FAULT_REORDER);
  ws_server_push(s, "4", 0);
  ws_server_push(s, "5", 0);
  ws_server_fault(s, WS_FAULT_MALFORMED);
  ws_server_push(s, "6", 0);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ws_server_port(s));
  collector k = {0};
  ws_config cfg = base_config(url, &k);
  ws_client *c;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  int got = pump_until(c, &k, 7, 3000);
  pump_for(c, 50); /* nothing more arrives */
  got = k.n;
  ws_server_counts sc = ws_server_get_counts(s);
  ws_client_free(c);
  ws_server_stop(s);
  const char *want[] = {"1", "3", "3", "5", "4", WS_SERVER_MALFORMED, "6"};
  int same = got == 7;
  for (int i = 0; same && i < 7; i++) same = !strcmp(k.text[i], want[i]);
  collector_free(&k);
  CHECK_EQ(got, 7);
  CHECK(same);
  CHECK_EQ(sc.dropped, 1);
  CHECK_EQ(sc.sent, 7);
}

void ws_request_close_stops(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_push(s, "only", 0);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ws_server_port(s));
  collector k = {0};
  ws_config cfg = base_config(url, &k);
  ws_client *c;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  int got = pump_until(c, &k, 1, 2000);
  CHECK_EQ(ws_client_send(c, "{\"ping\":1}", 10), OBI_OK);
  ws_client_request_close(c);
  obi_err err = OBI_OK;
  double end = now_s() + 2;
  while (err == OBI_OK && now_s() < end) err = ws_client_service(c, 20);
  obi_err again = ws_client_service(c, 0);
  ws_client_stats st = *ws_client_stats_get(c);
  ws_client_free(c);
  /* the server thread sees the end of the connection a moment later */
  for (int i = 0; i < 100 && ws_server_get_counts(s).closed < 1; i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
  char seen[64] = "";
  ws_server_received_text(s, 0, seen, sizeof seen);
  ws_server_counts sc = ws_server_get_counts(s);
  ws_server_stop(s);
  int last_closed =
      k.n_states && k.states[k.n_states - 1] == WS_CLOSED && !strcmp(k.reasons[k.n_states - 1], "closed by request");
  collector_free(&k);
  CHECK_EQ(got, 1);
  CHECK_EQ(err, OBI_EEOF);
  CHECK_EQ(again, OBI_EEOF);
  CHECK(last_closed);
  CHECK_EQ(st.connect_attempts, 1);
  CHECK_EQ(st.closes, 1);
  CHECK(!strcmp(seen, "{\"ping\":1}"));
  CHECK_EQ(sc.closed, 1);
}

void ws_http_get_delayed_body(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  const char *snap = "{\"lastUpdateId\":42,\"bids\":[[\"1.0\",\"2.0\"]],\"asks\":[[\"1.1\",\"3.0\"]]}";
  ws_server_route(s, "/api/v3/depth", 200, snap, 300);
  ws_server_route(s, "/slow", 200, "{}", 3000);
  ws_server_route(s, "/teapot", 418, "{\"code\":-1003}", 0);
  char url[256], uri[512];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v3/depth?symbol=BTCUSDT&limit=5000", ws_server_port(s));
  ws_http_response r;
  double t0 = now_s();
  int64_t ns0 = ws_now_ns();
  obi_err err = ws_http_get(url, NULL, 3000, 0, &r);
  double took = now_s() - t0;
  ws_server_last_http_uri(s, uri, sizeof uri);
  int body_ok = r.body && !strcmp(r.body, snap) && r.len == strlen(snap);
  int status = r.status;
  int64_t recv = r.recv_ns;
  ws_http_response_free(&r);
  /* a body that comes too late */
  snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", ws_server_port(s));
  double t1 = now_s();
  obi_err err_slow = ws_http_get(url, NULL, 200, 0, &r);
  double took_slow = now_s() - t1;
  int timed_out = strstr(r.error, "timed out after 200 ms") != NULL;
  ws_http_response_free(&r);
  /* an error status is still a response; a body over the limit is not */
  snprintf(url, sizeof url, "http://127.0.0.1:%d/teapot", ws_server_port(s));
  obi_err err_tea = ws_http_get(url, NULL, 2000, 0, &r);
  int tea = r.status == 418 && r.body && !strcmp(r.body, "{\"code\":-1003}");
  ws_http_response_free(&r);
  obi_err err_big = ws_http_get(url, NULL, 2000, 5, &r);
  int big = strstr(r.error, "body larger than 5 bytes") != NULL && r.body == NULL;
  ws_http_response_free(&r);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/nothing", ws_server_port(s));
  obi_err err_404 = ws_http_get(url, NULL, 2000, 0, &r);
  int nf = r.status;
  ws_http_response_free(&r);
  obi_err err_url = ws_http_get("gopher://x/", NULL, 2000, 0, &r);
  ws_server_stop(s);
  CHECK_EQ(err, OBI_OK);
  CHECK_EQ(status, 200);
  CHECK(body_ok);
  CHECK(took >= 0.3 && took < 2.0);
  CHECK(recv - ns0 >= 300000000LL);
  CHECK(!strcmp(uri, "/api/v3/depth?symbol=BTCUSDT&limit=5000"));
  CHECK_EQ(err_slow, OBI_EIO);
  CHECK(timed_out);
  CHECK(took_slow >= 0.2 && took_slow < 1.0);
  CHECK_EQ(err_tea, OBI_OK);
  CHECK(tea);
  CHECK_EQ(err_big, OBI_EIO);
  CHECK(big);
  CHECK_EQ(err_404, OBI_OK);
  CHECK_EQ(nf, 404);
  CHECK_EQ(err_url, OBI_EINVAL);
}

typedef struct {
  int done, status;
  obi_err err;
  int64_t recv_ns;
  size_t len;
  int messages_before;
  collector *k;
} http_result;

static void http_done(void *ctx, obi_err err, const ws_http_response *resp) {
  http_result *h = ctx;
  h->done = 1;
  h->err = err;
  h->status = resp->status;
  h->recv_ns = resp->recv_ns;
  h->len = resp->len;
  h->messages_before = h->k->n;
}

void ws_http_get_inside_the_loop(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_route(s, "/api/v3/depth", 200, "{\"lastUpdateId\":7,\"bids\":[],\"asks\":[]}", 400);
  ws_server_pace(s, 20);
  for (int i = 0; i < 40; i++) ws_server_push(s, "{\"e\":\"depthUpdate\"}", 0);
  char url[128], rest[160];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ws_server_port(s));
  snprintf(rest, sizeof rest, "http://127.0.0.1:%d/api/v3/depth?symbol=X", ws_server_port(s));
  collector k = {0};
  ws_config cfg = base_config(url, &k);
  ws_client *c;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  pump_until(c, &k, 1, 2000);
  int at_start = k.n;
  http_result h = {0};
  h.k = &k;
  CHECK_EQ(ws_client_http_get(c, rest, 3000, 0, http_done, &h), OBI_OK);
  double end = now_s() + 3;
  while (!h.done && now_s() < end) ws_client_service(c, 20);
  ws_client_free(c);
  ws_server_stop(s);
  collector_free(&k);
  CHECK(h.done);
  CHECK_EQ(h.err, OBI_OK);
  CHECK_EQ(h.status, 200);
  CHECK_EQ(h.len, 38);
  /* the WebSocket kept delivering while the request waited 400 ms (one message per 20 ms) */
  CHECK(h.messages_before - at_start >= 10);
}

/* ---- TLS ---- */

/* A self-signed certificate for localhost / 127.0.0.1 (P-256, one day), written as PEM. */
static int make_cert(const char *cert_path, const char *key_path) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  int ok = key && x;
  ok = ok && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
       X509_gmtime_adj(X509_getm_notBefore(x), -60) && X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
       X509_set_pubkey(x, key);
  X509_NAME *name = ok ? X509_get_subject_name(x) : NULL;
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0) &&
       X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  const char *exts[][2] = {{"subjectAltName", "DNS:localhost,IP:127.0.0.1"}, {"basicConstraints", "critical,CA:TRUE"}};
  for (int i = 0; ok && i < 2; i++) {
    X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
    ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  ok = ok && X509_sign(x, key, EVP_sha256());
  FILE *fc = ok ? fopen(cert_path, "wb") : NULL, *fk = ok ? fopen(key_path, "wb") : NULL;
  ok = ok && fc && fk && PEM_write_X509(fc, x) && PEM_write_PrivateKey(fk, key, NULL, NULL, 0, NULL, NULL);
  if (fc) ok = !fclose(fc) && ok;
  if (fk) ok = !fclose(fk) && ok;
  X509_free(x);
  EVP_PKEY_free(key);
  return ok ? 0 : -1;
}

void ws_tls_loopback_with_test_ca(void) {
  char cert[512], key[512];
  snprintf(cert, sizeof cert, "%s/ws_cert.pem", test_tmpdir());
  snprintf(key, sizeof key, "%s/ws_key.pem", test_tmpdir());
  CHECK_EQ(make_cert(cert, key), 0);
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, cert, key), 0);
  ws_server_route(s, "/api", 200, "{\"tls\":true}", 0);
  ws_server_push(s, "secret", 0);
  char url[128], rest[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%d/", ws_server_port(s));
  snprintf(rest, sizeof rest, "https://localhost:%d/api", ws_server_port(s));
  /* Not trusted: every attempt fails verification. */
  collector k0 = {0};
  ws_config cfg = base_config(url, &k0);
  ws_client *c;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  pump_for(c, 250);
  ws_client_stats untrusted = *ws_client_stats_get(c);
  ws_client_free(c);
  collector_free(&k0);
  /* Trusted through the CA option. */
  collector k = {0};
  cfg = base_config(url, &k);
  cfg.tls.ca_file = cert;
  CHECK_EQ(ws_client_new(&c, &cfg), OBI_OK);
  int got = pump_until(c, &k, 1, 3000);
  int secret = got == 1 && !strcmp(k.text[0], "secret");
  ws_client_free(c);
  collector_free(&k);
  ws_tls tls = {cert, 0};
  ws_http_response r;
  obi_err err = ws_http_get(rest, &tls, 3000, 0, &r);
  int body = r.status == 200 && r.body && !strcmp(r.body, "{\"tls\":true}");
  ws_http_response_free(&r);
  ws_tls none = {NULL, 0};
  obi_err err_untrusted = ws_http_get(rest, &none, 3000, 0, &r);
  ws_http_response_free(&r);
  ws_tls insecure = {NULL, 1};
  obi_err err_insecure = ws_http_get(rest, &insecure, 3000, 0, &r);
  ws_http_response_free(&r);
  ws_server_stop(s);
  CHECK_EQ(untrusted.connects, 0);
  CHECK(untrusted.failures >= 1);
  CHECK(secret);
  CHECK_EQ(err, OBI_OK);
  CHECK(body);
  CHECK_EQ(err_untrusted, OBI_EIO);
  CHECK_EQ(err_insecure, OBI_OK);
}

/* ---- obi record ---- */

/* "S.NNNNNNNNN" (nine decimals) at the start of s -> ns; the number of bytes read, 0 if none. */
static size_t parse_time(const char *s, size_t n, int64_t *ns) {
  size_t i = 0;
  int64_t sec = 0, frac = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') sec = sec * 10 + (s[i++] - '0');
  if (i == 0 || i >= n || s[i] != '.') return 0;
  size_t f0 = ++i;
  while (i < n && s[i] >= '0' && s[i] <= '9') frac = frac * 10 + (s[i++] - '0');
  if (i - f0 != 9) return 0;
  *ns = sec * 1000000000LL + frac;
  return i;
}

typedef struct {
  int files, lines, messages, connects, sends, bad, out_of_order, mismatched;
  int64_t last_ns, connect_ns;
  char url[512], sent[512];
  const char *const *expect; /* the texts the server sent, in order */
  int n_expect;
} record_check;

/* Reads one recorded file and checks every line; 0 if it decoded to its end. */
static int check_recording(const char *path, record_check *k) {
  obi_textin *t;
  if (obi_textin_open(&t, path)) return -1;
  const char *line;
  size_t len;
  obi_err err;
  int first = 1;
  while ((err = obi_textin_line(t, &line, &len)) == OBI_OK) {
    k->lines++;
    size_t ul = strlen(k->url);
    int64_t ns;
    if (len > ul + 5 && !strncmp(line, k->url, ul) && !strncmp(line + ul, " <-> ", 5)) {
      size_t m = parse_time(line + ul + 5, len - ul - 5, &ns);
      if (!m || ul + 5 + m != len) k->bad++;
      if (!first && ns != k->connect_ns) k->connects++;
      if (first && k->files == 0) k->connects++;
      k->connect_ns = ns;
    } else if (first) {
      k->bad++; /* every file starts with its connection */
    } else if (len > ul + 4 && !strncmp(line, k->url, ul) && !strncmp(line + ul, " <- ", 4)) {
      size_t m = parse_time(line + ul + 4, len - ul - 4, &ns);
      if (!m || strncmp(line + ul + 4 + m, ": ", 2)) k->bad++;
      snprintf(k->sent, sizeof k->sent, "%.*s", (int)(len - ul - 4 - m - 2), line + ul + 4 + m + 2);
      k->sends++;
    } else {
      size_t m = parse_time(line, len, &ns);
      if (!m || len < m + 2 || strncmp(line + m, ": ", 2)) {
        k->bad++;
      } else {
        json_error_t je;
        json_t *j = json_loadb(line + m + 2, len - m - 2, 0, &je);
        if (!j) k->bad++;
        json_decref(j);
        if (ns <= k->last_ns) k->out_of_order++;
        k->last_ns = ns;
        const char *want = k->messages < k->n_expect ? k->expect[k->messages] : "";
        if (strlen(want) != len - m - 2 || memcmp(want, line + m + 2, len - m - 2)) k->mismatched++;
        k->messages++;
      }
    }
    first = 0;
  }
  obi_textin_close(t);
  k->files++;
  return err == OBI_EEOF ? 0 : -1;
}

static int file_exists(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f) fclose(f);
  return f != NULL;
}

void ws_record_binance_cli(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  const char *snap = "{\"lastUpdateId\":1000,\"bids\":[[\"50000.00\",\"1.5\"]],\"asks\":[[\"50000.01\",\"2.0\"]]}";
  ws_server_route(s, "/api/v3/depth", 200, snap, 100);
  ws_server_pace(s, 4);
  enum { N = 1500 };
  static char texts[N][200];
  static const char *expect[N];
  for (int i = 0; i < N; i++) {
    if (i % 3 == 2)
      snprintf(texts[i], sizeof texts[i],
               "{\"stream\":\"ethusdt@trade\",\"data\":{\"e\":\"trade\",\"s\":\"ETHUSDT\",\"t\":%d,\"p\":\"3000.%02d\","
               "\"q\":\"0.%03d\",\"m\":%s}}",
               7000 + i, i * 37 % 100, i * 131 % 1000, i % 2 ? "true" : "false");
    else
      snprintf(texts[i], sizeof texts[i],
               "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":%d,"
               "\"u\":%d,\"b\":[[\"50000.%02d\",\"%d.5\"]],\"a\":[]}}",
               1001 + 2 * i, 1002 + 2 * i, i * 53 % 100, i * 7 % 13);
    expect[i] = texts[i];
    ws_server_push(s, texts[i], 0);
  }
  int port = ws_server_port(s);
  char args[1024], out[512];
  snprintf(out, sizeof out, "%s/rec.jsonl.zst", test_tmpdir());
  snprintf(args, sizeof args,
           "record --binance btcusdt,ETHUSDT --endpoint ws://127.0.0.1:%d/ --rest-endpoint http://127.0.0.1:%d "
           "--out '%s' --duration 2 --rotate-mb 0.001 --json --quiet",
           port, port, out);
  int rc = test_run_obi(args);
  char uri[512];
  ws_server_last_ws_uri(s, uri, sizeof uri);
  ws_server_counts sc = ws_server_get_counts(s);
  ws_server_stop(s);
  CHECK_EQ(rc, 0);
  json_error_t je;
  json_t *j = json_loads(test_out, 0, &je);
  CHECK(j != NULL);
  long long messages = json_integer_value(json_object_get(j, "messages"));
  long long snapshots = json_integer_value(json_object_get(j, "snapshots"));
  size_t n_files = json_array_size(json_object_get(j, "files"));
  json_decref(j);
  CHECK(!strcmp(uri, "/stream?streams=btcusdt@depth@100ms/btcusdt@trade/ethusdt@depth@100ms/ethusdt@trade"));
  /* the WebSocket files, in order: every line parses, receive times increase throughout */
  record_check k;
  memset(&k, 0, sizeof k);
  snprintf(k.url, sizeof k.url, "ws://127.0.0.1:%d/stream?streams=%s", port,
           "btcusdt@depth@100ms/btcusdt@trade/ethusdt@depth@100ms/ethusdt@trade");
  k.expect = expect;
  k.n_expect = N;
  char path[600];
  CHECK_EQ(check_recording(out, &k), 0);
  for (int seg = 1; seg < 100; seg++) {
    snprintf(path, sizeof path, "%s/rec.jsonl.%04d.zst", test_tmpdir(), seg);
    if (!file_exists(path)) break;
    CHECK_EQ(check_recording(path, &k), 0);
  }
  CHECK(k.files >= 2); /* rotated at a kilobyte: about once a second */
  CHECK_EQ(k.bad, 0);
  CHECK_EQ(k.out_of_order, 0);
  CHECK_EQ(k.mismatched, 0);
  CHECK_EQ(k.connects, 1);
  CHECK_EQ(k.messages, messages);
  CHECK(k.messages >= 100 && k.messages <= sc.sent);
  /* the REST snapshots of both symbols, after the connection */
  snprintf(path, sizeof path, "%s/rec.jsonl.http.zst", test_tmpdir());
  obi_textin *t;
  CHECK_EQ(obi_textin_open(&t, path), OBI_OK);
  const char *line;
  size_t len;
  int n_http = 0, http_ok = 1;
  const char *sym[2] = {"BTCUSDT", "ETHUSDT"};
  while (obi_textin_line(t, &line, &len) == OBI_OK) {
    char want[256];
    int64_t ns;
    int w =
        snprintf(want, sizeof want, "http://127.0.0.1:%d/api/v3/depth?symbol=%s&limit=5000 -> ", port, sym[n_http % 2]);
    size_t m = (size_t)w < len ? parse_time(line + w, len - (size_t)w, &ns) : 0;
    http_ok &= !strncmp(line, want, (size_t)w) && m > 0 && !strncmp(line + w + m, ": ", 2) &&
               len == w + m + 2 + strlen(snap) && !memcmp(line + w + m + 2, snap, strlen(snap)) && ns > k.connect_ns;
    n_http++;
  }
  obi_textin_close(t);
  CHECK(http_ok);
  CHECK_EQ(n_http, 2);
  CHECK(snapshots >= 2 && snapshots <= sc.http_requests);
  int http_files = 1; /* a segment's .http file exists once a snapshot arrived in it */
  for (int seg = 1; seg < k.files; seg++) {
    snprintf(path, sizeof path, "%s/rec.jsonl.%04d.http.zst", test_tmpdir(), seg);
    http_files += file_exists(path);
  }
  CHECK_EQ((int)n_files, k.files + http_files);
}

void ws_record_coinbase_cli_and_errors(void) {
  ws_server *s;
  CHECK_EQ(ws_server_start(&s, NULL, NULL), 0);
  ws_server_wait_subscribe(s, 1);
  static char texts[50][160];
  static const char *expect[50];
  for (int i = 0; i < 50; i++) {
    snprintf(texts[i], sizeof texts[i],
             "{\"type\":\"l2update\",\"product_id\":\"BTC-USD\",\"changes\":[[\"buy\",\"%d.00\",\"0.5\"]],"
             "\"time\":\"2021-04-17T16:43:37.%06dZ\"}",
             60000 + i, i);
    expect[i] = texts[i];
    ws_server_push(s, texts[i], 0);
  }
  int port = ws_server_port(s);
  char args[1024], out[512];
  snprintf(out, sizeof out, "%s/cb.zst", test_tmpdir());
  snprintf(args, sizeof args, "record --coinbase btc-usd,ETH-USD --endpoint ws://127.0.0.1:%d --out '%s' --duration 1",
           port, out);
  int rc = test_run_obi(args);
  char seen[512] = "";
  ws_server_received_text(s, 0, seen, sizeof seen);
  ws_server_stop(s);
  CHECK_EQ(rc, 0);
  CHECK_STR_CONTAINS(test_err, "obi record: 50 messages");
  const char *sub =
      "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\",\"ETH-USD\"],\"channels\":[\"level2\",\"matches\"]}";
  CHECK(!strcmp(seen, sub));
  record_check k;
  memset(&k, 0, sizeof k);
  snprintf(k.url, sizeof k.url, "ws://127.0.0.1:%d", port);
  k.expect = expect;
  k.n_expect = 50;
  CHECK_EQ(check_recording(out, &k), 0);
  CHECK_EQ(k.bad, 0);
  CHECK_EQ(k.sends, 1);
  CHECK(!strcmp(k.sent, sub));
  CHECK_EQ(k.messages, 50);
  CHECK_EQ(k.mismatched, 0);
  CHECK_EQ(k.out_of_order, 0);
  snprintf(args, sizeof args, "%s/cb.http.zst", test_tmpdir());
  CHECK(!file_exists(args)); /* no REST on Coinbase */
  /* usage and input errors */
  CHECK_EQ(test_run_obi("record --coinbase BTC-USD"), 2);
  CHECK_EQ(test_run_obi("record --coinbase BTC-USD --rest-endpoint http://x --out /tmp/x"), 2);
  CHECK_EQ(test_run_obi("record --binance btc,eth --coinbase BTC-USD --out /tmp/x"), 2);
  CHECK_EQ(test_run_obi("record --binance btc_usdt --out /tmp/x"), 2);
  CHECK_EQ(test_run_obi("record --binance btcusdt --out /tmp/x --rotate-mb 0"), 2);
  CHECK_EQ(test_run_obi("record --binance btcusdt --endpoint http://127.0.0.1:1 --out /tmp/x"), 2);
  snprintf(args, sizeof args, "record --coinbase BTC-USD --endpoint ws://127.0.0.1:1 --out '%s' --duration 1", out);
  CHECK_EQ(test_run_obi(args), 1); /* never overwrites a recording */
  CHECK_STR_CONTAINS(test_err, "cannot create");
}
