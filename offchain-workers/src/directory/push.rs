//! The Job Creator's side: pushing a local job image to a directory through the Docker
//! Engine, and learning the hashes the job offer carries.

use super::{
	blobs::digest_bytes, credential::WriteCredential, endpoint::check_host_port,
	validate_repository, DirectoryError,
};
use bollard::{
	errors::Error as BollardError,
	query_parameters::{PushImageOptions, TagImageOptions},
	Docker,
};
use futures::StreamExt;

/// The tag pushed images get; the job reference pins the manifest digest anyway.
const TAG: &str = "latest";

/// A job image stored in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedImage {
	/// Where to pull it: `<registry>/<repository>@sha256:<manifest digest>`.
	pub reference: String,
	/// The manifest digest, `sha256:<hex>`.
	pub digest: String,
	/// The base layer's hash: the sha256 diff id of the image's first layer.
	pub first_layer: [u8; 32],
	/// The job hash for the offer: the 32 bytes of the manifest digest.
	pub job_hash: [u8; 32],
}

/// Tags `local_image` as `<registry>/<repository>:latest`, pushes it to the registry
/// at `registry` (`host:port`, plain HTTP: Docker treats loopback registries as
/// insecure; other hosts must be listed in the engine's `insecure-registries`) as the
/// writer of `credential`, and returns its content-addressed reference and hashes.
pub async fn push_image(
	docker: &Docker,
	local_image: &str,
	registry: &str,
	repository: &str,
	credential: &WriteCredential,
) -> Result<PushedImage, DirectoryError> {
	check_host_port(registry)
		.map_err(|reason| DirectoryError::InvalidAddress { input: registry.to_string(), reason })?;
	validate_repository(repository)?;
	let target = format!("{registry}/{repository}");
	let tagged = format!("{target}:{TAG}");

	// Inspect first: a missing image fails before anything is tagged.
	let local = docker.inspect_image(local_image).await.map_err(|source| match source {
		BollardError::DockerResponseServerError { status_code: 404, .. } => {
			DirectoryError::ImageNotFound { image: local_image.to_string() }
		},
		source => DirectoryError::Docker { action: format!("inspect {local_image}"), source },
	})?;
	let first_layer = first_layer(local_image, &local)?;

	let options = TagImageOptions { repo: Some(target.clone()), tag: Some(TAG.into()) };
	docker.tag_image(local_image, Some(options)).await.map_err(|source| {
		DirectoryError::Docker { action: format!("tag {local_image} as {tagged}"), source }
	})?;

	let options = PushImageOptions { tag: Some(TAG.into()), ..Default::default() };
	let credentials = bollard::auth::DockerCredentials {
		username: Some(credential.username.clone()),
		password: Some(credential.password.clone()),
		serveraddress: Some(registry.to_string()),
		..Default::default()
	};
	let mut progress = docker.push_image(&target, Some(options), Some(credentials));
	let mut pushed_digest = None;
	while let Some(item) = progress.next().await {
		let push_failed =
			|message: String| DirectoryError::PushFailed { image: tagged.clone(), message };
		match item {
			Ok(info) => {
				if let Some(message) = info.error_detail.and_then(|detail| detail.message) {
					return Err(push_failed(message));
				}
				// bollard's PushImageInfo drops the final `aux` record; the same digest
				// is in the last status line: "latest: digest: sha256:… size: 527".
				if let Some(digest) = info.status.as_deref().and_then(digest_from_status) {
					pushed_digest = Some(digest);
				}
			},
			Err(BollardError::DockerStreamError { error }) => return Err(push_failed(error)),
			Err(source) => {
				return Err(DirectoryError::Docker { action: format!("push {tagged}"), source })
			},
		}
	}

	let digest = match pushed_digest {
		Some(digest) => digest,
		None => repo_digest(docker, &tagged, &target).await?,
	};
	let job_hash = digest_bytes(&digest)?;
	tracing::info!(image = local_image, %target, %digest, "job image pushed");
	Ok(PushedImage { reference: format!("{target}@{digest}"), digest, first_layer, job_hash })
}

/// The manifest digest Docker recorded for `target` after the push.
async fn repo_digest(
	docker: &Docker,
	tagged: &str,
	target: &str,
) -> Result<String, DirectoryError> {
	let image = docker
		.inspect_image(tagged)
		.await
		.map_err(|source| DirectoryError::Docker { action: format!("inspect {tagged}"), source })?;
	let prefix = format!("{target}@");
	let repo_digests = image.repo_digests.unwrap_or_default();
	let digest = repo_digests
		.iter()
		.filter_map(|entry| entry.strip_prefix(&prefix))
		.find(|digest| digest_bytes(digest).is_ok());
	digest
		.map(str::to_string)
		.ok_or_else(|| DirectoryError::NoPushDigest { image: tagged.to_string() })
}

/// The digest in a push's final status line, `<tag>: digest: sha256:<hex> size: <n>`.
fn digest_from_status(status: &str) -> Option<String> {
	let rest = status.strip_prefix(TAG)?.strip_prefix(": digest: ")?;
	let digest = rest.split_whitespace().next()?;
	digest_bytes(digest).ok().map(|_| digest.to_string())
}

