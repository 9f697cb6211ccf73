//! Figure 4, chain-only settlement rate: full job lifecycles (post_job_offer,
//! post_resource_offer, post_match, post_result, accept_result: five signed
//! extrinsics) per second on a dev node, no containers; against the same number of
//! plain balance transfers per second on the same node. Then the same lifecycles
//! again with each account's calls of a step batched (the pallet's batched calls, as
//! the daemons and the CLI send them when several are ready), beside the unbatched
//! rate.
//!
//! Each step is signed with explicit nonces and handed to the pool without waiting per
//! transaction; the next step starts once the chain has reported every one of the
//! previous (its ids come from those events), and closes are counted from events.
//! Last, the pallet's state after every lifecycle has settled, beside its state
//! before the first: what settled jobs leave behind.
//! Accounts come in groups (job creator, RP, mediator, directory, solver) of at most
//! [`PER_GROUP`] lifecycles, since the runtime allows 256 open items per role.

use crate::{
	market::MDC,
	network::{slot_s, start_local, Network},
	pipeline,
	procfs::round3,
	row::{secs, Quantity, Row},
	setup::say,
	tx::{self, Account, Bulk, Event, Signed},
	weight::lifecycles_per_block,
	Ctx,
};
use anyhow::{Context, Result};
use modicum_client::{
	batch::{BatchPayload, MAX_CALLS_PER_BATCH},
	chain::{JobTerms, ResourceTerms},
	reference,
	runtime::{
		self,
		runtime_types::{
			modicum_runtime::RuntimeCall, pallet_compute_market::pallet::Call as MarketCall,
		},
	},
	types::Architecture,
	AccountId, Chain, MarketEvent,
};
use modicum_offchain::directory::DirectoryEndpoint;
use modicum_tests::{best_number, finalized_number, wait_for, Node};
use std::{
	collections::BTreeMap,
	time::{Duration, Instant},
};

/// Lifecycles per account group.
pub(crate) const PER_GROUP: usize = 200;
/// The base layer every RP and mediator declares and every job names.
const LAYER: [u8; 32] = [7; 32];
/// How long to wait for any one step.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(300);

/// The rates a network's rows aim for.
#[derive(Clone, Copy)]
struct Goals {
	/// Lifecycles per second with one extrinsic per call, if the issue sets a goal.
	single: Option<f64>,
	/// Lifecycles per second with batched calls.
	batched: f64,
}

impl Goals {
	fn of(network: Network) -> Goals {
		match network {
			Network::Dev => Goals { single: Some(100.0), batched: 1_000.0 },
			Network::Local => Goals { single: None, batched: 300.0 },
		}
	}
}

/// The figure's rows on `network`: one extrinsic per call, lifecycles batched (in
/// overlapping cohorts, and the same ones as the first row step by step), and the state
/// they leave.
pub async fn run(ctx: &Ctx, network: Network) -> Vec<Row> {
	let (suffix, on, goals) = (network.suffix(), network.describe(), Goals::of(network));
	let mut row = Row::new(
		&format!("chain-rate{suffix}"),
		&format!("chain-only settlement rate: full job lifecycles (5 signed extrinsics each) per second, {on}, no containers"),
		"—",
		&goals.single.map_or("— (the batched rate has the goal)".into(), |g| format!("≥ {g:.0} jobs/s")),
	);
	let mut batched = Row::new(
		&format!("chain-rate{suffix}.batched"),
		&format!("chain-only settlement rate with batched calls: each account's calls of a step in the pallet's batched calls (`post_matches`, `accept_results` and the like: up to 128 items, packed by declared weight), {on}, no containers"),
		"—",
		&format!("≥ {} jobs/s", thousands(goals.batched)),
	);
	let mut state = Row::new(
		&format!("chain-rate{suffix}.state"),
		"compute-market state left on chain by settled jobs: the pallet's keys and bytes after the three lifecycle runs, against before the first job",
		"—",
		"only the reputation counters grow",
	);
	if let Err(e) = measure(ctx, network, &mut row, &mut batched, &mut state).await {
		// The runs come one after another: a failure leaves the earlier rows measured.
		for r in [&mut row, &mut batched, &mut state] {
			if r.measured.is_none() {
				*r = r.clone().fail(&e);
			}
		}
	}
	vec![row, batched, state]
}

