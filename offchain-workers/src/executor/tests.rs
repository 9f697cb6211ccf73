use super::{container::*, hardening::*, supervise::*, test_support::*, workdir, *};
use crate::merkle;
use bollard::models::HostConfig;
use std::collections::HashMap;
use std::fs;

fn spec(image: String) -> JobSpec {
	small_spec(image)
}

fn observed(limit: Option<Limit>, oom: bool, exit: i64, cpu_ms: u64) -> Observed {
	Observed {
		limit,
		oom_killed: oom,
		exit_code: Some(exit),
		cpu_ns: cpu_ms * 1_000_000,
		log_frames: 0,
	}
}

/// A job name unique to this test process.
fn job(name: &str) -> String {
	format!("test-{name}-{}", std::process::id())
}

fn status_only(status: ExecStatus) -> [u8; 32] {
	merkle::merkle_root(&[("status".into(), format!("{}\n", status.name()).into_bytes())])
}

#[test]
fn decisions() {
	let s = spec("x".into());
	assert_eq!(decide(&s, &observed(None, false, 0, 10), 10), ExecStatus::Completed);
	assert_eq!(decide(&s, &observed(None, false, 3, 10), 10), ExecStatus::ExceptionOccurred);
	assert_eq!(decide(&s, &observed(None, true, 0, 10), 10), ExecStatus::MemoryExceeded);
	assert_eq!(
		decide(&s, &observed(Some(Limit::WallClock), false, 137, 1), 0),
		ExecStatus::InstructionsExceeded
	);
	assert_eq!(
		decide(&s, &observed(Some(Limit::Storage), false, 137, 1), 0),
		ExecStatus::StorageExceeded
	);
	// Passed between two polls, then exited.
	assert_eq!(decide(&s, &observed(None, false, 0, 5_001), 0), ExecStatus::InstructionsExceeded);
	assert_eq!(
		decide(&s, &observed(None, false, 0, 1), (1 << 20) + 1),
		ExecStatus::StorageExceeded
	);
	// Memory first: an OOM kill explains whatever else happened.
	assert_eq!(
		decide(&s, &observed(Some(Limit::Storage), true, 137, 1), 0),
		ExecStatus::MemoryExceeded
	);
}

#[test]
fn a_slower_machine_stretches_the_wall_clock_by_the_compute_only() {
	let mut s = spec("x".into());
	s.wall_clock_limit = Duration::from_secs(10);
	assert!(!past_wall_clock(&s, Duration::from_secs(9), 5_000));
	assert!(past_wall_clock(&s, Duration::from_secs(10), 5_000));
	// 2 ms more per CPU ms: 5 s of compute earn 10 s more; idle time earns nothing.
	s.extra_ns_per_instruction = 2_000_000;
	assert!(!past_wall_clock(&s, Duration::from_secs(19), 5_000));
	assert!(past_wall_clock(&s, Duration::from_secs(20), 5_000));
	assert!(past_wall_clock(&s, Duration::from_secs(10), 0));
}

#[test]
fn job_names() {
	assert!(validate_job_name("rp-12").is_ok());
	assert!(validate_job_name("mediator-3-0").is_ok());
	let long = "x".repeat(65);
	for bad in ["", "..", "-x", "a/b", "a b", long.as_str()] {
		assert!(validate_job_name(bad).is_err(), "{bad:?}");
	}
}

#[test]
fn refusals() {
	let exec = "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/nonexistent\": stat /nonexistent: no such file or directory: unknown";
	assert_eq!(classify_refusal(400, exec), Refusal::Job);
	// The job's own command cannot make its failure look like the host's.
	let sneaky = exec.replace("/nonexistent", "/cgroup-seccomp");
	assert_eq!(classify_refusal(400, &sneaky), Refusal::Job);
	assert_eq!(classify_refusal(400, "No command specified"), Refusal::Job);
	assert_eq!(classify_refusal(500, "invalid --security-opt 1: \"bogus\""), Refusal::Hardening);
	assert_eq!(
		classify_refusal(500, "runc create failed: unable to apply cgroup configuration"),
		Refusal::Hardening
	);
	assert_eq!(classify_refusal(500, "something else broke"), Refusal::Host);
}

