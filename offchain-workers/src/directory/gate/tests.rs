use super::*;
use crate::directory::{
	download_blob_to, probe_registry, probe_store_and_read, sha256_digest,
	testing::{free_addr, start_test_registry, writer},
	upload_blob, DirectoryError, RegistryProcess, WriteCredential,
};
use std::time::Instant;

/// A bare registry with a gate in front of it.
fn gated(quota_bytes: u64) -> Option<(tempfile::TempDir, RegistryProcess, Gate, String)> {
	gated_for(quota_bytes, None)
}

/// [`gated`], letting only the accounts `writers` accepts write.
fn gated_for(
	quota_bytes: u64,
	writers: Option<WriterCheck>,
) -> Option<(tempfile::TempDir, RegistryProcess, Gate, String)> {
	let (dir, registry) = start_test_registry()?;
	let listen = free_addr();
	let policy = GatePolicy {
		registry_name: listen.to_string(),
		storage_dir: dir.path().join("storage"),
		quota_bytes,
		writers,
	};
	let gate = serve_gate(listen, registry.addr(), policy).unwrap();
	Some((dir, registry, gate, listen.to_string()))
}

fn soon() -> Instant {
	Instant::now() + Duration::from_secs(30)
}

fn raw(method: &str, url: &str, authorization: Option<&str>) -> (u16, Option<String>) {
	let agent = ureq::AgentBuilder::new().redirects(0).build();
	let mut request = agent.request(method, url);
	if let Some(authorization) = authorization {
		request = request.set("Authorization", authorization);
	}
	match request.call() {
		Ok(response) => (response.status(), response.header("WWW-Authenticate").map(String::from)),
		Err(ureq::Error::Status(status, response)) => {
			(status, response.header("WWW-Authenticate").map(String::from))
		},
		Err(e) => panic!("{method} {url}: {e}"),
	}
}

#[test]
fn reads_are_open_writes_need_a_credential_and_nothing_is_deleted() {
	let Some((_dir, _registry, _gate, target)) = gated(1 << 30) else { return };
	let digest = upload_blob(&target, "results/r", b"result", &writer(&target)).unwrap();
	let scratch = tempfile::tempdir().unwrap();
	let file = scratch.path().join("blob");
	download_blob_to(&target, "results/r", &digest, &file, 1024, soon()).unwrap();
	assert_eq!(std::fs::read(&file).unwrap(), b"result");

	// A credential signed for another directory, and none at all.
	let elsewhere =
		WriteCredential::new(&modicum_client::keys::from_uri("//Eve").unwrap(), "10.9.9.9:5000");
	let refused = upload_blob(&target, "results/r", b"other", &elsewhere);
	assert!(
		matches!(refused, Err(DirectoryError::UnexpectedStatus { status: 401, .. })),
		"{refused:?}"
	);
	let (status, challenge) =
		raw("POST", &format!("http://{target}/v2/results/r/blobs/uploads/"), None);
	assert_eq!(status, 401);
	assert!(challenge.is_some_and(|c| c.starts_with("Bearer realm=")));

	// Deletes are refused, whoever asks, and the result stays.
	let blob_url = format!("http://{target}/v2/results/r/blobs/{digest}");
	let auth = writer(&target).header();
	assert_eq!(raw("DELETE", &blob_url, Some(&auth)).0, 405);
	assert_eq!(raw("DELETE", &blob_url, None).0, 405);
	download_blob_to(&target, "results/r", &digest, &file, 1024, soon()).unwrap();

	// The ping asks for a token; the probes see a working registry.
	let (status, challenge) = raw("GET", &format!("http://{target}/v2/"), None);
	assert_eq!(status, 401);
	assert!(challenge.unwrap().contains("/modicum/token"));
	assert!(probe_registry(&target));
	assert!(probe_store_and_read(&target, &writer(&target)));
	assert!(!probe_store_and_read(&target, &elsewhere), "a probe that cannot write fails");
	// Only registry paths are served: no other host can be reached through the gate.
	assert_eq!(raw("GET", &format!("http://{target}/modicum/../etc"), None).0, 400);
	let (status, _) = raw_target(&target, "GET @169.254.169.254/latest/ HTTP/1.1");
	assert_eq!(status, 400);
}

