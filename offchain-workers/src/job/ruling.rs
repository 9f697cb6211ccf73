//! The mediator's ruling as a pure function of the posted result, the JC's reason and
//! the evidence the mediator gathered (README, "Mediation rulings"):
//!
//! 1. A directory failure claim (the JC's reason, or the RP's status) is decided by
//!    the directory's uptime over the job's span: up the whole time → the claimant is
//!    at fault, else the directory.
//! 2. `ResultNotFound` is decided by fetching the posted result: there with the posted
//!    root → the JC, else the RP.
//! 3. `Declined` and `JobNotFound` mean the RP ran nothing. If it charged nothing the
//!    JC lost nothing, so its rejection is unfounded (CorrectResults, JC at fault); a
//!    charge for work not done is TooMuchCost (RP at fault). No re-run can decide
//!    these: a re-run never declines, and an image pushed after the RP looked would
//!    be found.
//! 4. Every other status is re-run `n` times through the same pipeline as the RP's
//!    run: runs that differ from each other → NonDeterministic (JC); a different status
//!    → InvalidResultStatus (RP); a different root → WrongResults (RP); a claim above
//!    the measured usage (CPU within `slack`, bandwidth exactly, as both read it from
//!    the image manifest) → TooMuchCost (RP); else CorrectResults (JC).
//! 5. A `WrongResults` rejection that names records (`reject_records`), whose posted
//!    outputs the directory proves against the posted root, is first tried on those
//!    records alone ([`rule_on_records`]): they can clear the RP or show the job
//!    non-deterministic; anything else goes to rule 4's whole runs.

use modicum_client::types::{FaultyParty, PostedResult, RejectReason, ResultStatus, Verdict};

/// What the mediator must find out to rule on a rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Question {
	/// Whether the directory was up over the job's span; `claimant` said it was not.
	DirectoryUptime {
		/// Who claimed the directory failed.
		claimant: FaultyParty,
	},
	/// Whether the posted result is in the directory with the posted root.
	ResultInDirectory,
	/// Nothing: the RP ran nothing, and the ruling follows from its claim alone.
	Nothing,
	/// What `n` runs of the job give.
	Reruns,
}

/// One of the mediator's runs, as the pipeline reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rerun {
	/// The status it ended with.
	pub status: ResultStatus,
	/// Its result's Merkle root.
	pub root: [u8; 32],
	/// CPU ms it used (capped at the job's limit).
	pub instruction_count: u64,
	/// Bytes its image costs to download.
	pub bandwidth_used: u64,
}

/// The answer to a [`Question`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
	/// The directory's uptime over the job's span: `true` if up the whole time.
	DirectoryUp(bool),
	/// Whether the posted result was found and verified.
	ResultFound(bool),
	/// No evidence was needed.
	None,
	/// The mediator's runs (at least one).
	Reruns(Vec<Rerun>),
}

/// What a rejection asks, in the order of the module's rules.
pub fn question(posted: &PostedResult, reason: RejectReason) -> Question {
	if let Some(claimant) = directory_claimant(reason, posted.status) {
		return Question::DirectoryUptime { claimant };
	}
	if reason == RejectReason::ResultNotFound {
		return Question::ResultInDirectory;
	}
	if ran_nothing(posted.status) {
		return Question::Nothing;
	}
	Question::Reruns
}

/// Who claims the directory failed: the JC by its reason, or the RP by its status.
/// Mirrors the pallet's rule of which verdict answers which rejection.
pub fn directory_claimant(reason: RejectReason, status: ResultStatus) -> Option<FaultyParty> {
	match (reason, status) {
		(RejectReason::DirectoryUnavailable, _) => Some(FaultyParty::JobCreator),
		(_, ResultStatus::DirectoryUnavailable) => Some(FaultyParty::ResourceProvider),
		_ => None,
	}
}

/// Statuses that say the RP ran nothing (and so should charge nothing).
pub fn ran_nothing(status: ResultStatus) -> bool {
	matches!(status, ResultStatus::Declined | ResultStatus::JobNotFound)
}

/// The verdict and the party at fault. Evidence that does not answer the rejection's
/// [`question`] is a bug of the caller: an error, never a ruling.
pub fn rule(
	posted: &PostedResult,
	reason: RejectReason,
	evidence: &Evidence,
	slack: f64,
) -> Result<(Verdict, FaultyParty), WrongEvidence> {
	let asked = question(posted, reason);
	match (asked, evidence) {
		(Question::DirectoryUptime { claimant }, Evidence::DirectoryUp(up)) => {
			let faulty = if *up { claimant } else { FaultyParty::Directory };
			Ok((Verdict::DirectoryUnavailable, faulty))
		},
		(Question::ResultInDirectory, Evidence::ResultFound(found)) => {
			let faulty =
				if *found { FaultyParty::JobCreator } else { FaultyParty::ResourceProvider };
			Ok((Verdict::ResultNotFound, faulty))
		},
		(Question::Nothing, Evidence::None) => {
			Ok(if posted.instruction_count == 0 && posted.bandwidth_used == 0 {
				(Verdict::CorrectResults, FaultyParty::JobCreator)
			} else {
				(Verdict::TooMuchCost, FaultyParty::ResourceProvider)
			})
		},
		(Question::Reruns, Evidence::Reruns(runs)) if !runs.is_empty() => {
			Ok(rule_on_reruns(posted, runs, slack))
		},
		(asked, _) => Err(WrongEvidence { asked }),
	}
}

