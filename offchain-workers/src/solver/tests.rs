//! Tests of the feasibility rules, the book and the matching, including cross-checks
//! against exhaustive search and against a dense Hungarian.

use super::{
	sample::{first_fit, Rng},
	*,
};

use super::fixtures::*;

fn total_cost(proposals: &[Proposal]) -> u128 {
	proposals.iter().map(|p| p.cost).sum()
}

fn pairs(proposals: &[Proposal]) -> Vec<(u64, u64)> {
	proposals.iter().map(|p| (p.job_offer_id, p.resource_offer_id)).collect()
}

// ------------------------------------------------------------------ feasibility

/// A feasible (job, resource, provider, job creator, mediator) set, to break one rule
/// at a time.
struct Pair {
	job: JobOfferView,
	resource: ResourceOfferView,
	provider: ProviderView,
	job_creator: JobCreatorView,
	directory: DirectoryView,
	mediator: MediatorView,
	rules: MatchRules,
}

impl Pair {
	fn feasible() -> Self {
		Pair {
			job: job(1),
			resource: resource(2, 3),
			provider: provider(),
			job_creator: job_creator(),
			directory: DirectoryView { availability_price: 2 },
			mediator: mediator(5),
			rules: MatchRules::default(),
		}
	}

	fn check(&self) -> Result<(), Infeasible> {
		let pair = feasibility::Pair {
			job: &self.job,
			resource: &self.resource,
			provider: &self.provider,
			job_creator: &self.job_creator,
			directory: &self.directory,
		};
		check(&pair, &acct(MEDIATOR), &self.mediator, &self.rules, NOW)
	}
}

/// Breaks the feasible pair with `change` and expects exactly `expected`, of rule
/// `rule`.
fn fails_with(change: impl FnOnce(&mut Pair), expected: Infeasible, rule: Option<u8>) {
	let mut pair = Pair::feasible();
	assert_eq!(pair.check(), Ok(()));
	change(&mut pair);
	assert_eq!(pair.check(), Err(expected));
	assert_eq!(expected.rule(), rule);
}

#[test]
fn rule_1_instruction_cap() {
	fails_with(|p| p.resource.instruction_cap = 99, Infeasible::InstructionCapTooLow, Some(1));
	let mut p = Pair::feasible();
	p.resource.instruction_cap = 100;
	assert_eq!(p.check(), Ok(()), "a cap equal to the limit is enough");
}

#[test]
fn rule_2_memory_cap() {
	fails_with(|p| p.resource.memory_cap = 99, Infeasible::MemoryCapTooLow, Some(2));
}

#[test]
fn rule_3_local_storage_cap() {
	fails_with(|p| p.resource.local_storage_cap = 99, Infeasible::LocalStorageCapTooLow, Some(3));
}

#[test]
fn rule_4_bandwidth_cap() {
	fails_with(|p| p.resource.bandwidth_cap = 9, Infeasible::BandwidthCapTooLow, Some(4));
}

#[test]
fn rule_5_instruction_price() {
	fails_with(|p| p.resource.instruction_price = 11, Infeasible::InstructionPriceTooHigh, Some(5));
	let mut p = Pair::feasible();
	p.resource.instruction_price = 10;
	assert_eq!(p.check(), Ok(()), "a price equal to the maximum is accepted");
}

#[test]
fn rule_6_bandwidth_price() {
	fails_with(|p| p.resource.bandwidth_price = 11, Infeasible::BandwidthPriceTooHigh, Some(6));
}

#[test]
fn rule_7_architecture() {
	fails_with(
		|p| p.provider.arch = Architecture::Arm64,
		Infeasible::ArchitectureMismatch,
		Some(7),
	);
}

#[test]
fn rule_8_directory_trusted_by_provider() {
	fails_with(
		|p| p.provider.trusted_directories = vec![acct(31)],
		Infeasible::DirectoryNotTrustedByProvider,
		Some(8),
	);
}

#[test]
fn rule_9_mediator_trusted_by_job_creator() {
	fails_with(
		|p| p.job_creator.trusted_mediators.clear(),
		Infeasible::MediatorNotTrustedByJobCreator,
		Some(9),
	);
}

#[test]
fn rule_9_mediator_trusted_by_provider() {
	fails_with(
		|p| p.provider.trusted_mediators = vec![acct(11)],
		Infeasible::MediatorNotTrustedByProvider,
		Some(9),
	);
}

#[test]
fn rule_9_mediator_architecture() {
	fails_with(
		|p| p.mediator.arch = Architecture::Riscv64,
		Infeasible::MediatorArchitectureMismatch,
		Some(9),
	);
}

#[test]
fn rule_9_directory_trusted_by_mediator() {
	fails_with(
		|p| p.mediator.trusted_directories.clear(),
		Infeasible::DirectoryNotTrustedByMediator,
		Some(9),
	);
}

