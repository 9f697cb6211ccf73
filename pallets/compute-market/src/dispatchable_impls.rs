//! Every state transition of the market, grouped by phase: actors, trust, offers,
//! matching, results, mediation, settlement and parameters.

use crate::{economics, pallet::*, types::*};
use core::fmt::Debug;
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{BalancedHold, MutateHold},
		tokens::{Fortitude, Precision, Restriction},
		OnUnbalanced, Time,
	},
};
use sp_runtime::traits::{Saturating, Zero};

/// Why a deposit quote could not be given.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, TypeInfo)]
pub enum QuoteError {
	/// The named directory is not registered.
	UnknownDirectory,
	/// The named mediator is not registered.
	UnknownMediator,
	/// The offer's numbers overflow.
	Overflow,
}

impl<T: Config> From<QuoteError> for Error<T> {
	fn from(error: QuoteError) -> Self {
		match error {
			QuoteError::UnknownDirectory => Error::UnknownDirectory,
			QuoteError::UnknownMediator => Error::UnknownMediator,
			QuoteError::Overflow => Error::Overflow,
		}
	}
}

impl<T: Config> From<economics::Overflow> for Error<T> {
	fn from(_: economics::Overflow) -> Self {
		Error::Overflow
	}
}

impl<T: Config> From<ParameterError> for Error<T> {
	fn from(error: ParameterError) -> Self {
		match error {
			ParameterError::ZeroVerificationCount => Error::ZeroVerificationCount,
			ParameterError::ZeroReactionWindow => Error::ZeroReactionWindow,
			ParameterError::ZeroMediationWindow => Error::ZeroMediationWindow,
			ParameterError::ZeroOfferLifetime => Error::ZeroOfferLifetime,
		}
	}
}

/// Nanoseconds per millisecond, to turn `time_per_instruction_ns` into deadlines.
const NANOS_PER_MILLI: u128 = 1_000_000;

fn wide<B: Into<u128>>(amount: B) -> u128 {
	amount.into()
}

impl<T: Config> Pallet<T> {
	pub(crate) fn now() -> Moment {
		T::Time::now()
	}

	fn narrow(amount: u128) -> Result<BalanceOf<T>, Error<T>> {
		BalanceOf::<T>::try_from(amount).map_err(|_| Error::<T>::Overflow)
	}

	// ---------------------------------------------------------------- actors

	fn hold_bond(who: &T::AccountId) -> Result<BalanceOf<T>, DispatchError> {
		let bond = Parameters::<T>::get().registration_bond;
		T::Currency::hold(&HoldReason::RegistrationBond.into(), who, bond)?;
		Ok(bond)
	}

