//! Reputation (README, "Reputation"): per account and role, how its matches ended, as
//! only the chain can vouch for. Updated in the one close path, so every ending is
//! counted once; kept after an account deregisters, so leaving does not wipe a record.

use crate::{batched_counts::Counter, effects::Effects, pallet::*, types::*};
use frame_support::{traits::Get, weights::Weight};

/// The reputation entries `post_match` reads for rule 13 (the RP's and the JC's) when
/// its offers require records; the benchmarks' offers require none.
pub const RECORDS_READ_BY_MATCH: u64 = 2;

impl<T: Config> Pallet<T> {
	/// Counts how the match closed in its parties' records.
	pub(crate) fn record_outcome(
		record: &MatchOf<T>,
		outcome: CloseOutcome,
		effects: &mut Effects<T>,
	) {
		let mut bump =
			|who: &T::AccountId, role: Role, counter: Counter| effects.count(who, role, counter);
		let (jc, rp) = (&record.job_creator, &record.resource_provider);
		let status = match &record.state {
			MatchState::ResultPosted { result, .. }
			| MatchState::InMediation { result, .. }
			| MatchState::AwaitingReplicas { result } => Some(result.status),
			_ => None,
		};
		// A dispute the JC raised, as opposed to one the chain raised for replicas.
		let rejected_by_jc = matches!(
			&record.state,
			MatchState::InMediation { reason, .. } if *reason != RejectReason::ReplicasDisagree
		);
		match outcome {
			CloseOutcome::Accepted(_) if status == Some(ResultStatus::Declined) => {
				bump(rp, Role::ResourceProvider, |r| &mut r.declined)
			},
			CloseOutcome::Accepted(_) => {
				bump(rp, Role::ResourceProvider, |r| &mut r.accepted);
				bump(jc, Role::JobCreator, |r| &mut r.accepted);
			},
			CloseOutcome::TimedOut => bump(rp, Role::ResourceProvider, |r| &mut r.timed_out),
			CloseOutcome::Mediated { verdict, faulty } => {
				bump(&record.mediator, Role::Mediator, |r| &mut r.mediations_ruled);
				match faulty {
					FaultyParty::ResourceProvider => {
						bump(rp, Role::ResourceProvider, |r| &mut r.fined);
						if rejected_by_jc {
							bump(jc, Role::JobCreator, |r| &mut r.rejections_upheld);
						}
					},
					FaultyParty::JobCreator => {
						bump(jc, Role::JobCreator, |r| &mut r.fined);
						if verdict == Verdict::CorrectResults {
							bump(rp, Role::ResourceProvider, |r| &mut r.accepted);
						}
					},
					FaultyParty::Directory => {
						bump(&record.job.directory, Role::Directory, |r| &mut r.fined)
					},
				}
			},
			CloseOutcome::MediationFailed => {
				bump(&record.mediator, Role::Mediator, |r| &mut r.mediations_missed)
			},
		}
	}

	/// What rule 13 reads for `matches` matches beyond their benchmarked weights.
	pub fn record_reads(matches: u32) -> Weight {
		T::DbWeight::get().reads(RECORDS_READ_BY_MATCH.saturating_mul(u64::from(matches)))
	}

	/// Every role's record of `who`, for `ComputeMarketApi::reputation`.
	pub fn reputation_of(who: &T::AccountId) -> alloc::vec::Vec<(Role, Reputation)> {
		Reputations::<T>::iter_prefix(who).collect()
	}
}