/// How a step's calls go to the chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Submission {
	/// One signed extrinsic per call, as the daemons sent them before batching.
	OnePerCall,
	/// Each account's calls in the pallet's batched calls, packed as the client
	/// library packs them (at most [`MAX_CALLS_PER_BATCH`] calls, and half the chain's
	/// largest extrinsic weight).
	Batched,
}

/// Which of a group's accounts signs a call.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Signer {
	Jc,
	Rp,
	Solver,
}

impl Group {
	fn signer(&mut self, who: Signer) -> &mut Account {
		match who {
			Signer::Jc => &mut self.jc,
			Signer::Rp => &mut self.rp,
			Signer::Solver => &mut self.solver,
		}
	}
}

/// One call of a lifecycle step: its group, who signs it, and the call.
pub(crate) type StepCall = (usize, Signer, MarketCall);

/// Signs a step's calls as `how` sends them; batches are packed as the client library
/// packs them ([`Chain::plan_batches`]).
pub(crate) async fn sign_step(
	bulk: &Bulk,
	chain: &Chain,
	groups: &mut [Group],
	calls: Vec<StepCall>,
	how: Submission,
) -> Result<Vec<Signed>> {
	match how {
		Submission::OnePerCall => calls
			.into_iter()
			.map(|(g, who, call)| sign_one(bulk, call, groups[g].signer(who)))
			.collect(),
		Submission::Batched => {
			let mut by_sender: BTreeMap<(usize, Signer), Vec<RuntimeCall>> = BTreeMap::new();
			for (g, who, call) in calls {
				by_sender.entry((g, who)).or_default().push(RuntimeCall::ComputeMarket(call));
			}
			let mut signed = Vec::new();
			for ((g, who), calls) in by_sender {
				for range in chain.plan_batches(&calls).await? {
					let batch = BatchPayload::for_calls(&calls[range]);
					signed.push(bulk.sign(&batch, groups[g].signer(who))?);
				}
			}
			Ok(signed)
		},
	}
}

/// Group `g`'s job offer of `terms` and a resource offer that fits it, with the
/// `(job, resource)` deposits given.
pub(crate) fn offer_pair(
	g: usize,
	terms: JobTerms,
	(job_deposit, resource_deposit): (u128, u128),
	expires_at: u64,
) -> [StepCall; 2] {
	let job = MarketCall::post_job_offer { terms, deposit: job_deposit, expires_at };
	let resource = MarketCall::post_resource_offer {
		terms: resource_terms(),
		deposit: resource_deposit,
		expires_at,
	};
	[(g, Signer::Jc, job), (g, Signer::Rp, resource)]
}

/// Signs one lifecycle call as its own extrinsic.
fn sign_one(bulk: &Bulk, call: MarketCall, signer: &mut Account) -> Result<Signed> {
	let market = runtime::transactions().compute_market();
	match call {
		MarketCall::post_job_offer { terms, deposit, expires_at } => {
			bulk.sign(&market.post_job_offer(terms, deposit, expires_at), signer)
		},
		MarketCall::post_resource_offer { terms, deposit, expires_at } => {
			bulk.sign(&market.post_resource_offer(terms, deposit, expires_at), signer)
		},
		MarketCall::post_match { job_offer_id, resource_offer_id, mediator } => {
			bulk.sign(&market.post_match(job_offer_id, resource_offer_id, mediator), signer)
		},
		MarketCall::post_result {
			match_id,
			status,
			reference,
			hash,
			instruction_count,
			bandwidth_used,
		} => bulk.sign(
			&market.post_result(
				match_id,
				status,
				reference,
				hash,
				instruction_count,
				bandwidth_used,
			),
			signer,
		),
		MarketCall::accept_result { match_id } => {
			bulk.sign(&market.accept_result(match_id), signer)
		},
		other => anyhow::bail!("not a lifecycle call: {other:?}"),
	}
}

/// One group's accounts.
pub(crate) struct Group {
	pub(crate) jc: Account,
	pub(crate) rp: Account,
	pub(crate) mediator: Account,
	pub(crate) directory: Account,
	pub(crate) solver: Account,
}