#[test]
fn rule_10_base_layer_supported_by_provider() {
	fails_with(
		|p| p.provider.base_layers = vec![acct(41)],
		Infeasible::BaseLayerNotSupportedByProvider,
		Some(10),
	);
}

#[test]
fn rule_10_base_layer_supported_by_mediator() {
	fails_with(
		|p| p.mediator.base_layers.clear(),
		Infeasible::BaseLayerNotSupportedByMediator,
		Some(10),
	);
}

#[test]
fn rule_11_deadline() {
	// 100 instructions × 1 ms = 100 ms.
	fails_with(|p| p.job.completion_deadline = NOW + 99, Infeasible::DeadlineUnreachable, Some(11));
	let mut p = Pair::feasible();
	p.job.completion_deadline = NOW + 100;
	assert_eq!(p.check(), Ok(()), "finishing exactly at the deadline is in time");
}

#[test]
fn rule_11_rounds_the_run_time_up_to_whole_milliseconds() {
	assert_eq!(finish_time_ms(NOW, 1, 1), u128::from(NOW) + 1, "1 ns counts as 1 ms");
	assert_eq!(finish_time_ms(NOW, 1_000_000, 1), u128::from(NOW) + 1);
	assert_eq!(finish_time_ms(NOW, 1_000_001, 1), u128::from(NOW) + 2);
	assert_eq!(finish_time_ms(NOW, 0, 1_000), u128::from(NOW));
	assert!(finish_time_ms(u64::MAX, u64::MAX, u64::MAX) > u128::from(u64::MAX), "no overflow");

	let mut p = Pair::feasible();
	p.provider.time_per_instruction_ns = 1;
	p.job.instruction_limit = 1;
	p.job.completion_deadline = NOW;
	assert_eq!(p.check(), Err(Infeasible::DeadlineUnreachable));
	p.job.completion_deadline = NOW + 1;
	assert_eq!(p.check(), Ok(()));

	// The solver's index restates rule 11 without division; it must agree at the edge.
	let mut j = job(1);
	j.instruction_limit = 1;
	j.completion_deadline = NOW;
	let mut book = book_with(vec![j.clone()], vec![resource(2, 1)]);
	let mut fast = provider();
	fast.time_per_instruction_ns = 1;
	book.upsert_provider(acct(PROVIDER), fast.clone());
	assert!(book.solve(NOW).is_empty());
	j.completion_deadline = NOW + 1;
	book.insert_job_offer(j);
	assert_eq!(pairs(&book.solve(NOW)), vec![(1, 2)]);
	fast.time_per_instruction_ns = 0;
	book.upsert_provider(acct(PROVIDER), fast);
	assert_eq!(
		pairs(&book.solve(NOW + 1)),
		vec![(1, 2)],
		"an instant provider meets a deadline of now"
	);
}

#[test]
fn rule_12_offers_must_be_open() {
	let mut book = book_with(vec![job(1)], vec![resource(2, 3)]);
	assert_eq!(book.check_pair(1, 2, &acct(MEDIATOR), NOW), Ok(()));
	assert_eq!(book.check_pair(1, 7, &acct(MEDIATOR), NOW), Err(Infeasible::ResourceOfferNotOpen));
	book.remove_job_offer(1);
	let err = book.check_pair(1, 2, &acct(MEDIATOR), NOW);
	assert_eq!(err, Err(Infeasible::JobOfferNotOpen));
	assert_eq!(Infeasible::JobOfferNotOpen.rule(), Some(12));
	assert_eq!(Infeasible::ResourceOfferNotOpen.rule(), Some(12));
	assert!(book.solve(NOW).is_empty(), "a matched or cancelled offer is not proposed");
}

#[test]
fn expired_offers_are_infeasible() {
	fails_with(|p| p.job.expires_at = NOW - 1, Infeasible::JobOfferExpired, None);
	fails_with(|p| p.resource.expires_at = NOW - 1, Infeasible::ResourceOfferExpired, None);
	let mut p = Pair::feasible();
	p.job.expires_at = NOW;
	p.resource.expires_at = NOW;
	assert_eq!(p.check(), Ok(()), "an offer can be matched at its expiry moment");
}

#[test]
fn deposits_must_cover_the_match() {
	// π̂_c = 1100, the RP's estimate 310, π_m at most 2 · 110. JC: max(310 + 220,
	// 1100 / 2) + 50 · 1100 + availability halves 3 + 1 + incentive 1. RP: max(530,
	// 1100) + 50 · 310 + halves 2 + 1 + incentive 1.
	let (jc, rp) = (550 + 55_000 + 4 + 1, 1_100 + 15_500 + 3 + 1);
	fails_with(|p| p.job.deposit = jc - 1, Infeasible::JobDepositTooLowForMatch, None);
	fails_with(|p| p.resource.deposit = rp - 1, Infeasible::ResourceDepositTooLowForMatch, None);
	let mut p = Pair::feasible();
	(p.job.deposit, p.resource.deposit) = (jc, rp);
	assert_eq!(p.check(), Ok(()), "the exact minimums are enough");
	// Stakes that overflow the chain's arithmetic are refused, not wrapped.
	fails_with(|p| p.job.instruction_max_price = u128::MAX / 10, Infeasible::StakesOverflow, None);
	fails_with(
		|p| p.rules.penalty_rate_parts = u128::MAX,
		Infeasible::JobDepositTooLowForMatch,
		None,
	);
}

