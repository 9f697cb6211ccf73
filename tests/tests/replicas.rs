//! Replicated jobs end to end, with real Docker (README, "Replicated jobs"):
//!
//! - two honest RP daemons run the two replicas; the chain sees equal results and
//!   pays both, with no call from the JC;
//! - one honest RP daemon and a forging RP (this test, through raw extrinsics, as a
//!   hostile client would) that posts a made-up root: the chain sends both to the real
//!   mediator daemon, whose runs side with the honest RP; the forger is fined and the
//!   honest RP paid as if accepted;
//! - an RP daemon that stopped after its commitment landed but before it wrote that
//!   down (its state still holds the result as ready to post) reveals it once
//!   restarted.
//!
//! Needs a Docker engine (skipped without one unless `MODICUM_REQUIRE_DOCKER=1`).

use anyhow::{bail, Result};
use modicum_client::{
	calls::Market, events::MarketEvents, guard::job_fingerprint, keys, reference,
	types::ResultStatus, AccountId, Chain, MarketEvent,
};
use modicum_offchain::{
	commitment::result_commitment,
	rp::{Fingerprint, JobPhase, ReadyResult, RpState},
	state::StateFile,
};
use modicum_tests::{docker_market_with, hand_driven_provider, modicum_json, Daemon};
use std::{path::Path, time::Duration};

/// A job file for a deterministic two-replica job.
fn job_file(dir: &Path) -> Result<String> {
	let text = "image = \"modicum/base:1\"\ndirectory = \"//Dave\"\nmediators = [\"//Charlie\"]\n\
		 args = [\"/bin/sh\", \"-c\", \"echo replicated > /out/answer\"]\n\
		 instructions = 20000\ndeadline_secs = 120\nreplicas = 2\nwait = true\n";
	let path = dir.join("replicated.toml");
	std::fs::write(&path, text)?;
	Ok(path.display().to_string())
}

fn outcomes(report: &serde_json::Value) -> Vec<(String, String)> {
	report["replicas"]
		.as_array()
		.map(|all| {
			all.iter()
				.map(|r| {
					let rp = r["resource_provider"].as_str().unwrap_or_default().to_string();
					(rp, r["outcome"].as_str().unwrap_or_default().to_string())
				})
				.collect()
		})
		.unwrap_or_default()
}

/// `jc submit` of the replicated job, run in the background: its `--json` report.
fn submit_in_background(
	url: &str,
	work: &Path,
) -> Result<tokio::task::JoinHandle<Result<serde_json::Value>>> {
	let (url, job) = (url.to_string(), job_file(work)?);
	Ok(tokio::task::spawn_blocking(move || modicum_json(&url, &["jc", "submit", &job])))
}

/// The id of the first match `rp` is in, from the events of the next two minutes.
async fn first_match_of(events: &mut MarketEvents, rp: &AccountId) -> Result<u64> {
	let first = async {
		loop {
			let Some(block) = events.next().await else { bail!("the event stream ended") };
			let found = block?.events.into_iter().find_map(|e| match e {
				MarketEvent::Matched { match_id, resource_provider, .. }
					if resource_provider == *rp =>
				{
					Some(match_id)
				},
				_ => None,
			});
			if let Some(id) = found {
				return Ok(id);
			}
		}
	};
	tokio::time::timeout(Duration::from_secs(120), first)
		.await
		.map_err(|_| anyhow::anyhow!("{rp} was matched to no job within two minutes"))?
}

