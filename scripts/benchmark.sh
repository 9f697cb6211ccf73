#!/usr/bin/env bash
# Measures the compute-market pallet's weights on the real runtime and writes
# pallets/compute-market/src/weights.rs. Builds a node with the benchmarking CLI.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
bash scripts/setup.sh
# frame-benchmarking-cli brings frame-storage-access-test-runtime, whose Wasm (used only by
# `benchmark storage`) cannot be built from outside its own workspace: wasm-builder looks it
# up in our workspace's metadata, where it is not a package. Skip just that crate's Wasm.
export SKIP_FRAME_STORAGE_ACCESS_TEST_RUNTIME_WASM_BUILD=1
# build-node.sh re-reads the environment, including the Wasm toolchain setup.sh chose.
# The CLI it builds beside the node runs the pallet in the research tools' own runtime,
# which needs the feature too once the pallet has it.
bash scripts/build-node.sh --features runtime-benchmarks,modicum-research/runtime-benchmarks
# Median slopes, not least squares: the batch calls' two components are swept one at a
# time with the other at its most, and a least-squares plane through those points put
# 15 ms in accept_results' base and too little in its slopes (128 shared items came out
# 4 ms under what they were measured to take). Single-component calls get the same
# line either way.
"$CARGO_TARGET_DIR/release/modicum-node" benchmark pallet \
	--chain dev \
	--pallet pallet_compute_market \
	--extrinsic '*' \
	--steps 2 \
	--repeat "${REPEAT:-20}" \
	--wasm-execution compiled \
	--output-analysis median-slopes \
	--template scripts/weight-template.hbs \
	--output pallets/compute-market/src/weights.rs
echo "wrote pallets/compute-market/src/weights.rs"
