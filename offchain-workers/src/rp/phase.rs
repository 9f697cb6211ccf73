//! What the RP persists per match, so that a restart resumes each open match without
//! running or posting anything twice, and never retries what cannot succeed.

use crate::{commitment::result_commitment, job::JobOutcome, state::hex32};
use modicum_client::types::ResultStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How far the RP got with a match.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum JobPhase {
	/// The job is (or was, before a crash) running; a restart runs it again, up to
	/// [`MAX_RUN_ATTEMPTS`] times in all.
	Running {
		/// Runs started so far.
		#[serde(default)]
		attempts: u32,
	},
	/// The result is in the directory (or the directory refused it); only posting
	/// remains.
	ResultReady(ReadyResult),
	/// A replica's result is committed on chain; revealing it remains, once no other
	/// replica can still commit.
	Committed(ReadyResult),
	/// The result is on chain.
	Posted,
	/// Nothing more can be done for the match.
	GaveUp {
		/// Why.
		reason: GaveUp,
	},
}

/// Runs of one job that fail for the machine's reasons before the RP declines it.
pub const MAX_RUN_ATTEMPTS: u32 = 3;

/// A result ready to post.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ReadyResult {
	/// The status.
	pub status: ResultStatus,
	/// Where the result is in the directory (`<repository>@sha256:<hex>`; empty if
	/// the upload failed).
	pub reference: String,
	/// Its Merkle root.
	#[serde(with = "hex32")]
	pub hash: [u8; 32],
	/// CPU ms used.
	pub instruction_count: u64,
	/// Bytes the image costs to download.
	pub bandwidth_used: u64,
}

impl ReadyResult {
	/// The result of `outcome`, uploaded as `reference`.
	pub fn of(outcome: &JobOutcome, reference: String) -> Self {
		ReadyResult {
			status: outcome.status,
			reference,
			hash: outcome.result_root,
			instruction_count: outcome.instruction_count,
			bandwidth_used: outcome.bandwidth_used,
		}
	}
}

/// Why the RP stopped working on a match.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum GaveUp {
	/// The completion deadline passed before a result could be posted.
	DeadlinePassed,
	/// The match was closed by someone else (a timeout).
	MatchClosed,
	/// The chain refused the result with a pallet error.
	Refused {
		/// The error's name, for the operator.
		error: String,
	},
	/// The chain holds a commitment from this RP that the recorded result does not
	/// open (the account committed from elsewhere): nothing this RP holds can reveal it.
	UnknownCommitment,
}

/// What a restarted RP does for a match the chain shows committed by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommittedMatch {
	/// Reveal the result: its commitment is the one on chain. `record` when the phase
	/// still says `ResultReady`: the daemon stopped between the commitment's block and
	/// writing the phase, so it records `Committed` first.
	Reveal {
		/// The committed result.
		ready: ReadyResult,
		/// Whether the phase must be brought up to `Committed`.
		record: bool,
	},
	/// The recorded result does not open the commitment on chain.
	Unknown,
	/// Nothing to do: the result is revealed already, or the match was given up.
	Nothing,
}

impl CommittedMatch {
	/// The step for `match_id`, committed on chain to `on_chain`, in `phase`.
	pub fn of(match_id: u64, phase: Option<JobPhase>, on_chain: &[u8; 32]) -> Self {
		let (ready, record) = match phase {
			Some(JobPhase::Committed(ready)) => (ready, false),
			Some(JobPhase::ResultReady(ready)) => (ready, true),
			// Revealed (a retracted reveal shows the commitment again, and the phase
			// stays `Committed` in best mode), given up, or nothing recorded: a job run
			// now could not be proven to be the one committed to.
			_ => return CommittedMatch::Nothing,
		};
		if result_commitment(match_id, ready.status, &ready.hash) != *on_chain {
			return CommittedMatch::Unknown;
		}
		CommittedMatch::Reveal { ready, record }
	}
}

/// The RP's persisted state.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RpState {
	/// Per match id.
	pub jobs: BTreeMap<u64, JobPhase>,
	/// Per match id, the match the phase is for
	/// ([`modicum_client::guard::job_fingerprint`]): following best blocks, a match
	/// may be retracted and its id given to another job, which must not inherit the
	/// first one's phase. Absent in state files written before it was kept.
	#[serde(default)]
	pub seen: BTreeMap<u64, Fingerprint>,
}

impl RpState {
	/// The phase recorded for `match_id`, if it was recorded for the match `seen` (or
	/// before matches were fingerprinted); `None` when it was recorded for another match
	/// under the same id, whose blocks were retracted.
	pub fn phase_for(&self, match_id: u64, seen: Fingerprint) -> Option<Option<&JobPhase>> {
		match self.seen.get(&match_id) {
			Some(recorded) if *recorded != seen => None,
			_ => Some(self.jobs.get(&match_id)),
		}
	}

	/// Records `phase` for `match_id` as the match `seen`, unless the id has since been
	/// noted as another match (a task still busy with a retracted match must not write
	/// over the phase of the job that took its id); whether it was recorded.
	pub fn record_for(&mut self, match_id: u64, seen: Fingerprint, phase: JobPhase) -> bool {
		if self.seen.get(&match_id).is_some_and(|recorded| *recorded != seen) {
			return false;
		}
		self.seen.insert(match_id, seen);
		self.jobs.insert(match_id, phase);
		true
	}

