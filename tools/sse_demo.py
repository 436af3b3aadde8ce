#!/usr/bin/env python3
"""A stand-in for `obi serve` while the dashboard is developed: serves web/ at / and a made-up
but plausible stream of every event type at /v1/stream, in the same framing and with the same
JSON fields as the real server (docs: issue 9, "Dashboard"). Python standard library only.

The market is a random walk of the mid on a 0.01 tick with ten levels a side; the "model" is a
logistic function of the L1 imbalance, the "strategy" enters on p(up) or p(down) above a
threshold and exits after a holding time, fills at the touch, and the "risk manager" pauses on
a burst of volatility. None of it is meant to make sense as trading; it is meant to exercise
every panel of the page, including a risk pause with its reason and a monitoring alert.

Usage: tools/sse_demo.py [--port 8080] [--bind 127.0.0.1] [--rate 20] [--burst 300]
                         [--drop-after S] [--unavailable S] [--seed N]
  --rate         book events per second of wall time (each followed by features and a prediction)
  --burst        events sent at once to each new client, so a fresh page has a history to draw
  --drop-after   close each stream after S seconds (the page must show "disconnected" and reconnect)
  --unavailable  answer /v1/stream with 503 for the first S seconds after start (as a server that
                 is not ready yet)
"""
import argparse
import json
import math
import os
import random
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web")
SYMBOL = "AMZN"
TICK = 0.01
LEVELS = 10


