//! Figure 1, market latency: the wall time from a job creator's `modicum jc submit` to
//! the accepted, verified result, minus a plain `docker run --rm` of the same image,
//! timed alternately on the same machine. Block interval: the dev node's idle seal
//! interval (it seals a block as soon as transactions arrive, and an empty one after
//! that long without). On the local network: its aura slot, and the goal allows the
//! finality lag measured in the same run on top of four slots.

use crate::{
	market::Market,
	network::{finality_lag, slot_s, FinalityLag, Network},
	procfs::round3,
	row::{secs, Quantity, Row},
	setup::{docker_run, say, Docker},
	stats::median,
	Ctx,
};
use anyhow::{ensure, Context, Result};
use modicum_client::{events::MarketEvents, keys, MarketEvent};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const IMAGE: &str = "modicum/sample-job:1";

/// The figure's row on `network`.
pub async fn run(ctx: &Ctx, network: Network) -> Vec<Row> {
	let interval = ctx.seal_interval_s();
	let goal = match network {
		Network::Dev => format!(
			"≤ 4 block intervals + 1 s (= {} at {:.0} ms)",
			secs(4.0 * interval + 1.0),
			interval * 1000.0
		),
		Network::Local => "≤ 4 slots + the finality lag (both measured in the same run)".into(),
	};
	let mut row = Row::new(
		&format!("latency{}", network.suffix()),
		&format!(
			"wall time a job spends in the market beyond a plain `docker run` of the same image, {}",
			network.describe()
		),
		"~52 s",
		&goal,
	);
	if let Docker::Missing(reason) = &ctx.docker {
		return vec![row.skip(reason)];
	}
	let measured = measure(ctx, network, &mut row).await;
	vec![row.finished(measured)]
}

/// What the overhead is measured against: the block interval, and on the local network
/// the finality lag as well.
struct Clock {
	interval: f64,
	/// "block intervals" or "slots".
	unit: &'static str,
	lag: Option<FinalityLag>,
}

impl Clock {
	/// The most overhead the goal allows.
	fn budget(&self) -> f64 {
		match &self.lag {
			None => 4.0 * self.interval + 1.0,
			Some(lag) => 4.0 * self.interval + lag.median_s,
		}
	}
}

async fn clock(ctx: &Ctx, network: Network, market: &mut Market) -> Result<Clock> {
	Ok(match network {
		Network::Dev => {
			Clock { interval: ctx.seal_interval_s(), unit: "block intervals", lag: None }
		},
		Network::Local => {
			let rpc = market.node.rpc(Duration::from_secs(10)).await?;
			let window = Duration::from_secs(if ctx.smoke { 12 } else { 60 });
			say("latency.local", format!("finality lag over {}", secs(window.as_secs_f64())));
			let lag = finality_lag(&rpc, window).await?;
			Clock { interval: slot_s(&rpc).await?, unit: "slots", lag: Some(lag) }
		},
	})
}

/// When the job creator's process started and when each market event about its job
/// was seen.
#[derive(Default)]
struct Timeline {
	offer_posted: Option<f64>,
	matched: Option<f64>,
	result_posted: Option<f64>,
	closed: Option<f64>,
}

