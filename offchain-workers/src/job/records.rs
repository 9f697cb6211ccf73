//! Record jobs run on some of their records (README, "Spot checks of record jobs"): a
//! record job reads one file per record under `/in/records` and writes one output of
//! the same name per record under `/out/records`, so its records can be re-computed
//! one by one. The mediator tries the records a JC disputed first: it copies their
//! inputs out of the job image it pulled and runs the same image, through the same
//! pipeline, with just those files mounted over `/in/records`.

use super::{run_steps, JobError, JobOutcome, JobTerms, Runner, Schedule};
use crate::{
	docker::DockerError,
	executor::{JOB_LABEL, RECORDS_IN},
};
use bollard::{
	models::ContainerCreateBody,
	query_parameters::{
		CreateContainerOptions, DownloadFromContainerOptions, RemoveContainerOptions,
	},
	Docker,
};
use futures::StreamExt;
use std::{
	io::Read,
	path::{Path, PathBuf},
};

/// Where a record job writes one output per record, relative to its result.
pub const RECORDS_OUT: &str = "out/records";

pub use modicum_client::is_record_name;

/// A run of a record job on some of its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordRun {
	/// The pipeline ran (or decided without running, as [`super::run`] does).
	Ran {
		/// The run as a whole.
		outcome: JobOutcome,
		/// Each asked record's output, in the order asked; `None` if the run wrote none.
		outputs: Vec<(String, Option<Vec<u8>>)>,
	},
	/// The job has no such record: the image holds no `/in/records/<name>`.
	NotARecord(String),
}

/// Runs the job of `terms` on just the records `names`, as [`super::run`] runs it whole.
/// Each output read back is at most the job's storage limit.
pub async fn run_records(
	runner: &Runner,
	terms: &JobTerms,
	work_dir: &Path,
	job_name: &str,
	schedule: Schedule,
	names: &[String],
) -> Result<RecordRun, JobError> {
	if let Some(bad) = names.iter().find(|name| !is_record_name(name)) {
		return Ok(RecordRun::NotARecord(bad.clone()));
	}
	let outcome = match run_steps(runner, terms, work_dir, job_name, schedule, Some(names)).await? {
		Ok(outcome) => outcome,
		Err(missing) => return Ok(RecordRun::NotARecord(missing)),
	};
	let out = outcome.result_dir.join(RECORDS_OUT);
	let outputs = names
		.iter()
		.map(|name| {
			let output = read_capped(&out.join(name), terms.storage_limit_bytes);
			(name.clone(), output)
		})
		.collect();
	Ok(RecordRun::Ran { outcome, outputs })
}

/// A regular file's bytes if it holds at most `cap` (a job's link or device is no output).
fn read_capped(path: &Path, cap: u64) -> Option<Vec<u8>> {
	if !std::fs::symlink_metadata(path).ok()?.file_type().is_file() {
		return None;
	}
	let file = std::fs::File::open(path).ok()?;
	let mut bytes = Vec::new();
	file.take(cap.saturating_add(1)).read_to_end(&mut bytes).ok()?;
	(bytes.len() as u64 <= cap).then_some(bytes)
}

/// Copies the inputs of records `names` out of `image` into `dir` (created, readable by
/// the job's user); `Err(name)` for the first record the image does not hold. At most
/// `cap` bytes in all are copied.
pub(super) async fn copy_record_inputs(
	docker: &Docker,
	image: &str,
	job_name: &str,
	names: &[String],
	dir: &Path,
	cap: u64,
) -> Result<Result<PathBuf, String>, JobError> {
	std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
	set_mode(dir, 0o755)?;
	let holder = format!("modicum-records-{job_name}");
	let remove = RemoveContainerOptions { force: true, ..Default::default() };
	let _ = docker.remove_container(&holder, Some(remove.clone())).await;
	let body = ContainerCreateBody {
		image: Some(image.to_string()),
		// Never started: the container only holds the image's files to copy from.
		cmd: Some(vec!["/nonexistent".into()]),
		network_disabled: Some(true),
		// Labelled as the job, so a daemon killed mid-copy removes it at its next start.
		labels: Some(std::collections::HashMap::from([(
			JOB_LABEL.to_string(),
			job_name.to_string(),
		)])),
		..Default::default()
	};
	let create = CreateContainerOptions { name: Some(holder.clone()), ..Default::default() };
	docker.create_container(Some(create), body).await.map_err(DockerError::from)?;
	let copied = copy_from(docker, &holder, names, dir, cap).await;
	let _ = docker.remove_container(&holder, Some(remove)).await;
	Ok(copied?.map(|()| dir.to_path_buf()))
}

