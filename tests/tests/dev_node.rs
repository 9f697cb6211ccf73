//! A `--dev` node seals blocks, accepts a compute-market extrinsic through subxt and
//! reports its event; its Prometheus endpoint serves metrics.

use modicum_tests::{best_number, http_get, wait_for, Node};
use std::time::Duration;
use subxt::{dynamic, OnlineClient, PolkadotConfig};
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
