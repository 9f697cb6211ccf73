//! Where the balance moves out of holds go. A single call makes each move at once. A
//! batch ([`Pallet::post_matches`], [`Pallet::accept_results`]) checks each move against
//! what the account still holds for the batch, sums the moves of the items that succeed,
//! and makes each sum once at the end: an RP paid by 100 accepted results has its
//! balance and hold written once, not 100 times, and each item still announces its own
//! payments.
//!
//! The end result is the same as making the moves one by one: each move is checked as
//! the balances pallet would check it (the amount is still held), and every recipient
//! is a registered party of an open match, whose bond keeps its account alive. Inside a
//! batch every move out of a hold must go through its `Moves`: a hold changed behind its
//! back would make a sum fail at the end, and the whole batch would then be refused.

use crate::pallet::*;
use alloc::{collections::BTreeMap, vec::Vec};
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{BalancedHold, InspectHold, MutateHold},
		tokens::{Fortitude, Precision, Restriction},
		OnUnbalanced,
	},
};
use sp_runtime::{traits::Saturating, TokenError};

/// A hold the pallet places, as a map key (the runtime's hold reasons are not ordered).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Held {
	RegistrationBond,
	OfferDeposit,
}

impl From<HoldReason> for Held {
	fn from(reason: HoldReason) -> Self {
		match reason {
			HoldReason::RegistrationBond => Held::RegistrationBond,
			HoldReason::OfferDeposit => Held::OfferDeposit,
		}
	}
}

impl Held {
	fn reason(self) -> HoldReason {
		match self {
			Held::RegistrationBond => HoldReason::RegistrationBond,
			Held::OfferDeposit => HoldReason::OfferDeposit,
		}
	}
}

/// One move out of a hold.
#[derive(Clone, Debug)]
enum Move<AccountId, Balance> {
	/// To another account's free balance.
	Transfer { from: AccountId, held: Held, to: AccountId, amount: Balance },
	/// Back to the holder's free balance.
	Release { who: AccountId, held: Held, amount: Balance },
	/// Taken as a fine.
	Slash { who: AccountId, held: Held, amount: Balance },
}

impl<AccountId, Balance: Copy> Move<AccountId, Balance> {
	fn source(&self) -> (&AccountId, Held, Balance) {
		match self {
			Move::Transfer { from, held, amount, .. } => (from, *held, *amount),
			Move::Release { who, held, amount } | Move::Slash { who, held, amount } => {
				(who, *held, *amount)
			},
		}
	}
}

type MoveOf<T> = Move<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
type AccountHold<T> = (<T as frame_system::Config>::AccountId, Held);

/// A batch's moves: what each touched hold has left, the sums owed, and the moves of the
/// item under way, kept apart until it succeeds.
pub(crate) struct BatchedMoves<T: Config> {
	/// What each hold read so far still holds once the finished items' moves are made.
	left: BTreeMap<AccountHold<T>, BalanceOf<T>>,
	transfers: BTreeMap<(T::AccountId, Held, T::AccountId), BalanceOf<T>>,
	releases: BTreeMap<AccountHold<T>, BalanceOf<T>>,
	slashes: BTreeMap<AccountHold<T>, BalanceOf<T>>,
	pending: Vec<MoveOf<T>>,
}

/// Where a call's moves out of holds go.
pub(crate) enum Moves<T: Config> {
	/// Each move is made when asked for.
	Now,
	/// Moves are checked and summed, and made by [`Moves::finish`].
	Batched(BatchedMoves<T>),
}

