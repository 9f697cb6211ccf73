#!/usr/bin/env bash
# Installs everything Modicum needs on a fresh Debian machine. Idempotent: a second
# run only checks. Needs root (or sudo) for Debian packages.
set -euo pipefail

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# gcc and libc6-dev build the static spin-job binary (scripts/build-images.sh).
DEBIAN_PACKAGES=(protobuf-compiler clang libclang-dev docker-registry busybox-static fonts-dejavu-core gcc libc6-dev)
WASM_PACKAGES=(rustc-web cargo-web rust-web-src lld-22)
WASM_TOOLCHAIN_NAME=debian-web
SYSROOT=/usr/lib/rustlib/wasm32v1-none/lib

missing_packages() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
	done
}

install_debian_packages() {
	local missing
	missing=$(missing_packages "$@")
	if [ -n "$missing" ]; then
		say "installing Debian packages: $missing"
		as_root apt-get update -qq
		# shellcheck disable=SC2086
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
	fi
}

# The normal route: rustup downloads the target. Returns non-zero when it cannot.
rustup_wasm_target() {
	[ "${MODICUM_FORCE_DEBIAN_WASM:-0}" = 1 ] && return 1
	rustup target list --installed 2>/dev/null | grep -q '^wasm32v1-none$' && return 0
	timeout 60 rustup target add wasm32v1-none >/dev/null 2>&1
}

# The offline route (shared/spec/TOOLCHAIN.md): Debian's Rust with its std sources,
# linked into rustup, plus a wasm32v1-none sysroot built once from those sources.
debian_wasm_toolchain() {
	install_debian_packages "${WASM_PACKAGES[@]}"
	rustup toolchain list | grep -q "^${WASM_TOOLCHAIN_NAME}" ||
		rustup toolchain link "$WASM_TOOLCHAIN_NAME" /usr
	if ! ls "$SYSROOT"/libcore-*.rlib >/dev/null 2>&1; then
		say "building the wasm32v1-none sysroot from Debian's Rust sources (a minute or two)"
		local scratch
		scratch=$(mktemp -d)
		mkdir -p "$scratch/src"
		cat >"$scratch/Cargo.toml" <<'TOML'
[package]
name = "sysroot-seed"
version = "0.0.0"
edition = "2021"
[lib]
path = "src/lib.rs"
[profile.release]
panic = "abort"
TOML
		echo '#![no_std]' >"$scratch/src/lib.rs"
		(cd "$scratch" && env -u CARGO_TARGET_DIR PATH=/usr/bin:$PATH RUSTC_BOOTSTRAP=1 \
			RUSTFLAGS="-C embed-bitcode=yes" /usr/bin/cargo build --quiet --release \
			--target wasm32v1-none -Zbuild-std=core,alloc)
		as_root mkdir -p "$SYSROOT"
		as_root cp "$scratch"/target/wasm32v1-none/release/deps/{libcore,liballoc,libcompiler_builtins}-*.rlib "$SYSROOT/"
		rm -rf "$scratch"
		# A nested Wasm build does not notice a new sysroot; make it start over.
		rm -rf "${CARGO_TARGET_DIR:-$HOME/.cache/modicum-target}"/*/wbuild
	fi
}

install_debian_packages "${DEBIAN_PACKAGES[@]}"
if rustup_wasm_target; then
	say "wasm32v1-none target from rustup"
	echo "WASM_BUILD_TOOLCHAIN=" >"$(dirname "$0")/../.wasm-toolchain.env"
else
	say "rustup cannot download wasm32v1-none here; using Debian's Rust (${WASM_TOOLCHAIN_NAME})"
	debian_wasm_toolchain
	echo "WASM_BUILD_TOOLCHAIN=${WASM_TOOLCHAIN_NAME}" >"$(dirname "$0")/../.wasm-toolchain.env"
fi
say "ready"
