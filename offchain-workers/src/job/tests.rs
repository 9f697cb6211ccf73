use super::*;
use crate::{
	directory::{push_image, testing::start_test_registry},
	executor::test_support::{docker_or_skip, job_image},
};

#[test]
fn status_files_are_spelled_as_the_executor_spells_them() {
	use ExecStatus::*;
	for status in [
		Completed,
		JobNotFound,
		DirectoryUnavailable,
		JobDescriptionError,
		MemoryExceeded,
		StorageExceeded,
		InstructionsExceeded,
		BandwidthExceeded,
		ExceptionOccurred,
	] {
		assert_eq!(status_name(chain_status(status)), status.name());
	}
}

#[test]
fn job_reference_must_name_the_job_hash() {
	let hash = [0xab; 32];
	let good = format!("jobs/x@sha256:{}", hex::encode(hash));
	assert!(image_matches_hash(&good, &hash));
	assert!(!image_matches_hash("jobs/x:latest", &hash));
	assert!(!image_matches_hash(&good, &[0; 32]));
}

#[test]
fn manifest_failures_are_the_jobs_or_the_directorys() {
	let missing = DirectoryError::BlobNotFound { repository: "r".into(), digest: "d".into() };
	assert_eq!(manifest_failure(&missing), ResultStatus::JobNotFound);
	let index = DirectoryError::BadResponse { url: "u".into(), reason: "an image index".into() };
	assert_eq!(manifest_failure(&index), ResultStatus::JobDescriptionError);
	let down = DirectoryError::Unreachable { url: "u".into(), reason: "refused".into() };
	assert_eq!(manifest_failure(&down), ResultStatus::DirectoryUnavailable);
}

#[test]
fn a_status_decided_anywhere_has_the_same_root() {
	let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
	let one = status_only(a.path(), ResultStatus::Declined, 0).unwrap();
	let two = status_only(b.path(), ResultStatus::Declined, 0).unwrap();
	assert_eq!(one.result_root, two.result_root);
	assert_eq!(std::fs::read_to_string(one.result_dir.join("status")).unwrap(), "Declined\n");
	let other = status_only(b.path(), ResultStatus::JobNotFound, 0).unwrap();
	assert_ne!(other.result_root, one.result_root);
}

/// A registry with one pushed test job, and the terms of a match for it.
struct Fixture {
	_data: tempfile::TempDir,
	_registry: directory::RegistryProcess,
	runner: Runner,
	terms: JobTerms,
}

async fn fixture(test: &str, script: &str) -> Option<Fixture> {
	let (data, registry) = start_test_registry()?;
	let docker = docker_or_skip(test).await?;
	let local = job_image(&docker, test, script).await.unwrap();
	Some(pushed(data, registry, docker, &local, test).await)
}

/// `local` pushed to the test registry, and the terms of a match for it.
async fn pushed(
	data: tempfile::TempDir,
	registry: directory::RegistryProcess,
	docker: bollard::Docker,
	local: &str,
	test: &str,
) -> Fixture {
	let host = registry.host_port();
	let repository = format!("jobs/{}", test.replace('_', "-"));
	let pushed =
		push_image(&docker, local, &host, &repository, &crate::directory::testing::writer(&host))
			.await
			.unwrap();
	let terms = JobTerms {
		reference: format!("{repository}@{}", pushed.digest),
		job_hash: pushed.job_hash,
		first_layer: pushed.first_layer,
		memory_limit_bytes: 64 << 20,
		instruction_limit_ms: 2_000,
		storage_limit_bytes: 1 << 20,
		bandwidth_limit_bytes: 64 << 20,
		rp_ns_per_instruction: 1_000_000,
	};
	let runner = Runner {
		docker,
		registry: host,
		cpus: 1.0,
		pids_limit: 32,
		own_ns_per_instruction: 1_000_000,
		phases: None,
	};
	Fixture { _data: data, _registry: registry, runner, terms }
}

fn provider(seconds: u64) -> Schedule {
	Schedule::Provider {
		deadline: Instant::now() + Duration::from_secs(seconds),
		reserve: Duration::from_secs(1),
	}
}

fn mediator() -> Schedule {
	Schedule::Mediator { deadline: Instant::now() + Duration::from_secs(120) }
}

async fn remove_local(docker: &bollard::Docker, image: &str) {
	let options =
		bollard::query_parameters::RemoveImageOptions { force: true, ..Default::default() };
	let _ = docker.remove_image(image, Some(options), None).await;
}

