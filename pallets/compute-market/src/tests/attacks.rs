//! Each hole of issue 13, performed as an attacker would, and shown closed: refused,
//! or the victim made whole.

use super::*;
use frame_support::traits::Hooks;
use frame_support::weights::Weight;

/// One account in every role it needs to deal with itself.
const ATTACKER: AccountId = STRANGER;

fn register_self_dealer(instruction_price: Balance) {
	let who = RuntimeOrigin::signed(ATTACKER);
	assert_ok!(Market::register_job_creator(who.clone()));
	assert_ok!(Market::register_resource_provider(who.clone(), Architecture::Amd64, 1_000_000));
	assert_ok!(Market::register_mediator(
		who.clone(),
		Architecture::Amd64,
		1_000_000,
		instruction_price,
		0,
		0
	));
	assert_ok!(Market::trust_mediator(who.clone(), ATTACKER));
	assert_ok!(Market::trust_directory(who.clone(), DIRECTORY));
	assert_ok!(Market::add_base_layer(who, LAYER));
}

/// Posts the attacker's job (naming the victim directory) and resource offers with
/// the deposits the chain quotes for a match with itself as mediator.
fn self_dealt_offers(job: JobOfferTerms<AccountId, Balance>) -> (OfferId, OfferId) {
	let next = NextOfferId::<Test>::get();
	let job_deposit = Market::quote_job_deposit(&job, Some(&ATTACKER)).unwrap();
	assert_ok!(Market::post_job_offer(
		RuntimeOrigin::signed(ATTACKER),
		job,
		job_deposit,
		START + HOUR
	));
	let resource =
		ResourceOfferTerms { instruction_price: 0, bandwidth_price: 0, ..resource_terms() };
	let resource_deposit =
		Market::quote_resource_deposit(&resource, Some(&ATTACKER), Some(&DIRECTORY)).unwrap()
			+ 2_500;
	assert_ok!(Market::post_resource_offer(
		RuntimeOrigin::signed(ATTACKER),
		resource,
		resource_deposit,
		START + HOUR
	));
	(next, next + 1)
}

#[test]
fn hole_1_a_stranger_cannot_take_a_directorys_bond() {
	new_test_ext().execute_with(|| {
		register_all();
		// A huge instruction price: the fee it would rule for itself (2 · 1000 · 1000) is
		// far above the directory's bond.
		register_self_dealer(1_000);
		let victim_before = (free(DIRECTORY), held(DIRECTORY));
		let job = JobOfferTerms { instruction_max_price: 0, bandwidth_max_price: 0, ..job_terms() };
		let (job_id, resource_id) = self_dealt_offers(job);
		assert_ok!(Market::post_match(
			RuntimeOrigin::signed(ATTACKER),
			job_id,
			resource_id,
			ATTACKER
		));
		assert_eq!(Matches::<Test>::get(0).unwrap().directory_liability, 0);
		assert_ok!(Market::post_result(
			RuntimeOrigin::signed(ATTACKER),
			0,
			ResultStatus::DirectoryUnavailable,
			reference("r"),
			[0; 32],
			1_000,
			0
		));
		assert_ok!(Market::reject_result(
			RuntimeOrigin::signed(ATTACKER),
			0,
			RejectReason::DirectoryUnavailable
		));
		assert_ok!(Market::post_mediation_result(
			RuntimeOrigin::signed(ATTACKER),
			0,
			Verdict::DirectoryUnavailable,
			FaultyParty::Directory,
			1_000,
			0,
			[0; 32]
		));
		// The directory never trusted the attacker's mediator: its bond is untouched and
		// the attacker's claim on it is announced as a shortfall.
		assert_eq!((free(DIRECTORY), held(DIRECTORY)), victim_before);
		assert_eq!(Directories::<Test>::get(DIRECTORY).unwrap().bond, BOND);
		assert!(events().iter().any(|e| matches!(
			e,
			Event::Shortfall { who: ATTACKER, paid: 0, reason: PaymentReason::MediationFee, .. }
		)));
		// Later matches naming the directory still close.
		post_offers();
		let next = NextOfferId::<Test>::get();
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), next - 2, next - 1, MEDIATOR));
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn hole_1_a_trusted_mediator_takes_at_most_the_liability_fixed_at_match() {
	new_test_ext().execute_with(|| {
		register_all();
		assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(DIRECTORY), MEDIATOR));
		post_offers();
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR));
		// Eq. 2 on the directory's own price at the match's θ = 50 and n = 2.
		let liability = Matches::<Test>::get(0).unwrap().directory_liability;
		assert_eq!(liability, DIRECTORY_AVAILABILITY * 52);
		assert!(liability < BOND);
		// Root raising θ afterwards changes nothing: the liability came from the match.
		let mut harsher = Parameters::<Test>::get();
		harsher.penalty_rate = FixedU128::from_u32(10_000);
		assert_ok!(Market::set_parameters(RuntimeOrigin::root(), harsher));
		assert_eq!(Matches::<Test>::get(0).unwrap().directory_liability, liability);
	});
}

