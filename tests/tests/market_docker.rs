//! The whole market end to end against a real dev node and real Docker: a directory
//! (OCI registry), a mediator, a resource provider and a solver run as `modicum`
//! daemons; a job creator submits the sample job, gets a verified result and pays;
//! then disputes a correct result and is fined by the mediator's re-runs.
//!
//! Needs a Docker engine. Without one the test says so and passes, unless
//! `MODICUM_REQUIRE_DOCKER=1` (CI sets it), which makes a missing engine a failure.

use anyhow::{ensure, Context, Result};
use modicum_client::{
	events::MarketEvents,
	keys,
	types::{CloseOutcome, FaultyParty, PaymentReason, Verdict},
	Chain, MarketEvent,
};
use modicum_tests::{docker_market, modicum_binary};
use std::{process::Command, time::Duration};

/// Runs `modicum` with `args` and returns its stdout, failing with its stderr.
fn modicum(url: &str, args: &[&str]) -> Result<String> {
	let output = Command::new(modicum_binary()?)
		.args(args)
		.env("MODICUM_URL", url)
		.env("MODICUM_KEY", "//Alice")
		.output()
		.context("running modicum")?;
	ensure!(
		output.status.success(),
		"modicum {} failed:\n{}{}",
		args.join(" "),
		String::from_utf8_lossy(&output.stdout),
		String::from_utf8_lossy(&output.stderr)
	);
	Ok(String::from_utf8(output.stdout)?)
}

/// Collects market events until `done` says stop (or two minutes pass).
async fn collect_until(
	events: &mut MarketEvents,
	mut done: impl FnMut(&MarketEvent) -> bool,
) -> Result<Vec<MarketEvent>> {
	let mut seen = Vec::new();
	let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
	loop {
		let block = tokio::time::timeout_at(deadline, events.next())
			.await
			.context("timed out waiting for market events")?
			.context("event subscription ended")??;
		for event in block.events {
			let stop = done(&event);
			seen.push(event);
			if stop {
				return Ok(seen);
			}
		}
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_job_is_paid_and_a_false_dispute_is_fined() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(market) = docker_market(work).await? else { return Ok(()) };
	let url = market.url.clone();

	modicum(&url, &["jc", "register"])?;
	modicum(&url, &["jc", "trust", "//Charlie"])?;
	let chain = Chain::connect(&url).await?;
	let bob = keys::parse_account("//Bob")?;
	let alice = keys::parse_account("//Alice")?;

	// 1. An honest job, accepted: the RP is paid exactly the posted price.
	let mut events = MarketEvents::subscribe(&chain).await?;
	let out = work.join("result");
	let report = modicum(
		&url,
		&[
			"--json",
			"jc",
			"submit",
			"--image",
			"modicum/sample-job:1",
			"--directory",
			"//Dave",
			"--instructions",
			"20000",
			"--deadline-secs",
			"120",
			"--wait",
			"--out",
			&out.display().to_string(),
			"--accept",
		],
	)
	.map_err(|e| anyhow::anyhow!("{e}\n{}", market.logs()))?;
	let report: serde_json::Value = serde_json::from_str(&report)?;
	assert_eq!(report["result"]["status"], "completed", "{report}");
	assert_eq!(report["accepted"], true);
	let squares = std::fs::read_to_string(out.join("out/squares.txt"))?;
	assert_eq!(squares.lines().count(), 2000);
	assert_eq!(squares.lines().nth(12), Some("12 144"));
	assert!(std::fs::read_to_string(out.join("stdout"))?.contains("computed 2000 squares"));
	let match_id = report["match_id"].as_u64().context("no match id")?;
	let price = report["result"]["price"].as_u64().context("no price")? as u128;
	let seen = collect_until(
		&mut events,
		|e| matches!(e, MarketEvent::MatchClosed { match_id: m, .. } if *m == match_id),
	)
	.await?;
	assert!(
		seen.iter().any(|e| matches!(e,
		MarketEvent::Paid { match_id: m, from, to, amount, reason: PaymentReason::JobPayment }
			if *m == match_id && *from == alice && *to == bob && *amount == price)),
		"{seen:?}"
	);
	assert!(seen.iter().any(|e| matches!(e,
		MarketEvent::MatchClosed { match_id: m, outcome: CloseOutcome::Accepted(_) } if *m == match_id)));
	assert!(
		!seen.iter().any(|e| matches!(e, MarketEvent::Fined { .. })),
		"an honest job fined someone: {seen:?}"
	);

	// 2. The JC disputes a correct result: the mediator re-runs it n times, finds the
	//    RP right, and the JC's deposit pays the RP, the mediator and a fine.
	let report = modicum(
		&url,
		&[
			"--json",
			"jc",
			"submit",
			"--image",
			"modicum/sample-job:1",
			"--directory",
			"//Dave",
			"--instructions",
			"20000",
			"--deadline-secs",
			"120",
			"--wait",
		],
	)?;
	let report: serde_json::Value = serde_json::from_str(&report)?;
	let disputed = report["match_id"].as_u64().context("no match id")?;
	let mut events = MarketEvents::subscribe(&chain).await?;
	modicum(&url, &["jc", "reject", &disputed.to_string(), "--reason", "wrong-results"])?;
	let seen = collect_until(
		&mut events,
		|e| matches!(e, MarketEvent::MatchClosed { match_id: m, .. } if *m == disputed),
	)
	.await?;
	assert!(seen.iter().any(|e| matches!(e,
		MarketEvent::MediationResultPosted { match_id: m, verdict: Verdict::CorrectResults, faulty: FaultyParty::JobCreator, .. }
			if *m == disputed)), "{seen:?}");
	assert!(
		seen.iter().any(
			|e| matches!(e, MarketEvent::Fined { match_id: m, who, .. } if *m == disputed && *who == alice)
		),
		"{seen:?}"
	);
	assert!(seen.iter().any(|e| matches!(e,
		MarketEvent::Paid { match_id: m, to, reason: PaymentReason::Compensation, .. } if *m == disputed && *to == bob)), "{seen:?}");

	// The mediator learned both matches from their `Matched` events and read them by id
	// on its ticks: the chain's count of matches naming it never exceeded what it knew,
	// so it never read the whole market.
	let mediator = market.daemons.iter().find(|d| d.name() == "mediator").context("no mediator")?;
	assert!(!mediator.log().contains("reading the whole market"), "{}", mediator.log_tail());

	market.stop()?;
	Ok(())
}
