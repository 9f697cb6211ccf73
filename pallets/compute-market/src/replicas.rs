//! Replicated jobs (README, "Replicated jobs"): one job offered k times, run by k
//! distinct RPs with one mediator. Once no replica can still post (all have, or the
//! completion deadline passed) the chain compares the posted results: one result
//! settles like any match; equal ones are accepted without the JC; different ones go
//! to the mediator, whose one set of n runs rules on every replica at once.

use crate::{economics, effects::Effects, pallet::*, types::*};
use alloc::vec::Vec;
use frame_support::{ensure, pallet_prelude::*};
use sp_runtime::traits::{BlakeTwo256, Hash};

/// A replica that posted: its match id, its record and what it posted.
type Posted<T> = (MatchId, MatchOf<T>, PostedResult);

impl<T: Config> Pallet<T> {
	pub(crate) fn do_post_replicated_job_offer(
		who: T::AccountId,
		terms: JobTermsOf<T>,
		replicas: u32,
		excluded: BoundedVec<T::AccountId, ConstU32<MAX_EXCLUDED_PROVIDERS>>,
		deposit: BalanceOf<T>,
		expires_at: Moment,
	) -> DispatchResult {
		ensure!(replicas >= 2, Error::<T>::TooFewReplicas);
		ensure!(replicas <= MAX_REPLICAS, Error::<T>::TooManyReplicas);
		let completion_deadline = terms.completion_deadline;
		let mut offers = BoundedVec::<OfferId, ConstU32<MAX_REPLICAS>>::new();
		for _ in 0..replicas {
			let id = Self::do_post_job_offer(
				who.clone(),
				terms.clone(),
				deposit,
				expires_at,
				&mut Effects::Now,
			)?;
			offers.try_push(id).map_err(|_| Error::<T>::TooManyReplicas)?;
		}
		let group = *offers.first().ok_or(Error::<T>::TooFewReplicas)?;
		let mut members = BoundedVec::new();
		for &id in offers.iter() {
			OfferReplicaGroup::<T>::insert(id, group);
			members.try_push(ReplicaMember::Offer(id)).map_err(|_| Error::<T>::TooManyReplicas)?;
		}
		ReplicaGroups::<T>::insert(
			group,
			ReplicaGroup {
				job_creator: who.clone(),
				members,
				providers: BoundedVec::new(),
				excluded: excluded.clone(),
				mediator: None,
				completion_deadline,
				disputed: false,
			},
		);
		Self::deposit_event(Event::ReplicatedJobOfferPosted {
			group,
			creator: who,
			offers,
			excluded,
		});
		Ok(())
	}

	/// The replica rules of a match: a distinct RP the JC did not exclude, and the
	/// mediator the group's other replicas use.
	pub(crate) fn check_replica_match(
		group: ReplicaGroupId,
		provider: &T::AccountId,
		mediator: &T::AccountId,
	) -> DispatchResult {
		let group = ReplicaGroups::<T>::get(group).ok_or(Error::<T>::ReplicaGroupNotFound)?;
		ensure!(!group.excluded.contains(provider), Error::<T>::ReplicaProviderExcluded);
		ensure!(!group.providers.contains(provider), Error::<T>::ReplicaProviderRepeated);
		ensure!(
			group.mediator.as_ref().is_none_or(|chosen| chosen == mediator),
			Error::<T>::ReplicaMediatorMismatch
		);
		Ok(())
	}

	/// Records that a replica's offer became `match_id`, run by `provider`.
	pub(crate) fn join_replica(
		group: ReplicaGroupId,
		offer_id: OfferId,
		match_id: MatchId,
		provider: &T::AccountId,
		mediator: &T::AccountId,
	) -> DispatchResult {
		OfferReplicaGroup::<T>::remove(offer_id);
		MatchReplicaGroup::<T>::insert(match_id, group);
		ReplicaGroups::<T>::try_mutate(group, |entry| {
			let entry = entry.as_mut().ok_or(Error::<T>::ReplicaGroupNotFound)?;
			for member in entry.members.iter_mut() {
				if *member == ReplicaMember::Offer(offer_id) {
					*member = ReplicaMember::Match(match_id);
				}
			}
			entry.providers.try_push(provider.clone()).map_err(|_| Error::<T>::TooManyReplicas)?;
			entry.mediator.get_or_insert_with(|| mediator.clone());
			Ok(())
		})
	}

	/// Drops a replica that left storage (offer withdrawn, match closed) from its
	/// group, and the group once it is empty.
	pub(crate) fn forget_replica(member: ReplicaMember) {
		let group = match member {
			ReplicaMember::Offer(id) => OfferReplicaGroup::<T>::take(id),
			ReplicaMember::Match(id) => MatchReplicaGroup::<T>::take(id),
		};
		let Some(group) = group else { return };
		ReplicaGroups::<T>::mutate_exists(group, |entry| {
			if let Some(inner) = entry {
				inner.members.retain(|m| *m != member);
				if inner.members.is_empty() {
					*entry = None;
				}
			}
		});
	}

