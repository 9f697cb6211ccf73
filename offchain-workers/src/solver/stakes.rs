//! What a match puts at stake, restated from the pallet (`economics::match_minimums`,
//! `Pallet::mediation_window_for`) with the same arithmetic and rounding, so the solver
//! never proposes a match the chain refuses for its deposits or its mediator's speed.
//! The solver does not link the pallet (that would pull FRAME into every daemon); the
//! tests pin these figures to the pallet's own test values.

use super::{JobOfferView, MediatorView, ResourceOfferView};
use primitive_types::U256;
use serde::{Deserialize, Serialize};

/// θ's denominator: the chain keeps θ as a `FixedU128`, parts per 10^18.
pub const PENALTY_RATE_PARTS_PER_UNIT: u128 = 1_000_000_000_000_000_000;

/// The market parameters a match depends on, as the chain holds them now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRules {
	/// θ in parts per 10^18 (the `FixedU128`'s inner value).
	pub penalty_rate_parts: u128,
	/// n: how many times a mediator re-runs a disputed job.
	pub verification_count: u32,
	/// The mediation slack (ms) added to the mediator's n runs.
	pub mediation_slack_ms: u64,
	/// How far ahead (ms) a deadline, and so a mediation window, may reach.
	pub max_completion_horizon_ms: u64,
}

impl Default for MatchRules {
	/// The chain's defaults: θ = 50, n = 2, 30 min slack, a week's horizon.
	fn default() -> Self {
		MatchRules {
			penalty_rate_parts: 50 * PENALTY_RATE_PARTS_PER_UNIT,
			verification_count: 2,
			mediation_slack_ms: 30 * 60 * 1000,
			max_completion_horizon_ms: 7 * 24 * 60 * 60 * 1000,
		}
	}
}

/// `⌈value · θ⌉`, or `None` where the chain would overflow.
pub fn penalty(value: u128, penalty_rate_parts: u128) -> Option<u128> {
	let product = U256::from(value) * U256::from(penalty_rate_parts);
	let parts = U256::from(PENALTY_RATE_PARTS_PER_UNIT);
	let rounded_up = (product + parts - U256::one()) / parts;
	(rounded_up <= U256::from(u128::MAX)).then(|| rounded_up.as_u128())
}

/// `count` instructions at `time_per_instruction_ns`, in whole ms rounded up.
fn run_time_ms(time_per_instruction_ns: u64, count: u128) -> u128 {
	u128::from(time_per_instruction_ns).saturating_mul(count).div_ceil(1_000_000)
}

/// Whether the mediator can re-run the job n times within the horizon (the chain's
/// `MediatorTooSlow`).
pub fn mediator_fast_enough(
	rules: &MatchRules,
	time_per_instruction_ns: u64,
	instruction_limit: u64,
) -> bool {
	let runs = u128::from(instruction_limit).saturating_mul(rules.verification_count.into());
	run_time_ms(time_per_instruction_ns, runs).saturating_add(rules.mediation_slack_ms.into())
		<= u128::from(rules.max_completion_horizon_ms)
}

/// The JC's half of an availability price (it pays the odd unit).
pub fn job_creator_share(price: u128) -> u128 {
	price - price / 2
}

/// The terms of one prospective match that its stakes depend on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchTerms {
	/// The job's instruction limit.
	pub instruction_limit: u64,
	/// The job's bandwidth limit.
	pub bandwidth_limit: u64,
	/// The JC's maximum price per instruction.
	pub instruction_max_price: u128,
	/// The JC's maximum price per byte.
	pub bandwidth_max_price: u128,
	/// The RP's price per instruction.
	pub instruction_price: u128,
	/// The RP's price per byte.
	pub bandwidth_price: u128,
	/// The mediator's price per instruction of a re-run.
	pub mediator_instruction_price: u128,
	/// The mediator's price per byte of a re-run.
	pub mediator_bandwidth_price: u128,
	/// The mediator's availability price.
	pub mediator_availability: u128,
	/// The directory's availability price.
	pub directory_availability: u128,
	/// What the JC pays the solver.
	pub job_incentive: u128,
	/// What the RP pays the solver.
	pub resource_incentive: u128,
}

impl MatchTerms {
	/// The terms of `job` on `resource` with `mediator` and a directory charging
	/// `directory_availability`.
	pub fn of(
		job: &JobOfferView,
		resource: &ResourceOfferView,
		mediator: &MediatorView,
		directory_availability: u128,
	) -> Self {
		MatchTerms {
			instruction_limit: job.instruction_limit,
			bandwidth_limit: job.bandwidth_limit,
			instruction_max_price: job.instruction_max_price,
			bandwidth_max_price: job.bandwidth_max_price,
			instruction_price: resource.instruction_price,
			bandwidth_price: resource.bandwidth_price,
			mediator_instruction_price: mediator.instruction_price,
			mediator_bandwidth_price: mediator.bandwidth_price,
			mediator_availability: mediator.availability_price,
			directory_availability,
			job_incentive: job.match_incentive,
			resource_incentive: resource.match_incentive,
		}
	}
}

