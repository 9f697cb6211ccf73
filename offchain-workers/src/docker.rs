//! The Docker engine: connecting, pulling job images with a count of the bytes
//! downloaded, and the image facts RPs declare on chain (base layer, repo digests).

use bollard::{
	errors::Error as BollardError, models::CreateImageInfo, query_parameters::CreateImageOptions,
	Docker,
};
use futures::StreamExt;
use std::{
	collections::{HashMap, HashSet},
	pin::pin,
};

/// A Docker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
	/// The engine's socket is missing or does not answer.
	#[error("cannot reach the Docker engine: {0}")]
	Connect(#[source] BollardError),
	/// The registry answered that it has no such image (manifest unknown).
	#[error("image {image} is not in its registry: {message}")]
	ImageNotFound {
		/// The reference pulled.
		image: String,
		/// The engine's message.
		message: String,
	},
	/// The registry could not be reached or broke off the download.
	#[error("the registry of {image} is unreachable: {message}")]
	RegistryUnreachable {
		/// The reference pulled.
		image: String,
		/// The engine's message.
		message: String,
	},
	/// The reference is not a valid image reference.
	#[error("{image:?} is not a valid image reference: {message}")]
	InvalidReference {
		/// The reference pulled.
		image: String,
		/// The engine's message.
		message: String,
	},
	/// The download arrived but the engine could not store it (disk full, …).
	#[error("pulling {image} failed on this host: {message}")]
	PullFailed {
		/// The reference pulled.
		image: String,
		/// The engine's message.
		message: String,
	},
	/// The image has no layers, so no base layer to declare.
	#[error("image {0} has no layers")]
	NoLayers(String),
	/// A layer id is not `sha256:<64 hex>`.
	#[error("image {image} has a malformed layer id {layer:?}")]
	BadLayerId {
		/// The image.
		image: String,
		/// The id found.
		layer: String,
	},
	/// Any other engine error.
	#[error("Docker engine: {0}")]
	Engine(#[from] BollardError),
}

/// What a pull downloaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullReport {
	/// Bytes downloaded: per layer fetched, the largest size the engine announced for
	/// it; layers already present cost nothing. This is the bandwidth used.
	pub bytes_pulled: u64,
	/// Layers downloaded.
	pub layers_downloaded: usize,
	/// Layers that were already present.
	pub layers_cached: usize,
	/// The pull was abandoned because it passed the byte limit.
	pub over_limit: bool,
}

/// Why a pull failed, judged from the engine's status code and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullFailure {
	/// The registry has no such image or tag.
	NotFound,
	/// The reference is malformed.
	InvalidReference,
	/// The registry could not be reached or broke off.
	Unreachable,
	/// The host could not store the image.
	Local,
}

/// Connects to the local engine (`DOCKER_HOST=unix://…` or `/var/run/docker.sock`)
/// and settles on an API version both sides speak: bollard defaults to a newer API
/// than older engines (e.g. 20.10, API 1.41) accept.
pub async fn connect() -> Result<Docker, DockerError> {
	let docker = Docker::connect_with_local_defaults().map_err(DockerError::Connect)?;
	docker.negotiate_version().await.map_err(DockerError::Connect)
}

/// Pulls `image_ref` (e.g. `127.0.0.1:5000/jobs/abc@sha256:…`) and reports the bytes
/// downloaded.
pub async fn pull_by_reference(
	docker: &Docker,
	image_ref: &str,
) -> Result<PullReport, DockerError> {
	pull_within(docker, image_ref, u64::MAX).await
}

/// Like [`pull_by_reference`], but abandons the pull as soon as the announced layer
/// sizes pass `byte_limit` (then `over_limit` is set): a job's bandwidth limit bounds
/// what the RP downloads for it.
pub async fn pull_within(
	docker: &Docker,
	image_ref: &str,
	byte_limit: u64,
) -> Result<PullReport, DockerError> {
	let mut progress = pin!(docker.create_image(Some(pull_options(image_ref)), None, None));
	let mut tally = PullTally::default();
	while let Some(event) = progress.next().await {
		let info = event.map_err(|e| pull_error(image_ref, e))?;
		tally.record(&info);
		if tally.bytes() > byte_limit {
			// Dropping the stream closes the request, and the engine cancels the pull.
			return Ok(tally.report(true));
		}
	}
	Ok(tally.report(false))
}

