//! The equilibrium quantities of the paper's §5.2 for one set of [`Inputs`].

use serde::{Deserialize, Serialize};

use crate::model::{d_min, figure5_derivative, jc_verify_utility, rp_payoffs, Inputs};
use crate::ResearchError;

/// Width of the bracket at which bisection stops: the reported p_a is within this distance
/// of a zero of ∂U_JC/∂p_a.
pub const ROOT_TOLERANCE: f64 = 1e-12;

/// Number of equal sub-intervals of [0, 1] scanned for sign changes of ∂U_JC/∂p_a before
/// bisecting; zeros closer together than 1/`SCAN_INTERVALS` (or touching zeros without a sign
/// change) can be missed, which the candidates' utility comparison then tolerates.
pub const SCAN_INTERVALS: usize = 4096;

/// Denominators smaller than this are treated as zero (the rate is then undefined).
const DENOMINATOR_EPSILON: f64 = 1e-300;

/// Where the JC's best p_a lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaKind {
	/// Strictly inside (0, 1), at a zero of ∂U_JC/∂p_a (Theorem 3's optimum).
	Interior,
	/// At 0 or 1: no zero of the derivative beats the ends of the interval.
	Boundary,
}

/// The JC's utility-maximising p_a.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Optimum {
	/// The maximiser of the JC's utility over [0, 1].
	pub p_a: f64,
	/// Whether it is a zero of the derivative or an end of [0, 1].
	pub kind: PaKind,
	/// ∂U_JC/∂p_a (p_v = 1) at `p_a`: ≈ 0 when interior.
	pub derivative: f64,
	/// The JC's utility when it verifies, p_e·U_EV + (1−p_e)·U_DV, at `p_a`.
	pub utility: f64,
	/// Every zero of ∂U_JC/∂p_a found in [0, 1], ascending.
	pub stationary_points: Vec<f64>,
}

/// Finds the p_a in [0, 1] that maximises the JC's utility (Theorem 3).
///
/// Method: scan [0, 1] in [`SCAN_INTERVALS`] steps for sign changes of the closed-form
/// derivative, bisect each bracket to [`ROOT_TOLERANCE`], then compare the utility at every
/// zero and at both ends and keep the best (zeros first, so an interior optimum wins ties).
/// The maximiser does not depend on p_v (> 0), which only scales U_JC's p_a-dependent part.
pub fn optimal_p_a(inputs: &Inputs) -> Optimum {
	let f = |p: f64| figure5_derivative(inputs, p);
	let mut roots = Vec::new();
	let step = 1.0 / SCAN_INTERVALS as f64;
	let mut lo = 0.0;
	let mut f_lo = f(lo);
	if f_lo == 0.0 {
		roots.push(lo);
	}
	for i in 1..=SCAN_INTERVALS {
		let hi = if i == SCAN_INTERVALS { 1.0 } else { i as f64 * step };
		let f_hi = f(hi);
		if f_hi == 0.0 {
			roots.push(hi);
		} else if f_lo != 0.0 && (f_lo > 0.0) != (f_hi > 0.0) {
			roots.push(bisect(&f, lo, hi, f_lo));
		}
		lo = hi;
		f_lo = f_hi;
	}

	let candidates = roots.iter().copied().chain([0.0, 1.0]);
	let mut best_p = 0.0;
	let mut best_u = f64::NEG_INFINITY;
	for p in candidates {
		let u = jc_verify_utility(inputs, p);
		if u > best_u {
			best_u = u;
			best_p = p;
		}
	}
	let interior = best_p > ROOT_TOLERANCE && best_p < 1.0 - ROOT_TOLERANCE;
	Optimum {
		p_a: best_p,
		kind: if interior { PaKind::Interior } else { PaKind::Boundary },
		derivative: f(best_p),
		utility: best_u,
		stationary_points: roots,
	}
}

/// Bisection on [lo, hi] where `f` changes sign; `f_lo` is f(lo).
fn bisect<F: Fn(f64) -> f64>(f: &F, mut lo: f64, mut hi: f64, mut f_lo: f64) -> f64 {
	while hi - lo > ROOT_TOLERANCE {
		let mid = 0.5 * (lo + hi);
		let f_mid = f(mid);
		if f_mid == 0.0 {
			return mid;
		}
		if (f_mid > 0.0) == (f_lo > 0.0) {
			lo = mid;
			f_lo = f_mid;
		} else {
			hi = mid;
		}
	}
	0.5 * (lo + hi)
}

