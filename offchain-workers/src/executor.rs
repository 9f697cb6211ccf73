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
//! `no-new-privileges`, user 65534:65534, memory without swap, CPU quota, process
//! limit, a `/tmp` tmpfs sized to the storage limit, `/out` bind-mounted from the work
//! directory, fixed hostname, no extra environment. If the engine refuses or drops
//! any of these, the run fails with [`ExecError::HardeningRefused`]; it is never
//! retried with less isolation.

use crate::{
	cgroup,
	docker::{self, DockerError},
	merkle::{self, MerkleError},
};
use bollard::{
	container::LogOutput,
	errors::Error as BollardError,
	models::{
		ContainerCreateBody, ContainerState, HostConfig, HostConfigLogConfig, Mount, MountTypeEnum,
	},
	query_parameters::{
		CreateContainerOptions, InspectContainerOptions, KillContainerOptions, LogsOptions,
		RemoveContainerOptions, StartContainerOptions,
	},
	Docker,
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::{
	collections::HashMap,
	fs, io,
	io::Write,
	path::{Path, PathBuf},
	pin::pin,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};

/// The user jobs run as (`nobody:nogroup`): not root, even inside the container.
pub const JOB_USER: &str = "65534:65534";
/// The label naming a job's container.
pub const JOB_LABEL: &str = "modicum.job";
/// How often a running job's usage is checked against its limits.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

const JOB_UID: u32 = 65534;
/// Docker refuses smaller memory limits.
const MIN_MEMORY_BYTES: u64 = 6 * 1024 * 1024;
/// How long a killed container may take to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

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
	/// Wall-clock limit of the run (not counting the pull, which it also bounds).
	pub wall_clock_limit: Duration,
	/// CPU cores the job may use.
	pub cpus: f64,
	/// Most processes the job may have at once (0 or less: no limit).
	pub pids_limit: i64,
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
	validate_job_name(job_name)?;
	validate_cpus(spec.cpus)?;
	let dirs = prepare_dirs(work_dir)?;
	if spec.memory_limit_bytes < MIN_MEMORY_BYTES {
		return finish(dirs, ExecStatus::JobDescriptionError, None, 0).await;
	}
	let bandwidth = match obtain_image(docker, spec).await? {
		Obtained::Ready { bandwidth } => bandwidth,
		Obtained::Stop { status, bandwidth } => return finish(dirs, status, None, bandwidth).await,
	};
	match execute(docker, spec, &dirs, job_name).await? {
		Execution::Refused(status) => finish(dirs, status, None, bandwidth).await,
		Execution::Ran(observed) => {
			let stored = stored_bytes_blocking(&dirs).await?;
			let status = decide(spec, &observed, stored);
			finish(dirs, status, Some(observed), bandwidth).await
		},
	}
}

/// The cgroup parent of a job's container.
pub fn cgroup_parent(job_name: &str) -> String {
	format!("/modicum/{job_name}")
}

/// The name of a job's container.
pub fn container_name(job_name: &str) -> String {
	format!("modicum-{job_name}")
}

/// The container's host configuration: every isolation setting lives here.
pub fn host_config(spec: &JobSpec, out_dir: &str, job_name: &str) -> HostConfig {
	let memory = i64::try_from(spec.memory_limit_bytes).unwrap_or(i64::MAX);
	HostConfig {
		network_mode: Some("none".into()),
		readonly_rootfs: Some(true),
		cap_drop: Some(vec!["ALL".into()]),
		security_opt: Some(vec!["no-new-privileges".into()]),
		privileged: Some(false),
		memory: Some(memory),
		// Equal to `memory`: no swap, so the memory limit is the job's whole footprint.
		memory_swap: Some(memory),
		nano_cpus: Some(nano_cpus(spec.cpus)),
		pids_limit: (spec.pids_limit > 0).then_some(spec.pids_limit),
		cgroup_parent: Some(cgroup_parent(job_name)),
		tmpfs: Some(HashMap::from([("/tmp".to_string(), tmpfs_options(spec.storage_limit_bytes))])),
		mounts: Some(vec![Mount {
			target: Some("/out".into()),
			source: Some(out_dir.into()),
			typ: Some(MountTypeEnum::BIND),
			read_only: Some(false),
			..Default::default()
		}]),
		log_config: Some(log_config(spec.storage_limit_bytes)),
		auto_remove: Some(false),
		..Default::default()
	}
}

/// Checks the configuration the engine stored against the one asked for: an engine
/// may drop a setting it cannot apply with only a warning.
pub fn verify_hardening(wanted: &HostConfig, got: &HostConfig) -> Result<(), String> {
	let mut dropped = Vec::new();
	let mut check = |name: &str, ok: bool| {
		if !ok {
			dropped.push(name.to_string());
		}
	};
	check("network none", got.network_mode == wanted.network_mode);
	check("read-only root filesystem", got.readonly_rootfs == Some(true));
	check("memory limit", got.memory == wanted.memory);
	check("no swap", got.memory_swap == wanted.memory_swap);
	check("CPU quota", got.nano_cpus == wanted.nano_cpus);
	check("cgroup parent", got.cgroup_parent == wanted.cgroup_parent);
	check("pids limit", wanted.pids_limit.is_none() || got.pids_limit == wanted.pids_limit);
	check("privileged off", got.privileged != Some(true));
	let has = |list: &Option<Vec<String>>, needle: &str| -> bool {
		list.iter().flatten().any(|item| item.to_ascii_lowercase().contains(needle))
	};
	check("cap-drop ALL", has(&got.cap_drop, "all"));
	check("no-new-privileges", has(&got.security_opt, "no-new-privileges"));
	check("/tmp tmpfs", got.tmpfs == wanted.tmpfs);
	if dropped.is_empty() {
		Ok(())
	} else {
		Err(format!("the engine dropped: {}", dropped.join(", ")))
	}
}