impl Group {
	fn all_mut(&mut self) -> [&mut Account; 5] {
		[&mut self.jc, &mut self.rp, &mut self.mediator, &mut self.directory, &mut self.solver]
	}
}

/// The flags of the chain-rate node: the dev chain with the single-state transaction
/// pool, since the default fork-aware pool drops most of a pre-signed burst (see
/// [`Bulk::submit_burst`]).
const CHAIN_RATE_NODE: &[&str] = &["--dev", "--pool-type", "single-state"];

/// A dev node on its own, started with `extra` flags, for the chain-only figures.
pub async fn dev_node(figure: &str, extra: &[&str]) -> Result<(tempfile::TempDir, Node)> {
	let dir = crate::market::work_dir(figure, "the node's data and log")?;
	say(figure, "starting a dev node");
	let mut node = Node::start("dev", &dir.path().join("node"), extra)?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	wait_for("dev blocks", 1, Duration::from_secs(30), || best_number(&rpc)).await?;
	Ok((dir, node))
}

/// Small job terms for `directory`: what a lifecycle needs, nothing more.
pub fn job_terms(directory: AccountId, now: u64) -> Result<JobTerms> {
	Ok(JobTerms {
		provider_record: None,
		instruction_limit: 1_000,
		bandwidth_limit: 1 << 20,
		instruction_max_price: 2_000_000,
		bandwidth_max_price: 1,
		completion_deadline: now + 3_600_000,
		match_incentive: MDC / 1000,
		first_layer_hash: LAYER,
		ram_limit: 64 << 20,
		local_storage_limit: 16 << 20,
		directory,
		job_reference: reference(&format!("jobs/bench@sha256:{}", "ab".repeat(32)))?,
		job_hash: [0xab; 32],
		arch: Architecture::Amd64,
	})
}

/// Resource terms that fit [`job_terms`].
pub fn resource_terms() -> ResourceTerms {
	ResourceTerms {
		creator_record: None,
		instruction_price: 1_000_000,
		instruction_cap: 10_000,
		memory_cap: 256 << 20,
		local_storage_cap: 64 << 20,
		bandwidth_cap: 16 << 20,
		bandwidth_price: 1,
		match_incentive: MDC / 1000,
	}
}

/// A rate as the table shows it: whole numbers, but two decimals below 10 (a slow
/// network's rate would otherwise read 0).
fn per_s(rate: f64) -> String {
	if rate < 10.0 {
		format!("{rate:.2}")
	} else {
		format!("{rate:.0}")
	}
}

/// `1000` as `1,000`.
fn thousands(n: f64) -> String {
	let n = n.round() as u64;
	if n >= 1_000 {
		format!("{},{:03}", n / 1_000, n % 1_000)
	} else {
		n.to_string()
	}
}

async fn measure(
	ctx: &Ctx,
	network: Network,
	row: &mut Row,
	batched: &mut Row,
	state: &mut Row,
) -> Result<()> {
	let jobs: usize = if ctx.smoke { 10 } else { 1_000 };
	let shape = pipeline_shape(network, ctx.smoke);
	let rows = [row, batched, state];
	match network {
		Network::Dev => {
			let (_dir, node) = dev_node("chain-rate", CHAIN_RATE_NODE).await?;
			let result = measure_on(&node, (jobs, shape), network, rows).await;
			result.map_err(|e| e.context(format!("the node's log ends:\n{}", node.log_tail())))
		},
		Network::Local => {
			let dir = tempfile::tempdir()?;
			// Every validator authors blocks from its own pool, so all run the single-state
			// pool the burst needs (see CHAIN_RATE_NODE).
			let flags = &CHAIN_RATE_NODE[1..];
			let mut network = start_local("chain-rate.local", dir.path(), flags).await?;
			let [row, batched, state] = rows;
			let result = measure_on(
				&network.alice,
				(jobs, shape),
				Network::Local,
				[row, &mut *batched, state],
			);
			result.await.map_err(|e| {
				e.context(format!("Alice's log ends:\n{}", network.alice.log_tail()))
			})?;
			// What the runtime's weights allow at most, beside what was reached.
			let slot = slot_s(&network.alice.rpc(Duration::from_secs(10)).await?).await?;
			let per_block =
				lifecycles_per_block(&Bulk::connect(&network.alice.url()).await?).await?;
			let batched_per_block =
				batched.details["lifecycles_per_block"].as_f64().unwrap_or_default();
			batched.notes.push(format!(
				"the chain's ceiling, one block per {} slot: {per_block:.0} lifecycles of single calls fit one block's normal-class ref time (their benchmarked weights), {:.0} lifecycles/s; {batched_per_block:.0} lifecycles as this run batched them (the weight its blocks used), {:.0} lifecycles/s",
				secs(slot),
				per_block / slot,
				batched_per_block / slot,
			));
			batched.details["ceiling"] = serde_json::json!({
				"lifecycles_per_block": per_block,
				"batched_lifecycles_per_block": batched_per_block,
				"slot_s": slot,
				"lifecycles_per_s": round3(per_block / slot),
				"batched_lifecycles_per_s": round3(batched_per_block / slot),
			});
			Ok(())
		},
	}
}

