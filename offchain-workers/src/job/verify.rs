//! Fetching a posted result and checking it against the chain, one way for the JC
//! (`jc result`, `jc submit --out`) and the mediator (`ResultNotFound`): stream the
//! blob to a private temporary directory under a size cap, check its digest, unpack it
//! into a fresh directory, check its Merkle root against the posted one, and only then
//! move it into place. Nothing unverified is ever left where the caller asked for it.

use crate::{
	archive::{self, ArchiveError},
	directory::{self, BlobRef, DirectoryError},
	merkle::{self, MerkleError},
};
use std::{
	fs, io,
	path::{Path, PathBuf},
	time::Instant,
};

/// Why a posted result could not be fetched or did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
	/// The posted reference is not `<repository>@sha256:<hex>`.
	#[error("the posted result reference {reference:?} is unusable: {source}")]
	Reference {
		/// The reference as posted.
		reference: String,
		/// Why it does not parse.
		source: DirectoryError,
	},
	/// The directory does not hold it, cannot be reached, or served other bytes.
	#[error(transparent)]
	Directory(#[from] DirectoryError),
	/// The archive is not a safe, readable result archive.
	#[error("the result archive is unusable: {0}")]
	Archive(#[from] ArchiveError),
	/// The unpacked result could not be committed to.
	#[error(transparent)]
	Merkle(#[from] MerkleError),
	/// The result is not what was posted.
	#[error("the result's Merkle root 0x{} differs from the posted 0x{}", hex::encode(.actual), hex::encode(.posted))]
	RootMismatch {
		/// The root posted on chain.
		posted: [u8; 32],
		/// The root of what the directory served.
		actual: [u8; 32],
	},
	/// The target directory exists and is not empty: nothing is overwritten.
	#[error("{0} exists and is not empty; give a new or empty directory")]
	TargetNotEmpty(PathBuf),
	/// A local file could not be written.
	#[error("{path}: {source}")]
	Io {
		/// The file.
		path: PathBuf,
		/// Why.
		source: io::Error,
	},
}

impl VerifyError {
	/// Whether the result is missing or false, as opposed to unreachable just now or
	/// a local failure: what a mediator rules `ResultNotFound` on.
	pub fn result_is_bad(&self) -> bool {
		match self {
			VerifyError::Reference { .. }
			| VerifyError::Archive(_)
			| VerifyError::RootMismatch { .. } => true,
			VerifyError::Directory(e) => matches!(
				e,
				DirectoryError::BlobNotFound { .. }
					| DirectoryError::DigestMismatch { .. }
					| DirectoryError::TooLarge { .. }
			),
			VerifyError::Merkle(_) | VerifyError::TargetNotEmpty(_) | VerifyError::Io { .. } => {
				false
			},
		}
	}
}

/// Where a posted result is and what it must be.
#[derive(Clone, Debug)]
pub struct PostedArchive {
	/// The directory's registry, `host:port`.
	pub registry: String,
	/// The posted reference, `<repository>@sha256:<hex>`.
	pub reference: String,
	/// The posted Merkle root.
	pub root: [u8; 32],
	/// The most bytes to download: [`max_archive_bytes`] of the job's storage limit.
	pub max_bytes: u64,
}

/// The largest archive a job with `storage_limit` bytes can honestly produce: its
/// files and logs plus tar's per-entry headers, for which 16 MiB and as much again as
/// the limit leave room.
pub fn max_archive_bytes(storage_limit: u64) -> u64 {
	storage_limit.saturating_mul(2).saturating_add(16 << 20)
}

/// Fetches and verifies the result, then moves it to `out`, which must not exist or
/// be empty. Blocking: call it from a blocking thread.
pub fn fetch_into(
	posted: &PostedArchive,
	out: &Path,
	deadline: Instant,
) -> Result<(), VerifyError> {
	if out.exists() && !is_empty_dir(out)? {
		return Err(VerifyError::TargetNotEmpty(out.to_path_buf()));
	}
	// Beside the target, so the final move is a rename on one filesystem.
	let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
	fs::create_dir_all(parent).map_err(io_error(parent))?;
	let scratch = tempfile::Builder::new()
		.prefix(".modicum-result-")
		.tempdir_in(parent)
		.map_err(io_error(parent))?;
	let unpacked = fetch_verified(posted, scratch.path(), deadline)?;
	if out.exists() {
		fs::remove_dir(out).map_err(io_error(out))?;
	}
	fs::rename(&unpacked, out).map_err(io_error(out))?;
	Ok(())
}

/// Fetches and verifies the result inside `scratch` (a directory the caller owns and
/// removes), returning the unpacked result's path there.
pub fn fetch_verified(
	posted: &PostedArchive,
	scratch: &Path,
	deadline: Instant,
) -> Result<PathBuf, VerifyError> {
	let blob: BlobRef = posted
		.reference
		.parse()
		.map_err(|source| VerifyError::Reference { reference: posted.reference.clone(), source })?;
	let archive_path = scratch.join("result.tar");
	directory::download_blob_to(
		&posted.registry,
		&blob.repository,
		&blob.digest,
		&archive_path,
		posted.max_bytes,
		deadline,
	)?;
	let unpacked = scratch.join("result");
	let file = fs::File::open(&archive_path).map_err(io_error(&archive_path))?;
	archive::unpack(io::BufReader::new(file), &unpacked)?;
	let actual = merkle::root_of_dir(&unpacked)?;
	if actual != posted.root {
		return Err(VerifyError::RootMismatch { posted: posted.root, actual });
	}
	Ok(unpacked)
}

fn is_empty_dir(dir: &Path) -> Result<bool, VerifyError> {
	if !dir.is_dir() {
		return Ok(false);
	}
	Ok(fs::read_dir(dir).map_err(io_error(dir))?.next().is_none())
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> VerifyError + '_ {
	move |source| VerifyError::Io { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::directory::{testing::start_test_registry, upload_blob};
	use std::time::Duration;

	fn posted_result(registry: &str, files: &[(&str, &str)]) -> PostedArchive {
		let source = tempfile::tempdir().unwrap();
		for (name, content) in files {
			fs::write(source.path().join(name), content).unwrap();
		}
		let root = merkle::root_of_dir(source.path()).unwrap();
		let tarball = archive::pack_dir(source.path()).unwrap();
		let digest = upload_blob(
			registry,
			"results/verify",
			&tarball,
			&crate::directory::testing::writer(registry),
		)
		.unwrap();
		PostedArchive {
			registry: registry.to_string(),
			reference: format!("results/verify@{digest}"),
			root,
			max_bytes: 1 << 20,
		}
	}

	fn soon() -> Instant {
		Instant::now() + Duration::from_secs(30)
	}

	#[test]
	fn a_true_result_lands_and_a_false_one_leaves_nothing() {
		let Some((_data, registry)) = start_test_registry() else { return };
		let registry = registry.host_port();
		let posted = posted_result(&registry, &[("stdout", "hello\n"), ("exit_code", "0\n")]);
		let target = tempfile::tempdir().unwrap();
		let out = target.path().join("result");
		fetch_into(&posted, &out, soon()).unwrap();
		assert_eq!(fs::read_to_string(out.join("stdout")).unwrap(), "hello\n");

		// The posted root is not the archive's: nothing is unpacked where asked.
		let lying = PostedArchive { root: [7; 32], ..posted.clone() };
		let elsewhere = target.path().join("other");
		let error = fetch_into(&lying, &elsewhere, soon()).unwrap_err();
		assert!(matches!(error, VerifyError::RootMismatch { .. }), "{error}");
		assert!(error.result_is_bad());
		assert!(!elsewhere.exists());
		let leftovers: Vec<_> = fs::read_dir(target.path()).unwrap().collect();
		assert_eq!(leftovers.len(), 1, "only the first result is left: {leftovers:?}");

		// A non-empty target is never overwritten.
		let error = fetch_into(&posted, &out, soon()).unwrap_err();
		assert!(matches!(error, VerifyError::TargetNotEmpty(_)), "{error}");
		// Too large for the job: refused before it fills the disk.
		let capped = PostedArchive { max_bytes: 100, ..posted };
		let error = fetch_into(&capped, &target.path().join("capped"), soon()).unwrap_err();
		assert!(error.result_is_bad(), "{error}");
	}

	#[test]
	fn an_unusable_reference_is_a_bad_result_and_an_unreachable_directory_is_not() {
		let scratch = tempfile::tempdir().unwrap();
		let posted = PostedArchive {
			registry: "127.0.0.1:1".into(),
			reference: String::new(),
			root: [0; 32],
			max_bytes: 1,
		};
		let error = fetch_verified(&posted, scratch.path(), soon()).unwrap_err();
		assert!(error.result_is_bad(), "{error}");
		let reference = format!("results/x@sha256:{}", "ab".repeat(32));
		let error = fetch_verified(&PostedArchive { reference, ..posted }, scratch.path(), soon())
			.unwrap_err();
		assert!(!error.result_is_bad(), "{error}");
	}
}