fn validate_job_name(job_name: &str) -> Result<(), ExecError> {
	let mut chars = job_name.chars();
	let valid = job_name.len() <= 64
		&& chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
		&& chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
	if valid {
		Ok(())
	} else {
		Err(ExecError::InvalidJobName(job_name.to_string()))
	}
}

fn validate_cpus(cpus: f64) -> Result<(), ExecError> {
	// Docker's smallest quota; larger than the host is refused by the engine itself.
	if cpus.is_finite() && cpus >= 0.01 {
		Ok(())
	} else {
		Err(ExecError::InvalidSpec(format!("cpus must be at least 0.01, not {cpus}")))
	}
}

fn nano_cpus(cpus: f64) -> i64 {
	(cpus * 1e9).round() as i64
}

fn tmpfs_options(storage_limit: u64) -> String {
	// `size=0` would mean "unlimited" to tmpfs, hence the one-page floor.
	format!("rw,noexec,nosuid,nodev,size={},mode=1777", storage_limit.max(4096))
}

/// Logs go to json-file with a single file far larger than the storage limit, so a
/// job within its limit never has its output rotated away (rotation would make
/// stdout depend on timing); the storage check stops jobs long before. Setting it
/// explicitly also overrides a daemon-wide `max-size`.
fn log_config(storage_limit: u64) -> HostConfigLogConfig {
	// json-file stores each line with ~70 bytes of framing, hence the factor.
	let max_size = storage_limit.saturating_mul(100).saturating_add(16 << 20).min(1 << 40);
	HostConfigLogConfig {
		typ: Some("json-file".into()),
		config: Some(HashMap::from([
			("max-size".to_string(), max_size.to_string()),
			("max-file".to_string(), "1".to_string()),
		])),
	}
}

/// The work directory's parts.
struct WorkDirs {
	/// Bind-mounted at `/out` (absolute, as the engine needs).
	out: PathBuf,
	/// stdout and stderr as collected.
	logs: PathBuf,
	/// The result that is archived and committed to.
	result: PathBuf,
}

fn prepare_dirs(work_dir: &Path) -> Result<WorkDirs, ExecError> {
	fs::create_dir_all(work_dir).map_err(io_error(work_dir))?;
	let work_dir = fs::canonicalize(work_dir).map_err(io_error(work_dir))?;
	let dirs = WorkDirs {
		out: work_dir.join("out"),
		logs: work_dir.join("logs"),
		result: work_dir.join("result"),
	};
	for dir in [&dirs.out, &dirs.logs, &dirs.result] {
		// Fresh directories: nothing from an earlier run may leak into this result.
		remove_dir_if_present(dir)?;
		fs::create_dir(dir).map_err(io_error(dir))?;
	}
	give_to_job_user(&dirs.out)?;
	Ok(dirs)
}

/// Lets the job's unprivileged user write `/out`.
fn give_to_job_user(dir: &Path) -> Result<(), ExecError> {
	use std::os::unix::fs::PermissionsExt;
	match std::os::unix::fs::chown(dir, Some(JOB_UID), Some(JOB_UID)) {
		Ok(()) => Ok(()),
		Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
			// Not root (e.g. a developer in the docker group): open the directory instead.
			tracing::warn!(dir = %dir.display(), "cannot chown the output directory; making it world-writable");
			fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).map_err(io_error(dir))
		},
		Err(e) => Err(ExecError::Io { path: dir.to_path_buf(), source: e }),
	}
}

/// Whether the image is ready to run, or the run ends before starting.
enum Obtained {
	Ready { bandwidth: u64 },
	Stop { status: ExecStatus, bandwidth: u64 },
}

async fn obtain_image(docker: &Docker, spec: &JobSpec) -> Result<Obtained, ExecError> {
	if use_local_copy(docker, &spec.image).await? {
		return Ok(Obtained::Ready { bandwidth: 0 });
	}
	let pull = docker::pull_within(docker, &spec.image, spec.bandwidth_limit_bytes);
	let report = match tokio::time::timeout(spec.wall_clock_limit, pull).await {
		Ok(Ok(report)) => report,
		Ok(Err(e)) => return pull_failure(e),
		Err(_) => {
			tracing::info!(image = %spec.image, "pull timed out");
			return Ok(Obtained::Stop { status: ExecStatus::DirectoryUnavailable, bandwidth: 0 });
		},
	};
	let bandwidth = report.bytes_pulled;
	Ok(if report.over_limit {
		Obtained::Stop { status: ExecStatus::BandwidthExceeded, bandwidth }
	} else {
		Obtained::Ready { bandwidth }
	})
}

/// A digest names content, so a local copy is the job itself; a reference without a
/// registry host can only be local (test images, locally built jobs).
async fn use_local_copy(docker: &Docker, image: &str) -> Result<bool, ExecError> {
	if !docker::is_pinned(image) && docker::registry_host(image).is_some() {
		return Ok(false);
	}
	Ok(docker::image_exists(docker, image).await?)
}

fn pull_failure(error: DockerError) -> Result<Obtained, ExecError> {
	match pull_outcome(&error) {
		Some(status) => {
			tracing::info!("pull failed: {error}");
			Ok(Obtained::Stop { status, bandwidth: 0 })
		},
		None => Err(error.into()),
	}
}

/// The outcome of a pull failure that is the job's or the directory's.
fn pull_outcome(error: &DockerError) -> Option<ExecStatus> {
	match error {
		DockerError::ImageNotFound { .. } => Some(ExecStatus::JobNotFound),
		DockerError::RegistryUnreachable { .. } => Some(ExecStatus::DirectoryUnavailable),
		DockerError::InvalidReference { .. } => Some(ExecStatus::JobDescriptionError),
		_ => None,
	}
}

