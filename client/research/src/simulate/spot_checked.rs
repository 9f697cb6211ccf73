//! Record jobs checked by sampling (README, "Spot checks of record jobs") in the
//! simulation, against the real pallet. Every job maps `records` records; the JC
//! re-computes a random sample of ⌈f·N⌉ of them and rejects the result if any differs,
//! and the mediator's n runs of the whole job rule.
//!
//! RP types play: altruistic computes every record (cost c_e); rational corrupts
//! `corrupted` records, saving their share of c_e; byzantine forges every record (c_d);
//! silent posts nothing. JC types: altruistic and rational spot-check every result (a
//! sample costs its share f·c_v of a full check); the non-deterministic JC's job gives
//! the normal output with probability p_a per run, so its own re-computation of the
//! sample can differ from an honest RP's run; the others reject everything or never
//! react.
//!
//! Reported per RP type: jobs, corrupted results, caught, slipped (paid anyway),
//! fined, losing, mean utility; beside the model: the exact hypergeometric detection
//! probability, and the expected utility of corrupting from the chain's own payoffs.

use std::collections::BTreeMap;

use pallet_compute_market::Matches;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::agents::{run_job, JcKind, Output, RpKind};
use super::engine::{self, call, jc_account, rp_account, UNIT};
use super::runtime::{Market, RuntimeOrigin, SimClock, SimRuntime, System};
use super::{SimConfig, SimError};
use crate::spot_check::miss_probability;

const HOUR_MS: u64 = 3_600_000;

/// The record jobs' shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordJobs {
	/// Records per job, N.
	pub records: u64,
	/// The JC's sample fraction f.
	pub fraction: f64,
	/// Records a rational RP corrupts, c.
	pub corrupted: u64,
}

impl RecordJobs {
	/// Records sampled per check: ⌈f·N⌉, at least one.
	pub fn sample(&self) -> u64 {
		((self.records as f64 * self.fraction).ceil() as u64).clamp(1, self.records)
	}

	fn validate(&self) -> Result<(), SimError> {
		let bad = |what: String| Err(SimError::InvalidConfig(what));
		if self.records == 0 || self.records > 1_000_000_000_000 {
			return bad(format!("records must be 1 to 10^12, not {}", self.records));
		}
		if !(self.fraction > 0.0 && self.fraction <= 1.0) {
			return bad(format!("the sample fraction must be in (0, 1], not {}", self.fraction));
		}
		if self.corrupted == 0 || self.corrupted > self.records {
			return bad(format!(
				"corrupted must be 1 to N = {}, not {}",
				self.records, self.corrupted
			));
		}
		Ok(())
	}
}

/// One RP type's record jobs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpotTypeStats {
	/// Jobs it was matched to.
	pub jobs: usize,
	/// Results with at least one wrong record.
	pub corrupted: usize,
	/// Of those, caught by the JC's sample.
	pub caught: usize,
	/// Of those, paid anyway (the sample missed, or the JC did not react).
	pub slipped: usize,
	/// Paid as accepted.
	pub paid: usize,
	/// Found at fault by the mediator and fined.
	pub fined: usize,
	/// Jobs with a negative utility.
	pub losses: usize,
	/// Sum of utilities (currency units).
	pub utility: f64,
}

impl SpotTypeStats {
	/// Mean utility per job.
	pub fn mean_utility(&self) -> f64 {
		if self.jobs == 0 {
			0.0
		} else {
			self.utility / self.jobs as f64
		}
	}
}

/// What a run showed, beside the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpotSummary {
	/// The jobs' shape.
	pub shape: RecordJobs,
	/// Records sampled per check.
	pub sample: u64,
	/// Jobs run.
	pub jobs: usize,
	/// The exact chance a sample catches a rational RP's c corrupted records.
	pub detection_model: f64,
	/// Rational RPs' corrupted results checked by a spot-checking JC, and caught.
	pub rational_checked: usize,
	/// See `rational_checked`.
	pub rational_caught: usize,
	/// A rational RP's expected utility per job from the chain's payoffs (paid, fined)
	/// and the model's detection chance; `None` until both payoffs were seen.
	pub rational_expected_utility: Option<f64>,
	/// An altruistic RP's utility on a paid job.
	pub honest_paid_utility: Option<f64>,
	/// Per RP type.
	pub by_type: BTreeMap<RpKind, SpotTypeStats>,
	/// Jobs of non-deterministic JCs that cost an altruistic RP money.
	pub honest_losses_to_non_deterministic_jcs: usize,
}

