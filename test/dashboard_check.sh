#!/usr/bin/env bash
# Checks the live dashboard (web/) in headless Chromium against a running server: `obi serve`, or
# tools/sse_demo.py while developing.
#
# Usage: test/dashboard_check.sh URL OUTDIR
#   URL     the page, e.g. http://127.0.0.1:8080/
#   OUTDIR  created if missing; gets dashboard.png (the screenshot), dom.html (the DOM after the run)
#           and chromium.log (Chromium's log, console messages included)
#
# One Chromium run loads URL with ?stop_after=N (the page closes its stream for good after N messages),
# waits a few seconds of virtual time, then saves the screenshot and prints the DOM. The page has to stop
# its stream because Chromium's virtual clock does not advance while a request is open, and an
# EventSource request stays open for ever: without stop_after, --virtual-time-budget never expires.
#
# It fails, with one line on stderr saying why, when
#   - Chromium logged a console message or an uncaught exception. Chromium logs every console level
#     (log, warn, error) as INFO:CONSOLE, so the levels cannot be told apart here; the page writes
#     nothing to the console on purpose, so any CONSOLE line or "Uncaught" is taken as an error;
#   - body[data-sse-count] in the DOM is 0 (no SSE message arrived), or is missing;
#   - the price chart drew no points (#chart-price[data-points] is 0): messages arrived but no book;
#   - Chromium did not finish in time: fewer than N messages arrived within DASHBOARD_TIMEOUT seconds;
#   - no screenshot was written.
# On success it prints one line with the message count, e.g. "dashboard ok: 50 SSE messages, ...".
#
# Exit codes: 0 passed, 1 a check failed, 2 usage or environment (no chromium).
# Environment: DASHBOARD_MESSAGES (N, default 50), DASHBOARD_TIMEOUT (seconds, default 60),
#              DASHBOARD_BUDGET (virtual ms after the stream stops, default 3000),
#              DASHBOARD_WINDOW (default 1600,1100).
set -euo pipefail

fail() {
  echo "dashboard_check: $*" >&2
  exit 1
}

if [[ $# -ne 2 ]]; then
  echo "usage: test/dashboard_check.sh URL OUTDIR" >&2
  exit 2
fi
url=$1
out=$2
if ! command -v chromium >/dev/null 2>&1; then
  echo "dashboard_check: chromium is not installed (Debian package chromium)" >&2
  exit 2
fi
messages=${DASHBOARD_MESSAGES:-50}
limit=${DASHBOARD_TIMEOUT:-60}
budget=${DASHBOARD_BUDGET:-3000}
window=${DASHBOARD_WINDOW:-1600,1100}
if ! [[ $messages =~ ^[1-9][0-9]*$ ]]; then
  echo "dashboard_check: DASHBOARD_MESSAGES must be a positive integer" >&2
  exit 2
fi

mkdir -p "$out"
png=$out/dashboard.png
dom=$out/dom.html
log=$out/chromium.log
rm -f "$png" "$dom" "$log"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# the page's URL with stop_after added (before any #fragment)
base=${url%%#*}
frag=
[[ $url == *#* ]] && frag="#${url#*#}"
if [[ $base == *\?* ]]; then base="$base&stop_after=$messages"; else base="$base?stop_after=$messages"; fi

rc=0
timeout -k 5 "$limit" chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$profile" --window-size="$window" --virtual-time-budget="$budget" \
  --enable-logging=stderr --v=0 --screenshot="$png" --dump-dom "$base$frag" >"$dom" 2>"$log" || rc=$?
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
  fail "chromium did not finish within ${limit} s: fewer than $messages SSE messages arrived from $url"
elif [[ $rc -ne 0 ]]; then
  fail "chromium exited with status $rc (see $log)"
fi

# console messages and uncaught exceptions, with the first one quoted
bad=$(grep -m1 -E 'CONSOLE|Uncaught' "$log" || true)
if [[ -n $bad ]]; then
  fail "console message in $log: ${bad#*] }"
fi

count=$(grep -o -m1 'data-sse-count="[0-9]*"' "$dom" | grep -o '[0-9][0-9]*' || true)
if [[ -z $count ]]; then
  neterr=$(grep -o -h -m1 'ERR_[A-Z_]*' "$log" "$dom" | head -1 || true)
  [[ -z $neterr ]] || fail "could not load $url: $neterr"
  fail "no data-sse-count attribute on <body> in $dom (is $url the dashboard?)"
fi
[[ $count -gt 0 ]] || fail "data-sse-count is 0: no SSE message arrived from the stream of $url"

points=$(tr -d '\n' <"$dom" | grep -o 'id="chart-price"[^>]*data-points="[0-9]*"' | grep -o '[0-9]*"$' |
  tr -d '"' || true)
[[ -n $points && $points -gt 0 ]] || fail "the price chart drew no points after $count messages (no book event?)"

[[ -s $png ]] || fail "no screenshot was written to $png"

echo "dashboard ok: $count SSE messages, price chart $points points, no console messages; screenshot $png"
