//! `modicum research simulate`: thousands of jobs between agents of every BAR type
//! (Byzantine, Altruistic, Rational) against the real compute-market pallet in test
//! externalities, with the analysis' predictions beside what happened.
//!
//! Each job pairs a random JC with a random RP; the JC and RP play their type (see
//! [`agents`]), a solver matches, one honest mediator rules by the spec's rules on the runs
//! it makes, and the books are checked after every job: balances plus burnt fines equal the
//! endowments, total issuance fell by exactly the fines, and the pallet's `try_state` holds.
//! The report ([`report`]) gives per type the mean utility, the share of cheating caught, the
//! mediation rate and the fines, each beside its expectation, and tests the claims.

pub mod adversaries;
pub mod agents;
pub mod engine;
pub mod expect;
pub mod replicated;
pub mod report;
pub mod runtime;
pub mod spot_checked;
pub mod stats;
pub mod sybil;
#[cfg(test)]
mod tests;

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::analysis::analyze;
use crate::model::Inputs;
pub use agents::{JcKind, RpKind, Strategies};
pub use engine::JobRecord;
pub use report::{sweep, write_report, SweepPoint};
pub use stats::{Claims, SimSummary, TypeStats};

/// How many agents of each type take part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Population {
	/// Job Creators per type.
	pub jcs_per_type: usize,
	/// Resource Providers per type.
	pub rps_per_type: usize,
}

impl Default for Population {
	fn default() -> Self {
		Self { jcs_per_type: 3, rps_per_type: 3 }
	}
}

impl Population {
	/// The JC agents' types, by agent index.
	pub fn jcs(&self) -> Vec<JcKind> {
		JcKind::ALL.iter().flat_map(|k| std::iter::repeat_n(*k, self.jcs_per_type)).collect()
	}

	/// The RP agents' types, by agent index.
	pub fn rps(&self) -> Vec<RpKind> {
		RpKind::ALL.iter().flat_map(|k| std::iter::repeat_n(*k, self.rps_per_type)).collect()
	}
}

/// One simulation run's settings. Amounts are in currency units (π_c's unit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
	/// Jobs to run.
	pub jobs: usize,
	/// Seed of the random choices; the same seed gives the same run.
	pub seed: u64,
	/// θ, the chain's penalty rate.
	pub theta: f64,
	/// n, the mediator's re-runs.
	pub n: u32,
	/// π_c: every job's price.
	pub pi_c: f64,
	/// b: a JC's benefit from a run job.
	pub b: f64,
	/// c_e: an RP's cost of running a job.
	pub c_e: f64,
	/// c_d: an RP's cost of forging a result.
	pub c_d: f64,
	/// c_v: a JC's cost of checking a result.
	pub c_v: f64,
	/// Each side's match incentive to the solver.
	pub match_incentive: f64,
	/// The mediator's availability price.
	pub mediator_availability: f64,
	/// The directory's availability price.
	pub directory_availability: f64,
	/// p_a of a byzantine non-deterministic JC's job.
	pub byzantine_p_a: f64,
	/// Agents per type.
	pub population: Population,
	/// Rounds each hostile agent (self-dealer, griefer) plays after the jobs.
	pub adversary_rounds: usize,
	/// An altruistic RP's determinism probe: it runs each job this many more times and
	/// declines (posting `Declined`, free for the JC) when the runs differ, since no
	/// mediator can rule on such a job (0: no probe).
	pub probe_runs: u32,
}

impl Default for SimConfig {
	/// The chain's defaults (n = 2, θ = 50), the paper's π_c = 2, b = 4, c_v = 1, and an RP
	/// whose honest work pays (c_e = 1 < π_c) while forging costs almost nothing (c_d = 0.1).
	fn default() -> Self {
		Self {
			jobs: 5_000,
			seed: 3,
			theta: 50.0,
			n: 2,
			pi_c: 2.0,
			b: 4.0,
			c_e: 1.0,
			c_d: 0.1,
			c_v: 1.0,
			match_incentive: 0.01,
			mediator_availability: 0.02,
			directory_availability: 0.02,
			byzantine_p_a: 0.5,
			population: Population::default(),
			adversary_rounds: 20,
			probe_runs: 0,
		}
	}
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
	/// The settings are outside what the model or the chain accepts.
	#[error("invalid simulation settings: {0}")]
	InvalidConfig(String),
	/// Building the genesis state failed.
	#[error("cannot build the genesis state: {0}")]
	Genesis(String),
	/// The pallet refused a call the protocol allows: a bug in the pallet or the driver.
	#[error("job {job}: {call} was refused: {error}")]
	Dispatch {
		/// The job's index.
		job: usize,
		/// The refused call.
		call: &'static str,
		/// The pallet's error.
		error: String,
	},
	/// Balances and fines do not add up.
	#[error(
		"job {job}: funds not conserved: accounts hold {accounts}, fines {fined}, issuance \
		 {issuance}, endowments {expected}"
	)]
	FundsNotConserved {
		/// The job after which the check failed.
		job: usize,
		/// What all accounts hold.
		accounts: u128,
		/// Fines reported so far.
		fined: u128,
		/// Total issuance.
		issuance: u128,
		/// The endowments' total.
		expected: u128,
	},
	/// The pallet's `try_state` invariants failed.
	#[error("job {job}: pallet invariant broken: {error}")]
	Invariant {
		/// The job after which the check failed.
		job: usize,
		/// What broke.
		error: String,
	},
}

