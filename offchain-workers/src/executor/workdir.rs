//! A run's work directory: the job's `/out`, its logs, and the result that is
//! archived and committed to.

use super::{
	io_error, outfs, supervise::Observed, ExecError, ExecStatus, RunOutcome, ENTRY_BYTES,
	MAX_OUTPUT_DEPTH, MAX_OUTPUT_PATH_BYTES,
};
use crate::{cgroup, merkle};
use std::{
	fs, io,
	path::{Path, PathBuf},
};

/// The block each file's size is rounded up to, for the storage limit.
pub(super) const BLOCK_BYTES: u64 = 4096;

pub(super) struct WorkDirs {
	/// Bind-mounted at `/out` (absolute, as the engine needs); a tmpfs of its own while
	/// the job runs ([`outfs`]).
	pub(super) out: PathBuf,
	/// stdout and stderr as collected.
	pub(super) logs: PathBuf,
	/// The result that is archived and committed to.
	pub(super) result: PathBuf,
}

pub(super) fn prepare_dirs(work_dir: &Path) -> Result<WorkDirs, ExecError> {
	fs::create_dir_all(work_dir).map_err(io_error(work_dir))?;
	let work_dir = fs::canonicalize(work_dir).map_err(io_error(work_dir))?;
	let dirs = WorkDirs {
		out: work_dir.join("out"),
		logs: work_dir.join("logs"),
		result: work_dir.join("result"),
	};
	// A killed run may have left its `/out` mounted.
	outfs::detach(&dirs.out);
	for dir in [&dirs.out, &dirs.logs, &dirs.result] {
		// Fresh directories: nothing from an earlier run may leak into this result.
		remove_dir_if_present(dir)?;
		fs::create_dir(dir).map_err(io_error(dir))?;
	}
	Ok(dirs)
}

/// Bytes the job stored once it stopped: its outputs, by [`stored_bytes`] (the walk is
/// bounded by the `/out` filesystem's inode cap), plus its stdout and stderr at their
/// apparent size and [`ENTRY_BYTES`] each (the host's filesystem, which differs from
/// machine to machine, must not decide a status).
pub(super) async fn stored_bytes_blocking(dirs: &WorkDirs, limit: u64) -> Result<u64, ExecError> {
	let (out, logs) = (dirs.out.clone(), dirs.logs.clone());
	tokio::task::spawn_blocking(move || {
		let logged = ["stdout", "stderr"].iter().fold(0u64, |total, name| {
			let bytes = fs::metadata(logs.join(name)).map_or(0, |meta| meta.len());
			total.saturating_add(bytes).saturating_add(ENTRY_BYTES)
		});
		stored_bytes(&out, limit).saturating_add(logged)
	})
	.await
	.map_err(|e| ExecError::Task(format!("measuring the output: {e}")))
}

/// What the job stored under `dir` against its storage limit: per regular file its
/// size rounded up to [`BLOCK_BYTES`] (a sparse file counts whole, as the archive will
/// hold it; a small one takes a block, as on tmpfs; and no machine's page size or
/// filesystem changes the count), plus [`ENTRY_BYTES`] per file or directory; `u64::MAX` for a tree
/// deeper than [`MAX_OUTPUT_DEPTH`] or with a path longer than
/// [`MAX_OUTPUT_PATH_BYTES`]. Stops counting once past `stop_above`, so a million
/// files cost one limit's worth of walking. Never follows links, and ignores entries
/// that vanish meanwhile: the job may still be writing.
pub(super) fn stored_bytes(dir: &Path, stop_above: u64) -> u64 {
	use std::os::unix::ffi::OsStrExt;
	let mut total = 0u64;
	let mut pending = vec![(dir.to_path_buf(), 0usize)];
	while let Some((current, depth)) = pending.pop() {
		let Ok(entries) = fs::read_dir(&current) else { continue };
		for entry in entries.flatten() {
			let path = entry.path();
			let relative = path.strip_prefix(dir).map_or(0, |p| p.as_os_str().as_bytes().len());
			if depth >= MAX_OUTPUT_DEPTH || relative > MAX_OUTPUT_PATH_BYTES {
				return u64::MAX;
			}
			let Ok(meta) = fs::symlink_metadata(&path) else { continue };
			total = total.saturating_add(ENTRY_BYTES);
			if meta.is_dir() {
				pending.push((path, depth + 1));
			} else if meta.is_file() {
				total = total.saturating_add(meta.len().div_ceil(BLOCK_BYTES) * BLOCK_BYTES);
			}
			if total > stop_above {
				return total;
			}
		}
	}
	total
}

/// Builds the result directory for `status` and commits to it.
pub(super) async fn finish(
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

pub(super) fn assemble_result(
	dirs: &WorkDirs,
	status: ExecStatus,
	exit_code: Option<i64>,
) -> Result<(), ExecError> {
	if status.keeps_outputs() {
		copy_outputs(&dirs.out, &dirs.result.join("out"))?;
		rename(&dirs.logs.join("stdout"), &dirs.result.join("stdout"))?;
		rename(&dirs.logs.join("stderr"), &dirs.result.join("stderr"))?;
		let code = exit_code.unwrap_or(-1);
		write(&dirs.result.join("exit_code"), format!("{code}\n").as_bytes())?;
	} else {
		write_status(&dirs.result, status.name())?;
	}
	// What is left is not part of the result; failing to remove it only costs space.
	// A mounted `/out` is emptied by its unmount, not file by file.
	let _ = fs::remove_dir(&dirs.out);
	let _ = fs::remove_dir_all(&dirs.logs);
	Ok(())
}

/// Copies the regular files and directories of the job's `/out` (a tmpfs) to `to` on
/// the host's disk; links, fifos and sockets are left out, so the result can be
/// committed to and archived. Only called for trees within the storage limit, whose
/// depth and path lengths were checked.
pub(super) fn copy_outputs(from: &Path, to: &Path) -> Result<(), ExecError> {
	fs::create_dir(to).map_err(io_error(to))?;
	let mut pending = vec![(from.to_path_buf(), to.to_path_buf())];
	while let Some((source_dir, target_dir)) = pending.pop() {
		for entry in fs::read_dir(&source_dir).map_err(io_error(&source_dir))? {
			let entry = entry.map_err(io_error(&source_dir))?;
			let (source, target) = (entry.path(), target_dir.join(entry.file_name()));
			let kind = entry.file_type().map_err(io_error(&source))?;
			if kind.is_dir() {
				fs::create_dir(&target).map_err(io_error(&target))?;
				pending.push((source, target));
			} else if kind.is_file() {
				fs::copy(&source, &target).map_err(io_error(&source))?;
			} else {
				tracing::info!(path = %source.display(), "leaving a non-regular file out of the result");
			}
		}
	}
	Ok(())
}

pub(super) fn rename(from: &Path, to: &Path) -> Result<(), ExecError> {
	fs::rename(from, to).map_err(io_error(from))
}

pub(super) fn write(path: &Path, content: &[u8]) -> Result<(), ExecError> {
	fs::write(path, content).map_err(io_error(path))
}

pub(super) fn remove_dir_if_present(dir: &Path) -> Result<(), ExecError> {
	match fs::remove_dir_all(dir) {
		Ok(()) => Ok(()),
		Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
		Err(e) => Err(ExecError::Io { path: dir.to_path_buf(), source: e }),
	}
}

/// Writes the `status` file of a result that holds only its status.
pub(super) fn write_status(result_dir: &Path, status_name: &str) -> Result<(), ExecError> {
	write(&result_dir.join("status"), &super::status_file(status_name))
}