	/// Notes `match_id` as the match `seen`, forgetting a phase recorded for another.
	pub fn note_seen(&mut self, match_id: u64, seen: Fingerprint) {
		if self.seen.insert(match_id, seen).is_some_and(|recorded| recorded != seen) {
			self.jobs.remove(&match_id);
		}
	}
}

/// A match's [`modicum_client::guard::job_fingerprint`].
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Fingerprint(#[serde(with = "hex32")] pub [u8; 32]);

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn phases_persist_typed_and_read_back() {
		let mut state = RpState::default();
		state.jobs.insert(1, JobPhase::Running { attempts: 2 });
		state.jobs.insert(
			2,
			JobPhase::ResultReady(ReadyResult {
				status: ResultStatus::Declined,
				reference: "results/match-2@sha256:00".into(),
				hash: [7; 32],
				instruction_count: 0,
				bandwidth_used: 0,
			}),
		);
		state.jobs.insert(3, JobPhase::GaveUp { reason: GaveUp::DeadlinePassed });
		let text = serde_json::to_string(&state).unwrap();
		assert!(text.contains(r#""status":"declined""#), "{text}");
		assert!(text.contains(&format!("\"0x{}\"", "07".repeat(32))), "{text}");
		let back: RpState = serde_json::from_str(&text).unwrap();
		assert_eq!(back.jobs, state.jobs);
		// A state file from before attempts were counted still loads.
		let old: RpState = serde_json::from_str(r#"{"jobs":{"4":{"phase":"running"}}}"#).unwrap();
		assert_eq!(old.jobs[&4], JobPhase::Running { attempts: 0 });
		assert!(old.seen.is_empty());
	}

	fn ready(hash: u8) -> ReadyResult {
		ReadyResult {
			status: ResultStatus::Completed,
			reference: "results/match-9@sha256:00".into(),
			hash: [hash; 32],
			instruction_count: 10,
			bandwidth_used: 0,
		}
	}

	#[test]
	fn a_commitment_made_just_before_a_crash_is_revealed_after_it() {
		let committed = result_commitment(9, ResultStatus::Completed, &[3; 32]);
		// The phase was written after the commitment's block: reveal.
		assert_eq!(
			CommittedMatch::of(9, Some(JobPhase::Committed(ready(3))), &committed),
			CommittedMatch::Reveal { ready: ready(3), record: false }
		);
		// The daemon stopped before writing it: the result recorded as ready to post is
		// the one committed to, so it is recorded as committed and revealed.
		assert_eq!(
			CommittedMatch::of(9, Some(JobPhase::ResultReady(ready(3))), &committed),
			CommittedMatch::Reveal { ready: ready(3), record: true }
		);
		// Another result, or the same one under another match id, does not open it.
		assert_eq!(
			CommittedMatch::of(9, Some(JobPhase::ResultReady(ready(4))), &committed),
			CommittedMatch::Unknown
		);
		assert_eq!(
			CommittedMatch::of(10, Some(JobPhase::Committed(ready(3))), &committed),
			CommittedMatch::Unknown
		);
		for phase in [
			None,
			Some(JobPhase::Running { attempts: 1 }),
			Some(JobPhase::Posted),
			Some(JobPhase::GaveUp { reason: GaveUp::UnknownCommitment }),
		] {
			assert_eq!(CommittedMatch::of(9, phase, &committed), CommittedMatch::Nothing);
		}
	}

	#[test]
	fn a_phase_belongs_to_the_match_it_was_recorded_for() {
		let (first, other) = (Fingerprint([1; 32]), Fingerprint([2; 32]));
		let mut state = RpState::default();
		state.note_seen(5, first);
		state.jobs.insert(5, JobPhase::Posted);
		assert_eq!(state.phase_for(5, first), Some(Some(&JobPhase::Posted)));
		// Retracted, and the id given to another job: its phase is not this one's.
		assert_eq!(state.phase_for(5, other), None);
		state.note_seen(5, other);
		assert_eq!(state.phase_for(5, other), Some(None));
		// Noting the same match again keeps its phase.
		state.jobs.insert(5, JobPhase::Running { attempts: 1 });
		state.note_seen(5, other);
		assert_eq!(state.phase_for(5, other), Some(Some(&JobPhase::Running { attempts: 1 })));
		// A task still busy with the first match cannot write over the second's phase.
		assert!(!state.record_for(5, first, JobPhase::Posted));
		assert_eq!(state.phase_for(5, other), Some(Some(&JobPhase::Running { attempts: 1 })));
		assert!(state.record_for(5, other, JobPhase::Posted));
		assert_eq!(state.phase_for(5, other), Some(Some(&JobPhase::Posted)));
		// A phase recorded before matches were fingerprinted is taken as it is.
		state.jobs.insert(6, JobPhase::Posted);
		assert_eq!(state.phase_for(6, first), Some(Some(&JobPhase::Posted)));
		let text = serde_json::to_string(&state).unwrap();
		let back: RpState = serde_json::from_str(&text).unwrap();
		assert_eq!(back.seen, state.seen);
	}
}
