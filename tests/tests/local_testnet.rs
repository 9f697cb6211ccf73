//! Four validators (aura + GRANDPA) on loopback: all produce and finalize blocks, the
//! network keeps finalizing with one stopped, and the stopped one catches up on restart.

use modicum_tests::{finalized_number, wait_for, LocalNetwork};
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn four_validators_finalize_and_survive_one_failure() -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	// Every validator has finalized a block once `start` returns.
	let LocalNetwork { mut alice, mut others } = LocalNetwork::start(dir.path(), &[]).await?;
	let alice_rpc = alice.rpc(MINUTE).await?;
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