/// Whether the job ran, or the engine refused it for the job's own reasons.
enum Execution {
	Refused(ExecStatus),
	Ran(Observed),
}

/// What was seen of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Observed {
	/// The limit the job was killed at, if any.
	limit: Option<Limit>,
	oom_killed: bool,
	exit_code: Option<i64>,
	cpu_ns: u64,
}

/// Why a running job was killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Limit {
	Instructions,
	WallClock,
	Storage,
}

/// Creates, runs and always removes the container (and its cgroup).
async fn execute(
	docker: &Docker,
	spec: &JobSpec,
	dirs: &WorkDirs,
	job_name: &str,
) -> Result<Execution, ExecError> {
	let name = container_name(job_name);
	let parent = cgroup_parent(job_name);
	// Leftovers of a crashed run under the same name would clash or inflate usage.
	remove_container(docker, &name).await;
	cgroup::remove(&parent);
	let baseline = cgroup::cpu_usage_ns(&parent).unwrap_or(0);
	let out_dir = dirs
		.out
		.to_str()
		.ok_or_else(|| ExecError::InvalidSpec(format!("{} is not UTF-8", dirs.out.display())))?;
	let wanted = host_config(spec, out_dir, job_name);
	let id = match create(docker, spec, &name, job_name, wanted.clone()).await? {
		Created::Id(id) => id,
		Created::Refused(status) => return Ok(Execution::Refused(status)),
	};
	let usage = Usage { parent: parent.clone(), baseline, log_bytes: Arc::new(AtomicU64::new(0)) };
	let run = verify_and_supervise(docker, &id, spec, dirs, &wanted, &usage).await;
	remove_container(docker, &id).await;
	cgroup::remove(&parent);
	run
}

enum Created {
	Id(String),
	Refused(ExecStatus),
}

async fn create(
	docker: &Docker,
	spec: &JobSpec,
	name: &str,
	job_name: &str,
	host_config: HostConfig,
) -> Result<Created, ExecError> {
	let body = ContainerCreateBody {
		image: Some(spec.image.clone()),
		// A fixed hostname: the default (the container id) differs on every run.
		hostname: Some("job".into()),
		user: Some(JOB_USER.into()),
		env: Some(Vec::new()),
		labels: Some(HashMap::from([(JOB_LABEL.to_string(), job_name.to_string())])),
		tty: Some(false),
		open_stdin: Some(false),
		host_config: Some(host_config),
		..Default::default()
	};
	let options = CreateContainerOptions { name: Some(name.to_string()), ..Default::default() };
	match docker.create_container(Some(options), body).await {
		Ok(created) if created.warnings.is_empty() => Ok(Created::Id(created.id)),
		Ok(created) => {
			// Warnings are how the engine says it dropped a setting (e.g. no swap limit).
			remove_container(docker, &created.id).await;
			Err(ExecError::HardeningRefused(created.warnings.join("; ")))
		},
		Err(e) => Ok(Created::Refused(refused("creating", e)?)),
	}
}

/// Sorts an engine refusal into the job's fault (an outcome: JobDescriptionError) or
/// the host's (an error).
fn refused(stage: &str, error: BollardError) -> Result<ExecStatus, ExecError> {
	let (status_code, message) = match error {
		BollardError::DockerResponseServerError { status_code, message } => (status_code, message),
		other => return Err(other.into()),
	};
	match classify_refusal(status_code, &message) {
		Refusal::Job => {
			tracing::info!("{stage} the container: refused for the job's reasons: {message}");
			Ok(ExecStatus::JobDescriptionError)
		},
		Refusal::Hardening => Err(ExecError::HardeningRefused(format!("{stage}: {message}"))),
		Refusal::Host => {
			Err(BollardError::DockerResponseServerError { status_code, message }.into())
		},
	}
}

/// Whose fault an engine refusal is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
	/// The image cannot run as described: a JobDescriptionError.
	Job,
	/// An isolation setting could not be applied.
	Hardening,
	/// Anything else: an error of the host.
	Host,
}

fn classify_refusal(status: u16, message: &str) -> Refusal {
	const JOB_EXEC: [&str; 5] = [
		"no such file or directory",
		"executable file not found",
		"permission denied",
		"exec format error",
		"not a directory",
	];
	const HARDENING: [&str; 14] = [
		"security",
		"seccomp",
		"apparmor",
		"no-new-privileges",
		"capabilit",
		"pids",
		"cgroup",
		"swap",
		"memory",
		"cpu",
		"read-only",
		"readonly",
		"tmpfs",
		"mount",
	];
	let message = message.to_ascii_lowercase();
	// runc's message for a bad entrypoint quotes the job's own command, which could
	// contain any word: recognise it first so a job cannot pose as a host problem.
	if message.contains("exec:") && JOB_EXEC.iter().any(|m| message.contains(m)) {
		Refusal::Job
	} else if HARDENING.iter().any(|m| message.contains(m)) {
		Refusal::Hardening
	} else if status == 400 || status == 404 {
		// "No command specified", a bad working directory, an image gone missing.
		Refusal::Job
	} else {
		Refusal::Host
	}
}

/// The cgroup and log counters a running job is measured by.
struct Usage {
	parent: String,
	baseline: u64,
	log_bytes: Arc<AtomicU64>,
}

impl Usage {
	fn cpu_ns(&self) -> Result<u64, ExecError> {
		Ok(cgroup::cpu_usage_ns(&self.parent)?.saturating_sub(self.baseline))
	}
}