/// Whether the engine has `image` locally.
pub async fn image_exists(docker: &Docker, image: &str) -> Result<bool, DockerError> {
	match docker.inspect_image(image).await {
		Ok(_) => Ok(true),
		Err(e) if is_not_found(&e) => Ok(false),
		Err(e) => Err(e.into()),
	}
}

/// The image's base layer hash: the diff id (sha256 of the uncompressed layer) of the
/// first entry of `RootFS.Layers`. RPs declare these on chain as the base layers they
/// support, and a job declares the one its image is built on.
pub async fn image_first_layer(docker: &Docker, image: &str) -> Result<[u8; 32], DockerError> {
	let inspect = docker.inspect_image(image).await?;
	let first = inspect
		.root_fs
		.and_then(|root_fs| root_fs.layers)
		.and_then(|layers| layers.into_iter().next())
		.ok_or_else(|| DockerError::NoLayers(image.to_string()))?;
	parse_sha256(&first)
		.ok_or_else(|| DockerError::BadLayerId { image: image.to_string(), layer: first.clone() })
}

/// The image's repo digests (`repo@sha256:…`), one per registry it was pulled from
/// or pushed to.
pub async fn repo_digests(docker: &Docker, image: &str) -> Result<Vec<String>, DockerError> {
	Ok(docker.inspect_image(image).await?.repo_digests.unwrap_or_default())
}

/// Whether one of the image's repo digests is `digest` (e.g. a job hash), so the RP
/// can check that what it pulled is what the JC committed to.
pub async fn has_repo_digest(
	docker: &Docker,
	image: &str,
	digest: &[u8; 32],
) -> Result<bool, DockerError> {
	Ok(repo_digests(docker, image).await?.iter().any(|d| digest_matches(d, digest)))
}

/// Imports an uncompressed root filesystem tar as image `repo:tag` (`docker import`),
/// applying Dockerfile `changes` such as `CMD ["/bin/sh"]`.
pub async fn import_rootfs(
	docker: &Docker,
	rootfs_tar: Vec<u8>,
	repo: &str,
	tag: &str,
	changes: &[String],
) -> Result<(), DockerError> {
	let options = CreateImageOptions {
		from_src: Some("-".into()),
		repo: Some(repo.into()),
		tag: Some(tag.into()),
		changes: changes.to_vec(),
		..Default::default()
	};
	let body = bollard::body_full(rootfs_tar.into());
	let mut progress = pin!(docker.create_image(Some(options), Some(body), None));
	while let Some(event) = progress.next().await {
		event?;
	}
	Ok(())
}

