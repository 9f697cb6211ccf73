//! Transfers whose size and duration a job bounds: an image manifest's download size
//! (the bandwidth a job uses, whatever a puller has cached), and result blobs streamed
//! to a file under a byte cap, each within a deadline.

use super::{
	agent,
	blobs::{
		check_registry, digest_bytes, get, sha256_digest, validate_repository, MANIFEST_ACCEPT,
	},
	DirectoryError,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::{
	fs::File,
	io::{Read, Write},
	path::Path,
	time::{Duration, Instant},
};

/// The largest manifest read: real ones are a few KiB.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// No request gets less than this, so a deadline already close still gets an answer
/// or a clean failure rather than a zero timeout.
const MIN_TIMEOUT: Duration = Duration::from_secs(1);

/// What a job's image costs to download: the sizes its manifest declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSize {
	/// The config blob's size plus every layer's (compressed) size, in bytes.
	pub download_bytes: u64,
	/// The layers, in order, as the manifest lists them.
	pub layers: Vec<Layer>,
}

/// One layer of an image manifest.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layer {
	/// How the layer is stored (`…tar.gzip`, `…tar+gzip`, `…tar`, `…tar+zstd`).
	#[serde(default)]
	pub media_type: String,
	/// Its compressed size, as declared.
	pub size: u64,
	/// The digest of its compressed bytes.
	#[serde(default)]
	pub digest: String,
}

#[derive(Deserialize)]
struct Descriptor {
	size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
	media_type: Option<String>,
	config: Option<Descriptor>,
	layers: Option<Vec<Layer>>,
	manifests: Option<serde_json::Value>,
}

/// The download size of the image manifest `digest` in `repository`: the manifest is
/// fetched, checked against its digest (so the directory cannot change the sizes) and
/// summed. An index (multi-platform list) is [`DirectoryError::BadResponse`]: a job
/// names one image.
pub fn manifest_size(
	registry: &str,
	repository: &str,
	digest: &str,
	deadline: Instant,
) -> Result<ImageSize, DirectoryError> {
	check_registry(registry)?;
	validate_repository(repository)?;
	digest_bytes(digest)?;
	let url = format!("http://{registry}/v2/{repository}/manifests/{digest}");
	let request = agent(timeout_until(deadline)).get(&url).set("Accept", MANIFEST_ACCEPT);
	let response = get(request, &url, repository, digest)?;
	let mut body = Vec::new();
	response.into_reader().take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut body).map_err(|e| {
		DirectoryError::Unreachable { url: url.clone(), reason: format!("interrupted: {e}") }
	})?;
	if body.len() as u64 > MAX_MANIFEST_BYTES {
		return Err(bad(&url, "manifest larger than 1 MiB"));
	}
	let actual = sha256_digest(&body);
	if actual != digest {
		return Err(DirectoryError::DigestMismatch { expected: digest.to_string(), actual });
	}
	let manifest: Manifest =
		serde_json::from_slice(&body).map_err(|e| bad(&url, &format!("not a manifest: {e}")))?;
	if manifest.manifests.is_some() {
		return Err(bad(&url, "an image index, not one image"));
	}
	let (Some(config), Some(layers)) = (manifest.config, manifest.layers) else {
		let kind = manifest.media_type.unwrap_or_else(|| "no media type".into());
		return Err(bad(&url, &format!("manifest ({kind}) without config and layers")));
	};
	let download_bytes = layers
		.iter()
		.try_fold(config.size, |total, layer| total.checked_add(layer.size))
		.ok_or_else(|| bad(&url, "layer sizes overflow"))?;
	Ok(ImageSize { download_bytes, layers })
}