async fn verify_and_supervise(
	docker: &Docker,
	id: &str,
	spec: &JobSpec,
	dirs: &WorkDirs,
	wanted: &HostConfig,
	usage: &Usage,
) -> Result<Execution, ExecError> {
	let inspect = docker.inspect_container(id, None::<InspectContainerOptions>).await?;
	let got = inspect.host_config.unwrap_or_default();
	verify_hardening(wanted, &got).map_err(ExecError::HardeningRefused)?;
	if let Err(e) = docker.start_container(id, None::<StartContainerOptions>).await {
		return Ok(Execution::Refused(refused("starting", e)?));
	}
	let counter = count_logs(docker, id, usage.log_bytes.clone());
	let watched = watch(docker, id, spec, dirs, usage).await;
	counter.abort();
	let limit = watched?;
	let state = inspect_state(docker, id).await?;
	let cpu_ns = usage.cpu_ns()?;
	save_logs(docker, id, &dirs.logs).await?;
	Ok(Execution::Ran(Observed {
		limit,
		oom_killed: state.oom_killed.unwrap_or(false),
		exit_code: state.exit_code,
		cpu_ns,
	}))
}

/// Polls the running job until it exits, killing it at the first limit it passes.
async fn watch(
	docker: &Docker,
	id: &str,
	spec: &JobSpec,
	dirs: &WorkDirs,
	usage: &Usage,
) -> Result<Option<Limit>, ExecError> {
	// `None`: a limit too far away to represent, i.e. none.
	let deadline = Instant::now().checked_add(spec.wall_clock_limit);
	loop {
		if !is_running(&inspect_state(docker, id).await?) {
			return Ok(None);
		}
		if let Some(limit) = passed_limit(spec, dirs, usage, deadline).await? {
			tracing::info!(container = id, ?limit, "killing the job at its limit");
			kill(docker, id).await?;
			wait_stopped(docker, id).await?;
			return Ok(Some(limit));
		}
		tokio::time::sleep(POLL_INTERVAL).await;
	}
}

async fn passed_limit(
	spec: &JobSpec,
	dirs: &WorkDirs,
	usage: &Usage,
	deadline: Option<Instant>,
) -> Result<Option<Limit>, ExecError> {
	if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
		return Ok(Some(Limit::WallClock));
	}
	if cgroup::cpu_ms(usage.cpu_ns()?) > spec.instruction_limit_ms {
		return Ok(Some(Limit::Instructions));
	}
	let out = dirs.out.clone();
	let written = tokio::task::spawn_blocking(move || stored_bytes(&out))
		.await
		.map_err(|e| ExecError::Task(format!("measuring the output: {e}")))?;
	if written.saturating_add(usage.log_bytes.load(Ordering::Relaxed)) > spec.storage_limit_bytes {
		return Ok(Some(Limit::Storage));
	}
	Ok(None)
}

/// The final status, from what was observed and what the job stored.
fn decide(spec: &JobSpec, observed: &Observed, stored: u64) -> ExecStatus {
	if observed.oom_killed {
		return ExecStatus::MemoryExceeded;
	}
	match observed.limit {
		// Running past the wall clock counts as exceeding the instructions: the chain
		// bounds only CPU time, and a job that sleeps or blocks must not hold the RP
		// forever. The wall clock is generous (the RP's deadline; for the mediator,
		// twice the instruction limit plus start-up), so only a job that is idle or
		// starved for long hits it.
		Some(Limit::Instructions | Limit::WallClock) => return ExecStatus::InstructionsExceeded,
		Some(Limit::Storage) => return ExecStatus::StorageExceeded,
		None => {},
	}
	// A job can pass a limit between two polls and exit before the next one.
	if cgroup::cpu_ms(observed.cpu_ns) > spec.instruction_limit_ms {
		return ExecStatus::InstructionsExceeded;
	}
	if stored > spec.storage_limit_bytes {
		return ExecStatus::StorageExceeded;
	}
	if observed.exit_code == Some(0) {
		ExecStatus::Completed
	} else {
		ExecStatus::ExceptionOccurred
	}
}

fn is_running(state: &ContainerState) -> bool {
	state.running.unwrap_or(false)
}

async fn inspect_state(docker: &Docker, id: &str) -> Result<ContainerState, ExecError> {
	let inspect = docker.inspect_container(id, None::<InspectContainerOptions>).await?;
	Ok(inspect.state.unwrap_or_default())
}

