//! Issue 15's faults, each against real processes (a dev node, the `modicum` daemons,
//! real Docker), each ending in a posted status or a closed match rather than a daemon
//! that dies, loops, or lets a deadline pass:
//!
//! - the RP is SIGKILLed mid-job and restarted: its orphaned container is removed, the
//!   job runs again once and its result is posted once;
//! - the job's container disappears mid-run (as when the engine restarts): the RP runs
//!   it again and posts;
//! - the node restarts under the running daemons: they reconnect and carry on;
//! - the JC stays silent: the RP accepts after the reaction window; the mediator stays
//!   silent: the RP closes the mediation after its window (half the estimate is paid);
//! - the mediator dies and the JC disputes meanwhile: restarted, it finds the dispute
//!   (its matches are counted on chain) and rules;
//! - the directory is down when the RP pulls: `DirectoryUnavailable`, which the
//!   mediator, reading the uptime record, lays at the directory's door; down again
//!   while the next job runs, so its upload fails: `DirectoryUnavailable` again; with
//!   the directory back the RP takes the next job;
//! - the RP's disk is full: `Declined`, and the next job runs once there is room.
//!
//! Needs a Docker engine (skipped without one unless `MODICUM_REQUIRE_DOCKER=1`).

use anyhow::{bail, ensure, Context, Result};
use modicum_client::{
	calls::Market,
	chain::JobTerms,
	events::MarketEvents,
	keys, reference,
	types::{
		Acceptor, Architecture, CloseOutcome, FaultyParty, PaymentReason, RejectReason,
		ResultStatus, Verdict,
	},
	AccountId, Chain, Keypair, MarketEvent,
};
use modicum_tests::{
	build_image, docker_available, post_job, push_as_alice, repo_root, Daemon, RpRole, TestMarket,
};
use std::{
	process::Command,
	time::{Duration, Instant},
};

const MDC: u128 = 1_000_000_000_000;
const NAPPER: &str = "modicum-test/napper:1";
/// The RP's daemon among the market's (directory, mediator, RP, solver).
const RP: usize = 2;
const MEDIATOR: usize = 1;
const DIRECTORY: usize = 0;

/// A market with //Alice registered as a JC that trusts //Charlie, and the napper
/// job (sleeps 4 s, then writes its output) in the directory.
struct Harness {
	// Dropped in this order: the daemons, then the RP's small disk, then the files.
	market: TestMarket,
	chain: Chain,
	alice: Keypair,
	events: MarketEvents,
	seen: Vec<MarketEvent>,
	job: (String, [u8; 32], [u8; 32]),
	work: std::path::PathBuf,
	_rp_disk: Option<Unmount>,
	_dir: tempfile::TempDir,
}

/// A filesystem mounted for the test; unmounted when dropped.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
	fn drop(&mut self) {
		let _ = Command::new("umount").arg("-l").arg(&self.0).status();
	}
}

impl Harness {
	/// `None` without Docker. `windows` sets short (reaction, mediation) windows first.
	async fn start(windows: Option<(u64, u64)>) -> Result<Option<Harness>> {
		Self::start_with(windows, None).await
	}

