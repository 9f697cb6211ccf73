//! Results, reactions, mediation and the close of a match: every unit a match holds
//! ends paid, fined or refunded, and every short payment is announced.

use crate::{
	batches::MatchParties, dispatchable_impls::wide, economics, effects::Effects, pallet::*,
	types::*,
};
use frame_support::{ensure, pallet_prelude::*, traits::fungible::Inspect};
use sp_runtime::traits::Saturating;

impl<T: Config> Pallet<T> {
	// --------------------------------------------------------------- results

	pub(crate) fn ensure_within_limits(
		job: &JobTermsOf<T>,
		instructions: u64,
		bandwidth: u64,
	) -> DispatchResult {
		ensure!(instructions <= job.instruction_limit, Error::<T>::InstructionCountOverLimit);
		ensure!(bandwidth <= job.bandwidth_limit, Error::<T>::BandwidthOverLimit);
		Ok(())
	}

	/// π_c at the RP's prices for the given usage.
	pub(crate) fn price_at_provider_rates(
		record: &MatchOf<T>,
		instructions: u64,
		bandwidth: u64,
	) -> Result<u128, economics::Overflow> {
		economics::job_price(
			instructions,
			wide(record.resource.instruction_price),
			bandwidth,
			wide(record.resource.bandwidth_price),
		)
	}

	/// Returns whether the match runs a replica (whose result may settle its group).
	pub(crate) fn do_post_result(
		who: T::AccountId,
		match_id: MatchId,
		result: PostedResult,
	) -> DispatchResult {
		let mut record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		ensure!(who == record.resource_provider, Error::<T>::NotResourceProvider);
		// A replica commits, then reveals: a plain post would show its root to the others.
		ensure!(
			!MatchReplicaGroup::<T>::contains_key(match_id),
			Error::<T>::ReplicaResultMustBeRevealed
		);
		ensure!(record.state == MatchState::Matched, Error::<T>::NotAwaitingResult);
		let now = Self::now();
		ensure!(now <= record.job.completion_deadline, Error::<T>::CompletionDeadlinePassed);
		let job_price = Self::posted_price(&record, &result)?;
		let reaction_deadline = now.saturating_add(record.reaction_window);
		record.state = MatchState::ResultPosted { result: result.clone(), reaction_deadline };
		let job_creator = record.job_creator.clone();
		Matches::<T>::insert(match_id, record);
		Self::deposit_event(Event::ResultPosted {
			match_id,
			resource_provider: who,
			job_creator,
			result,
			job_price,
			reaction_deadline,
		});
		Ok(())
	}

	/// The price a posted result asks, once its usage is within the job's limits.
	pub(crate) fn posted_price(
		record: &MatchOf<T>,
		result: &PostedResult,
	) -> Result<BalanceOf<T>, DispatchError> {
		Self::ensure_within_limits(&record.job, result.instruction_count, result.bandwidth_used)?;
		let price =
			Self::price_at_provider_rates(record, result.instruction_count, result.bandwidth_used)
				.map_err(Error::<T>::from)?;
		Ok(Self::narrow(price)?)
	}

	/// Returns the parties of the match it closed.
	pub(crate) fn do_accept_result(
		who: T::AccountId,
		match_id: MatchId,
		effects: &mut Effects<T>,
	) -> Result<MatchParties<T::AccountId>, DispatchError> {
		let record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		let MatchState::ResultPosted { result, reaction_deadline } = &record.state else {
			return Err(Error::<T>::NotAwaitingReaction.into());
		};
		let now = Self::now();
		let acceptor = if who == record.job_creator {
			Acceptor::JobCreator
		} else {
			// The original code inverted this test and let the RP accept early.
			ensure!(now > *reaction_deadline, Error::<T>::ReactionWindowOpen);
			// Anyone else may close a match its RP abandoned (a self-dealing JC and RP
			// would otherwise hold the mediator's and directory's slots for good).
			ensure!(
				who == record.resource_provider
					|| now > reaction_deadline.saturating_add(record.settlement_grace),
				Error::<T>::GracePeriodNotOver
			);
			Acceptor::ResourceProvider
		};
		let price =
			Self::price_at_provider_rates(&record, result.instruction_count, result.bandwidth_used)
				.map_err(Error::<T>::from)?;
		let parties = MatchParties::of(&record);
		Self::close(
			match_id,
			record,
			price,
			economics::Ending::Accepted,
			CloseOutcome::Accepted(acceptor),
			effects,
		)?;
		Ok(parties)
	}

