//! Behaviour as users see it: balances of every party, events, states, errors.

use crate::{mock::*, pallet::*, types::*, Error, Event};
use frame_support::{
	assert_noop, assert_ok,
	traits::{fungible::InspectHold, Currency},
};
use sp_runtime::{DispatchError, FixedU128};

mod attacks;
mod batched_effects;
mod batches;
mod honesty;
mod properties;
mod records;
mod replicas;
mod reputation;
mod scenarios;

const LAYER: ContentHash = [0xba; 32];
const HOUR: u64 = 3_600_000;

/// Mediator prices: 1 per instruction, 1 per byte, availability 7.
const MEDIATOR_AVAILABILITY: Balance = 7;
/// Directory availability price.
const DIRECTORY_AVAILABILITY: Balance = 5;
/// The mediator re-runs at 1 ms per instruction (as the RP runs).
const MEDIATOR_TIME_PER_INSTRUCTION: u64 = 1_000_000;

/// The match's reaction window: the base window plus the job's 1000 instructions at the
/// RP's 1 ms each.
fn reaction_window() -> u64 {
	parameters().reaction_window + 1_000
}

/// The match's mediation window: n = 2 runs of 1000 instructions at 1 ms, plus slack.
fn mediation_window() -> u64 {
	parameters().mediation_window + 2_000
}

fn reference(text: &str) -> Reference {
	text.as_bytes().to_vec().try_into().expect("test references are short")
}

/// π̂_c = 1000 · 2 + 500 · 1 = 2500.
fn job_terms() -> JobOfferTerms<AccountId, Balance> {
	JobOfferTerms {
		provider_record: None,
		instruction_limit: 1_000,
		bandwidth_limit: 500,
		instruction_max_price: 2,
		bandwidth_max_price: 1,
		completion_deadline: START + HOUR,
		match_incentive: 5,
		first_layer_hash: LAYER,
		ram_limit: 512,
		local_storage_limit: 1_024,
		directory: DIRECTORY,
		job_reference: reference("127.0.0.1:5000/jobs/sum@sha256:00"),
		job_hash: [7; 32],
		arch: Architecture::Amd64,
	}
}

/// π̂_c = 2000 · 1 + 1000 · 1 = 3000.
fn resource_terms() -> ResourceOfferTerms<Balance> {
	ResourceOfferTerms {
		creator_record: None,
		instruction_price: 1,
		instruction_cap: 2_000,
		memory_cap: 1_024,
		local_storage_cap: 4_096,
		bandwidth_cap: 1_000,
		bandwidth_price: 1,
		match_incentive: 3,
	}
}

/// d_min for the JC with mediator and directory: 2500 · 52 + 5 + 4 + 3.
const JC_DEPOSIT: Balance = 130_012;
/// d_min for the RP with mediator and directory: 3000 · 52 + 3 + 3 + 2.
const RP_DEPOSIT: Balance = 156_008;

fn free(who: AccountId) -> Balance {
	Balances::free_balance(who)
}

fn held(who: AccountId) -> Balance {
	Balances::total_balance_on_hold(&who)
}

fn events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Market(e) => Some(e),
			_ => None,
		})
		.collect()
}

fn register_all() {
	assert_ok!(Market::register_resource_provider(
		RuntimeOrigin::signed(RP),
		Architecture::Amd64,
		1_000_000
	));
	assert_ok!(Market::register_job_creator(RuntimeOrigin::signed(JC)));
	assert_ok!(Market::register_mediator(
		RuntimeOrigin::signed(MEDIATOR),
		Architecture::Amd64,
		MEDIATOR_TIME_PER_INSTRUCTION,
		1,
		1,
		MEDIATOR_AVAILABILITY
	));
	assert_ok!(Market::register_directory(
		RuntimeOrigin::signed(DIRECTORY),
		reference("http://127.0.0.1:5000"),
		DIRECTORY_AVAILABILITY
	));
	assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(JC), MEDIATOR));
	assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(RP), MEDIATOR));
	assert_ok!(Market::trust_directory(RuntimeOrigin::signed(RP), DIRECTORY));
	assert_ok!(Market::trust_directory(RuntimeOrigin::signed(MEDIATOR), DIRECTORY));
	assert_ok!(Market::add_base_layer(RuntimeOrigin::signed(RP), LAYER));
	assert_ok!(Market::add_base_layer(RuntimeOrigin::signed(MEDIATOR), LAYER));
}

