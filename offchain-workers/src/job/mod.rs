//! One way to run a match's job and decide its status, shared by the RP (once) and
//! the mediator (`n` times, with the same inputs), and one way to check a posted
//! result ([`verify`]), shared by the JC and the mediator. Mediation is only fair if
//! both sides decide alike, so every step that decides a status lives here:
//!
//! 1. the job reference must name the job hash's digest → else `JobDescriptionError`;
//! 2. the image manifest, fetched from the job's directory and checked against that
//!    digest, gives the bandwidth the job uses (its declared download size, so a
//!    machine with the layers cached measures the same) → `JobNotFound`,
//!    `DirectoryUnavailable`, `BandwidthExceeded`, or `JobDescriptionError` for an
//!    index or garbage;
//! 3. unless the engine has the image, its layers are streamed from the directory,
//!    decompressed and counted (never stored): more than [`UNPACKED_PER_BANDWIDTH`]
//!    times the bandwidth limit unpacked → `JobDescriptionError` (a decompression
//!    bomb), a layer neither gzip nor plain tar → `JobDescriptionError`; then the image
//!    is pulled, and its first layer must be the declared base layer → else
//!    `JobDescriptionError`;
//! 4. the RP declines (`Declined`) if the run's whole budget no longer fits before its
//!    deadline — never a shortened run, which a mediator would not reproduce;
//! 5. the executor runs it with the wall-clock budget of [`timing::run_budget`], from
//!    the RP's registered speed, stretched on a slower mediator by its extra time per
//!    instruction.
//!
//! Every outcome has a result directory and a Merkle root; statuses decided without a
//! run hold only their `status` file, the same bytes wherever they are decided.

pub mod package;
pub mod records;
pub mod ruling;
pub mod timing;
pub mod verify;

use crate::{
	archive,
	directory::{self, BlobRef, DirectoryError, Unpacked},
	docker::{self, DockerError},
	executor::{self, ExecError, ExecStatus, JobSpec},
};
use modicum_client::{chain::MatchInfo, reference_text, types::ResultStatus};
use std::{
	path::{Path, PathBuf},
	time::{Duration, Instant},
};

/// What decides how a match's job runs: read from the match and the RP's
/// registration, identical for the RP and the mediator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobTerms {
	/// The job reference as posted, `<repository>@sha256:<hex>` in the directory.
	pub reference: String,
	/// The digest the JC committed to.
	pub job_hash: [u8; 32],
	/// The base layer the JC declared.
	pub first_layer: [u8; 32],
	/// Memory limit in bytes.
	pub memory_limit_bytes: u64,
	/// CPU ms limit.
	pub instruction_limit_ms: u64,
	/// Storage limit in bytes.
	pub storage_limit_bytes: u64,
	/// Bandwidth limit in bytes.
	pub bandwidth_limit_bytes: u64,
	/// The RP's registered wall-clock ns per instruction.
	pub rp_ns_per_instruction: u64,
}

impl JobTerms {
	/// The terms of `info`'s job, run by an RP registered at `rp_ns_per_instruction`.
	pub fn of_match(info: &MatchInfo, rp_ns_per_instruction: u64) -> Self {
		let job = &info.job;
		JobTerms {
			reference: reference_text(&job.job_reference),
			job_hash: job.job_hash,
			first_layer: job.first_layer_hash,
			memory_limit_bytes: job.ram_limit,
			instruction_limit_ms: job.instruction_limit,
			storage_limit_bytes: job.local_storage_limit,
			bandwidth_limit_bytes: job.bandwidth_limit,
			rp_ns_per_instruction,
		}
	}

	/// The run's wall-clock budget ([`timing::run_budget`]).
	pub fn run_budget(&self) -> Duration {
		timing::run_budget(self.instruction_limit_ms, self.rp_ns_per_instruction)
	}
}

/// The machine that runs the job.
#[derive(Clone, Debug)]
pub struct Runner {
	/// Its Docker engine.
	pub docker: bollard::Docker,
	/// The job directory's registry, `host:port`.
	pub registry: String,
	/// CPU cores per job.
	pub cpus: f64,
	/// Most processes per job.
	pub pids_limit: i64,
	/// Its own wall-clock ns per instruction.
	pub own_ns_per_instruction: u64,
	/// Told when the job starts running (the RP puts it on the directory's phase
	/// board); `None` for nobody.
	pub phases: Option<tokio::sync::mpsc::UnboundedSender<directory::phase::JobProgress>>,
}

