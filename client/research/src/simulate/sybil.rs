//! A sybil RP against record requirements (README, "Reputation"), on the real pallet.
//!
//! Honest RPs run every job. The attacker plays "build, then burn": it runs jobs
//! honestly until its record meets what demanding JCs require, then forges every
//! result until a verdict fines it; then it deregisters (its bond comes back) and
//! registers a fresh account, whose record is empty. With no requirement it is built
//! from the start and forges every job.
//!
//! JCs: an `open` share posts offers that ask nothing of the RP (newcomers start
//! there), the rest ask `min_accepted` accepted jobs and at most `max_fault_percent`
//! of faults. A JC checks a result with probability p_v and rejects a wrong one; the
//! mediator's runs then fine the forger. Each job goes to an RP drawn among those whose
//! record meets the JC's offer (the attacker's current account included); the chain
//! checks rule 13 again when the match is posted.
//!
//! The same jobs run twice, with and without the requirement, and the report sets
//! them side by side: forged results paid for (the JCs' loss), fines, accounts burnt,
//! and each side's utility per job.

use pallet_compute_market::{Matches, RecordRequirement, Reputations, Role, PPM};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::agents::{chance, Output};
use super::engine::{self, call, jc_account, rp_account, MEDIATOR, UNIT};
use super::runtime::{AccountId, Market, RuntimeOrigin, SimClock, System};
use super::{SimConfig, SimError};

/// The attacker's accounts, from this id up: one per identity.
const FIRST_IDENTITY: AccountId = 5_000;
/// JCs in the market.
const JCS: usize = 10;

/// The market the attacker works in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SybilSetup {
	/// Honest RPs beside the attacker.
	pub honest_rps: usize,
	/// Share of JCs whose offers ask nothing of the RP.
	pub open_share: f64,
	/// What the other JCs require: accepted jobs.
	pub min_accepted: u32,
	/// ... and the most faults, in percent of the RP's jobs.
	pub max_fault_percent: f64,
	/// p_v: the chance a JC checks a result.
	pub check_probability: f64,
}

impl Default for SybilSetup {
	fn default() -> Self {
		SybilSetup {
			honest_rps: 4,
			open_share: 0.2,
			min_accepted: 10,
			max_fault_percent: 5.0,
			check_probability: 0.1,
		}
	}
}

impl SybilSetup {
	fn validate(&self) -> Result<(), SimError> {
		let bad = |what: String| Err(SimError::InvalidConfig(what));
		if self.honest_rps == 0 || self.honest_rps > 100 {
			return bad(format!("honest RPs must be 1 to 100, not {}", self.honest_rps));
		}
		for (name, p) in [("open share", self.open_share), ("p_v", self.check_probability)] {
			if !(0.0..=1.0).contains(&p) {
				return bad(format!("the {name} must be in [0, 1], not {p}"));
			}
		}
		if !(0.0..=100.0).contains(&self.max_fault_percent) {
			return bad(format!(
				"the fault cap must be 0 to 100 %, not {}",
				self.max_fault_percent
			));
		}
		Ok(())
	}

	/// What a demanding JC's offer requires.
	fn requirement(&self) -> RecordRequirement {
		RecordRequirement {
			min_accepted: self.min_accepted,
			max_fault_ppm: (self.max_fault_percent * 10_000.0).round() as u32,
		}
	}
}

/// One side of a run: the attacker or the honest RPs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SideStats {
	/// Jobs it ran or forged.
	pub jobs: usize,
	/// Results it forged.
	pub forged: usize,
	/// Forged results paid as if correct (a JC's loss of b).
	pub forged_paid: usize,
	/// Verdicts that fined it.
	pub fined: usize,
	/// Sum of utilities, currency units (money − c_e per run − c_d per forgery).
	pub utility: f64,
}

impl SideStats {
	/// Mean utility per job.
	pub fn mean_utility(&self) -> f64 {
		if self.jobs == 0 {
			0.0
		} else {
			self.utility / self.jobs as f64
		}
	}
}

/// One run: with or without the requirement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SybilRun {
	/// What demanding JCs required (`None`: every JC is open).
	pub requirement: Option<(u32, f64)>,
	/// The attacker.
	pub attacker: SideStats,
	/// The honest RPs together.
	pub honest: SideStats,
	/// Accounts the attacker registered (the first included).
	pub identities: usize,
	/// Jobs no RP's record qualified for (they were not posted).
	pub unserved: usize,
	/// JCs' utility lost to forged results paid for: b each.
	pub jc_loss: f64,
}