#[test]
fn hardening_is_asked_for_and_checked() {
	let wanted = host_config(&spec("x".into()), "/w/out", "j1");
	assert_eq!(wanted.network_mode.as_deref(), Some("none"));
	assert_eq!(wanted.readonly_rootfs, Some(true));
	assert_eq!(wanted.memory, wanted.memory_swap);
	assert_eq!(wanted.cgroup_parent.as_deref(), Some("/modicum/j1"));
	assert_eq!(wanted.nano_cpus, Some(1_000_000_000));
	assert!(verify_hardening(&wanted, &wanted).is_ok());
	let dropped = HostConfig { pids_limit: None, memory_swap: Some(-1), ..wanted.clone() };
	let error = verify_hardening(&wanted, &dropped).unwrap_err();
	assert!(error.contains("pids limit") && error.contains("no swap"), "{error}");
	let loosened = HostConfig {
		ulimits: None,
		mounts: None,
		log_config: None,
		security_opt: Some(vec!["no-new-privileges".into(), "seccomp=unconfined".into()]),
		..wanted.clone()
	};
	let error = verify_hardening(&wanted, &loosened).unwrap_err();
	for dropped in ["no core dumps", "only the /out and records mounts", "log size cap", "seccomp"]
	{
		assert!(error.contains(dropped), "{dropped}: {error}");
	}
}

#[test]
fn a_run_on_some_records_mounts_them_read_only_and_nothing_else() {
	let plain = host_config(&spec("x".into()), "/w/out", "j1");
	let records = JobSpec { records_dir: Some("/w/records-in".into()), ..spec("x".into()) };
	let wanted = host_config(&records, "/w/out", "j1");
	let mounts = wanted.mounts.clone().unwrap_or_default();
	let targets: Vec<_> =
		mounts.iter().map(|m| (m.target.clone(), m.source.clone(), m.read_only)).collect();
	assert_eq!(
		targets,
		vec![
			(Some("/out".into()), Some("/w/out".into()), Some(false)),
			(Some(RECORDS_IN.into()), Some("/w/records-in".into()), Some(true)),
		]
	);
	// An engine that kept only `/out`, or made the records writable, is caught.
	assert!(verify_hardening(&wanted, &plain).is_err());
	let mut writable = wanted.clone();
	if let Some(m) = writable.mounts.as_mut().and_then(|m| m.get_mut(1)) {
		m.read_only = Some(false);
	}
	assert!(verify_hardening(&wanted, &writable).is_err());
}

#[test]
fn an_engine_without_seccomp_or_a_job_without_a_process_limit_is_refused() {
	assert!(engine_confines(&["name=seccomp,profile=default".into()]).is_ok());
	assert!(engine_confines(&["name=seccomp,profile=unconfined".into()]).is_err());
	assert!(engine_confines(&["name=apparmor".into()]).is_err());
	assert!(validate_pids(1).is_ok());
	assert!(matches!(validate_pids(0), Err(ExecError::InvalidSpec(_))));
	assert!(matches!(validate_pids(-1), Err(ExecError::InvalidSpec(_))));
}

#[test]
fn empty_files_and_deep_trees_count_against_the_storage_limit() {
	let dir = tempfile::tempdir().unwrap();
	for i in 0..3_000 {
		fs::write(dir.path().join(format!("f{i}")), b"").unwrap();
	}
	// 3,000 empty files cost 1.5 MB of archive headers; counting stops past the limit.
	let counted = workdir::stored_bytes(dir.path(), 1 << 20);
	assert!(counted > 1 << 20 && counted < (1 << 20) + 2 * ENTRY_BYTES, "{counted}");
	let deep = tempfile::tempdir().unwrap();
	let mut path = deep.path().to_path_buf();
	for _ in 0..=MAX_OUTPUT_DEPTH {
		path.push("d");
	}
	fs::create_dir_all(&path).unwrap();
	assert_eq!(workdir::stored_bytes(deep.path(), u64::MAX - 1), u64::MAX);
	let long = tempfile::tempdir().unwrap();
	let name = "n".repeat(250);
	fs::create_dir_all(long.path().join(&name).join(&name).join(&name).join(&name).join(&name))
		.unwrap();
	assert_eq!(workdir::stored_bytes(long.path(), u64::MAX - 1), u64::MAX);
}

#[test]
fn busybox_rootfs_is_deterministic() {
	let Ok(first) = busybox_rootfs() else {
		eprintln!("skipping busybox_rootfs_is_deterministic: no busybox on this host");
		return;
	};
	assert_eq!(first, busybox_rootfs().unwrap());
	let mut archive = tar::Archive::new(first.as_slice());
	let names: Vec<String> = archive
		.entries()
		.unwrap()
		.map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
		.collect();
	assert!(names.contains(&"bin/busybox".to_string()) && names.contains(&"bin/sh".to_string()));
}

