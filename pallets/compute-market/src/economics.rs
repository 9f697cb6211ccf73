//! The market's money rules as pure functions over `u128`: prices (eq. 1), minimum
//! deposits (eq. 2) and the split of every close path. The pallet moves funds with
//! exactly these numbers and the research tools analyse the very same functions.

use crate::types::FaultyParty;
use alloc::vec::Vec;
use sp_arithmetic::{
	helpers_128bit::multiply_by_rational_with_rounding, per_things::Rounding, FixedPointNumber,
	FixedU128,
};

/// A computation exceeded `u128`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Overflow;

/// π_c (eq. 1): `instructions · instruction_price + bandwidth · bandwidth_price`.
/// Also gives π̂_c when fed an offer's limits (or caps) and its prices.
pub fn job_price(
	instructions: u64,
	instruction_price: u128,
	bandwidth: u64,
	bandwidth_price: u128,
) -> Result<u128, Overflow> {
	let compute = (instructions as u128).checked_mul(instruction_price).ok_or(Overflow)?;
	let transfer = (bandwidth as u128).checked_mul(bandwidth_price).ok_or(Overflow)?;
	compute.checked_add(transfer).ok_or(Overflow)
}

/// `θ · value`, rounded up so a deposit never falls short by a fraction.
pub fn penalty(value: u128, penalty_rate: FixedU128) -> Result<u128, Overflow> {
	multiply_by_rational_with_rounding(
		value,
		penalty_rate.into_inner(),
		FixedU128::DIV,
		Rounding::Up,
	)
	.ok_or(Overflow)
}

/// d_min (eq. 2): `π̂_c · θ + π̂_c · n + π_a`.
pub fn minimum_deposit(
	estimate: u128,
	penalty_rate: FixedU128,
	verification_count: u32,
	availability: u128,
) -> Result<u128, Overflow> {
	let mediation = estimate.checked_mul(verification_count as u128).ok_or(Overflow)?;
	penalty(estimate, penalty_rate)?
		.checked_add(mediation)
		.and_then(|sum| sum.checked_add(availability))
		.ok_or(Overflow)
}

/// The Job Creator's half of an availability price (it takes the odd unit).
pub fn job_creator_share(price: u128) -> u128 {
	price - resource_provider_share(price)
}

/// The Resource Provider's half of an availability price.
pub fn resource_provider_share(price: u128) -> u128 {
	price / 2
}

/// π_a for one side: its match incentive plus its halves of the mediator's and the
/// directory's availability prices.
pub fn availability_charge(
	match_incentive: u128,
	share_of_mediator: u128,
	share_of_directory: u128,
) -> Result<u128, Overflow> {
	match_incentive
		.checked_add(share_of_mediator)
		.and_then(|sum| sum.checked_add(share_of_directory))
		.ok_or(Overflow)
}

/// π_m: the mediator's own prices for its measured usage, times the n runs.
pub fn mediation_fee(
	verification_count: u32,
	instructions: u64,
	instruction_price: u128,
	bandwidth: u64,
	bandwidth_price: u128,
) -> Result<u128, Overflow> {
	job_price(instructions, instruction_price, bandwidth, bandwidth_price)?
		.checked_mul(verification_count as u128)
		.ok_or(Overflow)
}

/// What a match's terms put at stake, known when it is made.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct MatchStakes {
	/// π̂_c: the job's limits at the JC's maximum prices (what a timeout pays the JC).
	pub job_estimate: u128,
	/// The most the RP can be paid: the job's limits at the RP's prices (bounds π_c
	/// and π_d).
	pub provider_estimate: u128,
	/// The most π_m can be: n runs of the job's limits at the mediator's prices.
	pub mediation_fee_bound: u128,
	/// θ, as snapshotted into the match.
	pub penalty_rate: FixedU128,
	/// The JC's halves of the mediator's and the directory's availability prices.
	pub job_creator_availability: u128,
	/// The RP's halves of the mediator's and the directory's availability prices.
	pub resource_provider_availability: u128,
}

