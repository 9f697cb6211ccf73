//! Runs a job image in a hardened container and measures it. Both the RP daemon and
//! the mediator use this runner; the mediator re-runs a job `n` times and compares
//! result roots, so everything that lands in the result is deterministic for a
//! deterministic job:
//!
//! - a run that completes or fails on its own (exit code ≠ 0) yields
//!   `out/…` (what the job wrote to `/out`), `stdout`, `stderr` and `exit_code`;
//! - a run stopped at a limit (memory, storage, instructions, wall clock) yields only
//!   `status`, the status name: what it left behind depends on the moment it was
//!   stopped, which no re-run reproduces;
//! - a job that never ran (not found, directory unreachable, bad description,
//!   bandwidth exceeded) also yields only `status`.
//!
//! Only regular files and directories of `/out` are kept: links and fifos are dropped,
//! because a link could point a reader of the result outside it.
//!
//! Isolation: no network, read-only root filesystem, all capabilities dropped,
//! `no-new-privileges`, an engine that runs seccomp (never `unconfined`), user
//! 65534:65534, memory without swap, CPU quota, process limit, no core dumps, no
//! health check, a `/tmp` tmpfs sized to the storage limit, `/out` bind-mounted from a
//! tmpfs of the storage limit's size mounted in the work directory ([`outfs`]: the
//! daemon must run as root) and no other mount (an image declaring a `VOLUME` is a
//! `JobDescriptionError`), a capped json-file log, fixed hostname, no extra
//! environment. If the engine refuses or drops
//! any of these, the run fails with [`ExecError::HardeningRefused`]; it is never
//! retried with less isolation.

mod container;
mod hardening;
mod image;
mod outfs;
mod supervise;
#[cfg(test)]
pub mod test_support;
#[cfg(test)]
mod tests;
mod workdir;

pub use hardening::{cgroup_parent, container_name, host_config, verify_hardening, RECORDS_IN};
pub use outfs::detach_all_under as unmount_stale_outputs;

use crate::{cgroup, docker::DockerError, merkle::MerkleError};
use bollard::{errors::Error as BollardError, Docker};
use serde::{Deserialize, Serialize};
use std::{
	io,
	path::{Path, PathBuf},
	time::Duration,
};

/// The user jobs run as (`nobody:nogroup`): not root, even inside the container.
pub const JOB_USER: &str = "65534:65534";
/// The label naming a job's container.
pub const JOB_LABEL: &str = "modicum.job";
/// How often a running job's usage is checked against its limits.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

pub(crate) const JOB_UID: u32 = 65534;
/// Docker refuses smaller memory limits.
const MIN_MEMORY_BYTES: u64 = 6 * 1024 * 1024;
/// What one log line costs on the host's disk beyond its bytes: json-file writes each
/// as `{"log":"…","stream":"stdout","time":"…"}`. Charged against the storage limit,
/// so a job printing only newlines cannot write 70 times its limit to the host.
pub const LOG_FRAME_BYTES: u64 = 80;
/// What each file or directory of `/out` costs against the storage limit beyond its
/// bytes: an archive header, so a million empty files are not free.
pub const ENTRY_BYTES: u64 = 512;
/// The deepest nesting and the longest relative path a job's outputs may have; beyond
/// them the result could not be archived and checked everywhere (`PATH_MAX`, tar), so
/// the job is over its storage limit.
pub const MAX_OUTPUT_DEPTH: usize = 32;
/// See [`MAX_OUTPUT_DEPTH`].
pub const MAX_OUTPUT_PATH_BYTES: usize = 1024;
/// How long a killed container may take to stop.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

/// What to run and within which limits.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
	/// Image reference, e.g. `127.0.0.1:5000/jobs/x@sha256:…`, or a local image.
	pub image: String,
	/// Memory limit (swap is not allowed on top).
	pub memory_limit_bytes: u64,
	/// CPU time limit in milliseconds (the chain's instruction limit).
	pub instruction_limit_ms: u64,
	/// Limit on what the job stores: its outputs plus stdout and stderr (and, apart,
	/// the size of its `/tmp`).
	pub storage_limit_bytes: u64,
	/// Limit on the bytes pulled for the image.
	pub bandwidth_limit_bytes: u64,
	/// Wall-clock limit of the run (not counting the pull, which it also bounds), as it
	/// would elapse on the machine whose speed it was set for.
	pub wall_clock_limit: Duration,
	/// How much slower, in ns per instruction (CPU ms), this machine runs than the one
	/// the wall clock was set for (0 for the RP itself). Each CPU ms the job uses adds
	/// this much to its allowance, so a slower mediator stops a job where the RP would
	/// have: idle time counts the same everywhere, compute time at the RP's speed.
	pub extra_ns_per_instruction: u64,
	/// CPU cores the job may use.
	pub cpus: f64,
	/// Most processes the job may have at once (at least 1).
	pub pids_limit: i64,
	/// A host directory mounted read-only over the job's `/in/records`, to run a record
	/// job on just some of its records (a mediator re-running disputed records);
	/// `None` runs the image as it is.
	pub records_dir: Option<std::path::PathBuf>,
}

