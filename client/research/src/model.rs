//! The game of the paper's §5: parameters, the payoff tables and their derivatives.
//!
//! Notation follows the paper (Table 1). `p` below is p_a, the chance that a job of a
//! cheating ("non-deterministic") JC returns the normal result, and `P = p^n` is the chance
//! that all n mediator runs see that normal result.
//!
//! JC payoffs, Table 3 (paper §5.1):
//!
//! ```text
//! U_EV = b − g_j − π_c(n+θ)(1−p)(1−P) + (1−p)(−g_m + P·π_d) − c_v − p·π_c − π_a
//! U_EP = b − g_j − π_a − π_c
//! U_DV = −c_v − g_j − g_m + P·π_d − π_a − π_c(n − P(n+θ) + θ)
//! U_DP = −g_j − π_a − π_c
//! ```
//!
//! RP payoffs, Table 2 (paper §5.1):
//!
//! ```text
//! U_EV = −c_e − g_r − π_a + π_c(n·P(p−1) + p + P·θ(p−1)) + π_d(1−p)(1−P)
//! U_EP = π_c − c_e − g_r − π_a
//! U_DV = −c_d − g_r − π_a + P·π_c(−n−θ) + π_d(1−P)
//! U_DP = π_c − c_d − g_r − π_a
//! ```
//!
//! The JC's expected utility mixes the four cells with the RP's execution rate p_e and its
//! own verification rate p_v (the same mix as the original authors' analysis notebooks):
//!
//! ```text
//! U_JC(p) = p_v·[p_e·U_EV + (1−p_e)·U_DV] + (1−p_v)·[p_e·U_EP + (1−p_e)·U_DP]
//! ```
//!
//! U_EP and U_DP do not depend on p, so ∂U_JC/∂p = p_v·[p_e·U_EV' + (1−p_e)·U_DV'] and the
//! maximising p does not depend on p_v (as long as p_v > 0). The paper's Figure 5 plots this
//! derivative with p_v = 1 ("the JC verifies"); with π_c = π_d = 2, θ = 0, g_m = 0, p_e = 1 it
//! crosses zero at 0.5 for n = 1 and at 0.943 for n = 4, exactly the values in §5.2.

use serde::{Deserialize, Serialize};

use crate::ResearchError;

/// Largest verification count accepted, so that `n` fits the `i32` exponent of `powi`.
pub const MAX_N: u32 = 100_000;

/// The game's parameters (paper Table 1). Amounts are in one currency unit, the unit of π_c.
///
/// `Inputs::default()` is the chain's genesis setting (n = 2, θ = 50) with the paper's
/// Figure 5 values for everything else; `Inputs::paper_figure5()` is the figure's worst case.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Inputs {
	/// θ: penalty rate set by the contract; the deposit holds π̂_c·θ as the fine.
	pub theta: f64,
	/// n: how many times the mediator re-runs a disputed job (must be at least 1).
	pub n: u32,
	/// π_c: what the JC pays the RP for a completed job.
	pub pi_c: f64,
	/// π_d: what the wronged party is paid when the mediator finds a fault
	/// (the chain pays the actual job price, so π_d = π_c there).
	pub pi_d: f64,
	/// c_e: the RP's cost of executing the job.
	pub c_e: f64,
	/// c_d: the RP's cost of forging a wrong result ("deceiving").
	pub c_d: f64,
	/// c_v: the JC's cost of verifying a result.
	pub c_v: f64,
	/// b: the JC's benefit from a correct result.
	pub b: f64,
	/// g_j: the JC's cost of using the platform (transactions, solver share).
	pub g_j: f64,
	/// g_r: the RP's cost of using the platform.
	pub g_r: f64,
	/// g_m: the cost of requesting mediation.
	pub g_m: f64,
	/// π_a: availability payments to the mediator, directory and solver, paid by each side.
	pub pi_a: f64,
	/// p_e: the chance the RP executes honestly, as the JC assumes when it picks p_a
	/// (1 is the worst case: it gives the lowest optimal p_a).
	pub p_e: f64,
	/// π̂_c of the JC (its limits × its maximum prices), for its deposit; `None` means π_c.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub pi_hat_jc: Option<f64>,
	/// π̂_c of the RP (its caps × its prices), for its deposit; `None` means π_c.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub pi_hat_rp: Option<f64>,
}

