//! Getting the job's image onto the engine, and which pull failures are the job's.

use super::{ExecError, ExecStatus, JobSpec};
use crate::docker::{self, DockerError};
use bollard::Docker;

/// Whether the image is ready to run, or the run ends before starting.
pub(super) enum Obtained {
	Ready { bandwidth: u64 },
	Stop { status: ExecStatus, bandwidth: u64 },
}

pub(super) async fn obtain_image(docker: &Docker, spec: &JobSpec) -> Result<Obtained, ExecError> {
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
pub(super) async fn use_local_copy(docker: &Docker, image: &str) -> Result<bool, ExecError> {
	if !docker::is_pinned(image) && docker::registry_host(image).is_some() {
		return Ok(false);
	}
	Ok(docker::image_exists(docker, image).await?)
}

pub(super) fn pull_failure(error: DockerError) -> Result<Obtained, ExecError> {
	match pull_outcome(&error) {
		Some(status) => {
			tracing::info!("pull failed: {error}");
			Ok(Obtained::Stop { status, bandwidth: 0 })
		},
		None => Err(error.into()),
	}
}

/// The outcome of a pull failure that is the job's or the directory's.
pub(super) fn pull_outcome(error: &DockerError) -> Option<ExecStatus> {
	match error {
		DockerError::ImageNotFound { .. } => Some(ExecStatus::JobNotFound),
		DockerError::RegistryUnreachable { .. } => Some(ExecStatus::DirectoryUnavailable),
		DockerError::InvalidReference { .. } => Some(ExecStatus::JobDescriptionError),
		_ => None,
	}
}