#[tokio::test]
async fn rp_and_mediator_agree_whether_the_image_is_cached_or_not() {
	let Some(f) = fixture("pipeline_agree", "echo agreed > /out/a; echo hi").await else { return };
	let image = format!("{}/{}", f.runner.registry, f.terms.reference);
	remove_local(&f.runner.docker, &image).await;
	let work = tempfile::tempdir().unwrap();
	let rp = run(&f.runner, &f.terms, &work.path().join("rp"), "pipeline-agree-rp", provider(60))
		.await
		.unwrap();
	assert_eq!(rp.status, ResultStatus::Completed);
	assert!(rp.bandwidth_used > 0);
	// The mediator has the image cached now, and is three times slower.
	let slow = Runner { own_ns_per_instruction: 3_000_000, ..f.runner.clone() };
	let m =
		run(&slow, &f.terms, &work.path().join("m"), "pipeline-agree-m", mediator()).await.unwrap();
	assert_eq!((m.status, m.result_root), (rp.status, rp.result_root));
	assert_eq!(m.bandwidth_used, rp.bandwidth_used, "bandwidth must not depend on a cache");
}

#[tokio::test]
async fn a_reference_or_base_layer_the_jc_falsified_is_a_description_error_for_both() {
	let Some(f) = fixture("pipeline_falsified", "echo x > /out/x").await else { return };
	let work = tempfile::tempdir().unwrap();
	let wrong_hash = JobTerms { job_hash: [9; 32], ..f.terms.clone() };
	let wrong_layer = JobTerms { first_layer: [9; 32], ..f.terms.clone() };
	for (name, terms) in [("hash", wrong_hash), ("layer", wrong_layer)] {
		let rp =
			run(&f.runner, &terms, &work.path().join(format!("rp-{name}")), "pf-rp", provider(60))
				.await
				.unwrap();
		let m = run(&f.runner, &terms, &work.path().join(format!("m-{name}")), "pf-m", mediator())
			.await
			.unwrap();
		assert_eq!(rp.status, ResultStatus::JobDescriptionError, "{name}");
		assert_eq!(
			(m.status, m.result_root, m.bandwidth_used),
			(rp.status, rp.result_root, rp.bandwidth_used)
		);
	}
}

#[tokio::test]
async fn a_sleeping_job_is_stopped_at_the_same_point_by_the_rp_and_a_slower_mediator() {
	// The budget is 1 s of instructions at the RP's speed plus 2 s of start-up: a job
	// sleeping 6 s passes it everywhere, and the mediator's slowness does not stretch
	// time the job spends idle.
	let Some(mut f) = fixture("pipeline_sleeper", "sleep 6; echo woke > /out/w").await else {
		return;
	};
	f.terms.instruction_limit_ms = 1_000;
	let work = tempfile::tempdir().unwrap();
	let rp = run(&f.runner, &f.terms, &work.path().join("rp"), "sleeper-rp", provider(60))
		.await
		.unwrap();
	let slow = Runner { own_ns_per_instruction: 2_000_000, ..f.runner.clone() };
	let m = run(&slow, &f.terms, &work.path().join("m"), "sleeper-m", mediator()).await.unwrap();
	assert_eq!(rp.status, ResultStatus::InstructionsExceeded);
	assert_eq!((m.status, m.result_root), (rp.status, rp.result_root));
}

#[tokio::test]
async fn an_rp_that_cannot_give_the_whole_budget_declines_instead_of_cutting_it_short() {
	let Some(mut f) = fixture("pipeline_late", "echo late").await else { return };
	f.terms.instruction_limit_ms = 30_000;
	let work = tempfile::tempdir().unwrap();
	let late = run(&f.runner, &f.terms, work.path(), "pipeline-late", provider(10)).await.unwrap();
	assert_eq!(
		(late.status, late.instruction_count, late.bandwidth_used),
		(ResultStatus::Declined, 0, 0)
	);
}

#[tokio::test]
async fn a_missing_image_and_a_dead_directory_are_told_apart() {
	let Some(f) = fixture("pipeline_missing", "true").await else { return };
	let work = tempfile::tempdir().unwrap();
	let hash = [0x5a; 32];
	let missing = JobTerms {
		reference: format!("jobs/nothing@sha256:{}", hex::encode(hash)),
		job_hash: hash,
		..f.terms.clone()
	};
	let outcome =
		run(&f.runner, &missing, work.path(), "pipeline-missing", provider(60)).await.unwrap();
	assert_eq!(outcome.status, ResultStatus::JobNotFound);
	let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
	let dead = Runner { registry: format!("127.0.0.1:{port}"), ..f.runner.clone() };
	let outcome = run(&dead, &f.terms, work.path(), "pipeline-dead", provider(60)).await.unwrap();
	assert_eq!(outcome.status, ResultStatus::DirectoryUnavailable);
	let small = JobTerms { bandwidth_limit_bytes: 10, ..f.terms.clone() };
	let outcome =
		run(&f.runner, &small, work.path(), "pipeline-small", provider(60)).await.unwrap();
	assert_eq!((outcome.status, outcome.bandwidth_used), (ResultStatus::BandwidthExceeded, 0));
}

