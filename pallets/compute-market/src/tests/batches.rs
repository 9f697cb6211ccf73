//! Batched calls: each item settles exactly as its single call would, a refused item
//! changes nothing and does not stop the others, and the weight refunded is what the
//! shared parties did not cost.

use super::*;
use crate::{weights::WeightInfo, Batch, MAX_BATCH_ITEMS};
use codec::{Decode, Encode};
use frame_support::dispatch::{GetDispatchInfo, PostDispatchInfo};

pub(super) fn batch<Item>(items: Vec<Item>) -> Batch<Item> {
	Batch::truncate_from(items)
}

fn job_offer(deposit: Balance) -> (JobOfferTerms<AccountId, Balance>, Balance, u64) {
	(job_terms(), deposit, START + HOUR)
}

fn resource_offer() -> (ResourceOfferTerms<Balance>, Balance, u64) {
	(resource_terms(), RP_DEPOSIT, START + HOUR)
}

pub(super) fn completed() -> PostedResult {
	PostedResult {
		status: ResultStatus::Completed,
		reference: reference("127.0.0.1:5000/results/0@sha256:11"),
		hash: [0x11; 32],
		instruction_count: 800,
		bandwidth_used: 300,
	}
}

pub(super) fn failures() -> Vec<(u32, DispatchError)> {
	events()
		.into_iter()
		.filter_map(|e| match e {
			Event::BatchItemFailed { index, error } => Some((index, error)),
			_ => None,
		})
		.collect()
}

/// Everyone registered; two job offers of JC (ids 0 and 1) and two resource offers of
/// RP (2 and 3), each pair in one batch.
fn two_offer_pairs_posted_in_batches() {
	register_all();
	assert_ok!(Market::post_job_offers(
		RuntimeOrigin::signed(JC),
		batch(vec![job_offer(JC_DEPOSIT), job_offer(JC_DEPOSIT)])
	));
	assert_ok!(Market::post_resource_offers(
		RuntimeOrigin::signed(RP),
		batch(vec![resource_offer(), resource_offer()])
	));
}

/// Two jobs of JC run by RP, through the batched calls: offers, matches, results.
fn two_results_posted_in_batches() {
	two_offer_pairs_posted_in_batches();
	assert_ok!(Market::post_matches(
		RuntimeOrigin::signed(SOLVER),
		batch(vec![(0, 2, MEDIATOR), (1, 3, MEDIATOR)])
	));
	assert_ok!(Market::post_results(
		RuntimeOrigin::signed(RP),
		batch(vec![(0, completed()), (1, completed())])
	));
	assert!(failures().is_empty(), "{:?}", failures());
}