impl SimConfig {
	/// Checks the settings.
	pub fn validate(&self) -> Result<(), SimError> {
		let bad = |what: &str| Err(SimError::InvalidConfig(what.to_string()));
		if self.jobs == 0 {
			return bad("jobs must be at least 1");
		}
		if self.n == 0 || self.n > 64 {
			return bad("n must be between 1 and 64");
		}
		let amounts = [
			("theta", self.theta),
			("pi_c", self.pi_c),
			("b", self.b),
			("c_e", self.c_e),
			("c_d", self.c_d),
			("c_v", self.c_v),
			("match_incentive", self.match_incentive),
			("mediator_availability", self.mediator_availability),
			("directory_availability", self.directory_availability),
		];
		for (name, value) in amounts {
			if !(0.0..=1e6).contains(&value) {
				return Err(SimError::InvalidConfig(format!(
					"{name} must be in [0, 1e6], got {value}"
				)));
			}
		}
		if engine::instruction_price(self) == 0 {
			return bad("pi_c must be at least 0.001");
		}
		if !(0.0..=1.0).contains(&self.byzantine_p_a) {
			return bad("byzantine_p_a must be in [0, 1]");
		}
		if self.population.jcs_per_type == 0 || self.population.rps_per_type == 0 {
			return bad("every type needs at least one agent");
		}
		if self.probe_runs > 8 {
			return bad("probe_runs must be at most 8");
		}
		if self.adversary_rounds > 32 {
			// The griefer's matches all stay open at once, within a mediator's open items.
			return bad("adversary_rounds must be at most 32");
		}
		Ok(())
	}

	/// The analysis' inputs for these settings (π_d = π_c, platform costs 0).
	pub fn inputs(&self) -> Inputs {
		Inputs {
			theta: self.theta,
			n: self.n,
			pi_c: self.pi_c,
			pi_d: self.pi_c,
			c_e: self.c_e,
			c_d: self.c_d,
			c_v: self.c_v,
			b: self.b,
			g_j: 0.0,
			g_r: 0.0,
			g_m: 0.0,
			pi_a: self.match_incentive
				+ (self.mediator_availability + self.directory_availability) / 2.0,
			p_e: 1.0,
			pi_hat_jc: None,
			pi_hat_rp: None,
		}
	}

	/// The rational types' equilibrium plays from the analysis.
	pub fn strategies(&self) -> Result<Strategies, SimError> {
		let analysis =
			analyze(&self.inputs()).map_err(|e| SimError::InvalidConfig(e.to_string()))?;
		Ok(Strategies {
			rational_p_a: analysis.p_a,
			rational_p_v: analysis.p_v.clamp(0.0, 1.0),
			rational_p_e: analysis.p_e.clamp(0.0, 1.0),
			byzantine_p_a: self.byzantine_p_a,
		})
	}
}

/// Runs the simulation: every job against the pallet, the books checked after each.
pub fn simulate(config: &SimConfig) -> Result<SimSummary, SimError> {
	config.validate()?;
	let strategies = config.strategies()?;
	let accounts = engine::accounts(config);
	let mut ext = runtime::new_externalities(
		accounts.iter().copied(),
		engine::endowment(),
		engine::parameters(config),
	)
	.map_err(SimError::Genesis)?;
	let (jcs, rps) = (config.population.jcs(), config.population.rps());
	let mut rng = StdRng::seed_from_u64(config.seed);
	let (records, money, adversaries) = ext.execute_with(|| -> Result<_, SimError> {
		engine::register_everyone(config)?;
		adversaries::register(config)?;
		let money = engine::job_money(config)?;
		let mut fined = 0u128;
		let mut records = Vec::with_capacity(config.jobs);
		for job in 0..config.jobs {
			let jc = rng.gen_range(0..jcs.len());
			let rp = rng.gen_range(0..rps.len());
			let record = engine::run_one(
				config,
				&mut rng,
				job,
				(jc, jcs[jc], strategies.jc(jcs[jc])),
				(rp, rps[rp], strategies.rp(rps[rp])),
			)?;
			fined += record.fined;
			engine::check_books(job, &accounts, fined)?;
			records.push(record);
		}
		let adversaries = adversaries::run(config, config.adversary_rounds, &accounts, &mut fined)?;
		Ok((records, money, adversaries))
	})?;
	let mut summary = stats::summarise(config, strategies, money, &records);
	summary.adversaries = adversaries;
	Ok(summary)
}