/// Runs `script` as job `name` with the default spec changed by `adjust`.
async fn run(
	docker: &Docker,
	name: &str,
	script: &str,
	adjust: impl FnOnce(&mut JobSpec),
) -> RunOutcome {
	let image = job_image(docker, name, script).await.unwrap();
	let mut spec = spec(image);
	adjust(&mut spec);
	let work = tempfile::tempdir().unwrap();
	let outcome = run_job(docker, &spec, work.path(), &job(name)).await.unwrap();
	assert!(!cgroup_exists(&cgroup_parent(&job(name))), "cgroup left behind");
	outcome
}

fn cgroup_exists(parent: &str) -> bool {
	cgroup::cpu_usage_ns(parent).is_ok()
}

#[tokio::test]
async fn completes_with_the_expected_root_twice() {
	let Some(docker) = docker_or_skip("completes_with_the_expected_root_twice").await else {
		return;
	};
	let script = "echo hello; echo oops >&2; echo data > /out/a.txt; echo scratch > /tmp/t";
	let image = job_image(&docker, "write", script).await.unwrap();
	let expected = merkle::merkle_root(&[
		("stdout".into(), b"hello\n".to_vec()),
		("stderr".into(), b"oops\n".to_vec()),
		("out/a.txt".into(), b"data\n".to_vec()),
		("exit_code".into(), b"0\n".to_vec()),
	]);
	for run in 0..2 {
		let work = tempfile::tempdir().unwrap();
		let name = job(&format!("write-{run}"));
		let outcome = run_job(&docker, &spec(image.clone()), work.path(), &name).await.unwrap();
		assert_eq!(outcome.status, ExecStatus::Completed, "{outcome:?}");
		assert_eq!(outcome.exit_code, Some(0));
		assert_eq!(outcome.bandwidth_used, 0);
		assert_eq!(outcome.result_root, expected, "run {run}");
		assert_eq!(fs::read(outcome.result_dir.join("out/a.txt")).unwrap(), b"data\n");
		assert!(!cgroup_exists(&cgroup_parent(&name)), "cgroup left behind");
	}
}

#[tokio::test]
async fn busy_loop_exceeds_instructions() {
	let Some(docker) = docker_or_skip("busy_loop_exceeds_instructions").await else { return };
	let outcome = run(&docker, "spin", "yes > /dev/null", |s| s.instruction_limit_ms = 300).await;
	assert_eq!(outcome.status, ExecStatus::InstructionsExceeded, "{outcome:?}");
	assert!(outcome.instruction_count >= 300, "{outcome:?}");
	assert_eq!(outcome.result_root, status_only(ExecStatus::InstructionsExceeded));
}

#[tokio::test]
async fn sleeping_past_the_wall_clock_exceeds_instructions() {
	let Some(docker) = docker_or_skip("sleeping_past_the_wall_clock").await else { return };
	let outcome =
		run(&docker, "sleep", "sleep 30", |s| s.wall_clock_limit = Duration::from_secs(1)).await;
	assert_eq!(outcome.status, ExecStatus::InstructionsExceeded, "{outcome:?}");
}

#[tokio::test]
async fn non_zero_exit_is_an_exception() {
	let Some(docker) = docker_or_skip("non_zero_exit_is_an_exception").await else { return };
	let outcome = run(&docker, "exit3", "echo partial > /out/p; exit 3", |_| {}).await;
	assert_eq!(outcome.status, ExecStatus::ExceptionOccurred, "{outcome:?}");
	assert_eq!(outcome.exit_code, Some(3));
	let expected = merkle::merkle_root(&[
		("stdout".into(), Vec::new()),
		("stderr".into(), Vec::new()),
		("out/p".into(), b"partial\n".to_vec()),
		("exit_code".into(), b"3\n".to_vec()),
	]);
	assert_eq!(outcome.result_root, expected);
}

#[tokio::test]
async fn root_filesystem_is_read_only() {
	let Some(docker) = docker_or_skip("root_filesystem_is_read_only").await else { return };
	let outcome = run(&docker, "rofs", "echo x > /x 2>/dev/null && exit 0; exit 9", |_| {}).await;
	assert_eq!(outcome.exit_code, Some(9), "{outcome:?}");
}