#[test]
fn a_mediator_too_slow_for_n_runs_is_infeasible() {
	// 2 runs of 100 instructions at 4 days each, plus 30 min, is beyond a week.
	fails_with(
		|p| p.mediator.time_per_instruction_ns = 4 * 86_400_000 * 1_000_000 / 100,
		Infeasible::MediatorTooSlow,
		Some(9),
	);
}

/// The chain's own test figures (pallet tests `offers_below_the_minimum_deposit…` and
/// `hole_2_…`): the solver's minimums are the chain's to the unit.
#[test]
fn match_minimums_are_the_chains() {
	let terms = MatchTerms {
		instruction_limit: 1_000,
		bandwidth_limit: 500,
		instruction_max_price: 2,
		bandwidth_max_price: 1,
		instruction_price: 2,
		bandwidth_price: 1,
		mediator_instruction_price: 1,
		mediator_bandwidth_price: 1,
		mediator_availability: 7,
		directory_availability: 5,
		job_incentive: 5,
		resource_incentive: 0,
	};
	let rules = MatchRules::default();
	assert_eq!(stakes::match_minimums(&rules, &terms).map(|m| m.0), Some(130_512));
	let free_work = MatchTerms { instruction_price: 0, bandwidth_price: 0, ..terms };
	assert_eq!(stakes::match_minimums(&rules, &free_work).map(|m| m.1), Some(3_005));
	assert_eq!(stakes::penalty(3, PENALTY_HALF), Some(2), "θ · v rounds up");
}

/// θ = 0.5 in parts per 10^18.
const PENALTY_HALF: u128 = stakes::PENALTY_RATE_PARTS_PER_UNIT / 2;

#[test]
fn checks_run_in_the_chain_order() {
	// Break rules 1 and 11 and the mediator price: rule 1 is reported.
	let mut p = Pair::feasible();
	p.resource.instruction_cap = 0;
	p.job.completion_deadline = NOW;
	p.job.deposit = 0;
	assert_eq!(p.check(), Err(Infeasible::InstructionCapTooLow));
	// Expiry comes before everything.
	p.job.expires_at = NOW - 1;
	assert_eq!(p.check(), Err(Infeasible::JobOfferExpired));
}

#[test]
fn unknown_accounts_are_infeasible() {
	let mut book = book_with(vec![job(1)], vec![resource(2, 3)]);
	assert_eq!(book.check_pair(1, 2, &acct(99), NOW), Err(Infeasible::UnknownMediator));
	book.remove_job_creator(&acct(JC));
	assert_eq!(book.check_pair(1, 2, &acct(MEDIATOR), NOW), Err(Infeasible::UnknownJobCreator));
	assert!(book.solve(NOW).is_empty());
	book.upsert_job_creator(acct(JC), job_creator());
	book.remove_provider(&acct(PROVIDER));
	assert_eq!(book.check_pair(1, 2, &acct(MEDIATOR), NOW), Err(Infeasible::UnknownProvider));
	assert!(book.solve(NOW).is_empty());
	book.upsert_provider(acct(PROVIDER), provider());
	book.remove_mediator(&acct(MEDIATOR));
	assert!(book.solve(NOW).is_empty());
	book.upsert_mediator(acct(MEDIATOR), mediator(5));
	assert_eq!(pairs(&book.solve(NOW)), vec![(1, 2)]);
	book.remove_directory(&acct(DIRECTORY));
	assert_eq!(book.check_pair(1, 2, &acct(MEDIATOR), NOW), Err(Infeasible::UnknownDirectory));
	assert!(book.solve(NOW).is_empty());
}

// --------------------------------------------------------------------- matching

#[test]
fn maximum_cardinality_beats_first_fit() {
	// Job 1 fits R10 and R11 (R10 cheaper); job 2 fits only R10 (needs more memory).
	let mut needy = job(2);
	needy.ram_limit = 500;
	let mut small = resource(11, 2);
	small.memory_cap = 200;
	let book = book_with(vec![job(1), needy], vec![resource(10, 1), small]);
	assert_eq!(first_fit(&book, NOW).len(), 1, "first fit strands job 2");
	for k in [2, 32] {
		let proposals = book.solve_with(NOW, SolveOptions { candidates_per_job: k });
		assert_eq!(pairs(&proposals), vec![(1, 11), (2, 10)], "K = {k}");
	}
	// With K = 1 job 1 knows only R10 (its cheapest, and unmatched when it was added),
	// so the swap is outside the candidate graph: the documented limit of a small K.
	// The answer is still valid and maximal.
	let narrow = book.solve_with(NOW, SolveOptions { candidates_per_job: 1 });
	assert!(!narrow.is_empty());
	for p in &narrow {
		assert_eq!(book.check_pair(p.job_offer_id, p.resource_offer_id, &p.mediator, NOW), Ok(()));
	}
}

