//! Matching: the feasibility rules (12, and 13 on reputation), the deposits a match needs, and the match
//! record with every parameter it depends on.

use crate::{
	batches::MatchParties,
	dispatchable_impls::{wide, NANOS_PER_MILLI},
	economics,
	effects::Effects,
	pallet::*,
	party_reads::PartyReads,
	types::*,
};
use frame_support::{ensure, pallet_prelude::*};
use sp_runtime::traits::Zero;

/// `count` instructions at `time_per_instruction_ns`, in whole milliseconds (rounded
/// up), saturating.
pub(crate) fn run_time_ms(time_per_instruction_ns: u64, count: u128) -> u128 {
	(time_per_instruction_ns as u128).saturating_mul(count).div_ceil(NANOS_PER_MILLI)
}

impl<T: Config> Pallet<T> {
	/// How long (ms) `n` re-runs of the job take a mediator of the given speed, plus the
	/// mediation slack: the match's mediation window.
	pub(crate) fn mediation_window_for(
		parameters: &MarketParameters<BalanceOf<T>>,
		mediator_time_per_instruction_ns: u64,
		instruction_limit: u64,
	) -> u128 {
		let runs = (instruction_limit as u128).saturating_mul(parameters.verification_count.into());
		run_time_ms(mediator_time_per_instruction_ns, runs)
			.saturating_add(parameters.mediation_window.into())
	}

	/// Checks feasibility rules 1 to 11 and 13 (rule 12 is the offers' presence in
	/// storage).
	pub(crate) fn check_feasibility(
		job: &JobOfferOf<T>,
		resource: &ResourceOfferOf<T>,
		mediator: &T::AccountId,
		reads: &mut PartyReads<T>,
	) -> DispatchResult {
		let (j, r) = (&job.terms, &resource.terms);
		let provider = reads.provider(&resource.owner).ok_or(Error::<T>::NotRegistered)?;
		let mediator_info = reads.mediator(mediator).ok_or(Error::<T>::UnknownMediator)?;
		let directory = reads.directory(&j.directory).ok_or(Error::<T>::UnknownDirectory)?;
		ensure!(r.instruction_cap >= j.instruction_limit, Error::<T>::InstructionCapTooLow);
		ensure!(r.memory_cap >= j.ram_limit, Error::<T>::MemoryCapTooLow);
		ensure!(r.local_storage_cap >= j.local_storage_limit, Error::<T>::LocalStorageCapTooLow);
		ensure!(r.bandwidth_cap >= j.bandwidth_limit, Error::<T>::BandwidthCapTooLow);
		ensure!(
			r.instruction_price <= j.instruction_max_price,
			Error::<T>::InstructionPriceTooHigh
		);
		ensure!(r.bandwidth_price <= j.bandwidth_max_price, Error::<T>::BandwidthPriceTooHigh);
		ensure!(j.arch == provider.arch, Error::<T>::ArchitectureMismatch);
		ensure!(
			reads.trusts_directory(&resource.owner, &j.directory, &directory),
			Error::<T>::DirectoryNotTrustedByProvider
		);
		ensure!(
			reads.trusts_mediator(&job.owner, mediator, &mediator_info),
			Error::<T>::MediatorNotTrustedByJobCreator
		);
		ensure!(
			reads.trusts_mediator(&resource.owner, mediator, &mediator_info),
			Error::<T>::MediatorNotTrustedByProvider
		);
		ensure!(mediator_info.arch == provider.arch, Error::<T>::MediatorArchitectureMismatch);
		ensure!(
			reads.trusts_directory(mediator, &j.directory, &directory),
			Error::<T>::DirectoryNotTrustedByMediator
		);
		let parameters = reads.parameters();
		let mediation = Self::mediation_window_for(
			&parameters,
			mediator_info.time_per_instruction_ns,
			j.instruction_limit,
		);
		ensure!(mediation <= parameters.max_completion_horizon.into(), Error::<T>::MediatorTooSlow);
		ensure!(
			reads.supports_layer(&resource.owner, &j.first_layer_hash),
			Error::<T>::BaseLayerNotSupportedByProvider
		);
		ensure!(
			reads.supports_layer(mediator, &j.first_layer_hash),
			Error::<T>::BaseLayerNotSupportedByMediator
		);
		let run_time = run_time_ms(provider.time_per_instruction_ns, j.instruction_limit.into());
		let finish = (Self::now() as u128).saturating_add(run_time);
		ensure!(finish <= j.completion_deadline as u128, Error::<T>::DeadlineUnreachable);
		Self::check_records(job, resource)
	}