/// Cohorts in flight at most in the pipelined run: one per step, and the next one's
/// offers.
const LANES: usize = 5;
/// Each account's funds: what 200 lifecycles' deposits and fees need, many times over,
/// for 125 accounts out of Alice's endowment.
const FUNDS: u128 = 2_000 * MDC;

/// How the pipelined run cuts its lifecycles into cohorts. On the network, a block comes
/// every slot whatever the pool holds, so a cohort is as many lifecycles as one block
/// holds ([`pipeline::Shape::fitted`]): then each block can carry one step of each cohort
/// in flight. The dev node makes blocks as fast as it can, so its cohorts stay small.
fn pipeline_shape(network: Network, smoke: bool) -> pipeline::Shape {
	let (cohorts, groups_per_cohort, per_group, fill_blocks) = match (network, smoke) {
		(_, true) => (3, 1, 5, false),
		(Network::Dev, false) => (10, 1, PER_GROUP, false),
		// Five groups: a block holds about a thousand batched lifecycles, more than four
		// groups of PER_GROUP.
		(Network::Local, false) => (8, 5, PER_GROUP, true),
	};
	pipeline::Shape { cohorts, groups_per_cohort, per_group, fill_blocks }
}

async fn measure_on(
	node: &Node,
	(jobs, shape): (usize, pipeline::Shape),
	network: Network,
	rows: [&mut Row; 3],
) -> Result<()> {
	let [row, batched, state] = rows;
	let goals = Goals::of(network);
	let figure = format!("chain-rate{}", network.suffix());
	let url = node.url();
	let bulk = Bulk::connect(&url).await?;
	let chain = Chain::connect(&url).await?;
	let group_count = jobs.div_ceil(PER_GROUP).max(LANES * shape.groups_per_cohort);
	let mut groups = setup(&bulk, group_count, FUNDS).await?;
	let state_before = crate::state::pallet_usage(&chain, crate::state::PALLET).await?;
	let ours: BTreeMap<AccountId, usize> = groups
		.iter()
		.enumerate()
		.flat_map(|(g, group)| {
			[group.jc.id, group.rp.id, group.mediator.id, group.directory.id, group.solver.id]
				.map(|a| (a, g))
		})
		.collect();

	// Baseline: five transfers per lifecycle, from the same accounts.
	let transfers = jobs * 5;
	say(&figure, format!("{transfers} balance transfers"));
	let mut signed = Vec::new();
	let alice = modicum_client::keys::parse_account("//Alice")?;
	let mut senders: Vec<&mut Account> = groups.iter_mut().flat_map(|g| g.all_mut()).collect();
	for i in 0..transfers {
		let count = senders.len();
		signed.push(bulk.sign(&tx::transfer(&alice, MDC), senders[i % count])?);
	}
	let mut events = bulk.watch().await?;
	let start = Instant::now();
	bulk.submit_burst(signed).await?;
	let (_, last) = tx::collect(&mut events, transfers, STEP_TIMEOUT, |e| match e {
		Event::Balances(runtime::runtime_types::pallet_balances::pallet::Event::Transfer {
			from,
			..
		}) if ours.contains_key(from) => Some(()),
		_ => None,
	})
	.await?;
	let transfer_s = last.duration_since(start).as_secs_f64();
	let transfers_per_s = transfers as f64 / transfer_s;

	say(&figure, format!("{jobs} full job lifecycles"));
	let single =
		lifecycles(&bulk, &chain, &mut groups, &ours, jobs, Submission::OnePerCall).await?;
	let jobs_per_s = jobs as f64 / single.total;
	let extrinsic_ratio = jobs_per_s * 5.0 / transfers_per_s;
	row.measured = Some(Quantity::new(
		jobs_per_s,
		"jobs/s",
		format!("{} jobs/s ({jobs} lifecycles in {})", per_s(jobs_per_s), secs(single.total)),
	));
	row.baseline = Some(Quantity::new(
		transfers_per_s,
		"transfers/s",
		format!("{} transfers/s ({transfers} in {})", per_s(transfers_per_s), secs(transfer_s)),
	));
	row.comparison = Some(Quantity::new(
		extrinsic_ratio,
		"×",
		format!("{extrinsic_ratio:.2}× the transfer rate, per extrinsic"),
	));
	row.met = goals.single.map(|goal| jobs_per_s >= goal);
	row.notes.push(
		"the node runs the single-state pool (an instant-seal node's default; passed explicitly here): with the fork-aware pool, a pre-signed burst whose nonces reach the pool out of order is mostly dropped without an error (1,000 lifecycles' transfers: 193 of 5,000 included), and submitting each sender's transactions in order instead makes the pool itself the bottleneck (about 90 transfers/s, 5 lifecycles/s)".into(),
	);
	row.notes
		.push(format!("steps (each waits for the previous one's events): {}", single.steps_text()));
	row.details = serde_json::json!({
		"node_flags": match network {
			Network::Dev => CHAIN_RATE_NODE,
			Network::Local => &CHAIN_RATE_NODE[1..],
		},
		"lifecycles": jobs,
		"account_groups": groups.len(),
		"lifecycle_s": round3(single.total),
		"step_s": single.steps_json(),
		"lifecycle_extrinsics_per_s": round3(jobs_per_s * 5.0),
		"transfers": transfers,
		"transfer_s": round3(transfer_s),
	});

	say(&figure, format!("{jobs} full job lifecycles, batched, step by step"));
	let many = lifecycles(&bulk, &chain, &mut groups, &ours, jobs, Submission::Batched).await?;
	let stepwise_per_s = jobs as f64 / many.total;
	let normal = bulk.block_weights()?.per_class.normal;
	let normal_ref_time = normal.max_total.map_or(u64::MAX, |w| w.ref_time) as f64;
	let fit = |lifecycle: f64| (normal_ref_time / lifecycle.max(1.0)).floor();
	let shape = shape.fitted(fit(many.ref_time_per_lifecycle));
	say(
		&figure,
		format!(
			"{} full job lifecycles, batched, in overlapping cohorts of {}",
			shape.lifecycles(),
			shape.cohort_size()
		),
	);
	let now_ms = chain.now_ms().await?;
	let setting = pipeline::Setting {
		bulk: &bulk,
		chain: &chain,
		ours: &ours,
		now_ms,
		deposits: quote_deposits(&chain, &groups, now_ms).await?,
	};
	let piped = pipeline::run(&setting, &mut groups, shape).await?;
	let sustained = piped
		.steady_per_s()
		.context("the overlapping cohorts closed their lifecycles in a single block")?;
	batched.measured = Some(Quantity::new(
		sustained,
		"jobs/s",
		format!(
			"{} jobs/s sustained ({} lifecycles closed in {} of blocks after the first closing one)",
			per_s(sustained),
			piped.steady_closes,
			secs(piped.steady_s)
		),
	));
	batched.baseline = Some(Quantity::new(
		jobs_per_s,
		"jobs/s",
		format!("one extrinsic per call, step by step: {} jobs/s", per_s(jobs_per_s)),
	));
	let speedup = sustained / jobs_per_s;
	batched.comparison = Some(Quantity::new(
		speedup,
		"×",
		format!("×{speedup:.1} the unbatched rate (batched, and the steps overlapping)"),
	));
	batched.met = Some(sustained >= goals.batched);
	batched.notes.push(format!(
		"{} lifecycles in cohorts of {} ({} account group(s) each): a cohort's next step goes out once a best block has shown all of its previous one, and the next cohort starts once the one before has its offers in (and the cohort before it on the same account groups has closed), so that one block carries several cohorts' steps (up to {} cohorts were in flight); the rate counts the lifecycles closed in the {} closing blocks after the first, over their timestamps; from the first cohort's signing to the last close seen, fill and drain included: {} jobs/s ({})",
		shape.lifecycles(),
		shape.cohort_size(),
		shape.groups_per_cohort,
		piped.most_in_flight,
		piped.closing_blocks.saturating_sub(1),
		per_s(shape.lifecycles() as f64 / piped.whole_s),
		secs(piped.whole_s),
	));
	batched.notes.push(format!(
		"the same {jobs} lifecycles step by step, as the unbatched row (each step of all of them waits for the previous one's events in finalized blocks): {} jobs/s ({}), ×{:.1} the unbatched rate from batching alone; steps: {}",
		per_s(stepwise_per_s),
		secs(many.total),
		stepwise_per_s / jobs_per_s,
		many.steps_text()
	));
	batched.notes.push(format!(
		"same node and accounts, right after the unbatched run; plain transfers on it: {}/s",
		per_s(transfers_per_s)
	));
	batched.notes.push(format!(
		"the blocks of the runs used {:.2} ms of normal-class ref time per lifecycle batched in cohorts ({:.0} lifecycles fit a block's normal class), {:.2} ms batched step by step, {:.2} ms unbatched ({:.0}); refunds deducted",
		piped.ref_time_per_lifecycle / 1e9,
		fit(piped.ref_time_per_lifecycle),
		many.ref_time_per_lifecycle / 1e9,
		single.ref_time_per_lifecycle / 1e9,
		fit(single.ref_time_per_lifecycle),
	));
	batched.details = serde_json::json!({
		"lifecycles": shape.lifecycles(),
		"cohorts": shape.cohorts,
		"cohort_lifecycles": shape.cohort_size(),
		"groups_per_cohort": shape.groups_per_cohort,
		"most_cohorts_in_flight": piped.most_in_flight,
		"steady_closes": piped.steady_closes,
		"steady_s": round3(piped.steady_s),
		"closing_blocks": piped.closing_blocks,
		"whole_s": round3(piped.whole_s),
		"calls_per_extrinsic_max": MAX_CALLS_PER_BATCH,
		"stepwise": {
			"lifecycles": jobs,
			"lifecycle_s": round3(many.total),
			"step_s": many.steps_json(),
			"jobs_per_s": round3(stepwise_per_s),
			"ref_time_ps_per_lifecycle": round3(many.ref_time_per_lifecycle),
		},
		"unbatched_jobs_per_s": round3(jobs_per_s),
		"ref_time_ps_per_lifecycle": round3(piped.ref_time_per_lifecycle),
		"unbatched_ref_time_ps_per_lifecycle": round3(single.ref_time_per_lifecycle),
		"lifecycles_per_block": fit(piped.ref_time_per_lifecycle),
	});
	// The state is read at the finalized head, which the run, acting on best blocks,
	// may be ahead of.
	let rpc = chain.rpc();
	let last = piped.last_closing_block;
	wait_for("the last close finalized", last, STEP_TIMEOUT, || finalized_number(&rpc)).await?;
	let state_after = crate::state::pallet_usage(&chain, crate::state::PALLET).await?;
	crate::state::left_behind(state, &state_before, &state_after, jobs * 2 + shape.lifecycles());
	Ok(())
}

