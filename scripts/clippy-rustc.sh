#!/usr/bin/env bash
# The rustc wrapper CI builds the workspace with (RUSTC_WORKSPACE_WRAPPER, scripts/lint-env.sh):
# each of the project's own crates is compiled by clippy-driver, which is rustc plus clippy's
# lints. So the test command's builds lint the code they build, and CI does not check the
# whole Substrate tree a second time in `cargo clippy`'s check mode (27 min on a cold machine).
# Cargo calls it as `clippy-rustc.sh <rustc> <args>` for workspace members only; anything
# else, and the runtime's nested Wasm build, goes to rustc unchanged.
set -euo pipefail
rustc="$1"
shift
lint=0
case "${CARGO_PKG_NAME:-}" in modicum-* | pallet-compute-market) lint=1 ;; esac
previous=""
for arg in "$@"; do
	# The nested Wasm build may use another toolchain (scripts/setup.sh): no clippy there.
	case "$previous$arg" in --target*wasm* | --target=*wasm*) lint=0 ;; esac
	previous="$arg"
done
if [ "$lint" = 1 ]; then
	exec "${MODICUM_CLIPPY_DRIVER:?scripts/lint-env.sh sets it}" "$rustc" "$@"
fi
exec "$rustc" "$@"
