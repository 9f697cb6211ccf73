//! Matching and every close path, with exact balances for every party.

use super::*;

#[test]
fn each_feasibility_rule_fails_with_its_own_error() {
	type Rule = (fn(), Error<Test>);
	let cases: Vec<Rule> = vec![
		(|| set_resource(|r| r.instruction_cap = 999), Error::<Test>::InstructionCapTooLow),
		(|| set_resource(|r| r.memory_cap = 511), Error::<Test>::MemoryCapTooLow),
		(|| set_resource(|r| r.local_storage_cap = 1_023), Error::<Test>::LocalStorageCapTooLow),
		(|| set_resource(|r| r.bandwidth_cap = 499), Error::<Test>::BandwidthCapTooLow),
		(|| set_resource(|r| r.instruction_price = 3), Error::<Test>::InstructionPriceTooHigh),
		(|| set_resource(|r| r.bandwidth_price = 2), Error::<Test>::BandwidthPriceTooHigh),
		(|| set_job(|j| j.arch = Architecture::Arm64), Error::<Test>::ArchitectureMismatch),
		(
			|| {
				assert_ok!(Market::distrust_directory(RuntimeOrigin::signed(RP), DIRECTORY));
			},
			Error::<Test>::DirectoryNotTrustedByProvider,
		),
		(
			|| {
				assert_ok!(Market::distrust_mediator(RuntimeOrigin::signed(JC), MEDIATOR));
			},
			Error::<Test>::MediatorNotTrustedByJobCreator,
		),
		(
			|| {
				assert_ok!(Market::distrust_mediator(RuntimeOrigin::signed(RP), MEDIATOR));
			},
			Error::<Test>::MediatorNotTrustedByProvider,
		),
		(
			|| {
				Mediators::<Test>::mutate(MEDIATOR, |m| {
					m.as_mut().unwrap().arch = Architecture::Arm64
				})
			},
			Error::<Test>::MediatorArchitectureMismatch,
		),
		(
			|| {
				assert_ok!(Market::distrust_directory(RuntimeOrigin::signed(MEDIATOR), DIRECTORY));
			},
			Error::<Test>::DirectoryNotTrustedByMediator,
		),
		(
			|| {
				assert_ok!(Market::remove_base_layer(RuntimeOrigin::signed(RP), LAYER));
			},
			Error::<Test>::BaseLayerNotSupportedByProvider,
		),
		(
			|| {
				assert_ok!(Market::remove_base_layer(RuntimeOrigin::signed(MEDIATOR), LAYER));
			},
			Error::<Test>::BaseLayerNotSupportedByMediator,
		),
		// Rule 11: 1000 instructions at 1 ms each need 1 s; leave 999 ms.
		(|| set_now(START + HOUR - 999), Error::<Test>::DeadlineUnreachable),
	];
	for (break_rule, error) in cases {
		new_test_ext().execute_with(|| {
			register_all();
			post_offers();
			// Keep the offers alive past the clock moves above.
			JobOffers::<Test>::mutate(0, |o| o.as_mut().unwrap().expires_at = START + 2 * HOUR);
			ResourceOffers::<Test>::mutate(1, |o| {
				o.as_mut().unwrap().expires_at = START + 2 * HOUR
			});
			break_rule();
			assert_noop!(Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR), error);
		});
	}
}

fn set_resource(change: fn(&mut ResourceOfferTerms<Balance>)) {
	ResourceOffers::<Test>::mutate(1, |o| change(&mut o.as_mut().unwrap().terms));
}

fn set_job(change: fn(&mut JobOfferTerms<AccountId, Balance>)) {
	JobOffers::<Test>::mutate(0, |o| change(&mut o.as_mut().unwrap().terms));
}

#[test]
fn rule_eleven_accepts_a_deadline_met_exactly() {
	new_test_ext().execute_with(|| {
		register_all();
		post_offers();
		set_now(START + HOUR - 1_000);
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR));
	});
}