/// Eq. 4 solved for p_v at p_a: the verification rate that leaves the RP indifferent between
/// executing and deceiving. Eq. 4 gives p_v = (U_DP − U_EP) / ((U_EV − U_EP) − (U_DV − U_DP))
/// with the RP's Table 2 payoffs; expanding them (the common terms cancel) gives
///
/// ```text
/// p_v = (c_e − c_d) / (p^(n+1)·(π_c(n+θ) + π_d) + p·(π_c − π_d))
/// ```
///
/// which is computed here in this form (subtracting payoffs would lose digits for small
/// p_a) and equals the paper's printed (c_e − c_d) / (p^(n+1)·π_c·(θ+n+1)) when π_d = π_c.
/// `None` when the denominator vanishes (e.g. p_a = 0). Not clamped to [0, 1].
pub fn p_v_equilibrium(inputs: &Inputs, p_a: f64) -> Option<f64> {
	let Inputs { theta, pi_c, pi_d, c_e, c_d, .. } = *inputs;
	let n = inputs.n_f64();
	let den = p_a.powf(n + 1.0) * (pi_c * (n + theta) + pi_d) + p_a * (pi_c - pi_d);
	ratio(c_e - c_d, den)
}

/// The paper's printed eq. 4 solution (§5.2): (c_e − c_d) / (p_a^(n+1)·π_c·(θ+n+1)).
pub fn p_v_paper(inputs: &Inputs, p_a: f64) -> Option<f64> {
	let n = inputs.n_f64();
	ratio(inputs.c_e - inputs.c_d, p_a.powf(n + 1.0) * inputs.pi_c * (inputs.theta + n + 1.0))
}

/// The highest equilibrium verification rate (§5.2): eq. 4 with c_e = π_c and c_d = 0, which
/// is 1 / (p_a^(n+1)·(θ+n+1)) when π_d = π_c. For c_e ≤ π_c and c_d ≥ 0, p_v ≤ this.
pub fn p_v_max(inputs: &Inputs, p_a: f64) -> Option<f64> {
	p_v_equilibrium(&Inputs { c_e: inputs.pi_c, c_d: 0.0, ..*inputs }, p_a)
}

/// Eq. 5 solved for p_e at p_a: the execution rate that leaves the JC indifferent between
/// verifying and passing. Eq. 5 gives p_e = (U_DP − U_DV) / ((U_EV − U_DV) − (U_EP − U_DP))
/// with the JC's Table 3 payoffs; expanding them gives
///
/// ```text
/// p_e = (B − c_v) / (p·B),  B = π_c + p^n·π_d − g_m − π_c(n+θ)(1 − p^n)
/// ```
///
/// (B − c_v = U_DV − U_DP and p·B = (U_DV − U_DP) − (U_EV − U_EP)), which equals the
/// paper's printed form (§5.2) when π_d = π_c. `None` when undefined. Not clamped.
pub fn p_e_equilibrium(inputs: &Inputs, p_a: f64) -> Option<f64> {
	let Inputs { theta, pi_c, pi_d, c_v, g_m, .. } = *inputs;
	let n = inputs.n_f64();
	let pn = p_a.powf(n);
	let b = pi_c + pn * pi_d - g_m - pi_c * (n + theta) * (1.0 - pn);
	ratio(b - c_v, p_a * b)
}

/// The paper's printed eq. 5 solution (§5.2):
/// (2π_c − c_v − g_m − π_c(1−p^n)(n+θ+1)) / (p·(2π_c − g_m − π_c(1−p^n)(n+θ+1))).
pub fn p_e_paper(inputs: &Inputs, p_a: f64) -> Option<f64> {
	let Inputs { theta, pi_c, c_v, g_m, .. } = *inputs;
	let n = inputs.n_f64();
	let a = 2.0 * pi_c - g_m - pi_c * (1.0 - p_a.powf(n)) * (n + theta + 1.0);
	ratio(a - c_v, p_a * a)
}

/// `num / den`, or `None` when `den` is (numerically) zero or the result is not finite.
fn ratio(num: f64, den: f64) -> Option<f64> {
	if den.abs() < DENOMINATOR_EPSILON {
		return None;
	}
	let r = num / den;
	r.is_finite().then_some(r)
}

/// The expected share of jobs that go to mediation.
///
/// Derivation (paper §5.1, Fig. 3): the JC checks a result with probability p_v and requests
/// mediation exactly when the check fails. If the RP executed (probability p_e) the result is
/// the "abnormal" one with probability 1 − p_a, and a cheating JC disputes it (Table 3's U_EV
/// pays g_m with weight 1 − p_a); if the RP deceived (1 − p_e) the check always fails (U_DV
/// always pays g_m). Unverified results are accepted. Hence
///
/// ```text
/// rate = p_v·(p_e·(1 − p_a) + (1 − p_e)) = p_v·(1 − p_e·p_a)
/// ```
///
/// With p_e = 1 this is p_v·(1 − p_a), the paper's "at most 0.02%" for p_v = 0.02, p_a ≥ 0.99.
pub fn mediation_rate(p_v: f64, p_e: f64, p_a: f64) -> f64 {
	p_v * (1.0 - p_e * p_a)
}