async fn kill(docker: &Docker, id: &str) -> Result<(), ExecError> {
	let options = KillContainerOptions { signal: "SIGKILL".into() };
	match docker.kill_container(id, Some(options)).await {
		Ok(()) => Ok(()),
		// 409: it exited on its own meanwhile.
		Err(BollardError::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
		Err(e) => Err(e.into()),
	}
}

async fn wait_stopped(docker: &Docker, id: &str) -> Result<(), ExecError> {
	let give_up = Instant::now() + STOP_GRACE;
	while is_running(&inspect_state(docker, id).await?) {
		if Instant::now() >= give_up {
			return Err(ExecError::Task(format!("container {id} did not stop after SIGKILL")));
		}
		tokio::time::sleep(Duration::from_millis(50)).await;
	}
	Ok(())
}

/// Best effort: a container that is already gone is fine, and a failure must not
/// hide the run's own outcome.
async fn remove_container(docker: &Docker, id: &str) {
	let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
	match docker.remove_container(id, Some(options)).await {
		Ok(()) => {},
		Err(e) if docker::is_not_found(&e) => {},
		Err(e) => tracing::warn!(container = id, "cannot remove the container: {e}"),
	}
}

/// Counts the bytes the job logs while it runs, for the storage limit (logs are
/// stored on the host too). Ends by itself when the container stops.
fn count_logs(docker: &Docker, id: &str, counter: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
	let docker = docker.clone();
	let id = id.to_string();
	tokio::spawn(async move {
		let options =
			LogsOptions { follow: true, stdout: true, stderr: true, ..Default::default() };
		let mut logs = pin!(docker.logs(&id, Some(options)));
		while let Some(Ok(chunk)) = logs.next().await {
			counter.fetch_add(chunk.as_ref().len() as u64, Ordering::Relaxed);
		}
	})
}

/// Writes the job's whole stdout and stderr, read back once it exited (not the live
/// stream, which can miss a tail), to `logs/stdout` and `logs/stderr`.
async fn save_logs(docker: &Docker, id: &str, logs_dir: &Path) -> Result<(), ExecError> {
	let stdout_path = logs_dir.join("stdout");
	let stderr_path = logs_dir.join("stderr");
	let mut stdout = fs::File::create(&stdout_path).map_err(io_error(&stdout_path))?;
	let mut stderr = fs::File::create(&stderr_path).map_err(io_error(&stderr_path))?;
	let options =
		LogsOptions { stdout: true, stderr: true, timestamps: false, ..Default::default() };
	let mut logs = pin!(docker.logs(id, Some(options)));
	while let Some(chunk) = logs.next().await {
		match chunk? {
			LogOutput::StdOut { message } => {
				stdout.write_all(&message).map_err(io_error(&stdout_path))?
			},
			LogOutput::StdErr { message } => {
				stderr.write_all(&message).map_err(io_error(&stderr_path))?
			},
			// Without a TTY or stdin nothing else is sent.
			LogOutput::StdIn { .. } | LogOutput::Console { .. } => {},
		}
	}
	Ok(())
}

/// Bytes the job stored: its outputs plus its stdout and stderr.
async fn stored_bytes_blocking(dirs: &WorkDirs) -> Result<u64, ExecError> {
	let (out, logs) = (dirs.out.clone(), dirs.logs.clone());
	tokio::task::spawn_blocking(move || stored_bytes(&out).saturating_add(stored_bytes(&logs)))
		.await
		.map_err(|e| ExecError::Task(format!("measuring the output: {e}")))
}

/// Apparent size of the regular files under `dir`. Never follows links, and ignores
/// entries that vanish meanwhile: the job may still be writing.
fn stored_bytes(dir: &Path) -> u64 {
	let mut total = 0u64;
	let mut pending = vec![dir.to_path_buf()];
	while let Some(dir) = pending.pop() {
		let Ok(entries) = fs::read_dir(&dir) else { continue };
		for entry in entries.flatten() {
			let Ok(meta) = fs::symlink_metadata(entry.path()) else { continue };
			if meta.is_dir() {
				pending.push(entry.path());
			} else if meta.is_file() {
				total = total.saturating_add(meta.len());
			}
		}
	}
	total
}

/// Builds the result directory for `status` and commits to it.
async fn finish(
	dirs: WorkDirs,
	status: ExecStatus,
	observed: Option<Observed>,
	bandwidth_used: u64,
) -> Result<RunOutcome, ExecError> {
	let exit_code = observed.as_ref().and_then(|o| o.exit_code);
	let instruction_count = observed.as_ref().map_or(0, |o| cgroup::cpu_ms(o.cpu_ns));
	let result_dir = dirs.result.clone();
	let result_root = tokio::task::spawn_blocking(move || -> Result<[u8; 32], ExecError> {
		assemble_result(&dirs, status, exit_code)?;
		Ok(merkle::root_of_dir(&dirs.result)?)
	})
	.await
	.map_err(|e| ExecError::Task(format!("building the result: {e}")))??;
	Ok(RunOutcome { status, instruction_count, bandwidth_used, exit_code, result_dir, result_root })
}

fn assemble_result(
	dirs: &WorkDirs,
	status: ExecStatus,
	exit_code: Option<i64>,
) -> Result<(), ExecError> {
	if status.keeps_outputs() {
		let out = dirs.result.join("out");
		rename(&dirs.out, &out)?;
		drop_non_regular(&out)?;
		rename(&dirs.logs.join("stdout"), &dirs.result.join("stdout"))?;
		rename(&dirs.logs.join("stderr"), &dirs.result.join("stderr"))?;
		let code = exit_code.unwrap_or(-1);
		write(&dirs.result.join("exit_code"), format!("{code}\n").as_bytes())?;
	} else {
		write(&dirs.result.join("status"), format!("{}\n", status.name()).as_bytes())?;
	}
	// What is left is not part of the result; failing to remove it only costs space.
	let _ = fs::remove_dir_all(&dirs.out);
	let _ = fs::remove_dir_all(&dirs.logs);
	Ok(())
}

/// Removes everything under `dir` that is neither a regular file nor a directory
/// (links, fifos, sockets), so the result can be committed to and archived.
fn drop_non_regular(dir: &Path) -> Result<(), ExecError> {
	let mut pending = vec![dir.to_path_buf()];
	while let Some(dir) = pending.pop() {
		for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
			let path = entry.map_err(io_error(&dir))?.path();
			let meta = fs::symlink_metadata(&path).map_err(io_error(&path))?;
			if meta.is_dir() {
				pending.push(path);
			} else if !meta.is_file() {
				tracing::info!(path = %path.display(), "dropping a non-regular file from the result");
				fs::remove_file(&path).map_err(io_error(&path))?;
			}
		}
	}
	Ok(())
}

fn rename(from: &Path, to: &Path) -> Result<(), ExecError> {
	fs::rename(from, to).map_err(io_error(from))
}

fn write(path: &Path, content: &[u8]) -> Result<(), ExecError> {
	fs::write(path, content).map_err(io_error(path))
}

