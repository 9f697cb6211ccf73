//! Putting a finished job's result on chain: posted for a plain match; committed, then
//! revealed, for a replica. A refusal is final and recorded in the match's phase; only
//! a node that cannot be reached is retried.

use super::{GaveUp, JobPhase, ReadyResult, ResourceProvider, RpError};
use crate::commitment::result_commitment;
use modicum_client::{
	batch::BatchCall, calls::Market, chain::MatchInfo, guard::MatchGuard, reference,
	runtime::runtime_types::pallet_compute_market::pallet::Call as MarketCall, ClientError,
	MarketEvent,
};

impl ResourceProvider {
	/// Posts a ready result. A refusal is final: the phase records why, and the match
	/// is not tried again; only a node that cannot be reached is retried.
	pub(super) async fn post(
		&self,
		match_id: u64,
		info: &MatchInfo,
		ready: ReadyResult,
	) -> Result<(), RpError> {
		if self.chain.now_ms().await? > info.job.completion_deadline {
			tracing::warn!(match_id, "the completion deadline passed before the result was posted");
			return self
				.record(match_id, info, JobPhase::GaveUp { reason: GaveUp::DeadlinePassed })
				.await;
		}
		if self.chain.match_replica_group(match_id).await?.is_some() {
			return self.commit(match_id, info, ready).await;
		}
		let guard = MatchGuard::awaiting_result(match_id, info);
		let posted = self.send_result(match_id, &ready, Publish::Post, Some(guard)).await;
		let next = match posted {
			Ok(_) => {
				tracing::info!(match_id, status = %ready.status, "result posted");
				JobPhase::Posted
			},
			// Posted before a crash, in a block the daemon did not see.
			Err(e) if e.is_refusal("NotAwaitingResult") => JobPhase::Posted,
			Err(ClientError::MatchChanged { .. }) => {
				not_sent(match_id);
				return Ok(());
			},
			Err(e) => given_up(match_id, "result", e)?,
		};
		self.record_end(match_id, info, next).await
	}

	/// Posts or reveals a result through the group commit, so that results that finish
	/// together go out in one extrinsic.
	async fn send_result(
		&self,
		match_id: u64,
		ready: &ReadyResult,
		how: Publish,
		guard: Option<MatchGuard>,
	) -> Result<Vec<MarketEvent>, ClientError> {
		let (status, hash) = (ready.status, ready.hash);
		let (instruction_count, bandwidth_used) = (ready.instruction_count, ready.bandwidth_used);
		let reference = reference(&ready.reference)?;
		let call = match how {
			Publish::Post => BatchCall::new(
				"post_result",
				MarketCall::post_result {
					match_id,
					status,
					reference,
					hash,
					instruction_count,
					bandwidth_used,
				},
			),
			Publish::Reveal => BatchCall::new(
				"reveal_result",
				MarketCall::reveal_result {
					match_id,
					status,
					reference,
					hash,
					instruction_count,
					bandwidth_used,
				},
			),
		};
		self.results
			.submit(match guard {
				Some(guard) => call.guarded(guard),
				None => call,
			})
			.await
	}

	/// A replica commits to its result first (README, "Replicated jobs"), so no other
	/// replica can copy its root; the reveal follows once the chain allows it.
	async fn commit(
		&self,
		match_id: u64,
		info: &MatchInfo,
		ready: ReadyResult,
	) -> Result<(), RpError> {
		let commitment = result_commitment(match_id, ready.status, &ready.hash);
		let guard = MatchGuard::awaiting_result(match_id, info);
		let market = Market::new(&self.chain, &self.signer).guarded(guard);
		let committed = market.commit_result(match_id, commitment).await;
		let next = match committed {
			Err(ClientError::MatchChanged { .. }) => {
				not_sent(match_id);
				return Ok(());
			},
			Ok(_) => {
				tracing::info!(match_id, status = %ready.status, "replica result committed");
				JobPhase::Committed(ready.clone())
			},
			// Committed before a crash, in a block the daemon did not see.
			Err(e) if e.is_refusal("NotAwaitingResult") => JobPhase::Committed(ready.clone()),
			Err(e) => given_up(match_id, "commitment", e)?,
		};
		let committed = matches!(next, JobPhase::Committed(_));
		if committed {
			self.record(match_id, info, next).await?;
			self.reveal(match_id, info, &ready).await?;
		} else {
			self.record_end(match_id, info, next).await?;
		}
		Ok(())
	}

	/// Reveals a committed replica result; waits quietly while another replica may
	/// still commit. Following best blocks, the phase stays `Committed` after the reveal:
	/// if the reveal's block is retracted, the chain shows the commitment again and it is
	/// revealed again.
	pub(super) async fn reveal(
		&self,
		match_id: u64,
		info: &MatchInfo,
		ready: &ReadyResult,
	) -> Result<(), RpError> {
		if let Some(group) = self.chain.match_replica_group(match_id).await? {
			let now = self.chain.now_ms().await?;
			if self.chain.replicas_still_committing(group, now).await? {
				tracing::debug!(match_id, "another replica may still commit; revealing later");
				return Ok(());
			}
		}
		// A reveal needs no guard: it opens this RP's own commitment, which only the chain
		// that holds the commitment has.
		let next = match self.send_result(match_id, ready, Publish::Reveal, None).await {
			Ok(_) => {
				tracing::info!(match_id, "replica result revealed");
				JobPhase::Posted
			},
			Err(e) if e.is_refusal("ReplicasStillCommitting") => {
				tracing::debug!(match_id, "another replica may still commit; revealing later");
				return Ok(());
			},
			Err(e) if e.is_refusal("NotAwaitingResult") => JobPhase::Posted,
			Err(e) => given_up(match_id, "reveal", e)?,
		};
		self.record_end(match_id, info, next).await
	}
}

/// How a result goes on chain: a plain match posts it; a replica reveals what it
/// committed to.
#[derive(Clone, Copy)]
enum Publish {
	Post,
	Reveal,
}

/// A guarded result or commitment that was not sent: the match is not on chain as
/// this RP ran it, or no longer waits for a result (it is there already, or the match
/// closed). The phase stays: if the id now names another job, that job gets a phase of
/// its own ([`ResourceProvider::phase_of`]); if the match comes back waiting (a
/// retraction), the result goes out then.
fn not_sent(match_id: u64) {
	tracing::info!(
		match_id,
		"not sending the result: the match is not waiting for it as this RP ran it \
		 (posted already, closed, or retracted and its id given to another job)"
	);
}

fn given_up(match_id: u64, what: &str, e: ClientError) -> Result<JobPhase, ClientError> {
	let reason = if e.is_refusal("MatchNotFound") {
		tracing::info!(match_id, "the match was closed meanwhile");
		GaveUp::MatchClosed
	} else if e.is_refusal("CompletionDeadlinePassed") {
		tracing::warn!(match_id, "the {what} came too late: {e}");
		GaveUp::DeadlinePassed
	} else if let ClientError::Refused { error, .. } = &e {
		tracing::error!(match_id, "the chain refused the {what} for good: {e}");
		GaveUp::Refused { error: error.clone() }
	} else {
		return Err(e);
	};
	Ok(JobPhase::GaveUp { reason })
}