/// Everything `modicum research analyze` reports for one set of inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
	/// The inputs analysed.
	pub inputs: Inputs,
	/// The JC's utility-maximising p_a (Theorem 3), assuming the RP executes with `inputs.p_e`.
	pub p_a: f64,
	/// `interior` (a zero of ∂U_JC/∂p_a) or `boundary` (0 or 1).
	pub p_a_kind: PaKind,
	/// One sentence on how `p_a` was found.
	pub p_a_note: String,
	/// ∂U_JC/∂p_a (p_v = 1) at `p_a`; ≈ 0 when interior.
	pub derivative_at_p_a: f64,
	/// Every zero of ∂U_JC/∂p_a in [0, 1].
	pub stationary_points: Vec<f64>,
	/// The JC's utility when it verifies, p_e·U_EV + (1−p_e)·U_DV, at `p_a`.
	pub jc_verify_utility: f64,
	/// p_a^(n+1), the left side of Theorem 2's condition.
	pub p_a_pow_n_plus_1: f64,
	/// Theorem 2's condition p_a^(n+1) > 1/2 (with p_v > 0 the RP then executes with p_e > 0).
	pub theorem2_condition: bool,
	/// U_EV^RP − U_DV^RP at `p_a` (Table 2): > 0 means a verified RP prefers executing.
	pub rp_execute_advantage_when_verified: f64,
	/// Highest equilibrium verification rate, eq. 4 with c_e = π_c, c_d = 0.
	pub p_v_max: Option<f64>,
	/// Eq. 4's p_v solved from Table 2, before clamping; `None` when undefined.
	pub p_v_raw: Option<f64>,
	/// The paper's printed eq. 4 (assumes π_d = π_c).
	pub p_v_paper_formula: Option<f64>,
	/// The JC's equilibrium verification rate: `p_v_raw` clamped to [0, 1] (1 if undefined).
	pub p_v: f64,
	/// Eq. 5's p_e solved from Table 3, before clamping; `None` when undefined.
	pub p_e_raw: Option<f64>,
	/// The paper's printed eq. 5 (assumes π_d = π_c).
	pub p_e_paper_formula: Option<f64>,
	/// The RP's equilibrium execution rate: `p_e_raw` clamped to [0, 1] (`inputs.p_e` if
	/// undefined).
	pub p_e: f64,
	/// Share of jobs that go to mediation at the mixed equilibrium: p_v·(1 − p_e·p_a).
	pub mediation_rate: f64,
	/// Same with an honest RP (p_e = 1): p_v·(1 − p_a), the paper's §5.2 figure.
	pub mediation_rate_honest_rp: f64,
	/// The JC's minimum deposit, eq. 2 with its π̂_c.
	pub d_min_jc: f64,
	/// The RP's minimum deposit, eq. 2 with its π̂_c.
	pub d_min_rp: f64,
	/// Anything a reader should know: clamped rates, violated system constraints (Table 1).
	pub warnings: Vec<String>,
}

/// Analyses one set of inputs: the JC's optimal p_a, Theorem 2, eq. 4, eq. 5, the mediation
/// rate and eq. 2's deposits.
pub fn analyze(inputs: &Inputs) -> Result<Analysis, ResearchError> {
	inputs.validate()?;
	let mut warnings = Vec::new();
	let opt = optimal_p_a(inputs);
	let p_a = opt.p_a;
	let n = inputs.n_f64();

	let p_a_note = match opt.kind {
		PaKind::Interior => format!(
			"∂U_JC/∂p_a = 0 at p_a = {p_a:.6} and the JC's utility is highest there (Theorem 3)"
		),
		PaKind::Boundary if opt.stationary_points.is_empty() => format!(
			"∂U_JC/∂p_a never changes sign on [0, 1] (it is {:+.4} at p_a = {p_a}); the \
			 JC's utility is highest at the boundary p_a = {p_a}",
			opt.derivative
		),
		PaKind::Boundary => {
			format!("the JC's utility at the boundary p_a = {p_a} beats every zero of ∂U_JC/∂p_a")
		},
	};

	let pow = p_a.powf(n + 1.0);
	let rp = rp_payoffs(inputs, p_a);

	let p_v_raw = p_v_equilibrium(inputs, p_a);
	let p_v = match p_v_raw {
		Some(v) if (0.0..=1.0).contains(&v) => v,
		Some(v) if v > 1.0 => {
			warnings.push(format!(
				"eq. 4 gives p_v = {v:.4} > 1: no mixed equilibrium; even a JC that always \
				 verifies cannot make the RP indifferent, so p_v is clamped to 1"
			));
			1.0
		},
		Some(v) => {
			warnings.push(format!(
				"eq. 4 gives p_v = {v:.4} < 0: the RP prefers executing at any p_v, so p_v \
				 is clamped to 0"
			));
			0.0
		},
		None => {
			warnings.push(
				"eq. 4 is undefined at this p_a (zero denominator); p_v is set to 1".to_string(),
			);
			1.0
		},
	};

	let p_e_raw = p_e_equilibrium(inputs, p_a);
	let p_e = match p_e_raw {
		Some(v) if (0.0..=1.0).contains(&v) => v,
		Some(v) => {
			let clamped = v.clamp(0.0, 1.0);
			warnings.push(format!(
				"eq. 5 gives p_e = {v:.4}, outside [0, 1]: no mixed equilibrium for this JC \
				 type; p_e is clamped to {clamped}"
			));
			clamped
		},
		None => {
			warnings.push(format!(
				"eq. 5 is undefined at this p_a (zero denominator); p_e is taken as the \
				 input p_e = {}",
				inputs.p_e
			));
			inputs.p_e
		},
	};

	if pow <= 0.5 {
		warnings
			.push(format!("Theorem 2's condition fails: p_a^(n+1) = {pow:.4} ≤ 1/2; raise n or θ"));
	}
	constraint_warnings(inputs, &mut warnings);

	Ok(Analysis {
		inputs: *inputs,
		p_a,
		p_a_kind: opt.kind,
		p_a_note,
		derivative_at_p_a: opt.derivative,
		stationary_points: opt.stationary_points,
		jc_verify_utility: opt.utility,
		p_a_pow_n_plus_1: pow,
		theorem2_condition: pow > 0.5,
		rp_execute_advantage_when_verified: rp.ev - rp.dv,
		p_v_max: p_v_max(inputs, p_a),
		p_v_raw,
		p_v_paper_formula: p_v_paper(inputs, p_a),
		p_v,
		p_e_raw,
		p_e_paper_formula: p_e_paper(inputs, p_a),
		p_e,
		mediation_rate: mediation_rate(p_v, p_e, p_a),
		mediation_rate_honest_rp: mediation_rate(p_v, 1.0, p_a),
		d_min_jc: d_min(inputs.pi_hat_jc(), inputs.theta, inputs.n, inputs.pi_a),
		d_min_rp: d_min(inputs.pi_hat_rp(), inputs.theta, inputs.n, inputs.pi_a),
		warnings,
	})
}

