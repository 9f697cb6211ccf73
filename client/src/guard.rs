//! What a call's sender saw of a match when it decided to send the call. Following
//! best blocks, a block seen may be retracted, and on the chain that replaces it the
//! same match id may name another job: a result computed for one job must not land
//! as another's. A guarded call is sent only if the block it is anchored to still
//! shows the match as it was seen ([`crate::Chain::submit_guarded`], and guarded calls
//! in a batch).

use crate::{chain::AtBlock, chain::MatchInfo, runtime, types::MatchState, ClientError};
use codec::Encode;

/// A match as seen when a call about it was decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchGuard {
	/// The match.
	pub match_id: u64,
	/// What was seen of it.
	seen: Box<MatchInfo>,
	/// How much of it must still be the same.
	scope: Scope,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
	/// The parties, offers and terms of the job an RP ran, still waiting for a result:
	/// what an RP posts or commits to (a result already on chain is not sent again,
	/// and costs no fee).
	AwaitingResult,
	/// All of it, its state included: what a JC verified (the posted result).
	Whole,
}

/// The same parties, offers and terms: the same job for the same parties (the state
/// may have moved on).
fn same_terms(a: &MatchInfo, b: &MatchInfo) -> bool {
	a.job_offer_id == b.job_offer_id
		&& a.resource_offer_id == b.resource_offer_id
		&& a.job_creator == b.job_creator
		&& a.resource_provider == b.resource_provider
		&& a.mediator == b.mediator
		&& a.job == b.job
		&& a.resource == b.resource
}

/// A digest of the job a match names and its parties, for keeping on disk beside
/// what was done for it (an RP's phase): the same digest on two chains means the same
/// job (same image, reference, limits and deadline) from the same offers between the
/// same parties.
pub fn job_fingerprint(info: &MatchInfo) -> [u8; 32] {
	let job = &info.job;
	let identity = (
		info.job_offer_id,
		info.resource_offer_id,
		info.job_creator.0,
		info.resource_provider.0,
		info.mediator.0,
		job.job_hash,
		&job.job_reference.0,
		job.first_layer_hash,
		job.completion_deadline,
		job.instruction_limit,
	);
	sp_crypto_hashing::blake2_256(&identity.encode())
}

impl MatchGuard {
	/// Holds while the match has the same parties, offers and terms and still waits
	/// for a result (`Matched`).
	pub fn awaiting_result(match_id: u64, seen: &MatchInfo) -> MatchGuard {
		MatchGuard { match_id, seen: Box::new(seen.clone()), scope: Scope::AwaitingResult }
	}

	/// Holds while the match is exactly as seen, its state included.
	pub fn whole(match_id: u64, seen: &MatchInfo) -> MatchGuard {
		MatchGuard { match_id, seen: Box::new(seen.clone()), scope: Scope::Whole }
	}

	/// Whether `now` (the match as a block shows it, if open) is what was seen.
	pub fn holds_for(&self, now: Option<&MatchInfo>) -> bool {
		now.is_some_and(|now| match self.scope {
			Scope::AwaitingResult => {
				same_terms(now, &self.seen) && matches!(now.state, MatchState::Matched)
			},
			Scope::Whole => *now == *self.seen,
		})
	}

	/// Reads the match at `at`; [`ClientError::MatchChanged`] unless it holds there.
	pub(crate) async fn check_at(&self, at: &AtBlock, call: &str) -> Result<(), ClientError> {
		let api = runtime::runtime_apis().compute_market_api().match_info(self.match_id);
		let now = at
			.runtime_apis()
			.call(api)
			.await
			.map_err(|e| crate::chain::read_error("a match", e))?;
		if self.holds_for(now.as_ref()) {
			Ok(())
		} else {
			Err(ClientError::MatchChanged { call: call.into(), match_id: self.match_id })
		}
	}
}