	/// [`Harness::start`], with the RP's work directory on a disk of `rp_disk` bytes.
	async fn start_with(
		windows: Option<(u64, u64)>,
		rp_disk: Option<u64>,
	) -> Result<Option<Harness>> {
		if !docker_available()? {
			eprintln!(
				"skipping: no Docker engine (set MODICUM_REQUIRE_DOCKER=1 to make this fail)"
			);
			return Ok(None);
		}
		let built =
			Command::new("bash").arg(repo_root().join("scripts/build-images.sh")).status()?;
		ensure!(built.success(), "scripts/build-images.sh failed");
		build_image(
			NAPPER,
			"FROM modicum/base:1\nCMD [\"sh\", \"-c\", \"sleep 4; echo rested > /out/r\"]\n",
		)?;
		let dir = tempfile::tempdir()?;
		let work = dir.path().to_path_buf();
		let rp_disk = match rp_disk {
			Some(bytes) => {
				let mount = work.join("rp");
				std::fs::create_dir_all(&mount)?;
				let status = Command::new("mount")
					.args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "rp-disk"])
					.arg(&mount)
					.status()?;
				ensure!(status.success(), "cannot mount a small disk for the RP");
				Some(Unmount(mount))
			},
			None => None,
		};
		let rp = RpRole {
			name: "rp".into(),
			key: "//Bob".into(),
			jobs_at_once: 1,
			open_offers: 1,
			determinism_probe_runs: 0,
		};
		let market = TestMarket::start(&work, rp).await?;
		let chain = Chain::connect(&market.url).await?;
		let alice = keys::from_uri("//Alice")?;
		let calls = Market::new(&chain, &alice);
		if let Some((reaction, mediation)) = windows {
			let mut parameters = chain.parameters().await?;
			parameters.reaction_window = reaction;
			parameters.mediation_window = mediation;
			calls.set_parameters(parameters).await?;
		}
		calls.register_job_creator().await?;
		calls.trust_mediator(keys::parse_account("//Charlie")?).await?;
		let job = push(&market.registry).await?;
		let events = MarketEvents::subscribe(&chain).await?;
		Ok(Some(Harness {
			market,
			chain,
			alice,
			events,
			seen: Vec::new(),
			job,
			work,
			_rp_disk: rp_disk,
			_dir: dir,
		}))
	}

	fn calls(&self) -> Market<'_> {
		Market::new(&self.chain, &self.alice)
	}

	/// Posts the napper job with `instructions` CPU ms and a deadline an hour ahead.
	async fn post_job(&self, instructions: u64) -> Result<u64> {
		let now = self.chain.now_ms().await?;
		let terms = JobTerms {
			provider_record: None,
			instruction_limit: instructions,
			bandwidth_limit: 256 << 20,
			instruction_max_price: 2_000_000,
			bandwidth_max_price: 1,
			completion_deadline: now + 3_600_000,
			match_incentive: MDC / 1000,
			first_layer_hash: self.job.2,
			ram_limit: 128 << 20,
			local_storage_limit: 32 << 20,
			directory: keys::parse_account("//Dave")?,
			job_reference: reference(&self.job.0)?,
			job_hash: self.job.1,
			arch: Architecture::Amd64,
		};
		let charlie = keys::parse_account("//Charlie")?;
		post_job(&self.chain, &self.alice, terms, charlie, 1_800_000).await
	}

	/// The first event (from now on, or already seen) that `wanted` picks, within
	/// `within`.
	async fn wait_for<T>(
		&mut self,
		within: Duration,
		mut wanted: impl FnMut(&MarketEvent) -> Option<T>,
	) -> Result<T> {
		if let Some(found) = self.seen.iter().find_map(&mut wanted) {
			return Ok(found);
		}
		let deadline = tokio::time::Instant::now() + within;
		loop {
			let block = tokio::time::timeout_at(deadline, self.events.next())
				.await
				.with_context(|| {
					format!("timed out; seen {:?}\n{}", self.seen, self.market.logs())
				})?
				.context("event subscription ended")??;
			for event in block.events {
				let found = wanted(&event);
				self.seen.push(event);
				if let Some(found) = found {
					return Ok(found);
				}
			}
		}
	}

	async fn matched(&mut self, offer: u64) -> Result<u64> {
		self.wait_for(Duration::from_secs(120), |e| match e {
			MarketEvent::Matched { match_id, job_offer_id, .. } if *job_offer_id == offer => {
				Some(*match_id)
			},
			_ => None,
		})
		.await
	}

	async fn result_status(&mut self, id: u64) -> Result<ResultStatus> {
		self.wait_for(Duration::from_secs(180), |e| match e {
			MarketEvent::ResultPosted { match_id, result, .. } if *match_id == id => {
				Some(result.status)
			},
			_ => None,
		})
		.await
	}

	async fn closed(&mut self, id: u64, within: Duration) -> Result<CloseOutcome> {
		self.wait_for(within, |e| match e {
			MarketEvent::MatchClosed { match_id, outcome } if *match_id == id => Some(*outcome),
			_ => None,
		})
		.await
	}

	fn results_posted(&self, id: u64) -> usize {
		self.seen
			.iter()
			.filter(|e| matches!(e, MarketEvent::ResultPosted { match_id, .. } if *match_id == id))
			.count()
	}

	/// A job run and posted as `Completed`, then the mediator SIGKILLed and the result
	/// rejected as wrong; returns the match.
	async fn disputed_with_the_mediator_dead(&mut self) -> Result<u64> {
		let offer = self.post_job(5_000).await?;
		let disputed = self.matched(offer).await?;
		ensure!(self.result_status(disputed).await? == ResultStatus::Completed);
		let mediator = self.market.daemons[MEDIATOR].pid();
		ensure!(Command::new("kill").args(["-KILL", &mediator.to_string()]).status()?.success());
		self.calls().reject_result(disputed, RejectReason::WrongResults).await?;
		Ok(disputed)
	}

	fn restart(&mut self, index: usize, args: &[&str]) -> Result<()> {
		let name = self.market.daemons[index].name().to_string();
		self.market.daemons[index] = Daemon::start(&self.work, &name, &self.market.url, args)?;
		Ok(())
	}
}

