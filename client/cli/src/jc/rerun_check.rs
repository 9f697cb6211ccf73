//! A JC checks a result by running its job here through the pipeline the RP and the
//! mediator use (`modicum_offchain::job::run`, the same terms read from the match) and
//! comparing roots. `jc mapreduce` checks its reduce this way: the reduce is one job,
//! not records, so a sample cannot check it, and its output is the answer the JC keeps.

use super::{submit::directory_endpoint, Session};
use anyhow::Result;
use modicum_client::{
	chain::MatchInfo,
	types::{MatchState, PostedResult, ResultStatus},
};
use modicum_offchain::job::{self, timing, Runner, Schedule};
use std::{path::Path, time::Duration};

/// Kept back before the reaction deadline to post a rejection.
const REJECT_RESERVE: Duration = Duration::from_secs(20);

/// What running the job here showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RerunCheck {
	/// Completed here with the posted root.
	Agrees,
	/// Completed here, as posted, with another root: the posted outputs are not the
	/// job's (or the job is not deterministic, which the mediator would find).
	Differs {
		/// The root of the run here.
		root: [u8; 32],
	},
	/// Nothing to compare: the run here, or the posted result, did not complete (this
	/// machine may be slower or smaller than the RP's), or too little time was left.
	Inconclusive(String),
}

/// Runs match `match_id`'s job here in `work` and compares it with `result`.
pub async fn rerun_check(
	s: &Session,
	match_id: u64,
	info: &MatchInfo,
	result: &PostedResult,
	work: &Path,
) -> Result<RerunCheck> {
	if result.status != ResultStatus::Completed {
		return Ok(RerunCheck::Inconclusive(format!("the RP posted {}", result.status)));
	}
	let MatchState::ResultPosted { reaction_deadline, .. } = &info.state else {
		return Ok(RerunCheck::Inconclusive("the result no longer awaits a reaction".into()));
	};
	let now = s.chain.now_ms().await?;
	let Some(deadline) = timing::local_deadline(*reaction_deadline, now, REJECT_RESERVE) else {
		return Ok(RerunCheck::Inconclusive("too close to the reaction deadline".into()));
	};
	let endpoint = directory_endpoint(&s.chain, &info.job.directory).await?;
	let rp_ns = s
		.chain
		.resource_provider(&info.resource_provider)
		.await?
		.map_or(1_000_000, |rp| rp.time_per_instruction_ns);
	let runner = Runner {
		docker: modicum_offchain::docker::connect().await?,
		registry: endpoint.registry,
		cpus: 1.0,
		pids_limit: 256,
		// This machine's speed is unknown: it runs with the RP's allowance, and a run
		// that does not complete here decides nothing.
		own_ns_per_instruction: rp_ns,
		phases: None,
	};
	let terms = job::JobTerms::of_match(info, rp_ns);
	let name = format!("jc-rerun-{match_id}-{}", std::process::id());
	let outcome = job::run(&runner, &terms, work, &name, Schedule::Mediator { deadline }).await;
	let _ = std::fs::remove_dir_all(work);
	let outcome = outcome?;
	Ok(match outcome.status {
		ResultStatus::Completed if outcome.result_root == result.hash => RerunCheck::Agrees,
		ResultStatus::Completed => RerunCheck::Differs { root: outcome.result_root },
		other => RerunCheck::Inconclusive(format!("the run here ended {other}")),
	})
}