#[test]
fn hole_2_a_zero_price_offer_cannot_post_a_deposit_below_the_timeout_it_owes() {
	new_test_ext().execute_with(|| {
		register_all();
		let cheap = ResourceOfferTerms {
			creator_record: None,
			instruction_price: 0,
			bandwidth_price: 0,
			instruction_cap: u64::MAX,
			bandwidth_cap: u64::MAX,
			memory_cap: u64::MAX,
			local_storage_cap: u64::MAX,
			match_incentive: 0,
		};
		let floor = Market::quote_resource_deposit(&cheap, None, None).unwrap();
		assert_eq!(floor, 10);
		post_job_offer_of(JC);
		assert_ok!(Market::post_resource_offer(
			RuntimeOrigin::signed(RP),
			cheap.clone(),
			floor,
			START + HOUR
		));
		// The dearer of π̂_c = 2500 at a timeout and the mediator's fee for n = 2 runs of
		// the job's limits (2 · 1500 at price 1), plus the RP's availability halves 3 + 2.
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR),
			Error::<Test>::ResourceDepositTooLowForMatch {
				minimum: ApproxAmount::at_least(3_000 + 3 + 2)
			}
		);
		// With the deposit the match needs, the JC gets its whole estimate at a timeout.
		assert_ok!(Market::post_resource_offer(
			RuntimeOrigin::signed(RP),
			cheap,
			3_005,
			START + HOUR
		));
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 2, MEDIATOR));
		set_now(START + HOUR + 1);
		let before = free(JC);
		assert_ok!(Market::timeout(RuntimeOrigin::signed(JC), 0));
		assert_eq!(free(JC), before + JC_DEPOSIT - 5 + 2_500 - 4 - 3);
		assert!(!events().iter().any(|e| matches!(e, Event::Shortfall { .. })));
	});
}

#[test]
fn hole_2_the_job_deposit_must_cover_the_mediators_fee_at_its_prices() {
	new_test_ext().execute_with(|| {
		register_all();
		// A mediator whose prices are far above the job's: π_m could reach 2 · 1500 · 100.
		assert_ok!(Market::register_mediator(
			RuntimeOrigin::signed(7),
			Architecture::Amd64,
			1_000_000,
			100,
			100,
			0
		));
		for who in [JC, RP] {
			assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(who), 7));
		}
		assert_ok!(Market::trust_directory(RuntimeOrigin::signed(7), DIRECTORY));
		assert_ok!(Market::add_base_layer(RuntimeOrigin::signed(7), LAYER));
		post_offers();
		assert!(matches!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, 7),
			Err(e) if e == Error::<Test>::JobDepositTooLowForMatch {
				minimum: ApproxAmount::at_least(1_500 + 300_000 + 125_000 + 3 + 5)
			}.into()
		));
		// The quote for this mediator is the deposit that passes.
		let quote = Market::quote_job_deposit(&job_terms(), Some(&7)).unwrap();
		assert_ok!(Market::post_job_offer(
			RuntimeOrigin::signed(JC),
			job_terms(),
			quote,
			START + HOUR
		));
		let rp_quote =
			Market::quote_resource_deposit(&resource_terms(), Some(&7), Some(&DIRECTORY)).unwrap();
		assert_ok!(Market::post_resource_offer(
			RuntimeOrigin::signed(RP),
			resource_terms(),
			rp_quote,
			START + HOUR
		));
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 2, 3, 7));
	});
}