#[test]
fn a_batched_lifecycle_pays_everyone_what_two_single_lifecycles_pay() {
	new_test_ext().execute_with(|| {
		two_results_posted_in_batches();
		assert_ok!(Market::accept_results(RuntimeOrigin::signed(JC), batch(vec![0, 1])));
		assert!(failures().is_empty(), "{:?}", failures());
		// Per job as in the single accept: JC −(5 + 1,100 + 4 + 3), RP +1,100 − 3 − 3 − 2,
		// mediator +7, directory +5, solver +8.
		for (who, delta) in [
			(JC, -2 * (5 + 1_100 + 4 + 3)),
			(RP, 2 * (-3 + 1_100 - 3 - 2)),
			(MEDIATOR, 14),
			(DIRECTORY, 10),
			(SOLVER, 16),
		] {
			assert_eq!(free(who) as i128, start_free(who) as i128 + delta, "account {who}");
		}
		for who in [JC, RP, MEDIATOR] {
			assert_eq!(held(who), BOND, "only the bond stays held for account {who}");
		}
		assert_eq!(Matches::<Test>::iter().count(), 0);
		assert_eq!(issuance(), initial_issuance());
		let closed =
			events().into_iter().filter(|e| matches!(e, Event::MatchClosed { .. })).count();
		assert_eq!(closed, 2);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn a_refused_offer_changes_nothing_and_the_others_are_posted() {
	new_test_ext().execute_with(|| {
		register_all();
		assert_ok!(Market::post_job_offers(
			RuntimeOrigin::signed(JC),
			batch(vec![job_offer(JC_DEPOSIT), job_offer(10), job_offer(JC_DEPOSIT)])
		));
		let minimum =
			ApproxAmount::at_least(Market::quote_job_deposit(&job_terms(), None).unwrap());
		assert_eq!(failures(), vec![(1, Error::<Test>::DepositBelowMinimum { minimum }.into())]);
		// The refused offer took no id, no deposit and no open item.
		assert_eq!(JobOffers::<Test>::iter_keys().collect::<Vec<_>>().len(), 2);
		assert!(JobOffers::<Test>::contains_key(0) && JobOffers::<Test>::contains_key(1));
		assert_eq!(NextOfferId::<Test>::get(), 2);
		assert_eq!(held(JC), BOND + 2 * JC_DEPOSIT);
		assert_eq!(JobCreators::<Test>::get(JC).unwrap().open_items, 2);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn an_empty_batch_is_refused() {
	new_test_ext().execute_with(|| {
		register_all();
		let empty = || Error::<Test>::EmptyBatch;
		assert_noop!(Market::post_job_offers(RuntimeOrigin::signed(JC), batch(vec![])), empty());
		assert_noop!(
			Market::post_resource_offers(RuntimeOrigin::signed(RP), batch(vec![])),
			empty()
		);
		assert_noop!(Market::post_matches(RuntimeOrigin::signed(SOLVER), batch(vec![])), empty());
		assert_noop!(Market::post_results(RuntimeOrigin::signed(RP), batch(vec![])), empty());
		assert_noop!(Market::accept_results(RuntimeOrigin::signed(JC), batch(vec![])), empty());
	});
}

#[test]
fn a_batch_longer_than_the_bound_does_not_decode() {
	let ids: Vec<MatchId> = (0..=u64::from(MAX_BATCH_ITEMS)).collect();
	let encoded = ids.encode();
	assert!(Batch::<MatchId>::decode(&mut &encoded[..]).is_err());
	let at_bound = ids[..MAX_BATCH_ITEMS as usize].to_vec().encode();
	assert!(Batch::<MatchId>::decode(&mut &at_bound[..]).is_ok());
}

#[test]
fn accepting_the_same_match_twice_in_one_batch_pays_once() {
	new_test_ext().execute_with(|| {
		result_posted();
		assert_ok!(Market::accept_results(RuntimeOrigin::signed(JC), batch(vec![0, 0])));
		assert_eq!(failures(), vec![(1, Error::<Test>::MatchNotFound.into())]);
		assert_settled(-(5 + 1_100 + 4 + 3), -3 + 1_100 - 3 - 2, 7, 5, 8);
		assert_eq!(issuance(), initial_issuance());
	});
}

#[test]
fn a_stranger_cannot_close_matches_early_by_batching_them() {
	new_test_ext().execute_with(|| {
		two_results_posted_in_batches();
		let before: Vec<Balance> = ACCOUNTS.iter().map(|a| free(*a)).collect();
		assert_ok!(Market::accept_results(RuntimeOrigin::signed(STRANGER), batch(vec![0, 1])));
		assert_eq!(
			failures(),
			vec![
				(0, Error::<Test>::ReactionWindowOpen.into()),
				(1, Error::<Test>::ReactionWindowOpen.into())
			]
		);
		assert_eq!(ACCOUNTS.iter().map(|a| free(*a)).collect::<Vec<_>>(), before);
		assert_eq!(Matches::<Test>::iter().count(), 2);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn only_the_matchs_provider_posts_its_result_in_a_batch() {
	new_test_ext().execute_with(|| {
		matched();
		assert_ok!(Market::post_results(RuntimeOrigin::signed(JC), batch(vec![(0, completed())])));
		assert_eq!(failures(), vec![(0, Error::<Test>::NotResourceProvider.into())]);
		assert_eq!(Matches::<Test>::get(0).unwrap().state, MatchState::Matched);
	});
}

#[test]
fn a_solver_cannot_use_one_offer_twice_in_a_batch() {
	new_test_ext().execute_with(|| {
		register_all();
		post_offers();
		post_resource_offer_of(RP);
		assert_ok!(Market::post_matches(
			RuntimeOrigin::signed(SOLVER),
			batch(vec![(0, 1, MEDIATOR), (0, 2, MEDIATOR)])
		));
		assert_eq!(failures(), vec![(1, Error::<Test>::JobOfferNotOpen.into())]);
		assert_eq!(Matches::<Test>::iter().count(), 1);
		// The second resource offer is still open with its whole deposit.
		assert_eq!(ResourceOffers::<Test>::get(2).unwrap().deposit, RP_DEPOSIT);
		assert_eq!(free(SOLVER), ENDOWMENT + 8);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn matches_and_accepts_declare_their_worst_case_and_pay_for_the_parties_they_touched() {
	new_test_ext().execute_with(|| {
		two_offer_pairs_posted_in_batches();
		let call = crate::Call::<Test>::post_matches {
			matches: batch(vec![(0, 2, MEDIATOR), (1, 3, MEDIATOR)]),
		};
		let reads = Market::record_reads(2);
		let worst =
			<() as WeightInfo>::post_matches(0, 2).max(<() as WeightInfo>::post_matches(2, 0));
		assert_eq!(call.get_dispatch_info().call_weight, worst.saturating_add(reads));
		let post: PostDispatchInfo = Market::post_matches(
			RuntimeOrigin::signed(SOLVER),
			batch(vec![(0, 2, MEDIATOR), (1, 3, MEDIATOR)]),
		)
		.unwrap();
		// Both matches have the same four parties: the second shares the first's.
		assert_eq!(
			post.actual_weight,
			Some(<() as WeightInfo>::post_matches(1, 1).saturating_add(reads))
		);
		for (id, result) in [(0, completed()), (1, completed())] {
			assert_ok!(Market::post_results(RuntimeOrigin::signed(RP), batch(vec![(id, result)])));
		}
		let post: PostDispatchInfo =
			Market::accept_results(RuntimeOrigin::signed(JC), batch(vec![0, 1, 7])).unwrap();
		// The unknown match 7 counts as an item with parties of its own: a refused item may
		// have read its parties' records before it failed.
		assert_eq!(post.actual_weight, Some(<() as WeightInfo>::accept_results(1, 2)));
	});
}

#[test]
fn a_batch_never_declares_less_than_it_may_refund_to() {
	type W = <Test as Config>::WeightInfo;
	for n in [1, 2, MAX_BATCH_ITEMS / 2, MAX_BATCH_ITEMS] {
		let (matches, accepts) = (
			crate::batches::declared(W::post_matches, n),
			crate::batches::declared(W::accept_results, n),
		);
		for own in 0..=n {
			let shared = n - own;
			assert!(matches.all_gte(W::post_matches(shared, own)), "post_matches({shared}, {own})");
			assert!(
				accepts.all_gte(W::accept_results(shared, own)),
				"accept_results({shared}, {own})"
			);
		}
	}
	// The runtime's weights too: what a batch declares bounds every refund.
	type Runtime = crate::weights::SubstrateWeight<Test>;
	for n in [1, MAX_BATCH_ITEMS] {
		let declared = crate::batches::declared(Runtime::accept_results, n);
		assert!((0..=n).all(|own| declared.all_gte(Runtime::accept_results(n - own, own))));
	}
}

/// Holds `amount` of `who`'s free balance as an offer deposit.
fn hold_deposit(who: AccountId, amount: Balance) {
	use frame_support::traits::fungible::MutateHold;
	assert_ok!(Balances::hold(&HoldReason::OfferDeposit.into(), &who, amount));
}

pub(super) fn deposit_held(who: AccountId) -> Balance {
	use frame_support::traits::fungible::InspectHold;
	Balances::balance_on_hold(&HoldReason::OfferDeposit.into(), &who)
}

#[test]
fn batched_moves_refuse_an_item_that_would_overdraw_a_hold_and_keep_the_rest() {
	use crate::effects::Effects;
	use sp_runtime::TokenError;
	new_test_ext().execute_with(|| {
		hold_deposit(JC, 100);
		let (jc_free, rp_free) = (free(JC), free(RP));
		let mut moves = Effects::<Test>::batched();
		// Item 1 pays 60 of the 100.
		assert_ok!(moves.transfer(&JC, HoldReason::OfferDeposit, &RP, 60));
		moves.end_item(true);
		// Item 2 asks for 30 and then 20 more: 50 > 40 left, so the item is refused whole.
		assert_ok!(moves.transfer(&JC, HoldReason::OfferDeposit, &RP, 30));
		assert_eq!(
			moves.release(&JC, HoldReason::OfferDeposit, 20),
			Err(TokenError::FundsUnavailable.into())
		);
		moves.end_item(false);
		// Item 3 releases the 40 left: item 2's 30 did not count against it.
		assert_ok!(moves.release(&JC, HoldReason::OfferDeposit, 40));
		moves.end_item(true);
		// Nothing moves before the batch ends.
		assert_eq!((deposit_held(JC), free(RP)), (100, rp_free));
		assert_ok!(moves.finish());
		assert_eq!(deposit_held(JC), 0);
		assert_eq!(free(RP), rp_free + 60);
		assert_eq!(free(JC), jc_free + 40);
		assert_eq!(issuance(), initial_issuance());
	});
}

#[test]
fn a_batched_fine_takes_no_more_than_the_hold_has_left() {
	use crate::effects::Effects;
	new_test_ext().execute_with(|| {
		hold_deposit(RP, 100);
		let mut moves = Effects::<Test>::batched();
		assert_ok!(moves.transfer(&RP, HoldReason::OfferDeposit, &JC, 70));
		moves.end_item(true);
		// A fine of 50 finds 30 left and takes those, as a fine of a short hold does.
		moves.slash(&RP, HoldReason::OfferDeposit, 50);
		moves.end_item(true);
		assert_ok!(moves.finish());
		assert_eq!(deposit_held(RP), 0);
		assert_eq!(issuance(), initial_issuance() - 30);
	});
}

#[test]
fn a_batch_of_closes_moves_each_sum_once_and_announces_every_payment() {
	new_test_ext().execute_with(|| {
		two_results_posted_in_batches();
		System::reset_events();
		assert_ok!(Market::accept_results(RuntimeOrigin::signed(JC), batch(vec![0, 1])));
		let market = events();
		// Each close still announces its five payments and two refunds.
		let paid = market.iter().filter(|e| matches!(e, Event::Paid { .. })).count();
		let refunds = market.iter().filter(|e| matches!(e, Event::DepositReleased { .. })).count();
		assert_eq!((paid, refunds), (10, 4));
		// The balances pallet moved five sums and released two: one per payer and payee.
		let moved = System::events()
			.into_iter()
			.filter(|r| {
				matches!(
					r.event,
					RuntimeEvent::Balances(pallet_balances::Event::TransferOnHold { .. })
						| RuntimeEvent::Balances(pallet_balances::Event::Released { .. })
				)
			})
			.count();
		assert_eq!(moved, 7);
		for who in [JC, RP] {
			assert_eq!(deposit_held(who), 0, "account {who} has no deposit left held");
		}
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn a_match_refused_after_its_incentives_were_queued_pays_nothing() {
	new_test_ext().execute_with(|| {
		register_all();
		// Job offers 0 and 1 are two replicas of group 0; 2 is a plain job offer.
		assert_ok!(Market::post_replicated_job_offer(
			RuntimeOrigin::signed(JC),
			job_terms(),
			2,
			Default::default(),
			JC_DEPOSIT,
			START + HOUR
		));
		post_job_offer_of(JC);
		post_resource_offer_of(RP);
		post_resource_offer_of(RP);
		// The group's provider list is filled behind the pallet's back, so that the
		// replica's match passes every check, queues its two incentives, and only then
		// fails to join the group.
		ReplicaGroups::<Test>::mutate(0, |group| {
			let group = group.as_mut().expect("posted");
			while group.providers.try_push(100).is_ok() {}
		});
		let (solver, jc_held, rp_held) = (free(SOLVER), deposit_held(JC), deposit_held(RP));
		assert_ok!(Market::post_matches(
			RuntimeOrigin::signed(SOLVER),
			batch(vec![(2, 3, MEDIATOR), (0, 4, MEDIATOR)])
		));
		assert_eq!(failures(), vec![(1, Error::<Test>::TooManyReplicas.into())]);
		// Only the plain match's incentives moved: 5 from the JC, 3 from the RP.
		assert_eq!(free(SOLVER), solver + 8);
		assert_eq!(deposit_held(JC), jc_held - 5);
		assert_eq!(deposit_held(RP), rp_held - 3);
		let paid = events().into_iter().filter(|e| matches!(e, Event::Paid { .. })).count();
		assert_eq!(paid, 2);
		assert!(JobOffers::<Test>::contains_key(0) && ResourceOffers::<Test>::contains_key(4));
		assert_eq!(Matches::<Test>::iter().count(), 1);
		assert_eq!(issuance(), initial_issuance());
		// Nor did its open items count: the mediator and the directory serve one match.
		assert_eq!(Mediators::<Test>::get(MEDIATOR).unwrap().open_items, 1);
		assert_eq!(Directories::<Test>::get(DIRECTORY).unwrap().open_items, 1);
		assert_ok!(Market::do_try_state());
	});
}