/// When the run must be over, and what happens if it cannot be.
#[derive(Clone, Copy, Debug)]
pub enum Schedule {
	/// The RP: the pull and the run end by `deadline` with `reserve` left for packing
	/// and uploading; a run that cannot have its whole budget is declined.
	Provider {
		/// When the upload must be done.
		deadline: Instant,
		/// Kept back after the run.
		reserve: Duration,
	},
	/// The mediator: the pull ends by `deadline`; the run always gets its budget (the
	/// chain sized the mediation window for it).
	Mediator {
		/// When the verdict must be ready.
		deadline: Instant,
	},
}

impl Schedule {
	fn deadline(&self) -> Instant {
		match self {
			Schedule::Provider { deadline, .. } | Schedule::Mediator { deadline } => *deadline,
		}
	}
}

/// What a run of a match's job came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobOutcome {
	/// The status to post (or to compare with the posted one).
	pub status: ResultStatus,
	/// CPU ms used, at most the job's limit.
	pub instruction_count: u64,
	/// Bytes the image costs to download (0 if it was never fetched).
	pub bandwidth_used: u64,
	/// The result directory.
	pub result_dir: PathBuf,
	/// Its Merkle root.
	pub result_root: [u8; 32],
}

/// A run could not be carried out for reasons of this machine, not the job's.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
	/// The executor failed (engine, cgroup, work files).
	#[error("running the job: {0}")]
	Exec(#[from] ExecError),
	/// The Docker engine failed outside a run.
	#[error(transparent)]
	Docker(#[from] DockerError),
	/// A background task died.
	#[error("{0}")]
	Task(String),
}

/// Runs the job of `terms` in `work_dir` under `job_name` (unique among concurrent
/// runs) and decides its status, by the module's steps.
pub async fn run(
	runner: &Runner,
	terms: &JobTerms,
	work_dir: &Path,
	job_name: &str,
	schedule: Schedule,
) -> Result<JobOutcome, JobError> {
	match run_steps(runner, terms, work_dir, job_name, schedule, None).await? {
		Ok(outcome) => Ok(outcome),
		Err(record) => Err(JobError::Task(format!("a whole run looked for record {record}"))),
	}
}

/// The module's steps; with `records`, the run sees only those records' inputs at
/// `/in/records` ([`records::run_records`]), and `Err(name)` says the image has no
/// record `name`.
async fn run_steps(
	runner: &Runner,
	terms: &JobTerms,
	work_dir: &Path,
	job_name: &str,
	schedule: Schedule,
	records: Option<&[String]>,
) -> Result<Result<JobOutcome, String>, JobError> {
	let decided = |status: ResultStatus, bandwidth: u64| {
		tracing::info!(job = job_name, %status, "decided without running the job");
		status_only(work_dir, status, bandwidth).map(Ok)
	};
	if !image_matches_hash(&terms.reference, &terms.job_hash) {
		return decided(ResultStatus::JobDescriptionError, 0);
	}
	let Ok(blob) = terms.reference.parse::<BlobRef>() else {
		return decided(ResultStatus::JobDescriptionError, 0);
	};
	let manifest = match image_size(&runner.registry, &blob, schedule.deadline()).await? {
		Ok(manifest) => manifest,
		Err(status) => return decided(status, 0),
	};
	let size = manifest.download_bytes;
	if size > terms.bandwidth_limit_bytes {
		return decided(ResultStatus::BandwidthExceeded, 0);
	}
	let image = format!("{}/{}", runner.registry, terms.reference);
	let cap = max_unpacked_bytes(terms.bandwidth_limit_bytes);
	let deadline = schedule.deadline();
	// Measured once per image and process, whether or not the engine has the image,
	// so a machine with it cached decides exactly as one without.
	let unpacked = match measured_unpacked(&terms.job_hash) {
		Some(unpacked) => unpacked,
		None => match unpacked_size(&runner.registry, &blob, manifest.layers, cap, deadline).await?
		{
			Ok(Unpacked::Within(unpacked)) => remember_unpacked(terms.job_hash, unpacked),
			Ok(Unpacked::Over) => return decided(ResultStatus::JobDescriptionError, size),
			Err(status) => return decided(status, 0),
		},
	};
	if unpacked > cap {
		return decided(ResultStatus::JobDescriptionError, size);
	}
	if !docker::image_exists(&runner.docker, &image).await? {
		if let Some(status) = pull(runner, &image, terms, deadline).await? {
			return decided(status, 0);
		}
	}
	if docker::image_first_layer(&runner.docker, &image).await? != terms.first_layer {
		return decided(ResultStatus::JobDescriptionError, size);
	}
	let records_dir = match records {
		None => None,
		Some(names) => {
			let dir = work_dir.join("records-in");
			let _ = std::fs::remove_dir_all(&dir);
			let copied =
				records::copy_record_inputs(&runner.docker, &image, job_name, names, &dir, cap)
					.await?;
			match copied {
				Ok(dir) => Some(
					std::fs::canonicalize(&dir)
						.map_err(|e| JobError::Task(format!("{}: {e}", dir.display())))?,
				),
				Err(missing) => return Ok(Err(missing)),
			}
		},
	};
	let budget = terms.run_budget();
	if let Schedule::Provider { deadline, reserve } = schedule {
		if !timing::run_fits(deadline, budget, reserve) {
			tracing::warn!(job = job_name, ?budget, "the run no longer fits before the deadline");
			return decided(ResultStatus::Declined, 0);
		}
	}
	let spec = JobSpec {
		image,
		memory_limit_bytes: terms.memory_limit_bytes,
		instruction_limit_ms: terms.instruction_limit_ms,
		storage_limit_bytes: terms.storage_limit_bytes,
		bandwidth_limit_bytes: terms.bandwidth_limit_bytes,
		wall_clock_limit: budget,
		extra_ns_per_instruction: timing::extra_ns_per_instruction(
			runner.own_ns_per_instruction,
			terms.rp_ns_per_instruction,
		),
		cpus: runner.cpus,
		pids_limit: runner.pids_limit,
		records_dir,
	};
	if let Some(phases) = &runner.phases {
		let _ = phases.send(directory::phase::JobProgress::Running);
	}
	let outcome = match executor::run_job(&runner.docker, &spec, work_dir, job_name).await {
		Ok(outcome) => outcome,
		Err(ExecError::HardeningRefused(what)) => {
			// Never run with less isolation: decline, loudly.
			tracing::error!(job = job_name, "the engine refused a hardening option ({what})");
			return decided(ResultStatus::Declined, 0);
		},
		Err(e) => return Err(e.into()),
	};
	Ok(Ok(JobOutcome {
		status: chain_status(outcome.status),
		instruction_count: outcome.instruction_count.min(terms.instruction_limit_ms),
		bandwidth_used: size,
		result_dir: outcome.result_dir,
		result_root: outcome.result_root,
	}))
}

/// A result decided without running the job; `bandwidth` is what was fetched.
pub fn status_only(
	work_dir: &Path,
	status: ResultStatus,
	bandwidth: u64,
) -> Result<JobOutcome, JobError> {
	let (result_dir, result_root) = executor::status_only_result(work_dir, status_name(status))?;
	Ok(JobOutcome {
		status,
		instruction_count: 0,
		bandwidth_used: bandwidth,
		result_dir,
		result_root,
	})
}

/// How large an image may become once unpacked, for a job with this bandwidth limit:
/// [`UNPACKED_PER_BANDWIDTH`] times it. The RP's bandwidth cap thus bounds the disk a
/// job's image can take; real images unpack to 2 to 4 times their compressed size.
pub fn max_unpacked_bytes(bandwidth_limit: u64) -> u64 {
	bandwidth_limit.saturating_mul(UNPACKED_PER_BANDWIDTH)
}

/// See [`max_unpacked_bytes`].
pub const UNPACKED_PER_BANDWIDTH: u64 = 16;

/// Unpacked sizes measured by this process, by image digest: facts about content, so
/// they never go stale. Bounded; forgetting one only costs a new measure.
fn unpacked_sizes() -> &'static std::sync::Mutex<std::collections::HashMap<[u8; 32], u64>> {
	static SIZES: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<[u8; 32], u64>>> =
		std::sync::OnceLock::new();
	SIZES.get_or_init(Default::default)
}

