//! `jc mapreduce` end to end, with real Docker:
//! - 10,000 records squared in 4 shards on two RP daemons, each shard spot-checked
//!   (1 %), downloaded and accepted, then a reduce job sums the squares;
//! - the same beside an RP (this test, driving //Ferdie by hand) that runs every job it
//!   gets through the one pipeline and then corrupts 5 % of the record outputs: the
//!   spot checks catch it, the mediator fines it, and its shards are posted again.

use anyhow::{bail, Context, Result};
use modicum_client::{
	calls::Market, events::MarketEvents, keys, reference, types::ResultStatus, Chain, Keypair,
	MarketEvent,
};
use modicum_offchain::{directory, job, merkle};
use modicum_tests::{docker_market_with, hand_driven_provider, modicum_json};
use std::{
	path::Path,
	time::{Duration, Instant},
};

/// The map: squares each record. The reduce: sums every output. Both only use the
/// shell's builtins, so 2,500 records take no process each.
fn write_job_files(dir: &Path) -> Result<()> {
	let job = |args: &str| {
		format!(
			"image = \"modicum/base:1\"\ndirectory = \"//Dave\"\nmediators = [\"//Charlie\"]\n\
			 args = [\"/bin/sh\", \"-c\", {args:?}]\ninstructions = 60000\ndeadline_secs = 300\n"
		)
	};
	let map = "mkdir -p /out/records; for f in /in/records/*; do read n < $f; \
	           echo $((n * n)) > /out/records/${f##*/}; done";
	let reduce = "s=0; for f in /in/records/*; do read n < $f; s=$((s + n)); done; \
	              echo $s > /out/sum";
	std::fs::write(dir.join("square.toml"), job(map))?;
	std::fs::write(dir.join("sum.toml"), job(reduce))?;
	let numbers: String = (1..=10_000u64).map(|n| format!("{n}\n")).collect();
	std::fs::write(dir.join("numbers.txt"), numbers)?;
	std::fs::write(
		dir.join("squares.toml"),
		"input = \"numbers.txt\"\nmap = \"square.toml\"\nreduce = \"sum.toml\"\nshards = 4\n\
		 spot_check = 0.01\nout = \"result\"\n",
	)?;
	Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_records_in_four_checked_shards_reduce_to_the_right_sum() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(market) = docker_market_with(work, &["//Bob", "//Ferdie"]).await? else {
		return Ok(());
	};
	let url = market.url.clone();
	modicum_json(&url, &["jc", "register"])?;
	write_job_files(work)?;
	let file = work.join("squares.toml").display().to_string();
	let report = modicum_json(&url, &["jc", "mapreduce", &file])
		.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?;

	assert_eq!(report["succeeded"], true, "{report}");
	assert_eq!(report["records"], 10_000);
	let shards = report["shards"].as_array().context("no shards")?;
	assert_eq!(shards.len(), 4, "{report}");
	for shard in shards {
		assert_eq!(shard["records"], 2_500, "{shard}");
		assert_eq!(shard["state"], "done", "{shard}");
		// Honest RPs: the first attempt's spot check agreed and it was accepted.
		assert_eq!(shard["attempts"].as_array().map(Vec::len), Some(1), "{shard}");
		assert_eq!(shard["attempts"][0]["outcome"], "accepted", "{shard}");
	}
	assert_eq!(report["reduce"]["state"], "done", "{report}");
	let sum = std::fs::read_to_string(work.join("result/out/sum"))?;
	// Σ n² for n = 1 … 10,000.
	assert_eq!(sum.trim(), "333383335000");

	// Every shard was accepted and paid: no match is left open.
	let open = modicum_json(&url, &["jc", "list"])?;
	assert_eq!(open["matches"].as_array().map(Vec::len), Some(0), "{open}");
	market.stop()
}

