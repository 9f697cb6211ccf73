//! Single files of a posted result, proven against its on-chain root without the rest:
//! the building block of spot checks on record jobs (one output file per record).
//!
//! The directory indexes a result archive once ([`ArchiveIndex::read`]: every regular
//! file's path, content hash, and where its bytes lie in the uncompressed tar) and
//! answers a request for some paths with a [`LeafProof`]: their leaves' positions, a
//! Merkle multi-proof, and their byte ranges in the archive. The reader fetches just
//! those ranges from the registry (HTTP `Range`), and [`LeafProof::verify`] checks
//! contents, proof and root. The leaves are the result root's own ([`crate::merkle`]),
//! so nothing about how results are committed changes.

use crate::merkle::{leaf_hash, Blake2Hasher};
use rs_merkle::{MerkleProof, MerkleTree};
use serde::{Deserialize, Serialize};
use sp_crypto_hashing::blake2_256;
use std::io::Read;

/// Files an index holds at most (a result's file count is bounded far below this by
/// its storage limit's per-entry charge).
pub const MOST_FILES: usize = 4_000_000;

/// Indexing or proving failed.
#[derive(Debug, thiserror::Error)]
pub enum LeafProofError {
	/// The archive is not a readable tar.
	#[error("reading the result archive: {0}")]
	Read(#[from] std::io::Error),
	/// The archive holds more files than an index takes.
	#[error("the result holds more than {MOST_FILES} files")]
	TooManyFiles,
	/// A path asked for is not a file of the result.
	#[error("the result has no file {0:?}")]
	NoSuchFile(String),
	/// The proof or the contents do not add up to the root.
	#[error("the proof does not match: {0}")]
	Mismatch(String),
}

/// One regular file of a result archive.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Indexed {
	path: Vec<u8>,
	content_hash: [u8; 32],
	offset: u64,
	size: u64,
}

/// Every regular file of a result archive, sorted by path (the leaves' order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveIndex {
	files: Vec<Indexed>,
}

impl ArchiveIndex {
	/// Reads an uncompressed tar once, hashing each regular file's content.
	pub fn read(archive: impl Read) -> Result<Self, LeafProofError> {
		let mut files = Vec::new();
		let mut tar = tar::Archive::new(archive);
		for entry in tar.entries()? {
			let mut entry = entry?;
			if entry.header().entry_type() != tar::EntryType::Regular {
				continue;
			}
			if files.len() >= MOST_FILES {
				return Err(LeafProofError::TooManyFiles);
			}
			let path = entry.path_bytes().into_owned();
			let (offset, size) = (entry.raw_file_position(), entry.size());
			let mut hasher = Blake2Stream::default();
			std::io::copy(&mut entry, &mut hasher)?;
			files.push(Indexed { path, content_hash: hasher.finish(), offset, size });
		}
		files.sort_by(|a, b| a.path.cmp(&b.path));
		Ok(ArchiveIndex { files })
	}

	/// The result root these files commit to (as [`crate::merkle::root_of_dir`]).
	pub fn root(&self) -> [u8; 32] {
		crate::merkle::root_of_hashes(self.files.iter().map(|f| (f.path.clone(), f.content_hash)))
	}

	/// How many files the result has.
	pub fn len(&self) -> usize {
		self.files.len()
	}

	/// Whether the result has no files.
	pub fn is_empty(&self) -> bool {
		self.files.is_empty()
	}

	/// A proof of `paths` (each a file of the result).
	pub fn prove(&self, paths: &[String]) -> Result<LeafProof, LeafProofError> {
		let mut wanted = Vec::new();
		for path in paths {
			let index = self
				.files
				.binary_search_by(|f| f.path.as_slice().cmp(path.as_bytes()))
				.map_err(|_| LeafProofError::NoSuchFile(path.clone()))?;
			wanted.push(index);
		}
		wanted.sort_unstable();
		wanted.dedup();
		let leaves: Vec<[u8; 32]> =
			self.files.iter().map(|f| leaf_hash(&f.path, &f.content_hash)).collect();
		let tree = MerkleTree::<Blake2Hasher>::from_leaves(&leaves);
		let proof = tree.proof(&wanted);
		Ok(LeafProof {
			total_leaves: self.files.len(),
			files: wanted
				.iter()
				.map(|&i| {
					let f = &self.files[i];
					ProvenFile {
						index: i,
						path: String::from_utf8_lossy(&f.path).into_owned(),
						offset: f.offset,
						size: f.size,
					}
				})
				.collect(),
			proof: proof.proof_hashes().iter().map(hex::encode).collect(),
		})
	}
}

/// Files of a result and the Merkle multi-proof that they are its leaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafProof {
	/// Leaves in the result's tree.
	pub total_leaves: usize,
	/// The files proven, by leaf position.
	pub files: Vec<ProvenFile>,
	/// The multi-proof's hashes, hex.
	pub proof: Vec<String>,
}

/// One proven file and where its bytes are in the archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenFile {
	/// Its leaf's position (in path order).
	pub index: usize,
	/// Its path in the result.
	pub path: String,
	/// Where its content starts in the archive.
	pub offset: u64,
	/// Its size.
	pub size: u64,
}

