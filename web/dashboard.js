/* obi live dashboard.
 *
 * Reads the Server-Sent Events of `obi serve` from v1/stream (same origin; the page is served at /) and draws
 * them. The event types and their JSON fields are those of issue 9 (and of docs/api.md once the server has it):
 * book, features, prediction, signal, position, risk, monitor. Everything but risk carries a symbol; the page
 * keeps a state per symbol and shows the one chosen in the header (the first one seen, until the user picks
 * another).
 *
 * Design and invariants:
 * - Time on every chart is the event time ts_ns (ns since the Unix epoch, shown in UTC), never the wall clock:
 *   replays run at any speed. JSON numbers are doubles, so ts_ns arrives rounded to a few hundred ns, which
 *   keeps its order; x values are ts_ns / 1e9 (uPlot's time scale counts seconds).
 * - Each history is a set of equally long columns, x ascending, at most HISTORY points (trimmed in blocks of
 *   TRIM so that trimming costs O(1) per point), so the page can stay open for days. An x earlier than the
 *   last one means the source started again (a replay with --loop): that history is cleared rather than drawn
 *   backwards, which uPlot requires anyway.
 * - Messages only update the state and mark it dirty; drawing happens at most once per animation frame, so a
 *   fast replay costs one redraw per frame, not one per message. The message counter (#sse-count and
 *   body[data-sse-count]) is the exception: it is written on every message, for tests and for the eye.
 * - Text from the server is only ever set with textContent, never parsed as HTML.
 * - EventSource reconnects by itself after a dropped stream; after a refused one (HTTP error, wrong type) it
 *   gives up, so the page reconnects itself then, backing off from 1 s to 30 s. "disconnected" shows meanwhile.
 */
