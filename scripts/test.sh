#!/usr/bin/env bash
# Runs every test of the project. The README's test command.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
timed bash scripts/setup.sh
# Every debug build below enables the pallet's benchmark and try-runtime features, through
# `modicum-research` where the pallet is not selected, so the Substrate crates compile once
# in debug (with two feature sets they compiled twice).
debug_features=modicum-research/runtime-benchmarks,modicum-research/try-runtime
# The pallet in a mock runtime (unit, scenario and property tests, try_state, and each
# benchmark run once as a test) and the off-chain side: client library, daemons (executor
# and directory tests use the local Docker engine and docker-registry), solver, research
# tools, CLI.
timed cargo test -p pallet-compute-market -p modicum-client -p modicum-offchain -p modicum-research -p modicum-cli \
	--features "pallet-compute-market/runtime-benchmarks,pallet-compute-market/try-runtime,$debug_features"
# End to end against real nodes: a dev node with a compute-market extrinsic, a
# four-validator testnet, bad input, the committed chain specs and metadata, and the
# whole market with real Docker jobs.
# One release build (the node and its Wasm runtime); everything else runs the debug
# `modicum` (the release CLI is for devnet.sh and bench/run.sh).
timed cargo build --release -p modicum-node
timed cargo build -p modicum-cli --features "$debug_features"
timed cargo test --release -p modicum-node
timed cargo test -p modicum-tests -- --test-threads 1
# The benchmark harness, each figure at smoke size (bench/README.md), with the debug
# CLI just built rather than whatever release build an earlier run left behind.
timed env MODICUM_CLI="$CARGO_TARGET_DIR/debug/modicum" cargo test -p modicum-bench --features "$debug_features" -- --test-threads 1
