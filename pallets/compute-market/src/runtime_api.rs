//! Read-only views for off-chain actors: deposit quotes, open offers page by page,
//! unsettled matches with their state and deadlines, and reputations.

pub use crate::dispatchable_impls::QuoteError;
use crate::{
	JobOffer, JobOfferTerms, MarketParameters, Match, MatchId, OfferId, Reputation, ResourceOffer,
	ResourceOfferTerms, Role,
};
use alloc::vec::Vec;
use codec::Codec;

sp_api::decl_runtime_apis! {
	/// The compute market as off-chain actors read it.
	pub trait ComputeMarketApi<AccountId, Balance>
	where
		AccountId: Codec,
		Balance: Codec,
	{
		/// The current platform parameters.
		fn parameters() -> MarketParameters<Balance>;

		/// The smallest deposit `post_job_offer` accepts for `terms`; with `mediator`,
		/// the smallest that also passes `post_match` with that mediator.
		fn quote_job_offer_deposit(
			terms: JobOfferTerms<AccountId, Balance>,
			mediator: Option<AccountId>,
		) -> Result<Balance, QuoteError>;

		/// The smallest deposit `post_resource_offer` accepts for `terms`; with
		/// `mediator` and `directory`, the smallest that also passes `post_match`.
		fn quote_resource_offer_deposit(
			terms: ResourceOfferTerms<Balance>,
			mediator: Option<AccountId>,
			directory: Option<AccountId>,
		) -> Result<Balance, QuoteError>;

		/// Up to `limit` open job offers, continuing after `start_after` (storage order).
		fn job_offers(start_after: Option<OfferId>, limit: u32)
			-> Vec<(OfferId, JobOffer<AccountId, Balance>)>;

		/// Up to `limit` open resource offers, continuing after `start_after`.
		fn resource_offers(start_after: Option<OfferId>, limit: u32)
			-> Vec<(OfferId, ResourceOffer<AccountId, Balance>)>;

		/// An unsettled match: parties, terms, remaining deposits, state and deadlines.
		fn match_info(match_id: MatchId) -> Option<Match<AccountId, Balance>>;

		/// `who`'s record in every role it closed a match in (README, "Reputation").
		fn reputation(who: AccountId) -> Vec<(Role, Reputation)>;
	}
}

impl<T: crate::Config> crate::Pallet<T> {
	/// One page of a map keyed by offer id, resuming after `start_after`.
	fn page<V>(
		start_after: Option<OfferId>,
		limit: u32,
		from_start: impl Fn() -> frame_support::storage::PrefixIterator<(OfferId, V)>,
		after: impl Fn(OfferId) -> frame_support::storage::PrefixIterator<(OfferId, V)>,
	) -> Vec<(OfferId, V)> {
		let iter = match start_after {
			Some(id) => after(id),
			None => from_start(),
		};
		iter.take(limit as usize).collect()
	}

	/// Open job offers, `limit` at a time, after `start_after` in storage order.
	pub fn job_offers_page(
		start_after: Option<OfferId>,
		limit: u32,
	) -> Vec<(OfferId, crate::JobOfferOf<T>)> {
		use crate::JobOffers;
		Self::page(start_after, limit, JobOffers::<T>::iter, |id| {
			JobOffers::<T>::iter_from(JobOffers::<T>::hashed_key_for(id))
		})
	}

	/// Open resource offers, `limit` at a time, after `start_after` in storage order.
	pub fn resource_offers_page(
		start_after: Option<OfferId>,
		limit: u32,
	) -> Vec<(OfferId, crate::ResourceOfferOf<T>)> {
		use crate::ResourceOffers;
		Self::page(start_after, limit, ResourceOffers::<T>::iter, |id| {
			ResourceOffers::<T>::iter_from(ResourceOffers::<T>::hashed_key_for(id))
		})
	}
}

impl<T: crate::Config> crate::Pallet<T> {
	/// An unsettled match, for `ComputeMarketApi::match_info`.
	pub fn match_view(match_id: MatchId) -> Option<crate::MatchOf<T>> {
		crate::Matches::<T>::get(match_id)
	}
}
