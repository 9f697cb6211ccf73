//! Figure 4's sustained rate: batched lifecycles in cohorts whose steps overlap, as a
//! market's do. Each cohort goes through the four steps (offers, matches, results,
//! accepts), each step sent once the chain has shown all of the previous one; the next
//! cohort starts as soon as the one before it has all its offers in. So, once the
//! pipeline is full, every block carries one cohort's offers, another's matches, a
//! third's results and a fourth's accepts, and how many lifecycles close per second is
//! bounded by the chain (its weights, its slots, its node's speed) rather than by the
//! benchmark waiting between steps.
//!
//! The steps act on the best head, as the daemons do: a step is seen a slot after it
//! is sent. A best block retracted during the run voids it (the steps sent from its
//! events, and the ids they name, may not hold), and the run fails saying so. The rate is taken from the blocks' own timestamps over the blocks that
//! closed lifecycles, the first closing block left out (the fill).

use crate::{
	chain_rate::{job_terms, offer_pair, sign_step, Group, Signer, StepCall, STEP_TIMEOUT},
	tx::{Bulk, Event, Seen},
};
use anyhow::{bail, Context, Result};
use modicum_client::{
	reference, runtime::runtime_types::pallet_compute_market::pallet::Call as MarketCall,
	types::ResultStatus, AccountId, Chain, MarketEvent,
};
use std::{
	collections::{BTreeMap, BTreeSet},
	sync::atomic::Ordering,
	time::Instant,
};

/// The share of a block's normal class a network cohort fills: the rest leaves room for
/// the difference between the weights of the step-by-step run the size is taken from
/// and the cohorts' own (another account group's first item of a batch weighs more).
/// At 96 % of a block of light batched lifecycles, part of each step slipped to the next
/// slot on a two-core machine running four validators.
const BLOCK_SHARE: f64 = 0.92;

/// How the lifecycles are cut into cohorts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
	/// Cohorts, one after another.
	pub(crate) cohorts: usize,
	/// Account groups per cohort.
	pub(crate) groups_per_cohort: usize,
	/// Lifecycles per group of a cohort (at most [`crate::chain_rate::PER_GROUP`]).
	pub(crate) per_group: usize,
	/// Whether [`Shape::fitted`] cuts cohorts to what one block holds.
	pub(crate) fill_blocks: bool,
}

impl Shape {
	/// Lifecycles in one cohort.
	pub(crate) fn cohort_size(self) -> usize {
		self.groups_per_cohort * self.per_group
	}

	/// Lifecycles in all.
	pub(crate) fn lifecycles(self) -> usize {
		self.cohorts * self.cohort_size()
	}

	/// If it fills blocks: cohorts cut to [`BLOCK_SHARE`] of `per_block`, the batched
	/// lifecycles one block's normal class holds at the weight the chain charged them. A
	/// cohort one block cannot hold leaves part of each step to the next slot, and the
	/// pipeline then moves a step every other slot.
	pub(crate) fn fitted(self, per_block: f64) -> Shape {
		if !self.fill_blocks {
			return self;
		}
		let per_group = (per_block * BLOCK_SHARE / self.groups_per_cohort as f64).floor();
		Shape { per_group: (per_group as usize).clamp(1, self.per_group), ..self }
	}
}

/// What the pipelined run measured.
pub(crate) struct Pipelined {
	/// From the first cohort's signing to the last close seen.
	pub(crate) whole_s: f64,
	/// Lifecycles closed in the closing blocks after the first one.
	pub(crate) steady_closes: usize,
	/// The time between the first and the last closing block's timestamps.
	pub(crate) steady_s: f64,
	/// Blocks that closed lifecycles.
	pub(crate) closing_blocks: usize,
	/// The number of the last of them.
	pub(crate) last_closing_block: u64,
	/// Most cohorts in flight at once.
	pub(crate) most_in_flight: usize,
	/// Normal-class ref time (ps, refunds deducted) the run's blocks used per lifecycle.
	pub(crate) ref_time_per_lifecycle: f64,
}