/// `who` posts the standard job offer with [`JC_DEPOSIT`], open for an hour.
fn post_job_offer_of(who: AccountId) {
	assert_ok!(Market::post_job_offer(
		RuntimeOrigin::signed(who),
		job_terms(),
		JC_DEPOSIT,
		START + HOUR
	));
}

/// `who` posts the standard resource offer with [`RP_DEPOSIT`], open for an hour.
fn post_resource_offer_of(who: AccountId) {
	assert_ok!(Market::post_resource_offer(
		RuntimeOrigin::signed(who),
		resource_terms(),
		RP_DEPOSIT,
		START + HOUR
	));
}

/// Posts one offer of each kind (ids 0 = job, 1 = resource) with the exact minimum
/// deposits.
fn post_offers() {
	post_job_offer_of(JC);
	post_resource_offer_of(RP);
}

/// Registers everyone, posts both offers and matches them as match 0.
fn matched() {
	register_all();
	post_offers();
	assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR));
}

/// RP usage: 800 instructions, 300 bytes → π_c = 1100.
const CLAIMED_PRICE: Balance = 1_100;

fn result_posted() {
	matched();
	assert_ok!(Market::post_result(
		RuntimeOrigin::signed(RP),
		0,
		ResultStatus::Completed,
		reference("127.0.0.1:5000/results/0@sha256:11"),
		[0x11; 32],
		800,
		300
	));
}

fn in_mediation(reason: RejectReason) {
	result_posted();
	assert_ok!(Market::reject_result(RuntimeOrigin::signed(JC), 0, reason));
}

/// Free balance each party had before any of the above.
fn start_free(who: AccountId) -> Balance {
	match who {
		SOLVER | STRANGER => ENDOWMENT,
		_ => ENDOWMENT - BOND,
	}
}

/// Asserts every party's free balance change and that nothing stays held but bonds.
fn assert_settled(jc: i128, rp: i128, mediator: i128, directory: i128, solver: i128) {
	for (who, delta) in
		[(JC, jc), (RP, rp), (MEDIATOR, mediator), (DIRECTORY, directory), (SOLVER, solver)]
	{
		let expected = (start_free(who) as i128 + delta) as Balance;
		assert_eq!(free(who), expected, "free balance of account {who}");
	}
	for who in [JC, RP, MEDIATOR] {
		assert_eq!(held(who), BOND, "only the bond stays held for account {who}");
	}
	assert!(Matches::<Test>::get(0).is_none());
	assert_ok!(Market::do_try_state());
}

fn issuance() -> Balance {
	Balances::total_issuance()
}

fn initial_issuance() -> Balance {
	ENDOWMENT * ACCOUNTS.len() as Balance
}

#[test]
fn genesis_sets_the_papers_defaults() {
	new_test_ext().execute_with(|| {
		let p = Parameters::<Test>::get();
		assert_eq!(p.verification_count, 2);
		assert_eq!(p.penalty_rate, FixedU128::from_u32(50));
		assert_eq!(p.registration_bond, BOND);
	});
}

#[test]
fn genesis_json_takes_theta_as_a_decimal_and_refuses_a_negative_one() {
	let json = r#"{"penaltyRate":"12.5","verificationCount":3,"reactionWindow":1,
		"mediationWindow":1,"registrationBond":0,"depositFloor":0,"maxOfferLifetime":1,
		"maxCompletionHorizon":1,"settlementGrace":0}"#;
	let parsed: MarketParameters<Balance> = serde_json::from_str(json).unwrap();
	assert_eq!(parsed.penalty_rate, FixedU128::from_rational(25, 2));
	let negative = json.replace("12.5", "-1.0");
	let error = serde_json::from_str::<MarketParameters<Balance>>(&negative).unwrap_err();
	assert!(error.to_string().contains("negative"), "{error}");
}

#[test]
fn integrity_test_passes() {
	new_test_ext().execute_with(|| {
		use frame_support::traits::IntegrityTest;
		AllPalletsWithSystem::integrity_test();
	});
}