/// Runs `config.jobs` record jobs of `shape`.
pub fn simulate_spot_checked(
	config: &SimConfig,
	shape: RecordJobs,
) -> Result<SpotSummary, SimError> {
	config.validate()?;
	shape.validate()?;
	let strategies = config.strategies()?;
	let (jcs, rps) = (config.population.jcs(), config.population.rps());
	let accounts = engine::accounts(config);
	let mut ext = super::runtime::new_externalities(
		accounts.iter().copied(),
		engine::endowment(),
		engine::parameters(config),
	)
	.map_err(SimError::Genesis)?;
	let mut rng = StdRng::seed_from_u64(config.seed);
	let sample = shape.sample();
	let detection_model = 1.0 - miss_probability(shape.records, shape.corrupted, sample).exp();
	ext.execute_with(|| {
		engine::register_everyone(config)?;
		let mut s = SpotSummary {
			shape,
			sample,
			jobs: config.jobs,
			detection_model,
			rational_checked: 0,
			rational_caught: 0,
			rational_expected_utility: None,
			honest_paid_utility: None,
			by_type: BTreeMap::new(),
			honest_losses_to_non_deterministic_jcs: 0,
		};
		let (mut paid_money, mut fined_money) = (None, None);
		let mut fined = 0u128;
		for job in 0..config.jobs {
			let (jc, rp) = (rng.gen_range(0..jcs.len()), rng.gen_range(0..rps.len()));
			let (jc_kind, rp_kind) = (jcs[jc], rps[rp]);
			let p_a = strategies.jc(jc_kind).p_a;
			let end =
				run_record_job(config, &shape, &mut rng, job, (jc, jc_kind, p_a), (rp, rp_kind))?;
			fined += end.fined;
			engine::check_books(job, &accounts, fined)?;
			let cost = match rp_kind {
				RpKind::Altruistic => config.c_e,
				RpKind::Rational => {
					config.c_e * (1.0 - shape.corrupted as f64 / shape.records as f64)
				},
				RpKind::WrongResults => config.c_d,
				RpKind::Silent => 0.0,
			};
			let money = end.rp_money as f64 / UNIT as f64;
			let utility = money - cost;
			let t = s.by_type.entry(rp_kind).or_default();
			t.jobs += 1;
			t.utility += utility;
			t.losses += usize::from(utility < 0.0);
			t.corrupted += usize::from(end.corrupted);
			t.caught += usize::from(end.corrupted && end.rejected);
			t.slipped += usize::from(end.corrupted && end.paid);
			t.paid += usize::from(end.paid);
			t.fined += usize::from(end.rp_fined);
			if rp_kind == RpKind::Rational && end.checked {
				s.rational_checked += 1;
				s.rational_caught += usize::from(end.rejected);
			}
			let deterministic_checker = matches!(jc_kind, JcKind::Altruistic | JcKind::Rational);
			if end.paid && deterministic_checker && rp_kind != RpKind::Silent {
				paid_money.get_or_insert(money);
			}
			if end.rp_fined && end.rejected && deterministic_checker {
				fined_money.get_or_insert(money);
			}
			if rp_kind == RpKind::Altruistic {
				if end.paid && deterministic_checker {
					s.honest_paid_utility.get_or_insert(utility);
				}
				if jc_kind == JcKind::NonDeterministic && utility < 0.0 {
					s.honest_losses_to_non_deterministic_jcs += 1;
				}
			}
		}
		if let (Some(paid), Some(fined)) = (paid_money, fined_money) {
			let cost = config.c_e * (1.0 - shape.corrupted as f64 / shape.records as f64);
			s.rational_expected_utility =
				Some((1.0 - detection_model) * paid + detection_model * fined - cost);
		}
		Ok(s)
	})
}