impl<T: Config> Moves<T> {
	/// Moves for a batch.
	pub(crate) fn batched() -> Self {
		Moves::Batched(BatchedMoves {
			left: BTreeMap::new(),
			transfers: BTreeMap::new(),
			releases: BTreeMap::new(),
			slashes: BTreeMap::new(),
			pending: Vec::new(),
		})
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
			Moves::Now => T::Currency::transfer_on_hold(
				&hold.into(),
				from,
				to,
				amount,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Force,
			)
			.map(|_| ()),
			Moves::Batched(batch) => batch.take_exact(Move::Transfer {
				from: from.clone(),
				held: hold.into(),
				to: to.clone(),
				amount,
			}),
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
			Moves::Now => {
				T::Currency::release(&hold.into(), who, amount, Precision::Exact).map(|_| ())
			},
			Moves::Batched(batch) => {
				batch.take_exact(Move::Release { who: who.clone(), held: hold.into(), amount })
			},
		}
	}

	/// Fines `who` up to `amount` of what it holds for `hold`, handing the fine to
	/// `T::OnFine`; a hold that has less gives all it has.
	pub(crate) fn slash(&mut self, who: &T::AccountId, hold: HoldReason, amount: BalanceOf<T>) {
		match self {
			Moves::Now => {
				let (credit, _missing) = T::Currency::slash(&hold.into(), who, amount);
				T::OnFine::on_unbalanced(credit);
			},
			Moves::Batched(batch) => {
				let held = Held::from(hold);
				let amount = amount.min(batch.available(who, held));
				batch.pending.push(Move::Slash { who: who.clone(), held, amount });
			},
		}
	}

	/// Ends an item of the batch: its moves count if it succeeded and are dropped if it
	/// was refused.
	pub(crate) fn end_item(&mut self, succeeded: bool) {
		if let Moves::Batched(batch) = self {
			let pending = core::mem::take(&mut batch.pending);
			if succeeded {
				pending.into_iter().for_each(|m| batch.commit(m));
			}
		}
	}

	/// Makes the summed moves. The items' checks make each of them possible; if one still
	/// fails, the whole batch is refused and nothing moves.
	pub(crate) fn finish(self) -> DispatchResult {
		let Moves::Batched(batch) = self else { return Ok(()) };
		for ((from, held, to), amount) in batch.transfers {
			Moves::<T>::Now.transfer(&from, held.reason(), &to, amount)?;
		}
		for ((who, held), amount) in batch.slashes {
			Moves::<T>::Now.slash(&who, held.reason(), amount);
		}
		for ((who, held), amount) in batch.releases {
			Moves::<T>::Now.release(&who, held.reason(), amount)?;
		}
		Ok(())
	}
}

impl<T: Config> BatchedMoves<T> {
	/// What `who` holds for `held` net of the finished items' moves and the current
	/// item's.
	fn available(&mut self, who: &T::AccountId, held: Held) -> BalanceOf<T> {
		let left = *self
			.left
			.entry((who.clone(), held))
			.or_insert_with(|| T::Currency::balance_on_hold(&held.reason().into(), who));
		self.pending
			.iter()
			.map(Move::source)
			.filter(|(source, h, _)| *source == who && *h == held)
			.fold(left, |left, (_, _, amount)| left.saturating_sub(amount))
	}

	/// Queues a move of an exact amount, refused as the balances pallet would refuse it
	/// when the hold has less.
	fn take_exact(&mut self, m: MoveOf<T>) -> DispatchResult {
		let (who, held, amount) = m.source();
		let who = who.clone();
		ensure!(self.available(&who, held) >= amount, TokenError::FundsUnavailable);
		self.pending.push(m);
		Ok(())
	}

	fn commit(&mut self, m: MoveOf<T>) {
		let (who, held, amount) = m.source();
		if let Some(left) = self.left.get_mut(&(who.clone(), held)) {
			*left = left.saturating_sub(amount);
		}
		let add = |sum: &mut BalanceOf<T>| *sum = sum.saturating_add(amount);
		match m {
			Move::Transfer { from, held, to, .. } => {
				add(self.transfers.entry((from, held, to)).or_default())
			},
			Move::Release { who, held, .. } => add(self.releases.entry((who, held)).or_default()),
			Move::Slash { who, held, .. } => add(self.slashes.entry((who, held)).or_default()),
		}
	}
}
