#!/usr/bin/env bash
# make bench: throughput (bench_book, median of 5 timed runs) and instructions per message
# (valgrind --tool=callgrind over exactly one pass after a warm-up pass), on the largest
# LOBSTER sample available: ../shared/data when present, else the bundled data/.
# Prints one JSON object; the human summary goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${OBI_SHARED_DATA:-../shared/data}
pick() { # largest message file (by rows) of a directory
  local best="" rows=0
  for f in "$1"/*_message_*.csv.zst; do
    [[ -e "$f" ]] || continue
    local n
    n=$(zstd -dc "$f" | wc -l)
    if ((n > rows)); then rows=$n best=$f; fi
  done
  echo "$best"
}
msg=$(pick "$shared/lobster")
[[ -n "$msg" ]] || msg=$(pick data/lobster)
book=${msg/_message_/_orderbook_}
echo "bench: $msg" >&2

throughput=$(build/bench_book "$msg" "$book")
instr_json=""
if command -v valgrind >/dev/null; then
  for w in replay apply parse; do
    out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect=counted_pass \
      build/bench_book --callgrind "$w" "$msg" "$book" 2>&1)
    ir=$(echo "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    msgs=$(echo "$out" | sed -n 's/.*"messages":\([0-9]*\).*/\1/p')
    allocs=$(echo "$out" | sed -n 's/.*"allocations":\([0-9]*\).*/\1/p')
    per=$(awk -v a="$ir" -v b="$msgs" 'BEGIN { printf "%.1f", a / b }')
    echo "callgrind $w: $per instructions per message, $allocs allocations in the pass" >&2
    instr_json+="${instr_json:+,}\"$w\":{\"instructions_per_message\":$per,\"allocations_in_pass\":$allocs}"
  done
fi
features=$(build/bench_features "$msg" "$book")
if command -v valgrind >/dev/null; then
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect=feat_update \
    --toggle-collect=feat_compute build/bench_features --callgrind "$msg" "$book" 2>&1)
  ir=$(echo "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  events=$(echo "$out" | sed -n 's/.*"events":\([0-9]*\).*/\1/p')
  per=$(awk -v a="$ir" -v b="$events" 'BEGIN { printf "%.1f", a / b }')
  echo "callgrind features: $per instructions per event (feat_update + feat_compute of every column)" >&2
  instr_json+="${instr_json:+,}\"features\":{\"instructions_per_event\":$per}"
fi
backtest=$(build/bench_backtest "$msg" "$book")
if command -v valgrind >/dev/null; then
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect=bt_on_event \
    build/bench_backtest --callgrind "$msg" "$book" 2>&1)
  ir=$(echo "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  events=$(echo "$out" | sed -n 's/.*"events":\([0-9]*\).*/\1/p')
  per=$(awk -v a="$ir" -v b="$events" 'BEGIN { printf "%.1f", a / b }')
  echo "callgrind backtest: $per instructions per event (bt_on_event: features, model, strategy, risk, simulator)" >&2
  instr_json+="${instr_json:+,}\"backtest\":{\"instructions_per_event\":$per}"
fi
# Binance depth traffic through the protocol layer: the futures recording (the largest Binance one).
fws=$shared/crypto/cryptofeed/BINANCE_FUTURES.ws.1.0.zst fhttp=$shared/crypto/cryptofeed/BINANCE_FUTURES.http.0.0.zst
[[ -e "$fws" ]] || fws=data/crypto/BINANCE_FUTURES.ws.1.0.first500.zst fhttp=data/crypto/BINANCE_FUTURES.http.0.0.zst
echo "bench feed: $fws" >&2
feed=$(build/bench_feed "$fws" "$fhttp")
if command -v valgrind >/dev/null; then
  # full_pass: one pass of every message and snapshot (feed_on_message + feed_on_snapshot); toggling on
  # feed_on_message itself would also count the scale-learning and warm-up passes of the same process.
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect=full_pass \
    build/bench_feed --callgrind "$fws" "$fhttp" 2>&1)
  ir=$(echo "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  msgs=$(echo "$out" | sed -n 's/.*"messages":\([0-9]*\).*/\1/p')
  levels=$(echo "$out" | sed -n 's/.*"diff_levels":\([0-9]*\),"snapshot_levels":\([0-9]*\).*/\1 \2/p')
  per_msg=$(awk -v a="$ir" -v b="$msgs" 'BEGIN { printf "%.1f", a / b }')
  per_level=$(echo "$levels" | awk -v a="$ir" '{ printf "%.1f", a / ($1 + $2) }')
  echo "callgrind feed: $per_msg instructions per message, $per_level per level update (snapshots included)" >&2
  instr_json+="${instr_json:+,}\"feed\":{\"instructions_per_message\":$per_msg,\"instructions_per_level_update\":$per_level}"
fi
models=$(build/bench_models)
store=$(build/bench_store)   # SQLite file in $TMPDIR; PostgreSQL in a throwaway cluster (skipped without the server)
kafka=$(build/bench_kafka "$msg" "$book")
torch_json=null
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  torch_json=$(/usr/bin/python3 tools/bench_torch.py)
  for m in logistic lstm attn_lstm transformer; do
    c=$(echo "$models" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['models']['$m']['train_windows_per_second'])")
    t=$(echo "$torch_json" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['models']['$m']['train_windows_per_second'])")
    echo "$m: training C / PyTorch = $(awk -v a="$c" -v b="$t" 'BEGIN { printf "%.2f", a / b }')" >&2
  done
else
  echo "bench: python3-torch not installed, no PyTorch comparison" >&2
fi
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
printf '{"machine":"%s, %s cores","book":%s,"features":%s,"backtest":%s,"feed":%s,"models":%s,"models_pytorch":%s,"store":%s,"kafka":%s,"callgrind":{%s}}\n' \
  "$cpu" "$(nproc)" "$throughput" "$features" "$backtest" "$feed" "$models" "$torch_json" "$store" "$kafka" "$instr_json"