/// Runs a job matched to `rp` through the pipeline every RP uses, then changes every
/// 20th record output (5 %) before publishing it with a root over the changed files:
/// a result that is consistent with itself, but wrong. Whether it had records to corrupt.
async fn run_and_corrupt(
	chain: &Chain,
	rp: &Keypair,
	registry: &str,
	work: &Path,
	match_id: u64,
) -> Result<bool> {
	let info = chain.match_info(match_id).await?.context("the match is open")?;
	let me = keys::account_of(rp);
	let speed = chain.resource_provider(&me).await?.context("registered")?.time_per_instruction_ns;
	let runner = job::Runner {
		docker: modicum_offchain::docker::connect().await?,
		registry: registry.to_string(),
		cpus: 1.0,
		pids_limit: 256,
		own_ns_per_instruction: speed,
		phases: None,
	};
	let terms = job::JobTerms::of_match(&info, speed);
	let deadline = Instant::now() + Duration::from_secs(240);
	let dir = work.join(format!("corrupting-{match_id}"));
	std::fs::create_dir_all(&dir)?;
	let name = format!("corrupting-{match_id}");
	let outcome =
		job::run(&runner, &terms, &dir, &name, job::Schedule::Mediator { deadline }).await?;
	if outcome.status != ResultStatus::Completed {
		bail!("the job ended in {} at the corrupting RP", outcome.status);
	}
	// Only map shards have records; the reduce job is posted as it ran.
	let records = outcome.result_dir.join("out/records");
	let corrupting = records.is_dir();
	if corrupting {
		let mut names: Vec<_> = std::fs::read_dir(&records)?
			.map(|e| e.map(|e| e.file_name()))
			.collect::<Result<_, _>>()?;
		names.sort();
		for name in names.iter().step_by(20) {
			std::fs::write(records.join(name), "0\n")?;
		}
	}
	let root = merkle::root_of_dir(&outcome.result_dir)?;
	let credential = directory::WriteCredential::new(rp, registry);
	let published =
		job::publish(registry, match_id, &outcome.result_dir, deadline, &credential).await?;
	Market::new(chain, rp)
		.post_result(
			match_id,
			ResultStatus::Completed,
			reference(&published)?,
			root,
			outcome.instruction_count,
			outcome.bandwidth_used,
		)
		.await?;
	Ok(corrupting)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_corrupting_five_percent_of_records_is_caught_and_fined() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(market) = docker_market_with(work, &["//Bob"]).await? else { return Ok(()) };
	let url = market.url.clone();
	let chain = Chain::connect(&url).await?;
	modicum_json(&url, &["jc", "register"])?;
	write_job_files(work)?;
	let ferdie = hand_driven_provider(&chain, "//Ferdie").await?;
	let ferdie_account = keys::account_of(&ferdie.keypair);
	// A second offer, so the corrupting RP is offered more of the shards.
	ferdie.offer(&chain).await?;

	let mut events = MarketEvents::subscribe(&chain).await?;
	let file = work.join("squares.toml").display().to_string();
	let url_for_cli = url.clone();
	let mut cli = tokio::task::spawn_blocking(move || {
		modicum_json(&url_for_cli, &["jc", "mapreduce", &file, "--attempts", "10"])
	});
	let (mut corrupted, mut fined) = (Vec::new(), Vec::new());
	let give_up = Instant::now() + Duration::from_secs(1200);
	let report = loop {
		if Instant::now() > give_up {
			bail!("the map-reduce did not end in 20 minutes\n{}", market.logs());
		}
		tokio::select! {
			done = &mut cli => break done?.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?,
			block = events.next() => {
				let Some(block) = block else { bail!("the event stream ended") };
				for event in block?.events {
					match event {
						MarketEvent::Matched { match_id, resource_provider, .. }
							if resource_provider == ferdie_account =>
						{
							if run_and_corrupt(&chain, &ferdie.keypair, &market.registry, work, match_id)
								.await?
							{
								corrupted.push(match_id);
							}
							ferdie.offer(&chain).await?;
						},
						MarketEvent::Fined { match_id, who, .. } if who == ferdie_account => {
							fined.push(match_id)
						},
						_ => {},
					}
				}
			},
		}
	};

	// What the JC saw, for people reading the run (`--nocapture`).
	eprintln!("{report:#}");
	assert!(!corrupted.is_empty(), "the corrupting RP ran no shard: {report}");
	// A corrupted shard that slipped through a 25-record sample would be accepted
	// (probability 0.95^25 ≈ 0.28 each): the rest were rejected and mediated.
	let attempts: Vec<&serde_json::Value> = report["shards"]
		.as_array()
		.context("no shards")?
		.iter()
		.flat_map(|shard| shard["attempts"].as_array().into_iter().flatten())
		.filter(|a| a["resource_provider"] == ferdie_account.to_string())
		.collect();
	let caught: Vec<u64> = attempts
		.iter()
		.filter(|a| {
			let outcome = a["outcome"].as_str().unwrap_or_default();
			outcome.starts_with("rejected (wrong-results)")
				&& outcome.ends_with("mediator: wrong-results, resource-provider at fault")
		})
		.filter_map(|a| a["match_id"].as_u64())
		.collect();
	assert!(!caught.is_empty(), "no corrupted shard was caught: {report}");
	for id in &caught {
		assert!(fined.contains(id), "match {id} was ruled against the RP but not fined: {fined:?}");
	}
	let slipped = attempts.iter().filter(|a| a["outcome"] == "accepted").count();
	let sum = std::fs::read_to_string(work.join("result/out/sum")).unwrap_or_default();
	if slipped == 0 {
		assert_eq!(report["succeeded"], true, "{report}");
		assert_eq!(sum.trim(), "333383335000", "every corrupted shard was re-run honestly");
	} else {
		assert_ne!(sum.trim(), "333383335000", "{slipped} corrupted shard(s) were accepted");
	}
	market.stop()
}
