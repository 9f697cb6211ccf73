//! The chains a figure runs on: the instant-seal dev node, or the four-validator aura +
//! GRANDPA local network users run (`--chain local`, Alice, Bob, Charlie and Dave on
//! loopback: [`LocalNetwork`], shared with the tests), with how far finality trails
//! the best block there.

use crate::{setup::say, stats::median};
use anyhow::{ensure, Result};
use modicum_tests::LocalNetwork;
use modicum_tests::{best_number, finalized_number};
use std::{
	collections::BTreeMap,
	path::Path,
	time::{Duration, Instant},
};
use subxt_rpcs::RpcClient;

/// Which chain a market figure runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
	/// One `--dev` node sealing a block as soon as transactions arrive.
	Dev,
	/// Four validators of `--chain local`: aura slots, GRANDPA finality.
	Local,
}

impl Network {
	/// The suffix of its rows' ids: none for the dev node, `.local` for the network.
	pub fn suffix(self) -> &'static str {
		match self {
			Network::Dev => "",
			Network::Local => ".local",
		}
	}

	/// How its rows name it.
	pub fn describe(self) -> String {
		match self {
			Network::Dev => "dev chain".into(),
			Network::Local => "four-validator aura + GRANDPA local network on one machine".into(),
		}
	}
}

/// Starts the four validators for `figure` under `work`, each with `extra` flags.
pub async fn start_local(figure: &str, work: &Path, extra: &[&str]) -> Result<LocalNetwork> {
	say(figure, "starting a four-validator aura + GRANDPA network");
	LocalNetwork::start(work, extra).await
}

/// How far finality trailed the best block over a window.
#[derive(Clone, Debug)]
pub struct FinalityLag {
	/// Median time from a block number first being best to it being finalized.
	pub median_s: f64,
	/// The longest such time seen.
	pub max_s: f64,
	/// Blocks both seen best and finalized in the window.
	pub blocks: usize,
}

/// Watches `rpc` for `window`, polling the best and finalized numbers every 100 ms, and
/// returns how long each block number took from best to finalized.
pub async fn finality_lag(rpc: &RpcClient, window: Duration) -> Result<FinalityLag> {
	let start = Instant::now();
	let mut best_seen: BTreeMap<u64, Instant> = BTreeMap::new();
	let mut lags = Vec::new();
	let mut finalized_so_far = finalized_number(rpc).await?;
	while start.elapsed() < window {
		let (best, finalized) = (best_number(rpc).await?, finalized_number(rpc).await?);
		let now = Instant::now();
		best_seen.entry(best).or_insert(now);
		// Numbers finalized now whose best moment was seen: earlier ones may have been
		// best before the window opened.
		for number in finalized_so_far + 1..=finalized {
			if let Some(seen) = best_seen.get(&number) {
				lags.push(now.duration_since(*seen).as_secs_f64());
			}
		}
		finalized_so_far = finalized_so_far.max(finalized);
		tokio::time::sleep(Duration::from_millis(100)).await;
	}
	ensure!(!lags.is_empty(), "no block was both seen best and finalized within {window:?}");
	Ok(FinalityLag {
		median_s: median(&lags),
		max_s: lags.iter().copied().fold(0.0, f64::max),
		blocks: lags.len(),
	})
}

/// The chain's aura slot in seconds, from its runtime (`AuraApi_slot_duration`).
pub async fn slot_s(rpc: &RpcClient) -> Result<f64> {
	let answer: String =
		rpc.request("state_call", subxt_rpcs::rpc_params!["AuraApi_slot_duration", "0x"]).await?;
	let bytes = hex::decode(answer.trim_start_matches("0x"))?;
	let millis = u64::from_le_bytes(
		bytes.as_slice().try_into().map_err(|_| anyhow::anyhow!("slot duration {answer}"))?,
	);
	Ok(millis as f64 / 1000.0)
}