impl Default for Inputs {
	/// The chain's genesis parameters n = 2, θ = 50 (paper §5.2: "we set n = 2 and θ = 50"),
	/// everything else as in [`Inputs::paper_figure5`].
	fn default() -> Self {
		Self { n: 2, theta: 50.0, ..Self::paper_figure5() }
	}
}

impl Inputs {
	/// The paper's Figure 5 setting, the worst case of Theorem 3: π_c = 2, θ = 0, g_m = 0,
	/// c_v = 1, b = 4, p_e = 1 and n = 1 (the figure varies n).
	///
	/// The figure does not give the other parameters; we pick:
	/// - π_d = π_c = 2: Table 4 and eq. 4/5 assume it, the chain pays it, and only with it does
	///   the figure's derivative cross zero at the quoted 0.5 (n = 1) and 0.943 (n = 4);
	/// - c_e = π_c = 2, c_d = 0: §5.2's substitution for the highest verification rate, which
	///   gives the quoted p_v ≈ 0.02 at n = 2, θ = 50 (it sits on the edge of constraints 4–5);
	/// - g_j = g_r = π_a = 0: they shift utilities by constants and change no result but d_min.
	pub fn paper_figure5() -> Self {
		Self {
			theta: 0.0,
			n: 1,
			pi_c: 2.0,
			pi_d: 2.0,
			c_e: 2.0,
			c_d: 0.0,
			c_v: 1.0,
			b: 4.0,
			g_j: 0.0,
			g_r: 0.0,
			g_m: 0.0,
			pi_a: 0.0,
			p_e: 1.0,
			pi_hat_jc: None,
			pi_hat_rp: None,
		}
	}

	/// Checks the inputs the formulas need: finite, non-negative amounts, π_c > 0,
	/// 1 ≤ n ≤ [`MAX_N`], θ ≥ 0 (constraint 2) and p_e in [0, 1].
	pub fn validate(&self) -> Result<(), ResearchError> {
		let amounts = [
			("theta", self.theta),
			("pi_c", self.pi_c),
			("pi_d", self.pi_d),
			("c_e", self.c_e),
			("c_d", self.c_d),
			("c_v", self.c_v),
			("b", self.b),
			("g_j", self.g_j),
			("g_r", self.g_r),
			("g_m", self.g_m),
			("pi_a", self.pi_a),
			("pi_hat_jc", self.pi_hat_jc.unwrap_or_default()),
			("pi_hat_rp", self.pi_hat_rp.unwrap_or_default()),
		];
		for (name, value) in amounts {
			if !value.is_finite() || value < 0.0 {
				return Err(ResearchError::InvalidInput(format!(
					"{name} must be a finite number ≥ 0, got {value}"
				)));
			}
		}
		if self.pi_c <= 0.0 {
			return Err(ResearchError::InvalidInput(format!(
				"pi_c must be > 0 (eq. 4 divides by it), got {}",
				self.pi_c
			)));
		}
		if self.n == 0 || self.n > MAX_N {
			return Err(ResearchError::InvalidInput(format!(
				"n must be between 1 and {MAX_N} (constraint 3: n > 0), got {}",
				self.n
			)));
		}
		if !(0.0..=1.0).contains(&self.p_e) {
			return Err(ResearchError::InvalidInput(format!(
				"p_e is a probability and must lie in [0, 1], got {}",
				self.p_e
			)));
		}
		Ok(())
	}

	/// n as a float, for the formulas.
	pub fn n_f64(&self) -> f64 {
		f64::from(self.n)
	}

	/// π̂_c of the JC: `pi_hat_jc`, or π_c when not given.
	pub fn pi_hat_jc(&self) -> f64 {
		self.pi_hat_jc.unwrap_or(self.pi_c)
	}

	/// π̂_c of the RP: `pi_hat_rp`, or π_c when not given.
	pub fn pi_hat_rp(&self) -> f64 {
		self.pi_hat_rp.unwrap_or(self.pi_c)
	}
}

/// One value per cell of a 2×2 payoff table: RP executes (E) or deceives (D), JC verifies (V)
/// or passes (P).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payoffs {
	/// ⟨execute, verify⟩.
	pub ev: f64,
	/// ⟨execute, pass⟩.
	pub ep: f64,
	/// ⟨deceive, verify⟩.
	pub dv: f64,
	/// ⟨deceive, pass⟩.
	pub dp: f64,
}

