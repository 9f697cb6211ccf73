//! `jc mapreduce` end to end, with real Docker:
//! - 10,000 records squared in 4 shards on two RP daemons, each shard spot-checked
//!   (1 %), downloaded and accepted, then a reduce job sums the squares;
//! - the same beside an RP (this test, driving //Ferdie by hand) that runs every job it
//!   gets through the one pipeline and then corrupts 5 % of the record outputs: the
//!   spot checks catch it, the mediator fines it, and its shards are posted again. A
//!   sample can miss (≈ 0.28 per shard), so the JC runs again until one catches it;
//! - a shard disputed while the mediator is gone, beside an RP that never closes the
//!   mediation: the JC closes it once the mediation window is over and posts the shard
//!   again.

use anyhow::{bail, Context, Result};
use modicum_client::{
	calls::Market,
	events::MarketEvents,
	keys, reference,
	types::{CloseOutcome, ResultStatus},
	Chain, Keypair, MarketEvent,
};
use modicum_offchain::{directory, job, merkle};
use modicum_tests::{
	docker_market_with, hand_driven_provider, modicum_json, HandDrivenProvider, TestMarket,
};
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

/// What the corrupting RP changes in a result before it publishes it.
#[derive(Clone, Copy)]
struct Changes {
	/// Every how-many-th record output of a map shard (0: none).
	every: usize,
	/// The reduce's answer, in place of the one it computed.
	reduce_answer: Option<&'static str>,
}

/// Runs a job matched to `rp` through the pipeline every RP uses, then makes `changes`
/// before publishing it with a root over the changed files: a result that is consistent
/// with itself, but wrong. Whether it changed anything.
async fn run_and_corrupt(
	chain: &Chain,
	rp: &Keypair,
	registry: &str,
	work: &Path,
	match_id: u64,
	changes: Changes,
) -> Result<bool> {
	let Changes { every, reduce_answer } = changes;
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
	// Map shards have record outputs; the reduce has its answer.
	let records = outcome.result_dir.join("out/records");
	let sum = outcome.result_dir.join("out/sum");
	let mut corrupting = false;
	if records.is_dir() && every > 0 {
		let mut names: Vec<_> = std::fs::read_dir(&records)?
			.map(|e| e.map(|e| e.file_name()))
			.collect::<Result<_, _>>()?;
		names.sort();
		for name in names.iter().step_by(every) {
			std::fs::write(records.join(name), "0\n")?;
		}
		corrupting = true;
	}
	if let (true, Some(answer)) = (sum.is_file(), reduce_answer) {
		std::fs::write(&sum, format!("{answer}\n"))?;
		corrupting = true;
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

/// What one `jc mapreduce` run beside the corrupting RP showed.
struct CorruptedRun {
	/// The CLI's report.
	report: serde_json::Value,
	/// The matches whose record outputs the RP corrupted.
	corrupted: Vec<u64>,
	/// The matches the RP was fined for.
	fined: Vec<u64>,
	/// The matches rejected with named records, and the names.
	disputed: Vec<(u64, Vec<String>)>,
	/// Every match that closed, and how.
	closed: Vec<(u64, CloseOutcome)>,
}

/// How //Ferdie behaves beside the run.
struct Corrupting<'a> {
	ferdie: &'a HandDrivenProvider,
	/// Every how-many-th record output of a shard it changes (20: 5 %; 1: all; 0: none).
	every: usize,
	/// Whether it posts another offer after each match.
	offers_again: bool,
	/// What it writes as the reduce's answer (`out/sum`) if it runs the reduce; `None`
	/// posts the reduce as it ran.
	reduce_answer: Option<&'static str>,
}

/// Runs `jc mapreduce squares.toml <args>` while //Ferdie corrupts every map shard it is
/// matched to, as `corrupting` says.
async fn run_beside_corrupting_rp(
	market: &TestMarket,
	chain: &Chain,
	work: &Path,
	args: &[&str],
	corrupting: Corrupting<'_>,
) -> Result<CorruptedRun> {
	let Corrupting { ferdie, every, offers_again, reduce_answer } = corrupting;
	let ferdie_account = keys::account_of(&ferdie.keypair);
	let mut events = MarketEvents::subscribe(chain).await?;
	let file = work.join("squares.toml").display().to_string();
	let args: Vec<String> =
		["jc", "mapreduce", &file].iter().chain(args).map(|a| a.to_string()).collect();
	let url = market.url.clone();
	let mut cli = tokio::task::spawn_blocking(move || {
		let args: Vec<&str> = args.iter().map(String::as_str).collect();
		modicum_json(&url, &args)
	});
	let (mut corrupted, mut fined, mut closed) = (Vec::new(), Vec::new(), Vec::new());
	let mut disputed = Vec::new();
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
							let registry = &market.registry;
							let changes = Changes { every, reduce_answer };
							if run_and_corrupt(chain, &ferdie.keypair, registry, work, match_id, changes)
								.await?
							{
								corrupted.push(match_id);
							}
							if offers_again {
								ferdie.offer(chain).await?;
							}
						},
						MarketEvent::Fined { match_id, who, .. } if who == ferdie_account => {
							fined.push(match_id)
						},
						MarketEvent::MatchClosed { match_id, outcome } => closed.push((match_id, outcome)),
						MarketEvent::RecordsDisputed { match_id, records } => {
							let names = records.0.iter().map(|n| String::from_utf8_lossy(&n.0).into_owned());
							disputed.push((match_id, names.collect()));
						},
						_ => {},
					}
				}
			},
		}
	};
	// What the JC saw, for people reading the run (`--nocapture`).
	eprintln!("{report:#}");
	Ok(CorruptedRun { report, corrupted, fined, disputed, closed })
}