/// A directory that accepts connections and never answers.
fn silent_directory() -> (std::net::TcpListener, String) {
	let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
	let address = listener.local_addr().unwrap().to_string();
	(listener, address)
}

#[tokio::test]
async fn a_silent_directory_ends_the_run_and_the_upload_by_the_deadline() {
	let Some(f) = fixture("pipeline_silent", "true").await else { return };
	let (_held, silent) = silent_directory();
	let slow = Runner { registry: silent.clone(), ..f.runner.clone() };
	let work = tempfile::tempdir().unwrap();
	let started = Instant::now();
	let outcome = run(&slow, &f.terms, work.path(), "pipeline-silent", provider(4)).await.unwrap();
	assert_eq!(outcome.status, ResultStatus::DirectoryUnavailable);
	assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
	let started = Instant::now();
	let deadline = Instant::now() + Duration::from_secs(2);
	let upload = publish(
		&silent,
		1,
		&outcome.result_dir,
		deadline,
		&crate::directory::testing::writer(&silent),
	)
	.await;
	assert!(matches!(upload, Err(PublishError::Late)), "{upload:?}");
	assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

/// [`fixture`] for a record job: `script`'s image with `records` (name, content) added
/// at `/in/records` the way a JC's job file adds them.
async fn record_fixture(test: &str, script: &str, records: &[(&str, &str)]) -> Option<Fixture> {
	let (data, registry) = start_test_registry()?;
	let docker = docker_or_skip(test).await?;
	let base = job_image(&docker, test, script).await.unwrap();
	let inputs = tempfile::tempdir().unwrap();
	for (name, content) in records {
		std::fs::write(inputs.path().join(name), content).unwrap();
	}
	let additions = package::Additions {
		inputs: vec![package::Input {
			source: inputs.path().to_path_buf(),
			target: crate::executor::RECORDS_IN.into(),
		}],
		args: None,
		env: Default::default(),
	};
	let built = package::build_job_image(&docker, &base, &additions).await.unwrap();
	Some(pushed(data, registry, docker, &built.image, test).await)
}

const UPPERCASE_EACH_RECORD: &str = "mkdir -p /out/records; \
	for f in /in/records/*; do n=${f##*/}; tr a-z A-Z < $f > /out/records/$n; done";

#[tokio::test]
async fn a_run_on_some_records_sees_only_them_and_computes_them_as_the_whole_run_does() {
	use records::{run_records, RecordRun, RECORDS_OUT};
	let records = [("a", "ant"), ("b", "bee"), ("c", "cat")];
	let Some(f) = record_fixture("records_subset", UPPERCASE_EACH_RECORD, &records).await else {
		return;
	};
	let work = tempfile::tempdir().unwrap();
	let whole = run(&f.runner, &f.terms, &work.path().join("whole"), "records-whole", provider(60))
		.await
		.unwrap();
	assert_eq!(whole.status, ResultStatus::Completed);
	let out = whole.result_dir.join(RECORDS_OUT);
	assert_eq!(std::fs::read_to_string(out.join("b")).unwrap(), "BEE");
	assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);

	let names = vec!["b".to_string()];
	let some = run_records(
		&f.runner,
		&f.terms,
		&work.path().join("some"),
		"records-some",
		mediator(),
		&names,
	)
	.await
	.unwrap();
	let RecordRun::Ran { outcome, outputs } = some else { panic!("{some:?}") };
	assert_eq!(outcome.status, ResultStatus::Completed);
	assert_eq!(outputs, vec![("b".to_string(), Some(b"BEE".to_vec()))]);
	let out = outcome.result_dir.join(RECORDS_OUT);
	assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1, "only the asked record ran");

	for missing in ["zz", "../etc", "."] {
		let names = vec!["a".to_string(), missing.to_string()];
		let none = run_records(
			&f.runner,
			&f.terms,
			&work.path().join("none"),
			"records-none",
			mediator(),
			&names,
		)
		.await
		.unwrap();
		assert_eq!(none, RecordRun::NotARecord(missing.to_string()));
	}
}