async fn copy_from(
	docker: &Docker,
	holder: &str,
	names: &[String],
	dir: &Path,
	cap: u64,
) -> Result<Result<(), String>, JobError> {
	let mut left = cap;
	for name in names {
		let options = DownloadFromContainerOptions { path: format!("{RECORDS_IN}/{name}") };
		let mut stream = docker.download_from_container(holder, Some(options));
		let mut archive = Vec::new();
		while let Some(chunk) = stream.next().await {
			match chunk {
				Ok(bytes) => {
					archive.extend_from_slice(&bytes);
					// The tar framing adds at most a few KiB per file.
					if archive.len() as u64 > left.saturating_add(64 << 10) {
						return Err(JobError::Task(format!(
							"the disputed records' inputs exceed {cap} bytes"
						)));
					}
				},
				Err(e) if crate::docker::is_not_found(&e) => return Ok(Err(name.clone())),
				Err(e) => return Err(DockerError::from(e).into()),
			}
		}
		let Some(content) = single_file(&archive, left)? else {
			// A directory or a link by that name is not a record.
			return Ok(Err(name.clone()));
		};
		left = left.saturating_sub(content.len() as u64);
		let path = dir.join(name);
		std::fs::write(&path, content).map_err(|e| io_error(&path, e))?;
		set_mode(&path, 0o644)?;
	}
	Ok(Ok(()))
}

/// The content of the one regular file a single-path archive holds; `None` if it holds
/// something else.
fn single_file(archive: &[u8], cap: u64) -> Result<Option<Vec<u8>>, JobError> {
	let mut tar = tar::Archive::new(archive);
	let mut entries = tar.entries().map_err(|e| JobError::Task(format!("record archive: {e}")))?;
	let Some(entry) = entries.next() else { return Ok(None) };
	let entry = entry.map_err(|e| JobError::Task(format!("record archive: {e}")))?;
	if !entry.header().entry_type().is_file() {
		return Ok(None);
	}
	let mut content = Vec::new();
	entry
		.take(cap.saturating_add(1))
		.read_to_end(&mut content)
		.map_err(|e| JobError::Task(format!("record archive: {e}")))?;
	if content.len() as u64 > cap {
		return Err(JobError::Task(format!("the disputed records' inputs exceed {cap} bytes")));
	}
	Ok(Some(content))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), JobError> {
	use std::os::unix::fs::PermissionsExt;
	std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
		.map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, e: std::io::Error) -> JobError {
	JobError::Task(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn record_names_are_file_names_never_paths() {
		for good in ["000042", "a", "r-1_b.txt", &"x".repeat(64)] {
			assert!(is_record_name(good), "{good}");
		}
		for bad in ["", ".", "..", "../x", "a/b", "a b", "é", &"x".repeat(65), "/etc"] {
			assert!(!is_record_name(bad), "{bad:?}");
		}
	}

	#[test]
	fn a_single_path_archive_yields_its_file_and_nothing_else() {
		let mut builder = tar::Builder::new(Vec::new());
		let mut header = tar::Header::new_gnu();
		header.set_size(5);
		header.set_entry_type(tar::EntryType::Regular);
		header.set_cksum();
		builder.append_data(&mut header, "r1", &b"hello"[..]).unwrap();
		let archive = builder.into_inner().unwrap();
		assert_eq!(single_file(&archive, 5).unwrap(), Some(b"hello".to_vec()));
		assert!(single_file(&archive, 4).is_err(), "over the cap");
		let mut builder = tar::Builder::new(Vec::new());
		let mut header = tar::Header::new_gnu();
		header.set_size(0);
		header.set_entry_type(tar::EntryType::Directory);
		header.set_cksum();
		builder.append_data(&mut header, "r1", std::io::empty()).unwrap();
		assert_eq!(single_file(&builder.into_inner().unwrap(), 5).unwrap(), None);
	}
}
