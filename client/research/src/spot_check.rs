//! Spot checks (seed note 000): a JC re-computes a random sample of a map job's records
//! and compares them with the posted result's leaves. How likely is a fault that
//! corrupts `c` of `N` records to be caught by a sample of `s` records, and how large
//! must the sample be for a target probability?
//!
//! Sampling is without replacement, so the chance that the sample misses every
//! corrupted record is hypergeometric: `∏_{i<s} (N − c − i) / (N − i)`, which equals
//! `∏_{j<c} (N − s − j) / (N − j)`. We sum the logarithm of the shorter product term by
//! term (`ln_1p`, exact to rounding) when it has at most [`EXACT_TERMS`] terms, and
//! beyond that use the closed form through `ln Γ`. For large `N` the sample
//! is nearly a set of independent draws: a miss has probability `(1 − f)^c` with
//! `f = s / N`, about `e^{−f·c}`.

use crate::{
	fonts::{ensure_font, FAMILY},
	sweep::{create_dir, plot_err},
	ResearchError,
};
use plotters::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Samples up to this size are summed term by term.
pub const EXACT_TERMS: u64 = 20_000_000;

/// One spot-check question and its answers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpotCheck {
	/// Records in the job, N.
	pub records: u64,
	/// Corrupted records, c.
	pub corrupted: u64,
	/// Records sampled, s.
	pub sample: u64,
	/// s / N.
	pub fraction: f64,
	/// The chance the sample holds at least one corrupted record, without replacement.
	pub detection_exact: f64,
	/// The large-N approximation `1 − (1 − f)^c`.
	pub detection_approx: f64,
}

/// Detection probabilities of a sample of `sample` of `records` records, `corrupted`
/// of them wrong.
pub fn spot_check(records: u64, corrupted: u64, sample: u64) -> Result<SpotCheck, ResearchError> {
	if records == 0 || corrupted > records || sample > records {
		return Err(ResearchError::InvalidInput(format!(
			"need 0 < N, c ≤ N and s ≤ N (N = {records}, c = {corrupted}, s = {sample})"
		)));
	}
	let fraction = sample as f64 / records as f64;
	Ok(SpotCheck {
		records,
		corrupted,
		sample,
		fraction,
		detection_exact: 1.0 - miss_probability(records, corrupted, sample).exp(),
		detection_approx: 1.0 - (1.0 - fraction).powf(corrupted as f64),
	})
}

/// `ln` of the chance that a sample of `s` of `n` records misses all `c` corrupted ones.
pub fn miss_probability(n: u64, c: u64, s: u64) -> f64 {
	if c == 0 || s == 0 {
		return 0.0;
	}
	if s > n - c {
		return f64::NEG_INFINITY;
	}
	if s.min(c) <= EXACT_TERMS {
		// C(N−c, s) / C(N, s) = C(N−s, c) / C(N, c): sum whichever product is shorter.
		let (terms, other) = if s <= c { (s, c) } else { (c, s) };
		(0..terms).map(|i| (-(other as f64) / (n - i) as f64).ln_1p()).sum()
	} else {
		// ln [ (N−c)! (N−s)! / ((N−c−s)! N!) ]
		let (n, c, s) = (n as f64, c as f64, s as f64);
		ln_gamma(n - c + 1.0) + ln_gamma(n - s + 1.0)
			- ln_gamma(n - c - s + 1.0)
			- ln_gamma(n + 1.0)
	}
}

/// The smallest sample that catches `c` corrupted records of `n` with probability at
/// least `target`: exact by bisection over [`miss_probability`] (it falls as the sample
/// grows).
pub fn sample_needed(n: u64, c: u64, target: f64) -> Result<u64, ResearchError> {
	if !(0.0..1.0).contains(&target) || c == 0 || c > n {
		return Err(ResearchError::InvalidInput(format!(
			"need 0 ≤ target < 1 and 0 < c ≤ N (target {target}, c = {c}, N = {n})"
		)));
	}
	let wanted = (1.0 - target).ln();
	let (mut low, mut high) = (0u64, n - c + 1);
	while low < high {
		let mid = low + (high - low) / 2;
		if miss_probability(n, c, mid) <= wanted {
			high = mid;
		} else {
			low = mid + 1;
		}
	}
	Ok(low.min(n))
}