	/// Forgets the group: its replicas settle (or expire) on their own from now on.
	fn dissolve(id: ReplicaGroupId, group: &ReplicaGroup<T::AccountId>) {
		for member in group.members.iter() {
			match *member {
				ReplicaMember::Offer(offer) => OfferReplicaGroup::<T>::remove(offer),
				ReplicaMember::Match(matched) => MatchReplicaGroup::<T>::remove(matched),
			}
		}
		ReplicaGroups::<T>::remove(id);
	}

	/// What a replica commits to: `blake2_256(SCALE((match_id, status, root)))`. The
	/// match id makes each replica's commitment its own, so none can reuse another's.
	pub fn result_commitment(
		match_id: MatchId,
		status: ResultStatus,
		root: &ContentHash,
	) -> ContentHash {
		<BlakeTwo256 as Hash>::hash_of(&(match_id, status, root)).0
	}

	/// A replica reveals by the completion deadline plus its reaction window.
	pub(crate) fn reveal_deadline(record: &MatchOf<T>) -> Moment {
		record.job.completion_deadline.saturating_add(record.reaction_window)
	}

	/// Whether a replica of the group may still be matched or commit.
	fn still_committing(group: &ReplicaGroup<T::AccountId>, now: Moment) -> bool {
		group.members.iter().any(|member| match *member {
			ReplicaMember::Offer(id) => JobOffers::<T>::get(id)
				.is_some_and(|o| now <= o.expires_at.min(group.completion_deadline)),
			ReplicaMember::Match(id) => Matches::<T>::get(id).is_some_and(|m| {
				m.state == MatchState::Matched && now <= m.job.completion_deadline
			}),
		})
	}

	pub(crate) fn do_commit_result(
		who: T::AccountId,
		match_id: MatchId,
		commitment: ContentHash,
	) -> DispatchResult {
		let mut record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		ensure!(who == record.resource_provider, Error::<T>::NotResourceProvider);
		let group = MatchReplicaGroup::<T>::get(match_id).ok_or(Error::<T>::NotReplica)?;
		ensure!(record.state == MatchState::Matched, Error::<T>::NotAwaitingResult);
		ensure!(
			Self::now() <= record.job.completion_deadline,
			Error::<T>::CompletionDeadlinePassed
		);
		record.state = MatchState::Committed { commitment };
		Matches::<T>::insert(match_id, record);
		Self::deposit_event(Event::ReplicaResultCommitted {
			match_id,
			group,
			resource_provider: who,
		});
		Ok(())
	}

	/// A replica's reveal: committed, matching its commitment, in time, and only once
	/// no other replica can still commit.
	pub(crate) fn check_reveal(
		group: ReplicaGroupId,
		match_id: MatchId,
		record: &MatchOf<T>,
		result: &PostedResult,
	) -> DispatchResult {
		let commitment = match &record.state {
			MatchState::Committed { commitment } => *commitment,
			MatchState::Matched => return Err(Error::<T>::ResultNotCommitted.into()),
			_ => return Err(Error::<T>::NotAwaitingResult.into()),
		};
		let now = Self::now();
		ensure!(now <= Self::reveal_deadline(record), Error::<T>::RevealDeadlinePassed);
		ensure!(
			Self::result_commitment(match_id, result.status, &result.hash) == commitment,
			Error::<T>::CommitmentMismatch
		);
		let group = ReplicaGroups::<T>::get(group).ok_or(Error::<T>::ReplicaGroupNotFound)?;
		ensure!(!Self::still_committing(&group, now), Error::<T>::ReplicasStillCommitting);
		Ok(())
	}

	pub(crate) fn do_reveal_result(
		who: T::AccountId,
		match_id: MatchId,
		result: PostedResult,
	) -> DispatchResult {
		let mut record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		ensure!(who == record.resource_provider, Error::<T>::NotResourceProvider);
		let group = MatchReplicaGroup::<T>::get(match_id).ok_or(Error::<T>::NotReplica)?;
		Self::check_reveal(group, match_id, &record, &result)?;
		Self::posted_price(&record, &result)?;
		record.state = MatchState::AwaitingReplicas { result: result.clone() };
		Matches::<T>::insert(match_id, record);
		Self::deposit_event(Event::ReplicaResultPosted {
			match_id,
			group,
			resource_provider: who,
			result,
		});
		Self::resolve_replicas(group)?;
		Ok(())
	}

