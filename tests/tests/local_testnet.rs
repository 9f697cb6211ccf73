//! Four validators (aura + GRANDPA) on loopback: all produce and finalize blocks, the
//! network keeps finalizing with one stopped, and the stopped one catches up on restart.

use modicum_tests::{finalized_number, run_node_command, wait_for, Node};
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn four_validators_finalize_and_survive_one_failure() -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	// A fixed node key gives Alice a known peer id for the others to dial.
	let key_file = dir.path().join("alice.key");
	std::fs::write(&key_file, "0000000000000000000000000000000000000000000000000000000000000001")?;
	let (ok, peer_id, stderr) =
		run_node_command(&["key", "inspect-node-key", "--file", &key_file.display().to_string()])?;
	anyhow::ensure!(ok, "inspect-node-key failed: {stderr}");
	let peer_id = peer_id.trim().to_string();

	let alice_key = key_file.display().to_string();
	let mut alice = Node::start(
		"alice",
		&dir.path().join("alice"),
		&["--chain", "local", "--alice", "--node-key-file", &alice_key],
	)?;
	// Alice's ports are final once her RPC answers (a node that lost a port restarts).
	let alice_rpc = alice.rpc(MINUTE).await?;
	let bootnode = format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer_id}", alice.p2p_port);
	let mut others = Vec::new();
	// Validators on non-development chains must bring their own network key.
	for (index, name) in ["bob", "charlie", "dave"].into_iter().enumerate() {
		let flag = format!("--{name}");
		let node_key = format!("{:064x}", index + 2);
		others.push(Node::start(
			name,
			&dir.path().join(name),
			&["--chain", "local", &flag, "--node-key", &node_key, "--bootnodes", &bootnode],
		)?);
	}

	let mut rpcs = vec![alice_rpc.clone()];
	for node in &mut others {
		rpcs.push(node.rpc(MINUTE).await?);
	}
	for (i, rpc) in rpcs.iter().enumerate() {
		wait_for(&format!("validator {i} finalizes"), 3, 2 * MINUTE, || finalized_number(rpc))
			.await?;
	}

	// Stop Dave: three of four validators are more than two thirds, so GRANDPA goes on.
	let dave = others.last_mut().expect("three others");
	dave.stop()?;
	let before = finalized_number(&alice_rpc).await?;
	wait_for("finality without Dave", before + 3, 2 * MINUTE, || finalized_number(&alice_rpc))
		.await?;

	dave.restart()?;
	let dave_rpc = dave.rpc(MINUTE).await?;
	let target = finalized_number(&alice_rpc).await?;
	wait_for("Dave catches up", target, 2 * MINUTE, || finalized_number(&dave_rpc)).await?;
	Ok(())
}