/// Notes on the system constraints of Table 1 that the inputs break.
fn constraint_warnings(i: &Inputs, warnings: &mut Vec<String>) {
	if i.b <= i.pi_c + i.pi_a + i.g_j {
		warnings.push(format!(
			"constraint 1 fails: b = {} ≤ π_c + π_a + g_j = {}, so an honest JC gains nothing",
			i.b,
			i.pi_c + i.pi_a + i.g_j
		));
	}
	if i.c_e <= i.c_d || i.c_d <= 0.0 {
		warnings.push(format!(
			"constraint 4 (c_e > c_d > 0) fails with c_e = {}, c_d = {}; fine for the \
			 worst case p_v_max (c_e = π_c, c_d = 0) but not a real RP",
			i.c_e, i.c_d
		));
	}
	if i.c_e >= i.pi_c {
		warnings.push(format!(
			"constraint 5 (π_c > c_e) fails with π_c = {}, c_e = {}: an RP would not execute \
			 at a loss",
			i.pi_c, i.c_e
		));
	}
	if (i.pi_d - i.pi_c).abs() > f64::EPSILON * i.pi_c.max(1.0) {
		warnings.push(format!(
			"π_d = {} ≠ π_c = {}: the paper's printed eq. 4/5 assume π_d = π_c; the rates \
			 reported are solved from Tables 2 and 3 directly",
			i.pi_d, i.pi_c
		));
	}
}

/// Formats a number for the table: fixed six decimals, scientific when very large or small.
fn num(x: f64) -> String {
	if x != 0.0 && (x.abs() >= 1e6 || x.abs() < 1e-4) {
		format!("{x:.4e}")
	} else {
		format!("{x:.6}")
	}
}

/// Formats an optional rate.
fn opt_num(x: Option<f64>) -> String {
	x.map_or_else(|| "undefined".to_string(), num)
}

