//! CPU accounting of a job through its parent cgroup.
//!
//! Each job container is started with `HostConfig.CgroupParent = /modicum/<job>`
//! (cgroupfs driver). The parent accumulates the CPU time (user + system) of every
//! process of the container, and keeps it after the container's own cgroup is gone,
//! so the same counter serves both while the job runs (to kill it at its limit) and
//! after it exited (to report usage).
//!
//! Unit: the instruction count reported on chain is CPU **milliseconds** (user +
//! system) of the container's processes, rounded up ([`cpu_ms`]), as in the
//! original MODiCuM code, which also measured CPU time rather than counting
//! instructions.

use std::{
	fs, io,
	path::{Path, PathBuf},
};

/// Where the cgroup filesystems are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Reading a cgroup's CPU usage failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
	/// The parent is not a path of plain names (it would escape the cgroup tree).
	#[error("cgroup parent {0:?} must be a path of plain names such as /modicum/job-1")]
	InvalidParent(String),
	/// No hierarchy has the cgroup (it does not exist yet, or was removed).
	#[error("no CPU accounting for cgroup {0:?} (neither cgroup v1 cpuacct nor v2 cpu.stat)")]
	NotFound(String),
	/// An accounting file could not be read.
	#[error("{path}: {source}")]
	Io {
		/// The file.
		path: PathBuf,
		/// Why.
		source: io::Error,
	},
	/// An accounting file did not hold a usage.
	#[error("{path} does not hold a CPU usage: {text:?}")]
	Malformed {
		/// The file.
		path: PathBuf,
		/// What it held.
		text: String,
	},
}

/// Total CPU time (user + system), in nanoseconds, used by the processes of cgroup
/// `parent` (e.g. `/modicum/rp-7`) and its children, alive or removed.
pub fn cpu_usage_ns(parent: &str) -> Result<u64, CgroupError> {
	cpu_usage_ns_under(Path::new(CGROUP_ROOT), parent)
}

/// [`cpu_usage_ns`] with the cgroup filesystems mounted under `root` (for tests).
pub fn cpu_usage_ns_under(root: &Path, parent: &str) -> Result<u64, CgroupError> {
	let relative = relative_path(parent)?;
	for (file, unit) in candidates(root, &relative) {
		match fs::read_to_string(&file) {
			Ok(text) => return parse(&file, &text, unit),
			Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
			Err(source) => return Err(CgroupError::Io { path: file, source }),
		}
	}
	Err(CgroupError::NotFound(parent.to_string()))
}

/// CPU nanoseconds as the chain's instruction count: milliseconds, rounded up.
pub fn cpu_ms(ns: u64) -> u64 {
	ns.div_ceil(1_000_000)
}

/// Removes cgroup `parent` from every hierarchy, best effort: it is empty once its
/// containers are gone, and a leftover only costs a directory, so failures are
/// ignored (they are logged at debug level).
pub fn remove(parent: &str) {
	remove_under(Path::new(CGROUP_ROOT), parent)
}

/// [`remove`] with the cgroup filesystems mounted under `root` (for tests).
pub fn remove_under(root: &Path, parent: &str) {
	let Ok(relative) = relative_path(parent) else { return };
	let mut dirs = Vec::new();
	// cgroup v1: one hierarchy per controller (cpu, cpuacct, memory, pids, …).
	if let Ok(entries) = fs::read_dir(root) {
		for entry in entries.flatten() {
			dirs.push(entry.path().join(&relative));
		}
	}
	// cgroup v2: a single hierarchy at the root.
	dirs.push(root.join(&relative));
	for dir in dirs {
		match fs::remove_dir(&dir) {
			Ok(()) => {},
			Err(e) if e.kind() == io::ErrorKind::NotFound => {},
			Err(e) => tracing::debug!(dir = %dir.display(), "cannot remove cgroup: {e}"),
		}
	}
}

/// How an accounting file counts.
#[derive(Clone, Copy, Debug)]
enum Unit {
	/// cgroup v1 `cpuacct.usage`: one number, nanoseconds.
	Nanoseconds,
	/// cgroup v2 `cpu.stat`: a `usage_usec` line, microseconds.
	StatMicroseconds,
}

