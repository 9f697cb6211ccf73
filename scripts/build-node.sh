#!/usr/bin/env bash
# Builds the release node (and its Wasm runtime) into the shared target directory.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
cargo build --release -p modicum-node "$@"