/// The least deposit (after its match incentive) each side must hold for a match so
/// that no close path of the match can run it short, and a faulty side still forfeits
/// at least θ times its own value for this job.
///
/// - JC: its availability halves, plus the dearest of "pay π_c, or π_d and π_m at a
///   verdict" (≤ provider estimate + fee bound) and "pay π̂_c / 2 when mediation
///   fails", plus θ · π̂_c as the fine.
/// - RP: its availability halves, plus the dearest of "pay π̂_c at a timeout" and
///   "pay π_d and π_m at a verdict", plus θ · (its own estimate) as the fine.
pub fn match_minimums(stakes: &MatchStakes) -> Result<(u128, u128), Overflow> {
	let verdict =
		stakes.provider_estimate.checked_add(stakes.mediation_fee_bound).ok_or(Overflow)?;
	let job_creator = verdict
		.max(stakes.job_estimate / 2)
		.checked_add(penalty(stakes.job_estimate, stakes.penalty_rate)?)
		.and_then(|sum| sum.checked_add(stakes.job_creator_availability))
		.ok_or(Overflow)?;
	let resource_provider = verdict
		.max(stakes.job_estimate)
		.checked_add(penalty(stakes.provider_estimate, stakes.penalty_rate)?)
		.and_then(|sum| sum.checked_add(stakes.resource_provider_availability))
		.ok_or(Overflow)?;
	Ok((job_creator, resource_provider))
}

/// The most a directory's bond pays in one match when the mediator finds it at
/// fault: eq. 2 on its own availability price (`price · θ + price · n`). It depends
/// only on the directory's own terms and the match's θ and n, never on a price the
/// mediator chose.
pub fn directory_liability(
	availability_price: u128,
	penalty_rate: FixedU128,
	verification_count: u32,
) -> Result<u128, Overflow> {
	minimum_deposit(availability_price, penalty_rate, verification_count, 0)
}

/// Whose held funds a payment comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
	/// The JC's offer deposit.
	JobCreator,
	/// The RP's offer deposit.
	ResourceProvider,
	/// The directory's registration bond.
	DirectoryBond,
}

/// Who receives a payment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Recipient {
	/// The Job Creator.
	JobCreator,
	/// The Resource Provider.
	ResourceProvider,
	/// The mediator.
	Mediator,
	/// The directory.
	Directory,
}

/// One movement of held funds to a party's free balance.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Payment {
	/// Whose held funds pay.
	pub from: Source,
	/// Who is paid.
	pub to: Recipient,
	/// How much.
	pub amount: u128,
	/// Why.
	pub reason: crate::types::PaymentReason,
}

/// What a match holds and owes when it closes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Ledger {
	/// The JC's remaining deposit.
	pub job_creator_deposit: u128,
	/// The RP's remaining deposit.
	pub resource_provider_deposit: u128,
	/// What the directory's bond may pay in this match (its liability, within what it
	/// still holds); pays only when the directory is at fault.
	pub directory_bond: u128,
	/// π_c at the RP's prices for the usage it posted.
	pub job_price: u128,
	/// π̂_c, the JC's estimate from its limits and maximum prices.
	pub job_creator_estimate: u128,
	/// The mediator's availability price.
	pub mediator_availability: u128,
	/// The directory's availability price.
	pub directory_availability: u128,
}

/// How a match ends, with what a verdict adds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ending {
	/// Accepted by either side: the normal close.
	Accepted,
	/// The RP never posted a result.
	TimedOut,
	/// A mediator ruled.
	Mediated {
		/// Who it found at fault.
		faulty: FaultyParty,
		/// π_d: the job's price owed to the wronged party.
		compensation: u128,
		/// π_m: the mediator's fee for its n runs.
		mediation_fee: u128,
	},
	/// The mediation deadline passed without a verdict.
	MediationFailed,
}

/// A payment that its source could not make in full.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Shortfall {
	/// Who got less.
	pub to: Recipient,
	/// What the rules owed it.
	pub owed: u128,
	/// What it got.
	pub paid: u128,
	/// Which payment.
	pub reason: crate::types::PaymentReason,
}

/// Every payment and fine of a close, and what returns to whom.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Settlement {
	/// Payments, in the order they are made.
	pub payments: Vec<Payment>,
	/// The fine taken from the faulty side's deposit (0 if none).
	pub fine: u128,
	/// Which side's deposit the fine came from.
	pub fined: Option<Source>,
	/// What returns to the JC.
	pub job_creator_refund: u128,
	/// What returns to the RP.
	pub resource_provider_refund: u128,
	/// What the directory's bond paid.
	pub directory_bond_spent: u128,
	/// Payments made short because their source ran dry (never silent: the pallet
	/// announces each).
	pub shortfalls: Vec<Shortfall>,
}

