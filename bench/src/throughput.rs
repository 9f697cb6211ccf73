//! Figure 3, throughput: N trivial jobs through the whole market — posted at once by a
//! job creator, matched by the solver, run by several RPs, each result downloaded,
//! verified and accepted — against the same N `docker run --rm`s at the same
//! concurrency (RPs × jobs each runs at once), on the same machine, plain runs before and
//! after the market's so drift hits both.

use crate::{
	acceptor::{Accepting, Acceptor, Gate},
	market::{Market, MDC},
	network::Network,
	procfs::{self, round3, CpuProfile},
	row::{secs, Quantity, Row},
	setup::{docker_run, say, Docker},
	stats::median,
	tx::{Account, Bulk, Event, Seen},
	Ctx,
};
use anyhow::{bail, ensure, Context, Result};
use modicum_client::{
	chain::JobTerms,
	keys, reference, runtime,
	types::{Architecture, CloseOutcome},
	MarketEvent,
};
use modicum_offchain::directory;
use std::{
	collections::{BTreeMap, BTreeSet},
	sync::{
		atomic::{AtomicUsize, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};
use tokio::sync::mpsc;

const IMAGE: &str = "modicum/trivial-job:1";
const REPOSITORY: &str = "jobs/bench-trivial";

/// The figure's row on `network`.
pub async fn run(ctx: &Ctx, network: Network) -> Vec<Row> {
	let mut row = Row::new(
		&format!("throughput{}", network.suffix()),
		&format!("jobs settled per minute through the whole market (containers included), several RPs on one machine, trivial jobs, vs plain `docker run` at the same concurrency, {}", network.describe()),
		"~1.2 jobs/min (sequential)",
		"≥ 0.9 of the plain `docker run` rate",
	);
	if let Docker::Missing(reason) = &ctx.docker {
		return vec![row.skip(reason)];
	}
	let measured = measure(ctx, network, &mut row).await;
	vec![row.finished(measured)]
}

/// The market's shape for this figure: (jobs, RPs, jobs each RP runs at once). On the
/// network a job's latency (four slots and the finality lag, about 19 s) is twice a
/// 40-job batch's plain time, and a steady window of a few 3 s blocks swings by a
/// block from run to run (120 jobs: 7 or 8 blocks, 0.82 to 0.93 of plain), so the
/// batch is longer there: its steady rate is then timed over some 12 blocks. It stays
/// below the 256 open offers the runtime allows one job creator.
pub fn shape(smoke: bool, network: Network) -> (usize, usize, u32) {
	match (smoke, network) {
		(true, _) => (2, 2, 1),
		(false, Network::Dev) => (40, 4, 1),
		(false, Network::Local) => (240, 4, 1),
	}
}

/// Offers each RP keeps open on `network`, matched jobs waiting for its slot included,
/// as an operator would set it up for jobs this short. On the network the offer that
/// replaces a job taking the slot becomes a job two or three blocks later (its own,
/// after an earlier top-up's, then the match's): 6 to 9 s, in which an RP runs some
/// ten trivial jobs (0.65 s each in its slot); with 8 the RPs sat idle 1.5 s in every
/// 3 s block. The dev chain confirms at once, and more offers than the batch needs
/// only pile one RP's queue while another idles (16 there: 0.83 of plain, 8: 0.96).
fn open_offers_per_rp(network: Network) -> u32 {
	match network {
		Network::Dev => 8,
		Network::Local => 16,
	}
}

async fn measure(ctx: &Ctx, network: Network, row: &mut Row) -> Result<()> {
	let figure = format!("throughput{}", network.suffix());
	let (jobs, rps, jobs_at_once) = shape(ctx.smoke, network);
	let concurrency = rps * jobs_at_once as usize;
	let options =
		ctx.market(rps, jobs_at_once).with_open_offers(open_offers_per_rp(network)).on(network);
	let open_offers = options.open_offers;

	if !ctx.smoke {
		plain_batch(concurrency, concurrency).await?; // warm the engine's caches
	}
	say(&figure, format!("{jobs} plain `docker run`s, {concurrency} at a time"));
	let (plain_before, plain_profile) = plain_batch(jobs, concurrency).await?;

	let market = Market::start(&figure, &options).await?;
	let mut jc = JobCreator::new(&market).await?;
	if !ctx.smoke {
		// Every RP pulls the image on its first job; a market in service has it.
		say(&figure, "warm-up batch (not counted)");
		jc.batch(&market, concurrency).await?;
	}
	say(
		&figure,
		format!("{jobs} jobs through the market, {rps} RP(s) × {jobs_at_once} slot(s), {open_offers} offer(s) open each"),
	);
	let profile = CpuProfile::start(market.processes());
	let market_run = jc.batch(&market, jobs).await?;
	let market_profile = profile.finish();
	drop(market);

	let plain_after = if ctx.smoke {
		None
	} else {
		say(&figure, "plain runs again");
		Some(plain_batch(jobs, concurrency).await?.0)
	};
	let plain_s = match plain_after {
		Some(after) => (plain_before + after) / 2.0,
		None => plain_before,
	};
	let per_min = |seconds: f64| jobs as f64 * 60.0 / seconds;
	let (batch_rate, plain_rate) = (per_min(market_run.seconds), per_min(plain_s));
	// The steady rate is the throughput; a batch too small to close in several blocks
	// has none, and its whole time stands in.
	let (market_rate, measured_text) = match market_run.steady {
		Some(steady) => (
			steady.per_min(),
			format!(
				"{:.1} jobs/min steady ({} jobs closed in {} of blocks between the first and the last closing one)",
				steady.per_min(),
				steady.jobs,
				secs(steady.seconds)
			),
		),
		None => (
			batch_rate,
			format!("{batch_rate:.1} jobs/min ({jobs} jobs in {})", secs(market_run.seconds)),
		),
	};
	let ratio = market_rate / plain_rate;
	row.measured = Some(Quantity::new(market_rate, "jobs/min", measured_text));
	row.baseline = Some(Quantity::new(
		plain_rate,
		"jobs/min",
		format!("plain `docker run`: {plain_rate:.1} jobs/min"),
	));
	row.comparison = Some(Quantity::new(ratio, "×", format!("{ratio:.2} of plain")));
	row.met = Some(ratio >= 0.9);
	row.notes.push(format!(
		"{rps} RP(s) × {jobs_at_once} job(s) at a time = {concurrency} jobs at once, each RP keeping {open_offers} offers open (matched jobs waiting for its slot included); median per job: waiting for an RP {}, RP pull/run/upload/post {}, JC verify + accept {}",
		secs(market_run.waiting),
		secs(market_run.running),
		secs(market_run.accepting),
	));
	row.notes.push(format!(
		"the whole batch, posting to the last close seen final, fill and drain included: {jobs} jobs in {} = {batch_rate:.1} jobs/min, {:.2} of plain; accepts held because a match changed after its result was seen (a retraction): {}",
		secs(market_run.seconds),
		batch_rate / plain_rate,
		market_run.held.len(),
	));
	row.details = serde_json::json!({
		"image": IMAGE,
		"jobs": jobs,
		"rps": rps,
		"jobs_at_once_per_rp": jobs_at_once,
		"open_offers_per_rp": open_offers,
		"concurrency": concurrency,
		"market_s": round3(market_run.seconds),
		"market_batch_jobs_per_min": round3(batch_rate),
		"steady": market_run.steady.map(|s| serde_json::json!({
			"jobs": s.jobs,
			"seconds": round3(s.seconds),
			"jobs_per_min": round3(s.per_min()),
		})),
		"accepts_held_for_matches": market_run.held,
		"plain_s_before": round3(plain_before),
		"plain_s_after": plain_after.map(round3),
		"median_per_job_s": {
			"offer_posted_to_matched": round3(market_run.waiting),
			"matched_to_result_posted": round3(market_run.running),
			"result_posted_to_closed": round3(market_run.accepting),
		},
		"cpu_market": market_profile,
		"cpu_plain": plain_profile,
		"failed_extrinsics": market_run.failed,
	});
	Ok(())
}

/// `jobs` plain runs, `concurrency` at a time: (seconds, CPU profile).
async fn plain_batch(jobs: usize, concurrency: usize) -> Result<(f64, serde_json::Value)> {
	let next = Arc::new(AtomicUsize::new(0));
	let profile = CpuProfile::start(vec![
		("dockerd".into(), procfs::pids_named("dockerd")),
		("containerd".into(), procfs::pids_named("containerd")),
	]);
	let start = Instant::now();
	let mut workers = tokio::task::JoinSet::new();
	for _ in 0..concurrency {
		let next = next.clone();
		workers.spawn(async move {
			while next.fetch_add(1, Ordering::SeqCst) < jobs {
				docker_run(IMAGE, &[]).await?;
			}
			anyhow::Ok(())
		});
	}
	while let Some(done) = workers.join_next().await {
		done??;
	}
	Ok((start.elapsed().as_secs_f64(), profile.finish()))
}

/// What one batch through the market took.
struct BatchRun {
	/// From posting the offers to the last close seen.
	seconds: f64,
	/// The rate once the first jobs closed, if the closes spanned several blocks.
	steady: Option<Steady>,
	/// Matches whose accept was not sent because the match changed after its result was
	/// seen (each such result is accepted once it is seen again).
	held: Vec<u64>,
	waiting: f64,
	running: f64,
	accepting: f64,
	failed: Vec<String>,
}

/// //Alice as a job creator that posts many offers at once and accepts each result
/// once it has downloaded and verified it, acting on best blocks (what `modicum jc
/// submit --wait --out --accept` does for one job: [`Acceptor`]). Closes are counted in
/// finalized blocks.
struct JobCreator {
	bulk: Bulk,
	account: Account,
	events: mpsc::UnboundedReceiver<Seen>,
	_acceptor: Acceptor,
	accepting: mpsc::UnboundedReceiver<Accepting>,
	/// Held while this job creator's offers go out (see [`Gate`]).
	gate: Gate,
	terms: JobTerms,
	deposit: u128,
}

impl JobCreator {
	async fn new(market: &Market) -> Result<Self> {
		let bulk = Bulk::connect(&market.url).await?;
		let account = bulk.account("//Alice").await?;
		let events = bulk.watch().await?;
		// The image goes to the directory once; every offer names it.
		let docker = modicum_offchain::docker::connect().await?;
		let alice = modicum_client::keys::from_uri("//Alice")?;
		let credential = directory::WriteCredential::new(&alice, &market.registry);
		let pushed =
			directory::push_image(&docker, IMAGE, &market.registry, REPOSITORY, &credential)
				.await?;
		let now = market.chain.now_ms().await?;
		let terms = JobTerms {
			provider_record: None,
			instruction_limit: 20_000,
			bandwidth_limit: 256 << 20,
			instruction_max_price: 2_000_000,
			bandwidth_max_price: 1,
			completion_deadline: now + 3_600_000,
			match_incentive: MDC / 1000,
			first_layer_hash: pushed.first_layer,
			ram_limit: 128 << 20,
			local_storage_limit: 32 << 20,
			directory: keys::parse_account("//Dave")?,
			job_reference: reference(&format!("{REPOSITORY}@{}", pushed.digest))?,
			job_hash: pushed.job_hash,
			arch: Architecture::Amd64,
		};
		let charlie = keys::parse_account("//Charlie")?;
		let deposit = market.chain.quote_job_deposit(&terms, Some(charlie)).await?;
		let gate = Gate::default();
		let (acceptor, accepting) =
			Acceptor::start(&market.chain, alice, market.registry.clone(), gate.clone()).await?;
		Ok(JobCreator {
			bulk,
			account,
			events,
			_acceptor: acceptor,
			accepting,
			gate,
			terms,
			deposit,
		})
	}

	/// Posts `jobs` offers at once and follows them until every match closed.
	async fn batch(&mut self, market: &Market, jobs: usize) -> Result<BatchRun> {
		while self.events.try_recv().is_ok() {}
		let gate = Arc::clone(&self.gate);
		let offers_going = gate.lock().await;
		// The acceptor's batches moved the nonce on.
		self.account = self.bulk.account("//Alice").await?;
		let expires = market.chain.now_ms().await? + 3_000_000;
		let mut offers = Vec::new();
		for _ in 0..jobs {
			let call = runtime::transactions().compute_market().post_job_offer(
				self.terms.clone(),
				self.deposit,
				expires,
			);
			offers.push(self.bulk.sign(&call, &mut self.account)?);
		}
		let start = Instant::now();
		self.bulk.submit_in_order(offers).await?;
		drop(offers_going);
		let me = self.account.id;
		let mut offered: BTreeMap<u64, Instant> = BTreeMap::new();
		let mut matched: BTreeMap<u64, (Instant, Instant)> = BTreeMap::new();
		let mut results: BTreeMap<u64, Instant> = BTreeMap::new();
		let mut closed = BTreeSet::new();
		let (mut waiting, mut running, mut accepting) = (Vec::new(), Vec::new(), Vec::new());
		let mut failed = Vec::new();
		let mut held = Vec::new();
		let mut closes = Vec::with_capacity(jobs);
		let mut last = start;
		let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
		while closed.len() < jobs {
			tokio::select! {
				seen = self.events.recv() => {
					let seen = seen.context("the block subscription ended")?;
					if let Some(error) = seen.failure {
						failed.push(error);
					}
					let Event::ComputeMarket(event) = seen.event else { continue };
					match event {
						MarketEvent::JobOfferPosted { offer_id, creator, .. } if creator == me => {
							offered.insert(offer_id, seen.at);
						},
						MarketEvent::Matched { match_id, job_offer_id, .. } => {
							if let Some(posted) = offered.get(&job_offer_id) {
								matched.insert(match_id, (*posted, seen.at));
							}
						},
						MarketEvent::ResultPosted { match_id, .. } if matched.contains_key(&match_id) => {
							results.insert(match_id, seen.at);
						},
						MarketEvent::MatchClosed { match_id, outcome } if matched.contains_key(&match_id) => {
							ensure!(matches!(outcome, CloseOutcome::Accepted(_)), "match {match_id} closed {outcome:?}");
							let (posted, at_match) = matched[&match_id];
							let at_result = results.get(&match_id).copied().unwrap_or(seen.at);
							waiting.push(at_match.duration_since(posted).as_secs_f64());
							running.push(at_result.duration_since(at_match).as_secs_f64());
							accepting.push(seen.at.duration_since(at_result).as_secs_f64());
							if closed.insert(match_id) {
								closes.push(Close { block: seen.block, block_ms: seen.block_ms });
							}
							last = seen.at;
						},
						_ => {},
					}
				},
				Some(accepting) = self.accepting.recv() => match accepting {
					Accepting::Failed { match_id, error } => {
						return Err(error.context(format!("the result of match {match_id}")));
					},
					Accepting::Held { match_id } => held.push(match_id),
					Accepting::Stopped { error } => {
						return Err(error.context("the job creator's best-block subscription"));
					},
				},
				_ = tokio::time::sleep_until(deadline) => {
					bail!("{} of {jobs} jobs settled within 10 minutes\n{}", closed.len(), market.logs());
				},
			}
		}
		Ok(BatchRun {
			seconds: last.duration_since(start).as_secs_f64(),
			steady: Steady::of(&closes),
			held,
			waiting: median(&waiting),
			running: median(&running),
			accepting: median(&accepting),
			failed,
		})
	}
}

/// A job's close: the finalized block it is in, and that block's timestamp.
#[derive(Clone, Copy, Debug)]
struct Close {
	block: u64,
	block_ms: u64,
}

/// The market's steady rate: the jobs closed in the blocks between the first and the
/// last block that closed any, over the time from the first of them to the last but
/// one. The pipeline's fill (a job's latency, the latency figure) and its drain (the
/// last stragglers, which close a block that the rest of the batch left half empty) are
/// left out, and block times, not when finality reached the benchmark, time it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Steady {
	jobs: usize,
	seconds: f64,
}

impl Steady {
	fn of(closes: &[Close]) -> Option<Steady> {
		let mut blocks: BTreeMap<u64, (u64, usize)> = BTreeMap::new();
		for close in closes {
			blocks.entry(close.block).or_insert((close.block_ms, 0)).1 += 1;
		}
		let mut blocks = blocks.into_values();
		let (first_ms, _) = blocks.next()?;
		let _drain = blocks.next_back()?;
		let (mut jobs, mut last_ms) = (0, None);
		for (block_ms, closed) in blocks {
			jobs += closed;
			last_ms = Some(block_ms);
		}
		let seconds = last_ms?.checked_sub(first_ms)? as f64 / 1000.0;
		(jobs > 0 && seconds > 0.0).then_some(Steady { jobs, seconds })
	}

	fn per_min(&self) -> f64 {
		self.jobs as f64 * 60.0 / self.seconds
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn close(block: u64, block_ms: u64) -> Close {
		Close { block, block_ms }
	}

	#[test]
	fn the_steady_rate_leaves_out_the_first_and_last_closing_blocks() {
		// Four blocks 3 s apart: 4 closes in the first (the fill), 3 and 3 after, and 1
		// straggler in the last (the drain).
		let closes = [
			close(10, 30_000),
			close(10, 30_000),
			close(12, 36_000),
			close(11, 33_000),
			close(10, 30_000),
			close(13, 39_000),
			close(12, 36_000),
			close(11, 33_000),
			close(12, 36_000),
			close(10, 30_000),
			close(11, 33_000),
		];
		assert_eq!(Steady::of(&closes), Some(Steady { jobs: 6, seconds: 6.0 }));
		assert_eq!(Steady::of(&closes).map(|s| s.per_min()), Some(60.0));
	}

	#[test]
	fn closes_in_fewer_than_three_blocks_have_no_steady_rate() {
		assert_eq!(Steady::of(&[]), None);
		assert_eq!(Steady::of(&[close(5, 1_000), close(5, 1_000)]), None);
		assert_eq!(Steady::of(&[close(5, 1_000), close(6, 2_000), close(6, 2_000)]), None);
		assert_eq!(
			Steady::of(&[close(5, 1_000), close(6, 2_000), close(7, 3_000)]),
			Some(Steady { jobs: 1, seconds: 1.0 })
		);
	}
}