/// How a run ended; mirrors the chain's result statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecStatus {
	/// The job exited with code 0 within its limits.
	Completed,
	/// The registry has no such image.
	JobNotFound,
	/// The directory's registry could not be reached.
	DirectoryUnavailable,
	/// The image cannot run as described (no command, bad reference, tiny memory).
	JobDescriptionError,
	/// The job was killed for running out of memory.
	MemoryExceeded,
	/// The job stored more than its storage limit.
	StorageExceeded,
	/// The job used more CPU time than its limit, or ran past its wall clock.
	InstructionsExceeded,
	/// The image is larger than the bandwidth limit.
	BandwidthExceeded,
	/// The job exited with a non-zero code.
	ExceptionOccurred,
}

impl ExecStatus {
	/// The status's name, as written to a result's `status` file.
	pub fn name(self) -> &'static str {
		match self {
			ExecStatus::Completed => "Completed",
			ExecStatus::JobNotFound => "JobNotFound",
			ExecStatus::DirectoryUnavailable => "DirectoryUnavailable",
			ExecStatus::JobDescriptionError => "JobDescriptionError",
			ExecStatus::MemoryExceeded => "MemoryExceeded",
			ExecStatus::StorageExceeded => "StorageExceeded",
			ExecStatus::InstructionsExceeded => "InstructionsExceeded",
			ExecStatus::BandwidthExceeded => "BandwidthExceeded",
			ExecStatus::ExceptionOccurred => "ExceptionOccurred",
		}
	}

	/// Whether the result holds the job's outputs (else only its `status`).
	pub fn keeps_outputs(self) -> bool {
		matches!(self, ExecStatus::Completed | ExecStatus::ExceptionOccurred)
	}
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
	/// How it ended.
	pub status: ExecStatus,
	/// CPU milliseconds (user + system) of the job's processes, rounded up.
	pub instruction_count: u64,
	/// Bytes pulled for the image (0 if it was already here).
	pub bandwidth_used: u64,
	/// The container's exit code, if it ran.
	pub exit_code: Option<i64>,
	/// `<work_dir>/result`: what is archived and committed to.
	pub result_dir: PathBuf,
	/// [`merkle::root_of_dir`] of `result_dir`.
	pub result_root: [u8; 32],
}