/// Creates, funds (`funds` each) and registers the groups, with trust lists and base layers so that
/// any of a group's job offers can match any of its resource offers.
pub(crate) async fn setup(bulk: &Bulk, count: usize, funds: u128) -> Result<Vec<Group>> {
	let mut groups = Vec::new();
	for g in 0..count {
		let uri = |role: &str| format!("//bench-{role}-{g}");
		groups.push(Group {
			jc: bulk.account(&uri("jc")).await?,
			rp: bulk.account(&uri("rp")).await?,
			mediator: bulk.account(&uri("mediator")).await?,
			directory: bulk.account(&uri("directory")).await?,
			solver: bulk.account(&uri("solver")).await?,
		});
	}
	let mut alice = bulk.account("//Alice").await?;
	let everyone: Vec<AccountId> =
		groups.iter_mut().flat_map(|g| g.all_mut().map(|a| a.id)).collect();
	tx::fund(bulk, &mut alice, &everyone, funds).await?;

	let market = || runtime::transactions().compute_market();
	let endpoint =
		DirectoryEndpoint { registry: "127.0.0.1:5000".into(), uptime: "127.0.0.1:5001".into() };
	let mut registrations = Vec::new();
	for g in &mut groups {
		registrations.push(bulk.sign(&market().register_job_creator(), &mut g.jc)?);
		registrations.push(bulk.sign(
			&market().register_resource_provider(Architecture::Amd64, 1_000_000),
			&mut g.rp,
		)?);
		registrations.push(bulk.sign(
			&market().register_mediator(Architecture::Amd64, 1_000_000, 1_000_000, 1, MDC / 1000),
			&mut g.mediator,
		)?);
		registrations.push(bulk.sign(
			&market().register_directory(reference(&endpoint.to_string())?, MDC / 1000),
			&mut g.directory,
		)?);
	}
	bulk.submit_and_wait(registrations).await.context("registering")?;
	let mut trust = Vec::new();
	for g in &mut groups {
		let (mediator, directory) = (g.mediator.id, g.directory.id);
		trust.push(bulk.sign(&market().trust_mediator(mediator), &mut g.jc)?);
		trust.push(bulk.sign(&market().trust_mediator(mediator), &mut g.rp)?);
		trust.push(bulk.sign(&market().trust_directory(directory), &mut g.rp)?);
		trust.push(bulk.sign(&market().add_base_layer(LAYER), &mut g.rp)?);
		trust.push(bulk.sign(&market().trust_directory(directory), &mut g.mediator)?);
		trust.push(bulk.sign(&market().add_base_layer(LAYER), &mut g.mediator)?);
	}
	bulk.submit_and_wait(trust).await.context("trusting and declaring base layers")?;
	Ok(groups)
}

