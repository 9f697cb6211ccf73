//! The job images a daemon pulled, kept while they fit a byte budget so that a repeated
//! job starts at once, and removed least recently used first once they pass it. Job
//! images are the ones pulled by digest from a directory: they carry a repo digest and
//! no tag. Tagged images (base images, the operator's own) are never touched.

use crate::docker::{self, DockerError};
use bollard::{
	query_parameters::{ListImagesOptions, RemoveImageOptions},
	Docker,
};
use std::{
	collections::{HashMap, HashSet},
	sync::Mutex,
	time::Instant,
};

/// The default budget: room for a good many job images on a small host.
pub const DEFAULT_BUDGET_BYTES: u64 = 4 << 30;

/// What this process knows of the job images on its engine.
#[derive(Debug, Default)]
struct Uses {
	/// When each reference was last used.
	last_used: HashMap<String, Instant>,
	/// How many runs use each reference right now: never removed meanwhile.
	running: HashMap<String, usize>,
	/// The registries (`host:port`) its job images came from: only their images are
	/// ever removed, never an image the operator pulled from elsewhere.
	registries: HashSet<String>,
}

/// The job images a daemon keeps within a byte budget.
#[derive(Debug)]
pub struct ImageCache {
	budget_bytes: u64,
	uses: Mutex<Uses>,
}

/// A job image in use by a run; released when dropped.
pub struct InUse<'a> {
	cache: &'a ImageCache,
	reference: String,
}

impl Drop for InUse<'_> {
	fn drop(&mut self) {
		let mut uses = self.cache.lock();
		if let Some(count) = uses.running.get_mut(&self.reference) {
			*count = count.saturating_sub(1);
			if *count == 0 {
				uses.running.remove(&self.reference);
			}
		}
		uses.last_used.insert(self.reference.clone(), Instant::now());
	}
}

impl ImageCache {
	/// A cache that keeps job images up to `budget_bytes` in all.
	pub fn new(budget_bytes: u64) -> Self {
		ImageCache { budget_bytes, uses: Mutex::new(Uses::default()) }
	}

	fn lock(&self) -> std::sync::MutexGuard<'_, Uses> {
		self.uses.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
	}

	/// Marks `reference` (`<registry>/<repository>@sha256:…`) as used by a run from now
	/// until the guard is dropped: [`ImageCache::prune`] leaves it alone meanwhile.
	pub fn hold(&self, reference: &str) -> InUse<'_> {
		let mut uses = self.lock();
		*uses.running.entry(reference.to_string()).or_default() += 1;
		uses.last_used.insert(reference.to_string(), Instant::now());
		if let Some(host) = docker::registry_host(reference) {
			uses.registries.insert(host.to_string());
		}
		InUse { cache: self, reference: reference.to_string() }
	}

	/// Removes job images from the registries this cache used, least recently used
	/// first (those this process never used before all others), until they fit the
	/// budget. Images held by a run, tagged images, and images from other registries
	/// are never removed; returns the references removed.
	pub async fn prune(&self, docker: &Docker) -> Result<Vec<String>, DockerError> {
		let options = ListImagesOptions { all: false, ..Default::default() };
		let images = docker.list_images(Some(options)).await?;
		let mut jobs: Vec<(Option<Instant>, String, String, u64)> = Vec::new();
		{
			let uses = self.lock();
			for image in images {
				let tagged = image.repo_tags.iter().any(|tag| tag != "<none>:<none>");
				let Some(reference) = image.repo_digests.first() else { continue };
				let ours = docker::registry_host(reference)
					.is_some_and(|host| uses.registries.contains(host));
				if tagged || !ours || uses.running.contains_key(reference) {
					continue;
				}
				let size = u64::try_from(image.size).unwrap_or(0);
				jobs.push((
					uses.last_used.get(reference).copied(),
					reference.clone(),
					image.id,
					size,
				));
			}
		}
		let mut total: u64 = jobs.iter().map(|(.., size)| size).sum();
		// `None` (never used here) sorts first: oldest.
		jobs.sort();
		let mut removed = Vec::new();
		for (_, reference, id, size) in jobs {
			if total <= self.budget_bytes {
				break;
			}
			let options = RemoveImageOptions { force: false, noprune: false };
			match docker.remove_image(&id, Some(options), None).await {
				Ok(_) => {
					tracing::info!(image = %reference, size, "removed a job image past the cache budget");
					total = total.saturating_sub(size);
					self.lock().last_used.remove(&reference);
					removed.push(reference);
				},
				Err(e) if docker::is_not_found(&e) => total = total.saturating_sub(size),
				// In use by a container (409): kept for now.
				Err(e) => tracing::debug!(image = %reference, "job image kept: {e}"),
			}
		}
		Ok(removed)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::executor::test_support::{docker_or_skip, job_image};

	#[tokio::test]
	async fn job_images_past_the_budget_go_least_recently_used_first() {
		let Some(docker) = docker_or_skip("image_cache").await else { return };
		let Some((_data, registry)) = crate::directory::testing::start_test_registry() else {
			return;
		};
		let registry = registry.host_port();
		let untag = RemoveImageOptions { force: true, ..Default::default() };
		let mut pulled = Vec::new();
		for name in ["cache-a", "cache-b"] {
			let local = job_image(&docker, name, &format!("echo {name}")).await.unwrap();
			let repository = format!("jobs/{name}");
			let pushed = crate::directory::push_image(
				&docker,
				&local,
				&registry,
				&repository,
				&crate::directory::testing::writer(&registry),
			)
			.await
			.unwrap();
			// As on an RP's own machine: the image arrives by digest, with no tag.
			for tag in [local, format!("{registry}/{repository}:latest")] {
				docker.remove_image(&tag, Some(untag.clone()), None).await.unwrap();
			}
			crate::docker::pull_by_reference(&docker, &pushed.reference).await.unwrap();
			pulled.push(pushed.reference);
		}
		let cache = ImageCache::new(0);
		let running = cache.hold(&pulled[1]);
		let removed = cache.prune(&docker).await.unwrap();
		assert_eq!(removed, pulled[..1], "an image in use stays");
		drop(running);
		let removed = cache.prune(&docker).await.unwrap();
		assert_eq!(removed, pulled[1..], "once released, it goes too");
		for reference in &pulled {
			assert!(!docker::image_exists(&docker, reference).await.unwrap(), "{reference}");
		}
		// Tagged images stay.
		assert!(docker::image_exists(&docker, crate::executor::test_support::BUSYBOX_IMAGE)
			.await
			.unwrap());
	}
}