	/// Rule 13 (README, "Reputation"): each side's record meets what the other's offer
	/// requires of it.
	pub(crate) fn check_records(
		job: &JobOfferOf<T>,
		resource: &ResourceOfferOf<T>,
	) -> DispatchResult {
		if let Some(wanted) = &job.terms.provider_record {
			let record = Reputations::<T>::get(&resource.owner, Role::ResourceProvider);
			ensure!(record.has_accepted(wanted), Error::<T>::ProviderRecordTooShort);
			ensure!(
				record.faults_within(Role::ResourceProvider, wanted),
				Error::<T>::ProviderFaultRateTooHigh
			);
		}
		if let Some(wanted) = &resource.terms.creator_record {
			let record = Reputations::<T>::get(&job.owner, Role::JobCreator);
			ensure!(record.has_accepted(wanted), Error::<T>::JobCreatorRecordTooShort);
			ensure!(
				record.faults_within(Role::JobCreator, wanted),
				Error::<T>::JobCreatorFaultRateTooHigh
			);
		}
		Ok(())
	}

	/// What a match of `job` at the RP prices `rates` (instruction, bandwidth) with this
	/// mediator and a directory of this availability price puts at stake.
	pub(crate) fn match_stakes(
		job: &JobTermsOf<T>,
		(instruction_price, bandwidth_price): (u128, u128),
		mediator: &MediatorInfo<BalanceOf<T>>,
		directory_availability: u128,
		parameters: &MarketParameters<BalanceOf<T>>,
	) -> Result<economics::MatchStakes, economics::Overflow> {
		let mediator_availability = wide(mediator.availability_price);
		Ok(economics::MatchStakes {
			job_estimate: Self::job_estimate(job)?,
			provider_estimate: economics::job_price(
				job.instruction_limit,
				instruction_price,
				job.bandwidth_limit,
				bandwidth_price,
			)?,
			mediation_fee_bound: economics::mediation_fee(
				parameters.verification_count,
				job.instruction_limit,
				wide(mediator.instruction_price),
				job.bandwidth_limit,
				wide(mediator.bandwidth_price),
			)?,
			penalty_rate: parameters.penalty_rate,
			job_creator_availability: economics::job_creator_share(mediator_availability)
				.checked_add(economics::job_creator_share(directory_availability))
				.ok_or(economics::Overflow)?,
			resource_provider_availability: economics::resource_provider_share(
				mediator_availability,
			)
			.checked_add(economics::resource_provider_share(directory_availability))
			.ok_or(economics::Overflow)?,
		})
	}

	fn pay_incentive(
		match_id: MatchId,
		from: &T::AccountId,
		solver: &T::AccountId,
		amount: BalanceOf<T>,
		effects: &mut Effects<T>,
	) -> DispatchResult {
		if amount.is_zero() {
			return Ok(());
		}
		Self::pay_held(
			match_id,
			(from, HoldReason::OfferDeposit),
			solver,
			amount,
			PaymentReason::MatchIncentive,
			effects,
		)
	}

	/// Moves `amount` of what `from` holds for `hold` to `to`'s free balance, and
	/// announces it as a payment of this match.
	pub(crate) fn pay_held(
		match_id: MatchId,
		(from, hold): (&T::AccountId, HoldReason),
		to: &T::AccountId,
		amount: BalanceOf<T>,
		reason: PaymentReason,
		effects: &mut Effects<T>,
	) -> DispatchResult {
		effects.transfer(from, hold, to, amount)?;
		Self::deposit_event(Event::Paid {
			match_id,
			from: from.clone(),
			to: to.clone(),
			amount,
			reason,
		});
		Ok(())
	}

	/// Each deposit must cover its match incentive plus everything a close path of
	/// this match can take from it ([`economics::match_minimums`]); returns what
	/// remains held of each after the incentives.
	fn check_match_deposits(
		job: &JobOfferOf<T>,
		resource: &ResourceOfferOf<T>,
		stakes: &economics::MatchStakes,
	) -> Result<(BalanceOf<T>, BalanceOf<T>), DispatchError> {
		let (job_creator, resource_provider) =
			economics::match_minimums(stakes).map_err(Error::<T>::from)?;
		let needed = |incentive: BalanceOf<T>, exposure: u128| {
			exposure.checked_add(wide(incentive)).ok_or(Error::<T>::Overflow)
		};
		let job_needed = needed(job.terms.match_incentive, job_creator)?;
		ensure!(
			wide(job.deposit) >= job_needed,
			Error::<T>::JobDepositTooLowForMatch { minimum: ApproxAmount::at_least(job_needed) }
		);
		let resource_needed = needed(resource.terms.match_incentive, resource_provider)?;
		ensure!(
			wide(resource.deposit) >= resource_needed,
			Error::<T>::ResourceDepositTooLowForMatch {
				minimum: ApproxAmount::at_least(resource_needed)
			}
		);
		let left = |deposit: BalanceOf<T>, incentive: BalanceOf<T>| {
			Self::narrow(wide(deposit).saturating_sub(wide(incentive)))
		};
		Ok((
			left(job.deposit, job.terms.match_incentive)?,
			left(resource.deposit, resource.terms.match_incentive)?,
		))
	}