impl Pipelined {
	/// Lifecycles closed per second once the pipeline was full.
	pub(crate) fn steady_per_s(&self) -> Option<f64> {
		(self.steady_s > 0.0).then(|| self.steady_closes as f64 / self.steady_s)
	}
}

/// Where a cohort is: the step whose events it waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
	/// Not started.
	Waiting,
	/// Its job and resource offers sent.
	Offers,
	/// Its matches sent.
	Matches,
	/// Its results sent.
	Results,
	/// Its accepts sent.
	Accepts,
	/// Every lifecycle closed: its lane's groups are free.
	Done,
}

/// One cohort's progress: the ids the chain has shown for its current step.
struct Cohort {
	/// Its account groups (its lane).
	groups: std::ops::Range<usize>,
	/// Its step.
	stage: Stage,
	/// Job and resource offer ids by group, in the order they were seen.
	job_offers: BTreeMap<usize, Vec<u64>>,
	resource_offers: BTreeMap<usize, Vec<u64>>,
	/// Its matches and their groups.
	matches: Vec<(usize, u64)>,
	/// Ids seen in the current step.
	seen: BTreeSet<u64>,
}

impl Cohort {
	/// A cohort not started, on `groups`.
	fn new(groups: std::ops::Range<usize>) -> Cohort {
		Cohort {
			groups,
			stage: Stage::Waiting,
			job_offers: BTreeMap::new(),
			resource_offers: BTreeMap::new(),
			matches: Vec::new(),
			seen: BTreeSet::new(),
		}
	}
}

/// The accounts, their offers' deposits and the clock the run's calls use.
pub(crate) struct Setting<'a> {
	pub(crate) bulk: &'a Bulk,
	pub(crate) chain: &'a Chain,
	/// Group of each of the run's accounts.
	pub(crate) ours: &'a BTreeMap<AccountId, usize>,
	/// Chain time (ms) when the run began.
	pub(crate) now_ms: u64,
	/// Job and resource offer deposits per group.
	pub(crate) deposits: Vec<(u128, u128)>,
}

