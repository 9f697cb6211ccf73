//! Spot checks of a record job end to end, with real Docker: the JC re-computes a
//! random 5 % of a 200-record job's records through the executor, fetching only those
//! records' outputs, proven against the root on chain. The honest result agrees (and
//! is then accepted); checked against a different computation, the sampled records
//! differ and the command says to reject. A JC that disputes records the RP got right
//! loses, ruled on those records alone.

use anyhow::{bail, Context, Result};
use modicum_client::{
	events::MarketEvents,
	types::{FaultyParty, Verdict},
	Chain, MarketEvent,
};
use modicum_tests::{docker_market, modicum_json, TestMarket};
use std::{
	path::Path,
	time::{Duration, Instant},
};

/// A job file for a record job over `records/` whose map is `expression` of `n`.
fn job_file(dir: &Path, name: &str, expression: &str) -> Result<String> {
	let script = format!(
		"mkdir -p /out/records; for f in /in/records/*; do n=$(cat $f); echo $(({expression})) > /out/records/${{f##*/}}; done"
	);
	let text = format!(
		"image = \"modicum/base:1\"\ndirectory = \"//Dave\"\nmediators = [\"//Charlie\"]\n\
		 inputs = [\"records:/in/records\"]\nargs = [\"/bin/sh\", \"-c\", {script:?}]\n\
		 instructions = 20000\ndeadline_secs = 120\nwait = true\n"
	);
	let path = dir.join(name);
	std::fs::write(&path, text)?;
	Ok(path.display().to_string())
}

/// A market with a registered JC and `count` records under `work/records`, `r000` …,
/// holding `first`, `first + 1`, …; `None` without Docker.
async fn market_with_records(work: &Path, count: u64, first: u64) -> Result<Option<TestMarket>> {
	let Some(market) = docker_market(work).await? else { return Ok(None) };
	modicum_json(&market.url, &["jc", "register"])?;
	let records = work.join("records");
	std::fs::create_dir(&records)?;
	for i in 0..count {
		std::fs::write(records.join(format!("r{i:03}")), format!("{}\n", i + first))?;
	}
	Ok(Some(market))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spot_check_recomputes_a_sample_and_catches_a_different_result() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(market) = market_with_records(work, 200, 2).await? else { return Ok(()) };
	let url = market.url.clone();
	let squares = job_file(work, "squares.toml", "n * n")?;
	let cubes = job_file(work, "cubes.toml", "n * n * n")?;
	let report = modicum_json(&url, &["jc", "submit", &squares])
		.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?;
	assert_eq!(report["result"]["status"], "completed", "{report}");
	let id = report["match_id"].as_u64().context("no match id")?.to_string();

	let honest =
		modicum_json(&url, &["jc", "spot-check", &id, "--job", &squares, "--fraction", "0.05"])?;
	assert_eq!(honest["consistent"], true, "{honest}");
	assert_eq!(honest["records"], 200);
	assert_eq!(honest["sampled"].as_array().map(Vec::len), Some(10), "{honest}");

	// Against another computation every sampled record differs.
	let other =
		modicum_json(&url, &["jc", "spot-check", &id, "--job", &cubes, "--fraction", "0.05"])?;
	assert_eq!(other["consistent"], false, "{other}");
	assert_eq!(other["mismatches"].as_array().map(Vec::len), Some(10), "{other}");

	let accepted = modicum_json(
		&url,
		&["jc", "spot-check", &id, "--job", &squares, "--fraction", "0.02", "--accept"],
	)?;
	assert_eq!(
		(accepted["consistent"].clone(), accepted["accepted"].clone()),
		(true.into(), true.into())
	);
	market.stop()
}

/// The JC names records whose outputs the RP got right (say, its own spot check ran
/// another computation). The mediator re-runs just those records, finds the posted
/// outputs, and rules for the RP without re-running the job. Names the chain would
/// refuse are refused by the CLI before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_dispute_of_right_records_is_settled_by_those_records_alone() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(market) = market_with_records(work, 20, 0).await? else { return Ok(()) };
	let url = market.url.clone();
	let squares = job_file(work, "squares.toml", "n * n")?;
	let report = modicum_json(&url, &["jc", "submit", &squares])
		.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?;
	assert_eq!(report["result"]["status"], "completed", "{report}");
	let id = report["match_id"].as_u64().context("no match id")?;
	let id_text = id.to_string();

	for (records, reason, said) in [
		("../etc", "wrong-results", "not a record name"),
		("r001", "too-much-cost", "goes with --reason wrong-results"),
	] {
		let refused = modicum_json(
			&url,
			&["jc", "reject", &id_text, "--reason", reason, "--records", records],
		);
		let error = refused.err().context("the CLI sent a rejection the chain refuses")?;
		assert!(error.to_string().contains(said), "{error}");
	}

	let chain = Chain::connect(&url).await?;
	let mut events = MarketEvents::subscribe(&chain).await?;
	let args = ["jc", "reject", &id_text, "--reason", "wrong-results", "--records", "r007,r003"];
	modicum_json(&url, &args)?;
	let (mut named, mut verdict) = (None, None);
	let give_up = Instant::now() + Duration::from_secs(300);
	while verdict.is_none() {
		if Instant::now() > give_up {
			bail!("no verdict in 5 minutes\n{}", market.logs());
		}
		let Some(block) = events.next().await else { bail!("the event stream ended") };
		for event in block?.events {
			match event {
				MarketEvent::RecordsDisputed { match_id, records } if match_id == id => {
					let names =
						records.0.iter().map(|n| String::from_utf8_lossy(&n.0).into_owned());
					named = Some(names.collect::<Vec<_>>());
				},
				MarketEvent::MediationResultPosted { match_id, verdict: v, faulty, .. }
					if match_id == id =>
				{
					verdict = Some((v, faulty));
				},
				_ => {},
			}
		}
	}
	// Sorted on the way, as the chain keeps them.
	assert_eq!(named, Some(vec!["r003".to_string(), "r007".to_string()]));
	assert_eq!(verdict, Some((Verdict::CorrectResults, FaultyParty::JobCreator)));
	let mediator = market.daemons.iter().find(|d| d.name() == "mediator");
	let log = mediator.context("no mediator daemon")?.log();
	assert!(log.contains("ruled on the disputed records"), "{}", market.logs());
	market.stop()
}