#[test]
fn approximate_amounts_round_up_and_fit_an_error() {
	for amount in [0u128, 1, 65_535, 65_536, 130_012, 999_999_999, u128::MAX / 3] {
		let approx = ApproxAmount::at_least(amount);
		assert!(approx.value() >= amount, "{amount}");
		// At most 1 part in 6553 too high.
		assert!(approx.value() - amount <= amount / 6_000 + 1, "{amount} → {}", approx.value());
	}
	assert_eq!(ApproxAmount::at_least(130_012), ApproxAmount { mantissa: 13_002, exponent: 1 });
}

#[test]
fn registration_holds_a_bond_and_deregistration_releases_it() {
	new_test_ext().execute_with(|| {
		assert_ok!(Market::register_job_creator(RuntimeOrigin::signed(JC)));
		assert_eq!(held(JC), BOND);
		assert_eq!(free(JC), ENDOWMENT - BOND);
		assert_noop!(
			Market::register_job_creator(RuntimeOrigin::signed(JC)),
			Error::<Test>::AlreadyRegistered
		);
		assert_ok!(Market::deregister(RuntimeOrigin::signed(JC), Role::JobCreator));
		assert_eq!((held(JC), free(JC)), (0, ENDOWMENT));
		assert_noop!(
			Market::deregister(RuntimeOrigin::signed(JC), Role::JobCreator),
			Error::<Test>::NotRegistered
		);
		assert!(events().contains(&Event::Deregistered {
			who: JC,
			role: Role::JobCreator,
			bond_released: BOND
		}));
	});
}

#[test]
fn registration_without_funds_for_the_bond_fails_cleanly() {
	new_test_ext().execute_with(|| {
		let poor = 99;
		let _ = Balances::deposit_creating(&poor, BOND / 2);
		assert_noop!(
			Market::register_job_creator(RuntimeOrigin::signed(poor)),
			DispatchError::Token(sp_runtime::TokenError::FundsUnavailable)
		);
	});
}

#[test]
fn zero_time_per_instruction_is_refused() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Market::register_resource_provider(RuntimeOrigin::signed(RP), Architecture::Amd64, 0),
			Error::<Test>::ZeroTimePerInstruction
		);
	});
}

#[test]
fn deregistering_waits_for_open_offers_and_matches() {
	new_test_ext().execute_with(|| {
		matched();
		for (who, role) in [
			(JC, Role::JobCreator),
			(RP, Role::ResourceProvider),
			(MEDIATOR, Role::Mediator),
			(DIRECTORY, Role::Directory),
		] {
			assert_noop!(
				Market::deregister(RuntimeOrigin::signed(who), role),
				Error::<Test>::HasOpenItems
			);
		}
	});
}

#[test]
fn trust_lists_are_editable_and_checked() {
	new_test_ext().execute_with(|| {
		register_all();
		assert_noop!(
			Market::trust_mediator(RuntimeOrigin::signed(JC), MEDIATOR),
			Error::<Test>::AlreadyListed
		);
		assert_noop!(
			Market::trust_mediator(RuntimeOrigin::signed(JC), STRANGER),
			Error::<Test>::UnknownMediator
		);
		assert_noop!(
			Market::trust_directory(RuntimeOrigin::signed(RP), STRANGER),
			Error::<Test>::UnknownDirectory
		);
		// A JC uses no directory list; an unregistered account has no lists at all.
		assert_noop!(
			Market::trust_directory(RuntimeOrigin::signed(JC), DIRECTORY),
			Error::<Test>::NotRegistered
		);
		assert_noop!(
			Market::add_base_layer(RuntimeOrigin::signed(STRANGER), LAYER),
			Error::<Test>::NotRegistered
		);
		assert_ok!(Market::distrust_mediator(RuntimeOrigin::signed(JC), MEDIATOR));
		assert!(TrustedMediators::<Test>::get(JC).is_empty());
		assert_noop!(
			Market::distrust_mediator(RuntimeOrigin::signed(JC), MEDIATOR),
			Error::<Test>::NotListed
		);
		assert_ok!(Market::remove_base_layer(RuntimeOrigin::signed(RP), LAYER));
		assert_ok!(Market::distrust_directory(RuntimeOrigin::signed(RP), DIRECTORY));
		for layer in 0..4u8 {
			assert_ok!(Market::add_base_layer(RuntimeOrigin::signed(RP), [layer; 32]));
		}
		assert_noop!(
			Market::add_base_layer(RuntimeOrigin::signed(RP), [9; 32]),
			Error::<Test>::ListFull
		);
	});
}