#[test]
fn minimum_cost_beats_first_fit() {
	// Job 1 (10 instructions, no bandwidth): R10 costs 100, R11 110.
	// Job 2 (1 instruction, 10 bytes): R10 costs 10, R11 costs 11 + 1000.
	// Job 1 is added first (larger) and takes R10; job 2 must then move it to R11
	// along an augmenting path to reach the optimum 120 + mediators, not 1111.
	let mut j1 = job(1);
	j1.instruction_limit = 10;
	j1.bandwidth_limit = 0;
	j1.instruction_max_price = 20;
	j1.bandwidth_max_price = 100;
	let mut j2 = job(2);
	j2.instruction_limit = 1;
	j2.bandwidth_limit = 10;
	j2.instruction_max_price = 20;
	j2.bandwidth_max_price = 100;
	let mut r10 = resource(10, 10);
	r10.bandwidth_price = 0;
	let mut r11 = resource(11, 11);
	r11.bandwidth_price = 100;
	let book = book_with(vec![j1, j2], vec![r10, r11]);
	let greedy = first_fit(&book, NOW);
	assert_eq!(pairs(&greedy), vec![(1, 10), (2, 11)]);
	assert_eq!(total_cost(&greedy), 100 + 1011 + 10);
	// K = 2 holds every feasible pair: exact. (With K = 1, job 1 would know only R10
	// and could not make way; the answer would still be valid and maximal.)
	for k in [2, 32] {
		let proposals = book.solve_with(NOW, SolveOptions { candidates_per_job: k });
		assert_eq!(pairs(&proposals), vec![(1, 11), (2, 10)], "K = {k}");
		assert_eq!(total_cost(&proposals), 110 + 10 + 10, "K = {k}");
	}
}

#[test]
fn picks_the_cheapest_trusted_mediator() {
	let mut book = book_with(vec![job(1)], vec![resource(2, 3)]);
	let all: Vec<AccountId> = (10..=16).map(acct).collect();
	book.upsert_job_creator(
		acct(JC),
		JobCreatorView { trusted_mediators: all.clone(), ..Default::default() },
	);
	let mut p = provider();
	p.trusted_mediators = all.iter().copied().filter(|a| *a != acct(11)).collect();
	book.upsert_provider(acct(PROVIDER), p);
	book.upsert_mediator(acct(10), mediator(5));
	book.upsert_mediator(acct(11), mediator(1)); // the provider does not trust it
	book.upsert_mediator(acct(12), mediator(4));
	book.upsert_mediator(acct(13), mediator(4)); // as cheap as 12, larger id
	let mut wrong_arch = mediator(0);
	wrong_arch.arch = Architecture::Arm64;
	book.upsert_mediator(acct(14), wrong_arch);
	let mut no_layer = mediator(2);
	no_layer.base_layers.clear();
	book.upsert_mediator(acct(15), no_layer);
	let mut no_directory = mediator(3);
	no_directory.trusted_directories.clear();
	book.upsert_mediator(acct(16), no_directory);

	let proposals = book.solve(NOW);
	assert_eq!(proposals.len(), 1);
	assert_eq!(proposals[0].mediator, acct(12));
	assert_eq!(proposals[0].cost, 3 * 100 + 10 + 4);
	assert_eq!(book.check_pair(1, 2, &acct(12), NOW), Ok(()));

	// A job deposit too small for a match with any capable mediator: nothing.
	let mut j = job(1);
	j.deposit = 1_000;
	book.insert_job_offer(j);
	assert!(book.solve(NOW).is_empty());
	assert_eq!(book.check_pair(1, 2, &acct(12), NOW), Err(Infeasible::JobDepositTooLowForMatch));

	// A mediator whose re-runs are dear does not fit a deposit that a cheaper one
	// does: the next capable mediator is proposed instead.
	book.insert_job_offer(job(1));
	let mut dear_runs = mediator(4);
	dear_runs.instruction_price = 10_000;
	book.upsert_mediator(acct(12), dear_runs);
	assert_eq!(book.solve(NOW)[0].mediator, acct(13));
	book.upsert_mediator(acct(12), mediator(4));

	// Trust changes at any time: the job creator drops 12, so 13 it is.
	let without_12 = all.iter().copied().filter(|a| *a != acct(12)).collect();
	book.upsert_job_creator(
		acct(JC),
		JobCreatorView { trusted_mediators: without_12, ..Default::default() },
	);
	assert_eq!(book.solve(NOW)[0].mediator, acct(13));
}

