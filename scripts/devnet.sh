#!/usr/bin/env bash
# The main command: sets up the machine, builds everything, starts a local devnet —
# a dev chain, a directory (OCI registry), a mediator, a resource provider and a
# solver — and runs a sample Docker job through the whole market: push, offer,
# match, run, result, verification, payment. Then it keeps the devnet up for you
# to use (Ctrl-C stops everything); with --once it stops after the sample job.
#
#   //Alice  job creator (and sudo)      //Bob    resource provider
#   //Charlie mediator                   //Dave   directory      //Eve  solver
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
once=false
[ "${1:-}" = "--once" ] && once=true
rpc_port=${MODICUM_RPC_PORT:-9944}
registry_addr=${MODICUM_REGISTRY_ADDR:-127.0.0.1:5000}
uptime_addr=${MODICUM_UPTIME_ADDR:-127.0.0.1:5001}

bash scripts/setup.sh
bash scripts/build-node.sh
cargo build -p modicum-cli
bash scripts/build-images.sh
node="$CARGO_TARGET_DIR/release/modicum-node"
modicum="$CARGO_TARGET_DIR/debug/modicum"
export MODICUM_URL="ws://127.0.0.1:$rpc_port"

work=$(mktemp -d /tmp/modicum-devnet.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "devnet stopped; logs and state were in $work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$node" --dev --base-path "$work/node" --rpc-port "$rpc_port" --no-prometheus \
	--no-telemetry --port 0 >"$work/node.log" 2>&1 &
pids+=($!)
echo "starting the dev chain (log: $work/node.log)"
for _ in $(seq 120); do
	"$modicum" market params >/dev/null 2>&1 && break
	sleep 0.5
done
"$modicum" market params >/dev/null || { tail -20 "$work/node.log"; exit 1; }

# Waits until $1 holds role $2 on chain.
wait_for_role() {
	for _ in $(seq 120); do
		"$modicum" --json market actor "$1" 2>/dev/null | grep -q "\"$2\"" && return 0
		sleep 0.5
	done
	echo "$1 did not register as $2; see the logs in $work" >&2
	return 1
}

cat >"$work/directory.toml" <<TOML
[chain]
key = "//Dave"
[directory]
data_dir = "$work/directory"
registry_addr = "$registry_addr"
uptime_addr = "$uptime_addr"
availability_price = "0.001"
TOML
"$modicum" directory serve --config "$work/directory.toml" >"$work/directory.log" 2>&1 &
pids+=($!)
wait_for_role //Dave directory

cat >"$work/mediator.toml" <<TOML
[chain]
key = "//Charlie"
[mediator]
trusted_directories = ["//Dave"]
base_images = ["modicum/base:1"]
work_dir = "$work/mediator"
availability_price = "0.001"
TOML
"$modicum" mediator run --config "$work/mediator.toml" >"$work/mediator.log" 2>&1 &
pids+=($!)
wait_for_role //Charlie mediator

cat >"$work/rp.toml" <<TOML
[chain]
key = "//Bob"
[rp]
trusted_mediators = ["//Charlie"]
trusted_directories = ["//Dave"]
base_images = ["modicum/base:1"]
work_dir = "$work/rp"
[rp.offer]
instruction_price = "0.000001"
instruction_cap = 600000
memory_cap = 268435456
local_storage_cap = 67108864
bandwidth_cap = 536870912
bandwidth_price = "1planck"
match_incentive = "0.001"
lifetime_ms = 3600000
TOML
"$modicum" rp run --config "$work/rp.toml" >"$work/rp.log" 2>&1 &
pids+=($!)

cat >"$work/solver.toml" <<TOML
[chain]
key = "//Eve"
TOML
"$modicum" solver run --config "$work/solver.toml" >"$work/solver.log" 2>&1 &
pids+=($!)
wait_for_role //Bob resource-provider

echo "running the sample job as //Alice"
export MODICUM_KEY=//Alice
"$modicum" jc register
"$modicum" jc trust //Charlie
"$modicum" jc submit --image modicum/sample-job:1 --directory //Dave \
	--instructions 20000 --deadline-secs 120 --wait --out "$work/result" --accept
echo
echo "result files in $work/result:"
ls -l "$work/result" "$work/result/out"
echo "stdout: $(cat "$work/result/stdout")"
unset MODICUM_KEY
if $once; then
	exit 0
fi
cat <<MSG

Modicum devnet is up (Ctrl-C stops it):
  chain     ws://127.0.0.1:$rpc_port       directory  $registry_addr (uptime $uptime_addr)
  try       $modicum --key //Alice jc submit --image modicum/sample-job:1 --directory //Dave --wait --out result
            $modicum market matches
  logs      $work/*.log
MSG
wait