#[test]
fn offers_below_the_minimum_deposit_are_refused_with_the_minimum() {
	new_test_ext().execute_with(|| {
		register_all();
		// Without a mediator known yet: 2500 · 52 + 5 + 3 (half the directory's 5).
		assert_eq!(Market::quote_job_deposit(&job_terms(), None), Ok(130_008));
		// With the mediator: what any match at the job's maximum prices can take, its
		// π̂_c and the mediator's fee bound (2500 + 3000), the fine θ · π̂_c, availability
		// halves 4 + 3 and the incentive 5; above eq. 2's 130_012.
		assert_eq!(
			Market::quote_job_deposit(&job_terms(), Some(&MEDIATOR)),
			Ok(125_000 + 5_500 + 7 + 5)
		);
		assert_noop!(
			Market::post_job_offer(RuntimeOrigin::signed(JC), job_terms(), 130_007, START + HOUR),
			Error::<Test>::DepositBelowMinimum { minimum: ApproxAmount::at_least(130_008) }
		);
		assert_eq!(Market::quote_resource_deposit(&resource_terms(), None, None), Ok(156_003));
		assert_noop!(
			Market::post_resource_offer(
				RuntimeOrigin::signed(RP),
				resource_terms(),
				156_002,
				START + HOUR
			),
			Error::<Test>::DepositBelowMinimum { minimum: ApproxAmount::at_least(156_003) }
		);
	});
}

#[test]
fn the_deposit_floor_applies_to_tiny_offers() {
	new_test_ext().execute_with(|| {
		register_all();
		let free_terms = ResourceOfferTerms {
			instruction_price: 0,
			bandwidth_price: 0,
			match_incentive: 0,
			..resource_terms()
		};
		assert_noop!(
			Market::post_resource_offer(
				RuntimeOrigin::signed(RP),
				free_terms.clone(),
				9,
				START + HOUR
			),
			Error::<Test>::DepositBelowMinimum { minimum: ApproxAmount::at_least(10) }
		);
		assert_ok!(Market::post_resource_offer(
			RuntimeOrigin::signed(RP),
			free_terms,
			10,
			START + HOUR
		));
	});
}

