//! Random call sequences by random, often hostile, actors: self-dealing, extreme
//! prices, strangers closing other people's matches, root changing the parameters
//! mid-match, directories consenting to liability, the idle-time sweep. After every
//! call: funds are conserved (issuance falls by exactly the fines), `try_state` holds,
//! no account holds a deposit the pallet does not record, a failed call changed
//! nothing, and [`super::honesty`] holds (who ends a match with what).

use super::honesty;
use super::*;
use frame_support::traits::{Hooks, Time};
use frame_support::weights::Weight;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sp_runtime::StateVersion;
use std::collections::{BTreeMap, BTreeSet};

/// Accounts that act: 1..=6. 7 and 8 are endowed but never sign: they must end with
/// exactly what they started with.
const ACTORS: u64 = 6;
const IDLE: [AccountId; 2] = [7, 8];

#[derive(Clone, Debug)]
struct Step {
	kind: u8,
	actor: AccountId,
	a: u64,
	b: u64,
}

/// Call kinds by weight: lifecycle calls are drawn more often than set-up calls so
/// that walks get past matching into results, mediation and settlement.
const KINDS: [u8; 52] = [
	0, 0, 1, 2, 3, 4, 5, // actors and trust
	6, 7, 6, 7, 8, 9, 8, 9, 10, // offers
	11, 12, 11, 12, 11, // matching
	13, 13, 13, 13, // results
	14, 14, 14, // accept
	15, 15, 15, // reject
	16, 16, 16, 16, // mediate
	17, 17, // timeouts
	18, 18, 18, // the clock
	19, 20, // extreme prices
	21, // a stranger's timeout
	22, // the directory consents to a mediator
	23, // root changes the parameters
	24, 24, // the idle-time sweep
	25, 25, 26, 27, 27, // replicated jobs
];

/// A name per kind, for the walk's figures.
const KIND_NAMES: [&str; 28] = [
	"register",
	"deregister",
	"trust_mediator",
	"distrust_mediator",
	"trust_directory",
	"add_base_layer",
	"post_job_offer",
	"post_job_offer",
	"post_resource_offer",
	"post_resource_offer",
	"cancel/clear_offer",
	"post_match",
	"post_match",
	"post_result",
	"accept_result",
	"reject_result/records",
	"post_mediation_result",
	"timeout/mediation_timeout",
	"clock",
	"job_offer_extreme_prices",
	"resource_offer_extreme_prices",
	"stranger_timeout",
	"directory_trusts_mediator",
	"set_parameters",
	"on_idle",
	"post_replicated_job_offer",
	"settle/commit_replicas",
	"post_replica_verdict",
];

fn step() -> impl Strategy<Value = Step> {
	(0..KINDS.len(), 1..=ACTORS, any::<u64>(), any::<u64>()).prop_map(|(k, actor, a, b)| Step {
		kind: KINDS[k],
		actor,
		a,
		b,
	})
}

fn role(n: u64) -> Role {
	[Role::ResourceProvider, Role::JobCreator, Role::Mediator, Role::Directory][(n % 4) as usize]
}

fn pick_actor(n: u64) -> AccountId {
	1 + n % ACTORS
}

fn layer(n: u64) -> ContentHash {
	[(n % 2) as u8; 32]
}

fn arch(n: u64) -> Architecture {
	if n.is_multiple_of(5) {
		Architecture::Arm64
	} else {
		Architecture::Amd64
	}
}

/// Deposit near a quoted minimum: a little below, exact, or above.
fn deposit_near(quote: Option<Balance>, n: u64) -> Balance {
	let quote = quote.unwrap_or(1_000);
	match n % 4 {
		0 => quote.saturating_sub(1),
		1 => quote,
		_ => quote + (n % 50_000) as Balance,
	}
}

