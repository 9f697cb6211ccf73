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
	io::{self, BufRead, BufReader, Read},
	time::Instant,
};

/// What the image unpacks to, against the cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unpacked {
	/// The layers unpack to this many bytes (entries and their headers), within the cap.
	Within(u64),
	/// They pass the cap (the count stopped there).
	Over,
}

/// How a layer's bytes are compressed, by their first bytes (as the Docker engine
/// decides, whatever the manifest's media type says).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
	Gzip,
	/// zstd, xz or bzip2: the engine would unpack them, this check does not.
	Other(&'static str),
	None,
}

fn compression(magic: &[u8]) -> Compression {
	if magic.starts_with(&[0x1f, 0x8b]) {
		Compression::Gzip
	} else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
		Compression::Other("zstd")
	} else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
		Compression::Other("xz")
	} else if magic.starts_with(b"BZh") {
		Compression::Other("bzip2")
	} else {
		Compression::None
	}
}

/// Streams every layer of `layers` from `repository`, decompressing and reading it as
/// a tar, and says whether what they unpack to — every entry's size (a sparse entry's
/// full size) plus a 512-byte header each — stays within `cap`. Each layer's
/// compressed bytes are read to their end and checked against its digest even once
/// the cap is passed, so a directory cannot pass off a bomb of its own for the JC's
/// layer. A layer compressed otherwise than gzip (or not at all), or that is not a
/// readable tar, is [`DirectoryError::BadResponse`]: the image cannot run as described.
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
		let request = agent(timeout_until(deadline)).get(&url);
		let response = get(request, &url, repository, &layer.digest)?;
		let mut compressed =
			BufReader::new(Hashing::new(response.into_reader().take(layer.size), deadline));
		let left = if over { 0 } else { cap.saturating_sub(total) };
		let counted = match compressed.fill_buf().map(compression) {
			Ok(Compression::Gzip) => count_tar(MultiGzDecoder::new(&mut compressed), left),
			Ok(Compression::None) => count_tar(&mut compressed, left),
			Ok(Compression::Other(kind)) => Err(io::Error::new(
				io::ErrorKind::InvalidData,
				format!("{kind} layers are not supported"),
			)),
			Err(e) => Err(e),
		};
		// Past the cap, within it or unreadable, the rest of the compressed bytes are
		// hashed first: a layer that is not the JC's is the directory's fault.
		let drained = match &counted {
			Err(_) if compressed.get_ref().failure.is_some() => Ok(0),
			_ => io::copy(&mut compressed, &mut io::sink()),
		};
		let mut compressed = compressed.into_inner();
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

/// What the tar read from `reader` unpacks to, `Some(bytes)`, or `None` as soon as it
/// passes `cap`.
fn count_tar(reader: impl Read, cap: u64) -> io::Result<Option<u64>> {
	const HEADER_BYTES: u64 = 512;
	let mut archive = tar::Archive::new(reader);
	let mut total = 0u64;
	for entry in archive.entries()? {
		let mut entry = entry?;
		// GNU sparse entries report their full size; PAX ones say it in an extension.
		let mut size = entry.size();
		if let Ok(Some(extensions)) = entry.pax_extensions() {
			for extension in extensions.flatten() {
				let full = matches!(extension.key(), Ok("GNU.sparse.realsize" | "GNU.sparse.size"));
				let value = extension.value().ok().and_then(|v| v.parse::<u64>().ok());
				if let (true, Some(value)) = (full, value) {
					size = size.max(value);
				}
			}
		}
		total = total.saturating_add(size).saturating_add(HEADER_BYTES);
		if total > cap {
			return Ok(None);
		}
	}
	Ok(Some(total))
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
	const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

	/// A tar of one file `name` with `size` zero bytes.
	fn tar_of(name: &str, size: u64) -> Vec<u8> {
		let mut builder = tar::Builder::new(Vec::new());
		let mut header = tar::Header::new_gnu();
		header.set_size(size);
		header.set_mode(0o644);
		builder.append_data(&mut header, name, io::repeat(0).take(size)).unwrap();
		builder.into_inner().unwrap()
	}

	fn gzip(bytes: &[u8]) -> Vec<u8> {
		let mut encoder = GzEncoder::new(Vec::new(), Level::best());
		encoder.write_all(bytes).unwrap();
		encoder.finish().unwrap()
	}

	fn layer(registry: &str, media_type: &str, content: &[u8]) -> Layer {
		let writer = crate::directory::testing::writer(registry);
		let digest = upload_blob(registry, "jobs/bomb", content, &writer).unwrap();
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
		let bomb = layer(&registry, GZIP, &gzip(&tar_of("zeros", 64 << 20)));
		assert!(bomb.size < 128 << 10, "{}", bomb.size);
		let small = layer(&registry, GZIP, &gzip(&tar_of("hello", 5)));
		let layers = [small.clone(), bomb.clone()];
		let got = unpacked_size_within(&registry, "jobs/bomb", &layers, 1 << 20, soon()).unwrap();
		assert_eq!(got, Unpacked::Over);
		let got = unpacked_size_within(&registry, "jobs/bomb", &[small], 1 << 20, soon()).unwrap();
		assert_eq!(got, Unpacked::Within(5 + 512));
		// Declared a plain tar, but gzip inside: the engine would unpack it anyway.
		let disguised = Layer { media_type: TAR.into(), ..bomb };
		let got = unpacked_size_within(&registry, "jobs/bomb", &[disguised], 1 << 20, soon());
		assert_eq!(got.unwrap(), Unpacked::Over);
		let plain = layer(&registry, TAR, &tar_of("ten", 10));
		let got = unpacked_size_within(&registry, "jobs/bomb", &[plain], 1 << 20, soon()).unwrap();
		assert_eq!(got, Unpacked::Within(10 + 512));
	}

	#[test]
	fn a_substituted_or_unsupported_layer_is_not_the_jobs() {
		let Some((_data, registry)) = start_test_registry() else { return };
		let registry = registry.host_port();
		let real = layer(&registry, GZIP, &gzip(&tar_of("real", 4)));
		// The directory serves other bytes under the declared size: a digest mismatch.
		let lying = Layer { size: real.size - 1, ..real.clone() };
		let got = unpacked_size_within(&registry, "jobs/bomb", &[lying], 1 << 20, soon());
		assert!(matches!(got, Err(DirectoryError::DigestMismatch { .. })), "{got:?}");
		// zstd's magic, whatever the media type says.
		let zstd = layer(&registry, GZIP, &[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]);
		let got = unpacked_size_within(&registry, "jobs/bomb", &[zstd], 1 << 20, soon());
		assert!(matches!(got, Err(DirectoryError::BadResponse { .. })), "{got:?}");
		let corrupt = layer(&registry, GZIP, &[0x1f, 0x8b, 0, 1, 2, 3]);
		let got = unpacked_size_within(&registry, "jobs/bomb", &[corrupt], 1 << 20, soon());
		assert!(matches!(got, Err(DirectoryError::BadResponse { .. })), "{got:?}");
	}
}
