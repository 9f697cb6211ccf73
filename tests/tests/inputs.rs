//! Jobs that carry data, end to end with real Docker: a job reads a 50 MB input
//! directory and a parameter and writes a result that depends on both; a rejection
//! sends the mediator to re-run it on the same input (so it upholds the RP); an input
//! blob the directory serves tampered is `DirectoryUnavailable`; one it no longer has
//! is `JobNotFound`. Neither costs the JC anything.

use anyhow::{ensure, Context, Result};
use modicum_client::{
	chain::JobTerms,
	events::MarketEvents,
	keys, reference,
	types::{Architecture, FaultyParty, ResultStatus, Verdict},
	units::PLANCK_PER_MDC as MDC,
	Chain, MarketEvent,
};
use modicum_offchain::job::package::{self, Additions};
use modicum_tests::{docker_market, modicum_json, post_job, push_as_alice};
use sha2::{Digest, Sha256};
use std::{collections::BTreeMap, path::Path, time::Duration};

/// `files` files of `each` pseudo-random bytes (incompressible, so the layer is as
/// large as the data) under `dir`; the sha256 of their contents in name order.
fn write_data(dir: &Path, files: usize, each: usize, seed: u64) -> Result<String> {
	std::fs::create_dir_all(dir)?;
	let mut state = seed | 1;
	let mut all = Sha256::new();
	for i in 0..files {
		let mut bytes = Vec::with_capacity(each);
		while bytes.len() < each {
			// xorshift64: fast, and gzip finds nothing to squeeze.
			state ^= state << 13;
			state ^= state >> 7;
			state ^= state << 17;
			bytes.extend_from_slice(&state.to_le_bytes());
		}
		bytes.truncate(each);
		all.update(&bytes);
		std::fs::write(dir.join(format!("part-{i:02}")), bytes)?;
	}
	Ok(hex::encode(all.finalize()))
}

/// The job's command: a digest of the input and the parameter, both in the result.
const JOB: &str = "cat /in/data/* | sha256sum | cut -d' ' -f1 > /out/digest; \
	echo \"$1 x $SCALE\" > /out/parameter; wc -c < /in/data/part-00 > /out/size";

