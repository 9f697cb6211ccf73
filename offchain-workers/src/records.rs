//! The solver's rule 13 inputs from the chain's types: an offer's record requirement
//! and an account's record, reduced to what the rule reads, with the pallet's
//! arithmetic (`Reputation::faults_in`).

use crate::solver::{RecordRule, RecordView};
use modicum_client::types::{RecordRequirement, Reputation, Role};

/// An offer's requirement as the solver checks it.
pub fn rule(requirement: &RecordRequirement) -> RecordRule {
	RecordRule { min_accepted: requirement.min_accepted, max_fault_ppm: requirement.max_fault_ppm }
}

/// `role`'s record among an account's records (empty if it has none there): its
/// accepted jobs, its endings at its own fault, and all its counted endings.
pub fn view(records: &[(Role, Reputation)], role: Role) -> RecordView {
	let Some((_, r)) = records.iter().find(|(r, _)| *r == role) else {
		return RecordView::default();
	};
	let [accepted, declined, upheld, fined, timed_out, ruled, missed] = [
		r.accepted,
		r.declined,
		r.rejections_upheld,
		r.fined,
		r.timed_out,
		r.mediations_ruled,
		r.mediations_missed,
	]
	.map(u64::from);
	let (faults, endings) = match role {
		Role::ResourceProvider => (fined + timed_out, accepted + declined + fined + timed_out),
		Role::JobCreator => (fined, accepted + upheld + fined),
		Role::Mediator => (missed, ruled + missed),
		Role::Directory => (fined, fined),
	};
	RecordView { accepted: r.accepted, faults, endings }
}

#[cfg(test)]
mod tests {
	use super::*;

	fn reputation(accepted: u32, fined: u32, timed_out: u32, upheld: u32) -> Reputation {
		Reputation {
			accepted,
			declined: 2,
			rejections_upheld: upheld,
			fined,
			timed_out,
			mediations_ruled: 0,
			mediations_missed: 0,
		}
	}

	#[test]
	fn each_role_counts_its_own_faults() {
		let records = vec![
			(Role::ResourceProvider, reputation(8, 1, 1, 0)),
			(Role::JobCreator, reputation(5, 1, 0, 4)),
		];
		let rp = view(&records, Role::ResourceProvider);
		assert_eq!(rp, RecordView { accepted: 8, faults: 2, endings: 12 });
		let jc = view(&records, Role::JobCreator);
		assert_eq!(jc, RecordView { accepted: 5, faults: 1, endings: 10 });
		assert_eq!(view(&records, Role::Mediator), RecordView::default());
		let rule = RecordRule { min_accepted: 8, max_fault_ppm: 166_666 };
		assert!(rp.has_accepted(&rule) && !rp.faults_within(&rule));
		assert!(rp.faults_within(&RecordRule { max_fault_ppm: 166_667, ..rule }));
	}
}
