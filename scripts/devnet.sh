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
# The node and the CLI, both release, in one cargo run (see build-node.sh).
bash scripts/build-node.sh
bash scripts/build-images.sh
node="$CARGO_TARGET_DIR/release/modicum-node"
modicum="$CARGO_TARGET_DIR/release/modicum"
export MODICUM_URL="ws://127.0.0.1:$rpc_port"

work=$(mktemp -d /tmp/modicum-devnet.XXXXXX)
devnet_pid=
cleanup() {
	[ -n "$devnet_pid" ] && kill "$devnet_pid" 2>/dev/null
	wait 2>/dev/null || true
	echo "devnet stopped; logs and state were in $work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The whole market, wired by `modicum devnet` (the same wiring the tests and the
# benchmarks use); it writes $work/ready once every role is registered.
"$modicum" devnet --work "$work" --rpc-port "$rpc_port" --registry-addr "$registry_addr" \
	--uptime-addr "$uptime_addr" --node "$node" >"$work/devnet.log" 2>&1 &
devnet_pid=$!
for _ in $(seq 600); do
	[ -f "$work/ready" ] && break
	kill -0 "$devnet_pid" 2>/dev/null || { cat "$work/devnet.log"; exit 1; }
	sleep 0.5
done
[ -f "$work/ready" ] || { cat "$work/devnet.log"; exit 1; }
cat "$work/devnet.log"

echo "running the sample job as //Alice"
export MODICUM_KEY=//Alice
"$modicum" jc register
"$modicum" jc trust //Charlie
# The sample job file: an input directory (read-only at /in/text), a parameter and an
# environment variable; it waits, downloads and verifies the result, and accepts it.
"$modicum" jc submit examples/sample-job/job.toml --out "$work/result"
echo
echo "result files in $work/result:"
ls -l "$work/result" "$work/result/out"
echo "stdout: $(cat "$work/result/stdout")"
echo "words per input file: $(tr '\n' ';' < "$work/result/out/words.txt")"
unset MODICUM_KEY
if $once; then
	exit 0
fi
cat <<MSG

Modicum devnet is up (Ctrl-C stops it):
  chain     ws://127.0.0.1:$rpc_port       directory  $registry_addr (uptime $uptime_addr)
  try       $modicum --key //Alice jc submit examples/sample-job/job.toml --dry-run
            $modicum --key //Alice jc submit examples/sample-job/job.toml --out result
            $modicum market matches
  logs      $work/*.log
MSG
wait "$devnet_pid"