impl Analysis {
	/// A table for people: one row per quantity, with its value and what it means.
	pub fn to_table(&self) -> String {
		let i = &self.inputs;
		let pct = |x: f64| format!("{} ({:.4} %)", num(x), 100.0 * x);
		let inputs = [
			row("n", i.n.to_string(), "mediator re-runs of a disputed job"),
			row("θ", num(i.theta), "penalty rate (deposit multiplier)"),
			row("π_c", num(i.pi_c), "price the JC pays for a completed job"),
			row("π_d", num(i.pi_d), "payout to the wronged party after mediation"),
			row("c_e", num(i.c_e), "RP's cost to execute"),
			row("c_d", num(i.c_d), "RP's cost to forge a result"),
			row("c_v", num(i.c_v), "JC's cost to verify a result"),
			row("b", num(i.b), "JC's benefit from a correct result"),
			row("g_j", num(i.g_j), "JC's platform cost"),
			row("g_r", num(i.g_r), "RP's platform cost"),
			row("g_m", num(i.g_m), "cost of requesting mediation"),
			row("π_a", num(i.pi_a), "availability payments (mediator, directory, solver)"),
			row("p_e (assumed)", num(i.p_e), "RP execution rate the JC assumes for p_a"),
			row("π̂_c (JC)", num(i.pi_hat_jc()), "JC's estimate of the job value"),
			row("π̂_c (RP)", num(i.pi_hat_rp()), "RP's estimate of the job value"),
		];
		let kind = match self.p_a_kind {
			PaKind::Interior => "interior",
			PaKind::Boundary => "boundary",
		};
		let results = [
			row(
				"optimal p_a",
				num(self.p_a),
				&format!("JC's best chance its job looks deterministic ({kind})"),
			),
			row("∂U_JC/∂p_a there", num(self.derivative_at_p_a), "≈ 0 at an interior optimum"),
			row("U_JC when verifying", num(self.jc_verify_utility), "p_e·U_EV + (1−p_e)·U_DV"),
			row("p_a^(n+1)", num(self.p_a_pow_n_plus_1), "Theorem 2 needs this > 1/2"),
			row(
				"Theorem 2 holds",
				if self.theorem2_condition { "yes" } else { "no" }.to_string(),
				"with p_v > 0 a rational RP then executes with p_e > 0",
			),
			row(
				"U_EV^RP − U_DV^RP",
				num(self.rp_execute_advantage_when_verified),
				"> 0: a verified RP prefers to execute (Table 2)",
			),
			row("p_v max", opt_num(self.p_v_max), "highest equilibrium verification rate"),
			row("p_v", num(self.p_v), "JC's equilibrium verification rate (eq. 4)"),
			row("p_v (eq. 4, raw)", opt_num(self.p_v_raw), "before clamping to [0, 1]"),
			row("p_e", num(self.p_e), "RP's equilibrium execution rate (eq. 5)"),
			row("p_e (eq. 5, raw)", opt_num(self.p_e_raw), "before clamping to [0, 1]"),
			row("mediation rate", pct(self.mediation_rate), "p_v·(1 − p_e·p_a): jobs disputed"),
			row(
				"… with honest RP",
				pct(self.mediation_rate_honest_rp),
				"p_v·(1 − p_a), the paper's §5.2 figure",
			),
			row("d_min (JC)", num(self.d_min_jc), "π̂_c·θ + π̂_c·n + π_a (eq. 2)"),
			row("d_min (RP)", num(self.d_min_rp), "π̂_c·θ + π̂_c·n + π_a (eq. 2)"),
		];
		let all = || inputs.iter().chain(&results);
		let w0 = all().map(|r| r.0.chars().count()).max().unwrap_or_default();
		let w1 = all().map(|r| r.1.chars().count()).max().unwrap_or_default();
		let mut out = String::new();
		let mut section = |title: &str, rows: &[(String, String, String)]| {
			out.push_str(title);
			out.push('\n');
			for (name, value, what) in rows {
				out.push_str(&format!("  {name:<w0$}  {value:>w1$}  {what}\n"));
			}
		};
		section("Inputs (amounts in units of π_c's currency)", inputs.as_slice());
		section("Results", results.as_slice());
		out.push_str(&format!("Note: {}\n", self.p_a_note));
		for w in &self.warnings {
			out.push_str(&format!("Warning: {w}\n"));
		}
		out
	}

	/// The analysis as pretty-printed JSON, for scripts.
	pub fn to_json(&self) -> Result<String, ResearchError> {
		Ok(serde_json::to_string_pretty(self)?)
	}
}

