//! How large an image becomes once unpacked, measured before the engine unpacks it.
//! Bandwidth counts compressed bytes, and a small gzip layer can expand a
//! thousandfold: an engine that pulled such a layer would fill the host's disk before
//! anything could stop it. So the layers are streamed from the directory once,
//! decompressed on the fly and counted (never stored), and the count stops at a cap.

use super::{
	agent,
	blobs::{check_registry, digest_bytes, get, validate_repository},
	transfer::{timeout_until, Layer},
	DirectoryError,
};
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};
use std::{
	io::{self, Read},
	time::Instant,
};

/// What the image unpacks to, against the cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unpacked {
	/// The layers' tar streams add up to this many bytes, within the cap.
	Within(u64),
	/// They pass the cap (the count stopped there).
	Over,
}

/// How a layer's bytes are compressed, from its media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
	Gzip,
	None,
}

fn compression(media_type: &str) -> Option<Compression> {
	if media_type.ends_with("gzip") {
		Some(Compression::Gzip)
	} else if media_type.ends_with(".tar") || media_type.ends_with("tar") {
		Some(Compression::None)
	} else {
		None
	}
}

/// Streams every layer of `layers` from `repository`, decompressing and counting, and
/// says whether their unpacked size stays within `cap`. Each layer's compressed bytes
/// are read to their end and checked against its digest even once the cap is passed,
/// so a directory cannot pass off a bomb of its own for the JC's layer. A layer
/// compressed otherwise than gzip (or not at all), or whose gzip is corrupt, is
/// [`DirectoryError::BadResponse`]: the image cannot run as described here.
pub fn unpacked_size_within(
	registry: &str,
	repository: &str,
	layers: &[Layer],
	cap: u64,
	deadline: Instant,
) -> Result<Unpacked, DirectoryError> {
	check_registry(registry)?;
	validate_repository(repository)?;
	let mut total = 0u64;
	let mut over = false;
	for layer in layers {
		digest_bytes(&layer.digest)?;
		let url = format!("http://{registry}/v2/{repository}/blobs/{}", layer.digest);
		let kind = compression(&layer.media_type).ok_or_else(|| DirectoryError::BadResponse {
			url: url.clone(),
			reason: format!("layer media type {:?} is not supported", layer.media_type),
		})?;
		let request = agent(timeout_until(deadline)).get(&url);
		let response = get(request, &url, repository, &layer.digest)?;
		let mut compressed = Hashing::new(response.into_reader().take(layer.size), deadline);
		let left = if over { 0 } else { cap.saturating_sub(total) };
		let counted = match kind {
			Compression::Gzip => count_until(MultiGzDecoder::new(&mut compressed), left),
			Compression::None => count_until(&mut compressed, left),
		};
		// Past the cap, within it or corrupt, the rest of the compressed bytes are hashed
		// first: a layer that is not the JC's is the directory's fault.
		let drained = match &counted {
			Err(_) if compressed.failure.is_some() => Ok(0),
			_ => io::copy(&mut compressed, &mut io::sink()),
		};
		if let Some(reason) = compressed.failure.clone() {
			return Err(DirectoryError::Unreachable { url, reason });
		}
		drained
			.map_err(|e| DirectoryError::Unreachable { url: url.clone(), reason: e.to_string() })?;
		compressed.check(&layer.digest, layer.size)?;
		let counted = counted.map_err(|e| DirectoryError::BadResponse {
			url: url.clone(),
			reason: format!("layer: {e}"),
		})?;
		match counted {
			Some(bytes) if !over => total = total.saturating_add(bytes),
			_ => over = true,
		}
	}
	Ok(if over { Unpacked::Over } else { Unpacked::Within(total) })
}

/// Reads `reader` to its end, `Some(bytes)`, or `None` as soon as it passes `cap`.
fn count_until(mut reader: impl Read, cap: u64) -> io::Result<Option<u64>> {
	let mut buffer = vec![0u8; 64 * 1024];
	let mut total = 0u64;
	loop {
		let read = reader.read(&mut buffer)?;
		if read == 0 {
			return Ok(Some(total));
		}
		total = total.saturating_add(read as u64);
		if total > cap {
			return Ok(None);
		}
	}
}

/// The compressed bytes as they arrive: hashed, counted, and cut off at the deadline.
struct Hashing<R> {
	inner: R,
	hasher: Sha256,
	bytes: u64,
	deadline: Instant,
	/// Why the transfer itself failed, if it did.
	failure: Option<String>,
}