#[test]
fn expired_offers_are_ignored() {
	let mut stale_job = job(1);
	stale_job.expires_at = NOW - 1;
	let mut stale_resource = resource(10, 1);
	stale_resource.expires_at = NOW - 1;
	let mut last_moment = job(2);
	last_moment.expires_at = NOW;
	let book =
		book_with(vec![stale_job, last_moment, job(3)], vec![stale_resource, resource(11, 2)]);
	let proposals = book.solve(NOW);
	assert_eq!(proposals.len(), 1);
	assert_ne!(proposals[0].job_offer_id, 1);
	assert_eq!(proposals[0].resource_offer_id, 11);

	let mut book = book;
	let (jobs, resources) = book.remove_expired(NOW);
	assert_eq!((jobs, resources), (vec![1], vec![10]));
}

#[test]
fn output_is_deterministic_and_sorted_by_job() {
	let jobs: Vec<JobOfferView> = (1..=20).rev().map(job).collect();
	let resources: Vec<ResourceOfferView> = (100..115).map(|i| resource(i, 3)).collect();
	let book = book_with(jobs, resources);
	let a = book.solve(NOW);
	let b = book.clone().solve(NOW);
	assert_eq!(a, b);
	assert_eq!(a.len(), 15);
	assert!(a.windows(2).all(|w| w[0].job_offer_id < w[1].job_offer_id));
}

#[test]
fn small_k_still_matches_everyone_when_preferences_agree() {
	// Every job ranks the offers the same way, so every job's single cheapest offer is
	// the same one; K = 1 must still match all of them.
	let jobs: Vec<JobOfferView> = (1..=8)
		.map(|i| {
			let mut j = job(i);
			j.instruction_limit = 10 * i;
			j
		})
		.collect();
	let resources: Vec<ResourceOfferView> = (1..=8).map(|i| resource(100 + i, i as u128)).collect();
	let book = book_with(jobs, resources);
	let exact = book.solve_with(NOW, SolveOptions { candidates_per_job: 100 });
	let narrow = book.solve_with(NOW, SolveOptions { candidates_per_job: 1 });
	assert_eq!(exact.len(), 8);
	assert_eq!(narrow.len(), 8);
	// Largest job on the cheapest offer, and so on down.
	assert_eq!(total_cost(&narrow), total_cost(&exact));
	assert!(exact.iter().all(|p| p.resource_offer_id + p.job_offer_id == 109));
}

// ------------------------------------------------------------ random cross-checks

/// Shape of a random book.
struct Shape {
	max_jobs: u64,
	max_resources: u64,
	mediators: u8,
	providers: u8,
}

