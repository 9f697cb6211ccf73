//! The four-validator aura + GRANDPA network users run (`--chain local`: Alice, Bob,
//! Charlie and Dave on loopback), for the tests and the benchmarks that need real slots
//! and real finality.

use crate::{finalized_number, run_node_command, wait_for, Node};
use anyhow::{ensure, Result};
use std::{path::Path, time::Duration};

/// The four validators; Alice's node is the one clients and daemons talk to.
pub struct LocalNetwork {
	/// Alice's node.
	pub alice: Node,
	/// Bob's, Charlie's and Dave's, in that order.
	pub others: Vec<Node>,
}

/// A fixed network key for Alice, so the others can dial her by peer id.
const ALICE_NODE_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";
/// How long a node may take to answer RPC once started.
const RPC_UP: Duration = Duration::from_secs(60);
/// How long the network may take to finalize its first block.
const FIRST_FINALITY: Duration = Duration::from_secs(180);

impl LocalNetwork {
	/// Starts the four validators under `work`, each with `extra` flags besides the
	/// standard ones, and waits until every one has finalized a block. On a timeout the
	/// error carries the end of every node's log.
	pub async fn start(work: &Path, extra: &[&str]) -> Result<LocalNetwork> {
		std::fs::create_dir_all(work)?;
		let key_file = work.join("alice.key");
		std::fs::write(&key_file, ALICE_NODE_KEY)?;
		let key_path = key_file.display().to_string();
		let (ok, peer_id, stderr) =
			run_node_command(&["key", "inspect-node-key", "--file", &key_path])?;
		ensure!(ok, "modicum-node key inspect-node-key failed: {stderr}");
		let flags = |own: &[&str]| -> Vec<String> {
			["--chain", "local"].iter().chain(own).chain(extra).map(|s| s.to_string()).collect()
		};
		let start = |name: &str, flags: Vec<String>| {
			Node::start(
				name,
				&work.join(name),
				&flags.iter().map(String::as_str).collect::<Vec<_>>(),
			)
		};
		let mut alice = start("alice", flags(&["--alice", "--node-key-file", &key_path]))?;
		// Alice's ports are final once her RPC answers (a node that lost a port restarts).
		let alice_rpc = alice.rpc(RPC_UP).await?;
		let bootnode = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", alice.p2p_port, peer_id.trim());
		let mut others = Vec::new();
		// Validators on non-development chains must bring their own network key.
		for (index, name) in ["bob", "charlie", "dave"].into_iter().enumerate() {
			let (flag, node_key) = (format!("--{name}"), format!("{:064x}", index + 2));
			others.push(start(
				name,
				flags(&[&flag, "--node-key", &node_key, "--bootnodes", &bootnode]),
			)?);
		}
		let mut rpcs = vec![alice_rpc];
		for node in &mut others {
			rpcs.push(node.rpc(RPC_UP).await?);
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
