//! Where the balance moves out of holds go. A single call makes each move at once. A
//! batch ([`Pallet::post_matches`], [`Pallet::accept_results`]) checks each move against
//! what the account still holds for the batch, sums the moves of the items that succeed,
//! and makes each sum once at the end: an RP paid by 100 accepted results has its
//! balance and hold written once, not 100 times, and each item still announces its own
//! payments.
//!
//! The end result is the same as making the moves one by one. Each move is checked as
//! the balances pallet checks it, against what is still held. The balances pallet also
//! refuses a deposit that would leave a recipient's free balance under the existential
//! deposit; no such check is needed here, because every recipient is a registered party
//! of an open match: it has a hold, and in this runtime an account with a hold keeps the
//! existential deposit free (a runtime where that fails would see a sum refused at the
//! end, and then the whole batch, with nothing moved). Likewise every move out of a hold
//! inside a batch must go through its `Moves`: a hold changed behind its back would make
//! a sum fail at the end, refusing the whole batch.

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

/// A hold the pallet places, as a map key: [`HoldReason`] takes its derives from
/// `composite_enum`, which gives it no order.
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
	/// The finished items' transfers, summed per payer, hold and payee.
	transfers: BTreeMap<(T::AccountId, Held, T::AccountId), BalanceOf<T>>,
	/// The finished items' releases, summed per holder and hold.
	releases: BTreeMap<AccountHold<T>, BalanceOf<T>>,
	/// The finished items' fines, summed per holder and hold. No batched call fines
	/// today (an accept and a match do not); a batch of any close path would.
	slashes: BTreeMap<AccountHold<T>, BalanceOf<T>>,
	/// The moves of the item under way.
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
			Moves::Now => transfer_now::<T>(from, hold, to, amount),
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
			Moves::Now => release_now::<T>(who, hold, amount),
			Moves::Batched(batch) => {
				batch.take_exact(Move::Release { who: who.clone(), held: hold.into(), amount })
			},
		}
	}

	/// Fines `who` up to `amount` of what it holds for `hold`, handing the fine to
	/// `T::OnFine`; a hold that has less gives all it has.
	pub(crate) fn slash(&mut self, who: &T::AccountId, hold: HoldReason, amount: BalanceOf<T>) {
		match self {
			Moves::Now => slash_now::<T>(who, hold, amount),
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
			transfer_now::<T>(&from, held.reason(), &to, amount)?;
		}
		for ((who, held), amount) in batch.slashes {
			slash_now::<T>(&who, held.reason(), amount);
		}
		for ((who, held), amount) in batch.releases {
			release_now::<T>(&who, held.reason(), amount)?;
		}
		Ok(())
	}
}

fn transfer_now<T: Config>(
	from: &T::AccountId,
	hold: HoldReason,
	to: &T::AccountId,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::transfer_on_hold(
		&hold.into(),
		from,
		to,
		amount,
		Precision::Exact,
		Restriction::Free,
		Fortitude::Force,
	)
	.map(|_| ())
}

fn release_now<T: Config>(
	who: &T::AccountId,
	hold: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::release(&hold.into(), who, amount, Precision::Exact).map(|_| ())
}

fn slash_now<T: Config>(who: &T::AccountId, hold: HoldReason, amount: BalanceOf<T>) {
	let (credit, _missing) = T::Currency::slash(&hold.into(), who, amount);
	T::OnFine::on_unbalanced(credit);
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

	/// Counts a finished item's move: takes it from what its hold has left and adds it
	/// to its sum.
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
