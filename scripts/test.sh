#!/usr/bin/env bash
# Runs every test of the project. The README's test command.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
bash scripts/setup.sh
# The pallet in a mock runtime: unit, scenario and property tests, try_state, and each
# benchmark run once as a test.
cargo test -p pallet-compute-market --features runtime-benchmarks,try-runtime
# End to end against real nodes: a dev node with a compute-market extrinsic, a
# four-validator testnet, bad input, and the committed chain specs.
bash scripts/build-node.sh
cargo test --release -p modicum-node
cargo test -p modicum-tests -- --test-threads 1