/// A market with //Bob's RP daemon, a registered JC with the map-reduce files written,
/// and //Ferdie as a hand-driven RP with one offer; `None` without Docker.
async fn market_beside_ferdie(
	work: &Path,
) -> Result<Option<(TestMarket, Chain, HandDrivenProvider)>> {
	let Some(market) = docker_market_with(work, &["//Bob"]).await? else { return Ok(None) };
	let chain = Chain::connect(&market.url).await?;
	modicum_json(&market.url, &["jc", "register"])?;
	write_job_files(work)?;
	let ferdie = hand_driven_provider(&chain, "//Ferdie").await?;
	Ok(Some((market, chain, ferdie)))
}

/// A 25-record sample misses a shard with 5 % of its 2,500 records corrupted with
/// probability about 0.95^25 ≈ 0.28, so one run can let every corrupted shard through
/// (seen in CI: two shards, both accepted). The JC runs the same map-reduce again, up to
/// this many times, until a spot check catches the RP: with at least one corrupted shard
/// per run, all runs miss with probability ≤ 0.28^5 ≈ 0.002.
const RUNS_UNTIL_CAUGHT: usize = 5;

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_corrupting_five_percent_of_records_is_caught_and_fined() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some((market, chain, ferdie)) = market_beside_ferdie(work).await? else { return Ok(()) };
	let ferdie_account = keys::account_of(&ferdie.keypair).to_string();
	// A second offer, so the corrupting RP is offered more of the shards.
	ferdie.offer(&chain).await?;

	for run in 1..=RUNS_UNTIL_CAUGHT {
		let out = format!("result-{run}");
		let out_dir = work.join(&out).display().to_string();
		let args = ["--attempts", "10", "--out", &out_dir];
		let corrupting =
			Corrupting { ferdie: &ferdie, every: 20, offers_again: true, reduce_answer: None };
		let CorruptedRun { report, corrupted, fined, disputed, .. } =
			run_beside_corrupting_rp(&market, &chain, work, &args, corrupting).await?;
		assert!(!corrupted.is_empty(), "run {run}: the corrupting RP ran no shard: {report}");
		let attempts: Vec<&serde_json::Value> = report["shards"]
			.as_array()
			.context("no shards")?
			.iter()
			.flat_map(|shard| shard["attempts"].as_array().into_iter().flatten())
			.filter(|a| a["resource_provider"] == ferdie_account)
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
		for id in &caught {
			assert!(
				fined.contains(id),
				"match {id} was ruled against the RP but not fined: {fined:?}"
			);
			// The JC named the records its sample found wrong.
			let names = disputed.iter().find(|(m, _)| m == id).map(|(_, n)| n.clone());
			let names =
				names.with_context(|| format!("match {id} was disputed without records"))?;
			assert!((1..=16).contains(&names.len()), "{names:?}");
		}
		if !caught.is_empty() {
			// The mediator tried the named records first; they differ from the posted
			// outputs, which only whole runs may hold against the RP.
			let mediator = market.daemons.iter().find(|d| d.name() == "mediator");
			let log = mediator.context("no mediator daemon")?.log();
			assert!(log.contains("the disputed records cannot decide"), "{}", market.logs());
		}
		// A shard whose RP was found at fault asks for a better record when posted again,
		// so the RP (which keeps offering) never runs it again.
		for shard in report["shards"].as_array().context("no shards")? {
			let attempts = shard["attempts"].as_array().context("no attempts")?;
			let after_fault = attempts
				.iter()
				.skip_while(|a| !a["match_id"].as_u64().is_some_and(|id| caught.contains(&id)))
				.skip(1);
			for later in after_fault {
				assert_ne!(later["resource_provider"], ferdie_account, "{shard}");
			}
		}
		let slipped = attempts.iter().filter(|a| a["outcome"] == "accepted").count();
		let sum = std::fs::read_to_string(work.join(&out).join("out/sum")).unwrap_or_default();
		if slipped == 0 {
			assert_eq!(report["succeeded"], true, "{report}");
			assert_eq!(sum.trim(), "333383335000", "every corrupted shard was re-run honestly");
		} else {
			// A shard that slipped through was accepted as the RP posted it: the sum shows it.
			assert_ne!(sum.trim(), "333383335000", "{slipped} corrupted shard(s) were accepted");
		}
		if !caught.is_empty() {
			return market.stop();
		}
		eprintln!("run {run}: {slipped} corrupted shard(s) slipped through their samples");
	}
	bail!("no spot check caught the corrupting RP in {RUNS_UNTIL_CAUGHT} runs")
}

