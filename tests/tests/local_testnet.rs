//! Four validators (aura + GRANDPA) on loopback: all produce and finalize blocks, one
//! client's calls sent together land together, the network keeps finalizing with one
//! stopped, and the stopped one catches up on restart.

use anyhow::{ensure, Context};
use modicum_client::{keys, runtime, Chain};
use modicum_tests::{best_number, finalized_number, wait_for, LocalNetwork};
use std::time::Duration;
use subxt_rpcs::{rpc_params, RpcClient};

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

	same_client_calls_do_not_wait_for_each_others_finality(&alice.url(), &alice_rpc).await?;

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

/// Three calls one `Chain` sends at once (as a daemon's tasks do: an RP's next offer
/// and its result) are handed to the pool together and each waits for its own
/// finality: they land in at most two consecutive blocks. Had each waited for the one
/// before it to be finalized, every one would land in a later block than the last.
async fn same_client_calls_do_not_wait_for_each_others_finality(
	url: &str,
	rpc: &RpcClient,
) -> anyhow::Result<()> {
	let chain = Chain::connect(url).await?;
	let signer = keys::from_uri("//Alice")?;
	let first_block = best_number(rpc).await?;
	let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
	// Each remark carries a marker of its own, found again in its block's extrinsics.
	let markers: Vec<Vec<u8>> =
		(0..3).map(|i| format!("modicum submit lock {run} {i}").into_bytes()).collect();
	let sent: Vec<_> = markers
		.iter()
		.map(|marker| {
			let (chain, signer, remark) = (chain.clone(), signer.clone(), marker.clone());
			tokio::spawn(async move {
				chain.submit(&runtime::tx().system().remark(remark), &signer).await
			})
		})
		.collect();
	for call in sent {
		call.await??;
	}
	let last_block = finalized_number(rpc).await?;
	let mut blocks = vec![None; markers.len()];
	for number in first_block..=last_block {
		let hash: serde_json::Value =
			rpc.request("chain_getBlockHash", rpc_params![number]).await?;
		let block: serde_json::Value = rpc.request("chain_getBlock", rpc_params![hash]).await?;
		let extrinsics =
			block["block"]["extrinsics"].as_array().context("a block without extrinsics")?;
		for (marker, found) in markers.iter().zip(&mut blocks) {
			let needle = hex::encode(marker);
			if extrinsics.iter().any(|x| x.as_str().is_some_and(|x| x.contains(&needle))) {
				*found = Some(number);
			}
		}
	}
	let blocks: Vec<u64> = blocks
		.into_iter()
		.collect::<Option<_>>()
		.with_context(|| format!("a remark is missing from blocks {first_block}..={last_block}"))?;
	let (first, last) = (blocks.iter().min(), blocks.iter().max());
	let spread = last.zip(first).map(|(l, f)| l - f).context("no block")?;
	ensure!(spread <= 1, "three calls sent together landed in blocks {blocks:?}");
	Ok(())
}