/// A random book in which most pairs are feasible but every rule fails now and then,
/// with few distinct prices so that ties are common.
fn random_book(rng: &mut Rng, shape: &Shape) -> Book {
	use Architecture::*;
	let directories = [acct(30), acct(31)];
	let layers = [acct(40), acct(41)];
	let mediators: Vec<AccountId> = (0..shape.mediators).map(|i| acct(100 + i)).collect();
	let providers: Vec<AccountId> = (0..shape.providers).map(|i| acct(50 + i)).collect();
	let job_creators = [acct(1), acct(2)];
	let arch = |rng: &mut Rng| if rng.chance(90) { Amd64 } else { Arm64 };
	let expiry = |rng: &mut Rng| if rng.chance(7) { NOW - 1 } else { NOW + rng.below(3) };
	let mut book = Book::new();
	book.upsert_directory(directories[0], DirectoryView { availability_price: 1 });
	if rng.chance(90) {
		book.upsert_directory(
			directories[1],
			DirectoryView { availability_price: rng.below(3).into() },
		);
	}
	// Around the minimums of these small jobs (θ = 50: a few thousand).
	let deposit = |rng: &mut Rng| rng.pick(&[100, 1_000, 3_000, 10_000, AMPLE]);
	for m in &mediators {
		book.upsert_mediator(
			*m,
			MediatorView {
				arch: arch(rng),
				// Now and then too slow for n runs of any job within the horizon.
				time_per_instruction_ns: if rng.chance(10) { u64::MAX } else { 1_000_000 },
				instruction_price: u128::from(rng.below(3)),
				bandwidth_price: u128::from(rng.below(2)),
				availability_price: u128::from(rng.below(4)),
				trusted_directories: rng.subset(&directories, 85),
				base_layers: rng.subset(&layers, 85),
			},
		);
	}
	for p in &providers {
		book.upsert_provider(
			*p,
			ProviderView {
				record: Default::default(),
				arch: arch(rng),
				time_per_instruction_ns: rng.pick(&[0, 1, 999_999, 1_000_000, 3_000_000]),
				trusted_mediators: rng.subset(&mediators, 80),
				trusted_directories: rng.subset(&directories, 90),
				base_layers: rng.subset(&layers, 90),
			},
		);
	}
	for c in &job_creators {
		book.upsert_job_creator(
			*c,
			JobCreatorView { trusted_mediators: rng.subset(&mediators, 80), ..Default::default() },
		);
	}
	for i in 0..1 + rng.below(shape.max_resources) {
		let owner = if rng.chance(95) { rng.pick(&providers) } else { acct(99) };
		book.insert_resource_offer(ResourceOfferView {
			creator_record: None,
			id: 1_000 + i,
			owner,
			instruction_price: u128::from(1 + rng.below(5)),
			instruction_cap: 3 + rng.below(8),
			memory_cap: 3 + rng.below(8),
			local_storage_cap: 3 + rng.below(8),
			bandwidth_cap: 3 + rng.below(8),
			bandwidth_price: u128::from(rng.below(4)),
			match_incentive: 0,
			expires_at: expiry(rng),
			deposit: deposit(rng),
		});
	}
	for i in 0..1 + rng.below(shape.max_jobs) {
		let owner = if rng.chance(95) { rng.pick(&job_creators) } else { acct(9) };
		book.insert_job_offer(JobOfferView {
			provider_record: None,
			id: 1 + i,
			owner,
			instruction_limit: rng.below(6),
			bandwidth_limit: rng.below(6),
			instruction_max_price: u128::from(3 + rng.below(5)),
			bandwidth_max_price: u128::from(1 + rng.below(4)),
			completion_deadline: NOW + rng.below(30),
			match_incentive: 0,
			first_layer_hash: rng.pick(&layers),
			ram_limit: rng.below(6),
			local_storage_limit: rng.below(6),
			directory: rng.pick(&directories),
			arch: arch(rng),
			expires_at: expiry(rng),
			deposit: deposit(rng),
			replica: None,
		});
	}
	book
}

/// Every (job, resource offer) pair's cost with its cheapest feasible mediator
/// (smallest account id on a tie), found with [`Book::check_pair`] alone.
struct Table {
	jobs: Vec<u64>,
	resources: Vec<u64>,
	cost: Vec<Vec<Option<(u128, AccountId)>>>,
}

fn table(book: &Book, now: u64) -> Table {
	let mut mediators: Vec<(AccountId, u128)> =
		book.mediators().map(|(a, m)| (*a, m.availability_price)).collect();
	mediators.sort_by_key(|&(a, price)| (price, a));
	let jobs: Vec<u64> = book.job_offers().map(|j| j.id).collect();
	let resources: Vec<u64> = book.resource_offers().map(|r| r.id).collect();
	let cost: Vec<Vec<Option<(u128, AccountId)>>> = book
		.job_offers()
		.map(|j| {
			book.resource_offers()
				.map(|r| {
					mediators
						.iter()
						.find(|(m, _)| book.check_pair(j.id, r.id, m, now).is_ok())
						.map(|(m, price)| (pair_cost(j, r, *price), *m))
				})
				.collect()
		})
		.collect();
	Table { jobs, resources, cost }
}

/// (most matches, least cost among them) by trying every matching.
fn exhaustive(t: &Table) -> (usize, u128) {
	fn go(t: &Table, j: usize, used: &mut [bool]) -> (usize, u128) {
		if j == t.jobs.len() {
			return (0, 0);
		}
		let mut best = go(t, j + 1, used);
		for r in 0..t.resources.len() {
			let Some((c, _)) = t.cost[j][r] else { continue };
			if used[r] {
				continue;
			}
			used[r] = true;
			let (n, total) = go(t, j + 1, used);
			used[r] = false;
			let candidate = (n + 1, total + c);
			if candidate.0 > best.0 || (candidate.0 == best.0 && candidate.1 < best.1) {
				best = candidate;
			}
		}
		best
	}
	go(t, 0, &mut vec![false; t.resources.len()])
}

/// (most matches, least cost among them) by a dense Hungarian: weight
/// `BIG − cost` on feasible pairs and 0 elsewhere, maximised, so each match is worth
/// more than any cost difference.
fn dense_hungarian(t: &Table) -> (usize, u128) {
	use pathfinding::prelude::{kuhn_munkres, Matrix};
	let n = t.jobs.len().max(t.resources.len());
	if n == 0 {
		return (0, 0);
	}
	let big: i64 = 1 << 40;
	let weights = Matrix::from_fn(n, n, |(j, r)| {
		t.cost
			.get(j)
			.and_then(|row| row.get(r))
			.copied()
			.flatten()
			.map_or(0, |(c, _)| big - c as i64)
	});
	let (_, assignment) = kuhn_munkres(&weights);
	assignment.iter().enumerate().fold((0usize, 0u128), |(n, total), (j, &r)| {
		match t.cost.get(j).and_then(|row| row.get(r)).copied().flatten() {
			Some((c, _)) => (n + 1, total + c),
			None => (n, total),
		}
	})
}