fn measured_unpacked(image: &[u8; 32]) -> Option<u64> {
	unpacked_sizes().lock().unwrap_or_else(|p| p.into_inner()).get(image).copied()
}

fn remember_unpacked(image: [u8; 32], unpacked: u64) -> u64 {
	const MOST_KEPT: usize = 4096;
	let mut sizes = unpacked_sizes().lock().unwrap_or_else(|p| p.into_inner());
	if sizes.len() >= MOST_KEPT {
		sizes.clear();
	}
	sizes.insert(image, unpacked);
	unpacked
}

/// Whether the image's layers unpack within `cap` (streamed, never stored), or the
/// status a failure to read them means.
async fn unpacked_size(
	registry: &str,
	blob: &BlobRef,
	layers: Vec<directory::Layer>,
	cap: u64,
	deadline: Instant,
) -> Result<Result<Unpacked, ResultStatus>, JobError> {
	let (registry, repository) = (registry.to_string(), blob.repository.clone());
	let read = tokio::task::spawn_blocking(move || {
		directory::unpacked_size_within(&registry, &repository, &layers, cap, deadline)
	})
	.await
	.map_err(|e| JobError::Task(format!("reading the layers: {e}")))?;
	Ok(read.map_err(|e| {
		tracing::info!("image layers: {e}");
		manifest_failure(&e)
	}))
}