#[test]
fn rule_twelve_refuses_matched_and_cancelled_offers() {
	new_test_ext().execute_with(|| {
		matched();
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR),
			Error::<Test>::JobOfferNotOpen
		);
		post_job_offer_of(JC);
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 2, 1, MEDIATOR),
			Error::<Test>::ResourceOfferNotOpen
		);
		assert_noop!(
			Market::cancel_offer(RuntimeOrigin::signed(JC), OfferRef::Job(0)),
			Error::<Test>::OfferNotFound
		);
	});
}

#[test]
fn matching_pays_the_solver_both_incentives_and_announces_the_job() {
	new_test_ext().execute_with(|| {
		matched();
		assert_eq!(free(SOLVER), ENDOWMENT + 5 + 3);
		assert_eq!(held(JC), BOND + JC_DEPOSIT - 5);
		assert_eq!(held(RP), BOND + RP_DEPOSIT - 3);
		let record = Matches::<Test>::get(0).unwrap();
		assert_eq!(record.state, MatchState::Matched);
		assert_eq!(record.verification_count, 2);
		assert!(events().contains(&Event::Matched {
			match_id: 0,
			job_offer_id: 0,
			resource_offer_id: 1,
			job_creator: JC,
			resource_provider: RP,
			mediator: MEDIATOR,
			solver: SOLVER,
			directory: DIRECTORY,
			job_reference: job_terms().job_reference,
			job_hash: [7; 32],
			completion_deadline: START + HOUR,
		}));
		assert_eq!(Market::match_view(0), Some(record));
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn only_the_provider_posts_results_within_limits_and_deadline() {
	new_test_ext().execute_with(|| {
		matched();
		let post = |who, instructions, bandwidth| {
			Market::post_result(
				RuntimeOrigin::signed(who),
				0,
				ResultStatus::Completed,
				reference("r"),
				[1; 32],
				instructions,
				bandwidth,
			)
		};
		assert_noop!(post(JC, 1, 1), Error::<Test>::NotResourceProvider);
		assert_noop!(post(RP, 1_001, 1), Error::<Test>::InstructionCountOverLimit);
		assert_noop!(post(RP, 1, 501), Error::<Test>::BandwidthOverLimit);
		set_now(START + HOUR + 1);
		assert_noop!(post(RP, 1, 1), Error::<Test>::CompletionDeadlinePassed);
		set_now(START + HOUR);
		assert_ok!(post(RP, 1_000, 500));
		assert_noop!(post(RP, 1, 1), Error::<Test>::NotAwaitingResult);
		assert!(events().iter().any(|e| matches!(e,
			Event::ResultPosted { match_id: 0, job_price: 1_500, reaction_deadline, .. }
				if *reaction_deadline == START + HOUR + reaction_window())));
	});
}

#[test]
fn normal_close_by_the_job_creator_pays_exactly_what_the_spec_says() {
	new_test_ext().execute_with(|| {
		result_posted();
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), 0));
		// JC: incentive 5, price 1100, availability 4 + 3. RP: incentive 3, availability 3 + 2.
		assert_settled(-(5 + 1_100 + 4 + 3), -3 + 1_100 - 3 - 2, 7, 5, 8);
		assert_eq!(issuance(), initial_issuance());
		assert!(events().contains(&Event::MatchClosed {
			match_id: 0,
			outcome: CloseOutcome::Accepted(Acceptor::JobCreator)
		}));
	});
}

#[test]
fn regression_provider_cannot_accept_before_the_reaction_deadline() {
	new_test_ext().execute_with(|| {
		result_posted();
		let deadline = START + reaction_window();
		set_now(deadline);
		assert_noop!(
			Market::accept_result(RuntimeOrigin::signed(RP), 0),
			Error::<Test>::ReactionWindowOpen
		);
		assert_noop!(
			Market::accept_result(RuntimeOrigin::signed(STRANGER), 0),
			Error::<Test>::ReactionWindowOpen
		);
		set_now(deadline + 1);
		assert_noop!(
			Market::accept_result(RuntimeOrigin::signed(STRANGER), 0),
			Error::<Test>::GracePeriodNotOver
		);
		assert_noop!(
			Market::reject_result(RuntimeOrigin::signed(JC), 0, RejectReason::WrongResults),
			Error::<Test>::ReactionWindowClosed
		);
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(RP), 0));
		assert_settled(-(5 + 1_100 + 4 + 3), -3 + 1_100 - 3 - 2, 7, 5, 8);
	});
}