/// Sends one raw request line (and a Host header) and reads the status code.
fn raw_target(target: &str, request_line: &str) -> (u16, String) {
	use std::io::{Read, Write};
	let mut stream = std::net::TcpStream::connect(target).unwrap();
	write!(stream, "{request_line}\r\nHost: {target}\r\nConnection: close\r\n\r\n").unwrap();
	let mut answer = String::new();
	let _ = stream.read_to_string(&mut answer);
	let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
	(status, answer)
}

#[test]
fn only_accepted_writers_write() {
	let alice =
		modicum_client::keys::account_of(&modicum_client::keys::from_uri("//Alice").unwrap());
	let writers: WriterCheck = std::sync::Arc::new(move |who| *who == alice);
	let Some((_dir, _registry, _gate, target)) = gated_for(1 << 30, Some(writers)) else { return };
	assert!(upload_blob(&target, "results/w", b"alice", &writer(&target)).is_ok());
	let eve = WriteCredential::new(&modicum_client::keys::from_uri("//Eve").unwrap(), &target);
	let refused = upload_blob(&target, "results/w", b"eve", &eve);
	assert!(
		matches!(refused, Err(DirectoryError::UnexpectedStatus { status: 401, .. })),
		"{refused:?}"
	);
	// Nor does a token help her.
	let (status, _) =
		raw("GET", &format!("http://{target}/modicum/token?scope=x"), Some(&eve.header()));
	assert_eq!(status, 401);
}

#[test]
fn writes_stop_at_the_quota() {
	let Some((_dir, _registry, _gate, target)) = gated(4096) else { return };
	let small = upload_blob(&target, "results/q", &[1u8; 1000], &writer(&target));
	assert_eq!(small.unwrap(), sha256_digest(&[1u8; 1000]));
	// Past the quota: cut off mid-body, then refused outright.
	let big = upload_blob(&target, "results/q", &[2u8; 8192], &writer(&target));
	assert!(big.is_err(), "{big:?}");
	let next = upload_blob(&target, "results/q", &[3u8; 10], &writer(&target));
	assert!(matches!(next, Err(DirectoryError::UnexpectedStatus { status: 507, .. })), "{next:?}");
	// Reads go on.
	let scratch = tempfile::tempdir().unwrap();
	let digest = sha256_digest(&[1u8; 1000]);
	download_blob_to(&target, "results/q", &digest, &scratch.path().join("b"), 4096, soon())
		.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_engine_pushes_with_a_credential_and_pulls_without_one() {
	let Some(docker) = crate::executor::test_support::docker_or_skip("gate_docker").await else {
		return;
	};
	let Some((_dir, _registry, _gate, target)) = gated(1 << 30) else { return };
	let local =
		crate::executor::test_support::job_image(&docker, "gated", "echo gated").await.unwrap();
	let elsewhere = WriteCredential::new(&modicum_client::keys::from_uri("//Eve").unwrap(), "x:1");
	let refused =
		crate::directory::push_image(&docker, &local, &target, "jobs/gated", &elsewhere).await;
	assert!(matches!(refused, Err(DirectoryError::PushFailed { .. })), "{refused:?}");
	let pushed =
		crate::directory::push_image(&docker, &local, &target, "jobs/gated", &writer(&target))
			.await
			.unwrap();
	// As on another machine: forget the image, then pull it by digest with no credential.
	let untag = bollard::query_parameters::RemoveImageOptions { force: true, ..Default::default() };
	for tag in [local.clone(), format!("{target}/jobs/gated:latest")] {
		docker.remove_image(&tag, Some(untag.clone()), None).await.unwrap();
	}
	crate::docker::pull_by_reference(&docker, &pushed.reference).await.unwrap();
	assert!(crate::docker::image_exists(&docker, &pushed.reference).await.unwrap());
	docker.remove_image(&pushed.reference, Some(untag), None).await.unwrap();
}
