#!/usr/bin/env bash
# Runs every test of the project. The README's test command.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
bash scripts/setup.sh
# The pallet: unit, scenario and property tests in a mock runtime, then the benchmarks
# run once each as tests (they assert each call's worst case succeeds).
cargo test -p pallet-compute-market
cargo test -p pallet-compute-market --features runtime-benchmarks,try-runtime -- benchmarking