#[tokio::test]
async fn writing_past_the_storage_limit() {
	let Some(docker) = docker_or_skip("writing_past_the_storage_limit").await else { return };
	let outcome = run(&docker, "fill", "dd if=/dev/zero of=/out/big bs=1024 count=4096", |s| {
		s.storage_limit_bytes = 1 << 20
	})
	.await;
	assert_eq!(outcome.status, ExecStatus::StorageExceeded, "{outcome:?}");
	assert_eq!(outcome.result_root, status_only(ExecStatus::StorageExceeded));
}

#[tokio::test]
async fn memory_hog_exceeds_memory() {
	let Some(docker) = docker_or_skip("memory_hog_exceeds_memory").await else { return };
	// Doubling a shell string reaches the limit in a few steps; OOM kills the shell.
	let script = "s=xxxxxxxxxxxxxxxx; while true; do s=\"$s$s\"; done";
	let outcome = run(&docker, "hog", script, |s| s.memory_limit_bytes = 16 << 20).await;
	assert_eq!(outcome.status, ExecStatus::MemoryExceeded, "{outcome:?}");
}

#[tokio::test]
async fn image_without_a_command_is_a_description_error() {
	let Some(docker) = docker_or_skip("image_without_a_command").await else { return };
	let image = ensure_busybox_image(&docker).await.unwrap();
	let work = tempfile::tempdir().unwrap();
	let outcome = run_job(&docker, &spec(image), work.path(), &job("nocmd")).await.unwrap();
	assert_eq!(outcome.status, ExecStatus::JobDescriptionError, "{outcome:?}");
}

#[tokio::test]
async fn unreachable_directory() {
	let Some(docker) = docker_or_skip("unreachable_directory").await else { return };
	let image = format!("127.0.0.1:1/jobs/none@sha256:{}", "0".repeat(64));
	let work = tempfile::tempdir().unwrap();
	let outcome = run_job(&docker, &spec(image), work.path(), &job("unreach")).await.unwrap();
	assert_eq!(outcome.status, ExecStatus::DirectoryUnavailable, "{outcome:?}");
	assert_eq!(outcome.result_root, status_only(ExecStatus::DirectoryUnavailable));
}

#[tokio::test]
async fn an_image_volume_is_refused_as_a_description_error() {
	let Some(docker) = docker_or_skip("an_image_volume").await else { return };
	let image =
		job_image_with(&docker, "volume", "echo hi > /data/x", "VOLUME /data").await.unwrap();
	let work = tempfile::tempdir().unwrap();
	let outcome = run_job(&docker, &spec(image), work.path(), &job("volume")).await.unwrap();
	assert_eq!(outcome.status, ExecStatus::JobDescriptionError);
}

