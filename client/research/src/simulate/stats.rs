//! From job records to per-type figures, each beside its expectation, and the claims.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::agents::{JcKind, RpKind, Strategies};
use super::engine::JobRecord;
use super::expect::{paper_expectation, spec_expectation, Costs, Expectation, JobMoney};
use super::SimConfig;

/// Slack for comparing amounts that went through planck rounding (currency units).
const ROUNDING: f64 = 1e-5;

/// One agent type's figures over the jobs it took part in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TypeStats {
	/// The type, as reports name it.
	pub label: String,
	/// `JC` or `RP`.
	pub role: String,
	/// Follows the protocol.
	pub honest: bool,
	/// Jobs it took part in.
	pub jobs: usize,
	/// Mean utility per job (currency units).
	pub mean_utility: f64,
	/// Standard error of that mean.
	pub utility_stderr: f64,
	/// The spec model's expectation for the same pairings.
	pub expected_utility: f64,
	/// The paper's Tables 2/3 for the jobs whose pairing the paper's game covers.
	pub paper_utility: Option<f64>,
	/// The simulated mean over those same jobs.
	pub paper_jobs_utility: Option<f64>,
	/// The share of this type's jobs the paper's game covers.
	pub paper_coverage: f64,
	/// Mean on-chain money per job (currency units).
	pub mean_money: f64,
	/// Worst utility of a single job.
	pub worst_utility: f64,
	/// Jobs with negative utility.
	pub losing_jobs: usize,
	/// Share of its jobs that went to mediation.
	pub mediation_rate: f64,
	/// The spec model's expectation of that share.
	pub expected_mediation_rate: f64,
	/// Jobs where it cheated (forged, went silent, or disputed an honest run).
	pub cheats: usize,
	/// Of those, the ones where it was found at fault.
	pub caught: usize,
	/// `caught / cheats`.
	pub caught_share: Option<f64>,
	/// The spec model's expectation of that share.
	pub expected_caught_share: Option<f64>,
	/// Fines taken from this type (currency units).
	pub fined: f64,
	/// The spec model's expectation of those fines.
	pub expected_fined: f64,
}

/// A pairing in which an honest agent lost money.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HonestLoss {
	/// The honest type.
	pub honest: String,
	/// The type it was paired with.
	pub counterpart: String,
	/// Jobs of this pairing.
	pub jobs: usize,
	/// Of those, jobs where the honest agent's utility was negative.
	pub losing_jobs: usize,
	/// The worst such utility.
	pub worst: f64,
}

/// A cheating type's largest gain on one job over the normal close.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheatGain {
	/// The cheating type.
	pub cheater: String,
	/// Jobs where it cheated.
	pub cheats: usize,
	/// Its largest gain on one job over the normal close (currency units).
	pub max_gain: f64,
	/// The bound: π_c + π_d for a JC (it neither pays nor goes uncompensated), c_e − c_d for
	/// an RP (the cost it saves).
	pub bound: f64,
	/// Its simulated mean utility minus the honest type's of the same role.
	pub advantage_over_honest: f64,
	/// The same difference in the spec model: the noise-free figure the claim is judged on.
	pub expected_advantage: f64,
}

/// The claims the mechanism must make good, with the numbers behind each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
	/// Every job's books balanced (checked after each job; a failure aborts the run).
	pub funds_conserved: bool,
	/// Fines burnt over the run (currency units), equal to the fall in total issuance.
	pub burnt: f64,
	/// Pairings where an honest agent lost money; empty when the claim holds.
	pub honest_losses: Vec<HonestLoss>,
	/// Every cheating type's largest gain against its bound.
	pub cheat_gains: Vec<CheatGain>,
}

impl Claims {
	/// Honest agents never lost money on a job.
	pub fn honest_never_lose(&self) -> bool {
		self.honest_losses.is_empty()
	}

	/// No cheater gained more on a job than the bound.
	pub fn gains_bounded(&self) -> bool {
		self.cheat_gains.iter().all(|g| g.max_gain <= g.bound + ROUNDING)
	}

	/// Every byzantine type earns less in expectation than the honest type of its role, in
	/// the spec model the simulation is checked against (the simulated means carry sampling
	/// noise that can flip a small difference).
	pub fn cheating_does_not_pay(&self) -> bool {
		self.cheat_gains.iter().all(|g| g.expected_advantage < 0.0)
	}
}

/// A run's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimSummary {
	/// The settings.
	pub config: SimConfig,
	/// The plays the rational types used.
	pub strategies: Strategies,
	/// Each job's money.
	pub money: JobMoney,
	/// Per type, JC types first.
	pub types: Vec<TypeStats>,
	/// The claims.
	pub claims: Claims,
	/// Share of all jobs that went to mediation.
	pub mediation_rate: f64,
	/// What the solver, mediator and directory earned (currency units).
	pub platform_income: [f64; 3],
	/// What the hostile agents (self-dealer, griefer) achieved.
	pub adversaries: super::adversaries::AdversaryClaims,
}