/// Pushes the napper job to the directory: its reference, job hash and base layer.
async fn push(registry: &str) -> Result<(String, [u8; 32], [u8; 32])> {
	let repository = "jobs/napper";
	let pushed = push_as_alice(registry, NAPPER, repository).await?;
	Ok((format!("{repository}@{}", pushed.digest), pushed.job_hash, pushed.first_layer))
}

/// The ids of running job containers whose job name starts with `prefix`.
fn job_containers(prefix: &str) -> Result<Vec<String>> {
	let out = Command::new("docker")
		.args([
			"ps",
			"--filter",
			"label=modicum.job",
			"--format",
			"{{.ID}} {{.Label \"modicum.job\"}}",
		])
		.output()?;
	ensure!(out.status.success(), "docker ps failed");
	Ok(String::from_utf8_lossy(&out.stdout)
		.lines()
		.filter_map(|line| line.split_once(' '))
		.filter(|(_, job)| job.starts_with(prefix))
		.map(|(id, _)| id.to_string())
		.collect())
}

/// Waits for a running job container of `prefix`.
async fn running_container(prefix: &str) -> Result<String> {
	let deadline = Instant::now() + Duration::from_secs(120);
	loop {
		if let Some(id) = job_containers(prefix)?.into_iter().next() {
			return Ok(id);
		}
		if Instant::now() > deadline {
			bail!("no job container of {prefix} started");
		}
		tokio::time::sleep(Duration::from_millis(100)).await;
	}
}

fn container_exists(id: &str) -> bool {
	Command::new("docker")
		.args(["inspect", id])
		.output()
		.map(|o| o.status.success())
		.unwrap_or(false)
}

/// The job-name prefix of //Bob's jobs.
fn bob_prefix() -> Result<String> {
	let bob = keys::parse_account("//Bob")?;
	Ok(format!("rp-{}-", modicum_offchain::executor::owner_tag(&bob.0)))
}

/// Job `/out` filesystems still mounted under `dir`.
fn mounted_outputs(dir: &std::path::Path) -> usize {
	let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
	std::fs::read_to_string("/proc/self/mounts")
		.unwrap_or_default()
		.lines()
		.filter(|line| line.starts_with("modicum-out "))
		.filter(|line| {
			line.split(' ').nth(1).is_some_and(|target| target.starts_with(&*dir.to_string_lossy()))
		})
		.count()
}

