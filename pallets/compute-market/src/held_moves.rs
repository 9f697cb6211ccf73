//! A batch's balance moves ([`Pallet::post_matches`], [`Pallet::accept_results`],
//! [`Pallet::post_job_offers`], [`Pallet::post_resource_offers`]): each hold into an offer
//! deposit and each transfer, release or fine out of a hold is checked as the balances
//! pallet would check it, against what the account can still hold or still holds for the
//! batch; the moves of the items that succeed are summed, and each sum is made once at
//! the end. An RP paid by 100 accepted results has its balance and hold written once, not
//! 100 times, and each item still announces its own payments. Single calls make each
//! move at once (`transfer_now` and the like).
//!
//! Each move is checked where the balances pallet would check it, so that every sum made
//! at the end is possible:
//! - a hold against what the account may put on hold (read once, less the batch's holds),
//!   as `hold` checks it;
//! - a move out of a hold against what is still held (read once, plus the batch's holds,
//!   less its moves);
//! - a transfer or a release, like `transfer_on_hold` and `release`, against what the
//!   recipient may receive (`can_deposit`: the existential deposit, among others). Once a
//!   transfer to an account has passed that check, later deposits to it in the batch
//!   skip it: that transfer's sum, at least as large, is made first at the end (the
//!   account's "opener"), and once it is made the account exists for the others.
//!
//! Where a batch differs from the moves one by one, it refuses more, never less:
//! - funds a batch releases or pays to an account are not counted as free for that
//!   account's holds in the same batch (no batched call does both);
//! - a hold never takes the account's free balance under the existential deposit, even
//!   where a second provider would let a single `hold` take all of it.
//!
//! Sums are made holds first, openers next, so a move out of a hold may spend what the
//! batch held. Every move inside a batch must go through its `BatchedMoves`: a balance
//! changed behind its back could make a sum fail at the end, which refuses the whole
//! batch with nothing moved.

use crate::pallet::*;
use alloc::{
	collections::{BTreeMap, BTreeSet},
	vec::Vec,
};
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{BalancedHold, Inspect, InspectHold, MutateHold},
		tokens::{DepositConsequence, Fortitude, Precision, Preservation, Provenance, Restriction},
		OnUnbalanced,
	},
};
use sp_runtime::{
	traits::{Saturating, Zero},
	TokenError,
};

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

/// One balance move of a batch.
#[derive(Clone, Debug)]
enum Move<AccountId, Balance> {
	/// From the holder's free balance onto a hold.
	Hold { who: AccountId, held: Held, amount: Balance },
	/// Out of a hold to another account's free balance.
	/// `opens`: the first deposit to `to` that passed the balances pallet's check.
	Transfer { from: AccountId, held: Held, to: AccountId, amount: Balance, opens: bool },
	/// Out of a hold back to the holder's free balance.
	Release { who: AccountId, held: Held, amount: Balance },
	/// Out of a hold, as a fine.
	Slash { who: AccountId, held: Held, amount: Balance },
}

impl<AccountId, Balance: Copy> Move<AccountId, Balance> {
	/// The hold a move takes from and how much, or for a hold, the one it adds to.
	fn hold(&self) -> (&AccountId, Held, Balance) {
		match self {
			Move::Transfer { from, held, amount, .. } => (from, *held, *amount),
			Move::Hold { who, held, amount }
			| Move::Release { who, held, amount }
			| Move::Slash { who, held, amount } => (who, *held, *amount),
		}
	}

	fn adds_to_hold(&self) -> bool {
		matches!(self, Move::Hold { .. })
	}
}

/// Whether a deposit may reach its recipient.
enum Reach {
	/// An earlier transfer of the batch to the recipient passed the check.
	Reached,
	/// Checked now: whether the balances pallet would accept the deposit.
	Checked(bool),
}

type MoveOf<T> = Move<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
type AccountHold<T> = (<T as frame_system::Config>::AccountId, Held);