/// The mediator is gone when a corrupted shard is disputed, and the RP that posted it
/// (//Ferdie, by hand) never closes the mediation, as the RP daemon would: the JC closes
/// it itself once the mediation window is over, posts the shard again, and the
/// map-reduce still ends with the right sum. The failed mediation pays the RP half the
/// estimate (the rule for a silent mediator) and counts against the mediator.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_mediator_does_not_hold_a_disputed_shard() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some(mut market) = docker_market_with(work, &["//Bob"]).await? else { return Ok(()) };
	let chain = Chain::connect(&market.url).await?;
	// A short mediation window (each match adds the mediator's runs to it), so the
	// failed mediation is due soon.
	let alice = keys::from_uri("//Alice")?;
	let mut parameters = chain.parameters().await?;
	parameters.mediation_window = 5_000;
	Market::new(&chain, &alice).set_parameters(parameters).await?;
	modicum_json(&market.url, &["jc", "register"])?;
	write_job_files(work)?;
	// One offer: //Ferdie takes one shard and corrupts every record of it, so the spot
	// check cannot miss; its second posting goes to //Bob.
	let ferdie = hand_driven_provider(&chain, "//Ferdie").await?;
	let charlie = keys::parse_account("//Charlie")?;
	let missed_before = mediations_missed(&chain, &charlie).await?;
	let mediator = market.daemons.iter().position(|d| d.name() == "mediator");
	drop(market.daemons.remove(mediator.context("the market has a mediator daemon")?));

	let corrupting =
		Corrupting { ferdie: &ferdie, every: 1, offers_again: false, reduce_answer: None };
	let CorruptedRun { report, corrupted, closed, .. } =
		run_beside_corrupting_rp(&market, &chain, work, &[], corrupting).await?;

	let [disputed] = corrupted[..] else {
		bail!("//Ferdie should have run exactly one shard: {corrupted:?}\n{report}")
	};
	assert!(
		closed
			.iter()
			.any(|(id, outcome)| *id == disputed && *outcome == CloseOutcome::MediationFailed),
		"match {disputed} did not close as a failed mediation: {closed:?}"
	);
	let shard = report["shards"]
		.as_array()
		.context("no shards")?
		.iter()
		.find(|shard| {
			shard["attempts"].as_array().into_iter().flatten().any(|a| a["match_id"] == disputed)
		})
		.context("no shard ran on the disputed match")?;
	let attempts = shard["attempts"].as_array().context("no attempts")?;
	assert_eq!(attempts.len(), 2, "{shard}");
	let outcome = attempts[0]["outcome"].as_str().unwrap_or_default();
	assert!(outcome.starts_with("rejected (wrong-results)"), "{shard}");
	assert!(outcome.ends_with("mediator: the mediator did not rule in time"), "{shard}");
	assert_eq!(attempts[1]["resource_provider"], keys::parse_account("//Bob")?.to_string());
	assert_eq!(attempts[1]["outcome"], "accepted", "{shard}");
	assert_eq!(shard["state"], "done", "{shard}");
	assert_eq!(report["succeeded"], true, "{report}");
	let sum = std::fs::read_to_string(work.join("result/out/sum"))?;
	assert_eq!(sum.trim(), "333383335000");
	assert_eq!(mediations_missed(&chain, &charlie).await?, missed_before + 1);
	market.stop()
}

