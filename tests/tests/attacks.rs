//! Issue 13's holes, tried through the raw extrinsics on a real dev node as a hostile
//! third-party client would: each is refused, or leaves the victim whole.

use anyhow::{ensure, Context, Result};
use modicum_client::{
	calls::Market,
	chain::{JobTerms, ResourceTerms},
	keys, reference,
	types::{Architecture, FaultyParty, RejectReason, ResultStatus, Role, Verdict},
	AccountId, Chain, Keypair, MarketEvent,
};
use modicum_tests::Node;
use std::time::Duration;

const MDC: u128 = 1_000_000_000_000;
const LAYER: [u8; 32] = [7; 32];
const MINUTE_MS: u64 = 60_000;

fn job_terms(directory: AccountId, now: u64, deadline_ms: u64) -> JobTerms {
	JobTerms {
		provider_record: None,
		instruction_limit: 1_000,
		bandwidth_limit: 0,
		instruction_max_price: 0,
		bandwidth_max_price: 0,
		completion_deadline: now + deadline_ms,
		match_incentive: 0,
		first_layer_hash: LAYER,
		ram_limit: 1 << 20,
		local_storage_limit: 1 << 20,
		directory,
		job_reference: reference("http://127.0.0.1:1/jobs/x").unwrap(),
		job_hash: [1; 32],
		arch: Architecture::Amd64,
	}
}

fn free_resource_terms() -> ResourceTerms {
	ResourceTerms {
		creator_record: None,
		instruction_price: 0,
		instruction_cap: 1_000_000,
		memory_cap: 1 << 30,
		local_storage_cap: 1 << 30,
		bandwidth_cap: 1 << 30,
		bandwidth_price: 0,
		match_incentive: 0,
	}
}

/// One account in every role it needs to deal with itself; its mediator's price per
/// instruction makes the fee it could rule for itself 200 MDC, far above a bond.
async fn register_self_dealer(chain: &Chain, me: &Keypair, directory: AccountId) -> Result<()> {
	let market = Market::new(chain, me);
	market.register_job_creator().await?;
	market.register_resource_provider(Architecture::Amd64, 1_000_000).await?;
	market.register_mediator(Architecture::Amd64, 1_000_000, MDC / 10, 0, 0).await?;
	market.trust_mediator(keys::account_of(me)).await?;
	market.trust_directory(directory).await?;
	market.add_base_layer(LAYER).await?;
	Ok(())
}

fn offer_id(events: &[MarketEvent]) -> Result<u64> {
	events
		.iter()
		.find_map(|e| match e {
			MarketEvent::JobOfferPosted { offer_id, .. }
			| MarketEvent::ResourceOfferPosted { offer_id, .. } => Some(*offer_id),
			_ => None,
		})
		.context("no offer posted")
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_call_sequences_leave_the_victims_whole() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let mut node = Node::start("attacks", dir.path(), &["--dev"])?;
	node.rpc(Duration::from_secs(60)).await?;
	let chain = Chain::connect(&node.url()).await?;
	let (attacker, victim) = (keys::from_uri("//Eve")?, keys::from_uri("//Dave")?);
	let victim_id = keys::account_of(&victim);
	let attacker_id = keys::account_of(&attacker);
	Market::new(&chain, &victim)
		.register_directory(reference("http://127.0.0.1:1")?, MDC / 1000)
		.await?;
	register_self_dealer(&chain, &attacker, victim_id).await?;
	let victim_bond = chain.directory(&victim_id).await?.context("directory")?.bond;
	let victim_free = chain.free_balance(&victim_id).await?;
	let market = Market::new(&chain, &attacker);

	// Hole 3: a deadline years away would hold the directory's open items forever.
	let now = chain.now_ms().await?;
	let far = job_terms(victim_id, now, 10 * 365 * 24 * 60 * MINUTE_MS);
	let refused = market.post_job_offer(far, 10 * MDC, now + 30 * MINUTE_MS).await;
	let error = refused.expect_err("a ten-year deadline must be refused").to_string();
	ensure!(error.contains("DeadlineTooFar"), "{error}");

	// Hole 1: the attacker names the victim directory, matches with itself as mediator
	// and rules the directory at fault.
	let job = job_terms(victim_id, now, 60 * MINUTE_MS);
	let job_deposit = chain.quote_job_deposit(&job, Some(attacker_id)).await?;
	let job_id = offer_id(&market.post_job_offer(job, job_deposit, now + 30 * MINUTE_MS).await?)?;
	// Hole 2: a free offer's floor deposit cannot owe a timeout or a verdict.
	let resource = free_resource_terms();
	let floor = chain.quote_resource_deposit(&resource, None, None).await?;
	let cheap_id = offer_id(
		&market.post_resource_offer(resource.clone(), floor, now + 30 * MINUTE_MS).await?,
	)?;
	let refused = market.post_match(job_id, cheap_id, attacker_id).await;
	let error = refused.expect_err("a floor deposit must not back a match").to_string();
	ensure!(error.contains("ResourceDepositTooLowForMatch"), "{error}");
	let deposit =
		chain.quote_resource_deposit(&resource, Some(attacker_id), Some(victim_id)).await?;
	let resource_id =
		offer_id(&market.post_resource_offer(resource, deposit, now + 30 * MINUTE_MS).await?)?;
	let matched = market.post_match(job_id, resource_id, attacker_id).await?;
	let match_id = matched
		.iter()
		.find_map(|e| match e {
			MarketEvent::Matched { match_id, .. } => Some(*match_id),
			_ => None,
		})
		.context("no match")?;
	let record = chain.match_info(match_id).await?.context("match")?;
	ensure!(record.directory_liability == 0, "the directory never consented to this mediator");
	let status = ResultStatus::DirectoryUnavailable;
	market.post_result(match_id, status, reference("none")?, [0; 32], 1_000, 0).await?;
	market.reject_result(match_id, RejectReason::DirectoryUnavailable).await?;
	let verdict = market
		.post_mediation_result(
			match_id,
			Verdict::DirectoryUnavailable,
			FaultyParty::Directory,
			1_000,
			0,
			[0; 32],
		)
		.await?;
	let short = verdict
		.iter()
		.any(|e| matches!(e, MarketEvent::Shortfall { who, paid: 0, .. } if *who == attacker_id));
	ensure!(short, "the attacker's unpaid fee is announced: {verdict:?}");
	let bond = chain.directory(&victim_id).await?.context("directory")?.bond;
	ensure!(bond == victim_bond, "the directory's bond went from {victim_bond} to {bond}");
	let free = chain.free_balance(&victim_id).await?;
	ensure!(free == victim_free, "the directory's free balance went from {victim_free} to {free}");
	// The directory can still leave: nothing it never agreed to holds it.
	Market::new(&chain, &victim).deregister(Role::Directory).await?;
	node.stop()?;
	Ok(())
}