	pub(crate) fn do_reject_result(
		who: T::AccountId,
		match_id: MatchId,
		reason: RejectReason,
	) -> DispatchResult {
		let mut record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		ensure!(who == record.job_creator, Error::<T>::NotJobCreator);
		ensure!(reason != RejectReason::ReplicasDisagree, Error::<T>::ReasonReservedForReplicas);
		let MatchState::ResultPosted { result, reaction_deadline } = &record.state else {
			return Err(Error::<T>::NotAwaitingReaction.into());
		};
		let now = Self::now();
		ensure!(now <= *reaction_deadline, Error::<T>::ReactionWindowClosed);
		let result = result.clone();
		let mediation_deadline = now.saturating_add(record.mediation_window);
		record.state =
			MatchState::InMediation { result: result.clone(), reason, mediation_deadline };
		let event = Event::JobAssignedForMediation {
			match_id,
			mediator: record.mediator.clone(),
			job_creator: record.job_creator.clone(),
			resource_provider: record.resource_provider.clone(),
			reason,
			directory: record.job.directory.clone(),
			job_reference: record.job.job_reference.clone(),
			job_hash: record.job.job_hash,
			result,
			mediation_deadline,
		};
		Matches::<T>::insert(match_id, record);
		Self::deposit_event(event);
		Ok(())
	}

	/// A `WrongResults` rejection that names the disputed records of a record job.
	pub(crate) fn do_reject_records(
		who: T::AccountId,
		match_id: MatchId,
		records: DisputedRecordNames,
	) -> DispatchResult {
		ensure!(!records.is_empty(), Error::<T>::NoRecordsNamed);
		ensure!(
			records.iter().all(|name| is_valid_record_name(name)),
			Error::<T>::InvalidRecordName
		);
		ensure!(records.windows(2).all(|pair| pair[0] < pair[1]), Error::<T>::RecordsNotAscending);
		ensure!(
			!MatchReplicaGroup::<T>::contains_key(match_id),
			Error::<T>::RecordsDisputeOnReplica
		);
		Self::do_reject_result(who, match_id, RejectReason::WrongResults)?;
		DisputedRecords::<T>::insert(match_id, records.clone());
		Self::deposit_event(Event::RecordsDisputed { match_id, records });
		Ok(())
	}

	/// Closes a silent match: the JC is paid its estimate from the RP's deposit.
	pub(crate) fn do_timeout(who: T::AccountId, match_id: MatchId) -> DispatchResult {
		let record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		// A replica that committed but never revealed is as silent as one that never
		// committed, once its reveal deadline has passed.
		let deadline = match record.state {
			MatchState::Matched => record.job.completion_deadline,
			MatchState::Committed { .. } => Self::reveal_deadline(&record),
			_ => return Err(Error::<T>::NotAwaitingResult.into()),
		};
		let now = Self::now();
		ensure!(now > deadline, Error::<T>::CompletionDeadlineNotReached);
		// The JC still gets its compensation when someone else closes the match.
		ensure!(
			who == record.job_creator || now > deadline.saturating_add(record.settlement_grace),
			Error::<T>::GracePeriodNotOver
		);
		// A replica's others are compared by `settle_replicas`, so that this call
		// declares the weight of one close, not a whole group's.
		Self::close(
			match_id,
			record,
			0,
			economics::Ending::TimedOut,
			CloseOutcome::TimedOut,
			&mut Effects::Now,
		)
	}

	// ------------------------------------------------------------- mediation

	/// The claim of a directory failure in a dispute, if any: the JC's when it rejected
	/// for that reason, the RP's when it reported that status.
	fn directory_claimant(reason: RejectReason, status: ResultStatus) -> Option<FaultyParty> {
		if reason == RejectReason::DirectoryUnavailable {
			Some(FaultyParty::JobCreator)
		} else if status == ResultStatus::DirectoryUnavailable {
			Some(FaultyParty::ResourceProvider)
		} else {
			None
		}
	}

	/// Whether a verdict answers the dispute: a directory claim is settled by the
	/// directory's uptime, a missing result by a look in the directory, and any other
	/// rejection by re-running the job.
	pub(crate) fn verdict_answers(
		verdict: Verdict,
		reason: RejectReason,
		status: ResultStatus,
	) -> bool {
		if Self::directory_claimant(reason, status).is_some() {
			return verdict == Verdict::DirectoryUnavailable;
		}
		match reason {
			RejectReason::ResultNotFound => verdict == Verdict::ResultNotFound,
			RejectReason::WrongResults
			| RejectReason::TooMuchCost
			| RejectReason::InvalidResultStatus => matches!(
				verdict,
				Verdict::WrongResults
					| Verdict::TooMuchCost
					| Verdict::InvalidResultStatus
					| Verdict::CorrectResults
					| Verdict::NonDeterministic
			),
			RejectReason::DirectoryUnavailable | RejectReason::ReplicasDisagree => false,
		}
	}