/// The accounting files that may hold the usage, most specific first.
fn candidates(root: &Path, relative: &Path) -> [(PathBuf, Unit); 4] {
	[
		(root.join("cpuacct").join(relative).join("cpuacct.usage"), Unit::Nanoseconds),
		(root.join("cpu,cpuacct").join(relative).join("cpuacct.usage"), Unit::Nanoseconds),
		(root.join(relative).join("cpu.stat"), Unit::StatMicroseconds),
		// Hybrid hosts mount v2 at `unified` beside the v1 controllers.
		(root.join("unified").join(relative).join("cpu.stat"), Unit::StatMicroseconds),
	]
}

fn parse(file: &Path, text: &str, unit: Unit) -> Result<u64, CgroupError> {
	let malformed = || CgroupError::Malformed { path: file.to_path_buf(), text: text.to_string() };
	match unit {
		Unit::Nanoseconds => text.trim().parse().map_err(|_| malformed()),
		Unit::StatMicroseconds => text
			.lines()
			.find_map(|line| line.strip_prefix("usage_usec "))
			.and_then(|value| value.trim().parse::<u64>().ok())
			.map(|usec| usec.saturating_mul(1_000))
			.ok_or_else(malformed),
	}
}

/// `parent` as a relative path of plain names, so a hostile job name cannot reach
/// outside the cgroup tree.
fn relative_path(parent: &str) -> Result<PathBuf, CgroupError> {
	let invalid = || CgroupError::InvalidParent(parent.to_string());
	let mut path = PathBuf::new();
	for part in parent.trim_start_matches('/').split('/') {
		if part.is_empty() || part == "." || part == ".." {
			return Err(invalid());
		}
		path.push(part);
	}
	Ok(path)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn fake(root: &Path, file: &str, content: &str) {
		let path = root.join(file);
		fs::create_dir_all(path.parent().unwrap()).unwrap();
		fs::write(path, content).unwrap();
	}

	#[test]
	fn reads_cgroup_v1() {
		let root = tempfile::tempdir().unwrap();
		fake(root.path(), "cpuacct/modicum/j1/cpuacct.usage", "28578538\n");
		assert_eq!(cpu_usage_ns_under(root.path(), "/modicum/j1").unwrap(), 28_578_538);
		fake(root.path(), "cpu,cpuacct/modicum/j2/cpuacct.usage", "7\n");
		assert_eq!(cpu_usage_ns_under(root.path(), "/modicum/j2").unwrap(), 7);
	}

	#[test]
	fn reads_cgroup_v2() {
		let root = tempfile::tempdir().unwrap();
		let stat = "usage_usec 28578\nuser_usec 22851\nsystem_usec 5726\n";
		fake(root.path(), "modicum/j1/cpu.stat", stat);
		assert_eq!(cpu_usage_ns_under(root.path(), "/modicum/j1").unwrap(), 28_578_000);
		fake(root.path(), "unified/modicum/j2/cpu.stat", stat);
		assert_eq!(cpu_usage_ns_under(root.path(), "modicum/j2").unwrap(), 28_578_000);
	}

	#[test]
	fn missing_and_malformed() {
		let root = tempfile::tempdir().unwrap();
		assert!(matches!(
			cpu_usage_ns_under(root.path(), "/modicum/none"),
			Err(CgroupError::NotFound(_))
		));
		fake(root.path(), "cpuacct/modicum/bad/cpuacct.usage", "lots");
		assert!(matches!(
			cpu_usage_ns_under(root.path(), "/modicum/bad"),
			Err(CgroupError::Malformed { .. })
		));
	}

	#[test]
	fn parents_cannot_escape() {
		for parent in ["/modicum/../etc", "/", "", "/modicum//x", "/modicum/."] {
			assert!(
				matches!(relative_path(parent), Err(CgroupError::InvalidParent(_))),
				"{parent}"
			);
		}
	}

	#[test]
	fn milliseconds_round_up() {
		assert_eq!(cpu_ms(0), 0);
		assert_eq!(cpu_ms(1), 1);
		assert_eq!(cpu_ms(1_000_000), 1);
		assert_eq!(cpu_ms(1_000_001), 2);
	}

	#[test]
	fn remove_deletes_every_hierarchy() {
		let root = tempfile::tempdir().unwrap();
		for dir in ["cpuacct/modicum/j", "memory/modicum/j", "modicum/j"] {
			fs::create_dir_all(root.path().join(dir)).unwrap();
		}
		remove_under(root.path(), "/modicum/j");
		for dir in ["cpuacct/modicum/j", "memory/modicum/j", "modicum/j"] {
			assert!(!root.path().join(dir).exists(), "{dir}");
		}
		assert!(root.path().join("cpuacct/modicum").exists());
	}
}