/// The registry host of a reference, by Docker's rule: the first path component if
/// it has a `.` or `:` or is `localhost` (`127.0.0.1:5000/jobs/x` → `127.0.0.1:5000`;
/// `busybox:1` and `library/busybox` have none).
pub fn registry_host(image_ref: &str) -> Option<&str> {
	let (first, _) = image_ref.split_once('/')?;
	(first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// Whether the reference pins content by digest (`…@sha256:…`).
pub fn is_pinned(image_ref: &str) -> bool {
	image_ref.contains("@sha256:")
}

/// `sha256:<64 hex>` as bytes.
pub fn parse_sha256(id: &str) -> Option<[u8; 32]> {
	let bytes = hex::decode(id.strip_prefix("sha256:")?).ok()?;
	bytes.try_into().ok()
}

/// Classifies a pull failure. Anything that is neither "no such image", a bad
/// reference nor a local storage failure is the registry's: unreachable, refused,
/// broken off mid-download, or answering with a server error.
pub fn classify_pull_failure(status: Option<u16>, message: &str) -> PullFailure {
	const LOCAL: [&str; 4] = [
		"no space left on device",
		"failed to register layer",
		"read-only file system",
		"disk quota",
	];
	const NOT_FOUND: [&str; 5] = [
		"manifest unknown",
		"not found",
		"name unknown",
		"repository does not exist",
		"blob unknown",
	];
	let message = message.to_ascii_lowercase();
	if LOCAL.iter().any(|m| message.contains(m)) {
		PullFailure::Local
	} else if status == Some(404) || NOT_FOUND.iter().any(|m| message.contains(m)) {
		PullFailure::NotFound
	} else if status == Some(400) || message.contains("invalid reference format") {
		PullFailure::InvalidReference
	} else {
		PullFailure::Unreachable
	}
}

/// Whether an engine error is a 404 (no such image, container, …).
pub fn is_not_found(error: &BollardError) -> bool {
	matches!(error, BollardError::DockerResponseServerError { status_code: 404, .. })
}

fn pull_options(image_ref: &str) -> CreateImageOptions {
	// Without a tag or digest the engine would pull every tag of the repository.
	let last = image_ref.rsplit('/').next().unwrap_or(image_ref);
	let versioned = image_ref.contains('@') || last.contains(':');
	CreateImageOptions {
		from_image: Some(image_ref.to_string()),
		tag: (!versioned).then(|| "latest".to_string()),
		..Default::default()
	}
}

fn pull_error(image: &str, error: BollardError) -> DockerError {
	let (status, message) = match error {
		BollardError::DockerResponseServerError { status_code, message } => {
			(Some(status_code), message)
		},
		// An error in the progress stream: the pull started, then failed.
		BollardError::DockerStreamError { error } => (None, error),
		other => return DockerError::Engine(other),
	};
	let image = image.to_string();
	match classify_pull_failure(status, &message) {
		PullFailure::NotFound => DockerError::ImageNotFound { image, message },
		PullFailure::InvalidReference => DockerError::InvalidReference { image, message },
		PullFailure::Unreachable => DockerError::RegistryUnreachable { image, message },
		PullFailure::Local => DockerError::PullFailed { image, message },
	}
}

fn digest_matches(repo_digest: &str, digest: &[u8; 32]) -> bool {
	repo_digest
		.rsplit_once("@sha256:")
		.is_some_and(|(_, hex_digest)| hex_digest.eq_ignore_ascii_case(&hex::encode(digest)))
}

/// Bytes per layer from a pull's progress events.
#[derive(Debug, Default)]
struct PullTally {
	downloading: HashMap<String, u64>,
	cached: HashSet<String>,
}

impl PullTally {
	fn record(&mut self, info: &CreateImageInfo) {
		let (Some(id), Some(status)) = (&info.id, &info.status) else { return };
		match status.as_str() {
			"Downloading" => {
				let detail = info.progress_detail.as_ref();
				let total = detail.and_then(|d| d.total).unwrap_or(0);
				let current = detail.and_then(|d| d.current).unwrap_or(0);
				let size = u64::try_from(total.max(current)).unwrap_or(0);
				let seen = self.downloading.entry(id.clone()).or_insert(0);
				*seen = (*seen).max(size);
			},
			"Already exists" => {
				self.cached.insert(id.clone());
			},
			_ => {},
		}
	}

	fn bytes(&self) -> u64 {
		self.downloading.values().fold(0u64, |sum, size| sum.saturating_add(*size))
	}

	fn report(&self, over_limit: bool) -> PullReport {
		PullReport {
			bytes_pulled: self.bytes(),
			layers_downloaded: self.downloading.len(),
			layers_cached: self.cached.len(),
			over_limit,
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use bollard::models::ProgressDetail;

	fn event(id: &str, status: &str, current: Option<i64>, total: Option<i64>) -> CreateImageInfo {
		CreateImageInfo {
			id: Some(id.into()),
			status: Some(status.into()),
			progress_detail: Some(ProgressDetail { current, total }),
			..Default::default()
		}
	}

	#[test]
	fn tally_counts_downloaded_layers_only() {
		let mut tally = PullTally::default();
		tally.record(&event("1", "Pulling from jobs/x", None, None));
		tally.record(&event("aaa", "Already exists", None, None));
		tally.record(&event("bbb", "Pulling fs layer", None, None));
		tally.record(&event("bbb", "Downloading", Some(100), Some(3_000)));
		tally.record(&event("bbb", "Downloading", Some(2_900), Some(3_000)));
		tally.record(&event("ccc", "Downloading", Some(152), Some(152)));
		// Extraction reports the same sizes again; they are not downloads.
		tally.record(&event("bbb", "Extracting", Some(3_000), Some(3_000)));
		let report = tally.report(false);
		assert_eq!(report.bytes_pulled, 3_152);
		assert_eq!(report.layers_downloaded, 2);
		assert_eq!(report.layers_cached, 1);
	}

	#[test]
	fn pull_failures_are_told_apart() {
		use PullFailure::*;
		let cases = [
			(
				Some(404),
				"manifest for r/jobs/x:latest not found: manifest unknown: manifest unknown",
				NotFound,
			),
			(
				Some(500),
				"Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
				Unreachable,
			),
			(
				Some(500),
				"Get \"https://x.invalid:5000/v2/\": dial tcp: lookup x.invalid: no such host",
				Unreachable,
			),
			(
				Some(400),
				"invalid reference format: repository name must be lowercase",
				InvalidReference,
			),
			(None, "unexpected EOF", Unreachable),
			(None, "failed to register layer: write /x: no space left on device", Local),
			(
				Some(500),
				"pull access denied for x, repository does not exist or may require 'docker login'",
				NotFound,
			),
		];
		for (status, message, expected) in cases {
			assert_eq!(classify_pull_failure(status, message), expected, "{message}");
		}
	}

	#[test]
	fn registry_hosts() {
		assert_eq!(registry_host("127.0.0.1:5000/jobs/x@sha256:00"), Some("127.0.0.1:5000"));
		assert_eq!(registry_host("localhost/x"), Some("localhost"));
		assert_eq!(registry_host("registry.example/x:1"), Some("registry.example"));
		assert_eq!(registry_host("modicum-test/busybox:1"), None);
		assert_eq!(registry_host("busybox"), None);
	}

	#[test]
	fn untagged_references_pull_latest_only() {
		assert_eq!(pull_options("127.0.0.1:5000/jobs/x").tag.as_deref(), Some("latest"));
		assert_eq!(pull_options("127.0.0.1:5000/jobs/x:v1").tag, None);
		assert_eq!(pull_options("127.0.0.1:5000/jobs/x@sha256:ab").tag, None);
	}

	#[test]
	fn layer_ids_parse() {
		let id = format!("sha256:{}", "5f".repeat(32));
		assert_eq!(parse_sha256(&id), Some([0x5f; 32]));
		assert_eq!(parse_sha256("sha256:1234"), None);
		assert_eq!(parse_sha256(&"5f".repeat(32)), None);
	}

	#[test]
	fn repo_digests_match_job_hashes() {
		let digest = [0xab; 32];
		assert!(digest_matches(
			&format!("127.0.0.1:5000/jobs/x@sha256:{}", hex::encode(digest)),
			&digest
		));
		assert!(!digest_matches("127.0.0.1:5000/jobs/x@sha256:00", &digest));
	}

	#[tokio::test]
	async fn first_layer_of_the_test_image() {
		let Some(docker) =
			crate::executor::test_support::docker_or_skip("first_layer_of_the_test_image").await
		else {
			return;
		};
		let image = crate::executor::test_support::ensure_busybox_image(&docker).await.unwrap();
		let layer = image_first_layer(&docker, &image).await.unwrap();
		assert_ne!(layer, [0; 32]);
		assert!(image_exists(&docker, &image).await.unwrap());
		assert!(!image_exists(&docker, "modicum-test/no-such-image:1").await.unwrap());
	}

	#[tokio::test]
	async fn unreachable_registry_is_told_apart() {
		let Some(docker) =
			crate::executor::test_support::docker_or_skip("unreachable_registry").await
		else {
			return;
		};
		let image = format!("127.0.0.1:1/jobs/none@sha256:{}", "0".repeat(64));
		let error = pull_by_reference(&docker, &image).await.unwrap_err();
		assert!(matches!(error, DockerError::RegistryUnreachable { .. }), "{error}");
	}
}
