//! The result commitment: a blake2-256 Merkle root over the files of a result directory.
//!
//! Leaf = `blake2_256(path ‖ 0x00 ‖ blake2_256(content))`, with `path` the file's path
//! relative to the result directory, `/`-separated, as raw bytes. Leaves are sorted by
//! path, so the order in which a job wrote its files does not matter, and paired with
//! `blake2_256(left ‖ right)` by [`rs_merkle`] (an odd last node is carried up as is).
//! Only regular files count: directories are implied by the paths, and links are
//! refused because a job could point one outside its output.

use rs_merkle::{Hasher, MerkleTree};
use sp_crypto_hashing::blake2_256;
use std::{
	ffi::OsStr,
	fs,
	os::unix::ffi::OsStrExt,
	path::{Path, PathBuf},
};

/// Walking or reading a result directory failed.
#[derive(Debug, thiserror::Error)]
pub enum MerkleError {
	/// A file or directory could not be read.
	#[error("{path}: {source}")]
	Io {
		/// The file or directory.
		path: PathBuf,
		/// Why.
		source: std::io::Error,
	},
	/// The directory holds a symbolic link.
	#[error("{0} is a symbolic link; a result holds only regular files and directories")]
	Symlink(PathBuf),
	/// The directory holds a device, fifo or socket.
	#[error("{0} is neither a regular file nor a directory")]
	Special(PathBuf),
	/// The path given is not a directory.
	#[error("{0} is not a directory")]
	NotADirectory(PathBuf),
}

/// [`rs_merkle`]'s hashing, done with blake2-256 as everywhere else on chain.
#[derive(Clone, Copy, Debug, Default)]
pub struct Blake2Hasher;

impl Hasher for Blake2Hasher {
	type Hash = [u8; 32];

	fn hash(data: &[u8]) -> [u8; 32] {
		blake2_256(data)
	}
}

/// The root of a result without files: `blake2_256(b"")`, so even an empty result
/// commits to something well defined.
pub fn empty_root() -> [u8; 32] {
	blake2_256(b"")
}

/// The leaf of one file, from its relative path and the blake2-256 of its content.
/// The zero byte ends the path, so no path is a prefix trick on another.
pub fn leaf_hash(path: &[u8], content_hash: &[u8; 32]) -> [u8; 32] {
	let mut data = Vec::with_capacity(path.len() + 1 + content_hash.len());
	data.extend_from_slice(path);
	data.push(0);
	data.extend_from_slice(content_hash);
	blake2_256(&data)
}

/// The root over `(relative path, blake2_256(content))` pairs, in any order.
pub fn root_of_hashes<I, P>(files: I) -> [u8; 32]
where
	I: IntoIterator<Item = (P, [u8; 32])>,
	P: AsRef<[u8]>,
{
	let mut leaves: Vec<(Vec<u8>, [u8; 32])> =
		files.into_iter().map(|(path, hash)| (path.as_ref().to_vec(), hash)).collect();
	// Sorting makes the root independent of the order the files were written in.
	leaves.sort();
	let leaves: Vec<[u8; 32]> = leaves.iter().map(|(path, hash)| leaf_hash(path, hash)).collect();
	MerkleTree::<Blake2Hasher>::from_leaves(&leaves).root().unwrap_or_else(empty_root)
}

/// The root over in-memory `(relative path, content)` pairs, in any order.
pub fn merkle_root(files: &[(String, Vec<u8>)]) -> [u8; 32] {
	root_of_hashes(files.iter().map(|(path, content)| (path.as_bytes(), blake2_256(content))))
}

/// The root of the regular files under `dir` (recursively). Fails on symbolic links
/// and special files rather than skipping them, so a commitment never silently
/// leaves out something a reader of the directory would see.
pub fn root_of_dir(dir: &Path) -> Result<[u8; 32], MerkleError> {
	let mut hashes = Vec::new();
	for entry in walk(dir)? {
		if entry.kind == EntryKind::File {
			let content = fs::read(&entry.path).map_err(io_error(&entry.path))?;
			hashes.push((entry.relative, blake2_256(&content)));
		}
	}
	Ok(root_of_hashes(hashes))
}

/// What a walked entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
	/// A directory.
	Dir,
	/// A regular file.
	File,
}

/// One entry found under a walked directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkEntry {
	/// Path relative to the walked directory, `/`-separated, as raw bytes.
	pub relative: Vec<u8>,
	/// The full path on disk.
	pub path: PathBuf,
	/// Directory or regular file.
	pub kind: EntryKind,
	/// Size in bytes (0 for directories).
	pub len: u64,
	/// Unix permission bits.
	pub mode: u32,
}

impl WalkEntry {
	/// The relative path as a [`Path`] (for archive headers).
	pub fn relative_path(&self) -> &Path {
		Path::new(OsStr::from_bytes(&self.relative))
	}
}

