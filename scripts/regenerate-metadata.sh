#!/usr/bin/env bash
# Regenerates client/metadata/modicum.scale, the runtime metadata (V16) the client's
# typed API is generated from, by asking a temporary dev node for it.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
if [ "${1:-}" != "--no-build" ]; then bash scripts/build-node.sh; fi
node="$CARGO_TARGET_DIR/release/modicum-node"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
p2p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$node" --dev --tmp --rpc-port "$port" --port "$p2p" --no-prometheus --no-telemetry >/tmp/modicum-metadata-node.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
python3 - "$port" client/metadata/modicum.scale <<'PY'
import json, sys, time, urllib.request
port, out = sys.argv[1], sys.argv[2]
def call(method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}", body, {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=10))
for _ in range(120):
    try:
        # Metadata_metadata_at_version(16): SCALE u32 16, little endian.
        reply = call("state_call", ["Metadata_metadata_at_version", "0x10000000"])
        break
    except Exception:
        time.sleep(0.5)
else:
    sys.exit("the dev node did not answer; see /tmp/modicum-metadata-node.log")
raw = bytes.fromhex(reply["result"][2:])
# Option<OpaqueMetadata>: 0x01, then a compact length, then the metadata bytes.
assert raw[0] == 1, "the runtime does not provide metadata V16"
mode = raw[1] & 3
skip = {0: 1, 1: 2, 2: 4}.get(mode)
if skip is None:
    skip = 1 + (raw[1] >> 2) + 4
meta = raw[1 + skip:]
assert meta[:4] == b"meta", "unexpected metadata prefix"
open(out, "wb").write(meta)
print(f"{out}: {len(meta)} bytes of metadata V{meta[4]}")
PY
