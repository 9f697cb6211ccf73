//! Summaries of repeated measurements: the median resists the odd slow run a noisy
//! machine produces, so every figure reports it.

/// The median (mean of the middle two for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
	if values.is_empty() {
		return 0.0;
	}
	let mut sorted = values.to_vec();
	sorted.sort_by(f64::total_cmp);
	let mid = sorted.len() / 2;
	if sorted.len().is_multiple_of(2) {
		(sorted[mid - 1] + sorted[mid]) / 2.0
	} else {
		sorted[mid]
	}
}

/// The smallest and largest value.
pub fn range(values: &[f64]) -> (f64, f64) {
	let min = values.iter().copied().fold(f64::INFINITY, f64::min);
	let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
	(min, max)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn medians() {
		assert_eq!(median(&[]), 0.0);
		assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
		assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
		assert_eq!(range(&[2.0, 5.0, 1.0]), (1.0, 5.0));
	}
}