impl LeafProof {
	/// Checks that `contents` (one per file, in order) are the files' contents and
	/// that the files are leaves of the tree whose root is `root`.
	pub fn verify(&self, root: &[u8; 32], contents: &[Vec<u8>]) -> Result<(), LeafProofError> {
		let mismatch = |why: String| Err(LeafProofError::Mismatch(why));
		if contents.len() != self.files.len() {
			return mismatch(format!("{} contents for {} files", contents.len(), self.files.len()));
		}
		let mut leaves = Vec::new();
		for (file, content) in self.files.iter().zip(contents) {
			if content.len() as u64 != file.size {
				return mismatch(format!(
					"{} is {} bytes, not {}",
					file.path,
					content.len(),
					file.size
				));
			}
			leaves.push(leaf_hash(file.path.as_bytes(), &blake2_256(content)));
		}
		let mut hashes = Vec::new();
		for hash in &self.proof {
			let bytes = hex::decode(hash).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
			match bytes {
				Some(bytes) => hashes.push(bytes),
				None => return mismatch(format!("{hash:?} is not a 32-byte hash")),
			}
		}
		let indices: Vec<usize> = self.files.iter().map(|f| f.index).collect();
		let sorted = indices.windows(2).all(|w| w[0] < w[1]);
		let in_range = indices.iter().all(|&i| i < self.total_leaves);
		let proof = MerkleProof::<Blake2Hasher>::new(hashes);
		if !sorted || !in_range || !proof.verify(*root, &indices, &leaves, self.total_leaves) {
			return mismatch("the files are not leaves of the posted root".into());
		}
		Ok(())
	}
}

/// blake2-256 over a stream (the content hash of a leaf) without holding it: the
/// same function as `sp_crypto_hashing::blake2_256` (BLAKE2b, 32-byte output, no key).
struct Blake2Stream(blake2b_simd::State);

impl Default for Blake2Stream {
	fn default() -> Self {
		Blake2Stream(blake2b_simd::Params::new().hash_length(32).to_state())
	}
}

impl Blake2Stream {
	fn finish(&self) -> [u8; 32] {
		let mut out = [0u8; 32];
		out.copy_from_slice(self.0.finalize().as_bytes());
		out
	}
}

impl std::io::Write for Blake2Stream {
	fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
		self.0.update(bytes);
		Ok(bytes.len())
	}

	fn flush(&mut self) -> std::io::Result<()> {
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::archive;

	fn result_dir() -> tempfile::TempDir {
		let dir = tempfile::tempdir().unwrap();
		std::fs::create_dir_all(dir.path().join("out/records")).unwrap();
		for i in 0..100 {
			std::fs::write(dir.path().join(format!("out/records/r{i:03}")), format!("{}\n", i * i))
				.unwrap();
		}
		std::fs::write(dir.path().join("stdout"), "done\n").unwrap();
		std::fs::write(dir.path().join("status"), "Completed\n").unwrap();
		dir
	}

	fn contents(archive: &[u8], proof: &LeafProof) -> Vec<Vec<u8>> {
		proof
			.files
			.iter()
			.map(|f| archive[f.offset as usize..(f.offset + f.size) as usize].to_vec())
			.collect()
	}

	#[test]
	fn a_few_records_prove_against_the_results_own_root() {
		let dir = result_dir();
		let archive = archive::pack_dir(dir.path()).unwrap();
		let index = ArchiveIndex::read(archive.as_slice()).unwrap();
		let root = crate::merkle::root_of_dir(dir.path()).unwrap();
		assert_eq!(index.root(), root);
		assert_eq!(index.len(), 102);

		let paths = vec!["out/records/r042".to_string(), "out/records/r007".into()];
		let proof = index.prove(&paths).unwrap();
		assert_eq!(
			proof.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
			["out/records/r007", "out/records/r042"]
		);
		let bytes = contents(&archive, &proof);
		assert_eq!(bytes, [b"49\n".to_vec(), b"1764\n".to_vec()]);
		proof.verify(&root, &bytes).unwrap();
		// A handful of hashes, not the other 100 leaves.
		assert!(proof.proof.len() <= 2 * 7, "{}", proof.proof.len());
	}

	#[test]
	fn forged_contents_proofs_and_roots_are_caught() {
		let dir = result_dir();
		let archive = archive::pack_dir(dir.path()).unwrap();
		let index = ArchiveIndex::read(archive.as_slice()).unwrap();
		let root = index.root();
		let proof = index.prove(&["out/records/r010".to_string()]).unwrap();
		let good = contents(&archive, &proof);
		proof.verify(&root, &good).unwrap();

		assert!(proof.verify(&root, &[b"999\n".to_vec()]).is_err(), "other content, same size");
		assert!(proof.verify(&[0; 32], &good).is_err(), "another root");
		let mut moved = proof.clone();
		moved.files[0].index += 1;
		assert!(moved.verify(&root, &good).is_err(), "another position");
		let mut renamed = proof.clone();
		renamed.files[0].path = "out/records/r011".into();
		assert!(renamed.verify(&root, &good).is_err(), "another path");
		let mut short = proof.clone();
		short.proof.pop();
		assert!(short.verify(&root, &good).is_err(), "a hash left out");
		assert!(matches!(
			index.prove(&["out/records/nope".to_string()]),
			Err(LeafProofError::NoSuchFile(_))
		));
	}
}