	/// Which fault a verdict may assign, given who raised the dispute.
	fn verdict_fits(
		verdict: Verdict,
		faulty: FaultyParty,
		reason: RejectReason,
		status: ResultStatus,
	) -> bool {
		use FaultyParty::*;
		match verdict {
			Verdict::CorrectResults | Verdict::NonDeterministic => faulty == JobCreator,
			Verdict::WrongResults | Verdict::TooMuchCost | Verdict::InvalidResultStatus => {
				faulty == ResourceProvider
			},
			// Result found in the directory → the JC was wrong; missing → the RP.
			Verdict::ResultNotFound => faulty != Directory,
			// The claimant or the directory, by the directory's uptime.
			Verdict::DirectoryUnavailable => Self::directory_claimant(reason, status)
				.is_some_and(|c| faulty == c || faulty == Directory),
		}
	}

	pub(crate) fn do_post_mediation_result(
		who: T::AccountId,
		match_id: MatchId,
		verdict: Verdict,
		faulty: FaultyParty,
		(instruction_count, bandwidth_used): (u64, u64),
		result_hash: ContentHash,
	) -> DispatchResult {
		let record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		ensure!(who == record.mediator, Error::<T>::NotMediator);
		let MatchState::InMediation { result, reason, mediation_deadline } = &record.state else {
			return Err(Error::<T>::NotInMediation.into());
		};
		ensure!(
			*reason != RejectReason::ReplicasDisagree,
			Error::<T>::ReplicaDisputeNeedsGroupVerdict
		);
		ensure!(Self::now() <= *mediation_deadline, Error::<T>::MediationDeadlinePassed);
		Self::ensure_within_limits(&record.job, instruction_count, bandwidth_used)?;
		ensure!(
			Self::verdict_answers(verdict, *reason, result.status),
			Error::<T>::VerdictDoesNotAnswerRejection
		);
		ensure!(
			Self::verdict_fits(verdict, faulty, *reason, result.status),
			Error::<T>::InconsistentVerdict
		);
		// π_d: a right RP is owed the price it claimed; a wronged JC is owed the price of
		// the work as the mediator measured it.
		let compensation = match faulty {
			FaultyParty::JobCreator => Self::price_at_provider_rates(
				&record,
				result.instruction_count,
				result.bandwidth_used,
			),
			FaultyParty::ResourceProvider => {
				Self::price_at_provider_rates(&record, instruction_count, bandwidth_used)
			},
			FaultyParty::Directory => Ok(0),
		}
		.map_err(Error::<T>::from)?;
		let mediation_fee = Self::mediation_fee_of(&record, (instruction_count, bandwidth_used))?;
		Self::deposit_event(Event::MediationResultPosted {
			match_id,
			mediator: who,
			verdict,
			faulty,
			instruction_count,
			bandwidth_used,
			result_hash,
		});
		let price =
			Self::price_at_provider_rates(&record, result.instruction_count, result.bandwidth_used)
				.map_err(Error::<T>::from)?;
		let ending = economics::Ending::Mediated { faulty, compensation, mediation_fee };
		let outcome = CloseOutcome::Mediated { verdict, faulty };
		Self::close(match_id, record, price, ending, outcome, &mut Effects::Now)
	}

	/// π_m: n runs at the match's mediator prices, for the usage the mediator measured.
	pub(crate) fn mediation_fee_of(
		record: &MatchOf<T>,
		(instruction_count, bandwidth_used): (u64, u64),
	) -> Result<u128, Error<T>> {
		economics::mediation_fee(
			record.verification_count,
			instruction_count,
			wide(record.mediator_terms.instruction_price),
			bandwidth_used,
			wide(record.mediator_terms.bandwidth_price),
		)
		.map_err(Error::<T>::from)
	}