impl Settlement {
	/// Sum of all payments.
	pub fn paid(&self) -> u128 {
		self.payments.iter().fold(0u128, |sum, p| sum.saturating_add(p.amount))
	}

	/// Sum of the payments made to `to`.
	pub fn paid_to(&self, to: Recipient) -> u128 {
		self.payments
			.iter()
			.filter(|p| p.to == to)
			.fold(0u128, |sum, p| sum.saturating_add(p.amount))
	}
}

/// Pays out of three pots, each payment capped by what its pot still holds, so the
/// result conserves funds by construction: every unit ends paid, fined or refunded.
struct Payer {
	pots: [u128; 3],
	settlement: Settlement,
}

impl Payer {
	fn new(ledger: &Ledger) -> Self {
		Self {
			pots: [
				ledger.job_creator_deposit,
				ledger.resource_provider_deposit,
				ledger.directory_bond,
			],
			settlement: Settlement::default(),
		}
	}

	fn pot(&mut self, from: Source) -> &mut u128 {
		match from {
			Source::JobCreator => &mut self.pots[0],
			Source::ResourceProvider => &mut self.pots[1],
			Source::DirectoryBond => &mut self.pots[2],
		}
	}

	fn pay(
		&mut self,
		from: Source,
		to: Recipient,
		wanted: u128,
		reason: crate::types::PaymentReason,
	) {
		let pot = self.pot(from);
		let amount = wanted.min(*pot);
		*pot -= amount;
		if amount > 0 {
			self.settlement.payments.push(Payment { from, to, amount, reason });
		}
		if amount < wanted {
			self.settlement.shortfalls.push(Shortfall { to, owed: wanted, paid: amount, reason });
		}
	}

	fn availability(&mut self, ledger: &Ledger, mediator_paid: bool, directory_paid: bool) {
		use crate::types::PaymentReason::{DirectoryAvailability, MediatorAvailability};
		if mediator_paid {
			let price = ledger.mediator_availability;
			self.pay(
				Source::JobCreator,
				Recipient::Mediator,
				job_creator_share(price),
				MediatorAvailability,
			);
			self.pay(
				Source::ResourceProvider,
				Recipient::Mediator,
				resource_provider_share(price),
				MediatorAvailability,
			);
		}
		if directory_paid {
			let price = ledger.directory_availability;
			self.pay(
				Source::JobCreator,
				Recipient::Directory,
				job_creator_share(price),
				DirectoryAvailability,
			);
			self.pay(
				Source::ResourceProvider,
				Recipient::Directory,
				resource_provider_share(price),
				DirectoryAvailability,
			);
		}
	}

	fn fine(&mut self, from: Source) {
		let pot = self.pot(from);
		let fine = *pot;
		*pot = 0;
		self.settlement.fine = fine;
		self.settlement.fined = Some(from);
	}

	fn finish(mut self, ledger: &Ledger) -> Settlement {
		self.settlement.job_creator_refund = self.pots[0];
		self.settlement.resource_provider_refund = self.pots[1];
		self.settlement.directory_bond_spent = ledger.directory_bond - self.pots[2];
		self.settlement
	}
}