#[tokio::test]
async fn a_newline_flood_is_stopped_at_the_storage_limit() {
	let Some(docker) = docker_or_skip("a_newline_flood").await else { return };
	// 20 million empty lines: 20 MB of output, ~1.4 GB as json-file lines.
	let image = job_image(&docker, "newlines", "yes '' | head -n 20000000").await.unwrap();
	let work = tempfile::tempdir().unwrap();
	let started = std::time::Instant::now();
	let outcome = run_job(&docker, &spec(image), work.path(), &job("newlines")).await.unwrap();
	assert_eq!(outcome.status, ExecStatus::StorageExceeded);
	assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_job_without_a_process_limit_is_not_run() {
	let Some(docker) = docker_or_skip("no_process_limit").await else { return };
	let image = job_image(&docker, "nopids", "true").await.unwrap();
	let work = tempfile::tempdir().unwrap();
	let unlimited = JobSpec { pids_limit: 0, ..spec(image) };
	let run = run_job(&docker, &unlimited, work.path(), &job("nopids")).await;
	assert!(matches!(run, Err(ExecError::InvalidSpec(_))), "{run:?}");
}

#[tokio::test]
async fn orphans_of_one_daemon_are_removed_and_others_kept() {
	use bollard::query_parameters::{
		CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions,
	};
	let Some(docker) = docker_or_skip("orphans").await else { return };
	let image = ensure_busybox_image(&docker).await.unwrap();
	let tag = job("orphan");
	let create = |name: String| {
		let docker = docker.clone();
		let image = image.clone();
		async move {
			let body = bollard::models::ContainerCreateBody {
				image: Some(image),
				cmd: Some(vec!["/bin/sh".into()]),
				labels: Some(HashMap::from([(JOB_LABEL.to_string(), name.clone())])),
				..Default::default()
			};
			let options =
				CreateContainerOptions { name: Some(container_name(&name)), ..Default::default() };
			docker.create_container(Some(options), body).await.unwrap().id
		}
	};
	let mine = create(format!("rp-{tag}-1")).await;
	let theirs = create(format!("mediator-{tag}-1-0")).await;
	let removed = remove_orphans(&docker, &format!("rp-{tag}-")).await.unwrap();
	assert_eq!(removed, 1);
	assert!(
		docker.inspect_container(&mine, None::<InspectContainerOptions>).await.is_err(),
		"the orphan is gone"
	);
	assert!(
		docker.inspect_container(&theirs, None::<InspectContainerOptions>).await.is_ok(),
		"another daemon's job stays"
	);
	let remove = RemoveContainerOptions { force: true, ..Default::default() };
	docker.remove_container(&theirs, Some(remove)).await.unwrap();
}

#[tokio::test]
async fn a_job_writing_to_a_deleted_file_is_stopped_by_its_filesystem() {
	let Some(docker) = docker_or_skip("deleted_file_writer").await else { return };
	// 64 MiB into a file nobody can see any more, with a 1 MiB limit.
	let script = "exec 3>/out/hidden; rm /out/hidden; dd if=/dev/zero bs=65536 count=1024 >&3";
	let work = tempfile::tempdir().unwrap();
	let image = job_image(&docker, "deleted", script).await.unwrap();
	let outcome = run_job(&docker, &spec(image), work.path(), &job("deleted")).await.unwrap();
	// The write failed at the cap, and `dd` said so and exited non-zero: the job's own
	// outcome, the same on every machine.
	assert_eq!(outcome.status, ExecStatus::ExceptionOccurred, "{outcome:?}");
	let stderr = fs::read_to_string(outcome.result_dir.join("stderr")).unwrap();
	assert!(stderr.contains("No space left on device"), "{stderr}");
	assert_eq!(unmount_stale_outputs(work.path()), 0, "/out was unmounted");
	assert!(!work.path().join("out").exists());
}

#[tokio::test]
async fn a_sparse_file_counts_at_its_apparent_size() {
	let Some(docker) = docker_or_skip("sparse_file").await else { return };
	// One byte at 1 GB: no pages on tmpfs, but 1 GB in an archive.
	let script = "dd if=/dev/zero of=/out/sparse bs=1 count=1 seek=1000000000";
	let outcome = run(&docker, "sparse", script, |_| {}).await;
	assert_eq!(outcome.status, ExecStatus::StorageExceeded, "{outcome:?}");
	assert_eq!(outcome.result_root, status_only(ExecStatus::StorageExceeded));
}

#[tokio::test]
async fn a_million_empty_files_stop_at_the_inode_cap() {
	let Some(docker) = docker_or_skip("empty_files").await else { return };
	// With a 1 MiB limit /out has 2,050 inodes; the loop ends at the first refusal.
	let script = "i=0; while : > /out/f$i; do i=$((i+1)); done 2>/dev/null; exit 0";
	let started = std::time::Instant::now();
	let outcome = run(&docker, "empties", script, |_| {}).await;
	assert_eq!(outcome.status, ExecStatus::StorageExceeded, "{outcome:?}");
	assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn outputs_within_the_limit_are_kept_without_links() {
	let Some(docker) = docker_or_skip("outputs_kept").await else { return };
	let script = "mkdir -p /out/a/b && echo deep > /out/a/b/c && ln -s /etc/passwd /out/link \
		&& mkfifo /out/pipe && echo top > /out/t";
	let image = job_image(&docker, "kept", script).await.unwrap();
	let work = tempfile::tempdir().unwrap();
	let outcome = run_job(&docker, &spec(image), work.path(), &job("kept")).await.unwrap();
	assert_eq!(outcome.status, ExecStatus::Completed, "{outcome:?}");
	let out = outcome.result_dir.join("out");
	assert_eq!(fs::read(out.join("a/b/c")).unwrap(), b"deep\n");
	assert_eq!(fs::read(out.join("t")).unwrap(), b"top\n");
	assert!(fs::symlink_metadata(out.join("link")).is_err(), "links are left out");
	assert!(fs::symlink_metadata(out.join("pipe")).is_err(), "fifos are left out");
}
