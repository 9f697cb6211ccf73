#!/usr/bin/env bash
# Regenerates the committed chain specs from the runtime's genesis presets.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
bash scripts/build-node.sh
node="$CARGO_TARGET_DIR/release/modicum-node"
mkdir -p chain-specs
"$node" export-chain-spec --chain dev >chain-specs/dev.json
"$node" export-chain-spec --chain local >chain-specs/local_testnet.json
echo "chain-specs/: regenerated dev.json and local_testnet.json"
