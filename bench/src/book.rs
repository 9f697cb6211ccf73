//! A full order book for the memory figure: `count` job offers and `count` resource
//! offers that stay open, posted in batches from chain-rate's account groups. The jobs
//! ask for arm64 and every RP is amd64, so no solver can match them: the book keeps its
//! size while the daemons are measured.

use crate::{
	chain_rate::{
		job_terms, offer_pair, resource_terms, setup, sign_step, StepCall, Submission, PER_GROUP,
		STEP_TIMEOUT,
	},
	market::MDC,
	tx::{self, Bulk, Event},
};
use anyhow::Result;
use modicum_client::{chain::JobTerms, types::Architecture, AccountId, Chain, MarketEvent};
use std::collections::BTreeSet;

/// How long the offers stay open: longer than any measurement.
const OPEN_FOR_MS: u64 = 3_600_000;

/// Posts `count` unmatchable job offers and as many resource offers on the node at `url`
/// and waits until the chain has taken every one.
pub async fn fill(url: &str, count: usize) -> Result<()> {
	let bulk = Bulk::connect(url).await?;
	let chain = Chain::connect(url).await?;
	// Alice's endowment funds 50 groups of five at this: bonds and 200 small deposits each.
	let mut groups = setup(&bulk, count.div_ceil(PER_GROUP), 1_000 * MDC).await?;
	let ours: BTreeSet<AccountId> = groups.iter().flat_map(|g| [g.jc.id, g.rp.id]).collect();
	let now = chain.now_ms().await?;
	let expires_at = now + OPEN_FOR_MS;
	let arm = |g: &crate::chain_rate::Group| -> Result<JobTerms> {
		Ok(JobTerms { arch: Architecture::Arm64, ..job_terms(g.directory.id, now)? })
	};
	let mut deposits = Vec::new();
	for g in &groups {
		let job = chain.quote_job_deposit(&arm(g)?, Some(g.mediator.id)).await?;
		let resource = chain
			.quote_resource_deposit(&resource_terms(), Some(g.mediator.id), Some(g.directory.id))
			.await?;
		deposits.push((job, resource));
	}
	let mut calls: Vec<StepCall> = Vec::with_capacity(count * 2);
	for i in 0..count {
		let g = i / PER_GROUP;
		calls.extend(offer_pair(g, arm(&groups[g])?, deposits[g], expires_at));
	}
	let signed = sign_step(&bulk, &chain, &mut groups, calls, Submission::Batched).await?;
	let mut events = bulk.watch().await?;
	bulk.submit_burst(signed).await?;
	tx::collect(&mut events, count * 2, STEP_TIMEOUT, |e| match e {
		Event::ComputeMarket(MarketEvent::JobOfferPosted { creator, .. }) => {
			ours.contains(creator).then_some(())
		},
		Event::ComputeMarket(MarketEvent::ResourceOfferPosted { provider, .. }) => {
			ours.contains(provider).then_some(())
		},
		_ => None,
	})
	.await?;
	Ok(())
}
