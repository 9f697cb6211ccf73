//! Deposit quotes: eq. 2 on an offer's own estimate, and the larger amount a match
//! with a given mediator and directory needs. The pallet checks offers with these and
//! the runtime API answers clients with the same numbers.

use crate::{
	dispatchable_impls::{wide, QuoteError},
	economics,
	pallet::*,
	types::*,
};

impl<T: Config> Pallet<T> {
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
	pub(crate) fn minimum_deposit(
		estimate: u128,
		availability: u128,
	) -> Result<u128, economics::Overflow> {
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
	/// will also pass matching with that mediator and any resource offer (an RP's
	/// prices are at most the job's maximum prices).
	pub fn quote_job_deposit(
		terms: &JobTermsOf<T>,
		mediator: Option<&T::AccountId>,
	) -> Result<u128, QuoteError> {
		let directory =
			Directories::<T>::get(&terms.directory).ok_or(QuoteError::UnknownDirectory)?;
		let mediator = mediator
			.map(|m| Mediators::<T>::get(m).ok_or(QuoteError::UnknownMediator))
			.transpose()?;
		let availability = economics::availability_charge(
			wide(terms.match_incentive),
			economics::job_creator_share(
				mediator.as_ref().map_or(0, |m| wide(m.availability_price)),
			),
			economics::job_creator_share(wide(directory.availability_price)),
		)
		.map_err(|_| QuoteError::Overflow)?;
		let estimate = Self::job_estimate(terms).map_err(|_| QuoteError::Overflow)?;
		let posting =
			Self::minimum_deposit(estimate, availability).map_err(|_| QuoteError::Overflow)?;
		let Some(mediator) = mediator else { return Ok(posting) };
		// The dearest RP the job accepts charges its maximum prices.
		let stakes = Self::match_stakes(
			terms,
			(wide(terms.instruction_max_price), wide(terms.bandwidth_max_price)),
			&mediator,
			wide(directory.availability_price),
			&Parameters::<T>::get(),
		)
		.map_err(|_| QuoteError::Overflow)?;
		let (job_creator, _) =
			economics::match_minimums(&stakes).map_err(|_| QuoteError::Overflow)?;
		let at_match =
			job_creator.checked_add(wide(terms.match_incentive)).ok_or(QuoteError::Overflow)?;
		Ok(posting.max(at_match))
	}

	/// The smallest deposit a resource offer may carry; with `mediator` and `directory`,
	/// the smallest that also covers a verdict on a job as large as the offer's caps
	/// with them. (A timeout owes the JC its own estimate π̂_c, which no resource offer
	/// can know in advance: matching refuses jobs whose estimate the deposit does not
	/// cover.)
	pub fn quote_resource_deposit(
		terms: &ResourceOfferTerms<BalanceOf<T>>,
		mediator: Option<&T::AccountId>,
		directory: Option<&T::AccountId>,
	) -> Result<u128, QuoteError> {
		let mediator = mediator
			.map(|m| Mediators::<T>::get(m).ok_or(QuoteError::UnknownMediator))
			.transpose()?;
		let directory = match directory {
			Some(d) => wide(
				Directories::<T>::get(d).ok_or(QuoteError::UnknownDirectory)?.availability_price,
			),
			None => 0,
		};
		let availability = economics::availability_charge(
			wide(terms.match_incentive),
			economics::resource_provider_share(
				mediator.as_ref().map_or(0, |m| wide(m.availability_price)),
			),
			economics::resource_provider_share(directory),
		)
		.map_err(|_| QuoteError::Overflow)?;
		let estimate = Self::resource_estimate(terms).map_err(|_| QuoteError::Overflow)?;
		let posting =
			Self::minimum_deposit(estimate, availability).map_err(|_| QuoteError::Overflow)?;
		let Some(mediator) = mediator else { return Ok(posting) };
		let parameters = Parameters::<T>::get();
		let fee_bound = economics::mediation_fee(
			parameters.verification_count,
			terms.instruction_cap,
			wide(mediator.instruction_price),
			terms.bandwidth_cap,
			wide(mediator.bandwidth_price),
		)
		.map_err(|_| QuoteError::Overflow)?;
		let at_match = estimate
			.checked_add(fee_bound)
			.and_then(|v| {
				v.checked_add(economics::penalty(estimate, parameters.penalty_rate).ok()?)
			})
			.and_then(|v| v.checked_add(availability))
			.ok_or(QuoteError::Overflow)?;
		Ok(posting.max(at_match))
	}
}