/// Checks that `proposals` is a valid matching of `book` with the right mediators and
/// costs, and maximal (no unmatched job has a feasible unmatched offer); returns its
/// (size, cost).
fn validate(book: &Book, t: &Table, proposals: &[Proposal]) -> (usize, u128) {
	assert!(proposals.windows(2).all(|w| w[0].job_offer_id < w[1].job_offer_id));
	let mut used = std::collections::BTreeSet::new();
	for p in proposals {
		assert!(used.insert(p.resource_offer_id), "resource offer matched twice");
		assert_eq!(book.check_pair(p.job_offer_id, p.resource_offer_id, &p.mediator, NOW), Ok(()));
		let j = t.jobs.iter().position(|&id| id == p.job_offer_id).expect("known job");
		let r = t.resources.iter().position(|&id| id == p.resource_offer_id).expect("known offer");
		assert_eq!(t.cost[j][r], Some((p.cost, p.mediator)), "cheapest mediator and its cost");
	}
	for (j, job_id) in t.jobs.iter().enumerate() {
		if proposals.iter().any(|p| p.job_offer_id == *job_id) {
			continue;
		}
		for (r, resource_id) in t.resources.iter().enumerate() {
			assert!(
				used.contains(resource_id) || t.cost[j][r].is_none(),
				"job {job_id} and offer {resource_id} are both unmatched but feasible"
			);
		}
	}
	(proposals.len(), total_cost(proposals))
}

#[test]
fn matches_exhaustive_search_on_small_books() {
	let shape = Shape { max_jobs: 6, max_resources: 6, mediators: 3, providers: 3 };
	let mut rng = Rng(7);
	let mut nonempty = 0;
	for case in 0..1_500 {
		let book = random_book(&mut rng, &shape);
		let t = table(&book, NOW);
		let optimum = exhaustive(&t);
		if optimum.0 > 1 {
			nonempty += 1;
		}
		let exact = book.solve_with(NOW, SolveOptions { candidates_per_job: 8 });
		assert_eq!(validate(&book, &t, &exact), optimum, "case {case}");
		assert_eq!(exact, book.solve_with(NOW, SolveOptions { candidates_per_job: 8 }));
		for k in [1, 2] {
			let narrow = book.solve_with(NOW, SolveOptions { candidates_per_job: k });
			let (n, _) = validate(&book, &t, &narrow);
			assert!(n <= optimum.0, "case {case}, K = {k}");
		}
	}
	assert!(nonempty > 200, "the generator must produce real matching problems ({nonempty})");
}

#[test]
fn matches_a_dense_hungarian_on_medium_books() {
	let shape = Shape { max_jobs: 40, max_resources: 40, mediators: 4, providers: 6 };
	let mut rng = Rng(11);
	for case in 0..60 {
		let book = random_book(&mut rng, &shape);
		let t = table(&book, NOW);
		let optimum = dense_hungarian(&t);
		// K at least the number of offers: exact.
		let exact = book.solve_with(NOW, SolveOptions { candidates_per_job: 64 });
		assert_eq!(validate(&book, &t, &exact), optimum, "case {case}");
		let narrow = book.solve_with(NOW, SolveOptions { candidates_per_job: 3 });
		let (n, _) = validate(&book, &t, &narrow);
		assert!(n <= optimum.0);
	}
}

/// Times a 10,000 × 10,000 solve. Run with
/// `cargo test --release -p modicum-offchain -- --ignored --nocapture solve_10k`.
#[test]
#[ignore]
fn solve_10k_by_10k() {
	let book = sample::market_book(10_000, 42, NOW);
	let start = std::time::Instant::now();
	let proposals = book.solve(NOW);
	let elapsed = start.elapsed();
	eprintln!("10k × 10k: {} matches in {elapsed:?}", proposals.len());
	let mut used = std::collections::BTreeSet::new();
	for p in proposals.iter().step_by(97) {
		assert_eq!(book.check_pair(p.job_offer_id, p.resource_offer_id, &p.mediator, NOW), Ok(()));
	}
	assert!(proposals.iter().all(|p| used.insert(p.resource_offer_id)));
}