/// p^n, with n ≤ [`MAX_N`] so the cast cannot wrap.
fn pow_n(p: f64, n: u32) -> f64 {
	p.powi(n.min(MAX_N) as i32)
}

/// d(p^n)/dp = n·p^(n−1); for n = 1 this is 1 everywhere, including p = 0.
fn dpow_n(p: f64, n: u32) -> f64 {
	if n == 0 {
		0.0
	} else {
		f64::from(n) * pow_n(p, n - 1)
	}
}

/// The JC's payoffs at p_a (Table 3).
pub fn jc_payoffs(inputs: &Inputs, p_a: f64) -> Payoffs {
	let Inputs { theta, pi_c, pi_d, c_v, b, g_j, g_m, pi_a, .. } = *inputs;
	let n = inputs.n_f64();
	let p = p_a;
	let pn = pow_n(p, inputs.n);
	Payoffs {
		ev: b - g_j - pi_c * (n + theta) * (1.0 - p) * (1.0 - pn) + (1.0 - p) * (-g_m + pn * pi_d)
			- c_v - p * pi_c
			- pi_a,
		ep: b - g_j - pi_a - pi_c,
		dv: -c_v - g_j - g_m + pn * pi_d - pi_a - pi_c * (n - pn * (n + theta) + theta),
		dp: -g_j - pi_a - pi_c,
	}
}

/// ∂/∂p_a of each JC payoff, in closed form:
///
/// ```text
/// U_EV' = π_c(n+θ)[(1−P) + (1−p)·nP/p] + g_m − π_d·P + π_d(1−p)·nP/p − π_c
/// U_DV' = n·p^(n−1)·(π_d + π_c(n+θ))
/// U_EP' = U_DP' = 0
/// ```
/// (`nP/p` is written n·p^(n−1) in the code so that p = 0 is fine.)
pub fn jc_payoff_derivatives(inputs: &Inputs, p_a: f64) -> Payoffs {
	let Inputs { theta, pi_c, pi_d, g_m, .. } = *inputs;
	let n = inputs.n_f64();
	let p = p_a;
	let pn = pow_n(p, inputs.n);
	let dpn = dpow_n(p, inputs.n);
	Payoffs {
		ev: pi_c * (n + theta) * ((1.0 - pn) + (1.0 - p) * dpn) + g_m - pi_d * pn
			+ pi_d * (1.0 - p) * dpn
			- pi_c,
		ep: 0.0,
		dv: dpn * (pi_d + pi_c * (n + theta)),
		dp: 0.0,
	}
}

/// The RP's payoffs at p_a (Table 2).
pub fn rp_payoffs(inputs: &Inputs, p_a: f64) -> Payoffs {
	let Inputs { theta, pi_c, pi_d, c_e, c_d, g_r, pi_a, .. } = *inputs;
	let n = inputs.n_f64();
	let p = p_a;
	let pn = pow_n(p, inputs.n);
	Payoffs {
		ev: -c_e - g_r - pi_a
			+ pi_c * (n * pn * (p - 1.0) + p + pn * theta * (p - 1.0))
			+ pi_d * (1.0 - p) * (1.0 - pn),
		ep: pi_c - c_e - g_r - pi_a,
		dv: -c_d - g_r - pi_a + pn * pi_c * (-n - theta) + pi_d * (1.0 - pn),
		dp: pi_c - c_d - g_r - pi_a,
	}
}

/// The JC's expected utility when the RP executes with `inputs.p_e` and the JC verifies with
/// `p_v`: p_v·[p_e·U_EV + (1−p_e)·U_DV] + (1−p_v)·[p_e·U_EP + (1−p_e)·U_DP].
pub fn jc_expected_utility(inputs: &Inputs, p_a: f64, p_v: f64) -> f64 {
	mix(&jc_payoffs(inputs, p_a), inputs.p_e, p_v)
}

/// ∂U_JC/∂p_a in closed form: p_v·[p_e·U_EV' + (1−p_e)·U_DV'].
pub fn jc_expected_utility_derivative(inputs: &Inputs, p_a: f64, p_v: f64) -> f64 {
	mix(&jc_payoff_derivatives(inputs, p_a), inputs.p_e, p_v)
}