impl<R> Hashing<R> {
	fn new(inner: R, deadline: Instant) -> Self {
		Hashing { inner, hasher: Sha256::new(), bytes: 0, deadline, failure: None }
	}

	fn check(&mut self, digest: &str, size: u64) -> Result<(), DirectoryError> {
		let actual = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
		if actual != digest || self.bytes != size {
			return Err(DirectoryError::DigestMismatch { expected: digest.to_string(), actual });
		}
		Ok(())
	}
}

impl<R: Read> Read for Hashing<R> {
	fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
		if Instant::now() >= self.deadline {
			let reason = "the download did not finish before the deadline".to_string();
			self.failure = Some(reason.clone());
			return Err(io::Error::new(io::ErrorKind::TimedOut, reason));
		}
		match self.inner.read(buffer) {
			Ok(read) => {
				self.hasher.update(&buffer[..read]);
				self.bytes = self.bytes.saturating_add(read as u64);
				Ok(read)
			},
			Err(e) => {
				self.failure = Some(format!("download interrupted: {e}"));
				Err(e)
			},
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::directory::{blobs::sha256_digest, testing::start_test_registry, upload_blob};
	use flate2::{write::GzEncoder, Compression as Level};
	use std::{io::Write, time::Duration};

	const GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

	fn gzip(bytes: &[u8]) -> Vec<u8> {
		let mut encoder = GzEncoder::new(Vec::new(), Level::best());
		encoder.write_all(bytes).unwrap();
		encoder.finish().unwrap()
	}

	fn layer(registry: &str, media_type: &str, content: &[u8]) -> Layer {
		let digest = upload_blob(registry, "jobs/bomb", content).unwrap();
		assert_eq!(digest, sha256_digest(content));
		Layer { media_type: media_type.into(), size: content.len() as u64, digest }
	}

	fn soon() -> Instant {
		Instant::now() + Duration::from_secs(30)
	}

	#[test]
	fn a_decompression_bomb_is_stopped_at_the_cap() {
		let Some((_data, registry)) = start_test_registry() else { return };
		let registry = registry.host_port();
		// 64 MiB of zeros gzip to ~64 KiB.
		let bomb = layer(&registry, GZIP, &gzip(&vec![0u8; 64 << 20]));
		assert!(bomb.size < 128 << 10, "{}", bomb.size);
		let small = layer(&registry, GZIP, &gzip(b"hello"));
		let layers = [small.clone(), bomb];
		let got = unpacked_size_within(&registry, "jobs/bomb", &layers, 1 << 20, soon()).unwrap();
		assert_eq!(got, Unpacked::Over);
		let got = unpacked_size_within(&registry, "jobs/bomb", &[small], 1 << 20, soon()).unwrap();
		assert_eq!(got, Unpacked::Within(5));
		let plain = layer(&registry, "application/vnd.oci.image.layer.v1.tar", b"0123456789");
		let got = unpacked_size_within(&registry, "jobs/bomb", &[plain], 10, soon()).unwrap();
		assert_eq!(got, Unpacked::Within(10));
	}

	#[test]
	fn a_substituted_or_unsupported_layer_is_not_the_jobs() {
		let Some((_data, registry)) = start_test_registry() else { return };
		let registry = registry.host_port();
		let real = layer(&registry, GZIP, &gzip(b"real"));
		// The directory serves other bytes under the declared size: a digest mismatch.
		let lying = Layer { size: real.size - 1, ..real.clone() };
		let got = unpacked_size_within(&registry, "jobs/bomb", &[lying], 1 << 20, soon());
		assert!(matches!(got, Err(DirectoryError::DigestMismatch { .. })), "{got:?}");
		let zstd =
			Layer { media_type: "application/vnd.oci.image.layer.v1.tar+zstd".into(), ..real };
		let got = unpacked_size_within(&registry, "jobs/bomb", &[zstd], 1 << 20, soon());
		assert!(matches!(got, Err(DirectoryError::BadResponse { .. })), "{got:?}");
		let corrupt = layer(&registry, GZIP, b"not gzip at all");
		let got = unpacked_size_within(&registry, "jobs/bomb", &[corrupt], 1 << 20, soon());
		assert!(matches!(got, Err(DirectoryError::BadResponse { .. })), "{got:?}");
	}
}