/// A second mediator (account 7) at 0 prices and `time_per_instruction_ns`, trusted by
/// JC and RP, trusting the directory and holding the layer.
fn register_slow_mediator(time_per_instruction_ns: u64) {
	assert_ok!(Market::register_mediator(
		RuntimeOrigin::signed(7),
		Architecture::Amd64,
		time_per_instruction_ns,
		0,
		0,
		0
	));
	for who in [JC, RP] {
		assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(who), 7));
	}
	assert_ok!(Market::trust_directory(RuntimeOrigin::signed(7), DIRECTORY));
	assert_ok!(Market::add_base_layer(RuntimeOrigin::signed(7), LAYER));
}

/// A two-hour job (7.2 M instructions at the RP's 1 ms) that costs nothing to compute.
fn long_job() -> JobOfferTerms<AccountId, Balance> {
	JobOfferTerms {
		instruction_limit: 7_200_000,
		instruction_max_price: 0,
		completion_deadline: START + 3 * HOUR,
		..job_terms()
	}
}

fn post_long_offers() {
	let job = long_job();
	let deposit = Market::quote_job_deposit(&job, Some(&7)).unwrap();
	assert_ok!(Market::post_job_offer(RuntimeOrigin::signed(JC), job, deposit, START + HOUR));
	let resource =
		ResourceOfferTerms { instruction_cap: 7_200_000, instruction_price: 0, ..resource_terms() };
	assert_ok!(Market::post_resource_offer(
		RuntimeOrigin::signed(RP),
		resource,
		RP_DEPOSIT,
		START + HOUR
	));
}

#[test]
fn hole_3_a_long_job_gets_a_mediation_window_for_n_runs_and_a_reaction_window_to_verify() {
	new_test_ext().execute_with(|| {
		register_all();
		register_slow_mediator(1_000_000);
		post_long_offers();
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, 7));
		let record = Matches::<Test>::get(0).unwrap();
		assert_eq!(record.reaction_window, parameters().reaction_window + 2 * HOUR);
		assert_eq!(record.mediation_window, parameters().mediation_window + 2 * 2 * HOUR);
		advance(2 * HOUR);
		assert_ok!(Market::post_result(
			RuntimeOrigin::signed(RP),
			0,
			ResultStatus::Completed,
			reference("r"),
			[1; 32],
			7_000_000,
			0
		));
		// Half an hour later the JC, still verifying, can reject.
		advance(HOUR / 2);
		assert_ok!(Market::reject_result(RuntimeOrigin::signed(JC), 0, RejectReason::WrongResults));
		// After the old fixed 30-minute window the mediation is still open.
		advance(parameters().mediation_window + 1);
		assert_noop!(
			Market::mediation_timeout(RuntimeOrigin::signed(STRANGER), 0),
			Error::<Test>::MediationDeadlineNotReached
		);
		assert_ok!(Market::post_mediation_result(
			RuntimeOrigin::signed(7),
			0,
			Verdict::WrongResults,
			FaultyParty::ResourceProvider,
			7_000_000,
			0,
			[2; 32]
		));
		assert!(events().iter().any(|e| matches!(e, Event::Fined { who: RP, .. })));
	});
}

#[test]
fn hole_3_a_mediator_too_slow_for_n_runs_within_the_horizon_is_refused() {
	new_test_ext().execute_with(|| {
		register_all();
		// 100 ms per instruction: 2 · 7.2 M runs take 16.7 days, over the 7-day horizon.
		register_slow_mediator(100_000_000);
		post_long_offers();
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, 7),
			Error::<Test>::MediatorTooSlow
		);
	});
}

#[test]
fn hole_4_root_cannot_move_the_deadlines_or_terms_of_a_running_match() {
	new_test_ext().execute_with(|| {
		matched();
		let tight = MarketParameters {
			penalty_rate: FixedU128::from_u32(0),
			verification_count: 1,
			reaction_window: 1,
			mediation_window: 1,
			settlement_grace: 0,
			..parameters()
		};
		assert_ok!(Market::set_parameters(RuntimeOrigin::root(), tight));
		assert_ok!(Market::post_result(
			RuntimeOrigin::signed(RP),
			0,
			ResultStatus::Completed,
			reference("r"),
			[1; 32],
			800,
			300
		));
		// The RP may not self-accept early: the reaction window is the match's own.
		advance(2);
		assert_noop!(
			Market::accept_result(RuntimeOrigin::signed(RP), 0),
			Error::<Test>::ReactionWindowOpen
		);
		assert_ok!(Market::reject_result(RuntimeOrigin::signed(JC), 0, RejectReason::WrongResults));
		assert!(events().iter().any(|e| matches!(e,
			Event::JobAssignedForMediation { mediation_deadline, .. }
				if *mediation_deadline == START + 2 + mediation_window())));
		// n = 2 and θ = 50 still price the verdict.
		assert_ok!(Market::post_mediation_result(
			RuntimeOrigin::signed(MEDIATOR),
			0,
			Verdict::WrongResults,
			FaultyParty::ResourceProvider,
			700,
			300,
			[2; 32]
		));
		assert!(events().iter().any(|e| matches!(
			e,
			Event::Paid { to: MEDIATOR, amount: 2_000, reason: PaymentReason::MediationFee, .. }
		)));
	});
}

