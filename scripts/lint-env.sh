# Sourced by .ci/run: every build that follows compiles the project's own crates with
# clippy-driver (scripts/clippy-rustc.sh), denying every warning, so the test command's
# builds are also the lint. Source it in a shell to lint the same way while you build.
MODICUM_CLIPPY_DRIVER="$(rustup which clippy-driver)"
export MODICUM_CLIPPY_DRIVER
export RUSTC_WORKSPACE_WRAPPER="$MODICUM_ROOT/scripts/clippy-rustc.sh"
# clippy-driver reads its own arguments from here, joined the way `cargo clippy -- -D warnings`
# joins them.
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

# Fails unless the wrapper really lints: a crate with a clippy error must not build, and the
# same crate without it must.
lint_self_check() {
	local probe status=0
	probe="$(mktemp -d)"
	mkdir -p "$probe/src"
	printf '[package]\nname = "modicum-lint-probe"\nversion = "0.1.0"\nedition = "2021"\n[workspace]\n' \
		>"$probe/Cargo.toml"
	echo 'pub fn same(x: u32) -> bool { x == x }' >"$probe/src/lib.rs"
	if CARGO_TARGET_DIR="$probe/target" cargo build --offline --quiet --manifest-path "$probe/Cargo.toml" 2>/dev/null; then
		echo "clippy did not lint through $RUSTC_WORKSPACE_WRAPPER" >&2
		status=1
	fi
	echo 'pub fn same(x: u32) -> bool { x == 1 }' >"$probe/src/lib.rs"
	if ! CARGO_TARGET_DIR="$probe/target" cargo build --offline --quiet --manifest-path "$probe/Cargo.toml"; then
		echo "a clean crate did not build through $RUSTC_WORKSPACE_WRAPPER" >&2
		status=1
	fi
	rm -rf "$probe"
	return "$status"
}