#[test]
fn posting_holds_the_deposit_and_cancelling_returns_it() {
	new_test_ext().execute_with(|| {
		register_all();
		post_offers();
		assert_eq!(held(JC), BOND + JC_DEPOSIT);
		assert_eq!(held(RP), BOND + RP_DEPOSIT);
		assert_noop!(
			Market::cancel_offer(RuntimeOrigin::signed(RP), OfferRef::Job(0)),
			Error::<Test>::NotOfferOwner
		);
		assert_ok!(Market::cancel_offer(RuntimeOrigin::signed(JC), OfferRef::Job(0)));
		assert_ok!(Market::cancel_offer(RuntimeOrigin::signed(RP), OfferRef::Resource(1)));
		assert_eq!((held(JC), free(JC)), (BOND, ENDOWMENT - BOND));
		assert_eq!((held(RP), free(RP)), (BOND, ENDOWMENT - BOND));
		assert_noop!(
			Market::cancel_offer(RuntimeOrigin::signed(JC), OfferRef::Job(0)),
			Error::<Test>::OfferNotFound
		);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn offer_expiry_is_bounded_and_expired_offers_can_be_cleared_by_anyone() {
	new_test_ext().execute_with(|| {
		register_all();
		assert_noop!(
			Market::post_job_offer(RuntimeOrigin::signed(JC), job_terms(), JC_DEPOSIT, START),
			Error::<Test>::ExpiryInPast
		);
		let too_far = START + parameters().max_offer_lifetime + 1;
		assert_noop!(
			Market::post_job_offer(RuntimeOrigin::signed(JC), job_terms(), JC_DEPOSIT, too_far),
			Error::<Test>::ExpiryTooFar
		);
		post_offers();
		assert_noop!(
			Market::clear_expired_offer(RuntimeOrigin::signed(STRANGER), OfferRef::Job(0)),
			Error::<Test>::OfferNotExpired
		);
		advance(HOUR + 1);
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR),
			Error::<Test>::JobOfferExpired
		);
		assert_ok!(Market::clear_expired_offer(RuntimeOrigin::signed(STRANGER), OfferRef::Job(0)));
		assert_ok!(Market::clear_expired_offer(
			RuntimeOrigin::signed(STRANGER),
			OfferRef::Resource(1)
		));
		assert_eq!(free(JC), ENDOWMENT - BOND);
		assert_eq!(free(RP), ENDOWMENT - BOND);
		assert_eq!(free(STRANGER), ENDOWMENT);
		assert!(events().contains(&Event::OfferExpired {
			offer: OfferRef::Job(0),
			owner: JC,
			cleared_by: Some(STRANGER),
			deposit_released: JC_DEPOSIT
		}));
	});
}

#[test]
fn a_job_offer_needs_a_registered_directory_and_a_future_deadline() {
	new_test_ext().execute_with(|| {
		register_all();
		let unknown = JobOfferTerms { directory: STRANGER, ..job_terms() };
		assert_noop!(
			Market::post_job_offer(RuntimeOrigin::signed(JC), unknown, JC_DEPOSIT, START + HOUR),
			Error::<Test>::UnknownDirectory
		);
		let late = JobOfferTerms { completion_deadline: START, ..job_terms() };
		assert_noop!(
			Market::post_job_offer(RuntimeOrigin::signed(JC), late, JC_DEPOSIT, START + HOUR),
			Error::<Test>::DeadlineInPast
		);
		assert_noop!(
			Market::post_job_offer(
				RuntimeOrigin::signed(STRANGER),
				job_terms(),
				JC_DEPOSIT,
				START + HOUR
			),
			Error::<Test>::NotRegistered
		);
	});
}

#[test]
fn open_items_are_bounded() {
	new_test_ext().execute_with(|| {
		register_all();
		MaxOpenItems::set(2);
		for _ in 0..2 {
			post_resource_offer_of(RP);
		}
		assert_noop!(
			Market::post_resource_offer(
				RuntimeOrigin::signed(RP),
				resource_terms(),
				RP_DEPOSIT,
				START + HOUR
			),
			Error::<Test>::ProviderTooManyOpenItems
		);
		MaxOpenItems::set(16);
	});
}

#[test]
fn set_parameters_is_root_only_validated_and_announced() {
	new_test_ext().execute_with(|| {
		let mut p = parameters();
		p.verification_count = 3;
		p.penalty_rate = FixedU128::from_rational(1, 2);
		assert_noop!(
			Market::set_parameters(RuntimeOrigin::signed(JC), p.clone()),
			DispatchError::BadOrigin
		);
		assert_ok!(Market::set_parameters(RuntimeOrigin::root(), p.clone()));
		assert_eq!(Parameters::<Test>::get(), p);
		assert!(events().contains(&Event::ParametersSet { parameters: p.clone() }));
		for (broken, error) in [
			(
				MarketParameters { verification_count: 0, ..p.clone() },
				Error::<Test>::ZeroVerificationCount,
			),
			(
				MarketParameters { reaction_window: 0, ..p.clone() },
				Error::<Test>::ZeroReactionWindow,
			),
			(
				MarketParameters { mediation_window: 0, ..p.clone() },
				Error::<Test>::ZeroMediationWindow,
			),
			(
				MarketParameters { max_offer_lifetime: 0, ..p.clone() },
				Error::<Test>::ZeroOfferLifetime,
			),
		] {
			assert_noop!(Market::set_parameters(RuntimeOrigin::root(), broken), error);
		}
	});
}

#[test]
fn runtime_api_pages_through_open_offers() {
	new_test_ext().execute_with(|| {
		register_all();
		for _ in 0..5 {
			post_resource_offer_of(RP);
		}
		let mut seen = Vec::new();
		let mut cursor = None;
		loop {
			let page = Market::resource_offers_page(cursor, 2);
			if page.is_empty() {
				break;
			}
			assert!(page.len() <= 2);
			cursor = page.last().map(|(id, _)| *id);
			seen.extend(page.into_iter().map(|(id, _)| id));
		}
		seen.sort();
		assert_eq!(seen, vec![0, 1, 2, 3, 4]);
		assert!(Market::job_offers_page(None, 10).is_empty());
	});
}