	/// The replicas that posted, or `None` while one may still be matched or post.
	fn posted_replicas(group: &ReplicaGroup<T::AccountId>) -> Option<Vec<Posted<T>>> {
		let now = Self::now();
		let mut posted = Vec::new();
		for member in group.members.iter() {
			match *member {
				ReplicaMember::Offer(id) => {
					let matchable = JobOffers::<T>::get(id)
						.is_some_and(|o| now <= o.expires_at.min(group.completion_deadline));
					if matchable {
						return None;
					}
				},
				ReplicaMember::Match(id) => {
					let Some(record) = Matches::<T>::get(id) else { continue };
					match &record.state {
						MatchState::Matched if now <= record.job.completion_deadline => {
							return None
						},
						MatchState::Committed { .. } if now <= Self::reveal_deadline(&record) => {
							return None
						},
						MatchState::AwaitingReplicas { result } => {
							let result = result.clone();
							posted.push((id, record, result));
						},
						_ => {},
					}
				},
			}
		}
		Some(posted)
	}

	/// Compares the group's results if no replica can still post; returns whether it
	/// did. A group in dispute waits for its verdict instead.
	pub(crate) fn resolve_replicas(id: ReplicaGroupId) -> Result<bool, DispatchError> {
		let group = ReplicaGroups::<T>::get(id).ok_or(Error::<T>::ReplicaGroupNotFound)?;
		ensure!(!group.disputed, Error::<T>::ReplicaDisputeNeedsGroupVerdict);
		let Some(mut posted) = Self::posted_replicas(&group) else { return Ok(false) };
		Self::dissolve(id, &group);
		let agreed = posted.windows(2).all(|pair| {
			let (a, b) = (&pair[0].2, &pair[1].2);
			(a.status, a.hash) == (b.status, b.hash)
		});
		match posted.len() {
			0 => {},
			1 => {
				let (match_id, record, result) = posted.remove(0);
				Self::open_reaction_window(match_id, record, result)?;
			},
			_ if agreed => {
				let matches = posted.iter().map(|(m, ..)| *m).collect::<Vec<_>>();
				let matches = BoundedVec::truncate_from(matches);
				Self::deposit_event(Event::ReplicasAgreed { group: id, matches });
				for (match_id, record, result) in posted {
					let price = Self::price_at_provider_rates(
						&record,
						result.instruction_count,
						result.bandwidth_used,
					)
					.map_err(Error::<T>::from)?;
					let outcome = CloseOutcome::Accepted(Acceptor::ReplicasAgreed);
					let ending = economics::Ending::Accepted;
					Self::close(match_id, record, price, ending, outcome, &mut Effects::Now)?;
				}
			},
			_ => Self::dispute_replicas(id, group, posted)?,
		}
		Ok(true)
	}

	/// The one replica that posted settles like any match: the JC may react now.
	fn open_reaction_window(
		match_id: MatchId,
		mut record: MatchOf<T>,
		result: PostedResult,
	) -> DispatchResult {
		let price =
			Self::price_at_provider_rates(&record, result.instruction_count, result.bandwidth_used)
				.map_err(Error::<T>::from)?;
		let job_price = Self::narrow(price)?;
		let reaction_deadline = Self::now().saturating_add(record.reaction_window);
		record.state = MatchState::ResultPosted { result: result.clone(), reaction_deadline };
		let (resource_provider, job_creator) =
			(record.resource_provider.clone(), record.job_creator.clone());
		Matches::<T>::insert(match_id, record);
		Self::deposit_event(Event::ResultPosted {
			match_id,
			resource_provider,
			job_creator,
			result,
			job_price,
			reaction_deadline,
		});
		Ok(())
	}

	/// Sends every replica that posted to the group's mediator.
	fn dispute_replicas(
		id: ReplicaGroupId,
		group: ReplicaGroup<T::AccountId>,
		posted: Vec<Posted<T>>,
	) -> DispatchResult {
		let mediator = group.mediator.clone().ok_or(Error::<T>::ReplicaGroupNotFound)?;
		let now = Self::now();
		let job = posted.first().map(|(_, record, _)| record.job.clone());
		let job = job.ok_or(Error::<T>::ReplicaGroupNotFound)?;
		let (mut members, mut results) = (BoundedVec::new(), BoundedVec::new());
		let mut earliest = Moment::MAX;
		for (match_id, mut record, result) in posted {
			let mediation_deadline = now.saturating_add(record.mediation_window);
			earliest = earliest.min(mediation_deadline);
			record.state = MatchState::InMediation {
				result: result.clone(),
				reason: RejectReason::ReplicasDisagree,
				mediation_deadline,
			};
			let provider = record.resource_provider.clone();
			results
				.try_push((match_id, provider, result))
				.map_err(|_| Error::<T>::TooManyReplicas)?;
			members
				.try_push(ReplicaMember::Match(match_id))
				.map_err(|_| Error::<T>::TooManyReplicas)?;
			MatchReplicaGroup::<T>::insert(match_id, id);
			Matches::<T>::insert(match_id, record);
		}
		let group_creator = group.job_creator.clone();
		ReplicaGroups::<T>::insert(id, ReplicaGroup { members, disputed: true, ..group });
		Self::deposit_event(Event::ReplicasDisagreed {
			group: id,
			mediator,
			job_creator: group_creator,
			directory: job.directory,
			job_reference: job.job_reference,
			job_hash: job.job_hash,
			results,
			mediation_deadline: earliest,
		});
		Ok(())
	}

