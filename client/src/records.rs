//! Record requirements as people write them (README, "Reputation"): at least so many
//! accepted jobs, at most such a percentage of them at the counterparty's fault.

use crate::types::RecordRequirement;

/// Parts per million in a whole: the chain's unit for a share of faults.
pub const PPM: u32 = 1_000_000;

/// A share of faults outside 0 to 100 %.
#[derive(Debug, thiserror::Error)]
#[error("a share of faults is a percentage from 0 to 100, not {0}")]
pub struct InvalidShare(pub f64);

/// The requirement "at least `min_accepted` accepted jobs and at most
/// `max_fault_percent` % of its endings at its own fault"; `None` when neither is set.
pub fn requirement(
	min_accepted: Option<u32>,
	max_fault_percent: Option<f64>,
) -> Result<Option<RecordRequirement>, InvalidShare> {
	if min_accepted.is_none() && max_fault_percent.is_none() {
		return Ok(None);
	}
	let max_fault_ppm = match max_fault_percent {
		None => PPM,
		Some(percent) if percent.is_finite() && (0.0..=100.0).contains(&percent) => {
			// In range, so the product is within 0..=1_000_000 and the cast exact.
			(percent * 10_000.0).round() as u32
		},
		Some(other) => return Err(InvalidShare(other)),
	};
	Ok(Some(RecordRequirement { min_accepted: min_accepted.unwrap_or(0), max_fault_ppm }))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn percentages_become_parts_per_million() {
		assert!(requirement(None, None).unwrap().is_none());
		let five = requirement(Some(5), None).unwrap().unwrap();
		assert_eq!((five.min_accepted, five.max_fault_ppm), (5, PPM));
		let share = requirement(None, Some(2.5)).unwrap().unwrap();
		assert_eq!((share.min_accepted, share.max_fault_ppm), (0, 25_000));
		assert_eq!(requirement(None, Some(100.0)).unwrap().unwrap().max_fault_ppm, PPM);
		assert_eq!(requirement(None, Some(0.0)).unwrap().unwrap().max_fault_ppm, 0);
	}

	#[test]
	fn shares_outside_a_percentage_are_refused() {
		for bad in [-0.1, 100.01, f64::NAN, f64::INFINITY] {
			let error = requirement(Some(1), Some(bad)).unwrap_err();
			assert!(error.to_string().contains("from 0 to 100"), "{error}");
		}
	}
}