fn remove_dir_if_present(dir: &Path) -> Result<(), ExecError> {
	match fs::remove_dir_all(dir) {
		Ok(()) => Ok(()),
		Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
		Err(e) => Err(ExecError::Io { path: dir.to_path_buf(), source: e }),
	}
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> ExecError + '_ {
	move |source| ExecError::Io { path: path.to_path_buf(), source }
}

/// Helpers for tests that need Docker, here and in the end-to-end tests.
pub mod test_support {
	use super::ExecError;
	use crate::docker;
	use bollard::{
		models::{ContainerConfig, ContainerCreateBody},
		query_parameters::{
			CommitContainerOptions, CreateContainerOptions, RemoveContainerOptions,
		},
		Docker,
	};

	/// The local test image: static busybox, no command.
	pub const BUSYBOX_IMAGE: &str = "modicum-test/busybox:1";
	const BUSYBOX_REPO: &str = "modicum-test/busybox";
	const BUSYBOX_TAG: &str = "1";
	const HOST_BUSYBOX: [&str; 2] = ["/bin/busybox", "/usr/bin/busybox"];
	const APPLETS: [&str; 20] = [
		"sh",
		"cat",
		"echo",
		"sha256sum",
		"sleep",
		"yes",
		"head",
		"dd",
		"tail",
		"ls",
		"mkdir",
		"rm",
		"true",
		"false",
		"printf",
		"seq",
		"wc",
		"tr",
		"ln",
		"mkfifo",
	];

	/// Docker if reachable; else `None` after a skip note on stderr, unless
	/// `MODICUM_REQUIRE_DOCKER=1`, when a missing Docker fails the calling test.
	pub async fn docker_or_skip(test: &str) -> Option<Docker> {
		let required = std::env::var("MODICUM_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
		match docker::connect().await {
			Ok(docker) => Some(docker),
			Err(e) if required => panic!("{test}: MODICUM_REQUIRE_DOCKER=1 but {e}"),
			Err(e) => {
				eprintln!("skipping {test}: {e}");
				None
			},
		}
	}

	/// Makes sure [`BUSYBOX_IMAGE`] exists, importing it from the host's static
	/// busybox if needed, and returns its name.
	pub async fn ensure_busybox_image(docker: &Docker) -> Result<String, ExecError> {
		if !docker::image_exists(docker, BUSYBOX_IMAGE).await? {
			docker::import_rootfs(docker, busybox_rootfs()?, BUSYBOX_REPO, BUSYBOX_TAG, &[])
				.await?;
		}
		Ok(BUSYBOX_IMAGE.to_string())
	}

	/// A root filesystem tar with the host's busybox at `/bin/busybox` and applet
	/// links beside it (deterministic, so every import yields the same layer).
	pub fn busybox_rootfs() -> Result<Vec<u8>, ExecError> {
		let host = HOST_BUSYBOX
			.iter()
			.find(|path| std::path::Path::new(path).is_file())
			.ok_or_else(|| ExecError::InvalidSpec("no busybox on this host".into()))?;
		let binary = std::fs::read(host).map_err(super::io_error(std::path::Path::new(host)))?;
		let io = |e: std::io::Error| ExecError::Task(format!("building the busybox tar: {e}"));
		let mut builder = tar::Builder::new(Vec::new());
		let mut dir = header(tar::EntryType::Directory, 0o755, 0);
		builder.append_data(&mut dir, "bin", std::io::empty()).map_err(io)?;
		let mut file = header(tar::EntryType::Regular, 0o755, binary.len() as u64);
		builder.append_data(&mut file, "bin/busybox", binary.as_slice()).map_err(io)?;
		for applet in APPLETS {
			let mut link = header(tar::EntryType::Symlink, 0o777, 0);
			builder.append_link(&mut link, format!("bin/{applet}"), "busybox").map_err(io)?;
		}
		builder.into_inner().map_err(io)
	}

	/// Makes image `modicum-test/<name>:1`: the busybox image with command
	/// `/bin/sh -c <script>`, committed without adding a layer, so it keeps the
	/// busybox image's base layer.
	pub async fn job_image(docker: &Docker, name: &str, script: &str) -> Result<String, ExecError> {
		let base = ensure_busybox_image(docker).await?;
		let holder = format!("modicum-test-commit-{name}");
		let remove = RemoveContainerOptions { force: true, ..Default::default() };
		let _ = docker.remove_container(&holder, Some(remove.clone())).await;
		let create = CreateContainerOptions { name: Some(holder.clone()), ..Default::default() };
		let body = ContainerCreateBody {
			image: Some(base),
			cmd: Some(vec!["/bin/sh".into()]),
			..Default::default()
		};
		docker.create_container(Some(create), body).await?;
		let cmd = serde_json::to_string(&["/bin/sh", "-c", script])
			.map_err(|e| ExecError::InvalidSpec(e.to_string()))?;
		let commit = CommitContainerOptions {
			container: Some(holder.clone()),
			repo: Some(format!("modicum-test/{name}")),
			tag: Some("1".into()),
			changes: Some(format!("CMD {cmd}")),
			pause: false,
			..Default::default()
		};
		let committed = docker.commit_container(commit, ContainerConfig::default()).await;
		let _ = docker.remove_container(&holder, Some(remove)).await;
		committed?;
		Ok(format!("modicum-test/{name}:1"))
	}

	fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
		let mut header = tar::Header::new_gnu();
		header.set_entry_type(kind);
		header.set_mode(mode);
		header.set_size(size);
		header.set_mtime(0);
		header.set_uid(0);
		header.set_gid(0);
		header
	}
}

#[cfg(test)]
mod tests {
	use super::{test_support::*, *};