/// A run could not be carried out (as opposed to a job failing, which is an outcome).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
	/// The engine refused or dropped an isolation setting; the RP must not run jobs.
	#[error("the engine refused a hardening option: {0}")]
	HardeningRefused(String),
	/// The job name cannot name a container and a cgroup.
	#[error(
		"job name {0:?} must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"
	)]
	InvalidJobName(String),
	/// The spec is unusable for reasons that are the operator's, not the job's.
	#[error("invalid job spec: {0}")]
	InvalidSpec(String),
	/// Pulling or inspecting the image failed for reasons that are not the job's.
	#[error(transparent)]
	Docker(#[from] DockerError),
	/// The engine failed.
	#[error("Docker engine: {0}")]
	Engine(#[from] BollardError),
	/// CPU usage could not be read.
	#[error(transparent)]
	Cgroup(#[from] cgroup::CgroupError),
	/// The result could not be committed to.
	#[error(transparent)]
	Merkle(#[from] MerkleError),
	/// A work file could not be written.
	#[error("{path}: {source}")]
	Io {
		/// The file.
		path: PathBuf,
		/// Why.
		source: io::Error,
	},
	/// A background task failed or the container did not stop.
	#[error("{0}")]
	Task(String),
}

/// Runs `spec` under the name `job_name` (unique among concurrent runs; it names the
/// container `modicum-<job_name>` and the cgroup `/modicum/<job_name>`), with
/// `work_dir` holding `out/` (the job's `/out`) and `result/`. Job failures are
/// outcomes; errors mean the run could not be carried out. The container and the
/// cgroup are always removed.
pub async fn run_job(
	docker: &Docker,
	spec: &JobSpec,
	work_dir: &Path,
	job_name: &str,
) -> Result<RunOutcome, ExecError> {
	hardening::validate_job_name(job_name)?;
	hardening::validate_cpus(spec.cpus)?;
	hardening::validate_pids(spec.pids_limit)?;
	let dirs = workdir::prepare_dirs(work_dir)?;
	if spec.memory_limit_bytes < MIN_MEMORY_BYTES {
		return workdir::finish(dirs, ExecStatus::JobDescriptionError, None, 0).await;
	}
	let bandwidth = match image::obtain_image(docker, spec).await? {
		image::Obtained::Ready { bandwidth } => bandwidth,
		image::Obtained::Stop { status, bandwidth } => {
			return workdir::finish(dirs, status, None, bandwidth).await
		},
	};
	let out_dir = dirs.out.clone();
	let out = outfs::OutFs::mount(&out_dir, spec.storage_limit_bytes)?;
	let outcome = match supervise::execute(docker, spec, &dirs, job_name).await? {
		supervise::Execution::Refused(status) => {
			workdir::finish(dirs, status, None, bandwidth).await
		},
		supervise::Execution::Ran(observed) => {
			let stored = workdir::stored_bytes_blocking(&dirs, spec.storage_limit_bytes).await?;
			let status = supervise::decide(spec, &observed, stored);
			workdir::finish(dirs, status, Some(observed), bandwidth).await
		},
	};
	// Unmounting frees whatever the job left in `/out` at once (it was copied if kept).
	drop(out);
	let _ = std::fs::remove_dir(&out_dir);
	outcome
}
/// Removes every job container (and its cgroup) whose job name starts with `prefix`
/// (e.g. `rp-<account>-`): what a daemon killed mid-job left behind. Call it at
/// start-up, before the caller runs any job, with a prefix no other daemon uses.
pub async fn remove_orphans(docker: &Docker, prefix: &str) -> Result<usize, ExecError> {
	use bollard::query_parameters::ListContainersOptionsBuilder;
	let filters = std::collections::HashMap::from([("label", vec![JOB_LABEL])]);
	let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
	let mut removed = 0;
	for found in docker.list_containers(Some(options)).await? {
		let Some(job) = found.labels.as_ref().and_then(|labels| labels.get(JOB_LABEL)) else {
			continue;
		};
		let (true, Some(id)) = (job.starts_with(prefix), found.id.as_deref()) else { continue };
		tracing::info!(job, "removing a job container left behind by an earlier run");
		container::remove_container(docker, id).await;
		cgroup::remove(&cgroup_parent(job));
		removed += 1;
	}
	Ok(removed)
}

/// Clears what a daemon's jobs left on the host — its job containers and their cgroups
/// (by job-name `prefix`, e.g. `rp-<account tag>-`) and the `/out` filesystems under
/// its `work_root` — and returns how many things it removed. Called at start-up, before
/// any job runs, for a daemon that was killed mid-job; and at shutdown, so a stopped
/// daemon leaves no job running. Failures are logged: they must not stop either.
pub async fn clear_leftovers(docker: &Docker, prefix: &str, work_root: &Path) -> usize {
	let containers = remove_orphans(docker, prefix).await.unwrap_or_else(|e| {
		tracing::warn!("cannot look for job containers left behind: {e}");
		0
	});
	containers + outfs::detach_all_under(work_root)
}

/// The part of a job name that tells one daemon's jobs from another's on a shared
/// engine: the first 8 hex digits of its account.
pub fn owner_tag(account: &[u8; 32]) -> String {
	hex::encode(&account[..4])
}

/// Makes `<work_dir>/result` a result that holds only `status`, the name of a status
/// decided without running the job (as [`ExecStatus::name`] spells it), and returns
/// its path and Merkle root: the same bytes for everyone who decides the same.
pub fn status_only_result(
	work_dir: &Path,
	status_name: &str,
) -> Result<(PathBuf, [u8; 32]), ExecError> {
	let dirs = workdir::prepare_dirs(work_dir)?;
	workdir::write_status(&dirs.result, status_name)?;
	let _ = std::fs::remove_dir_all(&dirs.out);
	let _ = std::fs::remove_dir_all(&dirs.logs);
	let root = crate::merkle::root_of_dir(&dirs.result)?;
	Ok((dirs.result, root))
}

/// The bytes of a status-only result's one file, `status`: the status's name and a
/// newline. Written to disk here and built in memory by callers that cannot write.
pub fn status_file(status_name: &str) -> Vec<u8> {
	format!("{status_name}\n").into_bytes()
}

/// An I/O error naming its file.
pub(crate) fn io_error(path: &Path) -> impl Fn(io::Error) -> ExecError + '_ {
	move |source| ExecError::Io { path: path.to_path_buf(), source }
}
