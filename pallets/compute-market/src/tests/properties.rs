//! Random call sequences by random actors. After every call: funds are conserved
//! (issuance falls by exactly the fines), `try_state` holds, no account holds a deposit
//! the pallet does not record, and a failed call changed nothing.

use super::*;
use frame_support::traits::Time;
use proptest::prelude::*;
use sp_runtime::StateVersion;

/// Accounts that act: 1..=6 (8 is endowed but idle, 7 too).
const ACTORS: u64 = 6;

#[derive(Clone, Debug)]
struct Step {
	kind: u8,
	actor: AccountId,
	a: u64,
	b: u64,
}

/// Call kinds by weight: lifecycle calls are drawn more often than set-up calls so
/// that walks get past matching into results, mediation and settlement.
const KINDS: [u8; 40] = [
	0, 0, 1, 2, 3, 4, 5, // actors and trust
	6, 7, 6, 7, 8, 9, 8, 9, 10, // offers
	11, 12, 11, 12, 11, // matching
	13, 13, 13, 13, // results
	14, 14, 14, // accept
	15, 15, 15, // reject
	16, 16, 16, 16, // mediate
	17, 17, // timeouts
	18, 18, 18, // the clock
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
			let owner = if a % 4 == 0 { step.actor } else { RP };
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
			Market::post_result(
				RuntimeOrigin::signed(if a % 5 == 0 { step.actor } else { who }),
				match_id,
				status,
				reference("result"),
				[2; 32],
				b % (limits.0 + limits.0 / 8 + 1),
				a % (limits.1 + limits.1 / 8 + 1),
			)
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
			let who = Matches::<Test>::get(match_id).map(|m| m.mediator).unwrap_or(step.actor);
			Market::post_mediation_result(
				RuntimeOrigin::signed(who),
				match_id,
				verdicts[(b % 7) as usize],
				faulty[(b / 7 % 3) as usize],
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
		_ => {
			advance(if b % 2 == 0 { a % 60_000 } else { a % (3 * HOUR) });
			Ok(())
		},
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

proptest! {
	#![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

	#[test]
	fn random_call_sequences_conserve_funds_and_state(steps in prop::collection::vec(step(), 1..40)) {
		new_test_ext().execute_with(|| {
			register_all();
			for step in &steps {
				let before = sp_io::storage::root(StateVersion::V1);
				if run(step).is_err() {
					prop_assert_eq!(before, sp_io::storage::root(StateVersion::V1), "failed call changed storage: {:?}", step);
				}
				check_invariants()?;
			}
			Ok(())
		})?;
	}
}

/// The random walk must reach every close path, or the property above proves little.
#[test]
fn random_walks_reach_every_close_path() {
	use proptest::{strategy::ValueTree, test_runner::TestRunner};
	let mut runner = TestRunner::deterministic();
	let mut outcomes = std::collections::BTreeSet::new();
	for _ in 0..3_000 {
		let steps = prop::collection::vec(step(), 1..40).new_tree(&mut runner).unwrap().current();
		new_test_ext().execute_with(|| {
			register_all();
			for step in &steps {
				let _ = run(step);
			}
			for e in events() {
				if let Event::MatchClosed { outcome, .. } = e {
					outcomes.insert(
						format!("{outcome:?}").split(['(', ' ']).next().unwrap().to_string(),
					);
				}
			}
		});
	}
	for expected in ["Accepted", "TimedOut", "Mediated", "MediationFailed"] {
		assert!(outcomes.contains(expected), "no random walk reached {expected}: {outcomes:?}");
	}
}