	fn spec(image: String) -> JobSpec {
		JobSpec {
			image,
			memory_limit_bytes: 64 << 20,
			instruction_limit_ms: 5_000,
			storage_limit_bytes: 1 << 20,
			bandwidth_limit_bytes: 0,
			wall_clock_limit: Duration::from_secs(60),
			cpus: 1.0,
			pids_limit: 32,
		}
	}

	fn observed(limit: Option<Limit>, oom: bool, exit: i64, cpu_ms: u64) -> Observed {
		Observed { limit, oom_killed: oom, exit_code: Some(exit), cpu_ns: cpu_ms * 1_000_000 }
	}

	/// A job name unique to this test process.
	fn job(name: &str) -> String {
		format!("test-{name}-{}", std::process::id())
	}

	fn status_only(status: ExecStatus) -> [u8; 32] {
		merkle::merkle_root(&[("status".into(), format!("{}\n", status.name()).into_bytes())])
	}

	#[test]
	fn decisions() {
		let s = spec("x".into());
		assert_eq!(decide(&s, &observed(None, false, 0, 10), 10), ExecStatus::Completed);
		assert_eq!(decide(&s, &observed(None, false, 3, 10), 10), ExecStatus::ExceptionOccurred);
		assert_eq!(decide(&s, &observed(None, true, 0, 10), 10), ExecStatus::MemoryExceeded);
		assert_eq!(
			decide(&s, &observed(Some(Limit::WallClock), false, 137, 1), 0),
			ExecStatus::InstructionsExceeded
		);
		assert_eq!(
			decide(&s, &observed(Some(Limit::Storage), false, 137, 1), 0),
			ExecStatus::StorageExceeded
		);
		// Passed between two polls, then exited.
		assert_eq!(
			decide(&s, &observed(None, false, 0, 5_001), 0),
			ExecStatus::InstructionsExceeded
		);
		assert_eq!(
			decide(&s, &observed(None, false, 0, 1), (1 << 20) + 1),
			ExecStatus::StorageExceeded
		);
		// Memory first: an OOM kill explains whatever else happened.
		assert_eq!(
			decide(&s, &observed(Some(Limit::Storage), true, 137, 1), 0),
			ExecStatus::MemoryExceeded
		);
	}

	#[test]
	fn job_names() {
		assert!(validate_job_name("rp-12").is_ok());
		assert!(validate_job_name("mediator-3-0").is_ok());
		let long = "x".repeat(65);
		for bad in ["", "..", "-x", "a/b", "a b", long.as_str()] {
			assert!(validate_job_name(bad).is_err(), "{bad:?}");
		}
	}

	#[test]
	fn refusals() {
		let exec = "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/nonexistent\": stat /nonexistent: no such file or directory: unknown";
		assert_eq!(classify_refusal(400, exec), Refusal::Job);
		// The job's own command cannot make its failure look like the host's.
		let sneaky = exec.replace("/nonexistent", "/cgroup-seccomp");
		assert_eq!(classify_refusal(400, &sneaky), Refusal::Job);
		assert_eq!(classify_refusal(400, "No command specified"), Refusal::Job);
		assert_eq!(
			classify_refusal(500, "invalid --security-opt 1: \"bogus\""),
			Refusal::Hardening
		);
		assert_eq!(
			classify_refusal(500, "runc create failed: unable to apply cgroup configuration"),
			Refusal::Hardening
		);
		assert_eq!(classify_refusal(500, "something else broke"), Refusal::Host);
	}

	#[test]
	fn hardening_is_asked_for_and_checked() {
		let wanted = host_config(&spec("x".into()), "/w/out", "j1");
		assert_eq!(wanted.network_mode.as_deref(), Some("none"));
		assert_eq!(wanted.readonly_rootfs, Some(true));
		assert_eq!(wanted.memory, wanted.memory_swap);
		assert_eq!(wanted.cgroup_parent.as_deref(), Some("/modicum/j1"));
		assert_eq!(wanted.nano_cpus, Some(1_000_000_000));
		assert!(verify_hardening(&wanted, &wanted).is_ok());
		let dropped = HostConfig { pids_limit: None, memory_swap: Some(-1), ..wanted.clone() };
		let error = verify_hardening(&wanted, &dropped).unwrap_err();
		assert!(error.contains("pids limit") && error.contains("no swap"), "{error}");
	}

	#[test]
	fn busybox_rootfs_is_deterministic() {
		let Ok(first) = busybox_rootfs() else {
			eprintln!("skipping busybox_rootfs_is_deterministic: no busybox on this host");
			return;
		};
		assert_eq!(first, busybox_rootfs().unwrap());
		let mut archive = tar::Archive::new(first.as_slice());
		let names: Vec<String> = archive
			.entries()
			.unwrap()
			.map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
			.collect();
		assert!(
			names.contains(&"bin/busybox".to_string()) && names.contains(&"bin/sh".to_string())
		);
	}

	/// Runs `script` as job `name` with the default spec changed by `adjust`.
	async fn run(
		docker: &Docker,
		name: &str,
		script: &str,
		adjust: impl FnOnce(&mut JobSpec),
	) -> RunOutcome {
		let image = job_image(docker, name, script).await.unwrap();
		let mut spec = spec(image);
		adjust(&mut spec);
		let work = tempfile::tempdir().unwrap();
		let outcome = run_job(docker, &spec, work.path(), &job(name)).await.unwrap();
		assert!(!cgroup_exists(&cgroup_parent(&job(name))), "cgroup left behind");
		outcome
	}

	fn cgroup_exists(parent: &str) -> bool {
		cgroup::cpu_usage_ns(parent).is_ok()
	}