/// A batch's moves: what each touched account may still hold and each touched hold has
/// left, the sums owed, and the moves of the item under way, kept apart until it
/// succeeds.
pub(crate) struct BatchedMoves<T: Config> {
	/// What each account read so far may still put on hold once the finished items'
	/// holds are made.
	holdable: BTreeMap<T::AccountId, BalanceOf<T>>,
	/// The holds the balances pallet has room for on their accounts.
	hold_room: BTreeSet<AccountHold<T>>,
	/// What each hold read so far still holds once the finished items' moves are made.
	left: BTreeMap<AccountHold<T>, BalanceOf<T>>,
	/// Each recipient a finished item's transfer reached, with that transfer's payer and
	/// hold: its sum is made first, so that any further deposit to the recipient may be.
	openers: BTreeMap<T::AccountId, AccountHold<T>>,
	/// The finished items' holds, summed per holder and hold.
	holds: BTreeMap<AccountHold<T>, BalanceOf<T>>,
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

impl<T: Config> Default for BatchedMoves<T> {
	fn default() -> Self {
		BatchedMoves {
			holdable: BTreeMap::new(),
			hold_room: BTreeSet::new(),
			left: BTreeMap::new(),
			openers: BTreeMap::new(),
			holds: BTreeMap::new(),
			transfers: BTreeMap::new(),
			releases: BTreeMap::new(),
			slashes: BTreeMap::new(),
			pending: Vec::new(),
		}
	}
}

impl<T: Config> BatchedMoves<T> {
	/// Puts `amount` of `who`'s free balance on hold for `hold`, refused as `hold` would
	/// refuse it.
	pub(crate) fn hold(
		&mut self,
		who: &T::AccountId,
		hold: HoldReason,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		let held = Held::from(hold);
		// In `hold`'s order: the funds, then room for the hold.
		ensure!(self.holdable(who) >= amount, TokenError::FundsUnavailable);
		let key = (who.clone(), held);
		if !self.hold_room.contains(&key) {
			ensure!(T::Currency::hold_available(&hold.into(), who), TokenError::CannotCreateHold);
			self.hold_room.insert(key);
		}
		self.pending.push(Move::Hold { who: who.clone(), held, amount });
		Ok(())
	}

	/// Pays `amount` of what `from` holds for `hold` to `to`'s free balance, refused as
	/// `transfer_on_hold` would refuse it.
	pub(crate) fn transfer(
		&mut self,
		from: &T::AccountId,
		hold: HoldReason,
		to: &T::AccountId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		let held = Held::from(hold);
		ensure!(self.available(from, held) >= amount, TokenError::FundsUnavailable);
		let opens = match self.reach(to, amount) {
			Reach::Reached => false,
			Reach::Checked(true) => true,
			Reach::Checked(false) => return Err(TokenError::CannotCreate.into()),
		};
		let to = to.clone();
		self.pending.push(Move::Transfer { from: from.clone(), held, to, amount, opens });
		Ok(())
	}

	/// Returns `amount` of what `who` holds for `hold` to its free balance.
	pub(crate) fn release(
		&mut self,
		who: &T::AccountId,
		hold: HoldReason,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		let held = Held::from(hold);
		ensure!(self.available(who, held) >= amount, TokenError::FundsUnavailable);
		// A release is made after every transfer, so it never opens an account.
		ensure!(
			!matches!(self.reach(who, amount), Reach::Checked(false)),
			TokenError::CannotCreate
		);
		self.pending.push(Move::Release { who: who.clone(), held, amount });
		Ok(())
	}

	/// Fines `who` up to `amount` of what it holds for `hold`; a hold that has less
	/// gives all it has.
	pub(crate) fn slash(&mut self, who: &T::AccountId, hold: HoldReason, amount: BalanceOf<T>) {
		let held = Held::from(hold);
		let amount = amount.min(self.available(who, held));
		self.pending.push(Move::Slash { who: who.clone(), held, amount });
	}

	/// Ends an item of the batch: its moves count if it succeeded and are dropped if it
	/// was refused.
	pub(crate) fn end_item(&mut self, succeeded: bool) {
		let pending = core::mem::take(&mut self.pending);
		if succeeded {
			pending.into_iter().for_each(|m| self.commit(m));
		}
	}

	/// Makes the summed moves, holds first. The items' checks make each of them possible;
	/// if one still fails, the whole batch is refused and nothing moves.
	pub(crate) fn finish(self) -> DispatchResult {
		for ((who, held), amount) in self.holds {
			hold_now::<T>(&who, held.reason(), amount)?;
		}
		let mut transfers = self.transfers;
		for (to, (from, held)) in self.openers {
			let key = (from, held, to);
			let amount = transfers.remove(&key).unwrap_or_default();
			transfer_now::<T>(&key.0, held.reason(), &key.2, amount)?;
		}
		for ((from, held, to), amount) in transfers {
			transfer_now::<T>(&from, held.reason(), &to, amount)?;
		}
		for ((who, held), amount) in self.slashes {
			slash_now::<T>(&who, held.reason(), amount);
		}
		for ((who, held), amount) in self.releases {
			release_now::<T>(&who, held.reason(), amount)?;
		}
		Ok(())
	}