/// Every directory and regular file under `dir` (not `dir` itself), sorted by
/// relative path, so parents come before their children. Never follows links:
/// a symbolic link or special file is an error.
pub fn walk(dir: &Path) -> Result<Vec<WalkEntry>, MerkleError> {
	let meta = fs::metadata(dir).map_err(io_error(dir))?;
	if !meta.is_dir() {
		return Err(MerkleError::NotADirectory(dir.to_path_buf()));
	}
	let mut entries = Vec::new();
	// An explicit stack rather than recursion: a job decides how deep its output nests.
	let mut pending = vec![(dir.to_path_buf(), Vec::new())];
	while let Some((path, relative)) = pending.pop() {
		for child in read_dir_sorted(&path)? {
			let entry = classify(&child.0, join_relative(&relative, &child.1))?;
			if entry.kind == EntryKind::Dir {
				pending.push((entry.path.clone(), entry.relative.clone()));
			}
			entries.push(entry);
		}
	}
	entries.sort_by(|a, b| a.relative.cmp(&b.relative));
	Ok(entries)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, MerkleError> {
	let mut children = Vec::new();
	for child in fs::read_dir(dir).map_err(io_error(dir))? {
		let child = child.map_err(io_error(dir))?;
		children.push((child.path(), child.file_name().as_bytes().to_vec()));
	}
	children.sort();
	Ok(children)
}

fn classify(path: &Path, relative: Vec<u8>) -> Result<WalkEntry, MerkleError> {
	use std::os::unix::fs::PermissionsExt;
	let meta = fs::symlink_metadata(path).map_err(io_error(path))?;
	let kind = if meta.file_type().is_symlink() {
		return Err(MerkleError::Symlink(path.to_path_buf()));
	} else if meta.is_dir() {
		EntryKind::Dir
	} else if meta.is_file() {
		EntryKind::File
	} else {
		return Err(MerkleError::Special(path.to_path_buf()));
	};
	let len = if kind == EntryKind::File { meta.len() } else { 0 };
	Ok(WalkEntry { relative, path: path.to_path_buf(), kind, len, mode: meta.permissions().mode() })
}

fn join_relative(parent: &[u8], name: &[u8]) -> Vec<u8> {
	if parent.is_empty() {
		return name.to_vec();
	}
	let mut joined = Vec::with_capacity(parent.len() + 1 + name.len());
	joined.extend_from_slice(parent);
	joined.push(b'/');
	joined.extend_from_slice(name);
	joined
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> MerkleError + '_ {
	move |source| MerkleError::Io { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
	use super::*;

	fn files(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
		list.iter().map(|(p, c)| (p.to_string(), c.as_bytes().to_vec())).collect()
	}

	fn write(dir: &Path, relative: &str, content: &str) {
		let path = dir.join(relative);
		fs::create_dir_all(path.parent().unwrap()).unwrap();
		fs::write(path, content).unwrap();
	}

	#[test]
	fn order_does_not_matter() {
		let a = files(&[("a.txt", "1"), ("b/c.txt", "2"), ("d", "3")]);
		let b = files(&[("d", "3"), ("a.txt", "1"), ("b/c.txt", "2")]);
		assert_eq!(merkle_root(&a), merkle_root(&b));
	}

	#[test]
	fn content_change_changes_root() {
		let a = files(&[("a.txt", "1"), ("b.txt", "2")]);
		let b = files(&[("a.txt", "1"), ("b.txt", "3")]);
		assert_ne!(merkle_root(&a), merkle_root(&b));
	}

	#[test]
	fn path_change_changes_root() {
		let a = files(&[("a.txt", "1"), ("b.txt", "2")]);
		let b = files(&[("a.txt", "1"), ("c.txt", "2")]);
		assert_ne!(merkle_root(&a), merkle_root(&b));
		// Moving bytes between the path and the content must not collide either.
		assert_ne!(merkle_root(&files(&[("ab", "c")])), merkle_root(&files(&[("a", "bc")])));
	}

	#[test]
	fn empty_set_has_the_defined_root() {
		assert_eq!(merkle_root(&[]), blake2_256(b""));
		let dir = tempfile::tempdir().unwrap();
		assert_eq!(root_of_dir(dir.path()).unwrap(), empty_root());
		// Empty directories carry no files, so they do not change the root.
		fs::create_dir_all(dir.path().join("x/y")).unwrap();
		assert_eq!(root_of_dir(dir.path()).unwrap(), empty_root());
	}

	#[test]
	fn single_file_root_is_its_leaf() {
		let root = merkle_root(&files(&[("a", "x")]));
		assert_eq!(root, leaf_hash(b"a", &blake2_256(b"x")));
	}

	#[test]
	fn dir_root_matches_in_memory_root() {
		let dir = tempfile::tempdir().unwrap();
		write(dir.path(), "out/z.txt", "zz");
		write(dir.path(), "out/a/b.txt", "b");
		write(dir.path(), "stdout", "hello\n");
		let expected = merkle_root(&files(&[
			("stdout", "hello\n"),
			("out/a/b.txt", "b"),
			("out/z.txt", "zz"),
		]));
		assert_eq!(root_of_dir(dir.path()).unwrap(), expected);
	}

	#[test]
	fn symlinks_are_rejected() {
		let dir = tempfile::tempdir().unwrap();
		write(dir.path(), "a", "1");
		std::os::unix::fs::symlink("/etc/passwd", dir.path().join("leak")).unwrap();
		assert!(matches!(root_of_dir(dir.path()), Err(MerkleError::Symlink(_))));
	}

	#[test]
	fn walk_lists_parents_before_children() {
		let dir = tempfile::tempdir().unwrap();
		write(dir.path(), "b/c/d", "1");
		write(dir.path(), "a", "2");
		let relative: Vec<String> = walk(dir.path())
			.unwrap()
			.into_iter()
			.map(|e| String::from_utf8(e.relative).unwrap())
			.collect();
		assert_eq!(relative, ["a", "b", "b/c", "b/c/d"]);
	}

	#[test]
	fn a_file_is_not_a_directory() {
		let dir = tempfile::tempdir().unwrap();
		write(dir.path(), "f", "1");
		assert!(matches!(root_of_dir(&dir.path().join("f")), Err(MerkleError::NotADirectory(_))));
	}
}
