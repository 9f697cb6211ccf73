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
"$CARGO_TARGET_DIR/release/modicum-node" benchmark pallet \
	--chain dev \
	--pallet pallet_compute_market \
	--extrinsic '*' \
	--steps 2 \
	--repeat "${REPEAT:-20}" \
	--wasm-execution compiled \
	--template scripts/weight-template.hbs \
	--output pallets/compute-market/src/weights.rs
echo "wrote pallets/compute-market/src/weights.rs"