(function () {
  'use strict';

  const HISTORY = 2000; // points kept per chart and symbol
  const TRIM = 200; // points removed at once when a history is over HISTORY
  const LIST = 30; // signals kept per symbol
  const INTERVENTIONS = 50; // risk interventions kept
  const LEVELS = 10; // ladder depth
  const EVENT_TYPES = ['book', 'features', 'prediction', 'signal', 'position', 'risk', 'monitor'];

  const $ = (id) => document.getElementById(id);

  // ---- bounded column histories -------------------------------------------------------------------------

  // cols[0] is x (seconds); the others are y series, null where a value is unknown.
  function History(nseries) {
    this.cols = [];
    for (let i = 0; i <= nseries; i++) this.cols.push([]);
  }
  History.prototype.push = function (x, ys) {
    const xs = this.cols[0];
    if (xs.length && x < xs[xs.length - 1]) this.clear();
    xs.push(x);
    for (let i = 0; i < ys.length; i++) {
      this.cols[i + 1].push(typeof ys[i] === 'number' && isFinite(ys[i]) ? ys[i] : null);
    }
    if (xs.length > HISTORY + TRIM) for (const c of this.cols) c.splice(0, c.length - HISTORY);
  };
  History.prototype.clear = function () {
    for (const c of this.cols) c.length = 0;
  };

  // ---- state ---------------------------------------------------------------------------------------------

  const state = {
    count: 0,
    bad: 0,
    symbols: new Map(),
    selected: null,
    risk: null, // the latest risk event
    interventions: [], // latest first
    dirty: false,
  };

  function symbolState(sym) {
    let s = state.symbols.get(sym);
    if (s) return s;
    s = {
      lastTs: 0,
      price: new History(2), // mid, microprice
      prob: new History(3), // p(up), p(down), p(flat)
      pnl: new History(2), // pnl, position
      monitor: new History(3), // accuracy, macro-F1, max PSI
      book: null,
      features: null,
      prediction: null,
      position: null,
      monitor_last: null,
      signals: [], // latest first
    };
    state.symbols.set(sym, s);
    const opt = document.createElement('option');
    opt.value = sym;
    opt.textContent = sym;
    $('symbol').appendChild(opt);
    if (state.selected === null) {
      state.selected = sym;
      $('symbol').value = sym;
    }
    return s;
  }

  // A source that started again (ts_ns going back) invalidates everything kept for that symbol.
  function noteTime(s, ts) {
    if (ts < s.lastTs) {
      for (const h of [s.price, s.prob, s.pnl, s.monitor]) h.clear();
      s.signals.length = 0;
    }
    s.lastTs = ts;
  }

  const handlers = {
    book(m, s) {
      s.book = m;
      s.price.push(m.ts_ns / 1e9, [m.mid, m.microprice]);
    },
    features(m, s) {
      s.features = m;
    },
    prediction(m, s) {
      s.prediction = m;
      const p = Array.isArray(m.p) ? m.p : [];
      // classes: 0 down, 1 stationary, 2 up (docs/models.md)
      s.prob.push(m.ts_ns / 1e9, [p[2], p[0], p[1]]);
    },
    signal(m, s) {
      s.signals.unshift(m);
      if (s.signals.length > LIST) s.signals.length = LIST;
    },
    position(m, s) {
      s.position = m;
      s.pnl.push(m.ts_ns / 1e9, [m.pnl, m.position]);
    },
    monitor(m, s) {
      s.monitor_last = m;
      s.monitor.push(m.ts_ns / 1e9, [m.accuracy, m.macro_f1, m.psi_max]);
    },
  };

  function onRisk(m) {
    state.risk = m;
    if (m.kind) {
      state.interventions.unshift(m);
      if (state.interventions.length > INTERVENTIONS) state.interventions.length = INTERVENTIONS;
    }
  }

  function countMessage() {
    state.count++;
    $('sse-count').textContent = String(state.count);
    document.body.dataset.sseCount = String(state.count);
    if (stopAfter > 0 && state.count >= stopAfter && source) {
      source.close();
      setBadge($('conn'), 'stopped after ' + state.count + ' messages', 'muted');
    }
  }

  function onMessage(ev) {
    countMessage();
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch (e) {
      m = null;
    }
    if (!m || typeof m !== 'object' || typeof m.ts_ns !== 'number') {
      badMessage();
      return;
    }
    if (ev.type === 'risk') {
      onRisk(m);
    } else if (handlers[ev.type]) {
      if (typeof m.symbol !== 'string' || !m.symbol) {
        badMessage();
        return;
      }
      const s = symbolState(m.symbol);
      noteTime(s, m.ts_ns);
      handlers[ev.type](m, s);
    }
    // other event types (a newer server) are counted and otherwise ignored
    scheduleDraw();
  }

  function badMessage() {
    state.bad++;
    const el = $('bad-count');
    el.hidden = false;
    el.textContent = ' (' + state.bad + ' unreadable)';
  }

  // ---- connection ----------------------------------------------------------------------------------------

  let source = null;
  let retryMs = 1000;
  // ?stop_after=N closes the stream for good after N messages, leaving the page as it was then. For
  // screenshots and headless tests: a browser whose clock waits for open requests (Chromium's
  // --virtual-time-budget) never finishes a page that holds a stream open.
  const stopAfter = Number(new URLSearchParams(location.search).get('stop_after')) || 0;

  function setConnected(up) {
    setBadge($('conn'), up ? 'live' : 'disconnected', up ? 'good' : 'bad');
  }

  function connect() {
    if (typeof EventSource === 'undefined') {
      $('conn').textContent = 'no EventSource in this browser';
      return;
    }
    source = new EventSource('v1/stream');
    source.onopen = function () {
      retryMs = 1000;
      setConnected(true);
    };
    source.onerror = function () {
      setConnected(false);
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      }
    };
    for (const t of EVENT_TYPES) source.addEventListener(t, onMessage);
    source.onmessage = onMessage; // unnamed events: counted, ignored
  }

  // ---- formatting ----------------------------------------------------------------------------------------

  function fmtTime(tsNs, withDate) {
    if (typeof tsNs !== 'number' || !isFinite(tsNs)) return '–';
    const ms = Math.floor(tsNs / 1e6);
    const iso = new Date(ms).toISOString(); // 2012-06-21T18:13:11.317Z
    return (withDate ? iso.slice(0, 10) + ' ' : '') + iso.slice(11, 23) + (withDate ? ' UTC' : '');
  }

  function fmtNum(v, digits) {
    return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '–';
  }

  function fmtSigned(v, digits) {
    if (typeof v !== 'number' || !isFinite(v)) return '–';
    return (v > 0 ? '+' : '') + v.toFixed(digits);
  }

  function signClass(el, v) {
    el.classList.toggle('pos', typeof v === 'number' && v > 0);
    el.classList.toggle('neg', typeof v === 'number' && v < 0);
  }

  // Decimals enough to tell the book's prices apart (a tick of 0.01, 0.5 or 0.0001), at most 8.
  function priceDecimals(levels) {
    let d = 0;
    for (const [p] of levels) {
      if (typeof p !== 'number' || !isFinite(p)) continue;
      while (d < 8 && Math.abs(p * Math.pow(10, d) - Math.round(p * Math.pow(10, d))) > 1e-6) d++;
    }
    return d;
  }

  const RISK_CLASS = { ok: 'good', vol_pause: 'warn' }; // every other state blocks trading: 'bad'

  function setBadge(el, text, cls) {
    el.textContent = text;
    el.className = 'badge ' + cls;
  }

  // ---- charts --------------------------------------------------------------------------------------------

  const AXIS = { stroke: '#9aa4b2', grid: { stroke: '#252c37', width: 1 }, ticks: { stroke: '#252c37', width: 1 } };
  const stepped = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;

  // Every chart shows the same window of event time, that of the selected symbol's price history, so that a
  // price move, the prediction before it and the PnL after it line up vertically. draw() sets it.
  let xWindow = [0, 1];

  // Time ticks in UTC, 24 h; with milliseconds once the window is under 10 s.
  function timeTicks(u, splits) {
    if (u.data[0].length === 0) return splits.map(() => ''); // no data: no made-up times
    const fine = splits.length > 1 && splits[splits.length - 1] - splits[0] < 10;
    return splits.map((v) => {
      const t = fmtTime(v * 1e9, false);
      return fine ? t.slice(3) : t.slice(0, 8);
    });
  }

  // The legend shows the value under the cursor, or the latest value when the cursor is elsewhere.
  function valueFmt(digits) {
    return (u, v, si, idx) => {
      if (idx == null) {
        const col = u.data[si];
        for (let i = col.length - 1; i >= 0 && i >= col.length - 50; i--) {
          if (col[i] != null) {
            v = col[i];
            break;
          }
        }
      }
      return v == null ? '–' : v.toFixed(digits);
    };
  }

  function makeChart(id, height, series, scales, axes) {
    const el = $(id);
    const opts = {
      width: Math.max(200, el.clientWidth),
      height: height,
      // splits at round UTC times; the tick labels themselves come from timeTicks
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      scales: Object.assign({ x: { time: true, range: () => xWindow } }, scales),
      series: [{ label: 'UTC', value: (u, v) => (v == null ? 'latest' : fmtTime(v * 1e9, false)) }].concat(
        series.map((sr) => Object.assign({ points: { show: false }, spanGaps: true }, sr)),
      ),
      axes: [Object.assign({}, AXIS, { values: timeTicks })].concat(axes.map((a) => Object.assign({}, AXIS, a))),
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    };
    const data = [[]].concat(series.map(() => []));
    return { el: el, height: height, plot: new uPlot(opts, data, el) };
  }

  const charts = {};

  function createCharts() {
    charts.price = makeChart(
      'chart-price',
      240,
      [
        { label: 'mid', stroke: '#58a6ff', width: 1.5, paths: stepped, value: valueFmt(4) },
        { label: 'micro-price', stroke: '#f0883e', width: 1, paths: stepped, value: valueFmt(4) },
      ],
      {},
      [{ size: 70 }],
    );
    charts.prob = makeChart(
      'chart-prob',
      160,
      [
        { label: 'p(up)', stroke: '#3fb950', width: 1.5, value: valueFmt(3) },
        { label: 'p(down)', stroke: '#f85149', width: 1.5, value: valueFmt(3) },
        { label: 'p(flat)', stroke: '#6e7681', width: 1, dash: [4, 4], value: valueFmt(3) },
      ],
      { y: { range: [0, 1] } },
      [{ size: 70 }],
    );
    charts.pnl = makeChart(
      'chart-pnl',
      170,
      [
        { label: 'PnL', scale: 'pnl', stroke: '#d2a8ff', width: 1.5, paths: stepped, value: valueFmt(2),
          fill: 'rgba(210,168,255,0.08)' },
        { label: 'position', scale: 'pos', stroke: '#8b949e', width: 1, paths: stepped, value: valueFmt(0) },
      ],
      {},
      [
        { scale: 'pnl', size: 70 },
        { scale: 'pos', side: 1, size: 50, grid: { show: false } },
      ],
    );
    charts.monitor = makeChart(
      'chart-monitor',
      140,
      [
        { label: 'accuracy', scale: 'ratio', stroke: '#58a6ff', width: 1.5, value: valueFmt(3) },
        { label: 'macro-F1', scale: 'ratio', stroke: '#3fb950', width: 1.5, value: valueFmt(3) },
        { label: 'max PSI', scale: 'psi', stroke: '#f0883e', width: 1, paths: stepped, value: valueFmt(3) },
      ],
      { ratio: { range: [0, 1] }, psi: { range: (u, lo, hi) => [0, Math.max(0.3, hi || 0)] } },
      [
        { scale: 'ratio', size: 70 },
        { scale: 'psi', side: 1, size: 50, grid: { show: false } },
      ],
    );
  }

  // Charts follow their panel's width. The observer only notes the change; the resize happens in the next
  // frame, outside the observer's callback, so that resizing never feeds back into the same observation.
  function watchSizes() {
    if (typeof ResizeObserver === 'undefined') return;
    let pending = false;
    const ro = new ResizeObserver(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        for (const k in charts) {
          const c = charts[k];
          const w = Math.max(200, Math.floor(c.el.clientWidth));
          if (w !== c.plot.width) c.plot.setSize({ width: w, height: c.height });
        }
      });
    });
    for (const k in charts) ro.observe(charts[k].el);
  }

  // ---- drawing -------------------------------------------------------------------------------------------

  function scheduleDraw() {
    if (state.dirty) return;
    state.dirty = true;
    requestAnimationFrame(draw);
  }

  function draw() {
    state.dirty = false;
    const s = state.selected === null ? null : state.symbols.get(state.selected);
    drawRisk();
    if (!s) return;
    $('event-time').textContent = s.lastTs ? fmtTime(s.lastTs, true) : 'no data yet';
    const xs = s.price.cols[0];
    const hi = s.lastTs / 1e9;
    const lo = xs.length ? xs[0] : hi;
    xWindow = hi - lo >= 1e-3 ? [lo, hi] : [hi - 1, hi + 1e-3];
    for (const [k, h] of [['price', s.price], ['prob', s.prob], ['pnl', s.pnl], ['monitor', s.monitor]]) {
      charts[k].plot.setData(h.cols);
      charts[k].el.dataset.points = String(h.cols[0].length); // what was drawn, for tests
    }
    drawLadder(s.book);
    drawFeatures(s.features);
    drawPrediction(s.prediction);
    drawPosition(s.position);
    drawSignals(s.signals);
    drawMonitor(s.monitor_last);
  }

  // The ladder's rows are made once; drawing only changes their text and bar widths.
  const ladder = { asks: [], bids: [] };

  function buildLadder() {
    function row(side) {
      const tr = document.createElement('tr');
      tr.className = side;
      const cells = [];
      for (let i = 0; i < 3; i++) {
        const td = document.createElement('td');
        tr.appendChild(td);
        cells.push(td);
      }
      const sizeCell = side === 'bid' ? cells[0] : cells[2];
      sizeCell.className = 'size';
      const bar = document.createElement('div');
      bar.className = 'bar';
      const num = document.createElement('span');
      sizeCell.appendChild(bar);
      sizeCell.appendChild(num);
      cells[1].className = 'price';
      return { tr: tr, price: cells[1], bar: bar, num: num };
    }
    for (let i = 0; i < LEVELS; i++) {
      ladder.asks.push(row('ask'));
      ladder.bids.push(row('bid'));
    }
    // asks from the 10th level down to the best, then the bids from the best down
    for (let i = LEVELS - 1; i >= 0; i--) $('ladder-asks').appendChild(ladder.asks[i].tr);
    for (let i = 0; i < LEVELS; i++) $('ladder-bids').appendChild(ladder.bids[i].tr);
  }

  function drawLadder(book) {
    if (!book) return;
    const bids = Array.isArray(book.bids) ? book.bids.slice(0, LEVELS) : [];
    const asks = Array.isArray(book.asks) ? book.asks.slice(0, LEVELS) : [];
    let max = 0;
    for (const lv of bids.concat(asks)) if (typeof lv[1] === 'number' && lv[1] > max) max = lv[1];
    const d = priceDecimals(bids.concat(asks));
    function fill(rows, levels) {
      for (let i = 0; i < LEVELS; i++) {
        const r = rows[i];
        const lv = levels[i];
        if (lv && typeof lv[0] === 'number') {
          r.price.textContent = lv[0].toFixed(d);
          r.num.textContent = String(lv[1]);
          r.bar.style.width = (max > 0 ? (100 * lv[1]) / max : 0).toFixed(1) + '%';
        } else {
          r.price.textContent = '';
          r.num.textContent = '';
          r.bar.style.width = '0';
        }
      }
    }
    fill(ladder.asks, asks);
    fill(ladder.bids, bids);
    let spread = '–';
    if (bids.length && asks.length) {
      spread = 'spread ' + (asks[0][0] - bids[0][0]).toFixed(d) + ' · mid ' + fmtNum(book.mid, d + 1) +
        ' · micro ' + fmtNum(book.microprice, d + 2);
    }
    $('ladder-spread').textContent = spread;
  }

  // The OFI shown large is the first feature whose name starts with "ofi" (the server sends a few).
  function drawFeatures(f) {
    if (!f || typeof f.values !== 'object' || f.values === null) return;
    const v = f.values;
    const imb = v.imb_l1;
    const marker = $('imb-marker');
    if (typeof imb === 'number' && isFinite(imb)) {
      marker.hidden = false;
      marker.style.left = (50 + 50 * Math.max(-1, Math.min(1, imb))).toFixed(1) + '%';
      marker.classList.toggle('pos', imb > 0);
      marker.classList.toggle('neg', imb < 0);
    } else {
      marker.hidden = true;
    }
    $('imb-value').textContent = fmtSigned(imb, 3);
    signClass($('imb-value'), imb);
    const names = Object.keys(v).sort();
    const ofiName = names.find((n) => n.indexOf('ofi') === 0);
    $('ofi-name').textContent = ofiName || '';
    $('ofi-value').textContent = ofiName ? fmtSigned(v[ofiName], 0) : '–';
    signClass($('ofi-value'), ofiName ? v[ofiName] : null);
    const table = $('features');
    while (table.rows.length > names.length) table.deleteRow(-1);
    names.forEach((n, i) => {
      const tr = table.rows[i] || table.insertRow(-1);
      if (tr.cells.length === 0) {
        tr.insertCell(-1);
        tr.insertCell(-1);
      }
      tr.cells[0].textContent = n;
      const x = v[n];
      tr.cells[1].textContent = typeof x === 'number' ? (Number.isInteger(x) ? String(x) : x.toFixed(4)) : String(x);
    });
  }

  function drawPrediction(m) {
    if (!m) return;
    $('pred-model').textContent = m.model || '–';
    const ver = $('pred-version');
    ver.textContent = m.version ? String(m.version).slice(0, 16) : '–';
    ver.title = m.version || '';
    $('pred-latency').textContent = typeof m.latency_us === 'number' ? m.latency_us.toFixed(1) + ' µs' : '–';
    $('pred-time').textContent = fmtTime(m.ts_ns, false);
    const p = Array.isArray(m.p) ? m.p : [];
    let best = -1;
    for (let k = 0; k < 3; k++) if (typeof p[k] === 'number' && (best < 0 || p[k] > p[best])) best = k;
    ['down', 'flat', 'up'].forEach((name, k) => {
      const x = p[k];
      const ok = typeof x === 'number' && isFinite(x);
      $('pbar-' + name).style.width = ok ? (100 * Math.max(0, Math.min(1, x))).toFixed(1) + '%' : '0';
      $('p-' + name).textContent = ok ? (100 * x).toFixed(1) + '%' : '–';
      $('p-' + name).parentNode.classList.toggle('best', k === best);
    });
  }

  function drawPosition(m) {
    if (!m) return;
    $('pos-position').textContent = fmtSigned(m.position, 0);
    signClass($('pos-position'), m.position);
    $('pos-cash').textContent = fmtNum(m.cash, 2);
    $('pos-pnl').textContent = fmtSigned(m.pnl, 2);
    signClass($('pos-pnl'), m.pnl);
    $('pos-fills').textContent = typeof m.fills === 'number' ? String(m.fills) : '–';
  }

  // Rebuilds a short list (at most LIST or INTERVENTIONS items) from scratch: cheap, and once per frame at most.
  function fillList(ol, items, render) {
    ol.textContent = '';
    if (!items.length) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = 'none yet';
      ol.appendChild(li);
      return;
    }
    for (const it of items) {
      const li = document.createElement('li');
      for (const [text, cls] of render(it)) {
        const span = document.createElement('span');
        if (cls) span.className = cls;
        span.textContent = text;
        li.appendChild(span);
      }
      ol.appendChild(li);
    }
  }

  const lastDrawn = { signals: null, signalsLen: -1, interventions: null, interventionsLen: -1 };

  function drawSignals(signals) {
    if (lastDrawn.signals === signals[0] && lastDrawn.signalsLen === signals.length) return;
    lastDrawn.signals = signals[0];
    lastDrawn.signalsLen = signals.length;
    fillList($('signals'), signals, (m) => [
      [fmtTime(m.ts_ns, false), 'time'],
      [String(m.action), 'action ' + String(m.action).replace(/[^a-z_]/g, '')],
      [typeof m.qty === 'number' ? 'qty ' + m.qty : '', 'qty'],
    ]);
  }

  function drawRisk() {
    const r = state.risk;
    if (r) {
      const cls = RISK_CLASS[r.state] || 'bad';
      setBadge($('risk-badge'), 'risk: ' + r.state, cls);
      setBadge($('risk-state'), String(r.state), cls);
    }
    const items = state.interventions;
    if (lastDrawn.interventions === items[0] && lastDrawn.interventionsLen === items.length) return;
    lastDrawn.interventions = items[0];
    lastDrawn.interventionsLen = items.length;
    fillList($('interventions'), items, (m) => [
      [fmtTime(m.ts_ns, false), 'time'],
      [String(m.kind), 'kind'],
      [m.reason ? String(m.reason) : '', 'reason'],
    ]);
  }

  function drawMonitor(m) {
    if (!m) return;
    $('mon-n').textContent = typeof m.n === 'number' ? String(m.n) : '–';
    $('mon-acc').textContent = fmtNum(m.accuracy, 3);
    $('mon-f1').textContent = fmtNum(m.macro_f1, 3);
    $('mon-ll').textContent = fmtNum(m.log_loss, 3);
    $('mon-psi').textContent = fmtNum(m.psi_max, 3);
    $('mon-psi-feature').textContent = m.psi_feature ? '(' + m.psi_feature + ')' : '';
    const alert = m.alert === true;
    setBadge($('mon-alert'), alert ? 'ALERT' : 'ok', alert ? 'bad' : 'good');
    setBadge($('alert-badge'), alert ? 'monitor: ALERT' : 'monitor: ok', alert ? 'bad' : 'good');
  }

  // ---- start ---------------------------------------------------------------------------------------------

  // Another symbol: its panels start empty and fill from its own state, so nothing of the previous symbol
  // stays on screen where the new one has no data yet.
  function clearPanels() {
    const ids = ['imb-value', 'ofi-value', 'ofi-name', 'pred-model', 'pred-version', 'pred-latency', 'pred-time',
      'p-down', 'p-flat', 'p-up', 'pos-position', 'pos-cash', 'pos-pnl', 'pos-fills', 'mon-n', 'mon-acc', 'mon-f1',
      'mon-ll', 'mon-psi', 'mon-psi-feature', 'ladder-spread'];
    for (const id of ids) $(id).textContent = id === 'ofi-name' || id === 'mon-psi-feature' ? '' : '–';
    for (const r of ladder.asks.concat(ladder.bids)) {
      r.price.textContent = '';
      r.num.textContent = '';
      r.bar.style.width = '0';
    }
    for (const name of ['down', 'flat', 'up']) $('pbar-' + name).style.width = '0';
    $('imb-marker').hidden = true;
    $('features').textContent = '';
    setBadge($('mon-alert'), '–', 'muted');
    setBadge($('alert-badge'), 'monitor: –', 'muted');
    lastDrawn.signals = null;
    lastDrawn.signalsLen = -1;
  }

  $('symbol').addEventListener('change', (e) => {
    state.selected = e.target.value;
    clearPanels();
    scheduleDraw();
  });

  buildLadder();
  createCharts();
  watchSizes();
  setConnected(false);
  connect();
})();