/// Per pairing with an honest side: (jobs, JC's losing jobs, RP's losing jobs, JC's worst,
/// RP's worst).
type PairLosses = (usize, usize, usize, f64, f64);

#[derive(Default)]
struct Acc {
	jobs: usize,
	sum: f64,
	sum_sq: f64,
	money: f64,
	worst: f64,
	losing: usize,
	mediations: usize,
	cheats: usize,
	caught: usize,
	fined: f64,
	expected: Expectation,
	paper_jobs: usize,
	paper_sum: f64,
	paper_sim_sum: f64,
	max_gain: f64,
}

impl Acc {
	fn push(&mut self, utility: f64, money: f64) {
		if self.jobs == 0 || utility < self.worst {
			self.worst = utility;
		}
		self.jobs += 1;
		self.sum += utility;
		self.sum_sq += utility * utility;
		self.money += money;
		if utility < -ROUNDING {
			self.losing += 1;
		}
	}

	fn mean(&self) -> f64 {
		self.sum / self.jobs.max(1) as f64
	}

	fn expected_mean(&self, own: fn(&Expectation) -> [f64; 5]) -> f64 {
		own(&self.expected)[0] / self.jobs.max(1) as f64
	}

	fn stats(
		&self,
		label: &str,
		role: &str,
		honest: bool,
		own: fn(&Expectation) -> [f64; 5],
	) -> TypeStats {
		let n = self.jobs.max(1) as f64;
		let mean = self.mean();
		let variance = (self.sum_sq / n - mean * mean).max(0.0);
		let [utility, mediation, cheat, caught, fine] = own(&self.expected);
		TypeStats {
			label: label.to_string(),
			role: role.to_string(),
			honest,
			jobs: self.jobs,
			mean_utility: mean,
			utility_stderr: (variance / n).sqrt(),
			expected_utility: utility / n,
			paper_utility: (self.paper_jobs > 0).then(|| self.paper_sum / self.paper_jobs as f64),
			paper_jobs_utility: (self.paper_jobs > 0)
				.then(|| self.paper_sim_sum / self.paper_jobs as f64),
			paper_coverage: self.paper_jobs as f64 / n,
			mean_money: self.money / n,
			worst_utility: self.worst,
			losing_jobs: self.losing,
			mediation_rate: self.mediations as f64 / n,
			expected_mediation_rate: mediation / n,
			cheats: self.cheats,
			caught: self.caught,
			caught_share: (self.cheats > 0).then(|| self.caught as f64 / self.cheats as f64),
			expected_caught_share: (cheat > 1e-12).then(|| caught / cheat),
			fined: self.fined,
			expected_fined: fine,
		}
	}
}