/// Both runs, side by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SybilSummary {
	/// The market.
	pub setup: SybilSetup,
	/// Jobs per run.
	pub jobs: usize,
	/// Every JC open.
	pub without: SybilRun,
	/// Demanding JCs require the record.
	pub with: SybilRun,
}

/// Runs `config.jobs` jobs without and with the requirement.
pub fn simulate_sybil(config: &SimConfig, setup: SybilSetup) -> Result<SybilSummary, SimError> {
	config.validate()?;
	setup.validate()?;
	let without = run(config, &setup, false)?;
	let with = run(config, &setup, true)?;
	Ok(SybilSummary { setup, jobs: config.jobs, without, with })
}

/// The attacker's state: its current account and whether it is forging yet.
struct Attacker {
	account: AccountId,
	identities: usize,
}

fn run(config: &SimConfig, setup: &SybilSetup, demanding: bool) -> Result<SybilRun, SimError> {
	let honest: Vec<AccountId> = (0..setup.honest_rps).map(rp_account).collect();
	let jcs: Vec<AccountId> = (0..JCS).map(jc_account).collect();
	// One account per identity the attacker could need: at most one per job.
	let identities: Vec<AccountId> =
		(0..=config.jobs as AccountId).map(|i| FIRST_IDENTITY + i).collect();
	let mut accounts = vec![MEDIATOR, engine::DIRECTORY, engine::SOLVER];
	accounts.extend(&honest);
	accounts.extend(&jcs);
	accounts.extend(&identities);
	let mut ext = super::runtime::new_externalities(
		accounts.iter().copied(),
		engine::endowment(),
		engine::parameters(config),
	)
	.map_err(SimError::Genesis)?;
	let mut rng = StdRng::seed_from_u64(config.seed);
	let open_jcs = (setup.open_share * JCS as f64).round() as usize;
	let wanted = demanding.then(|| setup.requirement());
	ext.execute_with(|| {
		engine::register_services(config)?;
		for jc in &jcs {
			engine::register_job_creator(0, *jc)?;
		}
		for rp in honest.iter().chain(&identities[..1]) {
			engine::register_provider(0, *rp)?;
		}
		let mut attacker = Attacker { account: identities[0], identities: 1 };
		let mut out = SybilRun {
			requirement: demanding.then_some((setup.min_accepted, setup.max_fault_percent)),
			..Default::default()
		};
		let mut fined_total = 0u128;
		for job in 0..config.jobs {
			let jc_index = rng.gen_range(0..JCS);
			let asked = if jc_index < open_jcs { None } else { wanted };
			let eligible: Vec<AccountId> = honest
				.iter()
				.copied()
				.chain([attacker.account])
				.filter(|rp| asked.as_ref().is_none_or(|r| meets(*rp, r)))
				.collect();
			if eligible.is_empty() {
				out.unserved += 1;
				continue;
			}
			let rp = eligible[rng.gen_range(0..eligible.len())];
			let is_attacker = rp == attacker.account;
			// Built: its record would pass a demanding JC (or nobody demands one).
			let forge = is_attacker && wanted.as_ref().is_none_or(|r| meets(rp, r));
			let (end, rp_money) =
				run_job(config, setup, &mut rng, job, jcs[jc_index], rp, asked, forge)?;
			fined_total += end.fined;
			let side = if is_attacker { &mut out.attacker } else { &mut out.honest };
			side.jobs += 1;
			side.forged += usize::from(forge);
			side.forged_paid += usize::from(forge && end.paid);
			side.fined += usize::from(end.rp_fined);
			let cost = if forge { config.c_d } else { config.c_e };
			side.utility += rp_money as f64 / UNIT as f64 - cost;
			if forge && end.paid {
				out.jc_loss += config.b;
			}
			if is_attacker && end.rp_fined {
				let next = *identities.get(attacker.identities).ok_or(SimError::Invariant {
					job,
					error: "the attacker ran out of accounts".into(),
				})?;
				call(
					job,
					"deregister",
					Market::deregister(RuntimeOrigin::signed(rp), Role::ResourceProvider),
				)?;
				engine::register_provider(job, next)?;
				attacker = Attacker { account: next, identities: attacker.identities + 1 };
			}
			engine::check_books(job, &accounts, fined_total)?;
		}
		out.identities = attacker.identities;
		Ok(out)
	})
}

/// Whether `rp`'s record as an RP meets `requirement`, as rule 13 checks it.
fn meets(rp: AccountId, requirement: &RecordRequirement) -> bool {
	let record = Reputations::<super::runtime::SimRuntime>::get(rp, Role::ResourceProvider);
	record.has_accepted(requirement) && record.faults_within(Role::ResourceProvider, requirement)
}