/// Streams blob `digest` of `repository` into `dest` (created, or truncated), hashing
/// as it goes, and stops with [`DirectoryError::TooLarge`] past `max_bytes`. The file is
/// only good if this returns `Ok`: then its content hashes to `digest`.
pub fn download_blob_to(
	registry: &str,
	repository: &str,
	digest: &str,
	dest: &Path,
	max_bytes: u64,
	deadline: Instant,
) -> Result<u64, DirectoryError> {
	check_registry(registry)?;
	validate_repository(repository)?;
	digest_bytes(digest)?;
	let url = format!("http://{registry}/v2/{repository}/blobs/{digest}");
	let response = get(agent(timeout_until(deadline)).get(&url), &url, repository, digest)?;
	let io = |e: std::io::Error| DirectoryError::Io { path: dest.to_path_buf(), source: e };
	let mut file = File::create(dest).map_err(io)?;
	let mut reader = response.into_reader().take(max_bytes.saturating_add(1));
	let mut hasher = Sha256::new();
	let mut buffer = vec![0u8; 64 * 1024];
	let mut total = 0u64;
	loop {
		if Instant::now() >= deadline {
			return Err(DirectoryError::Unreachable {
				url,
				reason: "the download did not finish before the deadline".into(),
			});
		}
		let read = reader.read(&mut buffer).map_err(|e| DirectoryError::Unreachable {
			url: url.clone(),
			reason: format!("download interrupted: {e}"),
		})?;
		if read == 0 {
			break;
		}
		total = total.saturating_add(read as u64);
		if total > max_bytes {
			return Err(DirectoryError::TooLarge { url, max_bytes });
		}
		hasher.update(&buffer[..read]);
		file.write_all(&buffer[..read]).map_err(io)?;
	}
	file.sync_all().map_err(io)?;
	let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
	if actual != digest {
		return Err(DirectoryError::DigestMismatch { expected: digest.to_string(), actual });
	}
	Ok(total)
}

/// The read timeout that ends a request no later than `deadline` (at least a second).
pub fn timeout_until(deadline: Instant) -> Duration {
	deadline.saturating_duration_since(Instant::now()).max(MIN_TIMEOUT)
}

fn bad(url: &str, reason: &str) -> DirectoryError {
	DirectoryError::BadResponse { url: url.to_string(), reason: reason.to_string() }
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::directory::{testing::start_test_registry, upload_blob};

	fn soon() -> Instant {
		Instant::now() + Duration::from_secs(30)
	}

	#[test]
	fn a_blob_streams_to_a_file_and_is_checked() {
		let Some((_data, registry)) = start_test_registry() else { return };
		let registry = registry.host_port();
		let digest = upload_blob(
			&registry,
			"results/t",
			b"hello world",
			&crate::directory::testing::writer(&registry),
		)
		.unwrap();
		let dir = tempfile::tempdir().unwrap();
		let file = dir.path().join("blob");
		let got = download_blob_to(&registry, "results/t", &digest, &file, 1024, soon()).unwrap();
		assert_eq!(got, 11);
		assert_eq!(std::fs::read(&file).unwrap(), b"hello world");
		// Past the cap: refused, however small the overshoot.
		let too_big = download_blob_to(&registry, "results/t", &digest, &file, 10, soon());
		assert!(matches!(too_big, Err(DirectoryError::TooLarge { max_bytes: 10, .. })));
		// A digest the registry does not hold.
		let other = sha256_digest(b"other");
		let missing = download_blob_to(&registry, "results/t", &other, &file, 1024, soon());
		assert!(matches!(missing, Err(DirectoryError::BlobNotFound { .. })));
	}

	#[test]
	fn a_missing_manifest_is_not_found_and_a_dead_registry_unreachable() {
		let Some((_data, registry)) = start_test_registry() else { return };
		let digest = sha256_digest(b"no such manifest");
		let missing = manifest_size(&registry.host_port(), "jobs/x", &digest, soon());
		assert!(matches!(missing, Err(DirectoryError::BlobNotFound { .. })), "{missing:?}");
		let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
		let dead = manifest_size(&format!("127.0.0.1:{port}"), "jobs/x", &digest, soon());
		assert!(matches!(dead, Err(DirectoryError::Unreachable { .. })), "{dead:?}");
	}
}
