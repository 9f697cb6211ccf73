//! Issue 14 end to end: a hostile JC that rejects an honest RP's result cannot get it
//! fined, because the real mediator re-runs the job through the RP's own pipeline and
//! rules by the same rules. Each case is a job offer posted through the raw extrinsic
//! (as a hostile client would), run by the real RP daemon, rejected, and ruled by the
//! real mediator daemon:
//!
//! - a job reference that does not name the job hash, and an image whose base layer is
//!   not the declared one: the RP posts `JobDescriptionError`, so does every re-run;
//! - a job whose run budget no longer fits its deadline: the RP posts `Declined`,
//!   which charges nothing, and the CLI refuses to dispute it;
//! - two sleeping jobs, rejected together and mediated concurrently: stopped at the
//!   same point by the RP and the mediator, which also has the image cached and still
//!   measures the same bandwidth.
//!
//! Needs a Docker engine (skipped without one unless `MODICUM_REQUIRE_DOCKER=1`).

use anyhow::{bail, ensure, Context, Result};
use modicum_client::{
	calls::Market,
	chain::JobTerms,
	events::MarketEvents,
	keys, reference,
	types::{Architecture, FaultyParty, RejectReason, ResultStatus, Verdict},
	AccountId, Chain, MarketEvent,
};
use modicum_tests::{
	build_image, docker_available, modicum_binary, post_job, push_as_alice, repo_root, wait_for,
	RpRole, TestMarket,
};
use std::{collections::BTreeMap, process::Command, time::Duration};

const MDC: u128 = 1_000_000_000_000;

/// An image whose only layer is not the busybox base layer the RP declared.
fn import_foreign_base(tag: &str) -> Result<()> {
	let root = tempfile::tempdir()?;
	std::fs::write(root.path().join("not-busybox"), "a different base layer\n")?;
	let tar = Command::new("tar").arg("-C").arg(root.path()).args(["-cf", "-", "."]).output()?;
	ensure!(tar.status.success(), "tar failed");
	let mut import = Command::new("docker")
		.args(["import", "--change", "CMD [\"/bin/sh\"]", "-", tag])
		.stdin(std::process::Stdio::piped())
		.stdout(std::process::Stdio::null())
		.spawn()?;
	use std::io::Write;
	import.stdin.take().context("stdin")?.write_all(&tar.stdout)?;
	ensure!(import.wait()?.success(), "docker import {tag} failed");
	Ok(())
}

/// Pushes `image` to the directory; its reference in the directory and hashes.
async fn push(
	registry: &str,
	image: &str,
	repository: &str,
) -> Result<(String, [u8; 32], [u8; 32])> {
	let pushed = push_as_alice(registry, image, repository).await?;
	Ok((format!("{repository}@{}", pushed.digest), pushed.job_hash, pushed.first_layer))
}

fn terms(
	directory: AccountId,
	(job_reference, job_hash, first_layer): (&str, [u8; 32], [u8; 32]),
	instruction_limit: u64,
	deadline: u64,
) -> Result<JobTerms> {
	Ok(JobTerms {
		provider_record: None,
		instruction_limit,
		bandwidth_limit: 256 << 20,
		instruction_max_price: 2_000_000,
		bandwidth_max_price: 1,
		completion_deadline: deadline,
		match_incentive: MDC / 1000,
		first_layer_hash: first_layer,
		ram_limit: 128 << 20,
		local_storage_limit: 32 << 20,
		directory,
		job_reference: reference(job_reference)?,
		job_hash,
		arch: Architecture::Amd64,
	})
}

