#!/usr/bin/env bash
# FI-2010 reproduction run (docs/models.md): train on days 1-6, test on day 7 (days 8-10, the
# usual test days, are not in ../shared/data/fi2010), horizons k = 10, 20, 50 (DeepLOB's naming).
# Usage: tools/fi2010_repro.sh [DATA_DIR] [OUT_DIR]   (defaults: ../shared/data/fi2010, /tmp/fi2010)
# Budget-conscious defaults for a 2-core machine: LSTM T 50 H 32 for 5 epochs, DeepLOB T 50 for 2.
# A run whose result file exists is skipped (resumable); OBI=path selects the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-../shared/data/fi2010}
OUT=${2:-/tmp/fi2010}
mkdir -p "$OUT"
train=("$D"/Train_Dst_NoAuction_ZScore_CF_1.txt.zst "$D"/Test_Dst_NoAuction_ZScore_CF_{1,2,3,4,5}.txt.zst)
test=("$D"/Test_Dst_NoAuction_ZScore_CF_6.txt.zst)
echo '{"window": 50, "hidden": 32, "epochs": 5}' > "$OUT/lstm.json"
echo '{"window": 50, "epochs": 2, "batch": 32}' > "$OUT/deeplob.json"
echo '{"epochs": 10}' > "$OUT/logistic.json"
echo '{"window": 50, "epochs": 4}' > "$OUT/transformer.json"
OBI=${OBI:-build/obi}
run() { # model horizon extra-args...
  local m=$1 k=$2
  shift 2
  [[ -s "$OUT/$m-k$k.json" ]] && { cat "$OUT/$m-k$k.json"; return; }
  "$OBI" train --model "$m" --fi2010 "${train[@]}" --horizon "$k" --config "$OUT/$m.json" --out "$OUT/$m-k$k.safetensors" \
    --quiet "$@"
  "$OBI" eval --model "$OUT/$m-k$k.safetensors" --fi2010 "${test[@]}" --horizon "$k" --json "$@" | tee "$OUT/$m-k$k.json"
}
for k in 10 20 50; do run logistic $k --fi2010-all-features; done
for k in 10 20 50; do run lstm $k; done
for k in 10 20 50; do run transformer $k; done
for k in 10 20 50; do run deeplob $k; done