	pub(crate) fn do_mediation_timeout(match_id: MatchId) -> DispatchResult {
		let record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		let MatchState::InMediation { mediation_deadline, .. } = &record.state else {
			return Err(Error::<T>::NotInMediation.into());
		};
		ensure!(Self::now() > *mediation_deadline, Error::<T>::MediationDeadlineNotReached);
		Self::close(
			match_id,
			record,
			0,
			economics::Ending::MediationFailed,
			CloseOutcome::MediationFailed,
			&mut Effects::Now,
		)
	}

	// ------------------------------------------------------------ settlement

	/// Moves every unit the match holds: payments, the fine, refunds; then forgets the
	/// match and frees its parties' open items.
	pub(crate) fn close(
		match_id: MatchId,
		record: MatchOf<T>,
		job_price: u128,
		ending: economics::Ending,
		outcome: CloseOutcome,
		effects: &mut Effects<T>,
	) -> DispatchResult {
		let directory = record.job.directory.clone();
		// The bond pays at most the liability fixed at match time, and never so much
		// that the directory's account could be reaped: later matches still pay it.
		let existential = wide(T::Currency::minimum_balance());
		let directory_bond = Directories::<T>::get(&directory)
			.map(|d| wide(d.bond).saturating_sub(existential))
			.unwrap_or_default()
			.min(wide(record.directory_liability));
		let ledger = economics::Ledger {
			job_creator_deposit: wide(record.job_creator_deposit),
			resource_provider_deposit: wide(record.resource_provider_deposit),
			directory_bond,
			job_price,
			job_creator_estimate: Self::job_estimate(&record.job).map_err(Error::<T>::from)?,
			mediator_availability: wide(record.mediator_terms.availability_price),
			directory_availability: wide(record.directory_availability_price),
		};
		let settlement = economics::settle(&ledger, ending);
		let source = |s: economics::Source| match s {
			economics::Source::JobCreator => (&record.job_creator, HoldReason::OfferDeposit),
			economics::Source::ResourceProvider => {
				(&record.resource_provider, HoldReason::OfferDeposit)
			},
			economics::Source::DirectoryBond => (&directory, HoldReason::RegistrationBond),
		};
		let recipient = |r: economics::Recipient| match r {
			economics::Recipient::JobCreator => &record.job_creator,
			economics::Recipient::ResourceProvider => &record.resource_provider,
			economics::Recipient::Mediator => &record.mediator,
			economics::Recipient::Directory => &directory,
		};
		for payment in &settlement.payments {
			let amount = Self::narrow(payment.amount)?;
			Self::pay_held(
				match_id,
				source(payment.from),
				recipient(payment.to),
				amount,
				payment.reason,
				effects,
			)?;
		}
		for short in &settlement.shortfalls {
			Self::deposit_event(Event::Shortfall {
				match_id,
				who: recipient(short.to).clone(),
				owed: Self::narrow(short.owed)?,
				paid: Self::narrow(short.paid)?,
				reason: short.reason,
			});
		}
		if let (Some(fined), true) = (settlement.fined, settlement.fine > 0) {
			let (who, reason) = source(fined);
			let amount = Self::narrow(settlement.fine)?;
			effects.slash(who, reason, amount);
			Self::deposit_event(Event::Fined { match_id, who: who.clone(), amount });
		}
		for (who, refund) in [
			(&record.job_creator, settlement.job_creator_refund),
			(&record.resource_provider, settlement.resource_provider_refund),
		] {
			if refund == 0 {
				continue;
			}
			let amount = Self::narrow(refund)?;
			effects.release(who, HoldReason::OfferDeposit, amount)?;
			Self::deposit_event(Event::DepositReleased { match_id, who: who.clone(), amount });
		}
		if settlement.directory_bond_spent > 0 {
			let spent = Self::narrow(settlement.directory_bond_spent)?;
			Directories::<T>::mutate(&directory, |d| {
				if let Some(d) = d {
					d.bond = d.bond.saturating_sub(spent);
				}
			});
		}
		effects.adjust_open_items(&record.job_creator, Role::JobCreator, false)?;
		effects.adjust_open_items(&record.resource_provider, Role::ResourceProvider, false)?;
		effects.adjust_open_items(&record.mediator, Role::Mediator, false)?;
		effects.adjust_open_items(&directory, Role::Directory, false)?;
		Self::record_outcome(&record, outcome, effects);
		if matches!(record.state, MatchState::InMediation { .. }) {
			DisputedRecords::<T>::remove(match_id);
		}
		Matches::<T>::remove(match_id);
		Self::forget_replica(ReplicaMember::Match(match_id));
		Self::deposit_event(Event::MatchClosed { match_id, outcome });
		Ok(())
	}
}