/// Runs `shape`'s lifecycles through the pallet's batched calls with the cohorts'
/// steps overlapping, on `groups` (at least two cohorts' worth).
pub(crate) async fn run(
	setting: &Setting<'_>,
	groups: &mut [Group],
	shape: Shape,
) -> Result<Pipelined> {
	let lanes = groups.len() / shape.groups_per_cohort;
	if lanes < 2 {
		bail!("{} account groups hold fewer than two cohorts of {shape:?}", groups.len());
	}
	let mut cohorts: Vec<Cohort> = (0..shape.cohorts)
		.map(|c| {
			let first = (c % lanes) * shape.groups_per_cohort;
			Cohort::new(first..first + shape.groups_per_cohort)
		})
		.collect();
	// The cohort each group serves now, and the cohort of each match.
	let mut serving: BTreeMap<usize, usize> = BTreeMap::new();
	let mut cohort_of_match: BTreeMap<u64, usize> = BTreeMap::new();
	// Per block: its timestamp and how many lifecycles it closed; and the ref time each
	// block of the run used.
	let mut closing: BTreeMap<u64, (u64, usize)> = BTreeMap::new();
	let mut used: BTreeMap<u64, u64> = BTreeMap::new();
	let (mut events, retracted) = setting.bulk.watch_best().await?;
	let start = Instant::now();
	let (mut launched, mut done, mut most_in_flight) = (0, 0, 0);
	let mut last_close = start;
	// Fails once no cohort has moved on for this long.
	let mut deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
	loop {
		// Start the next cohort once the one before it has its offers in and its lane's
		// previous cohort has closed.
		while launched < shape.cohorts
			&& (launched == 0 || cohorts[launched - 1].stage != Stage::Offers)
			&& (launched < lanes || cohorts[launched - lanes].stage == Stage::Done)
		{
			let c = launched;
			for g in cohorts[c].groups.clone() {
				serving.insert(g, c);
			}
			cohorts[c].stage = Stage::Offers;
			let calls = offers(setting, groups, &cohorts[c], shape.per_group)?;
			send(setting, groups, calls).await?;
			launched += 1;
			most_in_flight = most_in_flight.max(launched - done);
		}
		if done == shape.cohorts {
			break;
		}
		let Ok(seen) = tokio::time::timeout_at(deadline, events.recv()).await else {
			bail!(
				"no cohort moved on within {STEP_TIMEOUT:?} ({done} of {} closed)",
				shape.cohorts
			);
		};
		let seen: Seen = seen.context("the block subscription ended")?;
		if retracted.load(Ordering::Relaxed) {
			bail!("a best block was retracted during the run: the steps sent from its events may not hold, so the run is void");
		}
		if let Some(error) = seen.failure {
			bail!("an extrinsic failed in block {}: {error}", seen.block);
		}
		used.insert(seen.block, seen.normal_ref_time);
		let Some((c, id)) = route(setting.ours, &serving, &cohort_of_match, &seen.event) else {
			continue;
		};
		let cohort = &mut cohorts[c];
		let expected = match cohort.stage {
			Stage::Offers => 2 * shape.cohort_size(),
			_ => shape.cohort_size(),
		};
		if !cohort.seen.insert(id.key()) {
			continue;
		}
		match (cohort.stage, id) {
			(Stage::Offers, Id::JobOffer(g, offer)) => {
				cohort.job_offers.entry(g).or_default().push(offer)
			},
			(Stage::Offers, Id::ResourceOffer(g, offer)) => {
				cohort.resource_offers.entry(g).or_default().push(offer)
			},
			(Stage::Matches, Id::Matched(g, match_id)) => {
				cohort.matches.push((g, match_id));
				cohort_of_match.insert(match_id, c);
			},
			(Stage::Results, Id::ResultPosted(_)) => {},
			(Stage::Accepts, Id::Closed(_)) => {
				let entry = closing.entry(seen.block).or_insert((seen.block_ms, 0));
				entry.1 += 1;
				last_close = seen.at;
			},
			(stage, id) => bail!("cohort {c} at {stage:?} saw {id:?}"),
		}
		if cohort.seen.len() < expected {
			continue;
		}
		cohort.seen.clear();
		let (next, calls) = match cohort.stage {
			Stage::Offers => (Stage::Matches, matches(groups, cohort)),
			Stage::Matches => (Stage::Results, results(&cohort.matches)?),
			Stage::Results => (Stage::Accepts, accepts(&cohort.matches)),
			stage => {
				cohort.stage = Stage::Done;
				done += 1;
				deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
				debug_assert_eq!(stage, Stage::Accepts);
				continue;
			},
		};
		cohort.stage = next;
		send(setting, groups, calls).await?;
		deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
	}
	if retracted.load(Ordering::Relaxed) {
		bail!("a best block was retracted during the run: its closes may not hold, so the run is void");
	}
	let (first, (last_closing_block, last)) =
		match (closing.first_key_value(), closing.last_key_value()) {
			(Some((_, first)), Some((number, last))) => (*first, (*number, *last)),
			_ => bail!("no lifecycle closed"),
		};
	let steady_closes = closing.values().skip(1).map(|(_, n)| n).sum();
	let used: u64 = used.values().sum();
	Ok(Pipelined {
		whole_s: last_close.duration_since(start).as_secs_f64(),
		steady_closes,
		steady_s: last.0.saturating_sub(first.0) as f64 / 1000.0,
		closing_blocks: closing.len(),
		last_closing_block,
		most_in_flight,
		ref_time_per_lifecycle: used as f64 / shape.lifecycles() as f64,
	})
}

/// What an event says about a cohort's step: ids, with the group where the next step
/// needs it.
#[derive(Clone, Copy, Debug)]
enum Id {
	/// A job offer of a group.
	JobOffer(usize, u64),
	/// A resource offer of a group.
	ResourceOffer(usize, u64),
	/// A match of a group's offers.
	Matched(usize, u64),
	/// A match's result.
	ResultPosted(u64),
	/// A match closed.
	Closed(u64),
}

impl Id {
	/// Its id within a step: offers' ids are unique across job and resource offers.
	fn key(self) -> u64 {
		match self {
			Id::JobOffer(_, id)
			| Id::ResourceOffer(_, id)
			| Id::Matched(_, id)
			| Id::ResultPosted(id)
			| Id::Closed(id) => id,
		}
	}
}

