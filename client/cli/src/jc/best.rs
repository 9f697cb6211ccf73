//! What `jc submit --wait` needs to follow best blocks safely: finding its own offer
//! or match again after blocks that showed it were retracted, and waiting until the
//! accept that ends the job is final.

use super::Session;
use anyhow::{bail, Result};
use modicum_client::{
	chain::{Head, JobTerms},
	events::MarketEvents,
	AccountId, Chain, MarketEvent,
};

/// How many finalized blocks past the accept's the CLI waits for the match's close to
/// be among them: far beyond a healthy network's finality lag (three blocks
/// here), short enough that a user is told when the accept was lost.
pub const FINAL_CLOSE_WITHIN_BLOCKS: u32 = 40;

impl Session {
	/// The same session, reading at, following and waiting for `head`.
	pub fn following(&self, head: Head) -> Session {
		Session {
			chain: self.chain.clone().following(head),
			signer: self.signer.clone(),
			me: self.me,
		}
	}
}

/// Where a job is on the chain now.
#[derive(Debug, PartialEq, Eq)]
pub enum Located {
	/// An open job offer of ours with these terms.
	Offer(u64),
	/// A match of ours for these terms: its id, job offer and RP.
	Match { match_id: u64, offer_id: u64, provider: AccountId },
	/// Neither: the blocks that held the offer were retracted, and it was not posted
	/// again (yet).
	Nowhere,
}

/// Finds the job with `terms`, created by `me`, at the chain's head. Its ids may differ
/// from those seen before a retraction: on the chain that replaced the retracted
/// blocks, the same transaction may have landed in another place.
pub async fn locate(chain: &Chain, me: &AccountId, terms: &JobTerms) -> Result<Located> {
	for (offer_id, offer) in chain.job_offers().await? {
		if &offer.owner == me && &offer.terms == terms {
			return Ok(Located::Offer(offer_id));
		}
	}
	for (match_id, info) in chain.matches().await? {
		if &info.job_creator == me && &info.job == terms {
			let (offer_id, provider) = (info.job_offer_id, info.resource_provider);
			return Ok(Located::Match { match_id, offer_id, provider });
		}
	}
	Ok(Located::Nowhere)
}

/// Whether a block's events name `me` as a job's creator (an offer or match of ours
/// that may be the one to locate again).
pub fn names_creator(events: &[MarketEvent], me: &AccountId) -> bool {
	events.iter().any(|event| match event {
		MarketEvent::JobOfferPosted { creator, .. } => creator == me,
		MarketEvent::Matched { job_creator, .. } => job_creator == me,
		_ => false,
	})
}

/// Waits until a finalized block closes `match_id`; `finalized` must have been opened
/// before the accept was sent, so that the close cannot slip past. The accept is in
/// block `included_by` of the best chain or an earlier one: the finalized blocks after
/// that one are counted.
pub async fn final_close(
	finalized: &mut MarketEvents,
	match_id: u64,
	included_by: u64,
) -> Result<()> {
	let mut past = 0u32;
	while let Some(block) = finalized.next().await {
		let block = block?;
		let closed = block
			.events
			.iter()
			.any(|e| matches!(e, MarketEvent::MatchClosed { match_id: id, .. } if *id == match_id));
		if closed {
			return Ok(());
		}
		if block.number > included_by {
			past = past.saturating_add(1);
		}
		if past > FINAL_CLOSE_WITHIN_BLOCKS {
			bail!(
				"match {match_id}: the accept was in a best block, but {FINAL_CLOSE_WITHIN_BLOCKS} \
				 finalized blocks after it the match is still open (the block was retracted); \
				 accept again with `modicum jc accept {match_id}`"
			)
		}
	}
	bail!("the node closed the event subscription")
}