/// Aggregates the records of a run.
pub fn summarise(
	config: &SimConfig,
	strategies: Strategies,
	money: JobMoney,
	records: &[JobRecord],
) -> SimSummary {
	let costs = Costs { b: config.b, c_e: config.c_e, c_d: config.c_d, c_v: config.c_v };
	let unit = money.unit as f64;
	let inputs = config.inputs();
	let mut jc_acc: BTreeMap<JcKind, Acc> =
		JcKind::ALL.iter().map(|k| (*k, Acc::default())).collect();
	let mut rp_acc: BTreeMap<RpKind, Acc> =
		RpKind::ALL.iter().map(|k| (*k, Acc::default())).collect();
	let mut pairs: BTreeMap<(JcKind, RpKind), PairLosses> = BTreeMap::new();
	let mut platform = [0.0; 3];
	let mut burnt = 0.0;
	let mut mediations = 0usize;
	let accepted_jc = money_of_normal_close(&money, true);
	let accepted_rp = money_of_normal_close(&money, false);
	for r in records {
		let (jc_play, rp_play) = (strategies.jc(r.jc), strategies.rp(r.rp));
		let e = spec_expectation(jc_play, rp_play, config.n, &money, &costs);
		let paper = paper_expectation(jc_play, rp_play, &inputs, &money);
		let fined = r.fined as f64 / unit;
		burnt += fined;
		mediations += usize::from(r.disputed);
		platform[0] += r.solver_money as f64 / unit;
		platform[1] += r.mediator_money as f64 / unit;
		platform[2] += r.directory_money as f64 / unit;

		let jc = jc_acc.entry(r.jc).or_default();
		jc.push(r.jc_utility, r.jc_money as f64 / unit);
		jc.mediations += usize::from(r.disputed);
		jc.expected.add(1.0, &e);
		if r.jc_cheated() {
			jc.cheats += 1;
			jc.caught += usize::from(r.jc_at_fault());
			// Gain over the normal close: the benefit and the accepted price.
			let gain =
				r.jc_utility + if r.verified { config.c_v } else { 0.0 } - (config.b + accepted_jc);
			jc.max_gain = jc.max_gain.max(gain);
		}
		if r.jc_at_fault() {
			jc.fined += fined;
		}
		let rp = rp_acc.entry(r.rp).or_default();
		rp.push(r.rp_utility, r.rp_money as f64 / unit);
		rp.mediations += usize::from(r.disputed);
		rp.expected.add(1.0, &e);
		if r.rp_cheated() {
			rp.cheats += 1;
			rp.caught += usize::from(r.rp_at_fault());
			let gain = r.rp_utility - (accepted_rp - config.c_e);
			rp.max_gain = rp.max_gain.max(gain);
		}
		if r.rp_at_fault() {
			rp.fined += fined;
		}
		if let Some((jc_paper, rp_paper)) = paper {
			let jc = jc_acc.entry(r.jc).or_default();
			jc.paper_jobs += 1;
			jc.paper_sum += jc_paper;
			jc.paper_sim_sum += r.jc_utility;
			let rp = rp_acc.entry(r.rp).or_default();
			rp.paper_jobs += 1;
			rp.paper_sum += rp_paper;
			rp.paper_sim_sum += r.rp_utility;
		}
		if r.jc.is_honest() || r.rp.is_honest() {
			let entry = pairs.entry((r.jc, r.rp)).or_insert((0, 0, 0, 0.0, 0.0));
			entry.0 += 1;
			if r.jc.is_honest() && r.jc_utility < -ROUNDING {
				entry.1 += 1;
				entry.3 = entry.3.min(r.jc_utility);
			}
			if r.rp.is_honest() && r.rp_utility < -ROUNDING {
				entry.2 += 1;
				entry.4 = entry.4.min(r.rp_utility);
			}
		}
	}

	let jc_own = |e: &Expectation| [e.jc_utility, e.mediation, e.jc_cheat, e.jc_caught, e.jc_fine];
	let rp_own = |e: &Expectation| [e.rp_utility, e.mediation, e.rp_cheat, e.rp_caught, e.rp_fine];
	let mut types = Vec::new();
	for (kind, acc) in &jc_acc {
		types.push(acc.stats(kind.label(), "JC", kind.is_honest(), jc_own));
	}
	for (kind, acc) in &rp_acc {
		types.push(acc.stats(kind.label(), "RP", kind.is_honest(), rp_own));
	}

	let mut honest_losses = Vec::new();
	for ((jc, rp), (jobs, jc_losing, rp_losing, jc_worst, rp_worst)) in pairs {
		if jc_losing > 0 {
			honest_losses.push(HonestLoss {
				honest: jc.label().into(),
				counterpart: rp.label().into(),
				jobs,
				losing_jobs: jc_losing,
				worst: jc_worst,
			});
		}
		if rp_losing > 0 {
			honest_losses.push(HonestLoss {
				honest: rp.label().into(),
				counterpart: jc.label().into(),
				jobs,
				losing_jobs: rp_losing,
				worst: rp_worst,
			});
		}
	}

	let price = money.price as f64 / unit;
	let honest_jc = jc_acc.get(&JcKind::Altruistic).map_or(0.0, Acc::mean);
	let honest_rp = rp_acc.get(&RpKind::Altruistic).map_or(0.0, Acc::mean);
	let honest_jc_expected =
		jc_acc.get(&JcKind::Altruistic).map_or(0.0, |a| a.expected_mean(jc_own));
	let honest_rp_expected =
		rp_acc.get(&RpKind::Altruistic).map_or(0.0, |a| a.expected_mean(rp_own));
	let mut cheat_gains = Vec::new();
	// Rational types cheat only as the equilibrium has them; a silent JC takes nothing from
	// anyone (it only forgoes checking).
	let jc_cheaters = |k: &JcKind| matches!(k, JcKind::NonDeterministic | JcKind::RejectsCorrect);
	for (kind, acc) in jc_acc.iter().filter(|(k, _)| jc_cheaters(k)) {
		cheat_gains.push(CheatGain {
			cheater: kind.label().into(),
			cheats: acc.cheats,
			max_gain: acc.max_gain,
			bound: 2.0 * price,
			advantage_over_honest: acc.mean() - honest_jc,
			expected_advantage: acc.expected_mean(jc_own) - honest_jc_expected,
		});
	}
	for (kind, acc) in rp_acc.iter().filter(|(k, _)| !k.is_honest() && **k != RpKind::Rational) {
		cheat_gains.push(CheatGain {
			cheater: kind.label().into(),
			cheats: acc.cheats,
			max_gain: acc.max_gain,
			bound: config.c_e - config.c_d,
			advantage_over_honest: acc.mean() - honest_rp,
			expected_advantage: acc.expected_mean(rp_own) - honest_rp_expected,
		});
	}

	SimSummary {
		config: config.clone(),
		strategies,
		money,
		types,
		claims: Claims { funds_conserved: true, burnt, honest_losses, cheat_gains },
		mediation_rate: mediations as f64 / records.len().max(1) as f64,
		platform_income: platform,
		adversaries: Default::default(),
	}
}

/// The JC's (or RP's) on-chain money in a normal close, in currency units.
fn money_of_normal_close(money: &JobMoney, job_creator: bool) -> f64 {
	let unit = money.unit as f64;
	let price = money.price as f64 / unit;
	if job_creator {
		-price - money.jc_availability() as f64 / unit
	} else {
		price - money.rp_availability() as f64 / unit
	}
}
