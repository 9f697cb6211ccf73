//! The determinism probe (README, "Resource Providers"). A mediator can only rule on a
//! job whose runs agree: when an honest RP's run of a non-deterministic job comes out
//! one way and the mediator's n runs another, the RP is fined for an honest run. An RP
//! with `determinism_probe_runs = k` runs each completed job k more times before it
//! posts; if any run's result differs, it declines the job (free for the JC, no fine
//! for anyone) and bears only the cost of its runs. The chance of posting an abnormal
//! run of a job with normal-run probability p_a falls from (1 − p_a) to (1 − p_a)^(k+1).

use crate::job::{self, JobError, JobOutcome, JobTerms, Runner, Schedule};
use modicum_client::types::ResultStatus;
use std::path::Path;

/// The most extra runs a probe may make.
pub const MAX_PROBE_RUNS: u32 = 4;

/// What the probe found.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
	/// Every run gave the first run's result.
	Agreed,
	/// Run `run` (1-based, after the first) gave a different status or result root.
	Differed { run: u32 },
	/// A probe run could not have its whole budget before the deadline: the first
	/// result is posted unprobed.
	NoTime,
}

/// Runs the job `runs` more times under `work/probe-<i>` and compares each result with
/// `first`'s status and root.
pub async fn probe(
	runner: &Runner,
	terms: &JobTerms,
	work: &Path,
	job_name: &str,
	schedule: Schedule,
	first: &JobOutcome,
	runs: u32,
) -> Result<Probe, JobError> {
	for run in 1..=runs {
		let dir = work.join(format!("probe-{run}"));
		let name = format!("{job_name}-probe{run}");
		let again = job::run(runner, terms, &dir, &name, schedule).await;
		let _ = std::fs::remove_dir_all(&dir);
		let again = again?;
		if again.status == ResultStatus::Declined {
			return Ok(Probe::NoTime);
		}
		if again.status != first.status || again.result_root != first.result_root {
			return Ok(Probe::Differed { run });
		}
	}
	Ok(Probe::Agreed)
}