/// Evidence that does not answer the question the rejection asks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the evidence does not answer the rejection's question ({asked:?})")]
pub struct WrongEvidence {
	/// The question it should have answered.
	pub asked: Question,
}

/// One of the mediator's runs on just the disputed records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordRerun {
	/// The job has no record of this name.
	NotARecord(String),
	/// The run's status, and each disputed record's output (`None`: it wrote none).
	Ran {
		/// The status it ended with.
		status: ResultStatus,
		/// The outputs, by record name.
		outputs: Vec<(String, Option<Vec<u8>>)>,
	},
}

/// The ruling on disputed records (rule 5), from their posted outputs (each proven
/// against the posted root) and the mediator's runs on just those records:
/// - a name that is not a record of the job: the JC disputed nothing the RP did →
///   CorrectResults (JC);
/// - runs whose outputs differ from each other → NonDeterministic (JC);
/// - the runs' outputs are the posted ones → CorrectResults (JC).
///
/// `None` — re-run the whole job — when the runs' outputs differ from the posted ones:
/// that finds the RP at fault only if the job computes each record on its own, which a
/// JC's job may not (an output that depends on how many records there are), and an
/// honest RP must not be fined for a run of a job it was never given. Also `None` when
/// these runs cannot decide: no run, a run that did not complete, an output missing
/// from a run, or a disputed record without a posted output. So the records decide
/// only for the RP or against a non-deterministic job; a finding against the RP always
/// comes from whole runs.
pub fn rule_on_records(
	posted: &[(String, Vec<u8>)],
	runs: &[RecordRerun],
) -> Option<(Verdict, FaultyParty)> {
	if runs.iter().any(|run| matches!(run, RecordRerun::NotARecord(_))) {
		return Some((Verdict::CorrectResults, FaultyParty::JobCreator));
	}
	let mut outputs = Vec::with_capacity(runs.len());
	for run in runs {
		let RecordRerun::Ran { status: ResultStatus::Completed, outputs: written } = run else {
			return None;
		};
		let complete: Option<Vec<(&str, &[u8])>> = written
			.iter()
			.map(|(name, output)| output.as_deref().map(|bytes| (name.as_str(), bytes)))
			.collect();
		outputs.push(complete?);
	}
	let first = outputs.first()?;
	if outputs.iter().any(|other| other != first) {
		return Some((Verdict::NonDeterministic, FaultyParty::JobCreator));
	}
	let all_posted = first.iter().all(|(name, _)| posted.iter().any(|(p, _)| p == name));
	if !all_posted || first.len() != posted.len() {
		return None;
	}
	let agrees = first.iter().all(|(name, recomputed)| {
		posted.iter().any(|(p, bytes)| p == name && bytes.as_slice() == *recomputed)
	});
	agrees.then_some((Verdict::CorrectResults, FaultyParty::JobCreator))
}

/// The ruling on replicas that disagreed (README, "Replicated jobs"): runs that differ
/// from each other make the job non-deterministic; otherwise their common status and
/// root is the right outcome, and the chain pays the replicas that posted it. `None`
/// without runs.
pub fn rule_replicas(runs: &[Rerun]) -> Option<ReplicaOutcome> {
	let first = runs.first()?;
	if runs.iter().any(|run| (run.status, run.root) != (first.status, first.root)) {
		return Some(ReplicaOutcome::NonDeterministic);
	}
	Some(ReplicaOutcome::Deterministic { status: first.status, root: first.root })
}

/// What the mediator's runs say about a replicated job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ReplicaOutcome {
	/// Every run ended the same way.
	Deterministic {
		/// Their status.
		status: ResultStatus,
		/// Their result root.
		#[serde(with = "crate::state::hex32")]
		root: [u8; 32],
	},
	/// The runs differ.
	NonDeterministic,
}

fn rule_on_reruns(posted: &PostedResult, runs: &[Rerun], slack: f64) -> (Verdict, FaultyParty) {
	let first = runs[0];
	if runs.iter().any(|run| (run.status, run.root) != (first.status, first.root)) {
		return (Verdict::NonDeterministic, FaultyParty::JobCreator);
	}
	if first.status != posted.status {
		return (Verdict::InvalidResultStatus, FaultyParty::ResourceProvider);
	}
	if first.root != posted.hash {
		return (Verdict::WrongResults, FaultyParty::ResourceProvider);
	}
	let measured = runs.iter().map(|run| run.instruction_count).max().unwrap_or(0);
	let allowed = (measured as f64 * (1.0 + slack.max(0.0))) as u64 + 50;
	let bandwidth = runs.iter().map(|run| run.bandwidth_used).max().unwrap_or(0);
	if posted.instruction_count > allowed || posted.bandwidth_used > bandwidth {
		return (Verdict::TooMuchCost, FaultyParty::ResourceProvider);
	}
	(Verdict::CorrectResults, FaultyParty::JobCreator)
}

#[cfg(test)]
mod tests;