#[tokio::test(flavor = "multi_thread")]
async fn a_job_reads_its_input_and_parameter_and_mediation_sees_the_same() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(market) = docker_market(work).await? else { return Ok(()) };
	let url = market.url.clone();
	modicum_json(&url, &["jc", "register"])?;
	let chain = Chain::connect(&url).await?;
	why_not_matched(&url, &chain).await?;

	// 50 MB in 5 files, a positional parameter and an environment variable.
	let data = work.join("data");
	let digest = write_data(&data, 5, 10 << 20, 7)?;
	let out = work.join("result");
	let input = format!("{}:/in/data", data.display());
	let report = modicum_json(
		&url,
		&[
			"jc",
			"submit",
			"--image",
			"modicum/base:1",
			"--directory",
			"//Dave",
			"--mediator",
			"//Charlie",
			"--input",
			&input,
			"--arg",
			"/bin/sh",
			"--arg",
			"-c",
			"--arg",
			JOB,
			"--arg",
			"job",
			"--arg",
			"seven",
			"--env",
			"SCALE=3",
			"--bandwidth",
			"128MiB",
			"--instructions",
			"20000",
			"--deadline-secs",
			"300",
			"--wait",
			"--out",
			&out.display().to_string(),
		],
	)
	.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?;
	assert_eq!(report["result"]["status"], "completed", "{report}");
	assert_eq!(report["input_bytes"], 50 << 20, "{report}");
	assert!(report["download_bytes"].as_u64().unwrap_or(0) > 50 << 20, "{report}");
	// The RP paid for downloading the input: it is part of the bandwidth used.
	assert!(report["result"]["bandwidth_used"].as_u64().unwrap_or(0) > 50 << 20, "{report}");
	let read = |name: &str| std::fs::read_to_string(out.join("out").join(name));
	assert_eq!(read("digest")?.trim(), digest);
	assert_eq!(read("parameter")?, "seven x 3\n");
	assert_eq!(read("size")?.trim(), (10 << 20).to_string());

	// A rejection: the mediator pulls the same job image, inputs and all, and its
	// n runs agree with the RP's, so the JC is at fault.
	let disputed = report["match_id"].as_u64().context("no match id")?;
	let mut events = MarketEvents::subscribe(&chain).await?;
	modicum_json(&url, &["jc", "reject", &disputed.to_string(), "--reason", "wrong-results"])?;
	let verdict = wait_for(&mut events, Duration::from_secs(300), |e| match e {
		MarketEvent::MediationResultPosted { match_id, verdict, faulty, .. }
			if *match_id == disputed =>
		{
			Some((*verdict, *faulty))
		},
		_ => None,
	})
	.await
	.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?;
	assert_eq!(verdict, (Verdict::CorrectResults, FaultyParty::JobCreator));

	// Tampered and missing inputs: built and pushed here, then the directory's copy of
	// the input layer is changed or removed before the offer is posted.
	let storage = work.join("directory/storage");
	for (seed, damage, expected) in [
		(11, Damage::Tamper, ResultStatus::DirectoryUnavailable),
		(12, Damage::Remove, ResultStatus::JobNotFound),
	] {
		let data = work.join(format!("data-{seed}"));
		write_data(&data, 1, 1 << 20, seed)?;
		let docker = modicum_offchain::docker::connect().await?;
		let additions = Additions {
			inputs: vec![format!("{}:/in/data", data.display()).parse()?],
			args: Some(vec!["/bin/sh".into(), "-c".into(), JOB.into(), "job".into(), "x".into()]),
			env: BTreeMap::new(),
		};
		let built = package::build_job_image(&docker, "modicum/base:1", &additions).await?;
		let repository = format!("jobs/damaged-{seed}");
		let pushed = push_as_alice(&market.registry, &built.image, &repository).await?;
		let _ = docker
			.remove_image(&built.image, None::<bollard::query_parameters::RemoveImageOptions>, None)
			.await;
		let _ = docker
			.remove_image(
				&format!("{}/{repository}:latest", market.registry),
				None::<bollard::query_parameters::RemoveImageOptions>,
				None,
			)
			.await;
		let layer = last_layer(&market.registry, &repository, &pushed.digest)?;
		damage.apply(&storage, &layer)?;

		let now = chain.now_ms().await?;
		let terms = JobTerms {
			provider_record: None,
			instruction_limit: 20_000,
			bandwidth_limit: 64 << 20,
			instruction_max_price: 2_000_000,
			bandwidth_max_price: 1,
			completion_deadline: now + 600_000,
			match_incentive: MDC / 1000,
			first_layer_hash: pushed.first_layer,
			ram_limit: 128 << 20,
			local_storage_limit: 32 << 20,
			directory: keys::parse_account("//Dave")?,
			job_reference: reference(&format!("{repository}@{}", pushed.digest))?,
			job_hash: pushed.job_hash,
			arch: Architecture::Amd64,
		};
		let alice = keys::from_uri("//Alice")?;
		let charlie = keys::parse_account("//Charlie")?;
		let mut events = MarketEvents::subscribe(&chain).await?;
		let offer = post_job(&chain, &alice, terms, charlie, 600_000).await?;
		let mut matched = None;
		let result = wait_for(&mut events, Duration::from_secs(180), |e| match e {
			MarketEvent::Matched { match_id, job_offer_id, .. } if *job_offer_id == offer => {
				matched = Some(*match_id);
				None
			},
			MarketEvent::ResultPosted { match_id, result, .. } if Some(*match_id) == matched => {
				Some(result.clone())
			},
			_ => None,
		})
		.await
		.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?;
		assert_eq!(result.status, expected, "{damage:?}");
		// Nothing ran and nothing was downloaded: the JC owes nothing for it.
		assert_eq!((result.instruction_count, result.bandwidth_used), (0, 0), "{damage:?}");
	}
	market.stop()
}