/// The Merkle root of a status-only result, computed in memory: the same as
/// [`status_only`]'s.
pub fn status_only_root(status: ResultStatus) -> [u8; 32] {
	let content = executor::status_file(status_name(status));
	crate::merkle::merkle_root(&[("status".to_string(), content)])
}

/// Uploads a status-only result built without touching this machine's disk (for a
/// host whose disk is full): the same archive [`publish`] would make of
/// [`status_only`]'s directory. Returns the reference to post.
pub async fn publish_status_in_memory(
	registry: &str,
	match_id: u64,
	status: ResultStatus,
	deadline: Instant,
	credential: &directory::WriteCredential,
) -> Result<String, PublishError> {
	let content = executor::status_file(status_name(status));
	let (registry, credential) = (registry.to_string(), credential.clone());
	let repository = format!("results/match-{match_id}");
	let upload = tokio::task::spawn_blocking(move || -> Result<String, PublishError> {
		let tarball = archive::pack_files(&[("status", &content)])?;
		let digest = directory::upload_blob(&registry, &repository, &tarball, &credential)?;
		Ok(format!("{repository}@{digest}"))
	});
	let left = deadline.saturating_duration_since(Instant::now());
	match tokio::time::timeout(left, upload).await {
		Ok(Ok(published)) => published,
		Ok(Err(e)) => Err(PublishError::Task(e.to_string())),
		Err(_) => Err(PublishError::Late),
	}
}

/// Whether an error comes down to a full disk (ENOSPC) anywhere in its chain.
pub fn is_disk_full(error: &(dyn std::error::Error + 'static)) -> bool {
	let mut current = Some(error);
	while let Some(error) = current {
		if let Some(io) = error.downcast_ref::<std::io::Error>() {
			if io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28) {
				return true;
			}
		}
		current = error.source();
	}
	false
}

/// The image's manifest sizes, or the status a failure to read it means.
async fn image_size(
	registry: &str,
	blob: &BlobRef,
	deadline: Instant,
) -> Result<Result<directory::ImageSize, ResultStatus>, JobError> {
	let (registry, blob) = (registry.to_string(), blob.clone());
	let read = tokio::task::spawn_blocking(move || {
		directory::manifest_size(&registry, &blob.repository, &blob.digest, deadline)
	})
	.await
	.map_err(|e| JobError::Task(format!("reading the manifest: {e}")))?;
	Ok(match read {
		Ok(size) => Ok(size),
		Err(e) => {
			tracing::info!("image manifest: {e}");
			Err(manifest_failure(&e))
		},
	})
}

/// The status for a manifest that cannot be read: the JC's image missing or unusable,
/// or the directory failing.
fn manifest_failure(error: &DirectoryError) -> ResultStatus {
	match error {
		DirectoryError::BlobNotFound { .. } => ResultStatus::JobNotFound,
		DirectoryError::BadResponse { .. }
		| DirectoryError::InvalidRepository { .. }
		| DirectoryError::InvalidDigest { .. } => ResultStatus::JobDescriptionError,
		_ => ResultStatus::DirectoryUnavailable,
	}
}

/// Pulls the image (the caller checked the engine has none: it is pinned by digest, so
/// a local copy is the job itself); `Some(status)` when the pull fails for the job's or
/// the directory's reasons.
async fn pull(
	runner: &Runner,
	image: &str,
	terms: &JobTerms,
	deadline: Instant,
) -> Result<Option<ResultStatus>, JobError> {
	let left = deadline.saturating_duration_since(Instant::now());
	let pulling = docker::pull_within(&runner.docker, image, terms.bandwidth_limit_bytes);
	match tokio::time::timeout(left, pulling).await {
		Err(_) => Ok(Some(ResultStatus::DirectoryUnavailable)),
		Ok(Ok(report)) if report.over_limit => Ok(Some(ResultStatus::BandwidthExceeded)),
		Ok(Ok(_)) => Ok(None),
		Ok(Err(e)) => match e {
			DockerError::ImageNotFound { .. } => Ok(Some(ResultStatus::JobNotFound)),
			DockerError::RegistryUnreachable { .. } => Ok(Some(ResultStatus::DirectoryUnavailable)),
			DockerError::InvalidReference { .. } => Ok(Some(ResultStatus::JobDescriptionError)),
			other => Err(other.into()),
		},
	}
}

