//! Where a call's balance moves and counter changes go. A single call makes each at once.
//! A batch defers them (`held_moves.rs`, `batched_counts.rs`): each item's are checked as
//! they would be at once and kept apart until the item succeeds; a refused item's are
//! dropped with its other changes; the rest are summed and made once after the last
//! item by [`Effects::finish`]. A batch also shares its matches' reads of their parties
//! (`party_reads.rs`), which none of its items change.

use crate::{
	batched_counts::{add_one, BatchedCounts, Counter},
	held_moves::{self, BatchedMoves},
	pallet::*,
	party_reads::PartyReads,
	types::*,
};
use alloc::boxed::Box;
use frame_support::pallet_prelude::*;

/// A batch's deferred effects and shared reads.
pub(crate) struct Deferred<T: Config> {
	moves: BatchedMoves<T>,
	counts: BatchedCounts<T>,
	reads: PartyReads<T>,
}

/// A call's balance moves and counter changes.
pub(crate) enum Effects<T: Config> {
	/// Each is made when asked for.
	Now,
	/// Each is checked and kept, and made by [`Effects::finish`].
	Batched(Box<Deferred<T>>),
}

impl<T: Config> Effects<T> {
	/// Effects for a batch.
	pub(crate) fn batched() -> Self {
		Effects::Batched(Box::new(Deferred {
			moves: BatchedMoves::default(),
			counts: BatchedCounts::default(),
			reads: PartyReads::default(),
		}))
	}

	/// The batch's reads of match parties, which its items share; `None` for a single
	/// call.
	pub(crate) fn party_reads(&mut self) -> Option<&mut PartyReads<T>> {
		match self {
			Effects::Now => None,
			Effects::Batched(batch) => Some(&mut batch.reads),
		}
	}

	/// Puts `amount` of `who`'s free balance on hold for `hold`.
	pub(crate) fn hold(
		&mut self,
		who: &T::AccountId,
		hold: HoldReason,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		match self {
			Effects::Now => held_moves::hold_now::<T>(who, hold, amount),
			Effects::Batched(batch) => batch.moves.hold(who, hold, amount),
		}
	}

	/// Pays `amount` of what `from` holds for `hold` to `to`'s free balance.
	pub(crate) fn transfer(
		&mut self,
		from: &T::AccountId,
		hold: HoldReason,
		to: &T::AccountId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		match self {
			Effects::Now => held_moves::transfer_now::<T>(from, hold, to, amount),
			Effects::Batched(batch) => batch.moves.transfer(from, hold, to, amount),
		}
	}

	/// Returns `amount` of what `who` holds for `hold` to its free balance.
	pub(crate) fn release(
		&mut self,
		who: &T::AccountId,
		hold: HoldReason,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		match self {
			Effects::Now => held_moves::release_now::<T>(who, hold, amount),
			Effects::Batched(batch) => batch.moves.release(who, hold, amount),
		}
	}

	/// Fines `who` up to `amount` of what it holds for `hold`, handing the fine to
	/// `T::OnFine`; a hold that has less gives all it has.
	pub(crate) fn slash(&mut self, who: &T::AccountId, hold: HoldReason, amount: BalanceOf<T>) {
		match self {
			Effects::Now => held_moves::slash_now::<T>(who, hold, amount),
			Effects::Batched(batch) => batch.moves.slash(who, hold, amount),
		}
	}

	/// Adds one to (or takes one from) the open-item count of `who` in `role`
	/// ([`Pallet::adjust_open_items`]).
	pub(crate) fn adjust_open_items(
		&mut self,
		who: &T::AccountId,
		role: Role,
		add: bool,
	) -> DispatchResult {
		match self {
			Effects::Now => Pallet::<T>::adjust_open_items(who, role, add),
			Effects::Batched(batch) => batch.counts.adjust_open_items(who, role, add),
		}
	}

	/// Adds one to `counter` of `who`'s reputation in `role`.
	pub(crate) fn count(&mut self, who: &T::AccountId, role: Role, counter: Counter) {
		match self {
			Effects::Now => Reputations::<T>::mutate(who, role, |record| add_one(record, counter)),
			Effects::Batched(batch) => batch.counts.count(who, role, counter),
		}
	}

	/// Ends an item of the batch: its effects count if it succeeded and are dropped if
	/// it was refused.
	pub(crate) fn end_item(&mut self, succeeded: bool) {
		if let Effects::Batched(batch) = self {
			batch.moves.end_item(succeeded);
			batch.counts.end_item(succeeded);
		}
	}

	/// Makes the batch's summed moves and writes its counters. The items' checks are
	/// meant to make each possible (`held_moves.rs` says how); if one still fails, the
	/// whole batch is refused and nothing changes.
	pub(crate) fn finish(self) -> DispatchResult {
		let Effects::Batched(batch) = self else { return Ok(()) };
		batch.moves.finish()?;
		batch.counts.finish()
	}
}
