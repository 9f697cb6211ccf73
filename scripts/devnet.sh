#!/usr/bin/env bash
# The main command: sets up the machine, builds the node and runs a development chain
# on loopback (instant seal: a block as soon as a transaction arrives, and every second).
# Stop it with Ctrl-C; its state lives in a temporary directory.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
bash scripts/setup.sh
bash scripts/build-node.sh
cat <<MSG

Modicum dev chain
  RPC (WebSocket and HTTP): ws://127.0.0.1:9944   metrics: http://127.0.0.1:9615/metrics
  Accounts //Alice … //Ferdie hold 1 000 000 MDC each; //Alice is sudo.

MSG
exec "$CARGO_TARGET_DIR/release/modicum-node" --dev --tmp --rpc-port 9944 "$@"