/// Packs the result and uploads it to the directory as `results/match-<id>` as the
/// writer of `credential`, done by `deadline`; the reference to post.
pub async fn publish(
	registry: &str,
	match_id: u64,
	result_dir: &Path,
	deadline: Instant,
	credential: &directory::WriteCredential,
) -> Result<String, PublishError> {
	let (registry, dir) = (registry.to_string(), result_dir.to_path_buf());
	let credential = credential.clone();
	let repository = format!("results/match-{match_id}");
	let upload = tokio::task::spawn_blocking(move || -> Result<String, PublishError> {
		// Packed to disk beside the result, never whole in memory.
		let tarball = dir.with_extension("tar");
		let io = |source| archive::ArchiveError::Io { path: tarball.clone(), source };
		let file = std::fs::File::create(&tarball).map_err(io)?;
		archive::pack_dir_into(&dir, std::io::BufWriter::new(file))?
			.into_inner()
			.map_err(|e| io(e.into_error()))?
			.sync_all()
			.map_err(io)?;
		let uploaded = directory::upload_file(&registry, &repository, &tarball, &credential);
		let _ = std::fs::remove_file(&tarball);
		Ok(format!("{repository}@{}", uploaded?))
	});
	let left = deadline.saturating_duration_since(Instant::now());
	match tokio::time::timeout(left, upload).await {
		Ok(Ok(published)) => published,
		Ok(Err(e)) => Err(PublishError::Task(e.to_string())),
		Err(_) => Err(PublishError::Late),
	}
}

/// The result could not be put in the directory.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
	/// The result directory could not be packed (a local failure).
	#[error("packing the result: {0}")]
	Pack(#[from] archive::ArchiveError),
	/// The directory refused or could not be reached.
	#[error("uploading the result: {0}")]
	Upload(#[from] DirectoryError),
	/// The upload did not finish before the deadline.
	#[error("the upload did not finish before the deadline")]
	Late,
	/// The upload task died.
	#[error("upload task: {0}")]
	Task(String),
}

/// The on-chain status for an executor outcome.
pub fn chain_status(status: ExecStatus) -> ResultStatus {
	match status {
		ExecStatus::Completed => ResultStatus::Completed,
		ExecStatus::JobNotFound => ResultStatus::JobNotFound,
		ExecStatus::DirectoryUnavailable => ResultStatus::DirectoryUnavailable,
		ExecStatus::JobDescriptionError => ResultStatus::JobDescriptionError,
		ExecStatus::MemoryExceeded => ResultStatus::MemoryExceeded,
		ExecStatus::StorageExceeded => ResultStatus::StorageExceeded,
		ExecStatus::InstructionsExceeded => ResultStatus::InstructionsExceeded,
		ExecStatus::BandwidthExceeded => ResultStatus::BandwidthExceeded,
		ExecStatus::ExceptionOccurred => ResultStatus::ExceptionOccurred,
	}
}

/// A status as a result's `status` file names it, spelled as [`ExecStatus::name`].
pub fn status_name(status: ResultStatus) -> &'static str {
	match status {
		ResultStatus::Completed => "Completed",
		ResultStatus::Declined => "Declined",
		ResultStatus::JobDescriptionError => "JobDescriptionError",
		ResultStatus::JobNotFound => "JobNotFound",
		ResultStatus::MemoryExceeded => "MemoryExceeded",
		ResultStatus::StorageExceeded => "StorageExceeded",
		ResultStatus::InstructionsExceeded => "InstructionsExceeded",
		ResultStatus::BandwidthExceeded => "BandwidthExceeded",
		ResultStatus::ExceptionOccurred => "ExceptionOccurred",
		ResultStatus::DirectoryUnavailable => "DirectoryUnavailable",
	}
}

/// Whether a job reference `repo@sha256:<hex>` names the digest whose bytes are the
/// job hash, so what runs is exactly what the JC committed to.
pub fn image_matches_hash(job_reference: &str, job_hash: &[u8; 32]) -> bool {
	job_reference
		.rsplit_once("@sha256:")
		.is_some_and(|(_, digest)| digest.eq_ignore_ascii_case(&hex::encode(job_hash)))
}

#[cfg(test)]
mod tests;
