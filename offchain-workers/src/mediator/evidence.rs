//! Gathering what a rejection asks ([`ruling::question`]): the directory's uptime,
//! the posted result, or `n` runs of the job through the RP's own pipeline.

use super::{Mediator, MediatorError};
use crate::{
	directory::{self, DirectoryEndpoint},
	job::{
		self,
		ruling::{self, Evidence, Question, Rerun},
		timing,
		verify::{self, PostedArchive},
		Runner, Schedule,
	},
	rp::directory_endpoint,
};
use modicum_client::{
	chain::MatchInfo,
	reference_text,
	types::{PostedResult, RejectReason},
};
use std::time::Instant;

impl Mediator {
	/// The evidence for the rejection of `result`, or `None` if the mediation deadline
	/// is too close to gather it and post.
	pub(super) async fn gather(
		&self,
		match_id: u64,
		info: &MatchInfo,
		result: &PostedResult,
		reason: RejectReason,
		mediation_deadline: u64,
	) -> Result<Option<Evidence>, MediatorError> {
		let now = self.chain.now_ms().await?;
		let Some(deadline) =
			timing::local_deadline(mediation_deadline, now, timing::MEDIATOR_RESERVE)
		else {
			return Ok(None);
		};
		let endpoint = directory_endpoint(&self.chain, &info.job.directory).await;
		let evidence = match ruling::question(result, reason) {
			Question::DirectoryUptime { .. } => {
				let up = match endpoint {
					Ok(endpoint) => self.directory_was_up(&endpoint, info.matched_at, now).await,
					Err(_) => false,
				};
				tracing::info!(match_id, up, "directory uptime over the job's span");
				Evidence::DirectoryUp(up)
			},
			Question::ResultInDirectory => {
				let endpoint = endpoint.map_err(MediatorError::Evidence)?;
				Evidence::ResultFound(self.result_found(&endpoint, info, result, deadline).await?)
			},
			Question::Nothing => Evidence::None,
			Question::Reruns => {
				let endpoint = endpoint.map_err(MediatorError::Evidence)?;
				Evidence::Reruns(self.rerun(match_id, info, &endpoint, deadline).await?)
			},
		};
		Ok(Some(evidence))
	}

	/// `n` runs of a replicated job for its group's verdict, through the pipeline the
	/// RPs used; `None` if the mediation deadline is too close to run and post.
	pub(super) async fn replica_reruns(
		&self,
		match_id: u64,
		info: &MatchInfo,
		mediation_deadline: u64,
	) -> Result<Option<Vec<Rerun>>, MediatorError> {
		let Some((deadline, endpoint)) = self.run_window(info, mediation_deadline).await? else {
			return Ok(None);
		};
		Ok(Some(self.rerun(match_id, info, &endpoint, deadline).await?))
	}

	/// When re-runs must be over (the mediation deadline less the time to post), and the
	/// job's directory; `None` when that moment has passed.
	pub(super) async fn run_window(
		&self,
		info: &MatchInfo,
		mediation_deadline: u64,
	) -> Result<Option<(Instant, DirectoryEndpoint)>, MediatorError> {
		let now = self.chain.now_ms().await?;
		let Some(deadline) =
			timing::local_deadline(mediation_deadline, now, timing::MEDIATOR_RESERVE)
		else {
			return Ok(None);
		};
		let endpoint = directory_endpoint(&self.chain, &info.job.directory)
			.await
			.map_err(MediatorError::Evidence)?;
		Ok(Some((deadline, endpoint)))
	}

	async fn directory_was_up(&self, endpoint: &DirectoryEndpoint, from: u64, to: u64) -> bool {
		let endpoint = endpoint.clone();
		tokio::task::spawn_blocking(move || directory::query_uptime(&endpoint, from, to))
			.await
			.ok()
			.and_then(Result::ok)
			.is_some_and(|report| report.fully_available)
	}

	/// Whether the posted result is in the directory with the posted root, checked
	/// exactly as the JC checks it. A directory that cannot be reached just now is an
	/// error (tried again next tick), not a verdict.
	async fn result_found(
		&self,
		endpoint: &DirectoryEndpoint,
		info: &MatchInfo,
		result: &PostedResult,
		deadline: Instant,
	) -> Result<bool, MediatorError> {
		let posted = PostedArchive {
			registry: endpoint.registry.clone(),
			reference: reference_text(&result.reference),
			root: result.hash,
			max_bytes: verify::max_archive_bytes(info.job.local_storage_limit),
		};
		let scratch = tempfile::Builder::new()
			.prefix("check-")
			.tempdir_in(&self.settings.work_dir)
			.map_err(|e| MediatorError::Evidence(format!("scratch directory: {e}")))?;
		let checked = tokio::task::spawn_blocking(move || {
			let checked = verify::fetch_verified(&posted, scratch.path(), deadline);
			drop(scratch);
			checked
		})
		.await
		.map_err(|e| MediatorError::Evidence(e.to_string()))?;
		match checked {
			Ok(_) => Ok(true),
			Err(e) if e.result_is_bad() => {
				tracing::info!("the posted result is not there as posted: {e}");
				Ok(false)
			},
			Err(e) => Err(MediatorError::Evidence(e.to_string())),
		}
	}

	/// The machine and the terms to re-run `info`'s job with: the RP's registered speed,
	/// the mediator's own limits.
	pub(super) async fn runner_and_terms(
		&self,
		info: &MatchInfo,
		endpoint: &DirectoryEndpoint,
	) -> Result<(Runner, job::JobTerms), MediatorError> {
		let rp_ns = self
			.chain
			.resource_provider(&info.resource_provider)
			.await?
			.map_or(self.settings.time_per_instruction_ns, |rp| rp.time_per_instruction_ns);
		let runner = Runner {
			docker: self.docker.clone(),
			registry: endpoint.registry.clone(),
			cpus: self.settings.cpus,
			pids_limit: self.settings.pids_limit,
			own_ns_per_instruction: self.settings.time_per_instruction_ns,
			phases: None,
		};
		Ok((runner, job::JobTerms::of_match(info, rp_ns)))
	}

	/// Runs the job `n` times through the pipeline the RP used, with the same terms.
	async fn rerun(
		&self,
		match_id: u64,
		info: &MatchInfo,
		endpoint: &DirectoryEndpoint,
		deadline: Instant,
	) -> Result<Vec<Rerun>, MediatorError> {
		let (runner, terms) = self.runner_and_terms(info, endpoint).await?;
		let image = self.images.hold(&format!("{}/{}", endpoint.registry, terms.reference));
		let mut runs = Vec::new();
		for run in 0..info.verification_count.max(1) {
			let work = self.settings.work_dir.join(format!("match-{match_id}/run-{run}"));
			let tag = crate::executor::owner_tag(&self.me.0);
			let name = format!("mediator-{tag}-{match_id}-{run}");
			let outcome =
				job::run(&runner, &terms, &work, &name, Schedule::Mediator { deadline }).await?;
			runs.push(Rerun {
				status: outcome.status,
				root: outcome.result_root,
				instruction_count: outcome.instruction_count,
				bandwidth_used: outcome.bandwidth_used,
			});
			let _ = std::fs::remove_dir_all(&work);
		}
		drop(image);
		if let Err(e) = self.images.prune(&self.docker).await {
			tracing::warn!("cannot prune the job image cache: {e}");
		}
		Ok(runs)
	}
}
