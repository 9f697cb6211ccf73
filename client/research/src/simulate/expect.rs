//! What each pairing of types should earn, two ways:
//! - the **spec model**: the probability tree of the pairing's plays (what is run, checked,
//!   disputed and how the mediator rules) with each leaf's money from the pallet's own
//!   close-path rules (`economics::settle`); the simulation must match it within noise, which
//!   checks that the pallet moves money as the spec says;
//! - the **paper**: Tables 2 and 3 mixed with the same plays, for the types the paper's game
//!   covers (it has no silent RP and no JC that disputes without checking).

use pallet_compute_market::economics::{settle, Ending, Ledger, Recipient};
use pallet_compute_market::FaultyParty;
use serde::{Deserialize, Serialize};

use super::agents::{JcPlay, RpPlay};
use crate::model::{jc_payoffs, rp_payoffs, Inputs, Payoffs};

/// The money of one job, in planck, as the chain sets it for the run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobMoney {
	/// π_c = π̂_c: the job's price (every run uses its whole instruction limit).
	pub price: u128,
	/// The JC's deposit (eq. 2's minimum).
	pub jc_deposit: u128,
	/// The RP's deposit (eq. 2's minimum).
	pub rp_deposit: u128,
	/// Each side's match incentive, paid to the solver when matched.
	pub match_incentive: u128,
	/// The mediator's availability price.
	pub mediator_availability: u128,
	/// The directory's availability price.
	pub directory_availability: u128,
	/// π_m: the mediator's fee for n runs.
	pub mediation_fee: u128,
	/// The directory's bond (pays only when the directory is at fault).
	pub directory_bond: u128,
	/// Planck per currency unit.
	pub unit: u128,
}

impl JobMoney {
	/// π_a of the JC: its match incentive and its halves of the availability prices.
	pub fn jc_availability(&self) -> u128 {
		use pallet_compute_market::economics::job_creator_share as share;
		self.match_incentive
			+ share(self.mediator_availability)
			+ share(self.directory_availability)
	}

	/// π_a of the RP.
	pub fn rp_availability(&self) -> u128 {
		use pallet_compute_market::economics::resource_provider_share as share;
		self.match_incentive
			+ share(self.mediator_availability)
			+ share(self.directory_availability)
	}

	fn in_units(&self, planck: i128) -> f64 {
		planck as f64 / self.unit as f64
	}

	/// (JC money, RP money, fine) of a close, in units.
	fn close(&self, ending: Ending) -> (f64, f64, f64) {
		let ledger = Ledger {
			job_creator_deposit: self.jc_deposit - self.match_incentive,
			resource_provider_deposit: self.rp_deposit - self.match_incentive,
			directory_bond: self.directory_bond,
			job_price: self.price,
			job_creator_estimate: self.price,
			mediator_availability: self.mediator_availability,
			directory_availability: self.directory_availability,
		};
		let s = settle(&ledger, ending);
		let jc = (s.paid_to(Recipient::JobCreator) + s.job_creator_refund) as i128
			- self.jc_deposit as i128;
		let rp = (s.paid_to(Recipient::ResourceProvider) + s.resource_provider_refund) as i128
			- self.rp_deposit as i128;
		(self.in_units(jc), self.in_units(rp), self.in_units(s.fine as i128))
	}
}

/// Off-chain costs and benefit, in currency units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Costs {
	/// b: the JC's benefit from a run job.
	pub b: f64,
	/// c_e: the RP's cost of running the job.
	pub c_e: f64,
	/// c_d: the RP's cost of forging a result.
	pub c_d: f64,
	/// c_v: the JC's cost of checking a result.
	pub c_v: f64,
}

/// Expected figures of one job of a pairing (probabilities and currency units).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
	/// The JC's utility.
	pub jc_utility: f64,
	/// The RP's utility.
	pub rp_utility: f64,
	/// The chance the job goes to mediation.
	pub mediation: f64,
	/// The chance the JC disputes an honestly run result.
	pub jc_cheat: f64,
	/// The chance it does so and is found at fault.
	pub jc_caught: f64,
	/// The chance the RP forges or stays silent.
	pub rp_cheat: f64,
	/// The chance it does so and is found at fault (or pays the timeout).
	pub rp_caught: f64,
	/// The fine taken from the JC.
	pub jc_fine: f64,
	/// The fine taken from the RP.
	pub rp_fine: f64,
}