/// What the JC does with each case's result, and the status the honest RP must post.
struct Case {
	name: &'static str,
	expect: ResultStatus,
	reason: RejectReason,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_jc_cannot_get_an_honest_rp_fined() -> Result<()> {
	if !docker_available()? {
		eprintln!("skipping: no Docker engine (set MODICUM_REQUIRE_DOCKER=1 to make this fail)");
		return Ok(());
	}
	let status = Command::new("bash").arg(repo_root().join("scripts/build-images.sh")).status()?;
	ensure!(status.success(), "scripts/build-images.sh failed");
	build_image(
		"modicum-test/sleeper:1",
		"FROM modicum/base:1\nCMD [\"sh\", \"-c\", \"sleep 15; echo woke > /out/w\"]\n",
	)?;
	build_image(
		"modicum-test/quick:1",
		"FROM modicum/base:1\nCMD [\"sh\", \"-c\", \"echo quick > /out/q\"]\n",
	)?;
	import_foreign_base("modicum-test/foreign-base:1")?;

	let dir = tempfile::tempdir()?;
	// One slot per case, so every case is matched at once (the declined one must be
	// matched within rule 11's window to be matched at all).
	let rp = RpRole {
		name: "rp".into(),
		key: "//Bob".into(),
		jobs_at_once: 5,
		open_offers: 5,
		determinism_probe_runs: 0,
	};
	let market_up = TestMarket::start(dir.path(), rp).await?;
	let (url, registry) = (market_up.url.clone(), market_up.registry.clone());
	let chain = Chain::connect(&url).await?;
	let alice = keys::from_uri("//Alice")?;
	let (alice_id, bob, charlie, dave) = (
		keys::account_of(&alice),
		keys::parse_account("//Bob")?,
		keys::parse_account("//Charlie")?,
		keys::parse_account("//Dave")?,
	);
	let market = Market::new(&chain, &alice);
	market.register_job_creator().await?;
	market.trust_mediator(charlie).await?;

	wait_for("the RP's five offers", 5, Duration::from_secs(120), || async {
		let offers = chain.resource_offers().await?;
		Ok(offers.iter().filter(|(_, o)| o.owner == bob).count() as u64)
	})
	.await?;
	let quick = push(&registry, "modicum-test/quick:1", "jobs/quick").await?;
	let sleeper = push(&registry, "modicum-test/sleeper:1", "jobs/sleeper").await?;
	let foreign = push(&registry, "modicum-test/foreign-base:1", "jobs/foreign").await?;
	let now = chain.now_ms().await?;
	let hour = now + 3_600_000;
	let jobs = [
		// The reference names the quick image, the hash another digest.
		(
			Case {
				name: "reference",
				expect: ResultStatus::JobDescriptionError,
				reason: RejectReason::InvalidResultStatus,
			},
			terms(dave, (&quick.0, [0x42; 32], quick.2), 10_000, hour)?,
		),
		// Declared on the busybox base layer the RP supports; built on another.
		(
			Case {
				name: "base layer",
				expect: ResultStatus::JobDescriptionError,
				reason: RejectReason::InvalidResultStatus,
			},
			terms(dave, (&foreign.0, foreign.1, quick.2), 10_000, hour)?,
		),
		// Rule 11 lets 100 s of instructions match a 2-minute deadline, but the run's
		// budget plus the upload reserve no longer fits when the RP gets to it.
		(
			Case {
				name: "declined",
				expect: ResultStatus::Declined,
				reason: RejectReason::WrongResults,
			},
			terms(dave, (&quick.0, quick.1, quick.2), 100_000, now + 118_000)?,
		),
		// 3 s of instructions: a 5 s budget; the job sleeps 15 s.
		(
			Case {
				name: "sleeper 1",
				expect: ResultStatus::InstructionsExceeded,
				reason: RejectReason::WrongResults,
			},
			terms(dave, (&sleeper.0, sleeper.1, sleeper.2), 3_000, hour)?,
		),
		(
			Case {
				name: "sleeper 2",
				expect: ResultStatus::InstructionsExceeded,
				reason: RejectReason::WrongResults,
			},
			terms(dave, (&sleeper.0, sleeper.1, sleeper.2), 3_000, hour)?,
		),
	];
	let mut events = MarketEvents::subscribe(&chain).await?;
	let mut cases: BTreeMap<u64, Case> = BTreeMap::new();
	for (case, job) in jobs {
		let offer = post_job(&chain, &alice, job, charlie, 1_800_000).await?;
		cases.insert(offer, case);
	}

	let mut offer_of = BTreeMap::new();
	let mut pending_sleepers = Vec::new();
	let mut ruled: BTreeMap<u64, (Verdict, FaultyParty, u64)> = BTreeMap::new();
	let mut posted_bandwidth = BTreeMap::new();
	let mut seen = Vec::new();
	let deadline = tokio::time::Instant::now() + Duration::from_secs(420);
	while ruled.len() < cases.len() {
		let block = tokio::time::timeout_at(deadline, events.next())
			.await
			.with_context(|| format!("timed out; ruled {ruled:?}\n{}", market_up.logs()))?
			.context("event subscription ended")??;
		for event in block.events {
			match &event {
				MarketEvent::Matched { match_id, job_offer_id, .. } => {
					offer_of.insert(*match_id, *job_offer_id);
				},
				MarketEvent::ResultPosted { match_id, result, .. } => {
					let case = &cases[&offer_of[match_id]];
					ensure!(
						result.status == case.expect,
						"{}: the RP posted {:?}\n{}",
						case.name,
						result.status,
						market_up.logs()
					);
					posted_bandwidth.insert(*match_id, result.bandwidth_used);
					if case.expect == ResultStatus::Declined {
						ensure!(
							result.instruction_count == 0 && result.bandwidth_used == 0,
							"a decline is free"
						);
						let refused = cli(
							&url,
							&["jc", "reject", &match_id.to_string(), "--reason", "wrong-results"],
						);
						let message =
							refused.expect_err("the CLI refuses to dispute a free decline");
						ensure!(message.to_string().contains("charges nothing"), "{message}");
					}
					if case.name.starts_with("sleeper") {
						// Both are rejected in one go, so their mediations overlap.
						pending_sleepers.push(*match_id);
						if pending_sleepers.len() == 2 {
							for id in pending_sleepers.drain(..) {
								market.reject_result(id, RejectReason::WrongResults).await?;
							}
						}
					} else {
						market.reject_result(*match_id, case.reason).await?;
					}
				},
				MarketEvent::MediationResultPosted {
					match_id,
					verdict,
					faulty,
					bandwidth_used,
					..
				} => {
					ruled.insert(*match_id, (*verdict, *faulty, *bandwidth_used));
				},
				_ => {},
			}
			seen.push(event);
		}
	}
	for (match_id, (verdict, faulty, bandwidth)) in &ruled {
		let case = &cases[&offer_of[match_id]];
		ensure!(
			(*verdict, *faulty) == (Verdict::CorrectResults, FaultyParty::JobCreator),
			"{}: the mediator ruled {verdict:?} against {faulty:?}\n{}",
			case.name,
			market_up.logs()
		);
		if case.name.starts_with("sleeper") {
			ensure!(
				*bandwidth > 0 && *bandwidth == posted_bandwidth[match_id],
				"{}: the mediator measured {bandwidth} bytes, the RP claimed {}",
				case.name,
				posted_bandwidth[match_id]
			);
		}
	}
	let fined_bob = seen.iter().any(|e| matches!(e, MarketEvent::Fined { who, .. } if *who == bob));
	ensure!(!fined_bob, "the honest RP was fined: {seen:?}");
	let alice_fined = seen
		.iter()
		.filter(|e| matches!(e, MarketEvent::Fined { who, .. } if *who == alice_id))
		.count();
	ensure!(alice_fined == cases.len(), "each false dispute fines the JC: {alice_fined}");
	market_up.stop()?;
	Ok(())
}

/// Runs `modicum` as //Alice; its stdout, or an error with its output.
fn cli(url: &str, args: &[&str]) -> Result<String> {
	let output = Command::new(modicum_binary()?)
		.args(args)
		.env("MODICUM_URL", url)
		.env("MODICUM_KEY", "//Alice")
		.output()?;
	if !output.status.success() {
		bail!(
			"{}{}",
			String::from_utf8_lossy(&output.stdout),
			String::from_utf8_lossy(&output.stderr)
		);
	}
	Ok(String::from_utf8(output.stdout)?)
}

/// A job whose output is random: no two runs agree, so no mediator could rule on it.
#[tokio::test(flavor = "multi_thread")]
async fn a_probing_rp_declines_a_non_deterministic_job_and_nobody_is_fined() -> Result<()> {
	if !docker_available()? {
		eprintln!("skipping: no Docker engine (set MODICUM_REQUIRE_DOCKER=1 to make this fail)");
		return Ok(());
	}
	let status = Command::new("bash").arg(repo_root().join("scripts/build-images.sh")).status()?;
	ensure!(status.success(), "scripts/build-images.sh failed");
	let dir = tempfile::tempdir()?;
	let rp = RpRole {
		name: "rp".into(),
		key: "//Bob".into(),
		jobs_at_once: 1,
		open_offers: 1,
		determinism_probe_runs: 1,
	};
	let market_up = TestMarket::start(dir.path(), rp).await?;
	let url = market_up.url.clone();
	let chain = Chain::connect(&url).await?;
	let (alice, bob) = (keys::parse_account("//Alice")?, keys::parse_account("//Bob")?);
	cli(&url, &["jc", "register"])?;
	let job = dir.path().join("coin.toml");
	std::fs::write(
		&job,
		"image = \"modicum/base:1\"\ndirectory = \"//Dave\"\nmediators = [\"//Charlie\"]\n\
		 args = [\"/bin/sh\", \"-c\", \"head -c 16 /dev/urandom > /out/coin\"]\n\
		 instructions = 20000\ndeadline_secs = 120\nwait = true\n",
	)?;
	let submitted = cli(&url, &["--json", "jc", "submit", &job.display().to_string()])
		.map_err(|e| anyhow::anyhow!("{e}\n{}", market_up.logs()))?;
	let report: serde_json::Value = serde_json::from_str(&submitted)?;
	ensure!(report["result"]["status"] == "declined", "{report}\n{}", market_up.logs());
	ensure!(report["result"]["price"] == 0, "a declined job costs the JC nothing: {report}");
	let match_id = report["match_id"].as_u64().context("no match id")?.to_string();

	// Disputing it anyway is refused by the CLI (it would be ruled against the JC),
	// and accepting it pays nobody.
	let refused = cli(&url, &["jc", "reject", &match_id, "--reason", "wrong-results"]);
	ensure!(refused.is_err(), "the CLI let a JC dispute a free declined result");
	let mut events = MarketEvents::subscribe(&chain).await?;
	cli(&url, &["jc", "accept", &match_id])?;
	let mut closed = false;
	while !closed {
		let Some(block) = events.next().await else { bail!("the event stream ended") };
		for event in block?.events {
			match event {
				MarketEvent::Fined { who, .. } => bail!("{who} was fined for a declined job"),
				MarketEvent::Paid { from, to, amount, .. } if from == alice && to == bob => {
					bail!("the JC paid the RP {amount} for a declined job")
				},
				MarketEvent::MatchClosed { match_id: id, .. } if id.to_string() == match_id => {
					closed = true
				},
				_ => {},
			}
		}
	}
	market_up.stop()
}