async fn measure(ctx: &Ctx, network: Network, row: &mut Row) -> Result<()> {
	let figure = format!("latency{}", network.suffix());
	let reps = if ctx.smoke { 1 } else { 5 };
	let options = ctx.market(1, 1).on(network);
	let mut market = Market::start(&figure, &options).await?;
	let clock = clock(ctx, network, &mut market).await?;
	let interval = clock.interval;
	let mut events = follow(&market).await?;
	if !ctx.smoke {
		// The first job pays one-off costs (the directory's first push, the RP's first
		// pull), as does the first `docker run` of an image.
		say(&figure, "warm-up job (not counted)");
		docker_run(IMAGE, &[]).await?;
		submit(&mut market, &mut events).await?;
	}
	let mut runs = Vec::new();
	for rep in 0..reps {
		// Alternate which goes first, so drift on the machine hits both alike.
		let (plain, (market_s, timeline)) = if rep % 2 == 0 {
			let plain = docker_run(IMAGE, &[]).await?.0;
			(plain, submit(&mut market, &mut events).await?)
		} else {
			let job = submit(&mut market, &mut events).await?;
			(docker_run(IMAGE, &[]).await?.0, job)
		};
		say(
			&figure,
			format!("run {}: market {}, plain docker run {}", rep + 1, secs(market_s), secs(plain)),
		);
		runs.push((plain, market_s, timeline));
	}
	let plains: Vec<f64> = runs.iter().map(|r| r.0).collect();
	let totals: Vec<f64> = runs.iter().map(|r| r.1).collect();
	let extra: Vec<f64> = runs.iter().map(|r| r.1 - r.0).collect();
	let (plain, total, overhead) = (median(&plains), median(&totals), median(&extra));
	let phase = |f: fn(&Timeline) -> Option<f64>| -> Option<f64> {
		let values: Vec<f64> = runs.iter().filter_map(|r| f(&r.2)).collect();
		(values.len() == runs.len()).then(|| median(&values))
	};
	// Phases, each from the previous mark: what the market's time is spent on.
	let offer = phase(|t| t.offer_posted);
	let matched = phase(|t| Some(t.matched? - t.offer_posted?));
	let executed = phase(|t| Some(t.result_posted? - t.matched?));
	let accepted = phase(|t| Some(t.closed? - t.result_posted?));
	let exit = runs.iter().filter_map(|r| Some(r.1 - r.2.closed?)).collect::<Vec<_>>();
	let blocks = overhead / interval;
	row.measured = Some(Quantity::new(
		overhead,
		"s",
		format!(
			"{}{} = {blocks:.1} {} (market total {})",
			if overhead < 0.0 { "-" } else { "+" },
			secs(overhead.abs()),
			clock.unit,
			secs(total)
		),
	));
	row.baseline = Some(Quantity::new(plain, "s", format!("plain `docker run`: {}", secs(plain))));
	row.comparison =
		Some(Quantity::new(total / plain, "×", format!("×{:.1} the plain run", total / plain)));
	row.met = Some(overhead <= clock.budget());
	match &clock.lag {
		None => row.notes.push(format!(
			"block interval = the dev node's idle seal interval, {:.0} ms{}; blocks are sealed once transactions arrive (after the node's `--seal-batch-ms` gathering window)",
			interval * 1000.0,
			if ctx.seal_interval_ms.is_some() { " (set with --seal-interval-ms)" } else { " (its default)" }
		)),
		Some(lag) => row.notes.push(format!(
			"slot {}; finality lag (a block number's first sight as best to its finalization, {} blocks) median {}, worst {}: the goal is {}; the RP and solver daemons and `jc submit --wait` act on best blocks, and the CLI exits once the accept is finalized (the mediator acts on finalized blocks); the phases are when each step was first seen in a best block",
			secs(interval),
			lag.blocks,
			secs(lag.median_s),
			secs(lag.max_s),
			secs(clock.budget()),
		)),
	}
	if let (Some(o), Some(m), Some(e), Some(a)) = (offer, matched, executed, accepted) {
		row.notes.push(format!(
			"median phases: push + quote + post offer {}, solver match {}, RP pull/run/upload/post {} (plain run {}), JC download/verify/accept {}, the accept finalized and the CLI exited {}",
			secs(o),
			secs(m),
			secs(e),
			secs(plain),
			secs(a),
			secs(median(&exit)),
		));
	}
	row.details = serde_json::json!({
		"image": IMAGE,
		"repetitions": reps,
		"seal_interval_ms": (interval * 1000.0).round(),
		"finality_lag_s": clock.lag.as_ref().map(|l| serde_json::json!({
			"median": round3(l.median_s),
			"max": round3(l.max_s),
			"blocks": l.blocks,
		})),
		"goal_s": round3(clock.budget()),
		"market_total_s": round3(total),
		"plain_docker_run_s": round3(plain),
		"overhead_s": round3(overhead),
		"overhead_block_intervals": round3(blocks),
		"phases_median_s": {
			"submit_to_offer_posted": offer.map(round3),
			"offer_posted_to_matched": matched.map(round3),
			"matched_to_result_posted": executed.map(round3),
			"result_posted_to_closed": accepted.map(round3),
			"closed_to_cli_exit": round3(median(&exit)),
		},
		"runs": runs.iter().map(|(p, m, t)| serde_json::json!({
			"plain_s": round3(*p),
			"market_s": round3(*m),
			"offer_posted_s": t.offer_posted.map(round3),
			"matched_s": t.matched.map(round3),
			"result_posted_s": t.result_posted.map(round3),
			"closed_s": t.closed.map(round3),
		})).collect::<Vec<_>>(),
	});
	market.check()?;
	Ok(())
}

