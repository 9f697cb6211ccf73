//! A reader's side of `POST /modicum/proof` ([`crate::leaf_proof`]): some files of a
//! posted result, fetched by byte range and checked against the root on chain, never
//! the whole result.

use super::{agent, blobs::check_registry, http_error, DirectoryError};
use crate::leaf_proof::LeafProof;
use std::{io::Read, time::Duration};

/// How long one proof or range request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The files at `paths` of the result `repository@digest`, each checked against `root`
/// by the directory's Merkle proof; in the proof's (path) order.
pub fn fetch_proven_files(
	registry: &str,
	repository: &str,
	digest: &str,
	root: &[u8; 32],
	paths: &[String],
) -> Result<Vec<(String, Vec<u8>)>, DirectoryError> {
	check_registry(registry)?;
	let url = format!("http://{registry}/modicum/proof");
	let body = serde_json::json!({"repository": repository, "digest": digest, "paths": paths});
	let answer = agent(REQUEST_TIMEOUT)
		.post(&url)
		.send_string(&body.to_string())
		.map_err(|e| http_error("POST", &url, e))?;
	let bad = |reason: String| DirectoryError::BadResponse { url: url.clone(), reason };
	let proof: LeafProof = serde_json::from_reader(answer.into_reader().take(64 << 20))
		.map_err(|e| bad(e.to_string()))?;
	let mut contents = Vec::new();
	for file in &proof.files {
		contents.push(fetch_range(registry, repository, digest, file.offset, file.size)?);
	}
	proof.verify(root, &contents).map_err(|e| bad(e.to_string()))?;
	Ok(proof.files.iter().map(|f| f.path.clone()).zip(contents).collect())
}

/// `size` bytes of a blob from `offset`, by HTTP range.
fn fetch_range(
	registry: &str,
	repository: &str,
	digest: &str,
	offset: u64,
	size: u64,
) -> Result<Vec<u8>, DirectoryError> {
	if size == 0 {
		return Ok(Vec::new());
	}
	let url = format!("http://{registry}/v2/{repository}/blobs/{digest}");
	let last = offset.saturating_add(size - 1);
	let answer = agent(REQUEST_TIMEOUT)
		.get(&url)
		.set("Range", &format!("bytes={offset}-{last}"))
		.call()
		.map_err(|e| http_error("GET", &url, e))?;
	if answer.status() != 206 {
		return Err(DirectoryError::BadResponse {
			url,
			reason: format!("asked for a range, got HTTP {}", answer.status()),
		});
	}
	let mut bytes = Vec::new();
	answer
		.into_reader()
		.take(size)
		.read_to_end(&mut bytes)
		.map_err(|e| DirectoryError::Unreachable { url: url.clone(), reason: e.to_string() })?;
	Ok(bytes)
}