/// How one job ended.
struct JobEnd {
	corrupted: bool,
	checked: bool,
	rejected: bool,
	paid: bool,
	rp_fined: bool,
	rp_money: i128,
	fined: u128,
}

/// Samples up to this size are drawn record by record; larger ones by the model.
const DRAWN_SAMPLES: u64 = 1_000_000;

/// Whether a sample of `s` of `n` records, `c` of them wrong, holds a wrong one: drawn
/// record by record without replacement (an independent check of the model), or for
/// samples past [`DRAWN_SAMPLES`] with the model's exact probability.
fn sample_hits(rng: &mut impl Rng, n: u64, c: u64, s: u64) -> bool {
	if s > DRAWN_SAMPLES {
		return rng.gen_bool((1.0 - miss_probability(n, c, s).exp()).clamp(0.0, 1.0));
	}
	let mut left = n;
	for _ in 0..s.min(n) {
		// The wrong records are all still in the pool until one is drawn.
		if rng.gen_range(0..left) < c {
			return true;
		}
		left -= 1;
	}
	false
}

fn run_record_job(
	config: &SimConfig,
	shape: &RecordJobs,
	rng: &mut impl Rng,
	job: usize,
	(jc_index, jc_kind, p_a): (usize, JcKind, f64),
	(rp_index, rp_kind): (usize, RpKind),
) -> Result<JobEnd, SimError> {
	let (jc, rp) = (jc_account(jc_index), rp_account(rp_index));
	let before = engine::total(rp);
	System::reset_events();
	SimClock::advance(1_000);
	let now = <SimClock as frame_support::traits::Time>::now();
	let match_id = engine::open_match(config, job, jc, rp, now, None)?;
	let signed = RuntimeOrigin::signed;

	let mut end = JobEnd {
		corrupted: false,
		checked: false,
		rejected: false,
		paid: false,
		rp_fined: false,
		rp_money: 0,
		fined: 0,
	};
	if rp_kind == RpKind::Silent {
		SimClock::advance(HOUR_MS + 1);
		call(job, "timeout", Market::timeout(signed(jc), match_id))?;
	} else {
		// The RP's output: an honest run of the job, or one with wrong records.
		let wrong_records = match rp_kind {
			RpKind::Rational => shape.corrupted,
			RpKind::WrongResults => shape.records,
			_ => 0,
		};
		let run = run_job(rng, p_a);
		end.corrupted = wrong_records > 0;
		let posted = if end.corrupted { Output::Forged } else { run };
		engine::post_completed((job, rp, match_id), posted)?;
		let reject = match jc_kind {
			JcKind::Silent => None,
			JcKind::RejectsCorrect => Some(true),
			_ => {
				end.checked = true;
				// The JC's own run of the sample: of a non-deterministic job, it can
				// differ from the RP's honest run in every record.
				let own = run_job(rng, p_a);
				let differs = (end.corrupted
					&& sample_hits(rng, shape.records, wrong_records, shape.sample()))
					|| (!end.corrupted && own != run);
				Some(differs)
			},
		};
		match reject {
			None => {
				let window = Matches::<SimRuntime>::get(match_id)
					.map(|m| m.reaction_window)
					.ok_or(SimError::Invariant { job, error: "the match vanished".into() })?;
				SimClock::advance(window + 1);
				call(job, "accept_result", Market::accept_result(signed(rp), match_id))?;
			},
			Some(false) => call(job, "accept_result", Market::accept_result(signed(jc), match_id))?,
			Some(true) => {
				end.rejected = true;
				engine::reject_and_mediate(config, rng, (job, jc, match_id), p_a, posted)?;
			},
		}
	}
	if Matches::<SimRuntime>::contains_key(match_id) {
		return Err(SimError::Invariant { job, error: "the match did not close".into() });
	}
	let closed = engine::closed_by_events();
	(end.fined, end.paid, end.rp_fined) = (closed.fined, closed.paid, closed.rp_fined);
	end.rp_money = engine::total(rp) as i128 - before as i128;
	Ok(end)
}