#[test]
fn regression_each_side_gets_back_its_own_deposit_on_close() {
	new_test_ext().execute_with(|| {
		result_posted();
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), 0));
		let released: Vec<_> = events()
			.into_iter()
			.filter_map(|e| match e {
				Event::DepositReleased { who, amount, .. } => Some((who, amount)),
				_ => None,
			})
			.collect();
		assert_eq!(
			released,
			vec![(JC, JC_DEPOSIT - 5 - 1_100 - 4 - 3), (RP, RP_DEPOSIT - 3 - 3 - 2)]
		);
	});
}

#[test]
fn regression_deposits_are_really_held_not_just_logged() {
	new_test_ext().execute_with(|| {
		register_all();
		post_offers();
		let reason: RuntimeHoldReason = crate::HoldReason::OfferDeposit.into();
		assert_eq!(Balances::balance_on_hold(&reason, &JC), JC_DEPOSIT);
		assert_eq!(Balances::balance_on_hold(&reason, &RP), RP_DEPOSIT);
		assert_eq!(free(JC), ENDOWMENT - BOND - JC_DEPOSIT);
		// Held funds cannot be spent elsewhere.
		assert!(Balances::transfer_allow_death(
			RuntimeOrigin::signed(JC),
			STRANGER,
			ENDOWMENT - BOND
		)
		.is_err());
	});
}

#[test]
fn timeout_pays_the_job_creator_its_estimate_from_the_providers_deposit() {
	new_test_ext().execute_with(|| {
		matched();
		assert_noop!(
			Market::timeout(RuntimeOrigin::signed(JC), 0),
			Error::<Test>::CompletionDeadlineNotReached
		);
		set_now(START + HOUR + 1);
		assert_noop!(
			Market::timeout(RuntimeOrigin::signed(RP), 0),
			Error::<Test>::GracePeriodNotOver
		);
		assert_ok!(Market::timeout(RuntimeOrigin::signed(JC), 0));
		assert_settled(-5 + 2_500 - 4 - 3, -3 - 2_500 - 3 - 2, 7, 5, 8);
		assert_eq!(issuance(), initial_issuance());
	});
}

#[test]
fn regression_a_verifying_job_creators_rejection_reaches_its_mediator() {
	new_test_ext().execute_with(|| {
		result_posted();
		assert_noop!(
			Market::reject_result(RuntimeOrigin::signed(RP), 0, RejectReason::WrongResults),
			Error::<Test>::NotJobCreator
		);
		assert_ok!(Market::reject_result(RuntimeOrigin::signed(JC), 0, RejectReason::WrongResults));
		let deadline = START + mediation_window();
		assert!(events().iter().any(|e| matches!(e,
			Event::JobAssignedForMediation { match_id: 0, mediator: MEDIATOR, reason: RejectReason::WrongResults,
				directory: DIRECTORY, job_hash, mediation_deadline, result, .. }
				if *mediation_deadline == deadline && *job_hash == [7; 32] && result.hash == [0x11; 32])));
		assert_noop!(Market::accept_result(RuntimeOrigin::signed(JC), 0), Error::<Test>::NotAwaitingReaction);
		assert_ok!(Market::do_try_state());
	});
}

pub(super) fn mediate(
	verdict: Verdict,
	faulty: FaultyParty,
) -> frame_support::dispatch::DispatchResult {
	// The mediator measured 700 instructions and 300 bytes per run.
	Market::post_mediation_result(
		RuntimeOrigin::signed(MEDIATOR),
		0,
		verdict,
		faulty,
		700,
		300,
		[0x22; 32],
	)
}

/// π_m = n · (700 · 1 + 300 · 1).
const MEDIATION_FEE: Balance = 2 * 1_000;