/// The job's limits at these prices, or `None` on overflow.
fn price_of(t: &MatchTerms, instruction_price: u128, bandwidth_price: u128) -> Option<u128> {
	instruction_price
		.checked_mul(t.instruction_limit.into())?
		.checked_add(bandwidth_price.checked_mul(t.bandwidth_limit.into())?)
}

/// The deposits (incentive included) a match on these terms needs from the JC and
/// the RP, or `None` where the chain's arithmetic would overflow (it refuses those).
pub fn match_minimums(rules: &MatchRules, t: &MatchTerms) -> Option<(u128, u128)> {
	let price =
		|instruction_price, bandwidth_price| price_of(t, instruction_price, bandwidth_price);
	let job_estimate = price(t.instruction_max_price, t.bandwidth_max_price)?;
	let provider_estimate = price(t.instruction_price, t.bandwidth_price)?;
	let fee_bound = price(t.mediator_instruction_price, t.mediator_bandwidth_price)?
		.checked_mul(rules.verification_count.into())?;
	let verdict = provider_estimate.checked_add(fee_bound)?;
	let (m, d) = (t.mediator_availability, t.directory_availability);
	let job_creator = verdict
		.max(job_estimate / 2)
		.checked_add(penalty(job_estimate, rules.penalty_rate_parts)?)?
		.checked_add(job_creator_share(m).checked_add(job_creator_share(d))?)?
		.checked_add(t.job_incentive)?;
	let resource_provider = verdict
		.max(job_estimate)
		.checked_add(penalty(provider_estimate, rules.penalty_rate_parts)?)?
		.checked_add((m / 2).checked_add(d / 2)?)?
		.checked_add(t.resource_incentive)?;
	Some((job_creator, resource_provider))
}

/// A floor under the JC's deposit in [`match_minimums`] for a job on these terms with
/// any resource offer and any mediator charging at least `mediator_availability`: the
/// same figure with the RP's and the mediator's prices at zero, since it only grows
/// with them. `None` where even the floor overflows, which the chain refuses.
pub fn job_creator_floor(rules: &MatchRules, job: &MatchTerms) -> Option<u128> {
	let unpriced = MatchTerms {
		instruction_price: 0,
		bandwidth_price: 0,
		mediator_instruction_price: 0,
		mediator_bandwidth_price: 0,
		resource_incentive: 0,
		..*job
	};
	match_minimums(rules, &unpriced).map(|(job_creator, _)| job_creator)
}

/// The most instructions a resource offer's deposit can stand behind at its instruction
/// price: for `L` instructions the RP's deposit in [`match_minimums`] is at least
/// `L·price·(1 + θ)` plus its incentive, whatever the job and the mediator, so any
/// larger job is refused. `None` when the deposit does not even cover the incentive.
pub fn most_instructions_covered(
	rules: &MatchRules,
	instruction_price: u128,
	deposit: u128,
	resource_incentive: u128,
) -> Option<u64> {
	let spare = deposit.checked_sub(resource_incentive)?;
	if instruction_price == 0 {
		return Some(u64::MAX);
	}
	let unit = U256::from(PENALTY_RATE_PARTS_PER_UNIT);
	// Both factors are below 2^129, so the product fits.
	let per_instruction = U256::from(instruction_price)
		.saturating_mul(unit.saturating_add(U256::from(rules.penalty_rate_parts)));
	let most = U256::from(spare).saturating_mul(unit) / per_instruction;
	Some(if most > U256::from(u64::MAX) { u64::MAX } else { most.as_u64() })
}

/// The dearest instruction price a job on these terms can pay with `job_deposit`, or
/// `None` when the deposit is below [`job_creator_floor`] and no match can take it. The
/// JC's deposit in [`match_minimums`] is at least the RP's price for the job's
/// instructions (the verdict part) plus the floor's other parts.
pub fn dearest_instruction_price_covered(
	rules: &MatchRules,
	job: &MatchTerms,
	job_deposit: u128,
) -> Option<u128> {
	let floor = job_creator_floor(rules, job)?;
	if job_deposit < floor {
		return None;
	}
	// The floor's verdict-or-half part, which the verdict replaces when larger.
	let half_estimate = price_of(job, job.instruction_max_price, job.bandwidth_max_price)? / 2;
	let spare = job_deposit.saturating_sub(floor.saturating_sub(half_estimate));
	Some(spare.checked_div(u128::from(job.instruction_limit)).unwrap_or(u128::MAX))
}
