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

#[test]
fn only_an_account_sets_its_own_phase_and_anyone_reads_it() {
	use crate::directory::phase::{publish_phase, read_phase, JobProgress};
	let Some((_dir, _registry, _gate, target)) = gated(1 << 30) else { return };
	let alice = writer(&target);
	let alice_id: AccountId = alice.username.parse().unwrap();
	assert_eq!(read_phase(&target, 7, &alice_id).unwrap(), None);
	publish_phase(&target, 7, JobProgress::Pulling, &alice).unwrap();
	publish_phase(&target, 7, JobProgress::Running, &alice).unwrap();
	let entry = read_phase(&target, 7, &alice_id).unwrap().unwrap();
	assert_eq!(entry.phase, JobProgress::Running);
	assert!(entry.since_ms > 1_700_000_000_000, "{entry:?}");
	// Another match is another entry.
	assert_eq!(read_phase(&target, 8, &alice_id).unwrap(), None);

	// Bob cannot speak for Alice, nobody can without a credential, and a phase is one
	// of three words.
	let bob = WriteCredential::new(&modicum_client::keys::from_uri("//Bob").unwrap(), &target);
	let url = format!("http://{target}/modicum/phase/7/{alice_id}");
	let put = |authorization: Option<&str>, body: &str| {
		let mut request = ureq::put(&url);
		if let Some(authorization) = authorization {
			request = request.set("Authorization", authorization);
		}
		match request.send_string(body) {
			Ok(response) => response.status(),
			Err(ureq::Error::Status(status, _)) => status,
			Err(e) => panic!("{e}"),
		}
	};
	assert_eq!(put(Some(&bob.header()), "uploading"), 403);
	assert_eq!(put(None, "uploading"), 401);
	assert_eq!(put(Some(&alice.header()), "finished"), 400);
	assert_eq!(put(Some(&alice.header()), &"x".repeat(1000)), 413);
	assert_eq!(read_phase(&target, 7, &alice_id).unwrap().unwrap().phase, JobProgress::Running);
	assert_eq!(raw("DELETE", &url, Some(&alice.header())).0, 405);
}

#[test]
fn a_few_files_of_a_large_result_come_with_a_proof_for_a_fraction_of_its_bytes() {
	use crate::{archive, directory::fetch_proven_files, leaf_proof::LeafProof, merkle};
	let Some((_dir, _registry, _gate, target)) = gated(1 << 30) else { return };
	// 10,000 records of 1 KiB: a 10 MB result.
	let result = tempfile::tempdir().unwrap();
	let records = result.path().join("out/records");
	std::fs::create_dir_all(&records).unwrap();
	for i in 0..10_000u32 {
		let line = format!("{i:08}\n");
		std::fs::write(records.join(format!("{i:05}")), line.repeat(1024 / line.len())).unwrap();
	}
	let root = merkle::root_of_dir(result.path()).unwrap();
	let tarball = archive::pack_dir(result.path()).unwrap();
	let digest = upload_blob(&target, "results/match-1", &tarball, &writer(&target)).unwrap();

	// A 1 % check: 100 records.
	let paths: Vec<String> = (0..100).map(|i| format!("out/records/{:05}", i * 97)).collect();
	let files = fetch_proven_files(&target, "results/match-1", &digest, &root, &paths).unwrap();
	assert_eq!(files.len(), 100);
	assert_eq!(files[1].0, "out/records/00097");
	assert!(files[1].1.starts_with(b"00000097\n"));

	// What crossed the wire: the proof and the 100 ranges, under 5 % of the result.
	let body =
		serde_json::json!({"repository": "results/match-1", "digest": digest, "paths": paths});
	let proof = ureq::post(&format!("http://{target}/modicum/proof"))
		.send_string(&body.to_string())
		.unwrap()
		.into_string()
		.unwrap();
	let parsed: LeafProof = serde_json::from_str(&proof).unwrap();
	let fetched = proof.len() as u64 + parsed.files.iter().map(|f| f.size).sum::<u64>();
	assert!(fetched * 20 < tarball.len() as u64, "{fetched} of {} bytes", tarball.len());

	// A wrong root, a missing file and a missing result are refused.
	assert!(fetch_proven_files(&target, "results/match-1", &digest, &[0; 32], &paths[..1]).is_err());
	let missing = ["out/records/none".to_string()];
	assert!(fetch_proven_files(&target, "results/match-1", &digest, &root, &missing).is_err());
	let other = sha256_digest(b"nothing");
	assert!(fetch_proven_files(&target, "results/match-1", &other, &root, &paths[..1]).is_err());
}

#[test]
fn a_tls_hello_is_refused_at_once_and_endless_heads_are_cut_off() {
	use std::io::{Read, Write};
	let Some((_dir, _registry, gate, target)) = gated(1 << 30) else { return };
	let addr = gate.local_addr();
	// What Docker sends first to every registry: a TLS ClientHello (no CRLF in it).
	let mut tls = std::net::TcpStream::connect(addr).unwrap();
	tls.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
	let started = Instant::now();
	tls.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]).unwrap();
	let mut answer = String::new();
	tls.read_to_string(&mut answer).unwrap();
	assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
	assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());

	// A head that never ends is cut off, not buffered for ever.
	let mut endless = std::net::TcpStream::connect(addr).unwrap();
	endless.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
	let _ = endless.write_all(b"GET /v2/ HTTP/1.1\r\nX-Long: ");
	let _ = endless.write_all(&vec![b'a'; 100 << 10]);
	let mut answer = String::new();
	let _ = endless.read_to_string(&mut answer);
	assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");

	// And plain HTTP still works, keep-alive and all.
	assert_eq!(raw("GET", &format!("http://{target}/v2/"), None).0, 401);
	let digest = upload_blob(&target, "jobs/x", b"through the front", &writer(&target)).unwrap();
	let scratch = tempfile::tempdir().unwrap();
	download_blob_to(&target, "jobs/x", &digest, &scratch.path().join("b"), 1024, soon()).unwrap();
}