/// Market events with the moment they were first seen in a best block, from a
/// background subscription (the daemons act on best blocks).
async fn follow(market: &Market) -> Result<mpsc::UnboundedReceiver<(Instant, MarketEvent)>> {
	let best = market.chain.clone().following(modicum_client::chain::Head::Best);
	let mut events = MarketEvents::subscribe(&best).await?;
	let (send, receive) = mpsc::unbounded_channel();
	tokio::spawn(async move {
		while let Some(Ok(block)) = events.next().await {
			let seen = Instant::now();
			for event in block.events {
				if send.send((seen, event)).is_err() {
					return;
				}
			}
		}
	});
	Ok(receive)
}

/// Submits the job as a job creator would, waits for the accepted, verified result,
/// and returns the wall time with the timeline of its events.
async fn submit(
	market: &mut Market,
	events: &mut mpsc::UnboundedReceiver<(Instant, MarketEvent)>,
) -> Result<(f64, Timeline)> {
	while events.try_recv().is_ok() {}
	let out = tempfile::tempdir()?;
	let out_dir = out.path().join("result");
	let start = Instant::now();
	let output = tokio::process::Command::new(modicum_tests::modicum_binary()?)
		.args(["--json", "jc", "submit", "--image", IMAGE, "--directory", "//Dave"])
		.args(["--instructions", "20000", "--deadline-secs", "120", "--wait", "--accept"])
		.arg("--out")
		.arg(&out_dir)
		.env("MODICUM_URL", &market.url)
		.env("MODICUM_KEY", "//Alice")
		.output()
		.await
		.context("running modicum jc submit")?;
	let wall = start.elapsed().as_secs_f64();
	ensure!(
		output.status.success(),
		"modicum jc submit failed:\n{}{}\n{}",
		String::from_utf8_lossy(&output.stdout),
		String::from_utf8_lossy(&output.stderr),
		market.logs()
	);
	let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
	ensure!(report["result"]["status"] == "completed" && report["accepted"] == true, "{report}");
	ensure!(out_dir.join("out/squares.txt").is_file(), "the result was not unpacked");
	let match_id = report["match_id"].as_u64().context("no match id")?;
	let alice = keys::parse_account("//Alice")?;
	let mut timeline = Timeline::default();
	// The close is in the block the CLI waited for; the subscription may see it a moment
	// later.
	let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
	while timeline.closed.is_none() {
		let Ok(Some((seen, event))) = tokio::time::timeout_at(give_up, events.recv()).await else {
			break;
		};
		let at = Some(seen.saturating_duration_since(start).as_secs_f64());
		match event {
			MarketEvent::JobOfferPosted { creator, .. } if creator == alice => {
				timeline.offer_posted = at
			},
			MarketEvent::Matched { match_id: m, .. } if m == match_id => timeline.matched = at,
			MarketEvent::ResultPosted { match_id: m, .. } if m == match_id => {
				timeline.result_posted = at
			},
			MarketEvent::MatchClosed { match_id: m, .. } if m == match_id => timeline.closed = at,
			_ => {},
		}
	}
	Ok((wall, timeline))
}
