//! Batched calls: many items of one kind in one extrinsic. Each item is checked and
//! applied in its own storage layer as its single call would be (where a batch's
//! deferred effects cannot tell exactly, more strictly: `held_moves.rs`): a refused item
//! is rolled back alone and announced with [`Event::BatchItemFailed`], and the others
//! take effect.
//!
//! A batch is cheaper than the same calls one by one for two reasons. An account's
//! records (its balance, hold, open items and reputation) are written to the database
//! once per block however many items change them, and a batch's benchmark counts each
//! distinct key once, where every single call must assume its own write. And the
//! batches' balance moves and counters (`effects.rs`) are summed over the batch and made
//! once per account, where single calls make each one.
//! Calls whose items touch other parties' records (`post_matches`, `accept_results`)
//! therefore declare the worst case and refund the difference for the parties their items
//! shared. Their benchmarks have two components, the items whose parties an earlier item
//! already touched and the items with parties of their own, so neither bounds the other.

use crate::{effects::Effects, pallet::*, types::*};
use alloc::{collections::BTreeSet, vec::Vec};
use frame_support::{pallet_prelude::*, storage::with_storage_layer, weights::Weight};

/// The most items one batched call carries.
pub const MAX_BATCH_ITEMS: u32 = 128;

/// A batched call's items.
pub type Batch<Item> = BoundedVec<Item, ConstU32<MAX_BATCH_ITEMS>>;

/// The four accounts whose records a match and its close write.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct MatchParties<AccountId> {
	/// The job's creator.
	pub job_creator: AccountId,
	/// The RP running the job.
	pub resource_provider: AccountId,
	/// The match's mediator.
	pub mediator: AccountId,
	/// The job's directory.
	pub directory: AccountId,
}

impl<AccountId: Clone> MatchParties<AccountId> {
	/// The parties of `record`.
	pub(crate) fn of<Balance>(record: &Match<AccountId, Balance>) -> Self {
		MatchParties {
			job_creator: record.job_creator.clone(),
			resource_provider: record.resource_provider.clone(),
			mediator: record.mediator.clone(),
			directory: record.job.directory.clone(),
		}
	}
}

/// What a batch's items did: what each applied item returned, in order, and how many
/// were refused.
pub(crate) struct Applied<Done> {
	pub done: Vec<Done>,
	pub refused: u32,
}

impl<AccountId: Ord> Applied<MatchParties<AccountId>> {
	/// The components of the batch weights for `items` items: `(shared, own)`, the items
	/// whose parties an earlier item of the batch already touched, and the rest. Each
	/// distinct set of parties counts one item as its own; so does a refused item, which
	/// may have read its parties' records before it failed.
	pub(crate) fn weight_components(self, items: u32) -> (u32, u32) {
		let distinct: BTreeSet<MatchParties<AccountId>> = self.done.into_iter().collect();
		let own = u32::try_from(distinct.len())
			.unwrap_or(u32::MAX)
			.saturating_add(self.refused)
			.min(items);
		(items.saturating_sub(own), own)
	}
}

/// What a batch of `items` items declares before it runs: the most any mix of shared and
/// own parties can weigh. The weight is linear in both, so the most is at one end.
pub(crate) fn declared(weight: impl Fn(u32, u32) -> Weight, items: u32) -> Weight {
	weight(0, items).max(weight(items, 0))
}

impl<T: Config> Pallet<T> {
	/// Applies `apply` to each item in its own storage layer. A refused item's changes
	/// and events are rolled back and it is announced by its index; the rest go on.
	pub(crate) fn apply_each<Item, Done>(
		items: Vec<Item>,
		mut apply: impl FnMut(Item) -> Result<Done, DispatchError>,
	) -> Result<Applied<Done>, DispatchError> {
		ensure!(!items.is_empty(), Error::<T>::EmptyBatch);
		let mut applied = Applied { done: Vec::with_capacity(items.len()), refused: 0 };
		for (index, item) in items.into_iter().enumerate() {
			match with_storage_layer(|| apply(item)) {
				Ok(done) => applied.done.push(done),
				Err(error) => {
					applied.refused = applied.refused.saturating_add(1);
					Self::deposit_event(Event::BatchItemFailed {
						// A batch holds at most MAX_BATCH_ITEMS items.
						index: u32::try_from(index).unwrap_or(u32::MAX),
						error,
					})
				},
			}
		}
		Ok(applied)
	}

	/// [`Self::apply_each`] for items whose balance moves and counter changes go to
	/// `effects`: a refused item's are dropped with its other changes.
	pub(crate) fn apply_batched<Item, Done>(
		items: Vec<Item>,
		effects: &mut Effects<T>,
		mut apply: impl FnMut(Item, &mut Effects<T>) -> Result<Done, DispatchError>,
	) -> Result<Applied<Done>, DispatchError> {
		Self::apply_each(items, |item| {
			let done = apply(item, effects);
			effects.end_item(done.is_ok());
			done
		})
	}
}