#[tokio::test(flavor = "multi_thread")]
async fn two_honest_replicas_are_paid_with_no_call_from_the_jc() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(market) = docker_market_with(work, &["//Bob", "//Ferdie"]).await? else {
		return Ok(());
	};
	let url = market.url.clone();
	modicum_json(&url, &["jc", "register"])?;
	let job = job_file(work)?;
	let report = modicum_json(&url, &["jc", "submit", &job])
		.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?;
	let ends = outcomes(&report);
	assert_eq!(ends.len(), 2, "{report}");
	for (_, outcome) in &ends {
		assert_eq!(outcome, "accepted: the replicas agreed", "{report}");
	}
	let bob = keys::parse_account("//Bob")?.to_string();
	let ferdie = keys::parse_account("//Ferdie")?.to_string();
	let mut providers: Vec<&str> = ends.iter().map(|(rp, _)| rp.as_str()).collect();
	providers.sort();
	let mut expected = vec![bob.as_str(), ferdie.as_str()];
	expected.sort();
	assert_eq!(providers, expected, "two distinct RPs ran the replicas: {report}");
	market.stop()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forging_replica_is_fined_and_the_honest_one_paid() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(market) = docker_market_with(work, &["//Bob"]).await? else { return Ok(()) };
	let url = market.url.clone();
	let chain = Chain::connect(&url).await?;
	modicum_json(&url, &["jc", "register"])?;
	let ferdie = hand_driven_provider(&chain, "//Ferdie").await?.keypair;
	let ferdie_account = keys::account_of(&ferdie);
	let before = chain.free_balance(&ferdie_account).await?;

	let mut events = MarketEvents::subscribe(&chain).await?;
	let submitted = submit_in_background(&url, work)?;
	// Ferdie posts a result it never computed as soon as its replica is matched.
	let forged = first_match_of(&mut events, &ferdie_account).await?;
	let ferdie_market = Market::new(&chain, &ferdie);
	let root = [0xf0; 32];
	let commitment = result_commitment(forged, ResultStatus::Completed, &root);
	ferdie_market.commit_result(forged, commitment).await?;
	// It reveals as soon as the honest replica has committed too.
	let mut revealed = false;
	for _ in 0..240 {
		let reveal = ferdie_market
			.reveal_result(
				forged,
				ResultStatus::Completed,
				reference("results/forged@sha256:00")?,
				root,
				100,
				0,
			)
			.await;
		match reveal {
			Ok(_) => {
				revealed = true;
				break;
			},
			Err(e) if e.is_refusal("ReplicasStillCommitting") => {
				tokio::time::sleep(std::time::Duration::from_millis(500)).await
			},
			Err(e) => bail!("revealing the forged result: {e}\n{}", market.logs()),
		}
	}
	assert!(revealed, "the honest replica never committed\n{}", market.logs());

	// The forger's whole remaining deposit is taken as a fine.
	let fined = tokio::time::timeout(std::time::Duration::from_secs(300), async {
		while let Some(block) = events.next().await {
			for event in block?.events {
				if let MarketEvent::Fined { match_id, who, amount } = event {
					if match_id == forged && who == ferdie_account {
						return Ok(amount);
					}
				}
			}
		}
		bail!("the event stream ended")
	})
	.await
	.map_err(|_| anyhow::anyhow!("no fine within 5 minutes\n{}", market.logs()))??;
	assert!(fined > 0);

	let report = submitted.await?.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?;
	let bob = keys::parse_account("//Bob")?.to_string();
	let ends = outcomes(&report);
	assert!(
		ends.contains(&(bob, "accepted: the mediator's runs confirmed it".into())),
		"{report}\n{}",
		market.logs()
	);
	assert!(
		ends.contains(&(
			ferdie_account.to_string(),
			"mediated: wrong-results, resource-provider at fault".into()
		)),
		"{report}"
	);
	// Nothing of the forger's deposit came back.
	let after = chain.free_balance(&ferdie_account).await?;
	assert!(after <= before, "the forger got nothing back: {before} → {after}");
	market.stop()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_rp_stopped_between_its_commitment_and_its_record_reveals_once_restarted() -> Result<()>
{
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(mut market) = docker_market_with(work, &["//Bob", "//Ferdie"]).await? else {
		return Ok(());
	};
	let url = market.url.clone();
	let chain = Chain::connect(&url).await?;
	modicum_json(&url, &["jc", "register"])?;
	let bob = keys::from_uri("//Bob")?;
	let bob_account = keys::account_of(&bob);
	// Bob's daemon stops once its offer is open; the job is matched to that offer.
	let mut offered = false;
	for _ in 0..120 {
		let offers = chain.resource_offers().await?;
		if offers.iter().any(|(_, offer)| offer.owner == bob_account) {
			offered = true;
			break;
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	assert!(offered, "Bob's daemon posted no offer\n{}", market.logs());
	let bob_index = market.daemons.iter().position(|d| d.name() == "rp-0").expect("Bob's daemon");
	drop(market.daemons.remove(bob_index));

	let mut events = MarketEvents::subscribe(&chain).await?;
	let _submitted = submit_in_background(&url, work)?;
	let bobs_match = first_match_of(&mut events, &bob_account).await?;
	// What the daemon does up to the crash: it records the result as ready to post,
	// and its commitment lands; the crash comes before it records the commitment.
	let info = chain.match_info(bobs_match).await?.expect("Bob's match is open");
	let ready = ReadyResult {
		status: ResultStatus::Completed,
		reference: "results/bob@sha256:00".into(),
		hash: [0xb0; 32],
		instruction_count: 100,
		bandwidth_used: 0,
	};
	let mut state = StateFile::<RpState>::open(&work.join("rp-0").join("rp-state.json"))?;
	state.update(|s| {
		s.record_for(
			bobs_match,
			Fingerprint(job_fingerprint(&info)),
			JobPhase::ResultReady(ready.clone()),
		)
	})?;
	let commitment = result_commitment(bobs_match, ready.status, &ready.hash);
	Market::new(&chain, &bob).commit_result(bobs_match, commitment).await?;

	market.daemons.push(Daemon::start(work, "rp-0", &url, &["rp", "run"])?);
	let revealed = tokio::time::timeout(Duration::from_secs(180), async {
		while let Some(block) = events.next().await {
			for event in block?.events {
				if let MarketEvent::ReplicaResultPosted {
					match_id,
					resource_provider,
					result,
					..
				} = event
				{
					if match_id == bobs_match && resource_provider == bob_account {
						return Ok(result);
					}
				}
			}
		}
		bail!("the event stream ended")
	})
	.await
	.map_err(|_| anyhow::anyhow!("Bob's commitment was never revealed\n{}", market.logs()))??;
	assert_eq!(revealed.hash, ready.hash, "the restarted daemon revealed what it committed to");
	let log = market.daemons.last().map(Daemon::log).unwrap_or_default();
	assert!(log.contains("committed before the daemon stopped"), "{log}");
	let state = StateFile::<RpState>::open(&work.join("rp-0").join("rp-state.json"))?;
	assert!(
		!matches!(state.get().jobs.get(&bobs_match), Some(JobPhase::ResultReady(_))),
		"the phase moved on from ready-to-post: {:?}",
		state.get().jobs.get(&bobs_match)
	);
	market.stop()
}
