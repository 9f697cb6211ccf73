//! The result archive: an uncompressed tar of a result directory, and its safe unpacking.
//!
//! Packing is deterministic (entries sorted by path, mtime 0, uid/gid 0, no user
//! names, modes normalised to 0644/0755), so the same result gives the same bytes and
//! hence the same blob digest in the directory. Unpacking accepts only plain files and
//! directories at relative paths: the archive comes from another party, who could
//! otherwise write outside the destination or plant a link there.

use crate::merkle::{self, EntryKind, MerkleError};
use std::{
	ffi::OsStr,
	fs,
	io::{self, Read},
	os::unix::ffi::OsStrExt,
	path::{Path, PathBuf},
};

/// Packing or unpacking failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
	/// The directory to pack could not be walked (or holds a link).
	#[error(transparent)]
	Walk(#[from] MerkleError),
	/// A file could not be read or written.
	#[error("{path}: {source}")]
	Io {
		/// The file.
		path: PathBuf,
		/// Why.
		source: io::Error,
	},
	/// The archive is not a readable tar.
	#[error("reading the archive: {0}")]
	Read(#[source] io::Error),
	/// Building the archive failed.
	#[error("writing the archive: {0}")]
	Write(#[source] io::Error),
	/// An entry's path is absolute or climbs out with `..`.
	#[error("archive entry {0:?} escapes the destination")]
	UnsafePath(String),
	/// An entry is neither a file nor a directory.
	#[error("archive entry {path:?} is of type {kind}; only files and directories are accepted")]
	Unsupported {
		/// The entry's path.
		path: String,
		/// Its tar type byte.
		kind: char,
	},
	/// An entry would be written through (or over) a link or a non-directory.
	#[error("archive entry {0:?} would be written through a link or over a non-directory")]
	Blocked(String),
}

/// Mode of every packed directory.
const DIR_MODE: u32 = 0o755;
/// Mode of packed files that are executable by their owner.
const EXEC_MODE: u32 = 0o755;
/// Mode of every other packed file.
const FILE_MODE: u32 = 0o644;

/// Packs the files and directories under `dir` into an uncompressed tar in memory.
/// Fails on links and special files, like [`merkle::root_of_dir`], so the archive holds
/// exactly what the root commits to.
pub fn pack_dir(dir: &Path) -> Result<Vec<u8>, ArchiveError> {
	pack_dir_into(dir, Vec::new())
}

/// [`pack_dir`] into `out` (e.g. a file), one file at a time: memory stays small
/// whatever the result's size.
pub fn pack_dir_into<W: io::Write>(dir: &Path, out: W) -> Result<W, ArchiveError> {
	let mut builder = tar::Builder::new(out);
	for entry in merkle::walk(dir)? {
		let mut header = tar::Header::new_gnu();
		header.set_mtime(0);
		header.set_uid(0);
		header.set_gid(0);
		match entry.kind {
			EntryKind::Dir => {
				header.set_entry_type(tar::EntryType::Directory);
				header.set_mode(DIR_MODE);
				header.set_size(0);
				builder
					.append_data(&mut header, entry.relative_path(), io::empty())
					.map_err(ArchiveError::Write)?;
			},
			EntryKind::File => {
				let file = fs::File::open(&entry.path).map_err(io_error(&entry.path))?;
				let size = file.metadata().map_err(io_error(&entry.path))?.len();
				header.set_entry_type(tar::EntryType::Regular);
				header.set_mode(if entry.mode & 0o100 != 0 { EXEC_MODE } else { FILE_MODE });
				header.set_size(size);
				// `take`: a file that grew since it was measured cannot break the framing.
				builder
					.append_data(&mut header, entry.relative_path(), file.take(size))
					.map_err(ArchiveError::Write)?;
			},
		}
	}
	builder.into_inner().map_err(ArchiveError::Write)
}

/// The archive [`pack_dir`] would make of a directory holding just `files` (plain
/// files at the top, not executable), built in memory.
pub fn pack_files(files: &[(&str, &[u8])]) -> Result<Vec<u8>, ArchiveError> {
	let mut sorted = files.to_vec();
	sorted.sort_by(|a, b| a.0.cmp(b.0));
	let mut builder = tar::Builder::new(Vec::new());
	for (name, content) in sorted {
		let mut header = tar::Header::new_gnu();
		header.set_mtime(0);
		header.set_uid(0);
		header.set_gid(0);
		header.set_entry_type(tar::EntryType::Regular);
		header.set_mode(FILE_MODE);
		header.set_size(content.len() as u64);
		builder.append_data(&mut header, name, content).map_err(ArchiveError::Write)?;
	}
	builder.into_inner().map_err(ArchiveError::Write)
}

/// Unpacks a tar made by [`pack_dir`] (or any tar of plain files and directories)
/// into `dest`, creating it if needed. Rejects absolute paths, `..`, links and
/// special files, and never writes through a link already in `dest`.
pub fn unpack(archive: impl Read, dest: &Path) -> Result<(), ArchiveError> {
	fs::create_dir_all(dest).map_err(io_error(dest))?;
	let mut archive = tar::Archive::new(archive);
	for entry in archive.entries().map_err(ArchiveError::Read)? {
		let mut entry = entry.map_err(ArchiveError::Read)?;
		let raw = entry.path_bytes().into_owned();
		let shown = String::from_utf8_lossy(&raw).into_owned();
		let kind = entry.header().entry_type();
		if kind.is_pax_global_extensions() {
			// Archive-wide metadata (comments, e.g. from `git archive`): nothing to write.
			continue;
		}
		let components =
			safe_components(&raw).ok_or_else(|| ArchiveError::UnsafePath(shown.clone()))?;
		if kind.is_dir() {
			make_dirs(dest, &components, &shown)?;
		} else if kind.is_file() || kind.is_contiguous() {
			let (name, parents) =
				components.split_last().ok_or_else(|| ArchiveError::UnsafePath(shown.clone()))?;
			let parent = make_dirs(dest, parents, &shown)?;
			write_file(&parent.join(OsStr::from_bytes(name)), &mut entry, &shown)?;
		} else {
			return Err(ArchiveError::Unsupported { path: shown, kind: kind.as_byte() as char });
		}
	}
	Ok(())
}

/// The normal components of a relative tar path, or `None` if it is absolute or
/// climbs with `..`. `.` and empty components (`a//b`, trailing `/`) are dropped.
fn safe_components(raw: &[u8]) -> Option<Vec<Vec<u8>>> {
	if raw.first() == Some(&b'/') {
		return None;
	}
	let mut components = Vec::new();
	for part in raw.split(|b| *b == b'/') {
		match part {
			b"" | b"." => continue,
			b".." => return None,
			_ => components.push(part.to_vec()),
		}
	}
	Some(components)
}

/// Creates `dest/<components…>` one level at a time, refusing to pass through a
/// link or a file, and returns the resulting path.
fn make_dirs(dest: &Path, components: &[Vec<u8>], shown: &str) -> Result<PathBuf, ArchiveError> {
	let mut path = dest.to_path_buf();
	for component in components {
		path.push(OsStr::from_bytes(component));
		match fs::symlink_metadata(&path) {
			Ok(meta) if meta.is_dir() => {},
			Ok(_) => return Err(ArchiveError::Blocked(shown.to_string())),
			Err(e) if e.kind() == io::ErrorKind::NotFound => {
				fs::create_dir(&path).map_err(io_error(&path))?;
			},
			Err(e) => return Err(ArchiveError::Io { path, source: e }),
		}
	}
	Ok(path)
}

/// Writes one file, replacing a regular file of the same name but never a link or a
/// directory.
fn write_file(path: &Path, content: &mut impl Read, shown: &str) -> Result<(), ArchiveError> {
	match fs::symlink_metadata(path) {
		Ok(meta) if meta.is_file() => {},
		Ok(_) => return Err(ArchiveError::Blocked(shown.to_string())),
		Err(e) if e.kind() == io::ErrorKind::NotFound => {},
		Err(e) => return Err(ArchiveError::Io { path: path.to_path_buf(), source: e }),
	}
	let mut file = fs::File::create(path).map_err(io_error(path))?;
	io::copy(content, &mut file).map_err(io_error(path))?;
	Ok(())
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> ArchiveError + '_ {
	move |source| ArchiveError::Io { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn files_packed_in_memory_match_the_directory_packed() {
		let dir = tempfile::tempdir().unwrap();
		std::fs::write(dir.path().join("status"), b"Declined\n").unwrap();
		assert_eq!(
			pack_files(&[("status", b"Declined\n")]).unwrap(),
			pack_dir(dir.path()).unwrap()
		);
	}
	use crate::merkle::root_of_dir;

	fn write(dir: &Path, relative: &str, content: &[u8]) {
		let path = dir.join(relative);
		fs::create_dir_all(path.parent().unwrap()).unwrap();
		fs::write(path, content).unwrap();
	}

	fn sample(dir: &Path) {
		write(dir, "out/a.txt", b"alpha\n");
		write(dir, "out/deep/er/b.bin", &[0, 1, 2, 255]);
		write(dir, "stdout", b"hello\n");
		write(dir, "stderr", b"");
		write(dir, "exit_code", b"0\n");
		fs::create_dir_all(dir.join("out/empty")).unwrap();
	}

	/// A tar with one entry whose header is built by hand (the builder refuses `..`).
	fn tar_with(path: &[u8], kind: tar::EntryType, content: &[u8]) -> Vec<u8> {
		let mut header = tar::Header::new_gnu();
		header.as_old_mut().name[..path.len()].copy_from_slice(path);
		header.set_entry_type(kind);
		header.set_size(content.len() as u64);
		header.set_mode(0o644);
		header.set_cksum();
		let mut builder = tar::Builder::new(Vec::new());
		builder.append(&header, content).unwrap();
		builder.into_inner().unwrap()
	}

	#[test]
	fn roundtrip_preserves_files_and_root() {
		let src = tempfile::tempdir().unwrap();
		sample(src.path());
		let bytes = pack_dir(src.path()).unwrap();
		let dst = tempfile::tempdir().unwrap();
		unpack(bytes.as_slice(), dst.path()).unwrap();
		assert_eq!(root_of_dir(src.path()).unwrap(), root_of_dir(dst.path()).unwrap());
		assert_eq!(fs::read(dst.path().join("out/deep/er/b.bin")).unwrap(), [0, 1, 2, 255]);
		assert!(dst.path().join("out/empty").is_dir());
	}

	#[test]
	fn packing_is_deterministic() {
		let a = tempfile::tempdir().unwrap();
		let b = tempfile::tempdir().unwrap();
		sample(a.path());
		// Same content, written in another order, at another time, with other modes.
		write(b.path(), "exit_code", b"0\n");
		write(b.path(), "stderr", b"");
		fs::create_dir_all(b.path().join("out/empty")).unwrap();
		write(b.path(), "out/deep/er/b.bin", &[0, 1, 2, 255]);
		write(b.path(), "stdout", b"hello\n");
		write(b.path(), "out/a.txt", b"alpha\n");
		{
			use std::os::unix::fs::PermissionsExt;
			fs::set_permissions(b.path().join("out/a.txt"), fs::Permissions::from_mode(0o600))
				.unwrap();
		}
		assert_eq!(pack_dir(a.path()).unwrap(), pack_dir(b.path()).unwrap());
	}

	#[test]
	fn long_paths_roundtrip() {
		let src = tempfile::tempdir().unwrap();
		let long = format!("out/{}/{}.txt", "d".repeat(120), "f".repeat(100));
		write(src.path(), &long, b"x");
		let dst = tempfile::tempdir().unwrap();
		unpack(pack_dir(src.path()).unwrap().as_slice(), dst.path()).unwrap();
		assert_eq!(fs::read(dst.path().join(&long)).unwrap(), b"x");
	}

	#[test]
	fn parent_and_absolute_paths_are_rejected() {
		let dst = tempfile::tempdir().unwrap();
		let escape = tar_with(b"../evil", tar::EntryType::Regular, b"x");
		assert!(matches!(unpack(escape.as_slice(), dst.path()), Err(ArchiveError::UnsafePath(_))));
		let absolute = tar_with(b"/tmp/evil", tar::EntryType::Regular, b"x");
		assert!(matches!(
			unpack(absolute.as_slice(), dst.path()),
			Err(ArchiveError::UnsafePath(_))
		));
		let inner = tar_with(b"a/../../evil", tar::EntryType::Regular, b"x");
		assert!(matches!(unpack(inner.as_slice(), dst.path()), Err(ArchiveError::UnsafePath(_))));
	}

	#[test]
	fn links_are_rejected() {
		let dst = tempfile::tempdir().unwrap();
		let symlink = tar_with(b"link", tar::EntryType::Symlink, b"");
		assert!(matches!(
			unpack(symlink.as_slice(), dst.path()),
			Err(ArchiveError::Unsupported { .. })
		));
		let hard = tar_with(b"hard", tar::EntryType::Link, b"");
		assert!(matches!(
			unpack(hard.as_slice(), dst.path()),
			Err(ArchiveError::Unsupported { .. })
		));
	}

	#[test]
	fn existing_links_in_the_destination_are_not_followed() {
		let dst = tempfile::tempdir().unwrap();
		let elsewhere = tempfile::tempdir().unwrap();
		std::os::unix::fs::symlink(elsewhere.path(), dst.path().join("out")).unwrap();
		let src = tempfile::tempdir().unwrap();
		write(src.path(), "out/a.txt", b"x");
		let result = unpack(pack_dir(src.path()).unwrap().as_slice(), dst.path());
		assert!(matches!(result, Err(ArchiveError::Blocked(_))));
		assert!(!elsewhere.path().join("a.txt").exists());
	}

	#[test]
	fn packing_rejects_symlinks() {
		let src = tempfile::tempdir().unwrap();
		std::os::unix::fs::symlink("/etc/passwd", src.path().join("leak")).unwrap();
		assert!(matches!(pack_dir(src.path()), Err(ArchiveError::Walk(MerkleError::Symlink(_)))));
	}
}
