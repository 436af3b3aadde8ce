#!/usr/bin/env python3
"""feed_count.py — an independent count of a recorded feed, for the expected numbers in
test/test_feed.c. Written from the exchanges' documentation, not from src/feed: Python
decimals, dictionaries as books.

usage: tools/feed_count.py WS-RECORDING [REST-RECORDING] [--futures]
prints per symbol: depth diffs, diffs already covered by the snapshot (stale), trades,
final best bid, final best ask; and asserts that the diffs after the snapshot are
continuous (spot: first U <= lastUpdateId+1, then U == previous u + 1; futures:
first U <= lastUpdateId, then pu == previous u), i.e. that the recording has no gap."""
import json, re, subprocess, sys
from decimal import Decimal as D

args = [a for a in sys.argv[1:] if not a.startswith('--')]
fut = '--futures' in sys.argv
lines = lambda p: [l for l in subprocess.run(['zstd', '-dc', p], capture_output=True, text=True).stdout.splitlines() if l]
book = lambda bids, asks: [{D(p): D(q) for p, q in bids}, {D(p): D(q) for p, q in asks}]
books, lid, last, n = {}, {}, {}, {}
for l in lines(args[1]) if len(args) > 1 else []:
    s, j = re.search(r'symbol=(\w+)', l)[1], json.loads(l.split(': ', 1)[1])
    lid[s], books[s] = j['lastUpdateId'], book(j['bids'], j['asks'])
for l in lines(args[0])[1:]:
    if ' <- ' in l:
        continue  # sent by the client
    d = json.loads(l.split(': ', 1)[1])
    d = d.get('data', d)
    s = d.get('s') or d.get('product_id')
    c = n.setdefault(s, [0, 0, 0])
    if d.get('e') == 'aggTrade' or d.get('type') == 'match':
        c[2] += 1
    if d.get('type') == 'snapshot':
        books[s] = book(d['bids'], d['asks'])
    if d.get('e') == 'depthUpdate':
        c[0] += 1
        if (d['u'] < lid[s]) if fut else (d['u'] <= lid[s]):
            c[1] += 1
            continue
        if s not in last:
            assert d['U'] <= (lid[s] if fut else lid[s] + 1), (s, 'first event does not cover the snapshot')
        else:
            assert (d['pu'] == last[s]) if fut else (d['U'] == last[s] + 1), (s, 'gap')
        last[s] = d['u']
        changes = [(0, p, q) for p, q in d['b']] + [(1, p, q) for p, q in d['a']]
    elif d.get('type') == 'l2update':
        c[0] += 1
        changes = [(side == 'sell', p, q) for side, p, q in d['changes']]
    else:
        continue
    for side, p, q in changes:
        if D(q) == 0:
            books[s][side].pop(D(p), None)
        else:
            books[s][side][D(p)] = D(q)
for s, c in n.items():
    if s in books:
        print(s, *c, format(max(books[s][0]).normalize(), 'f'), format(min(books[s][1]).normalize(), 'f'))