#[test]
fn verdict_against_the_provider_compensates_the_job_creator_and_fines_the_rest() {
	new_test_ext().execute_with(|| {
		in_mediation(RejectReason::WrongResults);
		assert_noop!(
			Market::post_mediation_result(
				RuntimeOrigin::signed(JC),
				0,
				Verdict::WrongResults,
				FaultyParty::ResourceProvider,
				1,
				1,
				[0; 32]
			),
			Error::<Test>::NotMediator
		);
		assert_ok!(mediate(Verdict::WrongResults, FaultyParty::ResourceProvider));
		// π_d at the RP's prices for the mediator's measured usage: 700 + 300.
		let fine = RP_DEPOSIT - 3 - 1_000 - MEDIATION_FEE - 3 - 2;
		assert_settled(-5 + 1_000 - 4 - 3, -(RP_DEPOSIT as i128), 7 + MEDIATION_FEE as i128, 5, 8);
		assert!(events().contains(&Event::Fined { match_id: 0, who: RP, amount: fine }));
		assert_eq!(issuance(), initial_issuance() - fine);
	});
}

#[test]
fn regression_verdicts_rule_on_their_merits_not_always_against_the_job_creator() {
	for (verdict, faulty, reason) in [
		(Verdict::CorrectResults, FaultyParty::JobCreator, RejectReason::WrongResults),
		(Verdict::NonDeterministic, FaultyParty::JobCreator, RejectReason::WrongResults),
		(Verdict::ResultNotFound, FaultyParty::JobCreator, RejectReason::ResultNotFound),
	] {
		new_test_ext().execute_with(|| {
			in_mediation(reason);
			assert_ok!(mediate(verdict, faulty));
			// π_d is the price the RP claimed, 1100.
			let fine = JC_DEPOSIT - 5 - CLAIMED_PRICE - MEDIATION_FEE - 4 - 3;
			assert_settled(
				-(JC_DEPOSIT as i128),
				-3 + 1_100 - 3 - 2,
				7 + MEDIATION_FEE as i128,
				5,
				8,
			);
			assert!(events().contains(&Event::Fined { match_id: 0, who: JC, amount: fine }));
			assert_eq!(issuance(), initial_issuance() - fine);
		});
	}
	for (verdict, reason) in [
		(Verdict::WrongResults, RejectReason::WrongResults),
		(Verdict::TooMuchCost, RejectReason::TooMuchCost),
		(Verdict::InvalidResultStatus, RejectReason::InvalidResultStatus),
		(Verdict::ResultNotFound, RejectReason::ResultNotFound),
	] {
		new_test_ext().execute_with(|| {
			in_mediation(reason);
			assert_ok!(mediate(verdict, FaultyParty::ResourceProvider));
			assert_eq!(free(JC), ENDOWMENT - BOND - 5 + 1_000 - 4 - 3);
		});
	}
}

#[test]
fn verdicts_that_contradict_their_fault_are_refused() {
	new_test_ext().execute_with(|| {
		in_mediation(RejectReason::WrongResults);
		for (verdict, faulty) in [
			(Verdict::CorrectResults, FaultyParty::ResourceProvider),
			(Verdict::NonDeterministic, FaultyParty::Directory),
			(Verdict::WrongResults, FaultyParty::JobCreator),
		] {
			assert_noop!(mediate(verdict, faulty), Error::<Test>::InconsistentVerdict);
		}
		// A verdict must answer the rejection: a look in the directory is no ruling on
		// wrong results, and nobody claimed the directory failed.
		for (verdict, faulty) in [
			(Verdict::ResultNotFound, FaultyParty::ResourceProvider),
			(Verdict::ResultNotFound, FaultyParty::JobCreator),
			(Verdict::DirectoryUnavailable, FaultyParty::Directory),
		] {
			assert_noop!(mediate(verdict, faulty), Error::<Test>::VerdictDoesNotAnswerRejection);
		}
		assert_noop!(
			Market::post_mediation_result(
				RuntimeOrigin::signed(MEDIATOR),
				0,
				Verdict::WrongResults,
				FaultyParty::ResourceProvider,
				1_001,
				0,
				[0; 32]
			),
			Error::<Test>::InstructionCountOverLimit
		);
	});
}

/// A directory's liability: its availability price 5 at θ = 50 and n = 2.
const DIRECTORY_LIABILITY: Balance = 5 * 52;