/// How long the lifecycles took: in all, and per step; and the normal-class ref time
/// (ps, refunds deducted) their blocks used per lifecycle.
struct Lifecycles {
	total: f64,
	steps: [f64; 4],
	ref_time_per_lifecycle: f64,
}

impl Lifecycles {
	const STEPS: [&'static str; 4] = ["offers", "matches", "results", "accepts"];

	/// `offers 1.2 s, matches …`.
	fn steps_text(&self) -> String {
		let steps = Self::STEPS.iter().zip(self.steps);
		steps.map(|(name, s)| format!("{name} {}", secs(s))).collect::<Vec<_>>().join(", ")
	}

	/// `{"offers": 1.2, …}` in seconds.
	fn steps_json(&self) -> serde_json::Value {
		let steps = Self::STEPS.iter().zip(self.steps);
		steps.map(|(name, s)| (name.to_string(), serde_json::json!(round3(s)))).collect()
	}
}

/// The job and resource offer deposits the chain asks of each group's offers, for job
/// terms made at chain time `now` (ms).
pub(crate) async fn quote_deposits(
	chain: &Chain,
	groups: &[Group],
	now: u64,
) -> Result<Vec<(u128, u128)>> {
	let mut deposits = Vec::new();
	for g in groups {
		let terms = job_terms(g.directory.id, now)?;
		let job = chain.quote_job_deposit(&terms, Some(g.mediator.id)).await?;
		let resource = chain
			.quote_resource_deposit(&resource_terms(), Some(g.mediator.id), Some(g.directory.id))
			.await?;
		deposits.push((job, resource));
	}
	Ok(deposits)
}

async fn lifecycles(
	bulk: &Bulk,
	chain: &Chain,
	groups: &mut [Group],
	ours: &BTreeMap<AccountId, usize>,
	jobs: usize,
	how: Submission,
) -> Result<Lifecycles> {
	let now = chain.now_ms().await?;
	let expires_at = now + 1_800_000;
	let deposits = quote_deposits(chain, groups, now).await?;
	let group_of = |i: usize| i / PER_GROUP;

	// Offers: signed before the clock starts.
	let mut offers = Vec::new();
	for i in 0..jobs {
		let g = group_of(i);
		let terms = job_terms(groups[g].directory.id, now)?;
		offers.extend(offer_pair(g, terms, deposits[g], expires_at));
	}
	let offers = sign_step(bulk, chain, groups, offers, how).await?;
	let mut events = bulk.watch().await?;
	// Each block the steps' events came in, with the normal-class ref time it used.
	let mut blocks = BTreeMap::new();
	let start = Instant::now();
	bulk.submit_burst(offers).await?;
	// Offer ids per group, job and resource apart.
	let (posted, offers_done) =
		tx::collect_in_blocks(&mut events, jobs * 2, STEP_TIMEOUT, &mut blocks, |e| match e {
			Event::ComputeMarket(MarketEvent::JobOfferPosted { offer_id, creator, .. }) => {
				ours.get(creator).map(|g| (*g, true, *offer_id))
			},
			Event::ComputeMarket(MarketEvent::ResourceOfferPosted {
				offer_id, provider, ..
			}) => ours.get(provider).map(|g| (*g, false, *offer_id)),
			_ => None,
		})
		.await?;
	let mut job_offers: Vec<Vec<u64>> = vec![Vec::new(); groups.len()];
	let mut resource_offers: Vec<Vec<u64>> = vec![Vec::new(); groups.len()];
	for (g, is_job, id) in posted {
		if is_job {
			job_offers[g].push(id);
		} else {
			resource_offers[g].push(id);
		}
	}

	let mut matches = Vec::new();
	for (g, group) in groups.iter().enumerate() {
		for (job, resource) in job_offers[g].iter().zip(&resource_offers[g]) {
			let call = MarketCall::post_match {
				job_offer_id: *job,
				resource_offer_id: *resource,
				mediator: group.mediator.id,
			};
			matches.push((g, Signer::Solver, call));
		}
	}
	bulk.submit_burst(sign_step(bulk, chain, groups, matches, how).await?).await?;
	let (matched, matches_done) =
		tx::collect_in_blocks(&mut events, jobs, STEP_TIMEOUT, &mut blocks, |e| match e {
			Event::ComputeMarket(MarketEvent::Matched { match_id, job_creator, .. }) => {
				ours.get(job_creator).map(|g| (*g, *match_id))
			},
			_ => None,
		})
		.await?;

	let results = pipeline::results(&matched)?;
	bulk.submit_burst(sign_step(bulk, chain, groups, results, how).await?).await?;
	let (_, results_done) =
		tx::collect_in_blocks(&mut events, jobs, STEP_TIMEOUT, &mut blocks, |e| match e {
			Event::ComputeMarket(MarketEvent::ResultPosted { job_creator, .. }) => {
				ours.get(job_creator).map(|_| ())
			},
			_ => None,
		})
		.await?;

	let accepts = pipeline::accepts(&matched);
	bulk.submit_burst(sign_step(bulk, chain, groups, accepts, how).await?).await?;
	let matched_ids: std::collections::BTreeSet<u64> = matched.iter().map(|m| m.1).collect();
	let (_, closed) =
		tx::collect_in_blocks(&mut events, jobs, STEP_TIMEOUT, &mut blocks, |e| match e {
			Event::ComputeMarket(MarketEvent::MatchClosed { match_id, .. })
				if matched_ids.contains(match_id) =>
			{
				Some(())
			},
			_ => None,
		})
		.await?;
	let at = |t: Instant| t.duration_since(start).as_secs_f64();
	let marks = [at(offers_done), at(matches_done), at(results_done), at(closed)];
	let used: u64 = blocks.values().sum();
	Ok(Lifecycles {
		total: marks[3],
		steps: [marks[0], marks[1] - marks[0], marks[2] - marks[1], marks[3] - marks[2]],
		ref_time_per_lifecycle: used as f64 / jobs as f64,
	})
}