fn paid(seen: &[MarketEvent], id: u64, to_whom: &AccountId, why: PaymentReason) -> bool {
	seen.iter().any(|e| {
		matches!(e, MarketEvent::Paid { match_id, to, reason, .. }
			if *match_id == id && to == to_whom && *reason == why)
	})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_rp_runs_its_job_again_once_and_posts_once() -> Result<()> {
	let Some(mut h) = Harness::start(None).await? else { return Ok(()) };
	let offer = h.post_job(20_000).await?;
	let id = h.matched(offer).await?;
	let orphan = running_container(&bob_prefix()?).await?;
	let rp_pid = h.market.daemons[RP].pid();
	ensure!(Command::new("kill").args(["-KILL", &rp_pid.to_string()]).status()?.success());
	tokio::time::sleep(Duration::from_millis(500)).await;
	ensure!(container_exists(&orphan), "the engine keeps the killed RP's container running");
	h.restart(RP, &["rp", "run"])?;
	ensure!(h.result_status(id).await? == ResultStatus::Completed, "{}", h.market.logs());
	ensure!(!container_exists(&orphan), "the restarted RP removed its orphan");
	h.calls().accept_result(id).await?;
	let outcome = h.closed(id, Duration::from_secs(60)).await?;
	ensure!(outcome == CloseOutcome::Accepted(Acceptor::JobCreator), "{outcome:?}");
	ensure!(h.results_posted(id) == 1, "posted {} times", h.results_posted(id));
	ensure!(mounted_outputs(&h.work) == 0, "a job /out is still mounted");
	h.market.stop()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_container_vanishes_is_run_again() -> Result<()> {
	let Some(mut h) = Harness::start(None).await? else { return Ok(()) };
	let offer = h.post_job(20_000).await?;
	let id = h.matched(offer).await?;
	// As when the engine restarts under a job: its container is gone.
	let first = running_container(&bob_prefix()?).await?;
	ensure!(Command::new("docker").args(["rm", "-f", &first]).output()?.status.success());
	ensure!(h.result_status(id).await? == ResultStatus::Completed, "{}", h.market.logs());
	ensure!(h.market.daemons[RP].log().contains("job failed"), "the RP saw the run fail");
	h.calls().accept_result(id).await?;
	h.closed(id, Duration::from_secs(60)).await?;
	ensure!(h.results_posted(id) == 1);
	h.market.stop()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemons_ride_out_a_node_restart() -> Result<()> {
	let Some(mut h) = Harness::start(None).await? else { return Ok(()) };
	let offer = h.post_job(20_000).await?;
	let id = h.matched(offer).await?;
	running_container(&bob_prefix()?).await?;
	h.market.node.restart()?;
	// Our own connection went with the node.
	let deadline = Instant::now() + Duration::from_secs(60);
	h.chain = loop {
		match Chain::connect(&h.market.url).await {
			Ok(chain) => break chain,
			Err(_) if Instant::now() < deadline => {
				tokio::time::sleep(Duration::from_millis(250)).await
			},
			Err(e) => return Err(e.into()),
		}
	};
	h.events = MarketEvents::subscribe(&h.chain).await?;
	// The result may have landed before our subscription: read the match itself.
	let deadline = Instant::now() + Duration::from_secs(120);
	loop {
		let info = h.chain.match_info(id).await?.context("the match vanished")?;
		if let modicum_client::types::MatchState::ResultPosted { result, .. } = info.state {
			ensure!(
				result.status == ResultStatus::Completed,
				"{:?}\n{}",
				result.status,
				h.market.logs()
			);
			break;
		}
		ensure!(Instant::now() < deadline, "no result after the restart\n{}", h.market.logs());
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	h.calls().accept_result(id).await?;
	h.closed(id, Duration::from_secs(60)).await?;
	for daemon in h.market.daemons.iter_mut() {
		daemon.ensure_running()?;
	}
	let rp_log = h.market.daemons[RP].log();
	ensure!(!rp_log.contains("giving up"), "the RP gave up:\n{rp_log}");
	h.market.stop()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_jc_and_a_silent_mediator_do_not_hold_the_rp() -> Result<()> {
	// 3 s windows (each match adds the runs' own time to them).
	let Some(mut h) = Harness::start(Some((3_000, 3_000))).await? else { return Ok(()) };
	let bob = keys::parse_account("//Bob")?;

	// The JC never answers: the RP accepts for it once the reaction window is over.
	let offer = h.post_job(5_000).await?;
	let silent_jc = h.matched(offer).await?;
	ensure!(h.result_status(silent_jc).await? == ResultStatus::Completed);
	let outcome = h.closed(silent_jc, Duration::from_secs(90)).await?;
	ensure!(outcome == CloseOutcome::Accepted(Acceptor::ResourceProvider), "{outcome:?}");
	ensure!(paid(&h.seen, silent_jc, &bob, PaymentReason::JobPayment), "the RP was paid");

	// The mediator is gone when the JC disputes: the RP closes the failed mediation.
	let disputed = h.disputed_with_the_mediator_dead().await?;
	let outcome = h.closed(disputed, Duration::from_secs(120)).await?;
	ensure!(outcome == CloseOutcome::MediationFailed, "{outcome:?}");
	ensure!(
		paid(&h.seen, disputed, &bob, PaymentReason::MediationFailedPayment),
		"the RP gets half its estimate: {:?}",
		h.seen
	);
	h.restart(MEDIATOR, &["mediator", "run"])?;
	h.market.stop()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mediator_away_when_a_match_is_disputed_rules_on_it_once_back() -> Result<()> {
	let Some(mut h) = Harness::start(None).await? else { return Ok(()) };
	// The mediator dies, and with it what it knew of its matches; the dispute comes
	// while it is away, so no event tells the next run about it.
	let disputed = h.disputed_with_the_mediator_dead().await?;
	h.restart(MEDIATOR, &["mediator", "run"])?;
	let outcome = h.closed(disputed, Duration::from_secs(180)).await?;
	let expected = CloseOutcome::Mediated {
		verdict: Verdict::CorrectResults,
		faulty: FaultyParty::JobCreator,
	};
	ensure!(outcome == expected, "{outcome:?}\n{}", h.market.logs());
	// It found the match because the chain counted one more match naming it than it
	// knew of, and read the whole market for it.
	let log = h.market.daemons[MEDIATOR].log();
	ensure!(log.contains("reading the whole market"), "{log}");
	h.market.stop()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_down_during_the_pull_is_laid_at_its_door() -> Result<()> {
	let Some(mut h) = Harness::start(None).await? else { return Ok(()) };
	let bob = keys::parse_account("//Bob")?;
	// The image is in the directory; then the directory goes away (SIGINT: its
	// registry stops with it).
	let directory_name = h.market.daemons[DIRECTORY].name().to_string();
	drop(h.market.daemons.remove(DIRECTORY));
	let offer = h.post_job(20_000).await?;
	let id = h.matched(offer).await?;
	let status = h.result_status(id).await?;
	ensure!(status == ResultStatus::DirectoryUnavailable, "{status:?}\n{}", h.market.logs());
	// The directory comes back, and its uptime record shows the gap.
	let directory =
		Daemon::start(&h.work, &directory_name, &h.market.url, &["directory", "serve"])?;
	h.market.daemons.insert(DIRECTORY, directory);
	tokio::time::sleep(Duration::from_secs(3)).await;
	h.calls().reject_result(id, RejectReason::WrongResults).await?;
	let outcome = h.closed(id, Duration::from_secs(180)).await?;
	ensure!(
		outcome
			== CloseOutcome::Mediated {
				verdict: Verdict::DirectoryUnavailable,
				faulty: FaultyParty::Directory
			},
		"{outcome:?}\n{}",
		h.market.logs()
	);
	let fined_bob =
		h.seen.iter().any(|e| matches!(e, MarketEvent::Fined { who, .. } if *who == bob));
	ensure!(!fined_bob, "the RP was fined for the directory's outage");
	// Down again while the next job runs: its upload fails, and the RP says so.
	let offer = h.post_job(20_000).await?;
	let during_upload = h.matched(offer).await?;
	running_container(&bob_prefix()?).await?;
	drop(h.market.daemons.remove(DIRECTORY));
	let status = h.result_status(during_upload).await?;
	ensure!(status == ResultStatus::DirectoryUnavailable, "{status:?}\n{}", h.market.logs());
	let directory =
		Daemon::start(&h.work, &directory_name, &h.market.url, &["directory", "serve"])?;
	h.market.daemons.insert(DIRECTORY, directory);
	tokio::time::sleep(Duration::from_secs(3)).await;
	// The RP takes the next job as if nothing happened.
	let offer = h.post_job(20_000).await?;
	let next = h.matched(offer).await?;
	ensure!(h.result_status(next).await? == ResultStatus::Completed, "{}", h.market.logs());
	h.market.stop()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_on_the_rp_ends_in_a_status() -> Result<()> {
	let Some(mut h) = Harness::start_with(None, Some(8 << 20)).await? else { return Ok(()) };
	// Fill the RP's disk to the last byte.
	let filler = h.work.join("rp/filler");
	{
		use std::io::Write;
		let mut file = std::fs::File::create(&filler)?;
		let chunk = vec![0u8; 64 << 10];
		while file.write_all(&chunk).is_ok() {}
		let _ = file.write_all(&[0u8; 512]);
	}
	let offer = h.post_job(20_000).await?;
	let id = h.matched(offer).await?;
	let status = h.result_status(id).await?;
	ensure!(status == ResultStatus::Declined, "{status:?}\n{}", h.market.logs());
	h.market.daemons[RP].ensure_running()?;
	// With room again, the next job runs.
	std::fs::remove_file(&filler)?;
	let offer = h.post_job(20_000).await?;
	let next = h.matched(offer).await?;
	ensure!(h.result_status(next).await? == ResultStatus::Completed, "{}", h.market.logs());
	h.market.stop()
}