#[test]
fn hole_5_a_completion_deadline_years_away_is_refused() {
	new_test_ext().execute_with(|| {
		register_all();
		let far =
			JobOfferTerms { completion_deadline: START + 10 * 365 * 24 * HOUR, ..job_terms() };
		assert_noop!(
			Market::post_job_offer(RuntimeOrigin::signed(JC), far, JC_DEPOSIT, START + HOUR),
			Error::<Test>::DeadlineTooFar
		);
	});
}

#[test]
fn hole_5_anyone_frees_a_mediator_locked_by_abandoned_matches_and_the_victims_are_paid() {
	new_test_ext().execute_with(|| {
		register_all();
		MaxOpenItems::set(2);
		// The attacker (JC and RP here) fills the mediator's two slots and walks away:
		// one match with no result, one with a result nobody accepts.
		for _ in 0..2 {
			post_offers();
		}
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR));
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 2, 3, MEDIATOR));
		assert_ok!(Market::post_result(
			RuntimeOrigin::signed(RP),
			1,
			ResultStatus::Completed,
			reference("r"),
			[1; 32],
			800,
			300
		));
		assert_eq!(Mediators::<Test>::get(MEDIATOR).unwrap().open_items, 2);
		assert_noop!(
			Market::deregister(RuntimeOrigin::signed(MEDIATOR), Role::Mediator),
			Error::<Test>::HasOpenItems
		);
		let grace = parameters().settlement_grace;
		set_now(START + HOUR + 1);
		assert_noop!(
			Market::timeout(RuntimeOrigin::signed(MEDIATOR), 0),
			Error::<Test>::GracePeriodNotOver
		);
		set_now(START + HOUR + grace + 1);
		let jc_before = free(JC);
		let mediator_before = free(MEDIATOR);
		assert_ok!(Market::timeout(RuntimeOrigin::signed(MEDIATOR), 0));
		// The JC still gets π̂_c, the mediator its availability price.
		assert_eq!(free(JC), jc_before + JC_DEPOSIT - 5 + 2_500 - 4 - 3);
		assert_eq!(free(MEDIATOR), mediator_before + MEDIATOR_AVAILABILITY);
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(MEDIATOR), 1));
		assert_eq!(Mediators::<Test>::get(MEDIATOR).unwrap().open_items, 0);
		assert_ok!(Market::deregister(RuntimeOrigin::signed(MEDIATOR), Role::Mediator));
		MaxOpenItems::set(16);
	});
}

#[test]
fn hole_5_job_offers_naming_a_directory_do_not_take_its_slots() {
	new_test_ext().execute_with(|| {
		register_all();
		MaxOpenItems::set(1);
		post_job_offer_of(JC);
		assert_ok!(Market::register_job_creator(RuntimeOrigin::signed(ATTACKER)));
		post_job_offer_of(ATTACKER);
		assert_eq!(Directories::<Test>::get(DIRECTORY).unwrap().open_items, 0);
		// The attacker's offer cannot stop the directory from leaving either; a match
		// naming a directory that left is refused.
		assert_ok!(Market::deregister(RuntimeOrigin::signed(DIRECTORY), Role::Directory));
		post_resource_offer_of(RP);
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 2, MEDIATOR),
			Error::<Test>::UnknownDirectory
		);
		MaxOpenItems::set(16);
	});
}

