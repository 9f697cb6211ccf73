# Shared build environment, sourced by the project's scripts.
# One target directory for developers and CI, so a warm machine rebuilds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/modicum-target}"
MODICUM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MODICUM_ROOT
# The nested Wasm build finds the workspace through this when the target is elsewhere.
export WASM_BUILD_WORKSPACE_HINT="$MODICUM_ROOT"
if [ -f "$MODICUM_ROOT/.wasm-toolchain.env" ]; then
	# shellcheck disable=SC1091
	. "$MODICUM_ROOT/.wasm-toolchain.env"
	[ -n "${WASM_BUILD_TOOLCHAIN:-}" ] && export WASM_BUILD_TOOLCHAIN || unset WASM_BUILD_TOOLCHAIN
fi

# Runs a command and prints how long it took, so a CI log shows where the time goes.
timed() {
	local started=$SECONDS status=0
	"$@" || status=$?
	local took=$((SECONDS - started))
	printf '\033[1m[time]\033[0m %dm%02ds  %s\n' $((took / 60)) $((took % 60)) "$*" >&2
	return "$status"
}
