//! Handing freed heap memory back to the system while a daemon runs.
//!
//! glibc's malloc keeps what a program frees inside its arenas (one per thread that
//! allocated, up to eight per core) and gives memory back to the system only from the
//! top of the main heap. A daemon's start (the chain's metadata decoded, the first reads
//! of the book, Docker's and the registry's set-up) frees megabytes in the middle of
//! them, which would otherwise stay resident for the daemon's whole life: every
//! daemon's idle resident set was its peak. `malloc_trim` returns every whole free page.
//! jemalloc or mimalloc would return memory on their own, but replacing the allocator
//! of the whole program, with a C build of its own, for what one call does is not worth
//! it.

use std::time::Duration;

/// How often the free pages are handed back: often enough that an idle daemon holds
/// only what it uses; a trim of a daemon's small heap takes microseconds.
const EVERY: Duration = Duration::from_secs(5);

/// Trims the heap now and every [`EVERY`]; never returns.
pub async fn keep_trimmed() {
	let mut ticks = tokio::time::interval(EVERY);
	ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
	loop {
		ticks.tick().await;
		trim();
	}
}

/// Returns the heap's free pages to the system.
fn trim() {
	#[cfg(all(target_os = "linux", target_env = "gnu"))]
	// SAFETY: `malloc_trim` takes no pointers and only rearranges glibc's own free
	// lists, under the arenas' locks; it is safe to call from any thread at any time.
	unsafe {
		libc::malloc_trim(0);
	}
}