	#[tokio::test]
	async fn completes_with_the_expected_root_twice() {
		let Some(docker) = docker_or_skip("completes_with_the_expected_root_twice").await else {
			return;
		};
		let script = "echo hello; echo oops >&2; echo data > /out/a.txt; echo scratch > /tmp/t";
		let image = job_image(&docker, "write", script).await.unwrap();
		let expected = merkle::merkle_root(&[
			("stdout".into(), b"hello\n".to_vec()),
			("stderr".into(), b"oops\n".to_vec()),
			("out/a.txt".into(), b"data\n".to_vec()),
			("exit_code".into(), b"0\n".to_vec()),
		]);
		for run in 0..2 {
			let work = tempfile::tempdir().unwrap();
			let name = job(&format!("write-{run}"));
			let outcome = run_job(&docker, &spec(image.clone()), work.path(), &name).await.unwrap();
			assert_eq!(outcome.status, ExecStatus::Completed, "{outcome:?}");
			assert_eq!(outcome.exit_code, Some(0));
			assert_eq!(outcome.bandwidth_used, 0);
			assert_eq!(outcome.result_root, expected, "run {run}");
			assert_eq!(fs::read(outcome.result_dir.join("out/a.txt")).unwrap(), b"data\n");
			assert!(!cgroup_exists(&cgroup_parent(&name)), "cgroup left behind");
		}
	}

	#[tokio::test]
	async fn busy_loop_exceeds_instructions() {
		let Some(docker) = docker_or_skip("busy_loop_exceeds_instructions").await else { return };
		let outcome =
			run(&docker, "spin", "yes > /dev/null", |s| s.instruction_limit_ms = 300).await;
		assert_eq!(outcome.status, ExecStatus::InstructionsExceeded, "{outcome:?}");
		assert!(outcome.instruction_count >= 300, "{outcome:?}");
		assert_eq!(outcome.result_root, status_only(ExecStatus::InstructionsExceeded));
	}

	#[tokio::test]
	async fn sleeping_past_the_wall_clock_exceeds_instructions() {
		let Some(docker) = docker_or_skip("sleeping_past_the_wall_clock").await else { return };
		let outcome =
			run(&docker, "sleep", "sleep 30", |s| s.wall_clock_limit = Duration::from_secs(1))
				.await;
		assert_eq!(outcome.status, ExecStatus::InstructionsExceeded, "{outcome:?}");
	}

	#[tokio::test]
	async fn non_zero_exit_is_an_exception() {
		let Some(docker) = docker_or_skip("non_zero_exit_is_an_exception").await else { return };
		let outcome = run(&docker, "exit3", "echo partial > /out/p; exit 3", |_| {}).await;
		assert_eq!(outcome.status, ExecStatus::ExceptionOccurred, "{outcome:?}");
		assert_eq!(outcome.exit_code, Some(3));
		let expected = merkle::merkle_root(&[
			("stdout".into(), Vec::new()),
			("stderr".into(), Vec::new()),
			("out/p".into(), b"partial\n".to_vec()),
			("exit_code".into(), b"3\n".to_vec()),
		]);
		assert_eq!(outcome.result_root, expected);
	}

	#[tokio::test]
	async fn root_filesystem_is_read_only() {
		let Some(docker) = docker_or_skip("root_filesystem_is_read_only").await else { return };
		let outcome =
			run(&docker, "rofs", "echo x > /x 2>/dev/null && exit 0; exit 9", |_| {}).await;
		assert_eq!(outcome.exit_code, Some(9), "{outcome:?}");
	}

	#[tokio::test]
	async fn writing_past_the_storage_limit() {
		let Some(docker) = docker_or_skip("writing_past_the_storage_limit").await else { return };
		let outcome = run(&docker, "fill", "dd if=/dev/zero of=/out/big bs=1024 count=4096", |s| {
			s.storage_limit_bytes = 1 << 20
		})
		.await;
		assert_eq!(outcome.status, ExecStatus::StorageExceeded, "{outcome:?}");
		assert_eq!(outcome.result_root, status_only(ExecStatus::StorageExceeded));
	}

	#[tokio::test]
	async fn memory_hog_exceeds_memory() {
		let Some(docker) = docker_or_skip("memory_hog_exceeds_memory").await else { return };
		// Doubling a shell string reaches the limit in a few steps; OOM kills the shell.
		let script = "s=xxxxxxxxxxxxxxxx; while true; do s=\"$s$s\"; done";
		let outcome = run(&docker, "hog", script, |s| s.memory_limit_bytes = 16 << 20).await;
		assert_eq!(outcome.status, ExecStatus::MemoryExceeded, "{outcome:?}");
	}

	#[tokio::test]
	async fn image_without_a_command_is_a_description_error() {
		let Some(docker) = docker_or_skip("image_without_a_command").await else { return };
		let image = ensure_busybox_image(&docker).await.unwrap();
		let work = tempfile::tempdir().unwrap();
		let outcome = run_job(&docker, &spec(image), work.path(), &job("nocmd")).await.unwrap();
		assert_eq!(outcome.status, ExecStatus::JobDescriptionError, "{outcome:?}");
	}

	#[tokio::test]
	async fn unreachable_directory() {
		let Some(docker) = docker_or_skip("unreachable_directory").await else { return };
		let image = format!("127.0.0.1:1/jobs/none@sha256:{}", "0".repeat(64));
		let work = tempfile::tempdir().unwrap();
		let outcome = run_job(&docker, &spec(image), work.path(), &job("unreach")).await.unwrap();
		assert_eq!(outcome.status, ExecStatus::DirectoryUnavailable, "{outcome:?}");
		assert_eq!(outcome.result_root, status_only(ExecStatus::DirectoryUnavailable));
	}
}