/// The cohort an event of the run belongs to, and what it says.
fn route(
	ours: &BTreeMap<AccountId, usize>,
	serving: &BTreeMap<usize, usize>,
	cohort_of_match: &BTreeMap<u64, usize>,
	event: &Event,
) -> Option<(usize, Id)> {
	match event {
		Event::ComputeMarket(MarketEvent::JobOfferPosted { offer_id, creator, .. }) => {
			let g = *ours.get(creator)?;
			Some((*serving.get(&g)?, Id::JobOffer(g, *offer_id)))
		},
		Event::ComputeMarket(MarketEvent::ResourceOfferPosted { offer_id, provider, .. }) => {
			let g = *ours.get(provider)?;
			Some((*serving.get(&g)?, Id::ResourceOffer(g, *offer_id)))
		},
		Event::ComputeMarket(MarketEvent::Matched { match_id, job_creator, .. }) => {
			let g = *ours.get(job_creator)?;
			Some((*serving.get(&g)?, Id::Matched(g, *match_id)))
		},
		Event::ComputeMarket(MarketEvent::ResultPosted { match_id, .. }) => {
			Some((*cohort_of_match.get(match_id)?, Id::ResultPosted(*match_id)))
		},
		Event::ComputeMarket(MarketEvent::MatchClosed { match_id, .. }) => {
			Some((*cohort_of_match.get(match_id)?, Id::Closed(*match_id)))
		},
		_ => None,
	}
}

/// Signs `calls` in the pallet's batched calls and hands them to the pool.
async fn send(setting: &Setting<'_>, groups: &mut [Group], calls: Vec<StepCall>) -> Result<()> {
	let how = crate::chain_rate::Submission::Batched;
	let signed = sign_step(setting.bulk, setting.chain, groups, calls, how).await?;
	setting.bulk.submit_burst(signed).await
}

/// A cohort's job and resource offers, `per_group` of each per group.
fn offers(
	setting: &Setting<'_>,
	groups: &[Group],
	cohort: &Cohort,
	per_group: usize,
) -> Result<Vec<StepCall>> {
	let expires_at = setting.now_ms + 1_800_000;
	let mut calls = Vec::new();
	for g in cohort.groups.clone() {
		for _ in 0..per_group {
			let terms = job_terms(groups[g].directory.id, setting.now_ms)?;
			calls.extend(offer_pair(g, terms, setting.deposits[g], expires_at));
		}
	}
	Ok(calls)
}

/// Each group's job offers matched with its resource offers, in the order seen.
fn matches(groups: &[Group], cohort: &Cohort) -> Vec<StepCall> {
	let mut calls = Vec::new();
	for (g, jobs) in &cohort.job_offers {
		let resources = cohort.resource_offers.get(g).map(Vec::as_slice).unwrap_or_default();
		for (job, resource) in jobs.iter().zip(resources) {
			let call = MarketCall::post_match {
				job_offer_id: *job,
				resource_offer_id: *resource,
				mediator: groups[*g].mediator.id,
			};
			calls.push((*g, Signer::Solver, call));
		}
	}
	calls
}

/// A completed result for each of `matches` (group, match id), sent by its group's RP.
pub(crate) fn results(matches: &[(usize, u64)]) -> Result<Vec<StepCall>> {
	let result_ref = reference(&format!("results/bench@sha256:{}", "cd".repeat(32)))?;
	Ok(matches
		.iter()
		.map(|&(g, match_id)| {
			let call = MarketCall::post_result {
				match_id,
				status: ResultStatus::Completed,
				reference: result_ref.clone(),
				hash: [0xcd; 32],
				instruction_count: 500,
				bandwidth_used: 1 << 10,
			};
			(g, Signer::Rp, call)
		})
		.collect())
}

/// The JC's accept of each of `matches` (group, match id).
pub(crate) fn accepts(matches: &[(usize, u64)]) -> Vec<StepCall> {
	let accept =
		|&(g, match_id): &(usize, u64)| (g, Signer::Jc, MarketCall::accept_result { match_id });
	matches.iter().map(accept).collect()
}