/// The payments of one close path (PROTOCOL.md, "Deposits, payments and fines").
///
/// Payments are capped by what the paying deposit holds; in the order made, the wronged
/// party's compensation comes first, then the mediator's fee, then availability, so a
/// short deposit shortchanges the platform before the victim. Deposits that passed
/// [`match_minimums`] never run short; a directory's bond may (its liability is
/// bounded), and every short payment is listed in [`Settlement::shortfalls`].
pub fn settle(ledger: &Ledger, ending: Ending) -> Settlement {
	use crate::types::PaymentReason::*;
	let mut payer = Payer::new(ledger);
	match ending {
		Ending::Accepted => {
			payer.pay(
				Source::JobCreator,
				Recipient::ResourceProvider,
				ledger.job_price,
				JobPayment,
			);
			payer.availability(ledger, true, true);
		},
		Ending::TimedOut => {
			payer.pay(
				Source::ResourceProvider,
				Recipient::JobCreator,
				ledger.job_creator_estimate,
				TimeoutCompensation,
			);
			payer.availability(ledger, true, true);
		},
		Ending::MediationFailed => {
			payer.pay(
				Source::JobCreator,
				Recipient::ResourceProvider,
				ledger.job_creator_estimate / 2,
				MediationFailedPayment,
			);
			payer.availability(ledger, false, true);
		},
		Ending::Mediated { faulty, compensation, mediation_fee } => match faulty {
			FaultyParty::JobCreator => {
				payer.pay(
					Source::JobCreator,
					Recipient::ResourceProvider,
					compensation,
					Compensation,
				);
				payer.pay(Source::JobCreator, Recipient::Mediator, mediation_fee, MediationFee);
				payer.availability(ledger, true, true);
				payer.fine(Source::JobCreator);
			},
			FaultyParty::ResourceProvider => {
				payer.pay(
					Source::ResourceProvider,
					Recipient::JobCreator,
					compensation,
					Compensation,
				);
				payer.pay(
					Source::ResourceProvider,
					Recipient::Mediator,
					mediation_fee,
					MediationFee,
				);
				payer.availability(ledger, true, true);
				payer.fine(Source::ResourceProvider);
			},
			FaultyParty::Directory => {
				payer.pay(Source::DirectoryBond, Recipient::Mediator, mediation_fee, MediationFee);
				payer.availability(ledger, true, false);
			},
		},
	}
	payer.finish(ledger)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn ledger() -> Ledger {
		Ledger {
			job_creator_deposit: 10_000,
			resource_provider_deposit: 8_000,
			directory_bond: 500,
			job_price: 100,
			job_creator_estimate: 150,
			mediator_availability: 7,
			directory_availability: 5,
		}
	}

	fn conserved(l: &Ledger, s: &Settlement) -> bool {
		l.job_creator_deposit + l.resource_provider_deposit + s.directory_bond_spent
			== s.paid() + s.fine + s.job_creator_refund + s.resource_provider_refund
	}

	#[test]
	fn prices_follow_equation_one() {
		assert_eq!(job_price(10, 3, 100, 2), Ok(230));
		assert_eq!(job_price(u64::MAX, u128::MAX, 0, 0), Err(Overflow));
	}

	#[test]
	fn minimum_deposit_follows_equation_two() {
		// 100 · 50 + 100 · 2 + 9
		assert_eq!(minimum_deposit(100, FixedU128::from_u32(50), 2, 9), Ok(5209));
		// θ = 0.5 of 3 is 1.5, rounded up to 2.
		assert_eq!(minimum_deposit(3, FixedU128::from_rational(1, 2), 1, 0), Ok(5));
		assert_eq!(minimum_deposit(u128::MAX, FixedU128::from_u32(2), 1, 0), Err(Overflow));
	}

	#[test]
	fn shares_add_up_to_the_price() {
		for price in [0u128, 1, 2, 7, u128::MAX] {
			assert_eq!(job_creator_share(price) + resource_provider_share(price), price);
		}
		assert_eq!((job_creator_share(7), resource_provider_share(7)), (4, 3));
	}

	#[test]
	fn accepted_pays_price_and_availability() {
		let l = ledger();
		let s = settle(&l, Ending::Accepted);
		assert_eq!(s.paid_to(Recipient::ResourceProvider), 100);
		assert_eq!(s.paid_to(Recipient::Mediator), 7);
		assert_eq!(s.paid_to(Recipient::Directory), 5);
		assert_eq!(s.job_creator_refund, 10_000 - 100 - 4 - 3);
		assert_eq!(s.resource_provider_refund, 8_000 - 3 - 2);
		assert_eq!(s.fine, 0);
		assert!(conserved(&l, &s));
	}

	#[test]
	fn timeout_pays_the_estimate_to_the_job_creator() {
		let l = ledger();
		let s = settle(&l, Ending::TimedOut);
		assert_eq!(s.paid_to(Recipient::JobCreator), 150);
		assert_eq!(s.resource_provider_refund, 8_000 - 150 - 3 - 2);
		assert!(conserved(&l, &s));
	}

	#[test]
	fn failed_mediation_pays_half_the_estimate_and_not_the_mediator() {
		let l = ledger();
		let s = settle(&l, Ending::MediationFailed);
		assert_eq!(s.paid_to(Recipient::ResourceProvider), 75);
		assert_eq!(s.paid_to(Recipient::Mediator), 0);
		assert_eq!(s.paid_to(Recipient::Directory), 5);
		assert!(conserved(&l, &s));
	}

	#[test]
	fn faulty_side_pays_compensation_fee_and_fine() {
		let l = ledger();
		let ending = Ending::Mediated {
			faulty: FaultyParty::ResourceProvider,
			compensation: 90,
			mediation_fee: 40,
		};
		let s = settle(&l, ending);
		assert_eq!(s.paid_to(Recipient::JobCreator), 90);
		assert_eq!(s.paid_to(Recipient::Mediator), 40 + 7);
		assert_eq!(s.fined, Some(Source::ResourceProvider));
		assert_eq!(s.fine, 8_000 - 90 - 40 - 3 - 2);
		assert_eq!(s.job_creator_refund, 10_000 - 4 - 3);
		assert_eq!(s.resource_provider_refund, 0);
		assert!(conserved(&l, &s));
	}

	#[test]
	fn faulty_directory_pays_the_mediator_from_its_bond() {
		let l = ledger();
		let ending =
			Ending::Mediated { faulty: FaultyParty::Directory, compensation: 0, mediation_fee: 40 };
		let s = settle(&l, ending);
		assert_eq!(s.directory_bond_spent, 40);
		assert_eq!(s.paid_to(Recipient::Directory), 0);
		assert_eq!(s.paid_to(Recipient::Mediator), 47);
		assert_eq!(s.fine, 0);
		assert!(conserved(&l, &s));
	}

	#[test]
	fn match_minimums_cover_every_close_path() {
		let stakes = MatchStakes {
			job_estimate: 1_000,
			provider_estimate: 400,
			mediation_fee_bound: 300,
			penalty_rate: FixedU128::from_u32(2),
			job_creator_availability: 5,
			resource_provider_availability: 4,
		};
		let (jc, rp) = match_minimums(&stakes).unwrap();
		// JC: max(400 + 300, 500) + 2 · 1000 + 5; RP: max(700, 1000) + 2 · 400 + 4.
		assert_eq!((jc, rp), (2_705, 1_804));
		// An RP at price 0 still owes the JC's whole estimate at a timeout.
		let free = MatchStakes { provider_estimate: 0, mediation_fee_bound: 0, ..stakes };
		assert_eq!(match_minimums(&free).unwrap().1, 1_000 + 4);
		let huge = MatchStakes { job_estimate: u128::MAX, ..stakes };
		assert_eq!(match_minimums(&huge), Err(Overflow));
	}

	#[test]
	fn a_directorys_liability_follows_its_own_price() {
		assert_eq!(directory_liability(10, FixedU128::from_u32(50), 2), Ok(520));
		assert_eq!(directory_liability(0, FixedU128::from_u32(50), 2), Ok(0));
	}

	#[test]
	fn short_payments_are_listed() {
		let l = Ledger { resource_provider_deposit: 100, ..ledger() };
		let s = settle(&l, Ending::TimedOut);
		assert_eq!(s.paid_to(Recipient::JobCreator), 100);
		assert_eq!(s.shortfalls.len(), 3);
		assert_eq!(
			s.shortfalls[0],
			Shortfall {
				to: Recipient::JobCreator,
				owed: 150,
				paid: 100,
				reason: crate::types::PaymentReason::TimeoutCompensation
			}
		);
		assert!(conserved(&l, &s));
		assert!(settle(&ledger(), Ending::TimedOut).shortfalls.is_empty());
	}

	#[test]
	fn short_deposits_cap_payments_in_priority_order() {
		let l = Ledger { resource_provider_deposit: 95, ..ledger() };
		let ending = Ending::Mediated {
			faulty: FaultyParty::ResourceProvider,
			compensation: 90,
			mediation_fee: 40,
		};
		let s = settle(&l, ending);
		assert_eq!(s.paid_to(Recipient::JobCreator), 90);
		assert_eq!(s.paid_to(Recipient::Mediator), 5 + 4);
		assert!(conserved(&l, &s));
	}
}