fn random_job_terms(a: u64, b: u64, now: u64) -> JobOfferTerms<AccountId, Balance> {
	JobOfferTerms {
		provider_record: None,
		instruction_limit: 100 + a % 2_000,
		bandwidth_limit: b % 1_000,
		instruction_max_price: (a % 4) as Balance,
		bandwidth_max_price: (b % 3) as Balance,
		completion_deadline: now + 1 + (b % (2 * HOUR)),
		match_incentive: (a % 7) as Balance,
		first_layer_hash: layer(b / 7),
		ram_limit: a % 1_024,
		local_storage_limit: b % 4_096,
		directory: pick_actor(b / 3),
		job_reference: reference("job"),
		job_hash: [1; 32],
		arch: arch(a / 3),
	}
}

fn random_resource_terms(a: u64, b: u64) -> ResourceOfferTerms<Balance> {
	ResourceOfferTerms {
		creator_record: None,
		instruction_price: (b % 3) as Balance,
		instruction_cap: 500 + a % 2_000,
		memory_cap: b % 2_048,
		local_storage_cap: a % 8_192,
		bandwidth_cap: b % 2_000,
		bandwidth_price: (a % 2) as Balance,
		match_incentive: (b % 5) as Balance,
	}
}

fn run(step: &Step) -> frame_support::dispatch::DispatchResult {
	let origin = RuntimeOrigin::signed(step.actor);
	let (a, b) = (step.a, step.b);
	let now = MockTime::now();
	let matches: Vec<_> = Matches::<Test>::iter_keys().collect();
	let match_id = matches.get(b as usize % matches.len().max(1)).copied().unwrap_or(a % 8);
	let limits = Matches::<Test>::get(match_id)
		.map(|m| (m.job.instruction_limit, m.job.bandwidth_limit))
		.unwrap_or((1_000, 500));
	match step.kind {
		0 => match role(a) {
			Role::ResourceProvider => {
				Market::register_resource_provider(origin, arch(b), 1 + (b % 3) * 500_000)
			},
			Role::JobCreator => Market::register_job_creator(origin),
			Role::Mediator => Market::register_mediator(
				origin,
				arch(b),
				1 + (b % 3) * 500_000,
				(b % 3) as Balance,
				1,
				(b % 11) as Balance,
			),
			Role::Directory => {
				Market::register_directory(origin, reference("http://d"), (b % 9) as Balance)
			},
		},
		1 => Market::deregister(origin, role(a)),
		2 => Market::trust_mediator(origin, pick_actor(a)),
		3 => Market::distrust_mediator(origin, pick_actor(a)),
		4 => Market::trust_directory(origin, pick_actor(a)),
		5 => Market::add_base_layer(origin, layer(a)),
		6 | 7 => {
			let mut terms = if a % 4 == 0 { random_job_terms(a, b, now) } else { job_terms() };
			terms.completion_deadline = now + 1 + (b % (2 * HOUR));
			terms.match_incentive = (a % 7) as Balance;
			let owner = if b % 4 == 0 { step.actor } else { JC };
			let quote = Market::quote_job_deposit(&terms, Some(&MEDIATOR)).ok();
			let expiry = now + 1 + a % HOUR;
			Market::post_job_offer(
				RuntimeOrigin::signed(owner),
				terms,
				deposit_near(quote, b / 11),
				expiry,
			)
		},
		8 | 9 => {
			let mut terms = if b % 4 == 0 { random_resource_terms(a, b) } else { resource_terms() };
			terms.match_incentive = (b % 5) as Balance;
			let owner = [step.actor, RP, RP, SOLVER][(a % 4) as usize];
			let quote =
				Market::quote_resource_deposit(&terms, Some(&MEDIATOR), Some(&DIRECTORY)).ok();
			let expiry = now + 1 + b % HOUR;
			Market::post_resource_offer(
				RuntimeOrigin::signed(owner),
				terms,
				deposit_near(quote, a / 13),
				expiry,
			)
		},
		10 => {
			let offer = if b % 2 == 0 { OfferRef::Job(a % 24) } else { OfferRef::Resource(a % 24) };
			if b % 3 == 0 {
				Market::clear_expired_offer(origin, offer)
			} else {
				Market::cancel_offer(origin, offer)
			}
		},
		11 | 12 => {
			// Prefer pairs that exist, so matches actually happen.
			let jobs: Vec<_> = JobOffers::<Test>::iter_keys().collect();
			let resources: Vec<_> = ResourceOffers::<Test>::iter_keys().collect();
			let job = jobs.get(a as usize % jobs.len().max(1)).copied().unwrap_or(a % 24);
			let resource =
				resources.get(b as usize % resources.len().max(1)).copied().unwrap_or(b % 24);
			Market::post_match(
				origin,
				job,
				resource,
				if a % 4 == 0 { pick_actor(a / 5) } else { MEDIATOR },
			)
		},
		13 => {
			let status = if b % 4 == 0 {
				ResultStatus::DirectoryUnavailable
			} else {
				ResultStatus::Completed
			};
			let who =
				Matches::<Test>::get(match_id).map(|m| m.resource_provider).unwrap_or(step.actor);
			let origin = RuntimeOrigin::signed(if a % 5 == 0 { step.actor } else { who });
			let root = [2 + (a / 7 % 2) as u8; 32];
			let usage = (b % (limits.0 + limits.0 / 8 + 1), a % (limits.1 + limits.1 / 8 + 1));
			// A replica reveals; a plain match posts (each refuses the other's match: the
			// replica tests check that).
			let reveal = MatchReplicaGroup::<Test>::contains_key(match_id);
			let post = if reveal { Market::reveal_result } else { Market::post_result };
			// Two roots, so replicas sometimes disagree.
			post(origin, match_id, status, reference("result"), root, usage.0, usage.1)
		},
		14 => Market::accept_result(origin, match_id),
		15 => {
			let reasons = [
				RejectReason::WrongResults,
				RejectReason::ResultNotFound,
				RejectReason::TooMuchCost,
				RejectReason::InvalidResultStatus,
				RejectReason::DirectoryUnavailable,
			];
			let who = Matches::<Test>::get(match_id).map(|m| m.job_creator).unwrap_or(step.actor);
			if b % 6 == 5 {
				// Named records: good lists, and an empty, unsorted or bad one.
				let lists: [&[&[u8]]; 4] = [&[b"r1"], &[b"a", b"b"], &[], &[b"b", b"a", b".."]];
				let names = lists[(a % 4) as usize]
					.iter()
					.map(|name| RecordName::truncate_from(name.to_vec()))
					.collect::<Vec<_>>();
				let names = DisputedRecordNames::truncate_from(names);
				return Market::reject_records(RuntimeOrigin::signed(who), match_id, names);
			}
			Market::reject_result(RuntimeOrigin::signed(who), match_id, reasons[(b % 5) as usize])
		},
		16 => {
			let verdicts = [
				Verdict::WrongResults,
				Verdict::ResultNotFound,
				Verdict::TooMuchCost,
				Verdict::InvalidResultStatus,
				Verdict::CorrectResults,
				Verdict::NonDeterministic,
				Verdict::DirectoryUnavailable,
			];
			let faulty =
				[FaultyParty::JobCreator, FaultyParty::ResourceProvider, FaultyParty::Directory];
			let record = Matches::<Test>::get(match_id);
			let who = record.as_ref().map(|m| m.mediator).unwrap_or(step.actor);
			// Half the time a verdict that answers the dispute, so walks get past it.
			let (verdict, faulty) = match record.map(|m| m.state) {
				Some(MatchState::InMediation { reason, result, .. }) if a % 2 == 0 => {
					fitting_verdict(reason, result.status, b)
				},
				_ => (verdicts[(b % 7) as usize], faulty[(b / 7 % 3) as usize]),
			};
			Market::post_mediation_result(
				RuntimeOrigin::signed(who),
				match_id,
				verdict,
				faulty,
				a % (limits.0 + limits.0 / 8 + 1),
				b % (limits.1 + limits.1 / 8 + 1),
				[3; 32],
			)
		},
		17 => {
			let who = Matches::<Test>::get(match_id).map(|m| m.job_creator).unwrap_or(step.actor);
			if b % 2 == 0 {
				Market::timeout(RuntimeOrigin::signed(who), match_id)
			} else {
				Market::mediation_timeout(origin, match_id)
			}
		},
		18 => {
			advance(if b % 2 == 0 { a % 60_000 } else { a % (3 * HOUR) });
			Ok(())
		},
		19 => {
			// Prices near the type's limits: the quote or the post must refuse, not wrap.
			let terms = JobOfferTerms {
				instruction_max_price: Balance::MAX >> (a % 128),
				bandwidth_max_price: Balance::MAX >> (b % 128),
				instruction_limit: u64::MAX >> (b % 64),
				completion_deadline: now + 1 + b % HOUR,
				..job_terms()
			};
			let quote = Market::quote_job_deposit(&terms, Some(&MEDIATOR)).ok();
			Market::post_job_offer(origin, terms, deposit_near(quote, b), now + 1 + a % HOUR)
		},
		20 => {
			let terms = ResourceOfferTerms {
				instruction_price: Balance::MAX >> (b % 128),
				instruction_cap: u64::MAX >> (a % 64),
				bandwidth_price: Balance::MAX >> (a % 128),
				..resource_terms()
			};
			let quote =
				Market::quote_resource_deposit(&terms, Some(&MEDIATOR), Some(&DIRECTORY)).ok();
			Market::post_resource_offer(origin, terms, deposit_near(quote, a), now + 1 + b % HOUR)
		},
		21 => Market::timeout(origin, match_id),
		22 => Market::trust_mediator(
			RuntimeOrigin::signed(DIRECTORY),
			if a % 3 == 0 { pick_actor(a / 3) } else { MEDIATOR },
		),
		23 => {
			let mut parameters = crate::Parameters::<Test>::get();
			parameters.penalty_rate = FixedU128::from_rational((a % 200) as u128, 2);
			parameters.verification_count = 1 + (b % 4) as u32;
			parameters.reaction_window = 1 + a % HOUR;
			parameters.mediation_window = 1 + b % HOUR;
			parameters.settlement_grace = b % (2 * HOUR);
			parameters.max_completion_horizon = 1 + a % (3 * HOUR);
			Market::set_parameters(RuntimeOrigin::root(), parameters)
		},
		25 => {
			let mut terms = job_terms();
			terms.completion_deadline = now + 1 + (b % (2 * HOUR));
			let owner = if b % 4 == 0 { step.actor } else { JC };
			let quote = Market::quote_job_deposit(&terms, Some(&MEDIATOR)).ok();
			let excluded = if a % 3 == 0 { vec![pick_actor(b)] } else { vec![] };
			Market::post_replicated_job_offer(
				RuntimeOrigin::signed(owner),
				terms,
				(a % 4) as u32 + 1,
				excluded.try_into().unwrap_or_default(),
				deposit_near(quote, b / 11),
				now + 1 + a % HOUR,
			)
		},
		26 if b % 2 == 0 => Market::settle_replicas(origin, replica_group(a)),
		26 => {
			let who =
				Matches::<Test>::get(match_id).map(|m| m.resource_provider).unwrap_or(step.actor);
			// The root `post_result` reveals half the time.
			let root = [2 + (a / 7 % 2) as u8; 32];
			let commitment = Market::result_commitment(match_id, ResultStatus::Completed, &root);
			Market::commit_result(RuntimeOrigin::signed(who), match_id, commitment)
		},
		27 => {
			let group = replica_group(a);
			let mediator = crate::ReplicaGroups::<Test>::get(group)
				.and_then(|g| g.mediator)
				.filter(|_| b % 4 != 0)
				.unwrap_or(step.actor);
			let verdict = if b % 3 == 0 {
				ReplicaVerdict::NonDeterministic
			} else {
				ReplicaVerdict::Deterministic {
					status: ResultStatus::Completed,
					result_hash: [2 + (b / 3 % 2) as u8; 32],
				}
			};
			Market::post_replica_verdict(
				RuntimeOrigin::signed(mediator),
				group,
				verdict,
				a % (limits.0 + limits.0 / 8 + 1),
				b % (limits.1 + limits.1 / 8 + 1),
			)
		},
		_ => {
			Market::on_idle(System::block_number(), Weight::MAX);
			Ok(())
		},
	}
}