	pub(crate) fn do_settle_replicas(id: ReplicaGroupId) -> DispatchResult {
		ensure!(Self::resolve_replicas(id)?, Error::<T>::ReplicasStillRunning);
		Ok(())
	}

	pub(crate) fn do_post_replica_verdict(
		who: T::AccountId,
		id: ReplicaGroupId,
		verdict: ReplicaVerdict,
		(instruction_count, bandwidth_used): (u64, u64),
	) -> DispatchResult {
		let group = ReplicaGroups::<T>::get(id).ok_or(Error::<T>::ReplicaGroupNotFound)?;
		ensure!(group.disputed, Error::<T>::ReplicaGroupNotDisputed);
		ensure!(group.mediator.as_ref() == Some(&who), Error::<T>::NotMediator);
		let now = Self::now();
		let mut ruled = Vec::new();
		for member in group.members.iter() {
			let ReplicaMember::Match(match_id) = *member else { continue };
			let Some(record) = Matches::<T>::get(match_id) else { continue };
			if let MatchState::InMediation { result, mediation_deadline, .. } = &record.state {
				// A replica past its deadline is left to `mediation_timeout`.
				if now <= *mediation_deadline {
					let result = result.clone();
					ruled.push((match_id, record, result));
				}
			}
		}
		let job = ruled.first().map(|(_, record, _)| record.job.clone());
		let job = job.ok_or(Error::<T>::MediationDeadlinePassed)?;
		Self::ensure_within_limits(&job, instruction_count, bandwidth_used)?;
		Self::deposit_event(Event::ReplicaVerdictPosted {
			group: id,
			mediator: who,
			verdict: verdict.clone(),
			instruction_count,
			bandwidth_used,
		});
		Self::dissolve(id, &group);
		for (match_id, record, result) in ruled {
			let (ending, outcome, price) = Self::replica_ruling(
				&record,
				&result,
				&verdict,
				(instruction_count, bandwidth_used),
			)?;
			Self::close(match_id, record, price, ending, outcome, &mut Effects::Now)?;
		}
		Ok(())
	}

	/// How one replica settles under the verdict, and its posted price.
	fn replica_ruling(
		record: &MatchOf<T>,
		result: &PostedResult,
		verdict: &ReplicaVerdict,
		(instruction_count, bandwidth_used): (u64, u64),
	) -> Result<(economics::Ending, CloseOutcome, u128), DispatchError> {
		let posted_price =
			Self::price_at_provider_rates(record, result.instruction_count, result.bandwidth_used)
				.map_err(Error::<T>::from)?;
		let mediation_fee = Self::mediation_fee_of(record, (instruction_count, bandwidth_used))?;
		let (ending, outcome) = match verdict {
			ReplicaVerdict::Deterministic { status, result_hash }
				if (result.status, result.hash) == (*status, *result_hash) =>
			{
				// Nobody raised this dispute against this RP: it is paid as accepted.
				(economics::Ending::Accepted, CloseOutcome::Accepted(Acceptor::MediatorConfirmed))
			},
			ReplicaVerdict::Deterministic { result_hash, .. } => {
				let verdict = if result.hash == *result_hash {
					Verdict::InvalidResultStatus
				} else {
					Verdict::WrongResults
				};
				let compensation =
					Self::price_at_provider_rates(record, instruction_count, bandwidth_used)
						.map_err(Error::<T>::from)?;
				let faulty = FaultyParty::ResourceProvider;
				(
					economics::Ending::Mediated { faulty, compensation, mediation_fee },
					CloseOutcome::Mediated { verdict, faulty },
				)
			},
			ReplicaVerdict::NonDeterministic => {
				let faulty = FaultyParty::JobCreator;
				(
					economics::Ending::Mediated {
						faulty,
						compensation: posted_price,
						mediation_fee,
					},
					CloseOutcome::Mediated { verdict: Verdict::NonDeterministic, faulty },
				)
			},
		};
		Ok((ending, outcome, posted_price))
	}
}