/// //Ferdie computes the map shards honestly but posts a wrong answer for the reduce,
/// consistent with itself (its root is over the wrong file), so it downloads and
/// verifies. The JC re-runs the reduce here, finds another root and rejects it; the
/// mediator re-runs it and fines //Ferdie; the reduce, posted again, keeps //Ferdie away
/// and runs on //Bob; the answer the JC keeps is right. //Ferdie offers below //Bob's
/// prices, so the solver gives it the reduce while it has an offer open.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_reduce_is_caught_by_a_run_here_and_fined() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let work = dir.path();
	let Some((market, chain, mut ferdie)) = market_beside_ferdie(work).await? else {
		return Ok(());
	};
	ferdie.terms.instruction_price = 0;
	ferdie.terms.bandwidth_price = 0;
	ferdie.offer(&chain).await?;
	let ferdie_account = keys::account_of(&ferdie.keypair).to_string();

	let corrupting =
		Corrupting { ferdie: &ferdie, every: 0, offers_again: true, reduce_answer: Some("42") };
	let args = ["--attempts", "3"];
	let CorruptedRun { report, fined, .. } =
		run_beside_corrupting_rp(&market, &chain, work, &args, corrupting).await?;

	let attempts = report["reduce"]["attempts"].as_array().context("no reduce attempts")?;
	let first = &attempts[0];
	assert_eq!(first["resource_provider"], ferdie_account, "{report}");
	let outcome = first["outcome"].as_str().unwrap_or_default();
	assert!(outcome.contains("re-running the reduce here gave root"), "{report}");
	assert!(outcome.ends_with("mediator: wrong-results, resource-provider at fault"), "{report}");
	let fined_for = first["match_id"].as_u64().context("the first attempt has a match")?;
	assert!(fined.contains(&fined_for), "//Ferdie was not fined for the reduce: {fined:?}");
	for later in &attempts[1..] {
		assert_ne!(later["resource_provider"], ferdie_account, "{report}");
	}
	assert_eq!(report["reduce"]["state"], "done", "{report}");
	assert_eq!(report["succeeded"], true, "{report}");
	let sum = std::fs::read_to_string(work.join("result/out/sum"))?;
	assert_eq!(sum.trim(), "333383335000");
	market.stop()
}

/// How many mediations `who` let pass without a verdict, as the chain counts them.
async fn mediations_missed(chain: &Chain, who: &modicum_client::AccountId) -> Result<u32> {
	Ok(chain
		.reputation(who)
		.await?
		.into_iter()
		.find(|(role, _)| matches!(role, modicum_client::types::Role::Mediator))
		.map_or(0, |(_, record)| record.mediations_missed))
}
