#!/usr/bin/env bash
# Builds the release node (and its Wasm runtime) and the release `modicum` CLI into the
# shared target directory, in one cargo run: they share the Substrate crates (the CLI's
# research tools run the real pallet), which then compile once, with one feature set.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
cargo build --release -p modicum-node -p modicum-cli "$@"