#[allow(clippy::too_many_arguments)]
fn run_job(
	config: &SimConfig,
	setup: &SybilSetup,
	rng: &mut impl Rng,
	job: usize,
	jc: AccountId,
	rp: AccountId,
	asked: Option<RecordRequirement>,
	forge: bool,
) -> Result<(engine::Closed, i128), SimError> {
	let before = engine::total(rp);
	System::reset_events();
	SimClock::advance(1_000);
	let now = <SimClock as frame_support::traits::Time>::now();
	let match_id = engine::open_match(config, job, jc, rp, now, asked)?;
	let signed = RuntimeOrigin::signed;
	let posted = if forge { Output::Forged } else { Output::Normal };
	engine::post_completed((job, rp, match_id), posted)?;
	if forge && chance(rng, setup.check_probability) {
		// The job is deterministic: the mediator's runs agree with each other.
		engine::reject_and_mediate(config, rng, (job, jc, match_id), 1.0, posted)?;
	} else {
		call(job, "accept_result", Market::accept_result(signed(jc), match_id))?;
	}
	if Matches::<super::runtime::SimRuntime>::contains_key(match_id) {
		return Err(SimError::Invariant { job, error: "the match did not close".into() });
	}
	Ok((engine::closed_by_events(), engine::total(rp) as i128 - before as i128))
}

/// The summary as Markdown.
pub fn markdown(s: &SybilSummary) -> String {
	let r = s.setup.requirement();
	let mut text = format!(
		"## A sybil RP against record requirements: {} jobs, {} honest RPs, {} JCs ({:.0} % open), p_v = {}\n\n\
		 Demanding JCs require at least {} accepted jobs and at most {:.1} % faults ({} ppm). \
		 The attacker works honestly until its record passes, then forges until fined, then \
		 re-registers under a new account.\n\n\
		 | run | attacker jobs | forged | forged and paid | fined | accounts | attacker utility/job | honest utility/job | JC loss | unserved |\n\
		 |---|---|---|---|---|---|---|---|---|---|\n",
		s.jobs,
		s.setup.honest_rps,
		JCS,
		s.setup.open_share * 100.0,
		s.setup.check_probability,
		r.min_accepted,
		f64::from(r.max_fault_ppm) * 100.0 / f64::from(PPM),
		r.max_fault_ppm,
	);
	for (name, run) in [("no requirement", &s.without), ("with requirement", &s.with)] {
		text.push_str(&format!(
			"| {name} | {} | {} | {} | {} | {} | {:+.3} | {:+.3} | {:.1} | {} |\n",
			run.attacker.jobs,
			run.attacker.forged,
			run.attacker.forged_paid,
			run.attacker.fined,
			run.identities,
			run.attacker.mean_utility(),
			run.honest.mean_utility(),
			run.jc_loss,
			run.unserved,
		));
	}
	text
}

#[cfg(test)]
mod tests {
	use super::*;

	fn small(jobs: usize) -> SimConfig {
		SimConfig { jobs, ..Default::default() }
	}

	#[test]
	fn a_requirement_makes_the_sybil_work_before_each_forgery() {
		let s = simulate_sybil(&small(600), SybilSetup::default()).unwrap();
		let (without, with) = (&s.without, &s.with);
		// Without a requirement every attacker job is a forgery.
		assert_eq!(without.attacker.forged, without.attacker.jobs);
		assert!(without.attacker.forged_paid > 0, "{without:?}");
		// With it, each account must earn its record honestly first, and every fine
		// burns the account: far fewer forgeries are paid for.
		assert!(with.attacker.forged < with.attacker.jobs, "{with:?}");
		assert!(
			with.attacker.forged_paid < without.attacker.forged_paid,
			"with {with:?}\nwithout {without:?}"
		);
		assert!(with.jc_loss < without.jc_loss);
		assert_eq!(with.identities, with.attacker.fined + 1);
		// Honest RPs still get work.
		assert!(with.honest.jobs > 0 && with.honest.mean_utility() > 0.0, "{with:?}");
		assert!(markdown(&s).contains("| with requirement |"));
	}

	#[test]
	fn bad_setups_are_refused() {
		for setup in [
			SybilSetup { honest_rps: 0, ..Default::default() },
			SybilSetup { open_share: 1.5, ..Default::default() },
			SybilSetup { check_probability: -0.1, ..Default::default() },
			SybilSetup { max_fault_percent: 101.0, ..Default::default() },
		] {
			let error = simulate_sybil(&small(10), setup).unwrap_err();
			assert!(matches!(error, SimError::InvalidConfig(_)), "{error:?}");
		}
	}
}
