//! Who plays: the BAR types (Byzantine, Altruistic, Rational) of each side, what each does
//! at every step of a job, and the job's own behaviour when it is run.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// A Job Creator's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JcKind {
	/// Deterministic jobs; checks every result and disputes only wrong ones.
	Altruistic,
	/// Plays the equilibrium: a job with the analysis' optimal p_a, checks results at the
	/// equilibrium rate p_v and disputes the ones that differ from the normal result.
	Rational,
	/// Byzantine: a non-deterministic job (normal result with probability p_a), checks every
	/// result and disputes every abnormal one, hoping the mediator blames the RP.
	NonDeterministic,
	/// Byzantine: disputes every result, right or wrong, without checking.
	RejectsCorrect,
	/// Byzantine: never reacts to a result (it still claims a timeout when no result comes).
	Silent,
}

/// A Resource Provider's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RpKind {
	/// Runs every job and reports what it got.
	Altruistic,
	/// Plays the equilibrium: runs the job with probability p_e, else forges a result.
	Rational,
	/// Byzantine: forges every result without running the job.
	WrongResults,
	/// Byzantine: takes the match and never posts a result.
	Silent,
}

impl JcKind {
	/// Every type, in report order.
	pub const ALL: [JcKind; 5] = [
		JcKind::Altruistic,
		JcKind::Rational,
		JcKind::NonDeterministic,
		JcKind::RejectsCorrect,
		JcKind::Silent,
	];

	/// Whether the type follows the protocol.
	pub fn is_honest(self) -> bool {
		self == JcKind::Altruistic
	}

	/// The name used in reports.
	pub fn label(self) -> &'static str {
		match self {
			JcKind::Altruistic => "JC altruistic",
			JcKind::Rational => "JC rational",
			JcKind::NonDeterministic => "JC byzantine: non-deterministic job",
			JcKind::RejectsCorrect => "JC byzantine: rejects correct results",
			JcKind::Silent => "JC byzantine: silent",
		}
	}
}

impl RpKind {
	/// Every type, in report order.
	pub const ALL: [RpKind; 4] =
		[RpKind::Altruistic, RpKind::Rational, RpKind::WrongResults, RpKind::Silent];

	/// Whether the type follows the protocol.
	pub fn is_honest(self) -> bool {
		self == RpKind::Altruistic
	}

	/// The name used in reports.
	pub fn label(self) -> &'static str {
		match self {
			RpKind::Altruistic => "RP altruistic",
			RpKind::Rational => "RP rational",
			RpKind::WrongResults => "RP byzantine: wrong results",
			RpKind::Silent => "RP byzantine: silent",
		}
	}
}

/// The probabilities each type plays with, fixed for a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Strategies {
	/// p_a of a rational JC's job (the analysis' optimum; 1 = deterministic).
	pub rational_p_a: f64,
	/// p_v: how often a rational JC checks a result.
	pub rational_p_v: f64,
	/// p_e: how often a rational RP runs the job.
	pub rational_p_e: f64,
	/// p_a of a byzantine non-deterministic JC's job.
	pub byzantine_p_a: f64,
}

/// What a JC of `kind` does with its job and its results, as probabilities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JcPlay {
	/// The chance that one run of its job gives the normal result.
	pub p_a: f64,
	/// The chance that it checks a posted result.
	pub p_v: f64,
	/// Disputes every result without checking.
	pub rejects_always: bool,
	/// Never reacts to a result.
	pub silent: bool,
}

/// What an RP of `kind` does with a matched job, as probabilities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RpPlay {
	/// The chance that it runs the job (else it forges a result).
	pub p_e: f64,
	/// Never posts a result.
	pub silent: bool,
}

impl Strategies {
	/// The play of a JC type.
	pub fn jc(&self, kind: JcKind) -> JcPlay {
		let honest = JcPlay { p_a: 1.0, p_v: 1.0, rejects_always: false, silent: false };
		match kind {
			JcKind::Altruistic => honest,
			JcKind::Rational => JcPlay { p_a: self.rational_p_a, p_v: self.rational_p_v, ..honest },
			JcKind::NonDeterministic => JcPlay { p_a: self.byzantine_p_a, ..honest },
			JcKind::RejectsCorrect => JcPlay { p_v: 0.0, rejects_always: true, ..honest },
			JcKind::Silent => JcPlay { p_v: 0.0, silent: true, ..honest },
		}
	}

	/// The play of an RP type.
	pub fn rp(&self, kind: RpKind) -> RpPlay {
		match kind {
			RpKind::Altruistic => RpPlay { p_e: 1.0, silent: false },
			RpKind::Rational => RpPlay { p_e: self.rational_p_e, silent: false },
			RpKind::WrongResults => RpPlay { p_e: 0.0, silent: false },
			RpKind::Silent => RpPlay { p_e: 1.0, silent: true },
		}
	}
}

/// A job's output, as its content hash stands for it on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
	/// What a correct run gives (the only output of a deterministic job).
	Normal,
	/// The other output of a non-deterministic job.
	Abnormal,
	/// What a deceiving RP makes up without running the job.
	Forged,
}

impl Output {
	/// The result hash posted on chain for this output.
	pub fn hash(self) -> [u8; 32] {
		match self {
			Output::Normal => [1; 32],
			Output::Abnormal => [2; 32],
			Output::Forged => [3; 32],
		}
	}
}

/// One run of a job whose runs give the normal output with probability `p_a`.
pub fn run_job(rng: &mut impl Rng, p_a: f64) -> Output {
	if p_a >= 1.0 || rng.gen_bool(p_a.max(0.0)) {
		Output::Normal
	} else {
		Output::Abnormal
	}
}

/// Draws `true` with probability `p` (clamped to [0, 1]).
pub fn chance(rng: &mut impl Rng, p: f64) -> bool {
	rng.gen_bool(p.clamp(0.0, 1.0))
}
