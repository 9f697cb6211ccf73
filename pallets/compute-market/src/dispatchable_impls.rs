//! The market's actors and trust: registration, bonds, trust lists and base layers,
//! and the helpers every transition shares. Offers are in `offers.rs`, deposit quotes
//! (also read through the runtime API) in `quotes.rs`, matching in `matching.rs`, and
//! results to settlement in `settlement.rs`.

use crate::{economics, pallet::*, types::*};
use core::fmt::Debug;
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{fungible::MutateHold, tokens::Precision, Time},
};

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
			ParameterError::ZeroCompletionHorizon => Error::ZeroCompletionHorizon,
		}
	}
}

/// Nanoseconds per millisecond, to turn `time_per_instruction_ns` into deadlines.
pub(crate) const NANOS_PER_MILLI: u128 = 1_000_000;

pub(crate) fn wide<B: Into<u128>>(amount: B) -> u128 {
	amount.into()
}

impl<T: Config> Pallet<T> {
	pub(crate) fn now() -> Moment {
		T::Time::now()
	}

	pub(crate) fn narrow(amount: u128) -> Result<BalanceOf<T>, Error<T>> {
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

	fn next_registration() -> Result<RegistrationSerial, Error<T>> {
		NextRegistration::<T>::try_mutate(|next| {
			let serial = *next;
			*next = next.checked_add(1).ok_or(Error::<T>::Overflow)?;
			Ok(serial)
		})
	}

	pub(crate) fn do_register_mediator(
		who: T::AccountId,
		arch: Architecture,
		time_per_instruction_ns: u64,
		terms: MediatorTerms<BalanceOf<T>>,
	) -> DispatchResult {
		ensure!(!Mediators::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
		ensure!(time_per_instruction_ns > 0, Error::<T>::ZeroTimePerInstruction);
		let registration = Self::next_registration()?;
		let bond = Self::hold_bond(&who)?;
		let MediatorTerms { instruction_price, bandwidth_price, availability_price } = terms;
		let info = MediatorInfo {
			arch,
			time_per_instruction_ns,
			instruction_price,
			bandwidth_price,
			availability_price,
			bond,
			open_items: 0,
			registration,
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
		let registration = Self::next_registration()?;
		let bond = Self::hold_bond(&who)?;
		Directories::<T>::insert(
			&who,
			DirectoryInfo { endpoint, availability_price, bond, open_items: 0, registration },
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
		if !provider
			&& !JobCreators::<T>::contains_key(&who)
			&& !Directories::<T>::contains_key(&who)
		{
			for mediator in TrustedMediators::<T>::take(&who) {
				MediatorTrust::<T>::remove(&who, mediator);
			}
		}
		if !provider && !Mediators::<T>::contains_key(&who) {
			for directory in TrustedDirectories::<T>::take(&who) {
				DirectoryTrust::<T>::remove(&who, directory);
			}
			SupportedBaseLayers::<T>::remove(&who);
		}
		Self::deposit_event(Event::Deregistered { who, role, bond_released: bond });
		Ok(())
	}

	/// Adds one to (or takes one from) the open-item count of `who` in `role`, refusing
	/// to pass `MaxOpenItems` when adding, with an error naming whose limit it is.
	pub(crate) fn adjust_open_items(who: &T::AccountId, role: Role, add: bool) -> DispatchResult {
		Self::set_open_items(who, role, |open| Self::stepped_open_items(role, open, add))
	}

	/// The open-item count after one more (or one fewer) item in `role`.
	pub(crate) fn stepped_open_items(role: Role, open: u32, add: bool) -> Result<u32, Error<T>> {
		if !add {
			return Ok(open.saturating_sub(1));
		}
		let full = match role {
			Role::JobCreator => Error::<T>::JobCreatorTooManyOpenItems,
			Role::ResourceProvider => Error::<T>::ProviderTooManyOpenItems,
			Role::Mediator => Error::<T>::MediatorTooManyOpenItems,
			Role::Directory => Error::<T>::DirectoryTooManyOpenItems,
		};
		ensure!(open < T::MaxOpenItems::get(), full);
		Ok(open.saturating_add(1))
	}

	/// The open-item count of `who` in `role`, if it is registered in it.
	pub(crate) fn open_items_of(who: &T::AccountId, role: Role) -> Option<u32> {
		match role {
			Role::ResourceProvider => ResourceProviders::<T>::get(who).map(|i| i.open_items),
			Role::JobCreator => JobCreators::<T>::get(who).map(|i| i.open_items),
			Role::Mediator => Mediators::<T>::get(who).map(|i| i.open_items),
			Role::Directory => Directories::<T>::get(who).map(|i| i.open_items),
		}
	}

	/// Replaces the open-item count of `who` in `role` by what `change` makes of it.
	pub(crate) fn set_open_items(
		who: &T::AccountId,
		role: Role,
		change: impl FnOnce(u32) -> Result<u32, Error<T>>,
	) -> DispatchResult {
		let apply = |open: &mut u32| -> DispatchResult {
			*open = change(*open)?;
			Ok(())
		};
		let missing = Error::<T>::NotRegistered;
		match role {
			Role::ResourceProvider => ResourceProviders::<T>::try_mutate(who, |i| {
				i.as_mut().ok_or(missing.into()).and_then(|i| apply(&mut i.open_items))
			}),
			Role::JobCreator => JobCreators::<T>::try_mutate(who, |i| {
				i.as_mut().ok_or(missing.into()).and_then(|i| apply(&mut i.open_items))
			}),
			Role::Mediator => Mediators::<T>::try_mutate(who, |i| {
				i.as_mut().ok_or(missing.into()).and_then(|i| apply(&mut i.open_items))
			}),
			Role::Directory => Directories::<T>::try_mutate(who, |i| {
				i.as_mut().ok_or(missing.into()).and_then(|i| apply(&mut i.open_items))
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
			ResourceProviders::<T>::contains_key(who)
				|| JobCreators::<T>::contains_key(who)
				|| Directories::<T>::contains_key(who),
			Error::<T>::NotRegistered
		);
		Ok(())
	}

	/// Whether `who` trusts the current registration of `mediator`.
	pub(crate) fn trusts_mediator(
		who: &T::AccountId,
		mediator: &T::AccountId,
		info: &MediatorInfo<BalanceOf<T>>,
	) -> bool {
		MediatorTrust::<T>::get(who, mediator) == Some(info.registration)
			&& TrustedMediators::<T>::get(who).contains(mediator)
	}

	/// Whether `who` trusts the current registration of `directory`.
	pub(crate) fn trusts_directory(
		who: &T::AccountId,
		directory: &T::AccountId,
		info: &DirectoryInfo<BalanceOf<T>>,
	) -> bool {
		DirectoryTrust::<T>::get(who, directory) == Some(info.registration)
			&& TrustedDirectories::<T>::get(who).contains(directory)
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
		let info = Mediators::<T>::get(&mediator).ok_or(Error::<T>::UnknownMediator)?;
		let listed = TrustedMediators::<T>::get(&who).contains(&mediator);
		// A listed entry left from an earlier registration is renewed, not refused.
		ensure!(
			!listed || MediatorTrust::<T>::get(&who, &mediator) != Some(info.registration),
			Error::<T>::AlreadyListed
		);
		if !listed {
			TrustedMediators::<T>::try_mutate(&who, |list| Self::add_to(list, mediator.clone()))?;
		}
		MediatorTrust::<T>::insert(&who, &mediator, info.registration);
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
		MediatorTrust::<T>::remove(&who, &mediator);
		Self::deposit_event(Event::MediatorDistrusted { who, mediator });
		Ok(())
	}

	pub(crate) fn do_trust_directory(who: T::AccountId, directory: T::AccountId) -> DispatchResult {
		Self::ensure_uses_directories(&who)?;
		let info = Directories::<T>::get(&directory).ok_or(Error::<T>::UnknownDirectory)?;
		let listed = TrustedDirectories::<T>::get(&who).contains(&directory);
		ensure!(
			!listed || DirectoryTrust::<T>::get(&who, &directory) != Some(info.registration),
			Error::<T>::AlreadyListed
		);
		if !listed {
			TrustedDirectories::<T>::try_mutate(&who, |list| {
				Self::add_to(list, directory.clone())
			})?;
		}
		DirectoryTrust::<T>::insert(&who, &directory, info.registration);
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
		DirectoryTrust::<T>::remove(&who, &directory);
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
}
