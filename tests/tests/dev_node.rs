//! A `--dev` node seals blocks, accepts a compute-market extrinsic through subxt and
//! reports its event; its Prometheus endpoint serves metrics. Instant seal gathers a
//! burst into one block, keeps an account's transactions that arrive out of order, and
//! seals a burst larger than a block in as many blocks as it needs, at once.

use modicum_tests::{best_number, http_get, wait_for, Node};
use std::time::Duration;
use subxt::{config::PolkadotExtrinsicParamsBuilder, dynamic, OnlineClient, PolkadotConfig};
use subxt_signer::sr25519::{dev, Keypair};

/// Signs `call` as `signer`, submits it and waits for it to be finalized and succeed.
async fn submit(
	api: &OnlineClient<PolkadotConfig>,
	call: &impl subxt::transactions::Payload,
	signer: &Keypair,
) -> anyhow::Result<subxt::extrinsics::ExtrinsicEvents<PolkadotConfig>> {
	Ok(api
		.at_current_block()
		.await?
		.transactions()
		.sign_and_submit_then_watch_default(call, signer)
		.await?
		.wait_for_finalized_success()
		.await?)
}

/// The development preset's registration bond: 10 MDC.
const BOND: u128 = 10 * 1_000_000_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn dev_node_runs_a_compute_market_extrinsic() -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	let mut node = Node::start("dev", dir.path(), &["--dev"])?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	// Instant seal also seals on a 1 s timer, so blocks come without transactions.
	wait_for("dev blocks", 2, Duration::from_secs(30), || best_number(&rpc)).await?;

	let api = OnlineClient::<PolkadotConfig>::from_insecure_url(node.url()).await?;
	let register = dynamic::tx("ComputeMarket", "register_job_creator", ());
	let events = submit(&api, &register, &dev::alice()).await?;
	let registered = events
		.iter()
		.filter_map(Result::ok)
		.find(|e| e.pallet_name() == "ComputeMarket" && e.event_name() == "Registered")
		.ok_or_else(|| {
			anyhow::anyhow!("no ComputeMarket::Registered event:\n{}", node.log_tail())
		})?;
	let fields = registered.decode_as::<dynamic::Value>()?.to_string();
	assert!(fields.contains("JobCreator"), "{fields}");
	assert!(fields.contains(&BOND.to_string()), "{fields}");

	// Registering twice is refused with the pallet's own error.
	let again = submit(&api, &register, &dev::alice()).await;
	let error = again.expect_err("a second registration must fail").to_string();
	assert!(error.contains("AlreadyRegistered"), "{error}");

	let metrics = http_get(node.prometheus_port, "/metrics")?;
	assert!(metrics.contains("substrate_block_height"), "no block height metric");
	node.stop()?;
	Ok(())
}

/// Starts a dev node under `dir` with `seal_flags` and sends it `remarks` (signer, nonce, bytes), all
/// signed at genesis and handed over without waiting; returns the node, how many blocks it
/// made, and the block each remark was sealed in (failing if one is not within a minute).
async fn seal_remarks(
	dir: &std::path::Path,
	seal_flags: &[&str],
	remarks: Vec<(Keypair, u64, Vec<u8>)>,
) -> anyhow::Result<(Node, u64, Vec<subxt::config::HashFor<PolkadotConfig>>)> {
	let flags: Vec<&str> = std::iter::once("--dev").chain(seal_flags.iter().copied()).collect();
	let mut node = Node::start("dev", dir, &flags)?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	let api = OnlineClient::<PolkadotConfig>::from_insecure_url(node.url()).await?;
	let mut transactions = api.at_current_block().await?.transactions();
	let mut sent = Vec::new();
	for (signer, nonce, bytes) in remarks {
		let remark = dynamic::tx("System", "remark", (bytes,));
		let params = PolkadotExtrinsicParamsBuilder::<PolkadotConfig>::new().nonce(nonce).build();
		let signed = transactions.create_signed(&remark, &signer, params).await?;
		sent.push(signed.submit_and_watch().await?);
	}
	let mut blocks = Vec::new();
	for progress in sent {
		let included = tokio::time::timeout(Duration::from_secs(60), progress.wait_for_finalized())
			.await
			.map_err(|_| anyhow::anyhow!("a remark was never sealed:\n{}", node.log_tail()))??;
		blocks.push(included.block_hash());
	}
	let made = best_number(&rpc).await?;
	Ok((node, made, blocks))
}

#[tokio::test(flavor = "multi_thread")]
async fn instant_seal_batches_a_burst_and_keeps_out_of_order_nonces() -> anyhow::Result<()> {
	// No idle timer: the only block is the one the burst makes. Alice's second
	// transaction reaches the pool before her first (both nonces from genesis), then
	// Bob's: all three must be sealed, in one block.
	let remarks = vec![
		(dev::alice(), 1, b"second".to_vec()),
		(dev::alice(), 0, b"first".to_vec()),
		(dev::bob(), 0, b"bob".to_vec()),
	];
	let dir = tempfile::tempdir()?;
	let flags = ["--seal-interval-ms", "0", "--seal-batch-ms", "500"];
	let (mut node, made, blocks) = seal_remarks(dir.path(), &flags, remarks).await?;
	assert!(blocks.iter().all(|b| *b == blocks[0]), "the burst was split: {blocks:?}");
	assert_eq!(made, 1, "one block for the burst");
	node.stop()?;
	Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn instant_seal_seals_a_burst_larger_than_a_block_without_waiting_for_more(
) -> anyhow::Result<()> {
	// No idle timer, and a gathering window that all four arrivals fall in: only what the
	// first block leaves behind can make the next one. Four 1.5 MiB remarks: a block
	// takes at most two (3.75 MiB for normal transactions).
	let remarks =
		(0..4u64).map(|nonce| (dev::alice(), nonce, vec![nonce as u8; 3 << 19])).collect();
	let dir = tempfile::tempdir()?;
	let flags = ["--seal-interval-ms", "0", "--seal-batch-ms", "3000"];
	let (mut node, made, mut blocks) = seal_remarks(dir.path(), &flags, remarks).await?;
	blocks.dedup();
	assert!(blocks.len() >= 2, "four 1.5 MiB remarks cannot share one block: {blocks:?}");
	assert_eq!(made, blocks.len() as u64, "no empty block besides them");
	node.stop()?;
	Ok(())
}