	pub(crate) fn do_register_resource_provider(
		who: T::AccountId,
		arch: Architecture,
		time_per_instruction_ns: u64,
	) -> DispatchResult {
		ensure!(!ResourceProviders::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
		ensure!(time_per_instruction_ns > 0, Error::<T>::ZeroTimePerInstruction);
		let bond = Self::hold_bond(&who)?;
		let info = ResourceProviderInfo { arch, time_per_instruction_ns, bond, open_items: 0 };
		ResourceProviders::<T>::insert(&who, info);
		Self::deposit_event(Event::Registered { who, role: Role::ResourceProvider, bond });
		Ok(())
	}

	pub(crate) fn do_register_job_creator(who: T::AccountId) -> DispatchResult {
		ensure!(!JobCreators::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
		let bond = Self::hold_bond(&who)?;
		JobCreators::<T>::insert(&who, JobCreatorInfo { bond, open_items: 0 });
		Self::deposit_event(Event::Registered { who, role: Role::JobCreator, bond });
		Ok(())
	}

	pub(crate) fn do_register_mediator(
		who: T::AccountId,
		arch: Architecture,
		terms: MediatorTerms<BalanceOf<T>>,
	) -> DispatchResult {
		ensure!(!Mediators::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
		let bond = Self::hold_bond(&who)?;
		let MediatorTerms { instruction_price, bandwidth_price, availability_price } = terms;
		let info = MediatorInfo {
			arch,
			instruction_price,
			bandwidth_price,
			availability_price,
			bond,
			open_items: 0,
		};
		Mediators::<T>::insert(&who, info);
		Self::deposit_event(Event::Registered { who, role: Role::Mediator, bond });
		Ok(())
	}

	pub(crate) fn do_register_directory(
		who: T::AccountId,
		endpoint: Reference,
		availability_price: BalanceOf<T>,
	) -> DispatchResult {
		ensure!(!Directories::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
		let bond = Self::hold_bond(&who)?;
		Directories::<T>::insert(
			&who,
			DirectoryInfo { endpoint, availability_price, bond, open_items: 0 },
		);
		Self::deposit_event(Event::Registered { who, role: Role::Directory, bond });
		Ok(())
	}

	/// The bond and open-item count of `who` in `role`, if registered.
	pub(crate) fn role_state(who: &T::AccountId, role: Role) -> Option<(BalanceOf<T>, u32)> {
		match role {
			Role::ResourceProvider => {
				ResourceProviders::<T>::get(who).map(|i| (i.bond, i.open_items))
			},
			Role::JobCreator => JobCreators::<T>::get(who).map(|i| (i.bond, i.open_items)),
			Role::Mediator => Mediators::<T>::get(who).map(|i| (i.bond, i.open_items)),
			Role::Directory => Directories::<T>::get(who).map(|i| (i.bond, i.open_items)),
		}
	}

	pub(crate) fn do_deregister(who: T::AccountId, role: Role) -> DispatchResult {
		let (bond, open_items) = Self::role_state(&who, role).ok_or(Error::<T>::NotRegistered)?;
		ensure!(open_items == 0, Error::<T>::HasOpenItems);
		T::Currency::release(&HoldReason::RegistrationBond.into(), &who, bond, Precision::Exact)?;
		match role {
			Role::ResourceProvider => ResourceProviders::<T>::remove(&who),
			Role::JobCreator => JobCreators::<T>::remove(&who),
			Role::Mediator => Mediators::<T>::remove(&who),
			Role::Directory => Directories::<T>::remove(&who),
		}
		// Lists serve only roles that read them; drop those no remaining role needs.
		let provider = ResourceProviders::<T>::contains_key(&who);
		if !provider && !JobCreators::<T>::contains_key(&who) {
			TrustedMediators::<T>::remove(&who);
		}
		if !provider && !Mediators::<T>::contains_key(&who) {
			TrustedDirectories::<T>::remove(&who);
			SupportedBaseLayers::<T>::remove(&who);
		}
		Self::deposit_event(Event::Deregistered { who, role, bond_released: bond });
		Ok(())
	}

	/// Adds `delta` (±1) to the open-item count of `who` in `role`, refusing to pass
	/// `MaxOpenItems` when adding.
	fn adjust_open_items(who: &T::AccountId, role: Role, add: bool) -> DispatchResult {
		let step = |open: &mut u32| -> DispatchResult {
			if add {
				ensure!(*open < T::MaxOpenItems::get(), Error::<T>::TooManyOpenItems);
				*open = open.saturating_add(1);
			} else {
				*open = open.saturating_sub(1);
			}
			Ok(())
		};
		let missing = Error::<T>::NotRegistered;
		match role {
			Role::ResourceProvider => ResourceProviders::<T>::try_mutate(who, |i| {
				i.as_mut().ok_or(missing.into()).and_then(|i| step(&mut i.open_items))
			}),
			Role::JobCreator => JobCreators::<T>::try_mutate(who, |i| {
				i.as_mut().ok_or(missing.into()).and_then(|i| step(&mut i.open_items))
			}),
			Role::Mediator => Mediators::<T>::try_mutate(who, |i| {
				i.as_mut().ok_or(missing.into()).and_then(|i| step(&mut i.open_items))
			}),
			Role::Directory => Directories::<T>::try_mutate(who, |i| {
				i.as_mut().ok_or(missing.into()).and_then(|i| step(&mut i.open_items))
			}),
		}
	}

	// ----------------------------------------------------------------- trust

	fn add_to<Item: PartialEq, Bound: Get<u32>>(
		list: &mut BoundedVec<Item, Bound>,
		item: Item,
	) -> DispatchResult {
		ensure!(!list.contains(&item), Error::<T>::AlreadyListed);
		list.try_push(item).map_err(|_| Error::<T>::ListFull)?;
		Ok(())
	}

	/// Removes `item` from a stored list, deleting the entry when it empties.
	fn remove_listed<Item: PartialEq, Bound: Get<u32>>(
		list: &mut Option<BoundedVec<Item, Bound>>,
		item: &Item,
	) -> DispatchResult {
		let items = list.as_mut().ok_or(Error::<T>::NotListed)?;
		let position = items.iter().position(|x| x == item).ok_or(Error::<T>::NotListed)?;
		items.remove(position);
		if items.is_empty() {
			*list = None;
		}
		Ok(())
	}

	fn ensure_trusts_mediators(who: &T::AccountId) -> DispatchResult {
		ensure!(
			ResourceProviders::<T>::contains_key(who) || JobCreators::<T>::contains_key(who),
			Error::<T>::NotRegistered
		);
		Ok(())
	}

	fn ensure_uses_directories(who: &T::AccountId) -> DispatchResult {
		ensure!(
			ResourceProviders::<T>::contains_key(who) || Mediators::<T>::contains_key(who),
			Error::<T>::NotRegistered
		);
		Ok(())
	}

	pub(crate) fn do_trust_mediator(who: T::AccountId, mediator: T::AccountId) -> DispatchResult {
		Self::ensure_trusts_mediators(&who)?;
		ensure!(Mediators::<T>::contains_key(&mediator), Error::<T>::UnknownMediator);
		TrustedMediators::<T>::try_mutate(&who, |list| Self::add_to(list, mediator.clone()))?;
		Self::deposit_event(Event::MediatorTrusted { who, mediator });
		Ok(())
	}

	pub(crate) fn do_distrust_mediator(
		who: T::AccountId,
		mediator: T::AccountId,
	) -> DispatchResult {
		TrustedMediators::<T>::try_mutate_exists(&who, |list| {
			Self::remove_listed(list, &mediator)
		})?;
		Self::deposit_event(Event::MediatorDistrusted { who, mediator });
		Ok(())
	}

	pub(crate) fn do_trust_directory(who: T::AccountId, directory: T::AccountId) -> DispatchResult {
		Self::ensure_uses_directories(&who)?;
		ensure!(Directories::<T>::contains_key(&directory), Error::<T>::UnknownDirectory);
		TrustedDirectories::<T>::try_mutate(&who, |list| Self::add_to(list, directory.clone()))?;
		Self::deposit_event(Event::DirectoryTrusted { who, directory });
		Ok(())
	}

	pub(crate) fn do_distrust_directory(
		who: T::AccountId,
		directory: T::AccountId,
	) -> DispatchResult {
		TrustedDirectories::<T>::try_mutate_exists(&who, |list| {
			Self::remove_listed(list, &directory)
		})?;
		Self::deposit_event(Event::DirectoryDistrusted { who, directory });
		Ok(())
	}

	pub(crate) fn do_add_base_layer(who: T::AccountId, layer: ContentHash) -> DispatchResult {
		Self::ensure_uses_directories(&who)?;
		SupportedBaseLayers::<T>::try_mutate(&who, |list| Self::add_to(list, layer))?;
		Self::deposit_event(Event::BaseLayerAdded { who, layer });
		Ok(())
	}

	pub(crate) fn do_remove_base_layer(who: T::AccountId, layer: ContentHash) -> DispatchResult {
		SupportedBaseLayers::<T>::try_mutate_exists(&who, |list| {
			Self::remove_listed(list, &layer)
		})?;
		Self::deposit_event(Event::BaseLayerRemoved { who, layer });
		Ok(())
	}

	// ---------------------------------------------------------------- offers

	/// π̂_c of a job offer: its limits at its maximum prices.
	pub fn job_estimate(terms: &JobTermsOf<T>) -> Result<u128, economics::Overflow> {
		economics::job_price(
			terms.instruction_limit,
			wide(terms.instruction_max_price),
			terms.bandwidth_limit,
			wide(terms.bandwidth_max_price),
		)
	}

	/// π̂_c of a resource offer: its caps at its prices.
	pub fn resource_estimate(
		terms: &ResourceOfferTerms<BalanceOf<T>>,
	) -> Result<u128, economics::Overflow> {
		economics::job_price(
			terms.instruction_cap,
			wide(terms.instruction_price),
			terms.bandwidth_cap,
			wide(terms.bandwidth_price),
		)
	}

	/// max(d_min of eq. 2, the deposit floor).
	fn minimum_deposit(estimate: u128, availability: u128) -> Result<u128, economics::Overflow> {
		let parameters = Parameters::<T>::get();
		let minimum = economics::minimum_deposit(
			estimate,
			parameters.penalty_rate,
			parameters.verification_count,
			availability,
		)?;
		Ok(minimum.max(wide(parameters.deposit_floor)))
	}

	/// The smallest deposit a job offer may carry; with `mediator`, the smallest that
	/// will also pass matching with that mediator.
	pub fn quote_job_deposit(
		terms: &JobTermsOf<T>,
		mediator: Option<&T::AccountId>,
	) -> Result<u128, QuoteError> {
		let directory =
			Directories::<T>::get(&terms.directory).ok_or(QuoteError::UnknownDirectory)?;
		let mediator = match mediator {
			Some(m) => {
				wide(Mediators::<T>::get(m).ok_or(QuoteError::UnknownMediator)?.availability_price)
			},
			None => 0,
		};
		let availability = economics::availability_charge(
			wide(terms.match_incentive),
			economics::job_creator_share(mediator),
			economics::job_creator_share(wide(directory.availability_price)),
		)
		.map_err(|_| QuoteError::Overflow)?;
		let estimate = Self::job_estimate(terms).map_err(|_| QuoteError::Overflow)?;
		Self::minimum_deposit(estimate, availability).map_err(|_| QuoteError::Overflow)
	}

	/// The smallest deposit a resource offer may carry; with `mediator` and `directory`,
	/// the smallest that will also pass matching with them.
	pub fn quote_resource_deposit(
		terms: &ResourceOfferTerms<BalanceOf<T>>,
		mediator: Option<&T::AccountId>,
		directory: Option<&T::AccountId>,
	) -> Result<u128, QuoteError> {
		let mediator = match mediator {
			Some(m) => {
				wide(Mediators::<T>::get(m).ok_or(QuoteError::UnknownMediator)?.availability_price)
			},
			None => 0,
		};
		let directory = match directory {
			Some(d) => wide(
				Directories::<T>::get(d).ok_or(QuoteError::UnknownDirectory)?.availability_price,
			),
			None => 0,
		};
		let availability = economics::availability_charge(
			wide(terms.match_incentive),
			economics::resource_provider_share(mediator),
			economics::resource_provider_share(directory),
		)
		.map_err(|_| QuoteError::Overflow)?;
		let estimate = Self::resource_estimate(terms).map_err(|_| QuoteError::Overflow)?;
		Self::minimum_deposit(estimate, availability).map_err(|_| QuoteError::Overflow)
	}

	fn ensure_expiry(expires_at: Moment) -> DispatchResult {
		let now = Self::now();
		ensure!(expires_at > now, Error::<T>::ExpiryInPast);
		let latest = now.saturating_add(Parameters::<T>::get().max_offer_lifetime);
		ensure!(expires_at <= latest, Error::<T>::ExpiryTooFar);
		Ok(())
	}

	fn next_offer_id() -> Result<OfferId, Error<T>> {
		NextOfferId::<T>::try_mutate(|next| {
			let id = *next;
			*next = next.checked_add(1).ok_or(Error::<T>::Overflow)?;
			Ok(id)
		})
	}

	pub(crate) fn do_post_resource_offer(
		who: T::AccountId,
		terms: ResourceOfferTerms<BalanceOf<T>>,
		deposit: BalanceOf<T>,
		expires_at: Moment,
	) -> DispatchResult {
		ensure!(ResourceProviders::<T>::contains_key(&who), Error::<T>::NotRegistered);
		Self::ensure_expiry(expires_at)?;
		let minimum = Self::quote_resource_deposit(&terms, None, None).map_err(Error::<T>::from)?;
		ensure!(
			wide(deposit) >= minimum,
			Error::<T>::DepositBelowMinimum { minimum: ApproxAmount::at_least(minimum) }
		);
		Self::adjust_open_items(&who, Role::ResourceProvider, true)?;
		T::Currency::hold(&HoldReason::OfferDeposit.into(), &who, deposit)?;
		let offer_id = Self::next_offer_id()?;
		let offer = ResourceOffer { owner: who.clone(), terms: terms.clone(), deposit, expires_at };
		ResourceOffers::<T>::insert(offer_id, offer);
		Self::deposit_event(Event::ResourceOfferPosted {
			offer_id,
			provider: who,
			terms,
			deposit,
			expires_at,
		});
		Ok(())
	}

	pub(crate) fn do_post_job_offer(
		who: T::AccountId,
		terms: JobTermsOf<T>,
		deposit: BalanceOf<T>,
		expires_at: Moment,
	) -> DispatchResult {
		ensure!(JobCreators::<T>::contains_key(&who), Error::<T>::NotRegistered);
		ensure!(terms.completion_deadline > Self::now(), Error::<T>::DeadlineInPast);
		Self::ensure_expiry(expires_at)?;
		let minimum = Self::quote_job_deposit(&terms, None).map_err(Error::<T>::from)?;
		ensure!(
			wide(deposit) >= minimum,
			Error::<T>::DepositBelowMinimum { minimum: ApproxAmount::at_least(minimum) }
		);
		Self::adjust_open_items(&who, Role::JobCreator, true)?;
		Self::adjust_open_items(&terms.directory, Role::Directory, true)?;
		T::Currency::hold(&HoldReason::OfferDeposit.into(), &who, deposit)?;
		let offer_id = Self::next_offer_id()?;
		let offer = JobOffer { owner: who.clone(), terms: terms.clone(), deposit, expires_at };
		JobOffers::<T>::insert(offer_id, offer);
		Self::deposit_event(Event::JobOfferPosted {
			offer_id,
			creator: who,
			terms,
			deposit,
			expires_at,
		});
		Ok(())
	}

	/// Removes an unmatched offer, releases its deposit and its owner's open items;
	/// returns the owner and the deposit.
	fn withdraw_offer(
		offer: OfferRef,
		may_withdraw: impl FnOnce(&T::AccountId, Moment) -> DispatchResult,
	) -> Result<(T::AccountId, BalanceOf<T>), DispatchError> {
		let (owner, deposit) = match offer {
			OfferRef::Job(id) => {
				let o = JobOffers::<T>::get(id).ok_or(Error::<T>::OfferNotFound)?;
				may_withdraw(&o.owner, o.expires_at)?;
				JobOffers::<T>::remove(id);
				Self::adjust_open_items(&o.owner, Role::JobCreator, false)?;
				Self::adjust_open_items(&o.terms.directory, Role::Directory, false)?;
				(o.owner, o.deposit)
			},
			OfferRef::Resource(id) => {
				let o = ResourceOffers::<T>::get(id).ok_or(Error::<T>::OfferNotFound)?;
				may_withdraw(&o.owner, o.expires_at)?;
				ResourceOffers::<T>::remove(id);
				Self::adjust_open_items(&o.owner, Role::ResourceProvider, false)?;
				(o.owner, o.deposit)
			},
		};
		T::Currency::release(&HoldReason::OfferDeposit.into(), &owner, deposit, Precision::Exact)?;
		Ok((owner, deposit))
	}

	pub(crate) fn do_cancel_offer(who: T::AccountId, offer: OfferRef) -> DispatchResult {
		let (owner, deposit_released) = Self::withdraw_offer(offer, |owner, _| {
			ensure!(owner == &who, Error::<T>::NotOfferOwner);
			Ok(())
		})?;
		Self::deposit_event(Event::OfferCancelled { offer, owner, deposit_released });
		Ok(())
	}

	pub(crate) fn do_clear_expired_offer(who: T::AccountId, offer: OfferRef) -> DispatchResult {
		let now = Self::now();
		let (owner, deposit_released) = Self::withdraw_offer(offer, |_, expires_at| {
			ensure!(now > expires_at, Error::<T>::OfferNotExpired);
			Ok(())
		})?;
		Self::deposit_event(Event::OfferExpired {
			offer,
			owner,
			cleared_by: who,
			deposit_released,
		});
		Ok(())
	}

	// -------------------------------------------------------------- matching

	/// Checks feasibility rules 1 to 11 (rule 12 is the offers' presence in storage).
	pub fn check_feasibility(
		job: &JobOfferOf<T>,
		resource: &ResourceOfferOf<T>,
		mediator: &T::AccountId,
	) -> DispatchResult {
		let (j, r) = (&job.terms, &resource.terms);
		let provider =
			ResourceProviders::<T>::get(&resource.owner).ok_or(Error::<T>::NotRegistered)?;
		let mediator_info = Mediators::<T>::get(mediator).ok_or(Error::<T>::UnknownMediator)?;
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
			TrustedDirectories::<T>::get(&resource.owner).contains(&j.directory),
			Error::<T>::DirectoryNotTrustedByProvider
		);
		ensure!(
			TrustedMediators::<T>::get(&job.owner).contains(mediator),
			Error::<T>::MediatorNotTrustedByJobCreator
		);
		ensure!(
			TrustedMediators::<T>::get(&resource.owner).contains(mediator),
			Error::<T>::MediatorNotTrustedByProvider
		);
		ensure!(mediator_info.arch == provider.arch, Error::<T>::MediatorArchitectureMismatch);
		ensure!(
			TrustedDirectories::<T>::get(mediator).contains(&j.directory),
			Error::<T>::DirectoryNotTrustedByMediator
		);
		ensure!(
			SupportedBaseLayers::<T>::get(&resource.owner).contains(&j.first_layer_hash),
			Error::<T>::BaseLayerNotSupportedByProvider
		);
		ensure!(
			SupportedBaseLayers::<T>::get(mediator).contains(&j.first_layer_hash),
			Error::<T>::BaseLayerNotSupportedByMediator
		);
		let run_time_ns =
			(provider.time_per_instruction_ns as u128).saturating_mul(j.instruction_limit as u128);
		let run_time_ms = run_time_ns.div_ceil(NANOS_PER_MILLI);
		let finish = (Self::now() as u128).saturating_add(run_time_ms);
		ensure!(finish <= j.completion_deadline as u128, Error::<T>::DeadlineUnreachable);
		Ok(())
	}

	fn pay_incentive(
		match_id: MatchId,
		from: &T::AccountId,
		solver: &T::AccountId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		if amount.is_zero() {
			return Ok(());
		}
		T::Currency::transfer_on_hold(
			&HoldReason::OfferDeposit.into(),
			from,
			solver,
			amount,
			Precision::Exact,
			Restriction::Free,
			Fortitude::Force,
		)?;
		Self::deposit_event(Event::Paid {
			match_id,
			from: from.clone(),
			to: solver.clone(),
			amount,
			reason: PaymentReason::MatchIncentive,
		});
		Ok(())
	}

	pub(crate) fn do_post_match(
		solver: T::AccountId,
		job_offer_id: OfferId,
		resource_offer_id: OfferId,
		mediator: T::AccountId,
	) -> DispatchResult {
		let job = JobOffers::<T>::get(job_offer_id).ok_or(Error::<T>::JobOfferNotOpen)?;
		let resource =
			ResourceOffers::<T>::get(resource_offer_id).ok_or(Error::<T>::ResourceOfferNotOpen)?;
		let now = Self::now();
		ensure!(now <= job.expires_at, Error::<T>::JobOfferExpired);
		ensure!(now <= resource.expires_at, Error::<T>::ResourceOfferExpired);
		Self::check_feasibility(&job, &resource, &mediator)?;

		// Deposits were checked without the mediator's availability price; check again
		// now that it is known, so every close path is covered.
		let job_minimum =
			Self::quote_job_deposit(&job.terms, Some(&mediator)).map_err(Error::<T>::from)?;
		ensure!(
			wide(job.deposit) >= job_minimum,
			Error::<T>::JobDepositTooLowForMediator {
				minimum: ApproxAmount::at_least(job_minimum)
			}
		);
		let resource_minimum = Self::quote_resource_deposit(
			&resource.terms,
			Some(&mediator),
			Some(&job.terms.directory),
		)
		.map_err(Error::<T>::from)?;
		ensure!(
			wide(resource.deposit) >= resource_minimum,
			Error::<T>::ResourceDepositTooLowForMediator {
				minimum: ApproxAmount::at_least(resource_minimum)
			}
		);

		let mediator_info = Mediators::<T>::get(&mediator).ok_or(Error::<T>::UnknownMediator)?;
		let directory_info =
			Directories::<T>::get(&job.terms.directory).ok_or(Error::<T>::UnknownDirectory)?;
		Self::adjust_open_items(&mediator, Role::Mediator, true)?;

		let match_id = NextMatchId::<T>::try_mutate(|next| {
			let id = *next;
			*next = next.checked_add(1).ok_or(Error::<T>::Overflow)?;
			Ok::<_, Error<T>>(id)
		})?;
		Self::pay_incentive(match_id, &job.owner, &solver, job.terms.match_incentive)?;
		Self::pay_incentive(match_id, &resource.owner, &solver, resource.terms.match_incentive)?;

		// The deposits checked above cover the incentives, so these cannot underflow.
		let job_creator_deposit = job.deposit.saturating_sub(job.terms.match_incentive);
		let resource_provider_deposit =
			resource.deposit.saturating_sub(resource.terms.match_incentive);
		JobOffers::<T>::remove(job_offer_id);
		ResourceOffers::<T>::remove(resource_offer_id);
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
			verification_count: Parameters::<T>::get().verification_count,
			job_creator_deposit,
			resource_provider_deposit,
			matched_at: now,
			state: MatchState::Matched,
		};
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
		Ok(())
	}

	// --------------------------------------------------------------- results

	fn ensure_within_limits(
		job: &JobTermsOf<T>,
		instructions: u64,
		bandwidth: u64,
	) -> DispatchResult {
		ensure!(instructions <= job.instruction_limit, Error::<T>::InstructionCountOverLimit);
		ensure!(bandwidth <= job.bandwidth_limit, Error::<T>::BandwidthOverLimit);
		Ok(())
	}

	/// π_c at the RP's prices for the given usage.
	fn price_at_provider_rates(
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

	pub(crate) fn do_post_result(
		who: T::AccountId,
		match_id: MatchId,
		result: PostedResult,
	) -> DispatchResult {
		let mut record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		ensure!(who == record.resource_provider, Error::<T>::NotResourceProvider);
		ensure!(record.state == MatchState::Matched, Error::<T>::NotAwaitingResult);
		let now = Self::now();
		ensure!(now <= record.job.completion_deadline, Error::<T>::CompletionDeadlinePassed);
		Self::ensure_within_limits(&record.job, result.instruction_count, result.bandwidth_used)?;
		let price =
			Self::price_at_provider_rates(&record, result.instruction_count, result.bandwidth_used)
				.map_err(Error::<T>::from)?;
		let job_price = Self::narrow(price)?;
		let reaction_deadline = now.saturating_add(Parameters::<T>::get().reaction_window);
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

	pub(crate) fn do_accept_result(who: T::AccountId, match_id: MatchId) -> DispatchResult {
		let record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		let MatchState::ResultPosted { result, reaction_deadline } = &record.state else {
			return Err(Error::<T>::NotAwaitingReaction.into());
		};
		let acceptor = if who == record.job_creator {
			Acceptor::JobCreator
		} else if who == record.resource_provider {
			// The original code inverted this test and let the RP accept early.
			ensure!(Self::now() > *reaction_deadline, Error::<T>::ReactionWindowOpen);
			Acceptor::ResourceProvider
		} else {
			return Err(Error::<T>::NotMatchParty.into());
		};
		let price =
			Self::price_at_provider_rates(&record, result.instruction_count, result.bandwidth_used)
				.map_err(Error::<T>::from)?;
		Self::close(
			match_id,
			record,
			price,
			economics::Ending::Accepted,
			CloseOutcome::Accepted(acceptor),
		)
	}

	pub(crate) fn do_reject_result(
		who: T::AccountId,
		match_id: MatchId,
		reason: RejectReason,
	) -> DispatchResult {
		let mut record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		ensure!(who == record.job_creator, Error::<T>::NotJobCreator);
		let MatchState::ResultPosted { result, reaction_deadline } = &record.state else {
			return Err(Error::<T>::NotAwaitingReaction.into());
		};
		let now = Self::now();
		ensure!(now <= *reaction_deadline, Error::<T>::ReactionWindowClosed);
		let result = result.clone();
		let mediation_deadline = now.saturating_add(Parameters::<T>::get().mediation_window);
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

	pub(crate) fn do_timeout(who: T::AccountId, match_id: MatchId) -> DispatchResult {
		let record = Matches::<T>::get(match_id).ok_or(Error::<T>::MatchNotFound)?;
		ensure!(who == record.job_creator, Error::<T>::NotJobCreator);
		ensure!(record.state == MatchState::Matched, Error::<T>::NotAwaitingResult);
		ensure!(
			Self::now() > record.job.completion_deadline,
			Error::<T>::CompletionDeadlineNotReached
		);
		Self::close(match_id, record, 0, economics::Ending::TimedOut, CloseOutcome::TimedOut)
	}

	// ------------------------------------------------------------- mediation

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
			Verdict::DirectoryUnavailable => {
				let claimant = if reason == RejectReason::DirectoryUnavailable {
					Some(JobCreator)
				} else if status == ResultStatus::DirectoryUnavailable {
					Some(ResourceProvider)
				} else {
					None
				};
				claimant.is_some_and(|c| faulty == c || faulty == Directory)
			},
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
		ensure!(Self::now() <= *mediation_deadline, Error::<T>::MediationDeadlinePassed);
		Self::ensure_within_limits(&record.job, instruction_count, bandwidth_used)?;
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
		let mediation_fee = economics::mediation_fee(
			record.verification_count,
			instruction_count,
			wide(record.mediator_terms.instruction_price),
			bandwidth_used,
			wide(record.mediator_terms.bandwidth_price),
		)
		.map_err(Error::<T>::from)?;
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
		Self::close(match_id, record, price, ending, CloseOutcome::Mediated { verdict, faulty })
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
		)
	}

	// ------------------------------------------------------------ settlement

	/// Moves every unit the match holds: payments, the fine, refunds; then forgets the
	/// match and frees its parties' open items.
	fn close(
		match_id: MatchId,
		record: MatchOf<T>,
		job_price: u128,
		ending: economics::Ending,
		outcome: CloseOutcome,
	) -> DispatchResult {
		let directory = record.job.directory.clone();
		let directory_bond =
			Directories::<T>::get(&directory).map(|d| wide(d.bond)).unwrap_or_default();
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
			let (from, reason) = source(payment.from);
			let to = recipient(payment.to);
			let amount = Self::narrow(payment.amount)?;
			T::Currency::transfer_on_hold(
				&reason.into(),
				from,
				to,
				amount,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Force,
			)?;
			Self::deposit_event(Event::Paid {
				match_id,
				from: from.clone(),
				to: to.clone(),
				amount,
				reason: payment.reason,
			});
		}
		if let (Some(fined), true) = (settlement.fined, settlement.fine > 0) {
			let (who, reason) = source(fined);
			let amount = Self::narrow(settlement.fine)?;
			let (credit, _missing) = T::Currency::slash(&reason.into(), who, amount);
			T::OnFine::on_unbalanced(credit);
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
			T::Currency::release(&HoldReason::OfferDeposit.into(), who, amount, Precision::Exact)?;
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
		Self::adjust_open_items(&record.job_creator, Role::JobCreator, false)?;
		Self::adjust_open_items(&record.resource_provider, Role::ResourceProvider, false)?;
		Self::adjust_open_items(&record.mediator, Role::Mediator, false)?;
		Self::adjust_open_items(&directory, Role::Directory, false)?;
		Matches::<T>::remove(match_id);
		Self::deposit_event(Event::MatchClosed { match_id, outcome });
		Ok(())
	}

	// ------------------------------------------------------------ parameters

	pub(crate) fn do_set_parameters(parameters: MarketParameters<BalanceOf<T>>) -> DispatchResult {
		parameters.validate().map_err(Error::<T>::from)?;
		Parameters::<T>::put(parameters.clone());
		Self::deposit_event(Event::ParametersSet { parameters });
		Ok(())
	}
}