/// Sets `who` up as an RP like [`RP`]: registered, trusting the mediator and the
/// directory, with the base layer.
fn second_provider(who: AccountId) -> frame_support::dispatch::DispatchResult {
	Market::register_resource_provider(RuntimeOrigin::signed(who), Architecture::Amd64, 1_000_000)?;
	Market::trust_mediator(RuntimeOrigin::signed(who), MEDIATOR)?;
	Market::trust_directory(RuntimeOrigin::signed(who), DIRECTORY)?;
	Market::add_base_layer(RuntimeOrigin::signed(who), LAYER)
}

/// A replica group that exists, if any does.
fn replica_group(n: u64) -> ReplicaGroupId {
	let groups: Vec<_> = crate::ReplicaGroups::<Test>::iter_keys().collect();
	groups.get(n as usize % groups.len().max(1)).copied().unwrap_or(n % 24)
}

/// A ruling the chain accepts for this dispute, picked by `n`.
fn fitting_verdict(reason: RejectReason, status: ResultStatus, n: u64) -> (Verdict, FaultyParty) {
	use FaultyParty::*;
	let claimant = if reason == RejectReason::DirectoryUnavailable {
		Some(JobCreator)
	} else if status == ResultStatus::DirectoryUnavailable {
		Some(ResourceProvider)
	} else {
		None
	};
	match (claimant, reason) {
		(Some(claimant), _) => {
			(Verdict::DirectoryUnavailable, if n.is_multiple_of(2) { Directory } else { claimant })
		},
		(None, RejectReason::ResultNotFound) => (
			Verdict::ResultNotFound,
			if n.is_multiple_of(2) { JobCreator } else { ResourceProvider },
		),
		_ => [
			(Verdict::WrongResults, ResourceProvider),
			(Verdict::TooMuchCost, ResourceProvider),
			(Verdict::InvalidResultStatus, ResourceProvider),
			(Verdict::CorrectResults, JobCreator),
			(Verdict::NonDeterministic, JobCreator),
		][(n % 5) as usize],
	}
}

