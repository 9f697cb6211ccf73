//! The idle-time sweep: expired offers leave storage and their deposits return to
//! their owners without anyone having to pay a transaction for it.

use crate::{pallet::*, types::*, weights::WeightInfo};
use frame_support::{pallet_prelude::*, traits::Time};

/// Most offers one block's sweep looks at, however much room the block has left, so
/// a block's idle work stays small.
pub const MAX_SWEEP_PER_BLOCK: u32 = 64;

impl<T: Config> Pallet<T> {
	/// Looks at up to [`MAX_SWEEP_PER_BLOCK`] offers from where the last sweep stopped
	/// and clears the expired ones, within `remaining`. Returns the weight it may have
	/// used (each offer looked at is charged as a clearance).
	pub(crate) fn sweep_expired_offers(remaining: Weight) -> Weight {
		let db = T::DbWeight::get();
		// The cursor's read and write, and the clock.
		let base = db.reads_writes(2, 1);
		let per_offer = T::WeightInfo::clear_expired_offer().saturating_add(db.reads(1));
		let Some(room) = remaining.checked_sub(&base) else { return Weight::zero() };
		let budget = room
			.ref_time()
			.checked_div(per_offer.ref_time().max(1))
			.unwrap_or(0)
			.min(room.proof_size().checked_div(per_offer.proof_size().max(1)).unwrap_or(u64::MAX))
			.min(MAX_SWEEP_PER_BLOCK as u64) as u32;
		if budget == 0 {
			return Weight::zero();
		}
		let now = T::Time::now();
		let mut cursor = ExpirySweep::<T>::get();
		let mut looked = 0u32;
		while looked < budget {
			let next = Self::next_offer_after(&cursor);
			looked = looked.saturating_add(1);
			match next {
				Some((id, expires_at)) => {
					cursor.after = Some(id);
					if now > expires_at {
						let offer = if cursor.resource_offers {
							OfferRef::Resource(id)
						} else {
							OfferRef::Job(id)
						};
						Self::expire(offer);
					}
				},
				// The end of one map: go on with the other from its beginning.
				None => {
					cursor = SweepCursor { resource_offers: !cursor.resource_offers, after: None };
				},
			}
		}
		ExpirySweep::<T>::put(cursor);
		base.saturating_add(per_offer.saturating_mul(looked as u64))
	}

	/// The offer after the cursor in the map it names, with its expiry.
	fn next_offer_after(cursor: &SweepCursor) -> Option<(OfferId, Moment)> {
		if cursor.resource_offers {
			let mut iter = match cursor.after {
				Some(id) => ResourceOffers::<T>::iter_from(ResourceOffers::<T>::hashed_key_for(id)),
				None => ResourceOffers::<T>::iter(),
			};
			iter.next().map(|(id, offer)| (id, offer.expires_at))
		} else {
			let mut iter = match cursor.after {
				Some(id) => JobOffers::<T>::iter_from(JobOffers::<T>::hashed_key_for(id)),
				None => JobOffers::<T>::iter(),
			};
			iter.next().map(|(id, offer)| (id, offer.expires_at))
		}
	}

	/// Clears one expired offer; a failure (it cannot, since the offer was just read)
	/// leaves it for `clear_expired_offer`.
	fn expire(offer: OfferRef) {
		let released = frame_support::storage::with_transaction(|| {
			match Self::withdraw_offer(offer, |_, _| Ok(())) {
				Ok(done) => frame_support::storage::TransactionOutcome::Commit(Ok(done)),
				Err(e) => frame_support::storage::TransactionOutcome::Rollback(Err(e)),
			}
		});
		if let Ok((owner, deposit_released)) = released {
			Self::deposit_event(Event::OfferExpired {
				offer,
				owner,
				cleared_by: None,
				deposit_released,
			});
		}
	}
}