#[test]
fn an_unavailable_directory_pays_the_mediator_it_trusts_up_to_its_liability() {
	new_test_ext().execute_with(|| {
		register_all();
		assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(DIRECTORY), MEDIATOR));
		post_offers();
		assert_ok!(Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR));
		assert_eq!(Matches::<Test>::get(0).unwrap().directory_liability, DIRECTORY_LIABILITY);
		assert_ok!(Market::post_result(
			RuntimeOrigin::signed(RP),
			0,
			ResultStatus::Completed,
			reference("r"),
			[0x11; 32],
			800,
			300
		));
		assert_ok!(Market::reject_result(
			RuntimeOrigin::signed(JC),
			0,
			RejectReason::DirectoryUnavailable
		));
		assert_ok!(mediate(Verdict::DirectoryUnavailable, FaultyParty::Directory));
		// The fee (2000) exceeds the liability fixed at match time: the bond pays that
		// much, and the mediator's shortfall is announced.
		assert_settled(-5 - 4, -3 - 3, 7 + DIRECTORY_LIABILITY as i128, 0, 8);
		assert_eq!(Directories::<Test>::get(DIRECTORY).unwrap().bond, BOND - DIRECTORY_LIABILITY);
		assert_eq!(held(DIRECTORY), BOND - DIRECTORY_LIABILITY);
		assert!(events().contains(&Event::Shortfall {
			match_id: 0,
			who: MEDIATOR,
			owed: MEDIATION_FEE,
			paid: DIRECTORY_LIABILITY,
			reason: PaymentReason::MediationFee
		}));
		assert_eq!(issuance(), initial_issuance());
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn a_false_directory_claim_faults_the_claimant() {
	new_test_ext().execute_with(|| {
		in_mediation(RejectReason::DirectoryUnavailable);
		assert_noop!(
			mediate(Verdict::DirectoryUnavailable, FaultyParty::ResourceProvider),
			Error::<Test>::InconsistentVerdict
		);
		assert_ok!(mediate(Verdict::DirectoryUnavailable, FaultyParty::JobCreator));
		assert_eq!(free(JC), ENDOWMENT - BOND - JC_DEPOSIT);
	});
}

#[test]
fn failed_mediation_pays_the_provider_half_the_estimate_and_not_the_mediator() {
	new_test_ext().execute_with(|| {
		in_mediation(RejectReason::WrongResults);
		let deadline = START + mediation_window();
		set_now(deadline);
		assert_noop!(
			Market::mediation_timeout(RuntimeOrigin::signed(STRANGER), 0),
			Error::<Test>::MediationDeadlineNotReached
		);
		set_now(deadline + 1);
		assert_noop!(
			mediate(Verdict::WrongResults, FaultyParty::ResourceProvider),
			Error::<Test>::MediationDeadlinePassed
		);
		assert_ok!(Market::mediation_timeout(RuntimeOrigin::signed(STRANGER), 0));
		assert_settled(-5 - 1_250 - 3, -3 + 1_250 - 2, 0, 5, 8);
		assert_eq!(issuance(), initial_issuance());
		assert!(events()
			.contains(&Event::MatchClosed { match_id: 0, outcome: CloseOutcome::MediationFailed }));
	});
}

#[test]
fn fines_can_go_to_a_treasury_instead_of_being_burnt() {
	new_test_ext().execute_with(|| {
		FinesToTreasury::set(true);
		in_mediation(RejectReason::WrongResults);
		assert_ok!(mediate(Verdict::WrongResults, FaultyParty::ResourceProvider));
		FinesToTreasury::set(false);
		let fine = RP_DEPOSIT - 3 - 1_000 - MEDIATION_FEE - 3 - 2;
		assert_eq!(free(TREASURY), ENDOWMENT + fine);
		assert_eq!(issuance(), initial_issuance());
	});
}

#[test]
fn collusion_victims_can_drop_a_mediator_and_future_matches_refuse_it() {
	new_test_ext().execute_with(|| {
		matched();
		// The JC learns the mediator sided with a cheating RP and removes it; the open
		// match is unaffected, new ones are refused.
		assert_ok!(Market::distrust_mediator(RuntimeOrigin::signed(JC), MEDIATOR));
		assert!(Matches::<Test>::get(0).is_some());
		post_offers();
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 2, 3, MEDIATOR),
			Error::<Test>::MediatorNotTrustedByJobCreator
		);
	});
}