class Market:
    """One instrument's made-up state. Each client gets its own, so reconnecting starts a fresh
    (deterministic for a given seed) day, as a replay with --loop would."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.ts_ns = 1340302391317897176  # 2012-06-21 18:13:11 UTC, the bundled LOBSTER day
        self.mid_ticks = 22121
        self.spread = 1
        self.prev_best = None
        self.position = 0
        self.cash = 0.0
        self.fills = 0
        self.entry_ts = 0
        self.risk_state = "ok"
        self.vol = 1.0
        self.steps = 0
        self.n = 0
        self.correct = 0
        self.pending = []  # (ts_ns due, predicted class, mid at prediction)
        self.loss = 0.0
        self.f1_noise = 0.0

    def events(self):
        """Yields (type, payload) for one step: a book update and what follows from it."""
        rng = self.rng
        self.steps += 1
        self.ts_ns += int(rng.expovariate(1 / 0.15) * 1e9) + 1000
        if self.steps == 1:  # the state alone, as a server reports it to a new client
            yield "risk", {"ts_ns": self.ts_ns, "state": "ok", "kind": "", "reason": ""}
        if self.steps == 40 or rng.random() < 0.004:
            self.vol = 4.0  # a burst of volatility the risk manager will pause on
        self.vol = max(1.0, self.vol * 0.995)
        # the mid leans the way the last L1 imbalance pointed, so the "model" below is right more often than not
        lean = 0.0
        if self.prev_best is not None:
            lean = (self.prev_best[1] - self.prev_best[3]) / (self.prev_best[1] + self.prev_best[3])
        u = rng.random()
        step = 1 if u < 0.2 + 0.15 * lean else -1 if u > 0.8 + 0.15 * lean else 0
        step *= 2 if self.vol > 2 and rng.random() < 0.5 else 1
        self.mid_ticks += step
        self.spread = 1 if rng.random() < 0.8 else 2
        bid0 = self.mid_ticks - self.spread // 2 - (self.spread % 2)
        ask0 = bid0 + self.spread
        bids = [[round((bid0 - i) * TICK, 2), rng.randint(1, 24 // (1 + i // 4)) * 50] for i in range(LEVELS)]
        asks = [[round((ask0 + i) * TICK, 2), rng.randint(1, 24 // (1 + i // 4)) * 50] for i in range(LEVELS)]
        bids[0][1] = rng.randint(1, 10) * 50
        asks[0][1] = rng.randint(1, 10) * 50
        bp, bq = bids[0]
        ap, aq = asks[0]
        mid = (bp + ap) / 2
        micro = (bp * aq + ap * bq) / (bq + aq)
        yield "book", {"symbol": SYMBOL, "ts_ns": self.ts_ns, "bids": bids, "asks": asks,
                       "mid": round(mid, 4), "microprice": round(micro, 4)}

        imb = (bq - aq) / (bq + aq)
        ofi = 0 if self.prev_best is None else (bq - self.prev_best[1]) - (aq - self.prev_best[3])
        self.prev_best = (bp, bq, ap, aq)
        depth_b = sum(q for _, q in bids[:5])
        depth_a = sum(q for _, q in asks[:5])
        values = {"imb_l1": round(imb, 4), "ofi_l1_1s": ofi,
                  "spread_bps": round((ap - bp) / mid * 1e4, 3),
                  "rv_1s_bps": round(0.4 * self.vol + rng.random() * 0.1, 3),
                  "depth_ratio_l5": round(depth_b / (depth_b + depth_a), 4)}
        yield "features", {"symbol": SYMBOL, "ts_ns": self.ts_ns, "values": values}

        z = 1.6 * imb + rng.gauss(0, 0.3)
        up, down, flat = math.exp(z), math.exp(-z), math.exp(0.6)
        s = up + down + flat
        p = [down / s, flat / s, up / s]
        yield "prediction", {"symbol": SYMBOL, "ts_ns": self.ts_ns, "p": [round(x, 4) for x in p],
                             "model": "logistic", "version": "3f9a2c41d07e",
                             "latency_us": round(2.5 + rng.expovariate(1.0), 2)}

        # the label of a prediction matures 0.2 s later: up / down / flat against the mid then
        self.pending.append((self.ts_ns + 200_000_000, max(range(3), key=lambda k: p[k]), mid, p))
        while self.pending and self.pending[0][0] <= self.ts_ns:
            _, cls, mid0, p0 = self.pending.pop(0)
            truth = 2 if mid > mid0 + 1e-9 else 0 if mid < mid0 - 1e-9 else 1
            self.n += 1
            self.correct += cls == truth
            self.loss += -math.log(max(p0[truth], 1e-12))
            if self.n % 25 == 0:
                acc = self.correct / self.n
                psi = 0.05 + 0.25 * max(0.0, self.vol - 1.0) / 3.0 + rng.random() * 0.02
                yield "monitor", {"symbol": SYMBOL, "ts_ns": self.ts_ns, "n": min(self.n, 500),
                                  "accuracy": round(acc, 4), "macro_f1": round(acc * 0.92, 4),
                                  "log_loss": round(self.loss / self.n, 4), "psi_max": round(psi, 4),
                                  "psi_feature": "rv_1s_bps" if self.vol > 1.5 else "spread_bps",
                                  "alert": psi > 0.2}

        paused = self.vol > 2.0
        if paused and self.risk_state == "ok":
            self.risk_state = "vol_pause"
            yield "risk", {"ts_ns": self.ts_ns, "state": "vol_pause", "kind": "vol_pause",
                           "reason": "short rv %.5f > 3 x baseline rv %.5f (ratio %.2f)"
                           % (0.0004 * self.vol, 0.0004 / 3.2, self.vol * 3.2)}
        elif not paused and self.risk_state == "vol_pause":
            self.risk_state = "ok"
            yield "risk", {"ts_ns": self.ts_ns, "state": "ok", "kind": "vol_resume",
                           "reason": "ratio %.3f <= 3" % (self.vol * 1.4)}

        action, qty = None, 10
        held = self.ts_ns - self.entry_ts
        if self.position != 0 and held > 3_000_000_000:
            action, qty = "exit", abs(self.position)
        elif self.position == 0 and max(p[0], p[2]) > 0.42:
            action = "enter_long" if p[2] > p[0] else "enter_short"
            if paused:
                action = "blocked"
        if action:
            yield "signal", {"symbol": SYMBOL, "ts_ns": self.ts_ns, "action": action, "qty": qty}
        if action in ("enter_long", "enter_short", "exit"):
            side = 1 if action == "enter_long" or (action == "exit" and self.position < 0) else -1
            price = ap if side > 0 else bp
            self.position += side * qty
            self.cash -= side * qty * price
            self.fills += 1
            self.entry_ts = self.ts_ns
        if action or rng.random() < 0.2:
            pnl = self.cash + self.position * mid
            yield "position", {"symbol": SYMBOL, "ts_ns": self.ts_ns, "position": self.position,
                               "cash": round(self.cash, 2), "pnl": round(pnl, 2), "fills": self.fills}


class Handler(SimpleHTTPRequestHandler):
    server_version = "obi-sse-demo"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=WEB, **kwargs)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self):
        if self.path.split("?")[0] != "/v1/stream":
            return super().do_GET()
        opts = self.server.opts
        if time.monotonic() - self.server.started < opts.unavailable:
            body = b'{"error":"not ready"}\n'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with self.server.lock:
            self.server.clients += 1
            seed = opts.seed + self.server.clients
        market = Market(seed)
        start = time.monotonic()
        try:
            self.wfile.write(b"retry: 1000\n: obi sse demo\n\n")
            for _ in range(opts.burst):
                self.send_step(market)
            self.wfile.flush()
            while True:
                if opts.drop_after and time.monotonic() - start > opts.drop_after:
                    return
                self.send_step(market)
                self.wfile.flush()
                time.sleep(1.0 / opts.rate)
        except (BrokenPipeError, ConnectionResetError):
            return

    def send_step(self, market):
        out = []
        for kind, payload in market.events():
            out.append("event: %s\ndata: %s\n\n" % (kind, json.dumps(payload, separators=(",", ":"))))
        self.wfile.write("".join(out).encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--burst", type=int, default=300)
    ap.add_argument("--drop-after", type=float, default=0.0)
    ap.add_argument("--unavailable", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()
    if opts.rate <= 0:
        ap.error("--rate must be > 0")
    httpd = ThreadingHTTPServer((opts.bind, opts.port), Handler)
    httpd.daemon_threads = True
    httpd.opts, httpd.verbose = opts, opts.verbose
    httpd.lock, httpd.clients, httpd.started = threading.Lock(), 0, time.monotonic()
    print("sse demo on http://%s:%d/ (stream at /v1/stream)" % (opts.bind, httpd.server_address[1]), flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
