//! The solver's rule 13 inputs from the chain's types: an offer's record requirement
//! and an account's record, reduced to what the rule reads, with the pallet's
//! arithmetic (`Reputation::faults_in`); and the requirement that keeps an RP that
//! failed a job away from the job's next posting.

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

/// The requirement for posting a job again after the RP whose record is `faulty` failed
/// it: the job's own requirement (`current`) with the share of faults lowered just below
/// that RP's, so rule 13 keeps it (and every RP at least as faulty) away from the job.
/// `current` unchanged when the record shows no fault to lower the share below.
pub fn excluding(
	faulty: RecordView,
	current: Option<RecordRequirement>,
) -> Option<RecordRequirement> {
	if faulty.faults == 0 || faulty.endings == 0 {
		return current;
	}
	// The largest share the RP fails: faults·10⁶ > share·endings, i.e. one below the
	// ceiling of its own share. Its share is above zero, so the ceiling is at least 1.
	let own = (u128::from(faulty.faults) * 1_000_000).div_ceil(u128::from(faulty.endings));
	let below = u32::try_from(own.saturating_sub(1)).unwrap_or(u32::MAX);
	let RecordRequirement { min_accepted, max_fault_ppm } =
		current.unwrap_or(RecordRequirement { min_accepted: 0, max_fault_ppm: 1_000_000 });
	Some(RecordRequirement { min_accepted, max_fault_ppm: max_fault_ppm.min(below) })
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
	fn a_faulty_rp_fails_the_requirement_that_excludes_it() {
		// Fined once in 12 endings: 83,333.3 ppm.
		let faulty = RecordView { accepted: 8, faults: 1, endings: 12 };
		let excluded = excluding(faulty, None).unwrap();
		assert_eq!((excluded.min_accepted, excluded.max_fault_ppm), (0, 83_333));
		assert!(!faulty.faults_within(&rule(&excluded)));
		// An RP with a slightly better record still qualifies.
		let better = RecordView { accepted: 11, faults: 1, endings: 13 };
		assert!(better.faults_within(&rule(&excluded)));
		// A share that divides exactly: 1 in 4 is 250,000 ppm, so 249,999.
		let quarter = RecordView { accepted: 3, faults: 1, endings: 4 };
		let excluded = excluding(quarter, None).unwrap();
		assert_eq!(excluded.max_fault_ppm, 249_999);
		assert!(!quarter.faults_within(&rule(&excluded)));
		// A stricter requirement of the job's own stays; its accepted count is kept.
		let strict = RecordRequirement { min_accepted: 5, max_fault_ppm: 10_000 };
		let kept = excluding(faulty, Some(strict)).unwrap();
		assert_eq!((kept.min_accepted, kept.max_fault_ppm), (5, 10_000));
		// All faults, or one in millions: the bound stays within the chain's range.
		let all = excluding(RecordView { accepted: 0, faults: 3, endings: 3 }, None).unwrap();
		assert_eq!(all.max_fault_ppm, 999_999);
		let rare = RecordView { accepted: 4_999_999, faults: 1, endings: 5_000_000 };
		assert_eq!(excluding(rare, None).unwrap().max_fault_ppm, 0);
		assert!(!rare.faults_within(&rule(&excluding(rare, None).unwrap())));
	}

	#[test]
	fn a_record_without_faults_changes_nothing() {
		let clean = RecordView { accepted: 3, faults: 0, endings: 3 };
		assert!(excluding(clean, None).is_none());
		let own = RecordRequirement { min_accepted: 2, max_fault_ppm: 50_000 };
		let kept = excluding(clean, Some(own)).unwrap();
		assert_eq!((kept.min_accepted, kept.max_fault_ppm), (2, 50_000));
		assert!(excluding(RecordView::default(), None).is_none());
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