/// The JC's utility when it verifies, p_e·U_EV + (1−p_e)·U_DV: the part of U_JC that
/// depends on p_a, so the JC's choice of p_a maximises it (U_JC with p_v = 1).
pub fn jc_verify_utility(inputs: &Inputs, p_a: f64) -> f64 {
	jc_expected_utility(inputs, p_a, 1.0)
}

/// The curve of the paper's Figure 5: ∂U_JC/∂p_a with p_v = 1, i.e. the derivative of
/// [`jc_verify_utility`]. Any other p_v > 0 only scales it.
pub fn figure5_derivative(inputs: &Inputs, p_a: f64) -> f64 {
	jc_expected_utility_derivative(inputs, p_a, 1.0)
}

/// Mixes a payoff table with the RP's execution rate `p_e` and the JC's verification rate `p_v`.
fn mix(t: &Payoffs, p_e: f64, p_v: f64) -> f64 {
	p_v * (p_e * t.ev + (1.0 - p_e) * t.dv) + (1.0 - p_v) * (p_e * t.ep + (1.0 - p_e) * t.dp)
}

/// Central-difference derivative (f(x+h) − f(x−h)) / 2h, error O(h²). The utilities are
/// polynomials in p_a, so x ± h may leave [0, 1]; pick h ≈ 1e-6 for values of order 1–1000.
pub fn numeric_derivative<F: Fn(f64) -> f64>(f: F, x: f64, h: f64) -> f64 {
	(f(x + h) - f(x - h)) / (2.0 * h)
}