/// `--dry-run` names, for the RP's offer, the first rule that rules a job out with both
/// sides' values, or the mediator the solver would pick; it changes nothing on chain.
/// A posted offer nobody can take is explained the same way, and listed with what it
/// waits for.
async fn why_not_matched(url: &str, chain: &Chain) -> Result<()> {
	let base = ["jc", "submit", "--image", "modicum/base:1", "--directory", "//Dave"];
	let dry_run = |extra: &[&str]| {
		let args: Vec<&str> = base.iter().chain(extra).copied().collect();
		modicum_json(url, &args)
	};
	// The RP posts its resource offer once registered; wait for it.
	let mut fits = dry_run(&["--mediator", "//Charlie", "--dry-run"])?;
	for _ in 0..60 {
		if fits["offers"].as_array().is_some_and(|o| !o.is_empty()) {
			break;
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
		fits = dry_run(&["--mediator", "//Charlie", "--dry-run"])?;
	}
	let charlie = keys::parse_account("//Charlie")?.to_string();
	let bob = keys::parse_account("//Bob")?.to_string();
	assert_eq!(fits["offers"][0]["fits"], true, "{fits}");
	assert_eq!(fits["offers"][0]["provider"], bob.as_str(), "{fits}");
	assert_eq!(fits["offers"][0]["mediator"], charlie.as_str(), "{fits}");
	assert!(fits["deposit"]["deposit"].as_u64().unwrap_or(0) > 0, "{fits}");

	let too_big = dry_run(&["--mediator", "//Charlie", "--ram", "512MiB", "--dry-run"])?;
	assert_eq!(too_big["offers"][0]["rule"], 2, "{too_big}");
	assert_eq!(
		too_big["offers"][0]["explanation"], "rule 2: RP memory cap 256 MiB < job RAM 512 MiB",
		"{too_big}"
	);
	// A dry run trusts nobody and posts nothing.
	let alice = keys::parse_account("//Alice")?;
	assert!(chain.trusted_mediators(&alice).await?.is_empty());
	assert!(chain.job_offers().await?.is_empty());

	// Posted for real, it waits: `explain` says why, `list` says what it waits for.
	let posted = dry_run(&["--mediator", "//Charlie", "--ram", "512MiB"])?;
	let offer = posted["offer_id"].as_u64().context("no offer id")?.to_string();
	let explained = modicum_json(url, &["jc", "explain", &offer])?;
	assert_eq!(explained["offers"][0]["rule"], 2, "{explained}");
	let listed = modicum_json(url, &["jc", "list"])?;
	assert_eq!(listed["offers"][0]["image"], "jobs/modicum/base", "{listed}");
	assert!(listed["offers"][0]["next"].as_str().unwrap_or("").contains("jc explain"), "{listed}");
	modicum_json(url, &["jc", "cancel", &offer])?;
	assert_eq!(chain.trusted_mediators(&alice).await?, vec![keys::parse_account("//Charlie")?]);
	Ok(())
}

/// What is done to the directory's copy of the input layer.
#[derive(Clone, Copy, Debug)]
enum Damage {
	/// Other bytes of the same size.
	Tamper,
	/// Gone.
	Remove,
}

impl Damage {
	fn apply(self, storage: &Path, digest: &str) -> Result<()> {
		let hex = digest.trim_start_matches("sha256:");
		let data =
			storage.join(format!("docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]));
		ensure!(data.is_file(), "no blob at {}", data.display());
		match self {
			Damage::Tamper => {
				let mut bytes = std::fs::read(&data)?;
				for byte in bytes.iter_mut().skip(100).take(64) {
					*byte ^= 0xff;
				}
				std::fs::write(&data, bytes)?;
			},
			Damage::Remove => std::fs::remove_dir_all(data.parent().context("blob dir")?)?,
		}
		Ok(())
	}
}

/// The digest of the last layer of `repository@digest`: the inputs' layer.
fn last_layer(registry: &str, repository: &str, digest: &str) -> Result<String> {
	let deadline = std::time::Instant::now() + Duration::from_secs(30);
	let size = modicum_offchain::directory::manifest_size(registry, repository, digest, deadline)?;
	Ok(size.layers.last().context("no layers")?.digest.clone())
}

async fn wait_for<T>(
	events: &mut MarketEvents,
	within: Duration,
	mut wanted: impl FnMut(&MarketEvent) -> Option<T>,
) -> Result<T> {
	let deadline = tokio::time::Instant::now() + within;
	loop {
		let block = tokio::time::timeout_at(deadline, events.next())
			.await
			.context("timed out waiting for market events")?
			.context("event subscription ended")??;
		for event in block.events {
			if let Some(found) = wanted(&event) {
				return Ok(found);
			}
		}
	}
}