	/// What `who` may still put on hold: its free balance above what `hold` keeps free,
	/// and above the existential deposit, less the finished items' holds and the current
	/// item's.
	fn holdable(&mut self, who: &T::AccountId) -> BalanceOf<T> {
		let free = *self.holdable.entry(who.clone()).or_insert_with(|| {
			let above_minimum =
				T::Currency::balance(who).saturating_sub(T::Currency::minimum_balance());
			T::Currency::reducible_balance(who, Preservation::Protect, Fortitude::Force)
				.min(above_minimum)
		});
		self.pending
			.iter()
			.filter(|m| m.adds_to_hold() && m.hold().0 == who)
			.fold(free, |free, m| free.saturating_sub(m.hold().2))
	}

	/// What `who` holds for `held` net of the finished items' moves and the current
	/// item's.
	fn available(&mut self, who: &T::AccountId, held: Held) -> BalanceOf<T> {
		let key = (who.clone(), held);
		let batch_held = self.holds.get(&key).copied().unwrap_or_default();
		let left = *self.left.entry(key).or_insert_with(|| {
			T::Currency::balance_on_hold(&held.reason().into(), who).saturating_add(batch_held)
		});
		self.pending.iter().filter(|m| m.hold().0 == who && m.hold().1 == held).fold(
			left,
			|left, m| {
				let amount = m.hold().2;
				if m.adds_to_hold() {
					left.saturating_add(amount)
				} else {
					left.saturating_sub(amount)
				}
			},
		)
	}

	/// Whether `to` may receive `amount`: reached already if a transfer to it in this
	/// batch passed the check (its opener), else checked as the balances pallet checks
	/// it.
	fn reach(&self, to: &T::AccountId, amount: BalanceOf<T>) -> Reach {
		let opened_by_this_item = || {
			self.pending
				.iter()
				.any(|m| matches!(m, Move::Transfer { to: t, opens: true, .. } if t == to))
		};
		if amount.is_zero() || self.openers.contains_key(to) || opened_by_this_item() {
			return Reach::Reached;
		}
		let consequence = T::Currency::can_deposit(to, amount, Provenance::Extant);
		Reach::Checked(consequence == DepositConsequence::Success)
	}

	/// Counts a finished item's move in what its account and hold have left and in its
	/// sum.
	fn commit(&mut self, m: MoveOf<T>) {
		let (who, held, amount) = m.hold();
		let key = (who.clone(), held);
		if m.adds_to_hold() {
			if let Some(free) = self.holdable.get_mut(who) {
				*free = free.saturating_sub(amount);
			}
			if let Some(left) = self.left.get_mut(&key) {
				*left = left.saturating_add(amount);
			}
		} else if let Some(left) = self.left.get_mut(&key) {
			*left = left.saturating_sub(amount);
		}
		let add = |sum: &mut BalanceOf<T>| *sum = sum.saturating_add(amount);
		match m {
			Move::Hold { who, held, .. } => add(self.holds.entry((who, held)).or_default()),
			Move::Transfer { from, held, to, opens, .. } => {
				if opens {
					self.openers.entry(to.clone()).or_insert_with(|| (from.clone(), held));
				}
				add(self.transfers.entry((from, held, to)).or_default())
			},
			Move::Release { who, held, .. } => add(self.releases.entry((who, held)).or_default()),
			Move::Slash { who, held, .. } => add(self.slashes.entry((who, held)).or_default()),
		}
	}
}

pub(crate) fn hold_now<T: Config>(
	who: &T::AccountId,
	hold: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::hold(&hold.into(), who, amount)
}

pub(crate) fn transfer_now<T: Config>(
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

pub(crate) fn release_now<T: Config>(
	who: &T::AccountId,
	hold: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::release(&hold.into(), who, amount, Precision::Exact).map(|_| ())
}

pub(crate) fn slash_now<T: Config>(who: &T::AccountId, hold: HoldReason, amount: BalanceOf<T>) {
	let (credit, _missing) = T::Currency::slash(&hold.into(), who, amount);
	T::OnFine::on_unbalanced(credit);
}
