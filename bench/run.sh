#!/usr/bin/env bash
# Runs the whole benchmark harness and writes bench/results/latest.{md,json}:
# set up the machine, build the release node, the job images, and release builds of
# `modicum` (the daemons the figures run) and `modicum-bench`, then measure.
# Extra arguments go to modicum-bench (e.g. --only latency throughput).
set -euo pipefail
. "$(dirname "$0")/../scripts/env.sh"
cd "$MODICUM_ROOT"
bash scripts/setup.sh
# The bench in the same cargo run as the node and the CLI, so nothing they share is
# built again with another feature set.
bash scripts/build-node.sh -p modicum-bench
bash scripts/build-images.sh
MODICUM_CLI="$CARGO_TARGET_DIR/release/modicum" \
	"$CARGO_TARGET_DIR/release/modicum-bench" --out bench/results "$@"
