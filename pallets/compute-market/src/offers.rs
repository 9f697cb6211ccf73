//! Posting, cancelling and clearing offers, and setting the market's parameters.

use crate::{dispatchable_impls::wide, effects::Effects, pallet::*, types::*};
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{fungible::MutateHold, tokens::Precision},
};

impl<T: Config> Pallet<T> {
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
		effects: &mut Effects<T>,
	) -> DispatchResult {
		ensure!(ResourceProviders::<T>::contains_key(&who), Error::<T>::NotRegistered);
		Self::ensure_expiry(expires_at)?;
		let minimum = Self::quote_resource_deposit(&terms, None, None).map_err(Error::<T>::from)?;
		ensure!(
			wide(deposit) >= minimum,
			Error::<T>::DepositBelowMinimum { minimum: ApproxAmount::at_least(minimum) }
		);
		effects.adjust_open_items(&who, Role::ResourceProvider, true)?;
		effects.hold(&who, HoldReason::OfferDeposit, deposit)?;
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

	/// Posts a job offer and returns its id.
	pub(crate) fn do_post_job_offer(
		who: T::AccountId,
		terms: JobTermsOf<T>,
		deposit: BalanceOf<T>,
		expires_at: Moment,
		effects: &mut Effects<T>,
	) -> Result<OfferId, DispatchError> {
		ensure!(JobCreators::<T>::contains_key(&who), Error::<T>::NotRegistered);
		let now = Self::now();
		ensure!(terms.completion_deadline > now, Error::<T>::DeadlineInPast);
		let horizon = Parameters::<T>::get().max_completion_horizon;
		ensure!(
			terms.completion_deadline <= now.saturating_add(horizon),
			Error::<T>::DeadlineTooFar
		);
		Self::ensure_expiry(expires_at)?;
		let minimum = Self::quote_job_deposit(&terms, None).map_err(Error::<T>::from)?;
		ensure!(
			wide(deposit) >= minimum,
			Error::<T>::DepositBelowMinimum { minimum: ApproxAmount::at_least(minimum) }
		);
		effects.adjust_open_items(&who, Role::JobCreator, true)?;
		effects.hold(&who, HoldReason::OfferDeposit, deposit)?;
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
		Ok(offer_id)
	}

	/// Removes an unmatched offer, releases its deposit and its owner's open items;
	/// returns the owner and the deposit.
	pub(crate) fn withdraw_offer(
		offer: OfferRef,
		may_withdraw: impl FnOnce(&T::AccountId, Moment) -> DispatchResult,
	) -> Result<(T::AccountId, BalanceOf<T>), DispatchError> {
		let (owner, deposit) = match offer {
			OfferRef::Job(id) => {
				let o = JobOffers::<T>::get(id).ok_or(Error::<T>::OfferNotFound)?;
				may_withdraw(&o.owner, o.expires_at)?;
				JobOffers::<T>::remove(id);
				Self::forget_replica(ReplicaMember::Offer(id));
				Self::adjust_open_items(&o.owner, Role::JobCreator, false)?;
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
			cleared_by: Some(who),
			deposit_released,
		});
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