/// The first entry of the image's `RootFS.Layers`: the base layer's diff id.
fn first_layer(
	image: &str,
	inspect: &bollard::models::ImageInspect,
) -> Result<[u8; 32], DirectoryError> {
	let no_base = |reason: String| DirectoryError::NoBaseLayer { image: image.to_string(), reason };
	let layer = inspect
		.root_fs
		.as_ref()
		.and_then(|root_fs| root_fs.layers.as_ref())
		.and_then(|layers| layers.first())
		.ok_or_else(|| no_base("RootFS.Layers is empty".into()))?;
	digest_bytes(layer).map_err(|e| no_base(e.to_string()))
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::directory::{
		manifest_exists,
		testing::{require_docker, start_test_registry, writer},
	};

	const TEST_IMAGE: &str = "modicum-test/busybox:1";

	#[test]
	fn reads_the_digest_from_the_status_line() {
		let digest = "sha256:06ce36b5a629efed7bfe4b12cb8827718703a82e9fd1a17b1513c0e3c4c280b0";
		assert_eq!(
			digest_from_status(&format!("latest: digest: {digest} size: 527")).as_deref(),
			Some(digest)
		);
		assert_eq!(digest_from_status("Pushed"), None);
		assert_eq!(digest_from_status("latest: digest: sha256:12 size: 1"), None);
		assert_eq!(digest_from_status(&format!("other: digest: {digest} size: 527")), None);
	}

	/// A Docker client, or `None` (with a note) if no engine answers.
	async fn docker_or_skip() -> Option<Docker> {
		let connected = match Docker::connect_with_local_defaults() {
			Ok(docker) => docker.negotiate_version().await,
			Err(e) => Err(e),
		};
		let reachable = match connected {
			Ok(docker) => docker.ping().await.map(|_| docker),
			Err(e) => Err(e),
		};
		let docker = match reachable {
			Ok(docker) => docker,
			Err(e) => {
				assert!(!require_docker(), "Docker is required but unreachable: {e}");
				eprintln!("skipping: Docker unreachable ({e})");
				return None;
			},
		};
		// A fresh engine has no images: make the test image from the host's busybox.
		if let Err(e) = crate::executor::test_support::ensure_busybox_image(&docker).await {
			assert!(!require_docker(), "Docker is required but {TEST_IMAGE} cannot be made: {e}");
			eprintln!("skipping: cannot make {TEST_IMAGE}: {e}");
			return None;
		}
		Some(docker)
	}

	#[tokio::test]
	async fn pushes_a_local_image() {
		let Some((_dir, registry)) = start_test_registry() else { return };
		let Some(docker) = docker_or_skip().await else { return };
		let target = registry.host_port();

		let pushed = push_image(&docker, TEST_IMAGE, &target, "jobs/busybox", &writer(&target))
			.await
			.unwrap();
		assert_eq!(pushed.reference, format!("{target}/jobs/busybox@{}", pushed.digest));
		assert_eq!(pushed.job_hash, digest_bytes(&pushed.digest).unwrap());
		let local = docker.inspect_image(TEST_IMAGE).await.unwrap();
		let layers = local.root_fs.unwrap().layers.unwrap();
		assert_eq!(format!("sha256:{}", hex::encode(pushed.first_layer)), layers[0]);
		// Docker's own record agrees with the digest read from the push output.
		let tagged = format!("{target}/jobs/busybox:latest");
		assert_eq!(
			repo_digest(&docker, &tagged, &format!("{target}/jobs/busybox")).await.unwrap(),
			pushed.digest
		);

		assert!(manifest_exists(&target, "jobs/busybox", &pushed.digest).unwrap());
		assert!(manifest_exists(&target, "jobs/busybox", "latest").unwrap());
		assert!(!manifest_exists(&target, "jobs/other", "latest").unwrap());
		// Pushing again is idempotent.
		let again = push_image(&docker, TEST_IMAGE, &target, "jobs/busybox", &writer(&target))
			.await
			.unwrap();
		assert_eq!(again, pushed);

		// Errors: a missing local image, and a registry that is not there.
		match push_image(
			&docker,
			"modicum-test/no-such-image:0",
			&target,
			"jobs/x",
			&writer(&target),
		)
		.await
		{
			Err(DirectoryError::ImageNotFound { .. }) => {},
			other => panic!("expected ImageNotFound, got {other:?}"),
		}
		drop(registry);
		match push_image(&docker, TEST_IMAGE, &target, "jobs/busybox", &writer(&target)).await {
			Err(DirectoryError::PushFailed { message, .. }) => {
				assert!(message.contains("connection refused"), "{message}")
			},
			other => panic!("expected PushFailed, got {other:?}"),
		}

		// Leave the engine's image list as it was (untagging only).
		let _ = docker
			.remove_image(&tagged, None::<bollard::query_parameters::RemoveImageOptions>, None)
			.await;
	}
}