#[test]
fn hole_6_a_full_limit_names_whose_it_is() {
	new_test_ext().execute_with(|| {
		register_all();
		MaxOpenItems::set(1);
		post_offers();
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR));
		// A second JC and RP, the same mediator: its one slot is taken.
		assert_ok!(Market::register_job_creator(RuntimeOrigin::signed(7)));
		assert_ok!(Market::register_resource_provider(
			RuntimeOrigin::signed(ATTACKER),
			Architecture::Amd64,
			1_000_000
		));
		assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(7), MEDIATOR));
		assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(ATTACKER), MEDIATOR));
		assert_ok!(Market::trust_directory(RuntimeOrigin::signed(ATTACKER), DIRECTORY));
		assert_ok!(Market::add_base_layer(RuntimeOrigin::signed(ATTACKER), LAYER));
		post_job_offer_of(7);
		post_resource_offer_of(ATTACKER);
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 2, 3, MEDIATOR),
			Error::<Test>::MediatorTooManyOpenItems
		);
		assert_noop!(
			Market::post_job_offer(
				RuntimeOrigin::signed(JC),
				job_terms(),
				JC_DEPOSIT,
				START + HOUR
			),
			Error::<Test>::JobCreatorTooManyOpenItems
		);
		MaxOpenItems::set(16);
	});
}

#[test]
fn hole_6_trust_does_not_carry_over_to_a_re_registration_with_new_prices() {
	new_test_ext().execute_with(|| {
		register_all();
		assert_ok!(Market::deregister(RuntimeOrigin::signed(MEDIATOR), Role::Mediator));
		// Re-registered at a thousand times the price; the JC's and RP's lists still
		// name the account, but not this registration.
		assert_ok!(Market::register_mediator(
			RuntimeOrigin::signed(MEDIATOR),
			Architecture::Amd64,
			1_000_000,
			1_000,
			1_000,
			MEDIATOR_AVAILABILITY
		));
		assert_ok!(Market::trust_directory(RuntimeOrigin::signed(MEDIATOR), DIRECTORY));
		assert_ok!(Market::add_base_layer(RuntimeOrigin::signed(MEDIATOR), LAYER));
		post_offers();
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR),
			Error::<Test>::MediatorNotTrustedByJobCreator
		);
		// Trusting it again, knowingly, renews the entry; the RP has not.
		assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(JC), MEDIATOR));
		assert_noop!(
			Market::trust_mediator(RuntimeOrigin::signed(JC), MEDIATOR),
			Error::<Test>::AlreadyListed
		);
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR),
			Error::<Test>::MediatorNotTrustedByProvider
		);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn hole_6_expired_offers_leave_in_idle_time_at_nobodys_cost() {
	new_test_ext().execute_with(|| {
		register_all();
		post_offers();
		set_now(START + HOUR + 1);
		// No room, no work.
		assert_eq!(Market::on_idle(1, Weight::zero()), Weight::zero());
		assert!(JobOffers::<Test>::contains_key(0));
		let used = Market::on_idle(1, Weight::MAX);
		assert!(used.any_gt(Weight::zero()));
		assert!(!JobOffers::<Test>::contains_key(0) && !ResourceOffers::<Test>::contains_key(1));
		assert_eq!((free(JC), free(RP)), (ENDOWMENT - BOND, ENDOWMENT - BOND));
		assert!(events().contains(&Event::OfferExpired {
			offer: OfferRef::Job(0),
			owner: JC,
			cleared_by: None,
			deposit_released: JC_DEPOSIT
		}));
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn hole_6_unexpired_offers_survive_the_sweep() {
	new_test_ext().execute_with(|| {
		register_all();
		post_offers();
		Market::on_idle(1, Weight::MAX);
		assert!(JobOffers::<Test>::contains_key(0) && ResourceOffers::<Test>::contains_key(1));
	});
}

#[test]
fn hole_6_the_verdict_weight_covers_the_directory_fault_path() {
	use crate::weights::WeightInfo;
	use frame_support::dispatch::GetDispatchInfo;
	type W = crate::weights::SubstrateWeight<Test>;
	// The two paths are benchmarked apart; which is heavier is the measurement's
	// business, the declared weight must cover both.
	assert_ne!(W::post_mediation_result_directory_fault(), W::post_mediation_result());
	let call = crate::Call::<Test>::post_mediation_result {
		match_id: 0,
		verdict: Verdict::DirectoryUnavailable,
		faulty: FaultyParty::Directory,
		instruction_count: 0,
		bandwidth_used: 0,
		result_hash: [0; 32],
	};
	let charged = call.get_dispatch_info().call_weight;
	assert!(charged.all_gte(<() as WeightInfo>::post_mediation_result_directory_fault()));
	assert!(charged.all_gte(<() as WeightInfo>::post_mediation_result()));
}