impl Expectation {
	/// Adds `other`, weighted by `weight`.
	pub fn add(&mut self, weight: f64, other: &Expectation) {
		self.jc_utility += weight * other.jc_utility;
		self.rp_utility += weight * other.rp_utility;
		self.mediation += weight * other.mediation;
		self.jc_cheat += weight * other.jc_cheat;
		self.jc_caught += weight * other.jc_caught;
		self.rp_cheat += weight * other.rp_cheat;
		self.rp_caught += weight * other.rp_caught;
		self.jc_fine += weight * other.jc_fine;
		self.rp_fine += weight * other.rp_fine;
	}
}

/// The spec model's expectation for one job of the pairing.
pub fn spec_expectation(
	jc: JcPlay,
	rp: RpPlay,
	n: u32,
	money: &JobMoney,
	costs: &Costs,
) -> Expectation {
	if rp.silent {
		let (jc_money, rp_money, _) = money.close(Ending::TimedOut);
		return Expectation {
			jc_utility: jc_money,
			rp_utility: rp_money,
			rp_cheat: 1.0,
			rp_caught: 1.0,
			..Default::default()
		};
	}
	let p = jc.p_a.clamp(0.0, 1.0);
	let nf = n as f64;
	let all_normal = p.powf(nf);
	let all_abnormal = (1.0 - p).powf(nf);
	let fee = money.mediation_fee;
	let mediated = |faulty| {
		money.close(Ending::Mediated { faulty, compensation: money.price, mediation_fee: fee })
	};
	let accepted = money.close(Ending::Accepted);
	let rp_faulty = mediated(FaultyParty::ResourceProvider);
	let jc_faulty = mediated(FaultyParty::JobCreator);
	let p_e = rp.p_e.clamp(0.0, 1.0);
	// (weight, RP ran it, chance the mediator blames the RP if disputed): the mediator
	// blames the RP when all its runs agree on an output other than the posted one.
	let leaves = [
		(p_e * p, true, all_abnormal),
		(p_e * (1.0 - p), true, all_normal),
		(1.0 - p_e, false, all_normal + all_abnormal),
	];
	let mut total = Expectation::default();
	for (index, (weight, ran, blame_rp)) in leaves.into_iter().enumerate() {
		if weight <= 0.0 {
			continue;
		}
		let normal_output = index == 0;
		let benefit = if ran { costs.b } else { 0.0 };
		let rp_cost = if ran { costs.c_e } else { costs.c_d };
		let (check, dispute) = if jc.silent {
			(0.0, 0.0)
		} else if jc.rejects_always {
			(0.0, 1.0)
		} else {
			let check = jc.p_v.clamp(0.0, 1.0);
			(check, if normal_output { 0.0 } else { check })
		};
		let leaf = Expectation {
			jc_utility: benefit - check * costs.c_v
				+ (1.0 - dispute) * accepted.0
				+ dispute * (blame_rp * rp_faulty.0 + (1.0 - blame_rp) * jc_faulty.0),
			rp_utility: -rp_cost
				+ (1.0 - dispute) * accepted.1
				+ dispute * (blame_rp * rp_faulty.1 + (1.0 - blame_rp) * jc_faulty.1),
			mediation: dispute,
			jc_cheat: if ran { dispute } else { 0.0 },
			jc_caught: if ran { dispute * (1.0 - blame_rp) } else { 0.0 },
			rp_cheat: if ran { 0.0 } else { 1.0 },
			rp_caught: if ran { 0.0 } else { dispute * blame_rp },
			jc_fine: dispute * (1.0 - blame_rp) * jc_faulty.2,
			rp_fine: dispute * blame_rp * rp_faulty.2,
		};
		total.add(weight, &leaf);
	}
	total
}

/// The paper's expected utilities (JC, RP) for the pairing, from Tables 2 and 3 mixed with
/// the plays; `None` for plays outside the paper's game.
pub fn paper_expectation(
	jc: JcPlay,
	rp: RpPlay,
	base: &Inputs,
	money: &JobMoney,
) -> Option<(f64, f64)> {
	if rp.silent || jc.rejects_always {
		return None;
	}
	let unit = money.unit as f64;
	let p_v = if jc.silent { 0.0 } else { jc.p_v };
	let mix = |cells: Payoffs| {
		p_v * (rp.p_e * cells.ev + (1.0 - rp.p_e) * cells.dv)
			+ (1.0 - p_v) * (rp.p_e * cells.ep + (1.0 - rp.p_e) * cells.dp)
	};
	let jc_inputs = Inputs { pi_a: money.jc_availability() as f64 / unit, ..*base };
	let rp_inputs = Inputs { pi_a: money.rp_availability() as f64 / unit, ..*base };
	Some((mix(jc_payoffs(&jc_inputs, jc.p_a)), mix(rp_payoffs(&rp_inputs, jc.p_a))))
}