#[test]
fn replicas_go_to_distinct_providers_outside_the_excluded_and_with_one_mediator() {
	let replica = |id| JobOfferView {
		replica: Some(ReplicaRule { group: 7, ..Default::default() }),
		..job(id)
	};
	let other = 3;
	let mut second = resource(4, 1);
	second.owner = acct(other);
	// The provider offers twice (cheaper), the other provider once.
	let mut book =
		book_with(vec![replica(1), replica(2)], vec![resource(3, 1), second, resource(5, 1)]);
	book.upsert_provider(acct(other), provider());
	// Round by round, as the solver daemon does: a round never proposes two replicas to
	// one provider, and what it matched rules that provider out for the next.
	let mut owners = Vec::new();
	for _round in 0..2 {
		for p in book.solve(NOW) {
			let owner = book.resource_offer(p.resource_offer_id).map(|r| r.owner).unwrap();
			assert!(!owners.contains(&owner), "two replicas on one provider");
			owners.push(owner);
			book.replica_matched(7, &owner, &p.mediator);
			book.remove_job_offer(p.job_offer_id);
			book.remove_resource_offer(p.resource_offer_id);
		}
	}
	assert_eq!(owners.len(), 2, "both replicas matched: {owners:?}");

	// Once a replica ran on the provider, the other replica may only go elsewhere.
	let mut book = book_with(vec![replica(2)], vec![resource(3, 1)]);
	book.replica_matched(7, &acct(PROVIDER), &acct(MEDIATOR));
	assert_eq!(book.solve(NOW), vec![]);
	assert_eq!(
		book.check_pair(2, 3, &acct(MEDIATOR), NOW),
		Err(Infeasible::ReplicaProviderRepeated)
	);
	// An excluded provider, and a mediator other than the group's, are refused too.
	let mut excluded = replica(2);
	excluded.replica =
		Some(ReplicaRule { group: 7, excluded: vec![acct(PROVIDER)], ..Default::default() });
	let book = book_with(vec![excluded], vec![resource(3, 1)]);
	assert_eq!(
		book.check_pair(2, 3, &acct(MEDIATOR), NOW),
		Err(Infeasible::ReplicaProviderExcluded)
	);
	let mut bound = replica(2);
	bound.replica = Some(ReplicaRule { group: 7, mediator: Some(acct(11)), ..Default::default() });
	let book = book_with(vec![bound], vec![resource(3, 1)]);
	assert_eq!(
		book.check_pair(2, 3, &acct(MEDIATOR), NOW),
		Err(Infeasible::ReplicaMediatorMismatch)
	);
}

// ------------------------------------------------------------------ rule 13

const PROVEN: RecordRule = RecordRule { min_accepted: 5, max_fault_ppm: 100_000 };

#[test]
fn rule_13_each_part_fails_with_its_own_reason() {
	let short = RecordView { accepted: 4, faults: 0, endings: 4 };
	let faulty = RecordView { accepted: 9, faults: 2, endings: 11 };
	fails_with(
		|p| (p.job.provider_record, p.provider.record) = (Some(PROVEN), short),
		Infeasible::ProviderRecordTooShort,
		Some(13),
	);
	fails_with(
		|p| (p.job.provider_record, p.provider.record) = (Some(PROVEN), faulty),
		Infeasible::ProviderFaultRateTooHigh,
		Some(13),
	);
	fails_with(
		|p| (p.resource.creator_record, p.job_creator.record) = (Some(PROVEN), short),
		Infeasible::JobCreatorRecordTooShort,
		Some(13),
	);
	fails_with(
		|p| (p.resource.creator_record, p.job_creator.record) = (Some(PROVEN), faulty),
		Infeasible::JobCreatorFaultRateTooHigh,
		Some(13),
	);
	// Exactly at the allowed share passes, as on chain.
	let mut pair = Pair::feasible();
	pair.job.provider_record = Some(PROVEN);
	pair.provider.record = RecordView { accepted: 9, faults: 1, endings: 10 };
	assert_eq!(pair.check(), Ok(()));
}

#[test]
fn the_solve_skips_a_cheaper_provider_without_the_record_a_job_requires() {
	const NEWCOMER: u8 = 3;
	let mut demanding = job(1);
	demanding.provider_record = Some(PROVEN);
	let cheap = ResourceOfferView { owner: acct(NEWCOMER), ..resource(2, 1) };
	let proven = resource(3, 9);
	let mut book = book_with(vec![demanding, job(4)], vec![cheap, proven]);
	book.upsert_provider(acct(NEWCOMER), provider());
	let mut record = provider();
	record.record = RecordView { accepted: 20, faults: 1, endings: 21 };
	book.upsert_provider(acct(PROVIDER), record);
	let proposals = book.solve(NOW);
	// The demanding job goes to the proven provider even though it costs more; the
	// undemanding one takes the newcomer.
	assert_eq!(
		pairs(&proposals).into_iter().collect::<std::collections::BTreeSet<_>>(),
		[(1, 3), (4, 2)].into()
	);
	// A resource offer that asks a record of job creators gets no job from a newcomer.
	let picky = ResourceOfferView { creator_record: Some(PROVEN), ..resource(5, 1) };
	let book = book_with(vec![job(6)], vec![picky]);
	assert!(book.solve(NOW).is_empty());
}