/// One table row.
fn row(name: &str, value: String, what: &str) -> (String, String, String) {
	(name.to_string(), value, what.to_string())
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::model::{jc_expected_utility, jc_expected_utility_derivative, jc_payoffs, Payoffs};

	/// |a − b| small relative to the payoffs that were mixed (which carry the rounding).
	fn indifferent(a: f64, b: f64, weight: f64, t: &Payoffs) -> bool {
		let scale = (1.0 + weight.abs()) * (t.ev.abs() + t.ep.abs() + t.dv.abs() + t.dp.abs());
		(a - b).abs() <= 1e-12 * scale.max(1.0)
	}

	fn opt(inputs: &Inputs) -> Optimum {
		optimal_p_a(inputs)
	}

	fn analysis(inputs: &Inputs) -> Analysis {
		analyze(inputs).unwrap()
	}

	#[test]
	fn reproduces_the_papers_numbers() {
		// §5.2: n = 1 → 0.5, n = 4 → 0.943 under Figure 5's parameters.
		let one = opt(&Inputs::paper_figure5());
		assert_eq!(one.kind, PaKind::Interior);
		assert!((one.p_a - 0.5).abs() < 1e-9, "{}", one.p_a);
		let four = opt(&Inputs { n: 4, ..Inputs::paper_figure5() });
		assert!((four.p_a - 0.943).abs() < 5e-4, "{}", four.p_a);
		// "n = 2 and θ = 50 ... yields a minimum p_a = 0.99"; p_v = 0.02; mediation ≤ 0.02 %.
		let chain = analysis(&Inputs::default());
		assert_eq!(chain.p_a_kind, PaKind::Interior);
		assert!((0.99..0.991).contains(&chain.p_a), "{}", chain.p_a);
		assert!(chain.theorem2_condition);
		assert!((chain.p_v - 0.02).abs() < 1e-3, "{}", chain.p_v);
		assert!(chain.mediation_rate_honest_rp <= 0.0002, "{}", chain.mediation_rate_honest_rp);
		// Figure 5's n = 1 optimum fails Theorem 2: 0.5² ≤ 1/2.
		assert!(!analysis(&Inputs::paper_figure5()).theorem2_condition);
	}

	#[test]
	fn the_root_zeroes_the_derivative_and_is_a_maximum() {
		for n in 1..=8u32 {
			for theta in [0.0, 0.5, 2.0, 10.0, 50.0, 200.0] {
				for g_m in [0.0, 1.0] {
					for p_e in [1.0, 0.99] {
						let inputs = Inputs { n, theta, g_m, p_e, ..Inputs::default() };
						let o = opt(&inputs);
						let ctx = format!("n={n} θ={theta} g_m={g_m} p_e={p_e}");
						for &r in &o.stationary_points {
							// Within ROOT_TOLERANCE of a sign change: |f(r)| ≤ |f'|·tol.
							let slope = (figure5_derivative(&inputs, (r + 1e-6).min(1.0))
								- figure5_derivative(&inputs, (r - 1e-6).max(0.0)))
							.abs() / 2e-6;
							assert!(
								figure5_derivative(&inputs, r).abs()
									<= slope * 2.0 * ROOT_TOLERANCE + 1e-9,
								"{ctx}: f({r}) = {}",
								figure5_derivative(&inputs, r)
							);
						}
						if o.kind == PaKind::Interior {
							assert!(o.derivative.abs() < 1e-8, "{ctx}: {}", o.derivative);
						}
						// No grid point beats the reported optimum.
						for k in 0..=1000 {
							let p = f64::from(k) / 1000.0;
							assert!(
								jc_verify_utility(&inputs, p) <= o.utility + 1e-9,
								"{ctx}: U({p}) > U({})",
								o.p_a
							);
						}
					}
				}
			}
		}
	}

	#[test]
	fn p_v_does_not_move_the_optimum() {
		let inputs = Inputs { n: 3, theta: 5.0, g_m: 0.5, p_e: 0.98, ..Inputs::default() };
		let best = opt(&inputs).p_a;
		for p_v in [0.01, 0.3, 1.0] {
			assert!(jc_expected_utility_derivative(&inputs, best, p_v).abs() < 1e-8);
			for k in 0..=200 {
				let p = f64::from(k) / 200.0;
				assert!(
					jc_expected_utility(&inputs, p, p_v)
						<= jc_expected_utility(&inputs, best, p_v) + 1e-9
				);
			}
		}
	}

	#[test]
	fn boundary_optimum_is_reported_as_such() {
		// A JC that expects the RP to deceive often gains from p_a → 1 (U_DV rises with p_a).
		let a = analysis(&Inputs { p_e: 0.2, ..Inputs::default() });
		assert_eq!(a.p_a_kind, PaKind::Boundary);
		assert_eq!(a.p_a, 1.0);
		assert!(a.p_a_note.contains("boundary"));
		// A mediation fee as large as π_c + π_d makes the derivative ≥ 0 on all of [0, 1].
		let b = analysis(&Inputs { g_m: 5.0, ..Inputs::paper_figure5() });
		assert_eq!(b.p_a_kind, PaKind::Boundary);
		assert_eq!(b.p_a, 1.0);
	}

	/// Optimal p_a along a parameter, for the monotonicity tests.
	fn along(values: &[f64], make: impl Fn(f64) -> Inputs) -> Vec<f64> {
		values.iter().map(|&v| opt(&make(v)).p_a).collect()
	}

	fn non_decreasing(xs: &[f64]) -> bool {
		xs.windows(2).all(|w| w[1] >= w[0] - 1e-9)
	}

	fn strictly_increasing(xs: &[f64]) -> bool {
		xs.windows(2).all(|w| w[1] > w[0])
	}

	#[test]
	fn theorem3_p_a_rises_with_n() {
		for theta in [0.0, 1.0, 10.0, 50.0] {
			for p_e in [1.0, 0.99] {
				let ns: Vec<f64> = (1..=10).map(f64::from).collect();
				let pas = along(&ns, |n| Inputs { n: n as u32, theta, p_e, ..Inputs::default() });
				assert!(non_decreasing(&pas), "θ={theta} p_e={p_e}: {pas:?}");
				if p_e == 1.0 {
					assert!(strictly_increasing(&pas), "θ={theta}: {pas:?}");
				}
			}
		}
	}

	#[test]
	fn theorem3_p_a_rises_with_theta() {
		let thetas = [0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0];
		for n in [1u32, 2, 4] {
			for g_m in [0.0, 1.0] {
				let pas = along(&thetas, |theta| Inputs { n, theta, g_m, ..Inputs::default() });
				assert!(strictly_increasing(&pas), "n={n} g_m={g_m}: {pas:?}");
			}
		}
	}

	#[test]
	fn theorem3_p_a_rises_with_g_m() {
		// Interior while g_m < π_c + π_d (= 4 here); at and above it the optimum is p_a = 1.
		let gms = [0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 3.9];
		for n in [1u32, 2, 4] {
			for theta in [0.0, 10.0, 50.0] {
				let pas = along(&gms, |g_m| Inputs { n, theta, g_m, ..Inputs::default() });
				assert!(strictly_increasing(&pas), "n={n} θ={theta}: {pas:?}");
			}
		}
		assert_eq!(opt(&Inputs { g_m: 4.5, ..Inputs::default() }).p_a, 1.0);
	}

	#[test]
	fn theorem3_p_a_falls_with_p_e() {
		let pes = [0.0, 0.2, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0];
		for n in [1u32, 2, 4] {
			for theta in [0.0, 10.0, 50.0] {
				let mut pas = along(&pes, |p_e| Inputs { n, theta, p_e, ..Inputs::default() });
				pas.reverse();
				assert!(non_decreasing(&pas), "n={n} θ={theta}: {pas:?} (p_e descending)");
				// The worst case p_e = 1 is strictly below the fully dishonest-RP case.
				assert!(pas[0] < pas[pas.len() - 1], "n={n} θ={theta}: {pas:?}");
			}
		}
	}

	#[test]
	fn theorem3_p_a_and_pi_c_where_the_claim_holds_and_where_not() {
		let pis = [0.5, 1.0, 2.0, 4.0, 8.0];
		for n in [1u32, 2, 4] {
			for theta in [0.0, 10.0, 50.0] {
				// π_d = π_c (Table 4's assumption, and the chain's rule) and g_m > 0: the
				// claim holds, p_a falls strictly as π_c rises.
				let tied = along(&pis, |pi_c| Inputs {
					n,
					theta,
					pi_c,
					pi_d: pi_c,
					g_m: 0.5,
					..Inputs::default()
				});
				let mut rev = tied.clone();
				rev.reverse();
				assert!(strictly_increasing(&rev), "n={n} θ={theta}: {tied:?}");

				// π_d = π_c and g_m = 0 (Figure 5's worst case): ∂U/∂p_a is π_c times a
				// function of p_a alone, so π_c does not move p_a at all.
				let flat = along(&pis, |pi_c| Inputs {
					n,
					theta,
					pi_c,
					pi_d: pi_c,
					g_m: 0.0,
					..Inputs::default()
				});
				assert!(
					flat.iter().all(|p| (p - flat[0]).abs() < 1e-9),
					"n={n} θ={theta}: {flat:?}"
				);
			}
		}
		// π_d held fixed while π_c varies, g_m = 0: the claim FAILS for θ > 0; p_a rises
		// with π_c, because a dearer job raises the deposit the JC loses when caught
		// (π_c(n+θ)) more than the price it saves.
		for n in [1u32, 2, 4] {
			for theta in [1.0, 10.0, 50.0] {
				let pas =
					along(&pis, |pi_c| Inputs { n, theta, pi_c, pi_d: 2.0, ..Inputs::default() });
				assert!(strictly_increasing(&pas), "n={n} θ={theta}: {pas:?}");
			}
		}
		// ... and with n = 1, θ = 0 it is flat at 1/2 (∂U/∂p_a = (π_c + π_d)(1 − 2p_a)).
		let base =
			along(&pis, |pi_c| Inputs { n: 1, theta: 0.0, pi_c, pi_d: 2.0, ..Inputs::default() });
		assert!(base.iter().all(|p| (p - 0.5).abs() < 1e-9), "{base:?}");
	}

	#[test]
	fn eq4_p_v_is_at_most_its_maximum_and_makes_the_rp_indifferent() {
		for n in 1..=6u32 {
			for theta in [0.0, 1.0, 10.0, 50.0] {
				for (c_e, c_d) in [(2.0, 0.0), (1.5, 0.5), (1.0, 0.1), (0.3, 0.2)] {
					for pi_d in [2.0, 3.0] {
						let i = Inputs { n, theta, c_e, c_d, pi_d, ..Inputs::default() };
						for k in 1..=20 {
							let p = f64::from(k) / 20.0;
							let ctx =
								format!("n={n} θ={theta} c_e={c_e} c_d={c_d} π_d={pi_d} p={p}");
							let v = p_v_equilibrium(&i, p).unwrap();
							let max = p_v_max(&i, p).unwrap();
							// With π_d > π_c the denominator p^(n+1)(π_c(n+θ)+π_d) + p(π_c−π_d)
							// turns negative for small p_a: no mixed equilibrium there, and
							// both "rates" are negative. Where p_v is a rate, the bound holds.
							if pi_d == i.pi_c {
								assert!(v >= 0.0, "{ctx}: {v}");
							}
							if v >= 0.0 {
								assert!(v <= max, "{ctx}: {v} > {max}");
							} else {
								assert!(pi_d > i.pi_c && max < 0.0, "{ctx}: {v}, {max}");
							}
							// Eq. 4 holds with Table 2's payoffs: the RP is indifferent.
							let rp = rp_payoffs(&i, p);
							let exec = v * rp.ev + (1.0 - v) * rp.ep;
							let dec = v * rp.dv + (1.0 - v) * rp.dp;
							assert!(indifferent(exec, dec, v, &rp), "{ctx}: {exec} vs {dec}");
							if pi_d == i.pi_c {
								// The paper's printed forms (§5.2).
								let nf = f64::from(n);
								let printed_max = 1.0 / (p.powf(nf + 1.0) * (theta + nf + 1.0));
								assert!((max - printed_max).abs() <= 1e-9 * printed_max, "{ctx}");
								let printed = p_v_paper(&i, p).unwrap();
								assert!((v - printed).abs() <= 1e-9 * v.abs().max(1.0), "{ctx}");
							}
						}
					}
				}
			}
		}
	}

	#[test]
	fn printed_eq4_and_eq5_assume_pi_d_equals_pi_c() {
		let i = Inputs {
			n: 2,
			theta: 5.0,
			pi_d: 3.0,
			c_e: 1.5,
			c_d: 0.5,
			g_m: 0.2,
			..Inputs::default()
		};
		let p = 0.95;
		let v = p_v_equilibrium(&i, p).unwrap();
		let e = p_e_equilibrium(&i, p).unwrap();
		assert!((p_v_paper(&i, p).unwrap() - v).abs() > 1e-6);
		assert!((p_e_paper(&i, p).unwrap() - e).abs() > 1e-6);
		// The general solutions still satisfy eq. 4 and eq. 5 with Tables 2 and 3.
		let rp = rp_payoffs(&i, p);
		assert!(indifferent(v * rp.ev + (1.0 - v) * rp.ep, v * rp.dv + (1.0 - v) * rp.dp, v, &rp));
		let jc = jc_payoffs(&i, p);
		assert!(indifferent(e * jc.ev + (1.0 - e) * jc.dv, e * jc.ep + (1.0 - e) * jc.dp, e, &jc));
	}

	#[test]
	fn eq5_p_e_matches_the_printed_formula_and_makes_the_jc_indifferent() {
		for n in 1..=5u32 {
			for theta in [0.0, 2.0, 50.0] {
				for (c_v, g_m) in [(1.0, 0.0), (0.5, 0.7)] {
					let i = Inputs { n, theta, c_v, g_m, ..Inputs::default() };
					for k in 1..=20 {
						let p = f64::from(k) / 20.0;
						let (Some(e), Some(printed)) = (p_e_equilibrium(&i, p), p_e_paper(&i, p))
						else {
							continue;
						};
						let ctx = format!("n={n} θ={theta} c_v={c_v} g_m={g_m} p={p}");
						// Close to eq. 5's pole (B = 0) rounding dominates; compare elsewhere.
						if e.abs() < 1e3 {
							assert!(
								(e - printed).abs() <= 1e-9 * e.abs().max(1.0),
								"{ctx}: {e} vs {printed}"
							);
						}
						let jc = jc_payoffs(&i, p);
						let verify = e * jc.ev + (1.0 - e) * jc.dv;
						let pass = e * jc.ep + (1.0 - e) * jc.dp;
						assert!(indifferent(verify, pass, e, &jc), "{ctx}: {verify} vs {pass}");
					}
				}
			}
		}
	}

	#[test]
	fn mediation_rate_follows_the_derivation() {
		let a = analysis(&Inputs::default());
		assert!((a.mediation_rate - a.p_v * (1.0 - a.p_e * a.p_a)).abs() < 1e-15);
		assert!((a.mediation_rate_honest_rp - a.p_v * (1.0 - a.p_a)).abs() < 1e-15);
		assert_eq!(mediation_rate(0.5, 0.0, 0.9), 0.5);
		assert_eq!(mediation_rate(0.0, 0.3, 0.9), 0.0);
	}

	#[test]
	fn d_min_uses_each_sides_estimate() {
		let i =
			Inputs { pi_hat_jc: Some(3.0), pi_hat_rp: Some(2.5), pi_a: 0.25, ..Inputs::default() };
		let a = analysis(&i);
		assert_eq!(a.d_min_jc, 3.0 * 50.0 + 3.0 * 2.0 + 0.25);
		assert_eq!(a.d_min_rp, 2.5 * 50.0 + 2.5 * 2.0 + 0.25);
		let d = analysis(&Inputs::default());
		assert_eq!(d.d_min_jc, 2.0 * 50.0 + 2.0 * 2.0);
		assert_eq!(d.d_min_jc, d.d_min_rp);
	}

	#[test]
	fn table_and_json() {
		let a = analysis(&Inputs::default());
		let t = a.to_table();
		for needle in ["optimal p_a", "Theorem 2 holds", "p_v max", "mediation rate", "d_min (JC)"]
		{
			assert!(t.contains(needle), "missing {needle} in\n{t}");
		}
		let json = a.to_json().unwrap();
		let back: Analysis = serde_json::from_str(&json).unwrap();
		assert_eq!(back.p_a_kind, a.p_a_kind);
		assert!(json.contains("\"p_a_kind\": \"interior\""));
		assert!((back.p_a - a.p_a).abs() < 1e-15);
	}

	#[test]
	fn analyze_rejects_invalid_inputs() {
		assert!(matches!(
			analyze(&Inputs { n: 0, ..Inputs::default() }),
			Err(ResearchError::InvalidInput(_))
		));
	}
}