/// The large-N sample fraction for `target` when a fraction `rate` of records is
/// corrupted: `f = 1 − (1 − target)^{1/c}` with `c = rate · N`, about `−ln(1 − target) / c`.
pub fn fraction_needed_approx(records: u64, rate: f64, target: f64) -> f64 {
	let c = (rate * records as f64).max(1.0);
	1.0 - (1.0 - target).powf(1.0 / c)
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine terms: about 15 digits).
pub fn ln_gamma(x: f64) -> f64 {
	const G: f64 = 7.0;
	const COEFFICIENTS: [f64; 9] = [
		0.999_999_999_999_809_9,
		676.520_368_121_885_1,
		-1_259.139_216_722_402_8,
		771.323_428_777_653_1,
		-176.615_029_162_140_6,
		12.507_343_278_686_905,
		-0.138_571_095_265_720_12,
		9.984_369_578_019_572e-6,
		1.505_632_735_149_311_6e-7,
	];
	if x < 0.5 {
		// Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
		return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
	}
	let x = x - 1.0;
	let mut sum = COEFFICIENTS[0];
	for (i, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
		sum += coefficient / (x + i as f64);
	}
	let t = x + G + 0.5;
	0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Writes `spot-check.svg` and `.png` into `out_dir`: detection probability against the
/// sample fraction (log scale) for each count of corrupted records in `corrupted`, over
/// `records` records, with the target probability as a line. Returns the paths.
pub fn plot(
	records: u64,
	corrupted: &[u64],
	target: f64,
	out_dir: &Path,
) -> Result<Vec<PathBuf>, ResearchError> {
	ensure_font()?;
	create_dir(out_dir)?;
	let svg = out_dir.join("spot-check.svg");
	let png = out_dir.join("spot-check.png");
	{
		let root = SVGBackend::new(&svg, (1000, 640)).into_drawing_area();
		draw(&root, records, corrupted, target)?;
		root.present().map_err(plot_err)?;
	}
	{
		let root = BitMapBackend::new(&png, (1000, 640)).into_drawing_area();
		draw(&root, records, corrupted, target)?;
		root.present().map_err(plot_err)?;
	}
	Ok(vec![svg, png])
}

fn draw<DB: DrawingBackend>(
	root: &DrawingArea<DB, plotters::coord::Shift>,
	records: u64,
	corrupted: &[u64],
	target: f64,
) -> Result<(), ResearchError> {
	const PALETTE: [RGBColor; 5] = [
		RGBColor(31, 119, 180),
		RGBColor(255, 127, 14),
		RGBColor(44, 160, 44),
		RGBColor(214, 39, 40),
		RGBColor(148, 103, 189),
	];
	root.fill(&WHITE).map_err(plot_err)?;
	// From a one-record sample to all of them.
	let low = (1.0 / records as f64).max(1e-9);
	let mut chart = ChartBuilder::on(root)
		.caption(
			format!("Spot checks: chance to catch a fault, N = {records} records"),
			(FAMILY, 22),
		)
		.margin(20)
		.x_label_area_size(60)
		.y_label_area_size(70)
		.build_cartesian_2d((low..1f64).log_scale(), 0f64..1.02f64)
		.map_err(plot_err)?;
	chart
		.configure_mesh()
		.x_desc("sample fraction f (records re-computed / records)")
		.y_desc("P(at least one corrupted record sampled)")
		.axis_desc_style((FAMILY, 17))
		.label_style((FAMILY, 14))
		.draw()
		.map_err(plot_err)?;
	chart
		.draw_series(LineSeries::new([(low, target), (1.0, target)], BLACK.stroke_width(1)))
		.map_err(plot_err)?
		.label(format!("target {target}"))
		.legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], BLACK.stroke_width(1)));
	for (k, &corrupted) in corrupted.iter().enumerate() {
		let color = PALETTE[k % PALETTE.len()];
		let corrupted = corrupted.clamp(1, records);
		let points: Vec<(f64, f64)> = (0..=120)
			.map(|i| 10f64.powf(low.log10() * (1.0 - i as f64 / 120.0)))
			.filter_map(|f| {
				let sample = ((f * records as f64).round() as u64).min(records);
				spot_check(records, corrupted, sample).ok().map(|s| (f, s.detection_exact))
			})
			.collect();
		chart
			.draw_series(LineSeries::new(points, color.stroke_width(2)))
			.map_err(plot_err)?
			.label(format!(
				"c = {corrupted} corrupted ({} of the records)",
				percent(corrupted as f64 / records as f64)
			))
			.legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(2)));
	}
	chart
		.configure_series_labels()
		.position(SeriesLabelPosition::UpperLeft)
		.background_style(WHITE.mix(0.9))
		.border_style(BLACK)
		.label_font((FAMILY, 15))
		.draw()
		.map_err(plot_err)?;
	Ok(())
}

