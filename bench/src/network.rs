//! The chains a figure runs on: the instant-seal dev node, or the four-validator aura +
//! GRANDPA local network users run (`--chain local`, Alice, Bob, Charlie and Dave on
//! loopback, as `tests/tests/local_testnet.rs` starts it), with how far finality trails
//! the best block there.

use crate::{setup::say, stats::median};
use anyhow::{ensure, Result};
use modicum_tests::{best_number, finalized_number, run_node_command, wait_for, Node};
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

/// The four validators; Alice's node is the one clients and daemons talk to.
pub struct LocalNetwork {
	/// Alice's node.
	pub alice: Node,
	/// Bob's, Charlie's and Dave's.
	pub others: Vec<Node>,
}

/// A fixed network key for Alice, so the others can dial her by peer id.
const ALICE_NODE_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";
/// How long the network may take to finalize its first block.
const FIRST_FINALITY: Duration = Duration::from_secs(180);

impl LocalNetwork {
	/// Starts the four validators under `work`, each with `extra` flags besides the
	/// standard ones, and waits until every one has finalized a block.
	pub async fn start(figure: &str, work: &Path, extra: &[&str]) -> Result<LocalNetwork> {
		say(figure, "starting a four-validator aura + GRANDPA network");
		std::fs::create_dir_all(work)?;
		let key_file = work.join("alice.key");
		std::fs::write(&key_file, ALICE_NODE_KEY)?;
		let key_path = key_file.display().to_string();
		let (ok, peer_id, stderr) =
			run_node_command(&["key", "inspect-node-key", "--file", &key_path])?;
		ensure!(ok, "modicum-node key inspect-node-key failed: {stderr}");
		let flags = |own: &[&str]| -> Vec<String> {
			["--chain", "local"]
				.iter()
				.chain(own)
				.chain(extra)
				.map(|s| s.to_string())
				.collect::<Vec<_>>()
		};
		let alice_flags = flags(&["--alice", "--node-key-file", &key_path]);
		let mut alice = Node::start(
			"alice",
			&work.join("alice"),
			&alice_flags.iter().map(String::as_str).collect::<Vec<_>>(),
		)?;
		// Alice's ports are final once her RPC answers (a node that lost a port restarts).
		let alice_rpc = alice.rpc(Duration::from_secs(60)).await?;
		let bootnode = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", alice.p2p_port, peer_id.trim());
		let mut others = Vec::new();
		for (index, name) in ["bob", "charlie", "dave"].into_iter().enumerate() {
			let (flag, node_key) = (format!("--{name}"), format!("{:064x}", index + 2));
			let own = flags(&[&flag, "--node-key", &node_key, "--bootnodes", &bootnode]);
			others.push(Node::start(
				name,
				&work.join(name),
				&own.iter().map(String::as_str).collect::<Vec<_>>(),
			)?);
		}
		let mut rpcs = vec![alice_rpc];
		for node in &mut others {
			rpcs.push(node.rpc(Duration::from_secs(60)).await?);
		}
		for (rpc, name) in rpcs.iter().zip(["alice", "bob", "charlie", "dave"]) {
			let what = format!("{name} to finalize a block");
			if let Err(e) = wait_for(&what, 1, FIRST_FINALITY, || finalized_number(rpc)).await {
				let logs: Vec<String> =
					std::iter::once(&alice).chain(&others).map(|n| n.log_tail()).collect();
				return Err(e.context(logs.join("\n")));
			}
		}
		Ok(LocalNetwork { alice, others })
	}
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
