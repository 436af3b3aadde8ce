#!/usr/bin/env bash
# Installs the Debian packages obi needs to build and test, and nothing that is already
# there: each package is checked with `dpkg -s` first, and `apt-get update` runs only when
# something is missing. Safe to run any number of times.
#   scripts/install-deps.sh            build and test dependencies
#   scripts/install-deps.sh --test     also what `make check` uses (Chromium, headless, for the HTML reports;
#                                      python3-yaml for the deploy/ checks, the PostgreSQL server for the
#                                      store tests' throwaway cluster)
#   scripts/install-deps.sh --bench    also what `make bench` uses (valgrind, PyTorch for the comparison)
set -euo pipefail

packages=(build-essential cmake pkg-config clang libclang-rt-dev libzstd-dev zstd libssl-dev python3-numpy libopenblas-dev libjansson-dev libxgboost-dev libmicrohttpd-dev libwebsockets-dev libsqlite3-dev libpq-dev librdkafka-dev)
if [[ "${1:-}" == "--bench" ]]; then packages+=(valgrind python3-torch); fi
if [[ "${1:-}" == "--test" ]]; then packages+=(chromium python3-yaml postgresql); fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: missing ${missing[*]} and not root (no sudo)" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
