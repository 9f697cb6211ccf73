//! Results stored in a directory as content-addressed OCI blobs, through the OCI
//! distribution API (`/v2/<repository>/blobs/...`). A blob's name is the sha256 of its
//! content, and downloads are checked against it, so a directory can lose a result
//! but cannot alter it undetected.

use super::{
	agent, credential::WriteCredential, endpoint::check_host_port, http_error, DirectoryError,
};
use sha2::{Digest, Sha256};
use std::{fmt, io::Read, str::FromStr, time::Duration};

/// The manifest media types [`manifest_exists`] accepts. Without them, distribution
/// 2.8 answers a Docker v2 manifest with a converted schema-1 one under another digest.
pub(super) const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
	application/vnd.docker.distribution.manifest.list.v2+json, \
	application/vnd.oci.image.manifest.v1+json, \
	application/vnd.oci.image.index.v1+json";
/// The longest repository name distribution accepts.
const MAX_REPOSITORY_LEN: usize = 255;
/// How long each step of the uptime probe may take before it counts as a failure.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);
/// Per-read timeout for transfers: generous, results can be large.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a result lives in a directory: `<repository>@sha256:<hex>`, the form that
/// goes on chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobRef {
	/// The repository, e.g. `results/job-7`.
	pub repository: String,
	/// The content digest, `sha256:<64 lowercase hex>`.
	pub digest: String,
}

impl BlobRef {
	/// A reference, checked as [`FromStr`] would.
	pub fn new(
		repository: impl Into<String>,
		digest: impl Into<String>,
	) -> Result<Self, DirectoryError> {
		format!("{}@{}", repository.into(), digest.into()).parse()
	}

	/// The 32 bytes of the digest.
	pub fn digest_bytes(&self) -> Result<[u8; 32], DirectoryError> {
		digest_bytes(&self.digest)
	}
}

impl fmt::Display for BlobRef {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "{}@{}", self.repository, self.digest)
	}
}

impl FromStr for BlobRef {
	type Err = DirectoryError;

	fn from_str(input: &str) -> Result<Self, Self::Err> {
		let invalid =
			|reason: String| DirectoryError::InvalidBlobRef { input: input.to_string(), reason };
		let (repository, digest) =
			input.split_once('@').ok_or_else(|| invalid("no `@` before the digest".into()))?;
		repository_problem(repository).map_err(|r| invalid(format!("repository: {r}")))?;
		parse_digest(digest).map_err(|r| invalid(format!("digest: {r}")))?;
		Ok(BlobRef { repository: repository.to_string(), digest: digest.to_string() })
	}
}

