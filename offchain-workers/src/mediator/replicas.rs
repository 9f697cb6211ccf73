//! Disputes between replicas (README, "Replicated jobs"): when replicas of a job post
//! different results the chain sends the whole group here. One set of `n` runs of the
//! job rules on every replica at once ([`ruling::rule_replicas`]): the chain pays the
//! replicas that posted what the runs gave and fines the others. As for single
//! matches, the ruling is persisted before it is posted.

use super::{Mediator, MediatorError};
use crate::job::ruling::{self, ReplicaOutcome};
use modicum_client::{
	calls::Market,
	types::{MatchState, ReplicaMember, ReplicaVerdict},
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A decided ruling on a replica group, persisted before posting.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct GroupRuling {
	/// What the runs gave.
	pub outcome: ReplicaOutcome,
	/// Instructions per run the mediator measured.
	pub instruction_count: u64,
	/// Bytes the image costs to download.
	pub bandwidth_used: u64,
	/// Whether nothing more is to be done: on chain, or refused for good.
	pub posted: bool,
}

impl Mediator {
	/// Starts ruling on a disputed replica group of this mediator unless it is done or
	/// already under way.
	pub(super) async fn begin_group(self: &Arc<Self>, group: u64) {
		let done =
			self.state.lock().await.get().group_rulings.get(&group).is_some_and(|r| r.posted);
		if done || !self.groups_in_flight.lock().await.insert(group) {
			return;
		}
		let this = Arc::clone(self);
		tokio::spawn(async move {
			if let Err(e) = this.mediate_group(group).await {
				tracing::error!(group, "replica mediation failed (the next tick retries): {e}");
			}
			this.groups_in_flight.lock().await.remove(&group);
		});
	}

	async fn mediate_group(&self, group: u64) -> Result<(), MediatorError> {
		let known = self.state.lock().await.get().group_rulings.get(&group).cloned();
		let ruling = match known {
			Some(ruling) if ruling.posted => return Ok(()),
			Some(ruling) => ruling,
			None => {
				let Some(ruling) = self.decide_group(group).await? else { return Ok(()) };
				if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
					return Err(MediatorError::Stopping);
				}
				self.state
					.lock()
					.await
					.update(|s| s.group_rulings.insert(group, ruling.clone()))?;
				ruling
			},
		};
		let verdict = match ruling.outcome {
			ReplicaOutcome::Deterministic { status, root } => {
				ReplicaVerdict::Deterministic { status, result_hash: root }
			},
			ReplicaOutcome::NonDeterministic => ReplicaVerdict::NonDeterministic,
		};
		let posted = Market::new(&self.chain, &self.signer)
			.post_replica_verdict(group, verdict, ruling.instruction_count, ruling.bandwidth_used)
			.await;
		match posted {
			Ok(_) => tracing::info!(group, outcome = ?ruling.outcome, "replica verdict posted"),
			Err(e) if e.is_final() => {
				tracing::warn!(
					group,
					"the replica verdict is not taken and will not be retried: {e}"
				)
			},
			Err(e) => return Err(e.into()),
		}
		self.state.lock().await.update(|s| {
			if let Some(r) = s.group_rulings.get_mut(&group) {
				r.posted = true;
			}
		})?;
		Ok(())
	}

	/// Runs the job `n` times; `None` when the group is gone or the deadline is too
	/// close.
	async fn decide_group(&self, group: u64) -> Result<Option<GroupRuling>, MediatorError> {
		let Some(info) = self.chain.replica_group(group).await? else { return Ok(None) };
		let mut disputed = None;
		let mut earliest = u64::MAX;
		for member in &info.members.0 {
			let ReplicaMember::Match(match_id) = member else { continue };
			let Some(record) = self.chain.match_info(*match_id).await? else { continue };
			if let MatchState::InMediation { mediation_deadline, .. } = &record.state {
				earliest = earliest.min(*mediation_deadline);
				disputed.get_or_insert((*match_id, record));
			}
		}
		let Some((match_id, record)) = disputed else { return Ok(None) };
		let Some(runs) = self.replica_reruns(match_id, &record, earliest).await? else {
			tracing::warn!(group, "too late to mediate: the mediation deadline is too close");
			return Ok(None);
		};
		let Some(outcome) = ruling::rule_replicas(&runs) else { return Ok(None) };
		tracing::info!(group, ?outcome, runs = runs.len(), "ruled on replicas");
		Ok(Some(GroupRuling {
			outcome,
			instruction_count: runs.iter().map(|r| r.instruction_count).max().unwrap_or(0),
			bandwidth_used: runs.iter().map(|r| r.bandwidth_used).max().unwrap_or(0),
			posted: false,
		}))
	}
}