/// Minimum deposit, eq. 2 (paper §5.1): d_min = π̂_c·θ (penalty) + π̂_c·n (π_m, n mediator
/// runs) + π_a (availability payments).
pub fn d_min(pi_hat_c: f64, theta: f64, n: u32, pi_a: f64) -> f64 {
	pi_hat_c * theta + pi_hat_c * f64::from(n) + pi_a
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Closed form against central differences, relative to the size of the value.
	fn assert_close(closed: f64, numeric: f64, what: &str) {
		let tol = 1e-5 * closed.abs().max(1.0);
		assert!(
			(closed - numeric).abs() <= tol,
			"{what}: closed form {closed} vs numeric {numeric} (tolerance {tol})"
		);
	}

	#[test]
	fn closed_form_derivatives_match_numeric_ones() {
		const H: f64 = 1e-6;
		let mut points: Vec<f64> = (1..=40).map(|i| f64::from(i) * 0.0245).collect();
		points.extend([0.001, 0.5, 0.9, 0.99, 0.999]);
		let mut checked = 0;
		for n in [1u32, 2, 3, 5, 8] {
			for theta in [0.0, 1.0, 10.0, 50.0] {
				for p_e in [1.0, 0.7, 0.3] {
					for g_m in [0.0, 1.5] {
						for pi_d in [2.0, 3.5] {
							let inputs = Inputs { n, theta, p_e, g_m, pi_d, ..Inputs::default() };
							for &p in &points {
								let d = jc_payoff_derivatives(&inputs, p);
								let ev = numeric_derivative(|x| jc_payoffs(&inputs, x).ev, p, H);
								let dv = numeric_derivative(|x| jc_payoffs(&inputs, x).dv, p, H);
								let ep = numeric_derivative(|x| jc_payoffs(&inputs, x).ep, p, H);
								let dp = numeric_derivative(|x| jc_payoffs(&inputs, x).dp, p, H);
								let ctx =
									format!("n={n} θ={theta} p_e={p_e} g_m={g_m} π_d={pi_d} p={p}");
								assert_close(d.ev, ev, &format!("U_EV' at {ctx}"));
								assert_close(d.dv, dv, &format!("U_DV' at {ctx}"));
								assert_close(d.ep, ep, &format!("U_EP' at {ctx}"));
								assert_close(d.dp, dp, &format!("U_DP' at {ctx}"));
								for p_v in [1.0, 0.3] {
									let closed = jc_expected_utility_derivative(&inputs, p, p_v);
									let numeric = numeric_derivative(
										|x| jc_expected_utility(&inputs, x, p_v),
										p,
										H,
									);
									assert_close(
										closed,
										numeric,
										&format!("U_JC' p_v={p_v} at {ctx}"),
									);
								}
								checked += 1;
							}
						}
					}
				}
			}
		}
		assert_eq!(checked, 5 * 4 * 3 * 2 * 2 * 45);
	}

	#[test]
	fn figure5_curve_crosses_zero_where_the_paper_says() {
		// §5.2: "when n = 1, the optimal p_a = 0.5; and when n = 4, the optimal p_a = 0.943".
		let one = Inputs::paper_figure5();
		assert!(figure5_derivative(&one, 0.5).abs() < 1e-12);
		// For n = 1, θ = 0 the derivative is 4 − 8p exactly.
		for p in [0.0, 0.25, 0.75, 1.0] {
			assert!((figure5_derivative(&one, p) - (4.0 - 8.0 * p)).abs() < 1e-12);
		}
		let four = Inputs { n: 4, ..Inputs::paper_figure5() };
		assert!(figure5_derivative(&four, 0.942) > 0.0);
		assert!(figure5_derivative(&four, 0.944) < 0.0);
	}

	#[test]
	fn payoffs_match_the_outcome_table() {
		// Eq. 3 built from Fig. 4's rewards must give Table 3's U_EV (with d = π_c(θ+n)).
		let i = Inputs {
			n: 3,
			theta: 7.0,
			g_j: 0.3,
			g_m: 0.4,
			pi_a: 0.2,
			pi_d: 2.5,
			..Inputs::default()
		};
		let d = i.pi_c * (i.theta + i.n_f64());
		let p: f64 = 0.8;
		let pn = p.powi(3);
		let r5 = i.b - i.g_j - i.pi_c - i.c_v - i.pi_a;
		let r6 = i.b - i.g_j - d - i.g_m - i.c_v - i.pi_a;
		let r7 = i.b + i.pi_d - i.g_j - i.g_m - i.c_v - i.pi_a;
		let eq3 = p * r5 + (1.0 - p) * ((1.0 - pn) * r6 + pn * r7);
		assert!((jc_payoffs(&i, p).ev - eq3).abs() < 1e-12);
		// And the RP's ⟨execute, verify⟩ from o5, o6, o7.
		let s5 = i.pi_c - i.g_r - i.c_e - i.pi_a;
		let s6 = i.pi_d - i.g_r - i.c_e - i.pi_a;
		let s7 = -d - i.g_r - i.c_e - i.pi_a;
		let rp = p * s5 + (1.0 - p) * ((1.0 - pn) * s6 + pn * s7);
		assert!((rp_payoffs(&i, p).ev - rp).abs() < 1e-12);
	}

	#[test]
	fn d_min_is_eq_2() {
		assert_eq!(d_min(2.0, 50.0, 2, 0.5), 2.0 * 50.0 + 2.0 * 2.0 + 0.5);
		assert_eq!(d_min(3.0, 0.0, 1, 0.0), 3.0);
	}

	#[test]
	fn validation_rejects_bad_inputs() {
		assert!(Inputs::default().validate().is_ok());
		assert!(Inputs::paper_figure5().validate().is_ok());
		assert!(Inputs { n: 0, ..Inputs::default() }.validate().is_err());
		assert!(Inputs { theta: -1.0, ..Inputs::default() }.validate().is_err());
		assert!(Inputs { p_e: 1.5, ..Inputs::default() }.validate().is_err());
		assert!(Inputs { pi_c: 0.0, ..Inputs::default() }.validate().is_err());
		assert!(Inputs { c_v: f64::NAN, ..Inputs::default() }.validate().is_err());
		assert!(Inputs { pi_hat_jc: Some(-1.0), ..Inputs::default() }.validate().is_err());
	}

	#[test]
	fn inputs_json_fills_missing_fields_from_the_chain_defaults() {
		let parsed: Inputs = match serde_json::from_str(r#"{"theta": 10, "n": 3}"#) {
			Ok(i) => i,
			Err(e) => panic!("parse: {e}"),
		};
		assert_eq!(parsed, Inputs { theta: 10.0, n: 3, ..Inputs::default() });
		assert!(serde_json::from_str::<Inputs>(r#"{"thta": 1}"#).is_err());
	}
}
