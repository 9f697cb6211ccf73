//! The clock a match's job runs by. The RP and the mediator derive it from the same
//! on-chain facts (the job's instruction limit and the RP's registered speed), so a
//! job that sleeps or blocks is stopped at the same point by both.

use std::time::{Duration, Instant};

/// Creating and starting the container, beyond the job's own run time.
pub const START_ALLOWANCE: Duration = Duration::from_secs(2);
/// What the RP keeps back after the run for packing, uploading and posting the result,
/// which must be in a block before the completion deadline.
pub const RP_RESERVE_AFTER_RUN: Duration = Duration::from_secs(15);
/// What the mediator keeps back before the mediation deadline to post its verdict.
pub const MEDIATOR_RESERVE: Duration = Duration::from_secs(6);

/// The job's wall-clock budget: its whole instruction limit at the RP's registered
/// speed (what the chain's rule 11 reserved for it) plus [`START_ALLOWANCE`].
pub fn run_budget(instruction_limit_ms: u64, rp_time_per_instruction_ns: u64) -> Duration {
	let nanos = u128::from(instruction_limit_ms) * u128::from(rp_time_per_instruction_ns);
	Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)).saturating_add(START_ALLOWANCE)
}

/// How much slower (ns per instruction) a machine is than the RP's registered speed;
/// zero when it is as fast or faster.
pub fn extra_ns_per_instruction(own_ns: u64, rp_ns: u64) -> u64 {
	own_ns.saturating_sub(rp_ns)
}

/// A chain deadline (ms since the epoch) as a local instant, `reserve` earlier; `None`
/// when that moment has already passed by the chain's clock `chain_now_ms`.
pub fn local_deadline(
	chain_deadline_ms: u64,
	chain_now_ms: u64,
	reserve: Duration,
) -> Option<Instant> {
	let left = Duration::from_millis(chain_deadline_ms.saturating_sub(chain_now_ms));
	let left = left.checked_sub(reserve).filter(|left| !left.is_zero())?;
	Instant::now().checked_add(left)
}

/// Whether a run of `budget` started now still ends `reserve` before `deadline`.
pub fn run_fits(deadline: Instant, budget: Duration, reserve: Duration) -> bool {
	Instant::now().checked_add(budget.saturating_add(reserve)).is_some_and(|end| end <= deadline)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_budget_is_the_limit_at_the_rps_speed_plus_start_up() {
		assert_eq!(run_budget(10_000, 1_000_000), Duration::from_secs(12));
		// Half a core: every CPU ms takes two.
		assert_eq!(run_budget(10_000, 2_000_000), Duration::from_secs(22));
		// Absurd registrations saturate rather than wrap.
		assert!(run_budget(u64::MAX, u64::MAX) > Duration::from_nanos(u64::MAX));
	}

	#[test]
	fn only_a_slower_machine_stretches_the_clock() {
		assert_eq!(extra_ns_per_instruction(3_000_000, 1_000_000), 2_000_000);
		assert_eq!(extra_ns_per_instruction(500_000, 1_000_000), 0);
	}

	#[test]
	fn deadlines_in_the_past_or_inside_the_reserve_are_none() {
		let reserve = Duration::from_secs(15);
		assert!(local_deadline(100_000, 90_000, reserve).is_none());
		assert!(local_deadline(100_000, 200_000, reserve).is_none());
		let deadline = local_deadline(100_000, 50_000, reserve).unwrap();
		let left = deadline.saturating_duration_since(Instant::now());
		assert!(left <= Duration::from_secs(35) && left > Duration::from_secs(34), "{left:?}");
		assert!(run_fits(deadline, Duration::from_secs(20), Duration::from_secs(10)));
		assert!(!run_fits(deadline, Duration::from_secs(30), Duration::from_secs(10)));
	}
}
