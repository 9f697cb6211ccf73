//! A `--dev` node seals blocks, accepts a compute-market extrinsic through subxt and
//! reports its event; its Prometheus endpoint serves metrics. Instant seal gathers a
//! burst into one block and keeps an account's transactions that arrive out of order.

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

#[tokio::test(flavor = "multi_thread")]
async fn instant_seal_batches_a_burst_and_keeps_out_of_order_nonces() -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	// No idle timer: the only block is the one the burst makes.
	let flags = ["--dev", "--seal-interval-ms", "0", "--seal-batch-ms", "500"];
	let mut node = Node::start("dev", dir.path(), &flags)?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	let api = OnlineClient::<PolkadotConfig>::from_insecure_url(node.url()).await?;
	let at = api.at_current_block().await?;
	let mut transactions = at.transactions();

	// Alice's second transaction reaches the pool before her first (both nonces from
	// genesis), then Bob's: all three must be sealed, in one block.
	let mut sent = Vec::new();
	for (signer, nonce, text) in
		[(dev::alice(), 1, "second"), (dev::alice(), 0, "first"), (dev::bob(), 0, "bob")]
	{
		let remark = dynamic::tx("System", "remark", (text.as_bytes().to_vec(),));
		let params = PolkadotExtrinsicParamsBuilder::<PolkadotConfig>::new().nonce(nonce).build();
		let signed = transactions.create_signed(&remark, &signer, params).await?;
		sent.push(signed.submit_and_watch().await?);
	}
	let mut blocks = Vec::new();
	for progress in sent {
		let included = tokio::time::timeout(Duration::from_secs(30), progress.wait_for_finalized())
			.await
			.map_err(|_| anyhow::anyhow!("a remark was never sealed:\n{}", node.log_tail()))??;
		blocks.push(included.block_hash());
	}
	assert!(blocks.iter().all(|b| *b == blocks[0]), "the burst was split: {blocks:?}");
	assert_eq!(best_number(&rpc).await?, 1, "one block for the burst");
	node.stop()?;
	Ok(())
}
