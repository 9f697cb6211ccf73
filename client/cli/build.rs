//! Links `modicum` with packed relative relocations (`DT_RELR`, glibc ≥ 2.36, GNU ld ≥
//! 2.38; Debian 12 has both). A position-independent binary of this size carries about
//! a megabyte of ordinary relocations that every daemon reads at start-up and keeps
//! resident; packed, they take a few kilobytes, and ASLR stays.
fn main() {
	let target = std::env::var("TARGET").unwrap_or_default();
	if target.contains("linux-gnu") {
		println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
	}
}