/// The digest of some content: `sha256:<64 lowercase hex>`.
pub fn sha256_digest(bytes: &[u8]) -> String {
	format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The 32 bytes of a `sha256:<hex>` digest.
pub fn digest_bytes(digest: &str) -> Result<[u8; 32], DirectoryError> {
	parse_digest(digest)
		.map_err(|reason| DirectoryError::InvalidDigest { input: digest.to_string(), reason })
}

/// Checks a repository name against the distribution grammar: `/`-separated
/// components of lowercase letters and digits joined by `.`, `_`, `__` or dashes.
pub fn validate_repository(repository: &str) -> Result<(), DirectoryError> {
	repository_problem(repository).map_err(|reason| DirectoryError::InvalidRepository {
		input: repository.to_string(),
		reason,
	})
}

/// Uploads `bytes` to `repository` on the registry at `registry` (`host:port`) as the
/// writer of `credential`, and returns their digest, `sha256:<hex>`. Content already
/// there is not sent again.
pub fn upload_blob(
	registry: &str,
	repository: &str,
	bytes: &[u8],
	credential: &WriteCredential,
) -> Result<String, DirectoryError> {
	check_registry(registry)?;
	validate_repository(repository)?;
	let digest = sha256_digest(bytes);
	upload(registry, repository, bytes, bytes.len() as u64, &digest, credential)?;
	Ok(digest)
}

/// [`upload_blob`] for the content of the file at `path`, streamed from disk (read once
/// to hash it, once to send it).
pub fn upload_file(
	registry: &str,
	repository: &str,
	path: &std::path::Path,
	credential: &WriteCredential,
) -> Result<String, DirectoryError> {
	check_registry(registry)?;
	validate_repository(repository)?;
	let io = |source| DirectoryError::Io { path: path.to_path_buf(), source };
	let mut hasher = sha2::Sha256::new();
	let length =
		std::io::copy(&mut std::fs::File::open(path).map_err(io)?, &mut hasher).map_err(io)?;
	let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
	let file = std::fs::File::open(path).map_err(io)?;
	upload(registry, repository, file, length, &digest, credential)?;
	Ok(digest)
}

fn upload(
	registry: &str,
	repository: &str,
	body: impl Read,
	length: u64,
	digest: &str,
	credential: &WriteCredential,
) -> Result<(), DirectoryError> {
	let agent = agent(TRANSFER_TIMEOUT);
	// A retry after a crash finds the blob already there.
	let blob_url = format!("http://{registry}/v2/{repository}/blobs/{digest}");
	match agent.head(&blob_url).call() {
		Ok(response) if response.status() == 200 => return Ok(()),
		Ok(_) | Err(ureq::Error::Status(..)) => {},
		Err(e) => return Err(http_error("HEAD", &blob_url, e)),
	}
	store_blob(&agent, registry, repository, body, length, digest, credential)
}

/// Stores `body` (`length` bytes whose digest is `digest`) in `repository`: opens an
/// upload session, then PUTs the content with its digest (a monolithic upload).
fn store_blob(
	agent: &ureq::Agent,
	registry: &str,
	repository: &str,
	body: impl Read,
	length: u64,
	digest: &str,
	credential: &WriteCredential,
) -> Result<(), DirectoryError> {
	let start_url = format!("http://{registry}/v2/{repository}/blobs/uploads/");
	let authorization = credential.header();
	let started = agent
		.post(&start_url)
		.set("Authorization", &authorization)
		.call()
		.map_err(|e| http_error("POST", &start_url, e))?;
	if started.status() != 202 {
		return Err(unexpected("POST", &start_url, started));
	}
	let location = started.header("Location").ok_or_else(|| DirectoryError::BadResponse {
		url: start_url.clone(),
		reason: "202 without a Location header".into(),
	})?;
	let upload_url = resolve_location(registry, repository, location);
	let separator = if upload_url.contains('?') { '&' } else { '?' };
	let put_url = format!("{upload_url}{separator}digest={digest}");
	let stored = agent
		.put(&put_url)
		.set("Authorization", &authorization)
		.set("Content-Type", "application/octet-stream")
		.set("Content-Length", &length.to_string())
		.send(body)
		.map_err(|e| http_error("PUT", &put_url, e))?;
	if stored.status() != 201 {
		return Err(unexpected("PUT", &put_url, stored));
	}
	if let Some(stored_digest) = stored.header("Docker-Content-Digest") {
		if stored_digest != digest {
			return Err(DirectoryError::DigestMismatch {
				expected: digest.to_string(),
				actual: stored_digest.to_string(),
			});
		}
	}
	Ok(())
}

/// The uptime probe: whether the registry at `registry` stores a blob (a full upload,
/// as `credential`'s writer) and gives it back intact, each step within
/// [`PROBE_TIMEOUT`]. The blob is always the same, so probing never grows the storage.
pub fn probe_store_and_read(registry: &str, credential: &WriteCredential) -> bool {
	const REPOSITORY: &str = "modicum/uptime-probe";
	const CONTENT: &[u8] = b"modicum directory uptime probe\n";
	let agent = ureq::AgentBuilder::new().timeout(PROBE_TIMEOUT).build();
	let digest = sha256_digest(CONTENT);
	let length = CONTENT.len() as u64;
	if let Err(e) = store_blob(&agent, registry, REPOSITORY, CONTENT, length, &digest, credential) {
		tracing::debug!("probe: storing failed: {e}");
		return false;
	}
	let url = format!("http://{registry}/v2/{REPOSITORY}/blobs/{digest}");
	let mut body = Vec::new();
	match agent.get(&url).call() {
		Ok(response) => {
			response.into_reader().take(1024).read_to_end(&mut body).is_ok() && body == CONTENT
		},
		Err(e) => {
			tracing::debug!("probe: reading back failed: {e}");
			false
		},
	}
}

/// Whether `repository` holds a manifest for `reference` (a tag or a `sha256:` digest):
/// Docker v2 and OCI manifests and indexes count.
pub fn manifest_exists(
	registry: &str,
	repository: &str,
	reference: &str,
) -> Result<bool, DirectoryError> {
	check_registry(registry)?;
	validate_repository(repository)?;
	let is_digest = reference.contains(':');
	if is_digest {
		digest_bytes(reference)?;
	} else {
		tag_problem(reference).map_err(|reason| DirectoryError::InvalidRepository {
			input: reference.to_string(),
			reason,
		})?;
	}
	let url = format!("http://{registry}/v2/{repository}/manifests/{reference}");
	match agent(Duration::from_secs(10)).head(&url).set("Accept", MANIFEST_ACCEPT).call() {
		Ok(response) => {
			// Asked by digest, the registry must serve that very manifest.
			match response.header("Docker-Content-Digest") {
				Some(served) if is_digest && served != reference => {
					Err(DirectoryError::DigestMismatch {
						expected: reference.to_string(),
						actual: served.to_string(),
					})
				},
				_ => Ok(true),
			}
		},
		Err(ureq::Error::Status(404, _)) => Ok(false),
		Err(e) => Err(http_error("HEAD", &url, e)),
	}
}

/// Sends a GET for content `digest` of `repository`; a 404 is
/// [`DirectoryError::BlobNotFound`].
pub(super) fn get(
	request: ureq::Request,
	url: &str,
	repository: &str,
	digest: &str,
) -> Result<ureq::Response, DirectoryError> {
	match request.call() {
		Ok(response) => Ok(response),
		Err(ureq::Error::Status(404, _)) => Err(DirectoryError::BlobNotFound {
			repository: repository.to_string(),
			digest: digest.to_string(),
		}),
		Err(e) => Err(http_error("GET", url, e)),
	}
}

/// An upload URL from a `Location` header: absolute, absolute-path or (rarely)
/// relative to the upload collection.
fn resolve_location(registry: &str, repository: &str, location: &str) -> String {
	if location.starts_with("http://") || location.starts_with("https://") {
		location.to_string()
	} else if location.starts_with('/') {
		format!("http://{registry}{location}")
	} else {
		format!("http://{registry}/v2/{repository}/blobs/uploads/{location}")
	}
}

fn unexpected(method: &'static str, url: &str, response: ureq::Response) -> DirectoryError {
	DirectoryError::UnexpectedStatus {
		method,
		url: url.to_string(),
		status: response.status(),
		body: super::body_excerpt(response),
	}
}

pub(super) fn check_registry(registry: &str) -> Result<(), DirectoryError> {
	check_host_port(registry)
		.map_err(|reason| DirectoryError::InvalidAddress { input: registry.to_string(), reason })
}

fn parse_digest(digest: &str) -> Result<[u8; 32], String> {
	let hex_part = digest.strip_prefix("sha256:").ok_or("only `sha256:` digests are supported")?;
	let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
	if hex_part.len() != 64 || !hex_part.bytes().all(lower_hex) {
		return Err("needs exactly 64 lowercase hex digits after `sha256:`".into());
	}
	let mut bytes = [0u8; 32];
	hex::decode_to_slice(hex_part, &mut bytes).map_err(|e| e.to_string())?;
	Ok(bytes)
}

fn repository_problem(repository: &str) -> Result<(), String> {
	if repository.is_empty() {
		return Err("empty".into());
	}
	if repository.len() > MAX_REPOSITORY_LEN {
		return Err(format!("longer than {MAX_REPOSITORY_LEN} characters"));
	}
	let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
	if let Some(c) = repository.chars().find(|&c| !alphanumeric(c) && !"._-/".contains(c)) {
		return Err(format!(
			"{c:?} is not allowed (only lowercase letters, digits, `.`, `_`, `-` and `/`)"
		));
	}
	for component in repository.split('/') {
		if component.is_empty() {
			return Err("empty path component (leading, trailing or doubled `/`)".into());
		}
		if !component.starts_with(alphanumeric) || !component.ends_with(alphanumeric) {
			return Err(format!(
				"component {component:?} must start and end with a lowercase letter or digit"
			));
		}
		for separator in component.split(alphanumeric).filter(|s| !s.is_empty()) {
			if !matches!(separator, "." | "_" | "__") && !separator.chars().all(|c| c == '-') {
				return Err(format!(
					"{separator:?} in {component:?} is not a separator (`.`, `_`, `__` or dashes)"
				));
			}
		}
	}
	Ok(())
}

fn tag_problem(tag: &str) -> Result<(), String> {
	let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
	if tag.is_empty() || tag.len() > 128 {
		return Err("a tag has 1 to 128 characters".into());
	}
	if !tag.starts_with(word) || !tag.chars().all(|c| word(c) || c == '.' || c == '-') {
		return Err(
			"a tag is letters, digits, `_`, `.` and `-`, not starting with `.` or `-`".into()
		);
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::directory::testing::{start_test_registry, writer};

	const HELLO: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

	#[test]
	fn digests_content() {
		assert_eq!(sha256_digest(b"hello"), HELLO);
		let bytes = digest_bytes(HELLO).unwrap();
		assert_eq!(hex::encode(bytes), &HELLO[7..]);
		for bad in [
			"2cf24dba",
			"sha512:2cf2",
			"sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
			"sha256:abc",
		] {
			let error = digest_bytes(bad).unwrap_err().to_string();
			assert!(error.contains("invalid digest"), "{bad}: {error}");
		}
	}

	#[test]
	fn blob_refs_parse_and_format() {
		let text = format!("results/job-7@{HELLO}");
		let blob: BlobRef = text.parse().unwrap();
		assert_eq!(blob.repository, "results/job-7");
		assert_eq!(blob.digest, HELLO);
		assert_eq!(blob.to_string(), text);
		assert_eq!(BlobRef::new("results/job-7", HELLO).unwrap(), blob);
		assert_eq!(blob.digest_bytes().unwrap(), digest_bytes(HELLO).unwrap());

		let cases: Vec<(String, &str)> = vec![
			("results/job-7".into(), "no `@`"),
			(format!("Results@{HELLO}"), "'R' is not allowed"),
			(format!("@{HELLO}"), "repository: empty"),
			(format!("results//x@{HELLO}"), "empty path component"),
			(format!("-x@{HELLO}"), "must start and end"),
			(format!("a..b@{HELLO}"), "\"..\" in \"a..b\" is not a separator"),
			("results@sha256:1234".into(), "digest: needs exactly 64"),
			(format!("results@{}", HELLO.replace("sha256", "md5")), "only `sha256:`"),
		];
		for (input, expected) in cases {
			let error = input.parse::<BlobRef>().unwrap_err().to_string();
			assert!(error.contains(expected), "{input:?}: {error}");
		}
		for ok in ["a", "a/b/c", "a.b_c__d---e/f0", "library/busybox"] {
			validate_repository(ok).unwrap();
		}
		for bad in ["a___b", "a_.b", "a/", "/a", "a/../b", &"a".repeat(256)] {
			assert!(validate_repository(bad).is_err(), "{bad}");
		}
	}

	#[test]
	fn resolves_location_headers() {
		let abs = "http://10.0.0.1:5000/v2/r/blobs/uploads/u?_state=x";
		assert_eq!(resolve_location("h:1", "r", abs), abs);
		assert_eq!(
			resolve_location("h:1", "r", "/v2/r/blobs/uploads/u?_state=x"),
			"http://h:1/v2/r/blobs/uploads/u?_state=x"
		);
		assert_eq!(resolve_location("h:1", "r", "u"), "http://h:1/v2/r/blobs/uploads/u");
	}

	/// A blob fetched the one way downloads go: streamed to a file, capped, checked.
	fn download_blob(
		registry: &str,
		repository: &str,
		digest: &str,
	) -> Result<Vec<u8>, DirectoryError> {
		let dir = tempfile::tempdir().unwrap();
		let file = dir.path().join("blob");
		let deadline = std::time::Instant::now() + Duration::from_secs(30);
		crate::directory::download_blob_to(
			registry,
			repository,
			digest,
			&file,
			16 << 20,
			deadline,
		)?;
		Ok(std::fs::read(&file).unwrap())
	}

	#[test]
	fn uploads_downloads_and_verifies_blobs() {
		let Some((dir, registry)) = start_test_registry() else { return };
		let target = registry.host_port();
		let repository = "results/job-1";

		let content = b"exit 0\nhello modicum\n".to_vec();
		let digest = upload_blob(&target, repository, &content, &writer(&target)).unwrap();
		assert_eq!(digest, sha256_digest(&content));
		assert_eq!(download_blob(&target, repository, &digest).unwrap(), content);
		// Uploading again is harmless and gives the same digest.
		assert_eq!(upload_blob(&target, repository, &content, &writer(&target)).unwrap(), digest);
		// A larger blob, sent in one PUT.
		let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
		let big_digest = upload_blob(&target, repository, &big, &writer(&target)).unwrap();
		assert_eq!(download_blob(&target, repository, &big_digest).unwrap(), big);
		// Via an on-chain reference.
		let blob: BlobRef = format!("{repository}@{digest}").parse().unwrap();
		assert_eq!(download_blob(&target, &blob.repository, &blob.digest).unwrap(), content);

		// Unknown content, or known content asked from another repository: not found.
		let unknown = sha256_digest(b"never uploaded");
		match download_blob(&target, repository, &unknown) {
			Err(DirectoryError::BlobNotFound { digest, .. }) => assert_eq!(digest, unknown),
			other => panic!("expected BlobNotFound, got {other:?}"),
		}
		assert!(matches!(
			download_blob(&target, "results/other", &digest),
			Err(DirectoryError::BlobNotFound { .. })
		));
		// A malformed digest is refused before asking.
		let tampered = digest.to_uppercase().replace("SHA256", "sha256");
		assert!(matches!(
			download_blob(&target, repository, &tampered),
			Err(DirectoryError::InvalidDigest { .. })
		));

		// A directory that alters stored content is caught.
		let data = dir
			.path()
			.join("storage/docker/registry/v2/blobs/sha256")
			.join(&digest[7..9])
			.join(&digest[7..])
			.join("data");
		std::fs::write(&data, b"exit 0\nhello MODICUM\n").unwrap();
		match download_blob(&target, repository, &digest) {
			Err(DirectoryError::DigestMismatch { expected, actual }) => {
				assert_eq!(expected, digest);
				assert_eq!(actual, sha256_digest(b"exit 0\nhello MODICUM\n"));
			},
			other => panic!("expected DigestMismatch, got {other:?}"),
		}

		assert!(!manifest_exists(&target, repository, "latest").unwrap());
		assert!(super::super::probe_registry(&target));
		drop(registry);
		assert!(!super::super::probe_registry(&target));
		match download_blob(&target, repository, &digest) {
			Err(DirectoryError::Unreachable { .. }) => {},
			other => panic!("expected Unreachable, got {other:?}"),
		}
		assert!(matches!(
			upload_blob(&target, repository, b"x", &writer(&target)),
			Err(DirectoryError::Unreachable { .. })
		));
	}
}
