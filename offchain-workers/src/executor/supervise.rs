//! Running the container and watching it against its limits, then deciding the
//! status from what was seen.

use super::{
	container::{
		count_logs, create, inspect_state, is_running, kill, refused, remove_container, save_logs,
		wait_stopped, Created,
	},
	hardening::{cgroup_parent, container_name, engine_confines, host_config, verify_hardening},
	workdir::WorkDirs,
	ExecError, ExecStatus, JobSpec, JOB_USER, LOG_FRAME_BYTES, POLL_INTERVAL, RECORDS_IN,
};
use crate::cgroup;
use bollard::{
	models::HostConfig,
	query_parameters::{InspectContainerOptions, StartContainerOptions},
	Docker,
};
use std::{
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};

pub(super) enum Execution {
	Refused(ExecStatus),
	Ran(Observed),
}

/// What was seen of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Observed {
	/// The limit the job was killed at, if any.
	pub(super) limit: Option<Limit>,
	pub(super) oom_killed: bool,
	pub(super) exit_code: Option<i64>,
	pub(super) cpu_ns: u64,
	/// Log lines written, each charged [`LOG_FRAME_BYTES`] of disk.
	pub(super) log_frames: u64,
}

/// Why a running job was killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Limit {
	Instructions,
	WallClock,
	Storage,
}

/// Creates, runs and always removes the container (and its cgroup).
pub(super) async fn execute(
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

/// The cgroup and log counters a running job is measured by.
pub(super) struct Usage {
	pub(super) parent: String,
	pub(super) baseline: u64,
	pub(super) log_bytes: Arc<AtomicU64>,
}

impl Usage {
	fn cpu_ns(&self) -> Result<u64, ExecError> {
		Ok(cgroup::cpu_usage_ns(&self.parent)?.saturating_sub(self.baseline))
	}
}

pub(super) async fn verify_and_supervise(
	docker: &Docker,
	id: &str,
	spec: &JobSpec,
	dirs: &WorkDirs,
	wanted: &HostConfig,
	usage: &Usage,
) -> Result<Execution, ExecError> {
	let info = docker.info().await?;
	engine_confines(&info.security_options.unwrap_or_default())
		.map_err(ExecError::HardeningRefused)?;
	let inspect = docker.inspect_container(id, None::<InspectContainerOptions>).await?;
	let config = inspect.config.clone().unwrap_or_default();
	if config.user.as_deref() != Some(JOB_USER)
		|| config.healthcheck.and_then(|h| h.test) != Some(vec!["NONE".to_string()])
	{
		return Err(ExecError::HardeningRefused(
			"the engine changed the user or health check".into(),
		));
	}
	let got = inspect.host_config.unwrap_or_default();
	verify_hardening(wanted, &got).map_err(ExecError::HardeningRefused)?;
	// An image `VOLUME` would give the job an anonymous writable volume nothing counts:
	// the image cannot run as described (deterministic: the image is content-addressed).
	// The records a mediator re-runs are its own bind mount, not the image's volume.
	let records = spec.records_dir.as_ref().map(|dir| dir.to_string_lossy().into_owned());
	let ours = |m: &bollard::models::MountPoint| match m.destination.as_deref() {
		Some("/out") => true,
		Some(RECORDS_IN) => records.is_some() && m.source == records,
		_ => false,
	};
	let extra = inspect.mounts.unwrap_or_default().into_iter().find(|m| !ours(m));
	if let Some(mount) = extra {
		tracing::info!(container = id, destination = ?mount.destination, "the image declares a volume; refusing it");
		return Ok(Execution::Refused(ExecStatus::JobDescriptionError));
	}
	if let Err(e) = docker.start_container(id, None::<StartContainerOptions>).await {
		return Ok(Execution::Refused(refused("starting", e)?));
	}
	let counter = count_logs(docker, id, usage.log_bytes.clone());
	let watched = watch(docker, id, spec, usage).await;
	counter.abort();
	let limit = watched?;
	let state = inspect_state(docker, id).await?;
	let cpu_ns = usage.cpu_ns()?;
	let log_frames = save_logs(docker, id, &dirs.logs).await?;
	Ok(Execution::Ran(Observed {
		limit,
		oom_killed: state.oom_killed.unwrap_or(false),
		exit_code: state.exit_code,
		cpu_ns,
		log_frames,
	}))
}

/// Polls the running job until it exits, killing it at the first limit it passes.
pub(super) async fn watch(
	docker: &Docker,
	id: &str,
	spec: &JobSpec,
	usage: &Usage,
) -> Result<Option<Limit>, ExecError> {
	let started = Instant::now();
	loop {
		if !is_running(&inspect_state(docker, id).await?) {
			return Ok(None);
		}
		if let Some(limit) = passed_limit(spec, usage, started.elapsed()).await? {
			tracing::info!(container = id, ?limit, "killing the job at its limit");
			kill(docker, id).await?;
			wait_stopped(docker, id).await?;
			return Ok(Some(limit));
		}
		tokio::time::sleep(POLL_INTERVAL).await;
	}
}

pub(super) async fn passed_limit(
	spec: &JobSpec,
	usage: &Usage,
	elapsed: Duration,
) -> Result<Option<Limit>, ExecError> {
	let cpu_ms = cgroup::cpu_ms(usage.cpu_ns()?);
	if past_wall_clock(spec, elapsed, cpu_ms) {
		return Ok(Some(Limit::WallClock));
	}
	if cpu_ms > spec.instruction_limit_ms {
		return Ok(Some(Limit::Instructions));
	}
	// Only what cannot shrink again stops a job early, so a kill never decides a status
	// the final count would not: the logs. `/out` needs no watching, its filesystem is
	// capped by the kernel (a write past it fails with ENOSPC), and what the job leaves
	// there is counted when it stops.
	if usage.log_bytes.load(Ordering::Relaxed) > spec.storage_limit_bytes {
		return Ok(Some(Limit::Storage));
	}
	Ok(None)
}

/// Whether `elapsed` passed the spec's wall clock, stretched by the job's compute at
/// this machine's extra cost per instruction (see [`JobSpec::extra_ns_per_instruction`]).
pub(super) fn past_wall_clock(spec: &JobSpec, elapsed: Duration, cpu_ms: u64) -> bool {
	let stretch = Duration::from_nanos(cpu_ms.saturating_mul(spec.extra_ns_per_instruction));
	elapsed >= spec.wall_clock_limit.saturating_add(stretch)
}

/// The final status, from what was observed and what the job stored (its outputs and
/// logs; their framing on disk is added here).
pub(super) fn decide(spec: &JobSpec, observed: &Observed, stored: u64) -> ExecStatus {
	let stored = stored.saturating_add(observed.log_frames.saturating_mul(LOG_FRAME_BYTES));
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
