#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed" (totals over all suites):
#   1. the unit, property, replay, CLI, server (loopback sockets, headless Chromium) and feed tests (Release)
#   2. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the LOBSTER parser fuzzer for $FUZZ_SECONDS seconds (default 60) from the committed corpus,
#      then the fuzzer of the other parsers (formats, specs, feed messages) for 20 seconds
# Exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0

suite() { # name, command...
  local name=$1
  shift
  echo "## $name"
  local log
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local summary
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  rm -f "$log"
  if [[ -n "$summary" ]]; then
    passed=$((passed + $(echo "$summary" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$summary" | cut -d' ' -f3)))
  fi
  if [[ $rc -ne 0 && ( -z "$summary" || $(echo "$summary" | cut -d' ' -f3) -eq 0 ) ]]; then
    echo "# $name exited with status $rc"
    failed=$((failed + 1))
  fi
}

fuzz() { # harness, seconds, committed corpus
  local corpus
  corpus=$(mktemp -d)
  if "build-fuzz/$1" -max_total_time="$2" -print_final_stats=1 "$corpus" "$3" >"build-fuzz/$1.log" 2>&1; then
    grep -E 'stat::number_of_executed_units|Done' "build-fuzz/$1.log" | tail -n 2
    echo "1 passed, 0 failed"
  else
    tail -n 40 "build-fuzz/$1.log"
    echo "0 passed, 1 failed"
  fi
  rm -rf "$corpus"
}

suite "tests (release)" build/obi_test
suite "tests (asan+ubsan)" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/obi_test
suite "fuzz LOBSTER parser and replay (${FUZZ_SECONDS:-60} s)" fuzz fuzz_lobster "${FUZZ_SECONDS:-60}" test/fuzz/corpus
suite "fuzz the other parsers: .npy, safetensors, horizons, strategy and latency specs, feed messages and recordings (20 s)" fuzz fuzz_formats 20 test/fuzz/corpus_formats

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
