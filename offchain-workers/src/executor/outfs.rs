//! The job's `/out`: a tmpfs of its own, mounted by the executor on the host and
//! bind-mounted into the container, so the storage limit is a limit of the filesystem
//! and not only of a poll.
//!
//! Why tmpfs (and not a loop-mounted image or quotas): its size and inode caps are
//! mount options, exact and checked by the kernel on every write, and the cap holds
//! files the job deleted but still writes to; it needs no loop device, `mkfs` or quota
//! tools; the host's disk is never touched while the job runs; and unmounting frees everything at once, however deep or wide the job
//! made its tree. Nothing polls it: a write past the cap fails with ENOSPC, and what the
//! job leaves there is counted when it stops, so the status never depends on when a poll
//! happened to look. Its pages are charged to the job's memory cgroup (as `/tmp`'s are),
//! so what a job holds on the host — processes, `/tmp` and `/out` together — is within
//! its memory limit, and an RP that can hold its jobs' RAM can hold their outputs.
//!
//! The filesystem gets one page more than the storage limit and one inode more than
//! the limit pays for, so a job that leaves more than its limit is seen over it (and is
//! `StorageExceeded`) rather than merely stopped at it.

use super::{ExecError, ENTRY_BYTES, JOB_UID};
use nix::{
	errno::Errno,
	mount::{mount, umount2, MntFlags, MsFlags},
};
use std::path::{Path, PathBuf};

/// tmpfs counts whole pages.
const PAGE_BYTES: u64 = 4096;

/// A mounted `/out`; unmounted (and so emptied) when dropped.
#[derive(Debug)]
pub(super) struct OutFs {
	path: PathBuf,
}

impl OutFs {
	/// Mounts a tmpfs sized for `storage_limit` on the (existing, empty) directory
	/// `path`, owned by the job's user. Needs root: an RP that cannot mount cannot
	/// bound what its jobs store, so it must not run them.
	pub(super) fn mount(path: &Path, storage_limit: u64) -> Result<Self, ExecError> {
		let options = mount_options(storage_limit);
		let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
		mount(Some("modicum-out"), path, Some("tmpfs"), flags, Some(options.as_str())).map_err(
			|errno| {
				ExecError::HardeningRefused(format!(
					"cannot mount a size-limited /out at {} ({errno}); the RP and mediator must run as root",
					path.display()
				))
			},
		)?;
		Ok(OutFs { path: path.to_path_buf() })
	}
}

impl Drop for OutFs {
	fn drop(&mut self) {
		detach(&self.path);
	}
}

/// The tmpfs options for a storage limit (see the module's note on the extra page and
/// inode).
pub(super) fn mount_options(storage_limit: u64) -> String {
	let size = storage_limit.div_ceil(PAGE_BYTES).saturating_add(1).saturating_mul(PAGE_BYTES);
	let inodes = (storage_limit / ENTRY_BYTES).saturating_add(2);
	// No huge pages: a file's footprint stays close to its size on every host.
	format!("size={size},nr_inodes={inodes},mode=0755,uid={JOB_UID},gid={JOB_UID},huge=never")
}

/// Unmounts whatever is mounted at `path` (lazily, so a process still holding a file
/// there cannot keep it); nothing if nothing is.
pub(super) fn detach(path: &Path) {
	match umount2(path, MntFlags::MNT_DETACH) {
		Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {},
		Err(errno) => tracing::warn!(path = %path.display(), "cannot unmount /out: {errno}"),
	}
}

/// Unmounts every job `/out` left mounted under `root` by a daemon that was killed
/// mid-job; returns how many. Call at start-up, before any job of `root` runs.
pub fn detach_all_under(root: &Path) -> usize {
	let Ok(root) = root.canonicalize() else { return 0 };
	let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else { return 0 };
	let stale: Vec<PathBuf> = mounts
		.lines()
		.filter_map(|line| {
			let mut fields = line.split(' ');
			let (source, target) = (fields.next()?, fields.next()?);
			(source == "modicum-out").then(|| PathBuf::from(unescape_mount_path(target)))
		})
		.filter(|target| target.starts_with(&root))
		.collect();
	for target in &stale {
		tracing::info!(path = %target.display(), "unmounting a job /out left behind by an earlier run");
		detach(target);
	}
	stale.len()
}

/// `/proc/self/mounts` writes space, tab, newline and backslash as octal escapes.
fn unescape_mount_path(field: &str) -> String {
	let mut out = Vec::with_capacity(field.len());
	let bytes = field.as_bytes();
	let mut i = 0;
	while i < bytes.len() {
		let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
			let text = std::str::from_utf8(digits).ok()?;
			u8::from_str_radix(text, 8).ok()
		});
		match (bytes[i], octal) {
			(b'\\', Some(byte)) => {
				out.push(byte);
				i += 4;
			},
			(byte, _) => {
				out.push(byte);
				i += 1;
			},
		}
	}
	String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Bytes of pages and entries (not counting the root) the filesystem at `path` holds.
	fn usage_of(path: &Path) -> (u64, u64) {
		let stats = nix::sys::statvfs::statvfs(path).unwrap();
		let blocks = stats.blocks() - stats.blocks_free();
		let inodes = stats.files() - stats.files_free();
		(blocks * stats.fragment_size(), inodes - 1)
	}

	#[test]
	fn options_leave_one_page_and_one_inode_past_the_limit() {
		assert_eq!(
			mount_options(1 << 20),
			format!(
				"size={},nr_inodes=2050,mode=0755,uid=65534,gid=65534,huge=never",
				(1 << 20) + 4096
			)
		);
		// Never 0, which tmpfs reads as "unlimited".
		assert!(mount_options(0).starts_with("size=4096,nr_inodes=2,"));
	}

	#[test]
	fn mount_paths_are_unescaped() {
		assert_eq!(unescape_mount_path("/a\\040b/c\\134d"), "/a b/c\\d");
		assert_eq!(unescape_mount_path("/plain"), "/plain");
	}

	#[test]
	fn a_deleted_file_still_counts_and_the_cap_holds() {
		use std::io::Write;
		let dir = tempfile::tempdir().unwrap();
		let fs = OutFs::mount(dir.path(), 64 << 10).unwrap();
		assert_eq!(usage_of(dir.path()), (0, 0));
		let path = dir.path().join("hidden");
		let mut file = std::fs::File::create(&path).unwrap();
		std::fs::remove_file(&path).unwrap();
		let chunk = vec![7u8; 16 << 10];
		let mut written = 0u64;
		while file.write_all(&chunk).is_ok() {
			written += chunk.len() as u64;
			assert!(written <= 1 << 20, "the filesystem did not stop the writer");
		}
		// statfs sees the deleted file's pages; the cap is the limit plus one page.
		let (bytes, _) = usage_of(dir.path());
		assert!(bytes > 64 << 10 && bytes <= (64 << 10) + PAGE_BYTES, "{bytes}");
		drop(file);
		drop(fs);
		assert_eq!(detach_all_under(dir.path()), 0, "dropping unmounts");
	}

	#[test]
	fn leftover_mounts_are_found_and_detached() {
		let root = tempfile::tempdir().unwrap();
		let job = root.path().join("job 1").join("out");
		std::fs::create_dir_all(&job).unwrap();
		std::mem::forget(OutFs::mount(&job, 4096).unwrap());
		std::fs::write(job.join("x"), b"x").unwrap();
		assert_eq!(detach_all_under(root.path()), 1);
		assert!(!job.join("x").exists(), "the leftover tmpfs is gone");
	}
}