/// "Ok", or the error's name: the second half of an attack path.
fn result_name(result: &frame_support::dispatch::DispatchResult) -> String {
	match result {
		Ok(()) => "Ok".into(),
		Err(sp_runtime::DispatchError::Module(e)) => e.message.unwrap_or("?").into(),
		Err(e) => format!("{e:?}"),
	}
}

fn fines_so_far() -> Balance {
	events()
		.into_iter()
		.map(|e| match e {
			Event::Fined { amount, .. } => amount,
			_ => 0,
		})
		.sum()
}

fn check_invariants() -> Result<(), TestCaseError> {
	let total: Balance = ACCOUNTS.iter().map(Balances::total_balance).sum();
	prop_assert_eq!(total, issuance(), "every unit is in some account");
	prop_assert_eq!(
		issuance() + fines_so_far(),
		initial_issuance(),
		"only fines leave circulation"
	);
	prop_assert!(Market::do_try_state().is_ok(), "{:?}", Market::do_try_state());
	// try_state checks accounts the pallet records; no other account may hold anything.
	let mut recorded = std::collections::BTreeMap::<AccountId, Balance>::new();
	let mut record = |who: AccountId, amount: Balance| *recorded.entry(who).or_default() += amount;
	JobOffers::<Test>::iter_values().for_each(|o| record(o.owner, o.deposit));
	ResourceOffers::<Test>::iter_values().for_each(|o| record(o.owner, o.deposit));
	for m in Matches::<Test>::iter_values() {
		record(m.job_creator, m.job_creator_deposit);
		record(m.resource_provider, m.resource_provider_deposit);
	}
	let deposit_reason: RuntimeHoldReason = crate::HoldReason::OfferDeposit.into();
	for who in ACCOUNTS {
		let expected = recorded.get(&who).copied().unwrap_or_default();
		prop_assert_eq!(Balances::balance_on_hold(&deposit_reason, &who), expected);
	}
	Ok(())
}