	pub(crate) fn do_post_match(
		solver: T::AccountId,
		job_offer_id: OfferId,
		resource_offer_id: OfferId,
		mediator: T::AccountId,
		effects: &mut Effects<T>,
	) -> Result<MatchParties<T::AccountId>, DispatchError> {
		let job = JobOffers::<T>::get(job_offer_id).ok_or(Error::<T>::JobOfferNotOpen)?;
		let resource =
			ResourceOffers::<T>::get(resource_offer_id).ok_or(Error::<T>::ResourceOfferNotOpen)?;
		let now = Self::now();
		ensure!(now <= job.expires_at, Error::<T>::JobOfferExpired);
		ensure!(now <= resource.expires_at, Error::<T>::ResourceOfferExpired);
		let mut single_reads = PartyReads::default();
		let reads = effects.party_reads().unwrap_or(&mut single_reads);
		Self::check_feasibility(&job, &resource, &mediator, reads)?;
		let replica_group = OfferReplicaGroup::<T>::get(job_offer_id);
		if let Some(group) = replica_group {
			Self::check_replica_match(group, &resource.owner, &mediator)?;
		}

		let parameters = reads.parameters();
		let mediator_info = reads.mediator(&mediator).ok_or(Error::<T>::UnknownMediator)?;
		let directory_info =
			reads.directory(&job.terms.directory).ok_or(Error::<T>::UnknownDirectory)?;
		let provider = reads.provider(&resource.owner).ok_or(Error::<T>::NotRegistered)?;
		let rates = (wide(resource.terms.instruction_price), wide(resource.terms.bandwidth_price));
		let stakes = Self::match_stakes(
			&job.terms,
			rates,
			&mediator_info,
			wide(directory_info.availability_price),
			&parameters,
		)
		.map_err(Error::<T>::from)?;
		let (job_creator_deposit, resource_provider_deposit) =
			Self::check_match_deposits(&job, &resource, &stakes)?;

		// Every window and parameter the match's close paths read is fixed now, so root
		// changing them later cannot move this match's deadlines or prices.
		let run_time =
			run_time_ms(provider.time_per_instruction_ns, job.terms.instruction_limit.into());
		let reaction_window =
			Self::narrow_moment(run_time.saturating_add(parameters.reaction_window.into()));
		let mediation_window = Self::narrow_moment(Self::mediation_window_for(
			&parameters,
			mediator_info.time_per_instruction_ns,
			job.terms.instruction_limit,
		));
		// A directory answers with its bond only to a mediator it trusts, and then at
		// most its own availability price times θ + n.
		let directory_liability =
			if reads.trusts_mediator(&job.terms.directory, &mediator, &mediator_info) {
				economics::directory_liability(
					wide(directory_info.availability_price),
					parameters.penalty_rate,
					parameters.verification_count,
				)
				.map_err(Error::<T>::from)?
			} else {
				0
			};
		let directory_liability = Self::narrow(directory_liability)?;

		effects.adjust_open_items(&mediator, Role::Mediator, true)?;
		effects.adjust_open_items(&job.terms.directory, Role::Directory, true)?;
		let match_id = NextMatchId::<T>::try_mutate(|next| {
			let id = *next;
			*next = next.checked_add(1).ok_or(Error::<T>::Overflow)?;
			Ok::<_, Error<T>>(id)
		})?;
		Self::pay_incentive(match_id, &job.owner, &solver, job.terms.match_incentive, effects)?;
		let resource_incentive = resource.terms.match_incentive;
		Self::pay_incentive(match_id, &resource.owner, &solver, resource_incentive, effects)?;

		JobOffers::<T>::remove(job_offer_id);
		ResourceOffers::<T>::remove(resource_offer_id);
		if let Some(group) = replica_group {
			Self::join_replica(group, job_offer_id, match_id, &resource.owner, &mediator)?;
		}
		let record = Match {
			job_offer_id,
			resource_offer_id,
			job_creator: job.owner.clone(),
			resource_provider: resource.owner.clone(),
			mediator: mediator.clone(),
			solver: solver.clone(),
			job: job.terms.clone(),
			resource: resource.terms,
			mediator_terms: MediatorTerms {
				instruction_price: mediator_info.instruction_price,
				bandwidth_price: mediator_info.bandwidth_price,
				availability_price: mediator_info.availability_price,
			},
			directory_availability_price: directory_info.availability_price,
			verification_count: parameters.verification_count,
			penalty_rate: parameters.penalty_rate,
			reaction_window,
			mediation_window,
			settlement_grace: parameters.settlement_grace,
			directory_liability,
			job_creator_deposit,
			resource_provider_deposit,
			matched_at: now,
			state: MatchState::Matched,
		};
		let parties = MatchParties::of(&record);
		Matches::<T>::insert(match_id, record);
		Self::deposit_event(Event::Matched {
			match_id,
			job_offer_id,
			resource_offer_id,
			job_creator: job.owner,
			resource_provider: resource.owner,
			mediator,
			solver,
			directory: job.terms.directory,
			job_reference: job.terms.job_reference,
			job_hash: job.terms.job_hash,
			completion_deadline: job.terms.completion_deadline,
		});
		Ok(parties)
	}

	/// A duration in ms; the checks above bound it by the completion horizon, so the
	/// saturation never bites.
	fn narrow_moment(ms: u128) -> Moment {
		Moment::try_from(ms).unwrap_or(Moment::MAX)
	}
}