/// A rate as a percentage with two significant digits: `5 %`, `0.1 %`, `0.0001 %`.
fn percent(rate: f64) -> String {
	let p = rate * 100.0;
	if p >= 1.0 || p <= 0.0 {
		return format!("{p:.0} %");
	}
	let decimals = (-p.log10().floor()) as usize + 1;
	let text = format!("{p:.decimals$}");
	format!("{} %", text.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
	use super::*;

	/// The exact hypergeometric miss probability by brute force over small cases.
	fn brute_miss(n: u64, c: u64, s: u64) -> f64 {
		let choose = |a: u64, b: u64| -> f64 {
			if b > a {
				return 0.0;
			}
			(0..b).map(|i| (a - i) as f64 / (b - i) as f64).product()
		};
		choose(n - c, s) / choose(n, s)
	}

	#[test]
	fn small_cases_match_counting() {
		for (n, c, s) in [(10, 1, 1), (10, 3, 4), (50, 5, 10), (100, 1, 99), (20, 20, 1), (7, 0, 3)]
		{
			let check = spot_check(n, c, s).unwrap();
			assert!(
				(check.detection_exact - (1.0 - brute_miss(n, c, s))).abs() < 1e-12,
				"{check:?}"
			);
		}
		// Sampling more records than are clean cannot miss.
		assert_eq!(spot_check(10, 3, 8).unwrap().detection_exact, 1.0);
	}

	#[test]
	fn the_closed_form_agrees_with_the_sum() {
		let (n, c, s) = (1_000_000_000u64, 200u64, 10_000u64);
		let summed: f64 = (0..s).map(|i| (-(c as f64) / (n - i) as f64).ln_1p()).sum();
		assert!((miss_probability(n, c, s) - summed).abs() < 1e-9);
		let (nf, cf, sf) = (n as f64, c as f64, s as f64);
		let closed = ln_gamma(nf - cf + 1.0) + ln_gamma(nf - sf + 1.0)
			- ln_gamma(nf - cf - sf + 1.0)
			- ln_gamma(nf + 1.0);
		assert!((summed - closed).abs() < 1e-4, "{summed} vs {closed}");
		assert!((ln_gamma(11.0) - 3_628_800f64.ln()).abs() < 1e-12);
	}

	#[test]
	fn the_seed_notes_example() {
		// 10 billion records, a 1 % sample, 0.01 % of them corrupted (a million).
		let check = spot_check(10_000_000_000, 1_000_000, 100_000_000).unwrap();
		assert!(check.detection_exact > 1.0 - 1e-12, "{check:?}");
		// 100 corrupted records: about 1 − e^{−1} = 63 %.
		let check = spot_check(10_000_000_000, 100, 100_000_000).unwrap();
		assert!((check.detection_exact - 0.634).abs() < 0.001, "{check:?}");
		assert!((check.detection_exact - check.detection_approx).abs() < 1e-6, "{check:?}");
	}

	#[test]
	fn percentages_read_cleanly() {
		assert_eq!(percent(0.05), "5 %");
		assert_eq!(percent(0.001), "0.1 %");
		assert_eq!(percent(1e-6), "0.0001 %");
		assert_eq!(percent(0.00015), "0.015 %");
	}

	#[test]
	fn sample_sizes_reach_their_target_and_no_smaller_one_does() {
		for (n, c, target) in [(1_000, 10, 0.99), (10_000, 500, 0.999), (100, 1, 0.5)] {
			let s = sample_needed(n, c, target).unwrap();
			assert!(spot_check(n, c, s).unwrap().detection_exact >= target);
			assert!(spot_check(n, c, s - 1).unwrap().detection_exact < target);
		}
		// The large-N rule of thumb: 5 % corrupted, 99 % wanted → about 90 records.
		assert_eq!(sample_needed(10_000, 500, 0.99).unwrap(), 90);
		let f = fraction_needed_approx(10_000, 0.05, 0.99);
		assert!((f * 10_000.0 - 91.7).abs() < 1.0, "{f}");
	}
}
