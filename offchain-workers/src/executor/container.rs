//! The container's life on the engine: create, refusals, kill, logs, removal.

use super::{
	io_error, ExecError, ExecStatus, JobSpec, JOB_LABEL, JOB_USER, LOG_FRAME_BYTES, STOP_GRACE,
};
use crate::docker;
use bollard::{
	container::LogOutput,
	errors::Error as BollardError,
	models::{ContainerCreateBody, ContainerState, HealthConfig, HostConfig},
	query_parameters::{
		CreateContainerOptions, InspectContainerOptions, KillContainerOptions, LogsOptions,
		RemoveContainerOptions,
	},
	Docker,
};
use futures::StreamExt;
use std::{
	collections::HashMap,
	fs,
	io::Write,
	path::Path,
	pin::pin,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};

pub(super) enum Created {
	Id(String),
	Refused(ExecStatus),
}

pub(super) async fn create(
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
		// An image's HEALTHCHECK would run commands of the job's outside its run.
		healthcheck: Some(HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() }),
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
pub(super) fn refused(stage: &str, error: BollardError) -> Result<ExecStatus, ExecError> {
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
pub(super) enum Refusal {
	/// The image cannot run as described: a JobDescriptionError.
	Job,
	/// An isolation setting could not be applied.
	Hardening,
	/// Anything else: an error of the host.
	Host,
}

pub(super) fn classify_refusal(status: u16, message: &str) -> Refusal {
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

pub(super) fn is_running(state: &ContainerState) -> bool {
	state.running.unwrap_or(false)
}

pub(super) async fn inspect_state(docker: &Docker, id: &str) -> Result<ContainerState, ExecError> {
	let inspect = docker.inspect_container(id, None::<InspectContainerOptions>).await?;
	Ok(inspect.state.unwrap_or_default())
}

pub(super) async fn kill(docker: &Docker, id: &str) -> Result<(), ExecError> {
	let options = KillContainerOptions { signal: "SIGKILL".into() };
	match docker.kill_container(id, Some(options)).await {
		Ok(()) => Ok(()),
		// 409: it exited on its own meanwhile.
		Err(BollardError::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
		Err(e) => Err(e.into()),
	}
}

pub(super) async fn wait_stopped(docker: &Docker, id: &str) -> Result<(), ExecError> {
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
pub(super) async fn remove_container(docker: &Docker, id: &str) {
	let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
	match docker.remove_container(id, Some(options)).await {
		Ok(()) => {},
		Err(e) if docker::is_not_found(&e) => {},
		Err(e) => tracing::warn!(container = id, "cannot remove the container: {e}"),
	}
}

/// Counts the bytes the job logs while it runs, for the storage limit (logs are
/// stored on the host too). Ends by itself when the container stops.
pub(super) fn count_logs(
	docker: &Docker,
	id: &str,
	counter: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
	let docker = docker.clone();
	let id = id.to_string();
	tokio::spawn(async move {
		let options =
			LogsOptions { follow: true, stdout: true, stderr: true, ..Default::default() };
		let mut logs = pin!(docker.logs(&id, Some(options)));
		while let Some(Ok(chunk)) = logs.next().await {
			let charged = (chunk.as_ref().len() as u64).saturating_add(LOG_FRAME_BYTES);
			counter.fetch_add(charged, Ordering::Relaxed);
		}
	})
}

/// Writes the job's whole stdout and stderr, read back once it exited (not the live
/// stream, which can miss a tail), to `logs/stdout` and `logs/stderr`; returns how many
/// log lines (frames) they were, for their disk cost.
pub(super) async fn save_logs(
	docker: &Docker,
	id: &str,
	logs_dir: &Path,
) -> Result<u64, ExecError> {
	let stdout_path = logs_dir.join("stdout");
	let stderr_path = logs_dir.join("stderr");
	let mut stdout = fs::File::create(&stdout_path).map_err(io_error(&stdout_path))?;
	let mut stderr = fs::File::create(&stderr_path).map_err(io_error(&stderr_path))?;
	let options =
		LogsOptions { stdout: true, stderr: true, timestamps: false, ..Default::default() };
	let mut logs = pin!(docker.logs(id, Some(options)));
	let mut frames = 0u64;
	while let Some(chunk) = logs.next().await {
		frames = frames.saturating_add(1);
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
	Ok(frames)
}
