//! Helpers for tests that need Docker, here and in the end-to-end tests.

use super::ExecError;
use crate::docker;
use bollard::{
	models::{ContainerConfig, ContainerCreateBody},
	query_parameters::{CommitContainerOptions, CreateContainerOptions, RemoveContainerOptions},
	Docker,
};

/// A small job's limits for tests: 64 MiB, 5 s of CPU, 1 MiB of storage, one core.
pub fn small_spec(image: String) -> super::JobSpec {
	super::JobSpec {
		image,
		memory_limit_bytes: 64 << 20,
		instruction_limit_ms: 5_000,
		storage_limit_bytes: 1 << 20,
		bandwidth_limit_bytes: 0,
		wall_clock_limit: std::time::Duration::from_secs(60),
		extra_ns_per_instruction: 0,
		cpus: 1.0,
		pids_limit: 32,
		records_dir: None,
	}
}

/// The local test image: static busybox, no command.
pub const BUSYBOX_IMAGE: &str = "modicum-test/busybox:1";
const BUSYBOX_REPO: &str = "modicum-test/busybox";
const BUSYBOX_TAG: &str = "1";
const HOST_BUSYBOX: [&str; 2] = ["/bin/busybox", "/usr/bin/busybox"];
const APPLETS: [&str; 20] = [
	"sh",
	"cat",
	"echo",
	"sha256sum",
	"sleep",
	"yes",
	"head",
	"dd",
	"tail",
	"ls",
	"mkdir",
	"rm",
	"true",
	"false",
	"printf",
	"seq",
	"wc",
	"tr",
	"ln",
	"mkfifo",
];

/// Docker if reachable; else `None` after a skip note on stderr, unless
/// `MODICUM_REQUIRE_DOCKER=1`, when a missing Docker fails the calling test.
pub async fn docker_or_skip(test: &str) -> Option<Docker> {
	let required = std::env::var("MODICUM_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
	match docker::connect().await {
		Ok(docker) => Some(docker),
		Err(e) if required => panic!("{test}: MODICUM_REQUIRE_DOCKER=1 but {e}"),
		Err(e) => {
			eprintln!("skipping {test}: {e}");
			None
		},
	}
}

/// Makes sure [`BUSYBOX_IMAGE`] exists, importing it from the host's static
/// busybox if needed, and returns its name.
pub async fn ensure_busybox_image(docker: &Docker) -> Result<String, ExecError> {
	if !docker::image_exists(docker, BUSYBOX_IMAGE).await? {
		docker::import_rootfs(docker, busybox_rootfs()?, BUSYBOX_REPO, BUSYBOX_TAG, &[]).await?;
	}
	Ok(BUSYBOX_IMAGE.to_string())
}

/// A root filesystem tar with the host's busybox at `/bin/busybox` and applet
/// links beside it (deterministic, so every import yields the same layer).
pub fn busybox_rootfs() -> Result<Vec<u8>, ExecError> {
	let host = HOST_BUSYBOX
		.iter()
		.find(|path| std::path::Path::new(path).is_file())
		.ok_or_else(|| ExecError::InvalidSpec("no busybox on this host".into()))?;
	let binary = std::fs::read(host).map_err(super::io_error(std::path::Path::new(host)))?;
	let io = |e: std::io::Error| ExecError::Task(format!("building the busybox tar: {e}"));
	let mut builder = tar::Builder::new(Vec::new());
	let mut dir = header(tar::EntryType::Directory, 0o755, 0);
	builder.append_data(&mut dir, "bin", std::io::empty()).map_err(io)?;
	let mut file = header(tar::EntryType::Regular, 0o755, binary.len() as u64);
	builder.append_data(&mut file, "bin/busybox", binary.as_slice()).map_err(io)?;
	for applet in APPLETS {
		let mut link = header(tar::EntryType::Symlink, 0o777, 0);
		builder.append_link(&mut link, format!("bin/{applet}"), "busybox").map_err(io)?;
	}
	builder.into_inner().map_err(io)
}

/// Makes image `modicum-test/<name>:1`: the busybox image with command
/// `/bin/sh -c <script>`, committed without adding a layer, so it keeps the
/// busybox image's base layer.
pub async fn job_image(docker: &Docker, name: &str, script: &str) -> Result<String, ExecError> {
	job_image_with(docker, name, script, "").await
}

/// [`job_image`] with more Dockerfile instructions (one per line), e.g. `VOLUME /data`.
pub async fn job_image_with(
	docker: &Docker,
	name: &str,
	script: &str,
	instructions: &str,
) -> Result<String, ExecError> {
	let base = ensure_busybox_image(docker).await?;
	let holder = format!("modicum-test-commit-{name}");
	let remove = RemoveContainerOptions { force: true, ..Default::default() };
	let _ = docker.remove_container(&holder, Some(remove.clone())).await;
	let create = CreateContainerOptions { name: Some(holder.clone()), ..Default::default() };
	let body = ContainerCreateBody {
		image: Some(base),
		cmd: Some(vec!["/bin/sh".into()]),
		..Default::default()
	};
	docker.create_container(Some(create), body).await?;
	let cmd = serde_json::to_string(&["/bin/sh", "-c", script])
		.map_err(|e| ExecError::InvalidSpec(e.to_string()))?;
	let commit = CommitContainerOptions {
		container: Some(holder.clone()),
		repo: Some(format!("modicum-test/{name}")),
		tag: Some("1".into()),
		changes: Some(format!("CMD {cmd}\n{instructions}").trim_end().to_string()),
		pause: false,
		..Default::default()
	};
	let committed = docker.commit_container(commit, ContainerConfig::default()).await;
	let _ = docker.remove_container(&holder, Some(remove)).await;
	committed?;
	Ok(format!("modicum-test/{name}:1"))
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
	let mut header = tar::Header::new_gnu();
	header.set_entry_type(kind);
	header.set_mode(mode);
	header.set_size(size);
	header.set_mtime(0);
	header.set_uid(0);
	header.set_gid(0);
	header
}