/// The summary as Markdown.
pub fn markdown(s: &SpotSummary) -> String {
	let measured = if s.rational_checked == 0 {
		"none checked".to_string()
	} else {
		format!(
			"{:.3} ({} of {})",
			s.rational_caught as f64 / s.rational_checked as f64,
			s.rational_caught,
			s.rational_checked
		)
	};
	let mut text = format!(
		"## Spot-checked record jobs: N = {}, sample {} (f = {}), a rational RP corrupts c = {}; {} jobs\n\n\
		 Detection of a rational RP's result: model {:.3}, simulated {measured}.\n",
		s.shape.records, s.sample, s.shape.fraction, s.shape.corrupted, s.jobs, s.detection_model
	);
	if let (Some(expected), Some(honest)) = (s.rational_expected_utility, s.honest_paid_utility) {
		text.push_str(&format!(
			"Corrupting c records: expected utility {expected:+.3} per spot-checked job against {honest:+.3} for honest work ({}).\n",
			if expected < honest { "deterred" } else { "NOT deterred" }
		));
	}
	text.push_str(&format!(
		"Altruistic RPs that lost money to non-deterministic JCs: {}.\n\n\
		 | RP type | jobs | corrupted | caught | slipped | paid | fined | losing | mean utility |\n\
		 |---|---|---|---|---|---|---|---|---|\n",
		s.honest_losses_to_non_deterministic_jcs
	));
	for (kind, t) in &s.by_type {
		text.push_str(&format!(
			"| {} | {} | {} | {} | {} | {} | {} | {} | {:+.3} |\n",
			kind.label(),
			t.jobs,
			t.corrupted,
			t.caught,
			t.slipped,
			t.paid,
			t.fined,
			t.losses,
			t.mean_utility()
		));
	}
	text
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::simulate::Population;

	fn config() -> SimConfig {
		SimConfig {
			jobs: 400,
			seed: 5,
			population: Population { jcs_per_type: 1, rps_per_type: 1 },
			..SimConfig::default()
		}
	}

	#[test]
	fn a_sample_catches_corruption_at_the_models_rate_and_corrupting_does_not_pay() {
		// 5 % of 10,000 records, a 1 % sample: caught with probability ≈ 0.994.
		let shape = RecordJobs { records: 10_000, fraction: 0.01, corrupted: 500 };
		let s = simulate_spot_checked(&config(), shape).unwrap();
		assert!(s.detection_model > 0.99 && s.detection_model < 1.0, "{s:?}");
		assert!(s.rational_checked > 20, "{s:?}");
		let rate = s.rational_caught as f64 / s.rational_checked as f64;
		assert!(rate > 0.95, "{s:?}");
		let rational = &s.by_type[&RpKind::Rational];
		assert!(rational.fined > 0 && rational.mean_utility() < 0.0, "{s:?}");
		let expected = s.rational_expected_utility.unwrap();
		assert!(expected < s.honest_paid_utility.unwrap(), "{s:?}");
		assert!(markdown(&s).contains("deterred"));
	}

	#[test]
	fn a_single_wrong_record_mostly_slips_through_a_small_sample() {
		// One wrong record in 10,000 and a 100-record sample: caught 1 % of the time.
		let shape = RecordJobs { records: 10_000, fraction: 0.01, corrupted: 1 };
		let s = simulate_spot_checked(&config(), shape).unwrap();
		assert!((s.detection_model - 0.01).abs() < 1e-9, "{s:?}");
		let rational = &s.by_type[&RpKind::Rational];
		assert!(rational.slipped > rational.caught, "{s:?}");
	}

	#[test]
	fn shapes_are_checked() {
		for shape in [
			RecordJobs { records: 0, fraction: 0.01, corrupted: 1 },
			RecordJobs { records: 10, fraction: 0.0, corrupted: 1 },
			RecordJobs { records: 10, fraction: 0.1, corrupted: 11 },
			RecordJobs { records: 10, fraction: 0.1, corrupted: 0 },
		] {
			assert!(simulate_spot_checked(&config(), shape).is_err(), "{shape:?}");
		}
	}
}