/// Figures of a whole run of walks.
#[derive(Default)]
struct Walks {
	sequences: u64,
	steps: u64,
	paths: BTreeMap<(&'static str, String), u64>,
	outcomes: BTreeSet<&'static str>,
	checked: honesty::Checked,
}

fn walk(steps: &[Step], walks: &mut Walks) -> Result<(), TestCaseError> {
	new_test_ext().execute_with(|| {
		register_all();
		// Half the walks start with the directory liable to the usual mediator.
		if steps.len().is_multiple_of(2) {
			Market::trust_mediator(RuntimeOrigin::signed(DIRECTORY), MEDIATOR)
				.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
		}
		// A third of them have a second RP, so replicas can run on distinct RPs.
		if steps.len().is_multiple_of(3) {
			second_provider(SOLVER).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
		}
		for step in steps {
			let before_root = sp_io::storage::root(StateVersion::V1);
			let before = honesty::snapshot();
			let result = run(step);
			if result.is_err() {
				prop_assert_eq!(
					before_root,
					sp_io::storage::root(StateVersion::V1),
					"failed call changed storage: {:?}",
					step
				);
			}
			check_invariants()?;
			honesty::check_step(&before, &mut walks.checked)?;
			*walks
				.paths
				.entry((KIND_NAMES[step.kind as usize], result_name(&result)))
				.or_default() += 1;
			walks.steps += 1;
		}
		for who in IDLE {
			prop_assert_eq!(Balances::total_balance(&who), ENDOWMENT, "idle account {} lost", who);
		}
		for e in events() {
			if let Event::MatchClosed { outcome, .. } = e {
				walks.outcomes.insert(honesty::outcome_name(&outcome));
			}
		}
		walks.sequences += 1;
		Ok(())
	})
}

/// Ten thousand hostile walks; every one keeps every invariant, and together they
/// reach every close path and make the exact who-gets-what checks on each. The walks
/// come from a fixed seed, so the coverage figures and their checks are the same on
/// every run.
#[test]
fn random_call_sequences_keep_honest_parties_whole() {
	let config = Config { cases: 10_000, failure_persistence: None, ..Config::default() };
	let mut runner =
		TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
	let walks = std::cell::RefCell::new(Walks::default());
	let result = runner
		.run(&prop::collection::vec(step(), 1..40), |steps| walk(&steps, &mut walks.borrow_mut()));
	if let Err(e) = result {
		panic!("{e}");
	}
	let walks = walks.into_inner();
	println!(
		"{} sequences, {} steps, {} distinct (call, outcome) paths",
		walks.sequences,
		walks.steps,
		walks.paths.len()
	);
	for ((call, outcome), count) in &walks.paths {
		println!("  {call:<30} {outcome:<36} {count}");
	}
	println!("exact close checks: {:?}", walks.checked.exact_closes);
	println!(
		"directory-bond payments: {}, shortfalls: {}",
		walks.checked.directory_payments, walks.checked.shortfalls
	);
	for expected in [
		"Accepted",
		"TimedOut",
		"MediationFailed",
		"Mediated(JC at fault)",
		"Mediated(RP at fault)",
		"Mediated(directory at fault)",
	] {
		assert!(
			walks.outcomes.contains(expected),
			"no walk reached {expected}: {:?}",
			walks.outcomes
		);
		assert!(
			walks.checked.exact_closes.get(expected).copied().unwrap_or_default() > 0,
			"no exact check of {expected}"
		);
	}
	assert!(walks.checked.directory_payments > 0, "no walk made a directory pay");
	for refusal in ["DeadlineTooFar", "JobDepositTooLowForMatch", "ResourceDepositTooLowForMatch"] {
		assert!(
			walks.paths.keys().any(|(_, outcome)| outcome == refusal),
			"no walk was refused with {refusal}"
		);
	}
}
