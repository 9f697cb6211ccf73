//! Loopback ports for the processes the tests start.
//!
//! A port the kernel hands out for `bind(0)` comes from the ephemeral range, the same range
//! it takes the local ports of outgoing connections from. Once the probing listener closes,
//! the next outgoing connection (a client's RPC socket, Docker's registry pull) may take
//! that very port before the node binds it, and the node then exits with "Address already
//! in use". So ports are picked at random below the ephemeral range, where the kernel
//! never assigns one on its own, and only after a bind shows them free.

use anyhow::{bail, Result};
use std::{
	collections::hash_map::RandomState,
	hash::{BuildHasher, Hasher},
	net::TcpListener,
	sync::atomic::{AtomicU64, Ordering},
};

/// Lowest port handed out: above the registered services most machines run.
const LOWEST: u16 = 10_000;
/// Used when `/proc` does not say where the ephemeral range starts (Linux's default).
const DEFAULT_EPHEMERAL_START: u16 = 32_768;
/// Random picks tried before giving up.
const ATTEMPTS: usize = 200;

/// A loopback port nobody listens on right now, outside the kernel's ephemeral range.
pub fn free_port() -> Result<u16> {
	let end = ephemeral_start();
	for _ in 0..ATTEMPTS {
		let port = LOWEST + (random() % u64::from(end - LOWEST)) as u16;
		if TcpListener::bind(("127.0.0.1", port)).is_ok() {
			return Ok(port);
		}
	}
	bail!("no free loopback port in {LOWEST}..{end} after {ATTEMPTS} tries")
}

/// Where the kernel starts picking ports for `bind(0)` and outgoing connections.
fn ephemeral_start() -> u16 {
	std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
		.ok()
		.and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
		.filter(|start| *start > LOWEST + 1_000)
		.unwrap_or(DEFAULT_EPHEMERAL_START)
}

/// A fresh random number per call (std's randomly keyed hasher over a counter), so that
/// test processes running side by side do not walk the same ports.
fn random() -> u64 {
	static COUNTER: AtomicU64 = AtomicU64::new(0);
	let mut hasher = RandomState::new().build_hasher();
	hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
	hasher.write_u128(
		std::time::SystemTime::now()
			.duration_since(std::time::UNIX_EPOCH)
			.map(|d| d.as_nanos())
			.unwrap_or_default(),
	);
	hasher.finish()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn ports_are_free_and_below_the_ephemeral_range() {
		let end = ephemeral_start();
		for _ in 0..50 {
			let port = free_port().unwrap();
			assert!((LOWEST..end).contains(&port), "{port} outside {LOWEST}..{end}");
			TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
		}
	}

	#[test]
	fn a_busy_port_is_never_handed_out() {
		let held: Vec<_> = (0..20)
			.map(|_| TcpListener::bind(("127.0.0.1", free_port().unwrap())).unwrap())
			.collect();
		let busy: Vec<u16> = held.iter().map(|l| l.local_addr().unwrap().port()).collect();
		for _ in 0..200 {
			assert!(!busy.contains(&free_port().unwrap()));
		}
	}
}
